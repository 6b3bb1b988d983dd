"""LSTM with a projection (LSTMP, Sak et al. 2014; PyTorch's ``proj_size``): the
forward pass and backpropagation through time (gate order i, f, g, o).

Equations, for a valid step ``t`` of row ``b`` (``t < lengths[b]``)::

    a = W_ih x_t + W_hh h_{t-1} + b          a: [4H], b = b_ih + b_hh, W_hh: [4H, P]
    i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g                c: [H]
    m_t = o * tanh(c_t)                      m: [H], the plain LSTM's h
    h_t = W_hr m_t                           h: [P], W_hr: [P, H], no bias

Past a row's length the state is carried unchanged and the output is 0.

Backward, for a valid step: with ``dh`` the gradient of ``h_t`` (carried from step
t+1 plus the output's), ``dm = dh W_hr`` is the plain LSTM's ``dL/dh`` and the gate
pass is the LSTM's (:mod:`seqnet.kernels.lstm`); ``dW_hr = sum_t dh_t^T m_t``, a
whole-sequence product after the time loop over the kept ``dh`` and ``m``.

The path of a call mirrors :mod:`seqnet.kernels.lstm`: :func:`forward` (plain
Python) allocates every buffer and makes one compiled call, ``lstmp_seq_forward``:
the input projection of every step, then for each block of rows the time loop, each
step one recurrent product, one gate pass (:func:`lstmp_gates_forward`), one
projection product ``m W_hr^T`` and its copy into the state
(:func:`lstmp_project`). :func:`backward`, ``lstmp_seq_backward`` and
:func:`lstmp_gates_backward` mirror them.

Forward buffers (B rows, T steps, I inputs, H hidden units, P projected units, n row
blocks of at most Bc rows)::

    x         [B, T, I]   input ([B, T, 0] for index input)
    h0 [B, P], c0 [B, H]  initial state
    W_ih [4H, I], W_hh [4H, P], b [4H] = b_ih + b_hh, W_hr [P, H]
    out       [B, T, P]   h_t at valid steps, 0 elsewhere
    hT [B, P], cT [B, H]  state after each row's last valid step
    h_prev    [B, T, P]   state entering step t (training)
    c_prev    [B, T, H]
    m_hist    [B, T, H]   m_t at valid steps, 0 elsewhere (training)
    gates     [B, T, 4H]  input projection in; post-activation i, f, g, o out
    rec [n, Bc, 4H], m [n, Bc, H], hp [n, Bc, P]   each block's step workspaces

Backward buffers::

    dG        [B, T, 4H]  the gates in, dL/da out (in place)
    dHP       [B, T, P]   dL/dh_t at valid steps (carried + output), 0 elsewhere
    dh0 [B, P], dc0 [B, H]  carry dL/dh, dL/dc backwards; end as the state grads
    work [n, Bc, P], dm [n, Bc, H]   each block's step workspaces
"""

import numpy as np
from numba import njit, prange

from .. import _dispatch
from .._config import JIT_OPTIONS, jit_pair, wide_vectors
from ._blas import gemm
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
from ._grads import column_sums, projection_chunk, sequence_grads_chunk, weight_grad_chunk
from ._math import sigmoid, tanh
from ._steps import (
    backward_step,
    carry_back,
    chunk,
    copy_rows,
    forward_step,
    keep_state,
    recurrent_product,
)

#: order of the gate blocks in ``W_ih``, ``W_hh`` and the biases.
LSTM_GATES = ("i", "f", "g", "o")
#: the parameters :func:`forward` takes and :func:`backward` returns gradients of, in order.
WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


