"""The recurrent cells' options: ``bias=False`` (every cell), ``proj_size`` (LSTM) and
``layer_norm`` (LSTM, GRU): configs, saving, shapes in graphs and bad input.

Their gradients are in the gradient-check suite (``seqnet.gradcheck.SUITE``) and
their PyTorch parity in ``tests/parity/test_torch_cell_options.py``.
"""

import numpy as np
import pytest

import seqnet
from seqnet import Input, Model
from seqnet.gradcheck import check_gradients

#: every option setting a test below saves, loads and runs: (class, keywords).
SETTINGS = [
    (seqnet.SimpleRNN, {"bias": False}),
    (seqnet.LSTM, {"bias": False}),
    (seqnet.GRU, {"bias": False, "reset_after": False}),
    (seqnet.LSTM, {"proj_size": 2}),
    (seqnet.LSTM, {"proj_size": 3, "bias": False}),
    (seqnet.LSTM, {"layer_norm": True}),
    (seqnet.GRU, {"layer_norm": True, "bias": False}),
]


@pytest.mark.parametrize("cls, options", SETTINGS,
                         ids=lambda v: v.__name__ if isinstance(v, type) else repr(v))
def test_config_and_save_load_round_trip(cls, options, tmp_path):
    """The option is in get_config and repr, survives model.save / seqnet.load_model,
    and the loaded model predicts the same."""
    model = seqnet.Sequential([cls(6, input_size=3, num_layers=2, bidirectional=True,
                                   seed=0, **options)], seed=1)
    layer = model.layers[0]
    for key, value in options.items():
        assert layer.get_config()[key] == value
        assert f"{key}={value!r}" in repr(layer)
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    model.save(tmp_path / "m.npz")
    loaded = seqnet.load_model(tmp_path / "m.npz")
    assert loaded.layers[0].get_config() == layer.get_config()
    assert sorted(loaded.layers[0].params) == sorted(layer.params)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.parametrize("cls", [seqnet.SimpleRNN, seqnet.LSTM, seqnet.GRU])
def test_bias_false_is_zero_biases(cls):
    """``bias=False`` computes exactly what the same cell with zero biases computes,
    has no bias parameters or gradients, and its weight gradients are those of the
    zero-bias cell."""
    x = np.random.default_rng(1).standard_normal((3, 4, 2))
    a = cls(5, input_size=2, num_layers=2, bias=False, dtype=np.float64, seed=0)
    b = cls(5, input_size=2, num_layers=2, dtype=np.float64, seed=0)
    for name in b.params:
        b.params[name][...] = a.params[name] if name in a.params else 0.0
    assert sorted(a.params) == sorted(n for n in b.params if "bias" not in n)
    out_a = a.forward(x, training=True)
    out_b = b.forward(x, training=True)
    np.testing.assert_array_equal(out_a, out_b)
    dout = np.ones_like(out_a)
    np.testing.assert_array_equal(a.backward(dout), b.backward(dout))
    assert sorted(a.grads) == sorted(a.params)
    for name in a.grads:
        np.testing.assert_array_equal(a.grads[name], b.grads[name])


def test_bias_must_be_a_bool():
    with pytest.raises(TypeError, match="bias"):
        seqnet.LSTM(4, bias=1)


# ------------------------------------------------------------------- proj_size
@pytest.mark.parametrize("bad", [5, 6, -1])
def test_proj_size_must_be_below_hidden_size(bad):
    """PyTorch's rule: 0 (no projection) or 0 < P < H; the message names proj_size."""
    with pytest.raises(ValueError, match="proj_size"):
        seqnet.LSTM(5, proj_size=bad)
    with pytest.raises(TypeError, match="proj_size"):
        seqnet.LSTM(5, proj_size=1.5)


def test_proj_size_shapes():
    """Output (B, T, D*P), h (L*D, B, P), c (L*D, B, H); layer k > 0 takes D*P
    inputs; weight_hh (4H, P), weight_hr (P, H)."""
    layer = seqnet.LSTM(5, input_size=3, proj_size=2, num_layers=2, bidirectional=True,
                        return_state=True, seed=0)
    assert layer.params["weight_ih_l1"].shape == (20, 4)
    assert layer.params["weight_hh_l0_reverse"].shape == (20, 2)
    assert layer.params["weight_hr_l1_reverse"].shape == (2, 5)
    out, h, c = layer.forward(np.ones((4, 6, 3), np.float32))
    assert out.shape == (4, 6, 4) and h.shape == (4, 4, 2) and c.shape == (4, 4, 5)
    assert layer.output_shape((6, 3)) == (6, 4) and layer.state_sizes == (2, 5)
    with pytest.raises(ValueError, match=r"initial_state\[0\] \(h\)"):
        layer.forward(np.ones((4, 6, 3), np.float32), (c, c))


