"""Generic motion npz files (the CLI contract) and IMU output files: round trips and bad input."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from imu2safety.simulator.motion import Motion, MotionError, RigidBodyTrajectory
from imu2safety.simulator.readers import (
    IMU_CSV_HEADER, read_imu, read_motion, read_motion_npz, write_imu, write_motion_npz,
    write_rigid_npz,
)

NAMES = ("pelvis", "left_shoulder", "left_elbow", "left_wrist")


def _skeleton_arrays(t: int = 6) -> dict:
    rng = np.random.default_rng(3)
    return {
        "positions": rng.normal(size=(t, len(NAMES), 3)),
        "joint_names": np.array(NAMES),  # unicode array, no pickle needed
        "fps": np.float64(30.0),
    }


def _save(tmp_path, name: str = "clip.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_skeleton_npz_with_fps(tmp_path):
    arrays = _skeleton_arrays()
    motion = read_motion_npz(_save(tmp_path, **arrays))
    assert isinstance(motion, Motion)
    assert motion.joint_names == NAMES
    np.testing.assert_array_equal(motion.positions, arrays["positions"])
    np.testing.assert_array_equal(motion.timestamps, np.arange(6) / 30.0)
    assert motion.valid.all()


def test_skeleton_npz_with_timestamps_and_valid(tmp_path):
    arrays = _skeleton_arrays()
    del arrays["fps"]
    arrays["positions"][2, 1] = np.nan
    arrays["timestamps"] = np.array([0.0, 0.03, 0.07, 0.1, 0.13, 0.2])
    arrays["valid"] = np.ones((6, 4), dtype=bool)
    arrays["valid"][4, 3] = False
    motion = read_motion(_save(tmp_path, **arrays))
    np.testing.assert_array_equal(motion.timestamps, arrays["timestamps"])
    expected_valid = arrays["valid"].copy()
    expected_valid[2, 1] = False  # NaN positions are invalid too
    np.testing.assert_array_equal(motion.valid, expected_valid)


def test_skeleton_round_trip_is_exact(tmp_path):
    arrays = _skeleton_arrays()
    arrays["positions"][1, 2] = np.nan
    valid = np.ones((6, 4), dtype=bool)
    valid[3, 0] = False
    motion = Motion(arrays["positions"], NAMES, np.arange(6) * 0.0331, valid)
    path = write_motion_npz(tmp_path / "out" / "m.npz", motion)
    back = read_motion(path)
    np.testing.assert_array_equal(back.positions, motion.positions)  # NaN == NaN here
    np.testing.assert_array_equal(back.timestamps, motion.timestamps)
    np.testing.assert_array_equal(back.valid, motion.valid)
    assert back.joint_names == motion.joint_names
    with np.load(path, allow_pickle=False) as npz:  # plain unicode, readable without pickle
        assert npz["joint_names"].dtype.kind == "U"
    assert [p.name for p in path.parent.iterdir()] == ["m.npz"]  # no temp file left


def test_rigid_npz_nan_rows_are_gaps(tmp_path):
    quat = Rotation.from_euler("z", [[0], [30], [60], [90]], degrees=True).as_quat(scalar_first=True)
    quat[1] = np.nan
    position = np.arange(12.0).reshape(4, 3)
    position[3] = np.nan
    traj = read_motion_npz(_save(tmp_path, position=position, quaternion=quat,
                                 timestamps=np.array([0.0, 0.1, 0.2, 0.3])))
    assert isinstance(traj, RigidBodyTrajectory)
    np.testing.assert_array_equal(traj.valid, [True, False, True, False])
    np.testing.assert_allclose(traj.rotation[2].as_euler("xyz", degrees=True), [0, 0, 60])
    np.testing.assert_array_equal(traj.timestamps, [0.0, 0.1, 0.2, 0.3])


def test_rigid_round_trip(tmp_path):
    rot = Rotation.from_rotvec(np.random.default_rng(5).normal(size=(5, 3)))
    position = np.random.default_rng(6).normal(size=(5, 3))
    traj = RigidBodyTrajectory.from_quaternions(
        position, rot.as_quat(scalar_first=True), fps=285.7)
    traj.valid[2] = False  # a gap flagged without NaN positions still round-trips as a gap
    back = read_motion(write_rigid_npz(tmp_path / "r.npz", traj))
    np.testing.assert_array_equal(back.position, traj.position)
    np.testing.assert_array_equal(back.timestamps, traj.timestamps)
    np.testing.assert_array_equal(back.valid, traj.valid)
    keep = traj.valid
    # scipy renormalises on load: equal to rounding.
    np.testing.assert_allclose(back.rotation[keep].as_quat(), traj.rotation[keep].as_quat(),
                               rtol=0, atol=1e-15)
    # The file itself is a fixed point: writing what was read gives the same arrays.
    again = write_rigid_npz(tmp_path / "r2.npz", back)
    with np.load(tmp_path / "r.npz") as a, np.load(again) as b:
        for key in ("position", "timestamps"):
            np.testing.assert_array_equal(a[key], b[key])


def _bad_cases() -> list[tuple[dict, str]]:
    good = _skeleton_arrays()
    rigid = {"position": np.zeros((3, 3)), "quaternion": np.tile([1.0, 0, 0, 0], (3, 1)),
             "fps": 10.0}

    def skel(**changes):
        arrays = {**good, **changes}
        return {k: v for k, v in arrays.items() if v is not None}

    def rig(**changes):
        arrays = {**rigid, **changes}
        return {k: v for k, v in arrays.items() if v is not None}

    return [
        (skel(joint_names=None), r"lacks key\(s\) \['joint_names'\]"),
        (skel(fps=None), "missing key 'fps' or 'timestamps'"),
        (skel(positions=np.zeros((6, 4))), r"positions must be \(T, J, 3\)"),
        (skel(positions=np.zeros((0, 4, 3))), r"T >= 1"),
        (skel(joint_names=np.array(NAMES[:3])), r"joint_names must have shape \(4,\)"),
        (skel(joint_names=np.array(["pelvis", "left_wrist", "left_elbow", "left_pinky"])),
         r"unknown joint names \['left_pinky'\]"),
        (skel(joint_names=np.array(["pelvis", "pelvis", "left_elbow", "left_wrist"])),
         "repeated joint names"),
        (skel(joint_names=np.arange(4)), "joint_names must be strings"),
        (skel(fps=np.float64(0.0)), "fps must be positive, got 0.0"),
        (skel(fps=np.float64(-30.0)), "fps must be positive, got -30.0"),
        (skel(fps=np.array([30.0, 25.0])), "fps must be a scalar"),
        (skel(fps=np.array("thirty")), "fps must be numeric"),
        (skel(positions=np.full((6, 4, 3), "x")), "positions must be numeric"),
        (skel(fps=None, timestamps=np.arange(5.0)), r"timestamps must have shape \(6,\)"),
        (skel(fps=None, timestamps=np.array([0, 1, np.inf, 3, 4, 5.0])), "NaN or Inf"),
        (skel(valid=np.ones((6, 3), dtype=bool)), "valid must be bool"),
        (skel(valid=np.ones((6, 4))), "valid must be bool"),
        (rig(quaternion=None), r"lacks key\(s\) \['quaternion'\]"),
        (rig(position=np.zeros((3, 2))), r"position must be \(T, 3\)"),
        (rig(quaternion=np.zeros((3, 3))), r"quaternion must be \(3, 4\)"),
        (rig(fps=np.float64(-1.0)), "fps must be positive"),
        ({"accel": np.zeros((3, 3))}, "neither a skeleton npz"),
    ]


@pytest.mark.parametrize("arrays, match", _bad_cases())
def test_bad_npz_raises_motion_error(tmp_path, arrays, match):
    path = _save(tmp_path, **arrays)
    with pytest.raises(MotionError, match=match) as info:
        read_motion_npz(path)
    assert str(path) in str(info.value)


def test_unreadable_files_raise_motion_error(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("positions,joint_names\n1,2\n")
    with pytest.raises(MotionError, match="not a valid .npz file"):
        read_motion_npz(text)
    good = _save(tmp_path, **_skeleton_arrays())
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(MotionError, match="not a valid .npz file"):
        read_motion_npz(cut)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{**_skeleton_arrays(), "joint_names": np.array(NAMES, dtype=object)})
    with pytest.raises(MotionError, match="unicode array"):
        read_motion_npz(pickled)
    with pytest.raises(MotionError, match="cannot read"):
        read_motion_npz(tmp_path / "absent.npz")
    with pytest.raises(MotionError, match="unknown motion file suffix '.c3d'"):
        read_motion(tmp_path / "clip.c3d")


def _imu(n: int = 7, rate: float = 50.0):
    rng = np.random.default_rng(11)
    accel = rng.normal(scale=9.8, size=(n, 3))
    gyro = rng.normal(scale=3.0, size=(n, 3))
    return accel, gyro, np.arange(n) / rate, rate


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
@pytest.mark.parametrize("rate", [50.0, 285.7, 32.0])
def test_imu_round_trip_is_exact(tmp_path, suffix, rate):
    accel, gyro, t, _ = _imu(rate=rate)
    path = write_imu(tmp_path / f"imu{suffix}", accel, gyro, t, rate)
    back_accel, back_gyro, back_t, back_rate = read_imu(path)
    np.testing.assert_array_equal(back_accel, accel)
    np.testing.assert_array_equal(back_gyro, gyro)
    np.testing.assert_array_equal(back_t, t)
    assert back_rate == rate
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_imu_float32_input_and_csv_layout(tmp_path):
    accel, gyro, t, rate = _imu(n=3)
    accel32 = accel.astype(np.float32)
    path = write_imu(tmp_path / "imu.csv", accel32, gyro, t, rate)
    lines = path.read_text().splitlines()
    assert lines[0] == IMU_CSV_HEADER == (
        "timestamp_s,ax_mps2,ay_mps2,az_mps2,gx_radps,gy_radps,gz_radps")
    assert len(lines) == 4
    first = [float(v) for v in lines[1].split(",")]
    assert first == [t[0], *accel32[0].astype(np.float64), *gyro[0]]
    npz = write_imu(tmp_path / "imu.npz", accel32, gyro, t, rate)
    with np.load(npz, allow_pickle=False) as z:
        assert sorted(z.files) == ["accel", "gyro", "sample_rate_hz", "timestamps"]
        assert z["sample_rate_hz"].shape == () and float(z["sample_rate_hz"]) == 50.0
        np.testing.assert_array_equal(z["accel"], accel32)


def test_imu_writer_overwrites_atomically(tmp_path):
    accel, gyro, t, rate = _imu()
    path = tmp_path / "imu.npz"
    write_imu(path, accel, gyro, t, rate)
    write_imu(path, accel * 2, gyro, t, rate)
    np.testing.assert_array_equal(read_imu(path)[0], accel * 2)
    assert zipfile.is_zipfile(path)


@pytest.mark.parametrize("change, match", [
    ({"accel": np.zeros((7, 2))}, "need accel"),
    ({"gyro": np.zeros((6, 3))}, "need accel"),
    ({"timestamps": np.zeros((7, 1))}, "need accel"),
    ({"accel": np.full((7, 3), np.nan)}, "accel contains NaN"),
    ({"gyro": np.full((7, 3), np.inf)}, "gyro contains NaN"),
    ({"sample_rate_hz": 0.0}, "sample_rate_hz must be positive"),
    ({"path": "imu.parquet"}, "must end in .npz or .csv"),
])
def test_imu_writer_rejects_bad_input(tmp_path, change, match):
    accel, gyro, t, rate = _imu()
    args = {"path": "imu.npz", "accel": accel, "gyro": gyro, "timestamps": t,
            "sample_rate_hz": rate, **change}
    args["path"] = tmp_path / args["path"]
    with pytest.raises(ValueError, match=match):
        write_imu(**args)
    assert list(tmp_path.iterdir()) == []


def test_imu_reader_rejects_bad_files(tmp_path):
    bad_header = tmp_path / "a.csv"
    bad_header.write_text("t,ax,ay,az,gx,gy,gz\n0,1,2,3,4,5,6\n")
    with pytest.raises(ValueError, match="header"):
        read_imu(bad_header)
    one_row = tmp_path / "b.csv"
    one_row.write_text(IMU_CSV_HEADER + "\n0,1,2,3,4,5,6\n")
    with pytest.raises(ValueError, match="at least 2 rows"):
        read_imu(one_row)
    missing = tmp_path / "c.npz"
    np.savez(missing, accel=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"lacks key\(s\) \['gyro', 'timestamps'"):
        read_imu(missing)
