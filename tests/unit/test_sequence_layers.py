"""The sequence layers of issue 14: Dense over any rank, RepeatVector,
TimeDistributed, the global poolings, LayerNormalization, Masking and
Embedding(mask_zero=True), with the trailing-padding rule they share
(:func:`seqnet.layers.lengths_from_padding`).

Shapes, values against plain NumPy loops, errors (each names the layer and the
shapes, or the row and the step), configs through serialize/deserialize, both
dtypes, and padding holding NaN or infinities reaching no valid output and no
gradient. Gradients are checked in tests/gradcheck/test_gradcheck_layers.py, Keras
parity in tests/parity/test_keras_layers.py.
"""

import copy
import json
import pickle

import numpy as np
import pytest

import seqnet
from seqnet.layers import deserialize, lengths_from_padding, serialize

DTYPES = [np.float32, np.float64]
LENGTHS = np.array([4, 1, 3])


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def padded(x, lengths, value=np.nan):
    """A copy of ``x`` (B, T, ...) holding ``value`` past each row's length."""
    x = np.array(x, copy=True)
    for b, n in enumerate(lengths):
        x[b, n:] = value
    return x


def valid_mask(lengths, T):
    return np.arange(T) < np.asarray(lengths)[:, None]


# ------------------------------------------------------------- lengths_from_padding
def test_lengths_from_padding_counts_trailing_padding():
    pad = np.array([[0, 0, 1, 1], [0, 0, 0, 0], [0, 1, 1, 1]], bool)
    lengths = lengths_from_padding(pad, "L")
    assert lengths.tolist() == [2, 4, 1]
    assert lengths.dtype == np.int64


@pytest.mark.parametrize("pad, row, step, kind", [
    ([[0, 0, 0], [1, 0, 0]], 1, 0, "left padding"),
    ([[0, 1, 0], [0, 0, 0]], 0, 1, "a hole"),
    ([[0, 0, 1], [0, 1, 0]], 1, 1, "a hole"),
])
def test_lengths_from_padding_refuses_holes_and_left_padding(pad, row, step, kind):
    with pytest.raises(ValueError, match=rf"^MyLayer: row {row} is padding at step {step} "
                                         rf"but has a valid step after it .*{kind}"):
        lengths_from_padding(np.array(pad, bool), "MyLayer")


def test_lengths_from_padding_refuses_a_row_of_padding_only():
    with pytest.raises(ValueError, match=r"MyLayer: row 1 is padding from step 0 to its "
                                         r"last step 2: it has no valid step"):
        lengths_from_padding(np.array([[0, 0, 1], [1, 1, 1]], bool), "MyLayer")


def test_lengths_from_padding_refuses_other_ranks():
    with pytest.raises(ValueError, match="MyLayer: .*2-D"):
        lengths_from_padding(np.zeros(3, bool), "MyLayer")


# --------------------------------------------------------------------------- Dense
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3), (2, 4, 3), (2, 4, 5, 3), (2, 1, 2, 2, 3)])
def test_dense_any_rank_is_the_2d_layer_on_every_row(shape, dtype, rng):
    layer = seqnet.Dense(4, activation="softmax", input_size=3, dtype=dtype, seed=0)
    layer.params["bias"][...] = rng.uniform(-1, 1, 4)
    x = rng.standard_normal(shape).astype(dtype)
    out = layer.forward(x, training=True)
    assert out.shape == (*shape[:-1], 4) and out.dtype == dtype
    flat = layer.forward(x.reshape(-1, 3))
    np.testing.assert_array_equal(out.reshape(-1, 4), flat)
    dout = rng.standard_normal(out.shape).astype(dtype)
    layer.forward(x, training=True)
    dx = layer.backward(dout)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    layer.forward(x.reshape(-1, 3), training=True)
    dx_flat = layer.backward(dout.reshape(-1, 4))
    assert dx.shape == x.shape and dx.dtype == dtype
    np.testing.assert_array_equal(dx.reshape(-1, 3), dx_flat)
    for k in grads:
        np.testing.assert_array_equal(grads[k], layer.grads[k])


