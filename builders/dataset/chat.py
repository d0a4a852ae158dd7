"""Chat export of the instruction pairs: ``imu2safety export-chat DIR CONFIG -o FILE.jsonl``.

One JSON line per pair, in dataset order (splits train, validation, test; rows; pairs)::

    {"id": clip id, "kind": description|causal|comparative|classification,
     "messages": [{"role": "user", "content": instruction}, {"role": "assistant", "content": response}],
     "hazard": hazard name, "safe": bool, "activity": str, "split": split,
     "clips": [clip ids the pair names, the row's own first]}

The IMU itself is not copied: the trainer reads it from the dataset by ``id`` (and the other
``clips`` of a comparative pair). Rows with no pairs add no line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator, Sequence

from ..labels import HAZARD_NAMES
from ..records import SPLITS
from .layout import TMP_SUFFIX, load_info, read_shard, shard_paths

_ID_RE = re.compile(r"`([^`]+)`")


def chat_records(dataset_dir: str | Path, config: str, splits: Sequence[str] = SPLITS) -> Iterator[dict]:
    """The export's records (module docstring), one shard at a time."""
    for split in splits:
        for path in shard_paths(dataset_dir, config, split):
            t = read_shard(path, columns=["id", "hazard", "safe", "activity", "instructions"])
            for cid, h, safe, act, pairs in zip(*(t[c].to_pylist() for c in t.column_names)):
                for p in pairs:
                    named = [cid] + [x for x in dict.fromkeys(_ID_RE.findall(p["instruction"] + p["response"]))
                                     if x != cid]
                    yield {"id": cid, "kind": p["kind"],
                           "messages": [{"role": "user", "content": p["instruction"]},
                                        {"role": "assistant", "content": p["response"]}],
                           "hazard": HAZARD_NAMES[h], "safe": bool(safe), "activity": act,
                           "split": split, "clips": named}


def export_chat(dataset_dir: str | Path, config: str, out_path: str | Path,
                splits: Sequence[str] | None = None) -> int:
    """Write the JSONL export atomically (``splits``: default all); returns the number of lines."""
    splits = tuple(splits) if splits else SPLITS
    info = load_info(dataset_dir)
    if config not in info.configs:
        raise ValueError(f"config {config!r} not in {dataset_dir}; it holds {sorted(info.configs)}")
    bad = [s for s in splits if s not in SPLITS]
    if bad:
        raise ValueError(f"unknown split(s) {bad}; choose from {SPLITS}")
    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.name + TMP_SUFFIX)
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for rec in chat_records(dataset_dir, config, splits):
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(out_path)
    return n
