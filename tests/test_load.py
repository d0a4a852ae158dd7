"""``load``: exact round trip of a local folder, fresh rows after a rebuild, version checks, and
``resolve_revision`` against the fake Hub (``fakehub``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import HfApi

from imu2safety.builders.dataset import load as load_module
from imu2safety.builders.labels import HAZARD_NAMES
from imu2safety.builders.dataset.layout import CODEBASE_VERSION, INFO_PATH, VersionError
from imu2safety.builders.dataset.load import folder_fingerprint, load, resolve_revision
from imu2safety.builders.dataset.writer import DatasetWriter

from fakehub import COMMIT_OID, ENDPOINT, REPO, hub  # noqa: F401 (hub is a fixture)

CONFIG = "utd-mhad"
TAGS = ["v0.9.0", "v1.0.0", "v1.1.0", "v1.2.0", "v2.0.0"]


def row(clip_id: str, split: str, hazard: str, n: int) -> dict:
    """One schema row with a reproducible, non-round float32 signal of ``n`` samples."""
    imu = np.random.default_rng(sum(map(ord, clip_id))).normal(0.0, 3.0, size=(n, 6)).astype(np.float32)
    return {
        "id": clip_id, "source": CONFIG, "subject": clip_id.split("/")[0], "source_label": "a1",
        "activity": "test activity", "hazard": hazard, "safe": hazard == "none", "synthetic": True,
        "placement": "left_wrist", "device": "ideal", "sample_rate_hz": 50.0, "imu": imu,
        "simulator_version": "0.1.0", "options": {"rate_hz": 50.0}, "seed": 7,
        "extra": "{}", "instructions": [], "split": split,
    }


def build(out: Path, rows: list[dict], rate_hz: float) -> None:
    w = DatasetWriter(out, CONFIG, chunk_inputs=len(rows))
    w.write_chunk(0, {r["id"]: [r] for r in rows})
    w.finalize(build_options={"rate_hz": rate_hz}, simulator_version="0.1.0")


FIRST = [row("s1/a1_t1", "train", "none", 30), row("s1/a2_t1", "train", "falling", 25),
         row("s8/a1_t1", "test", "fainting", 12)]
# Same splits, same row count, same card YAML: only the content differs.
SECOND = [row("s2/a5_t1", "train", "fighting", 40), row("s2/a6_t1", "train", "none", 18),
          row("s9/a1_t1", "test", "falling", 33)]


def assert_rows(ds, rows: list[dict]) -> None:
    assert ds.num_rows == len(rows)
    for got, want in zip(ds, rows):
        assert got["id"] == want["id"]
        assert HAZARD_NAMES[got["hazard"]] == want["hazard"]
        imu = np.asarray(got["imu"], dtype=np.float32)
        assert imu.shape == want["imu"].shape
        assert np.array_equal(imu.view(np.uint32), want["imu"].view(np.uint32))  # bit-exact


def test_local_folder_round_trip(tmp_path):
    out = tmp_path / "ds"
    build(out, FIRST, 50.0)
    ds = load(out, CONFIG)
    assert sorted(ds) == ["test", "train"]
    assert_rows(ds["train"], FIRST[:2])
    assert_rows(ds["test"], FIRST[2:])
    assert_rows(load(str(out), split="test"), FIRST[2:])  # default config, one split


def test_rebuilt_folder_gives_the_new_rows(tmp_path):
    out = tmp_path / "ds"
    build(out, FIRST, 50.0)
    first = load(out, CONFIG)
    assert_rows(first["train"], FIRST[:2])
    again = load(out, CONFIG)  # unchanged folder: the prepared cache is reused
    assert again["train"].cache_files == first["train"].cache_files
    shutil.rmtree(out)
    build(out, SECOND, 100.0)
    second = load(out, CONFIG)
    assert_rows(second["train"], SECOND[:2])
    assert_rows(second["test"], SECOND[2:])
    assert second["train"].cache_files != first["train"].cache_files


def test_fingerprint_follows_the_content(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    build(a, FIRST, 50.0)
    build(b, FIRST, 50.0)
    fa = folder_fingerprint(a)
    assert fa == folder_fingerprint(a)
    shard = a / "data" / CONFIG / "train-00000.parquet"
    (a / "data" / CONFIG / "train-00000.parquet.tmp").write_bytes(b"unfinished")  # ignored
    assert folder_fingerprint(a) == fa
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, same mtime: a byte in the file's first/last 64 KiB
    st = shard.stat()
    shard.write_bytes(bytes(data))
    os.utime(shard, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert folder_fingerprint(a) != fa
    assert folder_fingerprint(b) != fa  # identical bytes, other mtimes: prepared again, never stale


def test_newer_major_folder_is_refused(tmp_path):
    out = tmp_path / "ds"
    build(out, FIRST, 50.0)
    info = json.loads((out / INFO_PATH).read_text())
    info["codebase_version"] = "2.0.0"
    (out / INFO_PATH).write_text(json.dumps(info))
    with pytest.raises(VersionError, match=r"dataset format 2\.0\.0 is newer .* upgrade imu2safety"):
        load(out, CONFIG)


def test_unknown_config_and_missing_folder_are_named(tmp_path):
    out = tmp_path / "ds"
    build(out, FIRST, 50.0)
    with pytest.raises(ValueError, match=r"no config 'weda-fall'; it holds \['utd-mhad'\]"):
        load(out, "weda-fall")
    with pytest.raises(ValueError, match="revision='v1.0.0' applies to Hub repos"):
        load(out, CONFIG, revision="v1.0.0")
    with pytest.raises(FileNotFoundError, match="not an imu2safety dataset folder"):
        load(tmp_path)
    with pytest.raises(FileNotFoundError, match="neither a dataset folder nor a Hub repo id"):
        load(str(tmp_path / "missing" / "ds"))


@pytest.mark.parametrize("ours, expected", [
    ("1.0.0", "v1.0.0"),  # v1.2.0 is a newer minor, v0.9.0 an older major, v2.0.0 a newer major
    ("1.0.7", "v1.0.0"),  # the patch does not matter
    ("1.3.0", "v1.2.0"),  # the newest readable minor wins
    ("0.9.2", "v0.9.0"),
])
def test_resolve_revision_picks_the_newest_readable_tag(hub, ours, expected):
    hub.tags = {t: COMMIT_OID for t in [*TAGS, "latest", "v1.5"]}  # non-version tags are ignored
    assert resolve_revision(REPO, api=HfApi(endpoint=ENDPOINT), ours=ours) == expected
    assert [(m, p) for m, p, _ in hub.requests] == [("GET", f"/api/datasets/{REPO}/refs")]


def test_resolve_revision_for_this_codebase(hub):
    hub.tags = {t: COMMIT_OID for t in TAGS}
    expected = {"1.0.0": "v1.0.0", "1.1.0": "v1.1.0"}[CODEBASE_VERSION]  # update when the format version changes
    assert resolve_revision(REPO, api=HfApi(endpoint=ENDPOINT)) == expected


def test_resolve_revision_explains_unreadable_versions(hub):
    api = HfApi(endpoint=ENDPOINT)
    hub.tags = {"v2.0.0": COMMIT_OID, "v2.1.0": COMMIT_OID}
    with pytest.raises(VersionError) as e:
        resolve_revision(REPO, api=api, ours="1.0.0")
    assert str(e.value) == (
        f"dataset repo {REPO} has format versions ['v2.0.0', 'v2.1.0'], none readable by this imu2safety "
        "(format 1.0.0 reads v1.0.0 to v1.0.x): upgrade imu2safety to read v2.x")
    with pytest.raises(VersionError, match=r"older major version: rebuild it with imu2safety >= 3\.0\.0"):
        resolve_revision(REPO, api=api, ours="3.0.0")
    hub.tags = {"v2.1.0": COMMIT_OID}
    with pytest.raises(VersionError, match=r"upgrade imu2safety to read v2\.1\.x"):
        resolve_revision(REPO, api=api, ours="2.0.4")
    hub.tags = {"latest": COMMIT_OID}
    with pytest.raises(VersionError, match=r"no format version tag .*\['latest'\].*imu2safety push"):
        resolve_revision(REPO, api=api)


def test_load_from_the_hub_uses_the_resolved_tag(hub, monkeypatch):
    hub.tags = {t: COMMIT_OID for t in TAGS}
    calls = []
    monkeypatch.setattr(load_module, "HfApi", lambda token=None: HfApi(endpoint=ENDPOINT, token=token))
    monkeypatch.setattr(load_module.datasets, "load_dataset", lambda *a, **k: calls.append((a, k)) or "ds")
    assert load(REPO, CONFIG, split="train") == "ds"
    assert load(REPO, CONFIG, revision="main") == "ds"  # an explicit revision is not resolved
    assert calls == [((REPO, CONFIG), {"split": "train", "revision": f"v{CODEBASE_VERSION}"}),
                     ((REPO, CONFIG), {"split": None, "revision": "main"})]
    assert len(hub.requests) == 1
