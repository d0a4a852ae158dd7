"""What a source reader yields: one clip (skeleton motion or real IMU) or one skip with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

import numpy as np

from .labels import Label, lookup

if TYPE_CHECKING:  # (scipy's rotations: not needed by processes that only read rows)
    from ..simulator.motion import Motion

SPLITS: tuple[str, ...] = ("train", "validation", "test")


@dataclass
class Clip:
    """One recording read from a source.

    id: unique within the source and shared by the skeleton and real-IMU twins of one recording
        (e.g. "a05_s1_t2"), so the calibration can pair them.
    source: the source name, e.g. "utd-mhad".
    subject: subject id as a string ("s1", "S29", "P001").
    source_label: the label in the source's own vocabulary (a key of its label table).
    split: one of SPLITS.
    motion: skeleton clip (synthetic sources), or None.
    imu: (N, 6) float ax ay az (m/s^2, specific force) gx gy gz (rad/s), sensor frame, for real
        IMU sources; None for skeleton sources.
    sample_rate_hz: rate of ``imu`` (real sources).
    placement: sensor placement of real IMU ("right_wrist", "left_wrist", "right_thigh", ...).
    device: recording device of real IMU (e.g. "fitbit_sense").
    extra: source-specific provenance (setup, camera, body index, fall start/end, ...), JSON-able.
    label: the reviewed label when the source carries its own table (the user's labels.csv of a
        folder source); None means ``labels.lookup(source, source_label)``.
    """

    id: str
    source: str
    subject: str
    source_label: str
    split: str
    motion: Motion | None = None
    imu: np.ndarray | None = None
    sample_rate_hz: float | None = None
    placement: str | None = None
    device: str | None = None
    extra: dict = field(default_factory=dict)
    label: Label | None = None

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if (self.motion is None) == (self.imu is None):
            raise ValueError("a clip holds either a motion or a real IMU recording")

    def resolved_label(self) -> Label | None:
        """The clip's reviewed label, or None when its source label is unmapped."""
        return self.label if self.label is not None else lookup(self.source, self.source_label)


@dataclass
class Skip:
    """An input (or one clip of it) that was not written, and why."""

    input: str
    reason: str


Item = Union[Clip, Skip]
