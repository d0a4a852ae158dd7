"""Instruction pairs over a whole built sample: every number checked, determinism, variety, resume."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from imu2safety.builders.build import BuildOptions, build
from imu2safety.builders.demo import samples_dir
from imu2safety.builders.dataset.layout import shard_paths
from imu2safety.builders.dataset.schema import PAIR_KINDS, imu_arrays
from imu2safety.builders.instructions.checker import FIELD_UNITS, UNITS, ClipInfo, check_pair, fmt
from imu2safety.builders.instructions.facts import compute_facts
from imu2safety.builders.labels import HAZARD_NAMES
from imu2safety.builders.records import SPLITS

CONFIG = "npz"


def _opts(out: Path, **kw) -> BuildOptions:
    return BuildOptions(source=CONFIG, input_dir=samples_dir(), output_dir=out, device="bmi160", **kw)


def _rows(out: Path) -> dict[str, list[dict]]:
    """split -> rows (id, hazard, activity, facts, instructions, imu) in dataset order."""
    rows: dict[str, list[dict]] = {}
    for split in SPLITS:
        for path in shard_paths(out, CONFIG, split):
            t = pq.read_table(path)
            values, offsets = imu_arrays(t["imu"])
            d = t.select(["id", "hazard", "activity", "facts", "instructions", "sample_rate_hz"]).to_pylist()
            for i, r in enumerate(d):
                r["imu"] = values[offsets[i]:offsets[i + 1]]
                rows.setdefault(split, []).append(r)
    return rows


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(autouse=True, scope="module")
def _no_figures():
    """The card's example plots take most of a small build and are not under test here."""
    from imu2safety.builders.dataset import card

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(card, "write_figures", lambda *a, **k: {})
        yield


@pytest.fixture(scope="module")
def built(tmp_path_factory, _no_figures) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("pairs") / "ds"
    result = build(_opts(out), progress=False)
    return out, result.report


_NUM_UNIT = re.compile(r"(?<![\w.`])(-?\d+(?:\.\d+)?)\s*(m/s²|m/s³|rad/s|cycles/min|Hz|°|s\b)")
_TEXT_UNIT = {text: key for key, (text, _) in UNITS.items()}


def test_every_number_in_every_response_matches_the_facts(built):
    out, report = built
    rows = _rows(out)
    known = {r["id"]: ClipInfo(r["id"], HAZARD_NAMES[r["hazard"]], r["activity"], r["facts"])
             for split in rows.values() for r in split}
    n_pairs, n_numbers = 0, 0
    for split, split_rows in rows.items():
        for r in split_rows:
            # the stored facts are the facts of the stored float32 samples
            assert r["facts"] == compute_facts(r["imu"], r["sample_rate_hz"])
            assert {p["kind"] for p in r["instructions"]} == set(PAIR_KINDS), r["id"]
            for pair in r["instructions"]:
                assert check_pair(pair, known[r["id"]], known) == [], (r["id"], pair)
                n_pairs += 1
                # independent of the checker's topic rules: each number is some fact of a clip the
                # pair names, with the text's rounding
                named = [r["id"]] + re.findall(r"`([^`]+)`", pair["instruction"] + pair["response"])
                for number, unit in _NUM_UNIT.findall(pair["response"]):
                    key = _TEXT_UNIT[unit]
                    decimals = len(number.split(".")[1]) if "." in number else 0
                    options = {fmt(known[c].facts[k], key, decimals) for c in named
                               for k, u in FIELD_UNITS.items() if u == key and known[c].facts[k] is not None}
                    assert fmt(float(number), key, decimals) in options, (r["id"], number, unit, pair)
                    n_numbers += 1
    ins = report["instructions"]
    assert sum(ins["pairs"].values()) == n_pairs == 4 * 33
    assert sum(ins["dropped_by_checker"].values()) == 0 and ins["duplicates_dropped"] == 0
    assert n_numbers > 1000
    saved = json.loads((out / "meta" / f"report_{CONFIG}.json").read_text())
    assert saved["instructions"] == ins


