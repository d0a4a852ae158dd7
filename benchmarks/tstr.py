"""Train on synthetic, test on real (TSTR) next to train on real, test on real (TRTR).

From the real recordings in ``../shared/data`` four configs are built with ``build(...)`` into a
temp folder and read back with ``datasets.load_dataset``:

- ``utd-mhad`` (skeletons simulated at the right wrist, 50 Hz) and ``utd-mhad-imu`` (the real
  right-wrist sensor); actions a1-a21 (a22-a27 wore the sensor on the thigh);
- ``smartfallmm`` (skeletons simulated at the left wrist: the watch placement documented in
  ``builders/sources/smartfallmm_imu.py``) and ``smartfallmm-imu`` (the real watch).

Fixed classifiers, no tuning, on per-channel features (mean, std, min, max, 10/25/50/75/90th
percentiles, mean square, mean |first difference|) of ax ay az gx gy gz |a| |g| resampled to
50 Hz: the reference classifier of issue 12, a random forest (scikit-learn, 150 trees, seed 0,
``--classifier rf``, the default), or an L2-regularised multinomial logistic regression on the
features standardised with the training set's statistics, fitted by L-BFGS (scipy.optimize;
``--classifier lr``). A second row per task uses only the |a| and |g| features, which do not
depend on how the sensor axes are defined.

Subject-wise evaluation: train on the train + validation subjects, test on the test subjects of
the project's splits (``builders/splits.py``); when the test split holds no subject (only odd
UTD-MHAD subjects are in ``../shared/data``) or ``--loso`` is given: leave one subject out,
pooling the predictions over folds. TSTR trains on the synthetic clips of the training
subjects, TRTR on their real clips; both are tested on the same real clips. TSTR-cal is TSTR
after the simulator's sim-to-real calibration (one mounting rotation + per-channel quantile
maps, ``simulator/calibration.py``) fitted in each fold on the training subjects' paired
synthetic/real clips only, as ``imu2safety calibrate`` would.

Tasks: UTD-MHAD 21 actions; SmartFallMM fall vs not fall (hazard falling or fainting); SmartFallMM 14
activities. Printed: accuracy and macro-F1 of TSTR and TRTR, and chance (majority class and
uniform guessing).

    python benchmarks/tstr.py [--data ../shared/data] [--device ideal] [--loso] [--workdir DIR]
        [--classifier rf|lr]
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import argparse  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RATE_HZ = 50.0
#: L2 penalty of the logistic regression (on standardised features), per training clip.
L2 = 1e-2
STATS = ("mean", "std", "min", "max", "p10", "p25", "p50", "p75", "p90", "mean_square", "mean_abs_diff")
CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz", "|a|", "|g|")


@dataclass
class Clips:
    """Clips of one config: features (n, F), subject (n,), source_label (n,), fall (n,) bool,
    clip id (n,), and the 50 Hz IMU (n arrays (N, 6)) for the calibrated variant."""

    features: np.ndarray
    subject: np.ndarray
    label: np.ndarray
    fall: np.ndarray
    ids: np.ndarray
    imus: list


# ---------------------------------------------------------------- features

def resample(imu: np.ndarray, rate_hz: float, target_hz: float = RATE_HZ) -> np.ndarray:
    """(N, 6) at ``rate_hz`` -> (M, 6) at ``target_hz`` by linear interpolation (same span)."""
    if abs(rate_hz - target_hz) < 1e-6:
        return imu
    t = np.arange(len(imu)) / rate_hz
    t_new = np.arange(int(np.floor(t[-1] * target_hz)) + 1) / target_hz
    return np.stack([np.interp(t_new, t, imu[:, k]) for k in range(imu.shape[1])], axis=1)


def features(imu: np.ndarray) -> np.ndarray:
    """(N, 6) ax ay az (m/s^2) gx gy gz (rad/s) -> (len(CHANNELS) * len(STATS),) features."""
    x = np.column_stack([imu, np.linalg.norm(imu[:, :3], axis=1), np.linalg.norm(imu[:, 3:], axis=1)])
    pct = np.percentile(x, [10, 25, 50, 75, 90], axis=0)
    diff = np.abs(np.diff(x, axis=0)).mean(axis=0) if len(x) > 1 else np.zeros(x.shape[1])
    stats = [x.mean(0), x.std(0), x.min(0), x.max(0), *pct, (x * x).mean(0), diff]
    return np.stack(stats, axis=1).reshape(-1)  # channel-major: F = channel * len(STATS) + stat


def norm_columns() -> np.ndarray:
    """Feature columns of the |a| and |g| channels (independent of the sensor axes)."""
    return np.concatenate([np.arange(len(STATS)) + c * len(STATS) for c in (6, 7)])


# ---------------------------------------------------------------- classifier

def fit_logistic(x: np.ndarray, y: np.ndarray, k: int, l2: float = L2) -> np.ndarray:
    """Multinomial logistic regression: (F + 1, k) weights (last row: bias); y in 0..k-1."""
    n, f = x.shape
    xb = np.column_stack([x, np.ones(n)])
    onehot = np.eye(k)[y]

    def loss(w_flat: np.ndarray):
        w = w_flat.reshape(f + 1, k)
        z = xb @ w
        lse = logsumexp(z, axis=1)
        p = np.exp(z - lse[:, None])
        reg = 0.5 * l2 * (w[:-1] ** 2).sum()
        grad = xb.T @ (p - onehot) / n
        grad[:-1] += l2 * w[:-1]
        return (lse - (z * onehot).sum(1)).mean() + reg, grad.reshape(-1)

    res = minimize(loss, np.zeros((f + 1) * k), jac=True, method="L-BFGS-B",
                   options={"maxiter": 2000})
    return res.x.reshape(f + 1, k)


def predict(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.argmax(np.column_stack([x, np.ones(len(x))]) @ w, axis=1)


#: The reference random forest of issue 12 (fixed: 150 trees, seed 0, one job).
RF_TREES = 150


def rf_predict(x_train, y_train, x_test, k: int | None = None, seed: int = 0) -> np.ndarray:
    """Random forest (``RF_TREES`` trees, ``seed``: 0 for the reference) fitted on the training
    rows; test predictions."""
    from sklearn.ensemble import RandomForestClassifier

    rf = RandomForestClassifier(n_estimators=RF_TREES, random_state=seed, n_jobs=1)
    return rf.fit(x_train, y_train).predict(x_test)


def train_predict(x_train, y_train, x_test, k: int) -> np.ndarray:
    """Logistic regression: standardise with the training statistics, fit, predict the test rows."""
    mu, sd = x_train.mean(0), x_train.std(0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    w = fit_logistic((x_train - mu) / sd, y_train, k)
    return predict(w, (x_test - mu) / sd)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean F1 over the classes present in y_true or y_pred."""
    scores = []
    for c in np.union1d(y_true, y_pred):
        tp = np.sum((y_pred == c) & (y_true == c))
        denom = np.sum(y_pred == c) + np.sum(y_true == c)
        scores.append(2.0 * tp / denom if denom else 0.0)
    return float(np.mean(scores))


