"""How a kernel call runs: serial or parallel, row blocks, packed weights.

One policy for every cell. A kernel entry (``seqnet.kernels.<cell>.forward`` and
``backward``) asks :func:`plan` how to run a problem of its size, allocates its
buffers by the answer and makes its one compiled call, the serial or the parallel
compilation (``kernel[how.parallel]``), inside :func:`guard`.

The measured thresholds:

- :data:`PARALLEL_MIN_WORK`: from this many multiply-adds in one step's recurrent
  product, the time loop runs in row blocks, one per thread (the parallel kernel).
- :data:`SEQUENCE_MIN_WORK`: from this many in a whole-sequence product (the input
  projection, ``dx``, the weight gradients), that product is split between the
  threads even when the time loop runs serially.
- :data:`PACK_MIN_ROWS`: from this many batch rows x steps, ``W_hh`` is packed once
  per call for the register tile (:mod:`seqnet.kernels._panel`).

:func:`parallel_mode` forces the serial or the parallel kernels (the
gradient-check suite runs both); a forced mode always splits the rows in one block
per thread and packs, so that the serial and parallel runs take the same code
paths and agree bit for bit.
"""

from __future__ import annotations

import contextlib
import os
from typing import NamedTuple

import numba

from . import _threads

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


class Plan(NamedTuple):
    """How one kernel call runs (see :func:`plan`).

    Attributes
    ----------
    parallel : bool
        Run the parallel kernel: its ``prange`` loops, over the row blocks and over
        the chunks of the whole-sequence products, on numba's threads (the serial
        kernel runs them in turn).
    blocks : int
        Blocks of batch rows; each runs the whole time loop for its rows.
    seq_chunks : int
        Chunks of each whole-sequence product (input projection, ``dx``, weight
        gradients), one GEMM each.
    pack : bool
        Pack ``W_hh`` once for the per-step products (else BLAS on ``W_hh``).
    """

    parallel: bool
    blocks: int
    seq_chunks: int
    pack: bool


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


def plan_threads_from_environment():
    """``SEQNET_PLAN_THREADS`` as :func:`set_plan_threads` takes it (None: unset).

    Returns
    -------
    int or None

    Raises
    ------
    ValueError
        It is set to something else than a positive integer.
    """
    text = os.environ.get("SEQNET_PLAN_THREADS", "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"SEQNET_PLAN_THREADS must be a positive integer, got {text!r}")
    return int(text)


#: the thread count :func:`plan` partitions for, when set (:func:`set_plan_threads`,
#: or ``SEQNET_PLAN_THREADS`` in the environment at import); None: numba's own.
_plan_threads = plan_threads_from_environment()


def set_plan_threads(n):
    """Partition every call as if numba had ``n`` threads (None: as it has).

    A call's row blocks and whole-sequence chunks follow the thread count
    (:func:`plan`), and with them the order of some sums: a run on one thread and a
    run on two round differently. A Dask worker of `seqnet.distributed` runs on
    fewer threads than the process it stands in for; partitioning for that
    process's count (``SEQNET_PLAN_THREADS`` in the worker's environment, read by
    ``seqnet.distributed._worker``) gives its results bit for bit, the blocks then
    taking turns on the worker's threads.

    Parameters
    ----------
    n : int or None
        At least 1.

    Raises
    ------
    ValueError
        ``n`` not a positive integer or None.
    """
    global _plan_threads
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive integer or None, got {n!r}")
    _plan_threads = n


def get_plan_threads():
    """The thread count :func:`plan` partitions for: :func:`set_plan_threads`'s, else
    numba's."""
    return _plan_threads or numba.get_num_threads()


def plan(batch, steps, width, inputs, hidden):
    """How a call over ``batch`` rows of ``steps`` steps runs.

    - ``blocks``: numba's thread count (or :func:`set_plan_threads`'s; at most
      ``batch``) for a problem whose
      per-step product is :func:`big_enough`, else 1. On packed weights a row's sums
      are made in the same order whatever block it is in, so there the block count
      changes no bit; BLAS (a short call) may round a block's product differently
      from the whole batch's.
    - ``seq_chunks``: in ``"auto"`` mode one chunk per thread once
      ``batch*steps*width*max(inputs, hidden)`` reaches :data:`SEQUENCE_MIN_WORK`
      (also when the time loop has one block: batch 1 over a long sequence), else 1.
    - ``parallel``: in ``"auto"`` mode, whenever there are several blocks or
      several chunks (a serial kernel never calls parallel code).
    - ``pack``: from :data:`PACK_MIN_ROWS` rows x steps in ``"auto"`` mode.

    A forced mode (:func:`parallel_mode`) gets one block and one chunk per thread
    and packs, whichever kernel it forces, so that the serial and parallel runs
    agree bit for bit.

    Parameters
    ----------
    batch, steps : int
        Rows ``B`` and steps ``T`` of the call.
    width : int
        Gate width ``G*H``.
    inputs, hidden : int
        Input features ``I`` (``W_ih``'s columns: the vocabulary size for index
        input) and hidden size ``H``.

    Returns
    -------
    Plan
    """
    threads = get_plan_threads()
    rows = batch * steps
    if _mode != "auto":
        return Plan(_mode == "parallel", max(1, min(threads, batch)), threads, True)
    blocks = max(1, min(threads, batch)) if big_enough(batch, width, hidden) else 1
    split = threads > 1 and rows * width * max(inputs, hidden) >= SEQUENCE_MIN_WORK
    seq_chunks = threads if split else 1
    return Plan(blocks > 1 or seq_chunks > 1, blocks, seq_chunks, rows >= PACK_MIN_ROWS)


class _Guard:
    """The context :func:`guard` returns: every OpenBLAS held at one thread and, under
    numba's ``workqueue`` threading layer, one kernel call at a time."""

    __slots__ = ("_lock",)

    def __enter__(self):
        _threads.blas_single_threaded().__enter__()
        try:
            self._lock = _threads.parallel_call_guard()
            self._lock.__enter__()
        except BaseException:
            _threads.blas_single_threaded().__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info):
        try:
            self._lock.__exit__(*exc_info)
        finally:
            _threads.blas_single_threaded().__exit__(*exc_info)
        return False


def guard():
    """The context every compiled kernel call runs in.

    numba's threads own the cores, so every loaded OpenBLAS is held at one thread
    (a kernel's products call BLAS from numba's threads); under numba's ``workqueue``
    threading layer, which aborts when two Python threads run parallel regions at
    once, kernel calls take turns (the serial kernels too: their whole-sequence
    products may run in parallel). A kernel entry calls::

        with _dispatch.guard():
            lstm_seq_forward[how.parallel](...)

    Returns
    -------
    context manager
    """
    return _Guard()


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

    Raises
    ------
    ValueError
        ``mode`` is not one of the three.
    """
    global _mode
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    old, _mode = _mode, mode
    try:
        yield
    finally:
        _mode = old

