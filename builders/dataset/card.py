"""The dataset card (README.md): YAML metadata generated from ``DatasetInfo``, prose from the
``cards/dataset_card.md`` template, and one example plot per hazard class of every config.

The plots are PNGs without a date or software tag (``metadata={"Software": None}``), so identical
builds give identical bytes.
"""

from __future__ import annotations

import io
import json
import textwrap
from collections import OrderedDict
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import yaml

from ..labels import HAZARD_NAMES, SOURCE_EXCLUDED, SOURCE_LABELS
from .layout import (
    CARD_PATH, DATA_GLOB, FIGURE_PATH, LICENSE_PATH, REPORT_PATH, DatasetInfo, read_shard,
    shard_paths, write_bytes_atomic,
)
from ..records import SPLITS
from .schema import COLUMN_DOCS, FACT_DOCS, imu_arrays

PRETTY_NAME = "imu2safety"
#: The Hub has no time-series-classification task; clip classification is filed as tabular
#: classification and the instruction pairs as text generation.
TASK_CATEGORIES = ["tabular-classification", "text-generation"]
TAGS = ["imu", "accelerometer", "gyroscope", "wearable", "smartwatch", "time-series",
        "human-activity-recognition", "fall-detection", "safety", "synthetic"]
REPO_PLACEHOLDER = "ORG/NAME"
_SIZE_BINS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
              (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]


def size_category(n_rows: int) -> str:
    """The Hub's ``size_categories`` value for ``n_rows``."""
    for limit, name in _SIZE_BINS:
        if n_rows < limit:
            return name
    return "n>10M"


def card_metadata(info: DatasetInfo, license: str = "other") -> dict[str, Any]:
    """YAML front matter: the ``configs:`` list (only splits that hold rows), licence, tasks, tags.

    The first config in sorted order is the default, so ``load_dataset(DIR)`` works.
    """
    configs = []
    for i, name in enumerate(sorted(info.configs)):
        entry: dict[str, Any] = {"config_name": name}
        if i == 0:
            entry["default"] = True
        entry["data_files"] = [{"split": s, "path": DATA_GLOB.format(config=name, split=s)}
                               for s in info.configs[name].splits]
        if info.configs[name].content_sha256:
            # datasets keys its cache of a local folder on this YAML only (not on the files):
            # the content digest makes a rebuilt folder load afresh.
            entry["description"] = f"content sha256:{info.configs[name].content_sha256}"
        configs.append(entry)
    total = sum(sum(c.split_counts.values()) for c in info.configs.values())
    meta: dict[str, Any] = {"pretty_name": PRETTY_NAME, "license": license}
    if license == "other":
        meta["license_name"] = "per-source"
        meta["license_link"] = LICENSE_PATH
    meta.update({
        "task_categories": list(TASK_CATEGORIES),
        "tags": list(TAGS),
        "size_categories": [size_category(total)],
        "configs": configs,
    })
    return meta


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _schema_table() -> str:
    columns = _table(["column", "type", "unit / frame", "meaning"],
                     [[f"`{k}`", t, u, m] for k, (t, u, m) in COLUMN_DOCS.items()])
    facts = _table(["field", "type", "unit", "meaning"],
                   [[f"`{k}`", t, u, m] for k, (t, u, m) in FACT_DOCS.items()])
    return (columns + "\n\n<details><summary>Fields of `facts` (" + str(len(FACT_DOCS))
            + ")</summary>\n\n" + facts + "\n\n</details>")


def _counts_table(split_counts: dict[str, int], class_counts: dict[str, dict[str, int]]) -> str:
    splits = [s for s in SPLITS if split_counts.get(s)]
    hazards = [h for h in HAZARD_NAMES if any(class_counts.get(s, {}).get(h) for s in splits)]
    rows = [[f"`{h}`", *(class_counts.get(s, {}).get(h, 0) for s in splits),
             sum(class_counts.get(s, {}).get(h, 0) for s in splits)] for h in hazards]
    rows.append(["**all**", *(split_counts[s] for s in splits), sum(split_counts[s] for s in splits)])
    return _table(["hazard", *splits, "total"], rows)


