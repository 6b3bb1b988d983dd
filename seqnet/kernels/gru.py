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
    W_ih     [3H, I]        b_ih [3H], b_hh [3H]
    W_rows   [n, 3Hc, H]    W_hh's rows by hidden-unit chunk (reset_after)
    W_rz_rows [n, 2Hc, H]   W_hh[:2H]'s rows by chunk;  W_n_rows [n, Hc, H]: W_hh[2H:]'s
    W_cols   [n, 3H, Hc]    W_hh's columns by chunk (backward, reset_after)
    W_rz_cols [n, 2H, Hc]   W_hh[:2H]'s columns;  W_n_cols [n, H, Hc]: W_hh[2H:]'s
    h0       [B, H]         initial state
    lengths  [B] int64      1 <= lengths[b] <= T
    out      [T, B, H]      h_t at valid steps, 0 elsewhere
    hT       [B, H]         state after each row's last valid step
    h_prev   [T, B, H]      state entering step t (kept when keep)
    gates    [T, B, 3H]     input projection, then post-activation r, z, n
    hn       [T, B, H]      reset_after: W_hn h + b_hn;  reset_before: r * h
    h_in     [B, H]         the step's input state
    rec, rec_rz, rec_n      [n, B, 3Hc], [n, B, 2Hc], [n, B, Hc]: per-chunk products

``n = n_chunks`` splits the hidden units as in :mod:`seqnet.kernels.lstm`: each
chunk multiplies by its own rows of ``W_hh`` and runs its units' gate math, in one
``rows(n)`` loop per step (two for reset_before: r*h must be whole before the n
product). Both kernels use the same ``n``, so they agree bit for bit.

Backward buffers::

    dout     [T, B, H]      dL/d out;   dhT [B, H]: dL/d hT
    dGi      [T, B, 3H]     dL/d(input-side pre-activations) [dar, daz, dan]
    dGh      [T, B, 3H]     dL/d(hidden-side pre-activations): [dar, daz, dan * r]
                            (reset_after) or [dar, daz, dan] (reset_before)
    dn       [T, B, H]      dan, contiguous (reset_before)
    dht      [B, H]         dL/dh_t at the current step (reset_before)
    drz      [B, 2H]        [dar, daz] of the current step (reset_before)
    dh_parts [n, B, Hc]     workspace: per-chunk products with W_cols / W_n_cols
    dh0      [B, H]         carries dL/dh backwards; ends as dL/dh0
    dx [T, B, I], dW_ih, dW_hh, db_ih, db_hh   outputs (dx, dW_ih only when input_grads)
    dW_hn    [H, H]         MUST be the view dW_hh[2H:]: with reset_before the n rows of
                            dW_hh are overwritten through it after the full product.
    parts_ih, parts_hh, parts_hn   [n, ...]: per-chunk weight gradients

