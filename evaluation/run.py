"""``imu2safety benchmark run``: train the shipped baselines on every task, write results.md.

For each task whose real data is under ``--data`` (the layout of ``../shared/data``):

1. the benchmark folder is prepared (``prepare.prepare``) with the source's official test
   subjects; when none of them is in the data (UTD-MHAD here: only odd subjects, the test split
   is the even ones), leave-one-subject-out over the subjects present instead, predictions
   pooled over the folds;
2. synthetic training windows come from builds of the task's skeleton source (cached under the
   work dir, keyed by their options and the simulator version), without the test subjects of
   the fold when the skeletons are of the same people;
3. protocols, each scored on the same real test windows: TSTR (synthetic only), TRTR (real
   training subjects), few-shot (synthetic + the first k real training subjects), cross-dataset
   (real windows of another dataset), and the sim-to-real ablation as TSTR with: the ideal
   device, a device noise model (bmi160), placement jitter (``build --augment 2``: jittered
   mounting, every second copy mirrored), a calibration fitted on a small real set (the paired
   clips of two real training subjects of the skeleton source: mounting rotation + quantile
   maps, ``simulator.calibration``), and window augmentation (``baselines.augment_windows``).

Everything is seeded and printed without timestamps: the same command gives the same file.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .baselines import augment_windows, predictions, train
from .prepare import Trial, prepare, read_built, read_trials, window_trials
from .scoring import Submission, format_markdown, read_submission, score
from .tasks import PROTOCOL_VERSION, TASKS, Task, Windows, get_task, load_windows

logger = logging.getLogger(__name__)

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: Where each real source and skeleton source lives under the data root.
REAL_DIRS = {"weda-fall": "weda_fall/dataset", "smartfallmm-imu": "smartfallmm/young",
             "up-fall": "up_fall", "utd-mhad-imu": "utd_mhad/data"}
SKELETON_DIRS = {"smartfallmm": "smartfallmm/young", "utd-mhad": "utd_mhad/data"}
#: The skeleton source's real twin (paired clips for the calibration).
TWINS = {"smartfallmm": "smartfallmm-imu", "utd-mhad": "utd-mhad-imu"}
#: Real data of another dataset for the cross-dataset protocol.
CROSS = {"fall-weda": "smartfallmm-imu", "hazard-weda": "smartfallmm-imu",
         "fall-smartfallmm": "weda-fall", "fall-upfall": "smartfallmm-imu"}
FEW_SHOT_K = (1, 2)
CALIBRATION_SUBJECTS = 2
DEVICE_NOISE = "bmi160"
JITTER_COPIES = 2


@dataclass
class Row:
    """One trained model's pooled predictions on a task's test windows."""

    name: str
    protocol: str
    model: str
    training: str                       # "synthetic only" | "real" | "both"
    train_windows: list[int] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)
    result: dict | None = None
    note: str = ""


# ---------------------------------------------------------------- cached builds

def build_cached(source: str, input_dir: Path, workdir: Path, placement: str, device: str = "ideal",
                 augment: int = 0) -> Path:
    """Build a skeleton config once per (source, placement, device, augment, simulator version)."""
    from ..builders.build import BuildOptions, build
    from ..simulator.imu import SIMULATOR_VERSION

    key = f"{source}-{placement}-{device}-aug{augment}-sim{SIMULATOR_VERSION}"
    out = workdir / "builds" / key
    done = out / "benchmark_done.json"
    if not done.is_file():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # per-clip repair notes are in the build's report
            build(BuildOptions(source=source, input_dir=input_dir, output_dir=out, placement=placement,
                               device=device, augment=augment, num_proc=1), progress=False)
        done.write_text(json.dumps({"key": key}) + "\n")
    return out


# ---------------------------------------------------------------- data of one task

_CACHE: dict[tuple, object] = {}


def _real_trials(task: Task, folder: Path, source: str | None = None, rate_hz: float | None = None):
    """``read_trials`` of ``source`` (default the task's) at ``rate_hz``, read once per run."""
    t = Task(**{**task.__dict__, "source": source or task.source,
                "sample_rate_hz": rate_hz or task.sample_rate_hz})
    key = ("real", t.source, str(folder), t.sample_rate_hz)
    if key not in _CACHE:
        _CACHE[key] = read_trials(t, folder)
    return _CACHE[key]


def _built_trials(out: Path, config: str) -> list[Trial]:
    key = ("built", str(out), config)
    if key not in _CACHE:
        _CACHE[key] = read_built(out, config)
    return _CACHE[key]

@dataclass
class TaskData:
    task: Task
    real_dir: Path
    skeleton_dir: Path | None
    folds: list[list[str] | None]
    note: str


def _plan(task: Task, data: Path) -> TaskData | str:
    real_dir = data / REAL_DIRS[task.source]
    if not real_dir.exists():
        return f"{task.source} data absent (no {REAL_DIRS[task.source]} under the data folder)"
    skel = data / SKELETON_DIRS[task.synthetic]
    trials, _ = _real_trials(task, real_dir)
    subjects = sorted({t.subject for t in trials if task.label_of(t.hazard, t.activity) is not None})
    official = sorted({t.subject for t in trials if t.split == "test"} & set(subjects))
    if official:
        folds = [None]
        note = f"official test subject(s) {', '.join(official)}"
        if len(official) == 1:
            note += " (one subject: no confidence intervals)"
    else:
        folds = [[s] for s in subjects]
        note = (f"leave one subject out over {', '.join(subjects)}, predictions pooled (no "
                f"official test subject is in the data)")
    return TaskData(task, real_dir, skel if skel.exists() else None, folds, note)


def _calibrate(task: Task, synthetic: list[Trial], twin_dir: Path, exclude: set[str]):
    """Calibration fitted on the paired clips of the first CALIBRATION_SUBJECTS real subjects of
    the skeleton source (none of them a test subject); None when fewer than 3 pairs."""
    from ..simulator.calibration import fit_calibration

    rate = synthetic[0].rate_hz if synthetic else task.sample_rate_hz
    real, _ = _real_trials(task, twin_dir, TWINS[task.synthetic], rate)
    real = [t for t in real if t.subject not in exclude]
    subjects = sorted({t.subject for t in real})[:CALIBRATION_SUBJECTS]
    syn_by_id = {t.id: t for t in synthetic}
    pairs = [(syn_by_id[t.id].imu, t.imu) for t in real
             if t.subject in subjects and t.id in syn_by_id and abs(t.rate_hz - syn_by_id[t.id].rate_hz) < 1e-6]
    if len(pairs) < 3:
        return None, subjects
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_calibration(pairs, max_lag=50), subjects


def _calibrated(trials: list[Trial], cal) -> list[Trial]:
    out = []
    for t in trials:
        a, g = cal.rotate(t.imu[:, :3], t.imu[:, 3:])
        a, g = cal.map_quantiles(a, g)
        out.append(Trial(t.id, t.subject, t.split, t.hazard, t.activity,
                         np.concatenate([a, g], axis=1), t.rate_hz, t.event_s))
    return out


def _windows(trials: list[Trial], task: Task, exclude: set[str]) -> Windows:
    return window_trials([t for t in trials if t.subject not in exclude], task, require_events=False)[0]


# ---------------------------------------------------------------- one task

def evaluate_task(td: TaskData, workdir: Path, data: Path, log) -> tuple[dict[str, Row], Windows]:
    """Train every protocol on every fold; returns rows with pooled predictions and the pooled
    test windows."""
    task = td.task
    rows: dict[str, Row] = {}

    def add(name, protocol, model, training, windows: Windows | None, test: Windows, note="",
            seed: int = 0):
        row = rows.setdefault(name, Row(name, protocol, model, training, note=note))
        if windows is None or len(windows) == 0 or len(np.unique(windows.labels)) < 2:
            row.note = row.note or "no usable training windows"
            row.lines = None
            return
        if row.lines is None:
            return
        t0 = time.perf_counter()
        m = train(model, windows, seed=seed)
        row.lines += predictions(m, test)
        row.train_windows.append(len(windows))
        log(f"  {task.name} {name}: {len(windows)} training windows, {time.perf_counter() - t0:.1f} s")

    synth: dict[str, list[Trial]] = {}
    if td.skeleton_dir is not None:
        for variant, device, augment in (("ideal", "ideal", 0), ("device", DEVICE_NOISE, 0),
                                          ("jitter", "ideal", JITTER_COPIES)):
            out = build_cached(task.synthetic, td.skeleton_dir, workdir, task.placement, device, augment)
            synth[variant] = _built_trials(out, task.synthetic)
    same_people = not task.cross_dataset
    cross_trials = None
    if task.name in CROSS and (data / REAL_DIRS[CROSS[task.name]]).exists():
        cross_trials = _real_trials(task, data / REAL_DIRS[CROSS[task.name]], CROSS[task.name])[0]
    tests = []
    for k, fold in enumerate(td.folds):
        bench = workdir / "bench" / task.name / ("official" if fold is None else f"fold-{fold[0]}")
        prepare(task, td.real_dir, bench, test_subjects=fold, trials=_real_trials(task, td.real_dir))
        test, real_train = load_windows(bench, "test"), load_windows(bench, "train")
        tests.append(test)
        exclude = set(test.subjects.tolist()) if same_people else set()
        syn = _windows(synth["ideal"], task, exclude) if synth else None
        for model in ("gbm", "cnn"):
            add(f"TSTR {model}", "TSTR", model, "synthetic only", syn, test)
            add(f"TRTR {model}", "TRTR", model, "real", real_train, test)
        train_subjects = sorted(set(real_train.subjects.tolist()))
        for k_real in FEW_SHOT_K:
            few = real_train.select(np.isin(real_train.subjects, train_subjects[:k_real]))
            both = Windows.concatenate([syn, few], task) if syn is not None else None
            add(f"few-shot k={k_real} gbm", f"few-shot (synthetic + {k_real} real subject(s))",
                "gbm", "both", both, test)
        if task.name in CROSS:
            cross = _windows(cross_trials, task, set()) if cross_trials else None
            add("cross-dataset gbm", f"cross-dataset (real {CROSS[task.name]})", "gbm", "real",
                cross, test, note="" if cross_trials else f"{CROSS[task.name]} data absent")
        if synth:
            add(f"ablation: device noise ({DEVICE_NOISE})", "TSTR", "gbm", "synthetic only",
                _windows(synth["device"], task, exclude), test)
            add(f"ablation: placement jitter (augment {JITTER_COPIES})", "TSTR", "gbm",
                "synthetic only", _windows(synth["jitter"], task, exclude), test)
            twin_dir = data / SKELETON_DIRS[task.synthetic]
            cal, cal_subjects = _calibrate(task, synth["ideal"], twin_dir, exclude)
            name = "ablation: calibration (2 real subjects)"
            if cal is None:
                add(name, "TSTR", "gbm", "both", None, test, note="too few paired clips")
            else:
                rows.setdefault(name, Row(name, "TSTR", "gbm", "both",
                                          note=f"fitted on {', '.join(cal_subjects)}"))
                add(name, "TSTR", "gbm", "both", _windows(_calibrated(synth["ideal"], cal), task,
                                                           exclude), test)
            add("ablation: window augmentation", "TSTR", "gbm", "synthetic only",
                augment_windows(syn, seed=k), test)
    if synth:  # the ideal-device row is the TSTR gbm model itself: not trained twice
        rows["ablation: ideal device"] = replace(rows["TSTR gbm"], name="ablation: ideal device")
    pooled = Windows.concatenate(tests, task)
    return rows, pooled


def _score_lines(pooled: Windows, lines: list[dict], resamples: int) -> dict:
    by_id = {line["id"]: line for line in lines}
    ordered = [by_id[i] for i in pooled.ids.tolist()]
    scores = np.array([ln["score"] for ln in ordered]) if ordered and "score" in ordered[0] else None
    return score(pooled, Submission(np.array([ln["label"] for ln in ordered]), scores), resamples)


# ---------------------------------------------------------------- report

def _fmt(result: dict, key: str) -> str:
    v = result.get(key)
    if v is None:
        return "n/a"
    ci = result.get(f"{key}_ci95")
    return f"{v:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def _plots(task: Task, rows: dict[str, Row], fig_dir: Path, rel: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_dir.mkdir(parents=True, exist_ok=True)
    md = []
    scored = [r for r in rows.values() if r.result is not None and r.name in ("TSTR gbm", "TRTR gbm")]
    if scored:
        fig, axes = plt.subplots(1, len(scored), figsize=(4.2 * len(scored) + 0.6 * (len(task.labels) > 4) * 4,
                                                        3.8 + 0.25 * len(task.labels)))
        axes = np.atleast_1d(axes)
        for ax, r in zip(axes, scored):
            cm = np.array(r.result["confusion"]["matrix"], dtype=float)
            norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
            ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
            ticks = range(len(task.labels))
            short = [lab[:14] for lab in task.labels]
            ax.set_xticks(ticks, short, rotation=90, fontsize=6 if len(ticks) > 4 else 8)
            ax.set_yticks(ticks, short, fontsize=6 if len(ticks) > 4 else 8)
            if len(ticks) <= 4:
                for i in ticks:
                    for j in ticks:
                        ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=8)
            ax.set_title(f"{r.name}: macro-F1 {r.result['macro_f1']:.2f}", fontsize=9)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
        fig.tight_layout()
        name = f"{task.name}_confusion.png"
        fig.savefig(fig_dir / name, dpi=90, metadata={"Software": None})
        plt.close(fig)
        md.append(f"![confusion matrices, {task.name}]({rel}/{name})")
    curves = [r for r in rows.values() if r.result is not None and r.result.get("auroc") is not None]
    if curves:
        fig, ax = plt.subplots(figsize=(5, 4.5))
        for r in curves:
            ax.plot(*r.result["roc"], label=f"{r.name} ({r.result['auroc']:.2f})", lw=1)
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_title(f"{task.name}: ROC (AUROC)", fontsize=9)
        ax.legend(fontsize=6, loc="lower right")
        fig.tight_layout()
        name = f"{task.name}_roc.png"
        fig.savefig(fig_dir / name, dpi=90, metadata={"Software": None})
        plt.close(fig)
        md.append(f"![ROC curves, {task.name}]({rel}/{name})")
    return md


