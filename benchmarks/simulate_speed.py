"""Simulator throughput on one core: 10-s skeleton clips at 30 fps -> 50 Hz IMU.

N random-but-smooth arm motions (shoulder, elbow, wrist, hand, thumb on both sides; constant
bone lengths, joint angles as sums of random sinusoids of 0.1-2 Hz) are generated first (not
timed). Then, in this one process with BLAS/OpenMP threads pinned to 1:

- ``simulate_many`` over all clips, for device "ideal" and for a MEMS profile (``--device``);
- ``simulate`` called clip by clip, on a subset, for comparison;
- peak memory: tracemalloc peak of one ``simulate_many`` run (a separate, untimed pass, since
  tracing slows allocation) and the process's maximum resident set size.

Target: >= 1,000 clips/s per core.

    python benchmarks/simulate_speed.py [--clips 2000] [--device bmi160] [--per-clip 300]
"""

from __future__ import annotations

import os

# Pin every BLAS / OpenMP pool to one thread before numpy is imported: the figure is per core.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from imu2safety.simulator.devices import DEVICES  # noqa: E402
from imu2safety.simulator.imu import SimulationOptions, simulate, simulate_many  # noqa: E402
from imu2safety.simulator.motion import Motion  # noqa: E402

JOINTS = tuple(f"{side}_{part}" for side in ("left", "right")
               for part in ("shoulder", "elbow", "wrist", "hand", "thumb"))
UPPER_ARM_M, FOREARM_M, HAND_M, THUMB_M = 0.30, 0.26, 0.08, 0.05


def _smooth(rng: np.random.Generator, n: int, t: np.ndarray, k: int, amp: float) -> np.ndarray:
    """(n, T) sums of ``k`` random sinusoids (0.1-2 Hz), each of amplitude up to ``amp``."""
    f = rng.uniform(0.1, 2.0, (n, k, 1))
    a = rng.uniform(0.0, amp, (n, k, 1)) / np.sqrt(k)
    ph = rng.uniform(0.0, 2 * np.pi, (n, k, 1))
    return (a * np.sin(2 * np.pi * f * t + ph)).sum(axis=1)


