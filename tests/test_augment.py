"""Mounting jitter and handedness swap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from imu2safety.simulator.augment import jitter_mounting, swap_handedness
from imu2safety.simulator.motion import Motion
from imu2safety.simulator.placement import Mounting, default_mounting


def test_jitter_stays_within_bounds():
    base = Mounting(rotation=Rotation.from_euler("xyz", [10, -20, 30], degrees=True),
                    offset_m=np.array([-0.03, 0.0, 0.02]))
    shifts, angles = [], []
    for seed in range(500):
        m = jitter_mounting(base, np.random.default_rng(seed), position_m=0.02, rotation_deg=20.0)
        shifts.append(m.offset_m - base.offset_m)
        angles.append(np.degrees((base.rotation.inv() * m.rotation).magnitude()))
    shifts, angles = np.array(shifts), np.array(angles)
    assert np.all(np.abs(shifts) <= 0.02) and np.all(angles <= 20.0 + 1e-9)
    # Uniform draws fill their ranges (not a degenerate perturbation).
    assert np.abs(shifts).max() > 0.019 and angles.max() > 19.0 and angles.min() < 1.0
    assert abs(np.mean(angles) - 10.0) < 1.0  # uniform angle in [0, 20] deg: mean 10


def test_jitter_is_deterministic_per_rng():
    base = default_mounting("left_wrist")
    a = jitter_mounting(base, np.random.default_rng(11))
    b = jitter_mounting(base, np.random.default_rng(11))
    c = jitter_mounting(base, np.random.default_rng(12))
    assert np.array_equal(a.offset_m, b.offset_m)
    assert np.array_equal(a.rotation.as_quat(), b.rotation.as_quat())
    assert not np.array_equal(a.offset_m, c.offset_m)


def test_zero_jitter_keeps_mounting_and_bad_bounds_fail():
    base = default_mounting("right_wrist")
    m = jitter_mounting(base, np.random.default_rng(0), position_m=0.0, rotation_deg=0.0)
    assert np.array_equal(m.offset_m, base.offset_m)
    assert (base.rotation.inv() * m.rotation).magnitude() == 0.0
    with pytest.raises(ValueError, match="position_m"):
        jitter_mounting(base, np.random.default_rng(0), position_m=-0.01)
    with pytest.raises(ValueError, match="rotation_deg"):
        jitter_mounting(base, np.random.default_rng(0), rotation_deg=200.0)


def _motion() -> Motion:
    rng = np.random.default_rng(0)
    positions = rng.normal(size=(4, 3, 3))
    return Motion.from_fps(positions, ("left_wrist", "right_wrist", "pelvis"), fps=30.0)


def test_swap_handedness_mirrors_y_and_swaps_names():
    motion = _motion()
    before = motion.positions.copy()
    mirrored, placement = swap_handedness(motion, "left_wrist")
    assert placement == "right_wrist"
    assert set(mirrored.joint_names) == {"left_wrist", "right_wrist", "pelvis"}
    flip = np.array([1.0, -1.0, 1.0])
    np.testing.assert_array_equal(mirrored.joint("right_wrist"), motion.joint("left_wrist") * flip)
    np.testing.assert_array_equal(mirrored.joint("left_wrist"), motion.joint("right_wrist") * flip)
    np.testing.assert_array_equal(mirrored.joint("pelvis"), motion.joint("pelvis") * flip)
    np.testing.assert_array_equal(motion.positions, before)  # input untouched
    assert swap_handedness(motion, "right_wrist")[1] == "left_wrist"
    assert swap_handedness(motion, "phone_in_hand")[1] == "phone_in_hand"
    with pytest.raises(ValueError, match="placement"):
        swap_handedness(motion, "ankle")
