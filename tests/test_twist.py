"""Forearm twist: thumb gating with per-frame and per-clip fallback, the pronation model, and the
cutoff chosen by input kind; closed forms on noise-free motions (ideal device)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from imu2safety.simulator.cutoff import CUTOFF_BY_KIND, default_cutoff_hz, input_kind
from imu2safety.simulator.imu import SimulationOptions, simulate, simulate_many
from imu2safety.simulator.joints import JOINT_SETS
from imu2safety.simulator.motion import G, Motion, RigidBodyTrajectory
from imu2safety.simulator.placement import Mounting
from imu2safety.simulator.twist import TwistOptions, angle_about, elbow_flexion

FPS, RATE = 30.0, 50.0
ARM = ("left_shoulder", "left_elbow", "left_wrist")
HAND = ARM + ("left_hand", "left_thumb")
NO_OFFSET = Mounting()


def _interior(t, margin_s=0.6):
    return (t > t[0] + margin_s) & (t < t[-1] - margin_s)


def _twisting_hand(phi: np.ndarray) -> np.ndarray:
    """(T, 5, 3): upper arm vertical, forearm along +x, thumb turned by phi (rad) from palm down
    (pronation 90 deg) about +x: r = (0, -cos phi, -sin phi)."""
    wrist = np.array([0.0, 0.0, 1.0])
    n = len(phi)
    thumb = wrist + [0.05, 0, 0] + 0.04 * np.stack([np.zeros(n), -np.cos(phi), -np.sin(phi)], 1)
    rows = [wrist + [-0.3, 0, 0.3], wrist + [-0.3, 0, 0], wrist, wrist + [0.08, 0, 0]]
    return np.stack([np.broadcast_to(r, (n, 3)) for r in rows] + [thumb], 1)


def test_angle_about_and_flexion_closed_forms():
    u = np.array([1.0, 0, 0])
    ref = np.array([0, 0, 1.0])
    for a in (-2.5, -0.3, 0.0, 1.2, 3.0):
        v = np.cos(a) * ref + np.sin(a) * np.cross(u, ref)
        assert angle_about(u, ref, 0.7 * v) == pytest.approx(a)
    s, e = np.array([0, 0, 1.3]), np.array([0, 0, 1.0])
    for th in (0.0, 0.4, np.pi / 2, 2.5):
        w = e + 0.3 * np.array([np.sin(th), 0, -np.cos(th)])
        assert elbow_flexion(s, e, w) == pytest.approx(th)


def test_trusted_thumb_with_spikes_falls_back_per_frame():
    """A sinusoidal pronation with corrupted thumb frames: the gated twist returns the clean
    profile as gx, the raw thumb does not; the provenance counts the filled frames."""
    A, f = 0.6, 0.5
    t = np.arange(int(6 * FPS)) / FPS
    phi = A * np.sin(2 * np.pi * f * t)
    clean = Motion(_twisting_hand(phi), HAND, t)
    pos = clean.positions.copy()
    bad = np.arange(20, len(t) - 20, 15)                # 10 single-frame glitches
    spun = A * np.sin(2 * np.pi * f * t[bad]) + np.pi / 2  # the thumb flips by 90 degrees
    pos[bad, 4] = pos[bad, 3] + 0.04 * np.stack([np.zeros(len(bad)), -np.cos(spun), -np.sin(spun)], 1)
    pos[bad[::2], 4] = pos[bad[::2], 3] + [0.0, -0.2, 0.0]  # and some grow a 20 cm thumb
    noisy = Motion(pos, HAND, t)
    opts = SimulationOptions(mounting=NO_OFFSET, twist=TwistOptions(smooth_hz=None))
    ref = simulate(clean, opts)
    gated = simulate(noisy, opts)
    raw = simulate(noisy, SimulationOptions(mounting=NO_OFFSET, twist=TwistOptions(source="thumb")))
    inner = _interior(ref.timestamps)
    tr = ref.timestamps
    np.testing.assert_allclose(ref.gyro[inner, 0], A * 2 * np.pi * f * np.cos(2 * np.pi * f * tr[inner]),
                               atol=2e-3)
    err_gated = np.abs(gated.gyro[inner] - ref.gyro[inner]).max()
    err_raw = np.abs(raw.gyro[inner] - ref.gyro[inner]).max()
    assert err_gated < 0.1 < 3.0 < err_raw
    info = gated.info["twist"]
    assert info["used"] == "thumb" and info["filled_frames"] == len(bad)
    assert info["trusted_fraction"] == pytest.approx(1 - len(bad) / len(t), abs=1e-3)
    assert raw.info["twist"]["used"] == "thumb (raw)"


def test_untrustworthy_thumb_falls_back_per_clip_in_a_batch():
    """A thumb that spins at random: the whole clip uses the model, so it equals the same
    motion without a thumb joint; a clean clip in the same batch keeps its thumb."""
    rng = np.random.default_rng(0)
    t = np.arange(int(4 * FPS)) / FPS
    good = Motion(_twisting_hand(0.3 * np.sin(2 * np.pi * 0.4 * t)), HAND, t)
    wild = Motion(_twisting_hand(rng.uniform(-np.pi, np.pi, len(t))), HAND, t)
    no_thumb = Motion(wild.positions[:, :4], HAND[:4], t)
    opts = SimulationOptions(twist=TwistOptions(twist_deg=90.0))
    recs = simulate_many([good, wild, no_thumb], opts)
    assert recs[0].info["twist"]["used"] == "thumb"
    assert recs[1].info["twist"]["used"] == "model"
    assert recs[1].info["twist"]["trusted_fraction"] < 0.6
    assert recs[2].info["twist"] == {"used": "model", "trusted_fraction": None, "filled_frames": 0}
    np.testing.assert_allclose(recs[1].gyro, recs[2].gyro, atol=1e-12)
    np.testing.assert_allclose(recs[1].accel, recs[2].accel, atol=1e-12)
    # twist_deg = 90 is palm down: the left watch's face points up (+g on z) while still.
    np.testing.assert_allclose(recs[2].accel, np.tile([0, 0, G], (len(recs[2].accel), 1)), atol=1e-9)


@pytest.mark.parametrize("placement", ["left_wrist", "right_wrist"])
def test_pronation_model_profile_comes_back_as_gx(placement):
    """Elbow flexion theta(t) in a vertical plane; the model pronates by k (theta - 90 deg), so
    the watch turns about the forearm at k theta'(t): gx = k theta' on either wrist (x is along
    the forearm, pronation positive), gz carries the flexion itself."""
    side = placement.split("_")[0]
    k, A, f = -0.5, 0.5, 0.6
    t = np.arange(int(6 * FPS)) / FPS
    th = np.pi / 2 + A * np.sin(2 * np.pi * f * t)
    y = 0.2 if side == "left" else -0.2
    s, e = np.array([0.0, y, 1.4]), np.array([0.0, y, 1.1])
    w = e + 0.28 * np.stack([np.sin(th), 0 * th, -np.cos(th)], 1)
    pos = np.stack([np.broadcast_to(s, w.shape), np.broadcast_to(e, w.shape), w], 1)
    motion = Motion(pos, tuple(f"{side}_{j}" for j in ("shoulder", "elbow", "wrist")), t)
    twist = TwistOptions(pronation_per_flexion=k, smooth_hz=None)
    rec = simulate(motion, SimulationOptions(placement=placement, mounting=NO_OFFSET, twist=twist))
    const = simulate(motion, SimulationOptions(placement=placement, mounting=NO_OFFSET))
    tr = rec.timestamps
    thd = A * 2 * np.pi * f * np.cos(2 * np.pi * f * tr)
    inner = _interior(tr)
    np.testing.assert_allclose(rec.gyro[inner, 0], k * thd[inner], atol=2e-3)
    np.testing.assert_allclose(const.gyro[inner, 0], 0.0, atol=2e-3)
    # The flexion rate is the same magnitude with and without the twist.
    np.testing.assert_allclose(np.linalg.norm(rec.gyro[inner], axis=1),
                               np.hypot(k * thd[inner], thd[inner]), atol=3e-3)


def test_cutoff_by_input_kind():
    t = np.arange(300) / 100.0
    rot = Rotation.from_rotvec(np.outer(np.sin(3 * t), [0.2, 0.5, 0.1]))
    body = RigidBodyTrajectory.from_quaternions(np.zeros((300, 3)), rot.as_quat(scalar_first=True),
                                                timestamps=t)
    assert input_kind(body) == "optical_mocap" and default_cutoff_hz(body) == 15.0
    auto = simulate(body, SimulationOptions(rate_hz=100.0))
    fixed = simulate(body, SimulationOptions(rate_hz=100.0, cutoff_hz=15.0))
    np.testing.assert_array_equal(auto.gyro, fixed.gyro)
    assert auto.info == {"cutoff_hz": 15.0}
    for set_name, kind in (("azure_kinect", "azure_kinect"), ("utd_mhad", "kinect_v1"),
                           ("ntu", "kinect_v2"), ("h36m17", "video")):
        names = JOINT_SETS[set_name]
        m = Motion(np.zeros((4, len(names), 3)), names[::-1], np.arange(4) / FPS)
        assert input_kind(m) == kind and default_cutoff_hz(m) == CUTOFF_BY_KIND[kind]
    assert input_kind(Motion(np.zeros((4, 3, 3)), ARM, np.arange(4) / FPS)) == "skeleton"
    with pytest.raises(ValueError, match="auto"):
        SimulationOptions(cutoff_hz="fast")
