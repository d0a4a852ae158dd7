"""Tracking-plausibility screen (simulator/screen.py): stale frames, implausible speeds."""

from __future__ import annotations

import numpy as np
import pytest

from imu2safety.simulator.imu import SimulationOptions, simulate
from imu2safety.simulator.motion import Motion
from imu2safety.simulator.screen import (ScreenOptions, despike, fast_frames, screen_motion,
                                         stale_frames)

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


def _dropped(clean: Motion, frames=(30, 55, 90)) -> Motion:
    """``clean`` with a dropped frame at each of ``frames``: the pose repeated, then caught up."""
    x = clean.positions.copy()
    for k in frames:
        x[k] = x[k - 1]
    return Motion(x, NAMES, clean.timestamps)


def test_screen_repairs_dropped_frames_back_to_the_clean_signal():
    # A dropped frame (pose repeated, then caught up) makes a spike; after the screen marks it
    # invalid, the simulator's interpolation gives back the clean clip's IMU closely.
    clean = _swing()
    broken = _dropped(clean)
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


def _tracked(motion: Motion) -> Motion:
    """The same arm as a Kinect v1 (UTD-MHAD order) skeleton: a depth-camera input kind."""
    from imu2safety.simulator.joints import JOINT_SETS

    names = JOINT_SETS["utd_mhad"]
    x = np.zeros((motion.num_frames, len(names), 3)) + [0.0, 0.0, 1.0]
    for k, j in enumerate(("left_shoulder", "left_elbow", "left_wrist")):
        x[:, names.index(j)] = motion.positions[:, k]
    return Motion(x, names, motion.timestamps)


def test_simulator_screens_tracker_skeletons_by_default_only():
    clean = _swing()
    broken = _dropped(clean)
    opts = SimulationOptions(placement="left_wrist", cutoff_hz=8.0)
    # A generic skeleton (NPZ/BVH kind) is taken as it is: "auto" does not screen it ...
    raw = simulate(broken, opts)
    assert "screen" not in raw.info
    # ... a tracker's skeleton (Kinect v1 joints) is screened, and says so in its provenance.
    tracked = simulate(_tracked(broken), opts)
    assert tracked.info["screen"] == {"stale_frames": 3, "fast_frames": 0, "refused": None}
    ref = simulate(_tracked(clean), opts)
    assert np.abs(tracked.accel - ref.accel).max() < 0.1 * np.abs(raw.accel - ref.accel).max()
    off = simulate(_tracked(broken), SimulationOptions(placement="left_wrist", cutoff_hz=8.0, screen=None))
    np.testing.assert_allclose(off.accel, raw.accel, atol=1e-9)
    forced = simulate(broken, SimulationOptions(placement="left_wrist", cutoff_hz=8.0,
                                                screen=ScreenOptions()))
    np.testing.assert_allclose(forced.accel, tracked.accel, atol=1e-9)
    assert opts.to_dict()["screen"] == "auto"
    assert forced.info["screen"]["stale_frames"] == 3
    with pytest.raises(ValueError, match="screen"):
        SimulationOptions(screen="on")


def test_simulator_refuses_an_implausibly_tracked_clip_with_its_reason():
    from imu2safety.simulator.imu import simulate_many
    from imu2safety.simulator.motion import MotionError

    m = _swing()
    x = m.positions.copy()
    x[::2, 2] += [0.5, 0.0, 0.0]
    [res, ok] = simulate_many([_tracked(Motion(x, NAMES, m.timestamps)), _tracked(m)],
                              SimulationOptions(placement="left_wrist"), ["bad", "good"], errors="return")
    assert isinstance(res, MotionError) and "implausible tracking" in str(res)
    assert np.isfinite(ok.accel).all() and ok.info["screen"]["refused"] is None


def test_repair_speed_spreads_a_jump_over_the_time_a_limb_would_take():
    m = _swing()
    x = m.positions.copy()
    x[60:, 2] += [0.4, 0.0, 0.0]     # 0.4 m in one frame; at 2 m/s it takes 0.2 s = 6 frames
    ones = np.ones(x.shape[:2], bool)
    bad = fast_frames(x, ones, 30.0, 8.0, repair_speed=2.0)
    idx = np.flatnonzero(bad)  # step 59 -> 60; ~0.41 m (jump + swing) / 4 m/s * 30 fps: 3-4 frames a side
    assert idx[0] + idx[-1] == 59 + 60 and len(idx) == idx[-1] - idx[0] + 1 and len(idx) in (8, 10)
    screened, info = screen_motion(Motion(x, NAMES, m.timestamps),
                                   ScreenOptions(max_speed_m_s=8.0, repair_speed_m_s=2.0))
    assert info.fast_frames == len(idx)
    t, ok = screened.timestamps, screened.valid[:, 2]
    wrist = np.stack([np.interp(t, t[ok], screened.positions[ok, 2, c]) for c in range(3)], 1)
    speed = np.linalg.norm(np.diff(wrist, axis=0), axis=1) * 30.0
    assert speed.max() < 2.0 + 0.5  # the jump's share plus the swing's own 0.44 m/s


