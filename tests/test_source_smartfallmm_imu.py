"""SmartFallMM watch reader: headerless ``time,x,y,z`` CSV fixtures in both sensor folders."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from imu2safety.builders.sources import smartfallmm_imu as sf
from imu2safety.builders.labels import lookup
from imu2safety.builders.records import Clip, Skip

BASE = datetime(2022, 8, 4, 11, 24, 2)
A_ACC, B_ACC = np.array([1.0, -9.5, 0.25]), np.array([0.5, 2.0, -1.0])      # m/s^2, m/s^3
A_GYR, B_GYR = np.array([0.125, 0.0, -0.5]), np.array([-0.25, 1.5, 0.75])   # rad/s, rad/s^2


def ramp(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[None, :] + np.asarray(t, dtype=float)[:, None] * b[None, :]


def lines(stamps_ms, values) -> list[str]:
    out = []
    for ms, v in zip(stamps_ms, values):
        stamp = (BASE + timedelta(milliseconds=int(ms))).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        out.append(f"{stamp},{float(v[0])!r},{float(v[1])!r},{float(v[2])!r}")
    return out


def write(root: Path, sensor: str, stem: str, text_lines: list[str] | None) -> Path:
    folder = root / sensor / "watch"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.csv"
    path.write_text("" if text_lines is None else "\n".join(text_lines) + "\n")
    return path


def write_trial(root: Path, stem: str = "S29A10T02", acc_ms=None, gyr_ms=None,
                acc_extra: list[str] | None = None) -> Path:
    """Accelerometer 40 Hz over 0-3 s and gyroscope 50 Hz over 0.5-3.5 s, both linear ramps."""
    acc_ms = np.arange(0, 3001, 25) if acc_ms is None else acc_ms
    gyr_ms = np.arange(500, 3501, 20) if gyr_ms is None else gyr_ms
    acc = lines(acc_ms, ramp(np.asarray(acc_ms) / 1000, A_ACC, B_ACC))
    write(root, "gyroscope", stem, lines(gyr_ms, ramp(np.asarray(gyr_ms) / 1000, A_GYR, B_GYR)))
    return write(root, "accelerometer", stem, (acc_extra or []) + acc)


def items(path: Path, **options) -> list:
    return list(sf.read(path, **options))


def test_joins_streams_on_their_common_span_and_resamples_ramps_exactly(tmp_path):
    [clip] = items(write_trial(tmp_path), rate_hz=20.0)
    assert isinstance(clip, Clip)
    grid = 0.5 + np.arange(51) / 20.0                       # 0.5 .. 3.0 s
    assert clip.imu.shape == (51, 6) and clip.sample_rate_hz == 20.0
    np.testing.assert_allclose(clip.imu[:, :3], ramp(grid, A_ACC, B_ACC), rtol=0, atol=1e-9)
    np.testing.assert_allclose(clip.imu[:, 3:], ramp(grid, A_GYR, B_GYR), rtol=0, atol=1e-9)
    assert clip.extra["start_time"] == "2022-08-04T11:24:02.500"
    assert clip.extra["corrupt_rows"] == {"accelerometer": 0, "gyroscope": 0}
    assert clip.extra["source_rate_hz"] == {"accelerometer": 40.0, "gyroscope": 50.0}


def test_ids_labels_splits_and_placement(tmp_path):
    [clip] = items(write_trial(tmp_path))
    assert clip.id == "S29A10T02" and clip.subject == "S29" and clip.source == "smartfallmm-imu"
    assert clip.source_label == "A10" and lookup("smartfallmm-imu", "A10").hazard == "falling"
    assert clip.split == "train" and clip.placement == "left_wrist"
    assert clip.sample_rate_hz == 50.0 and len(clip.imu) == 126      # default 50 Hz, 2.5 s
    for stem, split in (("S30A01T01", "validation"), ("S31A01T01", "test")):
        [clip] = items(write_trial(tmp_path, stem))
        assert clip.split == split and clip.id == stem


def test_bursts_are_retimed_to_the_sample_clock(tmp_path):
    # samples every 25 ms, logged in pairs: samples 2i-1 and 2i stamped 1 ms apart at the time
    # of sample 2i
    k = np.arange(0, 121)
    stamps = 50 * np.ceil(k / 2) - (k % 2)
    acc = lines(stamps, ramp(k * 0.025, A_ACC, B_ACC))
    write(tmp_path, "gyroscope", "S29A10T02",
          lines(np.arange(0, 3001, 20), ramp(np.arange(0, 3001, 20) / 1000, A_GYR, B_GYR)))
    [clip] = items(write(tmp_path, "accelerometer", "S29A10T02", acc), rate_hz=20.0)
    grid = np.arange(61) / 20.0
    np.testing.assert_allclose(clip.imu[:, :3], ramp(grid, A_ACC, B_ACC), rtol=0, atol=1e-9)


def test_corrupt_rows_are_dropped_and_counted(tmp_path):
    junk = ["0.2185789,-0.51653004,0.0024422223,Unnamed: 3",
            "2022-08-04 11:24:02.010,0.01099,0.008547778,0.008547778.1",
            "2022-08-04 11:24:02.012,1,2,3,4"]
    [clip] = items(write_trial(tmp_path, acc_extra=junk), rate_hz=20.0)
    assert clip.extra["corrupt_rows"] == {"accelerometer": 3, "gyroscope": 0}
    grid = 0.5 + np.arange(51) / 20.0
    np.testing.assert_allclose(clip.imu[:, :3], ramp(grid, A_ACC, B_ACC), rtol=0, atol=1e-9)


def test_missing_empty_junk_and_short_trials_are_skipped(tmp_path):
    acc = write_trial(tmp_path, "S29A01T01")
    (tmp_path / "gyroscope" / "watch" / "S29A01T01.csv").unlink()
    empty = write_trial(tmp_path, "S29A01T02")
    write(tmp_path, "gyroscope", "S29A01T02", None)
    junk = write_trial(tmp_path, "S29A01T03")
    write(tmp_path, "gyroscope", "S29A01T03", ["0.2185789,-0.51653004,0.0024422223,Unnamed: 3"])
    short = write_trial(tmp_path, "S29A01T04", gyr_ms=np.arange(2500, 4001, 20))
    bad_label = write_trial(tmp_path, "S29A15T01")
    expect = {
        acc: "gyroscope file S29A01T01.csv is missing",
        empty: "gyroscope file S29A01T02.csv is empty",
        junk: "gyroscope has 0 valid sample(s) (1 corrupt row(s) dropped); need at least 2",
        short: "accelerometer and gyroscope overlap for only 0.50 s",
        bad_label: "unmapped label 'A15'",
    }
    for path, reason in expect.items():
        [skip] = items(path)
        assert isinstance(skip, Skip) and skip.input == str(path)
        assert skip.reason.startswith(reason)


def test_list_inputs_sorted_stems_from_root_or_parent(tmp_path):
    root = tmp_path / "young"
    for stem in ("S30A01T01", "S29A10T02", "S29A02T05"):
        write_trial(root, stem)
    expect = ["S29A02T05", "S29A10T02", "S30A01T01"]
    assert [p.stem for p in sf.list_inputs(root)] == expect
    assert [p.stem for p in sf.list_inputs(tmp_path)] == expect
    with pytest.raises(FileNotFoundError, match="accelerometer/watch"):
        sf.list_inputs(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="rate_hz must be positive"):
        items(root / "accelerometer" / "watch" / "S29A10T02.csv", rate_hz=0)


def test_real_trials(shared_data):
    folder = shared_data / "smartfallmm" / "young" / "accelerometer" / "watch"
    for stem in ("S36A11T03", "S30A03T01"):
        [clip] = items(folder / f"{stem}.csv")
        assert isinstance(clip, Clip) and clip.id == stem and np.isfinite(clip.imu).all()
        assert abs(np.median(np.linalg.norm(clip.imu[:, :3], axis=1)) - 9.80665) < 0.98
    [skip] = items(folder / "S29A01T01.csv")
    assert skip.reason == "gyroscope file S29A01T01.csv is missing"
    [skip] = items(folder / "S30A02T01.csv")
    assert skip.reason.startswith("gyroscope has 0 valid sample(s)")
