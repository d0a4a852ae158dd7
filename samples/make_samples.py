"""Generate the embedded sample: short procedural skeletal motions of every hazard class and of four
safe activities, written as ``samples/<id>.npz`` plus ``samples/labels.csv`` (the ``npz`` folder
source of ``builders/folders.py``).

    python samples/make_samples.py [OUT_DIR]        # default: the folder of this script

The output is byte-identical on every run: fixed seeds, positions rounded to a 2^-14 m (0.06 mm)
grid (so last-bit differences of the maths library do not reach the float32 file) and zip members
with a fixed date.

Body: an articulated stick figure whose segment lengths are fractions of the subject's height
(after Winter's anthropometric tables), posed by joint angles over time and placed by forward
kinematics with scipy ``Rotation``; the legs and, where a task names a hand position, the arms
reach their targets by two-link inverse kinematics. Body frame x forward, y left, z up; world
frame z up with the floor at z = 0; metres. Motions are computed at 240 Hz and kept at 30 fps.

Physics where it matters: a fall integrates an inverted pendulum about the feet
(theta'' = 1.5 g / height * sin theta) until the first joint meets the floor, rebounds with a
small restitution, settles and lies still; the jump from height is ballistic (the pelvis follows
p'' = g between take-off and touch-down, with take-off and landing C1 in velocity).
"""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

FPS = 30
OVERSAMPLE = 8
DT = 1.0 / (FPS * OVERSAMPLE)
G = 9.80665
#: Joint centres never go below this height (a joint centre lies a few cm above the floor).
FLOOR_Z = 0.03
#: A joint centre this low touches the floor (falls: the contact event).
CONTACT_Z = 0.055
#: Positions are rounded to this grid (m): exact in float32 below 256 m.
GRID_M = 2.0 ** -14
SIDES = {"left": 1.0, "right": -1.0}
_LIMB_PARTS = ("elbow", "wrist", "hand", "thumb", "knee", "ankle")
_SIDED = ("shoulder", "elbow", "wrist", "hand", "thumb", "hip", "knee", "ankle")
JOINTS: tuple[str, ...] = ("pelvis", "spine_mid", "spine_shoulder", "neck", "head") + tuple(
    f"{side}_{part}" for side in SIDES for part in _SIDED)

#: subject -> (height m, split that ``builders.sources.folders.folder_split`` gives the name).
SUBJECTS = {
    "S02": (1.62, "train"), "S04": (1.71, "train"), "S05": (1.87, "train"),
    "S01": (1.76, "validation"), "S12": (1.58, "validation"),
    "S03": (1.82, "test"), "S10": (1.66, "test"),
}
_BY_SPLIT = {s: [k for k, (_, sp) in SUBJECTS.items() if sp == s] for s in ("train", "validation", "test")}


@dataclass(frozen=True)
class Body:
    """Segment lengths (m) of a subject of height ``height``."""

    height: float

    def __getattr__(self, name: str) -> float:  # fractions of height
        try:
            return _FRACTIONS[name] * self.height
        except KeyError:
            raise AttributeError(name) from None

    @property
    def leg(self) -> float:
        return self.thigh + self.shank

    @property
    def arm(self) -> float:
        return self.upper_arm + self.forearm

    @property
    def stand_pelvis(self) -> float:
        """Pelvis height standing (knees nearly straight) with the feet on the floor."""
        return self.ankle + 0.997 * self.leg + self.pelvis_up


_FRACTIONS = {
    "thigh": 0.245, "shank": 0.246, "ankle": 0.039, "hip_half": 0.055, "pelvis_up": 0.02,
    "lumbar": 0.135, "thoracic": 0.135, "neck_len": 0.045, "head_up": 0.065, "head_fwd": 0.012,
    "shoulder_half": 0.115, "shoulder_down": 0.02, "upper_arm": 0.186, "forearm": 0.146,
    "hand": 0.05, "thumb_radial": 0.028, "thumb_distal": 0.038,
}


# ---------------------------------------------------------------- time profiles

