"""Builds that never lie (issue 6, items 1-4 and 13): option-aware resume, duplicate clip ids,
calibration provenance, honest info.json for real-IMU configs, clean errors for push and versions."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from imu2safety.builders.build import BuildOptions, build
from imu2safety.builders.dataset.writer import DatasetWriter
from imu2safety.cli import main
from imu2safety.simulator.calibration import Calibration

from test_build import _opts, _skeleton, _tree, utd_dir  # noqa: F401 (utd_dir is a fixture)

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
README = Path(__file__).resolve().parents[1] / "README.md"


def _info(out: Path) -> dict:
    return json.loads((out / "meta" / "info.json").read_text())


# ---- item 1: a folder continues only when nothing that determines the rows differs ----------

@pytest.mark.parametrize("change", [{"device": "ideal"}, {"seed": 3}, {"placement": "left_wrist"},
                                    {"rate_hz": 60.0}, {"augment": 1}, {"cutoff_hz": 2.0}])
def test_rerun_with_other_options_stops_and_names_the_difference(utd_dir, tmp_path, change):
    out = tmp_path / "ds"
    build(_opts(utd_dir, out), progress=False)
    before = _tree(out)
    key = next(iter(change))
    opts = _opts(utd_dir, out)
    for k, v in change.items():
        setattr(opts, k, v)
    with pytest.raises(ValueError, match=rf"{key} .* -> .*--overwrite") as err:
        build(opts, progress=False)
    assert "\n" not in str(err.value)
    assert _tree(out) == before  # nothing was touched


def test_overwrite_rebuilds_that_config_and_keeps_the_others(utd_dir, tmp_path):
    out, fresh = tmp_path / "ds", tmp_path / "fresh"
    build(_opts(utd_dir, out), progress=False)
    npz = tmp_path / "npz"
    npz.mkdir()
    shutil.copy(SAMPLES / "walking_01.npz", npz / "walk.npz")
    (npz / "labels.csv").write_text("file,label,subject\nwalk.npz,walking,p1\n")
    build(BuildOptions(source="npz", input_dir=npz, output_dir=out), progress=False)
    other = {k: v for k, v in _tree(out).items() if k.startswith(("data/npz", "figures/npz"))}
    build(_opts(utd_dir, out, seed=5), progress=False, overwrite=True)
    build(_opts(utd_dir, fresh, seed=5), progress=False)
    tree = _tree(out)
    assert {k: v for k, v in tree.items() if k.startswith(("data/npz", "figures/npz"))} == other
    fresh_tree = _tree(fresh)
    assert {k: v for k, v in tree.items() if "utd-mhad" in k} == \
        {k: v for k, v in fresh_tree.items() if "utd-mhad" in k}  # as if built from scratch
    info = _info(out)
    assert info["configs"]["utd-mhad"]["build_options"]["seed"] == 5 and "npz" in info["configs"]


def test_changed_input_of_a_committed_chunk_stops_the_resume(utd_dir, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    real_write = DatasetWriter.write_chunk

    def dying(self, chunk, results, **kw):
        if chunk == 1:
            raise KeyboardInterrupt("killed")
        return real_write(self, chunk, results, **kw)

    monkeypatch.setattr(DatasetWriter, "write_chunk", dying)
    with pytest.raises(KeyboardInterrupt):
        build(_opts(utd_dir, out), progress=False)
    monkeypatch.setattr(DatasetWriter, "write_chunk", real_write)
    first = sorted(utd_dir.glob("*.mat"))[0]  # in chunk 0, committed
    scipy.io.savemat(first, {"d_skel": _skeleton(60, 1234)})
    with pytest.raises(ValueError, match=rf"input '{first.name}' changed .*--overwrite"):
        build(_opts(utd_dir, out), progress=False)
    rep = build(_opts(utd_dir, out), progress=False, overwrite=True).report
    assert rep["inputs"] == 11


def test_changed_calibration_content_stops_the_resume(utd_dir, tmp_path):
    cal = tmp_path / "cal.json"
    fitted = {"placement": "right_wrist", "rate_hz": 50.0, "device": "bmi160"}
    Calibration(metadata={"fitted_for": fitted}).save(cal)
    out = tmp_path / "ds"
    build(_opts(utd_dir, out, calibration=cal), progress=False)
    Calibration(metadata={"fitted_for": fitted, "note": "refitted"}).save(cal)  # same name
    with pytest.raises(ValueError, match="calibration"):
        build(_opts(utd_dir, out, calibration=cal), progress=False)


def test_cli_mismatch_is_one_line_offering_overwrite(utd_dir, tmp_path, capsys):
    out = str(tmp_path / "ds")
    args = ["build", "utd-mhad", "--input", str(utd_dir), "--output", out, "--placement", "right_wrist"]
    assert main([*args, "-q"]) == 0
    capsys.readouterr()
    assert main([*args, "--seed", "9", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "seed 0 -> 9" in err[0] and "--overwrite" in err[0]
    assert main([*args, "--seed", "9", "--overwrite", "-q"]) == 0
    assert _info(Path(out))["configs"]["utd-mhad"]["build_options"]["seed"] == 9


# ---- item 2: duplicate clip ids are skipped with a reason, the build goes on -------------------

def test_duplicate_clip_ids_are_skipped_and_the_build_goes_on(tmp_path):
    npz = tmp_path / "npz"
    (npz / "a").mkdir(parents=True)
    for name in ("walk.npz", "walk.NPZ", "fall.npz"):
        shutil.copy(SAMPLES / "walking_01.npz", npz / name)
    (npz / "labels.csv").write_text("file,label,subject\nwalk.npz,walking,p1\nwalk.NPZ,falling,p1\n"
                                    "fall.npz,falling,p1\n")
    rep = build(BuildOptions(source="npz", input_dir=npz, output_dir=tmp_path / "ds", chunk_inputs=1),
                progress=False).report
    assert rep["inputs"] == 3 and rep["inputs_written"] == 2 and sum(rep["rows"].values()) == 2
    [skip] = rep["skips"]
    assert skip["input"] == "walk.npz" and "duplicate clip id 'walk'" in skip["reason"]
    assert "'walk.NPZ'" in skip["reason"]  # the first input (listing order) wins
    # a resumed or repeated build keeps skipping it, and never fails
    rep2 = build(BuildOptions(source="npz", input_dir=npz, output_dir=tmp_path / "ds", chunk_inputs=1),
                 progress=False).report
    assert rep2 == rep


# ---- item 3: calibration files record what they were fitted for -------------------------------

def _calibration(tmp_path: Path, **fitted) -> Path:
    path = tmp_path / "calib.json"
    Calibration(metadata={"fitted_for": {"placement": "right_wrist", "rate_hz": 50.0,
                                         "device": "ideal", **fitted}}).save(path)
    return path


def test_mismatched_calibration_is_refused_without_force(utd_dir, tmp_path, capsys):
    cal = _calibration(tmp_path)
    args = ["build", "utd-mhad", "--input", str(utd_dir), "--output", str(tmp_path / "ds"),
            "--calibration", str(cal), "-q"]
    assert main([*args, "--placement", "left_wrist"]) == 2
    err = capsys.readouterr().err
    assert "placement 'right_wrist' (this run: 'left_wrist')" in err and "--force" in err
    assert not (tmp_path / "ds").exists()
    assert main([*args, "--placement", "right_wrist", "--rate", "100"]) == 2
    assert "rate_hz 50.0 (this run: 100.0)" in capsys.readouterr().err
    forced = BuildOptions(source="utd-mhad", input_dir=utd_dir, output_dir=tmp_path / "forced",
                          calibration=cal, placement="left_wrist")
    with pytest.warns(RuntimeWarning, match="APPLYING A MISMATCHED CALIBRATION"):
        build(forced, progress=False, force=True)
    build(BuildOptions(source="utd-mhad", input_dir=utd_dir, output_dir=tmp_path / "ok",
                       calibration=cal, placement="right_wrist"), progress=False)


def test_simulate_refuses_a_mismatched_calibration(tmp_path, capsys):
    cal = _calibration(tmp_path, placement="left_wrist")
    out = tmp_path / "o.npz"
    assert main(["simulate", str(SAMPLES / "walking_01.npz"), "-o", str(out), "--calibration", str(cal),
                 "--placement", "right_wrist"]) == 2
    assert "fitted for placement 'left_wrist'" in capsys.readouterr().err and not out.exists()
    assert main(["simulate", str(SAMPLES / "walking_01.npz"), "-o", str(out), "--calibration", str(cal),
                 "--placement", "right_wrist", "--force"]) == 0


def _readme_commands(prefix: str) -> list[str]:
    text = README.read_text()
    return [line.split("#")[0].split() for line in text.splitlines() if line.startswith(prefix)]


def test_readme_calibrated_build_example_is_right_as_written(tmp_path, monkeypatch):
    """Run README's utd-mhad, utd-mhad-imu, calibrate and calibrated build lines on tiny UTD-MHAD
    folders: the calibrated build must use the options the calibration was fitted for."""
    skel, iner = tmp_path / "UTD-MHAD" / "Skeleton", tmp_path / "UTD-MHAD" / "Inertial"
    skel.mkdir(parents=True)
    iner.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k, cid in enumerate(f"a{a}_s{s}_t1" for a in (1, 5) for s in (1, 2)):
        scipy.io.savemat(skel / f"{cid}_skeleton.mat", {"d_skel": _skeleton(60, k)})
        scipy.io.savemat(iner / f"{cid}_inertial.mat", {"d_iner": rng.normal(size=(100, 6))})
    monkeypatch.chdir(tmp_path)
    lines = (_readme_commands("imu2safety build utd-mhad ")[:1] + _readme_commands("imu2safety build utd-mhad-imu")
             + _readme_commands("imu2safety calibrate") + [c for c in _readme_commands("imu2safety build utd-mhad ")
                                                           if "--calibration" in c])
    assert len(lines) == 6, lines  # builds, then the paired and the per-label calibrations
    for argv in lines:
        assert main([*argv[1:], "-q"]) == 0, argv
    for calib, folder in (("calib.json", "calibrated"), ("per_label.json", "per-label")):
        cal = Calibration.load(calib)
        fitted = cal.metadata["fitted_for"]
        built = _info(Path(folder))["configs"]["utd-mhad"]["build_options"]
        assert fitted["source"] == "utd-mhad" and fitted["real_source"] == "utd-mhad-imu"
        for key in ("placement", "rate_hz", "device"):
            assert built[key] == fitted[key], key
    assert Calibration.load("per_label.json").metadata["label_key"] == "source_label"


# ---- item 4: real-IMU configs list no simulation option -----------------------------------------

def test_real_imu_info_lists_no_simulation_defaults(tmp_path):
    iner = tmp_path / "Inertial"
    iner.mkdir()
    scipy.io.savemat(iner / "a1_s1_t1_inertial.mat", {"d_iner": np.ones((100, 6))})
    build(BuildOptions(source="utd-mhad-imu", input_dir=iner, output_dir=tmp_path / "ds"), progress=False)
    cfg = _info(tmp_path / "ds")["configs"]["utd-mhad-imu"]
    assert cfg["simulator_version"] == ""
    for key in ("rate_hz", "placement", "device", "seed", "calibration", "cutoff_hz", "augment"):
        assert key not in cfg["build_options"], key
    card = (tmp_path / "ds" / "README.md").read_text()
    assert '"placement"' not in card.split("## Configuration `utd-mhad-imu`")[1].split("###")[0]
    with pytest.warns(RuntimeWarning, match="device='bmi160' ignored"):
        BuildOptions(source="utd-mhad-imu", input_dir=iner, output_dir=tmp_path / "x", device="bmi160")


# ---- item 13: clean one-line errors, nothing changed before the remote step succeeds ----------

def test_push_to_an_unreachable_endpoint_is_one_line_and_changes_nothing(utd_dir, tmp_path, capsys,
                                                                         monkeypatch):
    import huggingface_hub.constants as hc

    out = tmp_path / "ds"
    build(_opts(utd_dir, out), progress=False)
    before = _tree(out)
    monkeypatch.setenv("HF_TOKEN", "hf_unused_test_token")
    monkeypatch.setattr(hc, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on port 9
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", False)
    assert main(["push", str(out), "--repo-id", "org/name"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach http://127.0.0.1:9" in err[0], err
    assert _tree(out) == before


def test_other_format_version_is_a_one_line_error_with_the_fix(utd_dir, tmp_path, capsys):
    out = tmp_path / "ds"
    build(_opts(utd_dir, out), progress=False)
    info = _info(out)
    info["codebase_version"] = "2.0.0"
    (out / "meta" / "info.json").write_text(json.dumps(info))
    before = _tree(out)
    assert main(["build", "utd-mhad", "--input", str(utd_dir), "--output", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "newer than this code" in err[0] and "new --output folder" in err[0]
    assert main(["export-hdf5", str(out), str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "upgrade imu2safety" in err[0]
    assert _tree(out) == before and not (tmp_path / "x.h5").exists()
