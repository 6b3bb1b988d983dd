"""LSTM: the forward pass and backpropagation through time (gate order i, f, g, o).

Equations, for a valid step ``t`` of row ``b`` (``t < lengths[b]``)::

    a = W_ih x_t + W_hh h_{t-1} + b          a: [4H], b = b_ih + b_hh
    i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Past a row's length the state is carried unchanged and the output is 0. ``reverse``
runs the steps from t = T-1 down to 0; the masks are the same, so the reverse
direction of a row starts at its last valid step.

The path of a call: :func:`forward` (plain Python) allocates every buffer and makes
one compiled call, ``lstm_seq_forward``: the input projection of every step, then,
for each block of rows, the time loop, each step one recurrent product and one gate
pass, :func:`lstm_gates_forward`. :func:`backward`, ``lstm_seq_backward`` and
:func:`lstm_gates_backward` mirror them. How a call runs (serial or parallel, blocks
of rows, packed weights) is :mod:`seqnet._dispatch`'s plan.

Forward buffers (batch-first, as the layers take them; B rows, T steps, I inputs,
H hidden units, n row blocks of at most Bc rows)::

    x         [B, T, I]   input ([B, T, 0] for index input: gates holds its projection)
    h0, c0    [B, H]      initial state
    lengths   [B] int64   1 <= lengths[b] <= T
    W_ih      [4H, I]     W_hh [4H, H]; b [4H] = b_ih + b_hh
    W_hh_T_packed [L]     W_hh.T packed in panels for the per-step products (empty:
                          BLAS on W_hh; see _panel)
    out       [B, T, H]   h_t at valid steps, 0 elsewhere
    hT, cT    [B, H]      state after each row's last valid step
    h_prev    [B, T, H]   state entering step t (kept for backward when training)
    c_prev    [B, T, H]
    gates     [B, T, 4H]  input projection in; post-activation i, f, g, o out
    rec       [n, Bc, 4H] each block's recurrent products

Backward buffers::

    dout      [B, T, H]   dL/d out;   dhT, dcT [B, H]: dL/d hT, dL/d cT
    dG        [B, T, 4H]  the forward's gates in; dL/da, the pre-activation gradients
                          (i, f, g, o blocks), out, written over them in place
    dh0, dc0  [B, H]      carry dL/dh, dL/dc backwards; end as the initial-state grads
    work      [n, Bc, H]  each block's dG[:, t] W_hh
    dx [B, T, I], dW_ih, dW_hh, db   outputs (dx and dW_ih: the entry's, for index input)
"""

import numpy as np
from numba import njit, prange

from .. import _dispatch
from .._config import JIT_OPTIONS, jit_pair, wide_vectors
from ._blas import prefetch
from ._buffers import (
    history,
    index_weight_grad,
    input_buffers,
    input_grad_buffers,
    packed,
    packed_transpose,
    release,
    spend,
)
from ._grads import column_sums, projection_chunk, sequence_grads_chunk
from ._math import sigmoid, tanh
from ._steps import (
    add_valid_rows_masked,
    backward_step,
    carry_back,
    chunk,
    copy_rows,
    forward_step,
    keep_state,
    mask_rows,
    recurrent_product,
    zoneout_row,
)

#: order of the gate blocks in ``W_ih``, ``W_hh`` and the biases.
LSTM_GATES = ("i", "f", "g", "o")


