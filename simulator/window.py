"""Clip length matched to a target recording's: crop or pad synthetic IMU clips.

A synthetic clip spans its skeleton recording; a real device's clip of the same event is often
cut differently (SmartFallMM's watch files are about half as long as their skeleton twins, cut
separately; WEDA-FALL's Fitbit trials run 7-24 s with the person standing before and lying after
a fall). Whole-clip statistics (means, percentiles: what a per-clip classifier sees) depend on
how much of the clip the event fills, so a model trained on synthetic clips of one length reads
real clips of another as a different class.

``target_lengths`` maps each synthetic clip's length onto the target's length distribution by
quantiles (unpaired, no labels: a clip at the u-th quantile of the synthetic lengths gets the
u-th quantile of the target's), and ``match_length`` crops or pads one clip to it:

- crop: a window of the new length that holds the clip's most active sample (largest
  ``| |a| - g | + |g|``), at a random position inside the window (an event somewhere in a
  recording);
- pad: the device at rest before and after the clip (``|a| = g`` along the mean specific force
  of the first / last ``edge_s`` seconds, gyroscope 0), the padding split at random between the
  two ends: a person standing before and lying or standing after the event.
"""

from __future__ import annotations

import numpy as np

from .motion import G as GRAVITY


def _check_imu(imu) -> np.ndarray:
    x = np.asarray(imu, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 6 or len(x) == 0:
        raise ValueError(f"imu must be a non-empty (N, 6) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("imu holds NaN or Inf")
    return x


def rest_sample(accel: np.ndarray) -> np.ndarray:
    """(6,) the device at rest in the mean orientation of ``accel`` (K, 3) m/s^2: specific force
    of magnitude g along the mean accelerometer vector, gyroscope 0 (+z when the mean is 0)."""
    m = np.asarray(accel, dtype=np.float64).mean(axis=0)
    n = float(np.linalg.norm(m))
    direction = m / n if n > 1e-9 else np.array([0.0, 0.0, 1.0])
    return np.concatenate([GRAVITY * direction, np.zeros(3)])


def activity(imu: np.ndarray) -> np.ndarray:
    """(N,) how much the device moves per sample: | |a| - g | + |g| (m/s^2 + rad/s)."""
    return np.abs(np.linalg.norm(imu[:, :3], axis=1) - GRAVITY) + np.linalg.norm(imu[:, 3:], axis=1)


def match_length(imu, length: int, rng: np.random.Generator, rate_hz: float,
                 edge_s: float = 0.5) -> np.ndarray:
    """``imu`` (N, 6) ax ay az (m/s^2) gx gy gz (rad/s) at ``rate_hz`` cropped or padded to
    ``length`` samples (module docstring). The original samples are kept unchanged (a crop is a
    slice; a pad surrounds the whole clip)."""
    x = _check_imu(imu)
    length = int(length)
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    if rate_hz <= 0 or edge_s <= 0:
        raise ValueError(f"rate_hz and edge_s must be > 0, got {rate_hz}, {edge_s}")
    n = len(x)
    if length == n:
        return x.copy()
    if length < n:
        peak = int(np.argmax(activity(x)))
        lo, hi = max(0, peak - length + 1), min(peak, n - length)
        start = int(rng.integers(lo, hi + 1))
        return x[start:start + length].copy()
    k = max(1, int(round(edge_s * rate_hz)))
    extra = length - n
    before = int(rng.integers(0, extra + 1))
    head = np.tile(rest_sample(x[:k, :3]), (before, 1))
    tail = np.tile(rest_sample(x[-k:, :3]), (extra - before, 1))
    return np.concatenate([head, x, tail])


def target_lengths(synthetic_lengths, target: np.ndarray) -> np.ndarray:
    """Each synthetic length (samples) mapped onto the ``target`` lengths by quantiles (both
    pooled, unpaired): the clip of rank r among n gets the target's (r + 0.5) / n quantile
    (ties broken by order). (n,) int >= 1; the rank order of the synthetic lengths is kept."""
    s = np.asarray(synthetic_lengths, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if s.size == 0 or t.size == 0:
        raise ValueError("need at least one synthetic and one target length")
    if not (np.isfinite(s).all() and np.isfinite(t).all()) or (s < 1).any() or (t < 1).any():
        raise ValueError("lengths must be finite and >= 1 sample")
    u = (np.argsort(np.argsort(s, kind="stable"), kind="stable") + 0.5) / s.size
    return np.maximum(1, np.round(np.quantile(t, u))).astype(int)