``project=False``: ``gates`` already holds the input projection (index input);
``input_grads=False``: dx and dW_ih are left to the caller.
"""

import numpy as np
from numba import njit, prange

from .._config import JIT_OPTIONS, jit_pair
from ._common import (
    add_valid_units,
    chunk,
    column_sums,
    sequence_grads,
    sum_parts,
)
from ._math import sigmoid, tanh

#: order of the gate blocks in ``W_ih``, ``W_hh`` and the biases.
GRU_GATES = ("r", "z", "n")


@njit(**JIT_OPTIONS)
def gru_units_forward_after(u0, u1, t, lengths, gates_t, rec_k, b_ih, b_hh, hT, hn_t, out_t):
    """reset_after gate pass of step ``t`` for hidden units ``[u0, u1)`` of every row;
    ``rec_k [B, 3Hc]`` is this chunk's ``h W_hh^T`` (gate blocks of width Hc)."""
    H = hT.shape[1]
    n = u1 - u0
    Hc = rec_k.shape[1] // 3
    one = hT.dtype.type(1.0)
    bi_r, bi_z, bi_n = b_ih[u0:u1], b_ih[H + u0:H + u1], b_ih[2 * H + u0:2 * H + u1]
    bh_r, bh_z, bh_n = b_hh[u0:u1], b_hh[H + u0:H + u1], b_hh[2 * H + u0:2 * H + u1]
    for r in range(gates_t.shape[0]):
        a = gates_t[r]
        if t >= lengths[r]:
            for g in range(3):
                a[g * H + u0:g * H + u1] = 0.0
            hn_t[r, u0:u1] = 0.0
            out_t[r, u0:u1] = 0.0
            continue
        a_r, a_z, a_n = a[u0:u1], a[H + u0:H + u1], a[2 * H + u0:2 * H + u1]
        rc = rec_k[r]
        rc_r, rc_z, rc_n = rc[:n], rc[Hc:Hc + n], rc[2 * Hc:2 * Hc + n]
        h_r, hn_r, o_r = hT[r, u0:u1], hn_t[r, u0:u1], out_t[r, u0:u1]
        for j in range(n):
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
def gru_units_rz_before(u0, u1, t, lengths, gates_t, rec_k, b_ih, b_hh, hT, hn_t):
    """reset_before, first half of step ``t`` for units ``[u0, u1)``: r, z and
    ``hn_t = r * h`` (``rec_k [B, 2Hc]``: this chunk's ``h W_hrz^T``)."""
    H = hT.shape[1]
    n = u1 - u0
    Hc = rec_k.shape[1] // 2
    bi_r, bi_z = b_ih[u0:u1], b_ih[H + u0:H + u1]
    bh_r, bh_z = b_hh[u0:u1], b_hh[H + u0:H + u1]
    for r in range(gates_t.shape[0]):
        if t >= lengths[r]:
            hn_t[r, u0:u1] = 0.0
            continue
        a = gates_t[r]
        a_r, a_z = a[u0:u1], a[H + u0:H + u1]
        rc = rec_k[r]
        rc_r, rc_z = rc[:n], rc[Hc:Hc + n]
        h_r, hn_r = hT[r, u0:u1], hn_t[r, u0:u1]
        for j in range(n):
            rg = sigmoid(a_r[j] + bi_r[j] + rc_r[j] + bh_r[j])
            a_r[j] = rg
            a_z[j] = sigmoid(a_z[j] + bi_z[j] + rc_z[j] + bh_z[j])
            hn_r[j] = rg * h_r[j]


@njit(**JIT_OPTIONS)
def gru_units_n_before(u0, u1, t, lengths, gates_t, rec_k, b_ih, b_hh, hT, out_t):
    """reset_before, second half of step ``t`` for units ``[u0, u1)``: n and h
    (``rec_k [B, Hc]``: this chunk's ``(r h) W_hn^T``)."""
    H = hT.shape[1]
    n = u1 - u0
    one = hT.dtype.type(1.0)
    bi_n, bh_n = b_ih[2 * H + u0:2 * H + u1], b_hh[2 * H + u0:2 * H + u1]
    for r in range(gates_t.shape[0]):
        a = gates_t[r]
        if t >= lengths[r]:
            for g in range(3):
                a[g * H + u0:g * H + u1] = 0.0
            out_t[r, u0:u1] = 0.0
            continue
        a_z, a_n = a[H + u0:H + u1], a[2 * H + u0:2 * H + u1]
        rc, h_r, o_r = rec_k[r, :n], hT[r, u0:u1], out_t[r, u0:u1]
        for j in range(n):
            zg = a_z[j]
            ng = tanh(a_n[j] + bi_n[j] + rc[j] + bh_n[j])
            h = (one - zg) * ng + zg * h_r[j]
            a_n[j] = ng
            h_r[j] = h
            o_r[j] = h


