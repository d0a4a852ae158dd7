"""``push_dataset`` against a fake Hub: only the HTTP transport is replaced.

huggingface_hub sends every request through one ``httpx2.Client`` made by the factory given to
``huggingface_hub.set_client_factory``; the test installs a client whose transport answers like the
Hub (repo create, preupload, commit, tag) and records what was sent. Everything above the transport
(HfApi, upload_folder's pipeline, the commit payload) is the real code. The fake answers
``uploadMode: "regular"`` for every file, so file contents travel inline (base64) in the commit and
the LFS/Xet storage protocol is not exercised.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from pathlib import Path

import httpx2
import huggingface_hub
import numpy as np
import pytest
import yaml
from huggingface_hub import HfApi
from huggingface_hub.utils._http import default_client_factory

from imu2safety.builders.hub import push_dataset
from imu2safety.builders.layout import CODEBASE_VERSION
from imu2safety.builders.writer import DatasetWriter

ENDPOINT = "https://hub.example"
REPO = "imu-lab/imu2safety"
TOKEN = "hf_secret_test_token_123"
COMMIT_OID = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """Answers the Hub endpoints that push_dataset uses; records requests and committed files."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict]] = []
        self.files: dict[str, bytes] = {}
        self.tags: dict[str, str] = {}
        self.repo: dict | None = None
        self.card_checks: list[dict] = []
        self.elsewhere: list[str] = []  # requests not sent to ENDPOINT (e.g. the client's own lookups)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read()
        path = request.url.path
        if str(request.url).split(path)[0] != ENDPOINT:
            self.elsewhere.append(f"{request.method} {request.url}")
            return httpx2.Response(404, json={"error": "not found"})
        self.requests.append((request.method, path, dict(request.headers)))
        if request.method == "POST" and path == "/api/validate-yaml":  # upload_folder checks README.md
            payload = json.loads(body)
            self.card_checks.append(payload)
            try:
                meta = yaml.safe_load(payload["content"].split("---\n")[1])
                assert isinstance(meta, dict) and isinstance(meta["configs"], list)
            except Exception as e:  # the Hub answers 400 with the errors
                return httpx2.Response(400, json={"errors": [{"message": repr(e)}], "warnings": []})
            return httpx2.Response(200, json={"errors": [], "warnings": []})
        if request.method == "POST" and path == "/api/repos/create":
            self.repo = json.loads(body)
            return httpx2.Response(200, json={"url": f"{ENDPOINT}/datasets/{REPO}"})
        m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/(preupload|commit|tag)/(.+)", path)
        if m and m[1] == REPO and request.method == "POST":
            if m[2] == "preupload":
                files = json.loads(body)["files"]
                return httpx2.Response(200, json={"files": [
                    {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]})
            if m[2] == "commit":
                for line in body.decode().splitlines():
                    item = json.loads(line)
                    if item["key"] == "file":
                        self.files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                url = f"{ENDPOINT}/datasets/{REPO}/commit/{COMMIT_OID}"
                return httpx2.Response(200, json={"commitUrl": url, "commitOid": COMMIT_OID,
                                                  "pullRequestUrl": None})
            tag = json.loads(body)["tag"]
            if tag in self.tags:
                return httpx2.Response(409, json={"error": f"Tag {tag} already exists"})
            self.tags[tag] = m[3]
            return httpx2.Response(200, json={})
        m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/tag/(.+)", path)
        if m and request.method == "DELETE":
            self.tags.pop(m[2])
            return httpx2.Response(200, json={})
        return httpx2.Response(404, json={"error": f"fake hub: no route for {request.method} {path}"})


@pytest.fixture
def hub():
    fake = FakeHub()
    huggingface_hub.set_client_factory(lambda: httpx2.Client(transport=httpx2.MockTransport(fake)))
    yield fake
    huggingface_hub.set_client_factory(default_client_factory)


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
    assert sorted(hub.files) == ["README.md", "data/utd-mhad/train-00000.parquet",
                                 "figures/utd-mhad_none.png", "meta/info.json",
                                 "meta/report_utd-mhad.json"]  # no progress record, no temp file
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
