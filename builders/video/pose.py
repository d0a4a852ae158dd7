"""2D pose backends behind one interface.

A backend is called with a list of (H, W, 3) uint8 RGB images and, per image, the person boxes
(N_i, 4) x1 y1 x2 y2 pixels to estimate, and returns one ``PoseResult`` per image:
``keypoints`` (N_i, 17, 2) COCO-17 pixels, ``scores`` (N_i, 17) in [0, 1] and ``extras`` (named
(N_i, ...) arrays a backend adds, e.g. BlazePose's 33 landmarks). A third backend (an OpenMMLab
one) fits by implementing ``__call__`` with the same signature and registering in ``make_backend``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .detect import torch_dtype

log = logging.getLogger(__name__)

#: Default 2D pose model: ViTPose-B (simple decoder) trained on COCO, Hub id or local folder.
DEFAULT_POSE_MODEL = "usyd-community/vitpose-base-simple"
NUM_COCO = 17


@dataclass
class PoseResult:
    keypoints: np.ndarray
    scores: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def empty(cls, extras: dict[str, tuple] | None = None) -> "PoseResult":
        return cls(np.zeros((0, NUM_COCO, 2), np.float32), np.zeros((0, NUM_COCO), np.float32),
                   {k: np.zeros((0,) + s, np.float32) for k, s in (extras or {}).items()})


class PoseBackend(Protocol):
    name: str

    def __call__(self, images: list[np.ndarray], boxes: list[np.ndarray]) -> list[PoseResult]: ...


def crop_boxes(frames, frame_of_crop, xywh: np.ndarray, out_hw: tuple[int, int],
               padding: float = 1.25):
    """Crops for ViTPose made on the frames' device with ``grid_sample`` (bilinear, zeros outside).

    frames: (F, 3, H, W) float tensor, 0-255; frame_of_crop: (N,) frame index per crop; xywh:
    (N, 4) boxes. Each box is widened to the crop's aspect ratio and by ``padding`` about its
    centre, exactly as transformers' ``box_to_center_and_scale`` + unbiased warp (centre to
    centre, corners to corners) do, so keypoints map back with the processor's own code.
    Returns (N, 3, h, w) float tensor, 0-255.
    """
    import torch
    import torch.nn.functional as F

    h_out, w_out = out_hw
    dev = frames.device
    b = torch.as_tensor(np.asarray(xywh, np.float64), device=dev)
    cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
    aspect = w_out / h_out
    bw = torch.maximum(b[:, 2], b[:, 3] * aspect) * padding
    bh = torch.maximum(b[:, 3], b[:, 2] / aspect) * padding
    H, W = frames.shape[-2:]
    xs = torch.arange(w_out, device=dev, dtype=torch.float64) - (w_out - 1) / 2
    ys = torch.arange(h_out, device=dev, dtype=torch.float64) - (h_out - 1) / 2
    src_x = cx[:, None] + xs[None] * (bw[:, None] / (w_out - 1))  # (N, w)
    src_y = cy[:, None] + ys[None] * (bh[:, None] / (h_out - 1))  # (N, h)
    gx = (src_x / (W - 1) * 2 - 1)[:, None, :].expand(-1, h_out, -1)
    gy = (src_y / (H - 1) * 2 - 1)[:, :, None].expand(-1, -1, w_out)
    grid = torch.stack([gx, gy], dim=-1).to(frames.dtype)
    idx = torch.as_tensor(np.asarray(frame_of_crop), device=dev, dtype=torch.long)
    return F.grid_sample(frames[idx], grid, mode="bilinear", padding_mode="zeros",
                         align_corners=True)


class VitPoseBackend:
    """transformers ``VitPoseForPoseEstimation`` on person boxes, batched over crops.

    model: Hub id or local folder (with the image processor's ``preprocessor_config.json``).
    device_crops: make the crops on the model's device with ``crop_boxes`` (same geometry as the
    processor's affine warp; no per-crop CPU work, which would bound a GPU's throughput) instead of
    the image processor's per-crop SciPy warp. Heatmaps -> keypoints use the processor's
    ``post_process_pose_estimation`` (DARK refinement) either way.
    """

    name = "vitpose"

    def __init__(self, model: str = DEFAULT_POSE_MODEL, *, device: str = "cpu",
                 dtype: str = "fp32", batch_size: int = 32, device_crops: bool = True):
        from transformers import VitPoseForPoseEstimation, VitPoseImageProcessorPil

        self.processor = VitPoseImageProcessorPil.from_pretrained(model)
        self.model = VitPoseForPoseEstimation.from_pretrained(model).eval()
        self.device, self.dtype = device, torch_dtype(dtype)
        self.model.to(device=device, dtype=self.dtype)
        self.batch_size = int(batch_size)
        self.device_crops = bool(device_crops)

    def _pixel_values(self, images: list[np.ndarray], xywh: list[np.ndarray]):
        import torch

        if not self.device_crops or len({im.shape for im in images}) > 1:
            return self.processor(images=images, boxes=[b.tolist() for b in xywh],
                                  return_tensors="pt")["pixel_values"]
        p = self.processor
        size = (p.size["height"], p.size["width"])
        frames = torch.as_tensor(np.stack(images)).to(self.device).permute(0, 3, 1, 2).float()
        owner = np.concatenate([np.full(len(b), i) for i, b in enumerate(xywh)])
        crops = crop_boxes(frames, owner, np.concatenate(xywh), size)
        if p.do_rescale:
            crops = crops * p.rescale_factor
        if p.do_normalize:
            mean = torch.tensor(p.image_mean, device=crops.device).view(1, 3, 1, 1)
            std = torch.tensor(p.image_std, device=crops.device).view(1, 3, 1, 1)
            crops = (crops - mean) / std
        return crops

    def __call__(self, images: list[np.ndarray], boxes: list[np.ndarray]) -> list[PoseResult]:
        import torch

        xywh = []
        for b in boxes:
            b = np.asarray(b, np.float32).reshape(-1, 4)
            xywh.append(np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1))
        used = [i for i, b in enumerate(xywh) if len(b)]
        if not used:
            return [PoseResult.empty() for _ in images]
        pixel_values = self._pixel_values([images[i] for i in used], [xywh[i] for i in used])
        heatmaps = []
        with torch.inference_mode():
            for s in range(0, len(pixel_values), self.batch_size):
                chunk = pixel_values[s:s + self.batch_size].to(self.device, self.dtype)
                heatmaps.append(self.model(pixel_values=chunk).heatmaps.float().cpu())

        class _Out:
            pass

        out = _Out()
        out.heatmaps = torch.cat(heatmaps)
        results = self.processor.post_process_pose_estimation(out, boxes=[xywh[i] for i in used])
        per_image = {i: r for i, r in zip(used, results)}
        final = []
        for i in range(len(images)):
            if i not in per_image:
                final.append(PoseResult.empty())
                continue
            kp = np.stack([r["keypoints"].numpy() for r in per_image[i]]).astype(np.float32)
            sc = np.stack([r["scores"].numpy().reshape(-1) for r in per_image[i]]).astype(np.float32)
            final.append(PoseResult(kp[:, :NUM_COCO], np.clip(sc[:, :NUM_COCO], 0.0, 1.0)))
        return final


def make_backend(name: str, *, model: str | None = None, device: str = "cpu", dtype: str = "fp32",
                 batch_size: int = 32) -> PoseBackend:
    """The pose backend ``name`` ("vitpose" | "blazepose")."""
    if name == "vitpose":
        return VitPoseBackend(model or DEFAULT_POSE_MODEL, device=device, dtype=dtype,
                              batch_size=batch_size)
    if name == "blazepose":
        from .blazepose import BlazePoseBackend

        return BlazePoseBackend()
    raise ValueError(f"unknown pose backend {name!r}; use 'vitpose' or 'blazepose'")
