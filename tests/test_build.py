"""End-to-end builds: load_dataset round trip, byte identity, parallel = serial, resume, skips."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from imu2safety.builders import build as build_mod
from imu2safety.builders.sources import utd_mhad
from imu2safety.builders.build import BuildOptions, build
from imu2safety.builders.dataset.writer import DatasetWriter
from imu2safety.simulator.imu import SimulationOptions, simulate


def _skeleton(T: int, seed: int) -> np.ndarray:
    """(20, 3, T) Kinect v1 camera-space skeleton (x left, y up, z depth), UTD-MHAD order."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / 20.0
    rest = np.array([[0, .6, 2.5], [0, .4, 2.5], [0, .1, 2.5], [0, -.1, 2.5],
                     [.2, .4, 2.5], [.25, .1, 2.45], [.28, -.15, 2.4], [.29, -.22, 2.4],
                     [-.2, .4, 2.5], [-.25, .1, 2.45], [-.28, -.15, 2.4], [-.29, -.22, 2.4],
                     [.1, -.1, 2.5], [.1, -.5, 2.5], [.1, -.9, 2.5], [.1, -.95, 2.45],
                     [-.1, -.1, 2.5], [-.1, -.5, 2.5], [-.1, -.9, 2.5], [-.1, -.95, 2.45]])
    f = rng.uniform(0.3, 1.2)
    swing = np.zeros((T, 20, 3))
    for j in (9, 10, 11):  # right elbow, wrist, hand swing forward/back
        swing[:, j, 2] = 0.15 * (j - 8) / 3 * np.sin(2 * np.pi * f * t)
    return np.moveaxis(rest + swing + 0.002 * rng.normal(size=(T, 20, 3)), 0, 2)


@pytest.fixture
def utd_dir(tmp_path) -> Path:
    """A UTD-MHAD-like folder: good clips over three subjects, a corrupt file, a NaN wrist."""
    root = tmp_path / "Skeleton"
    root.mkdir()
    k = 0
    for a in (1, 5, 24):
        for s in (1, 2, 7):
            scipy.io.savemat(root / f"a{a}_s{s}_t1_skeleton.mat", {"d_skel": _skeleton(60, k)})
            k += 1
    (root / "a2_s3_t1_skeleton.mat").write_bytes(b"MATLAB 5.0 MAT-file truncated")
    bad = _skeleton(60, 99)
    bad[10] = np.nan  # right wrist never tracked
    scipy.io.savemat(root / "a3_s3_t1_skeleton.mat", {"d_skel": bad})
    return root


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _opts(utd_dir, out, **kw) -> BuildOptions:
    return BuildOptions(source="utd-mhad", input_dir=utd_dir, output_dir=out,
                        placement="right_wrist", device="bmi160", chunk_inputs=3, **kw)


def test_round_trip_report_and_skips(utd_dir, tmp_path):
    import datasets

    out = tmp_path / "ds"
    result = build(_opts(utd_dir, out), progress=False)
    rep = result.report
    assert rep["inputs"] == 11 == rep["inputs_written"] + rep["inputs_skipped"]
    assert rep["inputs_skipped"] == 2
    reasons = " | ".join(s["reason"] for s in rep["skips"])
    assert "cannot read MATLAB file" in reasons and "needed joint tracked" in reasons
    saved = json.loads((out / "meta" / "report_utd-mhad.json").read_text())
    assert saved["inputs_written"] == 9

    ds = datasets.load_dataset(str(out), "utd-mhad")
    assert set(ds) == {"train", "validation", "test"}  # s1 train, s7 validation, s2 test
    assert ds["train"].features["hazard"].names[0] == "none"
    row = ds["test"].with_format("numpy")[0]
    clip = next(iter(utd_mhad.read(utd_dir / f"{row['id']}_skeleton.mat")))
    sim = SimulationOptions(placement="right_wrist", device="bmi160", cutoff_hz=utd_mhad.CUTOFF_HZ)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expect = simulate(clip.motion, sim, clip.id).as_array()
    np.testing.assert_array_equal(row["imu"], expect)
    assert row["synthetic"] and row["placement"] == "right_wrist" and row["device"] == "bmi160"
    assert json.loads(row["options"])["device"] == "bmi160"
    for split in ds.values():
        for imu in split.with_format("numpy")["imu"]:
            assert np.isfinite(imu).all()


def test_identical_builds_are_byte_identical_and_parallel_matches(utd_dir, tmp_path):
    build(_opts(utd_dir, tmp_path / "a"), progress=False)
    build(_opts(utd_dir, tmp_path / "b"), progress=False)
    build(_opts(utd_dir, tmp_path / "c", num_proc=2), progress=False)
    a, b, c = (_tree(tmp_path / n) for n in "abc")
    assert a == b == c
    assert any(k.endswith(".parquet") for k in a)


