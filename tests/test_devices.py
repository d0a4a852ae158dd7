"""Device model and Allan deviation: closed-form checks and statistics of simulated recordings."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from imu2safety.simulator.allan import (
    FLICKER_FLOOR,
    allan_deviation,
    bias_instability,
    white_noise_density,
)
from imu2safety.simulator.devices import DEVICES, DeviceProfile, apply_device, get_device
from imu2safety.simulator.motion import G

NON_IDEAL = sorted(name for name in DEVICES if name != "ideal")


def _still(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A device lying face up: accel reads +g on z, gyro reads zero."""
    return np.tile([0.0, 0.0, G], (n, 1)), np.zeros((n, 3))


def test_flicker_floor_constant():
    assert FLICKER_FLOOR == pytest.approx(0.6643, abs=1e-4)


def test_allan_white_noise_closed_form():
    sigma, fs = 0.5, 50.0
    x = np.random.default_rng(0).normal(0.0, sigma, size=(200_000, 2))
    taus, adev = allan_deviation(x, fs, taus=[0.02, 0.1, 1.0, 5.0, 10.0])
    expected = sigma / np.sqrt(taus * fs)  # white noise: sigma / sqrt(m)
    np.testing.assert_allclose(adev, np.stack([expected] * 2, axis=1), rtol=0.05)
    np.testing.assert_allclose(white_noise_density(taus, adev), sigma / math.sqrt(fs), rtol=0.03)


def test_allan_default_taus_and_validation():
    x = np.random.default_rng(1).normal(size=1001)
    taus, adev = allan_deviation(x, 10.0)
    assert taus[0] == pytest.approx(0.1) and taus[-1] == pytest.approx(50.0)  # 1 .. (N-1)//2 samples
    assert np.all(np.diff(taus) > 0) and adev.shape == taus.shape
    with pytest.raises(ValueError, match="taus must lie"):
        allan_deviation(x, 10.0, taus=[100.0])
    with pytest.raises(ValueError, match="NaN"):
        allan_deviation(np.r_[x, np.nan], 10.0)


def test_get_device_lists_names():
    assert get_device("bmi160") is DEVICES["bmi160"]
    with pytest.raises(ValueError, match="bmi160"):
        get_device("nope")


def test_profile_checks_name_the_field():
    with pytest.raises(ValueError, match="accel_noise_density"):
        DeviceProfile(name="x", accel_noise_density=-1.0)
    with pytest.raises(ValueError, match="lowpass_fraction"):
        DeviceProfile(name="x", lowpass_fraction=0.6)
    with pytest.raises(ValueError, match="gyro_adc_bits"):
        DeviceProfile(name="x", gyro_adc_bits=16)  # quantisation needs a finite range
    with pytest.raises(ValueError, match="gyro_range_rads"):
        DeviceProfile(name="x", gyro_range_rads=0.0)


def test_datasheet_sensitivities():
    # +-16 g over 16 bits is 2048 LSB/g; +-2000 dps over 16 bits is 16.384 LSB/dps (datasheets: 16.4).
    for name in NON_IDEAL:
        p = DEVICES[name]
        assert G / p.accel_lsb == pytest.approx(2048.0)
        assert math.radians(1.0) / p.gyro_lsb == pytest.approx(16.4, abs=0.02)
    assert DEVICES["ideal"].is_ideal and not any(DEVICES[n].is_ideal for n in NON_IDEAL)


def test_ideal_is_bit_exact_identity():
    rng = np.random.default_rng(3)
    accel = rng.normal(0, 50.0, (500, 3)) * 1e3  # far beyond any real range: no clipping in ideal
    gyro = rng.normal(0, 1.0, (500, 3))
    accel_in, gyro_in = accel.copy(), gyro.copy()
    out_a, out_g = apply_device(accel, gyro, 50.0, get_device("ideal"), np.random.default_rng(0))
    assert out_a.dtype == np.float64 and np.array_equal(out_a, accel) and np.array_equal(out_g, gyro)
    assert out_a is not accel and np.array_equal(accel, accel_in) and np.array_equal(gyro, gyro_in)


@pytest.mark.parametrize("name", NON_IDEAL)
def test_saturation_reads_exact_range(name):
    p = get_device(name)
    n = 200
    accel = np.tile([20 * G, -20 * G, G], (n, 1))  # beyond +-16 g on x and y
    gyro = np.tile([0.0, math.radians(3000), -math.radians(2500)], (n, 1))  # beyond +-2000 dps
    out_a, out_g = apply_device(accel, gyro, 100.0, p, np.random.default_rng(0))
    assert np.all(out_a[:, 0] == p.accel_range_ms2) and np.all(out_a[:, 1] == -p.accel_range_ms2)
    assert np.all(out_g[:, 1] == p.gyro_range_rads) and np.all(out_g[:, 2] == -p.gyro_range_rads)


@pytest.mark.parametrize("name", NON_IDEAL)
def test_quantisation_whole_lsbs(name):
    p = get_device(name)
    rng = np.random.default_rng(4)
    out_a, out_g = apply_device(rng.normal(0, 20, (1000, 3)), rng.normal(0, 3, (1000, 3)), 100.0, p, rng)
    for out, lsb in ((out_a, p.accel_lsb), (out_g, p.gyro_lsb)):
        k = out / lsb
        assert np.max(np.abs(k - np.round(k))) < 1e-9
        assert np.max(np.abs(k)) <= 2 ** 15  # symmetric range: +-32768 LSB


