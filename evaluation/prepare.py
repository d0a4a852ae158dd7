"""Cut a task's real windows from a source on disk into a benchmark folder; window built datasets.

``prepare`` reads the task's real-IMU source with its reader (``builders.sources``), cuts the
windows of ``tasks.cut_windows``, splits them by subject (the source's test split, or the
subjects given) and writes the folder described in ``tasks``. ``dataset_windows`` cuts the same
windows from any built dataset folder (synthetic or real rows), for training.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ..builders.dataset.layout import write_bytes_atomic
from ..builders.dataset.schema import imu_arrays
from ..builders.dataset.writer import read_split
from ..builders.labels import HAZARD_NAMES
from ..builders.records import SPLITS, Clip, Skip
from ..builders.sources import get_source
from .tasks import (FALL_HAZARDS, LABELS, MANIFEST, WINDOWS, Task, Windows, cut_windows,
                    empty_windows, get_task, resample_to)

logger = logging.getLogger(__name__)


@dataclass
class Trial:
    """One recording reduced to what windowing needs (imu (N, 6) at ``rate_hz``)."""

    id: str
    subject: str
    split: str
    hazard: str
    activity: str
    imu: np.ndarray
    rate_hz: float
    event_s: tuple[float, float] | None = None


@dataclass
class PrepareResult:
    """What ``prepare`` wrote: windows per split, subjects per split, skips (input, reason)."""

    windows: dict[str, int]
    subjects: dict[str, list[str]]
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _event(clip: Clip) -> tuple[float, float] | None:
    start, end = clip.extra.get("fall_start_s"), clip.extra.get("fall_end_s")
    return None if start is None or end is None else (float(start), float(end))


def read_trials(task: Task, input_dir: Path) -> tuple[list[Trial], list[tuple[str, str]]]:
    """Every clip of the task's real source as a Trial, and the skips with their reasons."""
    source = get_source(task.source)
    options = dict(task.reader_options)
    if task.source in ("weda-fall", "smartfallmm-imu", "up-fall"):
        options["rate_hz"] = task.sample_rate_hz  # these readers resample onto any grid
    trials, skipped = [], []
    for path in source.list_inputs(Path(input_dir), **options):
        for item in source.read(path, **options):
            if isinstance(item, Skip):
                skipped.append((item.input, item.reason))
                continue
            label = item.resolved_label()
            trials.append(Trial(item.id, item.subject, item.split, label.hazard, label.activity,
                                item.imu, float(item.sample_rate_hz), _event(item)))
    return trials, skipped


def window_trials(trials: Iterable[Trial], task: Task, require_events: bool = True
                  ) -> tuple[Windows, list[tuple[str, str]]]:
    """Windows of the trials that belong to the task, with the trials dropped and why.

    require_events: in an event-centred task, drop fall trials without marked fall times (the
    real test data); False slides over them instead (training data from other sources).
    """
    parts: dict[str, list] = {k: [] for k in ("ids", "imu", "labels", "subjects", "trials",
                                              "start_s", "daily")}
    dropped = []
    for tr in trials:
        label = task.label_of(tr.hazard, tr.activity)
        if label is None:
            continue  # not one of the task's classes (e.g. UTD-MHAD thigh actions)
        imu = resample_to(tr.imu, tr.rate_hz, task.sample_rate_hz)
        event = tr.event_s if task.event_centred and tr.hazard != "none" else None
        if require_events and task.event_centred and tr.hazard in FALL_HAZARDS and event is None:
            dropped.append((tr.id, "fall trial without marked fall times"))
            continue
        cut = cut_windows(imu, task, event)
        if isinstance(cut, str):
            dropped.append((tr.id, cut))
            continue
        starts, wins = cut
        for s, w in zip(starts, wins):
            parts["ids"].append(f"{tr.id}@{s:+06d}")
            parts["imu"].append(w.astype(np.float32))
            parts["labels"].append(label)
            parts["subjects"].append(tr.subject)
            parts["trials"].append(tr.id)
            parts["start_s"].append(s / task.sample_rate_hz)
            parts["daily"].append(label not in task.positive)
    if not parts["ids"]:
        return empty_windows(task), dropped
    w = Windows(np.array(parts["ids"]), np.stack(parts["imu"]), np.array(parts["labels"]),
                np.array(parts["subjects"]), np.array(parts["trials"]),
                np.array(parts["start_s"], dtype=np.float64), np.array(parts["daily"], bool),
                task.sample_rate_hz, task)
    if len(set(w.ids.tolist())) != len(w.ids):
        raise ValueError(f"{task.name}: window ids are not unique (duplicate clip ids in the source)")
    return w, dropped


def daily_hours(w: Windows) -> float:
    """Hours of daily activity the windows cover: per trial, the union of its daily windows."""
    if not w.daily.any():
        return 0.0
    length = w.task.window_s
    total = 0.0
    for trial in np.unique(w.trials[w.daily]):
        starts = np.sort(w.start_s[w.daily & (w.trials == trial)])
        total += float(np.minimum(np.diff(starts), length).sum() + length)
    return total / 3600.0


