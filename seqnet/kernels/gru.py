"""GRU: the forward pass and backpropagation through time (gate order r, z, n), both
reset forms.

Equations, for a valid step ``t`` of row ``b`` (``t < lengths[b]``)::

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    reset_after=True  (cuDNN/PyTorch):  n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    reset_after=False (original):       n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)
    h_t = (1 - z) * n + z * h_{t-1}

Past a row's length the state is carried unchanged and the output is 0.

The path of a call: :func:`forward` allocates every buffer and makes one compiled
call, ``gru_seq_forward``: the input projection, then each block of rows runs the
time loop. A reset_after step is one recurrent product and one gate pass
(:func:`gru_gates_forward`); a reset_before step is the r, z product and pass
(:func:`gru_rz_gates_forward`), then the product of ``r * h`` with ``W_hn`` and the
n pass (:func:`gru_n_gates_forward`). :func:`backward` and ``gru_seq_backward``
mirror them.

Forward buffers (batch-first; B rows, T steps, I inputs, H hidden units, n row
blocks of at most Bc rows)::

    x         [B, T, I]    input ([B, T, 0] for index input)
    h0        [B, H]       initial state;  lengths [B] int64, 1 <= lengths[b] <= T
    W_ih      [3H, I]      W_hh [3H, H]; b_ih [3H], b_hh [3H]
    W_hh_T_packed  [L]     W_hh.T packed (reset_after; empty: BLAS on W_hh)
    W_hrz_T_packed [L]     W_hh[:2H].T packed; W_hn_T_packed [L]: W_hh[2H:].T packed
                           (reset_before)
    out       [B, T, H]    h_t at valid steps, 0 elsewhere
    hT        [B, H]       state after each row's last valid step
    h_prev    [B, T, H]    state entering step t (kept when training)
    gates     [B, T, 3H]   input projection in; post-activation r, z, n out
    hn        [B, T, H]    reset_after: W_hn h + b_hn (reset_before: [B, 0, H], unused)
    rec, rec_rz, rec_n     [n, Bc, 3H], [n, Bc, 2H], [n, Bc, H]: each block's products
    rh        [n, Bc, H]   reset_before: the step's r * h, each block's

Backward buffers. The gate gradients overwrite what the forward kept, so a backward
allocates no ``[B, T, ...]`` buffer but ``dx``::

    dout      [B, T, H]    dL/d out;   dhT [B, H]: dL/d hT
    dG        [B, T, 3H]   the forward's gates in; dL/d(input-side pre-activations)
                           [dar, daz, dan] out, in place; the hidden side's are the
                           same but for the n block
    hn        [B, T, H]    reset_after: becomes dan * r, the hidden side's n block
                           (reset_before: the hidden side's n block is dan itself)
    rh, dan   [n, S*Bc, H] reset_before: r * h_prev, made again, and dan, of the
                           last S <= seg steps, each block's (for dW_hn)
    dW_n_parts [n-1, H, H] reset_before: dW_hn of row blocks 1..n-1
    tn_work   [n, L]       reset_before: each block's packing buffer for dW_hn
    dht       [B, H]       dL/dh_t * z at the current step (reset_before)
    work      [n, Bc, H]   each block's products with W_hh
    dh0       [B, H]       carries dL/dh backwards; ends as dL/dh0
    dx [B, T, I], dW_ih, db_ih, db_hh   outputs (dx, dW_ih: the entry's, for index input)
    dW_hrz, dW_hn [2H, H], [H, H]   dW_hh's r, z rows and its n rows
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
from ._grads import (
    add_parts,
    add_weight_grad,
    column_sums,
    projection_chunk,
    sequence_grads_chunk,
    weight_grad_chunk,
)
from ._math import sigmoid, tanh
from ._panel import tn_work_size
from ._steps import (
    add_valid_rows,
    add_valid_rows_masked,
    backward_step,
    chunk,
    copy_rows,
    forward_step,
    keep_state,
    mask_history,
    mask_rows,
    recurrent_product,
    zoneout_row,
)

#: order of the gate blocks in ``W_ih``, ``W_hh`` and the biases.
GRU_GATES = ("r", "z", "n")

#: rows of sum that a reset_before GRU's backward gathers (``seg`` steps of a row
#: block) before each product adding to ``dW_hn``.
GRU_SEGMENT_ROWS = 128


# --8<-- [start:gru_forward]
def forward(x, W_ih, W_hh, b_ih, b_hh, state, lengths, reverse=False, training=True, *,
            reset_after=True, regularise=None):
    """One direction of a GRU layer over a batch of sequences.

    Parameters
    ----------
    x : ndarray, (B, T, I) float, C-contiguous, or (B, T) integer indices in [0, I)
    W_ih, W_hh, b_ih, b_hh : ndarray
        ``(3H, I)``, ``(3H, H)``, ``(3H,)``, ``(3H,)``, of the dtype of the call.
    state : tuple of ndarray
        ``(h0,)``, ``(B, H)``.
    lengths : ndarray, (B,) int64
        ``1 <= lengths[b] <= T``.
    reverse : bool, default False
        Run from the last step to the first.
    training : bool, default True
        Keep the cache that :func:`backward` spends.
    reset_after : bool, default True
        The cuDNN/PyTorch form (else the original, reset before the product).
    regularise : Regularise, optional
        Recurrent dropout and zoneout (:mod:`seqnet.kernels._regular`): the
        regularised time loop, ``gru_reg_forward``. None: the plain one.

    Returns
    -------
    out : ndarray, (B, T, H)
    final_state : tuple of ndarray
        ``(hT,)``.
    cache : dict or None
    """
    # BLAS takes unit inner strides (gemm fills its output with NaN otherwise).
    W_ih, W_hh = np.ascontiguousarray(W_ih), np.ascontiguousarray(W_hh)
    H = W_hh.shape[1]
    dt = W_hh.dtype
    x_k, gates, index_input, B, T = input_buffers(x, W_ih, scratch=not training)
    how = _dispatch.plan(B, T, 3 * H, W_ih.shape[1], H)
    out, hT = np.empty((B, T, H), dt), np.empty((B, H), dt)
    h_prev = history(training, B, T, H, dt)
    # reset_after keeps W_hn h + b_hn for every step; reset_before keeps nothing
    # more (its r * h is made again in backward).
    hn = np.empty((B, T if reset_after else 0, H), dt)
    n, rows = how.blocks, -(-B // how.blocks)
    rh = np.empty((n, 0 if reset_after else rows, H), dt)
    none = np.empty(0, dt)   # the other form's packed weights
    if reset_after:
        W_packed = (packed_transpose(W_hh, how.pack), none, none)
        widths = 3 * H, 0, 0
    else:
        W_packed = (none, packed_transpose(W_hh[:2 * H], how.pack),
                    packed_transpose(W_hh[2 * H:], how.pack))
        widths = 0, 2 * H, H
    rec, rec_rz, rec_n = (np.empty((n, rows, w), dt) for w in widths)
    if regularise is not None:
        hm, keep = np.empty((n, rows, H), dt), np.empty((n, 1, H), dt)
        with _dispatch.guard():
            gru_reg_forward[how.parallel](
                x_k, state[0], lengths, (W_ih, W_hh, *W_packed, b_ih, b_hh),
                regularise.kernel_args(B, H, dt, training),
                (reverse, training, index_input, reset_after, n, how.seq_chunks),
                (out, hT, h_prev, gates, hn, rec, rec_rz, rec_n, rh, hm, keep))
    else:
        with _dispatch.guard():
            gru_seq_forward[how.parallel](
                x_k, state[0], lengths, (W_ih, W_hh, *W_packed, b_ih, b_hh),
                (reverse, training, index_input, reset_after, n, how.seq_chunks),
                (out, hT, h_prev, gates, hn, rec, rec_rz, rec_n, rh))
    release(gates, not training)
    cache = None
    if training:
        cache = dict(x=x, x_k=x_k, W_ih=W_ih, W_hh=W_hh, lengths=lengths, reverse=reverse,
                     reset_after=reset_after, h_prev=h_prev, gates=gates, hn=hn)
        if regularise is not None:
            cache["regularise"] = regularise
    return out, (hT,), cache
# --8<-- [end:gru_forward]


# --8<-- [start:gru_segment]
def _segment(rows, steps):
    """Steps per ``dW_hn`` product in a reset_before GRU backward: enough for
    :data:`GRU_SEGMENT_ROWS` rows of a block of ``rows``, at most ``steps``."""
    return max(1, min(steps, -(-GRU_SEGMENT_ROWS // rows)))
# --8<-- [end:gru_segment]


# --8<-- [start:gru_backward]
def backward(cache, dout, dstate):
    """Backpropagation through time for :func:`forward`, spending its cache.

    Parameters
    ----------
    cache : dict
        A training forward's cache (a second backward from it raises).
    dout : ndarray, (B, T, H)
    dstate : tuple of ndarray
        ``(dhT,)``, ``(B, H)``.

    Returns
    -------
    dx : ndarray (B, T, I), or None for index input
    grads : tuple of ndarray
        ``(dW_ih, dW_hh, db_ih, db_hh)``.
    dstate0 : tuple of ndarray
        ``(dh0,)``.
    """
    x, W_ih, W_hh = cache["x"], cache["W_ih"], cache["W_hh"]
    reset_after = cache["reset_after"]
    B, T = x.shape[:2]
    H = W_hh.shape[1]
    dt = W_hh.dtype
    how = _dispatch.plan(B, T, 3 * H, W_ih.shape[1], H)
    # the gate gradients are written over the gates, as in the LSTM, and the hidden
    # side's n block (dan * r, reset_after) over hn, which only it reads
    # (reset_before: hn is empty, and dW_hn is summed in the time loop).
    dG, hn = spend(cache, "gates"), spend(cache, "hn")
    dx, dW_ih = input_grad_buffers(x, W_ih)
    dW_hh = np.empty_like(W_hh)
    db_ih, db_hh = np.empty(3 * H, dt), np.empty(3 * H, dt)
    dh0, dht = np.empty((B, H), dt), np.empty((B, H), dt)
    n, rows = how.blocks, -(-B // how.blocks)
    work = np.empty((n, rows, H), dt)
    seg = _segment(rows, T)
    before = 0 if reset_after else 1
    rh, dan = (np.empty((n, before * seg * rows, H), dt) for _ in range(2))
    dW_n_parts = np.empty((before * (n - 1), H, H), dt)
    tn_work = np.empty((n, before * tn_work_size(dt)), dt)
    index_input = x.ndim == 2
    reg = cache.get("regularise")
    if reg is not None:
        args = reg.kernel_args(B, H, dt, True)
        with _dispatch.guard():
            gru_reg_backward[how.parallel](
                cache["x_k"], cache["lengths"], (W_ih, W_hh, packed(W_hh, how.pack)),
                (cache["h_prev"], hn), (dout, dstate[0]), args,
                (cache["reverse"], index_input, reset_after, n, how.seq_chunks, seg,
                 reg.mask is not None),
                (dx, dW_ih, dW_hh[:2 * H], dW_hh[2 * H:], db_ih, db_hh, dh0),
                (dG, dht, work, rh, dan, dW_n_parts, tn_work, np.empty((n, 1, H), dt)))
    else:
        with _dispatch.guard():
            gru_seq_backward[how.parallel](
                cache["x_k"], cache["lengths"], (W_ih, W_hh, packed(W_hh, how.pack)),
                (cache["h_prev"], hn), (dout, dstate[0]),
                (cache["reverse"], index_input, reset_after, n, how.seq_chunks, seg),
                (dx, dW_ih, dW_hh[:2 * H], dW_hh[2 * H:], db_ih, db_hh, dh0),
                (dG, dht, work, rh, dan, dW_n_parts, tn_work))
    if index_input:
        index_weight_grad(x, dG, dW_ih)
        dx = None
    return dx, (dW_ih, dW_hh, db_ih, db_hh), (dh0,)
# --8<-- [end:gru_backward]


# --8<-- [start:gru_gates_forward]
@njit(**JIT_OPTIONS)
def gru_gates_forward(t, lengths, gates, rec, b_ih, b_hh, hT, hn, out):
    """reset_after: the gate pass of step ``t`` for every row of a block (``rec
    [rows, 3H]``: the step's ``h W_hh^T``); ``hn[:, t]`` keeps ``W_hn h + b_hn``."""
    wide_vectors()
    H = hT.shape[1]
    one = hT.dtype.type(1.0)
    bi_r, bi_z, bi_n = b_ih[:H], b_ih[H:2 * H], b_ih[2 * H:]
    bh_r, bh_z, bh_n = b_hh[:H], b_hh[H:2 * H], b_hh[2 * H:]
    B = gates.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch(gates[r + 1, t], 0, 3 * H)
        a = gates[r, t]
        if t >= lengths[r]:
            a[:] = 0.0
            hn[r, t] = 0.0
            out[r, t] = 0.0
            continue
        a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
        rc = rec[r]
        rc_r, rc_z, rc_n = rc[:H], rc[H:2 * H], rc[2 * H:]
        h_r, hn_r, o_r = hT[r], hn[r, t], out[r, t]
        for j in range(H):
            rg = sigmoid(a_r[j] + bi_r[j] + rc_r[j] + bh_r[j])
            zg = sigmoid(a_z[j] + bi_z[j] + rc_z[j] + bh_z[j])
            hnj = rc_n[j] + bh_n[j]
            ng = tanh(a_n[j] + bi_n[j] + rg * hnj)
            h = (one - zg) * ng + zg * h_r[j]
            a_r[j] = rg
            a_z[j] = zg
            a_n[j] = ng
            hn_r[j] = hnj
            h_r[j] = h
            o_r[j] = h
# --8<-- [end:gru_gates_forward]


# --8<-- [start:gru_rz_gates_forward]
@njit(**JIT_OPTIONS)
def gru_rz_gates_forward(t, lengths, gates, rec_rz, b_ih, b_hh, hT, rh):
    """reset_before, first half of step ``t``: r, z and ``rh = r * h`` (``[rows, H]``,
    the operand of the n block's product; ``rec_rz [rows, 2H]``: ``h W_hrz^T``)."""
    wide_vectors()
    H = hT.shape[1]
    bi_r, bi_z = b_ih[:H], b_ih[H:2 * H]
    bh_r, bh_z = b_hh[:H], b_hh[H:2 * H]
    B = gates.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch(gates[r + 1, t], 0, 2 * H)
        if t >= lengths[r]:
            rh[r] = 0.0
            continue
        a = gates[r, t]
        a_r, a_z = a[:H], a[H:2 * H]
        rc = rec_rz[r]
        rc_r, rc_z = rc[:H], rc[H:2 * H]
        h_r, rh_r = hT[r], rh[r]
        for j in range(H):
            rg = sigmoid(a_r[j] + bi_r[j] + rc_r[j] + bh_r[j])
            a_r[j] = rg
            a_z[j] = sigmoid(a_z[j] + bi_z[j] + rc_z[j] + bh_z[j])
            rh_r[j] = rg * h_r[j]
# --8<-- [end:gru_rz_gates_forward]


# --8<-- [start:gru_n_gates_forward]
@njit(**JIT_OPTIONS)
def gru_n_gates_forward(t, lengths, gates, rec_n, b_ih, b_hh, hT, out):
    """reset_before, second half of step ``t``: n and h (``rec_n [rows, H]``:
    ``(r h) W_hn^T``)."""
    wide_vectors()
    H = hT.shape[1]
    one = hT.dtype.type(1.0)
    bi_n, bh_n = b_ih[2 * H:], b_hh[2 * H:]
    B = gates.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch(gates[r + 1, t], H, 3 * H)
        a = gates[r, t]
        if t >= lengths[r]:
            a[:] = 0.0
            out[r, t] = 0.0
            continue
        a_z, a_n = a[H:2 * H], a[2 * H:]
        rc, h_r, o_r = rec_n[r], hT[r], out[r, t]
        for j in range(H):
            zg = a_z[j]
            ng = tanh(a_n[j] + bi_n[j] + rc[j] + bh_n[j])
            h = (one - zg) * ng + zg * h_r[j]
            a_n[j] = ng
            h_r[j] = h
            o_r[j] = h
# --8<-- [end:gru_n_gates_forward]


# --8<-- [start:gru_gates_backward]
@njit(**JIT_OPTIONS)
def gru_gates_backward(t, lengths, gates, h_prev, hn, dout, dh):
    """reset_after: the backward gate pass of step ``t`` for every row of a block:
    ``gates[:, t]`` (r, z, n) is replaced by [dar, daz, dan] (in place, through one
    view, so that the loop runs vectorised), ``hn[:, t]`` by ``dan * r``, and ``dh``
    becomes ``dL/dh_t * z`` (the recurrent product is added after)."""
    wide_vectors()
    H = dh.shape[1]
    one = dh.dtype.type(1.0)
    B = gates.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch(gates[r + 1, t], 0, 3 * H)
            prefetch(h_prev[r + 1, t], 0, H)
            prefetch(hn[r + 1, t], 0, H)
            prefetch(dout[r + 1, t], 0, H)
        a = gates[r, t]
        if t >= lengths[r]:
            a[:] = 0.0
            hn[r, t] = 0.0
            continue
        a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
        hp_r, hn_r = h_prev[r, t], hn[r, t]
        do_r, dh_r = dout[r, t], dh[r]
        for j in range(H):
            rg = a_r[j]
            zg = a_z[j]
            ng = a_n[j]
            hp = hp_r[j]
            dh_j = dh_r[j] + do_r[j]
            dan = dh_j * (one - zg) * (one - ng * ng)
            dar = dan * hn_r[j] * rg * (one - rg)
            daz = dh_j * (hp - ng) * zg * (one - zg)
            a_r[j] = dar
            a_z[j] = daz
            a_n[j] = dan
            hn_r[j] = dan * rg
            dh_r[j] = dh_j * zg
# --8<-- [end:gru_gates_backward]


# --8<-- [start:gru_zn_gates_backward]
@njit(**JIT_OPTIONS)
def gru_zn_gates_backward(t, lengths, gates, h_prev, dout, dh, dht, rh):
    """reset_before backward, first half of step ``t``: daz and dan over the z and n
    blocks of ``gates[:, t]`` (each read first, through the same view), ``dht =
    dL/dh_t * z`` and ``rh = r * h_prev`` (``[rows, H]``, made again for ``dW_hn``:
    the forward keeps no ``r * h`` for every step)."""
    wide_vectors()
    H = dh.shape[1]
    one = dh.dtype.type(1.0)
    B = gates.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch(gates[r + 1, t], H, 3 * H)
            prefetch(h_prev[r + 1, t], 0, H)
            prefetch(dout[r + 1, t], 0, H)
        a = gates[r, t]
        if t >= lengths[r]:
            a[H:] = 0.0
            rh[r] = 0.0
            continue
        a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
        hp_r, dh_r, do_r = h_prev[r, t], dh[r], dout[r, t]
        dht_r, rh_r = dht[r], rh[r]
        for j in range(H):
            zg = a_z[j]
            ng = a_n[j]
            rh_r[j] = a_r[j] * hp_r[j]
            dh_j = dh_r[j] + do_r[j]
            dht_r[j] = dh_j * zg
            a_z[j] = dh_j * (hp_r[j] - ng) * zg * (one - zg)
            a_n[j] = dh_j * (one - zg) * (one - ng * ng)
# --8<-- [end:gru_zn_gates_backward]


# --8<-- [start:gru_r_gates_backward]
@njit(**JIT_OPTIONS)
def gru_r_gates_backward(t, lengths, gates, h_prev, dht, drh, dh):
    """reset_before backward, second half of step ``t`` (``drh [rows, H]``: ``dan
    W_hn``, the gradient of r*h): dar over the r block of ``gates[:, t]`` (in place)
    and ``dh = dht + drh r``."""
    wide_vectors()
    H = dh.shape[1]
    one = dh.dtype.type(1.0)
    B = gates.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch(gates[r + 1, t], 0, H)
            prefetch(h_prev[r + 1, t], 0, H)
        a_r = gates[r, t, :H]
        if t >= lengths[r]:
            a_r[:] = 0.0
            continue
        hp_r, dht_r, drh_r, dh_r = h_prev[r, t], dht[r], drh[r], dh[r]
        for j in range(H):
            rg = a_r[j]
            d = drh_r[j]
            a_r[j] = d * hp_r[j] * rg * (one - rg)
            dh_r[j] = dht_r[j] + d * rg
# --8<-- [end:gru_r_gates_backward]


# --8<-- [start:gru_seq_forward]
def _gru_seq_forward(x, h0, lengths, weights, options, buffers):
    """The compiled forward: the input projection, then each block of rows runs the
    whole time loop (blocks in parallel in the parallel kernel)."""
    W_ih, W_hh, W_hh_T_packed, W_hrz_T_packed, W_hn_T_packed, b_ih, b_hh = weights
    reverse, training, index_input, reset_after, blocks, seq_chunks = options
    out, hT, h_prev, gates, hn, rec, rec_rz, rec_n, rh = buffers
    B, T = gates.shape[0], gates.shape[1]
    H = hT.shape[1]
    if not index_input:
        for ch_ in prange(seq_chunks):
            ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
            projection_chunk(ch, seq_chunks, x, W_ih, gates)
    copy_rows(h0, hT)
    for k_ in prange(blocks):
        k = np.int64(k_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(k, blocks, B)
        m = r1 - r0
        h, lens, g, o = hT[r0:r1], lengths[r0:r1], gates[r0:r1], out[r0:r1]
        for s in range(T):
            t = forward_step(s, T, reverse)
            if training:
                keep_state(h, h_prev[r0:r1], t)
            if reset_after:
                recurrent_product(h, W_hh_T_packed, 0, W_hh, True, rec[k, :m], 0)
                gru_gates_forward(t, lens, g, rec[k, :m], b_ih, b_hh, h, hn[r0:r1], o)
            else:
                recurrent_product(h, W_hrz_T_packed, 0, W_hh[:2 * H], True, rec_rz[k, :m], 0)
                gru_rz_gates_forward(t, lens, g, rec_rz[k, :m], b_ih, b_hh, h, rh[k, :m])
                recurrent_product(rh[k, :m], W_hn_T_packed, 0, W_hh[2 * H:], True,
                                  rec_n[k, :m], 0)
                gru_n_gates_forward(t, lens, g, rec_n[k, :m], b_ih, b_hh, h, o)
# --8<-- [end:gru_seq_forward]


# --8<-- [start:gru_seq_backward]
def _gru_seq_backward(x, lengths, weights, kept, douts, options, grads, buffers):
    """The compiled backward: each block of rows runs the time loop backwards (step
    t+1's recurrent products into dL/dh_t, then step t's gate pass), then the weight,
    input and bias gradients.

    reset_before: each block sums its ``dW_hn = sum dan^T (r * h_prev)`` (block 0
    into ``dW_hn``, block k > 0 into ``dW_n_parts[k - 1]``) ``seg`` steps at a time:
    each step's ``r * h_prev``, made again before ``r`` is overwritten, and its
    ``dan`` go to the next rows of ``rh`` and ``dan``, and one product of ``seg *
    rows`` rows adds them (a product a step would read and write all of ``dW_hn``
    for a few rows of sum, and evict ``W_hh_packed`` from the cache)."""
    W_ih, W_hh, W_hh_packed = weights
    h_prev, hn = kept
    dout, dhT = douts
    reverse, index_input, reset_after, blocks, seq_chunks, seg = options
    dx, dW_ih, dW_hrz, dW_hn, db_ih, db_hh, dh0 = grads
    dG, dht, work, rh, dan, dW_n_parts, tn_work = buffers
    B, T = dout.shape[0], dout.shape[1]
    H = dh0.shape[1]
    # dh0 carries dL/dh backwards through time and ends as the initial-state gradient.
    copy_rows(dhT, dh0)
    for k_ in prange(blocks):
        k = np.int64(k_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(k, blocks, B)
        m = r1 - r0
        dh, lens, dG_k, hp = dh0[r0:r1], lengths[r0:r1], dG[r0:r1], h_prev[r0:r1]
        dW_n = dW_hn if (reset_after or k == 0) else dW_n_parts[k - 1]
        if not reset_after:
            dW_n[:, :] = 0.0
        filled = 0
        t_next = np.int64(-1)  # typed int64, not Literal[int](-1): one carry_back
        for s in range(T + 1):
            t = backward_step(s, T, reverse)
            # --8<-- [start:gru_carry_back]
            if t_next >= 0:
                recurrent_product(dG_k[:, t_next, :2 * H], W_hh_packed, 0, W_hh[:2 * H], False,
                                  work[k, :m], 0)
                if reset_after:
                    recurrent_product(hn[r0:r1, t_next], W_hh_packed, 2 * H, W_hh[2 * H:],
                                      False, work[k, :m], 1)
                add_valid_rows(t_next, lens, work[k, :m], dh)
            # --8<-- [end:gru_carry_back]
            if t >= 0:
                if reset_after:
                    gru_gates_backward(t, lens, dG_k, hp, hn[r0:r1], dout[r0:r1], dh)
                else:
                    # --8<-- [start:gru_backward_before_step]
                    # --8<-- [start:gru_dW_hn_segment]
                    rh_t = rh[k, filled * m:(filled + 1) * m]
                    gru_zn_gates_backward(t, lens, dG_k, hp, dout[r0:r1], dh, dht[r0:r1], rh_t)
                    copy_rows(dG_k[:, t, 2 * H:], dan[k, filled * m:(filled + 1) * m])
                    filled += 1
                    if filled == seg:
                        add_weight_grad(dan[k, :filled * m], rh[k, :filled * m], dW_n,
                                        tn_work[k])
                        filled = 0
                    # --8<-- [end:gru_dW_hn_segment]
                    # d(r*h) from the n block of step t: all of it is this block's.
                    recurrent_product(dG_k[:, t, 2 * H:], W_hh_packed, 2 * H, W_hh[2 * H:],
                                      False, work[k, :m], 0)
                    gru_r_gates_backward(t, lens, dG_k, hp, dht[r0:r1], work[k, :m], dh)
                    # --8<-- [end:gru_backward_before_step]
            t_next = t
        # --8<-- [start:gru_dW_hn_last]
        if filled > 0:
            add_weight_grad(dan[k, :filled * m], rh[k, :filled * m], dW_n, tn_work[k])
        # --8<-- [end:gru_dW_hn_last]
    # --8<-- [start:gru_seq_backward_after]
    N = B * T
    for ch_ in prange(seq_chunks):
        ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
        sequence_grads_chunk(ch, seq_chunks, dG, x, h_prev, W_ih, index_input, dx, dW_ih,
                             dW_hrz)
        if reset_after:
            # the n rows see dan * r (kept in hn) against h.
            weight_grad_chunk(ch, seq_chunks, hn.reshape(N, H), h_prev.reshape(N, H), dW_hn)
    column_sums(dG.reshape(N, 3 * H), db_ih)
    if reset_after:
        db_hh[:2 * H] = db_ih[:2 * H]
        column_sums(hn.reshape(N, H), db_hh[2 * H:])
    else:
        # the n rows saw dan against r * h, summed in the time loop.
        add_parts(dW_hn, dW_n_parts)
        db_hh[:] = db_ih
    # --8<-- [end:gru_seq_backward_after]
# --8<-- [end:gru_seq_backward]


gru_seq_forward = jit_pair(_gru_seq_forward)
gru_seq_backward = jit_pair(_gru_seq_backward)


# ----------------------------------------------------------- the regularised path
# Recurrent dropout and zoneout (docs/derivations/regularisation.md). Every
# recurrent product takes hm = h_{t-1} * mask (reset_before: r * hm for the n
# block), the update's z * h_{t-1} the unmasked state, and zoneout mixes the step's
# new state with the old one:
#
#     h~ = (1 - z) * n + z * h_{t-1},   h_t = d * h_{t-1} + (1 - d) * h~
#
# h_prev keeps the unmasked h_{t-1} (the backward's z gradient needs it); the
# backward masks it in place after its time loop, for dW_hh.

# --8<-- [start:gru_reg_gates]
@njit(**JIT_OPTIONS)
def gru_reg_gates_forward(t, r0, T, lengths, gates, rec, b_ih, b_hh, hT, hn, out, zoneout,
                          training, keep):
    """:func:`gru_gates_forward` with zoneout (``rec``: the product of ``h * mask``;
    ``zoneout = (seeds, thresholds, rates)``, the first of each; ``keep [1, H]``)."""
    wide_vectors()
    seeds, thresholds, rates = zoneout
    H = hT.shape[1]
    one = hT.dtype.type(1.0)
    bi_r, bi_z, bi_n = b_ih[:H], b_ih[H:2 * H], b_ih[2 * H:]
    bh_r, bh_z, bh_n = b_hh[:H], b_hh[H:2 * H], b_hh[2 * H:]
    d_h = keep[0]
    B = gates.shape[0]
    for r in range(B):
        a = gates[r, t]
        if r + 1 < B:
            prefetch(gates[r + 1, t], 0, 3 * H)
        if t >= lengths[r]:
            a[:] = 0.0
            hn[r, t] = 0.0
            out[r, t] = 0.0
            continue
        zoneout_row(seeds[0], r0 + r, t, T, rates[0], thresholds[0], training, d_h)
        a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
        rc = rec[r]
        rc_r, rc_z, rc_n = rc[:H], rc[H:2 * H], rc[2 * H:]
        h_r, hn_r, o_r = hT[r], hn[r, t], out[r, t]
        for j in range(H):
            rg = sigmoid(a_r[j] + bi_r[j] + rc_r[j] + bh_r[j])
            zg = sigmoid(a_z[j] + bi_z[j] + rc_z[j] + bh_z[j])
            hnj = rc_n[j] + bh_n[j]
            ng = tanh(a_n[j] + bi_n[j] + rg * hnj)
            hp = h_r[j]
            h = d_h[j] * hp + (one - d_h[j]) * ((one - zg) * ng + zg * hp)
            a_r[j] = rg
            a_z[j] = zg
            a_n[j] = ng
            hn_r[j] = hnj
            h_r[j] = h
            o_r[j] = h


@njit(**JIT_OPTIONS)
def gru_reg_n_gates_forward(t, r0, T, lengths, gates, rec_n, b_ih, b_hh, hT, out, zoneout,
                            training, keep):
    """:func:`gru_n_gates_forward` with zoneout (``rec_n``: ``(r * h * mask)
    W_hn^T``)."""
    wide_vectors()
    seeds, thresholds, rates = zoneout
    H = hT.shape[1]
    one = hT.dtype.type(1.0)
    bi_n, bh_n = b_ih[2 * H:], b_hh[2 * H:]
    d_h = keep[0]
    B = gates.shape[0]
    for r in range(B):
        a = gates[r, t]
        if r + 1 < B:
            prefetch(gates[r + 1, t], H, 3 * H)
        if t >= lengths[r]:
            a[:] = 0.0
            out[r, t] = 0.0
            continue
        zoneout_row(seeds[0], r0 + r, t, T, rates[0], thresholds[0], training, d_h)
        a_z, a_n = a[H:2 * H], a[2 * H:]
        rc, h_r, o_r = rec_n[r], hT[r], out[r, t]
        for j in range(H):
            zg = a_z[j]
            ng = tanh(a_n[j] + bi_n[j] + rc[j] + bh_n[j])
            hp = h_r[j]
            h = d_h[j] * hp + (one - d_h[j]) * ((one - zg) * ng + zg * hp)
            a_n[j] = ng
            h_r[j] = h
            o_r[j] = h


@njit(**JIT_OPTIONS)
def gru_reg_gates_backward(t, r0, T, lengths, gates, h_prev, hn, dout, dh, zoneout, keep):
    """:func:`gru_gates_backward` with zoneout: ``dh`` becomes ``d * dL/dh_t + (1 - d)
    * dL/dh_t * z``, the direct part of dL/dh_{t-1}."""
    wide_vectors()
    seeds, thresholds, rates = zoneout
    H = dh.shape[1]
    one = dh.dtype.type(1.0)
    d_h = keep[0]
    B = gates.shape[0]
    for r in range(B):
        a = gates[r, t]
        if r + 1 < B:
            prefetch(gates[r + 1, t], 0, 3 * H)
            prefetch(h_prev[r + 1, t], 0, H)
            prefetch(hn[r + 1, t], 0, H)
            prefetch(dout[r + 1, t], 0, H)
        if t >= lengths[r]:
            a[:] = 0.0
            hn[r, t] = 0.0
            continue
        zoneout_row(seeds[0], r0 + r, t, T, rates[0], thresholds[0], True, d_h)
        a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
        hp_r, hn_r = h_prev[r, t], hn[r, t]
        do_r, dh_r = dout[r, t], dh[r]
        for j in range(H):
            rg = a_r[j]
            zg = a_z[j]
            ng = a_n[j]
            hp = hp_r[j]
            dh_j = dh_r[j] + do_r[j]
            dh_new = (one - d_h[j]) * dh_j
            dan = dh_new * (one - zg) * (one - ng * ng)
            dar = dan * hn_r[j] * rg * (one - rg)
            daz = dh_new * (hp - ng) * zg * (one - zg)
            a_r[j] = dar
            a_z[j] = daz
            a_n[j] = dan
            hn_r[j] = dan * rg
            dh_r[j] = d_h[j] * dh_j + dh_new * zg


@njit(**JIT_OPTIONS)
def gru_reg_zn_gates_backward(t, r0, T, lengths, gates, h_prev, mask, dout, dh, dht, rh,
                              zoneout, keep):
    """:func:`gru_zn_gates_backward` with zoneout and recurrent dropout: ``rh = r *
    h_prev * mask`` and ``dht`` the direct part of dL/dh_{t-1}."""
    wide_vectors()
    seeds, thresholds, rates = zoneout
    H = dh.shape[1]
    one = dh.dtype.type(1.0)
    d_h = keep[0]
    B = gates.shape[0]
    for r in range(B):
        a = gates[r, t]
        if r + 1 < B:
            prefetch(gates[r + 1, t], H, 3 * H)
            prefetch(h_prev[r + 1, t], 0, H)
            prefetch(dout[r + 1, t], 0, H)
        if t >= lengths[r]:
            a[H:] = 0.0
            rh[r] = 0.0
            continue
        zoneout_row(seeds[0], r0 + r, t, T, rates[0], thresholds[0], True, d_h)
        a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
        hp_r, m_r, dh_r, do_r = h_prev[r, t], mask[r], dh[r], dout[r, t]
        dht_r, rh_r = dht[r], rh[r]
        for j in range(H):
            zg = a_z[j]
            ng = a_n[j]
            hp = hp_r[j]
            rh_r[j] = a_r[j] * (hp * m_r[j])
            dh_j = dh_r[j] + do_r[j]
            dh_new = (one - d_h[j]) * dh_j
            dht_r[j] = d_h[j] * dh_j + dh_new * zg
            a_z[j] = dh_new * (hp - ng) * zg * (one - zg)
            a_n[j] = dh_new * (one - zg) * (one - ng * ng)


@njit(**JIT_OPTIONS)
def gru_reg_r_gates_backward(t, lengths, gates, h_prev, mask, dht, drh, dh):
    """:func:`gru_r_gates_backward` under recurrent dropout: the n block's operand
    was ``r * h_prev * mask``."""
    wide_vectors()
    H = dh.shape[1]
    one = dh.dtype.type(1.0)
    for r in range(gates.shape[0]):
        a_r = gates[r, t, :H]
        if t >= lengths[r]:
            a_r[:] = 0.0
            continue
        hp_r, m_r, dht_r, drh_r, dh_r = h_prev[r, t], mask[r], dht[r], drh[r], dh[r]
        for j in range(H):
            rg = a_r[j]
            d = drh_r[j]
            a_r[j] = d * (hp_r[j] * m_r[j]) * rg * (one - rg)
            dh_r[j] = dht_r[j] + d * rg * m_r[j]
# --8<-- [end:gru_reg_gates]


# --8<-- [start:gru_reg_seq]
def _gru_reg_forward(x, h0, lengths, weights, reg, options, buffers):
    """:func:`_gru_seq_forward` with recurrent dropout (``reg[0]``, the mask ``[B,
    H]``) and zoneout (``reg[1:]``)."""
    W_ih, W_hh, W_hh_T_packed, W_hrz_T_packed, W_hn_T_packed, b_ih, b_hh = weights
    mask, zoneout = reg[0], reg[1:]
    reverse, training, index_input, reset_after, blocks, seq_chunks = options
    out, hT, h_prev, gates, hn, rec, rec_rz, rec_n, rh, hm, keep = buffers
    B, T = gates.shape[0], gates.shape[1]
    H = hT.shape[1]
    if not index_input:
        for ch_ in prange(seq_chunks):
            ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
            projection_chunk(ch, seq_chunks, x, W_ih, gates)
    copy_rows(h0, hT)
    for k_ in prange(blocks):
        k = np.int64(k_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(k, blocks, B)
        m = r1 - r0
        h, lens, g, o = hT[r0:r1], lengths[r0:r1], gates[r0:r1], out[r0:r1]
        hm_k = hm[k, :m]
        for s in range(T):
            t = forward_step(s, T, reverse)
            if training:
                keep_state(h, h_prev[r0:r1], t)
            mask_rows(h, mask[r0:r1], hm_k)
            if reset_after:
                recurrent_product(hm_k, W_hh_T_packed, 0, W_hh, True, rec[k, :m], 0)
                gru_reg_gates_forward(t, r0, T, lens, g, rec[k, :m], b_ih, b_hh, h, hn[r0:r1],
                                      o, zoneout, training, keep[k])
            else:
                recurrent_product(hm_k, W_hrz_T_packed, 0, W_hh[:2 * H], True, rec_rz[k, :m], 0)
                # r, z, and rh = r * (h * mask): the plain pass, given the masked state.
                gru_rz_gates_forward(t, lens, g, rec_rz[k, :m], b_ih, b_hh, hm_k, rh[k, :m])
                recurrent_product(rh[k, :m], W_hn_T_packed, 0, W_hh[2 * H:], True,
                                  rec_n[k, :m], 0)
                gru_reg_n_gates_forward(t, r0, T, lens, g, rec_n[k, :m], b_ih, b_hh, h, o,
                                        zoneout, training, keep[k])


def _gru_reg_backward(x, lengths, weights, kept, douts, reg, options, grads, buffers):
    """:func:`_gru_seq_backward` for :func:`_gru_reg_forward`: the products' parts of
    dL/dh_{t-1} are masked; after its time loop each block masks its rows of
    ``h_prev`` in place (when there is a mask), for the weight gradients."""
    W_ih, W_hh, W_hh_packed = weights
    h_prev, hn = kept
    dout, dhT = douts
    mask, zoneout = reg[0], reg[1:]
    reverse, index_input, reset_after, blocks, seq_chunks, seg, masked = options
    dx, dW_ih, dW_hrz, dW_hn, db_ih, db_hh, dh0 = grads
    dG, dht, work, rh, dan, dW_n_parts, tn_work, keep = buffers
    B, T = dout.shape[0], dout.shape[1]
    H = dh0.shape[1]
    copy_rows(dhT, dh0)
    for k_ in prange(blocks):
        k = np.int64(k_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(k, blocks, B)
        m = r1 - r0
        dh, lens, dG_k, hp = dh0[r0:r1], lengths[r0:r1], dG[r0:r1], h_prev[r0:r1]
        mask_k = mask[r0:r1]
        dW_n = dW_hn if (reset_after or k == 0) else dW_n_parts[k - 1]
        if not reset_after:
            dW_n[:, :] = 0.0
        filled = 0
        t_next = np.int64(-1)  # typed int64, not Literal[int](-1): one carry_back
        for s in range(T + 1):
            t = backward_step(s, T, reverse)
            if t_next >= 0:
                recurrent_product(dG_k[:, t_next, :2 * H], W_hh_packed, 0, W_hh[:2 * H], False,
                                  work[k, :m], 0)
                if reset_after:
                    recurrent_product(hn[r0:r1, t_next], W_hh_packed, 2 * H, W_hh[2 * H:],
                                      False, work[k, :m], 1)
                add_valid_rows_masked(t_next, lens, work[k, :m], mask_k, dh)
            if t >= 0:
                if reset_after:
                    gru_reg_gates_backward(t, r0, T, lens, dG_k, hp, hn[r0:r1], dout[r0:r1], dh,
                                           zoneout, keep[k])
                else:
                    rh_t = rh[k, filled * m:(filled + 1) * m]
                    gru_reg_zn_gates_backward(t, r0, T, lens, dG_k, hp, mask_k, dout[r0:r1], dh,
                                              dht[r0:r1], rh_t, zoneout, keep[k])
                    copy_rows(dG_k[:, t, 2 * H:], dan[k, filled * m:(filled + 1) * m])
                    filled += 1
                    if filled == seg:
                        add_weight_grad(dan[k, :filled * m], rh[k, :filled * m], dW_n,
                                        tn_work[k])
                        filled = 0
                    recurrent_product(dG_k[:, t, 2 * H:], W_hh_packed, 2 * H, W_hh[2 * H:],
                                      False, work[k, :m], 0)
                    gru_reg_r_gates_backward(t, lens, dG_k, hp, mask_k, dht[r0:r1], work[k, :m],
                                             dh)
            t_next = t
        if filled > 0:
            add_weight_grad(dan[k, :filled * m], rh[k, :filled * m], dW_n, tn_work[k])
        if masked:
            mask_history(hp, mask_k)
    N = B * T
    for ch_ in prange(seq_chunks):
        ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
        sequence_grads_chunk(ch, seq_chunks, dG, x, h_prev, W_ih, index_input, dx, dW_ih,
                             dW_hrz)
        if reset_after:
            weight_grad_chunk(ch, seq_chunks, hn.reshape(N, H), h_prev.reshape(N, H), dW_hn)
    column_sums(dG.reshape(N, 3 * H), db_ih)
    if reset_after:
        db_hh[:2 * H] = db_ih[:2 * H]
        column_sums(hn.reshape(N, H), db_hh[2 * H:])
    else:
        add_parts(dW_hn, dW_n_parts)
        db_hh[:] = db_ih
# --8<-- [end:gru_reg_seq]


gru_reg_forward = jit_pair(_gru_reg_forward)
gru_reg_backward = jit_pair(_gru_reg_backward)
