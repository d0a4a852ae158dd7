"""Plausibility limits: the one place for what the simulator and the builders accept as real motion.

A motion file or an IMU recording beyond these limits is not physical (a wrist at 3e38 m, a
frame every 10,000 s, a one-hour hole bridged by interpolation) or would need unbounded memory
(an 89 KB file that asks for 10^9 output samples). Such an input is refused *before* anything
large is allocated: ``simulate`` raises ``MotionError`` with the reason and the fix, a build skips
the clip with that reason. Every limit can be changed (``Limits(...)``,
``imu2safety build --limit KEY=VALUE``, ``imu2safety simulate --limit KEY=VALUE``).

| limit | default | why |
|---|---|---|
| ``max_gap_s`` | 1.0 s | longest stretch without a frame, or with the needed joints untracked, that is bridged by interpolation; longer gaps would invent motion |
| ``min_fps`` | 5 Hz | slowest median frame rate taken as a motion capture (below it, wrist dynamics are not sampled) |
| ``max_duration_s`` | 1800 s | longest clip (30 min) |
| ``max_output_samples`` | 1,000,000 | device samples of one clip (duration x rate), checked before synthesis |
| ``max_frames`` | 1,000,000 | frames of one motion (about 9 h at 30 fps), checked before the joints are resampled |
| ``max_position_m`` | 1000 m | largest joint coordinate (any world origin a capture uses is nearer) |
| ``arm_length_m`` | 0.15 - 1.5 m | median shoulder-elbow-wrist length: catches positions in mm (x1000) or cm (x100) |
| ``max_accel_ms2`` | 2000 m/s^2 | largest specific force (~200 g; watch IMUs saturate at 16-32 g), ideal simulated or real |
| ``max_gyro_rads`` | 200 rad/s | largest angular rate (~11,500 deg/s; watch gyros saturate at 35-70 rad/s) |
| ``max_array_bytes`` | 256 MiB | one array of a motion ``.npz``, read from its header before loading |
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from .motion import MotionError


@dataclass(frozen=True)
class Limits:
    """Plausibility limits (table in the module docstring); every value must be positive."""

    max_gap_s: float = 1.0
    min_fps: float = 5.0
    max_duration_s: float = 1800.0
    max_output_samples: int = 1_000_000
    max_frames: int = 1_000_000
    max_position_m: float = 1000.0
    min_arm_length_m: float = 0.15
    max_arm_length_m: float = 1.5
    max_accel_ms2: float = 2000.0
    max_gyro_rads: float = 200.0
    max_array_bytes: int = 256 * 2**20

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
                    or not np.isfinite(value):
                raise ValueError(f"limit {f.name} must be a positive number, got {value!r}")
        if self.min_arm_length_m >= self.max_arm_length_m:
            raise ValueError(f"min_arm_length_m {self.min_arm_length_m} must be below "
                             f"max_arm_length_m {self.max_arm_length_m}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def changed(self) -> dict[str, Any]:
        """The limits that differ from the defaults (for provenance records)."""
        default = Limits()
        return {k: v for k, v in self.to_dict().items() if getattr(default, k) != v}

    @classmethod
    def from_strings(cls, values: dict[str, Any]) -> "Limits":
        """Limits with the named fields overridden; values may be strings ("2.5", "1e6").

        Raises ValueError naming an unknown limit and listing the valid ones.
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"unknown limit(s) {unknown}; valid limits: {sorted(fields)}")
        kw = {}
        for name, value in values.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"limit {name} must be a number, got {value!r}") from None
            kw[name] = int(number) if fields[name].type in (int, "int") else number
        return cls(**kw)


DEFAULT_LIMITS = Limits()
_ACTIVE: list[Limits] = [DEFAULT_LIMITS]


def active_limits() -> Limits:
    """The limits file readers apply (``use_limits`` sets them for the process, e.g. a build worker)."""
    return _ACTIVE[0]


