"""UP-Fall reader: a ``CompleteDataSet.csv`` fixture with the two-row header of the release."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from imu2safety.builders.sources import up_fall
from imu2safety.builders.labels import lookup
from imu2safety.builders.records import Clip, Skip

G = 9.80665
A_ACC, B_ACC = np.array([-1.0, 0.5, 0.25]), np.array([0.5, -0.25, 1.0])           # g, g/s
A_GYR, B_GYR = np.array([180.0, -90.0, 45.0]), np.array([-36.0, 72.0, 18.0])      # deg/s, deg/s^2
BASE = datetime(2018, 7, 4, 12, 4, 17)


def header() -> tuple[list[str], list[str]]:
    names, units = ["TimeStamps"], ["Time"]
    for place in ("Ankle", "RightPocket", "Belt", "Neck", "Wrist"):
        names += [f"{place}Accelerometer", "", "", f"{place}AngularVelocity", "", "",
                  f"{place}Luminosity"]
        units += [f"{a}-axis (g)" for a in "xyz"] + [f"{a}-axis (deg/s)" for a in "xyz"]
        units += ["illuminance (lx)"]
    names += ["BrainSensor"] + [f"Infrared{i}" for i in range(1, 7)]
    units += ["raw"] + ["value"] * 6
    names += ["Subject", "Activity", "Trial", "Tag"]
    units += ["", "", "", ""]
    return names, units


def rows(subject: int, activity: int, trial: int, n: int = 41,
         start_s: float = 0.0) -> list[list[str]]:
    """n rows 50 ms apart; wrist channels are ramps in time, other sensors filler."""
    out = []
    for k in range(n):
        t = k * 0.05
        stamp = (BASE + timedelta(seconds=start_s + t)).isoformat(timespec="microseconds")
        acc = A_ACC + t * B_ACC
        gyr = A_GYR + t * B_GYR
        row = [stamp] + ["0.5"] * 28 + [repr(float(v)) for v in (*acc, *gyr)]
        row += ["12.0", "0", *["1"] * 6, str(subject), str(activity), str(trial), str(activity)]
        out.append(row)
    return out


def write(path: Path, body: list[list[str]], names=None, units=None) -> Path:
    n, u = header()
    lines = [names or n, units or u] + body
    path.write_text("\n".join(",".join(r) for r in lines) + "\n")
    return path


def dataset(tmp_path: Path) -> Path:
    body = rows(1, 1, 1) + rows(1, 11, 2, start_s=60) + rows(15, 6, 1, start_s=120)
    body += rows(13, 20, 1, start_s=180)
    return write(tmp_path / "CompleteDataSet.csv", body)


def items(path: Path, **options) -> list:
    return list(up_fall.read(path, **options))


def test_layout_matches_the_public_column_indices(tmp_path):
    lay = up_fall.layout(write(tmp_path / "c.csv", []))
    assert lay.acc == (29, 30, 31) and lay.gyro == (32, 33, 34)
    assert lay.keys == (43, 44, 45) and lay.time == 0


def test_trials_become_clips_with_si_units_and_exact_resampling(tmp_path):
    out = items(dataset(tmp_path), rate_hz=10.0)
    clips = [c for c in out if isinstance(c, Clip)]
    assert [c.id for c in clips] == ["S01A01T01", "S01A11T02", "S15A06T01"]
    grid = np.arange(21) / 10.0                                  # 0 .. 2 s
    for clip in clips:
        assert clip.imu.shape == (21, 6) and clip.sample_rate_hz == 10.0
        np.testing.assert_allclose(clip.imu[:, :3], G * (A_ACC + grid[:, None] * B_ACC),
                                   rtol=0, atol=1e-9)
        np.testing.assert_allclose(clip.imu[:, 3:], np.deg2rad(A_GYR + grid[:, None] * B_GYR),
                                   rtol=0, atol=1e-9)
    assert clips[0].imu[0, 3] == np.pi                            # 180 deg/s
    assert clips[0].imu[0, 0] == -G                               # -1 g
    assert clips[1].extra["start_time"] == "2018-07-04T12:05:17.000000"
    [skip] = [s for s in out if isinstance(s, Skip)]
    assert skip == Skip(f"{tmp_path / 'CompleteDataSet.csv'}:S13A20T01", "unmapped label '20'")


def test_labels_splits_and_placement(tmp_path):
    clips = {c.id: c for c in items(dataset(tmp_path)) if isinstance(c, Clip)}
    first = clips["S01A01T01"]
    assert first.subject == "S01" and first.source == "up-fall" and first.source_label == "1"
    assert first.split == "train" and lookup("up-fall", "1").hazard == "falling"
    assert clips["S15A06T01"].split == "test" and clips["S01A11T02"].source_label == "11"
    assert first.placement == "left_wrist" and first.device == "mbientlab_metasensor"
    assert first.sample_rate_hz == 18.0


def test_small_chunks_and_interleaved_rows_give_the_same_clips(tmp_path):
    whole = [c for c in items(dataset(tmp_path)) if isinstance(c, Clip)]
    a, b = rows(1, 1, 1), rows(1, 11, 2, start_s=60)
    mixed = [r for pair in zip(a, b) for r in pair] + rows(15, 6, 1, start_s=120)
    path = write(tmp_path / "mixed.csv", mixed[::-1])
    chunked = [c for c in items(path, chunk_rows=7) if isinstance(c, Clip)]
    assert [c.id for c in chunked] == [c.id for c in whole]
    for x, y in zip(whole, chunked):
        assert np.array_equal(x.imu, y.imu)


def test_bad_cells_and_rows_are_counted(tmp_path):
    body = rows(1, 1, 1)
    body[5][29] = ""                 # wrist accel x missing
    body[6][0] = "not a time"        # no timestamp: lost by both streams
    body[7][43] = ""                 # no subject
    [skip, clip] = items(write(tmp_path / "CompleteDataSet.csv", body), rate_hz=10.0)
    assert skip.reason == "1 row(s) without a valid Subject/Activity/Trial"
    assert clip.extra["corrupt_rows"] == {"accelerometer": 2, "gyroscope": 1}
    grid = np.arange(21) / 10.0
    np.testing.assert_allclose(clip.imu[:, :3], G * (A_ACC + grid[:, None] * B_ACC),
                               rtol=0, atol=1e-9)


def test_bad_files_are_skipped(tmp_path):
    names, units = header()
    bad_units = list(units)
    bad_units[32:35] = ["x-axis (rad/s)", "y-axis (rad/s)", "z-axis (rad/s)"]
    no_subject = [n if n != "Subject" else "Person" for n in names]
    cases = {
        write(tmp_path / "u.csv", rows(1, 1, 1), units=bad_units): "expected units (deg/s)",
        write(tmp_path / "s.csv", rows(1, 1, 1), names=no_subject): "not an UP-Fall",
        write(tmp_path / "e.csv", []): "no data rows",
        write(tmp_path / "short.csv", rows(1, 1, 1, n=10)): "accelerometer and gyroscope overlap",
    }
    for path, reason in cases.items():
        [skip] = items(path)
        assert isinstance(skip, Skip) and reason in skip.reason


def test_list_inputs_finds_csvs_with_the_wrist_header(tmp_path):
    data = dataset(tmp_path)
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    assert up_fall.list_inputs(tmp_path) == [data]
    assert up_fall.list_inputs(data) == [data]
