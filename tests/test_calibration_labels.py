"""Per-label unpaired calibration: each label's synthetic clips onto its own real clips, pooled
maps for labels without enough real clips, the shared mounting, and the JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from imu2safety.simulator.calibration import (Calibration, fit_distribution_calibration,
                                              fit_label_calibration)
from imu2safety.simulator.motion import G

LEVELS = np.linspace(0.05, 0.95, 19)


def _recording(n: int, seed: int, accel_gain: float = 1.0, gyro_gain: float = 1.0) -> np.ndarray:
    """(n, 6): gravity in a slowly turning direction plus motion (m/s^2), smooth rates (rad/s);
    ``accel_gain`` scales the motion part, ``gyro_gain`` the rates."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 50.0
    f, p = rng.uniform(0.2, 2.0, (6, 3)), rng.uniform(0, 2 * np.pi, (6, 3))
    waves = np.sin(2 * np.pi * f[:, None, :] * t[None, :, None] + p[:, None, :]).sum(2).T  # (n, 6)
    up = Rotation.from_rotvec(0.5 * waves[:, :3]).apply([0.0, 0.0, G])
    return np.hstack([up + accel_gain * 1.5 * waves[:, 3:], gyro_gain * 2.0 * waves[:, :3]])


def _pool_error(cal: Calibration, syn: list[np.ndarray], real: list[np.ndarray]) -> float:
    """Largest gap between the mapped synthetic and the real pooled quantiles, per channel span."""
    mapped = np.vstack([np.hstack(cal.map_quantiles(x[:, :3], x[:, 3:])) for x in syn])
    pool_r = np.vstack(real)
    gap = np.abs(np.quantile(mapped, LEVELS, axis=0) - np.quantile(pool_r, LEVELS, axis=0))
    return float((gap / np.ptp(pool_r, axis=0)).max())


def _two_labels():
    """Synthetic clips of labels "calm" and "brisk" alike; their real clips differ: calm ones
    weaker (motion x0.5, rates x0.4), brisk ones stronger (x2, x2.5)."""
    syn = [_recording(400, s) for s in range(8)]
    syn_labels = ["calm"] * 4 + ["brisk"] * 4
    real = ([_recording(500, 20 + s, 0.5, 0.4) for s in range(3)]
            + [_recording(450, 30 + s, 2.0, 2.5) for s in range(3)])
    real_labels = ["calm"] * 3 + ["brisk"] * 3
    return syn, syn_labels, real, real_labels


def test_each_label_is_mapped_onto_its_own_real_distribution():
    """After its label's maps each label's synthetic pool matches that label's real pool (as
    closely as the pooled maps match the pool: < 1 % of the span), where the pooled maps, which
    see one mixed distribution, miss both labels by far more."""
    syn, sl, real, rl = _two_labels()
    cal = fit_label_calibration(syn, sl, real, rl)
    assert sorted(cal.by_label) == ["brisk", "calm"] and cal.metadata["labels_pooled"] == {}
    for label in ("calm", "brisk"):
        s = [x for x, lab in zip(syn, sl) if lab == label]
        r = [x for x, lab in zip(real, rl) if lab == label]
        assert cal.for_label(label) is cal.by_label[label]
        assert _pool_error(cal.for_label(label), s, r) < 0.01
        assert _pool_error(cal, s, r) > 0.05  # the pooled maps
    # the pooled maps are the unpaired fit on everything
    plain = fit_distribution_calibration(syn, real)
    assert np.array_equal(cal.synthetic_quantiles, plain.synthetic_quantiles)
    assert np.array_equal(cal.real_magnitudes, plain.real_magnitudes)


def test_labels_without_enough_real_clips_use_the_pooled_maps_and_say_why():
    syn, sl, real, rl = _two_labels()
    syn = syn + [_recording(300, 99)]
    sl = sl + ["rare"]
    real, rl = real[:4], rl[:4]  # brisk keeps one real clip only
    cal = fit_label_calibration(syn, sl, real, rl, min_real_clips=2)
    assert list(cal.by_label) == ["calm"]
    assert cal.for_label("brisk") is cal and cal.for_label("rare") is cal
    assert cal.for_label(None) is cal and cal.for_label("never seen") is cal
    assert cal.metadata["labels_pooled"] == {"brisk": "1 real clips (fewer than 2)",
                                             "rare": "0 real clips (fewer than 2)"}
    assert cal.metadata["labels_fitted"] == ["calm"] and cal.metadata["label_key"] == "source_label"


