"""dask and distributed, imported when a function of seqnet.distributed first needs
them."""

from __future__ import annotations

import importlib


class MissingExtraError(ModuleNotFoundError):
    """dask or distributed is not installed; the message names the package and the
    ``distributed`` extra that installs both."""


def need(name):
    """The module ``name`` (``"dask"``, ``"distributed"``, ``"dask.array"``),
    imported now, or MissingExtraError naming the extra.

    Parameters
    ----------
    name : str
        A module of dask or distributed.

    Returns
    -------
    module
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingExtraError(f"{name} is needed here and is not installed: "
                                f"pip install \"seqnet[distributed]\" (dask and distributed "
                                f"of one release, 2026.8.0)") from exc


def client_of(client):
    """``client`` checked: a ``distributed.Client``, or TypeError."""
    distributed = need("distributed")
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
    return client


def worker_addresses(client):
    """The addresses of the cluster's workers, sorted (a fixed order); ValueError if
    there are none."""
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    if not workers:
        raise ValueError("the client's cluster has no workers")
    return workers
