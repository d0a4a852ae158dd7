"""The finishing pass of a build: instruction pairs for every row of one config, checked.

Facts are computed per row while the chunks are written (``builders/build.py``); causal and
comparative pairs need other clips of the build, so the pairs are written afterwards by
``add_instructions``: it reads the labels and facts of every row of the config (no IMU), picks each
clip's partners, then shard by shard writes the templated pairs (on ``num_proc`` processes),
checks every pair, lets the teacher rewrite them (optional; checked again), drops failures and
duplicates within a split, and rewrites the shard with its ``instructions`` column replaced. The
pass depends only on the config's rows and the seed, never on chunking or process count, and it
rewrites every shard each time, so a resumed build gets the same bytes as an uninterrupted one.

Memory: the pass keeps a compact ``RowIndex`` of every row (ids, shared label strings, the facts as
one Arrow struct array: about 0.4 kB a row), the partner plan as two integer arrays and the
duplicate keys (24 bytes a pair, ``keyset.KeySet``); ClipInfos are made for one shard (and its
partners) at a time, and worker processes get them with their task, so they hold nothing of the
config.

Partners (all within the clip's split, so that no pair of one split quotes another split's clip,
except a causal reference falling back to the training split, whose numbers are not test data):

- causal reference of an unsafe clip: a safe look-alike of its hazard (``templates.LOOKALIKES``),
  else any safe clip; of a safe clip: a clip of the hazard it resembles, else any unsafe clip.
- comparative partner: the same rule, else any other clip of the split. Copies of the same
  recording (``id~augK``) are never partners of each other.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
from collections import ChainMap, Counter, defaultdict, deque
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from ...simulator.rng import ClipGenerators
from ..dataset import layout
from ..dataset.layout import read_shard, shard_paths
from ..keyset import KeySet, key
from ..pool import worker_pool
from ..labels import HAZARD_NAMES
from ..records import SPLITS
from .checker import ClipInfo, check_pair, checked_pair, has_marks, keeps_draft
from .templates import PICK_HEADS, PICK_STREAMS, is_lookalike, matching_hazard, template_pairs

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


#: One clip and the clips its pairs name: (clip, causal reference or None, comparative partner or None).
Triple = tuple[ClipInfo, "ClipInfo | None", "ClipInfo | None"]


@dataclass
class RowIndex:
    """Every row of a config in dataset order, compact (the pass keeps no ClipInfo per row).

    ids / hazard / activity: (R,) per row (the label strings are shared objects, not copies).
    facts: the rows' ``facts``: one Arrow struct array (a built config, about 0.3 kB a row) or the
        ClipInfos themselves (``given``, an in-memory index).
    parts: (split, shard path or None, first row, end row) in dataset order: shards, or splits.
    """

    ids: list[str]
    hazard: list[str]
    activity: list[str]
    parts: list[tuple[str, Path | None, int, int]]
    facts: pa.StructArray | None = None
    given: list[ClipInfo] | None = None

    @classmethod
    def from_clips(cls, index: Mapping[str, list[ClipInfo]]) -> "RowIndex":
        given = [c for clips in index.values() for c in clips]
        parts, start = [], 0
        for split, clips in index.items():
            parts.append((split, None, start, start + len(clips)))
            start += len(clips)
        return cls([c.id for c in given], [c.hazard for c in given], [c.activity for c in given],
                   parts, given=given)

    @classmethod
    def read(cls, dataset_dir: Path, config: str) -> "RowIndex":
        """Ids, labels and facts of every shard of ``config`` (no IMU), shard by shard."""
        ids: list[str] = []
        hazard: list[str] = []
        activity: list[str] = []
        parts: list[tuple[str, Path | None, int, int]] = []
        facts: list[pa.Array] = []
        shared: dict[str, str] = {}
        paths = [(split, path) for split in SPLITS for path in shard_paths(dataset_dir, config, split)]
        # two reading threads (Arrow reads without the GIL): the pass's serial start, ~2x sooner
        with ThreadPoolExecutor(2) as threads:
            tables = threads.map(lambda sp: read_shard(sp[1], columns=["id", "hazard", "activity", "facts"]),
                                 paths)
            for (split, path), t in zip(paths, tables):
                start = len(ids)
                ids.extend(t["id"].to_pylist())
                hazard.extend(HAZARD_NAMES[h] for h in t["hazard"].to_pylist())
                activity.extend(shared.setdefault(a, a) for a in t["activity"].to_pylist())
                facts.extend(t["facts"].chunks)
                parts.append((split, path, start, len(ids)))
        return cls(ids, hazard, activity, parts, facts=pa.concat_arrays(facts) if facts else None)

    def infos(self, rows: Iterable[int]) -> dict[int, ClipInfo]:
        """row -> ClipInfo (with its facts) of ``rows``."""
        rows = sorted(set(rows))
        if self.given is not None:
            return {r: self.given[r] for r in rows}
        facts = self.facts.take(pa.array(rows, pa.int64())).to_pylist() if rows else []
        return {r: ClipInfo(self.ids[r], self.hazard[r], self.activity[r], f or {})
                for r, f in zip(rows, facts)}


class _Known(Mapping):
    """id -> ClipInfo of every row of a ``RowIndex``, made on demand (the checker's ``known`` for
    teacher rewrites, which may name any clip of the build)."""

    def __init__(self, index: RowIndex) -> None:
        self.index = index
        self.row = {cid: r for r, cid in enumerate(index.ids)}

    def __getitem__(self, cid: str) -> ClipInfo:
        r = self.row[cid]
        return self.index.infos([r])[r]

    def __iter__(self) -> Iterator[str]:
        return iter(self.row)

    def __len__(self) -> int:
        return len(self.row)


class _Groups:
    """Rows of one split by label, each sorted by id, for partner picks without scanning the
    split per clip."""

    def __init__(self, index: RowIndex, rows: Iterable[int],
                 lookalike_of: Callable[[str], tuple[str, ...]],
                 hazard_of: Callable[[str], str] = matching_hazard) -> None:
        safe: list[int] = []
        unsafe: list[int] = []
        by_hazard: dict[str, list[int]] = defaultdict(list)
        lookalikes: dict[str, list[int]] = defaultdict(list)
        every: list[int] = []
        for r in rows:
            every.append(r)
            if index.hazard[r] == "none":
                safe.append(r)
                for hazard in lookalike_of(index.activity[r]):
                    lookalikes[hazard].append(r)
            else:
                unsafe.append(r)
                by_hazard[index.hazard[r]].append(r)
        self.ids, self.hazard_of = index.ids, hazard_of

        def by_id(lst: list[int]) -> np.ndarray:
            return np.array(sorted(lst, key=self.ids.__getitem__), dtype=np.int64)

        self.safe, self.unsafe, self.all = by_id(safe), by_id(unsafe), by_id(every)
        self.by_hazard = {h: by_id(v) for h, v in by_hazard.items()}
        self.lookalikes = {h: by_id(v) for h, v in lookalikes.items()}

    def choose(self, index: RowIndex, r: int, draw: Callable[[int], int], any_clip: bool) -> int | None:
        """A partner row of row ``r`` by the rule of the module docstring (None when there is none);
        ``draw(n)``: the first integer below n of the row's stream (fresh for every call)."""
        none = np.empty(0, np.int64)
        if index.hazard[r] == "none":
            tiers = [self.by_hazard.get(self.hazard_of(index.activity[r]), none), self.unsafe]
        else:
            tiers = [self.lookalikes.get(index.hazard[r], none), self.safe]
        if any_clip:
            tiers.append(self.all)
        for rows in tiers:
            found = _pick_other(self.ids, rows, index.ids[r], draw)
            if found is not None:
                return found
        return None


