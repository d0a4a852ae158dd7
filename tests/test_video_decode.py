"""Decoding with PyAV: frame rate and timestamps from the container (VFR kept), windows by
seeking, display rotation, frame folders, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from videokit import render_video

from imu2safety.builders.video.decode import VideoError, digest, iter_frames, probe


def test_fps_and_timestamps_from_the_container(tmp_path):
    v = tmp_path / "v.mp4"
    render_video(v, n=20, fps=25)
    info = probe(v)
    assert info.fps == 25 and (info.width, info.height) == (128, 96)
    assert info.duration_s == pytest.approx(20 / 25, abs=0.05)
    frames = list(iter_frames(v))
    assert [f.index for f in frames] == list(range(20))
    np.testing.assert_allclose([f.time_s for f in frames], np.arange(20) / 25, atol=1e-6)
    assert frames[0].image.shape == (96, 128, 3) and frames[0].image.dtype == np.uint8


def test_variable_frame_rate_times_are_kept(tmp_path):
    v = tmp_path / "vfr.mp4"
    times = np.cumsum([0.0] + [0.02, 0.05, 0.03, 0.08, 0.02, 0.04, 0.06, 0.03, 0.05])
    render_video(v, n=len(times), fps=30, times_s=list(times))
    got = [f.time_s for f in iter_frames(v)]
    np.testing.assert_allclose(got, times, atol=1e-3)


def test_window_by_seeking_matches_full_decode(tmp_path):
    v = tmp_path / "w.mp4"
    render_video(v, n=40, fps=20)  # key frame every 8 frames
    full = {f.index: f for f in iter_frames(v)}
    win = list(iter_frames(v, start_s=1.0, end_s=1.5))
    assert [f.index for f in win] == list(range(20, 30))
    np.testing.assert_allclose([f.time_s for f in win], np.arange(20, 30) / 20, atol=1e-6)
    for f in win:
        assert np.array_equal(f.image, full[f.index].image)


def test_rotated_video_comes_out_upright(tmp_path):
    v = tmp_path / "rot.mp4"
    render_video(v, n=4, fps=10, size=(128, 96), rotation_deg=-90,
                 people=[dict(x=30, vx=0, top=10, height=40)])
    plain = tmp_path / "plain.mp4"
    render_video(plain, n=4, fps=10, size=(128, 96), people=[dict(x=30, vx=0, top=10, height=40)])
    info = probe(v)
    assert info.rotation_deg == -90 and (info.width, info.height) == (96, 128)
    rot = next(iter_frames(v)).image
    ref = next(iter_frames(plain)).image
    assert rot.shape == (128, 96, 3)
    # -90 (counter-clockwise) = 90 degrees clockwise: what a player shows
    assert np.array_equal(rot, np.rot90(ref, k=-1))


def test_frame_folder(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in (1, 2, 10):  # numeric, not lexical, order
        img = np.full((20, 30, 3), i, np.uint8)
        Image.fromarray(img).save(folder / f"frame_{i}.png")
    with pytest.raises(VideoError, match="frame rate"):
        probe(folder)
    frames = list(iter_frames(folder, frames_fps=10.0))
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 10]
    np.testing.assert_allclose([f.time_s for f in frames], [0.0, 0.1, 0.2])
    assert len(digest(folder)) == 64
    assert probe(folder, 10.0).focal_35mm is None


def test_frame_folder_focal_length_from_exif(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 26  # FocalLengthIn35mmFilm, a phone's main camera
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(folder / "0001.jpg", exif=exif)
    assert probe(folder, 30.0).focal_35mm == 26.0


def test_bad_inputs_give_clear_errors(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match="zero-length"):
        probe(empty)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(VideoError, match="not a readable video|no video stream|decode"):
        probe(junk)
    with pytest.raises(VideoError, match="no such file"):
        probe(tmp_path / "absent.mp4")
    v = tmp_path / "short.mp4"
    render_video(v, n=10, fps=10)
    with pytest.raises(VideoError, match="past the end"):
        list(iter_frames(v, start_s=5.0))
    with pytest.raises(VideoError, match="not after its start"):
        list(iter_frames(v, start_s=0.5, end_s=0.2))


def test_real_videos(shared_data):
    folder = shared_data / "video"
    if not folder.is_dir():
        pytest.skip("no real videos")
    info = probe(folder / "street_people_5frames.mp4")
    assert info.fps == 5 and (info.width, info.height) == (960, 540)
    times = [f.time_s for f in iter_frames(folder / "street_people_5frames.mp4")]
    np.testing.assert_allclose(times, [0.0, 0.2, 0.4, 0.6, 0.8])
    hevc = probe(folder / "no_person_hevc_portrait.mp4")
    assert hevc.height > hevc.width  # portrait
    win = list(iter_frames(folder / "no_person_hevc_portrait.mp4", start_s=10.0, end_s=10.2))
    assert win and all(10.0 - 1e-6 <= f.time_s < 10.2 for f in win)
    assert win[0].index == round(win[0].time_s * hevc.fps)


def test_digest_reads_a_file_once_and_again_after_a_rewrite(tmp_path, monkeypatch):
    import builtins
    import hashlib
    import os

    from imu2safety.builders.video import decode

    video = tmp_path / "clip.mp4"
    video.write_bytes(b"first version of the bytes")
    opened = []
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: (opened.append(str(f)), real_open(f, *a, **k))[1])
    first = decode.digest(video)
    assert first == hashlib.sha256(b"first version of the bytes").hexdigest()
    assert decode.digest(video) == first and decode.digest(str(video)) == first
    assert opened.count(str(video.resolve())) == 1  # windows of one video: read once
    video.write_bytes(b"second, longer version of the bytes")
    os.utime(video, ns=(1, 1))
    assert decode.digest(video) == hashlib.sha256(b"second, longer version of the bytes").hexdigest()
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in (2, 10):
        (frames / f"frame_{i}.png").write_bytes(bytes([i]))
    want = hashlib.sha256(b"frame_2.png" + bytes([2]) + b"frame_10.png" + bytes([10])).hexdigest()
    assert decode.digest(frames) == want
