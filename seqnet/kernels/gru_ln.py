r"""Layer-normalised GRU (Ba et al. 2016; the reset_after form, gate order r, z, n):
the forward pass and backpropagation through time.

The variant, along the lines of haste's ``LayerNormGRU`` and of
:mod:`seqnet.kernels.lstm_ln`: the input and the recurrent pre-activations are
normalised separately, each over all its 3H entries (:mod:`seqnet.kernels._norm`,
epsilon ``LN_EPS = 1e-5``), each with its own gain, and the usual biases are added
after. For a valid step ``t`` of row ``b`` (``t < lengths[b]``)::

    u_t = LN(W_ih x_t),   v_t = LN(W_hh h_{t-1})                       over 3H
    p = g_ih * u_t + b_ih,    m = g_hh * v_t + b_hh                    [3H] each
    r = sigmoid(p_r + m_r),   z = sigmoid(p_z + m_z)
    n = tanh(p_n + r * m_n)                        (the reset after the product)
    h_t = (1 - z) * n + z * h_{t-1}

``g_ih``, ``g_hh`` ``[3H]`` are ``layer_norm_ih_weight`` and ``layer_norm_hh_weight``.
Past a row's length the state is carried unchanged and the output is 0.

Backward, for a valid step, with ``dh = dL/dh_t`` (carried from step t+1 plus the
output's) and ``s_hh`` the recurrent normalisation's ``1/sqrt(var + eps)``::

    dn = dh (1 - z);   dz = dh (h_{t-1} - n)
    dp_n = dn (1 - n^2);   dp_r = dp_n m_n r (1 - r);   dp_z = dz z (1 - z)
    dm = [dp_r, dp_z, dp_n * r]                    dL/dm; db_hh += dm
    dg_hh += dm * v_t;     dv = dm * g_hh
    dq = s_hh (dv - mean(dv) - v_t mean(dv * v_t))  dL/d(W_hh h_{t-1})
    dh_{t-1} = dh * z + dq W_hh

and after the time loop, over every row and step, with ``dp = [dp_r, dp_z, dp_n]``:
``db_ih = sum dp``, ``dg_ih = sum dp * u``, ``dP = s_ih (du - mean(du) - u
mean(du u))`` with ``du = dp * g_ih`` (dL/d(W_ih x_t)), ``dx = dP W_ih``, ``dW_ih =
sum dP^T x``, ``dW_hh = sum dq^T h_{t-1}``.

The path of a call mirrors :mod:`seqnet.kernels.lstm_ln`. Buffers (``T'`` is ``T``
when training, else 1)::

    gates   [B, T, 3H]  input projection, then g_ih u + b_ih; post-activation r, z, n
    u, s_ih [B, T', 3H], [B, T']   normalised input projection, its 1/std
    v, s_hh [B, T', 3H], [B, T']   normalised recurrent product, its 1/std
    h_prev  [B, T', H]; out [B, T, H]; hT [B, H]; rec [n, Bc, 3H]

Backward: ``dG`` over ``gates`` (dp), ``dR`` over ``v`` (dq), ``dP`` over ``u``;
``dm [n, Bc, 3H]`` and ``work [n, Bc, H]`` each block's workspaces; ``parts_*``
each block's partial ``dg_hh`` and ``db_hh`` (``parts_ih``: each chunk of rows'
``dg_ih``), summed in order afterwards.
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
    add_valid_rows,
    backward_step,
    chunk,
    copy_rows,
    forward_step,
    keep_state,
    recurrent_product,
)

__all__ = ["GRU_GATES", "LN_EPS", "WEIGHTS", "backward", "forward"]

#: order of the gate blocks in ``W_ih``, ``W_hh``, the biases and the gains.
GRU_GATES = ("r", "z", "n")
#: the parameters :func:`forward` takes and :func:`backward` returns gradients of.
WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "layer_norm_ih_weight",
           "layer_norm_hh_weight")


def forward(x, W_ih, W_hh, b_ih, b_hh, g_ih, g_hh, state, lengths, reverse=False,
            training=True, *, reset_after=True):
    """One direction of a layer-normalised GRU layer over a batch of sequences.

    Parameters
    ----------
    x : ndarray, (B, T, I) float, C-contiguous, or (B, T) integer indices in [0, I)
    W_ih, W_hh, b_ih, b_hh : ndarray
        ``(3H, I)``, ``(3H, H)``, ``(3H,)``, ``(3H,)``.
    g_ih, g_hh : ndarray
        The gains, ``(3H,)`` each.
    state : tuple of ndarray
        ``(h0,)``, ``(B, H)``.
    lengths : ndarray, (B,) int64
    reverse : bool, default False
    training : bool, default True
    reset_after : bool, default True
        Must be True (the layer refuses ``reset_after=False`` with ``layer_norm``).

    Returns
    -------
    out : ndarray, (B, T, H)
    final_state : tuple of ndarray
        ``(hT,)``.
    cache : dict or None
    """
    W_ih, W_hh = np.ascontiguousarray(W_ih), np.ascontiguousarray(W_hh)
    H = W_hh.shape[1]
    dt = W_hh.dtype
    x_k, gates, index_input, B, T = input_buffers(x, W_ih, scratch=not training)
    how = _dispatch.plan(B, T, 3 * H, W_ih.shape[1], H)
    out, hT = np.empty((B, T, H), dt), np.empty((B, H), dt)
    h_prev = history(training, B, T, H, dt)
    u, v = history(training, B, T, 3 * H, dt), history(training, B, T, 3 * H, dt)
    s_ih, s_hh = (np.empty((B, T if training else 1), dt) for _ in range(2))
    rec = np.empty((how.blocks, -(-B // how.blocks), 3 * H), dt)
    with _dispatch.guard():
        gru_ln_seq_forward[how.parallel](
            x_k, state[0], lengths,
            (W_ih, W_hh, packed_transpose(W_hh, how.pack), b_ih, b_hh, g_ih, g_hh),
            (reverse, training, index_input, how.blocks, how.seq_chunks),
            (out, hT, h_prev, gates, rec, u, s_ih, v, s_hh))
    release(gates, not training)
    cache = None
    if training:
        cache = dict(x=x, x_k=x_k, W_ih=W_ih, W_hh=W_hh, gains=(g_ih, g_hh), b_hh=b_hh,
                     lengths=lengths, reverse=reverse, h_prev=h_prev, gates=gates, u=u,
                     s_ih=s_ih, v=v, s_hh=s_hh)
    return out, (hT,), cache


def backward(cache, dout, dstate):
    """Backpropagation through time for :func:`forward`, spending its cache.

    Parameters
    ----------
    cache : dict
    dout : ndarray, (B, T, H)
    dstate : tuple of ndarray
        ``(dhT,)``.

    Returns
    -------
    dx : ndarray (B, T, I), or None for index input
    grads : tuple of ndarray
        In :data:`WEIGHTS` order.
    dstate0 : tuple of ndarray
        ``(dh0,)``.
    """
    x, W_ih, W_hh = cache["x"], cache["W_ih"], cache["W_hh"]
    g_ih, g_hh = cache["gains"]
    B, T = x.shape[:2]
    H = W_hh.shape[1]
    dt = W_hh.dtype
    how = _dispatch.plan(B, T, 3 * H, W_ih.shape[1], H)
    dG, dR, dP = spend(cache, "gates"), spend(cache, "v"), spend(cache, "u")
    dx, dW_ih = input_grad_buffers(x, W_ih)
    dW_hh, db_ih, db_hh = np.empty_like(W_hh), np.empty(3 * H, dt), np.empty(3 * H, dt)
    dg_ih, dg_hh = np.empty_like(g_ih), np.empty_like(g_hh)
    dh0 = np.empty((B, H), dt)
    n, Bc = how.blocks, -(-B // how.blocks)
    work, dm = np.empty((n, Bc, H), dt), np.empty((n, Bc, 3 * H), dt)
    parts_g, parts_b = np.empty((n, 3 * H), dt), np.empty((n, 3 * H), dt)
    parts_ih = np.empty((how.seq_chunks, 3 * H), dt)
    index_input = x.ndim == 2
    with _dispatch.guard():
        gru_ln_seq_backward[how.parallel](
            cache["x_k"], cache["lengths"],
            (W_ih, W_hh, packed(W_hh, how.pack), g_ih, g_hh, cache["b_hh"]),
            (cache["h_prev"], cache["s_ih"], cache["s_hh"]), (dout, dstate[0]),
            (cache["reverse"], index_input, how.blocks, how.seq_chunks),
            (dx, dW_ih, dW_hh, db_ih, db_hh, dg_ih, dg_hh, dh0),
            (dG, dR, dP, work, dm, parts_g, parts_b, parts_ih))
    if index_input:
        index_weight_grad(x, dP, dW_ih)
        dx = None
    return dx, (dW_ih, dW_hh, db_ih, db_hh, dg_ih, dg_hh), (dh0,)


# --8<-- [start:gru_ln_gates_forward]
@njit(**JIT_OPTIONS)
def gru_ln_gates_forward(t, tt, lengths, gates, rec, g_hh, b_hh, hT, out, v, s_hh):
    """The gate pass of step ``t`` for a block's rows: normalise the step's
    recurrent product ``rec [rows, 3H]`` into ``v[r, tt]``, make r, z, n (into
    ``gates[r, t]``, which holds ``g_ih u + b_ih`` in) and ``h_t`` (into ``hT`` and
    ``out``)."""
    wide_vectors()
    H = hT.shape[1]
    one = gates.dtype.type(1.0)
    gh_r, gh_z, gh_n = g_hh[:H], g_hh[H:2 * H], g_hh[2 * H:]
    bh_r, bh_z, bh_n = b_hh[:H], b_hh[H:2 * H], b_hh[2 * H:]
    for r in range(gates.shape[0]):
        a = gates[r, t]
        if t >= lengths[r]:
            a[:] = 0.0
            out[r, t] = 0.0
            v[r, tt] = 0.0
            continue
        v_r = v[r, tt]
        s_hh[r, tt] = normalize_row(rec[r], v_r)
        a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
        v_rr, v_z, v_n = v_r[:H], v_r[H:2 * H], v_r[2 * H:]
        h_r, o_r = hT[r], out[r, t]
        for j in range(H):
            rg = sigmoid(a_r[j] + gh_r[j] * v_rr[j] + bh_r[j])
            z = sigmoid(a_z[j] + gh_z[j] * v_z[j] + bh_z[j])
            n = tanh(a_n[j] + rg * (gh_n[j] * v_n[j] + bh_n[j]))
            h = (one - z) * n + z * h_r[j]
            a_r[j] = rg
            a_z[j] = z
            a_n[j] = n
            h_r[j] = h
            o_r[j] = h
# --8<-- [end:gru_ln_gates_forward]


# --8<-- [start:gru_ln_gates_backward]
@njit(**JIT_OPTIONS)
def gru_ln_gates_backward(t, lengths, gates, h_prev, dout, g_hh, b_hh, dR, s_hh, dh, dm,
                          dg_hh, db_hh):
    """The backward gate pass of step ``t`` for a block's rows (the module's
    equations): ``gates[r, t]`` (r, z, n) becomes dp, ``dR[r, t]`` (v) becomes dq,
    ``dh`` (dL/dh_t from step t+1) becomes ``dh_t * z``, the direct part of
    dL/dh_{t-1}; the block's ``dg_hh``, ``db_hh`` get their terms; ``dm [rows,
    3H]`` is a workspace."""
    wide_vectors()
    H = dh.shape[1]
    one = gates.dtype.type(1.0)
    gh_n, bh_n = g_hh[2 * H:], b_hh[2 * H:]
    for r in range(gates.shape[0]):
        a = gates[r, t]
        v_r = dR[r, t]
        if t >= lengths[r]:
            a[:] = 0.0
            v_r[:] = 0.0
            continue
        a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
        v_n = v_r[2 * H:]
        dm_r = dm[r]
        dm_rr, dm_z, dm_n = dm_r[:H], dm_r[H:2 * H], dm_r[2 * H:]
        dh_r, do_r, hp_r = dh[r], dout[r, t], h_prev[r, t]
        # two arrays written per loop at most: more, and LLVM's overlap checks
        # between them keep a loop from running vectorised. dm's r block holds
        # dL/dh_t until the last loop.
        for j in range(H):
            dm_rr[j] = dh_r[j] + do_r[j]
            dh_r[j] = dm_rr[j] * a_z[j]
        for j in range(H):
            rg = a_r[j]
            z = a_z[j]
            n = a_n[j]
            dh_j = dm_rr[j]
            dp_n = dh_j * (one - z) * (one - n * n)
            a_r[j] = dp_n * (gh_n[j] * v_n[j] + bh_n[j]) * rg * (one - rg)
            a_z[j] = dh_j * (hp_r[j] - n) * z * (one - z)
            a_n[j] = dp_n
            dm_n[j] = dp_n * rg
        for j in range(H):
            dm_rr[j] = a_r[j]
            dm_z[j] = a_z[j]
        for j in range(3 * H):
            db_hh[j] += dm_r[j]
            dg_hh[j] += dm_r[j] * v_r[j]
        backward_row(dm_r, g_hh, v_r, s_hh[r, t], v_r)
# --8<-- [end:gru_ln_gates_backward]


def _gru_ln_seq_forward(x, h0, lengths, weights, options, buffers):
    """The compiled forward: the input projection and its normalisation, then each
    block of rows runs the whole time loop."""
    W_ih, W_hh, W_hh_T_packed, b_ih, b_hh, g_ih, g_hh = weights
    reverse, training, index_input, blocks, seq_chunks = options
    out, hT, h_prev, gates, rec, u, s_ih, v, s_hh = buffers
    B, T = gates.shape[0], gates.shape[1]
    for ch_ in prange(seq_chunks):
        ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
        if not index_input:
            projection_chunk(ch, seq_chunks, x, W_ih, gates)
        normalize_input_chunk(ch, seq_chunks, gates, g_ih, b_ih, training, u, s_ih)
    copy_rows(h0, hT)
    for kb_ in prange(blocks):
        kb = np.int64(kb_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(kb, blocks, B)
        h, lens, rec_k = hT[r0:r1], lengths[r0:r1], rec[kb, :r1 - r0]
        for s in range(T):
            t = forward_step(s, T, reverse)
            tt = t if training else 0
            if training:
                keep_state(h, h_prev[r0:r1], t)
            recurrent_product(h, W_hh_T_packed, 0, W_hh, True, rec_k, 0)
            gru_ln_gates_forward(t, tt, lens, gates[r0:r1], rec_k, g_hh, b_hh, h, out[r0:r1],
                                 v[r0:r1], s_hh[r0:r1])


def _gru_ln_seq_backward(x, lengths, weights, kept, douts, options, grads, buffers):
    """The compiled backward: each block of rows runs the time loop backwards (step
    t's gate pass, then dL/dh_{t-1} += dR[:, t] W_hh), then the gain and bias
    gradients, the input normalisation's backward and the whole-sequence products."""
    W_ih, W_hh, W_hh_packed, g_ih, g_hh, b_hh = weights
    h_prev, s_ih, s_hh = kept
    dout, dhT = douts
    reverse, index_input, blocks, seq_chunks = options
    dx, dW_ih, dW_hh, db_ih, db_hh, dg_ih, dg_hh, dh0 = grads
    dG, dR, dP, work, dm, parts_g, parts_b, parts_ih = buffers
    B, T = dout.shape[0], dout.shape[1]
    H = dh0.shape[1]
    copy_rows(dhT, dh0)
    for kb_ in prange(blocks):
        kb = np.int64(kb_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(kb, blocks, B)
        n = r1 - r0
        dh, lens, dR_k, work_k = dh0[r0:r1], lengths[r0:r1], dR[r0:r1], work[kb, :n]
        p_g, p_b = parts_g[kb], parts_b[kb]
        p_g[:] = 0.0
        p_b[:] = 0.0
        for s in range(T):
            t = backward_step(s, T, reverse)
            gru_ln_gates_backward(t, lens, dG[r0:r1], h_prev[r0:r1], dout[r0:r1], g_hh, b_hh,
                                  dR_k, s_hh[r0:r1], dh, dm[kb, :n], p_g, p_b)
            recurrent_product(dR_k[:, t], W_hh_packed, 0, W_hh, False, work_k, 0)
            add_valid_rows(t, lens, work_k, dh)
    sum_parts(parts_g, dg_hh)
    sum_parts(parts_b, db_hh)
    N = B * T
    column_sums(dG.reshape(N, 3 * H), db_ih)
    for ch_ in prange(seq_chunks):
        ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
        normalize_input_backward_chunk(ch, seq_chunks, dG, g_ih, s_ih, dP, parts_ih[ch])
    sum_parts(parts_ih, dg_ih)
    for ch_ in prange(seq_chunks):
        ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
        if not index_input:
            input_grads_chunk(ch, seq_chunks, dP.reshape(N, 3 * H), x, W_ih, dx, dW_ih)
        weight_grad_chunk(ch, seq_chunks, dR.reshape(N, 3 * H), h_prev.reshape(N, H), dW_hh)


gru_ln_seq_forward = jit_pair(_gru_ln_seq_forward)
gru_ln_seq_backward = jit_pair(_gru_ln_seq_backward)
