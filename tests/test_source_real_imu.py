"""Shared real-IMU helpers (builders/sources/imu_io.py): units, burst re-timing, spans, resampling."""

from __future__ import annotations

import numpy as np
import pytest

from imu2safety.builders.sources import imu_io
from imu2safety.builders.sources.imu_io import Stream, StreamError


def test_unit_conversions_are_exact():
    assert imu_io.g_to_ms2(np.array([1.0, -2.0])).tolist() == [9.80665, -19.6133]
    assert imu_io.deg_to_rad(np.array([180.0, -90.0])).tolist() == [np.pi, -np.pi / 2]


def test_clean_stream_sorts_and_counts_bad_rows():
    t = np.array([0.0, 2.0, 1.0, np.nan, 3.0])
    x = np.array([[0, 0, 0], [2, 2, 2], [1, 1, 1], [9, 9, 9], [np.inf, 0, 0]], dtype=float)
    s = imu_io.clean_stream(t, x, corrupt=1)
    assert s.t.tolist() == [0.0, 1.0, 2.0]
    assert s.x[:, 0].tolist() == [0.0, 1.0, 2.0]
    assert s.corrupt == 3


def test_retime_leaves_distinct_times_alone():
    t = np.array([0.0, 0.03, 0.07, 0.5])
    assert imu_io.retime_bursts(t, 0.0).tolist() == t.tolist()


def test_retime_spreads_bursts_at_the_estimated_period():
    # one sample, then bursts of 4 arriving every 0.5 s: the period is 1.0 s / 8 = 0.125 s
    t = np.array([0.0] + [0.5] * 4 + [1.0] * 4)
    assert imu_io.retime_bursts(t, 0.0).tolist() == [k * 0.125 for k in range(9)]


def test_retime_groups_near_arrivals_and_does_not_smear_over_a_dropout():
    near = [0.5 - 3 * 2**-10, 0.5 - 2**-9, 0.5 - 2**-10, 0.5]  # one burst, last at 0.5
    t = np.array([0.0] + near + [1.0] * 4 + [3.0] * 4)
    out = imu_io.retime_bursts(t, burst_gap_s=0.01)
    # period from the two normal intervals (1.0 s / 8); the burst after the 2 s gap is packed
    # at that period right before its arrival
    assert out.tolist() == [k * 0.125 for k in range(9)] + [2.625, 2.75, 2.875, 3.0]
    assert np.all(np.diff(out) > 0)


def test_retime_single_burst_needs_a_period():
    with pytest.raises(StreamError, match="one burst"):
        imu_io.retime_bursts(np.array([1.0, 1.0, 1.0]), 0.0)
    assert imu_io.retime_bursts(np.array([1.0, 1.0, 1.0]), 0.0, period_s=0.25).tolist() == [
        0.5, 0.75, 1.0]


def test_spans_and_longest_common_span():
    t = np.array([0.0, 0.25, 0.5, 2.0, 2.25, 4.0])
    spans = imu_io.covered_spans(t, max_gap_s=0.5)
    assert spans.tolist() == [[0.0, 0.5], [2.0, 2.25], [4.0, 4.0]]
    other = np.array([[0.25, 2.25]])
    assert imu_io.longest_common_span(spans, other) == (0.25, 0.5)
    assert imu_io.longest_common_span(spans, np.array([[5.0, 6.0]])) is None


def test_uniform_grid_includes_the_end_when_it_falls_on_the_grid():
    assert imu_io.uniform_grid(1.0, 2.0, 4.0).tolist() == [1.0, 1.25, 1.5, 1.75, 2.0]
    assert imu_io.uniform_grid(0.0, 0.9, 4.0).tolist() == [0.0, 0.25, 0.5, 0.75]


def ramp(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[None, :] + t[:, None] * b[None, :]


def test_join_resamples_linear_ramps_exactly_over_the_common_span():
    a_acc, b_acc = np.array([1.0, -2.0, 9.5]), np.array([0.5, 0.25, -1.0])
    a_gyr, b_gyr = np.array([0.0, 0.125, -0.5]), np.array([2.0, -4.0, 0.75])
    t_acc = np.arange(0, 65) / 32.0            # 0 .. 2 s at 32 Hz
    t_gyr = 0.25 + np.arange(0, 129) / 64.0    # 0.25 .. 2.25 s at 64 Hz
    acc = Stream(t_acc, ramp(t_acc, a_acc, b_acc))
    gyro = Stream(t_gyr, ramp(t_gyr, a_gyr, b_gyr))
    j = imu_io.join_streams(acc, gyro, rate_hz=8.0, max_gap_s=0.5, min_duration_s=1.0)
    grid = 0.25 + np.arange(15) / 8.0          # 0.25 .. 2.0 s
    assert j.start_s == 0.25 and j.imu.shape == (15, 6)
    assert np.array_equal(j.imu[:, :3], ramp(grid, a_acc, b_acc))
    assert np.array_equal(j.imu[:, 3:], ramp(grid, a_gyr, b_gyr))
    assert j.max_gap_s == 1 / 32 and j.overlap_s == 1.75
    assert j.source_rate_hz == {"accelerometer": 32.0, "gyroscope": 64.0}


def test_join_uses_the_longest_gap_free_span_and_reports_short_overlaps():
    t1 = np.r_[np.arange(0, 9) / 8.0, 5.0 + np.arange(0, 25) / 8.0]   # 0-1 s, gap, 5-8 s
    t2 = np.arange(0, 81) / 10.0                                       # 0-8 s
    z1, z2 = np.zeros((len(t1), 3)), np.zeros((len(t2), 3))
    j = imu_io.join_streams(Stream(t1, z1), Stream(t2, z2), 4.0, 0.5, 1.0)
    assert j.start_s == 5.0 and len(j.imu) == 13
    with pytest.raises(StreamError, match="overlap for only 3.00 s"):
        imu_io.join_streams(Stream(t1, z1), Stream(t2, z2), 4.0, 0.5, 3.5)
    with pytest.raises(StreamError, match="do not overlap"):
        imu_io.join_streams(Stream(t1, z1), Stream(t2 + 20, z2), 4.0, 0.5, 1.0)
    with pytest.raises(StreamError, match="gyroscope has 1 valid sample"):
        imu_io.join_streams(Stream(t1, z1), Stream(t2[:1], z2[:1], corrupt=2), 4.0, 0.5, 1.0)


def test_fill_short_gaps():
    x = np.array([[0.0, 1.0], [np.nan, 1.0], [np.nan, np.inf], [3.0, 4.0], [4.0, 4.0]])
    out, n = imu_io.fill_short_gaps(x, max_run=2)
    assert n == 2 and out.tolist() == [[0, 1], [1, 2], [2, 3], [3, 4], [4, 4]]
    with pytest.raises(StreamError, match="2 consecutive"):
        imu_io.fill_short_gaps(x, max_run=1)
    with pytest.raises(StreamError, match="start or end"):
        imu_io.fill_short_gaps(x[1:], max_run=5)
