"""Tracking-plausibility screen (simulator/screen.py): stale frames, implausible speeds."""

from __future__ import annotations

import numpy as np
import pytest

from imu2safety.simulator.imu import SimulationOptions, simulate
from imu2safety.simulator.motion import Motion
from imu2safety.simulator.screen import ScreenOptions, fast_frames, screen_motion, stale_frames

NAMES = ("left_shoulder", "left_elbow", "left_wrist")


def _swing(n: int = 150, fps: float = 30.0) -> Motion:
    """Forearm swinging at 0.5 Hz about the elbow (wrist speed 0.28 m * 0.5 rad * pi = 0.44 m/s)."""
    t = np.arange(n) / fps
    th = 0.5 * np.sin(np.pi * t)
    e = np.array([0.0, 0.2, 1.1])
    w = e + 0.28 * np.stack([np.cos(th), 0 * th, np.sin(th)], 1)
    pos = np.stack([np.broadcast_to(e + [0, 0, 0.3], w.shape), np.broadcast_to(e, w.shape), w], 1)
    return Motion(pos.copy(), NAMES, t)


def test_stale_runs_are_found_exactly_and_long_runs_kept():
    m = _swing()
    x = m.positions.copy()
    x[41] = x[40]                    # one dropped frame
    x[80:83] = x[79]                 # a run of three
    x[100:130] = x[99]               # the tracker held the pose for a second
    got = stale_frames(x, np.ones(x.shape[:2], bool))
    assert set(np.flatnonzero(got)) == {41, 80, 81, 82} | set(range(100, 130))
    short = stale_frames(x, np.ones(x.shape[:2], bool), max_run=3)
    assert set(np.flatnonzero(short)) == {41, 80, 81, 82}


def test_fast_frames_flag_both_sides_of_a_jump_only():
    m = _swing()
    x = m.positions.copy()
    x[60:, 2] += [0.4, 0.0, 0.0]     # the wrist jumps 0.4 m in one frame (12 m/s at 30 fps)
    bad = fast_frames(x, np.ones(x.shape[:2], bool), 30.0, 8.0)
    assert set(np.flatnonzero(bad)) == {59, 60}
    assert not fast_frames(m.positions, np.ones(x.shape[:2], bool), 30.0, 8.0).any()


def test_screen_repairs_dropped_frames_back_to_the_clean_signal():
    # A dropped frame (pose repeated, then caught up) makes a spike; after the screen marks it
    # invalid, the simulator's interpolation gives back the clean clip's IMU closely.
    clean = _swing()
    x = clean.positions.copy()
    for k in (30, 55, 90):
        x[k] = x[k - 1]
    broken = Motion(x, NAMES, clean.timestamps)
    opts = SimulationOptions(placement="left_wrist", cutoff_hz=8.0)
    ref = simulate(clean, opts).accel
    raw = simulate(broken, opts).accel
    fixed_motion, info = screen_motion(broken)
    assert info.stale_frames == 3 and info.fast_frames == 0 and info.refused is None
    assert fixed_motion.valid.sum() == broken.valid.sum() - 3 * 3
    fixed = simulate(fixed_motion, opts).accel
    err_raw = np.abs(raw - ref).max()
    err_fixed = np.abs(fixed - ref).max()
    assert err_fixed < 0.1 * err_raw and err_fixed < 0.2  # m/s^2
    same, info = screen_motion(clean)
    assert same is clean and info.stale_frames == info.fast_frames == 0


def test_screen_refuses_a_clip_that_is_mostly_implausible_and_checks_options():
    m = _swing()
    x = m.positions.copy()
    x[::2, 2] += [0.5, 0.0, 0.0]     # the wrist flickers between two places every frame
    _, info = screen_motion(Motion(x, NAMES, m.timestamps))
    assert info.refused and "implausible tracking" in info.refused
    _, info = screen_motion(Motion(x, NAMES, m.timestamps), joints=("left_shoulder",))
    assert info.refused is None  # only the judged joints count
    with pytest.raises(ValueError):
        ScreenOptions(max_speed_m_s=0.0)
