"""The kernels against the slow NumPy reference, and the classic worked example."""

import numpy as np
import pytest

import seqnet
from tests.conftest import CELL_NAMES, make_layer, reference_options
from tests.reference import naive


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (1, True), (2, False), (2, True)])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_layer_matches_reference(cell, num_layers, bidirectional, with_lengths, rng):
    """Outputs and final states equal the step-by-step NumPy reference (float64)."""
    B, T, I, H = 4, 7, 3, 5
    layer = make_layer(cell, H, input_size=I, num_layers=num_layers,
                       bidirectional=bidirectional, dtype=np.float64)
    x = rng.standard_normal((B, T, I))
    lengths = np.array([7, 1, 4, 6]) if with_lengths else None
    D = 2 if bidirectional else 1
    state = tuple(0.3 * rng.standard_normal((num_layers * D, B, H))
                  for _ in layer.state_names)
    out, *final = layer.forward(x, list(state), lengths=lengths)
    ref_cell, opts = reference_options(cell)
    ref_out, ref_final = naive.run_layer(ref_cell, x, layer.params, num_layers,
                                         bidirectional, state, lengths, **opts)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-13)
    for a, b in zip(final, ref_final, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    if with_lengths:
        for b, n in enumerate(lengths):
            assert np.all(out[b, n:] == 0.0)


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_return_sequences_false_is_last_valid_step(cell, bidirectional, rng):
    """return_sequences=False gives the forward output at each row's last valid
    step and the reverse direction's final state (its output at t=0)."""
    B, T, I, H = 3, 6, 2, 4
    full = make_layer(cell, H, input_size=I, bidirectional=bidirectional, dtype=np.float64)
    last = make_layer(cell, H, input_size=I, bidirectional=bidirectional, dtype=np.float64,
                      return_sequences=False)
    last.load_state_dict(full.state_dict())
    x = rng.standard_normal((B, T, I))
    lengths = np.array([6, 2, 5])
    seq, *_ = full.forward(x, lengths=lengths)
    out, *_ = last.forward(x, lengths=lengths)
    assert out.shape == (B, full.output_size)
    for b, n in enumerate(lengths):
        np.testing.assert_array_equal(out[b, :H], seq[b, n - 1, :H])
        if bidirectional:
            np.testing.assert_array_equal(out[b, H:], seq[b, 0, H:])


def test_lstm_worked_example_the_cat_sat_on():
    """Hidden size 4, every weight and bias zero, one-hot "the cat sat on": every
    gate is 0.5, the candidate is 0, and c and h stay zero at every step."""
    words = "the cat sat on".split()
    vocab = {w: i for i, w in enumerate(sorted(set(words)))}
    x = np.zeros((1, len(words), len(vocab)))
    for t, w in enumerate(words):
        x[0, t, vocab[w]] = 1.0
    layer = seqnet.LSTM(4, input_size=len(vocab), return_state=True, dtype=np.float64, seed=0)
    layer.load_state_dict({k: np.zeros_like(v) for k, v in layer.params.items()})
    out, h, c = layer.forward(x, training=True)
    np.testing.assert_array_equal(out, np.zeros((1, 4, 4)))
    np.testing.assert_array_equal(h, 0.0)
    np.testing.assert_array_equal(c, 0.0)
    gates = layer._cache["caches"][0]["gates"]          # (B, T, 4H): i, f, g, o
    H = 4
    np.testing.assert_array_equal(gates[..., :H], 0.5)         # input gate
    np.testing.assert_array_equal(gates[..., H:2 * H], 0.5)    # forget gate
    np.testing.assert_array_equal(gates[..., 2 * H:3 * H], 0.0)  # candidate
    np.testing.assert_array_equal(gates[..., 3 * H:], 0.5)     # output gate


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_float32_close_to_float64(cell, rng):
    """The float32 kernels agree with float64 to float32 precision, forward and backward."""
    B, T, I, H = 3, 8, 4, 6
    l64 = make_layer(cell, H, input_size=I, dtype=np.float64, num_layers=2)
    l32 = make_layer(cell, H, input_size=I, dtype=np.float32, num_layers=2)
    l32.load_state_dict(l64.state_dict())
    x = rng.standard_normal((B, T, I))
    o64, *_ = l64.forward(x, training=True)
    o32, *_ = l32.forward(x.astype(np.float32), training=True)
    assert o32.dtype == np.float32 and o64.dtype == np.float64
    np.testing.assert_allclose(o32, o64, rtol=1e-4, atol=1e-5)
    dout = rng.standard_normal(o64.shape)
    dx64 = l64.backward(dout)
    dx32 = l32.backward(dout.astype(np.float32))
    np.testing.assert_allclose(dx32, dx64, rtol=1e-3, atol=1e-4)
    for k in l64.grads:
        assert l32.grads[k].dtype == np.float32
        np.testing.assert_allclose(l32.grads[k], l64.grads[k], rtol=1e-3, atol=1e-4)
