"""Sim-to-real fidelity report: TSTR vs TRTR, per-axis agreement and peak distributions, one command.

Reads the real recordings in ``../shared/data`` directly with the project's source readers (no
build), simulates the skeletons in-process with ``simulate_many`` (what ``build`` does) for every
*variant* of the simulator, and measures, always subject-wise:

1. **TSTR / TRTR** (macro-F1) with the reference classifier of ``benchmarks/tstr.py`` (its
   per-channel statistics of ax ay az gx gy gz |a| |g| at 50 Hz) fed to two fixed models: a random
   forest (scikit-learn, 150 trees, seed 0: the classifier of issue 12's table) and tstr.py's L2
   logistic regression. Tasks:
   - UTD-MHAD a1-a21 (right wrist): leave one subject out over the odd subjects in the folder;
     train on the synthetic clips of the other subjects (TSTR) or their real clips (TRTR);
   - SmartFallMM fall vs not (left wrist): leave one subject out the same way;
   - WEDA-FALL fall vs not: never simulated; TSTR trains on *all* synthetic SmartFallMM clips
     (other people) and tests on every WEDA-FALL trial; TRTR leaves one WEDA user out. Fall =
     hazard in ``labels.FALL_HAZARDS``: D07 (stumble, ``losing_balance``) counts as NOT a fall.
   With ``calibration`` the variant's synthetic clips go through a calibration (mounting rotation
   + quantile maps, ``simulator.calibration.fit_calibration``) fitted per fold on the training
   subjects' pairs only (WEDA: on all SmartFallMM pairs).
2. **Agreement** per paired clip (UTD-MHAD, SmartFallMM): |accel| and |gyro| correlation at the
   best lag (+-1 s), and per-axis correlation after the mounting rotation fitted on the *other*
   subjects (leave one subject out; ``fit_mounting_robust``), medians reported.
3. **Distributions**: 95th percentile of |gyro| (pooled samples) synthetic vs real per source; per
   clip peak |gyro| and peak |accel| per class, synthetic vs real (box plots, PNG).

Variants (``--variants``, default all): ``before`` (raw thumb joint, unsmoothed, no screen;
cutoffs per source), ``gated`` (the thumb gated, per-frame/per-clip fallback, no screen: the
default of simulator 1.1.0), ``screened`` (gated + the tracking-plausibility screen,
``simulator/screen.py``: today's default; every variant below has it), ``model-only``
(never the thumb), ``pronation`` (the pronation model with the slope chosen on training subjects,
UTD-MHAD only), augmentations ``aug-<kind>`` (4 copies with one kind: jitter, mirror, warp,
scale, device, cutoff, roll) and ``aug-best`` (the kinds that helped
the falls), ``aug-jitter+cal``, ``aug-roll+cal`` and ``aug-mount+cal`` (jitter + roll + scale,
with the calibration); ``+tcal`` variants (``screened+tcal``, ``aug-best+tcal``, ``aug-roll+tcal``)
use the *target calibration* instead: magnitude (|a|, |g|) and per-channel quantile maps fitted,
unpaired and without labels, on the real IMU of the target set's training subjects
(``fit_distribution_calibration``; WEDA-FALL: the other WEDA users, so its TSTR then leaves one
WEDA user out too), and ``+cal+tcal`` (``screened+cal+tcal``, ``aug-mount+cal+tcal``) the
paired fit's mounting rotation followed by those maps; ``+utd`` variants (fall tasks only) add
every UTD-MHAD skeleton clip (27 actions, e.g. jogging, clapping, knocking, sit-to-stand),
simulated at the left wrist, to the synthetic training set as not-fall examples;
``learned`` / ``learned+cal`` / ``learned+mount+cal+tcal`` (UTD-MHAD) simulate with a forearm
twist model (``simulator/learned_twist.py``) fitted per fold on the training subjects' pairs and
report its held-out agreement with the twist recovered from the real sensor (the model fitted on
all subjects is written to ``--out/learned_twist_<variant>.json``); ``prior*`` (UTD-MHAD)
simulate each class with its mean twist recovered on the training subjects' pairs (an activity
prior; ``prior+learned*`` adds the pose model); ``learned-utd*`` (fall tasks)
use the model fitted on all UTD-MHAD pairs (other people); ``realign*`` re-align the skeleton
across whole-body tracker re-fits and ``still*`` smooth the tracker's jitter where the arm is
still (``simulator/refit.py``, ``ScreenOptions``); ``+len`` variants crop/pad each synthetic
clip to the target's clip lengths (``simulator/window.py``; fitted per fold like ``+tcal``);
``despike*`` remove tracker outliers by a running median of 3 (``despike5``: 5) frames
(``ScreenOptions(despike_frames=...)``); ``+bal`` (with ``+utd``) adds augmented copies of the
source's falls until the fall share is the source's own again; ``sharp*`` narrow every
acceleration peak above 15 m/s^2 1.5x with its impulse kept (``simulator/impacts.py``);
``+lcal`` variants fit those maps *per label* instead (``fit_label_calibration``): each
class's synthetic clips onto the same class's real clips of the training subjects (labelled real
IMU; ``+cal+lcal`` after the paired mounting rotation); WEDA-FALL shares no activity label with
SmartFallMM, so there the maps are keyed by fall / not fall, fitted on the other WEDA users'
labelled clips; ``-shuffled`` controls permute the synthetic clips' labels first (the maps alone);
``+pcal`` variants fit the per-class maps with the real clips' labels *predicted* (no real label:
``fit_pseudo_label_calibration``, a forest trained on the pooled-mapped synthetic clips;
``+pcal1`` .. ``+pcal3``: other seeds of that forest);
``+real`` variants redraw the synthetic clips by realism weights against the same unlabelled real
clips after the maps (``simulator/realism.py``; ``+real1`` .. ``+real3``: other draw seeds);
``--rf-seeds N`` adds the mean
over random-forest seeds 0..N-1; ``--sources`` runs one task only. Prints tables and writes
``report.md`` + PNGs to ``--out``. Everything is seeded; reruns give the same numbers.

    python benchmarks/fidelity_report.py [--data ../shared/data] [--out fidelity_report]
        [--variants before,gated,...] [--sources utd-mhad,smartfallmm] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tstr  # noqa: E402  (the reference features and logistic regression)

from imu2safety.builders.labels import FALL_HAZARDS  # noqa: E402
from imu2safety.builders.sources import get_source  # noqa: E402
from imu2safety.simulator.augment import (AUGMENTATIONS, AugmentOptions, apply_output,  # noqa: E402
                                          augmented_copy)
from imu2safety.simulator.calibration import (_corr, best_lag, fit_calibration,  # noqa: E402
                                              fit_distribution_calibration, fit_label_calibration,
                                              fit_mounting_robust, fit_pseudo_label_calibration)
from imu2safety.simulator.impacts import sharpen_impacts  # noqa: E402
from imu2safety.simulator.realism import fit_realism_weights  # noqa: E402
from imu2safety.simulator.imu import ImuRecording, SimulationOptions, simulate_many  # noqa: E402
from imu2safety.simulator.screen import ScreenOptions  # noqa: E402
from imu2safety.simulator.learned_twist import (LearnedTwist, fit_learned_twist,  # noqa: E402
                                                motion_features, pair_targets)
from imu2safety.simulator.rng import clip_rng  # noqa: E402
from imu2safety.simulator.twist import TwistOptions  # noqa: E402
from imu2safety.simulator.window import match_length, target_lengths  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RATE = 50.0
MAX_LAG = int(RATE)


# ---------------------------------------------------------------- data

@dataclass
class Clip:
    """One recording: id, subject, class label, fall flag; motion (skeleton) and/or real (N, 6)
    at 50 Hz."""

    id: str
    subject: str
    label: str
    fall: bool
    motion: object = None
    real: np.ndarray | None = None


@dataclass
class SourceData:
    name: str
    placement: str
    cutoff_hz: float
    clips: list[Clip] = field(default_factory=list)

    def paired(self) -> list[Clip]:
        return [c for c in self.clips if c.motion is not None and c.real is not None]


def _read(name: str, folder: Path):
    src = get_source(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in src.list_inputs(folder):
            for item in src.read(path):
                if hasattr(item, "subject"):
                    yield item


def _fall(item) -> bool:
    return item.resolved_label().hazard in FALL_HAZARDS


def load_skeleton_source(skel: str, real: str, folder: Path, placement: str,
                         keep=lambda label: True, quick: bool = False) -> SourceData:
    src = get_source(skel)
    data = SourceData(skel, placement, float(src.CUTOFF_HZ))
    reals = {c.id: tstr.resample(np.asarray(c.imu, np.float64), float(c.sample_rate_hz), RATE)
             for c in _read(real, folder) if keep(c.source_label)}
    for i, c in enumerate(_read(skel, folder)):
        if not keep(c.source_label) or (quick and i % 3):
            continue
        data.clips.append(Clip(c.id, c.subject, c.source_label, _fall(c), c.motion, reals.get(c.id)))
    return data


#: Sources ``Variant.extra_negatives`` can name: folder under --data, reader, labels kept.
EXTRA_SOURCES = {"utd-mhad": ("utd_mhad/data", "utd-mhad")}


def load_negatives(name: str, data_dir: Path, placement: str, quick: bool = False) -> SourceData:
    """Every skeleton clip of an extra source (no fall among them; checked), subjects prefixed
    with the source name, no real IMU attached."""
    folder, reader = EXTRA_SOURCES[name]
    src = get_source(reader)
    data = SourceData(name, placement, float(src.CUTOFF_HZ))
    for i, c in enumerate(_read(reader, data_dir / folder)):
        if quick and i % 3:
            continue
        if _fall(c):
            raise ValueError(f"{name} clip {c.id} is a fall: not an extra negative")
        data.clips.append(Clip(c.id, f"{name}:{c.subject}", c.source_label, False, c.motion, None))
    return data


def with_negatives(data: SourceData, syn: list[tuple], extras: list[SourceData],
                   variant: "Variant") -> tuple[SourceData, list[tuple]]:
    """``data`` with the extra sources' clips appended and their synthetic clips (simulated with
    ``variant`` at their own cutoff and ``data``'s placement) added to ``syn``."""
    clips, syn = list(data.clips), list(syn)
    for extra in extras:
        n = len(clips)
        syn += [(i + n, k, imu, info) for i, k, imu, info in simulate_source(extra, extra.clips, variant)]
        clips += extra.clips
    return replace(data, clips=clips), syn


