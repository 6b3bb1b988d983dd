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
    assert bench.bptt_minimum_bytes("rnn", B, T, I, H, np.float32) == 4 * (
        B * T * H + B * T * I + H * (I + H + 2))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_lstm_backward_keeps_no_second_gate_buffer():
    """One float64 LSTM forward+backward at (32, 100, 128, 128) adds less than 1.5
    times what BPTT must keep (1.37 measured: gates, c, h, the time-major copies of x
    and dout, dx, the gradients). A backward that allocated its own (T, B, 4H)
    gate-gradient buffer again would add 13 MB more: 1.9 times."""
    low = bench.bptt_minimum_bytes("lstm", 32, 100, 128, 128, np.float64)
    peak = bench._memory_in_subprocess("seqnet", "lstm", (32, 100, 128, 128), np.float64, 2)
    assert low < peak < 1.5 * low
