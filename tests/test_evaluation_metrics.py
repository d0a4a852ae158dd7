"""Benchmark metrics against hand-computed cases, and the scorer's rejection of bad submissions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imu2safety.evaluation import metrics as m
from imu2safety.evaluation.scoring import SubmissionError, read_submission, score
from imu2safety.evaluation.tasks import Windows, get_task


def test_auroc_and_auprc_with_ties_by_hand():
    y = np.array([1, 0, 1, 0])
    s = np.array([0.8, 0.8, 0.3, 0.1])
    # pairs (pos, neg): (0.8, 0.8) tie = 1/2, (0.8, 0.1) = 1, (0.3, 0.8) = 0, (0.3, 0.1) = 1
    assert m.auroc(y, s) == pytest.approx(2.5 / 4)
    # thresholds 0.8 (tie group: P 1/2, R 1/2), 0.3 (P 2/3, R 1), 0.1 (R step 0)
    assert m.auprc(y, s) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)
    # tied scores are one threshold, whatever their order in the input
    assert m.auprc(y[[1, 0, 2, 3]], s[[1, 0, 2, 3]]) == pytest.approx(m.auprc(y, s))
    assert m.auroc(np.array([1, 1]), np.array([0.2, 0.3])) is None
    assert m.auprc(np.array([0, 0]), np.array([0.2, 0.3])) is None


def test_empty_class_is_left_out_of_macro_f1():
    cm = m.confusion(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 3)
    per = m.per_class(cm)
    assert per[0] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert per[1]["precision"] == pytest.approx(2 / 3) and per[1]["f1"] == pytest.approx(0.8)
    assert per[2] == {"precision": None, "recall": None, "f1": None, "support": 0}
    assert m.macro_f1(cm) == pytest.approx((2 / 3 + 0.8) / 2)
    # a class predicted but never true counts with F1 = 0
    cm2 = m.confusion(np.array([0, 0]), np.array([0, 2]), 3)
    assert m.macro_f1(cm2) == pytest.approx((2 / 3 + 0.0) / 2)


def test_sensitivity_specificity_and_alarm_runs():
    cm = m.confusion(np.array([0, 0, 0, 1, 1]), np.array([0, 1, 0, 1, 0]), 2)
    assert m.sensitivity_specificity(cm, np.array([False, True])) == (0.5, pytest.approx(2 / 3))
    # trial a: windows at 0, 1.5, 6 s (3 s long): 0 and 1.5 overlap -> one alarm, 6 another
    pos = np.array([True, True, True, False, True])
    trials = np.array(["a", "a", "a", "b", "b"])
    starts = np.array([0.0, 1.5, 6.0, 0.0, 3.0])
    assert m.alarms(pos, trials, starts, 3.0) == 3


def test_bootstrap_ci_by_subject_and_single_subject():
    # subject A all right, B all wrong: resamples AA -> 1, BB -> 0 (each 1/4 of the draws)
    subjects = np.array(["A", "A", "B", "B"])
    y, p = np.array([0, 1, 0, 1]), np.array([0, 1, 1, 0])
    cms = np.stack([m.confusion(y[subjects == s], p[subjects == s], 2) for s in ("A", "B")])
    ci = m.subject_bootstrap(subjects, lambda c: {"f1": m.macro_f1(np.tensordot(c, cms, axes=1))})
    assert ci["f1"] == [0.0, 1.0]
    assert m.subject_bootstrap(np.array(["A", "A"]), lambda c: {"f1": 1.0}) == {}
    assert m.percentile_ci([None, None, 1.0]) is None


def _windows(task_name: str, labels: list[str], subjects: list[str]) -> Windows:
    task = get_task(task_name)
    n = len(labels)
    return Windows(np.array([f"w{i}" for i in range(n)]),
                   np.zeros((n, task.window_samples, 6), np.float32), np.array(labels),
                   np.array(subjects), np.array([f"t{i}" for i in range(n)]), np.zeros(n),
                   np.array([lab == "not_fall" for lab in labels]), task.sample_rate_hz, task)


def _write(path, lines):
    path.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines))
    return path


def test_score_single_subject_by_hand(tmp_path):
    w = _windows("fall-weda", ["fall", "fall", "not_fall", "not_fall"], ["U05"] * 4)
    sub = read_submission(_write(tmp_path / "p.jsonl", [
        {"id": "w0", "label": "fall", "score": 0.9}, {"id": "w1", "label": "not_fall", "score": 0.4},
        {"id": "w2", "label": "fall", "score": 0.6}, {"id": "w3", "label": "not_fall", "score": 0.1}]), w)
    r = score(w, sub)
    assert r["macro_f1"] == pytest.approx(0.5) and r["macro_f1_ci95"] is None
    assert r["sensitivity"] == 0.5 and r["specificity"] == 0.5
    assert r["auroc"] == pytest.approx(0.75)
    # one alarm (w2) over two 3 s daily windows of two trials = 6 s
    assert r["false_alarms_per_hour"] == pytest.approx(1 / (6 / 3600))
    assert r["confusion"]["matrix"] == [[1, 1], [1, 1]]
    assert "one test subject" in r["bootstrap"]["note"]


@pytest.mark.parametrize("lines, expect", [
    (['{"id": "w0", "label": "fall"', {"id": "w1", "label": "fall"}], "1 malformed line(s), first on line 1"),
    ([{"id": "w0", "label": "fall"}, "[1, 2]"], "first on line 2: not a JSON object"),
    ([{"id": "w0"}, {"id": "w1", "label": "fall"}], '"id" and "label" must be strings'),
    ([{"id": "w0", "label": "fall", "score": 1.5}, {"id": "w1", "label": "fall", "score": 0.1}],
     '"score" must be a number in [0, 1]'),
    ([{"id": "w0", "label": "fall"}, {"id": "w1", "label": "fall"}, {"id": "zz", "label": "fall"},
      {"id": "yy", "label": "fall"}], "2 unknown id line(s), first on line 3: 'zz'"),
    ([{"id": "w0", "label": "fall"}, {"id": "w1", "label": "fall"}, {"id": "w0", "label": "fall"}],
     "1 duplicate id line(s), first on line 3: 'w0' (first on line 1)"),
    ([{"id": "w0", "label": "falling"}, {"id": "w1", "label": "fall"}], "1 unknown label line(s), first on line 1"),
    ([{"id": "w1", "label": "fall"}], "1 missing id(s) (no line for them), first: 'w0'"),
    ([{"id": "w0", "label": "fall", "score": 0.3}, {"id": "w1", "label": "fall"}], "give it on all or none"),
])
def test_scorer_rejects_each_kind_of_bad_submission(tmp_path, lines, expect):
    w = _windows("fall-weda", ["fall", "not_fall"], ["U05", "U05"])
    with pytest.raises(SubmissionError) as err:
        read_submission(_write(tmp_path / "p.jsonl", lines), w)
    assert expect in str(err.value) and "nothing scored" in str(err.value)


def test_label_from_prediction_maps_model_outputs():
    fall, hazard, act = get_task("fall-weda"), get_task("hazard-weda"), get_task("activity-utd")
    assert fall.label_from_prediction("fainting", False, "x") == "fall"
    assert fall.label_from_prediction("losing_balance", False, "stumble") == "not_fall"
    assert hazard.label_from_prediction("losing_balance", False, "x") == "losing_balance"
    assert hazard.label_from_prediction("fighting", False, "x") == "none"
    assert act.label_from_prediction("none", True, "Right Hand  Wave") == "right hand wave"
    assert act.label_from_prediction("none", True, "hand waving") in act.labels