@njit(**JIT_OPTIONS)
def gru_units_backward_after(u0, u1, t, lengths, gates_t, h_prev_t, hn_t, dout_t, dh, dGi_t,
                             dGh_t):
    """reset_after backward gate pass of step ``t`` for units ``[u0, u1)``; ``dh``
    becomes ``dL/dh_t * z`` there (the recurrent product is added after)."""
    H = dh.shape[1]
    n = u1 - u0
    one = dh.dtype.type(1.0)
    for r in range(gates_t.shape[0]):
        di, dg = dGi_t[r], dGh_t[r]
        if t >= lengths[r]:
            for g in range(3):
                di[g * H + u0:g * H + u1] = 0.0
                dg[g * H + u0:g * H + u1] = 0.0
            continue
        a = gates_t[r]
        a_r, a_z, a_n = a[u0:u1], a[H + u0:H + u1], a[2 * H + u0:2 * H + u1]
        di_r, di_z, di_n = di[u0:u1], di[H + u0:H + u1], di[2 * H + u0:2 * H + u1]
        dg_r, dg_z, dg_n = dg[u0:u1], dg[H + u0:H + u1], dg[2 * H + u0:2 * H + u1]
        hp_r, hn_r = h_prev_t[r, u0:u1], hn_t[r, u0:u1]
        do_r, dh_r = dout_t[r, u0:u1], dh[r, u0:u1]
        for j in range(n):
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
def gru_units_dn_before(u0, u1, t, lengths, gates_t, dout_t, dh, dht, dn_t):
    """reset_before backward, first half, units ``[u0, u1)``: ``dht = dL/dh_t`` and
    ``dn_t = dL/da_n``."""
    H = dh.shape[1]
    n = u1 - u0
    one = dh.dtype.type(1.0)
    for r in range(gates_t.shape[0]):
        if t >= lengths[r]:
            dn_t[r, u0:u1] = 0.0
            continue
        a = gates_t[r]
        a_z, a_n = a[H + u0:H + u1], a[2 * H + u0:2 * H + u1]
        dh_r, do_r = dh[r, u0:u1], dout_t[r, u0:u1]
        dht_r, dn_r = dht[r, u0:u1], dn_t[r, u0:u1]
        for j in range(n):
            zg = a_z[j]
            ng = a_n[j]
            dh_j = dh_r[j] + do_r[j]
            dht_r[j] = dh_j
            dn_r[j] = dh_j * (one - zg) * (one - ng * ng)


@njit(**JIT_OPTIONS)
def gru_units_rz_backward_before(u0, u1, t, lengths, gates_t, h_prev_t, dht, drh_k, dn_t, dh,
                                 dGi_t, dGh_t, drz):
    """reset_before backward, second half, units ``[u0, u1)`` (``drh_k [B, Hc]``:
    this chunk's ``dn_t W_hn``, the gradient of r*h): dar, daz into dGi/dGh and
    ``drz [B, 2H]``, and ``dh = dht z + drh r``."""
    H = dh.shape[1]
    n = u1 - u0
    one = dh.dtype.type(1.0)
    for r in range(gates_t.shape[0]):
        di, dg, dz = dGi_t[r], dGh_t[r], drz[r]
        if t >= lengths[r]:
            for g in range(3):
                di[g * H + u0:g * H + u1] = 0.0
                dg[g * H + u0:g * H + u1] = 0.0
            dz[u0:u1] = 0.0
            dz[H + u0:H + u1] = 0.0
            continue
        a = gates_t[r]
        a_r, a_z, a_n = a[u0:u1], a[H + u0:H + u1], a[2 * H + u0:2 * H + u1]
        di_r, di_z, di_n = di[u0:u1], di[H + u0:H + u1], di[2 * H + u0:2 * H + u1]
        dg_r, dg_z, dg_n = dg[u0:u1], dg[H + u0:H + u1], dg[2 * H + u0:2 * H + u1]
        dz_r, dz_z = dz[u0:u1], dz[H + u0:H + u1]
        hp_r, dht_r, drh_r = h_prev_t[r, u0:u1], dht[r, u0:u1], drh_k[r, :n]
        dn_r, dh_r = dn_t[r, u0:u1], dh[r, u0:u1]
        for j in range(n):
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
    def gru_seq_forward(x, W_ih, W_rows, W_rz_rows, W_n_rows, b_ih, b_hh, h0, lengths,
                        reverse, reset_after, keep, project, n_chunks, out, hT, h_prev, gates,
                        hn, h_in, rec, rec_rz, rec_n):
        T, B = gates.shape[0], gates.shape[1]
        I = x.shape[2]
        H = h0.shape[1]
        if project:
            N = T * B
            xf, gf = x.reshape(N, I), gates.reshape(N, 3 * H)
            for k in rows(n_chunks):
                n0, n1 = chunk(k, n_chunks, N)
                np.dot(xf[n0:n1], W_ih.T, gf[n0:n1])
        hT[:] = h0
        for s in range(T):
            t = T - 1 - s if reverse else s
            h_in[:] = hT
            if keep:
                h_prev[t] = hT
            # each chunk: its units' recurrent product(s), then their gate math.
            if reset_after:
                for k in rows(n_chunks):
                    u0, u1 = chunk(k, n_chunks, H)
                    np.dot(h_in, W_rows[k].T, rec[k])
                    gru_units_forward_after(u0, u1, t, lengths, gates[t], rec[k], b_ih, b_hh,
                                            hT, hn[t], out[t])
            else:
                for k in rows(n_chunks):
                    u0, u1 = chunk(k, n_chunks, H)
                    np.dot(h_in, W_rz_rows[k].T, rec_rz[k])
                    gru_units_rz_before(u0, u1, t, lengths, gates[t], rec_rz[k], b_ih, b_hh,
                                        hT, hn[t])
                for k in rows(n_chunks):
                    u0, u1 = chunk(k, n_chunks, H)
                    np.dot(hn[t], W_n_rows[k].T, rec_n[k])
                    gru_units_n_before(u0, u1, t, lengths, gates[t], rec_n[k], b_ih, b_hh, hT,
                                       out[t])

    return gru_seq_forward


