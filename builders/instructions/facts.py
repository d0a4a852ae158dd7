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

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

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


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the True runs of a 1-D bool array."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def _moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving mean with a window of ``width`` samples (shrinks at the ends)."""
    width = max(1, int(width))
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(len(x))
    lo = np.clip(i - width // 2, 0, len(x))
    hi = np.clip(i - width // 2 + width, 0, len(x))
    return (c[hi] - c[lo]) / np.maximum(hi - lo, 1)


def _rms(x: np.ndarray) -> float | None:
    return float(np.sqrt(np.mean(x * x))) if len(x) >= 2 else None


def _dominant_frequency(acc_norm: np.ndarray, rate: float, o: FactOptions) -> tuple[float, float] | None:
    """(frequency Hz, periodicity) of |a|, or None when the clip is not periodic enough."""
    n = len(acc_norm)
    if n < 8 or n / rate * o.min_freq_hz < o.min_cycles * 0.999:
        return None
    x = (acc_norm - acc_norm.mean()) * np.hanning(n)
    n_fft = 1 << max(12, int(math.ceil(math.log2(8 * n))))
    power = np.abs(np.fft.rfft(x, n_fft)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    band = (freqs >= o.min_freq_hz) & (freqs <= min(o.max_freq_hz, rate / 2))
    total = power[freqs > 0.2].sum()
    if not band.any() or total <= 0:
        return None
    k = int(np.flatnonzero(band)[np.argmax(power[band])])
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
    imu = np.asarray(imu, dtype=np.float64)
    rate = float(sample_rate_hz)
    if imu.ndim != 2 or imu.shape[1] != 6 or len(imu) < 1:
        raise ValueError(f"imu must be (N>=1, 6), got shape {imu.shape}")
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz!r}")
    if not np.isfinite(imu).all():
        raise ValueError("imu holds NaN or Inf; facts need finite samples")
    n = len(imu)
    acc, gyr = imu[:, :3], imu[:, 3:]
    a = np.linalg.norm(acc, axis=1)
    w = np.linalg.norm(gyr, axis=1)
    t = lambda i: float(i) / rate  # noqa: E731
    flat = bool((imu.std(axis=0) < o.flat_std).all()) if n > 1 else True
    f: dict[str, Any] = dict.fromkeys(FACT_FIELDS)
    ip = int(np.argmax(a))
    f.update(duration_s=n / rate, sample_rate_hz=rate, n_samples=n, peak_accel_ms2=float(a[ip]),
             peak_accel_time_s=t(ip), peak_accel_axis=AXES[int(np.argmax(np.abs(acc[ip])))],
             min_accel_ms2=float(a.min()), rms_accel_ms2=_rms(a - G) if n >= 2 else None)
    iw = int(np.argmax(w))
    f.update(peak_gyro_rads=float(w[iw]), peak_gyro_time_s=t(iw))
    abs_g = np.abs(gyr)
    for k, ax in enumerate(AXES):
        f[f"gyro_peak_{ax}_rads"] = float(abs_g[:, k].max())
        f[f"gyro_mean_{ax}_rads"] = float(abs_g[:, k].mean())
    f["gyro_dominant_axis"] = AXES[int(np.argmax(abs_g.mean(axis=0)))] if f["peak_gyro_rads"] > 0 else None

    # free fall
    falls: list[tuple[int, int]] = []
    if not flat:
        for s, e in _runs(a < o.free_fall_threshold_ms2):
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
            da = np.abs(np.gradient(a, 1.0 / rate))
            half = max(1, int(round(o.jerk_window_s * rate)))
            f["impact_jerk_ms3"] = float(da[max(0, ip - half):ip + half + 1].max())
        start = ip
        leading = [(s, e) for s, e in falls if e <= ip and (ip - e) / rate <= o.fall_to_impact_s]
        if leading:
            start = leading[-1][0]
        ev = (start, ip)
        width = int(round(o.still_window_s * rate))
        still = (_moving_mean(np.abs(a - G), width) <= o.still_accel_tol_ms2) & \
                (_moving_mean(w, width) <= o.still_gyro_tol_rads)
        f["still_after_impact_s"] = 0.0
        for s, e in _runs(still):
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
