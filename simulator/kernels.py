"""Compiled (numba) inner loops of the simulator: low-pass, quintic spline, output stage.

Each kernel takes a *ragged batch*: clips of any lengths concatenated along time, with
``offsets`` (B + 1,) marking where clip b lives (``x[offsets[b]:offsets[b + 1]]``). Every clip is
computed on its own, channel by channel, with the same arithmetic in the same order, so a clip's
result is bit-for-bit the same whether it is computed alone or in any batch (no fast-math, no
reassociation, no BLAS). The public, documented behaviour lives in ``kinematics`` and ``imu``; the
tests compare these kernels with the scipy functions they replace (``sosfiltfilt``,
``make_interp_spline``) and with ``orientation``'s NumPy quaternion helpers.

Compiled on first use and cached on disk (``cache=True``), so only the first process pays the
compile time (a few seconds).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Spline degree (quintic) and its number of non-zero basis functions per interval.
DEGREE = 5
_K1 = DEGREE + 1


# ---------------------------------------------------------------- numpy's summation

@njit(cache=True, error_model="numpy")
def pairwise_sum(a):
    """``np.sum`` of a 1-D float64 array, operation for operation (numpy's pairwise summation:
    eight running sums per block of at most 128 values, blocks halved on a multiple of eight), so
    that compiled code can reproduce numpy's sums and means bit for bit."""
    n = a.shape[0]
    if n < 8:
        s = 0.0
        for i in range(n):
            s += a[i]
        return s
    if n <= 128:
        r = a[:8].copy()
        m = n - n % 8
        for i in range(8, m, 8):
            for j in range(8):
                r[j] += a[i + j]
        s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for i in range(m, n):
            s += a[i]
        return s
    half = n // 2
    half -= half % 8
    return pairwise_sum(a[:half]) + pairwise_sum(a[half:])


# ---------------------------------------------------------------- low-pass

@njit(cache=True, error_model="numpy")
def _gram_inverse(s, count):
    """Inverse (3, 3) of the Gram matrix of [1, s, s^2] over s[:count] (least-squares quadratic:
    coefficients = inverse @ [sum y, sum s y, sum s^2 y]), by the adjugate."""
    g = np.zeros((3, 3))
    for j in range(count):
        p1 = s[j]
        p2 = p1 * p1
        g[0, 0] += 1.0
        g[0, 1] += p1
        g[0, 2] += p2
        g[1, 2] += p1 * p2
        g[2, 2] += p2 * p2
    g[1, 0] = g[0, 1]
    g[1, 1] = g[0, 2]
    g[2, 0] = g[0, 2]
    g[2, 1] = g[1, 2]
    inv = np.empty((3, 3))
    inv[0, 0] = g[1, 1] * g[2, 2] - g[1, 2] * g[2, 1]
    inv[0, 1] = g[0, 2] * g[2, 1] - g[0, 1] * g[2, 2]
    inv[0, 2] = g[0, 1] * g[1, 2] - g[0, 2] * g[1, 1]
    inv[1, 0] = g[1, 2] * g[2, 0] - g[1, 0] * g[2, 2]
    inv[1, 1] = g[0, 0] * g[2, 2] - g[0, 2] * g[2, 0]
    inv[1, 2] = g[0, 2] * g[1, 0] - g[0, 0] * g[1, 2]
    inv[2, 0] = g[1, 0] * g[2, 1] - g[1, 1] * g[2, 0]
    inv[2, 1] = g[0, 1] * g[2, 0] - g[0, 0] * g[2, 1]
    inv[2, 2] = g[0, 0] * g[1, 1] - g[0, 1] * g[1, 0]
    det = g[0, 0] * inv[0, 0] + g[0, 1] * inv[1, 0] + g[0, 2] * inv[2, 0]
    for i in range(3):
        for j in range(3):
            inv[i, j] /= det
    return inv


@njit(cache=True, error_model="numpy")
def _fit_quadratic(y, start, step, count, s, inv, coef):
    """coef (C, 3): least-squares quadratic through (s[j], y[start + step * j, c]), j < count,
    for every channel c, given ``_gram_inverse(s, count)`` (each channel's sums in registers,
    accumulated in increasing j)."""
    nch = y.shape[1]
    for c in range(nch):
        r0 = r1 = r2 = 0.0
        for j in range(count):
            p1 = s[j]
            p2 = p1 * p1
            v = y[start + step * j, c]
            r0 += v
            r1 += p1 * v
            r2 += p2 * v
        for k in range(3):
            coef[c, k] = inv[k, 0] * r0 + inv[k, 1] * r1 + inv[k, 2] * r2


@njit(cache=True, error_model="numpy")
def _sos_pass(buf, m, sos, zi, forward):
    """In place: causal second-order-section filter of every column of buf[:m] (direct form II
    transposed, as scipy's sosfilt), forward or backward in time, each section's state started
    at its zi row x the column's first sample (before filtering). Columns are independent.

    The cascade runs section after section over the whole column (each section's input is the
    previous one's output, sample by sample: the same operations as one sample through every
    section at a time), eight columns at a time with the state in registers."""
    nsec = sos.shape[0]
    nch = buf.shape[1]
    if m == 0 or nsec == 0:
        return
    i0 = 0 if forward else m - 1
    if nch == 1 and nsec == 2:  # (the twist's low-pass) both sections in one loop
        _sos_cascade2(buf, m, sos, zi, buf[i0, 0], forward)
        return
    first = buf[i0].copy()
    for s in range(nsec):
        b0, b1, b2, a1, a2 = sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5]
        if nch == 1:
            _sos_section1(buf, m, b0, b1, b2, a1, a2, zi[s, 0] * first[0], zi[s, 1] * first[0],
                          forward)
        else:
            for c0 in range(0, nch, 8):
                _sos_section8(buf, m, c0, b0, b1, b2, a1, a2, zi[s, 0], zi[s, 1], first, forward)


@njit(cache=True, error_model="numpy")
def _sos_cascade2(buf, m, sos, zi, x0, forward):
    """``_sos_pass`` of two sections on the single column of buf[:m], sample by sample through
    both (their recursions overlap in the processor), states started at zi x x0."""
    b0, b1, b2, a1, a2 = sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 4], sos[0, 5]
    c0, c1, c2, d1, d2 = sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 4], sos[1, 5]
    p0, p1 = zi[0, 0] * x0, zi[0, 1] * x0
    q0, q1 = zi[1, 0] * x0, zi[1, 1] * x0
    for j in range(m):
        i = j if forward else m - 1 - j
        x = buf[i, 0]
        y = b0 * x + p0
        p0 = b1 * x - a1 * y + p1
        p1 = b2 * x - a2 * y
        v = c0 * y + q0
        q0 = c1 * y - d1 * v + q1
        q1 = c2 * y - d2 * v
        buf[i, 0] = v


@njit(cache=True, error_model="numpy")
def _sos_section1(buf, m, b0, b1, b2, a1, a2, z0, z1, forward):
    """One section of ``_sos_pass`` on the single column of buf[:m], state (z0, z1)."""
    for j in range(m):
        i = j if forward else m - 1 - j
        x = buf[i, 0]
        y = b0 * x + z0
        z0 = b1 * x - a1 * y + z1
        z1 = b2 * x - a2 * y
        buf[i, 0] = y


@njit(cache=True, error_model="numpy")
def _sos_section8(buf, m, c0, b0, b1, b2, a1, a2, zi0, zi1, first, forward):
    """One section of ``_sos_pass`` on columns c0 ... c0 + 7 of buf[:m] (indices past the last
    column repeat it: the same numbers computed twice and written twice), each column's state
    started at (zi0, zi1) x first[column]."""
    last = buf.shape[1] - 1
    if c0 + 7 <= last:  # eight columns side by side: the same code, vectorisable
        _sos_section8_full(buf, m, c0, b0, b1, b2, a1, a2, zi0, zi1, first, forward)
        return
    k0, k1, k2, k3 = c0, min(c0 + 1, last), min(c0 + 2, last), min(c0 + 3, last)
    k4, k5, k6, k7 = min(c0 + 4, last), min(c0 + 5, last), min(c0 + 6, last), min(c0 + 7, last)
    p0, q0 = zi0 * first[k0], zi1 * first[k0]
    p1, q1 = zi0 * first[k1], zi1 * first[k1]
    p2, q2 = zi0 * first[k2], zi1 * first[k2]
    p3, q3 = zi0 * first[k3], zi1 * first[k3]
    p4, q4 = zi0 * first[k4], zi1 * first[k4]
    p5, q5 = zi0 * first[k5], zi1 * first[k5]
    p6, q6 = zi0 * first[k6], zi1 * first[k6]
    p7, q7 = zi0 * first[k7], zi1 * first[k7]
    for j in range(m):
        i = j if forward else m - 1 - j
        x0, x1, x2, x3 = buf[i, k0], buf[i, k1], buf[i, k2], buf[i, k3]
        x4, x5, x6, x7 = buf[i, k4], buf[i, k5], buf[i, k6], buf[i, k7]
        y0 = b0 * x0 + p0
        y1 = b0 * x1 + p1
        y2 = b0 * x2 + p2
        y3 = b0 * x3 + p3
        y4 = b0 * x4 + p4
        y5 = b0 * x5 + p5
        y6 = b0 * x6 + p6
        y7 = b0 * x7 + p7
        p0 = b1 * x0 - a1 * y0 + q0
        p1 = b1 * x1 - a1 * y1 + q1
        p2 = b1 * x2 - a1 * y2 + q2
        p3 = b1 * x3 - a1 * y3 + q3
        p4 = b1 * x4 - a1 * y4 + q4
        p5 = b1 * x5 - a1 * y5 + q5
        p6 = b1 * x6 - a1 * y6 + q6
        p7 = b1 * x7 - a1 * y7 + q7
        q0 = b2 * x0 - a2 * y0
        q1 = b2 * x1 - a2 * y1
        q2 = b2 * x2 - a2 * y2
        q3 = b2 * x3 - a2 * y3
        q4 = b2 * x4 - a2 * y4
        q5 = b2 * x5 - a2 * y5
        q6 = b2 * x6 - a2 * y6
        q7 = b2 * x7 - a2 * y7
        buf[i, k0], buf[i, k1], buf[i, k2], buf[i, k3] = y0, y1, y2, y3
        buf[i, k4], buf[i, k5], buf[i, k6], buf[i, k7] = y4, y5, y6, y7


