"""``imu2safety describe FILE``: the facts and the templated pairs of one recording.

FILE is an IMU file (``.npz`` with ``accel``/``gyro``/``timestamps``/``sample_rate_hz``, or the IMU
``.csv``; ``simulator.readers.read_imu``) or a motion file (skeleton / rigid-body ``.npz``, ``.bvh``),
which is simulated first with the given ``SimulationOptions``. Without other clips there is no
comparative pair and the causal pair has no reference clip; without a label only the
description is written.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .checker import ClipInfo, check_pair
from .facts import FACT_FIELDS, compute_facts
from .templates import causal, classification, description


def load_recording(path: str | Path, sim_options=None) -> tuple[np.ndarray, float]:
    """(imu (N, 6) float32 as a dataset row stores it, rate Hz) of an IMU or motion file."""
    from ...simulator.imu import SimulationOptions, simulate
    from ...simulator.readers import read_imu, read_motion

    path = Path(path)
    is_imu = path.suffix.lower() == ".csv"
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            is_imu = "accel" in npz.files
    if is_imu:
        accel, gyro, _, rate = read_imu(path)
        imu = np.concatenate([accel, gyro], axis=1)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rec = simulate(read_motion(path), sim_options or SimulationOptions(), clip_id=path.stem)
        imu, rate = rec.as_array(), rec.sample_rate_hz
    imu = np.asarray(imu, dtype=np.float32)
    if not np.isfinite(imu).all():
        raise ValueError(f"{path}: the IMU holds NaN or Inf")
    return imu, float(rate)


def describe(imu: np.ndarray, rate: float, clip_id: str, label=None, seed: int = 0) -> tuple[dict, list[dict]]:
    """(facts, checked pairs) of one recording; ``label``: ``labels.Label`` or None."""
    facts = compute_facts(imu, rate)
    hazard, activity = (label.hazard, label.activity) if label is not None else ("none", "unknown")
    clip = ClipInfo(clip_id, hazard, activity, facts)
    pairs = [description(clip, seed)]
    if label is not None:
        pairs += [causal(clip, None, seed), classification(clip, seed)]
    return facts, [p for p in pairs if not check_pair(p, clip, {})]


def format_description(facts: dict, pairs: list[dict]) -> str:
    """Facts as a table (null facts shown as '-') followed by the pairs."""
    lines = ["facts:"]
    for name, (_, unit, meaning) in FACT_FIELDS.items():
        v = facts[name]
        shown = "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
        lines.append(f"  {name:22s} {shown:>10s} {unit:6s} {meaning}")
    for p in pairs:
        lines += ["", f"[{p['kind']}] {p['instruction']}", p["response"]]
    return "\n".join(lines)
