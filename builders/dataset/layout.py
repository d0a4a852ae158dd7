"""The one place for the dataset's on-disk layout, its format version and its metadata.

A dataset folder holds::

    README.md                                   dataset card (YAML ``configs:`` + prose)
    LICENSE.md                                  each config's source terms (the card's license_link)
    meta/info.json                              DatasetInfo: format version and every config
    meta/report_{config}.json                   build report: inputs = written + skipped
    meta/progress_{config}.json                 committed chunks (resume record; not pushed)
    meta/stats.json                             per-channel normalisation statistics per config and split
    data/{config}/{split}-{chunk:05d}.parquet   one shard per split and chunk of inputs
    figures/{config}_{hazard}.png               example signal plots embedded in the card
    cache/teacher/                              teacher answers (local only; not pushed)

No file in it holds a timestamp or a duration, so identical builds give identical bytes.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..labels import HAZARD_NAMES
from ..records import SPLITS

#: Format version of datasets written by this code (semantic: MAJOR.MINOR.PATCH). Bump MINOR for
#: additions old readers can ignore, MAJOR for changes they cannot read.
CODEBASE_VERSION = "1.1.0"

CARD_PATH = "README.md"
#: The per-source licence terms the card's ``license_link`` points to (licence ``other``).
LICENSE_PATH = "LICENSE.md"
INFO_PATH = "meta/info.json"
REPORT_PATH = "meta/report_{config}.json"
PROGRESS_PATH = "meta/progress_{config}.json"
STATS_PATH = "meta/stats.json"
DATA_DIR = "data/{config}"
DATA_PATH = "data/{config}/{split}-{chunk:05d}.parquet"
DATA_GLOB = "data/{config}/{split}-*.parquet"
FIGURE_PATH = "figures/{config}_{hazard}.png"
#: Suffix of files being written; they are renamed into place when complete.
TMP_SUFFIX = ".tmp"
#: Target bytes of IMU data per Parquet row group (bounds reader memory per batch).
ROW_GROUP_BYTES = 32 * 1024 * 1024
#: Columns with few distinct values, dictionary-encoded.
_DICTIONARY_COLUMNS = ["source", "subject", "source_label", "activity", "placement", "device",
                       "simulator_version", "options"]
#: Files that stay local: resume records and unfinished writes.
LOCAL_ONLY_PATTERNS = ("meta/progress_*.json", f"*{TMP_SUFFIX}", f"**/*{TMP_SUFFIX}", "cache/**")

_CONFIG_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_SHARD_RE = re.compile(r"^(?P<split>[a-z]+)-(?P<chunk>\d{5})\.parquet$")


class VersionError(RuntimeError):
    """A dataset written by an incompatible imu2safety format version."""


def parse_version(version: str) -> tuple[int, int, int]:
    """``"1.2.3"`` -> ``(1, 2, 3)``; raises ValueError naming the bad value."""
    m = _VERSION_RE.match(str(version))
    if m is None:
        raise ValueError(f"version must look like MAJOR.MINOR.PATCH, got {version!r}")
    return int(m[1]), int(m[2]), int(m[3])


def check_version(found: str, ours: str = CODEBASE_VERSION) -> None:
    """Accept a dataset written with format ``found`` when its major equals ours and its minor is <= ours.

    Raises VersionError saying what to do: rebuild an older dataset, or upgrade imu2safety.
    """
    f_major, f_minor, _ = parse_version(found)
    o_major, o_minor, _ = parse_version(ours)
    if f_major < o_major:
        raise VersionError(
            f"dataset format {found} is older than this code's {ours} (major {f_major} < {o_major}): "
            f"rebuild it with imu2safety >= {o_major}.0.0 (format {ours}), "
            "or read it with an older imu2safety"
        )
    if f_major > o_major or f_minor > o_minor:
        raise VersionError(
            f"dataset format {found} is newer than this code reads ({ours}): upgrade imu2safety "
            f"to a release that writes format {f_major}.{f_minor}.x"
        )


def check_config_name(config: str) -> str:
    """A config name: lower case letters, digits, '.', '_' and '-', starting with a letter or digit."""
    if not isinstance(config, str) or not _CONFIG_RE.match(config):
        raise ValueError(
            f"config name must match {_CONFIG_RE.pattern} (e.g. 'utd-mhad'), got {config!r}"
        )
    return config


def data_path(config: str, split: str, chunk: int) -> str:
    """Relative path of one shard."""
    return DATA_PATH.format(config=config, split=split, chunk=chunk)


def parse_shard_name(name: str) -> tuple[str, int] | None:
    """``"train-00003.parquet"`` -> ``("train", 3)``; None for anything else."""
    m = _SHARD_RE.match(name)
    if m is None or m["split"] not in SPLITS:
        return None
    return m["split"], int(m["chunk"])


def shard_paths(dataset_dir: str | Path, config: str, split: str) -> list[Path]:
    """Shards of one split of one config in chunk order (the dataset's row order)."""
    folder = Path(dataset_dir) / DATA_DIR.format(config=config)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        parsed = parse_shard_name(p.name)
        if parsed is not None and parsed[0] == split:
            found.append((parsed[1], p))
    return [p for _, p in sorted(found)]


def read_shard(path: str | Path, columns: list[str] | None = None):
    """One shard (or ``columns`` of it) as a ``pyarrow.Table``: ``pq.read_table``'s table, read
    through ``pq.ParquetFile`` without the dataset discovery ``read_table`` runs first (about 1 ms
    a call, per shard of a build's finishing passes: 1.54 against 0.51 ms for one small column)."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as f:
        return f.read(columns=columns)


def write_parquet_atomic(table: pa.Table, path: Path, row_group_bytes: int = ROW_GROUP_BYTES,
                         compression: str = "zstd", commit: bool = True) -> Path:
    """Write ``table`` to ``path`` with fixed options (byte-stable): temp file, fsync, rename.
    compression: "zstd" (level 3: the dataset's shards) or "none" (``DatasetWriter``'s).
    Returns where the bytes are: ``path``, or with commit=False the temp file, written but not
    synced, for ``commit_file`` (the build's workers write, the driver waits for the disk). (Here, with no
    import of ``datasets``: the build's worker processes write shards too.)"""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    # (chunks of an Array2D column, or of its storage where ``datasets`` is not imported)
    samples = sum(pc.sum(pc.list_value_length(c.storage if isinstance(c, pa.ExtensionArray) else c)
                         ).as_py() or 0 for c in table["imu"].chunks)
    per_row = max(1, 24 * samples // max(1, table.num_rows))  # 6 float32 per sample
    rows_per_group = max(1, min(table.num_rows, row_group_bytes // per_row))
    tmp = path.with_name(path.name + TMP_SUFFIX)
    with open(tmp, "wb") as f:
        pq.write_table(
            table, f, row_group_size=rows_per_group, compression=compression,
            compression_level=3 if compression == "zstd" else None,
            use_dictionary=_DICTIONARY_COLUMNS, write_statistics=True, version="2.6",
            data_page_version="1.0",
        )
    if not commit:
        return tmp
    commit_file(tmp, path)
    return path


def commit_file(tmp: Path, path: Path) -> None:
    """Make ``tmp`` (written and closed, by any process) durable and rename it to ``path``."""
    _fsync_path(tmp)
    os.replace(tmp, path)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: str | Path) -> None:
    """Make a rename inside ``folder`` durable."""
    _fsync_path(folder)


def _fsync_path(path: str | Path) -> None:
    """fsync the file or folder at ``path`` (through a descriptor of its own)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def dumps_json(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, 2-space indent, trailing newline (byte-stable)."""
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _check_counts(what: str, counts: dict[str, int]) -> None:
    for k, v in counts.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{what}[{k!r}] must be a non-negative int, got {v!r}")


@dataclass
class ConfigInfo:
    """What one config (one source built with one set of options) holds.

    source: source name, a key of ``labels.SOURCE_LABELS`` (e.g. "utd-mhad").
    build_options: the options the build ran with (JSON-able).
    source_checksums: input file name -> checksum (e.g. "sha256:..."), to tell what was read.
    split_counts: split -> number of rows.
    class_counts: split -> hazard name -> number of rows; sums to ``split_counts``.
    simulator_version: version of the simulator that made the rows ("" for real-IMU sources).
    license: licence note of the source (prose for the card).
    citation: citation of the source (BibTeX or prose for the card).
    content_sha256: digest of the config's Parquet shards (names and bytes), so that a cached
        copy of an older build of the same folder is never mistaken for this one.
    """

    source: str
    build_options: dict[str, Any] = field(default_factory=dict)
    source_checksums: dict[str, str] = field(default_factory=dict)
    split_counts: dict[str, int] = field(default_factory=dict)
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    simulator_version: str = ""
    license: str = ""
    citation: str = ""
    content_sha256: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source:
            raise ValueError(f"source must be a non-empty string, got {self.source!r}")
        for split in (*self.split_counts, *self.class_counts):
            if split not in SPLITS:
                raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        _check_counts("split_counts", self.split_counts)
        for split, counts in self.class_counts.items():
            bad = sorted(set(counts) - set(HAZARD_NAMES))
            if bad:
                raise ValueError(f"class_counts[{split!r}] has unknown hazards {bad}; known: {HAZARD_NAMES}")
            _check_counts(f"class_counts[{split!r}]", counts)
            if sum(counts.values()) != self.split_counts.get(split, 0):
                raise ValueError(
                    f"class_counts[{split!r}] sums to {sum(counts.values())} but split_counts[{split!r}] "
                    f"is {self.split_counts.get(split, 0)}"
                )
        for name, checksum in self.source_checksums.items():
            if not isinstance(checksum, str):
                raise ValueError(f"source_checksums[{name!r}] must be a string, got {checksum!r}")
        json.dumps(self.build_options)  # raises TypeError naming the non-JSON value

    @property
    def splits(self) -> list[str]:
        """Splits that hold rows, in ``SPLITS`` order."""
        return [s for s in SPLITS if self.split_counts.get(s, 0) > 0]


@dataclass
class DatasetInfo:
    """``meta/info.json``: the format version and every config of a dataset folder."""

    codebase_version: str = CODEBASE_VERSION
    configs: dict[str, ConfigInfo] = field(default_factory=dict)
    created_by: str = ""

    def __post_init__(self) -> None:
        parse_version(self.codebase_version)
        for name, cfg in self.configs.items():
            check_config_name(name)
            if not isinstance(cfg, ConfigInfo):
                raise ValueError(f"configs[{name!r}] must be a ConfigInfo, got {type(cfg).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "codebase_version": self.codebase_version,
            "created_by": self.created_by,
            "configs": {name: asdict(self.configs[name]) for name in sorted(self.configs)},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DatasetInfo":
        known = {"codebase_version", "created_by", "configs"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown keys in dataset info: {unknown}")
        fields = set(ConfigInfo.__dataclass_fields__)
        configs = {}
        for name, cfg in d.get("configs", {}).items():
            if set(cfg) - fields:
                raise ValueError(f"unknown keys in config {name!r}: {sorted(set(cfg) - fields)}")
            configs[name] = ConfigInfo(**cfg)
        return cls(d["codebase_version"], configs, d.get("created_by", ""))


def load_info(dataset_dir: str | Path, check: bool = True) -> DatasetInfo:
    """Read ``meta/info.json`` of ``dataset_dir``; with ``check``, refuse an incompatible version."""
    path = Path(dataset_dir) / INFO_PATH
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {dataset_dir} is not an imu2safety dataset folder")
    d = json.loads(path.read_text(encoding="utf-8"))
    if check:
        check_version(str(d.get("codebase_version")))
    return DatasetInfo.from_dict(d)


def save_info(dataset_dir: str | Path, info: DatasetInfo) -> None:
    """Write ``meta/info.json`` atomically (canonical JSON)."""
    write_bytes_atomic(Path(dataset_dir) / INFO_PATH, dumps_json(info.to_dict()))
