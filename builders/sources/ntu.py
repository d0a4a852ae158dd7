"""NTU RGB+D 60/120 ``.skeleton`` files (Kinect v2, 25 joints, 30 fps) -> skeleton clips.

File layout (text, one value group per line): the frame count; per frame the body count; per body
a line of 10 values (bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence
handRightState isRestricted leanX leanY trackingState), the joint count (25), and 25 lines of 12
values (x y z depthX depthY colorX colorY orientationW orientationX orientationY orientationZ
trackingState). x y z are metres in Kinect camera space (x to the sensor's left, y up, z into the
scene); the world frame is (z, x, y).

Body choice (Kinect re-detects people and ghosts, so one file holds several body ids): the
candidates are the body ids present in at least half as many frames as the longest-tracked one;
the main actor is the candidate with the largest motion (summed positional variance of its
tracked joints), ties to more frames, then to the first seen. Its clip id is the file stem.
For the mutual actions A050-A060 and A106-A120 the next candidate is emitted too, as
``<stem>_b2`` (option ``second_body``). A clip spans its body's first to last frame; frames in
between where the body is absent, and joints with trackingState 0 (not tracked) or a depth <= 0,
are invalid (NaN). Inferred joints (trackingState 1) stay valid; their share is in ``extra``.
A person whose body id changes mid-recording is not stitched: only the chosen id's frames count.
"""

from __future__ import annotations

import functools
import io
import itertools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.core.extending import intrinsic
from numba.cpython.unsafe.numbers import trailing_zeros
import pyarrow.csv as pacsv

from ...simulator.joints import JOINT_SETS
from ...simulator.kernels import pairwise_sum
from ...simulator.cutoff import CUTOFF_BY_KIND
from ...simulator.motion import Motion
from ..labels import lookup
from ..records import Clip, Item, Skip
from . import KINECT_TO_WORLD, motion_problem, parse_options, sorted_files
from ..splits import NTU_PROTOCOLS, ntu_split

NAME = "ntu"
#: Recommended motion low-pass, Hz, for this source's tracker. Kinect v2 skeleton jitter: chosen by analogy with the Kinect v1 measurement of
#: benchmarks/fidelity_utd.py (no paired real IMU exists for NTU).
CUTOFF_HZ = CUTOFF_BY_KIND["kinect_v2"]
LICENSE = (
    "NTU RGB+D Release Agreement: non-commercial academic research only, access granted by the "
    "ROSE Lab (Nanyang Technological University); the original data may not be redistributed."
)
CITATION = (
    "Shahroudy, Liu, Ng, Wang. NTU RGB+D: A Large Scale Dataset for 3D Human Activity Analysis. "
    "CVPR 2016. Liu, Shahroudy, Perez, Wang, Duan, Kot. NTU RGB+D 120: A Large-Scale Benchmark "
    "for 3D Human Activity Understanding. IEEE TPAMI 2020."
)

FPS = 30.0
NUM_JOINTS = 25
JOINT_NAMES = JOINT_SETS["ntu"]
#: Two-person actions (NTU-60 A050-A060, NTU-120 A106-A120).
MUTUAL_ACTIONS = frozenset(range(50, 61)) | frozenset(range(106, 121))
FILE_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
MISSING_REASON = "listed as missing/incomplete by NTU"


@dataclass(frozen=True)
class Options:
    """protocol: split protocol of ``splits.ntu_split`` ("xsub", "xview", "xset").
    missing_list: text file of sample names to skip (NTU's missing-skeleton list), one per line.
    second_body: for mutual actions also emit the second actor as ``<stem>_b2``.
    """

    protocol: str = "xsub"
    missing_list: str | Path | None = None
    second_body: bool = True

    def __post_init__(self) -> None:
        if self.protocol not in NTU_PROTOCOLS:
            raise ValueError(
                f"unknown NTU protocol {self.protocol!r}; choose one of {NTU_PROTOCOLS}"
            )


class NtuFormatError(ValueError):
    """A ``.skeleton`` file that does not follow the format (the message says where)."""


