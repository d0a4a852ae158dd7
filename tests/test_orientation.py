"""Quaternion helpers against scipy and finite differences."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from imu2safety.simulator.orientation import body_rate, matrix_to_quat, quat_continuous, quat_to_matrix


def _same_up_to_sign(q, ref):
    return np.minimum(np.abs(q - ref).max(-1), np.abs(q + ref).max(-1))


def test_matrix_to_quat_matches_scipy_including_half_turns():
    r = Rotation.concatenate([
        Rotation.random(5000, random_state=1),
        Rotation.from_rotvec([[np.pi, 0, 0], [0, np.pi, 0], [0, 0, np.pi], [0, 0, 0],
                              [np.pi - 1e-7, 0, 0], [1, 1, 1]]),
    ])
    q = matrix_to_quat(r.as_matrix())
    assert _same_up_to_sign(q, r.as_quat(scalar_first=True)).max() < 1e-12
    np.testing.assert_allclose(quat_to_matrix(q), r.as_matrix(), atol=1e-12)


def test_body_rate_of_a_constant_spin_and_sign_continuity():
    w = np.array([0.4, -1.1, 2.0])
    t = np.linspace(0, 3, 301)
    q = quat_continuous((Rotation.from_euler("y", 30, degrees=True) *
                         Rotation.from_rotvec(t[:, None] * w)).as_quat(scalar_first=True) *
                        np.where(np.arange(301) % 2, -1.0, 1.0)[:, None])
    assert np.all(np.sum(q[1:] * q[:-1], axis=1) > 0)
    q_dot = np.gradient(q, t, axis=0, edge_order=2)
    # q(t) = q0 * exp(w t / 2): the body-frame rate is w itself.
    np.testing.assert_allclose(body_rate(q, q_dot)[5:-5], np.tile(w, (291, 1)), atol=2e-3)