def rebalanced(data: SourceData, syn: list[tuple], n_own: int, share: float,
               kinds: tuple[str, ...], variant: "Variant | None" = None) -> list[tuple]:
    """``syn`` plus augmented copies (``kinds``) of the falls among ``data.clips[:n_own]`` (the
    source's own clips), as many per fall as bring the fall share back to ``share`` (the share
    before extra negatives were added); copies numbered from 1 as ``simulate_source`` does, and
    simulated as ``variant`` says (twist, screen, device, sharpening) apart from the copies."""
    n_fall = sum(data.clips[i].fall for i, _, _, _ in syn)
    n_not = len(syn) - n_fall
    own_falls = [i for i in range(n_own) if data.clips[i].fall]
    if not own_falls or not 0 < share < 1:
        return syn
    copies = int(round((share * n_not / (1 - share) - n_fall) / len(own_falls)))
    if copies < 1:
        return syn
    base = Variant("rebalance") if variant is None else variant
    extra = simulate_source(data, [data.clips[i] for i in own_falls],
                            replace(base, copies=copies, kinds=kinds))
    return list(syn) + [(own_falls[j], k, imu, info) for j, k, imu, info in extra if k > 0]


def load_weda(folder: Path) -> SourceData:
    data = SourceData("weda-fall", "left_wrist", 0.0)
    for c in _read("weda-fall", folder):
        data.clips.append(Clip(c.id, c.subject, c.source_label, _fall(c), None,
                               tstr.resample(np.asarray(c.imu, np.float64), float(c.sample_rate_hz), RATE)))
    return data


# ---------------------------------------------------------------- variants

@dataclass(frozen=True)
class Variant:
    """How the synthetic clips are made: twist options, augmentation copies/kinds, device,
    calibration, tracking-plausibility screen of the skeletons.

    calibration: "none"; "robust" (``fit_calibration`` on the training subjects' pairs: mounting
    rotation + quantile maps); "target" (``fit_distribution_calibration``: magnitude and channel
    maps fitted on the *target* set's training subjects' real IMU, unpaired, no rotation);
    "robust+target" (the paired fit's mounting rotation, then the unpaired maps); "label" and
    "robust+label": the same with the maps fitted per class (``fit_label_calibration`` on the
    training subjects' labelled real IMU; on WEDA-FALL keyed by fall / not fall, the only labels
    it shares with SmartFallMM)."""

    name: str
    twist: TwistOptions = TwistOptions()
    copies: int = 0
    kinds: tuple[str, ...] = ()
    device: str = "ideal"
    calibration: str = "none"
    fit_pronation: bool = False
    screen: "str | ScreenOptions | None" = "auto"
    #: fall tasks only: every clip of these skeleton sources (``EXTRA_SOURCES``) joins the
    #: synthetic training set as a not-fall example (simulated at the task's placement; never
    #: tested, no real twin used)
    extra_negatives: tuple[str, ...] = ()
    #: UTD-MHAD only: the forearm twist of a model fitted per fold on the training subjects'
    #: pairs (``learned_twist``), every clip simulated with the fold's model
    learned_twist: bool = False
    #: with learned_twist: targets also from the gyroscopes (``recover_twist(gyro_s=...)``)
    twist_gyro_s: float | None = None
    #: UTD-MHAD only: each class simulated with a constant twist, the mean recovered on the
    #: training subjects' pairs of that class (an activity prior; per fold)
    twist_prior: bool = False
    #: fall tasks: the twist model fitted on all pairs of this source (``EXTRA_SOURCES``; other
    #: people), mirrored to the task's wrist
    twist_from: str | None = None
    #: crop/pad each synthetic clip to the target's clip lengths (``simulator/window.py``):
    #: lengths of the training subjects' real clips (WEDA-FALL: the other users'), unpaired
    length_match: bool = False
    #: with extra_negatives: augmented copies (``BEST_KINDS``) of the source's falls restore the
    #: fall share of the source's own synthetic set (``rebalanced``)
    rebalance: bool = False
    #: impacts narrowed by this factor, impulse kept (``simulator/impacts.py``; None: off)
    sharpen: float | None = None
    #: a control for the target calibrations: the training subjects' synthetic clips take the
    #: labels of a random permutation of themselves before the maps are fitted and the classifier
    #: trained (motion of one class, maps and label of another), so that what the simulated motion
    #: adds beyond the per-label maps shows; WEDA-FALL is not scored
    shuffle_labels: bool = False
    #: with a target calibration: after the maps, the synthetic clips are redrawn by their
    #: realism weights against the same real clips (``simulator/realism.py``; unlabelled real,
    #: labels of the synthetic clips only keep each class's count); None: off, else the draw's seed
    realism_seed: int | None = None
    #: with "pseudo" calibrations: the seed of the forest that predicts the real clips' labels
    pseudo_seed: int = 0


#: The kinds that raised fall TSTR on both SmartFallMM and WEDA-FALL (RF and LR averaged) when
#: measured one at a time (report.md of 2026-12-02): mirroring and device randomisation.
BEST_KINDS = ("mirror", "device")


#: Augmentations of how the device sits on the wrist, measured with the calibration (UTD-MHAD needs
#: it: its sensor is worn turned by about 165 degrees).
MOUNT_KINDS = ("jitter", "roll")