def test_dense_output_shape_validates_rank_and_features():
    layer = seqnet.Dense(4, input_size=3)
    assert layer.output_shape((None, 7, 3)) == (None, 7, 4)
    with pytest.raises(ValueError, match=r"Dense\(units=4\) expects input shape \(\.\.\., 3\) "
                                         r"\(input_size=3\), got input shape \(5, 2\)"):
        layer.output_shape((5, 2))
    with pytest.raises(ValueError, match=r"Dense\(units=4\) needs .* got input shape \(\)"):
        layer.output_shape(())
    with pytest.raises(ValueError, match=r"features must be known"):
        layer.output_shape((5, None))
    assert seqnet.Dense(2).output_shape((6, 5, 9)) == (6, 5, 2)   # input_size not known yet


def test_dense_call_names_both_shapes():
    layer = seqnet.Dense(2, input_size=3)
    with pytest.raises(ValueError, match=r"Dense: x has shape \(2, 4, 5, 5\), 5 features, "
                                         r"but Dense's input_size is 3: expected shape "
                                         r"\(batch, \.\.\., 3\)"):
        layer.forward(np.ones((2, 4, 5, 5)))


# -------------------------------------------------------------------- RepeatVector
@pytest.mark.parametrize("dtype", DTYPES)
def test_repeat_vector_forward_and_backward(dtype, rng):
    layer = seqnet.RepeatVector(4)
    x = rng.standard_normal((3, 2)).astype(dtype)
    out = layer.forward(x, training=True)
    assert out.shape == (3, 4, 2) and out.dtype == dtype
    for t in range(4):
        np.testing.assert_array_equal(out[:, t], x)
    dout = rng.standard_normal((3, 4, 2))
    dx = layer.backward(dout)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, dout.sum(axis=1).astype(dtype), rtol=1e-6)
    assert layer.output_lengths(x, None) is None and not layer.causal


def test_repeat_vector_errors():
    with pytest.raises(ValueError, match="n must be a positive integer"):
        seqnet.RepeatVector(0)
    with pytest.raises(TypeError, match="n must be a positive integer"):
        seqnet.RepeatVector(2.0)
    layer = seqnet.RepeatVector(3)
    with pytest.raises(ValueError, match=r"RepeatVector\(n=3\) expects input shape "
                                         r"\(features,\) .* got input shape \(5, 2\)"):
        layer.output_shape((5, 2))
    with pytest.raises(ValueError, match=r"RepeatVector\(n=3\): x must be 2-D .* got shape "
                                         r"\(2, 5, 2\)"):
        layer.forward(np.ones((2, 5, 2)))
    layer.forward(np.ones((2, 5)), training=True)
    with pytest.raises(ValueError, match="dout must have shape"):
        layer.backward(np.ones((2, 4, 5)))


# ----------------------------------------------------------------- TimeDistributed
def dense(units=2, input_size=3, dtype=np.float64, seed=0):
    layer = seqnet.Dense(units, activation="tanh", input_size=input_size, dtype=dtype,
                         seed=seed)
    layer.params["bias"][...] = np.random.default_rng(seed + 7).uniform(-0.5, 0.5, units)
    return layer


@pytest.mark.parametrize("dtype", DTYPES)
def test_time_distributed_is_the_layer_on_each_step(dtype, rng):
    inner = dense(dtype=dtype)
    td = seqnet.TimeDistributed(inner)
    x = rng.standard_normal((3, 4, 3)).astype(dtype)
    out = td.forward(x, training=True)
    assert out.shape == (3, 4, 2) and out.dtype == dtype
    twin = copy.deepcopy(inner)
    for t in range(4):
        np.testing.assert_allclose(out[:, t], twin.forward(x[:, t]), rtol=1e-6)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = td.backward(dout)
    dw, db, dxs = 0, 0, []
    for t in range(4):
        twin.forward(x[:, t], training=True)
        dxs.append(twin.backward(dout[:, t]))
        dw, db = dw + twin.grads["weight"], db + twin.grads["bias"]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(dx, np.stack(dxs, axis=1), rtol=tol, atol=tol)
    np.testing.assert_allclose(td.grads["weight"], dw, rtol=tol, atol=tol)
    np.testing.assert_allclose(td.grads["bias"], db, rtol=tol, atol=tol)


def test_time_distributed_params_are_the_inner_layers():
    inner = dense()
    td = seqnet.TimeDistributed(inner)
    assert td.params is inner.params
    assert td.params["weight"] is inner.params["weight"]
    td.forward(np.ones((2, 3, 3)), training=True)
    td.backward(np.ones((2, 3, 2)))
    assert td.grads is inner.grads and set(td.grads) == {"weight", "bias"}
    assert td.num_parameters == inner.num_parameters == 8
    assert set(td.state_dict()) == {"weight", "bias"}
    td.load_state_dict({"weight": np.full((2, 3), 0.5), "bias": np.zeros(2)})
    assert (inner.params["weight"] == 0.5).all()
    assert td.rng is inner.rng and td.has_weights and td.built


