"""Per-label calibration end to end: `imu2safety calibrate --unpaired --per-label` on tiny UTD-MHAD
builds, and a build with the file applying each clip's label's maps (augmented copies too)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from imu2safety.builders.build import BuildOptions, build
from imu2safety.builders.calibrate import load_clips
from imu2safety.builders.dataset.layout import PROGRESS_PATH
from imu2safety.builders.dataset.writer import read_split
from imu2safety.builders.records import SPLITS, Clip
from imu2safety.builders.sources import get_source
from imu2safety.cli import main
from imu2safety.simulator.augment import AugmentOptions, augmented_copy
from imu2safety.simulator.calibration import Calibration
from imu2safety.simulator.imu import SimulationOptions, simulate_many
from imu2safety.simulator.motion import G

from test_build import _skeleton

COMMON = ["--placement", "right_wrist", "--device", "bmi160"]
UNITS = np.r_[np.full(3, 1 / G), np.full(3, 180 / np.pi)]  # UTD-MHAD's inertial files: g, deg/s
#: Gyro gain of each label's real clips (a8 has one training clip: pooled maps).
GAIN = {"a1": 2.0, "a5": 0.5, "a8": 1.0}


def _sha(cal: Calibration) -> str:
    return hashlib.sha256(json.dumps(cal.to_dict(), sort_keys=True).encode()).hexdigest()


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """A synthetic UTD-MHAD build (two skeletons per action a1, a5, a8) and a real wrist build
    whose clips are the synthetic signals with each label's gyro gain: a1 and a5 four
    training/validation clips each, a8 one training clip and three test-split clips (gain 10,
    never to be read)."""
    tmp = tmp_path_factory.mktemp("perlabel")
    skel, iner = tmp / "Skeleton", tmp / "Inertial"
    skel.mkdir()
    iner.mkdir()
    for k, cid in enumerate(f"a{a}_s{s}_t1" for a in (1, 5, 8) for s in (1, 2)):
        scipy.io.savemat(skel / f"{cid}_skeleton.mat", {"d_skel": _skeleton(60, k)})
    syn = tmp / "syn"
    assert main(["build", "utd-mhad", "--input", str(skel), "--output", str(syn), *COMMON, "-q"]) == 0
    clips = load_clips(syn, "utd-mhad")
    real_ids = {"a1": [(1, 1), (3, 1), (5, 2), (7, 2)], "a5": [(1, 1), (3, 1), (5, 2), (7, 2)],
                "a8": [(1, 1), (2, 1), (4, 2), (6, 2)]}  # (real subject, synthetic subject)
    for label, pairs in real_ids.items():
        for subject, of in pairs:
            imu = clips[f"{label}_s{of}_t1"][0]
            gain = 10.0 if subject % 2 == 0 else GAIN[label]  # even subjects: the test split
            scipy.io.savemat(iner / f"{label}_s{subject}_t1_inertial.mat",
                             {"d_iner": np.hstack([imu[:, :3], gain * imu[:, 3:]]) * UNITS})
    real = tmp / "real"
    assert main(["build", "utd-mhad-imu", "--input", str(iner), "--output", str(real), "-q"]) == 0
    return tmp, skel, syn, real


@pytest.fixture(scope="module")
def per_label(builds):
    """The per-label calibration (CLI), its summary line, and a build with it (one augmented copy)."""
    tmp, skel, syn, real = builds
    calib = tmp / "per_label.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["calibrate", "--real", str(real), "--synthetic", str(syn), "--unpaired",
                     "--per-label", "source_label", "-o", str(calib)]) == 0
    built = tmp / "calibrated"
    assert main(["build", "utd-mhad", "--input", str(skel), "--output", str(built), *COMMON,
                 "--augment", "1", "--calibration", str(calib), "-q"]) == 0
    return calib, out.getvalue(), built


def _rows(folder: Path, config: str = "utd-mhad") -> dict[str, dict]:
    cols = ["id", "source_label", "options", "extra"]
    rows = {}
    for s in SPLITS:
        for r in read_split(folder, config, s, cols).to_pylist():
            rows[r["id"]] = r
    imu = load_clips(folder, config)
    for i, r in rows.items():
        r["imu"] = imu[i][0]
    return rows


def test_calibrate_per_label_fits_labels_with_enough_real_training_clips(per_label):
    calib, summary, _ = per_label
    cal = Calibration.load(calib)
    assert sorted(cal.by_label) == ["a1", "a5"]
    # a8 has four real clips, three of them in the test split, which is never read
    assert cal.metadata["labels_pooled"] == {"a8": "1 real clips (fewer than 3)"}
    assert cal.metadata["label_key"] == "source_label"
    assert cal.metadata["fitted_for"]["real_splits"] == ["train", "validation"]
    assert cal.metadata["fitted_for"]["device"] == "bmi160"
    assert "2 of 3 labels have their own maps (a1, a5)" in summary
    assert "pooled maps for a8 (1 real clips (fewer than 3))" in summary
    v = np.array([[0.5, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.5]])  # rad/s, inside the range
    for label in ("a1", "a5"):  # each label's own gyro gain, not the pooled mix
        sub = cal.by_label[label]
        _, g = Calibration(synthetic_magnitudes=sub.synthetic_magnitudes,
                           real_magnitudes=sub.real_magnitudes).map_quantiles(v, v)
        np.testing.assert_allclose(g, GAIN[label] * v, rtol=0.1)


def test_build_applies_each_labels_maps_after_the_device_model(builds, per_label):
    """Every row (augmented copy included) equals simulating its clip with the mounting rotation
    alone and then applying ``for_label(label).map_quantiles`` by hand, in float32 exactly."""
    _, skel, _, _ = builds
    calib, _, built = per_label
    cal = Calibration.load(calib)
    rotation_only = Calibration(mounting=cal.mounting)
    source = get_source("utd-mhad")
    full = SimulationOptions(placement="right_wrist", rate_hz=50.0, device="bmi160", seed=0,
                             calibration=cal, cutoff_hz=source.CUTOFF_HZ)
    rows = _rows(built)
    assert len(rows) == 12  # 6 clips + 6 augmented copies
    checked = set()
    for path in sorted(skel.glob("*.mat")):
        [clip] = [c for c in source.read(path) if isinstance(c, Clip)]
        label = clip.source_label
        motion, opts, gain_seed, _ = augmented_copy(clip.motion, full, AugmentOptions(), 1, clip.id)
        assert gain_seed is None  # jitter only on copy 1: no output-side augmentation
        for cid, m, o in ((clip.id, clip.motion, full), (f"{clip.id}~aug1", motion, opts)):
            [rec] = simulate_many([m], replace(o, calibration=rotation_only), [cid])
            imu = rec.as_array()  # (N, 6): the maps see (N, 3) views of it, as in the simulator
            a, g = cal.for_label(label).map_quantiles(imu[:, :3], imu[:, 3:])
            expected = np.hstack([a, g]).astype(np.float32)
            np.testing.assert_array_equal(rows[cid]["imu"], expected.astype(np.float64))
            maps = json.loads(rows[cid]["extra"])["simulation"]["calibration_maps"]
            assert maps == {"label_key": "source_label", "label": label,
                            "maps": "pooled" if label == "a8" else "own"}
            if label != "a8":  # its own maps, not the pooled ones
                a0, g0 = cal.map_quantiles(imu[:, :3], imu[:, 3:])
                assert not np.allclose(rows[cid]["imu"], np.hstack([a0, g0]), atol=1e-3)
            checked.add(cid)
    assert checked == set(rows)


def test_provenance_and_resume_identify_the_whole_calibration_file(builds, per_label, tmp_path):
    _, skel, _, _ = builds
    calib, _, built = per_label
    cal = Calibration.load(calib)
    sha = _sha(cal)
    assert sha != _sha(Calibration(mounting=cal.mounting, metadata=cal.metadata))
    for r in _rows(built).values():  # augmented rows carry their own options, same calibration
        assert json.loads(r["options"])["calibration_sha256"] == sha
    head = (built / PROGRESS_PATH.format(config="utd-mhad")).read_text().splitlines()[0]
    assert json.loads(head)["build_key"]["calibration"] == sha  # what a resume compares
    # Refitting one label's maps (same file name) stops a resume of the build
    changed = tmp_path / calib.name
    cal.by_label.pop("a5")
    cal.save(changed)
    opts = BuildOptions(source="utd-mhad", input_dir=skel, output_dir=built, placement="right_wrist",
                        device="bmi160", augment=1, calibration=changed)
    with pytest.raises(ValueError, match="calibration"):
        build(opts, progress=False)


def test_per_label_without_unpaired_is_a_clear_error(builds, tmp_path, capsys):
    _, _, syn, real = builds
    out = tmp_path / "cal.json"
    assert main(["calibrate", "--real", str(real), "--synthetic", str(syn), "--per-label",
                 "source_label", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--unpaired" in err and "per-label" in err
    assert not out.exists()
    assert main(["calibrate", "--real", str(real), "--synthetic", str(syn), "--unpaired",
                 "--min-label-clips", "2", "-o", str(out)]) == 2
    assert "--per-label" in capsys.readouterr().err and not out.exists()


def test_activity_keyed_calibration_builds_with_the_activity_labels(builds, tmp_path, capsys):
    tmp, skel, syn, real = builds
    calib = tmp_path / "activity.json"
    assert main(["calibrate", "--real", str(real), "--synthetic", str(syn), "--unpaired",
                 "--per-label", "activity", "-o", str(calib)]) == 0
    cal = Calibration.load(calib)
    assert sorted(cal.by_label) == ["right arm swipe to the left", "right arm throw"]
    assert list(cal.metadata["labels_pooled"]) == ["right hand draw x"]
    built = tmp_path / "built"
    assert main(["build", "utd-mhad", "--input", str(skel), "--output", str(built), *COMMON,
                 "--calibration", str(calib), "-q"]) == 0
    rows = _rows(built)
    throw = json.loads(rows["a5_s1_t1"]["extra"])["simulation"]["calibration_maps"]
    assert throw == {"label_key": "activity", "label": "right arm throw", "maps": "own"}
    # the same maps as the source_label calibration's a5 (one activity per UTD-MHAD action)
    sl = tmp_path / "sl.json"
    assert main(["calibrate", "--real", str(real), "--synthetic", str(syn), "--unpaired",
                 "--per-label", "source_label", "-o", str(sl)]) == 0
    np.testing.assert_array_equal(cal.by_label["right arm throw"].real_quantiles,
                                  Calibration.load(sl).by_label["a5"].real_quantiles)


def test_simulate_one_recording_with_a_labels_maps(per_label, tmp_path, capsys):
    """`simulate --calibration-label a1` applies a1's own maps (as SimulationOptions with
    ``for_label("a1")``); without the option the pooled maps, with a note saying so; a build
    refuses the option (it picks each clip's label itself)."""
    from imu2safety.simulator.readers import write_motion_npz

    calib, _, _ = per_label
    cal = Calibration.load(calib)
    motion = get_source("utd-mhad")  # one skeleton as a motion file
    src_dir = tmp_path / "one"
    src_dir.mkdir()
    scipy.io.savemat(src_dir / "a1_s1_t1_skeleton.mat", {"d_skel": _skeleton(60, 0)})
    clip = next(c for c in motion.read(src_dir / "a1_s1_t1_skeleton.mat") if isinstance(c, Clip))
    src = write_motion_npz(tmp_path / "arm.npz", clip.motion)
    opts = dict(placement="right_wrist", device="bmi160")
    for label, want in (("a1", cal.for_label("a1")), (None, cal)):
        out = tmp_path / f"{label}.npz"
        extra = ["--calibration-label", label] if label else []
        assert main(["simulate", str(src), "-o", str(out), *COMMON, "--calibration", str(calib),
                     "--clip-id", "x", *extra]) == 0
        ref = simulate_many([clip.motion], SimulationOptions(**opts, calibration=want), ["x"])[0]
        np.testing.assert_allclose(np.load(out)["gyro"], ref.gyro, atol=1e-5)
        err = capsys.readouterr().err
        assert ("pooled maps" in err) == (label is None)
    assert not np.allclose(cal.for_label("a1").real_magnitudes, cal.real_magnitudes)
    assert main(["build", "utd-mhad", "--input", str(src_dir), "--output", str(tmp_path / "b"),
                 *COMMON, "--calibration", str(calib), "--calibration-label", "a1"]) == 2
    assert "each clip's own label" in capsys.readouterr().err


def test_report_and_card_say_the_rows_were_calibrated_per_label(per_label):
    """The build report records the calibration (file, hash, per-label key, labels with own maps,
    real config and splits) and the dataset card says it was fitted on labelled real clips."""
    calib, _, built = per_label
    rep = json.loads((built / "meta" / "report_utd-mhad.json").read_text())["calibration"]
    cal = Calibration.load(calib)
    assert rep == {"file": "per_label.json", "sha256": _sha(cal), "pairing": "unpaired, per label",
                   "label_key": "source_label", "labels_with_own_maps": ["a1", "a5"],
                   "real_config": "utd-mhad-imu", "real_splits": ["train", "validation"]}
    card = (built / "README.md").read_text()
    assert "Calibrated with `per_label.json` (unpaired, per label fit on `utd-mhad-imu`" in card
    assert "*labelled* real recordings" in card and "2 labels with maps of their own" in card


def test_calibrate_with_pseudo_labels_reads_no_real_label(builds, tmp_path, capsys, monkeypatch):
    """`--pseudo-labels`: the real train + validation clips get predicted labels (their counts
    in the metadata and the summary) and the real config's labels are never read; without
    --per-label it is a clear error."""
    import imu2safety.builders.calibrate as calibrate

    _, _, syn, real = builds
    read = []
    original = calibrate.load_labels
    monkeypatch.setattr(calibrate, "load_labels",
                        lambda folder, *a, **k: read.append(Path(folder)) or original(folder, *a, **k))
    out = tmp_path / "pseudo.json"
    assert main(["calibrate", "--real", str(real), "--synthetic", str(syn), "--unpaired",
                 "--per-label", "source_label", "--pseudo-labels", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    cal = Calibration.load(out)
    assert cal.metadata["real_labels"] == "predicted" and "real labels predicted" in text
    counts = cal.metadata["predicted_counts"]
    assert sum(counts.values()) == 9 and set(counts) <= {"a1", "a5", "a8"}
    assert set(cal.by_label) == {k for k, n in counts.items() if n >= 3}
    assert read == [Path(syn)]  # the synthetic config's labels only
    assert main(["calibrate", "--real", str(real), "--synthetic", str(syn), "--unpaired",
                 "--pseudo-labels", "-o", str(tmp_path / "x.json")]) == 2
    assert "--per-label" in capsys.readouterr().err
