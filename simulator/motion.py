"""Motion containers: what Stage 1 and the skeleton readers hand to the simulator."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from .joints import validate_joint_names

#: Standard gravity, m/s^2. World gravity vector is (0, 0, -G).
G = 9.80665
GRAVITY_WORLD = np.array([0.0, 0.0, -G])


class MotionError(ValueError):
    """Input that cannot become a usable motion (the message says why and what to do)."""


def finite_points(x: np.ndarray) -> np.ndarray:
    """(...) bool: whether each point of x (..., 3) has three finite coordinates. (The same as
    ``np.isfinite(x).all(axis=-1)``, 5x faster: numpy reduces a length-3 last axis slowly.)"""
    f = np.isfinite(x)
    return f[..., 0] & f[..., 1] & f[..., 2]


def _timestamps(n: int, fps: float | None, timestamps) -> np.ndarray:
    if timestamps is not None:
        t = np.asarray(timestamps, dtype=np.float64).reshape(-1)
        if t.shape[0] != n:
            raise MotionError(f"timestamps has {t.shape[0]} entries for {n} frames")
        if not np.all(np.isfinite(t)):
            raise MotionError("timestamps contain NaN or Inf")
        return t
    if fps is None:
        raise MotionError("give fps or timestamps")
    fps = float(fps)
    if not np.isfinite(fps) or fps <= 0:
        raise MotionError(f"fps must be positive, got {fps}")
    return np.arange(n, dtype=np.float64) / fps


@dataclass
class Motion:
    """Skeletal motion.

    positions: (T, J, 3) float64, metres, world frame (right-handed, z up).
    joint_names: (J,) canonical names from ``joints.CANONICAL_JOINTS``.
    timestamps: (T,) float64 seconds (need not be uniform or sorted; the simulator repairs).
    valid: (T, J) bool, False where the joint was not tracked; NaN positions are invalid too.
    """

    positions: np.ndarray
    joint_names: tuple[str, ...]
    timestamps: np.ndarray
    valid: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.positions = np.asarray(self.positions, dtype=np.float64)
        if self.positions.ndim != 3 or self.positions.shape[2] != 3:
            raise MotionError(f"positions must be (T, J, 3), got {self.positions.shape}")
        self.joint_names = validate_joint_names(self.joint_names)
        if len(self.joint_names) != self.positions.shape[1]:
            raise MotionError(
                f"{len(self.joint_names)} joint names for {self.positions.shape[1]} joints"
            )
        self.timestamps = _timestamps(self.positions.shape[0], None, self.timestamps)
        finite = finite_points(self.positions)
        if self.valid is None:
            self.valid = finite
        else:
            self.valid = np.asarray(self.valid, dtype=bool).reshape(finite.shape) & finite

    @classmethod
    def from_fps(cls, positions, joint_names, fps: float, valid=None) -> "Motion":
        """Motion sampled uniformly at ``fps`` frames per second, starting at t = 0."""
        positions = np.asarray(positions, dtype=np.float64)
        return cls(positions, tuple(joint_names), _timestamps(len(positions), fps, None), valid)

    @property
    def num_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def fps(self) -> float:
        """Median frame rate, Hz."""
        dt = np.diff(np.sort(self.timestamps))
        dt = dt[dt > 0]
        return float(1.0 / np.median(dt)) if dt.size else float("nan")

    def has(self, name: str) -> bool:
        return name in self.joint_names

    def joint(self, name: str) -> np.ndarray:
        """(T, 3) positions of one joint, metres, world frame."""
        return self.positions[:, self.joint_names.index(name)]

    def joint_valid(self, name: str) -> np.ndarray:
        """(T,) bool validity of one joint."""
        return self.valid[:, self.joint_names.index(name)]

    def mirrored(self) -> "Motion":
        """Left/right swapped motion: reflect y -> -y and exchange left_*/right_* joints.

        The world frame stays right-handed; this is the handedness swap used for augmentation.
        """
        pos = self.positions.copy()
        pos[..., 1] *= -1.0
        names = tuple(
            n.replace("left_", "\0").replace("right_", "left_").replace("\0", "right_")
            for n in self.joint_names
        )
        return Motion(pos, names, self.timestamps.copy(), self.valid.copy())


@dataclass
class RigidBodyTrajectory:
    """Pose of the sensor itself (as optical motion capture records a rigid body).

    position: (T, 3) float64 metres, world frame z up; NaN rows are gaps.
    rotation: scipy Rotation of length T taking sensor-frame vectors to the world frame.
    timestamps: (T,) seconds.
    valid: (T,) bool, False in gaps.
    """

    position: np.ndarray
    rotation: Rotation
    timestamps: np.ndarray
    valid: np.ndarray = field(default=None)

    @classmethod
    def from_quaternions(cls, position, quaternion, fps=None, timestamps=None,
                         scalar_first: bool = True) -> "RigidBodyTrajectory":
        """Build from (T, 4) quaternions (w, x, y, z by default); NaN or zero rows become gaps."""
        position = np.asarray(position, dtype=np.float64)
        quat = np.asarray(quaternion, dtype=np.float64)
        if position.ndim != 2 or position.shape[1] != 3:
            raise MotionError(f"position must be (T, 3), got {position.shape}")
        if quat.shape != (position.shape[0], 4):
            raise MotionError(f"quaternion must be ({position.shape[0]}, 4), got {quat.shape}")
        t = _timestamps(position.shape[0], fps, timestamps)
        norm = np.linalg.norm(quat, axis=1)
        valid = np.isfinite(position).all(1) & np.isfinite(quat).all(1) & (norm > 1e-6)
        q = np.where(valid[:, None], quat, [1.0, 0, 0, 0] if scalar_first else [0, 0, 0, 1.0])
        rot = Rotation.from_quat(q, scalar_first=scalar_first)
        return cls(position, rot, t, valid)

    def __post_init__(self) -> None:
        self.position = np.asarray(self.position, dtype=np.float64)
        self.timestamps = np.asarray(self.timestamps, dtype=np.float64)
        if self.valid is None:
            self.valid = np.isfinite(self.position).all(1)
        if len(self.rotation) != self.position.shape[0]:
            raise MotionError("rotation and position differ in length")
