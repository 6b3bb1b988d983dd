"""The one place for numba flags and the default dtype.

Every kernel in :mod:`seqnet.kernels` is compiled with :data:`JIT_OPTIONS`. The
fastmath set leaves out ``nnan`` and ``ninf`` so that NaN and infinity stay honest
(``np.isnan`` lies under a bare ``fastmath=True``).

numba's on-disk cache is keyed by a kernel's own source file, not by these flags: in
a working tree, delete the ``__pycache__/*.nbi``/``*.nbc`` files after changing them
(an installed release brings new files, so its cache starts afresh).
"""

from __future__ import annotations

import sys
import threading
import types
from typing import NamedTuple

import numpy as np
from numba import config, njit
from numba import types as nb_types
from numba.core import event
from numba.core.cpu_options import ParallelOptions
from numba.extending import intrinsic

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

#: the LLVM function attribute :func:`wide_vectors` gives the function it is called in.
WIDE_VECTORS_ATTRIBUTE = '"prefer-vector-width"="512"'


@intrinsic
def wide_vectors(typingctx):
    """Let LLVM vectorise the loops of the calling kernel with 512-bit registers.

    LLVM's tuning for AVX-512 Xeons prefers 256-bit vectors (``prefer-256-bit``),
    so numba's loops run on half the lanes the machine has. Called first thing in
    a compiled function, this sets the function's ``prefer-vector-width`` to 512,
    which overrides that preference for it alone (the products' register tile
    already uses 512-bit vectors explicitly). On a machine without AVX-512 it
    changes nothing. Measured on an AVX-512 Xeon (docs/performance.md, "Wider
    vectors"): the LSTM gate pass 3.9 to 3.1-3.2 ns per unit and step, the cells'
    forward plus backward 1-12 % faster. Every ``@njit`` helper of
    ``seqnet.kernels`` (and ``seqnet._checksum``) with a loop calls it
    (tests/unit/test_wide_vectors.py). The ``jit_pair`` kernel entries do not:
    their loops are time loops around helper calls, and numba compiles a
    ``prange`` body as a function of its own, which an attribute on the entry
    would not reach.
    """
    def codegen(context, builder, signature, args):
        # llvmlite's attribute set accepts keyword attributes only; a key="value"
        # string attribute is written to the IR as it is, so it goes in past
        # that check.
        set.add(builder.function.attributes, WIDE_VECTORS_ATTRIBUTE)
        return context.get_dummy_value()

    return nb_types.none(), codegen


if config.DISABLE_JIT:  # pragma: no cover - exercised by tox -e coverage
    def wide_vectors():  # noqa: F811
        """No code generation outside numba: nothing to do."""


#: dtype of a layer built without ``dtype=``.
DEFAULT_DTYPE = np.float32

#: dtypes the kernels are compiled for.
FLOAT_DTYPES = (np.float32, np.float64)


#: numba's parallel options for the parallel kernels: only the explicit ``prange``
#: loops run in parallel. numba's other conversions (an array assignment such as
#: ``hT[:] = h0`` made a parallel loop of its own) would open a parallel region for
#: a few hundred elements, and its dead-code pass dropped such an assignment to an
#: array unpacked from a tuple argument (``db_hh[:] = db_ih`` in the reset_before
#: GRU's backward, seen in numba 0.68; the gradient-check suite caught it).
PRANGE_ONLY = {"comprehension": False, "reduction": False, "inplace_binop": False,
               "setitem": False, "numpy": False, "stencil": False, "fusion": False,
               "prange": True}


class KernelPair(NamedTuple):
    """The two compilations of one kernel (:func:`jit_pair`), indexed by a bool:
    ``kernel[parallel]`` is the parallel one when ``parallel`` is true."""

    #: ``prange`` runs as ``range``: one thread, no parallel region.
    serial: object
    #: ``prange`` loops run on numba's threads.
    parallel: object


def jit_pair(function):
    """Compile a kernel twice, serially and in parallel, each cached on its own.

    ``function`` is written with ``numba.prange`` around its independent blocks of
    rows (or chunks of a product). numba runs ``prange`` as ``range`` when
    ``parallel=False``, so one source gives both. numba's cache index is named after
    the function's qualified name and knows nothing of ``parallel``, so the parallel
    one is compiled from a copy named ``<name>__parallel``: the two never read each
    other's cache entries. The parallel one parallelises its ``prange`` loops only
    (:data:`PRANGE_ONLY`). Each is compiled lazily, at its first call: a run that
    never calls the parallel kernel (or the serial one) never compiles it.

    A kernel's ``prange`` body starts ``k = np.int64(k_)``: numba types the body
    first as a plain loop (an ``int64`` index), then as the parallel region's
    function (a ``uint64`` index), so every helper taking the index would be
    compiled twice. For the same reason a kernel copies arrays with
    ``_steps.copy_rows``, not ``a[:] = b``, whose shape check compiles numba's
    string formatting for its error message (40 functions), and starts
    ``t_next = np.int64(-1)``, not ``-1`` (a literal type: one more compile of
    every helper it reaches). Together these took the README's first run from 105
    compiled specialisations to 56 (54 since ``gemm`` compiles its body once per
    dtype).

    Parameters
    ----------
    function : Python function
        The kernel's source.

    Returns
    -------
    KernelPair
        ``(serial, parallel)`` numba dispatchers.
    """
    twin = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                              function.__defaults__, function.__closure__)
    twin.__qualname__ = function.__qualname__ + "__parallel"
    twin.__doc__ = function.__doc__
    twin.__module__ = function.__module__
    # an options object, not a dict: numba empties a dict as it reads it, so every
    # signature compiled after the first would get all its conversions back.
    prange_only = ParallelOptions(dict(PRANGE_ONLY))
    return KernelPair(njit(parallel=False, **JIT_OPTIONS)(function),
                      njit(parallel=prange_only, **JIT_OPTIONS)(twin))


#: print :data:`COMPILE_NOTICE_TEXT` on stderr when a kernel compiles (the first time
#: in a process); set it to False to keep stderr quiet.
COMPILE_NOTICE = True

#: the one line printed when seqnet's kernels start compiling (not when numba loads
#: them from its cache).
COMPILE_NOTICE_TEXT = ("seqnet: compiling the kernels this run uses for this machine "
                       "(a few seconds each, once; later runs load them from numba's cache)")


class _CompileNotice(event.Listener):
    """Prints the one-line compile notice on the first compile of a seqnet function.

    numba broadcasts ``"numba:compile"`` only when it really compiles: a signature
    loaded from the on-disk cache raises no event, so a warm run prints nothing.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.printed = False

    def on_start(self, event_):
        dispatcher = event_.data["dispatcher"]
        module = getattr(dispatcher.py_func, "__module__", "") or ""
        if self.printed or not COMPILE_NOTICE or not module.startswith("seqnet."):
            return
        with self._lock:
            if not self.printed:
                self.printed = True
                print(COMPILE_NOTICE_TEXT, file=sys.stderr, flush=True)

    def on_end(self, event_):
        pass


#: the listener, registered once when this module is imported.
_COMPILE_NOTICE = _CompileNotice()
event.register("numba:compile", _COMPILE_NOTICE)
