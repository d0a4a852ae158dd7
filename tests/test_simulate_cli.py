"""`imu2safety simulate`: the CLI contract, bad input, determinism."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pytest

from imu2safety.cli import main
from imu2safety.simulator.imu import SimulationOptions, simulate
from imu2safety.simulator.motion import Motion, MotionError
from imu2safety.simulator.readers import read_imu

NAMES = ["left_shoulder", "left_elbow", "left_wrist", "left_hand",
         "right_shoulder", "right_elbow", "right_wrist", "right_hand"]


def _arm_motion(T=150, fps=30.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T) / fps
    base = np.array([[0, .2, 1.4], [0, .25, 1.1], [.25, .25, 1.0], [.33, .25, 1.0],
                     [0, -.2, 1.4], [0, -.25, 1.1], [.25, -.25, 1.0], [.33, -.25, 1.0]])
    wave = 0.1 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5, (1, 8, 3)) * t[:, None, None]
                        + rng.uniform(0, 6, (1, 8, 3)))
    return base + wave, t


def _write(path, positions, names=NAMES, **time):
    np.savez(path, positions=positions, joint_names=np.array(names), **time)
    return path


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_npz_to_npz_and_csv(tmp_path, capsys):
    pos, t = _arm_motion()
    src = _write(tmp_path / "m.npz", pos, fps=30.0)
    assert main(["simulate", str(src), "-o", str(tmp_path / "o.npz"), "--rate", "50"]) == 0
    assert main(["simulate", str(src), "-o", str(tmp_path / "o.csv"), "--rate", "50"]) == 0
    a1, g1, t1, r1 = read_imu(tmp_path / "o.npz")
    a2, g2, t2, r2 = read_imu(tmp_path / "o.csv")
    assert r1 == r2 == 50.0 and a1.shape == g1.shape == (len(t1), 3)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(g1, g2)
    expected = simulate(Motion(pos, NAMES, t), SimulationOptions(rate_hz=50.0), "m")
    np.testing.assert_array_equal(a1, expected.accel)
    header = (tmp_path / "o.csv").read_text().splitlines()[0]
    assert header == "timestamp_s,ax_mps2,ay_mps2,az_mps2,gx_radps,gy_radps,gz_radps"


def test_same_seed_byte_identical_other_clip_independent(tmp_path):
    pos, _ = _arm_motion(T=300)
    pos[:] = pos[0]  # still: what differs between outputs is noise alone
    src = _write(tmp_path / "m.npz", pos, fps=30.0)
    outs = []
    for name, extra in (("a", []), ("b", []), ("c", ["--clip-id", "other"]), ("d", ["--seed", "1"])):
        out = tmp_path / f"{name}.npz"
        assert main(["simulate", str(src), "-o", str(out), "--device", "bmi160", *extra]) == 0
        outs.append(out)
    assert _sha(outs[0]) == _sha(outs[1])
    ideal = simulate(Motion.from_fps(pos, NAMES, 30.0)).accel
    noise = [read_imu(o)[0] - ideal for o in (outs[0], outs[2], outs[3])]
    assert not np.array_equal(noise[0], noise[1]) and not np.array_equal(noise[0], noise[2])
    # Independent streams: the white parts of the noise are uncorrelated.
    d = [np.diff(n[:, 0]) for n in noise]
    assert abs(np.corrcoef(d[0], d[1])[0, 1]) < 0.3
    assert abs(np.corrcoef(d[0], d[2])[0, 1]) < 0.3


@pytest.mark.parametrize("case, message", [
    ("unknown_joint", "unknown joint names"),
    ("missing_joint", "lacks joints"),
    ("one_frame", "frames"),
    ("all_nan", "frames"),
    ("zero_rate", "rate must be positive"),
    ("zero_fps", "fps must be positive"),
    ("not_npz", ""),
])
def test_unusable_input_exits_nonzero_with_one_line(tmp_path, capsys, case, message):
    pos, _ = _arm_motion()
    src, args = tmp_path / "m.npz", []
    if case == "unknown_joint":
        _write(src, pos, NAMES[:-1] + ["left_tail"], fps=30.0)
    elif case == "missing_joint":
        _write(src, pos[:, 4:], NAMES[4:], fps=30.0)
    elif case == "one_frame":
        _write(src, pos[:1], fps=30.0)
    elif case == "all_nan":
        _write(src, np.full_like(pos, np.nan), fps=30.0)
    elif case == "zero_rate":
        _write(src, pos, fps=30.0)
        args = ["--rate", "0"]
    elif case == "zero_fps":
        _write(src, pos, fps=0.0)
    else:
        src.write_bytes(b"not a zip file")
    code = main(["simulate", str(src), "-o", str(tmp_path / "o.npz"), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert err[-1].startswith("imu2safety: error: ") and message in err[-1]
    assert not (tmp_path / "o.npz").exists()


def test_repairs_nan_frames_and_duplicate_timestamps_with_warnings():
    pos, t = _arm_motion(T=120)
    clean = simulate(Motion(pos, NAMES, t), SimulationOptions(cutoff_hz=None))
    broken = pos.copy()
    broken[40:43, 2] = np.nan                       # a short dropout of the left wrist
    t_dup = np.insert(t, 60, t[60])                 # a repeated timestamp (a duplicated frame)
    p_dup = np.insert(broken, 60, broken[60], axis=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = simulate(Motion(p_dup, NAMES, t_dup), SimulationOptions(cutoff_hz=None))
    text = " ".join(str(w.message) for w in caught)
    assert "repeated timestamps" in text and "filled 3 frames" in text
    assert np.isfinite(rec.accel).all() and np.isfinite(rec.gyro).all()
    assert rec.accel.shape == clean.accel.shape
    # Away from the repaired frames the signal is unchanged.
    far = (rec.timestamps < 1.0) | (rec.timestamps > 1.9)
    np.testing.assert_allclose(rec.accel[far], clean.accel[far], atol=0.5)


def test_leading_nan_frames_are_trimmed_and_unsorted_frames_sorted():
    pos, t = _arm_motion(T=90)
    pos[:5] = np.nan
    order = np.random.default_rng(1).permutation(len(t))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = simulate(Motion(pos[order], NAMES, t[order]))
    assert any("trimmed 5 leading" in str(w.message) for w in caught)
    assert any("sorted" in str(w.message) for w in caught)
    assert rec.timestamps[0] == pytest.approx(5 / 30.0)
    assert np.isfinite(rec.as_array()).all()


def test_too_short_clip_is_rejected():
    pos, t = _arm_motion(T=5, fps=1000.0)
    with pytest.raises(MotionError, match="too short"):
        simulate(Motion(pos, NAMES, t), SimulationOptions(rate_hz=50.0))


def test_batch_equals_one_by_one_bit_for_bit():
    from imu2safety.simulator.imu import simulate_many

    motions = [Motion.from_fps(_arm_motion(T=150, seed=s)[0], NAMES, 30.0) for s in range(5)]
    ids = [f"clip{s}" for s in range(5)]
    opts = SimulationOptions(device="bmi160", seed=3)
    batch = simulate_many(motions, opts, ids)
    for m, cid, rec in zip(motions, ids, batch):
        one = simulate(m, opts, cid)
        np.testing.assert_array_equal(rec.accel, one.accel)
        np.testing.assert_array_equal(rec.gyro, one.gyro)
