"""Builds at scale: the append-only progress log (resume after a cut line, older progress files),
the compact key sets that replace per-id dicts, and the writer's memory not growing per input."""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from imu2safety.builders.build import build
from imu2safety.builders.dataset.layout import CODEBASE_VERSION, PROGRESS_PATH, dumps_json
from imu2safety.builders.dataset.writer import PROGRESS_FORMAT, DatasetWriter
from imu2safety.builders.keyset import KeySet, key
from imu2safety.builders.records import Skip

from test_build import _opts, _tree, utd_dir  # noqa: F401  (the fixture)


def test_keyset_answers_like_a_dict_of_first_values():
    rng = random.Random(0)
    ks, first = KeySet(), {}
    for _ in range(200):
        words = [f"w{rng.randint(0, 3000)}" for _ in range(rng.randint(0, 50))]
        values = [rng.randint(-1, 10**12) for _ in words]
        want = []
        for w, v in zip(words, values):
            want.append(first.get(w))
            first.setdefault(w, v)
        assert ks.add([key(w) for w in words], values) == want
    assert len(ks) == len(first) and ks.nbytes == 24 * len(first)  # 16-byte key + int64 value
    with pytest.raises(ValueError, match="16 bytes"):
        ks.add([b"short"])


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / PROGRESS_PATH.format(config="utd-mhad")).read_text().splitlines()]


