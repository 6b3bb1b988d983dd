"""seqnet: recurrent neural networks on numba kernels, with hand-derived BPTT.

Layers (:mod:`seqnet.layers`, one contract for all): :class:`SimpleRNN`,
:class:`LSTM`, :class:`GRU` (numba kernels, :mod:`seqnet.kernels`) and
:class:`Dense`, :class:`Dropout`, :class:`Embedding`, :class:`Activation`,
:class:`RepeatVector`, :class:`TimeDistributed`, :class:`GlobalAveragePooling1D`,
:class:`GlobalMaxPooling1D`, :class:`Masking` and :class:`LayerNormalization`, the
merges :class:`Concatenate` and :class:`Add`, :class:`Attention` and
:class:`AdditiveAttention`, and the :class:`Bidirectional` wrapper;
:class:`Sequential` trains them Keras-style (:mod:`seqnet.losses`,
:mod:`seqnet.metrics`, :mod:`seqnet.optim`, :mod:`seqnet.callbacks`) and
:mod:`seqnet.saving` keeps them in files. :mod:`seqnet.text` and
:mod:`seqnet.datasets` prepare character data, :mod:`seqnet.charlm` builds the
reference character model and :mod:`seqnet.generate` samples text from it;
:func:`check_gradients` (:mod:`seqnet.gradcheck`) proves gradients by finite
differences, over the cell variants of :mod:`seqnet.variants`; :mod:`seqnet.inspect`
traces gates and states and measures the gradient through time; :mod:`seqnet.interop`
converts to and from PyTorch, Keras and ONNX. :mod:`seqnet.testing`
(imported on its own: ``import seqnet`` does not load it) holds test tools for
layers of your own: ``assert_gradients_close`` and Hypothesis strategies.
"""

from . import (
    callbacks,
    charlm,
    datasets,
    decode,
    generate,
    graph,
    inspect,
    interop,
    layers,
    losses,
    metrics,
    optim,
    saving,
    text,
    variants,
)
from ._threads import get_num_threads, set_num_threads
from .gradcheck import check_gradients
from .graph import Input, SymbolicTensor
from .kernels import GRU_GATES, LSTM_GATES
from .layers import (
    GRU,
    LSTM,
    Activation,
    Add,
    AdditiveAttention,
    Attention,
    Bidirectional,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Layer,
    LayerNormalization,
    Masking,
    RecurrentLayer,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
)
from .model import History, Model, Sequential
from .saving import load_model

__version__ = "0.1.0"

__all__ = [
    "GRU", "GRU_GATES", "LSTM", "LSTM_GATES", "Activation", "Add", "AdditiveAttention",
    "Attention", "Bidirectional", "Concatenate", "Dense", "Dropout", "Embedding",
    "GlobalAveragePooling1D", "GlobalMaxPooling1D", "History", "Input", "Layer",
    "LayerNormalization", "Masking", "Model", "RecurrentLayer", "RepeatVector", "Sequential",
    "SimpleRNN", "SymbolicTensor", "TimeDistributed", "callbacks", "charlm", "check_gradients",
    "datasets", "decode", "generate", "get_num_threads", "graph", "inspect", "interop",
    "layers",
    "load_model", "losses", "metrics", "optim", "saving", "set_num_threads", "text", "variants",
    "__version__",
]
