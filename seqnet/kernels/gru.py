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

``n_chunks``: row chunks, the thread count for both kernels (the serial one runs them
in turn); ``parts_ih, parts_hh, parts_hn`` ``[n_chunks, ...]``: per-chunk weight
gradients, added in chunk order.

``project=False``: ``gates`` already holds the input projection (index input);
``input_grads=False``: dx and dW_ih are left to the caller.
"""

import numpy as np
from numba import njit

from .._config import JIT_OPTIONS, jit_pair
from ._common import add_valid_rows, chunk, column_sums, sum_parts
from ._math import sigmoid, tanh

#: order of the gate blocks in ``W_ih``, ``W_hh`` and the biases.
GRU_GATES = ("r", "z", "n")


@njit(**JIT_OPTIONS)
def gru_rows_forward_after(r0, r1, t, lengths, gates_t, rec, b_ih, b_hh, hT, hn_t, out_t):
    """reset_after gate pass of step ``t`` for rows ``[r0, r1)`` (``rec = h W_hh^T``)."""
    H = hT.shape[1]
    one = hT.dtype.type(1.0)
    bi_r, bi_z, bi_n = b_ih[:H], b_ih[H:2 * H], b_ih[2 * H:]
    bh_r, bh_z, bh_n = b_hh[:H], b_hh[H:2 * H], b_hh[2 * H:]
    for r in range(r0, r1):
        a = gates_t[r]
        if t >= lengths[r]:
            a[:] = 0.0
            hn_t[r] = 0.0
            out_t[r] = 0.0
            continue
        a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
        rc = rec[r]
        rc_r, rc_z, rc_n = rc[:H], rc[H:2 * H], rc[2 * H:]
        h_r, hn_r, o_r = hT[r], hn_t[r], out_t[r]
        for j in range(H):
            rg = sigmoid(a_r[j] + bi_r[j] + rc_r[j] + bh_r[j])
            zg = sigmoid(a_z[j] + bi_z[j] + rc_z[j] + bh_z[j])
            hn = rc_n[j] + bh_n[j]
            ng = tanh(a_n[j] + bi_n[j] + rg * hn)
            h = (one - zg) * ng + zg * h_r[j]
            a_r[j] = rg
            a_z[j] = zg
            a_n[j] = ng
            hn_r[j] = hn
            h_r[j] = h
            o_r[j] = h


@njit(**JIT_OPTIONS)
def gru_rows_rz_before(r0, r1, t, lengths, gates_t, rec_rz, b_ih, b_hh, hT, hn_t):
    """reset_before, first half of step ``t``: r and z, and ``hn_t = r * h``."""
    H = hT.shape[1]
    bi_r, bi_z = b_ih[:H], b_ih[H:2 * H]
    bh_r, bh_z = b_hh[:H], b_hh[H:2 * H]
    for r in range(r0, r1):
        if t >= lengths[r]:
            hn_t[r] = 0.0
            continue
        a = gates_t[r]
        a_r, a_z = a[:H], a[H:2 * H]
        rc = rec_rz[r]
        rc_r, rc_z = rc[:H], rc[H:2 * H]
        h_r, hn_r = hT[r], hn_t[r]
        for j in range(H):
            rg = sigmoid(a_r[j] + bi_r[j] + rc_r[j] + bh_r[j])
            a_r[j] = rg
            a_z[j] = sigmoid(a_z[j] + bi_z[j] + rc_z[j] + bh_z[j])
            hn_r[j] = rg * h_r[j]


@njit(**JIT_OPTIONS)
def gru_rows_n_before(r0, r1, t, lengths, gates_t, rec_n, b_ih, b_hh, hT, out_t):
    """reset_before, second half of step ``t``: n and h (``rec_n = (r h) W_hn^T``)."""
    H = hT.shape[1]
    one = hT.dtype.type(1.0)
    bi_n, bh_n = b_ih[2 * H:], b_hh[2 * H:]
    for r in range(r0, r1):
        a = gates_t[r]
        if t >= lengths[r]:
            a[:] = 0.0
            out_t[r] = 0.0
            continue
        a_z, a_n = a[H:2 * H], a[2 * H:]
        rc, h_r, o_r = rec_n[r], hT[r], out_t[r]
        for j in range(H):
            zg = a_z[j]
            ng = tanh(a_n[j] + bi_n[j] + rc[j] + bh_n[j])
            h = (one - zg) * ng + zg * h_r[j]
            a_n[j] = ng
            h_r[j] = h
            o_r[j] = h


@njit(**JIT_OPTIONS)
def gru_rows_backward_after(r0, r1, t, lengths, gates_t, h_prev_t, hn_t, dout_t, dh, dGi_t,
                            dGh_t):
    """reset_after backward gate pass of step ``t``; ``dh`` becomes ``dL/dh_t * z``
    (the recurrent product is added after)."""
    H = dh.shape[1]
    one = dh.dtype.type(1.0)
    for r in range(r0, r1):
        di, dg = dGi_t[r], dGh_t[r]
        if t >= lengths[r]:
            di[:] = 0.0
            dg[:] = 0.0
            continue
        a = gates_t[r]
        a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
        di_r, di_z, di_n = di[:H], di[H:2 * H], di[2 * H:]
        dg_r, dg_z, dg_n = dg[:H], dg[H:2 * H], dg[2 * H:]
        hp_r, hn_r, do_r, dh_r = h_prev_t[r], hn_t[r], dout_t[r], dh[r]
        for j in range(H):
            rg = a_r[j]
            zg = a_z[j]
            ng = a_n[j]
            hp = hp_r[j]
            dh_j = dh_r[j] + do_r[j]
            dan = dh_j * (one - zg) * (one - ng * ng)
            dar = dan * hn_r[j] * rg * (one - rg)
            daz = dh_j * (hp - ng) * zg * (one - zg)
            di_r[j] = dar
            di_z[j] = daz
            di_n[j] = dan
            dg_r[j] = dar
            dg_z[j] = daz
            dg_n[j] = dan * rg
            dh_r[j] = dh_j * zg


@njit(**JIT_OPTIONS)
def gru_rows_dn_before(r0, r1, t, lengths, gates_t, dout_t, dh, dht, dn_t):
    """reset_before backward, first half: ``dht = dL/dh_t`` and ``dn_t = dL/da_n``."""
    H = dh.shape[1]
    one = dh.dtype.type(1.0)
    for r in range(r0, r1):
        if t >= lengths[r]:
            dn_t[r] = 0.0
            continue
        a = gates_t[r]
        a_z, a_n = a[H:2 * H], a[2 * H:]
        dh_r, do_r, dht_r, dn_r = dh[r], dout_t[r], dht[r], dn_t[r]
        for j in range(H):
            zg = a_z[j]
            ng = a_n[j]
            dh_j = dh_r[j] + do_r[j]
            dht_r[j] = dh_j
            dn_r[j] = dh_j * (one - zg) * (one - ng * ng)


@njit(**JIT_OPTIONS)
def gru_rows_rz_backward_before(r0, r1, t, lengths, gates_t, h_prev_t, dht, drh, dn_t, dh,
                                dGi_t, dGh_t, drz):
    """reset_before backward, second half (``drh = dn_t W_hn``, the gradient of r*h):
    dar, daz into dGi/dGh and ``drz`` (contiguous), ``dh = dht z + drh r``."""
    H = dh.shape[1]
    one = dh.dtype.type(1.0)
    for r in range(r0, r1):
        di, dg, dz = dGi_t[r], dGh_t[r], drz[r]
        if t >= lengths[r]:
            di[:] = 0.0
            dg[:] = 0.0
            dz[:] = 0.0
            continue
        a = gates_t[r]
        a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
        di_r, di_z, di_n = di[:H], di[H:2 * H], di[2 * H:]
        dg_r, dg_z, dg_n = dg[:H], dg[H:2 * H], dg[2 * H:]
        dz_r, dz_z = dz[:H], dz[H:2 * H]
        hp_r, dht_r, drh_r, dn_r, dh_r = h_prev_t[r], dht[r], drh[r], dn_t[r], dh[r]
        for j in range(H):
            rg = a_r[j]
            zg = a_z[j]
            ng = a_n[j]
            hp = hp_r[j]
            dh_j = dht_r[j]
            dar = drh_r[j] * hp * rg * (one - rg)
            daz = dh_j * (hp - ng) * zg * (one - zg)
            dan = dn_r[j]
            di_r[j] = dar
            di_z[j] = daz
            di_n[j] = dan
            dg_r[j] = dar
            dg_z[j] = daz
            dg_n[j] = dan
            dz_r[j] = dar
            dz_z[j] = daz
            dh_r[j] = dh_j * zg + drh_r[j] * rg


def _forward_factory(rows):
    def gru_seq_forward(x, W_ih, W_hh, W_hrz, W_hn, b_ih, b_hh, h0, lengths, reverse,
                        reset_after, keep, project, n_chunks, out, hT, h_prev, gates, hn, rec,
                        rec_rz, rec_n):
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
                for k in rows(n_chunks):
                    r0, r1 = chunk(k, n_chunks, B)
                    gru_rows_forward_after(r0, r1, t, lengths, gates[t], rec, b_ih, b_hh, hT,
                                           hn[t], out[t])
            else:
                np.dot(hT, W_hrz.T, rec_rz)
                for k in rows(n_chunks):
                    r0, r1 = chunk(k, n_chunks, B)
                    gru_rows_rz_before(r0, r1, t, lengths, gates[t], rec_rz, b_ih, b_hh, hT,
                                       hn[t])
                np.dot(hn[t], W_hn.T, rec_n)
                for k in rows(n_chunks):
                    r0, r1 = chunk(k, n_chunks, B)
                    gru_rows_n_before(r0, r1, t, lengths, gates[t], rec_n, b_ih, b_hh, hT,
                                      out[t])

    return gru_seq_forward


def _backward_factory(rows):
    def gru_seq_backward(x, W_ih, W_hh, W_hrz, W_hn, lengths, reverse, reset_after,
                         input_grads, n_chunks, h_prev, gates, hn, dout, dhT, dx, dW_ih, dW_hh,
                         dW_hn, db_ih, db_hh, dh0, dGi, dGh, dn, dht, drh, rec, parts_ih,
                         parts_hh, parts_hn):
        # dh0 carries dL/dh backwards through time and ends as the initial-state
        # gradient (see the module docstring for dGi, dGh, dn).
        T, B = dout.shape[0], dout.shape[1]
        I = x.shape[2]
        H = dh0.shape[1]
        dh0[:] = dhT
        for s in range(T):
            t = s if reverse else T - 1 - s
            if reset_after:
                for k in rows(n_chunks):
                    r0, r1 = chunk(k, n_chunks, B)
                    gru_rows_backward_after(r0, r1, t, lengths, gates[t], h_prev[t], hn[t],
                                            dout[t], dh0, dGi[t], dGh[t])
                np.dot(dGh[t], W_hh, drh)
                add_valid_rows(t, lengths, drh, dh0)
            else:
                for k in rows(n_chunks):
                    r0, r1 = chunk(k, n_chunks, B)
                    gru_rows_dn_before(r0, r1, t, lengths, gates[t], dout[t], dh0, dht, dn[t])
                np.dot(dn[t], W_hn, drh)
                for k in rows(n_chunks):
                    r0, r1 = chunk(k, n_chunks, B)
                    gru_rows_rz_backward_before(r0, r1, t, lengths, gates[t], h_prev[t], dht,
                                                drh, dn[t], dh0, dGi[t], dGh[t], rec)
                # dL/dh_{t-1} through r and z: [dar, daz] W_hrz.
                np.dot(rec, W_hrz, drh)
                add_valid_rows(t, lengths, drh, dh0)
        N = T * B
        dGif = dGi.reshape(N, 3 * H)
        dGhf = dGh.reshape(N, 3 * H)
        xf = x.reshape(N, I)
        hpf = h_prev.reshape(N, H)
        dnf = dn.reshape(N, H)
        hnf = hn.reshape(N, H)
        dxf = dx.reshape(N, I)
        for k in rows(n_chunks):
            n0, n1 = chunk(k, n_chunks, N)
            if input_grads:
                np.dot(dGif[n0:n1], W_ih, dxf[n0:n1])
                np.dot(dGif[n0:n1].T, xf[n0:n1], parts_ih[k])
            np.dot(dGhf[n0:n1].T, hpf[n0:n1], parts_hh[k])
            if not reset_after:
                np.dot(dnf[n0:n1].T, hnf[n0:n1], parts_hn[k])
        if input_grads:
            sum_parts(parts_ih, n_chunks, dW_ih)
        sum_parts(parts_hh, n_chunks, dW_hh)
        if not reset_after:
            # the n rows see r * h, not h: replace them (dW_hn is dW_hh[2H:]).
            sum_parts(parts_hn, n_chunks, dW_hn)
        column_sums(dGif, db_ih)
        column_sums(dGhf, db_hh)

    return gru_seq_backward


gru_seq_forward_serial, gru_seq_forward_parallel = jit_pair(_forward_factory)
gru_seq_backward_serial, gru_seq_backward_parallel = jit_pair(_backward_factory)
