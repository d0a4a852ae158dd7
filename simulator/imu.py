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
import threading
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence, Union

import numpy as np

from . import kernels
from . import kinematics as kin
from . import learned_twist
from . import limits as lim
from .motion import GRAVITY_WORLD, Motion, MotionError, RigidBodyTrajectory
from .orientation import optional_joints, quat_continuous, required_joints
from .cutoff import default_cutoff_hz
from .placement import PLACEMENT_SIDE, PLACEMENTS, Mounting, check_placement, default_mounting
from .rng import ClipGenerators
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
#: tables between clips of one time grid, few enough that a block's intermediates stay small and
#: its joints stay in the processor's cache between the passes over them (64 mixed 2-10 s clips
#: simulate ~8 % faster per clip than 256 on this VM's EPYC; 32 no faster).
_BLOCK = 64


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
_TWIST_SOURCES = {"auto": 0, "thumb": 1, "model": 2, "learned": 2}  # learned: model + delta
_TWIST_FIELDS = tuple(f.name for f in dataclasses.fields(TwistInfo))  # its to_dict keys


def _slot_names(placement: str) -> tuple[str, ...]:
    side = PLACEMENT_SIDE[placement]
    return tuple(f"{side}_{j}" for j in _SLOTS) + ("left_shoulder", "right_shoulder")


