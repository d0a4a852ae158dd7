"""Time-domain kinematics: timeline repair, gap filling, zero-phase low-pass, derivatives.

Arrays are time-first: (T, ...) with any trailing shape, so many joints and many clips are
processed in one vectorised call.

Derivatives (``DERIVATIVE_METHODS``):

- ``"spline"`` (default): zero-phase Butterworth low-pass (the smoothing step), then a quintic
  interpolating B-spline (``scipy.interpolate.make_interp_spline``, k=5) differentiated
  analytically and evaluated at the device's sample instants. It resamples and differentiates in
  one step, is exact for polynomials up to degree 5 and its interpolation error falls as h^4.
- ``"savgol"``: Savitzky-Golay filter (cubic, ~0.2 s window) on the uniform source grid gives the
  derivative, which a cubic spline then resamples. It smooths and differentiates locally but its
  error grows with the window (a 1 Hz swing loses ~1% of its amplitude at 30 fps).

Errors of both on the closed-form motions are measured by ``tests/test_physics.py`` and
``benchmarks/derivative_error.py``.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from .motion import MotionError

DERIVATIVE_METHODS = ("spline", "savgol")
#: Default low-pass cutoff for skeletal wrist motion, Hz: voluntary arm movement and falls carry
#: their energy below ~6-8 Hz while skeleton trackers add jitter above it.
DEFAULT_CUTOFF_HZ = 8.0
MIN_FRAMES = 4


def repair_timeline(t: np.ndarray, x: np.ndarray, valid: np.ndarray):
    """Sort frames by time and drop repeated timestamps (keeping the first), with a warning.

    t: (T,) seconds; x: (T, ...) values; valid: (T, ...) bool. Returns the repaired triple.
    """
    order = np.argsort(t, kind="stable")
    if np.any(order != np.arange(t.size)):
        warnings.warn("frames were out of time order; sorted them", RuntimeWarning, stacklevel=3)
        t, x, valid = t[order], x[order], valid[order]
    keep = np.r_[True, np.diff(t) > 0]
    if not keep.all():
        warnings.warn(f"dropped {int((~keep).sum())} frames with repeated timestamps",
                      RuntimeWarning, stacklevel=3)
        t, x, valid = t[keep], x[keep], valid[keep]
    return t, x, valid


def fill_gaps(t: np.ndarray, x: np.ndarray, valid: np.ndarray, what: str = "motion"):
    """Trim invalid frames at both ends and fill interior gaps by linear interpolation in time.

    t: (T,) s; x: (T, K, 3); valid: (T, K) bool. A frame counts as valid only when all K
    channels are. Returns (t, x, n_filled). Raises MotionError with fewer than MIN_FRAMES valid
    frames.
    """
    ok = valid.all(axis=tuple(range(1, valid.ndim))) & np.isfinite(x).reshape(len(t), -1).all(1)
    n_ok = int(ok.sum())
    if n_ok < MIN_FRAMES:
        raise MotionError(
            f"{what}: only {n_ok} frames have every needed joint tracked; need at least {MIN_FRAMES}"
        )
    first, last = np.flatnonzero(ok)[[0, -1]]
    trailing = len(t) - 1 - last
    t, x, ok = t[first:last + 1], x[first:last + 1], ok[first:last + 1]
    n_fill = int((~ok).sum())
    if n_fill:
        flat = x.reshape(len(t), -1)
        good = np.flatnonzero(ok)
        bad = np.flatnonzero(~ok)
        filled = flat.copy()
        for c in range(flat.shape[1]):  # a handful of channels; time is vectorised
            filled[bad, c] = np.interp(t[bad], t[good], flat[good, c])
        x = filled.reshape(x.shape)
    for note in repair_notes(what, int(first), int(trailing), n_fill):
        warnings.warn(note, RuntimeWarning, stacklevel=3)
    return t, x, n_fill


def repair_notes(what: str, leading: int, trailing: int, filled: int) -> list[str]:
    """The notes of ``fill_gaps`` (also given by the compiled fill of ``imu``): frames trimmed at
    either end, interior frames filled."""
    notes = []
    if leading or trailing:
        notes.append(f"{what}: trimmed {leading} leading and {trailing} trailing frames "
                     "without the needed joints")
    if filled:
        notes.append(f"{what}: filled {filled} frames with missing joints by interpolation")
    return notes


#: Frame intervals within this share of the mean count as a uniform time grid.
UNIFORM_RTOL = 0.01


def is_uniform(t: np.ndarray, rtol: float = UNIFORM_RTOL, dt: np.ndarray | None = None) -> bool:
    """Whether every frame interval of increasing t (T,) is within rtol of the mean interval
    (``dt``: np.diff(t) when the caller has it already)."""
    dt = np.diff(t) if dt is None else dt
    mean = (t[-1] - t[0]) / max(len(dt), 1)
    return bool(dt.max() - mean <= rtol * mean and mean - dt.min() <= rtol * mean)


def to_uniform(t: np.ndarray, x: np.ndarray):
    """Resample (T, ...) samples at irregular times onto a uniform grid at the median rate.

    Uses a cubic spline through the samples; returns (t_uniform, x_uniform).
    """
    dt = float(np.median(np.diff(t)))
    n = int(np.floor((t[-1] - t[0]) / dt + 1e-9)) + 1
    tu = t[0] + dt * np.arange(n)
    from scipy.interpolate import CubicSpline

    return tu, CubicSpline(t, x, axis=0)(tu)


@functools.lru_cache(maxsize=256)
def _butter_sos(order: int, wn: float) -> tuple[np.ndarray, np.ndarray]:
    """Sections (S, 6) of a low-pass Butterworth with normalised cutoff wn (1 = Nyquist), and
    their steady-state initial conditions (S, 2) for a unit step."""
    if order % 2:
        from scipy import signal

        sos = signal.butter(order, wn, output="sos")
    else:
        sos = _butter_lowpass_sos(order, wn)
    return sos, _sosfilt_zi(sos)


# scipy.signal's own arithmetic for the two design steps a build needs, without importing
# scipy.signal (~0.7 s of every worker's start-up); tests/test_fast_paths.py compares both with
# scipy bit for bit.

def _butter_zpk(order: int, wn: float) -> tuple[np.ndarray, complex]:
    """(poles, gain) of ``signal.butter(order, wn, output="zpk")`` (its zeros are all at -1):
    ``buttap``, the pre-warp, ``lp2lp_zpk`` and ``bilinear_zpk`` operation for operation."""
    m = np.arange(-order + 1, order, 2, dtype=np.float64)
    p = -np.exp(1j * np.pi * m / (2 * order))
    fs = 2.0
    wo = float(2 * fs * np.tan(np.pi * np.asarray(wn) / fs))
    p, k = wo * p, 1.0 * wo**order
    fs2 = 2.0 * fs
    p_z = (fs2 + p) / (fs2 - p)
    k_z = k * np.real(np.prod(fs2 - np.asarray([], dtype=np.float64)) / np.prod(fs2 - p))
    return p_z, k_z


def _sosfilt_zi(sos: np.ndarray) -> np.ndarray:
    """``signal.sosfilt_zi(sos)``: each section's ``lfilter_zi`` (the steady state of a unit
    step, one 2 x 2 solve) scaled by the DC gain of the sections before it."""
    zi = np.empty((sos.shape[0], 2), dtype=sos.dtype)
    scale = 1.0
    for section in range(sos.shape[0]):
        b0, a0 = sos[section, :3], sos[section, 3:]
        b, a = b0, a0
        while a.shape[0] > 1 and a[0] == 0.0:
            a = a[1:]
        if a[0] != 1.0:
            b, a = b / a[0], a / a[0]
        n = max(a.shape[0], b.shape[0])
        a = np.concatenate((a, np.zeros(n - a.shape[0], dtype=a.dtype)))
        b = np.concatenate((b, np.zeros(n - b.shape[0], dtype=b.dtype)))
        companion = np.zeros((n - 1, n - 1), dtype=np.result_type(1.0 * a[0]))
        companion[0] = -a[1:] / (1.0 * a[0])
        companion[list(range(1, n - 1)), list(range(0, n - 2))] = 1
        i_minus_a = np.asarray(np.eye(n - 1) - companion.T, dtype=np.result_type(a, b))
        zi[section] = scale * np.linalg.solve(i_minus_a, b[1:] - a[1:] * b[0])
        scale *= np.sum(b0) / np.sum(a0)  # (the section as given, not normalised)
    return zi


def _butter_lowpass_sos(order: int, wn: float) -> np.ndarray:
    """``signal.butter(order, wn, output="sos")`` for an even order, the same numbers in a third of
    the time: clips with timestamps (each its own frame rate) need a design each, and
    ``zpk2sos``'s general pairing is most of its cost. A Butterworth low-pass has all its zeros
    at -1 and its poles in conjugate pairs with distinct real parts, so ``zpk2sos``'s "nearest"
    pairing reduces to: conjugate pairs (``_cplxreal``'s averaged representatives) taken from the
    one farthest from the unit circle to the nearest, each with two zeros at -1 (``zpk2tf``), and
    the gain in the first section (tests/test_fast_paths.py compares the two bit for bit)."""
    p, k = _butter_zpk(order, wn)  # (the zeros: all at -1)
    p = p[np.lexsort((abs(p.imag), p.real))]
    pairs = (p[p.imag > 0] + p[p.imag < 0].conj()) / 2
    pairs = pairs[np.argsort(-np.abs(1 - np.abs(pairs)), kind="stable")]
    sos = np.zeros((order // 2, 6))
    for si, p1 in enumerate(pairs):
        roots = np.asarray([p1, p1.conj()])
        a = np.ones(1, dtype=roots.dtype)  # zpk2tf's poly of the pair: the same convolutions
        for r in roots:
            a = np.convolve(a, np.stack((np.ones_like(roots[0]), -r)), mode="full")
        sos[si, :3], sos[si, 3:] = (1.0, 2.0, 1.0), a.real  # poly of the zeros (-1, -1): exact
    sos[0][:3] *= k
    return sos


def lowpass_design(fs_hz: float, cutoff_hz: float, order: int = 4):
    """(sos (S, 6), zi (S, 2), pad, fit) of ``lowpass`` at ``cutoff_hz`` for data at ``fs_hz``:
    the sections and their unit-step initial state, the edge extension and the edge-fit length
    (samples). The design depends on cutoff / Nyquist only; rounding that to 12 digits lets clips
    whose frame rates differ in the last bits share one design (1e-12 relative change at most)."""
    sos, zi = _butter_sos(order, float(f"{2.0 * cutoff_hz / fs_hz:.12g}"))
    return sos, zi, int(np.ceil(3.0 * fs_hz / cutoff_hz)), max(MIN_FRAMES, int(np.ceil(fs_hz / cutoff_hz)))


def lowpass_designs(fs_hz, cutoff_hz: list[float | None], order: int = 4):
    """Per-clip arguments (sos (B, S, 6), zi (B, S, 2), pad (B,), fit (B,)) of
    ``kernels.lowpass_ragged`` for clips at ``fs_hz`` (B,) filtered at ``cutoff_hz`` (B,); a
    cutoff of None or >= 0.45 x fs leaves its clip unfiltered (pad 0). Each distinct
    (rate, cutoff) is designed once (``lowpass_design``)."""
    rates = np.asarray(fs_hz, dtype=np.float64).tolist()
    designs: dict = {}
    pick = []
    for fs, cut in zip(rates, cutoff_hz):
        key = (fs, cut) if cut is not None and cut < 0.45 * fs else None
        if key not in designs:
            designs[key] = len(designs)
        pick.append(designs[key])
    if len(designs) == 1:  # the usual case: one rate and cutoff for all
        one = _design_arrays(next(iter(designs)), order)
        return one if len(pick) == 1 else tuple(np.repeat(a, len(pick), axis=0) for a in one)
    table = [_design_arrays(key, order) for key in designs]
    pick = np.array(pick, dtype=np.int64)
    return tuple(np.concatenate([d[j] for d in table])[pick] for j in range(4))


@functools.lru_cache(maxsize=256)
def _design_arrays(key: tuple[float, float] | None, order: int) -> tuple[np.ndarray, ...]:
    """``lowpass_designs``'s arrays for one clip ((1, S, 6), (1, S, 2), (1,), (1,); shared: not to
    be modified) of the design ``key`` = (rate, cutoff), None = unfiltered."""
    sections = (order + 1) // 2
    sos, zi, pad, fit = (lowpass_design(*key, order) if key is not None
                         else (np.zeros((sections, 6)), np.zeros((sections, 2)), 0, 0))
    return (sos[None].copy(), zi[None].copy(), np.array([pad], dtype=np.int64),
            np.array([fit], dtype=np.int64))


def lowpass_many(xs: list[np.ndarray], fs_hz: list[float], cutoff_hz: list[float | None],
                 order: int = 4) -> list[np.ndarray]:
    """``lowpass`` of several clips of any lengths in one compiled call.

    xs: (T_b, C) uniformly sampled clips (the same C for all); fs_hz, cutoff_hz: per clip.
    Each clip is filtered on its own arithmetic: the result does not depend on the others.
    """
    if not xs:
        return []
    from . import kernels

    b = len(xs)
    offsets = np.zeros(b + 1, dtype=np.int64)
    np.cumsum([len(x) for x in xs], out=offsets[1:])
    flat = np.concatenate([np.asarray(x, dtype=np.float64).reshape(len(x), -1) for x in xs])
    out = np.empty_like(flat)
    kernels.lowpass_ragged(flat, offsets, *lowpass_designs(fs_hz, cutoff_hz, order), out)
    return [out[offsets[k]:offsets[k + 1]] for k in range(b)]


def lowpass(x: np.ndarray, fs_hz: float, cutoff_hz: float | None, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth low-pass along axis 0 of uniformly sampled (T, ...) data.

    The least-squares quadratic trend is removed first and added back, so constant acceleration
    (free fall) passes exactly. Each end is extended by its point mirror plus the curvature of a
    quadratic fitted over one filter time constant (fs / cutoff samples, at least MIN_FRAMES), for
    three time constants or T - 1 samples, whichever is shorter, so the edges keep their
    curvature; the residual is filtered forward and backward from a steady state. Every length
    is filtered alike (T < 3 samples are their own quadratic trend and come back unchanged).
    ``cutoff_hz`` None or >= 0.45 * fs leaves the data unfiltered.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] == 0:
        return x.copy()
    return lowpass_many([x.reshape(x.shape[0], -1)], [fs_hz], [cutoff_hz], order)[0].reshape(x.shape)


def output_times(t0: float, t1: float, rate_hz: float) -> np.ndarray:
    """Device sample instants t0, t0 + 1/rate, ... <= t1 (seconds)."""
    if not np.isfinite(rate_hz) or rate_hz <= 0:
        raise MotionError(f"rate must be positive, got {rate_hz}")
    n = int(np.floor((t1 - t0) * rate_hz + 1e-9)) + 1
    return t0 + np.arange(n) / rate_hz


def derivatives(t: np.ndarray, x: np.ndarray, t_out: np.ndarray, orders: tuple[int, ...],
                method: str = "spline") -> list[np.ndarray]:
    """Values/derivatives of uniformly sampled (T, ...) data at times ``t_out``.

    Returns one (N, ...) array per entry of ``orders`` (0 = value, 1 = first derivative, ...),
    in units of x per second**order.
    """
    from scipy import signal  # (here, not at import: see _butter_zpk)
    from scipy.interpolate import CubicSpline, make_interp_spline

    if method == "spline":
        k = 5 if len(t) > 5 else max(1, len(t) - 1)
        spl = make_interp_spline(t, x, k=k, axis=0)
        return [spl(t_out, nu=o) for o in orders]
    if method == "savgol":
        dt = float(np.median(np.diff(t)))
        window = max(5, int(round(0.2 / dt)) | 1)
        window = min(window, len(t) - (1 - len(t) % 2))
        poly = min(3, window - 1)
        out = []
        for o in orders:
            d = x if o == 0 else signal.savgol_filter(x, window, poly, deriv=o, delta=dt, axis=0)
            out.append(CubicSpline(t, d, axis=0)(t_out))
        return out
    raise ValueError(f"unknown derivative method {method!r}; choose one of {DERIVATIVE_METHODS}")