def test_time_distributed_builds_a_lazy_inner_layer(rng):
    td = seqnet.TimeDistributed(seqnet.Dense(2, seed=0))
    assert not td.built and td.params == {}
    assert td.expected_shapes(5) == {"weight": (2, 5), "bias": (2,)}
    td.forward(rng.standard_normal((2, 3, 5)))
    assert td.built and td.params["weight"].shape == (2, 5)
    td2 = seqnet.TimeDistributed(seqnet.Dense(2, seed=0))
    td2.build((7, 4))
    assert td2.params["weight"].shape == (2, 4)


def test_time_distributed_on_rank_4_and_other_inner_layers(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    norm = seqnet.TimeDistributed(seqnet.LayerNormalization(dtype=np.float64))
    np.testing.assert_allclose(norm.forward(x),
                               seqnet.LayerNormalization(dtype=np.float64).forward(x),
                               rtol=1e-12, atol=1e-12)
    act = seqnet.TimeDistributed(seqnet.Activation("softmax"))
    np.testing.assert_allclose(act.forward(x).sum(axis=-1), 1.0, rtol=1e-12)
    assert seqnet.TimeDistributed(seqnet.Dense(3)).output_shape((None, 4, 5)) == (None, 4, 3)


def test_time_distributed_with_lengths_ignores_padding(rng):
    """Padded steps: output 0, gradient 0, and their NaN reaches neither the inner
    layer's output nor its gradients, which are those of the valid steps alone."""
    td = seqnet.TimeDistributed(dense())
    x = padded(rng.standard_normal((3, 4, 3)), LENGTHS)
    out = td.forward(x, training=True, lengths=LENGTHS)
    valid = valid_mask(LENGTHS, 4)
    assert np.isfinite(out).all() and (out[~valid] == 0).all()
    dout = padded(rng.standard_normal((3, 4, 2)), LENGTHS, np.inf)
    dx = td.backward(dout)
    assert np.isfinite(dx).all() and (dx[~valid] == 0).all()
    twin = dense()
    np.testing.assert_array_equal(out[valid], twin.forward(x[valid], training=True))
    np.testing.assert_array_equal(dx[valid], twin.backward(dout[valid]))
    for k in twin.grads:
        np.testing.assert_array_equal(td.grads[k], twin.grads[k])
    assert td.output_lengths(x, LENGTHS) is LENGTHS
    assert not np.isnan(x[valid]).any() and np.isnan(x[~valid]).all()   # x untouched


def test_time_distributed_passes_logits_to_dense(rng):
    """A final TimeDistributed(Dense(softmax)) is fused with the cross-entropy by a
    model, as a final Dense is: it takes logits=True and says its activation."""
    inner = dense()
    inner_softmax = seqnet.Dense(2, activation="softmax", input_size=3, dtype=np.float64)
    td = seqnet.TimeDistributed(inner_softmax)
    assert td.logits_option and td.activation == "softmax"
    x = rng.standard_normal((2, 3, 3))
    z = td.forward(x, logits=True)
    np.testing.assert_allclose(z, x @ inner_softmax.params["weight"].T
                               + inner_softmax.params["bias"], rtol=1e-12)
    np.testing.assert_allclose(td.forward(x), seqnet.activations.softmax(z), rtol=1e-12)
    norm = seqnet.TimeDistributed(seqnet.LayerNormalization())
    assert not norm.logits_option and norm.activation is None
    with pytest.raises(TypeError, match=r"TimeDistributed\(LayerNormalization\) takes no "
                                        "logits=True"):
        norm.forward(x, logits=True)
    assert seqnet.TimeDistributed(inner).activation == "tanh"


def test_sequential_fuses_a_final_time_distributed_softmax(rng):
    """A tagger: LSTM -> TimeDistributed(Dense(softmax)), trained on logits; its
    loss falls and predict still gives probabilities."""
    class Recording(seqnet.TimeDistributed):
        seen = []

        def call(self, x, initial_state, *, training, **options):
            self.seen.append((training, options.get("logits", False)))
            return super().call(x, initial_state, training=training, **options)

    x = rng.standard_normal((32, 5, 3)).astype(np.float32)
    y = (x[:, :, 0] > 0).astype(np.int64)
    model = seqnet.Sequential([
        seqnet.LSTM(8, input_size=3, seed=1),
        Recording(seqnet.Dense(2, activation="softmax", seed=2))])
    model.compile("sparse_categorical_crossentropy", "adam")
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert (True, True) in Recording.seen and (True, False) not in Recording.seen
    np.testing.assert_allclose(model.predict(x).sum(axis=-1), 1.0, rtol=1e-5)


def test_time_distributed_dropout_backward_uses_the_forward_mask(rng):
    td = seqnet.TimeDistributed(seqnet.Dropout(0.5, seed=3))
    x = rng.standard_normal((2, 5, 4))
    out = td.forward(x, training=True)
    dx = td.backward(np.ones_like(out))
    np.testing.assert_array_equal(dx == 0, out == 0)
    np.testing.assert_array_equal(td.forward(x), x)   # inference: the identity


def test_time_distributed_integer_input_has_no_gradient():
    td = seqnet.TimeDistributed(seqnet.Embedding(5, 2, dtype=np.float64, seed=0))
    x = np.array([[[1, 2], [3, 4]], [[0, 1], [2, 2]]])
    out = td.forward(x, training=True)
    assert out.shape == (2, 2, 2, 2)
    assert td.backward(np.ones_like(out)) is None
    assert td.grads["weight"].sum() == out.size


@pytest.mark.parametrize("inner, exc, match", [
    ("not a layer", TypeError, "layer must be a seqnet layer"),
    (seqnet.LSTM(2, input_size=3), ValueError, r"without state; LSTM has the state \('h', "),
])
def test_time_distributed_refuses_other_layers(inner, exc, match):
    with pytest.raises(exc, match=match):
        seqnet.TimeDistributed(inner)


def test_time_distributed_shape_errors_name_both_layers_and_shapes():
    td = seqnet.TimeDistributed(seqnet.Dense(2, input_size=3))
    with pytest.raises(ValueError, match=r"TimeDistributed\(Dense\) expects input shape "
                                         r"\(time, \.\.\.\) .* got input shape \(3,\)"):
        td.output_shape((3,))
    with pytest.raises(ValueError, match=r"TimeDistributed\(Dense\): input shape \(7, 5\) has "
                                         r"steps of shape \(5,\), which its layer refuses: "
                                         r"Dense\(units=2\) expects input shape \(\.\.\., 3\)"):
        td.output_shape((7, 5))
    with pytest.raises(ValueError, match=r"TimeDistributed\(Dense\): x must be .* got shape "
                                         r"\(4, 3\)"):
        td.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"Dense: x has shape \(8, 5\)"):
        td.forward(np.ones((2, 4, 5)))
    with pytest.raises(ValueError, match=r"lengths must be <= the number of time steps 4"):
        td.forward(np.ones((2, 4, 3)), lengths=np.array([5, 1]))


