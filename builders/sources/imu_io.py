"""Shared helpers of the real-IMU readers: unit conversion, burst re-timing, uniform resampling.

Watches deliver samples in bursts: a CSV row's timestamp is when its burst reached the logger,
so several samples share (nearly) one time and are followed by a silent gap. ``retime_bursts``
spreads each burst back over the time before its arrival at the stream's own sample period;
``join_streams`` then resamples accelerometer and gyroscope onto one uniform grid over their
longest common covered span. Times are float seconds on the source's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ...simulator.motion import G


@dataclass(frozen=True)
class StreamOptions:
    """Options of the real watch-IMU readers.

    rate_hz: output rate; max_gap_s: longest gap bridged by interpolation; min_duration_s:
    shortest common span of accelerometer and gyroscope kept. Every number must be positive.
    """

    rate_hz: float = 50.0
    max_gap_s: float = 0.5
    min_duration_s: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            if not getattr(self, f.name) > 0:
                raise ValueError(f"{f.name} must be positive, got {getattr(self, f.name)}")

DEG_TO_RAD = np.pi / 180.0
#: Date-times outside these years are taken as corrupt cells (the recordings are from 2010-2030;
#: beyond 1677-2262 a nanosecond clock would also overflow and wrap silently).
PLAUSIBLE_YEARS = (1990, 2100)


class StreamError(ValueError):
    """Samples that cannot make a clip (empty, too short, no overlap); the message is the reason."""


def g_to_ms2(x: np.ndarray) -> np.ndarray:
    """Acceleration in standard gravities -> m/s^2 (g = 9.80665)."""
    return np.asarray(x, dtype=np.float64) * G


def deg_to_rad(x: np.ndarray) -> np.ndarray:
    """Angular rate in deg/s -> rad/s."""
    return np.asarray(x, dtype=np.float64) * DEG_TO_RAD


def parse_datetimes_ns(stamps) -> tuple[np.ndarray, np.ndarray]:
    """ISO 8601 date-time strings -> (ns (N,) int64 since 1970, ok (N,) bool).

    A stamp that does not parse, carries a time zone, or lies outside ``PLAUSIBLE_YEARS`` is not
    ok (its ns value is 0): one bad cell costs its own row, never the file, and never wraps
    around the nanosecond clock into a wrong but valid-looking time.
    """
    import pandas as pd

    s = pd.Series(stamps, dtype=object).astype(str)
    try:
        dt = pd.to_datetime(s, format="ISO8601", errors="coerce")
    except (ValueError, TypeError):  # e.g. mixed time zones: parse one by one, zoned ones fail
        dt = pd.to_datetime(pd.Series([_naive(v) for v in s], dtype=object), format="ISO8601",
                            errors="coerce")
    if getattr(dt.dt, "tz", None) is not None:
        dt = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    years = dt.dt.year.to_numpy(dtype=np.float64, na_value=np.nan)
    ok = (years >= PLAUSIBLE_YEARS[0]) & (years < PLAUSIBLE_YEARS[1])
    us = dt.to_numpy(dtype="datetime64[us]").astype(np.int64)  # us: no overflow in these years
    return np.where(ok, us * 1000 + _sub_us_ns(dt), 0), ok


def _naive(value: str):
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return None
    return None if ts.tzinfo is not None else value


def _sub_us_ns(dt) -> np.ndarray:
    """The nanoseconds below the microsecond of each stamp (0 where absent)."""
    try:
        return dt.dt.nanosecond.to_numpy(dtype=np.int64, na_value=0)
    except (AttributeError, TypeError):
        return np.zeros(len(dt), dtype=np.int64)


@dataclass
class Stream:
    """One 3-axis sensor stream: t (N,) s, non-decreasing; x (N, 3) float64, finite.

    corrupt: rows of the source file dropped because a cell did not parse or was not finite.
    """

    t: np.ndarray
    x: np.ndarray
    corrupt: int = 0


def clean_stream(t: np.ndarray, x: np.ndarray, corrupt: int = 0) -> Stream:
    """Drop rows with a non-finite time or value (counted in ``corrupt``) and stable-sort by time.

    Sorting repairs logs that wrote whole bursts out of order (seen in WEDA-FALL and SmartFallMM).
    """
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    x = np.asarray(x, dtype=np.float64).reshape(len(t), 3)
    ok = np.isfinite(t) & np.isfinite(x).all(axis=1)
    order = np.argsort(t[ok], kind="stable")
    return Stream(t[ok][order], x[ok][order], corrupt + int((~ok).sum()))


def retime_bursts(t: np.ndarray, burst_gap_s: float, period_s: float | None = None) -> np.ndarray:
    """Sample times (N,) s, strictly increasing, from sorted burst arrival times ``t`` (N,) s.

    Consecutive samples less than or exactly ``burst_gap_s`` apart form one burst (0 groups only
    equal times). A burst of n samples that arrived at T (its last time) is spread back to
    T - (n-1-j) d, j = 0..n-1, with d = min(time since the previous burst / n, period): samples
    fill the interval since the previous burst, at most at the sensor's period (so a burst after
    a dropout does not smear across the gap). The period is estimated from bursts that follow
    a normal interval (at most 3x the median interval); ``period_s`` is used when that is not
    possible (a single burst) or when given.
    Strictly increasing input with ``burst_gap_s`` = 0 is returned unchanged.
    """
    t = np.asarray(t, dtype=np.float64)
    if len(t) == 0:
        return t.copy()
    if np.any(np.diff(t) < 0):
        raise ValueError("retime_bursts needs sorted times; sort the stream first")
    first = np.flatnonzero(np.r_[True, np.diff(t) > burst_gap_s])
    last = np.r_[first[1:] - 1, len(t) - 1]
    ends = t[last]
    counts = last - first + 1
    intervals = np.diff(ends)
    if period_s is None:
        if len(intervals):
            normal = intervals <= 3.0 * np.median(intervals)
            period_s = float(intervals[normal].sum() / counts[1:][normal].sum())
        elif len(t) == 1:
            period_s = 1.0
        else:
            raise StreamError(f"cannot estimate the sample period: all {len(t)} samples "
                              f"arrived in one burst; pass period_s")
    if not period_s > 0:
        raise ValueError(f"period_s must be positive, got {period_s}")
    spacing = np.r_[period_s, np.minimum(intervals / counts[1:], period_s)]
    burst = np.repeat(np.arange(len(first)), counts)
    from_end = last[burst] - np.arange(len(t))
    return ends[burst] - from_end * spacing[burst]


def covered_spans(t: np.ndarray, max_gap_s: float) -> np.ndarray:
    """(K, 2) [start, end] s of the runs of sorted ``t`` whose consecutive gaps are <= max_gap_s."""
    t = np.asarray(t, dtype=np.float64)
    if len(t) == 0:
        return np.zeros((0, 2))
    cut = np.flatnonzero(np.diff(t) > max_gap_s)
    return np.stack([t[np.r_[0, cut + 1]], t[np.r_[cut, len(t) - 1]]], axis=1)


def longest_common_span(a: np.ndarray, b: np.ndarray) -> tuple[float, float] | None:
    """Longest interval covered by a span of ``a`` and one of ``b`` ((K, 2) each); earliest on ties.

    None when no pair of spans overlaps.
    """
    start = np.maximum(a[:, None, 0], b[None, :, 0]).ravel()
    end = np.minimum(a[:, None, 1], b[None, :, 1]).ravel()
    length = end - start
    if len(length) == 0 or length.max() < 0:
        return None
    best = np.flatnonzero(length == length.max())
    i = best[np.argmin(start[best])]
    return float(start[i]), float(end[i])


def uniform_grid(start_s: float, end_s: float, rate_hz: float) -> np.ndarray:
    """Times start_s + k / rate_hz (s) for every k that stays within end_s."""
    n = int(np.floor((end_s - start_s) * rate_hz + 1e-9)) + 1
    return start_s + np.arange(max(n, 0)) / rate_hz


def resample(t: np.ndarray, x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(M, C) linear interpolation of (N, C) samples ``x`` at sorted times ``t`` onto ``grid``."""
    return np.stack([np.interp(grid, t, x[:, c]) for c in range(x.shape[1])], axis=1)


