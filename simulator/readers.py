"""Generic motion files (the CLI contract) and the IMU output files.

Skeleton ``.npz``: ``positions`` (T, J, 3) float, metres, world frame z up; ``joint_names`` (J,)
unicode strings (canonical names); ``fps`` scalar Hz or ``timestamps`` (T,) s (``timestamps``
wins when both are present); optional ``valid`` (T, J) bool.

Rigid-body ``.npz``: ``position`` (T, 3) metres, world frame z up; ``quaternion`` (T, 4) scalar
first (w, x, y, z), the rotation taking sensor-frame vectors to the world frame; ``fps`` or
``timestamps``. NaN (or all-zero) rows are gaps.

Files are loaded with ``allow_pickle=False``: save ``joint_names`` as ``np.array(names, dtype=str)``.

IMU ``.npz``: ``accel`` (N, 3) m/s², ``gyro`` (N, 3) rad/s (sensor frame), ``timestamps`` (N,) s,
``sample_rate_hz`` scalar. IMU ``.csv``: header ``IMU_CSV_HEADER``, one sample a row, ``%.17g``
(float64 round-trips exactly). Every writer writes a temporary file in the target folder and
renames it into place, so readers never see a half-written file.
"""

from __future__ import annotations

import os
import uuid
import zipfile
from pathlib import Path
from typing import Callable, BinaryIO

import numpy as np

from .bvh import read_bvh
from .limits import active_limits
from .motion import Motion, MotionError, RigidBodyTrajectory

IMU_CSV_HEADER = "timestamp_s,ax_mps2,ay_mps2,az_mps2,gx_radps,gy_radps,gz_radps"

_SKELETON_KEYS = ("positions", "joint_names")
_RIGID_KEYS = ("position", "quaternion")


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise MotionError(f"cannot read {path}: {exc}") from None
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise MotionError(f"{path} is not a valid .npz file (not a zip archive)")
    _check_array_sizes(path, active_limits().max_array_bytes)
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise MotionError(f"{path} is not a valid .npz file (corrupt zip: {exc})") from None
    except ValueError as exc:
        raise MotionError(
            f"{path}: an array needs pickle, which is never loaded ({exc}); save strings as a "
            "unicode array, e.g. np.array(joint_names, dtype=str)"
        ) from None