@functools.lru_cache(maxsize=64)
def _vocabulary(names: tuple[str, ...], placement: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(required (3,), optional (P,)) indices into ``names`` of the joints ``placement`` uses, or
    None when a required joint is missing (``_motion_joints`` words that error)."""
    need = required_joints(placement)
    if any(j not in names for j in need):
        return None
    extra = [j for j in optional_joints(placement) if j in names and j not in need]
    return (np.array([names.index(j) for j in need], dtype=np.int64),
            np.array([names.index(j) for j in extra], dtype=np.int64))


@functools.lru_cache(maxsize=256)
def _joint_use(names: tuple[str, ...], placement: str, code: int) -> tuple[list[int], np.ndarray]:
    """(indices into ``names`` of the joints used, (8,) slot indices (-1 = absent)) when the
    optional joints whose bits are set in ``code`` (bit p: ``_vocabulary``'s optional joint p)
    are tracked well enough to be used."""
    req, opt = _vocabulary(names, placement)
    use = req.tolist() + [int(j) for p, j in enumerate(opt) if code >> p & 1]
    chosen = {names[k] for k in use}
    return use, np.array([names.index(j) if j in chosen else -1 for j in _slot_names(placement)],
                         dtype=np.int64)


class _PackedClips(Sequence):
    """``_device_poses``'s clips, (positions, names, joint indices) each, held as one array:
    ``joints`` (R, J, 3), clip b in rows ``starts[b]`` on for ``lengths[b]`` frames, using the
    joints ``use[b]`` (indices into J; slots ``jidx[b]`` (8,)). Items are made when asked for;
    ``_device_poses`` reads the arrays and saves the copy a list of clips needs."""

    def __init__(self, joints: np.ndarray, names: tuple[str, ...], starts: np.ndarray,
                 lengths: np.ndarray, use: list[list[int]], jidx: np.ndarray):
        self.joints, self.names, self.starts, self.lengths = joints, names, starts, lengths
        self.use, self.jidx = use, jidx

    def __len__(self) -> int:
        return len(self.use)

    def __getitem__(self, b: int) -> tuple[np.ndarray, tuple[str, ...], list[int]]:
        start = int(self.starts[b])
        return self.joints[start:start + int(self.lengths[b])], self.names, self.use[b]


class _PoseList(list):
    """``_device_poses``'s per-clip results, with ``pose`` (sum T, 7) and ``offsets`` (B + 1,)
    they are views of (rows of degenerate clips are unset)."""

    pose: np.ndarray
    offsets: np.ndarray


def _twist_smoothing(fs: np.ndarray, smooth_hz: float | None) -> tuple:
    """(sos (B, S, 6), zi (B, S, 2), pad (B,), fit (B,)) of the twist low-pass of each clip."""
    if smooth_hz is None:
        b = len(fs)
        return np.zeros((b, 2, 6)), np.zeros((b, 2, 2)), np.zeros(b, np.int64), np.zeros(b, np.int64)
    return kin.lowpass_designs(fs, [min(smooth_hz, 0.4 * f) for f in fs.tolist()])


@functools.lru_cache(maxsize=64)
def _twist_arrays(tw: TwistOptions) -> tuple[np.ndarray, np.ndarray]:
    """``kernels.device_frame_ragged``'s twist_f (8,) and twist_i (2,) (shared: not to be modified)."""
    return (np.array([np.deg2rad(tw.twist_deg), tw.pronation_per_flexion, tw.bone_tolerance,
                      tw.min_sine, np.deg2rad(tw.max_twist_deg), np.deg2rad(tw.spike_deg),
                      tw.max_rate_rad_s, tw.min_trusted]),
            np.array([_TWIST_SOURCES[tw.source], tw.smooth_hz is not None], dtype=np.int64))


@functools.lru_cache(maxsize=8)
def _default_mount_arrays(placement: str) -> tuple[np.ndarray, np.ndarray]:
    mount = default_mounting(placement)
    return np.ascontiguousarray(mount.offset_m, dtype=np.float64), np.ascontiguousarray(mount.rotation.as_matrix())


def _mount_arrays(mounting: Mounting | None, placement: str) -> tuple[np.ndarray, np.ndarray]:
    """(offset (3,) m, rotation (3, 3)) of ``mounting`` (None: the placement's default)."""
    if mounting is None:
        return _default_mount_arrays(placement)
    return (np.ascontiguousarray(mounting.offset_m, dtype=np.float64),
            np.ascontiguousarray(mounting.rotation.as_matrix()))


def _device_poses(clips: list[tuple[np.ndarray, tuple[str, ...], np.ndarray]], fs,
                  options: SimulationOptions) -> list[tuple[np.ndarray, dict] | MotionError]:
    """Unfiltered device trajectory of each clip from its joints, compiled, clip by clip.

    clips: (positions (T, J, 3) m world frame, joint names (J,), indices into J of the joints to
    use) (a ``_PackedClips`` also says where they lie in one array); fs: (B,) frame rates, Hz.
    Returns per clip ((T, 7) position (m) and sign-continuous quaternion (w, x, y, z) of the
    device-to-world rotation, provenance dict) or the MotionError of a degenerate clip, as a
    ``_PoseList``. The arithmetic is ``orientation.device_frame`` (with its twist gating)
    followed by the mounting and the quaternion of ``orientation.matrix_to_quat``;
    ``tests/test_kernels.py`` compares the two.
    """
    fs = np.asarray(fs, dtype=np.float64)
    slots = _slot_names(options.placement)
    offsets = np.zeros(len(clips) + 1, dtype=np.int64)
    if isinstance(clips, _PackedClips):
        np.cumsum(clips.lengths, out=offsets[1:])
        joints, starts, jidx = clips.joints, clips.starts, clips.jidx
    else:
        np.cumsum([len(c[0]) for c in clips], out=offsets[1:])
        starts = offsets[:-1]
        joints = np.empty((int(offsets[-1]), len(slots), 3))
        jidx = np.full((len(clips), len(slots)), -1, dtype=np.int64)
        for b, (pos, names, use) in enumerate(clips):
            chosen = {names[k] for k in use}
            src = [names.index(j) if j in chosen else use[0] for j in slots]
            np.take(pos, src, axis=1, out=joints[offsets[b]:offsets[b + 1]])
            jidx[b] = [k if j in chosen else -1 for k, j in enumerate(slots)]
    tw = options.twist
    sos, zi, pad, fit = _twist_smoothing(fs, tw.smooth_hz)
    offset_m, rotation = _mount_arrays(options.mounting, options.placement)
    twist_f, twist_i = _twist_arrays(tw)
    out = np.empty((int(offsets[-1]), 7))
    status = np.empty(len(clips), dtype=np.int64)
    used = np.empty(len(clips), dtype=np.int64)
    share = np.empty(len(clips))
    filled = np.empty(len(clips), dtype=np.int64)
    kernels.device_frame_ragged(
        joints, starts, offsets, jidx, PLACEMENTS.index(options.placement), fs, twist_f, twist_i,
        sos, zi, pad, fit, offset_m, rotation, out, status, used, share, filled)
    what = "hand" if options.placement == "phone_in_hand" else "forearm"
    result = _PoseList()
    result.pose, result.offsets = out, offsets
    bounds = offsets.tolist()
    for b, (st, u, tr, nf) in enumerate(zip(status.tolist(), used.tolist(), share.tolist(),
                                            filled.tolist())):
        if st:
            result.append(MotionError(f"degenerate {what if st == 1 else 'radial direction'}: "
                                      "two joints coincide, so the segment has no direction"))
            continue
        info = (_TWIST_USED[u], None if tr != tr else round(tr, 4), nf)  # NaN: no thumb
        if tw.model is not None:  # source "learned": the model twist plus the predicted delta
            info = ("learned",) + info[1:]
            pos, names, use = clips[b]
            learned_twist.apply_to_poses(
                out[bounds[b]:bounds[b + 1]],
                learned_twist.clip_delta(pos, names, use, options.placement, float(fs[b]), tw.model),
                rotation, offset_m)
        result.append((out[bounds[b]:bounds[b + 1]], {"twist": dict(zip(_TWIST_FIELDS, info))}))
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


def _check_limits(src: Source, options: SimulationOptions) -> None:
    """Refuse (MotionError) a source beyond the plausibility limits (``limits``) before it is
    resampled or simulated: a frame gap, frame rate, duration, output length, body scale or
    coordinate no capture of a person has. Only the joints the placement needs are looked at.
    (Skeleton clips are first screened in one compiled pass, ``kernels.check_skeletons``; this
    decides, and words the error, for the clips it does not pass.)"""
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


def _ragged(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenation along axis 0 and the (B + 1,) offsets of each piece."""
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([len(a) for a in arrays], out=offsets[1:])
    return np.concatenate(arrays, axis=0), offsets


def _pieces(x: np.ndarray, offsets: np.ndarray, keep) -> list[np.ndarray]:
    return [x[offsets[k]:offsets[k + 1]] for k in keep]


@dataclass
class _Poses:
    """Unfiltered device poses of the clips of a block that got that far, packed: source index,
    t (sum T,) uniform s, pose (sum T, 7) position + quaternion, offsets (B + 1,), frame rates
    (B,) Hz, provenance dict per clip."""

    index: list[int]
    t: np.ndarray
    pose: np.ndarray
    offsets: np.ndarray
    fs: np.ndarray
    infos: list[dict]


@functools.lru_cache(maxsize=16)
def _limit_array(limits: lim.Limits) -> np.ndarray:
    return np.array([limits.max_frames, limits.max_gap_s, limits.min_fps, limits.max_duration_s,
                     limits.max_output_samples, limits.max_position_m, limits.min_arm_length_m,
                     limits.max_arm_length_m], dtype=np.float64)


def _skeleton_group(sources: Sequence[Source], members: list[int], options: SimulationOptions,
                    results: list, repair: list[int]) -> _Poses | None:
    """Poses of the skeleton clips ``members`` (one joint vocabulary) that need no repair.

    One compiled pass (``kernels.check_skeletons``) screens the limits, selects the joints and
    finds the frame rates; clips it does not pass are judged by ``_check_limits`` (their
    MotionError goes to ``results``). Clips whose only repair is joints untracked in some frames
    (the usual Kinect clip) are trimmed and filled by a second compiled pass
    (``kernels.fill_untracked``, the arithmetic and notes of ``kinematics.fill_gaps``); clips
    that need any other repair go to ``repair``."""
    motions = [sources[i] for i in members]
    names = motions[0].joint_names
    req, opt = _vocabulary(names, options.placement)
    b = len(motions)
    if b == 1:  # no copies for a single clip
        m = motions[0]
        t, offsets = m.timestamps, np.array([0, m.num_frames], dtype=np.int64)
        valid, pos = np.ascontiguousarray(m.valid), np.ascontiguousarray(m.positions)
    else:
        t, offsets = _ragged([m.timestamps for m in motions])
        valid = np.concatenate([m.valid for m in motions])
        pos = np.concatenate([m.positions for m in motions])
    status, code, nout = np.empty((3, b), np.int64)
    fs = np.empty(b)
    kernels.check_skeletons(t, valid, pos, offsets, req, opt, float(options.rate_hz),
                            _limit_array(options.limits or lim.DEFAULT_LIMITS), _OPTIONAL_MIN_VALID,
                            kin.MIN_FRAMES, kin.UNIFORM_RTOL, status, code, fs, nout)
    cut, starts, lengths = np.zeros(b, np.int64), offsets[:-1], np.diff(offsets)
    notes: dict[int, list[str]] = {}
    if status.any():
        clean = status == 0
        fill = []  # within the limits, only joints untracked: filled in one compiled pass
        for k in np.flatnonzero(status).tolist():
            i = members[k]
            if status[k] == kernels.REPAIR:
                fill.append(k)
                continue
            if status[k] & kernels.UNSURE:
                try:
                    _check_limits(motions[k], options)
                except MotionError as err:
                    results[i] = err
                    continue
            if status[k] & kernels.REPAIR:
                repair.append(i)
            else:
                clean[k] = True
        if fill:
            if b == 1 and pos is motions[0].positions:
                pos = pos.copy()  # filled in place: not the caller's array
            first, last, filled = np.empty((3, len(fill)), np.int64)
            fs_kept = np.empty(len(fill))
            kernels.fill_untracked(t, valid, pos, offsets, req, opt, code, np.array(fill, np.int64),
                                   kin.MIN_FRAMES, kin.UNIFORM_RTOL, first, last, filled, fs_kept)
            for k, f, l, nf, rate in zip(fill, first.tolist(), last.tolist(), filled.tolist(),
                                         fs_kept.tolist()):
                if f < 0:
                    repair.append(members[k])
                    continue
                clean[k] = True
                notes[members[k]] = kin.repair_notes("motion", f, int(lengths[k]) - 1 - l, nf)
                cut[k], lengths[k], fs[k] = f, l - f + 1, rate
        keep = np.flatnonzero(clean)
        if not len(keep):
            return None
        if len(keep) < b or notes:
            members, code, fs = [members[k] for k in keep.tolist()], code[keep], fs[keep]
            starts, lengths = offsets[keep] + cut[keep], lengths[keep]
            t, _ = _ragged([t[s:s + n] for s, n in zip(starts.tolist(), lengths.tolist())])
    used, slots = [], {}
    for c in code.tolist():
        if c not in slots:
            slots[c] = _joint_use(names, options.placement, c)
        used.append(slots[c][0])
    if len(slots) == 1:
        jidx = np.repeat(slots[c][1][None], len(used), axis=0)
    else:
        jidx = np.stack([slots[c][1] for c in code.tolist()])
    for i in members:
        results[i] = notes.get(i, [])
    clips = _PackedClips(pos, names, starts, lengths, used, jidx)
    return _pose_part(members, t, fs, clips, options, results)


def _pose_part(index: list[int], t: np.ndarray, fs: np.ndarray, clips: list,
               options: SimulationOptions, results: list) -> _Poses | None:
    """``_device_poses`` of ``clips`` (sources ``index``, times t (sum T,)), degenerate ones
    dropped with their MotionError in ``results``."""
    got = _device_poses(clips, fs, options)
    pose, offsets = got.pose, got.offsets
    live = [j for j, r in enumerate(got) if not isinstance(r, MotionError)]
    for j, r in enumerate(got):
        if isinstance(r, MotionError):
            results[index[j]] = r
    if not live:
        return None
    if len(live) < len(got):
        t, _ = _ragged(_pieces(t, offsets, live))
        pose, offsets = _ragged(_pieces(pose, offsets, live))
        fs = fs[live]
    return _Poses([index[j] for j in live], t, pose, offsets, fs, [got[j][1] for j in live])


def _poses(sources: Sequence[Source], options: SimulationOptions, results: list) -> _Poses | None:
    """Unfiltered poses (``_Poses``) of the sources that pass the limits and have a frame;
    ``results[i]`` gets the MotionError of the others, and the repair notes of these.

    Skeleton clips of one joint vocabulary are screened and framed by compiled passes over all
    of them (``_skeleton_group``); clips that need repairs, rigid bodies and anything unusual take
    the per-clip path (``_check_limits``, ``_motion_joints``, ``_rigid_pose``)."""
    limits = options.limits or lim.DEFAULT_LIMITS
    groups: dict[tuple, list[int]] = {}
    loose: list[int] = []
    for i, src in enumerate(sources):
        if results[i] is not None:  # refused before (``screen.screen_sources``)
            continue
        if (isinstance(src, Motion) and src.num_frames <= limits.max_frames
                and _vocabulary(src.joint_names, options.placement) is not None):
            groups.setdefault(src.joint_names, []).append(i)
        else:
            loose.append(i)
    parts: list[_Poses] = []
    repair: list[int] = []
    for members in groups.values():
        part = _skeleton_group(sources, members, options, results, repair)
        if part is not None:
            parts.append(part)
    checked = set(repair)
    todo: list[tuple[int, np.ndarray, tuple]] = []  # (source, t, (positions, names, joint indices))
    rigid: list[tuple[int, np.ndarray, np.ndarray]] = []
    for i in sorted(loose + repair):
        src = sources[i]
        if i not in checked:
            try:
                _check_limits(src, options)
            except MotionError as err:
                results[i] = err
                continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if isinstance(src, RigidBodyTrajectory):
                    rigid.append((i, *_rigid_pose(src)))
                elif isinstance(src, Motion):
                    t, x, names = _motion_joints(src, options)
                    todo.append((i, t, (x, names, list(range(len(names))))))
                else:
                    raise TypeError(f"expected Motion or RigidBodyTrajectory, got {type(src).__name__}")
            except MotionError as err:
                results[i] = err
        if results[i] is None:
            results[i] = [str(w.message) for w in caught]
    if todo:
        fs = np.array([_rates(t[None])[0] for _, t, _ in todo])
        t, _ = _ragged([t for _, t, _ in todo])
        part = _pose_part([i for i, _, _ in todo], t, fs, [c for _, _, c in todo], options, results)
        if part is not None:
            parts.append(part)
    if rigid:
        t, offsets = _ragged([t for _, t, _ in rigid])
        pose, _ = _ragged([p for _, _, p in rigid])
        parts.append(_Poses([i for i, _, _ in rigid], t, pose, offsets,
                            np.array([_rates(t[None])[0] for _, t, _ in rigid]), [{}] * len(rigid)))
    if len(parts) <= 1:
        return parts[0] if parts else None
    t = np.concatenate([p.t for p in parts])
    pose = np.concatenate([p.pose for p in parts])
    offsets = np.zeros(sum(len(p.index) for p in parts) + 1, dtype=np.int64)
    np.cumsum(np.concatenate([np.diff(p.offsets) for p in parts]), out=offsets[1:])
    return _Poses(sum((p.index for p in parts), []), t, pose, offsets,
                  np.concatenate([p.fs for p in parts]), sum((p.infos for p in parts), []))


def _cutoffs(sources: Sequence[Source], poses: _Poses, options: SimulationOptions) -> list:
    """Effective low-pass cutoff of each clip of ``poses``, Hz (None: unfiltered)."""
    memo: dict = {}
    out = []
    for i, f in zip(poses.index, poses.fs.tolist()):
        src = sources[i]
        # the sources live through the call, so their ids (and their names') are theirs
        key = (id(src.joint_names) if isinstance(src, Motion) else id(src), f)
        if key not in memo:
            memo[key] = _effective_cutoff(_source_cutoff(options, src), options, f)
        out.append(memo[key])
    return out


class _SplineSetups(threading.local):
    """The spline set-up of the last clip simulated in this thread (``kernels.imu_from_pose_cached``):
    the next block, or the next single ``simulate`` call, on the same recording grid starts from it."""

    arrays: tuple | None = None


_SPLINES = _SplineSetups()
#: Largest set-up kept between calls (sites; instants up to 4 x as many): 37 MB at most.
_SPLINE_KEEP = 20_000


def _spline_cache(lengths: np.ndarray, nout: np.ndarray, order: np.ndarray) -> tuple:
    """Set-up arrays (grid, instants, band, first, table, span, state) for the clips ``order``:
    this thread's kept ones when large enough, else new ones (kept when not too large)."""
    if not len(order):
        return (np.empty(0), np.empty(0), np.empty((0, 11)), np.empty(0, np.int64),
                np.empty((0, 3, kernels.DEGREE + 1)), np.empty(0, np.int64), np.zeros(2, np.int64))
    maxn, maxq = int(lengths[order].max()), int(nout[order].max())
    kept = _SPLINES.arrays
    if kept is not None and len(kept[0]) >= maxn and len(kept[1]) >= maxq:
        return kept
    maxn, maxq = max(maxn, 1024), max(maxq, 2048)  # room for the usual clips
    arrays = (np.empty(maxn), np.empty(maxq), np.empty((maxn, 11)), np.empty(maxn, np.int64),
              np.empty((maxq, 3, kernels.DEGREE + 1)), np.empty(maxq, np.int64), np.zeros(2, np.int64))
    if maxn <= _SPLINE_KEEP and maxq <= 4 * _SPLINE_KEEP:
        _SPLINES.arrays = arrays
    return arrays


def _ideal_signals(poses: _Poses, cutoffs: list, tq: np.ndarray, q_offsets: np.ndarray,
                   live: np.ndarray, options: SimulationOptions) -> np.ndarray:
    """Ideal (sum N, 6) accel + gyro of the clips of ``poses`` at their instants tq (sum N,)
    (rows of clips not ``live`` are zero).

    The pose is low-passed at ``cutoffs`` (``kernels.lowpass_ragged``) and differentiated
    analytically through one quintic spline per channel (``kernels.imu_from_pose_sorted``, clips
    of one time grid side by side so that they share the spline setup; clips under 6 frames and
    the "savgol" method go through ``kinematics.derivatives``)."""
    offsets = poses.offsets
    filtered = np.empty_like(poses.pose)
    kernels.lowpass_ragged(poses.pose, offsets, *kin.lowpass_designs(poses.fs, cutoffs), filtered)
    ideal = np.zeros((len(tq), 6))
    lengths = np.diff(offsets)
    fast = live & (lengths >= 6) if options.derivative == "spline" else np.zeros_like(live)
    first = poses.t[offsets[:-1]]
    step = poses.t[offsets[:-1] + 1] - first
    order = np.lexsort((-lengths, step, first))
    order = order[fast[order]]
    kernels.imu_from_pose_cached(poses.t, filtered, offsets, tq, q_offsets, GRAVITY_WORLD[2], order,
                                 ideal, *_spline_cache(lengths, np.diff(q_offsets), order))
    for k in np.flatnonzero(live & ~fast).tolist():
        t, pose = poses.t[offsets[k]:offsets[k + 1]], filtered[offsets[k]:offsets[k + 1]]
        t_out = tq[q_offsets[k]:q_offsets[k + 1]]
        p_dd, = kin.derivatives(t, pose[:, :3], t_out, (2,), options.derivative)
        q, q_d = kin.derivatives(t, pose[:, 3:], t_out, (0, 1), options.derivative)
        sig = np.ascontiguousarray(np.concatenate([p_dd, q, q_d], axis=1))
        kernels.output_stage(sig, GRAVITY_WORLD[2], ideal[q_offsets[k]:q_offsets[k + 1]])
    return ideal


def _simulate_block(sources: Sequence[Source], options: SimulationOptions,
                    clip_ids: list[str], own: bool = True) -> list[ImuRecording | MotionError]:
    """Results of one block of sources (see ``simulate_iter``). ``own``: each recording's arrays
    are copies of its own; else C-contiguous views of the block's accel, gyro and time arrays
    (for callers that keep every result of the block anyway: no extra memory, no copies)."""
    results: list = [None] * len(sources)
    sources, screened = screen_sources(sources, options.screen, options.placement, results)
    poses = _poses(sources, options, results)
    if poses is None:
        return results
    rate = options.rate_hz
    offsets = poses.offsets
    t0, t1 = poses.t[offsets[:-1]], poses.t[offsets[1:] - 1]
    nout = np.floor((t1 - t0) * rate + 1e-9).astype(np.int64) + 1  # kinematics.output_times
    live = nout >= 2
    for k in np.flatnonzero(~live).tolist():
        results[poses.index[k]] = MotionError(f"clip lasts {t1[k] - t0[k]:.3g} s: too short for one "
                                              f"sample interval at {rate} Hz")
    if not live.any():
        return results
    q_offsets = np.zeros(len(nout) + 1, dtype=np.int64)
    np.cumsum(nout, out=q_offsets[1:])
    tq = np.empty(q_offsets[-1])
    kernels.output_instants(t0, q_offsets, float(rate), tq)
    cutoffs = _cutoffs(sources, poses, options)
    ideal = _ideal_signals(poses, cutoffs, tq, q_offsets, live, options)
    limits = options.limits or lim.DEFAULT_LIMITS  # judged on the ideal signals: a device clips
    a_max, g_max = np.empty(len(nout)), np.empty(len(nout))
    finite = kernels.clip_peaks(ideal, q_offsets, a_max, g_max)
    implausible = ~((a_max <= limits.max_accel_ms2) & (g_max <= limits.max_gyro_rads))
    cal = options.calibration
    if cal is not None:
        for k in np.flatnonzero(live).tolist():
            rows = slice(q_offsets[k], q_offsets[k + 1])
            ideal[rows] = np.concatenate(cal.rotate(ideal[rows, :3], ideal[rows, 3:]), axis=1)
    if options.device != "ideal":
        from .devices import apply_device_ragged, get_device

        rngs = ClipGenerators(options.seed, [clip_ids[i] for i in poses.index], "device")
        apply_device_ragged(ideal, q_offsets, options.rate_hz, get_device(options.device), rngs)
        # after the device model: every value finite (else clip by clip)
        finite = kernels.clip_peaks(ideal, q_offsets[[0, -1]], np.empty(1), np.empty(1))
    finite = finite and cal is None
    if cal is None and not own:  # one strided copy per block instead of two per clip
        accel, gyro = np.empty((len(ideal), 3)), np.empty((len(ideal), 3))
        kernels.split_signals(ideal, accel, gyro)
    rate = float(rate)
    bounds = q_offsets.tolist()
    for k, (i, info, cut, ok, bad) in enumerate(zip(poses.index, poses.infos, cutoffs, live.tolist(),
                                                    implausible.tolist())):
        if not ok:
            continue
        if bad:
            why = lim.imu_problem_max(float(a_max[k]), float(g_max[k]), limits)
            results[i] = MotionError(f"clip {clip_ids[i]!r}: {why}; check the motion for outliers")
            continue
        q0, q1 = bounds[k], bounds[k + 1]
        if cal is not None:
            a, g = (x.copy() for x in cal.map_quantiles(ideal[q0:q1, :3], ideal[q0:q1, 3:]))
        elif own:  # contiguous copies: own memory, not the block's
            a, g = ideal[q0:q1, :3].copy(), ideal[q0:q1, 3:].copy()
        else:
            a, g = accel[q0:q1], gyro[q0:q1]
        if not finite and not (np.isfinite(a).all() and np.isfinite(g).all()):
            results[i] = MotionError(f"clip {clip_ids[i]!r}: simulation produced non-finite values "
                                     "(check the motion for outliers)")
            continue
        info = {**info, "cutoff_hz": cut}
        if i in screened:
            info["screen"] = screened[i]
        results[i] = ImuRecording(a, g, tq[q0:q1].copy() if own else tq[q0:q1], rate,
                                  notes=results[i], info=info)
    return results


def simulate_iter(sources: Iterable[Source], options: SimulationOptions | None = None,
                  clip_ids: Iterable[str] | None = None, errors: str = "raise",
                  block: int = _BLOCK, prefix_notes: bool = True) -> Iterator[ImuRecording | MotionError]:
    """Simulate clips one block of ``block`` sources at a time, yielding results in input order.

    Memory holds one block's intermediate poses and signals, never the whole list's: feed it a
    generator of motions and consume the recordings as they come (each recording owns its
    arrays). Each result equals ``simulate(source, options, clip_id)`` bit for bit, whatever the
    block size or neighbours (every clip is computed on its own arithmetic; blocks only amortise
    Python overhead). Repairs of a clip are in its ``notes`` and also issued as warnings
    (prefixed with the clip id when ``prefix_notes``). ``errors="raise"`` raises an unusable
    clip's MotionError when it is reached; ``errors="return"`` yields it in that clip's place and
    goes on.
    """
    return _iter_results(sources, options, clip_ids, errors, block, prefix_notes, own=True)


def _iter_results(sources: Iterable[Source], options: SimulationOptions | None,
                  clip_ids: Iterable[str] | None, errors: str, block: int, prefix_notes: bool,
                  own: bool) -> Iterator[ImuRecording | MotionError]:
    """``simulate_iter``; ``own=False``: recordings are views of their block's arrays
    (``_simulate_block``)."""
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
        for cid, r in zip(cids, _simulate_block(srcs, options, cids, own)):
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

    The result of each clip equals ``simulate(source, options, clip_id)`` bit for bit. Since the
    list keeps every result, the recordings of one block (64 sources) share its accel, gyro and
    time arrays (each recording's arrays are C-contiguous views of its own rows) instead of
    copying them; stream with ``simulate_iter`` to get arrays of their own.
    """
    clip_ids = list(clip_ids) if clip_ids is not None else [str(i) for i in range(len(sources))]
    if len(clip_ids) != len(sources):
        raise ValueError(f"{len(clip_ids)} clip ids for {len(sources)} sources")
    return list(_iter_results(sources, options, clip_ids, errors, _BLOCK, len(sources) > 1,
                              own=False))


def simulate(source: Source, options: SimulationOptions | None = None,
             clip_id: str = "") -> ImuRecording:
    """Simulate one clip. See the module docstring for the physics and SimulationOptions."""
    return simulate_many([source], options, [clip_id])[0]