def test_seed_determinism_and_independence():
    p = get_device("bmi160")
    accel, gyro = _still(20_000)
    a1, g1 = apply_device(accel, gyro, 100.0, p, np.random.default_rng(7))
    a2, g2 = apply_device(accel, gyro, 100.0, p, np.random.default_rng(7))
    a3, g3 = apply_device(accel, gyro, 100.0, p, np.random.default_rng(8))
    assert np.array_equal(a1, a2) and np.array_equal(g1, g2)
    assert not np.array_equal(a1, a3) and not np.array_equal(g1, g3)
    # First differences isolate the white noise: independent seeds -> uncorrelated noise.
    for x, y in ((a1, a3), (g1, g3)):
        for k in range(3):
            assert abs(np.corrcoef(np.diff(x[:, k]), np.diff(y[:, k]))[0, 1]) < 0.05


def test_scale_misalignment_and_turn_on_statistics():
    p = DeviceProfile(name="gain_only", accel_scale_error=0.01, accel_misalignment=0.02,
                      gyro_turn_on_bias=0.1)
    eye = np.eye(3)  # rows are unit inputs, so the output is the gain matrix transposed
    draws = 3000
    gains, biases = np.empty((draws, 3, 3)), np.empty((draws, 3))
    for i in range(draws):
        out_a, out_g = apply_device(eye, np.zeros((3, 3)), 50.0, p, np.random.default_rng(i))
        gains[i] = out_a.T
        assert np.all(out_g == out_g[0])  # turn-on bias: one constant per recording
        biases[i] = out_g[0]
    diag = gains[:, [0, 1, 2], [0, 1, 2]] - 1.0
    off = gains[:, ~np.eye(3, dtype=bool)]
    assert np.std(diag) == pytest.approx(0.01, rel=0.1) and abs(np.mean(diag)) < 0.001
    assert np.std(off) == pytest.approx(0.02, rel=0.1) and abs(np.mean(off)) < 0.002
    assert np.std(biases) == pytest.approx(0.1, rel=0.1)


def test_sampling_jitter_on_a_ramp():
    # Linear interpolation is exact on a ramp x = t, so the error is the jitter itself (seconds).
    p = DeviceProfile(name="jitter_only", sampling_jitter_s=1e-3)
    fs, n = 100.0, 20_000
    ramp = np.repeat((np.arange(n) / fs)[:, None], 3, axis=1)
    out, _ = apply_device(ramp, np.zeros((n, 3)), fs, p, np.random.default_rng(5))
    err = (out - ramp)[10:-10]  # the ends are clamped to the record
    assert np.std(err) == pytest.approx(1e-3, rel=0.05)
    assert np.all(out[:, 0] == out[:, 1])  # one sample clock for all axes


def test_lowpass_cutoff_is_minus_3db():
    p = DeviceProfile(name="filter_only", lowpass_fraction=0.25)
    fs, n = 100.0, 4000
    t = np.arange(n) / fs
    still, _ = apply_device(np.full((n, 3), G), np.zeros((n, 3)), fs, p, np.random.default_rng(0))
    np.testing.assert_allclose(still, G, rtol=1e-12)  # starts in steady state: no transient
    tone = np.repeat(np.sin(2 * np.pi * 0.25 * fs * t + 0.3)[:, None], 3, axis=1)  # at the cutoff
    out, _ = apply_device(tone, tone, fs, p, np.random.default_rng(0))
    amplitude = np.sqrt(2.0) * np.std(out[n // 2:, 0])
    assert amplitude == pytest.approx(1 / math.sqrt(2.0), rel=0.01)


def test_bad_input_is_refused():
    p = get_device("bmi160")
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="NaN"):
        apply_device(np.full((5, 3), np.nan), np.zeros((5, 3)), 50.0, p, rng)
    with pytest.raises(ValueError, match="gyro"):
        apply_device(np.zeros((5, 3)), np.zeros((4, 3)), 50.0, p, rng)
    with pytest.raises(ValueError, match="sample_rate_hz"):
        apply_device(np.zeros((5, 3)), np.zeros((5, 3)), 0.0, p, rng)


@pytest.mark.parametrize("name", NON_IDEAL)
def test_allan_matches_profile(name):
    """One hour still at 100 Hz.

    White noise: ADEV(1 s) within 10 % of the density, where the expected value also carries the
    rounding noise of the ADC (LSB^2 / 12 per sample), and the small flicker and random-walk
    terms at 1 s. Bias instability: min ADEV / 0.664 of the axis-pooled Allan variance, over taus
    up to a tenth of the record, within 30 % of the profile's figure (over 20 seeds the ratio
    stayed within 0.83 .. 1.25).
    """
    p = get_device(name)
    fs, n = 100.0, 360_000
    accel, gyro = _still(n)
    out_a, out_g = apply_device(accel, gyro, fs, p, np.random.default_rng(2024))
    taus, adev = allan_deviation(np.hstack([out_a, out_g]), fs)
    for sensor, cols, lsb in (("accel", slice(0, 3), p.accel_lsb), ("gyro", slice(3, 6), p.gyro_lsb)):
        density = getattr(p, f"{sensor}_noise_density")
        b = getattr(p, f"{sensor}_bias_instability")
        k = getattr(p, f"{sensor}_bias_random_walk")
        expected_1s = math.sqrt(density**2 + lsb**2 / (12 * fs) + (FLICKER_FLOOR * b) ** 2 + k**2 / 3)
        np.testing.assert_allclose(white_noise_density(taus, adev[:, cols]), expected_1s, rtol=0.10)
        assert expected_1s < 1.25 * density  # the datasheet density dominates at 1 s
        pooled = np.sqrt(np.mean(adev[:, cols] ** 2, axis=1))
        assert bias_instability(taus, pooled, max_tau_s=n / fs / 10) == pytest.approx(b, rel=0.30)


def test_profiles_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEVICES["bmi160"].accel_noise_density = 0.0
