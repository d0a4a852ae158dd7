"""IMU synthesis: motion -> specific force and angular rate in the sensor frame at the device rate.

    accel = R_ws^T (p_ddot - g)       (m/s^2, sensor frame; g = (0, 0, -9.80665) in the world)
    gyro  = 2 vec(conj(q) * q_dot)    (rad/s, sensor frame; q = R_ws as a quaternion)

p is the device origin (the joint plus the mounting offset), R_ws the device-to-world rotation.
Both are low-passed and go through one quintic spline (``kinematics``), so the acceleration and
the angular rate are analytic derivatives of one smooth trajectory.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence, Union

import numpy as np

from . import kernels
from . import kinematics as kin
from . import limits as lim
from .motion import GRAVITY_WORLD, Motion, MotionError, RigidBodyTrajectory
from .orientation import optional_joints, quat_continuous, required_joints
from .cutoff import default_cutoff_hz
from .placement import PLACEMENT_SIDE, PLACEMENTS, Mounting, check_placement, default_mounting
from .rng import clip_rng
from .screen import ScreenOptions, screen_sources
from .twist import TwistInfo, TwistOptions

if TYPE_CHECKING:
    from .calibration import Calibration

Source = Union[Motion, RigidBodyTrajectory]

#: Version of the simulation physics; written into every dataset row's provenance.
SIMULATOR_VERSION = "1.2.0"  # 1.2.0: tracking-plausibility screen by default (screen.py)
#: Optional joints (hand, thumb) are used only when tracked in at least this share of frames.
_OPTIONAL_MIN_VALID = 0.9
#: Sources per block of ``simulate_iter``: enough to amortise Python overhead and share spline
#: tables between clips of one time grid, few enough that a block's intermediates stay small.
_BLOCK = 256


@dataclass
class SimulationOptions:
    """How to simulate.

    placement: "left_wrist", "right_wrist" or "phone_in_hand" (ignored for rigid bodies).
    rate_hz: device output data rate, Hz.
    device: name of a profile in ``devices.DEVICES`` ("ideal" adds nothing).
    seed: base seed; each clip's noise comes from (seed, clip id).
    cutoff_hz: zero-phase low-pass of the device's trajectory (position and orientation), Hz
        (capped at 0.4 x the device rate and x the source rate); "auto" (default) picks it from
        the kind of input (``cutoff.CUTOFF_BY_KIND``: 15 Hz for optical motion capture, 3-4 Hz
        for depth-camera skeletons, ...); None disables it.
    derivative: "spline" or "savgol" (see ``kinematics``).
    twist: forearm twist: thumb gating and the pronation model (``twist.TwistOptions``).
    mounting: device pose on the segment; None uses ``placement.default_mounting``.
    calibration: sim-to-real calibration applied at simulation time, or None.
    screen: tracking-plausibility screen of skeletons (``screen``): "auto" (default) screens
        depth-camera and video skeletons with ``ScreenOptions()`` and leaves optical motion
        capture, BVH and NPZ alone; a ``ScreenOptions`` screens every skeleton; None: off.
    limits: plausibility limits (``limits.Limits``); None takes the defaults. Clips beyond them
        are refused before anything large is allocated; they decide which clips exist, not the
        values, so they stay out of ``to_dict``.
    """

    placement: str = "left_wrist"
    rate_hz: float = 50.0
    device: str = "ideal"
    seed: int = 0
    cutoff_hz: float | str | None = "auto"
    derivative: str = "spline"
    twist: TwistOptions = field(default_factory=TwistOptions)
    mounting: Mounting | None = None
    calibration: "Calibration | None" = None
    limits: lim.Limits | None = None
    screen: ScreenOptions | str | None = "auto"

    def __post_init__(self) -> None:
        check_placement(self.placement)
        if not np.isfinite(self.rate_hz) or self.rate_hz <= 0:
            raise MotionError(f"rate must be positive, got {self.rate_hz}")
        if isinstance(self.cutoff_hz, str):
            if self.cutoff_hz != "auto":
                raise ValueError(f"cutoff_hz must be a number, 'auto' or None, got {self.cutoff_hz!r}")
        elif self.cutoff_hz is not None and not self.cutoff_hz > 0:
            raise ValueError(f"cutoff_hz must be positive, 'auto' or None, got {self.cutoff_hz}")
        if isinstance(self.screen, str) and self.screen != "auto":
            raise ValueError(f"screen must be 'auto', a ScreenOptions or None, got {self.screen!r}")
        if self.derivative not in kin.DERIVATIVE_METHODS:
            raise ValueError(f"derivative must be one of {kin.DERIVATIVE_METHODS}, got {self.derivative!r}")

    def to_dict(self) -> dict:
        """JSON-able provenance (the calibration is identified by a hash of its JSON)."""
        mount = self.mounting or default_mounting(self.placement)
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name not in ("mounting", "calibration", "twist", "limits", "screen")}
        out["twist"] = self.twist.to_dict()
        out["screen"] = self.screen.to_dict() if isinstance(self.screen, ScreenOptions) else self.screen
        out["mounting"] = {"quaternion_wxyz": mount.rotation.as_quat(scalar_first=True).tolist(),
                           "offset_m": mount.offset_m.tolist()}
        cal = self.calibration
        out["calibration_sha256"] = None if cal is None else hashlib.sha256(
            json.dumps(cal.to_dict(), sort_keys=True).encode()).hexdigest()
        out["simulator_version"] = SIMULATOR_VERSION
        return out


@dataclass
class ImuRecording:
    """accel: (N, 3) m/s^2 specific force, gyro: (N, 3) rad/s, both in the sensor frame;
    timestamps: (N,) seconds; sample_rate_hz: nominal output rate; info: JSON-able provenance of
    choices made per clip (``twist``: where the forearm twist came from)."""

    accel: np.ndarray
    gyro: np.ndarray
    timestamps: np.ndarray
    sample_rate_hz: float
    notes: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def as_array(self) -> np.ndarray:
        """(N, 6) float32: ax ay az (m/s^2) gx gy gz (rad/s)."""
        return np.concatenate([self.accel, self.gyro], axis=1).astype(np.float32)


def _source_cutoff(options: SimulationOptions, source: Source) -> float | None:
    """The cutoff asked for ``source``, Hz, before the rate caps ("auto" resolved)."""
    if options.cutoff_hz != "auto":
        return options.cutoff_hz
    if isinstance(source, Motion):
        return _skeleton_cutoff(source.joint_names)
    return default_cutoff_hz(source)


@functools.lru_cache(maxsize=64)
def _skeleton_cutoff(names: tuple[str, ...]) -> float:
    """``default_cutoff_hz`` of a skeleton, which depends on its joint names only."""
    return default_cutoff_hz(Motion(np.zeros((1, len(names), 3)), names, np.zeros(1)))


def _effective_cutoff(cutoff_hz: float | None, options: SimulationOptions, fs: float) -> float | None:
    if cutoff_hz is None:
        return None
    return min(cutoff_hz, 0.4 * options.rate_hz, 0.4 * fs)


def _uniform(t: np.ndarray, x: np.ndarray, dt: np.ndarray | None = None):
    return (t, x) if kin.is_uniform(t, dt=dt) else kin.to_uniform(t, x)


def _motion_joints(motion: Motion, options: SimulationOptions):
    """Select the joints the placement uses and repair the timeline (per clip).

    Returns (t (T,) uniform seconds, x (T, K, 3) metres, joint names (K,)).
    """
    names = motion.joint_names
    need = list(required_joints(options.placement))
    missing = [j for j in need if j not in names]
    if missing:
        raise MotionError(f"motion lacks joints {missing} needed for placement {options.placement}")
    extra = [j for j in optional_joints(options.placement) if j in names and j not in need]
    if extra:
        share = motion.valid[:, [names.index(j) for j in extra]].mean(axis=0)
        need += [j for j, f in zip(extra, share) if f >= _OPTIONAL_MIN_VALID]
    idx = [names.index(j) for j in need]
    t, x, valid = motion.timestamps, motion.positions[:, idx], motion.valid[:, idx]
    if len(t) < kin.MIN_FRAMES:
        raise MotionError(f"motion has {len(t)} frames; need at least {kin.MIN_FRAMES}")
    dt = np.diff(t)
    if not (valid.all() and dt.min() > 0):
        t, x, valid = kin.repair_timeline(t, x, valid)
        t, x, _ = kin.fill_gaps(t, x, valid, what="motion")
        dt = None
    t, x = _uniform(t, x, dt)
    return t, x, tuple(need)


def _rates(t: np.ndarray) -> np.ndarray:
    """(B,) frame rates, Hz, of (B, T) uniform time grids: 1 / median interval, per row."""
    return 1.0 / np.median(np.diff(t, axis=1), axis=1)


#: Joint slots of the compiled frame construction (``kernels.device_frame_ragged``).
_SLOTS = ("shoulder", "elbow", "wrist", "hand", "hand_tip", "thumb")
_TWIST_USED = ("model", "thumb", "thumb (raw)")
_TWIST_SOURCES = {"auto": 0, "thumb": 1, "model": 2}


def _slot_names(placement: str) -> tuple[str, ...]:
    side = PLACEMENT_SIDE[placement]
    return tuple(f"{side}_{j}" for j in _SLOTS) + ("left_shoulder", "right_shoulder")


def _device_poses(clips: list[tuple[np.ndarray, tuple[str, ...], np.ndarray]], fs: list[float],
                  options: SimulationOptions) -> list[tuple[np.ndarray, dict] | MotionError]:
    """Unfiltered device trajectory of each clip from its joints, compiled, clip by clip.

    clips: (positions (T, J, 3) m world frame, joint names (J,), indices into J of the joints to
    use); fs: frame rates, Hz. Returns per clip ((T, 7) position (m) and sign-continuous
    quaternion (w, x, y, z) of the device-to-world rotation, provenance dict) or the
    MotionError of a degenerate clip. The arithmetic is ``orientation.device_frame`` (with its
    twist gating) followed by the mounting and the quaternion of ``orientation.matrix_to_quat``;
    ``tests/test_kernels.py`` compares the two.
    """
    slots = _slot_names(options.placement)
    offsets = np.zeros(len(clips) + 1, dtype=np.int64)
    np.cumsum([len(c[0]) for c in clips], out=offsets[1:])
    joints = np.empty((int(offsets[-1]), len(slots), 3))
    jidx = np.full((len(clips), len(slots)), -1, dtype=np.int64)
    for b, (pos, names, use) in enumerate(clips):
        chosen = {names[k] for k in use}
        src = [names.index(j) if j in chosen else use[0] for j in slots]
        np.take(pos, src, axis=1, out=joints[offsets[b]:offsets[b + 1]])
        jidx[b] = [k if j in chosen else -1 for k, j in enumerate(slots)]
    tw = options.twist
    smooth = [kin.lowpass_design(f, min(tw.smooth_hz, 0.4 * f)) if tw.smooth_hz is not None
              else (np.zeros((2, 6)), np.zeros((2, 2)), 0, 0) for f in fs]
    mount = options.mounting or default_mounting(options.placement)
    out = np.empty((len(joints), 7))
    status = np.empty(len(clips), dtype=np.int64)
    used = np.empty(len(clips), dtype=np.int64)
    share = np.empty(len(clips))
    filled = np.empty(len(clips), dtype=np.int64)
    kernels.device_frame_ragged(
        joints, offsets, jidx, PLACEMENTS.index(options.placement), np.asarray(fs, dtype=np.float64),
        np.array([np.deg2rad(tw.twist_deg), tw.pronation_per_flexion, tw.bone_tolerance,
                  tw.min_sine, np.deg2rad(tw.max_twist_deg), np.deg2rad(tw.spike_deg),
                  tw.max_rate_rad_s, tw.min_trusted]),
        np.array([_TWIST_SOURCES[tw.source], tw.smooth_hz is not None], dtype=np.int64),
        np.stack([m[0] for m in smooth]), np.stack([m[1] for m in smooth]),
        np.array([m[2] for m in smooth], dtype=np.int64), np.array([m[3] for m in smooth], dtype=np.int64),
        np.ascontiguousarray(mount.offset_m, dtype=np.float64),
        np.ascontiguousarray(mount.rotation.as_matrix()), out, status, used, share, filled)
    what = "hand" if options.placement == "phone_in_hand" else "forearm"
    result: list = []
    for b in range(len(clips)):
        if status[b]:
            result.append(MotionError(f"degenerate {what if status[b] == 1 else 'radial direction'}: "
                                      "two joints coincide, so the segment has no direction"))
            continue
        trusted = None if np.isnan(share[b]) else round(float(share[b]), 4)
        info = TwistInfo(_TWIST_USED[used[b]], trusted, int(filled[b]))
        result.append((out[offsets[b]:offsets[b + 1]], {"twist": info.to_dict()}))
    return result


def _rigid_pose(body: RigidBodyTrajectory) -> tuple[np.ndarray, np.ndarray]:
    """(t (T,) uniform s, pose (T, 7) position + sign-continuous quaternion) of a rigid body."""
    quat = body.rotation.as_quat(scalar_first=True)
    t, x, valid = kin.repair_timeline(
        body.timestamps, np.concatenate([body.position, quat], axis=1)[:, None, :],
        body.valid[:, None])
    # Fill gaps on sign-continuous quaternions so that interpolation follows the short arc.
    x[:, 0, 3:] = quat_continuous(x[:, 0, 3:])
    t, x, _ = kin.fill_gaps(t, x, valid, what="rigid body")
    t, x = _uniform(t, x[:, 0])
    return t, np.ascontiguousarray(x)


def _clean_group(motions: list[Motion], options: SimulationOptions) -> tuple[list, list]:
    """Joint selection of skeleton clips of one length and joint vocabulary, vectorised.

    Returns ([(index into ``motions``, indices of the joints to use, t (T,) s)] for the clips
    that need no repair (every used joint valid, strictly increasing and uniform times),
    [indices of the others]); the same decisions as ``_motion_joints`` makes per clip."""
    names = motions[0].joint_names
    need = list(required_joints(options.placement))
    if any(j not in names for j in need) or motions[0].num_frames < kin.MIN_FRAMES:
        return [], list(range(len(motions)))  # the per-clip path raises the error
    extra = [j for j in optional_joints(options.placement) if j in names and j not in need]
    t = np.stack([m.timestamps for m in motions])
    valid = np.stack([m.valid for m in motions])
    dt = np.diff(t, axis=1)
    mean = (t[:, -1] - t[:, 0]) / dt.shape[1]
    lo, hi = dt.min(axis=1), dt.max(axis=1)
    timely = (lo > 0) & (hi - mean <= 0.01 * mean) & (mean - lo <= 0.01 * mean)
    share = (valid[:, :, [names.index(j) for j in extra]].mean(axis=1) >= _OPTIONAL_MIN_VALID
             if extra else np.zeros((len(motions), 0), dtype=bool))
    out, others = [], []
    for pattern in {tuple(row) for row in share.tolist()}:
        idx = [names.index(j) for j in need + [j for j, keep in zip(extra, pattern) if keep]]
        members = np.flatnonzero((share == pattern).all(axis=1))
        ok = timely[members] & valid[members][:, :, idx].all(axis=(1, 2))
        others += members[~ok].tolist()
        out += [(k, idx, t[k]) for k in members[ok].tolist()]
    return out, others


def _check_limits(src: Source, options: SimulationOptions) -> None:
    """Refuse (MotionError) a source beyond the plausibility limits (``limits``) before it is
    resampled or simulated: a frame gap, frame rate, duration, output length, body scale or
    coordinate no capture of a person has. Only the joints the placement needs are looked at."""
    limits = options.limits or lim.DEFAULT_LIMITS
    if isinstance(src, RigidBodyTrajectory):
        lim.check_timeline(src.timestamps, src.valid, options.rate_hz, limits, what="rigid body")
        lim.check_positions(src.position[:, None], src.valid, limits, what="rigid body")
        return
    if not isinstance(src, Motion):
        return
    names = src.joint_names
    need = required_joints(options.placement)  # shoulder, elbow, wrist
    if any(j not in names for j in need):
        return  # the joint selection says what is missing
    idx = [names.index(j) for j in need]
    x, ok = src.positions[:, idx], src.valid[:, idx].all(axis=1)
    lim.check_timeline(src.timestamps, ok, options.rate_hz, limits)
    lim.check_body_scale(x[:, 0], x[:, 1], x[:, 2], ok, limits)
    lim.check_positions(x, ok, limits)


def _poses(sources: Sequence[Source], options: SimulationOptions, results: list) -> list:
    """Unfiltered (t (T,), pose (T, 7), frame rate Hz, provenance dict) of each source, or None
    where ``results[i]`` got its MotionError; ``results[i]`` gets the clip's repair notes.

    Skeleton clips of one length and joint vocabulary are checked together (``_clean_group``);
    clips that need repairs take ``_motion_joints``; then every skeleton clip's frame is built
    by one compiled call (``_device_poses``).
    """
    poses: list = [None] * len(sources)
    for i, src in enumerate(sources):
        try:
            _check_limits(src, options)
        except MotionError as err:
            results[i] = err
    by_shape: dict[tuple, list[int]] = {}
    for i, src in enumerate(sources):
        if isinstance(src, Motion) and results[i] is None:
            by_shape.setdefault((src.num_frames, src.joint_names), []).append(i)
    todo: list[tuple[int, np.ndarray, tuple]] = []  # (source, t, (positions, names, joint indices))
    repair = [i for i, src in enumerate(sources) if not isinstance(src, Motion) and results[i] is None]
    for members in by_shape.values():
        clean, others = _clean_group([sources[i] for i in members], options)
        for k, idx, t in clean:
            src = sources[members[k]]
            todo.append((members[k], t, (src.positions, src.joint_names, idx)))
        repair += [members[k] for k in others]
    for i in sorted(repair):
        src = sources[i]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if isinstance(src, RigidBodyTrajectory):
                    t, pose = _rigid_pose(src)
                    poses[i] = (t, pose, float(_rates(t[None])[0]), {})
                elif isinstance(src, Motion):
                    t, x, names = _motion_joints(src, options)
                    todo.append((i, t, (x, names, list(range(len(names))))))
                else:
                    raise TypeError(f"expected Motion or RigidBodyTrajectory, got {type(src).__name__}")
            except MotionError as err:
                results[i] = err
        if results[i] is None:
            results[i] = [str(w.message) for w in caught]
    if not todo:
        return poses
    fs = np.empty(len(todo))
    by_length: dict[int, list[int]] = {}
    for k, (_, t, _) in enumerate(todo):
        by_length.setdefault(len(t), []).append(k)
    for ks in by_length.values():  # per row, so the same whatever the other rows
        fs[ks] = _rates(np.stack([todo[k][1] for k in ks]))
    fs = fs.tolist()
    for (i, t, _), f, res in zip(todo, fs, _device_poses([c for _, _, c in todo], fs, options)):
        if results[i] is None:
            results[i] = []
        if isinstance(res, MotionError):
            results[i] = res
        else:
            poses[i] = (t, res[0], f, res[1])
    return poses


def _ragged(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenation along axis 0 and the (B + 1,) offsets of each piece."""
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([len(a) for a in arrays], out=offsets[1:])
    return np.concatenate(arrays, axis=0), offsets


