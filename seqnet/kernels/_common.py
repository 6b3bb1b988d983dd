"""Scalar activations and small reductions shared by the cell kernels."""

import numpy as np
from numba import njit

from .._config import JIT_OPTIONS


@njit(inline="always", **JIT_OPTIONS)
def sigmoid(a):
    """Logistic function; saturates to exactly 0 or 1 without overflow warnings."""
    return 1.0 / (1.0 + np.exp(-a))


@njit(**JIT_OPTIONS)
def column_sums(a, out):
    """``out[k] = sum_n a[n, k]`` for a 2-D ``a``, summed in row order (deterministic)."""
    out[:] = 0.0
    for n in range(a.shape[0]):
        for k in range(a.shape[1]):
            out[k] += a[n, k]


@njit(**JIT_OPTIONS)
def scatter_add_rows(idx, src, out):
    """``out[idx[n]] += src[n]`` for every n, in order (deterministic); ``out`` zeroed first.

    The transpose of a gather: the weight gradient of a one-hot input given as
    indices. ``idx [N]`` int, ``src [N, K]``, ``out [V, K]``.
    """
    out[:] = 0.0
    for n in range(idx.shape[0]):
        v = idx[n]
        for k in range(src.shape[1]):
            out[v, k] += src[n, k]
