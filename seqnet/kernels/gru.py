"""GRU forward and backward kernels (gate order r, z, n), both reset forms.

Equations, for a valid step ``t`` of row ``b`` (``t < lengths[b]``)::

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    reset_after=True  (cuDNN/PyTorch):  n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    reset_after=False (original):       n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)
    h_t = (1 - z) * n + z * h_{t-1}

Past a row's length the state is carried unchanged and the output is 0.

Buffers (time-major; T steps, B rows, I inputs, H hidden units)::

    x        [T, B, I]      input
    W_ih     [3H, I]        W_hh [3H, H]; W_hrz = W_hh[:2H], W_hn = W_hh[2H:]
    b_ih     [3H]           b_hh [3H]
    h0       [B, H]         initial state
    lengths  [B] int64      1 <= lengths[b] <= T
    out      [T, B, H]      h_t at valid steps, 0 elsewhere
    hT       [B, H]         state after each row's last valid step
    h_prev   [T, B, H]      state entering step t (kept when keep)
    gates    [T, B, 3H]     input projection, then post-activation r, z, n
    hn       [T, B, H]      reset_after: W_hn h + b_hn;  reset_before: r * h
    rec      [B, 3H]        workspace: h W_hh^T (reset_after)
    rec_rz   [B, 2H]        workspace: h W_hrz^T (reset_before)
    rec_n    [B, H]         workspace: (r * h) W_hn^T (reset_before)

Backward buffers::

    dout     [T, B, H]      dL/d out;   dhT [B, H]: dL/d hT
    dGi      [T, B, 3H]     dL/d(input-side pre-activations) [dar, daz, dan]
    dGh      [T, B, 3H]     dL/d(hidden-side pre-activations): [dar, daz, dan * r]
                            (reset_after) or [dar, daz, dan] (reset_before)
    dn       [T, B, H]      dan, contiguous (reset_before)
    dht      [B, H]         dL/dh_t at the current step (reset_before)
    drh      [B, H]         workspace: dGh[t] W_hh, or dn[t] W_hn then [dar, daz] W_hrz
    rec      [B, 2H]        workspace: [dar, daz] copied contiguous (reset_before)
    dh0      [B, H]         carries dL/dh backwards; ends as dL/dh0
    dx [T, B, I], dW_ih, dW_hh, db_ih, db_hh   outputs (dx, dW_ih only when input_grads)
    dW_hn    [H, H]         MUST be the view dW_hh[2H:]: with reset_before the n rows of
                            dW_hh are overwritten through it after the full product.

``project=False``: ``gates`` already holds the input projection (index input);
``input_grads=False``: dx and dW_ih are left to the caller.
"""

import numpy as np

from .._config import jit_pair
from ._common import column_sums, sigmoid

#: order of the gate blocks in ``W_ih``, ``W_hh`` and the biases.
GRU_GATES = ("r", "z", "n")


def _forward_factory(rows):
    def gru_seq_forward(x, W_ih, W_hh, W_hrz, W_hn, b_ih, b_hh, h0, lengths, reverse,
                        reset_after, keep, project, out, hT, h_prev, gates, hn, rec, rec_rz,
                        rec_n):
        T, B = gates.shape[0], gates.shape[1]
        I = x.shape[2]
        H = h0.shape[1]
        if project:
            np.dot(x.reshape(T * B, I), W_ih.T, gates.reshape(T * B, 3 * H))
        hT[:] = h0
        for s in range(T):
            t = T - 1 - s if reverse else s
            if keep:
                h_prev[t] = hT
            if reset_after:
                np.dot(hT, W_hh.T, rec)
                for r in rows(B):
                    a = gates[t, r]
                    if t < lengths[r]:
                        for j in range(H):
                            rg = sigmoid(a[j] + b_ih[j] + rec[r, j] + b_hh[j])
                            zg = sigmoid(a[H + j] + b_ih[H + j] + rec[r, H + j]
                                         + b_hh[H + j])
                            hnj = rec[r, 2 * H + j] + b_hh[2 * H + j]
                            ng = np.tanh(a[2 * H + j] + b_ih[2 * H + j] + rg * hnj)
                            h = (1.0 - zg) * ng + zg * hT[r, j]
                            a[j] = rg
                            a[H + j] = zg
                            a[2 * H + j] = ng
                            hn[t, r, j] = hnj
                            hT[r, j] = h
                            out[t, r, j] = h
                    else:
                        a[:] = 0.0
                        hn[t, r, :] = 0.0
                        out[t, r, :] = 0.0
            else:
                np.dot(hT, W_hrz.T, rec_rz)
                for r in rows(B):
                    a = gates[t, r]
                    if t < lengths[r]:
                        for j in range(H):
                            rg = sigmoid(a[j] + b_ih[j] + rec_rz[r, j] + b_hh[j])
                            a[j] = rg
                            a[H + j] = sigmoid(a[H + j] + b_ih[H + j] + rec_rz[r, H + j]
                                               + b_hh[H + j])
                            hn[t, r, j] = rg * hT[r, j]
                    else:
                        hn[t, r, :] = 0.0
                np.dot(hn[t], W_hn.T, rec_n)
                for r in rows(B):
                    a = gates[t, r]
                    if t < lengths[r]:
                        for j in range(H):
                            zg = a[H + j]
                            ng = np.tanh(a[2 * H + j] + b_ih[2 * H + j] + rec_n[r, j]
                                         + b_hh[2 * H + j])
                            h = (1.0 - zg) * ng + zg * hT[r, j]
                            a[2 * H + j] = ng
                            hT[r, j] = h
                            out[t, r, j] = h
                    else:
                        a[:] = 0.0
                        out[t, r, :] = 0.0

    return gru_seq_forward