# --8<-- [start:lstm_forward]
def forward(x, W_ih, W_hh, b_ih, b_hh, state, lengths, reverse=False, training=True, *,
            regularise=None):
    """One direction of an LSTM layer over a batch of sequences.

    Parameters
    ----------
    x : ndarray, (B, T, I) float, C-contiguous, or (B, T) integer indices in [0, I)
    W_ih, W_hh, b_ih, b_hh : ndarray
        ``(4H, I)``, ``(4H, H)``, ``(4H,)``, ``(4H,)``, of the dtype of the call.
    state : tuple of ndarray
        ``(h0, c0)``, each ``(B, H)``.
    lengths : ndarray, (B,) int64
        ``1 <= lengths[b] <= T``.
    reverse : bool, default False
        Run from the last step to the first.
    training : bool, default True
        Keep the cache that :func:`backward` spends.
    regularise : Regularise, optional
        Recurrent dropout and zoneout (:mod:`seqnet.kernels._regular`): the
        regularised time loop, ``lstm_reg_forward``. None: the plain one.

    Returns
    -------
    out : ndarray, (B, T, H)
    final_state : tuple of ndarray
        ``(hT, cT)``, each ``(B, H)``.
    cache : dict or None
    """
    # BLAS takes unit inner strides (gemm fills its output with NaN otherwise).
    W_ih, W_hh = np.ascontiguousarray(W_ih), np.ascontiguousarray(W_hh)
    if regularise is not None:
        return _reg_forward(x, W_ih, W_hh, b_ih + b_hh, state, lengths, reverse, training,
                            regularise)
    H = W_hh.shape[1]
    dt = W_hh.dtype
    x_k, gates, index_input, B, T = input_buffers(x, W_ih, scratch=not training)
    how = _dispatch.plan(B, T, 4 * H, W_ih.shape[1], H)
    out = np.empty((B, T, H), dt)
    hT, cT = np.empty((B, H), dt), np.empty((B, H), dt)
    h_prev, c_prev = history(training, B, T, H, dt), history(training, B, T, H, dt)
    rec = np.empty((how.blocks, -(-B // how.blocks), 4 * H), dt)
    with _dispatch.guard():
        lstm_seq_forward[how.parallel](
            x_k, state, lengths, (W_ih, W_hh, packed_transpose(W_hh, how.pack), b_ih + b_hh),
            (reverse, training, index_input, how.blocks, how.seq_chunks),
            (out, hT, cT, h_prev, c_prev, gates, rec))
    release(gates, not training)
    cache = None
    if training:
        cache = dict(x=x, x_k=x_k, W_ih=W_ih, W_hh=W_hh, lengths=lengths, reverse=reverse,
                     h_prev=h_prev, c_prev=c_prev, gates=gates)
    return out, (hT, cT), cache
# --8<-- [end:lstm_forward]


# --8<-- [start:lstm_backward]
def backward(cache, dout, dstate):
    """Backpropagation through time for :func:`forward`, spending its cache.

    Parameters
    ----------
    cache : dict
        A training forward's cache (a second backward from it raises).
    dout : ndarray, (B, T, H)
    dstate : tuple of ndarray
        ``(dhT, dcT)``, each ``(B, H)``.

    Returns
    -------
    dx : ndarray (B, T, I), or None for index input
    grads : tuple of ndarray
        ``(dW_ih, dW_hh, db_ih, db_hh)``.
    dstate0 : tuple of ndarray
        ``(dh0, dc0)``.
    """
    if "regularise" in cache:
        return _reg_backward(cache, dout, dstate)
    x, W_ih, W_hh = cache["x"], cache["W_ih"], cache["W_hh"]
    B, T = x.shape[:2]
    H = W_hh.shape[1]
    dt = W_hh.dtype
    how = _dispatch.plan(B, T, 4 * H, W_ih.shape[1], H)
    # dL/da of every step overwrites the gates it is made from (each element is
    # read before it is written, and nothing reads the gates after): the cache is
    # spent, and BPTT needs no second (B, T, 4H) buffer.
    dG = spend(cache, "gates")
    dx, dW_ih = input_grad_buffers(x, W_ih)
    dW_hh, db = np.empty_like(W_hh), np.empty(4 * H, dt)
    dh0, dc0 = np.empty((B, H), dt), np.empty((B, H), dt)
    work = np.empty((how.blocks, -(-B // how.blocks), H), dt)
    index_input = x.ndim == 2
    with _dispatch.guard():
        lstm_seq_backward[how.parallel](
            cache["x_k"], cache["lengths"], (W_ih, W_hh, packed(W_hh, how.pack)),
            (cache["h_prev"], cache["c_prev"]), (dout, dstate[0], dstate[1]),
            (cache["reverse"], index_input, how.blocks, how.seq_chunks),
            (dx, dW_ih, dW_hh, db, dh0, dc0), (dG, work))
    if index_input:
        index_weight_grad(x, dG, dW_ih)
        dx = None
    return dx, (dW_ih, dW_hh, db, db.copy()), (dh0, dc0)
# --8<-- [end:lstm_backward]


# --8<-- [start:lstm_gates_forward]
@njit(**JIT_OPTIONS)
def lstm_gates_forward(t, lengths, gates, rec, b, cT, hT, out):
    """The gate pass of step ``t`` for every row of a block: ``gates[r, t]`` holds
    the input projection in and i, f, g, o out; ``rec [rows, 4H]`` is the step's
    recurrent product; ``cT``, ``hT`` go from the state entering the step to the
    state leaving it."""
    wide_vectors()
    H = cT.shape[1]
    b_i, b_f, b_g, b_o = b[:H], b[H:2 * H], b[2 * H:3 * H], b[3 * H:]
    B = gates.shape[0]
    for r in range(B):
        a = gates[r, t]
        if r + 1 < B:
            prefetch(gates[r + 1, t], 0, 4 * H)
        if t >= lengths[r]:
            a[:] = 0.0
            out[r, t] = 0.0
            continue
        # One 1-D view per gate block, indexed from 0: LLVM vectorises the loop.
        a_i, a_f, a_g, a_o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
        rc = rec[r]
        r_i, r_f, r_g, r_o = rc[:H], rc[H:2 * H], rc[2 * H:3 * H], rc[3 * H:]
        c_r, h_r, o_r = cT[r], hT[r], out[r, t]
        for j in range(H):
            i = sigmoid(a_i[j] + r_i[j] + b_i[j])
            f = sigmoid(a_f[j] + r_f[j] + b_f[j])
            g = tanh(a_g[j] + r_g[j] + b_g[j])
            o = sigmoid(a_o[j] + r_o[j] + b_o[j])
            c = f * c_r[j] + i * g
            h = o * tanh(c)
            a_i[j] = i
            a_f[j] = f
            a_g[j] = g
            a_o[j] = o
            c_r[j] = c
            h_r[j] = h
            o_r[j] = h
# --8<-- [end:lstm_gates_forward]


# --8<-- [start:lstm_gates_backward]
@njit(**JIT_OPTIONS)
def lstm_gates_backward(t, lengths, gates, c_prev, dout, dh, dc):
    """The backward gate pass of step ``t`` for every row of a block: ``gates[r, t]``
    (i, f, g, o) is replaced by dL/da (each element read before it is written,
    through the same view, so that LLVM's overlap checks let the loop run
    vectorised); ``dc`` becomes dL/dc_{t-1}; ``dh`` (dL/dh_t from step t+1) is read."""
    wide_vectors()
    H = dh.shape[1]
    one = gates.dtype.type(1.0)
    B = gates.shape[0]
    for r in range(B):
        a = gates[r, t]
        if r + 1 < B:
            prefetch(gates[r + 1, t], 0, 4 * H)
            prefetch(c_prev[r + 1, t], 0, H)
            prefetch(dout[r + 1, t], 0, H)
        if t >= lengths[r]:
            a[:] = 0.0
            continue
        a_i, a_f, a_g, a_o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
        cp_r, dh_r, dc_r, do_r = c_prev[r, t], dh[r], dc[r], dout[r, t]
        for j in range(H):
            i = a_i[j]
            f = a_f[j]
            g = a_g[j]
            o = a_o[j]
            cp = cp_r[j]
            tc = tanh(f * cp + i * g)
            dh_j = dh_r[j] + do_r[j]
            dc_j = dc_r[j] + dh_j * o * (one - tc * tc)
            # --8<-- [start:lstm_gates_backward_da]
            a_i[j] = dc_j * g * i * (one - i)
            a_f[j] = dc_j * cp * f * (one - f)
            a_g[j] = dc_j * i * (one - g * g)
            a_o[j] = dh_j * tc * o * (one - o)
            # --8<-- [end:lstm_gates_backward_da]
            dc_r[j] = dc_j * f
# --8<-- [end:lstm_gates_backward]


# --8<-- [start:lstm_seq_forward]
def _lstm_seq_forward(x, state, lengths, weights, options, buffers):
    """The compiled forward: the input projection, then each block of rows runs the
    whole time loop (blocks in parallel in the parallel kernel: one parallel region
    in all). A row's sums are made in the same order in any block."""
    W_ih, W_hh, W_hh_T_packed, b = weights
    reverse, training, index_input, blocks, seq_chunks = options
    out, hT, cT, h_prev, c_prev, gates, rec = buffers
    B, T = gates.shape[0], gates.shape[1]
    if not index_input:
        for ch_ in prange(seq_chunks):
            ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
            projection_chunk(ch, seq_chunks, x, W_ih, gates)
    copy_rows(state[0], hT)
    copy_rows(state[1], cT)
    for k_ in prange(blocks):
        k = np.int64(k_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(k, blocks, B)
        h, c, lens, rec_k = hT[r0:r1], cT[r0:r1], lengths[r0:r1], rec[k, :r1 - r0]
        for s in range(T):
            t = forward_step(s, T, reverse)
            if training:
                keep_state(h, h_prev[r0:r1], t)
                keep_state(c, c_prev[r0:r1], t)
            recurrent_product(h, W_hh_T_packed, 0, W_hh, True, rec_k, 0)
            lstm_gates_forward(t, lens, gates[r0:r1], rec_k, b, c, h, out[r0:r1])
# --8<-- [end:lstm_seq_forward]


# --8<-- [start:lstm_seq_backward]
def _lstm_seq_backward(x, lengths, weights, kept, douts, options, grads, buffers):
    """The compiled backward: each block of rows runs the time loop backwards (step
    t+1's recurrent product dL/dh_t, then step t's gate pass), then the weight, input
    and bias gradients as whole-sequence products."""
    W_ih, W_hh, W_hh_packed = weights
    h_prev, c_prev = kept
    dout, dhT, dcT = douts
    reverse, index_input, blocks, seq_chunks = options
    dx, dW_ih, dW_hh, db, dh0, dc0 = grads
    dG, work = buffers
    B, T = dout.shape[0], dout.shape[1]
    H = dh0.shape[1]
    # dh0, dc0 carry dL/dh and dL/dc backwards through time and end as the
    # gradients of the initial state.
    copy_rows(dhT, dh0)
    copy_rows(dcT, dc0)
    for k_ in prange(blocks):
        k = np.int64(k_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(k, blocks, B)
        dh, dc, lens, dG_k = dh0[r0:r1], dc0[r0:r1], lengths[r0:r1], dG[r0:r1]
        t_next = np.int64(-1)  # typed int64, not Literal[int](-1): one carry_back
        for s in range(T + 1):
            t = backward_step(s, T, reverse)
            if t_next >= 0:
                carry_back(dG_k, t_next, W_hh_packed, W_hh, lens, work[k, :r1 - r0], dh)
            if t >= 0:
                lstm_gates_backward(t, lens, dG_k, c_prev[r0:r1], dout[r0:r1], dh, dc)
            t_next = t
    # --8<-- [start:lstm_seq_backward_after]
    for ch_ in prange(seq_chunks):
        ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
        sequence_grads_chunk(ch, seq_chunks, dG, x, h_prev, W_ih, index_input, dx, dW_ih, dW_hh)
    column_sums(dG.reshape(B * T, 4 * H), db)
    # --8<-- [end:lstm_seq_backward_after]
# --8<-- [end:lstm_seq_backward]


lstm_seq_forward = jit_pair(_lstm_seq_forward)
lstm_seq_backward = jit_pair(_lstm_seq_backward)


# ----------------------------------------------------------- the regularised path
# Recurrent dropout and zoneout (docs/derivations/regularisation.md): the same
# loop, with the recurrent product on h * mask and each step's new state mixed with
# the old one by the zoneout coefficients d (h and c each their own):
#
#     c~ = f * c_{t-1} + i * g,   h~ = o * tanh(c~)
#     c_t = d_c * c_{t-1} + (1 - d_c) * c~,   h_t = d_h * h_{t-1} + (1 - d_h) * h~
#
# h_prev keeps the product's operand h_{t-1} * mask (what dW_hh needs); the
# backward makes the zoneout masks again from their seeds.

# --8<-- [start:lstm_reg_forward]
def _reg_forward(x, W_ih, W_hh, b, state, lengths, reverse, training, reg):
    H = W_hh.shape[1]
    dt = W_hh.dtype
    x_k, gates, index_input, B, T = input_buffers(x, W_ih, scratch=not training)
    how = _dispatch.plan(B, T, 4 * H, W_ih.shape[1], H)
    out = np.empty((B, T, H), dt)
    hT, cT = np.empty((B, H), dt), np.empty((B, H), dt)
    h_prev, c_prev = history(training, B, T, H, dt), history(training, B, T, H, dt)
    rows = -(-B // how.blocks)
    rec = np.empty((how.blocks, rows, 4 * H), dt)
    hm = np.empty((how.blocks, rows, H), dt)
    keep = np.empty((how.blocks, 2, H), dt)
    with _dispatch.guard():
        lstm_reg_forward[how.parallel](
            x_k, state, lengths, (W_ih, W_hh, packed_transpose(W_hh, how.pack), b),
            reg.kernel_args(B, H, dt, training),
            (reverse, training, index_input, how.blocks, how.seq_chunks),
            (out, hT, cT, h_prev, c_prev, gates, rec, hm, keep))
    release(gates, not training)
    cache = None
    if training:
        cache = dict(x=x, x_k=x_k, W_ih=W_ih, W_hh=W_hh, lengths=lengths, reverse=reverse,
                     h_prev=h_prev, c_prev=c_prev, gates=gates, regularise=reg)
    return out, (hT, cT), cache


def _reg_backward(cache, dout, dstate):
    x, W_ih, W_hh, reg = cache["x"], cache["W_ih"], cache["W_hh"], cache["regularise"]
    B, T = x.shape[:2]
    H = W_hh.shape[1]
    dt = W_hh.dtype
    how = _dispatch.plan(B, T, 4 * H, W_ih.shape[1], H)
    dG = spend(cache, "gates")
    dx, dW_ih = input_grad_buffers(x, W_ih)
    dW_hh, db = np.empty_like(W_hh), np.empty(4 * H, dt)
    dh0, dc0 = np.empty((B, H), dt), np.empty((B, H), dt)
    work = np.empty((how.blocks, -(-B // how.blocks), H), dt)
    keep = np.empty((how.blocks, 2, H), dt)
    index_input = x.ndim == 2
    with _dispatch.guard():
        lstm_reg_backward[how.parallel](
            cache["x_k"], cache["lengths"], (W_ih, W_hh, packed(W_hh, how.pack)),
            (cache["h_prev"], cache["c_prev"]), (dout, dstate[0], dstate[1]),
            reg.kernel_args(B, H, dt, True),
            (cache["reverse"], index_input, how.blocks, how.seq_chunks),
            (dx, dW_ih, dW_hh, db, dh0, dc0), (dG, work, keep))
    if index_input:
        index_weight_grad(x, dG, dW_ih)
        dx = None
    return dx, (dW_ih, dW_hh, db, db.copy()), (dh0, dc0)
# --8<-- [end:lstm_reg_forward]


# --8<-- [start:lstm_reg_gates]
@njit(**JIT_OPTIONS)
def lstm_reg_gates_forward(t, r0, T, lengths, gates, rec, b, cT, hT, out, zoneout, training,
                           keep):
    """:func:`lstm_gates_forward` with zoneout: ``zoneout = (seeds, thresholds,
    rates)`` of h and c (see :func:`seqnet.kernels._steps.zoneout_row`), ``r0`` the
    block's first row, ``keep [2, H]`` a workspace for a row's coefficients."""
    wide_vectors()
    seeds, thresholds, rates = zoneout
    H = cT.shape[1]
    one = cT.dtype.type(1.0)
    b_i, b_f, b_g, b_o = b[:H], b[H:2 * H], b[2 * H:3 * H], b[3 * H:]
    d_h, d_c = keep[0], keep[1]
    B = gates.shape[0]
    for r in range(B):
        a = gates[r, t]
        if r + 1 < B:
            prefetch(gates[r + 1, t], 0, 4 * H)
        if t >= lengths[r]:
            a[:] = 0.0
            out[r, t] = 0.0
            continue
        zoneout_row(seeds[0], r0 + r, t, T, rates[0], thresholds[0], training, d_h)
        zoneout_row(seeds[1], r0 + r, t, T, rates[1], thresholds[1], training, d_c)
        a_i, a_f, a_g, a_o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
        rc = rec[r]
        r_i, r_f, r_g, r_o = rc[:H], rc[H:2 * H], rc[2 * H:3 * H], rc[3 * H:]
        c_r, h_r, o_r = cT[r], hT[r], out[r, t]
        for j in range(H):
            i = sigmoid(a_i[j] + r_i[j] + b_i[j])
            f = sigmoid(a_f[j] + r_f[j] + b_f[j])
            g = tanh(a_g[j] + r_g[j] + b_g[j])
            o = sigmoid(a_o[j] + r_o[j] + b_o[j])
            c_new = f * c_r[j] + i * g
            h_new = o * tanh(c_new)
            c = d_c[j] * c_r[j] + (one - d_c[j]) * c_new
            h = d_h[j] * h_r[j] + (one - d_h[j]) * h_new
            a_i[j] = i
            a_f[j] = f
            a_g[j] = g
            a_o[j] = o
            c_r[j] = c
            h_r[j] = h
            o_r[j] = h


@njit(**JIT_OPTIONS)
def lstm_reg_gates_backward(t, r0, T, lengths, gates, c_prev, dout, dh, dc, zoneout, keep):
    """:func:`lstm_gates_backward` with zoneout (training masks, made again): ``dh``
    is read as dL/dh_t and left as ``d_h * dL/dh_t``, the direct part of
    dL/dh_{t-1} (the recurrent product's part is added after); ``dc`` becomes
    dL/dc_{t-1}."""
    wide_vectors()
    seeds, thresholds, rates = zoneout
    H = dh.shape[1]
    one = gates.dtype.type(1.0)
    d_h, d_c = keep[0], keep[1]
    B = gates.shape[0]
    for r in range(B):
        a = gates[r, t]
        if r + 1 < B:
            prefetch(gates[r + 1, t], 0, 4 * H)
            prefetch(c_prev[r + 1, t], 0, H)
            prefetch(dout[r + 1, t], 0, H)
        if t >= lengths[r]:
            a[:] = 0.0
            continue
        zoneout_row(seeds[0], r0 + r, t, T, rates[0], thresholds[0], True, d_h)
        zoneout_row(seeds[1], r0 + r, t, T, rates[1], thresholds[1], True, d_c)
        a_i, a_f, a_g, a_o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
        cp_r, dh_r, dc_r, do_r = c_prev[r, t], dh[r], dc[r], dout[r, t]
        for j in range(H):
            i = a_i[j]
            f = a_f[j]
            g = a_g[j]
            o = a_o[j]
            cp = cp_r[j]
            tc = tanh(f * cp + i * g)
            dh_j = dh_r[j] + do_r[j]
            dc_j = dc_r[j]
            dh_new = (one - d_h[j]) * dh_j
            dc_new = (one - d_c[j]) * dc_j + dh_new * o * (one - tc * tc)
            a_i[j] = dc_new * g * i * (one - i)
            a_f[j] = dc_new * cp * f * (one - f)
            a_g[j] = dc_new * i * (one - g * g)
            a_o[j] = dh_new * tc * o * (one - o)
            dc_r[j] = d_c[j] * dc_j + dc_new * f
            dh_r[j] = d_h[j] * dh_j
# --8<-- [end:lstm_reg_gates]


# --8<-- [start:lstm_reg_seq]
def _lstm_reg_forward(x, state, lengths, weights, reg, options, buffers):
    """:func:`_lstm_seq_forward` with recurrent dropout (``reg[0]``, the mask ``[B,
    H]``: the step's product takes ``h * mask``) and zoneout (``reg[1:]``)."""
    W_ih, W_hh, W_hh_T_packed, b = weights
    mask, zoneout = reg[0], reg[1:]
    reverse, training, index_input, blocks, seq_chunks = options
    out, hT, cT, h_prev, c_prev, gates, rec, hm, keep = buffers
    B, T = gates.shape[0], gates.shape[1]
    if not index_input:
        for ch_ in prange(seq_chunks):
            ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
            projection_chunk(ch, seq_chunks, x, W_ih, gates)
    copy_rows(state[0], hT)
    copy_rows(state[1], cT)
    for k_ in prange(blocks):
        k = np.int64(k_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(k, blocks, B)
        h, c, lens, rec_k = hT[r0:r1], cT[r0:r1], lengths[r0:r1], rec[k, :r1 - r0]
        hm_k = hm[k, :r1 - r0]
        for s in range(T):
            t = forward_step(s, T, reverse)
            mask_rows(h, mask[r0:r1], hm_k)
            if training:
                keep_state(hm_k, h_prev[r0:r1], t)
                keep_state(c, c_prev[r0:r1], t)
            recurrent_product(hm_k, W_hh_T_packed, 0, W_hh, True, rec_k, 0)
            lstm_reg_gates_forward(t, r0, T, lens, gates[r0:r1], rec_k, b, c, h, out[r0:r1],
                                   zoneout, training, keep[k])


def _lstm_reg_backward(x, lengths, weights, kept, douts, reg, options, grads, buffers):
    """:func:`_lstm_seq_backward` for :func:`_lstm_reg_forward`: dL/dh_{t-1} is the
    zoneout's direct part plus ``(dG_t W_hh) * mask``; ``h_prev`` holds the masked
    operands, so ``dW_hh = sum dG^T h_prev`` as before."""
    W_ih, W_hh, W_hh_packed = weights
    h_prev, c_prev = kept
    dout, dhT, dcT = douts
    mask, zoneout = reg[0], reg[1:]
    reverse, index_input, blocks, seq_chunks = options
    dx, dW_ih, dW_hh, db, dh0, dc0 = grads
    dG, work, keep = buffers
    B, T = dout.shape[0], dout.shape[1]
    H = dh0.shape[1]
    copy_rows(dhT, dh0)
    copy_rows(dcT, dc0)
    for k_ in prange(blocks):
        k = np.int64(k_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(k, blocks, B)
        dh, dc, lens, dG_k = dh0[r0:r1], dc0[r0:r1], lengths[r0:r1], dG[r0:r1]
        work_k = work[k, :r1 - r0]
        t_next = np.int64(-1)  # typed int64, not Literal[int](-1): one carry_back
        for s in range(T + 1):
            t = backward_step(s, T, reverse)
            if t_next >= 0:
                recurrent_product(dG_k[:, t_next], W_hh_packed, 0, W_hh, False, work_k, 0)
                add_valid_rows_masked(t_next, lens, work_k, mask[r0:r1], dh)
            if t >= 0:
                lstm_reg_gates_backward(t, r0, T, lens, dG_k, c_prev[r0:r1], dout[r0:r1], dh,
                                        dc, zoneout, keep[k])
            t_next = t
    for ch_ in prange(seq_chunks):
        ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
        sequence_grads_chunk(ch, seq_chunks, dG, x, h_prev, W_ih, index_input, dx, dW_ih, dW_hh)
    column_sums(dG.reshape(B * T, 4 * H), db)
# --8<-- [end:lstm_reg_seq]


lstm_reg_forward = jit_pair(_lstm_reg_forward)
lstm_reg_backward = jit_pair(_lstm_reg_backward)
