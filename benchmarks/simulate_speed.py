"""Simulator throughput on one core, measured honestly: equal- and mixed-length corpora, every
device model, clips per call 1..5,000, clip lengths 2..600 s, peak memory, and ratios to the
previous implementation and to a naive NumPy simulator timed in the same process.

Motions are smooth two-arm skeletons (shoulder, elbow, wrist, hand, thumb on both sides; constant
bone lengths, joint angles as sums of random sinusoids of 0.1-2 Hz; ``make_motions``), generated
before any timing. The *equal-length* corpus holds 10-s clips (30 fps -> 50 Hz, all on one time
grid: the special case); the *mixed-length* corpus cuts them to 2-10 s (60-300 frames, uniform),
as NTU-like recordings are, so clips rarely share a grid; the *gaps* corpus is the mixed one
with 0.5 % of its (frame, joint) entries untracked, as depth-camera skeletons have them (nearly
every clip then has frames to fill, and some ends to trim). Figures are CPU seconds of this process
(``time.process_time``; BLAS/OpenMP pinned to one thread), best of ``--repeat``: on a shared
machine CPU time is steadier than wall time, but contention (caches, memory bandwidth) still
moves it by 10-30 % between runs, so compare the ratios, which are measured side by side.

- **previous**: ``simulator/`` as of ``PREVIOUS_COMMIT`` (the same physics, NumPy/scipy; read with
  ``git show`` into a temporary package). Its outputs are compared too: the largest difference is
  printed (the ideal model agrees to ~1e-10 m/s^2; device models bit for bit).
- **naive**: a per-clip NumPy/scipy simulator as one would first write it (``naive_simulate``:
  filtfilt, finite differences, scipy Rotation); ideal device only.

    python benchmarks/simulate_speed.py [--clips 2000] [--repeat 3] [--previous-clips 400]
        [--naive-clips 200] [--previous-commit c5f2049] [--quick]
"""

from __future__ import annotations

import os

# Pin every BLAS / OpenMP pool to one thread before numpy is imported: the figure is per core.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from imu2safety.simulator.devices import DEVICES  # noqa: E402
from imu2safety.simulator.imu import (SimulationOptions, simulate, simulate_iter,  # noqa: E402
                                      simulate_many)
from imu2safety.simulator.motion import G, Motion  # noqa: E402
from imu2safety.simulator.orientation import segment_frame  # noqa: E402

#: main before the compiled simulator (simulator 1.1.0 in NumPy/scipy): the "previous" column.
PREVIOUS_COMMIT = "c5f2049"
REPO = Path(__file__).resolve().parents[1]
DEVICE_NAMES = ("ideal", "bmi160", "icm42688p")

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


def mixed_motions(motions: list[Motion], seed: int = 1, frames: tuple[int, int] = (60, 300)) -> list[Motion]:
    """The motions cut to a random length of ``frames`` (uniform, inclusive): a mixed corpus."""
    rng = np.random.default_rng(seed)
    out = []
    for m in motions:
        n = int(rng.integers(frames[0], frames[1] + 1))
        out.append(Motion(m.positions[:n], m.joint_names, m.timestamps[:n]))
    return out


def gapped_motions(motions: list[Motion], seed: int = 2, share: float = 0.005) -> list[Motion]:
    """The motions with ``share`` of their (frame, joint) entries untracked, as depth-camera
    skeletons have them: nearly every clip then needs its gaps filled (and ends trimmed)."""
    rng = np.random.default_rng(seed)
    return [Motion(m.positions, m.joint_names, m.timestamps, rng.random(m.valid.shape) >= share)
            for m in motions]


def load_previous(commit: str = PREVIOUS_COMMIT):
    """(imu, motion) modules of ``simulator/`` at ``commit``, or None without git history."""
    try:
        names = subprocess.run(["git", "-C", str(REPO), "ls-tree", "--name-only", commit, "simulator/"],
                               capture_output=True, text=True, check=True).stdout.split()
        folder = Path(tempfile.mkdtemp(prefix="imu2safety-previous-")) / "previous_simulator"
        folder.mkdir()
        for name in names:
            text = subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:{name}"],
                                  capture_output=True, text=True, check=True).stdout
            (folder / Path(name).name).write_text(text)
    except (OSError, subprocess.CalledProcessError):
        return None
    sys.path.insert(0, str(folder.parent))
    return importlib.import_module("previous_simulator.imu"), importlib.import_module("previous_simulator.motion")


