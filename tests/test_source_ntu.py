"""NTU RGB+D ``.skeleton`` reader: fixtures written in the exact text format from known arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imu2safety.builders.sources import camera_to_world, ntu
from imu2safety.builders.records import Clip, Skip

J = 25
ID_A, ID_B, ID_C = "72057594037931101", "72057594037931102", "72057594037931691"
L_WRIST = ntu.JOINT_NAMES.index("left_wrist")
R_WRIST = ntu.JOINT_NAMES.index("right_wrist")


def body_xyz(frame: int, offset: float = 0.0, swing: float = 0.0) -> np.ndarray:
    """(25, 3) camera-space positions with exact binary fractions, depth > 0."""
    j = np.arange(J, dtype=np.float64)
    return np.stack([0.125 * j - 1.5 + offset + swing * frame, 0.0625 * j - 0.75,
                     2.5 + 0.03125 * j + 0.25 * frame], axis=1)


def body_lines(body_id: str, xyz: np.ndarray, state: np.ndarray | None = None) -> list[str]:
    state = np.full(J, 2) if state is None else state
    lines = [f"{body_id} 0 1 1 1 1 0 0.01912403 -0.2134551 2", str(J)]
    for p, s in zip(xyz, state):
        # x y z depthX depthY colorX colorY orientationW X Y Z trackingState
        x, y, z = (repr(float(v)) for v in p)  # shortest exact round trip
        lines.append(f"{x} {y} {z} 255.5 210.25 1000.5 540.25 "
                     f"0.9 0.1 0.2 0.3 {int(s)}")
    return lines


def skeleton_text(frames: list[list[tuple[str, np.ndarray, np.ndarray | None]]],
                  header: int | None = None, newline: str = "\r\n") -> str:
    """The file text: ``frames[f]`` lists the (body_id, xyz, state) of frame f."""
    lines = [str(len(frames) if header is None else header)]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, xyz, state in bodies:
            lines += body_lines(body_id, xyz, state)
    return newline.join(lines) + newline


def write(folder: Path, name: str, frames, **kw) -> Path:
    path = folder / f"{name}.skeleton"
    path.write_text(skeleton_text(frames, **kw), newline="")
    return path


def single(num: int = 10, body_id: str = ID_A):
    return [[(body_id, body_xyz(f), None)] for f in range(num)]


def items(path: Path, **options) -> list:
    return list(ntu.read(path, **options))


def test_camera_to_world_exact_values_and_timestamps(tmp_path):
    path = write(tmp_path, "S001C002P001R001A008", single(10))
    [clip] = items(path)
    assert isinstance(clip, Clip)
    assert (clip.id, clip.source, clip.subject, clip.source_label) == (
        "S001C002P001R001A008", "ntu", "P001", "A008")
    m = clip.motion
    assert m.positions.shape == (10, 25, 3) and m.joint_names == ntu.JOINT_NAMES
    for f in (0, 7):
        cam = body_xyz(f)
        np.testing.assert_array_equal(m.positions[f], cam[:, [2, 0, 1]])
    np.testing.assert_array_equal(m.timestamps, np.arange(10) / 30.0)
    assert m.valid.all()
    assert clip.extra["setup"] == 1 and clip.extra["camera"] == 2 and clip.extra["body"] == 1
    assert clip.extra["body_id"] == ID_A and clip.extra["inferred_joint_fraction"] == 0.0


def test_point_1_2_3_lands_at_3_1_2(tmp_path):
    frames = single(3)
    for _, xyz, _ in (b for fr in frames for b in fr):
        xyz[0] = (1.0, 2.0, 3.0)
    [clip] = items(write(tmp_path, "S001C001P001R001A001", frames))
    np.testing.assert_array_equal(clip.motion.joint("pelvis"), [[3.0, 1.0, 2.0]] * 3)


def test_splits_follow_protocol(tmp_path):
    train = write(tmp_path, "S001C001P001R001A001", single(3))
    test = write(tmp_path, "S001C001P003R001A001", single(3))
    assert next(ntu.read(train)).split == "train"
    assert next(ntu.read(test)).split == "test"
    assert next(ntu.read(train, protocol="xview")).split == "test"  # camera 1
    with pytest.raises(ValueError, match="unknown NTU protocol"):
        items(train, protocol="xfoo")
    with pytest.raises(ValueError, match="unknown option"):
        items(train, protcol="xsub")


def test_main_actor_is_moving_long_body_and_ghosts_are_ignored(tmp_path):
    # A: static, all 12 frames. B: moving, all 12 frames. C: huge motion but only 2 frames.
    frames = []
    for f in range(12):
        bodies = [(ID_A, body_xyz(0, offset=2.0), None), (ID_B, body_xyz(f, swing=0.1), None)]
        if f in (3, 4):
            bodies.append((ID_C, body_xyz(f, swing=50.0), None))
        frames.append(bodies)
    [clip] = items(write(tmp_path, "S001C001P001R001A001", frames))
    assert clip.extra["body_id"] == ID_B and clip.extra["bodies_in_file"] == 3
    np.testing.assert_array_equal(clip.motion.positions[5][:, 1], body_xyz(5, swing=0.1)[:, 0])


def test_mutual_action_emits_second_body(tmp_path):
    frames = [[(ID_A, body_xyz(f, swing=0.01), None), (ID_B, body_xyz(f, swing=0.2), None)]
              for f in range(6)]
    path = write(tmp_path, "S001C001P001R001A050", frames)
    first, second = items(path)
    assert (first.id, second.id) == ("S001C001P001R001A050", "S001C001P001R001A050_b2")
    assert first.extra["body_id"] == ID_B and second.extra["body_id"] == ID_A
    assert second.extra["body"] == 2 and second.source_label == "A050"
    np.testing.assert_array_equal(second.motion.positions[4][:, 0], body_xyz(4, swing=0.01)[:, 2])
    assert [c.id for c in items(path, second_body=False)] == ["S001C001P001R001A050"]
    # A non-mutual action with the same two bodies yields the main actor only.
    assert len(items(write(tmp_path, "S001C001P001R001A049", frames))) == 1


def test_mutual_action_with_one_body_notes_it(tmp_path):
    [clip] = items(write(tmp_path, "S001C001P001R001A106", single(4)))
    assert clip.extra["second_body"].startswith("not emitted")


def test_zero_body_frames_are_invalid_and_clip_spans_body(tmp_path):
    frames = single(10)
    frames[0] = frames[1] = []       # before the body appears: trimmed
    frames[5] = []                   # a gap: invalid frame
    frames[9] = []                   # after: trimmed
    [clip] = items(write(tmp_path, "S001C001P001R001A001", frames))
    m = clip.motion
    assert m.num_frames == 7 and clip.extra["first_frame"] == 2
    np.testing.assert_array_equal(m.timestamps, np.arange(2, 9) / 30.0)
    assert not m.valid[3].any() and np.isnan(m.positions[3]).all()
    assert m.valid[[0, 1, 2, 4, 5, 6]].all()
    np.testing.assert_array_equal(m.positions[0][:, 0], body_xyz(2)[:, 2])


def test_untracked_joint_invalid_inferred_joint_valid(tmp_path):
    frames = single(4)
    state = np.full(J, 2)
    state[L_WRIST] = 0
    state[R_WRIST] = 1
    frames[2] = [(ID_A, body_xyz(2), state)]
    [clip] = items(write(tmp_path, "S001C001P001R001A001", frames))
    m = clip.motion
    assert not m.valid[2, L_WRIST] and np.isnan(m.positions[2, L_WRIST]).all()
    assert m.valid[2, R_WRIST] and m.valid.sum() == 4 * J - 1
    assert clip.extra["inferred_joint_fraction"] == round(1 / (4 * J), 4)


def test_negative_depth_is_invalid(tmp_path):
    frames = single(3)
    frames[1][0][1][3, 2] = 0.0  # head at depth 0: not a measurement
    [clip] = items(write(tmp_path, "S001C001P001R001A001", frames))
    assert not clip.motion.valid[1, 3] and clip.motion.valid.sum() == 3 * J - 1


def test_truncated_files_are_skipped_with_reason(tmp_path):
    text = skeleton_text(single(5))
    cut_line = tmp_path / "S001C001P001R001A001.skeleton"
    cut_line.write_text(text[: text.index("72057594037931101", 2000)], newline="")
    cut_mid = tmp_path / "S001C001P001R001A002.skeleton"
    cut_mid.write_text(text[:-40], newline="")
    header = write(tmp_path, "S001C001P001R001A003", single(5), header=6)
    for path in (cut_line, cut_mid, header):
        [skip] = items(path)
        assert isinstance(skip, Skip) and skip.input == str(path)
        assert "truncated" in skip.reason, skip.reason


def test_malformed_files_are_skipped(tmp_path):
    empty = tmp_path / "S001C001P001R001A001.skeleton"
    empty.write_text("")
    extra = write(tmp_path, "S001C001P001R001A002", single(5), header=4)
    garbage = tmp_path / "S001C001P001R001A003.skeleton"
    garbage.write_text(skeleton_text(single(3)).replace("2.5 ", "2.5x ", 1), newline="")
    nobody = write(tmp_path, "S001C001P001R001A004", [[] for _ in range(5)])
    reasons = [items(p)[0].reason for p in (empty, extra, garbage, nobody)]
    assert reasons[0] == "empty file"
    assert "unexpected line" in reasons[1]
    assert "non-numeric" in reasons[2]
    assert reasons[3] == "no body in any frame"


def test_no_valid_wrist_is_skipped(tmp_path):
    state = np.full(J, 2)
    state[[L_WRIST, R_WRIST]] = 0
    frames = [[(ID_A, body_xyz(f), state)] for f in range(5)]
    [skip] = items(write(tmp_path, "S001C001P001R001A001", frames))
    assert skip.reason.startswith("no valid wrist")


def test_names_labels_and_missing_list(tmp_path):
    unmapped = write(tmp_path, "S001C001P001R001A121", single(3))
    badname = write(tmp_path, "clip_001", single(3))
    listed = write(tmp_path, "S001C002P005R002A008", single(3))
    missing = tmp_path / "missing.txt"
    missing.write_text("# NTU missing skeletons\nS001C002P005R002A008\n\n"
                       "S001C002P005R002A009.skeleton\n")
    assert items(unmapped)[0].reason == "unmapped label 'A121'"
    assert "does not match" in items(badname)[0].reason
    [skip] = items(listed, missing_list=missing)
    assert skip.reason == ntu.MISSING_REASON
    assert isinstance(items(listed)[0], Clip)


def test_irregular_whitespace_uses_the_general_parser(tmp_path):
    text = skeleton_text(single(4), newline="\n")
    odd = "\n".join(line.replace(" ", "  ") + " " for line in text.split("\n"))
    a = ntu.parse_skeleton(text)
    b = ntu.parse_skeleton(odd)
    np.testing.assert_array_equal(a.xyz, b.xyz)
    np.testing.assert_array_equal(a.state, b.state)
    assert list(b.body_id) == [ID_A] * 4 and b.num_frames == 4


def test_list_inputs_is_sorted_and_recursive(tmp_path):
    (tmp_path / "b").mkdir()
    names = ["b/S001C001P001R001A002", "S002C001P001R001A001", "S001C001P001R001A001"]
    for n in names:
        write(tmp_path, n, single(2))
    (tmp_path / "notes.txt").write_text("x")
    got = [p.relative_to(tmp_path).as_posix() for p in ntu.list_inputs(tmp_path)]
    assert got == ["S001C001P001R001A001.skeleton", "S002C001P001R001A001.skeleton",
                   "b/S001C001P001R001A002.skeleton"]
    with pytest.raises(FileNotFoundError):
        ntu.list_inputs(tmp_path / "absent")


def _parsed(data: bytes):
    """(xyz, state, body ids, frames) or the error message, by ``parse_skeleton_bytes``."""
    try:
        s = ntu.parse_skeleton_bytes(data)
    except ntu.NtuFormatError as err:
        return str(err)
    return (s.num_frames, s.frame.tolist(), list(s.body_id), s.body_id.dtype.str, s.xyz.tobytes(),
            s.state.tobytes())


def _general(data: bytes):
    try:
        s = ntu.parse_skeleton(data.decode("latin-1"))
    except ntu.NtuFormatError as err:
        return str(err)
    return (s.num_frames, s.frame.tolist(), list(s.body_id), s.body_id.dtype.str, s.xyz.tobytes(),
            s.state.tobytes())


def test_compiled_scan_equals_the_general_parser_on_mutated_files():
    """Random edits of a valid file (whitespace of every kind, extra or missing tokens, number
    forms, cut lines): the compiled scan either parses a file bit for bit as ``parse_skeleton``
    does or leaves it to it (same error), and it takes the usual layout itself."""
    rng = np.random.default_rng(0)
    frames = [[(ID_A, body_xyz(f, swing=0.013), None), (ID_B, body_xyz(f, 0.5), None)] for f in range(3)]
    base = skeleton_text(frames).encode()
    status = ntu._scan(np.frombuffer(base, np.uint8))[0]
    assert status == 0  # the usual layout takes the compiled path
    edits = [b" ", b"\t", b"\r", b"\n", b"\x0b", b"\x0c", b"\xa0", b"\x85", b"  ", b"-", b"+", b".",
             b"e", b"E5", b"e-3", b"x", b"1", b"0", b"00000000000000000001", b"1e99999", b"9" * 17]
    for _ in range(400):
        data = bytearray(base)
        for _ in range(int(rng.integers(1, 3))):
            at = int(rng.integers(0, len(data)))
            op = rng.integers(0, 3)
            if op == 0:
                data[at:at] = edits[int(rng.integers(len(edits)))]
            elif op == 1:
                del data[at:at + int(rng.integers(1, 4))]
            else:
                data[at:at + 1] = edits[int(rng.integers(len(edits)))]
        data = bytes(data)
        assert _parsed(data) == _general(data)


def test_body_index_and_ranking_agree_between_the_compiled_and_the_general_parser():
    """The compiled scan hands over its body codes (ids in order of first appearance); the
    general parser's skeleton derives them from the ids. Ranking and bodies agree."""
    ghost = "72057594037931000"  # sorts first, appears last
    frames = [[(ID_B, body_xyz(f, swing=0.03125), None), (ID_A, body_xyz(f, 0.5), None)] for f in range(6)]
    frames += [[(ghost, body_xyz(6), None)]]
    data = skeleton_text(frames).encode()
    fast, general = ntu.parse_skeleton_bytes(data), ntu.parse_skeleton(data.decode())
    assert fast._index is not None and general._index is None
    for a, b in zip(fast.body_index(), general.body_index()):
        assert a.tolist() == b.tolist()
    ids, first, code = fast.body_index()
    assert ids.tolist() == [ID_B, ID_A, ghost] and first.tolist() == [0, 1, 12]
    assert code.tolist() == [0, 1] * 6 + [2]
    assert ntu.rank_bodies(fast) == ntu.rank_bodies(general) == [ID_B, ID_A]  # B moves