def _backward_factory(rows):
    def gru_seq_backward(x, W_ih, W_hh, W_hrz, W_hn, lengths, reverse, reset_after,
                         input_grads,
                         h_prev, gates, hn, dout, dhT, dx, dW_ih, dW_hh, dW_hn, db_ih,
                         db_hh, dh0, dGi, dGh, dn, dht, drh, rec):
        # dh0 carries dL/dh backwards through time and ends as the initial-state
        # gradient. dGi = dL/d(input-side pre-activations), dGh = dL/d(hidden-side
        # pre-activations): [dar, daz, dL/d(W_hn h + b_hn)] (reset_after) or
        # [dar, daz, dan] (reset_before, where dn = dan is kept contiguous too).
        T, B = dout.shape[0], dout.shape[1]
        I = x.shape[2]
        H = dh0.shape[1]
        dh0[:] = dhT
        for s in range(T):
            t = s if reverse else T - 1 - s
            if reset_after:
                for r in rows(B):
                    di = dGi[t, r]
                    dg = dGh[t, r]
                    if t < lengths[r]:
                        a = gates[t, r]
                        for j in range(H):
                            rg = a[j]
                            zg = a[H + j]
                            ng = a[2 * H + j]
                            hp = h_prev[t, r, j]
                            dh = dh0[r, j] + dout[t, r, j]
                            dan = dh * (1.0 - zg) * (1.0 - ng * ng)
                            dar = dan * hn[t, r, j] * rg * (1.0 - rg)
                            daz = dh * (hp - ng) * zg * (1.0 - zg)
                            di[j] = dar
                            di[H + j] = daz
                            di[2 * H + j] = dan
                            dg[j] = dar
                            dg[H + j] = daz
                            dg[2 * H + j] = dan * rg
                            dh0[r, j] = dh * zg
                    else:
                        di[:] = 0.0
                        dg[:] = 0.0
                np.dot(dGh[t], W_hh, drh)
                for r in rows(B):
                    if t < lengths[r]:
                        for j in range(H):
                            dh0[r, j] += drh[r, j]
            else:
                for r in rows(B):
                    if t < lengths[r]:
                        a = gates[t, r]
                        for j in range(H):
                            zg = a[H + j]
                            ng = a[2 * H + j]
                            dh = dh0[r, j] + dout[t, r, j]
                            dht[r, j] = dh
                            dn[t, r, j] = dh * (1.0 - zg) * (1.0 - ng * ng)
                    else:
                        dn[t, r, :] = 0.0
                np.dot(dn[t], W_hn, drh)
                for r in rows(B):
                    di = dGi[t, r]
                    dg = dGh[t, r]
                    if t < lengths[r]:
                        a = gates[t, r]
                        for j in range(H):
                            rg = a[j]
                            zg = a[H + j]
                            ng = a[2 * H + j]
                            hp = h_prev[t, r, j]
                            dh = dht[r, j]
                            dar = drh[r, j] * hp * rg * (1.0 - rg)
                            daz = dh * (hp - ng) * zg * (1.0 - zg)
                            dan = dn[t, r, j]
                            di[j] = dar
                            di[H + j] = daz
                            di[2 * H + j] = dan
                            dg[j] = dar
                            dg[H + j] = daz
                            dg[2 * H + j] = dan
                            dh0[r, j] = dh * zg + drh[r, j] * rg
                    else:
                        di[:] = 0.0
                        dg[:] = 0.0
                # dL/dh_{t-1} through r and z: [dar, daz] W_hrz, copied contiguous.
                for r in rows(B):
                    for k in range(2 * H):
                        rec[r, k] = dGh[t, r, k]
                np.dot(rec, W_hrz, drh)
                for r in rows(B):
                    if t < lengths[r]:
                        for j in range(H):
                            dh0[r, j] += drh[r, j]
        dGif = dGi.reshape(T * B, 3 * H)
        dGhf = dGh.reshape(T * B, 3 * H)
        if input_grads:
            np.dot(dGif, W_ih, dx.reshape(T * B, I))
            np.dot(dGif.T, x.reshape(T * B, I), dW_ih)
        np.dot(dGhf.T, h_prev.reshape(T * B, H), dW_hh)
        if not reset_after:
            # the n rows see r * h, not h: replace them.
            np.dot(dn.reshape(T * B, H).T, hn.reshape(T * B, H), dW_hn)
        column_sums(dGif, db_ih)
        column_sums(dGhf, db_hh)

    return gru_seq_backward


gru_seq_forward_serial, gru_seq_forward_parallel = jit_pair(_forward_factory)
gru_seq_backward_serial, gru_seq_backward_parallel = jit_pair(_backward_factory)