def test_per_label_maps_share_the_mounting_rotation():
    """With a mounting, every label's maps are fitted after it: a synthetic clip turned back by
    the inverse rotation comes out as if it had not been turned."""
    syn, sl, real, rl = _two_labels()
    r = Rotation.from_euler("xyz", [170, 10, -5], degrees=True)
    turned = [np.hstack([r.inv().apply(x[:, :3]), r.inv().apply(x[:, 3:])]) for x in syn]
    plain = fit_label_calibration(syn, sl, real, rl)
    cal = fit_label_calibration(turned, sl, real, rl, mounting=r)
    for label in ("calm", "brisk"):
        sub = cal.for_label(label)
        assert sub.mounting.approx_equal(r)
        x = turned[0 if label == "calm" else 4]
        out = np.hstack(sub.map_quantiles(*sub.rotate(x[:, :3], x[:, 3:])))
        ref = np.hstack(plain.for_label(label).map_quantiles(syn[0 if label == "calm" else 4][:, :3],
                                                            syn[0 if label == "calm" else 4][:, 3:]))
        np.testing.assert_allclose(out, ref, atol=1e-6)
    with pytest.raises(ValueError, match="another mounting"):
        Calibration(r, by_label={"calm": plain.by_label["calm"]})


def test_json_round_trip_is_exact_and_files_without_labels_keep_their_format(tmp_path):
    syn, sl, real, rl = _two_labels()
    cal = fit_label_calibration(syn, sl, real, rl, mounting=Rotation.from_euler("z", 30, degrees=True))
    back = Calibration.load(cal.save(tmp_path / "labels.json"))
    assert back.to_dict() == cal.to_dict()
    d = json.loads((tmp_path / "labels.json").read_text())
    assert d["format_version"] == 3 and sorted(d["by_label"]) == ["brisk", "calm"]
    x = syn[5]
    for label in ("brisk", "calm", "other"):
        a, g = cal.for_label(label).map_quantiles(x[:, :3], x[:, 3:])
        a2, g2 = back.for_label(label).map_quantiles(x[:, :3], x[:, 3:])
        assert np.array_equal(a, a2) and np.array_equal(g, g2)
    plain = fit_distribution_calibration(syn, real)
    d2 = plain.to_dict()
    assert d2["format_version"] == 2 and "by_label" not in d2


def test_bad_labels_are_refused_with_a_clear_error():
    syn, sl, real, rl = _two_labels()
    with pytest.raises(ValueError, match="one label per recording"):
        fit_label_calibration(syn, sl[:-1], real, rl)
    with pytest.raises(ValueError, match="min_real_clips"):
        fit_label_calibration(syn, sl, real, rl, min_real_clips=0)
    with pytest.raises(ValueError, match="by_label maps labels"):
        Calibration(by_label={"calm": "not a calibration"})


def test_pseudo_labels_are_predicted_through_the_pooled_maps_and_give_the_labelled_fit():
    """Real clips of two kinds (calm, brisk) read by a device with 1.8x the angular rate: the
    forest trained on the pooled-mapped synthetic clips names every real clip's kind, so the
    per-label maps fitted with the predicted labels are those fitted with the true ones."""
    from imu2safety.simulator.calibration import fit_pseudo_label_calibration, predict_real_labels

    syn = [_recording(400, s, 0.5, 0.4) for s in range(10)] + [_recording(400, 10 + s, 2.0, 2.5)
                                                                for s in range(10)]
    sl = ["calm"] * 10 + ["brisk"] * 10
    real = [_recording(500, 40 + s, 0.5, 0.4 * 1.8) for s in range(4)] + [
        _recording(450, 50 + s, 2.0, 2.5 * 1.8) for s in range(4)]
    truth = ["calm"] * 4 + ["brisk"] * 4
    assert predict_real_labels(syn, sl, real) == truth
    cal = fit_pseudo_label_calibration(syn, sl, real)
    ref = fit_label_calibration(syn, sl, real, truth)
    assert cal.metadata["real_labels"] == "predicted"
    assert cal.metadata["predicted_counts"] == {"brisk": 4, "calm": 4}
    for label in ("calm", "brisk"):
        assert np.array_equal(cal.by_label[label].real_quantiles, ref.by_label[label].real_quantiles)
        assert np.array_equal(cal.by_label[label].synthetic_magnitudes,
                              ref.by_label[label].synthetic_magnitudes)
    with pytest.raises(ValueError, match="labels for"):
        predict_real_labels(syn, sl[:-1], real)
