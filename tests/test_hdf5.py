"""HDF5 export: a round trip against ``load_dataset`` of the same folder."""

from __future__ import annotations

import json

import datasets
import h5py
import numpy as np
import pytest

from imu2safety.builders.dataset.hdf5 import export_hdf5
from imu2safety.builders.labels import HAZARD_NAMES
from imu2safety.builders.dataset.layout import CODEBASE_VERSION
from imu2safety.builders.dataset.schema import FEATURES
from imu2safety.builders.dataset.writer import DatasetWriter


def row(clip_id: str, source: str, split: str, hazard: str, n: int) -> dict:
    imu = np.random.default_rng(n).standard_normal((n, 6)).astype(np.float32) * np.float32(5.3)
    return {
        "id": clip_id, "source": source, "subject": "U01", "source_label": "F01", "activity": "fall",
        "hazard": hazard, "safe": hazard == "none", "synthetic": source != "weda-fall",
        "placement": "left_wrist", "device": "fitbit_sense", "sample_rate_hz": 50.0, "imu": imu,
        "simulator_version": "", "options": "{}", "seed": n, "extra": json.dumps({"n": n}),
        "instructions": [{"kind": "description", "instruction": f"what happened in {clip_id}?", "response": hazard}],
        "split": split,
    }


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("h5") / "ds"
    for source, plan in {
        "weda-fall": [("train", "falling", 30), ("train", "none", 7), ("validation", "fainting", 12),
                      ("test", "losing_balance", 9)],
        "ntu": [("train", "fighting", 5), ("test", "shoving", 3)],
    }.items():
        w = DatasetWriter(out, source, chunk_inputs=2)
        for chunk, names in w.pending([f"{source}_{i}" for i in range(len(plan))]):
            w.write_chunk(chunk, {n: [row(n, source, *plan[int(n.rsplit("_", 1)[1])])] for n in names})
        w.finalize()
    return out


def test_round_trip_against_load_dataset(dataset_dir, tmp_path):
    path = export_hdf5(dataset_dir, tmp_path / "imu2safety.h5")
    with h5py.File(path, "r") as f:
        assert f.attrs["codebase_version"] == CODEBASE_VERSION
        assert list(f) == ["ntu", "weda-fall"]
        assert list(f["weda-fall"]) == ["train", "validation", "test"] and list(f["ntu"]) == ["train", "test"]
        for config in f:
            ds = datasets.load_dataset(str(dataset_dir), config, cache_dir=str(tmp_path / "cache"))
            assert sorted(f[config]) == sorted(ds)
            for split in f[config]:
                g, d = f[config][split], ds[split]
                offsets = g["offsets"][:]
                assert offsets.dtype == np.int64 and offsets[0] == 0 and len(offsets) == d.num_rows + 1
                imu = g["imu"]
                assert imu.dtype == np.float32 and imu.shape == (offsets[-1], 6)
                assert list(imu.attrs["units"]) == ["m/s^2"] * 3 + ["rad/s"] * 3
                assert list(imu.attrs["channels"]) == ["ax", "ay", "az", "gx", "gy", "gz"]
                assert list(g["hazard"].attrs["names"]) == list(HAZARD_NAMES)
                assert set(g) == set(FEATURES) | {"offsets"}
                for i, clip in enumerate(d):
                    want = np.asarray(clip["imu"], dtype=np.float32)
                    got = imu[offsets[i]:offsets[i + 1]]
                    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
                    assert g["hazard"][i] == clip["hazard"]
                    for k in ("id", "source", "subject", "placement", "device", "options", "extra"):
                        assert g[k].asstr()[i] == clip[k]
                    assert bool(g["safe"][i]) is clip["safe"] and bool(g["synthetic"][i]) is clip["synthetic"]
                    assert g["sample_rate_hz"][i] == np.float32(clip["sample_rate_hz"])
                    assert g["seed"][i] == clip["seed"]
                    assert json.loads(g["instructions"].asstr()[i]) == clip["instructions"]


def test_unknown_config_is_refused(dataset_dir, tmp_path):
    with pytest.raises(ValueError, match=r"configs \['up-fall'\] not in"):
        export_hdf5(dataset_dir, tmp_path / "x.h5", configs=["up-fall"])
    assert not (tmp_path / "x.h5").exists()
