"""Per-clip random streams: derived from (seed, clip id), never from processing order."""

from __future__ import annotations

import hashlib

import numpy as np


def clip_rng(seed: int, clip_id: str, stream: str = "") -> np.random.Generator:
    """Generator for one clip. ``stream`` separates independent uses (e.g. "device", "augment")."""
    digest = hashlib.sha256(f"{clip_id}\0{stream}".encode()).digest()
    words = np.frombuffer(digest[:16], dtype="<u4").tolist()
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *words])))
