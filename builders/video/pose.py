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


class VitPoseBackend:
    """transformers ``VitPoseForPoseEstimation`` on person boxes, batched over crops.

    model: Hub id or local folder (with the image processor's ``preprocessor_config.json``).
    """

    name = "vitpose"

    def __init__(self, model: str = DEFAULT_POSE_MODEL, *, device: str = "cpu",
                 dtype: str = "fp32", batch_size: int = 32):
        from transformers import VitPoseForPoseEstimation, VitPoseImageProcessorPil

        self.processor = VitPoseImageProcessorPil.from_pretrained(model)
        self.model = VitPoseForPoseEstimation.from_pretrained(model).eval()
        self.device, self.dtype = device, torch_dtype(dtype)
        self.model.to(device=device, dtype=self.dtype)
        self.batch_size = int(batch_size)

    def __call__(self, images: list[np.ndarray], boxes: list[np.ndarray]) -> list[PoseResult]:
        import torch

        xywh = []
        for b in boxes:
            b = np.asarray(b, np.float32).reshape(-1, 4)
            xywh.append(np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1))
        used = [i for i, b in enumerate(xywh) if len(b)]
        if not used:
            return [PoseResult.empty() for _ in images]
        pixel_values = self.processor(images=[images[i] for i in used],
                                      boxes=[xywh[i].tolist() for i in used],
                                      return_tensors="pt")["pixel_values"]
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
