"""Kinetics-700(-2020) (and 400/600) video clips -> one clip per (video, person track).

Native layout (``--input`` holds both, at any depth):

- annotation CSVs ``label,youtube_id,time_start,time_end,split`` (the test CSV has no ``label``;
  Kinetics-400/600 add an optional ``is_cc`` column; labels with spaces or commas may be quoted);
  time_start/time_end are whole seconds of the YouTube video;
- clips named ``<youtube_id>_<time_start:06d>_<time_end:06d>.mp4`` (already cut to the
  annotated 10 s), flat or in one folder per label (``abseiling/<id>_..._....mp4``, spaces
  possibly written as underscores).

Every annotated clip and every video found is one input. An annotated clip without its video
(YouTube takedowns are common) is a skip with that reason (``missing=ignore`` leaves them out of
the inputs); a video whose label is missing (the test set's), excluded or unmapped is a skip too.
The split is the CSV's official one; the subject is the YouTube id (one uploader's video).
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import parse_options
from ..labels import KINETICS700_CLASSES
from ..records import Skip
from ..splits import kinetics_split
from .video import VIDEO_SUFFIXES, VideoWindow, make_read

NAME = "kinetics"
VIDEO = True
LICENSE = ("Kinetics annotations: CC BY 4.0 (DeepMind). The videos are YouTube videos owned by "
           "their uploaders under YouTube's terms of service; they are not redistributed here, "
           "only IMU simulated from them.")
CITATION = ("W. Kay, J. Carreira, K. Simonyan, et al. The Kinetics Human Action Video Dataset. "
            "arXiv:1705.06950, 2017. L. Smaira, J. Carreira, E. Noland, E. Clancy, A. Wu, "
            "A. Zisserman. A Short Note on the Kinetics-700-2020 Human Action Dataset. "
            "arXiv:2010.10864, 2020.")

_CLIP_NAME = re.compile(r"^(?P<yid>.+)_(?P<start>\d{6})_(?P<end>\d{6})$")
_REQUIRED = ("youtube_id", "time_start", "time_end")
_CLASSES = frozenset(KINETICS700_CLASSES)


@dataclass(frozen=True)
class Options:
    """missing: "report" (annotated clips without a video are skips with a reason) or "ignore"
    (only the videos present are inputs)."""

    missing: str = "report"

    def __post_init__(self) -> None:
        if self.missing not in ("report", "ignore"):
            raise ValueError(f"missing must be 'report' or 'ignore', got {self.missing!r}")


@dataclass(frozen=True)
class Annotation:
    """One CSV row: label (None in the test CSV), official split, is_cc (None when absent)."""

    label: str | None
    split: str
    is_cc: bool | None
    csv: str


Key = tuple[str, int, int]


def clip_key(stem: str) -> Key | None:
    """(youtube_id, time_start, time_end) of a clip file stem, or None when it does not match."""
    m = _CLIP_NAME.match(stem)
    return None if m is None else (m["yid"], int(m["start"]), int(m["end"]))


def clip_name(key: Key) -> str:
    return f"{key[0]}_{key[1]:06d}_{key[2]:06d}"


def _seconds(text: str) -> int:
    value = float(text)
    if value != int(value) or value < 0:
        raise ValueError(f"time {text!r} is not a whole number of seconds >= 0")
    return int(value)


def parse_csv(path: Path) -> tuple[dict[Key, Annotation], list[str]]:
    """Rows of one annotation CSV -> ({key: Annotation}, [problems]) ; ValueError when the header
    lacks youtube_id/time_start/time_end. Rows with bad cells are problems, not errors."""
    out: dict[Key, Annotation] = {}
    problems: list[str] = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f, skipinitialspace=True)
        fields = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in _REQUIRED if c not in fields]
        if missing:
            raise ValueError(f"{path.name}: not a Kinetics annotation CSV (no column {missing})")
        reader.fieldnames = fields
        for line, row in enumerate(reader, start=2):
            try:
                key = (row["youtube_id"].strip(), _seconds(row["time_start"]),
                       _seconds(row["time_end"]))
                split = kinetics_split(row.get("split") or "")
                label = (row.get("label") or "").strip() or None
                cc = row.get("is_cc")
                is_cc = None if cc in (None, "") else cc.strip().lower() in ("1", "true")
            except (ValueError, AttributeError, TypeError) as err:
                problems.append(f"{path.name}:{line}: {err}")
                continue
            out[key] = Annotation(label, split, is_cc, path.name)
    return out, problems


def annotation_csvs(input_dir: Path) -> list[Path]:
    """The CSVs under ``input_dir`` whose header names youtube_id, time_start and time_end."""
    found = []
    for p in sorted(Path(input_dir).rglob("*.csv"), key=lambda p: p.as_posix()):
        with open(p, newline="", encoding="utf-8-sig", errors="replace") as f:
            header = [c.strip() for c in next(csv.reader(f), [])]
        if all(c in header for c in _REQUIRED):
            found.append(p)
    return found


@functools.lru_cache(maxsize=4)
def _annotations_cached(root: str, stamp: tuple) -> dict[Key, Annotation]:
    table: dict[Key, Annotation] = {}
    for p, _, _ in stamp:
        rows, _ = parse_csv(Path(p))
        table.update(rows)
    return table


@functools.lru_cache(maxsize=4)
def _csvs_of(root: str) -> tuple[Path, ...]:
    return tuple(annotation_csvs(Path(root)))


def annotations(input_dir: Path) -> dict[Key, Annotation]:
    """Every annotation CSV of ``input_dir`` merged (found and parsed once per process; parsed
    again when a CSV changes)."""
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                  for p in _csvs_of(str(Path(input_dir).resolve())))
    return _annotations_cached(str(Path(input_dir).resolve()), stamp)


def _videos(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES]


def list_inputs(input_dir: Path, **options) -> list[Path]:
    """Every video under ``input_dir`` plus (``missing=report``) a placeholder path
    ``<input_dir>/<clip name>.mp4`` for each annotated clip without a video; sorted."""
    opts = parse_options(Options, NAME, options)
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"input folder {root} does not exist or is not a folder")
    videos = _videos(root)
    paths = set(videos)
    if opts.missing == "report":
        present = {clip_key(p.stem) for p in videos}
        paths |= {root / f"{clip_name(k)}.mp4" for k in annotations(root) if k not in present}
    return sorted(paths, key=lambda p: p.relative_to(root).as_posix())


def folder_label(path: Path, root: Path) -> str | None:
    """The class named by the clip's folder (``abseiling/`` or ``passing_American_football_(in_game)/``)."""
    if path.parent == root:
        return None
    name = path.parent.name
    for candidate in (name, name.replace("_", " ")):
        if candidate in _CLASSES:
            return candidate
    return None


