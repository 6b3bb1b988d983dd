"""The recurrent cells' options: ``bias=False`` (every cell), ``proj_size`` (LSTM) and
``layer_norm`` (LSTM, GRU): configs, saving, shapes in graphs and bad input.

Their gradients are in the gradient-check suite (``seqnet.gradcheck.SUITE``) and
their PyTorch parity in ``tests/parity/test_torch_cell_options.py``.
"""

import numpy as np
import pytest

import seqnet

#: every option setting a test below saves, loads and runs: (class, keywords).
SETTINGS = [
    (seqnet.SimpleRNN, {"bias": False}),
    (seqnet.LSTM, {"bias": False}),
    (seqnet.GRU, {"bias": False, "reset_after": False}),
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
