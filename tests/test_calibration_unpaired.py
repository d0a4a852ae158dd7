"""Unpaired (distribution-level) calibration: magnitude maps, channel maps, mounting first, JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from imu2safety.simulator.calibration import Calibration, fit_distribution_calibration
from imu2safety.simulator.imu import SimulationOptions, simulate
from imu2safety.simulator.motion import G, RigidBodyTrajectory

LEVELS = np.linspace(0.05, 0.95, 19)


def _recording(n: int, seed: int) -> np.ndarray:
    """(n, 6): accel = gravity in a random smooth direction + motion, gyro = smooth random rates."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 50.0
    f, p = rng.uniform(0.2, 2.0, (6, 3)), rng.uniform(0, 2 * np.pi, (6, 3))
    waves = np.sin(2 * np.pi * f[:, None, :] * t[None, :, None] + p[:, None, :]).sum(2).T  # (n, 6)
    up = Rotation.from_rotvec(0.5 * waves[:, :3]).apply([0.0, 0.0, G])
    return np.hstack([up + 1.5 * waves[:, 3:], 2.0 * np.roll(waves, 1, axis=1)[:, 3:]])


def _gain(x: np.ndarray, accel: float, gyro: float) -> np.ndarray:
    return np.hstack([accel * x[:, :3], gyro * x[:, 3:]])


def test_magnitude_maps_recover_a_known_gain_and_keep_directions():
    """Real = the same recordings with |gyro| doubled: the |gyro| map is y = 2x (also beyond the
    fitted range, by linear extension), the |accel| map the identity, directions unchanged."""
    syn = [_recording(400, s) for s in range(3)]
    cal = fit_distribution_calibration(syn, [_gain(x, 1.0, 2.0) for x in syn], channels=False)
    assert cal.synthetic_quantiles is None and cal.synthetic_magnitudes.shape == (101, 2)
    new = _gain(_recording(300, 7), 1.3, 1.5)  # partly outside the fitted range
    a, g = cal.map_quantiles(new[:, :3], new[:, 3:])
    np.testing.assert_allclose(a, new[:, :3], atol=1e-9)
    np.testing.assert_allclose(g, 2.0 * new[:, 3:], atol=1e-9)
    # a zero vector stays zero (no direction to scale), never NaN
    a0, g0 = cal.map_quantiles(np.zeros((2, 3)), np.zeros((2, 3)))
    assert np.array_equal(a0, np.zeros((2, 3))) and np.array_equal(g0, np.zeros((2, 3)))


def test_unpaired_maps_take_the_synthetic_distribution_onto_the_target():
    """Different recordings, lengths and amplitudes (no pairs): after the maps, every channel's
    and both magnitudes' quantiles of the synthetic pool match the real pool's."""
    syn = [_recording(n, s) for s, n in enumerate((500, 700, 300))]
    real = [_gain(_recording(n, 10 + s), 1.2, 0.6) + [0.5, -0.3, 0.0, 0.1, 0.0, 0.0]
            for s, n in enumerate((400, 900))]
    cal = fit_distribution_calibration(syn, real)
    mapped = np.vstack([np.hstack(cal.map_quantiles(x[:, :3], x[:, 3:])) for x in syn])
    pool_r, pool_s = np.vstack(real), np.vstack(syn)
    span = np.ptp(pool_r, axis=0)
    err = np.abs(np.quantile(mapped, LEVELS, axis=0) - np.quantile(pool_r, LEVELS, axis=0)) / span
    before = np.abs(np.quantile(pool_s, LEVELS, axis=0) - np.quantile(pool_r, LEVELS, axis=0)) / span
    assert err.max() < 0.01 < before.max()
    assert cal.metadata["pairing"] == "unpaired" and cal.metadata["n_real"] == 2


def test_mounting_is_applied_before_the_maps():
    """Real = R synthetic: with mounting R the maps are the identity, so synthetic -> R synthetic."""
    r = Rotation.from_euler("xyz", [20.0, -60.0, 150.0], degrees=True)
    syn = [_recording(500, 3)]
    real = [np.hstack([r.apply(syn[0][:, :3]), r.apply(syn[0][:, 3:])])]
    cal = fit_distribution_calibration(syn, real, mounting=r)
    a, g = cal.map_quantiles(*cal.rotate(syn[0][:, :3], syn[0][:, 3:]))
    np.testing.assert_allclose(np.hstack([a, g]), real[0], atol=1e-9)


def test_magnitude_maps_round_trip_and_version_1_files_still_load(tmp_path):
    syn = [_recording(400, 1)]
    cal = fit_distribution_calibration(syn, [_gain(syn[0], 0.8, 1.7)], n_quantiles=11)
    loaded = Calibration.load(cal.save(tmp_path / "cal.json"))
    assert loaded.to_dict() == cal.to_dict()
    assert np.array_equal(loaded.real_magnitudes, cal.real_magnitudes)
    old = Calibration(Rotation.from_euler("z", 30, degrees=True)).to_dict()
    old.pop("magnitude_maps")
    old["format_version"] = 1
    assert Calibration.from_dict(json.loads(json.dumps(old))).synthetic_magnitudes is None
    with pytest.raises(ValueError, match="non-negative"):
        Calibration(synthetic_magnitudes=[[-1.0, 0.0], [1.0, 1.0]], real_magnitudes=[[0, 0], [1, 1]])
    with pytest.raises(ValueError, match="at least one"):
        fit_distribution_calibration(syn, syn, magnitudes=False, channels=False)


def test_simulator_applies_magnitude_maps_at_simulation_time():
    """A rigid body spinning at 3 rad/s through a calibration whose |gyro| map is y = 2x reads
    6 rad/s about the same axis, and the accelerometer is untouched (closed form)."""
    w, fps = 3.0, 100.0
    t = np.arange(400) / fps
    axis = np.array([0.3, -0.2, 0.9]) / np.linalg.norm([0.3, -0.2, 0.9])
    rot = Rotation.from_rotvec(axis * (w * t)[:, None])
    body = RigidBodyTrajectory.from_quaternions(np.zeros((len(t), 3)), rot.as_quat(scalar_first=True),
                                                timestamps=t)
    cal = Calibration(synthetic_magnitudes=[[0.0, 0.0], [10.0, 1.0], [20.0, 2.0]],
                      real_magnitudes=[[0.0, 0.0], [10.0, 2.0], [20.0, 4.0]])
    opts = SimulationOptions(rate_hz=fps, cutoff_hz=None)
    plain, mapped = simulate(body, opts), simulate(body, SimulationOptions(rate_hz=fps, cutoff_hz=None,
                                                                           calibration=cal))
    r = rot[:len(plain.timestamps)]
    np.testing.assert_allclose(mapped.gyro, 2 * r.apply(np.tile(axis * w, (len(r), 1)), inverse=True),
                               atol=2e-4)
    np.testing.assert_allclose(mapped.accel, plain.accel, atol=1e-9)
    np.testing.assert_allclose(mapped.accel, r.apply(np.tile([0, 0, G], (len(r), 1)), inverse=True),
                               atol=1e-3)
