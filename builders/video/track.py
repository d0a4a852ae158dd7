"""Tracking: ByteTrack (roboflow ``trackers``) associates per-frame person boxes into tracks;
``assemble_tracks`` turns each tracker id's observations into one or more continuous tracks.

``supervision`` 0.31 no longer ships ByteTrack (it moved to roboflow's ``trackers`` package,
which speaks ``supervision.Detections``); the ``video`` extra installs both.

Gap rules (gaps measured in seconds between two observed frames of the same tracker id, so that
variable frame rates are handled):

- gap <= ``bridge_gap_s``: *bridged*, boxes and keypoints interpolated linearly, ``mask`` True;
- ``bridge_gap_s`` < gap <= ``max_gap_s``: kept so the motion stays continuous, values
  interpolated, but ``mask`` False (Stage 2 must not trust those frames);
- gap > ``max_gap_s``: the track is *split* in two.

Tracks shorter than ``min_track_s`` are dropped (with their reason). Track ids are renumbered
0, 1, ... in order of first appearance (ties by tracker id), so they are stable for a given video
and options.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from .detect import Detections

log = logging.getLogger(__name__)


class PersonTracker:
    """Online ByteTrack over one video. ``update`` takes one frame's detections and its time."""

    def __init__(self, *, fps: float, max_gap_s: float = 1.0, activation_threshold: float = 0.5,
                 minimum_consecutive_frames: int = 1, iou_threshold: float = 0.1):
        from trackers import ByteTrackTracker

        # trackers counts its lost-track buffer in 30 fps frames and prunes by time when given
        # timestamps: a buffer of max_gap_s seconds.
        self.tracker = ByteTrackTracker(
            lost_track_buffer=max(1, int(math.ceil(max_gap_s * 30.0))), frame_rate=float(fps),
            track_activation_threshold=activation_threshold,
            minimum_consecutive_frames=minimum_consecutive_frames,
            minimum_iou_threshold=iou_threshold,
            high_conf_det_threshold=activation_threshold)

    def update(self, det: Detections, time_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Returns (ids (M,) int, boxes (M, 4), scores (M,)) of the confirmed tracks in this frame."""
        import supervision as sv

        sv_det = sv.Detections(xyxy=det.boxes.astype(np.float32).reshape(-1, 4),
                               confidence=det.scores.astype(np.float32).reshape(-1),
                               class_id=np.zeros(len(det.scores), int))
        out = self.tracker.update(sv_det, timestamp=float(time_s))
        ids = np.asarray(out.tracker_id if out.tracker_id is not None else [], int).reshape(-1)
        keep = ids >= 0
        boxes = np.asarray(out.xyxy, np.float32).reshape(-1, 4)[keep]
        conf = out.confidence if out.confidence is not None else np.ones(len(ids))
        return ids[keep], boxes, np.asarray(conf, np.float32).reshape(-1)[keep]


@dataclass
class Observations:
    """What one tracker id saw: one entry per observed frame (appended in time order).

    positions: indices into the decoded frame sequence. extras: named (K, ...) arrays per entry
    (backend-specific, e.g. BlazePose's 33 landmarks), interpolated like the keypoints.
    """

    positions: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    box_scores: list[float] = field(default_factory=list)
    keypoints: list[np.ndarray] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    extras: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, position: int, box, box_score: float, keypoints, scores, extras=None) -> None:
        self.positions.append(int(position))
        self.boxes.append(np.asarray(box, np.float32))
        self.box_scores.append(float(box_score))
        self.keypoints.append(np.asarray(keypoints, np.float32))
        self.scores.append(np.asarray(scores, np.float32))
        for k, v in (extras or {}).items():
            self.extras.setdefault(k, []).append(np.asarray(v, np.float32))


@dataclass
class TrackSegment:
    """One continuous track over consecutive decoded frames ``positions`` (T,).

    boxes (T, 4) pixels; box_scores (T,); keypoints (T, K, 2) pixels; scores (T, K);
    observed (T,) True where the tracker saw the person; mask (T,) True where observed or bridged.
    """

    track_id: int
    positions: np.ndarray
    boxes: np.ndarray
    box_scores: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray
    observed: np.ndarray
    mask: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)


def _interp(pos_obs: np.ndarray, values: np.ndarray, pos_all: np.ndarray) -> np.ndarray:
    """Linear interpolation of (n, ...) values observed at pos_obs onto pos_all (per element)."""
    flat = values.reshape(len(pos_obs), -1)
    out = np.empty((len(pos_all), flat.shape[1]), np.float32)
    for j in range(flat.shape[1]):
        out[:, j] = np.interp(pos_all, pos_obs, flat[:, j])
    return out.reshape((len(pos_all),) + values.shape[1:])


def assemble_tracks(observations: dict[int, Observations], times: np.ndarray, *,
                    bridge_gap_s: float = 0.25, max_gap_s: float = 1.0,
                    min_track_s: float = 1.0) -> tuple[list[TrackSegment], list[str]]:
    """Split, bridge and mask each tracker id's observations (rules in the module docstring).

    times: (N,) seconds of every decoded frame. Returns (tracks, reasons for dropped tracks).
    """
    times = np.asarray(times, np.float64)
    dt = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    pieces = []  # (first position, raw id, obs index array)
    for raw_id, obs in observations.items():
        pos = np.asarray(obs.positions, int)
        if pos.size == 0:
            continue
        order = np.argsort(pos, kind="stable")
        pos = pos[order]
        gaps = times[pos[1:]] - times[pos[:-1]]
        cuts = np.flatnonzero(gaps > max_gap_s + 1e-9) + 1
        for idx in np.split(order, cuts):
            pieces.append((int(obs.positions[idx[0]]), raw_id, idx))
    pieces.sort(key=lambda p: (p[0], p[1]))
    tracks: list[TrackSegment] = []
    dropped: list[str] = []
    for first, raw_id, idx in pieces:
        obs = observations[raw_id]
        pos_obs = np.asarray(obs.positions, int)[idx]
        duration = float(times[pos_obs[-1]] - times[pos_obs[0]]) + dt
        if duration + 1e-9 < min_track_s:
            dropped.append(f"tracker id {raw_id} from {times[pos_obs[0]]:.2f} s: "
                           f"{duration:.2f} s < min_track_s {min_track_s:g} s")
            continue
        pos_all = np.arange(pos_obs[0], pos_obs[-1] + 1)
        observed = np.isin(pos_all, pos_obs)
        mask = observed.copy()
        for a, b in zip(pos_obs[:-1], pos_obs[1:]):
            if b - a > 1 and times[b] - times[a] <= bridge_gap_s + 1e-9:
                mask[a - pos_obs[0] + 1:b - pos_obs[0]] = True
        pick = lambda seq: np.stack([seq[i] for i in idx])  # noqa: E731
        scores = _interp(pos_obs, pick(obs.scores), pos_all)
        scores[~mask] = 0.0
        tracks.append(TrackSegment(
            track_id=len(tracks), positions=pos_all,
            boxes=_interp(pos_obs, pick(obs.boxes), pos_all),
            box_scores=np.where(observed, _interp(pos_obs, np.asarray(obs.box_scores)[idx], pos_all), 0.0),
            keypoints=_interp(pos_obs, pick(obs.keypoints), pos_all),
            scores=scores, observed=observed, mask=mask,
            extras={k: _interp(pos_obs, pick(v), pos_all) for k, v in obs.extras.items()}))
    for reason in dropped:
        log.info("dropped track %s", reason)
    return tracks, dropped
