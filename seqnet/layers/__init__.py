"""Layers: one contract (:mod:`seqnet.layers.base`), recurrent layers
(:mod:`seqnet.layers.recurrent`), the core others (:mod:`seqnet.layers.core`),
sequence reshaping, pooling and masking (:mod:`seqnet.layers.sequence`, with
:mod:`seqnet.layers.padding` turning masks into lengths), layer normalisation
(:mod:`seqnet.layers.normalization`), layers of several inputs
(:mod:`seqnet.layers.merge`, :mod:`seqnet.layers.attention`) and wrappers
(:mod:`seqnet.layers.wrappers`).

:func:`serialize` and :func:`deserialize` turn any layer into ``{"class", "config"}``
and back, through its own ``get_config`` and ``from_config``: saving a model needs
nothing else.
"""

from __future__ import annotations

from .attention import AdditiveAttention, Attention
from .base import Layer
from .core import Activation, Dense, Dropout, Embedding
from .merge import Add, Concatenate
from .normalization import LayerNormalization
from .padding import lengths_from_padding
from .recurrent import GRU, LSTM, RecurrentLayer, SimpleRNN
from .sequence import (
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Masking,
    RepeatVector,
    TimeDistributed,
)
from .wrappers import Bidirectional

__all__ = ["GRU", "LSTM", "Activation", "Add", "AdditiveAttention", "Attention",
           "Bidirectional", "Concatenate", "Dense", "Dropout", "Embedding",
           "GlobalAveragePooling1D", "GlobalMaxPooling1D", "LAYERS", "Layer",
           "LayerNormalization", "Masking", "RecurrentLayer", "RepeatVector", "SimpleRNN",
           "TimeDistributed", "deserialize", "lengths_from_padding", "register", "serialize"]

#: every layer class a saved model may name, by class name (see :func:`register`).
LAYERS = {}


def register(cls):
    """Let saved models name the layer class ``cls`` (a class decorator).

    seqnet's own layers are registered; register a layer of your own before
    loading a model that holds one.

    Parameters
    ----------
    cls : type
        A subclass of :class:`Layer` whose ``get_config()`` gives its constructor's
        keyword arguments.

    Returns
    -------
    type
        ``cls`` itself.

    Raises
    ------
    TypeError
        ``cls`` is not a Layer subclass.
    ValueError
        Another class of that name is registered.
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"cls must be a subclass of seqnet.layers.Layer, got {cls!r}")
    if LAYERS.get(cls.__name__, cls) is not cls:
        raise ValueError(f"another layer class named {cls.__name__!r} is registered")
    LAYERS[cls.__name__] = cls
    return cls


for _cls in (LSTM, GRU, SimpleRNN, Dense, Dropout, Embedding, Activation, RepeatVector,
             TimeDistributed, GlobalAveragePooling1D, GlobalMaxPooling1D, Masking,
             LayerNormalization, Concatenate, Add, Attention, AdditiveAttention, Bidirectional):
    register(_cls)


def serialize(layer):
    """A layer as JSON-serialisable data: ``{"class": <name>, "config": get_config()}``.

    Parameters
    ----------
    layer : Layer

    Returns
    -------
    dict
    """
    return {"class": type(layer).__name__, "config": layer.get_config()}


def deserialize(spec):
    """A new layer from :func:`serialize`'s output.

    Parameters
    ----------
    spec : dict
        ``{"class": <one of LAYERS>, "config": {...}}``.

    Returns
    -------
    Layer
        Built when its config fixes the input size.

    Raises
    ------
    ValueError
        An unknown class, or a spec without its two entries.
    TypeError
        A config its class's constructor does not take.
    """
    if not isinstance(spec, dict) or "class" not in spec or "config" not in spec:
        raise ValueError(f"a layer spec must be a dict with 'class' and 'config', got {spec!r}")
    cls = LAYERS.get(spec["class"])
    if cls is None:
        raise ValueError(f"unknown layer class {spec['class']!r}: expected one of "
                         f"{sorted(LAYERS)} (register a layer of your own with "
                         "seqnet.layers.register)")
    return cls.from_config(spec["config"])
