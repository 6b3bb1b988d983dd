"""Small helpers shared by the cell kernels."""

import numpy as np
from numba import njit

from .._config import JIT_OPTIONS


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