@njit(cache=True, error_model="numpy")
def _sos_section8_full(buf, m, c0, b0, b1, b2, a1, a2, zi0, zi1, first, forward):
    """``_sos_section8`` of eight existing columns c0 ... c0 + 7."""
    k0, k1, k2, k3, k4, k5, k6, k7 = c0, c0 + 1, c0 + 2, c0 + 3, c0 + 4, c0 + 5, c0 + 6, c0 + 7
    p0, q0 = zi0 * first[k0], zi1 * first[k0]
    p1, q1 = zi0 * first[k1], zi1 * first[k1]
    p2, q2 = zi0 * first[k2], zi1 * first[k2]
    p3, q3 = zi0 * first[k3], zi1 * first[k3]
    p4, q4 = zi0 * first[k4], zi1 * first[k4]
    p5, q5 = zi0 * first[k5], zi1 * first[k5]
    p6, q6 = zi0 * first[k6], zi1 * first[k6]
    p7, q7 = zi0 * first[k7], zi1 * first[k7]
    for j in range(m):
        i = j if forward else m - 1 - j
        row = buf[i, c0:c0 + 8]
        x0, x1, x2, x3, x4, x5, x6, x7 = row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7]
        y0 = b0 * x0 + p0
        y1 = b0 * x1 + p1
        y2 = b0 * x2 + p2
        y3 = b0 * x3 + p3
        y4 = b0 * x4 + p4
        y5 = b0 * x5 + p5
        y6 = b0 * x6 + p6
        y7 = b0 * x7 + p7
        p0 = b1 * x0 - a1 * y0 + q0
        p1 = b1 * x1 - a1 * y1 + q1
        p2 = b1 * x2 - a1 * y2 + q2
        p3 = b1 * x3 - a1 * y3 + q3
        p4 = b1 * x4 - a1 * y4 + q4
        p5 = b1 * x5 - a1 * y5 + q5
        p6 = b1 * x6 - a1 * y6 + q6
        p7 = b1 * x7 - a1 * y7 + q7
        q0 = b2 * x0 - a2 * y0
        q1 = b2 * x1 - a2 * y1
        q2 = b2 * x2 - a2 * y2
        q3 = b2 * x3 - a2 * y3
        q4 = b2 * x4 - a2 * y4
        q5 = b2 * x5 - a2 * y5
        q6 = b2 * x6 - a2 * y6
        q7 = b2 * x7 - a2 * y7
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7] = y0, y1, y2, y3, y4, y5, y6, y7


@njit(cache=True, error_model="numpy")
def lowpass_ragged(x, offsets, sos, zi, pad, fit, out):
    """Zero-phase low-pass of every clip and channel of x (sum T, C) into out (same shape).

    Per clip b (n samples): the least-squares quadratic trend over s in [-1, 1] is removed; each
    end is continued for ``p = min(pad[b], n - 1)`` samples by its point mirror plus the
    curvature of a quadratic fitted to ``min(fit[b], n)`` edge samples; the extended residual is
    filtered forward then backward with the sections ``sos[b]`` (S, 6), each pass started in
    steady state (``zi[b]`` (S, 2) x its first sample, as scipy's ``sosfiltfilt`` with
    ``padtype=None``); the middle n samples plus the trend are the result. Clips with n < 3 are
    their own quadratic trend and come back unchanged; ``pad[b] == 0`` marks a clip not to filter.
    """
    nclips = offsets.shape[0] - 1
    nch = x.shape[1]
    trend = np.empty((nch, 3))
    edge = np.empty((nch, 3))
    for b in range(nclips):
        _lowpass_clip(x, offsets[b], offsets[b + 1] - offsets[b], sos[b], zi[b], pad[b], fit[b],
                      out, trend, edge)


@njit(cache=True, error_model="numpy")
def _lowpass_clip(x, o, n, sos, zi, pad, fit, out, trend, edge):
    """``lowpass_ragged`` of the clip in rows o ... o + n - 1 of x into the same rows of out
    (trend, edge: (C, 3) scratch)."""
    nch = x.shape[1]
    if n < 3 or pad == 0:
        for i in range(n):
            for c in range(nch):
                out[o + i, c] = x[o + i, c]
        return
    p = min(pad, n - 1)
    nfit = min(fit, n)
    s = np.empty(n)
    step = 2.0 / (n - 1)
    for i in range(n):
        s[i] = -1.0 + i * step
    s[n - 1] = 1.0
    kf = np.arange(nfit).astype(np.float64)
    _fit_quadratic(x, o, 1, n, s, _gram_inverse(s, n), trend)
    m = n + 2 * p
    buf = np.empty((m, nch))
    for c in range(nch):
        t0, t1, t2 = trend[c, 0], trend[c, 1], trend[c, 2]
        for i in range(n):
            buf[p + i, c] = x[o + i, c] - (t0 + t1 * s[i] + t2 * s[i] * s[i])
    inv = _gram_inverse(kf, nfit)
    # left end: continued backwards from sample 0; right end: forwards from n - 1
    _fit_quadratic(buf, p, 1, nfit, kf, inv, edge)
    for c in range(nch):
        e2, b0 = edge[c, 2], buf[p, c]
        for j in range(p):
            k = p - j
            buf[j, c] = 2.0 * b0 - buf[p + k, c] + 2.0 * e2 * k * k
    _fit_quadratic(buf, p + n - 1, -1, nfit, kf, inv, edge)
    for c in range(nch):
        e2, b1 = edge[c, 2], buf[p + n - 1, c]
        for j in range(p):
            k = j + 1
            buf[p + n + j, c] = 2.0 * b1 - buf[p + n - 1 - k, c] + 2.0 * e2 * k * k
    _sos_pass(buf, m, sos, zi, True)
    _sos_pass(buf, m, sos, zi, False)
    for c in range(nch):
        t0, t1, t2 = trend[c, 0], trend[c, 1], trend[c, 2]
        for i in range(n):
            out[o + i, c] = buf[p + i, c] + (t0 + t1 * s[i] + t2 * s[i] * s[i])


# ---------------------------------------------------------------- quintic interpolating spline

@njit(cache=True, error_model="numpy")
def _knots(t, k):
    """Not-a-knot knot vector of make_interp_spline for odd degree k: k+1 copies of each end and
    the data sites t[m+1 : n-m-1], m = (k - 1) // 2, in between."""
    n = t.shape[0]
    m = (k - 1) // 2
    inner = n - 2 * (m + 1)
    tk = np.empty(inner + 2 * (k + 1))
    for j in range(k + 1):
        tk[j] = t[0]
        tk[k + 1 + inner + j] = t[n - 1]
    for j in range(inner):
        tk[k + 1 + j] = t[m + 1 + j]
    return tk


@njit(cache=True, error_model="numpy")
def _span(tk, k, ncoef, x, start):
    """Knot interval i (k <= i < ncoef) with tk[i] <= x < tk[i + 1], searching up from ``start``;
    x beyond either end takes the first / last interval (extrapolation, as scipy does)."""
    i = max(start, k)
    while i < ncoef - 1 and x >= tk[i + 1]:
        i += 1
    return i


@njit(cache=True, error_model="numpy")
def _basis_derivs(tk, k, i, x, nders, ders, ndu, a, left, right):
    """ders[d, j]: d-th derivative (d < nders) at x of the k+1 basis functions non-zero on
    interval i (B_{i-k} ... B_i). Piegl & Tiller, The NURBS Book, algorithm A2.3."""
    ndu[0, 0] = 1.0
    for j in range(1, k + 1):
        left[j] = x - tk[i + 1 - j]
        right[j] = tk[i + j] - x
        saved = 0.0
        for r in range(j):
            ndu[j, r] = right[r + 1] + left[j - r]
            temp = ndu[r, j - 1] / ndu[j, r]
            ndu[r, j] = saved + right[r + 1] * temp
            saved = left[j - r] * temp
        ndu[j, j] = saved
    for j in range(k + 1):
        ders[0, j] = ndu[j, k]
    for r in range(k + 1):
        s1, s2 = 0, 1
        a[0, 0] = 1.0
        for d in range(1, nders):
            acc = 0.0
            rk, pk = r - d, k - d
            if r >= d:
                a[s2, 0] = a[s1, 0] / ndu[pk + 1, rk]
                acc = a[s2, 0] * ndu[rk, pk]
            j1 = 1 if rk >= -1 else -rk
            j2 = d - 1 if r - 1 <= pk else k - r
            for j in range(j1, j2 + 1):
                a[s2, j] = (a[s1, j] - a[s1, j - 1]) / ndu[pk + 1, rk + j]
                acc += a[s2, j] * ndu[rk + j, pk]
            if r <= pk:
                a[s2, d] = -a[s1, d - 1] / ndu[pk + 1, r]
                acc += a[s2, d] * ndu[r, pk]
            ders[d, r] = acc
            s1, s2 = s2, s1
    factor = float(k)
    for d in range(1, nders):
        for j in range(k + 1):
            ders[d, j] *= factor
        factor *= k - d


@njit(cache=True, error_model="numpy")
def _spline_setup(t, t_out, band, first, table, span, row0=0, out0=0):
    """Collocation LU and evaluation table of the not-a-knot quintic through sites t (n >= 6).

    band (n, 11): LU factors of the banded collocation matrix (columns j - i + 5), factored
    without pivoting, which B-spline collocation matrices allow (they are totally positive,
    de Boor); first (n,): first non-zero column of each row. table (N, 3, 6): value, first and
    second derivatives of the 6 basis functions non-zero at each t_out; span (N,) their interval.
    Rows before ``row0`` and table rows before ``out0`` are taken as already computed for these
    sites (``imu_from_pose_sorted`` reuses them from a grid that shares them); the LU goes row
    by row (Doolittle order), each row eliminated by the five before it in increasing order, so
    a row is the same number whether computed now or reused.
    """
    k = DEGREE
    n = t.shape[0]
    tk = _knots(t, k)
    ders = np.zeros((3, _K1))
    ndu = np.zeros((_K1, _K1))
    a = np.zeros((2, _K1))
    left = np.zeros(_K1)
    right = np.zeros(_K1)
    i = first[row0 - 1] + k if row0 > 0 else k
    for row in range(row0, n):
        i = _span(tk, k, n, t[row], i)
        _basis_derivs(tk, k, i, t[row], 1, ders, ndu, a, left, right)
        first[row] = i - k
        for j in range(11):
            band[row, j] = 0.0
        for j in range(_K1):
            band[row, i - k + j - row + 5] = ders[0, j]
        # banded LU without pivoting (bandwidth 5 each side): eliminate columns row-5 .. row-1
        for col in range(max(0, row - 5), row):
            f = band[row, col - row + 5] / band[col, 5]
            band[row, col - row + 5] = f
            if f != 0.0:
                for j in range(col + 1, min(col + 6, n)):
                    band[row, j - row + 5] -= f * band[col, j - col + 5]
    i = span[out0 - 1] if out0 > 0 else k
    for q in range(out0, t_out.shape[0]):
        i = _span(tk, k, n, t_out[q], i)
        _basis_derivs(tk, k, i, t_out[q], 3, ders, ndu, a, left, right)
        span[q] = i
        for d in range(3):
            for j in range(_K1):
                table[q, d, j] = ders[d, j]


@njit(cache=True, error_model="numpy")
def _spline_coef(band, y, c):
    """Solve the factored collocation system for every column: c (n, C) from values y (n, C)."""
    n, nch = y.shape
    if nch == 7:  # the pose: seven independent columns at once, in registers
        _spline_coef7(band, y, c)
        return
    for i in range(n):
        j0 = max(0, i - 5)
        for ch in range(nch):
            v = y[i, ch]
            for j in range(j0, i):
                v -= band[i, j - i + 5] * c[j, ch]
            c[i, ch] = v
    for i in range(n - 1, -1, -1):
        j1 = min(i + 6, n)
        d = band[i, 5]
        for ch in range(nch):
            v = c[i, ch]
            for j in range(i + 1, j1):
                v -= band[i, j - i + 5] * c[j, ch]
            c[i, ch] = v / d


