"""The per-step recurrent products on weights packed once per sequence.

A step's recurrent product is small (``[B, H] @ [H, G*H]`` at batch 32-128) and is
made ``T`` times with the same weights. OpenBLAS repacks the weight operand on every
call and reached as little as 68 GFLOP/s a thread on these shapes (float32). Here
the weights are packed once, before the time loop, into *panels* of
:func:`panel_width` columns (``[P, K, NR]``: for every row ``k`` of the operand, the
panel's ``NR`` columns side by side), and each step runs a register tile over them:
``MR`` rows of ``A`` times one panel, ``MR x NR`` sums held in vector registers
through the whole ``K`` loop, one fused multiply-add per register and ``k``.
Measured side by side on one thread in session 4 (``python
tools/profile/panel_products.py 3``, OPENBLAS variables unset), on the hidden-unit
chunks' products the kernels then made at batch 32-128 of the benchmark grid:
114-116 GFLOP/s float32 and 55-58 float64, against 68-114 and 37-56 for OpenBLAS's
``sgemm``/``dgemm`` on the same products (time ratios 0.59-0.99); at batch 1, 55
against 51 and 28 against 15. ``docs/performance.md`` gives those shapes as a
``--shapes`` list; the script's defaults are now a row block's products.

The tile is LLVM vector code (an ``@intrinsic``): ``llvm.fma`` on
``<W x float>`` vectors, with ``W`` 16 float32 or 8 float64 lanes (one AVX-512
register; LLVM splits it on narrower machines). Each term is one fused
multiply-add in the dtype, as in BLAS's kernels; only the order of the additions
differs from BLAS's, so results agree to rounding, not bit for bit.
"""

import numpy as np
from llvmlite import ir
from numba import config, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .._config import JIT_OPTIONS, wide_vectors

#: vector registers across one panel (its width is this times the lanes of one).
_VECTORS = 4
#: rows of ``A`` in the main register tile (``_TILE_ROWS * _VECTORS`` sums).
_TILE_ROWS = 4
#: bytes of one panel row: every panel row, and so every panel, starts 64-byte aligned.
_ALIGN = 64


def panel_width(dtype):
    """Columns in one panel for ``dtype``: 64 float32, 32 float64 (4 x 64 bytes)."""
    return _VECTORS * 64 // np.dtype(dtype).itemsize


def one_float_dtype(c, *others):
    """Whether the numba types ``c`` and ``others`` are arrays of one float dtype
    (float32 or float64): what the intrinsics here and in ``_blas`` accept."""
    return (isinstance(c, types.Array) and c.dtype in (types.float32, types.float64)
            and all(isinstance(o, types.Array) and o.dtype == c.dtype for o in others))


