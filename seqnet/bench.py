"""Side-by-side speed against PyTorch on the CPU: ``python -m seqnet.bench``.

``python -m seqnet.bench cells --vs torch`` times every cell's forward and
forward+backward on a grid of shapes (by default issue 17's: :data:`GRID`), and
prints a markdown table of milliseconds, the time ratio seqnet / PyTorch and the
fraction of the machine's GEMM peak each framework reached, under a host report:
CPU model, vector ISA, cores, the numpy GEMM peaks at the run's thread count, the
OpenBLAS kernels and the OpenMP settings. ``--json FILE`` also writes all of it as
JSON. ``python -m seqnet.bench charlm --vs torch`` times an epoch of the reference
character model in both; ``memory`` compares peak memory with what BPTT must keep.

Each framework runs in a process of its own (a worker started by the command), as a
user would run it: nothing one framework leaves behind (thread pools, OpenMP
state, caches) slows the other. The workers take turns, one round each, so that both
see the same spells of a noisy machine. ``--in-process`` races them in one process
instead, as this command used to (biased: see ``docs/performance.md``).

PyTorch is optional (``pip install torch==2.13.0``). Run with both
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset, as on a user's machine
(``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m seqnet.bench ...``): they
select slower OpenBLAS kernels, and PyTorch does not use OpenBLAS. The output says
what they were.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

from . import _io, _threads, variants
from ._checks import positive_int_arg

#: (batch, time, input, hidden) shapes of the race: the grid of issue 17 (its targets
#: are stated over it; the last one is the character model's).
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


def _race(time_seqnet, time_torch, rounds):
    """Median seconds of each, and the median of their per-round ratios.

    ``time_seqnet()`` and ``time_torch()`` each return one measurement in seconds (a
    :func:`_median_time` of at least 0.2 s, in a worker process or in this one). They
    are called in turn, ``rounds`` times, so that both see the same spells of a
    noisy machine: a ratio is taken from two adjacent measurements, never from two
    minutes apart.
    """
    t, u = [], []
    for _ in range(rounds):
        t.append(time_seqnet())
        u.append(time_torch())
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


#: environment variables that change how the thread pools wait or which kernels
#: OpenBLAS runs; the host report gives each one's value.
ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME",
            "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER")


def _cpuinfo(path="/proc/cpuinfo"):
    """(model name, set of flags) of the first CPU in ``path``; ``(None, set())``
    where there is no such file (not Linux)."""
    model, flags = None, set()
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model is None:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
                if model is not None and flags:
                    break
    except OSError:
        pass
    return model, flags


def vector_isa(flags):
    """The widest x86 vector instruction set in a CPU's flags.

    Parameters
    ----------
    flags : set of str
        The ``flags`` of ``/proc/cpuinfo``.

    Returns
    -------
    str
        ``"AVX-512"`` (``avx512f``), ``"AVX2"`` (``avx2`` with ``fma``), ``"AVX"``,
        ``"SSE"`` or ``"unknown"`` (no flags: not Linux, or not x86).
    """
    if "avx512f" in flags:
        return "AVX-512"
    if "avx2" in flags and "fma" in flags:
        return "AVX2"
    if "avx" in flags:
        return "AVX"
    if "sse2" in flags:
        return "SSE"
    return "unknown"


def _version(package):
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def host_info(threads):
    """The machine, the versions and the thread settings of a run, as a dict.

    Parameters
    ----------
    threads : int
        The run's thread count.

    Returns
    -------
    dict
        ``cpu`` (model name), ``isa`` (:func:`vector_isa`), ``cpus``
        (``os.cpu_count()``), ``cpus_usable`` (the process's affinity), ``threads``,
        ``versions`` (python, numpy, numba, scipy, torch or None), ``openblas`` (a
        list of ``{"library", "kernel", "threads"}``), ``numba_threading_layer``
        (numba's setting; the layer itself is chosen at the first parallel call)
        and ``env`` (each of :data:`ENV_VARS`, None when unset). A run adds
        ``gemm_peak_gflops`` per dtype.
    """
    import numba

    model, flags = _cpuinfo()
    usable = _threads.usable_cores()
    return {
        "cpu": model or platform.processor() or platform.machine(),
        "isa": vector_isa(flags),
        "cpus": os.cpu_count(),
        "cpus_usable": usable,
        "threads": threads,
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "numba": numba.__version__, "scipy": _version("scipy"),
                     "torch": _version("torch")},
        "openblas": [{"library": lib, "kernel": core, "threads": n}
                     for lib, core, n in _threads.blas_info()],
        "numba_threading_layer": numba.config.THREADING_LAYER,
        "env": {var: os.environ.get(var) for var in ENV_VARS},
    }


def host_lines(info):
    """Markdown list items describing :func:`host_info`'s dict.

    Parameters
    ----------
    info : dict
        As :func:`host_info` returns it, with ``gemm_peak_gflops`` when measured.

    Returns
    -------
    list of str
    """
    v = info["versions"]
    lines = [f"- host: {info['cpu']}, {info['isa']}, {info['cpus']} CPUs "
             f"({info['cpus_usable']} usable)",
             f"- python {v['python']}, numpy {v['numpy']}, scipy {v['scipy']}, numba "
             f"{v['numba']}, torch {v['torch'] or 'not installed'}",
             f"- threads: {info['threads']} (numba's pool, numba threading layer "
             f"setting {info['numba_threading_layer']!r}; OpenBLAS held at 1 inside "
             "seqnet's kernels)"]
    for dt, peak in info.get("gemm_peak_gflops", {}).items():
        lines.append(f"- GEMM peak {dt}: {peak:.0f} GFLOP/s (numpy 2048^3, "
                     f"{info['threads']} threads)")
    for blas in info["openblas"]:
        lines.append(f"- OpenBLAS {blas['library']}: kernel {blas['kernel']}, "
                     f"{blas['threads']} threads")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        value = info["env"][var]
        lines.append(f"- {var}: " + ("unset (as on a user's machine)" if value is None
                                     else f"{value!r} (SET: OpenBLAS runs slower kernels)"))
    others = [f"{k}={v}" for k, v in info["env"].items()
              if v is not None and not k.startswith("OPENBLAS_")]
    lines.append("- other thread settings: " + (", ".join(others) if others else "none set"))
    return lines


def environment_lines(threads):
    """Lines describing the machine, the thread counts and the BLAS kernels.

    Parameters
    ----------
    threads : int
        The thread count of the run, as reported.

    Returns
    -------
    list of str
        Markdown list items (:func:`host_lines` of :func:`host_info`).
    """
    return host_lines(host_info(threads))


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


def _case_fns(framework, cell, shape, dtype_name):
    """``{"fwd": fn, "fwd_bwd": fn}`` of one case in ``framework``."""
    make = _torch_cell if framework == "torch" else _seqnet_cell
    fwd, fwd_bwd, _ = make(cell, *shape, np.dtype(dtype_name).type)
    return {"fwd": fwd, "fwd_bwd": fwd_bwd}


#: the first characters of a worker's reply line (anything else it prints is not one).
_REPLY = "@seqnet.bench "


def _worker(framework, threads):
    """A benchmark worker: answers requests, one JSON line each, on stdin.

    Runs in a process of its own (:class:`_Worker` starts it), with ``framework``'s
    thread pool set to ``threads`` and nothing of the other framework loaded.
    Requests: ``{"kind": "cell", "cell", "shape", "dtype", "pass", "min_time"}``
    (one :func:`_median_time`, after a warm-up that compiles or loads the kernels),
    ``{"kind": "threads"}`` (:func:`thread_report`, after the run's cases)
    and ``{"kind": "charlm", "batches", "start", "stop"}`` (the character model: the
    wall time of its batches ``start:stop``). Each reply is one line on stdout,
    ``@seqnet.bench `` then JSON: ``{"seconds": ...}``, or ``{"error": ...}``.

    Parameters
    ----------
    framework : {"seqnet", "torch"}
    threads : int
    """
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
    else:
        from . import _threads as threads_

        threads_.set_num_threads(threads)
    cases, charlm = {}, {}
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["kind"] == "threads":
                reply = {"seconds": 0.0, "threads": thread_report()}
            elif request["kind"] == "cell":
                key = (request["cell"], tuple(request["shape"]), request["dtype"])
                if key not in cases:
                    cases[key] = _case_fns(framework, *key)
                fn = cases[key][request["pass"]]
                reply = {"seconds": _median_time(fn, min_time=request["min_time"])}
            else:
                if request["batches"] not in charlm:
                    charlm[request["batches"]] = _charlm_setup(framework, request["batches"],
                                                               threads)
                step, batches = charlm[request["batches"]]["step"], \
                    charlm[request["batches"]]["batches"]
                start = time.perf_counter()
                for idx in batches[request["start"]:request["stop"]]:
                    step(idx)
                reply = {"seconds": time.perf_counter() - start}
        except Exception as exc:  # reported to the parent, which raises it
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print(_REPLY + json.dumps(reply), flush=True)


class _Worker:
    """A :func:`_worker` process for one framework; ``ask(request)`` returns its
    reply. It imports the same ``seqnet`` as this process."""

    def __init__(self, framework, threads):
        import seqnet

        root = os.path.dirname(os.path.dirname(os.path.abspath(seqnet.__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        code = f"from seqnet.bench import _worker; _worker({framework!r}, {int(threads)})"
        self.framework = framework
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)

    def ask(self, request):
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith(_REPLY):
                reply = json.loads(line[len(_REPLY):])
                if "error" in reply:
                    raise RuntimeError(f"the {self.framework} worker failed: {reply['error']}")
                return reply["threads"] if "threads" in reply else reply["seconds"]
        raise RuntimeError(f"the {self.framework} worker exited "
                           f"(status {self.proc.wait()})")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()
        self.proc.stdout.close()


def thread_report():
    """What holds threads in this process: numba's threading layer (once chosen),
    the OpenMP runtimes loaded and the thread count.

    Returns
    -------
    dict
        ``numba_threading_layer`` (None before the first parallel region),
        ``openmp_runtimes`` (file names of the loaded libgomp, libiomp or libomp,
        from ``/proc/self/maps``; empty elsewhere than Linux) and ``threads`` (the
        process's threads, from ``/proc/self/task``; None elsewhere).
    """
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel region has run
        layer = None
    runtimes = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                name = os.path.basename(line.rsplit(None, 1)[-1])
                if name.startswith(("libgomp", "libiomp", "libomp")):
                    runtimes.add(name)
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        threads = None
    return {"numba_threading_layer": layer, "openmp_runtimes": sorted(runtimes),
            "threads": threads}


def _parse_shape(value):
    """``"B,T,I,H"`` to a tuple of four positive ints, for argparse."""
    try:
        shape = tuple(int(v) for v in value.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"must be four positive integers B,T,I,H, got {value!r}")
    return shape


def _measure_peaks(info, threads):
    """Add the numpy GEMM peaks at ``threads`` threads to ``info`` (in place)."""
    info["gemm_peak_gflops"] = {np.dtype(dt).name: gemm_peak(dt, threads=threads)
                                for dt in (np.float32, np.float64)}
    return info


def _where(args):
    return "in this one process" if args.in_process else "each in a process of its own"


def _write_json(path, payload):
    with _io.atomic_write(path, "w") as f:
        json.dump(payload, f, indent=1)
        f.write("\n")


def run_cells(args):
    """The cell grid: a markdown table on stdout, JSON with ``--json``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``cells`` options: ``vs``, ``threads``, ``cells``, ``quick``,
        ``shapes``, ``rounds``, ``in_process``, ``json``.

    Returns
    -------
    int
        The exit status, 0.
    """
    vs_torch = args.vs == "torch"
    info = _measure_peaks(host_info(args.threads), args.threads)
    peaks = info["gemm_peak_gflops"]
    print("# seqnet against PyTorch: recurrent cells on the CPU\n")
    print("\n".join(host_lines(info)))
    print(f"- frameworks: {_where(args)}, taking turns, {args.rounds} rounds per case\n")
    if args.in_process:
        if vs_torch:
            import torch

            torch.set_num_threads(args.threads)
        _threads.set_num_threads(args.threads)
        local = {}

        def measure(framework, cell, shape, dt, pass_):
            key = (framework, cell, shape, dt)
            if key not in local:
                local[key] = _case_fns(framework, cell, shape, dt)
                local[key][pass_]()  # warm-up: compile or load the kernels
            return _median_time(local[key][pass_], min_time=0.2)
    else:
        workers = {"seqnet": _Worker("seqnet", args.threads)}
        if vs_torch:
            workers["torch"] = _Worker("torch", args.threads)

        def measure(framework, cell, shape, dt, pass_):
            return workers[framework].ask({"kind": "cell", "cell": cell, "shape": list(shape),
                                           "dtype": dt, "pass": pass_, "min_time": 0.2})
    head = "| cell | dtype | B, T, I, H | "
    if vs_torch:
        head += ("seqnet fwd ms | torch fwd ms | ratio | seqnet % peak | torch % peak | "
                 "seqnet fwd+bwd ms | torch fwd+bwd ms | ratio | seqnet % peak | "
                 "torch % peak |")
    else:
        head += "seqnet fwd ms | % peak | seqnet fwd+bwd ms | % peak |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    shapes = args.shapes or (GRID if not args.quick else GRID[:2])
    rows = []
    try:
        for cell in args.cells:
            for dt in ("float32", "float64"):
                for shape in shapes:
                    row = {"cell": cell, "dtype": dt, "shape": list(shape),
                           "flops_fwd": _flops(cell, *shape)}
                    cols = [cell, dt, ", ".join(map(str, shape))]
                    for pass_, factor in (("fwd", 1), ("fwd_bwd", 3)):
                        flops = factor * row["flops_fwd"]
                        if vs_torch:
                            case = (cell, shape, dt, pass_)
                            t, u, r = _race(lambda case=case: measure("seqnet", *case),
                                            lambda case=case: measure("torch", *case),
                                            args.rounds)
                        else:
                            t = statistics.median(measure("seqnet", cell, shape, dt, pass_)
                                                  for _ in range(args.rounds))
                        fraction = flops / t / 1e9 / peaks[dt]
                        row[pass_] = {"seqnet_s": t, "seqnet_peak_fraction": fraction}
                        if vs_torch:
                            row[pass_].update(torch_s=u, ratio=r, torch_peak_fraction=(
                                flops / u / 1e9 / peaks[dt]))
                            cols += [f"{t * 1e3:.2f}", f"{u * 1e3:.2f}", f"{r:.2f}",
                                     f"{100 * fraction:.0f}",
                                     f"{100 * row[pass_]['torch_peak_fraction']:.0f}"]
                        else:
                            cols += [f"{t * 1e3:.2f}", f"{100 * fraction:.0f}"]
                    rows.append(row)
                    print("| " + " | ".join(cols) + " |", flush=True)
        threads = ({"this process": thread_report()} if args.in_process else
                   {name: w.ask({"kind": "threads"}) for name, w in workers.items()})
    finally:
        if not args.in_process:
            for w in workers.values():
                w.close()
    for name, report in threads.items():
        print(f"\n{name} after its runs: numba threading layer "
              f"{report['numba_threading_layer']}, OpenMP runtimes loaded: "
              f"{', '.join(report['openmp_runtimes']) or 'none'}; {report['threads']} threads",
              end="")
    print()
    print("\nratio = seqnet time / PyTorch time (lower is better), the median over "
          f"{args.rounds} rounds that time seqnet and then PyTorch (each a median of "
          "repeats; the times shown are the medians over the rounds too). % peak = the "
          "input and recurrent products' FLOPs (forward; forward+backward counts three "
          "times that) / time / this run's numpy GEMM peak of the dtype: the share of "
          "the peak a framework reached. PyTorch has no reset_after=False GRU: gru-v1 "
          "races its GRU (reset_after form), which makes the same products.")
    if args.json:
        _write_json(args.json, {"what": "cells", "vs": args.vs, "rounds": args.rounds,
                                "in_process": args.in_process, "host": info, "rows": rows,
                                "threads": threads})
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
    shapes = args.shapes or (GRID if not args.quick else GRID[:2])
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


def _charlm_data(batches=None):
    """The reference model's training data: ``(X, y, V, batches)``, ``batches`` a list
    of window-index arrays of 128, an epoch's or the first ``batches`` of them."""
    from . import datasets, text

    corpus = datasets.shakespeare().lower()
    corpus = corpus[:int(len(corpus) * 0.9)]
    vocab = text.CharVocabulary.from_text(corpus)
    X, y = text.char_windows(vocab.encode(corpus), 40, 3)
    n_batches = -(-len(X) // 128)
    if batches is not None:
        n_batches = min(n_batches, batches)
    order = np.random.default_rng(0).permutation(len(X))
    return X, y, len(vocab), [order[i * 128:(i + 1) * 128] for i in range(n_batches)]


def _charlm_setup(framework, batches, threads):
    """``{"step", "batches"}``: the reference model's training step in ``framework``,
    already run once on the first batch (compiling or loading the kernels)."""
    X, y, V, order = _charlm_data(batches)
    if framework == "torch":
        step = _torch_charlm_step(X, y, V, threads)
    else:
        from . import optim
        from .charlm import build_charlm

        _threads.set_num_threads(threads)
        model = build_charlm(V, seed=0)
        model.compile("sparse_categorical_crossentropy", optim.RMSprop(learning_rate=0.01))

        def step(idx):
            model.train_on_batch(X[idx], y[idx])
    step(order[0])
    return {"step": step, "batches": order}


def run_charlm(args):
    """Time per epoch of the reference character model, seqnet and PyTorch.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``charlm`` options: ``vs``, ``threads``, ``batches``, ``block``,
        ``in_process``, ``json``.

    Returns
    -------
    int
        The exit status, 0.
    """
    X, _, V, batches = _charlm_data(args.batches)
    n_batches = len(batches)
    info = host_info(args.threads)
    print("# seqnet against PyTorch: one epoch of the reference character model\n")
    print("\n".join(host_lines(info)))
    print(f"- model: LSTM(128) -> Dropout(0.2) -> Dense({V}, softmax), RMSprop lr 0.01, "
          f"batch 128, windows of 40 every 3: {len(X):,} windows, "
          f"{n_batches} batches timed{' (of an epoch)' if args.batches else ' (a full epoch)'}")
    print(f"- frameworks: {_where(args)}, taking turns, {args.block} batches at a time")
    names = ["seqnet"] + (["torch"] if args.vs == "torch" else [])
    if args.in_process:
        local = {name: _charlm_setup(name, args.batches, args.threads) for name in names}

        def run(name, start, stop):
            t0 = time.perf_counter()
            for idx in local[name]["batches"][start:stop]:
                local[name]["step"](idx)
            return time.perf_counter() - t0
    else:
        workers = {name: _Worker(name, args.threads) for name in names}

        def run(name, start, stop):
            return workers[name].ask({"kind": "charlm", "batches": args.batches,
                                      "start": start, "stop": stop})
    # the frameworks take turns, args.block batches at a time, so that both see the
    # same spells of a noisy machine.
    spent = dict.fromkeys(names, 0.0)
    try:
        for i in range(0, n_batches, args.block):
            for name in names:
                spent[name] += run(name, i, i + args.block)
    finally:
        if not args.in_process:
            for w in workers.values():
                w.close()
    per_epoch = -(-len(X) // 128)
    print(f"\n| | ms per batch | seconds per epoch ({per_epoch} batches) |\n|---|---|---|")
    t_seq = spent["seqnet"]
    print(f"| seqnet | {t_seq / n_batches * 1e3:.1f} | {t_seq / n_batches * per_epoch:.1f} |")
    result = {"what": "charlm", "vs": args.vs, "block": args.block,
              "in_process": args.in_process, "host": info, "batches": n_batches,
              "batches_per_epoch": per_epoch, "seqnet_s_per_batch": t_seq / n_batches}
    if "torch" in spent:
        t_torch = spent["torch"]
        print(f"| PyTorch {info['versions']['torch']} | {t_torch / n_batches * 1e3:.1f} | "
              f"{t_torch / n_batches * per_epoch:.1f} |")
        print(f"\ntime ratio seqnet / PyTorch: {t_seq / t_torch:.2f} (lower is better; the "
              f"two took turns, {args.block} batches at a time)")
        result.update(torch_s_per_batch=t_torch / n_batches, ratio=t_seq / t_torch)
    if args.json:
        _write_json(args.json, result)
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
            p.add_argument("--shapes", nargs="+", type=_parse_shape, metavar="B,T,I,H",
                           help="these shapes instead of the grid (default: issue 17's "
                           "grid, seqnet.bench.GRID)")
        else:
            p.add_argument("--batches", type=int, help="time this many batches, not an epoch")
            p.add_argument("--block", type=positive_int_arg, default=50,
                           help="batches timed in turn per framework (default 50)")
        if name == "cells":
            p.add_argument("--rounds", type=positive_int_arg, default=3,
                           help="rounds of seqnet-then-PyTorch timings per case (default 3)")
        if name in ("cells", "charlm"):
            p.add_argument("--in-process", action="store_true",
                           help="race the frameworks in this one process (biased: each "
                           "framework's thread pools stay behind when the other runs)")
            p.add_argument("--json", metavar="FILE",
                           help="also write the host report and every figure as JSON")
    args = parser.parse_args(argv)
    return {"cells": run_cells, "charlm": run_charlm, "memory": run_memory}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