@njit(cache=True, error_model="numpy")
def _spline_coef7(band, y, c):
    """``_spline_coef`` of seven columns (the same operations in the same order per column)."""
    n = y.shape[0]
    for i in range(n):
        v0, v1, v2, v3, v4, v5, v6 = y[i, 0], y[i, 1], y[i, 2], y[i, 3], y[i, 4], y[i, 5], y[i, 6]
        for j in range(max(0, i - 5), i):
            f = band[i, j - i + 5]
            v0 -= f * c[j, 0]
            v1 -= f * c[j, 1]
            v2 -= f * c[j, 2]
            v3 -= f * c[j, 3]
            v4 -= f * c[j, 4]
            v5 -= f * c[j, 5]
            v6 -= f * c[j, 6]
        c[i, 0], c[i, 1], c[i, 2], c[i, 3], c[i, 4], c[i, 5], c[i, 6] = v0, v1, v2, v3, v4, v5, v6
    for i in range(n - 1, -1, -1):
        v0, v1, v2, v3, v4, v5, v6 = c[i, 0], c[i, 1], c[i, 2], c[i, 3], c[i, 4], c[i, 5], c[i, 6]
        for j in range(i + 1, min(i + 6, n)):
            f = band[i, j - i + 5]
            v0 -= f * c[j, 0]
            v1 -= f * c[j, 1]
            v2 -= f * c[j, 2]
            v3 -= f * c[j, 3]
            v4 -= f * c[j, 4]
            v5 -= f * c[j, 5]
            v6 -= f * c[j, 6]
        d = band[i, 5]
        c[i, 0], c[i, 1], c[i, 2], c[i, 3] = v0 / d, v1 / d, v2 / d, v3 / d
        c[i, 4], c[i, 5], c[i, 6] = v4 / d, v5 / d, v6 / d


@njit(cache=True, error_model="numpy")
def imu_from_pose_ragged(t, pose, offsets, t_out, out_offsets, gravity_z, out):
    """``imu_from_pose_sorted`` of every clip in batch order."""
    imu_from_pose_sorted(t, pose, offsets, t_out, out_offsets, gravity_z,
                         np.arange(offsets.shape[0] - 1), out)


@njit(cache=True, error_model="numpy")
def _common_prefix(a, a0, n, b, m):
    """Number of leading entries a[a0 + j] == b[j], j < min(n, m)."""
    p = 0
    top = min(n, m)
    while p < top and a[a0 + p] == b[p]:
        p += 1
    return p


@njit(cache=True, error_model="numpy")
def imu_from_pose_sorted(t, pose, offsets, t_out, out_offsets, gravity_z, order, out):
    """Ideal IMU of the clips ``order`` from their low-passed poses, one quintic spline per channel.

    t: (sum T,) s, the sites of each clip (n >= 6 per clip); pose: (sum T, 7) position (m) and
    sign-continuous quaternion (w, x, y, z, device-to-world) at the sites; t_out: (sum N,) s,
    the device instants; out: (sum N, 6) ax ay az (m/s^2, specific force R^T (p'' - g)) and
    gx gy gz (rad/s, 2 vec(conj(q) q') / |q|^2), sensor frame; g = (0, 0, gravity_z); order:
    the clips to compute, in this order (rows of other clips are left as they are).

    The spline setup of a clip keeps what it shares with the previous clip's: collocation and
    LU rows whose sites and knots are equal, table rows whose instants and knots are equal. Clips
    cut from one recording grid (t0 + k / fps, any lengths) share all but their last few rows,
    so ordering clips by grid and length makes the setup nearly free; every kept number is the
    one a fresh setup computes (same inputs, same operations), so results do not depend on the
    order or the neighbours.
    """
    maxn, maxq = 0, 0
    for b in order:
        maxn = max(maxn, offsets[b + 1] - offsets[b])
        maxq = max(maxq, out_offsets[b + 1] - out_offsets[b])
    imu_from_pose_cached(t, pose, offsets, t_out, out_offsets, gravity_z, order, out,
                         np.empty(maxn), np.empty(maxq), np.empty((maxn, 11)), np.empty(maxn, np.int64),
                         np.empty((maxq, 3, _K1)), np.empty(maxq, np.int64), np.zeros(2, np.int64))


@njit(cache=True, error_model="numpy")
def imu_from_pose_cached(t, pose, offsets, t_out, out_offsets, gravity_z, order, out, grid,
                         instants, band, first, table, span, state):
    """``imu_from_pose_sorted`` with its spline set-up kept by the caller between calls: grid
    (M,) and instants (Q,) the sites and device instants it belongs to, band (M, 11), first (M,),
    table (Q, 3, 6), span (Q,) as ``_spline_setup``'s, state (2,) how many sites and instants
    are valid (0, 0: none). M and Q must be at least the largest clip's sites and instants."""
    gn, gq = state[0], state[1]
    maxn = 0
    for b in order:
        maxn = max(maxn, offsets[b + 1] - offsets[b])
    c = np.empty((maxn, 7))
    maxq = 0
    for b in order:
        maxq = max(maxq, out_offsets[b + 1] - out_offsets[b])
    sums = np.empty((11, maxq))
    res = np.empty((6, maxq))
    for b in order:
        o0, o1 = offsets[b], offsets[b + 1]
        q0, q1 = out_offsets[b], out_offsets[b + 1]
        n, nout = o1 - o0, q1 - q0
        p = _common_prefix(t, o0, n, grid, gn)
        # knots agree below ``agree``: k + 1 copies of t[0], then t[3:n-3], then copies of t[-1]
        if p == n and n == gn:
            agree = n + _K1
        elif p == 0:
            agree = 0
        else:
            agree = max(min(p + 3, n, gn), _K1)
        row0 = 0
        while row0 < min(p, n) and first[row0] + 2 * DEGREE < agree:
            row0 += 1
        pq = _common_prefix(t_out, q0, nout, instants, gq)
        out0 = 0
        while out0 < pq and span[out0] + DEGREE < agree:
            out0 += 1
        if row0 < n or out0 < nout:
            _spline_setup(t[o0:o1], t_out[q0:q1], band, first, table, span, row0, out0)
        for j in range(p, n):
            grid[j] = t[o0 + j]
        for j in range(pq, nout):
            instants[j] = t_out[q0 + j]
        gn, gq = n, nout
        state[0], state[1] = n, nout
        _spline_coef(band[:n], pose[o0:o1], c[:n])
        for q in range(nout):  # p'' (3), q (4), q' (4): sums over the 6 basis functions
            base = span[q] - DEGREE
            p0 = p1 = p2 = 0.0
            w = x = y = z = 0.0
            dw = dx = dy = dz = 0.0
            for j in range(_K1):
                w0, w1, w2 = table[q, 0, j], table[q, 1, j], table[q, 2, j]
                r = base + j
                p0 += c[r, 0] * w2
                p1 += c[r, 1] * w2
                p2 += c[r, 2] * w2
                w += c[r, 3] * w0
                dw += c[r, 3] * w1
                x += c[r, 4] * w0
                dx += c[r, 4] * w1
                y += c[r, 5] * w0
                dy += c[r, 5] * w1
                z += c[r, 6] * w0
                dz += c[r, 6] * w1
            sums[0, q], sums[1, q], sums[2, q], sums[3, q] = p0, p1, p2, w
            sums[4, q], sums[5, q], sums[6, q], sums[7, q] = x, y, z, dw
            sums[8, q], sums[9, q], sums[10, q] = dx, dy, dz
        _output_rows(sums, nout, gravity_z, res)
        for q in range(nout):
            for k in range(6):
                out[q0 + q, k] = res[k, q]


@njit(cache=True, error_model="numpy")
def _output_rows(sums, n, gravity_z, res):
    """res[:, q] (6,) = ``_output_row`` of sums[:, q] (p'', q, q' as its arguments), q < n:
    the same operations, in a loop the compiler vectorises (the square roots and divisions
    several samples at a time)."""
    for q in range(n):
        ax, ay, pz = sums[0, q], sums[1, q], sums[2, q]
        w, x, y, z = sums[3, q], sums[4, q], sums[5, q], sums[6, q]
        dw, dx, dy, dz = sums[7, q], sums[8, q], sums[9, q], sums[10, q]
        qq = w * w + x * x + y * y + z * z
        norm = np.sqrt(qq)
        nw, nx, ny, nz = w / norm, x / norm, y / norm, z / norm
        r00 = 1 - 2 * (ny * ny + nz * nz)
        r01 = 2 * (nx * ny - nw * nz)
        r02 = 2 * (nx * nz + nw * ny)
        r10 = 2 * (nx * ny + nw * nz)
        r11 = 1 - 2 * (nx * nx + nz * nz)
        r12 = 2 * (ny * nz - nw * nx)
        r20 = 2 * (nx * nz - nw * ny)
        r21 = 2 * (ny * nz + nw * nx)
        r22 = 1 - 2 * (nx * nx + ny * ny)
        az = pz - gravity_z
        res[0, q] = r00 * ax + r10 * ay + r20 * az
        res[1, q] = r01 * ax + r11 * ay + r21 * az
        res[2, q] = r02 * ax + r12 * ay + r22 * az
        res[3, q] = 2.0 * (w * dx - dw * x + (-y * dz + z * dy)) / qq
        res[4, q] = 2.0 * (w * dy - dw * y + (-z * dx + x * dz)) / qq
        res[5, q] = 2.0 * (w * dz - dw * z + (-x * dy + y * dx)) / qq


@njit(cache=True, error_model="numpy")
def _output_row(ax, ay, pz, w, x, y, z, dw, dx, dy, dz, gravity_z, out, i):
    """out[i] (6,): accel and gyro from p'' = (ax, ay, pz) (m/s^2, world), q = (w, x, y, z) and
    q' = (dw, dx, dy, dz) (1/s); see ``output_stage``."""
    qq = w * w + x * x + y * y + z * z
    norm = np.sqrt(qq)
    nw, nx, ny, nz = w / norm, x / norm, y / norm, z / norm
    r00 = 1 - 2 * (ny * ny + nz * nz)
    r01 = 2 * (nx * ny - nw * nz)
    r02 = 2 * (nx * nz + nw * ny)
    r10 = 2 * (nx * ny + nw * nz)
    r11 = 1 - 2 * (nx * nx + nz * nz)
    r12 = 2 * (ny * nz - nw * nx)
    r20 = 2 * (nx * nz - nw * ny)
    r21 = 2 * (ny * nz + nw * nx)
    r22 = 1 - 2 * (nx * nx + ny * ny)
    az = pz - gravity_z
    out[i, 0] = r00 * ax + r10 * ay + r20 * az
    out[i, 1] = r01 * ax + r11 * ay + r21 * az
    out[i, 2] = r02 * ax + r12 * ay + r22 * az
    # conj(q) * q_dot, vector part (Hamilton product with conj(q) = (w, -x, -y, -z))
    out[i, 3] = 2.0 * (w * dx - dw * x + (-y * dz + z * dy)) / qq
    out[i, 4] = 2.0 * (w * dy - dw * y + (-z * dx + x * dz)) / qq
    out[i, 5] = 2.0 * (w * dz - dw * z + (-x * dy + y * dx)) / qq