def naive_simulate(motion: Motion, rate_hz: float = 50.0, cutoff_hz: float = 4.0,
                   placement: str = "left_wrist") -> tuple[np.ndarray, np.ndarray]:
    """A first, per-clip simulator: the segment frame (``segment_frame``), the wrist and the
    frame's quaternion low-passed with ``filtfilt``, finite differences, scipy ``Rotation``,
    linear resampling. (N, 3) accel m/s^2 and gyro rad/s, sensor frame. For timing only."""
    side = placement.split("_")[0]
    joints = {j: motion.joint(j) for j in motion.joint_names if j.startswith(side) or "shoulder" in j}
    origin, frame = segment_frame(joints, placement)
    fs = motion.fps
    b, a = signal.butter(4, cutoff_hz, fs=fs)
    pos = signal.filtfilt(b, a, origin, axis=0)
    quat = Rotation.from_matrix(frame).as_quat()
    for k in range(1, len(quat)):  # one hemisphere, so that filtering the components is sound
        if np.dot(quat[k], quat[k - 1]) < 0:
            quat[k] = -quat[k]
    rot = Rotation.from_quat(signal.filtfilt(b, a, quat, axis=0))
    acc_w = np.gradient(np.gradient(pos, 1 / fs, axis=0), 1 / fs, axis=0) + [0.0, 0.0, G]
    accel = rot.apply(acc_w, inverse=True)
    gyro = np.vstack([(rot[:-1].inv() * rot[1:]).as_rotvec() * fs, np.zeros((1, 3))])
    t = motion.timestamps
    t_out = np.arange(t[0], t[-1], 1.0 / rate_hz)
    return (np.stack([np.interp(t_out, t, accel[:, k]) for k in range(3)], 1),
            np.stack([np.interp(t_out, t, gyro[:, k]) for k in range(3)], 1))


def _maxrss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, KiB on Linux


