"""UTD-MHAD skeletons ``aA_sS_tT_skeleton.mat`` (Kinect v1, 20 joints, metres) -> skeleton clips.

Each file is MATLAB v5 with ``d_skel`` of shape (20, 3, T): joints in ``JOINT_SETS["utd_mhad"]``
order (head first), x y z in Kinect v1 camera space (x to the sensor's left, y up, z depth); the
world frame is (z, x, y). Joints with a depth <= 0 or NaN are invalid.

Timing: the skeleton spans the same time as the 50 Hz inertial recording of the same trial but
holds ~2.7x fewer frames than 30 fps would give that span. When ``aA_sS_tT_inertial.mat`` is found
(``../Inertial/`` or the same folder) the T frames are spread evenly over its duration
N_imu / 50 s: ``t_k = k * duration / T`` (``extra["timing"] = "inertial_span"``); otherwise frames
are 1/30 s apart (``"nominal_30fps"``). The clip id is the recording stem (``a5_s1_t1``), shared
with the real-IMU twin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from ...simulator.joints import JOINT_SETS
from ...simulator.cutoff import CUTOFF_BY_KIND
from ...simulator.motion import Motion, finite_points
from ..labels import lookup
from ..records import Clip, Item, Skip
from . import KINECT_TO_WORLD, camera_to_world, motion_problem, parse_options, sorted_files
from ..splits import utd_mhad_split

NAME = "utd-mhad"
#: Recommended motion low-pass, Hz, for this source's tracker. Kinect v1 skeletons at ~20 fps are noisy: against the real wrist IMU the median |accel|
#: correlation was 0.76 at 2.5-3 Hz, 0.71 at 4 Hz, 0.63 at 5 Hz (benchmarks/fidelity_utd.py).
CUTOFF_HZ = CUTOFF_BY_KIND["kinect_v1"]
LICENSE = "UTD-MHAD: free for research use; cite the paper below (University of Texas at Dallas)."
CITATION = (
    "Chen, Jafari, Kehtarnavaz. UTD-MHAD: A Multimodal Dataset for Human Action Recognition "
    "Utilizing a Depth Camera and a Wearable Inertial Sensor. IEEE ICIP 2015."
)

NOMINAL_FPS = 30.0
INERTIAL_RATE_HZ = 50.0
JOINT_NAMES = JOINT_SETS["utd_mhad"]
FILE_RE = re.compile(r"a(\d+)_s(\d+)_t(\d+)")
#: What scipy.io raises for damaged, truncated or v7.3 (HDF5) files.
_MAT_ERRORS = (OSError, ValueError, TypeError, EOFError, NotImplementedError, IndexError,
               scipy.io.matlab.MatReadError)


@dataclass(frozen=True)
class Options:
    """UTD-MHAD has no options (the dataclass keeps the interface uniform)."""


def list_inputs(input_dir: Path, **options) -> list[Path]:
    """Every ``*_skeleton.mat`` under ``input_dir``, sorted by relative path."""
    parse_options(Options, NAME, options)
    return sorted_files(input_dir, "*_skeleton.mat")


def real_imu_placement(action: int) -> str:
    """Where UTD-MHAD's real inertial sensor sat: right wrist for a1-a21, right thigh a22-a27."""
    return "right_wrist" if action <= 21 else "right_thigh"


def inertial_path(path: Path) -> Path | None:
    """The ``*_inertial.mat`` twin of a skeleton file (``../Inertial/`` or same folder), or None."""
    name = Path(path).name.replace("_skeleton.mat", "_inertial.mat")
    for folder in (Path(path).parent.parent / "Inertial", Path(path).parent):
        if (folder / name).is_file():
            return folder / name
    return None


def read(path: Path, **options) -> Iterator[Item]:
    """The clip of one skeleton file, or a Skip saying why not."""
    parse_options(Options, NAME, options)
    path = Path(path)
    clip_id = path.name.removesuffix("_skeleton.mat")
    match = FILE_RE.fullmatch(clip_id)
    if match is None:
        yield Skip(str(path), f"file name {path.name!r} does not match aA_sS_tT_skeleton.mat")
        return
    action, subject, trial = (int(g) for g in match.groups())
    label = f"a{action}"
    if lookup(NAME, label) is None:
        yield Skip(str(path), f"unmapped label {label!r}")
        return
    try:
        skel = scipy.io.loadmat(path, variable_names=["d_skel"]).get("d_skel")
    except _MAT_ERRORS as err:
        yield Skip(str(path), f"cannot read MATLAB file: {type(err).__name__}: {err}")
        return
    if skel is None:
        yield Skip(str(path), "no variable 'd_skel' in the file")
        return
    if skel.ndim != 3 or skel.shape[:2] != (len(JOINT_NAMES), 3) or skel.shape[2] == 0:
        yield Skip(str(path), f"d_skel has shape {skel.shape}, expected (20, 3, T) with T > 0")
        return
    if not np.issubdtype(skel.dtype, np.number):
        yield Skip(str(path), f"d_skel holds {skel.dtype}, not numbers")
        return

    xyz = np.moveaxis(np.asarray(skel, dtype=np.float64), 2, 0)  # (T, 20, 3) camera space
    valid = finite_points(xyz) & (xyz[..., 2] > 0)
    xyz[~valid] = np.nan
    timestamps, timing = _timing(path, xyz.shape[0])
    motion = Motion(camera_to_world(xyz, KINECT_TO_WORLD), JOINT_NAMES, timestamps, valid)
    problem = motion_problem(motion)
    if problem is not None:
        yield Skip(str(path), problem)
        return
    yield Clip(
        id=clip_id, source=NAME, subject=f"s{subject}", source_label=label,
        split=utd_mhad_split(subject), motion=motion,
        extra={"action": action, "trial": trial, "real_imu_placement": real_imu_placement(action),
               **timing},
    )


def _timing(path: Path, num_frames: int) -> tuple[np.ndarray, dict]:
    """Frame times, seconds, and how they were chosen (see the module docstring)."""
    twin = inertial_path(path)
    samples = _inertial_samples(twin) if twin is not None else None
    if samples:
        duration = samples / INERTIAL_RATE_HZ
        t = np.arange(num_frames, dtype=np.float64) * (duration / num_frames)
        return t, {"timing": "inertial_span", "inertial_samples": samples,
                   "fps": round(num_frames / duration, 6)}
    return np.arange(num_frames, dtype=np.float64) / NOMINAL_FPS, {
        "timing": "nominal_30fps", "fps": NOMINAL_FPS}


def _inertial_samples(path: Path) -> int | None:
    """Row count of ``d_iner`` (N, 6) without loading it; None when unreadable."""
    try:
        for name, shape, _ in scipy.io.whosmat(path):
            if name == "d_iner" and len(shape) == 2 and shape[0] > 0:
                return int(shape[0])
    except _MAT_ERRORS:  # a damaged twin only loses the timing hint
        return None
    return None