def test_killed_build_resumes_without_duplicates_or_loss(utd_dir, tmp_path, monkeypatch):
    build(_opts(utd_dir, tmp_path / "clean"), progress=False)
    calls = {"n": 0}
    real_write = DatasetWriter.write_chunk

    def dying(self, chunk, results, **kw):
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        calls["n"] += 1
        return real_write(self, chunk, results, **kw)

    monkeypatch.setattr(DatasetWriter, "write_chunk", dying)
    with pytest.raises(KeyboardInterrupt):
        build(_opts(utd_dir, tmp_path / "resumed"), progress=False)
    monkeypatch.setattr(DatasetWriter, "write_chunk", real_write)
    result = build(_opts(utd_dir, tmp_path / "resumed"), progress=False)
    assert result.report["inputs"] == 11
    assert _tree(tmp_path / "clean") == _tree(tmp_path / "resumed")


def test_unmapped_labels_are_reported_not_guessed(utd_dir, tmp_path):
    scipy.io.savemat(utd_dir / "a99_s1_t1_skeleton.mat", {"d_skel": _skeleton(40, 5)})
    rep = build(_opts(utd_dir, tmp_path / "ds"), progress=False).report
    assert any("unmapped label 'a99'" in s["reason"] for s in rep["skips"])
    assert rep["inputs"] == 12


def test_reader_crash_becomes_a_skip(utd_dir, tmp_path, monkeypatch):
    def boom(path, **options):
        if "a5_s2" in str(path):
            raise RuntimeError("reader bug")
        return utd_mhad.read(path, **options)

    monkeypatch.setattr(utd_mhad, "read", boom)
    rep = build(_opts(utd_dir, tmp_path / "ds"), progress=False).report
    assert any("reader error: RuntimeError: reader bug" in s["reason"] for s in rep["skips"])
    assert rep["inputs"] == rep["inputs_written"] + rep["inputs_skipped"] == 11


def test_plain_load_dataset_sees_a_rebuilt_folder(utd_dir, tmp_path):
    """datasets caches a local folder by its README's YAML: the content digest there must
    change with the shards, or a rebuild would load the old rows."""
    import shutil

    import datasets

    out = tmp_path / "ds"
    build(_opts(utd_dir, out), progress=False)
    first = datasets.load_dataset(str(out), "utd-mhad")["train"][0]["options"]
    shutil.rmtree(out)
    build(_opts(utd_dir, out, seed=7), progress=False)
    second = datasets.load_dataset(str(out), "utd-mhad")["train"][0]["options"]
    assert json.loads(first)["seed"] == 0 and json.loads(second)["seed"] == 7


def test_unexpected_simulation_error_skips_only_that_clip(utd_dir, tmp_path, monkeypatch):
    from imu2safety.simulator import imu as imu_mod

    real = imu_mod._device_poses
    shoulders = {}
    for p in sorted(utd_dir.glob("*.mat")):
        clip = next(iter(utd_mhad.read(p)))
        if hasattr(clip, "motion"):
            shoulders[clip.id] = clip.motion.joint("right_shoulder")[0, 2]
    target = max(shoulders, key=shoulders.get)  # one clip, recognised by its shoulder height

    def flaky(clips, fs, options):  # clips: (positions (T, J, 3), names, joint indices)
        if any(pos[0, names.index("right_shoulder"), 2] == shoulders[target] for pos, names, _ in clips):
            raise ZeroDivisionError("boom")
        return real(clips, fs, options)

    monkeypatch.setattr(imu_mod, "_device_poses", flaky)
    rep = build(_opts(utd_dir, tmp_path / "ds"), progress=False).report
    assert rep["inputs"] == 11 and rep["inputs_skipped"] == 3
    assert any(target in s["item"] and "ZeroDivisionError: boom" in s["reason"] for s in rep["skips"])


def test_augmented_copies(utd_dir, tmp_path):
    import datasets

    opts = _opts(utd_dir, tmp_path / "a", augment=2)
    rep = build(opts, progress=False).report
    assert sum(rep["rows"].values()) == 3 * 9
    ds = datasets.load_dataset(str(tmp_path / "a"), "utd-mhad")["train"].with_format("numpy")
    rows = {r["id"]: r for r in ds}
    base = next(i for i in rows if "~" not in i)
    one, two = rows[f"{base}~aug1"], rows[f"{base}~aug2"]
    assert json.loads(one["extra"])["augmentation"] == {"of": base, "copy": 1, "mirrored": False,
                                                        "jitter": True}
    assert json.loads(two["extra"])["augmentation"]["mirrored"] is True
    mounts = {json.dumps(json.loads(r["options"])["mounting"]) for r in (rows[base], one, two)}
    assert len(mounts) == 3  # each copy wears the device differently
    assert not np.array_equal(rows[base]["imu"], one["imu"])
    # Deterministic: the same build again is byte-identical.
    build(_opts(utd_dir, tmp_path / "b", augment=2), progress=False)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
