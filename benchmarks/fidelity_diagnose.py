"""Why synthetic-trained fall detectors miss on real data: one command, subject-wise.

For one simulator variant of ``fidelity_report.py`` (default ``screened+tcal``), SmartFallMM
skeletons -> synthetic left-wrist IMU, and the two real fall sets (SmartFallMM's watch, leave one
subject out; WEDA-FALL's Fitbit, leave one user out when the variant calibrates on the target),
it prints:

1. **Clip lengths** (s) per set and class: whole-clip statistics depend on how much of the clip
   an event fills;
2. **Device facts** read off the recordings (after the readers' resampling to 50 Hz): largest
   |value| per sensor and the share of samples piled up within 0.2 % of it (saturation), the
   10th percentile of |gyro| (a still device reads ~0), and the width of each clip's largest
   acceleration peak (how much filtering, on the device or in the simulation, spreads impacts);
3. **Errors per class** of the reference random forest (TSTR, held-out subjects), with the
   variant's calibration fitted per fold as the report does;
4. **The features the forest leans on** (fitted on every synthetic clip after the variant's
   calibration on every real SmartFallMM clip: a diagnosis, not a held-out figure), with their
   medians for synthetic falls / not-falls, real SmartFallMM falls it gets right / misses,
   real not-falls, and WEDA-FALL falls / not-falls;
5. **Posture at the clip's end**: share of clips whose last 15 % reads |ax| < 5 m/s^2 (the
   forearm far from vertical, e.g. lying after a fall) per set and class;
6. **Real-to-real ceiling**: the same classifiers trained on the *real* SmartFallMM watch clips
   (all subjects) and tested on WEDA-FALL, without and with the target maps (no simulation):
   what SmartFallMM's activities can teach about WEDA-FALL's at best.

    python benchmarks/fidelity_diagnose.py [--data ../shared/data] [--variant screened+tcal]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fidelity_report as fr  # noqa: E402
import tstr  # noqa: E402

FEATURE_NAMES = [f"{ch}:{s}" for ch in tstr.CHANNELS for s in tstr.STATS]


def lengths(groups: dict[str, list[np.ndarray]]) -> list[str]:
    """Per group: clips and the 10/50/90th percentile of their length in s (50 Hz)."""
    out = []
    for name, arrs in groups.items():
        d = np.array([len(a) / fr.RATE for a in arrs])
        out.append(f"  {name:28s} {len(d):4d} clips, length s p10/50/90 "
                   + " / ".join(f"{v:.1f}" for v in np.percentile(d, [10, 50, 90])))
    return out


def device_facts(name: str, arrs: list[np.ndarray]) -> str:
    """Largest |value| per sensor, share of samples within 0.2 % of it, finest value step,
    p10 of |gyro|."""
    x = np.concatenate(arrs)
    parts = []
    for label, cols in (("accel", slice(0, 3)), ("gyro", slice(3, 6))):
        v = np.abs(x[:, cols])
        top = float(v.max())
        parts.append(f"{label} max {top:.2f}, at max {np.mean(v >= 0.998 * top) * 100:.3f} %")
    g10 = np.percentile(np.linalg.norm(x[:, 3:], axis=1), 10)
    return f"  {name:14s} " + "; ".join(parts) + f"; |gyro| p10 {g10:.3f} rad/s"


def peak_width_s(imu: np.ndarray) -> float:
    """Full width at half maximum (s) of the largest | |a| - g | peak of one (N, 6) clip at 50 Hz."""
    d = np.abs(np.linalg.norm(imu[:, :3], axis=1) - 9.80665)
    p = int(np.argmax(d))
    below = np.flatnonzero(d <= d[p] / 2)
    left = below[below < p].max() if (below < p).any() else 0
    right = below[below > p].min() if (below > p).any() else len(d) - 1
    return (right - left) / fr.RATE


def per_class(clips, predictions: dict, model: str = "RF") -> str:
    """'label n/wrong' for every class, from clip index -> {classifier: prediction}."""
    counts: dict = defaultdict(lambda: [0, 0])
    for k, p in predictions.items():
        counts[clips[k].label][0] += 1
        counts[clips[k].label][1] += int(p[model] != clips[k].fall)
    return "  " + ", ".join(f"{lab} {n}/{w}" for lab, (n, w) in sorted(counts.items()))


def feature_table(sfm: fr.SourceData, syn: list[tuple], weda: fr.SourceData, calibration: str,
                  top: int = 15) -> list[str]:
    """The forest's most important features with the group medians (docstring item 4)."""
    reals = [c for c in sfm.clips if c.real is not None]
    if calibration in ("target", "robust+target"):
        syn = fr._target_calibrated(syn, [c.real for c in reals])
    elif calibration == "robust":
        syn, _ = fr._calibrated(syn, sfm.clips, {c.subject for c in reals})
    from sklearn.ensemble import RandomForestClassifier

    xs = np.array([tstr.features(imu) for _, _, imu, _ in syn])
    ys = np.array([sfm.clips[i].fall for i, _, _, _ in syn])
    rf = RandomForestClassifier(tstr.RF_TREES, random_state=0, n_jobs=1).fit(xs, ys)
    xr = np.array([tstr.features(c.real) for c in reals])
    yr = np.array([c.fall for c in reals])
    pr = rf.predict(xr)
    xw = np.array([tstr.features(c.real) for c in weda.clips]) if weda else np.zeros((0, xs.shape[1]))
    yw = np.array([c.fall for c in weda.clips]) if weda else np.zeros(0, bool)
    groups = [("syn fall", xs[ys]), ("syn not", xs[~ys]), ("SFM fall hit", xr[yr & pr]),
              ("SFM fall miss", xr[yr & ~pr]), ("SFM not", xr[~yr]), ("WEDA fall", xw[yw]),
              ("WEDA not", xw[~yw])]
    out = [f"  {'feature':17s} {'import.':>7s} " + " ".join(f"{g:>13s}" for g, _ in groups)]
    for j in np.argsort(-rf.feature_importances_)[:top]:
        med = [f"{np.median(m[:, j]):13.2f}" if len(m) else f"{'':13s}" for _, m in groups]
        out.append(f"  {FEATURE_NAMES[j]:17s} {rf.feature_importances_[j]:7.3f} " + " ".join(med))
    return out


