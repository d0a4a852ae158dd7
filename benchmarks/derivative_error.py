"""Errors of the two derivative methods on closed-form motions (noise-free, ideal device).

For each motion and method ("spline": low-pass + quintic spline; "savgol": Savitzky-Golay),
prints the maximum absolute error of the simulated accelerometer (m/s^2) and gyroscope (rad/s)
against the analytic answer, inside the clip (first and last 0.5 s excluded) and over all of it.

    python benchmarks/derivative_error.py [--fps 30] [--rate 50]
"""

from __future__ import annotations

import argparse

import numpy as np

from imu2safety.simulator.imu import SimulationOptions, simulate
from imu2safety.simulator.motion import G, Motion
from imu2safety.simulator.placement import Mounting

NAMES = ("left_shoulder", "left_elbow", "left_wrist")


def circle(t):
    """Forearm (0.3 m) swept about the vertical at 0.5 rev/s; returns joints and the answer."""
    L, W, e = 0.3, np.pi, np.array([0.0, 0.0, 1.1])
    u = np.stack([np.cos(W * t), np.sin(W * t), 0 * t], 1)
    pos = np.stack([np.broadcast_to(e + [0, 0, .3], u.shape), np.broadcast_to(e, u.shape), e + L * u], 1)
    return pos, lambda ts: (np.tile([-W * W * L, -G, 0.0], (len(ts), 1)),
                            np.tile([0.0, -W, 0.0], (len(ts), 1)))


def swing(t, f=1.0, A=0.6, L=0.28):
    """Forearm swinging in a vertical plane, theta = A sin(2 pi f t)."""
    e = np.array([0.0, 0.3, 1.0])
    th = A * np.sin(2 * np.pi * f * t)
    u = np.stack([np.cos(th), 0 * th, np.sin(th)], 1)
    pos = np.stack([np.broadcast_to(e + [0, 0, .3], u.shape), np.broadcast_to(e, u.shape), e + L * u], 1)

    def answer(ts):
        w = 2 * np.pi * f
        th, thd, thdd = A * np.sin(w * ts), A * w * np.cos(w * ts), -A * w * w * np.sin(w * ts)
        u = np.stack([np.cos(th), 0 * th, np.sin(th)], 1)
        n = np.stack([-np.sin(th), 0 * th, np.cos(th)], 1)
        p_dd = L * (thdd[:, None] * n - thd[:, None] ** 2 * u)
        R = np.stack([u, -n, np.cross(n, u)], axis=-1)
        return np.einsum("nji,nj->ni", R, p_dd + [0, 0, G]), np.stack([0 * ts, 0 * ts, -thd], 1)
    return pos, answer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=50.0)
    args = ap.parse_args()
    t = np.arange(int(6 * args.fps)) / args.fps
    print(f"skeleton {args.fps:g} fps -> {args.rate:g} Hz; max |error| inside (all)")
    for name, fn in (("horizontal circle", circle), ("1 Hz swing", swing),
                     ("3 Hz swing", lambda t: swing(t, f=3.0, A=0.3))):
        pos, answer = fn(t)
        motion = Motion(pos, NAMES, t)
        for method in ("spline", "savgol"):
            rec = simulate(motion, SimulationOptions(rate_hz=args.rate, derivative=method,
                                                     mounting=Mounting()))
            ea, ew = answer(rec.timestamps)
            inner = (rec.timestamps > 0.5) & (rec.timestamps < rec.timestamps[-1] - 0.5)
            da, dw = np.abs(rec.accel - ea).max(1), np.abs(rec.gyro - ew).max(1)
            print(f"  {name:18s} {method:6s} accel {da[inner].max():.2e} ({da.max():.2e}) m/s^2   "
                  f"gyro {dw[inner].max():.2e} ({dw.max():.2e}) rad/s")


if __name__ == "__main__":
    main()
