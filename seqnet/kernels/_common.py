"""Small helpers shared by the cell kernels, and a strided GEMM.

The kernels keep their sequence buffers batch-first, ``[B, T, ...]``, as the
layers take and return them, so that no time-major copy of the input, the
output, their gradients or the caches is ever made. A step's slice ``a[:, t]``
is then a ``[B, ...]`` matrix whose rows are ``T*width`` elements apart: BLAS
takes that as its leading dimension (:func:`gemm`), and the gate passes index
``a[r, t]`` (a contiguous 1-D row) so that LLVM still vectorises them.
"""

import numpy as np
from llvmlite import ir
from numba import config, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .._config import JIT_OPTIONS, jit_pair
from ._panel import one_float_dtype, panel_gemm, panel_gemm_tn, tn_fits

_CHAR = ir.IntType(8)
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
        prod = (b.T if transb == ord("t") else b) @ (a.T if transa == ord("t") else a)
        c[:, :] = prod + c if beta else prod
        return 0

    def _prefetch(arr, index):  # noqa: F811
        """No cache hints outside numba."""


@njit(**JIT_OPTIONS)
def prefetch(a, start, stop):
    """Hint the cache to load elements ``[start, stop)`` of the 1-D array ``a``.

    A batch-first buffer's rows of one step are ``T*width`` elements apart, each a
    short run that the hardware prefetcher meets cold: the gate passes ask for the
    next row's runs while they work on this one.
    """
    step = max(1, 64 // a.itemsize)
    for i in range(start, stop, step):
        _prefetch(a, i)


@njit(**JIT_OPTIONS)
def prefetch_units(row, H, u0, u1, g0, g1):
    """:func:`prefetch` units ``[u0, u1)`` of gate blocks ``g0`` to ``g1 - 1`` of a
    ``[G*H]`` row (each block ``H`` wide)."""
    for g in range(g0, g1):
        prefetch(row, g * H + u0, g * H + u1)


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


@njit(**JIT_OPTIONS)
def gemm(A, B, C, beta, a_t, b_t):
    """``C = op(A) @ op(B) + beta * C`` for row-major 2-D views with unit inner stride.

    ``op(A)`` is ``A.T`` when ``a_t`` (likewise ``B``). The rows of each matrix may be
    any distance apart (a step's slice ``a[:, t]`` of a batch-first buffer, a column
    block ``a[:, j0:j1]``): the distance is BLAS's leading dimension, so nothing is
    copied. ``beta`` 0 or 1 (1 adds the product to ``C``). Mismatched shapes, views
    BLAS cannot take (inner stride not 1, overlapping or reversed rows) and a BLAS
    that cannot be loaded raise instead of computing something else.
    """
    M, N = C.shape
    K = A.shape[0] if a_t else A.shape[1]
    if ((A.shape[1] if a_t else A.shape[0]) != M or (B.shape[1] if b_t else B.shape[0]) != K
            or (B.shape[0] if b_t else B.shape[1]) != N):
        raise ValueError("gemm: the shapes of A, B and C do not match")
    if M == 0 or N == 0:
        return
    if K == 0:
        if beta == 0:
            C[:, :] = 0.0
        return
    lda, ldb, ldc = _blas_ld(A), _blas_ld(B), _blas_ld(C)
    if lda < 0 or ldb < 0 or ldc < 0:
        raise ValueError("gemm: every operand needs unit inner stride and rows that "
                         "neither overlap nor run backwards")
    # row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, and a
    # row-major matrix's memory is its transpose in column-major order.
    status = _xxgemm(ord("t") if b_t else ord("n"), ord("t") if a_t else ord("n"), N, M, K,
                     B, ldb, A, lda, beta, C, ldc)
    if status != 0:
        raise RuntimeError("gemm: no BLAS (numba could not load scipy's)")


@njit(**JIT_OPTIONS)
def chunk(k, n_chunks, rows):
    """Rows ``[start, stop)`` of chunk ``k`` when ``rows`` are split in ``n_chunks``."""
    return k * rows // n_chunks, (k + 1) * rows // n_chunks


@njit(**JIT_OPTIONS)
def forward_step(s, T, reverse):
    """The step ``t`` a forward time loop handles at its iteration ``s``."""
    return T - 1 - s if reverse else s


@njit(**JIT_OPTIONS)
def backward_step(s, T, reverse):
    """The step ``t`` a backward time loop of ``T + 1`` iterations handles at its
    iteration ``s``: the forward's steps in reverse order, then -1 (none: the last
    iteration only finishes the recurrent product of the step before)."""
    return -1 if s == T else (s if reverse else T - 1 - s)


@njit(**JIT_OPTIONS)
def keep_state(state, history, t):
    """``history[:, t] = state`` (``[B, H]`` into ``[B, T, H]``), row by row: one
    contiguous copy a row, which runs about five times faster than numba's 2-D
    strided slice assignment (0.27 against 1.47 ms for h and c at (64, 100, 256))."""
    H = state.shape[1]
    for r in range(state.shape[0]):
        dst, src = history[r, t], state[r]
        for j in range(H):
            dst[j] = src[j]


@njit(**JIT_OPTIONS)
def copy_rows(src, dst):
    """``dst[:] = src`` for 2-D views of one shape, row by row (as
    :func:`keep_state`)."""
    for r in range(src.shape[0]):
        d, s = dst[r], src[r]
        for j in range(src.shape[1]):
            d[j] = s[j]


@njit(**JIT_OPTIONS)
def set_valid_units(u0, u1, t, lengths, dh_k, dh):
    """``dh[r, u0:u1] = dh_k[r, :u1-u0]`` for the rows valid at step ``t``.

    ``dh_k [B, Hc]`` holds this chunk's recurrent product (``dG_t W[:, u0:u1]``).
    Rows past their length keep ``dh`` (their state was carried, so is its gradient).
    """
    n = u1 - u0
    for r in range(dh.shape[0]):
        if t < lengths[r]:
            dh[r, u0:u1] = dh_k[r, :n]


@njit(**JIT_OPTIONS)
def recurrent_product(A, panels, k0, W, w_t, C, beta):
    """``C (+)= A @ op(W)``, a step's recurrent product: through the register tile
    on ``panels`` (``W`` packed by :mod:`seqnet.kernels._panel`, its rows from
    ``k0`` on) when a call packed it, else BLAS on ``W`` itself (``op(W) = W.T``
    when ``w_t``; ``W`` then holds just the rows ``panels`` would give). ``beta``
    0 or 1."""
    if panels.shape[0] > 0:
        panel_gemm(A, panels, k0, C, beta)
    else:
        gemm(A, W, C, beta, False, w_t)


@njit(**JIT_OPTIONS)
def carry_back(dG, t, W_cols, W, lengths, dh_part, dh):
    """``dh = dG[:, t] @ W_hh`` for the rows valid at step ``t`` (``W_cols``: W_hh
    packed, or empty, see :func:`recurrent_product`; ``W``: W_hh; ``dh_part
    [B, H]`` a workspace): dL/dh of the state entering step ``t``."""
    recurrent_product(dG[:, t], W_cols, 0, W, False, dh_part, 0)
    set_valid_units(0, dh.shape[1], t, lengths, dh_part, dh)


@njit(**JIT_OPTIONS)
def add_valid_units(u0, u1, t, lengths, dh_k, dh):
    """``dh[r, u0:u1] += dh_k[r, :u1-u0]`` for the rows valid at step ``t`` (as
    :func:`set_valid_units`, adding)."""
    n = u1 - u0
    for r in range(dh.shape[0]):
        if t < lengths[r]:
            d, s = dh[r, u0:u1], dh_k[r, :n]
            for j in range(n):
                d[j] += s[j]


@njit(**JIT_OPTIONS)
def column_sums(a, out):
    """``out[k] = sum_n a[n, k]`` for a 2-D ``a``, summed in row order (deterministic)."""
    out[:] = 0.0
    for n in range(a.shape[0]):
        row = a[n]
        for k in range(out.shape[0]):
            out[k] += row[k]


@njit(**JIT_OPTIONS)
def scatter_add_rows(idx, src, out):
    """``out[idx[n]] += src[n]`` for every n, in order (deterministic); ``out`` zeroed first.

    The transpose of a gather: the weight gradient of a one-hot input given as
    indices. ``idx [N]`` int, ``src [N, K]``, ``out [V, K]``.
    """
    out[:] = 0.0
    for n in range(idx.shape[0]):
        o, s = out[idx[n]], src[n]
        for k in range(s.shape[0]):
            o[k] += s[k]


def _weight_grad_factory(rows):
    def weight_grad(dG, h, n_chunks, dW):
        """``dW = dG^T h`` for 2-D ``dG [N, R]`` and ``h [N, K]`` (column blocks of
        flattened sequence buffers allowed). Each chunk computes its own rows of
        ``dW`` (a GEMM over all N rows), so no partial sums are kept or added, and
        serial and parallel runs (the same chunks) give the same bits. The product
        is :func:`seqnet.kernels._panel.panel_gemm_tn` where its panels fit the
        width of ``dW`` (one thread, ``tools/profile/panel_products.py``: 95
        against OpenBLAS's 75 GFLOP/s on the char-LM's dW_hh chunk; time ratios
        0.75-1.08 over the grid's shapes, both dtypes), else BLAS."""
        R = dW.shape[0]
        for k in rows(n_chunks):
            r0, r1 = chunk(k, n_chunks, R)
            if tn_fits(dW.shape[1], dW.itemsize):
                panel_gemm_tn(dG[:, r0:r1], h, dW[r0:r1], 0)
            else:
                gemm(dG[:, r0:r1], h, dW[r0:r1], 0.0, True, False)

    return weight_grad


weight_grad_serial, weight_grad_parallel = jit_pair(_weight_grad_factory)


@njit(**JIT_OPTIONS)
def weight_grad(parallel, dG, h, n_chunks, dW):
    """`weight_grad_parallel` or `weight_grad_serial` (same arguments after
    ``parallel``). Kernels call this with their factory's ``parallel`` flag: a kernel
    that closed over one of the two dispatchers could not be cached."""
    if parallel:
        weight_grad_parallel(dG, h, n_chunks, dW)
    else:
        weight_grad_serial(dG, h, n_chunks, dW)


def _input_grad_factory(rows):
    def input_grad(dG, W_ih, n_chunks, dx):
        """``dx = dG W_ih`` for 2-D ``dG [N, G*H]``, ``dx [N, I]``, rows split in chunks."""
        N = dG.shape[0]
        for k in rows(n_chunks):
            n0, n1 = chunk(k, n_chunks, N)
            gemm(dG[n0:n1], W_ih, dx[n0:n1], 0.0, False, False)

    return input_grad


input_grad_serial, input_grad_parallel = jit_pair(_input_grad_factory)


def _projection_factory(rows):
    def projection(x, W_ih, n_chunks, gates):
        """``gates = x W_ih^T`` over the flattened ``[B*T, ...]`` rows, split in chunks."""
        N = x.shape[0] * x.shape[1]
        xf, gf = x.reshape(N, x.shape[2]), gates.reshape(N, gates.shape[2])
        for k in rows(n_chunks):
            n0, n1 = chunk(k, n_chunks, N)
            gemm(xf[n0:n1], W_ih, gf[n0:n1], 0.0, False, True)

    return projection


projection_serial, projection_parallel = jit_pair(_projection_factory)


@njit(**JIT_OPTIONS)
def input_projection(parallel, x, W_ih, n_chunks, gates):
    """The input projection of every step, ``gates[b, t] = W_ih x[b, t]``: one GEMM
    per chunk of the ``B*T`` rows, the chunks in parallel when ``parallel`` (a
    runtime flag: a serial kernel over a long sequence still splits this product)."""
    if parallel:
        projection_parallel(x, W_ih, n_chunks, gates)
    else:
        projection_serial(x, W_ih, n_chunks, gates)


@njit(**JIT_OPTIONS)
def add_weight_grad(dG, h, dW):
    """``dW += dG^T h`` on one thread, for 2-D views ``dG [K, R]``, ``h [K, N]``
    (a step's rows, any row stride): a weight gradient summed inside a time loop,
    step by step, so that ``h`` need not be kept for every step. The register tile
    (:func:`seqnet.kernels._panel.panel_gemm_tn`) where its panels fit ``N``, else
    BLAS."""
    if tn_fits(dW.shape[1], dW.itemsize):
        panel_gemm_tn(dG, h, dW, 1)
    else:
        gemm(dG, h, dW, 1.0, True, False)


@njit(**JIT_OPTIONS)
def add_initial_state_grad(dG, first, h0, work, dW):
    """``dW += sum_r dG[r, first[r]]^T h0[r]``: the weight-gradient term of the
    step each row of a block starts from, whose input state is ``h0``. ``dG
    [rows, T, >= R]`` (its first ``R = dW.shape[0]`` columns are read), ``first
    [rows]`` int, ``h0 [rows, N]``; ``work [rows, >= R]`` a workspace."""
    R = dW.shape[0]
    for r in range(h0.shape[0]):
        src, dst = dG[r, first[r]], work[r]
        for j in range(R):
            dst[j] = src[j]
    add_weight_grad(work[:, :R], h0, dW)


@njit(**JIT_OPTIONS)
def first_steps(lengths, reverse):
    """The step each row starts from: 0, or ``lengths[r] - 1`` when ``reverse``."""
    first = np.zeros(lengths.shape[0], np.int64)
    if reverse:
        for r in range(lengths.shape[0]):
            first[r] = lengths[r] - 1
    return first


@njit(**JIT_OPTIONS)
def add_parts(dW, parts):
    """``dW += parts[0] + parts[1] + ...``, in that order (deterministic): the
    partial weight gradients of row blocks ``1..n-1`` (block 0 wrote ``dW``)."""
    for k in range(parts.shape[0]):
        for i in range(dW.shape[0]):
            d, s = dW[i], parts[k, i]
            for j in range(dW.shape[1]):
                d[j] += s[j]


@njit(**JIT_OPTIONS)
def input_grads_of(parallel, gf, x, W_ih, n_chunks, dx, dW_ih):
    """``dx = dG W_ih`` and ``dW_ih = sum dG^T x`` over the flattened ``[B*T, ...]``
    rows (``gf`` is ``dG`` flattened), each split in ``n_chunks``."""
    N = gf.shape[0]
    xf = x.reshape(N, x.shape[2])
    if parallel:
        input_grad_parallel(gf, W_ih, n_chunks, dx.reshape(N, dx.shape[2]))
    else:
        input_grad_serial(gf, W_ih, n_chunks, dx.reshape(N, dx.shape[2]))
    weight_grad(parallel, gf, xf, n_chunks, dW_ih)


@njit(**JIT_OPTIONS)
def sequence_grads(parallel, dG, x, h_prev, W_ih, input_grads, n_chunks, dx, dW_ih, dW_hh):
    """The products after the time loop of every backward kernel.

    ``dG [B, T, G*H]`` is dL/d(pre-activations), ``x [B, T, I]``, ``h_prev [B, T, H]``.
    Fills ``dx = dG W_ih`` and ``dW_ih = sum dG^T x`` (when ``input_grads``) and
    ``dW_hh = sum dG[..., :R]^T h_prev`` with ``R = dW_hh.shape[0]`` (the GRU's n rows
    see another gradient and another input: it passes ``dW_hh[:2H]``). Each product
    is split in ``n_chunks``, one GEMM per thread (:func:`weight_grad`).
    """
    N = dG.shape[0] * dG.shape[1]
    gf = dG.reshape(N, dG.shape[2])
    R = dW_hh.shape[0]
    if input_grads:
        input_grads_of(parallel, gf, x, W_ih, n_chunks, dx, dW_ih)
    weight_grad(parallel, gf[:, :R], h_prev.reshape(N, h_prev.shape[2]), n_chunks, dW_hh)


@njit(**JIT_OPTIONS)
def _mixed_bit_sum(bits):
    """``sum_i mix(bits[i] ^ (i * K))`` modulo 2**64, ``mix`` the murmur3 finaliser.

    Each entry is mixed with its position before the sum, so structured changes
    (negating every entry, doubling it, swapping two entries) cannot cancel the
    way they would in a linear sum: a change goes unseen with probability ~2**-64.
    The terms are independent, so the loop vectorises.
    """
    total = np.uint64(0)
    k = np.uint64(0x9E3779B97F4A7C15)
    c1 = np.uint64(0xFF51AFD7ED558CCD)
    c2 = np.uint64(0xC4CEB9FE1A85EC53)
    s33 = np.uint64(33)
    for i in range(bits.size):
        z = np.uint64(bits[i]) ^ (np.uint64(i) * k)
        z ^= z >> s33
        z *= c1
        z ^= z >> s33
        z *= c2
        z ^= z >> s33
        total += z
    return total


def checksum(a):
    """A hash of a C-contiguous array's bits: each entry mixed with its position.

    The layers keep a reference to the caller's input for the backward pass; this
    hash, taken at the forward and again at the backward, tells whether the input
    was modified in place in between (any change, including ``x *= -1``, ``x *= 2``
    or a swap of two different entries, with probability ~1 - 2**-64).

    Parameters
    ----------
    a : ndarray
        C-contiguous, of a 4- or 8-byte dtype (float32, float64, int64, ...).

    Returns
    -------
    int
    """
    bits = a.reshape(-1).view(np.uint64 if a.itemsize == 8 else np.uint32)
    if config.DISABLE_JIT:  # pragma: no cover - NumPy scalars warn as they wrap
        with np.errstate(over="ignore"):
            return int(_mixed_bit_sum(bits))
    return int(_mixed_bit_sum(bits))