def test_body_arrays_equal_the_numpy_camera_to_world():
    """``_body_arrays`` against the plain NumPy construction: records scattered to their frames
    (a repeated frame: the later record wins), invalid joints NaN, and ``camera_to_world``'s
    matrix product, bit for bit (signed zeros and non-finite values included)."""
    rng = np.random.default_rng(3)
    r = 9
    xyz = rng.normal(size=(r, J, 3))
    xyz[..., 2] = np.abs(xyz[..., 2]) + 0.5
    xyz[0, :4, :2] = [[0.0, -0.0], [-0.0, -0.0], [-0.0, 0.0], [np.inf, -np.inf]]
    xyz[1, 5, 2], xyz[1, 6, 0], xyz[2, 7, 2] = -1.0, np.nan, 0.0
    state = rng.integers(0, 3, size=(r, J)).astype(np.int8)
    state[0, :4] = 2
    rows = np.array([0, 1, 2, 4, 5, 7, 8])
    at = np.array([0, 1, 1, 3, 4, 6, 7])  # frames 2 and 5 without the body; frame 1 twice
    num = 8
    out, valid = np.empty((num, J, 3)), np.empty((num, J), bool)
    inferred = ntu._body_arrays(xyz, state, rows, at, ntu.KINECT_TO_WORLD, out, valid)
    ref = np.full((num, J, 3), np.nan)
    st = np.zeros((num, J), np.int8)
    ref[at], st[at] = xyz[rows], state[rows]
    ok = (st > 0) & (ref[..., 2] > 0)
    ref[~ok] = np.nan
    with np.errstate(invalid="ignore"):  # inf * 0 in the product, as in the reader before
        ref = camera_to_world(ref, ntu.KINECT_TO_WORLD)
    assert valid.tolist() == ok.tolist() and out.tobytes() == ref.tobytes()
    assert inferred == int((state[rows] == 1).sum())


def test_compiled_body_energy_equals_the_numpy_definition_bit_for_bit():
    """``rank_bodies``' compiled motion energy is ``_motion_energy`` of the body's records, bit for
    bit (sums over frames in order, numpy's pairwise sum of the 75 variances), untracked joints,
    bodies with no tracked joint and absent codes included."""
    rng = np.random.default_rng(3)
    for _ in range(300):
        r = int(rng.integers(1, 40))
        xyz = rng.standard_normal((r, ntu.NUM_JOINTS, 3)) * rng.uniform(0.01, 5)
        state = rng.integers(0, 3, (r, ntu.NUM_JOINTS)).astype(np.int8)
        if rng.random() < 0.2:
            state[:] = 0
        code = rng.integers(0, 3, r)
        tracked = (state > 0) & (xyz[..., 2] > 0)
        for k in range(4):
            with np.errstate(invalid="ignore", divide="ignore"):
                want = ntu._motion_energy(xyz[code == k], tracked[code == k])
            assert ntu._body_energy(xyz, state, code, k) == want