def _make_tile(rows):
    """The register tile for ``rows`` rows of ``A`` as a numba intrinsic."""

    @intrinsic
    def tile(typingctx, a, a_off, a_rs, a_ks, panel, p_off, c, c_off, ldc, K, ncols, beta):
        """``C[r, j] (+)= sum_k A[r, k] * P[k, j]`` for ``r < rows``, ``j < ncols``.

        ``a``, ``panel``, ``c``: arrays of one float dtype, addressed from their data
        pointers by element offsets (``a_off + r*a_rs + k*a_ks``: ``A`` or, with
        the strides swapped, ``A^T``; ``p_off + k*NR + j``; ``c_off + r*ldc + j``);
        ``beta`` nonzero adds to ``C``.
        """
        if not one_float_dtype(c, a, panel):
            return None
        dtype = c.dtype
        sig = types.void(a, a_off, a_rs, a_ks, panel, p_off, c, c_off, ldc, K, ncols, beta)

        def codegen(context, builder, signature, args):
            st = signature.args
            a_v, p_v, c_v = args[0], args[4], args[6]
            a_off_v, a_rs_v, a_ks_v, p_off_v, c_off_v, ldc_v, k_v, ncols_v, beta_v = (
                context.cast(builder, args[i], st[i], types.intp)
                for i in (1, 2, 3, 5, 7, 8, 9, 10, 11))
            intp = cgutils.intp_t
            i32 = ir.IntType(32)
            fty = context.get_value_type(dtype)
            lanes = 16 if dtype == types.float32 else 8
            nr = lanes * _VECTORS
            vty = ir.VectorType(fty, lanes)
            vptr = vty.as_pointer()
            # element alignment only: a misaligned panel must not fault.
            fty_align = 4 if dtype == types.float32 else 8

            def const(v):
                return ir.Constant(intp, v)

            def base(ty, value, offset):
                return builder.gep(context.make_array(ty)(context, builder, value).data, [offset])

            a_p, p_p, c_p = base(st[0], a_v, a_off_v), base(st[4], p_v, p_off_v), base(
                st[6], c_v, c_off_v)
            fma = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vty, [vty, vty, vty]),
                f"llvm.fma.v{lanes}f{32 if lanes == 16 else 64}")
            zero = ir.Constant(vty, [ir.Constant(fty, 0.0)] * lanes)
            undef = ir.Constant(vty, ir.Undefined)
            splat = ir.Constant(ir.VectorType(i32, lanes), [ir.Constant(i32, 0)] * lanes)
            # the sums live in allocas that LLVM promotes to registers.
            sums = [[cgutils.alloca_once_value(builder, zero) for _ in range(_VECTORS)]
                    for _ in range(rows)]
            a_rows = [builder.gep(a_p, [builder.mul(const(r), a_rs_v)]) for r in range(rows)]
            with cgutils.for_range(builder, k_v) as loop:
                k = loop.index
                a_k = builder.mul(k, a_ks_v)
                p_row = builder.gep(p_p, [builder.mul(k, const(nr))])
                cols = [builder.load(builder.bitcast(builder.gep(p_row, [const(v * lanes)]), vptr),
                                     align=fty_align) for v in range(_VECTORS)]
                for r in range(rows):
                    s = builder.load(builder.gep(a_rows[r], [a_k]))
                    s = builder.insert_element(undef, s, ir.Constant(i32, 0))
                    s = builder.shuffle_vector(s, undef, splat)
                    for v in range(_VECTORS):
                        builder.store(builder.call(fma, [s, cols[v], builder.load(sums[r][v])]),
                                      sums[r][v])
            add = builder.icmp_signed("!=", beta_v, const(0))
            full = builder.icmp_signed(">=", ncols_v, const(nr))
            spill = cgutils.alloca_once(builder, fty, size=nr)
            for r in range(rows):
                c_row = builder.gep(c_p, [builder.mul(const(r), ldc_v)])
                with builder.if_else(full) as (whole, part):
                    with whole:
                        for v in range(_VECTORS):
                            dst = builder.bitcast(builder.gep(c_row, [const(v * lanes)]), vptr)
                            val = builder.load(sums[r][v])
                            with builder.if_then(add):
                                builder.store(builder.fadd(val, builder.load(dst, align=1)),
                                              sums[r][v])
                            builder.store(builder.load(sums[r][v]), dst, align=1)
                    with part:
                        # the last panel of a product whose width is not a multiple
                        # of the panel's: store its valid columns one by one.
                        for v in range(_VECTORS):
                            dst = builder.bitcast(builder.gep(spill, [const(v * lanes)]), vptr)
                            builder.store(builder.load(sums[r][v]), dst, align=1)
                        with cgutils.for_range(builder, ncols_v) as col:
                            j = col.index
                            dst = builder.gep(c_row, [j])
                            val = builder.load(builder.gep(spill, [j]))
                            old = builder.select(add, builder.load(dst), ir.Constant(fty, 0.0))
                            builder.store(builder.select(add, builder.fadd(val, old), val), dst)
            return context.get_dummy_value()

        return sig, codegen

    return tile


_tile_rows = _make_tile(_TILE_ROWS)
_tile_row = _make_tile(1)


@njit(**JIT_OPTIONS)
def _leading(X):
    """Elements between the rows of a 2-D view with unit inner stride."""
    return X.strides[0] // X.itemsize if X.shape[0] > 1 else X.shape[1]