# ---------------------------------------------------------------- data

def build_config(source: str, input_dir: Path, out_root: Path, placement: str, device: str):
    """Build one config into ``out_root/source``; returns the datasets.DatasetDict."""
    import datasets

    from imu2safety.builders.build import BuildOptions, build

    out = out_root / source
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # repair notes of individual clips (they are in the report)
        res = build(BuildOptions(source=source, input_dir=input_dir, output_dir=out,
                                 placement=placement, device=device), progress=False)
    rep = res.report
    print(f"  built {source:16s} {rep['inputs']:4d} inputs = {rep['inputs_written']} written + "
          f"{rep['inputs_skipped']} skipped, {sum(rep['rows'].values())} rows, {res.seconds:.1f} s")
    datasets.disable_progress_bars()
    return datasets.load_dataset(str(out), source, cache_dir=str(out_root / "hf_cache"))


def to_clips(dsd, keep_labels: set[str] | None = None) -> Clips:
    """Features of every row of every split (optionally only ``keep_labels``). A clip is a fall
    when its hazard is in ``labels.FALL_HAZARDS`` (losing balance, e.g. a stumble, is not)."""
    from imu2safety.builders.labels import FALL_HAZARDS, HAZARD_NAMES

    feats, subj, lab, fall, ids, imus = [], [], [], [], [], []
    for split in dsd:
        ds = dsd[split].with_format("numpy", columns=["imu", "sample_rate_hz"], output_all_columns=True)
        for row in ds:
            if keep_labels is not None and row["source_label"] not in keep_labels:
                continue
            imu = resample(np.asarray(row["imu"], dtype=np.float64).reshape(-1, 6),
                           float(row["sample_rate_hz"]))
            feats.append(features(imu))
            imus.append(imu)
            ids.append(row["id"])
            subj.append(row["subject"])
            lab.append(row["source_label"])
            fall.append(HAZARD_NAMES[int(row["hazard"])] in FALL_HAZARDS)
    return Clips(np.array(feats), np.array(subj), np.array(lab), np.array(fall), np.array(ids), imus)