def _roc(pooled: Windows, lines: list[dict]) -> tuple[list[float], list[float]] | None:
    by_id = {line["id"]: line for line in lines}
    if "score" not in lines[0]:
        return None
    y = np.array([lab in pooled.task.positive for lab in pooled.labels.tolist()])
    s = np.array([by_id[i]["score"] for i in pooled.ids.tolist()])
    if y.all() or not y.any():
        return None
    thresholds = np.r_[np.inf, np.unique(s)[::-1]]
    tpr = [float((s[y] >= t).mean()) for t in thresholds]
    fpr = [float((s[~y] >= t).mean()) for t in thresholds]
    return fpr, tpr


def _table(rows: list[Row], binary: bool) -> list[str]:
    head = "| model | training data | train windows | macro-F1 [95 % CI] | accuracy |"
    sep = "|---|---|---|---|---|"
    if binary:
        head += " sensitivity | specificity | false alarms / h | AUROC | AUPRC |"
        sep += "---|---|---|---|---|"
    out = [head, sep]
    for r in rows:
        if r.result is None:
            out.append(f"| {r.name} | {r.training} | - | not run: {r.note} |" + " |" * (6 if binary else 1))
            continue
        n = "/".join(str(x) for x in r.train_windows) if len(set(r.train_windows)) > 1 else str(r.train_windows[0])
        cells = [r.name + (f" ({r.note})" if r.note else ""), r.training, n,
                 _fmt(r.result, "macro_f1"), _fmt(r.result, "accuracy")]
        if binary:
            cells += [_fmt(r.result, k) for k in ("sensitivity", "specificity",
                                                   "false_alarms_per_hour", "auroc", "auprc")]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _read_submissions(dirs: list[Path]) -> list[dict]:
    subs = []
    for d in dirs:
        meta_path = Path(d) / "submission.json"
        if not meta_path.is_file():
            raise ValueError(f"submission folder {d} has no submission.json ({{\"name\": ..., "
                             f"\"training_data\": \"synthetic only\" | \"real\" | \"both\"}})")
        meta = json.loads(meta_path.read_text())
        if meta.get("training_data") not in ("synthetic only", "real", "both"):
            raise ValueError(f"{meta_path}: training_data must be 'synthetic only', 'real' or "
                             f"'both', got {meta.get('training_data')!r}")
        subs.append({"dir": Path(d), "name": str(meta.get("name") or Path(d).name),
                     "training": meta["training_data"]})
    return subs