@njit(cache=True, error_model="numpy")
def output_stage(sig, gravity_z, out):
    """sig (N, 11): p'' (m/s^2, world), q (w x y z), q' (1/s) -> out (N, 6) accel, gyro.

    accel = R(q)^T (p'' - g) with R from the normalised q (as ``orientation.quat_to_matrix``);
    gyro = 2 vec(conj(q) * q') / |q|^2 (as ``orientation.body_rate``)."""
    for i in range(sig.shape[0]):
        _output_row(sig[i, 0], sig[i, 1], sig[i, 2], sig[i, 3], sig[i, 4], sig[i, 5], sig[i, 6],
                    sig[i, 7], sig[i, 8], sig[i, 9], sig[i, 10], gravity_z, out, i)


# ---------------------------------------------------------------- device pose from frames

@njit(cache=True, error_model="numpy")
def _is_identity(mount):
    ident = True
    for r in range(3):
        for c in range(3):
            ident &= mount[r, c] == (1.0 if r == c else 0.0)
    return ident


@njit(cache=True, error_model="numpy")
def _pose_values(f00, f01, f02, f10, f11, f12, f20, f21, f22, ox, oy, oz, offset, mount,
                 ident):
    """(7,) as a tuple: position (ox, oy, oz) + F offset and the unit quaternion (w, x, y, z) of
    M = F mount by Shepperd's method (as ``orientation.matrix_to_quat``); F = (fij) segment-to-world
    (columns = segment axes). ``ident``: mount is the identity, M = F (the same numbers up to
    the sign of zeros)."""
    px = ox + (f00 * offset[0] + f01 * offset[1] + f02 * offset[2])
    py = oy + (f10 * offset[0] + f11 * offset[1] + f12 * offset[2])
    pz = oz + (f20 * offset[0] + f21 * offset[1] + f22 * offset[2])
    # the mount's entries loaded whether used or not: no loads under the branch, which keeps
    # loops over frames vectorisable
    k00, k01, k02 = mount[0, 0], mount[0, 1], mount[0, 2]
    k10, k11, k12 = mount[1, 0], mount[1, 1], mount[1, 2]
    k20, k21, k22 = mount[2, 0], mount[2, 1], mount[2, 2]
    if ident:
        m00, m01, m02, m10, m11, m12, m20, m21, m22 = f00, f01, f02, f10, f11, f12, f20, f21, f22
    else:
        m00 = f00 * k00 + f01 * k10 + f02 * k20
        m01 = f00 * k01 + f01 * k11 + f02 * k21
        m02 = f00 * k02 + f01 * k12 + f02 * k22
        m10 = f10 * k00 + f11 * k10 + f12 * k20
        m11 = f10 * k01 + f11 * k11 + f12 * k21
        m12 = f10 * k02 + f11 * k12 + f12 * k22
        m20 = f20 * k00 + f21 * k10 + f22 * k20
        m21 = f20 * k01 + f21 * k11 + f22 * k21
        m22 = f20 * k02 + f21 * k12 + f22 * k22
    tr = m00 + m11 + m22
    best, top = 0, tr
    if m00 > top:
        best, top = 1, m00
    if m11 > top:
        best, top = 2, m11
    if m22 > top:
        best, top = 3, m22
    if best == 0:
        c0, c1, c2, c3 = 1 + tr, m21 - m12, m02 - m20, m10 - m01
    elif best == 1:
        c0, c1, c2, c3 = m21 - m12, 1 + m00 - m11 - m22, m01 + m10, m02 + m20
    elif best == 2:
        c0, c1, c2, c3 = m02 - m20, m01 + m10, 1 - m00 + m11 - m22, m12 + m21
    else:
        c0, c1, c2, c3 = m10 - m01, m02 + m20, m12 + m21, 1 - m00 - m11 + m22
    norm = np.sqrt(c0 * c0 + c1 * c1 + c2 * c2 + c3 * c3)
    return px, py, pz, c0 / norm, c1 / norm, c2 / norm, c3 / norm


@njit(cache=True, error_model="numpy")
def _pose_row(f00, f01, f02, f10, f11, f12, f20, f21, f22, ox, oy, oz, offset, mount, ident,
              out, row):
    """out[row] (7,): ``_pose_values``."""
    (out[row, 0], out[row, 1], out[row, 2], out[row, 3], out[row, 4], out[row, 5],
     out[row, 6]) = _pose_values(f00, f01, f02, f10, f11, f12, f20, f21, f22, ox, oy, oz, offset,
                                 mount, ident)


@njit(cache=True, error_model="numpy")
def _continuous_signs(pose):
    """In place: flip the quaternions pose[:, 3:7] along time so that consecutive ones lie in
    one hemisphere (signs from the dot products of the unflipped neighbours, accumulated, as
    ``orientation.quat_continuous``)."""
    nt = pose.shape[0]
    if nt == 0:
        return
    prev = np.empty(4)
    for k in range(4):
        prev[k] = pose[0, 3 + k]
    sign = 1.0
    for i in range(1, nt):
        dot = 0.0
        for k in range(4):
            dot += pose[i, 3 + k] * prev[k]
        for k in range(4):
            prev[k] = pose[i, 3 + k]
        if dot < 0:
            sign = -sign
        if sign < 0:
            for k in range(4):
                pose[i, 3 + k] = -pose[i, 3 + k]


@njit(cache=True, error_model="numpy")
def device_pose(origin, frame, offset, mount, out):
    """Device position and sign-continuous quaternion along time for each clip of a batch.

    origin: (T, B, 3) m; frame: (T, B, 3, 3) segment-to-world (columns = segment axes);
    offset: (3,) m in the segment frame; mount: (3, 3) device-to-segment rotation.
    out: (T, B, 7) position origin + R offset and quaternion (w, x, y, z) of R mount by
    Shepperd's method (as ``orientation.matrix_to_quat``), signs flipped along time so that
    consecutive quaternions lie in one hemisphere (as ``orientation.quat_continuous``).
    """
    nt, nb = origin.shape[0], origin.shape[1]
    ident = _is_identity(mount)
    for b in range(nb):
        rows = out[:, b]
        for i in range(nt):
            f = frame[i, b]
            _pose_row(f[0, 0], f[0, 1], f[0, 2], f[1, 0], f[1, 1], f[1, 2], f[2, 0], f[2, 1], f[2, 2],
                      origin[i, b, 0], origin[i, b, 1], origin[i, b, 2], offset, mount, ident, rows, i)
        _continuous_signs(rows)


# ---------------------------------------------------------------- device model

@njit(cache=True, error_model="numpy")
def device_ragged(x, offsets, pool, pool_offsets, gm_step, gm_knots, gm_a, jitter, sos, zi,
                  scale, mis, turn_on, gm_sigma, walk, white, full_scale, lsb):
    """In place: the device model of ``devices.apply_device_batch`` on each clip of x (sum N, 6).

    pool: each clip's standard normal draws, laid out as ``devices._draws`` splits them;
    gm_*: (B, G) each Gauss-Markov term's samples between knots, knots, AR coefficient
    (G may be 0: no bias instability); jitter: sampling jitter in samples (0 = off);
    sos (S, 6) / zi (S, 2): the on-chip filter (S = 0: off); scale, mis (2,): per sensor;
    turn_on, gm_sigma, walk, white (6,): per-channel factors (the random draw times the factor);
    full_scale, lsb (2,): per sensor (inf / 0 = off). Stages and their order are those of
    ``devices`` (module docstring); each clip uses only its own draws.
    """
    nclips = offsets.shape[0] - 1
    ngm = gm_step.shape[1]
    for b in range(nclips):
        o, n = offsets[b], offsets[b + 1] - offsets[b]
        if n == 0:
            continue
        at = pool_offsets[b]
        jit_at = at
        at += n if jitter != 0.0 else 0
        scale_at, cross_at, turn_at = at, at + 6, at + 24
        walk_at = at + 30
        white_at = walk_at + 6 * n
        gm_at = white_at + 6 * n
        xs = x[o:o + n]
        # 1. sampling jitter (nearest-side linear interpolation)
        if jitter != 0.0 and n >= 2:
            old = xs.copy()
            for i in range(n):
                d = min(max(pool[jit_at + i] * jitter, -1.0), 1.0)
                if i == 0:
                    d = max(d, 0.0)
                if i == n - 1:
                    d = min(d, 0.0)
                if d > 0:
                    j0 = i if i < n - 1 else n - 2
                else:
                    j0 = i - 1 if i > 0 else 0
                for c in range(6):
                    xs[i, c] = old[i, c] + (old[j0 + 1, c] - old[j0, c]) * d
        # 2. on-chip low-pass, causal, steady state at the first sample
        if sos.shape[0]:
            _sos_pass(xs, n, sos, zi, True)
        # 3. scale factor and misalignment: (I + diag(s)) (I + C) per sensor
        for k in range(2):
            if scale[k] != 0.0 or mis[k] != 0.0:
                a = np.eye(3)
                cm = np.eye(3)
                for r in range(3):
                    a[r, r] = 1.0 + pool[scale_at + 3 * k + r] * scale[k]
                    for cc in range(3):
                        if r != cc:
                            cm[r, cc] = pool[cross_at + 9 * k + 3 * r + cc] * mis[k]
                g = np.zeros((3, 3))
                for r in range(3):
                    for cc in range(3):
                        acc = 0.0
                        for j in range(3):
                            acc += a[r, j] * cm[j, cc]
                        g[r, cc] = acc
                for i in range(n):
                    v0, v1, v2 = xs[i, 3 * k], xs[i, 3 * k + 1], xs[i, 3 * k + 2]
                    for r in range(3):
                        xs[i, 3 * k + r] = g[r, 0] * v0 + g[r, 1] * v1 + g[r, 2] * v2
        # 4. biases: turn-on, flicker (Gauss-Markov sum), random walk
        for c in range(6):
            tb = pool[turn_at + c] * turn_on[c]
            for i in range(n):
                xs[i, c] += tb
        if ngm:
            # each term's AR sequence at its knots, one term after the other in ys
            ys = np.empty((np.sum(gm_knots[b]), 6))
            start = np.empty(ngm, np.int64)
            gat, at_y = gm_at, 0
            sd = np.empty(6)
            prev = np.empty(6)
            for g_ in range(ngm):
                knots, ar = gm_knots[b, g_], gm_a[b, g_]
                for c in range(6):
                    sd[c] = gm_sigma[c] * np.sqrt(1.0 - ar * ar)
                    prev[c] = ar * (pool[gat + 6 * knots + c] * gm_sigma[c])
                for j in range(knots):
                    for c in range(6):
                        v = pool[gat + 6 * j + c] * sd[c] + prev[c]
                        ys[at_y + j, c] = v
                        prev[c] = ar * v
                start[g_] = at_y
                at_y += knots
                gat += 6 * knots + 6
            # per sample: terms with a knot per sample straight in, the others interpolated
            # between their knots and summed (in term order), then the sum added
            ones = np.empty(ngm, np.int64)  # start of each term with a knot per sample
            coarse = np.empty((ngm, 3), np.int64)  # step, last knot pair, start of the others
            n1, nc = 0, 0
            for g_ in range(ngm):
                if gm_step[b, g_] == 1:
                    ones[n1] = start[g_]
                    n1 += 1
                else:
                    coarse[nc, 0], coarse[nc, 1], coarse[nc, 2] = (gm_step[b, g_],
                                                                   gm_knots[b, g_] - 2, start[g_])
                    nc += 1
            for i in range(n):
                for g_ in range(n1):
                    for c in range(6):
                        xs[i, c] += ys[ones[g_] + i, c]
                a0 = a1 = a2 = a3 = a4 = a5 = 0.0
                for g_ in range(nc):
                    u = i / coarse[g_, 0]
                    i0 = min(int(u), coarse[g_, 1])
                    frac = u - i0
                    r = coarse[g_, 2] + i0
                    w0, w1 = 1.0 - frac, frac
                    a0 += w0 * ys[r, 0]
                    a0 += w1 * ys[r + 1, 0]
                    a1 += w0 * ys[r, 1]
                    a1 += w1 * ys[r + 1, 1]
                    a2 += w0 * ys[r, 2]
                    a2 += w1 * ys[r + 1, 2]
                    a3 += w0 * ys[r, 3]
                    a3 += w1 * ys[r + 1, 3]
                    a4 += w0 * ys[r, 4]
                    a4 += w1 * ys[r + 1, 4]
                    a5 += w0 * ys[r, 5]
                    a5 += w1 * ys[r + 1, 5]
                xs[i, 0] += a0
                xs[i, 1] += a1
                xs[i, 2] += a2
                xs[i, 3] += a3
                xs[i, 4] += a4
                xs[i, 5] += a5
        if _any(walk):
            run = np.zeros(6)
            for i in range(n):
                for c in range(6):
                    run[c] += pool[walk_at + 6 * i + c] * walk[c]
                    xs[i, c] += run[c]
        # 5. white noise
        for i in range(n):
            for c in range(6):
                xs[i, c] += pool[white_at + 6 * i + c] * white[c]
        # 6. saturation and 7. quantisation
        for k in range(2):
            fs, q = full_scale[k], lsb[k]
            for i in range(n):
                for c in range(3 * k, 3 * k + 3):
                    v = xs[i, c]
                    if np.isfinite(fs):
                        v = min(max(v, -fs), fs)
                    if q != 0.0:
                        v = np.rint(v / q) * q
                    xs[i, c] = v


