"""BVH (Biovision hierarchy) motion files -> ``Motion``: parser and forward kinematics.

Conventions (the usual BVH ones, stated so that they can be checked):

- A joint's rotation channels, in the order they are listed, form an *intrinsic* Euler sequence:
  ``CHANNELS 3 Zrotation Xrotation Yrotation`` means ``R_local = Rz(a) @ Rx(b) @ Ry(c)``
  (scipy ``Rotation.from_euler("ZXY", [a, b, c], degrees=True)``).
- A joint's translation is ``OFFSET + (Xposition, Yposition, Zposition)`` (absent channels are 0).
- ``global_j = global_parent @ T(translation_j) @ R_local_j``; an End Site is a point at its
  OFFSET in its parent's frame.
- Units: see ``unit_from_height``. Axes: BVH is y-up; ``(x, y, z)_bvh -> (z, x, y)_world`` is a
  proper rotation (a cyclic axis permutation, det +1) into the project's z-up world. A BVH
  character that faces +z with its left on +x then faces +x with its left on +y, z up.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from .joints import canonical_bvh_name
from .motion import Motion, MotionError

#: Metres per BVH unit. "cmu" is the CMU ASF length unit (1/0.45 inch) that the widely used
#: cgspeed BVH conversions of the CMU database keep.
METRES_PER_UNIT: dict[str, float] = {
    "m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.0254 / 0.45,
}

#: world = Y_UP_TO_Z_UP @ bvh: (x, y, z)_bvh -> (z, x, y)_world, det +1.
Y_UP_TO_Z_UP = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])

_CHANNELS = {c.lower(): c for c in (
    "Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")}


@dataclass
class BvhJoint:
    """One node of the hierarchy; End Sites have no channels and ``is_end_site`` True.

    offset: (3,) float, BVH units and axes, in the parent's frame.
    """

    name: str
    parent: int
    offset: np.ndarray
    channels: tuple[str, ...]
    is_end_site: bool = False


@dataclass
class BvhData:
    """A parsed BVH file: joints in file order (parents first), channel values (T, C)."""

    joints: list[BvhJoint]
    frame_time: float
    values: np.ndarray


def _parse_hierarchy(tokens: list[str]) -> list[BvhJoint]:
    joints: list[BvhJoint] = []
    stack: list[int] = []
    pending: int | None = None
    if not tokens or tokens[0].upper() != "HIERARCHY":
        raise MotionError("file does not start with HIERARCHY; is it a BVH file?")
    i = 1
    while i < len(tokens):
        key = tokens[i].upper()
        if pending is not None and key != "{":
            raise MotionError(f"{joints[pending].name!r} is not followed by a '{{' block")
        if key in ("ROOT", "JOINT", "END"):
            if key == "ROOT" and stack:
                raise MotionError(f"ROOT {tokens[i + 1]!r} inside another joint's block")
            if key != "ROOT" and not stack:
                raise MotionError(f"{tokens[i]} {tokens[i + 1]!r} outside any ROOT block")
            parent = stack[-1] if stack else -1
            if key == "END":
                if tokens[i + 1].upper() != "SITE":
                    raise MotionError(f"expected 'End Site', got 'End {tokens[i + 1]}'")
                name = f"{joints[parent].name}_end_site"
            else:
                name = tokens[i + 1]
            joints.append(BvhJoint(name, parent, np.zeros(3), (), key == "END"))
            pending = len(joints) - 1
            i += 2
        elif key == "{":
            if pending is None:
                raise MotionError("'{' without a ROOT, JOINT or End Site before it")
            stack.append(pending)
            pending = None
            i += 1
        elif key == "}":
            if not stack:
                raise MotionError("unbalanced '}' in HIERARCHY")
            stack.pop()
            i += 1
        elif key == "OFFSET":
            if not stack:
                raise MotionError("OFFSET outside a joint block")
            joints[stack[-1]].offset = np.array([float(t) for t in tokens[i + 1:i + 4]])
            if joints[stack[-1]].offset.shape != (3,):
                raise MotionError(f"OFFSET of {joints[stack[-1]].name!r} needs 3 numbers")
            i += 4
        elif key == "CHANNELS":
            if not stack or joints[stack[-1]].is_end_site:
                raise MotionError("CHANNELS outside a joint block")
            n = int(tokens[i + 1])
            names = tokens[i + 2:i + 2 + n]
            unknown = [c for c in names if c.lower() not in _CHANNELS]
            if len(names) != n or unknown:
                raise MotionError(
                    f"bad CHANNELS for {joints[stack[-1]].name!r}: {names} (count {n}); "
                    f"allowed: {sorted(_CHANNELS.values())}"
                )
            channels = tuple(_CHANNELS[c.lower()] for c in names)
            if len(set(channels)) != n:
                raise MotionError(f"repeated channel in {joints[stack[-1]].name!r}: {names}")
            joints[stack[-1]].channels = channels
            i += 2 + n
        else:
            raise MotionError(f"unexpected token {tokens[i]!r} in HIERARCHY")
    if stack or pending is not None:
        raise MotionError("HIERARCHY ends inside an open joint block (missing '}')")
    if not joints:
        raise MotionError("HIERARCHY has no joints")
    return joints


def _parse_motion(text: str, num_channels: int) -> tuple[float, np.ndarray]:
    m_frames = re.search(r"^\s*Frames:\s*(\S+)\s*$", text, re.M | re.I)
    m_time = re.search(r"^\s*Frame\s+Time:\s*(\S+)\s*$", text, re.M | re.I)
    if m_frames is None or m_time is None:
        raise MotionError("MOTION section lacks its 'Frames:' or 'Frame Time:' line")
    try:
        declared = int(m_frames.group(1))
        frame_time = float(m_time.group(1))
    except ValueError as exc:
        raise MotionError(f"bad Frames/Frame Time value: {exc}") from None
    if not np.isfinite(frame_time) or frame_time <= 0:
        raise MotionError(f"Frame Time must be positive seconds, got {m_time.group(1)}")
    if declared < 1:
        raise MotionError(f"Frames must be at least 1, got {declared}")
    body = text[max(m_frames.end(), m_time.end()):]
    rows = [line.split() for line in body.splitlines() if line.strip()]
    if len(rows) < declared:
        raise MotionError(
            f"truncated MOTION section: 'Frames: {declared}' but only {len(rows)} rows"
        )
    if len(rows) > declared:
        warnings.warn(f"MOTION has {len(rows)} rows for 'Frames: {declared}'; using the first "
                      f"{declared}", stacklevel=3)
        rows = rows[:declared]
    short = [k for k, r in enumerate(rows) if len(r) != num_channels]
    if short:
        k = short[0]
        raise MotionError(
            f"MOTION row {k + 1} has {len(rows[k])} values, expected {num_channels} (one per "
            "channel); the file is truncated or malformed"
        )
    try:
        values = np.array(rows, dtype=np.float64).reshape(declared, num_channels)
    except ValueError as exc:
        raise MotionError(f"non-numeric value in MOTION rows: {exc}") from None
    return frame_time, values


def parse_bvh(text: str) -> BvhData:
    """Parse BVH text; raises ``MotionError`` for anything malformed (never IndexError)."""
    match = re.search(r"^\s*MOTION\s*$", text, re.M | re.I)
    if match is None:
        raise MotionError("no MOTION section; is it a complete BVH file?")
    try:
        joints = _parse_hierarchy(text[:match.start()].split())
    except IndexError:
        raise MotionError("HIERARCHY ends in the middle of a statement") from None
    except MotionError:
        raise
    except ValueError as exc:
        raise MotionError(f"malformed HIERARCHY: {exc}") from None
    num_channels = sum(len(j.channels) for j in joints)
    frame_time, values = _parse_motion(text[match.end():], num_channels)
    return BvhData(joints, frame_time, values)


def forward_kinematics(joints: list[BvhJoint], values: np.ndarray) -> np.ndarray:
    """Global positions (T, N, 3) of every joint and End Site, BVH units and axes.

    values: (T, C) channel values in file order (positions in BVH units, angles in degrees).
    NaN channels give NaN positions for the joint and its descendants.
    """
    values = np.asarray(values, dtype=np.float64)
    n_frames = values.shape[0]
    positions = np.empty((n_frames, len(joints), 3))
    bad = np.zeros((n_frames, len(joints)), dtype=bool)
    rotations: list[Rotation] = []
    col = 0
    for j, joint in enumerate(joints):
        ch = values[:, col:col + len(joint.channels)]
        col += len(joint.channels)
        # scipy rejects NaN rotations: compute with 0 and blank the joint and its subtree after.
        bad[:, j] = ~np.isfinite(ch).all(axis=1) | (bad[:, joint.parent] if joint.parent >= 0
                                                     else False)
        ch = np.where(np.isfinite(ch), ch, 0.0)
        trans = np.repeat(joint.offset[None, :], n_frames, axis=0)
        rot_cols = []
        for k, name in enumerate(joint.channels):
            if name.endswith("position"):
                trans[:, "XYZ".index(name[0])] += ch[:, k]
            else:
                rot_cols.append(k)
        if rot_cols:
            seq = "".join(joint.channels[k][0] for k in rot_cols)  # upper case: intrinsic
            local = Rotation.from_euler(seq, ch[:, rot_cols], degrees=True)
        else:
            local = Rotation.identity(n_frames)
        if joint.parent < 0:
            positions[:, j] = trans
            rotations.append(local)
        else:
            parent_rot = rotations[joint.parent]
            positions[:, j] = positions[:, joint.parent] + parent_rot.apply(trans)
            rotations.append(parent_rot * local)
    positions[bad] = np.nan
    return positions


def rest_height(joints: list[BvhJoint]) -> float:
    """Largest axis-aligned extent of the rest pose (all channels 0), BVH units."""
    rest = forward_kinematics(joints, np.zeros((1, sum(len(j.channels) for j in joints))))[0]
    return float(np.ptp(rest, axis=0).max())


def unit_from_height(height: float) -> str:
    """Guess the BVH length unit from the rest-pose extent of a human (about 1-2.2 m).

    Rule: extent <= 5 -> "m"; <= 45 -> "cmu" (CMU ASF unit, a person is ~30);
    <= 100 -> "inch"; <= 500 -> "cm"; else "mm". Pass ``unit`` explicitly when it is known.
    """
    for limit, unit in ((5.0, "m"), (45.0, "cmu"), (100.0, "inch"), (500.0, "cm")):
        if height <= limit:
            return unit
    return "mm"


def _select_joints(joints: list[BvhJoint]) -> tuple[list[int], list[str]]:
    """Indices and canonical names of the joints kept in the Motion (file order)."""
    index: list[int] = []
    names: list[str] = []
    for j, joint in enumerate(joints):
        name = None if joint.is_end_site else canonical_bvh_name(joint.name)
        if name is not None and name not in names:  # repeated canonical name: keep the first
            index.append(j)
            names.append(name)
    for side in ("left", "right"):
        wrist, hand = f"{side}_wrist", f"{side}_hand"
        if wrist in names and hand not in names:
            w = index[names.index(wrist)]
            ends = [j for j, jt in enumerate(joints) if jt.parent == w and jt.is_end_site]
            if ends:
                index.append(ends[0])
                names.append(hand)
    order = np.argsort(index, kind="stable")
    return [index[k] for k in order], [names[k] for k in order]


def read_bvh(path: str | Path, unit: str = "auto", up_axis: str = "auto") -> Motion:
    """Read a BVH file into a ``Motion`` (metres, world frame z up, canonical joint names).

    unit: "auto" (see ``unit_from_height``), "m", "cm", "mm", "inch" or "cmu".
    up_axis: "auto" (= "y", the BVH norm), "y" (converted with ``Y_UP_TO_Z_UP``) or "z"
      (already z-up; axes kept).
    Joints whose names ``joints.canonical_bvh_name`` does not know are dropped from the Motion
    but still take part in the kinematics; when two BVH joints map to the same canonical name
    the first in file order (the one nearer the root) is kept. A wrist whose rig has no hand
    joint but an End Site directly under the wrist gets ``<side>_hand`` at that End Site.
    A truncated MOTION section or a non-positive Frame Time raises ``MotionError`` (no partial
    clip is kept); rows beyond ``Frames:`` are ignored with a warning.
    """
    if unit != "auto" and unit not in METRES_PER_UNIT:
        raise ValueError(f"unit must be 'auto' or one of {sorted(METRES_PER_UNIT)}, got {unit!r}")
    if up_axis not in ("auto", "y", "z"):
        raise ValueError(f"up_axis must be 'auto', 'y' or 'z', got {up_axis!r}")
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MotionError(f"cannot read BVH file {path}: {exc}") from None
    try:
        data = parse_bvh(text)
    except MotionError as exc:
        raise MotionError(f"{path}: {exc}") from None
    index, names = _select_joints(data.joints)
    if not names:
        raise MotionError(
            f"{path}: no BVH joint has a known name (e.g. Hips, LeftArm, LeftForeArm, LeftHand); "
            "add the rig's names to joints.BVH_ALIASES"
        )
    if unit == "auto":
        unit = unit_from_height(rest_height(data.joints))
    positions = forward_kinematics(data.joints, data.values)[:, index] * METRES_PER_UNIT[unit]
    if up_axis in ("auto", "y"):
        positions = positions @ Y_UP_TO_Z_UP.T
    timestamps = np.arange(data.values.shape[0]) * data.frame_time
    return Motion(positions, tuple(names), timestamps)
