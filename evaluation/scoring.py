"""Score a submission (one JSON line per test window) against a benchmark folder.

A submission line is ``{"id": str, "label": str, "score": float in [0, 1]}`` with ``score``
optional (the probability of the positive class; all lines or none). ``read_submission``
rejects a file with missing, duplicate or unknown ids, unknown labels or malformed lines with
one message per kind of problem naming the first offending line and the count; nothing is
scored from a bad file. ``score`` returns the result dict (``macro_f1`` at the top level).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .metrics import (RESAMPLES, SEED, alarms, auprc, auroc, confusion, macro_f1, per_class,
                      sensitivity_specificity, subject_bootstrap)
from .prepare import daily_hours
from .tasks import PROTOCOL_VERSION, Windows, load_windows


class SubmissionError(ValueError):
    """A submission that cannot be scored; the message lists every kind of problem found."""


@dataclass
class Submission:
    """Predictions in the order of the benchmark's test windows: labels (N,) str, scores (N,) or None."""

    labels: np.ndarray
    scores: np.ndarray | None


def read_submission(path: str | Path, windows: Windows) -> Submission:
    """Validate and read a JSONL submission for ``windows`` (the test split)."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"predictions file {path} does not exist")
    expected = {i: k for k, i in enumerate(windows.ids.tolist())}
    labels = set(windows.task.labels)
    problems: dict[str, list] = {k: [] for k in ("malformed", "unknown id", "duplicate id",
                                                 "unknown label")}
    seen: dict[str, int] = {}
    got_label: list = [None] * len(expected)
    got_score: list = [None] * len(expected)
    with_score = without_score = 0
    first_with = first_without = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                problems["malformed"].append((n, f"not JSON ({err.msg})"))
                continue
            if not isinstance(obj, dict):
                problems["malformed"].append((n, f"not a JSON object but {type(obj).__name__}"))
                continue
            wid, label, score = obj.get("id"), obj.get("label"), obj.get("score")
            if not isinstance(wid, str) or not isinstance(label, str):
                problems["malformed"].append((n, '"id" and "label" must be strings'))
                continue
            if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))
                                      or not math.isfinite(score) or not 0.0 <= score <= 1.0):
                problems["malformed"].append((n, f'"score" must be a number in [0, 1], got {score!r}'))
                continue
            if wid not in expected:
                problems["unknown id"].append((n, repr(wid)))
                continue
            if wid in seen:
                problems["duplicate id"].append((n, f"{wid!r} (first on line {seen[wid]})"))
                continue
            seen[wid] = n
            if label not in labels:
                problems["unknown label"].append((n, f"{label!r} (labels: {sorted(labels)})"))
                continue
            got_label[expected[wid]] = label
            if score is None:
                without_score += 1
                first_without = first_without or n
            else:
                with_score += 1
                first_with = first_with or n
                got_score[expected[wid]] = float(score)
    messages = [f"{len(v)} {kind} line(s), first on line {v[0][0]}: {v[0][1]}"
                for kind, v in problems.items() if v]
    missing = [i for i in expected if i not in seen]
    if missing:
        messages.append(f"{len(missing)} missing id(s) (no line for them), first: {missing[0]!r}")
    if with_score and without_score:
        messages.append(f'"score" on {with_score} line(s) (first on line {first_with}) but not on '
                        f"{without_score} (first on line {first_without}): give it on all or none")
    if messages:
        raise SubmissionError(f"{path.name}: rejected, nothing scored:\n  " + "\n  ".join(messages))
    scores = np.array(got_score, dtype=np.float64) if with_score else None
    return Submission(np.array(got_label), scores)


def score(windows: Windows, sub: Submission, resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """Every metric of ``metrics`` for a validated submission on the test windows."""
    task = windows.task
    k = len(task.labels)
    index = {lab: i for i, lab in enumerate(task.labels)}
    y = np.array([index[v] for v in windows.labels.tolist()], dtype=np.int64)
    p = np.array([index[v] for v in sub.labels.tolist()], dtype=np.int64)
    positive = np.array([lab in task.positive for lab in task.labels])
    subjects, si = np.unique(windows.subjects, return_inverse=True)
    cms = np.stack([confusion(y[si == s], p[si == s], k) for s in range(len(subjects))])
    binary = bool(positive.any())
    hours = np.array([daily_hours(windows.select(si == s)) for s in range(len(subjects))])
    pred_pos = positive[p] & windows.daily
    n_alarms = np.array([alarms(pred_pos[si == s], windows.trials[si == s],
                                windows.start_s[si == s], task.window_s)
                         for s in range(len(subjects))])
    y_pos = positive[y]
    use_scores = binary and sub.scores is not None

    def stats(counts: np.ndarray) -> dict:
        cm = np.tensordot(counts, cms, axes=1)
        out = {"macro_f1": macro_f1(cm), "accuracy": float(np.trace(cm) / cm.sum()) if cm.sum() else None}
        if binary:
            out["sensitivity"], out["specificity"] = sensitivity_specificity(cm, positive)
            h = float(counts @ hours)
            out["false_alarms_per_hour"] = float(counts @ n_alarms) / h if h > 0 else None
        if use_scores:
            rep = np.repeat(np.arange(len(y)), counts[si])
            out["auroc"] = auroc(y_pos[rep], sub.scores[rep])
            out["auprc"] = auprc(y_pos[rep], sub.scores[rep])
        return out

    point = stats(np.ones(len(subjects), dtype=np.int64))
    ci = subject_bootstrap(windows.subjects, stats, resamples, seed)
    cm = cms.sum(axis=0)
    result = {"task": task.name, "protocol_version": PROTOCOL_VERSION,
              "macro_f1": point["macro_f1"], "macro_f1_ci95": ci.get("macro_f1")}
    for key, value in point.items():
        if key != "macro_f1":
            result[key] = value
            result[f"{key}_ci95"] = ci.get(key)
    if binary:
        result["daily_activity_hours"] = float(hours.sum())
        result["alarms"] = int(n_alarms.sum())
    result.update(
        windows=len(y), subjects=subjects.tolist(),
        per_class={lab: c for lab, c in zip(task.labels, per_class(cm))},
        confusion={"labels": list(task.labels), "matrix": cm.astype(int).tolist()},
        bootstrap={"by": "subject", "resamples": resamples, "seed": seed,
                   "note": None if len(subjects) > 1 else
                   "one test subject: no interval (resampling subjects cannot vary the result)"},
        scores_used=use_scores,
    )
    return result


def evaluate_file(bench_dir: str | Path, predictions: str | Path,
                  resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """Validate ``predictions`` against the test windows of ``bench_dir`` and score them."""
    windows = load_windows(bench_dir, "test")
    return score(windows, read_submission(predictions, windows), resamples, seed)


def _fmt(value, ci=None) -> str:
    if value is None:
        return "n/a"
    text = f"{value:.3f}"
    return text + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def format_markdown(result: dict) -> str:
    """The result as a Markdown summary table and a per-class table."""
    lines = [f"**{result['task']}**: {result['windows']} windows, {len(result['subjects'])} "
             f"subject(s) ({', '.join(result['subjects'])}); 95 % intervals by subject bootstrap",
             "", "| metric | value [95 % CI] |", "|---|---|"]
    for key in ("macro_f1", "accuracy", "sensitivity", "specificity", "false_alarms_per_hour",
                "auroc", "auprc"):
        if key in result:
            lines.append(f"| {key} | {_fmt(result[key], result.get(f'{key}_ci95'))} |")
    lines += ["", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for lab, c in result["per_class"].items():
        lines.append(f"| {lab} | {_fmt(c['precision'])} | {_fmt(c['recall'])} | {_fmt(c['f1'])} "
                     f"| {c['support']} |")
    return "\n".join(lines) + "\n"
