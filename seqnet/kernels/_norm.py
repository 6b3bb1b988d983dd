"""Layer normalisation inside the recurrent kernels (Ba et al. 2016), shared by the
layer-normalised LSTM and GRU (:mod:`seqnet.kernels.lstm_ln`,
:mod:`seqnet.kernels.gru_ln`).

One row ``v`` of ``K`` pre-activations is normalised over all its ``K`` entries::

    mu = sum(v) / K,   var = sum((v - mu)^2) / K,   s = 1 / sqrt(var + LN_EPS)
    v_hat = (v - mu) * s,                           y = gamma * v_hat (+ beta)

and its backward, from ``dy`` (with ``d = dy * gamma``, means over the ``K``
entries)::

    dgamma += dy * v_hat,   dbeta += dy
    dv = s * (d - mean(d) - v_hat * mean(d * v_hat))

(the gradient of ``v_hat`` through ``mu`` and ``s``: ``d v_hat_j / d v_k = s
(delta_jk - 1/K - v_hat_j v_hat_k / K)``, a symmetric matrix, applied to ``d``).
The helpers here make the input side: every step's input projection normalised
before the time loop, and its backward after it, each row on its own. The
recurrent side runs per step inside each cell's gate pass.
"""

import math

from numba import njit

from .._config import JIT_OPTIONS
from ._steps import chunk

#: the epsilon added to the variance before its square root (haste's, PyTorch's
#: ``nn.LayerNorm`` default).
LN_EPS = 1e-5


# --8<-- [start:row_sums]
@njit(**JIT_OPTIONS)
def row_sums(a, b, shift, weight):
    """``(sum_j d_j, sum_j d_j (b[j] - shift))`` with ``d_j = (a[j] - shift) w_j`` for
    1-D rows, ``w_j = weight[j]`` (or 1 when ``weight`` is empty): the mean and the
    variance of a row (``a = b``), or the two sums of the normalisation's backward
    (``shift = 0``).

    Eight running sums, added pairwise at the end: the flags of
    :mod:`seqnet._config` have no ``reassoc``, so LLVM may not reorder one running
    sum into vector lanes, and one chain of dependent adds per row took twice as
    long (two passes over a float32 row of 512: 4.0 against 2.0 us, float64 4.8
    against 2.5, measured on a machine at load 10 on 2 cores, so the ratio is the
    figure, not the times).
    """
    K = a.shape[0]
    z = a.dtype.type(0.0)
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = z
    q0 = q1 = q2 = q3 = q4 = q5 = q6 = q7 = z
    weighted = weight.shape[0] > 0
    n8 = K - K % 8
    for j in range(0, n8, 8):
        if weighted:
            d0 = (a[j] - shift) * weight[j]
            d1 = (a[j + 1] - shift) * weight[j + 1]
            d2 = (a[j + 2] - shift) * weight[j + 2]
            d3 = (a[j + 3] - shift) * weight[j + 3]
            d4 = (a[j + 4] - shift) * weight[j + 4]
            d5 = (a[j + 5] - shift) * weight[j + 5]
            d6 = (a[j + 6] - shift) * weight[j + 6]
            d7 = (a[j + 7] - shift) * weight[j + 7]
        else:
            d0 = a[j] - shift
            d1 = a[j + 1] - shift
            d2 = a[j + 2] - shift
            d3 = a[j + 3] - shift
            d4 = a[j + 4] - shift
            d5 = a[j + 5] - shift
            d6 = a[j + 6] - shift
            d7 = a[j + 7] - shift
        p0 += d0
        p1 += d1
        p2 += d2
        p3 += d3
        p4 += d4
        p5 += d5
        p6 += d6
        p7 += d7
        q0 += d0 * (b[j] - shift)
        q1 += d1 * (b[j + 1] - shift)
        q2 += d2 * (b[j + 2] - shift)
        q3 += d3 * (b[j + 3] - shift)
        q4 += d4 * (b[j + 4] - shift)
        q5 += d5 * (b[j + 5] - shift)
        q6 += d6 * (b[j + 6] - shift)
        q7 += d7 * (b[j + 7] - shift)
    for j in range(n8, K):
        d = (a[j] - shift) * (weight[j] if weighted else a.dtype.type(1.0))
        p0 += d
        q0 += d * (b[j] - shift)
    return ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)), \
        ((q0 + q1) + (q2 + q3)) + ((q4 + q5) + (q6 + q7))
# --8<-- [end:row_sums]


