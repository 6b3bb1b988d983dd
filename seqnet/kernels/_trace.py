"""State gradients through time: dL/dh_t (and the LSTM's dL/dc_t) at every step of
one direction, from a forward's trace and the gradients its backward received.

A layer's backward carries dL/dh (and dL/dc) back through time but keeps none of
it; :mod:`seqnet.inspect` asks for every step's. These kernels run the same
recursion again, one compiled call per layer and direction, from what the trace
keeps (the post-activation gates and the states) and what the layer's backward
was given: ``dout`` (dL/d out, the output of this direction) and the final
state's gradient. Each step is one element-wise pass over the rows and one product
with ``W_hh``, as in the cells' own backward (:mod:`seqnet.kernels.lstm`,
:mod:`seqnet.kernels.gru`, :mod:`seqnet.kernels.rnn`), with no weight gradients.

Definitions (step ``t`` valid for a row: ``t < lengths[b]``; ``h_t``, ``c_t`` the
state after step t; the step after t is ``t + 1``, or ``t - 1`` when ``reverse``)::

    dh[t] = dL/dh_t = dout[t] + (dL/dh through the steps after t and the final state)
    dc[t] = dL/dc_t with h_t held fixed: the gradient along the cell-state path,
            the one that BPTT carries from the step after t back to step t

Both are 0 past a row's length; ``dh0``/``dc0`` end as the initial state's.

Buffers (batch-first; B rows, T steps, H hidden units, G gate blocks)::

    gates     i, f, g, o / r, z, n  [B, T, H] each, post-activation (0 past a row's
              length); h, c [B, T, H] the state after step t; h_prev, c_prev
              [B, T, H] the state entering step t
    hn        [B, T, H]   reset_after GRU: W_hn h_prev + b_hn
    W_hh      [G*H, H]
    dout      [B, T, H];  dh0, dc0 [B, H]: the final state's gradients in, the
              initial state's out
    dh, dc    [B, T, H]   outputs, zeroed here
    work      [B, G*H]    a step's pre-activation gradients;  prod [B, H], zh [B, H]
"""

import numpy as np
from numba import njit

from .._config import JIT_OPTIONS, wide_vectors
from ._blas import gemm
from ._steps import backward_step


@njit(**JIT_OPTIONS)
def lstm_state_grads(i_g, f_g, g_g, o_g, c, c_prev, W_hh, lengths, reverse, dout, dh0, dc0,
                     dh, dc, work, prod):
    """dL/dh_t and dL/dc_t of one LSTM direction (see the module's definitions)."""
    wide_vectors()
    B, T, H = dout.shape
    one = dout.dtype.type(1.0)
    dh[:] = 0.0
    dc[:] = 0.0
    for s in range(T):
        t = backward_step(s, T, reverse)
        for r in range(B):
            w = work[r]
            if t >= lengths[r]:
                w[:] = 0.0
                continue
            # 1-D views of the row's step, indexed from 0: LLVM vectorises the loop.
            i_r, f_r, g_r, o_r = i_g[r, t], f_g[r, t], g_g[r, t], o_g[r, t]
            c_r, cp_r, do_r, dh_r, dc_r = c[r, t], c_prev[r, t], dout[r, t], dh[r, t], dc[r, t]
            dh0_r, dc0_r = dh0[r], dc0[r]
            w_i, w_f, w_g, w_o = w[:H], w[H:2 * H], w[2 * H:3 * H], w[3 * H:]
            for j in range(H):
                i, f, g, o = i_r[j], f_r[j], g_r[j], o_r[j]
                dht = do_r[j] + dh0_r[j]
                dh_r[j] = dht
                dc_r[j] = dc0_r[j]
                tc = np.tanh(c_r[j])
                dct = dc0_r[j] + dht * o * (one - tc * tc)
                w_i[j] = dct * g * i * (one - i)
                w_f[j] = dct * cp_r[j] * f * (one - f)
                w_g[j] = dct * i * (one - g * g)
                w_o[j] = dht * tc * o * (one - o)
                dc0_r[j] = dct * f
        gemm(work, W_hh, prod, 0, False, False)
        for r in range(B):
            if t < lengths[r]:
                dh0[r] = prod[r]


@njit(**JIT_OPTIONS)
def gru_state_grads(r_g, z_g, n_g, h_prev, hn, W_hh, lengths, reverse, reset_after, dout,
                    dh0, dh, work, prod, zh):
    """dL/dh_t of one GRU direction, either reset form (``hn``: reset_after's ``W_hn
    h_prev + b_hn``; unused for reset_before)."""
    wide_vectors()
    B, T, H = dout.shape
    one = dout.dtype.type(1.0)
    dh[:] = 0.0
    W_rz, W_n = W_hh[:2 * H], W_hh[2 * H:]
    for s in range(T):
        t = backward_step(s, T, reverse)
        for r in range(B):
            w = work[r]
            if t >= lengths[r]:
                w[:] = 0.0
                continue
            for j in range(H):
                rg, zg, ng, hp = r_g[r, t, j], z_g[r, t, j], n_g[r, t, j], h_prev[r, t, j]
                dht = dout[r, t, j] + dh0[r, j]
                dh[r, t, j] = dht
                dan = dht * (one - zg) * (one - ng * ng)
                w[H + j] = dht * (hp - ng) * zg * (one - zg)
                zh[r, j] = dht * zg
                if reset_after:
                    w[j] = dan * hn[r, t, j] * rg * (one - rg)
                    w[2 * H + j] = dan * rg
                else:
                    w[2 * H + j] = dan
        if reset_after:
            gemm(work, W_hh, prod, 0, False, False)
        else:
            # the n block's product first: dL/d(r * h_prev) = dan W_hn gives dar.
            gemm(work[:, 2 * H:], W_n, prod, 0, False, False)
            for r in range(B):
                if t < lengths[r]:
                    for j in range(H):
                        rg = r_g[r, t, j]
                        zh[r, j] += prod[r, j] * rg
                        work[r, j] = prod[r, j] * h_prev[r, t, j] * rg * (one - rg)
            gemm(work[:, :2 * H], W_rz, prod, 0, False, False)
        for r in range(B):
            if t < lengths[r]:
                for j in range(H):
                    dh0[r, j] = zh[r, j] + prod[r, j]


@njit(**JIT_OPTIONS)
def rnn_state_grads(h, W_hh, lengths, reverse, relu, dout, dh0, dh, work, prod):
    """dL/dh_t of one SimpleRNN direction (``h``: the state after step t)."""
    wide_vectors()
    B, T, H = dout.shape
    one = dout.dtype.type(1.0)
    zero = dout.dtype.type(0.0)
    dh[:] = 0.0
    for s in range(T):
        t = backward_step(s, T, reverse)
        for r in range(B):
            w = work[r]
            if t >= lengths[r]:
                w[:] = 0.0
                continue
            for j in range(H):
                dht = dout[r, t, j] + dh0[r, j]
                dh[r, t, j] = dht
                hj = h[r, t, j]
                if relu:
                    w[j] = dht if hj > zero else zero
                else:
                    w[j] = dht * (one - hj * hj)
        gemm(work, W_hh, prod, 0, False, False)
        for r in range(B):
            if t < lengths[r]:
                dh0[r] = prod[r]
