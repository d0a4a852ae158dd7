"""Signal facts of one clip, from its 6-axis IMU at its own rate: the ground truth of every pair.

Input: ``imu`` (N, 6) float, ax ay az specific force (m/s^2) then gx gy gz angular rate (rad/s),
sensor frame, sampled at ``sample_rate_hz``. Times are seconds from the clip's first sample
(sample ``i`` is at ``i / sample_rate_hz``); |a| is the norm of the specific force, |w| that of the
angular rate; g = 9.80665 m/s^2.

Definitions (thresholds are ``FactOptions`` fields, defaults in brackets):

- **peak accel**: the largest |a| and its time; its axis is the component with the largest
  absolute value at that sample.
- **free fall**: a run of samples with |a| < ``free_fall_threshold_ms2`` [0.5 g] lasting at least
  ``min_free_fall_s`` [0.05 s] and at most ``max_free_fall_s`` [2 s] (longer runs are sensor
  dropouts, not falls). ``free_fall_s`` is the total length of all such runs; the *first* run's
  start and length are given too. A run's length is its sample count / rate.
- **impact**: the peak |a| when it is at least ``impact_threshold_ms2`` [2.5 g]; its jerk is the
  largest |d|a|/dt| (central differences) within ``jerk_window_s`` [0.1 s] of it, m/s^3.
- **stillness after the impact**: a sample is still when the centred moving mean (over
  ``still_window_s`` [0.5 s]) of ||a| - g| is at most ``still_accel_tol_ms2`` [0.6 m/s^2] and that of
  |w| at most ``still_gyro_tol_rads`` [0.3 rad/s]. The first still run starting within
  ``still_search_s`` [2 s] after the impact and lasting at least ``min_still_s`` [0.5 s] gives
  ``still_start_s`` and ``still_after_impact_s`` (cut at the clip's end); no such run -> 0 s. Null
  without an impact.
- **event**: the impact (starting at the first free fall that ends within ``fall_to_impact_s``
  [1 s] before it), or, without an impact, the first free fall. ``event_start_s``/``event_end_s``.
- **tilt change**: the angle (degrees) between the mean specific force over ``tilt_window_s``
  [0.5 s] ending ``tilt_gap_s`` [0.3 s] before the event and over ``tilt_window_s`` starting at the
  stillness (else ``tilt_gap_s`` after the event): the change of the device's gravity direction.
  Null without an event, when a window leaves the clip, or when a window's mean is under 0.5 g.
- **rotation**: peak |w| and its time; per axis the peak and the mean of |w_i|; the dominant axis is
  the one with the largest mean |w_i|.
- **dominant frequency**: the peak, in [``min_freq_hz``, ``max_freq_hz``] [0.5, 5 Hz], of the
  Hann-windowed, zero-padded power spectrum of |a| minus its mean, refined by parabolic
  interpolation; kept only when the clip holds at least ``min_cycles`` [3] periods and the peak's
  band (+-1.5 native bins) holds at least ``min_periodicity`` [0.4] of the power above 0.2 Hz.
  ``cadence_per_min`` = 60 x the frequency (cycles per minute).
- **energy per phase**: RMS of |a| - g (m/s^2) over the whole clip and, with an event, before it,
  during it (``event_start_s`` to ``event_end_s`` + ``post_event_s`` [0.3 s]) and after it; null
  for a phase shorter than 2 samples.
- A **flat** clip (every channel's standard deviation below ``flat_std`` [1e-4]) gets no free fall,
  impact, frequency or tilt: a dead or saturated sensor is not an event.

Every field is a float (or a string for axes, an int for counts) or None where it does not apply.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numba import njit

from ...simulator.kernels import pairwise_sum

G = 9.80665
AXES = ("x", "y", "z")

#: Every fact field: name -> (type, unit, meaning). The ``facts`` struct column is built from it.
FACT_FIELDS: dict[str, tuple[str, str, str]] = {
    "duration_s": ("float64", "s", "clip length: samples / rate"),
    "sample_rate_hz": ("float64", "Hz", "IMU sample rate"),
    "n_samples": ("int64", "", "samples in the clip"),
    "peak_accel_ms2": ("float64", "m/s^2", "largest |accel|"),
    "peak_accel_time_s": ("float64", "s", "time of the largest |accel| from the first sample"),
    "peak_accel_axis": ("string", "", "axis (x, y, z) with the largest |component| at the peak"),
    "min_accel_ms2": ("float64", "m/s^2", "smallest |accel|"),
    "rms_accel_ms2": ("float64", "m/s^2", "RMS of |accel| - g over the clip"),
    "free_fall_s": ("float64", "s", "total length of free-fall phases (0 when none)"),
    "free_fall_count": ("int64", "", "number of free-fall phases"),
    "free_fall_start_s": ("float64", "s", "start of the first free-fall phase"),
    "free_fall_first_s": ("float64", "s", "length of the first free-fall phase"),
    "impact_ms2": ("float64", "m/s^2", "impact magnitude (peak |accel| >= the impact threshold)"),
    "impact_time_s": ("float64", "s", "time of the impact"),
    "impact_jerk_ms3": ("float64", "m/s^3", "largest |d|accel|/dt| around the impact"),
    "still_after_impact_s": ("float64", "s", "length of the stillness after the impact (0 when none)"),
    "still_start_s": ("float64", "s", "start of the stillness after the impact"),
    "event_start_s": ("float64", "s", "start of the event (free fall leading to the impact, or the impact)"),
    "event_end_s": ("float64", "s", "end of the event (the impact, or the end of the free fall)"),
    "tilt_change_deg": ("float64", "deg", "change of the gravity direction across the event"),
    "rms_before_ms2": ("float64", "m/s^2", "RMS of |accel| - g before the event"),
    "rms_during_ms2": ("float64", "m/s^2", "RMS of |accel| - g during the event"),
    "rms_after_ms2": ("float64", "m/s^2", "RMS of |accel| - g after the event"),
    "peak_gyro_rads": ("float64", "rad/s", "largest |gyro|"),
    "peak_gyro_time_s": ("float64", "s", "time of the largest |gyro|"),
    "gyro_peak_x_rads": ("float64", "rad/s", "largest |gx|"),
    "gyro_peak_y_rads": ("float64", "rad/s", "largest |gy|"),
    "gyro_peak_z_rads": ("float64", "rad/s", "largest |gz|"),
    "gyro_mean_x_rads": ("float64", "rad/s", "mean |gx|"),
    "gyro_mean_y_rads": ("float64", "rad/s", "mean |gy|"),
    "gyro_mean_z_rads": ("float64", "rad/s", "mean |gz|"),
    "gyro_dominant_axis": ("string", "", "axis (x, y, z) with the largest mean |gyro component|"),
    "dominant_freq_hz": ("float64", "Hz", "dominant frequency of |accel| (periodic clips only)"),
    "cadence_per_min": ("float64", "1/min", "60 x dominant_freq_hz"),
    "periodicity": ("float64", "", "share of the power of |accel| in the dominant band"),
}


@dataclass(frozen=True)
class FactOptions:
    """Thresholds of the fact definitions (module docstring); SI units."""

    free_fall_threshold_ms2: float = 0.5 * G
    min_free_fall_s: float = 0.05
    max_free_fall_s: float = 2.0
    impact_threshold_ms2: float = 2.5 * G
    jerk_window_s: float = 0.1
    still_window_s: float = 0.5
    still_accel_tol_ms2: float = 0.6
    still_gyro_tol_rads: float = 0.3
    still_search_s: float = 2.0
    min_still_s: float = 0.5
    fall_to_impact_s: float = 1.0
    tilt_window_s: float = 0.5
    tilt_gap_s: float = 0.3
    post_event_s: float = 0.3
    min_freq_hz: float = 0.5
    max_freq_hz: float = 5.0
    min_cycles: float = 3.0
    min_periodicity: float = 0.4
    flat_std: float = 1e-4

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"FactOptions.{name} must be a positive number, got {value!r}")
        if self.min_freq_hz >= self.max_freq_hz:
            raise ValueError(f"min_freq_hz ({self.min_freq_hz}) must be below max_freq_hz ({self.max_freq_hz})")


_DEFAULT_OPTIONS = FactOptions()  # (frozen) made once: its checks cost more than most facts


def _rms(x: np.ndarray) -> float | None:
    return float(np.sqrt(np.mean(x * x))) if len(x) >= 2 else None


@njit(cache=True, error_model="numpy")
def _runs(mask):
    """(K, 2) [start, stop) of the True runs of a 1-D bool array."""
    n = mask.shape[0]
    out = np.empty((n // 2 + 1, 2), np.int64)
    k, i = 0, 0
    while i < n:
        if mask[i]:
            j = i
            while j < n and mask[j]:
                j += 1
            out[k, 0], out[k, 1] = i, j
            k += 1
            i = j
        else:
            i += 1
    return out[:k]


@njit(cache=True, error_model="numpy")
def _moving_mean(x, width):
    """Centred moving mean of x (n,) with a window of ``width`` >= 1 samples (shrinking at the
    ends): differences of the running sum, as numpy's cumsum adds them."""
    n = x.shape[0]
    c = np.empty(n + 1)
    c[0] = 0.0
    acc = 0.0
    for i in range(n):
        acc = x[i] if i == 0 else acc + x[i]
        c[i + 1] = acc
    out = np.empty(n)
    for i in range(n):
        lo = min(max(i - width // 2, 0), n)
        hi = min(max(i - width // 2 + width, 0), n)
        out[i] = (c[hi] - c[lo]) / max(hi - lo, 1)
    return out


@njit(cache=True, error_model="numpy")
def _signal_stats(imu, g):
    """The plain statistics of imu (N, 6) float64, each bit for bit as the numpy expression it
    replaces (one compiled call instead of some twenty): |a| and |w| (N,) (``np.linalg.norm(.,
    axis=1)``: (x0^2 + x1^2) + x2^2) and ``stats`` (14,): 0 all finite / 1 not; the largest
    channel ``std(axis=0)`` (sums row by row); peak |a| index; its axis (first largest |a_i|);
    min |a|; RMS of |a| - g (N >= 2; squares summed pairwise, as ``np.mean``); peak |w| index;
    per axis peak |w_i| (3) and mean |w_i| (3, ``.mean()`` of the column: pairwise); the axis of
    the largest ``mean(axis=0)`` (sums row by row)."""
    n = imu.shape[0]
    stats = np.zeros(14)
    finite = True
    for i in range(n):
        for c in range(6):
            finite &= np.isfinite(imu[i, c])
    stats[0] = 0.0 if finite else 1.0
    if not finite:
        return np.empty(0), np.empty(0), stats
    a = np.empty(n)
    w = np.empty(n)
    for i in range(n):
        a[i] = np.sqrt((imu[i, 0] * imu[i, 0] + imu[i, 1] * imu[i, 1]) + imu[i, 2] * imu[i, 2])
        w[i] = np.sqrt((imu[i, 3] * imu[i, 3] + imu[i, 4] * imu[i, 4]) + imu[i, 5] * imu[i, 5])
    # std(axis=0): means and squared deviations summed row by row
    mean = np.zeros(6)
    for i in range(n):
        for c in range(6):
            mean[c] = imu[i, c] if i == 0 else mean[c] + imu[i, c]
    mean /= n
    var = np.zeros(6)
    for i in range(n):
        for c in range(6):
            d = imu[i, c] - mean[c]
            var[c] = d * d if i == 0 else var[c] + d * d
    top = 0.0
    for c in range(6):
        top = max(top, np.sqrt(var[c] / n))
    stats[1] = top
    ip = np.argmax(a)
    stats[2] = ip
    best = 0
    for c in range(1, 3):
        if abs(imu[ip, c]) > abs(imu[ip, best]):
            best = c
    stats[3] = best
    stats[4] = a.min()
    if n >= 2:
        sq = np.empty(n)
        for i in range(n):
            x = a[i] - g
            sq[i] = x * x
        stats[5] = np.sqrt(pairwise_sum(sq) / n)
    stats[6] = np.argmax(w)
    col = np.empty(n)
    rows = np.zeros(3)
    for c in range(3):
        peak = 0.0
        for i in range(n):
            v = abs(imu[i, 3 + c])
            col[i] = v
            peak = v if i == 0 else max(peak, v)
            rows[c] = v if i == 0 else rows[c] + v
        stats[7 + c] = peak
        stats[10 + c] = pairwise_sum(col) / n
    rows /= n
    stats[13] = np.argmax(rows)
    return a, w, stats


@njit(cache=True, error_model="numpy")
def _jerk(a, dt, ip, half):
    """Largest |np.gradient(a, dt)| within ``half`` samples of index ip (len(a) >= 3)."""
    n = a.shape[0]
    top = 0.0
    for i in range(max(0, ip - half), min(n, ip + half + 1)):
        if i == 0:
            d = (a[1] - a[0]) / dt
        elif i == n - 1:
            d = (a[n - 1] - a[n - 2]) / dt
        else:
            d = (a[i + 1] - a[i - 1]) / (2.0 * dt)
        d = abs(d)
        top = d if i == max(0, ip - half) else max(top, d)
    return top


@njit(cache=True, error_model="numpy")
def _still_mask(a, w, g, width, acc_tol, gyro_tol):
    """Where the centred moving means of ||a| - g| and of |w| are within their tolerances."""
    dev = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        dev[i] = abs(a[i] - g)
    ma, mw = _moving_mean(dev, width), _moving_mean(w, width)
    out = np.empty(a.shape[0], np.bool_)
    for i in range(a.shape[0]):
        out[i] = (ma[i] <= acc_tol) & (mw[i] <= gyro_tol)
    return out


@functools.lru_cache(maxsize=512)
def _hanning(n: int) -> np.ndarray:
    """``np.hanning(n)``, read-only, made once per clip length (a build has a few hundred)."""
    w = np.hanning(n)
    w.flags.writeable = False
    return w


@functools.lru_cache(maxsize=32)
def _spectrum_grid(n_fft: int, rate: float, min_hz: float, max_hz: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rfft frequencies Hz, indices of those in [min_hz, min(max_hz, rate / 2)], mask of those
    above 0.2 Hz) of an ``n_fft``-point spectrum at ``rate`` Hz, read-only, made once per grid."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    band = np.flatnonzero((freqs >= min_hz) & (freqs <= min(max_hz, rate / 2)))
    above = freqs > 0.2
    for a in (freqs, band, above):
        a.flags.writeable = False
    return freqs, band, above


def _dominant_frequency(acc_norm: np.ndarray, rate: float, o: FactOptions) -> tuple[float, float] | None:
    """(frequency Hz, periodicity) of |a|, or None when the clip is not periodic enough."""
    n = len(acc_norm)
    if n < 8 or n / rate * o.min_freq_hz < o.min_cycles * 0.999:
        return None
    x = (acc_norm - acc_norm.mean()) * _hanning(n)
    n_fft = 1 << max(12, int(math.ceil(math.log2(8 * n))))
    power = np.abs(np.fft.rfft(x, n_fft)) ** 2
    freqs, band, above = _spectrum_grid(n_fft, rate, o.min_freq_hz, o.max_freq_hz)
    total = power[above].sum()
    if not band.size or total <= 0:
        return None
    k = int(band[np.argmax(power[band])])
    f = freqs[k]
    if 0 < k < len(power) - 1:  # parabolic refinement of the peak on the log power
        a, b, c = np.log(power[k - 1:k + 2] + 1e-300)
        denom = a - 2 * b + c
        if denom < 0:
            f += 0.5 * (a - c) / denom * (freqs[1] - freqs[0])
    half = 1.5 * rate / n
    share = float(power[(freqs >= f - half) & (freqs <= f + half)].sum() / total)
    if share < o.min_periodicity or f * n / rate < o.min_cycles:
        return None
    return float(f), share


def compute_facts(imu: np.ndarray, sample_rate_hz: float, options: FactOptions | None = None) -> dict[str, Any]:
    """Facts of one clip (keys of ``FACT_FIELDS``; None where a fact does not apply).

    imu: (N, 6) float, ax ay az m/s^2 then gx gy gz rad/s, sensor frame. sample_rate_hz: > 0.
    Raises ValueError for a wrong shape, a non-positive rate or non-finite samples.
    """
    o = options or _DEFAULT_OPTIONS
    imu = np.ascontiguousarray(imu, dtype=np.float64)
    rate = float(sample_rate_hz)
    if imu.ndim != 2 or imu.shape[1] != 6 or len(imu) < 1:
        raise ValueError(f"imu must be (N>=1, 6), got shape {imu.shape}")
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz!r}")
    a, w, st = _signal_stats(imu, G)
    if st[0]:
        raise ValueError("imu holds NaN or Inf; facts need finite samples")
    n = len(imu)
    acc = imu[:, :3]
    t = lambda i: float(i) / rate  # noqa: E731
    flat = bool(st[1] < o.flat_std) if n > 1 else True
    f: dict[str, Any] = dict.fromkeys(FACT_FIELDS)
    ip = int(st[2])
    f.update(duration_s=n / rate, sample_rate_hz=rate, n_samples=n, peak_accel_ms2=float(a[ip]),
             peak_accel_time_s=t(ip), peak_accel_axis=AXES[int(st[3])],
             min_accel_ms2=float(st[4]), rms_accel_ms2=float(st[5]) if n >= 2 else None)
    iw = int(st[6])
    f.update(peak_gyro_rads=float(w[iw]), peak_gyro_time_s=t(iw))
    for k, ax in enumerate(AXES):
        f[f"gyro_peak_{ax}_rads"] = float(st[7 + k])
        f[f"gyro_mean_{ax}_rads"] = float(st[10 + k])
    f["gyro_dominant_axis"] = AXES[int(st[13])] if f["peak_gyro_rads"] > 0 else None

    # free fall
    falls: list[tuple[int, int]] = []
    if not flat:
        for s, e in _runs(a < o.free_fall_threshold_ms2).tolist():
            if o.min_free_fall_s - 1e-9 <= (e - s) / rate <= o.max_free_fall_s + 1e-9:
                falls.append((s, e))
    f["free_fall_s"] = sum(e - s for s, e in falls) / rate
    f["free_fall_count"] = len(falls)
    if falls:
        f["free_fall_start_s"] = t(falls[0][0])
        f["free_fall_first_s"] = (falls[0][1] - falls[0][0]) / rate

    # impact, jerk, stillness
    ev: tuple[int, int] | None = None
    if not flat and a[ip] >= o.impact_threshold_ms2:
        f.update(impact_ms2=float(a[ip]), impact_time_s=t(ip))
        if n >= 3:
            half = max(1, int(round(o.jerk_window_s * rate)))
            f["impact_jerk_ms3"] = float(_jerk(a, 1.0 / rate, ip, half))
        start = ip
        leading = [(s, e) for s, e in falls if e <= ip and (ip - e) / rate <= o.fall_to_impact_s]
        if leading:
            start = leading[-1][0]
        ev = (start, ip)
        width = max(1, int(round(o.still_window_s * rate)))
        still = _still_mask(a, w, G, width, o.still_accel_tol_ms2, o.still_gyro_tol_rads)
        f["still_after_impact_s"] = 0.0
        for s, e in _runs(still).tolist():
            if s <= ip:
                continue
            if (s - ip) / rate > o.still_search_s:
                break
            if (e - s) / rate >= o.min_still_s - 1e-9:
                f["still_start_s"] = t(s)
                f["still_after_impact_s"] = (e - s) / rate
                break
    elif falls:
        ev = (falls[0][0], falls[0][1] - 1)
    if ev is not None:
        f["event_start_s"], f["event_end_s"] = t(ev[0]), t(ev[1])
        post = ev[1] + 1 + int(round(o.post_event_s * rate))
        f["rms_before_ms2"] = _rms(a[:ev[0]] - G)
        f["rms_during_ms2"] = _rms(a[ev[0]:post] - G)
        f["rms_after_ms2"] = _rms(a[post:] - G)
        win, gap = int(round(o.tilt_window_s * rate)), int(round(o.tilt_gap_s * rate))
        b0 = ev[0] - gap - win
        a0 = int(round(f["still_start_s"] * rate)) if f["still_start_s"] is not None else ev[1] + gap
        if win >= 1 and b0 >= 0 and a0 + win <= n:
            u, v = acc[b0:b0 + win].mean(axis=0), acc[a0:a0 + win].mean(axis=0)
            nu, nv = np.linalg.norm(u), np.linalg.norm(v)
            if nu >= 0.5 * G and nv >= 0.5 * G:
                cos = float(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0))
                f["tilt_change_deg"] = math.degrees(math.acos(cos))

    if not flat:
        dom = _dominant_frequency(a, rate, o)
        if dom is not None:
            f["dominant_freq_hz"], f["periodicity"] = dom
            f["cadence_per_min"] = 60.0 * dom[0]
    return f


def events(facts: dict[str, Any]) -> list[tuple[str, float]]:
    """The clip's timed events in time order: ("free_fall" | "impact" | "stillness", start s)."""
    out = []
    if facts.get("free_fall_start_s") is not None:
        out.append(("free_fall", facts["free_fall_start_s"]))
    if facts.get("impact_time_s") is not None:
        out.append(("impact", facts["impact_time_s"]))
    if facts.get("still_start_s") is not None:
        out.append(("stillness", facts["still_start_s"]))
    return sorted(out, key=lambda e: e[1])
