"""Dataset usability (issue 6, items 15 and 16): a torch DataLoader with the padding collate,
meta/stats.json, and the card sections people expect on the Hub."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import yaml

from imu2safety.builders.build import BuildOptions, build

from test_build import _opts, utd_dir  # noqa: F401 (utd_dir is a fixture)

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture
def built(utd_dir, tmp_path) -> Path:
    out = tmp_path / "ds"
    build(_opts(utd_dir, out), progress=False)
    return out


def _rows(out: Path, split: str) -> list[dict]:
    import datasets

    return list(datasets.load_dataset(str(out), "utd-mhad", split=split).with_format("numpy"))


# ---- item 15 -------------------------------------------------------------------------------------

def test_dataloader_with_the_padding_collate(built):
    import datasets
    import torch
    from torch.utils.data import DataLoader

    from imu2safety.builders.dataset.collate import collate

    train = datasets.load_dataset(str(built), "utd-mhad", split="train").with_format("torch")
    rows = _rows(built, "train")
    batch = next(iter(DataLoader(train, batch_size=len(rows), collate_fn=collate)))
    lengths = [len(r["imu"]) for r in rows]
    assert batch["imu"].shape == (len(rows), max(lengths), 6) and batch["imu"].dtype == torch.float32
    assert batch["length"].tolist() == lengths
    assert batch["mask"].sum(1).tolist() == lengths
    for i, r in enumerate(rows):
        np.testing.assert_array_equal(batch["imu"][i, :lengths[i]].numpy(), r["imu"])
        assert not batch["imu"][i, lengths[i]:].any()
    assert batch["hazard"].dtype == torch.int64 and batch["id"] == [r["id"] for r in rows]


def test_fixed_windows_take_the_centre_and_pad_short_clips(built):
    import datasets
    from torch.utils.data import DataLoader

    from imu2safety.builders.dataset.collate import FixedWindows

    train = datasets.load_dataset(str(built), "utd-mhad", split="train").with_format("torch")
    rows = _rows(built, "train")
    n = len(rows[0]["imu"])
    for length in (20, n + 7):
        batch = next(iter(DataLoader(train, batch_size=2, collate_fn=FixedWindows(length))))
        assert batch["imu"].shape == (2, length, 6)
        x = rows[0]["imu"]
        start = max(0, (len(x) - length) // 2)
        np.testing.assert_array_equal(batch["imu"][0, :min(length, len(x))].numpy(), x[start:start + length])
        assert batch["mask"][0].sum() == min(length, len(x))


def test_stats_json_holds_exact_per_channel_statistics_per_split(built, tmp_path):
    stats = json.loads((built / "meta" / "stats.json").read_text())
    assert stats["channels"] == ["ax", "ay", "az", "gx", "gy", "gz"]
    for split in ("train", "validation", "test"):
        rows = _rows(built, split)
        x = np.concatenate([r["imu"] for r in rows]).astype(np.float64)
        s = stats["configs"]["utd-mhad"][split]
        assert s["clips"] == len(rows) and s["samples"] == len(x)
        np.testing.assert_allclose(s["mean"], x.mean(0), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(s["std"], x.std(0), rtol=1e-10)
        assert s["min"] == x.min(0).tolist() and s["max"] == x.max(0).tolist()


def test_stats_recorded_at_commit_equal_stats_read_from_the_shards(built):
    """Finalizing combines the per-shard statistics recorded when each chunk was committed (no
    second read of every sample); they are the statistics of the shards on disk, bit for bit,
    and a shard without a record (an older progress log) is read instead."""
    from imu2safety.builders.dataset.writer import DatasetWriter, split_stats

    stats = json.loads((built / "meta" / "stats.json").read_text())["configs"]["utd-mhad"]
    assert split_stats(built, "utd-mhad") == stats  # every shard read
    head = json.loads((built / "meta" / "progress_utd-mhad.json").read_text().splitlines()[0])
    writer = DatasetWriter(built, "utd-mhad", head["chunk_inputs"], source="utd-mhad",
                           build_key=head["build_key"])
    known = {(split, r.chunk): (r.rows[split], r.imu_stats[split])
             for r in writer.records() for split in r.imu_stats}
    assert known and all(v[1] is not None for v in known.values())
    assert split_stats(built, "utd-mhad", known) == stats
    first = sorted(known)[0]
    partly = {k: v for k, v in known.items() if k != first}  # one shard left to be read
    assert split_stats(built, "utd-mhad", partly) == stats


# ---- item 16 -------------------------------------------------------------------------------------

def _front(card: str) -> dict:
    return yaml.safe_load(card.split("---\n")[1])


def test_card_has_uses_bias_splits_citation_and_licence_link(built):
    card = (built / "README.md").read_text()
    for section in ("## Uses", "**Intended**", "**Out of scope**", "## Bias, risks and limitations",
                    "## Splits", "## Citation", "```bibtex"):
        assert section in card, section
    assert "0.758" in card and "benchmarks/fidelity_utd.py" in card  # measured, with its command
    assert "odd subjects train, even subjects test" in card            # the split protocol
    assert "@inproceedings{chen2015utdmhad" in card
    assert "DataLoader" in card and "collate" in card and "meta/stats.json" in card
    meta = _front(card)
    assert meta["license"] == "other" and meta["license_link"] == "LICENSE.md"
    assert "`utd-mhad`" in (built / "LICENSE.md").read_text()


def test_example_figures_say_what_they_show_and_show_the_class(tmp_path):
    npz = tmp_path / "npz"
    npz.mkdir()
    shutil.copy(SAMPLES / "walking_01.npz", npz / "a_calm.npz")     # first in order, labelled a fall
    shutil.copy(SAMPLES / "falling_01.npz", npz / "b_fall.npz")
    shutil.copy(SAMPLES / "walking_02.npz", npz / "c_walk.npz")
    (npz / "labels.csv").write_text("file,label,subject\na_calm.npz,falling,p1\nb_fall.npz,falling,p1\n"
                                    "c_walk.npz,walking,p1\n")
    out = tmp_path / "ds"
    build(BuildOptions(source="npz", input_dir=npz, output_dir=out, device="bmi160"), progress=False)
    card = (out / "README.md").read_text()
    fall = next(line for line in card.splitlines() if line.startswith("![npz: falling"))
    assert "clip b_fall" in fall and "synthetic, device bmi160, left_wrist" in fall
    assert "largest peak of 2 clip(s)" in fall


def test_real_example_figures_say_real_and_the_device(tmp_path):
    iner = tmp_path / "Inertial"
    iner.mkdir()
    scipy.io.savemat(iner / "a1_s1_t1_inertial.mat", {"d_iner": np.ones((100, 6))})
    build(BuildOptions(source="utd-mhad-imu", input_dir=iner, output_dir=tmp_path / "ds"), progress=False)
    card = (tmp_path / "ds" / "README.md").read_text()
    assert "real, device invensense_mpu9150, right_wrist" in card
    assert "recorded by a real device, not simulated" in card