def end_posture(arrs: list[np.ndarray]) -> float:
    """Share of clips whose median ax over the last 15 % is within +-5 m/s^2."""
    return float(np.mean([abs(np.median(a[int(0.85 * len(a)):, 0])) < 5 for a in arrs]))


def real_to_real(sfm: fr.SourceData, weda: fr.SourceData) -> list[str]:
    """Classifiers trained on every real SmartFallMM clip, tested on WEDA-FALL (docstring item 6)."""
    reals = [c for c in sfm.clips if c.real is not None]
    xr = np.array([tstr.features(c.real) for c in reals])
    yr = np.array([c.fall for c in reals])
    xw = np.array([tstr.features(c.real) for c in weda.clips])
    yw = np.array([c.fall for c in weda.clips])
    subj = np.array([c.subject for c in weda.clips])
    as_syn = [(i, 0, c.real, {}) for i, c in enumerate(reals)]
    out = []
    for m, fn in fr.CLASSIFIERS.items():
        mapped = np.empty(len(yw), dtype=bool)
        for s in np.unique(subj):  # maps from the other WEDA users, as the +tcal variants
            te = subj == s
            fold = fr._target_calibrated(as_syn, [c.real for c, t in zip(weda.clips, te) if not t])
            mapped[te] = fn(np.array([tstr.features(x) for _, _, x, _ in fold]), yr, xw[te])
        out.append(f"  {m}: {fr._f1(yw, fn(xr, yr, xw)):.3f}, with the target maps {fr._f1(yw, mapped):.3f}")
    return out


def main(argv: list[str] | None = None) -> list[str]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=fr.DEFAULT_DATA)
    p.add_argument("--variant", default="screened+tcal", help="a variant of fidelity_report.py")
    args = p.parse_args(argv)
    sfm_dir, weda_dir = args.data / "smartfallmm" / "young", args.data / "weda_fall"
    if not sfm_dir.is_dir():
        print(f"no SmartFallMM under {args.data}: nothing to diagnose")
        return []
    v = fr.make_variants()[args.variant]
    if v.learned_twist or v.twist_prior or v.fit_pronation or v.extra_negatives or v.twist_from:
        raise SystemExit(f"{args.variant}: choose a variant simulated once for all folds")
    sfm = fr.load_skeleton_source("smartfallmm", "smartfallmm-imu", sfm_dir, "left_wrist")
    weda = fr.load_weda(weda_dir) if weda_dir.is_dir() else None
    syn = fr.simulate_source(sfm, sfm.clips, v)
    reals = [c for c in sfm.clips if c.real is not None]
    lines = [f"variant {args.variant}", "1. clip lengths"]
    groups = {"synthetic SmartFallMM fall": [imu for i, _, imu, _ in syn if sfm.clips[i].fall],
              "synthetic SmartFallMM not": [imu for i, _, imu, _ in syn if not sfm.clips[i].fall],
              "real SmartFallMM fall": [c.real for c in reals if c.fall],
              "real SmartFallMM not": [c.real for c in reals if not c.fall]}
    if weda:
        groups |= {"real WEDA-FALL fall": [c.real for c in weda.clips if c.fall],
                   "real WEDA-FALL not": [c.real for c in weda.clips if not c.fall]}
    lines += lengths(groups)
    lines += ["2. device facts (50 Hz after the readers' resampling)",
              device_facts("synthetic", [imu for _, k, imu, _ in syn if k == 0]),
              device_facts("SmartFallMM", [c.real for c in reals])]
    if weda:
        lines.append(device_facts("WEDA-FALL", [c.real for c in weda.clips]))
    lines.append("   width of each clip's largest | |a| - g | peak (s, half maximum), p25/50/75:")
    lines += [f"  {name:28s} " + " / ".join(f"{v:.2f}" for v in np.percentile(
        [peak_width_s(a) for a in arrs], [25, 50, 75])) for name, arrs in groups.items()]
    lines.append("3. RF TSTR errors per class (class clips/wrong), held-out subjects")
    pred: dict = {}
    res = fr.tstr_loso(sfm, syn, "fall", v.calibration, length_match=v.length_match, predictions=pred)
    lines += [f"  SmartFallMM (RF {res['RF-TSTR']:.3f}, LR {res['LR-TSTR']:.3f}):",
              per_class(sfm.clips, pred)]
    if weda:
        pred = {}
        res = fr.tstr_weda(sfm, syn, weda, v.calibration, v.length_match, predictions=pred)
        lines += [f"  WEDA-FALL (RF {res['RF-TSTR']:.3f}, LR {res['LR-TSTR']:.3f}):",
                  per_class(weda.clips, pred)]
    lines.append("4. features the forest leans on (medians per group; fitted on all synthetic clips)")
    lines += feature_table(sfm, syn, weda, v.calibration)
    lines.append("5. clips ending with the forearm far from vertical (|ax| < 5 m/s^2 over the last 15 %)")
    lines += [f"  {name:28s} {end_posture(arrs):.2f}" for name, arrs in groups.items()]
    if weda:
        lines.append("6. real SmartFallMM watch clips (all subjects) -> WEDA-FALL, macro-F1")
        lines += real_to_real(sfm, weda)
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