def make_variants(best_kinds: tuple[str, ...] = BEST_KINDS) -> dict[str, Variant]:
    v = [Variant("before", TwistOptions(source="thumb", smooth_hz=None), screen=None),
         Variant("gated", screen=None),
         Variant("screened"),
         Variant("model-only", TwistOptions(source="model")),
         Variant("pronation", fit_pronation=True),
         Variant("gated+cal", screen=None, calibration="robust"),
         Variant("screened+cal", calibration="robust")]
    v += [Variant(f"aug-{k}", copies=4, kinds=(k,)) for k in AUGMENTATIONS]
    v += [Variant("aug-best", copies=4, kinds=best_kinds),
          Variant("aug-best+cal", copies=4, kinds=best_kinds, calibration="robust")]
    v += [Variant(f"aug-{k}+cal", copies=4, kinds=(k,), calibration="robust") for k in MOUNT_KINDS]
    v += [Variant("aug-mount+cal", copies=4, kinds=MOUNT_KINDS + ("scale",), calibration="robust")]
    # target calibration: unpaired maps fitted on the target set's training subjects' real IMU
    v += [Variant("screened+tcal", calibration="target"),
          Variant("screened+cal+tcal", calibration="robust+target"),
          Variant("aug-best+tcal", copies=4, kinds=best_kinds, calibration="target"),
          Variant("aug-roll+tcal", copies=4, kinds=("roll",), calibration="target"),
          Variant("aug-mount+cal+tcal", copies=4, kinds=MOUNT_KINDS + ("scale",),
                  calibration="robust+target")]
    # more kinds of daily activity: UTD-MHAD's 27 actions as not-fall training clips (fall tasks)
    v += [Variant("screened+utd+tcal", calibration="target", extra_negatives=("utd-mhad",)),
          Variant("aug-best+utd+tcal", copies=4, kinds=best_kinds, calibration="target",
                  extra_negatives=("utd-mhad",)),
          Variant("screened+utd", extra_negatives=("utd-mhad",))]
    # whole-body tracker re-fits re-aligned rigidly before the screen (``simulator/refit.py``)
    realign = ScreenOptions(realign_torso_speed_m_s=6.0)
    v += [Variant("realign", screen=realign),
          Variant("realign+tcal", screen=realign, calibration="target"),
          Variant("realign+utd+tcal", screen=realign, calibration="target",
                  extra_negatives=("utd-mhad",)),
          Variant("aug-best+realign+tcal", copies=4, kinds=best_kinds, screen=realign,
                  calibration="target")]
    v += [Variant("learned-utd", twist_from="utd-mhad"),
          Variant("learned-utd+tcal", twist_from="utd-mhad", calibration="target"),
          Variant("learned-utd+utd+tcal", twist_from="utd-mhad", calibration="target",
                  extra_negatives=("utd-mhad",))]
    still = ScreenOptions(still_speed_m_s=0.2)
    v += [Variant("still", screen=still), Variant("still+tcal", screen=still, calibration="target"),
          Variant("still+utd+tcal", screen=still, calibration="target", extra_negatives=("utd-mhad",))]
    # forearm twist learned from paired skeleton + real IMU (UTD-MHAD, per fold)
    v += [Variant("learned", learned_twist=True),
          Variant("learned+cal", learned_twist=True, calibration="robust"),
          Variant("learned+mount+cal+tcal", copies=4, kinds=MOUNT_KINDS + ("scale",),
                  calibration="robust+target", learned_twist=True),
          Variant("prior+cal", twist_prior=True, calibration="robust"),
          Variant("prior+mount+cal+tcal", copies=4, kinds=MOUNT_KINDS + ("scale",),
                  calibration="robust+target", twist_prior=True),
          Variant("prior+learned-gyro+mount+cal+tcal", copies=4, kinds=MOUNT_KINDS + ("scale",),
                  calibration="robust+target", twist_prior=True, learned_twist=True,
                  twist_gyro_s=1.0),
          Variant("learned-gyro+cal", learned_twist=True, twist_gyro_s=1.0, calibration="robust"),
          Variant("learned-gyro+mount+cal+tcal", copies=4, kinds=MOUNT_KINDS + ("scale",),
                  calibration="robust+target", learned_twist=True, twist_gyro_s=1.0)]
    # clip lengths matched to the target's real clips (``simulator/window.py``; round 4)
    v += [Variant("screened+len", length_match=True),
          Variant("screened+len+tcal", calibration="target", length_match=True),
          Variant("aug-best+len+tcal", copies=4, kinds=best_kinds, calibration="target",
                  length_match=True),
          Variant("screened+utd+len+tcal", calibration="target", extra_negatives=("utd-mhad",),
                  length_match=True)]
    # extra negatives with the falls' share restored by augmented copies of the falls
    v += [Variant("screened+utd+bal+tcal", calibration="target", extra_negatives=("utd-mhad",),
                  rebalance=True),
          Variant("despike+utd+bal+tcal", calibration="target", extra_negatives=("utd-mhad",),
                  rebalance=True, screen=ScreenOptions(despike_frames=3)),
          Variant("screened+utd+bal+len+tcal", calibration="target", extra_negatives=("utd-mhad",),
                  rebalance=True, length_match=True)]
    # impacts narrowed 1.5x with their impulse kept (``simulator/impacts.py``)
    v += [Variant("sharp", sharpen=1.5), Variant("sharp+tcal", sharpen=1.5, calibration="target"),
          Variant("sharp+utd+bal+tcal", sharpen=1.5, calibration="target",
                  extra_negatives=("utd-mhad",), rebalance=True),
          Variant("aug-mount+sharp+cal+tcal", copies=4, kinds=MOUNT_KINDS + ("scale",), sharpen=1.5,
                  calibration="robust+target"),
          Variant("despike+sharp+utd+bal+tcal", sharpen=1.5, calibration="target",
                  extra_negatives=("utd-mhad",), rebalance=True,
                  screen=ScreenOptions(despike_frames=3))]
    # target maps per class, fitted on the training subjects' labelled real IMU (round 5)
    v += [Variant("screened+lcal", calibration="label"),
          Variant("aug-best+lcal", copies=4, kinds=best_kinds, calibration="label"),
          Variant("screened+cal+lcal", calibration="robust+label"),
          Variant("aug-mount+cal+lcal", copies=4, kinds=MOUNT_KINDS + ("scale",),
                  calibration="robust+label"),
          Variant("prior+mount+cal+lcal", copies=4, kinds=MOUNT_KINDS + ("scale",),
                  calibration="robust+label", twist_prior=True),
          Variant("screened+utd+bal+lcal", calibration="label", extra_negatives=("utd-mhad",),
                  rebalance=True),
          Variant("despike+sharp+utd+bal+lcal", sharpen=1.5, calibration="label",
                  extra_negatives=("utd-mhad",), rebalance=True,
                  screen=ScreenOptions(despike_frames=3))]
    # synthetic clips redrawn by realism weights against the target's real clips (unlabelled)
    v += [Variant("screened+tcal+real", calibration="target", realism_seed=0),
          Variant("aug-best+tcal+real", copies=4, kinds=best_kinds, calibration="target",
                  realism_seed=0),
          Variant("screened+utd+tcal+real", calibration="target", extra_negatives=("utd-mhad",),
                  realism_seed=0),
          Variant("despike+sharp+utd+bal+tcal+real", sharpen=1.5, calibration="target",
                  extra_negatives=("utd-mhad",), rebalance=True,
                  screen=ScreenOptions(despike_frames=3), realism_seed=0),
          Variant("aug-mount+cal+tcal+real", copies=4, kinds=MOUNT_KINDS + ("scale",),
                  calibration="robust+target", realism_seed=0),
          Variant("prior+mount+cal+tcal+real", copies=4, kinds=MOUNT_KINDS + ("scale",),
                  calibration="robust+target", twist_prior=True, realism_seed=0)]
    v += [Variant(f"screened+tcal+real{k}", calibration="target", realism_seed=k) for k in (1, 2, 3)]
    # per-label maps with the target's labels predicted (unlabelled real clips): pseudo-labels
    v += [Variant("screened+pcal", calibration="pseudo"),
          Variant("aug-best+pcal", copies=4, kinds=best_kinds, calibration="pseudo"),
          Variant("screened+utd+bal+pcal", calibration="pseudo", extra_negatives=("utd-mhad",),
                  rebalance=True),
          Variant("aug-best+utd+pcal", copies=4, kinds=best_kinds, calibration="pseudo",
                  extra_negatives=("utd-mhad",)),
          Variant("aug-mount+cal+pcal", copies=4, kinds=MOUNT_KINDS + ("scale",),
                  calibration="robust+pseudo"),
          Variant("prior+mount+cal+pcal", copies=4, kinds=MOUNT_KINDS + ("scale",),
                  calibration="robust+pseudo", twist_prior=True)]
    v += [Variant(f"aug-best+pcal{k}", copies=4, kinds=best_kinds, calibration="pseudo",
                  pseudo_seed=k) for k in (1, 2, 3)]
    v += [Variant(f"aug-best+utd+pcal{k}", copies=4, kinds=best_kinds, calibration="pseudo",
                  extra_negatives=("utd-mhad",), pseudo_seed=k) for k in (1, 2, 3)]
    v += [Variant(f"aug-mount+cal+pcal{k}", copies=4, kinds=MOUNT_KINDS + ("scale",),
                  calibration="robust+pseudo", pseudo_seed=k) for k in (1, 2, 3)]
    # controls: the same with the synthetic clips' labels permuted (the maps alone)
    v += [Variant("screened+lcal-shuffled", calibration="label", shuffle_labels=True),
          Variant("aug-mount+cal+lcal-shuffled", copies=4, kinds=MOUNT_KINDS + ("scale",),
                  calibration="robust+label", shuffle_labels=True),
          Variant("aug-mount+cal+tcal-shuffled", copies=4, kinds=MOUNT_KINDS + ("scale",),
                  calibration="robust+target", shuffle_labels=True)]
    # tracker outliers removed by a running median of the arm's joints (``ScreenOptions``)
    for w in (3, 5):
        d = ScreenOptions(despike_frames=w)
        tag = "despike" if w == 3 else f"despike{w}"
        v += [Variant(tag, screen=d), Variant(f"{tag}+tcal", screen=d, calibration="target"),
              Variant(f"{tag}+cal", screen=d, calibration="robust"),
              Variant(f"{tag}+utd+tcal", screen=d, calibration="target",
                      extra_negatives=("utd-mhad",)),
              Variant(f"aug-best+{tag}+tcal", copies=4, kinds=best_kinds, screen=d,
                      calibration="target"),
              Variant(f"aug-mount+{tag}+cal+tcal", copies=4, kinds=MOUNT_KINDS + ("scale",),
                      screen=d, calibration="robust+target"),
              Variant(f"prior+{tag}+mount+cal+tcal", copies=4, kinds=MOUNT_KINDS + ("scale",),
                      screen=d, calibration="robust+target", twist_prior=True)]
    return {x.name: x for x in v}


