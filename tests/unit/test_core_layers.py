"""The non-recurrent layers: Dense, Dropout, Embedding and Activation.

Gradients are checked in float64 by :func:`seqnet.check_gradients`, which takes
these layers as they are (one layer contract for all; :class:`Adapter` only fixes
Dense's ``logits=True``). PyTorch, when installed, is the oracle for Dense
(``nn.Linear`` plus the activation) and Embedding.
"""

import numpy as np
import pytest

import seqnet
from seqnet import activations
from seqnet.activations import softmax

ACTIVATIONS = ["linear", "tanh", "sigmoid", "relu", "softmax"]
#: the suite's pass mark for a gradient's max-norm relative error (float64).
TOL = 1e-6


class Adapter:
    """A core layer with call options fixed, for check_gradients.

    ``params``, ``grads`` and ``rng`` are read through to the layer on every
    access: Dense builds its parameters on the first forward and every backward
    replaces the arrays in ``grads``. ``forward_kw`` goes to the layer's forward
    (``logits=True`` for Dense).
    """

    state_names = ()

    def __init__(self, layer, **forward_kw):
        self.layer = layer
        self.forward_kw = forward_kw

    @property
    def params(self):
        return self.layer.params

    @property
    def grads(self):
        return self.layer.grads

    @property
    def dtype(self):
        return self.layer.dtype

    @property
    def rng(self):
        return self.layer.rng

    def forward(self, x, *, training=False):
        return self.layer.forward(x, training=training, **self.forward_kw)

    def backward(self, dout):
        return self.layer.backward(dout)


def dense64(units, input_size, activation=None, *, seed=0, use_bias=True):
    """A float64 Dense layer with a non-zero random bias (a zero bias hides bias bugs)."""
    layer = seqnet.Dense(units, activation=activation, input_size=input_size,
                         use_bias=use_bias, dtype=np.float64, seed=seed)
    if use_bias:
        layer.params["bias"][...] = np.random.default_rng(seed + 50).uniform(-0.5, 0.5, units)
    return layer


def assert_passed(report, names):
    """Every tensor in ``names`` was checked and is within TOL."""
    assert set(report.errors) == set(names), report.errors
    assert report.passed(TOL), report.errors


