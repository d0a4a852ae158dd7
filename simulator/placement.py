"""Sensor placements and how a device is mounted on its body segment.

Device axes follow Android / Wear OS: x toward 3 o'clock, y toward 12 o'clock, z out of the face.

- ``left_wrist``: a watch on the back of the left wrist, read with the palm down: x points distally
  (toward the fingers), y toward the ulnar (little-finger) side, z out of the back of the wrist.
- ``right_wrist``: the same watch on the right wrist: x points proximally (toward the elbow),
  y toward the ulnar side, z out of the back of the wrist.
- ``phone_in_hand``: a phone lying in the right palm, screen away from the palm: y points
  distally (toward the fingers), z out of the palm (screen normal), x = y x z (toward the thumb
  when the palm faces up).

The *segment frame* of a placement is the device frame with the default (identity) mounting
rotation; ``Mounting`` then rotates and offsets the device within it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

PLACEMENTS: tuple[str, ...] = ("left_wrist", "right_wrist", "phone_in_hand")

#: Placement -> (side, segment origin joint). The watch is referenced to the wrist joint, the phone
#: to the palm (hand joint when the skeleton has one, else the wrist).
PLACEMENT_SIDE: dict[str, str] = {"left_wrist": "left", "right_wrist": "right", "phone_in_hand": "right"}


@dataclass(frozen=True)
class Mounting:
    """Device pose in its segment frame.

    rotation: takes device-frame vectors to segment-frame vectors (identity = nominal wear).
    offset_m: (3,) metres, device origin relative to the segment origin, in the segment frame.
    """

    rotation: Rotation = field(default_factory=Rotation.identity)
    offset_m: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        off = np.asarray(self.offset_m, dtype=np.float64).reshape(3)
        object.__setattr__(self, "offset_m", off)


def default_mounting(placement: str) -> Mounting:
    """Documented defaults: a watch sits 3 cm up the forearm from the wrist joint and 2 cm above
    it on the back of the wrist (the skin surface); a phone lies 2 cm out of the palm."""
    check_placement(placement)
    if placement == "left_wrist":
        return Mounting(offset_m=np.array([-0.03, 0.0, 0.02]))
    if placement == "right_wrist":
        return Mounting(offset_m=np.array([0.03, 0.0, 0.02]))
    return Mounting(offset_m=np.array([0.0, 0.0, 0.02]))


def check_placement(placement: str) -> str:
    if placement not in PLACEMENTS:
        raise ValueError(f"unknown placement {placement!r}; choose one of {PLACEMENTS}")
    return placement


def mirrored_placement(placement: str) -> str:
    """left_wrist <-> right_wrist; phone_in_hand stays (the mirrored motion moves the hand)."""
    return {"left_wrist": "right_wrist", "right_wrist": "left_wrist"}.get(placement, placement)
