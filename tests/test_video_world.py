"""Geometry: a known 3D walk and fall, projected through a known pinhole camera, comes back in
the world frame (z up) with the root's drop recovered."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from imu2safety.builders.video.world import (camera_to_world, floor_height, focal_from_fov,
                                             root_translation, to_world, up_from_body,
                                             up_from_pitch_roll)
from imu2safety.simulator.joints import H36M_17

# A 1.75 m person standing at the origin, facing -y (toward the camera), z up, metres.
STAND = {
    "pelvis": (0, 0, 0.95), "right_hip": (-0.13, 0, 0.93), "right_knee": (-0.13, 0, 0.50),
    "right_ankle": (-0.13, 0, 0.08), "left_hip": (0.13, 0, 0.93), "left_knee": (0.13, 0, 0.50),
    "left_ankle": (0.13, 0, 0.08), "spine": (0, 0, 1.20), "thorax": (0, 0, 1.45),
    "neck": (0, -0.05, 1.55), "head": (0, 0, 1.72), "left_shoulder": (0.19, 0, 1.42),
    "left_elbow": (0.21, 0, 1.13), "left_wrist": (0.22, 0, 0.87), "right_shoulder": (-0.19, 0, 1.42),
    "right_elbow": (-0.21, 0, 1.13), "right_wrist": (-0.22, 0, 0.87),
}
TEMPLATE = np.array([STAND[n] for n in H36M_17], float)


def walk_then_fall(fps: float = 30.0) -> np.ndarray:
    """(T, 17, 3) world positions: 2 s walking diagonally (legs and arms swinging), a 0.8 s
    forward-sideways fall pivoting about the feet, 1 s lying on the floor."""
    frames = []
    legs = [H36M_17.index(n) for n in ("right_knee", "right_ankle", "left_knee", "left_ankle")]
    arms = [H36M_17.index(n) for n in ("right_elbow", "right_wrist", "left_elbow", "left_wrist")]
    sign = np.array([1, 1, -1, -1])
    n_walk, n_fall, n_lie = int(2 * fps), int(0.8 * fps), int(1 * fps)
    pos = np.array([-0.6, 0.0, 0.0])
    for k in range(n_walk):
        t = k / fps
        p = TEMPLATE.copy()
        swing = 0.25 * np.sin(2 * np.pi * 1.0 * t)
        depth = np.array([0.5, 0.5, 0.5, 1.0])  # knees swing half as far as ankles
        p[legs, 1] += sign * swing * depth
        p[arms, 1] -= sign * swing * np.array([0.4, 0.8, 0.4, 0.8])
        p += pos + np.array([0.6 * t, 0.4 * t, 0.02 * np.sin(4 * np.pi * t)])
        frames.append(p)
    last = frames[-1]
    pivot = (last[H36M_17.index("left_ankle")] + last[H36M_17.index("right_ankle")]) / 2
    pivot[2] = 0.0
    axis = np.array([1.0, 0.3, 0.0]) / np.linalg.norm([1.0, 0.3, 0.0])
    for k in range(1, n_fall + n_lie + 1):
        s = min(1.0, k / n_fall)
        angle = (np.pi / 2 - 0.1) * s ** 2  # accelerating fall, ends lying
        rot = Rotation.from_rotvec(-axis * angle)
        frames.append(rot.apply(last - pivot) + pivot + [0, 0, 0.02 * s])
    return np.array(frames)


def project(world: np.ndarray, cam_pos: np.ndarray, r_wc: np.ndarray, f: float,
            c: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame positions and pixels of world points (camera x right, y down, z forward)."""
    cam = (world - cam_pos) @ r_wc  # p_cam = R_wc^T (p - C)
    uv = f * cam[..., :2] / cam[..., 2:3] + np.asarray(c)
    return cam, uv