def simulate_source(data: SourceData, clips: list[Clip], variant: Variant,
                    twist: TwistOptions | None = None, seed: int = 0):
    """Synthetic (N, 6) at 50 Hz for ``clips`` and their augmented copies.

    Returns (list of (clip index, copy k, imu)); clips that cannot be simulated are left out.
    """
    opts = SimulationOptions(placement=data.placement, rate_hz=RATE, cutoff_hz=data.cutoff_hz,
                             device=variant.device, seed=seed, twist=twist or variant.twist,
                             screen=variant.screen)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recs = simulate_many([c.motion for c in clips], opts, [c.id for c in clips], errors="return")
        for i, r in enumerate(recs):
            if isinstance(r, ImuRecording):
                out.append((i, 0, r.as_array().astype(np.float64), r.info))
        if variant.copies:
            aug = AugmentOptions(kinds=variant.kinds)
            for i, c in enumerate(clips):
                for k in range(1, variant.copies + 1):
                    motion, o, gain, _ = augmented_copy(c.motion, opts, aug, k, c.id)
                    r = simulate_many([motion], o, [f"{c.id}~aug{k}"], errors="return")[0]
                    if isinstance(r, ImuRecording):
                        imu = apply_output(r.as_array().astype(np.float64), gain, aug)
                        out.append((i, k, imu, r.info))
    if variant.sharpen:
        out = [(i, k, sharpen_impacts(imu, variant.sharpen)[0], info) for i, k, imu, info in out]
    return out


# ---------------------------------------------------------------- classifiers

def _rf_predict(xtr, ytr, xte, seed: int = 0):
    return tstr.rf_predict(xtr, ytr, xte, seed=seed)


def _lr_predict(xtr, ytr, xte):
    classes = np.unique(ytr)
    return classes[tstr.train_predict(xtr, np.searchsorted(classes, ytr), xte, len(classes))]


CLASSIFIERS = {"RF": _rf_predict, "LR": _lr_predict}


def set_rf_seeds(n: int) -> None:
    """Also fit random forests with seeds 1..n-1 ("RF1", ...; "RF" keeps seed 0, the reference):
    results then carry "RFmean-TSTR" / "RFmean-TRTR", the mean macro-F1 over the n seeds (the
    forest's own spread on small test sets is +-0.02-0.04)."""
    for m in [m for m in CLASSIFIERS if m.startswith("RF") and m != "RF"]:
        del CLASSIFIERS[m]
    for s in range(1, int(n)):
        CLASSIFIERS[f"RF{s}"] = functools.partial(_rf_predict, seed=s)


def _with_rf_mean(out: dict) -> dict:
    for s in ("TSTR", "TRTR"):
        vals = [v for k, v in out.items() if k.startswith("RF") and k.endswith(f"-{s}")
                and not k.startswith("RFmean")]
        if len(vals) > 1:
            out[f"RFmean-{s}"] = round(float(np.mean(vals)), 4)
    return out


CALIBRATIONS = ("none", "robust", "target", "robust+target", "label", "robust+label", "pseudo",
                "robust+pseudo")
#: Calibrations fitted on the target's real IMU (unpaired), per fold; "label" ones per class.
TARGET_CALIBRATIONS = ("target", "robust+target", "label", "robust+label", "pseudo", "robust+pseudo")


def _applied(cal, syn: list[tuple]) -> list[tuple]:
    out = []
    for i, k, imu, info in syn:
        a, g = cal.rotate(imu[:, :3], imu[:, 3:])
        a, g = cal.map_quantiles(a, g)
        out.append((i, k, np.concatenate([a, g], 1), info))
    return out


def _source_mounting(syn: list[tuple], clips: list[Clip], train_subjects: set[str]):
    """Robust mounting rotation from the training subjects' pairs (original copies), or None."""
    pairs = [(imu, clips[i].real) for i, k, imu, _ in syn
             if k == 0 and clips[i].real is not None and clips[i].subject in train_subjects]
    if len(pairs) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_mounting_robust(pairs, MAX_LAG).rotation


def _target_calibrated(syn: list[tuple], reals: list[np.ndarray], mounting=None,
                       syn_labels: list[str] | None = None,
                       real_labels: list[str] | None = None) -> list[tuple]:
    """``syn`` through magnitude + channel maps fitted between it and ``reals`` (unpaired); with
    labels, per label (``fit_label_calibration``; each clip through its label's maps)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if syn_labels is None:
            return _applied(fit_distribution_calibration([imu for _, _, imu, _ in syn], reals,
                                                         mounting), syn)
        cal = fit_label_calibration([imu for _, _, imu, _ in syn], syn_labels, reals, real_labels,
                                    mounting)
    return _applied_per_label(cal, syn, syn_labels)


def _applied_per_label(cal, syn: list[tuple], labels: list[str]) -> list[tuple]:
    """Each synthetic clip through the maps of its label (``Calibration.for_label``)."""
    return [_applied(cal.for_label(lab), [x])[0] for x, lab in zip(syn, labels)]


def _calibrated(syn: list[tuple], clips: list[Clip], train_subjects: set[str]):
    """Calibration fitted on the training subjects' pairs (original copies only), applied to all."""
    pairs = [(imu, clips[i].real) for i, k, imu, _ in syn
             if k == 0 and clips[i].real is not None and clips[i].subject in train_subjects]
    if len(pairs) < 3:
        return syn, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = fit_calibration(pairs, max_lag=MAX_LAG)
    return _applied(cal, syn), cal


def _length_matched(syn: list[tuple], clips: list[Clip], reals: list[np.ndarray]) -> list[tuple]:
    """``syn`` with every clip cropped/padded to the length its rank maps to among ``reals``'
    lengths (``target_lengths``; window position drawn from (0, clip id, copy))."""
    if not syn:
        return syn
    lengths = target_lengths([len(imu) for _, _, imu, _ in syn], np.array([len(r) for r in reals]))
    return [(i, k, match_length(imu, n, clip_rng(0, f"{clips[i].id}~{k}", "length"), RATE), info)
            for (i, k, imu, info), n in zip(syn, lengths)]


_TRTR_CACHE: dict = {}