# --8<-- [start:normalize_row]
@njit(**JIT_OPTIONS)
def normalize_row(v, out):
    """``out = (v - mean(v)) / sqrt(var(v) + LN_EPS)`` for 1-D ``v`` (``out`` may be
    ``v``); returns ``1 / sqrt(var + LN_EPS)``. Two passes (the mean, then the
    squares of ``v - mean``: no cancellation in float32)."""
    K = v.shape[0]
    none = v[:0]
    total, _ = row_sums(v, v, v.dtype.type(0.0), none)
    n = v.dtype.type(K)   # a float of the row's dtype: float32 rows stay float32
    mu = total / n
    _, var = row_sums(v, v, mu, none)
    var /= n
    s = v.dtype.type(1.0) / math.sqrt(var + v.dtype.type(LN_EPS))
    for j in range(K):
        out[j] = (v[j] - mu) * s
    return s
# --8<-- [end:normalize_row]


@njit(**JIT_OPTIONS)
def normalize_input_chunk(c, n, gates, gamma, b, training, v_hat, rstd):
    """Chunk ``c`` of ``n`` (rows ``chunk(c, n, B*T)``) of the input side: each row of
    ``gates [B, T, K]`` (the input projection) becomes ``gamma * v_hat + b``; when
    ``training``, ``v_hat [B, T, K]`` and ``rstd [B, T]`` keep the normalised row and
    its ``1/sqrt(var + eps)``."""
    N = gates.shape[0] * gates.shape[1]
    K = gates.shape[2]
    g2 = gates.reshape(N, K)
    n0, n1 = chunk(c, n, N)
    for m in range(n0, n1):
        row = g2[m]
        if training:
            vh = v_hat.reshape(N, K)[m]
            rstd.reshape(N)[m] = normalize_row(row, vh)
            for j in range(K):
                row[j] = gamma[j] * vh[j] + b[j]
        else:
            normalize_row(row, row)
            for j in range(K):
                row[j] = gamma[j] * row[j] + b[j]


@njit(**JIT_OPTIONS)
def gain_grad(dy, v_hat, dgamma):
    """``dgamma[k] = sum_n dy[n, k] * v_hat[n, k]`` over the rows of 3-D ``dy`` and
    ``v_hat`` (``[B, T, K]``), in row order (deterministic)."""
    N = dy.shape[0] * dy.shape[1]
    K = dy.shape[2]
    d2, v2 = dy.reshape(N, K), v_hat.reshape(N, K)
    dgamma[:] = 0.0
    for m in range(N):
        d, v = d2[m], v2[m]
        for j in range(K):
            dgamma[j] += d[j] * v[j]


@njit(**JIT_OPTIONS)
def normalize_input_backward_chunk(c, n, dy, gamma, rstd, v_hat):
    """Chunk ``c`` of ``n`` of the input side's backward: each row of ``v_hat [B, T,
    K]`` becomes the gradient of the projection it normalised, ``s * (d - mean(d) -
    v_hat * mean(d * v_hat))`` with ``d = dy * gamma`` (``dy [B, T, K]`` the gradient
    of the normalised, scaled row; ``rstd [B, T]``)."""
    N = dy.shape[0] * dy.shape[1]
    K = dy.shape[2]
    d2, v2, s2 = dy.reshape(N, K), v_hat.reshape(N, K), rstd.reshape(N)
    n0, n1 = chunk(c, n, N)
    for m in range(n0, n1):
        d, v = d2[m], v2[m]
        backward_row(d, gamma, v, s2[m], v)


# --8<-- [start:backward_row]
@njit(**JIT_OPTIONS)
def backward_row(dy, gamma, v_hat, s, out):
    """``out = s * (d - mean(d) - v_hat * mean(d * v_hat))`` with ``d = dy * gamma``
    for 1-D rows (``out`` may be ``v_hat``: each element is read before it is
    written)."""
    K = dy.shape[0]
    m1, m2 = row_sums(dy, v_hat, dy.dtype.type(0.0), gamma)
    n = dy.dtype.type(K)
    m1 /= n
    m2 /= n
    for j in range(K):
        out[j] = s * (dy[j] * gamma[j] - m1 - v_hat[j] * m2)
# --8<-- [end:backward_row]


@njit(**JIT_OPTIONS)
def sum_parts(parts, out):
    """``out = parts[0] + parts[1] + ...`` (``parts [n, K]``), in order."""
    out[:] = 0.0
    for k in range(parts.shape[0]):
        p = parts[k]
        for j in range(out.shape[0]):
            out[j] += p[j]
