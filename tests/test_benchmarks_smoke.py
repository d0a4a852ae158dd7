"""The three benchmark scripts run on tiny sizes and print sane figures (no timing thresholds)."""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from imu2safety.builders.sources import ntu
from imu2safety.builders.records import Clip
from imu2safety.simulator.joints import JOINT_SETS

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    """Import ``benchmarks/<name>.py`` (not a package) without leaking its env settings."""
    saved = dict(os.environ)
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while defining
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return module


def _finite_positive(x: float) -> bool:
    return math.isfinite(x) and x > 0


# ---------------------------------------------------------------- simulate_speed

def test_simulate_speed_runs_and_prints(capsys):
    sim = _load("simulate_speed")
    res = sim.main(["--clips", "6", "--previous-clips", "3", "--naive-clips", "2", "--repeat", "1",
                    "--quick"])
    out = capsys.readouterr().out
    for corpus in ("equal", "mixed", "gaps"):
        for dev in ("ideal", "bmi160", "icm42688p"):
            row = res["throughput"][f"{corpus} {dev}"]
            assert row["clips"] == 6 and _finite_positive(row["clips_per_s"])
            if "max_diff_previous" in row:  # the previous implementation read from git history
                assert row["max_diff_previous"] < 1e-8 and _finite_positive(row["vs_previous"])
        if corpus != "gaps":  # (the naive simulator ignores tracking)
            assert _finite_positive(res["throughput"][f"{corpus} ideal"]["vs_naive"])
    gaps = sim.gapped_motions(sim.mixed_motions(sim.make_motions(20)))
    assert sum(not m.valid.all() for m in gaps) >= 10  # most clips have frames to fill
    assert set(res["per_call"]) >= {1, 10, 100} and set(res["length"]) == {2, 10, 60}
    assert all(_finite_positive(v) for row in res["length"].values() for v in row.values())
    assert _finite_positive(res["memory"][6]["simulate_iter_mb"])
    assert "clips per call" in out and "clip length" in out


def test_simulate_speed_motions_keep_bone_lengths():
    sim = _load("simulate_speed")
    [m] = sim.make_motions(1)
    assert m.positions.shape == (300, 10, 3) and m.fps == pytest.approx(30.0)
    for side in ("left", "right"):
        upper = np.linalg.norm(m.joint(f"{side}_elbow") - m.joint(f"{side}_shoulder"), axis=1)
        fore = np.linalg.norm(m.joint(f"{side}_wrist") - m.joint(f"{side}_elbow"), axis=1)
        np.testing.assert_allclose(upper, sim.UPPER_ARM_M, rtol=1e-12)
        np.testing.assert_allclose(fore, sim.FOREARM_M, rtol=1e-12)


# ---------------------------------------------------------------- build_speed

def test_build_speed_corpus_is_exact_ntu_format():
    bs = _load("build_speed")
    rng = np.random.default_rng(1)
    text = bs.skeleton_file(rng, action=50, frames=(40, 40)).decode("latin-1")
    assert text.endswith("\r\n")
    sk = ntu.parse_skeleton(text)
    assert sk.num_frames == 40 and len(np.unique(sk.body_id)) == 2  # A050 is a mutual action
    assert sk.xyz.shape == (80, 25, 3) and (sk.xyz[..., 2] > 2.0).all()
    lines = text.split("\r\n")
    assert len(lines[4].split()) == 12 and lines[3] == "25" and len(lines[2].split()) == 10


def test_build_speed_runs_end_to_end(tmp_path, capsys):
    bs = _load("build_speed")
    res = bs.main(["--files", "5", "--frames", "30", "40", "--num-proc", "1",
                   "--workdir", str(tmp_path)])
    out = capsys.readouterr().out
    build = res["builds"][1]
    assert res["files"] == 5 and build["rows"] >= 5 and res["clips"] == build["rows"]
    for key in ("parse_mb_per_s", "simulate_clips_per_s", "parse_cpu_ms_per_file"):
        assert _finite_positive(res[key])
    for key in ("clips_per_s", "mb_per_s", "cpu_ms_per_file", "finalize_s"):
        assert _finite_positive(build[key])
    assert build["wall_s"] > build["finalize_s"]
    phases = build["fresh"]["phases_s"]  # (the fresh build's wall seconds by phase)
    assert list(phases) == ["start-up", "chunks", "instruction pass", "finalize"]
    assert all(v >= 0 for v in phases.values()) and sum(phases.values()) <= build["fresh"]["wall_s"]
    assert phases["chunks"] > 0 and phases["finalize"] > 0
    assert "cutoff 4.0 Hz" in out  # the NTU build's own cutoff (Kinect v2), not the default
    assert "NTU-120 (114480 samples)" in out
    assert list(tmp_path.iterdir()) == []  # the corpus and dataset were removed
    half = build["fresh_half"]  # the fresh build of half the corpus, for the fixed/per-file split
    assert half["rows"] < build["fresh"]["rows"] and _finite_positive(half["main_rss_mb"])
    assert "per added file" in out and set(build["scaling"]) >= {"cpu_ms_per_file", "ntu120_s"}


