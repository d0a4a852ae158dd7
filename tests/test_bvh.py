"""BVH parser + forward kinematics against hand-computed poses and independent matrix products."""

from __future__ import annotations

import numpy as np
import pytest

from imu2safety.simulator.bvh import (
    Y_UP_TO_Z_UP, parse_bvh, read_bvh, rest_height, unit_from_height,
)
from imu2safety.simulator.motion import MotionError
from imu2safety.simulator.readers import read_motion

# A CMU-like rig (cgspeed layout: LHipJoint, LowerBack, Neck1, LThumb, ...) in centimetres, y up,
# facing +z, the character's left on +x, T-pose rest. 31 joints with channels: 6 + 30 * 3 = 96.
CMU_HIERARCHY = """HIERARCHY
ROOT Hips
{
  OFFSET 0.0 0.0 0.0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT LHipJoint
  {
    OFFSET 0.0 0.0 0.0
    CHANNELS 3 Zrotation Yrotation Xrotation
    JOINT LeftUpLeg
    {
      OFFSET 9.0 -9.0 2.0
      CHANNELS 3 Zrotation Yrotation Xrotation
      JOINT LeftLeg
      {
        OFFSET 0.0 -42.0 0.0
        CHANNELS 3 Zrotation Yrotation Xrotation
        JOINT LeftFoot
        {
          OFFSET 0.0 -41.0 0.0
          CHANNELS 3 Zrotation Yrotation Xrotation
          JOINT LeftToeBase
          {
            OFFSET 0.0 -5.0 12.0
            CHANNELS 3 Zrotation Yrotation Xrotation
            End Site
            {
              OFFSET 0.0 0.0 5.0
            }
          }
        }
      }
    }
  }
  JOINT RHipJoint
  {
    OFFSET 0.0 0.0 0.0
    CHANNELS 3 Zrotation Yrotation Xrotation
    JOINT RightUpLeg
    {
      OFFSET -9.0 -9.0 2.0
      CHANNELS 3 Zrotation Yrotation Xrotation
      JOINT RightLeg
      {
        OFFSET 0.0 -42.0 0.0
        CHANNELS 3 Zrotation Yrotation Xrotation
        JOINT RightFoot
        {
          OFFSET 0.0 -41.0 0.0
          CHANNELS 3 Zrotation Yrotation Xrotation
          JOINT RightToeBase
          {
            OFFSET 0.0 -5.0 12.0
            CHANNELS 3 Zrotation Yrotation Xrotation
            End Site
            {
              OFFSET 0.0 0.0 5.0
            }
          }
        }
      }
    }
  }
  JOINT LowerBack
  {
    OFFSET 0.0 0.0 0.0
    CHANNELS 3 Zrotation Yrotation Xrotation
    JOINT Spine
    {
      OFFSET 0.0 12.0 0.0
      CHANNELS 3 Zrotation Yrotation Xrotation
      JOINT Spine1
      {
        OFFSET 0.0 12.0 0.0
        CHANNELS 3 Zrotation Yrotation Xrotation
        JOINT Neck
        {
          OFFSET 0.0 10.0 0.0
          CHANNELS 3 Zrotation Yrotation Xrotation
          JOINT Neck1
          {
            OFFSET 0.0 5.0 0.0
            CHANNELS 3 Zrotation Yrotation Xrotation
            JOINT Head
            {
              OFFSET 0.0 5.0 0.0
              CHANNELS 3 Zrotation Yrotation Xrotation
              End Site
              {
                OFFSET 0.0 15.0 0.0
              }
            }
          }
        }
        JOINT LeftShoulder
        {
          OFFSET 3.0 8.0 0.0
          CHANNELS 3 Zrotation Yrotation Xrotation
          JOINT LeftArm
          {
            OFFSET 15.0 0.0 0.0
            CHANNELS 3 Zrotation Yrotation Xrotation
            JOINT LeftForeArm
            {
              OFFSET 28.0 0.0 0.0
              CHANNELS 3 Zrotation Yrotation Xrotation
              JOINT LeftHand
              {
                OFFSET 25.0 0.0 0.0
                CHANNELS 3 Zrotation Yrotation Xrotation
                JOINT LeftFingerBase
                {
                  OFFSET 4.0 0.0 0.0
                  CHANNELS 3 Zrotation Yrotation Xrotation
                  JOINT LeftHandIndex1
                  {
                    OFFSET 4.0 0.0 0.0
                    CHANNELS 3 Zrotation Yrotation Xrotation
                    End Site
                    {
                      OFFSET 3.0 0.0 0.0
                    }
                  }
                }
                JOINT LThumb
                {
                  OFFSET 2.0 0.0 3.0
                  CHANNELS 3 Zrotation Yrotation Xrotation
                  End Site
                  {
                    OFFSET 3.0 0.0 2.0
                  }
                }
              }
            }
          }
        }
        JOINT RightShoulder
        {
          OFFSET -3.0 8.0 0.0
          CHANNELS 3 Zrotation Yrotation Xrotation
          JOINT RightArm
          {
            OFFSET -15.0 0.0 0.0
            CHANNELS 3 Zrotation Yrotation Xrotation
            JOINT RightForeArm
            {
              OFFSET -28.0 0.0 0.0
              CHANNELS 3 Zrotation Yrotation Xrotation
              JOINT RightHand
              {
                OFFSET -25.0 0.0 0.0
                CHANNELS 3 Zrotation Yrotation Xrotation
                JOINT RightFingerBase
                {
                  OFFSET -4.0 0.0 0.0
                  CHANNELS 3 Zrotation Yrotation Xrotation
                  JOINT RightHandIndex1
                  {
                    OFFSET -4.0 0.0 0.0
                    CHANNELS 3 Zrotation Yrotation Xrotation
                    End Site
                    {
                      OFFSET -3.0 0.0 0.0
                    }
                  }
                }
                JOINT RThumb
                {
                  OFFSET -2.0 0.0 3.0
                  CHANNELS 3 Zrotation Yrotation Xrotation
                  End Site
                  {
                    OFFSET -3.0 0.0 2.0
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
"""
CMU_CHANNELS = 96
LEFT_FOREARM_ZROT = 60  # column: Hips 0-5, then 3 per joint in file order


