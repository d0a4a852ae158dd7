"""WEDA-FALL (Fitbit Sense): ``50Hz/<code>/Uxx_Ryy_{accel,gyro}.csv`` -> real-IMU clips.

Each CSV has a header (``accel_time_list,accel_x_list,accel_y_list,accel_z_list``; ``gyro_...``
likewise): time in s from the trial start, then x y z. Units, checked on the data: the
accelerometer reads |a| ~ 9.8 at rest (m/s^2); the gyroscope reads ~0 at rest and peaks of
5-30 during falls (rad/s; in deg/s those would be implausibly slow). Values are rounded to 0.1.
Rows arrive in bursts of ~5 samples every ~100 ms (some users ~4: 40 Hz), and a few logs wrote
bursts out of order: rows are sorted, bursts re-timed (``imu_io.retime_bursts``) and both
streams resampled with linear interpolation onto one ``rate_hz`` (50 Hz) grid.

``fall_timestamps.csv`` (UTF-8 with BOM; ``filename,start_time,end_time`` with filename like
``F01/U01_R01``) gives the manually marked fall start/end in s on the file clock; ``extra`` keeps
them relative to the clip's first sample. The orientation and vertical_accel files are not read.

Placement: the README names the wrist, not which one; walking trials read x ~ -9 m/s^2 (with
the Fitbit's Android-style axes, x toward the fingers with the arm hanging): the left wrist, a
documented, data-consistent assumption.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .imu_io import Stream, StreamError, StreamOptions, clean_stream, join_streams
from ..labels import lookup
from ..records import Clip, Item, Skip
from . import parse_options
from ..splits import weda_fall_split

NAME = "weda-fall"
LICENSE = "See the WEDA-FALL repository (github.com/joaojtmarques/WEDA-FALL) and its README."
CITATION = ("J. Marques et al. WEDA-FALL: Wrist Elderly Daily Activity and Fall Dataset, "
            "github.com/joaojtmarques/WEDA-FALL.")

PLACEMENT = "left_wrist"
DEVICE = "fitbit_sense"
#: Rows closer than this belong to one burst (bursts come every ~100 ms, samples every 20 ms).
BURST_GAP_S = 0.020
FALL_TIMESTAMPS = "fall_timestamps.csv"

_FILE = re.compile(r"U(\d+)_R(\d+)_accel\.csv")


Options = StreamOptions


def _rate_dir(input_dir: Path) -> Path:
    root = Path(input_dir)
    for cand in (root / "50Hz", root / "dataset" / "50Hz", root):
        if cand.is_dir() and any(cand.glob("[FD][0-9][0-9]")):
            return cand
    raise FileNotFoundError(f"no 50Hz/<F01..D11> folders under {root}: pass the WEDA-FALL "
                            f"dataset folder (the one holding 50Hz/ and fall_timestamps.csv)")


def list_inputs(input_dir: Path, **options) -> list[Path]:
    """Accelerometer files ``50Hz/<code>/Uxx_Ryy_accel.csv``, sorted by code/name."""
    parse_options(Options, NAME, options)
    folder = _rate_dir(input_dir)
    files = [p for p in folder.glob("[FD][0-9][0-9]/U*_accel.csv") if _FILE.fullmatch(p.name)]
    return sorted(files, key=lambda p: (p.parent.name, p.name))


#: Fall marks (s on the file clock) beyond this are not times of a trial (a trial lasts < 1 min).
MAX_FALL_MARK_S = 3600.0


@functools.lru_cache(maxsize=8)
def _fall_table(path: Path, mtime_ns: int) -> tuple[dict[str, tuple[float, float]], int]:
    # A bad byte spoils only its own row: decoded as U+FFFD, the row no longer matches a trial.
    df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, encoding_errors="replace",
                     on_bad_lines="skip", keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    start = pd.to_numeric(df["start_time"], errors="coerce").to_numpy(np.float64)
    end = pd.to_numeric(df["end_time"], errors="coerce").to_numpy(np.float64)
    names = df["filename"].astype(str).str.strip()
    good = (np.isfinite(start) & np.isfinite(end) & (start <= end) & (np.abs(start) <= MAX_FALL_MARK_S)
            & (np.abs(end) <= MAX_FALL_MARK_S) & ~names.str.contains("\ufffd", regex=False).to_numpy())
    table = {n: (float(s), float(e)) for n, s, e, g in zip(names, start, end, good) if g}
    return table, int((~good).sum())


def fall_times(dataset_dir: Path) -> dict[str, tuple[float, float]]:
    """``"F01/U01_R01" -> (start_s, end_s)`` from ``fall_timestamps.csv``; {} when it is absent.

    Rows with a bad byte, a non-numeric or implausible time (beyond ``MAX_FALL_MARK_S``, or end
    before start) are dropped (``fall_times_dropped_rows`` counts them).
    """
    path = Path(dataset_dir) / FALL_TIMESTAMPS
    if not path.is_file():
        return {}
    return _fall_table(path, path.stat().st_mtime_ns)[0]


def fall_times_dropped_rows(dataset_dir: Path) -> int:
    """Rows of ``fall_timestamps.csv`` that ``fall_times`` dropped (0 when the file is absent)."""
    path = Path(dataset_dir) / FALL_TIMESTAMPS
    return _fall_table(path, path.stat().st_mtime_ns)[1] if path.is_file() else 0


def read_stream(path: Path, kind: str) -> Stream:
    """Parse one ``*_{accel,gyro}.csv``: t (N,) s on the file clock, x (N, 3) as stored."""
    if not path.is_file():
        raise StreamError(f"{kind} file {path.name} is missing")
    try:
        df = pd.read_csv(path, dtype=str, encoding="utf-8-sig", encoding_errors="replace",
                         on_bad_lines="skip")
    except pd.errors.EmptyDataError:
        raise StreamError(f"{kind} file {path.name} is empty") from None
    cols = [f"{kind}_{c}_list" for c in ("time", "x", "y", "z")]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise StreamError(f"{kind} file {path.name} lacks column(s) {missing}")
    v = df[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    return clean_stream(v[:, 0], v[:, 1:])


def read(path: Path, **options) -> Iterator[Item]:
    """One Clip (imu (N, 6) m/s^2 + rad/s at ``rate_hz``) per trial, or a Skip with its reason."""
    opts = parse_options(Options, NAME, options)
    path = Path(path)
    m = _FILE.fullmatch(path.name)
    code = path.parent.name
    if m is None:
        yield Skip(str(path), "file name is not Uxx_Ryy_accel.csv")
        return
    if lookup(NAME, code) is None:
        yield Skip(str(path), f"unmapped label {code!r}")
        return
    user, trial = m.group(1), m.group(2)
    stem = f"U{user}_R{trial}"
    try:
        acc = read_stream(path, "accel")
        gyro = read_stream(path.with_name(f"{stem}_gyro.csv"), "gyro")
        joined = join_streams(acc, gyro, opts.rate_hz, opts.max_gap_s, opts.min_duration_s,
                              burst_gap_s=BURST_GAP_S)
    except (StreamError, OSError, ValueError) as err:
        yield Skip(str(path), str(err))
        return
    extra = {
        "file": f"{code}/{stem}",
        "start_s": round(joined.start_s, 6),
        "corrupt_rows": {"accelerometer": acc.corrupt, "gyroscope": gyro.corrupt},
        "max_interpolated_gap_s": joined.max_gap_s,
        "source_rate_hz": joined.source_rate_hz,
        "resampling": "bursts re-timed, linear interpolation onto a uniform grid",
        "placement_note": "left wrist assumed (x ~ -g while walking)",
    }
    if code.startswith("F"):
        try:
            marks = fall_times(path.parents[2]).get(f"{code}/{stem}")
        except (OSError, ValueError, KeyError) as err:
            yield Skip(str(path), f"unreadable {FALL_TIMESTAMPS}: {err}")
            return
        # seconds from imu[0]; None when the trial has no (plausible) annotation
        extra["fall_start_s"] = None if marks is None else round(marks[0] - joined.start_s, 6)
        extra["fall_end_s"] = None if marks is None else round(marks[1] - joined.start_s, 6)
        dropped = fall_times_dropped_rows(path.parents[2])
        if dropped:
            extra["fall_timestamps_dropped_rows"] = dropped
    yield Clip(
        id=f"{code}_{stem}", source=NAME, subject=f"U{user}", source_label=code,
        split=weda_fall_split(int(user)), imu=joined.imu, sample_rate_hz=opts.rate_hz,
        placement=PLACEMENT, device=DEVICE, extra=extra,
    )
