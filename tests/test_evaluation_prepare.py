"""``benchmark prepare`` on fixtures written in each source's exact on-disk format."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from imu2safety.cli import main
from imu2safety.evaluation.prepare import prepare
from imu2safety.evaluation.tasks import load_windows, read_labels, read_manifest

G = 9.80665
ACC0, ACC1 = np.array([-9.0, 1.5, 2.0]), np.array([0.5, -1.0, 0.25])    # m/s^2 and m/s^3
GYR0, GYR1 = np.array([0.5, -0.25, 0.0]), np.array([1.0, 0.5, -2.0])    # rad/s and rad/s^2


def ramp(t, a, b):
    return a[None, :] + np.asarray(t, dtype=float)[:, None] * b[None, :]


# ---------------------------------------------------------------- WEDA-FALL

def weda_trial(root: Path, code: str, stem: str, n: int) -> None:
    """``50Hz/<code>/<stem>_{accel,gyro}.csv``, logged as the Fitbit does: bursts of five samples
    every 100 ms stamped 1 ms apart, true sample times k * 20 ms."""
    k = np.arange(n)
    burst = np.ceil(k / 5)
    stamps, true = np.round(0.1 * burst - (5 * burst - k) * 0.001, 3), k * 0.02
    folder = root / "50Hz" / code
    folder.mkdir(parents=True, exist_ok=True)
    for kind, (a, b) in (("accel", (ACC0, ACC1)), ("gyro", (GYR0, GYR1))):
        rows = [f"{kind}_time_list,{kind}_x_list,{kind}_y_list,{kind}_z_list"]
        rows += [f"{t!r},{v[0]!r},{v[1]!r},{v[2]!r}" for t, v in zip(stamps.tolist(),
                                                                   ramp(true, a, b).tolist())]
        (folder / f"{stem}_{kind}.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture
def weda(tmp_path) -> Path:
    root = tmp_path / "weda"
    weda_trial(root, "F01", "U05_R01", 401)      # 8 s, test user (5 mod 5 = 0)
    weda_trial(root, "F06", "U02_R01", 401)      # train user
    weda_trial(root, "D01", "U05_R01", 301)      # 6 s walking
    weda_trial(root, "D07", "U05_R01", 226)      # 4.5 s stumble
    weda_trial(root, "D10", "U02_R01", 60)       # 1.2 s: shorter than half a window
    (root / "fall_timestamps.csv").write_bytes(
        "\ufefffilename,start_time,end_time\r\nF01/U05_R01,3.0,6.0\r\nF06/U02_R01,1.0,4.0\r\n"
        .encode("utf-8"))
    return root


def test_weda_fall_windows_are_event_centred_and_d07_is_not_a_fall(weda, tmp_path):
    out = tmp_path / "bench"
    res = prepare("fall-weda", weda, out)
    assert res.subjects == {"test": ["U05"], "train": ["U02"]}
    w = load_windows(out, "test")
    # fall marked 3.0-6.0 s -> one 3 s window centred on 4.5 s: samples 150..299
    falls = w.ids[w.labels == "fall"].tolist()
    assert falls == ["F01_U05_R01@+00150"]
    np.testing.assert_allclose(w.imu[w.labels == "fall"][0][:, :3],
                               ramp(np.arange(150, 300) * 0.02, ACC0, ACC1), atol=1e-4)
    # walking 6 s: windows at 0, 1.5, 3 s; the 4.5 s stumble: 0 and 1.5 s; both not_fall
    assert w.ids[w.trials == "D01_U05_R01"].tolist() == [f"D01_U05_R01@+{s:05d}" for s in (0, 75, 150)]
    assert set(w.labels[w.trials == "D07_U05_R01"]) == {"not_fall"} and (w.trials == "D07_U05_R01").sum() == 2
    assert w.imu.dtype == np.float32 and w.imu.shape[1:] == (150, 6) and w.sample_rate_hz == 50.0
    labels = read_labels(out)
    assert [x["id"] for x in labels] == w.ids.tolist() and {x["subject"] for x in labels} == {"U05"}
    manifest = read_manifest(out)
    assert manifest["task"] == "fall-weda" and manifest["protocol_version"] and manifest["window_s"] == 3.0
    # daily activity: D01 (3 windows covering 6 s) + D07 (4.5 s) = 10.5 s
    assert manifest["splits"]["test"]["daily_activity_s"] == pytest.approx(10.5)
    train = load_windows(out, "train")
    assert train.ids.tolist() == ["F06_U02_R01@+00050"]  # 1-4 s marked; D10 too short: skipped
    assert any("shorter than" in reason for _, reason in res.skipped)


def test_weda_hazard_task_keeps_fainting_and_losing_balance(weda, tmp_path):
    prepare("hazard-weda", weda, tmp_path / "b", test_subjects=["U02", "U05"])
    w = load_windows(tmp_path / "b")
    assert dict(zip(*np.unique(w.labels, return_counts=True))) == {
        "fainting": 1, "falling": 1, "losing_balance": 2, "none": 3}


# ---------------------------------------------------------------- SmartFallMM watch

def sfm_lines(ms, values) -> str:
    base = datetime(2023, 5, 1, 10, 0, 0)
    return "".join(f"{(base + timedelta(milliseconds=int(t))).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]},"
                   f"{v[0]!r},{v[1]!r},{v[2]!r}\n" for t, v in zip(ms, values.tolist()))


def test_smartfallmm_watch_sliding_windows_with_trial_labels(tmp_path):
    root = tmp_path / "young"
    ms = np.arange(0, 4001, 20)
    for stem in ("S31A10T01", "S31A01T01", "S29A11T01"):
        for sensor, (a, b) in (("accelerometer", (ACC0, ACC1)), ("gyroscope", (GYR0, GYR1))):
            (root / sensor / "watch").mkdir(parents=True, exist_ok=True)
            (root / sensor / "watch" / f"{stem}.csv").write_text(sfm_lines(ms, ramp(ms / 1000, a, b)))
    assert main(["benchmark", "prepare", "fall-smartfallmm", "--input", str(root),
                 "--output", str(tmp_path / "b")]) == 0
    w = load_windows(tmp_path / "b")
    assert w.ids.tolist() == ["S31A01T01@+00000", "S31A10T01@+00000"]  # 4 s: one 3 s window each
    assert w.labels.tolist() == ["not_fall", "fall"]
    np.testing.assert_allclose(w.imu[1][:, 3:], ramp(np.arange(150) * 0.02, GYR0, GYR1), atol=1e-5)
    assert load_windows(tmp_path / "b", "train").subjects.tolist() == ["S29"]


# ---------------------------------------------------------------- UP-Fall

def upfall_csv(path: Path, trials: list[tuple[int, int, int]], n: int = 101) -> None:
    """CompleteDataSet.csv with the release's two-row header; rows every 50 ms."""
    names, units = ["TimeStamps"], ["Time"]
    for place in ("Ankle", "RightPocket", "Belt", "Neck", "Wrist"):
        names += [f"{place}Accelerometer", "", "", f"{place}AngularVelocity", "", "", f"{place}Luminosity"]
        units += [f"{a}-axis (g)" for a in "xyz"] + [f"{a}-axis (deg/s)" for a in "xyz"] + ["illuminance (lx)"]
    names += ["BrainSensor"] + [f"Infrared{i}" for i in range(1, 7)] + ["Subject", "Activity", "Trial", "Tag"]
    units += ["raw"] + ["value"] * 6 + [""] * 4
    lines = [",".join(names), ",".join(units)]
    base = datetime(2018, 7, 4, 12, 4, 17)
    for j, (s, a, tr) in enumerate(trials):
        for k in range(n):
            t = k * 0.05
            stamp = (base + timedelta(seconds=60 * j + t)).isoformat(timespec="microseconds")
            acc, gyr = ACC0 / G + t * ACC1 / G, np.degrees(GYR0 + t * GYR1)
            row = [stamp] + ["0.5"] * 28 + [repr(float(v)) for v in (*acc, *gyr)]
            row += ["12.0", "0", *["1"] * 6, str(s), str(a), str(tr), str(a)]
            lines.append(",".join(row))
    path.write_text("\n".join(lines) + "\n")


