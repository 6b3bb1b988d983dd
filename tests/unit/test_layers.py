"""Layer behaviour: initialisation, state dicts, training and inference modes."""

import numpy as np
import pytest

import seqnet
from seqnet import _config, _dispatch
from tests.conftest import CELL_NAMES, make_layer


def test_initialisation_follows_keras():
    """glorot-uniform input weights, orthogonal recurrent weights, zero biases but
    the LSTM forget gate (1)."""
    H, I = 16, 10
    layer = seqnet.LSTM(H, input_size=I, num_layers=2, dtype=np.float64, seed=3)
    for k in range(2):
        w = layer.params[f"weight_ih_l{k}"]
        fan_in = I if k == 0 else H
        limit = np.sqrt(6.0 / (fan_in + 4 * H))
        assert np.abs(w).max() <= limit
        assert np.abs(w).max() > 0.9 * limit            # uses the whole range
        u = layer.params[f"weight_hh_l{k}"]              # (4H, H): orthonormal columns
        np.testing.assert_allclose(u.T @ u, np.eye(H), atol=1e-12)
        b = layer.params[f"bias_ih_l{k}"]
        np.testing.assert_array_equal(b[H:2 * H], 1.0)
        np.testing.assert_array_equal(np.delete(b, np.s_[H:2 * H]), 0.0)
        np.testing.assert_array_equal(layer.params[f"bias_hh_l{k}"], 0.0)
    gru = seqnet.GRU(H, input_size=I, seed=3)
    assert not any(gru.params[n].any() for n in ("bias_ih_l0", "bias_hh_l0"))


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_seed_reproducible_and_distinct(cell):
    """The same seed gives the same weights; another seed gives others."""
    a = make_layer(cell, 5, input_size=3, seed=11)
    b = make_layer(cell, 5, input_size=3, seed=11)
    c = make_layer(cell, 5, input_size=3, seed=12)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert any(not np.array_equal(a.params[k], c.params[k]) for k in a.params)


def test_input_size_inferred_on_first_forward(rng):
    """input_size=None takes the feature size from the first forward, and then holds."""
    layer = seqnet.GRU(3, seed=0)
    assert layer.params == {} and layer.num_parameters == 0
    layer.forward(rng.standard_normal((2, 4, 7)))
    assert layer.input_size == 7
    assert layer.params["weight_ih_l0"].shape == (9, 7)
    assert layer.num_parameters == 9 * 7 + 9 * 3 + 2 * 9
    with pytest.raises(ValueError, match="input_size is 7"):
        layer.forward(rng.standard_normal((2, 4, 6)))


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_state_dict_round_trip(cell, rng):
    """state_dict returns copies; load_state_dict into a fresh layer reproduces it."""
    a = make_layer(cell, 4, input_size=3, num_layers=2, bidirectional=True,
                   dtype=np.float64)
    sd = a.state_dict()
    sd["weight_ih_l0"][...] = 7.0
    assert not np.any(a.params["weight_ih_l0"] == 7.0)
    b = make_layer(cell, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=99)
    b.load_state_dict(a.state_dict())
    assert b.input_size == 3
    x = rng.standard_normal((2, 5, 3))
    np.testing.assert_array_equal(a.forward(x)[0], b.forward(x)[0])