def _ideal_signals(poses: list[tuple], cutoffs: list[float | None], t_out: list[np.ndarray],
                   options: SimulationOptions) -> list[np.ndarray]:
    """Ideal (N, 6) accel + gyro of each (t, unfiltered pose, fs, info) at its instants ``t_out``.

    The pose is low-passed at ``cutoffs`` (``kinematics.lowpass_many``) and differentiated
    analytically through one quintic spline per channel (``kernels.imu_from_pose_ragged``;
    clips under 6 frames and the "savgol" method go through ``kinematics.derivatives``)."""
    filtered = kin.lowpass_many([p[1] for p in poses], [p[2] for p in poses], cutoffs)
    out: list = [None] * len(poses)
    fast = [k for k, p in enumerate(poses) if options.derivative == "spline" and len(p[0]) >= 6]
    # clips of one time grid side by side: the kernel reuses a grid's spline tables (same bits)
    fast.sort(key=lambda k: (len(poses[k][0]), float(poses[k][0][0]), len(t_out[k])))
    if fast:
        t_all, offsets = _ragged([poses[k][0] for k in fast])
        pose_all, _ = _ragged([filtered[k] for k in fast])
        tq, q_offsets = _ragged([t_out[k] for k in fast])
        ideal = np.empty((len(tq), 6))
        kernels.imu_from_pose_ragged(t_all, pose_all, offsets, tq, q_offsets, GRAVITY_WORLD[2], ideal)
        for j, k in enumerate(fast):
            out[k] = ideal[q_offsets[j]:q_offsets[j + 1]]
    for k in sorted(set(range(len(poses))) - set(fast)):
        t, pose = poses[k][0], filtered[k]
        p_dd, = kin.derivatives(t, pose[:, :3], t_out[k], (2,), options.derivative)
        q, q_d = kin.derivatives(t, pose[:, 3:], t_out[k], (0, 1), options.derivative)
        sig = np.ascontiguousarray(np.concatenate([p_dd, q, q_d], axis=1))
        out[k] = np.empty((len(sig), 6))
        kernels.output_stage(sig, GRAVITY_WORLD[2], out[k])
    return out


