"""Forearm twist (pronation/supination) of the device frame: when to trust the thumb, and a model
for when not.

The watch turns with the distal forearm, so its frame needs, besides the forearm axis ``u``, the
angle ``phi`` by which the radial direction (toward the thumb) is turned about ``u`` away from a
*reference*: the neutral, thumb-up direction of the elbow's flexion plane (``orientation``).
``phi > 0`` is pronation (palm turning down) on either side.

Where the skeleton has a thumb joint (Kinect v2, Azure Kinect) it gives ``phi`` explicitly, but
depth trackers place the thumb poorly: on SmartFallMM's Azure Kinect skeletons the raw thumb makes
the synthetic watch spin (95th-percentile |gyro| 15.7 rad/s against 4.8 for the real watch). So the
thumb's angle is used only on frames that pass four checks (``TwistOptions``):

1. **bone length**: thumb-to-hand distance within ``bone_tolerance`` (relative) of its clip median;
2. **geometry**: the thumb is off the forearm axis (sine of their angle >= ``min_sine``);
3. **anatomy**: where the elbow plane is well defined, ``|phi|`` <= ``max_twist_deg`` (the
   forearm turns about 90 degrees each way from neutral; the thumb never points behind it);
4. **consistency**: not a spike (``|phi - median_5(phi)|`` <= ``spike_deg``) and not turning faster
   than ``max_rate_rad_s`` (measured on the frames that passed 1-3).

Frames that fail are filled by interpolating ``phi`` in time from the trusted ones (per-frame
fallback); if fewer than ``min_trusted`` of the frames pass, the clip uses the model instead
(per-clip fallback). The thumb's ``phi`` is then low-passed at ``smooth_hz`` (forearm rotation is
slower than the wrist's translation; the tracker's thumb jitter is not). What was used is
returned per clip (``TwistInfo``) and written into each row's provenance.

The model (no thumb, or an untrusted one): ``phi = twist_deg + pronation_per_flexion *
(flexion - 90 deg)``, ``flexion`` the elbow's flexion angle (0 = straight), low-passed like the
thumb. ``pronation_per_flexion = 0`` is the old constant twist. A negative value turns the palm up
as the elbow bends, as the biceps (the forearm's strongest supinator, also an elbow flexor) does in
curls. Measured on UTD-MHAD with the slope chosen on the training subjects from
{-0.6, ..., 0.4} and judged on the held-out one (``benchmarks/fidelity_report.py``, variant
``pronation``): held-out median gyro-x correlation 0.415 against 0.433 for the constant, so the
default stays 0 (the constant); the option is kept for sources where it helps. A twist learned from
paired skeleton + real IMU data is source "learned" (``learned_twist``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import median_filter

if TYPE_CHECKING:
    from .learned_twist import LearnedTwist

TWIST_SOURCES = ("auto", "thumb", "model", "learned")


@dataclass(frozen=True)
class TwistOptions:
    """How the forearm twist is obtained.

    source: "auto" (the thumb where trusted, else the model), "thumb" (the raw thumb joint on every
        frame, unsmoothed: the behaviour before gating), "model" (never the thumb), or "learned"
        (never the thumb: the model plus the twist ``model`` predicts from the arm's pose,
        ``learned_twist``; applied by ``simulate``, not by ``orientation.device_frame``).
    twist_deg: model twist at 90 degrees of elbow flexion, degrees (positive = pronation).
    pronation_per_flexion: model slope, degrees of pronation per degree of elbow flexion.
    smooth_hz: low-pass of the twist angle, Hz (None: no smoothing).
    bone_tolerance, min_sine, max_twist_deg, spike_deg, max_rate_rad_s: the per-frame checks of
        the thumb (module docstring), relative / sine / degrees / degrees / rad/s.
    min_trusted: share of frames that must pass for the thumb to be used at all.
    model: the ``learned_twist.LearnedTwist`` of source "learned" (provenance: its sha256).
    """

    source: str = "auto"
    twist_deg: float = 0.0
    pronation_per_flexion: float = 0.0
    smooth_hz: float | None = 2.5
    bone_tolerance: float = 0.35
    min_sine: float = 0.5
    max_twist_deg: float = 150.0
    spike_deg: float = 25.0
    max_rate_rad_s: float = 12.0
    min_trusted: float = 0.6
    model: "LearnedTwist | None" = None

    def __post_init__(self) -> None:
        if self.source not in TWIST_SOURCES:
            raise ValueError(f"twist source must be one of {TWIST_SOURCES}, got {self.source!r}")
        if (self.source == "learned") != (self.model is not None):
            raise ValueError("twist source 'learned' needs a model, and a model needs source 'learned'")
        for name in ("twist_deg", "pronation_per_flexion"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)}")
        if self.smooth_hz is not None and not self.smooth_hz > 0:
            raise ValueError(f"smooth_hz must be positive or None, got {self.smooth_hz}")
        if not 0.0 <= self.min_trusted <= 1.0:
            raise ValueError(f"min_trusted must be in [0, 1], got {self.min_trusted}")

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "model"}
        out["model"] = None if self.model is None else self.model.provenance()
        return out


@dataclass(frozen=True)
class TwistInfo:
    """What one clip's twist came from: used ("thumb", "model", "thumb (raw)"), the share of frames
    whose thumb was trusted (None without a thumb) and the number of frames filled."""

    used: str
    trusted_fraction: float | None
    filled_frames: int

    def to_dict(self) -> dict:
        return asdict(self)


def angle_about(u: np.ndarray, ref: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed angle (..., ) rad turning unit ``ref`` toward ``v`` about unit ``u`` (right hand).

    ref, v: (..., 3) perpendicular to u (v need not be unit)."""
    return np.arctan2(np.sum(np.cross(ref, v) * u, axis=-1), np.sum(ref * v, axis=-1))


