"""Training data: clips from an imu2safety dataset (local folder or Hub id), their text pairs, stats.

Each row needs the columns ``REQUIRED_COLUMNS``; ``instructions`` (list of {kind, instruction,
response}) is optional. Every clip is resampled to the encoder's input rate and centre-cropped to
``max_duration_s``. A clip with NaN/Inf samples or a bad rate is skipped with its reason (logged
and returned), never passed on; a missing column is an error before training starts.

**Label pair** (documented, always added): besides the row's own instruction pairs, every clip gets
one classification pair built from its labels, ``LABEL_INSTRUCTION`` -> ``label_response(...)``, e.g.
``"activity: falling; hazard: falling; unsafe"``. Builds without instruction pairs therefore train
too, and evaluation in generation mode asks this instruction and parses the answer
(``parse_response``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np
import torch

from ..builders.labels import HAZARD_NAMES
from .encoder import N_CHANNELS, resample

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("id", "imu", "sample_rate_hz", "hazard", "activity")
LABEL_INSTRUCTION = "What is the wearer doing in this wrist IMU recording, and is it safe?"


def label_response(activity: str, hazard: str) -> str:
    """The answer of the label pair: ``"activity: A; hazard: H; safe|unsafe"``."""
    return f"activity: {activity}; hazard: {hazard}; {'safe' if hazard == 'none' else 'unsafe'}"


_RESPONSE_RE = re.compile(r"activity:\s*(?P<activity>[^;]*?)\s*;\s*hazard:\s*(?P<hazard>[\w ]+?)\s*;\s*"
                          r"(?P<safe>unsafe|safe)", re.I)


def parse_response(text: str) -> tuple[str | None, bool | None, str | None]:
    """(hazard, safe, activity) read from a generated answer; None for what it does not say.

    Reads the label-pair format first; otherwise takes the first hazard name found in the text
    (``losing balance`` and ``losing_balance`` alike) and the words safe/unsafe.
    """
    m = _RESPONSE_RE.search(text)
    if m and m["hazard"].strip().replace(" ", "_").lower() in HAZARD_NAMES:
        hazard = m["hazard"].strip().replace(" ", "_").lower()
        return hazard, hazard == "none", m["activity"]
    low = text.lower().replace("_", " ")
    found = [(low.find(h.replace("_", " ")), h) for h in HAZARD_NAMES[1:] if h.replace("_", " ") in low]
    hazard = min(found)[1] if found else None
    safe = False if (hazard or re.search(r"\bunsafe\b", low)) else (True if re.search(r"\bsafe\b", low) else None)
    if hazard is None and safe:
        hazard = "none"
    return hazard, safe, None


@dataclass
class Clip:
    """One clip ready for the model: ``imu`` (T, 6) float32 at the encoder rate (m/s^2, rad/s)."""

    id: str
    imu: np.ndarray
    hazard: str
    activity: str
    pairs: list[tuple[str, str]] = field(default_factory=list)


def prepare_imu(imu: np.ndarray, rate_hz: float, target_hz: float, max_duration_s: float | None) -> np.ndarray:
    """Resample to ``target_hz`` and centre-crop to ``max_duration_s`` (None: no crop)."""
    x = resample(imu, rate_hz, target_hz)
    if max_duration_s is not None:
        n = max(1, int(round(max_duration_s * target_hz)))
        if len(x) > n:
            start = (len(x) - n) // 2
            x = x[start:start + n]
    return x


def clips_from_rows(ds, target_hz: float, max_duration_s: float | None = 30.0,
                    pair_kinds: list[str] | None = None) -> tuple[list[Clip], list[tuple[str, str]]]:
    """A ``datasets.Dataset`` split -> (clips, skipped [(id, reason)]).

    pair_kinds: keep only the row's pairs of these kinds (None: all; [] : none, only the label
    pair). Raises ValueError naming the missing columns. ``hazard`` may be a ClassLabel or a string.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in ds.column_names]
    if missing:
        raise ValueError(f"the dataset lacks column(s) {missing}; an imu2safety dataset has "
                         f"{list(REQUIRED_COLUMNS)} (+ instructions)")
    names = getattr(ds.features["hazard"], "names", None)
    has_pairs = "instructions" in ds.column_names
    clips, skipped = [], []
    columns = list(REQUIRED_COLUMNS) + (["instructions"] if has_pairs else [])
    for row in ds.select_columns(columns).with_format("numpy", columns=["imu"], output_all_columns=True):
        rid = str(row["id"])
        hazard = names[int(row["hazard"])] if names else str(row["hazard"])
        if hazard not in HAZARD_NAMES:
            skipped.append((rid, f"unknown hazard {hazard!r}"))
            continue
        imu = np.asarray(row["imu"], dtype=np.float32)
        if imu.ndim != 2 or imu.shape[1] != N_CHANNELS or len(imu) < 1:
            skipped.append((rid, f"imu must be (N>=1, 6), got {imu.shape}"))
            continue
        try:
            x = prepare_imu(imu, float(row["sample_rate_hz"]), target_hz, max_duration_s)
        except ValueError as e:
            skipped.append((rid, str(e)))
            continue
        pairs = [(str(p["instruction"]), str(p["response"])) for p in (row.get("instructions") or [])
                 if str(p.get("instruction", "")).strip() and str(p.get("response", "")).strip()
                 and (pair_kinds is None or p.get("kind") in pair_kinds)]
        activity = str(row["activity"])
        pairs.append((LABEL_INSTRUCTION, label_response(activity, hazard)))
        clips.append(Clip(rid, x, hazard, activity, pairs))
    for rid, why in skipped:
        logger.warning("skipped clip %s: %s", rid, why)
    return clips, skipped


