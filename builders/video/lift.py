"""3D lifting with VideoPose3D (Pavllo et al., CVPR 2019), re-implemented so that the published
checkpoints load unchanged.

``TemporalModel(17, 2, 17, filter_widths=[3, 3, 3, 3, 3], channels=1024)`` keeps the original
module names (``expand_conv``, ``expand_bn``, ``layers_conv``, ``layers_bn``, ``shrink``) and
shapes, so a checkpoint's ``model_pos`` state dict loads with ``load_state_dict(strict=True)``.
Receptive field = product of the filter widths: [3, 3, 3] -> 27, [3, 3, 3, 3] -> 81,
[3, 3, 3, 3, 3] -> 243 frames.

Inference follows the original's evaluation: 2D keypoints in pixels are normalised to screen
coordinates (x / w * 2 - 1, y / w * 2 - h / w), the sequence is edge-padded by half the receptive
field on each side so that every input frame yields one 3D frame, and test-time flip augmentation
averages the prediction with that of the mirrored input (x -> -x, left/right keypoints swapped,
the output mirrored back). Output: (T, 17, 3) Human3.6M joints (``simulator.joints.H36M_17``),
root-relative (pelvis at the origin), metres, camera frame (x right, y down, z forward).
The temporal convolution sees frames, not seconds: a variable-frame-rate video is lifted frame by
frame as the model was trained (the output keeps the container's times, which Stage 2 resamples).

Input layout: the in-the-wild checkpoint ``pretrained_h36m_detectron_coco.bin`` takes COCO-17
keypoints as they are (``input_layout="coco17"``); the Human3.6M ones (e.g.
``pretrained_h36m_cpn.bin``) take Human3.6M-17 2D joints, made from COCO by ``coco_to_h36m``
(``input_layout="h36m17"``). Low-confidence keypoints (score below ``min_score``) are replaced by
interpolation over time from the same joint's confident frames (held at the ends); a joint never
confident in the sequence is filled from the body centre, so the lifter never sees NaN.

Checkpoint loading without running arbitrary pickles: the published ``.bin`` files are
``torch.save`` pickles of a dict that also holds the optimizer state and a NumPy
``RandomState`` (its pickle calls ``numpy.random._pickle.__randomstate_ctor``; plain
``torch.load(weights_only=True)`` refuses it). ``load_checkpoint`` passes ``torch.load`` a
restricted pickle module whose unpickler resolves only tensor/storage rebuild functions and
``collections.OrderedDict``; every other global (the RandomState constructor, any callable an
attacker put there) becomes an inert placeholder that is never called with real code, so nothing
but tensors, numbers, strings and containers comes out. Works for zip and legacy formats.
"""

from __future__ import annotations

import collections
import pickle
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...simulator.joints import COCO_17, H36M_17

# Left/right index sets for flip augmentation.
COCO_LEFT = [COCO_17.index(n) for n in COCO_17 if n.startswith("left_")]
COCO_RIGHT = [COCO_17.index(n.replace("left_", "right_")) for n in COCO_17 if n.startswith("left_")]
H36M_LEFT = [H36M_17.index(n) for n in H36M_17 if n.startswith("left_")]
H36M_RIGHT = [H36M_17.index(n.replace("left_", "right_")) for n in H36M_17 if n.startswith("left_")]

RECEPTIVE_FIELDS = {27: [3, 3, 3], 81: [3, 3, 3, 3], 243: [3, 3, 3, 3, 3]}


