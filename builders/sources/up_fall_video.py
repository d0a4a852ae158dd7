"""UP-Fall camera recordings -> one synthetic wrist clip per trial, id-matched to the real one.

Native layout (``--input`` holds it, at any depth): per trial and camera, the frames as
distributed, ``Subject1Activity1Trial1Camera1.zip`` holding images named by their time stamp
(``2018-07-04T12_04_17.738369.png``); unzip each into a folder of the same name
(``Subject1Activity1Trial1Camera1/``) — an archive still zipped is a skip saying so. Camera 1
(lateral view) is used by default (``camera=2`` the frontal one).

The frame rate comes from the frames' time stamps (median interval; UP-Fall cameras run at
about 18 frames/s), and the first frame's time stamp is kept in ``extra.start_time`` on the
same clock as ``CompleteDataSet.csv``. A trial shows one subject: the longest person track is
the subject, other tracks are skips. The clip id ``S01A01T01`` is the id the real wrist-IMU
reader (``up-fall``, from ``CompleteDataSet.csv`` in the same folder) gives the same trial, so
``imu2safety calibrate`` and ``benchmarks/fidelity_upfall.py`` pair them. Labels and subject-wise
splits are the ``up-fall`` ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from . import parse_options
from ..records import Skip
from ..splits import up_fall_split
from .up_fall import CITATION, LICENSE  # one place for UP-Fall's terms
from .video import VideoWindow, frame_files, make_read

NAME = "up-fall-video"
VIDEO = True

_TRIAL = re.compile(r"^Subject(\d+)Activity(\d+)Trial(\d+)Camera(\d+)$", re.IGNORECASE)
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2})[_:](\d{2})[_:](\d{2}(?:\.\d+)?)")


@dataclass(frozen=True)
class Options:
    """camera: which of the two cameras (1 lateral, 2 frontal). default_fps: frame rate used when
    the frame names carry no time stamps (numbered frames), frames/s."""

    camera: int = 1
    default_fps: float = 18.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "camera", int(self.camera))
        object.__setattr__(self, "default_fps", float(self.default_fps))
        if self.camera not in (1, 2) or self.default_fps <= 0:
            raise ValueError(f"camera must be 1 or 2 and default_fps > 0, got {self.camera}, "
                             f"{self.default_fps}")


def trial_key(name: str) -> tuple[int, int, int, int] | None:
    """(subject, activity, trial, camera) of ``Subject1Activity1Trial1Camera1[.zip]``."""
    m = _TRIAL.match(Path(name).name.removesuffix(".zip").removesuffix(".ZIP"))
    return None if m is None else tuple(int(g) for g in m.groups())


def clip_id(subject: int, activity: int, trial: int) -> str:
    """The trial's id, as the ``up-fall`` real-IMU reader writes it."""
    return f"S{subject:02d}A{activity:02d}T{trial:02d}"


def frame_time(name: str) -> datetime | None:
    """The time stamp in a frame's file name (``2018-07-04T12_04_17.738369.png``), or None."""
    m = _STAMP.search(name)
    if m is None:
        return None
    return datetime.fromisoformat(f"{m[1]}T{m[2]}:{m[3]}:{m[4]}")


def list_inputs(input_dir: Path, **options) -> list[Path]:
    """The trial frame folders (and unextracted zips) of the chosen camera, sorted."""
    opts = parse_options(Options, NAME, options)
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"input folder {root} does not exist or is not a folder")
    found = [p for p in root.rglob("*") if (key := trial_key(p.name)) and key[3] == opts.camera
             and (p.is_dir() or p.suffix.lower() == ".zip")]
    # an extracted folder wins over its zip
    folders = {p.with_suffix("") for p in found if p.is_dir()}
    found = [p for p in found if p.is_dir() or p.with_suffix("") not in folders]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def windows(path: Path, input_dir: Path, **options) -> Iterator[VideoWindow | Skip]:
    """The whole trial as one window (frame folder at its time-stamp frame rate), or a Skip."""
    opts = parse_options(Options, NAME, options)
    path, root = Path(path), Path(input_dir)
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    key = trial_key(path.name)
    if key is None:
        yield Skip(rel, "name is not Subject<S>Activity<A>Trial<T>Camera<C>")
        return
    if path.is_file():
        yield Skip(rel, f"camera frames still zipped: unzip into {path.with_suffix('').name}/")
        return
    frames = frame_files(path)
    if len(frames) < 2:
        yield Skip(rel, f"{len(frames)} frame image(s) in the folder, need at least 2")
        return
    stamps = [frame_time(f.name) for f in frames]
    extra = {"video": rel, "camera": key[3], "frames": len(frames)}
    if all(s is not None for s in stamps):
        t = np.array([(s - stamps[0]).total_seconds() for s in stamps])
        steps = np.diff(t)
        if (steps <= 0).any():
            yield Skip(rel, "frame time stamps are not increasing")
            return
        fps = float(1.0 / np.median(steps))
        extra.update(start_time=stamps[0].isoformat(timespec="microseconds"),
                     frame_rate="from the frames' time stamps")
    else:
        fps = opts.default_fps
        extra.update(start_time=None, frame_rate="default_fps (frames carry no time stamps)")
    subject, activity, trial, _ = key
    yield VideoWindow(id=clip_id(subject, activity, trial), video=path, source_label=str(activity),
                      subject=f"S{subject:02d}", split=up_fall_split(subject),
                      frames_fps=round(fps, 6), one_track=True, extra=extra)


read = make_read(NAME, windows)
