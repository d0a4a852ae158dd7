"""Builds of the video sources over rendered videos with tiny random-weight RT-DETR / ViTPose.

Stage 1 runs for real (``builders.video.pipeline``); the random models find random people, so
the tests check the plumbing, not the poses: one row per (clip, kept track), labels from the
tables, provenance, inputs = written + skipped, byte-identical rebuilds, resume after a kill,
corrupt videos skipped, and the Stage-1 cache reused (the 2D pass never runs on a rebuild).
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest

from imu2safety.builders import labels
from imu2safety.builders.build import BuildOptions, build
from imu2safety.builders.dataset.writer import DatasetWriter
from imu2safety.builders.sources import ucf_crime
from imu2safety.builders.sources.video import Stage1Runner, VideoWindow, annotated_overlap, select_tracks
from test_source_up_fall import rows as upfall_rows, write as write_upfall_csv
from videofixtures import write_corrupt, write_frames

from imu2safety.builders.video import pipeline
from videokit import render_video as _render_video, tiny_detector, tiny_vitpose

def render_video(path: Path, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    return _render_video(path, **kw)


TWO_PEOPLE = [dict(x=25, vx=1.0, top=15, height=60), dict(x=90, vx=-0.8, top=20, height=55)]


@pytest.fixture(scope="module")
def stage1(tmp_path_factory):
    """Tiny model folders and one Stage-1 cache shared by the builds of this module."""
    root = tmp_path_factory.mktemp("stage1")
    options = {"detector": str(tiny_detector(root / "det")),
               "pose_model": str(tiny_vitpose(root / "pose")), "min_track_s": 0.5,
               "batch_size": 16, "min_keypoint_score": 0.0}   # random keypoints count as a body
    return SimpleNamespace(options=options, cache=root / "cache")


def _opts(stage1, source, inp, out, **kw) -> BuildOptions:
    return BuildOptions(source=source, input_dir=inp, output_dir=out, stage1=stage1.options,
                        stage1_cache=stage1.cache, chunk_inputs=kw.pop("chunk_inputs", 2), **kw)


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _rows(out: Path) -> list[dict]:
    found = []
    for path in sorted((out / "data").rglob("*.parquet")):
        split = path.name.split("-")[0]
        for row in pq.read_table(path).to_pylist():
            row["split"], row["extra"] = split, json.loads(row["extra"])
            found.append(row)
    return found


def _check_rows(rows: list[dict], source: str, stage1_options: dict) -> None:
    expected_stage1 = pipeline.Stage1Options(**stage1_options).to_dict()
    for row in rows:
        lab = labels.lookup(source, row["source_label"])
        assert (row["activity"], labels.HAZARD_NAMES[row["hazard"]]) == (lab.activity, lab.hazard)
        assert row["safe"] == lab.safe and row["synthetic"] and row["source"] == source
        extra = row["extra"]
        assert extra["stage1"] == expected_stage1
        assert {"video", "window_s", "track_id", "frames", "fps"} <= set(extra)
        assert extra["window_s"][0] <= extra["window_s"][1]
        imu = np.asarray(row["imu"], np.float32)
        assert imu.ndim == 2 and imu.shape[1] == 6 and np.isfinite(imu).all()


def _check_report(report: dict) -> None:
    assert report["inputs"] == report["inputs_written"] + report["inputs_skipped"]


# ------------------------------------------------------------------ track selection (no models)

def _track(tid: int, frames, box) -> SimpleNamespace:
    frames = np.asarray(frames)
    return SimpleNamespace(track_id=tid, frame_indices=frames,
                           boxes=np.tile(np.asarray(box, float), (len(frames), 1)))


def test_annotated_boxes_pick_the_track_that_overlaps_them():
    ann = {f: (10.0, 10.0, 30.0, 50.0) for f in range(10)}
    near = _track(1, range(10), (12, 10, 32, 50))         # IoU 36/44 on every frame
    far = _track(2, range(20), (60, 10, 80, 50))          # longer but elsewhere
    half = _track(3, range(5), (10, 10, 30, 50))          # exact, half the frames
    assert annotated_overlap(near, ann) == pytest.approx(36 / 44)
    assert annotated_overlap(half, ann) == pytest.approx(0.5)
    w = VideoWindow("v", Path("v.avi"), "fall", "s", "train", boxes=ann, one_track=True)
    kept, dropped = select_tracks(w, [far, near, half])
    assert kept == [near] and {t.track_id for t, _ in dropped} == {2, 3}
    w_none = VideoWindow("v", Path("v.avi"), "fall", "s", "train", one_track=True)
    kept, _ = select_tracks(w_none, [near, far, half])
    assert kept == [far]                                   # no boxes: the longest
    lost = VideoWindow("v", Path("v.avi"), "fall", "s", "train", boxes={0: (0, 0, 1, 1)})
    kept, dropped = select_tracks(lost, [far])
    assert kept == [] and "no overlap" in dropped[0][1]


# ------------------------------------------------------------------ Kinetics

@pytest.fixture(scope="module")
def kinetics_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("k700")
    (root / "kinetics700_2020").mkdir()
    (root / "kinetics700_2020" / "train.csv").write_text(
        "label,youtube_id,time_start,time_end,split\n"
        '"punching person (boxing)",box-00_0001,4,14,train\n'
        '"being in zero gravity",zerograv001,0,10,train\n'
        "capoeira,corrupt0001,0,10,train\n"
        "abseiling,takendown01,20,30,train\n")
    (root / "kinetics700_2020" / "validate.csv").write_text(
        "label,youtube_id,time_start,time_end,split\nfalling off bike,bikefall001,0,10,validate\n")
    clips = root / "clips"
    render_video(clips / "box-00_0001_000004_000014.mp4", n=16, fps=8, people=TWO_PEOPLE)
    render_video(clips / "bikefall001_000000_000010.mp4", n=16, fps=8)
    render_video(clips / "zerograv001_000000_000010.mp4", n=4, fps=8)
    write_corrupt(clips / "corrupt0001_000000_000010.mp4")
    return root


def test_kinetics_build_rows_report_rebuild_and_cache(stage1, kinetics_dir, tmp_path, monkeypatch):
    t0 = time.perf_counter()
    first = build(_opts(stage1, "kinetics", kinetics_dir, tmp_path / "a"), progress=False)
    t_first = time.perf_counter() - t0
    rep = first.report
    _check_report(rep)
    assert rep["inputs"] == 5                      # 4 videos + 1 annotated clip never downloaded
    reasons = " | ".join(f"{s['item']}: {s['reason']}" for s in rep["skips"])
    assert "takendown01_000020_000030.mp4: missing clip" in reasons
    assert "corrupt0001_000000_000010: video:" in reasons
    assert "excluded label 'being in zero gravity'" in reasons
    rows = _rows(tmp_path / "a")
    assert rows, "tiny models found no person track at all"
    _check_rows(rows, "kinetics", stage1.options)
    for row in rows:
        clip, _, track = row["id"].rpartition("_p")
        assert int(track) == row["extra"]["track_id"]
        assert clip in ("box-00_0001_000004_000014", "bikefall001_000000_000010")
        assert row["subject"] == row["extra"]["youtube_id"] == clip[:11]
        assert row["split"] == ("train" if clip.startswith("box") else "validation")
        assert row["extra"]["video"] == f"clips/{clip}.mp4"
    assert len({r["id"] for r in rows}) == len(rows)
    card = (tmp_path / "a" / "README.md").read_text()
    assert "CC BY 4.0" in card and "YouTube" in card                 # the licence terms
    assert "| `sword fighting` | sword fighting | `fighting` | **no** |" in card
    assert "| `being in zero gravity` | excluded: no gravity" in card
    info = json.loads((tmp_path / "a" / "meta" / "info.json").read_text())
    assert info["configs"]["kinetics"]["build_options"]["stage1"] == stage1.options

    # rebuild: the Stage-1 cache answers every window, and the output is byte-identical
    def no_models(*args, **kwargs):
        raise AssertionError("Stage 1 ran its models although the cache holds the window")

    monkeypatch.setattr(pipeline, "_run_2d", no_models)
    t0 = time.perf_counter()
    build(_opts(stage1, "kinetics", kinetics_dir, tmp_path / "b"), progress=False)
    t_again = time.perf_counter() - t0
    print(f"\nkinetics build: first {t_first:.2f} s, rebuild from the Stage-1 cache {t_again:.2f} s "
          f"({t_first / t_again:.1f}x; shared 2-core machine, noisy)")
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


def test_kinetics_killed_build_resumes(stage1, kinetics_dir, tmp_path, monkeypatch):
    build(_opts(stage1, "kinetics", kinetics_dir, tmp_path / "clean", chunk_inputs=1), progress=False)
    real_write, calls = DatasetWriter.write_chunk, {"n": 0}

    def dying(self, *args, **kwargs):
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        calls["n"] += 1
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(DatasetWriter, "write_chunk", dying)
    with pytest.raises(KeyboardInterrupt):
        build(_opts(stage1, "kinetics", kinetics_dir, tmp_path / "resumed", chunk_inputs=1),
              progress=False)
    monkeypatch.setattr(DatasetWriter, "write_chunk", real_write)
    result = build(_opts(stage1, "kinetics", kinetics_dir, tmp_path / "resumed", chunk_inputs=1),
                   progress=False)
    _check_report(result.report)
    assert _tree(tmp_path / "clean") == _tree(tmp_path / "resumed")


# ------------------------------------------------------------------ UCF-Crime

def test_ucf_crime_build(stage1, tmp_path):
    root = tmp_path / "UCF_Crimes"
    render_video(root / "Anomaly-Videos-Part-2" / "Fighting" / "Fighting003_x264.mp4", n=16,
                 fps=8, people=TWO_PEOPLE)
    render_video(root / "Testing_Normal_Videos_Anomaly" / "Normal_Videos_003_x264.mp4", n=12, fps=8)
    write_corrupt(root / "Anomaly-Videos-Part-1" / "Assault" / "Assault007_x264.mp4")
    (root / ucf_crime.ANNOTATION_FILE).write_text(
        "Fighting003_x264.mp4  Fighting  2  13  -1  -1\n"
        "Normal_Videos_003_x264.mp4  Normal  -1  -1  -1  -1\n")
    out = tmp_path / "ds"
    rep = build(_opts(stage1, "ucf-crime", root, out, source_options={"window_s": "1.5", "min_window_s": "0.5"}),
                progress=False).report
    _check_report(rep)
    assert rep["inputs"] == 3 and any("Assault007" in s["item"] and "not a readable video" in s["reason"]
                                      for s in rep["skips"])
    rows = _rows(out)
    assert rows
    _check_rows(rows, "ucf-crime", stage1.options)
    for row in rows:
        extra = row["extra"]
        assert row["split"] == "test" and not extra["weak_label"]
        if row["id"].startswith("Fighting003_x264_a1_p"):
            assert labels.HAZARD_NAMES[row["hazard"]] == "fighting"
            assert extra["annotated_frames"] == [2, 13] and extra["window_s"][0] >= 0.25 - 1e-9
        else:
            assert row["id"].startswith("Normal_Videos_003_x264_w") and row["safe"]


# ------------------------------------------------------------------ Le2i

def test_le2i_build_keeps_the_annotated_person(stage1, tmp_path):
    root = tmp_path / "Le2i"
    scene = root / "Coffee_room_01" / "Coffee_room_01"
    render_video(scene / "Videos" / "video (1).avi", n=40, fps=10, people=TWO_PEOPLE, codec="mpeg4")
    # the annotated box of every frame is the whole frame: every track overlaps it, and the one
    # kept must be the best overlap
    lines = ["12", "20"] + [f"{f},1,0,0,128,96" for f in range(1, 41)]
    (scene / "Annotation_files").mkdir(parents=True)
    (scene / "Annotation_files" / "video (1).txt").write_text("\n".join(lines) + "\n")
    render_video(root / "Office" / "Office" / "Videos" / "video (1).avi", n=8, fps=10, codec="mpeg4")
    out = tmp_path / "ds"
    opts = _opts(stage1, "le2i", root, out,
                 source_options={"window_s": "1.0", "min_window_s": "0.6", "fall_margin_s": "0.3"})
    rep = build(opts, progress=False).report
    _check_report(rep)
    assert any("ships without annotations" in s["reason"] for s in rep["skips"])
    assert any("excluded label 'after_fall'" in s["reason"] for s in rep["skips"])
    rows = _rows(out)
    _check_rows(rows, "le2i", stage1.options)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))                       # one track per window, id = window id
    runner = Stage1Runner(stage1.options, stage1.cache)
    for row in rows:
        assert row["id"] in ("Coffee_room_01_video1_fall", "Coffee_room_01_video1_safe000")
        start_s, end_s = (0.8, 2.3) if row["id"].endswith("fall") else (0.0, 0.8)
        window = VideoWindow(row["id"], scene / "Videos" / "video (1).avi", row["source_label"],
                             "Coffee_room_01", "train", start_s=start_s, end_s=end_s)
        tracks = runner.reconstruct(window).tracks                 # from the cache
        boxes = {f - 1: (0, 0, 128, 96) for f in range(1, 41)}
        best = max(tracks, key=lambda t: annotated_overlap(t, boxes))
        assert row["extra"]["track_id"] == best.track_id
        if row["id"].endswith("fall"):
            assert labels.HAZARD_NAMES[row["hazard"]] == "falling"


# ------------------------------------------------------------------ UP-Fall: video and real wrist

def test_up_fall_video_and_real_wrist_share_ids(stage1, tmp_path):
    root = tmp_path / "UP-Fall"
    base = datetime(2018, 7, 4, 12, 4, 17)
    names = [(base + timedelta(seconds=k / 18)).isoformat(timespec="microseconds").replace(":", "_")
             + ".png" for k in range(20)]
    trial = root / "Subject1" / "Activity1" / "Trial1" / "Subject1Activity1Trial1Camera1"
    write_frames(trial, names, size=(128, 96), people=2)
    write_upfall_csv(root / "CompleteDataSet.csv", upfall_rows(1, 1, 1))
    real = build(BuildOptions(source="up-fall", input_dir=root, output_dir=tmp_path / "real"),
                 progress=False)
    video = build(_opts(stage1, "up-fall-video", root, tmp_path / "video"), progress=False)
    _check_report(video.report)
    rows = _rows(tmp_path / "video")
    assert [r["id"] for r in rows] == [r["id"] for r in _rows(tmp_path / "real")] == ["S01A01T01"]
    _check_rows(rows, "up-fall-video", stage1.options)
    (row,) = rows
    assert row["subject"] == "S01" and row["extra"]["start_time"] == "2018-07-04T12:04:17.000000"
    assert row["extra"]["fps"] == pytest.approx(18.0, rel=1e-3)
    assert real.report["inputs_written"] == 1


def _fidelity_module():
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "fidelity_upfall.py"
    spec = importlib.util.spec_from_file_location("bench_fidelity_upfall", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_fidelity_upfall_says_no_data_ships_and_runs_on_trials(stage1, tmp_path, capsys):
    bench = _fidelity_module()
    assert bench.main([]) == 0
    assert "No UP-Fall data ships with imu2safety" in capsys.readouterr().out
    # known lag: b runs 3 samples behind a -> r = 1 at lag 3
    a = np.sin(np.linspace(0, 12, 200)) ** 2
    r, lag = bench.lagged_corr(a[3:], a[:-3], 5)
    assert lag == 3 and r == pytest.approx(1.0)
    root = tmp_path / "UP-Fall"
    base = datetime(2018, 7, 4, 12, 4, 17)
    names = [(base + timedelta(seconds=k / 18)).isoformat(timespec="microseconds").replace(":", "_")
             + ".png" for k in range(20)]
    write_frames(root / "Subject2Activity3Trial1Camera1", names, size=(128, 96), people=2)
    write_upfall_csv(root / "CompleteDataSet.csv", upfall_rows(2, 3, 1))
    args = [str(root), "--detector", stage1.options["detector"], "--pose-model",
            stage1.options["pose_model"], "--min-track-s", "0.5", "--min-keypoint-score", "0",
            "--stage1-cache", str(stage1.cache),
            "--json", str(tmp_path / "f.json")]
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "S02A03T01" in out and "falls (1-5)" in out
    (trial,) = json.loads((tmp_path / "f.json").read_text())["trials"]
    assert trial["id"] == "S02A03T01" and trial["samples"] > 10
    assert -1.0 <= trial["r_acc"] <= 1.0 and abs(trial["lag_acc_s"]) <= 1.0
