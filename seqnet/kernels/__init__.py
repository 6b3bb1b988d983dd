"""Numba kernels: numerics only. No classes, no input checks, never raise.

One module per cell, forward and backward side by side. Each kernel exists twice,
``*_serial`` and ``*_parallel`` (``prange`` over chunks of hidden units or rows),
built from one Python function by :func:`seqnet._config.jit_pair`. Callers allocate
every buffer; the shapes are documented at the top of each module.
"""

from .gru import GRU_GATES
from .lstm import LSTM_GATES

__all__ = ["GRU_GATES", "LSTM_GATES"]
