"""Shared fixtures and hypothesis profiles.

Profiles: "dev" (the default: deadline=None, since the first example pays for
numba compilation) and "ci" (derandomized, prints the reproduction blob), chosen
by the CI environment variable or HYPOTHESIS_PROFILE.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

#: (name, constructor keyword arguments) of every cell and variant.
CELLS = [
    ("rnn-tanh", "SimpleRNN", {"nonlinearity": "tanh"}),
    ("rnn-relu", "SimpleRNN", {"nonlinearity": "relu"}),
    ("lstm", "LSTM", {}),
    ("gru", "GRU", {"reset_after": True}),
    ("gru-v1", "GRU", {"reset_after": False}),
]


def make_layer(cell, hidden, *, bias_scale=0.5, seed=0, input_size=None, **kw):
    """A seqnet layer of ``cell`` (a name in CELLS) with non-zero random biases."""
    import seqnet

    _, cls, opts = next(c for c in CELLS if c[0] == cell)
    layer = getattr(seqnet, cls)(hidden, input_size=input_size, seed=seed, **opts, **kw)
    rng = np.random.default_rng(seed + 100)
    for name, p in layer.params.items():
        if name.startswith("bias"):
            p[...] = rng.uniform(-bias_scale, bias_scale, p.shape)
    return layer


def reference_options(cell):
    """(reference cell name, options) for tests/reference/naive.py."""
    if cell.startswith("rnn"):
        return "rnn", {"nonlinearity": cell.split("-")[1]}
    if cell == "lstm":
        return "lstm", {}
    return "gru", {"reset_after": cell == "gru"}


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
