"""``imu2safety reconstruct``: the command-line face of Stage 1 (parser + runner)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .detect import DEFAULT_DETECTOR
from .pose import DEFAULT_POSE_MODEL


def add_reconstruct_parser(sub, func) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "reconstruct",
        help="video (or frame folder) -> one 3D motion .npz per person track (Stage 1)",
        description="Detect, track, estimate 2D pose and lift to 3D every person of a video; "
                    "writes person_NNN.npz (simulator input: positions (T, J, 3) m, world frame z "
                    "up, joint_names, timestamps), tracks.json and preview.png.")
    p.add_argument("input", nargs="?", type=Path, help="video file or folder of numbered frames")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument("--keypoints-2d", type=Path, metavar="FILE.npz",
                   help="lift given COCO-17 keypoints instead (keys keypoints (T, 17, 2) px, "
                        "scores (T, 17), width, height, fps)")
    p.add_argument("--pose-backend", default="vitpose", choices=["vitpose", "blazepose"])
    p.add_argument("--detector", default=None,
                   help=f"RT-DETR model id or folder, 'hog' (OpenCV, several people) or 'mediapipe' "
                        f"(one person per frame) (default {DEFAULT_DETECTOR}; 'hog' with "
                        "--pose-backend blazepose: fully offline)")
    p.add_argument("--pose-model", default=DEFAULT_POSE_MODEL, help="ViTPose model id or folder")
    p.add_argument("--lifter-checkpoint", type=Path,
                   help="VideoPose3D .bin (default: planar fallback, see the docs)")
    p.add_argument("--lifter-input", default="coco17", choices=["coco17", "h36m17"],
                   help="2D layout the checkpoint expects (coco17: pretrained_h36m_detectron_coco)")
    p.add_argument("--start", type=float, help="window start, s")
    p.add_argument("--end", type=float, help="window end, s")
    p.add_argument("--fps", type=float, help="frame rate of a frame folder")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1)")
    p.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--batch-size", type=int, default=8, help="frames per detection batch")
    p.add_argument("--min-track-s", type=float, default=1.0, help="shortest track kept, s")
    p.add_argument("--focal-px", type=float, help="camera focal length, pixels")
    p.add_argument("--hfov", type=float, default=65.0,
                   help="horizontal field of view, degrees, when --focal-px is not given")
    p.add_argument("--camera-pitch", type=float, help="camera pitch, degrees down "
                   "(default: estimated from upright people)")
    p.add_argument("--camera-roll", type=float, default=0.0, help="camera roll, degrees")
    p.add_argument("--cache-dir", type=Path, help="Stage-1 cache folder (re-runs skip the models)")
    p.set_defaults(func=func)
    return p


def run_reconstruct(args, fail) -> int:
    import numpy as np

    from .decode import VideoError
    from .output import write_outputs
    from .pipeline import Stage1Options, lift_keypoints, reconstruct

    if (args.input is None) == (args.keypoints_2d is None):
        return fail("give a video / frame folder, or --keypoints-2d FILE.npz (one of them)")
    detector = args.detector or ("hog" if args.pose_backend == "blazepose" else DEFAULT_DETECTOR)
    try:
        options = Stage1Options(
            pose_backend=args.pose_backend, detector=detector, pose_model=args.pose_model,
            lifter_checkpoint=str(args.lifter_checkpoint) if args.lifter_checkpoint else None,
            lifter_input=args.lifter_input, device=args.device, dtype=args.dtype,
            batch_size=args.batch_size, min_track_s=args.min_track_s, frames_fps=args.fps,
            focal_px=args.focal_px, hfov_deg=args.hfov, camera_pitch_deg=args.camera_pitch,
            camera_roll_deg=args.camera_roll)
        if args.keypoints_2d is not None:
            try:
                with np.load(args.keypoints_2d, allow_pickle=False) as z:
                    data = {k: z[k] for k in z.files}
            except (OSError, ValueError) as err:
                return fail(f"{args.keypoints_2d}: not a readable .npz ({err})")
            missing = [k for k in ("keypoints", "scores", "width", "height", "fps") if k not in data]
            if missing:
                return fail(f"{args.keypoints_2d}: lacks key(s) {missing} (need keypoints (T, 17, 2) "
                            "px, scores (T, 17), width, height, fps)")
            rec = lift_keypoints(data["keypoints"], data["scores"], width=int(data["width"]),
                                 height=int(data["height"]), fps=float(data["fps"]),
                                 options=options, source=str(args.keypoints_2d))
        else:
            rec = reconstruct(args.input, options, start_s=args.start, end_s=args.end,
                              cache_dir=args.cache_dir)
    except (VideoError, ValueError, FileNotFoundError, OSError) as err:
        return fail(str(err))
    written = write_outputs(rec, args.output)
    for note in rec.notes:
        print(f"note: {note}")
    print(f"{len(rec.tracks)} person track(s) from {rec.video} ({rec.fps:g} fps, "
          f"{rec.start_s:.2f}-{rec.end_s:.2f} s); wrote {len(written)} files to {args.output}")
    return 0
