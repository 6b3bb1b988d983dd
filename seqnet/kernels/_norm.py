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

from .._config import JIT_OPTIONS, wide_vectors
from ._steps import chunk

#: the epsilon added to the variance before its square root (haste's, PyTorch's
#: ``nn.LayerNorm`` default).
LN_EPS = 1e-5


# --8<-- [start:row_sums]
# Eight running sums, added pairwise at the end, with no branch in the loop: the
# flags of seqnet._config have no ``reassoc``, so LLVM may not split one running sum
# into vector lanes itself, and one chain of dependent adds per row ran 4.3 times
# slower (the mean and the variance of a row of 512, one thread, float32 and
# float64 alike: 858 against 199 ns; a first version with a branch in its loop took
# about twice the 199).
@njit(**JIT_OPTIONS)
def row_sum(a):
    """``sum_j a[j]`` for a 1-D row, in eight partial sums."""
    wide_vectors()
    K = a.shape[0]
    z = a.dtype.type(0.0)
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = z
    n8 = K - K % 8
    for j in range(0, n8, 8):
        p0 += a[j]
        p1 += a[j + 1]
        p2 += a[j + 2]
        p3 += a[j + 3]
        p4 += a[j + 4]
        p5 += a[j + 5]
        p6 += a[j + 6]
        p7 += a[j + 7]
    for j in range(n8, K):
        p0 += a[j]
    return ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))


@njit(**JIT_OPTIONS)
def row_sq_dev(a, mu):
    """``sum_j (a[j] - mu)^2`` for a 1-D row, in eight partial sums."""
    wide_vectors()
    K = a.shape[0]
    z = a.dtype.type(0.0)
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = z
    n8 = K - K % 8
    for j in range(0, n8, 8):
        d0 = a[j] - mu
        d1 = a[j + 1] - mu
        d2 = a[j + 2] - mu
        d3 = a[j + 3] - mu
        d4 = a[j + 4] - mu
        d5 = a[j + 5] - mu
        d6 = a[j + 6] - mu
        d7 = a[j + 7] - mu
        p0 += d0 * d0
        p1 += d1 * d1
        p2 += d2 * d2
        p3 += d3 * d3
        p4 += d4 * d4
        p5 += d5 * d5
        p6 += d6 * d6
        p7 += d7 * d7
    for j in range(n8, K):
        d = a[j] - mu
        p0 += d * d
    return ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))


@njit(**JIT_OPTIONS)
def row_grad_sums(dy, gamma, v_hat):
    """``(sum_j d_j, sum_j d_j v_hat[j])`` with ``d = dy * gamma``, for 1-D rows, in
    eight partial sums each: the two means of the normalisation's backward."""
    wide_vectors()
    K = dy.shape[0]
    z = dy.dtype.type(0.0)
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = z
    q0 = q1 = q2 = q3 = q4 = q5 = q6 = q7 = z
    n8 = K - K % 8
    for j in range(0, n8, 8):
        d0 = dy[j] * gamma[j]
        d1 = dy[j + 1] * gamma[j + 1]
        d2 = dy[j + 2] * gamma[j + 2]
        d3 = dy[j + 3] * gamma[j + 3]
        d4 = dy[j + 4] * gamma[j + 4]
        d5 = dy[j + 5] * gamma[j + 5]
        d6 = dy[j + 6] * gamma[j + 6]
        d7 = dy[j + 7] * gamma[j + 7]
        p0 += d0
        p1 += d1
        p2 += d2
        p3 += d3
        p4 += d4
        p5 += d5
        p6 += d6
        p7 += d7
        q0 += d0 * v_hat[j]
        q1 += d1 * v_hat[j + 1]
        q2 += d2 * v_hat[j + 2]
        q3 += d3 * v_hat[j + 3]
        q4 += d4 * v_hat[j + 4]
        q5 += d5 * v_hat[j + 5]
        q6 += d6 * v_hat[j + 6]
        q7 += d7 * v_hat[j + 7]
    for j in range(n8, K):
        d = dy[j] * gamma[j]
        p0 += d
        q0 += d * v_hat[j]
    return (((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)),
            ((q0 + q1) + (q2 + q3)) + ((q4 + q5) + (q6 + q7)))
