"""``imu2safety demo``: builds the shipped sample, loads it with ``load_dataset``, writes the card."""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pytest
import yaml

from imu2safety.builders.demo import CONFIG, DEMO_DEVICE, run_demo, samples_dir
from imu2safety.builders.sources.folders import folder_label, folder_split
from imu2safety.builders.labels import UNSAFE_HAZARDS
from imu2safety.builders.dataset.layout import INFO_PATH, ConfigInfo, DatasetInfo, save_info
from imu2safety.cli import main

with open(samples_dir() / "labels.csv", newline="", encoding="utf-8") as _f:
    SAMPLE_ROWS = list(csv.DictReader(_f))
EXPECTED_SPLITS = Counter(folder_split(r["subject"]) for r in SAMPLE_ROWS)
EXPECTED_HAZARDS = {folder_label(r["label"]).hazard for r in SAMPLE_ROWS}


def _run(output: Path) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = run_demo(output, progress=False)
    return status, buf.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One demo build for the module, with the Hub offline and caches isolated (as conftest does)."""
    home = tmp_path_factory.mktemp("hf_home")
    out = tmp_path_factory.mktemp("demo") / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("HF_DATASETS_OFFLINE", "1")
        mp.setenv("HF_HOME", str(home))
        mp.setenv("HF_DATASETS_CACHE", str(home / "datasets"))
        mp.delenv("HF_TOKEN", raising=False)
        status, text = _run(out)
    return out, status, text


def test_demo_succeeds_and_prints_the_summary(demo):
    out, status, text = demo
    assert status == 0
    assert EXPECTED_HAZARDS == set(UNSAFE_HAZARDS) | {"none"}
    assert "rows per split: " + ", ".join(
        f"{s} {EXPECTED_SPLITS[s]}" for s in ("train", "validation", "test")) in text
    assert f"{len(SAMPLE_ROWS)} inputs = {len(SAMPLE_ROWS)} written + 0 skipped" in text
    assert "no NaN or Inf in any IMU sample" in text
    assert str(out / "README.md") in text
    for hazard in EXPECTED_HAZARDS:
        assert re.search(rf"^{hazard} +\d+ +\d+ +\d+ +[\d.]+ +[\d.]+ ", text, re.M), hazard


def test_demo_dataset_loads_with_every_split_and_hazard(demo):
    out, _, _ = demo
    ds = datasets.load_dataset(str(out), CONFIG)
    assert {s: ds[s].num_rows for s in ds} == dict(EXPECTED_SPLITS)
    names = ds["train"].features["hazard"].names
    found = {names[h] for s in ds for h in ds[s]["hazard"]}
    assert found == EXPECTED_HAZARDS
    ids = sorted(i for s in ds for i in ds[s]["id"])
    assert ids == sorted(r["file"].removesuffix(".npz") for r in SAMPLE_ROWS)
    for split in ds:
        rows = ds[split].with_format("numpy", columns=["imu", "sample_rate_hz", "device", "placement"])
        for row in rows:
            assert row["device"] == DEMO_DEVICE and row["placement"] == "left_wrist"
            assert row["sample_rate_hz"] == 50.0
            imu = np.asarray(row["imu"])
            assert imu.shape[1] == 6 and 4.0 <= len(imu) / 50.0 <= 8.0
            assert np.isfinite(imu).all()


def test_demo_card_has_configs_and_its_figures_exist(demo):
    out, _, _ = demo
    card = (out / "README.md").read_text(encoding="utf-8")
    front = yaml.safe_load(card.split("---\n")[1])
    [config] = front["configs"]
    assert config["config_name"] == CONFIG
    assert {d["split"] for d in config["data_files"]} == set(EXPECTED_SPLITS)
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", card)
    assert sorted(links) == sorted(f"figures/{CONFIG}_{h}.png" for h in EXPECTED_HAZARDS)
    for link in links:
        assert (out / link).read_bytes().startswith(b"\x89PNG")


def test_demo_rebuilds_its_own_output_identically(demo):
    out, _, _ = demo
    before = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    status, _ = _run(out)
    assert status == 0
    after = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert after == before


def test_demo_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert run_demo(foreign, progress=False) == 2
    assert (foreign / "notes.txt").read_text() == "keep me"
    other = tmp_path / "dataset"
    (other / "data" / "utd-mhad").mkdir(parents=True)
    assert main(["demo", "-o", str(other)]) == 2
    assert "utd-mhad" in capsys.readouterr().err
    assert (other / "data" / "utd-mhad").is_dir() and not (other / "data" / CONFIG).exists()
    own = tmp_path / "own-npz"  # the user's own npz build from another folder
    save_info(own, DatasetInfo(configs={CONFIG: ConfigInfo(CONFIG, {"input_dir": "my-motions"})}))
    assert run_demo(own, progress=False) == 2
    assert "my-motions" in capsys.readouterr().err
    assert (own / INFO_PATH).is_file()
