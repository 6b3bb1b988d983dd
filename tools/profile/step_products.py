"""The char-LM step's per-step products alone, as the kernels call them (``gemm``
on a step's slice of batch-first buffers), and the whole-sequence pieces:
python step_products.py."""

import numpy as np
from numba import njit, prange

from seqnet import _threads, bench
from seqnet._config import JIT_OPTIONS
from seqnet.kernels._common import column_sums, gemm, scatter_add_rows

B, H, T, V = 128, 128, 40, 40


@njit(**JIT_OPTIONS)
def forward_products(h, W_rows, rec, steps):
    for _ in range(steps):
        for k in range(W_rows.shape[0]):
            gemm(h, W_rows[k], rec[k], 0.0, False, True)


@njit(parallel=True, **JIT_OPTIONS)
def forward_products_parallel(h, W_rows, rec, steps):
    for _ in range(steps):
        for k in prange(W_rows.shape[0]):
            gemm(h, W_rows[k], rec[k], 0.0, False, True)


@njit(**JIT_OPTIONS)
def backward_products(dG, W_cols, dh, steps):
    for t in range(steps):
        for k in range(W_cols.shape[0]):
            gemm(dG[:, t], W_cols[k], dh[k], 0.0, False, False)


@njit(parallel=True, **JIT_OPTIONS)
def backward_products_parallel(dG, W_cols, dh, steps):
    for t in range(steps):
        for k in prange(W_cols.shape[0]):
            gemm(dG[:, t], W_cols[k], dh[k], 0.0, False, False)


def report(name, serial, parallel, args, flops):
    with _threads.blas_single_threaded():
        serial(*args)
        parallel(*args)
        s = bench._median_time(lambda: serial(*args))
        p = bench._median_time(lambda: parallel(*args))
    print(f"{name}: 1 thread {s * 1e3:.2f} ms ({flops / s / 1e9:.0f} GFLOP/s), "
          f"2 chunks in parallel {p * 1e3:.2f} ms ({flops / p / 1e9:.0f} GFLOP/s)")


def main():
    rng = np.random.default_rng(0)
    f32 = np.float32
    flops = 2 * B * H * 4 * H * T
    report(f"{T} forward products (B,H)@(H,4H/2) x 2", forward_products,
           forward_products_parallel,
           (rng.standard_normal((B, H)).astype(f32),
            rng.standard_normal((2, 2 * H, H)).astype(f32), np.empty((2, B, 2 * H), f32), T),
           flops)
    report(f"{T} backward products (B,4H)@(4H,H/2) x 2", backward_products,
           backward_products_parallel,
           (rng.standard_normal((B, T, 4 * H)).astype(f32),
            rng.standard_normal((2, 4 * H, H // 2)).astype(f32),
            np.empty((2, B, H // 2), f32), T), flops)
    idx = rng.integers(0, V, (B, T))
    W = rng.standard_normal((4 * H, V)).astype(f32)
    dG = rng.standard_normal((B, T, 4 * H)).astype(f32)
    out, db = np.empty((V, 4 * H), f32), np.empty(4 * H, f32)
    hist = rng.standard_normal((B * T, H)).astype(f32)
    scatter_add_rows(idx.reshape(-1), dG.reshape(-1, 4 * H), out)
    column_sums(dG.reshape(-1, 4 * H), db)
    for name, fn in [
        ("index gather (np.take)", lambda: np.take(W.T, idx, axis=0)),
        ("its scatter-add (dW_ih)", lambda: scatter_add_rows(idx.reshape(-1),
                                                             dG.reshape(-1, 4 * H), out)),
        ("bias sums", lambda: column_sums(dG.reshape(-1, 4 * H), db)),
        ("whole-sequence dW_hh (numpy, 2 threads)", lambda: dG.reshape(-1, 4 * H).T @ hist),
    ]:
        print(f"{name}: {bench._median_time(fn) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