def forward(x, W_ih, W_hh, b_ih, b_hh, W_hr, state, lengths, reverse=False, training=True):
    """One direction of a projected LSTM layer over a batch of sequences.

    Parameters
    ----------
    x : ndarray, (B, T, I) float, C-contiguous, or (B, T) integer indices in [0, I)
    W_ih, W_hh, b_ih, b_hh, W_hr : ndarray
        ``(4H, I)``, ``(4H, P)``, ``(4H,)``, ``(4H,)``, ``(P, H)``, of one dtype.
    state : tuple of ndarray
        ``(h0, c0)``, ``(B, P)`` and ``(B, H)``.
    lengths : ndarray, (B,) int64
        ``1 <= lengths[b] <= T``.
    reverse : bool, default False
        Run from the last step to the first.
    training : bool, default True
        Keep the cache that :func:`backward` spends.

    Returns
    -------
    out : ndarray, (B, T, P)
    final_state : tuple of ndarray
        ``(hT, cT)``, ``(B, P)`` and ``(B, H)``.
    cache : dict or None
    """
    W_ih, W_hh, W_hr = (np.ascontiguousarray(w) for w in (W_ih, W_hh, W_hr))
    P, H = W_hr.shape
    dt = W_hh.dtype
    x_k, gates, index_input, B, T = input_buffers(x, W_ih, scratch=not training)
    how = _dispatch.plan(B, T, 4 * H, W_ih.shape[1], P)
    out = np.empty((B, T, P), dt)
    hT, cT = np.empty((B, P), dt), np.empty((B, H), dt)
    h_prev, c_prev = history(training, B, T, P, dt), history(training, B, T, H, dt)
    m_hist = history(training, B, T, H, dt)
    Bc = -(-B // how.blocks)
    rec = np.empty((how.blocks, Bc, 4 * H), dt)
    m, hp = np.empty((how.blocks, Bc, H), dt), np.empty((how.blocks, Bc, P), dt)
    with _dispatch.guard():
        lstmp_seq_forward[how.parallel](
            x_k, state, lengths,
            (W_ih, W_hh, packed_transpose(W_hh, how.pack), b_ih + b_hh, W_hr),
            (reverse, training, index_input, how.blocks, how.seq_chunks),
            (out, hT, cT, h_prev, c_prev, m_hist, gates, rec, m, hp))
    release(gates, not training)
    cache = None
    if training:
        cache = dict(x=x, x_k=x_k, W_ih=W_ih, W_hh=W_hh, W_hr=W_hr, lengths=lengths,
                     reverse=reverse, h_prev=h_prev, c_prev=c_prev, m_hist=m_hist,
                     gates=gates)
    return out, (hT, cT), cache


def backward(cache, dout, dstate):
    """Backpropagation through time for :func:`forward`, spending its cache.

    Parameters
    ----------
    cache : dict
        A training forward's cache (a second backward from it raises).
    dout : ndarray, (B, T, P)
    dstate : tuple of ndarray
        ``(dhT, dcT)``, ``(B, P)`` and ``(B, H)``.

    Returns
    -------
    dx : ndarray (B, T, I), or None for index input
    grads : tuple of ndarray
        ``(dW_ih, dW_hh, db_ih, db_hh, dW_hr)``.
    dstate0 : tuple of ndarray
        ``(dh0, dc0)``.
    """
    x, W_ih, W_hh, W_hr = cache["x"], cache["W_ih"], cache["W_hh"], cache["W_hr"]
    B, T = x.shape[:2]
    P, H = W_hr.shape
    dt = W_hh.dtype
    how = _dispatch.plan(B, T, 4 * H, W_ih.shape[1], P)
    dG = spend(cache, "gates")
    dx, dW_ih = input_grad_buffers(x, W_ih)
    dW_hh, dW_hr, db = np.empty_like(W_hh), np.empty_like(W_hr), np.empty(4 * H, dt)
    dh0, dc0 = np.empty((B, P), dt), np.empty((B, H), dt)
    Bc = -(-B // how.blocks)
    dHP = np.empty((B, T, P), dt)
    work, dm = np.empty((how.blocks, Bc, P), dt), np.empty((how.blocks, Bc, H), dt)
    index_input = x.ndim == 2
    with _dispatch.guard():
        lstmp_seq_backward[how.parallel](
            cache["x_k"], cache["lengths"], (W_ih, W_hh, packed(W_hh, how.pack), W_hr),
            (cache["h_prev"], cache["c_prev"], cache["m_hist"]), (dout, dstate[0], dstate[1]),
            (cache["reverse"], index_input, how.blocks, how.seq_chunks),
            (dx, dW_ih, dW_hh, db, dW_hr, dh0, dc0), (dG, dHP, work, dm))
    if index_input:
        index_weight_grad(x, dG, dW_ih)
        dx = None
    return dx, (dW_ih, dW_hh, db, db.copy(), dW_hr), (dh0, dc0)


@njit(**JIT_OPTIONS)
def lstmp_gates_forward(t, lengths, gates, rec, b, cT, m):
    """The gate pass of step ``t`` for a block's rows: ``gates[r, t]`` holds the input
    projection in and i, f, g, o out, ``cT`` goes from ``c_{t-1}`` to ``c_t`` and
    ``m [rows, H]`` receives ``o * tanh(c_t)`` (0 for rows past their length)."""
    wide_vectors()
    H = cT.shape[1]
    b_i, b_f, b_g, b_o = b[:H], b[H:2 * H], b[2 * H:3 * H], b[3 * H:]
    for r in range(gates.shape[0]):
        a = gates[r, t]
        if t >= lengths[r]:
            a[:] = 0.0
            m[r] = 0.0
            continue
        a_i, a_f, a_g, a_o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
        rc = rec[r]
        r_i, r_f, r_g, r_o = rc[:H], rc[H:2 * H], rc[2 * H:3 * H], rc[3 * H:]
        c_r, m_r = cT[r], m[r]
        for j in range(H):
            i = sigmoid(a_i[j] + r_i[j] + b_i[j])
            f = sigmoid(a_f[j] + r_f[j] + b_f[j])
            g = tanh(a_g[j] + r_g[j] + b_g[j])
            o = sigmoid(a_o[j] + r_o[j] + b_o[j])
            c = f * c_r[j] + i * g
            a_i[j] = i
            a_f[j] = f
            a_g[j] = g
            a_o[j] = o
            c_r[j] = c
            m_r[j] = o * tanh(c)


@njit(**JIT_OPTIONS)
def lstmp_project(t, lengths, hp, hT, out):
    """``hT[r] = out[r, t] = hp[r]`` (the step's ``m W_hr^T``) for the rows valid at
    step ``t``; ``out[r, t] = 0`` for the others, whose state is carried."""
    wide_vectors()
    for r in range(hp.shape[0]):
        o_r = out[r, t]
        if t >= lengths[r]:
            o_r[:] = 0.0
            continue
        h_r, p_r = hT[r], hp[r]
        for j in range(p_r.shape[0]):
            h_r[j] = p_r[j]
            o_r[j] = p_r[j]


@njit(**JIT_OPTIONS)
def lstmp_output_grad(t, lengths, dh, dout, dHP):
    """``dHP[r, t] = dh[r] + dout[r, t]``, the gradient of ``h_t``, for the rows valid
    at step ``t``; 0 for the others."""
    wide_vectors()
    for r in range(dh.shape[0]):
        d = dHP[r, t]
        if t >= lengths[r]:
            d[:] = 0.0
            continue
        a, o = dh[r], dout[r, t]
        for j in range(d.shape[0]):
            d[j] = a[j] + o[j]


@njit(**JIT_OPTIONS)
def lstmp_gates_backward(t, lengths, gates, c_prev, dm, dc):
    """The LSTM's backward gate pass of step ``t`` with ``dm [rows, H]`` (dL/dm_t) as
    the gradient of its output: ``gates[r, t]`` (i, f, g, o) becomes dL/da, ``dc``
    dL/dc_{t-1}."""
    wide_vectors()
    H = dc.shape[1]
    one = gates.dtype.type(1.0)
    for r in range(gates.shape[0]):
        a = gates[r, t]
        if t >= lengths[r]:
            a[:] = 0.0
            continue
        a_i, a_f, a_g, a_o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
        cp_r, dm_r, dc_r = c_prev[r, t], dm[r], dc[r]
        for j in range(H):
            i = a_i[j]
            f = a_f[j]
            g = a_g[j]
            o = a_o[j]
            cp = cp_r[j]
            tc = tanh(f * cp + i * g)
            dm_j = dm_r[j]
            dc_j = dc_r[j] + dm_j * o * (one - tc * tc)
            a_i[j] = dc_j * g * i * (one - i)
            a_f[j] = dc_j * cp * f * (one - f)
            a_g[j] = dc_j * i * (one - g * g)
            a_o[j] = dm_j * tc * o * (one - o)
            dc_r[j] = dc_j * f


def _lstmp_seq_forward(x, state, lengths, weights, options, buffers):
    """The compiled forward: the input projection, then each block of rows runs the
    whole time loop (recurrent product, gate pass, projection product)."""
    W_ih, W_hh, W_hh_T_packed, b, W_hr = weights
    reverse, training, index_input, blocks, seq_chunks = options
    out, hT, cT, h_prev, c_prev, m_hist, gates, rec, m, hp = buffers
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
        n = r1 - r0
        h, c, lens = hT[r0:r1], cT[r0:r1], lengths[r0:r1]
        rec_k, m_k, hp_k = rec[k, :n], m[k, :n], hp[k, :n]
        for s in range(T):
            t = forward_step(s, T, reverse)
            if training:
                keep_state(h, h_prev[r0:r1], t)
                keep_state(c, c_prev[r0:r1], t)
            recurrent_product(h, W_hh_T_packed, 0, W_hh, True, rec_k, 0)
            lstmp_gates_forward(t, lens, gates[r0:r1], rec_k, b, c, m_k)
            gemm(m_k, W_hr, hp_k, 0.0, False, True)
            lstmp_project(t, lens, hp_k, h, out[r0:r1])
            if training:
                keep_state(m_k, m_hist[r0:r1], t)


# --8<-- [start:lstmp_seq_backward]
def _lstmp_seq_backward(x, lengths, weights, kept, douts, options, grads, buffers):
    """The compiled backward: each block of rows runs the time loop backwards (step
    t+1's recurrent product into dL/dh_t, the output's gradient added, its product
    with ``W_hr`` into dL/dm_t, then step t's gate pass), then the weight, input and
    bias gradients as whole-sequence products."""
    W_ih, W_hh, W_hh_packed, W_hr = weights
    h_prev, c_prev, m_hist = kept
    dout, dhT, dcT = douts
    reverse, index_input, blocks, seq_chunks = options
    dx, dW_ih, dW_hh, db, dW_hr, dh0, dc0 = grads
    dG, dHP, work, dm = buffers
    B, T = dout.shape[0], dout.shape[1]
    P, H = W_hr.shape
    copy_rows(dhT, dh0)
    copy_rows(dcT, dc0)
    for k_ in prange(blocks):
        k = np.int64(k_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(k, blocks, B)
        n = r1 - r0
        dh, dc, lens, dG_k, dHP_k = dh0[r0:r1], dc0[r0:r1], lengths[r0:r1], dG[r0:r1], \
            dHP[r0:r1]
        dm_k = dm[k, :n]
        t_next = np.int64(-1)  # typed int64, not Literal[int](-1): one carry_back
        for s in range(T + 1):
            t = backward_step(s, T, reverse)
            if t_next >= 0:
                carry_back(dG_k, t_next, W_hh_packed, W_hh, lens, work[k, :n], dh)
            if t >= 0:
                lstmp_output_grad(t, lens, dh, dout[r0:r1], dHP_k)
                gemm(dHP_k[:, t], W_hr, dm_k, 0.0, False, False)
                lstmp_gates_backward(t, lens, dG_k, c_prev[r0:r1], dm_k, dc)
            t_next = t
    N = B * T
    for ch_ in prange(seq_chunks):
        ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
        sequence_grads_chunk(ch, seq_chunks, dG, x, h_prev, W_ih, index_input, dx, dW_ih, dW_hh)
        weight_grad_chunk(ch, seq_chunks, dHP.reshape(N, P), m_hist.reshape(N, H), dW_hr)
    column_sums(dG.reshape(N, 4 * H), db)
# --8<-- [end:lstmp_seq_backward]


lstmp_seq_forward = jit_pair(_lstmp_seq_forward)
lstmp_seq_backward = jit_pair(_lstmp_seq_backward)
