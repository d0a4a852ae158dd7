"""The dataset card (README.md): YAML metadata generated from ``DatasetInfo``, prose from the
``cards/dataset_card.md`` template, and one example plot per hazard class of every config.

The plots are PNGs without a date or software tag (``metadata={"Software": None}``), so identical
builds give identical bytes.
"""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import yaml

from ..labels import HAZARD_NAMES, SOURCE_EXCLUDED, SOURCE_LABELS
from .layout import (
    CARD_PATH, DATA_GLOB, FIGURE_PATH, REPORT_PATH, DatasetInfo, shard_paths, write_bytes_atomic,
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


def _config_section(dataset_dir: Path, info: DatasetInfo, name: str) -> str:
    cfg = info.configs[name]
    parts = [f"## Configuration `{name}`", "",
             f"Source `{cfg.source}`; simulator version `{cfg.simulator_version or 'n/a (real IMU)'}`."]
    report_path = dataset_dir / REPORT_PATH.format(config=name)
    if report_path.is_file():
        rep = json.loads(report_path.read_text(encoding="utf-8"))
        parts.append(f"Inputs: {rep['inputs']} = {rep['inputs_written']} written + "
                     f"{rep['inputs_skipped']} skipped (reasons in `{REPORT_PATH.format(config=name)}`).")
    if cfg.build_options:
        opts = json.dumps(cfg.build_options, sort_keys=True)
        parts.append(f"Build options: `{opts}`.")
    parts += ["", "### Counts per split and class", "", _counts_table(cfg.split_counts, cfg.class_counts)]
    if report_path.is_file():
        parts += _instructions_section(dataset_dir, name, rep.get("instructions"))
    figures = [h for h in _config_hazards(info, name)
               if (dataset_dir / FIGURE_PATH.format(config=name, hazard=h)).is_file()]
    if figures:
        parts += ["", "### Example clips", ""]
        parts += [f"![{name}: {h}]({FIGURE_PATH.format(config=name, hazard=h)})" for h in figures]
    parts += ["", "### Labels", "", _label_table(cfg.source)]
    parts += ["", "### Licence", "", cfg.license or "See the source's own terms of use."]
    if cfg.citation:
        parts += ["", "### Citation", "", "```", cfg.citation.strip(), "```"]
    return "\n".join(parts)


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
    )
    front = yaml.safe_dump(card_metadata(info, license), sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n\n{body}"


def write_card(dataset_dir: str | Path, info: DatasetInfo, repo_id: str | None = None,
               license: str = "other") -> Path:
    """Write README.md of ``dataset_dir`` atomically; returns its path."""
    path = Path(dataset_dir) / CARD_PATH
    write_bytes_atomic(path, render_card(dataset_dir, info, repo_id, license).encode("utf-8"))
    return path


def plot_clip(imu: np.ndarray, sample_rate_hz: float, title: str) -> bytes:
    """PNG bytes of one clip: specific force (m/s^2) and angular rate (rad/s) against time (s).

    imu: (N, 6) float, ax ay az gx gy gz, sensor frame.
    """
    from matplotlib.figure import Figure  # no pyplot: no global state, Agg canvas

    t = np.arange(len(imu)) / float(sample_rate_hz)
    fig = Figure(figsize=(8, 4.5), dpi=80)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.11, top=0.93, hspace=0.12)
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
    ax_acc.set_title(title, fontsize="medium")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def write_figures(dataset_dir: str | Path, config: str) -> dict[str, str]:
    """Plot the first clip (dataset order: train, validation, test) of each hazard class of ``config``.

    Returns hazard -> figure path relative to ``dataset_dir``; figures of absent classes are removed.
    """
    dataset_dir = Path(dataset_dir)
    wanted = set(HAZARD_NAMES)
    found: dict[str, tuple[Path, int]] = {}
    for split in SPLITS:
        for path in shard_paths(dataset_dir, config, split):
            hazards = pq.read_table(path, columns=["hazard"])["hazard"].to_numpy()
            for h in np.unique(hazards):
                name = HAZARD_NAMES[int(h)]
                if name in wanted:
                    found[name] = (path, int(np.argmax(hazards == h)))
                    wanted.discard(name)
    out = {}
    for name in HAZARD_NAMES:
        rel = FIGURE_PATH.format(config=config, hazard=name)
        if name not in found:
            (dataset_dir / rel).unlink(missing_ok=True)
            continue
        path, row = found[name]
        table = pq.read_table(path, columns=["id", "activity", "sample_rate_hz", "imu"]).slice(row, 1)
        values, _ = imu_arrays(table["imu"])
        clip_id, activity = table["id"][0].as_py(), table["activity"][0].as_py()
        png = plot_clip(values, table["sample_rate_hz"][0].as_py(),
                        f"{config}: {name} ({activity}), clip {clip_id}")
        write_bytes_atomic(dataset_dir / rel, png)
        out[name] = rel
    return out