def _simulate_block(sources: Sequence[Source], options: SimulationOptions,
                    clip_ids: list[str]) -> list[ImuRecording | MotionError]:
    """Results of one block of sources (see ``simulate_iter``)."""
    results: list = [None] * len(sources)
    sources, screened = screen_sources(sources, options.screen, options.placement, results)
    poses = _poses(sources, options, results)
    live, t_out = [], []
    for i, pose in enumerate(poses):
        if pose is None:
            continue
        t = pose[0]
        ti = kin.output_times(t[0], t[-1], options.rate_hz)
        if len(ti) < 2:
            results[i] = MotionError(f"clip lasts {t[-1] - t[0]:.3g} s: too short for one "
                                     f"sample interval at {options.rate_hz} Hz")
            continue
        live.append(i)
        t_out.append(ti)
    if not live:
        return results
    cutoffs = [_effective_cutoff(_source_cutoff(options, sources[i]), options, poses[i][2])
               for i in live]
    ideal = _ideal_signals([poses[i] for i in live], cutoffs, t_out, options)
    limits = options.limits or lim.DEFAULT_LIMITS  # judged on the ideal signals: a device clips
    implausible = [lim.imu_problem(x[:, :3], x[:, 3:], limits) for x in ideal]
    cal = options.calibration
    if cal is not None:
        ideal = [np.concatenate(cal.rotate(x[:, :3], x[:, 3:]), axis=1) for x in ideal]
    if options.device != "ideal":
        from .devices import apply_device_ragged, get_device

        imu, offsets = _ragged(ideal)
        rngs = [clip_rng(options.seed, clip_ids[i], "device") for i in live]
        apply_device_ragged(imu, offsets, options.rate_hz, get_device(options.device), rngs)
        ideal = [imu[offsets[j]:offsets[j + 1]] for j in range(len(live))]
    for j, i in enumerate(live):
        if implausible[j]:
            results[i] = MotionError(f"clip {clip_ids[i]!r}: {implausible[j]}; check the motion for outliers")
            continue
        a, g = ideal[j][:, :3], ideal[j][:, 3:]
        if cal is not None:
            a, g = cal.map_quantiles(a, g)
        if not (np.isfinite(a).all() and np.isfinite(g).all()):
            results[i] = MotionError(f"clip {clip_ids[i]!r}: simulation produced non-finite values "
                                     "(check the motion for outliers)")
            continue
        results[i] = ImuRecording(np.ascontiguousarray(a), np.ascontiguousarray(g), t_out[j],
                                  float(options.rate_hz), notes=results[i],
                                  info={**poses[i][3], "cutoff_hz": cutoffs[j],
                                        **({"screen": screened[i]} if i in screened else {})})
    return results


