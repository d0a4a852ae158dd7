"""The simulator's fast paths (issue 13) against the plain computations they stand in for: the
compiled screening of skeleton clips against ``_check_limits`` and the per-clip joint selection,
the compiled fill of untracked joints against the per-clip repair, the spline setup shared
between clips of one grid against a fresh setup, the batched seeding against ``clip_rng``, the
median-of-5 and the per-clip peaks against NumPy / scipy."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest
from scipy.ndimage import median_filter

from imu2safety.simulator import imu as imu_mod
from imu2safety.simulator import kernels
from imu2safety.simulator import kinematics as kin
from imu2safety.simulator import limits as lim
from imu2safety.simulator.imu import SimulationOptions
from imu2safety.simulator.motion import GRAVITY_WORLD, Motion, MotionError
from imu2safety.simulator.orientation import quat_continuous
from imu2safety.simulator.rng import ClipGenerators, clip_rng

ARM = ("left_shoulder", "left_elbow", "left_wrist", "left_hand", "left_thumb",
       "right_shoulder", "right_elbow", "right_wrist", "right_hand", "right_thumb")
BASE = np.array([[0, .2, 1.4], [0, .25, 1.1], [.25, .25, 1.0], [.33, .25, 1.0], [.30, .29, 1.02],
                 [0, -.2, 1.4], [0, -.25, 1.1], [.25, -.25, 1.0], [.33, -.25, 1.0], [.30, -.29, 1.02]])


def _arm(frames: int, rng: np.random.Generator, fps: float = 30.0) -> Motion:
    t = np.arange(frames) / fps
    wave = 0.1 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5, (1, 10, 3)) * t[:, None, None]
                        + rng.uniform(0, 6, (1, 10, 3)))
    return Motion.from_fps(BASE + wave, ARM, fps)


def _screening_corpus() -> list[Motion]:
    """Clips on both sides of every limit and of every repair condition."""
    rng = np.random.default_rng(0)
    out = []
    for k in range(60):
        m = _arm(int(rng.integers(3, 200)), rng, fps=float(rng.choice([4.0, 4.99, 5.0, 5.01, 30.0])))
        kind = k % 10
        if kind == 1:
            m.positions *= rng.choice([10.0, 100.0, 2.2, 2.6, 0.1])  # arm length near / beyond limits
        elif kind == 2:
            m.timestamps[len(m.timestamps) // 2:] += rng.choice([0.5, 0.97, 1.0, 3.0])  # gaps
        elif kind == 3 and m.num_frames > 10:
            m.valid[3:3 + int(rng.integers(1, 40)), int(rng.choice([2, 3, 4]))] = False
        elif kind == 4 and m.num_frames > 10:
            m.timestamps[[4, 5]] = m.timestamps[[5, 4]]  # out of order
        elif kind == 5:
            m.timestamps[1:] += rng.uniform(-0.006, 0.006, m.num_frames - 1) / 30  # jitter
            m.timestamps = np.maximum.accumulate(m.timestamps)
        elif kind == 6:
            m.positions[:, :, 0] += rng.choice([990.0, 999.5, 1000.5])  # far from the origin
        elif kind == 7:
            m.timestamps = m.timestamps * rng.choice([1.0, 60.0, 1e4])  # long durations
        out.append(m)
    return out


def test_screening_agrees_with_the_numpy_checks_and_the_joint_selection():
    motions = _screening_corpus()
    for options in (SimulationOptions(), SimulationOptions(rate_hz=400.0, limits=lim.Limits(
            max_output_samples=20_000, max_duration_s=60.0))):
        names = motions[0].joint_names
        req, opt = imu_mod._vocabulary(names, options.placement)
        t, offsets = imu_mod._ragged([m.timestamps for m in motions])
        b = len(motions)
        status, use = np.empty(b, np.int64), np.empty(b, np.int64)
        fs, nout = np.empty(b), np.empty(b, np.int64)
        kernels.check_skeletons(t, np.concatenate([m.valid for m in motions]),
                                np.concatenate([m.positions for m in motions]), offsets, req, opt,
                                options.rate_hz, imu_mod._limit_array(options.limits or lim.DEFAULT_LIMITS),
                                imu_mod._OPTIONAL_MIN_VALID, kin.MIN_FRAMES, kin.UNIFORM_RTOL, status, use,
                                fs, nout)
        seen = set()
        for k, m in enumerate(motions):
            try:
                imu_mod._check_limits(m, options)
                passes = True
            except MotionError:
                passes = False
            if not status[k] & kernels.UNSURE:
                assert passes, k  # the screen never passes what the checks refuse
            seen.add((bool(status[k] & kernels.UNSURE), passes))
            if status[k] & kernels.REPAIR:
                continue
            # no repair: the per-clip selection keeps the clip as it is, with the same joints
            t_sel, x, used = imu_mod._motion_joints(m, options)
            assert t_sel is m.timestamps or np.array_equal(t_sel, m.timestamps)
            idx, _ = imu_mod._joint_use(names, options.placement, int(use[k]))
            assert used == tuple(names[j] for j in idx)
            np.testing.assert_array_equal(x, m.positions[:, idx])
            assert fs[k] == 1.0 / np.median(np.diff(m.timestamps))
            assert nout[k] == len(kin.output_times(m.timestamps[0], m.timestamps[-1], options.rate_hz))
        assert (False, True) in seen and (True, False) in seen  # both outcomes were exercised


def test_shared_spline_setup_equals_a_fresh_setup_bit_for_bit():
    rng = np.random.default_rng(3)
    grid = np.arange(400) / 30.0
    clips = [(grid[:n], kin.output_times(grid[0], grid[n - 1], 50.0))
             for n in (400, 6, 7, 8, 13, 120, 121, 399, 250, 9)]
    clips.append((0.5 + grid[:90], kin.output_times(0.5, 0.5 + grid[89], 50.0)))  # another grid
    clips.append((grid[:90] * 1.001, kin.output_times(0.0, grid[89] * 1.001, 50.0)))
    poses = [np.concatenate([rng.standard_normal((len(t), 3)).cumsum(0) * 0.01,
                             quat_continuous(rng.standard_normal((len(t), 4)))], axis=1)
             for t, _ in clips]
    alone = []
    for (t, tq), pose in zip(clips, poses):
        out = np.empty((len(tq), 6))
        kernels.imu_from_pose_ragged(t, pose, np.array([0, len(t)]), tq, np.array([0, len(tq)]),
                                     GRAVITY_WORLD[2], out)
        alone.append(out)
    t_all, offsets = imu_mod._ragged([t for t, _ in clips])
    tq_all, q_offsets = imu_mod._ragged([tq for _, tq in clips])
    pose_all, _ = imu_mod._ragged(poses)
    for order in (np.arange(len(clips)), np.arange(len(clips))[::-1], rng.permutation(len(clips))):
        out = np.full((len(tq_all), 6), np.nan)
        kernels.imu_from_pose_sorted(t_all, pose_all, offsets, tq_all, q_offsets, GRAVITY_WORLD[2],
                                     order, out)
        for k, ref in enumerate(alone):
            assert out[q_offsets[k]:q_offsets[k + 1]].tobytes() == ref.tobytes(), (order, k)


def test_batched_seeding_draws_what_clip_rng_draws():
    ids = [f"clip{k:05d}" for k in range(300)] + ["", "é~aug1", "x" * 500]
    for seed in (0, 7, -3, 2**40 + 5):
        for few in (False, True):  # many clips: vectorised seeding; a few: NumPy's own
            some = ids[-3:] if few else ids
            for k, g in enumerate(ClipGenerators(seed, some, "device")):
                assert np.array_equal(g.standard_normal(7), clip_rng(seed, some[k], "device").standard_normal(7))
    assert len(ClipGenerators(1, [], "device")) == 0


def test_median_of_five_matches_scipy():
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 4, 5, 6, 50):
        for x in (rng.standard_normal(n), rng.integers(0, 3, n).astype(float)):  # with ties
            out = np.empty(n)
            kernels._median5_nearest(x, out)
            np.testing.assert_array_equal(out, median_filter(x, size=5, mode="nearest"))
    x = rng.standard_normal(30)  # a NaN: the windows without it still get their exact median
    x[12] = np.nan
    out = np.empty(30)
    kernels._median5_nearest(x, out)
    clean = np.r_[0:10, 15:30]
    np.testing.assert_array_equal(out[clean], median_filter(np.nan_to_num(x), size=5, mode="nearest")[clean])


def test_unwrap_matches_numpy_across_jumps_of_every_size():
    rng = np.random.default_rng(8)
    for scale in (0.5, 3.0, 10.0):  # small steps, steps about pi, several turns per step
        p = np.cumsum(rng.standard_normal(400) * scale)
        p[::7] = np.pi * np.sign(rng.standard_normal(58))  # exact +-pi jumps: np.unwrap's edge case
        out = np.empty_like(p)
        kernels._unwrap(p, out)
        np.testing.assert_array_equal(out, np.unwrap(p))


def test_clip_peaks_match_numpy_and_propagate_nan():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((50, 6)) * 10
    x[17, 4] = np.nan
    x[30, 1] = -np.inf
    offsets = np.array([0, 10, 20, 35, 50])
    a, g = np.empty(4), np.empty(4)
    assert not kernels.clip_peaks(x, offsets, a, g)
    for k in range(4):
        rows = x[offsets[k]:offsets[k + 1]]
        np.testing.assert_array_equal([a[k], g[k]], [np.max(np.abs(rows[:, :3])), np.max(np.abs(rows[:, 3:]))])
    assert kernels.clip_peaks(x[:10], offsets[:2], a, g)
    a2, g2 = np.empty(4), np.empty(4)  # a strided x takes the value-by-value path: the same peaks
    assert not kernels.clip_peaks(np.asfortranarray(x), offsets, a2, g2)
    np.testing.assert_array_equal(np.r_[a, g], np.r_[a2, g2])
    zeros = -np.zeros((4, 6))  # signed zeros and an empty clip: peaks of +0
    assert kernels.clip_peaks(zeros, np.array([0, 0, 4]), a2[:2], g2[:2])
    assert np.signbit(np.r_[a2[:2], g2[:2]]).sum() == 0 and not np.r_[a2[:2], g2[:2]].any()


def test_median_by_quickselect_matches_numpy():
    rng = np.random.default_rng(11)
    grids = [np.diff(np.arange(n + 1) / 30.0) for n in (8, 60, 181, 300, 1000)]  # few distinct
    for x in grids + [rng.standard_normal(n) for n in (1, 2, 3, 4, 7, 8, 100, 101)] + [
            rng.integers(0, 3, n).astype(float) for n in (2, 5, 64, 65)] + [np.sort(rng.random(50)),
                                                                            np.sort(rng.random(51))[::-1]]:
        kept = x.copy()
        assert kernels._median(x) == np.median(x)
        np.testing.assert_array_equal(x, kept)  # the input is left alone
    x = rng.standard_normal(31)
    x[5] = np.nan  # NaN: np.partition's order statistics, as before the quickselect
    assert kernels._median(x) == np.partition(x, 15)[15]


def _sosfilt_reference(x, sos, zi, forward):
    """The direct form II transposed cascade, sample by sample through every section (Python
    floats: the same IEEE operations in the same order as the compiled passes)."""
    x = x.copy()
    m, nch = x.shape
    order = range(m) if forward else range(m - 1, -1, -1)
    first = x[0 if forward else m - 1].copy()
    for c in range(nch):
        z = [[float(zi[s, 0] * first[c]), float(zi[s, 1] * first[c])] for s in range(len(sos))]
        for i in order:
            v = float(x[i, c])
            for s, (b0, b1, b2, _, a1, a2) in enumerate(sos.tolist()):
                y = b0 * v + z[s][0]
                z[s][0] = b1 * v - a1 * y + z[s][1]
                z[s][1] = b2 * v - a2 * y
                v = y
            x[i, c] = v
    return x


@pytest.mark.parametrize("nch", [1, 2, 6, 7, 8, 9])
@pytest.mark.parametrize("order", [2, 4, 6])
def test_sos_passes_equal_the_plain_cascade_bit_for_bit(nch, order):
    """Sections one after the other over whole columns (eight at a time, past the last column
    the last again) and the one-column two-section loop give the cascade's numbers."""
    sos, zi = kin._butter_sos(order, 0.3)
    rng = np.random.default_rng(nch * order)
    x = rng.standard_normal((37, nch)).cumsum(axis=0)
    for forward in (True, False):
        got = x.copy()
        kernels._sos_pass(got, len(got), sos, zi, forward)
        np.testing.assert_array_equal(got, _sosfilt_reference(x, sos, zi, forward))


