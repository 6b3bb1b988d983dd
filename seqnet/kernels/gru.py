"""GRU forward and backward kernels (gate order r, z, n), both reset forms.

Equations, for a valid step ``t`` of row ``b`` (``t < lengths[b]``)::

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    reset_after=True  (cuDNN/PyTorch):  n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    reset_after=False (original):       n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)
    h_t = (1 - z) * n + z * h_{t-1}

Past a row's length the state is carried unchanged and the output is 0.

Buffers (batch-first, as the layers take them; B rows, T steps, I inputs, H hidden
units)::

    x        [B, T, I]      input
    W_ih     [3H, I]        b_ih [3H], b_hh [3H]
    W_rows   [L]            W_hh.T ([H, 3H]) packed in panels (reset_after; see _panel)
    W_rz_rows [L]           W_hh[:2H].T packed;  W_n_rows [L]: W_hh[2H:].T packed
                            (reset_before)
    W_cols   [L]            W_hh ([3H, H]) packed (backward: its r, z rows and its n
                            rows are read apart)
    h0       [B, H]         initial state
    lengths  [B] int64      1 <= lengths[b] <= T
    out      [B, T, H]      h_t at valid steps, 0 elsewhere
    hT       [B, H]         state after each row's last valid step
    h_prev   [B, T, H]      state entering step t (kept when keep)
    gates    [B, T, 3H]     input projection, then post-activation r, z, n
    hn       [B, T, H]      reset_after: W_hn h + b_hn (reset_before: [B, 0, H], unused)
    rec, rec_rz, rec_n      [n, Bc, 3H], [n, Bc, 2H], [n, Bc, H]: per-block products
    rh       [n, Bc, H]     reset_before: the step's r * h, per block

``n = n_chunks`` splits the batch rows in blocks as in :mod:`seqnet.kernels.lstm`:
each block runs the whole time loop for its rows (reset_before: the r, z product
and pass, then the n product of r*h and its pass, at every step).

Backward buffers. The gate gradients overwrite what the forward kept, so the
backward allocates no ``[B, T, ...]`` buffer but ``dx``::

    dout     [B, T, H]      dL/d out;   dhT [B, H]: dL/d hT
    dG       [B, T, 3H]     the forward's gates in; dL/d(input-side pre-activations)
                            [dar, daz, dan] out, in place; the hidden side's are the
                            same but for the n block
    hn       [B, T, H]      reset_after: becomes dan * r, the hidden side's n block
                            (reset_before: the hidden side's n block is dan itself)
    rh, dan  [n, S*Bc, H]   reset_before: r * h_prev, made again, and dan, of the
                            last S <= seg steps, per block (for dW_hn)
    dW_n_parts [n-1, H, H]  reset_before: dW_hn of row blocks 1..n-1
    dht      [B, H]         dL/dh_t * z at the current step (reset_before)
    dh_parts [n, Bc, H]     per-block workspace: products with W_hh
    dh0      [B, H]         carries dL/dh backwards; ends as dL/dh0
    dx [B, T, I], dW_ih, db_ih, db_hh   outputs (dx, dW_ih only when input_grads)
    dW_hrz, dW_hn [2H, H], [H, H]   dW_hh's r, z rows and its n rows

``project=False``: ``gates`` already holds the input projection (index input);
``input_grads=False``: dx and dW_ih are left to the caller.
"""

from numba import njit

from .._config import JIT_OPTIONS, jit_pair
from ._common import (
    add_parts,
    add_valid_units,
    add_weight_grad,
    backward_step,
    chunk,
    column_sums,
    copy_rows,
    forward_step,
    input_projection,
    keep_state,
    prefetch,
    prefetch_units,
    recurrent_product,
    sequence_grads,
    weight_grad,
)
from ._math import sigmoid, tanh

#: order of the gate blocks in ``W_ih``, ``W_hh`` and the biases.
GRU_GATES = ("r", "z", "n")


