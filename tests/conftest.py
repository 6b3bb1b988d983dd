"""Shared fixtures and hypothesis profiles.

Profiles: "dev" (the default: deadline=None, since the first example pays for
numba compilation) and "ci" (derandomized, prints the reproduction blob), chosen
by the CI environment variable or HYPOTHESIS_PROFILE.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from seqnet import variants

settings.register_profile("dev", deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

#: every cell variant's name (the registry, seqnet.variants).
CELL_NAMES = list(variants.NAMES)


def make_layer(cell, hidden, *, bias_scale=0.5, seed=0, input_size=None, return_state=True,
               **kw):
    """A seqnet layer of the variant ``cell`` with non-zero random biases. It returns
    its final state (``[out, h]``, ``[out, h, c]``) unless ``return_state=False``."""
    layer = variants.get(cell).make(hidden, input_size=input_size, seed=seed,
                                    return_state=return_state, **kw)
    rng = np.random.default_rng(seed + 100)
    for name, p in layer.params.items():
        if name.startswith("bias"):
            p[...] = rng.uniform(-bias_scale, bias_scale, p.shape)
    return layer


def reference_options(cell):
    """(reference cell name, options) for tests/reference/naive.py."""
    v = variants.get(cell)
    return {"SimpleRNN": "rnn", "LSTM": "lstm", "GRU": "gru"}[v.layer.__name__], dict(v.options)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
