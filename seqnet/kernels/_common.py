"""Small helpers shared by the cell kernels."""

import numpy as np
from numba import njit

from .._config import JIT_OPTIONS, jit_pair


@njit(**JIT_OPTIONS)
def chunk(k, n_chunks, rows):
    """Rows ``[start, stop)`` of chunk ``k`` when ``rows`` are split in ``n_chunks``."""
    return k * rows // n_chunks, (k + 1) * rows // n_chunks


@njit(**JIT_OPTIONS)
def set_valid_units(u0, u1, t, lengths, dG_t, W_cols_k, dh_k, dh):
    """``dh[r, u0:u1] = dG_t[r] @ W[:, u0:u1]`` for the rows valid at step ``t``.

    ``W_cols_k [G*H, Hc]`` holds this chunk's columns of the recurrent weights
    (zero-padded), ``dh_k [B, Hc]`` is workspace. Rows past their length keep
    ``dh`` (their state was carried, so is its gradient).
    """
    np.dot(dG_t, W_cols_k, dh_k)
    n = u1 - u0
    for r in range(dh.shape[0]):
        if t < lengths[r]:
            dh[r, u0:u1] = dh_k[r, :n]


@njit(**JIT_OPTIONS)
def add_valid_units(u0, u1, t, lengths, dG_t, W_cols_k, dh_k, dh):
    """``dh[r, u0:u1] += dG_t[r] @ W[:, u0:u1]`` for the rows valid at step ``t``
    (as :func:`set_valid_units`, adding)."""
    np.dot(dG_t, W_cols_k, dh_k)
    n = u1 - u0
    for r in range(dh.shape[0]):
        if t < lengths[r]:
            d, s = dh[r, u0:u1], dh_k[r, :n]
            for j in range(n):
                d[j] += s[j]


@njit(**JIT_OPTIONS)
def column_sums(a, out):
    """``out[k] = sum_n a[n, k]`` for a 2-D ``a``, summed in row order (deterministic)."""
    out[:] = 0.0
    for n in range(a.shape[0]):
        row = a[n]
        for k in range(out.shape[0]):
            out[k] += row[k]


@njit(**JIT_OPTIONS)
def scatter_add_rows(idx, src, out):
    """``out[idx[n]] += src[n]`` for every n, in order (deterministic); ``out`` zeroed first.

    The transpose of a gather: the weight gradient of a one-hot input given as
    indices. ``idx [N]`` int, ``src [N, K]``, ``out [V, K]``.
    """
    out[:] = 0.0
    for n in range(idx.shape[0]):
        o, s = out[idx[n]], src[n]
        for k in range(s.shape[0]):
            o[k] += s[k]


@njit(**JIT_OPTIONS)
def sum_parts(parts, n_chunks, out):
    """``out = parts[0] + ... + parts[n_chunks - 1]``, in that order (deterministic)."""
    out[...] = parts[0]
    for k in range(1, n_chunks):
        p = parts[k]
        for i in range(out.shape[0]):
            o, q = out[i], p[i]
            for j in range(o.shape[0]):
                o[j] += q[j]


def _sequence_grads_factory(rows):
    def sequence_grads(dG_in, dG_rec, x, h_prev, W_ih, input_grads, n_chunks, dx, parts_ih,
                       parts_hh, dW_ih, dW_hh):
        """The products after the time loop of every backward kernel.

        ``dG_in [T, B, G*H]`` is dL/d(input-side pre-activations), ``dG_rec`` the
        same for the recurrent side (the same array but in the GRU); ``x [T, B, I]``,
        ``h_prev [T, B, H]``. Fills ``dx = dG_in W_ih`` (when ``input_grads``),
        ``dW_ih = sum dG_in^T x`` and ``dW_hh = sum dG_rec^T h_prev``. The T*B rows
        are split in ``n_chunks`` so that every thread runs its own GEMM; the weight
        gradients are per-chunk partial sums (``parts_* [n_chunks, ...]``) added in
        chunk order, so serial and parallel runs give the same bits.
        """
        T, B = dG_in.shape[0], dG_in.shape[1]
        N = T * B
        gi = dG_in.reshape(N, dG_in.shape[2])
        gr = dG_rec.reshape(N, dG_rec.shape[2])
        xf = x.reshape(N, x.shape[2])
        hf = h_prev.reshape(N, h_prev.shape[2])
        dxf = dx.reshape(N, dx.shape[2])
        for k in rows(n_chunks):
            n0, n1 = chunk(k, n_chunks, N)
            if input_grads:
                np.dot(gi[n0:n1], W_ih, dxf[n0:n1])
                np.dot(gi[n0:n1].T, xf[n0:n1], parts_ih[k])
            np.dot(gr[n0:n1].T, hf[n0:n1], parts_hh[k])
        if input_grads:
            sum_parts(parts_ih, n_chunks, dW_ih)
        sum_parts(parts_hh, n_chunks, dW_hh)

    return sequence_grads


sequence_grads_serial, sequence_grads_parallel = jit_pair(_sequence_grads_factory)



@njit(**JIT_OPTIONS)
def sequence_grads(parallel, dG_in, dG_rec, x, h_prev, W_ih, input_grads, n_chunks, dx,
                   parts_ih, parts_hh, dW_ih, dW_hh):
    """`sequence_grads_parallel` or `sequence_grads_serial` (same arguments).

    The backward kernels call this with their factory's ``parallel`` flag: a
    kernel that closed over one of the two dispatchers could not be cached.
    """
    if parallel:
        sequence_grads_parallel(dG_in, dG_rec, x, h_prev, W_ih, input_grads, n_chunks, dx,
                                parts_ih, parts_hh, dW_ih, dW_hh)
    else:
        sequence_grads_serial(dG_in, dG_rec, x, h_prev, W_ih, input_grads, n_chunks, dx,
                              parts_ih, parts_hh, dW_ih, dW_hh)
