"""A Dask preload for seqnet's worker processes: numba's thread pool sized from the
worker's own environment.

numba reads ``NUMBA_NUM_THREADS`` when it is imported, and a spawned worker
imports it before its nanny applies the worker's ``env=`` (the child re-imports the
parent's main module first: ``python -m seqnet.experiments.long_range`` imports
seqnet, and numba with it). Left so, each worker's pool has one thread per core
of the machine, whatever ``env=`` says. `cluster_client` starts its workers with
``preload=["seqnet.distributed._worker"]``: when the worker starts (and again when
a nanny restarts it), `dask_setup` has numba read its configuration again and
resizes the pool, before it is launched.

``NUMBA_NUM_THREADS`` is not set in the parent's environment instead (dask's
``distributed.nanny.pre-spawn-environ``): the nannies of a `LocalCluster` run in
the parent, numba rereads the environment at every compilation, and a parent
whose pool runs with another count then fails ("Cannot set NUMBA_NUM_THREADS to
a different value once the threads have been launched").
"""

from __future__ import annotations

import os
import warnings


def dask_setup(worker):
    """Size numba's pool from ``NUMBA_NUM_THREADS`` in this worker's environment, and
    partition seqnet's calls for ``SEQNET_PLAN_THREADS`` threads when it is set
    (`seqnet._dispatch.set_plan_threads`: the results of a process with that many
    threads, bit for bit).

    Parameters
    ----------
    worker : distributed.Worker
        The worker starting (unused: the pool belongs to its process).

    Warns
    -----
    RuntimeWarning
        The pool was launched already, at another size (something ran a parallel
        kernel, or asked numba its thread count, before the worker started).
    """
    from numba.core import config
    from numba.np.ufunc import parallel

    from .. import _dispatch

    # read again: a LocalCluster's env= came after this process imported seqnet
    _dispatch.set_plan_threads(_dispatch.plan_threads_from_environment())
    wanted = os.environ.get("NUMBA_NUM_THREADS")
    if wanted is None or wanted.strip() == str(parallel.NUM_THREADS):
        return
    # numba's own internals, the only way in after import: the configuration
    # reread from the environment, and the pool size numba.np.ufunc.parallel took
    # from it at import (the pool is launched with that, at the first parallel call)
    if parallel._is_initialized:
        warnings.warn(f"seqnet: this worker's numba pool was launched already with "
                      f"{parallel.NUM_THREADS} threads; NUMBA_NUM_THREADS={wanted} "
                      "is not applied", RuntimeWarning, stacklevel=2)
        return
    config.reload_config()
    parallel.NUM_THREADS = parallel.get_thread_count()
