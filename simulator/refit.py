"""Tracker artefacts the screen cannot mark invalid: whole-body re-fits and jitter while still
(issue 12: SmartFallMM's Azure Kinect).

**Re-fits** (``realign_refits``).

A body tracker sometimes re-fits the whole body in one frame: the torso moves by 10-30 cm between
two frames and stays there (on SmartFallMM, 87 % of such steps persist 8 frames later: a step, not
a spike). Marking the two frames invalid (``screen``) still leaves the step, which the simulator's
low-pass turns into an acceleration and angular-rate burst a worn sensor never saw.

A re-fit is detected from the torso alone: a step in which a torso joint (``TORSO``) moves faster
than ``max_torso_speed_m_s`` (6 m/s by default: the speed a body reaches falling freely from
shoulder height, 1.4 m; a torso joint cannot move faster between two frames). A step right after
a stale (repeated) frame is the tracker catching up after a freeze — the person really moved
while it held the pose (e.g. fell) — and is left alone.

At each re-fit, every frame from the next on is moved by one rigid motion that keeps the vertical
(a turn about the world z axis through the joints' centroid, plus a translation) so that the
first frame after the step lands where the frames before it were heading (the last frame plus its
velocity). It is fitted on the joints the simulator uses and the torso (2-D Kabsch in x-y, mean
in z). Gravity's direction in every segment is unchanged; the arm's own movement after the step is
kept; the absolute position and heading drift, which an IMU does not see.

**Jitter while still** (``smooth_still``). A tracker's joints tremble by millimetres from frame to
frame; through the simulator's low-pass (3-4 Hz for depth cameras) that trembling of a 25-cm
forearm reads as a gyro floor of a few tenths of rad/s that a still real wrist does not have
(synthetic SmartFallMM |gyro| 10th percentile 0.39-0.49 rad/s against 0.00-0.14 real). Where the
arm is still — its joints' speed, measured on the trajectory low-passed at ``still_hz``, below
``still_speed_m_s`` — the joints are blended toward that low-passed trajectory (weight
1 - speed / still_speed, itself low-passed); in motion nothing changes.
"""

from __future__ import annotations

import copy

import numpy as np

from .motion import Motion

#: Joints that judge a re-fit: the trunk, which no real movement moves at limb speed.
TORSO = ("left_shoulder", "right_shoulder", "spine_chest", "pelvis")


def refit_steps(positions: np.ndarray, valid: np.ndarray, fs_hz: float, torso: list[int],
                max_torso_speed_m_s: float) -> np.ndarray:
    """Steps k (frame k -> k + 1) at which a torso joint valid on both frames moves faster than
    the limit, except right after a stale frame (frame k equal to frame k - 1 on every joint
    valid on both). positions: (T, J, 3) m; valid: (T, J); torso: joint indices."""
    if len(positions) < 2 or not torso:
        return np.zeros(0, dtype=np.int64)
    p, v = positions[:, torso], valid[:, torso]
    both = v[1:] & v[:-1]
    speed = np.where(both, np.linalg.norm(np.diff(p, axis=0), axis=2), 0.0).max(axis=1) * fs_hz
    steps = np.flatnonzero(speed > max_torso_speed_m_s)
    if not len(steps):
        return steps
    vb = valid[1:] & valid[:-1]
    same = np.all((positions[1:] == positions[:-1]).all(axis=2) | ~vb, axis=1) & vb.any(axis=1)
    stale = np.r_[False, same]  # stale[k]: frame k repeats frame k - 1
    return steps[~stale[steps]]


def _yaw_fit(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R (3, 3) turn about z, t (3,)) minimising |R src + t - dst| over (N, 3) points (x-y by
    2-D Kabsch, z by the mean)."""
    cs, cd = src.mean(axis=0), dst.mean(axis=0)
    a, b = src[:, :2] - cs[:2], dst[:, :2] - cd[:2]
    ang = np.arctan2(np.sum(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]), np.sum(a * b))
    c, s = np.cos(ang), np.sin(ang)
    r = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return r, cd - r @ cs


def realign(positions: np.ndarray, valid: np.ndarray, steps: np.ndarray, fit: list[int]) -> np.ndarray:
    """(T, J, 3) positions with every frame after each step moved rigidly (``_yaw_fit`` on the
    joints ``fit`` valid on the frames involved) so that frame k + 1 continues frame k at its
    velocity (frame k - k - 1; none at the start or after another step)."""
    out = positions.copy()
    stepset = set(steps.tolist())
    for k in steps.tolist():
        ok = valid[k, fit] & valid[k + 1, fit]
        prev_ok = k >= 1 and (k - 1) not in stepset
        if prev_ok:
            ok &= valid[k - 1, fit]
        cols = np.asarray(fit)[ok]
        if len(cols) < 2:
            continue
        target = out[k, cols] + (out[k, cols] - out[k - 1, cols] if prev_ok else 0.0)
        r, t = _yaw_fit(out[k + 1, cols], target)
        out[k + 1:] = out[k + 1:] @ r.T + t
    return out


def realign_refits(motion: Motion, joints: tuple[str, ...],
                   max_torso_speed_m_s: float = 6.0) -> tuple[Motion, int]:
    """(the Motion with its re-fits re-aligned, the number of steps re-aligned).

    joints: the joints the simulator uses (fitted together with ``TORSO``); a skeleton without
    torso joints is returned as is."""
    names = motion.joint_names
    torso = [names.index(j) for j in TORSO if j in names]
    steps = refit_steps(motion.positions, motion.valid, motion.fps, torso, max_torso_speed_m_s)
    if not len(steps):
        return motion, 0
    fit = sorted(set(torso) | {names.index(j) for j in joints if j in names})
    out = copy.copy(motion)
    out.positions = realign(motion.positions, motion.valid, steps, fit)
    return out, int(len(steps))


def smooth_still(motion: Motion, joints: tuple[str, ...], still_speed_m_s: float = 0.2,
                 still_hz: float = 1.0) -> tuple[Motion, float]:
    """(the Motion with ``joints`` blended toward their ``still_hz`` low-pass where they are
    still, the mean blend weight). A clip with untracked frames of those joints (the simulator
    repairs them later) or too short to filter is returned as is."""
    from .kinematics import MIN_FRAMES, lowpass

    names = motion.joint_names
    cols = [names.index(j) for j in joints if j in names]
    ok = motion.valid[:, cols].all(axis=1) if cols else np.zeros(0, bool)
    if not cols or ok.sum() < max(MIN_FRAMES, 8) or not ok.all():
        return motion, 0.0  # gaps: the simulator's repair comes later; leave such clips alone
    fs = motion.fps
    x = motion.positions[:, cols]
    slow = lowpass(x, fs, still_hz)
    speed = np.linalg.norm(np.gradient(slow, axis=0), axis=2).max(axis=1) * fs
    w = np.clip(1.0 - speed / still_speed_m_s, 0.0, 1.0)
    w = np.clip(lowpass(w, fs, still_hz), 0.0, 1.0)
    out = copy.copy(motion)
    out.positions = motion.positions.copy()
    out.positions[:, cols] = x + w[:, None, None] * (slow - x)
    return out, float(w.mean())
