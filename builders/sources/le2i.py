"""Le2i fall dataset -> a falling clip per annotated fall and safe clips around it.

Native layout (``--input`` holds the scene folders, at any depth, e.g. ``Coffee_room_01/
Coffee_room_01/``): ``Videos/video (N).avi`` and ``Annotation_files/video (N).txt``. An annotation
file holds the fall's start frame on line 1 and its end frame on line 2 (both 0 when the video
has no fall), then one line per frame ``frame,label,x1,y1,x2,y2`` (the person's box in pixels,
all 0 where nobody is annotated); frames count from 1. Some scenes (Lecture_room, Office) ship
without annotation files: their videos are skips with that reason, never guessed.

Windows of one video:
- ``fall``: the annotated fall, widened by ``fall_margin_s`` on each side (Stage 1 needs context);
- ``no_fall``: what precedes the fall (or a whole video without a fall), cut into ``window_s``
  windows; safe;
- ``after_fall``: what follows the fall (lying, getting up), excluded with its reason
  (``labels.LE2I_EXCLUDED``).
The annotated boxes pick the person track (best mean IoU); other tracks are skips.
Le2i names no actors: the scene stands for the subject, and the split holds out whole scenes
(``splits.le2i_split``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import parse_options
from ..records import Skip
from ..splits import le2i_split
from .video import VIDEO_SUFFIXES, VideoWindow, cut, make_read, probe

NAME = "le2i"
VIDEO = True
LICENSE = ("Le2i fall detection dataset (Laboratoire Electronique, Informatique et Image, "
           "Universite de Bourgogne): free for research use with citation of the paper; the "
           "videos are not redistributed here, only IMU simulated from them.")
CITATION = ("I. Charfi, J. Miteran, J. Dubois, M. Atri, R. Tourki. Optimized spatio-temporal "
            "descriptors for real-time fall detection: comparison of support vector machine and "
            "Adaboost-based classification. Journal of Electronic Imaging 22(4), 2013.")

_VIDEO_NUMBER = re.compile(r"\((\d+)\)")


@dataclass(frozen=True)
class Options:
    """window_s: length of the safe windows, s; min_window_s: shorter pieces are dropped, s;
    fall_margin_s: context added before and after the annotated fall, s."""

    window_s: float = 10.0
    min_window_s: float = 1.5
    fall_margin_s: float = 0.5

    def __post_init__(self) -> None:
        for name in ("window_s", "min_window_s", "fall_margin_s"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not 0 < self.min_window_s <= self.window_s or self.fall_margin_s < 0:
            raise ValueError("need 0 < min_window_s <= window_s and fall_margin_s >= 0")


@dataclass(frozen=True)
class Annotation:
    """A parsed annotation file: fall frames (1-based, None when no fall) and boxes by frame."""

    fall: tuple[int, int] | None
    boxes: dict[int, tuple[float, float, float, float]]
    bad_lines: int


def parse_annotation(path: Path) -> Annotation:
    """Read one ``Annotation_files/video (N).txt``; ValueError when lines 1-2 are not frames."""
    lines = [ln.strip() for ln in Path(path).read_text(encoding="utf-8", errors="replace")
             .splitlines() if ln.strip()]
    if len(lines) < 2 or "," in lines[0] or "," in lines[1]:
        raise ValueError(f"{Path(path).name}: lines 1-2 must be the fall start and end frames")
    try:
        start, end = int(float(lines[0])), int(float(lines[1]))
    except ValueError:
        raise ValueError(f"{Path(path).name}: fall frames {lines[0]!r}, {lines[1]!r} are not "
                         "numbers") from None
    if start < 0 or end < start:
        raise ValueError(f"{Path(path).name}: fall frames {start}..{end} are not a window")
    boxes, bad = {}, 0
    for ln in lines[2:]:
        parts = ln.split(",")
        try:
            frame = int(parts[0])
            x1, y1, x2, y2 = (float(v) for v in parts[2:6])
        except (ValueError, IndexError):
            bad += 1
            continue
        if len(parts) != 6:
            bad += 1
            continue
        if x2 > x1 and y2 > y1:
            boxes[frame] = (x1, y1, x2, y2)
    return Annotation(None if start == end == 0 else (start, end), boxes, bad)


def annotation_path(video: Path) -> Path:
    """``<scene>/Annotation_files/<stem>.txt`` next to ``<scene>/Videos/<stem>.avi``."""
    return video.parent.parent / "Annotation_files" / f"{video.stem}.txt"


def scene_of(video: Path) -> str:
    return video.parent.parent.name


def list_inputs(input_dir: Path, **options) -> list[Path]:
    """Every video inside a ``Videos`` folder under ``input_dir``, sorted by relative path."""
    parse_options(Options, NAME, options)
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"input folder {root} does not exist or is not a folder")
    videos = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
              and p.parent.name.lower() == "videos"]
    return sorted(videos, key=lambda p: p.relative_to(root).as_posix())


def windows(path: Path, input_dir: Path, **options) -> Iterator[VideoWindow | Skip]:
    """Fall, before-fall and after-fall windows of one Le2i video (or Skips with reasons)."""
    opts = parse_options(Options, NAME, options)
    path, root = Path(path), Path(input_dir)
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    ann_path = annotation_path(path)
    if not ann_path.is_file():
        yield Skip(rel, f"no annotation file {ann_path.parent.name}/{ann_path.name} "
                        "(this scene ships without annotations)")
        return
    try:
        ann = parse_annotation(ann_path)
        info = probe(path)
    except ValueError as err:
        yield Skip(rel, str(err))
        return
    scene = scene_of(path)
    m = _VIDEO_NUMBER.search(path.stem)
    clip = f"{scene}_video{m[1] if m else path.stem.replace(' ', '_')}"
    base = {"video": rel, "annotation": f"{ann_path.parent.name}/{ann_path.name}",
            "scene": scene, "fall_frames": list(ann.fall) if ann.fall else None}
    if ann.bad_lines:
        base["bad_annotation_lines"] = ann.bad_lines
    fps, dur = info.fps, info.duration_s

    def window(wid: str, label: str, start_s: float, end_s: float, **extra) -> VideoWindow:
        first, last = int(start_s * fps), int(end_s * fps)
        boxes = {f - 1: b for f, b in ann.boxes.items() if first <= f - 1 < last}
        return VideoWindow(id=f"{clip}_{wid}", video=path, source_label=label, subject=scene,
                           split=le2i_split(scene), start_s=round(start_s, 6),
                           end_s=round(end_s, 6), boxes=boxes or None, one_track=True,
                           extra={**base, **extra})

    if ann.fall is None:
        before_end, after = dur, None
    else:
        s, e = ann.fall
        fall_start = max(0.0, (s - 1) / fps - opts.fall_margin_s)
        fall_end = min(dur, e / fps + opts.fall_margin_s)
        if fall_start >= dur:
            yield Skip(rel, f"fall frames {s}..{e} lie past the end ({dur:.2f} s)")
            return
        yield window("fall", "fall", fall_start, fall_end, fall_margin_s=opts.fall_margin_s)
        before_end, after = fall_start, (fall_end, dur)
    for k, (a, b) in enumerate(cut(before_end, opts.window_s, opts.min_window_s)):
        yield window(f"safe{k:03d}", "no_fall", a, b)
    if after is not None and after[1] - after[0] >= opts.min_window_s:
        yield window("after", "after_fall", *after)


read = make_read(NAME, windows)
