"""seqnet: recurrent neural networks on numba kernels, with hand-derived BPTT.

Layers: :class:`SimpleRNN`, :class:`LSTM`, :class:`GRU` (numba kernels) and
:class:`Dense`, :class:`Dropout`, :class:`Embedding`, :class:`Activation`;
:class:`Sequential` trains them Keras-style (:mod:`seqnet.losses`,
:mod:`seqnet.optim`, :mod:`seqnet.callbacks`). :mod:`seqnet.text` and
:mod:`seqnet.datasets` prepare character data, :mod:`seqnet.generate` samples
text from a trained model; :func:`check_gradients`
(:mod:`seqnet.gradcheck`) proves gradients by finite differences.
"""

from . import callbacks, datasets, generate, losses, optim, text
from ._threads import get_num_threads, set_num_threads
from .core_layers import Activation, Dense, Dropout, Embedding
from .gradcheck import check_gradients
from .kernels import GRU_GATES, LSTM_GATES
from .layers import GRU, LSTM, RecurrentLayer, SimpleRNN
from .model import History, Sequential, load_model

__version__ = "0.1.0"

__all__ = [
    "GRU", "GRU_GATES", "LSTM", "LSTM_GATES", "Activation", "Dense", "Dropout", "Embedding",
    "History", "RecurrentLayer", "Sequential", "SimpleRNN", "callbacks", "check_gradients",
    "datasets", "generate", "get_num_threads", "load_model", "losses", "optim",
    "set_num_threads", "text", "__version__",
]
