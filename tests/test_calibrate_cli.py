"""`imu2safety calibrate` from a real and a synthetic build, and `build --calibration`."""

from __future__ import annotations

import json

import numpy as np
import scipy.io
from scipy.spatial.transform import Rotation

from imu2safety.builders.calibrate import load_clips
from imu2safety.cli import main
from imu2safety.simulator.calibration import Calibration
from imu2safety.simulator.motion import G

from test_build import _skeleton

N_IMU = 100  # 2 s at 50 Hz: the skeleton's 60 frames spread over it are 30 fps
TRUE = Rotation.from_euler("xyz", [25.0, -40.0, 110.0], degrees=True)


def test_calibrate_recovers_mounting_and_build_applies_it(tmp_path, capsys):
    skel, iner = tmp_path / "Skeleton", tmp_path / "Inertial"
    skel.mkdir()
    iner.mkdir()
    ids = [f"a{a}_s{s}_t1" for a in (1, 5, 8) for s in (1, 2)]
    for k, cid in enumerate(ids):
        scipy.io.savemat(skel / f"{cid}_skeleton.mat", {"d_skel": _skeleton(60, k)})
        scipy.io.savemat(iner / f"{cid}_inertial.mat", {"d_iner": np.zeros((N_IMU, 6))})
    syn = tmp_path / "syn"
    common = ["--placement", "right_wrist", "--device", "ideal"]
    assert main(["build", "utd-mhad", "--input", str(skel), "--output", str(syn), *common]) == 0

    # The "real" recordings: the synthetic signal seen by a sensor mounted with rotation TRUE,
    # 3 samples late, written in UTD-MHAD's units (g, deg/s).
    clips = load_clips(syn, "utd-mhad")
    for cid, (imu, _) in clips.items():
        real = np.concatenate([TRUE.apply(imu[:, :3]), TRUE.apply(imu[:, 3:])], axis=1)
        real = np.concatenate([np.repeat(real[:1], 3, 0), real], 0)[:N_IMU]
        real = np.pad(real, ((0, N_IMU - len(real)), (0, 0)), mode="edge")
        units = np.r_[np.full(3, 1 / G), np.full(3, 180 / np.pi)]
        scipy.io.savemat(iner / f"{cid}_inertial.mat", {"d_iner": real * units})
    real_dir = tmp_path / "real"
    assert main(["build", "utd-mhad-imu", "--input", str(iner), "--output", str(real_dir)]) == 0

    calib = tmp_path / "calib.json"
    assert main(["calibrate", "--real", str(real_dir), "--synthetic", str(syn), "-o", str(calib)]) == 0
    assert f"fitted on {len(ids)} clip pairs" in capsys.readouterr().out
    cal = Calibration.load(calib)
    error_deg = np.degrees((cal.mounting * TRUE.inv()).magnitude())
    assert error_deg < 1.0
    assert json.loads(calib.read_text())  # plain JSON

    out = tmp_path / "calibrated"
    assert main(["build", "utd-mhad", "--input", str(skel), "--output", str(out), *common,
                 "--calibration", str(calib)]) == 0
    calibrated, real = load_clips(out, "utd-mhad"), load_clips(real_dir, "utd-mhad-imu")
    for cid in ids:
        c, r, s = calibrated[cid][0], real[cid][0][3:], clips[cid][0]
        n = min(len(c), len(r))
        err_cal = np.abs(c[:n - 3] - r[:n - 3]).mean()
        err_raw = np.abs(s[:n - 3] - r[:n - 3]).mean()
        assert err_cal < 0.5 * err_raw  # the calibrated simulation is much closer to "real"


def test_calibrate_unpaired_fits_the_target_distribution_from_train_splits_only(tmp_path, capsys):
    """Real clips share no id with the synthetic ones: training-split clips read the synthetic
    signals with twice the angular rate, a test-split clip ten times. The unpaired fit's |gyro|
    map is y = 2x (the test split is never read) and a build applies it."""
    skel, iner = tmp_path / "Skeleton", tmp_path / "Inertial"
    skel.mkdir()
    iner.mkdir()
    ids = [f"a{a}_s{s}_t1" for a in (1, 5, 8) for s in (1, 2)]  # s2: test split
    for k, cid in enumerate(ids):
        scipy.io.savemat(skel / f"{cid}_skeleton.mat", {"d_skel": _skeleton(60, k)})
    syn = tmp_path / "syn"
    common = ["--placement", "right_wrist", "--device", "ideal"]
    assert main(["build", "utd-mhad", "--input", str(skel), "--output", str(syn), *common]) == 0
    units = np.r_[np.full(3, 1 / G), np.full(3, 180 / np.pi)]
    for k, (imu, _) in enumerate(load_clips(syn, "utd-mhad").values()):
        # subjects 3 and 5 train (other recordings' ids); subject 4 test
        scipy.io.savemat(iner / f"a{k + 1}_s{3 + 2 * (k % 2)}_t1_inertial.mat",
                         {"d_iner": np.hstack([imu[:, :3], 2 * imu[:, 3:]]) * units})
        if k == 0:
            scipy.io.savemat(iner / "a1_s4_t1_inertial.mat",
                             {"d_iner": np.hstack([imu[:, :3], 10 * imu[:, 3:]]) * units})
    real_dir = tmp_path / "real"
    assert main(["build", "utd-mhad-imu", "--input", str(iner), "--output", str(real_dir)]) == 0

    calib = tmp_path / "calib.json"
    assert main(["calibrate", "--real", str(real_dir), "--synthetic", str(syn), "--unpaired",
                 "-o", str(calib)]) == 0
    assert "fitted unpaired on 6 synthetic clips" in capsys.readouterr().out
    cal = Calibration.load(calib)
    assert cal.metadata["fitted_for"]["real_splits"] == ["train", "validation"]
    assert cal.mounting.magnitude() == 0.0
    v = np.array([[0.5, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])  # rad/s, inside the range
    _, g = Calibration(synthetic_magnitudes=cal.synthetic_magnitudes,
                       real_magnitudes=cal.real_magnitudes).map_quantiles(v, v)
    np.testing.assert_allclose(g, 2 * v, rtol=0.05)

    out = tmp_path / "calibrated"
    assert main(["build", "utd-mhad", "--input", str(skel), "--output", str(out), *common,
                 "--calibration", str(calib)]) == 0
    assert len(load_clips(out, "utd-mhad")) == len(ids)
