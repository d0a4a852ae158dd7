"""Sim-to-real calibration: lag, mounting rotation, quantile maps, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from scipy.stats import norm

from imu2safety.simulator.calibration import (
    APPLY_ORDER,
    Calibration,
    best_lag,
    fit_calibration,
    fit_mounting,
    fit_quantiles,
)
from imu2safety.simulator.motion import G

FS = 50.0


def _recording(n: int, seed: int) -> np.ndarray:
    """(n, 6) physically consistent wrist-like recording: smooth 3-axis rotation, gravity + motion.

    Orientation R_ws from smooth Euler angles; gyro = body rate from consecutive rotations;
    accel = R_ws^T (a_lin - g).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n + 1) / FS
    freqs = rng.uniform(0.1, 1.5, (3, 4))
    phases = rng.uniform(0, 2 * np.pi, (3, 4))
    angles = np.stack([(0.6 * np.sin(2 * np.pi * freqs[i] * t[:, None] + phases[i])).sum(1)
                       for i in range(3)], axis=1)
    r_ws = Rotation.from_euler("ZYX", angles)
    gyro = (r_ws[:-1].inv() * r_ws[1:]).as_rotvec() * FS
    lin = 2.0 * np.sin(2 * np.pi * 0.7 * t[:-1, None] + np.array([0.0, 1.0, 2.0]))
    accel = r_ws[:-1].inv().apply(lin + np.array([0.0, 0.0, G]))
    return np.hstack([accel, gyro])


