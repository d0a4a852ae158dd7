"""Compiled simulator paths: the short-clip low-pass (issue 6 item 5), batch == single clip bit for
bit (issue 6 item 10), and each kernel against the scipy / NumPy function it replaces."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import signal
from scipy.interpolate import make_interp_spline

from imu2safety.simulator import kernels
from imu2safety.simulator import kinematics as kin
from imu2safety.simulator.imu import SimulationOptions, simulate, simulate_iter, simulate_many
from imu2safety.simulator.motion import GRAVITY_WORLD, Motion, MotionError
from imu2safety.simulator.orientation import (body_rate, matrix_to_quat, quat_continuous,
                                              quat_to_matrix)

ARM = ("left_shoulder", "left_elbow", "left_wrist", "left_hand", "left_thumb",
       "right_shoulder", "right_elbow", "right_wrist", "right_hand", "right_thumb")


def _arms(n: int, frames: int, seed: int, fps: float = 30.0) -> list[Motion]:
    """Smooth two-arm motions with thumbs, (frames, 10, 3) metres, world frame z up."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    base = np.array([[0, .2, 1.4], [0, .25, 1.1], [.25, .25, 1.0], [.33, .25, 1.0], [.30, .29, 1.02],
                     [0, -.2, 1.4], [0, -.25, 1.1], [.25, -.25, 1.0], [.33, -.25, 1.0], [.30, -.29, 1.02]])
    out = []
    for _ in range(n):
        wave = 0.1 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5, (1, 10, 3)) * t[:, None, None]
                            + rng.uniform(0, 6, (1, 10, 3)))
        out.append(Motion.from_fps(base + wave, ARM, fps))
    return out


# ---------------------------------------------------------------- issue 6 item 5: short clips

def _reference_lowpass(x: np.ndarray, fs: float, cutoff: float) -> np.ndarray:
    """The documented filter written with scipy: quadratic trend out, ends continued by point
    mirror + edge curvature for min(pad, n - 1) samples, sosfiltfilt (steady-state start)."""
    n = len(x)
    s = np.linspace(-1.0, 1.0, n)
    trend = np.polyval(np.polyfit(s, x, 2), s)
    y = x - trend
    pad = min(int(np.ceil(3 * fs / cutoff)), n - 1)
    fit = min(n, max(kin.MIN_FRAMES, int(np.ceil(fs / cutoff))))
    k = np.arange(1, pad + 1)
    left = 2 * y[0] - y[k] + 2 * np.polyfit(np.arange(fit), y[:fit], 2)[0] * k**2
    right = 2 * y[-1] - y[-1 - k] + 2 * np.polyfit(np.arange(fit), y[::-1][:fit], 2)[0] * k**2
    ext = np.concatenate([left[::-1], y, right])
    sos = signal.butter(4, cutoff, fs=fs, output="sos")
    return signal.sosfiltfilt(sos, ext, padtype=None)[pad:pad + n] + trend


