"""Load an imu2safety dataset (a local folder or a Hub repo) with ``datasets``, version-checked.

Hub repos: ``push_dataset`` tags every push ``v{CODEBASE_VERSION}``; ``resolve_revision`` picks the
newest tag this code can read (lerobot's ``get_safe_version`` idea). Local folders: the format
version in ``meta/info.json`` is checked, and the ``datasets`` cache is keyed by the folder's
content (see ``folder_fingerprint``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

import datasets
from huggingface_hub import HfApi

from .layout import (
    CODEBASE_VERSION, INFO_PATH, TMP_SUFFIX, VersionError, check_version, load_info, parse_version,
)

logger = logging.getLogger(__name__)

_TAG_RE = re.compile(r"^v(\d+\.\d+\.\d+)$")
_REPO_ID_RE = re.compile(r"^[\w.-]+/[\w.-]+$")
#: Bytes read from each end of every data file for the fingerprint (a Parquet file's footer,
#: with its row counts, column-chunk sizes and statistics, is at the end).
_EDGE_BYTES = 64 * 1024


def resolve_revision(repo_id: str, api: HfApi | None = None, token: str | None = None,
                     ours: str = CODEBASE_VERSION) -> str:
    """The newest ``vMAJOR.MINOR.PATCH`` tag of dataset repo ``repo_id`` that format ``ours`` reads.

    Readable: same major, minor <= ours (``layout.check_version``); the highest such version wins.
    Other tags and branches are ignored. Raises VersionError listing the versions found and what to
    do: upgrade imu2safety (newer formats), rebuild and push again (older major), or push with
    ``imu2safety push`` (no version tag at all).
    """
    api = api or HfApi(token=token)
    refs = api.list_repo_refs(repo_id, repo_type="dataset", token=token)
    found = sorted((parse_version(m[1]), t.name) for t in refs.tags if (m := _TAG_RE.match(t.name)))
    readable = []
    for version, tag in found:
        try:
            check_version(tag[1:], ours)
        except VersionError:
            continue
        readable.append(tag)
    if readable:
        logger.info("dataset %s: tag %s is the newest of %s that format %s reads", repo_id,
                    readable[-1], [t for _, t in found], ours)
        return readable[-1]
    if not found:
        raise VersionError(
            f"dataset repo {repo_id} has no format version tag (vMAJOR.MINOR.PATCH; tags: "
            f"{sorted(t.name for t in refs.tags)}): push it with `imu2safety push`, which tags it, "
            "or pass revision= explicitly"
        )
    o_major, o_minor, _ = parse_version(ours)
    newer = [(v, t) for v, t in found if v[:2] > (o_major, o_minor)]
    older = [(v, t) for v, t in found if v[0] < o_major]
    todo = []
    if newer:
        (major, minor, _), _ = newer[-1]
        wanted = f"v{major}.x" if major > o_major else f"v{major}.{minor}.x"
        todo.append(f"upgrade imu2safety to read {wanted}")
    if older:
        todo.append(f"the dataset was built by an older major version: rebuild it with imu2safety >= "
                    f"{o_major}.0.0 and push it again")
    raise VersionError(
        f"dataset repo {repo_id} has format versions {[t for _, t in found]}, none readable by this "
        f"imu2safety (format {ours} reads v{o_major}.0.0 to v{o_major}.{o_minor}.x): " + "; or ".join(todo)
    )


def folder_fingerprint(dataset_dir: str | Path) -> str:
    """A sha256 hex digest of what a local dataset folder holds, cheap to compute.

    Covers the bytes of ``meta/info.json`` and, for every file under ``data/`` (temp files
    excluded), its relative path, size, mtime (ns) and its first and last 64 KiB (a Parquet
    footer). A rebuild changes it: shards are written anew (new mtime) and ``info.json`` records
    the build options. It misses only a shard rewritten with the same size, the same mtime and the
    same first and last 64 KiB.
    """
    root = Path(dataset_dir)
    h = hashlib.sha256()
    h.update((root / INFO_PATH).read_bytes())
    files = sorted(p for p in (root / "data").rglob("*") if p.is_file() and not p.name.endswith(TMP_SUFFIX))
    for p in files:
        st = p.stat()
        h.update(f"\n{p.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        with open(p, "rb") as f:
            h.update(f.read(_EDGE_BYTES))
            if st.st_size > _EDGE_BYTES:
                f.seek(max(_EDGE_BYTES, st.st_size - _EDGE_BYTES))
                h.update(f.read())
    return h.hexdigest()


def load(path_or_repo: str | Path, config: str | None = None, split: str | None = None,
         revision: str | None = None, **kwargs: Any) -> datasets.DatasetDict | datasets.Dataset:
    """``datasets.load_dataset`` of an imu2safety dataset, refusing formats this code cannot read.

    path_or_repo: a local dataset folder, or a Hub dataset repo id ``"org/name"``.
    config: config name (e.g. "utd-mhad"); None takes the card's default (first in sorted order).
    split: e.g. "train"; None returns a DatasetDict of every split.
    revision: Hub repos only; None resolves the newest readable version tag (``resolve_revision``).
    kwargs: passed on to ``datasets.load_dataset`` (``cache_dir``, ``streaming``, ``token``, ...).

    Local folders are keyed in the cache by their content. ``datasets`` (5.x) caches a local folder
    whose README.md declares ``configs:`` under ``{folder name}/{config}/0.0.0/{hash}``, where the
    hash covers only the card's YAML (config names and data-file *glob patterns*), never the files'
    contents or mtimes (those are resolved after the cache directory is chosen). A folder rebuilt
    in place with other rows, same name and same card YAML, therefore maps to the old cache and
    the old rows come back. Here the config's ``description`` is set to ``folder_fingerprint``:
    ``datasets`` puts every config keyword into the cache directory's name (``config_id``), so
    unchanged folders reuse their cache and changed ones are prepared anew.
    """
    local = Path(path_or_repo)
    if local.is_dir():
        if revision is not None:
            raise ValueError(f"revision={revision!r} applies to Hub repos; {local} is a local folder")
        info = load_info(local)
        if config is not None and config not in info.configs:
            raise ValueError(f"{local} has no config {config!r}; it holds {sorted(info.configs)}")
        kwargs.setdefault("description", f"imu2safety folder sha256:{folder_fingerprint(local)}")
        return datasets.load_dataset(str(local), config, split=split, **kwargs)
    repo_id = str(path_or_repo)
    if not _REPO_ID_RE.match(repo_id):
        raise FileNotFoundError(f"{repo_id!r} is neither a dataset folder nor a Hub repo id 'org/name'")
    if revision is None:
        token = kwargs.get("token")
        revision = resolve_revision(repo_id, token=token if isinstance(token, str) else None)
    return datasets.load_dataset(repo_id, config, split=split, revision=revision, **kwargs)