# --8<-- [end:row_sums]


# --8<-- [start:normalize_row]
@njit(**JIT_OPTIONS)
def normalize_row(v, out):
    """``out = (v - mean(v)) / sqrt(var(v) + LN_EPS)`` for 1-D ``v`` (``out`` may be
    ``v``); returns ``1 / sqrt(var + LN_EPS)``. Two passes (the mean, then the
    squares of ``v - mean``: no cancellation in float32)."""
    wide_vectors()
    n = v.dtype.type(v.shape[0])   # a float of the row's dtype: float32 stays float32
    mu = row_sum(v) / n
    var = row_sq_dev(v, mu) / n
    s = v.dtype.type(1.0) / math.sqrt(var + v.dtype.type(LN_EPS))
    for j in range(v.shape[0]):
        out[j] = (v[j] - mu) * s
    return s
# --8<-- [end:normalize_row]


@njit(**JIT_OPTIONS)
def normalize_input_chunk(c, n, gates, gamma, b, training, v_hat, rstd):
    """Chunk ``c`` of ``n`` (rows ``chunk(c, n, B*T)``) of the input side: each row of
    ``gates [B, T, K]`` (the input projection) becomes ``gamma * v_hat + b``; when
    ``training``, ``v_hat [B, T, K]`` and ``rstd [B, T]`` keep the normalised row and
    its ``1/sqrt(var + eps)``."""
    wide_vectors()
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
def normalize_input_backward_chunk(c, n, dy, gamma, rstd, v_hat, dgamma):
    """Chunk ``c`` of ``n`` of the input side's backward: ``dgamma [K]`` becomes the
    chunk's ``sum dy * v_hat`` (its rows in order), then each row of ``v_hat [B, T,
    K]`` becomes the gradient of the projection it normalised, ``s * (d - mean(d) -
    v_hat * mean(d * v_hat))`` with ``d = dy * gamma`` (``dy [B, T, K]`` the gradient
    of the normalised, scaled row; ``rstd [B, T]``)."""
    wide_vectors()
    N = dy.shape[0] * dy.shape[1]
    K = dy.shape[2]
    d2, v2, s2 = dy.reshape(N, K), v_hat.reshape(N, K), rstd.reshape(N)
    n0, n1 = chunk(c, n, N)
    dgamma[:] = 0.0
    for m in range(n0, n1):
        d, v = d2[m], v2[m]
        for j in range(K):
            dgamma[j] += d[j] * v[j]
        backward_row(d, gamma, v, s2[m], v)


# --8<-- [start:backward_row]
@njit(**JIT_OPTIONS)
def backward_row(dy, gamma, v_hat, s, out):
    """``out = s * (d - mean(d) - v_hat * mean(d * v_hat))`` with ``d = dy * gamma``
    for 1-D rows (``out`` may be ``v_hat``: each element is read before it is
    written)."""
    wide_vectors()
    K = dy.shape[0]
    m1, m2 = row_grad_sums(dy, gamma, v_hat)
    n = dy.dtype.type(K)
    m1 /= n
    m2 /= n
    for j in range(K):
        out[j] = s * (dy[j] * gamma[j] - m1 - v_hat[j] * m2)
# --8<-- [end:backward_row]


@njit(**JIT_OPTIONS)
def sum_parts(parts, out):
    """``out = parts[0] + parts[1] + ...`` (``parts [n, K]``), in order."""
    wide_vectors()
    out[:] = 0.0
    for k in range(parts.shape[0]):
        p = parts[k]
        for j in range(out.shape[0]):
            out[j] += p[j]
