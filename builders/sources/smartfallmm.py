"""SmartFallMM skeleton CSVs ``SxxAyyTzz.csv`` (Azure Kinect, 32 joints, mm, 30 fps) -> clips.

Each file is headerless: one row per frame, 96 columns = 32 joints (``JOINT_SETS["azure_kinect"]``
order) x (x, y, z) in millimetres, Azure Kinect depth-camera frame (x right, y down, z forward);
the world frame is (z, -x, -y), in metres. A cell that is empty or not a number makes its joint
invalid (NaN); so does a depth <= 0; a row without 96 cells is an invalid frame. An empty file, or
one where no wrist is valid, is skipped. The clip id is the file stem (``S29A03T02``), shared with
the real-IMU twin.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ...simulator.joints import JOINT_SETS
from ...simulator.cutoff import CUTOFF_BY_KIND
from ...simulator.motion import Motion, finite_points
from ..labels import lookup
from ..records import Clip, Item, Skip
from . import AZURE_TO_WORLD, camera_to_world, motion_problem, parse_options, sorted_files
from ..splits import smartfallmm_split

NAME = "smartfallmm"
#: Recommended motion low-pass, Hz, for this source's tracker. Azure Kinect skeleton jitter: chosen by analogy with the Kinect v1 measurement of
#: benchmarks/fidelity_utd.py (SmartFallMM's watch and skeleton trials were cut apart).
CUTOFF_HZ = CUTOFF_BY_KIND["azure_kinect"]
LICENSE = "SmartFallMM (Texas State University SmartFall group): research use; cite the dataset."
CITATION = (
    "SmartFallMM: A Multimodal Dataset Collected with Commodity Devices. Texas State University "
    "SmartFall group (A. Ngu et al.), https://github.com/txst-cs-smartfall/SmartFallMM-Dataset."
)

FPS = 30.0
JOINT_NAMES = JOINT_SETS["azure_kinect"]
NUM_COLUMNS = 3 * len(JOINT_NAMES)
FILE_RE = re.compile(r"S(\d+)A(\d+)T(\d+)")
_READ = pacsv.ReadOptions(column_names=[f"c{k}" for k in range(NUM_COLUMNS)], use_threads=False)
_PARSE = pacsv.ParseOptions(delimiter=",", quote_char=False)
_CONVERT = pacsv.ConvertOptions(
    column_types={f"c{k}": pa.float64() for k in range(NUM_COLUMNS)}, strings_can_be_null=True
)


@dataclass(frozen=True)
class Options:
    """SmartFallMM has no options (the dataclass keeps the interface uniform)."""


def list_inputs(input_dir: Path, **options) -> list[Path]:
    """The skeleton CSVs under ``input_dir``, sorted by relative path.

    When some CSVs lie in a folder named ``skeleton`` (the dataset's layout, so ``input_dir`` may
    be the dataset root holding accelerometer CSVs of the same names too) only those are listed;
    otherwise every CSV is.
    """
    parse_options(Options, NAME, options)
    files = sorted_files(input_dir, "*.csv")
    in_skeleton = [p for p in files if p.parent.name.lower() == "skeleton"]
    return in_skeleton or files


def read(path: Path, **options) -> Iterator[Item]:
    """The clip of one skeleton CSV, or a Skip saying why not."""
    parse_options(Options, NAME, options)
    path = Path(path)
    match = FILE_RE.fullmatch(path.stem)
    if match is None:
        yield Skip(str(path), f"file name {path.name!r} does not match SxxAyyTzz.csv")
        return
    subject, activity, trial = (int(g) for g in match.groups())
    label = f"A{activity:02d}"
    if lookup(NAME, label) is None:
        yield Skip(str(path), f"unmapped label {label!r}")
        return
    try:
        text = path.read_bytes().decode("latin-1")
    except OSError as err:
        yield Skip(str(path), f"cannot read file: {err}")
        return
    mm = parse_csv(text)
    if mm.shape[0] == 0:
        yield Skip(str(path), "empty file")
        return
    if not np.isfinite(mm).any():
        yield Skip(str(path), f"no numeric skeleton row ({NUM_COLUMNS} columns expected)")
        return
    xyz = mm.reshape(-1, len(JOINT_NAMES), 3) / 1000.0
    valid = finite_points(xyz) & (xyz[..., 2] > 0)
    xyz[~valid] = np.nan
    motion = Motion(camera_to_world(xyz, AZURE_TO_WORLD), JOINT_NAMES,
                    np.arange(xyz.shape[0], dtype=np.float64) / FPS, valid)
    problem = motion_problem(motion)
    if problem is not None:
        yield Skip(str(path), problem)
        return
    yield Clip(
        id=path.stem, source=NAME, subject=f"S{subject:02d}", source_label=label,
        split=smartfallmm_split(subject), motion=motion,
        extra={"activity": activity, "trial": trial, "fps": FPS,
               "invalid_joint_fraction": round(float(1.0 - valid.mean()), 4)},
    )


def parse_csv(text: str) -> np.ndarray:
    """(T, 96) float64 of a headerless CSV; bad cells -> NaN, rows without 96 cells -> all NaN.

    Blank lines are dropped. The whole table is converted at once; only when that fails are rows
    converted one by one, and cells one by one inside a failing row.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return np.zeros((0, NUM_COLUMNS))
    try:  # fast path: a well-formed table parsed in C (empty cells become NaN)
        table = pacsv.read_csv(io.BytesIO("\n".join(lines).encode("latin-1")), _READ, _PARSE,
                               _CONVERT)
        if table.num_columns == NUM_COLUMNS and table.num_rows == len(lines):
            return np.column_stack([col.to_numpy() for col in table.columns]).astype(np.float64)
    except (pa.ArrowException, ValueError):
        pass
    rows = [line.split(",") for line in lines]
    table = np.full((len(rows), NUM_COLUMNS), np.nan)
    for i, cells in enumerate(rows):
        if len(cells) == NUM_COLUMNS:
            table[i] = _floats(cells)
    return table


def _floats(cells: list[str]) -> np.ndarray:
    try:
        return np.array(cells, dtype=np.float64)
    except ValueError:
        return np.array([_float(c) for c in cells])


def _float(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return np.nan
