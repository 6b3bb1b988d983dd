"""Vanilla (Elman) RNN: the forward pass and backpropagation through time, tanh or
ReLU.

Equations, for a valid step ``t`` of row ``b`` (``t < lengths[b]``)::

    h_t = act(W_ih x_t + W_hh h_{t-1} + b)     b = b_ih + b_hh
    act = tanh  (relu=False)  or  max(0, .)  (relu=True)

Past a row's length the state is carried unchanged and the output is 0.

The path of a call: :func:`forward` allocates and makes one compiled call,
``rnn_seq_forward``: the input projection (into the output buffer), then each block
of rows runs the time loop, each step one recurrent product and one pass
(:func:`rnn_gates_forward`). :func:`backward`, ``rnn_seq_backward`` and
:func:`rnn_gates_backward` mirror them.

The outputs are the whole cache of the backward, which writes the pre-activation
gradients over them (unless they are still referenced elsewhere: :func:`backward`),
and ``dW_hh`` is summed inside the backward time loop, each ``h_t`` serving as the
input state of the step handled just before it is overwritten: a SimpleRNN keeps no
state history.

Forward buffers (batch-first; B rows, T steps, I inputs, H hidden units, n row
blocks of at most Bc rows)::

    x         [B, T, I]    input ([B, T, 0] for index input)
    h0        [B, H]       initial state;  lengths [B] int64, 1 <= lengths[b] <= T
    W_ih      [H, I]       W_hh [H, H]; b [H] = b_ih + b_hh
    W_hh_T_packed [L]      W_hh.T packed (empty: BLAS on W_hh; see _panel)
    out       [B, T, H]    the input projection in; h_t at valid steps, 0 elsewhere out
    hT        [B, H]       state after each row's last valid step
    rec       [n, Bc, H]   each block's recurrent products

Backward buffers::

    dout      [B, T, H]    dL/d out;   dhT [B, H]: dL/d hT
    dG        [B, T, H]    the forward's outputs h_t in; dL/da, the pre-activation
                           gradient, out, in place
    dh0       [B, H]       carries dL/dh backwards; ends as dL/dh0
    work      [n, Bc, H]   each block's dG[:, t] W_hh
    dW_parts  [n-1, H, H]  dW_hh of row blocks 1..n-1 (block 0 sums into dW_hh)
    first     [B] int64    the step each row starts from
    tn_work   [n, L]       each block's packing buffer for dW_hh
    dx [B, T, I], dW_ih, dW_hh, db   outputs (dx, dW_ih: the entry's, for index input)
"""

import sys

import numpy as np
from numba import njit, prange

from .. import _dispatch
from .._config import JIT_OPTIONS, jit_pair, wide_vectors
from ._blas import prefetch
from ._buffers import (
    index_weight_grad,
    input_buffers,
    input_grad_buffers,
    packed,
    packed_transpose,
    spend,
)
from ._grads import (
    add_initial_state_grad,
    add_parts,
    add_weight_grad,
    column_sums,
    first_steps,
    input_grads_chunk,
    projection_chunk,
)
from ._math import tanh
from ._panel import tn_work_size
from ._steps import (
    add_valid_rows,
    add_valid_rows_masked,
    backward_step,
    carry_back,
    chunk,
    copy_rows,
    forward_step,
    mask_rows,
    mask_step,
    recurrent_product,
    set_valid_rows_masked,
    zoneout_bits,
)

#: the one gate block of ``W_ih``, ``W_hh`` and the biases.
RNN_GATES = ("h",)


