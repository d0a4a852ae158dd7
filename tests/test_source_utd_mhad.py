"""UTD-MHAD skeleton reader: ``.mat`` fixtures written with scipy.io.savemat (MATLAB v5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from imu2safety.builders.sources import utd_mhad
from imu2safety.builders.records import Clip, Skip

HEAD, PELVIS = utd_mhad.JOINT_NAMES.index("head"), utd_mhad.JOINT_NAMES.index("pelvis")


def d_skel(num: int) -> np.ndarray:
    """(20, 3, T) Kinect v1 camera-space positions (x left, y up, z depth), metres."""
    j = np.arange(20, dtype=np.float64)[:, None]
    t = np.arange(num, dtype=np.float64)[None, :]
    return np.stack([0.5 * j + t, 0.25 * j - 0.125 * t, 2.0 + 0.0625 * j + 0 * t], axis=1)


def write_skel(folder: Path, name: str, skel: np.ndarray | None = None, **variables) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}_skeleton.mat"
    scipy.io.savemat(path, {"d_skel": d_skel(10) if skel is None else skel} | variables)
    return path


def write_inertial(folder: Path, name: str, samples: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}_inertial.mat"
    scipy.io.savemat(path, {"d_iner": np.zeros((samples, 6))})
    return path


def test_camera_to_world_and_inertial_span_timing(tmp_path):
    path = write_skel(tmp_path / "Skeleton", "a5_s1_t1")
    write_inertial(tmp_path / "Inertial", "a5_s1_t1", 40)
    [clip] = utd_mhad.read(path)
    assert isinstance(clip, Clip)
    assert (clip.id, clip.source, clip.subject, clip.source_label, clip.split) == (
        "a5_s1_t1", "utd-mhad", "s1", "a5", "train")
    m = clip.motion
    cam = np.moveaxis(d_skel(10), 2, 0)
    np.testing.assert_array_equal(m.positions, cam[..., [2, 0, 1]])
    assert m.joint_names == utd_mhad.JOINT_NAMES and m.valid.all()
    # 40 samples at 50 Hz = 0.8 s spread over 10 frames: 0.08 s apart.
    np.testing.assert_allclose(m.timestamps, np.arange(10) * 0.08, rtol=0, atol=1e-15)
    assert clip.extra["timing"] == "inertial_span" and clip.extra["inertial_samples"] == 40
    assert clip.extra["fps"] == 12.5 and clip.extra["real_imu_placement"] == "right_wrist"


def test_point_1_2_3_lands_at_3_1_2(tmp_path):
    skel = d_skel(4)
    skel[HEAD] = np.array([1.0, 2.0, 3.0])[:, None]
    [clip] = utd_mhad.read(write_skel(tmp_path, "a1_s1_t1", skel))
    np.testing.assert_array_equal(clip.motion.joint("head"), [[3.0, 1.0, 2.0]] * 4)


def test_inertial_in_same_folder_and_nominal_fallback(tmp_path):
    same = write_skel(tmp_path / "same", "a2_s3_t2")
    write_inertial(tmp_path / "same", "a2_s3_t2", 25)
    alone = write_skel(tmp_path / "alone", "a2_s3_t3")
    [a] = utd_mhad.read(same)
    [b] = utd_mhad.read(alone)
    np.testing.assert_allclose(a.motion.timestamps, np.arange(10) * 0.05, rtol=0, atol=1e-15)
    assert b.extra == {"action": 2, "trial": 3, "real_imu_placement": "right_wrist",
                       "timing": "nominal_30fps", "fps": 30.0}
    np.testing.assert_array_equal(b.motion.timestamps, np.arange(10) / 30.0)


def test_labels_splits_and_placement(tmp_path):
    cases = {"a22_s2_t1": ("test", "right_thigh"), "a21_s7_t4": ("validation", "right_wrist"),
             "a27_s5_t1": ("train", "right_thigh")}
    for name, (split, placement) in cases.items():
        [clip] = utd_mhad.read(write_skel(tmp_path, name))
        assert (clip.split, clip.extra["real_imu_placement"]) == (split, placement)
        assert clip.source_label == name.split("_")[0]


def test_invalid_joints(tmp_path):
    skel = d_skel(5)
    skel[HEAD, :, 1] = np.nan
    skel[PELVIS, 2, 3] = 0.0  # depth 0: not a measurement
    [clip] = utd_mhad.read(write_skel(tmp_path, "a1_s1_t1", skel))
    valid = clip.motion.valid
    assert not valid[1, HEAD] and not valid[3, PELVIS] and valid.sum() == 5 * 20 - 2
    assert np.isnan(clip.motion.positions[3, PELVIS]).all()


def test_bad_files_are_skipped_with_reasons(tmp_path):
    unmapped = write_skel(tmp_path, "a28_s1_t1")
    wrong_var = tmp_path / "a1_s1_t2_skeleton.mat"
    scipy.io.savemat(wrong_var, {"skel": d_skel(3)})
    wrong_shape = write_skel(tmp_path, "a1_s1_t3", np.zeros((25, 3, 4)))
    empty = write_skel(tmp_path, "a1_s1_t4", np.zeros((20, 3, 0)))
    corrupt = tmp_path / "a1_s1_t5_skeleton.mat"
    corrupt.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(range(256)) * 3)
    badname = write_skel(tmp_path, "walk_01")
    no_wrist = d_skel(4)
    no_wrist[[utd_mhad.JOINT_NAMES.index(w) for w in ("left_wrist", "right_wrist")]] = np.nan
    wristless = write_skel(tmp_path, "a1_s1_t6", no_wrist)
    reasons = {}
    for path in (unmapped, wrong_var, wrong_shape, empty, corrupt, badname, wristless):
        [skip] = utd_mhad.read(path)
        assert isinstance(skip, Skip) and skip.input == str(path)
        reasons[path.name] = skip.reason
    assert reasons["a28_s1_t1_skeleton.mat"] == "unmapped label 'a28'"
    assert reasons["a1_s1_t2_skeleton.mat"] == "no variable 'd_skel' in the file"
    assert "expected (20, 3, T)" in reasons["a1_s1_t3_skeleton.mat"]
    assert "expected (20, 3, T)" in reasons["a1_s1_t4_skeleton.mat"]
    assert reasons["a1_s1_t5_skeleton.mat"].startswith("cannot read MATLAB file")
    assert "does not match" in reasons["walk_01_skeleton.mat"]
    assert reasons["a1_s1_t6_skeleton.mat"].startswith("no valid wrist")


def test_list_inputs(tmp_path):
    for name in ("a2_s1_t1", "a10_s1_t1", "a1_s1_t1"):
        write_skel(tmp_path / "Skeleton", name)
    write_inertial(tmp_path / "Inertial", "a1_s1_t1", 10)
    got = [p.name for p in utd_mhad.list_inputs(tmp_path)]
    assert got == ["a10_s1_t1_skeleton.mat", "a1_s1_t1_skeleton.mat", "a2_s1_t1_skeleton.mat"]
    with pytest.raises(ValueError, match="unknown option"):
        utd_mhad.list_inputs(tmp_path, protocol="xsub")


def test_real_files(shared_data):
    folder = shared_data / "utd_mhad" / "data"
    files = utd_mhad.list_inputs(folder)
    assert len(files) > 100
    for path in files[::40]:
        [clip] = utd_mhad.read(path)
        m = clip.motion
        assert m.positions.shape[1:] == (20, 3) and m.valid.mean() > 0.99
        # Timestamps span the inertial twin's duration.
        imu = scipy.io.loadmat(folder / "Inertial" / f"{clip.id}_inertial.mat")["d_iner"]
        assert clip.extra["timing"] == "inertial_span"
        span = m.timestamps[-1] + (m.timestamps[1] - m.timestamps[0])
        assert span == pytest.approx(len(imu) / 50)
        # z is up: the head is well above the pelvis.
        assert np.median(m.joint("head")[:, 2] - m.joint("pelvis")[:, 2]) > 0.3
        # Not mirrored: the feet point the way the body faces (facing = left x up).
        left = m.joint("left_shoulder") - m.joint("right_shoulder")
        up = m.joint("spine_shoulder") - m.joint("pelvis")
        feet = (m.joint("left_foot") - m.joint("left_ankle")
                + m.joint("right_foot") - m.joint("right_ankle"))
        assert np.median(np.sum(np.cross(left, up) * feet, axis=1)) > 0
