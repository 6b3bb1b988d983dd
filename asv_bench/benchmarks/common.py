"""Seeded data and layers for the benchmarks."""

import numpy as np

import seqnet

CELLS = {
    "rnn": lambda H, **kw: seqnet.SimpleRNN(H, **kw),
    "lstm": lambda H, **kw: seqnet.LSTM(H, **kw),
    "gru": lambda H, **kw: seqnet.GRU(H, reset_after=True, **kw),
    "gru-v1": lambda H, **kw: seqnet.GRU(H, reset_after=False, **kw),
}


def make(cell, B, T, I, H, dtype, **kw):
    """A seeded layer and input of the given shape, kernels warmed (compiled)."""
    layer = CELLS[cell](H, input_size=I, dtype=dtype, seed=0, **kw)
    x = np.random.default_rng(0).standard_normal((B, T, I)).astype(dtype)
    out, _ = layer.forward(x, training=True)
    layer.backward(np.ones_like(out))
    return layer, x, np.ones_like(out)
