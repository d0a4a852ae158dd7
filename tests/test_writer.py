"""Dataset layout, row schema and the resumable Parquet writer, checked through ``load_dataset``."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest

from imu2safety.builders.labels import HAZARD_NAMES
from imu2safety.builders.dataset.layout import (
    CODEBASE_VERSION, INFO_PATH, ConfigInfo, DatasetInfo, VersionError, check_version, load_info,
)
from imu2safety.builders.records import Skip
from imu2safety.builders.dataset.schema import FEATURES, RowError, to_arrow_table, validate_row
from imu2safety.builders.dataset.writer import DatasetWriter

CONFIG = "utd-mhad"

# input name -> [(split, hazard, samples), ...]; None = skipped input. Six inputs, three per chunk.
PLAN = {
    "s1/a1_t1": [("train", "none", 40)],
    "s1/a2_t1": [("train", "falling", 35), ("train", "fainting", 20)],
    "s2/a1_t1": None,
    "s7/a1_t1": [("validation", "none", 31)],
    "s2/a3_t1": [("test", "fighting", 27)],
    "s2/a4_t1": [("test", "none", 50), ("test", "falling", 10)],
}
INPUTS = list(PLAN)
CHUNK_INPUTS = 3


def fake_row(clip_id: str, split: str, hazard: str, n: int, source: str = CONFIG) -> dict:
    """One schema row with a reproducible, non-round float32 signal."""
    seed = sum(map(ord, clip_id))
    imu = np.random.default_rng(seed).normal(0.0, 3.0, size=(n, 6)).astype(np.float32)
    imu[:, 2] += np.float32(9.80665)
    return {
        "id": clip_id, "source": source, "subject": clip_id.split("/")[0], "source_label": "a1",
        "activity": "test activity", "hazard": hazard, "safe": hazard == "none", "synthetic": True,
        "placement": "left_wrist", "device": "ideal", "sample_rate_hz": 50.0, "imu": imu,
        "simulator_version": "0.1.0", "options": {"rate_hz": 50.0, "placement": "left_wrist"},
        "seed": seed, "extra": json.dumps({"clip": clip_id}),
        "instructions": [{"kind": "classification", "instruction": "Is it safe?", "response": "yes" if hazard == "none" else "no"}],
        "split": split,
    }


def process(name: str) -> list:
    if PLAN[name] is None:
        return [Skip(name, "skeleton has NaN joints in every frame")]
    return [fake_row(f"{name}#{i}", s, h, n) for i, (s, h, n) in enumerate(PLAN[name])]


def expected_rows(split: str) -> list[dict]:
    return [r for name in INPUTS for r in process(name) if isinstance(r, dict) and r["split"] == split]


def build(out: Path, stop_after: int | None = None, finalize: bool = True) -> DatasetWriter:
    w = DatasetWriter(out, CONFIG, CHUNK_INPUTS)
    for chunk, names in w.pending(INPUTS):
        if stop_after is not None and chunk > stop_after:
            return w
        w.write_chunk(chunk, {name: process(name) for name in names})
    if finalize:
        w.finalize(build_options={"rate_hz": 50.0}, source_checksums={"s1/a1_t1": "sha256:00"},
                   simulator_version="0.1.0", license="Research use only.", citation="@article{utd}")
    return w


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ds") / "dataset"
    build(out)
    return out


def load(folder: Path, *args):
    return datasets.load_dataset(str(folder), *args, cache_dir=str(folder.parent / "cache"))


def assert_same_rows(ds: datasets.Dataset, rows: list[dict]) -> None:
    assert ds.num_rows == len(rows)
    for got, want in zip(ds, rows):
        imu = np.asarray(got["imu"], dtype=np.float32)
        assert imu.shape == want["imu"].shape
        assert np.array_equal(imu.view(np.uint32), want["imu"].view(np.uint32))  # bit-exact
        assert HAZARD_NAMES[got["hazard"]] == want["hazard"]
        for k in ("id", "source", "subject", "activity", "safe", "synthetic", "placement", "device",
                  "sample_rate_hz", "simulator_version", "seed", "extra", "instructions"):
            assert got[k] == want[k], k
        assert json.loads(got["options"]) == want["options"]


def test_load_dataset_returns_exact_values(built):
    ds = load(built, CONFIG)
    assert sorted(ds) == ["test", "train", "validation"]
    for split in ds:
        assert_same_rows(ds[split], expected_rows(split))


def test_features_are_restored_from_the_parquet_schema(built):
    ds = load(built, CONFIG)
    assert ds["train"].features == FEATURES
    assert ds["train"].features["hazard"].names == list(HAZARD_NAMES)
    assert isinstance(ds["train"].features["imu"], datasets.Array2D)
    meta = pq.read_schema(next(built.glob("data/*/train-*.parquet"))).metadata
    assert datasets.Features.from_dict(json.loads(meta[b"huggingface"])["info"]["features"]) == FEATURES


def test_shard_names_and_report(built):
    shards = sorted(p.name for p in (built / "data" / CONFIG).iterdir())
    assert shards == ["test-00001.parquet", "train-00000.parquet", "validation-00001.parquet"]
    report = json.loads((built / f"meta/report_{CONFIG}.json").read_text())
    assert (report["inputs"], report["inputs_written"], report["inputs_skipped"]) == (6, 5, 1)
    assert report["skips"] == [{"input": "s2/a1_t1", "item": "s2/a1_t1",
                                "reason": "skeleton has NaN joints in every frame"}]
    assert report["rows"] == {"train": 3, "validation": 1, "test": 3}
    assert report["class_counts"] == {"train": {"none": 1, "falling": 1, "fainting": 1},
                                      "validation": {"none": 1},
                                      "test": {"none": 1, "falling": 1, "fighting": 1}}
    info = load_info(built)
    assert info.codebase_version == CODEBASE_VERSION
    assert info.configs[CONFIG].split_counts == report["rows"]
    assert info.configs[CONFIG].source_checksums == {"s1/a1_t1": "sha256:00"}


def test_default_config_and_second_source(tmp_path):
    out = tmp_path / "dataset"
    build(out)
    w = DatasetWriter(out, "weda-fall", chunk_inputs=2)
    w.write_chunk(0, {"U01/F01": [fake_row("U01_F01", "train", "falling", 12, "weda-fall")]})
    w.finalize(simulator_version="")
    info = load_info(out)
    assert sorted(info.configs) == [CONFIG, "weda-fall"]
    assert load(out, "weda-fall")["train"]["id"] == ["U01_F01"]
    default = load(out)  # the first config in sorted order is the default
    assert default["train"]["id"] == [r["id"] for r in expected_rows("train")]


def test_identical_builds_are_byte_identical(tmp_path):
    a, b = build(tmp_path / "a").output_dir, build(tmp_path / "b").output_dir
    fa, fb = files_of(a), files_of(b)
    assert sorted(fa) == sorted(fb)
    assert {"README.md", INFO_PATH, f"meta/report_{CONFIG}.json"} <= set(fa)
    assert any(k.startswith("figures/") for k in fa)
    assert [k for k in fa if fa[k] != fb[k]] == []


def test_killed_build_resumes_without_duplicates_or_loss(tmp_path):
    out = tmp_path / "dataset"
    build(out, stop_after=0, finalize=False)  # chunk 0 committed, then "killed"
    data = out / "data" / CONFIG
    (data / "test-00001.parquet.tmp").write_bytes(b"half a shard")  # killed while writing chunk 1
    pq.write_table(to_arrow_table([{k: v for k, v in fake_row("stray", "test", "none", 5).items()
                                    if k != "split"}]), data / "test-00001.parquet")  # renamed, unrecorded
    w = DatasetWriter(out, CONFIG, CHUNK_INPUTS)
    assert w.completed_chunks() == {0}
    assert sorted(p.name for p in data.iterdir()) == ["train-00000.parquet"]
    assert [c for c, _ in w.pending(INPUTS)] == [1]
    build(out)  # the re-run skips chunk 0
    ds = load(out, CONFIG)
    for split in ds:
        assert_same_rows(ds[split], expected_rows(split))
    assert files_of(out) == files_of(build(tmp_path / "clean").output_dir)


def test_resume_refuses_a_changed_input_list(tmp_path):
    build(tmp_path, stop_after=0, finalize=False)
    w = DatasetWriter(tmp_path, CONFIG, CHUNK_INPUTS)
    with pytest.raises(ValueError, match="another list of inputs .chunk 0"):
        list(w.pending(["new/input"] + INPUTS))
    pairs = [(name, Path("/inputs") / name) for name in INPUTS]  # (name, payload) pairs work too
    assert [(c, [n for n, _ in part]) for c, part in w.pending(pairs)] == [(1, INPUTS[3:])]


def test_write_chunk_refuses_bad_input_and_commits_nothing(tmp_path):
    w = DatasetWriter(tmp_path, CONFIG, 2)
    with pytest.raises(ValueError, match="neither a row nor a skip"):
        w.write_chunk(0, {"x": []})
    with pytest.raises(ValueError, match="1..2 inputs"):
        w.write_chunk(0, {"a": process("s2/a1_t1"), "b": process("s2/a1_t1"), "c": process("s2/a1_t1")})
    with pytest.raises(ValueError, match="split must be one of"):
        w.write_chunk(0, {"x": [fake_row("x", "dev", "none", 3)]})
    with pytest.raises(ValueError, match="holds 'utd-mhad'"):
        w.write_chunk(0, {"x": [fake_row("x", "train", "none", 3, source="ntu")]})
    bad = fake_row("bad", "test", "none", 4)
    bad["imu"][2, 4] = np.nan
    with pytest.raises(RowError, match="NaN"):
        w.write_chunk(0, {"good": [fake_row("good", "train", "none", 3)], "bad": [bad]})
    assert w.completed_chunks() == set() and not (tmp_path / "data" / CONFIG).exists()
    w.write_chunk(0, {"good": [fake_row("good", "train", "none", 3)]})
    with pytest.raises(ValueError, match="already committed"):
        w.write_chunk(0, {"good": [fake_row("good", "train", "none", 3)]})
    with pytest.raises(ValueError, match="chunk_inputs 2 -> 3"):
        DatasetWriter(tmp_path, CONFIG, 3)


def test_duplicate_clip_ids_are_refused_at_finalize(tmp_path):
    w = DatasetWriter(tmp_path, CONFIG, 1)
    w.write_chunk(0, {"a": [fake_row("same", "train", "none", 3)]})
    w.write_chunk(1, {"b": [fake_row("same", "test", "none", 3)]})
    with pytest.raises(ValueError, match="more than once"):
        w.finalize()


def test_row_groups_are_bounded_in_bytes(tmp_path):
    w = DatasetWriter(tmp_path, CONFIG, 4, row_group_bytes=2 * 24 * 100)
    w.write_chunk(0, {f"i{k}": [fake_row(f"c{k}", "train", "none", 100)] for k in range(4)})
    meta = pq.read_metadata(tmp_path / "data" / CONFIG / "train-00000.parquet")
    assert (meta.num_rows, meta.num_row_groups) == (4, 2)


def test_validate_row():
    row = {k: v for k, v in fake_row("c", "train", "falling", 8).items() if k != "split"}
    out = validate_row(row)
    assert out["options"] == '{"placement":"left_wrist","rate_hz":50.0}'
    assert out["imu"].dtype == np.float32 and out["imu"].flags.c_contiguous

    def bad(match: str, **change):
        with pytest.raises(RowError, match=match):
            validate_row({**row, **change})

    imu_nan, imu_inf = row["imu"].copy(), row["imu"].copy()
    imu_nan[3, 1], imu_inf[0, 5] = np.nan, np.inf
    bad("NaN/Inf .*sample 3, channel ay", imu=imu_nan)
    bad("NaN/Inf .*sample 0, channel gz", imu=imu_inf)
    bad(r"\(N>=1, 6\), got shape \(8, 3\)", imu=row["imu"][:, :3])
    bad(r"got shape \(0, 6\)", imu=np.zeros((0, 6), np.float32))
    bad("unknown hazard 'tripping'", hazard="tripping")
    bad("contradicts", safe=True)
    bad("not valid JSON", extra="{oops")
    bad("sample_rate_hz must be", sample_rate_hz=0.0)
    bad("seed must be", seed=1.5)
    bad("instructions", instructions=[{"instruction": "q"}])
    with pytest.raises(RowError, match=r"lacks columns \['device'\]"):
        validate_row({k: v for k, v in row.items() if k != "device"})
    with pytest.raises(RowError, match=r"unknown columns \['split'\]"):
        validate_row({**row, "split": "train"})


def test_check_version():
    check_version("1.0.0")
    check_version("1.0.7")
    check_version("1.0.0", ours="1.3.0")
    with pytest.raises(VersionError, match="upgrade imu2safety"):
        check_version("1.1.0", ours="1.0.0")
    with pytest.raises(VersionError, match="upgrade imu2safety"):
        check_version("2.0.0")
    with pytest.raises(VersionError, match=r"rebuild it with imu2safety >= 1\.0\.0"):
        check_version("0.9.0")
    with pytest.raises(ValueError, match="MAJOR.MINOR.PATCH, got 'v1'"):
        check_version("v1")


def test_dataset_info_checks_and_round_trip(tmp_path):
    cfg = ConfigInfo("ntu", split_counts={"train": 3}, class_counts={"train": {"none": 2, "falling": 1}})
    info = DatasetInfo(configs={"ntu-xsub": cfg}, created_by="test")
    assert DatasetInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info
    with pytest.raises(ValueError, match="got 'dev'"):
        ConfigInfo("ntu", split_counts={"dev": 1})
    with pytest.raises(ValueError, match="sums to 1 but split_counts"):
        ConfigInfo("ntu", split_counts={"train": 2}, class_counts={"train": {"none": 1}})
    with pytest.raises(ValueError, match="unknown hazards \\['tripping'\\]"):
        ConfigInfo("ntu", split_counts={"train": 1}, class_counts={"train": {"tripping": 1}})
    with pytest.raises(ValueError, match="non-negative int, got -1"):
        ConfigInfo("ntu", split_counts={"train": -1})
    with pytest.raises(ValueError, match="config name must match .* got 'NTU XSub'"):
        DatasetInfo(configs={"NTU XSub": cfg})
    with pytest.raises(FileNotFoundError, match="not an imu2safety dataset"):
        load_info(tmp_path)
    (tmp_path / "meta").mkdir()
    (tmp_path / INFO_PATH).write_text(json.dumps({**info.to_dict(), "codebase_version": "2.0.0"}))
    with pytest.raises(VersionError, match="upgrade"):
        load_info(tmp_path)
    with pytest.raises(VersionError, match="upgrade"):
        DatasetWriter(tmp_path, CONFIG, 1)
