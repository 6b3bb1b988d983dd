"""Scale-out on Dask: data-parallel training, batch inference and experiment sweeps
over the workers of a ``distributed`` cluster.

An optional extra: ``pip install "seqnet[distributed]"`` installs dask and
distributed (of one release); they are imported when a function here first needs
them, and a missing one raises `MissingExtraError`. See docs/distributed.md.
"""

from ._fit import fit
from ._infer import evaluate, predict
from ._lazy import MissingExtraError
from ._sweep import add_cluster_arguments, cluster_client, map_runs

__all__ = ["MissingExtraError", "add_cluster_arguments", "cluster_client", "evaluate", "fit",
           "map_runs", "predict"]
