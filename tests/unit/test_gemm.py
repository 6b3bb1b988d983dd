"""The strided GEMM the kernels call on a step's slice of batch-first buffers."""

import numpy as np
import pytest

from seqnet._checksum import checksum
from seqnet.kernels._blas import gemm


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_t", [False, True])
@pytest.mark.parametrize("b_t", [False, True])
@pytest.mark.parametrize("beta", [0.0, 1.0])
@pytest.mark.parametrize(("M", "K", "N"), [(5, 7, 3), (1, 4, 6), (3, 1, 1)])
def test_gemm_on_strided_views_matches_numpy(dtype, a_t, b_t, beta, M, K, N):
    """C = op(A) op(B) + beta C, each operand a view whose rows are further apart
    than its width (a step t of a [B, T, W] buffer, a column block), as the kernels
    pass them; the elements outside the views stay untouched."""
    rng = np.random.default_rng(0)
    T, t = 4, 2
    A_buf = rng.standard_normal((K, T, M + 2) if a_t else (M, T, K + 2)).astype(dtype)
    B_buf = rng.standard_normal((N, T, K + 3) if b_t else (K, T, N + 3)).astype(dtype)
    C_buf = rng.standard_normal((M, T, N + 1)).astype(dtype)
    A = A_buf[:, t, 1:1 + (M if a_t else K)]
    B = B_buf[:, t, 2:2 + (K if b_t else N)]
    C = C_buf[:, t, :N]
    expected = (A.T if a_t else A) @ (B.T if b_t else B) + beta * C
    before = C_buf.copy()
    gemm(A, B, C, beta, a_t, b_t)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(C, expected, rtol=tol, atol=tol)
    untouched = np.ones(C_buf.shape, bool)
    untouched[:, t, :N] = False
    np.testing.assert_array_equal(C_buf[untouched], before[untouched])


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_gemm_with_empty_inner_dimension(beta):
    """K = 0: the product is zero, so C becomes 0 (beta 0) or stays (beta 1)."""
    C = np.full((3, 2), 5.0)
    gemm(np.empty((3, 0)), np.empty((0, 2)), C, beta, False, False)
    np.testing.assert_array_equal(C, np.full((3, 2), 5.0 if beta else 0.0))


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_gemm_never_raises_and_never_computes_something_else(beta):
    """A kernel never raises: shapes that do not match, and reversed,
    transposed-in-memory or broadcast views that BLAS cannot take as they are (a
    caller's bug: the kernel entries pass C-contiguous buffers), fill C with NaN
    instead of computing something else."""
    A, B = np.ones((3, 4)), np.ones((4, 2))
    for bad_a, bad_b in [(A, np.ones((5, 2))), (A[::-1], B), (np.asfortranarray(A), B),
                         (np.broadcast_to(np.ones(4), (3, 4)), B), (A, B[::-1])]:
        C = np.zeros((3, 2))
        gemm(bad_a, bad_b, C, beta, False, False)
        assert np.isnan(C).all()
    C = np.zeros((3, 3))
    gemm(A, B, C, beta, False, False)
    assert np.isnan(C).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_checksum_sees_any_change_and_swap(dtype):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((4, 6, 5)) * 10).astype(dtype)
    c = checksum(x)
    assert checksum(x.copy()) == c
    for i, j in [((0, 0, 0), (3, 5, 4)), ((1, 2, 3), (1, 2, 4)), ((2, 0, 1), (2, 1, 1))]:
        y = x.copy()
        y[i], y[j] = x[j], x[i]
        if not np.array_equal(y, x):
            assert checksum(y) != c
        y = x.copy()
        y[i] = y[i] + 1
        assert checksum(y) != c
    # structured changes that cancel in a linear sum of the bits
    if dtype != np.int64:
        for y in (-x, 2 * x, x * 0.5):
            assert checksum(np.ascontiguousarray(y)) != c
    flat = np.zeros(4096, dtype)
    flat[0], flat[2048] = 1, 2
    swapped = flat.copy()
    swapped[0], swapped[2048] = 2, 1
    assert checksum(flat) != checksum(swapped)
    z = np.array([np.nan, -0.0, 0.0], dtype=np.float64)
    assert checksum(z) == checksum(z.copy())
    w = z.copy()
    w[1] = 0.0
    assert checksum(w) != checksum(z)   # bits, not values: -0.0 and 0.0 differ
