"""Learned forearm twist (issue 12, item 2): a known twist profile comes back as gx, the
recovery from paired (synthetic, real) recordings returns the twist that made the real one, the
fitted model round-trips through JSON, and the provenance names the model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from imu2safety.simulator.imu import SimulationOptions, simulate
from imu2safety.simulator.learned_twist import (FEATURES, LearnedTwist, fit_learned_twist,
                                                motion_features, recover_twist)
from imu2safety.simulator.motion import Motion
from imu2safety.simulator.placement import Mounting
from imu2safety.simulator.twist import TwistOptions

FPS, RATE = 30.0, 50.0
P = len(FEATURES) * (len(FEATURES) + 3) // 2  # quadratic expansion size
FLEX = FEATURES.index("flexion")


def _flexing_arm(side: str, seconds: float = 6.0, A: float = 0.5, f: float = 0.6):
    """Elbow flexion theta(t) = 90 deg + A sin(2 pi f t) in a vertical plane, both shoulders."""
    t = np.arange(int(seconds * FPS)) / FPS
    th = np.pi / 2 + A * np.sin(2 * np.pi * f * t)
    y = 0.2 if side == "left" else -0.2
    s, e = np.array([0.0, y, 1.4]), np.array([0.0, y, 1.1])
    w = e + 0.28 * np.stack([np.sin(th), 0 * th, -np.cos(th)], 1)
    other = np.array([0.0, -y, 1.4])
    pos = np.stack([np.broadcast_to(s, w.shape), np.broadcast_to(e, w.shape), w,
                    np.broadcast_to(other, w.shape)], 1)
    names = tuple(f"{side}_{j}" for j in ("shoulder", "elbow", "wrist"))
    names += ("right_shoulder" if side == "left" else "left_shoulder",)
    return Motion(pos, names, t)


def _atan_model(a: float) -> LearnedTwist:
    """delta = atan(a * flexion): identity standardisation, cos = 1, sin = a * flexion."""
    sin = np.zeros(P)
    sin[FLEX] = a
    return LearnedTwist((0.0,) * P, (1.0,) * P, ((0.0,) * P, tuple(sin)), (1.0, 0.0), 1.0, None,
                        "closed form")


def _interior(t, margin_s=0.6):
    return (t > t[0] + margin_s) & (t < t[-1] - margin_s)


@pytest.mark.parametrize("placement", ["left_wrist", "right_wrist"])
def test_known_twist_profile_comes_back_as_gx(placement):
    """delta(t) = atan(a theta(t)) about the forearm: gx = delta' = a theta' / (1 + a^2 theta^2)
    on either wrist, the accelerometer is the constant-twist one turned by -delta about x, and a
    mounting rotation M turns the whole gyro by M^T."""
    side = placement.split("_")[0]
    a, A, f = 0.8, 0.5, 0.6
    motion = _flexing_arm(side, A=A, f=f)
    twist = TwistOptions(source="learned", model=_atan_model(a))
    rec = simulate(motion, SimulationOptions(placement=placement, mounting=Mounting(), twist=twist))
    const = simulate(motion, SimulationOptions(placement=placement, mounting=Mounting()))
    tr = rec.timestamps
    th = np.pi / 2 + A * np.sin(2 * np.pi * f * tr)
    thd = A * 2 * np.pi * f * np.cos(2 * np.pi * f * tr)
    inner = _interior(tr)
    np.testing.assert_allclose(rec.gyro[inner, 0], (a * thd / (1 + (a * th) ** 2))[inner], atol=3e-3)
    delta = np.arctan(a * th)
    turned = Rotation.from_rotvec(np.outer(-delta, [1.0, 0, 0])).apply(const.accel)
    np.testing.assert_allclose(rec.accel[inner], turned[inner], atol=5e-3)
    assert rec.info["twist"]["used"] == "learned"
    m = Rotation.from_euler("zyx", [30, -20, 10], degrees=True)
    mounted = simulate(motion, SimulationOptions(placement=placement, mounting=Mounting(rotation=m),
                                                 twist=twist))
    np.testing.assert_allclose(mounted.gyro, m.inv().apply(rec.gyro), atol=1e-9)


def test_recover_and_fit_round_trip(tmp_path):
    """A 'real' recording made with a known twist model: recover_twist returns that model's
    delta from it and the constant-twist one; a model fitted on it predicts the same twist, and
    its JSON round trip predicts bit for bit the same."""
    motion = _flexing_arm("right", seconds=10.0, A=0.6, f=0.3)
    truth = _atan_model(0.4)
    opts = SimulationOptions(placement="right_wrist", mounting=Mounting(), cutoff_hz=3.0)
    real = simulate(motion, SimulationOptions(**{**opts.__dict__, "twist": TwistOptions(
        source="learned", model=truth)}))
    const = simulate(motion, opts)
    syn6, real6 = const.as_array().astype(np.float64), real.as_array().astype(np.float64)
    delta, w = recover_twist(syn6, real6, RATE)
    feats = motion_features(motion, "right_wrist", const.timestamps)
    true_delta = truth.predict(feats)
    inner = _interior(const.timestamps, 1.0) & (w > 0)
    assert inner.mean() > 0.5
    np.testing.assert_allclose(delta[inner], true_delta[inner], atol=0.02)
    # with the gyroscopes: 1.5 s in the middle where gravity says nothing (an extra 15 m/s^2
    # along the forearm) are bridged by the integrated gx difference
    mid = slice(len(real6) // 2 - 37, len(real6) // 2 + 38)
    shaken = real6.copy()
    shaken[mid, 0] += 15.0
    d0, w0 = recover_twist(syn6, shaken, RATE)
    dg, wg = recover_twist(syn6, shaken, RATE, gyro_s=1.0)
    inner_g = _interior(const.timestamps, 1.0)
    assert (w0[mid] == 0).all() and (wg[inner_g] > 0).all()
    np.testing.assert_allclose(dg[inner_g], true_delta[inner_g], atol=0.02)
    fitted = fit_learned_twist([feats], [delta], [w], alpha=1e-3, smooth_hz=None, fitted_on="closed form")
    np.testing.assert_allclose(fitted.predict(feats)[inner], true_delta[inner], atol=0.02)
    path = tmp_path / "twist.json"
    fitted.save(path)
    back = LearnedTwist.load(path)
    assert back == fitted and back.sha256() == fitted.sha256()
    np.testing.assert_array_equal(back.predict(feats), fitted.predict(feats))


def test_provenance_and_bad_models(tmp_path):
    model = _atan_model(0.5)
    d = TwistOptions(source="learned", model=model).to_dict()
    assert d["source"] == "learned" and d["model"] == {"fitted_on": "closed form", "sha256": model.sha256()}
    assert TwistOptions().to_dict()["model"] is None
    with pytest.raises(ValueError, match="needs a model"):
        TwistOptions(source="learned")
    with pytest.raises(ValueError, match="needs a model"):
        TwistOptions(model=model)
    bad = model.to_dict()
    bad["scale"] = [0.0] * P
    with pytest.raises(ValueError, match="scale"):
        LearnedTwist.from_dict(bad)
    with pytest.raises(ValueError, match="format"):
        LearnedTwist.from_dict({**model.to_dict(), "format": "other"})


def test_cli_simulate_with_a_twist_model(tmp_path, capsys):
    """`imu2safety simulate --twist-model` uses the saved model (its gx is the closed form's),
    and a file that is not a model is one clear error line."""
    from imu2safety.cli import main

    motion = _flexing_arm("left")
    src = tmp_path / "arm.npz"
    np.savez(src, positions=motion.positions, joint_names=np.array(motion.joint_names),
             timestamps=motion.timestamps)
    model = tmp_path / "twist.json"
    _atan_model(0.8).save(model)
    out = tmp_path / "o.npz"
    assert main(["simulate", str(src), "-o", str(out), "--twist-model", str(model)]) == 0
    ref = simulate(motion, SimulationOptions(twist=TwistOptions(source="learned", model=_atan_model(0.8))))
    np.testing.assert_allclose(np.load(out)["gyro"], ref.gyro, atol=1e-6)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    assert main(["simulate", str(src), "-o", str(out), "--twist-model", str(bad)]) != 0
    assert "learned-twist" in capsys.readouterr().err
