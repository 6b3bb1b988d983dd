"""The whole-sequence weight gradients on two threads, the register tile against
OpenBLAS: python tools/profile/weight_grads.py [--dtypes float32,float64]
[--shapes B,T,I,H ...] [--gates G] [--repeats N].

``dW = dG^T h`` summed over all ``B*T`` rows, as the LSTM's and the GRU's backward
make ``dW_ih`` (``h = x``, ``I`` wide) and ``dW_hh`` (``h = h_prev``, ``H`` wide):
``dG [B*T, G*H]`` split by rows of ``dW`` into two chunks, one per numba thread
(``seqnet.kernels._grads.weight_grad_chunk``'s split), each chunk through
``panel_gemm_tn`` (the tile) or through OpenBLAS's transposed GEMM, OpenBLAS held
at one thread as inside the kernels. Prints the median milliseconds of
``--repeats`` calls and GFLOP/s for each. Session 9 found the tile at 80-87 GFLOP/s
against OpenBLAS's 155 in float64 at H = 512 (the packed block of ``h``, 128 rows
of 512 float64, is 512 KB), hence ``seqnet.kernels._panel.TN_PACK_BYTES``.
"""

import argparse
import time

import numpy as np
from numba import njit, prange

from seqnet import _threads
from seqnet._config import JIT_OPTIONS
from seqnet.kernels._blas import gemm
from seqnet.kernels._panel import new_tn_work, panel_gemm_tn
from seqnet.kernels._steps import chunk

# compiled afresh each run: numba's cache checks only this file, so a cached
# copy would keep the kernel helpers it inlined from an older checkout.
OPTIONS = {**JIT_OPTIONS, "cache": False}


@njit(parallel=True, **OPTIONS)
def _tile(dG, h, dW, n):
    for c_ in prange(n):
        c = np.int64(c_)
        r0, r1 = chunk(c, n, dW.shape[0])
        panel_gemm_tn(dG[:, r0:r1], h, dW[r0:r1], 0, new_tn_work(dW))


@njit(parallel=True, **OPTIONS)
def _blas(dG, h, dW, n):
    for c_ in prange(n):
        c = np.int64(c_)
        r0, r1 = chunk(c, n, dW.shape[0])
        gemm(dG[:, r0:r1], h, dW[r0:r1], 0.0, True, False)


def _median_ms(kernel, args, repeats):
    kernel(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        kernel(*args)
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dtypes", default="float64,float32")
    p.add_argument("--shapes", nargs="+", default=["32,100,128,128", "64,100,256,256",
                                                   "128,50,512,512", "32,40,65,128"])
    p.add_argument("--gates", type=int, default=4, help="G: 4 for the LSTM, 3 the GRU")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    print("| dtype | B, T, I, H | product | tile ms | tile GFLOP/s | OpenBLAS ms | "
          "OpenBLAS GFLOP/s |")
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    with _threads.blas_single_threaded():
        for dtype in args.dtypes.split(","):
            dt = np.dtype(dtype)
            for shape in args.shapes:
                B, T, I, H = (int(v) for v in shape.split(","))
                N = B * T
                dG = rng.standard_normal((N, args.gates * H)).astype(dt)
                for name, width in (("dW_ih", I), ("dW_hh", H)):
                    h = rng.standard_normal((N, width)).astype(dt)
                    dW = np.empty((args.gates * H, width), dt)
                    flops = 2.0 * N * args.gates * H * width
                    tile = _median_ms(_tile, (dG, h, dW, 2), args.repeats)
                    by_tile = dW.copy()
                    blas = _median_ms(_blas, (dG, h, dW, 2), args.repeats)
                    expect = dG.T.astype(np.float64) @ h.astype(np.float64)
                    for got in (by_tile, dW):
                        if not np.allclose(got, expect, rtol=1e-3, atol=1e-3 * np.sqrt(N)):
                            raise AssertionError(f"{name} at {shape} {dtype}: a product "
                                                 f"differs from numpy's")
                    rate = [flops / max(ms, 1e-9) / 1e6 for ms in (tile, blas)]
                    print(f"| {dtype} | {B}, {T}, {I}, {H} | {name} | {tile:.3f} | "
                          f"{rate[0]:.0f} | {blas:.3f} | {rate[1]:.0f} |")


if __name__ == "__main__":
    main()
