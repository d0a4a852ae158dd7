"""Benchmark metrics and their 95 % bootstrap intervals, resampled by subject.

Definitions (hand-checkable; ``tests/test_evaluation_metrics.py`` holds worked cases):

- per class c: precision tp / (tp + fp) (None without predictions of c), recall tp / (tp + fn)
  (None without true windows of c), F1 = 2 tp / (2 tp + fp + fn) (None when c is neither
  true nor predicted anywhere: an empty class, left out of the macro average);
- macro-F1: mean F1 over the classes that are true or predicted at least once;
- sensitivity: share of positive windows (label in ``task.positive``) predicted as any positive
  label; specificity: share of the other windows predicted as a non-positive label;
- false alarms per hour of daily activity: alarms / hours, where the hours are the time covered
  by daily-activity windows (union per trial) and an alarm is a run of positive predictions on
  daily-activity windows of one trial that overlap in time (one event fires overlapping windows);
- AUROC: the Mann-Whitney probability that a positive outscores a negative, ties counting 1/2;
  AUPRC: average precision, sum over distinct score thresholds of (recall step) x precision,
  tied scores entering together (as sklearn's ``average_precision_score``);
- 95 % intervals: percentile bootstrap over subjects (subjects drawn with replacement, all of a
  subject's windows kept together), ``resamples`` draws from ``seed``; None with fewer than two
  subjects or when the metric is undefined in more than half of the draws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import rankdata

RESAMPLES = 1000
SEED = 0


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int, weight: np.ndarray | None = None
              ) -> np.ndarray:
    """(k, k) counts, rows true class, columns predicted class; y in 0..k-1."""
    return np.bincount(np.asarray(y_true) * k + np.asarray(y_pred), weights=weight,
                       minlength=k * k).reshape(k, k)


def per_class(cm: np.ndarray) -> list[dict]:
    """precision, recall, f1, support of each class of a confusion matrix (None where undefined)."""
    out = []
    for c in range(len(cm)):
        tp = float(cm[c, c])
        predicted, support = float(cm[:, c].sum()), float(cm[c, :].sum())
        denom = predicted + support
        out.append({"precision": tp / predicted if predicted else None,
                    "recall": tp / support if support else None,
                    "f1": 2 * tp / denom if denom else None, "support": int(round(support))})
    return out


def macro_f1(cm: np.ndarray) -> float | None:
    """Mean F1 over classes true or predicted at least once; None when there is no window."""
    f1 = [c["f1"] for c in per_class(cm) if c["f1"] is not None]
    return float(np.mean(f1)) if f1 else None


def sensitivity_specificity(cm: np.ndarray, positive: np.ndarray) -> tuple[float | None, float | None]:
    """From a confusion matrix and a (k,) bool mask of positive classes."""
    pos = np.asarray(positive, bool)
    tp, p = cm[np.ix_(pos, pos)].sum(), cm[pos, :].sum()
    tn, n = cm[np.ix_(~pos, ~pos)].sum(), cm[~pos, :].sum()
    return (float(tp / p) if p else None, float(tn / n) if n else None)


def auroc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve of scores for binary y (ties count 1/2); None without both classes."""
    y = np.asarray(y, bool)
    p, n = int(y.sum()), int((~y).sum())
    if p == 0 or n == 0:
        return None
    ranks = rankdata(score)  # mid-ranks for ties
    return float((ranks[y].sum() - p * (p + 1) / 2) / (p * n))


def auprc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Average precision of scores for binary y, tied scores as one threshold; None without positives."""
    y = np.asarray(y, bool)
    p = int(y.sum())
    if p == 0:
        return None
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    s, yy = np.asarray(score, dtype=np.float64)[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # last index of each tie group
    tp = np.cumsum(yy)[last]
    precision = tp / (last + 1)
    recall = tp / p
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def alarms(pred_positive: np.ndarray, trials: np.ndarray, start_s: np.ndarray, window_s: float
           ) -> int:
    """Number of alarms: runs of positive windows of one trial whose time spans overlap."""
    count = 0
    pos = np.asarray(pred_positive, bool)
    for trial in np.unique(trials[pos]):
        starts = np.sort(start_s[pos & (trials == trial)])
        count += 1 + int((np.diff(starts) >= window_s).sum())
    return count


def percentile_ci(values: Sequence[float | None]) -> list[float] | None:
    """[2.5th, 97.5th] percentile of the defined values; None when half or more are undefined."""
    ok = np.array([v for v in values if v is not None], dtype=np.float64)
    if len(ok) * 2 <= len(values) or len(ok) == 0:
        return None
    lo, hi = np.percentile(ok, [2.5, 97.5])
    return [float(lo), float(hi)]


def subject_bootstrap(subjects: np.ndarray, statistic: Callable[[np.ndarray], dict],
                      resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, list[float] | None]:
    """95 % intervals of every entry of ``statistic(counts)`` under resampling of subjects.

    ``statistic`` takes (S,) int counts: how often each of the sorted unique subjects was drawn,
    and returns {name: value or None}. With fewer than two subjects every interval is None.
    """
    names = np.unique(subjects)
    if len(names) < 2:
        return {}
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), size=(resamples, len(names)))
    collected: dict[str, list] = {}
    for row in draws:
        counts = np.bincount(row, minlength=len(names))
        for key, value in statistic(counts).items():
            collected.setdefault(key, []).append(value)
    return {key: percentile_ci(v) for key, v in collected.items()}