def _real_from(full: np.ndarray, rotation: Rotation, lag: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(synthetic, real) with real[n + lag] = R synthetic[n] + noise; lengths differ by ``lag``."""
    rng = np.random.default_rng(seed)
    real = np.hstack([rotation.apply(full[:, :3]), rotation.apply(full[:, 3:])])
    real[:, :3] += rng.normal(0, 0.1, (len(full), 3))  # m/s^2
    real[:, 3:] += rng.normal(0, 0.03, (len(full), 3))  # rad/s
    return full[lag:], real


def test_apply_order_is_documented():
    assert APPLY_ORDER.index("rotate") < APPLY_ORDER.index("device") < APPLY_ORDER.index("map_quantiles")
    assert Calibration().to_dict()["apply_order"] == APPLY_ORDER


def test_rotate_is_v_real_equals_r_v_sim():
    cal = Calibration(mounting=Rotation.from_euler("z", 90, degrees=True))
    a, g = cal.rotate(np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 2.0, 0.0]]))
    np.testing.assert_allclose(a, [[0.0, 1.0, 0.0]], atol=1e-15)
    np.testing.assert_allclose(g, [[-2.0, 0.0, 0.0]], atol=1e-15)


@pytest.mark.parametrize("lag", [0, 9, -6])
def test_best_lag_recovers_known_lag(lag):
    x = _recording(800, seed=1)
    a = x[100:600]
    b = x[100 - lag:600 - lag]  # b[n + lag] = a[n]
    assert best_lag(a[:, 3:], b[:, 3:], max_lag=30) == lag  # (N, 3): magnitudes
    assert best_lag(np.linalg.norm(a[:, 3:], axis=1), np.linalg.norm(b[:, 3:], axis=1), 30) == lag
    assert best_lag(a[:, 3:], b[:-50, 3:], max_lag=30) == lag  # lengths may differ


def test_best_lag_ignores_non_finite_with_warning():
    x = _recording(600, seed=2)
    a, b = x[50:550, 3:], x[43:543, 3:].copy()  # b starts 7 samples earlier: b[n + 7] = a[n]
    b[100:105] = np.nan
    with pytest.warns(RuntimeWarning, match="non-finite"):
        assert best_lag(a, b, max_lag=20) == 7


def test_fit_mounting_recovers_rotation_and_lag():
    truth = Rotation.from_euler("xyz", [25.0, -40.0, 110.0], degrees=True)
    pairs = [_real_from(_recording(1500, seed=s), truth, lag, seed=10 + s)
             for s, lag in ((3, 12), (4, 5))]
    fitted = fit_mounting(pairs, max_lag=40)
    assert np.degrees((fitted * truth.inv()).magnitude()) < 1.0
    cal = fit_calibration(pairs, max_lag=40, fit_quantile_maps=False)
    assert cal.metadata["lags_samples"] == [12, 5]
    assert np.degrees((cal.mounting * truth.inv()).magnitude()) < 1.0
    assert not cal.has_quantile_maps


def test_fit_drops_non_finite_with_warning():
    truth = Rotation.from_euler("y", 30, degrees=True)
    syn, real = _real_from(_recording(1200, seed=5), truth, 8, seed=6)
    real[200:220, 4] = np.nan
    syn[500, 0] = np.inf
    with pytest.warns(RuntimeWarning, match="dropped 21"):
        fitted = fit_mounting([(syn, real)], max_lag=20)
    assert np.degrees((fitted * truth.inv()).magnitude()) < 1.0


def test_too_little_or_uninformative_data_is_refused():
    x = _recording(300, seed=7)
    with pytest.raises(ValueError, match="at least"):
        fit_mounting([(x[:5], x[:5])])
    with pytest.raises(ValueError, match="aligned"):
        fit_mounting([(x[:60], x[:60])], max_lag=0)  # 60 < MIN_ALIGNED_SAMPLES
    still = np.tile([0.0, 0.0, G, 0.0, 0.0, 0.0], (500, 1))
    with pytest.raises(ValueError, match="unobservable"):
        fit_mounting([(still, still)])
    with pytest.raises(ValueError, match=r"\(N, 6\)"):
        fit_mounting([(x[:, :3], x[:, :3])])
    with pytest.raises(ValueError, match="pair"):
        fit_mounting([])


def test_quantile_map_normal_to_shifted_scaled_normal():
    rng = np.random.default_rng(8)
    syn_q, real_q = fit_quantiles(rng.normal(0, 1, (200_000, 6)), [rng.normal(2, 3, (150_000, 6))])
    levels = np.linspace(0, 1, 101)
    inner = slice(5, 96)  # 5 % .. 95 %
    np.testing.assert_allclose(syn_q[inner], norm.ppf(levels[inner])[:, None] * np.ones(6), atol=0.02)
    np.testing.assert_allclose(real_q[inner], norm.ppf(levels[inner], 2, 3)[:, None] * np.ones(6), atol=0.06)
    cal = Calibration(synthetic_quantiles=syn_q, real_quantiles=real_q)
    # At the knots the map is exact.
    a, g = cal.map_quantiles(syn_q[:, :3], syn_q[:, 3:])
    np.testing.assert_array_equal(np.hstack([a, g]), real_q)
    # Fresh N(0, 1) samples come out N(2, 3^2).
    fresh = rng.normal(0, 1, (100_000, 6))
    a, g = cal.map_quantiles(fresh[:, :3], fresh[:, 3:])
    mapped = np.hstack([a, g])
    q = np.quantile(mapped, levels[inner], axis=0)
    np.testing.assert_allclose(q, norm.ppf(levels[inner], 2, 3)[:, None] * np.ones(6), atol=0.1)
    np.testing.assert_allclose(mapped.mean(0), 2.0, atol=0.05)
    np.testing.assert_allclose(mapped.std(0), 3.0, rtol=0.02)


def test_quantile_map_ends_and_ties_by_hand():
    syn = np.repeat(np.array([[0.0], [1.0], [2.0]]), 6, axis=1)
    real = np.repeat(np.array([[0.0], [2.0], [3.0]]), 6, axis=1)
    cal = Calibration(synthetic_quantiles=syn, real_quantiles=real)
    x = np.array([[-1.0, 0.5, 4.0]])
    a, _ = cal.map_quantiles(x, x)
    # below: slope 2 of the first segment; inside: interpolation; above: slope 1 of the last.
    np.testing.assert_array_equal(a, [[-2.0, 1.0, 5.0]])
    tied = Calibration(synthetic_quantiles=np.repeat([[0.0], [0.0], [1.0]], 6, axis=1),
                       real_quantiles=np.repeat([[1.0], [3.0], [5.0]], 6, axis=1))
    a, _ = tied.map_quantiles(np.array([[0.0, 0.5, 2.0]]), np.zeros((1, 3)))
    np.testing.assert_array_equal(a, [[2.0, 3.5, 8.0]])  # ties merged: (0 -> 2), (1 -> 5)


def test_fit_quantiles_validation():
    rng = np.random.default_rng(9)
    syn = rng.normal(size=(300, 6))
    syn[0, 2] = np.nan
    with pytest.warns(RuntimeWarning, match="dropped 1 non-finite synthetic"):
        fit_quantiles(syn, rng.normal(size=(300, 6)), n_quantiles=11)
    with pytest.raises(ValueError, match="at least 101"):
        fit_quantiles(syn[1:50], rng.normal(size=(300, 6)))
    with pytest.raises(ValueError, match="n_quantiles"):
        fit_quantiles(syn[1:], syn[1:], n_quantiles=1)


def test_json_round_trip_is_exact(tmp_path):
    truth = Rotation.from_euler("xyz", [-15.0, 35.0, 170.0], degrees=True)
    pairs = [_real_from(_recording(1000, seed=12), truth, 4, seed=13)]
    cal = fit_calibration(pairs, n_quantiles=21, max_lag=20)
    cal.metadata["source"] = "unit test"
    path = cal.save(tmp_path / "calibration.json")
    text = json.loads(path.read_text())
    assert text["mounting"]["quaternion_order"].startswith("scalar-first")
    np.testing.assert_array_equal(text["mounting"]["quaternion"], cal.mounting.as_quat(scalar_first=True))
    loaded = Calibration.load(path)
    assert loaded.to_dict() == cal.to_dict()
    assert np.array_equal(loaded.mounting.as_quat(), cal.mounting.as_quat())
    assert np.array_equal(loaded.synthetic_quantiles, cal.synthetic_quantiles)
    assert np.array_equal(loaded.real_quantiles, cal.real_quantiles)
    assert loaded.metadata == cal.metadata
    # A calibration without maps round-trips too, and a foreign version is refused.
    plain = Calibration(mounting=truth)
    assert Calibration.from_dict(json.loads(json.dumps(plain.to_dict()))).to_dict() == plain.to_dict()
    bad = plain.to_dict() | {"format_version": 99}
    with pytest.raises(ValueError, match="format_version"):
        Calibration.from_dict(bad)


# ---------------------------------------------------------------- robust mounting fit (issue 12)

def test_robust_fit_screens_out_unrelated_pairs():
    """Good pairs carry the true rotation; pairs whose 'real' twin is another recording (a bad
    skeleton, a mis-cut trial) pull the plain fit away but are screened out of the robust one."""
    from imu2safety.simulator.calibration import fit_mounting_robust

    truth = Rotation.from_euler("xyz", [10.0, 35.0, -70.0], degrees=True)
    good = [_real_from(_recording(900, seed=s), truth, 4, seed=20 + s) for s in range(3)]
    bad = [(_recording(900, seed=40 + s), _real_from(_recording(900, seed=60 + s), truth, 0, seed=s)[1])
           for s in range(4)]
    fit = fit_mounting_robust(good + bad, max_lag=20)
    assert fit.fallback is None and fit.pairs_used == 3 and fit.pairs_total == 7
    assert np.degrees((fit.rotation * truth.inv()).magnitude()) < 1.0
    assert 0.0 <= fit.uncertainty_deg < 2.0
    plain = fit_mounting(good + bad, max_lag=20)
    assert np.degrees((plain * truth.inv()).magnitude()) > 2.0
    cal = fit_calibration(good + bad, max_lag=20, fit_quantile_maps=False)
    assert cal.metadata["mounting_fit"]["pairs_used"] == 3
    assert np.degrees((cal.mounting * truth.inv()).magnitude()) < 1.0


def test_robust_fit_uses_still_gravity_and_falls_back_when_unsupported():
    from imu2safety.simulator.calibration import fit_mounting_robust

    truth = Rotation.from_euler("zyx", [40.0, -25.0, 15.0], degrees=True)
    rng = np.random.default_rng(0)
    pairs = []
    for k in range(4):  # still poses held 2 s, separated by a turn: gravity in several directions
        x = _recording(700, seed=k)
        for start in (100, 400):
            g = Rotation.random(random_state=10 * k + start).apply([0.0, 0.0, G])
            x[start:start + 100, :3] = g + rng.normal(0, 0.02, (100, 3))
            x[start:start + 100, 3:] = rng.normal(0, 0.01, (100, 3))
        pairs.append(_real_from(x, truth, 0, seed=k))
    fit = fit_mounting_robust(pairs, max_lag=10)
    assert fit.fallback is None and fit.still_phases == 8
    assert np.degrees((fit.rotation * truth.inv()).magnitude()) < 1.0
    # Nothing related: the identity, and the reason.
    unrelated = [(_recording(600, seed=80 + s), _recording(600, seed=90 + s)) for s in range(3)]
    fb = fit_mounting_robust(unrelated, max_lag=10)
    assert fb.fallback is not None and "pairs" in fb.fallback
    assert fb.rotation.magnitude() == 0.0
    cal = fit_calibration(unrelated, max_lag=10, fit_quantile_maps=False)
    assert cal.mounting.magnitude() == 0.0 and cal.metadata["mounting_fit"]["fallback"]
