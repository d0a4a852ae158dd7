"""benchmarks/fidelity_report.py on a tiny in-memory source: the pipeline runs end to end and its
figures mean what they say (a synthetic source that IS the real one scores like real data)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from imu2safety.simulator.motion import Motion

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_fidelity_report", BENCH / "fidelity_report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _arm(freq: float, amp: float, seed: int) -> Motion:
    rng = np.random.default_rng(seed)
    t = np.arange(120) / 30.0
    th = amp * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6)) + rng.normal(0, 0.01, len(t))
    e = np.array([0.0, -0.2, 1.1])
    w = e + 0.28 * np.stack([np.cos(th), 0 * th, np.sin(th)], 1)
    pos = np.stack([np.broadcast_to(e + [0, 0, 0.3], w.shape), np.broadcast_to(e, w.shape), w], 1)
    return Motion(pos, ("right_shoulder", "right_elbow", "right_wrist"), t)


def _two_class_source(fr):
    """Three subjects with six arm clips each: "fast" (a fall) and "slow" (not) swings."""
    data = fr.SourceData("toy", "right_wrist", 8.0)
    for s in range(3):
        for k in range(6):
            label = "slow" if k % 2 else "fast"
            freq, amp = (0.4, 0.3) if label == "slow" else (1.5, 0.9)
            data.clips.append(fr.Clip(f"s{s}_{k}", f"s{s}", label, label == "fast",
                                      _arm(freq, amp, 10 * s + k)))
    return data


def test_pipeline_on_a_source_whose_real_twin_is_its_own_simulation(tmp_path):
    fr = _load()
    data = _two_class_source(fr)
    syn = fr.simulate_source(data, data.clips, fr.Variant("gated"))
    for i, _, imu, _ in syn:  # the "real" recording is the simulation itself
        data.clips[i].real = imu.copy()
    res = fr.tstr_loso(data, syn, "label", "none")
    assert res["test_clips"] == 18
    pred: dict = {}  # clips already of the real lengths: length matching changes nothing
    assert fr.tstr_loso(data, syn, "label", "none", length_match=True, predictions=pred) == res
    assert len(pred) == 18 and all(p["RF"] == data.clips[k].label for k, p in pred.items())
    fr.set_rf_seeds(2)  # a second forest (seed 1): the mean of the two is reported too
    try:
        two = fr.tstr_loso(data, syn, "label", "none")
    finally:
        fr.set_rf_seeds(1)
    assert two["RFmean-TSTR"] == round((two["RF-TSTR"] + two["RF1-TSTR"]) / 2, 4)
    assert "RF1" not in fr.CLASSIFIERS
    # extra negatives (here: the not-falls twice more) and the falls' share restored by copies
    more = syn + [x for x in syn if not data.clips[x[0]].fall] * 2
    bal = fr.rebalanced(data, more, 18, 0.5, ("device",))
    added = bal[len(more):]
    assert len(added) == 18 and {k for _, k, _, _ in added} == {1, 2}  # (27 - 9) / 9 = 2 per fall
    assert all(data.clips[i].fall for i, _, _, _ in added)
    assert np.mean([data.clips[i].fall for i, _, _, _ in bal]) == 0.5
    assert res["RF-TSTR"] == res["RF-TRTR"] == 1.0 and res["LR-TSTR"] == 1.0
    agree = fr.agreement(data, syn)
    assert agree["acc_norm_r"] > 0.999 and agree["gyr_norm_r"] > 0.999
    assert p95_ok(fr.gyro_p95(syn, data.clips))
    aug = fr.simulate_source(data, data.clips, fr.Variant("aug", copies=2, kinds=("warp", "scale")))
    assert len(aug) == 3 * len(syn) and {k for _, k, _, _ in aug} == {0, 1, 2}
    fr.peak_plot(tmp_path / "p.png", "toy", syn, data.clips)
    assert (tmp_path / "p.png").stat().st_size > 1000
    fr.write_markdown(tmp_path / "r.md", {"gated": {"utd-mhad": {"tstr": res, "agreement": agree,
                                                                "gyro_p95": fr.gyro_p95(syn, data.clips),
                                                                "twist_used": {"model": 18}}}})
    text = (tmp_path / "r.md").read_text()
    assert "| gated | 1.000 |" in text and "train on real" in text

    # target calibration: the "real" device reads 3x the angular rate; the unpaired maps fitted
    # on the training subjects' real clips give exactly that back, and TSTR stays perfect
    scaled = [np.hstack([imu[:, :3], 3 * imu[:, 3:]]) for _, _, imu, _ in syn]
    for (i, _, _, _), real in zip(syn, scaled):
        data.clips[i].real = real
    fitted = fr._target_calibrated(syn, scaled, None)
    for (_, _, got, _), want in zip(fitted, scaled):
        np.testing.assert_allclose(got, want, atol=1e-9)
    assert fr.tstr_loso(data, syn, "label", "target")["RF-TSTR"] == 1.0

    # extra negatives: appended after the task's clips, simulated, trained on, never tested
    extra = fr.SourceData("other", "right_wrist", 8.0,
                          [fr.Clip(f"o{k}", "other:o", "wave", False, _arm(0.4, 0.3, 90 + k)) for k in range(4)])
    both, syn2 = fr.with_negatives(data, syn, [extra], fr.Variant("gated"))
    assert both.clips[len(data.clips):] == extra.clips and len(syn2) == len(syn) + 4
    assert {both.clips[i].id for i, _, _, _ in syn2[len(syn):]} == {"o0", "o1", "o2", "o3"}
    assert fr.tstr_loso(both, syn2, "fall", "none")["test_clips"] == 18


def p95_ok(p: dict) -> bool:
    return p["ratio"] == 1.0 and p["synthetic"] == p["real"] > 0


def test_learned_twist_per_fold_recovers_a_known_twist(tmp_path):
    """Real twins simulated with a known twist (atan of the elbow flexion): the per-fold model,
    fitted on the other subjects only, predicts the held-out subjects' twist."""
    from imu2safety.simulator.learned_twist import FEATURES, LearnedTwist
    from imu2safety.simulator.twist import TwistOptions

    fr = _load()
    p = len(FEATURES) * (len(FEATURES) + 3) // 2
    sin = np.zeros(p)
    sin[FEATURES.index("flexion")] = 0.8
    truth = LearnedTwist((0.0,) * p, (1.0,) * p, ((0.0,) * p, tuple(sin)), (1.0, 0.0), 1.0, None)
    data = fr.SourceData("toy", "right_wrist", 4.0)
    for s in range(3):
        for k in range(4):
            data.clips.append(fr.Clip(f"s{s}_{k}", f"s{s}", "x", False, _arm(0.4, 0.6, 10 * s + k)))
    real = fr.simulate_source(data, data.clips, fr.Variant("real"),
                              TwistOptions(source="learned", model=truth))
    for i, _, imu, _ in real:
        data.clips[i].real = imu.copy()
    syn, folds, stats = fr.twist_loso(data, fr.Variant("learned", learned_twist=True))
    assert set(folds) == {"s0", "s1", "s2"} and len(syn) == len(data.clips)
    assert stats["heldout_delta_r_median"] > 0.9 and stats["heldout_known_share"] > 0.5
    # the held-out clips simulated with their fold's model come close to the real twins
    err = [np.abs(imu[:, 3] - data.clips[i].real[:, 3])[50:-50].max() for i, _, imu, _ in syn]
    base = [np.abs(imu[:, 3] - data.clips[i].real[:, 3])[50:-50].max()
            for i, _, imu, _ in fr.simulate_source(data, data.clips, fr.Variant("screened"))]
    assert np.median(err) < 0.3 * np.median(base)


