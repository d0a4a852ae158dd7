"""Push a built dataset folder to the Hugging Face Hub and tag its format version."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import filter_repo_objects

from .card import render_card
from .layout import CARD_PATH, CODEBASE_VERSION, LOCAL_ONLY_PATTERNS, load_info, write_bytes_atomic

logger = logging.getLogger(__name__)


def push_dataset(folder: str | Path, repo_id: str, token: str | None = None, private: bool = False,
                 api: HfApi | None = None) -> str:
    """Upload ``folder`` to the dataset repo ``repo_id`` and tag the commit ``v{CODEBASE_VERSION}``.

    Steps: check the folder's format version; render README.md with ``repo_id`` in the loading
    example; ``create_repo(exist_ok=True)``; one commit of every file except the resume records
    and temp files (``layout.LOCAL_ONLY_PATTERNS``), README.md taken from the rendered text; tag
    the new commit. An existing tag of the same version is moved to the new commit (re-pushing a
    rebuilt or extended dataset of the same format). Nothing in ``folder`` changes before the
    commit succeeded; then the local README.md is rewritten to match the pushed one.

    token: defaults to the ``HF_TOKEN`` environment variable, then to the saved login. Never logged.
    Returns the URL of the tagged commit (it ends with the commit id).
    """
    folder = Path(folder)
    info = load_info(folder)
    card = render_card(folder, info, repo_id=repo_id).encode("utf-8")
    token = token or os.environ.get("HF_TOKEN") or None
    api = api or HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True, token=token)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    files = [f for f in filter_repo_objects(files, ignore_patterns=list(LOCAL_ONLY_PATTERNS))
             if f != CARD_PATH]
    operations = [CommitOperationAdd(CARD_PATH, card)]
    operations += [CommitOperationAdd(f, folder / f) for f in files]
    commit = api.create_commit(
        repo_id=repo_id, repo_type="dataset", operations=operations, token=token,
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
    write_bytes_atomic(folder / CARD_PATH, card)  # the pushed card, now that the push succeeded
    logger.info("pushed %s to dataset %s at %s (tag %s)", folder, repo_id, commit.oid, tag)
    return commit.commit_url
