"""Shortcuts of the build's hot path (issue 13, fifth round) give what the plain numpy they
replace gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imu2safety.builders.build import _name, _size
from imu2safety.builders.sources import sorted_files
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


def _rglob_files(root: Path, pattern: str) -> list[Path]:
    """What sorted_files replaced: rglob + is_file, sorted by relative posix path."""
    return sorted((p for p in root.rglob(pattern) if p.is_file()),
                  key=lambda p: p.relative_to(root).as_posix())


def test_sorted_files_keeps_what_rglob_keeps_in_the_same_order(tmp_path):
    root = tmp_path / "in"
    for rel in ["b.skeleton", "a/z.skeleton", "a/b/c.skeleton", "a-b/x.skeleton", ".hidden.skeleton",
                "a/notes.txt", "A.SKELETON", "deep/er/est/y.skeleton", "a/b.skeleton"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    (root / "dir.skeleton").mkdir()  # a folder whose name matches: not a file
    (root / "link.skeleton").symlink_to(root / "b.skeleton")  # a linked file counts
    (root / "broken.skeleton").symlink_to(root / "missing")  # a dangling link does not
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.skeleton").write_text("o")
    (root / "linked_dir").symlink_to(outside, target_is_directory=True)  # not entered
    for pattern in ("*.skeleton", "*", "?.skeleton", "*.[st]*"):
        expected = _rglob_files(root, pattern)
        assert sorted_files(root, pattern) == expected, pattern
    assert root / "a/b.skeleton" in sorted_files(root, "*.skeleton")
    with pytest.raises(FileNotFoundError):
        sorted_files(root / "b.skeleton", "*")


def test_name_is_relative_to_the_input_folder_as_before(tmp_path):
    cases = [(tmp_path, tmp_path / "a" / "b.skeleton"), (Path("rel/dir"), Path("rel/dir/x/y.csv")),
             (Path("."), Path("x/y.csv")), (Path("/"), Path("/etc/z")),
             (tmp_path / "a", tmp_path / "ab" / "c"), (tmp_path / "a", tmp_path / "a")]
    for folder, path in cases:
        try:
            expected = path.relative_to(folder).as_posix()
        except ValueError:
            expected = path.name
        assert _name(folder, path) == expected, (folder, path)


def test_input_bytes_are_counted_with_one_stat(tmp_path):
    (tmp_path / "f").write_bytes(b"x" * 1234)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "1.jpg").write_bytes(b"y" * 10)
    (tmp_path / "d" / "2.jpg").write_bytes(b"z" * 5)
    assert _size(tmp_path / "f") == 1234 and _size(tmp_path / "d") == 15
    assert _size(tmp_path / "gone") == 0


def test_read_file_reuses_one_buffer_and_reads_every_byte(tmp_path, monkeypatch):
    from imu2safety.builders import build as build_module

    monkeypatch.setattr(build_module, "_BUFFER", bytearray())
    monkeypatch.setattr(build_module, "_BUFFER_MAX", 1000)
    rng = np.random.default_rng(1)
    contents = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (0, 10, 300, 999, 1000, 5000)]
    for k, c in enumerate(contents):
        (tmp_path / f"f{k}").write_bytes(c)
    views = []
    for k, c in enumerate(contents):
        got = build_module._read_file(tmp_path / f"f{k}")
        assert bytes(got) == c
        assert isinstance(got, bytes) == (len(c) >= 1000)  # (files above the cap: bytes of their own)
        views.append(got)
    assert len(build_module._BUFFER) <= 1000
    # one buffer, reused: an earlier view shows a later file's bytes (callers finish with one input
    # before reading the next)
    first = build_module._read_file(tmp_path / "f3")
    build_module._read_file(tmp_path / "f2")
    assert bytes(first[:300]) == contents[2] and bytes(first[300:]) == contents[3][300:]


def _numpy_shard_stats(values: np.ndarray) -> dict:
    """The numpy definition ``shard_stats`` replaced (float64 copy, five reductions)."""
    x = values.astype(np.float64)
    mean = x.mean(axis=0)
    return {"n": len(x), "mean": mean, "m2": ((x - mean) ** 2).sum(axis=0),
            "min": x.min(axis=0), "max": x.max(axis=0)}


@pytest.mark.parametrize("m", [1, 2, 9, 1000, 44_000])
def test_shard_stats_equal_numpy_bit_for_bit_signed_zeros_included(m):
    from imu2safety.builders.dataset.writer import shard_stats

    rng = np.random.default_rng(m)
    v = (rng.normal(size=(m, 6)) * [3, 3, 9, 1, 1, 1]).astype(np.float32)
    v[:, 1] = np.float32(-0.0)  # all -0.0: numpy's sum starts at +0.0, min and max stay -0.0
    v[:, 2] = rng.choice(np.array([0.0, -0.0], np.float32), size=m)  # equal values: the later one
    v[: m // 2, 3] = 7.25  # a constant run
    got, want = shard_stats(v), _numpy_shard_stats(v)
    assert got["n"] == want["n"] == m
    for k in ("mean", "m2", "min", "max"):
        assert got[k].dtype == np.float64 and got[k].shape == (6,)
        assert got[k].tobytes() == want[k].tobytes(), k  # (bytes: -0.0 and 0.0 differ)
    assert shard_stats(v[:0]) is None


def _numpy_dominant_frequency(acc_norm, rate, o):
    """``facts._dominant_frequency`` as it was before its window and grid were cached."""
    import math

    n = len(acc_norm)
    if n < 8 or n / rate * o.min_freq_hz < o.min_cycles * 0.999:
        return None
    x = (acc_norm - acc_norm.mean()) * np.hanning(n)
    n_fft = 1 << max(12, int(math.ceil(math.log2(8 * n))))
    power = np.abs(np.fft.rfft(x, n_fft)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    band = (freqs >= o.min_freq_hz) & (freqs <= min(o.max_freq_hz, rate / 2))
    total = power[freqs > 0.2].sum()
    if not band.any() or total <= 0:
        return None
    k = int(np.flatnonzero(band)[np.argmax(power[band])])
    f = freqs[k]
    if 0 < k < len(power) - 1:
        a, b, c = np.log(power[k - 1:k + 2] + 1e-300)
        denom = a - 2 * b + c
        if denom < 0:
            f += 0.5 * (a - c) / denom * (freqs[1] - freqs[0])
    half = 1.5 * rate / n
    share = float(power[(freqs >= f - half) & (freqs <= f + half)].sum() / total)
    if share < o.min_periodicity or f * n / rate < o.min_cycles:
        return None
    return float(f), share


def test_dominant_frequency_with_cached_window_and_grid_equals_numpy_bit_for_bit():
    from imu2safety.builders.instructions import facts as F

    o = F._DEFAULT_OPTIONS
    rng = np.random.default_rng(3)
    found = 0
    for n, rate, hz in [(8, 50.0, 1.0), (290, 50.0, 1.7), (290, 50.0, 0.0), (511, 30.0, 2.2),
                        (513, 30.0, 4.9), (3000, 100.0, 0.8), (600, 4.0, 1.9), (290, 50.0, 1.7)]:
        t = np.arange(n) / rate
        a = 9.8 + 2.0 * np.sin(2 * np.pi * hz * t) + rng.normal(0, 0.3, n)
        got, want = F._dominant_frequency(a, rate, o), _numpy_dominant_frequency(a, rate, o)
        assert got == want  # (floats compared exactly; None where the clip is not periodic)
        found += got is not None
    assert found >= 4
    assert not F._hanning(290).flags.writeable and not F._spectrum_grid(4096, 50.0, 0.5, 5.0)[0].flags.writeable
