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
- frames on which a checked joint moves faster than ``max_speed_m_s`` become invalid; with
  ``repair_speed_m_s`` so do their neighbours over the time the jump would take at that speed (a
  0.7 m jump at 3 m/s: 0.23 s), so the interpolation spreads it at a limb's speed rather than
  over one frame. Off by default: measured (``benchmarks/fidelity_report.py``, RF over 5 seeds)
  it raises SmartFallMM fall TSTR (0.67 -> 0.75) and lowers WEDA-FALL's (0.73 -> 0.69), whose
  Fitbit sees harder impacts than SmartFallMM's watch;
- a clip with more than ``max_invalid`` of its frames marked so is refused (``ScreenInfo.refused``);
- with ``realign_torso_speed_m_s``, whole-body re-fits (a torso joint faster than that) are first
  removed by a rigid re-alignment of the frames after them (``refit.realign_refits``). Off by
  default: measured in ``benchmarks/README.md`` (fidelity_report variant ``realign``);
- with ``still_speed_m_s``, the tracker's jitter is smoothed away where the arm is still
  (``refit.smooth_still``). Off by default: measured there (variant ``still``);
- with ``despike_frames`` (odd, >= 3), every judged joint's coordinates go through a running
  median over that many frames (``despike``): a joint that leaves its path for fewer than half
  the window's frames and comes back (a tracker outlier slower than ``max_speed_m_s``) is
  removed exactly, while motion that is monotone over the window (a fall, a reach; a constant
  velocity) and steps are kept. Off by default: measured in ``benchmarks/README.md``
  (fidelity_report variants ``despike*``).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import numpy as np

from . import kernels
from .motion import Motion, MotionError

#: Input kinds (``cutoff.input_kind``) screened by ``SimulationOptions(screen="auto")``: skeletons
#: from trackers. Optical motion capture, BVH and NPZ skeletons are taken as they are.
SCREENED_KINDS: tuple[str, ...] = ("kinect_v1", "kinect_v2", "azure_kinect", "video")


@dataclass(frozen=True)
class ScreenOptions:
    """Thresholds of ``screen_motion``.

    stale_max_run: longest run of repeated frames marked invalid (0: none).
    max_speed_m_s: a checked joint faster than this between consecutive frames marks both
        frames invalid (None: no speed check).
    repair_speed_m_s: ... and the frames within d / (2 repair_speed) seconds on either side, d the
        jump's largest joint displacement, m (None: only the two frames).
    max_invalid: share of frames marked stale or fast above which the clip is refused.
    realign_torso_speed_m_s: re-align the skeleton rigidly across steps in which a torso joint
        moves faster than this (``refit``), before the checks above (None: off).
    still_speed_m_s: smooth the judged joints toward their 1-Hz low-pass where they move slower
        than this (``refit.smooth_still``), after the checks (None: off).
    despike_frames: running median of the judged joints' positions over this many frames (odd,
        >= 3), after the checks (None: off; ``despike``).
    """

    stale_max_run: int = 3
    max_speed_m_s: float | None = 12.0
    repair_speed_m_s: float | None = None
    max_invalid: float = 0.5
    realign_torso_speed_m_s: float | None = None
    still_speed_m_s: float | None = None
    despike_frames: int | None = None

    def __post_init__(self) -> None:
        d = self.despike_frames
        if d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer))
                              or d < 3 or d % 2 == 0):
            raise ValueError(f"despike_frames must be an odd int >= 3 or None, got {d!r}")
        if self.stale_max_run < 0:
            raise ValueError(f"stale_max_run must be >= 0, got {self.stale_max_run}")
        for name in ("max_speed_m_s", "repair_speed_m_s", "realign_torso_speed_m_s",
                     "still_speed_m_s"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ValueError(f"{name} must be positive or None, got {v}")
        if not 0.0 <= self.max_invalid <= 1.0:
            raise ValueError(f"max_invalid must be in [0, 1], got {self.max_invalid}")


@dataclass(frozen=True)
class ScreenInfo:
    """What the screen did to one clip: frames marked stale, frames marked too fast, the
    reason the clip was refused (None: kept) and the re-fits re-aligned (None: not asked)."""

    stale_frames: int
    fast_frames: int
    refused: str | None = None
    realigned: int | None = None

    def to_dict(self) -> dict:
        # the fields by name (dataclasses.asdict deep-copies: 20x slower, once per clip)
        out = {"stale_frames": self.stale_frames, "fast_frames": self.fast_frames,
               "refused": self.refused}
        if self.realigned is not None:
            out["realigned"] = self.realigned
        return out


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


def fast_frames(positions: np.ndarray, valid: np.ndarray, fs_hz: float, max_speed: float,
                repair_speed: float | None = None) -> np.ndarray:
    """(T,) bool: both frames of every step in which some joint (valid on both) moves faster
    than ``max_speed`` m/s, widened by ceil(d / (2 repair_speed) * fs_hz) frames on each side
    (d: the step's largest displacement, m) when ``repair_speed`` is given.
    positions: (T, J, 3) m; fs_hz: frame rate."""
    bad = np.zeros(len(positions), dtype=bool)
    if len(positions) < 2:
        return bad
    dist = np.where(valid[1:] & valid[:-1], np.linalg.norm(np.diff(positions, axis=0), axis=2), 0.0)
    d = dist.max(axis=1)
    for k in np.flatnonzero(d * fs_hz > max_speed):  # step k: frames k -> k + 1
        half = 0 if repair_speed is None else int(np.ceil(d[k] / (2.0 * repair_speed) * fs_hz))
        bad[max(k - half, 0):k + half + 2] = True
    return bad


def despike(positions: np.ndarray, frames: int) -> np.ndarray:
    """(T, J, 3) positions through a running median over ``frames`` (odd) frames along time, per
    joint and coordinate; the ends are padded with the first / last frame (as
    ``scipy.ndimage.median_filter(mode="nearest")``). Returns a new array."""
    x = np.asarray(positions, dtype=np.float64)
    if len(x) < 2:
        return x.copy()
    h = frames // 2
    padded = np.concatenate([np.repeat(x[:1], h, axis=0), x, np.repeat(x[-1:], h, axis=0)])
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, frames, axis=0), axis=-1)