# --8<-- [start:panel_gemm]
@njit(**JIT_OPTIONS)
def panel_gemm(A, panels, k0, C, beta):
    """``C (+)= A @ B[k0:k0 + A.shape[1]]`` with ``B`` packed by :func:`pack_panels`.

    Parameters
    ----------
    A : (M, Kp) 2-D view, unit inner stride, rows any distance apart
        (a step's slice ``a[:, t]`` of a batch-first buffer).
    panels : (P * K * NR,) one operand ``B`` of ``K`` rows and ``C.shape[1]``
        columns as packed by :func:`pack_panels` (``P = ceil(N / NR)``).
    k0 : int
        First row of ``B`` that ``A``'s columns meet (``k0 + Kp <= K``).
    C : (M, N) 2-D view, unit inner stride.
    beta : int
        0 overwrites ``C``, 1 adds the product to it.

    The callers (the kernels) pass matching shapes; nothing is checked here.
    """
    wide_vectors()
    M, Kp = A.shape
    N = C.shape[1]
    nr = _VECTORS * 64 // C.itemsize
    P = (N + nr - 1) // nr
    K = panels.shape[0] // (P * nr)
    lda, ldc = _leading(A), _leading(C)
    for p in range(P):
        off = (p * K + k0) * nr
        ncols = min(nr, N - p * nr)
        r = 0
        while r + _TILE_ROWS <= M:
            _tile_rows(A, r * lda, lda, 1, panels, off, C, r * ldc + p * nr, ldc, Kp, ncols,
                       beta)
            r += _TILE_ROWS
        while r < M:
            _tile_row(A, r * lda, lda, 1, panels, off, C, r * ldc + p * nr, ldc, Kp, ncols,
                      beta)
            r += 1
# --8<-- [end:panel_gemm]


# --8<-- [start:tn_fits]
@njit(**JIT_OPTIONS)
def tn_fits(N, itemsize):
    """Whether :func:`panel_gemm_tn` suits a product ``N`` columns wide: its last
    panel at least half used (a 65-wide one would compute 128 columns), and a
    packed block of ``h`` (``_K_BLOCK`` rows of ``N``) at most ``TN_PACK_BYTES``.
    Past that, BLAS: float64 at ``N = 512`` (a 512 KB block) ran at 80-87 GFLOP/s
    on two threads against OpenBLAS's 155, the LSTM's (128, 50, 512, 512) weight
    gradients (``tools/profile/weight_grads.py``, docs/performance.md); float32 at
    512 (256 KB) and float64 at 256 kept the tile's lead or tied."""
    nr = _VECTORS * 64 // itemsize
    if _K_BLOCK * N * itemsize > TN_PACK_BYTES:
        return False
    return N % nr == 0 or 2 * (N % nr) >= nr
# --8<-- [end:tn_fits]


#: rows of ``B`` (the sum's length) packed at a time by :func:`panel_gemm_tn`.
_K_BLOCK = 128

#: the largest packed block of :func:`panel_gemm_tn` (``_K_BLOCK`` rows of the
#: product's width): past it the block leaves the core's L2 and BLAS is faster.
TN_PACK_BYTES = 256 * 1024


def tn_work_size(dtype):
    """Elements of the work buffer :func:`panel_gemm_tn` packs into, for ``dtype``."""
    return _K_BLOCK * panel_width(dtype)


