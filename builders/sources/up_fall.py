"""UP-Fall ``CompleteDataSet.csv`` -> real wrist-IMU clips, one per (Subject, Activity, Trial).

The CSV has a two-row header: row 1 names each sensor group at its first column
(``TimeStamps, AnkleAccelerometer, , , AnkleAngularVelocity, ..., WristAccelerometer, , ,
WristAngularVelocity, , , ..., Subject, Activity, Trial, Tag``), row 2 the axes and units
(``Time, x-axis (g), y-axis (g), z-axis (g), x-axis (deg/s), ...``). Columns are found by those
names (in the public release the wrist accelerometer is columns 29-31 and the wrist angular
velocity 32-34), and the units in row 2 are checked: g -> m/s^2, deg/s -> rad/s. Timestamps are
ISO 8601 date-times (``2018-07-04T12:04:17.738369``). The file is read in chunks; rows are
grouped by trial, sorted by time, and resampled with linear interpolation onto one ``rate_hz``
grid (default 18 Hz, about the rate of the table's rows); rows with a bad cell are dropped and
counted.

Placement: UP-Fall's wrist sensor (an Mbientlab MetaSensor) was worn on the left wrist. Its axes
are kept as recorded (not re-mapped to Android axes). Clip ids are ``S01A01T01``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .imu_io import (StreamError, StreamOptions, clean_stream, deg_to_rad, g_to_ms2, join_streams,
                     parse_datetimes_ns)
from ..labels import lookup
from ..records import Clip, Item, Skip
from . import parse_options
from ..splits import up_fall_split

NAME = "up-fall"
LICENSE = ("UP-Fall Detection Dataset terms (sites.google.com/up.edu.mx/har-up): research use "
           "with citation.")
CITATION = ("L. Martinez-Villasenor, H. Ponce, J. Brieva, E. Moya-Albor, J. Nunez-Martinez, "
            "C. Penafort-Asturiano. UP-Fall Detection Dataset: A Multimodal Approach. Sensors "
            "19(9):1988, 2019.")

PLACEMENT = "left_wrist"
DEVICE = "mbientlab_metasensor"
ACC_GROUP, GYRO_GROUP = "WristAccelerometer", "WristAngularVelocity"
KEY_COLUMNS = ("Subject", "Activity", "Trial")


@dataclass(frozen=True)
class Options(StreamOptions):
    """StreamOptions at UP-Fall's ~18 Hz; chunk_rows: CSV rows read at a time."""

    rate_hz: float = 18.0
    chunk_rows: int = 100_000


@dataclass(frozen=True)
class Layout:
    """Column indices of the needed fields in the CSV."""

    time: int
    acc: tuple[int, int, int]
    gyro: tuple[int, int, int]
    keys: tuple[int, int, int]

    @property
    def columns(self) -> list[int]:
        return [self.time, *self.acc, *self.gyro, *self.keys]


def _header(path: Path) -> tuple[list[str], list[str]]:
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        rows = csv.reader(f)
        names = [c.strip() for c in next(rows, [])]
        units = [c.strip() for c in next(rows, [])]
    return names, units


def layout(path: Path) -> Layout:
    """Find the columns from the two header rows; ValueError saying what is missing or wrong."""
    names, units = _header(path)
    units += [""] * (len(names) - len(units))
    index = {n.lower(): i for i, n in enumerate(names) if n}
    missing = [n for n in (ACC_GROUP, GYRO_GROUP, *KEY_COLUMNS) if n.lower() not in index]
    if missing:
        raise ValueError(f"not an UP-Fall CompleteDataSet header: no column(s) {missing}")
    a, g = index[ACC_GROUP.lower()], index[GYRO_GROUP.lower()]
    if len(names) < g + 3:
        raise ValueError(f"header ends before the three {GYRO_GROUP} columns")
    for first, unit in ((a, "(g)"), (g, "(deg/s)")):
        got = units[first:first + 3]
        if not all(unit in u for u in got):
            raise ValueError(f"expected units {unit} under {names[first]}, got {got}")
    time = index.get("timestamps", 0)
    return Layout(time, (a, a + 1, a + 2), (g, g + 1, g + 2),
                  tuple(index[k.lower()] for k in KEY_COLUMNS))


def list_inputs(input_dir: Path, **options) -> list[Path]:
    """The CSVs in ``input_dir`` (recursive) whose header names the wrist sensors, sorted."""
    parse_options(Options, NAME, options)
    root = Path(input_dir)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"input folder {root} does not exist or is not a folder")
    found = []
    for p in sorted(root.rglob("*.csv"), key=lambda p: p.relative_to(root).as_posix()):
        names, _ = _header(p)
        if ACC_GROUP in names and GYRO_GROUP in names:
            found.append(p)
    return found


