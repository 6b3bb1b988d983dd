"""The per-step recurrent products on one thread: OpenBLAS (``gemm``, which repacks
the weights on every call) against the packed-panel tile (``panel_gemm``, weights
packed once), taking turns, on the shapes of the benchmark grid's chunks; then the
weight gradients ``dG^T h`` (``gemm`` transposed against ``panel_gemm_tn``):
python panel_products.py [rounds]."""

import functools
import sys

import numpy as np
from numba import njit

from seqnet import _threads, bench
from seqnet._config import JIT_OPTIONS
from seqnet.kernels._common import gemm
from seqnet.kernels._panel import pack_panels, panel_gemm, panel_gemm_tn

# (name, M, K, N): a chunk's forward (h @ W^T, 2 chunks of G*H/2 columns) and
# backward (dG @ W_cols, H/2 columns) products.
SHAPES = [
    ("lstm fwd B=1 H=64", 1, 64, 256),
    ("lstm fwd B=32 H=128", 32, 128, 256),
    ("lstm fwd B=64 H=256", 64, 256, 512),
    ("lstm fwd B=128 H=512", 128, 512, 1024),
    ("lstm fwd char-LM B=128 H=128", 128, 128, 256),
    ("gru fwd B=32 H=128", 32, 128, 192),
    ("lstm bwd B=32 H=128", 32, 512, 64),
    ("lstm bwd B=128 H=512", 128, 2048, 256),
    ("lstm bwd char-LM B=128 H=128", 128, 512, 64),
]

# (name, K = B*T, M, N): one thread's rows of dW = dG^T h (2 chunks of the rows).
TN_SHAPES = [
    ("char-LM dW_hh B=128 T=40 H=128", 5120, 256, 128),
    ("dW_hh B=32 T=100 H=128", 3200, 256, 128),
    ("dW_hh B=64 T=100 H=256", 6400, 512, 256),
    ("dW_hh B=128 T=50 H=512", 6400, 1024, 512),
]


@njit(**JIT_OPTIONS)
def blas_steps(A, B, C, steps):
    for _ in range(steps):
        gemm(A, B, C, 0.0, False, False)


@njit(**JIT_OPTIONS)
def panel_steps(A, panels, C, steps):
    for _ in range(steps):
        panel_gemm(A, panels, 0, C, 0)


@njit(**JIT_OPTIONS)
def blas_tn(A, B, C, steps):
    for _ in range(steps):
        gemm(A, B, C, 0.0, True, False)


@njit(**JIT_OPTIONS)
def panel_tn(A, B, C, steps):
    for _ in range(steps):
        panel_gemm_tn(A, B, C, 0)


def race(name, dtype, blas, panel, flops, rounds):
    """Time the two in turns; print GFLOP/s and the time ratio panel / OpenBLAS."""
    t_blas, t_panel = [], []
    with _threads.blas_single_threaded():
        for _ in range(rounds):
            t_blas.append(bench._median_time(blas))
            t_panel.append(bench._median_time(panel))
    b, p = np.median(t_blas), np.median(t_panel)
    print(f"{np.dtype(dtype).name} {name}: OpenBLAS {flops / b / 1e9:.0f} GFLOP/s, "
          f"panels {flops / p / 1e9:.0f} GFLOP/s, time ratio {p / b:.2f}", flush=True)


def main(rounds=5):
    rng = np.random.default_rng(0)
    for dt in (np.float32, np.float64):
        for name, M, K, N in SHAPES:
            A = rng.standard_normal((M, K)).astype(dt)
            B = rng.standard_normal((K, N)).astype(dt)
            P = pack_panels(B[None])[0]
            C1, C2 = np.empty((M, N), dt), np.empty((M, N), dt)
            steps = max(1, int(2e8 / (2 * M * K * N)))
            with _threads.blas_single_threaded():
                blas_steps(A, B, C1, 1)
                panel_steps(A, P, C2, 1)
            assert np.allclose(C1, C2, rtol=1e-4, atol=1e-3)
            race(f"{name} ({M}x{K} @ {K}x{N})", dt,
                 functools.partial(blas_steps, A, B, C1, steps),
                 functools.partial(panel_steps, A, P, C2, steps), 2 * M * K * N * steps, rounds)
        for name, K, M, N in TN_SHAPES:
            A = rng.standard_normal((K, M)).astype(dt)
            B = rng.standard_normal((K, N)).astype(dt)
            C1, C2 = np.empty((M, N), dt), np.empty((M, N), dt)
            with _threads.blas_single_threaded():
                blas_tn(A, B, C1, 1)
                panel_tn(A, B, C2, 1)
            assert np.allclose(C1, C2, rtol=1e-3, atol=1e-2)
            race(f"{name} ({M}x{K} @ {K}x{N})", dt, functools.partial(blas_tn, A, B, C1, 3),
                 functools.partial(panel_tn, A, B, C2, 3), 2 * M * K * N * 3, rounds)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
