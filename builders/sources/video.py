"""What every video source shares: annotated windows of videos, Stage 1 on them, clips per track.

A video source module holds, besides ``NAME``/``LICENSE``/``CITATION`` and ``list_inputs``::

    VIDEO = True
    def windows(path: Path, input_dir: Path, **options) -> Iterator[VideoWindow | Skip]
    def read(path: Path, *, input_dir=None, stage1=None, **options) -> Iterator[Clip | Skip]

``windows`` only parses annotations (no model runs): each ``VideoWindow`` is one labelled stretch
of one video (a Kinetics clip, an annotated UCF-Crime anomaly, the fall of a Le2i video, a whole
UP-Fall trial). ``read`` runs Stage 1 (``builders.video.pipeline``) on every window through a
``Stage1Runner`` (models loaded once per process, results cached on disk) and yields one
``Clip`` per person track, with the window's label and the provenance in ``Clip.extra``.

A window whose label is excluded or unmapped is skipped before Stage 1 runs, so no model time is
spent on clips that could not be written.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..labels import excluded, lookup
from ..records import Clip, Item, Skip

logger = logging.getLogger(__name__)

#: Video file extensions the video sources list (lower case).
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg")


@dataclass(frozen=True)
class VideoWindow:
    """One labelled stretch of one video, before Stage 1.

    id: clip id within the source; a track's row gets ``f"{id}_p{track_id}"`` unless the source
        keeps one track per window (``one_track``), whose row is ``id`` itself.
    video: video file, or a folder of frame images (``frames_fps`` then gives the rate).
    source_label: label in the source's vocabulary (a key of its table in ``builders.labels``).
    subject, split: as in ``Clip``.
    start_s, end_s: window in seconds from the start of the video; None = from the start / to the
        end.
    frames_fps: frame rate of a frame folder, frames/s; None for video files (the container's).
    boxes: annotated person boxes, frame index (0-based, in the video) -> (x1, y1, x2, y2) pixels;
        when given, only the track that overlaps them best is kept (Le2i).
    one_track: keep only the best track (the annotated one, else the longest): sources whose
        windows show one subject (Le2i, UP-Fall).
    extra: source provenance (annotation file, frame window, weak label, ...), JSON-able.
    """

    id: str
    video: Path
    source_label: str
    subject: str
    split: str
    start_s: float | None = None
    end_s: float | None = None
    frames_fps: float | None = None
    boxes: dict[int, tuple[float, float, float, float]] | None = None
    one_track: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- probing videos

@dataclass(frozen=True)
class VideoInfo:
    """What the container says: frames/s, frame count (0 when unknown), duration in seconds."""

    fps: float
    frames: int
    duration_s: float


def probe(video: Path) -> VideoInfo:
    """Frame rate, frame count and duration of a video file from its container (Stage 1's
    ``decode.probe``); ValueError (``VideoError``) with the reason for a missing, unreadable or
    streamless file, or one whose container states no duration."""
    from ..video.decode import probe as probe_video

    info = probe_video(Path(video))
    duration = info.duration_s
    if duration is None and info.num_frames:
        duration = info.num_frames / info.fps
    if not duration or duration <= 0:
        raise ValueError(f"video {Path(video).name} states no duration")
    return VideoInfo(info.fps, info.num_frames or int(round(duration * info.fps)), duration)


def frame_files(folder: Path) -> list[Path]:
    """The image files of a frame folder in Stage 1's order (``decode.frame_files``)."""
    from ..video.decode import frame_files as stage1_frame_files

    return stage1_frame_files(Path(folder))


def cut(duration_s: float, window_s: float, min_s: float) -> list[tuple[float, float]]:
    """Consecutive windows of ``window_s`` over [0, duration_s]; a last piece shorter than
    ``min_s`` is dropped (so a video shorter than ``min_s`` gives none)."""
    if window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    out, start = [], 0.0
    while duration_s - start >= min_s:
        end = min(duration_s, start + window_s)
        out.append((round(start, 6), round(end, 6)))
        start = end
    return out


# ---------------------------------------------------------------- Stage 1

class Stage1Runner:
    """Runs Stage 1 on windows: the models are loaded once (on the first video that misses the
    cache) and reused; results are cached in ``cache_dir`` by ``pipeline.reconstruct``.

    options: ``Stage1Options`` or a dict of its fields (the build options' ``stage1``).
    """

    def __init__(self, options: Any = None, cache_dir: Path | None = None) -> None:
        from ..video import pipeline

        self._pipeline = pipeline
        if options is None:
            options = pipeline.Stage1Options()
        elif isinstance(options, dict):
            options = pipeline.Stage1Options(**options)
        self.options = options
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._models = None

    def models(self):
        if self._models is None:
            self._models = self._pipeline.load_models(self.options)
        return self._models

    def reconstruct(self, window: VideoWindow):
        """``Reconstruction`` of ``window``; ``pipeline.VideoError`` for a bad video/window."""
        opts = self.options
        if window.frames_fps is not None:
            opts = dataclasses.replace(opts, frames_fps=window.frames_fps)
        return self._pipeline.reconstruct(window.video, opts, start_s=window.start_s,
                                          end_s=window.end_s, cache_dir=self.cache_dir,
                                          models=self.models())

    def video_error(self) -> type[Exception]:
        return self._pipeline.VideoError


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a`` (N, 4) and ``b`` (N, 4), x1 y1 x2 y2, row by row -> (N,)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    area = lambda x: np.clip(x[:, 2] - x[:, 0], 0, None) * np.clip(x[:, 3] - x[:, 1], 0, None)
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def annotated_overlap(track, boxes: dict[int, tuple]) -> float:
    """Mean IoU of ``track``'s boxes with the annotated ``boxes`` over the frames both have
    (frames the track misses count 0): how well the track is the annotated person."""
    frames = np.asarray(track.frame_indices)
    ann = {int(k): v for k, v in boxes.items()}
    shared = [i for i, f in enumerate(frames) if int(f) in ann]
    if not ann:
        return 0.0
    if not shared:
        return 0.0
    iou = box_iou(np.asarray(track.boxes)[shared], np.array([ann[int(frames[i])] for i in shared]))
    return float(iou.sum() / len(ann))


def select_tracks(window: VideoWindow, tracks: list) -> tuple[list, list[tuple[Any, str]]]:
    """(kept tracks, [(dropped track, why)]) for ``window``: all tracks, or with ``boxes`` /
    ``one_track`` the annotated one (best overlap) or the longest."""
    if not window.boxes and not window.one_track:
        return list(tracks), []
    if window.boxes:
        scores = [annotated_overlap(t, window.boxes) for t in tracks]
        best = int(np.argmax(scores))
        if scores[best] <= 0:
            return [], [(t, "no overlap with the annotated person boxes") for t in tracks]
        why = f"not the annotated person (box overlap below track {tracks[best].track_id})"
    else:
        lengths = [len(t.frame_indices) for t in tracks]
        best = int(np.argmax(lengths))  # first of the longest: ids are stable
        why = f"one subject per window: kept the longest track {tracks[best].track_id}"
    keep = tracks[best]
    return [keep], [(t, why) for t in tracks if t is not keep]


def _track_extra(window: VideoWindow, rec, track, stage1_options: dict) -> dict:
    frames = np.asarray(track.frame_indices)
    mask = np.asarray(track.mask, bool)
    return {
        **window.extra,
        "video": window.extra.get("video", window.video.name),
        "window_s": [rec.start_s, rec.end_s],
        "fps": rec.fps,
        "track_id": int(track.track_id),
        "frames": [int(frames.min()), int(frames.max())] if len(frames) else [],
        "masked_frames": int((~mask).sum()),
        "mean_keypoint_score": round(float(np.nanmean(track.scores)), 6) if np.size(track.scores) else 0.0,
        "stage1": stage1_options,
    }


def read_windows(items: Iterable[VideoWindow | Skip], source: str,
                 stage1: Stage1Runner | None) -> Iterator[Item]:
    """Stage 1 on every window of ``items``: one Clip per kept person track, or Skips with reasons.

    Windows with an excluded or unmapped label are skipped before Stage 1. ``stage1`` None builds
    a runner with the default Stage-1 options (and no cache) on the first window that needs one.
    """
    for item in items:
        if isinstance(item, Skip):
            yield item
            continue
        window = item
        why = excluded(source, window.source_label)
        if why is not None:
            yield Skip(window.id, f"excluded label {window.source_label!r}: {why}")
            continue
        if lookup(source, window.source_label) is None:
            yield Skip(window.id, f"unmapped label {window.source_label!r}")
            continue
        if stage1 is None:
            stage1 = Stage1Runner()
        try:
            rec = stage1.reconstruct(window)
        except (stage1.video_error(), OSError) as err:
            yield Skip(window.id, f"video: {err}")
            continue
        if not rec.tracks:
            yield Skip(window.id, "Stage 1 found no person track long enough")
            continue
        kept, dropped = select_tracks(window, list(rec.tracks))
        for track, reason in dropped:
            yield Skip(f"{window.id}_p{track.track_id}", reason)
        options = stage1.options.to_dict()
        for track in kept:
            clip_id = window.id if window.one_track else f"{window.id}_p{track.track_id}"
            yield Clip(id=clip_id, source=source, subject=window.subject,
                       source_label=window.source_label, split=window.split, motion=track.motion,
                       extra=_track_extra(window, rec, track, options))


def make_read(name: str, windows: Callable[..., Iterator[VideoWindow | Skip]]):
    """The ``read`` function of a video source whose annotation parser is ``windows``."""

    def read(path: Path, *, input_dir: Path | None = None, stage1: Stage1Runner | None = None,
             **options) -> Iterator[Item]:
        """Stage 1 + one Clip per person track of every window of ``path`` (or Skips)."""
        root = Path(input_dir) if input_dir is not None else Path(path).parent
        try:
            items = list(windows(Path(path), root, **options))
        except (OSError, ValueError) as err:
            yield Skip(str(path), str(err))
            return
        yield from read_windows(items, name, stage1)

    read.__name__ = "read"
    return read
