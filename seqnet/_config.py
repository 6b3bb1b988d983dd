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

#: batch rows times gate width from which the parallel kernels are used.
PARALLEL_MIN_WORK = 8192

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


def use_parallel(batch, width):
    """Whether a problem of ``batch`` rows and gate width ``width`` runs in parallel."""
    if _mode == "serial":
        return False
    if _mode == "parallel":
        return True
    return batch >= 2 and batch * width >= PARALLEL_MIN_WORK


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
