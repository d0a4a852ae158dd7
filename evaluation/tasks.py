"""Benchmark tasks on real wrist IMU: label sets, windows, and the benchmark folder format.

Every task fixes one output rate, one window length and one windowing rule (see ``Task``):

- **event-centred** where the source marks fall times (WEDA-FALL): a fall trial gives exactly one
  window, centred on the middle of the marked fall interval (shifted inside the trial when it
  would run over an edge). That window holds the whole marked fall (the marks span 2-4.7 s,
  3 s in most trials). The rest of a fall trial (walking before, lying after) is not used: it is
  neither a clean daily activity nor a fall, so no window overlapping a fall only in part is
  labelled at all.
- **sliding** otherwise: windows of ``window_s`` every ``stride_s`` over the whole trial, each
  labelled with its trial's label (SmartFallMM's and UP-Fall's fall trials carry no fall times;
  their trials are cut around one activity). A trial shorter than the window gives one window
  when it is at least ``min_fraction`` of the window, centred and padded by repeating its
  first/last sample; shorter trials are dropped with a reason.

Fall tasks: "fall" = hazard ``falling`` or ``fainting``; everything else is "not_fall". In
particular WEDA-FALL's D07 (stumble while walking; hazard ``losing_balance``) is **not a fall**
in the fall tasks; it is its own class in ``hazard-weda``.

Test sets are subject-wise: the test split of ``builders/splits.py`` (a subject is never in both
the test and the training windows); ``--test-subjects`` overrides it (e.g. leave one subject out).

A benchmark folder (``prepare.prepare`` writes it; ``load_windows`` reads it)::

    BENCH_DIR/manifest.json          task, protocol_version, sample_rate_hz, window_s, labels, ...
    BENCH_DIR/labels.jsonl           one line per test window: {"id", "label", "subject"}
    BENCH_DIR/windows/{test,train}.npz   ids, imu (N, T, 6) float32, labels, subjects, trials,
                                     start_s, daily (stored without pickled objects)
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..builders.labels import FALL_HAZARDS, UTD_MHAD_LABELS, WEDA_FALL_LABELS

#: Version of the task definitions and folder format; bumped when windows or labels change.
PROTOCOL_VERSION = "1.0.0"
MANIFEST = "manifest.json"
LABELS = "labels.jsonl"
WINDOWS = "windows/{split}.npz"
BENCH_SPLITS = ("test", "train")

FALL, NOT_FALL = "fall", "not_fall"
# Hazards that count as a fall: ``builders.labels.FALL_HAZARDS`` (one place for the fact).


@dataclass(frozen=True)
class Task:
    """One benchmark task.

    name: CLI name. source: the real-IMU reader (``builders.sources``). kind: "fall" (binary),
    "hazard" or "activity". labels: the label set, in a fixed order. positive: the positive
    label(s) for sensitivity/specificity ("fall" or the hazards); empty for activity tasks.
    sample_rate_hz, window_s, stride_s: output rate (Hz), window length and sliding stride (s).
    event_centred: fall trials with marked fall times give one window centred on the fall.
    min_fraction: shortest trial kept, as a fraction of the window (padded to the window).
    placement: the real sensor's placement; synthetic: the skeleton source of its TSTR training
    data (``cross_dataset`` when it is another dataset's skeletons). description: card text.
    """

    name: str
    source: str
    kind: str
    labels: tuple[str, ...]
    positive: tuple[str, ...]
    sample_rate_hz: float
    window_s: float
    stride_s: float
    placement: str
    synthetic: str
    description: str
    event_centred: bool = False
    min_fraction: float = 0.5
    cross_dataset: bool = False
    reader_options: dict = field(default_factory=dict)

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.sample_rate_hz))

    def label_of(self, hazard: str, activity: str) -> str | None:
        """The task label of a clip with this reviewed (hazard, activity); None: not in the task.

        Strict (for training and test data): fall tasks take every clip; hazard and activity
        tasks only clips whose hazard / activity is one of ``labels``.
        """
        if self.kind == "fall":
            return FALL if hazard in FALL_HAZARDS else NOT_FALL
        if self.kind == "hazard":
            return hazard if hazard in self.labels else None
        return activity if activity in self.labels else None

    def label_from_prediction(self, hazard: str, safe: bool, activity: str) -> str:
        """Map a model's (hazard, safe, activity) output onto one of ``labels`` (never fails).

        fall: "fall" iff hazard is falling or fainting (losing_balance is not a fall).
        hazard: the hazard when it is a task label, else "none" (another hazard is a miss).
        activity: the label equal to ``activity`` ignoring case and spaces, else the closest
        label by ``difflib`` similarity (a wrong answer, scored as such).
        """
        hazard = (hazard or "").strip().lower()
        if self.kind == "fall":
            return FALL if hazard in FALL_HAZARDS else NOT_FALL
        if self.kind == "hazard":
            return hazard if hazard in self.labels else "none"
        key = " ".join((activity or "").lower().split())
        for label in self.labels:
            if label.lower() == key:
                return label
        scores = [difflib.SequenceMatcher(None, key, label.lower()).ratio() for label in self.labels]
        return self.labels[int(np.argmax(scores))]

    def to_dict(self) -> dict:
        return {"task": self.name, "protocol_version": PROTOCOL_VERSION, "source": self.source,
                "kind": self.kind, "labels": list(self.labels), "positive": list(self.positive),
                "sample_rate_hz": self.sample_rate_hz, "window_s": self.window_s,
                "window_samples": self.window_samples, "stride_s": self.stride_s,
                "event_centred": self.event_centred, "min_fraction": self.min_fraction,
                "placement": self.placement, "synthetic": self.synthetic,
                "cross_dataset": self.cross_dataset}


_FALL_RULE = ("fall = hazard falling or fainting, everything else not_fall (WEDA-FALL's D07 "
              "stumble, hazard losing_balance, is not a fall)")
_SLIDING = "sliding 3 s windows every 1.5 s, each labelled with its trial's label"

TASKS: dict[str, Task] = {t.name: t for t in (
    Task("fall-weda", "weda-fall", "fall", (NOT_FALL, FALL), (FALL,), 50.0, 3.0, 1.5,
         "left_wrist", "smartfallmm", cross_dataset=True, event_centred=True,
         description=f"WEDA-FALL Fitbit Sense, left wrist, 50 Hz. Fall trials: one 3 s window "
                     f"centred on the marked fall; daily activities: {_SLIDING}. {_FALL_RULE}. "
                     "No WEDA-FALL skeleton exists: TSTR trains on SmartFallMM skeletons."),
    Task("fall-smartfallmm", "smartfallmm-imu", "fall", (NOT_FALL, FALL), (FALL,), 50.0, 3.0,
         1.5, "left_wrist", "smartfallmm",
         description=f"SmartFallMM watch, left wrist, resampled to 50 Hz; no fall times: "
                     f"{_SLIDING}. {_FALL_RULE}."),
    Task("fall-upfall", "up-fall", "fall", (NOT_FALL, FALL), (FALL,), 18.0, 3.0, 1.5,
         "left_wrist", "smartfallmm", cross_dataset=True,
         description=f"UP-Fall MetaSensor, left wrist, 18 Hz; no fall times: {_SLIDING}. "
                     f"{_FALL_RULE}. TSTR trains on SmartFallMM skeletons (cross-dataset)."),
    Task("hazard-weda", "weda-fall", "hazard",
         ("none", "falling", "fainting", "losing_balance"),
         ("falling", "fainting", "losing_balance"), 50.0, 3.0, 1.5, "left_wrist", "smartfallmm",
         cross_dataset=True, event_centred=True,
         description="WEDA-FALL hazards: falling (F01-F05), fainting (F06-F08), losing_balance "
                     f"(D07 stumble) and none (other daily activities); windows as fall-weda. "
                     "TSTR trains on SmartFallMM skeletons, which hold only falling and none."),
    Task("activity-utd", "utd-mhad-imu", "activity",
         tuple(UTD_MHAD_LABELS[f"a{i}"].activity for i in range(1, 22)), (), 50.0, 3.0, 1.5,
         "right_wrist", "utd-mhad",
         description=f"UTD-MHAD wrist actions a1-a21 (right wrist, 50 Hz); {_SLIDING}. Official "
                     "test subjects are the even ones."),
)}


def get_task(name: str) -> Task:
    """Task by name; ValueError listing the valid names."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(TASKS)}") from None