def calibrated_features(synth: Clips, real: Clips, train_subjects) -> np.ndarray | None:
    """Features of the synthetic clips after a sim-to-real calibration (mounting rotation and
    quantile maps) fitted only on the paired clips of ``train_subjects``; None if too few pairs."""
    from imu2safety.simulator.calibration import fit_calibration

    real_by_id = {i: k for k, i in enumerate(real.ids)}
    pairs = [(synth.imus[k], real.imus[real_by_id[i]]) for k, i in enumerate(synth.ids)
             if i in real_by_id and synth.subject[k] in train_subjects]
    if len(pairs) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = fit_calibration(pairs, max_lag=50)
    out = []
    for imu in synth.imus:
        a, g = cal.rotate(imu[:, :3], imu[:, 3:])
        a, g = cal.map_quantiles(a, g)
        out.append(features(np.concatenate([a, g], axis=1)))
    return np.array(out)


def subject_splits(dsd) -> dict[str, str]:
    """subject -> split, from the split each row was written to."""
    return {s: split for split in dsd for s in set(dsd[split]["subject"])}


# ---------------------------------------------------------------- evaluation

CLASSIFIERS = {"rf": rf_predict, "lr": train_predict}


def evaluate(synth: Clips, real: Clips, target: str, splits: dict[str, str], loso: bool,
             columns: np.ndarray | None = None, classifier: str = "rf") -> dict:
    """TSTR and TRTR predictions on the real clips of the test subjects (or of each LOSO fold)."""
    y_real_raw = real.fall if target == "fall" else real.label
    y_syn_raw = synth.fall if target == "fall" else synth.label
    classes = np.unique(np.concatenate([y_real_raw, y_syn_raw]))
    y_real, y_syn = np.searchsorted(classes, y_real_raw), np.searchsorted(classes, y_syn_raw)
    cols = slice(None) if columns is None else columns
    test_subjects = sorted(s for s in set(real.subject) if splits.get(s) == "test")
    if loso or not test_subjects:
        folds = [[s] for s in sorted(set(real.subject))]
        protocol = "leave one subject out over " + ", ".join(f[0] for f in folds)
    else:
        folds = [test_subjects]
        protocol = f"train on train+validation subjects, test on {', '.join(test_subjects)}"
    truth, pred = [], {"TSTR": [], "TSTR-cal": [], "TRTR": []}
    train_sizes = {name: 0 for name in pred}
    for fold in folds:
        test = np.isin(real.subject, fold)
        train_real = ~test
        train_syn = ~np.isin(synth.subject, fold)
        truth.append(y_real[test])
        calibrated = calibrated_features(synth, real, set(real.subject[train_real]))
        if calibrated is None:
            calibrated = synth.features
        for name, xs, ys, mask in (("TSTR", synth.features, y_syn, train_syn),
                                   ("TSTR-cal", calibrated, y_syn, train_syn),
                                   ("TRTR", real.features, y_real, train_real)):
            pred[name].append(CLASSIFIERS[classifier](xs[mask][:, cols], ys[mask],
                                                      real.features[test][:, cols], len(classes)))
            train_sizes[name] += int(mask.sum())
    y = np.concatenate(truth)
    out = {"protocol": protocol, "classifier": classifier, "classes": len(classes), "test_clips": len(y),
           "chance_majority": float(np.bincount(y).max() / len(y)),
           "chance_uniform": 1.0 / len(classes)}
    for name, p in pred.items():
        p = np.concatenate(p)
        out[name] = {"accuracy": float(np.mean(p == y)), "macro_f1": macro_f1(y, p),
                     "train_clips_per_fold": train_sizes[name] / len(folds)}
    return out