# ----------------------------------------------------------------------------- Dense
@pytest.mark.parametrize("shape", [(4, 3), (3, 4, 3)], ids=["BF", "BTF"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_gradients(activation, shape, rng):
    """weight, bias and x gradients match float64 central differences for every
    activation, on (B, F) and per time step on (B, T, F)."""
    layer = dense64(5, 3, activation, seed=1)
    x = rng.standard_normal(shape)
    if activation == "relu":  # both sides of the kink must be exercised
        z = x @ layer.params["weight"].T + layer.params["bias"]
        assert (z > 0).any() and (z < 0).any()
    report = seqnet.check_gradients(layer, x)
    assert_passed(report, {"weight", "bias", "x"})
    assert report.analytic["x"].shape == shape


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_logits_gradients(activation, rng):
    """forward(logits=True) returns the pre-activation x W^T + b for any activation,
    and backward then takes the logits' gradient."""
    layer = dense64(4, 3, activation, seed=2)
    x = rng.standard_normal((2, 5, 3))
    z = layer.forward(x, logits=True)
    expected = x @ layer.params["weight"].T + layer.params["bias"]
    np.testing.assert_allclose(z, expected, rtol=1e-13, atol=1e-15)
    report = seqnet.check_gradients(Adapter(layer, logits=True), x)
    assert_passed(report, {"weight", "bias", "x"})


def test_dense_softmax_is_softmax_of_logits(rng):
    """The activated output is the activation of the logits."""
    layer = dense64(6, 3, "softmax", seed=3)
    x = rng.standard_normal((4, 3))
    probs = layer.forward(x)
    np.testing.assert_allclose(probs, softmax(layer.forward(x, logits=True)), rtol=1e-14)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-14)


def test_dense_without_bias_gradients(rng):
    """use_bias=False: no bias parameter, and the gradients still check."""
    layer = dense64(3, 4, "tanh", use_bias=False)
    assert set(layer.params) == {"weight"}
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(layer.forward(x), np.tanh(x @ layer.params["weight"].T),
                               rtol=1e-14)
    assert_passed(seqnet.check_gradients(layer, x), {"weight", "x"})


def test_dense_sequence_equals_each_step(rng):
    """On (B, T, F) Dense applies the same map at every time step."""
    layer = dense64(4, 3, "sigmoid", seed=4)
    x = rng.standard_normal((2, 5, 3))
    out = layer.forward(x)
    assert out.shape == (2, 5, 4)
    for t in range(5):
        np.testing.assert_allclose(out[:, t], layer.forward(x[:, t]), rtol=1e-14)


def test_dense_builds_on_first_forward(rng):
    """input_size=None takes the features of the first x, glorot-uniform weights
    (PyTorch's (units, in) layout) and zero biases; then the size holds."""
    layer = seqnet.Dense(7, seed=0)
    assert layer.params == {} and layer.num_parameters == 0
    layer.forward(rng.standard_normal((2, 9)).astype(np.float32))
    assert layer.input_size == 9
    assert layer.params["weight"].shape == (7, 9) and layer.params["weight"].dtype == np.float32
    limit = np.sqrt(6.0 / (9 + 7))
    assert 0.8 * limit < np.abs(layer.params["weight"]).max() <= limit
    np.testing.assert_array_equal(layer.params["bias"], 0.0)
    assert layer.num_parameters == 7 * (9 + 1)
    with pytest.raises(ValueError, match="input_size is 9"):
        layer.forward(np.ones((2, 8), np.float32))


def test_dense_same_seed_same_weights():
    """The seed fixes the initial weights; another seed gives others."""
    a, b, c = (seqnet.Dense(4, input_size=3, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(a.params["weight"], b.params["weight"])
    assert not np.array_equal(a.params["weight"], c.params["weight"])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_matches_torch(activation, rng):
    """Dense equals torch.nn.Linear (same weight and a non-zero bias) followed by the
    activation, forward and every gradient, in float64."""
    torch = pytest.importorskip("torch")
    layer = dense64(5, 4, activation, seed=7)
    x = rng.standard_normal((3, 6, 4))
    dout = rng.standard_normal((3, 6, 5))
    out = layer.forward(x, training=True)
    dx = layer.backward(dout)

    linear = torch.nn.Linear(4, 5).double()
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(layer.params["weight"]))
        linear.bias.copy_(torch.from_numpy(layer.params["bias"]))
    act = {"linear": lambda z: z, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
           "relu": torch.relu, "softmax": lambda z: torch.softmax(z, dim=-1)}[activation]
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = act(linear(xt))
    yt.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.grads["weight"], linear.weight.grad.numpy(),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.grads["bias"], linear.bias.grad.numpy(),
                               rtol=1e-12, atol=1e-14)


def test_dense_dtype_follows_the_layer(rng):
    """A float32 layer computes in float32 whatever float input it gets."""
    layer = seqnet.Dense(3, input_size=2, seed=0)
    out = layer.forward(rng.standard_normal((4, 2)), training=True)
    assert out.dtype == np.float32
    assert layer.backward(np.ones((4, 3))).dtype == np.float32
    assert layer.grads["weight"].dtype == np.float32


# --------------------------------------------------------------------------- Dropout
def test_dropout_surviving_elements_are_scaled_exactly(rng):
    """In training every element is either 0 or x / (1 - rate)."""
    rate = 0.3
    layer = seqnet.Dropout(rate, dtype=np.float64, seed=0)
    x = rng.uniform(0.5, 2.0, (50, 40))  # no zeros in x: a zero out means dropped
    out = layer.forward(x, training=True)
    kept = out != 0
    assert 0 < kept.sum() < x.size
    np.testing.assert_allclose(out[kept], x[kept] / (1 - rate), rtol=1e-15)


def test_dropout_preserves_the_mean_and_drops_rate(rng):
    """Inverted dropout keeps the mean in expectation; the dropped fraction is rate.

    200 000 Bernoulli draws: the standard error of either mean is below 0.0015,
    and the bounds are at more than 6 of them.
    """
    rate = 0.3
    layer = seqnet.Dropout(rate, dtype=np.float64, seed=1)
    out = layer.forward(np.ones((400, 500)), training=True)
    assert abs(out.mean() - 1.0) < 0.01
    assert abs((out == 0).mean() - rate) < 0.01


def test_dropout_seeded_reproducible():
    """The same seed draws the same masks, call after call; another seed others."""
    x = np.ones((8, 16))
    a, b, c = (seqnet.Dropout(0.5, dtype=np.float64, seed=s) for s in (3, 3, 4))
    first = [a.forward(x, training=True) for _ in range(2)]
    second = [b.forward(x, training=True) for _ in range(2)]
    for u, v in zip(first, second, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(first[0], first[1])  # a fresh mask per call
    assert not np.array_equal(first[0], c.forward(x, training=True))


def test_dropout_is_the_identity_in_inference(rng):
    """training=False (the default) returns x unchanged and draws nothing."""
    layer = seqnet.Dropout(0.9, dtype=np.float64, seed=0)
    x = rng.standard_normal((5, 7))
    state = layer.rng.bit_generator.state
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    assert layer.rng.bit_generator.state == state


def test_dropout_rate_zero_is_the_identity_in_training(rng):
    layer = seqnet.Dropout(0.0, dtype=np.float64, seed=0)
    x = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(layer.forward(x, training=True), x)
    np.testing.assert_array_equal(layer.backward(2 * x), 2 * x)


def test_dropout_backward_uses_the_forward_mask(rng):
    """backward multiplies by the last forward's mask: zero where out was dropped,
    dout / (1 - rate) elsewhere; and the gradient checks by central differences
    (check_gradients restores the layer's rng before each forward)."""
    rate = 0.4
    layer = seqnet.Dropout(rate, dtype=np.float64, seed=2)
    x = rng.uniform(0.5, 2.0, (6, 9))
    out = layer.forward(x, training=True)
    dout = rng.uniform(0.5, 2.0, x.shape)
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dx == 0, out == 0)
    np.testing.assert_allclose(dx[out != 0], dout[out != 0] / (1 - rate), rtol=1e-15)
    out2 = layer.forward(x, training=True)  # a new mask replaces the cached one
    assert not np.array_equal(out2 == 0, out == 0)
    np.testing.assert_array_equal(layer.backward(dout) == 0, out2 == 0)
    report = seqnet.check_gradients(layer, rng.standard_normal((4, 5)))
    assert_passed(report, {"x"})


# ------------------------------------------------------------------------- Embedding
def test_embedding_lookup_equals_weight_rows():
    layer = seqnet.Embedding(7, 3, dtype=np.float64, seed=0)
    w = layer.params["weight"]
    assert w.shape == (7, 3)
    assert np.abs(w).max() <= 0.05 and np.abs(w).max() > 0.03  # Keras's uniform(-0.05, 0.05)
    idx = np.array([[0, 6, 2], [2, 2, 5]])
    out = layer.forward(idx)
    assert out.shape == (2, 3, 3)
    for b in range(2):
        for t in range(3):
            np.testing.assert_array_equal(out[b, t], w[idx[b, t]])
    assert layer.output_shape((3,)) == (3, 3)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_embedding_gradient_is_a_scatter_add(dtype, rng):
    """grads["weight"] equals one_hot(x)^T @ dout: repeated indices add up, unseen
    rows get zero; backward returns None (indices have no gradient)."""
    V, D = 6, 4
    layer = seqnet.Embedding(V, D, dtype=np.float64, seed=1)
    idx = np.array([[1, 1, 3], [1, 0, 3]], dtype=dtype)  # 1 thrice, 3 twice, 2/4/5 never
    layer.forward(idx, training=True)
    dout = rng.standard_normal((2, 3, D))
    assert layer.backward(dout) is None
    one_hot = np.eye(V)[idx.reshape(-1)]
    expected = one_hot.T @ dout.reshape(-1, D)
    np.testing.assert_allclose(layer.grads["weight"], expected, rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(layer.grads["weight"][[2, 4, 5]], 0.0)
    np.testing.assert_allclose(layer.grads["weight"][1], dout[0, 0] + dout[0, 1] + dout[1, 0],
                               rtol=1e-14)


def test_embedding_matches_torch(rng):
    torch = pytest.importorskip("torch")
    layer = seqnet.Embedding(5, 3, dtype=np.float64, seed=2)
    idx = rng.integers(0, 5, (4, 6))
    dout = rng.standard_normal((4, 6, 3))
    out = layer.forward(idx, training=True)
    layer.backward(dout)
    emb = torch.nn.Embedding(5, 3).double()
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(layer.params["weight"]))
    yt = emb(torch.from_numpy(idx))
    yt.backward(torch.from_numpy(dout))
    np.testing.assert_array_equal(out, yt.detach().numpy())
    np.testing.assert_allclose(layer.grads["weight"], emb.weight.grad.numpy(), rtol=1e-13,
                               atol=1e-15)


@pytest.mark.parametrize("bad", [[[0, 5]], [[-1, 2]]], ids=["too-large", "negative"])
def test_embedding_out_of_range_raises(bad):
    layer = seqnet.Embedding(5, 2, seed=0)
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        layer.forward(np.array(bad))


@pytest.mark.parametrize("bad", [np.array([[0.0, 1.0]]), np.array([[True, False]])],
                         ids=["float", "bool"])
def test_embedding_non_integer_input_raises(bad):
    layer = seqnet.Embedding(5, 2, seed=0)
    with pytest.raises(TypeError, match="integer"):
        layer.forward(bad)


def test_embedding_backward_checks_dout_shape():
    layer = seqnet.Embedding(5, 2, seed=0)
    layer.forward(np.zeros((2, 3), np.int64), training=True)
    with pytest.raises(ValueError, match="dout"):
        layer.backward(np.zeros((2, 3, 3), np.float32))


# ------------------------------------------------------------------------ Activation
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_layer_forward_and_gradient(activation, rng):
    """Activation(name) computes the named function (as in Dense) and its gradient
    checks by central differences."""
    layer = seqnet.Activation(activation, dtype=np.float64)
    x = rng.standard_normal((3, 4, 5))
    expected = {"linear": x, "tanh": np.tanh(x), "sigmoid": 1 / (1 + np.exp(-x)),
                "relu": np.maximum(x, 0), "softmax": softmax(x)}[activation]
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-14, atol=1e-300)
    assert layer.num_parameters == 0
    assert_passed(seqnet.check_gradients(layer, x), {"x"})


