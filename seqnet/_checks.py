"""Argument checks that turn bad input into ValueError/TypeError naming the argument.

Every public constructor and function checks its arguments with these, so that the
same mistake gets the same message everywhere: a flag that is not a bool, a seed
that is not a non-negative integer (of any integer type, NumPy's included), a real
number outside its interval, an integer below its bound.
"""

from __future__ import annotations

import argparse
import math
import numbers

import numpy as np


def flag(value, name):
    """``value`` as a bool (Python's or NumPy's), else TypeError naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def seed(value, name="seed"):
    """``value`` as an int >= 0 or None: a seed for ``numpy.random``, of any integer
    type; TypeError/ValueError naming ``name`` otherwise."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer or None, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer (a numpy.random seed), "
                         f"got {value}")
    return int(value)


def integer(value, name, low=None):
    """``value`` as an int (any integer type, not a bool), at least ``low`` when given."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value}")
    return int(value)


def _interval(low, high, low_open, high_open):
    if high is None:
        return f"{'>' if low_open else '>='} {low:g}" if low is not None else "(any)"
    if low is None:
        return f"{'<' if high_open else '<='} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def real(value, name, low=None, high=None, *, low_open=False, high_open=False, note=""):
    """``value`` as a finite float in the interval given by ``low`` and ``high``
    (closed ends unless ``low_open``/``high_open``; ``None``: unbounded).

    Parameters
    ----------
    value : object
        A real number (not a bool).
    name : str
        The argument's name, for messages.
    low, high : float, optional
        The interval's ends.
    low_open, high_open : bool, default False
        Exclude that end.
    note : str, default ""
        Appended to the out-of-range message (what a special value means).

    Returns
    -------
    float

    Raises
    ------
    TypeError
        ``value`` is not a real number.
    ValueError
        It is not finite, or outside the interval.
    """
    expected = _interval(low, high, low_open, high_open)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number {expected}, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        if low is not None and high is not None:
            raise ValueError(f"{name} must be {expected}{note}, got {value}")
        raise ValueError(f"{name} must be finite ({expected}), got {value}")
    if ((low is not None and (value <= low if low_open else value < low))
            or (high is not None and (value >= high if high_open else value > high))):
        raise ValueError(f"{name} must be {expected}{note}, got {value}")
    return value


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


def _real_array(value, name):
    """``value`` as an array of real floating point; TypeError naming ``name``."""
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
    return arr


def float_array(value, name, dtype):
    """``value`` as a C-contiguous array of ``dtype``; integer, bool, complex refused.

    Any real floating input is accepted and cast to ``dtype`` (kept as is when None).
    """
    return np.ascontiguousarray(_real_array(value, name), dtype=dtype)


def float_input(value, name):
    """``value`` as a C-contiguous float32 or float64 array, its dtype and shape kept
    (0-d included); TypeError naming ``name`` for anything else."""
    arr = _real_array(value, name)
    float_dtype(arr.dtype, name)
    return np.ascontiguousarray(arr).reshape(arr.shape)  # ascontiguousarray makes 0-d 1-d


def axis(value, ndim, name="axis"):
    """``value`` as an axis of an ``ndim``-dimensional array, in ``[0, ndim)``
    (negative ones count from the end)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not -ndim <= value < ndim:
        raise ValueError(f"{name} must be in [-{ndim}, {ndim}) for an array of {ndim} "
                         f"dimension(s), got {value}")
    return int(value) % ndim


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


# ----------------------------------------------- predictions, targets and weights
# shared by the losses and the metrics: ``y_pred`` is (positions..., classes)

def predictions(value, name="y_pred"):
    """``value`` as float32/float64 predictions, at least 2-D (``(B, C)`` or
    ``(B, T, C)``: the last axis holds classes or features) and non-empty."""
    arr = float_input(value, name)
    if arr.ndim < 2:
        raise ValueError(f"{name} must be at least 2-D, (batch, classes) or "
                         f"(batch, time, classes), got shape {arr.shape}")
    if 0 in arr.shape:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    return arr


