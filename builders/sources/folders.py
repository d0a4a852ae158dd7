"""Folders of the user's own motion files, sources ``bvh`` and ``npz``, labelled by ``labels.csv``.

Layout: ``DIR/labels.csv`` plus motion files anywhere below DIR (``*.bvh`` read with
``simulator.bvh.read_bvh``; ``*.npz`` skeleton files read with
``simulator.readers.read_motion_npz``). ``labels.csv`` has a header and the columns
``file,label[,subject]``; ``file`` is the path relative to DIR (``/`` separated) or the bare file
name. A file without a row is skipped ("no label").

- Label rule (``folder_label``): the table is the user's own reviewed one. A label that names a
  hazard of ``labels.HAZARD_NAMES`` (compared lower-case, with spaces and hyphens read as ``_``)
  is that hazard, with activity = the label; any other label is a safe activity of that name.
  ``labels.lookup`` has no table for these sources, so the clip carries it in ``Clip.label``.
- Subject: the ``subject`` cell when present and non-empty, else the name of the file's folder.
- Split (``folder_split``): deterministic in the subject alone, so a subject never spans splits.
- Clip id: the path relative to DIR without its suffix (``s01/walk_01``), unique in the folder.

``read`` finds DIR as the nearest folder above the file that holds ``labels.csv``; keep a single
``labels.csv`` (``list_inputs`` refuses nested ones).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ...simulator.motion import Motion, MotionError
from ..labels import HAZARD_NAMES, Label
from ..records import Clip, Item, Skip
from . import motion_problem, parse_options, sorted_files

LABELS_FILE = "labels.csv"
_LICENSE = "User-supplied motion files: the licence of the files themselves applies."
_CITATION = "Cite the origin of the user-supplied motion files."


class LabelRow(NamedTuple):
    label: str
    subject: str | None


def folder_label(label: str) -> Label:
    """The reviewed meaning of a user label (rule in the module docstring).

    >>> folder_label("Falling"), folder_label("walking")
    (Label(activity='Falling', hazard='falling'), Label(activity='walking', hazard='none'))
    """
    label = label.strip()
    key = label.lower().replace(" ", "_").replace("-", "_")
    return Label(label, key if key in HAZARD_NAMES else "none")


def folder_split(subject: str) -> str:
    """Split of a subject: the first 8 bytes of sha256(subject, UTF-8) as an integer, mod 10:
    0 -> "test", 1 -> "validation", 2-9 -> "train" (about 80/10/10 over many subjects)."""
    r = int.from_bytes(hashlib.sha256(subject.encode("utf-8")).digest()[:8], "big") % 10
    return "test" if r == 0 else ("validation" if r == 1 else "train")


def read_labels(csv_path: Path) -> dict[str, LabelRow]:
    """``labels.csv`` as {file: LabelRow}; ValueError for missing columns or repeated files."""
    stat = Path(csv_path).stat()
    return dict(_read_labels(str(csv_path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _read_labels(path: str, _mtime_ns: int, _size: int) -> tuple[tuple[str, LabelRow], ...]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in reader.fieldnames or []]
        if "file" not in columns or "label" not in columns:
            raise ValueError(f"{path}: needs a header with columns file,label[,subject]; "
                             f"found {columns}")
        rows: dict[str, LabelRow] = {}
        for line, raw in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
            key = _normalise(row["file"])
            if not key:
                continue
            if key in rows:
                raise ValueError(f"{path}: line {line} repeats file {key!r}")
            rows[key] = LabelRow(row["label"], row.get("subject") or None)
    return tuple(rows.items())


def _normalise(file_cell: str) -> str:
    return file_cell.replace("\\", "/").removeprefix("./")


def find_labels(path: Path) -> Path | None:
    """The nearest ``labels.csv`` in the folders above ``path``, or None."""
    for folder in Path(path).resolve().parents:
        if (folder / LABELS_FILE).is_file():
            return folder / LABELS_FILE
    return None


@dataclass(frozen=True)
class BvhOptions:
    """unit, up_axis: passed to ``simulator.bvh.read_bvh`` ("auto" guesses)."""

    unit: str = "auto"
    up_axis: str = "auto"

    def __post_init__(self) -> None:
        from ...simulator.bvh import METRES_PER_UNIT

        if self.unit != "auto" and self.unit not in METRES_PER_UNIT:
            raise ValueError(f"unit must be 'auto' or one of {sorted(METRES_PER_UNIT)}, "
                             f"got {self.unit!r}")
        if self.up_axis not in ("auto", "y", "z"):
            raise ValueError(f"up_axis must be 'auto', 'y' or 'z', got {self.up_axis!r}")


@dataclass(frozen=True)
class NpzOptions:
    """The npz folder source has no options."""


@dataclass(frozen=True)
class FolderSource:
    """A folder source; satisfies ``sources.Source`` like the reader modules do.

    reader: "module:function" (relative to this package) taking (path, **options) -> Motion.
    """

    NAME: str
    suffix: str
    reader: str
    Options: type
    LICENSE: str = _LICENSE
    CITATION: str = _CITATION
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def list_inputs(self, input_dir: Path, **options: Any) -> list[Path]:
        """Every ``*<suffix>`` file under ``input_dir``, sorted; needs ``input_dir/labels.csv``."""
        parse_options(self.Options, self.NAME, options)
        root = Path(input_dir)
        files = sorted_files(root, "*")
        if not (root / LABELS_FILE).is_file():
            raise FileNotFoundError(
                f"source {self.NAME!r} needs {root / LABELS_FILE} with a header "
                "file,label[,subject] (one row per motion file)"
            )
        nested = [p for p in files if p.name == LABELS_FILE and p.parent != root]
        if nested:
            raise ValueError(f"nested {LABELS_FILE} files {[str(p) for p in nested]}: keep one "
                             f"{LABELS_FILE} in {root}")
        read_labels(root / LABELS_FILE)  # a malformed table is a clear error now, not N skips
        return [p for p in files if p.suffix.lower() == self.suffix]

    def read(self, path: Path, **options: Any) -> Iterator[Item]:
        """The clip of one motion file, or a Skip saying why not."""
        opts = parse_options(self.Options, self.NAME, options)
        path = Path(path)
        labels_csv = find_labels(path)
        if labels_csv is None:
            yield Skip(str(path), f"no label: no {LABELS_FILE} in the folders above the file")
            return
        try:
            table = read_labels(labels_csv)
        except (OSError, ValueError) as err:
            yield Skip(str(path), f"no label: {err}")
            return
        rel = path.resolve().relative_to(labels_csv.parent).as_posix()
        row = table.get(rel) or table.get(path.name)
        if row is None or not row.label.strip():
            yield Skip(str(path), f"no label: {rel!r} has no row in {labels_csv}")
            return
        try:
            motion = self._reader()(path, **vars(opts))
        except (MotionError, ValueError, OSError) as err:
            yield Skip(str(path), f"unreadable motion: {err}")
            return
        if not isinstance(motion, Motion):
            yield Skip(str(path), f"holds a {type(motion).__name__}, not a skeleton motion")
            return
        problem = motion_problem(motion)
        if problem is not None:
            yield Skip(str(path), problem)
            return
        label = folder_label(row.label)  # labels.lookup has no table for the user's folders
        subject = row.subject or path.resolve().parent.name
        yield Clip(
            id=rel.rsplit(".", 1)[0], source=self.NAME, subject=subject,
            source_label=label.activity, split=folder_split(subject), motion=motion,
            extra={"file": rel, "subject_from": "labels.csv" if row.subject else "folder"},
            label=label,
        )

    def _reader(self) -> Callable[..., Any]:
        if "fn" not in self._cache:
            module, _, name = self.reader.partition(":")
            self._cache["fn"] = getattr(importlib.import_module(module, __package__), name)
        return self._cache["fn"]


BVH = FolderSource("bvh", ".bvh", "...simulator.bvh:read_bvh", BvhOptions)
NPZ = FolderSource("npz", ".npz", "...simulator.readers:read_motion_npz", NpzOptions)
