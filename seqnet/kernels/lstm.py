"""LSTM forward and backward kernels (gate order i, f, g, o).

Equations, for a valid step ``t`` of row ``b`` (``t < lengths[b]``)::

    a = W_ih x_t + W_hh h_{t-1} + b          a: [4H], b = b_ih + b_hh
    i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Past a row's length the state is carried unchanged and the output is 0.

Buffers (batch-first, as the layers take them; B rows, T steps, I inputs, H hidden
units)::

    x       [B, T, I]     input
    W_ih    [4H, I]       b [4H] (b_ih + b_hh)
    W_rows  [L]           W_hh.T ([H, 4H]) packed in panels (forward; see _panel)
    W_cols  [L]           W_hh ([4H, H]) packed in panels (backward)
    h0, c0  [B, H]        initial state
    lengths [B] int64     1 <= lengths[b] <= T
    out     [B, T, H]     h_t at valid steps, 0 elsewhere
    hT, cT  [B, H]        state after each row's last valid step
    h_prev  [B, T, H]     state entering step t (kept for backward when keep)
    c_prev  [B, T, H]
    gates   [B, T, 4H]    input projection, then post-activation i, f, g, o
    rec     [n, Bc, 4H]   per-block recurrent products (Bc = ceil(B / n))

``n = n_chunks`` splits the batch rows in blocks (``[k*B//n, (k+1)*B//n)``): rows
never depend on each other, so each block runs the whole time loop on its own
(one ``rows(n)`` loop around it: one parallel region per call), its per-step
product ``h @ W_hh.T`` on packed weights (:mod:`seqnet.kernels._panel`) and then
its gate pass; the backward likewise. A row's sums are made in the same order in
any block, so the block count changes no bit. The whole-sequence products split
their output in ``seq_chunks``: the input projection and dx by rows of B*T, the
weight gradients by rows of the weights (each chunk one GEMM over all B*T rows,
no partial sums); the serial and parallel kernels get the same count, so they
agree bit for bit.

Backward buffers::

    dout    [B, T, H]     dL/d out;   dhT, dcT [B, H]: dL/d hT, dL/d cT
    dG      [B, T, 4H]    the forward's gates in; dL/da, the pre-activation gradients
                          (i, f, g, o blocks), out, written over them in place
    dh0,dc0 [B, H]        carry dL/dh, dL/dc backwards; end as the initial-state grads
    dh_parts [n, Bc, H]   per-block workspace: dG[:, t] W_hh
    dx [B, T, I], dW_ih, dW_hh, db   outputs (dx and dW_ih only when input_grads)

``project=False``: ``gates`` already holds the input projection (index input);
``input_grads=False``: dx and dW_ih are left to the caller.

``reverse`` runs the steps from t = T-1 down to 0; the masks are the same, so the
reverse direction of a row starts at its last valid step.
"""

from numba import njit

from .._config import JIT_OPTIONS, jit_pair
from ._common import (
    backward_step,
    carry_back,
    chunk,
    column_sums,
    forward_step,
    input_projection,
    keep_state,
    prefetch,
    prefetch_units,
    recurrent_product,
    sequence_grads,
)
from ._math import sigmoid, tanh

#: order of the gate blocks in ``W_ih``, ``W_hh`` and the biases.
LSTM_GATES = ("i", "f", "g", "o")


@njit(**JIT_OPTIONS)
def lstm_units_forward(u0, u1, t, lengths, gates, rec_k, b, cT, hT, out):
    """Gate pass of step ``t`` for hidden units ``[u0, u1)`` of every row.

    ``gates [B, T, 4H]`` holds the input projection in and post-activation i, f, g, o
    out (row ``r``'s step ``t`` is ``gates[r, t]``); ``rec_k [B, 4Hc]`` is this chunk's
    recurrent product, gate blocks of width ``Hc`` (``Hc >= u1 - u0``, padded).
    """
    H = cT.shape[1]
    n = u1 - u0
    Hc = rec_k.shape[1] // 4
    b_i, b_f = b[u0:u1], b[H + u0:H + u1]
    b_g, b_o = b[2 * H + u0:2 * H + u1], b[3 * H + u0:3 * H + u1]
    B = gates.shape[0]
    for r in range(B):
        a = gates[r, t]
        if r + 1 < B:
            prefetch_units(gates[r + 1, t], H, u0, u1, 0, 4)
        if t >= lengths[r]:
            for g in range(4):
                a[g * H + u0:g * H + u1] = 0.0
            out[r, t, u0:u1] = 0.0
            continue
        # One 1-D view per gate block, indexed from 0: LLVM vectorises the loop.
        a_i, a_f = a[u0:u1], a[H + u0:H + u1]
        a_g, a_o = a[2 * H + u0:2 * H + u1], a[3 * H + u0:3 * H + u1]
        rc = rec_k[r]
        r_i, r_f, r_g, r_o = rc[:n], rc[Hc:Hc + n], rc[2 * Hc:2 * Hc + n], rc[3 * Hc:3 * Hc + n]
        c_r, h_r, o_r = cT[r, u0:u1], hT[r, u0:u1], out[r, t, u0:u1]
        for j in range(n):
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


