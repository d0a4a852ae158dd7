"""Shortcuts of the build's hot path (issue 13, fifth round) give what the plain numpy they
replace gives."""

from __future__ import annotations

import numpy as np

from imu2safety.simulator.joints import JOINT_SETS
from imu2safety.simulator.motion import Motion, finite_points


def test_finite_points_equals_numpy_all_over_the_last_axis():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 25, 3))
    bad = rng.random(x.shape) < 0.02
    x[bad] = rng.choice([np.nan, np.inf, -np.inf], size=int(bad.sum()))
    got = finite_points(x)
    assert got.shape == (300, 25) and got.dtype == bool
    assert np.array_equal(got, np.isfinite(x).all(axis=-1))
    assert not got.all() and got.any()
    assert finite_points(x[0, 0]).shape == () and bool(finite_points(x[0, 0])) == np.isfinite(x[0, 0]).all()
    given = rng.random((300, 25)) < 0.9
    m = Motion(x, JOINT_SETS["ntu"], np.arange(300) / 30.0, given)
    assert np.array_equal(m.valid, given & np.isfinite(x).all(axis=-1))
