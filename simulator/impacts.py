"""Impacts sharpened: the short deceleration of a contact that the trajectory low-pass spreads.

A skeleton tracked at 30 fps and low-passed at a few Hz (``cutoff``) keeps an impact's velocity
change but spreads it over the filter's time scale: on SmartFallMM, the largest | |a| - g | peak of
a synthetic fall is 0.12 s wide at half maximum, 0.08-0.10 s on the real watches
(``benchmarks/fidelity_diagnose.py``). ``sharpen_impacts`` narrows each such peak by ``factor``
about its centre while keeping its impulse (the velocity change, the integral of the dynamic
acceleration) and the slowly varying part under it:

- a peak: a run of samples around a local maximum of | |a| - g | above ``threshold_ms2``, out to
  where it falls below half that maximum (plus ``margin`` samples);
- over the run, the baseline b(t) is the straight line between the accelerometer's values at its
  two ends, the pulse e(t) = a(t) - b(t) (each axis);
- the new pulse is e'(t) = factor * e(c + factor (t - c)), c the pulse's centre (|e|-weighted mean
  time), zero where it maps outside the run: the same integral, ``factor`` x higher, ``factor`` x
  narrower. The gyroscope is left as it is.
"""

from __future__ import annotations

import numpy as np

from .motion import G


def _check(imu, factor: float, threshold_ms2: float, margin: int) -> np.ndarray:
    x = np.asarray(imu, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 6:
        raise ValueError(f"imu must be (N, 6), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("imu holds NaN or Inf")
    if not (np.isfinite(factor) and factor >= 1.0):
        raise ValueError(f"factor must be >= 1 (1: unchanged), got {factor}")
    if not threshold_ms2 > 0:
        raise ValueError(f"threshold_ms2 must be > 0, got {threshold_ms2}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    return x


def sharpen_impacts(imu, factor: float = 1.5, threshold_ms2: float = 15.0,
                    margin: int = 2) -> tuple[np.ndarray, int]:
    """(N, 6) ax ay az (m/s^2) gx gy gz (rad/s) with every acceleration peak above
    ``threshold_ms2`` (| |a| - g |) narrowed ``factor`` x, its impulse kept (module docstring).
    Returns (new array, number of peaks sharpened); ``factor`` 1 returns a copy."""
    x = _check(imu, factor, threshold_ms2, margin)
    out = x.copy()
    if factor == 1.0 or len(x) < 3:
        return out, 0
    a = out[:, :3]
    d = np.abs(np.linalg.norm(x[:, :3], axis=1) - G)
    n, done, peaks = len(d), np.zeros(len(d), dtype=bool), 0
    for p in np.argsort(-d, kind="stable"):
        if d[p] < threshold_ms2:
            break
        if done[p]:
            continue
        half = d[p] / 2
        below = np.flatnonzero(d <= half)
        lo = below[below < p].max() if (below < p).any() else 0
        hi = below[below > p].min() if (below > p).any() else n - 1
        lo, hi = max(0, lo - margin), min(n - 1, hi + margin)
        if done[lo:hi + 1].any():  # overlaps a sharpened peak: keep to its own samples
            free = np.flatnonzero(~done[lo:hi + 1]) + lo
            lo, hi = free[free <= p].min(), free[free >= p].max()
        if hi - lo < 2:
            done[lo:hi + 1] = True
            continue
        t = np.arange(lo, hi + 1, dtype=np.float64)
        base = x[lo, :3] + np.outer((t - lo) / (hi - lo), x[hi, :3] - x[lo, :3])
        e = x[lo:hi + 1, :3] - base
        w = np.linalg.norm(e, axis=1)
        c = float(w @ t / w.sum()) if w.sum() > 0 else float(p)
        src = c + factor * (t - c)
        a[lo:hi + 1] = base + factor * np.stack(
            [np.interp(src, t, e[:, j], left=0.0, right=0.0) for j in range(3)], axis=1)
        done[lo:hi + 1] = True
        peaks += 1
    return out, peaks
