"""The whole-sequence products around the time loop, shared by every cell: the
input projection before it, and ``dx`` and the weight and bias gradients after it
(or summed inside it, step by step, where that saves a ``[B, T, H]`` history).

Each whole-sequence product splits its output in ``n`` chunks, one GEMM over all
``B*T`` rows each, so no partial sums are kept or added: serial and parallel runs of
the same chunks give the same bits. A helper here makes one chunk; each compiled
kernel loops over the chunks with its own ``prange`` (in parallel in the parallel
kernel, in turn in the serial one). So no serial kernel calls parallel code: a
serial kernel that did, cached by numba while its parallel callee came from the
cache, lacked numba's hook that starts the thread pool, and crashed when it ran
first thing in a fresh process.
"""

from numba import njit

from .._config import JIT_OPTIONS, wide_vectors
from ._blas import gemm
from ._panel import new_tn_work, panel_gemm_tn, tn_fits
from ._steps import chunk


# --8<-- [start:column_sums]
@njit(**JIT_OPTIONS)
def column_sums(a, out):
    """``out[k] = sum_n a[n, k]`` for a 2-D ``a``, summed in row order (deterministic)."""
    wide_vectors()
    out[:] = 0.0
    for n in range(a.shape[0]):
        row = a[n]
        for k in range(out.shape[0]):
            out[k] += row[k]
# --8<-- [end:column_sums]


# --8<-- [start:scatter_add_rows]
@njit(**JIT_OPTIONS)
def scatter_add_rows(idx, src, out):
    """``out[idx[n]] += src[n]`` for every n, in order (deterministic); ``out`` zeroed first.

    The transpose of a gather: the weight gradient of a one-hot input given as
    indices. ``idx [N]`` int, ``src [N, K]``, ``out [V, K]``.
    """
    wide_vectors()
    out[:] = 0.0
    for n in range(idx.shape[0]):
        o, s = out[idx[n]], src[n]
        for k in range(s.shape[0]):
            o[k] += s[k]
# --8<-- [end:scatter_add_rows]


# --8<-- [start:weight_grad_chunk]
@njit(**JIT_OPTIONS)
def weight_grad_chunk(c, n, dG, h, dW):
    """Chunk ``c`` of ``n`` of ``dW = dG^T h``, for 2-D ``dG [N, R]`` and ``h [N, K]``
    (column blocks of flattened sequence buffers allowed): rows ``chunk(c, n, R)`` of
    ``dW``, one GEMM over all N rows (no partial sums). The product is
    :func:`seqnet.kernels._panel.panel_gemm_tn` where its panels fit the width of
    ``dW`` (one thread, ``tools/profile/panel_products.py``: 95 against OpenBLAS's 75
    GFLOP/s on the char-LM's dW_hh chunk; time ratios 0.75-1.08 over the grid's
    shapes, both dtypes), else BLAS."""
    r0, r1 = chunk(c, n, dW.shape[0])
    if tn_fits(dW.shape[1], dW.itemsize):
        panel_gemm_tn(dG[:, r0:r1], h, dW[r0:r1], 0, new_tn_work(dW))
    else:
        gemm(dG[:, r0:r1], h, dW[r0:r1], 0.0, True, False)
# --8<-- [end:weight_grad_chunk]


# --8<-- [start:projection_chunk]
@njit(**JIT_OPTIONS)
def projection_chunk(c, n, x, W_ih, gates):
    """Chunk ``c`` of ``n`` of the input projection of every step, ``gates[b, t] =
    W_ih x[b, t]``: one GEMM over rows ``chunk(c, n, B*T)`` of the flattened
    ``[B*T, ...]`` buffers."""
    N = x.shape[0] * x.shape[1]
    n0, n1 = chunk(c, n, N)
    gemm(x.reshape(N, x.shape[2])[n0:n1], W_ih, gates.reshape(N, gates.shape[2])[n0:n1],
         0.0, False, True)
# --8<-- [end:projection_chunk]


# --8<-- [start:input_grads_chunk]
@njit(**JIT_OPTIONS)
def input_grads_chunk(c, n, gf, x, W_ih, dx, dW_ih):
    """Chunk ``c`` of ``n`` of ``dx = dG W_ih`` (rows ``chunk(c, n, B*T)``) and of
    ``dW_ih = sum dG^T x`` (rows ``chunk(c, n, G*H)``), ``gf`` being ``dG``
    flattened to ``[B*T, G*H]``."""
    N = gf.shape[0]
    n0, n1 = chunk(c, n, N)
    gemm(gf[n0:n1], W_ih, dx.reshape(N, dx.shape[2])[n0:n1], 0.0, False, False)
    weight_grad_chunk(c, n, gf, x.reshape(N, x.shape[2]), dW_ih)
