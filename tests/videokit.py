"""Test helpers for Stage 1: videos rendered with PyAV (moving stick figures), tiny random-weight
RT-DETR / ViTPose folders and VideoPose3D checkpoints in the published layout.

Use from a test module with ``from videokit import ...`` (tests/ is on sys.path under pytest).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def figure_box(cx: float, top: float, height: float) -> np.ndarray:
    """x1 y1 x2 y2 of a stick figure of ``height`` px whose head top is at (cx, top)."""
    return np.array([cx - 0.22 * height, top, cx + 0.22 * height, top + height], np.float32)


def draw_figure(img: np.ndarray, cx: float, top: float, height: float, phase: float = 0.0) -> None:
    """Draw a stick figure (head, torso, swinging arms and legs) in place, white on grey."""
    import cv2

    h = height
    head_r = max(2, int(0.08 * h))
    neck = (cx, top + 2 * head_r)
    hip = (cx, top + 0.55 * h)
    sw = 0.12 * h * np.sin(phase)
    pts = lambda p: (int(round(p[0])), int(round(p[1])))  # noqa: E731
    col = (240, 240, 240)
    t = max(1, int(h / 25))
    cv2.circle(img, pts((cx, top + head_r)), head_r, col, -1)
    cv2.line(img, pts(neck), pts(hip), col, t)
    cv2.line(img, pts(neck), pts((cx - 0.2 * h + sw, top + 0.45 * h)), col, t)
    cv2.line(img, pts(neck), pts((cx + 0.2 * h - sw, top + 0.45 * h)), col, t)
    cv2.line(img, pts(hip), pts((cx - 0.15 * h - sw, top + h)), col, t)
    cv2.line(img, pts(hip), pts((cx + 0.15 * h + sw, top + h)), col, t)


def render_video(path: Path, *, n: int = 24, fps: int = 24, size: tuple[int, int] = (128, 96),
                 people: list[dict] | None = None, times_s: list[float] | None = None,
                 rotation_deg: int = 0, codec: str = "libx264") -> dict[int, np.ndarray]:
    """Write ``n`` frames of moving stick figures to ``path`` (mp4) and return the ground-truth
    box of every figure per frame ({frame: (P, 4)}).

    people: dicts with ``x`` (px at frame 0), ``vx`` (px/frame), ``top``, ``height`` (px), and
    optional ``frames`` (the frame indices where the figure is drawn). times_s: explicit frame
    times (variable frame rate; a 1/1000 s time base). rotation_deg: display matrix rotation
    written to the stream (counter-clockwise); frames are drawn as stored.
    """
    import av

    w, h = size
    people = people if people is not None else [dict(x=30, vx=1.5, top=20, height=60)]
    boxes = {}
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"g": "8"} if codec == "libx264" else {}
        if times_s is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
            stream.time_base = Fraction(1, 1000)
        if rotation_deg:
            stream.set_display_rotation(rotation_deg)
        for i in range(n):
            img = np.full((h, w, 3), 70, np.uint8)
            fb = []
            for p in people:
                if "frames" in p and i not in p["frames"]:
                    continue
                cx = p["x"] + p["vx"] * i
                draw_figure(img, cx, p["top"], p["height"], phase=0.5 * i)
                fb.append(figure_box(cx, p["top"], p["height"]))
            boxes[i] = np.array(fb, np.float32).reshape(-1, 4)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if times_s is not None:
                frame.pts = int(round(times_s[i] * 1000))
                frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return boxes


def tiny_detector(folder: Path, person_bias: float = 6.0, seed: int = 0) -> Path:
    """A random-weight RT-DETR (hidden size 32, one decoder layer, 64x64 input) saved with its
    image processor; the person logit is biased up so that it reports persons."""
    import torch
    from transformers import (RTDetrConfig, RTDetrForObjectDetection, RTDetrImageProcessorPil,
                              RTDetrResNetConfig)

    torch.manual_seed(seed)
    backbone = RTDetrResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 16, 32],
                                  depths=[1, 1, 1, 1], layer_type="basic",
                                  out_features=["stage2", "stage3", "stage4"])
    cfg = RTDetrConfig(backbone_config=backbone, d_model=32, encoder_hidden_dim=32,
                       encoder_in_channels=[16, 16, 32], encoder_ffn_dim=32, decoder_ffn_dim=32,
                       decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                       num_queries=6, num_denoising=0, decoder_in_channels=[32, 32, 32],
                       id2label={0: "person", 1: "car"}, label2id={"person": 0, "car": 1})
    model = RTDetrForObjectDetection(cfg).eval()
    with torch.no_grad():
        for head in model.model.decoder.class_embed:
            head.bias[0] = person_bias
    model.save_pretrained(folder)
    RTDetrImageProcessorPil(size={"height": 64, "width": 64}).save_pretrained(folder)
    return Path(folder)


def tiny_vitpose(folder: Path, seed: int = 0) -> Path:
    """A random-weight ViTPose (hidden size 32, one layer, 64x48 crops, 17 keypoints)."""
    import torch
    from transformers import (VitPoseBackboneConfig, VitPoseConfig, VitPoseForPoseEstimation,
                              VitPoseImageProcessorPil)

    torch.manual_seed(seed)
    backbone = VitPoseBackboneConfig(image_size=[64, 48], patch_size=[16, 16], hidden_size=32,
                                     num_hidden_layers=1, num_attention_heads=2, mlp_ratio=2,
                                     out_indices=[1], out_features=["stage1"])
    cfg = VitPoseConfig(backbone_config=backbone, scale_factor=4, use_simple_decoder=True,
                        num_labels=17)
    VitPoseForPoseEstimation(cfg).save_pretrained(folder)
    VitPoseImageProcessorPil(size={"height": 64, "width": 48}).save_pretrained(folder)
    return Path(folder)


def published_layout_checkpoint(path: Path, filter_widths=(3, 3, 3), channels: int = 32,
                                seed: int = 0, legacy: bool = False):
    """Save a VideoPose3D checkpoint the way the original ``run.py`` does: a dict with ``epoch``,
    ``lr``, ``random_state`` (a NumPy RandomState), ``optimizer`` and ``model_pos`` (with
    non-trivial BatchNorm statistics). Returns (model, state dict)."""
    import torch

    from imu2safety.builders.video.lift import TemporalModel

    torch.manual_seed(seed)
    model = TemporalModel(17, 2, 17, list(filter_widths), channels=channels)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.1)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 1.5)
    model.eval()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.save({"epoch": 80, "lr": 1e-5, "random_state": np.random.RandomState(1234),
                "optimizer": opt.state_dict(), "model_pos": model.state_dict()}, path,
               _use_new_zipfile_serialization=not legacy)
    return model, model.state_dict()
