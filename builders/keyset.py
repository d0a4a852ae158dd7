"""A compact set of keys for builds of any size: 128-bit digests in sorted NumPy runs.

A Python set of 114,480 clip ids or half a million pair digests costs 60-100 bytes per key; a
``KeySet`` costs 16 bytes per key plus 8 for its value, in a few sorted runs merged as they grow (a
log-structured merge: every key is moved O(log n) times). Keys are 128-bit BLAKE2b digests of the
texts (``key``): two different texts share a key with a probability of about n^2 / 2^129, below
1e-26 for a million texts, the argument by which the build already trusts sha256 digests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np

_ABSENT = -2  # (values are >= -1)


def key(text: str | bytes) -> bytes:
    """The 16-byte key of ``text`` (BLAKE2b; UTF-8 for a str)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.blake2b(data, digest_size=16).digest()


def _split(keys: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """16-byte keys -> (high, low) uint64 halves."""
    joined = b"".join(keys)
    if len(joined) != 16 * len(keys) or any(len(k) != 16 for k in keys[:1]):
        raise ValueError("keys must be 16 bytes long (keyset.key)")
    both = np.frombuffer(joined, dtype=">u8").reshape(-1, 2).astype(np.uint64)
    return both[:, 0].copy(), both[:, 1].copy()


class KeySet:
    """Keys (16 bytes, ``key``) with an int64 value each (>= -1), added in batches.

    ``add`` tells, for each key of a batch, the value of the same key added before (by an earlier
    batch or earlier in this batch), or None when the key is new; a new key is kept with its value.
    """

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (high sorted, low, value)

    def __len__(self) -> int:
        return sum(len(h) for h, _, _ in self._runs)

    @property
    def nbytes(self) -> int:
        """Bytes held by the keys and values."""
        return sum(h.nbytes + lo.nbytes + v.nbytes for h, lo, v in self._runs)

    def _find(self, high: np.ndarray, low: np.ndarray) -> np.ndarray:
        """The value of each key (high, low; high sorted) in the runs, ``_ABSENT`` where none."""
        found = np.full(len(high), _ABSENT, np.int64)
        for run_h, run_l, run_v in self._runs:
            lo_at = np.searchsorted(run_h, high, "left")
            hi_at = np.searchsorted(run_h, high, "right")
            for i in np.flatnonzero(hi_at > lo_at).tolist():  # the high half matches: rare
                for j in range(lo_at[i], hi_at[i]):
                    if run_l[j] == low[i]:
                        found[i] = run_v[j]
        return found

    def add(self, keys: Sequence[bytes], values: Iterable[int] | None = None) -> list[int | None]:
        """Add ``keys`` with ``values`` (ints >= -1; default 0); returns, per key, the value it
        already had (an earlier batch's, or this batch's first) or None when it is new."""
        n = len(keys)
        if n == 0:
            return []
        high, low = _split(keys)
        vals = np.zeros(n, np.int64) if values is None else np.fromiter(values, np.int64, n)
        if vals.min() < -1:
            raise ValueError("values must be >= -1")
        # duplicates within the batch: the first occurrence (in order) is the one kept
        order = np.lexsort((np.arange(n), low, high))
        had = np.empty(n, np.int64)
        had[order] = self._find(high[order], low[order])  # (sorted needles: a faster search)
        same = np.zeros(n, bool)
        same[1:] = (high[order][1:] == high[order][:-1]) & (low[order][1:] == low[order][:-1])
        first = np.maximum.accumulate(np.where(same, 0, np.arange(n)))  # position of each run's first
        dup = order[same]
        had[dup] = np.where(had[dup] != _ABSENT, had[dup], vals[order[first[same]]])
        new = had == _ABSENT
        if new.any():
            o = np.argsort(high[new], kind="stable")
            self._runs.append((high[new][o], low[new][o], vals[new][o]))
            self._merge()
        return [None if v == _ABSENT else v for v in had.tolist()]

    def _merge(self) -> None:
        """Merge the newest run into the one before while it is at least half that one's size."""
        while len(self._runs) > 1 and 2 * len(self._runs[-1][0]) >= len(self._runs[-2][0]):
            b, a = self._runs.pop(), self._runs.pop()
            high = np.concatenate([a[0], b[0]])
            o = np.argsort(high, kind="stable")
            self._runs.append((high[o], np.concatenate([a[1], b[1]])[o], np.concatenate([a[2], b[2]])[o]))
