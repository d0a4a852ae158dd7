"""A forearm-twist model learned from paired skeleton + real IMU data (issue 12, item 2).

Kinect-type skeletons have no joint that shows pronation/supination, so the simulator's twist is
a constant (``twist.TwistOptions``). Where the same movements were recorded by a skeleton and a
real wrist IMU, the twist the skeleton misses can be *recovered* from the real sensor and a
small model fitted to predict it from what the skeleton does show.

Recovery (``recover_twist``). The synthetic watch is simulated with the constant twist. A twist
``delta`` more (pronation positive, both sides: a turn of the device frame about its own x axis,
which lies along the forearm) turns the sensor frame so that R' = R Rx(delta); a vector fixed in
the world then reads v' = Rx(delta)^T v, i.e. its angle in the y-z plane drops by delta. In
still-ish phases the low-passed accelerometer is gravity, so per sample

    delta = atan2(a_z, a_y)[synthetic] - atan2(a_z, a_y)[real],

where the real recording is first turned into the synthetic axes (the inverse of the mounting
rotation fitted on the training subjects, ``calibration.fit_mounting_robust``) and time-aligned.
The angle is trusted where gravity lies well off the forearm axis (|a_yz| >= ``min_yz`` g) and the
real wrist is near 1 g; those samples carry weight |a_yz| / g, the rest none.

Model (``LearnedTwist``). Per skeleton frame, ``twist_features`` (10) in a body frame (x toward
the right shoulder, y forward, z up; x mirrored for a left arm so that one model serves both
sides): forearm direction (3), upper-arm direction (3), elbow flexion (rad), wrist relative to the
shoulder over the arm length (3): the pose only. (Velocities are left out: the targets exist only
in near-still phases, so a velocity term would be fitted at v ~ 0 and extrapolated in motion; on
UTD-MHAD they also lowered the held-out agreement, ``benchmarks/README.md``.) Their quadratic
expansion, standardised, feeds a weighted ridge regression (scikit-learn) of (cos delta,
sin delta); the prediction is atan2(sin, cos), so a vague prediction stays near 0 rather than
averaging angles across the wrap, and is low-passed at the model's ``smooth_hz`` (1 Hz: the time
scale of its gravity-derived targets). Each training subject's mean delta (how they wore the
strap, not a twist) is removed from their targets. The model is a few hundred numbers, saved as
JSON (``save``/``load``; its sha256 goes into a row's provenance, not the numbers).

Use: ``TwistOptions(source="learned", model=LearnedTwist.load(path))``. The kernel frames the
device with the constant model twist; ``apply_to_poses`` then turns each device pose by the
predicted delta about the segment's x axis, the
mounting rotation and offset included, so a known profile delta(t) comes back as gx = delta'(t).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .motion import G

#: Names of the 10 per-frame features (``twist_features``), in order.
FEATURES = ("fore_x", "fore_y", "fore_z", "upper_x", "upper_y", "upper_z", "flexion",
            "reach_x", "reach_y", "reach_z")
FORMAT = "imu2safety-learned-twist/1"


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def body_axes(left_shoulder: np.ndarray | None, right_shoulder: np.ndarray | None,
              n: int) -> np.ndarray:
    """(T, 3, 3) rows = body x (toward the right shoulder, horizontal), y (forward), z (up), in
    world coordinates (z up). Without both shoulders: the world axes."""
    eye = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
    if left_shoulder is None or right_shoulder is None:
        return eye
    across = right_shoulder - left_shoulder
    across[:, 2] = 0.0
    ok = np.linalg.norm(across, axis=1) > 1e-6
    x = _unit(across)
    up = np.array([0.0, 0.0, 1.0])
    y = np.cross(up, x)  # forward: (x, y, z) right-handed
    eye[ok, 0], eye[ok, 1] = x[ok], y[ok]
    return eye


def twist_features(shoulder: np.ndarray, elbow: np.ndarray, wrist: np.ndarray,
                   left_shoulder: np.ndarray | None, right_shoulder: np.ndarray | None,
                   side: str) -> np.ndarray:
    """(T, 10) features (``FEATURES``) of one arm from (T, 3) joint positions (m, world, z up);
    ``side`` "left" mirrors the body x axis."""
    from .twist import elbow_flexion

    n = len(wrist)
    axes = body_axes(left_shoulder, right_shoulder, n)
    if side == "left":
        axes = axes * np.array([-1.0, 1.0, 1.0])[None, :, None]
    to_body = lambda v: np.einsum("tij,tj->ti", axes, v)  # noqa: E731
    upper, fore = elbow - shoulder, wrist - elbow
    length = np.maximum(np.linalg.norm(upper, axis=1) + np.linalg.norm(fore, axis=1), 1e-3)
    return np.concatenate([to_body(_unit(fore)), to_body(_unit(upper)),
                           elbow_flexion(shoulder, elbow, wrist)[:, None],
                           to_body(wrist - shoulder) / length[:, None]], axis=1)


def motion_features(motion, placement: str, t_out: np.ndarray) -> np.ndarray:
    """(N, 10) ``twist_features`` of a ``Motion`` at times t_out (s): each joint's tracked frames
    interpolated linearly (for fitting on recordings; the simulator uses its own repaired frames)."""
    from .placement import PLACEMENT_SIDE

    side = PLACEMENT_SIDE[placement]
    names, t = motion.joint_names, motion.timestamps

    def joint(name: str) -> np.ndarray | None:
        if name not in names:
            return None
        k = names.index(name)
        ok = motion.valid[:, k]
        if ok.sum() < 2:
            return None
        return np.stack([np.interp(t_out, t[ok], motion.positions[ok, k, c]) for c in range(3)], 1)

    arm = [joint(f"{side}_{j}") for j in ("shoulder", "elbow", "wrist")]
    if any(a is None for a in arm):
        raise ValueError(f"motion lacks the {side} arm's shoulder, elbow or wrist")
    return twist_features(*arm, joint("left_shoulder"), joint("right_shoulder"), side)


def pair_targets(syn: np.ndarray, real: np.ndarray, mounting, rate_hz: float,
                 max_lag: int, gyro_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``recover_twist`` of one (synthetic (N, 6), real (M, 6)) pair at rate_hz: the real one
    turned into the synthetic axes by the inverse of ``mounting`` (scipy Rotation, synthetic ->
    real, ``calibration.fit_mounting_robust``) and aligned at the best |gyro| lag. Returns
    (delta (N,), weight (N,)) on the synthetic samples (weight 0 where the real one has none)."""
    from .calibration import best_lag

    lag = best_lag(np.linalg.norm(syn[:, 3:], axis=1), np.linalg.norm(real[:, 3:], axis=1), max_lag)
    idx = np.arange(len(syn)) + lag
    inside = (idx >= 0) & (idx < len(real))
    back = np.zeros_like(syn)
    back[inside, :3] = mounting.inv().apply(real[idx[inside], :3])
    back[inside, 3:] = mounting.inv().apply(real[idx[inside], 3:])
    back[~inside] = syn[~inside]  # filler, weighted 0 below
    delta, weight = recover_twist(syn, back, rate_hz, gyro_s=gyro_s)
    weight[~inside] = 0.0
    return delta, weight