def test_lowpass_short_clips_are_not_shifted():
    # The case: a 15-frame bump peaking at index 7 (30 fps, 4 Hz) came back peaking at 14.
    bump = np.exp(-0.5 * ((np.arange(15) - 7) / 2.0) ** 2)
    out = kin.lowpass(bump, 30.0, 4.0)
    assert int(np.argmax(out)) == 7 and 0.8 < out.max() <= 1.0
    for n in range(2, 64):  # every length filters; a centred bump stays centred
        x = np.exp(-0.5 * ((np.arange(n) - (n - 1) / 2) / 2.0) ** 2)
        y = kin.lowpass(x, 30.0, 4.0)
        assert int(np.argmax(y)) in ((n - 1) // 2, n // 2), n
        # zero phase up to the start-up transient of a short extension (n - 1 < 3 time constants)
        assert np.abs(y - y[::-1]).max() < 0.05 * y.max(), n


@pytest.mark.parametrize("fs, cutoff", [(30.0, 4.0), (30.0, 8.0), (50.0, 3.0)])
def test_lowpass_every_length_matches_the_documented_filter(fs, cutoff):
    rng = np.random.default_rng(0)
    for n in list(range(3, 40)) + [97, 300]:
        x = rng.standard_normal(n).cumsum()
        y = kin.lowpass(x[:, None], fs, cutoff)[:, 0]
        np.testing.assert_allclose(y, _reference_lowpass(x, fs, cutoff), rtol=0, atol=1e-11,
                                   err_msg=f"n={n}")


def test_lowpass_passes_quadratics_and_tiny_clips_exactly():
    for n in range(1, 40):
        t = np.arange(n) / 30.0
        x = np.stack([1.0 + 0 * t, 2 - t, -0.5 * 9.80665 * t**2 + t], axis=1)
        np.testing.assert_allclose(kin.lowpass(x, 30.0, 4.0), x, atol=1e-12, err_msg=f"n={n}")


# ---------------------------------------------------------------- issue 6 item 10: batching

def _corpus() -> list[Motion]:
    """Mixed lengths, shared and distinct grids, a clip needing repair, a degenerate one."""
    motions = _arms(30, 60, seed=1)  # one grid: the old batch path gave one clip other bits
    motions += [m for k, frames in enumerate((40, 41, 90, 90, 150, 151, 300))
                for m in _arms(2, frames, seed=k)]
    gappy = _arms(1, 120, seed=99)[0]
    gappy.valid[50:53, 2] = False
    late = _arms(1, 90, seed=98)[0]
    late.timestamps = late.timestamps + 1.0  # same length as others, another grid
    broken = _arms(1, 90, seed=97)[0]
    broken.positions[:, 1] = broken.positions[:, 2]  # elbow on the wrist: no forearm
    return motions + [gappy, late, broken]


@pytest.mark.parametrize("device", ["ideal", "bmi160"])
def test_batch_path_is_bit_identical_to_single_clips(device):
    motions = _corpus()
    ids = [f"c{k}" for k in range(len(motions))]
    opts = SimulationOptions(device=device, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = simulate_many(motions, opts, ids, errors="return")
        small = list(simulate_iter(motions, opts, ids, errors="return", block=4))
        single = []
        for m, cid in zip(motions, ids):
            try:
                single.append(simulate(m, opts, cid))
            except MotionError as err:
                single.append(err)
    assert isinstance(batch[-1], MotionError) and isinstance(single[-1], MotionError)
    assert batch[-3].notes and batch[-3].notes == single[-3].notes  # the repaired clip
    for a, b, c in zip(batch[:-1], small[:-1], single[:-1]):
        for x in (b, c):
            assert a.accel.tobytes() == x.accel.tobytes() and a.gyro.tobytes() == x.gyro.tobytes()


def test_simulate_iter_streams_blocks_in_order():
    motions = _arms(10, 60, seed=3)
    seen = []

    def feed():
        for k, m in enumerate(motions):
            seen.append(k)
            yield m

    it = simulate_iter(feed(), SimulationOptions(), block=4)
    next(it)
    assert seen == [0, 1, 2, 3]  # only the first block was read
    rest = list(it)
    assert len(rest) == 9 and seen == list(range(10))


# ---------------------------------------------------------------- kernels vs scipy / NumPy

def test_spline_and_output_stage_match_scipy():
    rng = np.random.default_rng(1)
    for n in (6, 7, 9, 31, 300):
        t = 0.25 + np.arange(n) / 30.0 + rng.uniform(-2e-4, 2e-4, n)  # slightly irregular sites
        pose = np.concatenate([rng.standard_normal((n, 3)).cumsum(0) * 0.01,
                               quat_continuous(rng.standard_normal((n, 4)))], axis=1)
        t_out = kin.output_times(t[0], t[-1], 50.0)
        out = np.empty((len(t_out), 6))
        kernels.imu_from_pose_ragged(t, pose, np.array([0, n]), t_out, np.array([0, len(t_out)]),
                                     GRAVITY_WORLD[2], out)
        spl = make_interp_spline(t, pose, k=5, axis=0)
        q, q_d = spl(t_out)[:, 3:], spl(t_out, 1)[:, 3:]
        accel = np.einsum("nji,nj->ni", quat_to_matrix(q), spl(t_out, 2)[:, :3] - GRAVITY_WORLD)
        scale = np.abs(accel).max() + np.abs(body_rate(q, q_d)).max()
        np.testing.assert_allclose(out[:, :3], accel, rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(out[:, 3:], body_rate(q, q_d), rtol=0, atol=1e-12 * scale)


def test_device_pose_matches_numpy_quaternions():
    rng = np.random.default_rng(2)
    frame = np.linalg.qr(rng.standard_normal((200, 3, 3, 3)))[0]
    frame *= np.sign(np.linalg.det(frame))[..., None, None]  # proper rotations (T, B, 3, 3)
    origin = rng.standard_normal((200, 3, 3))
    offset, mount = np.array([0.03, 0.0, 0.02]), frame[7, 1]
    out = np.empty((200, 3, 7))
    kernels.device_pose(origin, np.ascontiguousarray(frame), offset, np.ascontiguousarray(mount), out)
    np.testing.assert_allclose(out[..., :3], origin + frame @ offset, atol=1e-14)
    np.testing.assert_allclose(out[..., 3:], quat_continuous(matrix_to_quat(frame @ mount)), atol=1e-14)


@pytest.mark.parametrize("placement, twist", [
    ("left_wrist", {}), ("right_wrist", {"pronation_per_flexion": -0.4, "twist_deg": 20.0}),
    ("phone_in_hand", {}), ("left_wrist", {"source": "thumb"}), ("right_wrist", {"source": "model"}),
    ("left_wrist", {"smooth_hz": None, "min_trusted": 0.3})])
def test_compiled_frames_match_orientation_device_frame(placement, twist):
    """The compiled frame construction against orientation.device_frame (+ mounting and
    quaternion in NumPy), including the thumb gating, its fallbacks and the provenance."""
    from imu2safety.simulator import imu as imu_mod
    from imu2safety.simulator.orientation import device_frame
    from imu2safety.simulator.twist import TwistOptions

    opts = SimulationOptions(placement=placement, twist=TwistOptions(**twist))
    rng = np.random.default_rng(4)
    motions = _arms(4, 90, seed=5)
    side = "right" if placement != "left_wrist" else "left"
    thumb = ARM.index(f"{side}_thumb")
    for m in motions:  # a thumb 4 cm off the hand, across the forearm: a trustworthy one
        hand, wrist = m.joint(f"{side}_hand"), m.joint(f"{side}_wrist")
        across = np.cross(hand - wrist, [0.0, 0.0, 1.0])
        m.positions[:, thumb] = hand + 0.04 * across / np.linalg.norm(across, axis=1, keepdims=True)
    motions[1].positions[::15, thumb] += rng.normal(0, 0.05, (6, 3))  # spikes: gated, filled
    motions[2].positions[:, thumb] += rng.normal(0, 0.05, (90, 3))  # untrusted: the model
    fs = [30.0] * len(motions)
    clips = [(m.positions, m.joint_names, list(range(len(ARM)))) for m in motions]
    got = imu_mod._device_poses(clips, fs, opts)
    mount = opts.mounting or imu_mod.default_mounting(placement)
    for m, (pose, info) in zip(motions, got):
        origin, r_seg, infos = device_frame({j: m.positions[:, k] for k, j in enumerate(ARM)},
                                            placement, fs_hz=30.0, twist=opts.twist)
        np.testing.assert_allclose(pose[:, :3], origin + r_seg @ mount.offset_m, atol=1e-12)
        quat = quat_continuous(matrix_to_quat(r_seg @ mount.rotation.as_matrix()))
        np.testing.assert_allclose(pose[:, 3:], quat, atol=1e-12)
        assert info == {"twist": infos[0].to_dict()}
    tw = [info["twist"] for _, info in got]
    if not twist:  # both branches of the gating were taken: a gated-and-filled thumb, the model
        assert any(t["used"] == "thumb" and t["filled_frames"] > 0 for t in tw)
        assert any(t["used"] == "model" and t["trusted_fraction"] is not None for t in tw)