@njit(cache=True, error_model="numpy")
def _any(v):
    for x in v:
        if x != 0.0:
            return True
    return False


# ---------------------------------------------------------------- device frame (orientation.py)

@njit(cache=True, error_model="numpy")
def _norm3(x, y, z):
    return np.sqrt(x * x + y * y + z * z)


@njit(cache=True, error_model="numpy")
def _median(v):
    """np.median of a 1-D array (the mean of the two middle values for an even count), by
    selection (the order statistics are exact, so the value is np.median's): a quickselect on
    a copy, np.partition's where some value is NaN."""
    n = v.shape[0]
    k = n // 2
    for i in range(n):
        if v[i] != v[i]:
            p = np.partition(v, k)
            if n % 2:
                return p[k]
            return (np.max(p[:k]) + p[k]) / 2.0
    w = v.copy()
    hi = _select(w, k)
    if n % 2:
        return hi
    lo = w[0]
    for i in range(1, k):  # w[:k] holds the k smallest values
        lo = max(lo, w[i])
    return (lo + hi) / 2.0


@njit(cache=True, error_model="numpy")
def _select(a, k):
    """The k-th smallest value of a (no NaN), partitioning a in place so that a[:k] <= a[k] <=
    a[k + 1:] (quickselect with a median-of-three pivot; equal values stop both scans, so runs
    of equal values split evenly)."""
    lo, hi = 0, a.shape[0] - 1
    while True:
        if hi <= lo + 1:
            if hi == lo + 1 and a[hi] < a[lo]:
                a[lo], a[hi] = a[hi], a[lo]
            return a[k]
        mid = (lo + hi) >> 1
        a[mid], a[lo + 1] = a[lo + 1], a[mid]
        if a[lo] > a[hi]:
            a[lo], a[hi] = a[hi], a[lo]
        if a[lo + 1] > a[hi]:
            a[lo + 1], a[hi] = a[hi], a[lo + 1]
        if a[lo] > a[lo + 1]:
            a[lo], a[lo + 1] = a[lo + 1], a[lo]
        i, j = lo + 1, hi
        pivot = a[lo + 1]
        while True:
            i += 1
            while a[i] < pivot:
                i += 1
            j -= 1
            while a[j] > pivot:
                j -= 1
            if j < i:
                break
            a[i], a[j] = a[j], a[i]
        a[lo + 1] = a[j]
        a[j] = pivot
        if j >= k:
            hi = j - 1
        if j <= k:
            lo = i


@njit(cache=True, error_model="numpy")
def _median5_nearest(phi, out):
    """scipy.ndimage.median_filter(phi, size=5, mode="nearest") of a 1-D array.

    Without NaN, each window's median is an exact order statistic found by min/max alone
    (the lower of the two pair minima and the higher of the two pair maxima cannot be the
    median; the median of the other three is); with NaN, by insertion sort as before."""
    n = phi.shape[0]
    has_nan = False
    for i in range(n):
        has_nan |= phi[i] != phi[i]
    if not has_nan:
        for i in range(n):
            a = phi[max(i - 2, 0)]
            b = phi[max(i - 1, 0)]
            c = phi[min(i + 1, n - 1)]
            d = phi[min(i + 2, n - 1)]
            e = phi[i]
            f = max(min(a, b), min(c, d))
            g = min(max(a, b), max(c, d))
            out[i] = max(min(e, f), min(max(e, f), g))
        return
    w = np.empty(5)
    for i in range(n):
        for k in range(5):
            j = min(max(i + k - 2, 0), n - 1)
            v = phi[j]
            m = k - 1  # insertion sort: five values, no call into a general sort
            while m >= 0 and w[m] > v:
                w[m + 1] = w[m]
                m -= 1
            w[m + 1] = v
        out[i] = w[2]


@njit(cache=True, error_model="numpy")
def _unwrap(p, out):
    """np.unwrap of a 1-D array (period 2 pi, discontinuity pi)."""
    n = p.shape[0]
    two_pi = 2.0 * np.pi
    out[0] = p[0]
    run = 0.0
    for i in range(1, n):
        dd = p[i] - p[i - 1]
        if abs(dd) < np.pi:  # np.unwrap's correction is zero there: no remainder needed
            out[i] = p[i] + run
            continue
        m = np.fmod(dd + np.pi, two_pi)
        if m != 0.0 and m < 0.0:
            m += two_pi
        ddmod = m - np.pi
        if ddmod == -np.pi and dd > 0:
            ddmod = np.pi
        run += ddmod - dd
        out[i] = p[i] + run


@njit(cache=True, error_model="numpy")
def _interp_good(phi, good, out):
    """np.interp(t, t[good], phi[good]) with t = 0, 1, ... (at least one good frame)."""
    n = phi.shape[0]
    idx = np.flatnonzero(good)
    first, last = idx[0], idx[-1]
    j = 0
    for i in range(n):
        if i <= first:
            out[i] = phi[first]
        elif i >= last:
            out[i] = phi[last]
        else:
            while idx[j + 1] <= i:
                j += 1
            x0, x1 = idx[j], idx[j + 1]
            slope = (phi[x1] - phi[x0]) / (float(x1) - float(x0))
            out[i] = slope * (float(i) - float(x0)) + phi[x0]


#: Rows of ``device_frame_ragged``'s gathered joint coordinates: three (x, y, z) per distinct
#: joint a clip uses (``_arm_rows``), at most ten joints.
_G_ROWS = 30
#: ``_arm_rows``'s roles: the segment vector's minuend and subtrahend, origin, elbow, shoulder,
#: left and right shoulder, wrist (for the flexion), thumb and its base.
_R_A, _R_B, _R_O, _R_E, _R_S, _R_LS, _R_RS, _R_W, _R_T, _R_TB = range(10)


@njit(cache=True, error_model="numpy")
def _arm_rows(jidx, placement, flexion, thumb, base, joint_list, rows):
    """The distinct joints one clip's frame needs, joint_list[:count] (indices into K), and
    rows (10,): each role's first row in ``_gather_joints``'s output (-1: not needed).
    flexion: the wrist is needed for the elbow flexion; thumb, base: the thumb and its base
    joints (-1: no thumb angle). Returns count."""
    js, je, jw, jh, jt, jls, jrs = jidx[0], jidx[1], jidx[2], jidx[3], jidx[4], jidx[6], jidx[7]
    for r in range(10):
        rows[r] = -1
    if placement == 2:
        dj = jt if jt >= 0 else jh
        a, b = (dj, jw) if dj >= 0 else (jw, je)
        o = jh if jh >= 0 else jw
    else:
        a, b, o = jw, je, jw
    count = 0
    for role, j in ((_R_A, a), (_R_B, b), (_R_O, o), (_R_E, je), (_R_S, js), (_R_LS, jls),
                    (_R_RS, jrs), (_R_W, jw if flexion else -1), (_R_T, thumb), (_R_TB, base)):
        if j < 0 or (role == _R_LS or role == _R_RS) and (jls < 0 or jrs < 0):
            continue
        k = 0
        while k < count and joint_list[k] != j:
            k += 1
        if k == count:
            joint_list[count] = j
            count += 1
        rows[role] = 3 * k
    return count


@njit(cache=True, error_model="numpy")
def _gather_joints(joints, src, n, joint_list, count, g):
    """g[3 k + c, i] = joints[src + i, joint_list[k], c] (k < count, c < 3, i < n): a clip's
    joints in one pass over its frames, one row per joint and axis."""
    for i in range(n):
        for k in range(count):
            j = joint_list[k]
            g[3 * k, i] = joints[src + i, j, 0]
            g[3 * k + 1, i] = joints[src + i, j, 1]
            g[3 * k + 2, i] = joints[src + i, j, 2]


