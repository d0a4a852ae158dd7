"""Rigid re-alignment across whole-body tracker re-fits (simulator/refit.py): a rigid step (turn
about the vertical + shift) put into a moving skeleton is taken out exactly, catch-ups after a
freeze are left alone, and through the screen the simulated wrist loses the step's burst."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from imu2safety.simulator.imu import SimulationOptions, simulate
from imu2safety.simulator.motion import Motion
from imu2safety.simulator.refit import realign_refits
from imu2safety.simulator.screen import ScreenOptions

FPS = 30.0
NAMES = ("pelvis", "spine_chest", "left_shoulder", "right_shoulder", "left_elbow", "left_wrist")
BODY = np.array([[0, 0, 1.0], [0, 0, 1.3], [0, 0.2, 1.45], [0, -0.2, 1.45], [0.05, 0.25, 1.17],
                 [0.3, 0.25, 1.12]])


def _walking(seconds=4.0, speed=0.8):
    """The body translating at constant velocity along x, the forearm swinging gently."""
    t = np.arange(int(seconds * FPS)) / FPS
    pos = np.repeat(BODY[None], len(t), 0) + np.outer(speed * t, [1.0, 0, 0])[:, None]
    pos[:, 5, 2] += 0.05 * np.sin(2 * np.pi * 0.5 * t)
    return Motion(pos, NAMES, t)


def _stepped(motion: Motion, k: int, yaw_deg=40.0, shift=(0.15, -0.1, 0.03)) -> Motion:
    """Frames after k turned about z (through the pelvis of frame k + 1) and shifted."""
    pos = motion.positions.copy()
    r = Rotation.from_euler("z", yaw_deg, degrees=True)
    centre = pos[k + 1, 0].copy()
    pos[k + 1:] = r.apply((pos[k + 1:] - centre).reshape(-1, 3)).reshape(pos[k + 1:].shape) + centre + shift
    return Motion(pos, NAMES, motion.timestamps)


def test_rigid_step_is_taken_out_exactly():
    clean = _walking()
    # a torso-only motion (pure translation): the re-aligned clip equals the clean one
    rigid = Motion(clean.positions.copy(), NAMES, clean.timestamps)
    rigid.positions[:, 5, 2] = BODY[5, 2]
    out, n = realign_refits(_stepped(rigid, 50), ("left_shoulder", "left_elbow", "left_wrist"))
    assert n == 1
    np.testing.assert_allclose(out.positions, rigid.positions, atol=1e-9)
    # with the swinging forearm the arm's own movement is kept (up to one frame's extrapolation)
    out, n = realign_refits(_stepped(clean, 50), ("left_shoulder", "left_elbow", "left_wrist"))
    assert n == 1
    assert np.abs(np.diff(out.positions, axis=0)).max() * FPS < 1.5  # no step left
    # no torso joints (or no step): unchanged, the same object
    same, n = realign_refits(clean, ("left_shoulder",))
    assert n == 0 and same is clean


def test_catch_up_after_a_freeze_is_kept():
    """Frozen for 9 frames, then the tracker catches up by 0.27 m in one frame (8 m/s): the
    person really moved, so nothing is re-aligned; the same jump without the freeze is."""
    clean = _walking()
    pos = clean.positions.copy()
    pos[41:50] = pos[40]
    frozen = Motion(pos, NAMES, clean.timestamps)
    out, n = realign_refits(frozen, ("left_wrist",))
    assert n == 0 and out is frozen
    pos = clean.positions.copy()
    pos[50:] += 9 * (clean.positions[1] - clean.positions[0])  # 9 frames ahead: the same jump
    _, n = realign_refits(Motion(pos, NAMES, clean.timestamps), ("left_wrist",))
    assert n == 1


def test_screen_realign_removes_the_burst():
    clean = _walking()
    stepped = _stepped(clean, 60)
    opts = dict(placement="left_wrist", cutoff_hz=4.0)
    ref = simulate(clean, SimulationOptions(**opts))
    plain = simulate(stepped, SimulationOptions(**opts, screen=ScreenOptions()))
    fixed = simulate(stepped, SimulationOptions(**opts, screen=ScreenOptions(realign_torso_speed_m_s=6.0)))
    assert fixed.info["screen"]["realigned"] == 1 and "realigned" not in plain.info["screen"]
    err_plain = np.abs(plain.accel - ref.accel).max()
    err_fixed = np.abs(fixed.accel - ref.accel).max()
    assert err_fixed < 0.5 < 5.0 < err_plain


def test_still_jitter_is_smoothed_and_motion_kept():
    """A still arm with 5-mm tracker jitter: the gyro floor drops by more than half; a swinging
    arm (fast) is not touched."""
    rng = np.random.default_rng(1)
    t = np.arange(int(8 * FPS)) / FPS
    pos = np.repeat(BODY[None], len(t), 0) + rng.normal(0, 0.005, (len(t), len(NAMES), 3))
    still = Motion(pos, NAMES, t)
    opts = dict(placement="left_wrist", cutoff_hz=4.0)
    raw = simulate(still, SimulationOptions(**opts, screen=ScreenOptions()))
    calm = simulate(still, SimulationOptions(**opts, screen=ScreenOptions(still_speed_m_s=0.2)))
    floor = lambda r: np.median(np.linalg.norm(r.gyro, axis=1))  # noqa: E731
    assert floor(calm) < 0.5 * floor(raw)
    swing = BODY[None].repeat(len(t), 0).copy()
    swing[:, 5, :2] += 0.25 * np.stack([np.sin(2 * np.pi * 1.0 * t), np.cos(2 * np.pi * 1.0 * t)], 1) - [0, 0.25]
    moving = Motion(swing, NAMES, t)
    a = simulate(moving, SimulationOptions(**opts, screen=ScreenOptions()))
    b = simulate(moving, SimulationOptions(**opts, screen=ScreenOptions(still_speed_m_s=0.2)))
    np.testing.assert_array_equal(a.gyro, b.gyro)
