"""Folder sources (``bvh``, ``npz`` + ``labels.csv``) and the source registry."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from imu2safety.builders.sources import folders

from imu2safety.builders import sources
from imu2safety.builders.sources.folders import BVH, NPZ, folder_label, folder_split
from imu2safety.builders.labels import Label
from imu2safety.builders.records import Clip, Skip
from imu2safety.simulator.motion import Motion

# Hips -> LeftArm -> LeftForeArm -> LeftHand (wrist) -> End Site, centimetres, y up.
BVH_TEXT = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT LeftArm
  {
    OFFSET 20 50 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT LeftForeArm
    {
      OFFSET 30 0 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      JOINT LeftHand
      {
        OFFSET 25 0 0
        CHANNELS 3 Zrotation Xrotation Yrotation
        End Site
        {
          OFFSET 10 0 0
        }
      }
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.04
0 100 0 0 0 0 0 0 0 0 0 0 0 0 0
0 100 10 0 0 0 0 0 0 0 0 0 0 0 0
0 100 20 0 0 0 0 0 0 0 0 0 0 0 0
"""


def npz_motion(path: Path, names=("pelvis", "left_wrist", "right_wrist"), frames: int = 4) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pos = np.arange(frames * len(names) * 3, dtype=np.float64).reshape(frames, len(names), 3)
    np.savez(path, positions=pos, joint_names=np.array(names, dtype=str), fps=np.float64(25.0))


def make_folder(root: Path, rows: str, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "labels.csv").write_text(rows)
    return root


def test_folder_label_rule():
    assert folder_label("Falling") == Label("Falling", "falling")
    assert folder_label(" jumping from height ") == Label("jumping from height",
                                                          "jumping_from_height")
    assert folder_label("losing-balance") == Label("losing-balance", "losing_balance")
    assert folder_label("walking") == Label("walking", "none")
    assert folder_label("fall") == Label("fall", "none")  # not a hazard name: safe activity


def test_folder_split_is_the_documented_hash_rule():
    for subject in ("s01", "P7", "subject-ä"):
        r = int.from_bytes(hashlib.sha256(subject.encode()).digest()[:8], "big") % 10
        assert folder_split(subject) == {0: "test", 1: "validation"}.get(r, "train")
    counts = {s: 0 for s in ("train", "validation", "test")}
    for k in range(2000):
        counts[folder_split(f"subject{k}")] += 1
    assert 1450 < counts["train"] < 1750 and 120 < counts["test"] < 280


def test_bvh_folder_labels_subjects_ids_and_positions(tmp_path):
    root = make_folder(tmp_path / "mine", "file,label,subject\ns01/walk.bvh,walking,\n"
                       "s01/fall.bvh,Falling,P7\nrun.BVH,running,\n",
                       {"s01/walk.bvh": BVH_TEXT, "s01/fall.bvh": BVH_TEXT,
                        "s02/run.BVH": BVH_TEXT, "s02/nolabel.bvh": BVH_TEXT, "notes.txt": "x"})
    files = BVH.list_inputs(root)
    assert [p.relative_to(root).as_posix() for p in files] == [
        "s01/fall.bvh", "s01/walk.bvh", "s02/nolabel.bvh", "s02/run.BVH"]
    fall, walk, nolabel, run = (list(BVH.read(p, unit="cm")) for p in files)
    [fall], [walk], [nolabel], [run] = fall, walk, nolabel, run
    assert isinstance(nolabel, Skip) and nolabel.reason.startswith("no label")
    assert (walk.id, walk.source, walk.subject, walk.source_label, walk.split) == (
        "s01/walk", "bvh", "s01", "walking", folder_split("s01"))
    assert walk.extra == {"file": "s01/walk.bvh", "subject_from": "folder"}
    assert walk.label == walk.resolved_label() == Label("walking", "none")
    assert (fall.subject, fall.split, fall.source_label) == ("P7", folder_split("P7"), "Falling")
    assert fall.resolved_label() == Label("Falling", "falling")
    assert (run.id, run.subject, run.source_label) == ("s02/run", "s02", "running")
    # LeftHand (the wrist), root moving along bvh z: bvh (75, 150, 10 t) cm -> world (z, x, y) m.
    m = walk.motion
    assert isinstance(m, Motion) and m.has("left_wrist")
    np.testing.assert_allclose(m.joint("left_wrist"),
                               [[0.0, 0.75, 1.5], [0.1, 0.75, 1.5], [0.2, 0.75, 1.5]], atol=1e-12)
    np.testing.assert_allclose(m.timestamps, [0.0, 0.04, 0.08])


def test_bvh_bad_files_and_options(tmp_path):
    root = make_folder(tmp_path, "file,label\nbroken.bvh,walking\n", {"broken.bvh": "HIERARCHY\n"})
    [skip] = BVH.read(root / "broken.bvh")
    assert isinstance(skip, Skip) and skip.reason.startswith("unreadable motion")
    with pytest.raises(ValueError, match="unit must be"):
        list(BVH.read(root / "broken.bvh", unit="furlong"))
    with pytest.raises(ValueError, match="unknown option"):
        BVH.list_inputs(root, protocol="xsub")