def _print_task(title: str, results: dict[str, dict]) -> None:
    first = next(iter(results.values()))
    print(f"\n{title}: {first['classes']} classes, {first['test_clips']} real test clips "
          f"({first['protocol']}; classifier {first['classifier']})")
    print(f"  chance: majority class accuracy {first['chance_majority']:.3f}, uniform guess "
          f"accuracy {first['chance_uniform']:.3f}")
    print(f"  {'features':10s} {'setting':8s} {'train clips':>11s} {'accuracy':>9s} {'macro-F1':>9s}")
    for feats, r in results.items():
        for name in ("TSTR", "TSTR-cal", "TRTR"):
            print(f"  {feats:10s} {name:8s} {r[name]['train_clips_per_fold']:11.0f} "
                  f"{r[name]['accuracy']:9.3f} {r[name]['macro_f1']:9.3f}")


def main(argv: list[str] | None = None) -> dict | None:
    """Build, featurise, evaluate, print; returns {task: {feature set: figures}} (None: no data)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help=f"real data folder (default {DEFAULT_DATA})")
    p.add_argument("--device", default="ideal",
                   help="device profile of the synthetic data (default ideal)")
    p.add_argument("--loso", action="store_true", help="leave one subject out for every task")
    p.add_argument("--workdir", type=Path, default=None, help="parent of the temp folder")
    p.add_argument("--keep", action="store_true", help="keep the built datasets")
    p.add_argument("--classifier", choices=sorted(CLASSIFIERS), default="rf",
                   help="rf: the reference random forest (default); lr: logistic regression")
    args = p.parse_args(argv)

    utd = args.data / "utd_mhad" / "data"
    sfm = args.data / "smartfallmm" / "young"
    if not (utd.is_dir() or sfm.is_dir()):
        print(f"real data folder {args.data} (utd_mhad/data, smartfallmm/young) is absent: "
              "nothing to evaluate. Pass --data DIR.")
        return None
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="imu2safety-tstr-", dir=args.workdir))
    results: dict[str, dict] = {}
    try:
        print(f"building into {tmp} (synthetic device: {args.device})")
        tasks = []
        if utd.is_dir():
            syn = build_config("utd-mhad", utd, tmp, "right_wrist", args.device)
            real = build_config("utd-mhad-imu", utd, tmp, "right_wrist", args.device)
            wrist = {f"a{k}" for k in range(1, 22)}
            tasks.append(("UTD-MHAD actions a1-a21", "label", to_clips(syn, wrist),
                          to_clips(real, wrist), subject_splits(real)))
        else:
            print(f"  {utd} is absent: UTD-MHAD skipped")
        if sfm.is_dir():
            syn = build_config("smartfallmm", sfm, tmp, "left_wrist", args.device)
            real = build_config("smartfallmm-imu", sfm, tmp, "left_wrist", args.device)
            s, r, sp = to_clips(syn), to_clips(real), subject_splits(real)
            tasks.append(("SmartFallMM fall vs not fall", "fall", s, r, sp))
            tasks.append(("SmartFallMM 14 activities", "label", s, r, sp))
        else:
            print(f"  {sfm} is absent: SmartFallMM skipped")
        for title, target, s, r, sp in tasks:
            results[title] = {
                "all": evaluate(s, r, target, sp, args.loso, classifier=args.classifier),
                "|a|,|g|": evaluate(s, r, target, sp, args.loso, norm_columns(), args.classifier),
            }
            _print_task(title, results[title])
        return results
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