def test_output_instants_and_split_equal_numpy():
    rng = np.random.default_rng(12)
    nout = rng.integers(0, 40, 9)
    q_offsets = np.r_[0, np.cumsum(nout)]
    t0 = rng.uniform(0, 100, 9)
    tq = np.empty(q_offsets[-1])
    kernels.output_instants(t0, q_offsets, 50.0, tq)
    np.testing.assert_array_equal(
        tq, np.repeat(t0, nout) + (np.arange(q_offsets[-1]) - np.repeat(q_offsets[:-1], nout)) / 50)
    x = rng.standard_normal((17, 6))
    a, g = np.empty((17, 3)), np.empty((17, 3))
    kernels.split_signals(x, a, g)
    np.testing.assert_array_equal(np.c_[a, g], x)


@pytest.mark.parametrize("device", ["ideal", "bmi160"])
def test_a_block_gives_each_clip_what_it_gets_alone(device):
    """Mixed vocabularies, repairs, refusals and one grid shared by clips of many lengths in
    one block: every clip's result is bit for bit its result alone."""
    rng = np.random.default_rng(8)
    motions = [_arm(n, rng) for n in (200, 61, 150, 62, 199, 30, 5)]
    gappy = _arm(90, rng)
    gappy.valid[40:44, 2] = False
    arm_only = Motion(motions[0].positions[:, :3], ARM[:3], motions[0].timestamps)
    huge = _arm(60, rng)
    huge.positions *= 1000.0
    motions += [gappy, arm_only, huge]
    opts = SimulationOptions(device=device, seed=2)
    ids = [f"m{k}" for k in range(len(motions))]
    with pytest.warns(RuntimeWarning):
        batch = imu_mod.simulate_many(motions, opts, ids, errors="return")
    assert isinstance(batch[-1], MotionError) and "millimetres" in str(batch[-1])
    assert batch[7].notes and not batch[0].notes
    for m, cid, got in zip(motions[:-1], ids, batch):
        with pytest.warns(RuntimeWarning) if got.notes else nullcontext():
            alone = imu_mod.simulate(m, opts, cid)
        assert got.accel.tobytes() == alone.accel.tobytes() and got.gyro.tobytes() == alone.gyro.tobytes()
        assert got.info == alone.info and got.notes == alone.notes
        # simulate_many keeps every result: C-contiguous views of the block's arrays, no copies
        assert got.accel.flags.c_contiguous and got.gyro.flags.c_contiguous
        assert got.accel.base is batch[0].accel.base and not got.accel.flags.owndata
    streamed = list(imu_mod.simulate_iter(motions[:-1], opts, ids[:-1]))
    for got, own in zip(batch, streamed):  # streamed: arrays of their own, the same numbers
        assert own.accel.tobytes() == got.accel.tobytes() and own.gyro.tobytes() == got.gyro.tobytes()
        assert own.accel.flags.owndata and own.gyro.flags.owndata and own.timestamps.flags.owndata