@dataclass
class Skeleton:
    """Every body record of one file, in file order (R records).

    num_frames: frames in the file, including frames without a body.
    frame: (R,) int64 frame index of each record.
    body_id: (R,) str Kinect body tracking id.
    xyz: (R, 25, 3) float64 camera-space positions, metres.
    state: (R, 25) int8 joint trackingState (0 not tracked, 1 inferred, 2 tracked; any other
        value in the file reads as 0).
    """

    num_frames: int
    frame: np.ndarray
    body_id: np.ndarray
    xyz: np.ndarray
    state: np.ndarray
    _index: tuple | None = field(default=None, repr=False, compare=False)

    def body_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids (K,) str in order of first appearance, first record (K,) of each, code (R,):
        index into ids of each record's body)."""
        if self._index is None:
            ids, first, inverse = np.unique(self.body_id, return_index=True, return_inverse=True)
            order = np.argsort(first, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            self._index = (ids[order], first[order], rank[inverse.reshape(-1)])
        return self._index


def list_inputs(input_dir: Path, **options) -> list[Path]:
    """Every ``*.skeleton`` file under ``input_dir``, sorted by relative path."""
    parse_options(Options, NAME, options)
    return sorted_files(input_dir, "*.skeleton")


#: ``read`` takes the file's bytes when the caller has read them already (``data=``, bytes or a
#: memoryview that may be reused once ``read`` is exhausted: nothing it yields refers to it), so
#: that a build hashes and parses one read.
READS_BYTES = True


def read(path: Path, data: bytes | memoryview | None = None, **options) -> Iterator[Item]:
    """Clips of one ``.skeleton`` file (main actor, and second actor of mutual actions);
    ``data``: the file's bytes, if already read."""
    opts = parse_options(Options, NAME, options)
    path = Path(path)
    stem = path.name.split(".", 1)[0]
    match = FILE_RE.fullmatch(stem)
    if match is None:
        yield Skip(str(path), f"file name {path.name!r} does not match SsssCcccPpppRrrrAaaa")
        return
    if opts.missing_list is not None and stem in _missing_names(str(opts.missing_list)):
        yield Skip(str(path), MISSING_REASON)
        return
    setup, camera, performer, replication, action = (int(g) for g in match.groups())
    label = f"A{action:03d}"
    if lookup(NAME, label) is None:
        yield Skip(str(path), f"unmapped label {label!r}")
        return
    try:
        skeleton = parse_skeleton_bytes(path.read_bytes() if data is None else data)
    except OSError as err:
        yield Skip(str(path), f"cannot read file: {err}")
        return
    except NtuFormatError as err:
        yield Skip(str(path), str(err))
        return

    bodies = rank_bodies(skeleton)
    if not bodies:
        yield Skip(str(path), "no body in any frame")
        return
    mutual = opts.second_body and action in MUTUAL_ACTIONS
    base = {
        "setup": setup, "camera": camera, "performer": performer, "replication": replication,
        "protocol": opts.protocol, "frames_in_file": skeleton.num_frames,
        "bodies_in_file": len(skeleton.body_index()[0]),
    }
    if mutual and len(bodies) < 2:
        base["second_body"] = "not emitted: only one body tracked in enough frames"
    split = ntu_split(performer, camera, setup, opts.protocol)
    clips: list[Clip] = []
    for index, body_id in enumerate(bodies[:2] if mutual else bodies[:1], start=1):
        motion, extra = body_motion(skeleton, body_id)
        problem = motion_problem(motion)
        if problem is not None and index == 1:
            yield Skip(str(path), problem)
            return
        if problem is not None:
            base["second_body"] = f"not emitted: {problem}"
            continue
        clips.append(Clip(
            id=stem if index == 1 else f"{stem}_b{index}", source=NAME,
            subject=f"P{performer:03d}", source_label=label, split=split, motion=motion,
            extra={**base, "body": index, **extra},
        ))
    for clip in clips:
        if "second_body" in base:
            clip.extra["second_body"] = base["second_body"]
        yield clip


def parse_skeleton_bytes(data: bytes | memoryview) -> Skeleton:
    """``parse_skeleton`` of a file's bytes: a compiled scan for files in the usual layout
    (the numbers each parsed exactly, bit for bit as Python's ``float``), and ``parse_skeleton``
    itself for anything else (other whitespace or number forms, and every malformed file, whose
    error it names)."""
    if sys.byteorder != "little":  # (the scan's byte masks number bytes from the lowest bit)
        return parse_skeleton(bytes(data).decode("latin-1"))
    status, num_frames, count, frames, id_at, xyz, state = _scan(
        np.frombuffer(data, dtype=np.uint8))
    if status != 0:
        return parse_skeleton(bytes(data).decode("latin-1"))
    buf = np.frombuffer(data, dtype=np.uint8)
    which, first = _distinct_spans(buf, id_at[:count])  # a file holds a few body ids: decoded once
    names = np.asarray([bytes(data[a:b]).decode("latin-1") for a, b in id_at[first].tolist()], dtype=str)
    return Skeleton(
        num_frames=int(num_frames), frame=frames[:count].copy(), body_id=names[which],
        xyz=xyz[:count * NUM_JOINTS].reshape(count, NUM_JOINTS, 3),
        state=state[:count * NUM_JOINTS].reshape(count, NUM_JOINTS),
        _index=(names, first, which),
    )


def parse_skeleton(text: str) -> Skeleton:
    """Parse the text of a ``.skeleton`` file; NtuFormatError says what is wrong and where."""
    lines = text.split("\n")
    n = len(lines)
    while n and not lines[n - 1].strip():
        n -= 1
    if n == 0:
        raise NtuFormatError("empty file")
    num_frames = _count(lines[0], 0, "frame count")
    frames: list[int] = []
    ids: list[str] = []
    starts: list[int] = []
    i = 1
    for f in range(num_frames):
        if i >= n:
            raise NtuFormatError(f"truncated: file ends before frame {f + 1} of {num_frames}")
        num_bodies = _count(lines[i], i, "body count")
        i += 1
        for _ in range(num_bodies):
            if i + 1 >= n:
                raise NtuFormatError(f"truncated: file ends inside frame {f + 1} of {num_frames}")
            info = lines[i].split()
            if len(info) != 10:
                raise NtuFormatError(f"line {i + 1}: body line has {len(info)} values, expected 10")
            num_joints = _count(lines[i + 1], i + 1, "joint count")
            if num_joints != NUM_JOINTS:
                raise NtuFormatError(f"line {i + 2}: {num_joints} joints, expected {NUM_JOINTS}")
            if i + 2 + NUM_JOINTS > n:
                raise NtuFormatError(f"truncated: file ends inside frame {f + 1} of {num_frames}")
            frames.append(f)
            ids.append(info[0])
            starts.append(i + 2)
            i += 2 + NUM_JOINTS
    if i < n:
        raise NtuFormatError(
            f"{n - i} unexpected line(s) after the {num_frames} frames the header announces"
        )
    values = _joint_values(lines, starts)
    r = len(starts)
    return Skeleton(
        num_frames=num_frames,
        frame=np.asarray(frames, dtype=np.int64),
        body_id=np.asarray(ids, dtype=str),
        xyz=values[:, :3].reshape(r, NUM_JOINTS, 3),
        state=_tracking_state(values[:, 3].reshape(r, NUM_JOINTS)),
    )


def rank_bodies(skeleton: Skeleton) -> list[str]:
    """Candidate body ids, main actor first (see the module docstring for the rule)."""
    ids, first, code = skeleton.body_index()
    if not len(ids):
        return []
    counts = np.bincount(code, minlength=len(ids))
    keep = np.flatnonzero(2 * counts >= counts.max())
    if keep.size == 1:  # one candidate (most files): its motion decides nothing
        return [str(ids[keep[0]])]
    motion = {k: _body_energy(skeleton.xyz, skeleton.state, code, k) for k in keep}
    order = sorted(keep, key=lambda k: (-motion[k], -counts[k], first[k]))
    return [str(ids[k]) for k in order]


def body_motion(skeleton: Skeleton, body_id: str) -> tuple[Motion, dict]:
    """Motion of one body id over its first..last frame (world frame), and its provenance."""
    ids, _, code = skeleton.body_index()
    rows = np.flatnonzero(code == int(np.flatnonzero(ids == body_id)[0]))
    frame = skeleton.frame[rows]
    first, last = int(frame.min()), int(frame.max())
    num = last - first + 1
    xyz = np.empty((num, NUM_JOINTS, 3))
    valid = np.empty((num, NUM_JOINTS), dtype=bool)
    inferred = _body_arrays(skeleton.xyz, skeleton.state, rows, frame - first, KINECT_TO_WORLD,
                            xyz, valid)
    motion = Motion(xyz, JOINT_NAMES, np.arange(first, last + 1, dtype=np.float64) / FPS, valid)
    extra = {
        "body_id": body_id,
        "first_frame": first,
        "inferred_joint_fraction": round(inferred / (len(rows) * NUM_JOINTS), 4),
        "fps": FPS,
    }
    return motion, extra


@njit(cache=True, error_model="numpy", _nrt=False)
def _body_arrays(xyz, state, rows, at, m, out, valid):
    """One body's frames: out (T, 25, 3) world = m @ camera of each valid joint (trackingState
    > 0, camera z > 0), NaN elsewhere and on frames without the body; valid (T, 25). Records
    ``rows`` of the skeleton go to frames ``at`` (a later record of one frame wins). The sums
    are ``camera_to_world``'s, term by term: with m's entries 0 and 1 every product is exact and
    the sum the same in any order, signed zeros included. Returns the records' count of
    inferred joints (trackingState 1)."""
    out[:] = np.nan
    valid[:] = False
    inferred = 0
    for i in range(rows.shape[0]):
        r, f = rows[i], at[i]
        for j in range(NUM_JOINTS):
            s = state[r, j]
            inferred += s == 1
            x, y, z = xyz[r, j, 0], xyz[r, j, 1], xyz[r, j, 2]
            ok = s > 0 and z > 0
            valid[f, j] = ok
            if ok:
                for c in range(3):
                    out[f, j, c] = x * m[c, 0] + y * m[c, 1] + z * m[c, 2]
            else:
                out[f, j, 0] = out[f, j, 1] = out[f, j, 2] = np.nan
    return inferred


def _count(line: str, index: int, what: str) -> int:
    try:
        value = int(line)
    except ValueError:
        raise NtuFormatError(
            f"line {index + 1}: {what} {line.strip()!r} is not an integer"
        ) from None
    if value < 0:
        raise NtuFormatError(f"line {index + 1}: negative {what} {value}")
    return value


_JOINT_COLUMNS = [f"f{k}" for k in (0, 1, 2, 11)]
_READ = pacsv.ReadOptions(autogenerate_column_names=True, use_threads=False)
_PARSE = pacsv.ParseOptions(delimiter=" ", quote_char=False)
_CONVERT = pacsv.ConvertOptions(
    include_columns=_JOINT_COLUMNS, column_types={c: pa.float64() for c in _JOINT_COLUMNS}
)


def _joint_values(lines: list[str], starts: list[int]) -> np.ndarray:
    """(R*25, 4) x y z trackingState of the joint blocks starting at ``starts``."""
    rows = len(starts) * NUM_JOINTS
    if rows == 0:
        return np.zeros((0, 4))
    text = "\n".join(itertools.chain.from_iterable(lines[s:s + NUM_JOINTS] for s in starts))
    data = text.encode("latin-1")
    # Fast path, parsed in C. pyarrow rejects any row whose field count differs from the 12 named
    # columns, so other layouts (tabs, runs of spaces, short lines) take the general path below.
    try:
        table = pacsv.read_csv(io.BytesIO(data), _READ, _PARSE, _CONVERT)
        if table.num_rows == rows and all(table[c].null_count == 0 for c in _JOINT_COLUMNS):
            return np.column_stack([table[c].to_numpy() for c in _JOINT_COLUMNS])
    except (pa.ArrowException, ValueError):
        pass
    out = np.empty((rows, 4))
    for k, index in enumerate(s + j for s in starts for j in range(NUM_JOINTS)):
        tokens = lines[index].split()
        if len(tokens) != 12:
            raise NtuFormatError(
                f"line {index + 1}: joint line has {len(tokens)} values, expected 12 "
                "(truncated or malformed)"
            )
        try:
            out[k] = [float(tokens[c]) for c in (0, 1, 2, 11)]
        except ValueError:
            raise NtuFormatError(f"line {index + 1}: non-numeric joint value") from None
    return out


def _tracking_state(values: np.ndarray) -> np.ndarray:
    """int8 trackingState; any value other than 1 (inferred) or 2 (tracked) reads as 0."""
    return np.where(values == 2, 2, np.where(values == 1, 1, 0)).astype(np.int8)


def _motion_energy(xyz: np.ndarray, tracked: np.ndarray) -> float:
    """Summed variance over frames of every tracked joint coordinate, m^2: the definition, in
    numpy (``rank_bodies`` runs ``_body_energy``, equal to it bit for bit)."""
    w = tracked[..., None].astype(np.float64)
    n = w.sum(axis=0)
    x = np.where(tracked[..., None], xyz, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w * x).sum(axis=0) / n
        var = (w * (x - mean) ** 2).sum(axis=0) / n
    return float(np.nansum(np.where(n > 0, var, 0.0)))


@njit(cache=True, error_model="numpy")
def _body_energy(xyz, state, code, k):
    """``_motion_energy`` of the records of body code ``k`` (xyz (R, 25, 3), state (R, 25),
    code (R,)), its joints tracked where state > 0 and z > 0: one pass and no copies, the same
    arithmetic in the same order (numpy sums over frames one after another, and ``nansum`` of
    the 75 variances pairwise, as ``kernels.pairwise_sum``)."""
    rows = np.flatnonzero(code == k)
    weight = np.empty((rows.shape[0], NUM_JOINTS))  # 1 tracked, 0 not (numpy's w)
    n = np.zeros((NUM_JOINTS, 3))
    total = np.zeros((NUM_JOINTS, 3))
    for i in range(rows.shape[0]):
        for j in range(NUM_JOINTS):
            on = state[rows[i], j] > 0 and xyz[rows[i], j, 2] > 0
            weight[i, j] = 1.0 if on else 0.0
            if on:
                for c in range(3):
                    n[j, c] += 1.0
                    total[j, c] += xyz[rows[i], j, c]
    mean = total / n
    var = np.zeros((NUM_JOINTS, 3))
    for i in range(rows.shape[0]):
        for j in range(NUM_JOINTS):
            for c in range(3):  # (numpy's x: 0 where untracked)
                d = (xyz[rows[i], j, c] if weight[i, j] else 0.0) - mean[j, c]
                var[j, c] += weight[i, j] * (d * d)
    out = np.empty(NUM_JOINTS * 3)
    for j in range(NUM_JOINTS):
        for c in range(3):
            v = var[j, c] / n[j, c] if n[j, c] > 0 else 0.0
            out[j * 3 + c] = 0.0 if np.isnan(v) else v
    return pairwise_sum(out)


@functools.lru_cache(maxsize=8)
def _missing_names(path: str) -> frozenset[str]:
    """Sample names of NTU's missing/incomplete-skeleton list (``.skeleton`` suffix optional)."""
    names = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        token = line.split("#", 1)[0].strip()
        if token:
            names.add(token.split()[0].removesuffix(".skeleton"))
    return frozenset(names)


# ---- compiled scan of the usual layout (``parse_skeleton_bytes``); status 1 = "not this layout,
# ---- ask parse_skeleton", which also names every format error.

_POW10 = np.array([10.0 ** k for k in range(23)])  # exact in float64


@njit(cache=True, error_model="numpy", _nrt=False)
def _plain(buf):
    """Whether every byte is printable ASCII, space, tab, CR or newline: the compiled scan's
    precondition (blanks are then exactly space, tab and CR, the only whitespace ``str.split``
    would see, and every other byte is part of a token). One branch-free pass."""
    ok = True
    for i in range(buf.shape[0]):
        b = buf[i]
        ok &= ((b >= 32) & (b <= 126)) | (b == 9) | (b == 10) | (b == 13)
    return ok


@njit(cache=True, error_model="numpy", inline="always", _nrt=False)
def _at(buf, i):
    """buf[i] for an i >= 0, read with an unsigned index (no negative-index wraparound code)."""
    return buf[np.uint64(i)]


@njit(cache=True, error_model="numpy", inline="always", _nrt=False)
def _blank(c):
    return (c == 32) | (c == 9) | (c == 13)


@njit(cache=True, error_model="numpy", _nrt=False)
def _tokens(buf, pos, starts, ends):
    """Tokens of the line starting at buf[pos] into starts/ends: (count, start of the next line);
    count -1 if the line holds more tokens than there is room for (``_plain`` input)."""
    k, i, nbytes = 0, pos, buf.shape[0]
    while i < nbytes and buf[i] != 10:
        if _blank(buf[i]):
            i += 1
            continue
        if k == starts.shape[0]:
            return -1, i
        starts[k] = i
        while i < nbytes and buf[i] != 10 and not _blank(buf[i]):
            i += 1
        ends[k] = i
        k += 1
    return k, i + 1


@njit(cache=True, error_model="numpy", _nrt=False)
def _int(buf, a, b):
    """Non-negative decimal integer token buf[a:b], or -1."""
    if b <= a or b - a > 12:
        return -1
    v = 0
    for i in range(a, b):
        c = buf[i]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (c - 48)
    return v


@njit(cache=True, error_model="numpy", _nrt=False)
def _float(buf, a, b, pow10):
    """(ok, value) of a token [+-]digits[.digits][(e|E)[+-]digits], exact (a mantissa below
    2**53 scaled by at most 10**22 is one correctly rounded operation, as strtod gives)."""
    i, neg = a, False
    if i < b and (buf[i] == 43 or buf[i] == 45):
        neg = buf[i] == 45
        i += 1
    mant, digits, scale, seen = 0, 0, 0, False
    while i < b and 48 <= buf[i] <= 57:
        if mant or buf[i] != 48:
            digits += 1
        mant = mant * 10 + (buf[i] - 48)
        i += 1
        seen = True
    if i < b and buf[i] == 46:
        i += 1
        while i < b and 48 <= buf[i] <= 57:
            if mant or buf[i] != 48:
                digits += 1
            mant = mant * 10 + (buf[i] - 48)
            scale -= 1
            i += 1
            seen = True
    if not seen or digits > 15:
        return False, 0.0
    if i < b and (buf[i] == 101 or buf[i] == 69):
        i += 1
        eneg = False
        if i < b and (buf[i] == 43 or buf[i] == 45):
            eneg = buf[i] == 45
            i += 1
        e, edigits = 0, 0
        while i < b and 48 <= buf[i] <= 57 and edigits < 4:
            e = e * 10 + (buf[i] - 48)
            edigits += 1
            i += 1
        if edigits == 0:
            return False, 0.0
        scale += -e if eneg else e
    if i != b:
        return False, 0.0
    v = float(mant)
    if mant == 0:
        v = 0.0
    elif scale >= 0:
        if scale > 22:
            return False, 0.0
        v = v * pow10[scale]
    else:
        if -scale > 22:
            return False, 0.0
        v = v / pow10[-scale]
    return True, -v if neg else v


@njit(cache=True, error_model="numpy", inline="always", _nrt=False)
def _digits(buf, i, mant):
    """(mant with the decimal digits from buf[i] on appended, where they end, how many)."""
    start, nbytes = i, buf.shape[0]
    while i < nbytes:
        d = np.int64(_at(buf, i)) - 48
        if d < 0 or d > 9:
            break
        mant = mant * 10 + d
        i += 1
    return mant, i, i - start


@njit(cache=True, error_model="numpy", inline="always", _nrt=False)
def _number(buf, i, pow10):
    """(ok, value, end) of the token starting at buf[i] (``_plain`` input): digits, point and
    sign parsed as they are scanned; a token with an exponent, another character or more than
    15 digits goes to ``_float``. ok is False unless the token is a number ``_float`` takes."""
    nbytes = buf.shape[0]
    a = i
    neg = False
    c = _at(buf, i)
    if c == 45 or c == 43:
        neg = c == 45
        i += 1
    mant, i, nd = _digits(buf, i, 0)
    scale = 0
    if i < nbytes and _at(buf, i) == 46:
        mant, i, frac = _digits(buf, i + 1, mant)
        nd += frac
        scale = -frac
    if i < nbytes and not (_blank(_at(buf, i)) or _at(buf, i) == 10):
        while i < nbytes and not (_blank(buf[i]) or buf[i] == 10):
            i += 1
        ok, v = _float(buf, a, i, pow10)
        return ok, v, i
    if nd == 0 or nd > 15:  # (15 digits of any kind: below 2**53, so the division is exact-rounded)
        ok, v = _float(buf, a, i, pow10)
        return ok, v, i
    v = float(mant)
    if scale < 0:
        v = v / pow10[-scale]
    return True, -v if neg else v, i


_I8, _I16, _I32, _I64 = (llvm_ir.IntType(n) for n in (8, 16, 32, 64))


def _bytes_ir(context, builder, sig, args, n):
    """LLVM IR of an intrinsic's first two arguments (array, index): the n bytes from the index
    on as one <n x i8> vector (an unaligned load; the caller checks that they exist)."""
    data = context.make_array(sig.args[0])(context, builder, args[0]).data
    vec = llvm_ir.VectorType(_I8, n)
    return builder.load(builder.bitcast(builder.gep(data, [args[1]]), vec.as_pointer()), align=1)


def _lanes(vec, values):
    return llvm_ir.Constant(vec, list(values))


def _splat(builder, value, vec):
    """LLVM IR: the integer ``value`` in every lane of vector type ``vec``."""
    one = builder.insert_element(llvm_ir.Constant(vec, None), builder.trunc(value, vec.element),
                                 llvm_ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, llvm_ir.Constant(vec, None),
                                  _lanes(llvm_ir.VectorType(_I32, vec.count), [0] * vec.count))


@intrinsic
def _masks16(typingctx, buf, i):
    """The 16 bytes buf[i:i + 16] as bits: bit b set iff byte b is a decimal digit, bit 16 + b
    iff it is a point (the caller checks i + 16 <= len(buf))."""
    def codegen(context, builder, sig, args):
        v = _bytes_ir(context, builder, sig, args, 16)
        vec = v.type
        digit = builder.icmp_unsigned("<", builder.sub(v, _lanes(vec, [48] * 16)), _lanes(vec, [10] * 16))
        point = builder.icmp_unsigned("==", v, _lanes(vec, [46] * 16))
        return builder.or_(builder.zext(builder.bitcast(digit, _I16), _I64),
                           builder.shl(builder.zext(builder.bitcast(point, _I16), _I64),
                                       llvm_ir.Constant(_I64, 16)))
    return types.uint64(buf, types.intp), codegen


@intrinsic
def _digits16(typingctx, buf, i, point, count):
    """The first ``count`` <= 16 digits of buf[i:i + 16] with the byte at ``point`` left out,
    as a 16-digit decimal integer (zero digits after them): the integer of those digits times
    10**(16 - count). In vector lanes: the digit values, those from lane ``point`` on taken one
    byte later, those from lane ``count`` on zero; then pairs, quadruples and octets summed with
    weights 10, 100 and 10**4 (exact in 16-, 32- and 64-bit lanes)."""
    def codegen(context, builder, sig, args):
        v = _bytes_ir(context, builder, sig, args, 16)
        vec, V = v.type, llvm_ir.VectorType
        d = builder.sub(v, _lanes(vec, [48] * 16))
        zero = _lanes(vec, [0] * 16)
        later = builder.shuffle_vector(d, zero, _lanes(V(_I32, 16), range(1, 17)))
        lane = _lanes(vec, range(16))
        d = builder.select(builder.icmp_unsigned("<", lane, _splat(builder, args[2], vec)), d, later)
        x = builder.select(builder.icmp_unsigned("<", lane, _splat(builder, args[3], vec)), d, zero)
        for width, bits, weight in ((16, 16, 10), (8, 32, 100), (4, 64, 10**4)):
            wide = V(llvm_ir.IntType(bits), width)
            x = builder.mul(builder.zext(x, wide), _lanes(wide, [weight, 1] * (width // 2)))
            half = V(_I32, width // 2)
            x = builder.add(builder.shuffle_vector(x, x, _lanes(half, range(0, width, 2))),
                            builder.shuffle_vector(x, x, _lanes(half, range(1, width, 2))))
        high = builder.extract_element(x, llvm_ir.Constant(_I32, 0))
        low = builder.extract_element(x, llvm_ir.Constant(_I32, 1))
        return builder.add(builder.mul(high, llvm_ir.Constant(_I64, 10**8)), low)
    return types.uint64(buf, types.intp, types.intp, types.intp), codegen


#: Inverses of 5**k modulo 2**64: (m * 5**k) * _INV5[k] == m in uint64 arithmetic.
_INV5 = np.array([pow(5 ** k, -1, 2 ** 64) for k in range(17)], dtype=np.uint64)


@njit(cache=True, error_model="numpy", inline="always", _nrt=False)
def _number_vec(buf, i, pow10):
    """``_number`` of the token at buf[i], 16 bytes at once for the usual [+-]digits[.digits]
    with at most 15 digits when 32 bytes follow (anything else: ``_number``). The digits found
    by one compare (``_masks16``), their integer m from ``_digits16``'s m * 10**k (exact: m is
    the quotient, so ``(t >> k) * _INV5[k]``), then one correctly rounded division, as ``_number``."""
    if i + 32 <= buf.shape[0]:
        c = _at(buf, i)
        neg = c == 45
        j = i + np.int64((c == 45) | (c == 43))
        m = _masks16(buf, j)
        other = ~(m & np.uint64(0xFFFF))  # bit b set: byte b is no digit (b >= 16 included)
        n1 = np.int64(trailing_zeros(other))
        dot = n1 < 16 and ((m >> np.uint64(16 + n1)) & np.uint64(1)) != 0
        n2 = np.int64(trailing_zeros(other >> np.uint64(n1 + 1))) if dot else 0
        nd = n1 + n2
        end = j + n1 + np.int64(dot) + n2
        if 0 < nd <= 15 and _at(buf, end) <= 32:
            t = _digits16(buf, j, n1, nd)  # (without a point, n1 = nd: no lane taken later)
            k = np.uint64(16 - nd)
            mant = np.int64((t >> k) * _INV5[k])
            v = float(mant)
            if dot:
                v = v / pow10[n2]
            return True, -v if neg else v, end
    return _number(buf, i, pow10)


@intrinsic
def _masks32(typingctx, buf, i):
    """The 32 bytes buf[i:i + 32] (the caller checks i + 32 <= len(buf)) as one uint64: bit b
    (b < 32) set iff byte b is a token byte (> 0x20: ``_plain`` input), bit 32 + b iff it is a
    newline. Plain LLVM vector compares, which become a SIMD compare and mask extraction."""
    def codegen(context, builder, sig, args):
        v = _bytes_ir(context, builder, sig, args, 32)
        token = builder.bitcast(builder.icmp_unsigned(">", v, _lanes(v.type, [32] * 32)), _I32)
        newline = builder.bitcast(builder.icmp_unsigned("==", v, _lanes(v.type, [10] * 32)), _I32)
        return builder.or_(builder.zext(token, _I64),
                           builder.shl(builder.zext(newline, _I64), llvm_ir.Constant(_I64, 32)))
    return types.uint64(buf, types.intp), codegen


@intrinsic
def _popcount(typingctx, x):
    """Set bits of an unsigned integer."""
    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])
    return x(x), codegen


@njit(cache=True, error_model="numpy", inline="always", _nrt=False)
def _line_count(buf, pos):
    """(token count, position of the line's newline) of the line at byte pos (``_plain`` input);
    -2 when the line runs into the last 32 bytes (the caller scans it byte by byte). 32 bytes at
    a time as bit masks (``_masks32``): a token starts at a token byte whose predecessor is not
    one, and a block's starts are counted at once, with no branch per byte or token."""
    low, one, s32 = np.uint64(0xFFFFFFFF), np.uint64(1), np.uint64(32)
    carry, k = np.uint64(0), np.uint64(0)  # (the byte before pos is a newline)
    while pos <= buf.shape[0] - 32:
        m = _masks32(buf, pos)
        t, nl = m & low, m >> s32
        s = t & ~((t << one) | carry)
        if nl:
            s &= (nl & (~nl + one)) - one  # the starts before the first newline
            return np.int64(k + _popcount(s)), pos + np.int64(trailing_zeros(nl))
        k += _popcount(s)
        carry = t >> np.uint64(31)  # whether the block's last byte belongs to a token
        pos += 32
    return -2, 0


@njit(cache=True, error_model="numpy", inline="always", _nrt=False)
def _joint_line(buf, pos, xyz, state, row, pow10, starts, ends):
    """One joint line at buf[pos] (``_plain`` input): x y z into xyz[row], the trackingState into
    state[row] (2 and 1 kept, any other value 0, as ``_tracking_state``). Returns
    where the next line starts, or -1 when the line is not in the usual layout (other token
    count, a number ``_float`` does not take). starts, ends: (13,) scratch. x y z are the line's
    first three tokens, the trackingState its last (the blank-free run before the newline and
    any trailing blanks): only those are found and parsed."""
    k, newline = _line_count(buf, pos)
    if k == -2:  # the file's last bytes
        k, after = _tokens(buf, pos, starts, ends)
        newline = after - 1
    if k != 12:
        return -1
    i = pos
    for col in range(3):
        while _blank(_at(buf, i)):
            i += 1
        ok, v, i = _number_vec(buf, i, pow10)
        if not ok:
            return -1
        xyz[row, col] = v
    e = newline
    while _blank(_at(buf, e - 1)):
        e -= 1
    a = e - 1
    while not _blank(_at(buf, a - 1)):  # (twelve tokens: a blank precedes the last)
        a -= 1
    d = np.int64(_at(buf, a)) - 48
    if a + 1 == e and 0 <= d <= 9:  # (the usual one digit)
        state[row] = d if d == 1 or d == 2 else 0
        return newline + 1
    ok, v, _ = _number(buf, a, pow10)
    if not ok:
        return -1
    state[row] = 2 if v == 2.0 else (1 if v == 1.0 else 0)
    return newline + 1


@njit(cache=True, error_model="numpy")
def _scan(buf):
    """(status, frame count, records R, frame (R,), body-id byte span (R, 2), (R*25, 3) x y z,
    (R*25,) int8 trackingState as ``_tracking_state`` reads it); status 0 = parsed, 1 = leave it
    to ``parse_skeleton``. One pass over the bytes; what follows the last frame must be blank lines
    (as parse_skeleton's trimming)."""
    cap = buf.shape[0] // (24 * NUM_JOINTS) + 1  # a joint line takes at least 24 bytes
    frames = np.empty(cap, np.int64)
    id_at = np.empty((cap, 2), np.int64)
    xyz = np.empty((cap * NUM_JOINTS, 3))
    state = np.empty(cap * NUM_JOINTS, np.int8)
    scratch = np.empty((3, 13), np.int64)
    status, num_frames, r = _scan_into(buf, frames, id_at, xyz, state, scratch, _POW10)
    return status, num_frames, r, frames, id_at, xyz, state


@njit(cache=True, error_model="numpy", _nrt=False)
def _scan_into(buf, frames, id_at, xyz, state, scratch, pow10):
    """``_scan`` into arrays it is given (room for ``frames.shape[0]`` records): (status, frame
    count, records). Compiled without reference counting (``_nrt=False``, as are the helpers it
    inlines): it allocates nothing, and the atomic increments and decrements of the arrays handed
    from helper to helper per line and number had cost ~40 % of the scan."""
    nbytes = buf.shape[0]
    cap = frames.shape[0]
    if not _plain(buf):
        return 1, 0, 0
    ts, te, st = scratch[0], scratch[1], scratch[2]
    k, pos = _tokens(buf, 0, ts, te)
    if k != 1:
        return 1, 0, 0
    num_frames = _int(buf, ts[0], te[0])
    if num_frames < 0:
        return 1, 0, 0
    r = 0
    for f in range(num_frames):
        if pos >= nbytes:
            return 1, 0, 0
        k, pos = _tokens(buf, pos, ts, te)
        bodies = _int(buf, ts[0], te[0]) if k == 1 else -1
        if bodies < 0:
            return 1, 0, 0
        for _ in range(bodies):
            if r >= cap or pos >= nbytes:
                return 1, 0, 0
            k, pos = _tokens(buf, pos, ts, te)
            if k != 10 or pos >= nbytes:
                return 1, 0, 0
            id_at[r, 0], id_at[r, 1] = ts[0], te[0]
            k, pos = _tokens(buf, pos, ts, te)
            if k != 1 or _int(buf, ts[0], te[0]) != NUM_JOINTS:
                return 1, 0, 0
            for j in range(NUM_JOINTS):
                if pos >= nbytes:
                    return 1, 0, 0
                pos = _joint_line(buf, pos, xyz, state, r * NUM_JOINTS + j, pow10, st, te)
                if pos < 0:
                    return 1, 0, 0
            frames[r] = f
            r += 1
    while pos < nbytes:  # only blank lines may follow
        k, pos = _tokens(buf, pos, ts, te)
        if k != 0:
            return 1, 0, 0
    return 0, num_frames, r


@njit(cache=True, error_model="numpy")
def _distinct_spans(buf, spans):
    """(index (R,) of each span's bytes among the distinct ones, first span (K,) of each distinct
    one, in order of appearance) for byte spans (R, 2) of ``buf``."""
    r = spans.shape[0]
    which = np.empty(r, np.int64)
    first = np.empty(r, np.int64)
    k = 0
    for i in range(r):
        a, b = spans[i, 0], spans[i, 1]
        found = -1
        for j in range(k):  # most recent first: records of one body follow each other
            q = k - 1 - j
            c, d = spans[first[q], 0], spans[first[q], 1]
            if d - c != b - a:
                continue
            same = True
            for t in range(b - a):
                if buf[a + t] != buf[c + t]:
                    same = False
                    break
            if same:
                found = q
                break
        if found < 0:
            first[k] = i
            found = k
            k += 1
        which[i] = found
    return which, first[:k]
