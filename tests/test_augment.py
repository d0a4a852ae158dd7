"""Mounting jitter and handedness swap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from imu2safety.simulator.augment import (AUGMENTATIONS, AugmentOptions, augmented_copy,
                                          jitter_mounting, scale_amplitude, swap_handedness,
                                          time_warp, warp_times)
from imu2safety.simulator.imu import SimulationOptions, simulate
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


# ---------------------------------------------------------------- separate kinds (issue 12)

def _arm_motion() -> Motion:
    t = np.arange(90) / 30.0
    th = 0.5 * np.sin(2 * np.pi * 0.5 * t)
    e = np.array([0.0, 0.2, 1.1])
    w = e + 0.28 * np.stack([np.cos(th), 0 * th, np.sin(th)], 1)
    pos = np.stack([np.broadcast_to(e + [0, 0, 0.3], w.shape), np.broadcast_to(e, w.shape), w], 1)
    return Motion(pos, ("left_shoulder", "left_elbow", "left_wrist"), t)


def test_warp_times_is_monotone_bounded_and_keeps_the_start():
    t = np.arange(300) / 30.0
    for seed in range(20):
        w = warp_times(t, np.random.default_rng(seed), 0.1)
        assert w[0] == t[0]
        speed = np.diff(w) / np.diff(t)
        assert speed.min() > 0.9 * 0.95 - 1e-9 and speed.max() < 1.1 * 1.05 + 1e-9
    np.testing.assert_allclose(warp_times(t, np.random.default_rng(0), 0.0), t)


def test_scale_amplitude_scales_each_sensor_by_one_factor():
    imu = np.random.default_rng(1).normal(size=(50, 6))
    out = scale_amplitude(imu, np.random.default_rng(2), 0.1)
    fa, fg = out[:, :3] / imu[:, :3], out[:, 3:] / imu[:, 3:]
    np.testing.assert_allclose(fa, fa[0, 0])
    np.testing.assert_allclose(fg, fg[0, 0])
    assert 0.5 <= fa[0, 0] <= 1.5 and fa[0, 0] != fg[0, 0]


def test_augmented_copy_applies_exactly_the_chosen_kinds():
    motion, opts = _arm_motion(), SimulationOptions(placement="left_wrist", cutoff_hz="auto")
    only_mirror = AugmentOptions(kinds=("mirror",))
    m1, o1, g1, a1 = augmented_copy(motion, opts, only_mirror, 1, "c")
    m2, o2, g2, a2 = augmented_copy(motion, opts, only_mirror, 2, "c")
    assert m1 is motion and o1 == opts and g1 is None and a1 == {"copy": 1}
    assert a2 == {"copy": 2, "mirrored": True} and o2.mounting is None
    np.testing.assert_array_equal(m2.positions[..., 1], -motion.positions[..., 1])
    only_jitter = AugmentOptions(kinds=("jitter",))
    m3, o3, _, a3 = augmented_copy(motion, opts, only_jitter, 2, "c")
    assert m3 is motion and o3.mounting is not None and "mirrored" not in a3
    everything = AugmentOptions(kinds=AUGMENTATIONS)
    m4, o4, g4, a4 = augmented_copy(motion, opts, everything, 3, "c")
    assert not np.array_equal(m4.timestamps, motion.timestamps)
    assert o4.device in everything.devices and g4 is not None
    assert 0.7 * 8.0 <= o4.cutoff_hz <= 1.4 * 8.0  # "auto" resolved for this joint set first
    again = augmented_copy(motion, opts, everything, 3, "c")
    assert again[1].to_dict() == o4.to_dict() and again[2] == g4 and again[3] == a4  # deterministic per (seed, id, k)
    with pytest.raises(ValueError, match="unknown augmentation"):
        AugmentOptions(kinds=("flip",))


def test_time_warped_copy_simulates_the_same_poses_faster_or_slower():
    motion = _arm_motion()
    warped = time_warp(motion, np.random.default_rng(3), 0.1)
    np.testing.assert_array_equal(warped.positions, motion.positions)
    a = simulate(motion, SimulationOptions())
    b = simulate(warped, SimulationOptions())
    assert len(a.timestamps) != len(b.timestamps)
    assert np.isfinite(b.gyro).all()


def test_roll_turns_a_still_watch_about_the_forearm_by_the_drawn_angle():
    # Closed form: a still arm; the rolled device reads the unrolled specific force turned by
    # -angle about the forearm (device x), gyro stays zero.
    from imu2safety.simulator.augment import roll_mounting

    t = np.arange(60) / 30.0
    pos = np.broadcast_to(np.array([[0.0, 0.2, 1.4], [0.0, 0.2, 1.1], [0.2, 0.3, 1.05]]), (60, 3, 3))
    still = Motion(pos.copy(), ("left_shoulder", "left_elbow", "left_wrist"), t)
    opts = SimulationOptions(placement="left_wrist", cutoff_hz=None)
    base = simulate(still, opts)
    for angle in (-30.0, 12.5, 90.0):
        m = roll_mounting(default_mounting("left_wrist"), "left_wrist", angle)
        rolled = simulate(still, SimulationOptions(placement="left_wrist", cutoff_hz=None, mounting=m))
        expect = Rotation.from_euler("x", -angle, degrees=True).apply(base.accel)
        np.testing.assert_allclose(rolled.accel, expect, atol=1e-6)
        np.testing.assert_allclose(rolled.gyro, 0.0, atol=1e-9)
        np.testing.assert_allclose(m.offset_m, default_mounting("left_wrist").offset_m)
    aug = AugmentOptions(kinds=("roll",), roll_deg=25.0)
    angles = [augmented_copy(still, opts, aug, k, "c")[3]["roll_deg"] for k in range(1, 40)]
    assert max(np.abs(angles)) <= 25.0 and min(angles) < -5 and max(angles) > 5
    with pytest.raises(ValueError, match="roll_deg"):
        AugmentOptions(roll_deg=200.0)