def test_build_speed_full_size_links_and_scaling(tmp_path):
    bs = _load("build_speed")
    paths = bs.write_corpus(tmp_path / "src", 3, frames=(30, 30))
    assert bs.link_corpus(paths, tmp_path / "full", 7) == 3
    links = sorted((tmp_path / "full").iterdir())
    assert len(links) == 7 and len({p.name for p in links}) == 7
    for p in links:  # a hard link to a written file, under an NTU name with that file's action
        src = next(q for q in paths if q.stat().st_ino == p.stat().st_ino)
        assert ntu.FILE_RE.fullmatch(p.name[:20]) and p.name[16:20] == src.name[16:20]
    assert sorted(p.stat().st_nlink for p in paths) == [3, 3, 4]
    # fixed + per-file cost from two sizes: 100 files 10 s wall / 12 CPU-s, 200 files 15 / 20
    sc = bs.scaling({"wall_s": 10.0, "cpu_s": 12.0}, {"wall_s": 15.0, "cpu_s": 20.0}, 100, 200)
    assert sc["wall_ms_per_file"] == pytest.approx(50) and sc["cpu_ms_per_file"] == pytest.approx(80)
    assert sc["wall_fixed_s"] == pytest.approx(5) and sc["cpu_fixed_s"] == pytest.approx(4)
    assert sc["ntu120_s"] == pytest.approx(5 + 114_480 * 0.05)
    # the larger build faster than the smaller one (noise): no extrapolation, not a negative time
    assert np.isnan(bs.scaling({"wall_s": 9.0, "cpu_s": 12.0}, {"wall_s": 8.1, "cpu_s": 13.0}, 300, 600)["ntu120_s"])


def test_build_speed_times_a_previous_reader_clip_for_clip(tmp_path):
    """``--previous-reader``: ntu.py at a commit loads beside today's and its clips are compared
    byte for byte (a clip changed in its last bit is told apart)."""
    bs = _load("build_speed")
    prev = bs.load_previous_reader("HEAD")
    if prev is None:
        pytest.skip("no git history in this checkout")
    assert prev is not ntu and prev.parse_skeleton_bytes is not ntu.parse_skeleton_bytes
    paths = bs.write_corpus(tmp_path, 3, frames=(30, 40))
    for p in paths:
        data = p.read_bytes()
        assert bs._same_clips(list(ntu.read(p, data=data)), list(prev.read(p, data=data)))
    a, b = (list(ntu.read(paths[0], data=paths[0].read_bytes())) for _ in range(2))
    pos = b[0].motion.positions
    t, j, c = np.argwhere(np.isfinite(pos))[0]
    pos[t, j, c] = np.nextafter(pos[t, j, c], np.inf)
    assert not bs._same_clips(a, b)


# ---------------------------------------------------------------- tstr

def test_tstr_without_data_exits_cleanly(tmp_path, capsys):
    tstr = _load("tstr")
    assert tstr.main(["--data", str(tmp_path / "absent")]) is None
    assert "is absent" in capsys.readouterr().out


