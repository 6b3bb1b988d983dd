"""Numba kernels: one module per cell, forward and backward side by side.

Each cell module (``lstm``, ``gru``, ``rnn``) holds a plain-Python entry per pass,
``forward`` and ``backward``, which allocates every buffer and makes one compiled
call per sequence; the compiled kernel (``<cell>_seq_forward``, a
:class:`seqnet._config.KernelPair` of a serial and a parallel compilation); and its
gate passes. The shared pieces are split by concern: ``_blas`` (the strided GEMM and
cache hints), ``_panel`` (the register tile on packed weights), ``_steps`` (the time
loop's helpers), ``_grads`` (the whole-sequence products and the weight gradients),
``_math`` (vectorisable exp, sigmoid, tanh) and ``_buffers`` (the entries'
allocation helpers). How a call runs is :mod:`seqnet._dispatch`'s decision.
Compiled code takes no classes, checks no input and never raises.
"""

from .gru import GRU_GATES
from .lstm import LSTM_GATES
from .rnn import RNN_GATES

__all__ = ["GRU_GATES", "LSTM_GATES", "RNN_GATES"]