# --8<-- [end:input_grads_chunk]


# --8<-- [start:sequence_grads_chunk]
@njit(**JIT_OPTIONS)
def sequence_grads_chunk(c, n, dG, x, h_prev, W_ih, index_input, dx, dW_ih, dW_hh):
    """Chunk ``c`` of ``n`` of the products after the backward time loop of the LSTM
    and the GRU.

    ``dG [B, T, G*H]`` is dL/d(pre-activations), ``x [B, T, I]``, ``h_prev [B, T, H]``.
    Makes the chunk of ``dx = dG W_ih`` and ``dW_ih = sum dG^T x`` (unless
    ``index_input``: the entry makes ``dW_ih`` by a scatter-add) and of ``dW_hh = sum
    dG[..., :R]^T h_prev`` with ``R = dW_hh.shape[0]`` (the GRU's n rows see another
    gradient and another input: it passes ``dW_hh[:2H]``).
    """
    N = dG.shape[0] * dG.shape[1]
    gf = dG.reshape(N, dG.shape[2])
    if not index_input:
        input_grads_chunk(c, n, gf, x, W_ih, dx, dW_ih)
    weight_grad_chunk(c, n, gf[:, :dW_hh.shape[0]], h_prev.reshape(N, h_prev.shape[2]),
                      dW_hh)
# --8<-- [end:sequence_grads_chunk]


# --8<-- [start:add_weight_grad]
@njit(**JIT_OPTIONS)
def add_weight_grad(dG, h, dW, work):
    """``dW += dG^T h`` on one thread, for 2-D views ``dG [K, R]``, ``h [K, N]``
    (a step's rows, any row stride): a weight gradient summed inside a time loop,
    step by step, so that ``h`` need not be kept for every step. The register tile
    (:func:`seqnet.kernels._panel.panel_gemm_tn`, packing into ``work``) where its
    panels fit ``N``, else BLAS."""
    if tn_fits(dW.shape[1], dW.itemsize):
        panel_gemm_tn(dG, h, dW, 1, work)
    else:
        gemm(dG, h, dW, 1.0, True, False)
# --8<-- [end:add_weight_grad]


# --8<-- [start:add_initial_state_grad]
@njit(**JIT_OPTIONS)
def add_initial_state_grad(dG, first, h0, rows, dW, work):
    """``dW += sum_r dG[r, first[r]]^T h0[r]``: the weight-gradient term of the
    step each row of a block starts from, whose input state is ``h0``. ``dG
    [rows, T, >= R]`` (its first ``R = dW.shape[0]`` columns are read), ``first
    [rows]`` int, ``h0 [rows, N]``; ``rows [rows, >= R]`` and ``work`` workspaces."""
    wide_vectors()
    R = dW.shape[0]
    for r in range(h0.shape[0]):
        src, dst = dG[r, first[r]], rows[r]
        for j in range(R):
            dst[j] = src[j]
    add_weight_grad(rows[:, :R], h0, dW, work)
# --8<-- [end:add_initial_state_grad]


# --8<-- [start:first_steps]
@njit(**JIT_OPTIONS)
def first_steps(lengths, reverse, first):
    """``first[r]``: the step row ``r`` starts from, 0, or ``lengths[r] - 1`` when
    ``reverse``."""
    wide_vectors()
    for r in range(lengths.shape[0]):
        first[r] = lengths[r] - 1 if reverse else 0
# --8<-- [end:first_steps]


# --8<-- [start:add_parts]
@njit(**JIT_OPTIONS)
def add_parts(dW, parts):
    """``dW += parts[0] + parts[1] + ...``, in that order (deterministic): the
    partial weight gradients of row blocks ``1..n-1`` (block 0 wrote ``dW``)."""
    wide_vectors()
    for k in range(parts.shape[0]):
        for i in range(dW.shape[0]):
            d, s = dW[i], parts[k, i]
            for j in range(dW.shape[1]):
                d[j] += s[j]
# --8<-- [end:add_parts]