def _realism_drawn(syn: list[tuple], reals: list[np.ndarray], labels: list[str],
                   seed: int) -> list[tuple]:
    """``syn`` redrawn by realism weights against ``reals`` (``fit_realism_weights``; each label
    keeps its count)."""
    weights = fit_realism_weights([imu for _, _, imu, _ in syn], reals, labels)
    _REALISM_AUC.append(weights.auc)
    return [syn[j] for j in weights.resample(seed)]


#: The domain classifier's out-of-fold AUC of every fit of the variant being measured.
_REALISM_AUC: list[float] = []


def _fold_calibrated(syn: list[tuple], reals: list[np.ndarray], mounting, calibration: str,
                     class_of, map_labels=None, realism_seed: int | None = None,
                     pseudo_seed: int = 0) -> list[tuple]:
    """``syn`` through one fold's target calibration (``TARGET_CALIBRATIONS``), fitted against the
    fold's unlabelled ``reals`` after ``mounting``: the pooled maps; "label": per-label maps, with
    ``map_labels`` = (label of synthetic clip i, labels of ``reals``); "pseudo": per-label maps with
    the labels of ``reals`` predicted in the synthetic clips' classes ``class_of(i)``
    (``fit_pseudo_label_calibration``, forest seed ``pseudo_seed``). Then, with ``realism_seed``,
    the realism redraw keeping each class's count."""
    if calibration.endswith("pseudo"):
        classes = [class_of(i) for i, _, _, _ in syn]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cal = fit_pseudo_label_calibration([imu for _, _, imu, _ in syn], classes, reals,
                                               mounting, seed=pseudo_seed)
        out = _applied_per_label(cal, syn, classes)
    elif calibration.endswith("label"):
        label_of, real_labels = map_labels
        out = _target_calibrated(syn, reals, mounting, [label_of(i) for i, _, _, _ in syn],
                                 real_labels)
    else:
        out = _target_calibrated(syn, reals, mounting)
    if realism_seed is not None:
        out = _realism_drawn(out, reals, [class_of(i) for i, _, _, _ in out], realism_seed)
    return out


def _shuffled_labels(syn: list[tuple], seed: int = 0) -> list[tuple]:
    """``syn`` with the clip indices (which carry label and fall flag) permuted among the entries."""
    order = np.random.default_rng(seed).permutation(len(syn))
    return [(syn[j][0], k, imu, info) for (_, k, imu, info), j in zip(syn, order)]


def tstr_loso(data: SourceData, syn: list[tuple], target: str, calibration: str,
              folds: dict[str, list[tuple]] | None = None, length_match: bool = False,
              predictions: dict | None = None, shuffle_labels: bool = False,
              realism_seed: int | None = None, pseudo_seed: int = 0) -> dict:
    """Leave one subject out on ``data``'s real clips; TSTR trains on the other subjects'
    synthetic clips (all copies; ``folds[subject]`` instead of ``syn`` when the simulation itself
    was fitted per fold), TRTR on their real clips (``shuffle_labels``: see ``Variant``; target
    calibrations only). Returns macro-F1 per classifier; fills
    ``predictions`` (when given) with clip index -> {classifier: TSTR prediction}."""
    clips = data.clips
    real_idx = [k for k, c in enumerate(clips) if c.real is not None]
    y_of = (lambda c: c.fall) if target == "fall" else (lambda c: c.label)
    label_of = lambda i: clips[i].label  # noqa: E731  (a synthetic clip's class, by clip index)
    feats_real = {k: tstr.features(clips[k].real) for k in real_idx}
    subjects = sorted({clips[k].subject for k in real_idx})
    truth, preds = [], {f"{m}-{s}": [] for m in CLASSIFIERS for s in ("TSTR", "TRTR")}
    for subj in subjects:
        test = [k for k in real_idx if clips[k].subject == subj]
        train_real = [k for k in real_idx if clips[k].subject != subj]
        fold_syn = syn if folds is None else folds[subj]
        train_subjects = {clips[k].subject for k in train_real}
        reals = [clips[k].real for k in train_real]
        if calibration == "robust":
            fold_syn, _ = _calibrated(fold_syn, clips, train_subjects)
        elif calibration in TARGET_CALIBRATIONS:
            mount = (_source_mounting(fold_syn, clips, train_subjects)
                     if calibration.startswith("robust+") else None)
            kept = [x for x in fold_syn if clips[x[0]].subject != subj]
            if shuffle_labels:
                kept = _shuffled_labels(kept)
            if length_match:
                kept = _length_matched(kept, clips, reals)
            fold_syn = _fold_calibrated(kept, reals, mount, calibration, label_of,
                                        (label_of, [clips[k].label for k in train_real]),
                                        realism_seed, pseudo_seed)
        if length_match and calibration not in TARGET_CALIBRATIONS:
            fold_syn = _length_matched([x for x in fold_syn if clips[x[0]].subject != subj],
                                       clips, reals)
        tr_syn = [(i, imu) for i, _, imu, _ in fold_syn if clips[i].subject != subj]
        xs = np.array([tstr.features(imu) for _, imu in tr_syn])
        ys = np.array([y_of(clips[i]) for i, _ in tr_syn])
        xr = np.array([feats_real[k] for k in train_real])
        yr = np.array([y_of(clips[k]) for k in train_real])
        xt = np.array([feats_real[k] for k in test])
        truth.append(np.array([y_of(clips[k]) for k in test]))
        for m, fn in CLASSIFIERS.items():
            preds[f"{m}-TSTR"].append(fn(xs, ys, xt))
            if predictions is not None:
                for k, p in zip(test, preds[f"{m}-TSTR"][-1]):
                    predictions.setdefault(k, {})[m] = p
            key = (data.name, target, subj, m)  # TRTR does not depend on the variant
            if key not in _TRTR_CACHE:
                _TRTR_CACHE[key] = fn(xr, yr, xt)
            preds[f"{m}-TRTR"].append(_TRTR_CACHE[key])
    y = np.concatenate(truth)
    return _with_rf_mean({k: _f1(y, np.concatenate(v)) for k, v in preds.items()}
                         | {"test_clips": len(y)})


def _f1(y, p) -> float:
    return round(tstr.macro_f1(np.asarray(y).astype(str), np.asarray(p).astype(str)), 4)


def tstr_weda(sfm: SourceData, syn: list[tuple], weda: SourceData, calibration: str,
              length_match: bool = False, predictions: dict | None = None,
              realism_seed: int | None = None, pseudo_seed: int = 0) -> dict:
    """TSTR: all synthetic SmartFallMM -> every WEDA-FALL trial; TRTR: leave one WEDA user out.

    With a target calibration (``TARGET_CALIBRATIONS``; the "label" ones keyed by the only labels
    the two sets share, fall or not, on the other users' labelled clips) TSTR leaves one WEDA user
    out too: the
    unpaired maps are fitted on the other users' real IMU (no labels), then applied to all the
    synthetic clips (the rotation, if any, comes from all SmartFallMM pairs). ``length_match``
    (per WEDA user as well): the synthetic clips cropped/padded to the other users' clip lengths."""
    if calibration == "robust":
        syn, _ = _calibrated(syn, sfm.clips, {c.subject for c in sfm.clips})
    ys = np.array([sfm.clips[i].fall for i, _, _, _ in syn])
    xw = np.array([tstr.features(c.real) for c in weda.clips])
    yw = np.array([c.fall for c in weda.clips])
    subj = np.array([c.subject for c in weda.clips])
    out = {"test_clips": len(yw)}
    if calibration in TARGET_CALIBRATIONS or length_match:
        mount = (_source_mounting(syn, sfm.clips, {c.subject for c in sfm.clips})
                 if calibration.startswith("robust+") else None)
        preds = {m: np.empty(len(yw), dtype=bool) for m in CLASSIFIERS}
        for s in np.unique(subj):
            te = subj == s
            reals = [c.real for c, t in zip(weda.clips, te) if not t]
            fold = _length_matched(syn, sfm.clips, reals) if length_match else syn
            if calibration in TARGET_CALIBRATIONS:
                falls = (lambda i: str(sfm.clips[i].fall),
                         [str(c.fall) for c, t in zip(weda.clips, te) if not t])
                fold = _fold_calibrated(fold, reals, mount, calibration, lambda i: sfm.clips[i].label,
                                        falls, realism_seed, pseudo_seed)
            xs = np.array([tstr.features(imu) for _, _, imu, _ in fold])
            yf = np.array([sfm.clips[i].fall for i, _, _, _ in fold])
            for m, fn in CLASSIFIERS.items():
                preds[m][te] = fn(xs, yf, xw[te])
        tstr_pred = preds
    else:
        xs = np.array([tstr.features(imu) for _, _, imu, _ in syn])
        tstr_pred = {m: fn(xs, ys, xw) for m, fn in CLASSIFIERS.items()}
    for m, fn in CLASSIFIERS.items():
        out[f"{m}-TSTR"] = _f1(yw, tstr_pred[m])
        if predictions is not None:  # WEDA clip index -> {classifier: TSTR prediction}
            for k, p in enumerate(tstr_pred[m]):
                predictions.setdefault(k, {})[m] = p
        if ("weda", m) not in _TRTR_CACHE:  # TRTR does not depend on the variant
            p = np.empty(len(yw), dtype=bool)
            for s in np.unique(subj):
                te = subj == s
                p[te] = fn(xw[~te], yw[~te], xw[te])
            _TRTR_CACHE[("weda", m)] = _f1(yw, p)
        out[f"{m}-TRTR"] = _TRTR_CACHE[("weda", m)]
    return _with_rf_mean(out)


