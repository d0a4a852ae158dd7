"""Push a built dataset folder to the Hugging Face Hub and tag its format version."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from .card import write_card
from .layout import CODEBASE_VERSION, LOCAL_ONLY_PATTERNS, load_info

logger = logging.getLogger(__name__)


def push_dataset(folder: str | Path, repo_id: str, token: str | None = None, private: bool = False,
                 api: HfApi | None = None) -> str:
    """Upload ``folder`` to the dataset repo ``repo_id`` and tag the commit ``v{CODEBASE_VERSION}``.

    Steps: check the folder's format version; rewrite README.md with ``repo_id`` in the loading
    example; ``create_repo(exist_ok=True)``; ``upload_folder`` without the resume records and temp
    files (``layout.LOCAL_ONLY_PATTERNS``); tag the new commit. An existing tag of the same version
    is moved to the new commit (re-pushing a rebuilt or extended dataset of the same format).

    token: defaults to the ``HF_TOKEN`` environment variable, then to the saved login. Never logged.
    Returns the URL of the tagged commit (it ends with the commit id).
    """
    folder = Path(folder)
    info = load_info(folder)
    write_card(folder, info, repo_id=repo_id)
    token = token or os.environ.get("HF_TOKEN") or None
    api = api or HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True, token=token)
    commit = api.upload_folder(
        repo_id=repo_id, repo_type="dataset", folder_path=folder, token=token,
        ignore_patterns=list(LOCAL_ONLY_PATTERNS),
        commit_message=f"imu2safety dataset, format v{CODEBASE_VERSION}: {', '.join(sorted(info.configs))}",
    )
    tag = "v" + CODEBASE_VERSION
    try:
        api.create_tag(repo_id, tag=tag, revision=commit.oid, repo_type="dataset", token=token)
    except HfHubHTTPError as e:
        if e.response is None or e.response.status_code != 409:
            raise
        logger.warning("tag %s exists in %s; moving it to commit %s", tag, repo_id, commit.oid)
        api.delete_tag(repo_id, tag=tag, repo_type="dataset", token=token)
        api.create_tag(repo_id, tag=tag, revision=commit.oid, repo_type="dataset", token=token)
    logger.info("pushed %s to dataset %s at %s (tag %s)", folder, repo_id, commit.oid, tag)
    return commit.commit_url