def _label_table(source: str) -> str:
    table = SOURCE_LABELS.get(source)
    if table is None:
        return (f"Labels of source `{source}` come from the builder's own `labels.csv`: a label "
                "that names a hazard is that hazard, any other label a safe activity of that name "
                "(`imu2safety.builders.sources.folders.folder_label`). The counts below show the classes.")
    rows = [[f"`{k}`", lab.activity, f"`{lab.hazard}`", "yes" if lab.safe else "**no**"]
            for k, lab in table.items()]
    left_out = SOURCE_EXCLUDED.get(source, {})
    rows += [[f"`{k}`", f"excluded: {why}", "", ""] for k, why in left_out.items()]
    return ("<details><summary>Label table (" + str(len(table)) + " labels"
            + (f", {len(left_out)} excluded" if left_out else "") + ")</summary>\n\n"
            + _table(["source label", "activity", "hazard", "safe"], rows) + "\n\n</details>")


def _config_hazards(info: DatasetInfo, config: str) -> list[str]:
    counts = info.configs[config].class_counts
    return [h for h in HAZARD_NAMES if any(counts.get(s, {}).get(h) for s in counts)]


def _calibration_note(cal: dict) -> str:
    """One sentence on the sim-to-real calibration a config's synthetic rows went through."""
    real = f" on `{cal['real_config']}`" if cal.get("real_config") else ""
    if cal.get("real_splits"):
        real += f" ({' + '.join(cal['real_splits'])} splits)"
    text = f"Calibrated with `{cal['file']}` ({cal['pairing']} fit{real})."
    if cal.get("label_key"):
        text += (f" Its maps are per {cal['label_key']} ({len(cal['labels_with_own_maps'])} labels "
                 "with maps of their own, the pooled maps for the rest), fitted on ")
        text += ("real recordings whose labels were predicted from the synthetic ones (no real "
                 "label used)" if "predicted" in cal.get("pairing", "") else
                 "*labelled* real recordings: these synthetic signals are not independent of real "
                 "data")
        text += "; each row's `extra.simulation.calibration_maps` says whose maps it got."
    return text


def _config_section(dataset_dir: Path, info: DatasetInfo, name: str) -> str:
    cfg = info.configs[name]
    parts = [f"## Configuration `{name}`", "",
             f"Source `{cfg.source}`; simulator version `{cfg.simulator_version or 'n/a (real IMU)'}`."]
    report_path = dataset_dir / REPORT_PATH.format(config=name)
    if report_path.is_file():
        rep = json.loads(report_path.read_text(encoding="utf-8"))
        parts.append(f"Inputs: {rep['inputs']} = {rep['inputs_written']} written + "
                     f"{rep['inputs_skipped']} skipped (reasons in `{REPORT_PATH.format(config=name)}`).")
        if rep.get("calibration"):
            parts.append(_calibration_note(rep["calibration"]))
    if cfg.build_options:
        opts = json.dumps(cfg.build_options, sort_keys=True)
        parts.append(f"Build options: `{opts}`.")
    parts += ["", "### Counts per split and class", "", _counts_table(cfg.split_counts, cfg.class_counts)]
    if report_path.is_file():
        parts += _instructions_section(dataset_dir, name, rep.get("instructions"))
    figures = [h for h in _config_hazards(info, name)
               if (dataset_dir / FIGURE_PATH.format(config=name, hazard=h)).is_file()]
    if figures:
        examples = choose_examples(dataset_dir, name)
        parts += ["", "### Example clips", "",
                  "One clip per class, chosen to show it: the largest peak |specific force| - g "
                  f"among the first {FIGURE_CANDIDATES} clips of each unsafe class, the median one "
                  "for `none`.", ""]
        for h in figures:
            caption = figure_caption(h, examples[h]) if h in examples else h
            parts += [f"![{name}: {caption}]({FIGURE_PATH.format(config=name, hazard=h)})", "",
                      f"*{caption}*", ""]
    parts += ["", "### Labels", "", _label_table(cfg.source)]
    parts += ["", "### Licence", "", cfg.license or "See the source's own terms of use."]
    if cfg.citation:
        parts += ["", "### Citation", "", "```", cfg.citation.strip(), "```"]
    return "\n".join(parts)


#: Measured sim-to-real figures by source, quoted from the project README ("How the simulator
#: works, and how faithful it is", figures of 2026-11-21) with the command that measures them.
SIM_TO_REAL: dict[str, str] = {
    "utd-mhad": (
        "Kinect v1 right wrist simulated against the real wrist IMU of the same 335 trials: median "
        "|accel| correlation 0.758 and |gyro| correlation 0.801; per axis, after one fitted mounting "
        "rotation, ax ay az gx gy gz 0.85 0.60 0.62 0.41 0.77 0.85 (`python benchmarks/fidelity_utd.py`). "
        "A classifier trained on these synthetic clips and tested on the real IMU (21 actions, "
        "leave-one-subject-out) reaches accuracy 0.072 raw and 0.466 after calibration, against 0.707 "
        "when trained on real data (`python benchmarks/tstr.py`)."),
    "physics": (
        "With exact optical motion capture of a rigid IMU box (BROAD, 5 trials) the simulated signals "
        "correlate 0.99 per axis with the real IMU (lowest 0.864 on impacts; "
        "`python benchmarks/fidelity_broad.py`): the physics is sound, and the gap on skeleton sources "
        "comes from tracking noise, the wrist model and the device's mounting."),
}
#: Sources whose sim-to-real gap has no measurement of its own, and the nearest measured one.
_NEAREST_MEASURED = {"ntu": "utd-mhad", "smartfallmm": "utd-mhad", "bvh": "physics", "npz": "physics"}


def _sim_to_real(cfg) -> str:
    if not cfg.simulator_version:
        return (f"`{cfg.source}`: recorded by a real device, not simulated; a reference for the "
                "synthetic configurations.")
    if cfg.source in SIM_TO_REAL:
        return f"`{cfg.source}` (measured): {SIM_TO_REAL[cfg.source]}"
    nearest = _NEAREST_MEASURED.get(cfg.source, "utd-mhad")
    what = "UTD-MHAD, a Kinect skeleton source" if nearest == "utd-mhad" else "optical motion capture"
    return (f"`{cfg.source}`: not measured against a real IMU; the nearest measurement ({what}): "
            f"{SIM_TO_REAL[nearest]}")


def _split_protocol(source: str) -> str:
    import inspect

    from .. import splits
    from ..sources import SOURCE_SPLITS

    name = SOURCE_SPLITS.get(source)
    if name is None:
        from ..sources.folders import folder_split as fn
    else:
        fn = getattr(splits, name)
    return " ".join(inspect.getdoc(fn).split())


def _bibtex(info: DatasetInfo) -> str:
    from ..sources import SOURCE_BIBTEX

    entries = [PROJECT_BIBTEX]
    for name in sorted(info.configs):
        cfg = info.configs[name]
        entry = SOURCE_BIBTEX.get(cfg.source)
        if entry is None and cfg.citation:
            key = "".join(c for c in cfg.source if c.isalnum())
            entry = f"@misc{{{key},\n  note = {{{cfg.citation.strip()}}}\n}}"
        if entry and entry not in entries:
            entries.append(entry)
    return "\n\n".join(entries)


PROJECT_BIBTEX = """@software{imu2safety,
  title = {imu2safety: synthetic wrist-IMU data with safety labels from video and 3D skeletons},
  note = {Dataset built with imu2safety; cite the sources below as well}
}"""


