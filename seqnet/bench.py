"""Side-by-side speed against PyTorch on the CPU: ``python -m seqnet.bench``.

``python -m seqnet.bench cells --vs torch`` times every cell's forward and
forward+backward on a grid of shapes, seqnet and PyTorch in one run with the same
thread count, and prints a markdown table of milliseconds, GFLOP/s and the time
ratio seqnet / PyTorch, with the machine's GEMM peak from the same run and the
BLAS kernels in use. ``python -m seqnet.bench charlm --vs torch`` times an epoch
of the reference character model in both.

PyTorch is optional (``pip install torch==2.13.0``). Run with both
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset, as on a user's machine
(``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m seqnet.bench ...``): they
select slower OpenBLAS kernels, and PyTorch does not use OpenBLAS. The output says
what they were.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

from . import _threads

#: (batch, time, input, hidden) shapes of the race.
GRID = [(1, 100, 64, 64), (32, 100, 128, 128), (64, 100, 256, 256), (128, 50, 512, 512),
        (32, 40, 65, 128)]
CELLS = ("lstm", "gru", "gru-v1", "rnn")
GATES = {"lstm": 4, "gru": 3, "gru-v1": 3, "rnn": 1}


def _median_time(fn, *, min_time=0.5, min_repeats=5, max_repeats=200):
    """Median seconds of ``fn()`` over repeats (after one warm-up call)."""
    fn()
    times = []
    start = time.perf_counter()
    while (len(times) < min_repeats or time.perf_counter() - start < min_time) \
            and len(times) < max_repeats:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gemm_peak(dtype, n=2048):
    """GFLOP/s of an n x n matrix product in numpy (its BLAS, all its threads)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    t = _median_time(lambda: a @ b, min_time=1.0)
    return 2 * n ** 3 / t / 1e9


def environment_lines(threads):
    """Lines describing the machine, the thread counts and the BLAS kernels."""
    import numba

    lines = [f"- machine: {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPUs; python {platform.python_version()}, numpy "
             f"{np.__version__}, numba {numba.__version__}",
             f"- threads: {threads} (numba's pool; OpenBLAS held at 1 inside seqnet)"]
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        value = os.environ.get(var)
        lines.append(f"- {var}: " + ("unset (as on a user's machine)" if value is None
                                     else f"{value!r} (SET: OpenBLAS runs slower kernels)"))
    for lib, core, n in _threads.blas_info():
        lines.append(f"- OpenBLAS {lib}: kernel {core}, {n} threads")
    return lines


def _flops(cell, B, T, I, H):
    """Forward multiply-add FLOPs: input and recurrent products of every step."""
    return 2.0 * B * T * GATES[cell] * H * (I + H)


def _seqnet_cell(cell, B, T, I, H, dtype):
    import seqnet

    kw = dict(input_size=I, dtype=dtype, seed=0)
    layer = {"lstm": lambda: seqnet.LSTM(H, **kw), "gru": lambda: seqnet.GRU(H, **kw),
             "gru-v1": lambda: seqnet.GRU(H, reset_after=False, **kw),
             "rnn": lambda: seqnet.SimpleRNN(H, **kw)}[cell]()
    x = np.random.default_rng(0).standard_normal((B, T, I)).astype(dtype)
    dout = np.ones((B, T, H), dtype)

    def fwd():
        layer.forward(x)

    def fwd_bwd():
        layer.forward(x, training=True)
        layer.backward(dout)

    return fwd, fwd_bwd


def _torch_cell(cell, B, T, I, H, dtype):
    import torch

    tdt = torch.float32 if dtype == np.float32 else torch.float64
    mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](
        I, H, batch_first=True).to(tdt)
    x = torch.randn(B, T, I, dtype=tdt, requires_grad=True)
    dout = torch.ones(B, T, H, dtype=tdt)

    def fwd():
        with torch.no_grad():
            mod(x)

    def fwd_bwd():
        out, _ = mod(x)
        out.backward(dout)

    return fwd, fwd_bwd


