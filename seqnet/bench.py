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

from . import _threads, variants
from ._checks import positive_int_arg

#: (batch, time, input, hidden) shapes of the race.
GRID = [(1, 100, 64, 64), (32, 100, 128, 128), (64, 100, 256, 256), (128, 50, 512, 512),
        (32, 40, 65, 128)]
#: the cells raced: every variant (:data:`seqnet.variants.NAMES`).
CELLS = variants.NAMES


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


def _race(seqnet_fn, torch_fn, rounds):
    """Median seconds of each, and the median of their per-round ratios.

    The two are timed in turn, ``rounds`` times (each a :func:`_median_time` of at
    least 0.2 s), so that both see the same spells of a noisy machine: a ratio is
    taken from two adjacent measurements, never from two minutes apart.
    """
    t, u = [], []
    for _ in range(rounds):
        t.append(_median_time(seqnet_fn, min_time=0.2))
        u.append(_median_time(torch_fn, min_time=0.2))
    ratio = statistics.median(a / b for a, b in zip(t, u, strict=True))
    return statistics.median(t), statistics.median(u), ratio


def gemm_peak(dtype, n=2048, threads=None):
    """GFLOP/s of an n x n matrix product in numpy's BLAS.

    Parameters
    ----------
    dtype : numpy dtype
        ``np.float32`` or ``np.float64``.
    n : int, default 2048
        The matrices' size.
    threads : int, optional
        BLAS threads for the product (the race passes its ``--threads``); all of
        them when omitted.

    Returns
    -------
    float
        ``2 n^3`` divided by the median time of ``a @ b``, in GFLOP/s.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    with _threads.blas_threads(threads):
        t = _median_time(lambda: a @ b, min_time=1.0)
    return 2 * n ** 3 / t / 1e9


def environment_lines(threads):
    """Lines describing the machine, the thread counts and the BLAS kernels.

    Parameters
    ----------
    threads : int
        The thread count of the run, as reported.

    Returns
    -------
    list of str
        Markdown list items: machine and versions, threads, the OpenBLAS
        environment variables and each loaded OpenBLAS's kernel and threads.
    """
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
    return 2.0 * B * T * len(variants.get(cell).gates) * H * (I + H)


def _seqnet_cell(cell, B, T, I, H, dtype, package=None):
    """``(fwd, fwd_bwd, reset)`` closures over one layer of ``cell``; ``package``:
    the ``seqnet`` module to build it from (another version's, for
    ``tools/profile/ab.py``), this one by default."""
    if package is None:
        import seqnet as package

    v = variants.get(cell)
    # by class name: ``package`` may be another version of seqnet, with other classes.
    layer = getattr(package, v.layer.__name__)(H, **v.options, input_size=I, dtype=dtype,
                                                seed=0)
    x = np.random.default_rng(0).standard_normal((B, T, I)).astype(dtype)
    dout = np.ones((B, T, H), dtype)

    def fwd():
        layer.forward(x)

    def fwd_bwd():
        layer.forward(x, training=True)
        layer.backward(dout)

    def reset():  # drop the gradients, as if no backward had run
        layer.grads.clear()

    return fwd, fwd_bwd, reset


def _torch_cell(cell, B, T, I, H, dtype):
    import torch

    tdt = torch.float32 if dtype == np.float32 else torch.float64
    # PyTorch's GRU has the reset_after form only: gru-v1 races it, the same
    # products and gates with r applied elsewhere.
    v = variants.get(cell)
    mod = getattr(torch.nn, v.torch)(I, H, batch_first=True, **v.torch_options).to(tdt)
    x = torch.randn(B, T, I, dtype=tdt, requires_grad=True)
    dout = torch.ones(B, T, H, dtype=tdt)

    def fwd():
        with torch.no_grad():
            mod(x)

    def fwd_bwd():
        out, _ = mod(x)
        out.backward(dout)

    def reset():
        mod.zero_grad(set_to_none=True)
        x.grad = None

    return fwd, fwd_bwd, reset


def run_cells(args):
    """The cell grid: a markdown table on stdout.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``cells`` options: ``vs``, ``threads``, ``cells``, ``quick``,
        ``rounds``.

    Returns
    -------
    int
        The exit status, 0.
    """
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
        peaks[dt] = gemm_peak(dt, threads=args.threads)
        print(f"- GEMM peak {np.dtype(dt).name}: {peaks[dt]:.0f} GFLOP/s (numpy 2048^3)")
    print()
    head = "| cell | dtype | B, T, I, H | seqnet fwd ms | GFLOP/s | "
    head += ("torch fwd ms | ratio | at peak | seqnet fwd+bwd ms | torch fwd+bwd ms | ratio | "
             "at peak |") if vs_torch else "seqnet fwd+bwd ms | GFLOP/s |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    shapes = GRID if not args.quick else GRID[:2]
    for cell in args.cells:
        for dt in (np.float32, np.float64):
            for B, T, I, H in shapes:
                f, fb, _ = _seqnet_cell(cell, B, T, I, H, dt)
                flops = _flops(cell, B, T, I, H)
                if vs_torch:
                    g, gb, _ = _torch_cell(cell, B, T, I, H, dt)
                    (t_f, u_f, r_f), (t_fb, u_fb, r_fb) = (
                        _race(f, g, args.rounds), _race(fb, gb, args.rounds))
                else:
                    t_f, t_fb = _median_time(f), _median_time(fb)
                row = (f"| {cell} | {np.dtype(dt).name} | {B}, {T}, {I}, {H} | "
                       f"{t_f * 1e3:.2f} | {flops / t_f / 1e9:.0f} | ")
                if vs_torch:
                    # the ratio seqnet would have if every product ran at the peak
                    best_f = flops / (peaks[dt] * 1e9) / u_f
                    best_fb = 3 * flops / (peaks[dt] * 1e9) / u_fb
                    row += (f"{u_f * 1e3:.2f} | {r_f:.2f} | {best_f:.2f} | "
                            f"{t_fb * 1e3:.2f} | {u_fb * 1e3:.2f} | {r_fb:.2f} | "
                            f"{best_fb:.2f} |")
                else:
                    row += f"{t_fb * 1e3:.2f} | {3 * flops / t_fb / 1e9:.0f} |"
                print(row, flush=True)
    print("\nratio = seqnet time / PyTorch time (lower is better), the median over "
          f"{args.rounds} rounds that time seqnet and then PyTorch (each a median of "
          "repeats; the times shown are the medians over the rounds too); GFLOP/s counts "
          "the input and recurrent products (forward; fwd+bwd counts three times that). "
          "'at peak' is the ratio seqnet would reach if all those products ran at this "
          "run's GEMM peak and nothing else took time: no implementation bound by that "
          "peak beats it. PyTorch has no reset_after=False GRU: gru-v1 races its GRU "
          "(reset_after form), which makes the same products.")
    return 0


def bptt_minimum_bytes(cell, B, T, I, H, dtype):
    """Bytes that one forward+backward must allocate, at least.

    The activations BPTT must keep (gates and states of every step, see
    :attr:`seqnet.variants.Variant.bptt_keeps`), the input gradient ``dx``
    ``(B, T, I)`` and the weight gradients. The weights themselves exist before the
    call and are not counted.

    Parameters
    ----------
    cell : str
        A name of :data:`seqnet.variants.NAMES`.
    B, T, I, H : int
        Batch, time, input and hidden sizes.
    dtype : numpy dtype

    Returns
    -------
    int
    """
    v = variants.get(cell)
    gates, states = v.bptt_keeps
    n_weights = len(v.gates) * H * (I + H + 2)
    return np.dtype(dtype).itemsize * (B * T * H * (gates + states) + B * T * I + n_weights)


def _rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"no {field} in /proc/self/status")


def _memory_one(framework, cell, B, T, I, H, dtype_name, threads):
    """In a fresh process: the resident memory one forward+backward adds at its peak.

    A first forward+backward of the same shape warms up (compiled or loaded
    kernels, thread pools); its results are dropped. Then the process's peak-RSS mark
    is reset (``/proc/self/clear_refs``) and the peak of a second forward+backward
    less the resident size before it is printed, in bytes. Run with
    ``MALLOC_MMAP_THRESHOLD_`` fixed (see :func:`_memory_in_subprocess`), so that
    every large array is its own mapping, returned to the system when freed: the
    warm-up's freed memory cannot hide the second run's.

    Parameters
    ----------
    framework : {"seqnet", "torch"}
    cell : str
        A name of :data:`seqnet.variants.NAMES`.
    B, T, I, H : int
        Batch, time, input and hidden sizes.
    dtype_name : {"float32", "float64"}
    threads : int
        Threads of the framework's pool.
    """
    import gc

    dtype = np.dtype(dtype_name).type
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        _, run, reset = _torch_cell(cell, B, T, I, H, dtype)
    else:
        import seqnet

        seqnet.set_num_threads(threads)
        _, run, reset = _seqnet_cell(cell, B, T, I, H, dtype)
    run()  # the warm-up
    reset()
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident size (VmHWM) to the current one
    before = _rss_kib("VmRSS")
    run()
    print((_rss_kib("VmHWM") - before) * 1024)


def _memory_in_subprocess(framework, cell, shape, dtype, threads):
    """:func:`_memory_one` in a fresh interpreter, with glibc's mmap threshold fixed
    at 128 KiB (``MALLOC_MMAP_THRESHOLD_``); returns its bytes."""
    import subprocess

    code = (f"from seqnet.bench import _memory_one; _memory_one({framework!r}, {cell!r}, "
            f"*{tuple(shape)!r}, {np.dtype(dtype).name!r}, {threads})")
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=env)
    return int(done.stdout.split()[-1])


def run_memory(args):
    """Peak memory of forward+backward against the BPTT minimum: a markdown table.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``memory`` options: ``vs``, ``threads``, ``cells``, ``quick``.

    Returns
    -------
    int
        The exit status, 0.
    """
    vs_torch = args.vs == "torch"
    print("# Peak memory of one forward+backward, against what BPTT must keep\n")
    print("\n".join(environment_lines(args.threads)))
    print("- peak: the resident size one forward+backward adds at its peak, each in a "
          "fresh process (kernels compiled, weights, x and dout allocated before)")
    print("- minimum: gates and states of every step, dx and the weight gradients "
          "(seqnet.bench.bptt_minimum_bytes)\n")
    head = "| cell | dtype | B, T, I, H | minimum MB | seqnet MB | seqnet / minimum |"
    head += " torch MB | torch / minimum |" if vs_torch else ""
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    shapes = GRID if not args.quick else GRID[:2]
    for cell in args.cells:
        for dt in (np.float32, np.float64):
            for shape in shapes:
                low = bptt_minimum_bytes(cell, *shape, dt)
                ours = _memory_in_subprocess("seqnet", cell, shape, dt, args.threads)
                row = (f"| {cell} | {np.dtype(dt).name} | {', '.join(map(str, shape))} | "
                       f"{low / 1e6:.1f} | {ours / 1e6:.1f} | {ours / low:.2f} |")
                if vs_torch and variants.get(cell).torch_parity:
                    theirs = _memory_in_subprocess("torch", cell, shape, dt, args.threads)
                    row += f" {theirs / 1e6:.1f} | {theirs / low:.2f} |"
                elif vs_torch:
                    row += " - | - |"
                print(row, flush=True)
    return 0


def run_charlm(args):
    """Time per epoch of the reference character model, seqnet and PyTorch.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``charlm`` options: ``vs``, ``threads``, ``batches``, ``block``.

    Returns
    -------
    int
        The exit status, 0.
    """
    import seqnet

    from . import datasets, optim, text
    from .charlm import build_charlm

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

    def seqnet_step(idx):
        model.train_on_batch(X[idx], y[idx])

    steps = {"seqnet": seqnet_step}
    if args.vs == "torch":
        steps["torch"] = _torch_charlm_step(X, y, V, args.threads)
    for step in steps.values():
        step(batches[0])   # compile or load the kernels, warm the pools
    # the frameworks take turns, args.block batches at a time, so that both see the
    # same spells of a noisy machine.
    spent = dict.fromkeys(steps, 0.0)
    for i in range(0, n_batches, args.block):
        for name, step in steps.items():
            start = time.perf_counter()
            for idx in batches[i:i + args.block]:
                step(idx)
            spent[name] += time.perf_counter() - start
    per_epoch = -(-len(X) // 128)
    print(f"\n| | ms per batch | seconds per epoch ({per_epoch} batches) |\n|---|---|---|")
    t_seq = spent["seqnet"]
    print(f"| seqnet | {t_seq / n_batches * 1e3:.1f} | {t_seq / n_batches * per_epoch:.1f} |")
    if "torch" in spent:
        import torch

        t_torch = spent["torch"]
        print(f"| PyTorch {torch.__version__} | {t_torch / n_batches * 1e3:.1f} | "
              f"{t_torch / n_batches * per_epoch:.1f} |")
        print(f"\ntime ratio seqnet / PyTorch: {t_seq / t_torch:.2f} (lower is better; the "
              f"two took turns, {args.block} batches at a time)")
    return 0


def _torch_charlm_step(X, y, V, threads):
    """The reference model in PyTorch (one-hot input): a function training it on the
    batch of window indices it is given."""
    import torch

    torch.set_num_threads(threads)
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
        idx = torch.from_numpy(idx)
        xb = torch.nn.functional.one_hot(Xt[idx], V).float()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xb), yt[idx])
        loss.backward()
        opt.step()

    return step


def main(argv=None):
    """Entry point of ``python -m seqnet.bench``.

    Parameters
    ----------
    argv : list of str, optional
        The command-line arguments (``cells ...`` or ``charlm ...``);
        ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(prog="python -m seqnet.bench", description=__doc__.split(
        "\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    for name in ("cells", "charlm", "memory"):
        p = sub.add_parser(name)
        p.add_argument("--vs", choices=["torch", "none"], default="torch")
        p.add_argument("--threads", type=int, default=2)
        if name in ("cells", "memory"):
            p.add_argument("--cells", nargs="+", choices=variants.NAMES, default=list(CELLS))
            p.add_argument("--quick", action="store_true", help="the first two shapes only")
        else:
            p.add_argument("--batches", type=int, help="time this many batches, not an epoch")
            p.add_argument("--block", type=positive_int_arg, default=50,
                           help="batches timed in turn per framework (default 50)")
        if name == "cells":
            p.add_argument("--rounds", type=positive_int_arg, default=3,
                           help="rounds of seqnet-then-PyTorch timings per case (default 3)")
    args = parser.parse_args(argv)
    return {"cells": run_cells, "charlm": run_charlm, "memory": run_memory}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
