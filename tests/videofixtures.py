"""Fixture videos of the video-source tests, drawn with Stage 1's test kit (``videokit``):
video files in a source's folder layout, frame folders with given file names, corrupt files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from videokit import draw_figure, render_video


def write_video(path: Path, frames: int = 20, fps: int = 10, people: int = 1, **kw) -> Path:
    """Render ``frames`` frames of walking stick figures to ``path`` (parent folders made);
    ``.avi`` files get the ``mpeg4`` codec, as Le2i's AVIs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figures = [dict(x=25 + 60 * p, vx=1.0 - 1.8 * p, top=15, height=60) for p in range(people)]
    if path.suffix.lower() == ".avi":
        kw.setdefault("codec", "mpeg4")
    render_video(path, n=frames, fps=fps, people=figures, **kw)
    return path


def write_frames(folder: Path, names: list[str], size: tuple[int, int] = (128, 96),
                 people: int = 1) -> Path:
    """One PNG of walking stick figures per name in ``names`` (a frame-folder video)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    for k, name in enumerate(names):
        img = np.full((h, w, 3), 70, np.uint8)
        for p in range(people):
            draw_figure(img, 25 + 60 * p + (1.0 - 1.8 * p) * k, 15, 60, phase=0.5 * k)
        Image.fromarray(img).save(folder / name)
    return folder


def write_corrupt(path: Path) -> Path:
    """A file with a video extension holding no video."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    return path
