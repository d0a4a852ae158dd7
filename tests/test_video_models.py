"""Detector and ViTPose backends: the on-device preprocessing matches the transformers image
processors (same crop geometry, same resize), so keypoints map back with the processor's code."""

from __future__ import annotations

import numpy as np
import pytest
from videokit import tiny_detector, tiny_vitpose

from imu2safety.builders.video.detect import HogDetector, RTDetrDetector
from imu2safety.builders.video.pose import VitPoseBackend


@pytest.fixture(scope="module")
def gradient() -> np.ndarray:
    yy, xx = np.mgrid[0:240, 0:320]
    return np.stack([xx * 0.7, yy, (xx + yy) * 0.4], -1).astype(np.uint8)


def test_device_crops_match_the_processor_warp(tmp_path, gradient):
    folder = tiny_vitpose(tmp_path / "pose")
    ref = VitPoseBackend(str(folder), device_crops=False)
    fast = VitPoseBackend(str(folder), device_crops=True)
    std = np.array(ref.processor.image_std).reshape(1, 3, 1, 1) * 255
    for box in ([[40, 30, 80, 150]], [[10, 10, 300, 60]], [[150, 100, 20, 20]]):  # x y w h, inside
        xywh = np.array(box, np.float32)
        a = ref._pixel_values([gradient], [xywh]).numpy()
        b = fast._pixel_values([gradient], [xywh]).numpy()
        assert np.abs((a - b) * std).max() <= 0.51  # the processor rounds its warp to uint8
    res = fast([gradient, gradient], [np.array([[40, 30, 120, 180]]), np.zeros((0, 4))])
    assert res[0].keypoints.shape == (1, 17, 2) and res[1].keypoints.shape == (0, 17, 2)


def test_device_resize_matches_the_processor(tmp_path, gradient):
    folder = tiny_detector(tmp_path / "det")
    ref = RTDetrDetector(str(folder), device_resize=False, threshold=0.1)
    fast = RTDetrDetector(str(folder), device_resize=True, threshold=0.1)
    a = ref._pixel_values([gradient, gradient[::-1].copy()]).numpy()
    b = fast._pixel_values([gradient, gradient[::-1].copy()]).numpy()
    assert a.shape == b.shape == (2, 3, 64, 64)
    assert np.abs(a - b).max() * 255 < 1.5
    da, db = ref([gradient])[0], fast([gradient])[0]
    assert len(da.boxes) == len(db.boxes)
    np.testing.assert_allclose(da.boxes, db.boxes, atol=2.0)
    assert ((db.boxes[:, 2] <= 320) & (db.boxes[:, 3] <= 240) & (db.boxes[:, :2] >= 0).all(1)).all()


def test_hog_finds_nothing_on_a_blank_frame(gradient):
    assert len(HogDetector()([np.zeros((200, 150, 3), np.uint8)])[0].boxes) == 0


def test_bf16_models_run(tmp_path, gradient):
    """The --dtype bf16 path (for GPUs) runs end to end on the CPU and gives finite outputs."""
    det = RTDetrDetector(str(tiny_detector(tmp_path / "det")), dtype="bf16", threshold=0.1)
    pose = VitPoseBackend(str(tiny_vitpose(tmp_path / "pose")), dtype="bf16")
    found = det([gradient])[0]
    assert len(found.boxes) and np.isfinite(found.boxes).all()
    res = pose([gradient], [found.boxes[:2]])[0]
    assert np.isfinite(res.keypoints).all() and ((res.scores >= 0) & (res.scores <= 1)).all()
