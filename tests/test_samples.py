"""The embedded sample (``samples/``): loadable, complete, reproducible and physically plausible."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import imu2safety
from imu2safety.builders.sources.folders import folder_label, folder_split, read_labels
from imu2safety.builders.labels import UNSAFE_HAZARDS
from imu2safety.simulator.imu import SimulationOptions, simulate
from imu2safety.simulator.joints import CANONICAL_JOINTS
from imu2safety.simulator.motion import G, Motion
from imu2safety.simulator.orientation import optional_joints, required_joints
from imu2safety.simulator.placement import PLACEMENTS
from imu2safety.simulator.readers import read_motion_npz

SAMPLES = Path(imu2safety.__file__).resolve().parent / "samples"
SAFE_ACTIVITIES = {"walking", "waving", "drinking", "sitting_down"}
BODY_JOINTS = [f"{side}_{part}" for side in ("left", "right")
               for part in ("shoulder", "elbow", "wrist", "hand", "thumb", "hip", "knee", "ankle")]
BODY_JOINTS += ["pelvis", "spine_shoulder", "neck", "head"]
BONES = [(f"{s}_{a}", f"{s}_{b}") for s in ("left", "right")
         for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))]


def _rows() -> list[dict[str, str]]:
    with open(SAMPLES / "labels.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


ROWS = _rows()
MOTIONS = {r["file"]: read_motion_npz(SAMPLES / r["file"]) for r in ROWS}


def _clips(label: str) -> list[Motion]:
    return [MOTIONS[r["file"]] for r in ROWS if r["label"] == label]


def test_labels_csv_lists_every_shipped_file_once():
    assert list(ROWS[0]) == ["file", "label", "subject"]
    files = [r["file"] for r in ROWS]
    assert sorted(files) == sorted(p.name for p in SAMPLES.glob("*.npz"))
    assert len(set(files)) == len(files)
    assert 25 <= len(files) <= 35
    assert sum(p.stat().st_size for p in SAMPLES.iterdir() if p.is_file()) < 1_000_000
    assert read_labels(SAMPLES / "labels.csv")[files[0]].subject == ROWS[0]["subject"]


def test_every_hazard_and_the_safe_activities_are_in_every_split():
    by_split: dict[str, set[str]] = {"train": set(), "validation": set(), "test": set()}
    for r in ROWS:
        label = folder_label(r["label"])
        by_split[folder_split(r["subject"])].add(label.hazard if not label.safe else r["label"])
        assert label.safe == (r["label"] in SAFE_ACTIVITIES)
    for split, classes in by_split.items():
        assert classes == set(UNSAFE_HAZARDS) | SAFE_ACTIVITIES, split


@pytest.mark.parametrize("file", [r["file"] for r in ROWS])
def test_clip_loads_with_the_joints_the_simulator_needs(file):
    with np.load(SAMPLES / file, allow_pickle=False) as npz:
        assert npz["positions"].dtype == np.float32
        assert float(npz["fps"]) == 30.0
    m = MOTIONS[file]
    assert set(m.joint_names) <= set(CANONICAL_JOINTS)
    for placement in PLACEMENTS:
        assert set(required_joints(placement)) <= set(m.joint_names)
        assert set(optional_joints(placement)) - {"left_hand_tip", "right_hand_tip"} <= set(m.joint_names)
    assert set(BODY_JOINTS) <= set(m.joint_names)
    assert np.isfinite(m.positions).all() and m.valid.all()
    assert 4.0 <= m.num_frames / 30.0 <= 8.0
    assert m.positions[..., 2].min() >= 0.0  # nothing below the floor
    # segments keep their length and nothing teleports (30 fps)
    for a, b in BONES:
        length = np.linalg.norm(m.joint(a) - m.joint(b), axis=1)
        assert np.ptp(length) < 0.02, (a, b)
    speed = np.linalg.norm(np.diff(m.positions, axis=0), axis=2) * 30.0
    assert speed.max() < 12.0


def test_regenerating_gives_byte_identical_files(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    make_samples = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_samples", make_samples)  # dataclasses look it up
    spec.loader.exec_module(make_samples)
    written = make_samples.write_samples(tmp_path)
    assert sorted(p.name for p in written) == sorted([r["file"] for r in ROWS] + ["labels.csv"])
    for p in written:
        assert p.read_bytes() == (SAMPLES / p.name).read_bytes(), p.name


def _pelvis_z(m: Motion) -> np.ndarray:
    return m.joint("pelvis")[:, 2]


@pytest.mark.parametrize("label", ["falling", "fainting"])
def test_falls_end_on_the_floor_at_rest(label):
    for m in _clips(label):
        z = _pelvis_z(m)
        assert z[:15].mean() - z[-1] > 0.5
        last = m.positions[-30:]  # the last second: lying still
        assert np.abs(last - last.mean(axis=0)).max() < 0.005
        assert m.positions[-1][:, 2].max() < 0.6


def test_only_falls_and_the_jump_lose_height():
    for r in ROWS:
        if r["label"] in ("falling", "fainting", "jumping_from_height"):
            continue
        z = _pelvis_z(MOTIONS[r["file"]])
        assert z[0] - z.min() < 0.5, r["file"]


def test_jump_from_height_has_a_free_fall_phase():
    for m in _clips("jumping_from_height"):
        z = _pelvis_z(m)
        assert 0.8 < z[:15].mean() - z[-15:].mean() < 1.2  # from a platform ~1 m high to the floor
        rec = simulate(m, SimulationOptions(device="ideal"), "jump")
        a = np.linalg.norm(rec.accel, axis=1)
        assert abs(np.median(a) - G) < 0.5  # standing still most of the time
        # longest run of samples in free fall (specific force ~ 0)
        low = np.concatenate([[0], (a < 3.0).astype(int), [0]])
        edges = np.flatnonzero(np.diff(low))
        longest = (edges[1::2] - edges[::2]).max() / rec.sample_rate_hz
        # at least 0.2 s, at most the ballistic flight from <= 1.1 m with <= 1.2 m/s upward
        v, h = 1.2, 1.1
        assert 0.2 <= longest <= (v + np.sqrt(v * v + 2 * G * h)) / G
