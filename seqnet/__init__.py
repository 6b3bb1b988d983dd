"""seqnet: recurrent neural networks on numba kernels, with hand-derived BPTT.

The public API: the layers :class:`LSTM`, :class:`GRU` and :class:`SimpleRNN`, and
the gradient checker :func:`check_gradients` (module :mod:`seqnet.gradcheck`).
"""

from .gradcheck import check_gradients
from .kernels import GRU_GATES, LSTM_GATES
from .layers import GRU, LSTM, RecurrentLayer, SimpleRNN

__version__ = "0.1.0"

__all__ = ["GRU", "GRU_GATES", "LSTM", "LSTM_GATES", "RecurrentLayer", "SimpleRNN",
           "check_gradients", "__version__"]
