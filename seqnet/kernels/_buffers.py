"""Plain-Python helpers of the kernel entries: the buffers every cell allocates the
same way, and the cache a backward spends.

Index input (``x`` of shape ``(B, T)``, integers in ``[0, I)``) computes exactly what
its one-hot encoding would: the input projection is a gather of ``W_ih``'s columns
(one numpy ``take`` here, so the kernel skips its projection) and ``dW_ih`` a
scatter-add of the gate gradients (:func:`index_weight_grad`); ``dx`` is ``None``.
"""

import numpy as np

from ._grads import scatter_add_rows
from ._panel import pack_panels


# --8<-- [start:input_buffers]
def input_buffers(x, W_ih):
    """``(x for the kernel, gates, index_input, B, T)``.

    ``gates [B, T, G*H]`` receives the input projection: the kernel makes it from a
    float ``x``; for index input it is gathered here and the kernel gets an empty
    ``(B, T, 0)`` placeholder for ``x``.
    """
    B, T = x.shape[:2]
    if x.ndim == 2:
        gates = np.take(W_ih.T, x, axis=0)
        return np.empty((B, T, 0), W_ih.dtype), gates, True, B, T
    return x, np.empty((B, T, W_ih.shape[0]), W_ih.dtype), False, B, T
# --8<-- [end:input_buffers]


def input_grad_buffers(x, W_ih):
    """``(dx, dW_ih)`` for a backward: ``dx`` ``(B, T, 0)`` for index input."""
    if x.ndim == 2:
        return np.empty((*x.shape, 0), W_ih.dtype), np.empty_like(W_ih)
    return np.empty_like(x), np.empty_like(W_ih)


# --8<-- [start:index_weight_grad]
def index_weight_grad(x, dG, dW_ih):
    """``dW_ih`` of index input: a scatter-add of ``dG``'s rows into columns."""
    dW_T = np.empty((dW_ih.shape[1], dW_ih.shape[0]), dG.dtype)
    scatter_add_rows(x.reshape(-1), dG.reshape(-1, dG.shape[2]), dW_T)
    dW_ih[...] = dW_T.T
# --8<-- [end:index_weight_grad]


# --8<-- [start:history]
def history(training, B, T, H, dtype):
    """The per-step state history ``[B, T, H]`` a training forward keeps, or a
    1-step dummy otherwise."""
    return np.empty((B, T if training else 1, H), dtype)
# --8<-- [end:history]


# --8<-- [start:packed_weights]
def packed_transpose(W, pack):
    """``W.T`` packed for the forward's per-step products ``h @ W.T``
    (:func:`seqnet.kernels._panel.pack_panels` layout, 1-D), or an empty array when
    not ``pack`` (the kernels then run BLAS on ``W``)."""
    if not pack:
        return np.empty(0, W.dtype)
    return pack_panels(W.T[None])[0]


def packed(W, pack):
    """``W`` packed for the backward's per-step products ``dG @ W`` (1-D), or an
    empty array when not ``pack``."""
    if not pack:
        return np.empty(0, W.dtype)
    return pack_panels(W[None])[0]
# --8<-- [end:packed_weights]


def spend(cache, name):
    """Take ``cache[name]`` for a backward that writes over it; a second backward from
    the same cache raises instead of reading the overwritten values."""
    buffer = cache.pop(name, None)
    if buffer is None:
        raise ValueError("this forward's cache was spent by an earlier backward: run "
                         "forward(..., training=True) again before backward()")
    return buffer
