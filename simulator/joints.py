"""Joint vocabularies: the one place that names joints.

Every reader maps its source's joint order onto the canonical snake_case names in
``CANONICAL_JOINTS``. ``JOINT_SETS`` holds each skeleton's joints in the source's own order.
"""

from __future__ import annotations

_SIDED = (
    "clavicle", "shoulder", "elbow", "wrist", "hand", "hand_tip", "thumb",
    "hip", "knee", "ankle", "foot", "eye", "ear",
)
_CENTRAL = (
    "pelvis", "spine", "spine_mid", "spine_navel", "spine_chest", "spine_shoulder",
    "spine1", "spine2", "spine3", "thorax", "neck", "head", "nose",
)

#: Every joint name the project knows. Positions of these joints are in metres, world frame z-up.
CANONICAL_JOINTS: tuple[str, ...] = _CENTRAL + tuple(
    f"{side}_{part}" for side in ("left", "right") for part in _SIDED
)

COCO_17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)

#: Human3.6M 17-joint order as used by VideoPose3D (index 9 is the neck/nose point).
H36M_17 = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "spine", "thorax", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
)

#: Kinect v1 SDK order (NUI_SKELETON_POSITION_*).
KINECT_V1_20 = (
    "pelvis", "spine", "spine_shoulder", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
)

#: Kinect v1 as stored by UTD-MHAD (its Skeleton_joint_order.txt): head first.
UTD_MHAD_20 = (
    "head", "spine_shoulder", "spine", "pelvis",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
)

#: Kinect v2 / NTU RGB+D order (JointType_*), 1-based in NTU's docs.
KINECT_V2_25 = (
    "pelvis", "spine_mid", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
)

#: Azure Kinect Body Tracking SDK order (K4ABT_JOINT_*).
AZURE_KINECT_32 = (
    "pelvis", "spine_navel", "spine_chest", "neck",
    "left_clavicle", "left_shoulder", "left_elbow", "left_wrist",
    "left_hand", "left_hand_tip", "left_thumb",
    "right_clavicle", "right_shoulder", "right_elbow", "right_wrist",
    "right_hand", "right_hand_tip", "right_thumb",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "head", "nose", "left_eye", "left_ear", "right_eye", "right_ear",
)

SMPL_24 = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_clavicle", "right_clavicle", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)

JOINT_SETS: dict[str, tuple[str, ...]] = {
    "coco17": COCO_17,
    "h36m17": H36M_17,
    "kinect_v1": KINECT_V1_20,
    "utd_mhad": UTD_MHAD_20,
    "kinect_v2": KINECT_V2_25,
    "ntu": KINECT_V2_25,
    "azure_kinect": AZURE_KINECT_32,
    "smpl24": SMPL_24,
}

# BVH joint names (CMU, Mixamo, generic exports) -> canonical. Keys are lower case with any
# "prefix:" removed. In CMU/Mixamo rigs "LeftShoulder" is the clavicle and "LeftArm" the
# shoulder joint; "LeftHand" is the wrist joint, its first finger joint the hand.
BVH_ALIASES: dict[str, str] = {
    "hips": "pelvis", "hip": "pelvis", "pelvis": "pelvis", "root": "pelvis",
    "spine": "spine", "lowerback": "spine_mid", "spine1": "spine_chest", "chest": "spine_chest",
    "spine2": "spine_shoulder", "neck": "neck", "neck1": "neck", "head": "head",
}
for _side, _s in (("left", "l"), ("right", "r")):
    _S = _side.capitalize()
    BVH_ALIASES.update({
        f"{_side}shoulder": f"{_side}_clavicle", f"{_side}collar": f"{_side}_clavicle",
        f"{_s}collar": f"{_side}_clavicle", f"{_side}arm": f"{_side}_shoulder",
        f"{_side}uparm": f"{_side}_shoulder", f"{_s}shoulder": f"{_side}_shoulder",
        f"{_side}upperarm": f"{_side}_shoulder", f"{_side}forearm": f"{_side}_elbow",
        f"{_side}lowarm": f"{_side}_elbow", f"{_s}elbow": f"{_side}_elbow",
        f"{_side}elbow": f"{_side}_elbow", f"{_side}hand": f"{_side}_wrist",
        f"{_s}wrist": f"{_side}_wrist", f"{_side}wrist": f"{_side}_wrist",
        f"{_side}fingerbase": f"{_side}_hand", f"{_side}handmiddle1": f"{_side}_hand",
        f"{_side}handindex1": f"{_side}_hand_tip", f"{_side}handthumb1": f"{_side}_thumb",
        f"{_s}thumb": f"{_side}_thumb", f"{_side}upleg": f"{_side}_hip",
        f"{_side}thigh": f"{_side}_hip", f"{_s}hip": f"{_side}_hip",
        f"{_side}leg": f"{_side}_knee", f"{_side}shin": f"{_side}_knee",
        f"{_s}knee": f"{_side}_knee", f"{_side}knee": f"{_side}_knee",
        f"{_side}foot": f"{_side}_ankle", f"{_s}ankle": f"{_side}_ankle",
        f"{_side}ankle": f"{_side}_ankle", f"{_side}toebase": f"{_side}_foot",
        f"{_side}toe": f"{_side}_foot",
    })
del _side, _s, _S


def canonical_bvh_name(name: str) -> str | None:
    """Canonical joint for a BVH joint name (``mixamorig:LeftArm`` -> ``left_shoulder``), or None."""
    key = name.rsplit(":", 1)[-1].replace("_", "").replace(" ", "").lower()
    return BVH_ALIASES.get(key)


def validate_joint_names(names) -> tuple[str, ...]:
    """Return ``names`` as a tuple, or raise ValueError naming the unknown or repeated joints."""
    names = tuple(str(n) for n in names)
    unknown = sorted(set(names) - set(CANONICAL_JOINTS))
    if unknown:
        raise ValueError(
            f"unknown joint names {unknown}; use the canonical names in "
            "imu2safety.simulator.joints.CANONICAL_JOINTS"
        )
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"repeated joint names {dup}")
    return names
