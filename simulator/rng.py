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
    the same object: use it before taking the next (as a loop over the clips does).

    head_outputs: the first this many 64-bit outputs of every item are computed for all clips at
    once (``pcg64_head``); ``start(k)`` hands them over (a ``StreamHead``), with the generator
    past them for a clip that draws more."""

    def __init__(self, seed: int, clip_ids: Sequence[str], stream: str = "", head_outputs: int = 0):
        entropy = [_entropy(seed, cid, stream) for cid in clip_ids]
        self._few = entropy if len(entropy) < _BATCHED else None  # NumPy's own seeding then
        states = (_seed_sequence_states(np.array(entropy, dtype=np.uint64))
                  if self._few is None or (head_outputs and entropy) else None)
        self._words = states.tolist() if self._few is None else []
        self.head_outputs = head_outputs
        self._heads = pcg64_head(states, head_outputs)[:, ::-1].tolist() if head_outputs and entropy else []
        self._bits = np.random.PCG64(0)
        self._generator = np.random.Generator(self._bits)

    def start(self, k: int) -> "StreamHead":
        """Item k's first ``head_outputs`` outputs as words (once per item: the words are drawn
        from the list handed over) and its generator past them."""
        return StreamHead(self._heads[k], self, k)

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


_U64 = np.uint64
_M32 = _U64(0xFFFFFFFF)
_MULT_HI, _MULT_LO = _U64(_PCG_MULT >> 64), _U64(_PCG_MULT & 0xFFFFFFFFFFFFFFFF)
_MULT_LO_HI, _MULT_LO_LO = _U64(int(_MULT_LO) >> 32), _U64(int(_MULT_LO) & 0xFFFFFFFF)


def _pcg64_step(hi: np.ndarray, lo: np.ndarray, inc_hi: np.ndarray, inc_lo: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """One PCG64 step of many 128-bit states (hi, lo uint64 halves): state * mult + inc, mod 2**128
    (the high half of lo * mult's low half from 32-bit partial products)."""
    a0, a1 = lo & _M32, lo >> _U64(32)
    p00, p01, p10 = a0 * _MULT_LO_LO, a0 * _MULT_LO_HI, a1 * _MULT_LO_LO
    mid = (p00 >> _U64(32)) + (p01 & _M32) + (p10 & _M32)
    carry_hi = a1 * _MULT_LO_HI + (p01 >> _U64(32)) + (p10 >> _U64(32)) + (mid >> _U64(32))
    new_lo = lo * _MULT_LO + inc_lo
    new_hi = hi * _MULT_LO + lo * _MULT_HI + carry_hi + inc_hi + (new_lo < inc_lo)
    return new_hi, new_lo


def pcg64_head(states: np.ndarray, outputs: int) -> np.ndarray:
    """(B, 2 * outputs) uint32: the first 32-bit words ``Generator``s draw (``next_uint32``: the low,
    then the high half of each 64-bit output) from PCG64 generators seeded with the SeedSequence
    states (B, 4) uint64 (seed high, low, increment high, low; as ``ClipGenerators`` seeds its
    items), all at once: the 128-bit arithmetic of PCG64 (XSL-RR) on uint64 halves."""
    s = np.asarray(states, dtype=np.uint64)
    seed_hi, seed_lo, inc_hi, inc_lo = s[:, 0], s[:, 1], s[:, 2], s[:, 3]
    with np.errstate(over="ignore"):
        inc_hi = (inc_hi << _U64(1)) | (inc_lo >> _U64(63))  # (pcg_setseq_128_srandom_r)
        inc_lo = (inc_lo << _U64(1)) | _U64(1)
        lo = seed_lo + inc_lo
        hi = seed_hi + inc_hi + (lo < inc_lo)
        hi, lo = _pcg64_step(hi, lo, inc_hi, inc_lo)
        out = np.empty((len(s), outputs), dtype=np.uint64)
        for j in range(outputs):
            hi, lo = _pcg64_step(hi, lo, inc_hi, inc_lo)
            x, rot = hi ^ lo, hi >> _U64(58)
            out[:, j] = (x >> rot) | (x << ((_U64(64) - rot) & _U64(63)))
    return out.astype("<u8", copy=False).view("<u4")


class StreamHead:
    """The start of item k of a ``ClipGenerators``: ``words``, its first 32-bit words in reverse
    order (``words.pop()`` draws the next), and ``rest()``, the generator past them."""

    __slots__ = ("words", "_gens", "_k")

    def __init__(self, words: list[int], gens: "ClipGenerators", k: int) -> None:
        self.words, self._gens, self._k = words, gens, k

    def rest(self) -> np.random.Generator:
        """Item k's generator, advanced past the words of the head (the same object for every
        item, as ``ClipGenerators[k]``)."""
        g = self._gens[self._k]
        g.bit_generator.advance(self._gens.head_outputs)
        return g