def _cmu_row(**cols: float) -> str:
    row = np.zeros(CMU_CHANNELS)
    row[1] = 97.0  # hips 97 cm above the floor
    for key, value in cols.items():
        row[int(key[1:])] = value
    return " ".join(f"{v:g}" for v in row)


# Frame 0: rest T-pose. Frame 1: whole body yawed +90 deg about vertical (Hips Yrotation, col 4).
# Frame 2: left elbow flexed: LeftForeArm Zrotation 90 (the hand points up).
CMU_BVH = CMU_HIERARCHY + "MOTION\nFrames: 3\nFrame Time: 0.0083333\n" + "\n".join(
    [_cmu_row(), _cmu_row(c4=90.0), _cmu_row(**{f"c{LEFT_FOREARM_ZROT}": 90.0})]
) + "\n"


def _write(tmp_path, text: str, name: str = "clip.bvh"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _chain_bvh(root_channels: str, spine_channels: str, head_channels: str, rows,
               scale: float = 1.0, frame_time: str = "0.01") -> str:
    """Hips -> Spine -> Head -> End Site, offsets along +y (times ``scale``)."""
    def block(channels: str) -> str:
        return f"CHANNELS {len(channels.split())} {channels}" if channels else "CHANNELS 0"
    body = "\n".join(" ".join(f"{v!r}" for v in row) for row in rows)
    return f"""HIERARCHY
ROOT Hips
{{
  OFFSET 0 0 0
  {block(root_channels)}
  JOINT Spine
  {{
    OFFSET 0 {scale} 0
    {block(spine_channels)}
    JOINT Head
    {{
      OFFSET {0.1 * scale} {scale} {0.2 * scale}
      {block(head_channels)}
      End Site
      {{
        OFFSET 0 {0.5 * scale} 0
      }}
    }}
  }}
}}
MOTION
Frames: {len(rows)}
Frame Time: {frame_time}
{body}
"""


# Independent reference: plain 4x4 homogeneous matrices, no scipy.
def _axis(axis: str, deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return {
        "X": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
        "Y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
        "Z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
    }[axis]


def _local(offset, channels: str, values) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = offset
    rot = np.eye(3)
    for name, v in zip(channels.split(), values):
        if name.endswith("position"):
            m["XYZ".index(name[0]), 3] += v
        else:
            rot = rot @ _axis(name[0], v)
    m[:3, :3] = rot
    return m


def _reference_chain(layout, row) -> np.ndarray:
    offsets = [(0, 0, 0), (0, 1, 0), (0.1, 1, 0.2)]
    g = np.eye(4)
    out, col = [], 0
    for offset, channels in zip(offsets, layout):
        n = len(channels.split())
        g = g @ _local(offset, channels, row[col:col + n])
        col += n
        out.append(g[:3, 3])
    return np.array(out)


def test_hand_computed_zxy_root_xyz_joint(tmp_path):
    # Frame 0: root at (1,2,3), Rz(90); spine Rx(90). Frame 1: root Rz(90) Rx(90); spine Rz(90).
    # By hand (Rz90: (x,y,z)->(-y,x,z); Rx90: (x,y,z)->(x,-z,y)), BVH axes:
    #   f0: spine = (1,2,3) + Rz90 (0,1,0) = (0,2,3); head = spine + Rz90 Rx90 (.1,1,.2)
    #       Rx90 (.1,1,.2) = (.1,-.2,1); Rz90 -> (.2,.1,1); head = (.2,2.1,4)
    #   f1: spine = (1,2,3) + Rz90 Rx90 (0,1,0) = (1,2,3) + Rz90 (0,0,1) = (1,2,4)
    #       head = spine + Rz90 Rx90 Rz90 (.1,1,.2): Rz90 -> (-1,.1,.2); Rx90 -> (-1,-.2,.1);
    #       Rz90 -> (.2,-1,.1); head = (1.2,1,4.1)
    rows = [[1, 2, 3, 90, 0, 0, 90, 0, 0], [1, 2, 3, 90, 90, 0, 0, 0, 90]]
    text = _chain_bvh("Xposition Yposition Zposition Zrotation Xrotation Yrotation",
                      "Xrotation Yrotation Zrotation", "", rows)
    bvh_expected = np.array([
        [[1, 2, 3], [0, 2, 3], [0.2, 2.1, 4]],
        [[1, 2, 3], [1, 2, 4], [1.2, 1, 4.1]],
    ])
    motion = read_bvh(_write(tmp_path, text), unit="m", up_axis="z")
    assert motion.joint_names == ("pelvis", "spine", "head")
    np.testing.assert_allclose(motion.positions, bvh_expected, atol=1e-12)
    np.testing.assert_allclose(motion.timestamps, [0.0, 0.01])
    # y-up -> z-up: (x, y, z)_bvh -> (z, x, y)_world.
    world = read_bvh(_write(tmp_path, text), unit="m", up_axis="y")
    np.testing.assert_allclose(world.positions, bvh_expected[..., [2, 0, 1]], atol=1e-12)


LAYOUTS = [
    ("Xposition Yposition Zposition Zrotation Xrotation Yrotation",
     "Xrotation Yrotation Zrotation", "Zrotation Xrotation Yrotation"),
    ("Xposition Yposition Zposition Zrotation Yrotation Xrotation",
     "Zrotation Yrotation Xrotation", "Yrotation Zrotation Xrotation"),
    # 6 channels everywhere, positions and rotations interleaved in odd orders.
    ("Yrotation Xposition Zrotation Zposition Xrotation Yposition",
     "Xposition Yposition Zposition Yrotation Zrotation Xrotation",
     "Zrotation Zposition Xrotation Yposition Yrotation Xposition"),
    # No root translation, 2 and 1 rotation channels, a joint with none.
    ("Zrotation Xrotation Yrotation", "Xrotation Zrotation", "Yrotation"),
    ("Xposition Yposition Zposition Yrotation Xrotation Zrotation", "", "Xrotation Yrotation"),
]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_fk_matches_matrix_products(tmp_path, layout):
    rng = np.random.default_rng(7)
    n_channels = sum(len(c.split()) for c in layout)
    rows = rng.uniform(-180, 180, size=(5, n_channels)).round(4)
    text = _chain_bvh(*layout, rows.tolist())
    motion = read_bvh(_write(tmp_path, text), unit="m", up_axis="z")
    expected = np.array([_reference_chain(layout, row) for row in rows])
    np.testing.assert_allclose(motion.positions, expected, atol=1e-12)


def test_order_of_rotation_channels_matters(tmp_path):
    rows = [[30, 60, 0]]
    zx = read_bvh(_write(tmp_path, _chain_bvh("Zrotation Xrotation Yrotation", "", "", rows)),
                  unit="m", up_axis="z")
    xz = read_bvh(_write(tmp_path, _chain_bvh("Xrotation Zrotation Yrotation", "", "", rows)),
                  unit="m", up_axis="z")
    # Same angle columns, different order: Rz(30) Rx(60) vs Rx(30) Rz(60) applied to (0,1,0).
    np.testing.assert_allclose(zx.joint("spine"), [_axis("Z", 30) @ _axis("X", 60) @ [0, 1, 0]])
    np.testing.assert_allclose(xz.joint("spine"), [_axis("X", 30) @ _axis("Z", 60) @ [0, 1, 0]])
    assert not np.allclose(zx.joint("spine"), xz.joint("spine"))


@pytest.mark.parametrize("unit, scale", [("cm", 100.0), ("mm", 1000.0), ("inch", 1 / 0.0254)])
def test_units_convert_to_metres(tmp_path, unit, scale):
    layout = ("Xposition Yposition Zposition Zrotation Xrotation Yrotation", "Zrotation", "")
    rows = [[0.5, 0.9, -0.2, 10, 20, 30, 40], [0.6, 0.9, -0.1, 15, 25, 35, 45]]
    metres = read_bvh(_write(tmp_path, _chain_bvh(*layout, rows)), unit="m")
    scaled_rows = [[v * scale if k < 3 else v for k, v in enumerate(r)] for r in rows]
    text = _chain_bvh(*layout, scaled_rows, scale=scale)
    np.testing.assert_allclose(read_bvh(_write(tmp_path, text), unit=unit).positions,
                               metres.positions, atol=1e-12)


def test_auto_unit_rule(tmp_path):
    assert [unit_from_height(h) for h in (1.7, 30.0, 68.0, 170.0, 1700.0)] == [
        "m", "cmu", "inch", "cm", "mm"]
    data = parse_bvh(CMU_BVH)
    assert rest_height(data.joints) == pytest.approx(164.0)  # T-pose arm span, cm
    auto = read_bvh(_write(tmp_path, CMU_BVH))
    np.testing.assert_array_equal(auto.positions, read_bvh(tmp_path / "clip.bvh", "cm").positions)


def test_cmu_like_rig_names_and_pose(tmp_path):
    motion = read_bvh(_write(tmp_path, CMU_BVH))
    assert motion.joint_names == (
        "pelvis", "left_hip", "left_knee", "left_ankle", "left_foot",
        "right_hip", "right_knee", "right_ankle", "right_foot",
        "spine_mid", "spine", "spine_chest", "neck", "head",
        "left_clavicle", "left_shoulder", "left_elbow", "left_wrist", "left_hand",
        "left_hand_tip", "left_thumb",
        "right_clavicle", "right_shoulder", "right_elbow", "right_wrist", "right_hand",
        "right_hand_tip", "right_thumb",
    )
    assert motion.valid.all()
    np.testing.assert_allclose(motion.timestamps, [0.0, 0.0083333, 0.0166666])
    # Rest: left wrist at BVH (3+15+28+25, 97+24+8, 0) cm = (71, 129, 0) -> world (0, .71, 1.29).
    np.testing.assert_allclose(motion.joint("left_wrist")[0], [0, 0.71, 1.29], atol=1e-12)
    np.testing.assert_allclose(motion.joint("right_wrist")[0], [0, -0.71, 1.29], atol=1e-12)
    np.testing.assert_allclose(motion.joint("left_hand")[0], [0, 0.75, 1.29], atol=1e-12)
    # Neck (BVH y 131) is kept; Neck1 (y 136) maps to "neck" too and is dropped.
    np.testing.assert_allclose(motion.joint("neck")[0], [0, 0, 1.31], atol=1e-12)
    # Feet on the floor, head up: z is up.
    assert motion.joint("left_ankle")[0, 2] == pytest.approx(0.05)
    assert motion.joint("head")[0, 2] > motion.joint("pelvis")[0, 2] > 0.9
    # Yaw +90 deg about vertical: the left arm swings from +y to -x (right-handed about +z).
    np.testing.assert_allclose(motion.joint("left_wrist")[1], [-0.71, 0, 1.29], atol=1e-12)
    # Elbow flexed 90 deg about the BVH z axis (forward): the forearm points straight up.
    np.testing.assert_allclose(motion.joint("left_wrist")[2], [0, 0.46, 1.54], atol=1e-12)
    np.testing.assert_allclose(motion.joint("left_elbow")[2], [0, 0.46, 1.29], atol=1e-12)


MIXAMO_BVH = """HIERARCHY
ROOT mixamorig:Hips
{
  OFFSET 0 100 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT mixamorig:Spine
  {
    OFFSET 0 10 0
    CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
    JOINT mixamorig:LeftShoulder
    {
      OFFSET 5 30 0
      CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
      JOINT mixamorig:LeftArm
      {
        OFFSET 12 0 0
        CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
        JOINT mixamorig:LeftForeArm
        {
          OFFSET 27 0 0
          CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
          JOINT mixamorig:LeftHand
          {
            OFFSET 26 0 0
            CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
            End Site
            {
              OFFSET 8 0 0
            }
          }
        }
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.033333
0 0 0 0 0 0  0 0 0 0 0 0  0 0 0 0 0 0  0 0 0 0 0 0  0 0 0 0 0 0  0 0 0 0 0 0
0 0 0 0 0 0  0 0 0 0 0 0  0 0 0 0 0 0  0 0 0 0 0 0  0 0 0 0 0 0  0 0 0 90 0 0
"""


def test_mixamo_names_and_hand_from_end_site(tmp_path):
    motion = read_bvh(_write(tmp_path, MIXAMO_BVH), unit="cm")  # one arm: too small for "auto"
    assert motion.joint_names == ("pelvis", "spine", "left_clavicle", "left_shoulder",
                                  "left_elbow", "left_wrist", "left_hand")
    # Root OFFSET is added: wrist at BVH (5+12+27+26, 140, 0) cm; the End Site 8 cm further.
    np.testing.assert_allclose(motion.joint("left_wrist")[0], [0, 0.70, 1.40], atol=1e-12)
    np.testing.assert_allclose(motion.joint("left_hand")[0], [0, 0.78, 1.40], atol=1e-12)
    # Wrist Zrotation 90: the end site moves up, the wrist does not.
    np.testing.assert_allclose(motion.joint("left_hand")[1], [0, 0.70, 1.48], atol=1e-12)


def test_nan_channel_invalidates_joint_and_descendants(tmp_path):
    text = _chain_bvh("Zrotation", "Zrotation", "Zrotation", [[0, 0, 0], [0, float("nan"), 0]])
    motion = read_bvh(_write(tmp_path, text), unit="m")
    np.testing.assert_array_equal(motion.valid, [[True, True, True], [True, False, False]])


def test_extra_rows_are_ignored_with_warning(tmp_path):
    text = _chain_bvh("Zrotation", "", "", [[0], [10], [20]]).replace("Frames: 3", "Frames: 2")
    with pytest.warns(UserWarning, match="using the first 2"):
        motion = read_bvh(_write(tmp_path, text), unit="m")
    assert motion.num_frames == 2


GOOD = _chain_bvh("Zrotation Xrotation", "Yrotation", "", [[0, 1, 2], [3, 4, 5], [6, 7, 8]])


@pytest.mark.parametrize("text, match", [
    (GOOD.replace("Frames: 3", "Frames: 5"), "truncated MOTION section.*Frames: 5.*only 3"),
    (GOOD.rsplit("\n", 2)[0] + "\n6 7\n", "row 3 has 2 values, expected 3"),
    (GOOD.replace("3 4 5", "3 x 5"), "non-numeric"),
    (GOOD.replace("Frame Time: 0.01", "Frame Time: 0"), "Frame Time must be positive"),
    (GOOD.replace("Frame Time: 0.01", "Frame Time: -0.01"), "Frame Time must be positive"),
    (GOOD.replace("Frame Time: 0.01", "Frame Time: abc"), "bad Frames/Frame Time"),
    (GOOD.replace("Frames: 3", "Frames: 0"), "Frames must be at least 1"),
    (GOOD.replace("Frames: 3\n", ""), "lacks its 'Frames:'"),
    (GOOD.split("MOTION")[0], "no MOTION section"),
    (GOOD.replace("HIERARCHY", "HIERARCHIE"), "does not start with HIERARCHY"),
    (GOOD.replace("Yrotation", "Wrotation"), "bad CHANNELS"),
    (GOOD.replace("CHANNELS 1 Yrotation", "CHANNELS 2 Yrotation"), "bad CHANNELS"),
    (GOOD.replace("Zrotation Xrotation", "Zrotation Zrotation"), "repeated channel"),
    (GOOD.replace("OFFSET 0 1.0 0", "OFFSET 0 1.0"), "malformed HIERARCHY"),
    (GOOD.replace("  }\n}\nMOTION", "  }\nMOTION"), "missing '}'"),
    (GOOD.replace("}\nMOTION", "}\n}\nMOTION"), "unbalanced"),
    (GOOD.replace("End Site", "End"), "expected 'End Site'"),
    (GOOD.replace("ROOT Hips\n{", "ROOT Hips\n"), "not followed by a '{' block"),
    ("HIERARCHY\nROOT\nMOTION\nFrames: 1\nFrame Time: 0.1\n\n", "ends in the middle"),
    (GOOD.replace("Hips", "Bone1").replace("Spine", "Bone2").replace("Head", "Bone3"),
     "no BVH joint has a known name"),
])
def test_bad_files_raise_motion_error(tmp_path, text, match):
    with pytest.raises(MotionError, match=match):
        read_bvh(_write(tmp_path, text))


def test_missing_file_and_bad_arguments(tmp_path):
    with pytest.raises(MotionError, match="cannot read BVH file"):
        read_bvh(tmp_path / "absent.bvh")
    path = _write(tmp_path, GOOD)
    with pytest.raises(ValueError, match="unit must be"):
        read_bvh(path, unit="furlong")
    with pytest.raises(ValueError, match="up_axis must be"):
        read_bvh(path, up_axis="x")


def test_read_motion_dispatches_bvh(tmp_path):
    path = _write(tmp_path, CMU_BVH, "walk.BVH")
    np.testing.assert_array_equal(read_motion(path).positions, read_bvh(path).positions)


def test_y_up_matrix_is_a_proper_rotation():
    assert np.linalg.det(Y_UP_TO_Z_UP) == pytest.approx(1.0)
    np.testing.assert_array_equal(Y_UP_TO_Z_UP @ [0, 1, 0], [0, 0, 1])  # BVH up -> world up