def smoothstep(x):
    """Quintic 0 -> 1 on [0, 1] with zero velocity and acceleration at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x ** 3 * (10.0 - 15.0 * x + 6.0 * x * x)


def ramp(t, t0: float, t1: float):
    return smoothstep((t - t0) / max(t1 - t0, 1e-9))


def bump(t, t0: float, rise: float, hold: float, fall: float):
    """0 -> 1 over [t0, t0+rise], 1 for ``hold``, back to 0 over ``fall``."""
    return ramp(t, t0, t0 + rise) - ramp(t, t0 + rise + hold, t0 + rise + hold + fall)


def keys(t, knots):
    """Piecewise quintic through (time, value) knots; values scalars or equal-length vectors."""
    times = np.array([k[0] for k in knots], dtype=float)
    vals = np.array([k[1] for k in knots], dtype=float)
    out = np.repeat(vals[:1], len(t), axis=0)
    for i in range(1, len(knots)):
        w = ramp(t, times[i - 1], times[i])
        w = w.reshape((-1,) + (1,) * (vals.ndim - 1))
        out = out + w * (vals[i] - vals[i - 1])
    return out


def wobble(rng, n: int, scale_s: float, amp, dims: tuple[int, ...] = ()):
    """Smooth random motion: white noise low-passed with a Gaussian of ``scale_s``, rms ``amp``."""
    white = rng.standard_normal((n,) + dims)
    sm = gaussian_filter1d(white, scale_s / DT, axis=0, mode="nearest")
    return np.asarray(amp) * sm / (sm.std(axis=0) + 1e-12)


def hermite5(t, t0, t1, p0, v0, a0, p1, v1, a1):
    """Quintic with given position, velocity and acceleration at t0 and t1 (clamped outside)."""
    h = t1 - t0
    s = np.clip((t - t0) / h, 0.0, 1.0)
    h00 = 1 - 10 * s**3 + 15 * s**4 - 6 * s**5
    h10 = s - 6 * s**3 + 8 * s**4 - 3 * s**5
    h20 = 0.5 * s**2 - 1.5 * s**3 + 1.5 * s**4 - 0.5 * s**5
    h01 = 10 * s**3 - 15 * s**4 + 6 * s**5
    h11 = -4 * s**3 + 7 * s**4 - 3 * s**5
    h21 = 0.5 * s**3 - s**4 + 0.5 * s**5
    return h00 * p0 + h10 * h * v0 + h20 * h * h * a0 + h01 * p1 + h11 * h * v1 + h21 * h * h * a1


# ---------------------------------------------------------------- pose and kinematics

@dataclass
class Arm:
    """Arm angles (T,) rad: upper-arm elevation plane (0 forward, +90 deg out to the side) and
    elevation (0 hanging, 90 deg horizontal; negative = behind), axial rotation (+ external),
    elbow flexion, forearm pronation (+ turns the thumb toward the body's midline)."""

    plane: np.ndarray
    elev: np.ndarray
    axial: np.ndarray
    elbow: np.ndarray
    pron: np.ndarray


def arm(n: int, plane=0.0, elev=0.0, axial=0.0, elbow=0.0, pron=0.0) -> Arm:
    """Arm from angles in degrees (scalars or (n,) arrays)."""
    f = lambda v: np.deg2rad(np.broadcast_to(np.asarray(v, dtype=float), (n,))).copy()
    return Arm(f(plane), f(elev), f(axial), f(elbow), f(pron))


def mix_arm(a: Arm, b: Arm, w) -> Arm:
    return Arm(*(x + (y - x) * w for x, y in zip(vars(a).values(), vars(b).values())))


@dataclass
class Pose:
    """root: (T, 3) pelvis, m; root_rot: body -> world; spine: (T, 3) flexion, bend to the left,
    twist to the left, rad (pelvis to thorax, half in each spine segment); neck: (T,) flexion, rad;
    arms: side -> Arm; ankles: side -> (T, 3) targets of the leg IK, m."""

    root: np.ndarray
    root_rot: Rotation
    spine: np.ndarray
    neck: np.ndarray
    arms: dict[str, Arm]
    ankles: dict[str, np.ndarray]


def _rot(axis: int, angle) -> Rotation:
    v = np.zeros((len(angle), 3))
    v[:, axis] = angle
    return Rotation.from_rotvec(v)


def _unit(v):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _thorax(body: Body, p: Pose):
    half = p.spine / 2
    r_half = _rot(2, half[:, 2]) * _rot(1, half[:, 0]) * _rot(0, -half[:, 1])
    r_mid = p.root_rot * r_half
    r_t = r_mid * r_half
    mid = p.root + r_mid.apply([0.0, 0.0, body.lumbar])
    top = mid + r_t.apply([0.0, 0.0, body.thoracic])
    return r_t, mid, top


def shoulder(body: Body, p: Pose, side: str):
    """(shoulder position (T, 3), thorax rotation) of one side."""
    r_t, _, top = _thorax(body, p)
    return top + r_t.apply([0.0, SIDES[side] * body.shoulder_half, -body.shoulder_down]), r_t


def leg_ik(body: Body, hip, target, forward):
    """Knee and ankle (T, 3) reaching ``target`` from ``hip``; the knee bends toward ``forward``."""
    v = target - hip
    d = np.linalg.norm(v, axis=1)
    e = v / d[:, None]
    dc = np.clip(d, 0.2 * body.leg, 0.999 * body.leg)[:, None]
    cos_a = (body.thigh**2 + dc**2 - body.shank**2) / (2 * body.thigh * dc)
    fp = _unit(forward - np.sum(forward * e, axis=1, keepdims=True) * e)
    knee = hip + body.thigh * (cos_a * e + np.sqrt(1 - cos_a**2) * fp)
    return knee, hip + dc * e


def arm_ik(body: Body, side: str, w, pole, pron) -> Arm:
    """Arm angles putting the wrist at ``w`` (T, 3) (thorax frame, from the shoulder); the elbow
    swings toward ``pole`` (thorax frame); ``pron`` (T,) rad."""
    s = SIDES[side]
    l1, l2 = body.upper_arm, body.forearm
    w = np.atleast_2d(w)
    pole = np.broadcast_to(np.asarray(pole, dtype=float), w.shape)
    wh = _unit(w)
    d = np.clip(np.linalg.norm(w, axis=1), 0.25 * body.arm, 0.99 * body.arm)[:, None]
    elbow = np.arccos(np.clip((d**2 - l1**2 - l2**2) / (2 * l1 * l2), -1, 1))[:, 0]
    cos_a = (l1**2 + d**2 - l2**2) / (2 * l1 * d)
    pp = _unit(pole - np.sum(pole * wh, axis=1, keepdims=True) * wh)
    a = cos_a * wh + np.sqrt(1 - cos_a**2) * pp
    f = _unit(d * wh - l1 * a)
    elev = np.arccos(np.clip(-a[:, 2], -1, 1))
    plane = np.arctan2(s * a[:, 1], a[:, 0])
    g = (_rot(1, elev) * _rot(2, -s * plane)).apply(f)
    axial = s * np.arctan2(g[:, 1], g[:, 0])
    return Arm(plane, elev, axial, elbow, np.broadcast_to(pron, elev.shape).astype(float))


def _swing(a, b, axis, w):
    """Directions (T, 3) turning from ``a`` to ``b`` about ``axis`` (T, 3) as ``w`` goes 0 -> 1,
    both taken perpendicular to the axis, the shorter way round."""
    pa = _unit(a - np.sum(a * axis, axis=1, keepdims=True) * axis)
    pb = _unit(b - np.sum(b * axis, axis=1, keepdims=True) * axis)
    ang = np.arctan2(np.sum(np.cross(pa, pb) * axis, axis=1), np.sum(pa * pb, axis=1)) * w
    return pa * np.cos(ang)[:, None] + np.cross(axis, pa) * np.sin(ang)[:, None]


def arm_to_world(body: Body, p: Pose, side: str, target, pole, pron) -> Arm:
    """``arm_ik`` for a wrist target (T, 3) in the world frame."""
    sh, r_t = shoulder(body, p, side)
    return arm_ik(body, side, r_t.inv().apply(target - sh), pole, pron)


def forward_kinematics(body: Body, p: Pose) -> np.ndarray:
    """Joint positions (T, J, 3) in the order of ``JOINTS``, m."""
    r_t, mid, top = _thorax(body, p)
    out = {"pelvis": p.root, "spine_mid": mid, "spine_shoulder": top}
    r_n = r_t * _rot(1, p.neck)
    out["neck"] = top + r_n.apply([0.0, 0.0, body.neck_len])
    out["head"] = out["neck"] + r_n.apply([body.head_fwd, 0.0, body.head_up])
    fwd = p.root_rot.apply([1.0, 0.0, 0.0])
    knee_pole = fwd + 1.5 * np.clip(-fwd[:, 2:], 0, None) * [0.0, 0.0, 1.0]  # prone: knees bend up
    for side, s in SIDES.items():
        a = p.arms[side]
        sh = top + r_t.apply([0.0, s * body.shoulder_half, -body.shoulder_down])
        r_u = r_t * _rot(2, s * a.plane) * _rot(1, -a.elev) * _rot(2, s * a.axial)
        el = sh + r_u.apply([0.0, 0.0, -body.upper_arm])
        r_f = r_u * _rot(1, -a.elbow) * _rot(2, -s * a.pron)
        wr = el + r_f.apply([0.0, 0.0, -body.forearm])
        hip = p.root + p.root_rot.apply([0.0, s * body.hip_half, -body.pelvis_up])
        knee, ankle = leg_ik(body, hip, p.ankles[side], knee_pole)
        out.update({
            f"{side}_shoulder": sh, f"{side}_elbow": el, f"{side}_wrist": wr,
            f"{side}_hand": wr + r_f.apply([0.0, 0.0, -body.hand]),
            f"{side}_thumb": wr + r_f.apply([body.thumb_radial, 0.0, -body.thumb_distal]),
            f"{side}_hip": hip, f"{side}_knee": knee, f"{side}_ankle": ankle,
        })
    return np.stack([out[j] for j in JOINTS], axis=1)


# ---------------------------------------------------------------- building blocks

def hanging(n: int, rng, side: str) -> Arm:
    """Relaxed arm at the side with a little idle motion."""
    return arm(n, plane=8, elev=4 + wobble(rng, n, 0.5, 1.5), elbow=10 + wobble(rng, n, 0.6, 2.0), pron=15)


def standing(body: Body, t, rng, ground: float = 0.0, width: float = 1.0) -> Pose:
    """Quiet standing: postural sway of the pelvis and trunk, arms hanging."""
    n = len(t)
    root = np.zeros((n, 3))
    root[:, :2] = wobble(rng, n, 0.5, 0.006, (2,))
    root[:, 2] = ground + body.stand_pelvis
    spine = np.column_stack([np.deg2rad(2 + wobble(rng, n, 0.6, 1.0)), np.deg2rad(wobble(rng, n, 0.6, 0.8)),
                             np.zeros(n)])
    ankles = {side: np.tile([0.0, s * body.hip_half * width, ground + body.ankle], (n, 1))
              for side, s in SIDES.items()}
    return Pose(root, Rotation.identity(n), spine, np.deg2rad(wobble(rng, n, 0.8, 2.0)),
                {side: hanging(n, rng, side) for side in SIDES}, ankles)


Step = tuple[str, float, float, tuple[float, float]]  # side, lift-off s, touch-down s, landing (x, y)


def plan_walk(body: Body, n_steps: int, step_len: float, step_time: float, t0: float,
              first: str = "left", direction: float = 1.0, x0: float = 0.0) -> list[Step]:
    """Steps from standing to standing: alternate feet, each lands ``step_len`` past the other;
    the last brings the feet together. Swing = 80 % of a step (20 % double support)."""
    feet = {"left": x0, "right": x0}
    steps: list[Step] = []
    side = first
    for k in range(n_steps):
        other = "right" if side == "left" else "left"
        x = feet[other] if k == n_steps - 1 else feet[other] + direction * step_len
        ta = t0 + k * step_time
        steps.append((side, ta, ta + 0.8 * step_time, (x, SIDES[side] * body.hip_half)))
        feet[side] = x
        side = other
    return steps


def feet_from_steps(body: Body, t, steps: list[Step], start: dict[str, tuple[float, float]],
                    ground: float = 0.0, lift: float | None = None) -> dict[str, np.ndarray]:
    """Ankle trajectories (T, 3): planted between steps, a smooth arc during each swing."""
    lift = 0.055 * body.height if lift is None else lift
    out = {}
    for side in SIDES:
        cur = np.array(start[side], dtype=float)
        xy = np.tile(cur, (len(t), 1))
        z = np.full(len(t), ground + body.ankle)
        for sd, ta, tb, to in steps:
            if sd != side:
                continue
            u = np.clip((t - ta) / (tb - ta), 0, 1)
            m = t >= ta
            to = np.asarray(to, dtype=float)
            xy[m] = cur + (to - cur) * smoothstep(u[m])[:, None]
            z += lift * min(1.0, 2.5 * np.linalg.norm(to - cur) / body.height) * np.sin(np.pi * u) ** 2
            cur = to
        out[side] = np.column_stack([xy, z])
    return out


def pelvis_from_feet(body: Body, t, ankles, ground: float = 0.0, crouch=0.0, sway: float = 0.35,
                     smooth_s: float = 0.18):
    """Pelvis (T, 3) carried over the feet: the smoothed midpoint of the ankles, shifted toward the
    supporting foot, as high as the legs reach (it dips when the feet are apart)."""
    a, b = ankles["left"], ankles["right"]
    mid = (a[:, :2] + b[:, :2]) / 2
    on_l = a[:, 2] <= ground + body.ankle + 1e-3
    on_r = b[:, 2] <= ground + body.ankle + 1e-3
    support = np.where((on_l & ~on_r)[:, None], a[:, :2], np.where((on_r & ~on_l)[:, None], b[:, :2], mid))
    xy = gaussian_filter1d(mid + sway * (support - mid), smooth_s / DT, axis=0, mode="nearest")
    z = np.full(len(t), ground + body.stand_pelvis) - crouch
    for foot, s in ((a, 1.0), (b, -1.0)):
        hip_xy = xy + [0.0, s * body.hip_half]
        # heel and toe roll make the effective leg longer when the feet are apart (the ankle of
        # the trailing foot rises at heel-off): count half the horizontal spread
        dh2 = 0.5 * np.sum((hip_xy - foot[:, :2]) ** 2, axis=1)
        reach = foot[:, 2] + np.sqrt(np.maximum((0.985 * body.leg) ** 2 - dh2, 0.0)) + body.pelvis_up
        z = np.minimum(z, reach)
    z = gaussian_filter1d(z, 0.05 / DT, mode="nearest") - 0.004
    return np.column_stack([xy, z])


def walk_arms(n: int, rng, ankles, step_len: float, amp_deg: float, direction: float = 1.0) -> dict[str, Arm]:
    """Arm swing in counter-phase with the leg of the same side."""
    arms = {}
    for side, s in SIDES.items():
        other = "right" if side == "left" else "left"
        lead = direction * (ankles[other][:, 0] - ankles[side][:, 0]) / step_len
        swing = gaussian_filter1d(np.clip(lead, -1.2, 1.2), 0.06 / DT, mode="nearest")
        arms[side] = arm(n, plane=8, elev=3 + amp_deg * swing, elbow=14 + 0.5 * amp_deg * np.clip(swing, 0, None)
                         + wobble(rng, n, 0.5, 1.0), pron=15)
    return arms


def walking_pose(body: Body, t, rng, steps: list[Step], step_len: float, direction: float = 1.0,
                 amp_deg: float = 18.0, crouch=0.0) -> Pose:
    n = len(t)
    start = {side: (0.0, s * body.hip_half) for side, s in SIDES.items()}
    ankles = feet_from_steps(body, t, steps, start)
    root = pelvis_from_feet(body, t, ankles, crouch=crouch)
    vel = np.gradient(root[:, 0], DT)
    lean = 2.0 + 3.0 * np.clip(direction * vel, 0, 1.5)
    spine = np.column_stack([np.deg2rad(direction * lean + wobble(rng, n, 0.6, 0.8)),
                             np.deg2rad(wobble(rng, n, 0.6, 0.8)),
                             np.deg2rad(-4.0 * (ankles["left"][:, 0] - ankles["right"][:, 0]) / step_len)])
    return Pose(root, Rotation.identity(n), spine, np.deg2rad(wobble(rng, n, 0.8, 2.0)),
                walk_arms(n, rng, ankles, step_len, amp_deg, direction), ankles)


def splice(p: Pose, q: Pose, w) -> Pose:
    """Blend posture of p into q with weight w (T,) (root rotations must both be identity)."""
    wc = w[:, None]
    return Pose(p.root + (q.root - p.root) * wc, p.root_rot, p.spine + (q.spine - p.spine) * wc,
                p.neck + (q.neck - p.neck) * w, {s: mix_arm(p.arms[s], q.arms[s], w) for s in SIDES},
                {s: p.ankles[s] + (q.ankles[s] - p.ankles[s]) * wc for s in SIDES})


def time_grid(duration_s: float) -> np.ndarray:
    return np.arange(int(round(duration_s * FPS)) * OVERSAMPLE) * DT


# ---------------------------------------------------------------- falls

def _pendulum(t0: float, beta0: float, omega0: float, k: float, limit: float):
    """phi(t) from t0: phi'' = k sin(beta0 + phi), phi(t0) = 0, phi'(t0) = omega0, until
    |beta0 + phi| reaches ``limit``; returns (dense solution, end time)."""
    sign = 1.0 if omega0 >= 0 else -1.0

    def stop(_, y):
        return abs(beta0 + y[0]) - limit
    stop.terminal = True
    sol = solve_ivp(lambda _, y: [y[1], k * np.sin(beta0 + y[0])], (t0, t0 + 4.0), [0.0, omega0],
                    events=stop, dense_output=True, rtol=1e-9, atol=1e-11, max_step=0.01)
    if sol.status != 1 or sign * (beta0 + sol.y[0, -1]) < 0:
        raise RuntimeError("the fall does not fall: raise omega0")
    return sol.sol, float(sol.t[-1])


def fall_about(body: Body, t, pre: Pose, brace: Pose, t0: float, pivot, axis: int, beta0: float,
               omega0: float, rest_lean: float, sag: float = 0.0, k: float | None = None,
               planted: bool = True, restitution: float = 0.15, settle_s: float = 0.6,
               pelvis_path: Callable | None = None) -> Pose:
    """The pre-fall pose until t0, then the body rotates about a horizontal ``axis`` (1: pitch
    about the body y axis, forward positive; 0: roll about x, toward the right positive) through
    ``pivot`` as an inverted pendulum (lean beta0 + phi), the posture blending into ``brace``.
    At the first floor contact the rotation rebounds (restitution) and settles to a lean of
    ``rest_lean`` (rad); with ``planted``, wrists at the floor then stay where they landed.
    ``pelvis_path(phi) -> (T, 3)`` replaces the rigid pivot (fainting: the pelvis sinks)."""
    n = len(t)
    k = 1.5 * G / body.height if k is None else k
    sign = 1.0 if omega0 >= 0 else -1.0
    sol, t_end = _pendulum(t0, beta0, omega0, k, np.pi / 2 + 0.15)
    w = ramp(t, t0, t0 + 0.45)
    pose = splice(pre, brace, w)
    sag_t = sag * ramp(t, t0, t0 + 0.6)
    pivot = np.asarray(pivot, dtype=float)
    i0 = int(np.searchsorted(t, t0))
    ankles_t0 = {s: pre.ankles[s][i0] for s in SIDES}

    def place(phi):
        r = _rot(axis, phi)
        root = np.where((t >= t0)[:, None], pose.root[i0], pose.root)  # the feet stop: so does the pelvis
        root[:, 2] -= sag_t
        if pelvis_path is not None:
            new_root = pelvis_path(phi)
        else:
            new_root = pivot + r.apply(root - pivot)
        ankles = {s: np.where((t >= t0)[:, None], ankles_t0[s], pose.ankles[s]) for s in SIDES}
        for s in SIDES:  # a foot in the air when the fall starts comes down
            a = ankles[s]
            a[:, 2] = np.where(t >= t0, body.ankle + (a[:, 2] - body.ankle) * (1 - ramp(t, t0, t0 + 0.15)), a[:, 2])
        return Pose(new_root, r * pose.root_rot, pose.spine, pose.neck, dict(pose.arms), ankles)

    # free fall of the rotation: find the first contact with the floor
    phi = np.where(t >= t0, sol(np.clip(t, t0, t_end))[0], 0.0)
    pts = forward_kinematics(body, place(phi))
    upper = [i for i, j in enumerate(JOINTS) if not j.endswith(("ankle", "knee"))]
    low = pts[:, upper, 2].min(axis=1)
    hit = np.flatnonzero((t > t0 + 0.1) & (low <= CONTACT_Z))
    i_c = int(hit[0]) if hit.size else int(np.searchsorted(t, t_end))
    t_c = t[i_c]
    phi_c, omega_c = sol(t_c)
    rest_phi = sign * rest_lean - beta0
    # lie no lower than the trunk allows: sweep phi from contact to rest, stop where a trunk joint
    # (its centre ~6 cm above the floor) would go lower
    after = np.flatnonzero(t >= t_c)
    sweep = phi.copy()
    sweep[after] = phi_c + (rest_phi - phi_c) * np.linspace(0.0, 1.0, after.size)
    trunk = [i for i, j in enumerate(JOINTS) if not j.endswith(_LIMB_PARTS)]
    low = forward_kinematics(body, place(sweep))[after][:, trunk, 2].min(axis=1)
    below = np.flatnonzero(low < 0.06)
    if below.size:
        rest_phi = sweep[after[below[0]]]
    # rebound: velocity reversed with the restitution, decaying; then a slow settle to rest
    tau = 0.07
    tp = np.clip(t - t_c, 0, None)
    rebound = -restitution * omega_c * tp * np.exp(-tp / tau)
    settle = (rest_phi - phi_c) * ramp(t, t_c + 0.05, t_c + 0.05 + settle_s)
    phi = np.where(t < t_c, phi, phi_c + rebound + settle)
    final = place(phi)
    relax = ramp(t, t_c, t_c + 0.05 + settle_s)
    # lying still: the postural sway of the trunk and head fades out while the body settles
    final.spine = final.spine + (final.spine[i_c] - final.spine) * relax[:, None]
    final.neck = final.neck + (final.neck[i_c] - final.neck) * relax
    limp = arm(n, plane=10, elev=10, elbow=25, pron=20)
    contact = place(np.where(t < t_c, phi, phi_c))
    for s in SIDES:
        wrist = pts[i_c, JOINTS.index(f"{s}_wrist")]
        if not planted or wrist[2] > 0.5:  # an arm in the air falls along the body
            final.arms[s] = mix_arm(final.arms[s], limp, relax)
        else:
            # the IK pole is the elbow at contact (thorax frame), so the arm continues unchanged;
            # a wrist still above the floor comes down to it while the body settles, the elbow
            # turning up (away from the floor) as the arm bends under the body's weight
            sh, r_t = shoulder(body, contact, s)
            pole_c = r_t[i_c].inv().apply(pts[i_c, JOINTS.index(f"{s}_elbow")] - sh[i_c])
            target = wrist + ([wrist[0], wrist[1], FLOOR_Z + 0.015] - wrist) * relax[:, None]
            sh, r_t = shoulder(body, final, s)
            w_local = r_t.inv().apply(target - sh)
            pole_rest = r_t[n - 1].inv().apply([0.0, 0.0, 1.0]) + [0.0, 0.5 * SIDES[s], 0.0]
            pole = _swing(pole_c, pole_rest, _unit(w_local), ramp(t, t_c, t_c + 0.05 + settle_s))
            ik = arm_ik(body, s, w_local, pole, final.arms[s].pron)
            a = final.arms[s]
            final.arms[s] = Arm(*(np.where(t >= t_c, y, x) for x, y in zip(vars(a).values(), vars(ik).values())))
    return final


# ---------------------------------------------------------------- activities

def walking(body: Body, rng, variant: int):
    speed = rng.uniform(1.05, 1.35) * np.sqrt(body.height / 1.75)
    step_len = 0.40 * body.height * rng.uniform(0.92, 1.04)
    step_time = step_len / speed
    t0 = rng.uniform(0.4, 0.7)
    n_steps = 7
    t = time_grid(t0 + (n_steps - 1) * step_time + 0.8 * step_time + rng.uniform(0.5, 0.8))
    steps = plan_walk(body, n_steps, step_len, step_time, t0, first=("left", "right")[variant % 2])
    return walking_pose(body, t, rng, steps, step_len, amp_deg=rng.uniform(15, 24))


def waving(body: Body, rng, variant: int):
    side = "right" if variant == 2 else "left"
    t_up = rng.uniform(0.5, 0.8)
    t_w = t_up + rng.uniform(0.8, 1.0)
    t_end = t_w + rng.uniform(1.8, 2.4)
    freq = rng.uniform(1.6, 2.2)
    t = time_grid(t_end + rng.uniform(1.3, 1.6))
    n = len(t)
    pose = standing(body, t, rng)
    up = ramp(t, t_up, t_w) - ramp(t, t_end, t_end + 0.9)
    env = ramp(t, t_w - 0.2, t_w + 0.2) * (1 - ramp(t, t_end - 0.2, t_end + 0.2))
    wave = arm(n, plane=rng.uniform(70, 85), elev=rng.uniform(85, 100), axial=0,
               elbow=85 + rng.uniform(15, 20) * env * np.sin(2 * np.pi * freq * (t - t_w)), pron=-20)
    pose.arms[side] = mix_arm(pose.arms[side], wave, up)
    pose.spine[:, 1] -= SIDES[side] * np.deg2rad(4) * up
    return pose


def drinking(body: Body, rng, variant: int):
    side = "right" if variant == 1 else "left"
    s = SIDES[side]
    t = time_grid(rng.uniform(7.5, 8.0))
    pose = standing(body, t, rng)
    la, h = body.arm, body.height
    rest = np.array([0.03, 0.03 * s, -0.985]) * la
    cup = np.array([0.55, -0.05 * s, -0.55]) * la
    mouth = np.array([0.06 * h + 0.05, -s * (0.115 * h - 0.07), 0.11 * h - 0.10])
    t1 = rng.uniform(0.5, 0.8)
    t2 = t1 + rng.uniform(0.8, 1.0)    # cup lifted from the table
    t3 = t2 + rng.uniform(1.0, 1.2)    # at the mouth
    t4 = t3 + rng.uniform(1.0, 1.4)    # sip done
    t5 = t4 + rng.uniform(0.9, 1.1)    # cup back on the table
    t6 = t5 + rng.uniform(0.8, 1.0)    # hand back at the side
    w = keys(t, [(t1, rest), (t2, cup), (t2 + 0.25, cup + [0, 0, 0.02]), (t3, mouth), (t4, mouth + [0.01, 0, 0.01]),
                 (t5, cup), (t5 + 0.25, cup), (t6, rest)])
    tilt = bump(t, t3 - 0.2, 0.5, t4 - t3 - 0.6, 0.5)
    pron = np.deg2rad(10 - 35 * tilt)
    pose.arms[side] = arm_ik(body, side, w, [-0.2, 0.9 * s, -1.0], pron)
    pose.neck += np.deg2rad(-18) * tilt
    pose.spine[:, 0] += np.deg2rad(12) * (bump(t, t1, t2 - t1, 0.1, 0.5) + bump(t, t4, t5 - t4, 0.1, 0.5))
    return pose


def sitting_down(body: Body, rng, variant: int):
    t = time_grid(rng.uniform(5.5, 6.5))
    n = len(t)
    pose = standing(body, t, rng)
    t1 = rng.uniform(0.8, 1.3)
    d = rng.uniform(1.2, 1.6)
    seat = rng.uniform(0.42, 0.48)
    back = rng.uniform(0.20, 0.26) * body.height / 1.75
    for ankle in pose.ankles.values():  # feet a little forward, where they stay
        ankle[:, 0] = 0.05
    x = -back * ramp(t, t1, t1 + 0.8 * d)
    z = body.stand_pelvis + (seat + 0.10 - body.stand_pelvis) * ramp(t, t1 + 0.15 * d, t1 + d)
    pose.root[:, 0] += x
    pose.root[:, 2] = z
    flex = keys(t, [(t1, 0.0), (t1 + 0.55 * d, rng.uniform(32, 40)), (t1 + d + 0.3, -4.0)])
    pose.spine[:, 0] += np.deg2rad(flex)
    sit = arm(n, plane=5, elev=30, elbow=55, pron=70)
    reach = arm(n, plane=15, elev=35, elbow=20, pron=40)
    w_reach = bump(t, t1 + 0.2 * d, 0.4 * d, 0.1, 0.4 * d)
    for side in SIDES:
        pose.arms[side] = mix_arm(mix_arm(pose.arms[side], sit, ramp(t, t1 + 0.3 * d, t1 + d + 0.3)), reach, w_reach)
    return pose


def falling(body: Body, rng, variant: int):
    t = time_grid(rng.uniform(5.5, 6.0))
    n = len(t)
    if variant == 0:  # tripping while walking: pitch forward over the stance foot, hands first
        step_len = 0.40 * body.height
        step_time = step_len / rng.uniform(1.0, 1.25)
        t_start = rng.uniform(0.3, 0.5)
        steps = plan_walk(body, 8, step_len, step_time, t_start)
        pre = walking_pose(body, t, rng, steps, step_len)
        t0 = t_start + 2.3 * step_time    # early in the swing of the third step: its foot is caught
        i0 = int(np.searchsorted(t, t0))
        stance = "right"                   # steps alternate left, right, left: the left swings
        pivot = pre.ankles[stance][i0].copy()
        rel = pre.root[i0] - pivot
        beta0 = np.arctan2(rel[0], rel[2])
        vx = np.gradient(pre.root[:, 0], DT)[i0]
        omega0 = max(vx * np.cos(beta0) / np.linalg.norm(rel), 0.6)
        brace = standing(body, t, rng)
        brace.root, brace.ankles = pre.root, pre.ankles
        brace.spine[:, 0] = np.deg2rad(10)
        brace.neck[:] = np.deg2rad(-25)
        brace.arms = {s: arm(n, plane=rng.uniform(15, 30), elev=rng.uniform(65, 80), elbow=rng.uniform(15, 25),
                             pron=70) for s in SIDES}
        return fall_about(body, t, pre, brace, t0, pivot, 1, beta0, omega0, np.pi / 2 - 0.04,
                          sag=0.03 * body.height)
    if variant == 1:  # slipping backward from standing: sits back, lands on the back
        pre = standing(body, t, rng)
        t0 = rng.uniform(1.5, 2.0)
        i0 = int(np.searchsorted(t, t0))
        pivot = (pre.ankles["left"][i0] + pre.ankles["right"][i0]) / 2 + [-0.04, 0, 0]
        brace = standing(body, t, rng)
        brace.root, brace.ankles = pre.root, pre.ankles
        brace.spine[:, 0] = np.deg2rad(25)
        brace.neck[:] = np.deg2rad(30)
        brace.arms = {s: arm(n, plane=rng.uniform(95, 115), elev=rng.uniform(45, 60), elbow=20, pron=0)
                      for s in SIDES}
        return fall_about(body, t, pre, brace, t0, pivot, 1, -0.03, -rng.uniform(0.6, 0.9),
                          np.pi / 2 - 0.06, sag=0.10 * body.height)
    # variant 2: falling sideways to the right from standing
    pre = standing(body, t, rng)
    t0 = rng.uniform(1.5, 2.0)
    i0 = int(np.searchsorted(t, t0))
    pivot = pre.ankles["right"][i0] + [0, -0.04, 0]
    rel = pre.root[i0] - pivot
    beta0 = np.arctan2(-rel[1], rel[2])
    brace = standing(body, t, rng)
    brace.root, brace.ankles = pre.root, pre.ankles
    brace.spine[:, 1] = np.deg2rad(12)
    brace.arms = {"right": arm(n, plane=80, elev=rng.uniform(55, 70), elbow=15, pron=60),
                  "left": arm(n, plane=10, elev=rng.uniform(50, 70), elbow=rng.uniform(70, 90), pron=40)}
    return fall_about(body, t, pre, brace, t0, pivot, 0, beta0, rng.uniform(0.8, 1.0), np.pi / 2 - 0.1,
                      sag=0.04 * body.height)


def fainting(body: Body, rng, variant: int):
    """Sway, knees buckle slowly, the body sinks into a crouch and tips over (backward or to the
    side), the pelvis reaching the floor as the trunk lands."""
    t = time_grid(rng.uniform(7.0, 8.0))
    n = len(t)
    pre = standing(body, t, rng)
    pre.root[:, :2] += wobble(rng, n, 0.7, 0.02, (2,)) * ramp(t, 0.5, 2.5)[:, None]
    t1 = rng.uniform(1.8, 2.4)
    d = rng.uniform(1.0, 1.4)
    crouch_z = rng.uniform(0.30, 0.34) * body.height
    sink = ramp(t, t1, t1 + d) ** 1.5
    pre.root[:, 2] += (crouch_z - body.stand_pelvis) * sink
    pre.root[:, 0] -= 0.12 * body.height / 1.75 * sink
    pre.spine[:, 0] += np.deg2rad(25) * sink
    pre.neck += np.deg2rad(40) * ramp(t, t1 - 0.3, t1 + 0.5)
    limp = {s: arm(n, plane=10, elev=-20, elbow=15, pron=10) for s in SIDES}
    pre.arms = {s: mix_arm(pre.arms[s], limp[s], sink) for s in SIDES}
    t0 = t1 + 0.75 * d
    i0 = int(np.searchsorted(t, t0))
    z_lie = rng.uniform(0.09, 0.11)
    back = variant != 1
    axis, sign = (1, -1.0) if back else (0, 1.0)
    root0 = pre.root[i0].copy()
    brace = standing(body, t, rng)
    brace.root, brace.ankles = pre.root, pre.ankles
    brace.spine[:, 0] = np.deg2rad(25)
    brace.neck[:] = np.deg2rad(35)
    brace.arms = limp

    def pelvis_path(phi):
        frac = np.clip(sign * phi / (np.pi / 2), 0, 1) ** 1.5
        p = np.where((t >= t0)[:, None], root0, pre.root).copy()
        p[:, 2] = np.where(t >= t0, root0[2] + (z_lie - root0[2]) * frac, pre.root[:, 2])
        if back:
            p[:, 0] = np.where(t >= t0, root0[0] - 0.15 * frac, pre.root[:, 0])
        return p

    return fall_about(body, t, pre, brace, t0, root0, axis, 0.0, sign * rng.uniform(0.5, 0.7),
                      np.pi / 2 - 0.05, k=1.5 * G / (0.5 * body.height), restitution=0.1,
                      settle_s=0.8, pelvis_path=pelvis_path, planted=False)


def losing_balance(body: Body, rng, variant: int):
    """Walking, a trip (forward), a slip (backward) or a stagger (sideways); quick recovery steps,
    arms thrown out, then standing again."""
    step_len = 0.38 * body.height * rng.uniform(0.95, 1.05)
    step_time = step_len / rng.uniform(1.0, 1.2)
    t_start = rng.uniform(0.3, 0.5)
    t_trip = t_start + 2 * step_time
    steps = plan_walk(body, 3, step_len, step_time, t_start)[:2]   # two steps, then the trip
    x_r = steps[1][3][0]
    x_l = steps[0][3][0]
    q = step_time * 0.55
    if variant == 0:
        rec = [("left", t_trip, t_trip + 0.8 * q, (x_r + 0.9 * step_len, body.hip_half)),
               ("right", t_trip + q, t_trip + 1.8 * q, (x_r + 1.5 * step_len, -body.hip_half)),
               ("left", t_trip + 2 * q, t_trip + 2.8 * q, (x_r + 1.6 * step_len, body.hip_half))]
        trunk = (np.array([35.0, 0.0]), np.array([-5.0, 0.0]))
        flail = dict(plane=rng.uniform(45, 65), elev=rng.uniform(50, 70), elbow=50)
    elif variant == 1:
        rec = [("left", t_trip, t_trip + 0.7 * q, (x_l + 1.6 * step_len, body.hip_half)),
               ("left", t_trip + 1.6 * q, t_trip + 2.6 * q, (x_r - 0.4 * step_len, body.hip_half)),
               ("right", t_trip + 2.8 * q, t_trip + 3.6 * q, (x_r - 0.3 * step_len, -body.hip_half))]
        trunk = (np.array([-20.0, 0.0]), np.array([10.0, 0.0]))
        flail = dict(plane=rng.uniform(20, 40), elev=rng.uniform(55, 75), elbow=40)
    else:
        y = 0.5 * step_len
        rec = [("left", t_trip, t_trip + 0.8 * q, (x_r + 0.3 * step_len, -y + 0.02)),
               ("right", t_trip + q, t_trip + 1.8 * q, (x_r + 0.4 * step_len, -y - 0.25 * step_len)),
               ("left", t_trip + 2 * q, t_trip + 2.8 * q, (x_r + 0.45 * step_len, -y + 2 * body.hip_half - 0.2 * step_len))]
        trunk = (np.array([8.0, -25.0]), np.array([0.0, 6.0]))
        flail = dict(plane=rng.uniform(75, 90), elev=rng.uniform(50, 70), elbow=45)
    t = time_grid(t_trip + 2.8 * q + rng.uniform(2.0, 2.5))
    n = len(t)
    pose = walking_pose(body, t, rng, steps + rec, step_len)
    pose.root = pelvis_from_feet(body, t, pose.ankles, crouch=0.06 * body.height * bump(t, t_trip, 0.3, 0.2, 0.8),
                                 smooth_s=0.14)
    jolt = bump(t, t_trip, 0.28, 0.1, 0.9)
    over = bump(t, t_trip + 0.5, 0.4, 0.0, 0.8)
    pose.spine[:, 0] += np.deg2rad(trunk[0][0] * jolt + trunk[1][0] * over)
    pose.spine[:, 1] += np.deg2rad(trunk[0][1] * jolt + trunk[1][1] * over)
    pose.neck += np.deg2rad(-0.5 * trunk[0][0] * jolt)
    fl = bump(t, t_trip, 0.4, 0.3, 1.0)
    for side in SIDES:
        fa = arm(n, plane=flail["plane"] + rng.uniform(-10, 10), elev=flail["elev"] + rng.uniform(-10, 10),
                 elbow=flail["elbow"] + 8 * np.sin(2 * np.pi * 1.5 * t + rng.uniform(0, 6)), pron=30)
        pose.arms[side] = mix_arm(pose.arms[side], fa, fl)
    still = ramp(t, t_trip + 2.8 * q, t_trip + 2.8 * q + 0.6)
    for side in SIDES:
        pose.arms[side] = mix_arm(pose.arms[side], hanging(n, rng, side), still)
    return pose


def shoving(body: Body, rng, variant: int):
    """Both hands come up to the chest, then thrust forward sharply with a lunge step."""
    t = time_grid(rng.uniform(4.5, 5.5))
    n = len(t)
    pose = standing(body, t, rng)
    la = body.arm
    t_ready = rng.uniform(0.8, 1.2)
    shoves = [t_ready + 0.5]
    if variant != 1:
        shoves.append(shoves[0] + rng.uniform(1.2, 1.5))
    step_len = 0.25 * body.height
    steps = [("left", shoves[0] - 0.15, shoves[0] + 0.15, (step_len, body.hip_half))]
    pose.ankles = feet_from_steps(body, t, steps, {s: (0.0, v * body.hip_half) for s, v in SIDES.items()})
    pose.root = pelvis_from_feet(body, t, pose.ankles, crouch=0.02 * body.height)
    pose.root[:, :2] += wobble(rng, n, 0.5, 0.005, (2,))
    thrust = sum(bump(t, ts, rng.uniform(0.22, 0.28), 0.15, 0.5) for ts in shoves)
    up = ramp(t, t_ready, t_ready + 0.45) - ramp(t, shoves[-1] + 0.9, shoves[-1] + 1.5)
    for side, s in SIDES.items():
        rest = np.array([0.03, 0.03 * s, -0.985]) * la
        ready = np.array([0.42, -0.12 * s, -0.30]) * la
        out = np.array([0.94, -0.12 * s, -0.12]) * la
        w = rest + (ready - rest) * up[:, None] + (out - ready) * thrust[:, None]
        pose.arms[side] = arm_ik(body, side, w, [-0.2, 0.6 * s, -1.0], np.deg2rad(15 + 55 * up))
    pose.spine[:, 0] += np.deg2rad(14) * thrust
    pose.neck += np.deg2rad(-8) * thrust
    return pose


def fighting(body: Body, rng, variant: int):
    """Guard, then a series of fast punches (alternating, sometimes doubled), trunk twisting."""
    t = time_grid(rng.uniform(5.0, 6.0))
    n = len(t)
    la = body.arm
    pose = standing(body, t, rng, width=1.6)
    pose.ankles["left"][:, 0] += 0.12 * body.height
    pose.ankles["right"][:, 0] -= 0.05 * body.height
    pose.root = pelvis_from_feet(body, t, pose.ankles, crouch=0.035 * body.height)
    pose.root[:, 2] += 0.012 * np.sin(2 * np.pi * rng.uniform(1.6, 2.2) * t) * ramp(t, 0.8, 1.2)
    pose.spine[:, 2] += np.deg2rad(-10)
    guard_on = ramp(t, 0.5, 1.0)
    t_p = 1.2
    punches: dict[str, list[float]] = {"left": [], "right": []}
    side = "left" if variant != 2 else "right"
    while t_p < t[-1] - 0.7:
        punches[side].append(t_p)
        if rng.uniform() < 0.7:
            side = "right" if side == "left" else "left"
        t_p += rng.uniform(0.38, 0.6)
    twist = np.zeros(n)
    for side, s in SIDES.items():
        guard = np.array([0.32, -0.25 * s, 0.12]) * la
        hit = np.array([0.97, -0.22 * s, 0.16]) * la
        rest = np.array([0.03, 0.03 * s, -0.985]) * la
        ext = sum((bump(t, tp, rng.uniform(0.1, 0.13), 0.04, rng.uniform(0.17, 0.22)) for tp in punches[side]),
                  np.zeros(n))
        w = rest + (guard - rest) * guard_on[:, None] + (hit - guard) * ext[:, None]
        pose.arms[side] = arm_ik(body, side, w, [-0.3, 0.5 * s, -1.0], np.deg2rad(20 + 60 * ext))
        twist -= s * np.deg2rad(16) * ext
    pose.spine[:, 2] += twist
    pose.spine[:, 0] += np.deg2rad(6) * guard_on
    return pose


def jumping_from_height(body: Body, rng, variant: int):
    """From a platform ~1 m high: crouch, push off up and forward, free flight (p'' = g, posture
    frozen), land with the knees absorbing the impact, stand up."""
    h_p = rng.uniform(0.9, 1.1)
    t1 = rng.uniform(1.0, 1.3)         # start of the crouch
    t2 = t1 + 0.45                     # bottom of the crouch
    t_to = t2 + 0.4                    # take-off
    v_up, v_x = rng.uniform(0.9, 1.2), rng.uniform(1.0, 1.3)
    z_stand = h_p + body.stand_pelvis
    z_crouch = z_stand - rng.uniform(0.13, 0.17) * body.height
    x_to = 0.12
    z_to = h_p + body.ankle + np.sqrt((0.99 * body.leg) ** 2 - x_to**2) + body.pelvis_up
    z_land = z_to - h_p                # the ankles, fixed below the pelvis in the air, meet the floor
    t_fl = (v_up + np.sqrt(v_up**2 + 2 * G * h_p)) / G
    t_land = t_to + t_fl
    vz_land = v_up - G * t_fl
    drop = rng.uniform(0.15, 0.18) * body.height
    d_l = 2.4 * drop / -vz_land        # knees absorb the landing over ~0.15 s
    t_up = t_land + d_l + rng.uniform(0.8, 1.0)
    t = time_grid(t_up + rng.uniform(1.0, 1.4))
    n = len(t)
    pose = standing(body, t, rng, ground=h_p)
    x_land = x_to + v_x * t_fl
    x_end = x_land + v_x * d_l * 0.5
    tf = t - t_to
    z = z_stand + (z_crouch - z_stand) * ramp(t, t1, t2)
    z = np.where(t >= t2, hermite5(t, t2, t_to, z_crouch, 0.0, 0.0, z_to, v_up, -G), z)
    z = np.where(t >= t_to, z_to + v_up * tf - 0.5 * G * tf**2, z)
    z = np.where(t >= t_land, hermite5(t, t_land, t_land + d_l, z_land, vz_land, -G, z_land - drop, 0.0, 0.0), z)
    z_low = z_land - drop
    z = np.where(t >= t_land + d_l, z_low + (body.stand_pelvis - z_low) * ramp(t, t_land + d_l + 0.1, t_up), z)
    x = np.where(t >= t2, hermite5(t, t2, t_to, 0.0, 0.0, 0.0, x_to, v_x, 0.0), 0.0)
    x = np.where(t >= t_to, x_to + v_x * tf, x)
    x = np.where(t >= t_land, hermite5(t, t_land, t_land + d_l, x_land, v_x, 0.0, x_end, 0.0, 0.0), x)
    quiet = (1 - ramp(t, t1 - 0.3, t1)) + ramp(t, t_up, t_up + 0.3)  # postural sway only when standing
    pose.root = np.column_stack([x, np.zeros(n), z])
    pose.root[:, :2] += wobble(rng, n, 0.5, 0.005, (2,)) * quiet[:, None]
    flying = (t >= t_to) & (t < t_land)
    for side, s in SIDES.items():  # on the platform, fixed below the pelvis in the air, on the floor
        a = pose.ankles[side]
        off = a[0] - [x_to, 0.0, z_to]
        a[flying] = pose.root[flying] * [1, 0, 1] + off
        a[t >= t_land] = [x_land + off[0], s * body.hip_half, body.ankle]
    pose.spine[:, 0] = np.deg2rad(keys(t, [(t1, 2.0), (t2, 30.0), (t_to, 8.0), (t_land, 8.0),
                                           (t_land + d_l + 0.05, 30.0), (t_up, 2.0)]))
    pose.spine[:, 1] = 0.0
    pose.neck = np.deg2rad(keys(t, [(t1, 0.0), (t2, 10.0), (t_to, 10.0), (t_land, 10.0), (t_up, 0.0)]))
    e_fly = rng.uniform(35, 50)
    elev = keys(t, [(t1, 4.0), (t2, -20.0), (t_to, e_fly), (t_land, e_fly), (t_land + 0.7, 10.0), (t_up, 4.0)])
    elbow = keys(t, [(t1, 10.0), (t2, 20.0), (t_to, 25.0), (t_land, 25.0), (t_up, 10.0)])
    pose.arms = {side: arm(n, plane=12, elev=elev, elbow=elbow, pron=15) for side in SIDES}
    return pose


def dragging(body: Body, rng, variant: int):
    """Walking backward, leaning back, both hands gripping a load in front, tugging each step."""
    step_len = rng.uniform(0.30, 0.38) * body.height / 1.75
    step_time = rng.uniform(0.62, 0.75)
    t0 = rng.uniform(0.8, 1.1)
    n_steps = 7
    t = time_grid(t0 + n_steps * step_time + rng.uniform(0.5, 0.8))
    n = len(t)
    steps = plan_walk(body, n_steps, step_len, step_time, t0, direction=-1.0)
    pose = walking_pose(body, t, rng, steps, step_len, direction=-1.0, crouch=0.06 * body.height)
    grip = ramp(t, 0.2, t0 - 0.1)
    tug = sum((bump(t, steps[k][1] + 0.05, 0.18, 0.05, 0.35) for k in range(n_steps - 1)), np.zeros(n))
    pose.spine[:, 0] += np.deg2rad(-12 * grip - 6 * tug)
    pose.neck += np.deg2rad(15) * grip
    la = body.arm
    for side, s in SIDES.items():
        rest = np.array([0.03, 0.03 * s, -0.985]) * la
        hold = np.array([0.62, -0.17 * s, -0.62]) * la
        pulled = np.array([0.48, -0.17 * s, -0.62]) * la
        w = rest + (hold - rest) * grip[:, None] + (pulled - hold) * tug[:, None]
        pose.arms[side] = arm_ik(body, side, w, [-0.2, 0.7 * s, -1.0], np.deg2rad(45 * grip))
    return pose


ACTIVITIES: dict[str, Callable] = {
    "falling": falling, "fainting": fainting, "losing_balance": losing_balance, "shoving": shoving,
    "fighting": fighting, "jumping_from_height": jumping_from_height, "dragging": dragging,
    "walking": walking, "waving": waving, "drinking": drinking, "sitting_down": sitting_down,
}


# ---------------------------------------------------------------- clips and files

@dataclass(frozen=True)
class ClipSpec:
    id: str
    label: str
    subject: str
    variant: int
    seed: int


def clip_specs() -> list[ClipSpec]:
    """Three variants of each activity: one subject of each split (rotating within the split)."""
    specs = []
    for i, label in enumerate(ACTIVITIES):
        for v, split in enumerate(("train", "validation", "test")):
            group = _BY_SPLIT[split]
            subject = group[i % len(group)]
            specs.append(ClipSpec(f"{label}_{v + 1:02d}", label, subject, v, 1000 + 10 * i + v))
    return specs


def make_clip(spec: ClipSpec) -> np.ndarray:
    """Joint positions (T, J, 3) float32 at 30 fps, world frame z up, m."""
    rng = np.random.default_rng(spec.seed)
    body = Body(SUBJECTS[spec.subject][0])
    pose = ACTIVITIES[spec.label](body, rng, spec.variant)
    pts = forward_kinematics(body, pose)[::OVERSAMPLE]
    # the floor: a joint centre is never lower than FLOOR_Z (a smooth maximum)
    z = pts[..., 2]
    pts[..., 2] = FLOOR_Z + 0.01 * np.logaddexp(0.0, (z - FLOOR_Z) / 0.01)
    heading = rng.uniform(0, 2 * np.pi)
    offset = np.append(rng.uniform(-1.5, 1.5, 2), 0.0)
    pts = Rotation.from_euler("z", heading).apply(pts.reshape(-1, 3)).reshape(pts.shape) + offset
    return (np.round(pts / GRID_M) * GRID_M).astype(np.float32)


def npz_bytes(positions: np.ndarray, joint_names, fps: float) -> bytes:
    """A skeleton ``.npz`` (``simulator.readers`` format) with fixed zip metadata."""
    arrays = {"positions": np.ascontiguousarray(positions, dtype="<f4"),
              "joint_names": np.array(joint_names, dtype="<U16"), "fps": np.array(float(fps), dtype="<f8")}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, value in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, value, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=9)
    return buf.getvalue()


def write_samples(out_dir: Path) -> list[Path]:
    """Write every clip and ``labels.csv`` into ``out_dir``; returns the written paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(["file", "label", "subject"])
    for spec in clip_specs():
        path = out_dir / f"{spec.id}.npz"
        path.write_bytes(npz_bytes(make_clip(spec), JOINTS, FPS))
        writer.writerow([path.name, spec.label, spec.subject])
        paths.append(path)
    labels = out_dir / "labels.csv"
    labels.write_text(rows.getvalue(), encoding="utf-8")
    return paths + [labels]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    written = write_samples(target)
    size = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written) - 1} clips and labels.csv to {target} ({size / 1e3:.0f} kB)")