@njit(cache=True, error_model="numpy")
def _segment_axes(g, n, rows, ppf, ax, rf, plane_ok, flex):
    """Pass 1 of ``device_frame_ragged`` for one clip, from its gathered joints g (rows as
    ``_arm_rows``): the segment axis u (ax[0:3, :n]), the radial reference ref (rf[0:3, :n]: the
    elbow plane faded into the forward direction), whether the elbow plane is trusted, and the
    elbow flexion (only with a slope). Returns the clip's status (0 ok, 1 degenerate segment
    axis, 2 degenerate radial direction). The arithmetic runs in loops the compiler vectorises
    (the same operations on every frame)."""
    if _unit_axes(g[rows[_R_A]:rows[_R_A] + 3], g[rows[_R_B]:rows[_R_B] + 3], n, ax):
        return 1
    shoulders = rows[_R_LS] >= 0
    ls = g[rows[_R_LS]:rows[_R_LS] + 3] if shoulders else g[0:3]
    rs = g[rows[_R_RS]:rows[_R_RS] + 3] if shoulders else g[0:3]
    if _radial_reference(g[rows[_R_E]:rows[_R_E] + 3], g[rows[_R_S]:rows[_R_S] + 3], ls, rs, n,
                         shoulders, ax, rf, plane_ok):
        return 2
    if ppf != 0.0:  # the flexion only enters the model through its slope
        _flexion(g[rows[_R_E]:rows[_R_E] + 3], g[rows[_R_S]:rows[_R_S] + 3],
                 g[rows[_R_W]:rows[_R_W] + 3], n, flex)
    return 0


@njit(cache=True, error_model="numpy")
def _unit_axes(pa, pb, n, ax):
    """ax[0:3, :n] = v / |v|, v = pa - pb ((3, n) each); returns whether some |v| < 1e-9
    (degenerate)."""
    bad = 0
    for i in range(n):
        v0 = pa[0, i] - pb[0, i]
        v1 = pa[1, i] - pb[1, i]
        v2 = pa[2, i] - pb[2, i]
        nv = _norm3(v0, v1, v2)
        bad += nv < 1e-9
        ax[0, i], ax[1, i], ax[2, i] = v0 / nv, v1 / nv, v2 / nv
    return bad > 0


@njit(cache=True, error_model="numpy")
def _radial_reference(pe, ps, pls, prs, n, shoulders, ax, rf, plane_ok):
    """rf[0:3, :n] the radial reference from the elbow pe, shoulder ps and (with ``shoulders``)
    the left and right shoulders pls, prs ((3, n) each), plane_ok[:n]; returns whether the
    reference is degenerate on some frame."""
    bad = 0
    for i in range(n):
        # forward direction from the shoulders (else world x), made perpendicular to u
        f0, f1, f2, nf = 1.0, 0.0, 0.0, 1.0  # nf = |f|: sqrt(1) is 1 exactly
        if shoulders:
            a0 = prs[0, i] - pls[0, i]
            a1 = prs[1, i] - pls[1, i]
            a2 = prs[2, i] - pls[2, i]
            c0 = 0.0 * a2 - 1.0 * a1  # np.cross((0, 0, 1), across), term by term
            c1 = 1.0 * a0 - 0.0 * a2
            c2 = 0.0 * a1 - 0.0 * a0
            nc = _norm3(c0, c1, c2)
            if not nc < 1e-6:
                f0, f1, f2, nf = c0, c1, c2, nc
        f0, f1, f2 = f0 / nf, f1 / nf, f2 / nf
        u0, u1, u2 = ax[0, i], ax[1, i], ax[2, i]
        d = f0 * u0 + f1 * u1 + f2 * u2
        fb0, fb1, fb2 = f0 - d * u0, f1 - d * u1, f2 - d * u2
        up0 = pe[0, i] - ps[0, i]
        up1 = pe[1, i] - ps[1, i]
        up2 = pe[2, i] - ps[2, i]
        d = -up0 * u0 + -up1 * u1 + -up2 * u2
        n_up = _norm3(up0, up1, up2)
        nu = max(n_up, 1e-9)
        r0, r1, r2 = (-up0 - d * u0) / nu, (-up1 - d * u1) / nu, (-up2 - d * u2) / nu
        sine = _norm3(r0, r1, r2)
        fade = min(max(1.0 - sine / 0.35, 0.0), 1.0)
        w2 = 1.0 * (fade * fade)
        r0, r1, r2 = r0 + w2 * fb0, r1 + w2 * fb1, r2 + w2 * fb2
        nr = _norm3(r0, r1, r2)
        bad += nr < 1e-9
        rf[0, i], rf[1, i], rf[2, i] = r0 / nr, r1 / nr, r2 / nr
        plane_ok[i] = sine >= 0.35
    return bad > 0


@njit(cache=True, error_model="numpy")
def _flexion(pe, ps, pw, n, flex):
    """flex[:n]: the elbow flexion, rad (0 = straight), from the elbow, shoulder and wrist
    ((3, n) each)."""
    for i in range(n):
        up0 = pe[0, i] - ps[0, i]
        up1 = pe[1, i] - ps[1, i]
        up2 = pe[2, i] - ps[2, i]
        n_up = _norm3(up0, up1, up2)
        b0 = pw[0, i] - pe[0, i]
        b1 = pw[1, i] - pe[1, i]
        b2 = pw[2, i] - pe[2, i]
        cosf = (up0 * b0 + up1 * b1 + up2 * b2) / max(n_up * _norm3(b0, b1, b2), 1e-12)
        flex[i] = np.arccos(min(max(cosf, -1.0), 1.0))


@njit(cache=True, error_model="numpy")
def _thumb_angle(pt, pb, n, sign, ax, rf, th, raw, sine_t, bone):
    """The thumb's twist angle about the forearm axis (sign * u) from the radial reference ref,
    raw[:n] rad, with the thumb bone's length bone[:n] m and its sine to the axis sine_t[:n]
    (``twist.forearm_twist``), from the thumb pt and its base pb ((3, n) each); th (2, n):
    scratch for arctan2's arguments."""
    for i in range(n):
        x0 = pt[0, i] - pb[0, i]
        x1 = pt[1, i] - pb[1, i]
        x2 = pt[2, i] - pb[2, i]
        bn = _norm3(x0, x1, x2)
        bone[i] = bn
        a0, a1, a2 = sign * ax[0, i], sign * ax[1, i], sign * ax[2, i]
        d = x0 * a0 + x1 * a1 + x2 * a2
        p0, p1, p2 = x0 - d * a0, x1 - d * a1, x2 - d * a2
        sine_t[i] = _norm3(p0, p1, p2) / max(bn, 1e-9)
        e0, e1, e2 = rf[0, i], rf[1, i], rf[2, i]
        c0 = e1 * p2 - e2 * p1
        c1 = e2 * p0 - e0 * p2
        c2 = e0 * p1 - e1 * p0
        th[0, i] = c0 * a0 + c1 * a1 + c2 * a2
        th[1, i] = e0 * p0 + e1 * p1 + e2 * p2
    for i in range(n):
        raw[i] = np.arctan2(th[0, i], th[1, i])


@njit(cache=True, error_model="numpy")
def _thumb_gate(raw, sine_t, bone, plane_ok, fs, twist_f, un, med5, out):
    """The per-frame checks of ``twist.forearm_twist`` on the thumb angle raw (n,) rad (n >= 2):
    bone length, thumb off the axis, spike against a 5-frame median, twist range where the elbow
    plane is trusted, angular rate. Returns (trusted share, failed frames); when the share reaches
    ``min_trusted``, out (n,) gets the unwrapped angle interpolated over the failed frames
    (else failed frames = -1 and out is untouched). un, med5: (n,) scratch."""
    bone_tol, min_sine, max_twist, spike, max_rate, min_trusted = (
        twist_f[2], twist_f[3], twist_f[4], twist_f[5], twist_f[6], twist_f[7])
    two_pi = 2.0 * np.pi
    n = raw.shape[0]
    _unwrap(raw, un)
    med_bone = _median(bone)
    ok = np.empty(n, np.bool_)
    _median5_nearest(un, med5)
    for i in range(n):
        good = abs(bone[i] - med_bone) <= bone_tol * max(med_bone, 1e-6)
        good = good and sine_t[i] >= min_sine and abs(un[i] - med5[i]) <= spike
        if good and plane_ok[i]:
            # |twist wrapped to (-pi, pi]| <= max: np.angle(exp(i phi)) only where
            # the plain remainder lies within 1e-6 rad of the limit
            wrapped = un[i] - two_pi * np.floor((un[i] + np.pi) / two_pi)
            if abs(abs(wrapped) - max_twist) <= 1e-6:
                wrapped = np.arctan2(np.sin(un[i]), np.cos(un[i]))
            good = abs(wrapped) <= max_twist
        ok[i] = good
    idx = np.flatnonzero(ok)
    if idx.size >= 2:
        fast = np.zeros(idx.size - 1, np.bool_)
        for k in range(idx.size - 1):
            rate = abs(un[idx[k + 1]] - un[idx[k]]) * fs / float(idx[k + 1] - idx[k])
            fast[k] = rate > max_rate
        for k in range(idx.size - 1):
            if fast[k]:
                ok[idx[k + 1]] = False
                ok[idx[k]] = False
    count = 0
    for i in range(n):
        count += ok[i]
    share = count / n
    if share < min_trusted:
        return share, -1
    _interp_good(un, ok, out)
    return share, n - count