def test_activation_none_is_linear(rng):
    layer = seqnet.Activation(None, dtype=np.float64)
    assert layer.activation == "linear"
    x = rng.standard_normal((2, 3))
    np.testing.assert_array_equal(layer.forward(x), x)


def test_sigmoid_and_softmax_are_stable_for_extreme_inputs():
    """No overflow warning (an error under the test configuration), finite limits."""
    z = np.array([[-1e4, 0.0, 1e4]])
    sig, _ = activations.get("sigmoid")
    np.testing.assert_array_equal(sig(z), [[0.0, 0.5, 1.0]])
    np.testing.assert_array_equal(seqnet.Activation("softmax", dtype=np.float64).forward(z),
                                  [[0.0, 0.0, 1.0]])


# ------------------------------------------------------------------ argument checks
@pytest.mark.parametrize("make, exc, name", [
    (lambda: seqnet.Dense(0), ValueError, "units"),
    (lambda: seqnet.Dense(2.5), TypeError, "units"),
    (lambda: seqnet.Dense(True), TypeError, "units"),
    (lambda: seqnet.Dense(3, activation="swish"), ValueError, "activation"),
    (lambda: seqnet.Dense(3, use_bias=1), TypeError, "use_bias"),
    (lambda: seqnet.Dense(3, input_size=0), ValueError, "input_size"),
    (lambda: seqnet.Dense(3, input_size="4"), TypeError, "input_size"),
    (lambda: seqnet.Dense(3, dtype=np.int32), TypeError, "dtype"),
    (lambda: seqnet.Dense(3, dtype=np.float16), TypeError, "dtype"),
    (lambda: seqnet.Dense(3, seed=1.5), TypeError, "seed"),
    (lambda: seqnet.Dropout(1.0), ValueError, "rate"),
    (lambda: seqnet.Dropout(-0.1), ValueError, "rate"),
    (lambda: seqnet.Dropout(float("nan")), ValueError, "rate"),
    (lambda: seqnet.Dropout("0.5"), TypeError, "rate"),
    (lambda: seqnet.Dropout(True), TypeError, "rate"),
    (lambda: seqnet.Dropout(0.5, seed=True), TypeError, "seed"),
    (lambda: seqnet.Embedding(0, 3), ValueError, "input_dim"),
    (lambda: seqnet.Embedding(3, 0), ValueError, "output_dim"),
    (lambda: seqnet.Embedding(3.0, 2), TypeError, "input_dim"),
    (lambda: seqnet.Activation("gelu"), ValueError, "activation"),
    (lambda: seqnet.Activation("tanh", dtype="int8"), TypeError, "dtype"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_constructor_arguments(make, exc, name):
    with pytest.raises(exc, match=name):
        make()


def test_unknown_activation_lists_the_known_ones():
    with pytest.raises(ValueError, match="softmax") as info:
        seqnet.Dense(3, activation="Tanh")
    for known in ACTIVATIONS:
        assert known in str(info.value)


@pytest.mark.parametrize("x, exc, match", [
    (np.ones(3), ValueError, "features"),                      # 1-D
    (np.ones((2, 3, 4, 5)), ValueError, r"shape \(2, 3, 4, 5\), 5 features"),  # 4-D, F=5
    (np.ones((2, 3), np.int64), TypeError, "floating"),
    (np.ones((2, 5)), ValueError, "input_size is 3"),
])
def test_dense_bad_input(x, exc, match):
    layer = seqnet.Dense(2, input_size=3, seed=0)
    with pytest.raises(exc, match=match):
        layer.forward(x)


def test_dense_backward_checks_dout_shape(rng):
    layer = seqnet.Dense(2, input_size=3, seed=0)
    layer.forward(rng.standard_normal((4, 3)), training=True)
    with pytest.raises(ValueError, match="dout"):
        layer.backward(np.ones((4, 3)))


LAYERS = {
    "dense": (lambda: seqnet.Dense(2, input_size=3, seed=0), np.ones((2, 3))),
    "dropout": (lambda: seqnet.Dropout(0.5, seed=0), np.ones((2, 3))),
    "activation": (lambda: seqnet.Activation("tanh"), np.ones((2, 3))),
    "embedding": (lambda: seqnet.Embedding(4, 2, seed=0), np.zeros((2, 3), np.int64)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_backward_before_forward_raises(name):
    make, x = LAYERS[name]
    layer = make()
    dout = np.ones(layer.output_shape(x.shape[1:]), np.float32)[None].repeat(2, axis=0)
    with pytest.raises(ValueError, match="forward"):
        layer.backward(dout)
    layer.forward(x)  # inference keeps no cache either
    with pytest.raises(ValueError, match="training=True"):
        layer.backward(dout)
    layer.forward(x, training=True)
    layer.backward(dout)  # and now it works


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_config_rebuilds_an_equal_layer(name):
    """get_config round-trips through the constructor (what load_model relies on)."""
    make, _ = LAYERS[name]
    layer = make()
    config = layer.get_config()
    clone = seqnet.layers.deserialize(seqnet.layers.serialize(layer))
    assert type(clone) is type(layer)
    assert clone.get_config() == config
    for k, v in layer.params.items():
        np.testing.assert_array_equal(clone.params[k], v)