def test_time_distributed_config_holds_the_inner_spec():
    td = seqnet.TimeDistributed(seqnet.Dense(2, activation="relu", input_size=3, seed=4))
    config = td.get_config()
    assert config == {"layer": serialize(td.layer)}
    clone = deserialize(json.loads(json.dumps(serialize(td))))
    assert type(clone) is seqnet.TimeDistributed and type(clone.layer) is seqnet.Dense
    assert clone.get_config() == config
    np.testing.assert_array_equal(clone.params["weight"], td.params["weight"])  # same seed
    with pytest.raises(ValueError, match="needs 'layer'"):
        seqnet.TimeDistributed.from_config({})
    with pytest.raises(TypeError, match="takes only 'layer'"):
        seqnet.TimeDistributed.from_config({"layer": serialize(td.layer), "seed": 1})
    with pytest.raises(ValueError, match="unknown layer class"):
        seqnet.TimeDistributed.from_config({"layer": {"class": "Nope", "config": {}}})


def test_time_distributed_copies_and_pickles(rng):
    td = seqnet.TimeDistributed(dense())
    x = rng.standard_normal((2, 3, 3))
    for clone in (copy.deepcopy(td), pickle.loads(pickle.dumps(td))):
        assert clone.params is clone.layer.params
        assert clone.params["weight"] is not td.params["weight"]
        np.testing.assert_array_equal(clone.forward(x), td.forward(x))


# ------------------------------------------------------------------------- pooling
POOLS = {"average": seqnet.GlobalAveragePooling1D, "max": seqnet.GlobalMaxPooling1D}


