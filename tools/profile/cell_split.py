"""How much of a cell's forward and forward+backward is matrix products, how fast
those run, and what ratio to PyTorch the rest leaves room for:
python tools/profile/cell_split.py CELL[,CELL...] B,T,I,H [float32|float64]
[--rounds N] [--min-time S]   (CELL: rnn-tanh, rnn-relu, lstm, gru, gru-v1).

Each product is timed alone with the kernels' own code, run as the layer's call
runs it (``seqnet._dispatch.plan`` for the shape: serial or parallel, row blocks,
packed weights): the input projection and the whole-sequence gradients (dx,
dW_ih, dW_hh) as GEMMs over all B*T rows, in as many chunks as the call makes; the
per-step recurrent products (forward h W_hh^T, backward dG W_hh) through the
packed-panel tile, or BLAS on a call too short to pack, each row block running its
own time loop. The layer's own times come from the same rounds; "rest" is what is
not products (gate passes, bias sums, copies, allocation, the threads' start and
end). PyTorch's time, when it is installed, is taken in the same rounds, in turn
with seqnet's; without it its columns read "-".

The products are counted as every cell makes them: ``G*H`` gate columns per step
(G = 1, 4, 3 for the SimpleRNN, the LSTM, the GRU). Two are accounted, not
copied: the reset_before GRU (gru-v1) makes its forward per-step product as two
(r, z on h, then n on r * h), timed here as one; the SimpleRNN sums dW_hh inside
its backward time loop, timed here as one whole-sequence product.
"""

import argparse
import statistics

import numba
import numpy as np
from numba import prange

from seqnet import _dispatch, _threads, bench, variants
from seqnet._config import jit_pair
from seqnet.kernels._buffers import packed, packed_transpose
from seqnet.kernels._grads import input_grads_chunk, projection_chunk, weight_grad_chunk
from seqnet.kernels._steps import chunk, recurrent_product

PIECES = ("input projection", "forward per-step products", "backward per-step products",
          "dx, dW_ih, dW_hh")


def _step_products(A, W_packed, W, w_t, blocks, out):
    """``out[k] = A[rows of block k, t] @ op(W)`` at every step ``t``, each block of
    rows its own time loop (blocks in parallel in the parallel kernel): the products
    of a time loop, without its gate passes. ``W_packed``: ``op(W)`` packed, or
    empty (BLAS on ``W``, as :func:`seqnet.kernels._steps.recurrent_product`)."""
    B, T = A.shape[0], A.shape[1]
    for k in prange(blocks):
        r0, r1 = chunk(k, blocks, B)
        for t in range(T):
            recurrent_product(A[r0:r1, t], W_packed, 0, W, w_t, out[k, :r1 - r0], 0)


step_products = jit_pair(_step_products)


def _projection(x, W_ih, n, gates):
    """The input projection in ``n`` chunks, as the kernels make it."""
    for c in prange(n):
        projection_chunk(c, n, x, W_ih, gates)


def _sequence_products(dG, x, h, W_ih, n, dx, dW_ih, dW_hh):
    """dx, dW_ih and dW_hh in ``n`` chunks, as the LSTM's backward kernel makes them."""
    gf = dG.reshape(-1, dG.shape[2])
    for c in prange(n):
        input_grads_chunk(c, n, gf, x, W_ih, dx, dW_ih)
        weight_grad_chunk(c, n, gf, h.reshape(-1, h.shape[2]), dW_hh)


projection = jit_pair(_projection)
sequence_products = jit_pair(_sequence_products)


