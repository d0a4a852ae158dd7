"""BlazePose (MediaPipe, weights inside the wheel) on a real photograph that matplotlib ships:
keypoints where the person is, none on a blank frame; the offline pipeline with it."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import cbook
from PIL import Image

from imu2safety.builders.video.blazepose import BlazePoseBackend, MediaPipeDetector
from imu2safety.builders.video.pipeline import Stage1Options, reconstruct
from imu2safety.simulator.joints import COCO_17


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return np.asarray(Image.open(path).convert("RGB"))


def test_keypoints_where_the_person_is_none_on_blank(hopper):
    h, w = hopper.shape[:2]
    backend = BlazePoseBackend()
    full = np.array([[0, 0, w, h]], np.float32)
    res = backend([hopper, np.zeros_like(hopper)], [full, full])
    kp, sc = res[0].keypoints[0], res[0].scores[0]
    head = [COCO_17.index(n) for n in ("nose", "left_eye", "right_eye")]
    shoulders = [COCO_17.index(n) for n in ("left_shoulder", "right_shoulder")]
    assert (sc[head] > 0.9).all() and (sc[shoulders] > 0.9).all()
    # a portrait: the face in the upper half, near the middle; shoulders below it, apart
    assert (kp[head, 1] < h / 2).all() and (abs(kp[head, 0] - w / 2) < w / 4).all()
    assert (kp[shoulders, 1] > kp[head, 1].max()).all()
    ls, rs = kp[COCO_17.index("left_shoulder")], kp[COCO_17.index("right_shoulder")]
    assert ls[0] - rs[0] > w / 4  # facing the camera: her left shoulder on the image's right
    # a person's face pixels are skin-toned, not the dark uniform: the nose lies on the face
    nose = kp[COCO_17.index("nose")].round().astype(int)
    assert hopper[nose[1], nose[0]].mean() > 90
    lm = res[0].extras["landmarks_33"][0]
    assert lm.shape == (33, 3) and np.allclose(lm[0, :2], kp[0])
    assert np.isfinite(res[0].extras["world_landmarks_33"]).all()
    # nothing on a blank frame
    assert (res[1].scores == 0).all()
    assert (res[1].extras["landmarks_33"] == 0).all()


def test_mediapipe_detector(hopper):
    det = MediaPipeDetector()
    found, blank = det([hopper, np.full_like(hopper, 128)])
    assert len(found.boxes) == 1 and len(blank.boxes) == 0
    x1, y1, x2, y2 = found.boxes[0]
    h, w = hopper.shape[:2]
    assert x1 < w / 2 < x2 and y1 < h / 3 and (x2 - x1) * (y2 - y1) > 0.2 * w * h


def test_offline_pipeline_with_blazepose(hopper, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 50  # FocalLengthIn35mmFilm
    for i in range(3):
        Image.fromarray(hopper).save(folder / f"{i:04d}.jpg", quality=95, exif=exif)
    opts = Stage1Options(pose_backend="blazepose", detector="mediapipe", frames_fps=4.0,
                         min_track_s=0.25, detection_threshold=0.5)
    rec = reconstruct(folder, opts)
    assert len(rec.tracks) == 1
    tr = rec.tracks[0]
    assert list(tr.frame_indices) == [1, 2]  # confirmed by the second detection
    np.testing.assert_allclose(tr.motion.timestamps, [0.25, 0.5])
    assert tr.extras["landmarks_33"].shape == (2, 33, 3)
    h, w = hopper.shape[:2]
    assert rec.camera["focal_px"] == pytest.approx(50 / 36 * max(h, w))  # from the EXIF
    assert (tr.scores[:, COCO_17.index("nose")] > 0.9).all()
    assert np.isfinite(tr.motion.positions).all()
    # no lifter checkpoint: the 3D comes from BlazePose's metric world landmarks
    assert rec.camera["lift"] == ["blazepose world landmarks"]
    m = tr.motion
    shoulders = np.linalg.norm(m.joint("left_shoulder") - m.joint("right_shoulder"), axis=1)
    assert ((shoulders > 0.2) & (shoulders < 0.6)).all()  # a human shoulder width, metres
    # BlazePose's hand points ride along; her hands are out of the picture: marked invalid
    assert m.has("left_thumb") and m.has("right_hand_tip") and len(m.joint_names) == 23
    assert not m.joint_valid("left_thumb").any() and m.joint_valid("left_shoulder").all()


def test_real_footage_offline(shared_data, tmp_path):
    """Street (several walkers) and a phone video without a person, fully offline."""
    from imu2safety.builders.video.output import write_outputs
    from imu2safety.builders.video.pipeline import NoPersonError

    folder = shared_data / "video"
    if not folder.is_dir():
        pytest.skip("no real videos")
    opts = Stage1Options(pose_backend="blazepose", detector="hog", min_track_s=0.0)
    rec = reconstruct(folder / "street_people_5frames.mp4", opts)
    assert len(rec.tracks) >= 2
    for tr in rec.tracks:  # confident keypoints lie inside (or at the edge of) the track's box
        ok = tr.scores >= 0.5
        x, y = tr.keypoints_2d[..., 0], tr.keypoints_2d[..., 1]
        b = tr.boxes[:, None, :]
        pad = 0.3 * (b[..., 3] - b[..., 1])
        inside = (x > b[..., 0] - pad) & (x < b[..., 2] + pad) & (y > b[..., 1] - pad) & (y < b[..., 3] + pad)
        assert inside[ok].mean() > 0.95
    seen = 0
    for tr in rec.tracks:  # hand points, where seen, hang within 30 cm of their wrist
        m = tr.motion
        for side in ("left", "right"):
            ok = m.joint_valid(f"{side}_hand_tip")
            d = np.linalg.norm(m.joint(f"{side}_hand_tip") - m.joint(f"{side}_wrist"), axis=1)[ok]
            assert ((d > 0.0) & (d < 0.3)).all()
            seen += ok.sum()
    assert seen > 0
    write_outputs(rec, tmp_path / "street")
    assert (tmp_path / "street" / "preview.png").exists()
    with pytest.raises(NoPersonError):
        reconstruct(folder / "no_person_hevc_portrait.mp4",
                    Stage1Options(pose_backend="blazepose", detector="mediapipe"),
                    start_s=5.0, end_s=6.0)