@njit(cache=True, error_model="numpy")
def device_frame_ragged(joints, starts, offsets, jidx_all, placement, fs, twist_f, twist_i, smooth_sos,
                        smooth_zi, smooth_pad, smooth_fit, offset, mount, out, status, used,
                        share, filled):
    """Device pose of each clip from its joints: ``orientation.device_frame`` followed by the
    mounting and the quaternion conversion of ``device_pose``, in compiled code.

    joints: (R, K, 3) m, clip b in rows starts[b] ... starts[b] + T_b - 1; offsets (B + 1,): where
    clip b goes in out (sum T, 7); jidx_all: (B, 8) per clip, indices into K of shoulder, elbow, wrist,
    hand, hand tip, thumb of the placement's side, left and right shoulder (-1 = absent); placement: 0 left
    wrist, 1 right wrist, 2 phone in hand; fs (B,) Hz. twist_f: (twist rad, pronation per
    flexion, bone tolerance, min sine, max twist rad, spike rad, max rate rad/s, min trusted);
    twist_i: (source 0 auto / 1 thumb / 2 model, smoothing on); smooth_*: (B, ...) the twist
    low-pass of each clip (``lowpass_ragged``'s arguments). out (sum T, 7); per clip: status
    (0 ok, 1 degenerate segment axis, 2 degenerate radial direction), used (0 model, 1 thumb,
    2 thumb raw), share (trusted share of thumb frames; NaN = none), filled frames.

    Clip by clip: the segment axes, the twist angle and its low-pass, then the frames, in
    per-clip scratch rows (one row per quantity: loops the compiler vectorises, data that stays
    in cache). Every clip's numbers are its own, whatever its neighbours.
    """
    left = placement == 0
    twist_rad, ppf = twist_f[0], twist_f[1]
    source, smooth_on = twist_i[0], twist_i[1]
    ident = _is_identity(mount)
    nclips = offsets.shape[0] - 1
    maxn = 0
    for b in range(nclips):
        maxn = max(maxn, offsets[b + 1] - offsets[b])
    g = np.empty((_G_ROWS, maxn))  # gathered joints
    joint_list = np.empty(10, np.int64)
    rows = np.empty(10, np.int64)
    ax = np.empty((3, maxn))  # segment axis u
    rf = np.empty((3, maxn))  # radial reference
    plane_ok = np.empty(maxn, np.bool_)
    flex = np.empty(maxn)
    phi = np.empty((maxn, 1))  # the twist before its smoothing
    smoothed = np.empty((maxn, 1))
    scratch = np.empty((5, maxn))
    th = np.empty((2, maxn))
    cs = np.empty((2, maxn))
    pose = np.empty((7, maxn))
    trend = np.empty((1, 3))
    edge = np.empty((1, 3))
    for b in range(nclips):
        o, n = offsets[b], offsets[b + 1] - offsets[b]
        jidx = jidx_all[b]
        status[b], used[b], share[b], filled[b] = 0, 0, np.nan, 0
        jth = jidx[5]
        thumb = jth >= 0 and source != 2
        base = (jidx[3] if jidx[3] >= 0 else jidx[2]) if thumb else -1
        count = _arm_rows(jidx, placement, ppf != 0.0, jth if thumb else -1, base, joint_list,
                          rows)
        _gather_joints(joints, starts[b], n, joint_list, count, g)
        status[b] = _segment_axes(g, n, rows, ppf, ax, rf, plane_ok, flex)
        if status[b]:
            continue
        # forearm twist (twist.forearm_twist): the model (with no slope: twist_rad + 0 (x) finite
        # flexion, exactly), replaced by the thumb where it is trusted
        varying = False  # False: the model's one angle on every frame
        pad = 0  # > 0: the twist is smoothed with this pad
        for i in range(n):
            phi[i, 0] = twist_rad + ppf * (flex[i] - np.pi / 2) if ppf != 0.0 else twist_rad
        if ppf != 0.0:
            varying = True
            if smooth_on:
                pad = smooth_pad[b]
        if thumb:
            sine_t, bone = scratch[0, :n], scratch[1, :n]
            raw = scratch[2, :n] if source != 1 and n >= 2 else phi[:n, 0]
            _thumb_angle(g[rows[_R_T]:rows[_R_T] + 3], g[rows[_R_TB]:rows[_R_TB] + 3], n,
                         1.0 if left else -1.0, ax, rf, th, raw, sine_t, bone)
            if source == 1 or n < 2:
                varying, used[b], pad = True, 2, 0
            else:
                share[b], nf = _thumb_gate(raw, sine_t, bone, plane_ok[:n], fs[b], twist_f,
                                           scratch[3, :n], scratch[4, :n], phi[:n, 0])
                if nf >= 0:
                    varying, used[b], filled[b] = True, 1, nf
                    pad = smooth_pad[b] if smooth_on else 0
        _lowpass_clip(phi, 0, n, smooth_sos[b], smooth_zi[b], pad, smooth_fit[b], smoothed,
                      trend, edge)
        # frame: r = rotate_about(ref, axis, phi); dorsal; axes by placement; then device_pose
        if varying:
            for i in range(n):
                cs[0, i], cs[1, i] = np.cos(smoothed[i, 0]), np.sin(smoothed[i, 0])
        else:
            c, s = np.cos(smoothed[0, 0]), np.sin(smoothed[0, 0])
            for i in range(n):
                cs[0, i], cs[1, i] = c, s
        _frames(n, left, placement, ax, rf, cs, g[rows[_R_O]:rows[_R_O] + 3], offset, mount,
                ident, pose)
        for i in range(n):
            for k in range(7):
                out[o + i, k] = pose[k, i]
        _continuous_signs(out[o:o + n])


@njit(cache=True, error_model="numpy")
def _frames(n, left, placement, ax, rf, cs, g, offset, mount, ident, rows):
    """rows[:, :n] (7, n): ``_pose_row`` of each frame (the device axes from u, ref and the twist's
    cosine and sine cs; the origin g (3, n)), one row per quantity, in loops the compiler
    vectorises (the same operations on every frame; one loop per placement and mounting kind)."""
    if ident:
        _frame_loops(n, left, placement, ax, rf, cs, g, offset, mount, True, rows)
    else:
        _frame_loops(n, left, placement, ax, rf, cs, g, offset, mount, False, rows)


@njit(cache=True, error_model="numpy", inline="always")
def _frame_loops(n, left, placement, ax, rf, cs, g, offset, mount, ident, rows):
    """``_frames`` with ``ident`` a constant where it is inlined (no branch inside the loops)."""
    if placement == 0:
        for i in range(n):
            u0, u1, u2, r0, r1, r2, d0, d1, d2 = _dorsal(ax, rf, cs, i, True)
            _pose_into(u0, -r0, d0, u1, -r1, d1, u2, -r2, d2, g, offset, mount, ident, rows, i)
    elif placement == 1:
        for i in range(n):
            u0, u1, u2, r0, r1, r2, d0, d1, d2 = _dorsal(ax, rf, cs, i, left)
            _pose_into(-u0, -r0, d0, -u1, -r1, d1, -u2, -r2, d2, g, offset, mount, ident, rows, i)
    elif left:
        for i in range(n):
            u0, u1, u2, r0, r1, r2, d0, d1, d2 = _dorsal(ax, rf, cs, i, True)
            _pose_into(r0, u0, -d0, r1, u1, -d1, r2, u2, -d2, g, offset, mount, ident, rows, i)
    else:
        for i in range(n):
            u0, u1, u2, r0, r1, r2, d0, d1, d2 = _dorsal(ax, rf, cs, i, False)
            _pose_into(r0, u0, -d0, r1, u1, -d1, r2, u2, -d2, g, offset, mount, ident, rows, i)


@njit(cache=True, error_model="numpy", inline="always")
def _dorsal(ax, rf, cs, i, left):
    """Frame i's axis u, radial direction r = rotate_about(ref, axis, phi) and dorsal d."""
    e0, e1, e2 = rf[0, i], rf[1, i], rf[2, i]
    u0, u1, u2 = ax[0, i], ax[1, i], ax[2, i]
    c, s = cs[0, i], cs[1, i]
    if left:
        x0 = u1 * e2 - u2 * e1
        x1 = u2 * e0 - u0 * e2
        x2 = u0 * e1 - u1 * e0
    else:
        x0 = -u1 * e2 - -u2 * e1
        x1 = -u2 * e0 - -u0 * e2
        x2 = -u0 * e1 - -u1 * e0
    r0, r1, r2 = c * e0 + s * x0, c * e1 + s * x1, c * e2 + s * x2
    if left:
        d0, d1, d2 = r1 * u2 - r2 * u1, r2 * u0 - r0 * u2, r0 * u1 - r1 * u0
    else:
        d0, d1, d2 = u1 * r2 - u2 * r1, u2 * r0 - u0 * r2, u0 * r1 - u1 * r0
    return u0, u1, u2, r0, r1, r2, d0, d1, d2


@njit(cache=True, error_model="numpy", inline="always")
def _pose_into(f00, f01, f02, f10, f11, f12, f20, f21, f22, g, offset, mount, ident, rows, i):
    """rows[:, i] = ``_pose_values`` of the frame (fij) at the origin g[:, i] (g (3, n))."""
    px, py, pz, qw, qx, qy, qz = _pose_values(f00, f01, f02, f10, f11, f12, f20, f21, f22,
                                              g[0, i], g[1, i], g[2, i], offset, mount, ident)
    rows[0, i], rows[1, i], rows[2, i] = px, py, pz
    rows[3, i], rows[4, i], rows[5, i], rows[6, i] = qw, qx, qy, qz


# ---------------------------------------------------------------- limits and joint selection (imu.py)

#: ``check_skeletons`` status bits: a limit is not certainly met (the NumPy checks decide and word
#: the error); the clip needs the per-clip timeline repair or joint selection.
UNSURE = 1
REPAIR = 2


@njit(cache=True, error_model="numpy")
def _intervals(t, o, n, dt):
    """dt[:n - 1] = the frame intervals of t[o : o + n] (n >= 2); returns (smallest, largest,
    mean interval end to end): ``kinematics.is_uniform``'s quantities."""
    lo, hi = np.inf, -np.inf
    for i in range(n - 1):
        d = t[o + i + 1] - t[o + i]
        dt[i] = d
        lo, hi = min(lo, d), max(hi, d)
    return lo, hi, (t[o + n - 1] - t[o]) / max(n - 1, 1)


@njit(cache=True, error_model="numpy")
def check_skeletons(t, valid, pos, offsets, req, opt, rate_hz, lim, min_share, min_frames, rtol,
                    status, use_opt, fs, nout):
    """Plausibility limits, joint selection and frame rate of skeleton clips, one pass per clip.

    t: (sum T,) s; valid: (sum T, J) bool; pos: (sum T, J, 3) m, world frame; offsets (B + 1,);
    req (3,): indices into J of the placement's shoulder, elbow, wrist; opt (P,): of its optional
    joints present; lim: (max_frames, max_gap_s, min_fps, max_duration_s, max_output_samples,
    max_position_m, min_arm_length_m, max_arm_length_m) as ``limits.Limits``; rtol: the uniform
    grid's tolerance (``kinematics.UNIFORM_RTOL``). Per clip: status (bits ``UNSURE``,
    ``REPAIR``); use_opt (B,): bit p set where optional joint p is tracked in at least
    ``min_share`` of the frames; fs (B,) Hz: 1 / median frame interval; nout (B,): device
    samples at ``rate_hz`` (``kinematics.output_times``). A clip passes without ``UNSURE`` only
    when every quantity ``imu._check_limits`` judges is at least 1e-9 (relative) inside its limit,
    so the two never disagree; ``REPAIR`` is set exactly where ``imu._motion_joints`` would
    change the clip (times not increasing or not uniform within rtol, a used joint untracked).
    """
    margin = 1e-9
    (max_frames, max_gap, min_fps, max_duration, max_out, max_pos, min_arm, max_arm) = (
        lim[0], lim[1], lim[2], lim[3], lim[4], lim[5], lim[6], lim[7])
    nclips = offsets.shape[0] - 1
    nopt = opt.shape[0]
    js, je, jw = req[0], req[1], req[2]
    for b in range(nclips):
        o, n = offsets[b], offsets[b + 1] - offsets[b]
        st = 0
        fs[b], nout[b], use_opt[b] = np.nan, 0, 0
        if n > max_frames or n < min_frames:
            status[b] = UNSURE | REPAIR
            continue
        # timeline: increasing, uniform within rtol, median rate
        dt = np.empty(n - 1)
        lo, hi, mean = _intervals(t, o, n, dt)
        if not lo > 0:
            status[b] = UNSURE | REPAIR
            continue
        if not (hi - mean <= rtol * mean and mean - lo <= rtol * mean):
            st |= REPAIR
        med = _median(dt)
        fs[b] = 1.0 / med
        if not 1.0 / med >= min_fps * (1.0 + margin):
            st |= UNSURE
        # frames with the shoulder, elbow and wrist tracked: gaps, duration, arm length, coordinates
        arm_lo, arm_hi = min_arm * (1.0 + margin), max_arm * (1.0 - margin)
        short, long_ = 0, 0
        count = 0
        gap = 0.0
        t_first, t_last = 0.0, 0.0
        biggest = 0.0
        finite = True
        for i in range(n):
            r = o + i
            if not (valid[r, js] and valid[r, je] and valid[r, jw]):
                continue
            if count == 0:
                t_first = t[r]
            else:
                gap = max(gap, t[r] - t_last)
            t_last = t[r]
            a = _norm3(pos[r, je, 0] - pos[r, js, 0], pos[r, je, 1] - pos[r, js, 1],
                       pos[r, je, 2] - pos[r, js, 2])
            a += _norm3(pos[r, jw, 0] - pos[r, je, 0], pos[r, jw, 1] - pos[r, je, 1],
                        pos[r, jw, 2] - pos[r, je, 2])
            short += not a >= arm_lo  # NaN counts as out of range
            long_ += a > arm_hi
            count += 1
            for jj in range(3):
                for c in range(3):
                    v = abs(pos[r, req[jj], c])
                    finite &= np.isfinite(v)
                    biggest = max(biggest, v)
        if count < 2 or not finite:
            st |= UNSURE
        else:
            duration = t_last - t_first
            if not (gap <= max_gap * (1.0 - margin) and duration <= max_duration * (1.0 - margin)
                    and duration * rate_hz <= max_out * (1.0 - margin)
                    and biggest <= max_pos * (1.0 - margin)):
                st |= UNSURE
            # the median lies in [arm_lo, arm_hi] when both middle order statistics do
            if short > (count - 1) // 2 or long_ > (count - 1) // 2:
                st |= UNSURE
        if count < n:
            st |= REPAIR
        # optional joints: used when tracked in >= min_share of the frames; used ones must be
        # tracked in every frame for the clip to need no repair
        for k in range(nopt):
            tracked = 0
            for i in range(n):
                tracked += valid[o + i, opt[k]]
            use = tracked / n >= min_share
            if use:
                use_opt[b] |= 1 << k
            if use and tracked < n:
                st |= REPAIR
        nout[b] = int(np.floor((t[o + n - 1] - t[o]) * rate_hz + 1e-9)) + 1
        status[b] = st


