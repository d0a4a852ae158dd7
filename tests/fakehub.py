"""A fake Hugging Face Hub for tests (dataset and model repos): only the HTTP transport is replaced.

huggingface_hub sends every request through one ``httpx2.Client`` made by the factory given to
``huggingface_hub.set_client_factory``; the ``hub`` fixture installs a client whose transport answers
like the Hub (repo create, card check, preupload, commit, tags, refs) and records what was sent.
Everything above the transport (HfApi, upload_folder's pipeline, the commit payload) is the real
code. The fake answers ``uploadMode: "regular"`` for every file, so file contents travel inline
(base64) in the commit and the LFS/Xet storage protocol is not exercised.

Use it from a test module with ``from fakehub import ENDPOINT, REPO, hub``.
"""

from __future__ import annotations

import base64
import json
import re

import httpx2
import huggingface_hub
import pytest
import yaml
from huggingface_hub.utils._http import default_client_factory

ENDPOINT = "https://hub.example"
REPO = "imu-lab/imu2safety"
TOKEN = "hf_secret_test_token_123"
COMMIT_OID = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """Answers the Hub endpoints that push_dataset and resolve_revision use; records requests.

    files: path -> bytes of the last commit. tags: tag name -> commit id (set it to seed a repo).
    """

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
                assert isinstance(meta, dict)
                if payload.get("repoType", "dataset") == "dataset":
                    assert isinstance(meta["configs"], list)
            except Exception as e:  # the Hub answers 400 with the errors
                return httpx2.Response(400, json={"errors": [{"message": repr(e)}], "warnings": []})
            return httpx2.Response(200, json={"errors": [], "warnings": []})
        if request.method == "POST" and path == "/api/repos/create":
            self.repo = json.loads(body)
            return httpx2.Response(200, json={"url": f"{ENDPOINT}/datasets/{REPO}"})
        if request.method == "GET" and path == f"/api/datasets/{REPO}/refs":
            return httpx2.Response(200, json={
                "branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": COMMIT_OID}],
                "converts": [],
                "tags": [{"name": t, "ref": f"refs/tags/{t}", "targetCommit": oid}
                         for t, oid in self.tags.items()],
            })
        m = re.fullmatch(r"/api/(?:datasets|models)/([^/]+/[^/]+)/(preupload|commit|tag)/(.+)", path)
        kind = "models" if path.startswith("/api/models/") else "datasets"
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
                url = f"{ENDPOINT}/{kind}/{REPO}/commit/{COMMIT_OID}".replace("/models/", "/")
                return httpx2.Response(200, json={"commitUrl": url, "commitOid": COMMIT_OID,
                                                  "pullRequestUrl": None})
            tag = json.loads(body)["tag"]
            if tag in self.tags:
                return httpx2.Response(409, json={"error": f"Tag {tag} already exists"})
            self.tags[tag] = m[3]
            return httpx2.Response(200, json={})
        m = re.fullmatch(r"/api/(?:datasets|models)/([^/]+/[^/]+)/tag/(.+)", path)
        if m and request.method == "DELETE":
            self.tags.pop(m[2])
            return httpx2.Response(200, json={})
        return httpx2.Response(404, json={"error": f"fake hub: no route for {request.method} {path}"})


@pytest.fixture
def hub():
    """A FakeHub installed as huggingface_hub's transport for the duration of one test."""
    fake = FakeHub()
    huggingface_hub.set_client_factory(lambda: httpx2.Client(transport=httpx2.MockTransport(fake)))
    yield fake
    huggingface_hub.set_client_factory(default_client_factory)
