r"""Layer-normalised LSTM (Ba et al. 2016, in haste's ``LayerNormLSTM`` form): the
forward pass and backpropagation through time (gate order i, f, g, o).

Equations, for a valid step ``t`` of row ``b`` (``t < lengths[b]``), ``LN(v)`` the
normalisation of a row over all its entries (:mod:`seqnet.kernels._norm`, epsilon
``LN_EPS = 1e-5``), without gain or bias::

    u_t = LN(W_ih x_t)            v_t = LN(W_hh h_{t-1})       both over all 4H
    a   = g_ih * u_t + g_hh * v_t + b                           b = b_ih + b_hh
    i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g                                   (carried as it is)
    k_t = LN(c_t)                                               over H
    h_t = o * tanh(g_c * k_t + b_c)

``g_ih``, ``g_hh`` ``[4H]`` are ``layer_norm_ih_weight`` and ``layer_norm_hh_weight``,
``g_c``, ``b_c`` ``[H]`` ``layer_norm_c_weight`` and ``layer_norm_c_bias``. Past a
row's length the state is carried unchanged and the output is 0.

Backward, for a valid step, with ``dh = dL/dh_t`` (carried from step t+1 plus the
output's) and ``dc = dL/dc_t`` carried from step t+1; ``s_c``, ``s_hh``, ``s_ih``
the ``1/sqrt(var + eps)`` of each normalisation, means over the normalised row::

    y = g_c * k_t + b_c,  th = tanh(y)
    da_o = dh * th * o (1 - o)
    dy   = dh * o * (1 - th^2);      dg_c += dy * k_t;  db_c += dy
    dk   = dy * g_c
    dc  += s_c * (dk - mean(dk) - k_t * mean(dk * k_t))        (through LN(c_t))
    da_i = dc * g * i (1 - i);  da_f = dc * c_{t-1} * f (1 - f);  da_g = dc * i (1 - g^2)
    dc_{t-1} = dc * f
    dv   = da * g_hh;                 dg_hh += da * v_t
    dr   = s_hh * (dv - mean(dv) - v_t * mean(dv * v_t))        dL/d(W_hh h_{t-1})
    dh_{t-1} = dr W_hh

and after the time loop, over every row and step: ``db_ih = db_hh = sum da``,
``dg_ih = sum da * u``, ``dp = s_ih (du - mean(du) - u mean(du u))`` with ``du = da
* g_ih`` (dL/d(W_ih x_t)), ``dx = dp W_ih``, ``dW_ih = sum dp^T x``, ``dW_hh = sum
dr^T h_{t-1}``. Each LN backward is the product of ``d u_j / d p_k = s (delta_jk -
1/K - u_j u_k / K)`` (a symmetric matrix) with the gradient of ``u``.

The path of a call mirrors :mod:`seqnet.kernels.lstm`: :func:`forward` allocates and
makes one compiled call, ``lstm_ln_seq_forward``: the input projection and its
normalisation (one pass per chunk of rows), then per block of rows the time loop,
each step one recurrent product and one gate pass
(:func:`lstm_ln_gates_forward`: the recurrent normalisation, the gates, the cell's
normalisation, all per row, vectorisable, allocation-free). :func:`backward`,
``lstm_ln_seq_backward`` and :func:`lstm_ln_gates_backward` mirror them.

Forward buffers (B rows, T steps, I inputs, H hidden units, n row blocks; ``T'`` is
``T`` when training, else 1: step ``t`` then uses slot 0 as a workspace)::

    gates   [B, T, 4H]  input projection, then g_ih u + b; post-activation i, f, g, o out
    u, s_ih [B, T', 4H], [B, T']   normalised input projection and its 1/std
    v, s_hh [B, T', 4H], [B, T']   normalised recurrent product and its 1/std
    k, s_c  [B, T', H],  [B, T']   normalised cell and its 1/std
    h_prev, c_prev [B, T', H]; out [B, T, H]; hT, cT [B, H]; rec [n, Bc, 4H]

Backward buffers: ``dG`` over ``gates`` (dL/da), ``dR`` over ``v`` (dL/d(W_hh h)),
``dP`` over ``u`` (dL/d(W_ih x)); ``work``, ``dk`` ``[n, Bc, H]`` each block's
workspaces; ``parts_*`` each block's (``parts_ih``: each chunk of rows') partial
gain and bias gradients, summed in order afterwards (deterministic).
"""

