"""Augmentations of the simulator's inputs and outputs, each its own option.

``AugmentOptions.kinds`` picks any of ``AUGMENTATIONS``; copy k of a clip (k = 1..copies) applies
every chosen kind with draws from (seed, clip id, k) (``augmented_copy``):

- ``jitter``: the device worn off its nominal spot (``jitter_mounting``: +-2 cm, up to 20 degrees);
- ``mirror``: every second copy (even k) is the left/right mirrored motion (``swap_handedness``),
  the other arm seen as this placement's arm; it helps two-arm and whole-body classes (falls)
  and can hurt one-arm actions, so it is separate from ``jitter``;
- ``warp``: smooth time warp (``time_warp``): a global speed factor in [1 - warp, 1 + warp] and
  one slow cycle of +-warp/2 local speed change;
- ``scale``: amplitude scaling (``scale_amplitude``): the accelerometer and the gyroscope each
  multiplied by a factor from N(1, scale) (clipped to [0.5, 1.5]), as a sensor's scale error or a
  more or less vigorous performer would;
- ``device``: the device profile drawn from ``devices`` (noise, bias, range, ADC);
- ``cutoff``: the trajectory low-pass cutoff multiplied by a factor in ``cutoff_range`` (how much
  of the tracker's jitter survives);
- ``roll``: the device turned about the forearm axis by an angle uniform in [-roll_deg, +roll_deg]
  (``roll_mounting``): a strap worn more or less rotated around the wrist, which differs from
  person to person more than any other mounting angle.

Each was measured on held-out subjects by ``benchmarks/fidelity_report.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial.transform import Rotation

from .motion import Motion
from .placement import Mounting, check_placement, default_mounting, mirrored_placement
from .rng import clip_rng

if TYPE_CHECKING:
    from .imu import SimulationOptions

AUGMENTATIONS: tuple[str, ...] = ("jitter", "mirror", "warp", "scale", "device", "cutoff", "roll")


@dataclass(frozen=True)
class AugmentOptions:
    """Which augmentations each extra copy gets, and how strong they are.

    kinds: subset of AUGMENTATIONS (default: jitter and mirror, the behaviour of ``--augment``
        before the kinds were separate).
    warp: relative speed change of ``warp``; scale: standard deviation of ``scale``'s factors;
    devices: profiles ``device`` draws from; cutoff_range: (low, high) factor of ``cutoff``;
    roll_deg: largest turn of ``roll`` about the forearm, degrees.
    """

    kinds: tuple[str, ...] = ("jitter", "mirror")
    warp: float = 0.1
    scale: float = 0.1
    devices: tuple[str, ...] = ("ideal", "bmi160", "icm42688p")
    cutoff_range: tuple[float, float] = (0.7, 1.4)
    roll_deg: float = 30.0

    def __post_init__(self) -> None:
        kinds = tuple(self.kinds)
        bad = [k for k in kinds if k not in AUGMENTATIONS]
        if bad:
            raise ValueError(f"unknown augmentation(s) {bad}; choose from {AUGMENTATIONS}")
        object.__setattr__(self, "kinds", kinds)
        if not 0.0 <= self.warp < 0.5:
            raise ValueError(f"warp must be in [0, 0.5), got {self.warp}")
        if not 0.0 <= self.scale <= 0.5:
            raise ValueError(f"scale must be in [0, 0.5], got {self.scale}")
        lo, hi = self.cutoff_range
        if not 0 < lo <= hi:
            raise ValueError(f"cutoff_range must be 0 < low <= high, got {self.cutoff_range}")
        if not (math.isfinite(self.roll_deg) and 0 <= self.roll_deg <= 180):
            raise ValueError(f"roll_deg must be in [0, 180], got {self.roll_deg}")


def jitter_mounting(mounting: Mounting, rng: np.random.Generator, position_m: float = 0.02,
                    rotation_deg: float = 20.0) -> Mounting:
    """A randomly perturbed mounting (the watch worn a little off its nominal spot).

    Offset: each segment-frame component moves by an independent uniform draw in
    [-position_m, +position_m] (metres). Rotation: an extra rotation about an isotropic random axis
    by an angle uniform in [0, rotation_deg], applied on the device side
    (``rotation * delta``), so the new mounting differs from the old by at most ``rotation_deg``.
    """
    if not (math.isfinite(position_m) and position_m >= 0):
        raise ValueError(f"position_m must be finite and >= 0, got {position_m}")
    if not (math.isfinite(rotation_deg) and 0 <= rotation_deg <= 180):
        raise ValueError(f"rotation_deg must be in [0, 180], got {rotation_deg}")
    offset = mounting.offset_m + rng.uniform(-position_m, position_m, size=3)
    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    angle = math.radians(rng.uniform(0.0, rotation_deg))
    delta = Rotation.from_rotvec(axis * angle)
    return Mounting(rotation=mounting.rotation * delta, offset_m=offset)


#: Device axis along the forearm for each placement (``placement``): the wrist placements' x.
FOREARM_AXIS: dict[str, np.ndarray] = {"left_wrist": np.array([1.0, 0.0, 0.0]),
                                       "right_wrist": np.array([1.0, 0.0, 0.0]),
                                       "phone_in_hand": np.array([0.0, 1.0, 0.0])}


def roll_mounting(mounting: Mounting, placement: str, angle_deg: float) -> Mounting:
    """The mounting turned by ``angle_deg`` about the placement's forearm axis (device side:
    ``rotation * R_axis(angle)``; the offset is kept). A still device then reads the old specific
    force turned by -angle about that axis."""
    check_placement(placement)
    delta = Rotation.from_rotvec(FOREARM_AXIS[placement] * math.radians(angle_deg))
    return Mounting(rotation=mounting.rotation * delta, offset_m=mounting.offset_m)


def swap_handedness(motion: Motion, placement: str) -> tuple[Motion, str]:
    """Left/right mirrored motion (y -> -y, left_* <-> right_*) and the mirrored placement.

    A left-wrist recording becomes a right-wrist one and vice versa; ``phone_in_hand`` keeps its
    name: it is still read from the right hand, which in the mirrored motion is the mirror image
    of the original left hand.
    """
    check_placement(placement)
    return motion.mirrored(), mirrored_placement(placement)


def warp_times(t: np.ndarray, rng: np.random.Generator, warp: float) -> np.ndarray:
    """Monotone warped timestamps (T,) s: t' = t0 + c (s + warp/2 * D/(2 pi) sin(2 pi s/D + p)) with
    s = t - t0, D the duration, c ~ U[1 - warp, 1 + warp]; the local speed stays within
    c (1 +- warp/2) > 0."""
    t = np.asarray(t, dtype=np.float64)
    s = t - t[0]
    dur = max(float(s[-1]), 1e-9)
    c = rng.uniform(1.0 - warp, 1.0 + warp)
    phase = rng.uniform(0.0, 2 * np.pi)
    bump = 0.5 * warp * dur / (2 * np.pi) * (np.sin(2 * np.pi * s / dur + phase) - np.sin(phase))
    return t[0] + c * (s + bump)


def time_warp(motion: Motion, rng: np.random.Generator, warp: float = 0.1) -> Motion:
    """The same poses on a smoothly warped timeline (``warp_times``): faster or slower performers."""
    return Motion(motion.positions, motion.joint_names, warp_times(motion.timestamps, rng, warp),
                  motion.valid)


def scale_amplitude(imu: np.ndarray, rng: np.random.Generator, scale: float = 0.1) -> np.ndarray:
    """(N, 6) ax ay az gx gy gz with the accelerometer and gyroscope each multiplied by its own
    factor ~ N(1, scale), clipped to [0.5, 1.5]."""
    f = np.clip(rng.normal(1.0, scale, 2), 0.5, 1.5)
    out = np.array(imu, dtype=np.float64, copy=True)
    out[:, :3] *= f[0]
    out[:, 3:] *= f[1]
    return out


def augmented_copy(motion: Motion, options: "SimulationOptions", aug: AugmentOptions, k: int,
                   clip_id: str) -> tuple[Motion, "SimulationOptions", float | None, dict]:
    """Copy ``k`` (>= 1) of a clip: (motion, simulation options, output gain seed or None, what
    was applied). Draws come from (options.seed, clip_id, f"augment{k}") only.

    The third item, when not None, is the seed of ``scale_amplitude`` for the simulated output
    (``apply_output``)."""
    from .cutoff import default_cutoff_hz

    rng = clip_rng(options.seed, clip_id, f"augment{k}")
    applied: dict = {"copy": k}
    opts = options
    if "mirror" in aug.kinds and k % 2 == 0:
        motion = motion.mirrored()
        applied["mirrored"] = True
    if "jitter" in aug.kinds:
        base = options.mounting or default_mounting(options.placement)
        opts = replace(opts, mounting=jitter_mounting(base, rng))
        applied["jitter"] = True
    if "warp" in aug.kinds and aug.warp > 0:
        motion = time_warp(motion, rng, aug.warp)
        applied["warp"] = aug.warp
    if "device" in aug.kinds:
        opts = replace(opts, device=str(aug.devices[int(rng.integers(len(aug.devices)))]))
        applied["device"] = opts.device
    if "cutoff" in aug.kinds and options.cutoff_hz is not None:
        base_cut = default_cutoff_hz(motion) if options.cutoff_hz == "auto" else options.cutoff_hz
        opts = replace(opts, cutoff_hz=float(base_cut * rng.uniform(*aug.cutoff_range)))
        applied["cutoff_hz"] = round(opts.cutoff_hz, 4)
    gain_seed = None
    if "scale" in aug.kinds and aug.scale > 0:
        gain_seed = int(rng.integers(2**63))
        applied["scale"] = aug.scale
    if "roll" in aug.kinds and aug.roll_deg > 0:
        angle = float(rng.uniform(-aug.roll_deg, aug.roll_deg))
        base = opts.mounting or default_mounting(opts.placement)
        opts = replace(opts, mounting=roll_mounting(base, opts.placement, angle))
        applied["roll_deg"] = round(angle, 3)
    return motion, opts, gain_seed, applied


def apply_output(imu: np.ndarray, gain_seed: int | None, aug: AugmentOptions) -> np.ndarray:
    """The output-side augmentation of a copy (amplitude scaling when ``gain_seed`` is set)."""
    if gain_seed is None:
        return imu
    return scale_amplitude(imu, np.random.default_rng(gain_seed), aug.scale)
