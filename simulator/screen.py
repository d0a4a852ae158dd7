"""Tracking-plausibility screen of skeleton clips, before simulation (judged from the skeleton only).

Depth-camera body trackers make errors that a worn sensor never sees and that the simulator's
low-pass turns into accelerometer and gyroscope peaks beyond a real wrist's. Measured on
SmartFallMM's Azure Kinect skeletons (``benchmarks/fidelity_report.py``):

1. **stale frames**: the tracker repeats its last skeleton (every joint identical to the previous
   frame, to the file's precision) and then catches up, so the joints stop and jump: 205 of 329
   clips have some; runs of one to three frames are dropped frames, runs of a second or more
   happen while the tracker has lost the person (12 % of the frames of the falls);
2. **jumps**: joints leaving their trajectory faster than a limb moves: a quarter of the clips
   move the wrist faster than 15 m/s between two frames, mostly where the tracker re-fits the
   whole body as if the person had turned around (the left shoulder moves by a shoulder width in
   one frame).

``screen_motion`` marks such frames invalid (the simulator then interpolates them in time) and
says what it did (``ScreenInfo``):

- short runs of stale frames (at most ``stale_max_run``) become invalid. Longer runs are kept:
  the person moved while the tracker held its pose, and interpolating over seconds would erase the
  movement (e.g. the fall itself) rather than repair the timing;
- frames on which a checked joint moves faster than ``max_speed_m_s`` become invalid;
- a clip with more than ``max_invalid`` of its frames invalid is refused (``ScreenInfo.refused``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .motion import Motion


@dataclass(frozen=True)
class ScreenOptions:
    """Thresholds of ``screen_motion``.

    stale_max_run: longest run of repeated frames marked invalid (0: none).
    max_speed_m_s: a checked joint faster than this between consecutive frames marks both
        frames invalid (None: no speed check).
    max_invalid: share of invalid frames above which the clip is refused.
    """

    stale_max_run: int = 3
    max_speed_m_s: float | None = 12.0
    max_invalid: float = 0.5

    def __post_init__(self) -> None:
        if self.stale_max_run < 0:
            raise ValueError(f"stale_max_run must be >= 0, got {self.stale_max_run}")
        if self.max_speed_m_s is not None and not self.max_speed_m_s > 0:
            raise ValueError(f"max_speed_m_s must be positive or None, got {self.max_speed_m_s}")
        if not 0.0 <= self.max_invalid <= 1.0:
            raise ValueError(f"max_invalid must be in [0, 1], got {self.max_invalid}")


@dataclass(frozen=True)
class ScreenInfo:
    """What the screen did to one clip: frames marked stale, frames marked too fast, and the
    reason the clip was refused (None: kept)."""

    stale_frames: int
    fast_frames: int
    refused: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def stale_frames(positions: np.ndarray, valid: np.ndarray, max_run: int | None = None) -> np.ndarray:
    """(T,) bool: frames whose every valid joint equals the previous frame's exactly (the first
    frame never is), in runs of at most ``max_run`` frames (None: any run).

    positions: (T, J, 3); valid: (T, J) bool."""
    same = np.zeros(len(positions), dtype=bool)
    if len(positions) > 1:
        both = valid[1:] & valid[:-1]
        eq = np.all(positions[1:] == positions[:-1], axis=2) | ~both
        same[1:] = eq.all(axis=1) & both.any(axis=1)
    if max_run is not None and same.any():
        edges = np.diff(np.r_[0, same.astype(np.int8), 0])
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            if b - a > max_run:
                same[a:b] = False
    return same


def fast_frames(positions: np.ndarray, valid: np.ndarray, fs_hz: float, max_speed: float) -> np.ndarray:
    """(T,) bool: both frames of every step in which some joint (valid on both) moves faster
    than ``max_speed`` m/s. positions: (T, J, 3) m; fs_hz: frame rate."""
    bad = np.zeros(len(positions), dtype=bool)
    if len(positions) < 2:
        return bad
    step = np.linalg.norm(np.diff(positions, axis=0), axis=2) * fs_hz
    fast = ((step > max_speed) & valid[1:] & valid[:-1]).any(axis=1)
    bad[1:] |= fast
    bad[:-1] |= fast
    return bad


def screen_motion(motion: Motion, options: ScreenOptions = ScreenOptions(),
                  joints: tuple[str, ...] | None = None) -> tuple[Motion, ScreenInfo]:
    """Screen one skeleton clip: (the Motion with implausible frames marked invalid, what was done).

    joints: the joints whose tracking is judged (default: all); a frame found stale or fast
    becomes invalid for every joint. Positions are never changed; the simulator fills invalid
    frames by interpolation in time (and trims them at the ends)."""
    names = motion.joint_names
    cols = list(range(len(names))) if joints is None else [names.index(j) for j in joints if j in names]
    x, valid = motion.positions[:, cols], motion.valid[:, cols]
    stale = (stale_frames(x, valid, options.stale_max_run) if options.stale_max_run
             else np.zeros(len(x), dtype=bool))
    ok = valid & ~stale[:, None]
    fast = (fast_frames(x, ok, motion.fps, options.max_speed_m_s) if options.max_speed_m_s
            else np.zeros(len(x), dtype=bool))
    bad = stale | fast
    refused = None
    share = float((bad | ~valid.all(axis=1)).mean())
    if share > options.max_invalid:
        refused = f"implausible tracking: {share:.0%} of frames stale, too fast or untracked"
    info = ScreenInfo(int(stale.sum()), int(fast.sum()), refused)
    if not bad.any():
        return motion, info
    new_valid = motion.valid.copy()
    new_valid[bad] = False
    return Motion(motion.positions, names, motion.timestamps, new_valid), info
