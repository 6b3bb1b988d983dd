"""seqnet.interop.flip_update_gate: a GRU trained in the convention
``h_t = (1 - z) h_{t-1} + z n_t`` computes, after the flip, exactly what a NumPy
reference of that convention computes with the original weights."""

import numpy as np
import pytest

import seqnet
from seqnet.interop import flip_update_gate

B, T, I, H = 3, 7, 4, 5


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def other_convention_gru(x, h0, W_ih, W_hh, b_ih, b_hh, reset_after):
    """The GRU of the texts that write ``h_t = (1 - z) h_{t-1} + z n_t`` (gate rows
    r, z, n, PyTorch's layout otherwise), one step at a time."""
    h = h0
    out = []
    for t in range(x.shape[1]):
        gi = x[:, t] @ W_ih.T + b_ih
        r = sigmoid(gi[:, :H] + h @ W_hh[:H].T + b_hh[:H])
        z = sigmoid(gi[:, H:2 * H] + h @ W_hh[H:2 * H].T + b_hh[H:2 * H])
        if reset_after:
            n = np.tanh(gi[:, 2 * H:] + r * (h @ W_hh[2 * H:].T + b_hh[2 * H:]))
        else:
            n = np.tanh(gi[:, 2 * H:] + (r * h) @ W_hh[2 * H:].T + b_hh[2 * H:])
        h = (1 - z) * h + z * n
        out.append(h)
    return np.stack(out, axis=1), h


@pytest.mark.parametrize("reset_after", [True, False])
def test_flipped_gru_equals_the_other_convention(reset_after):
    rng = np.random.default_rng(7)
    w = {"weight_ih_l0": rng.uniform(-0.8, 0.8, (3 * H, I)),
         "weight_hh_l0": rng.uniform(-0.8, 0.8, (3 * H, H)),
         "bias_ih_l0": rng.uniform(-0.5, 0.5, 3 * H),
         "bias_hh_l0": rng.uniform(-0.5, 0.5, 3 * H)}
    x = rng.standard_normal((B, T, I))
    h0 = rng.uniform(-1, 1, (B, H))
    want_out, want_h = other_convention_gru(x, h0, *w.values(), reset_after)

    gru = seqnet.GRU(H, input_size=I, reset_after=reset_after, return_state=True,
                     dtype=np.float64)
    gru.load_state_dict(w)
    unflipped, _ = gru.forward(x, [h0[None]])
    assert np.abs(unflipped - want_out).max() > 0.1      # the conventions do differ
    out, h = flip_update_gate(gru).forward(x, [h0[None]])
    np.testing.assert_allclose(out, want_out, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h[0], want_h, rtol=0, atol=1e-12)
    # the state-dict form gives the same weights
    flipped = flip_update_gate(w)
    gru.load_state_dict(flipped)
    np.testing.assert_array_equal(gru.forward(x, [h0[None]])[0], out)


def test_flip_touches_only_the_update_gate_and_is_its_own_inverse():
    gru = seqnet.GRU(H, input_size=I, num_layers=2, bidirectional=True, seed=1)
    for v in gru.params.values():
        v += 0.25
    before = {k: v.copy() for k, v in gru.params.items()}
    flipped = flip_update_gate(gru)
    for name, value in gru.params.items():
        np.testing.assert_array_equal(value, before[name])     # argument left alone
        got = flipped.params[name]
        np.testing.assert_array_equal(got[H:2 * H], -value[H:2 * H])
        np.testing.assert_array_equal(np.delete(got, np.s_[H:2 * H], 0),
                                      np.delete(value, np.s_[H:2 * H], 0))
    again = flip_update_gate(flipped)
    for name, value in gru.params.items():
        np.testing.assert_array_equal(again.params[name], value)


def test_flip_refusals():
    with pytest.raises(ValueError, match="layer_norm=True"):
        flip_update_gate(seqnet.GRU(H, input_size=I, layer_norm=True))
    with pytest.raises(ValueError, match="not built"):
        flip_update_gate(seqnet.GRU(H))
    with pytest.raises(TypeError, match="seqnet.GRU or a state dict"):
        flip_update_gate(seqnet.LSTM(H, input_size=I))
    with pytest.raises(TypeError, match="seqnet.GRU or a state dict"):
        flip_update_gate([1, 2])
    with pytest.raises(ValueError, match="3 \\* hidden_size"):
        flip_update_gate({"weight_ih_l0": np.zeros((4, 2))})
    with pytest.raises(ValueError, match="3 \\* hidden_size"):
        flip_update_gate({"weight_ih_l0": np.zeros((6, 2)), "bias_ih_l0": np.zeros(9)})