# ---------------------------------------------------------------- agreement and distributions

def _aligned(a, b, lag):
    if lag >= 0:
        b = b[lag:]
    else:
        a = a[-lag:]
    n = min(len(a), len(b))
    return a[:n], b[:n]


def agreement(data: SourceData, syn: list[tuple]) -> dict:
    """Median |accel|/|gyro| correlation at the best lag, and per-axis correlation after the
    mounting rotation fitted (robustly) on the other subjects' pairs."""
    pairs = [(data.clips[i], imu) for i, k, imu, _ in syn if k == 0 and data.clips[i].real is not None]
    acc_n, gyr_n = [], []
    for c, imu in pairs:
        for cols, out in ((slice(0, 3), acc_n), (slice(3, 6), gyr_n)):
            s, r = np.linalg.norm(imu[:, cols], axis=1), np.linalg.norm(c.real[:, cols], axis=1)
            out.append(_corr(*_aligned(s, r, best_lag(s, r, MAX_LAG))))
    axes, fits = [], []
    for subj in sorted({c.subject for c, _ in pairs}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_mounting_robust([(imu, c.real) for c, imu in pairs if c.subject != subj], MAX_LAG)
        fits.append(fit.to_dict())
        for c, imu in pairs:
            if c.subject != subj:
                continue
            rot = np.concatenate([fit.rotation.apply(imu[:, :3]), fit.rotation.apply(imu[:, 3:])], 1)
            lag = best_lag(np.linalg.norm(rot[:, 3:], axis=1), np.linalg.norm(c.real[:, 3:], axis=1),
                           MAX_LAG)
            s, r = _aligned(rot, c.real, lag)
            axes.append([_corr(s[:, j], r[:, j]) for j in range(6)])
    return {"pairs": len(pairs), "acc_norm_r": round(float(np.nanmedian(acc_n)), 3),
            "gyr_norm_r": round(float(np.nanmedian(gyr_n)), 3),
            "axes_r": [round(float(v), 3) for v in np.nanmedian(np.array(axes), 0)],
            "mounting_fits": fits}


def gyro_p95(syn: list[tuple], clips: list[Clip]) -> dict:
    """95th percentile of |gyro| over all samples: synthetic (original copies) and real."""
    s = np.concatenate([np.linalg.norm(imu[:, 3:], axis=1) for _, k, imu, _ in syn if k == 0])
    reals = [c.real for c in clips if c.real is not None]
    out = {"synthetic": round(float(np.percentile(s, 95)), 3)}
    if reals:
        r = np.concatenate([np.linalg.norm(x[:, 3:], axis=1) for x in reals])
        out["real"] = round(float(np.percentile(r, 95)), 3)
        out["ratio"] = round(out["synthetic"] / out["real"], 3)
    return out


def peak_plot(path: Path, title: str, syn: list[tuple], clips: list[Clip],
              real_clips: list[Clip] | None = None) -> None:
    """Box plots of per-clip peak |gyro| and |accel| per class, synthetic vs real."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    real_clips = clips if real_clips is None else real_clips
    labels = sorted({c.label for c in clips} | {c.label for c in real_clips if c.real is not None})
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 0.55 * len(labels)), 7), sharex=True)
    for ax, cols, name in ((axes[0], slice(3, 6), "peak |gyro| rad/s"),
                           (axes[1], slice(0, 3), "peak |accel| m/s^2")):
        syn_by = {lab: [] for lab in labels}
        real_by = {lab: [] for lab in labels}
        for i, k, imu, _ in syn:
            if k == 0:
                syn_by[clips[i].label].append(np.linalg.norm(imu[:, cols], axis=1).max())
        for c in real_clips:
            if c.real is not None:
                real_by[c.label].append(np.linalg.norm(c.real[:, cols], axis=1).max())
        pos = np.arange(len(labels))
        for off, by, color in ((-0.2, syn_by, "tab:orange"), (0.2, real_by, "tab:blue")):
            data = [by[lab] if by[lab] else [np.nan] for lab in labels]
            bp = ax.boxplot(data, positions=pos + off, widths=0.35, patch_artist=True,
                            showfliers=False)
            for patch in bp["boxes"]:
                patch.set_facecolor(color)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[1].set_xticks(np.arange(len(labels)), labels, rotation=60, fontsize=7)
    axes[0].set_title(f"{title}: synthetic (orange) vs real (blue), per class")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# ---------------------------------------------------------------- pronation slope

PRONATION_GRID = (-0.6, -0.4, -0.2, 0.0, 0.2, 0.4)


def fit_pronation_slope(data: SourceData, clips: list[Clip], train_subjects: set[str]) -> float:
    """Pronation per degree of elbow flexion maximising the training subjects' median gyro-x
    correlation (after their own robust mounting fit)."""
    train = [c for c in clips if c.subject in train_subjects and c.real is not None]
    best, best_r = 0.0, -np.inf
    for k in PRONATION_GRID:
        syn = simulate_source(data, train, Variant("tmp"), TwistOptions(pronation_per_flexion=k))
        pairs = [(imu, train[i].real) for i, _, imu, _ in syn]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_mounting_robust(pairs, MAX_LAG)
        rs = []
        for imu, real in pairs:
            g = fit.rotation.apply(imu[:, 3:])
            lag = best_lag(np.linalg.norm(g, axis=1), np.linalg.norm(real[:, 3:], axis=1), MAX_LAG)
            s, r = _aligned(g[:, 0], real[:, 3], lag)
            rs.append(_corr(s, r))
        med = float(np.nanmedian(rs))
        if med > best_r:
            best, best_r = k, med
    return best


def pronation_loso(data: SourceData) -> tuple[list[tuple], dict]:
    """Synthetic clips where each held-out subject's clips use the slope fitted on the others."""
    clips, out, slopes = data.clips, [], {}
    for subj in sorted({c.subject for c in clips}):
        k = fit_pronation_slope(data, clips, {c.subject for c in clips} - {subj})
        slopes[subj] = k
        idx = [i for i, c in enumerate(clips) if c.subject == subj]
        syn = simulate_source(data, [clips[i] for i in idx], Variant("tmp"),
                              TwistOptions(pronation_per_flexion=k))
        out += [(idx[i], kk, imu, info) for i, kk, imu, info in syn]
    return out, slopes


# ---------------------------------------------------------------- learned twist

def fold_targets(data: SourceData, recs: list, subjects: set[str], gyro_s: float | None = None):
    """The twist recovered on ``subjects``' pairs (constant-twist recordings ``recs`` vs real;
    from gravity, and from the gyroscopes with ``gyro_s``): (clip indices, the mounting rotation
    fitted on the same pairs that the real clips were read through, deltas, weights), each
    subject's own mean removed."""
    idx = [i for i, c in enumerate(data.clips) if c.subject in subjects and c.real is not None
           and isinstance(recs[i], ImuRecording)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mount = fit_mounting_robust([(recs[i].as_array().astype(np.float64), data.clips[i].real)
                                     for i in idx], MAX_LAG).rotation
    deltas, weights = [], []
    for i in idx:
        d, w = pair_targets(recs[i].as_array().astype(np.float64), data.clips[i].real, mount, RATE,
                            MAX_LAG, gyro_s)
        deltas.append(d)
        weights.append(w)
    # Each subject's own strap roll (a constant of how they wore it, not a twist the skeleton
    # could show: up to ~50 degrees between UTD-MHAD subjects) is taken out of their targets.
    subj = [data.clips[i].subject for i in idx]
    for s in set(subj):
        mine = [k for k, x in enumerate(subj) if x == s]
        z = sum(np.sum(weights[k] * np.exp(1j * deltas[k])) for k in mine)
        for k in mine:
            deltas[k] = np.angle(np.exp(1j * deltas[k]) * np.conj(z) / max(abs(z), 1e-12))
    return idx, mount, deltas, weights


def class_priors(data: SourceData, idx: list[int], deltas: list, weights: list) -> dict[str, float]:
    """Per class, the weighted circular mean of the recovered twist, rad (an activity prior)."""
    sums: dict = {}
    for i, d, w in zip(idx, deltas, weights):
        sums[data.clips[i].label] = sums.get(data.clips[i].label, 0) + np.sum(w * np.exp(1j * d))
    return {lab: float(np.angle(z)) for lab, z in sums.items()}


def fit_twist_model(data: SourceData, recs: list, subjects: set[str], gyro_s: float | None = None,
                    priors: dict[str, float] | None = None) -> tuple[LearnedTwist, object]:
    """Twist model fitted on ``fold_targets`` (less the class ``priors``, rad, when given), and
    the mounting rotation the real clips were read through."""
    idx, mount, deltas, weights = fold_targets(data, recs, subjects, gyro_s)
    if priors:
        deltas = [d - priors.get(data.clips[i].label, 0.0) for i, d in zip(idx, deltas)]
    feats = [motion_features(data.clips[i].motion, data.placement, recs[i].timestamps) for i in idx]
    n = int(sum((w > 0).sum() for w in weights))
    model = fit_learned_twist(feats, deltas, weights, fitted_on=(
        f"{data.name} {data.placement}: {len(idx)} pairs of subjects {','.join(sorted(subjects))}, "
        f"{n} weighted samples" + (f", gyro-aided ({gyro_s} s)" if gyro_s else "")
        + (", less the class priors" if priors else "")))
    return model, mount


_DONOR_MODELS: dict = {}


def donor_twist_model(name: str, data_dir: Path, quick: bool = False) -> LearnedTwist:
    """Twist model fitted on every pair of a paired skeleton source (UTD-MHAD a1-a21)."""
    if name not in _DONOR_MODELS:
        if name != "utd-mhad":
            raise ValueError(f"no paired source {name!r} to fit a twist model on")
        wrist = {f"a{k}" for k in range(1, 22)}
        donor = load_skeleton_source("utd-mhad", "utd-mhad-imu", data_dir / "utd_mhad" / "data",
                                     "right_wrist", lambda lab: lab in wrist, quick)
        opts = SimulationOptions(placement=donor.placement, rate_hz=RATE, cutoff_hz=donor.cutoff_hz)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recs = simulate_many([c.motion for c in donor.clips], opts, [c.id for c in donor.clips],
                                 errors="return")
        _DONOR_MODELS[name] = fit_twist_model(donor, recs, {c.subject for c in donor.clips})[0]
    return _DONOR_MODELS[name]


def _weighted_corr(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    w = w / w.sum()
    a, b = a - w @ a, b - w @ b
    d = np.sqrt((w @ (a * a)) * (w @ (b * b)))
    return float(w @ (a * b) / d) if d > 0 else 0.0


def twist_loso(data: SourceData, variant: Variant) -> tuple[list[tuple], dict, dict]:
    """Per held-out subject, from the other subjects' pairs: class priors (``twist_prior``: each
    class simulated with its constant twist) and/or a twist model (``learned_twist``, fitted on
    what the priors leave); every clip (and augmented copy) simulated so. Returns (the held-out
    subjects' clips assembled, fold -> synthetic clips, figures: the priors per fold, degrees;
    for a model, held-out weighted correlation of the predicted with the recovered twist (gravity
    only) within each clip (median) and of their clip means, the share of samples with a known
    twist, and the model fitted on all subjects, ``model_all_subjects``)."""
    opts = SimulationOptions(placement=data.placement, rate_hz=RATE, cutoff_hz=data.cutoff_hz,
                             screen=variant.screen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recs = simulate_many([c.motion for c in data.clips], opts, [c.id for c in data.clips],
                             errors="return")
    subjects = sorted({c.subject for c in data.clips if c.real is not None})
    gyro_s = variant.twist_gyro_s

    def fitted(train: set[str]):
        priors = class_priors(data, *_drop_mount(fold_targets(data, recs, train, gyro_s))) \
            if variant.twist_prior else {}
        model, mount = (fit_twist_model(data, recs, train, gyro_s, priors) if variant.learned_twist
                        else (None, None))
        return priors, model, mount

    folds, assembled, rs, known, means, stats = {}, [], [], [], [], {}
    for subj in subjects:
        priors, model, mount = fitted(set(subjects) - {subj})
        twist = variant.twist if model is None else replace(variant.twist, source="learned", model=model)
        syn = []
        for lab in sorted({c.label for c in data.clips}):
            members = [i for i, c in enumerate(data.clips) if c.label == lab]
            tw = replace(twist, twist_deg=float(np.degrees(priors.get(lab, 0.0))))
            part = simulate_source(data, [data.clips[i] for i in members], variant, tw)
            syn += [(members[j], k, imu, info) for j, k, imu, info in part]
        syn.sort(key=lambda x: (x[1] > 0, x[0], x[1]))  # simulate_source's order (the RF sees it)
        folds[subj] = syn
        assembled += [x for x in syn if data.clips[x[0]].subject == subj]
        if priors:
            stats.setdefault("prior_deg", {})[subj] = {k: round(float(np.degrees(v)), 1)
                                                       for k, v in sorted(priors.items())}
        if model is None:
            continue
        for i, c in enumerate(data.clips):
            if c.subject != subj or c.real is None or not isinstance(recs[i], ImuRecording):
                continue
            d, w = pair_targets(recs[i].as_array().astype(np.float64), c.real, mount, RATE, MAX_LAG)
            d = d - priors.get(c.label, 0.0)
            known.append(float((w > 0).mean()))
            if (w > 0).sum() >= RATE:
                p = model.predict(motion_features(c.motion, data.placement, recs[i].timestamps))
                rs.append(_weighted_corr(np.angle(np.exp(1j * d)), p, w))
                means.append((np.angle(np.sum(w * np.exp(1j * d))), np.angle(np.sum(w * np.exp(1j * p)))))
    if variant.learned_twist:
        m = np.array(means)
        stats.update({"model_all_subjects": fitted(set(subjects))[1],
                      "heldout_delta_r_median": round(float(np.median(rs)), 3),
                      "heldout_clip_mean_r": round(_weighted_corr(m[:, 0], m[:, 1], np.ones(len(m))), 3),
                      "heldout_known_share": round(float(np.mean(known)), 3), "clips": len(rs)})
    return assembled, folds, stats


def _drop_mount(targets: tuple) -> tuple:
    idx, _, deltas, weights = targets
    return idx, deltas, weights


# ---------------------------------------------------------------- main

def run(args) -> dict:
    utd_dir = args.data / "utd_mhad" / "data"
    sfm_dir = args.data / "smartfallmm" / "young"
    weda_dir = args.data / "weda_fall"
    wanted = set(args.sources.split(","))
    if not wanted <= {"utd-mhad", "smartfallmm"}:
        raise SystemExit(f"--sources: choose from utd-mhad, smartfallmm; got {args.sources}")
    if "utd-mhad" not in wanted:
        utd_dir = args.data / "absent"
    if "smartfallmm" not in wanted:
        sfm_dir = args.data / "absent"
    sources = {}
    if utd_dir.is_dir():
        wrist = {f"a{k}" for k in range(1, 22)}
        sources["utd-mhad"] = load_skeleton_source("utd-mhad", "utd-mhad-imu", utd_dir, "right_wrist",
                                                   lambda lab: lab in wrist, args.quick)
    if sfm_dir.is_dir():
        sources["smartfallmm"] = load_skeleton_source("smartfallmm", "smartfallmm-imu", sfm_dir,
                                                      "left_wrist", quick=args.quick)
    weda = load_weda(weda_dir) if weda_dir.is_dir() and "smartfallmm" in sources else None
    if not sources:
        print(f"no UTD-MHAD or SmartFallMM under {args.data}: nothing to measure")
        return {}
    variants = make_variants()
    names = list(variants) if args.variants == "all" else args.variants.split(",")
    unknown = [n for n in names if n not in variants]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from {list(variants)}")
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    negatives: dict[str, SourceData] = {}
    for name in names:
        v = variants[name]
        t0 = time.perf_counter()
        res = results[name] = {}
        for sname, data in sources.items():
            folds = None
            if v.fit_pronation:
                if sname != "utd-mhad":
                    continue
                syn, slopes = pronation_loso(data)
                res["pronation_slopes"] = slopes
            elif v.learned_twist or v.twist_prior:
                if sname != "utd-mhad":
                    continue
                syn, folds, res["learned_twist"] = twist_loso(data, v)
                model = res["learned_twist"].pop("model_all_subjects", None)
                if model is not None:  # for TwistOptions(source="learned", model=...)
                    model.save(args.out / f"learned_twist_{name}.json")
                print(f"[{name}] learned twist: "
                      f"{ {k: x for k, x in res['learned_twist'].items() if k != 'prior_deg'} }",
                      flush=True)
            elif v.twist_from:
                if sname == "utd-mhad":
                    continue
                model = donor_twist_model(v.twist_from, args.data, args.quick)
                v = replace(v, twist=replace(v.twist, source="learned", model=model))
                res["learned_twist"] = model.provenance()
                syn = simulate_source(data, data.clips, v)
            else:
                syn = simulate_source(data, data.clips, v)
            target = "label" if sname == "utd-mhad" else "fall"
            if v.extra_negatives:
                if target != "fall":
                    continue
                for x in v.extra_negatives:
                    if x not in negatives:
                        negatives[x] = load_negatives(x, args.data, data.placement, args.quick)
                n_own, share = len(data.clips), float(np.mean([data.clips[i].fall for i, _, _, _ in syn]))
                data, syn = with_negatives(data, syn, [negatives[x] for x in v.extra_negatives], v)
                if v.rebalance:
                    syn = rebalanced(data, syn, n_own, share, BEST_KINDS, v)
                    res["fall_share"] = round(float(np.mean([data.clips[i].fall for i, _, _, _ in syn])), 3)
                res["extra_negatives"] = {x: len(negatives[x].clips) for x in v.extra_negatives}
            if v.shuffle_labels and v.calibration not in TARGET_CALIBRATIONS:
                raise SystemExit(f"{name}: shuffled labels are a control of the target calibrations")
            r = res[sname] = {"tstr": tstr_loso(data, syn, target, v.calibration, folds,
                                                v.length_match, shuffle_labels=v.shuffle_labels,
                                                realism_seed=v.realism_seed,
                                                pseudo_seed=v.pseudo_seed)}
            if v.copies == 0 and not v.extra_negatives:
                r["agreement"] = agreement(data, syn)
                r["gyro_p95"] = gyro_p95(syn, data.clips)
                used = [info.get("twist", {}).get("used") for _, _, _, info in syn]
                r["twist_used"] = {u: used.count(u) for u in sorted(set(map(str, used)))}
                scr = [info.get("screen") for _, k, _, info in syn if k == 0 and info.get("screen")]
                r["screen"] = {"clips_simulated": sum(k == 0 for _, k, _, _ in syn),
                               "clips_total": len(data.clips),
                               "with_stale_frames": sum(x["stale_frames"] > 0 for x in scr),
                               "with_fast_frames": sum(x["fast_frames"] > 0 for x in scr)}
                if name in ("before", "gated", "screened"):
                    peak_plot(args.out / f"peaks_{sname}_{name}.png", f"{sname} ({name})", syn, data.clips)
            if sname == "smartfallmm" and weda is not None and not v.shuffle_labels:
                res["weda-fall"] = {"tstr": tstr_weda(data, syn, weda, v.calibration,
                                                      v.length_match, realism_seed=v.realism_seed,
                                                      pseudo_seed=v.pseudo_seed)}
                if name == "screened":
                    peak_plot(args.out / "peaks_weda_from_smartfallmm.png",
                              "synthetic SmartFallMM vs real WEDA-FALL", syn, data.clips, weda.clips)
        if _REALISM_AUC:  # min, median, max over the folds (and tasks) of this variant
            res["realism_auc"] = [round(float(f(_REALISM_AUC)), 3) for f in (np.min, np.median, np.max)]
            _REALISM_AUC.clear()
        print(f"[{name}] {time.perf_counter() - t0:.0f} s: " + json.dumps(
            {s: r["tstr"] for s, r in res.items() if isinstance(r, dict) and "tstr" in r}
            | ({"realism_auc": res["realism_auc"]} if "realism_auc" in res else {})), flush=True)
        (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
        write_markdown(args.out / "report.md", results)
    print((args.out / "report.md").read_text())
    return results


def write_markdown(path: Path, results: dict) -> None:
    lines = ["# Fidelity report (benchmarks/fidelity_report.py)", "",
             "Macro-F1 on real clips of held-out subjects (RF = random forest, LR = tstr.py's "
             "logistic regression; features of benchmarks/tstr.py).", "",
             "| variant | UTD-MHAD RF | UTD LR | SmartFallMM fall RF | SFM LR | WEDA-FALL fall RF | WEDA LR |",
             "|---|---|---|---|---|---|---|"]
    trtr = None
    for name, res in results.items():
        cells = []
        for s in ("utd-mhad", "smartfallmm", "weda-fall"):
            t = res.get(s, {}).get("tstr")
            if t:
                mean = f" ({t['RFmean-TSTR']:.3f})" if "RFmean-TSTR" in t else ""
                cells += [f"{t['RF-TSTR']:.3f}{mean}", f"{t['LR-TSTR']:.3f}"]
            else:
                cells += ["", ""]
            if t and trtr is None:
                trtr = {}
            if t:
                trtr.setdefault(s, (t["RF-TRTR"], t["LR-TRTR"]))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if trtr:
        cells = []
        for s in ("utd-mhad", "smartfallmm", "weda-fall"):
            cells += [f"{x:.3f}" for x in trtr[s]] if s in trtr else ["", ""]
        lines.append("| train on real (TRTR) | " + " | ".join(cells) + " |")
    lines += ["", "| variant | source | pairs | \\|a\\| r | \\|g\\| r | ax ay az gx gy gz r | "
              "p95 \\|g\\| syn / real | twist used | screen: simulated/all, with stale, with fast |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, res in results.items():
        for s in ("utd-mhad", "smartfallmm"):
            a = res.get(s, {}).get("agreement")
            if not a:
                continue
            p = res[s]["gyro_p95"]
            lines.append(f"| {name} | {s} | {a['pairs']} | {a['acc_norm_r']} | {a['gyr_norm_r']} | "
                         f"{' '.join(f'{x:.2f}' for x in a['axes_r'])} | {p['synthetic']:.2f} / "
                         f"{p.get('real', float('nan')):.2f} | {res[s]['twist_used']} | "
                         + ("{clips_simulated}/{clips_total}, {with_stale_frames}, {with_fast_frames}"
                            .format(**res[s]["screen"]) if "screen" in res[s] else "") + " |")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=Path("fidelity_report"))
    p.add_argument("--variants", default="all", help="comma-separated variant names, or all")
    p.add_argument("--quick", action="store_true", help="a third of the skeleton clips (iteration)")
    p.add_argument("--rf-seeds", type=int, default=1,
                   help="random-forest seeds 0..N-1; with N > 1 the RF cells also show the mean "
                        "over them in parentheses (seed 0 stays the reference figure)")
    p.add_argument("--sources", default="utd-mhad,smartfallmm",
                   help="tasks to run: utd-mhad and/or smartfallmm (which brings WEDA-FALL)")
    args = p.parse_args(argv)
    set_rf_seeds(args.rf_seeds)
    return run(args)


if __name__ == "__main__":
    main()
