"""Default low-pass cutoff of the device trajectory, chosen from the kind of input.

The simulator low-passes the device's position and orientation before differentiating them
(``kinematics.lowpass``). How much to cut depends on where the motion came from: optical motion
capture is precise to a millimetre at hundreds of frames per second, a depth-camera skeleton
jitters by centimetres at 30 fps. With ``SimulationOptions(cutoff_hz="auto")`` (the default) the
cutoff is ``CUTOFF_BY_KIND[input_kind(source)]``, capped at 0.4 x the source and device rates.

| kind | input | Hz | basis |
|---|---|---|---|
| ``optical_mocap`` | a rigid body (``RigidBodyTrajectory``, e.g. BROAD) | 15 | BROAD, ``tests/test_fidelity_data.py``: >= 0.97 median correlation on every axis at 15 Hz; 8 Hz drops gyro-x to 0.80-0.90 on the translation trials |
| ``kinect_v1`` | Kinect v1 20-joint skeleton (UTD-MHAD) | 3 | UTD-MHAD, ``benchmarks/fidelity_utd.py`` (best |accel|/|gyro| agreement) |
| ``kinect_v2`` | Kinect v2 25-joint skeleton (NTU RGB+D) | 4 | by analogy with Kinect v1 (no paired real IMU) |
| ``azure_kinect`` | Azure Kinect 32-joint skeleton (SmartFallMM) | 4 | SmartFallMM, ``benchmarks/fidelity_report.py`` |
| ``video`` | 3D lifted from video (COCO-17, Human3.6M-17, SMPL-24 joints) | 4 | by analogy with the depth trackers (frame-wise lifting jitters like them); not measured |
| ``skeleton`` | any other joint set (BVH, NPZ) | 8 | the previous global default |
"""

from __future__ import annotations

from typing import Union

from .joints import JOINT_SETS
from .kinematics import DEFAULT_CUTOFF_HZ
from .motion import Motion, RigidBodyTrajectory

CUTOFF_BY_KIND: dict[str, float] = {
    "optical_mocap": 15.0,
    "kinect_v1": 3.0,
    "kinect_v2": 4.0,
    "azure_kinect": 4.0,
    "video": 4.0,
    "skeleton": DEFAULT_CUTOFF_HZ,
}

#: JOINT_SETS name -> input kind.
_KIND_OF_SET: dict[str, str] = {
    "kinect_v1": "kinect_v1", "utd_mhad": "kinect_v1", "kinect_v2": "kinect_v2", "ntu": "kinect_v2",
    "azure_kinect": "azure_kinect", "coco17": "video", "h36m17": "video", "smpl24": "video",
}


def input_kind(source: Union[Motion, RigidBodyTrajectory]) -> str:
    """The kind of input (a key of ``CUTOFF_BY_KIND``): rigid bodies are optical motion capture;
    a skeleton's kind is that of the ``JOINT_SETS`` entry whose joints it has, in any order."""
    if isinstance(source, RigidBodyTrajectory):
        return "optical_mocap"
    names = set(source.joint_names)
    for set_name, joints in JOINT_SETS.items():
        if names == set(joints):
            return _KIND_OF_SET.get(set_name, "skeleton")
    return "skeleton"


def default_cutoff_hz(source: Union[Motion, RigidBodyTrajectory]) -> float:
    """Default cutoff, Hz, for ``source`` (before the 0.4 x rate caps)."""
    return CUTOFF_BY_KIND[input_kind(source)]