def test_progress_is_an_append_only_log_and_a_cut_line_is_no_commit(utd_dir, tmp_path):
    clean = tmp_path / "clean"
    build(_opts(utd_dir, clean), progress=False)
    lines = _log(clean)
    assert lines[0]["format"] == PROGRESS_FORMAT and lines[0]["chunk_inputs"] == 3
    assert [d["chunk"] for d in lines[1:]] == [0, 1, 2, 3]  # 11 inputs, 3 per chunk
    assert sum(len(d["inputs"]) for d in lines[1:]) == 11 and all(len(d["digests"]) for d in lines[1:])
    # a build killed while appending chunk 3's line: its shards are on disk, its line is cut
    cut = tmp_path / "cut"
    build(_opts(utd_dir, cut), progress=False)
    progress = cut / PROGRESS_PATH.format(config="utd-mhad")
    data = progress.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    progress.write_bytes(data[:last + (len(data) - last) // 2])  # half of the last line
    w = DatasetWriter(cut, "utd-mhad", 3, build_key=json.loads(json.dumps(lines[0]["build_key"])))
    assert w.completed_chunks() == {0, 1, 2} and progress.read_bytes() == data[:last]
    assert not any(p.name.endswith("-00003.parquet") for p in (cut / "data" / "utd-mhad").iterdir())
    build(_opts(utd_dir, cut), progress=False)  # resumes: chunk 3 again, appended
    assert _tree(cut) == _tree(clean)


def test_writer_appends_and_keeps_no_per_input_state(tmp_path):
    w = DatasetWriter(tmp_path, "utd-mhad", chunk_inputs=200)
    progress = tmp_path / PROGRESS_PATH.format(config="utd-mhad")

    def chunk(k: int) -> dict:
        return {f"s{k}/input_{j:04d}_with_a_long_name": [Skip(f"s{k}/input_{j}", "too short")]
                for j in range(200)}

    w.write_chunk(0, chunk(0), digests={f"s0/input_{j:04d}_with_a_long_name": "ab" * 32 for j in range(200)})
    before = progress.read_bytes()
    w.write_chunk(1, chunk(1))
    assert progress.read_bytes().startswith(before)  # appended, not rewritten
    assert w.record(0).digests[f"s0/input_0007_with_a_long_name"] == "ab" * 32
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for k in range(2, 42):  # 8,000 more inputs
            w.write_chunk(k, chunk(k))
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    # a chunk's counts and the offset of its line: no input names, digests or skips in memory
    assert grown / 8000 < 10, f"{grown / 8000:.1f} bytes per input"
    rep = w.report()
    assert rep["inputs"] == 42 * 200 == rep["inputs_skipped"] and len(rep["skips"]) == 42 * 200


def test_older_progress_file_is_read_and_turned_into_the_log(utd_dir, tmp_path):
    clean = tmp_path / "clean"
    build(_opts(utd_dir, clean), progress=False)
    old = tmp_path / "old"
    build(_opts(utd_dir, old), progress=False)
    head, *chunks = _log(old)
    progress = old / PROGRESS_PATH.format(config="utd-mhad")
    # the format an earlier imu2safety wrote: one JSON object, rewritten whole per chunk
    progress.write_bytes(dumps_json({
        "codebase_version": CODEBASE_VERSION, "config": "utd-mhad", "source": "utd-mhad",
        "chunk_inputs": 3, "build_key": head["build_key"],
        "chunks": {f"{d.pop('chunk'):05d}": d for d in chunks}}))
    build(_opts(utd_dir, old), progress=False)  # every chunk committed: nothing to redo
    assert _tree(old) == _tree(clean)
    progress.write_text("{not json\n")
    with pytest.raises(ValueError, match="neither a progress log nor an older progress file"):
        build(_opts(utd_dir, old), progress=False)


def test_figure_examples_keep_their_own_samples_not_their_shards(utd_dir, tmp_path):
    """The card's example rows own their samples: a view would keep its whole shard's samples
    alive, and a class too rare to fill its candidates takes rows from every shard."""
    from imu2safety.builders.dataset.card import choose_examples

    out = tmp_path / "ds"
    build(_opts(utd_dir, out), progress=False)
    chosen = choose_examples(out, "utd-mhad")
    assert chosen and all(ex["imu"].base is None and ex["imu"].flags.owndata for ex in chosen.values())


def test_build_runs_with_the_build_gc_thresholds_and_restores_the_callers(utd_dir, tmp_path, monkeypatch):
    import gc
    import os

    from imu2safety.builders import build as build_module
    from imu2safety.builders.pool import BUILD_GC_THRESHOLD, worker_pool

    assert BUILD_GC_THRESHOLD != gc.get_threshold()
    seen = []
    finish = build_module._finish_instructions

    def spy(*args, **kwargs):
        seen.append(gc.get_threshold())
        return finish(*args, **kwargs)

    monkeypatch.setattr(build_module, "_finish_instructions", spy)
    before = gc.get_threshold()
    build(_opts(utd_dir, tmp_path / "a"), progress=False)
    assert seen == [BUILD_GC_THRESHOLD] and gc.get_threshold() == before
    # the workers: the build's thresholds for their life, and the caller's initializer still runs
    with worker_pool(2, os.chdir, (str(tmp_path),)) as pool:
        got = [pool.apply_async(gc.get_threshold).get() for _ in range(4)]
        cwd = pool.apply_async(os.getcwd).get()
    assert got == [BUILD_GC_THRESHOLD] * 4 and cwd == str(tmp_path)
    assert gc.get_threshold() == before


def test_example_choice_is_remembered_only_while_the_shards_are_unchanged(utd_dir, tmp_path):
    from imu2safety.builders.dataset import card
    from imu2safety.builders.dataset.layout import shard_paths

    out = tmp_path / "a"
    build(_opts(utd_dir, out), progress=False)
    first = card.choose_examples(out, "utd-mhad")
    assert card.choose_examples(out, "utd-mhad") is first  # (the card's captions: no second read)
    chosen = {ex["id"] for ex in first.values()}
    shard = next(p for split in ("train", "validation", "test")
                 for p in shard_paths(out, "utd-mhad", split) if chosen & set(pq.read_table(p, columns=["id"])["id"].to_pylist()))
    shard.unlink()
    again = card.choose_examples(out, "utd-mhad")
    assert again is not first and {ex["id"] for ex in again.values()} != chosen


def test_chunk_shards_are_written_uncompressed_and_the_pass_writes_the_same_dataset(
        utd_dir, tmp_path, monkeypatch):
    """The chunks' shards skip zstd (the finishing pass rewrites every shard, compressed): the
    dataset on disk is byte for byte the one whose chunks were compressed too."""
    import hashlib

    from imu2safety.builders.dataset import layout as L
    from imu2safety.builders.dataset import writer as W

    calls = []
    write = L.write_parquet_atomic

    def spy(table, path, row_group_bytes=L.ROW_GROUP_BYTES, compression="zstd", commit=True):
        calls.append(compression)
        return write(table, path, row_group_bytes, compression, commit)

    monkeypatch.setattr(W, "write_parquet_atomic", spy)  # the chunks' writes
    monkeypatch.setattr(L, "write_parquet_atomic", spy)  # the instruction pass's (one process)
    build(_opts(utd_dir, tmp_path / "a"), progress=False)
    shards = sorted((tmp_path / "a" / "data").rglob("*.parquet"))
    assert calls == ["none"] * len(shards) + ["zstd"] * len(shards)
    for p in shards:
        md = pq.ParquetFile(p).metadata
        assert {md.row_group(g).column(c).compression for g in range(md.num_row_groups)
                for c in range(md.num_columns)} == {"ZSTD"}
    init = W.DatasetWriter.__init__
    monkeypatch.setattr(W.DatasetWriter, "__init__",
                        lambda self, *a, compression="zstd", **k: init(self, *a, compression="zstd", **k))
    build(_opts(utd_dir, tmp_path / "b"), progress=False)

    def files(root):
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    assert files(tmp_path / "a") == files(tmp_path / "b")


def test_examples_chosen_with_the_builds_class_counts_open_fewer_shards_same_choice(
        utd_dir, tmp_path, monkeypatch):
    """Finalizing passes each shard's class counts (from the progress records): shards without
    a class still short of candidates are not opened, and the examples are the same."""
    from pathlib import Path

    import numpy as np

    from imu2safety.builders.dataset import card
    from imu2safety.builders.dataset.layout import PROGRESS_PATH, data_path

    out = tmp_path / "a"
    build(_opts(utd_dir, out), progress=False)
    log = (out / PROGRESS_PATH.format(config="utd-mhad")).read_text().splitlines()[1:]
    counts = {Path(data_path("utd-mhad", split, r["chunk"])).name: classes
              for r in map(json.loads, log) for split, classes in r["class_counts"].items()}
    opened = []
    read = card.read_shard
    monkeypatch.setattr(card, "read_shard", lambda p, columns=None: (opened.append(p), read(p, columns))[1])
    monkeypatch.setattr(card, "FIGURE_CANDIDATES", 2)  # (full classes early: shards left unopened)
    plain = card._choose_examples(str(out), "utd-mhad", {})
    n_plain, opened[:] = len(opened), []
    hinted = card._choose_examples(str(out), "utd-mhad", counts)
    assert 0 < len(opened) < n_plain
    assert plain.keys() == hinted.keys() and plain
    for name in plain:
        assert plain[name]["id"] == hinted[name]["id"]
        assert plain[name]["candidates"] == hinted[name]["candidates"]
        assert np.array_equal(plain[name]["imu"], hinted[name]["imu"])


def test_shard_rewritten_where_datasets_is_not_imported_has_the_same_bytes(utd_dir, tmp_path):
    """The instruction pass's workers rewrite shards without importing ``datasets`` (its Array2D
    columns cast to ``plain_schema``): the file is byte for byte the one written with it."""
    import pickle
    import subprocess
    import sys

    from imu2safety.builders.dataset.layout import shard_paths
    from imu2safety.builders.dataset.schema import ARROW_SCHEMA
    from imu2safety.builders.instructions.pairs import plain_schema

    out = tmp_path / "a"
    build(_opts(utd_dir, out), progress=False)  # (one process: the pass wrote with datasets)
    shard = shard_paths(out, "utd-mhad", "train")[0]
    before = shard.read_bytes()
    t = pq.read_table(shard, columns=["id", "instructions"])
    pairs = dict(zip(t["id"].to_pylist(), t["instructions"].to_pylist()))
    assert any(pairs.values())
    args = tmp_path / "args.pkl"
    args.write_bytes(pickle.dumps((shard, pairs, plain_schema(ARROW_SCHEMA))))
    code = ("import pickle, sys; from imu2safety.builders.instructions.pairs import _write_instructions; "
            f"n, _ = _write_instructions(*pickle.loads(open({str(args)!r}, 'rb').read())); "
            "print(n, 'datasets' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [str(len(pairs)), "False"]
    assert shard.read_bytes() == before
