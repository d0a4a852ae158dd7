"""WEDA-FALL reader: ``50Hz/<code>/Uxx_Ryy_*.csv`` and ``fall_timestamps.csv`` fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imu2safety.builders.sources import weda_fall as weda
from imu2safety.builders.labels import lookup
from imu2safety.builders.records import Clip, Skip

A_ACC, B_ACC = np.array([-9.0, 1.5, 2.0]), np.array([0.5, -1.0, 0.25])     # m/s^2, m/s^3
A_GYR, B_GYR = np.array([0.5, -0.25, 0.0]), np.array([1.0, 0.5, -2.0])     # rad/s, rad/s^2


def ramp(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[None, :] + np.asarray(t, dtype=float)[:, None] * b[None, :]


def bursty(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(stamps, true times) of n samples every 20 ms logged as the real files are: bursts of five
    every 100 ms, stamped 1 ms apart and ending at the burst's last sample time."""
    k = np.arange(n)
    burst = np.ceil(k / 5)
    return np.round(0.1 * burst - (5 * burst - k) * 0.001, 3), k * 0.02


def write_csv(path: Path, kind: str, stamps, values, order=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{kind}_time_list,{kind}_x_list,{kind}_y_list,{kind}_z_list"]
    rows += [f"{t!r},{v[0]!r},{v[1]!r},{v[2]!r}" for t, v in zip(stamps.tolist(), values.tolist())]
    if order is not None:
        rows = rows[:1] + [rows[1:][i] for i in order]
    path.write_text("\n".join(rows) + "\n")
    return path


def write_trial(root: Path, code: str = "F01", stem: str = "U01_R01", n: int = 201,
                order=None) -> Path:
    stamps, true = bursty(n)
    folder = root / "50Hz" / code
    write_csv(folder / f"{stem}_gyro.csv", "gyro", stamps, ramp(true, A_GYR, B_GYR))
    return write_csv(folder / f"{stem}_accel.csv", "accel", stamps, ramp(true, A_ACC, B_ACC), order)


def write_falls(root: Path, rows: str = "F01/U01_R01,1.5,2.5\r\n") -> None:
    (root / "fall_timestamps.csv").write_bytes(
        ("\ufefffilename,start_time,end_time\r\n" + rows).encode("utf-8"))


def items(path: Path, **options) -> list:
    return list(weda.read(path, **options))


def test_bursty_streams_resample_to_exact_ramps_with_fall_times(tmp_path):
    write_falls(tmp_path)
    [clip] = items(write_trial(tmp_path))
    assert isinstance(clip, Clip)
    grid = np.arange(201) * 0.02                        # 0 .. 4 s at 50 Hz
    assert clip.imu.shape == (201, 6) and clip.sample_rate_hz == 50.0
    np.testing.assert_allclose(clip.imu[:, :3], ramp(grid, A_ACC, B_ACC), rtol=0, atol=1e-9)
    np.testing.assert_allclose(clip.imu[:, 3:], ramp(grid, A_GYR, B_GYR), rtol=0, atol=1e-9)
    assert clip.extra["start_s"] == 0.0
    assert clip.extra["fall_start_s"] == 1.5 and clip.extra["fall_end_s"] == 2.5
    assert clip.extra["file"] == "F01/U01_R01"
    assert clip.extra["corrupt_rows"] == {"accelerometer": 0, "gyroscope": 0}


def test_bursts_written_out_of_order_are_sorted(tmp_path):
    write_falls(tmp_path)
    order = list(range(201))
    order[11:16], order[16:21] = order[16:21], order[11:16]     # two bursts swapped
    [clip] = items(write_trial(tmp_path, order=order))
    [plain] = items(write_trial(tmp_path, stem="U01_R02"))
    assert np.array_equal(clip.imu, plain.imu)


def test_ids_labels_splits_and_device(tmp_path):
    cases = {("D07", "U01_R02"): ("validation", "losing_balance"),
             ("F06", "U05_R01"): ("test", "fainting"),
             ("D10", "U02_R03"): ("train", "none"),
             ("D01", "U21_R01"): ("validation", "none")}
    for (code, stem), (split, hazard) in cases.items():
        [clip] = items(write_trial(tmp_path, code, stem))
        assert clip.id == f"{code}_{stem}" and clip.subject == stem[:3]
        assert clip.source == "weda-fall" and clip.source_label == code
        assert clip.split == split and lookup("weda-fall", code).hazard == hazard
        assert clip.placement == "left_wrist" and clip.device == "fitbit_sense"
        if code.startswith("F"):      # no fall_timestamps.csv here: the marks are unknown
            assert clip.extra["fall_start_s"] is None and clip.extra["fall_end_s"] is None
        else:
            assert "fall_start_s" not in clip.extra


def test_bad_trials_are_skipped_with_reasons(tmp_path):
    missing = write_trial(tmp_path, "D01", "U01_R01")
    missing.with_name("U01_R01_gyro.csv").unlink()
    empty = write_trial(tmp_path, "D01", "U01_R02")
    empty.with_name("U01_R02_gyro.csv").write_text("")
    header_only = write_trial(tmp_path, "D01", "U01_R03")
    header_only.write_text("accel_time_list,accel_x_list,accel_y_list,accel_z_list\n")
    wrong = write_trial(tmp_path, "D01", "U02_R01")
    wrong.write_text("time,x,y,z\n0,1,2,3\n")
    short = write_trial(tmp_path, "D01", "U02_R02", n=21)
    unmapped = write_trial(tmp_path, "D12", "U01_R01")
    expect = {
        missing: "gyro file U01_R01_gyro.csv is missing",
        empty: "gyro file U01_R02_gyro.csv is empty",
        header_only: "accelerometer has 0 valid sample(s); need at least 2",
        wrong: "accel file U02_R01_accel.csv lacks column(s) ['accel_time_list'",
        short: "accelerometer and gyroscope overlap for only 0.40 s",
        unmapped: "unmapped label 'D12'",
    }
    for path, reason in expect.items():
        [skip] = items(path)
        assert isinstance(skip, Skip) and skip.input == str(path)
        assert skip.reason.startswith(reason)


def test_list_inputs_takes_accel_files_only(tmp_path):
    write_trial(tmp_path, "F01", "U02_R01")
    write_trial(tmp_path, "D01", "U01_R01")
    vertical = tmp_path / "50Hz" / "D01" / "U01_R01_vertical_accel.csv"
    vertical.write_text("vertical_Accel_x,vertical_Accel_y,vertical_Accel_z,accel_time_list\n")
    expect = ["D01/U01_R01_accel.csv", "F01/U02_R01_accel.csv"]
    for root in (tmp_path, tmp_path / "50Hz"):
        assert [f"{p.parent.name}/{p.name}" for p in weda.list_inputs(root)] == expect
    with pytest.raises(FileNotFoundError, match="50Hz"):
        weda.list_inputs(tmp_path / "50Hz" / "D01")


def test_real_trials(shared_data):
    root = shared_data / "weda_fall" / "dataset"
    [walk] = items(root / "50Hz" / "D01" / "U01_R01_accel.csv")
    assert abs(np.median(np.linalg.norm(walk.imu[:, :3], axis=1)) - 9.80665) < 0.98
    [fall] = items(root / "50Hz" / "F01" / "U01_R01_accel.csv")
    assert np.isfinite(fall.imu).all() and fall.sample_rate_hz == 50.0
    # fall_timestamps.csv marks 4.7-7.7 s on the file clock
    assert fall.extra["fall_start_s"] == pytest.approx(4.7 - fall.extra["start_s"], abs=1e-6)
    assert fall.extra["fall_end_s"] - fall.extra["fall_start_s"] == pytest.approx(3.0)
    # the fall itself: the largest |accel| lies within the marked interval
    peak_s = np.argmax(np.linalg.norm(fall.imu[:, :3], axis=1)) / 50.0
    assert fall.extra["fall_start_s"] <= peak_s <= fall.extra["fall_end_s"]
