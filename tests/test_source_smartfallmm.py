"""SmartFallMM skeleton reader: headerless 96-column CSV fixtures (Azure Kinect, mm)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imu2safety.builders.sources import smartfallmm as sf
from imu2safety.builders.records import Clip, Skip

NAMES = sf.JOINT_NAMES
L_WRIST, R_WRIST = NAMES.index("left_wrist"), NAMES.index("right_wrist")


def frames_mm(num: int) -> np.ndarray:
    """(T, 32, 3) Azure camera-frame positions (x right, y down, z forward), millimetres."""
    j = np.arange(32, dtype=np.float64)[None, :]
    t = np.arange(num, dtype=np.float64)[:, None]
    return np.stack([10.0 * j - 150.0 + 5.0 * t, -20.0 * j + 300.0 + 0 * t,
                     2500.0 + 2.0 * j + 10.0 * t], axis=2)


def csv_text(mm: np.ndarray) -> str:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in mm.reshape(len(mm), -1))


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    path.write_text(text)
    return path


def test_camera_to_world_exact_values(tmp_path):
    mm = frames_mm(6)
    [clip] = sf.read(write(tmp_path, "S29A03T02", csv_text(mm)))
    assert isinstance(clip, Clip)
    assert (clip.id, clip.source, clip.subject, clip.source_label, clip.split) == (
        "S29A03T02", "smartfallmm", "S29", "A03", "train")
    m = clip.motion
    assert m.positions.shape == (6, 32, 3) and m.joint_names == NAMES and m.valid.all()
    x, y, z = (mm[..., k] / 1000.0 for k in range(3))
    np.testing.assert_array_equal(m.positions, np.stack([z, -x, -y], axis=2))
    np.testing.assert_array_equal(m.timestamps, np.arange(6) / 30.0)
    assert clip.extra == {"activity": 3, "trial": 2, "fps": 30.0, "invalid_joint_fraction": 0.0}


def test_point_1_2_3_m_lands_at_3_minus1_minus2(tmp_path):
    mm = frames_mm(3)
    mm[:, 0] = (1000.0, 2000.0, 3000.0)
    [clip] = sf.read(write(tmp_path, "S29A01T01", csv_text(mm)))
    np.testing.assert_array_equal(clip.motion.joint("pelvis"), [[3.0, -1.0, -2.0]] * 3)


def test_corrupt_cells_and_short_rows_are_invalid(tmp_path):
    rows = csv_text(frames_mm(5)).splitlines()
    cells = rows[1].split(",")
    cells[3 * 4 + 1] = "abc"     # joint 4 (left_clavicle), y
    cells[3 * 26 + 2] = ""       # joint 26 (head), z
    rows[1] = ",".join(cells)
    rows[3] = ",".join(rows[3].split(",")[:95])  # a row cut short: invalid frame
    [clip] = sf.read(write(tmp_path, "S30A10T01", "\n".join(rows) + "\n\n"))
    valid = clip.motion.valid
    assert valid.shape == (5, 32)
    assert not valid[1, 4] and not valid[1, 26] and valid[1].sum() == 30
    assert not valid[3].any() and valid[[0, 2, 4]].all()
    assert np.isnan(clip.motion.positions[1, 4]).all()
    assert clip.split == "validation" and clip.extra["invalid_joint_fraction"] == round(34 / 160, 4)
    # The good cells of the repaired row keep their exact values.
    np.testing.assert_array_equal(clip.motion.positions[1, 5], frames_mm(5)[1, 5, [2, 0, 1]]
                                  * [1, -1, -1] / 1000.0)


def test_skips(tmp_path):
    empty = write(tmp_path, "S29A01T01", "")
    blank = write(tmp_path, "S29A01T02", "\n\n")
    mm = frames_mm(4)
    mm[:, [L_WRIST, R_WRIST], 2] = 0.0   # depth 0: no measurement
    wristless = write(tmp_path, "S29A01T03", csv_text(mm))
    unmapped = write(tmp_path, "S29A15T01", csv_text(frames_mm(3)))
    badname = write(tmp_path, "trial_one", csv_text(frames_mm(3)))
    garbage = write(tmp_path, "S29A01T04", "time,x,y,z\n1,2,3,4\n")
    got = {p.stem: next(sf.read(p)) for p in (empty, blank, wristless, unmapped, badname, garbage)}
    assert all(isinstance(s, Skip) for s in got.values())
    assert got["S29A01T01"].reason == "empty file" and got["S29A01T02"].reason == "empty file"
    assert got["S29A01T03"].reason.startswith("no valid wrist")
    assert got["S29A15T01"].reason == "unmapped label 'A15'"
    assert "does not match" in got["trial_one"].reason
    assert got["S29A01T04"].reason == "no numeric skeleton row (96 columns expected)"


def test_splits_by_subject(tmp_path):
    for subject, split in ((29, "train"), (30, "validation"), (31, "test"), (36, "train")):
        [clip] = sf.read(write(tmp_path, f"S{subject}A07T01", csv_text(frames_mm(3))))
        assert clip.split == split and clip.subject == f"S{subject}"


def test_list_inputs_prefers_skeleton_folder(tmp_path):
    write(tmp_path / "young" / "skeleton", "S29A02T01", csv_text(frames_mm(2)))
    write(tmp_path / "young" / "skeleton", "S29A01T01", csv_text(frames_mm(2)))
    write(tmp_path / "young" / "accelerometer" / "watch", "S29A01T01", "1,2,3,4\n")
    assert [p.relative_to(tmp_path).as_posix() for p in sf.list_inputs(tmp_path)] == [
        "young/skeleton/S29A01T01.csv", "young/skeleton/S29A02T01.csv"]
    flat = tmp_path / "flat"
    write(flat, "S29A02T01", "")
    write(flat, "S29A01T01", "")
    assert [p.name for p in sf.list_inputs(flat)] == ["S29A01T01.csv", "S29A02T01.csv"]
    with pytest.raises(ValueError, match="unknown option"):
        list(sf.read(flat / "S29A01T01.csv", second_body=True))


def test_real_files(shared_data):
    files = sf.list_inputs(shared_data / "smartfallmm" / "young")
    assert len(files) > 100 and all(p.parent.name == "skeleton" for p in files)
    for path in files[::25]:
        [clip] = sf.read(path)
        m = clip.motion
        assert m.positions.shape[1:] == (32, 3) and m.num_frames > 20
        # Not mirrored: the nose is ahead of the head along facing = left x up.
        left = m.joint("left_shoulder") - m.joint("right_shoulder")
        up = m.joint("neck") - m.joint("pelvis")
        nose = m.joint("nose") - m.joint("head")
        assert np.nanmedian(np.sum(np.cross(left, up) * nose, axis=1)) > 0
        if int(clip.source_label[1:]) <= 9:  # daily activities: upright, world z is up
            assert np.nanmedian(m.joint("head")[:, 2] - m.joint("pelvis")[:, 2]) > 0.3
