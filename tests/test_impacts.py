"""Impacts sharpened (simulator/impacts.py): a Gaussian pulse narrowed with its impulse kept."""

from __future__ import annotations

import numpy as np
import pytest

from imu2safety.simulator.impacts import sharpen_impacts
from imu2safety.simulator.motion import G


def _pulse(sigma_s: float, peak: float = 40.0, rate: float = 200.0) -> tuple[np.ndarray, np.ndarray]:
    """Device at rest face-up (+g on z) with a Gaussian deceleration pulse on x at t = 1 s."""
    t = np.arange(int(2 * rate)) / rate
    x = np.zeros((len(t), 6))
    x[:, 2] = G
    x[:, 0] = peak * np.exp(-0.5 * ((t - 1.0) / sigma_s) ** 2)
    x[:, 4] = 0.3  # a gyroscope value that must stay
    return t, x


def test_a_gaussian_pulse_becomes_the_narrower_gaussian_of_the_same_impulse():
    t, x = _pulse(0.03)
    y, n = sharpen_impacts(x, factor=1.5, threshold_ms2=15.0, margin=40)
    assert n == 1
    dt = t[1] - t[0]
    # closed form: factor * N(t; 1, sigma) at sigma / factor, i.e. 1.5 x the peak, 1/1.5 the width
    want = 1.5 * 40.0 * np.exp(-0.5 * ((t - 1.0) / (0.03 / 1.5)) ** 2)
    np.testing.assert_allclose(y[:, 0], want, atol=0.5)  # interpolation of a 200 Hz grid
    assert y[:, 0].sum() * dt == pytest.approx(x[:, 0].sum() * dt, rel=2e-3)  # impulse kept
    np.testing.assert_array_equal(y[:, 1:], x[:, 1:])  # the other axes and the gyroscope


def test_small_peaks_and_factor_one_are_unchanged_and_bad_input_refused():
    _, x = _pulse(0.03, peak=10.0)  # | |a| - g | stays under 15 m/s^2
    y, n = sharpen_impacts(x, 1.5, 15.0)
    assert n == 0 and np.array_equal(y, x)
    _, x = _pulse(0.03)
    y, n = sharpen_impacts(x, 1.0)
    assert n == 0 and np.array_equal(y, x) and y is not x
    for kw, msg in ((dict(factor=0.5), "factor"), (dict(threshold_ms2=0.0), "threshold"),
                    (dict(margin=-1), "margin")):
        with pytest.raises(ValueError, match=msg):
            sharpen_impacts(x, **kw)
    with pytest.raises(ValueError, match="NaN"):
        sharpen_impacts(np.full((5, 6), np.nan))