def render_license(info: DatasetInfo) -> str:
    """LICENSE.md of a folder whose configs carry their sources' own terms (licence ``other``)."""
    lines = ["# Licence", "", "Each configuration keeps the terms of its source dataset:", ""]
    for name in sorted(info.configs):
        cfg = info.configs[name]
        lines.append(f"- `{name}` (source `{cfg.source}`): {cfg.license or 'see the source own terms'}")
    lines += ["", "The code that built this dataset (imu2safety) is Apache-2.0.", ""]
    return "\n".join(lines)


def _instructions_section(dataset_dir: Path, config: str, ins: dict | None, per_kind: int = 2) -> list[str]:
    """Counts per kind, the checker's drops and ``per_kind`` examples per kind (dataset order)."""
    if not ins or not ins.get("enabled"):
        return []
    kinds = list(ins["pairs"])
    rows = [[f"`{k}`", ins["pairs"][k], ins["dropped_by_checker"].get(k, 0)] for k in kinds]
    parts = ["", "### Instruction pairs", "",
             "Every number and event in a response is re-derived from the row's `facts` (and the facts "
             "of the clips it names) by the checker; pairs that fail are dropped.", "",
             _table(["kind", "pairs", "dropped by the checker"], rows), "",
             f"Duplicates dropped within a split: {ins.get('duplicates_dropped', 0)}."]
    if ins.get("teacher"):
        parts.append("Teacher: " + ", ".join(f"{k} {v}" for k, v in ins["teacher"].items()) + ".")
    examples: dict[str, list[tuple[str, dict]]] = {k: [] for k in kinds}
    paths = [p for split in SPLITS for p in shard_paths(dataset_dir, config, split)]
    for path in paths:  # one row group at a time, until every kind has its examples
        f = pq.ParquetFile(path)
        for g in range(f.num_row_groups):
            if all(len(v) >= per_kind for v in examples.values()):
                break
            t = f.read_row_group(g, columns=["id", "instructions"])
            for cid, pairs in zip(t["id"].to_pylist(), t["instructions"].to_pylist()):
                for p in pairs:
                    if len(examples.setdefault(p["kind"], [])) < per_kind:
                        examples[p["kind"]].append((cid, p))
    shown = [(k, cid, p) for k in kinds for cid, p in examples.get(k, [])]
    if shown:
        parts += ["", "<details><summary>Examples (" + str(per_kind) + " per kind)</summary>", ""]
        for kind, cid, p in shown:
            parts += [f"**{kind}**, clip `{cid}`", "", "> **User:** " + p["instruction"], ">",
                      "> **Assistant:** " + p["response"], ""]
        parts.append("</details>")
    return parts


