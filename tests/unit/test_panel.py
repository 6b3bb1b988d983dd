"""The packed-panel products the kernels run at every step, and their packers."""

import numpy as np
import pytest

from seqnet import variants
from seqnet.kernels._panel import (
    pack_panels,
    panel_gemm,
    panel_gemm_tn,
    panel_width,
    tn_fits,
    tn_work_size,
)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M", [1, 3, 4, 5, 9])
@pytest.mark.parametrize(("K", "N"), [(1, 1), (7, 5), (64, 31), (3, 64), (5, 65), (9, 130)])
def test_panel_gemm_on_strided_views_matches_numpy(dtype, M, K, N):
    """C (+)= A @ B[k0:], A and C views whose rows are further apart than their
    width, every row count around the 4-row tile and widths around the panel's
    (a partial last panel included); elements outside C stay untouched."""
    rng = np.random.default_rng(M * 1000 + K * 10 + N)
    B = rng.standard_normal((2, K, N)).astype(dtype)
    panels = pack_panels(B)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for k0 in sorted({0, K // 2}):
        Kp = K - k0
        A = rng.standard_normal((M, 3, Kp + 2)).astype(dtype)[:, 1, 1:Kp + 1]
        C_buf = rng.standard_normal((M, 2, N + 3)).astype(dtype)
        C = C_buf[:, 0, 2:N + 2]
        for beta in (0, 1):
            old, before = C.copy(), C_buf.copy()
            panel_gemm(A, panels[1], k0, C, beta)
            expected = A.astype(np.float64) @ B[1, k0:].astype(np.float64) + (old if beta else 0)
            np.testing.assert_allclose(C, expected, rtol=tol, atol=10 * tol)
            untouched = np.ones(C_buf.shape, bool)
            untouched[:, 0, 2:N + 2] = False
            np.testing.assert_array_equal(C_buf[untouched], before[untouched])


def test_panel_gemm_ignores_nan_in_an_overwritten_output():
    """beta 0 overwrites C: garbage (NaN) already there must not leak into it."""
    A = np.ones((5, 3))
    C = np.full((5, 40), np.nan)
    panel_gemm(A, pack_panels(np.ones((1, 3, 40)))[0], 0, C, 0)
    np.testing.assert_array_equal(C, 3.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_panels_are_aligned_and_laid_out_as_documented(dtype):
    """pack_panels: 64-byte aligned, out[i].reshape(P, K, NR)[p, k, j] = B[i, k, p*NR + j],
    zero past column N; a transposed view packs as its values."""
    nr = panel_width(dtype)
    assert nr * np.dtype(dtype).itemsize == 256
    B = np.arange(3 * 7 * (nr + 3), dtype=dtype).reshape(3, nr + 3, 7).transpose(0, 2, 1)
    out = pack_panels(B)
    assert out.ctypes.data % 64 == 0 and out.flags.c_contiguous
    view = out.reshape(3, 2, 7, nr)
    np.testing.assert_array_equal(view[:, 0], B[:, :, :nr])
    np.testing.assert_array_equal(view[:, 1, :, :3], B[:, :, nr:])
    assert not view[:, 1, :, 3:].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [0, 1, 5, 128, 300])
@pytest.mark.parametrize(("M", "N"), [(1, 1), (3, 5), (4, 64), (9, 70), (6, 130)])
def test_panel_gemm_tn_on_strided_views_matches_numpy(dtype, K, M, N):
    """C (+)= A.T @ B over sums shorter and longer than the packed block (128),
    A a column block of a wider buffer, B and C views with gaps between rows; K = 0
    zeroes C (beta 0) or leaves it (beta 1); elements outside C stay untouched."""
    rng = np.random.default_rng(K * 10000 + M * 100 + N)
    A = rng.standard_normal((K, 2 * M + 1)).astype(dtype)[:, 1:M + 1]
    B = rng.standard_normal((K, N + 2)).astype(dtype)[:, 1:N + 1]
    C_buf = rng.standard_normal((M, N + 3)).astype(dtype)
    C = C_buf[:, 1:N + 1]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for beta in (0, 1):
        old, before = C.copy(), C_buf.copy()
        panel_gemm_tn(A, B, C, beta, np.empty(tn_work_size(dtype), dtype))
        expected = A.T.astype(np.float64) @ B.astype(np.float64) + (old if beta else 0)
        np.testing.assert_allclose(C, expected, rtol=tol, atol=10 * tol * max(1, K) ** 0.5)
        np.testing.assert_array_equal(C_buf[:, 0], before[:, 0])
        np.testing.assert_array_equal(C_buf[:, N + 1:], before[:, N + 1:])


def test_tn_fits_wants_the_last_panel_half_used():
    assert tn_fits(128, 4) and tn_fits(96, 4) and tn_fits(32, 4)
    assert not tn_fits(65, 4) and not tn_fits(70, 4)
    assert tn_fits(16, 8) and not tn_fits(33, 8)


@pytest.mark.parametrize("cell", variants.NAMES)
def test_packed_and_blas_step_products_agree(cell, monkeypatch):
    """A call packs W_hh from PACK_MIN_ROWS rows x steps and uses BLAS on W_hh below
    that: the two paths give the same outputs, states and gradients to rounding."""
    from seqnet import _dispatch

    rng = np.random.default_rng(3)
    B, T, I, H = 5, 7, 6, 9
    v = variants.get(cell)
    G = len(v.gates)
    dt = np.float64
    x = rng.standard_normal((B, T, I))
    W_ih, W_hh = rng.standard_normal((G * H, I)) * 0.4, rng.standard_normal((G * H, H)) * 0.4
    b_ih, b_hh = rng.standard_normal(G * H) * 0.1, rng.standard_normal(G * H) * 0.1
    state = tuple(rng.standard_normal((B, H)) for _ in v.state_names)
    lengths = np.array([7, 3, 7, 1, 5], np.int64)
    dout = rng.standard_normal((B, T, H))
    fwd, bwd, kw = v.kernel.forward, v.kernel.backward, dict(v.options)
    results = []
    for threshold in (0, 10**9):
        monkeypatch.setattr(_dispatch, "PACK_MIN_ROWS", threshold)
        out, hT, cache = fwd(x.astype(dt), W_ih, W_hh, b_ih, b_hh, state, lengths, **kw)
        dx, dW, dstate = bwd(cache, dout, tuple(np.ones_like(s) for s in hT))
        results.append((out, *hT, dx, *dW, *dstate))
    for packed, plain in zip(*results, strict=True):
        np.testing.assert_allclose(packed, plain, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", variants.NAMES)
def test_a_fortran_ordered_w_hh_gives_what_a_c_ordered_one_gives(cell):
    """A short call runs BLAS on W_hh as it is, which needs unit inner stride: the
    kernel entries take any layout (a transposed or Fortran-ordered W_ih or W_hh
    included)."""
    rng = np.random.default_rng(5)
    B, T, I, H = 2, 3, 4, 5
    v = variants.get(cell)
    G = len(v.gates)
    x = rng.standard_normal((B, T, I))
    W_ih, W_hh = rng.standard_normal((G * H, I)), rng.standard_normal((G * H, H))
    b = np.zeros(G * H)
    state = tuple(np.zeros((B, H)) for _ in v.state_names)
    lengths = np.full(B, T, np.int64)
    want = v.kernel.forward(x, W_ih, W_hh, b, b, state, lengths, **v.options)[0]
    for W_ih2, W_hh2 in [(W_ih, np.asfortranarray(W_hh)), (np.asfortranarray(W_ih), W_hh),
                         (W_ih.T.copy().T, W_hh.T.copy().T)]:
        got = v.kernel.forward(x, W_ih2, W_hh2, b, b, state, lengths, **v.options)[0]
        np.testing.assert_array_equal(got, want)
