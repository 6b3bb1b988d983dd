"""The whole-sequence products around the time loop, shared by every cell: the
input projection before it, and ``dx`` and the weight and bias gradients after it
(or summed inside it, step by step, where that saves a ``[B, T, H]`` history).

Each whole-sequence product splits its output in ``n`` chunks, one GEMM over all
``B*T`` rows each, so no partial sums are kept or added: serial and parallel runs
of the same chunks give the same bits. The chunks run in parallel when the caller's
``parallel`` flag says so (a runtime flag: a serial time loop over a long sequence
still splits these products).
"""

from numba import njit, prange

from .._config import JIT_OPTIONS, jit_pair
from ._blas import gemm
from ._panel import new_tn_work, panel_gemm_tn, tn_fits
from ._steps import chunk


# --8<-- [start:column_sums]
@njit(**JIT_OPTIONS)
def column_sums(a, out):
    """``out[k] = sum_n a[n, k]`` for a 2-D ``a``, summed in row order (deterministic)."""
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
    out[:] = 0.0
    for n in range(idx.shape[0]):
        o, s = out[idx[n]], src[n]
        for k in range(s.shape[0]):
            o[k] += s[k]
# --8<-- [end:scatter_add_rows]


# --8<-- [start:weight_grad_chunks]
def _weight_grad(dG, h, n, dW):
    """``dW = dG^T h`` for 2-D ``dG [N, R]`` and ``h [N, K]`` (column blocks of
    flattened sequence buffers allowed). Each of the ``n`` chunks computes its own
    rows of ``dW`` (a GEMM over all N rows). The product is
    :func:`seqnet.kernels._panel.panel_gemm_tn` where its panels fit the width of
    ``dW`` (one thread, ``tools/profile/panel_products.py``: 95 against OpenBLAS's 75
    GFLOP/s on the char-LM's dW_hh chunk; time ratios 0.75-1.08 over the grid's
    shapes, both dtypes), else BLAS."""
    R = dW.shape[0]
    for k in prange(n):
        r0, r1 = chunk(k, n, R)
        if tn_fits(dW.shape[1], dW.itemsize):
            panel_gemm_tn(dG[:, r0:r1], h, dW[r0:r1], 0, new_tn_work(dW))
        else:
            gemm(dG[:, r0:r1], h, dW[r0:r1], 0.0, True, False)
# --8<-- [end:weight_grad_chunks]


# --8<-- [start:input_grad_chunks]
def _input_grad(dG, W_ih, n, dx):
    """``dx = dG W_ih`` for 2-D ``dG [N, G*H]``, ``dx [N, I]``, rows in ``n`` chunks."""
    N = dG.shape[0]
    for k in prange(n):
        n0, n1 = chunk(k, n, N)
        gemm(dG[n0:n1], W_ih, dx[n0:n1], 0.0, False, False)
# --8<-- [end:input_grad_chunks]


# --8<-- [start:projection_chunks]
def _projection(x, W_ih, n, gates):
    """``gates = x W_ih^T`` over the flattened ``[B*T, ...]`` rows, in ``n`` chunks."""
    N = x.shape[0] * x.shape[1]
    xf, gf = x.reshape(N, x.shape[2]), gates.reshape(N, gates.shape[2])
    for k in prange(n):
        n0, n1 = chunk(k, n, N)
        gemm(xf[n0:n1], W_ih, gf[n0:n1], 0.0, False, True)
# --8<-- [end:projection_chunks]


_weight_grad_serial, _weight_grad_parallel = jit_pair(_weight_grad)
_input_grad_serial, _input_grad_parallel = jit_pair(_input_grad)
_projection_serial, _projection_parallel = jit_pair(_projection)


@njit(**JIT_OPTIONS)
def weight_grad(parallel, dG, h, n, dW):
    """``dW = dG^T h`` in ``n`` chunks of rows, in parallel when ``parallel``."""
    if parallel:
        _weight_grad_parallel(dG, h, n, dW)
    else:
        _weight_grad_serial(dG, h, n, dW)


# --8<-- [start:input_projection]
@njit(**JIT_OPTIONS)
def input_projection(parallel, x, W_ih, n, gates):
    """The input projection of every step, ``gates[b, t] = W_ih x[b, t]``: one GEMM
    per chunk of the ``B*T`` rows, the chunks in parallel when ``parallel``."""
    if parallel:
        _projection_parallel(x, W_ih, n, gates)
    else:
        _projection_serial(x, W_ih, n, gates)
# --8<-- [end:input_projection]


# --8<-- [start:input_grads]
@njit(**JIT_OPTIONS)
def input_grads(parallel, gf, x, W_ih, n, dx, dW_ih):
    """``dx = dG W_ih`` and ``dW_ih = sum dG^T x`` over the flattened ``[B*T, ...]``
    rows (``gf`` is ``dG`` flattened), each split in ``n`` chunks."""
    N = gf.shape[0]
    xf = x.reshape(N, x.shape[2])
    if parallel:
        _input_grad_parallel(gf, W_ih, n, dx.reshape(N, dx.shape[2]))
    else:
        _input_grad_serial(gf, W_ih, n, dx.reshape(N, dx.shape[2]))
    weight_grad(parallel, gf, xf, n, dW_ih)
# --8<-- [end:input_grads]


# --8<-- [start:sequence_grads]
@njit(**JIT_OPTIONS)
def sequence_grads(parallel, dG, x, h_prev, W_ih, index_input, n, dx, dW_ih, dW_hh):
    """The products after the backward time loop of the LSTM and the GRU.

    ``dG [B, T, G*H]`` is dL/d(pre-activations), ``x [B, T, I]``, ``h_prev [B, T, H]``.
    Fills ``dx = dG W_ih`` and ``dW_ih = sum dG^T x`` (unless ``index_input``: the
    entry makes ``dW_ih`` by a scatter-add) and ``dW_hh = sum dG[..., :R]^T h_prev``
    with ``R = dW_hh.shape[0]`` (the GRU's n rows see another gradient and another
    input: it passes ``dW_hh[:2H]``). Each product is split in ``n`` chunks.
    """
    N = dG.shape[0] * dG.shape[1]
    gf = dG.reshape(N, dG.shape[2])
    R = dW_hh.shape[0]
    if not index_input:
        input_grads(parallel, gf, x, W_ih, n, dx, dW_ih)
    weight_grad(parallel, gf[:, :R], h_prev.reshape(N, h_prev.shape[2]), n, dW_hh)
# --8<-- [end:sequence_grads]


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
    for r in range(lengths.shape[0]):
        first[r] = lengths[r] - 1 if reverse else 0
# --8<-- [end:first_steps]


# --8<-- [start:add_parts]
@njit(**JIT_OPTIONS)
def add_parts(dW, parts):
    """``dW += parts[0] + parts[1] + ...``, in that order (deterministic): the
    partial weight gradients of row blocks ``1..n-1`` (block 0 wrote ``dW``)."""
    for k in range(parts.shape[0]):
        for i in range(dW.shape[0]):
            d, s = dW[i], parts[k, i]
            for j in range(dW.shape[1]):
                d[j] += s[j]
# --8<-- [end:add_parts]