def render_card(dataset_dir: str | Path, info: DatasetInfo, repo_id: str | None = None,
                license: str = "other") -> str:
    """README.md text: YAML front matter + the template filled for every config of ``info``."""
    dataset_dir = Path(dataset_dir)
    names = sorted(info.configs)
    if not names:
        raise ValueError("the dataset has no config; finalize a config before writing its card")
    template = Template(resources.files("imu2safety.cards").joinpath("dataset_card.md")
                        .read_text(encoding="utf-8"))
    configs_table = _table(
        ["config", "source", *SPLITS, "synthetic simulator"],
        [[f"`{n}`", info.configs[n].source, *(info.configs[n].split_counts.get(s, 0) for s in SPLITS),
          info.configs[n].simulator_version or "real IMU"] for n in names])
    body = template.substitute(
        pretty_name=PRETTY_NAME,
        version=info.codebase_version,
        created_by=info.created_by or "imu2safety",
        repo_id=repo_id or REPO_PLACEHOLDER,
        default_config=names[0],
        configs_table=configs_table,
        schema_table=_schema_table(),
        hazard_list=", ".join(f"`{h}`" for h in HAZARD_NAMES),
        config_sections="\n\n".join(_config_section(dataset_dir, info, n) for n in names),
        sim_to_real="\n".join(f"- {_sim_to_real(info.configs[n])}" for n in names),
        split_protocols="\n".join(f"- `{n}`: {_split_protocol(info.configs[n].source)}" for n in names),
        bibtex=_bibtex(info),
    )
    front = yaml.safe_dump(card_metadata(info, license), sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n\n{body}"


def write_card(dataset_dir: str | Path, info: DatasetInfo, repo_id: str | None = None,
               license: str = "other") -> Path:
    """Write README.md of ``dataset_dir`` atomically; returns its path."""
    path = Path(dataset_dir) / CARD_PATH
    write_bytes_atomic(path, render_card(dataset_dir, info, repo_id, license).encode("utf-8"))
    if license == "other":
        write_bytes_atomic(Path(dataset_dir) / LICENSE_PATH, render_license(info).encode("utf-8"))
    return path


def plot_clip(imu: np.ndarray, sample_rate_hz: float, title: str) -> bytes:
    """PNG bytes of one clip: specific force (m/s^2) and angular rate (rad/s) against time (s).

    imu: (N, 6) float, ax ay az gx gy gz, sensor frame.
    """
    from matplotlib.figure import Figure  # no pyplot: no global state, Agg canvas

    t = np.arange(len(imu)) / float(sample_rate_hz)
    fig = Figure(figsize=(8, 4.5), dpi=80)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.11, top=0.9, hspace=0.12)
    ax_acc, ax_gyr = fig.subplots(2, 1, sharex=True)
    for i, axis in enumerate("xyz"):
        ax_acc.plot(t, imu[:, i], lw=1, label=f"a{axis}")
        ax_gyr.plot(t, imu[:, 3 + i], lw=1, label=f"g{axis}")
    ax_acc.set_ylabel("specific force (m/s$^2$)")
    ax_gyr.set_ylabel("angular rate (rad/s)")
    ax_gyr.set_xlabel("time (s)")
    for ax in (ax_acc, ax_gyr):
        ax.legend(loc="upper right", ncols=3, fontsize="small")
        ax.grid(alpha=0.3)
    ax_acc.set_title("\n".join(textwrap.wrap(title, 110)), fontsize="small")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


#: Rows of one class looked at when choosing its example figure (dataset order).
FIGURE_CANDIDATES = 256


def _peak(imu: np.ndarray) -> float:
    """Largest deviation of |specific force| from 1 g, m/s^2 (a fall's impact, a shove's jolt)."""
    return float(np.max(np.abs(np.linalg.norm(imu[:, :3].astype(np.float64), axis=1) - 9.80665)))


def choose_examples(dataset_dir: str | Path, config: str,
                    counts: Mapping[str, Mapping[str, int]] | None = None) -> dict[str, dict[str, Any]]:
    """hazard -> the row its example figure shows, chosen to show the class (``_choose_examples``;
    remembered for the shards as they are on disk: finalizing asks twice, for the figures and
    for the card's captions, and the first choice reads every shard with an underfull class).

    counts: shard file name -> {hazard: rows} as the build recorded them (optional): shards
    without a class still wanted are then not opened. The choice is the same with or without.
    """
    paths = [p for split in SPLITS for p in shard_paths(dataset_dir, config, split)]
    signature = tuple((p.name, st.st_size, st.st_mtime_ns) for p in paths for st in [p.stat()])
    key = (str(Path(dataset_dir).resolve()), config, signature)
    if key not in _EXAMPLES:
        _EXAMPLES[key] = _choose_examples(key[0], config, counts or {})
        while len(_EXAMPLES) > 4:
            _EXAMPLES.popitem(last=False)
    return _EXAMPLES[key]


#: (folder, config, shard signature) -> the examples chosen (the last four).
_EXAMPLES: OrderedDict[tuple, dict[str, dict[str, Any]]] = OrderedDict()


