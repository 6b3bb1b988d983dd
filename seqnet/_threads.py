"""Thread pools: numba's for the kernels, OpenBLAS's for the matrix products.

A parallel kernel calls BLAS from inside a numba parallel region's neighbourhood;
with both pools at full size they oversubscribe the cores (measured here: an LSTM
training step at batch 128 took 836 ms against 48 ms). So while a parallel kernel
runs, every loaded OpenBLAS (numpy's and scipy's; numba's ``np.dot`` uses scipy's)
is held at one thread and numba owns the cores; the previous sizes come back after.
This is done with ``ctypes`` on the libraries already loaded, so seqnet needs no
extra dependency (it is what threadpoolctl does).

Several Python threads may call seqnet at once: the OpenBLAS sizes are saved by
the first to enter and restored by the last to leave, and under numba's
``workqueue`` threading layer (which aborts on concurrent parallel regions)
kernel calls take turns (:func:`parallel_call_guard`; the serial kernels too, whose
whole-sequence products run in parallel over long sequences). With the ``omp``
or ``tbb`` layers they run concurrently. Same input, same thread count: same bits.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import sys
import threading

import numba

_lock = threading.Lock()
_depth = 0
_saved = []
_libs = None


def _candidate_paths():
    paths = set()
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/maps") as f:
                for line in f:
                    path = line.rsplit(None, 1)[-1]
                    if path.startswith("/") and "openblas" in os.path.basename(path).lower():
                        paths.add(path)
        except OSError:
            pass
    import numpy
    import scipy

    for pkg in (numpy, scipy):
        base = os.path.dirname(os.path.dirname(pkg.__file__))
        for sub in (f"{pkg.__name__}.libs", f"{pkg.__name__}/.dylibs"):
            paths.update(glob.glob(os.path.join(base, sub, "*openblas*")))
    return sorted(paths)


def _openblas_libs():
    """(file name, set_num_threads, get_num_threads, get_corename) of every loaded
    OpenBLAS, found once (``get_corename`` may be None)."""
    global _libs
    if _libs is None:
        import scipy.linalg.cython_blas  # noqa: F401  (loads scipy's OpenBLAS)

        found = []
        for path in _candidate_paths():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for prefix in ("", "scipy_"):
                for suffix in ("", "64_"):
                    set_ = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
                    get_ = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                    core = getattr(lib, f"{prefix}openblas_get_corename{suffix}", None)
                    if set_ is not None and get_ is not None:
                        set_.argtypes, set_.restype = [ctypes.c_int], None
                        get_.argtypes, get_.restype = [], ctypes.c_int
                        if core is not None:
                            core.argtypes, core.restype = [], ctypes.c_char_p
                        found.append((os.path.basename(path), set_, get_, core))
        _libs = found
    return _libs


class _BlasSingleThreaded:
    """The context manager :func:`blas_single_threaded` returns (one shared
    instance: entering costs a lock and, at the outermost level, the ctypes calls)."""

    __slots__ = ()

    def __enter__(self):
        global _depth, _saved
        with _lock:
            if _depth == 0:
                libs = _openblas_libs()
                _saved = [get() for _, _, get, _ in libs]
                for (_, set_, _, _), n in zip(libs, _saved, strict=True):
                    if n != 1:
                        set_(1)
            _depth += 1
        return self

    def __exit__(self, *exc_info):
        global _depth
        with _lock:
            _depth -= 1
            if _depth == 0:
                for (_, set_, _, _), n in zip(_openblas_libs(), _saved, strict=True):
                    if n != 1:
                        set_(n)
        return False


_BLAS_SINGLE_THREADED = _BlasSingleThreaded()


def blas_single_threaded():
    """Hold every loaded OpenBLAS at one thread inside the ``with`` block.

    Re-entrant and safe across Python threads: the first to enter saves the sizes,
    the last to leave restores them.

    Returns
    -------
    context manager
    """
    return _BLAS_SINGLE_THREADED


@contextlib.contextmanager
def blas_threads(n=None):
    """Set every loaded OpenBLAS to ``n`` threads inside the block (``None``: leave
    them as they are); restore them after. For benchmarks, not thread-safe.

    Parameters
    ----------
    n : int, optional
        Threads for each OpenBLAS pool.
    """
    libs = _openblas_libs()
    saved = [get() for _, _, get, _ in libs]
    if n is not None:
        for _, set_, _, _ in libs:
            set_(int(n))
    try:
        yield
    finally:
        for (_, set_, _, _), k in zip(libs, saved, strict=True):
            set_(k)


_workqueue_lock = threading.Lock()


def parallel_call_guard():
    """A lock for parallel kernel calls when numba's threading layer needs one.

    numba's ``workqueue`` layer (used when neither TBB nor OpenMP is available)
    aborts the process if two Python threads run parallel regions at once; with
    ``omp`` or ``tbb`` concurrent calls are fine. Until the layer is chosen (the
    first parallel call) the lock is taken too.
    """
    try:
        layer = numba.threading_layer()
    except ValueError:  # not initialised yet
        layer = None
    if layer in (None, "workqueue"):
        return _workqueue_lock
    return contextlib.nullcontext()


def blas_info():
    """(library file, OpenBLAS core name, threads) of every loaded OpenBLAS.

    The core name is the kernel family OpenBLAS chose (e.g. ``Haswell`` when
    ``OPENBLAS_CORETYPE=Haswell`` is set, ``SkylakeX`` or ``Zen`` otherwise).
    """
    return [(name, core().decode() if core is not None else "unknown", get_())
            for name, _, get_, core in _openblas_libs()]


def blas_num_threads():
    """The thread counts of the loaded OpenBLAS libraries (for tests and reports)."""
    return [get() for _, _, get, _ in _openblas_libs()]


def usable_cores():
    """The cores this process may run on: its CPU affinity on Linux, else every
    core the machine has (at least 1).

    Returns
    -------
    int
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def set_num_threads(n):
    """Set the number of threads seqnet's parallel kernels use (numba's pool).

    Per Python thread, as in numba. A different thread count may change the last
    bits of a result (the work is split into one chunk per thread).

    Parameters
    ----------
    n : int
        Between 1 and ``numba.config.NUMBA_NUM_THREADS`` (the pool's size, fixed
        when numba starts: set the environment variable ``NUMBA_NUM_THREADS``
        before importing to change it).

    Raises
    ------
    TypeError
        ``n`` is not an integer.
    ValueError
        ``n`` is below 1 or above ``NUMBA_NUM_THREADS``.
    """
    from . import _checks

    n = _checks.positive_int(n, "n")
    limit = numba.config.NUMBA_NUM_THREADS
    if n > limit:
        raise ValueError(f"n must be at most {limit} (NUMBA_NUM_THREADS), got {n}")
    numba.set_num_threads(n)


def get_num_threads():
    """The number of threads seqnet's parallel kernels use.

    Returns
    -------
    int
        numba's thread count for the calling Python thread.
    """
    return numba.get_num_threads()