# --8<-- [start:rnn_forward]
def forward(x, W_ih, W_hh, b_ih, b_hh, state, lengths, reverse=False, training=True, *,
            nonlinearity="tanh", regularise=None):
    """One direction of a SimpleRNN layer over a batch of sequences.

    The input projection is made in place in the output buffer, so a forward
    allocates one ``[B, T, H]`` buffer; the outputs are the backward's whole cache.

    Parameters
    ----------
    x : ndarray, (B, T, I) float, C-contiguous, or (B, T) integer indices in [0, I)
    W_ih, W_hh, b_ih, b_hh : ndarray
        ``(H, I)``, ``(H, H)``, ``(H,)``, ``(H,)``, of the dtype of the call.
    state : tuple of ndarray
        ``(h0,)``, ``(B, H)``.
    lengths : ndarray, (B,) int64
        ``1 <= lengths[b] <= T``.
    reverse : bool, default False
        Run from the last step to the first.
    training : bool, default True
        Keep the cache that :func:`backward` spends.
    nonlinearity : {"tanh", "relu"}, default "tanh"
    regularise : Regularise, optional
        Recurrent dropout and zoneout (:mod:`seqnet.kernels._regular`): the
        regularised time loop, ``rnn_reg_forward`` (no state history either).
        None: the plain one.

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
    x_k, out, index_input, B, T = input_buffers(x, W_ih)   # out: the projection, then h
    relu = nonlinearity == "relu"
    how = _dispatch.plan(B, T, H, W_ih.shape[1], H)
    hT = np.empty((B, H), dt)
    rec = np.empty((how.blocks, -(-B // how.blocks), H), dt)
    if regularise is not None:
        return _reg_forward(x, x_k, out, index_input, (W_ih, W_hh, b_ih + b_hh), state,
                            lengths, reverse, training, relu, regularise, how, hT, rec)
    with _dispatch.guard():
        rnn_seq_forward[how.parallel](
            x_k, state[0], lengths, (W_ih, W_hh, packed_transpose(W_hh, how.pack), b_ih + b_hh),
            (reverse, relu, index_input, how.blocks, how.seq_chunks),
            (out, hT, rec))
    cache = None
    if training:
        cache = dict(x=x, x_k=x_k, W_ih=W_ih, W_hh=W_hh, lengths=lengths, reverse=reverse,
                     relu=relu, h0=np.array(state[0], dt, copy=True), out=out)
    return out, (hT,), cache
# --8<-- [end:rnn_forward]


# --8<-- [start:rnn_backward]
def backward(cache, dout, dstate):
    """Backpropagation through time for :func:`forward`, spending its cache.

    The pre-activation gradients are written over the forward's outputs when
    nothing but the cache refers to them (the caller dropped them, as a layer's
    caller that keeps only a copy does); otherwise over a copy, so that an output
    still held is never changed.

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
    if "regularise" in cache:
        return _reg_backward(cache, dout, dstate)
    x, W_ih, W_hh = cache["x"], cache["W_ih"], cache["W_hh"]
    B, T = x.shape[:2]
    H = W_hh.shape[1]
    dt = W_hh.dtype
    how = _dispatch.plan(B, T, H, W_ih.shape[1], H)
    # dL/da overwrites the activations h_t it is made from, element by element
    # (as in the LSTM), after each has served in dW_hh.
    dG = spend(cache, "out")
    if sys.getrefcount(dG) > 2:   # this name and getrefcount's argument: no one else
        dG = dG.copy()
    dx, dW_ih = input_grad_buffers(x, W_ih)
    dW_hh, db = np.empty_like(W_hh), np.empty(H, dt)
    dh0 = np.empty((B, H), dt)
    n = how.blocks
    work = np.empty((n, -(-B // n), H), dt)
    dW_parts = np.empty((n - 1, H, H), dt)
    first = np.empty(B, np.int64)
    tn_work = np.empty((n, tn_work_size(dt)), dt)
    index_input = x.ndim == 2
    with _dispatch.guard():
        rnn_seq_backward[how.parallel](
            cache["x_k"], cache["lengths"], (W_ih, W_hh, packed(W_hh, how.pack)), cache["h0"],
            (dout, dstate[0]),
            (cache["reverse"], cache["relu"], index_input, n, how.seq_chunks),
            (dx, dW_ih, dW_hh, db, dh0), (dG, work, dW_parts, first, tn_work))
    if index_input:
        index_weight_grad(x, dG, dW_ih)
        dx = None
    return dx, (dW_ih, dW_hh, db, db.copy()), (dh0,)
# --8<-- [end:rnn_backward]


# --8<-- [start:rnn_gates_forward]
@njit(**JIT_OPTIONS)
def rnn_gates_forward(t, lengths, relu, rec, b, hT, out):
    """Step ``t`` for every row of a block: ``out[:, t]`` holds the input projection
    and gets ``h = act(out[:, t] + rec + b)`` (read and written through one view, so
    that the loop runs vectorised); ``rec [rows, H]`` is the step's recurrent
    product."""
    wide_vectors()
    H = hT.shape[1]
    zero = hT.dtype.type(0.0)
    B = out.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch(out[r + 1, t], 0, H)
        o_r = out[r, t]
        if t >= lengths[r]:
            o_r[:] = 0.0
            continue
        rc, h_r = rec[r], hT[r]
        if relu:
            for j in range(H):
                z = o_r[j] + rc[j] + b[j]
                # max(z, 0) with NaN kept: a NaN pre-activation stays NaN.
                h = z if (z > zero or z != z) else zero
                h_r[j] = h
                o_r[j] = h
        else:
            for j in range(H):
                h = tanh(o_r[j] + rc[j] + b[j])
                h_r[j] = h
                o_r[j] = h
# --8<-- [end:rnn_gates_forward]


# --8<-- [start:rnn_gates_backward]
@njit(**JIT_OPTIONS)
def rnn_gates_backward(t, lengths, relu, out, dout, dh):
    """Backward of step ``t`` for every row of a block: ``out[:, t]`` (h_t) is
    replaced by dL/da (each element read before it is written, through the same
    view, so that the loop runs vectorised)."""
    wide_vectors()
    H = dh.shape[1]
    one = dh.dtype.type(1.0)
    zero = dh.dtype.type(0.0)
    B = out.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch(out[r + 1, t], 0, H)
            prefetch(dout[r + 1, t], 0, H)
        d = out[r, t]
        if t >= lengths[r]:
            d[:] = 0.0
            continue
        do_r, dh_r = dout[r, t], dh[r]
        if relu:
            for j in range(H):
                d[j] = dh_r[j] + do_r[j] if d[j] > zero else zero
        else:
            for j in range(H):
                h = d[j]
                d[j] = (dh_r[j] + do_r[j]) * (one - h * h)
# --8<-- [end:rnn_gates_backward]


# --8<-- [start:rnn_seq_forward]
def _rnn_seq_forward(x, h0, lengths, weights, options, buffers):
    """The compiled forward: the input projection into ``out``, then each block of
    rows runs the whole time loop (blocks in parallel in the parallel kernel)."""
    W_ih, W_hh, W_hh_T_packed, b = weights
    reverse, relu, index_input, blocks, seq_chunks = options
    out, hT, rec = buffers
    B, T = out.shape[0], out.shape[1]
    if not index_input:
        for ch_ in prange(seq_chunks):
            ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
            projection_chunk(ch, seq_chunks, x, W_ih, out)
    copy_rows(h0, hT)
    for k_ in prange(blocks):
        k = np.int64(k_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(k, blocks, B)
        h, lens, o, rec_k = hT[r0:r1], lengths[r0:r1], out[r0:r1], rec[k, :r1 - r0]
        for s in range(T):
            t = forward_step(s, T, reverse)
            recurrent_product(h, W_hh_T_packed, 0, W_hh, True, rec_k, 0)
            rnn_gates_forward(t, lens, relu, rec_k, b, h, o)
# --8<-- [end:rnn_seq_forward]


# --8<-- [start:rnn_seq_backward]
def _rnn_seq_backward(x, lengths, weights, h0, douts, options, grads, buffers):
    """The compiled backward: each block of rows runs the time loop backwards.

    ``dG`` holds the outputs h_t and gets dL/da, step by step. Before step ``t``'s
    h_t is overwritten, it serves as the input state of the step handled just
    before (``t + 1``, or ``t - 1`` when ``reverse``): ``dW_hh = sum dG^T h_prev`` is
    summed there, one step at a time, into the block's own ``dW`` (block 0 into
    ``dW_hh``, block k > 0 into ``dW_parts[k - 1]``); the state each row starts
    from, ``h0``, is added last. A row's step past its length has ``dG = 0`` and an
    output 0, so it adds nothing."""
    W_ih, W_hh, W_hh_packed = weights
    dout, dhT = douts
    reverse, relu, index_input, blocks, seq_chunks = options
    dx, dW_ih, dW_hh, db, dh0 = grads
    dG, work, dW_parts, first, tn_work = buffers
    B, T = dout.shape[0], dout.shape[1]
    H = dh0.shape[1]
    # dh0 carries dL/dh backwards and ends as the initial-state gradient.
    copy_rows(dhT, dh0)
    for k_ in prange(blocks):
        k = np.int64(k_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(k, blocks, B)
        dh, lens, dG_k, work_k = dh0[r0:r1], lengths[r0:r1], dG[r0:r1], work[k, :r1 - r0]
        dW = dW_hh if k == 0 else dW_parts[k - 1]
        dW[:, :] = 0.0
        t_next = np.int64(-1)  # typed int64, not Literal[int](-1): one carry_back
        for s in range(T + 1):
            t = backward_step(s, T, reverse)
            # --8<-- [start:rnn_dW_hh_step]
            if t_next >= 0:
                carry_back(dG_k, t_next, W_hh_packed, W_hh, lens, work_k, dh)
                if t >= 0:
                    add_weight_grad(dG_k[:, t_next], dG_k[:, t], dW, tn_work[k])
            # --8<-- [end:rnn_dW_hh_step]
            if t >= 0:
                rnn_gates_backward(t, lens, relu, dG_k, dout[r0:r1], dh)
            t_next = t
        # --8<-- [start:rnn_initial_state_grad]
        first_steps(lens, reverse, first[r0:r1])
        add_initial_state_grad(dG_k, first[r0:r1], h0[r0:r1], work_k, dW, tn_work[k])
        # --8<-- [end:rnn_initial_state_grad]
    # --8<-- [start:rnn_seq_backward_after]
    add_parts(dW_hh, dW_parts)
    gf = dG.reshape(B * T, H)
    if not index_input:
        for ch_ in prange(seq_chunks):
            ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
            input_grads_chunk(ch, seq_chunks, gf, x, W_ih, dx, dW_ih)
    column_sums(gf, db)
    # --8<-- [end:rnn_seq_backward_after]
# --8<-- [end:rnn_seq_backward]


rnn_seq_forward = jit_pair(_rnn_seq_forward)
rnn_seq_backward = jit_pair(_rnn_seq_backward)


# ----------------------------------------------------------- the regularised path
# Recurrent dropout and zoneout (docs/derivations/regularisation.md):
#
#     h~ = act(W_ih x_t + W_hh (h_{t-1} * mask) + b),   h_t = d * h_{t-1} + (1 - d) * h~
#
# Like the plain loop, this one keeps no state history: the outputs hold the
# zoneout-blended states h_t, and the backward sums dW_hh inside its time loop from
# each h_t (times the mask, when there is one) before overwriting it. The backward
# reads act'(h~) from the output h_t: in training d is 0 or 1, and where it is 1 the
# factor (1 - d) is 0, so that h_t stands in for h~ wherever its derivative counts.

# --8<-- [start:rnn_reg_forward]
def _reg_forward(x, x_k, out, index_input, weights, state, lengths, reverse, training, relu,
                 reg, how, hT, rec):
    W_ih, W_hh, b = weights
    B, T, H = out.shape
    dt = W_hh.dtype
    masked = training and reg.mask is not None
    hm = np.empty_like(rec)
    keep = np.empty((how.blocks, 1, H), dt)
    # the training zoneout keep flags, one byte a unit and step, for the backward
    zoned = reg.rates[0] != 0.0
    kept = np.empty((T, B, H) if training and zoned else (0, 0, 0), np.uint8)
    args = reg.kernel_args(B, H, dt, training)
    with _dispatch.guard():
        rnn_reg_forward[how.parallel](
            x_k, state[0], lengths, (W_ih, W_hh, packed_transpose(W_hh, how.pack), b), args,
            (reverse, relu, training, masked, index_input, how.blocks, how.seq_chunks),
            (out, hT, rec, hm, keep, kept))
    cache = None
    if training:
        # the operand of each row's first product, h0 * mask: dW_hh's first term
        h0 = np.array(state[0] * args[0] if masked else state[0], dt, copy=True)
        cache = dict(x=x, x_k=x_k, W_ih=W_ih, W_hh=W_hh, lengths=lengths, reverse=reverse,
                     relu=relu, h0=h0, out=out, masked=masked, regularise=reg,
                     kept=kept)
    return out, (hT,), cache


def _reg_backward(cache, dout, dstate):
    x, W_ih, W_hh, reg = cache["x"], cache["W_ih"], cache["W_hh"], cache["regularise"]
    B, T = x.shape[:2]
    H = W_hh.shape[1]
    dt = W_hh.dtype
    how = _dispatch.plan(B, T, H, W_ih.shape[1], H)
    dG = spend(cache, "out")
    if sys.getrefcount(dG) > 2:   # as in backward: an output still held is copied
        dG = dG.copy()
    dx, dW_ih = input_grad_buffers(x, W_ih)
    dW_hh, db = np.empty_like(W_hh), np.empty(H, dt)
    dh0 = np.empty((B, H), dt)
    n = how.blocks
    work = np.empty((n, -(-B // n), H), dt)
    hm = np.empty((n, -(-B // n), H), dt)
    kept = spend(cache, "kept")
    dW_parts = np.empty((n - 1, H, H), dt)
    first = np.empty(B, np.int64)
    tn_work = np.empty((n, tn_work_size(dt)), dt)
    index_input = x.ndim == 2
    with _dispatch.guard():
        rnn_reg_backward[how.parallel](
            cache["x_k"], cache["lengths"], (W_ih, W_hh, packed(W_hh, how.pack)), cache["h0"],
            (dout, dstate[0]), reg.kernel_args(B, H, dt, True),
            (cache["reverse"], cache["relu"], cache["masked"], index_input, n,
             how.seq_chunks),
            (dx, dW_ih, dW_hh, db, dh0), (dG, work, hm, kept, dW_parts, first, tn_work))
    if index_input:
        index_weight_grad(x, dG, dW_ih)
        dx = None
    return dx, (dW_ih, dW_hh, db, db.copy()), (dh0,)
# --8<-- [end:rnn_reg_forward]


# --8<-- [start:rnn_reg_gates]
@njit(**JIT_OPTIONS)
def rnn_blend_row(relu, o_r, rc, b, h_r, d_h):
    """One row of :func:`rnn_reg_gates_forward` at inference: ``h = d * h_prev + (1
    - d) * act(o + rc + b)`` into ``h_r`` and ``o_r``, ``d_h`` the coefficients
    (the rate). One loop per activation, so that each runs vectorised."""
    wide_vectors()
    H = h_r.shape[0]
    one = h_r.dtype.type(1.0)
    zero = h_r.dtype.type(0.0)
    if relu:
        for j in range(H):
            z = o_r[j] + rc[j] + b[j]
            h_new = z if (z > zero or z != z) else zero
            h = d_h[j] * h_r[j] + (one - d_h[j]) * h_new
            h_r[j] = h
            o_r[j] = h
    else:
        for j in range(H):
            h = d_h[j] * h_r[j] + (one - d_h[j]) * tanh(o_r[j] + rc[j] + b[j])
            h_r[j] = h
            o_r[j] = h


@njit(**JIT_OPTIONS)
def rnn_zone_row(relu, o_r, rc, b, h_r, kept):
    """One row of :func:`rnn_reg_gates_forward` in training: ``h = h_prev`` where
    the unit's keep flag (``kept``, ``uint8``) is set, else ``act(o + rc + b)``
    (the blend with ``d`` 0 or 1, as a select)."""
    wide_vectors()
    H = h_r.shape[0]
    zero = h_r.dtype.type(0.0)
    if relu:
        for j in range(H):
            z = o_r[j] + rc[j] + b[j]
            h_new = z if (z > zero or z != z) else zero
            h = h_r[j] if kept[j] != 0 else h_new
            h_r[j] = h
            o_r[j] = h
    else:
        for j in range(H):
            h_new = tanh(o_r[j] + rc[j] + b[j])
            h = h_r[j] if kept[j] != 0 else h_new
            h_r[j] = h
            o_r[j] = h


@njit(**JIT_OPTIONS)
def rnn_reg_gates_forward(t, r0, T, lengths, relu, rec, b, hT, out, zoneout, training, keep,
                          kept):
    """:func:`rnn_gates_forward` with zoneout (``rec``: the product of ``h * mask``;
    ``zoneout = (seeds, thresholds, rates)``, the first of each). In training each
    row's keep flags are drawn into ``kept [T, B, H]`` (``uint8``, time-major so
    that a step's rows are contiguous; the block's rows from ``r0``), which the
    backward reads back; at inference every coefficient is the rate (``keep [1,
    H]``)."""
    wide_vectors()
    seeds, thresholds, rates = zoneout
    H = hT.shape[1]
    d_h = keep[0]
    if not training:
        d_h[:] = rates[0]
    B = out.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch(out[r + 1, t], 0, H)
        o_r = out[r, t]
        if t >= lengths[r]:
            o_r[:] = 0.0
            continue
        if training:
            k = kept[t, r0 + r]
            zoneout_bits(seeds[0], r0 + r, t, T, thresholds[0], k)
            rnn_zone_row(relu, o_r, rec[r], b, hT[r], k)
        else:
            rnn_blend_row(relu, o_r, rec[r], b, hT[r], d_h)


@njit(**JIT_OPTIONS)
def rnn_reg_gates_backward(t, r0, lengths, relu, out, dout, dh, kept):
    """:func:`rnn_gates_backward` with zoneout (the forward's keep flags ``kept
    [T, B, H]``, ``uint8``, the block's rows from ``r0``): ``out[:, t]`` (h_t) is
    replaced by dL/da and ``dh`` by ``d * dL/dh_t``, the direct part of
    dL/dh_{t-1}."""
    wide_vectors()
    H = dh.shape[1]
    one = dh.dtype.type(1.0)
    zero = dh.dtype.type(0.0)
    B = out.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch(out[r + 1, t], 0, H)
            prefetch(dout[r + 1, t], 0, H)
        d = out[r, t]
        if t >= lengths[r]:
            d[:] = 0.0
            continue
        do_r, dh_r, k = dout[r, t], dh[r], kept[t, r0 + r]
        # d is 0 or 1: the products by d and 1 - d written as selects
        if relu:
            for j in range(H):
                dh_j = dh_r[j] + do_r[j]
                kj = k[j] != 0
                d[j] = dh_j if (not kj and d[j] > zero) else zero
                dh_r[j] = dh_j if kj else zero
        else:
            for j in range(H):
                h = d[j]
                dh_j = dh_r[j] + do_r[j]
                kj = k[j] != 0
                d[j] = zero if kj else dh_j * (one - h * h)
                dh_r[j] = dh_j if kj else zero
# --8<-- [end:rnn_reg_gates]


# --8<-- [start:rnn_reg_seq]
def _rnn_reg_forward(x, h0, lengths, weights, reg, options, buffers):
    """:func:`_rnn_seq_forward` with recurrent dropout (``reg[0]``, the mask ``[B,
    H]``, applied when ``masked``) and zoneout (``reg[1:]``; in training its keep
    flags go to ``kept [T, B, H]``, else ``kept`` may be empty)."""
    W_ih, W_hh, W_hh_T_packed, b = weights
    mask, zoneout = reg[0], reg[1:]
    reverse, relu, training, masked, index_input, blocks, seq_chunks = options
    out, hT, rec, hm, keep, kept = buffers
    B, T = out.shape[0], out.shape[1]
    zoned = zoneout[2][0] != 0.0
    if not index_input:
        for ch_ in prange(seq_chunks):
            ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
            projection_chunk(ch, seq_chunks, x, W_ih, out)
    copy_rows(h0, hT)
    for k_ in prange(blocks):
        k = np.int64(k_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(k, blocks, B)
        h, lens, o, rec_k = hT[r0:r1], lengths[r0:r1], out[r0:r1], rec[k, :r1 - r0]
        hm_k = hm[k, :r1 - r0]
        for s in range(T):
            t = forward_step(s, T, reverse)
            if masked:
                mask_rows(h, mask[r0:r1], hm_k)
                recurrent_product(hm_k, W_hh_T_packed, 0, W_hh, True, rec_k, 0)
            else:
                recurrent_product(h, W_hh_T_packed, 0, W_hh, True, rec_k, 0)
            if zoned:
                rnn_reg_gates_forward(t, r0, T, lens, relu, rec_k, b, h, o, zoneout,
                                      training, keep[k], kept)
            else:   # recurrent dropout alone: the plain gate pass
                rnn_gates_forward(t, lens, relu, rec_k, b, h, o)


def _rnn_reg_backward(x, lengths, weights, h0, douts, reg, options, grads, buffers):
    """:func:`_rnn_seq_backward` for :func:`_rnn_reg_forward`: the product's part of
    dL/dh_{t-1} is masked, and ``dW_hh`` sums ``dG_t^T (h_{t-1} * mask)`` step by
    step (``h0``: the initial states, already masked; ``kept``: the forward's
    zoneout keep flags, read when zoneout is on). With recurrent dropout alone the
    gate pass is the plain one and the product sets dL/dh_{t-1} rather than adding
    to the zoneout part."""
    W_ih, W_hh, W_hh_packed = weights
    dout, dhT = douts
    mask, zoneout = reg[0], reg[1:]
    reverse, relu, masked, index_input, blocks, seq_chunks = options
    dx, dW_ih, dW_hh, db, dh0 = grads
    dG, work, hm, kept, dW_parts, first, tn_work = buffers
    B, T = dout.shape[0], dout.shape[1]
    H = dh0.shape[1]
    zoned = zoneout[2][0] != 0.0
    copy_rows(dhT, dh0)
    for k_ in prange(blocks):
        k = np.int64(k_)  # callees typed once: see _config.jit_pair
        r0, r1 = chunk(k, blocks, B)
        dh, lens, dG_k, work_k = dh0[r0:r1], lengths[r0:r1], dG[r0:r1], work[k, :r1 - r0]
        hm_k, mask_k = hm[k, :r1 - r0], mask[r0:r1]
        dW = dW_hh if k == 0 else dW_parts[k - 1]
        dW[:, :] = 0.0
        t_next = np.int64(-1)  # typed int64, not Literal[int](-1): one carry_back
        for s in range(T + 1):
            t = backward_step(s, T, reverse)
            if t_next >= 0:
                recurrent_product(dG_k[:, t_next], W_hh_packed, 0, W_hh, False, work_k, 0)
                if not zoned:
                    set_valid_rows_masked(t_next, lens, work_k, mask_k, dh)
                elif masked:
                    add_valid_rows_masked(t_next, lens, work_k, mask_k, dh)
                else:
                    add_valid_rows(t_next, lens, work_k, dh)
                if t >= 0:
                    if masked:
                        mask_step(dG_k, t, mask_k, hm_k)
                        add_weight_grad(dG_k[:, t_next], hm_k, dW, tn_work[k])
                    else:
                        add_weight_grad(dG_k[:, t_next], dG_k[:, t], dW, tn_work[k])
            if t >= 0:
                if zoned:
                    rnn_reg_gates_backward(t, r0, lens, relu, dG_k, dout[r0:r1], dh, kept)
                else:
                    rnn_gates_backward(t, lens, relu, dG_k, dout[r0:r1], dh)
            t_next = t
        first_steps(lens, reverse, first[r0:r1])
        add_initial_state_grad(dG_k, first[r0:r1], h0[r0:r1], work_k, dW, tn_work[k])
    add_parts(dW_hh, dW_parts)
    gf = dG.reshape(B * T, H)
    if not index_input:
        for ch_ in prange(seq_chunks):
            ch = np.int64(ch_)  # callees typed once: see _config.jit_pair
            input_grads_chunk(ch, seq_chunks, gf, x, W_ih, dx, dW_ih)
    column_sums(gf, db)
# --8<-- [end:rnn_reg_seq]


rnn_reg_forward = jit_pair(_rnn_reg_forward)
rnn_reg_backward = jit_pair(_rnn_reg_backward)
