"""Stage-1 speed: frames per second of each stage (decode, detect, track, pose, lift) and end to
end, at real model sizes with random weights (speed does not depend on the weights).

Models: RT-DETR-R50 (transformers' default RTDetrConfig: ResNet-50-vd backbone, 6 decoder
layers, 300 queries, 640x640 input), ViTPose-B (ViT-B/16, 12 layers, 256x192 crops, simple
decoder) and VideoPose3D-243 (TemporalModel(17, 2, 17, [3, 3, 3, 3, 3], channels=1024), flip
augmentation). They are saved to a temporary folder first, so the real loaders run.

Work: clips of mixed length (``--frames`` and half of it) rendered with PyAV at ``--size`` with
``--people`` walking stick figures; the detector is forced to report the figures (its weights are
random), so tracking and pose see realistic box counts.

  .venv/bin/python benchmarks/video_speed.py                      # CPU, short
  .venv/bin/python benchmarks/video_speed.py --device cuda --dtype bf16 --batch-size 64 --frames 512

Figures are noisy on a shared machine; the ``share`` column (each stage's time over the sum) is
what carries over between machines.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def build_models(folder: Path, tiny: bool) -> tuple[str, str, str]:
    import torch
    from transformers import (RTDetrConfig, RTDetrForObjectDetection, RTDetrImageProcessorPil,
                              VitPoseBackboneConfig, VitPoseConfig, VitPoseForPoseEstimation,
                              VitPoseImageProcessorPil)

    from imu2safety.builders.video.lift import TemporalModel
    from videokit import published_layout_checkpoint, tiny_detector, tiny_vitpose

    if tiny:  # smoke-test sizes
        det, pose = tiny_detector(folder / "det"), tiny_vitpose(folder / "pose")
        published_layout_checkpoint(folder / "vp.bin", (3, 3, 3), channels=16)
        return str(det), str(pose), str(folder / "vp.bin")
    torch.manual_seed(0)
    cfg = RTDetrConfig(id2label={0: "person", 1: "bicycle"}, label2id={"person": 0, "bicycle": 1})
    model = RTDetrForObjectDetection(cfg)
    with torch.no_grad():
        for head in model.model.decoder.class_embed:
            head.bias[0] = 6.0
    model.save_pretrained(folder / "det")
    RTDetrImageProcessorPil(size={"height": 640, "width": 640}).save_pretrained(folder / "det")
    backbone = VitPoseBackboneConfig(out_indices=[12], out_features=["stage12"])  # ViT-B/16
    VitPoseForPoseEstimation(VitPoseConfig(backbone_config=backbone, num_labels=17)).save_pretrained(
        folder / "pose")
    VitPoseImageProcessorPil().save_pretrained(folder / "pose")
    vp = TemporalModel(17, 2, 17, [3, 3, 3, 3, 3], channels=1024)
    torch.save({"model_pos": vp.state_dict()}, folder / "vp243.bin")
    return str(folder / "det"), str(folder / "pose"), str(folder / "vp243.bin")


class TruthDetector:
    """Wraps the real detector: runs it (its cost is measured) but reports the rendered boxes."""

    def __init__(self, inner, truth):
        self.inner, self.truth, self.i = inner, truth, 0

    def __call__(self, images):
        from imu2safety.builders.video.detect import Detections

        self.inner(images)
        out = []
        for _ in images:
            b = self.truth[self.i % len(self.truth)]
            out.append(Detections(b, np.full(len(b), 0.9, np.float32)))
            self.i += 1
        return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--frames", type=int, default=12, help="frames of the longer clip")
    ap.add_argument("--size", default="640x360", help="video WxH")
    ap.add_argument("--people", type=int, default=2)
    ap.add_argument("--tiny", action="store_true", help="tiny models (smoke test)")
    args = ap.parse_args(argv)

    import torch

    from imu2safety.builders.video.decode import batched, iter_frames, probe
    from imu2safety.builders.video.detect import RTDetrDetector
    from imu2safety.builders.video.lift import Lifter
    from imu2safety.builders.video.pipeline import Stage1Options, load_models, reconstruct
    from imu2safety.builders.video.pose import VitPoseBackend
    from imu2safety.builders.video.track import PersonTracker
    from videokit import render_video

    w, h = (int(v) for v in args.size.lower().split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="video_speed_"))
    det_dir, pose_dir, lifter_path = build_models(tmp, args.tiny)
    people = [dict(x=w * (0.15 + 0.7 * k / max(1, args.people - 1)) if args.people > 1 else w / 2,
                   vx=(-1) ** k * w / 400, top=h * 0.15, height=h * 0.7 / (1 + 0.2 * k))
              for k in range(args.people)]
    clips = []
    for k, n in enumerate([args.frames, max(2, args.frames // 2)]):
        path = tmp / f"clip{k}.mp4"
        clips.append((path, render_video(path, n=n, fps=30, size=(w, h), people=people)))
    total = sum(len(t) for _, t in clips)
    print(f"device {args.device}, dtype {args.dtype}, batch {args.batch_size}, {len(clips)} clips, "
          f"{total} frames of {w}x{h}, {args.people} people, torch threads "
          f"{torch.get_num_threads()}{', tiny models' if args.tiny else ''}")

    opts = Stage1Options(detector=det_dir, pose_model=pose_dir, lifter_checkpoint=lifter_path,
                         device=args.device, dtype=args.dtype, batch_size=args.batch_size,
                         min_track_s=0.0, min_keypoint_score=0.0)  # random weights: low scores
    t0 = time.perf_counter()
    detector = RTDetrDetector(det_dir, device=args.device, dtype=args.dtype,
                              batch_size=args.batch_size)
    pose = VitPoseBackend(pose_dir, device=args.device, dtype=args.dtype,
                          batch_size=4 * args.batch_size)
    lifter = Lifter.from_checkpoint(lifter_path, device=args.device)
    print(f"load models: {time.perf_counter() - t0:.1f} s")

    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    times = dict(decode=0.0, detect=0.0, track=0.0, pose=0.0, lift=0.0)
    detector([np.zeros((h, w, 3), np.uint8)])  # warm-up
    pose([np.zeros((h, w, 3), np.uint8)], [np.array([[0, 0, 50, 100]], np.float32)])
    for path, truth in clips:
        info = probe(path)
        t = time.perf_counter()
        frames = list(iter_frames(path, info=info))
        times["decode"] += time.perf_counter() - t
        tracker = PersonTracker(fps=info.fps)
        kps = {}
        for batch in batched(iter(frames), args.batch_size):
            images = [f.image for f in batch]
            t = time.perf_counter()
            detector(images)
            sync()
            times["detect"] += time.perf_counter() - t
            t = time.perf_counter()
            tracked = []
            for f in batch:
                from imu2safety.builders.video.detect import Detections
                b = truth[f.index]
                tracked.append(tracker.update(Detections(b, np.full(len(b), 0.9, np.float32)),
                                              f.time_s))
            times["track"] += time.perf_counter() - t
            t = time.perf_counter()
            res = pose(images, [bx for _, bx, _ in tracked])
            sync()
            times["pose"] += time.perf_counter() - t
            for (ids, _, _), r in zip(tracked, res):
                for i, tid in enumerate(ids):
                    kps.setdefault(int(tid), []).append((r.keypoints[i], r.scores[i]))
        t = time.perf_counter()
        for seq in kps.values():
            lifter(np.stack([k for k, _ in seq]), np.stack([s for _, s in seq]), w, h)
        sync()
        times["lift"] += time.perf_counter() - t

    # baseline in the same process: the transformers processors' CPU preprocessing
    frames = [f.image for f in iter_frames(clips[0][0])]
    boxes = [clips[0][1][k] for k in range(len(frames))]
    base_det = RTDetrDetector(det_dir, device=args.device, dtype=args.dtype,
                              batch_size=args.batch_size, device_resize=False)
    base_pose = VitPoseBackend(pose_dir, device=args.device, dtype=args.dtype,
                               batch_size=4 * args.batch_size, device_crops=False)
    ratios = {}
    for name, fast, slow, call in [
            ("detect", detector, base_det, lambda m: m(frames)),
            ("pose", pose, base_pose, lambda m: m(frames, boxes))]:
        t = time.perf_counter()
        call(slow)
        sync()
        t_slow = time.perf_counter() - t
        t = time.perf_counter()
        call(fast)
        sync()
        ratios[name] = t_slow / (time.perf_counter() - t)

    models = load_models(opts)
    e2e_frames = 0
    t = time.perf_counter()
    for path, truth in clips:
        models.detector = TruthDetector(detector, truth)
        rec = reconstruct(path, opts, models=models)
        e2e_frames += len(truth)
    sync()
    e2e = time.perf_counter() - t
    stage_sum = sum(times.values())
    print(f"{'stage':<8} {'frames/s':>10} {'share':>7}")
    for name, sec in times.items():
        print(f"{name:<8} {total / sec:>10.3g} {sec / stage_sum:>7.1%}")
    print(f"{'sum':<8} {total / stage_sum:>10.3g}")
    for name, r in ratios.items():
        print(f"{name}: on-device preprocessing {r:.2f}x the speed of the transformers "
              f"processor's (same process, {len(frames)} frames)")
    print(f"{'e2e':<8} {e2e_frames / e2e:>10.3g}   (reconstruct(), {len(rec.tracks)} tracks in the "
          f"last clip; ratio e2e / sum of stages {stage_sum / e2e * e2e_frames / total:.2f})")
    results = {name: total / sec for name, sec in times.items()}
    results.update(e2e=e2e_frames / e2e, frames=total, tracks_last_clip=len(rec.tracks),
                   **{f"{k}_preprocess_speedup": v for k, v in ratios.items()})
    return results


if __name__ == "__main__":
    main()
