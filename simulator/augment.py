"""Augmentations of the simulator's inputs: how the device sits on the wrist, which hand wears it."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

from .motion import Motion
from .placement import Mounting, check_placement, mirrored_placement


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


def swap_handedness(motion: Motion, placement: str) -> tuple[Motion, str]:
    """Left/right mirrored motion (y -> -y, left_* <-> right_*) and the mirrored placement.

    A left-wrist recording becomes a right-wrist one and vice versa; ``phone_in_hand`` keeps its
    name: it is still read from the right hand, which in the mirrored motion is the mirror image
    of the original left hand.
    """
    check_placement(placement)
    return motion.mirrored(), mirrored_placement(placement)
