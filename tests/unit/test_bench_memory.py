"""The memory report of ``python -m seqnet.bench memory``: its minimum and its measure."""

import sys

import numpy as np
import pytest

from seqnet import bench


def test_bptt_minimum_counts_gates_states_dx_and_weight_grads():
    B, T, I, H = 3, 5, 7, 4
    # LSTM: 4 gates + (h, c) per step and row, dx, and 4H x (I + H + 2) weights.
    expected = 8 * (B * T * H * 6 + B * T * I + 4 * H * (I + H + 2))
    assert bench.bptt_minimum_bytes("lstm", B, T, I, H, np.float64) == expected
    assert bench.bptt_minimum_bytes("rnn-tanh", B, T, I, H, np.float32) == 4 * (
        B * T * H + B * T * I + H * (I + H + 2))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
@pytest.mark.parametrize(("cell", "bound"), [("lstm", 1.1), ("gru", 1.1), ("gru-v1", 1.15),
                                             ("rnn-tanh", 1.2)])
def test_forward_backward_memory_near_the_bptt_minimum(cell, bound, monkeypatch):
    """One float64 forward+backward at (32, 100, 128, 128) adds little more than
    what BPTT must keep (measured 1.01 for the LSTM and the GRU, 1.02-1.06 for the
    reset_before GRU, 0.98 for the SimpleRNN). Any one more sequence-sized buffer (a
    time-major copy of x or dout, a backward that kept its own gate gradients, a
    state history the SimpleRNN does without, r*h of every step) adds at least
    14 % of the LSTM's minimum, 17 % of the GRU's, 20 % of the reset_before GRU's
    and 50 % of the SimpleRNN's."""
    # the compiled kernels' memory, even in a NUMBA_DISABLE_JIT=1 (coverage) run.
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    shape = (32, 100, 128, 128)
    low = bench.bptt_minimum_bytes(cell, *shape, np.float64)
    peak = bench._memory_in_subprocess("seqnet", cell, shape, np.float64, 2)
    assert 0.9 * low < peak < bound * low
