"""Element-wise activations, softmax and log-softmax, with their backward passes.

Each activation is a pair ``forward(z) -> a`` and ``backward(z, a, da) -> dz``;
``get`` looks one up by its Keras name. :func:`softmax` and :func:`log_softmax` are
the numerically stable forms the losses use too.
"""

from __future__ import annotations

import numpy as np

from . import _checks

__all__ = ["NAMES", "get", "log_softmax", "softmax"]


def stable_parts(z, axis):
    """``s = z - max(z)``, ``e = exp(s)`` and ``se = sum(e)`` along ``axis`` (keepdims):
    the pieces of softmax and log-softmax, with no exponential overflowing.

    Parameters
    ----------
    z : ndarray
        Logits, float32 or float64 (unchecked).
    axis : int
        The axis of the classes.

    Returns
    -------
    s, e, se : ndarray
        ``z``'s shape, ``z``'s shape, and ``z``'s shape with ``axis`` of length 1.
    """
    s = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(s)
    return s, e, np.sum(e, axis=axis, keepdims=True)


def _checked_z(z, axis):
    z = _checks.float_input(z, "z")
    if z.ndim == 0:
        raise ValueError("z must have at least one dimension, got a 0-d array")
    ax = _checks.axis(axis, z.ndim)
    if z.shape[ax] == 0:
        raise ValueError(f"z must have at least one entry along axis {axis}, got shape {z.shape}")
    return z, ax


def softmax(z, axis=-1):
    r"""Numerically stable softmax.

    Parameters
    ----------
    z : array_like of float32 or float64
        Logits, at least 1-D, non-empty along ``axis``.
    axis : int, default -1
        The axis the probabilities sum over.

    Returns
    -------
    ndarray
        Same shape and dtype as ``z``; non-negative, summing to 1 along ``axis``.

    Notes
    -----
    With $m = \max_j z_j$ subtracted first, no exponential overflows:

    $$
    \operatorname{softmax}(z)_i = \frac{e^{z_i - m}}{\sum_j e^{z_j - m}}
    $$

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.activations import softmax
    >>> softmax(np.array([1e4, 0.0, -1e4]))
    array([1., 0., 0.])
    """
    z, ax = _checked_z(z, axis)
    _, e, se = stable_parts(z, ax)
    return e / se


def log_softmax(z, axis=-1):
    r"""Numerically stable log-softmax.

    Parameters
    ----------
    z : array_like of float32 or float64
        Logits, at least 1-D, non-empty along ``axis``.
    axis : int, default -1
        The axis of the classes.

    Returns
    -------
    ndarray
        Same shape and dtype as ``z``; finite wherever ``z`` is finite (up to
        differences of logits that overflow the dtype).

    Notes
    -----
    $$
    \log\operatorname{softmax}(z)_i = (z_i - m) - \log \sum_j e^{z_j - m},
    \qquad m = \max_j z_j
    $$

    The sum is at least 1 (its largest term is $e^0$), so the logarithm
    never sees 0.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.activations import log_softmax
    >>> log_softmax(np.array([1e4, -1e4]))
    array([     0., -20000.])
    """
    z, ax = _checked_z(z, axis)
    s, _, se = stable_parts(z, ax)
    return s - np.log(se)


def _linear(z):
    return z


def _linear_back(z, a, da):
    return da


def _tanh_back(z, a, da):
    return da * (1 - a * a)


def _sigmoid(z):
    # exp of a large positive number would overflow: use the two stable halves.
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1 / (1 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1 + e)
    return out


def _sigmoid_back(z, a, da):
    return da * a * (1 - a)


def _relu(z):
    return np.maximum(z, 0)


def _relu_back(z, a, da):
    return da * (z > 0)


def _softmax_back(z, a, da):
    return a * (da - np.sum(da * a, axis=-1, keepdims=True))


_TABLE = {
    "linear": (_linear, _linear_back),
    "tanh": (np.tanh, _tanh_back),
    "sigmoid": (_sigmoid, _sigmoid_back),
    "relu": (_relu, _relu_back),
    "softmax": (softmax, _softmax_back),
}

#: the activation names ``get`` knows (``None`` means ``"linear"``).
NAMES = tuple(_TABLE)


def get(name):
    """``(forward, backward)`` of the activation called ``name`` (``None``: linear).

    Parameters
    ----------
    name : {"linear", "tanh", "sigmoid", "relu", "softmax"} or None
        Keras's name of the activation; ``None`` is ``"linear"``.

    Returns
    -------
    forward : callable
        ``forward(z) -> a``, element-wise (``softmax``: over the last axis), in
        ``z``'s shape and dtype.
    backward : callable
        ``backward(z, a, da) -> dz``: the gradient with respect to ``z`` from the
        forward's input ``z``, output ``a`` and the output's gradient ``da``, all
        of one shape.

    Raises
    ------
    ValueError
        An unknown name; the message lists the known ones.
    """
    key = "linear" if name is None else name
    if not isinstance(key, str) or key not in _TABLE:
        raise ValueError(f"activation must be one of {NAMES} or None, got {name!r}")
    return _TABLE[key]
