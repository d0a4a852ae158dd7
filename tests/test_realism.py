"""Realism weights: the domain classifier finds the synthetic clips unlike the real ones, the
weights and the draw keep each label's count, statistics against their closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from imu2safety.simulator.realism import (STATISTICS, RealismWeights, clip_statistics,
                                          fit_realism_weights)


def _clip(seed: int, gyro_gain: float = 1.0, n: int = 200) -> np.ndarray:
    """(n, 6): gravity along z plus smooth motion (m/s^2), smooth rates (rad/s) x gyro_gain."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 50.0
    f, p = rng.uniform(0.3, 2.0, 6), rng.uniform(0, 2 * np.pi, 6)
    x = np.sin(2 * np.pi * f * t[:, None] + p) * rng.uniform(0.5, 1.5, 6)
    x[:, 2] += 9.81
    x[:, 3:] *= gyro_gain
    return x


def test_statistics_are_their_closed_forms():
    """A recording alternating between two rows: each statistic is known by hand."""
    a, b = np.array([1.0, 2.0, 2.0, 0.0, 3.0, 4.0]), np.array([-1.0, 2.0, 2.0, 0.0, -3.0, -4.0])
    x = np.array([a, b] * 50)
    s = clip_statistics(x).reshape(8, len(STATISTICS))
    k = {name: i for i, name in enumerate(STATISTICS)}
    np.testing.assert_allclose(s[0, [k["mean"], k["std"], k["min"], k["max"]]], [0.0, 1.0, -1.0, 1.0])
    assert s[0, k["mean_abs_diff"]] == 2.0 and s[1, k["std"]] == 0.0
    # |a| = 3 for both rows, |g| = 5 for both rows
    np.testing.assert_allclose(s[6, [k["mean"], k["std"], k["p50"]]], [3.0, 0.0, 3.0])
    np.testing.assert_allclose(s[7, [k["min"], k["max"], k["mean_abs_diff"]]], [5.0, 5.0, 0.0])
    with pytest.raises(ValueError, match="NaN"):
        clip_statistics(np.full((5, 6), np.nan))
    with pytest.raises(ValueError, match=r"\(N >= 2, 6\)"):
        clip_statistics(np.zeros((1, 6)))


def test_unrealistic_clips_are_weighted_down_and_each_label_keeps_its_count():
    """Half the synthetic clips of each label read 6x the real angular rates: they get the lowest
    weights, the draw takes mostly the realistic half, every label keeps its count."""
    real = [_clip(100 + s) for s in range(40)]
    syn = [_clip(s, 6.0 if s % 2 else 1.0) for s in range(40)]
    labels = ["walk" if s < 20 else "fall" for s in range(40)]
    rw = fit_realism_weights(syn, real, labels)
    off = np.arange(40) % 2 == 1
    assert rw.auc > 0.7
    assert rw.weights[off].max() < rw.weights[~off].min()
    for label in ("walk", "fall"):
        assert np.isclose(rw.weights[rw.labels == label].mean(), 1.0)
    drawn = rw.resample(seed=3)
    assert [labels[i] for i in drawn].count("walk") == 20 and len(drawn) == 40
    assert off[drawn].mean() < 0.25
    assert np.array_equal(drawn, rw.resample(seed=3))  # a seeded draw


def test_clips_like_the_real_ones_are_not_told_apart():
    real = [_clip(100 + s) for s in range(40)]
    syn = [_clip(s) for s in range(40)]
    rw = fit_realism_weights(syn, real)
    assert 0.3 < rw.auc < 0.7 and rw.effective_share() > 0.6
    assert "AUC" in rw.summary()


def test_systematic_draw_takes_each_clip_floor_or_ceil_of_its_expected_count():
    w = np.array([0.1, 2.5, 0.4, 1.0, 0.0, 2.0])
    rw = RealismWeights(w / w.mean(), np.full(6, 0.5), np.array(["x"] * 6), 0.5, 6)
    for seed in range(20):
        counts = np.bincount(rw.resample(seed), minlength=6)
        expected = 6 * w / w.sum()
        assert counts.sum() == 6 and counts[4] == 0
        assert ((counts == np.floor(expected)) | (counts == np.ceil(expected))).all()


def test_bad_input_is_refused_with_a_clear_error():
    real = [_clip(100 + s) for s in range(10)]
    syn = [_clip(s) for s in range(10)]
    with pytest.raises(ValueError, match="at least 5 synthetic and 5 real"):
        fit_realism_weights(syn[:3], real)
    with pytest.raises(ValueError, match="labels for"):
        fit_realism_weights(syn, real, labels=["a"] * 9)
    with pytest.raises(ValueError, match="cap_quantile"):
        fit_realism_weights(syn, real, cap_quantile=0.0)