def test_twist_priors_per_class_come_back():
    """Real twins of two classes worn with a twist of +30 and -30 degrees: the priors fitted on
    the other subjects of every fold are those twists, and each class is simulated with its own."""
    from imu2safety.simulator.twist import TwistOptions

    fr = _load()
    data = fr.SourceData("toy", "right_wrist", 4.0)
    for s in range(3):
        for k in range(4):
            data.clips.append(fr.Clip(f"s{s}_{k}", f"s{s}", "up" if k % 2 else "down", False,
                                      _arm(0.4, 0.6, 10 * s + k)))
    for lab, deg in (("up", 30.0), ("down", -30.0)):
        members = [i for i, c in enumerate(data.clips) if c.label == lab]
        part = fr.simulate_source(data, [data.clips[i] for i in members], fr.Variant("real"),
                                  TwistOptions(twist_deg=deg))
        for j, _, imu, _ in part:
            data.clips[members[j]].real = imu.copy()
    syn, folds, stats = fr.twist_loso(data, fr.Variant("prior", twist_prior=True))
    for subj, priors in stats["prior_deg"].items():
        assert abs(priors["up"] - 30.0) < 2.0 and abs(priors["down"] + 30.0) < 2.0, (subj, priors)
    # each fold keeps simulate_source's clip order (the RF sees it); held-out clips ~ real twins
    assert all([i for i, _, _, _ in f] == list(range(len(data.clips))) for f in folds.values())
    err = [np.abs(imu - data.clips[i].real)[50:-50].max() for i, _, imu, _ in syn]
    assert max(err) < 0.2


def test_label_maps_take_each_class_onto_its_own_real_clips():
    """The "real" device reads each class's angular rate with its own gain (slow x0.5, fast x3):
    the per-label maps fitted on the training subjects' real clips give each class its own gain
    back (the pooled maps cannot: one map for both), TSTR stays perfect; the shuffled control
    permutes which clip carries which label and nothing else."""
    fr = _load()
    data = _two_class_source(fr)
    syn = fr.simulate_source(data, data.clips, fr.Variant("gated"))
    gain = {"slow": 0.5, "fast": 3.0}
    reals = [np.hstack([imu[:, :3], gain[data.clips[i].label] * imu[:, 3:]]) for i, _, imu, _ in syn]
    for (i, _, _, _), real in zip(syn, reals):
        data.clips[i].real = real
    labels = [data.clips[i].label for i, _, _, _ in syn]
    fitted = fr._target_calibrated(syn, reals, None, syn_labels=labels, real_labels=labels)
    for (_, _, got, _), want in zip(fitted, reals):
        np.testing.assert_allclose(got, want, atol=1e-9)
    pooled = fr._target_calibrated(syn, reals, None)
    assert max(np.abs(got - want).max() for (_, _, got, _), want in zip(pooled, reals)) > 0.1
    assert fr.tstr_loso(data, syn, "label", "label")["RF-TSTR"] == 1.0
    shuffled = fr._shuffled_labels(syn)
    assert sorted(i for i, _, _, _ in shuffled) == sorted(i for i, _, _, _ in syn)
    assert [i for i, _, _, _ in shuffled] != [i for i, _, _, _ in syn]
    assert all(a[2] is b[2] and a[1] == b[1] for a, b in zip(shuffled, syn))
