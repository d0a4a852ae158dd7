"""Per-clip random streams: derived from (seed, clip id), never from processing order."""

from __future__ import annotations

import hashlib
import struct
from typing import Iterator, Sequence

import numpy as np

# NumPy's SeedSequence (numpy/random/bit_generator.pyx, pool size 4) and PCG64 seeding
# (pcg64_set_seed): ``ClipGenerators`` computes them for many clips at once.
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R, _XSHIFT = 0xCA01F9DD, 0x4973F715, np.uint32(16)
_PCG_MULT = (2549297995355413924 << 64) | 4865540595714422341
_MASK128 = (1 << 128) - 1
_POOL = 4
#: From this many clips on, the seeding of ``ClipGenerators`` is vectorised (below, NumPy's is faster).
_BATCHED = 16


_WORDS4 = struct.Struct("<4I")  # (the first 16 bytes of a digest as four little-endian uint32)


def _entropy(seed: int, clip_id: str, stream: str) -> list[int]:
    """The SeedSequence entropy of a clip: the seed's low 32 bits and 4 words of a hash."""
    digest = hashlib.sha256(f"{clip_id}\0{stream}".encode()).digest()
    return [int(seed) & 0xFFFFFFFF, *_WORDS4.unpack_from(digest)]


def clip_rng(seed: int, clip_id: str, stream: str = "") -> np.random.Generator:
    """Generator for one clip. ``stream`` separates independent uses (e.g. "device", "augment")."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(_entropy(seed, clip_id, stream))))


def _seed_sequence_states(entropy: np.ndarray) -> np.ndarray:
    """(B, 4) uint64: ``SeedSequence(row).generate_state(4, np.uint64)`` of each row of entropy
    (B, W) uint32 words (W >= 4), for all rows at once."""
    hash_a = _INIT_A

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal hash_a
        value = value ^ np.uint32(hash_a)
        hash_a = (hash_a * _MULT_A) & 0xFFFFFFFF
        value = value * np.uint32(hash_a)
        return value ^ (value >> _XSHIFT)

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r = np.uint32(_MIX_L) * x - np.uint32(_MIX_R) * y
        return r ^ (r >> _XSHIFT)

    e = entropy.astype(np.uint32)
    with np.errstate(over="ignore"):
        pool = [hashmix(e[:, i]) for i in range(_POOL)]
        for src in range(_POOL):
            for dst in range(_POOL):
                if src != dst:
                    pool[dst] = mix(pool[dst], hashmix(pool[src]))
        for src in range(_POOL, e.shape[1]):
            for dst in range(_POOL):
                pool[dst] = mix(pool[dst], hashmix(e[:, src]))
        hash_b, words = _INIT_B, []
        for i in range(8):
            value = pool[i % _POOL] ^ np.uint32(hash_b)
            hash_b = (hash_b * _MULT_B) & 0xFFFFFFFF
            value = value * np.uint32(hash_b)
            words.append(value ^ (value >> _XSHIFT))
    return np.ascontiguousarray(np.stack(words, axis=1)).view("<u8")


class ClipGenerators(Sequence):
    """The generators ``clip_rng(seed, clip_id, stream)`` of many clips, cheaply: the seeding is
    computed for all clips at once and one generator is set to each clip's state in turn.

    Item k draws exactly what ``clip_rng(seed, clip_ids[k], stream)`` draws, but every item is
    the same object: use it before taking the next (as a loop over the clips does)."""

    def __init__(self, seed: int, clip_ids: Sequence[str], stream: str = ""):
        entropy = [_entropy(seed, cid, stream) for cid in clip_ids]
        self._few = entropy if len(entropy) < _BATCHED else None  # NumPy's own seeding then
        self._words = (_seed_sequence_states(np.array(entropy, dtype=np.uint64)).tolist()
                       if self._few is None else [])
        self._bits = np.random.PCG64(0)
        self._generator = np.random.Generator(self._bits)

    def __len__(self) -> int:
        return len(self._few) if self._few is not None else len(self._words)

    def __getitem__(self, k: int) -> np.random.Generator:
        if self._few is not None:
            return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self._few[k])))
        seed_hi, seed_lo, inc_hi, inc_lo = self._words[k]
        inc = ((((inc_hi << 64) | inc_lo) << 1) | 1) & _MASK128  # pcg_setseq_128_srandom_r
        state = ((inc + ((seed_hi << 64) | seed_lo)) * _PCG_MULT + inc) & _MASK128
        self._bits.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": inc},
                            "has_uint32": 0, "uinteger": 0}
        return self._generator

    def __iter__(self) -> Iterator[np.random.Generator]:
        return (self[k] for k in range(len(self)))
