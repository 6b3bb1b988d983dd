"""How much of a cell's forward and forward+backward is matrix products, how fast
those run, and what ratio to PyTorch the rest leaves room for, on two threads:
python cell_split.py CELL B,T,I,H [float32|float64]   (CELL: lstm, gru, gru-v1, rnn).

Each product is timed alone with the kernels' own code and split: the input
projection and the whole-sequence gradients (dx, dW_ih, dW_hh) as OpenBLAS or
panel GEMMs over all B*T rows, the per-step recurrent products (forward h W_hh^T,
backward dG W_hh) through the packed-panel tile, two row blocks in parallel. The
layer's own times come from the same rounds; "rest" is what is not products (gate
passes, copies, allocation, the threads' start and end). PyTorch's time, when it is
installed, is taken in the same rounds, in turn with seqnet's.
"""

import statistics
import sys

import numba
import numpy as np
from numba import njit, prange

from seqnet import _threads, bench, cells
from seqnet._config import JIT_OPTIONS
from seqnet.kernels._common import chunk, input_grads_of, input_projection, weight_grad
from seqnet.kernels._panel import panel_gemm


@njit(parallel=True, **JIT_OPTIONS)
def step_products(h, panels, out):
    """``out[:, t] = h[:, t] @ W`` at every step, two row blocks in parallel (the
    products of a time loop, without its gate passes)."""
    B, T = h.shape[0], h.shape[1]
    for k in prange(2):
        r0, r1 = chunk(k, 2, B)
        for t in range(T):
            panel_gemm(h[r0:r1, t], panels, 0, out[r0:r1, t], 0)


@njit(**JIT_OPTIONS)
def projection(x, W_ih, gates):
    input_projection(True, x, W_ih, 2, gates)


@njit(**JIT_OPTIONS)
def sequence_products(dG, x, h, W_ih, dx, dW_ih, dW_hh):
    gf = dG.reshape(-1, dG.shape[2])
    input_grads_of(True, gf, x, W_ih, 2, dx, dW_ih)
    weight_grad(True, gf, h.reshape(-1, h.shape[2]), 2, dW_hh)


def main(cell, shape, dtype, rounds=5):
    B, T, I, H = shape
    G = bench.GATES[cell]
    # Start numba's threads before the first parallel call: a function of this file
    # loaded from numba's cache, which calls a parallel one, does not start them
    # (numba 0.68; a call without it crashed). seqnet's own calls ask numba's
    # thread count first, which starts them.
    numba.get_num_threads()
    rng = np.random.default_rng(0)
    W_ih = (rng.standard_normal((G * H, I)) * 0.1).astype(dtype)
    W_hh = (rng.standard_normal((G * H, H)) * 0.1).astype(dtype)
    x = rng.standard_normal((B, T, I)).astype(dtype)
    h = rng.standard_normal((B, T, H)).astype(dtype)
    dG = rng.standard_normal((B, T, G * H)).astype(dtype)
    gates = np.empty((B, T, G * H), dtype)
    dh = np.empty((B, T, H), dtype)
    dx, dW_ih, dW_hh = np.empty((B, T, I), dtype), np.empty_like(W_ih), np.empty_like(W_hh)
    W_rows, W_cols = cells._row_panels(W_hh), cells._col_panels(W_hh)
    fwd, fwd_bwd, _ = bench._seqnet_cell(cell, B, T, I, H, dtype)
    try:   # gru-v1 races PyTorch's GRU, as in python -m seqnet.bench cells
        torch_fns = bench._torch_cell(cell, B, T, I, H, dtype)[:2]
    except ImportError:
        torch_fns = None

    def timed(fn):
        return bench._median_time(fn, min_time=0.2) * 1e3

    # every round times the pieces, then seqnet, then PyTorch: a slow spell of the
    # machine then meets all of them, and each ratio comes from one round.
    names = ["input projection", "forward per-step products", "backward per-step products",
             "dx, dW_ih, dW_hh"]
    pieces = {name: [] for name in names}
    ours, theirs = {"fwd": [], "fwd+bwd": []}, {"fwd": [], "fwd+bwd": []}
    for _ in range(rounds):
        with _threads.blas_single_threaded():
            runs = [lambda: projection(x, W_ih, gates),
                    lambda: step_products(h, W_rows, gates),
                    lambda: step_products(dG, W_cols, dh),
                    lambda: sequence_products(dG, x, h, W_ih, dx, dW_ih, dW_hh)]
            for name, fn in zip(names, runs, strict=True):
                pieces[name].append(timed(fn))
        for i, key in enumerate(ours):
            ours[key].append(timed((fwd, fwd_bwd)[i]))
            if torch_fns is not None:
                theirs[key].append(timed(torch_fns[i]))
    seq, step = 2 * B * T * I * G * H, 2 * B * T * H * G * H
    flops = {"input projection": seq, "forward per-step products": step,
             "backward per-step products": step, "dx, dW_ih, dW_hh": 2 * seq + step}
    print(f"{cell} {np.dtype(dtype).name} (B, T, I, H) = {shape}, 2 threads, OpenBLAS held "
          f"at 1 inside the products\n")
    print("| piece | ms | GFLOP/s |\n|---|---|---|")
    med = {name: statistics.median(v) for name, v in pieces.items()}
    for name, ms in med.items():
        print(f"| {name} | {ms:.2f} | {flops[name] / ms / 1e6:.0f} |")
    products = {"fwd": [a + b for a, b in zip(pieces[names[0]], pieces[names[1]],
                                               strict=True)],
                "fwd+bwd": [sum(v) for v in zip(*pieces.values(), strict=True)]}
    print("\n| pass | seqnet ms | products ms | rest ms | torch ms | ratio | ratio if rest = 0 |")
    print("|---|---|---|---|---|---|---|")
    for key in ours:
        t, p = statistics.median(ours[key]), statistics.median(products[key])
        if theirs[key]:
            u = statistics.median(theirs[key])
            r = statistics.median(a / b for a, b in zip(ours[key], theirs[key], strict=True))
            q = statistics.median(a / b for a, b in zip(products[key], theirs[key],
                                                        strict=True))
            cols = f"{u:.2f} | {r:.2f} | {q:.2f}"
        else:
            cols = "- | - | -"
        print(f"| {key} | {t:.2f} | {p:.2f} | {t - p:.2f} | {cols} |")
    print(f"\n(medians over {rounds} rounds; each ratio the median of the rounds' ratios)")


if __name__ == "__main__":
    main(sys.argv[1], tuple(int(v) for v in sys.argv[2].split(",")),
         np.dtype(sys.argv[3] if len(sys.argv) > 3 else "float32").type)