def simulate_iter(sources: Iterable[Source], options: SimulationOptions | None = None,
                  clip_ids: Iterable[str] | None = None, errors: str = "raise",
                  block: int = _BLOCK, prefix_notes: bool = True) -> Iterator[ImuRecording | MotionError]:
    """Simulate clips one block of ``block`` sources at a time, yielding results in input order.

    Memory holds one block's intermediate poses and signals, never the whole list's: feed it a
    generator of motions and consume the recordings as they come. Each result equals
    ``simulate(source, options, clip_id)`` bit for bit, whatever the block size or neighbours
    (every clip is computed on its own arithmetic; blocks only amortise Python overhead).
    Repairs of a clip are in its ``notes`` and also issued as warnings (prefixed with the clip
    id when ``prefix_notes``). ``errors="raise"`` raises an unusable clip's MotionError when it
    is reached; ``errors="return"`` yields it in that clip's place and goes on.
    """
    if errors not in ("raise", "return"):
        raise ValueError(f"errors must be 'raise' or 'return', got {errors!r}")
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    options = options or SimulationOptions()
    ids = iter(clip_ids) if clip_ids is not None else (str(i) for i in itertools.count())
    source_iter = iter(sources)
    while True:
        srcs = list(itertools.islice(source_iter, block))
        if not srcs:
            return
        cids = [next(ids) for _ in srcs]
        for cid, r in zip(cids, _simulate_block(srcs, options, cids)):
            if isinstance(r, ImuRecording):
                for note in r.notes:
                    warnings.warn(f"{cid}: {note}" if prefix_notes else note, RuntimeWarning,
                                  stacklevel=3)
            elif errors == "raise":
                raise r
            yield r


def simulate_many(sources: Sequence[Source], options: SimulationOptions | None = None,
                  clip_ids: Sequence[str] | None = None,
                  errors: str = "raise") -> list[ImuRecording | MotionError]:
    """Simulate several clips (a list of ``simulate_iter``'s results; see there).

    The result of each clip equals ``simulate(source, options, clip_id)`` bit for bit.
    """
    clip_ids = list(clip_ids) if clip_ids is not None else [str(i) for i in range(len(sources))]
    if len(clip_ids) != len(sources):
        raise ValueError(f"{len(clip_ids)} clip ids for {len(sources)} sources")
    return list(simulate_iter(sources, options, clip_ids, errors, prefix_notes=len(sources) > 1))


def simulate(source: Source, options: SimulationOptions | None = None,
             clip_id: str = "") -> ImuRecording:
    """Simulate one clip. See the module docstring for the physics and SimulationOptions."""
    return simulate_many([source], options, [clip_id])[0]
