"""The Ray engine (`--engine ray`) on a local Ray instance: same dataset as the local engine,
a killed worker retried without loss or duplication, a restarted driver resumes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import ray

from imu2safety.builders import engine_ray
from imu2safety.builders.build import BuildOptions, RayOptions, build
from imu2safety.builders.dataset.writer import DatasetWriter
from imu2safety.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
CHUNK = 5  # 33 sample clips -> 7 chunks


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _opts(out: Path | str, engine: str) -> BuildOptions:
    return BuildOptions(source="npz", input_dir=SAMPLES, output_dir=out, device="bmi160",
                        seed=3, chunk_inputs=CHUNK, augment=1, engine=engine,
                        ray=RayOptions(workers=2))


@pytest.fixture(scope="module")
def local_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "ds"
    build(_opts(out, "local"), progress=False)
    return out


@pytest.fixture
def ray_instance(tmp_path):
    """A 2-CPU local Ray whose first read actor to take a chunk dies (marker file)."""
    marker = tmp_path / "killed"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {engine_ray.FAULT_ONCE_ENV: str(marker)}})
    yield marker
    ray.shutdown()


def test_ray_build_equals_local_build_byte_for_byte_despite_a_killed_worker(
        local_build, ray_instance, tmp_path):
    out = tmp_path / "ds"
    result = build(_opts(out, "ray"), progress=False)
    assert ray_instance.exists(), "the fault hook never fired: no worker was killed"
    assert _tree(out) == _tree(local_build)
    report = result.report
    assert report["inputs"] == report["inputs_written"] + report["inputs_skipped"] == 33
    # each chunk committed exactly once, none lost
    assert engine_ray.STAGE_TIMES["chunks"] == 7
    rows = json.loads((out / "meta" / "info.json").read_text())
    assert "engine" not in json.dumps(rows["configs"]["npz"].get("build_options", {}))


def test_restarted_driver_resumes_without_redoing_committed_chunks(
        local_build, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    real_write = DatasetWriter.write_chunk
    committed = []

    def crash_after_two(self, chunk, results, **kw):
        if len(committed) == 2:
            raise KeyboardInterrupt("driver lost")
        committed.append(chunk)
        return real_write(self, chunk, results, **kw)

    monkeypatch.setattr(DatasetWriter, "write_chunk", crash_after_two)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        with pytest.raises(KeyboardInterrupt):
            build(_opts(out, "ray"), progress=False)
        monkeypatch.setattr(DatasetWriter, "write_chunk", real_write)
        build(_opts(out, "ray"), progress=False)
    finally:
        ray.shutdown()
    assert committed == [0, 1]
    assert engine_ray.STAGE_TIMES["chunks"] == 7 - 2  # only the uncommitted chunks ran again
    assert _tree(out) == _tree(local_build)


def test_cli_engine_ray_starts_and_stops_its_own_instance(local_build, tmp_path, capsys):
    out = tmp_path / "ds"
    code = main(["build", "npz", "--input", str(SAMPLES), "--output", str(out), "--device",
                 "bmi160", "--seed", "3", "--chunk-inputs", str(CHUNK), "--augment", "1",
                 "--engine", "ray", "--workers", "1"])
    assert code == 0, capsys.readouterr()
    assert not ray.is_initialized()
    assert _tree(out) == _tree(local_build)


def test_retries_are_bounded_a_worker_lost_with_none_left_fails_the_build(ray_instance, tmp_path):
    opts = _opts(tmp_path / "ds", "ray")
    opts.ray = RayOptions(workers=2, max_retries=0)
    with pytest.raises(Exception) as err:
        build(opts, progress=False)
    assert ray_instance.exists(), "the fault hook never fired: no worker was killed"
    assert "died" in str(err.value).lower() or "actor" in str(err.value).lower(), str(err.value)[:500]


def test_ray_options_are_checked():
    with pytest.raises(ValueError, match="workers"):
        RayOptions(workers=0)
    with pytest.raises(ValueError, match="max_retries"):
        RayOptions(max_retries=-1)
    with pytest.raises(ValueError, match="engine"):
        BuildOptions(source="npz", input_dir=SAMPLES, output_dir="x", engine="spark")


def test_build_into_an_fsspec_url_resumes_and_equals_a_local_build(local_build, tmp_path,
                                                                   monkeypatch):
    import fsspec

    fs = fsspec.filesystem("memory")
    url = "memory://bucket/ds"
    real_write = DatasetWriter.write_chunk
    calls = []

    def crash_after_three(self, chunk, results, **kw):
        if len(calls) == 3:
            raise KeyboardInterrupt("driver lost")
        calls.append(chunk)
        return real_write(self, chunk, results, **kw)

    monkeypatch.setattr(DatasetWriter, "write_chunk", crash_after_three)
    first = _opts(url, "local")
    first.staging_dir = tmp_path / "staging"
    with pytest.raises(KeyboardInterrupt):
        build(first, progress=False)
    assert fs.exists("/bucket/ds/meta")  # committed chunks were pushed before the crash
    # a new driver with a new working copy resumes from what the remote folder holds
    resumed = []

    def count(self, chunk, results, **kw):
        resumed.append(chunk)
        return real_write(self, chunk, results, **kw)

    monkeypatch.setattr(DatasetWriter, "write_chunk", count)
    second = _opts(url, "local")
    second.staging_dir = tmp_path / "other-staging"
    build(second, progress=False)
    assert resumed == [3, 4, 5, 6]
    remote = {p[len("/bucket/ds/"):]: hashlib.sha256(fs.cat_file(p)).hexdigest()
              for p in sorted(fs.find("/bucket/ds"))}
    assert remote == _tree(local_build)
    fs.rm("/bucket", recursive=True)