# ---------------------------------------------------------------- windows

def resample_to(imu: np.ndarray, rate_hz: float, target_hz: float) -> np.ndarray:
    """(N, C) at ``rate_hz`` -> (M, C) at ``target_hz`` by linear interpolation over the same span."""
    imu = np.asarray(imu, dtype=np.float64)
    if abs(rate_hz - target_hz) < 1e-9 or len(imu) < 2:
        return imu
    t = np.arange(len(imu)) / rate_hz
    t_new = np.arange(int(np.floor(t[-1] * target_hz + 1e-9)) + 1) / target_hz
    return np.stack([np.interp(t_new, t, imu[:, c]) for c in range(imu.shape[1])], axis=1)


def _pad_centre(x: np.ndarray, n: int) -> np.ndarray:
    """(m, C) with m < n -> (n, C), centred, padded by repeating the first/last sample."""
    before = (n - len(x)) // 2
    return np.pad(x, ((before, n - len(x) - before), (0, 0)), mode="edge")


def cut_windows(imu: np.ndarray, task: Task, event_s: tuple[float, float] | None = None
                ) -> tuple[list[int], list[np.ndarray]] | str:
    """Windows of one trial already at ``task.sample_rate_hz``.

    imu: (N, 6) float. event_s: the marked fall (start, end) in s from imu[0], for an
    event-centred window. Returns (start sample of each window, (T, 6) windows) or the reason
    why the trial gives none. A padded window's start is negative (samples before imu[0]).
    """
    n, w = len(imu), task.window_samples
    if n < max(2, int(np.ceil(task.min_fraction * w))):
        return (f"trial of {n / task.sample_rate_hz:.2f} s is shorter than "
                f"{task.min_fraction:g} x the {task.window_s:g} s window")
    if n <= w:
        return [-((w - n) // 2)], [_pad_centre(imu, w)]
    if event_s is not None:
        centre = 0.5 * (event_s[0] + event_s[1]) * task.sample_rate_hz
        start = int(np.clip(round(centre - w / 2), 0, n - w))
        return [start], [imu[start:start + w]]
    stride = max(1, int(round(task.stride_s * task.sample_rate_hz)))
    starts = list(range(0, n - w + 1, stride))
    return starts, [imu[s:s + w] for s in starts]


@dataclass
class Window:
    """One window: id, imu (T, 6) float32 (ax ay az m/s^2, gx gy gz rad/s, sensor frame)."""

    id: str
    imu: np.ndarray
    label: str
    subject: str


@dataclass
class Windows:
    """Windows of one split of a benchmark folder.

    ids (N,) str; imu (N, T, 6) float32, ax ay az (m/s^2, specific force) gx gy gz (rad/s),
    sensor frame; labels, subjects, trials (N,) str; start_s (N,) float, window start from the
    trial's first sample (negative when padded); daily (N,) bool, window of a trial whose task
    label is not positive, i.e. daily activity (the time base of false alarms per hour; WEDA-FALL's
    D07 stumble counts as daily activity in the fall tasks); sample_rate_hz; task.
    """

    ids: np.ndarray
    imu: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    trials: np.ndarray
    start_s: np.ndarray
    daily: np.ndarray
    sample_rate_hz: float
    task: Task

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self):
        for i in range(len(self.ids)):
            yield Window(str(self.ids[i]), self.imu[i], str(self.labels[i]), str(self.subjects[i]))

    def select(self, mask: np.ndarray) -> "Windows":
        """The windows where ``mask`` (N,) bool is True."""
        return Windows(self.ids[mask], self.imu[mask], self.labels[mask], self.subjects[mask],
                       self.trials[mask], self.start_s[mask], self.daily[mask],
                       self.sample_rate_hz, self.task)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, ids=self.ids.astype(str), imu=self.imu.astype(np.float32),
                            labels=self.labels.astype(str), subjects=self.subjects.astype(str),
                            trials=self.trials.astype(str), start_s=self.start_s.astype(np.float64),
                            daily=self.daily.astype(bool))

    @staticmethod
    def concatenate(parts: list["Windows"], task: Task) -> "Windows":
        if not parts:
            return empty_windows(task)
        cat = [np.concatenate([getattr(p, f) for p in parts]) for f in
               ("ids", "imu", "labels", "subjects", "trials", "start_s", "daily")]
        return Windows(*cat, sample_rate_hz=task.sample_rate_hz, task=task)


