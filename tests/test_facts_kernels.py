"""The compiled pieces of ``instructions.facts`` against the numpy expressions they replace, bit
for bit (the facts, hence every templated number of a build, must not move by an ulp)."""

from __future__ import annotations

import numpy as np

from imu2safety.builders.instructions import facts as F
from imu2safety.simulator.kernels import pairwise_sum

LENGTHS = [1, 2, 3, 7, 8, 9, 127, 128, 129, 500, 3001, 20000]


def _imu(rng, n):
    x = rng.standard_normal((n, 6)) * rng.choice([1e-6, 0.3, 5.0])
    x[:, 2] += F.G
    return x


def test_pairwise_sum_is_numpys_sum():
    rng = np.random.default_rng(0)
    for n in [*range(1, 300), 1000, 4097, 30000]:
        a = rng.standard_normal(n) * 10.0 ** rng.uniform(-5, 5, n)
        assert pairwise_sum(a) == np.sum(a)


def test_signal_stats_equal_the_numpy_expressions():
    rng = np.random.default_rng(1)
    for n in LENGTHS:
        for _ in range(3):
            imu = _imu(rng, n)
            a, w, st = F._signal_stats(imu, F.G)
            acc, gyr = imu[:, :3], imu[:, 3:]
            assert np.array_equal(a, np.linalg.norm(acc, axis=1))
            assert np.array_equal(w, np.linalg.norm(gyr, axis=1))
            assert st[0] == 0 and st[1] == imu.std(axis=0).max()
            ip = int(np.argmax(a))
            assert st[2] == ip and st[3] == np.argmax(np.abs(acc[ip])) and st[4] == a.min()
            if n >= 2:
                assert st[5] == np.sqrt(np.mean((a - F.G) * (a - F.G)))
            assert st[6] == np.argmax(w)
            g = np.abs(gyr)
            for k in range(3):
                assert st[7 + k] == g[:, k].max() and st[10 + k] == g[:, k].mean()
            assert st[13] == np.argmax(g.mean(axis=0))
    bad = _imu(rng, 10)
    bad[4, 5] = np.inf
    assert F._signal_stats(bad, F.G)[2][0] == 1


def test_moving_mean_jerk_and_runs_equal_numpy():
    rng = np.random.default_rng(2)
    for n in LENGTHS:
        x = np.abs(rng.standard_normal(n))
        for width in (1, 2, 25, 26, n + 3):
            c = np.concatenate([[0.0], np.cumsum(x)])
            i = np.arange(n)
            lo, hi = np.clip(i - width // 2, 0, n), np.clip(i - width // 2 + width, 0, n)
            assert np.array_equal(F._moving_mean(x, width), (c[hi] - c[lo]) / np.maximum(hi - lo, 1))
        mask = x < 0.7
        edges = np.flatnonzero(np.diff(np.concatenate([[False], mask, [False]]).astype(np.int8)))
        assert F._runs(mask).tolist() == [[int(s), int(e)] for s, e in zip(edges[0::2], edges[1::2])]
        if n >= 3:
            dt = 1.0 / 50.0
            grad = np.abs(np.gradient(x, dt))
            for ip in (0, n // 2, n - 1):
                for half in (1, 5):
                    assert F._jerk(x, dt, ip, half) == grad[max(0, ip - half):ip + half + 1].max()