@njit(**JIT_OPTIONS)
def gru_units_forward_after(u0, u1, t, lengths, gates, rec_k, b_ih, b_hh, hT, hn, out):
    """reset_after gate pass of step ``t`` for hidden units ``[u0, u1)`` of every row;
    ``rec_k [B, 3Hc]`` is this chunk's ``h W_hh^T`` (gate blocks of width Hc)."""
    H = hT.shape[1]
    n = u1 - u0
    Hc = rec_k.shape[1] // 3
    one = hT.dtype.type(1.0)
    bi_r, bi_z, bi_n = b_ih[u0:u1], b_ih[H + u0:H + u1], b_ih[2 * H + u0:2 * H + u1]
    bh_r, bh_z, bh_n = b_hh[u0:u1], b_hh[H + u0:H + u1], b_hh[2 * H + u0:2 * H + u1]
    B = gates.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch_units(gates[r + 1, t], H, u0, u1, 0, 3)
        a = gates[r, t]
        if t >= lengths[r]:
            for g in range(3):
                a[g * H + u0:g * H + u1] = 0.0
            hn[r, t, u0:u1] = 0.0
            out[r, t, u0:u1] = 0.0
            continue
        a_r, a_z, a_n = a[u0:u1], a[H + u0:H + u1], a[2 * H + u0:2 * H + u1]
        rc = rec_k[r]
        rc_r, rc_z, rc_n = rc[:n], rc[Hc:Hc + n], rc[2 * Hc:2 * Hc + n]
        h_r, hn_r, o_r = hT[r, u0:u1], hn[r, t, u0:u1], out[r, t, u0:u1]
        for j in range(n):
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


@njit(**JIT_OPTIONS)
def gru_units_rz_before(u0, u1, t, lengths, gates, rec_k, b_ih, b_hh, hT, rh):
    """reset_before, first half of step ``t`` for units ``[u0, u1)``: r, z and
    ``rh = r * h`` (``[B, H]``, the operand of the n block's product; ``rec_k
    [B, 2Hc]``: this chunk's ``h W_hrz^T``)."""
    H = hT.shape[1]
    n = u1 - u0
    Hc = rec_k.shape[1] // 2
    bi_r, bi_z = b_ih[u0:u1], b_ih[H + u0:H + u1]
    bh_r, bh_z = b_hh[u0:u1], b_hh[H + u0:H + u1]
    B = gates.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch_units(gates[r + 1, t], H, u0, u1, 0, 2)
        if t >= lengths[r]:
            rh[r, u0:u1] = 0.0
            continue
        a = gates[r, t]
        a_r, a_z = a[u0:u1], a[H + u0:H + u1]
        rc = rec_k[r]
        rc_r, rc_z = rc[:n], rc[Hc:Hc + n]
        h_r, rh_r = hT[r, u0:u1], rh[r, u0:u1]
        for j in range(n):
            rg = sigmoid(a_r[j] + bi_r[j] + rc_r[j] + bh_r[j])
            a_r[j] = rg
            a_z[j] = sigmoid(a_z[j] + bi_z[j] + rc_z[j] + bh_z[j])
            rh_r[j] = rg * h_r[j]


@njit(**JIT_OPTIONS)
def gru_units_n_before(u0, u1, t, lengths, gates, rec_k, b_ih, b_hh, hT, out):
    """reset_before, second half of step ``t`` for units ``[u0, u1)``: n and h
    (``rec_k [B, Hc]``: this chunk's ``(r h) W_hn^T``)."""
    H = hT.shape[1]
    n = u1 - u0
    one = hT.dtype.type(1.0)
    bi_n, bh_n = b_ih[2 * H + u0:2 * H + u1], b_hh[2 * H + u0:2 * H + u1]
    B = gates.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch_units(gates[r + 1, t], H, u0, u1, 1, 3)
        a = gates[r, t]
        if t >= lengths[r]:
            for g in range(3):
                a[g * H + u0:g * H + u1] = 0.0
            out[r, t, u0:u1] = 0.0
            continue
        a_z, a_n = a[H + u0:H + u1], a[2 * H + u0:2 * H + u1]
        rc, h_r, o_r = rec_k[r, :n], hT[r, u0:u1], out[r, t, u0:u1]
        for j in range(n):
            zg = a_z[j]
            ng = tanh(a_n[j] + bi_n[j] + rc[j] + bh_n[j])
            h = (one - zg) * ng + zg * h_r[j]
            a_n[j] = ng
            h_r[j] = h
            o_r[j] = h