def _pick_other(ids: list[str], rows: np.ndarray, clip_id: str, draw: Callable[[int], int]) -> int | None:
    """One of ``rows`` (sorted by id), drawn by ``draw`` (the stream of (seed, clip id, stream)),
    skipping copies of ``clip_id``'s own recording (the next row in order is taken instead)."""
    n = len(rows)
    if not n:
        return None
    k = draw(n)
    base = _base(clip_id)
    for step in range(n):
        cand = int(rows[(k + step) % n])
        if _base(ids[cand]) != base:
            return cand
    return None


def _part_plans(index: RowIndex, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(row of each row's causal reference, row of its comparative partner (-1: none)) of every
    part of ``index`` in order, made when asked for: the finishing pass templates one part while
    the next is planned. A row's picks depend only on its split's groups and its own streams."""
    lookalike_of = functools.lru_cache(maxsize=None)(
        lambda activity: tuple(h for h in HAZARD_NAMES[1:] if is_lookalike(activity, h)))
    hazard_of = functools.lru_cache(maxsize=None)(matching_hazard)  # (a few activities, many rows)
    by_split: dict[str, list[int]] = {}
    for split, _, a, b in index.parts:
        by_split.setdefault(split, []).extend(range(a, b))
    groups = {split: _Groups(index, rows, lookalike_of, hazard_of) for split, rows in by_split.items()}
    train = groups.get("train")
    for split, _, a, b in index.parts:
        g = groups[split]
        ref = np.full(b - a, -1, np.int64)
        other = np.full(b - a, -1, np.int64)
        for start in range(a, b, PAIR_BATCH):  # the streams seeded a block at a time
            block = range(start, min(b, start + PAIR_BATCH))
            ids = [index.ids[r] for r in block]
            causal = ClipGenerators(seed, ids, "pairs/causal-ref")
            compare = ClipGenerators(seed, ids, "pairs/compare")
            for j, r in enumerate(block):
                def draw_causal(n: int) -> int:
                    return int(causal[j].integers(n))

                x = g.choose(index, r, draw_causal, any_clip=False)
                if x is None and train is not None and split != "train":
                    x = train.choose(index, r, draw_causal, any_clip=False)
                y = g.choose(index, r, lambda n: int(compare[j].integers(n)), any_clip=True)
                ref[r - a], other[r - a] = -1 if x is None else x, -1 if y is None else y
        yield ref, other


def plan_rows(index: RowIndex, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(R,) row of each row's causal reference, (R,) row of its comparative partner (-1: none)."""
    plans = list(_part_plans(index, seed))
    if not plans:
        return np.full(0, -1, np.int64), np.full(0, -1, np.int64)
    return np.concatenate([r for r, _ in plans]), np.concatenate([o for _, o in plans])


def plan_pairs(index: Mapping[str, list[ClipInfo]], seed: int) -> dict[str, tuple[str | None, str | None]]:
    """clip id -> (causal reference id, comparative partner id)."""
    rows = RowIndex.from_clips(index)
    ref, other = plan_rows(rows, seed)
    return {cid: (rows.ids[a] if a >= 0 else None, rows.ids[b] if b >= 0 else None)
            for cid, a, b in zip(rows.ids, ref.tolist(), other.tolist())}


# ---- templating and checking (in worker processes when num_proc > 1) ----

def _templated(seed: int, triples: list[Triple]) -> list[tuple[list[dict[str, str]], list[tuple[str, str]]]]:
    """Per (clip, reference, partner): (its templated pairs that pass the checker, (kind, first
    problem) of the others). The pairs name no clip but these three, so they are all the checker
    needs to know."""
    ids = [c.id for c, _, _ in triples]
    streams = {kind: ClipGenerators(seed, ids, f"pairs/{kind}", PICK_HEADS[kind]) for kind in PICK_STREAMS}
    out = []
    for j, (c, ref, other) in enumerate(triples):
        known = {x.id: x for x in (ref, other) if x is not None}
        known[c.id] = c
        kept, dropped = [], []
        rngs = {kind: gens.start(j) for kind, gens in streams.items()}  # (each stream's first words)
        # marked texts (checked without splitting them again), unless a label or id holds a mark
        marked = not has_marks("".join([x.id + x.activity + x.hazard for x in known.values()]))
        formatted: dict = {}  # (the facts of the three clips as the texts write them: checker.Formatted)
        for pair in template_pairs(c, seed, ref, other, rngs, marked=marked):
            problems, plain = checked_pair(pair, c, known, marked, formatted)
            if problems:
                dropped.append((pair["kind"], problems[0]))
            else:
                kept.append(plain)
        out.append((kept, dropped))
    return out


#: Clips per task of the worker processes.
PAIR_BATCH = 256


def _tasks(index: RowIndex, ref: np.ndarray, other: np.ndarray) -> Iterator[list[Triple]]:
    """Tasks of at most ``PAIR_BATCH`` (clip, reference, partner) triples, in dataset order, made
    part by part (one shard's facts at a time), for the picks of ``plan_rows``."""
    return _part_tasks(index, ((ref[a:b], other[a:b]) for _, _, a, b in index.parts))


def _part_tasks(index: RowIndex, plans: Iterable[tuple[np.ndarray, np.ndarray]]
                ) -> Iterator[list[Triple]]:
    """``_tasks`` for the picks of each part in turn (``_part_plans``)."""
    for (_, _, a, b), (ref, other) in zip(index.parts, plans):
        infos = index.infos([*range(a, b), *ref[ref >= 0].tolist(), *other[other >= 0].tolist()])
        triples = [(infos[a + k], infos.get(int(ref[k])), infos.get(int(other[k])))
                   for k in range(b - a)]
        for i in range(0, len(triples), PAIR_BATCH):
            yield triples[i:i + PAIR_BATCH]


def _templated_stream(tasks: Iterator[list[Triple]], seed: int, num_proc: int, rows: int,
                      pool: Callable[[], Any] | None = None
                      ) -> Iterator[tuple[Triple, list[dict[str, str]], list[tuple[str, str]]]]:
    """(triple, kept pairs, dropped (kind, problem)) of every triple of ``tasks``, in order, on
    ``num_proc`` processes: the workers of ``pool()`` when given (a running pool), else a pool of
    its own; here when ``rows`` fit one task. At most two tasks per worker are in flight, so the
    memory does not grow with the config."""
    if num_proc <= 1 or rows <= PAIR_BATCH:
        for task in tasks:
            for triple, (kept, dropped) in zip(task, _templated(seed, task)):
                yield triple, kept, dropped
        return
    with contextlib.ExitStack() as stack:
        workers = pool() if pool is not None else stack.enter_context(worker_pool(num_proc))
        pending: deque = deque()

        def done() -> Iterator:
            task, res = pending.popleft()
            for triple, (kept, dropped) in zip(task, res.get()):
                yield triple, kept, dropped

        for task in tasks:
            pending.append((task, workers.apply_async(_templated, (seed, task))))
            if len(pending) >= 2 * num_proc:
                yield from done()
        while pending:
            yield from done()


class _Finisher:
    """Teacher, duplicate removal within a split and counts, part by part (in order).

    known: makes the checker's id -> ClipInfo of every clip of the build (teacher rewrites only).
    """

    def __init__(self, teacher: TeacherFn | None, stats: InstructionStats,
                 known: Callable[[], Mapping[str, ClipInfo]]) -> None:
        self.teacher, self.stats, self.make_known = teacher, stats, known
        self.known: Mapping[str, ClipInfo] | None = None
        self.seen: dict[str, KeySet] = defaultdict(KeySet)  # split -> its pairs' keys (compact)

    def finish(self, split: str, rows: list[tuple[Triple, list[dict[str, str]], list[tuple[str, str]]]]
               ) -> dict[str, list[dict[str, str]]]:
        stats = self.stats
        batch = []
        for (c, ref, other), kept, dropped in rows:
            for kind, problem in dropped:
                stats.dropped_by_checker[kind] += 1
                if len(stats.examples_of_drops) < 10:
                    stats.examples_of_drops.append({"id": c.id, "kind": kind, "problem": problem})
            batch.append((c, kept, {x.id: x for x in (c, ref, other) if x is not None}))
        teacher = self.teacher
        rewritten = teacher(batch) if teacher is not None else [[None] * len(k) for _, k, _ in batch]
        out: dict[str, list[dict[str, str]]] = {}
        for (c, kept, named), new in zip(batch, rewritten):
            final = []
            for pair, alt in zip(kept, new):
                if alt is None and teacher is not None:
                    stats.teacher["no_answer"] = stats.teacher.get("no_answer", 0) + 1
                if alt is not None:
                    if self.known is None:
                        self.known = self.make_known()
                    known = ChainMap(named, self.known)  # (the clip's own ClipInfo first)
                    if check_pair(alt, c, known) or keeps_draft(pair["response"], alt["response"]):
                        stats.teacher["discarded_by_checker"] = stats.teacher.get("discarded_by_checker", 0) + 1
                    else:
                        stats.teacher["used"] = stats.teacher.get("used", 0) + 1
                        pair = alt
                final.append(pair)
            out[c.id] = final
        # duplicates within the split: the first in dataset order is kept
        keys = [key(f"{p['instruction']}\0{p['response']}") for pairs in out.values() for p in pairs]
        firsts = iter(self.seen[split].add(keys))
        for cid, pairs in out.items():
            out[cid] = [p for p in pairs if next(firsts) is None]
            stats.duplicates_dropped += len(pairs) - len(out[cid])
            for p in out[cid]:
                stats.pairs[p["kind"]] += 1
        return out


def _finished_parts(index: RowIndex, seed: int, teacher: TeacherFn | None, stats: InstructionStats,
                    num_proc: int, pool: Callable[[], Any] | None = None
                    ) -> Iterator[tuple[str, Path | None, dict[str, list[dict[str, str]]]]]:
    """(split, shard path, clip id -> its checked pairs) of every part of ``index`` in order."""
    finisher = _Finisher(teacher, stats, lambda: _Known(index) if index.given is None
                         else {c.id: c for c in index.given})
    tasks = _part_tasks(index, _part_plans(index, seed))
    stream = _templated_stream(tasks, seed, num_proc, len(index.ids), pool)
    for split, path, a, b in index.parts:
        yield split, path, finisher.finish(split, list(itertools.islice(stream, b - a)))


def make_pairs(index: Mapping[str, list[ClipInfo]], seed: int, teacher: TeacherFn | None = None,
               stats: InstructionStats | None = None, progress: bool = False,
               num_proc: int = 1) -> dict[str, list[dict[str, str]]]:
    """clip id -> its checked pairs (``{kind, instruction, response}``), duplicates within a split
    removed; counts go to ``stats``. (In memory: for a built config ``add_instructions`` streams.)"""
    stats = stats if stats is not None else InstructionStats()
    out: dict[str, list[dict[str, str]]] = {}
    for _, _, pairs in _finished_parts(RowIndex.from_clips(index), seed, teacher, stats, num_proc):
        out.update(pairs)
    return out


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with each extension type (``datasets``' Array2D) as its storage type carrying the
    field metadata Arrow writes for it (its metadata, then its name): a table cast to it is
    written as the same Parquet bytes, and it travels to processes that never import ``datasets``
    (~1.3 CPU-s and ~50 MiB a process)."""
    fields = []
    for f in schema:
        if isinstance(f.type, pa.ExtensionType):
            marks = {b"ARROW:extension:metadata": f.type.__arrow_ext_serialize__(),
                     b"ARROW:extension:name": f.type.extension_name.encode()}
            f = pa.field(f.name, f.type.storage_type, f.nullable, {**(f.metadata or {}), **marks})
        fields.append(f)
    return pa.schema(fields, metadata=schema.metadata)


def _write_instructions(path: Path, pairs: Mapping[str, list[dict[str, str]]], schema: pa.Schema,
                        commit: bool = True) -> tuple[int, Path]:
    """Rewrite one shard with its ``instructions`` column (clip id -> pairs): the shard's other
    columns as they are, cast to ``schema`` (``plain_schema`` of the dataset's), zstd-compressed.
    Returns its rows and the file written: with commit=False (in the build's workers, which never
    import ``datasets``) a temp file for ``layout.commit_file``, so that no worker waits for the
    disk."""
    shard = pq.ParquetFile(path)
    names = shard.schema_arrow.names  # (every column but the one replaced is read)
    table = shard.read(columns=[n for n in names if n != "instructions"], use_threads=False)
    shard.close()
    table = pa.table([c if not isinstance(c.type, pa.ExtensionType)  # (where datasets is imported)
                      else pa.chunked_array([x.storage for x in c.chunks], c.type.storage_type)
                      for c in table.columns], names=table.column_names)
    field_ = schema.field("instructions")
    column = pa.array([pairs.get(cid, []) for cid in table["id"].to_pylist()], field_.type)
    table = table.add_column(names.index("instructions"), field_, column)
    return table.num_rows, layout.write_parquet_atomic(table.cast(schema), path, commit=commit)


def add_instructions(dataset_dir: str | Path, config: str, seed: int = 0, enabled: bool = True,
                     teacher: TeacherFn | None = None, progress: bool = False, num_proc: int = 1,
                     pool: Callable[[], Any] | None = None) -> dict[str, Any]:
    """The finishing pass (module docstring); returns the report entry (``InstructionStats``).

    Shard by shard in dataset order: the pairs of one shard are made (on ``num_proc`` processes:
    the workers of ``pool()`` when given), passed to the teacher, checked and written before the
    next, so only one shard's pairs (and a compact ``RowIndex`` of every row) are in memory. With
    several processes the workers also rewrite the shards (``_write_instructions``), a few shards
    behind the driver, which would otherwise be the pass's bottleneck.
    enabled=False empties the column instead (a --no-instructions build, resumed or not).
    """
    from ..dataset.schema import ARROW_SCHEMA

    dataset_dir = Path(dataset_dir)
    stats = InstructionStats()
    index = RowIndex.read(dataset_dir, config)
    schema = plain_schema(ARROW_SCHEMA)
    bar = tqdm(total=len(index.ids), unit="clip", desc="instruction pairs", disable=not progress)
    with contextlib.ExitStack() as stack:
        workers = None
        if num_proc > 1 and len(index.ids) > PAIR_BATCH:
            workers = pool() if pool is not None else stack.enter_context(worker_pool(num_proc))
        parts = (_finished_parts(index, seed, teacher, stats, num_proc,
                                 None if workers is None else lambda: workers) if enabled
                 else ((split, path, {}) for split, path, _, _ in index.parts))
        writes: deque = deque()
        # the workers' temp files are synced and renamed on a thread of the driver (waiting for
        # the disk without the GIL), so neither a worker nor the driver's loop waits for it
        syncing = stack.enter_context(ThreadPoolExecutor(1))
        synced: deque = deque()

        def committed() -> int:  # (the oldest write: its temp file handed to the syncing thread)
            path, pending = writes.popleft()
            rows, tmp = pending.get()
            synced.append(syncing.submit(layout.commit_file, tmp, path))
            while synced and synced[0].done():
                synced.popleft().result()
            return rows

        for _, path, pairs in parts:
            if workers is None:
                bar.update(_write_instructions(path, pairs, schema)[0])
                continue
            writes.append((path, workers.apply_async(_write_instructions, (path, pairs, schema, False))))
            while writes and (len(writes) > 2 * num_proc or writes[0][1].ready()):
                bar.update(committed())
        while writes:
            bar.update(committed())
        while synced:
            synced.popleft().result()
    bar.close()
    if stats.dropped_by_checker:
        logger.warning("config %s: the checker dropped %d templated pair(s): %s", config,
                       sum(stats.dropped_by_checker.values()), stats.examples_of_drops[:3])
    return {"enabled": enabled, **stats.to_dict()}
