"""Shared test setup: offline Hub, isolated caches, no progress bars, optional real data."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Before anything imports `datasets` or `huggingface_hub`: they read these once, at import.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="imu2safety-tests-hf-"))
os.environ.update({
    "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(_SESSION_HOME),
    "HF_DATASETS_CACHE": str(_SESSION_HOME / "datasets"), "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",
})
os.environ.pop("HF_TOKEN", None)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("hf_home")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(home / "datasets"))
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    try:  # a per-test datasets cache, so no test reads another's cached copy
        import datasets.config

        monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", home / "datasets")
    except ImportError:
        pass
    yield


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (real recordings); the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA
