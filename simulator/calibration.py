"""Sim-to-real calibration, fitted on paired recordings (simulated from a skeleton vs the real IMU).

A ``Calibration`` holds two corrections, applied in this order (``APPLY_ORDER``):

1. ``rotate``: the mounting rotation R taking the simulated device frame to the real device frame,
   ``v_real = R v_sim``, applied to the *ideal* accelerometer and gyroscope signals alike;
2. the device model (``devices.apply_device``), which is not part of the calibration;
3. ``map_quantiles``: optional monotone maps taking the synthetic distribution onto the real one,
   applied *last*, to the measured signals: first the magnitude maps (|accel| and |gyro|, each
   vector rescaled along its own direction), then the per-channel maps (ax ay az gx gy gz).

Fitting (``fit_calibration``): each (synthetic, real) pair, both (N, 6) at the same rate, is first
aligned in time by cross-correlating the rotation-invariant magnitudes |gyro| and |accel|; one
rotation is then solved over all aligned samples with ``Rotation.align_vectors`` (gyro carries the
rotation, gravity in the accelerometer the tilt); the quantile maps are then fitted between the
rotated synthetic and the real samples of the aligned spans. Fit the maps on synthetic recordings
made with the device profile you will simulate with afterwards.

The robust fit (``fit_mounting_robust``, used by ``fit_calibration``): skeleton-driven synthetic
clips and their real twins often agree poorly (on SmartFallMM only ~12 % of the pairs reach an
|accel| correlation of 0.5, and the plain fit over all pairs swung between 21 and 83 degrees with
the cutoff). So (1) each aligned pair is scored by the correlation of its |gyro| and |accel|
magnitudes, which do not depend on the mounting, and only pairs scoring at least ``min_pair_r``
enter; (2) the rotation is solved over their gyro vectors together with the gravity directions of
*still phases* (both signals quiet for ``min_still_s``: the mean accelerometer direction is the
gravity direction, robust to time misalignment and tracker jitter); (3) its uncertainty is the
90th percentile of the angle between the fit and bootstrap refits over resampled pairs; (4) it
falls back to the identity (no rotation), with the reason, when fewer than ``min_pairs`` pairs pass,
the directions do not pin a rotation down, or the uncertainty exceeds ``max_uncertainty_deg``.

The unpaired fit (``fit_distribution_calibration``): a target device's real recordings without
skeleton twins (e.g. the training subjects of a real wrist dataset that has no skeletons, such as
WEDA-FALL) still say how strong and how noisy its signals are. Magnitude maps (synthetic |accel|
and |gyro| quantiles onto the real ones) and then per-channel maps are fitted between the pooled
samples of all synthetic and all real recordings, after an optional mounting rotation (e.g. from
a paired fit on another dataset). No pairs, no time alignment; the maps follow the target's
class mix, so fit them on recordings of the same kinds of activity.

The per-label fit (``fit_label_calibration``): where the real recordings carry the same labels as
the synthetic ones (a skeleton source with a wrist IMU, e.g. UTD-MHAD or SmartFallMM, through its
training subjects), the unpaired maps are fitted once per label, each label's synthetic clips onto
the same label's real clips, besides the pooled maps for labels with too few real clips. How
hard an arm curl is, how long a person lies still after a fall: what the skeleton cannot show is
then taken per activity. It uses *labelled* real recordings, so a dataset calibrated this way is
no longer independent of real data: fit it on training subjects only and say so.
``Calibration.for_label`` picks the maps of a clip's label.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal
from scipy.spatial.transform import Rotation

CHANNELS: tuple[str, ...] = ("ax", "ay", "az", "gx", "gy", "gz")
APPLY_ORDER = "rotate (ideal signals) -> device model -> map_quantiles (measured signals, last)"
FORMAT_VERSION = 2  # 2: optional magnitude maps; version 1 files (no magnitude maps) still load
#: Written instead of FORMAT_VERSION when a calibration holds per-label maps (``by_label``), so
#: that files without them keep their bytes and readers of version 2 refuse what they cannot apply.
LABELS_FORMAT_VERSION = 3
READABLE_FORMAT_VERSIONS = (1, 2, 3)
#: Labels with fewer real clips than this use the pooled maps (``fit_label_calibration``).
MIN_LABEL_CLIPS = 3
#: Trees of the forest that predicts unlabelled real clips' labels (``predict_real_labels``).
PSEUDO_LABEL_TREES = 150
#: Magnitude columns of the magnitude maps.
MAGNITUDES: tuple[str, ...] = ("|a|", "|g|")
#: Fewer aligned samples than this (all pairs together) cannot pin a rotation down.
MIN_ALIGNED_SAMPLES = 100
#: Fewer finite samples per pair than this are refused.
MIN_PAIR_SAMPLES = 10


def _check_rotation(r: Rotation) -> Rotation:
    if not isinstance(r, Rotation) or not r.single:
        raise ValueError(f"mounting must be a single scipy Rotation, got {r!r}")
    return r


@dataclass
class Calibration:
    """Sim-to-real corrections.

    mounting: single Rotation, simulated device frame -> real device frame (v_real = R v_sim).
    synthetic_quantiles, real_quantiles: (Q, 6) float, columns ax ay az (m/s^2) gx gy gz (rad/s),
        each column non-decreasing; both None when there is no quantile map.
    synthetic_magnitudes, real_magnitudes: (Q, 2) float, columns |accel| (m/s^2) and |gyro|
        (rad/s), non-negative and non-decreasing; both None when there is no magnitude map.
    metadata: JSON-serialisable description of what it was fitted on; ``metadata["fitted_for"]``
        holds the placement, rate_hz, device, source and simulator_version of the synthetic
        recordings it was fitted on (``imu2safety calibrate`` writes it; ``check_applies`` reads it).
    by_label: label -> Calibration with the same mounting and that label's own maps
        (``fit_label_calibration``; ``metadata["label_key"]`` names the label: "source_label" or
        "activity"); ``for_label`` falls back to this calibration's pooled maps.
    """

    mounting: Rotation = field(default_factory=Rotation.identity)
    synthetic_quantiles: np.ndarray | None = None
    real_quantiles: np.ndarray | None = None
    metadata: dict = field(default_factory=dict)
    synthetic_magnitudes: np.ndarray | None = None
    real_magnitudes: np.ndarray | None = None
    by_label: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_rotation(self.mounting)
        self.synthetic_quantiles, self.real_quantiles = _check_maps(
            "synthetic_quantiles", self.synthetic_quantiles, "real_quantiles", self.real_quantiles,
            len(CHANNELS))
        self.synthetic_magnitudes, self.real_magnitudes = _check_maps(
            "synthetic_magnitudes", self.synthetic_magnitudes, "real_magnitudes",
            self.real_magnitudes, len(MAGNITUDES))
        for label, q in (("synthetic_magnitudes", self.synthetic_magnitudes),
                         ("real_magnitudes", self.real_magnitudes)):
            if q is not None and (q < 0).any():
                raise ValueError(f"{label} must be non-negative (vector lengths)")
        for label, sub in self.by_label.items():
            if not isinstance(label, str) or not isinstance(sub, Calibration):
                raise ValueError(f"by_label maps labels (str) to Calibrations, got {label!r}: {sub!r}")
            if sub.by_label:
                raise ValueError(f"by_label[{label!r}] has per-label maps of its own")
            if (sub.mounting * self.mounting.inv()).magnitude() > 1e-9:
                raise ValueError(f"by_label[{label!r}] has another mounting rotation than the "
                                 "calibration; per-label maps share it")

    def for_label(self, label: str | None) -> "Calibration":
        """The calibration for a clip labelled ``label``: that label's maps when fitted
        (``by_label``), else this calibration itself (pooled maps)."""
        return self.by_label.get(label, self) if label is not None else self

    @property
    def has_quantile_maps(self) -> bool:
        return self.synthetic_quantiles is not None or self.synthetic_magnitudes is not None

    def rotate(self, accel, gyro) -> tuple[np.ndarray, np.ndarray]:
        """Ideal (N, 3) accel (m/s^2) and gyro (rad/s) from the simulated to the real device frame."""
        a, g = _check_pair_of_signals(accel, gyro)
        if a.shape[0] == 0:
            return a.copy(), g.copy()
        return self.mounting.apply(a), self.mounting.apply(g)

    def map_quantiles(self, accel, gyro) -> tuple[np.ndarray, np.ndarray]:
        """Monotone piecewise-linear maps of measured (N, 3) accel and gyro.

        First the magnitude maps (when fitted): each accel (gyro) vector is rescaled along its own
        direction so that its length v becomes map(v) (>= 0; a zero vector stays zero). Then the
        per-channel maps (when fitted). Each map: between the fitted quantiles ``np.interp``
        (synthetic quantile -> real quantile; equal synthetic quantiles are merged, their real
        quantiles averaged); beyond the outermost quantiles it is extended linearly with the slope
        of its outermost segment (not clamped, so peaks such as impacts keep growing). Without
        maps: a copy of the inputs.
        """
        a, g = _check_pair_of_signals(accel, gyro)
        a, g = a.copy(), g.copy()
        if self.synthetic_magnitudes is not None:
            for k, v in enumerate((a, g)):
                n = np.linalg.norm(v, axis=1)
                m = np.maximum(_piecewise_linear(n, self.synthetic_magnitudes[:, k],
                                                 self.real_magnitudes[:, k]), 0.0)
                v *= np.divide(m, n, out=np.zeros_like(n), where=n > 0)[:, None]
        if self.synthetic_quantiles is None:
            return a, g
        both = np.concatenate([a, g], axis=1)
        out = np.empty_like(both)
        for ch in range(len(CHANNELS)):
            out[:, ch] = _piecewise_linear(both[:, ch], self.synthetic_quantiles[:, ch],
                                           self.real_quantiles[:, ch])
        return out[:, :3], out[:, 3:]

    def to_dict(self) -> dict:
        """JSON-ready dict; the quaternion is stored scalar-first (w, x, y, z)."""
        maps = mags = None
        if self.synthetic_quantiles is not None:
            maps = {
                name: {"synthetic": self.synthetic_quantiles[:, i].tolist(),
                       "real": self.real_quantiles[:, i].tolist()}
                for i, name in enumerate(CHANNELS)
            }
        if self.synthetic_magnitudes is not None:
            mags = {name: {"synthetic": self.synthetic_magnitudes[:, i].tolist(),
                           "real": self.real_magnitudes[:, i].tolist()}
                    for i, name in enumerate(MAGNITUDES)}
        return {
            "format": "imu2safety.calibration",
            "format_version": FORMAT_VERSION,
            "apply_order": APPLY_ORDER,
            "mounting": {
                "quaternion": self.mounting.as_quat(scalar_first=True).tolist(),
                "quaternion_order": "scalar-first (w, x, y, z)",
                "meaning": "rotates simulated device-frame vectors into the real device frame: "
                           "v_real = R v_sim (accelerometer and gyroscope alike)",
            },
            "channels": list(CHANNELS),
            "units": {"ax ay az": "m/s^2", "gx gy gz": "rad/s"},
            "quantile_maps": maps,
            "magnitude_maps": mags,
            "metadata": self.metadata,
        } | ({"format_version": LABELS_FORMAT_VERSION,
              "by_label": {k: _label_maps(v) for k, v in sorted(self.by_label.items())}}
             if self.by_label else {})

    @classmethod
    def from_dict(cls, d: dict) -> "Calibration":
        if d.get("format") != "imu2safety.calibration":
            raise ValueError(f"not an imu2safety calibration (format={d.get('format')!r})")
        if d.get("format_version") not in READABLE_FORMAT_VERSIONS:
            raise ValueError(
                f"calibration format_version {d.get('format_version')} is not one of "
                f"{READABLE_FORMAT_VERSIONS}; refit it"
            )
        q = np.asarray(d["mounting"]["quaternion"], dtype=np.float64)
        if q.shape != (4,) or not np.isfinite(q).all() or np.linalg.norm(q) < 1e-6:
            raise ValueError(f"mounting quaternion must be 4 finite numbers (w, x, y, z), got {q}")
        # A stored unit quaternion is taken as is so that save/load round-trips bit for bit.
        unit = abs(float(np.linalg.norm(q)) - 1.0) < 1e-12
        mounting = Rotation(q, normalize=not unit, scalar_first=True)
        syn, real = _maps_from_dict(d.get("quantile_maps"), CHANNELS, "quantile_maps")
        syn_m, real_m = _maps_from_dict(d.get("magnitude_maps"), MAGNITUDES, "magnitude_maps")
        by_label = {}
        for label, m in (d.get("by_label") or {}).items():
            ls, lr = _maps_from_dict(m.get("quantile_maps"), CHANNELS, f"by_label[{label!r}]")
            lms, lmr = _maps_from_dict(m.get("magnitude_maps"), MAGNITUDES, f"by_label[{label!r}]")
            by_label[label] = cls(mounting, ls, lr, dict(m.get("metadata") or {}), lms, lmr)
        return cls(mounting, syn, real, dict(d.get("metadata") or {}), syn_m, real_m, by_label)

    def save(self, path) -> Path:
        """Write JSON to ``path``; returns the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n")
        return path

    @classmethod
    def load(cls, path) -> "Calibration":
        return cls.from_dict(json.loads(Path(path).read_text()))


def _label_maps(cal: "Calibration") -> dict:
    """A per-label calibration as stored under ``by_label``: its maps and metadata (the mounting
    is the parent's)."""
    d = cal.to_dict()
    return {k: d[k] for k in ("quantile_maps", "magnitude_maps", "metadata")}


def _maps_from_dict(maps: dict | None, names: tuple[str, ...], key: str):
    if maps is None:
        return None, None
    missing = [c for c in names if c not in maps]
    if missing:
        raise ValueError(f"{key} lacks columns {missing}")
    return (np.stack([np.asarray(maps[c]["synthetic"], float) for c in names], axis=1),
            np.stack([np.asarray(maps[c]["real"], float) for c in names], axis=1))


def _check_maps(syn_label: str, syn, real_label: str, real, width: int):
    """Both (Q >= 2, width) finite, non-decreasing down each column and of one shape, or both None."""
    if (syn is None) != (real is None):
        raise ValueError(f"give both {syn_label} and {real_label}, or neither")
    if syn is None:
        return None, None
    syn, real = np.asarray(syn, dtype=np.float64), np.asarray(real, dtype=np.float64)
    for label, q in ((syn_label, syn), (real_label, real)):
        if q.ndim != 2 or q.shape[1] != width or q.shape[0] < 2:
            raise ValueError(f"{label} must be (Q >= 2, {width}), got {q.shape}")
        if not np.isfinite(q).all():
            raise ValueError(f"{label} contains NaN or Inf")
        if (np.diff(q, axis=0) < 0).any():
            raise ValueError(f"{label} must be non-decreasing down each column")
    if syn.shape != real.shape:
        raise ValueError(f"quantile shapes differ: {syn.shape} vs {real.shape}")
    return syn, real


def _check_pair_of_signals(accel, gyro) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(accel, dtype=np.float64)
    g = np.asarray(gyro, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 3 or g.shape != a.shape:
        raise ValueError(f"accel and gyro must both be (N, 3), got {a.shape} and {g.shape}")
    return a, g


def _piecewise_linear(x: np.ndarray, xq: np.ndarray, yq: np.ndarray) -> np.ndarray:
    xp, inverse = np.unique(xq, return_inverse=True)
    fp = np.bincount(inverse, weights=yq) / np.bincount(inverse)
    if xp.size == 1:  # a constant synthetic channel: shift it onto the real level
        return x - xp[0] + fp[0]
    y = np.interp(x, xp, fp)
    lo, hi = x < xp[0], x > xp[-1]
    y[lo] = fp[0] + (x[lo] - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0])
    y[hi] = fp[-1] + (x[hi] - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    return y


def _magnitude(x, label: str) -> np.ndarray:
    """(N,) from (N,) or row norms of (N, k); non-finite entries become NaN."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 2:
        arr = np.linalg.norm(arr, axis=1)
    elif arr.ndim != 1:
        raise ValueError(f"{label} must be (N,) or (N, k), got {arr.shape}")
    return np.where(np.isfinite(arr), arr, np.nan)


def _xcorr(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised cross-correlation c[lag] ~ sum_n b[n + lag] a[n] for |lag| <= max_lag.

    NaN samples count as the mean (they add nothing)."""
    a = np.nan_to_num(a - np.nanmean(a)) if np.isfinite(a).any() else np.zeros_like(a)
    b = np.nan_to_num(b - np.nanmean(b)) if np.isfinite(b).any() else np.zeros_like(b)
    c = signal.correlate(b, a, mode="full", method="fft")
    lags = signal.correlation_lags(b.size, a.size, mode="full")
    keep = np.abs(lags) <= max_lag
    norm = math.sqrt(float(a @ a) * float(b @ b))
    return lags[keep], (c[keep] / norm if norm > 0 else np.zeros(int(keep.sum())))


def _check_max_lag(max_lag) -> int:
    if isinstance(max_lag, bool) or not isinstance(max_lag, (int, np.integer)) or max_lag < 0:
        raise ValueError(f"max_lag must be an int >= 0 (samples), got {max_lag!r}")
    return int(max_lag)


def best_lag(a, b, max_lag: int) -> int:
    """Lag (samples) by which ``b`` runs behind ``a``: b[n + lag] ~ a[n], |lag| <= max_lag.

    a, b: (N,) signals or (N, k) vectors (their row norms, i.e. magnitudes, are correlated);
    lengths may differ. Found by FFT cross-correlation of the mean-removed magnitudes; non-finite
    samples are ignored with a warning.
    """
    max_lag = _check_max_lag(max_lag)
    ma, mb = _magnitude(a, "a"), _magnitude(b, "b")
    if ma.size == 0 or mb.size == 0:
        raise ValueError("best_lag needs non-empty signals")
    bad = int(np.isnan(ma).sum() + np.isnan(mb).sum())
    if bad:
        warnings.warn(f"best_lag: ignoring {bad} non-finite samples", RuntimeWarning, stacklevel=2)
    lags, c = _xcorr(ma, mb, max_lag)
    return int(lags[np.argmax(c)])


def _check_recording(x, label: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != len(CHANNELS):
        raise ValueError(f"{label} must be (N, 6) ax ay az gx gy gz, got {arr.shape}")
    return arr


def _align_pairs(pairs, max_lag: int | None):
    """Time-align each (synthetic, real) pair; returns (aligned synthetic, aligned real, lags)."""
    pairs = list(pairs)
    if not pairs:
        raise ValueError("need at least one (synthetic, real) pair")
    syn_out, real_out, lags, dropped = [], [], [], 0
    for i, pair in enumerate(pairs):
        if len(pair) != 2:
            raise ValueError(f"pair {i} must be (synthetic, real)")
        syn = _check_recording(pair[0], f"pair {i} synthetic")
        real = _check_recording(pair[1], f"pair {i} real")
        if min(len(syn), len(real)) < MIN_PAIR_SAMPLES:
            raise ValueError(
                f"pair {i} has {len(syn)} synthetic and {len(real)} real samples; "
                f"need at least {MIN_PAIR_SAMPLES} each"
            )
        lag_limit = min(len(syn), len(real)) // 4 if max_lag is None else _check_max_lag(max_lag)
        lag_g, c_g = _xcorr(_magnitude(syn[:, 3:], "gyro"), _magnitude(real[:, 3:], "gyro"), lag_limit)
        _, c_a = _xcorr(_magnitude(syn[:, :3], "accel"), _magnitude(real[:, :3], "accel"), lag_limit)
        lag = int(lag_g[np.argmax(c_g + c_a)])
        start = max(0, -lag)
        stop = min(len(syn), len(real) - lag)
        s, r = syn[start:stop], real[start + lag:stop + lag]
        finite = np.isfinite(s).all(axis=1) & np.isfinite(r).all(axis=1)
        dropped += int((~finite).sum())
        syn_out.append(s[finite])
        real_out.append(r[finite])
        lags.append(lag)
    if dropped:
        warnings.warn(f"calibration: dropped {dropped} aligned samples holding NaN or Inf",
                      RuntimeWarning, stacklevel=3)
    total = sum(len(s) for s in syn_out)
    if total < MIN_ALIGNED_SAMPLES:
        raise ValueError(
            f"only {total} aligned finite samples over {len(pairs)} pairs; "
            f"need at least {MIN_ALIGNED_SAMPLES} (longer recordings or more pairs)"
        )
    return syn_out, real_out, lags


def _fit_rotation(syn: np.ndarray, real: np.ndarray, gyro_share: float) -> tuple[Rotation, float]:
    """One rotation R with real ~ R syn over stacked accel and gyro vectors; returns (R, rssd)."""
    if not 0.0 <= gyro_share <= 1.0:
        raise ValueError(f"gyro_share must be in [0, 1], got {gyro_share}")
    blocks_a, blocks_b, weights = [], [], []
    for cols, share in ((slice(0, 3), 1.0 - gyro_share), (slice(3, 6), gyro_share)):
        b, a = syn[:, cols], real[:, cols]
        energy = float(np.sum(b * b))
        if share > 0 and energy > 0:
            # Each sensor's weights sum to its share of the fit, whatever its units and magnitude.
            blocks_a.append(a)
            blocks_b.append(b)
            weights.append(np.full(len(b), share / energy))
    if not blocks_a:
        raise ValueError("the synthetic recordings hold no signal to fit a rotation to")
    a, b, w = np.concatenate(blocks_a), np.concatenate(blocks_b), np.concatenate(weights)
    s = np.linalg.svd((w[:, None] * a).T @ b, compute_uv=False)
    if s[1] < 1e-3 * s[0]:
        raise ValueError(
            "the rotation is unobservable: the data point in one direction only "
            "(e.g. the device lay still); use recordings with wrist rotations"
        )
    rotation, rssd = Rotation.align_vectors(a, b, weights=w)
    return rotation, float(rssd)


def fit_mounting(pairs, max_lag: int | None = None, gyro_share: float = 0.5) -> Rotation:
    """Mounting rotation (simulated -> real device frame) from (synthetic, real) pairs.

    pairs: iterable of (synthetic (N, 6), real (M, 6)) recordings of the same movement at the same
        rate, columns ax ay az (m/s^2) gx gy gz (rad/s); lengths may differ.
    max_lag: largest time offset searched, samples (default a quarter of the shorter recording).
    gyro_share: fraction of the fit's weight on the gyroscope (the rest on the accelerometer).
    """
    syn, real, _ = _align_pairs(pairs, max_lag)
    rotation, _ = _fit_rotation(np.concatenate(syn), np.concatenate(real), gyro_share)
    return rotation


@dataclass(frozen=True)
class MountingFit:
    """Result of ``fit_mounting_robust``.

    rotation: simulated -> real device frame (identity when it fell back).
    uncertainty_deg: 90th percentile bootstrap angle, degrees (None when it could not be fitted).
    pairs_used / pairs_total: pairs that passed the quality screen / all pairs.
    pair_scores: per pair, mean of the |gyro| and |accel| correlations after alignment.
    still_phases: still phases whose gravity directions entered the fit.
    fallback: None when the fitted rotation is used, else why the identity is used instead.
    """

    rotation: Rotation
    uncertainty_deg: float | None
    pairs_used: int
    pairs_total: int
    pair_scores: tuple[float, ...]
    still_phases: int
    fallback: str | None

    def to_dict(self) -> dict:
        return {"rotation_angle_deg": float(np.degrees(self.rotation.magnitude())),
                "uncertainty_deg": self.uncertainty_deg, "pairs_used": self.pairs_used,
                "pairs_total": self.pairs_total, "still_phases": self.still_phases,
                "fallback": self.fallback}


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / d if d > 0 else 0.0


def _still_phases(syn: np.ndarray, real: np.ndarray, gyro_max: float, accel_tol: float,
                  min_len: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(synthetic gravity direction, real gravity direction, samples) of every run of at least
    ``min_len`` aligned samples where both recordings are still (|gyro| < gyro_max rad/s and
    ||accel| - g| < accel_tol m/s^2)."""
    from .motion import G

    quiet = np.ones(len(syn), dtype=bool)
    for x in (syn, real):
        quiet &= (np.linalg.norm(x[:, 3:], axis=1) < gyro_max)
        quiet &= np.abs(np.linalg.norm(x[:, :3], axis=1) - G) < accel_tol
    edges = np.flatnonzero(np.diff(np.r_[0, quiet.astype(np.int8), 0]))
    out = []
    for start, stop in zip(edges[::2], edges[1::2]):
        if stop - start >= min_len:
            gs, gr = syn[start:stop, :3].mean(0), real[start:stop, :3].mean(0)
            out.append((gs / np.linalg.norm(gs), gr / np.linalg.norm(gr), int(stop - start)))
    return out


def _solve(gyro_syn, gyro_real, still, still_share: float) -> Rotation | None:
    """align_vectors over gyro vectors and still gravity directions; None if unobservable."""
    a_blocks, b_blocks, w_blocks = [], [], []
    energy = float(np.sum(gyro_syn * gyro_syn)) if len(gyro_syn) else 0.0
    share_g = 1.0 - still_share if still else 1.0
    if energy > 0:
        a_blocks.append(gyro_real)
        b_blocks.append(gyro_syn)
        w_blocks.append(np.full(len(gyro_syn), share_g / energy))
    if still:
        n = np.array([s[2] for s in still], dtype=np.float64)
        a_blocks.append(np.stack([s[1] for s in still]))
        b_blocks.append(np.stack([s[0] for s in still]))
        w_blocks.append((still_share if energy > 0 else 1.0) * n / n.sum())
    if not a_blocks:
        return None
    a, b, w = np.concatenate(a_blocks), np.concatenate(b_blocks), np.concatenate(w_blocks)
    sv = np.linalg.svd((w[:, None] * a).T @ b, compute_uv=False)
    if sv[1] < 1e-2 * sv[0]:
        return None
    return Rotation.align_vectors(a, b, weights=w)[0]


def fit_mounting_robust(pairs, max_lag: int | None = None, min_pair_r: float = 0.6,
                        min_pairs: int = 2, still_gyro_rad_s: float = 0.3,
                        still_accel_tol: float = 0.6, min_still_samples: int = 25,
                        still_share: float = 0.5, max_uncertainty_deg: float = 20.0,
                        n_boot: int = 50, seed: int = 0) -> MountingFit:
    """Screened, still-phase-aided mounting rotation with its uncertainty and fallback.

    pairs: (synthetic (N, 6), real (M, 6)) at one rate, as for ``fit_mounting``.
    min_pair_r: least pair score (mean of the |gyro| and |accel| correlations) to enter the fit.
    still_*: a still phase is >= min_still_samples samples with |gyro| < still_gyro_rad_s and
        ||accel| - g| < still_accel_tol m/s^2 in both recordings; still_share is the weight of
        the still gravity directions against the gyro vectors.
    Returns a MountingFit (see the module docstring for the steps and the fallback rules).
    """
    syn_list, real_list, _ = _align_pairs(pairs, max_lag)
    scores = []
    for s, r in zip(syn_list, real_list):
        if len(s) < MIN_PAIR_SAMPLES:
            scores.append(0.0)
            continue
        rg = _corr(np.linalg.norm(s[:, 3:], axis=1), np.linalg.norm(r[:, 3:], axis=1))
        ra = _corr(np.linalg.norm(s[:, :3], axis=1), np.linalg.norm(r[:, :3], axis=1))
        scores.append(0.5 * (rg + ra))
    keep = [k for k, sc in enumerate(scores) if sc >= min_pair_r]
    pieces = {k: (syn_list[k][:, 3:], real_list[k][:, 3:],
                  _still_phases(syn_list[k], real_list[k], still_gyro_rad_s, still_accel_tol,
                                min_still_samples)) for k in keep}

    def solve(members) -> Rotation | None:
        if not members:
            return None
        gs = np.concatenate([pieces[k][0] for k in members])
        gr = np.concatenate([pieces[k][1] for k in members])
        return _solve(gs, gr, [p for k in members for p in pieces[k][2]], still_share)

    n_still = sum(len(p[2]) for p in pieces.values())
    common = dict(pairs_total=len(scores), pair_scores=tuple(round(x, 4) for x in scores),
                  pairs_used=len(keep), still_phases=n_still)
    if len(keep) < min_pairs:
        return MountingFit(Rotation.identity(), None, fallback=(
            f"only {len(keep)} of {len(scores)} pairs score >= {min_pair_r} (|gyro|, |accel| "
            f"correlation); need {min_pairs}"), **common)
    rotation = solve(keep)
    if rotation is None:
        return MountingFit(Rotation.identity(), None, fallback=(
            "the screened pairs' directions do not pin a rotation down"), **common)
    rng = np.random.default_rng(seed)
    angles = []
    for _ in range(n_boot):
        boot = solve(list(rng.choice(keep, size=len(keep), replace=True)))
        angles.append(180.0 if boot is None else np.degrees((boot * rotation.inv()).magnitude()))
    unc = float(np.percentile(angles, 90)) if angles else 0.0
    if unc > max_uncertainty_deg:
        return MountingFit(Rotation.identity(), round(unc, 3), fallback=(
            f"bootstrap uncertainty {unc:.1f} deg exceeds {max_uncertainty_deg} deg"), **common)
    return MountingFit(rotation, round(unc, 3), fallback=None, **common)


def _as_list(arrays) -> list[np.ndarray]:
    if isinstance(arrays, np.ndarray) and arrays.ndim == 2:
        return [arrays]
    return list(arrays)


def _finite_column_quantiles(arrays, levels: np.ndarray, label: str) -> np.ndarray:
    parts = [_check_recording(x, label) for x in _as_list(arrays)]
    data = np.concatenate(parts) if parts else np.empty((0, len(CHANNELS)))
    finite = np.isfinite(data)
    if not finite.all():
        warnings.warn(f"fit_quantiles: dropped {int((~finite).sum())} non-finite {label} values",
                      RuntimeWarning, stacklevel=3)
    out = np.empty((levels.size, len(CHANNELS)))
    for ch, name in enumerate(CHANNELS):
        col = data[finite[:, ch], ch]
        if col.size < levels.size:
            raise ValueError(
                f"{label} channel {name} has {col.size} finite samples; need at least {levels.size} "
                f"for {levels.size} quantiles"
            )
        out[:, ch] = np.quantile(col, levels)
    return out


def fit_quantiles(synthetic_arrays, real_arrays,
                  n_quantiles: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """Matching (n_quantiles, 6) synthetic and real quantiles at levels linspace(0, 1, n_quantiles).

    Each argument: one (N, 6) array or a sequence of them (pooled). Non-finite values are dropped
    per channel with a warning.
    """
    if isinstance(n_quantiles, bool) or not isinstance(n_quantiles, (int, np.integer)) or n_quantiles < 2:
        raise ValueError(f"n_quantiles must be an int >= 2, got {n_quantiles!r}")
    levels = np.linspace(0.0, 1.0, int(n_quantiles))
    return (_finite_column_quantiles(synthetic_arrays, levels, "synthetic"),
            _finite_column_quantiles(real_arrays, levels, "real"))


def fit_calibration(pairs, n_quantiles: int = 101, fit_quantile_maps: bool = True,
                    max_lag: int | None = None, gyro_share: float = 0.5,
                    rotation_fit: str = "robust") -> Calibration:
    """Mounting rotation and (optionally) quantile maps from (synthetic, real) pairs.

    See ``fit_mounting`` for ``pairs``, ``max_lag`` and ``gyro_share``. ``rotation_fit``: "robust"
    (``fit_mounting_robust``: screened pairs, still phases, uncertainty, identity fallback; its
    report is in ``metadata["mounting_fit"]``), "all" (least squares over every aligned sample,
    ``fit_mounting``) or "none" (identity). The quantile maps are fitted between the rotated
    synthetic and the real samples of the time-aligned spans of all pairs.
    """
    if rotation_fit not in ("robust", "all", "none"):
        raise ValueError(f"rotation_fit must be 'robust', 'all' or 'none', got {rotation_fit!r}")
    pairs = list(pairs)
    syn_list, real_list, lags = _align_pairs(pairs, max_lag)
    syn, real = np.concatenate(syn_list), np.concatenate(real_list)
    report = None
    if rotation_fit == "all":
        rotation, rssd = _fit_rotation(syn, real, gyro_share)
    else:
        rssd = None
        rotation = Rotation.identity()
        if rotation_fit == "robust":
            report = fit_mounting_robust(pairs, max_lag)
            rotation = report.rotation
    syn_q = real_q = None
    if fit_quantile_maps:
        rotated = np.concatenate([rotation.apply(syn[:, :3]), rotation.apply(syn[:, 3:])], axis=1)
        syn_q, real_q = fit_quantiles(rotated, real, n_quantiles)
    metadata = {
        "fitted_by": "imu2safety.simulator.calibration.fit_calibration",
        "n_pairs": len(lags),
        "lags_samples": lags,
        "n_aligned_samples": int(len(syn)),
        "max_lag": max_lag,
        "gyro_share": float(gyro_share),
        "rotation_fit": rotation_fit,
        "mounting_fit": None if report is None else report.to_dict(),
        "rotation_angle_deg": float(np.degrees(rotation.magnitude())),
        "align_vectors_rssd": rssd,
        "n_quantiles": int(n_quantiles) if fit_quantile_maps else None,
    }
    return Calibration(rotation, syn_q, real_q, metadata)


def _magnitude_quantiles(arrays, levels: np.ndarray, label: str) -> np.ndarray:
    """(Q, 2) quantiles of |accel| and |gyro| over the finite rows of all (N, 6) arrays."""
    data = np.concatenate([_check_recording(x, label) for x in _as_list(arrays)] or
                          [np.empty((0, len(CHANNELS)))])
    data = data[np.isfinite(data).all(axis=1)]
    if len(data) < levels.size:
        raise ValueError(f"{label} has {len(data)} finite samples; need at least {levels.size} "
                         f"for {levels.size} quantiles")
    mags = np.column_stack([np.linalg.norm(data[:, :3], axis=1), np.linalg.norm(data[:, 3:], axis=1)])
    return np.quantile(mags, levels, axis=0)


def fit_distribution_calibration(synthetic_arrays, real_arrays, mounting: Rotation | None = None,
                                 n_quantiles: int = 101, magnitudes: bool = True,
                                 channels: bool = True) -> Calibration:
    """Quantile maps from *unpaired* recordings: the target device's distribution, no twins needed.

    synthetic_arrays: (N, 6) arrays (or one array) from the simulator, ax ay az (m/s^2) gx gy gz
        (rad/s) in the simulated device frame; real_arrays: (M, 6) arrays recorded by the target
        device at the same rate (e.g. a real dataset's training subjects), pooled.
    mounting: rotation applied to the synthetic vectors first (kept as the calibration's
        mounting; default identity).
    magnitudes: fit magnitude maps (|accel|, |gyro| quantiles, synthetic onto real);
    channels: then fit per-channel maps between the magnitude-mapped synthetic and the real
        samples. Returns a Calibration whose ``map_quantiles`` applies both, in that order.
    """
    if isinstance(n_quantiles, bool) or not isinstance(n_quantiles, (int, np.integer)) or n_quantiles < 2:
        raise ValueError(f"n_quantiles must be an int >= 2, got {n_quantiles!r}")
    if not (magnitudes or channels):
        raise ValueError("fit at least one of magnitudes and channels")
    rotation = Rotation.identity() if mounting is None else _check_rotation(mounting)
    levels = np.linspace(0.0, 1.0, int(n_quantiles))
    syn = [_check_recording(x, "synthetic") for x in _as_list(synthetic_arrays)]
    real = [_check_recording(x, "real") for x in _as_list(real_arrays)]
    if not syn or not real:
        raise ValueError("need at least one synthetic and one real recording")
    syn = [np.concatenate([rotation.apply(x[:, :3]), rotation.apply(x[:, 3:])], axis=1)
           if len(x) else x for x in syn]
    cal = Calibration(rotation)
    if magnitudes:
        cal = Calibration(rotation, synthetic_magnitudes=_magnitude_quantiles(syn, levels, "synthetic"),
                          real_magnitudes=_magnitude_quantiles(real, levels, "real"))
    syn_q = real_q = None
    if channels:
        mapped = [np.concatenate(cal.map_quantiles(x[:, :3], x[:, 3:]), axis=1) for x in syn]
        syn_q, real_q = fit_quantiles(mapped, real, int(n_quantiles))
    metadata = {
        "fitted_by": "imu2safety.simulator.calibration.fit_distribution_calibration",
        "pairing": "unpaired",
        "n_synthetic": len(syn), "n_real": len(real),
        "n_synthetic_samples": int(sum(len(x) for x in syn)),
        "n_real_samples": int(sum(len(x) for x in real)),
        "rotation_angle_deg": float(np.degrees(rotation.magnitude())),
        "n_quantiles": int(n_quantiles), "magnitude_maps": bool(magnitudes),
        "channel_maps": bool(channels),
    }
    return Calibration(rotation, syn_q, real_q, metadata, cal.synthetic_magnitudes, cal.real_magnitudes)


def fit_label_calibration(synthetic_arrays, synthetic_labels, real_arrays, real_labels,
                          mounting: Rotation | None = None, n_quantiles: int = 101,
                          min_real_clips: int = MIN_LABEL_CLIPS,
                          label_key: str = "source_label") -> Calibration:
    """Unpaired maps per label (see the module docstring), with pooled maps for the rest.

    synthetic_arrays, real_arrays: (N, 6) recordings as for ``fit_distribution_calibration``
    (same rate); synthetic_labels, real_labels: one label (str) per recording, the same vocabulary
    on both sides (``label_key`` names it, e.g. "source_label"). The pooled maps are fitted on all
    recordings; each label with at least ``min_real_clips`` real recordings gets its own maps,
    fitted on its synthetic recordings onto its real ones (same mounting, same options). Returns a
    Calibration whose ``for_label`` picks them; ``metadata["labels_pooled"]`` says why each other
    synthetic label uses the pooled maps.
    """
    syn, real = _as_list(synthetic_arrays), _as_list(real_arrays)
    syn_labels, real_labels = [str(x) for x in synthetic_labels], [str(x) for x in real_labels]
    if len(syn_labels) != len(syn) or len(real_labels) != len(real):
        raise ValueError(f"{len(syn_labels)} labels for {len(syn)} synthetic recordings and "
                         f"{len(real_labels)} for {len(real)} real ones: one label per recording")
    _check_min_real_clips(min_real_clips)
    return _with_label_maps(fit_distribution_calibration(syn, real, mounting, n_quantiles), syn,
                            syn_labels, real, real_labels, n_quantiles, min_real_clips, label_key)


def _check_min_real_clips(min_real_clips) -> None:
    if isinstance(min_real_clips, bool) or not isinstance(min_real_clips, (int, np.integer)) \
            or min_real_clips < 1:
        raise ValueError(f"min_real_clips must be an int >= 1, got {min_real_clips!r}")


def _with_label_maps(pooled: Calibration, syn: list, syn_labels: list[str], real: list,
                     real_labels: list[str], n_quantiles: int, min_real_clips: int,
                     label_key: str) -> Calibration:
    """``pooled`` (the unpaired fit on all recordings) with ``fit_label_calibration``'s maps per
    label added (same mounting and options) and its metadata saying which labels have them."""
    by_label, pooled_why = {}, {}
    for label in sorted(set(syn_labels)):
        r = [x for x, lab in zip(real, real_labels) if lab == label]
        if len(r) < min_real_clips:
            pooled_why[label] = f"{len(r)} real clips (fewer than {min_real_clips})"
            continue
        s = [x for x, lab in zip(syn, syn_labels) if lab == label]
        try:
            by_label[label] = fit_distribution_calibration(s, r, pooled.mounting, n_quantiles)
        except ValueError as err:  # e.g. too few finite samples for the quantiles
            pooled_why[label] = str(err)
    pooled.metadata.update(fitted_by="imu2safety.simulator.calibration.fit_label_calibration",
                           pairing="unpaired, per label", label_key=label_key,
                           labels_fitted=sorted(by_label), labels_pooled=pooled_why,
                           min_real_clips=int(min_real_clips))
    pooled.by_label = by_label
    pooled.__post_init__()
    return pooled


def predict_real_labels(synthetic_arrays, synthetic_labels, real_arrays,
                        mounting: Rotation | None = None, n_quantiles: int = 101,
                        trees: int = PSEUDO_LABEL_TREES, seed: int = 0) -> list[str]:
    """Labels for *unlabelled* real recordings, in the synthetic recordings' vocabulary.

    The pooled unpaired maps (``fit_distribution_calibration``) take the synthetic recordings onto
    the real ones; a random forest (scikit-learn, ``trees``, ``seed``) trained on the mapped
    synthetic recordings' statistics (``realism.clip_statistics``) and their labels predicts each
    real recording's. With ``fit_label_calibration`` this gives per-label maps without any real
    label (pseudo-labels; ``fit_pseudo_label_calibration``).
    """
    syn, real = _as_list(synthetic_arrays), _as_list(real_arrays)
    labels = [str(x) for x in synthetic_labels]
    if len(labels) != len(syn):
        raise ValueError(f"{len(labels)} labels for {len(syn)} synthetic recordings")
    pooled = fit_distribution_calibration(syn, real, mounting, n_quantiles)
    return _predicted(pooled, syn, labels, real, trees, seed)


def _predicted(pooled: Calibration, syn: list, labels: list[str], real: list, trees: int,
               seed: int) -> list[str]:
    """``predict_real_labels`` with its pooled maps already fitted."""
    from sklearn.ensemble import RandomForestClassifier

    from .realism import clip_statistics

    mapped = [np.hstack(pooled.map_quantiles(*pooled.rotate(x[:, :3], x[:, 3:]))) for x in syn]
    forest = RandomForestClassifier(trees, random_state=seed, n_jobs=1)
    forest.fit(np.array([clip_statistics(x) for x in mapped]), labels)
    return [str(x) for x in forest.predict(np.array([clip_statistics(x) for x in real]))]


def fit_pseudo_label_calibration(synthetic_arrays, synthetic_labels, real_arrays,
                                 mounting: Rotation | None = None, n_quantiles: int = 101,
                                 min_real_clips: int = MIN_LABEL_CLIPS,
                                 label_key: str = "source_label", seed: int = 0) -> Calibration:
    """``fit_label_calibration`` with the real recordings' labels predicted
    (``predict_real_labels``) instead of read: per-label maps from an unlabelled target.
    ``metadata["real_labels"]`` = "predicted" and ``["predicted_counts"]`` (label -> real clips).
    The pooled maps are fitted once and serve both the prediction and the result."""
    syn, real = _as_list(synthetic_arrays), _as_list(real_arrays)
    labels = [str(x) for x in synthetic_labels]
    if len(labels) != len(syn):
        raise ValueError(f"{len(labels)} labels for {len(syn)} synthetic recordings")
    _check_min_real_clips(min_real_clips)
    pooled = fit_distribution_calibration(syn, real, mounting, n_quantiles)
    guessed = _predicted(pooled, syn, labels, real, PSEUDO_LABEL_TREES, seed)
    cal = _with_label_maps(pooled, syn, labels, real, guessed, n_quantiles, min_real_clips,
                           label_key)
    cal.metadata.update(fitted_by="imu2safety.simulator.calibration.fit_pseudo_label_calibration",
                        pairing="unpaired, per label, real labels predicted", real_labels="predicted",
                        predicted_counts=dict(sorted(Counter(guessed).items())))
    return cal


# ---- what a calibration was fitted for, and the check when it is applied ----

#: ``metadata["fitted_for"]`` keys a calibration must match when applied (refused otherwise,
#: unless forced): the mounting rotation depends on the placement, the quantile maps on the
#: device profile and the output rate.
MUST_MATCH = ("placement", "rate_hz", "device")


def check_applies(cal: Calibration, path=None, *, placement: str, rate_hz: float, device: str,
                  force: bool = False) -> list[str]:
    """Compare ``cal.metadata["fitted_for"]`` with how it is about to be applied.

    A different placement, rate or device raises ValueError saying what differs and how to fix it;
    with ``force`` it warns loudly instead. A calibration that records no fitting conditions, or
    another simulator version, gets a warning. Returns the differences (empty when it applies).
    """
    from .imu import SIMULATOR_VERSION

    name = Path(path).name if path is not None else "the calibration"
    fitted = cal.metadata.get("fitted_for")
    if not isinstance(fitted, dict):
        warnings.warn(f"{name} does not record the placement, rate and device it was fitted for, so "
                      "it cannot be checked; refit it with `imu2safety calibrate`", RuntimeWarning,
                      stacklevel=2)
        return []
    now = {"placement": placement, "rate_hz": float(rate_hz), "device": device}
    diffs = []
    for key in MUST_MATCH:
        then = fitted.get(key)
        same = (then is None or (math.isclose(float(then), now[key]) if key == "rate_hz"
                                 else then == now[key]))
        if not same:
            diffs.append(f"{key} {then!r} (this run: {now[key]!r})")
    version = fitted.get("simulator_version")
    if version and version != SIMULATOR_VERSION:
        warnings.warn(f"{name} was fitted on simulator {version}; this is {SIMULATOR_VERSION}: "
                      "refit it", RuntimeWarning, stacklevel=2)
    if not diffs:
        return []
    message = (f"{name} was fitted for {'; '.join(diffs)}: refit it for these options "
               "(imu2safety calibrate) or pass --force to apply it anyway")
    if not force:
        raise ValueError(message)
    warnings.warn(f"APPLYING A MISMATCHED CALIBRATION (--force): {message}", RuntimeWarning,
                  stacklevel=2)
    logging.getLogger(__name__).warning("applying a mismatched calibration: %s", message)
    return diffs