class TemporalModel(nn.Module):
    """VideoPose3D's dilated temporal convolution model (non-causal, symmetric padding).

    forward: (N, T, J_in, F_in) -> (N, T - receptive_field + 1, J_out, 3).
    """

    def __init__(self, num_joints_in: int, in_features: int, num_joints_out: int,
                 filter_widths: list[int], causal: bool = False, dropout: float = 0.25,
                 channels: int = 1024):
        super().__init__()
        if causal:
            raise ValueError("only the non-causal (symmetric) model is implemented")
        for fw in filter_widths:
            if fw % 2 == 0:
                raise ValueError(f"filter widths must be odd, got {filter_widths}")
        self.num_joints_in, self.in_features = num_joints_in, in_features
        self.num_joints_out = num_joints_out
        self.filter_widths = list(filter_widths)
        self.drop = nn.Dropout(dropout)
        self.relu = nn.ReLU(inplace=True)
        self.expand_conv = nn.Conv1d(num_joints_in * in_features, channels, filter_widths[0],
                                     bias=False)
        self.expand_bn = nn.BatchNorm1d(channels, momentum=0.1)
        self.pad = [filter_widths[0] // 2]
        convs, bns = [], []
        dilation = filter_widths[0]
        for fw in filter_widths[1:]:
            self.pad.append((fw - 1) * dilation // 2)
            convs.append(nn.Conv1d(channels, channels, fw, dilation=dilation, bias=False))
            bns.append(nn.BatchNorm1d(channels, momentum=0.1))
            convs.append(nn.Conv1d(channels, channels, 1, dilation=1, bias=False))
            bns.append(nn.BatchNorm1d(channels, momentum=0.1))
            dilation *= fw
        self.layers_conv = nn.ModuleList(convs)
        self.layers_bn = nn.ModuleList(bns)
        self.shrink = nn.Conv1d(channels, num_joints_out * 3, 1)

    def receptive_field(self) -> int:
        return 1 + 2 * sum(self.pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t = x.shape[:2]
        x = x.reshape(n, t, -1).permute(0, 2, 1)
        x = self.drop(self.relu(self.expand_bn(self.expand_conv(x))))
        for i, pad in enumerate(self.pad[1:]):
            res = x[:, :, pad:x.shape[2] - pad]
            x = self.drop(self.relu(self.layers_bn[2 * i](self.layers_conv[2 * i](x))))
            x = res + self.drop(self.relu(self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](x))))
        x = self.shrink(x).permute(0, 2, 1)
        return x.reshape(n, -1, self.num_joints_out, 3)


# ---------------------------------------------------------------- checkpoint loading

_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
}


