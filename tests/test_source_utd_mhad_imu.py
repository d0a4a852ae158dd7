"""UTD-MHAD inertial reader: ``aA_sS_tT_inertial.mat`` fixtures written with scipy.io.savemat."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from imu2safety.builders.sources import utd_mhad_imu as utd
from imu2safety.builders.labels import lookup
from imu2safety.builders.records import Clip, Skip

G = 9.80665
D_INER = np.array([
    [1.0, 0.0, -0.5, 180.0, 0.0, -90.0],
    [0.0, -2.0, 0.25, 0.0, 360.0, 45.0],
    [0.5, 1.0, 1.0, -180.0, 90.0, 0.0],
])


def write(folder: Path, name: str, **variables) -> Path:
    path = folder / name
    scipy.io.savemat(path, variables or {"d_iner": D_INER})
    return path


def items(path: Path, **options) -> list:
    return list(utd.read(path, **options))


def test_reads_units_labels_split_and_twin_id(tmp_path):
    [clip] = items(write(tmp_path, "a5_s1_t2_inertial.mat"))
    assert isinstance(clip, Clip)
    assert clip.id == "a5_s1_t2" and clip.source == "utd-mhad-imu" and clip.subject == "s1"
    assert clip.source_label == "a5" and lookup("utd-mhad-imu", "a5").activity == "right arm throw"
    assert clip.split == "train" and clip.motion is None
    assert clip.sample_rate_hz == 50.0 and clip.placement == "right_wrist"
    assert clip.imu.dtype == np.float64 and clip.imu.shape == (3, 6)
    assert clip.imu[0].tolist() == [G, 0.0, -0.5 * G, np.pi, 0.0, -np.pi / 2]
    assert clip.imu[1].tolist() == [0.0, -2 * G, 0.25 * G, 0.0, 2 * np.pi, np.pi / 4]


@pytest.mark.parametrize("subject, split", [(1, "train"), (2, "test"), (7, "validation")])
def test_split_follows_the_official_protocol(tmp_path, subject, split):
    [clip] = items(write(tmp_path, f"a1_s{subject}_t1_inertial.mat"))
    assert clip.split == split and clip.subject == f"s{subject}"


def test_thigh_actions_are_skipped_unless_asked(tmp_path):
    path = write(tmp_path, "a23_s3_t1_inertial.mat")
    assert items(path) == [Skip(str(path), "sensor on the thigh for action 23")]
    [clip] = items(path, include_thigh=True)
    assert clip.placement == "right_thigh" and clip.source_label == "a23"
    [wrist] = items(write(tmp_path, "a21_s3_t1_inertial.mat"))
    assert wrist.placement == "right_wrist"


def test_bad_files_are_skipped_with_reasons(tmp_path):
    garbage = tmp_path / "a1_s1_t1_inertial.mat"
    garbage.write_bytes(b"not a MAT file at all" * 10)
    cases = {
        garbage: "unreadable MAT file",
        write(tmp_path, "a1_s1_t2_inertial.mat", other=D_INER): "no d_iner variable",
        write(tmp_path, "a1_s1_t3_inertial.mat", d_iner=D_INER[:, :5]): "d_iner must be",
        write(tmp_path, "a28_s1_t1_inertial.mat"): "unmapped label 'a28'",
        write(tmp_path, "a1_s1_inertial.mat"): "file name",
    }
    for path, reason in cases.items():
        [skip] = items(path)
        assert isinstance(skip, Skip) and skip.input == str(path)
        assert reason in skip.reason


def test_short_nan_runs_are_interpolated_and_long_ones_skipped(tmp_path):
    data = np.tile(np.arange(12, dtype=float)[:, None], (1, 6))
    data[3:5] = np.nan
    [clip] = items(write(tmp_path, "a2_s1_t1_inertial.mat", d_iner=data))
    assert np.array_equal(clip.imu[:, 0], np.arange(12) * G)
    assert clip.extra["interpolated_samples"] == 2
    data[3:9] = np.nan
    [skip] = items(write(tmp_path, "a2_s1_t2_inertial.mat", d_iner=data))
    assert isinstance(skip, Skip) and "6 consecutive non-finite" in skip.reason


def test_list_inputs_sorts_numerically_and_finds_the_inertial_folder(tmp_path):
    folder = tmp_path / "Inertial"
    folder.mkdir()
    for name in ("a10_s1_t1", "a2_s1_t1", "a2_s10_t1", "a2_s2_t1"):
        write(folder, f"{name}_inertial.mat")
    expect = ["a2_s1_t1", "a2_s2_t1", "a2_s10_t1", "a10_s1_t1"]
    for root in (folder, tmp_path):
        assert [p.name.removesuffix("_inertial.mat") for p in utd.list_inputs(root)] == expect
    with pytest.raises(ValueError, match="unknown option"):
        utd.list_inputs(folder, rate_hz=50)


def test_real_files_read_gravity_and_match_skeleton_ids(shared_data):
    folder = shared_data / "utd_mhad" / "data" / "Inertial"
    for name in ("a1_s1_t1", "a9_s3_t2", "a20_s7_t4"):
        [clip] = items(folder / f"{name}_inertial.mat")
        assert clip.id == name and np.isfinite(clip.imu).all()
        assert (shared_data / "utd_mhad" / "data" / "Skeleton" / f"{name}_skeleton.mat").is_file()
        # the trials start and end at rest: |accel| near 1 g
        rest = np.linalg.norm(clip.imu[:5, :3], axis=1).mean()
        assert abs(rest - G) < 0.1 * G