def test_npz_folder(tmp_path):
    root = tmp_path / "npzs"
    npz_motion(root / "a" / "clip1.npz")
    npz_motion(root / "a" / "short.npz", frames=1)
    npz_motion(root / "b" / "nowrist.npz", names=("pelvis", "head"))
    np.savez(root / "b" / "rigid.npz", position=np.zeros((3, 3)),
             quaternion=np.tile([1.0, 0, 0, 0], (3, 1)), fps=np.float64(50.0))
    (root / "b" / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (root / "labels.csv").write_text(
        "file,label\na/clip1.npz,shoving\na/short.npz,walking\nb/nowrist.npz,walking\n"
        "b/rigid.npz,walking\nb/corrupt.npz,walking\n")
    got = {p.stem: next(NPZ.read(p)) for p in NPZ.list_inputs(root)}
    assert list(got) == ["clip1", "short", "corrupt", "nowrist", "rigid"]
    clip = got["clip1"]
    assert isinstance(clip, Clip)
    assert (clip.id, clip.subject, clip.source) == ("a/clip1", "a", "npz")
    assert clip.resolved_label() == Label("shoving", "shoving")
    np.testing.assert_array_equal(clip.motion.positions[1, 2], [15.0, 16.0, 17.0])
    np.testing.assert_array_equal(clip.motion.timestamps, np.arange(4) / 25.0)
    assert got["short"].reason.startswith("too short")
    assert got["corrupt"].reason.startswith("unreadable motion")
    assert got["nowrist"].reason == "no wrist joint in the skeleton"
    assert got["rigid"].reason == "holds a RigidBodyTrajectory, not a skeleton motion"


def test_labels_table_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="labels.csv"):
        NPZ.list_inputs(tmp_path)
    (tmp_path / "labels.csv").write_text("name,activity\nx.npz,walking\n")
    with pytest.raises(ValueError, match="file,label"):
        NPZ.list_inputs(tmp_path)
    (tmp_path / "labels.csv").write_text("file,label\nx.npz,walking\n./x.npz,running\n")
    with pytest.raises(ValueError, match="repeats file 'x.npz'"):
        NPZ.list_inputs(tmp_path)
    (tmp_path / "labels.csv").write_text("file,label\nx.npz,walking\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "labels.csv").write_text("file,label\n")
    with pytest.raises(ValueError, match="nested"):
        NPZ.list_inputs(tmp_path)
    # read() alone (no list_inputs) still never raises for an unlabelled file.
    npz_motion(tmp_path / "sub" / "y.npz")
    [skip] = NPZ.read(tmp_path / "sub" / "y.npz")
    assert skip.reason.startswith("no label")
    orphan = tmp_path.parent / f"{tmp_path.name}_orphan" / "z.npz"
    npz_motion(orphan)
    assert next(NPZ.read(orphan)).reason.startswith("no label")


def test_registry_lists_every_source_and_loads_ours():
    assert list(sources.SOURCES) == ["ntu", "utd-mhad", "smartfallmm", "bvh", "npz",
                                     "utd-mhad-imu", "smartfallmm-imu", "weda-fall", "up-fall",
                                     "kinetics", "ucf-crime", "le2i", "up-fall-video"]
    for name in ("ntu", "utd-mhad", "smartfallmm", "bvh", "npz"):
        src = sources.get_source(name)
        assert src is sources.SOURCES[name] and src.NAME == name
        assert src.LICENSE and src.CITATION
        assert callable(src.list_inputs) and callable(src.read)
    with pytest.raises(ValueError, match="valid sources: ntu, utd-mhad"):
        sources.get_source("kinetics-400")


def test_registry_reports_a_missing_module(monkeypatch):
    monkeypatch.setitem(sources.SOURCE_PATHS, "fake-source", ".no_such_reader")
    with pytest.raises(ImportError, match="'fake-source' is registered"):
        sources.get_source("fake-source")


def test_camera_matrices_are_proper_rotations():
    for m in (sources.KINECT_TO_WORLD, sources.AZURE_TO_WORLD):
        np.testing.assert_array_equal(m @ m.T, np.eye(3))
        assert np.linalg.det(m) == pytest.approx(1.0)
    np.testing.assert_array_equal(sources.camera_to_world([1.0, 2.0, 3.0], sources.KINECT_TO_WORLD),
                                  [3.0, 1.0, 2.0])
    np.testing.assert_array_equal(sources.camera_to_world([1.0, 2.0, 3.0], sources.AZURE_TO_WORLD),
                                  [3.0, -1.0, -2.0])


def test_folder_module_exports():
    assert folders.BVH.NAME == "bvh" and folders.NPZ.NAME == "npz"