def test_tstr_classifier_and_metrics_known_values():
    tstr = _load("tstr")
    # macro-F1 by hand: class 0 F1 = 2*1/(2+1) = 2/3, class 1 F1 = 2*1/(1+2) = 2/3
    assert tstr.macro_f1(np.array([0, 0, 1]), np.array([0, 1, 1])) == pytest.approx(2 / 3)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-3, 1, (40, 2)), rng.normal(3, 1, (40, 2))])
    y = np.repeat([0, 1], 40)
    assert (tstr.train_predict(x, y, np.array([[-3.0, -3.0], [3.0, 3.0]]), 2) == [0, 1]).all()
    assert (tstr.rf_predict(x, y, np.array([[-3.0, -3.0], [3.0, 3.0]])) == [0, 1]).all()
    f = tstr.features(np.tile([0.0, 0.0, -8.0, 0.0, 0.0, 0.5], (50, 1)))
    stats = f.reshape(len(tstr.CHANNELS), len(tstr.STATS))  # (channel, statistic)
    assert stats[2, 0] == -8.0 and stats[6, 0] == 8.0 and stats[6, 2] == 8.0  # az mean, |a| mean, min
    assert stats[7, 9] == 0.25 and np.all(stats[:, 1] == 0) and np.all(stats[:, 10] == 0)


def _utd_fixture(root: Path) -> None:
    """UTD-MHAD files: a1, a2 x s1 (train), s2 (test) x t1, t2; arm motions from simulate_speed."""
    sim = _load("simulate_speed")
    (root / "Skeleton").mkdir(parents=True)
    (root / "Inertial").mkdir()
    motions = sim.make_motions(8, duration_s=3.0)
    names = JOINT_SETS["utd_mhad"]
    k = 0
    for a in (1, 2):
        for s in (1, 2):
            for t in (1, 2):
                world = np.tile([3.0, 0.0, 1.0], (90, len(names), 1))
                for j, name in enumerate(sim.JOINTS):
                    if name not in names:  # Kinect v1 has no thumb
                        continue
                    world[:, names.index(name)] = motions[k].positions[:, j] + [3.0, 0.0, 0.0]
                cam = world[..., [1, 2, 0]]  # camera (x, y, z) = world (y, z, x)
                scipy.io.savemat(root / "Skeleton" / f"a{a}_s{s}_t{t}_skeleton.mat",
                                 {"d_skel": np.moveaxis(cam, 0, 2)})
                iner = np.random.default_rng(k).normal(0, 0.1, (150, 6)) + [0, 0, 1, 0, 0, 0]
                scipy.io.savemat(root / "Inertial" / f"a{a}_s{s}_t{t}_inertial.mat", {"d_iner": iner})
                k += 1


def test_tstr_runs_on_a_tiny_utd_mhad_folder(tmp_path, capsys):
    tstr = _load("tstr")
    data = tmp_path / "data"
    _utd_fixture(data / "utd_mhad" / "data")
    res = tstr.main(["--data", str(data), "--workdir", str(tmp_path / "work")])
    out = capsys.readouterr().out
    assert "smartfallmm/young is absent: SmartFallMM skipped" in out
    [task] = res.values()
    for feats in ("all", "|a|,|g|"):
        r = task[feats]
        assert r["classes"] == 2 and r["test_clips"] == 4 and r["chance_uniform"] == 0.5
        assert r["classifier"] == "rf"  # the reference classifier of issue 12 by default
        assert r["protocol"].endswith("test on s2")
        for name in ("TSTR", "TRTR"):
            assert 0 <= r[name]["accuracy"] <= 1 and 0 <= r[name]["macro_f1"] <= 1
        assert r["TSTR"]["train_clips_per_fold"] == 4 and r["TRTR"]["train_clips_per_fold"] == 4
    assert list((tmp_path / "work").iterdir()) == []


def test_synthetic_skeleton_fixture_reads_back(tmp_path):
    """The tstr fixture is real UTD-MHAD format: the reader recovers the arm joints."""
    from imu2safety.builders.sources import utd_mhad

    _utd_fixture(tmp_path)
    [clip] = list(utd_mhad.read(tmp_path / "Skeleton" / "a1_s1_t1_skeleton.mat"))
    assert isinstance(clip, Clip) and clip.subject == "s1" and clip.split == "train"
    sim = _load("simulate_speed")
    m = sim.make_motions(8, duration_s=3.0)[0]  # the fixture's first clip
    np.testing.assert_allclose(clip.motion.joint("right_wrist"), m.joint("right_wrist") + [3.0, 0, 0])
    assert clip.motion.timestamps[-1] == pytest.approx(89 * 3.0 / 90)  # 150 samples / 50 Hz over 90 frames