def _check_array_sizes(path: Path, max_bytes: int) -> None:
    """Refuse an ``.npz`` whose arrays, by their ``.npy`` headers, exceed ``max_bytes`` each.

    Reads only the headers (a few hundred bytes per member), so a small file that would inflate to
    gigabytes is refused before anything is allocated.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(f)
                n_bytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if n_bytes > max_bytes:
                    raise MotionError(
                        f"{path}: array {info.filename[:-4]!r} of shape {tuple(shape)} {dtype} would "
                        f"take {n_bytes / 2**20:.4g} MiB, beyond {max_bytes / 2**20:.4g} MiB "
                        "(simulator.limits max_array_bytes); split the recording"
                    )
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, MotionError):
            raise
        raise MotionError(f"{path} is not a valid .npz file (corrupt zip or .npy header: {exc})") from None


def _numeric(path: Path, name: str, value: np.ndarray) -> np.ndarray:
    if value.dtype.kind not in "fiu":
        raise MotionError(f"{path}: {name} must be numeric, got dtype {value.dtype}")
    return value.astype(np.float64)


def _time_kwargs(path: Path, data: dict[str, np.ndarray], n: int) -> dict:
    if "timestamps" in data:
        t = _numeric(path, "timestamps", data["timestamps"])
        if t.shape != (n,):
            raise MotionError(f"{path}: timestamps must have shape ({n},), got {t.shape}")
        if not np.isfinite(t).all():
            raise MotionError(f"{path}: timestamps contain NaN or Inf")
        return {"timestamps": t}
    if "fps" in data:
        fps = _numeric(path, "fps", data["fps"])
        if fps.size != 1:
            raise MotionError(f"{path}: fps must be a scalar, got shape {fps.shape}")
        fps = float(fps.reshape(()))
        if not np.isfinite(fps) or fps <= 0:
            raise MotionError(f"{path}: fps must be positive, got {fps}")
        return {"fps": fps}
    raise MotionError(f"{path}: missing key 'fps' or 'timestamps' (one is needed)")


def _skeleton(path: Path, data: dict[str, np.ndarray]) -> Motion:
    missing = [k for k in _SKELETON_KEYS if k not in data]
    if missing:
        raise MotionError(f"{path}: skeleton npz lacks key(s) {missing}")
    positions = _numeric(path, "positions", data["positions"])
    if positions.ndim != 3 or positions.shape[2] != 3 or positions.shape[0] < 1:
        raise MotionError(f"{path}: positions must be (T, J, 3) with T >= 1, "
                          f"got {positions.shape}")
    names = data["joint_names"]
    if names.dtype.kind not in "US":
        raise MotionError(f"{path}: joint_names must be strings, got dtype {names.dtype}")
    if names.shape != (positions.shape[1],):
        raise MotionError(f"{path}: joint_names must have shape ({positions.shape[1]},), "
                          f"got {names.shape}")
    names = tuple(n.decode("ascii") if isinstance(n, bytes) else str(n) for n in names.tolist())
    valid = data.get("valid")
    if valid is not None:
        if valid.dtype != bool or valid.shape != positions.shape[:2]:
            raise MotionError(f"{path}: valid must be bool {positions.shape[:2]}, "
                              f"got {valid.dtype} {valid.shape}")
    time = _time_kwargs(path, data, positions.shape[0])
    try:
        if "fps" in time:
            return Motion.from_fps(positions, names, time["fps"], valid)
        return Motion(positions, names, time["timestamps"], valid)
    except ValueError as exc:  # unknown or repeated joint names
        raise MotionError(f"{path}: {exc}") from None


def _rigid(path: Path, data: dict[str, np.ndarray]) -> RigidBodyTrajectory:
    missing = [k for k in _RIGID_KEYS if k not in data]
    if missing:
        raise MotionError(f"{path}: rigid-body npz lacks key(s) {missing}")
    position = _numeric(path, "position", data["position"])
    quaternion = _numeric(path, "quaternion", data["quaternion"])
    if position.ndim != 2 or position.shape[1] != 3 or position.shape[0] < 1:
        raise MotionError(f"{path}: position must be (T, 3) with T >= 1, got {position.shape}")
    if quaternion.shape != (position.shape[0], 4):
        raise MotionError(f"{path}: quaternion must be ({position.shape[0]}, 4) (w, x, y, z), "
                          f"got {quaternion.shape}")
    time = _time_kwargs(path, data, position.shape[0])
    return RigidBodyTrajectory.from_quaternions(position, quaternion, scalar_first=True, **time)


def read_motion_npz(path: str | Path) -> Motion | RigidBodyTrajectory:
    """Read a skeleton or rigid-body ``.npz`` (format in the module docstring)."""
    path = Path(path)
    data = _load_npz(path)
    if "positions" in data or "joint_names" in data:
        return _skeleton(path, data)
    if "position" in data or "quaternion" in data:
        return _rigid(path, data)
    raise MotionError(
        f"{path}: neither a skeleton npz (keys positions, joint_names, fps|timestamps) nor a "
        f"rigid-body npz (keys position, quaternion, fps|timestamps); found {sorted(data)}"
    )


def read_motion(path: str | Path) -> Motion | RigidBodyTrajectory:
    """Read a motion file by suffix: ``.npz`` (``read_motion_npz``) or ``.bvh`` (``read_bvh``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return read_motion_npz(path)
    if suffix == ".bvh":
        return read_bvh(path)
    raise MotionError(f"{path}: unknown motion file suffix {suffix!r}; use .npz or .bvh")


def _atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_motion_npz(path: str | Path, motion: Motion) -> Path:
    """Write a skeleton ``.npz`` that ``read_motion_npz`` reads back exactly."""
    arrays = {
        "positions": np.asarray(motion.positions, dtype=np.float64),
        "joint_names": np.array(motion.joint_names, dtype=str),
        "timestamps": np.asarray(motion.timestamps, dtype=np.float64),
        "valid": np.asarray(motion.valid, dtype=bool),
    }
    return _atomic_write(path, lambda f: np.savez(f, **arrays))


def write_rigid_npz(path: str | Path, traj: RigidBodyTrajectory) -> Path:
    """Write a rigid-body ``.npz``; rows with ``valid`` False get NaN quaternions (gaps)."""
    quat = traj.rotation.as_quat(scalar_first=True).reshape(-1, 4)
    quat[~np.asarray(traj.valid, dtype=bool)] = np.nan
    arrays = {
        "position": np.asarray(traj.position, dtype=np.float64),
        "quaternion": quat,
        "timestamps": np.asarray(traj.timestamps, dtype=np.float64),
    }
    return _atomic_write(path, lambda f: np.savez(f, **arrays))


def _imu_arrays(accel, gyro, timestamps, sample_rate_hz) -> tuple[np.ndarray, ...]:
    accel = np.asarray(accel, dtype=np.float64)
    gyro = np.asarray(gyro, dtype=np.float64)
    timestamps = np.asarray(timestamps, dtype=np.float64)
    n = timestamps.shape[0] if timestamps.ndim == 1 else -1
    if n < 1 or accel.shape != (n, 3) or gyro.shape != (n, 3):
        raise ValueError(f"need accel (N, 3), gyro (N, 3), timestamps (N,) with N >= 1; got "
                         f"{accel.shape}, {gyro.shape}, {timestamps.shape}")
    for name, arr in (("accel", accel), ("gyro", gyro), ("timestamps", timestamps)):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or Inf; IMU output must be finite")
    rate = float(sample_rate_hz)
    if not np.isfinite(rate) or rate <= 0:
        raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
    return accel, gyro, timestamps, rate


def write_imu(path: str | Path, accel, gyro, timestamps, sample_rate_hz: float) -> Path:
    """Write IMU samples to ``.npz`` or ``.csv`` (formats in the module docstring), atomically.

    accel: (N, 3) m/s², sensor frame; gyro: (N, 3) rad/s, sensor frame; timestamps: (N,) s.
    """
    path = Path(path)
    accel, gyro, timestamps, rate = _imu_arrays(accel, gyro, timestamps, sample_rate_hz)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        arrays = {"accel": accel, "gyro": gyro, "timestamps": timestamps,
                  "sample_rate_hz": np.float64(rate)}
        return _atomic_write(path, lambda f: np.savez(f, **arrays))
    if suffix == ".csv":
        table = np.column_stack([timestamps, accel, gyro])
        return _atomic_write(path, lambda f: np.savetxt(
            f, table, fmt="%.17g", delimiter=",", header=IMU_CSV_HEADER, comments=""))
    raise ValueError(f"{path}: IMU output must end in .npz or .csv, got {suffix!r}")


def read_imu(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Read ``(accel (N, 3), gyro (N, 3), timestamps (N,), sample_rate_hz)`` from ``write_imu``.

    A CSV holds no rate: it is 1 / median(diff(timestamps)) rounded to 1e-6 Hz (needs N >= 2).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("accel", "gyro", "timestamps", "sample_rate_hz")
                       if k not in npz.files]
            if missing:
                raise ValueError(f"{path}: IMU npz lacks key(s) {missing}")
            arrays = (npz["accel"], npz["gyro"], npz["timestamps"], npz["sample_rate_hz"])
        return _imu_arrays(*arrays)
    if suffix == ".csv":
        with open(path, encoding="ascii") as f:
            header = f.readline().strip()
            if header != IMU_CSV_HEADER:
                raise ValueError(f"{path}: header {header!r} is not {IMU_CSV_HEADER!r}")
            table = np.loadtxt(f, delimiter=",", ndmin=2, dtype=np.float64)
        if table.shape[1:] != (7,) or table.shape[0] < 2:
            raise ValueError(f"{path}: need at least 2 rows of 7 columns, got {table.shape}")
        dt = np.median(np.diff(table[:, 0]))
        if not dt > 0:
            raise ValueError(f"{path}: timestamps do not increase; cannot infer the rate")
        return _imu_arrays(table[:, 1:4], table[:, 4:7], table[:, 0], round(1.0 / dt, 6))
    raise ValueError(f"{path}: IMU file must end in .npz or .csv, got {suffix!r}")
