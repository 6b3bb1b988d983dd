"""Measure seqnet.distributed against one process (docs/distributed.md):

    python tools/dask_scaling.py charlm [--chars N] [--batch-size B] [--hidden H]
                                        [--epochs E] [--null-steps S]
    python tools/dask_scaling.py sweep [LONG_RANGE_ARGS ...]
    python tools/dask_scaling.py --tiny      # both, on a tiny setting (a check)

``charlm``: the reference character model (``seqnet.charlm.build_charlm``, RMSprop,
windows of 40 every 3 of the first ``--chars`` characters of the bundled corpus,
lowercased) trained for ``--epochs`` epochs

- in this process on 2 numba threads (`Model.fit`), and
- with `seqnet.distributed.fit` on the LocalCluster of ``--workers 2``
  (`seqnet.distributed.cluster_client`: 2 worker processes of 1 thread each,
  ``NUMBA_NUM_THREADS=1`` set before they import numba);

after an untimed warm-up that compiles or loads the kernels everywhere. It prints
the time per epoch of each, and splits a distributed step into

- compute: one shard's gradients (``B/2`` windows) timed on a worker, and
- communication: ``--null-steps`` steps of the same task graph whose shards
  return zero gradients without a forward or backward (gradients to the
  reducer, the sum, the update on every replica: the traffic and the
  scheduling), per step;

and the parameter bytes ``P`` (per step ``2 (N - 1) P`` bytes cross the network).

``sweep``: ``python -m seqnet.experiments.long_range`` serial and with
``--workers 2``, the wall time and the CPU time (the command's and its workers')
of each (every argument after ``sweep`` is passed on; default the full 45-run
grid).

Timings only: run it on a quiet machine. The figures go to stdout as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

import seqnet
from seqnet import datasets, optim, text
from seqnet.charlm import build_charlm


def _data(chars):
    corpus = datasets.shakespeare().lower()[:chars]
    vocab = text.CharVocabulary.from_text(corpus)
    X, y = text.char_windows(vocab.encode(corpus), 40, 3)
    return X, y, len(vocab)


def _model(V, hidden):
    model = build_charlm(V, hidden=hidden, seed=0)
    model.compile("sparse_categorical_crossentropy", optim.RMSprop(learning_rate=0.01))
    return model


def _warm(V, hidden, X, y):
    """One step on a throwaway model: compiles or loads the kernels in this process."""
    _model(V, hidden).train_on_batch(X[:8], y[:8])


def _shard_seconds(V, hidden, X, y, rows, repeats):
    """Seconds of one shard's gradients (``rows`` windows), on this worker."""
    model = _model(V, hidden)
    xs, ys, ls, sws, _ = model._data(X[:rows], y[:rows], None)
    model._batch_gradients(xs, ys, ls, sws)
    start = time.perf_counter()
    for _ in range(repeats):
        model._batch_gradients(xs, ys, ls, sws)
    return (time.perf_counter() - start) / repeats


def _zeros(state, positions):
    """A shard's result with zero gradients: the communication without the compute."""
    return ({k: np.zeros_like(v) for k, v in state["params"].items()}, 0.0, positions)


def _null_steps(client, model, steps):
    """Seconds per step of the distributed step's task graph without its compute."""
    from seqnet.distributed import _fit, _lazy, _tasks

    workers = _lazy.worker_addresses(client)
    root = client.scatter([_fit._state_of(model)], broadcast=True, hash=False)[0]
    states = [root] * len(workers)
    start = time.perf_counter()
    for _ in range(steps):
        grads = [client.submit(_zeros, states[j], 1.0, workers=[w], pure=False)
                 for j, w in enumerate(workers)]
        reduced = client.submit(_tasks.reduce_gradients, *grads, pure=False)
        states = [client.submit(_tasks.apply_update, states[j], reduced, workers=[w],
                                pure=False) for j, w in enumerate(workers)]
    client.gather(states)
    return (time.perf_counter() - start) / steps


def charlm(args):
    import seqnet.distributed as sd

    X, y, V = _data(args.chars)
    B, steps = args.batch_size, math.ceil(len(X) / args.batch_size)
    seqnet.set_num_threads(2)
    _warm(V, args.hidden, X, y)
    one = _model(V, args.hidden)
    h1 = one.fit(X, y, batch_size=B, epochs=args.epochs, verbose=0)
    params = one.num_parameters * np.dtype(np.float32).itemsize
    print(json.dumps({"setting": "1 process x 2 threads", "windows": len(X), "batch": B,
                      "steps_per_epoch": steps, "hidden": args.hidden,
                      "seconds_per_epoch": h1.history["seconds"],
                      "parameter_bytes": params}), flush=True)
    # cluster_client sets NUMBA_NUM_THREADS before each worker imports numba (a
    # LocalCluster's env= comes too late: the workers ran 2 numba threads each)
    with sd.cluster_client(workers=2) as client:
        client.run(_warm, V, args.hidden, X[:64], y[:64])
        two = _model(V, args.hidden)
        h2 = sd.fit(two, X, y, client=client, batch_size=B, epochs=args.epochs, verbose=0)
        compute = client.run(_shard_seconds, V, args.hidden, X, y, B // 2, args.repeats)
        comm = _null_steps(client, two, args.null_steps)
    per_step = [s / steps for s in h2.history["seconds"]]
    print(json.dumps({"setting": "2 workers x 1 thread", "batch": B, "steps_per_epoch": steps,
                      "seconds_per_epoch": h2.history["seconds"],
                      "seconds_per_step": per_step,
                      "shard_compute_seconds": sorted(compute.values()),
                      "communication_seconds_per_step": comm,
                      "bytes_per_step": 2 * (2 - 1) * params}), flush=True)


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sweep(args, extra):
    base = [sys.executable, "-m", "seqnet.experiments.long_range", *extra]
    for label, more in (("serial", []), ("--workers 2", ["--workers", "2"])):
        with tempfile.TemporaryDirectory() as out:
            start, cpu = time.perf_counter(), _children_cpu()
            subprocess.run([*base, "--out-dir", out, *more], check=True,
                           stdout=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
            # the command's CPU time and its workers' (descendants that were waited for)
            cpu = _children_cpu() - cpu
            with open(os.path.join(out, "long_range.json")) as f:
                mse = json.load(f)["mse"]
        print(json.dumps({"sweep": label, "args": extra, "seconds": seconds,
                          "cpu_seconds": cpu, "mse": mse}), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python tools/dask_scaling.py",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("what", nargs="?", choices=["charlm", "sweep"])
    p.add_argument("--tiny", action="store_true", help="both, on a tiny setting")
    p.add_argument("--chars", type=int, default=300_000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--null-steps", type=int, default=200)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["sweep"]:   # the rest is long_range's, --epochs and --hidden included
        sweep(None, argv[1:])
        return 0
    args, extra = p.parse_known_args(argv)
    if args.tiny:
        args.chars, args.batch_size, args.hidden, args.epochs = 3000, 32, 16, 1
        args.repeats, args.null_steps = 2, 5
        charlm(args)
        sweep(args, ["--lengths", "6", "--seeds", "0", "--epochs", "1", "--train-size",
                     "40", "--test-size", "20", "--hidden", "4", "--grad-length", "0"])
    elif args.what == "charlm":
        charlm(args)
    elif args.what == "sweep":
        sweep(args, extra)
    else:
        p.error("say charlm, sweep or --tiny")
    return 0


if __name__ == "__main__":
    sys.exit(main())
