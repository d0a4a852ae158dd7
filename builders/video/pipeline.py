"""Stage 1: a video (or a folder of numbered frames) -> the tracked 3D motion of every person.

decode (PyAV) -> person detection (RT-DETR, or OpenCV HOG) -> ByteTrack -> 2D pose (ViTPose or
BlazePose) per tracked box -> split / bridge / mask -> 3D lifting (VideoPose3D) -> root trajectory
by perspective -> camera to world (z up) -> ``simulator.motion.Motion`` per person track.

Decoding, detection, tracking and 2D pose run in one streaming pass over batches of
``batch_size`` frames (memory stays bounded: only boxes and keypoints are kept). Results are cached
per (video bytes, window, options) when ``cache_dir`` is given (``cache.py``).

Without ``lifter_checkpoint`` the 3D comes from BlazePose's metric world landmarks when the
``blazepose`` backend ran (``blazepose.world_lift``), else from the documented fallback
``lift.planar_lift`` (every joint at the root's depth: the drop and the image-plane motion
survive, motion toward the camera does not); ``Reconstruction.camera["lift"]`` names the path and a
note says when the fallback was used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...simulator.joints import H36M_17
from .blazepose import HAND_JOINTS
from ...simulator.motion import Motion
from . import cache as stage1_cache
from .decode import VideoError, VideoInfo, batched, digest, iter_frames, probe
from .detect import DEFAULT_DETECTOR, Detections
from .pose import DEFAULT_POSE_MODEL
from .track import Observations, PersonTracker, TrackSegment, assemble_tracks
from .world import (DEFAULT_HFOV_DEG, camera_to_world, floor_height, focal_from_fov,
                    root_translation, to_world, up_from_body, up_from_pitch_roll)

log = logging.getLogger(__name__)

__all__ = ["Stage1Options", "PersonTrack", "Reconstruction", "VideoError", "NoPersonError",
           "Stage1Models", "load_models", "reconstruct", "lift_keypoints"]

PREVIEW_MAX_SIDE = 960
#: A track needs this many confident keypoints (of 17) per frame on average, else it is dropped.
MIN_POSE_KEYPOINTS = 5.0


class NoPersonError(VideoError):
    """The video (window) holds no person track of at least ``min_track_s``."""


@dataclass(frozen=True)
class Stage1Options:
    """Every choice of Stage 1 (``to_dict`` for provenance and cache keys).

    pose_backend: "vitpose" (transformers ViTPose on tracked boxes) | "blazepose" (MediaPipe).
    detector: RT-DETR COCO model (Hub id or folder), "hog" (OpenCV's people detector) or
        "mediapipe" (MediaPipe's own detector, one person per frame); the last two are offline.
    pose_model: ViTPose model (Hub id or folder); unused by blazepose.
    lifter_checkpoint: VideoPose3D ``.bin`` (``model_pos`` weights); None = BlazePose world
        landmarks (blazepose backend) or ``lift.planar_lift`` (module docstring).
    lifter_input: "coco17" (the in-the-wild detectron_coco checkpoint) | "h36m17" (CPN/H3.6M ones).
    device: torch device; dtype: "fp32" | "bf16" | "fp16" for the detector and pose models.
    batch_size: frames per detection batch (and crops per pose batch = 4 x batch_size).
    min_track_s: tracks shorter than this (seconds) are dropped.
    frames_fps: frame rate of a frame-folder input (required there; ignored for video files).
    detection_threshold: minimum person score of a detection.
    bridge_gap_s / max_gap_s: tracking gaps up to bridge_gap_s are interpolated (mask True), up
        to max_gap_s interpolated but masked (mask False), longer ones split the track.
    min_keypoint_score: keypoints below it are interpolated before lifting.
    flip_augment: VideoPose3D test-time flip augmentation.
    focal_px: camera focal length, pixels; None = from ``hfov_deg``.
    hfov_deg: horizontal field of view used when focal_px is None (default 65 degrees).
    camera_pitch_deg / camera_roll_deg: camera tilt (pitch > 0 = looking down); None = estimated
        from the upright body.
    """

    pose_backend: str = "vitpose"
    detector: str = DEFAULT_DETECTOR
    pose_model: str = DEFAULT_POSE_MODEL
    lifter_checkpoint: str | None = None
    lifter_input: str = "coco17"
    device: str = "cpu"
    dtype: str = "fp32"
    batch_size: int = 8
    min_track_s: float = 1.0
    frames_fps: float | None = None
    detection_threshold: float = 0.5
    bridge_gap_s: float = 0.25
    max_gap_s: float = 1.0
    min_keypoint_score: float = 0.3
    flip_augment: bool = True
    focal_px: float | None = None
    hfov_deg: float = DEFAULT_HFOV_DEG
    camera_pitch_deg: float | None = None
    camera_roll_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.pose_backend not in ("vitpose", "blazepose"):
            raise ValueError(f"pose_backend must be 'vitpose' or 'blazepose', got {self.pose_backend!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.min_track_s < 0:
            raise ValueError(f"min_track_s must be >= 0, got {self.min_track_s}")
        if not 0 <= self.bridge_gap_s <= self.max_gap_s:
            raise ValueError(f"need 0 <= bridge_gap_s <= max_gap_s, got {self.bridge_gap_s}, "
                             f"{self.max_gap_s}")
        if self.frames_fps is not None and not self.frames_fps > 0:
            raise ValueError(f"frames_fps must be positive, got {self.frames_fps}")
        if self.focal_px is not None and not self.focal_px > 0:
            raise ValueError(f"focal_px must be positive, got {self.focal_px}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def cache_dict(self) -> dict:
        """Options that change results (batch size does not), plus the lifter file's digest."""
        d = self.to_dict()
        d.pop("batch_size")
        if self.lifter_checkpoint:
            d["lifter_sha256"] = digest(self.lifter_checkpoint)
        return d


@dataclass
class PersonTrack:
    """One person over consecutive frames.

    motion: Motion, H36M-17 joints (+ ``blazepose.HAND_JOINTS`` when BlazePose ran), metres,
        world frame z up, timestamps s (container times).
    frame_indices (T,) int frame numbers in the video; boxes (T, 4) x1 y1 x2 y2 pixels;
    keypoints_2d (T, 17, 2) COCO-17 pixels; scores (T, 17); mask (T,) bool False where a longer
    gap was masked. extras: backend-specific (T, ...) arrays (BlazePose: ``landmarks_33``
    (T, 33, 3) x, y pixels + visibility, ``world_landmarks_33`` (T, 33, 3) metres).
    """

    track_id: int
    motion: Motion
    frame_indices: np.ndarray
    boxes: np.ndarray
    keypoints_2d: np.ndarray
    scores: np.ndarray
    mask: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Reconstruction:
    """All person tracks of one video (window). ``camera``: focal_px, camera_to_world (3x3 list),
    camera_height_m, up_source. ``notes``: dropped tracks and fallbacks, one line each."""

    video: str
    fps: float
    width: int
    height: int
    start_s: float
    end_s: float
    tracks: list[PersonTrack]
    camera: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)
    preview_image: np.ndarray | None = None
    preview_frame_index: int = -1


@dataclass
class Stage1Models:
    """Models loaded once and reused across videos (``load_models``)."""

    options: Stage1Options
    detector: object | None = None
    pose: object | None = None
    lifter: object | None = None


def load_models(options: Stage1Options, *, need_2d: bool = True) -> Stage1Models:
    """Load the detector, pose backend (when ``need_2d``) and lifter named by ``options``."""
    models = Stage1Models(options)
    if need_2d:
        if options.detector == "hog":
            from .detect import HogDetector

            models.detector = HogDetector()
        elif options.detector == "mediapipe":
            from .blazepose import MediaPipeDetector

            models.detector = MediaPipeDetector()
        else:
            from .detect import RTDetrDetector

            models.detector = RTDetrDetector(options.detector, device=options.device,
                                             dtype=options.dtype,
                                             threshold=options.detection_threshold,
                                             batch_size=options.batch_size)
        from .pose import make_backend

        models.pose = make_backend(options.pose_backend, model=options.pose_model,
                                   device=options.device, dtype=options.dtype,
                                   batch_size=4 * options.batch_size)
    if options.lifter_checkpoint:
        from .lift import Lifter

        models.lifter = Lifter.from_checkpoint(options.lifter_checkpoint,
                                               input_layout=options.lifter_input,
                                               flip=options.flip_augment,
                                               min_score=options.min_keypoint_score,
                                               device=options.device)
    return models


# ---------------------------------------------------------------- 2D pass


@dataclass
class _Pass2D:
    info: VideoInfo
    indices: np.ndarray
    times: np.ndarray
    observations: dict[int, Observations]
    preview_image: np.ndarray | None
    preview_index: int
    detections: int


def _small(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    s = PREVIEW_MAX_SIDE / max(h, w)
    if s >= 1:
        return image.copy()
    import cv2

    return cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def _run_2d(video: Path, options: Stage1Options, models: Stage1Models, info: VideoInfo,
            start_s, end_s) -> _Pass2D:
    from tqdm.auto import tqdm

    tracker = PersonTracker(fps=info.fps, max_gap_s=options.max_gap_s,
                            activation_threshold=options.detection_threshold)
    observations: dict[int, Observations] = {}
    indices, times = [], []
    preview, preview_index, best, n_det = None, -1, -1, 0
    frames = iter_frames(video, start_s=start_s, end_s=end_s, frames_fps=options.frames_fps,
                         info=info)
    with tqdm(desc=f"stage 1 {video.name}", unit="frame", leave=False) as bar:
        for batch in batched(frames, options.batch_size):
            images = [f.image for f in batch]
            dets: list[Detections] = models.detector(images)
            tracked = []
            for f, det in zip(batch, dets):
                n_det += len(det.scores)
                tracked.append(tracker.update(det, f.time_s))
            poses = models.pose(images, [boxes for _, boxes, _ in tracked])
            for f, (ids, boxes, box_scores), pose in zip(batch, tracked, poses):
                position = len(indices)
                indices.append(f.index)
                times.append(f.time_s)
                for k, tid in enumerate(ids):
                    extras = {name: arr[k] for name, arr in pose.extras.items()}
                    observations.setdefault(int(tid), Observations()).add(
                        position, boxes[k], box_scores[k], pose.keypoints[k], pose.scores[k], extras)
                if len(ids) > best:
                    best, preview, preview_index = len(ids), _small(f.image), f.index
            bar.update(len(batch))
    return _Pass2D(info, np.asarray(indices, int), np.asarray(times, float), observations,
                   preview, preview_index, n_det)


# ---------------------------------------------------------------- 3D


def _lift(seg: TrackSegment, width: int, height: int, options: Stage1Options,
          models: Stage1Models) -> tuple[np.ndarray, str]:
    """(T, 17, 3) H36M root-relative camera-frame skeleton and the path that made it."""
    if models.lifter is not None:
        return models.lifter(seg.keypoints, seg.scores, width, height), "videopose3d"
    if "world_landmarks_33" in seg.extras and "landmarks_33" in seg.extras:
        from .blazepose import world_lift

        return world_lift(seg.extras["landmarks_33"], seg.extras["world_landmarks_33"],
                          options.min_keypoint_score), "blazepose world landmarks"
    from .lift import planar_lift

    return planar_lift(seg.keypoints, seg.scores, options.min_keypoint_score), "planar fallback"


def _hands(seg: TrackSegment, rel: np.ndarray, options: Stage1Options):
    """BlazePose hand joints (``HAND_JOINTS``) hung on the lifted wrists: ((T, 6, 3) camera
    frame, (T, 6) valid where BlazePose saw the wrist and the hand point), or None."""
    if "world_landmarks_33" not in seg.extras or "landmarks_33" not in seg.extras:
        return None
    from .blazepose import BLAZEPOSE_33, hand_offsets

    lm = seg.extras["landmarks_33"]
    off = hand_offsets(lm, seg.extras["world_landmarks_33"], options.min_keypoint_score)
    wrists = rel[:, [H36M_17.index("left_wrist")] * 3 + [H36M_17.index("right_wrist")] * 3]
    seen = lm[..., 2] >= options.min_keypoint_score
    valid = []
    for side in ("left", "right"):
        w = seen[:, BLAZEPOSE_33.index(f"{side}_wrist")]
        idx, pinky, thumb = (seen[:, BLAZEPOSE_33.index(f"{side}_{p}")]
                             for p in ("index", "pinky", "thumb"))
        valid += [w & idx & pinky, w & idx, w & thumb]
    return wrists + off, np.stack(valid, axis=1)


def _to_world(segments: list[TrackSegment], times: np.ndarray, indices: np.ndarray,
              width: int, height: int, options: Stage1Options, models: Stage1Models,
              notes: list[str]) -> tuple[list[PersonTrack], dict]:
    """Lift every segment, put its root back by perspective and rotate camera -> world."""
    from .lift import coco_to_h36m

    focal = options.focal_px or focal_from_fov(width, options.hfov_deg)
    center = (width / 2.0, height / 2.0)
    rels, roots, hands, paths = [], [], [], set()
    for seg in segments:
        rel, path = _lift(seg, width, height, options, models)
        paths.add(path)
        kp_h = coco_to_h36m(seg.keypoints)
        sc_h = coco_to_h36m(seg.scores[..., None])[..., 0]
        # H36M's neck/head points are not the nose/eyes: leave them out of the fit.
        sc_h[:, [H36M_17.index("neck"), H36M_17.index("head")]] = 0.0
        sc_h = np.where(seg.mask[:, None], sc_h, 0.0)
        roots.append(root_translation(rel, kp_h, sc_h, focal, center))
        rels.append(rel)
        hands.append(_hands(seg, rel, options))
    if options.camera_pitch_deg is not None:
        up, source = up_from_pitch_roll(options.camera_pitch_deg, options.camera_roll_deg), "given"
    else:
        up = up_from_body(rels, [s.boxes for s in segments], [s.mask for s in segments])
        source = "body"
        if up is None:
            up, source = up_from_pitch_roll(0.0), "level camera (no upright frame)"
            notes.append("camera up: no upright person frame; assumed a level camera")
    rot = camera_to_world(up)
    worlds = [to_world(rel if hand is None else np.concatenate([rel, hand[0]], axis=1), root, rot)
              for rel, root, hand in zip(rels, roots, hands)]
    if worlds:
        lows = np.concatenate([np.min(w[..., 2], axis=1)[s.mask] for w, s in zip(worlds, segments)
                               if s.mask.any()] or [np.zeros(1)])
        floor = float(np.percentile(lows, 5.0))
    else:
        floor = 0.0
    tracks = []
    for seg, world, hand in zip(segments, worlds, hands):
        world = world - np.array([0.0, 0.0, floor])
        if not np.isfinite(world).all():  # never hand NaN on: invalidate instead
            bad = ~np.isfinite(world).all(-1)
            world = np.nan_to_num(world)
        else:
            bad = np.zeros(world.shape[:2], bool)
        valid = seg.mask[:, None] & ~bad
        if hand is not None:
            valid[:, len(H36M_17):] &= hand[1]
        names = H36M_17 if world.shape[1] == len(H36M_17) else H36M_17 + HAND_JOINTS
        motion = Motion(world, names, times[seg.positions], valid)
        tracks.append(PersonTrack(seg.track_id, motion, indices[seg.positions], seg.boxes,
                                  seg.keypoints, seg.scores, seg.mask, seg.extras))
    if "planar fallback" in paths:
        notes.append("no lifter checkpoint: planar fallback (joints at the root's depth)")
    camera = {"lift": sorted(paths), "focal_px": float(focal), "camera_to_world": rot.tolist(),
              "camera_height_m": float(-floor), "up_source": source,
              "focal_source": "given" if options.focal_px else f"hfov {options.hfov_deg:g} deg"}
    return tracks, camera


# ---------------------------------------------------------------- cache <-> Reconstruction


def _to_cache(rec: Reconstruction) -> tuple[dict, dict[str, np.ndarray]]:
    meta = {k: getattr(rec, k) for k in ("video", "fps", "width", "height", "start_s", "end_s",
                                         "camera", "notes", "options", "preview_frame_index")}
    meta.update(cache_version=stage1_cache.CACHE_VERSION, num_tracks=len(rec.tracks),
                track_ids=[t.track_id for t in rec.tracks],
                extras=[sorted(t.extras) for t in rec.tracks],
                joint_names=[list(t.motion.joint_names) for t in rec.tracks])
    arrays = {}
    if rec.preview_image is not None:
        arrays["preview_image"] = rec.preview_image
    for i, t in enumerate(rec.tracks):
        arrays.update({
            f"t{i}_frame_indices": t.frame_indices, f"t{i}_timestamps": t.motion.timestamps,
            f"t{i}_boxes": t.boxes, f"t{i}_keypoints_2d": t.keypoints_2d, f"t{i}_scores": t.scores,
            f"t{i}_mask": t.mask, f"t{i}_positions": t.motion.positions,
            f"t{i}_valid": t.motion.valid,
        })
        arrays.update({f"t{i}_x_{k}": v for k, v in t.extras.items()})
    return meta, arrays


def _from_cache(meta: dict, arrays: dict[str, np.ndarray]) -> Reconstruction:
    tracks = []
    for i, tid in enumerate(meta["track_ids"]):
        a = lambda k: arrays[f"t{i}_{k}"]  # noqa: E731
        motion = Motion(a("positions"), meta["joint_names"][i], a("timestamps"), a("valid"))
        tracks.append(PersonTrack(int(tid), motion, a("frame_indices"), a("boxes"),
                                  a("keypoints_2d"), a("scores"), a("mask").astype(bool),
                                  {k: arrays[f"t{i}_x_{k}"] for k in meta["extras"][i]}))
    return Reconstruction(meta["video"], meta["fps"], meta["width"], meta["height"],
                          meta["start_s"], meta["end_s"], tracks, meta["camera"], meta["notes"],
                          meta["options"], arrays.get("preview_image"), meta["preview_frame_index"])


# ---------------------------------------------------------------- entry points


def reconstruct(video: Path, options: Stage1Options, *, start_s: float | None = None,
                end_s: float | None = None, cache_dir: Path | None = None,
                models: Stage1Models | None = None) -> Reconstruction:
    """Tracked 3D motion of every person in ``video`` (a file, or a folder of numbered frames
    with ``options.frames_fps``) between ``start_s`` and ``end_s`` seconds.

    Raises VideoError (unreadable / zero-length video, a window past the end) and its subclass
    NoPersonError (no track of at least ``min_track_s``; the message gives the counts). With
    ``cache_dir``, a result computed before for the same bytes, window and options is read back.
    """
    video = Path(video)
    info = probe(video, options.frames_fps)
    path = None
    if cache_dir is not None:
        key = stage1_cache.cache_key(digest(video), options.cache_dict(), start_s, end_s)
        path = stage1_cache.cache_path(cache_dir, video, key)
        hit = stage1_cache.load(path)
        if hit is not None:
            log.info("stage 1 cache hit %s", path)
            return _check_people(_from_cache(*hit))
    models = models or load_models(options)
    p2d = _run_2d(video, options, models, info, start_s, end_s)
    segments, dropped = assemble_tracks(p2d.observations, p2d.times,
                                        bridge_gap_s=options.bridge_gap_s,
                                        max_gap_s=options.max_gap_s,
                                        min_track_s=options.min_track_s)
    segments, no_pose = _drop_poseless(segments, p2d.times, options.min_keypoint_score)
    notes = [f"dropped {d}" for d in dropped + no_pose]
    notes.append(f"{len(p2d.times)} frames, {p2d.detections} person detections, "
                 f"{len(p2d.observations)} tracker ids, {len(segments)} tracks kept")
    world_options = options
    if options.focal_px is None and info.focal_35mm:
        # 35 mm film is 36 mm wide: f_px = f_35mm / 36 * width (landscape) or height (portrait)
        focal = info.focal_35mm / 36.0 * max(info.width, info.height)
        world_options = dataclasses.replace(options, focal_px=focal)
        notes.append(f"focal length {focal:.0f} px from EXIF ({info.focal_35mm:g} mm equivalent)")
    tracks, camera = _to_world(segments, p2d.times, p2d.indices, info.width, info.height,
                               world_options, models, notes)
    rec = Reconstruction(str(video), info.fps, info.width, info.height, float(p2d.times[0]),
                         float(p2d.times[-1]), tracks, camera, notes, options.to_dict(),
                         p2d.preview_image, p2d.preview_index)
    if path is not None:
        stage1_cache.save(path, *_to_cache(rec))
    return _check_people(rec)


def _drop_poseless(segments: list[TrackSegment], times: np.ndarray, min_score: float,
                   min_keypoints: float = MIN_POSE_KEYPOINTS) -> tuple[list[TrackSegment], list[str]]:
    """Drop tracks whose unmasked frames hold on average fewer than ``min_keypoints`` keypoints
    scored >= ``min_score`` (a detector's false positive: no body found in the box); ids are
    renumbered so they stay 0, 1, ..."""
    kept, reasons = [], []
    for seg in segments:
        good = (seg.scores[seg.mask] >= min_score).sum(1)
        mean = float(good.mean()) if good.size else 0.0
        if mean < min_keypoints:
            reasons.append(f"track from {times[seg.positions[0]]:.2f} s: {mean:.1f} keypoints "
                           f"of 17 scored >= {min_score:g} on average (no body found)")
            continue
        seg.track_id = len(kept)
        kept.append(seg)
    return kept, reasons


def _check_people(rec: Reconstruction) -> Reconstruction:
    if not rec.tracks:
        raise NoPersonError(f"{rec.video}: no person tracked for at least "
                            f"{rec.options.get('min_track_s')} s ({'; '.join(rec.notes)})")
    return rec


def lift_keypoints(keypoints: np.ndarray, scores: np.ndarray, *, width: int, height: int,
                   fps: float | None = None, timestamps: np.ndarray | None = None,
                   options: Stage1Options | None = None, models: Stage1Models | None = None,
                   source: str = "keypoints") -> Reconstruction:
    """Lift given COCO-17 2D keypoints of one person (T, 17, 2) pixels with scores (T, 17) to a
    one-track Reconstruction (for OpenPose / Detectron / ViTPose outputs users bring)."""
    options = options or Stage1Options()
    kp = np.asarray(keypoints, np.float64)
    sc = np.asarray(scores, np.float64)
    if kp.ndim != 3 or kp.shape[1:] != (17, 2):
        raise ValueError(f"keypoints must be (T, 17, 2) COCO-17 pixels, got {kp.shape}")
    if sc.shape != kp.shape[:2]:
        raise ValueError(f"scores must be {kp.shape[:2]}, got {sc.shape}")
    if len(kp) == 0:
        raise ValueError("no keypoint frames")
    if timestamps is None:
        if fps is None or not fps > 0:
            raise ValueError(f"give fps (positive) or timestamps, got fps={fps}")
        timestamps = np.arange(len(kp)) / float(fps)
    times = np.asarray(timestamps, np.float64)
    sc = np.where(np.isfinite(kp).all(-1), np.nan_to_num(sc), 0.0)
    models = models or load_models(options, need_2d=False)
    lo, hi = np.nanmin(kp, axis=1), np.nanmax(kp, axis=1)
    boxes = np.concatenate([lo, hi], axis=1)
    seg = TrackSegment(0, np.arange(len(kp)), np.nan_to_num(boxes), np.ones(len(kp)),
                       np.nan_to_num(kp), sc, np.ones(len(kp), bool), sc.max(1) > 0)
    notes: list[str] = []
    tracks, camera = _to_world([seg], times, np.arange(len(kp)), width, height, options, models,
                               notes)
    fps_out = float(fps) if fps else float(1.0 / np.median(np.diff(times))) if len(times) > 1 else 0.0
    return Reconstruction(source, fps_out, int(width), int(height), float(times[0]),
                          float(times[-1]), tracks, camera, notes, options.to_dict())


def options_digest(options: Stage1Options) -> str:
    """Short hash of the options (provenance column)."""
    import json

    return hashlib.sha256(json.dumps(options.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
