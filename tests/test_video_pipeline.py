"""Stage 1 end to end on rendered videos with tiny random-weight RT-DETR / ViTPose and a
VideoPose3D checkpoint in the published layout: timestamps, tracks, masks, cache, output files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from videokit import published_layout_checkpoint, render_video, tiny_detector, tiny_vitpose

from imu2safety.builders.video import pipeline
from imu2safety.builders.video.detect import Detections
from imu2safety.builders.video.output import write_outputs
from imu2safety.builders.video.pipeline import (NoPersonError, Stage1Options, load_models,
                                                reconstruct)
from imu2safety.cli import main
from imu2safety.simulator.joints import H36M_17
from imu2safety.simulator.readers import read_motion

FPS = 24


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    d = tmp_path_factory.mktemp("stage1")
    video = d / "two.mp4"
    render_video(video, n=16, fps=FPS, people=[dict(x=30, vx=1.0, top=20, height=60),
                                               dict(x=95, vx=-0.5, top=25, height=55)])
    published_layout_checkpoint(d / "vp27.bin", filter_widths=(3, 3, 3), channels=16)
    options = Stage1Options(detector=str(tiny_detector(d / "det")),
                            pose_model=str(tiny_vitpose(d / "pose")),
                            lifter_checkpoint=str(d / "vp27.bin"), min_track_s=0.3,
                            detection_threshold=0.3, batch_size=8,
                            min_keypoint_score=0.05)  # random-weight ViTPose scores are low
    return d, video, options


def test_reconstruct_end_to_end_and_cache(kit, tmp_path, monkeypatch):
    d, video, options = kit
    rec = reconstruct(video, options, cache_dir=tmp_path / "cache")
    assert (rec.fps, rec.width, rec.height) == (FPS, 128, 96)
    assert rec.tracks, rec.notes
    for tr in rec.tracks:
        T = len(tr.frame_indices)
        assert np.array_equal(tr.frame_indices, np.arange(tr.frame_indices[0], tr.frame_indices[-1] + 1))
        # timestamps are the container's: frame k at k / 24 s
        np.testing.assert_allclose(tr.motion.timestamps, tr.frame_indices / FPS, atol=1e-9)
        assert tr.motion.positions.shape == (T, 17, 3)
        assert tr.motion.joint_names == H36M_17
        assert np.isfinite(tr.motion.positions).all()
        assert tr.keypoints_2d.shape == (T, 17, 2) and tr.scores.shape == (T, 17)
        assert tr.boxes.shape == (T, 4) and tr.mask.dtype == bool
        assert np.array_equal(tr.motion.valid.all(1), tr.mask)
    assert [t.track_id for t in rec.tracks] == list(range(len(rec.tracks)))

    # a second run is read from the cache: no model is loaded, arrays are identical
    monkeypatch.setattr(pipeline, "load_models", lambda *a, **k: pytest.fail("models loaded"))
    again = reconstruct(video, options, cache_dir=tmp_path / "cache")
    assert len(again.tracks) == len(rec.tracks)
    for a, b in zip(rec.tracks, again.tracks):
        for name in ("frame_indices", "boxes", "keypoints_2d", "scores", "mask"):
            assert np.array_equal(getattr(a, name), getattr(b, name))
        assert np.array_equal(a.motion.positions, b.motion.positions)
        assert np.array_equal(a.motion.timestamps, b.motion.timestamps)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1

    # output files: the simulator reads the motions as they are, and simulates them
    out = tmp_path / "out"
    write_outputs(again, out)
    summary = json.loads((out / "tracks.json").read_text())
    assert [t["track_id"] for t in summary["tracks"]] == [t.track_id for t in rec.tracks]
    assert (out / "preview.png").stat().st_size > 0
    first = rec.tracks[0]
    motion = read_motion(out / summary["tracks"][0]["file"])
    np.testing.assert_array_equal(motion.positions, first.motion.positions)
    assert summary["tracks"][0]["num_frames"] == len(first.frame_indices)
    assert main(["simulate", str(out / "person_000.npz"), "-o", str(tmp_path / "imu.npz")]) == 0


def test_window_gives_frames_inside_it(kit):
    d, video, options = kit
    rec = reconstruct(video, options, start_s=4 / FPS, end_s=14 / FPS)
    assert rec.start_s == pytest.approx(4 / FPS) and rec.end_s == pytest.approx(13 / FPS)
    for tr in rec.tracks:
        assert tr.frame_indices.min() >= 4 and tr.frame_indices.max() <= 13


class ScriptedDetector:
    """Ground-truth boxes of the rendered figures, frame by frame (calls come in frame order)."""

    def __init__(self, boxes: dict[int, np.ndarray]):
        self.boxes, self.i = boxes, 0

    def __call__(self, images):
        out = []
        for _ in images:
            b = self.boxes[self.i]
            out.append(Detections(b, np.full(len(b), 0.9, np.float32)))
            self.i += 1
        return out


def test_tracks_bridged_masked_split_through_pipeline(kit, tmp_path):
    d, _, options = kit
    n = 40
    a_frames = [i for i in range(n) if i != 10 and not 18 <= i <= 22]
    b_frames = list(range(0, 13)) + list(range(30, n))
    video = tmp_path / "gaps.mp4"
    truth = render_video(video, n=n, fps=FPS, size=(160, 96), people=[
        dict(x=30, vx=1.0, top=15, height=70, frames=a_frames),
        dict(x=130, vx=-0.3, top=20, height=60, frames=b_frames)])
    opts = Stage1Options(pose_model=options.pose_model, lifter_checkpoint=None, min_track_s=0.3,
                         bridge_gap_s=0.1, max_gap_s=0.5, batch_size=8, min_keypoint_score=0.05)
    models = load_models(opts.__class__(**{**opts.to_dict(), "detector": options.detector}))
    models.detector = ScriptedDetector(truth)
    rec = reconstruct(video, opts, models=models)
    spans = sorted((int(t.frame_indices[0]), int(t.frame_indices[-1])) for t in rec.tracks)
    # a track is confirmed by its second detection (ByteTrack), hence the first frame + 1
    assert spans == [(1, 12), (1, n - 1), (31, n - 1)]
    a = next(t for t in rec.tracks if t.frame_indices[-1] == n - 1 and t.frame_indices[0] == 1)
    masked = set(a.frame_indices[~a.mask].tolist())
    assert masked == set(range(18, 23))  # 0.25 s gap: kept, masked; frame 10 (0.08 s) bridged
    assert a.mask[list(a.frame_indices).index(10)]
    assert not a.motion.valid[~a.mask].any() and a.motion.valid[a.mask].all()
    # bridged boxes are the interpolation of their neighbours
    i10 = list(a.frame_indices).index(10)
    np.testing.assert_allclose(a.boxes[i10], (a.boxes[i10 - 1] + a.boxes[i10 + 1]) / 2, atol=1e-3)
    assert any("planar fallback" in note for note in rec.notes)


def test_no_person_is_a_clear_error(kit, tmp_path):
    d, _, options = kit
    video = tmp_path / "empty.mp4"
    render_video(video, n=8, fps=FPS, people=[])
    models = load_models(options)
    models.detector = ScriptedDetector({i: np.zeros((0, 4), np.float32) for i in range(8)})
    with pytest.raises(NoPersonError, match="no person tracked"):
        reconstruct(video, options, models=models)
    # a detector's false positive whose box holds no body (no confident keypoint) is dropped
    strict = Stage1Options(**{**options.to_dict(), "min_keypoint_score": 0.99, "min_track_s": 0.2})
    models.detector = ScriptedDetector({i: np.array([[20, 10, 60, 90]], np.float32) for i in range(8)})
    with pytest.raises(NoPersonError, match="no body found"):
        reconstruct(video, strict, models=models)


def test_cli_reconstruct_and_keypoints_2d(kit, tmp_path, capsys):
    d, video, options = kit
    out = tmp_path / "cli"
    rc = main(["reconstruct", str(video), "-o", str(out), "--detector", options.detector,
               "--pose-model", options.pose_model, "--lifter-checkpoint", options.lifter_checkpoint,
               "--min-track-s", "0.3", "--start", "0", "--end", "0.5"])
    assert rc == 0, capsys.readouterr().err
    assert (out / "tracks.json").exists() and list(out.glob("person_*.npz"))

    T = 30
    t = np.arange(T) / 30.0
    kp = np.tile(np.linspace([40, 20], [60, 90], 17)[None], (T, 1, 1)) + t[:, None, None] * 10
    np.savez(tmp_path / "kp.npz", keypoints=kp, scores=np.ones((T, 17)), width=128, height=96,
             fps=30.0)
    out2 = tmp_path / "kp"
    assert main(["reconstruct", "--keypoints-2d", str(tmp_path / "kp.npz"), "-o", str(out2),
                 "--lifter-checkpoint", options.lifter_checkpoint]) == 0
    motion = read_motion(out2 / "person_000.npz")
    assert motion.positions.shape == (T, 17, 3)
    np.testing.assert_allclose(motion.timestamps, t)
    assert main(["reconstruct", str(tmp_path / "missing.mp4"), "-o", str(out2)]) == 2
    assert "no such file" in capsys.readouterr().err
