"""Stage-1 cache: one ``.npz`` per (video, window, options) so that re-runs and Stage-2
variations skip the models.

File ``CACHE_DIR/<video stem>-<key>.npz`` where ``key`` is the first 20 hex digits of the sha256
of the video's bytes (``decode.digest``), the window and the options' cache dict. It holds
``meta`` (a JSON string: video, fps, size, window, camera, notes, options) and per track ``i``:
``t{i}_frame_indices`` (T,), ``t{i}_timestamps`` (T,) s, ``t{i}_boxes`` (T, 4) px,
``t{i}_keypoints_2d`` (T, 17, 2) px, ``t{i}_scores`` (T, 17), ``t{i}_mask`` (T,),
``t{i}_positions`` (T, J, 3) m world, ``t{i}_valid`` (T, J), and extras ``t{i}_x_<name>``.
Written atomically (temporary file, then rename); read with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

CACHE_VERSION = 2


def cache_key(video_digest: str, options: dict, start_s, end_s) -> str:
    blob = json.dumps({"v": CACHE_VERSION, "video": video_digest, "options": options,
                       "start_s": start_s, "end_s": end_s}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def cache_path(cache_dir: str | Path, video: str | Path, key: str) -> Path:
    return Path(cache_dir) / f"{Path(video).name}-{key}.npz"


def save(path: Path, meta: dict, arrays: dict[str, np.ndarray]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp.npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez_compressed(tmp, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load(path: Path) -> tuple[dict, dict[str, np.ndarray]] | None:
    """(meta, arrays) or None when the file is absent or unreadable (then it is recomputed)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError):
        return None
    if meta.get("cache_version") != CACHE_VERSION:
        return None
    return meta, arrays