def screen_motion(motion: Motion, options: ScreenOptions = ScreenOptions(),
                  joints: tuple[str, ...] | None = None) -> tuple[Motion, ScreenInfo]:
    """Screen one skeleton clip: (the Motion with implausible frames marked invalid, what was done).

    joints: the joints whose tracking is judged (default: all); a frame found stale or fast
    becomes invalid for these joints. Positions are never changed; the simulator fills invalid
    frames of the joints it uses by interpolation in time (and trims them at the ends)."""
    names = motion.joint_names
    realigned = None
    if options.realign_torso_speed_m_s is not None:
        from .refit import realign_refits

        motion, realigned = realign_refits(motion, joints or names, options.realign_torso_speed_m_s)
    cols = list(range(len(names))) if joints is None else [names.index(j) for j in joints if j in names]
    # compiled: the rules of stale_frames / fast_frames in frame order, the frame rate from the
    # sorted times as Motion.fps (tests/test_screen.py compares the two)
    stale = np.empty(motion.num_frames, dtype=bool)
    fast = np.empty(motion.num_frames, dtype=bool)
    kernels.screen_flags(motion.positions, motion.valid, np.asarray(cols, dtype=np.int64),
                         options.stale_max_run, np.sort(motion.timestamps),
                         options.max_speed_m_s or 0.0, options.repair_speed_m_s or 0.0, stale, fast)
    bad = stale | fast
    n_bad = int(np.count_nonzero(bad))
    refused = None
    share = n_bad / max(len(bad), 1)  # untracked frames are the simulator's own checks' business
    if share > options.max_invalid:
        refused = f"implausible tracking: {share:.0%} of frames stale or too fast"
    info = ScreenInfo(int(np.count_nonzero(stale)), int(np.count_nonzero(fast)), refused, realigned)
    if options.still_speed_m_s is not None:  # on the positions as recorded; the flags stand
        from .refit import smooth_still

        motion, _ = smooth_still(motion, tuple(names[c] for c in cols), options.still_speed_m_s)
    if options.despike_frames is not None:  # on the positions as recorded; the flags stand
        positions = motion.positions.copy()
        positions[:, cols] = despike(positions[:, cols], options.despike_frames)
        motion = copy.copy(motion)
        motion.positions = positions
    if not n_bad:
        return motion, info
    new_valid = motion.valid.copy()
    new_valid[np.ix_(bad, cols)] = False
    # Only validity shrinks, so the Motion needs no new validation (its __post_init__ would
    # cost more than the screen): a shallow copy with the new mask.
    screened = copy.copy(motion)
    screened.valid = new_valid
    return screened, info


_DEFAULT = ScreenOptions()


@functools.lru_cache(maxsize=64)
def _screened_kind(names: tuple[str, ...]) -> bool:
    from .cutoff import input_kind

    return input_kind(Motion(np.zeros((1, len(names), 3)), names, np.zeros(1))) in SCREENED_KINDS


def screen_sources(sources: list, screen, placement: str, results: list) -> tuple[list, dict]:
    """The simulator's screening step (``SimulationOptions.screen``) over a block of sources.

    screen: "auto" (``ScreenOptions()`` for skeletons of ``SCREENED_KINDS``), a ScreenOptions
    (every skeleton) or None. The joints judged are those the placement needs
    (``orientation.required_joints``). A refused clip gets its MotionError in ``results[i]``.
    Returns (sources with screened Motions in place, {index: ScreenInfo dict} of those screened).
    """
    if screen is None:
        return sources, {}
    from .orientation import required_joints

    joints = required_joints(placement)
    out, infos = list(sources), {}
    for i, src in enumerate(sources):
        if not isinstance(src, Motion) or results[i] is not None:
            continue
        if screen == "auto":
            if not _screened_kind(src.joint_names):
                continue
            opts = _DEFAULT
        else:
            opts = screen
        if not all(j in src.joint_names for j in joints):
            continue  # the joint selection says what is missing
        out[i], info = screen_motion(src, opts, joints)
        if info.refused is not None:
            results[i] = MotionError(info.refused)
        infos[i] = info.to_dict()
    return out, infos