def test_param_names_and_shapes_follow_pytorch():
    """Keys in PyTorch's order with its shapes, G*hidden rows per gate block."""
    layer = seqnet.LSTM(5, input_size=3, num_layers=2, bidirectional=True)
    assert list(layer.params) == [
        f"{w}_l{k}{s}" for k in range(2) for s in ("", "_reverse")
        for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert layer.params["weight_ih_l0"].shape == (20, 3)
    assert layer.params["weight_ih_l1"].shape == (20, 10)
    assert layer.params["weight_hh_l1_reverse"].shape == (20, 5)
    assert seqnet.LSTM_GATES == ("i", "f", "g", "o")
    assert seqnet.GRU_GATES == ("r", "z", "n")


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_inference_keeps_nothing(cell, rng):
    """training=False keeps no cache, and backward after it is refused."""
    layer = make_layer(cell, 4, input_size=3)
    x = rng.standard_normal((2, 5, 3))
    layer.forward(x, training=True)
    assert layer._cache is not None
    out_inf, *_ = layer.forward(x)
    assert layer._cache is None
    with pytest.raises(ValueError, match="training=True"):
        layer.backward(np.ones_like(out_inf))


def test_dropout_between_layers_seeded_and_training_only(rng):
    """Dropout changes training outputs, reproducibly for a seed, never inference."""
    x = rng.standard_normal((4, 6, 3))
    a = seqnet.LSTM(8, num_layers=2, dropout=0.5, seed=5, dtype=np.float64)
    b = seqnet.LSTM(8, num_layers=2, dropout=0.5, seed=5, dtype=np.float64)
    plain = seqnet.LSTM(8, num_layers=2, seed=5, dtype=np.float64)
    ya = a.forward(x, training=True)
    yb = b.forward(x, training=True)
    np.testing.assert_array_equal(ya, yb)
    y0 = plain.forward(x, training=True)
    assert not np.allclose(ya, y0)
    np.testing.assert_array_equal(a.forward(x), plain.forward(x))


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_deterministic_bits(cell, rng):
    """Same input, same thread count: the same bits, forward and backward."""
    layer = make_layer(cell, 32, input_size=8, num_layers=2, bidirectional=True)
    x = rng.standard_normal((16, 12, 8)).astype(np.float32)
    runs = []
    for _ in range(2):
        out, *_ = layer.forward(x, training=True)
        dx = layer.backward(np.cos(out))
        runs.append((out, dx, {k: v.copy() for k, v in layer.grads.items()}))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    for k in runs[0][2]:
        np.testing.assert_array_equal(runs[0][2][k], runs[1][2][k])


def test_parallel_mode_is_checked_and_restored():
    """parallel_mode refuses unknown modes and restores the previous one."""
    with pytest.raises(ValueError, match="mode"):
        with _dispatch.parallel_mode("fast"):
            pass
    with _dispatch.parallel_mode("serial"):
        assert _dispatch.get_parallel_mode() == "serial"
        assert not _dispatch.plan(10**3, 10, 10**3, 10, 10**3).parallel
    assert _dispatch.get_parallel_mode() == "auto"
    assert not _dispatch.plan(1, 10, 64, 64, 64).parallel
    assert not _dispatch.plan(8, 10, 32, 32, 32).parallel
    assert _dispatch.plan(2, 10, 512, 128, 128).parallel


def test_a_long_sequence_at_batch_1_splits_its_products_in_the_parallel_kernel():
    """One row cannot be split into blocks, but the whole-sequence products of a
    long sequence can: the plan runs the parallel kernel with one block of rows and
    one chunk of those products per thread (the serial kernel never runs parallel
    code); a short one stays serial."""
    import numba

    threads = numba.get_num_threads()
    long = _dispatch.plan(1, 2000, 256, 64, 64)
    assert long.blocks == 1 and long.seq_chunks == threads and long.parallel == (threads > 1)
    short = _dispatch.plan(1, 20, 256, 64, 64)
    assert (short.blocks, short.seq_chunks, short.parallel) == (1, 1, False)


def test_kernels_use_the_shared_fastmath_set():
    """No kernel hard-codes fastmath=True: the flags come from _config only."""
    import pathlib

    root = pathlib.Path(seqnet.__file__).parent / "kernels"
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "fastmath=True" not in text, path
        assert "fastmath" not in text.replace("JIT_OPTIONS", ""), path
    assert "nnan" not in _config.FASTMATH and "ninf" not in _config.FASTMATH


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_nan_propagates(cell):
    """A NaN input gives NaN outputs (fastmath keeps NaN honest), not a silent number."""
    layer = make_layer(cell, 3, input_size=2, dtype=np.float64)
    x = np.zeros((1, 3, 2))
    x[0, 1, 0] = np.nan
    out, *_ = layer.forward(x)
    assert np.all(np.isfinite(out[0, 0]))
    assert np.all(np.isnan(out[0, 1:]))


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_a_recurrent_layer_rebuilds_from_its_config(cell):
    """serialize/deserialize rebuild any layer through its own get_config and
    from_config (what loading a model does, with no table of special cases); the
    same seed gives the same weights."""
    from seqnet import layers, variants

    layer = variants.get(cell).make(4, input_size=3, num_layers=2, bidirectional=True,
                                    dropout=0.25, return_sequences=False, return_state=True,
                                    dtype=np.float64, seed=5)
    spec = layers.serialize(layer)
    assert spec["class"] == type(layer).__name__
    clone = layers.deserialize(spec)
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    assert clone.return_state and clone.dropout == 0.25
    for k, v in layer.params.items():
        np.testing.assert_array_equal(clone.params[k], v)


class Scale(seqnet.Layer):
    """y = x * w (one weight per feature): a user's layer, for the tests below."""

    def __init__(self, *, input_size=None, dtype=np.float32, seed=None):
        super().__init__(dtype=dtype, seed=seed)
        self.input_size = input_size
        self._planned_input = input_size   # made on first use

    def _param_shapes(self, input_size):
        return {"w": (input_size,)}

    def _initial_params(self, input_size):
        return {"w": np.linspace(0.5, 1.5, input_size).astype(self.dtype)}

    def _set_input_size(self, input_size):
        self.input_size = input_size

    def get_config(self):
        return {"input_size": self.input_size, **super().get_config()}

    def call(self, x, initial_state, *, training):
        x = np.asarray(x, self.dtype)
        if not self.built:
            self._build(x.shape[-1])
        self._cache = x if training else None
        return x * self.params["w"], ()

    def call_backward(self, dout, dstate):
        x = self._need_cache()
        self.grads["w"] = (dout * x).reshape(-1, x.shape[-1]).sum(axis=0)
        return dout * self.params["w"], ()


def test_a_users_layer_trains_saves_and_loads_in_a_model(tmp_path, rng):
    """A layer of one's own follows the same contract as seqnet's: its gradients
    pass the finite-difference check, a Sequential trains it between seqnet's layers,
    and once registered it saves and loads with the model."""
    from seqnet import layers

    report = seqnet.check_gradients(Scale(input_size=4, dtype=np.float64),
                                    rng.standard_normal((3, 5, 4)))
    assert set(report.errors) == {"w", "x"} and report.passed(1e-8), report.errors
    model = seqnet.Sequential([seqnet.GRU(4, input_size=3, seed=0), Scale(),
                               seqnet.GRU(2, return_sequences=False, seed=1),
                               seqnet.Dense(3, activation="softmax", seed=2)], seed=3)
    model.compile("sparse_categorical_crossentropy", "adam")
    x = rng.standard_normal((32, 6, 3)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    model.build((6, 3))
    w0 = model.layers[1].params["w"].copy()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert not np.array_equal(model.layers[1].params["w"], w0)
    model.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="unknown layer class 'Scale'.*seqnet.layers.register"):
        seqnet.load_model(tmp_path / "m.npz")
    layers.register(Scale)
    try:
        loaded = seqnet.load_model(tmp_path / "m.npz")
        np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    finally:
        del layers.LAYERS["Scale"]
