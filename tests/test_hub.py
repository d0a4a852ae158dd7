"""``push_dataset`` against a fake Hub (``fakehub``): only the HTTP transport is replaced."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import HfApi

from imu2safety.builders.dataset.hub import push_dataset
from imu2safety.builders.dataset.layout import CODEBASE_VERSION
from imu2safety.builders.dataset.writer import DatasetWriter

from fakehub import COMMIT_OID, ENDPOINT, REPO, TOKEN, hub  # noqa: F401 (hub is a fixture)


@pytest.fixture
def dataset_dir(tmp_path) -> Path:
    out = tmp_path / "ds"
    imu = np.arange(60, dtype=np.float32).reshape(10, 6) / 7
    row = {"id": "a1_s1_t1", "source": "utd-mhad", "subject": "s1", "source_label": "a1", "activity": "x",
           "hazard": "none", "safe": True, "synthetic": True, "placement": "right_wrist", "device": "ideal",
           "sample_rate_hz": 50.0, "imu": imu, "simulator_version": "0.1.0", "options": "{}", "seed": 1,
           "extra": "{}", "instructions": [], "split": "train"}
    w = DatasetWriter(out, "utd-mhad", chunk_inputs=1)
    w.write_chunk(0, {"a1_s1_t1": [row]})
    w.finalize()
    (out / "data" / "utd-mhad" / "train-00001.parquet.tmp").write_bytes(b"unfinished")
    return out


def test_push_sends_repo_files_and_tag(hub, dataset_dir, monkeypatch, caplog):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    url = push_dataset(dataset_dir, REPO, api=HfApi(endpoint=ENDPOINT))
    assert url == f"{ENDPOINT}/datasets/{REPO}/commit/{COMMIT_OID}"
    assert hub.repo["name"] == "imu2safety" and hub.repo["organization"] == "imu-lab"
    assert hub.repo["type"] == "dataset"
    assert sorted(hub.files) == ["LICENSE.md", "README.md", "data/utd-mhad/train-00000.parquet",
                                 "figures/utd-mhad_none.png", "meta/info.json",
                                 "meta/report_utd-mhad.json", "meta/stats.json"]  # no progress, no temp
    for name, data in hub.files.items():
        assert data == (dataset_dir / name).read_bytes(), name
    card = hub.files["README.md"].decode()
    assert f'load_dataset("{REPO}", "utd-mhad", revision="v{CODEBASE_VERSION}")' in card
    assert hub.tags == {f"v{CODEBASE_VERSION}": COMMIT_OID}
    assert all(h["authorization"] == f"Bearer {TOKEN}" for _, _, h in hub.requests)
    assert [(m, p.split("/")[-2] if "/api/datasets/" in p else p) for m, p, _ in hub.requests] == [
        ("POST", "/api/repos/create"), ("POST", "/api/validate-yaml"), ("POST", "preupload"),
        ("POST", "commit"), ("POST", "tag")]
    assert [c["repoType"] for c in hub.card_checks] == ["dataset"]
    assert TOKEN not in caplog.text


def test_push_again_moves_the_version_tag(hub, dataset_dir):
    push_dataset(dataset_dir, REPO, token=TOKEN, api=HfApi(endpoint=ENDPOINT))
    push_dataset(dataset_dir, REPO, token=TOKEN, private=True, api=HfApi(endpoint=ENDPOINT))
    methods = [m for m, p, _ in hub.requests if "/tag/" in p]
    assert methods == ["POST", "POST", "DELETE", "POST"]
    assert hub.tags == {f"v{CODEBASE_VERSION}": COMMIT_OID}


def test_push_refuses_a_folder_that_is_no_dataset(hub, tmp_path):
    with pytest.raises(FileNotFoundError, match="not an imu2safety dataset"):
        push_dataset(tmp_path, REPO, token=TOKEN, api=HfApi(endpoint=ENDPOINT))
    assert hub.requests == []
