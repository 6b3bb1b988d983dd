"""seqnet: recurrent neural networks on numba kernels, with hand-derived BPTT.

Layers (:mod:`seqnet.layers`, one contract for all): :class:`SimpleRNN`,
:class:`LSTM`, :class:`GRU` (numba kernels, :mod:`seqnet.kernels`) and
:class:`Dense`, :class:`Dropout`, :class:`Embedding`, :class:`Activation`, the
merges :class:`Concatenate` and :class:`Add`, :class:`Attention` and
:class:`AdditiveAttention`, and the :class:`Bidirectional` wrapper;
:class:`Sequential` trains them Keras-style (:mod:`seqnet.losses`,
:mod:`seqnet.optim`, :mod:`seqnet.callbacks`) and :mod:`seqnet.saving` keeps them
in files. :mod:`seqnet.text` and :mod:`seqnet.datasets` prepare character data,
:mod:`seqnet.charlm` builds the reference character model and
:mod:`seqnet.generate` samples text from it; :func:`check_gradients`
(:mod:`seqnet.gradcheck`) proves gradients by finite differences, over the cell
variants of :mod:`seqnet.variants`.
"""

from . import callbacks, charlm, datasets, generate, layers, losses, optim, saving, text, variants
from ._threads import get_num_threads, set_num_threads
from .gradcheck import check_gradients
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
    Layer,
    RecurrentLayer,
    SimpleRNN,
)
from .model import History, Sequential
from .saving import load_model

__version__ = "0.1.0"

__all__ = [
    "GRU", "GRU_GATES", "LSTM", "LSTM_GATES", "Activation", "Add", "AdditiveAttention",
    "Attention", "Bidirectional", "Concatenate", "Dense", "Dropout", "Embedding",
    "History", "Layer", "RecurrentLayer", "Sequential", "SimpleRNN", "callbacks", "charlm",
    "check_gradients", "datasets", "generate", "get_num_threads", "layers", "load_model",
    "losses", "optim", "saving", "set_num_threads", "text", "variants", "__version__",
]