import numpy as np
from numba import njit, prange

from .. import _dispatch
from .._config import JIT_OPTIONS, jit_pair, wide_vectors
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
from ._grads import column_sums, input_grads_chunk, projection_chunk, weight_grad_chunk
from ._math import sigmoid, tanh
from ._norm import (
    LN_EPS,
    backward_row,
    normalize_input_backward_chunk,
    normalize_input_chunk,
    normalize_row,
    sum_parts,
)
from ._steps import (
    backward_step,
    carry_back,
    chunk,
    copy_rows,
    forward_step,
    keep_state,
    recurrent_product,
)

__all__ = ["LN_EPS", "LSTM_GATES", "WEIGHTS", "backward", "forward"]

#: order of the gate blocks in ``W_ih``, ``W_hh``, the biases and the gains.
LSTM_GATES = ("i", "f", "g", "o")
#: the parameters :func:`forward` takes and :func:`backward` returns gradients of.
WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "layer_norm_ih_weight",
           "layer_norm_hh_weight", "layer_norm_c_weight", "layer_norm_c_bias")


def _stats(training, B, T, dt):
    return np.empty((B, T if training else 1), dt)


def forward(x, W_ih, W_hh, b_ih, b_hh, g_ih, g_hh, g_c, b_c, state, lengths, reverse=False,
            training=True):
    """One direction of a layer-normalised LSTM layer over a batch of sequences.

    Parameters
    ----------
    x : ndarray, (B, T, I) float, C-contiguous, or (B, T) integer indices in [0, I)
    W_ih, W_hh, b_ih, b_hh : ndarray
        ``(4H, I)``, ``(4H, H)``, ``(4H,)``, ``(4H,)``.
    g_ih, g_hh, g_c, b_c : ndarray
        The gains ``(4H,)``, ``(4H,)``, ``(H,)`` and the cell's bias ``(H,)``.
    state : tuple of ndarray
        ``(h0, c0)``, each ``(B, H)``.
    lengths : ndarray, (B,) int64
    reverse : bool, default False
    training : bool, default True

    Returns
    -------
    out : ndarray, (B, T, H)
    final_state : tuple of ndarray
        ``(hT, cT)``.
    cache : dict or None
    """
    W_ih, W_hh = np.ascontiguousarray(W_ih), np.ascontiguousarray(W_hh)
    H = W_hh.shape[1]
    dt = W_hh.dtype
    x_k, gates, index_input, B, T = input_buffers(x, W_ih, scratch=not training)
    how = _dispatch.plan(B, T, 4 * H, W_ih.shape[1], H)
    out = np.empty((B, T, H), dt)
    hT, cT = np.empty((B, H), dt), np.empty((B, H), dt)
    h_prev, c_prev = history(training, B, T, H, dt), history(training, B, T, H, dt)
    u, v = history(training, B, T, 4 * H, dt), history(training, B, T, 4 * H, dt)
    k = history(training, B, T, H, dt)
    s_ih, s_hh, s_c = (_stats(training, B, T, dt) for _ in range(3))
    rec = np.empty((how.blocks, -(-B // how.blocks), 4 * H), dt)
    with _dispatch.guard():
        lstm_ln_seq_forward[how.parallel](
            x_k, state, lengths,
            (W_ih, W_hh, packed_transpose(W_hh, how.pack), b_ih + b_hh, g_ih, g_hh, g_c, b_c),
            (reverse, training, index_input, how.blocks, how.seq_chunks),
            (out, hT, cT, h_prev, c_prev, gates, rec, u, s_ih, v, s_hh, k, s_c))
    release(gates, not training)
    cache = None
    if training:
        cache = dict(x=x, x_k=x_k, W_ih=W_ih, W_hh=W_hh, gains=(g_ih, g_hh, g_c, b_c),
                     lengths=lengths, reverse=reverse, h_prev=h_prev, c_prev=c_prev,
                     gates=gates, u=u, s_ih=s_ih, v=v, s_hh=s_hh, k=k, s_c=s_c)
    return out, (hT, cT), cache


def backward(cache, dout, dstate):
    """Backpropagation through time for :func:`forward`, spending its cache.

    Parameters
    ----------
    cache : dict
    dout : ndarray, (B, T, H)
    dstate : tuple of ndarray
        ``(dhT, dcT)``.

    Returns
    -------
    dx : ndarray (B, T, I), or None for index input
    grads : tuple of ndarray
        In :data:`WEIGHTS` order.
    dstate0 : tuple of ndarray
        ``(dh0, dc0)``.
    """
    x, W_ih, W_hh = cache["x"], cache["W_ih"], cache["W_hh"]
    g_ih, g_hh, g_c, b_c = cache["gains"]
    B, T = x.shape[:2]
    H = W_hh.shape[1]
    dt = W_hh.dtype
    how = _dispatch.plan(B, T, 4 * H, W_ih.shape[1], H)
    dG, dR, dP = spend(cache, "gates"), spend(cache, "v"), spend(cache, "u")
    dx, dW_ih = input_grad_buffers(x, W_ih)
    dW_hh, db = np.empty_like(W_hh), np.empty(4 * H, dt)
    dg_ih, dg_hh, dg_c, db_c = (np.empty_like(g) for g in (g_ih, g_hh, g_c, b_c))
    dh0, dc0 = np.empty((B, H), dt), np.empty((B, H), dt)
    n, Bc = how.blocks, -(-B // how.blocks)
    work, dk = np.empty((n, Bc, H), dt), np.empty((n, Bc, H), dt)
    parts_ih = np.empty((how.seq_chunks, 4 * H), dt)
    parts_hh, parts_c, parts_bc = (np.empty((n, 4 * H), dt), np.empty((n, H), dt),
                                   np.empty((n, H), dt))
    index_input = x.ndim == 2
    with _dispatch.guard():
        lstm_ln_seq_backward[how.parallel](
            cache["x_k"], cache["lengths"],
            (W_ih, W_hh, packed(W_hh, how.pack), g_ih, g_hh, g_c, b_c),
            (cache["h_prev"], cache["c_prev"], cache["s_ih"], cache["s_hh"], cache["k"],
             cache["s_c"]),
            (dout, dstate[0], dstate[1]),
            (cache["reverse"], index_input, how.blocks, how.seq_chunks),
            (dx, dW_ih, dW_hh, db, dg_ih, dg_hh, dg_c, db_c, dh0, dc0),
            (dG, dR, dP, work, dk, parts_ih, parts_hh, parts_c, parts_bc))
    if index_input:
        index_weight_grad(x, dP, dW_ih)
        dx = None
    return dx, (dW_ih, dW_hh, db, db.copy(), dg_ih, dg_hh, dg_c, db_c), (dh0, dc0)


# --8<-- [start:lstm_ln_gates_forward]
@njit(**JIT_OPTIONS)
def lstm_ln_gates_forward(t, tt, lengths, gates, rec, g_hh, g_c, b_c, cT, hT, out, v, s_hh,
                          k, s_c):
    """The gate pass of step ``t`` for a block's rows: normalise the step's
    recurrent product ``rec [rows, 4H]`` into ``v[r, tt]``, make the gates (``gates[r,
    t]``: ``g_ih u + b`` in, i, f, g, o out) and ``c_t`` (into ``cT``), normalise it
    into ``k[r, tt]`` and make ``h_t`` (into ``hT`` and ``out``)."""
    wide_vectors()
    H = cT.shape[1]
    gh_i, gh_f, gh_g, gh_o = g_hh[:H], g_hh[H:2 * H], g_hh[2 * H:3 * H], g_hh[3 * H:]
    for r in range(gates.shape[0]):
        a = gates[r, t]
        if t >= lengths[r]:
            a[:] = 0.0
            out[r, t] = 0.0
            v[r, tt] = 0.0
            k[r, tt] = 0.0
            continue
        v_r = v[r, tt]
        s_hh[r, tt] = normalize_row(rec[r], v_r)
        a_i, a_f, a_g, a_o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
        v_i, v_f, v_g, v_o = v_r[:H], v_r[H:2 * H], v_r[2 * H:3 * H], v_r[3 * H:]
        c_r = cT[r]
        for j in range(H):
            i = sigmoid(a_i[j] + gh_i[j] * v_i[j])
            f = sigmoid(a_f[j] + gh_f[j] * v_f[j])
            g = tanh(a_g[j] + gh_g[j] * v_g[j])
            o = sigmoid(a_o[j] + gh_o[j] * v_o[j])
            a_i[j] = i
            a_f[j] = f
            a_g[j] = g
            a_o[j] = o
            c_r[j] = f * c_r[j] + i * g
        k_r, h_r, o_r = k[r, tt], hT[r], out[r, t]
        s_c[r, tt] = normalize_row(c_r, k_r)
        for j in range(H):
            h = a_o[j] * tanh(g_c[j] * k_r[j] + b_c[j])
            h_r[j] = h
            o_r[j] = h
# --8<-- [end:lstm_ln_gates_forward]


# --8<-- [start:lstm_ln_gates_backward]
@njit(**JIT_OPTIONS)
def lstm_ln_gates_backward(t, lengths, gates, c_prev, dout, g_hh, g_c, b_c, k, s_c, dR, s_hh,
                           dh, dc, dk, dg_hh, dg_c, db_c):
    """The backward gate pass of step ``t`` for a block's rows (the module's
    equations): ``gates[r, t]`` (i, f, g, o) becomes dL/da, ``dR[r, t]`` (v) becomes
    dL/d(W_hh h_{t-1}), ``dc`` dL/dc_{t-1}; ``dh`` (dL/dh_t from step t+1) is read;
    the gain and bias gradients are added to the block's ``dg_hh``, ``dg_c``,
    ``db_c``; ``dk [rows, H]`` is a workspace."""
    wide_vectors()
    H = dc.shape[1]
    one = gates.dtype.type(1.0)
    for r in range(gates.shape[0]):
        a = gates[r, t]
        v_r = dR[r, t]
        if t >= lengths[r]:
            a[:] = 0.0
            v_r[:] = 0.0
            continue
        a_i, a_f, a_g, a_o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
        k_r, dk_r, dh_r, do_r = k[r, t], dk[r], dh[r], dout[r, t]
        # two arrays written per loop at most: more, and LLVM's overlap checks
        # between them keep the loop from running vectorised.
        for j in range(H):
            o = a_o[j]
            th = tanh(g_c[j] * k_r[j] + b_c[j])
            dh_j = dh_r[j] + do_r[j]
            a_o[j] = dh_j * th * o * (one - o)
            dk_r[j] = dh_j * o * (one - th * th)
        for j in range(H):
            db_c[j] += dk_r[j]
        for j in range(H):
            dg_c[j] += dk_r[j] * k_r[j]
        backward_row(dk_r, g_c, k_r, s_c[r, t], dk_r)
        cp_r, dc_r = c_prev[r, t], dc[r]
        for j in range(H):
            i = a_i[j]
            f = a_f[j]
            g = a_g[j]
            cp = cp_r[j]
            dc_j = dc_r[j] + dk_r[j]
            a_i[j] = dc_j * g * i * (one - i)
            a_f[j] = dc_j * cp * f * (one - f)
            a_g[j] = dc_j * i * (one - g * g)
            dc_r[j] = dc_j * f
        for j in range(4 * H):
            dg_hh[j] += a[j] * v_r[j]
        backward_row(a, g_hh, v_r, s_hh[r, t], v_r)
# --8<-- [end:lstm_ln_gates_backward]


def _lstm_ln_seq_forward(x, state, lengths, weights, options, buffers):
    """The compiled forward: the input projection and its normalisation, then each
    block of rows runs the whole time loop."""
    W_ih, W_hh, W_hh_T_packed, b, g_ih, g_hh, g_c, b_c = weights
    reverse, training, index_input, blocks, seq_chunks = options
    out, hT, cT, h_prev, c_prev, gates, rec, u, s_ih, v, s_hh, k, s_c = buffers
    B, T = gates.shape[0], gates.shape[1]
    for ch_ in prange(seq_chunks):
        ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
        if not index_input:
            projection_chunk(ch, seq_chunks, x, W_ih, gates)
        normalize_input_chunk(ch, seq_chunks, gates, g_ih, b, training, u, s_ih)
    copy_rows(state[0], hT)
    copy_rows(state[1], cT)
    for kb_ in prange(blocks):
        kb = np.int64(kb_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(kb, blocks, B)
        h, c, lens, rec_k = hT[r0:r1], cT[r0:r1], lengths[r0:r1], rec[kb, :r1 - r0]
        for s in range(T):
            t = forward_step(s, T, reverse)
            tt = t if training else 0
            if training:
                keep_state(h, h_prev[r0:r1], t)
                keep_state(c, c_prev[r0:r1], t)
            recurrent_product(h, W_hh_T_packed, 0, W_hh, True, rec_k, 0)
            lstm_ln_gates_forward(t, tt, lens, gates[r0:r1], rec_k, g_hh, g_c, b_c, c, h,
                                  out[r0:r1], v[r0:r1], s_hh[r0:r1], k[r0:r1], s_c[r0:r1])


# --8<-- [start:lstm_ln_seq_backward]
def _lstm_ln_seq_backward(x, lengths, weights, kept, douts, options, grads, buffers):
    """The compiled backward: each block of rows runs the time loop backwards (step
    t's gate pass, then dL/dh_{t-1} = dR[:, t] W_hh), then the gain and bias
    gradients, the input normalisation's backward and the whole-sequence products."""
    W_ih, W_hh, W_hh_packed, g_ih, g_hh, g_c, b_c = weights
    h_prev, c_prev, s_ih, s_hh, k, s_c = kept
    dout, dhT, dcT = douts
    reverse, index_input, blocks, seq_chunks = options
    dx, dW_ih, dW_hh, db, dg_ih, dg_hh, dg_c, db_c, dh0, dc0 = grads
    dG, dR, dP, work, dk, parts_ih, parts_hh, parts_c, parts_bc = buffers
    B, T = dout.shape[0], dout.shape[1]
    H = dh0.shape[1]
    copy_rows(dhT, dh0)
    copy_rows(dcT, dc0)
    for kb_ in prange(blocks):
        kb = np.int64(kb_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(kb, blocks, B)
        n = r1 - r0
        dh, dc, lens, dR_k = dh0[r0:r1], dc0[r0:r1], lengths[r0:r1], dR[r0:r1]
        p_hh, p_c, p_bc = parts_hh[kb], parts_c[kb], parts_bc[kb]
        p_hh[:] = 0.0
        p_c[:] = 0.0
        p_bc[:] = 0.0
        for s in range(T):
            t = backward_step(s, T, reverse)
            lstm_ln_gates_backward(t, lens, dG[r0:r1], c_prev[r0:r1], dout[r0:r1], g_hh, g_c,
                                   b_c, k[r0:r1], s_c[r0:r1], dR_k, s_hh[r0:r1], dh, dc,
                                   dk[kb, :n], p_hh, p_c, p_bc)
            carry_back(dR_k, t, W_hh_packed, W_hh, lens, work[kb, :n], dh)
    sum_parts(parts_hh, dg_hh)
    sum_parts(parts_c, dg_c)
    sum_parts(parts_bc, db_c)
    N = B * T
    column_sums(dG.reshape(N, 4 * H), db)
    for ch_ in prange(seq_chunks):
        ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
        normalize_input_backward_chunk(ch, seq_chunks, dG, g_ih, s_ih, dP, parts_ih[ch])
    sum_parts(parts_ih, dg_ih)
    for ch_ in prange(seq_chunks):
        ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
        if not index_input:
            input_grads_chunk(ch, seq_chunks, dP.reshape(N, 4 * H), x, W_ih, dx, dW_ih)
        weight_grad_chunk(ch, seq_chunks, dR.reshape(N, 4 * H), h_prev.reshape(N, H), dW_hh)
# --8<-- [end:lstm_ln_seq_backward]


lstm_ln_seq_forward = jit_pair(_lstm_ln_seq_forward)
lstm_ln_seq_backward = jit_pair(_lstm_ln_seq_backward)