def test_variety_and_no_duplicates_within_a_split(built):
    out, _ = built
    rows = _rows(out)
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for split, split_rows in rows.items():
        seen = Counter((p["instruction"], p["response"]) for r in split_rows for p in r["instructions"])
        assert max(seen.values()) == 1, split
        for r in split_rows:
            for p in r["instructions"]:
                by_kind[p["kind"]].append(p)
    for kind, ps in by_kind.items():
        responses = len({p["response"] for p in ps}) / len(ps)
        instructions = len({p["instruction"] for p in ps})
        print(f"{kind:15s} pairs {len(ps):3d}  distinct responses {responses:.2f}  "
              f"distinct instructions {instructions}")
        assert responses == 1.0 and instructions >= 3
    # causal contrasts and comparisons name clips of the same split (or train for a causal reference)
    split_of = {r["id"]: s for s, rs in rows.items() for r in rs}
    for split, split_rows in rows.items():
        for r in split_rows:
            for p in r["instructions"]:
                for other in re.findall(r"`([^`]+)`", p["instruction"] + p["response"]):
                    if p["kind"] == "comparative":
                        assert split_of[other] == split
                    else:
                        assert split_of[other] in (split, "train")


def test_same_pairs_across_chunk_sizes_and_a_resume(built, tmp_path, monkeypatch):
    out, _ = built
    first = {r["id"]: r["instructions"] for rs in _rows(out).values() for r in rs}
    build(_opts(tmp_path / "clean", chunk_inputs=7), progress=False)
    assert {r["id"]: r["instructions"] for rs in _rows(tmp_path / "clean").values() for r in rs} == first
    # killed in the middle of the finishing pass (after one shard was rewritten), then resumed
    from imu2safety.builders.dataset import layout as layout_mod  # (the pass writes through it)

    real_write = layout_mod.write_parquet_atomic
    calls = {"n": 0}

    def dying(table, path, *a, **k):
        if "instructions" in table.column_names and table["instructions"].null_count == 0 \
                and any(len(x) for x in table["instructions"].to_pylist()):
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt("killed")
        return real_write(table, path, *a, **k)

    monkeypatch.setattr(layout_mod, "write_parquet_atomic", dying)
    with pytest.raises(KeyboardInterrupt):
        build(_opts(tmp_path / "resumed", chunk_inputs=7), progress=False)
    monkeypatch.setattr(layout_mod, "write_parquet_atomic", real_write)
    build(_opts(tmp_path / "resumed", chunk_inputs=7), progress=False)
    assert _tree(tmp_path / "clean") == _tree(tmp_path / "resumed")


def test_no_instructions_leaves_the_column_empty(tmp_path):
    out = tmp_path / "plain"
    report = build(_opts(out, instructions=False, chunk_inputs=40), progress=False).report
    rows = [r for rs in _rows(out).values() for r in rs]
    assert all(r["instructions"] == [] for r in rows) and all(r["facts"]["duration_s"] > 0 for r in rows)
    assert report["instructions"]["enabled"] is False
    assert np.isfinite([r["facts"]["peak_accel_ms2"] for r in rows]).all()