@njit(**JIT_OPTIONS)
def gru_units_backward_after(u0, u1, t, lengths, gates, h_prev, hn, dout, dh):
    """reset_after backward gate pass of step ``t`` for units ``[u0, u1)``: ``gates[:, t]``
    (r, z, n) is replaced by [dar, daz, dan] (in place, through one view, so that the
    loop runs vectorised), ``hn[:, t]`` is replaced by
    ``dan * r``, and ``dh`` becomes ``dL/dh_t * z`` there (the recurrent product
    is added after)."""
    H = dh.shape[1]
    n = u1 - u0
    one = dh.dtype.type(1.0)
    B = gates.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch_units(gates[r + 1, t], H, u0, u1, 0, 3)
            prefetch(h_prev[r + 1, t], u0, u1)
            prefetch(hn[r + 1, t], u0, u1)
            prefetch(dout[r + 1, t], u0, u1)
        a = gates[r, t]
        if t >= lengths[r]:
            for g in range(3):
                a[g * H + u0:g * H + u1] = 0.0
            hn[r, t, u0:u1] = 0.0
            continue
        a_r, a_z, a_n = a[u0:u1], a[H + u0:H + u1], a[2 * H + u0:2 * H + u1]
        hp_r, hn_r = h_prev[r, t, u0:u1], hn[r, t, u0:u1]
        do_r, dh_r = dout[r, t, u0:u1], dh[r, u0:u1]
        for j in range(n):
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


@njit(**JIT_OPTIONS)
def gru_units_zn_backward_before(u0, u1, t, lengths, gates, h_prev, dout, dh, dht, rh):
    """reset_before backward, first half, units ``[u0, u1)``: daz and dan over the
    z and n blocks of ``gates[:, t]`` (each read first, through the same view),
    ``dht = dL/dh_t * z`` and ``rh = r * h_prev`` (``[B, H]``, recomputed for
    ``dW_hn``: the forward keeps no ``r * h`` for every step)."""
    H = dh.shape[1]
    n = u1 - u0
    one = dh.dtype.type(1.0)
    B = gates.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch_units(gates[r + 1, t], H, u0, u1, 1, 3)
            prefetch(h_prev[r + 1, t], u0, u1)
            prefetch(dout[r + 1, t], u0, u1)
        a = gates[r, t]
        if t >= lengths[r]:
            a[H + u0:H + u1] = 0.0
            a[2 * H + u0:2 * H + u1] = 0.0
            rh[r, u0:u1] = 0.0
            continue
        a_r, a_z, a_n = a[u0:u1], a[H + u0:H + u1], a[2 * H + u0:2 * H + u1]
        hp_r, dh_r, do_r = h_prev[r, t, u0:u1], dh[r, u0:u1], dout[r, t, u0:u1]
        dht_r, rh_r = dht[r, u0:u1], rh[r, u0:u1]
        for j in range(n):
            zg = a_z[j]
            ng = a_n[j]
            rh_r[j] = a_r[j] * hp_r[j]
            dh_j = dh_r[j] + do_r[j]
            dht_r[j] = dh_j * zg
            a_z[j] = dh_j * (hp_r[j] - ng) * zg * (one - zg)
            a_n[j] = dh_j * (one - zg) * (one - ng * ng)


