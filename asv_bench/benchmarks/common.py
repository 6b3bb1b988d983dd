"""Seeded data and layers for the benchmarks."""

import numpy as np

from seqnet import variants


def make(cell, B, T, I, H, dtype, **kw):
    """A seeded layer of the variant ``cell`` and an input of the given shape,
    kernels warmed (compiled)."""
    layer = variants.get(cell).make(H, input_size=I, dtype=dtype, seed=0, **kw)
    x = np.random.default_rng(0).standard_normal((B, T, I)).astype(dtype)
    out = layer.forward(x, training=True)
    layer.backward(np.ones_like(out))
    return layer, x, np.ones_like(out)