@pytest.mark.parametrize("repair", [None, 3.0])
def test_compiled_screen_equals_the_numpy_rules(repair):
    """screen_motion's compiled pass marks exactly what stale_frames + fast_frames mark."""
    from imu2safety.simulator import kernels
    from imu2safety.simulator.screen import fast_frames, stale_frames

    rng = np.random.default_rng(7)
    for trial in range(60):
        n, j = int(rng.integers(2, 120)), int(rng.integers(1, 5))
        x = np.cumsum(rng.normal(0, 0.02, (n, j, 3)), axis=0)
        for _ in range(int(rng.integers(0, 4))):  # stale runs of 1-6 frames
            a = int(rng.integers(1, n))
            x[a:a + int(rng.integers(1, 7))] = x[a - 1]
        for _ in range(int(rng.integers(0, 3))):  # jumps
            x[int(rng.integers(0, n)):] += rng.normal(0, 0.5, 3)
        valid = rng.random((n, j)) > 0.05
        t = np.cumsum(rng.choice([1 / 30, 1 / 30, 1 / 15, 0.0], n))
        if trial % 3 == 0:
            t = rng.permutation(t)  # out of order: screen_motion hands the kernel sorted times
        cols = np.array(sorted(rng.choice(j, int(rng.integers(1, j + 1)), replace=False)), dtype=np.int64)
        opts = ScreenOptions(repair_speed_m_s=repair)
        stale, fast = np.empty(n, bool), np.empty(n, bool)
        kernels.screen_flags(x, valid, cols, opts.stale_max_run, np.sort(t), opts.max_speed_m_s,
                             opts.repair_speed_m_s or 0.0, stale, fast)
        want_stale = stale_frames(x[:, cols], valid[:, cols], opts.stale_max_run)
        dt = np.diff(np.sort(t))
        fs = 1.0 / np.median(dt[dt > 0]) if (dt > 0).any() else float("nan")
        want_fast = fast_frames(x[:, cols], valid[:, cols] & ~want_stale[:, None], fs,
                                opts.max_speed_m_s, opts.repair_speed_m_s)
        assert np.array_equal(stale, want_stale), trial
        assert np.array_equal(fast, want_fast), trial


def test_despike_removes_short_outliers_and_keeps_monotone_motion_and_steps():
    t = np.arange(40, dtype=np.float64)
    x = np.zeros((40, 1, 3))
    x[:, 0, 0] = 0.05 * t                     # constant velocity: a median of 3 or 5 is the middle
    x[:, 0, 1] = np.where(t >= 20, 0.3, 0.0)  # a step (a re-fit, or a real arrival): kept
    clean = x.copy()
    x[10, 0, 2] = 0.2                          # a one-frame outlier (6 m/s at 30 fps: under 12)
    x[30:32, 0, 2] = -0.2                      # a two-frame outlier
    three, five = despike(x, 3), despike(x, 5)
    np.testing.assert_array_equal(three[:, 0, :2], clean[:, 0, :2])
    np.testing.assert_array_equal(five[:, 0, :2], clean[:, 0, :2])
    assert three[10, 0, 2] == 0.0 and np.all(three[30:32, 0, 2] == -0.2)  # 2 frames survive 3
    np.testing.assert_array_equal(five[:, 0, 2], 0.0)                   # ... not 5
    # through the screen: only the judged joints change, flags and validity as before
    m = _swing()
    pos = m.positions.copy()
    pos[50, 2] += [0.0, 0.0, 0.15]
    spiky = Motion(pos, NAMES, m.timestamps)
    out, info = screen_motion(spiky, ScreenOptions(despike_frames=3), joints=("left_wrist",))
    # the outlier (up, on a rising wrist) becomes the middle of the three: the next frame's
    np.testing.assert_array_equal(out.positions[50, 2, 2], pos[51, 2, 2])
    np.testing.assert_array_equal(out.positions[50, 2, :2], pos[50, 2, :2])
    np.testing.assert_array_equal(out.positions[:, :2], pos[:, :2])
    assert spiky.positions[50, 2, 2] == pos[50, 2, 2]  # the input is not changed
    assert info.fast_frames == 0 and out.valid.all()
    for bad in (2, 4, 0, True, 3.0):
        with pytest.raises(ValueError, match="despike_frames"):
            ScreenOptions(despike_frames=bad)
