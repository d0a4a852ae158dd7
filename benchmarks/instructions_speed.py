"""Cost of the signal facts and the instruction pairs per clip, as ratios to simulating the clip.

Realistic work: the shipped sample motions (``samples/*.npz``, 33 clips of 4.6-7.8 s, all classes)
repeated ``--copies`` times with different seeds, so the pairs see a build-sized pool of partners.
In this one process (BLAS threads pinned to 1):

- baseline: ``simulate`` of every clip (bmi160, 50 Hz);
- ``compute_facts`` of every simulated clip;
- ``make_pairs`` over the whole pool: partner choice, four templated pairs per clip, the checker.

Timings on a shared machine are noisy; the ratios to the baseline measured in the same run are
the figures to quote.

    python benchmarks/instructions_speed.py [--copies 10]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

from imu2safety.builders.demo import samples_dir  # noqa: E402
from imu2safety.builders.instructions.checker import ClipInfo  # noqa: E402
from imu2safety.builders.instructions.facts import compute_facts  # noqa: E402
from imu2safety.builders.instructions.pairs import InstructionStats, make_pairs  # noqa: E402
from imu2safety.builders.sources.folders import folder_label  # noqa: E402
from imu2safety.simulator.imu import SimulationOptions, simulate  # noqa: E402
from imu2safety.simulator.readers import read_motion  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=10, help="copies of the 33 sample clips (default 10)")
    args = ap.parse_args()
    folder = samples_dir()
    with open(folder / "labels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    motions = [(r["file"], read_motion(folder / r["file"]), folder_label(r["label"])) for r in rows]
    jobs = [(f"{name[:-4]}~{k}", m, lab, k) for k in range(args.copies) for name, m, lab in motions]

    t0 = time.perf_counter()
    imus = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cid, motion, _, k in jobs:
            rec = simulate(motion, SimulationOptions(device="bmi160", seed=k), clip_id=cid)
            imus.append((rec.as_array().astype("float32"), rec.sample_rate_hz))
    t_sim = time.perf_counter() - t0

    t0 = time.perf_counter()
    facts = [compute_facts(imu, rate) for imu, rate in imus]
    t_facts = time.perf_counter() - t0

    index = {"train": [ClipInfo(cid, lab.hazard, lab.activity, f) for (cid, _, lab, _), f in zip(jobs, facts)]}
    stats = InstructionStats()
    t0 = time.perf_counter()
    make_pairs(index, seed=0, stats=stats)
    t_pairs = time.perf_counter() - t0

    n = len(jobs)
    print(f"{n} clips ({args.copies} x {len(motions)} sample motions), one process")
    print(f"simulate (baseline)   {1e3 * t_sim / n:7.2f} ms/clip   1.00x")
    print(f"compute_facts         {1e3 * t_facts / n:7.2f} ms/clip   {t_facts / t_sim:.2f}x")
    print(f"make_pairs (+checker) {1e3 * t_pairs / n:7.2f} ms/clip   {t_pairs / t_sim:.2f}x   "
          f"{sum(stats.pairs.values())} pairs, {sum(stats.dropped_by_checker.values())} dropped")
    print("(shared machine: absolute times vary from run to run; quote the ratios)")


if __name__ == "__main__":
    main()
