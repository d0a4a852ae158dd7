"""Person detection: RT-DETR (transformers, COCO ``person`` class, batched) or OpenCV's HOG.

A detector maps a list of (H, W, 3) uint8 RGB images to one ``Detections`` per image:
``boxes`` (N, 4) float x1 y1 x2 y2 pixels and ``scores`` (N,) in [0, 1].
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

#: Default detector: RT-DETR R50 trained on COCO (+ Objects365), a Hub id or a local folder.
DEFAULT_DETECTOR = "PekingU/rtdetr_r50vd_coco_o365"


@dataclass
class Detections:
    """Person boxes of one image: ``boxes`` (N, 4) x1 y1 x2 y2 pixels, ``scores`` (N,)."""

    boxes: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))


def torch_dtype(name: str):
    import torch

    table = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
             "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}
    if name not in table:
        raise ValueError(f"dtype must be one of {sorted(table)}, got {name!r}")
    return table[name]


class RTDetrDetector:
    """transformers ``RTDetrForObjectDetection`` keeping the ``person`` class.

    model: Hub id or local folder (``from_pretrained``; the folder needs the image processor's
    ``preprocessor_config.json``). threshold: minimum person score kept. device_resize: resize
    and rescale the batch on the model's device (``_pixel_values``) instead of per image in PIL.
    """

    def __init__(self, model: str = DEFAULT_DETECTOR, *, device: str = "cpu", dtype: str = "fp32",
                 threshold: float = 0.5, batch_size: int = 8, device_resize: bool = True):
        from transformers import RTDetrForObjectDetection, RTDetrImageProcessorPil

        self.processor = RTDetrImageProcessorPil.from_pretrained(model)
        self.model = RTDetrForObjectDetection.from_pretrained(model).eval()
        self.model.to(device=device, dtype=torch_dtype(dtype))
        self.device, self.dtype = device, torch_dtype(dtype)
        self.threshold = float(threshold)
        self.batch_size = int(batch_size)
        self.device_resize = bool(device_resize)
        labels = {str(v).lower(): int(k) for k, v in self.model.config.id2label.items()}
        if "person" not in labels:
            raise ValueError(f"detector {model} has no 'person' class (labels: "
                             f"{sorted(labels)[:10]}...); use a COCO-trained RT-DETR")
        self.person_id = labels["person"]

    def _pixel_values(self, images: list[np.ndarray]):
        """Resize (bilinear, antialiased as PIL does) and rescale on the model's device when
        ``device_resize`` and the images share one size; else the image processor."""
        import torch
        import torch.nn.functional as F

        p = self.processor
        simple = p.do_resize and not p.do_normalize and not getattr(p, "do_pad", False)
        if not (self.device_resize and simple) or len({im.shape for im in images}) > 1:
            return self.processor(images=images, return_tensors="pt")["pixel_values"]
        x = torch.as_tensor(np.stack(images)).to(self.device).permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=(p.size["height"], p.size["width"]), mode="bilinear",
                          antialias=True, align_corners=False)
        return x * p.rescale_factor if p.do_rescale else x

    def __call__(self, images: list[np.ndarray]) -> list[Detections]:
        import torch

        out: list[Detections] = []
        for i in range(0, len(images), self.batch_size):
            chunk = images[i:i + self.batch_size]
            pixel_values = self._pixel_values(chunk).to(self.device, self.dtype)
            with torch.inference_mode():
                outputs = self.model(pixel_values=pixel_values)
            outputs.logits = outputs.logits.float()
            outputs.pred_boxes = outputs.pred_boxes.float()
            sizes = [im.shape[:2] for im in chunk]
            results = self.processor.post_process_object_detection(
                outputs, target_sizes=sizes, threshold=self.threshold)
            for res, (h, w) in zip(results, sizes):
                keep = res["labels"].cpu().numpy() == self.person_id
                boxes = res["boxes"].cpu().numpy()[keep].astype(np.float32)
                boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
                boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
                scores = res["scores"].cpu().numpy()[keep].astype(np.float32)
                ok = (boxes[:, 2] - boxes[:, 0] > 1) & (boxes[:, 3] - boxes[:, 1] > 1)
                out.append(Detections(boxes[ok], scores[ok]))
        return out


class HogDetector:
    """OpenCV's HOG + linear SVM people detector (weights inside OpenCV: fully offline).

    Scores are the SVM margins squashed to (0, 1) by a logistic; overlapping boxes are merged by
    non-maximum suppression. Images lower than ``min_height`` are enlarged first (HOG's window is
    64x128); images larger than ``max_side`` are shrunk (speed; people stay well above 128 px).
    """

    def __init__(self, *, threshold: float = 0.3, min_height: int = 160, max_side: int = 720):
        import cv2

        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.threshold = float(threshold)
        self.min_height = int(min_height)
        self.max_side = int(max_side)

    def __call__(self, images: list[np.ndarray]) -> list[Detections]:
        import cv2

        out = []
        for im in images:
            scale = max(1.0, self.min_height / max(1, im.shape[0]))
            scale = min(scale, self.max_side / max(im.shape[:2])) if scale == 1.0 else scale
            work = cv2.resize(im, None, fx=scale, fy=scale) if scale != 1 else im
            gray = cv2.cvtColor(work, cv2.COLOR_RGB2GRAY)
            rects, weights = self.hog.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8),
                                                       scale=1.05)
            if len(rects) == 0:
                out.append(Detections.empty())
                continue
            rects = np.asarray(rects, np.float32) / scale
            scores = 1.0 / (1.0 + np.exp(-np.asarray(weights, np.float32).reshape(-1)))
            keep = cv2.dnn.NMSBoxes(rects.tolist(), scores.tolist(), self.threshold, 0.45)
            keep = np.asarray(keep, int).reshape(-1)
            boxes = rects[keep].copy()
            boxes[:, 2:] += boxes[:, :2]
            out.append(Detections(boxes, scores[keep]))
        return out