def _quadratic(x: np.ndarray) -> np.ndarray:
    """(T, F) -> (T, F + F(F+1)/2): the features and their pairwise products (i <= j)."""
    i, j = np.triu_indices(x.shape[1])
    return np.concatenate([x, x[:, i] * x[:, j]], axis=1)


@dataclass(frozen=True)
class LearnedTwist:
    """Ridge model of the extra twist delta (rad, pronation positive) from ``twist_features``.

    mean, scale: (P,) standardisation of the quadratic features; coef: (2, P) for (cos, sin);
    intercept: (2,); alpha: ridge penalty; smooth_hz: low-pass of the predicted delta, Hz (None:
    none); fitted_on: what it was fitted on (free text: source, subjects, samples); scores:
    held-out figures recorded at fitting time (free form)."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[tuple[float, ...], tuple[float, ...]]
    intercept: tuple[float, float]
    alpha: float
    smooth_hz: float | None = 1.0
    fitted_on: str = ""
    scores: tuple[tuple[str, float], ...] = ()

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(T,) delta, rad, from (T, 10) features (unsmoothed)."""
        if features.shape[1] != len(FEATURES):
            raise ValueError(f"expected {len(FEATURES)} features, got {features.shape[1]}")
        z = (_quadratic(features) - np.asarray(self.mean)) / np.asarray(self.scale)
        cs = z @ np.asarray(self.coef).T + np.asarray(self.intercept)
        return np.arctan2(cs[:, 1], cs[:, 0])

    def to_dict(self) -> dict:
        return {"format": FORMAT, "features": list(FEATURES), **asdict(self)}

    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def provenance(self) -> dict:
        return {"fitted_on": self.fitted_on, "sha256": self.sha256()}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def from_dict(cls, d: dict) -> "LearnedTwist":
        if d.get("format") != FORMAT or tuple(d.get("features", ())) != FEATURES:
            raise ValueError(f"not a learned-twist model of format {FORMAT!r} with features {FEATURES}")
        p = len(d["mean"])
        if len(d["scale"]) != p or len(d["coef"]) != 2 or any(len(c) != p for c in d["coef"]):
            raise ValueError("learned-twist model: mean, scale and coef sizes disagree")
        vals = np.concatenate([d["mean"], d["scale"], np.ravel(d["coef"]), d["intercept"]])
        if not np.isfinite(vals).all() or min(d["scale"]) <= 0:
            raise ValueError("learned-twist model holds non-finite values or a non-positive scale")
        return cls(tuple(map(float, d["mean"])), tuple(map(float, d["scale"])),
                   tuple(tuple(map(float, c)) for c in d["coef"]),
                   tuple(map(float, d["intercept"])), float(d["alpha"]),
                   None if d.get("smooth_hz") is None else float(d["smooth_hz"]),
                   str(d.get("fitted_on", "")),
                   tuple((str(k), float(v)) for k, v in d.get("scores", ())))

    @classmethod
    def load(cls, path: str | Path) -> "LearnedTwist":
        return cls.from_dict(json.loads(Path(path).read_text()))