def rotate_about(v: np.ndarray, u: np.ndarray, angle_rad) -> np.ndarray:
    """Rotate (..., 3) v, perpendicular to unit u, about u by (...,) or scalar angle_rad."""
    a = np.asarray(angle_rad, dtype=np.float64)[..., None]
    return np.cos(a) * v + np.sin(a) * np.cross(u, v)


def elbow_flexion(shoulder: np.ndarray, elbow: np.ndarray, wrist: np.ndarray) -> np.ndarray:
    """Elbow flexion angle (...,) rad: 0 with the arm straight, pi/2 at a right angle."""
    a, b = elbow - shoulder, wrist - elbow
    cos = np.sum(a * b, axis=-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def _lowpass(x: np.ndarray, fs_hz: float | None, cutoff_hz: float | None) -> np.ndarray:
    if fs_hz is None or cutoff_hz is None:
        return x
    from .kinematics import lowpass

    return lowpass(x, fs_hz, min(cutoff_hz, 0.4 * fs_hz))


def model_twist(flexion_rad: np.ndarray, options: TwistOptions, fs_hz: float | None) -> np.ndarray:
    """(T, ...) model twist, rad, pronation positive, from the elbow flexion (T, ...) rad."""
    phi = np.deg2rad(options.twist_deg) + options.pronation_per_flexion * (flexion_rad - np.pi / 2)
    if options.pronation_per_flexion == 0.0:
        return np.broadcast_to(phi, flexion_rad.shape).copy()
    return _lowpass(phi, fs_hz, options.smooth_hz)


def thumb_trust(phi: np.ndarray, sine: np.ndarray, bone: np.ndarray, plane_ok: np.ndarray,
                fs_hz: float, options: TwistOptions) -> np.ndarray:
    """(T, ...) bool: frames whose thumb twist passes the four checks (module docstring).

    phi: (T, ...) thumb twist rad, unwrapped in time; sine: (T, ...) sine of the thumb-forearm
    angle; bone: (T, ...) thumb-to-hand distance, m; plane_ok: (T, ...) the elbow plane is
    defined (the anatomical range is checked only there).
    """
    med_bone = np.median(bone, axis=0, keepdims=True)
    ok = np.abs(bone - med_bone) <= options.bone_tolerance * np.maximum(med_bone, 1e-6)
    ok &= sine >= options.min_sine
    wrapped = np.angle(np.exp(1j * phi))
    ok &= ~plane_ok | (np.abs(wrapped) <= np.deg2rad(options.max_twist_deg))
    size = (5,) + (1,) * (phi.ndim - 1)
    ok &= np.abs(phi - median_filter(phi, size=size, mode="nearest")) <= np.deg2rad(options.spike_deg)
    # Angular speed between consecutive trusted frames: an over-fast step condemns both frames.
    flat_phi, flat_ok = phi.reshape(len(phi), -1), ok.reshape(len(ok), -1)
    for c in range(flat_phi.shape[1]):
        idx = np.flatnonzero(flat_ok[:, c])
        if idx.size < 2:
            continue
        rate = np.abs(np.diff(flat_phi[idx, c])) * fs_hz / np.diff(idx)
        fast = rate > options.max_rate_rad_s
        flat_ok[idx[1:][fast], c] = False
        flat_ok[idx[:-1][fast], c] = False
    return flat_ok.reshape(ok.shape)


def forearm_twist(u: np.ndarray, ref: np.ndarray, flexion: np.ndarray, plane_ok: np.ndarray,
                  thumb_radial: np.ndarray | None, thumb_bone: np.ndarray | None,
                  fs_hz: float | None, options: TwistOptions) -> tuple[np.ndarray, list[TwistInfo]]:
    """Twist angle of the radial direction about u relative to ``ref``, and what it came from.

    u, ref: (T, ..., 3) unit forearm axis and unit reference radial direction (perpendicular);
    flexion: (T, ...) elbow flexion rad; plane_ok: (T, ...) bool, the flexion plane is defined;
    thumb_radial: (T, ..., 3) thumb direction from the hand (any length) or None; thumb_bone:
    (T, ...) its length, m. Time is axis 0; ``fs_hz`` its uniform rate (None: no time filtering,
    no rate check, the thumb taken as is). Returns (phi (T, ...) rad, pronation positive on the
    left side's convention of ``ref``; one TwistInfo per clip of the trailing batch shape, C order).
    """
    batch = int(np.prod(u.shape[1:-1], dtype=int))
    model = model_twist(flexion, options, fs_hz)
    if thumb_radial is None or options.source in ("model", "learned"):
        return model, [TwistInfo("model", None, 0)] * batch
    perp = thumb_radial - np.sum(thumb_radial * u, axis=-1, keepdims=True) * u
    sine = np.linalg.norm(perp, axis=-1) / np.maximum(thumb_bone, 1e-9)
    phi = angle_about(u, ref, perp)
    if options.source == "thumb" or fs_hz is None or len(phi) < 2:
        return phi, [TwistInfo("thumb (raw)", None, 0)] * batch
    phi = np.unwrap(phi, axis=0)
    ok = thumb_trust(phi, sine, thumb_bone, plane_ok, fs_hz, options)
    flat_phi, flat_ok = phi.reshape(len(phi), -1), ok.reshape(len(ok), -1)
    flat_model = model.reshape(len(model), -1)
    out = np.empty_like(flat_phi)
    infos, use_thumb = [], np.zeros(flat_phi.shape[1], dtype=bool)
    t = np.arange(len(phi), dtype=np.float64)
    for c in range(flat_phi.shape[1]):
        share = float(flat_ok[:, c].mean())
        if share < options.min_trusted:
            out[:, c] = flat_model[:, c]
            infos.append(TwistInfo("model", round(share, 4), 0))
            continue
        good = flat_ok[:, c]
        out[:, c] = np.interp(t, t[good], flat_phi[good, c])
        use_thumb[c] = True
        infos.append(TwistInfo("thumb", round(share, 4), int((~good).sum())))
    if use_thumb.any():
        out[:, use_thumb] = _lowpass(out[:, use_thumb], fs_hz, options.smooth_hz)
    return out.reshape(phi.shape), infos
