"""Annotation parsers of the video sources, against fixtures in each source's native format.

No model runs here: ``windows()`` only parses annotations and probes containers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imu2safety.builders import labels
from imu2safety.builders.records import Skip
from imu2safety.builders.sources import get_source, kinetics, le2i, ucf_crime, up_fall_video
from imu2safety.builders.sources.video import VideoWindow, cut

from videofixtures import write_corrupt, write_frames, write_video


def _split(items):
    return ([w for w in items if isinstance(w, VideoWindow)],
            [s for s in items if isinstance(s, Skip)])


# ------------------------------------------------------------------ Kinetics

K700_TRAIN = '''label,youtube_id,time_start,time_end,split
"punching person (boxing)",abc-DEF_123,14,24,train
capoeira,zzzzzzzzzzz,0,10,train
"being in zero gravity",grav1234567,5,15,train
dying hair,k400only000,1,11,train
abseiling,gone0000000,30,40,train
'''
K700_VAL = '''label,youtube_id,time_start,time_end,split,is_cc
falling off bike,bike0000001,100,110,val,1
"passing American football (in game)",nfl00000001,3,13,validate,0
'''
K700_TEST = '''youtube_id,time_start,time_end,split
test0000001,7,17,test
'''


@pytest.fixture
def kinetics_dir(tmp_path) -> Path:
    root = tmp_path / "k700"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "train.csv").write_text(K700_TRAIN)
    (root / "annotations" / "validate.csv").write_text(K700_VAL)
    (root / "annotations" / "test.csv").write_text(K700_TEST)
    for name in ("abc-DEF_123_000014_000024", "zzzzzzzzzzz_000000_000010",
                 "grav1234567_000005_000015", "dying hair" and "k400only000_000001_000011",
                 "test0000001_000007_000017"):
        (root / "train").mkdir(exist_ok=True)
        (root / "train" / f"{name}.mp4").write_bytes(b"")
    # one folder per label, spaces written as underscores
    folder = root / "val" / "passing_American_football_(in_game)"
    folder.mkdir(parents=True)
    (folder / "nfl00000001_000003_000013.mp4").write_bytes(b"")
    (root / "val" / "falling off bike").mkdir()
    (root / "val" / "falling off bike" / "bike0000001_000100_000110.mp4").write_bytes(b"")
    # a clip in no CSV but in a label folder of a split folder
    (root / "train" / "slapping").mkdir()
    (root / "train" / "slapping" / "extra000001_000001_000011.mp4").write_bytes(b"")
    return root


def test_kinetics_csv_quoted_labels_missing_label_and_is_cc(kinetics_dir):
    rows, problems = kinetics.parse_csv(kinetics_dir / "annotations" / "train.csv")
    assert problems == []
    assert rows[("abc-DEF_123", 14, 24)].label == "punching person (boxing)"
    assert rows[("abc-DEF_123", 14, 24)].is_cc is None
    val, _ = kinetics.parse_csv(kinetics_dir / "annotations" / "validate.csv")
    assert val[("bike0000001", 100, 110)] == kinetics.Annotation("falling off bike", "validation",
                                                                 True, "validate.csv")
    assert val[("nfl00000001", 3, 13)].is_cc is False
    test, _ = kinetics.parse_csv(kinetics_dir / "annotations" / "test.csv")
    assert test[("test0000001", 7, 17)].label is None and test[("test0000001", 7, 17)].split == "test"


def test_kinetics_csv_bad_rows_are_problems_and_foreign_csv_is_an_error(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("label,youtube_id,time_start,time_end,split\nx,aaa,1.5,3,train\ny,bbb,1,2,holdout\n"
                 "z,ccc,1,11,train\n")
    rows, problems = kinetics.parse_csv(p)
    assert list(rows) == [("ccc", 1, 11)] and len(problems) == 2
    assert "1.5" in problems[0] and "holdout" in problems[1]
    q = tmp_path / "b.csv"
    q.write_text("name,value\n")
    with pytest.raises(ValueError, match="not a Kinetics annotation CSV"):
        kinetics.parse_csv(q)


def test_kinetics_clip_names_keep_underscores_in_youtube_ids():
    assert kinetics.clip_key("abc-DEF_123_000014_000024") == ("abc-DEF_123", 14, 24)
    assert kinetics.clip_key("__x_y_000001_000011") == ("__x_y", 1, 11)
    assert kinetics.clip_key("abc_14_24") is None


def test_kinetics_windows_labels_splits_and_skips(kinetics_dir):
    paths = kinetics.list_inputs(kinetics_dir)
    names = [p.relative_to(kinetics_dir).as_posix() for p in paths]
    assert "gone0000000_000030_000040.mp4" in names          # annotated, no video: an input
    assert len(names) == 9
    items = [x for p in paths for x in kinetics.windows(p, kinetics_dir)]
    wins, skips = _split(items)
    by_id = {w.id: w for w in wins}
    assert by_id["abc-DEF_123_000014_000024"].source_label == "punching person (boxing)"
    assert by_id["abc-DEF_123_000014_000024"].split == "train"
    assert by_id["abc-DEF_123_000014_000024"].subject == "abc-DEF_123"
    assert by_id["nfl00000001_000003_000013"].split == "validation"
    assert by_id["bike0000001_000100_000110"].extra["is_cc"] is True
    assert by_id["extra000001_000001_000011"].source_label == "slapping"   # label folder
    assert by_id["extra000001_000001_000011"].split == "train"             # split folder
    reasons = {s.input: s.reason for s in skips}
    assert "taken down from YouTube" in reasons["gone0000000_000030_000040.mp4"]
    assert "withholds" in reasons["train/test0000001_000007_000017.mp4"]
    # excluded / unmapped labels are windows here; read() skips them before Stage 1
    assert labels.excluded("kinetics", by_id["grav1234567_000005_000015"].source_label)
    assert labels.lookup("kinetics", by_id["k400only000_000001_000011"].source_label) is None
    assert len(paths) == len(wins) + len(skips)


def test_kinetics_missing_ignore_lists_only_videos(kinetics_dir):
    paths = kinetics.list_inputs(kinetics_dir, missing="ignore")
    assert all(p.exists() for p in paths) and len(paths) == 8
    with pytest.raises(ValueError, match="missing must be"):
        kinetics.list_inputs(kinetics_dir, missing="maybe")
    with pytest.raises(ValueError, match="unknown option"):
        kinetics.list_inputs(kinetics_dir, protocol="xsub")


def test_kinetics_label_table_is_complete_and_reviewed():
    assert len(labels.KINETICS700_CLASSES) == 700
    table = labels.SOURCE_LABELS["kinetics"]
    assert set(table) | set(labels.KINETICS_EXCLUDED) == set(labels.KINETICS700_CLASSES)
    assert table["capoeira"].safe and table["pushing car"].safe and table["pillow fight"].safe
    assert table["sword fighting"].hazard == "fighting"
    assert table["parkour"].hazard == "jumping_from_height"
    assert table["tackling"].hazard == "shoving"
    assert table["faceplanting"].hazard == "falling"
    hazards = {c: lab.hazard for c, lab in table.items() if not lab.safe}
    assert hazards == labels.KINETICS_HAZARDS


# ------------------------------------------------------------------ UCF-Crime

UCF_ANNOTATION = (
    "Abuse028_x264.mp4  Abuse  5  14  -1  -1\n"
    "Fighting003_x264.mp4  Fighting  2  6  12  15\n"
    "Normal_Videos_003_x264.mp4  Normal  -1  -1  -1  -1\n"
    "Arson011_x264.mp4  Arson  1  5  -1  -1\n"
    "Robbery050_x264.mp4  Robbery  oops  5  -1  -1\n"
    "\n"
)


@pytest.fixture
def ucf_dir(tmp_path) -> Path:
    root = tmp_path / "UCF_Crimes"
    write_video(root / "Anomaly-Videos-Part-1" / "Abuse" / "Abuse028_x264.mp4", 20, 10)
    write_video(root / "Anomaly-Videos-Part-2" / "Fighting" / "Fighting003_x264.mp4", 20, 10)
    write_video(root / "Anomaly-Videos-Part-2" / "Fighting" / "Fighting010_x264.mp4", 25, 10)
    write_video(root / "Anomaly-Videos-Part-1" / "Arson" / "Arson011_x264.mp4", 20, 10)
    write_video(root / "Testing_Normal_Videos_Anomaly" / "Normal_Videos_003_x264.mp4", 25, 10)
    write_video(root / "Training-Normal-Videos-Part-1" / "Normal_Videos001_x264.mp4", 12, 10)
    write_corrupt(root / "Anomaly-Videos-Part-2" / "Fighting" / "Fighting042_x264.mp4")
    (root / "Anomaly_Train_Test").mkdir()
    (root / "Anomaly_Train_Test" / ucf_crime.ANNOTATION_FILE).write_text(UCF_ANNOTATION)
    return root


def test_ucf_crime_annotation_runs_of_spaces_and_minus_one(ucf_dir):
    table, problems = ucf_crime.parse_annotations(ucf_dir / "Anomaly_Train_Test" / ucf_crime.ANNOTATION_FILE)
    assert table["Abuse028_x264"] == ucf_crime.TestAnnotation("Abuse", ((5, 14),))
    assert table["Fighting003_x264"].windows == ((2, 6), (12, 15))
    assert table["Normal_Videos_003_x264"].windows == ()
    assert len(problems) == 1 and ":5:" in problems[0]


def test_ucf_crime_class_from_file_names():
    assert ucf_crime.video_class("Abuse028_x264") == ("Abuse", 28)
    assert ucf_crime.video_class("RoadAccidents101_x264") == ("RoadAccidents", 101)
    assert ucf_crime.video_class("Normal_Videos_003_x264") == ("Normal", 3)
    assert ucf_crime.video_class("Normal_Videos001_x264") == ("Normal", 1)
    assert ucf_crime.video_class("holiday") is None


def test_ucf_crime_windows(ucf_dir):
    paths = ucf_crime.list_inputs(ucf_dir)
    assert len(paths) == 7
    wins, skips = _split([x for p in paths for x in ucf_crime.windows(p, ucf_dir, window_s=1.0,
                                                                         min_window_s=0.5)])
    by_id = {w.id: w for w in wins}
    a = by_id["Abuse028_x264_a1"]                         # frames 5..14 at 10 fps
    assert (a.start_s, a.end_s, a.split, a.extra["weak_label"]) == (0.5, 1.5, "test", False)
    assert [by_id[f"Fighting003_x264_a{k}"].start_s for k in (1, 2)] == [0.2, 1.2]
    assert by_id["Fighting003_x264_a2"].end_s == 1.6
    normal = [w for w in wins if w.subject == "Normal_Videos_003_x264"]
    assert [(w.start_s, w.end_s) for w in normal] == [(0.0, 1.0), (1.0, 2.0), (2.0, 2.5)]
    assert all(w.split == "test" and w.source_label == "Normal" for w in normal)
    weak = [w for w in wins if w.subject == "Fighting010_x264"]
    assert len(weak) == 3 and all(w.extra["weak_label"] and w.split == "validation" for w in weak)
    train_normal = [w for w in wins if w.subject == "Normal_Videos001_x264"]
    assert [(w.start_s, w.end_s) for w in train_normal] == [(0.0, 1.0)]   # 0.2 s rest dropped
    assert train_normal[0].split == "train" and not train_normal[0].extra["weak_label"]
    assert by_id["Arson011_x264_a1"].source_label == "Arson"        # excluded later, by read()
    assert labels.excluded("ucf-crime", "Arson")
    (bad,) = skips
    assert "Fighting042" in bad.input and "not a readable video" in bad.reason


def test_ucf_crime_labels_cover_every_class():
    classes = {"Abuse", "Arrest", "Arson", "Assault", "Burglary", "Explosion", "Fighting",
               "RoadAccidents", "Robbery", "Shooting", "Shoplifting", "Stealing", "Vandalism",
               "Normal"}
    assert set(ucf_crime.CLASSES) == classes
    t = labels.SOURCE_LABELS["ucf-crime"]
    assert {c for c, lab in t.items() if not lab.safe} == {"Fighting", "Assault", "Abuse"}
    assert not set(t) & set(labels.UCF_CRIME_EXCLUDED)


# ------------------------------------------------------------------ Le2i

def _le2i_annotation(start: int, end: int, frames: int) -> str:
    lines = [str(start), str(end)]
    for f in range(1, frames + 1):
        box = (0, 0, 0, 0) if f > frames - 2 else (10 + f, 5, 30 + f, 40)
        lines.append(",".join(str(v) for v in (f, 1, *box)))
    return "\n".join(lines) + "\n"


@pytest.fixture
def le2i_dir(tmp_path) -> Path:
    root = tmp_path / "Le2i"
    scene = root / "Coffee_room_01" / "Coffee_room_01"
    write_video(scene / "Videos" / "video (1).avi", 100, 25)                # 4 s
    (scene / "Annotation_files").mkdir(parents=True)
    (scene / "Annotation_files" / "video (1).txt").write_text(_le2i_annotation(48, 60, 100))
    write_video(scene / "Videos" / "video (2).avi", 50, 25)              # no fall
    (scene / "Annotation_files" / "video (2).txt").write_text(_le2i_annotation(0, 0, 50))
    write_video(root / "Home_02" / "Home_02" / "Videos" / "video (3).avi", 30, 25)
    (root / "Home_02" / "Home_02" / "Annotation_files").mkdir(parents=True)
    (root / "Home_02" / "Home_02" / "Annotation_files" / "video (3).txt").write_text(
        "48,1,1,2,3,4\n49,1,1,2,3,4\n")                                 # no fall lines
    write_video(root / "Lecture_room" / "Lecture_room" / "Videos" / "video (9).avi", 30, 25)
    return root


def test_le2i_annotation_file(le2i_dir):
    ann = le2i.parse_annotation(le2i_dir / "Coffee_room_01" / "Coffee_room_01" /
                                "Annotation_files" / "video (1).txt")
    assert ann.fall == (48, 60) and len(ann.boxes) == 98 and ann.bad_lines == 0
    assert ann.boxes[1] == (11.0, 5.0, 31.0, 40.0) and 100 not in ann.boxes   # zero boxes dropped


def test_le2i_windows(le2i_dir):
    paths = le2i.list_inputs(le2i_dir)
    assert [p.name for p in paths] == ["video (1).avi", "video (2).avi", "video (3).avi", "video (9).avi"]
    wins, skips = _split([x for p in paths for x in le2i.windows(p, le2i_dir, window_s=1.0,
                                                                    min_window_s=0.5)])
    by_id = {w.id: w for w in wins}
    fall = by_id["Coffee_room_01_video1_fall"]
    assert fall.source_label == "fall" and fall.split == "train" and fall.one_track
    assert (fall.start_s, fall.end_s) == (47 / 25 - 0.5, 60 / 25 + 0.5)
    assert min(fall.boxes) == int(fall.start_s * 25) and fall.boxes[47] == (58.0, 5.0, 78.0, 40.0)
    before = [w for w in wins if w.id.startswith("Coffee_room_01_video1_safe")]
    assert [(w.start_s, w.end_s) for w in before] == [(0.0, 1.0)]     # 1.38 s before: 0.38 dropped
    after = by_id["Coffee_room_01_video1_after"]
    assert after.source_label == "after_fall" and after.end_s == 4.0
    assert labels.excluded("le2i", "after_fall")
    nofall = [w for w in wins if "video2" in w.id]
    assert [w.source_label for w in nofall] == ["no_fall", "no_fall"]
    reasons = {Path(s.input).name: s.reason for s in skips}
    assert "fall start and end" in reasons["video (3).avi"]
    assert "ships without annotations" in reasons["video (9).avi"]


# ------------------------------------------------------------------ UP-Fall video

def _stamps(n: int, fps: float = 18.0) -> list[str]:
    from datetime import datetime, timedelta

    base = datetime(2018, 7, 4, 12, 4, 17, 738369)
    return [(base + timedelta(seconds=k / fps)).isoformat(timespec="microseconds")
            .replace(":", "_") + ".png" for k in range(n)]


def test_up_fall_video_trials(tmp_path):
    root = tmp_path / "UP-Fall"
    t1 = root / "Subject1" / "Activity1" / "Trial1"
    write_frames(t1 / "Subject1Activity1Trial1Camera1", _stamps(9))
    write_frames(t1 / "Subject1Activity1Trial1Camera2", _stamps(9))
    (t1 / "Subject1Activity1Trial1Camera1.zip").write_bytes(b"PK")   # extracted: folder wins
    (root / "Subject15Activity11Trial3Camera1.zip").write_bytes(b"PK")
    write_frames(root / "Subject16Activity6Trial2Camera1", ["0001.png", "0002.png", "0003.png"])
    paths = up_fall_video.list_inputs(root)
    assert [p.name for p in paths] == ["Subject1Activity1Trial1Camera1",
                                       "Subject15Activity11Trial3Camera1.zip",
                                       "Subject16Activity6Trial2Camera1"]
    wins, skips = _split([x for p in paths for x in up_fall_video.windows(p, root)])
    by_id = {w.id: w for w in wins}
    # Stage 1 reads the frames in time order (every number of the name counts)
    from imu2safety.builders.video.decode import frame_files
    assert [f.name for f in frame_files(t1 / "Subject1Activity1Trial1Camera1")] == _stamps(9)
    w = by_id["S01A01T01"]
    assert w.frames_fps == pytest.approx(18.0, rel=1e-4) and w.one_track
    assert (w.subject, w.split, w.source_label) == ("S01", "train", "1")
    assert w.extra["start_time"] == "2018-07-04T12:04:17.738369"
    assert by_id["S16A06T02"].frames_fps == 18.0 and by_id["S16A06T02"].split == "test"
    (z,) = skips
    assert "still zipped" in z.reason
    cam2 = up_fall_video.list_inputs(root, camera=2)
    assert [p.name for p in cam2] == ["Subject1Activity1Trial1Camera2"]


def test_up_fall_video_ids_match_the_real_imu_reader():
    assert up_fall_video.clip_id(1, 1, 1) == "S01A01T01"
    assert get_source("up-fall-video").LICENSE == get_source("up-fall").LICENSE
    assert labels.SOURCE_LABELS["up-fall-video"] is labels.SOURCE_LABELS["up-fall"]


def test_cut_windows():
    assert cut(2.5, 1.0, 0.5) == [(0.0, 1.0), (1.0, 2.0), (2.0, 2.5)]
    assert cut(2.3, 1.0, 0.5) == [(0.0, 1.0), (1.0, 2.0)]
    assert cut(0.4, 1.0, 0.5) == []