def naive_pool(kind, x, lengths):
    reduce = np.mean if kind == "average" else np.max
    return np.stack([reduce(x[b, :n], axis=0) for b, n in enumerate(lengths)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", sorted(POOLS))
def test_pooling_over_valid_steps(kind, dtype, rng):
    layer = POOLS[kind]()
    x = rng.standard_normal((3, 4, 5)).astype(dtype)
    out = layer.forward(x)
    assert out.shape == (3, 5) and out.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(out, naive_pool(kind, x, [4, 4, 4]), rtol=tol)
    np.testing.assert_allclose(layer.forward(x, lengths=LENGTHS), naive_pool(kind, x, LENGTHS),
                               rtol=tol)
    assert layer.output_lengths(x, LENGTHS) is None
    assert layer.output_shape((None, 5)) == (5,) and not layer.causal


@pytest.mark.parametrize("fill", [np.nan, np.inf, -np.inf, 1e30])
@pytest.mark.parametrize("kind", sorted(POOLS))
def test_pooling_padding_changes_nothing(kind, fill, rng):
    """Whatever padding holds, the output and the gradient are those of the valid
    steps; padded steps get a gradient of exactly 0."""
    layer = POOLS[kind]()
    clean = rng.standard_normal((3, 4, 5))
    dout = rng.standard_normal((3, 5))
    ref = layer.forward(clean, training=True, lengths=LENGTHS)
    dref = layer.backward(dout)
    out = layer.forward(padded(clean, LENGTHS, fill), training=True, lengths=LENGTHS)
    dx = layer.backward(dout)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(dx, dref)
    assert (dx[~valid_mask(LENGTHS, 4)] == 0).all()


def test_average_pooling_gradient_is_spread_over_valid_steps(rng):
    layer = seqnet.GlobalAveragePooling1D()
    x = rng.standard_normal((3, 4, 2))
    layer.forward(x, training=True, lengths=LENGTHS)
    dout = rng.standard_normal((3, 2))
    dx = layer.backward(dout)
    for b, n in enumerate(LENGTHS):
        np.testing.assert_allclose(dx[b, :n], np.broadcast_to(dout[b] / n, (n, 2)))


def test_max_pooling_gradient_goes_to_the_maximum(rng):
    layer = seqnet.GlobalMaxPooling1D()
    x = rng.standard_normal((3, 4, 2))
    layer.forward(x, training=True, lengths=LENGTHS)
    dout = rng.standard_normal((3, 2))
    dx = layer.backward(dout)
    for b, n in enumerate(LENGTHS):
        for f in range(2):
            t = int(np.argmax(x[b, :n, f]))
            assert dx[b, t, f] == dout[b, f]
            assert np.count_nonzero(dx[b, :, f]) == 1


@pytest.mark.parametrize("kind", sorted(POOLS))
def test_pooling_errors(kind):
    layer = POOLS[kind]()
    name = POOLS[kind].__name__
    with pytest.raises(ValueError, match=rf"{name} expects input shape \(time, features\) .* "
                                         r"got input shape \(5,\)"):
        layer.output_shape((5,))
    with pytest.raises(ValueError, match=rf"{name}: x must be 3-D .* got shape \(2, 5\)"):
        layer.forward(np.ones((2, 5)))
    with pytest.raises(TypeError, match="x must be a real floating-point array"):
        layer.forward(np.ones((2, 5, 3), np.int64))
    with pytest.raises(ValueError, match="lengths must be >= 1"):
        layer.forward(np.ones((2, 5, 3)), lengths=np.array([0, 2]))
    with pytest.raises(ValueError, match=r"lengths must have shape \(2,\)"):
        layer.forward(np.ones((2, 5, 3)), lengths=np.array([1, 2, 3]))
    layer.forward(np.ones((2, 5, 3)), training=True)
    with pytest.raises(ValueError, match="dout must have shape"):
        layer.backward(np.ones((2, 5, 3)))


# ---------------------------------------------------------------- LayerNormalization
def naive_layer_norm(x, gamma, beta, eps):
    x = np.asarray(x, np.float64)
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 6), (2, 3, 2, 6)])
def test_layer_norm_is_the_formula(shape, dtype, rng):
    layer = seqnet.LayerNormalization(dtype=dtype)
    x = rng.standard_normal(shape).astype(dtype)
    layer.build(shape[1:])
    gamma, beta = rng.uniform(0.5, 1.5, 6), rng.uniform(-0.5, 0.5, 6)
    layer.load_state_dict({"weight": gamma, "bias": beta})
    out = layer.forward(x)
    assert out.shape == shape and out.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out, naive_layer_norm(x, gamma.astype(dtype),
                                                     beta.astype(dtype), 1e-3),
                               rtol=tol, atol=tol)