def empty_windows(task: Task) -> Windows:
    s = np.zeros(0, dtype=str)
    return Windows(s, np.zeros((0, task.window_samples, 6), np.float32), s, s, s,
                   np.zeros(0), np.zeros(0, bool), task.sample_rate_hz, task)


def read_manifest(bench_dir: str | Path) -> dict:
    """The manifest of a benchmark folder; ValueError naming the folder when it is not one."""
    path = Path(bench_dir) / MANIFEST
    if not path.is_file():
        raise ValueError(f"{bench_dir} is not a benchmark folder (no {MANIFEST}); make one with "
                         f"`imu2safety benchmark prepare TASK --input DIR --output {bench_dir}`")
    manifest = json.loads(path.read_text())
    major = str(manifest.get("protocol_version", "0")).split(".")[0]
    if major != PROTOCOL_VERSION.split(".")[0]:
        raise ValueError(f"{bench_dir} was prepared with protocol {manifest.get('protocol_version')}"
                         f", this code scores protocol {PROTOCOL_VERSION}: prepare it again")
    return manifest


def load_windows(bench_dir: str | Path, split: str = "test") -> Windows:
    """The windows of ``split`` ("test" or "train") of a benchmark folder, with its task."""
    if split not in BENCH_SPLITS:
        raise ValueError(f"split must be one of {BENCH_SPLITS}, got {split!r}")
    manifest = read_manifest(bench_dir)
    task = get_task(manifest["task"])
    path = Path(bench_dir) / WINDOWS.format(split=split)
    if not path.is_file():
        return empty_windows(task)
    with np.load(path, allow_pickle=False) as z:
        return Windows(z["ids"], z["imu"], z["labels"], z["subjects"], z["trials"],
                       z["start_s"], z["daily"], float(manifest["sample_rate_hz"]), task)


def read_labels(bench_dir: str | Path) -> list[dict]:
    """The lines of ``labels.jsonl``: {"id", "label", "subject"} per test window, in order."""
    path = Path(bench_dir) / LABELS
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
