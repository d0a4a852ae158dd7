"""Dataset folders on any fsspec filesystem (``s3://bucket/ds``, ``gs://…``, ``memory://…``).

A build writes through a local working copy: ``RemoteFolder.pull`` copies what the remote folder
already holds (so that a build resumes after its last committed chunk, wherever the driver runs),
the writer commits chunks locally with its atomic renames, and ``push`` uploads every file that
changed since the last push, after each committed chunk and at the end. A remote file is
therefore only ever replaced by a complete local file; the progress record is uploaded after the
shards it lists, so a driver lost between two uploads resumes from a consistent state.

The filesystem's own package must be installed (``s3fs`` for ``s3://``, ``gcsfs`` for
``gs://``); credentials come from the filesystem's usual sources, never from this project.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from .layout import TMP_SUFFIX

logger = logging.getLogger(__name__)

#: Local folders: plain paths and ``file://`` URLs. Anything else with "://" is remote.
LOCAL_PROTOCOLS = ("file",)


def is_remote(path: str | Path) -> bool:
    """True for an fsspec URL of a non-local filesystem (``s3://…``), False for a local path."""
    text = str(path)
    protocol, sep, _ = text.partition("://")
    return bool(sep) and protocol not in LOCAL_PROTOCOLS


def default_staging(url: str) -> Path:
    """Local working copy of ``url``: ``~/.cache/imu2safety/staging/<sha256(url)[:16]>``."""
    return Path.home() / ".cache" / "imu2safety" / "staging" / hashlib.sha256(
        url.encode()).hexdigest()[:16]


class RemoteFolder:
    """A dataset folder at ``url`` mirrored by the local folder ``staging``."""

    def __init__(self, url: str, staging: Path) -> None:
        import fsspec

        self.url = url.rstrip("/")
        self.staging = Path(staging)
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self._pushed: dict[str, tuple[int, int]] = {}

    def pull(self) -> int:
        """Replace the working copy by the remote folder's files; returns how many were copied."""
        if self.staging.exists():
            import shutil

            shutil.rmtree(self.staging)
        self.staging.mkdir(parents=True)
        n = 0
        if self.fs.exists(self.root):
            for remote in sorted(self.fs.find(self.root)):
                rel = remote[len(self.root):].lstrip("/")
                local = self.staging / rel
                local.parent.mkdir(parents=True, exist_ok=True)
                self.fs.get_file(remote, str(local))
                n += 1
        self._pushed = self._stamps()
        logger.info("pulled %d file(s) of %s into %s", n, self.url, self.staging)
        return n

    def push(self) -> int:
        """Upload the files that changed since the last push (progress records last)."""
        stamps = self._stamps()
        changed = [rel for rel, stamp in stamps.items() if self._pushed.get(rel) != stamp]
        changed.sort(key=lambda rel: (rel.startswith("meta/progress"), rel))
        for rel in changed:
            target = f"{self.root}/{rel}"
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            self.fs.put_file(str(self.staging / rel), target)
        for rel in set(self._pushed) - set(stamps):  # removed locally (e.g. a redone chunk)
            self.fs.rm_file(f"{self.root}/{rel}")
        self._pushed = stamps
        return len(changed)

    def _stamps(self) -> dict[str, tuple[int, int]]:
        out = {}
        for p in sorted(self.staging.rglob("*")):
            if p.is_file() and not p.name.endswith(TMP_SUFFIX):
                st = p.stat()
                out[p.relative_to(self.staging).as_posix()] = (st.st_size, st.st_mtime_ns)
        return out
