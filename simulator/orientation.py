"""Sensor orientation from skeleton joints, and quaternion helpers for angular rate.

All functions are vectorised over leading axes: joint arrays are (..., 3) (e.g. (T, 3) or
(T, B, 3)) and rotation matrices (..., 3, 3) whose columns are the device axes in the world frame
(so a matrix takes device-frame vectors to the world frame, R_ws).

How the segment frame is built (see ``placement`` for the device axes):

1. The long axis ``u`` points distally: elbow -> wrist for a watch (the watch rides on the distal
   forearm, which carries pronation), wrist -> hand tip (or hand) for a phone held in the hand.
2. The *radial* direction ``r`` (toward the thumb), perpendicular to ``u``, is a reference
   direction turned about ``u`` by the forearm twist (``twist``):
   - the reference is the component of shoulder -> elbow reversed, perpendicular to the forearm,
     i.e. a neutral (thumb-up) forearm in the elbow's flexion plane. When the elbow is nearly
     straight (sine of its angle < 0.35) the flexion plane is ill-defined; the body's forward
     direction (from the shoulders, else world x) fades in and takes over;
   - the twist (positive = pronation, palm turning down, on either side) comes from the thumb
     joint where the skeleton has one and its frames are trusted, else from the twist model
     (``twist.TwistOptions``: a constant, optionally plus a share of the elbow flexion).
3. The back of the hand (dorsal) is ``r x u`` on the left and ``u x r`` on the right.
"""

from __future__ import annotations

import numpy as np

from .motion import MotionError
from .placement import PLACEMENT_SIDE, check_placement
from .twist import TwistOptions, elbow_flexion, forearm_twist, rotate_about

#: Weight of the fallback direction relative to a unit-length flexion-plane vector, and the
#: sine of the elbow (or thumb) angle below which it fades in.
_FALLBACK_WEIGHT = 1.0
_FALLBACK_BELOW = 0.35


def _unit(v: np.ndarray, what: str) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    if np.any(n < 1e-9):
        raise MotionError(f"degenerate {what}: two joints coincide, so the segment has no direction")
    return v / n