def _direction(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """(..., 3) unit vectors from polar angle from -z (theta) and azimuth (phi), radians."""
    s = np.sin(theta)
    return np.stack([s * np.cos(phi), s * np.sin(phi), -np.cos(theta)], axis=-1)


def make_motions(n: int, duration_s: float = 10.0, fps: float = 30.0, seed: int = 0) -> list[Motion]:
    """``n`` smooth two-arm motions, (T, 10, 3) metres, world frame z up, T = duration * fps."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(duration_s * fps))) / fps
    num = len(t)
    pos = np.empty((n, num, len(JOINTS), 3))
    trunk = np.stack([_smooth(rng, n, t, 3, 0.05) for _ in range(3)], axis=-1)  # (n, T, 3)
    for s, side in enumerate((1.0, -1.0)):  # left is +y (x forward, z up)
        shoulder = trunk + np.array([0.0, 0.18 * side, 1.40])
        upper = _direction(0.6 + _smooth(rng, n, t, 4, 0.6), side * 1.2 + _smooth(rng, n, t, 4, 0.8))
        fore = _direction(1.2 + _smooth(rng, n, t, 4, 0.9), side * 0.6 + _smooth(rng, n, t, 4, 1.0))
        hand_dir = _direction(1.2 + _smooth(rng, n, t, 4, 1.2), side * 0.6 + _smooth(rng, n, t, 4, 1.2))
        elbow = shoulder + UPPER_ARM_M * upper
        wrist = elbow + FOREARM_M * fore
        hand = wrist + HAND_M * hand_dir
        # thumb off the hand axis, rotating with a smooth pronation angle
        side_dir = np.cross(hand_dir, np.array([0.0, 0.0, 1.0]))
        side_dir /= np.linalg.norm(side_dir, axis=-1, keepdims=True)
        up_dir = np.cross(side_dir, hand_dir)
        twist = _smooth(rng, n, t, 3, 1.0)[..., None]
        thumb = wrist + 0.5 * HAND_M * hand_dir + THUMB_M * (np.cos(twist) * up_dir
                                                              + np.sin(twist) * side * side_dir)
        pos[:, :, 5 * s:5 * s + 5] = np.stack([shoulder, elbow, wrist, hand, thumb], axis=2)
    return [Motion.from_fps(p, JOINTS, fps) for p in pos]


def _maxrss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, KiB on Linux


def _time(fn, repeat: int) -> float:
    """Best wall time of ``repeat`` calls, seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print a table, return {row name: {clips_per_s, us_per_clip, ...}}."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=2000, help="clips for simulate_many (default 2000)")
    p.add_argument("--per-clip", type=int, default=300,
                   help="clips for the clip-by-clip simulate comparison (default 300)")
    p.add_argument("--device", default="bmi160", choices=sorted(set(DEVICES) - {"ideal"}),
                   help="MEMS profile timed next to 'ideal' (default bmi160)")
    p.add_argument("--placement", default="left_wrist")
    p.add_argument("--repeat", type=int, default=2, help="timed repetitions, best kept (default 2)")
    args = p.parse_args(argv)
    if args.clips < 1 or args.per_clip < 1:
        p.error("--clips and --per-clip must be >= 1")

    start = time.perf_counter()
    motions = make_motions(args.clips)
    ids = [f"clip{k:06d}" for k in range(len(motions))]
    print(f"generated {len(motions)} motions of 10 s at 30 fps ({len(JOINTS)} joints) "
          f"in {time.perf_counter() - start:.1f} s (not timed)")
    # warm up imports, caches and the filter design on a few clips
    simulate_many(motions[:4], SimulationOptions(placement=args.placement, device=args.device), ids[:4])

    results: dict[str, dict] = {}
    n_sub = min(args.per_clip, len(motions))
    for device in ("ideal", args.device):
        opts = SimulationOptions(placement=args.placement, device=device)
        secs = _time(lambda: simulate_many(motions, opts, ids), args.repeat)
        results[f"simulate_many {device}"] = {"clips": len(motions), "seconds": secs}
        secs = _time(lambda: [simulate(m, opts, i) for m, i in zip(motions[:n_sub], ids[:n_sub])],
                     args.repeat)
        results[f"simulate (per clip) {device}"] = {"clips": n_sub, "seconds": secs}

    # memory: untimed pass under tracemalloc (numpy reports its buffers to it)
    opts = SimulationOptions(placement=args.placement, device=args.device)
    tracemalloc.start()
    recs = simulate_many(motions, opts, ids)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    samples = len(recs[0].timestamps)
    del recs

    print(f"\none core, {args.placement}, 50 Hz output ({samples} samples per clip), "
          f"best of {args.repeat}")
    print(f"{'what':34s} {'clips':>6s} {'clips/s':>9s} {'us/clip':>9s}")
    for name, r in results.items():
        r["clips_per_s"] = r["clips"] / r["seconds"]
        r["us_per_clip"] = 1e6 * r["seconds"] / r["clips"]
        print(f"{name:34s} {r['clips']:6d} {r['clips_per_s']:9.0f} {r['us_per_clip']:9.0f}")
    mem = {"tracemalloc_peak_mb": peak / 2**20, "maxrss_mb": _maxrss_mb()}
    print(f"\npeak traced allocation of simulate_many({len(motions)} clips, {args.device}): "
          f"{mem['tracemalloc_peak_mb']:.1f} MiB")
    print(f"process max RSS (motions + outputs + interpreter): {mem['maxrss_mb']:.0f} MiB")
    target = results[f"simulate_many {args.device}"]["clips_per_s"]
    print(f"target >= 1000 clips/s per core: {'met' if target >= 1000 else 'NOT met'} "
          f"({target:.0f} clips/s with {args.device})")
    results["memory"] = mem
    return results


if __name__ == "__main__":
    main()