def test_threads_keep_their_own_spline_setups():
    """Two threads simulating clips of other grids at once get what one thread gets."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(9)
    sets = [[_arm(int(n), rng, fps=fps) for n in rng.integers(20, 200, 12)] for fps in (30.0, 25.0)]
    opts = SimulationOptions()
    alone = [[imu_mod.simulate(m, opts, f"c{k}") for k, m in enumerate(s)] for s in sets]

    def run(s):
        return [imu_mod.simulate(m, opts, f"c{k}") for _ in range(3) for k, m in enumerate(s)][-len(s):]

    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(run, sets))
    for got, ref in zip(both, alone):
        for a, b in zip(got, ref):
            assert a.accel.tobytes() == b.accel.tobytes() and a.gyro.tobytes() == b.gyro.tobytes()


def _untracked_corpus() -> list[Motion]:
    """Clips whose only repair is joints untracked in some frames: gaps of 1-10 frames inside,
    untracked runs at either end (trimmed), an optional joint (thumb) untracked now and then,
    too few good frames left, and frames whose kept times are not uniform."""
    rng = np.random.default_rng(11)
    out = []
    for k in range(40):
        m = _arm(int(rng.integers(30, 200)), rng)
        n = m.num_frames
        for _ in range(int(rng.integers(1, 5))):  # interior gaps of the wrist or elbow
            a = int(rng.integers(2, n - 12))
            m.valid[a:a + int(rng.integers(1, 11)), int(rng.choice([1, 2]))] = False
        if k % 4 == 1:
            m.valid[:int(rng.integers(1, 6)), 0] = False  # leading frames without the shoulder
        if k % 4 == 2:
            m.valid[n - int(rng.integers(1, 6)):, 2] = False  # trailing frames without the wrist
        if k % 5 == 3:
            m.valid[rng.random(n) < 0.05, 4] = False  # thumb: still used (>= its share), gapped
        out.append(m)
    few = _arm(40, rng)
    few.valid[3:, 2] = False  # three good frames: the general path words the error
    jumpy = _arm(60, rng)
    jumpy.valid[20:40, 1] = False
    jumpy.timestamps[25:] += 0.02  # a gap inside the filled run: uniform overall? not when kept
    jumpy.valid[:30, 0] = False
    return out + [few, jumpy]


def test_compiled_fill_of_untracked_joints_equals_the_general_repair_bit_for_bit(monkeypatch):
    motions = _untracked_corpus()
    ids = [f"u{k}" for k in range(len(motions))]
    opts = SimulationOptions(screen=None)
    calls = []
    real = imu_mod._motion_joints
    monkeypatch.setattr(imu_mod, "_motion_joints", lambda *a: calls.append(1) or real(*a))
    with pytest.warns(RuntimeWarning):
        fast = imu_mod.simulate_many(motions, opts, ids, errors="return")
    assert len(calls) < 5  # the compiled fill took nearly every clip (not the few / jumpy ones)

    def general(*args):  # every clip left to the per-clip repair
        args[-4][:] = -1

    monkeypatch.setattr(kernels, "fill_untracked", general)
    with pytest.warns(RuntimeWarning):
        slow = imu_mod.simulate_many(motions, opts, ids, errors="return")
    assert len(calls) >= len(motions)
    filled = trimmed = 0
    for a, b in zip(fast, slow):
        if isinstance(b, MotionError):
            assert isinstance(a, MotionError) and str(a) == str(b)
            continue
        for x, y in ((a.accel, b.accel), (a.gyro, b.gyro), (a.timestamps, b.timestamps)):
            np.testing.assert_array_equal(x, y)
        assert a.notes == b.notes and a.info == b.info
        filled += any("filled" in n for n in a.notes)
        trimmed += any("trimmed" in n for n in a.notes)
    assert filled > 30 and trimmed > 10 and any(isinstance(r, MotionError) for r in slow)


def test_butterworth_sections_equal_scipys_bit_for_bit():
    from scipy import signal

    rng = np.random.default_rng(12)
    for order in (2, 4, 6):
        for wn in np.concatenate([rng.uniform(1e-3, 0.999, 150), [1e-4, 0.1, 0.5, 0.9999]]).tolist():
            np.testing.assert_array_equal(kin._butter_lowpass_sos(order, wn),
                                          signal.butter(order, wn, output="sos"))


def test_design_steps_without_scipy_signal_equal_scipys_bit_for_bit():
    """The Butterworth poles and gain and the sections' steady state that a build computes
    without importing scipy.signal: the same numbers as ``signal.butter(..., output="zpk")`` and
    ``signal.sosfilt_zi``, also for unnormalised and odd-order sections."""
    from scipy import signal

    rng = np.random.default_rng(13)
    for order in (1, 2, 3, 4, 6):
        for wn in np.concatenate([rng.uniform(1e-3, 0.999, 60), [1e-4, 0.5, 0.9999]]).tolist():
            z, p, k = signal.butter(order, wn, output="zpk")
            got_p, got_k = kin._butter_zpk(order, wn)
            assert np.all(z == -1) and got_p.tobytes() == p.tobytes() and got_k == k
            sos = signal.butter(order, wn, output="sos")
            assert kin._sosfilt_zi(sos).tobytes() == signal.sosfilt_zi(sos).tobytes()
            scaled = sos * rng.uniform(0.5, 2.0, size=(len(sos), 1))  # a[0] != 1: normalised first
            assert kin._sosfilt_zi(scaled).tobytes() == signal.sosfilt_zi(scaled).tobytes()
