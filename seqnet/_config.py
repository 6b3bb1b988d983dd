"""The one place for numba flags, the default dtype and the serial/parallel choice.

Every kernel in :mod:`seqnet.kernels` is compiled with :data:`JIT_OPTIONS`. The
fastmath set leaves out ``nnan`` and ``ninf`` so that NaN and infinity stay honest
(``np.isnan`` lies under a bare ``fastmath=True``).
"""

from __future__ import annotations

import contextlib

import numpy as np
from numba import njit, prange

#: fastmath flags for every kernel: no ``nnan``/``ninf``, so NaN and inf propagate,
#: and no ``reassoc``, which lets LLVM undo the Cody-Waite split of ``exp``'s range
#: reduction (measured: sigmoid went from 2 to 107 ulp near |x| = 707 in float64).
FASTMATH = frozenset({"nsz", "arcp", "contract", "afn"})

#: keyword arguments shared by every ``@njit`` in ``seqnet.kernels``.
JIT_OPTIONS = {
    "cache": True,
    "fastmath": set(FASTMATH),
    "error_model": "numpy",
    "nogil": True,
}

#: dtype of a layer built without ``dtype=``.
DEFAULT_DTYPE = np.float32

#: dtypes the kernels are compiled for.
FLOAT_DTYPES = (np.float32, np.float64)

#: multiply-adds of one step's recurrent product (batch x gate width x hidden size)
#: from which the parallel kernels are used. Measured on 2 threads (float32, T=50,
#: I=H, every cell, B from 2 to 64, H from 32 to 256): below it the parallel region's
#: cost (~1-3 us a step) outweighs splitting the step; at it the two tie; above it
#: parallel wins, by 1.2-1.9x at 4x the threshold.
PARALLEL_MIN_WORK = 65536

#: multiply-adds of a whole-sequence product (B*T rows x gate width x max(input,
#: hidden size)) from which it is split between the threads even when the time loop
#: runs serially (about 25 us on one thread here; a parallel region costs 1-3 us).
SEQUENCE_MIN_WORK = 1 << 20

#: batch rows x steps from which a call packs ``W_hh`` for its per-step products
#: (:mod:`seqnet.kernels._panel`); below it they go to BLAS on ``W_hh`` as it is.
#: Packing moves ``G*H*H`` elements: at batch 1 and H = 128 about as long as 30
#: steps' savings, at batch 32 about two steps'. One-step calls (generating text
#: character by character) cost 2-3x more with packing (LSTM (1, 1, 40, 128)
#: forward: 62 against 34 us; (1, 1, 256, 512): 3.0 against 0.9 ms).
PACK_MIN_ROWS = 32

_MODES = ("auto", "serial", "parallel")
_mode = "auto"


def jit_pair(factory):
    """Compile a kernel twice: serially and with a ``prange`` loop over chunks.

    ``factory(rows)`` must return the kernel's Python function, written with
    ``for k in rows(n_chunks)`` around the calls of its serial helpers (each chunk
    a contiguous range of hidden units or of rows). The serial kernel gets
    ``range`` and the parallel one ``numba.prange``; being closures over different
    values, the two are cached separately.

    Returns
    -------
    (serial, parallel) : tuple of numba dispatchers
    """
    serial = njit(parallel=False, **JIT_OPTIONS)(factory(range))
    parallel = njit(parallel=True, **JIT_OPTIONS)(factory(prange))
    return serial, parallel


def big_enough(batch, width, hidden):
    """Whether a problem is big enough for the parallel kernels, by size alone.

    Parameters
    ----------
    batch : int
        Batch rows.
    width : int
        Gate width, ``G*H``.
    hidden : int
        Hidden size ``H`` (the recurrent product's inner dimension).

    Returns
    -------
    bool
        At least 2 rows and ``batch*width*hidden`` at least :data:`PARALLEL_MIN_WORK`.
    """
    return batch >= 2 and batch * width * hidden >= PARALLEL_MIN_WORK


def use_parallel(batch, width, hidden):
    """Whether a problem runs its parallel kernels: :func:`big_enough` in ``"auto"``
    mode, else what :func:`parallel_mode` forces.

    Parameters
    ----------
    batch, width, hidden : int
        As for :func:`big_enough`.

    Returns
    -------
    bool
    """
    if _mode == "serial":
        return False
    if _mode == "parallel":
        return True
    return big_enough(batch, width, hidden)


def get_parallel_mode():
    """The current kernel choice: ``"auto"``, ``"serial"`` or ``"parallel"``."""
    return _mode


@contextlib.contextmanager
def parallel_mode(mode):
    """Force the serial or parallel kernels inside a ``with`` block.

    Parameters
    ----------
    mode : {"auto", "serial", "parallel"}
        ``"auto"`` picks by problem size (:data:`PARALLEL_MIN_WORK`).
    """
    global _mode
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    old, _mode = _mode, mode
    try:
        yield
    finally:
        _mode = old
