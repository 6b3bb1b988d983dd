"""Small helpers shared by the cell kernels."""

from numba import njit

from .._config import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def chunk(k, n_chunks, rows):
    """Rows ``[start, stop)`` of chunk ``k`` when ``rows`` are split in ``n_chunks``."""
    return k * rows // n_chunks, (k + 1) * rows // n_chunks


@njit(**JIT_OPTIONS)
def copy_valid_rows(t, lengths, src, dst):
    """``dst[r] = src[r]`` for every row ``r`` whose step ``t`` is valid."""
    for r in range(src.shape[0]):
        if t < lengths[r]:
            dst[r] = src[r]


@njit(**JIT_OPTIONS)
def add_valid_rows(t, lengths, src, dst):
    """``dst[r] += src[r]`` for every row ``r`` whose step ``t`` is valid."""
    for r in range(src.shape[0]):
        if t < lengths[r]:
            d, s = dst[r], src[r]
            for j in range(d.shape[0]):
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


@njit(**JIT_OPTIONS)
def sum_parts(parts, n_chunks, out):
    """``out = parts[0] + ... + parts[n_chunks - 1]``, in that order (deterministic)."""
    out[...] = parts[0]
    for k in range(1, n_chunks):
        p = parts[k]
        for i in range(out.shape[0]):
            o, q = out[i], p[i]
            for j in range(o.shape[0]):
                o[j] += q[j]
