"""The time loop's helpers, shared by every cell: which step comes next, the state
history, the per-step recurrent products and the masks of ragged rows.

A block of rows (``[r0, r1)`` of the batch, :func:`chunk`) runs the whole time
loop on its own: rows never depend on each other. Every array argument here is
that block's slice.
"""

import numpy as np
from numba import njit

from .._config import JIT_OPTIONS, wide_vectors
from ._blas import gemm
from ._panel import panel_gemm


# --8<-- [start:time_steps]
@njit(**JIT_OPTIONS)
def chunk(k, n, rows):
    """Rows ``[start, stop)`` of chunk ``k`` when ``rows`` are split in ``n`` chunks."""
    return k * rows // n, (k + 1) * rows // n


@njit(**JIT_OPTIONS)
def forward_step(s, T, reverse):
    """The step ``t`` a forward time loop handles at its iteration ``s``."""
    return T - 1 - s if reverse else s


@njit(**JIT_OPTIONS)
def backward_step(s, T, reverse):
    """The step ``t`` a backward time loop of ``T + 1`` iterations handles at its
    iteration ``s``: the forward's steps in reverse order, then -1 (none: the last
    iteration only finishes the recurrent product of the step before)."""
    return -1 if s == T else (s if reverse else T - 1 - s)
# --8<-- [end:time_steps]


# --8<-- [start:keep_state]
@njit(**JIT_OPTIONS)
def keep_state(state, history, t):
    """``history[:, t] = state`` (``[B, H]`` into ``[B, T, H]``), row by row: one
    contiguous copy a row, which runs about five times faster than numba's 2-D
    strided slice assignment (0.27 against 1.47 ms for h and c at (64, 100, 256))."""
    wide_vectors()
    H = state.shape[1]
    for r in range(state.shape[0]):
        dst, src = history[r, t], state[r]
        for j in range(H):
            dst[j] = src[j]
# --8<-- [end:keep_state]


# --8<-- [start:copy_rows]
@njit(**JIT_OPTIONS)
def copy_rows(src, dst):
    """``dst[:] = src`` for 2-D views of one shape, row by row (as
    :func:`keep_state`)."""
    wide_vectors()
    for r in range(src.shape[0]):
        d, s = dst[r], src[r]
        for j in range(src.shape[1]):
            d[j] = s[j]
# --8<-- [end:copy_rows]


# --8<-- [start:valid_rows]
@njit(**JIT_OPTIONS)
def set_valid_rows(t, lengths, src, dh):
    """``dh[r] = src[r]`` for the rows valid at step ``t`` (``[B, H]`` each).

    Rows past their length keep ``dh`` (their state was carried, so is its gradient).
    """
    wide_vectors()
    for r in range(dh.shape[0]):
        if t < lengths[r]:
            d, s = dh[r], src[r]
            for j in range(dh.shape[1]):
                d[j] = s[j]


@njit(**JIT_OPTIONS)
def add_valid_rows(t, lengths, src, dh):
    """``dh[r] += src[r]`` for the rows valid at step ``t`` (as
    :func:`set_valid_rows`, adding)."""
    wide_vectors()
    for r in range(dh.shape[0]):
        if t < lengths[r]:
            d, s = dh[r], src[r]
            for j in range(dh.shape[1]):
                d[j] += s[j]
# --8<-- [end:valid_rows]


# --8<-- [start:recurrent_product]
@njit(**JIT_OPTIONS)
def recurrent_product(A, packed, k0, W, w_t, C, beta):
    """``C (+)= A @ op(W)``, a step's recurrent product: through the register tile
    on ``packed`` (``W`` packed by :mod:`seqnet.kernels._panel`, its rows from ``k0``
    on) when the call packed it, else BLAS on ``W`` itself (``op(W) = W.T`` when
    ``w_t``; ``W`` then holds just the rows ``packed`` would give). ``beta`` 0 or 1."""
    if packed.shape[0] > 0:
        panel_gemm(A, packed, k0, C, beta)
    else:
        gemm(A, W, C, beta, False, w_t)
# --8<-- [end:recurrent_product]


# --8<-- [start:carry_back]
@njit(**JIT_OPTIONS)
def carry_back(dG, t, W_hh_packed, W_hh, lengths, work, dh):
    """``dh = dG[:, t] @ W_hh`` for the rows valid at step ``t``: dL/dh of the state
    entering step ``t`` (``W_hh_packed``: ``W_hh`` packed, or empty, see
    :func:`recurrent_product`; ``work [B, H]`` a workspace)."""
    recurrent_product(dG[:, t], W_hh_packed, 0, W_hh, False, work, 0)
    set_valid_rows(t, lengths, work, dh)
# --8<-- [end:carry_back]


# ----------------------------------------------------------- regularised cells
# The helpers of the regularised time loops (recurrent dropout, zoneout): see
# docs/derivations/regularisation.md.

# --8<-- [start:zoneout_hash]
@njit(**JIT_OPTIONS)
def zoneout_row(seed, row, t, T, rate, threshold, training, keep):
    """``keep [H]``: the zoneout coefficients ``d`` of one row at step ``t`` (of
    ``T``). In training, ``d_j`` is 1 (keep the previous value) with probability
    ``rate``, else 0; at inference it is the expectation, ``rate``.

    One 64-bit hash serves four units: with ``q = H // 4`` and ``n = q + H % 4``,
    the hash of ``(seed, key)``, ``key = (row*T + t)*n + j``, gives units ``j``,
    ``j + q``, ``j + 2q`` and ``j + 3q`` its four 16-bit quarters, low to high (the
    last ``H % 4`` units take the low bits of keys ``q, q + 1, ...`` of their own); a
    unit keeps when its 16 bits are below ``threshold >> 48`` (``threshold = rate *
    2**64``: the rate kept to 2**-16, within 1.6e-5). The hash is splitmix64's
    finaliser of ``seed + (key + 1) * golden``: a counter-based generator, so a
    mask is a function of ``(seed, row, step, unit)`` alone, the same in any block
    of rows, thread or pass (the LSTM's and GRU's backward make their forward's
    masks again), and fresh at every step. Integer compares keep the loop
    vectorised."""
    if rate == 0.0 or not training:
        keep[:] = rate
        return
    zoneout_bits(seed, row, t, T, threshold, keep)


