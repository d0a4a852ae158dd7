"""The instruction pass's shortcuts draw, write and check exactly what the plain paths do."""

from __future__ import annotations

import numpy as np

from imu2safety.builders.instructions.templates import _Pick
from imu2safety.simulator.rng import clip_rng


def test_pick_draws_like_numpy():
    """``_Pick.one`` / ``shuffled`` pick what ``Generator.integers(n)`` / ``permutation(n)`` of the
    same stream pick, interleaved in any order, for bounds that need NumPy's rejection loops
    (n close to 2**32; masks of 2**k - 1 over n = 2**(k-1) + 1)."""
    bounds = [1, 2, 3, 5, 6, 9, 17, 1000, 2**31 + 7, 3 * 2**30 + 1, 2**32 - 1]
    for s in range(100):
        cid = f"S{s:03d}C001P001R001A{1 + s % 120:03d}"
        mine, numpy_rng = _Pick(s, cid, "description"), clip_rng(s, cid, "pairs/description")
        draws = np.random.default_rng(s)
        for _ in range(40):  # longer than a block of words: refills are seamless
            if draws.random() < 0.7:
                n = int(bounds[draws.integers(len(bounds))])
                assert mine.below(n) == int(numpy_rng.integers(n)), (s, n)
            else:
                items = list(range(int(draws.integers(0, 9))))
                assert mine.shuffled(items) == [items[i] for i in numpy_rng.permutation(len(items))]
