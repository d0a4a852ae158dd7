"""Clip length matched to a target's: crop around the most active sample, pad with rest."""

from __future__ import annotations

import numpy as np
import pytest

from imu2safety.simulator.motion import G
from imu2safety.simulator.window import activity, match_length, rest_sample, target_lengths


def _clip(n: int = 200, peak: int = 120) -> np.ndarray:
    """Device at rest face-up (+g on z) with one impact spike of 30 m/s^2 on x at ``peak``."""
    x = np.zeros((n, 6))
    x[:, 2] = G
    x[peak, 0] = 30.0
    return x


def test_crop_keeps_the_peak_as_an_unchanged_slice():
    x = _clip()
    x[:, 3] = np.arange(200) * 1e-3  # a ramp tells where the slice came from
    for seed in range(50):
        y = match_length(x, 60, np.random.default_rng(seed), 50.0)
        start = int(round(y[0, 3] * 1e3))
        assert y.shape == (60, 6)
        np.testing.assert_array_equal(y, x[start:start + 60])
        assert start <= 120 < start + 60  # the impact is inside the window
    # activity: | |a| - g | + |g|, here sqrt(30^2 + g^2) - g plus the ramp at the peak
    assert int(np.argmax(activity(x))) == 120


def test_pad_is_the_device_at_rest_around_the_original():
    x = _clip(100, 50)
    x[:, :3] = [3.0, 0.0, 4.0]  # tilted: the mean specific force points along (3, 0, 4)
    y = match_length(x, 160, np.random.default_rng(1), 50.0)
    assert y.shape == (160, 6)
    starts = [s for s in range(61) if np.array_equal(y[s:s + 100], x)]
    assert len(starts) == 1
    pad = np.concatenate([y[:starts[0]], y[starts[0] + 100:]])
    assert len(pad) == 60
    np.testing.assert_allclose(pad[:, :3], np.tile([0.6 * G, 0.0, 0.8 * G], (60, 1)))
    np.testing.assert_array_equal(pad[:, 3:], 0.0)
    np.testing.assert_allclose(rest_sample(np.zeros((5, 3))), [0, 0, G, 0, 0, 0])


def test_equal_length_is_a_copy_and_bad_input_is_refused():
    x = _clip()
    y = match_length(x, 200, np.random.default_rng(0), 50.0)
    np.testing.assert_array_equal(y, x)
    assert y is not x
    with pytest.raises(ValueError, match="length"):
        match_length(x, 0, np.random.default_rng(0), 50.0)
    with pytest.raises(ValueError, match="NaN"):
        match_length(np.full((5, 6), np.nan), 3, np.random.default_rng(0), 50.0)
    with pytest.raises(ValueError, match="shape"):
        match_length(np.zeros((5, 3)), 3, np.random.default_rng(0), 50.0)


def test_target_lengths_map_ranks_onto_target_quantiles():
    # four synthetic clips onto a target of lengths 100..400: rank r -> quantile (r + 0.5) / 4
    out = target_lengths([40, 10, 30, 20], np.array([100, 200, 300, 400]))
    expected = np.round(np.quantile([100, 200, 300, 400], [0.875, 0.125, 0.625, 0.375]))
    np.testing.assert_array_equal(out, expected.astype(int))
    assert list(np.argsort(out)) == [1, 3, 2, 0]  # rank order kept
    np.testing.assert_array_equal(target_lengths([7, 7, 7], np.array([50])), [50, 50, 50])
    with pytest.raises(ValueError, match="at least one"):
        target_lengths([], np.array([5]))
    with pytest.raises(ValueError, match=">= 1"):
        target_lengths([0], np.array([5]))
