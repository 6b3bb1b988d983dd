"""The per-step recurrent products on one thread, OpenBLAS against the register tile:
python tools/profile/panel_products.py [ROUNDS] [--dtypes float32,float64]
[--shapes M,K,N ...] [--tn-shapes K,M,N ...] [--flops F] [--min-time S].

First ``C = A @ B`` on the shapes of the benchmark grid's per-step products (a row
block's forward ``h @ W_hh^T`` and backward ``dG @ W_hh``): ``gemm`` (OpenBLAS,
which repacks ``B`` on every call) against ``panel_gemm`` (the register tile on
``B`` packed once, as the kernels pack ``W_hh`` once per call). Then the weight
gradients ``dW = dG^T h`` (one thread's rows of ``dW``, a sum over all ``B*T``
rows): ``gemm`` transposed against ``panel_gemm_tn`` (packing ``h`` into its work
buffer as it goes). The two take turns, ROUNDS times (default 5); each timed call
repeats its product to about ``--flops`` floating-point operations (default 2e8;
3 products for the weight gradients). Every product is checked against OpenBLAS's
first. Prints GFLOP/s and the time ratio tile / OpenBLAS (below 1: the tile is
faster). ``--shapes`` and ``--tn-shapes`` replace the built-in lists.
"""

import argparse
import functools

import numpy as np
from numba import njit

from seqnet import _threads, bench
from seqnet._config import JIT_OPTIONS
from seqnet.kernels._blas import gemm
from seqnet.kernels._panel import pack_panels, panel_gemm, panel_gemm_tn, tn_work_size

# compiled afresh each run: numba's cache checks only this file, so a cached
# copy would keep the kernel helpers it inlined from an older checkout.
OPTIONS = {**JIT_OPTIONS, "cache": False}

# (name, M, K, N): a row block's forward (h @ W_hh^T: B/2 rows of the batch, all
# G*H columns) and backward (dG @ W_hh: B/2 rows, G*H deep, H wide) products, at 2
# threads.
SHAPES = [
    ("lstm fwd B=1 H=64", 1, 64, 256),
    ("lstm fwd B=32 H=128", 16, 128, 512),
    ("lstm fwd B=64 H=256", 32, 256, 1024),
    ("lstm fwd B=128 H=512", 64, 512, 2048),
    ("lstm fwd char-LM B=128 H=128", 64, 128, 512),
    ("gru fwd B=32 H=128", 16, 128, 384),
    ("lstm bwd B=32 H=128", 16, 512, 128),
    ("lstm bwd B=128 H=512", 64, 2048, 512),
    ("lstm bwd char-LM B=128 H=128", 64, 512, 128),
]

# (name, K = B*T, M, N): one thread's rows of dW = dG^T h (2 chunks of the rows).
TN_SHAPES = [
    ("char-LM dW_hh B=128 T=40 H=128", 5120, 256, 128),
    ("dW_hh B=32 T=100 H=128", 3200, 256, 128),
    ("dW_hh B=64 T=100 H=256", 6400, 512, 256),
    ("dW_hh B=128 T=50 H=512", 6400, 1024, 512),
]


@njit(**OPTIONS)
def blas_steps(A, B, C, steps):
    for _ in range(steps):
        gemm(A, B, C, 0.0, False, False)


@njit(**OPTIONS)
def panel_steps(A, panels, C, steps):
    for _ in range(steps):
        panel_gemm(A, panels, 0, C, 0)


@njit(**OPTIONS)
def blas_tn(A, B, C, steps):
    for _ in range(steps):
        gemm(A, B, C, 0.0, True, False)


@njit(**OPTIONS)
def panel_tn(A, B, C, steps, work):
    for _ in range(steps):
        panel_gemm_tn(A, B, C, 0, work)


def race(dtype, name, shape, blas, panel, flops, rounds, min_time):
    """Time the two in turns; print GFLOP/s and the time ratio tile / OpenBLAS."""
    t_blas, t_panel = [], []
    with _threads.blas_single_threaded():
        for _ in range(rounds):
            t_blas.append(bench._median_time(blas, min_time=min_time))
            t_panel.append(bench._median_time(panel, min_time=min_time))
    b, p = np.median(t_blas), np.median(t_panel)
    print(f"| {np.dtype(dtype).name} | {name} | {shape} | {flops / b / 1e9:.1f} | "
          f"{flops / p / 1e9:.1f} | {p / b:.2f} |", flush=True)


def _shapes(values, what):
    return [(f"{what} {s}", *(int(v) for v in s.split(","))) for s in values]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rounds", nargs="?", type=int, default=5)
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--shapes", nargs="+", metavar="M,K,N",
                   help="A @ B products instead of the built-in list")
    p.add_argument("--tn-shapes", nargs="+", metavar="K,M,N",
                   help="A^T @ B products instead of the built-in list")
    p.add_argument("--flops", type=float, default=2e8,
                   help="floating-point operations per timed call (default 2e8)")
    p.add_argument("--min-time", type=float, default=0.5,
                   help="seconds of repeats per timing (default 0.5)")
    args = p.parse_args(argv)
    shapes = _shapes(args.shapes, "given") if args.shapes else SHAPES
    tn_shapes = _shapes(args.tn_shapes, "given") if args.tn_shapes else TN_SHAPES
    rng = np.random.default_rng(0)
    print(f"one thread, {args.rounds} rounds taking turns; GFLOP/s of the median times; "
          "ratio: tile time / OpenBLAS time\n")
    print("| dtype | product | shape | OpenBLAS GFLOP/s | tile GFLOP/s | ratio |\n"
          "|---|---|---|---|---|---|")
    for dt in (np.dtype(name).type for name in args.dtypes.split(",")):
        tol = dict(rtol=1e-4, atol=1e-3) if dt == np.float32 else dict(rtol=1e-10, atol=1e-10)
        for name, M, K, N in shapes:
            A = rng.standard_normal((M, K)).astype(dt)
            B = rng.standard_normal((K, N)).astype(dt)
            P = pack_panels(B[None])[0]
            C1, C2 = np.empty((M, N), dt), np.empty((M, N), dt)
            steps = max(1, int(args.flops / (2 * M * K * N)))
            with _threads.blas_single_threaded():
                blas_steps(A, B, C1, 1)
                panel_steps(A, P, C2, 1)
            np.testing.assert_allclose(C2, C1, **tol, err_msg=name)
            race(dt, name, f"{M}x{K} @ {K}x{N}", functools.partial(blas_steps, A, B, C1, steps),
                 functools.partial(panel_steps, A, P, C2, steps), 2 * M * K * N * steps,
                 args.rounds, args.min_time)
        for name, K, M, N in tn_shapes:
            A = rng.standard_normal((K, M)).astype(dt)
            B = rng.standard_normal((K, N)).astype(dt)
            C1, C2 = np.empty((M, N), dt), np.empty((M, N), dt)
            work = np.empty(tn_work_size(dt), dt)
            with _threads.blas_single_threaded():
                blas_tn(A, B, C1, 1)
                panel_tn(A, B, C2, 1, work)
            np.testing.assert_allclose(C2, C1, **{k: 10 * v for k, v in tol.items()},
                                       err_msg=name)
            race(dt, name, f"{M}x{K} @ {K}x{N} (A^T B)", functools.partial(blas_tn, A, B, C1, 3),
                 functools.partial(panel_tn, A, B, C2, 3, work), 2 * M * K * N * 3,
                 args.rounds, args.min_time)


if __name__ == "__main__":
    main()
