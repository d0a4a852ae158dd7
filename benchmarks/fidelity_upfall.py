"""Video-to-IMU fidelity on UP-Fall: synthetic wrist IMU from the camera vs the real wrist IMU.

No UP-Fall data ships with imu2safety (its terms allow research use after registration at
https://sites.google.com/up.edu.mx/har-up/). Give the folder of the trials you downloaded: the
unzipped camera frame folders ``Subject<S>Activity<A>Trial<T>Camera<C>/`` and
``CompleteDataSet.csv`` (or the per-trial CSVs), at any depth.

For every trial found in both: Stage 1 turns the camera frames into the subject's 3D motion
(``up-fall-video`` reader), Stage 2 simulates the left-wrist IMU (ideal device) at the rate of
the real table (18 Hz), and the real wrist IMU of the same trial is read by the ``up-fall`` reader
(same clip id). Printed per trial and summarised over falls (activities 1-5) and daily activities
(6-11): the correlation of |accel| and of |gyro| after each one's best lag (within --max-lag-s),
and the lag. Magnitudes do not depend on how the sensor sat on the wrist.

    python benchmarks/fidelity_upfall.py UPFALL_DIR [--camera 1] [--detector ID_OR_DIR]
        [--pose-model ID_OR_DIR] [--lifter-checkpoint FILE] [--device cuda] [--batch-size 32]
        [--stage1-cache DIR] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from imu2safety.builders.records import Clip
from imu2safety.builders.sources import up_fall, up_fall_video
from imu2safety.builders.sources.video import Stage1Runner
from imu2safety.simulator.calibration import best_lag
from imu2safety.simulator.imu import SimulationOptions, simulate

NO_DATA = ("No UP-Fall data ships with imu2safety: download the trials (camera zips + "
           "CompleteDataSet.csv) from https://sites.google.com/up.edu.mx/har-up/, unzip the "
           "camera folders, and pass the folder: python benchmarks/fidelity_upfall.py DIR")


def lagged_corr(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[float, int]:
    """(Pearson r of a and b after b's best lag, that lag in samples); a, b (N,) magnitudes."""
    lag = best_lag(a, b, max_lag)
    x, y = (a, b[lag:]) if lag >= 0 else (a[-lag:], b)
    n = min(len(x), len(y))
    if n < 3 or np.std(x[:n]) == 0 or np.std(y[:n]) == 0:
        return float("nan"), lag
    return float(np.corrcoef(x[:n], y[:n])[0, 1]), lag


def real_trials(folder: Path, rate_hz: float) -> dict[str, np.ndarray]:
    """Clip id -> real wrist IMU (N, 6) at ``rate_hz`` from every UP-Fall CSV under ``folder``."""
    out = {}
    for csv in up_fall.list_inputs(folder):
        for item in up_fall.read(csv, rate_hz=rate_hz):
            if isinstance(item, Clip):
                out[item.id] = item.imu
    return out


def synthetic_trials(folder: Path, runner: Stage1Runner, camera: int, rate_hz: float,
                     wanted: set[str]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Clip id -> simulated left-wrist IMU (N, 6) of the trials in ``wanted``; and skip reasons."""
    sim = SimulationOptions(placement=up_fall.PLACEMENT, rate_hz=rate_hz, device="ideal")
    out, skips = {}, []
    for path in up_fall_video.list_inputs(folder, camera=camera):
        key = up_fall_video.trial_key(path.name)
        if key is None or up_fall_video.clip_id(*key[:3]) not in wanted:
            continue
        for item in up_fall_video.read(path, input_dir=folder, stage1=runner, camera=camera):
            if not isinstance(item, Clip):
                skips.append(f"{item.input}: {item.reason}")
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[item.id] = simulate(item.motion, sim, item.id).as_array()
    return out, skips


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", nargs="?", type=Path, help="UP-Fall trials (frames + CSV)")
    p.add_argument("--camera", type=int, default=1, choices=(1, 2))
    p.add_argument("--rate", type=float, default=18.0, help="comparison rate, Hz (default 18)")
    p.add_argument("--max-lag-s", type=float, default=1.0)
    p.add_argument("--detector"), p.add_argument("--pose-model")
    p.add_argument("--pose-backend"), p.add_argument("--lifter-checkpoint")
    p.add_argument("--device", default="cpu"), p.add_argument("--batch-size", type=int)
    p.add_argument("--min-track-s", type=float)
    p.add_argument("--min-keypoint-score", type=float)
    p.add_argument("--stage1-cache", type=Path)
    p.add_argument("--json", type=Path, help="also write the per-trial table here")
    args = p.parse_args(argv)
    if args.folder is None or not args.folder.is_dir():
        print(NO_DATA)
        return 0 if args.folder is None else 2
    stage1 = {k: v for k, v in {"detector": args.detector, "pose_model": args.pose_model,
                                "pose_backend": args.pose_backend,
                                "lifter_checkpoint": args.lifter_checkpoint,
                                "device": args.device, "batch_size": args.batch_size,
                                "min_track_s": args.min_track_s,
                                "min_keypoint_score": args.min_keypoint_score}.items()
              if v is not None}
    real = real_trials(args.folder, args.rate)
    if not real:
        print(f"no UP-Fall wrist IMU (CompleteDataSet.csv) under {args.folder}. {NO_DATA}")
        return 2
    runner = Stage1Runner(stage1, args.stage1_cache)
    syn, skips = synthetic_trials(args.folder, runner, args.camera, args.rate, set(real))
    for s in skips:
        print(f"skipped {s}")
    max_lag = int(round(args.max_lag_s * args.rate))
    table = []
    print(f"{'trial':<11} {'n':>5} {'r|acc|':>7} {'lag s':>6} {'r|gyro|':>8} {'lag s':>6}")
    for cid in sorted(set(real) & set(syn)):
        r, s = real[cid], syn[cid]
        ra, la = lagged_corr(np.linalg.norm(r[:, :3], axis=1), np.linalg.norm(s[:, :3], axis=1), max_lag)
        rg, lg = lagged_corr(np.linalg.norm(r[:, 3:], axis=1), np.linalg.norm(s[:, 3:], axis=1), max_lag)
        table.append({"id": cid, "activity": int(cid[4:6]), "samples": int(min(len(r), len(s))),
                      "r_acc": ra, "lag_acc_s": la / args.rate, "r_gyro": rg,
                      "lag_gyro_s": lg / args.rate})
        print(f"{cid:<11} {table[-1]['samples']:>5} {ra:>7.3f} {la / args.rate:>6.2f} "
              f"{rg:>8.3f} {lg / args.rate:>6.2f}")
    if not table:
        print("no trial has both a real wrist clip and a video track")
        return 1
    for name, keep in (("falls (1-5)", lambda a: a <= 5), ("daily (6-11)", lambda a: a > 5),
                       ("all", lambda a: True)):
        part = [t for t in table if keep(t["activity"])]
        if part:
            print(f"{name:<13} {len(part):>3} trials: median r|acc| "
                  f"{np.nanmedian([t['r_acc'] for t in part]):.3f}, median r|gyro| "
                  f"{np.nanmedian([t['r_gyro'] for t in part]):.3f}")
    if args.json:
        args.json.write_text(json.dumps({"trials": table, "stage1": runner.options.to_dict(),
                                         "rate_hz": args.rate}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