def use_limits(limits: Limits | None) -> None:
    """Make ``limits`` (None: the defaults) the process-wide limits of the file readers."""
    _ACTIVE[0] = limits or DEFAULT_LIMITS


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def check_timeline(t: np.ndarray, ok: np.ndarray, rate_hz: float, limits: Limits,
                   what: str = "motion") -> None:
    """Refuse a timeline that is too slow, too long, or has a gap beyond ``max_gap_s``.

    t: (T,) seconds, any order; ok: (T,) bool, frames where every needed joint is tracked;
    rate_hz: device output rate (the output length is checked against ``max_output_samples``).
    Raises MotionError with the reason and the limit to change.
    """
    t = np.asarray(t, dtype=np.float64)
    if len(t) > limits.max_frames:
        raise MotionError(f"{what}: {len(t)} frames, beyond the limit of {limits.max_frames} "
                          "(max_frames); split the recording")
    ok = np.asarray(ok, dtype=bool)
    dt = np.diff(t)
    if dt.size and dt.min() > 0:  # the usual case: already increasing, no sort
        ts, oks = t, ok
    else:
        order = np.argsort(t, kind="stable")
        ts, oks = t[order], ok[order]
        dt = np.diff(ts)
        dt = dt[dt > 0]
    if dt.size:
        fps = 1.0 / float(np.median(dt))
        if fps < limits.min_fps:
            raise MotionError(f"{what}: median frame rate {_fmt(fps)} Hz is below {_fmt(limits.min_fps)} Hz "
                              "(min_fps); check the file's fps / frame time (seconds per frame)")
    tv = ts[oks]
    if tv.size < 2:
        return  # too few tracked frames: the caller's own check says so
    gaps = np.diff(tv)
    k = int(np.argmax(gaps))
    if gaps[k] > limits.max_gap_s:
        untracked = int(((ts > tv[k]) & (ts < tv[k + 1])).sum())
        how = (f"{untracked} frames without the needed joints" if untracked
               else "no frame")
        raise MotionError(f"{what}: {how} for {_fmt(gaps[k])} s (from t = {_fmt(tv[k])} s), beyond the "
                          f"{_fmt(limits.max_gap_s)} s bridged by interpolation (max_gap_s); "
                          "split the recording at the gap")
    duration = float(tv[-1] - tv[0])
    if duration > limits.max_duration_s:
        raise MotionError(f"{what}: lasts {_fmt(duration)} s, beyond {_fmt(limits.max_duration_s)} s "
                          "(max_duration_s); split the recording or check its timestamps")
    n_out = duration * float(rate_hz)
    if n_out > limits.max_output_samples:
        raise MotionError(f"{what}: {_fmt(duration)} s at {_fmt(rate_hz)} Hz would be {n_out:.3g} samples, "
                          f"beyond {limits.max_output_samples} (max_output_samples); lower the rate "
                          "or split the recording")


def check_positions(x: np.ndarray, ok: np.ndarray, limits: Limits, what: str = "motion") -> None:
    """Refuse joint coordinates beyond ``max_position_m``. x: (T, K, 3) metres; ok: (T,) bool."""
    x = np.asarray(x)[np.asarray(ok, dtype=bool)]
    if x.size == 0:
        return
    biggest = float(np.nanmax(np.abs(x))) if np.isfinite(x).any() else 0.0
    if biggest > limits.max_position_m:
        raise MotionError(f"{what}: a joint lies {biggest:.3g} m from the origin, beyond "
                          f"{_fmt(limits.max_position_m)} m (max_position_m): not a body in metres")


#: Factor by which a unit slip scales an arm of ~0.6 m, and the fix to name.
_UNIT_SLIPS = ((1000.0, "millimetres: divide the positions by 1000"),
               (100.0, "centimetres: divide the positions by 100"),
               (39.37, "inches: multiply the positions by 0.0254"),
               (10.0, "decimetres: divide the positions by 10"))


def check_body_scale(shoulder: np.ndarray, elbow: np.ndarray, wrist: np.ndarray, ok: np.ndarray,
                     limits: Limits, what: str = "motion") -> None:
    """Refuse a body whose median arm (shoulder-elbow + elbow-wrist) length is implausible.

    shoulder, elbow, wrist: (T, 3) positions in what should be metres; ok: (T,) bool tracked.
    The error names the likely unit and its fix.
    """
    ok = np.asarray(ok, dtype=bool)
    if ok.sum() < 1:
        return
    arm = (np.linalg.norm(elbow[ok] - shoulder[ok], axis=-1)
           + np.linalg.norm(wrist[ok] - elbow[ok], axis=-1))
    arm = arm[np.isfinite(arm)]
    if arm.size == 0:
        return
    length = float(np.median(arm))
    if limits.min_arm_length_m <= length <= limits.max_arm_length_m:
        return
    hint = "check the skeleton's joints"
    if length > limits.max_arm_length_m:
        for factor, unit in _UNIT_SLIPS:
            if limits.min_arm_length_m <= length / factor <= limits.max_arm_length_m:
                hint = f"the positions look like {unit}"
                break
    raise MotionError(f"{what}: median arm (shoulder-elbow-wrist) length {length:.4g} m is outside "
                      f"{_fmt(limits.min_arm_length_m)}-{_fmt(limits.max_arm_length_m)} m "
                      f"(min/max_arm_length_m); {hint} (positions must be metres)")


def imu_problem(accel: np.ndarray, gyro: np.ndarray, limits: Limits) -> str | None:
    """Why an IMU recording is implausible (largest |value| per sensor beyond the limits), or None.

    accel: (N, ..., 3) m/s^2; gyro: (N, ..., 3) rad/s.
    """
    a = float(np.max(np.abs(accel))) if np.size(accel) else 0.0
    g = float(np.max(np.abs(gyro))) if np.size(gyro) else 0.0
    return imu_problem_max(a, g, limits)


def imu_problem_max(a: float, g: float, limits: Limits) -> str | None:
    """``imu_problem`` from the largest |accel| (m/s^2) and |gyro| (rad/s) of a recording."""
    if not a <= limits.max_accel_ms2:
        return (f"implausible accelerometer value {a:.3g} m/s^2 (beyond {_fmt(limits.max_accel_ms2)}, "
                "max_accel_ms2)")
    if not g <= limits.max_gyro_rads:
        return (f"implausible gyroscope value {g:.3g} rad/s (beyond {_fmt(limits.max_gyro_rads)}, "
                "max_gyro_rads)")
    return None