def _backward_factory(rows):
    parallel = rows is prange  # a bool: closures over dispatchers defeat the cache

    def gru_seq_backward(x, W_ih, W_cols, W_rz_cols, W_n_cols, lengths, reverse, reset_after,
                         input_grads, n_chunks, h_prev, gates, hn, dout, dhT, dx, dW_ih, dW_hh,
                         dW_hn, db_ih, db_hh, dh0, dGi, dGh, dn, dht, drz, dh_parts, parts_ih,
                         parts_hh, parts_hn):
        # dh0 carries dL/dh backwards through time and ends as the initial-state
        # gradient (see the module docstring for dGi, dGh, dn).
        T, B = dout.shape[0], dout.shape[1]
        H = dh0.shape[1]
        dh0[:] = dhT
        t_next = -1
        for s in range(T):
            t = s if reverse else T - 1 - s
            if reset_after:
                # each chunk: step t+1's recurrent product for its units, then its
                # gate pass at step t.
                for k in rows(n_chunks):
                    u0, u1 = chunk(k, n_chunks, H)
                    if t_next >= 0:
                        add_valid_units(u0, u1, t_next, lengths, dGh[t_next], W_cols[k],
                                        dh_parts[k], dh0)
                    gru_units_backward_after(u0, u1, t, lengths, gates[t], h_prev[t], hn[t],
                                             dout[t], dh0, dGi[t], dGh[t])
            else:
                for k in rows(n_chunks):
                    u0, u1 = chunk(k, n_chunks, H)
                    if t_next >= 0:
                        add_valid_units(u0, u1, t_next, lengths, drz, W_rz_cols[k],
                                        dh_parts[k], dh0)
                    gru_units_dn_before(u0, u1, t, lengths, gates[t], dout[t], dh0, dht, dn[t])
                for k in rows(n_chunks):
                    u0, u1 = chunk(k, n_chunks, H)
                    np.dot(dn[t], W_n_cols[k], dh_parts[k])
                    gru_units_rz_backward_before(u0, u1, t, lengths, gates[t], h_prev[t], dht,
                                                 dh_parts[k], dn[t], dh0, dGi[t], dGh[t], drz)
            t_next = t
        for k in rows(n_chunks):
            u0, u1 = chunk(k, n_chunks, H)
            if reset_after:
                add_valid_units(u0, u1, t_next, lengths, dGh[t_next], W_cols[k], dh_parts[k],
                                dh0)
            else:
                add_valid_units(u0, u1, t_next, lengths, drz, W_rz_cols[k], dh_parts[k], dh0)
        sequence_grads(parallel, dGi, dGh, x, h_prev, W_ih, input_grads, n_chunks, dx, parts_ih,
                       parts_hh, dW_ih, dW_hh)
        N = T * B
        if not reset_after:
            # the n rows see r * h, not h: replace them (dW_hn is dW_hh[2H:]).
            dnf = dn.reshape(N, H)
            hnf = hn.reshape(N, H)
            for k in rows(n_chunks):
                n0, n1 = chunk(k, n_chunks, N)
                np.dot(dnf[n0:n1].T, hnf[n0:n1], parts_hn[k])
            sum_parts(parts_hn, n_chunks, dW_hn)
        column_sums(dGi.reshape(N, 3 * H), db_ih)
        column_sums(dGh.reshape(N, 3 * H), db_hh)

    return gru_seq_backward


gru_seq_forward_serial, gru_seq_forward_parallel = jit_pair(_forward_factory)
gru_seq_backward_serial, gru_seq_backward_parallel = jit_pair(_backward_factory)