def test_card_export_chat_and_describe(built, tmp_path, capsys):
    from imu2safety.cli import main
    from imu2safety.simulator.readers import write_imu

    out, report = built
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "### Instruction pairs" in card and "| `causal` | 33 | 0 |" in card
    assert card.count("> **User:**") == 2 * len(PAIR_KINDS)
    assert "`facts`" in card and "| `free_fall_s` | float64 | s |" in card

    jsonl = tmp_path / "pairs.jsonl"
    assert main(["export-chat", str(out), CONFIG, "-o", str(jsonl)]) == 0
    lines = [json.loads(x) for x in jsonl.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == sum(report["instructions"]["pairs"].values())
    rows = {r["id"]: r for rs in _rows(out).values() for r in rs}
    for rec in lines:
        assert list(rec)[:6] == ["id", "kind", "messages", "hazard", "safe", "activity"]
        row = rows[rec["id"]]
        assert [m["role"] for m in rec["messages"]] == ["user", "assistant"]
        pair = {"kind": rec["kind"], "instruction": rec["messages"][0]["content"],
                "response": rec["messages"][1]["content"]}
        assert pair in row["instructions"]
        assert rec["hazard"] == HAZARD_NAMES[row["hazard"]] and rec["safe"] == (rec["hazard"] == "none")
        assert rec["clips"][0] == rec["id"] and all(c in rows for c in rec["clips"])
        assert (len(rec["clips"]) == 2) == (rec["kind"] == "comparative") or rec["kind"] == "causal"
    test_only = tmp_path / "test.jsonl"
    assert main(["export-chat", str(out), CONFIG, "-o", str(test_only), "--split", "test"]) == 0
    assert {json.loads(x)["split"] for x in test_only.read_text().splitlines()} == {"test"}
    assert main(["export-chat", str(out), "nope", "-o", str(test_only)]) == 2

    capsys.readouterr()
    assert main(["describe", str(samples_dir() / "falling_01.npz"), "--label", "falling"]) == 0
    text = capsys.readouterr().out
    assert "peak_accel_ms2" in text and "[description]" in text and "[classification]" in text
    assert 'hazard "falling"' in text
    t = np.arange(0, 3, 0.02)
    acc = np.zeros((len(t), 3))
    acc[:, 2] = 9.80665
    write_imu(tmp_path / "still.csv", acc, np.zeros((len(t), 3)), t, 50.0)
    assert main(["describe", str(tmp_path / "still.csv")]) == 0
    text = capsys.readouterr().out
    assert "[description]" in text and "[classification]" not in text and "no free fall" in text.lower()
    assert main(["describe", str(tmp_path / "missing.npz")]) == 2


def test_the_pass_streams_from_a_compact_index_as_the_in_memory_pairs(built):
    """The pass keeps per row only ids, shared label strings and the facts as one Arrow array; its
    ClipInfos (made shard by shard) are the rows', and its pairs those of ``make_pairs`` over
    the whole index in memory (which every worker used to hold)."""
    import pyarrow as pa

    from imu2safety.builders.instructions.pairs import RowIndex, make_pairs, plan_pairs, plan_rows

    out, _ = built
    rows = _rows(out)
    index = RowIndex.read(out, CONFIG)
    flat = [r for rs in rows.values() for r in rs]
    assert index.given is None and isinstance(index.facts, pa.StructArray)
    assert len(index.facts) == len(index.ids) == len(flat)
    assert len({id(a) for a in index.activity}) == len(set(index.activity))  # shared, not per row
    infos = index.infos(range(len(flat)))
    clips = {split: [ClipInfo(r["id"], HAZARD_NAMES[r["hazard"]], r["activity"], r["facts"]) for r in rs]
             for split, rs in rows.items()}
    assert [infos[k] for k in range(len(flat))] == [c for cs in clips.values() for c in cs]
    ref, other = plan_rows(index, seed=0)
    plan = plan_pairs(clips, seed=0)
    assert {index.ids[k]: (index.ids[a] if a >= 0 else None, index.ids[b] if b >= 0 else None)
            for k, (a, b) in enumerate(zip(ref.tolist(), other.tolist()))} == plan
    assert all(a is not None for a, _ in plan.values())
    assert make_pairs(clips, seed=0) == {r["id"]: r["instructions"] for r in flat}


def test_teacher_rewrites_are_checked_against_every_clip_of_the_build(built, tmp_path):
    """The pass makes its ClipInfos shard by shard, yet a rewrite may quote any clip of the build:
    the checker finds it (and its facts) in the compact index; an id outside the build fails."""
    import shutil

    from imu2safety.builders.instructions.pairs import add_instructions

    out, _ = built
    flat = [r for rs in _rows(out).values() for r in rs]
    seen: dict[str, int] = {}

    def teacher_quoting(who):
        def teacher(batch):
            answers = []
            for clip, pairs, named in batch:
                other = who(clip, named)
                peak = fmt(other["facts"]["peak_accel_ms2"], "ms2") if other["facts"] else "1.0 m/s²"
                seen[clip.id] = seen.get(clip.id, 0) + len(pairs)
                answers.append([{**p, "response": p["response"] + f" `{other['id']}` has a peak |accel| of "
                                 f"{peak}."} for p in pairs])
            return answers
        return teacher

    def far(clip, named):  # a clip of the build that is neither this one nor one of its partners
        return next(r for r in flat if r["id"] not in named and r["facts"]["peak_accel_ms2"] is not None)

    copy = tmp_path / "ds"
    shutil.copytree(out, copy)
    rep = add_instructions(copy, CONFIG, teacher=teacher_quoting(far))
    total = sum(seen.values())
    assert total == sum(rep["pairs"].values()) + rep["duplicates_dropped"] > 0
    assert rep["teacher"] == {"used": total}
    seen.clear()
    rep = add_instructions(copy, CONFIG, teacher=teacher_quoting(lambda c, n: {"id": "nobody", "facts": {}}))
    assert rep["teacher"] == {"discarded_by_checker": sum(seen.values())}
