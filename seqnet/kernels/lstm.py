"""LSTM forward and backward kernels (gate order i, f, g, o).

Equations, for a valid step ``t`` of row ``b`` (``t < lengths[b]``)::

    a = W_ih x_t + W_hh h_{t-1} + b          a: [4H], b = b_ih + b_hh
    i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Past a row's length the state is carried unchanged and the output is 0.

Buffers (time-major; T steps, B rows, I inputs, H hidden units)::

    x       [T, B, I]     input
    W_ih    [4H, I]       W_hh [4H, H]      b [4H] (b_ih + b_hh)
    h0, c0  [B, H]        initial state
    lengths [B] int64     1 <= lengths[b] <= T
    out     [T, B, H]     h_t at valid steps, 0 elsewhere
    hT, cT  [B, H]        state after each row's last valid step
    h_prev  [T, B, H]     state entering step t (kept for backward when keep)
    c_prev  [T, B, H]
    gates   [T, B, 4H]    input projection, then post-activation i, f, g, o
    rec     [B, 4H]       workspace: h W_hh^T (forward)

Backward buffers::

    dout    [T, B, H]     dL/d out;   dhT, dcT [B, H]: dL/d hT, dL/d cT
    dG      [T, B, 4H]    dL/da, pre-activation gradients (i, f, g, o blocks)
    dh0,dc0 [B, H]        carry dL/dh, dL/dc backwards; end as the initial-state grads
    rec     [B, H]        workspace: dG[t] W_hh
    dx [T, B, I], dW_ih, dW_hh, db   outputs (dx and dW_ih only when input_grads)

``project=False``: ``gates`` already holds the input projection (index input);
``input_grads=False``: dx and dW_ih are left to the caller.

``reverse`` runs the steps from t = T-1 down to 0; the masks are the same, so the
reverse direction of a row starts at its last valid step.
"""

import numpy as np

from .._config import jit_pair
from ._common import column_sums, sigmoid

#: order of the gate blocks in ``W_ih``, ``W_hh`` and the biases.
LSTM_GATES = ("i", "f", "g", "o")


def _forward_factory(rows):
    def lstm_seq_forward(x, W_ih, W_hh, b, h0, c0, lengths, reverse, keep, project,
                         out, hT, cT, h_prev, c_prev, gates, rec):
        T, B = gates.shape[0], gates.shape[1]
        I = x.shape[2]
        H = h0.shape[1]
        if project:
            np.dot(x.reshape(T * B, I), W_ih.T, gates.reshape(T * B, 4 * H))
        hT[:] = h0
        cT[:] = c0
        for s in range(T):
            t = T - 1 - s if reverse else s
            if keep:
                h_prev[t] = hT
                c_prev[t] = cT
            np.dot(hT, W_hh.T, rec)
            for r in rows(B):
                a = gates[t, r]
                if t < lengths[r]:
                    for j in range(H):
                        i = sigmoid(a[j] + rec[r, j] + b[j])
                        f = sigmoid(a[H + j] + rec[r, H + j] + b[H + j])
                        g = np.tanh(a[2 * H + j] + rec[r, 2 * H + j] + b[2 * H + j])
                        o = sigmoid(a[3 * H + j] + rec[r, 3 * H + j] + b[3 * H + j])
                        c = f * cT[r, j] + i * g
                        h = o * np.tanh(c)
                        a[j] = i
                        a[H + j] = f
                        a[2 * H + j] = g
                        a[3 * H + j] = o
                        cT[r, j] = c
                        hT[r, j] = h
                        out[t, r, j] = h
                else:
                    a[:] = 0.0
                    out[t, r, :] = 0.0

    return lstm_seq_forward


def _backward_factory(rows):
    def lstm_seq_backward(x, W_ih, W_hh, lengths, reverse, input_grads, h_prev, c_prev, gates,
                          dout, dhT, dcT, dx, dW_ih, dW_hh, db, dh0, dc0, dG, rec):
        # dh0, dc0 carry dL/dh and dL/dc backwards through time and end as the
        # gradients of the initial state. dG[t, b] = dL/da (pre-activations).
        T, B = dout.shape[0], dout.shape[1]
        I = x.shape[2]
        H = dh0.shape[1]
        dh0[:] = dhT
        dc0[:] = dcT
        for s in range(T):
            t = s if reverse else T - 1 - s
            for r in rows(B):
                d = dG[t, r]
                if t < lengths[r]:
                    a = gates[t, r]
                    for j in range(H):
                        i = a[j]
                        f = a[H + j]
                        g = a[2 * H + j]
                        o = a[3 * H + j]
                        cp = c_prev[t, r, j]
                        tc = np.tanh(f * cp + i * g)
                        dh = dh0[r, j] + dout[t, r, j]
                        dc = dc0[r, j] + dh * o * (1.0 - tc * tc)
                        d[j] = dc * g * i * (1.0 - i)
                        d[H + j] = dc * cp * f * (1.0 - f)
                        d[2 * H + j] = dc * i * (1.0 - g * g)
                        d[3 * H + j] = dh * tc * o * (1.0 - o)
                        dc0[r, j] = dc * f
                else:
                    d[:] = 0.0
            np.dot(dG[t], W_hh, rec)
            for r in rows(B):
                if t < lengths[r]:
                    dh0[r] = rec[r]
        dGf = dG.reshape(T * B, 4 * H)
        if input_grads:
            np.dot(dGf, W_ih, dx.reshape(T * B, I))
            np.dot(dGf.T, x.reshape(T * B, I), dW_ih)
        np.dot(dGf.T, h_prev.reshape(T * B, H), dW_hh)
        column_sums(dGf, db)

    return lstm_seq_backward


lstm_seq_forward_serial, lstm_seq_forward_parallel = jit_pair(_forward_factory)
lstm_seq_backward_serial, lstm_seq_backward_parallel = jit_pair(_backward_factory)
