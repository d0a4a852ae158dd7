"""Dataset card: YAML metadata that the Hub and ``datasets`` parse, prose tables, example figures."""

from __future__ import annotations

import struct
from pathlib import Path

import datasets
import numpy as np
import pytest
import yaml
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard

from imu2safety.builders.dataset.card import plot_clip, size_category, write_card
from imu2safety.builders.dataset.layout import CODEBASE_VERSION, load_info
from imu2safety.builders.dataset.writer import DatasetWriter

CONFIG = "smartfallmm"


def row(clip_id: str, split: str, source_label: str, hazard: str, n: int = 16) -> dict:
    imu = np.random.default_rng(n).normal(size=(n, 6)).astype(np.float32)
    return {
        "id": clip_id, "source": CONFIG, "subject": "S29", "source_label": source_label,
        "activity": "a", "hazard": hazard, "safe": hazard == "none", "synthetic": True,
        "placement": "left_wrist", "device": "ideal", "sample_rate_hz": 32.0, "imu": imu,
        "simulator_version": "0.1.0", "options": "{}", "seed": 0, "extra": "{}", "instructions": [],
        "split": split,
    }


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory) -> Path:
    """Train and test splits only (no validation), hazards none / falling / shoving."""
    out = tmp_path_factory.mktemp("card") / "ds"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / f"{CONFIG}_fighting.png").write_bytes(b"stale figure of an earlier build")
    w = DatasetWriter(out, CONFIG, chunk_inputs=2)
    w.write_chunk(0, {"S29/A01": [row("S29_A01", "train", "A01", "none")],
                      "S29/A10": [row("S29_A10", "train", "A10", "falling", 20)]})
    w.write_chunk(1, {"S31/A11": [row("S31_A11", "test", "A11", "falling", 24),
                                  row("S31_A11b", "test", "A11", "shoving", 28)]})
    w.finalize(build_options={"placement": "left_wrist"}, simulator_version="0.1.0",
               license="CC BY 4.0 (SmartFallMM terms).", citation="@misc{smartfallmm, title={SmartFallMM}}")
    return out


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_yaml_lists_configs_and_only_existing_splits(dataset_dir):
    meta = front_matter((dataset_dir / "README.md").read_text())
    digest = load_info(dataset_dir).configs[CONFIG].content_sha256
    assert len(digest) == 64
    assert meta["configs"] == [{
        "config_name": CONFIG, "default": True,
        "data_files": [{"split": "train", "path": f"data/{CONFIG}/train-*.parquet"},
                       {"split": "test", "path": f"data/{CONFIG}/test-*.parquet"}],
        "description": f"content sha256:{digest}",
    }]
    assert meta["license"] == "other" and meta["size_categories"] == ["n<1K"]
    assert "tabular-classification" in meta["task_categories"] and "imu" in meta["tags"]


def test_hub_and_datasets_parse_the_card(dataset_dir):
    card = DatasetCard((dataset_dir / "README.md").read_text())
    configs = MetadataConfigs.from_dataset_card_data(card.data)
    assert list(configs) == [CONFIG] and configs.get_default_config_name() == CONFIG
    ds = datasets.load_dataset(str(dataset_dir), cache_dir=str(dataset_dir.parent / "cache"))
    assert sorted(ds) == ["test", "train"]
    assert ds["test"]["id"] == ["S31_A11", "S31_A11b"]


def test_card_prose(dataset_dir):
    text = (dataset_dir / "README.md").read_text()
    assert f'load_dataset("ORG/NAME", "{CONFIG}", revision="v{CODEBASE_VERSION}")' in text
    # counts per class: hazard | train | test | total
    assert "| hazard | train | test | total |" in text
    assert "| `falling` | 1 | 1 | 2 |" in text
    assert "| `shoving` | 0 | 1 | 1 |" in text
    assert "| **all** | 2 | 2 | 4 |" in text
    assert "| `A10` | back fall | `falling` | **no** |" in text  # the source's label table
    assert "| `imu` | Array2D (N, 6) float32 | m/s^2, rad/s; sensor frame |" in text
    assert "CC BY 4.0 (SmartFallMM terms)." in text and "@misc{smartfallmm" in text
    assert "Inputs: 3 = 3 written + 0 skipped" in text
    for hazard in ("none", "falling", "shoving"):
        assert f"![{CONFIG}: {hazard} (" in text and f"](figures/{CONFIG}_{hazard}.png)" in text
    info = load_info(dataset_dir)
    named = write_card(dataset_dir, info, repo_id="org/imu2safety").read_text()
    assert f'load_dataset("org/imu2safety", "{CONFIG}", revision="v{CODEBASE_VERSION}")' in named


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kinds.append(data[pos + 4:pos + 8])
        pos += 12 + length
    return kinds


def test_one_figure_per_present_hazard_without_dates(dataset_dir):
    names = sorted(p.name for p in (dataset_dir / "figures").iterdir())
    assert names == [f"{CONFIG}_{h}.png" for h in ("falling", "none", "shoving")]  # stale one removed
    for name in names:
        kinds = png_chunks((dataset_dir / "figures" / name).read_bytes())
        assert b"tIME" not in kinds and b"tEXt" not in kinds and b"iTXt" not in kinds


def test_plot_clip_is_deterministic():
    imu = np.linspace(-1, 1, 60, dtype=np.float32).reshape(10, 6)
    assert plot_clip(imu, 50.0, "t") == plot_clip(imu.copy(), 50.0, "t")


def test_size_category():
    assert [size_category(n) for n in (0, 999, 1000, 99_999, 100_000, 20_000_000)] == \
        ["n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "n>10M"]