def test_layer_norm_float32_statistics_are_stable(rng):
    """A large common offset: E[x^2] - E[x]^2 would lose every digit in float32;
    the two-pass statistics keep float32 close to the float64 result."""
    x = (1e4 + rng.standard_normal((8, 32))).astype(np.float32)
    out32 = seqnet.LayerNormalization(dtype=np.float32).forward(x)
    ref = naive_layer_norm(x.astype(np.float64), 1.0, 0.0, 1e-3)
    np.testing.assert_allclose(out32, ref, rtol=0, atol=2e-3)
    assert np.abs(out32.std(axis=-1) - 1).max() < 1e-2


def test_layer_norm_params_and_options(rng):
    layer = seqnet.LayerNormalization()
    assert layer.params == {} and layer.epsilon == 1e-3
    layer.forward(np.ones((2, 5)))
    assert set(layer.params) == {"weight", "bias"}
    np.testing.assert_array_equal(layer.params["weight"], np.ones(5, np.float32))
    np.testing.assert_array_equal(layer.params["bias"], np.zeros(5, np.float32))
    assert set(seqnet.LayerNormalization(center=False, input_size=3).params) == {"weight"}
    assert set(seqnet.LayerNormalization(scale=False, input_size=3).params) == {"bias"}
    bare = seqnet.LayerNormalization(center=False, scale=False, dtype=np.float64)
    assert not bare.has_weights and bare.built and bare.params == {}
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(bare.forward(x), naive_layer_norm(x, 1.0, 0.0, 1e-3),
                               rtol=1e-13)
    fresh = seqnet.LayerNormalization(scale=False)
    fresh.load_state_dict({"bias": np.arange(4.0)})   # the input size from the state dict
    assert fresh.input_size == 4 and fresh.params["bias"].dtype == np.float32


def test_layer_norm_with_lengths_ignores_padding(rng):
    layer = seqnet.LayerNormalization(input_size=3, dtype=np.float64)
    layer.params["weight"][...] = rng.uniform(0.5, 1.5, 3)
    layer.params["bias"][...] = rng.uniform(-0.5, 0.5, 3)
    clean = rng.standard_normal((3, 4, 3))
    dout = padded(rng.standard_normal((3, 4, 3)), LENGTHS, np.nan)
    x = padded(clean, LENGTHS, np.nan)
    out = layer.forward(x, training=True, lengths=LENGTHS)
    dx = layer.backward(dout)
    valid = valid_mask(LENGTHS, 4)
    assert (out[~valid] == 0).all() and (dx[~valid] == 0).all()
    twin = copy.deepcopy(layer)
    np.testing.assert_allclose(out[valid], twin.forward(clean[valid], training=True),
                               rtol=1e-13)
    np.testing.assert_allclose(dx[valid], twin.backward(dout[valid]), rtol=1e-12, atol=1e-14)
    for k in twin.grads:
        assert np.isfinite(layer.grads[k]).all()
        np.testing.assert_allclose(layer.grads[k], twin.grads[k], rtol=1e-12)
    assert layer.output_lengths(x, LENGTHS) is LENGTHS


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"axis": 1}, ValueError, "axis must be -1"),
    ({"axis": 1.0}, TypeError, "axis must be an integer"),
    ({"epsilon": 0.0}, ValueError, "epsilon must be > 0"),
    ({"epsilon": "1"}, TypeError, "epsilon must be a real number"),
    ({"center": 1}, TypeError, "center must be a bool"),
    ({"scale": None}, TypeError, "scale must be a bool"),
    ({"input_size": 0}, ValueError, "input_size must be a positive integer"),
])
def test_layer_norm_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        seqnet.LayerNormalization(**kwargs)


