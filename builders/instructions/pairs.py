"""The finishing pass of a build: instruction pairs for every row of one config, checked.

Facts are computed per row while the chunks are written (``builders/build.py``); causal and
comparative pairs need other clips of the build, so the pairs are written afterwards by
``add_instructions``: it reads the labels and facts of every row of the config (no IMU), picks each
clip's partners, then shard by shard writes the templated pairs (on ``num_proc`` processes),
checks every pair, lets the teacher rewrite them (optional; checked again), drops failures and
duplicates within a split, and rewrites the shard with its ``instructions`` column replaced. The pass depends only on the config's rows and the seed, never on
chunking or process count, and it rewrites every shard each time, so a resumed build gets the
same bytes as an uninterrupted one.

Partners (all within the clip's split, so that no pair of one split quotes another split's clip,
except a causal reference falling back to the training split, whose numbers are not test data):

- causal reference of an unsafe clip: a safe look-alike of its hazard (``templates.LOOKALIKES``),
  else any safe clip; of a safe clip: a clip of the hazard it resembles, else any unsafe clip.
- comparative partner: the same rule, else any other clip of the split. Copies of the same
  recording (``id~augK``) are never partners of each other.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from ...simulator.rng import clip_rng
from ..dataset.layout import shard_paths
from ..pool import worker_pool
from ..labels import HAZARD_NAMES
from ..records import SPLITS
from .checker import ClipInfo, check_pair, keeps_draft
from .templates import is_lookalike, matching_hazard, template_pairs

logger = logging.getLogger(__name__)

#: A teacher: (clip, its templated pairs, the clips they name) -> rewritten pairs (None = keep the
#: template). ``teachers.Teacher`` objects are such callables.
TeacherFn = Callable[[list[tuple[ClipInfo, list[dict[str, str]], dict[str, ClipInfo]]]],
                     list[list[dict[str, str] | None]]]


@dataclass
class InstructionStats:
    """What the pass wrote and dropped (the build report's ``instructions`` entry)."""

    pairs: Counter = field(default_factory=Counter)            # kind -> pairs written
    dropped_by_checker: Counter = field(default_factory=Counter)  # kind -> templated pairs dropped
    duplicates_dropped: int = 0
    teacher: dict[str, int] = field(default_factory=dict)      # used / discarded_by_checker / no_answer
    examples_of_drops: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from ..dataset.schema import PAIR_KINDS  # (``datasets``: not in the worker processes)

        return {"pairs": {k: self.pairs[k] for k in PAIR_KINDS},
                "dropped_by_checker": {k: self.dropped_by_checker[k] for k in PAIR_KINDS},
                "duplicates_dropped": self.duplicates_dropped, "teacher": dict(sorted(self.teacher.items())),
                "examples_of_drops": self.examples_of_drops}


def _base(clip_id: str) -> str:
    return clip_id.split("~aug")[0]


def read_index(dataset_dir: Path, config: str) -> dict[str, list[ClipInfo]]:
    """split -> ClipInfo of every row in dataset order (ids, labels and facts; no IMU)."""
    out: dict[str, list[ClipInfo]] = {}
    for split, _, clips in read_shards(dataset_dir, config):
        out.setdefault(split, []).extend(clips)
    return out


def read_shards(dataset_dir: Path, config: str) -> list[tuple[str, Path, list[ClipInfo]]]:
    """(split, shard path, ClipInfo of its rows) for every shard in dataset order."""
    out = []
    for split in SPLITS:
        for path in shard_paths(dataset_dir, config, split):
            t = pq.read_table(path, columns=["id", "hazard", "activity", "facts"])
            cols = (t[c].to_pylist() for c in ("id", "hazard", "activity", "facts"))
            out.append((split, path, [ClipInfo(cid, HAZARD_NAMES[h], act, facts or {})
                                      for cid, h, act, facts in zip(*cols)]))
    return out


class _Groups:
    """Sorted ids of one split by label, for partner picks without scanning the split per clip."""

    def __init__(self, clips: Iterable[ClipInfo]) -> None:
        self.safe: list[str] = []
        self.unsafe: list[str] = []
        self.by_hazard: dict[str, list[str]] = defaultdict(list)
        self.lookalikes: dict[str, list[str]] = defaultdict(list)
        self.all: list[str] = []
        for c in clips:
            self.all.append(c.id)
            if c.safe:
                self.safe.append(c.id)
                for hazard in HAZARD_NAMES[1:]:
                    if is_lookalike(c.activity, hazard):
                        self.lookalikes[hazard].append(c.id)
            else:
                self.unsafe.append(c.id)
                self.by_hazard[c.hazard].append(c.id)
        for lst in (self.safe, self.unsafe, self.all, *self.by_hazard.values(), *self.lookalikes.values()):
            lst.sort()

    def choose(self, c: ClipInfo, seed: int, stream: str, any_clip: bool) -> str | None:
        """A partner of ``c`` by the rule of the module docstring (None when there is none)."""
        if c.safe:
            tiers = [self.by_hazard.get(matching_hazard(c.activity), []), self.unsafe]
        else:
            tiers = [self.lookalikes.get(c.hazard, []), self.safe]
        if any_clip:
            tiers.append(self.all)
        for ids in tiers:
            found = _pick_other(ids, c.id, seed, stream)
            if found is not None:
                return found
        return None


def _pick_other(ids: list[str], clip_id: str, seed: int, stream: str) -> str | None:
    """One of the sorted ``ids``, drawn from the stream of (seed, clip id, stream), skipping copies
    of ``clip_id``'s own recording (the next id in order is taken instead)."""
    if not ids:
        return None
    k = int(clip_rng(seed, clip_id, f"pairs/{stream}").integers(len(ids)))
    for step in range(len(ids)):
        cand = ids[(k + step) % len(ids)]
        if _base(cand) != _base(clip_id):
            return cand
    return None


def plan_pairs(index: Mapping[str, list[ClipInfo]], seed: int) -> dict[str, tuple[str | None, str | None]]:
    """clip id -> (causal reference id, comparative partner id)."""
    groups = {split: _Groups(clips) for split, clips in index.items()}
    train = groups.get("train")
    plan = {}
    for split, clips in index.items():
        g = groups[split]
        for c in clips:
            ref = g.choose(c, seed, "causal-ref", any_clip=False)
            if ref is None and train is not None and split != "train":
                ref = train.choose(c, seed, "causal-ref", any_clip=False)
            plan[c.id] = (ref, g.choose(c, seed, "compare", any_clip=True))
    return plan


# ---- templating and checking (in worker processes when num_proc > 1) ----

_WORKER: dict[str, Any] = {}


def _init_worker(source: Any, seed: int) -> None:
    """Worker state: every clip, the partner plan and the seed. ``source`` is an index (split ->
    clips) or (dataset folder, config), read here so that no large index is pickled."""
    _WORKER.pop("key", None)
    index = read_index(Path(source[0]), source[1]) if isinstance(source, tuple) else source
    _WORKER["known"] = {c.id: c for clips in index.values() for c in clips}
    _WORKER["plan"] = plan_pairs(index, seed)
    _WORKER["seed"] = seed


def _templated(ids: list[str]) -> list[tuple[str, list[dict[str, str]], list[tuple[str, str]]]]:
    """(clip id, its templated pairs that pass the checker, (kind, first problem) of the others)."""
    known, plan, seed = _WORKER["known"], _WORKER["plan"], _WORKER["seed"]
    out = []
    for cid in ids:
        c = known[cid]
        ref_id, other_id = plan[cid]
        kept, dropped = [], []
        for pair in template_pairs(c, seed, known.get(ref_id) if ref_id else None,
                                   known.get(other_id) if other_id else None):
            problems = check_pair(pair, c, known)
            if problems:
                dropped.append((pair["kind"], problems[0]))
            else:
                kept.append(pair)
        out.append((cid, kept, dropped))
    return out


#: Clips per task of the worker processes.
PAIR_BATCH = 256


def _templated_in(source: tuple[str, str], seed: int, ids: list[str]
                  ) -> list[tuple[str, list[dict[str, str]], list[tuple[str, str]]]]:
    """``_templated`` in a worker of any pool (a build's): the state is made for (dataset folder,
    config) and seed on the worker's first task of them."""
    if _WORKER.get("key") != (source, seed):
        _init_worker(source, seed)
        _WORKER["key"] = (source, seed)
    return _templated(ids)


def _templated_stream(source: Any, seed: int, ids: list[str], num_proc: int,
                      pool: Callable[[], Any] | None = None
                      ) -> Iterator[tuple[str, list[dict[str, str]], list[tuple[str, str]]]]:
    """``_templated`` over ``ids`` in order, on ``num_proc`` processes (tasks of ``PAIR_BATCH``):
    the workers of ``pool()`` when given (a running pool; ``source`` then is (folder, config)),
    else a pool of its own."""
    chunks = [ids[i:i + PAIR_BATCH] for i in range(0, len(ids), PAIR_BATCH)]
    if pool is not None and num_proc > 1 and len(chunks) > 1 and isinstance(source, tuple):
        for part in pool().imap(functools.partial(_templated_in, source, seed), chunks):
            yield from part
        return
    if num_proc <= 1 or len(chunks) <= 1:
        _init_worker(source, seed)
        for chunk in chunks:
            yield from _templated(chunk)
        return
    with worker_pool(num_proc, _init_worker, (source, seed)) as pool:
        for part in pool.imap(_templated, chunks):
            yield from part


class _Finisher:
    """Teacher, duplicate removal within a split and counts, shard by shard (in order)."""

    def __init__(self, known: Mapping[str, ClipInfo], plan, teacher: TeacherFn | None,
                 stats: InstructionStats) -> None:
        self.known, self.plan, self.teacher, self.stats = known, plan, teacher, stats
        self.seen: dict[str, set[bytes]] = defaultdict(set)

    def finish(self, split: str, rows: list[tuple[str, list[dict[str, str]], list[tuple[str, str]]]]
               ) -> dict[str, list[dict[str, str]]]:
        stats, known = self.stats, self.known
        batch = []
        for cid, kept, dropped in rows:
            for kind, problem in dropped:
                stats.dropped_by_checker[kind] += 1
                if len(stats.examples_of_drops) < 10:
                    stats.examples_of_drops.append({"id": cid, "kind": kind, "problem": problem})
            named = {x: known[x] for x in (cid, *self.plan[cid]) if x}
            batch.append((known[cid], kept, named))
        teacher = self.teacher
        rewritten = teacher(batch) if teacher is not None else [[None] * len(k) for _, k, _ in batch]
        out = {}
        for (c, kept, _), new in zip(batch, rewritten):
            final = []
            for pair, alt in zip(kept, new):
                if alt is None and teacher is not None:
                    stats.teacher["no_answer"] = stats.teacher.get("no_answer", 0) + 1
                if alt is not None:
                    if check_pair(alt, c, known) or keeps_draft(pair["response"], alt["response"]):
                        stats.teacher["discarded_by_checker"] = stats.teacher.get("discarded_by_checker", 0) + 1
                    else:
                        stats.teacher["used"] = stats.teacher.get("used", 0) + 1
                        pair = alt
                key = hashlib.sha256(f"{pair['instruction']}\0{pair['response']}".encode()).digest()
                if key in self.seen[split]:
                    stats.duplicates_dropped += 1
                    continue
                self.seen[split].add(key)
                stats.pairs[pair["kind"]] += 1
                final.append(pair)
            out[c.id] = final
        return out


def make_pairs(index: Mapping[str, list[ClipInfo]], seed: int, teacher: TeacherFn | None = None,
               stats: InstructionStats | None = None, progress: bool = False,
               num_proc: int = 1) -> dict[str, list[dict[str, str]]]:
    """clip id -> its checked pairs (``{kind, instruction, response}``), duplicates within a split
    removed; counts go to ``stats``. (In memory: for a built config ``add_instructions`` streams.)"""
    stats = stats if stats is not None else InstructionStats()
    known = {c.id: c for clips in index.values() for c in clips}
    finisher = _Finisher(known, plan_pairs(index, seed), teacher, stats)
    out: dict[str, list[dict[str, str]]] = {}
    for split, clips in index.items():
        rows = list(_templated_stream(dict(index), seed, [c.id for c in clips], num_proc))
        out.update(finisher.finish(split, rows))
    return out


def add_instructions(dataset_dir: str | Path, config: str, seed: int = 0, enabled: bool = True,
                     teacher: TeacherFn | None = None, progress: bool = False, num_proc: int = 1,
                     pool: Callable[[], Any] | None = None) -> dict[str, Any]:
    """The finishing pass (module docstring); returns the report entry (``InstructionStats``).

    Shard by shard in dataset order: the pairs of one shard are made (on ``num_proc`` processes),
    passed to the teacher, checked and written before the next, so only one shard's pairs are in
    memory. enabled=False empties the column instead (a --no-instructions build, resumed or not).
    """
    from ..dataset.schema import ARROW_SCHEMA
    from ..dataset.writer import write_parquet_atomic

    dataset_dir = Path(dataset_dir)
    stats = InstructionStats()
    shards = read_shards(dataset_dir, config)
    index: dict[str, list[ClipInfo]] = {}
    for split, _, clips in shards:
        index.setdefault(split, []).extend(clips)
    known = {c.id: c for clips in index.values() for c in clips}
    finisher = _Finisher(known, plan_pairs(index, seed), teacher, stats)
    ids = [c.id for _, _, clips in shards for c in clips]
    stream = (_templated_stream((str(dataset_dir), config), seed, ids, num_proc, pool) if enabled
              else iter(()))
    field_ = ARROW_SCHEMA.field("instructions")
    bar = tqdm(total=len(ids), unit="clip", desc="instruction pairs", disable=not progress)
    for split, path, clips in shards:
        pairs = finisher.finish(split, [next(stream) for _ in clips]) if enabled else {}
        table = pq.read_table(path)
        column = pa.array([pairs.get(cid, []) for cid in table["id"].to_pylist()], field_.type)
        table = table.set_column(table.schema.get_field_index("instructions"), field_, column)
        write_parquet_atomic(table.replace_schema_metadata(ARROW_SCHEMA.metadata), path)
        bar.update(len(clips))
    bar.close()
    if stats.dropped_by_checker:
        logger.warning("config %s: the checker dropped %d templated pair(s): %s", config,
                       sum(stats.dropped_by_checker.values()), stats.examples_of_drops[:3])
    return {"enabled": enabled, **stats.to_dict()}