def main(cell, shape, dtype, rounds=5, min_time=0.2):
    B, T, I, H = shape
    G = len(variants.get(cell).gates)
    threads = numba.get_num_threads()
    how = _dispatch.plan(B, T, G * H, I, H)
    rng = np.random.default_rng(0)
    W_ih = (rng.standard_normal((G * H, I)) * 0.1).astype(dtype)
    W_hh = (rng.standard_normal((G * H, H)) * 0.1).astype(dtype)
    x = rng.standard_normal((B, T, I)).astype(dtype)
    h = rng.standard_normal((B, T, H)).astype(dtype)
    dG = rng.standard_normal((B, T, G * H)).astype(dtype)
    gates = np.empty((B, T, G * H), dtype)
    rows = -(-B // how.blocks)
    rec, work = np.empty((how.blocks, rows, G * H), dtype), np.empty((how.blocks, rows, H),
                                                                       dtype)
    dx, dW_ih, dW_hh = np.empty((B, T, I), dtype), np.empty_like(W_ih), np.empty_like(W_hh)
    W_hh_T_packed, W_hh_packed = packed_transpose(W_hh, how.pack), packed(W_hh, how.pack)
    steps = step_products[how.parallel]
    fwd, fwd_bwd, _ = bench._seqnet_cell(cell, B, T, I, H, dtype)
    try:   # gru-v1 races PyTorch's GRU, as in python -m seqnet.bench cells
        torch_fns = bench._torch_cell(cell, B, T, I, H, dtype)[:2]
    except ImportError:
        torch_fns = None

    def timed(fn):
        return bench._median_time(fn, min_time=min_time) * 1e3

    # every round times the pieces, then seqnet, then PyTorch: a slow spell of the
    # machine then meets all of them, and each ratio comes from one round.
    pieces = {name: [] for name in PIECES}
    ours, theirs = {"fwd": [], "fwd+bwd": []}, {"fwd": [], "fwd+bwd": []}
    for _ in range(rounds):
        with _threads.blas_single_threaded():
            runs = [
                lambda: projection[how.parallel](x, W_ih, how.seq_chunks, gates),
                lambda: steps(h, W_hh_T_packed, W_hh, True, how.blocks, rec),
                lambda: steps(dG, W_hh_packed, W_hh, False, how.blocks, work),
                lambda: sequence_products[how.parallel](dG, x, h, W_ih, how.seq_chunks,
                                                        dx, dW_ih, dW_hh)]
            for name, fn in zip(PIECES, runs, strict=True):
                pieces[name].append(timed(fn))
        for i, key in enumerate(ours):
            ours[key].append(timed((fwd, fwd_bwd)[i]))
            if torch_fns is not None:
                theirs[key].append(timed(torch_fns[i]))
    seq, step = 2 * B * T * I * G * H, 2 * B * T * H * G * H
    flops = {"input projection": seq, "forward per-step products": step,
             "backward per-step products": step, "dx, dW_ih, dW_hh": 2 * seq + step}
    print(f"{cell} {np.dtype(dtype).name} (B, T, I, H) = {shape}, {threads} threads "
          f"(time loop {'parallel' if how.parallel else 'serial'}, {how.blocks} row "
          f"block(s), weights {'packed' if how.pack else 'not packed'}; whole-sequence "
          f"products in {how.seq_chunks} chunk(s)), OpenBLAS held at 1 inside the products\n")
    print("| cell | dtype | B, T, I, H | piece | ms | GFLOP/s |\n|---|---|---|---|---|---|")
    case = f"{cell} | {np.dtype(dtype).name} | {', '.join(map(str, shape))}"
    for name, v in pieces.items():
        ms = statistics.median(v)
        print(f"| {case} | {name} | {ms:.3f} | {flops[name] / ms / 1e6:.0f} |")
    products = {"fwd": [a + b for a, b in zip(pieces[PIECES[0]], pieces[PIECES[1]],
                                               strict=True)],
                "fwd+bwd": [sum(v) for v in zip(*pieces.values(), strict=True)]}
    print("\n| cell | dtype | B, T, I, H | pass | seqnet ms | products ms | rest ms | torch ms "
          "| ratio | ratio if rest = 0 |\n|---|---|---|---|---|---|---|---|---|---|")
    for key in ours:
        t, p = statistics.median(ours[key]), statistics.median(products[key])
        if theirs[key]:
            u = statistics.median(theirs[key])
            r = statistics.median(a / b for a, b in zip(ours[key], theirs[key], strict=True))
            q = statistics.median(a / b for a, b in zip(products[key], theirs[key],
                                                        strict=True))
            cols = f"{u:.3f} | {r:.2f} | {q:.2f}"
        else:
            cols = "- | - | -"
        print(f"| {case} | {key} | {t:.3f} | {p:.3f} | {t - p:.3f} | {cols} |")
    print(f"\n(medians over {rounds} rounds; each ratio the median of the rounds' ratios)\n",
          flush=True)


def cli(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cells", help="comma-separated: " + ", ".join(variants.NAMES))
    p.add_argument("shape", help="B,T,I,H")
    p.add_argument("dtype", nargs="?", default="float32", choices=["float32", "float64"])
    p.add_argument("--rounds", type=int, default=5, help="rounds taking turns (default 5)")
    p.add_argument("--min-time", type=float, default=0.2,
                   help="seconds of repeats per timing (default 0.2)")
    args = p.parse_args(argv)
    cells = args.cells.split(",")
    unknown = [cell for cell in cells if cell not in variants.NAMES]
    if unknown:
        p.error(f"unknown cell(s) {unknown}: expected {', '.join(variants.NAMES)}")
    shape = tuple(int(v) for v in args.shape.split(","))
    if len(shape) != 4:
        p.error(f"shape: expected B,T,I,H, got {args.shape!r}")
    for cell in cells:
        main(cell, shape, np.dtype(args.dtype).type, args.rounds, args.min_time)


if __name__ == "__main__":
    cli()
