"""Small videos and frame folders rendered by the tests with PyAV: moving figures on a floor.

Each figure is a stick person drawn as filled rectangles (head, trunk, arms, legs) that walks
across the frame; ``fall_at`` tips it over to lie on the floor from that frame on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def figure_frame(k: int, width: int, height: int, people: int = 1,
                 fall_at: int | None = None) -> np.ndarray:
    """(height, width, 3) uint8 RGB frame ``k``: a grey floor and ``people`` walking figures."""
    img = np.full((height, width, 3), 90, np.uint8)
    img[int(0.8 * height):] = 150
    h = int(0.6 * height)
    for p in range(people):
        x = int((0.15 + 0.5 * p + 0.01 * k) * width) % max(1, width - h // 3)
        top = int(0.2 * height)
        body = np.zeros((h, h // 2, 3), np.uint8)
        body[: h // 6, h // 8: 3 * h // 8] = (230, 200, 170)          # head
        body[h // 6: h // 2, h // 6: h // 3] = (40, 60, 200)           # trunk
        swing = int((h // 10) * np.sin(0.5 * k + p))
        body[h // 6: h // 2, max(0, h // 12 + swing): h // 6] = (230, 200, 170)   # arm
        body[h // 2:, h // 6: h // 4] = (20, 20, 20)                   # legs
        body[h // 2:, h // 4: h // 3] = (20, 20, 20)
        if fall_at is not None and k >= fall_at:
            body = np.rot90(body)[: h // 2 + 1]
            top = int(0.8 * height) - body.shape[0]
        y2, x2 = min(height, top + body.shape[0]), min(width, x + body.shape[1])
        region = body[: y2 - top, : x2 - x]
        mask = region.any(axis=2)
        img[top:y2, x:x2][mask] = region[mask]
    return img


def write_video(path: Path, frames: int = 20, fps: int = 10, size: tuple[int, int] = (64, 48),
                people: int = 1, fall_at: int | None = None, codec: str = "mpeg4") -> Path:
    """Render a video file with PyAV (``mpeg4`` in .mp4/.avi: fast, no external encoder)."""
    import av

    width, height = size
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(figure_frame(k, width, height, people, fall_at),
                                               format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_frames(folder: Path, names: list[str], size: tuple[int, int] = (64, 48),
                 people: int = 1) -> Path:
    """Write one PNG per name into ``folder`` (a frame-folder video)."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    width, height = size
    for k, name in enumerate(names):
        frame = av.VideoFrame.from_ndarray(figure_frame(k, width, height, people), format="rgb24")
        frame.to_image().save(folder / name)
    return folder


def write_corrupt(path: Path) -> Path:
    """A file with a video extension holding no video."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    return path