@njit(**JIT_OPTIONS)
def lstm_units_backward(u0, u1, t, lengths, gates, c_prev, dout, dh, dc):
    """Backward gate pass of step ``t`` for hidden units ``[u0, u1)`` of every row:
    ``gates[:, t]`` (i, f, g, o) is replaced by dL/da in those units' columns of each
    gate block (each element read before it is written, through the same view, so
    that LLVM's overlap checks let the loop run vectorised); ``dc`` becomes
    dL/dc_{t-1}; ``dh`` (dL/dh_t from step t+1) is read."""
    H = dh.shape[1]
    n = u1 - u0
    one = gates.dtype.type(1.0)
    B = gates.shape[0]
    for r in range(B):
        a = gates[r, t]
        if r + 1 < B:
            prefetch_units(gates[r + 1, t], H, u0, u1, 0, 4)
            prefetch(c_prev[r + 1, t], u0, u1)
            prefetch(dout[r + 1, t], u0, u1)
        if t >= lengths[r]:
            for g in range(4):
                a[g * H + u0:g * H + u1] = 0.0
            continue
        a_i, a_f = a[u0:u1], a[H + u0:H + u1]
        a_g, a_o = a[2 * H + u0:2 * H + u1], a[3 * H + u0:3 * H + u1]
        cp_r, dh_r, dc_r, do_r = c_prev[r, t, u0:u1], dh[r, u0:u1], dc[r, u0:u1], dout[r, t, u0:u1]
        for j in range(n):
            i = a_i[j]
            f = a_f[j]
            g = a_g[j]
            o = a_o[j]
            cp = cp_r[j]
            tc = tanh(f * cp + i * g)
            dh_j = dh_r[j] + do_r[j]
            dc_j = dc_r[j] + dh_j * o * (one - tc * tc)
            a_i[j] = dc_j * g * i * (one - i)
            a_f[j] = dc_j * cp * f * (one - f)
            a_g[j] = dc_j * i * (one - g * g)
            a_o[j] = dh_j * tc * o * (one - o)
            dc_r[j] = dc_j * f


@njit(**JIT_OPTIONS)
def lstm_rows_forward(reverse, keep, lengths, gates, W_rows, W_hh, b, out, hT, cT, h_prev,
                      c_prev, rec):
    """The time loop of a block of rows: every row argument is that block's slice
    (``rec [rows, 4H]`` its workspace). Rows are independent, so a block needs
    nothing from another one at any step."""
    T = gates.shape[1]
    H = hT.shape[1]
    for s in range(T):
        t = forward_step(s, T, reverse)
        if keep:
            keep_state(hT, h_prev, t)
            keep_state(cT, c_prev, t)
        recurrent_product(hT, W_rows, 0, W_hh, True, rec, 0)
        lstm_units_forward(0, H, t, lengths, gates, rec, b, cT, hT, out)


@njit(**JIT_OPTIONS)
def lstm_rows_backward(reverse, lengths, c_prev, dout, W_cols, W_hh, dh, dc, dG, dh_part):
    """The backward time loop of a block of rows (row arguments sliced to the block;
    ``dh_part [rows, H]`` its workspace): dL/dh_t from step t+1's dG, then the gate
    pass of step t (none after the last step). ``dG`` holds the gates and gets
    their gradients."""
    T = dout.shape[1]
    H = dh.shape[1]
    t_next = -1
    for s in range(T + 1):
        t = backward_step(s, T, reverse)
        if t_next >= 0:
            carry_back(dG, t_next, W_cols, W_hh, lengths, dh_part, dh)
        if t >= 0:
            lstm_units_backward(0, H, t, lengths, dG, c_prev, dout, dh, dc)
        t_next = t


def _forward_factory(rows):
    def lstm_seq_forward(x, W_ih, W_rows, W_hh, b, h0, c0, lengths, reverse, keep, project,
                         n_chunks, seq_chunks, seq_parallel, out, hT, cT, h_prev, c_prev,
                         gates, rec):
        B = gates.shape[0]
        if project:
            # the input projection of every step, one product per row chunk.
            input_projection(seq_parallel, x, W_ih, seq_chunks, gates)
        hT[:] = h0
        cT[:] = c0
        # each block of rows runs the whole sequence: one parallel region in all.
        for k in rows(n_chunks):
            r0, r1 = chunk(k, n_chunks, B)
            lstm_rows_forward(reverse, keep, lengths[r0:r1], gates[r0:r1], W_rows, W_hh, b,
                              out[r0:r1], hT[r0:r1], cT[r0:r1], h_prev[r0:r1],
                              c_prev[r0:r1], rec[k, :r1 - r0])

    return lstm_seq_forward


def _backward_factory(rows):
    def lstm_seq_backward(x, W_ih, W_cols, W_hh, lengths, reverse, input_grads, n_chunks,
                          seq_chunks, seq_parallel, h_prev,
                          c_prev, dout, dhT, dcT, dx, dW_ih, dW_hh, db, dh0, dc0, dG,
                          dh_parts):
        # dh0, dc0 carry dL/dh and dL/dc backwards through time and end as the
        # gradients of the initial state. dG[b, t] = dL/da (pre-activations).
        B, T = dout.shape[0], dout.shape[1]
        H = dh0.shape[1]
        dh0[:] = dhT
        dc0[:] = dcT
        for k in rows(n_chunks):
            r0, r1 = chunk(k, n_chunks, B)
            lstm_rows_backward(reverse, lengths[r0:r1], c_prev[r0:r1], dout[r0:r1], W_cols,
                               W_hh, dh0[r0:r1], dc0[r0:r1], dG[r0:r1], dh_parts[k, :r1 - r0])
        sequence_grads(seq_parallel, dG, x, h_prev, W_ih, input_grads, seq_chunks, dx, dW_ih,
                       dW_hh)
        column_sums(dG.reshape(B * T, 4 * H), db)

    return lstm_seq_backward


lstm_seq_forward_serial, lstm_seq_forward_parallel = jit_pair(_forward_factory)
lstm_seq_backward_serial, lstm_seq_backward_parallel = jit_pair(_backward_factory)