def max_gap_within(t: np.ndarray, start_s: float, end_s: float) -> float:
    """Largest time step (s) between samples of ``t`` that surround or lie in [start_s, end_s]."""
    lo = max(int(np.searchsorted(t, start_s, side="right")) - 1, 0)
    hi = min(int(np.searchsorted(t, end_s, side="left")) + 1, len(t))
    seg = t[lo:hi]
    return float(np.diff(seg).max()) if len(seg) > 1 else 0.0


@dataclass
class Joined:
    """Accelerometer and gyroscope on one uniform grid.

    imu: (M, 6) float64, ax ay az (m/s^2) gx gy gz (rad/s), sensor frame.
    start_s: time of imu[0] on the source's clock (s).
    max_gap_s: largest gap between original samples bridged by the linear interpolation.
    source_rate_hz: estimated native rate of each stream (after re-timing) over the span.
    overlap_s: time both streams were recording, gaps included (>= the clip's duration).
    """

    imu: np.ndarray
    start_s: float
    max_gap_s: float
    source_rate_hz: dict[str, float]
    overlap_s: float


def join_streams(acc: Stream, gyro: Stream, rate_hz: float, max_gap_s: float,
                 min_duration_s: float, burst_gap_s: float | None = None) -> Joined:
    """Resample acc (m/s^2) and gyro (rad/s) onto one ``rate_hz`` grid over their longest
    common span.

    The streams are first re-timed (``retime_bursts``, when ``burst_gap_s`` is given; else exact
    duplicate times are spread). Gaps longer than ``max_gap_s`` split a stream; the grid covers
    the longest interval where both are covered. Raises StreamError when a stream is empty or the
    common span is shorter than ``min_duration_s``.
    """
    times = {}
    for name, s in (("accelerometer", acc), ("gyroscope", gyro)):
        if len(s.t) < 2:
            bad = f" ({s.corrupt} corrupt row(s) dropped)" if s.corrupt else ""
            raise StreamError(f"{name} has {len(s.t)} valid sample(s){bad}; need at least 2")
        times[name] = retime_bursts(s.t, burst_gap_s or 0.0)
    span = longest_common_span(covered_spans(times["accelerometer"], max_gap_s),
                               covered_spans(times["gyroscope"], max_gap_s))
    if span is None:
        raise StreamError("accelerometer and gyroscope recordings do not overlap in time")
    grid = uniform_grid(span[0], span[1], rate_hz)
    duration = (len(grid) - 1) / rate_hz
    if len(grid) < 2 or duration < min_duration_s:
        raise StreamError(f"accelerometer and gyroscope overlap for only {duration:.2f} s without "
                          f"a gap over {max_gap_s} s; need at least {min_duration_s} s")
    imu = np.concatenate([resample(times["accelerometer"], acc.x, grid),
                          resample(times["gyroscope"], gyro.x, grid)], axis=1)
    rates = {}
    gaps = []
    for name, t in times.items():
        inside = (t >= span[0]) & (t <= span[1])
        rates[name] = round(float((inside.sum() - 1) / (span[1] - span[0])), 3)
        gaps.append(max_gap_within(t, span[0], span[1]))
    overlap = min(t[-1] for t in times.values()) - max(t[0] for t in times.values())
    return Joined(imu, float(grid[0]), round(max(gaps), 6), rates, round(float(overlap), 6))


def fill_short_gaps(x: np.ndarray, max_run: int) -> tuple[np.ndarray, int]:
    """(N, C) samples with runs of <= max_run non-finite rows filled by linear interpolation.

    Returns the repaired copy and the number of filled rows. Raises StreamError when a longer run,
    or one at either end, cannot be repaired.
    """
    x = np.asarray(x, dtype=np.float64)
    bad = ~np.isfinite(x).all(axis=1)
    if not bad.any():
        return x, 0
    if bad[0] or bad[-1]:
        raise StreamError("non-finite samples at the start or end of the recording")
    edges = np.diff(np.r_[0, bad.astype(np.int8), 0])
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    if runs.max() > max_run:
        raise StreamError(f"{int(runs.max())} consecutive non-finite samples (at most {max_run} "
                          f"are repaired)")
    idx = np.arange(len(x))
    out = x.copy()
    out[bad] = resample(idx[~bad].astype(np.float64), x[~bad], idx[bad].astype(np.float64))
    return out, int(bad.sum())
