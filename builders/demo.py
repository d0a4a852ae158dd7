"""``imu2safety demo``: the project's main job on the sample that ships with it, in seconds.

Builds config ``npz`` from the procedural motions in ``samples/`` (next to the package; regenerate
them with ``samples/make_samples.py``) with a realistic device (``DEMO_DEVICE`` at 50 Hz on the left
wrist), opens the result with ``datasets.load_dataset``, checks that no sample is NaN or Inf and
prints a summary: rows per split, class counts, clip durations, mean peak |accel| and |gyro| per
class, and where the dataset card and its figures are.

Output folder rule: the demo writes only into a new or empty folder, or into one that a previous
demo wrote (no config but ``npz``, built from ``samples``). In the latter case the files of config
``npz`` are deleted first and the config is built again from scratch, so the result always
reflects the shipped sample and this version of the code (resuming would keep rows of an older
build). Any other non-empty folder is refused, so a real dataset is never touched.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .build import BuildOptions, build, format_report
from .labels import HAZARD_NAMES
from .dataset.layout import CARD_PATH, DATA_DIR, FIGURE_PATH, INFO_PATH, PROGRESS_PATH, REPORT_PATH, load_info
from .records import SPLITS

CONFIG = "npz"
DEMO_DEVICE = "bmi160"
DEMO_RATE_HZ = 50.0
DEMO_PLACEMENT = "left_wrist"


def samples_dir() -> Path:
    """The shipped sample folder: ``<package>/samples`` (motion ``.npz`` files + ``labels.csv``)."""
    import imu2safety

    return Path(imu2safety.__file__).resolve().parent / "samples"


def _configs_in(folder: Path) -> set[str]:
    """Configs a dataset folder holds (from meta/info.json, data/* and meta/progress_*.json)."""
    names = {p.name for p in (folder / "data").iterdir() if p.is_dir()} if (folder / "data").is_dir() else set()
    if (folder / "meta").is_dir():
        names |= {p.name[len("progress_"):-len(".json")] for p in (folder / "meta").glob("progress_*.json")}
    if (folder / INFO_PATH).is_file():
        names |= set(load_info(folder, check=False).configs)
    return names


def prepare_output(output: Path) -> str | None:
    """Make ``output`` ready for a fresh demo build (rule in the module docstring).

    Returns None when ready, else the reason the folder cannot be used.
    """
    if output.exists() and not output.is_dir():
        return f"{output} exists and is not a folder"
    if not output.exists() or not any(output.iterdir()):
        return None
    configs = _configs_in(output)
    if not configs:
        return (f"{output} is not empty and holds no imu2safety dataset; give the demo a new or "
                "empty folder")
    if configs != {CONFIG}:
        return (f"{output} holds dataset config(s) {sorted(configs - {CONFIG})}; the demo writes "
                f"config {CONFIG!r} only into a folder of its own")
    if (output / INFO_PATH).is_file():
        built_from = load_info(output, check=False).configs[CONFIG].build_options.get("input_dir")
        if built_from != samples_dir().name:
            return (f"{output} holds an {CONFIG!r} config built from {built_from!r}, not from the "
                    "shipped sample; give the demo a new or empty folder")
    data = output / DATA_DIR.format(config=CONFIG)
    if data.is_dir():
        for p in data.iterdir():
            if p.is_file():
                p.unlink()
        data.rmdir()
    own = [PROGRESS_PATH, REPORT_PATH, INFO_PATH, CARD_PATH]
    own += [FIGURE_PATH.replace("{hazard}", h) for h in HAZARD_NAMES]
    for template in own:
        (output / template.format(config=CONFIG)).unlink(missing_ok=True)
    return None


def summarize(dataset) -> tuple[str, bool]:
    """Summary text of a loaded ``DatasetDict`` and whether every IMU sample is finite."""
    names = dataset[next(iter(dataset))].features["hazard"].names
    lines = ["rows per split: " + ", ".join(f"{s} {dataset[s].num_rows}" for s in SPLITS if s in dataset)]
    per_class: dict[str, dict] = {}
    durations, finite = [], True
    for split in (s for s in SPLITS if s in dataset):
        rows = dataset[split].with_format("numpy", columns=["imu", "sample_rate_hz", "hazard", "activity"])
        for row in rows:
            imu = np.asarray(row["imu"], dtype=np.float64)
            finite &= bool(np.isfinite(imu).all())
            c = per_class.setdefault(names[int(row["hazard"])], {"splits": dict.fromkeys(SPLITS, 0),
                                                                   "acc": [], "gyro": [], "activities": set()})
            c["splits"][split] += 1
            c["acc"].append(np.linalg.norm(imu[:, :3], axis=1).max())
            c["gyro"].append(np.linalg.norm(imu[:, 3:], axis=1).max())
            c["activities"].add(str(row["activity"]))
            durations.append(len(imu) / float(row["sample_rate_hz"]))
    lines.append(f"clips {len(durations)}, duration {min(durations):.1f} - {max(durations):.1f} s")
    lines.append(f"{'class':20s} {'train':>5s} {'val':>4s} {'test':>4s}  {'peak |a| m/s^2':>14s}  "
                 f"{'peak |w| rad/s':>14s}  activities")
    for h in names:
        if h not in per_class:
            continue
        c = per_class[h]
        lines.append(f"{h:20s} {c['splits']['train']:5d} {c['splits']['validation']:4d} "
                     f"{c['splits']['test']:4d}  {np.mean(c['acc']):14.1f}  {np.mean(c['gyro']):14.2f}  "
                     + ", ".join(sorted(c["activities"])))
    lines.append("(peaks: mean over the class's clips of each clip's largest |accel| / |gyro|)")
    return "\n".join(lines), finite


def run_demo(output: Path, progress: bool = True) -> int:
    """Build, load and describe the demo dataset in ``output``; returns the exit status (0 = ok)."""
    import datasets

    output = Path(output)
    source = samples_dir()
    if not (source / "labels.csv").is_file():
        print(f"imu2safety: error: the shipped sample is missing ({source / 'labels.csv'}); "
              "reinstall imu2safety or run samples/make_samples.py", file=sys.stderr)
        return 2
    problem = prepare_output(output)
    if problem:
        print(f"imu2safety: error: {problem}", file=sys.stderr)
        return 2
    options = BuildOptions(source=CONFIG, input_dir=source, output_dir=output, rate_hz=DEMO_RATE_HZ,
                           placement=DEMO_PLACEMENT, device=DEMO_DEVICE, seed=0)
    print(f"building config {CONFIG!r} from {source} ({DEMO_DEVICE}, {DEMO_RATE_HZ:g} Hz, "
          f"{DEMO_PLACEMENT}) into {output}")
    result = build(options, progress=progress)
    print(format_report(result.report))
    print(f"built in {result.seconds:.1f} s ({result.clips_per_s:.0f} clips/s)")

    bars = datasets.utils.logging.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()
    try:
        dataset = datasets.load_dataset(str(output), CONFIG)
    finally:
        if bars and not progress:
            datasets.enable_progress_bars()
    print(f"\nload_dataset({str(output)!r}, {CONFIG!r}):")
    text, finite = summarize(dataset)
    print(text)
    if not finite:
        print("imu2safety: error: the dataset holds NaN or Inf IMU samples", file=sys.stderr)
        return 1
    print("no NaN or Inf in any IMU sample")
    print(f"\ndataset card: {output / CARD_PATH}")
    figures = [output / FIGURE_PATH.format(config=CONFIG, hazard=h) for h in HAZARD_NAMES]
    print("figures (one example clip per class):")
    for f in figures:
        if f.is_file():
            print(f"  {f}")
    return 0
