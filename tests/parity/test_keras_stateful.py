"""``stateful=True`` against Keras 3's: the state of batch k starts batch k + 1.

Keras's stateful LSTM and GRU (both GRU forms) with the same random weights as
seqnet's, called on three consecutive chunks, then reset and called again: every
output agrees within the float32 bound, row for row, so seqnet carries the same
state Keras does and forgets it the same way.
"""

import numpy as np
import pytest

from .keras_oracle import ATOL32, RTOL32, to_numpy
from .test_keras_merge import KERAS_CELLS, keras_to_seqnet, randomize_keras

#: Keras's own NumPy 2.4 warning (see test_keras_merge.py).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

B, F, H = 3, 5, 4
CUTS = (0, 4, 5, 11)


@pytest.mark.parametrize("cell", list(KERAS_CELLS))
def test_stateful_chunks_and_reset_match_keras(cell):
    rng = np.random.default_rng(0)
    make_k, make_s = KERAS_CELLS[cell]
    x = rng.standard_normal((B, CUTS[-1], F)).astype(np.float32)
    theirs = make_k(stateful=True, return_sequences=True)
    theirs(x[:, :1])
    weights = randomize_keras(theirs, rng)
    theirs.reset_states()
    ours = make_s(stateful=True, return_sequences=True, input_size=F)
    ours.load_state_dict({k + "_l0": v for k, v in
                          keras_to_seqnet(cell.split()[0], weights, H).items()})
    for _ in range(2):   # the second round after reset_states: the same again
        for a, b in zip(CUTS[:-1], CUTS[1:], strict=True):
            want = to_numpy(theirs(x[:, a:b]))
            np.testing.assert_allclose(ours.forward(x[:, a:b]), want, rtol=RTOL32,
                                       atol=ATOL32)
        theirs.reset_states()
        ours.reset_states()
