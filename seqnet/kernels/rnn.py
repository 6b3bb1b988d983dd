"""Vanilla (Elman) RNN forward and backward kernels, tanh or ReLU.

Equations, for a valid step ``t`` of row ``b`` (``t < lengths[b]``)::

    h_t = act(W_ih x_t + W_hh h_{t-1} + b)     b = b_ih + b_hh
    act = tanh  (relu=False)  or  max(0, .)  (relu=True)

Past a row's length the state is carried unchanged and the output is 0.

Buffers (batch-first, as the layers take them; B rows, T steps, I inputs, H hidden
units)::

    x        [B, T, I]     input
    W_ih     [H, I]        b [H] (b_ih + b_hh)
    W_rows   [L]           W_hh.T packed in panels (forward; see _panel)
    W_cols   [L]           W_hh packed in panels (backward)
    h0       [B, H]        initial state
    lengths  [B] int64     1 <= lengths[b] <= T
    out      [B, T, H]     h_t at valid steps, 0 elsewhere (kept for backward)
    hT       [B, H]        state after each row's last valid step
    h_prev   [B, T, H]     state entering step t (kept when keep)
    gates    [B, T, H]     input projection (filled by the caller when not project)
    rec      [n, Bc, H]    per-block recurrent products

``n = n_chunks`` splits the batch rows in blocks as in :mod:`seqnet.kernels.lstm`.

Backward buffers::

    dout     [B, T, H]     dL/d out;   dhT [B, H]: dL/d hT
    dG       [B, T, H]     the forward's outputs h_t in; dL/da, the pre-activation
                           gradient, out, in place
    dh0      [B, H]        carries dL/dh backwards; ends as dL/dh0
    dh_parts [n, Bc, H]    per-block workspace: dG[:, t] W_hh
    dx [B, T, I], dW_ih, dW_hh, db   outputs (dx and dW_ih only when input_grads)

``project=False``: ``gates`` already holds the input projection (index input);
``input_grads=False``: dx and dW_ih are left to the caller.
"""

from numba import njit

from .._config import JIT_OPTIONS, jit_pair
from ._common import (
    add_initial_state_grad,
    add_parts,
    add_weight_grad,
    backward_step,
    carry_back,
    chunk,
    column_sums,
    first_steps,
    forward_step,
    input_grads_of,
    input_projection,
    prefetch,
    recurrent_product,
)
from ._math import tanh


@njit(**JIT_OPTIONS)
def rnn_units_forward(u0, u1, t, lengths, relu, rec_k, b, hT, out):
    """Step ``t`` for hidden units ``[u0, u1)`` of every row: ``out[:, t]`` holds the
    input projection and gets ``h = act(out[:, t] + rec_k + b)`` (read and written
    through one view, so that the loop runs vectorised); ``rec_k [B, Hc]`` is this
    chunk's recurrent product (``Hc >= u1 - u0``)."""
    n = u1 - u0
    zero = hT.dtype.type(0.0)
    b_k = b[u0:u1]
    B = out.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch(out[r + 1, t], u0, u1)
        o_r = out[r, t, u0:u1]
        if t >= lengths[r]:
            o_r[:] = 0.0
            continue
        rc, h_r = rec_k[r, :n], hT[r, u0:u1]
        if relu:
            for j in range(n):
                z = o_r[j] + rc[j] + b_k[j]
                # max(z, 0) with NaN kept: a NaN pre-activation stays NaN.
                h = z if (z > zero or z != z) else zero
                h_r[j] = h
                o_r[j] = h
        else:
            for j in range(n):
                h = tanh(o_r[j] + rc[j] + b_k[j])
                h_r[j] = h
                o_r[j] = h


@njit(**JIT_OPTIONS)
def rnn_units_backward(u0, u1, t, lengths, relu, out, dout, dh):
    """Backward of step ``t`` for hidden units ``[u0, u1)``: ``out[:, t]`` (h_t) is
    replaced by dL/da (each element read before it is written, through the same
    view, so that the loop runs vectorised)."""
    n = u1 - u0
    one = dh.dtype.type(1.0)
    zero = dh.dtype.type(0.0)
    B = out.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch(out[r + 1, t], u0, u1)
            prefetch(dout[r + 1, t], u0, u1)
        d = out[r, t, u0:u1]
        if t >= lengths[r]:
            d[:] = 0.0
            continue
        do_r, dh_r = dout[r, t, u0:u1], dh[r, u0:u1]
        if relu:
            for j in range(n):
                d[j] = dh_r[j] + do_r[j] if d[j] > zero else zero
        else:
            for j in range(n):
                h = d[j]
                d[j] = (dh_r[j] + do_r[j]) * (one - h * h)


