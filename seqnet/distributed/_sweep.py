"""Independent runs (an experiment's grid) as Dask tasks (see `map_runs`)."""

from __future__ import annotations

import contextlib

from .. import _dispatch, _threads
from . import _lazy


def map_runs(fn, items, *, client=None, describe=None, log=None):
    """``[fn(item) for item in items]``, each call a Dask task when ``client`` is
    given, the results in the order of ``items`` whatever the order they finish in.

    Parameters
    ----------
    fn : callable
        A function of one item, importable by the workers (a module's top-level
        function; a ``functools.partial`` of one is fine), deterministic: a run
        retried on another worker must return what the first would have.
    items : iterable
        One entry per run, picklable.
    client : distributed.Client, optional
        Run on its cluster; None runs serially, here.
    describe : callable, optional
        ``describe(item, result)``: the line shown when a run finishes (default
        its index).
    log : callable, optional
        Receives the progress lines (``"[3/45] ..."``, in the order the runs
        finish); None for none.

    Returns
    -------
    list
        ``fn(item)`` for each item, in order.

    Raises
    ------
    TypeError
        ``client`` is not a ``distributed.Client``.
    MissingExtraError
        A client is given and dask or distributed is not installed.

    Notes
    -----
    A worker that dies has its runs (the running one and those queued on it)
    recomputed on the others by the scheduler; each run's result is taken once, by
    its index, so none is lost or counted twice. A run that raises raises here.
    """
    items = list(items)
    n = len(items)

    def show(i, k, result):
        if log is not None:
            what = describe(items[i], result) if describe else f"run {i + 1}"
            log(f"[{k}/{n}] {what}")

    if client is None:
        results = []
        for i, item in enumerate(items):
            results.append(fn(item))
            show(i, i + 1, results[-1])
        return results
    client = _lazy.client_of(client)
    distributed = _lazy.need("distributed")
    futures = [client.submit(fn, item, pure=False) for item in items]
    index = {f.key: i for i, f in enumerate(futures)}
    results, done = [None] * n, [False] * n
    for k, future in enumerate(distributed.as_completed(futures), start=1):
        i = index[future.key]
        if done[i]:    # as_completed yields each future once; kept as a guard
            raise RuntimeError(f"run {i + 1} finished twice")
        results[i], done[i] = future.result(), True
        show(i, k, results[i])
        future.release()
    if not all(done):
        raise RuntimeError(f"{n - sum(done)} runs did not finish")
    return results


def add_cluster_arguments(parser):
    """Add ``--workers N`` and ``--scheduler ADDRESS`` to an experiment's
    ``argparse`` parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The experiment's parser.
    """
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--workers", type=int, default=None, metavar="N",
                       help="run the independent runs on a local Dask cluster of N "
                            "worker processes (needs seqnet[distributed])")
    group.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run them on the Dask cluster whose scheduler is at ADDRESS "
                            "(tcp://host:8786)")


def worker_threads(workers):
    """The numba threads each of ``workers`` local worker processes gets: the
    machine's cores (those this process may run on) shared out, at least one.

    Parameters
    ----------
    workers : int
        Worker processes on this machine.

    Returns
    -------
    int
    """
    return max(1, _threads.usable_cores() // workers)


@contextlib.contextmanager
def cluster_client(workers=None, scheduler=None):
    """A ``distributed.Client`` for ``--workers`` / ``--scheduler``, closed after the
    ``with`` block; None when neither is given (run serially).

    Parameters
    ----------
    workers : int, optional
        Start a `LocalCluster` of that many single-threaded worker processes on
        127.0.0.1 (spawned, never forked: numba's ``omp`` threading layer kills a
        forked child), each with `worker_threads` numba threads (the cores shared
        out: ``NUMBA_NUM_THREADS`` in the worker's environment, read by the
        preload ``seqnet.distributed._worker`` before numba's pool starts) and one
        OpenBLAS thread (dask's default). The
        scheduler's HTTP server takes a free port (``dashboard_address=None``
        still binds the default 8787, which a second cluster then finds taken).
    scheduler : str, optional
        The address of an existing cluster's scheduler (its workers' thread
        counts are theirs: docs/distributed.md).

    Yields
    ------
    distributed.Client or None

    Raises
    ------
    ValueError
        Both given, or ``workers`` below 1.
    MissingExtraError
        dask or distributed is not installed.

    Notes
    -----
    numba reads ``NUMBA_NUM_THREADS`` when it is imported, and a spawned worker
    imports it (with the parent's main module) before the ``env=`` of
    `LocalCluster` is applied: without the preload, two workers on two cores each
    ran a pool of two ``omp`` threads, four threads spin-waiting on two cores, and
    the long-range runs took over ten times the CPU time they take in one process
    (docs/distributed.md).
    """
    if workers is not None and scheduler is not None:
        raise ValueError("give --workers or --scheduler, not both")
    if workers is None and scheduler is None:
        yield None
        return
    distributed = _lazy.need("distributed")
    if scheduler is not None:
        with distributed.Client(scheduler) as client:
            yield client
        return
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {workers!r}")
    dask = _lazy.need("dask")
    threads = str(worker_threads(workers))
    # the workers partition their calls as this process does (its numba threads):
    # their runs then give this process's figures bit for bit
    plan_threads = str(_dispatch.get_plan_threads())
    with dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}), \
            distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                     processes=True, host="127.0.0.1",
                                     dashboard_address=":0",
                                     env={"NUMBA_NUM_THREADS": threads,
                                          "SEQNET_PLAN_THREADS": plan_threads},
                                     preload=["seqnet.distributed._worker"]) as cluster, \
            distributed.Client(cluster) as client:
        yield client
