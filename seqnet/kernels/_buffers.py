"""Plain-Python helpers of the kernel entries: the buffers every cell allocates the
same way, and the cache a backward spends.

Index input (``x`` of shape ``(B, T)``, integers in ``[0, I)``) computes exactly what
its one-hot encoding would: the input projection is a gather of ``W_ih``'s columns
(one numpy ``take`` here, so the kernel skips its projection) and ``dW_ih`` a
scatter-add of the gate gradients (:func:`index_weight_grad`); ``dx`` is ``None``.
"""

import threading
from collections import OrderedDict

import numpy as np

from ._grads import scatter_add_rows
from ._panel import pack_panels


class ScratchPool:
    """Large internal buffers kept between calls, so that an inference forward
    reuses its gate buffer instead of asking the OS for fresh pages every call.

    A fresh 52 MB buffer (the LSTM's gates at (128, 50, 512, 512), float32) is
    mapped and zeroed page by page by the kernel at its first write: 3.5 ms to fill
    against 1.6 ms for a buffer already mapped (one thread, this repository's
    2-core Xeon). Only buffers of at least ``min_bytes`` are kept, at most ``keep``
    of them (the least recently given back goes first). :meth:`take` removes the
    buffer it returns from the pool, so two threads never get the same one; a
    buffer taken and never given back is simply freed by Python.

    Parameters
    ----------
    keep : int
        Buffers held at most.
    min_bytes : int
        Smaller buffers are allocated afresh every time (cheap) and never kept.
    """

    def __init__(self, keep=2, min_bytes=1 << 20):
        self.keep = keep
        self.min_bytes = min_bytes
        self._free = OrderedDict()   # (shape, dtype) -> ndarray
        self._lock = threading.Lock()

    def take(self, shape, dtype):
        """An uninitialised C-contiguous array of ``shape`` and ``dtype``: a kept
        one when the pool has it, else a new one."""
        key = (tuple(shape), np.dtype(dtype))
        with self._lock:
            found = self._free.pop(key, None)
        return found if found is not None else np.empty(shape, dtype)

    def give(self, array):
        """Keep ``array`` (one that :meth:`take` returned and nothing else refers
        to) for a later :meth:`take` of its shape and dtype."""
        if array.nbytes < self.min_bytes or self.keep < 1:
            return
        key = (array.shape, array.dtype)
        with self._lock:
            self._free.pop(key, None)
            self._free[key] = array
            while len(self._free) > self.keep:
                self._free.popitem(last=False)

    def clear(self):
        """Drop every kept buffer (their memory goes back to the allocator)."""
        with self._lock:
            self._free.clear()

    @property
    def nbytes(self):
        """Bytes held by the kept buffers."""
        with self._lock:
            return sum(a.nbytes for a in self._free.values())


#: the gate buffers of inference forwards (see :func:`input_buffers`).
SCRATCH = ScratchPool()


# --8<-- [start:input_buffers]
def input_buffers(x, W_ih, scratch=False):
    """``(x for the kernel, gates, index_input, B, T)``.

    ``gates [B, T, G*H]`` receives the input projection: the kernel makes it from a
    float ``x``; for index input it is gathered here and the kernel gets an empty
    ``(B, T, 0)`` placeholder for ``x``. ``scratch``: the call keeps nothing of
    ``gates`` (an inference forward), so it comes from :data:`SCRATCH` and goes
    back with :func:`release` after the kernel.
    """
    B, T = x.shape[:2]
    if x.ndim == 2:
        gates = np.take(W_ih.T, x, axis=0)
        return np.empty((B, T, 0), W_ih.dtype), gates, True, B, T
    shape = (B, T, W_ih.shape[0])
    gates = SCRATCH.take(shape, W_ih.dtype) if scratch else np.empty(shape, W_ih.dtype)
    return x, gates, False, B, T


def release(gates, scratch):
    """Give an inference forward's ``gates`` back to :data:`SCRATCH` (when
    ``scratch``: the forward keeps nothing of it)."""
    if scratch:
        SCRATCH.give(gates)
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