def _choose_examples(dataset_dir: str, config: str, counts: Mapping[str, Mapping[str, int]]
                     ) -> dict[str, dict[str, Any]]:
    """hazard -> the row its example figure shows, chosen to show the class.

    Looks at the first ``FIGURE_CANDIDATES`` rows of each hazard (train, validation, test order):
    an unsafe hazard shows its row with the largest peak (``_peak``), so a "falling" figure holds
    a fall; ``none`` shows its row of median peak (a typical safe clip). Each entry holds the
    row's id, activity, synthetic, device, placement, sample_rate_hz, imu, peak and candidates.
    """
    columns = ["id", "activity", "hazard", "synthetic", "device", "placement", "sample_rate_hz", "imu"]
    seen: dict[str, list[dict[str, Any]]] = {}
    for split in SPLITS:
        for path in shard_paths(dataset_dir, config, split):
            known = counts.get(path.name)
            if known is not None and not any(n and len(seen.get(h, [])) < FIGURE_CANDIDATES
                                             for h, n in known.items()):
                continue
            hazards = read_shard(path, columns=["hazard"])["hazard"].to_numpy()
            wanted = [h for h in np.unique(hazards)
                      if len(seen.get(HAZARD_NAMES[int(h)], [])) < FIGURE_CANDIDATES]
            if not wanted:
                continue
            table = read_shard(path, columns=columns)
            values, offsets = imu_arrays(table["imu"])
            for k in np.flatnonzero(np.isin(hazards, wanted)):
                name = HAZARD_NAMES[int(hazards[k])]
                rows = seen.setdefault(name, [])
                if len(rows) >= FIGURE_CANDIDATES:
                    continue
                # a copy: a view would keep the whole shard's samples alive (a class too rare to
                # reach its candidates takes a row from every shard: memory growing with the build)
                imu = values[offsets[k]:offsets[k + 1]].copy()
                row = {c: table[c][int(k)].as_py() for c in columns if c not in ("imu", "hazard")}
                rows.append({**row, "imu": imu, "peak": _peak(imu) if len(imu) else 0.0})
    chosen = {}
    for name, rows in seen.items():
        order = sorted(range(len(rows)), key=lambda i: (rows[i]["peak"], i))
        pick = order[-1] if name != "none" else order[(len(order) - 1) // 2]
        chosen[name] = {**rows[pick], "candidates": len(rows)}
    return chosen


def figure_caption(name: str, ex: dict[str, Any]) -> str:
    """What an example figure shows: class, synthetic or real, device, placement, why chosen."""
    kind = "synthetic" if ex["synthetic"] else "real"
    why = ("median peak" if name == "none" else "largest peak") + f" of {ex['candidates']} clip(s)"
    return (f"{name} ({ex['activity']}): {kind}, device {ex['device']}, {ex['placement']}, "
            f"clip {ex['id']}; peak ||a| - g| {ex['peak']:.1f} m/s^2 ({why})")


def write_figures(dataset_dir: str | Path, config: str,
                  counts: Mapping[str, Mapping[str, int]] | None = None) -> dict[str, str]:
    """Plot one example clip of each hazard class of ``config`` (``choose_examples``, with the
    build's per-shard class ``counts`` when known).

    Returns hazard -> figure path relative to ``dataset_dir``; figures of absent classes are removed.
    """
    dataset_dir = Path(dataset_dir)
    chosen = choose_examples(dataset_dir, config, counts)
    out = {}
    for name in HAZARD_NAMES:
        rel = FIGURE_PATH.format(config=config, hazard=name)
        if name not in chosen:
            (dataset_dir / rel).unlink(missing_ok=True)
            continue
        ex = chosen[name]
        png = plot_clip(ex["imu"], ex["sample_rate_hz"], f"{config}: {figure_caption(name, ex)}")
        write_bytes_atomic(dataset_dir / rel, png)
        out[name] = rel
    return out