@njit(cache=True, error_model="numpy")
def fill_untracked(t, valid, pos, offsets, req, opt, use_opt, todo, min_frames, rtol, first, last,
                   filled, fs):
    """``kinematics.fill_gaps`` of the clips ``todo`` (indices into the block of
    ``check_skeletons``, with strictly increasing times), in place in pos, for the joints each
    clip uses (req and the optional joints of its ``use_opt`` bits).

    A frame is good when every used joint is tracked; the clip is trimmed to its first ... last
    good frame and each used joint of a frame in between that is not good gets
    ``np.interp(t, t[good], x[good])`` (the same operations). Per todo item: first, last (frames
    of the clip kept), filled (frames filled) and fs (Hz, 1 / median interval of the kept
    frames). first = -1 leaves the clip as it is, for the general path: fewer than
    ``min_frames`` good frames, or kept times not uniform within rtol (``kinematics.is_uniform``).
    """
    nopt = opt.shape[0]
    cols = np.empty(3 + nopt, np.int64)
    for m in range(todo.shape[0]):
        b = todo[m]
        o, n = offsets[b], offsets[b + 1] - offsets[b]
        first[m], last[m], filled[m], fs[m] = -1, -1, 0, np.nan
        nk = 3
        for k in range(3):
            cols[k] = req[k]
        for k in range(nopt):
            if use_opt[b] & (1 << k):
                cols[nk] = opt[k]
                nk += 1
        ok = np.empty(n, np.bool_)
        count, f, l = 0, -1, -1
        for i in range(n):
            good = True
            for jj in range(nk):
                good &= valid[o + i, cols[jj]]
            ok[i] = good
            if good:
                count += 1
                l = i
                if f < 0:
                    f = i
        if count < min_frames:
            continue
        kept = l - f + 1
        dt = np.empty(kept - 1)
        lo, hi, mean = _intervals(t, o + f, kept, dt)
        if not (hi - mean <= rtol * mean and mean - lo <= rtol * mean):
            continue
        g0, g1 = f, f
        for i in range(f, l + 1):
            if ok[i]:
                g0 = i
                continue
            if g1 < i:  # the next good frame (l at the latest)
                g1 = i + 1
                while not ok[g1]:
                    g1 += 1
            x, x0, x1 = t[o + i], t[o + g0], t[o + g1]
            for jj in range(nk):
                j = cols[jj]
                for c in range(3):
                    y0, y1 = pos[o + g0, j, c], pos[o + g1, j, c]
                    slope = (y1 - y0) / (x1 - x0)
                    r = slope * (x - x0) + y0
                    if r != r:  # NaN one way: the other (as np.interp)
                        r = slope * (x - x1) + y1
                        if r != r and y0 == y1:
                            r = y0
                    pos[o + i, j, c] = r
        first[m], last[m], filled[m], fs[m] = f, l, kept - count, 1.0 / _median(dt)


@njit(cache=True, error_model="numpy")
def output_instants(t0, q_offsets, rate, tq):
    """tq[q] = t0[b] + (q - q_offsets[b]) / rate for the rows q of each clip b: its device
    instants, s (``kinematics.output_times``; the arithmetic of
    ``np.repeat(t0, n) + (np.arange(N) - np.repeat(q_offsets[:-1], n)) / rate``)."""
    for b in range(t0.shape[0]):
        q0 = q_offsets[b]
        for q in range(q0, q_offsets[b + 1]):
            tq[q] = t0[b] + (q - q0) / rate


@njit(cache=True, error_model="numpy")
def split_signals(x, accel, gyro):
    """accel, gyro (N, 3) = x[:, :3], x[:, 3:] of x (N, 6) (one pass; NumPy's strided copies
    of three-value rows are several times slower)."""
    for i in range(x.shape[0]):
        accel[i, 0], accel[i, 1], accel[i, 2] = x[i, 0], x[i, 1], x[i, 2]
        gyro[i, 0], gyro[i, 1], gyro[i, 2] = x[i, 3], x[i, 4], x[i, 5]


@njit(cache=True, error_model="numpy")
def clip_peaks(x, offsets, a_max, g_max):
    """Per clip b: a_max[b], g_max[b] = max |x[rows, :3]|, max |x[rows, 3:]| over its rows of
    x (sum N, 6) (NaN if any value is NaN, as np.max); returns whether every value is finite.

    On a C-contiguous x the maxima are taken on the bit patterns of |x| (the sign bit cleared):
    as 64-bit integers these order non-negative doubles as their values do and put every NaN
    above infinity, so integer maxima (a loop the compiler vectorises) give the same peaks."""
    if not x.flags.c_contiguous:
        return _clip_peaks_strided(x, offsets, a_max, g_max)
    bits = x.reshape(x.shape[0] * 6).view(np.int64)
    a_bits, g_bits = a_max.view(np.int64), g_max.view(np.int64)
    magnitude = np.int64(0x7FFFFFFFFFFFFFFF)
    top = np.int64(0)
    for b in range(offsets.shape[0] - 1):
        a = np.int64(0)
        g = np.int64(0)
        for i in range(offsets[b], offsets[b + 1]):
            k = 6 * i
            a = max(a, bits[k] & magnitude, bits[k + 1] & magnitude, bits[k + 2] & magnitude)
            g = max(g, bits[k + 3] & magnitude, bits[k + 4] & magnitude, bits[k + 5] & magnitude)
        a_bits[b], g_bits[b] = a, g
        top = max(top, a, g)
    return top < np.int64(0x7FF0000000000000)  # below infinity's bit pattern: all finite


@njit(cache=True, error_model="numpy")
def _clip_peaks_strided(x, offsets, a_max, g_max):
    """``clip_peaks`` on any x, value by value."""
    finite = True
    for b in range(offsets.shape[0] - 1):
        a, g = 0.0, 0.0
        for i in range(offsets[b], offsets[b + 1]):
            for c in range(6):
                v = abs(x[i, c])
                finite &= np.isfinite(v)
                if c < 3:
                    a = v if (v > a or v != v) and a == a else a
                else:
                    g = v if (v > g or v != v) and g == g else g
        a_max[b], g_max[b] = a, g
    return finite


# ---------------------------------------------------------------- tracking screen

@njit(cache=True, error_model="numpy")
def screen_flags(x, valid, cols, max_run, t, max_speed, repair_speed, stale, fast):
    """``screen.stale_frames`` and ``screen.fast_frames`` of one clip in one pass (same rules,
    same arithmetic): x (T, J, 3) m, valid (T, J) bool, cols (K,) the joints judged, t (T,) s
    sorted; max_run <= 0: no stale marking; max_speed <= 0: no speed check; repair_speed <= 0:
    none. Fills stale, fast (T,) bool. Returns the clip's frame rate (1 / median positive
    interval, Hz), computed only when some step could exceed ``max_speed`` (else 0.0)."""
    n = x.shape[0]
    k = cols.shape[0]
    for i in range(n):
        stale[i] = False
        fast[i] = False
    if max_run > 0:
        for i in range(1, n):
            anyboth = False
            alleq = True
            for c in range(k):
                j = cols[c]
                if valid[i, j] and valid[i - 1, j]:
                    anyboth = True
                    if (x[i, j, 0] != x[i - 1, j, 0] or x[i, j, 1] != x[i - 1, j, 1]
                            or x[i, j, 2] != x[i - 1, j, 2]):
                        alleq = False
                        break
            stale[i] = alleq and anyboth
        i = 0
        while i < n:  # runs longer than max_run are kept
            if stale[i]:
                e = i
                while e < n and stale[e]:
                    e += 1
                if e - i > max_run:
                    for m in range(i, e):
                        stale[m] = False
                i = e
            else:
                i += 1
    if max_speed <= 0.0 or n < 2:
        return 0.0
    d = np.zeros(n - 1)
    dmax = 0.0
    for i in range(n - 1):
        best = 0.0
        if not (stale[i] or stale[i + 1]):
            for c in range(k):
                j = cols[c]
                if valid[i, j] and valid[i + 1, j]:
                    dx = x[i + 1, j, 0] - x[i, j, 0]
                    dy = x[i + 1, j, 1] - x[i, j, 1]
                    dz = x[i + 1, j, 2] - x[i, j, 2]
                    v = np.sqrt(dx * dx + dy * dy + dz * dz)
                    if v > best:
                        best = v
        d[i] = best
        if best > dmax:
            dmax = best
    min_dt = np.inf
    for i in range(n - 1):
        dt = t[i + 1] - t[i]
        if dt > 0.0 and dt < min_dt:
            min_dt = dt
    if not dmax / min_dt > max_speed:  # fs <= 1 / min_dt: no step can be too fast
        return 0.0
    pos = np.empty(n - 1)
    m = 0
    for i in range(n - 1):
        dt = t[i + 1] - t[i]
        if dt > 0.0:
            pos[m] = dt
            m += 1
    fs = 1.0 / np.median(pos[:m])
    for s in range(n - 1):
        if d[s] * fs > max_speed:
            half = 0
            if repair_speed > 0.0:
                half = int(np.ceil(d[s] / (2.0 * repair_speed) * fs))
            for m2 in range(max(s - half, 0), min(s + half + 2, n)):
                fast[m2] = True
    return fs
