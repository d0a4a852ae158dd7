"""UTD-MHAD wearable inertial sensor: ``aA_sS_tT_inertial.mat`` -> real-IMU clips.

Each MATLAB v5 file holds ``d_iner`` (N, 6): accelerometer x y z in g, gyroscope x y z in deg/s,
50 Hz, in the sensor's own frame (kept as recorded). The sensor (an InvenSense MPU-9150 board)
was worn on the right wrist for actions 1-21 and on the right thigh for 22-27; thigh clips are
skipped unless ``include_thigh``. Clip ids ``a5_s1_t1`` equal those of the skeleton twin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from .imu_io import StreamError, deg_to_rad, fill_short_gaps, g_to_ms2
from ..labels import lookup
from ..records import Clip, Item, Skip
from . import parse_options
from ..splits import utd_mhad_split

NAME = "utd-mhad-imu"
LICENSE = "UTD-MHAD terms: free for research use with citation of the paper below."
CITATION = ("C. Chen, R. Jafari, N. Kehtarnavaz. UTD-MHAD: A Multimodal Dataset for Human Action "
            "Recognition Utilizing a Depth Camera and a Wearable Inertial Sensor. ICIP 2015.")

RATE_HZ = 50.0
DEVICE = "invensense_mpu9150"
#: Actions recorded with the sensor on the right thigh instead of the right wrist.
THIGH_ACTIONS = range(22, 28)
#: Longest run of non-finite samples repaired by interpolation (0.1 s).
MAX_REPAIR_SAMPLES = 5

# what scipy.io.loadmat raises for truncated or foreign files
_MAT_ERRORS = (OSError, ValueError, TypeError, EOFError, NotImplementedError,
               scipy.io.matlab.MatReadError)

_FILE = re.compile(r"a(\d+)_s(\d+)_t(\d+)_inertial\.mat")


@dataclass(frozen=True)
class Options:
    """include_thigh: also read actions 22-27, whose sensor sat on the right thigh."""

    include_thigh: bool = False


def list_inputs(input_dir: Path, **options) -> list[Path]:
    """The ``*_inertial.mat`` files in ``input_dir`` (or its ``Inertial`` folder), by (a, s, t)."""
    parse_options(Options, NAME, options)
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"input folder {root} does not exist or is not a folder")
    files = list(root.glob("*_inertial.mat")) or list((root / "Inertial").glob("*_inertial.mat"))

    def key(p: Path) -> tuple:
        m = _FILE.fullmatch(p.name)
        return (0, *map(int, m.groups()), p.name) if m else (1, 0, 0, 0, p.name)

    return sorted(files, key=key)


def read(path: Path, **options) -> Iterator[Item]:
    """One Clip (imu (N, 6) m/s^2 + rad/s at 50 Hz) or one Skip with its reason."""
    opts = parse_options(Options, NAME, options)
    path = Path(path)
    m = _FILE.fullmatch(path.name)
    if m is None:
        yield Skip(str(path), "file name is not aA_sS_tT_inertial.mat")
        return
    action, subject, trial = map(int, m.groups())
    clip_id = path.name.removesuffix("_inertial.mat")  # the skeleton twin's id
    label = f"a{action}"
    if lookup(NAME, label) is None:
        yield Skip(str(path), f"unmapped label {label!r}")
        return
    on_thigh = action in THIGH_ACTIONS
    if on_thigh and not opts.include_thigh:
        yield Skip(str(path), f"sensor on the thigh for action {action}")
        return
    try:
        data = scipy.io.loadmat(path, variable_names=["d_iner"])
    except _MAT_ERRORS as err:
        yield Skip(str(path), f"unreadable MAT file: {type(err).__name__}: {err}")
        return
    raw = data.get("d_iner")
    if raw is None:
        yield Skip(str(path), "no d_iner variable in the MAT file")
        return
    raw = np.asarray(raw)
    if raw.ndim != 2 or raw.shape[1] != 6 or raw.shape[0] < 2 or raw.dtype.kind not in "fiu":
        yield Skip(str(path), f"d_iner must be numeric (N >= 2, 6), got {raw.dtype} {raw.shape}")
        return
    try:
        raw, repaired = fill_short_gaps(raw, MAX_REPAIR_SAMPLES)
    except StreamError as err:
        yield Skip(str(path), str(err))
        return
    imu = np.concatenate([g_to_ms2(raw[:, :3]), deg_to_rad(raw[:, 3:])], axis=1)
    extra = {"file": path.name, "action": action, "trial": trial,
             "units_in_file": "acc g, gyro deg/s"}
    if repaired:
        extra["interpolated_samples"] = repaired
    yield Clip(
        id=clip_id, source=NAME, subject=f"s{subject}", source_label=label,
        split=utd_mhad_split(subject), imu=imu, sample_rate_hz=RATE_HZ,
        placement="right_thigh" if on_thigh else "right_wrist", device=DEVICE, extra=extra,
    )
