"""Closed-form checks of the noise-free simulator (ideal device).

Errors reached (also printed by benchmarks/derivative_error.py), default options (8 Hz
low-pass, quintic spline), 30 fps skeleton -> 50 Hz:
still arm and free fall ~1e-9 m/s^2 and rad/s; horizontal circle, twist and swing within
2-3e-3 m/s^2 and 1-2e-3 rad/s away from the first and last 0.5 s (the zero-phase filter's edge
transient reaches 0.6 m/s^2 there (benchmarks/derivative_error.py)). Savitzky-Golay: 0.05 inside, metres per second squared at the
edges.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from imu2safety.simulator.imu import SimulationOptions, simulate
from imu2safety.simulator.motion import G, Motion, RigidBodyTrajectory
from imu2safety.simulator.placement import Mounting
from imu2safety.simulator.twist import TwistOptions

FPS = 30.0
RATE = 50.0
NAMES = ("left_shoulder", "left_elbow", "left_wrist")
NO_OFFSET = Mounting()


def _motion(fn, duration_s=6.0, names=NAMES, fps=FPS):
    t = np.arange(int(duration_s * fps)) / fps
    return Motion(fn(t), names, t)


def _interior(t, margin_s=0.5):
    return (t > t[0] + margin_s) & (t < t[-1] - margin_s)


def test_still_arm_reads_gravity_and_no_rotation():
    pos = np.array([[0.0, 0.2, 1.4], [0.0, 0.2, 1.1], [0.3, 0.2, 1.1]])
    rec = simulate(_motion(lambda t: np.broadcast_to(pos, (len(t), 3, 3)).copy()))
    np.testing.assert_allclose(np.linalg.norm(rec.accel, axis=1), G, atol=1e-9)
    np.testing.assert_allclose(rec.gyro, 0.0, atol=1e-9)
    # Forearm forward, upper arm down, thumb up: the left watch's y axis (ulnar) points down.
    np.testing.assert_allclose(rec.accel, np.tile([0.0, -G, 0.0], (len(rec.accel), 1)), atol=1e-9)
    assert rec.sample_rate_hz == RATE
    np.testing.assert_allclose(np.diff(rec.timestamps), 1 / RATE)


def test_watch_face_up_reads_plus_g_on_z():
    # Left forearm pointing +x with the palm down: thumb toward -y, back of the wrist up.
    names = NAMES + ("left_hand", "left_thumb")
    pos = np.array([[-0.3, 0.0, 1.3], [-0.3, 0.0, 1.0], [0.0, 0.0, 1.0], [0.08, 0.0, 1.0],
                    [0.05, -0.04, 1.0]])
    rec = simulate(_motion(lambda t: np.broadcast_to(pos, (len(t), 5, 3)).copy(), names=names))
    np.testing.assert_allclose(rec.accel, np.tile([0.0, 0.0, G], (len(rec.accel), 1)), atol=1e-9)


def test_free_fall_reads_zero():
    g = np.array([0.0, 0.0, -G])
    pos0 = np.array([[0.0, 0.2, 1.4], [0.0, 0.2, 1.1], [0.3, 0.2, 1.1]])
    v0 = np.array([0.5, -0.2, 3.0])
    fall = lambda t: pos0 + (v0 * t[:, None] + 0.5 * g * t[:, None] ** 2)[:, None, :]
    rec = simulate(_motion(fall, duration_s=1.0))
    np.testing.assert_allclose(rec.accel, 0.0, atol=1e-8)
    np.testing.assert_allclose(rec.gyro, 0.0, atol=1e-8)


@pytest.mark.parametrize("derivative, tol", [("spline", 2e-3), ("savgol", 0.05)])
def test_horizontal_circle(derivative, tol):
    """Upper arm vertical, forearm (L) swept about the vertical at a constant rate W."""
    L, W = 0.3, 2 * np.pi * 0.5
    elbow = np.array([0.0, 0.0, 1.1])

    def fn(t):
        u = np.stack([np.cos(W * t), np.sin(W * t), np.zeros_like(t)], 1)
        return np.stack([np.broadcast_to(elbow + [0, 0, 0.3], u.shape), np.broadcast_to(elbow, u.shape),
                         elbow + L * u], 1)

    rec = simulate(_motion(fn), SimulationOptions(mounting=NO_OFFSET, derivative=derivative))
    # Sensor axes: x = u (distal), y = -z_world (r = +z, thumb up), z = r x u (horizontal).
    # Centripetal -W^2 L along x; gravity reaction +g along world z = -y.
    expect_a = np.tile([-W**2 * L, -G, 0.0], (len(rec.accel), 1))
    expect_w = np.tile([0.0, -W, 0.0], (len(rec.gyro), 1))
    inner = _interior(rec.timestamps)
    np.testing.assert_allclose(rec.accel[inner], expect_a[inner], atol=tol)
    np.testing.assert_allclose(rec.gyro[inner], expect_w[inner], atol=tol)
    if derivative == "spline":  # Savitzky-Golay's edge fits are far off (several m/s^2)
        np.testing.assert_allclose(rec.accel, expect_a, atol=1.0)
        np.testing.assert_allclose(rec.gyro, expect_w, atol=0.5)


def test_pure_twist_about_forearm_shows_only_x_rate():
    """Forearm fixed along +x; the thumb turns about it by phi(t) = A sin(2 pi f t)."""
    A, f = 0.8, 0.7
    names = NAMES + ("left_hand", "left_thumb")
    wrist = np.array([0.0, 0.0, 1.0])

    def fn(t):
        phi = A * np.sin(2 * np.pi * f * t)
        n = len(t)
        thumb = wrist + [0.05, 0, 0] + 0.04 * np.stack([np.zeros(n), -np.cos(phi), -np.sin(phi)], 1)
        rows = [wrist + [-0.3, 0, 0.3], wrist + [-0.3, 0, 0], wrist, wrist + [0.08, 0, 0]]
        return np.stack([np.broadcast_to(r, (n, 3)) for r in rows] + [thumb], 1)

    # The thumb is trusted on every frame (tests/test_twist.py covers gating and smoothing).
    opts = SimulationOptions(mounting=NO_OFFSET, twist=TwistOptions(smooth_hz=None))
    rec = simulate(_motion(fn, names=names), opts)
    assert rec.info["twist"] == {"used": "thumb", "trusted_fraction": 1.0, "filled_frames": 0}
    t = rec.timestamps
    # r = (0, -cos phi, -sin phi) is r0 = -y turned by phi about +x, so the sensor turns about
    # its own x axis (= +x world) at d(phi)/dt.
    phi = A * np.sin(2 * np.pi * f * t)
    phi_dot = A * 2 * np.pi * f * np.cos(2 * np.pi * f * t)
    inner = _interior(t)
    np.testing.assert_allclose(rec.gyro[inner, 0], phi_dot[inner], atol=1e-3)
    np.testing.assert_allclose(rec.gyro[:, 1:], 0.0, atol=1e-9)
    # Gravity seen in the turning frame: y = -r, z = r x u -> a = (0, g sin phi, g cos phi).
    expect = np.stack([np.zeros_like(t), G * np.sin(phi), G * np.cos(phi)], 1)
    np.testing.assert_allclose(rec.accel[inner], expect[inner], atol=1e-3)


def test_sinusoidal_swing_sample_by_sample():
    """Forearm swings in the vertical x-z plane about the elbow: theta(t) = A sin(2 pi f t)."""
    A, f, L = 0.6, 1.0, 0.28
    elbow = np.array([0.0, 0.3, 1.0])

    def fn(t):
        th = A * np.sin(2 * np.pi * f * t)
        u = np.stack([np.cos(th), np.zeros_like(th), np.sin(th)], 1)
        return np.stack([np.broadcast_to(elbow + [0, 0, 0.3], u.shape),
                         np.broadcast_to(elbow, u.shape), elbow + L * u], 1)

    rec = simulate(_motion(fn), SimulationOptions(mounting=NO_OFFSET))
    t = rec.timestamps
    w = 2 * np.pi * f
    th, thd, thdd = A * np.sin(w * t), A * w * np.cos(w * t), -A * w * w * np.sin(w * t)
    u = np.stack([np.cos(th), 0 * th, np.sin(th)], 1)
    n = np.stack([-np.sin(th), 0 * th, np.cos(th)], 1)     # du/dtheta = r (thumb direction)
    p_dd = L * (thdd[:, None] * n - thd[:, None] ** 2 * u)
    R = np.stack([u, -n, np.cross(n, u)], axis=-1)          # columns x, y, z of the left watch
    expect_a = np.einsum("nji,nj->ni", R, p_dd + [0, 0, G])
    expect_w = np.stack([0 * t, 0 * t, -thd], 1)            # u turns about world -y = sensor -z
    inner = _interior(t)
    np.testing.assert_allclose(rec.accel[inner], expect_a[inner], atol=3e-3)
    np.testing.assert_allclose(rec.gyro[inner], expect_w[inner], atol=1e-3)


def test_rigid_body_constant_spin():
    """A rigid body spinning about a tilted axis at W rad/s while its origin moves on a circle."""
    W, fps = 3.0, 100.0
    t = np.arange(600) / fps
    axis = np.array([0.3, -0.2, 0.9]) / np.linalg.norm([0.3, -0.2, 0.9])
    rot = Rotation.from_rotvec(axis * (W * t)[:, None]) * Rotation.from_euler("x", 20, degrees=True)
    pos = np.stack([0.5 * np.cos(t), 0.5 * np.sin(t), 1.0 + 0 * t], 1)
    body = RigidBodyTrajectory.from_quaternions(pos, rot.as_quat(scalar_first=True), timestamps=t)
    rec = simulate(body, SimulationOptions(rate_hz=100.0, cutoff_hz=None))
    r = rot[:len(rec.timestamps)]
    p_dd = -np.stack([0.5 * np.cos(rec.timestamps), 0.5 * np.sin(rec.timestamps), 0 * rec.timestamps], 1)
    expect_a = r.apply(p_dd + [0, 0, G], inverse=True)
    expect_w = r.apply(np.tile(axis * W, (len(r), 1)), inverse=True)
    np.testing.assert_allclose(rec.accel, expect_a, atol=1e-3)
    np.testing.assert_allclose(rec.gyro, expect_w, atol=1e-4)
