"""``imu2safety calibrate``: fit the simulator's sim-to-real calibration from two builds.

A real-IMU config (``synthetic = False``) and a synthetic config built from the skeletons of the
same recordings share clip ids (e.g. UTD-MHAD ``a5_s1_t1``); each shared id is one pair. The
synthetic clip is resampled to the real clip's rate; ``simulator.calibration.fit_calibration``
then aligns each pair in time and fits one mounting rotation and per-channel quantile maps.

``--unpaired`` (``calibrate_from_builds(..., unpaired=True)``): the real config need not share
any recording with the synthetic one (a target wrist dataset without skeletons, e.g. WEDA-FALL):
``simulator.calibration.fit_distribution_calibration`` fits magnitude and per-channel quantile
maps between all synthetic clips and the real clips of the training and validation splits (never
the test split, which stays unseen), both at the real clips' rate; no rotation.

``--unpaired --per-label KEY`` (``per_label="source_label"`` or ``"activity"``): the same, and
besides the pooled maps ``simulator.calibration.fit_label_calibration`` fits maps per label (the
rows' ``KEY`` column, read from both configs: "source_label" when both configs share the source's
vocabulary, e.g. UTD-MHAD skeletons and its wrist IMU; "activity", the reviewed vocabulary, across
datasets) for every label with enough real clips; a build with the file applies to each clip the
maps of its label (``Calibration.for_label``), the pooled ones to the rest. It learns from
*labelled* real clips: the training and validation subjects', never the test split's.

``--pseudo-labels`` (with ``--per-label``): the real clips' labels are not read but predicted in
the synthetic config's vocabulary (``simulator.calibration.fit_pseudo_label_calibration``: a
forest trained on the pooled-mapped synthetic clips labels them), so the real config needs no
labels, nor the synthetic config's vocabulary (e.g. WEDA-FALL's Fitbit clips as the target of
SmartFallMM skeletons).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from ..simulator.calibration import (MIN_LABEL_CLIPS, Calibration, fit_calibration,
                                     fit_distribution_calibration, fit_label_calibration,
                                     fit_pseudo_label_calibration)
from .dataset.layout import load_info
from .records import SPLITS
from .dataset.schema import imu_arrays
from .dataset.writer import read_split


def _pick(folder: Path, config: str | None, real: bool) -> str:
    info = load_info(folder)
    if config is not None:
        if config not in info.configs:
            raise ValueError(f"{folder} has no config {config!r}; it has {sorted(info.configs)}")
        return config
    kind = [c for c, ci in info.configs.items() if (ci.simulator_version == "") == real]
    if not kind:
        raise ValueError(f"{folder} has no {'real' if real else 'synthetic'} config; "
                         f"name one with --{'real' if real else 'synthetic'}-config")
    return sorted(kind)[0]


#: Splits of the real config an unpaired calibration is fitted on (the test split stays unseen).
UNPAIRED_SPLITS: tuple[str, ...] = ("train", "validation")


def load_clips(folder: Path, config: str,
               splits: tuple[str, ...] = SPLITS) -> dict[str, tuple[np.ndarray, float]]:
    """clip id -> (imu (N, 6) float64, sample rate Hz), over ``splits`` (default all) of one config."""
    tables = [read_split(folder, config, s, ["id", "imu", "sample_rate_hz"]) for s in splits]
    table = pa.concat_tables([t for t in tables if t.num_rows]) if any(t.num_rows for t in tables) else None
    if table is None:
        raise ValueError(f"config {config!r} in {folder} holds no rows in splits {', '.join(splits)}")
    values, offsets = imu_arrays(table["imu"])
    ids = table["id"].to_pylist()
    rates = table["sample_rate_hz"].to_pylist()
    return {i: (values[offsets[k]:offsets[k + 1]].astype(np.float64), float(rates[k]))
            for k, i in enumerate(ids)}


#: Row columns a per-label calibration may key its maps on (``--per-label``).
LABEL_KEYS: tuple[str, ...] = ("source_label", "activity")


def load_labels(folder: Path, config: str, key: str,
                splits: tuple[str, ...] = SPLITS) -> dict[str, str]:
    """clip id -> its ``key`` column ("source_label" or "activity"), over ``splits`` of one config."""
    if key not in LABEL_KEYS:
        raise ValueError(f"per-label key must be one of {', '.join(LABEL_KEYS)}, got {key!r}")
    labels: dict[str, str] = {}
    for s in splits:
        table = read_split(folder, config, s, ["id", key])
        labels.update(zip(table["id"].to_pylist(), table[key].to_pylist()))
    return labels


def _resample(imu: np.ndarray, rate: float, target: float) -> np.ndarray:
    if abs(rate - target) < 1e-9:
        return imu
    t = np.arange(len(imu)) / rate
    tn = np.arange(int(np.floor(t[-1] * target)) + 1) / target
    return np.stack([np.interp(tn, t, imu[:, c]) for c in range(6)], axis=1)


def fitted_for(synthetic_dir: Path, synthetic_config: str, real_dir: Path,
               real_config: str) -> dict:
    """What a calibration fitted on these two configs applies to (``Calibration.metadata``).

    placement, rate_hz, device, cutoff_hz: the synthetic build's options (a build that applies
    the calibration must use the same placement, rate and device; ``check_applies``);
    source / real_source: the sources of the two configs; simulator_version: the synthetic rows'.
    """
    syn = load_info(synthetic_dir).configs[synthetic_config]
    real = load_info(real_dir).configs[real_config]
    opts = syn.build_options
    return {
        "placement": opts.get("placement"), "rate_hz": opts.get("rate_hz"),
        "device": opts.get("device"), "cutoff_hz": opts.get("cutoff_hz"),
        "seed": opts.get("seed"), "source": syn.source, "synthetic_config": synthetic_config,
        "real_source": real.source, "real_config": real_config,
        "real_rate_hz": real.build_options.get("source_options", {}).get("rate_hz"),
        "simulator_version": syn.simulator_version,
    }


def _calibrate_unpaired(real_dir: Path, rc: str, synthetic_dir: Path, sc: str,
                        per_label: str | None = None, min_label_clips: int = MIN_LABEL_CLIPS,
                        pseudo_labels: bool = False) -> tuple[Calibration, str]:
    real = load_clips(real_dir, rc, UNPAIRED_SPLITS)
    syn = load_clips(synthetic_dir, sc)
    rate = float(np.median([r for _, r in real.values()]))
    syn_arrays = [_resample(x, r, rate) for x, r in syn.values()]
    real_arrays = [_resample(x, r, rate) for x, r in real.values()]
    if per_label is None:
        cal = fit_distribution_calibration(syn_arrays, real_arrays)
    else:
        of_syn = load_labels(synthetic_dir, sc, per_label)
        syn_labels = [of_syn[i] for i in syn]
        if pseudo_labels:
            cal = fit_pseudo_label_calibration(syn_arrays, syn_labels, real_arrays,
                                               min_real_clips=min_label_clips, label_key=per_label)
        else:
            of_real = load_labels(real_dir, rc, per_label, UNPAIRED_SPLITS)
            cal = fit_label_calibration(syn_arrays, syn_labels, real_arrays,
                                        [of_real[i] for i in real], min_real_clips=min_label_clips,
                                        label_key=per_label)
    cal.metadata["fitted_for"] = fitted_for(synthetic_dir, sc, real_dir, rc) | {
        "real_splits": list(UNPAIRED_SPLITS)}
    summary = (f"fitted unpaired on {len(syn)} synthetic clips ({sc}) and {len(real)} real clips "
               f"({rc}, splits {' + '.join(UNPAIRED_SPLITS)}) at {rate:g} Hz: magnitude and "
               "per-channel quantile maps, no rotation")
    if per_label is not None:
        pooled = cal.metadata["labels_pooled"]
        summary += (f"; per {per_label}: {len(cal.by_label)} of {len(cal.by_label) + len(pooled)} "
                    f"labels have their own maps ({', '.join(sorted(cal.by_label)) or 'none'})")
        if pooled:
            summary += "; pooled maps for " + ", ".join(f"{k} ({why})" for k, why in sorted(pooled.items()))
        if pseudo_labels:
            summary += ("; real labels predicted (no real label read): " + ", ".join(
                f"{k} {n}" for k, n in cal.metadata["predicted_counts"].items()))
    return cal, summary


def calibrate_from_builds(real_dir: Path, synthetic_dir: Path, real_config: str | None = None,
                          synthetic_config: str | None = None,
                          unpaired: bool = False, per_label: str | None = None,
                          min_label_clips: int | None = None,
                          pseudo_labels: bool = False) -> tuple[Calibration, str]:
    """Fit a Calibration from every clip id present in both configs (``unpaired``: from the two
    configs' distributions; ``per_label``, with ``unpaired`` only: "source_label" or "activity",
    maps per label for labels with at least ``min_label_clips`` (default ``MIN_LABEL_CLIPS``) real
    clips; ``pseudo_labels``: the real clips' labels predicted, not read; see the module
    docstring); returns it and a summary."""
    if pseudo_labels and per_label is None:
        raise ValueError("--pseudo-labels predicts the real clips' labels for per-label maps: add "
                         "--unpaired --per-label KEY (the synthetic config's labels)")
    if min_label_clips is not None and per_label is None:
        raise ValueError("--min-label-clips applies to per-label maps only: add --per-label")
    if per_label is not None:
        if per_label not in LABEL_KEYS:
            raise ValueError(f"per-label key must be one of {', '.join(LABEL_KEYS)}, got {per_label!r}")
        if not unpaired:
            raise ValueError("per-label maps are fitted by the unpaired calibration only: add "
                             "--unpaired (the paired fit's maps come from the aligned pairs)")
    real_dir, synthetic_dir = Path(real_dir), Path(synthetic_dir)
    rc = _pick(real_dir, real_config, real=True)
    sc = _pick(synthetic_dir, synthetic_config, real=False)
    if unpaired:
        return _calibrate_unpaired(real_dir, rc, synthetic_dir, sc, per_label,
                                   MIN_LABEL_CLIPS if min_label_clips is None else min_label_clips,
                                   pseudo_labels)
    real, syn = load_clips(real_dir, rc), load_clips(synthetic_dir, sc)
    shared = sorted(set(real) & set(syn))
    if not shared:
        raise ValueError(f"configs {rc!r} and {sc!r} share no clip id: build both from the same "
                         "recordings")
    pairs = [(_resample(syn[i][0], syn[i][1], real[i][1]), real[i][0]) for i in shared]
    cal = fit_calibration(pairs)
    cal.metadata["fitted_for"] = fitted_for(synthetic_dir, sc, real_dir, rc)
    angle = np.degrees(cal.mounting.magnitude())
    summary = (f"fitted on {len(shared)} clip pairs ({rc} vs {sc}); mounting rotation "
               f"{angle:.1f} deg about {np.round(cal.mounting.as_rotvec() / max(np.radians(angle), 1e-12), 3)}")
    fit = cal.metadata.get("mounting_fit") or {}
    if fit.get("fallback"):
        summary += f" (identity: {fit['fallback']})"
    elif fit.get("uncertainty_deg") is not None:
        summary += (f", bootstrap uncertainty {fit['uncertainty_deg']:.1f} deg over "
                    f"{fit['pairs_used']} of {fit['pairs_total']} pairs that passed the quality screen")
    return cal, summary