def run_cells(args):
    """The cell grid: a markdown table on stdout."""
    vs_torch = args.vs == "torch"
    if vs_torch:
        import torch

        torch.set_num_threads(args.threads)
    import seqnet

    seqnet.set_num_threads(args.threads)
    print("# seqnet against PyTorch: recurrent cells on the CPU\n")
    print("\n".join(environment_lines(args.threads)))
    peaks = {}
    for dt in (np.float32, np.float64):
        peaks[dt] = gemm_peak(dt)
        print(f"- GEMM peak {np.dtype(dt).name}: {peaks[dt]:.0f} GFLOP/s (numpy 2048^3)")
    print()
    head = "| cell | dtype | B, T, I, H | seqnet fwd ms | GFLOP/s | "
    head += "torch fwd ms | ratio | seqnet fwd+bwd ms | torch fwd+bwd ms | ratio |" \
        if vs_torch else "seqnet fwd+bwd ms | GFLOP/s |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    shapes = GRID if not args.quick else GRID[:2]
    for cell in args.cells:
        for dt in (np.float32, np.float64):
            for B, T, I, H in shapes:
                f, fb = _seqnet_cell(cell, B, T, I, H, dt)
                t_f, t_fb = _median_time(f), _median_time(fb)
                flops = _flops(cell, B, T, I, H)
                row = (f"| {cell} | {np.dtype(dt).name} | {B}, {T}, {I}, {H} | "
                       f"{t_f * 1e3:.2f} | {flops / t_f / 1e9:.0f} | ")
                if vs_torch and cell != "gru-v1":
                    g, gb = _torch_cell(cell, B, T, I, H, dt)
                    u_f, u_fb = _median_time(g), _median_time(gb)
                    row += (f"{u_f * 1e3:.2f} | {t_f / u_f:.2f} | {t_fb * 1e3:.2f} | "
                            f"{u_fb * 1e3:.2f} | {t_fb / u_fb:.2f} |")
                elif vs_torch:
                    row += f"- | - | {t_fb * 1e3:.2f} | - | - |"
                else:
                    row += f"{t_fb * 1e3:.2f} | {3 * flops / t_fb / 1e9:.0f} |"
                print(row, flush=True)
    print("\nratio = seqnet time / PyTorch time (lower is better); GFLOP/s counts the "
          "input and recurrent products (forward; fwd+bwd counts three times that). "
          "PyTorch has no reset_after=False GRU (gru-v1).")
    return 0


def run_charlm(args):
    """Time per epoch of the reference character model, seqnet and PyTorch."""
    import seqnet

    from . import datasets, optim, text
    from .cli import build_charlm

    seqnet.set_num_threads(args.threads)
    corpus = datasets.shakespeare().lower()
    corpus = corpus[:int(len(corpus) * 0.9)]
    vocab = text.CharVocabulary.from_text(corpus)
    X, y = text.char_windows(vocab.encode(corpus), 40, 3)
    n_batches = -(-len(X) // 128)
    if args.batches is not None:
        n_batches = min(n_batches, args.batches)
    order = np.random.default_rng(0).permutation(len(X))
    batches = [order[i * 128:(i + 1) * 128] for i in range(n_batches)]
    V = len(vocab)
    print("# seqnet against PyTorch: one epoch of the reference character model\n")
    print("\n".join(environment_lines(args.threads)))
    print(f"- model: LSTM(128) -> Dropout(0.2) -> Dense({V}, softmax), RMSprop lr 0.01, "
          f"batch 128, windows of 40 every 3: {len(X):,} windows, "
          f"{n_batches} batches timed{' (of an epoch)' if args.batches else ' (a full epoch)'}")
    model = build_charlm(V, seed=0)
    model.compile("sparse_categorical_crossentropy", optim.RMSprop(learning_rate=0.01))
    model.train_on_batch(X[batches[0]], y[batches[0]])
    start = time.perf_counter()
    for idx in batches:
        model.train_on_batch(X[idx], y[idx])
    t_seq = time.perf_counter() - start
    per_epoch = -(-len(X) // 128)
    print(f"\n| | ms per batch | seconds per epoch ({per_epoch} batches) |\n|---|---|---|")
    print(f"| seqnet | {t_seq / n_batches * 1e3:.1f} | {t_seq / n_batches * per_epoch:.1f} |",
          flush=True)
    if args.vs == "torch":
        import torch

        torch.set_num_threads(args.threads)
        torch.manual_seed(0)

        class CharLM(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = torch.nn.LSTM(V, 128, batch_first=True)
                self.drop = torch.nn.Dropout(0.2)
                self.fc = torch.nn.Linear(128, V)

            def forward(self, x):
                _, (h, _) = self.lstm(x)
                return self.fc(self.drop(h[-1]))

        net = CharLM()
        opt = torch.optim.RMSprop(net.parameters(), lr=0.01, alpha=0.9, eps=1e-7)
        Xt, yt = torch.from_numpy(X.astype(np.int64)), torch.from_numpy(y.astype(np.int64))

        def step(idx):
            xb = torch.nn.functional.one_hot(Xt[idx], V).float()
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(xb), yt[idx])
            loss.backward()
            opt.step()

        step(torch.from_numpy(batches[0]))
        start = time.perf_counter()
        for idx in batches:
            step(torch.from_numpy(idx))
        t_torch = time.perf_counter() - start
        print(f"| PyTorch {torch.__version__} | {t_torch / n_batches * 1e3:.1f} | "
              f"{t_torch / n_batches * per_epoch:.1f} |")
        print(f"\ntime ratio seqnet / PyTorch: {t_seq / t_torch:.2f} (lower is better)")
    return 0


def main(argv=None):
    """Entry point of ``python -m seqnet.bench``."""
    parser = argparse.ArgumentParser(prog="python -m seqnet.bench", description=__doc__.split(
        "\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    for name in ("cells", "charlm"):
        p = sub.add_parser(name)
        p.add_argument("--vs", choices=["torch", "none"], default="torch")
        p.add_argument("--threads", type=int, default=2)
        if name == "cells":
            p.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS))
            p.add_argument("--quick", action="store_true", help="the first two shapes only")
        else:
            p.add_argument("--batches", type=int, help="time this many batches, not an epoch")
    args = parser.parse_args(argv)
    return run_cells(args) if args.what == "cells" else run_charlm(args)


if __name__ == "__main__":
    sys.exit(main())
