"""Overlapping Allan deviation and the two noise figures read from it (IEEE Std 952 conventions).

For white noise of density N (units/sqrt(Hz)) the Allan deviation is N / sqrt(tau), so it reads N
at tau = 1 s; flicker noise of bias instability B gives a floor of B * sqrt(2 ln 2 / pi) = 0.664 B.
"""

from __future__ import annotations

import math

import numpy as np

#: Allan floor of flicker noise per unit bias instability, sqrt(2 ln 2 / pi).
FLICKER_FLOOR = math.sqrt(2.0 * math.log(2.0) / math.pi)


def _cluster_sizes(n: int, per_decade: int) -> np.ndarray:
    m_max = (n - 1) // 2
    count = max(2, int(math.ceil(math.log10(m_max) * per_decade)) + 1)
    return np.unique(np.round(np.logspace(0.0, math.log10(m_max), count)).astype(np.int64))


def allan_deviation(x, sample_rate_hz: float, taus=None,
                    per_decade: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping Allan deviation of a rate signal.

    x: (N,) or (N, K) float samples (e.g. rad/s or m/s^2), uniformly sampled at ``sample_rate_hz``.
    taus: averaging times in seconds, rounded to whole samples; default ``per_decade`` log-spaced
        values from 1 sample to (N - 1) // 2 samples.
    Returns (taus (M,) s, adev (M,) or (M, K)) in the units of x, taus sorted and unique.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in (1, 2):
        raise ValueError(f"x must be (N,) or (N, K), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("x contains NaN or Inf")
    rate = float(sample_rate_hz)
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
    n = arr.shape[0]
    if n < 3:
        raise ValueError(f"need at least 3 samples, got {n}")
    if taus is None:
        m = _cluster_sizes(n, per_decade)
    else:
        requested = np.asarray(taus, dtype=np.float64).reshape(-1)
        m = np.unique(np.round(requested * rate).astype(np.int64))
        if m.size == 0 or m[0] < 1 or m[-1] > (n - 1) // 2:
            raise ValueError(
                f"taus must lie in [{1 / rate:g}, {((n - 1) // 2) / rate:g}] s "
                f"for {n} samples at {rate:g} Hz"
            )
    # Integrated signal theta_k = sum_{i<k} x_i / rate; removing the mean first keeps the cumulative
    # sum small (the Allan deviation ignores a constant offset).
    centred = arr - arr.mean(axis=0)
    theta = np.concatenate([np.zeros((1,) + arr.shape[1:]), np.cumsum(centred, axis=0)]) / rate
    adev = np.empty((m.size,) + arr.shape[1:])
    for i, mi in enumerate(m):
        d = theta[2 * mi:] - 2.0 * theta[mi:-mi] + theta[: -2 * mi]
        tau = mi / rate
        adev[i] = np.sqrt(np.mean(d * d, axis=0) / (2.0 * tau * tau))
    return m / rate, adev


def white_noise_density(taus, adev) -> float | np.ndarray:
    """Noise density (units/sqrt(Hz)): the Allan deviation at tau = 1 s (log-log interpolation).

    When 1 s lies outside ``taus`` the point nearest to it is carried along the -1/2 slope.
    adev: (M,) or (M, K); returns a float or (K,).
    """
    t = np.asarray(taus, dtype=np.float64)
    a = np.asarray(adev, dtype=np.float64)
    cols = a.reshape(a.shape[0], -1)
    if t[0] <= 1.0 <= t[-1]:
        out = np.array([np.exp(np.interp(0.0, np.log(t), np.log(c))) for c in cols.T])
    else:
        i = int(np.argmin(np.abs(np.log(t))))
        out = cols[i] * np.sqrt(t[i])
    return float(out[0]) if a.ndim == 1 else out


def bias_instability(taus, adev, max_tau_s: float | None = None) -> float | np.ndarray:
    """Bias instability B (units of x): the minimum Allan deviation / 0.664.

    max_tau_s: ignore taus above it; estimates there rest on few clusters and scatter low
    (a tenth of the record length is a common choice). adev: (M,) or (M, K).
    """
    t = np.asarray(taus, dtype=np.float64)
    a = np.asarray(adev, dtype=np.float64)
    keep = t <= max_tau_s if max_tau_s is not None else np.ones(t.shape, bool)
    if not keep.any():
        raise ValueError(f"no tau at or below max_tau_s={max_tau_s}")
    out = a[keep].min(axis=0) / FLICKER_FLOOR
    return float(out) if a.ndim == 1 else out
