"""Realism weights: how much each synthetic clip looks like a target device's real recordings.

Skeleton trackers leave artefacts the simulator turns into signal (re-fits, jitter, frozen frames):
some synthetic clips look like nothing a real wrist records. A domain classifier (scikit-learn
random forest on per-clip statistics, ``clip_statistics``) learns to tell the synthetic clips from
the target's real ones (unpaired, *no labels*: e.g. a real wrist dataset's training subjects);
each synthetic clip's out-of-fold probability p of being synthetic gives its importance weight
(1 - p) / p, the density ratio real / synthetic at that clip as in covariate-shift correction.
Weights are capped at a quantile of themselves (a few clips must not take the whole set) and
normalised to mean 1 within each label, so that ``resample`` keeps every label's clip count and
only changes which clips of a label are drawn, and how often.

The classifier's out-of-fold ROC AUC says how separable the two sets are (0.5: the synthetic clips
are indistinguishable from the real ones at this level of statistics; 1.0: every one can be told
apart).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Per-channel statistics of ``clip_statistics`` (channels ax ay az gx gy gz |a| |g|).
STATISTICS: tuple[str, ...] = ("mean", "std", "min", "max", "p10", "p25", "p50", "p75", "p90",
                               "mean_abs_diff")
#: Weights above this quantile of all weights are cut down to it.
CAP_QUANTILE = 0.95


def clip_statistics(imu: np.ndarray) -> np.ndarray:
    """(N >= 2, 6) ax ay az (m/s^2) gx gy gz (rad/s) -> (80,) statistics: ``STATISTICS`` of the six
    channels and of |a| and |g|, channel-major. Recordings must be at one rate across a fit."""
    x = np.asarray(imu, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 6 or len(x) < 2:
        raise ValueError(f"expected an (N >= 2, 6) recording, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("recording holds NaN or infinite values")
    x = np.column_stack([x, np.linalg.norm(x[:, :3], axis=1), np.linalg.norm(x[:, 3:], axis=1)])
    pct = np.percentile(x, [10, 25, 50, 75, 90], axis=0)
    stats = [x.mean(0), x.std(0), x.min(0), x.max(0), *pct, np.abs(np.diff(x, axis=0)).mean(0)]
    return np.stack(stats, axis=1).reshape(-1)


@dataclass
class RealismWeights:
    """weights: (n,) per synthetic clip, >= 0, mean 1 within each label; p_synthetic: (n,) the
    domain classifier's out-of-fold probability that the clip is synthetic; labels: (n,) str;
    auc: out-of-fold ROC AUC of synthetic vs real (0.5: indistinguishable)."""

    weights: np.ndarray
    p_synthetic: np.ndarray
    labels: np.ndarray
    auc: float
    n_real: int
    metadata: dict = field(default_factory=dict)

    def effective_share(self) -> float:
        """Kish's effective sample size of the weights over n, in (0, 1]: 1 when all are equal."""
        w = self.weights
        return float(w.sum() ** 2 / (len(w) * (w * w).sum())) if (w > 0).any() else 0.0

    def resample(self, seed: int = 0) -> np.ndarray:
        """Indices of a draw of as many clips per label as the label has, each clip drawn in
        proportion to its weight (systematic resampling: a clip of weight w is drawn floor(w) or
        ceil(w) times); sorted."""
        rng = np.random.default_rng(seed)
        out = []
        for label in np.unique(self.labels):
            idx = np.flatnonzero(self.labels == label)
            w = self.weights[idx]
            if w.sum() <= 0:
                out.append(idx)
                continue
            edges = np.cumsum(w / w.sum())
            edges[-1] = 1.0
            points = (rng.random() + np.arange(len(idx))) / len(idx)
            out.append(idx[np.searchsorted(edges, points, side="right").clip(0, len(idx) - 1)])
        return np.sort(np.concatenate(out)) if out else np.empty(0, dtype=np.int64)

    def summary(self) -> str:
        return (f"domain classifier AUC {self.auc:.3f} ({len(self.weights)} synthetic vs "
                f"{self.n_real} real clips); effective share of the weighted set "
                f"{self.effective_share():.2f}; median p(synthetic) {np.median(self.p_synthetic):.2f}")


def fit_realism_weights(synthetic_arrays, real_arrays, labels=None, cap_quantile: float = CAP_QUANTILE,
                        folds: int = 5, trees: int = 200, seed: int = 0) -> RealismWeights:
    """Realism weights of the synthetic recordings against the real ones (module docstring).

    synthetic_arrays, real_arrays: (N, 6) recordings at one rate (unpaired, unlabelled real);
    labels: one per synthetic recording (default: all one label), weights normalised per label;
    cap_quantile in (0, 1]: weights above this quantile are cut to it; folds: cross-fitting folds
    (each synthetic clip is scored by a forest that did not see it); trees, seed: the forest's.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    syn = [clip_statistics(x) for x in synthetic_arrays]
    real = [clip_statistics(x) for x in real_arrays]
    if not 0 < cap_quantile <= 1:
        raise ValueError(f"cap_quantile must be in (0, 1], got {cap_quantile!r}")
    if min(len(syn), len(real)) < folds:
        raise ValueError(f"need at least {folds} synthetic and {folds} real recordings for "
                         f"{folds}-fold cross-fitting; got {len(syn)} and {len(real)}")
    labels = np.array(["all"] * len(syn) if labels is None else [str(x) for x in labels])
    if len(labels) != len(syn):
        raise ValueError(f"{len(labels)} labels for {len(syn)} synthetic recordings")
    x = np.vstack([syn, real])
    d = np.r_[np.ones(len(syn)), np.zeros(len(real))]
    forest = RandomForestClassifier(trees, min_samples_leaf=3, random_state=seed, n_jobs=1)
    p = cross_val_predict(forest, x, d, cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                          method="predict_proba")[:, 1]
    auc = float(roc_auc_score(d, p))
    ps = p[:len(syn)]
    w = (1.0 - ps) / np.maximum(ps, 1.0 / trees)  # p = 0 would divide by zero; 1/trees: one tree's vote
    w = np.minimum(w, np.quantile(w, cap_quantile))
    for label in np.unique(labels):
        k = labels == label
        w[k] = w[k] / w[k].mean() if w[k].sum() > 0 else 1.0
    return RealismWeights(w, ps, labels, auc, len(real),
                          {"cap_quantile": cap_quantile, "folds": folds, "trees": trees, "seed": seed,
                           "statistics": list(STATISTICS)})