class _Refused:
    """Stands in for any global the restricted unpickler refuses; swallows its arguments."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def __call__(self, *args, **kwargs):
        return _Refused()


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        if module == "torch" and name.endswith("Storage"):  # legacy typed storages
            return getattr(torch, name)
        return _Refused


#: A pickle module for ``torch.load(pickle_module=...)`` that rebuilds tensors only.
restricted_pickle = types.ModuleType("imu2safety_restricted_pickle")
restricted_pickle.Unpickler = _RestrictedUnpickler
restricted_pickle.load = lambda f, **kw: _RestrictedUnpickler(f, **kw).load()
restricted_pickle.__name__ = "imu2safety_restricted_pickle"


def load_checkpoint(path: str | Path, key: str = "model_pos") -> dict[str, torch.Tensor]:
    """The ``key`` state dict of a VideoPose3D ``.bin`` checkpoint, without arbitrary unpickling.

    Accepts a full checkpoint dict (``model_pos`` entry) or a bare state dict. Raises ValueError
    when the file holds no such tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"lifter checkpoint {path} not found")
    try:
        data = torch.load(path, map_location="cpu", pickle_module=restricted_pickle,
                          weights_only=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        raise ValueError(f"{path}: not a readable torch checkpoint ({err})") from None
    state = data.get(key, data) if isinstance(data, dict) else None
    if not isinstance(state, dict) or not any(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: no {key!r} state dict of tensors in the checkpoint")
    return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}


def model_from_state_dict(state: dict[str, torch.Tensor]) -> TemporalModel:
    """Infer joints, channels and filter widths from a ``model_pos`` state dict and load it."""
    w = state["expand_conv.weight"]  # (channels, J_in * 2, fw0)
    channels, cin, fw0 = w.shape
    widths = [int(fw0)]
    i = 0
    while f"layers_conv.{2 * i}.weight" in state:
        widths.append(int(state[f"layers_conv.{2 * i}.weight"].shape[2]))
        i += 1
    j_out = state["shrink.weight"].shape[0] // 3
    model = TemporalModel(cin // 2, 2, j_out, widths, channels=int(channels))
    model.load_state_dict(state, strict=True)
    return model.eval()


# ---------------------------------------------------------------- inference

def normalize_screen(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixels -> VideoPose3D screen coordinates: x in [-1, 1], y scaled by the same factor."""
    return xy / width * 2.0 - np.array([1.0, height / width], dtype=np.float64)


def coco_to_h36m(kp: np.ndarray) -> np.ndarray:
    """(..., 17, D) COCO-17 -> (..., 17, D) Human3.6M-17 (pelvis, spine, thorax, head made from
    hip/shoulder/eye midpoints; neck from the nose). Works on 2D keypoints and on scores."""
    c = {n: kp[..., i, :] for i, n in enumerate(COCO_17)}
    pelvis = (c["left_hip"] + c["right_hip"]) / 2
    thorax = (c["left_shoulder"] + c["right_shoulder"]) / 2
    table = {
        "pelvis": pelvis, "spine": (pelvis + thorax) / 2, "thorax": thorax, "neck": c["nose"],
        "head": (c["left_eye"] + c["right_eye"]) / 2,
    }
    return np.stack([table[n] if n in table else c[n] for n in H36M_17], axis=-2)


def fill_low_confidence(kp: np.ndarray, scores: np.ndarray, min_score: float) -> np.ndarray:
    """(T, J, 2) keypoints with those scored below ``min_score`` (or non-finite) interpolated over
    time from the same joint's confident frames; never-confident joints take the frame's
    confident-joint centre (or the sequence's)."""
    kp = np.array(kp, dtype=np.float64)
    good = (np.asarray(scores) >= min_score) & np.isfinite(kp).all(-1)
    t = np.arange(kp.shape[0])
    for j in range(kp.shape[1]):
        g = good[:, j]
        if g.all():
            continue
        if g.any():
            for d in range(kp.shape[2]):
                kp[~g, j, d] = np.interp(t[~g], t[g], kp[g, j, d])
    never = ~good.any(axis=0)
    if never.any():
        any_good = good.any(axis=1)
        centre = np.zeros((kp.shape[0], kp.shape[2]))
        if good.any():
            for f in range(kp.shape[0]):
                centre[f] = kp[f][good[f]].mean(0) if any_good[f] else np.nan
            for d in range(kp.shape[2]):
                bad = ~np.isfinite(centre[:, d])
                if bad.any():
                    centre[bad, d] = np.interp(t[bad], t[~bad], centre[~bad, d])
        kp[:, never] = centre[:, None, :]
    return kp


class Lifter:
    """A loaded VideoPose3D model with its inference recipe (module docstring)."""

    def __init__(self, model: TemporalModel, *, input_layout: str = "coco17", flip: bool = True,
                 min_score: float = 0.3, device: str = "cpu", batch_frames: int = 4096):
        if input_layout not in ("coco17", "h36m17"):
            raise ValueError(f"input_layout must be 'coco17' or 'h36m17', got {input_layout!r}")
        self.model = model.eval().to(device)
        self.input_layout, self.flip, self.min_score = input_layout, flip, float(min_score)
        self.device = device
        self.batch_frames = int(batch_frames)

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kwargs) -> "Lifter":
        return cls(model_from_state_dict(load_checkpoint(path)), **kwargs)

    @property
    def receptive_field(self) -> int:
        return self.model.receptive_field()

    def _run(self, x: np.ndarray) -> np.ndarray:
        """x: (T_padded, J, 2) normalised -> (T, J_out, 3)."""
        rf = self.receptive_field
        out_t = x.shape[0] - rf + 1
        outs = []
        with torch.inference_mode():
            for s in range(0, out_t, self.batch_frames):
                e = min(out_t, s + self.batch_frames)
                seg = torch.as_tensor(x[s:e + rf - 1], dtype=torch.float32, device=self.device)
                outs.append(self.model(seg[None]).float().cpu().numpy()[0])
        return np.concatenate(outs).astype(np.float64)

    def __call__(self, keypoints: np.ndarray, scores: np.ndarray, width: int,
                 height: int) -> np.ndarray:
        """keypoints (T, 17, 2) COCO pixels, scores (T, 17) -> (T, 17, 3) H36M, metres,
        root-relative, camera frame."""
        kp = fill_low_confidence(keypoints, scores, self.min_score)
        if self.input_layout == "h36m17":
            kp = coco_to_h36m(kp)
        left, right = (COCO_LEFT, COCO_RIGHT) if self.input_layout == "coco17" else (H36M_LEFT, H36M_RIGHT)
        x = normalize_screen(kp, width, height)
        pad = (self.receptive_field - 1) // 2
        x = np.pad(x, ((pad, pad), (0, 0), (0, 0)), mode="edge")
        pred = self._run(x)
        if self.flip:
            xf = x.copy()
            xf[..., 0] *= -1
            xf[:, left + right] = xf[:, right + left]
            pf = self._run(xf)
            pf[..., 0] *= -1
            pf[:, H36M_LEFT + H36M_RIGHT] = pf[:, H36M_RIGHT + H36M_LEFT]
            pred = (pred + pf) / 2
        pred = pred - pred[:, :1]  # root-relative, as the original (trajectory model aside)
        return pred


# ---------------------------------------------------------------- fallback without a checkpoint

#: Adult average bone lengths, metres, between COCO-17 keypoints (used by ``planar_lift`` only).
BONES_M = {
    ("left_shoulder", "left_elbow"): 0.29, ("right_shoulder", "right_elbow"): 0.29,
    ("left_elbow", "left_wrist"): 0.25, ("right_elbow", "right_wrist"): 0.25,
    ("left_hip", "left_knee"): 0.43, ("right_hip", "right_knee"): 0.43,
    ("left_knee", "left_ankle"): 0.42, ("right_knee", "right_ankle"): 0.42,
    ("left_shoulder", "right_shoulder"): 0.34, ("left_hip", "right_hip"): 0.22,
    ("left_shoulder", "left_hip"): 0.50, ("right_shoulder", "right_hip"): 0.50,
}


def planar_lift(keypoints: np.ndarray, scores: np.ndarray, min_score: float = 0.3,
                smooth_frames: int = 9) -> np.ndarray:
    """Fallback when no lifter checkpoint is given: (T, 17, 3) H36M joints, root-relative,
    camera frame, metres, with every joint at the root's depth (relative depth 0).

    The image scale (pixels per metre) is each frame's 80th percentile of 2D bone length over
    ``BONES_M`` (the least foreshortened bones), median-filtered over ``smooth_frames``; the root
    trajectory step then recovers depth from it. Gives the body's drop and the limbs' motion
    in the image plane, not their motion toward the camera.
    """
    from scipy.ndimage import median_filter

    coco = fill_low_confidence(keypoints, scores, min_score)
    kp = coco_to_h36m(coco)
    ratios = []
    for (a, b), length in BONES_M.items():
        ia, ib = COCO_17.index(a), COCO_17.index(b)
        r = np.linalg.norm(coco[:, ia] - coco[:, ib], axis=-1) / length
        ok = (np.asarray(scores)[:, ia] >= min_score) & (np.asarray(scores)[:, ib] >= min_score)
        ratios.append(np.where(ok, r, np.nan))
    ratios = np.stack(ratios, 1)
    scale = np.full(len(kp), np.nan)
    has = np.isfinite(ratios).any(1)
    if has.any():
        scale[has] = np.nanpercentile(ratios[has], 80, axis=1)
    good = np.isfinite(scale) & (scale > 1e-3)
    if not good.any():
        span = np.ptp(kp[..., 1], axis=1)  # no confident bone anywhere: assume 1.7 m tall
        scale = np.maximum(span, 1.0) / 1.7
    else:
        idx = np.arange(len(kp))
        scale = np.interp(idx, idx[good], scale[good])
    scale = median_filter(scale, size=max(1, smooth_frames), mode="nearest")
    rel = np.zeros(kp.shape[:2] + (3,))
    rel[..., :2] = (kp - kp[:, :1]) / scale[:, None, None]
    return rel