def test_layer_norm_shape_errors_name_the_layer_and_both_shapes():
    layer = seqnet.LayerNormalization(input_size=4)
    assert layer.output_shape((None, 4)) == (None, 4)
    with pytest.raises(ValueError, match=r"LayerNormalization expects input shape \(\.\.\., "
                                         r"4\) \(input_size=4\), got input shape \(7, 3\)"):
        layer.output_shape((7, 3))
    with pytest.raises(ValueError, match=r"LayerNormalization: x has shape \(2, 7, 3\), 3 "
                                         r"features, .* expected shape \(batch, \.\.\., 4\)"):
        layer.forward(np.ones((2, 7, 3)))
    with pytest.raises(ValueError, match="lengths need a time axis"):
        layer.forward(np.ones((2, 4)), lengths=np.array([1, 1]))
    with pytest.raises(ValueError, match=r"state_dict\['weight'\] must be 1-D"):
        seqnet.LayerNormalization().load_state_dict({"weight": np.ones((2, 2)),
                                                     "bias": np.ones(2)})


# ------------------------------------------------------------------------- Masking
@pytest.mark.parametrize("dtype", DTYPES)
def test_masking_zeroes_padded_steps_and_gives_lengths(dtype, rng):
    layer = seqnet.Masking(mask_value=-1.0)
    x = padded(rng.standard_normal((3, 4, 2)), LENGTHS, -1.0).astype(dtype)
    x[0, 1, 0] = -1.0   # one feature at mask_value does not make a step padding
    out = layer.forward(x, training=True)
    assert out.dtype == dtype
    valid = valid_mask(LENGTHS, 4)
    np.testing.assert_array_equal(out[valid], x[valid])
    assert (out[~valid] == 0).all()
    dout = rng.standard_normal((3, 4, 2))
    dx = layer.backward(dout)
    assert dx.dtype == dtype
    np.testing.assert_array_equal(dx[valid], dout[valid].astype(dtype))
    assert (dx[~valid] == 0).all()
    lengths = layer.output_lengths(x, None)
    assert lengths.tolist() == LENGTHS.tolist() and lengths.dtype == np.int64
    assert layer.output_lengths(x, np.array([1, 1, 1])).tolist() == LENGTHS.tolist()


def test_masking_compares_in_the_inputs_dtype():
    x = np.array([[[1.0], [0.1], [0.1]]], np.float32)
    assert seqnet.Masking(0.1).output_lengths(x, None).tolist() == [1]


@pytest.mark.parametrize("steps, match", [
    ([[1, 0, 2], [1, 1, 1]], r"row 0 is padding at step 1 but has a valid step after it "
                             r"\(step 2\): a hole"),
    ([[1, 1, 1], [0, 2, 2]], r"row 1 is padding at step 0 .*: left padding"),
    ([[1, 1, 0], [0, 0, 0]], r"row 1 is padding from step 0 to its last step 2"),
])
def test_masking_refuses_holes_left_padding_and_empty_rows(steps, match):
    x = np.repeat(np.array(steps, np.float64)[:, :, None], 2, axis=2)
    layer = seqnet.Masking()
    with pytest.raises(ValueError, match=r"^Masking\(mask_value=0.0\): " + match):
        layer.output_lengths(x, None)
    layer.forward(x)   # the output, as Keras's, needs no lengths


def test_masking_errors():
    with pytest.raises(ValueError, match="mask_value must be finite"):
        seqnet.Masking(np.nan)
    with pytest.raises(TypeError, match="mask_value must be a real number"):
        seqnet.Masking("0")
    layer = seqnet.Masking()
    with pytest.raises(ValueError, match=r"Masking expects input shape \(time, features\) .* "
                                         r"got input shape \(5,\)"):
        layer.output_shape((5,))
    assert layer.output_shape((None, 5)) == (None, 5)
    with pytest.raises(ValueError, match=r"Masking: x must be 3-D .* got shape \(2, 5\)"):
        layer.forward(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"Masking: x must be 3-D"):
        layer.output_lengths(np.ones((2, 5)), None)


# ---------------------------------------------------------- Embedding(mask_zero=True)
def test_embedding_mask_zero_lengths():
    tokens = np.array([[3, 1, 4, 0], [2, 0, 0, 0], [1, 2, 3, 4]])
    emb = seqnet.Embedding(5, 2, mask_zero=True, seed=0)
    lengths = emb.output_lengths(tokens, None)
    assert lengths.tolist() == [3, 1, 4] and lengths.dtype == np.int64
    out = emb.forward(tokens)      # the lookup itself, as Keras's (weight[0] at padding)
    np.testing.assert_array_equal(out, emb.params["weight"][tokens])
    given = np.array([1, 1, 1])
    assert seqnet.Embedding(5, 2).output_lengths(tokens, given) is given


