"""Optional packages, imported when a converter first needs them."""

from __future__ import annotations

import importlib
import os


class MissingExtraError(ModuleNotFoundError):
    """An optional package a converter needs is not installed; the message names
    the package and the extra that installs it."""


def need(name, extra="interop"):
    """The module ``name``, imported now, or MissingExtraError naming the extra.

    Parameters
    ----------
    name : str
        ``"torch"``, ``"h5py"``, ``"onnx"``, ...
    extra : str
        The seqnet extra that installs it.

    Returns
    -------
    module
    """
    if name == "keras":
        os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingExtraError(f"{name} is needed here and is not installed: "
                                f"pip install \"seqnet[{extra}]\"") from exc