def test_proj_size_in_a_graph():
    """Symbolic shapes of a projected LSTM's states are (P,) and (H,) (with several
    layers or directions (L*D, P) and (L*D, H)); its states start another projected
    LSTM in a Model, whose gradients pass the check."""
    inp = Input(shape=(None, 3), dtype=np.float64)
    out, h, c = seqnet.LSTM(5, proj_size=2, return_state=True, seed=0,
                            dtype=np.float64)(inp)
    assert out.shape == (None, None, 2) and h.shape == (None, 2) and c.shape == (None, 5)
    _, h2, c2 = seqnet.LSTM(5, proj_size=2, num_layers=2, bidirectional=True,
                            return_state=True, return_sequences=False)(inp)
    assert h2.shape == (None, 4, 2) and c2.shape == (None, 4, 5)
    dec_in = Input(shape=(None, 2), dtype=np.float64)
    seq = seqnet.LSTM(5, proj_size=2, seed=1, dtype=np.float64)(dec_in, initial_state=[h, c])
    model = Model([inp, dec_in], seqnet.Dense(3, seed=2, dtype=np.float64)(seq))
    rng = np.random.default_rng(0)
    report = check_gradients(model, [rng.standard_normal((2, 4, 3)),
                                     rng.standard_normal((2, 3, 2))])
    assert report.passed(1e-6), (report.worst, report.max_error)
    with pytest.raises(ValueError, match="initial_state"):
        seqnet.LSTM(5, proj_size=2)(dec_in, initial_state=[c, c])


def test_proj_size_index_input_is_one_hot_input():
    """Integer indices compute what their one-hot encoding computes, gradients too."""
    rng = np.random.default_rng(2)
    idx = rng.integers(0, 7, (3, 5))
    onehot = np.eye(7)[idx]
    a = seqnet.LSTM(6, input_size=7, proj_size=2, bidirectional=True, dtype=np.float64,
                    seed=0)
    b = seqnet.LSTM(6, input_size=7, proj_size=2, bidirectional=True, dtype=np.float64,
                    seed=0)
    lengths = np.array([5, 2, 4])
    out_a = a.forward(idx, lengths=lengths, training=True)
    out_b = b.forward(onehot, lengths=lengths, training=True)
    np.testing.assert_allclose(out_a, out_b, rtol=1e-12, atol=1e-14)
    dout = rng.standard_normal(out_a.shape)
    assert a.backward(dout) is None
    b.backward(dout)
    for name in a.grads:
        np.testing.assert_allclose(a.grads[name], b.grads[name], rtol=1e-11, atol=1e-13)


def test_bidirectional_wrapper_refuses_a_projection():
    with pytest.raises(ValueError, match="proj_size"):
        seqnet.Bidirectional(seqnet.LSTM(4, proj_size=2))


@pytest.mark.parametrize("options", [{"proj_size": 2}, {"layer_norm": True},
                                     {"bias": False}], ids=repr)
def test_streaming_steps_give_the_whole_sequence(options):
    """Sequential.step, one step at a time with the states carried, gives what the
    whole sequence gives (the projected LSTM's h is (num_layers, B, P))."""
    model = seqnet.Sequential([seqnet.LSTM(5, input_size=3, num_layers=2, dtype=np.float64,
                                           seed=0, **options),
                               seqnet.Dense(2, dtype=np.float64, seed=1)], seed=2)
    x = np.random.default_rng(5).standard_normal((2, 4, 3))
    whole = model.predict(x)
    states = None
    for t in range(4):
        out, states = model.step(x[:, t], states)
        np.testing.assert_allclose(out, whole[:, t], rtol=1e-12, atol=1e-13)
    h, c = states[0]
    assert h.shape == (2, 2, options.get("proj_size", 5)) and c.shape == (2, 2, 5)
