"""Where an LSTM forward and backward spend their time, piece by piece, on two
threads (each piece the kernels' own code, timed alone):
python lstm_split.py B,T,I,H [float32|float64]."""

import sys

import numba
import numpy as np
from numba import njit, prange

from seqnet import _threads, bench, cells
from seqnet._config import JIT_OPTIONS
from seqnet.kernels._common import chunk, column_sums, input_projection, sequence_grads
from seqnet.kernels._panel import panel_gemm
from seqnet.kernels.lstm import lstm_rows_backward, lstm_rows_forward, lstm_units_forward


@njit(parallel=True, **JIT_OPTIONS)
def forward_loop(parts, W_rows, b, lengths, out, hT, cT, h_prev, c_prev, gates, rec):
    """The forward time loop, row blocks in parallel: parts 0 all, 1 the per-step
    products only, 2 the gate passes only."""
    B, T, H = gates.shape[0], gates.shape[1], hT.shape[1]
    n = rec.shape[0]
    for k in prange(n):
        r0, r1 = chunk(k, n, B)
        if parts == 0:
            lstm_rows_forward(False, True, lengths[r0:r1], gates[r0:r1], W_rows, b, out[r0:r1],
                              hT[r0:r1], cT[r0:r1], h_prev[r0:r1], c_prev[r0:r1],
                              rec[k, :r1 - r0])
            continue
        for t in range(T):
            if parts == 1:
                panel_gemm(hT[r0:r1], W_rows, 0, rec[k, :r1 - r0], 0)
            else:
                lstm_units_forward(0, H, t, lengths[r0:r1], gates[r0:r1], rec[k, :r1 - r0], b,
                                   cT[r0:r1], hT[r0:r1], out[r0:r1])


@njit(parallel=True, **JIT_OPTIONS)
def backward_loop(parts, W_cols, lengths, c_prev, dout, dh, dc, dG, dh_parts):
    """The backward time loop: parts 0 all, 1 the per-step products only."""
    B, T = dG.shape[0], dG.shape[1]
    n = dh_parts.shape[0]
    for k in prange(n):
        r0, r1 = chunk(k, n, B)
        if parts == 0:
            lstm_rows_backward(False, lengths[r0:r1], c_prev[r0:r1], dout[r0:r1], W_cols,
                               dh[r0:r1], dc[r0:r1], dG[r0:r1], dh_parts[k, :r1 - r0])
            continue
        for t in range(T):
            panel_gemm(dG[r0:r1, t], W_cols, 0, dh_parts[k, :r1 - r0], 0)


@njit(**JIT_OPTIONS)
def projection(x, W_ih, gates):
    input_projection(True, x, W_ih, 2, gates)


@njit(**JIT_OPTIONS)
def whole_sequence_grads(dG, x, h_prev, W_ih, dx, dW_ih, dW_hh, db):
    sequence_grads(True, dG, x, h_prev, W_ih, True, 2, dx, dW_ih, dW_hh)
    column_sums(dG.reshape(-1, dG.shape[2]), db)


def main(shape, dtype):
    B, T, I, H = shape
    # Start numba's threads before the first parallel call: a function of this file
    # loaded from numba's cache, which calls a parallel one, does not start them
    # (numba 0.68; a call without it crashed). seqnet's own calls ask numba's
    # thread count first, which starts them.
    numba.get_num_threads()
    rng = np.random.default_rng(0)
    W_ih = (rng.standard_normal((4 * H, I)) * 0.1).astype(dtype)
    W_hh = (rng.standard_normal((4 * H, H)) * 0.1).astype(dtype)
    x = rng.standard_normal((B, T, I)).astype(dtype)
    b = np.zeros(4 * H, dtype)
    lengths = np.full(B, T, np.int64)
    gates = np.empty((B, T, 4 * H), dtype)
    out, h_prev, c_prev = (np.empty((B, T, H), dtype) for _ in range(3))
    hT, cT, dh, dc = (np.zeros((B, H), dtype) for _ in range(4))
    rec = np.empty((2, -(-B // 2), 4 * H), dtype)
    dh_parts = np.empty((2, -(-B // 2), H), dtype)
    W_rows, W_cols = cells._row_panels(W_hh), cells._col_panels(W_hh)
    dout = rng.standard_normal((B, T, H)).astype(dtype)
    dx, dW_ih, dW_hh = np.empty((B, T, I), dtype), np.empty_like(W_ih), np.empty_like(W_hh)
    with _threads.blas_single_threaded():
        projection(x, W_ih, gates)
        start = gates.copy()

        def fwd(parts):
            gates[:] = start
            hT[:] = 0.0
            cT[:] = 0.0
            forward_loop(parts, W_rows, b, lengths, out, hT, cT, h_prev, c_prev, gates, rec)

        fwd(0)
        done = gates.copy()

        def bwd(parts):
            gates[:] = done
            backward_loop(parts, W_cols, lengths, c_prev, dout, dh, dc, gates, dh_parts)

        def reset_only():
            gates[:] = start

        def timed(fn):
            fn()
            return min(bench._median_time(fn) for _ in range(3)) * 1e3

        reset = timed(reset_only)
        rows = [
            ("forward: input projection (OpenBLAS)", timed(lambda: projection(x, W_ih, gates))),
            ("forward: time loop, all", timed(lambda: fwd(0)) - reset),
            ("  of which per-step products alone", timed(lambda: fwd(1)) - reset),
            ("  of which gate passes alone", timed(lambda: fwd(2)) - reset),
            ("backward: time loop, all", timed(lambda: bwd(0)) - reset),
            ("  of which per-step products alone", timed(lambda: bwd(1)) - reset),
            ("backward: dx, dW_ih, dW_hh, db", timed(lambda: whole_sequence_grads(
                done, x, h_prev, W_ih, dx, dW_ih, dW_hh, b))),
        ]
    flops_seq = 2 * B * T * I * 4 * H
    flops_step = 2 * B * T * H * 4 * H
    print(f"LSTM {np.dtype(dtype).name} (B, T, I, H) = {shape}, 2 threads, OPENBLAS held at 1")
    print("| piece | ms | GFLOP/s |\n|---|---|---|")
    rate = {0: flops_seq, 2: flops_step, 5: flops_step, 6: 2 * flops_seq + flops_step}
    for i, (name, ms) in enumerate(rows):
        g = f"{rate[i] / ms / 1e6:.0f}" if i in rate else ""
        print(f"| {name} | {ms:.2f} | {g} |")


if __name__ == "__main__":
    shape = tuple(int(v) for v in sys.argv[1].split(","))
    main(shape, np.dtype(sys.argv[2] if len(sys.argv) > 2 else "float32").type)
