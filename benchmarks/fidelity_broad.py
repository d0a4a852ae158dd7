"""Physics fidelity on BROAD: simulate the IMU from optical motion capture, compare with the real IMU.

BROAD (Laidig et al. 2021) records a hand-held rigid IMU box (285.7 Hz) with synchronised optical
pose (position in m, orientation body-to-ENU; ENU is the project's world frame: z up). The
simulator turns the optical pose into specific force and angular rate in the box's own frame;
this script compares them with the real IMU axis by axis over the ``movement`` samples:
Pearson correlation and RMSE per axis.

Two comparisons are printed per trial:
- raw: the simulator's output against the raw real IMU (its noise and impact transients included);
- band: both low-passed with the same zero-phase filter as the simulator's motion (cutoff below),
  i.e. agreement inside the band the simulator models.
The optical markers' origin is not the accelerometer's: a constant lever arm r (box frame) is
fitted by least squares on the accelerometer (a += dw/dt x r + w x (w x r)) and reported.

    python benchmarks/fidelity_broad.py [--data ../shared/data/broad] [--cutoff 15]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import h5py
import numpy as np

from imu2safety.simulator.imu import SimulationOptions, simulate
from imu2safety.simulator.kinematics import lowpass
from imu2safety.simulator.motion import RigidBodyTrajectory

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "broad"


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(0)
    b = b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


def _skew_rows(v: np.ndarray) -> np.ndarray:
    """(N, 3) -> (N, 3, 3) cross-product matrices [v]x."""
    z = np.zeros(len(v))
    return np.stack([np.stack([z, -v[:, 2], v[:, 1]], -1), np.stack([v[:, 2], z, -v[:, 0]], -1),
                     np.stack([-v[:, 1], v[:, 0], z], -1)], -2)


def lever_arm(acc_sim, gyro, acc_real, fs):
    """Least-squares lever arm r (3,) m: acc_real ~ acc_sim + dw/dt x r + w x (w x r)."""
    dw = np.gradient(gyro, 1 / fs, axis=0)
    w = _skew_rows(gyro)
    m = _skew_rows(dw) + w @ w                          # (N, 3, 3): a_extra = m @ r
    r, *_ = np.linalg.lstsq(m.reshape(-1, 3), (acc_real - acc_sim).reshape(-1), rcond=None)
    return r, (m @ r)


def evaluate(path: Path, cutoff_hz: float) -> dict:
    with h5py.File(path, "r") as f:
        fs = float(f.attrs["sampling_rate"])
        acc, gyr = f["imu_acc"][:], f["imu_gyr"][:]
        pos, quat, move = f["opt_pos"][:], f["opt_quat"][:], f["movement"][:].astype(bool)
    t = np.arange(len(acc)) / fs
    body = RigidBodyTrajectory.from_quaternions(pos, quat, timestamps=t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = simulate(body, SimulationOptions(rate_hz=fs, cutoff_hz=cutoff_hz), clip_id=path.stem)
    idx = np.round(rec.timestamps * fs).astype(int)
    real_a, real_g, m = acc[idx], gyr[idx], move[idx]
    r, extra = lever_arm(rec.accel[m], rec.gyro[m], real_a[m], fs)
    sim_a = rec.accel.copy()
    sim_a[m] += extra
    band_a, band_g = lowpass(real_a, fs, cutoff_hz), lowpass(real_g, fs, cutoff_hz)
    out = {"trial": path.stem, "samples": int(m.sum()), "lever_arm_cm": 100 * r}
    for name, ra, rg in (("raw", real_a, real_g), ("band", band_a, band_g)):
        out[name] = {
            "acc_r": _corr(sim_a[m], ra[m]), "gyr_r": _corr(rec.gyro[m], rg[m]),
            "acc_rmse": np.sqrt(((sim_a[m] - ra[m]) ** 2).mean(0)),
            "gyr_rmse": np.sqrt(((rec.gyro[m] - rg[m]) ** 2).mean(0)),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--cutoff", type=float, default=15.0, help="motion low-pass, Hz (default 15)")
    args = ap.parse_args()
    files = sorted((args.data / "data_hdf5").glob("*.hdf5"))
    if not files:
        raise SystemExit(f"no BROAD HDF5 files under {args.data}/data_hdf5")
    fmt = lambda v, p=3: " ".join(f"{x:6.{p}f}" for x in v)
    allr = {"raw": [], "band": []}
    for path in files:
        res = evaluate(path, args.cutoff)
        print(f"{res['trial']}  ({res['samples']} movement samples, lever arm "
              f"[{fmt(res['lever_arm_cm'], 1)}] cm)")
        for name in ("raw", "band"):
            e = res[name]
            print(f"  {name:4s} acc r [{fmt(e['acc_r'])}]  rmse [{fmt(e['acc_rmse'])}] m/s^2 | "
                  f"gyr r [{fmt(e['gyr_r'])}]  rmse [{fmt(e['gyr_rmse'])}] rad/s")
            allr[name].append(np.r_[e["acc_r"], e["gyr_r"]])
    for name in ("raw", "band"):
        a = np.array(allr[name])
        print(f"{name}: median correlation per axis (ax ay az gx gy gz): [{fmt(np.median(a, 0))}], "
              f"minimum {a.min():.3f}")


if __name__ == "__main__":
    main()