def position_weights(value, name, pred_shape, dtype):
    """A ``mask`` or ``sample_weight`` as finite non-negative weights of ``dtype`` and
    shape ``pred_shape[:-1]`` (one per position), or None for None.

    Accepted shapes: ``(B,)`` (broadcast over the later axes), ``(B, T)`` (one weight
    per position), and Keras's forms with trailing axes of length 1 (``(B, 1)``).
    """
    if value is None:
        return None
    positions = tuple(pred_shape[:-1])
    arr = np.asarray(to_numpy(value))
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric or bool array, got dtype {arr.dtype}")
    allowed = [positions[:k] for k in range(1, len(positions) + 1)]
    keras_forms = [positions[:k] + (1,) * (len(positions) - k)
                   for k in range(1, len(positions))]
    if arr.shape not in allowed + keras_forms:
        raise ValueError(f"{name} must have shape {' or '.join(map(str, allowed))} "
                         f"(y_pred has shape {tuple(pred_shape)})"
                         + (f" or Keras's {keras_forms[0]}" if keras_forms else "")
                         + f", got {arr.shape}")
    w = arr.astype(dtype)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} must be finite")
    if np.any(w < 0):
        raise ValueError(f"{name} must be non-negative, got min({name}) = {w.min()}")
    w = w.reshape(w.shape + (1,) * (len(positions) - w.ndim))
    return np.ascontiguousarray(np.broadcast_to(w, positions))


def class_indices(value, pred_shape, valid, name="y_true"):
    """Integer class targets as ``intp`` of shape ``pred_shape[:-1]`` (Keras's trailing
    axis of 1 accepted), each in ``[0, C)`` where ``valid`` (bool, positions; None:
    everywhere) holds; positions not valid get class 0."""
    arr = np.asarray(to_numpy(value))
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array of class indices, got dtype "
                        f"{arr.dtype}"
                        + (" (cast with .astype(np.int64) first)"
                           if arr.dtype.kind == "f" else ""))
    positions = tuple(pred_shape[:-1])
    if arr.shape == positions + (1,):
        arr = arr.reshape(positions)
    shape_is(arr, positions, name, " (y_pred.shape[:-1]: one class index per position)")
    C = pred_shape[-1]
    checked = arr if valid is None else arr[valid]
    if checked.size and (checked.min() < 0 or checked.max() >= C):
        bad = checked[(checked < 0) | (checked >= C)]
        raise ValueError(f"{name} must hold class indices in [0, {C}) (y_pred has {C} "
                         f"classes), got {bad[0]}"
                         + (" at an unmasked position" if valid is not None else ""))
    idx = arr.astype(np.intp)
    if valid is not None:
        idx = np.where(valid, idx, 0)
    return np.ascontiguousarray(idx)


def dense_targets(value, pred_shape, dtype, name="y_true", what="real numeric"):
    """Real numeric targets of the shape of ``y_pred`` (one-hot rows, probabilities,
    values), cast to ``dtype``."""
    arr = np.asarray(to_numpy(value))
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a {what} array, got dtype {arr.dtype}")
    shape_is(arr, pred_shape, name, " (the shape of y_pred)")
    return np.ascontiguousarray(arr, dtype=dtype)


def binary_targets(value, pred_shape, dtype, valid, name="y_true"):
    """Binary targets in [0, 1] (float, integer or bool) of ``pred_shape`` (or
    ``pred_shape[:-1]`` when the last axis is 1), cast to ``dtype``; checked where
    ``valid`` (bool, positions; None: everywhere) holds."""
    arr = np.asarray(to_numpy(value))
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric or bool array of targets in "
                        f"[0, 1], got dtype {arr.dtype}")
    pred_shape = tuple(pred_shape)
    if pred_shape[-1] == 1 and arr.shape == pred_shape[:-1]:
        arr = arr.reshape(pred_shape)
    shape_is(arr, pred_shape, name,
             " (the shape of y_pred" + (f", or {pred_shape[:-1]}" if pred_shape[-1] == 1
                                        else "") + ")")
    y = np.ascontiguousarray(arr, dtype=dtype)
    checked = y if valid is None else y[valid]
    with np.errstate(invalid="ignore"):
        bad = ~((checked >= 0) & (checked <= 1))
    if np.any(bad):
        raise ValueError(f"{name} must hold targets in [0, 1], got {checked[bad][0]}"
                         + (" at an unmasked position" if valid is not None else ""))
    return y