@pytest.mark.parametrize("tokens, match", [
    ([[3, 0, 4], [1, 1, 1]], r"row 0 is padding at step 1 .*: a hole"),
    ([[3, 1, 4], [0, 1, 1]], r"row 1 is padding at step 0 .*: left padding"),
    ([[3, 1, 4], [0, 0, 0]], r"row 1 is padding from step 0 to its last step 2"),
])
def test_embedding_mask_zero_refuses_holes_left_padding_and_empty_rows(tokens, match):
    emb = seqnet.Embedding(5, 2, mask_zero=True)
    with pytest.raises(ValueError, match=r"^Embedding\(mask_zero=True\): " + match):
        emb.output_lengths(np.array(tokens), None)


def test_embedding_mask_zero_errors_and_config():
    with pytest.raises(TypeError, match="mask_zero must be a bool"):
        seqnet.Embedding(5, 2, mask_zero=1)
    emb = seqnet.Embedding(5, 2, mask_zero=True)
    with pytest.raises(ValueError, match=r"\(batch, time\) indices, got shape \(2, 2, 2\)"):
        emb.output_lengths(np.ones((2, 2, 2), np.int64), None)
    with pytest.raises(TypeError, match="integer array"):
        emb.output_lengths(np.ones((2, 2)), None)
    assert emb.get_config()["mask_zero"] is True
    assert seqnet.Embedding(5, 2).get_config()["mask_zero"] is False
    old = {"input_dim": 5, "output_dim": 2, "dtype": "float32", "seed": 1}   # before issue 14
    loaded = deserialize({"class": "Embedding", "config": old})
    assert loaded.mask_zero is False


# ---------------------------------------------------------- configs, dtypes, registry
NEW_LAYERS = {
    "repeat": lambda dt: seqnet.RepeatVector(3, dtype=dt, seed=1),
    "time-distributed": lambda dt: seqnet.TimeDistributed(seqnet.Dense(2, input_size=3,
                                                                       dtype=dt, seed=1)),
    "average": lambda dt: seqnet.GlobalAveragePooling1D(dtype=dt),
    "max": lambda dt: seqnet.GlobalMaxPooling1D(dtype=dt, seed=2),
    "layer-norm": lambda dt: seqnet.LayerNormalization(epsilon=1e-5, center=False,
                                                       input_size=3, dtype=dt),
    "masking": lambda dt: seqnet.Masking(0.5, dtype=dt),
    "embedding-mask": lambda dt: seqnet.Embedding(6, 3, mask_zero=True, dtype=dt, seed=1),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(NEW_LAYERS))
def test_config_round_trip(name, dtype):
    layer = NEW_LAYERS[name](dtype)
    spec = json.loads(json.dumps(serialize(layer)))    # JSON-serialisable
    clone = deserialize(spec)
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()
    assert repr(clone) == repr(layer)
    for k, v in layer.params.items():
        np.testing.assert_array_equal(clone.params[k], v)
        assert clone.params[k].dtype == dtype


def test_new_layers_are_registered_and_exported():
    for name in ("RepeatVector", "TimeDistributed", "GlobalAveragePooling1D",
                 "GlobalMaxPooling1D", "LayerNormalization", "Masking"):
        assert seqnet.layers.LAYERS[name] is getattr(seqnet, name)
        assert name in seqnet.__all__ and name in seqnet.layers.__all__


@pytest.mark.parametrize("name", sorted(NEW_LAYERS))
def test_backward_needs_a_training_forward(name):
    layer = NEW_LAYERS[name](np.float64)
    x = (np.array([[1, 2, 0], [3, 0, 0]]) if name == "embedding-mask"
         else np.ones((2, 3)) if name == "repeat" else np.ones((2, 4, 3)))
    out = layer.forward(x)
    with pytest.raises(ValueError, match="training=True"):
        layer.backward(np.ones_like(out))
    layer.forward(x, training=True)
    layer.backward(np.ones_like(out))


def test_time_distributed_in_a_graph_is_built_by_the_graph():
    """Calling TimeDistributed(Dense) on a symbolic tensor plans the inner layer, so
    the model is built before it first runs (as with a bare Dense)."""
    x = seqnet.Input((None, 3))
    td = seqnet.TimeDistributed(seqnet.Dense(4, seed=0))
    model = seqnet.Model(x, td(x))
    assert td.built and td.layer.built and model.built
    assert td.params["weight"].shape == (4, 3)
