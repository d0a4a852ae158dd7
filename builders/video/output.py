"""What ``imu2safety reconstruct`` writes: one motion ``.npz`` per person track (the simulator's
input format, read by ``simulator.readers.read_motion``), ``tracks.json`` and a preview image with
the 2D skeletons drawn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...simulator.joints import COCO_17
from ...simulator.readers import write_motion_npz

#: COCO-17 limbs drawn in the preview.
COCO_EDGES = [(COCO_17.index(a), COCO_17.index(b)) for a, b in [
    ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
    ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"),
]]


def _colour(track_id: int) -> tuple[int, int, int]:
    import colorsys

    r, g, b = colorsys.hsv_to_rgb((track_id * 0.61803) % 1.0, 0.9, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_skeletons(image: np.ndarray, people: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]],
                   min_score: float = 0.3) -> np.ndarray:
    """Copy of ``image`` (H, W, 3) RGB with each (track id, box (4,), keypoints (17, 2),
    scores (17,)) drawn: box, id, limbs whose two ends score >= ``min_score``."""
    import cv2

    out = np.ascontiguousarray(image.copy())
    thick = max(1, round(max(out.shape[:2]) / 400))
    for tid, box, kp, sc in people:
        c = _colour(tid)
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), c, thick)
        cv2.putText(out, f"#{tid}", (x1, max(10, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * thick + 0.2, c, thick)
        for a, b in COCO_EDGES:
            if sc[a] >= min_score and sc[b] >= min_score:
                cv2.line(out, tuple(int(v) for v in kp[a]), tuple(int(v) for v in kp[b]), c, thick)
        for j in range(len(kp)):
            if sc[j] >= min_score:
                cv2.circle(out, tuple(int(v) for v in kp[j]), thick + 1, c, -1)
    return out


def preview_image(rec) -> np.ndarray | None:
    """The reconstruction's preview frame with the tracks present in it drawn, or None."""
    if rec.preview_image is None:
        return None
    img = rec.preview_image
    sx = img.shape[1] / rec.width
    sy = img.shape[0] / rec.height
    scale = np.array([sx, sy])
    people = []
    for tr in rec.tracks:
        hit = np.flatnonzero(tr.frame_indices == rec.preview_frame_index)
        if hit.size and tr.mask[hit[0]]:
            i = hit[0]
            people.append((tr.track_id, tr.boxes[i] * np.tile(scale, 2), tr.keypoints_2d[i] * scale,
                           tr.scores[i]))
    return draw_skeletons(img, people)


def track_summary(track) -> dict:
    """tracks.json entry of one PersonTrack."""
    b = track.boxes
    h = b[:, 3] - b[:, 1]
    w = b[:, 2] - b[:, 0]
    t = track.motion.timestamps
    return {
        "track_id": int(track.track_id),
        "file": f"person_{track.track_id:03d}.npz",
        "first_frame": int(track.frame_indices[0]), "last_frame": int(track.frame_indices[-1]),
        "num_frames": int(len(track.frame_indices)), "start_s": float(t[0]), "end_s": float(t[-1]),
        "masked_frames": int((~track.mask).sum()),
        "mean_score": float(track.scores[track.mask].mean()) if track.mask.any() else 0.0,
        "box_height_px": {"mean": float(h.mean()), "min": float(h.min()), "max": float(h.max())},
        "box_width_px": {"mean": float(w.mean()), "min": float(w.min()), "max": float(w.max())},
        "box_center_px_mean": [float(((b[:, 0] + b[:, 2]) / 2).mean()),
                               float(((b[:, 1] + b[:, 3]) / 2).mean())],
    }


def write_outputs(rec, out_dir: str | Path) -> list[Path]:
    """Write ``person_NNN.npz`` per track, ``tracks.json`` and ``preview.png``; returns the paths."""
    from PIL import Image

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for tr in rec.tracks:
        written.append(write_motion_npz(out_dir / f"person_{tr.track_id:03d}.npz", tr.motion))
    summary = {
        "video": rec.video, "fps": rec.fps, "width": rec.width, "height": rec.height,
        "start_s": rec.start_s, "end_s": rec.end_s, "camera": rec.camera, "notes": rec.notes,
        "options": rec.options, "tracks": [track_summary(t) for t in rec.tracks],
    }
    path = out_dir / "tracks.json"
    path.write_text(json.dumps(summary, indent=2, default=float))
    written.append(path)
    img = preview_image(rec)
    if img is not None:
        path = out_dir / "preview.png"
        Image.fromarray(img).save(path)
        written.append(path)
    return written