def run(tasks: list[str] | None = None, data: Path | None = None, submissions: list[Path] = (),
        output: Path = Path("benchmarks/results.md"), workdir: Path | None = None,
        argv: list[str] | None = None, resamples: int = 1000, log=print) -> dict:
    """Run the benchmark; write ``output`` (Markdown), its figures and a JSON of every figure.

    Returns {task: {row name: result}}.
    """
    _CACHE.clear()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    data = Path(data) if data is not None else DEFAULT_DATA
    if not data.is_dir():
        raise FileNotFoundError(f"data folder {data} does not exist; pass --data ROOT (the "
                                f"layout of ../shared/data)")
    names = tasks or list(TASKS)
    for n in names:
        get_task(n)
    workdir = Path(workdir) if workdir else Path(tempfile.gettempdir()) / "imu2safety-benchmark-cache"
    workdir.mkdir(parents=True, exist_ok=True)
    subs = _read_submissions(list(submissions))
    output = Path(output)
    fig_dir = output.parent / (output.stem + "_figures")
    command = "imu2safety " + " ".join(argv) if argv else \
        "imu2safety benchmark run" + (f" --tasks {' '.join(names)}" if tasks else "")
    md = ["# Benchmark results: train on synthetic, test on real wrists", "",
          f"Regenerate with `{command}` (benchmark protocol {PROTOCOL_VERSION}; every figure "
          "below, the figures in "
          f"`{fig_dir.name}/` and `{output.with_suffix('.json').name}` come from that one command; "
          "seeded, no timestamps: the same command gives the same file).", "",
          "Each row trains one shipped baseline (`gbm`: window statistics + gradient boosting; "
          "`cnn`: small 1D-CNN) and scores it on the same real test windows with "
          "`imu2safety evaluate`'s metrics. 95 % intervals: bootstrap over test subjects "
          f"({resamples} resamples); `n/a` where a metric or interval is undefined (e.g. one test "
          "subject). Training data: *synthetic only* (TSTR: skeletons simulated by imu2safety), "
          "*real* (TRTR: the real training subjects; cross-dataset: another dataset's real "
          "recordings), *both* (few-shot: synthetic + k real subjects; the calibration, fitted "
          "on two real subjects' paired clips).", ""]
    all_results: dict[str, dict] = {}
    leaderboard: dict[str, list[tuple[str, str, dict]]] = {}
    for name in names:
        task = get_task(name)
        log(f"{name}:")
        md += [f"## {name}", "", task.description, ""]
        plan = _plan(task, data)
        if isinstance(plan, str):
            md += [f"**Not run: {plan}.** No figures for this task.", ""]
            log(f"  {plan}")
            continue
        md.append(f"Test protocol: {plan.note}." + ("" if plan.skeleton_dir else
                  f" No {task.synthetic} skeletons under the data folder: no synthetic rows."))
        rows, pooled = evaluate_task(plan, workdir, data, log)
        counts = ", ".join(f"{lab} {int((pooled.labels == lab).sum())}" for lab in task.labels
                           if (pooled.labels == lab).any())
        md += ["", f"{len(pooled)} real test windows of {len(np.unique(pooled.subjects))} "
               f"subject(s) ({counts}).", ""]
        for r in rows.values():
            if r.lines:
                r.result = _score_lines(pooled, r.lines, resamples)
                roc = _roc(pooled, r.lines)
                if roc is not None:
                    r.result["roc"] = roc
        main_rows = [r for r in rows.values() if not r.name.startswith("ablation")]
        ablation = sorted((r for r in rows.values() if r.name.startswith("ablation")),
                          key=lambda r: "ideal device" not in r.name)
        binary = bool(task.positive)
        md += ["### TSTR next to TRTR, few-shot and cross-dataset", ""] + _table(main_rows, binary)
        if ablation:
            md += ["", "### Sim-to-real ablation (TSTR, gbm, same test windows)", ""]
            md += _table(ablation, binary)
        md += [""] + _plots(task, rows, fig_dir, fig_dir.name) + [""]
        all_results[name] = {r.name: {k: v for k, v in (r.result or {}).items() if k != "roc"}
                             for r in rows.values()}
        board = [(r.name + " (baseline)", r.training, r.result) for r in main_rows if r.result]
        for s in subs:
            path = s["dir"] / f"{name}.jsonl"
            if path.is_file():
                sub = read_submission(path, pooled)
                res = score(pooled, sub, resamples)
                board.append((s["name"], s["training"], res))
                all_results[name][f"submission: {s['name']}"] = res
                md += [f"Submission **{s['name']}** ({s['training']}):", "", format_markdown(res)]
        leaderboard[name] = board
    md += ["## Leaderboard", "", "Ranked by macro-F1 within each task (baselines included).", ""]
    for name, board in leaderboard.items():
        md += [f"**{name}**", "", "| rank | name | training data | macro-F1 [95 % CI] |",
               "|---|---|---|---|"]
        ranked = sorted(board, key=lambda b: (-(b[2]["macro_f1"] or 0.0), b[0]))
        md += [f"| {i} | {n} | {t} | {_fmt(r, 'macro_f1')} |" for i, (n, t, r) in enumerate(ranked, 1)]
        md.append("")
    md += ["## Environment", "",
           f"Python {platform.python_version()}, numpy {np.__version__}, "
           f"scikit-learn {_version('sklearn')}, torch {_version('torch')}.", ""]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(md))
    output.with_suffix(".json").write_text(json.dumps(all_results, indent=1, sort_keys=True) + "\n")
    log(f"wrote {output}")
    return all_results


def _version(module: str) -> str:
    import importlib

    try:
        return importlib.import_module(module).__version__
    except ImportError:
        return "absent"