@njit(**JIT_OPTIONS)
def gru_units_r_backward_before(u0, u1, t, lengths, gates, h_prev, dht, drh_k, dh):
    """reset_before backward, second half, units ``[u0, u1)`` (``drh_k [B, Hc]``:
    this chunk's ``dan W_hn``, the gradient of r*h): dar over the r block of
    ``gates[:, t]`` (in place) and ``dh = dht + drh r``."""
    n = u1 - u0
    one = dh.dtype.type(1.0)
    B = gates.shape[0]
    for r in range(B):
        if r + 1 < B:
            prefetch(gates[r + 1, t], u0, u1)
            prefetch(h_prev[r + 1, t], u0, u1)
        a_r = gates[r, t, u0:u1]
        if t >= lengths[r]:
            a_r[:] = 0.0
            continue
        hp_r, dht_r, drh_r = h_prev[r, t, u0:u1], dht[r, u0:u1], drh_k[r, :n]
        dh_r = dh[r, u0:u1]
        for j in range(n):
            rg = a_r[j]
            drh = drh_r[j]
            a_r[j] = drh * hp_r[j] * rg * (one - rg)
            dh_r[j] = dht_r[j] + drh * rg


@njit(**JIT_OPTIONS)
def gru_rows_forward(reverse, reset_after, keep, lengths, gates, W_rows, W_rz_rows, W_n_rows,
                     W_hh, b_ih, b_hh, out, hT, h_prev, hn, rec, rec_rz, rec_n, rh):
    """The time loop of a block of rows (every row argument that block's slice;
    ``rec``, ``rec_rz``, ``rec_n``, ``rh`` its workspaces)."""
    T = gates.shape[1]
    H = hT.shape[1]
    for s in range(T):
        t = forward_step(s, T, reverse)
        if keep:
            keep_state(hT, h_prev, t)
        if reset_after:
            recurrent_product(hT, W_rows, 0, W_hh, True, rec, 0)
            gru_units_forward_after(0, H, t, lengths, gates, rec, b_ih, b_hh, hT, hn, out)
        else:
            recurrent_product(hT, W_rz_rows, 0, W_hh[:2 * H], True, rec_rz, 0)
            gru_units_rz_before(0, H, t, lengths, gates, rec_rz, b_ih, b_hh, hT, rh)
            recurrent_product(rh, W_n_rows, 0, W_hh[2 * H:], True, rec_n, 0)
            gru_units_n_before(0, H, t, lengths, gates, rec_n, b_ih, b_hh, hT, out)


@njit(**JIT_OPTIONS)
def gru_rows_backward(reverse, reset_after, lengths, h_prev, hn, dout, W_cols, W_hh, dh, dG,
                      dht, dh_part, seg, rh, dan, dW_n):
    """The backward time loop of a block of rows (``dht``, ``dh_part [rows, H]``
    workspaces): step t+1's recurrent product, then the gate pass of step t.
    ``dG`` holds the gates and gets their gradients.

    reset_before: this block's ``dW_n = sum dan^T (r * h_prev)`` (``[H, H]``,
    zeroed here) is summed ``seg`` steps at a time: each step's ``r * h_prev``,
    made again before ``r`` is overwritten, and its ``dan`` go to the next
    ``rows`` rows of ``rh`` and ``dan`` (``[seg * rows, H]`` workspaces), and one
    product of ``seg * rows`` rows adds them (a product a step would read and
    write all of ``dW_n`` for a few rows of sum, and evict ``W_cols`` from the
    cache)."""
    T = dout.shape[1]
    H = dh.shape[1]
    m = dh.shape[0]
    filled = 0
    if not reset_after:
        dW_n[:, :] = 0.0
    t_next = -1
    for s in range(T + 1):
        t = backward_step(s, T, reverse)
        if t_next >= 0:
            recurrent_product(dG[:, t_next, :2 * H], W_cols, 0, W_hh[:2 * H], False, dh_part, 0)
            if reset_after:
                recurrent_product(hn[:, t_next], W_cols, 2 * H, W_hh[2 * H:], False, dh_part, 1)
            add_valid_units(0, H, t_next, lengths, dh_part, dh)
        if t >= 0:
            if reset_after:
                gru_units_backward_after(0, H, t, lengths, dG, h_prev, hn, dout, dh)
            else:
                rh_t = rh[filled * m:(filled + 1) * m]
                gru_units_zn_backward_before(0, H, t, lengths, dG, h_prev, dout, dh, dht, rh_t)
                copy_rows(dG[:, t, 2 * H:], dan[filled * m:(filled + 1) * m])
                filled += 1
                if filled == seg:
                    add_weight_grad(dan[:filled * m], rh[:filled * m], dW_n)
                    filled = 0
                # d(r*h) from the n block of step t: all of it is this block's.
                recurrent_product(dG[:, t, 2 * H:], W_cols, 2 * H, W_hh[2 * H:], False, dh_part, 0)
                gru_units_r_backward_before(0, H, t, lengths, dG, h_prev, dht, dh_part, dh)
        t_next = t
    if filled > 0:
        add_weight_grad(dan[:filled * m], rh[:filled * m], dW_n)