_NAT = np.iinfo(np.int64).min


def _nanoseconds(stamps: pd.Series) -> np.ndarray:
    """ISO date-time strings -> int64 ns since 1970 (``_NAT`` where a stamp does not parse, has a
    time zone, or is out of range: ``imu_io.parse_datetimes_ns``)."""
    ns, ok = parse_datetimes_ns(stamps)
    return np.where(ok, ns, _NAT)


def _trials(path: Path, lay: Layout, chunk_rows: int) -> tuple[dict, int]:
    """Rows grouped by (subject, activity, trial): key -> (ns (N,) int64, (N, 6) acc and gyro
    values as in the file), in file order; and the number of rows without a valid key."""
    parts: dict[tuple[int, int, int], list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    bad_keys = 0
    try:
        reader = pd.read_csv(path, header=None, skiprows=2, usecols=lay.columns, dtype=str,
                             chunksize=chunk_rows, on_bad_lines="skip", encoding_errors="replace")
        for chunk in reader:
            keys = chunk[list(lay.keys)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
            ok = np.isfinite(keys).all(axis=1) & (keys == np.round(keys)).all(axis=1)
            bad_keys += int((~ok).sum())
            if not ok.any():
                continue
            ns = _nanoseconds(chunk[lay.time])[ok]
            values = chunk[[*lay.acc, *lay.gyro]].apply(pd.to_numeric, errors="coerce")
            values = values.to_numpy(np.float64)[ok]
            uniq, inverse, counts = np.unique(keys[ok].astype(np.int64), axis=0,
                                              return_inverse=True, return_counts=True)
            order = np.argsort(inverse.ravel(), kind="stable")
            cuts = np.cumsum(counts)[:-1]
            for key, n, v in zip(map(tuple, uniq.tolist()), np.split(ns[order], cuts),
                                 np.split(values[order], cuts)):
                parts[key].append((n, v))
    except pd.errors.EmptyDataError:  # header only
        return {}, 0
    return {k: (np.concatenate([n for n, _ in v]), np.concatenate([x for _, x in v]))
            for k, v in parts.items()}, bad_keys


def read(path: Path, **options) -> Iterator[Item]:
    """One Clip per (Subject, Activity, Trial), in that order, or a Skip with its reason."""
    opts = parse_options(Options, NAME, options)
    path = Path(path)
    try:
        lay = layout(path)
        trials, bad_keys = _trials(path, lay, opts.chunk_rows)
    except (OSError, ValueError, StopIteration) as err:
        yield Skip(str(path), str(err))
        return
    if bad_keys:
        yield Skip(str(path), f"{bad_keys} row(s) without a valid Subject/Activity/Trial")
    if not trials:
        yield Skip(str(path), "no data rows")
        return
    for (subject, activity, trial), (ns, values) in sorted(trials.items()):
        clip_id = f"S{subject:02d}A{activity:02d}T{trial:02d}"
        where = f"{path}:{clip_id}"
        label = str(activity)
        if lookup(NAME, label) is None:
            yield Skip(where, f"unmapped label {label!r}")
            continue
        parsed = ns != _NAT
        # seconds since the trial's first whole second: exact enough and independent of chunking
        ref_ns = int(ns[parsed].min()) // 10**9 * 10**9 if parsed.any() else 0
        t = np.where(parsed, (ns - ref_ns) / 1e9, np.nan)
        acc = clean_stream(t, g_to_ms2(values[:, :3]))
        gyro = clean_stream(t, deg_to_rad(values[:, 3:]))
        try:
            joined = join_streams(acc, gyro, opts.rate_hz, opts.max_gap_s, opts.min_duration_s)
        except StreamError as err:
            yield Skip(where, str(err))
            continue
        start = pd.Timestamp(ref_ns + round(joined.start_s * 1e9), unit="ns")
        yield Clip(
            id=clip_id, source=NAME, subject=f"S{subject:02d}", source_label=label,
            split=up_fall_split(subject), imu=joined.imu, sample_rate_hz=opts.rate_hz,
            placement=PLACEMENT, device=DEVICE,
            extra={
                "file": path.name, "trial": trial,
                "start_time": start.isoformat(timespec="microseconds"),
                "corrupt_rows": {"accelerometer": acc.corrupt, "gyroscope": gyro.corrupt},
                "max_interpolated_gap_s": joined.max_gap_s,
                "source_rate_hz": joined.source_rate_hz,
                "resampling": "linear interpolation onto a uniform grid",
            },
        )
