"""SmartFallMM smartwatch: ``accelerometer/watch`` + ``gyroscope/watch`` CSVs -> real-IMU clips.

Each trial ``SxxAyyTzz.csv`` is headerless: ``YYYY-MM-DD HH:MM:SS.fff, x, y, z`` with the
accelerometer in m/s^2 and the gyroscope in rad/s, delivered in bursts (~32 Hz accelerometer,
~50 Hz gyroscope). Rows that do not parse (a stray header line, cells such as ``0.0085.1``) are
dropped and counted. Both streams are re-timed (``imu_io.retime_bursts``) and resampled with
linear interpolation onto one ``rate_hz`` grid over their longest common span without a gap
over ``max_gap_s`` (the two files of a trial were cut separately, and some hold pauses of many
seconds). Default 50 Hz, not the 32 Hz the dataset states: measured accelerometer rates run
from ~33 Hz to ~100 Hz (median ~37 Hz) and the gyroscope's ~50 Hz, so 50 Hz keeps the gyroscope
and most accelerometer trials without decimation (and matches WEDA-FALL and UTD-MHAD).

Placement: the dataset does not say in text which wrist wore the watch; at the start of most
trials (arm hanging) x reads about -9.8 m/s^2, which with Android axes means x points to the
fingers: the left wrist. ``left_wrist`` is therefore a documented, data-consistent assumption.
Clip ids ``S29A03T02`` equal those of the skeleton twin.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .imu_io import (Stream, StreamError, StreamOptions, clean_stream, join_streams,
                     parse_datetimes_ns)
from ..labels import lookup
from ..records import Clip, Item, Skip
from . import parse_options
from ..splits import smartfallmm_split

NAME = "smartfallmm-imu"
LICENSE = ("See the SmartFallMM repository (txst-cs-smartfall/SmartFallMM-Dataset); research use "
           "with citation.")
CITATION = ("SmartFallMM: A Multimodal Dataset Collected with Commodity Devices. Texas State "
            "University SmartFall group (A. Ngu et al.), "
            "github.com/txst-cs-smartfall/SmartFallMM-Dataset.")

PLACEMENT = "left_wrist"
DEVICE = "smartwatch"
#: Arrivals closer than this belong to one burst (the accelerometer period is ~31 ms).
BURST_GAP_S = 0.010

_TRIAL = re.compile(r"S(\d+)A(\d+)T(\d+)")


Options = StreamOptions


def _root(input_dir: Path) -> Path:
    root = Path(input_dir)
    if not (root / "accelerometer" / "watch").is_dir() and (root / "young").is_dir():
        root = root / "young"
    return root


def list_inputs(input_dir: Path, **options) -> list[Path]:
    """Accelerometer CSVs ``<root>/accelerometer/watch/SxxAyyTzz.csv``, sorted by trial stem.

    ``input_dir`` is the folder holding ``accelerometer/`` and ``gyroscope/`` (or its parent
    holding ``young/``).
    """
    parse_options(Options, NAME, options)
    folder = _root(input_dir) / "accelerometer" / "watch"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} not found: pass the SmartFallMM folder that holds "
                                f"accelerometer/watch and gyroscope/watch")
    return sorted((p for p in folder.glob("*.csv") if p.is_file()), key=lambda p: p.stem)


def gyro_path(acc_path: Path) -> Path:
    """The gyroscope CSV of the same trial as ``acc_path``."""
    acc_path = Path(acc_path)
    return acc_path.parents[2] / "gyroscope" / acc_path.parent.name / acc_path.name


@dataclass
class RawStream:
    """One watch CSV as parsed: ns (N,) int64 since 1970 (valid where ``ok``), x (N, 3)."""

    ns: np.ndarray
    ok: np.ndarray
    x: np.ndarray
    skipped_lines: int

    def to_stream(self, ref_ns: int) -> Stream:
        """t in s since ``ref_ns``; rows with a bad time or value dropped and counted."""
        t = np.where(self.ok, (self.ns - ref_ns) / 1e9, np.nan)
        return clean_stream(t, self.x, corrupt=self.skipped_lines)


def read_raw(path: Path) -> RawStream:
    """Parse one headerless watch CSV (time, x, y, z); StreamError for a missing or empty file."""
    kind = path.parent.parent.name
    if not path.is_file():
        raise StreamError(f"{kind} file {path.name} is missing")
    text = path.read_bytes()
    lines = sum(1 for line in text.splitlines() if line.strip())
    if lines == 0:
        raise StreamError(f"{kind} file {path.name} is empty")
    # A bad byte spoils only its own cell (replaced, then fails to parse): its row is dropped.
    df = pd.read_csv(io.BytesIO(text), header=None, names=["time", "x", "y", "z"], dtype=str,
                     on_bad_lines="skip", skip_blank_lines=True, encoding_errors="replace")
    ns, ok = parse_datetimes_ns(df["time"])
    x = df[["x", "y", "z"]].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    # lines pandas skipped (too many fields) count as corrupt too
    return RawStream(ns, ok, x, lines - len(df))


def read_streams(acc_path: Path) -> tuple[Stream, Stream, int]:
    """Accelerometer and gyroscope streams of one trial, t in s since a shared reference
    (the earliest valid timestamp, floored to the second; returned in ns since 1970)."""
    raw = [read_raw(acc_path), read_raw(gyro_path(acc_path))]
    valid = [r.ns[r.ok] for r in raw if r.ok.any()]
    ref_ns = int(min(v.min() for v in valid)) // 10**9 * 10**9 if valid else 0
    return raw[0].to_stream(ref_ns), raw[1].to_stream(ref_ns), ref_ns


def read(path: Path, **options) -> Iterator[Item]:
    """One Clip (imu (N, 6) m/s^2 + rad/s at ``rate_hz``) per trial, or a Skip with its reason."""
    opts = parse_options(Options, NAME, options)
    path = Path(path)
    m = _TRIAL.fullmatch(path.stem)
    if m is None:
        yield Skip(str(path), "file name is not SxxAyyTzz.csv")
        return
    subject, activity, _trial = map(int, m.groups())
    label = f"A{activity:02d}"
    if lookup(NAME, label) is None:
        yield Skip(str(path), f"unmapped label {label!r}")
        return
    try:
        acc, gyro, ref_ns = read_streams(path)
        joined = join_streams(acc, gyro, opts.rate_hz, opts.max_gap_s, opts.min_duration_s,
                              burst_gap_s=BURST_GAP_S)
    except (StreamError, OSError, ValueError) as err:
        yield Skip(str(path), str(err))
        return
    start = pd.Timestamp(ref_ns + round(joined.start_s * 1e9), unit="ns")
    yield Clip(
        id=path.stem, source=NAME, subject=f"S{subject:02d}", source_label=label,
        split=smartfallmm_split(subject), imu=joined.imu, sample_rate_hz=opts.rate_hz,
        placement=PLACEMENT, device=DEVICE,
        extra={
            "start_time": start.isoformat(timespec="milliseconds"),
            "corrupt_rows": {"accelerometer": acc.corrupt, "gyroscope": gyro.corrupt},
            "max_interpolated_gap_s": joined.max_gap_s,
            "source_rate_hz": joined.source_rate_hz,
            "recorded_overlap_s": joined.overlap_s,
            "resampling": "bursts re-timed, linear interpolation onto a uniform grid",
            "placement_note": "left wrist assumed (x ~ -g with the arm hanging)",
        },
    )
