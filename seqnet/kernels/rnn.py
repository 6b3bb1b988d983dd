"""Vanilla (Elman) RNN forward and backward kernels, tanh or ReLU.

Equations, for a valid step ``t`` of row ``b`` (``t < lengths[b]``)::

    h_t = act(W_ih x_t + W_hh h_{t-1} + b)     b = b_ih + b_hh
    act = tanh  (relu=False)  or  max(0, .)  (relu=True)

Past a row's length the state is carried unchanged and the output is 0.

Buffers (time-major; T steps, B rows, I inputs, H hidden units)::

    x        [T, B, I]     input
    W_ih     [H, I]        W_hh [H, H]      b [H]
    h0       [B, H]        initial state
    lengths  [B] int64     1 <= lengths[b] <= T
    out      [T, B, H]     h_t at valid steps, 0 elsewhere (kept for backward)
    hT       [B, H]        state after each row's last valid step
    h_prev   [T, B, H]     state entering step t (kept when keep)
    gates    [T, B, H]     input projection (filled by the caller when not project)
    rec      [B, H]        workspace: h W_hh^T (forward), dG[t] W_hh (backward)

Backward buffers::

    dout     [T, B, H]     dL/d out;   dhT [B, H]: dL/d hT
    dG       [T, B, H]     dL/da, the pre-activation gradient
    dh0      [B, H]        carries dL/dh backwards; ends as dL/dh0
    dx [T, B, I], dW_ih, dW_hh, db   outputs (dx and dW_ih only when input_grads)

``project=False``: ``gates`` already holds the input projection (index input);
``input_grads=False``: dx and dW_ih are left to the caller.
"""

import numpy as np

from .._config import jit_pair
from ._common import column_sums


def _forward_factory(rows):
    def rnn_seq_forward(x, W_ih, W_hh, b, h0, lengths, reverse, relu, keep, project,
                        out, hT, h_prev, gates, rec):
        T, B = gates.shape[0], gates.shape[1]
        I = x.shape[2]
        H = h0.shape[1]
        if project:
            np.dot(x.reshape(T * B, I), W_ih.T, gates.reshape(T * B, H))
        hT[:] = h0
        for s in range(T):
            t = T - 1 - s if reverse else s
            if keep:
                h_prev[t] = hT
            np.dot(hT, W_hh.T, rec)
            for r in rows(B):
                if t < lengths[r]:
                    for j in range(H):
                        a = gates[t, r, j] + rec[r, j] + b[j]
                        if relu:
                            # max(a, 0), NaN kept: a NaN pre-activation stays NaN.
                            h = a if (a > 0.0 or a != a) else 0.0
                        else:
                            h = np.tanh(a)
                        hT[r, j] = h
                        out[t, r, j] = h
                else:
                    out[t, r, :] = 0.0

    return rnn_seq_forward


def _backward_factory(rows):
    def rnn_seq_backward(x, W_ih, W_hh, lengths, reverse, relu, input_grads, h_prev, out, dout,
                         dhT, dx, dW_ih, dW_hh, db, dh0, dG, rec):
        # dh0 carries dL/dh backwards and ends as the initial-state gradient;
        # dG[t, b] = dL/da, the pre-activation gradient.
        T, B = dout.shape[0], dout.shape[1]
        I = x.shape[2]
        H = dh0.shape[1]
        dh0[:] = dhT
        for s in range(T):
            t = s if reverse else T - 1 - s
            for r in rows(B):
                if t < lengths[r]:
                    for j in range(H):
                        h = out[t, r, j]
                        dh = dh0[r, j] + dout[t, r, j]
                        if relu:
                            dG[t, r, j] = dh if h > 0.0 else 0.0
                        else:
                            dG[t, r, j] = dh * (1.0 - h * h)
                else:
                    dG[t, r, :] = 0.0
            np.dot(dG[t], W_hh, rec)
            for r in rows(B):
                if t < lengths[r]:
                    dh0[r] = rec[r]
        dGf = dG.reshape(T * B, H)
        if input_grads:
            np.dot(dGf, W_ih, dx.reshape(T * B, I))
            np.dot(dGf.T, x.reshape(T * B, I), dW_ih)
        np.dot(dGf.T, h_prev.reshape(T * B, H), dW_hh)
        column_sums(dGf, db)

    return rnn_seq_backward


rnn_seq_forward_serial, rnn_seq_forward_parallel = jit_pair(_forward_factory)
rnn_seq_backward_serial, rnn_seq_backward_parallel = jit_pair(_backward_factory)
