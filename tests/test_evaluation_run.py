"""``benchmark run`` end to end on fixtures (UTD-MHAD skeleton + inertial, UP-Fall CSV): every
protocol row, the data-absent note, submissions on the leaderboard, byte-identical reruns; the
baselines' determinism and the CLI's ``train-baseline`` -> ``evaluate`` round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imu2safety.cli import main
from imu2safety.evaluation.baselines import augment_windows, predictions, train, window_features
from imu2safety.evaluation.run import run
from imu2safety.evaluation.tasks import load_windows
from test_benchmarks_smoke import _utd_fixture
from test_evaluation_prepare import upfall_csv


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    _utd_fixture(root / "utd_mhad" / "data")
    (root / "up_fall").mkdir()
    upfall_csv(root / "up_fall" / "CompleteDataSet.csv",
               [(s, a, 1) for s in (1, 2, 3) for a in (1, 6)], n=101)  # no official test subject
    return root


def test_run_writes_every_protocol_deterministically(data_root, tmp_path):
    subm = tmp_path / "sub"
    subm.mkdir()
    (subm / "submission.json").write_text(json.dumps({"name": "always-walk", "training_data": "real"}))
    work = tmp_path / "work"
    kw = dict(tasks=["fall-upfall", "activity-utd", "fall-weda"], data=data_root, workdir=work,
              resamples=50, log=lambda *a: None)
    # UP-Fall: leave one subject out, so the pooled test set is every window
    from imu2safety.evaluation.prepare import prepare

    prepare("fall-upfall", data_root / "up_fall", tmp_path / "b", test_subjects=["S01", "S02", "S03"])
    ids = load_windows(tmp_path / "b").ids.tolist()
    (subm / "fall-upfall.jsonl").write_text("".join(
        json.dumps({"id": i, "label": "not_fall", "score": 0.0}) + "\n" for i in ids))
    first = run(output=tmp_path / "a" / "results.md", submissions=[subm], **kw)
    second = run(output=tmp_path / "b2" / "results.md", submissions=[subm], **kw)
    text = (tmp_path / "a" / "results.md").read_text()
    assert text == (tmp_path / "b2" / "results.md").read_text()
    assert (tmp_path / "a" / "results.json").read_text() == (tmp_path / "b2" / "results.json").read_text()
    assert first == second
    assert "weda-fall data absent" in text and "**Not run" in text
    utd = first["activity-utd"]
    for row in ("TSTR gbm", "TSTR cnn", "TRTR gbm", "TRTR cnn", "few-shot k=1 gbm",
                "ablation: ideal device", "ablation: device noise (bmi160)",
                "ablation: placement jitter (augment 2)", "ablation: window augmentation"):
        assert 0.0 <= utd[row]["macro_f1"] <= 1.0 and utd[row]["windows"] == 4, row
    assert "official test subject(s) s2 (one subject: no confidence intervals)" in text
    assert "leave one subject out over S01, S02, S03" in text
    up = first["fall-upfall"]
    assert up["TRTR gbm"]["subjects"] == ["S01", "S02", "S03"] and "auroc" in up["TRTR gbm"]
    assert up["TRTR gbm"]["windows"] == 12 and up["TRTR gbm"]["macro_f1_ci95"] is not None
    # the submission predicts not_fall everywhere: recall 0 on falls, macro-F1 = (2/3 + 0) / 2
    sub = up["submission: always-walk"]
    assert sub["sensitivity"] == 0.0 and sub["macro_f1"] == pytest.approx(1 / 3)
    assert "| always-walk | real |" in text and "(smartfallmm skeletons" not in text
    assert (tmp_path / "a" / "results_figures" / "fall-upfall_roc.png").is_file()
    assert (tmp_path / "a" / "results_figures" / "activity-utd_confusion.png").is_file()


def test_baselines_are_deterministic_and_train_baseline_round_trips(data_root, tmp_path):
    bench = tmp_path / "bench"
    assert main(["benchmark", "prepare", "fall-upfall", "--input", str(data_root / "up_fall"),
                 "--output", str(bench), "--test-subjects", "S03"]) == 0
    real = load_windows(bench, "train")
    test = load_windows(bench, "test")
    for model in ("gbm", "cnn"):
        a, b = predictions(train(model, real, epochs=3), test), predictions(train(model, real, epochs=3), test)
        assert a == b
    aug = augment_windows(real, copies=2, seed=1)
    assert len(aug) == 3 * len(real) and np.array_equal(aug.imu[:len(real)], real.imu)
    # a rotation keeps |a|: the copies' |a| differ from the originals only by gain and noise
    norm = lambda x: np.linalg.norm(x[..., :3].astype(np.float64), axis=-1).mean()  # noqa: E731
    assert norm(aug.imu[len(real):2 * len(real)]) == pytest.approx(norm(real.imu), rel=0.1)
    f = window_features(np.tile(np.array([0, 0, 9.0, 0, 0, 1.0], np.float32), (1, 20, 1)))
    assert f.shape == (1, 96) and f[0, 2 * 12] == 9.0 and f[0, 6 * 12] == 9.0  # az mean, |a| mean
    # train-baseline on a built dataset (real UP-Fall rows built by `imu2safety build`)
    built = tmp_path / "built"
    assert main(["build", "up-fall", "--input", str(data_root / "up_fall"), "--output", str(built),
                 "--rate", "18"]) == 0
    out = tmp_path / "model"
    assert main(["benchmark", "train-baseline", "fall-upfall", "--model", "cnn", "--data", str(built),
                 "--benchmark", str(bench), "-o", str(out)]) == 0
    assert (out / "model.safetensors").is_file()
    assert main(["evaluate", str(bench), "--predictions", str(out / "predictions.jsonl"),
                 "-o", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["windows"] == len(test)