@njit(**JIT_OPTIONS)
def zoneout_bits(seed, row, t, T, threshold, keep):
    """The training half of :func:`zoneout_row`: ``keep [H]`` gets 1 where a unit
    keeps its previous value at step ``t`` of ``row``, else 0, in ``keep``'s own
    dtype (a float row, or the ``uint8`` row a kernel stores for its backward)."""
    wide_vectors()
    H = keep.shape[0]
    one, zero = keep.dtype.type(1), keep.dtype.type(0)
    golden = np.uint64(0x9E3779B97F4A7C15)
    q = H // 4
    n = q + (H & 3)
    base = seed + np.uint64((row * T + t) * n + 1) * golden
    bound = threshold >> np.uint64(48)
    m = np.uint64(0xFFFF)
    k0, k1, k2, k3 = keep[:q], keep[q:2 * q], keep[2 * q:3 * q], keep[3 * q:4 * q]
    for j in range(q):
        z = base + np.uint64(j) * golden
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        k0[j] = one if (z & m) < bound else zero
        k1[j] = one if ((z >> np.uint64(16)) & m) < bound else zero
        k2[j] = one if ((z >> np.uint64(32)) & m) < bound else zero
        k3[j] = one if (z >> np.uint64(48)) < bound else zero
    for u in range(H & 3):   # the last H % 4 units: the low bits of keys of their own
        z = base + np.uint64(q + u) * golden
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        keep[4 * q + u] = one if (z & m) < bound else zero


def zoneout_threshold(rate):
    """``rate * 2**64`` as ``np.uint64``: the hash bound of :func:`zoneout_row`."""
    return np.uint64(min(int(rate * 2.0 ** 64), 2 ** 64 - 1))


def zoneout_masks(seed, B, T, H, rate, dtype=np.float64):
    """The training zoneout masks ``[B, T, H]`` (1: keep the previous value) that
    ``seed`` gives, exactly as the kernels draw them (for tests and inspection).

    Parameters
    ----------
    seed : int
        In ``[0, 2**64)``.
    B, T, H : int
        Rows, steps, units.
    rate : float
        The zoneout rate.
    dtype : numpy dtype, default float64

    Returns
    -------
    ndarray, (B, T, H)
    """
    out = np.empty((B, T, H), dtype)
    _zoneout_fill(np.uint64(seed), T, rate, zoneout_threshold(rate), out)
    return out


@njit(**JIT_OPTIONS)
def _zoneout_fill(seed, T, rate, threshold, out):
    wide_vectors()
    for b in range(out.shape[0]):
        for t in range(T):
            zoneout_row(seed, b, t, T, rate, threshold, True, out[b, t])
# --8<-- [end:zoneout_hash]


# --8<-- [start:recurrent_mask]
@njit(**JIT_OPTIONS)
def mask_rows(h, mask, hm):
    """``hm = h * mask`` (``[B, H]`` each): the operand of a step's recurrent
    product under recurrent dropout (the state ``h`` itself is not masked)."""
    wide_vectors()
    for r in range(h.shape[0]):
        d, s, m = hm[r], h[r], mask[r]
        for j in range(h.shape[1]):
            d[j] = s[j] * m[j]


@njit(**JIT_OPTIONS)
def mask_step(src, t, mask, dst):
    """``dst[r] = src[r, t] * mask[r]`` (``src [B, T, H]``, the others ``[B, H]``):
    step ``t``'s rows masked, each read as a contiguous row so the loop vectorises."""
    wide_vectors()
    for r in range(dst.shape[0]):
        d, s, m = dst[r], src[r, t], mask[r]
        for j in range(dst.shape[1]):
            d[j] = s[j] * m[j]


@njit(**JIT_OPTIONS)
def set_valid_rows_masked(t, lengths, src, mask, dh):
    """``dh[r] = src[r] * mask[r]`` for the rows valid at step ``t``: dL/dh_{t-1}
    under recurrent dropout alone (no zoneout carries a part of dL/dh_t)."""
    wide_vectors()
    for r in range(dh.shape[0]):
        if t < lengths[r]:
            d, s, m = dh[r], src[r], mask[r]
            for j in range(dh.shape[1]):
                d[j] = s[j] * m[j]


@njit(**JIT_OPTIONS)
def add_valid_rows_masked(t, lengths, src, mask, dh):
    """``dh[r] += src[r] * mask[r]`` for the rows valid at step ``t``: the
    recurrent product's part of dL/dh_{t-1} under recurrent dropout."""
    wide_vectors()
    for r in range(dh.shape[0]):
        if t < lengths[r]:
            d, s, m = dh[r], src[r], mask[r]
            for j in range(dh.shape[1]):
                d[j] += s[j] * m[j]


@njit(**JIT_OPTIONS)
def mask_history(history, mask):
    """``history[r, t] *= mask[r]`` for every step (``[B, T, H]``, ``[B, H]``): a
    kept state history made the operand of the recurrent products, in place."""
    wide_vectors()
    for r in range(history.shape[0]):
        m = mask[r]
        for t in range(history.shape[1]):
            d = history[r, t]
            for j in range(history.shape[2]):
                d[j] *= m[j]
# --8<-- [end:recurrent_mask]