def _perp(v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Component of v perpendicular to unit u."""
    return v - np.sum(v * u, axis=-1, keepdims=True) * u


def required_joints(placement: str) -> tuple[str, ...]:
    side = PLACEMENT_SIDE[check_placement(placement)]
    return (f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist")


def optional_joints(placement: str) -> tuple[str, ...]:
    side = PLACEMENT_SIDE[check_placement(placement)]
    return (f"{side}_hand", f"{side}_hand_tip", f"{side}_thumb", "left_shoulder", "right_shoulder")


def segment_frame(joints: dict[str, np.ndarray], placement: str, twist_deg: float = 0.0,
                  *, fs_hz: float | None = None, twist: TwistOptions | None = None):
    """Segment frame of ``placement`` from joint positions.

    joints: canonical name -> (T, ..., 3) positions, metres, world frame (z up); must hold
        ``required_joints(placement)``; ``optional_joints`` are used when present.
    twist_deg: model twist when ``twist`` is None (``TwistOptions(twist_deg=twist_deg)``).
    fs_hz: uniform frame rate of axis 0 (None: no time filtering; the thumb is taken as is).
    Returns (origin (T, ..., 3) metres, R (T, ..., 3, 3) segment-to-world rotation matrices).
    """
    origin, r, _ = device_frame(joints, placement, fs_hz=fs_hz,
                                twist=twist if twist is not None else TwistOptions(twist_deg=twist_deg))
    return origin, r


def device_frame(joints: dict[str, np.ndarray], placement: str, *, fs_hz: float | None = None,
                 twist: TwistOptions = TwistOptions()):
    """``segment_frame`` plus one ``TwistInfo`` per clip (trailing batch shape, C order) saying
    where the forearm twist came from (``twist`` module)."""
    side = PLACEMENT_SIDE[check_placement(placement)]
    missing = [j for j in required_joints(placement) if j not in joints]
    if missing:
        raise MotionError(f"placement {placement} needs joints {missing}")
    s, e, w = (joints[f"{side}_{j}"] for j in ("shoulder", "elbow", "wrist"))
    hand, tip, thumb = (joints.get(f"{side}_{j}") for j in ("hand", "hand_tip", "thumb"))

    if placement == "phone_in_hand":
        distal = tip if tip is not None else hand
        u = _unit((distal - w) if distal is not None else (w - e), "hand")
        origin = hand if hand is not None else w
    else:
        u = _unit(w - e, "forearm")
        origin = w

    if "left_shoulder" in joints and "right_shoulder" in joints:
        across = joints["right_shoulder"] - joints["left_shoulder"]
        forward = np.cross(np.array([0.0, 0.0, 1.0]), across)
        bad = np.linalg.norm(forward, axis=-1, keepdims=True) < 1e-6
        forward = np.where(bad, np.array([1.0, 0.0, 0.0]), forward)
    else:
        forward = np.broadcast_to(np.array([1.0, 0.0, 0.0]), u.shape)
    fallback = _perp(forward / np.linalg.norm(forward, axis=-1, keepdims=True), u)

    # Reference radial direction: the neutral (thumb-up) direction of the elbow's flexion plane.
    upper = e - s
    r = _perp(-upper, u) / np.maximum(np.linalg.norm(upper, axis=-1, keepdims=True), 1e-9)
    # |r| is the sine of the angle between the two vectors; below _FALLBACK_BELOW the plane is
    # ill-defined and the fallback fades in (C1-smoothly), above it the fallback has no effect.
    sine = np.linalg.norm(r, axis=-1, keepdims=True)
    fade = np.clip(1.0 - sine / _FALLBACK_BELOW, 0.0, 1.0)
    ref = _unit(r + _FALLBACK_WEIGHT * fade**2 * fallback, "radial direction")

    # Pronation turns the thumb toward the body's midline: about +u on the left, -u on the right.
    axis = u if side == "left" else -u
    base = hand if hand is not None else w
    radial = None if thumb is None else thumb - base
    bone = None if thumb is None else np.linalg.norm(radial, axis=-1)
    phi, infos = forearm_twist(axis, ref, elbow_flexion(s, e, w), sine[..., 0] >= _FALLBACK_BELOW,
                               radial, bone, fs_hz, twist)
    r = rotate_about(ref, axis, phi)

    dorsal = np.cross(r, u) if side == "left" else np.cross(u, r)
    if placement == "left_wrist":
        axes = (u, -r, dorsal)
    elif placement == "right_wrist":
        axes = (-u, -r, dorsal)
    else:  # phone_in_hand: x radial, y distal, z out of the palm
        axes = (r, u, -dorsal)
    return origin, np.stack(axes, axis=-1), infos


# ---- quaternions, scalar-first (w, x, y, z), arrays (..., 4) ----

def quat_continuous(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip signs along ``axis`` so consecutive quaternions lie in the same hemisphere."""
    q = np.moveaxis(q, axis, 0)
    dots = np.sum(q[1:] * q[:-1], axis=-1)
    flips = np.cumprod(np.where(dots < 0, -1.0, 1.0), axis=0)
    out = q.copy()
    out[1:] *= flips[..., None]
    return np.moveaxis(out, 0, axis)


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of scalar-first quaternions."""
    aw, av = a[..., :1], a[..., 1:]
    bw, bv = b[..., :1], b[..., 1:]
    w = aw * bw - np.sum(av * bv, axis=-1, keepdims=True)
    v = aw * bv + bw * av + np.cross(av, bv)
    return np.concatenate([w, v], axis=-1)


def body_rate(q: np.ndarray, q_dot: np.ndarray) -> np.ndarray:
    """Angular velocity in the body frame, rad/s, from q(t) and dq/dt.

    q: (..., 4) scalar-first, body-to-world, need not be unit (e.g. a spline through unit
    quaternions): with q_dot = 1/2 q * (0, w_body), w_body = 2 vec(conj(q) * q_dot) / |q|^2,
    and the norm's own rate of change only touches the scalar part.
    """
    conj = q * np.array([1.0, -1.0, -1.0, -1.0])
    prod = quat_multiply(conj, q_dot)
    return 2.0 * prod[..., 1:] / np.sum(q * q, axis=-1, keepdims=True)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices of (..., 4) scalar-first quaternions (normalised first)."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """(..., 4) scalar-first unit quaternions of (..., 3, 3) rotation matrices.

    Shepperd's method: of the four algebraically equal formulas, each element uses the one
    built on its largest diagonal term, so no division by a small number occurs. (The same
    answer as scipy's ``Rotation.from_matrix`` up to sign, without its orthogonalisation, which
    our matrices do not need: their columns are orthonormal by construction.)
    """
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    candidates = np.stack([
        np.stack([1 + m00 + m11 + m22, m21 - m12, m02 - m20, m10 - m01], -1),
        np.stack([m21 - m12, 1 + m00 - m11 - m22, m01 + m10, m02 + m20], -1),
        np.stack([m02 - m20, m01 + m10, 1 - m00 + m11 - m22, m12 + m21], -1),
        np.stack([m10 - m01, m02 + m20, m12 + m21, 1 - m00 - m11 + m22], -1),
    ], -2)  # row k is 4 q_k q (a multiple of q)
    best = np.argmax(np.stack([m00 + m11 + m22, m00, m11, m22], -1), axis=-1)
    q = np.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    return q / np.linalg.norm(q, axis=-1, keepdims=True)