def fit_learned_twist(features: list[np.ndarray], deltas: list[np.ndarray], weights: list[np.ndarray],
                      alpha: float = 10.0, smooth_hz: float | None = 1.0,
                      fitted_on: str = "") -> LearnedTwist:
    """Weighted ridge fit of (cos delta, sin delta) on the quadratic features.

    features: per clip (N, 10); deltas, weights: per clip (N,) rad and >= 0 (0 = unknown)."""
    from sklearn.linear_model import Ridge

    x = np.concatenate(features)
    d, w = np.concatenate(deltas), np.concatenate(weights)
    keep = (w > 0) & np.isfinite(d) & np.isfinite(x).all(axis=1)
    if keep.sum() < 10 * x.shape[1]:
        raise ValueError(f"only {int(keep.sum())} usable samples to fit the twist model")
    q = _quadratic(x[keep])
    mean, scale = q.mean(axis=0), q.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    y = np.stack([np.cos(d[keep]), np.sin(d[keep])], axis=1)
    reg = Ridge(alpha=alpha).fit((q - mean) / scale, y, sample_weight=w[keep])
    return LearnedTwist(tuple(mean.tolist()), tuple(scale.tolist()),
                        tuple(tuple(c) for c in reg.coef_.tolist()), tuple(reg.intercept_.tolist()),
                        float(alpha), smooth_hz, fitted_on)


