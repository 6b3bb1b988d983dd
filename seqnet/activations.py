"""Element-wise activations and softmax, with their backward passes.

Each activation is a pair ``forward(z) -> a`` and ``backward(z, a, da) -> dz``;
``get`` looks one up by its Keras name.
"""

from __future__ import annotations

import numpy as np

from .losses import softmax

__all__ = ["NAMES", "get", "softmax"]


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
