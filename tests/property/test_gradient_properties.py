"""Hypothesis property: every cell's gradients are right for any drawn problem.

The gradient-check suite (tests/gradcheck) proves each configuration on one fixed
shape and data set; here :mod:`seqnet.testing` draws the shape (B 1..3, T 1..4,
I 1..3, H 1..3), the configuration (1-2 layers, one or two directions,
``return_sequences`` and ``return_state`` either way, dropout 0 or 0.5 between
layers), the input in [-2, 2], an initial state in [-1, 1], ragged lengths or none,
and the parameters (from a drawn seed), and
:func:`seqnet.testing.assert_gradients_close` checks every parameter, the input and
the initial state against float64 central differences (relative error 1e-6, or an
absolute difference below ``ATOL``), as a user's test of their own layer would.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqnet import testing
from tests.conftest import CELL_NAMES

#: a tensor whose largest difference is below this passes whatever its relative error:
#: drawn problems can make a whole gradient vanish (a ReLU RNN's initial-state
#: gradient of 5e-7 after three steps), and then central differences' rounding noise
#: (about 1e-16 |L| / eps, some 1e-11 here) is a relative error above 1e-6.
ATOL = 1e-8

SHAPES = testing.shapes(batch=(1, 3), steps=(1, 4), input_size=(1, 3), hidden_size=(1, 3))


@pytest.mark.parametrize("cell", CELL_NAMES)
@settings(max_examples=10)
@given(shape=SHAPES, data=st.data())
def test_gradients_match_central_differences(cell, shape, data):
    """For any small shape, configuration, input, initial state and lengths (or
    none), the analytic gradients of every parameter, the input and the initial
    state match float64 central differences (max-norm relative error <= 1e-6, or
    largest difference <= ATOL).
    Dropout masks are held fixed by the check, which restores the layer's rng.

    Every parameter is drawn uniform in [-0.8, 0.8] from the drawn seed, as in the
    suite: seqnet's own initialisation (zero biases; W_hh = +-1 when H = 1) lets a
    ReLU pre-activation cancel to exactly 0 on zero input (W_hh h + b = -b + b),
    on the kink where central differences are wrong. Inputs and states smaller
    than 1e-3 in magnitude are drawn as 0: a gradient of order 1e-120 is below what
    central differences resolve."""
    config = data.draw(testing.layer_configs(
        cells=[cell], options={"dropout": st.sampled_from([0.0, 0.5])}), label="config")
    x = data.draw(testing.float_arrays(shape.input_shape, min_magnitude=1e-3), label="x")
    state = data.draw(testing.initial_states(config, shape.batch, shape.hidden_size,
                                             min_magnitude=1e-3), label="initial_state")
    lengths = data.draw(st.none() | testing.lengths(shape.batch, shape.steps),
                        label="lengths")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    layer = config.make(shape.hidden_size, input_size=shape.input_size, seed=seed)
    rng = np.random.default_rng(seed)
    for p in layer.params.values():
        p[...] = rng.uniform(-0.8, 0.8, p.shape)
    report = testing.assert_gradients_close(layer, x, lengths=lengths,
                                            initial_state=list(state), atol=ATOL)
    assert set(report.errors) == {*layer.params, "x",
                                  *(f"initial_state[{m}]" for m in range(len(state)))}