def recover_twist(syn: np.ndarray, real_in_syn_axes: np.ndarray, rate_hz: float,
                  min_yz: float = 0.35, accel_tol: float = 2.0, gravity_hz: float = 1.0,
                  gyro_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample extra twist (N,) rad that turns ``syn``'s gravity into the real one's about
    x, and its weight (N,) (0 where unknown). Both (N, 6) at rate_hz, time-aligned, the real one
    already in the synthetic device axes (see the module docstring).

    gyro_s: also use the gyroscopes (None: gravity only). A twist about x adds exactly its rate
    to gx (gx' = gx + delta'), so delta' = gx_real - gx_synthetic; delta is its integral plus
    the difference to the gravity twist (the integration constant and the gyroscopes' drift),
    interpolated across the samples where gravity says nothing and low-passed at ``gravity_hz``
    (a complementary filter). Samples up to about gyro_s seconds from a known one get weight
    0.5 exp(-distance / gyro_s)."""
    from .kinematics import lowpass

    gs = lowpass(syn[:, :3], rate_hz, gravity_hz)
    gr = lowpass(real_in_syn_axes[:, :3], rate_hz, gravity_hz)
    delta = np.angle(np.exp(1j * (np.arctan2(gs[:, 2], gs[:, 1]) - np.arctan2(gr[:, 2], gr[:, 1]))))
    yz_s, yz_r = np.hypot(gs[:, 1], gs[:, 2]), np.hypot(gr[:, 1], gr[:, 2])
    ok = (yz_s >= min_yz * G) & (yz_r >= min_yz * G)
    ok &= np.abs(np.linalg.norm(real_in_syn_axes[:, :3], axis=1) - G) <= accel_tol
    weight = np.where(ok, np.minimum(yz_s, yz_r) / G, 0.0)
    if gyro_s is None or ok.sum() < 2:
        return delta, weight
    from scipy.ndimage import distance_transform_edt

    n = np.arange(len(delta))
    integral = np.cumsum(real_in_syn_axes[:, 3] - syn[:, 3]) / rate_hz
    drift = np.interp(n, n[ok], np.unwrap(delta[ok] - integral[ok]))  # offset + gyro drift
    fused = integral + lowpass(drift, rate_hz, gravity_hz)
    near = 0.5 * np.exp(-distance_transform_edt(~ok) / (gyro_s * rate_hz))
    return np.angle(np.exp(1j * fused)), np.maximum(weight, np.where(ok, 0.0, near))


def apply_to_poses(pose: np.ndarray, delta: np.ndarray, mount_rotation: np.ndarray,
                   offset_m: np.ndarray) -> None:
    """Turn device poses (T, 7) (position m + quaternion w x y z, device-to-world) in place by an
    extra twist delta (T,) rad about the segment's x axis (the forearm).

    With R_dev = R_seg M and p = origin + R_seg o: R_dev' = R_dev (M^T Rx(delta) M) and
    p' = p + R_seg (Rx(delta) o - o)."""
    from .orientation import quat_multiply, quat_to_matrix

    axis = mount_rotation.T @ np.array([1.0, 0.0, 0.0])
    half = 0.5 * delta
    q_rel = np.concatenate([np.cos(half)[:, None], np.sin(half)[:, None] * axis], axis=1)
    r_seg = quat_to_matrix(pose[:, 3:]) @ mount_rotation.T
    c, s = np.cos(delta), np.sin(delta)
    o = np.asarray(offset_m, dtype=np.float64)
    turned = np.stack([np.full_like(delta, o[0]), c * o[1] - s * o[2], s * o[1] + c * o[2]], axis=1)
    pose[:, :3] += np.einsum("tij,tj->ti", r_seg, turned - o)
    pose[:, 3:] = quat_multiply(pose[:, 3:], q_rel)


def clip_delta(positions: np.ndarray, names: tuple[str, ...], use, placement: str, fs_hz: float,
               model: LearnedTwist) -> np.ndarray:
    """(T,) predicted extra twist of one clip's frames (rad), low-passed at the model's smooth_hz.

    positions (T, J, 3) m; names (J,); use: indices of the joints the simulator uses (others are
    treated as absent)."""
    from .placement import PLACEMENT_SIDE
    from .twist import _lowpass

    side = PLACEMENT_SIDE[placement]
    chosen = {names[k] for k in use}
    get = lambda j: positions[:, names.index(j)] if j in chosen else None  # noqa: E731
    feats = twist_features(get(f"{side}_shoulder"), get(f"{side}_elbow"), get(f"{side}_wrist"),
                           get("left_shoulder"), get("right_shoulder"), side)
    delta = np.unwrap(model.predict(feats))
    return _lowpass(delta, fs_hz, model.smooth_hz) if len(delta) > 1 else delta