def _folder_split(path: Path, root: Path) -> str | None:
    for part in path.relative_to(root).parts[:-1]:
        try:
            return kinetics_split(part)
        except ValueError:
            continue
    return None


def windows(path: Path, input_dir: Path, **options) -> Iterator[VideoWindow | Skip]:
    """The one window of a Kinetics clip (the whole, already trimmed file), or a Skip."""
    parse_options(Options, NAME, options)
    path, root = Path(path), Path(input_dir)
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    key = clip_key(path.stem)
    table = annotations(root)
    ann = table.get(key) if key else None
    if not path.exists():
        where = f" (annotated in {ann.csv})" if ann else ""
        yield Skip(rel, f"missing clip{where}: video not downloaded or taken down from YouTube")
        return
    label = (ann.label if ann else None) or folder_label(path, root)
    split = ann.split if ann else _folder_split(path, root)
    if key is None:
        yield Skip(rel, "file name is not <youtube_id>_<start:06d>_<end:06d>")
        return
    if ann is None and (label is None or split is None):
        yield Skip(rel, "clip not in the annotation CSVs (and no label/split folder)")
        return
    if label is None:
        yield Skip(rel, f"no label: {ann.csv} withholds it (the official test set)")
        return
    extra = {"video": rel, "youtube_id": key[0], "time_start": key[1], "time_end": key[2],
             "annotations": ann.csv if ann else None}
    if ann is not None and ann.is_cc is not None:
        extra["is_cc"] = ann.is_cc
    yield VideoWindow(id=clip_name(key), video=path, source_label=label, subject=key[0],
                      split=split, extra=extra)


read = make_read(NAME, windows)
