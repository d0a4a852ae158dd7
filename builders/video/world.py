"""Root trajectory and world frame.

A lifter gives each frame's skeleton root-relative (pelvis at the origin) in the camera frame
(x right, y down, z forward, metres). A fall is mostly the body's own drop, which a root-relative
skeleton loses, so the root is put back by perspective:

**Root translation.** With a pinhole camera (focal ``f`` pixels, principal point ``(cx, cy)``), a
joint ``X_j + t`` projects to ``u_j``: ``f (X_j + t_x) = (u_j - cx)(Z_j + t_z)`` and the same in
y. These are linear in ``t``; each frame's ``t`` is their least-squares solution over the joints,
weighted by the 2D scores (the classic closed form used to place a root-relative pose in camera
space). The skeleton's metric size sets the depth, so the depth is as right as the lifter's bone
lengths; its image position sets x and y.

**Focal length.** From the caller (``focal_px``), from frame images' EXIF 35 mm-equivalent focal
length (``f_px = f_35 / 36 mm x the long side``), or from a field of view: ``f = (W / 2) /
tan(hfov / 2)``; the default horizontal FOV ``DEFAULT_HFOV_DEG`` = 65 degrees is typical of phone
main cameras and webcams. A wrong focal length scales depth, not the drop's timing.

**Camera to world.** World z is up (gravity along -z), y is the camera's viewing direction made
horizontal, x = y cross z; the camera sits at x = y = 0 and z = 0 is the floor, placed at the
5th percentile of the lowest joint's height (so a standing person's ankle joints are near z = 0,
about 8 cm lower than the true floor; a lying person's lowest joints lie on it). Up in the camera
frame comes from the caller's pitch and roll when given (pitch > 0: camera tilted down), or else
from the body: the mean of the unit vectors from the mid-ankle to the thorax in the frames where
the person stands upright (the 2D box at least 1.5 times as tall as wide, in its tallest half),
falling back to a level camera (up = -y_camera) when no frame qualifies.

Errors reached (``tests/test_video_world.py``: a 1.75 m figure walking 2 s then falling over
0.8 s and lying 1 s, 3.6-4.8 m from a 1280x720 camera with a 65 degree FOV pitched 12 degrees
down, the true root-relative skeleton (a perfect lifter) and 1 px Gaussian 2D noise): up vector
0.4 degrees off when estimated from the body; root drop 0.822 m recovered for 0.824 m true;
root height RMS 1.4 cm; root position RMS 2.5 cm (max 12 cm, depth, in the lying frames); all
joints RMS 2.5 cm. With the given pitch: root drop 0.829 m, height RMS 1.0 cm. Noise-free, the
root comes back exactly (1e-6 m). A real lifter's bone-length error scales depth in proportion.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

from ...simulator.joints import H36M_17

DEFAULT_HFOV_DEG = 65.0


def focal_from_fov(width: int, hfov_deg: float = DEFAULT_HFOV_DEG) -> float:
    """Focal length in pixels from the horizontal field of view."""
    if not 1.0 < hfov_deg < 179.0:
        raise ValueError(f"horizontal field of view must be in (1, 179) degrees, got {hfov_deg}")
    return (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)


def root_translation(rel3d: np.ndarray, kp2d: np.ndarray, scores: np.ndarray, focal_px: float,
                     center: tuple[float, float], min_depth_m: float = 0.3) -> np.ndarray:
    """(T, 3) camera-frame root position, metres, placing root-relative ``rel3d`` (T, J, 3) so that
    it projects onto ``kp2d`` (T, J, 2) pixels (weights ``scores`` (T, J)).

    Frames with too few usable joints (or a solution behind the camera) take the depth of the
    nearest good frame; depths are kept at least ``min_depth_m``. Never NaN.
    """
    rel3d = np.asarray(rel3d, np.float64)
    kp2d = np.asarray(kp2d, np.float64)
    w = np.clip(np.nan_to_num(np.asarray(scores, np.float64)), 0.0, 1.0)
    cx, cy = center
    f = float(focal_px)
    T = rel3d.shape[0]
    t = np.full((T, 3), np.nan)
    for i in range(T):
        ok = (w[i] > 1e-3) & np.isfinite(kp2d[i]).all(-1) & np.isfinite(rel3d[i]).all(-1)
        if ok.sum() < 3:
            continue
        X, Y, Z = rel3d[i, ok].T
        du, dv = kp2d[i, ok, 0] - cx, kp2d[i, ok, 1] - cy
        sw = np.sqrt(w[i, ok])
        z0 = np.zeros_like(du)
        a = np.concatenate([np.stack([np.full_like(du, f), z0, -du], 1),
                            np.stack([z0, np.full_like(dv, f), -dv], 1)])
        b = np.concatenate([du * Z - f * X, dv * Z - f * Y])
        ww = np.concatenate([sw, sw])
        sol, *_ = np.linalg.lstsq(a * ww[:, None], b * ww, rcond=None)
        if np.all(np.isfinite(sol)) and sol[2] + Z.min() > 0.05:
            t[i] = sol
    good = np.isfinite(t).all(1)
    if not good.any():  # nothing solvable: a person 3 m in front of the camera, centred
        return np.tile([0.0, 0.0, 3.0], (T, 1))
    idx = np.arange(T)
    for d in range(3):
        t[~good, d] = np.interp(idx[~good], idx[good], t[good, d])
    t[:, 2] = np.maximum(t[:, 2], min_depth_m)
    return t


def up_from_pitch_roll(pitch_deg: float, roll_deg: float = 0.0) -> np.ndarray:
    """World up expressed in the camera frame (x right, y down, z forward) for a camera pitched
    down by ``pitch_deg`` and rolled by ``roll_deg`` (clockwise as seen from behind)."""
    # A level camera sees up as -y; pitched down by p, its forward axis gains a downward
    # component, so up (in camera axes) is (0, -cos p, -sin p); roll turns it about z.
    up = np.array([0.0, -math.cos(math.radians(pitch_deg)), -math.sin(math.radians(pitch_deg))])
    return Rotation.from_rotvec([0.0, 0.0, -math.radians(roll_deg)]).apply(up)


def up_from_body(rel3d_list: list[np.ndarray], boxes_list: list[np.ndarray],
                 masks: list[np.ndarray] | None = None, min_aspect: float = 1.5) -> np.ndarray | None:
    """World up in the camera frame estimated from upright people (module docstring), or None.

    rel3d_list: per track (T, 17, 3) H36M camera-frame skeletons; boxes_list: per track (T, 4).
    """
    i_th = H36M_17.index("thorax")
    i_la, i_ra = H36M_17.index("left_ankle"), H36M_17.index("right_ankle")
    vecs = []
    for k, (rel, boxes) in enumerate(zip(rel3d_list, boxes_list)):
        boxes = np.asarray(boxes, np.float64)
        aspect = (boxes[:, 3] - boxes[:, 1]) / np.maximum(boxes[:, 2] - boxes[:, 0], 1e-6)
        ok = aspect >= min_aspect
        if masks is not None:
            ok &= np.asarray(masks[k], bool)
        if not ok.any():
            continue
        ok &= aspect >= np.median(aspect[ok])
        v = rel[ok, i_th] - (rel[ok, i_la] + rel[ok, i_ra]) / 2
        n = np.linalg.norm(v, axis=1, keepdims=True)
        good = (n[:, 0] > 1e-6) & np.isfinite(v).all(1)
        vecs.append(v[good] / n[good])
    if not vecs or sum(len(v) for v in vecs) == 0:
        return None
    up = np.concatenate(vecs).mean(0)
    n = np.linalg.norm(up)
    return up / n if n > 1e-6 else None


def camera_to_world(up_cam: np.ndarray) -> np.ndarray:
    """(3, 3) rotation R with p_world = R @ p_camera: world z = ``up_cam``, world y = the camera's
    forward axis made horizontal, x = y cross z (right-handed)."""
    z = np.asarray(up_cam, np.float64)
    z = z / np.linalg.norm(z)
    fwd = np.array([0.0, 0.0, 1.0])
    y = fwd - z * (fwd @ z)
    if np.linalg.norm(y) < 1e-6:  # camera looking straight down/up: use camera -y as forward
        y = np.array([0.0, -1.0, 0.0]) - z * (-z[1])
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    return np.stack([x, y, z])


def to_world(rel3d: np.ndarray, root_cam: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """(T, J, 3) camera-frame root-relative + (T, 3) root -> (T, J, 3) world positions (floor not
    yet at z = 0; see ``floor_height``)."""
    cam = rel3d + root_cam[:, None, :]
    return cam @ rotation.T


def floor_height(world: np.ndarray, mask: np.ndarray | None = None, percentile: float = 5.0) -> float:
    """Height of the floor: a low percentile of each frame's lowest joint height."""
    low = np.nanmin(world[..., 2], axis=1)
    if mask is not None and np.asarray(mask, bool).any():
        low = low[np.asarray(mask, bool)]
    return float(np.percentile(low, percentile))
