"""BLAS and cache hints for the kernels: a strided GEMM and a prefetch.

The kernels keep their sequence buffers batch-first, ``[B, T, ...]``, as the
layers take and return them, so that no time-major copy of the input, the
output, their gradients or the caches is ever made. A step's slice ``a[:, t]``
is then a ``[B, ...]`` matrix whose rows are ``T*width`` elements apart: BLAS
takes that as its leading dimension (:func:`gemm`), and the gate passes index
``a[r, t]`` (a contiguous 1-D row) so that LLVM still vectorises them, asking the
cache for the next row's run ahead of time (:func:`prefetch`).
"""

import numpy as np
from llvmlite import ir
from numba import config, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .._config import JIT_OPTIONS, wide_vectors
from ._panel import one_float_dtype

_CHAR = ir.IntType(8)
#: BLAS's ``trans`` character codes, as integers: ``ord("t")`` inside a kernel
#: compiled numba's string functions (three more specialisations at first use).
_TRANS, _NO_TRANS = ord("t"), ord("n")
_VOIDP = ir.IntType(8).as_pointer()


@intrinsic
def _xxgemm(typingctx, transa, transb, m, n, k, a, lda, b, ldb, beta, c, ldc):
    """BLAS ``?gemm`` through numba's own ``numba_xxgemm`` (scipy's OpenBLAS, the
    library ``np.dot`` calls): column-major ``C[m, n] = op(A) op(B) + beta C`` with
    alpha 1. ``transa``, ``transb``: character codes (``ord("n")``/``ord("t")``);
    ``a``, ``b``, ``c``: arrays of one float dtype, passed by their data pointers."""
    if not one_float_dtype(c, a, b):
        return None
    dtype = c.dtype
    sig = types.intc(transa, transb, m, n, k, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        ta, tb, m_v, n_v, k_v, a_v, lda_v, b_v, ldb_v, beta_v, c_v, ldc_v = args
        st = signature.args
        intp = cgutils.intp_t
        fnty = ir.FunctionType(ir.IntType(32), [_CHAR, _CHAR, _CHAR, intp, intp, intp, _VOIDP,
                                                _VOIDP, intp, _VOIDP, intp, _VOIDP, _VOIDP, intp])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")

        def data(ty, value):
            return builder.bitcast(context.make_array(ty)(context, builder, value).data, _VOIDP)

        def as_intp(ty, value):
            return context.cast(builder, value, ty, types.intp)

        alpha = cgutils.alloca_once_value(builder, context.get_constant(dtype, 1.0))
        beta_slot = cgutils.alloca_once_value(builder, context.cast(builder, beta_v, st[9], dtype))
        kind = ir.Constant(_CHAR, ord("s" if dtype == types.float32 else "d"))
        return builder.call(fn, (
            kind, builder.trunc(as_intp(st[0], ta), _CHAR),
            builder.trunc(as_intp(st[1], tb), _CHAR),
            as_intp(st[2], m_v), as_intp(st[3], n_v), as_intp(st[4], k_v),
            builder.bitcast(alpha, _VOIDP), data(st[5], a_v), as_intp(st[6], lda_v),
            data(st[7], b_v), as_intp(st[8], ldb_v), builder.bitcast(beta_slot, _VOIDP),
            data(st[10], c_v), as_intp(st[11], ldc_v)))

    return sig, codegen


@intrinsic
def _prefetch(typingctx, arr, index):
    """A hint to load the cache line holding ``arr``'s element ``index`` (1-D)."""
    if not isinstance(arr, types.Array) or arr.ndim != 1:
        return None
    sig = types.void(arr, index)

    def codegen(context, builder, signature, args):
        a, idx = args
        ary = context.make_array(signature.args[0])(context, builder, a)
        stride = builder.extract_value(ary.strides, 0)
        offset = builder.mul(context.cast(builder, idx, signature.args[1], types.intp), stride)
        ptr = builder.gep(builder.bitcast(ary.data, _VOIDP), [offset])
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [_VOIDP, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # read, high locality, data cache
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


if config.DISABLE_JIT:  # pragma: no cover - exercised by tox -e coverage
    # intrinsics have no Python body: their NumPy twins for NUMBA_DISABLE_JIT=1.
    def _xxgemm(transa, transb, m, n, k, a, lda, b, ldb, beta, c, ldc):  # noqa: F811
        """The row-major product :func:`gemm` asks of BLAS, in NumPy."""
        prod = (b.T if transb == _TRANS else b) @ (a.T if transa == _TRANS else a)
        c[:, :] = prod + c if beta else prod
        return 0

    def _prefetch(arr, index):  # noqa: F811
        """No cache hints outside numba."""


# --8<-- [start:prefetch]
@njit(**JIT_OPTIONS)
def prefetch(a, start, stop):
    """Hint the cache to load elements ``[start, stop)`` of the 1-D array ``a``.

    A batch-first buffer's rows of one step are ``T*width`` elements apart, each a
    short run that the hardware prefetcher meets cold: the gate passes ask for the
    next row's runs while they work on this one.
    """
    wide_vectors()
    step = max(1, 64 // a.itemsize)
    for i in range(start, stop, step):
        _prefetch(a, i)
# --8<-- [end:prefetch]


@njit(**JIT_OPTIONS)
def _blas_ld(X):
    """BLAS's leading dimension of a row-major 2-D view, or -1 where BLAS cannot
    take the view as it is (inner stride not 1, rows overlapping or reversed)."""
    rows, cols = X.shape
    size = X.itemsize
    if cols > 1 and X.strides[1] != size:
        return -1
    if rows > 1 and (X.strides[0] % size != 0 or X.strides[0] // size < cols):
        return -1
    return max(X.strides[0] // size if rows > 1 else cols, cols, 1)


# --8<-- [start:gemm]
@njit(**JIT_OPTIONS)
def gemm(A, B, C, beta, a_t, b_t):
    """``C = op(A) @ op(B) + beta * C`` for row-major 2-D views (see :func:`_gemm`).

    numba compiles a function once per layout of its array arguments, and the
    kernels pass C-contiguous buffers and strided views in five combinations.
    This wrapper views all three as any-layout arrays (``X[:, :n]`` types as
    ``'A'``), so that the body is compiled once per dtype: five small wrappers
    instead of five copies of the body at a first run.
    """
    _gemm(A[:, :A.shape[1]], B[:, :B.shape[1]], C[:, :C.shape[1]], np.float64(beta),
          bool(a_t), bool(b_t))


@njit(**JIT_OPTIONS)
def _gemm(A, B, C, beta, a_t, b_t):
    """``C = op(A) @ op(B) + beta * C`` for row-major 2-D views.

    ``op(A)`` is ``A.T`` when ``a_t`` (likewise ``B``). The rows of each matrix may be
    any distance apart (a step's slice ``a[:, t]`` of a batch-first buffer, a column
    block ``a[:, j0:j1]``): the distance is BLAS's leading dimension, so nothing is
    copied. ``beta`` 0 or 1 (1 adds the product to ``C``).

    Like every kernel it never raises, and it never computes something else: the
    kernel entries allocate every buffer to size and pass C-contiguous weights, so
    shapes that do not match, views BLAS cannot take (inner stride not 1,
    overlapping or reversed rows) or a BLAS that cannot be loaded are a bug, and
    ``C`` is then filled with NaN, so that the mistake shows.
    """
    M, N = C.shape
    K = A.shape[0] if a_t else A.shape[1]
    if ((A.shape[1] if a_t else A.shape[0]) != M or (B.shape[1] if b_t else B.shape[0]) != K
            or (B.shape[0] if b_t else B.shape[1]) != N):
        C[:, :] = np.nan
        return
    if M == 0 or N == 0:
        return
    if K == 0:
        if beta == 0:
            C[:, :] = 0.0
        return
    lda, ldb, ldc = _blas_ld(A), _blas_ld(B), _blas_ld(C)
    if lda < 0 or ldb < 0 or ldc < 0:
        C[:, :] = np.nan
        return
    # row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, and a
    # row-major matrix's memory is its transpose in column-major order.
    status = _xxgemm(_TRANS if b_t else _NO_TRANS, _TRANS if a_t else _NO_TRANS, N, M, K,
                     B, ldb, A, lda, beta, C, ldc)
    if status != 0:
        C[:, :] = np.nan
# --8<-- [end:gemm]