def load_clips(dataset: str, config: str | None, split: str, target_hz: float,
               max_duration_s: float | None = 30.0, revision: str | None = None,
               pair_kinds: list[str] | None = None):
    """``builders.dataset.load.load`` of one split (folder or Hub id) -> ``clips_from_rows``."""
    from ..builders.dataset.load import load

    ds = load(dataset, config, split=split, revision=revision)
    return clips_from_rows(ds, target_hz, max_duration_s, pair_kinds)


def channel_stats(clips: list[Clip]) -> tuple[list[float], list[float]]:
    """Per-channel mean and std over every sample of ``clips`` (std floored at 1e-6)."""
    if not clips:
        raise ValueError("no clips to compute the normalisation statistics from")
    x = np.concatenate([c.imu for c in clips]).astype(np.float64)
    return x.mean(0).tolist(), np.maximum(x.std(0), 1e-6).tolist()


class PairDataset(torch.utils.data.Dataset):
    """Training items: one per (clip, pair) in ``generate`` mode, one per clip in ``classify`` mode.

    shuffle_imu (the control run): the IMU of each item comes from another clip, through a fresh
    random derangement of the clips at each epoch (``set_epoch``), so the label cannot be read from
    the signal.
    """

    def __init__(self, clips: list[Clip], objective: str, activities: list[str],
                 shuffle_imu: bool = False, seed: int = 0):
        self.clips = clips
        self.items = [(i, j) for i, c in enumerate(clips) for j in range(len(c.pairs))] \
            if objective == "generate" else [(i, len(c.pairs) - 1) for i, c in enumerate(clips)]
        self.activities = {a: k for k, a in enumerate(activities)}
        self.shuffle_imu, self.seed = shuffle_imu, seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        n = len(self.clips)
        self.imu_source = np.arange(n)
        if self.shuffle_imu and n > 1:
            rng = np.random.default_rng([self.seed, epoch, 1])
            shift = rng.permutation(n)
            self.imu_source = np.empty(n, dtype=np.int64)
            self.imu_source[shift] = np.roll(shift, 1)  # a cycle: no clip keeps its own IMU

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> dict:
        i, j = self.items[k]
        c = self.clips[i]
        instruction, response = c.pairs[j]
        return {"id": c.id, "imu": self.clips[self.imu_source[i]].imu, "instruction": instruction,
                "response": response, "hazard": HAZARD_NAMES.index(c.hazard),
                "activity": self.activities.get(c.activity, 0)}
