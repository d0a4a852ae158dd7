"""Sim-to-real fidelity on UTD-MHAD: simulated right wrist from Kinect v1 vs the real wrist IMU.

For every trial of actions 1-21 (sensor on the right wrist) in ``../shared/data/utd_mhad``:
simulate the right-wrist IMU from the skeleton (ideal device, 50 Hz) and compare with the real
inertial recording of the same trial:

1. |accel| and |gyro| correlation per trial, each after its own best-lag alignment (lag within
   +-1 s); the magnitudes do not depend on how the sensor was mounted;
2. per-axis correlation after fitting ONE mounting rotation over all trials (the real sensor's
   orientation on the wrist is not documented), each trial at its best lag.

A naive baseline is printed beside it: finite differences of the raw wrist joint, no filtering,
no orientation: |accel| = |p_ddot - g| (orientation cannot change a magnitude). The magnitudes
are also compared with the real signal low-passed at the simulator's cutoff ("band"): agreement
inside the band a Kinect v1 skeleton can carry.

    python benchmarks/fidelity_utd.py [--data ../shared/data/utd_mhad] [--cutoff 3]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from imu2safety.builders.sources import utd_mhad, utd_mhad_imu
from imu2safety.simulator.calibration import best_lag, fit_mounting
from imu2safety.simulator.imu import SimulationOptions, simulate
from imu2safety.simulator.kinematics import lowpass
from imu2safety.simulator.motion import GRAVITY_WORLD

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "utd_mhad"
RATE = 50.0
MAX_LAG = int(RATE)  # 1 s


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 0 else float("nan")


def _aligned(a: np.ndarray, b: np.ndarray, lag: int):
    """Overlap of a and b with b shifted by lag samples (b[k + lag] ~ a[k])."""
    if lag >= 0:
        b = b[lag:]
    else:
        a = a[-lag:]
    n = min(len(a), len(b))
    return a[:n], b[:n]


def _naive_accel_norm(motion) -> np.ndarray:
    t = motion.timestamps
    p = motion.joint("right_wrist")
    ok = np.isfinite(p).all(1)
    p, t = p[ok], t[ok]
    acc = np.gradient(np.gradient(p, t, axis=0), t, axis=0) - GRAVITY_WORLD
    tn = np.arange(int(t[-1] * RATE) + 1) / RATE
    return np.interp(tn, t, np.linalg.norm(acc, axis=1))


def load_pairs(data: Path):
    """[(clip id, skeleton Motion, real imu (N, 6))] for actions 1-21."""
    pairs = []
    for path in utd_mhad.list_inputs(data / "data" / "Skeleton"):
        for clip in utd_mhad.read(path):
            if not hasattr(clip, "motion") or int(clip.source_label[1:]) > 21:
                continue
            twin = data / "data" / "Inertial" / f"{clip.id}_inertial.mat"
            real = [c for c in utd_mhad_imu.read(twin) if hasattr(c, "imu")] if twin.exists() else []
            if real:
                pairs.append((clip.id, clip.motion, real[0].imu))
    return pairs


def evaluate(pairs, cutoff_hz: float | None):
    opts = SimulationOptions(placement="right_wrist", rate_hz=RATE, cutoff_hz=cutoff_hz)
    sims, res = [], {"acc_norm": [], "gyr_norm": [], "naive_acc_norm": [], "acc_band": [],
                     "gyr_band": []}
    for cid, motion, real in pairs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sim = simulate(motion, opts, cid).as_array().astype(np.float64)
        sims.append(sim)
        an_s, an_r = np.linalg.norm(sim[:, :3], axis=1), np.linalg.norm(real[:, :3], axis=1)
        gn_s, gn_r = np.linalg.norm(sim[:, 3:], axis=1), np.linalg.norm(real[:, 3:], axis=1)
        res["acc_norm"].append(_corr(*_aligned(an_s, an_r, best_lag(an_s, an_r, MAX_LAG))))
        res["gyr_norm"].append(_corr(*_aligned(gn_s, gn_r, best_lag(gn_s, gn_r, MAX_LAG))))
        band = lowpass(real, RATE, cutoff_hz)
        for key, s_, r_ in (("acc_band", an_s, np.linalg.norm(band[:, :3], axis=1)),
                            ("gyr_band", gn_s, np.linalg.norm(band[:, 3:], axis=1))):
            res[key].append(_corr(*_aligned(s_, r_, best_lag(s_, r_, MAX_LAG))))
        naive = _naive_accel_norm(motion)
        res["naive_acc_norm"].append(_corr(*_aligned(naive, an_r, best_lag(naive, an_r, MAX_LAG))))
    rot = fit_mounting(list(zip(sims, [p[2] for p in pairs])), max_lag=MAX_LAG)
    axes = []
    for sim, (_, _, real) in zip(sims, pairs):
        acc, gyr = rot.apply(sim[:, :3]), rot.apply(sim[:, 3:])
        lag = best_lag(np.linalg.norm(gyr, axis=1), np.linalg.norm(real[:, 3:], axis=1), MAX_LAG)
        s, r = _aligned(np.concatenate([acc, gyr], 1), real, lag)
        axes.append([_corr(s[:, c], r[:, c]) for c in range(6)])
    res["axes"] = np.array(axes)
    res["rotation_deg"] = float(np.degrees(rot.magnitude()))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--cutoff", type=float, default=None,
                    help="motion low-pass, Hz (default: the UTD-MHAD source's CUTOFF_HZ)")
    args = ap.parse_args()
    if not (args.data / "data" / "Skeleton").is_dir():
        print(f"UTD-MHAD not found under {args.data}; nothing to measure")
        return
    pairs = load_pairs(args.data)
    cutoff = utd_mhad.CUTOFF_HZ if args.cutoff is None else args.cutoff
    res = evaluate(pairs, cutoff)
    med = lambda v: float(np.nanmedian(v))
    print(f"UTD-MHAD actions 1-21, {len(pairs)} trials, right wrist, 50 Hz, cutoff {cutoff} Hz")
    print(f"median |accel| correlation: {med(res['acc_norm']):.3f}   "
          f"(naive finite differences: {med(res['naive_acc_norm']):.3f})")
    print(f"median |gyro|  correlation: {med(res['gyr_norm']):.3f}")
    print(f"against the real IMU low-passed at {cutoff} Hz: |accel| {med(res['acc_band']):.3f}, "
          f"|gyro| {med(res['gyr_band']):.3f}")
    print(f"one mounting rotation fitted: {res['rotation_deg']:.1f} deg; median per-axis correlation "
          "ax ay az gx gy gz: " + " ".join(f"{v:.3f}" for v in np.nanmedian(res["axes"], 0)))


if __name__ == "__main__":
    main()
