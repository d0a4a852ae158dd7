"""UCF-Crime surveillance videos -> clips per (annotated window or cut window, person track).

Native layout (``--input`` holds it, at any depth): videos named ``<Class><NNN>_x264.mp4`` in
class folders (``Abuse/Abuse001_x264.mp4`` ... ``Vandalism/``; normal videos
``Normal_Videos_003_x264.mp4`` / ``Normal_Videos001_x264.mp4`` in ``Testing_Normal_Videos_Anomaly``,
``Training-Normal-Videos-Part-1`` ...), and the test split's
``Temporal_Anomaly_Annotation_for_Testing_Videos.txt``: one line per test video,
``<video> <class> <s1> <e1> <s2> <e2>`` separated by runs of spaces, frame numbers (read as
0-based frame indices) of up to two anomaly windows, -1 for none.

Windows:
- a test video's annotated anomaly windows -> clips labelled by its class (``UCF_CRIME_LABELS``);
  the rest of an anomalous test video is not used (no label holds for it);
- a normal video (test or train) -> consecutive ``window_s`` windows, safe;
- an anomalous training video (untrimmed, no temporal annotation) -> consecutive windows with the
  video's class as a **weak** label (``extra.weak_label = true``: the event may lie elsewhere).

Split: the official one (annotated test videos are test, the rest train), validation carved from
training by video number (``splits.ucf_crime_split``). Subject: the video (one scene each).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import parse_options
from ..labels import UCF_CRIME_EXCLUDED, UCF_CRIME_LABELS
from ..records import Skip
from ..splits import ucf_crime_split
from .video import VIDEO_SUFFIXES, VideoWindow, cut, make_read, probe

NAME = "ucf-crime"
VIDEO = True
LICENSE = ("UCF-Crime (CRCV, University of Central Florida): for research use only; the videos "
           "come from YouTube and LiveLeak and are not redistributed here, only IMU simulated "
           "from them. Cite the paper.")
CITATION = ("W. Sultani, C. Chen, M. Shah. Real-world Anomaly Detection in Surveillance Videos. "
            "CVPR 2018.")

ANNOTATION_FILE = "Temporal_Anomaly_Annotation_for_Testing_Videos.txt"
CLASSES = tuple(sorted(set(UCF_CRIME_LABELS) | set(UCF_CRIME_EXCLUDED)))
_NAME = re.compile(r"^(?P<cls>Normal_Videos_?|[A-Za-z]+?)(?P<num>\d+)(?:_x264)?$")


@dataclass(frozen=True)
class Options:
    """window_s: length of the windows cut from normal and training videos, s.
    min_window_s: a last (or only) window shorter than this is dropped, s."""

    window_s: float = 10.0
    min_window_s: float = 2.0

    def __post_init__(self) -> None:
        for name in ("window_s", "min_window_s"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not 0 < self.min_window_s <= self.window_s:
            raise ValueError(f"need 0 < min_window_s <= window_s, got {self.min_window_s}, "
                             f"{self.window_s}")


@dataclass(frozen=True)
class TestAnnotation:
    """One line of the temporal annotation file: class and anomaly windows (frame pairs)."""

    cls: str
    windows: tuple[tuple[int, int], ...]


def video_class(stem: str) -> tuple[str, int] | None:
    """("Abuse", 28) for ``Abuse028_x264``; ("Normal", 3) for ``Normal_Videos_003_x264``."""
    m = _NAME.match(stem)
    if m is None:
        return None
    cls = "Normal" if m["cls"].startswith("Normal") else m["cls"]
    return cls, int(m["num"])


def parse_annotations(path: Path) -> tuple[dict[str, TestAnnotation], list[str]]:
    """The temporal annotation file -> ({video stem: TestAnnotation}, [problems by line])."""
    out: dict[str, TestAnnotation] = {}
    problems: list[str] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            if len(parts) != 6:
                raise ValueError(f"expected 6 fields, got {len(parts)}")
            frames = [int(x) for x in parts[2:]]
            pairs = []
            for s, e in zip(frames[::2], frames[1::2]):
                if s == -1 and e == -1:
                    continue
                if s < 0 or e < s:
                    raise ValueError(f"bad window {s}..{e}")
                pairs.append((s, e))
        except ValueError as err:
            problems.append(f"{Path(path).name}:{n}: {err}")
            continue
        out[Path(parts[0]).stem] = TestAnnotation(parts[1], tuple(pairs))
    return out, problems


@functools.lru_cache(maxsize=4)
def _annotations_cached(stamp: tuple) -> dict[str, TestAnnotation]:
    table: dict[str, TestAnnotation] = {}
    for p, _, _ in stamp:
        table.update(parse_annotations(Path(p))[0])
    return table


@functools.lru_cache(maxsize=4)
def _files_of(root: str) -> tuple[Path, ...]:
    return tuple(sorted(Path(root).rglob(ANNOTATION_FILE), key=lambda p: p.as_posix()))


def annotations(input_dir: Path) -> dict[str, TestAnnotation]:
    """Every temporal annotation file under ``input_dir``, merged (found and parsed once per
    process; parsed again when a file changes)."""
    files = _files_of(str(Path(input_dir).resolve()))
    return _annotations_cached(tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                                     for p in files))


def list_inputs(input_dir: Path, **options) -> list[Path]:
    """Every video file under ``input_dir``, sorted by relative path."""
    parse_options(Options, NAME, options)
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"input folder {root} does not exist or is not a folder")
    videos = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES]
    return sorted(videos, key=lambda p: p.relative_to(root).as_posix())


def windows(path: Path, input_dir: Path, **options) -> Iterator[VideoWindow | Skip]:
    """The labelled windows of one UCF-Crime video (see the module docstring), or Skips."""
    opts = parse_options(Options, NAME, options)
    path, root = Path(path), Path(input_dir)
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    parsed = video_class(path.stem)
    if parsed is None:
        yield Skip(rel, "file name is not <Class><number>_x264 (a UCF-Crime video)")
        return
    cls, number = parsed
    ann = annotations(root).get(path.stem)
    if ann is not None and ann.cls != cls:
        yield Skip(rel, f"annotation class {ann.cls!r} differs from the file name's {cls!r}")
        return
    try:
        info = probe(path)
    except ValueError as err:
        yield Skip(rel, str(err))
        return
    split = ucf_crime_split(ann is not None, number)
    base = {"video": rel, "class": cls, "fps_container": info.fps}
    if ann is not None and cls != "Normal":
        if not ann.windows:
            yield Skip(rel, "test video of an anomaly class without an annotated window")
        for k, (s, e) in enumerate(ann.windows, start=1):
            start_s, end_s = s / info.fps, min((e + 1) / info.fps, info.duration_s)
            if start_s >= info.duration_s:
                yield Skip(f"{path.stem}_a{k}", f"annotated frames {s}..{e} lie past the end "
                                                f"({info.duration_s:.2f} s)")
                continue
            yield VideoWindow(id=f"{path.stem}_a{k}", video=path, source_label=cls,
                              subject=path.stem, split=split, start_s=round(start_s, 6),
                              end_s=round(end_s, 6),
                              extra={**base, "annotated_frames": [s, e], "weak_label": False})
        return
    pieces = cut(info.duration_s, opts.window_s, opts.min_window_s)
    if not pieces:
        yield Skip(rel, f"shorter ({info.duration_s:.2f} s) than min_window_s {opts.min_window_s} s")
    for k, (start_s, end_s) in enumerate(pieces):
        yield VideoWindow(id=f"{path.stem}_w{k:04d}", video=path, source_label=cls,
                          subject=path.stem, split=split, start_s=start_s, end_s=end_s,
                          extra={**base, "weak_label": cls != "Normal"})


read = make_read(NAME, windows)