@njit(**JIT_OPTIONS)
def rnn_rows_forward(reverse, relu, lengths, W_rows, W_hh, b, out, hT, rec):
    """The time loop of a block of rows (every row argument that block's slice;
    ``rec [rows, H]`` its workspace)."""
    T = out.shape[1]
    H = hT.shape[1]
    for s in range(T):
        t = forward_step(s, T, reverse)
        recurrent_product(hT, W_rows, 0, W_hh, True, rec, 0)
        rnn_units_forward(0, H, t, lengths, relu, rec, b, hT, out)


@njit(**JIT_OPTIONS)
def rnn_rows_backward(reverse, relu, lengths, dout, W_cols, W_hh, h0, dh, dG, dh_part, dW):
    """The backward time loop of a block of rows (``dh_part [rows, H]`` workspace).

    ``dG`` holds the outputs h_t and gets dL/da, step by step. Before step ``t``'s
    h_t is overwritten, it serves as the input state of the step handled just
    before (``t + 1``, or ``t - 1`` when ``reverse``): ``dW = sum dG^T h_prev`` is
    summed here, one step at a time, into this block's ``dW`` (zeroed here). The
    state each row starts from, ``h0``, is added last. A row's step past its length
    has ``dG = 0`` and an output 0, so it adds nothing."""
    T = dout.shape[1]
    H = dh.shape[1]
    dW[:, :] = 0.0
    t_next = -1
    for s in range(T + 1):
        t = backward_step(s, T, reverse)
        if t_next >= 0:
            carry_back(dG, t_next, W_cols, W_hh, lengths, dh_part, dh)
            if t >= 0:
                add_weight_grad(dG[:, t_next], dG[:, t], dW)
        if t >= 0:
            rnn_units_backward(0, H, t, lengths, relu, dG, dout, dh)
        t_next = t
    add_initial_state_grad(dG, first_steps(lengths, reverse), h0, dh_part, dW)


def _forward_factory(rows):
    def rnn_seq_forward(x, W_ih, W_rows, W_hh, b, h0, lengths, reverse, relu, project,
                        n_chunks, seq_chunks, seq_parallel, out, hT, rec):
        B = out.shape[0]
        if project:
            input_projection(seq_parallel, x, W_ih, seq_chunks, out)
        hT[:] = h0
        for k in rows(n_chunks):
            r0, r1 = chunk(k, n_chunks, B)
            rnn_rows_forward(reverse, relu, lengths[r0:r1], W_rows, W_hh, b, out[r0:r1],
                             hT[r0:r1], rec[k, :r1 - r0])

    return rnn_seq_forward


def _backward_factory(rows):
    def rnn_seq_backward(x, W_ih, W_cols, W_hh, h0, lengths, reverse, relu, input_grads,
                         n_chunks, seq_chunks, seq_parallel,
                         dout, dhT, dx, dW_ih, dW_hh, dW_parts, db, dh0, dG, dh_parts):
        # dh0 carries dL/dh backwards and ends as the initial-state gradient;
        # dG[b, t] = dL/da, the pre-activation gradient. Block 0 sums its dW_hh
        # into dW_hh, block k > 0 into dW_parts[k - 1].
        B, T = dout.shape[0], dout.shape[1]
        H = dh0.shape[1]
        dh0[:] = dhT
        for k in rows(n_chunks):
            r0, r1 = chunk(k, n_chunks, B)
            part = dW_hh if k == 0 else dW_parts[k - 1]
            rnn_rows_backward(reverse, relu, lengths[r0:r1], dout[r0:r1], W_cols, W_hh,
                              h0[r0:r1], dh0[r0:r1], dG[r0:r1], dh_parts[k, :r1 - r0], part)
        add_parts(dW_hh, dW_parts)
        gf = dG.reshape(B * T, H)
        if input_grads:
            input_grads_of(seq_parallel, gf, x, W_ih, seq_chunks, dx, dW_ih)
        column_sums(gf, db)

    return rnn_seq_backward


rnn_seq_forward_serial, rnn_seq_forward_parallel = jit_pair(_forward_factory)
rnn_seq_backward_serial, rnn_seq_backward_parallel = jit_pair(_backward_factory)