def _forward_factory(rows):
    def gru_seq_forward(x, W_ih, W_rows, W_rz_rows, W_n_rows, W_hh, b_ih, b_hh, h0, lengths,
                        reverse, reset_after, keep, project, n_chunks, seq_chunks,
                        seq_parallel, out, hT, h_prev, gates, hn, rec, rec_rz, rec_n, rh):
        B = gates.shape[0]
        if project:
            input_projection(seq_parallel, x, W_ih, seq_chunks, gates)
        hT[:] = h0
        for k in rows(n_chunks):
            r0, r1 = chunk(k, n_chunks, B)
            m = r1 - r0
            gru_rows_forward(reverse, reset_after, keep, lengths[r0:r1], gates[r0:r1], W_rows,
                             W_rz_rows, W_n_rows, W_hh, b_ih, b_hh, out[r0:r1], hT[r0:r1],
                             h_prev[r0:r1], hn[r0:r1], rec[k, :m], rec_rz[k, :m], rec_n[k, :m],
                             rh[k, :m])

    return gru_seq_forward


def _backward_factory(rows):
    def gru_seq_backward(x, W_ih, W_cols, W_hh, lengths, reverse, reset_after, input_grads,
                         n_chunks, seq_chunks, seq_parallel, h_prev, hn, dout, dhT, dx,
                         dW_ih, dW_hrz, dW_hn, dW_n_parts,
                         db_ih, db_hh, dh0, dG, dht, dh_parts, seg, rh, dan):
        # dh0 carries dL/dh backwards through time and ends as the initial-state
        # gradient (see the module docstring for dG and hn). reset_before: block 0
        # sums its dW_hn into dW_hn, block k > 0 into dW_n_parts[k - 1].
        B, T = dout.shape[0], dout.shape[1]
        H = dh0.shape[1]
        dh0[:] = dhT
        for k in rows(n_chunks):
            r0, r1 = chunk(k, n_chunks, B)
            part = dW_hn if (reset_after or k == 0) else dW_n_parts[k - 1]
            gru_rows_backward(reverse, reset_after, lengths[r0:r1], h_prev[r0:r1], hn[r0:r1],
                              dout[r0:r1], W_cols, W_hh, dh0[r0:r1], dG[r0:r1], dht[r0:r1],
                              dh_parts[k, :r1 - r0], seg, rh[k], dan[k], part)
        sequence_grads(seq_parallel, dG, x, h_prev, W_ih, input_grads, seq_chunks, dx, dW_ih,
                       dW_hrz)
        N = B * T
        gf = dG.reshape(N, 3 * H)
        column_sums(gf, db_ih)
        if reset_after:
            # the n rows see dan * r (kept in hn) against h.
            hnf = hn.reshape(N, H)
            weight_grad(seq_parallel, hnf, h_prev.reshape(N, H), seq_chunks, dW_hn)
            db_hh[:2 * H] = db_ih[:2 * H]
            column_sums(hnf, db_hh[2 * H:])
        else:
            # the n rows saw dan against r * h, summed in the time loop.
            add_parts(dW_hn, dW_n_parts)
            db_hh[:] = db_ih

    return gru_seq_backward


gru_seq_forward_serial, gru_seq_forward_parallel = jit_pair(_forward_factory)
gru_seq_backward_serial, gru_seq_backward_parallel = jit_pair(_backward_factory)