def cpu_time(fn, repeat: int) -> float:
    """Best CPU time of ``repeat`` calls, seconds (this process)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def _quiet(fn):
    def run(*a, **k):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*a, **k)
    return run


def _max_diff(a: list, b: list) -> float:
    return max(max(np.abs(x.accel - y.accel).max(), np.abs(x.gyro - y.gyro).max())
               for x, y in zip(a, b))


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print its tables, return the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=2000, help="clips per corpus (default 2000)")
    p.add_argument("--previous-clips", type=int, default=400,
                   help="clips of each corpus timed with the previous implementation (default 400)")
    p.add_argument("--naive-clips", type=int, default=200, help="clips timed with the naive simulator")
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions, best kept (default 3)")
    p.add_argument("--previous-commit", default=PREVIOUS_COMMIT,
                   help=f"git commit whose simulator/ is the 'previous' column (default {PREVIOUS_COMMIT}, "
                        "the NumPy/scipy simulator; e.g. ded3a33: the compiled one before issue 13)")
    p.add_argument("--placement", default="left_wrist")
    p.add_argument("--quick", action="store_true", help="small sweeps (for a smoke test)")
    args = p.parse_args(argv)
    if min(args.clips, args.previous_clips, args.naive_clips, args.repeat) < 1:
        p.error("counts must be >= 1")
    start = time.perf_counter()
    equal = make_motions(args.clips)
    corpora = {"equal": equal, "mixed": mixed_motions(equal)}
    corpora["gaps"] = gapped_motions(corpora["mixed"])
    ids = [f"clip{k:06d}" for k in range(args.clips)]
    print(f"generated {args.clips} motions of 10 s at 30 fps ({len(JOINTS)} joints) and their 2-10 s "
          f"cuts in {time.perf_counter() - start:.1f} s (not timed)")
    opts = {d: SimulationOptions(placement=args.placement, device=d) for d in DEVICE_NAMES}
    many = _quiet(simulate_many)
    many(corpora["mixed"][:8], opts["bmi160"], ids[:8])  # compile / load the kernels
    previous = load_previous(args.previous_commit)
    prev_opts = {}
    if previous is None:
        print(f"previous implementation: not available (needs the git history with {args.previous_commit})")
    else:
        prev_imu, prev_motion = previous
        print(f"previous implementation: simulator/ at {args.previous_commit}")
        prev_opts = {d: prev_imu.SimulationOptions(placement=args.placement, device=d) for d in DEVICE_NAMES}
        prev_corpora = {k: [prev_motion.Motion(m.positions, m.joint_names, m.timestamps, m.valid)
                            for m in c[:args.previous_clips]] for k, c in corpora.items()}
        _quiet(prev_imu.simulate_many)(prev_corpora["mixed"][:8], prev_opts["bmi160"], ids[:8])  # compile
    res: dict = {"throughput": {}, "per_call": {}, "length": {}, "memory": {}}

    # 1. throughput per corpus and device, ratios measured side by side
    print(f"\n1. clips/s on one core (CPU time, best of {args.repeat}); 'x prev' / 'x naive': "
          "speed-up over the previous implementation / the naive simulator on the same clips")
    print(f"{'corpus':7s} {'device':10s} {'clips/s':>9s} {'us/clip':>8s} {'x prev':>7s} "
          f"{'x naive':>8s} {'max |new - prev|':>17s}")
    for cname, corpus in corpora.items():
        for dev in DEVICE_NAMES:
            secs = cpu_time(lambda: many(corpus, opts[dev], ids), args.repeat)
            row = {"clips": len(corpus), "seconds": secs, "clips_per_s": len(corpus) / secs}
            if previous is not None:
                sub = prev_corpora[cname]
                psecs = cpu_time(lambda: _quiet(prev_imu.simulate_many)(sub, prev_opts[dev], ids[:len(sub)]),
                                 max(1, args.repeat - 1))
                row["previous_clips_per_s"] = len(sub) / psecs
                row["vs_previous"] = row["clips_per_s"] / row["previous_clips_per_s"]
                row["max_diff_previous"] = _max_diff(
                    many(corpus[:len(sub)], opts[dev], ids[:len(sub)]),
                    _quiet(prev_imu.simulate_many)(sub, prev_opts[dev], ids[:len(sub)]))
            if dev == "ideal" and cname != "gaps":  # (the naive simulator ignores tracking)
                sub = corpus[:args.naive_clips]
                nsecs = cpu_time(lambda: [_quiet(naive_simulate)(m, placement=args.placement) for m in sub], 1)
                row["vs_naive"] = row["clips_per_s"] / (len(sub) / nsecs)
            res["throughput"][f"{cname} {dev}"] = row
            fmt = lambda k, f: format(row[k], f) if k in row else "n/a"  # noqa: E731
            print(f"{cname:7s} {dev:10s} {row['clips_per_s']:9.0f} {1e6 / row['clips_per_s']:8.0f} "
                  f"{fmt('vs_previous', '7.1f'):>7s} {fmt('vs_naive', '8.1f'):>8s} "
                  f"{fmt('max_diff_previous', '17.1e'):>17s}")

    # 2. clips per call (mixed corpus): the fixed cost of a call shows at the small end
    sizes = (1, 10, 100) if args.quick else (1, 10, 100, 1000, 5000)
    mixed = corpora["mixed"]
    print(f"\n2. clips per call (mixed corpus, us per clip, CPU time); simulate() = one clip per call")
    print(f"{'clips/call':>10s} " + " ".join(f"{d:>10s}" for d in DEVICE_NAMES))
    for size in sizes:
        batch = [mixed[k % len(mixed)] for k in range(size)]
        bids = [f"c{k}" for k in range(size)]
        calls = max(1, 2000 // size) if not args.quick else 1
        row = {}
        for dev in DEVICE_NAMES:
            fn = (lambda: [_quiet(simulate)(batch[0], opts[dev], "c0") for _ in range(calls)]) if size == 1 \
                else (lambda: [many(batch, opts[dev], bids) for _ in range(calls)])
            row[dev] = 1e6 * cpu_time(fn, args.repeat) / (calls * size)
        res["per_call"][size] = row
        print(f"{size:10d} " + " ".join(f"{row[d]:10.0f}" for d in DEVICE_NAMES))
    if previous is not None:
        one = prev_corpora["mixed"][0]
        psecs = cpu_time(lambda: [_quiet(prev_imu.simulate)(one, prev_opts["ideal"], "c0") for _ in range(50)],
                         args.repeat) / 50
        res["per_call"]["previous_single_us"] = 1e6 * psecs
        print(f"previous implementation, simulate() of one clip: {1e6 * psecs:.0f} us")

    # 3. clip length (ideal and bmi160): us per clip and per second of signal
    lengths = (2, 10, 60) if args.quick else (2, 10, 60, 600)
    print("\n3. clip length (one call per length; us per clip / us per second of signal)")
    print(f"{'length s':>8s} {'clips':>6s} " + " ".join(f"{d + ' /clip':>14s} {'/s':>6s}" for d in ("ideal", "bmi160")))
    for seconds in lengths:
        count = max(2, min(200, int(2000 / seconds))) if not args.quick else 2
        long = make_motions(count, duration_s=seconds, seed=seconds)
        lids = [f"L{k}" for k in range(count)]
        row = {}
        for dev in ("ideal", "bmi160"):
            row[dev] = 1e6 * cpu_time(lambda: many(long, opts[dev], lids), args.repeat) / count
        res["length"][seconds] = row
        print(f"{seconds:8d} {count:6d} " + " ".join(f"{row[d]:14.0f} {row[d] / seconds:6.0f}"
                                                     for d in ("ideal", "bmi160")))
        del long

    # 4. memory: simulate_iter consumed as it streams stays flat; simulate_many holds its results
    print("\n4. peak traced allocation (tracemalloc) during one call, mixed corpus, bmi160")
    for n in ((len(mixed) // 4, len(mixed)) if not args.quick else (len(mixed),)):
        tracemalloc.start()
        for _ in _quiet(lambda: simulate_iter(mixed[:n], opts["bmi160"], ids[:n]))():
            pass
        _, peak_iter = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        tracemalloc.start()
        recs = many(mixed[:n], opts["bmi160"], ids[:n])
        _, peak_many = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del recs
        res["memory"][n] = {"simulate_iter_mb": peak_iter / 2**20, "simulate_many_mb": peak_many / 2**20}
        print(f"{n:6d} clips: simulate_iter (results dropped as they come) {peak_iter / 2**20:6.1f} MiB; "
              f"simulate_many (holds {n} results) {peak_many / 2**20:6.1f} MiB")
    res["memory"]["maxrss_mb"] = _maxrss_mb()
    print(f"process max RSS (corpora + outputs + interpreter): {res['memory']['maxrss_mb']:.0f} MiB")
    return res


if __name__ == "__main__":
    main()