@njit(**JIT_OPTIONS)
def new_tn_work(C):
    """A work buffer for :func:`panel_gemm_tn` products into ``C`` (its dtype)."""
    return np.empty(_K_BLOCK * (_VECTORS * 64 // C.itemsize), C.dtype)


@njit(**JIT_OPTIONS)
def panel_gemm_tn(A, B, C, beta, work):
    """``C (+)= A.T @ B`` for the weight gradients, ``sum_n dG[n]^T h[n]``.

    Parameters
    ----------
    A : (K, M) 2-D view, unit inner stride (a column block of ``dG [B*T, G*H]``).
    B : (K, N) 2-D view, unit inner stride (``h`` or ``x`` over all ``B*T`` rows).
    C : (M, N) 2-D view, unit inner stride.
    beta : int
        0 overwrites ``C``, 1 adds the product to it.
    work : (tn_work_size(dtype),) 1-D, C's dtype
        Where ``B`` is packed, :data:`_K_BLOCK` rows and one panel at a time (the
        caller's, so that a time loop calling this allocates nothing).

    The register tile reads ``A`` transposed (its ``k``-th row holds the
    multipliers of every row of ``C``). Each entry's sum runs over ``k`` in order,
    one fused multiply-add at a time.
    """
    wide_vectors()
    K, M = A.shape
    N = C.shape[1]
    nr = _VECTORS * 64 // C.itemsize
    if K == 0:
        if beta == 0:
            C[:, :] = 0.0
        return
    lda, ldc = _leading(A), _leading(C)
    for k0 in range(0, K, _K_BLOCK):
        kb = min(_K_BLOCK, K - k0)
        add = beta if k0 == 0 else 1
        for p in range((N + nr - 1) // nr):
            c0 = p * nr
            w = min(nr, N - c0)
            for k in range(kb):
                dst = work[k * nr:(k + 1) * nr]
                src = B[k0 + k, c0:c0 + w]
                for j in range(w):
                    dst[j] = src[j]
                for j in range(w, nr):
                    dst[j] = 0.0
            r = 0
            while r + _TILE_ROWS <= M:
                _tile_rows(A, k0 * lda + r, 1, lda, work, 0, C, r * ldc + c0, ldc, kb, w, add)
                r += _TILE_ROWS
            while r < M:
                _tile_row(A, k0 * lda + r, 1, lda, work, 0, C, r * ldc + c0, ldc, kb, w, add)
                r += 1


if config.DISABLE_JIT:  # pragma: no cover - exercised by tox -e coverage
    def panel_gemm(A, panels, k0, C, beta):  # noqa: F811 - the pure-NumPy twin
        """``C (+)= A @ B[k0:k0 + A.shape[1]]`` (NumPy, for ``NUMBA_DISABLE_JIT=1``)."""
        N = C.shape[1]
        nr = panel_width(C.dtype)
        P = -(-N // nr)
        K = panels.shape[0] // (P * nr)
        B = panels.reshape(P, K, nr).transpose(1, 0, 2).reshape(K, P * nr)
        prod = A @ B[k0:k0 + A.shape[1], :N]
        C[:, :] = prod + C if beta else prod

    def panel_gemm_tn(A, B, C, beta, work):  # noqa: F811 - the pure-NumPy twin
        """``C (+)= A.T @ B`` (NumPy, for ``NUMBA_DISABLE_JIT=1``)."""
        prod = A.T @ B
        C[:, :] = prod + C if beta else prod


@njit(**JIT_OPTIONS)
def _pack(B, out):
    """``out[i, (p*K + k)*NR + j] = B[i, k, p*NR + j]`` (0 past column ``N``)."""
    wide_vectors()
    n, K, N = B.shape
    nr = _VECTORS * 64 // B.itemsize
    for i in range(n):
        for p in range((N + nr - 1) // nr):
            c0 = p * nr
            w = min(nr, N - c0)
            for k in range(K):
                # (slices indexed from 0 let LLVM drop numba's index checks)
                dst = out[i, (p * K + k) * nr:(p * K + k + 1) * nr]
                src = B[i, k, c0:c0 + w]
                for j in range(w):
                    dst[j] = src[j]
                for j in range(w, nr):
                    dst[j] = 0.0


def empty_panels(n, K, N, dtype):
    """An uninitialised, 64-byte aligned ``(n, P * K * NR)`` array for ``n`` packed
    ``[K, N]`` operands (``P = ceil(N / NR)``)."""
    dtype = np.dtype(dtype)
    nr = panel_width(dtype)
    size = -(-N // nr) * K * nr
    raw = np.empty(n * size * dtype.itemsize + _ALIGN, np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start:start + n * size * dtype.itemsize].view(dtype).reshape(n, size)


def pack_panels(B):
    """Pack ``n`` operands ``B[i]`` (``[K, N]`` each) for :func:`panel_gemm`.

    Returns a C-contiguous ``(n, P * K * NR)`` array, 64-byte aligned, where
    ``out[i].reshape(P, K, NR)[p, k, j] = B[i, k, p*NR + j]`` (zero past column
    ``N``). ``B`` may be any strided view, a transposed one included.
    """
    out = empty_panels(B.shape[0], B.shape[1], B.shape[2], B.dtype)
    _pack(B, out)
    return out
