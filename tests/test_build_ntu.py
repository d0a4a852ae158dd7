"""NTU builds: the same bytes whatever the process count (worker pools of the build and of the
instruction pass), on files in NTU's exact text format (``benchmarks/build_speed.py`` writes them:
mutual actions with two bodies, ghost bodies, untracked joints)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from imu2safety.builders.build import BuildOptions, build
from imu2safety.builders.instructions import pairs

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _corpus(folder: Path, files: int) -> None:
    spec = importlib.util.spec_from_file_location("bench_build_speed_ntu", BENCH / "build_speed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.write_corpus(folder, files, frames=(30, 60), untracked=0.01, seed=5)


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ntu") / "nturgbd_skeletons"
    _corpus(folder, 24)
    (folder / "S001C001P001R001A001.skeleton").write_bytes(b"3\r\n1\r\n")  # truncated: a skip
    return folder


def test_two_processes_write_the_bytes_of_one(corpus, tmp_path, monkeypatch):
    one = build(BuildOptions(source="ntu", input_dir=corpus, output_dir=tmp_path / "one",
                             chunk_inputs=5), progress=False)
    monkeypatch.setattr(pairs, "PAIR_BATCH", 8)  # several tasks: the pass's pool runs too
    build(BuildOptions(source="ntu", input_dir=corpus, output_dir=tmp_path / "two", chunk_inputs=5,
                       num_proc=2), progress=False)
    a, b = _tree(tmp_path / "one"), _tree(tmp_path / "two")
    assert a == b
    rep = one.report
    assert rep["inputs"] == 25 == rep["inputs_written"] + rep["inputs_skipped"]
    assert rep["inputs_skipped"] == 1 and sum(rep["rows"].values()) >= 24
    saved = json.loads((tmp_path / "one" / "meta" / "report_ntu.json").read_text())
    assert sum(saved["instructions"]["pairs"].values()) > 0