def prepare(task: Task | str, input_dir: Path, output_dir: Path,
            test_subjects: Iterable[str] | None = None,
            trials: tuple[list[Trial], list[tuple[str, str]]] | None = None) -> PrepareResult:
    """Write the benchmark folder of ``task`` from the source in ``input_dir``.

    Test windows: subjects of the source's test split (or exactly ``test_subjects``); train
    windows (for TRTR): every other subject. ``trials``: what ``read_trials(task, input_dir)``
    returns, when the caller already has it. Raises ValueError when no test window results.
    """
    task = get_task(task) if isinstance(task, str) else task
    output_dir = Path(output_dir)
    trials, skipped = trials if trials is not None else read_trials(task, Path(input_dir))
    skipped = list(skipped)
    windows, dropped = window_trials(trials, task)
    skipped += dropped
    if test_subjects is not None:
        test_subjects = sorted(set(test_subjects))
        unknown = sorted(set(test_subjects) - set(windows.subjects.tolist()))
        if unknown:
            raise ValueError(f"test subject(s) {unknown} have no window in {input_dir}; "
                             f"subjects there: {sorted(set(windows.subjects.tolist()))}")
        is_test = np.isin(windows.subjects, test_subjects)
    else:
        split_of = {t.subject: t.split for t in trials}
        is_test = np.array([split_of[s] == "test" for s in windows.subjects.tolist()], bool)
    if not is_test.any():
        raise ValueError(f"{task.name}: no window of a test subject in {input_dir} (subjects: "
                         f"{sorted(set(windows.subjects.tolist()))}); pass --test-subjects")
    parts = {"test": windows.select(is_test), "train": windows.select(~is_test)}
    output_dir.mkdir(parents=True, exist_ok=True)
    for split, w in parts.items():
        w.save(output_dir / WINDOWS.format(split=split))
    test = parts["test"]
    lines = "".join(json.dumps({"id": i, "label": lab, "subject": s}) + "\n" for i, lab, s in
                    zip(test.ids.tolist(), test.labels.tolist(), test.subjects.tolist()))
    write_bytes_atomic(output_dir / LABELS, lines.encode("utf-8"))
    manifest = task.to_dict()
    manifest.update(
        description=task.description, input=Path(input_dir).name,
        splits={split: {"windows": len(w), "subjects": sorted(set(w.subjects.tolist())),
                        "label_counts": {lab: int((w.labels == lab).sum()) for lab in task.labels},
                        "daily_activity_s": round(daily_hours(w) * 3600, 3)}
                for split, w in parts.items()},
        skipped={"count": len(skipped), "first": [list(s) for s in skipped[:20]]},
    )
    write_bytes_atomic(output_dir / MANIFEST,
                       (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return PrepareResult({k: len(v) for k, v in parts.items()},
                         {k: manifest["splits"][k]["subjects"] for k in parts}, skipped)


# ---------------------------------------------------------------- built datasets

def read_built(dataset_dir: Path, config: str, splits: Iterable[str] = SPLITS) -> list[Trial]:
    """Rows of a built dataset config (any source, synthetic or real) as Trials.

    Reads id, subject, hazard, activity, imu, sample_rate_hz and extra (fall times) of every
    split; each Trial keeps its row's split.
    """
    trials = []
    columns = ["id", "subject", "activity", "hazard", "sample_rate_hz", "imu", "extra"]
    for split in splits:
        table = read_split(dataset_dir, config, split, columns)
        if not table.num_rows:
            continue
        values, offsets = imu_arrays(table["imu"])
        for k, row in enumerate(table.drop_columns(["imu"]).to_pylist()):
            extra = json.loads(row["extra"] or "{}")
            start, end = extra.get("fall_start_s"), extra.get("fall_end_s")
            event = None if start is None or end is None else (float(start), float(end))
            trials.append(Trial(row["id"], row["subject"], split, HAZARD_NAMES[row["hazard"]],
                                row["activity"], values[offsets[k]:offsets[k + 1]].astype(np.float64),
                                float(row["sample_rate_hz"]), event))
    if not trials:
        raise ValueError(f"no rows of config {config!r} in {dataset_dir}")
    return trials


def dataset_windows(task: Task | str, dataset_dir: Path, config: str,
                    exclude_subjects: Iterable[str] = ()) -> Windows:
    """The task's windows of a built dataset config, without the rows of ``exclude_subjects``.

    Fall trials without marked fall times (every skeleton source) give sliding windows.
    """
    task = get_task(task) if isinstance(task, str) else task
    exclude = set(exclude_subjects)
    trials = [t for t in read_built(Path(dataset_dir), config) if t.subject not in exclude]
    windows, dropped = window_trials(trials, task, require_events=False)
    if dropped:
        logger.info("%s: %d trial(s) of %s gave no window (first: %s)", task.name, len(dropped),
                    config, dropped[0])
    return windows