def test_upfall_fixture_in_the_release_format(tmp_path):
    upfall_csv(tmp_path / "CompleteDataSet.csv", [(15, 1, 1), (15, 6, 1), (2, 3, 1)])
    prepare("fall-upfall", tmp_path, tmp_path / "b")
    w = load_windows(tmp_path / "b")
    assert w.sample_rate_hz == 18.0 and w.imu.shape[1:] == (54, 6)
    # 5 s at 18 Hz = 91 samples: windows at 0 and 27 (1.5 s stride)
    assert w.ids.tolist() == ["S15A01T01@+00000", "S15A01T01@+00027", "S15A06T01@+00000",
                              "S15A06T01@+00027"]
    assert w.labels.tolist() == ["fall", "fall", "not_fall", "not_fall"]
    np.testing.assert_allclose(w.imu[1][:, :3], ramp((27 + np.arange(54)) / 18, ACC0, ACC1), atol=1e-4)


# ---------------------------------------------------------------- UTD-MHAD inertial

def test_utd_activity_windows_pad_short_clips_and_skip_thigh_actions(tmp_path):
    folder = tmp_path / "Inertial"
    folder.mkdir()
    t = np.arange(100) / 50.0
    d = np.concatenate([ramp(t, ACC0, ACC1) / G, np.degrees(ramp(t, GYR0, GYR1))], axis=1)
    for name in ("a3_s2_t1", "a5_s1_t1", "a23_s2_t1"):
        scipy.io.savemat(folder / f"{name}_inertial.mat", {"d_iner": d})
    res = prepare("activity-utd", tmp_path, tmp_path / "b")
    w = load_windows(tmp_path / "b")
    # 2 s clip in a 3 s window: centred, 25 samples repeated at each end; id carries the offset
    assert w.ids.tolist() == ["a3_s2_t1@-00025"] and w.labels.tolist() == ["right hand wave"]
    np.testing.assert_allclose(w.imu[0][:25, :3], np.repeat(ACC0[None], 25, 0), atol=1e-4)
    np.testing.assert_allclose(w.imu[0][25:125, :3], ramp(t, ACC0, ACC1), atol=1e-4)
    assert load_windows(tmp_path / "b", "train").labels.tolist() == ["right arm throw"]  # a5
    assert any("thigh" in r for _, r in res.skipped)
    with pytest.raises(ValueError, match=r"test subject\(s\) \['s9'\] have no window"):
        prepare("activity-utd", tmp_path, tmp_path / "c", test_subjects=["s9"])
    (folder / "a3_s2_t1_inertial.mat").unlink()
    with pytest.raises(ValueError, match="no window of a test subject"):
        prepare("activity-utd", tmp_path, tmp_path / "c")


def test_not_a_benchmark_folder_is_named(tmp_path):
    with pytest.raises(ValueError, match="not a benchmark folder"):
        load_windows(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"task": "fall-weda", "protocol_version": "0.1"}))
    with pytest.raises(ValueError, match="prepare it again"):
        load_windows(tmp_path)
