"""Checks and mask helpers shared by the layers of several inputs (merges, attention):
a list of float inputs, their lengths (one entry per input), padding masks."""

from __future__ import annotations

import numpy as np

from .. import _checks


def float_inputs(x, name, *, low, high=None, dtype=None):
    """The list ``x`` of a multi-input layer as C-contiguous float arrays.

    ``dtype`` None: the inputs keep their dtype, which they must share (a weightless
    layer computes in it); otherwise each is cast to ``dtype``. TypeError/ValueError
    naming the layer ``name`` otherwise.
    """
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"{name} must be called on a list of arrays, got "
                        f"{type(x).__name__}")
    if len(x) < low or (high is not None and len(x) > high):
        want = f"{low} to {high}" if high is not None and high != low else f"at least {low}"
        raise ValueError(f"{name} takes {want} inputs, got {len(x)}")
    if dtype is not None:
        return [_checks.float_array(a, f"{name} input {i}", dtype) for i, a in enumerate(x)]
    xs = [_checks.float_input(a, f"{name} input {i}") for i, a in enumerate(x)]
    dtypes = sorted({a.dtype.name for a in xs})
    if len(dtypes) > 1:
        raise TypeError(f"{name}'s inputs must share one dtype (it has no weights and "
                        f"computes in theirs), got {[a.dtype.name for a in xs]}: cast "
                        "them to one first")
    return xs


def lengths_list(lengths, xs, name):
    """``lengths`` of a multi-input layer as a list, one entry per input: None, or
    int64 ``(B,)`` in ``[1, T_i]`` (input ``i`` must then be a sequence, ``(B, T_i,
    ...)``)."""
    n = len(xs)
    if lengths is None:
        return [None] * n
    if not isinstance(lengths, (list, tuple)):
        raise TypeError(f"{name}'s lengths must be a list with one entry per input "
                        f"(each None or a (batch,) integer array), got "
                        f"{type(lengths).__name__}")
    if len(lengths) != n:
        raise ValueError(f"{name}'s lengths must have one entry per input ({n}), "
                         f"got {len(lengths)}")
    out = []
    for i, (ln, a) in enumerate(zip(lengths, xs, strict=True)):
        if ln is None:
            out.append(None)
            continue
        if a.ndim < 3:
            raise ValueError(f"{name}'s lengths[{i}] is given, but input {i} of shape "
                             f"{a.shape} has no time axis (batch, time, features)")
        try:
            out.append(_checks.lengths_array(ln, a.shape[0], a.shape[1]))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name}'s lengths[{i}]: {exc}") from None
    return out


def min_lengths(lengths):
    """The elementwise minimum of the entries that are not None (None: all None)."""
    given = [ln for ln in lengths if ln is not None]
    if not given:
        return None
    return np.minimum.reduce(given) if len(given) > 1 else given[0].copy()


def padding_mask(lengths, steps, ndim):
    """Bool ``(B, T, 1, ...)`` (``ndim`` axes), True at each row's steps past its
    length; None when no row is padded."""
    if lengths is None or lengths.min() >= steps:
        return None
    pad = np.arange(steps) >= lengths[:, None]
    return pad.reshape(pad.shape + (1,) * (ndim - 2))


def zero_where(mask, a):
    """``a`` with the entries where ``mask`` is True set to 0 (``a`` itself for
    ``mask`` None); NaN and infinities there are replaced, not multiplied."""
    return a if mask is None else np.where(mask, a.dtype.type(0), a)


def shapes_list(input_shape, name, low, high=None):
    """The list of shapes given to a multi-input layer's ``output_shape``."""
    if (not isinstance(input_shape, (list, tuple))
            or not all(isinstance(s, (list, tuple)) for s in input_shape)):
        raise ValueError(f"{name}.output_shape takes a list of input shapes (one tuple "
                         f"per input, no batch axis), got {input_shape!r}")
    shapes = [tuple(s) for s in input_shape]
    if len(shapes) < low or (high is not None and len(shapes) > high):
        want = f"{low} to {high}" if high is not None and high != low else f"at least {low}"
        raise ValueError(f"{name} takes {want} inputs, got shapes {shapes}")
    return shapes


def same_size(a, b):
    """Whether two sizes agree (None, an unknown size, agrees with any)."""
    return a is None or b is None or a == b