@pytest.mark.parametrize("given_pitch", [False, True])
def test_walk_and_fall_come_back_in_world_frame(given_pitch):
    W, H = 1280, 720
    f = focal_from_fov(W, 65.0)
    c = (W / 2, H / 2)
    pitch = 12.0
    r_wc = camera_to_world(up_from_pitch_roll(pitch)).T  # camera -> world, as a camera is built
    cam_pos = np.array([0.3, -4.0, 1.5])
    world = walk_then_fall()
    cam, uv = project(world, cam_pos, r_wc.T, f, c)
    rng = np.random.default_rng(0)
    uv_noisy = uv + rng.normal(0, 1.0, uv.shape)  # 1 px detector noise
    rel = cam - cam[:, :1]  # what a perfect lifter returns: root-relative, camera frame
    scores = np.ones(uv.shape[:2])
    boxes = np.concatenate([uv.min(1), uv.max(1)], axis=1)

    root = root_translation(rel, uv_noisy, scores, f, c)
    up = up_from_pitch_roll(pitch) if given_pitch else up_from_body([rel], [boxes])
    rot = camera_to_world(up)
    got = to_world(rel, root, rot)
    got[..., 2] -= floor_height(got)
    truth = world - [cam_pos[0], cam_pos[1], 0.0]  # world frame with the camera at x = y = 0

    tilt = np.degrees(np.arccos(np.clip(up @ up_from_pitch_roll(pitch), -1, 1)))
    root_err = np.linalg.norm(got[:, 0] - truth[:, 0], axis=1)
    joint_err = np.linalg.norm(got - truth, axis=2)
    drop_true = truth[0, 0, 2] - truth[-1, 0, 2]
    drop_got = got[0, 0, 2] - got[-1, 0, 2]
    print(f"given pitch {given_pitch}: up error {tilt:.2f} deg, root RMS "
          f"{np.sqrt((root_err ** 2).mean()) * 100:.1f} cm (max {root_err.max() * 100:.1f}), "
          f"joints RMS {np.sqrt((joint_err ** 2).mean()) * 100:.1f} cm, root drop "
          f"{drop_got:.3f} m vs {drop_true:.3f} m, z RMS "
          f"{np.sqrt(((got[:, 0, 2] - truth[:, 0, 2]) ** 2).mean()) * 100:.1f} cm")
    assert tilt < 1.5
    assert abs(drop_got - drop_true) < 0.05
    assert np.sqrt(((got[:, 0, 2] - truth[:, 0, 2]) ** 2).mean()) < 0.05
    assert np.sqrt((root_err ** 2).mean()) < 0.10
    assert np.sqrt((joint_err ** 2).mean()) < 0.12


def test_exact_without_noise():
    """Noise-free projections with the true camera give the world motion back to 1 mm."""
    W, H = 640, 480
    f, c = 500.0, (320.0, 240.0)
    r_wc = camera_to_world(up_from_pitch_roll(20.0)).T
    cam_pos = np.array([0.0, -3.0, 2.0])
    world = walk_then_fall()
    cam, uv = project(world, cam_pos, r_wc.T, f, c)
    rel = cam - cam[:, :1]
    root = root_translation(rel, uv, np.ones(uv.shape[:2]), f, c)
    np.testing.assert_allclose(root, cam[:, 0], atol=1e-6)
    got = to_world(rel, root, camera_to_world(up_from_pitch_roll(20.0)))
    np.testing.assert_allclose(got + [cam_pos[0], cam_pos[1], cam_pos[2]], world, atol=1e-6)


def test_camera_rotation_is_proper_and_levels_the_up_vector():
    for pitch, roll in [(0, 0), (15, 0), (-10, 5), (30, -8)]:
        up = up_from_pitch_roll(pitch, roll)
        R = camera_to_world(up)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0)
        np.testing.assert_allclose(R @ up, [0, 0, 1], atol=1e-12)
        fwd = R @ [0, 0, 1.0]
        assert fwd[0] == pytest.approx(0, abs=1e-9) and fwd[1] > 0  # looks along +y
    assert focal_from_fov(1000, 90.0) == pytest.approx(500.0)
    assert up_from_body([np.zeros((3, 17, 3))], [np.array([[0, 0, 10, 5]] * 3)]) is None
