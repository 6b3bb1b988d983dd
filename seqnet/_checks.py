"""Argument checks that turn bad input into ValueError/TypeError naming the argument."""

from __future__ import annotations

import argparse
import numbers

import numpy as np


def positive_int(value, name):
    """``value`` as an int >= 1, or TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def float_dtype(dtype, name="dtype"):
    """``dtype`` as ``np.dtype('float32')`` or ``np.dtype('float64')``."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name} must be np.float32 or np.float64, got {dtype!r}") from exc
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{name} must be np.float32 or np.float64, got {dt}")
    return dt


def to_numpy(value):
    """A torch tensor as a NumPy array (detached, on the CPU); anything else as is."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    return value


def float_array(value, name, dtype):
    """``value`` as a C-contiguous array of ``dtype``; integer, bool, complex refused.

    Any real floating input is accepted and cast to ``dtype`` (kept as is when None).
    """
    value = to_numpy(value)
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real floating-point array, got "
                        f"{type(value).__name__}") from exc
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be a real floating-point array, got dtype {arr.dtype}"
                        + (" (cast integer data with .astype(np.float32) first)"
                           if arr.dtype.kind in "iub" else ""))
    return np.ascontiguousarray(arr, dtype=dtype)


def shape_is(arr, shape, name, what=""):
    """Raise ValueError unless ``arr.shape == shape``."""
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}{what}, got {arr.shape}")


def lengths_array(lengths, batch, steps):
    """Per-row sequence lengths as int64 ``(batch,)`` with ``1 <= lengths <= steps``."""
    if lengths is None:
        return np.full(batch, steps, dtype=np.int64)
    arr = np.asarray(lengths)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"lengths must be an integer array, got dtype {arr.dtype}")
    if arr.shape != (batch,):
        raise ValueError(f"lengths must have shape ({batch},) (one length per batch row), "
                         f"got {arr.shape}")
    if arr.size and arr.min() < 1:
        raise ValueError("lengths must be >= 1: zero-length sequences are not supported, "
                         f"got min(lengths) = {arr.min()}")
    if arr.size and arr.max() > steps:
        raise ValueError(f"lengths must be <= the number of time steps {steps}, "
                         f"got max(lengths) = {arr.max()}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def index_input(value):
    """``value`` as an integer array if it is 2-D integer (index) input, else None."""
    value = to_numpy(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu" and value.ndim == 2:
        return value
    return None


def indices_in_range(arr, size, name):
    """Integer ``arr`` as int64, every entry in ``[0, size)``, else ValueError."""
    if arr.size and (arr.min() < 0 or arr.max() >= size):
        raise ValueError(f"{name} holds indices from {arr.min()} to {arr.max()}, but they must "
                         f"be in [0, {size}) (the input_size / vocabulary size)")
    return np.asarray(arr, dtype=np.int64)


def positive_int_arg(value):
    """An ``argparse`` type: ``value`` as an int of at least 1, else an argparse error
    (the command-line tools' counts: epochs, batches, rounds, ...)."""
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return n
