"""Bad input gets a ValueError or TypeError naming the argument, never a numba error."""

import numpy as np
import pytest

import seqnet
from tests.conftest import CELL_NAMES, make_layer


@pytest.fixture(params=CELL_NAMES)
def layer(request):
    return make_layer(request.param, 4, input_size=3, num_layers=2, bidirectional=True)


X = np.zeros((2, 5, 3))


@pytest.mark.parametrize("bad,exc,pattern", [
    (np.zeros((2, 5)), ValueError, r"x must be 3-D"),
    (np.zeros((2, 5, 3, 1)), ValueError, r"x must be 3-D"),
    (np.zeros((2, 5, 4)), ValueError, r"x has 4 features .* input_size is 3"),
    (np.zeros((2, 5, 3), dtype=np.int64), TypeError, r"x must be a real floating-point"),
    (np.zeros((2, 5, 3), dtype=np.complex128), TypeError, r"x must be a real floating-point"),
    (np.zeros((2, 5, 3), dtype=bool), TypeError, r"x must be a real floating-point"),
    (np.zeros((0, 5, 3)), ValueError, r"at least one batch row"),
    (np.zeros((2, 0, 3)), ValueError, r"at least one .* time step"),
    ("abc", TypeError, r"x must be a real floating-point"),
    ([[["a"]]], TypeError, r"x must be a real floating-point"),
])
def test_bad_x(layer, bad, exc, pattern):
    with pytest.raises(exc, match=pattern):
        layer.forward(bad)


@pytest.mark.parametrize("bad,exc,pattern", [
    (np.array([5, 6]), ValueError, r"lengths must be <= the number of time steps 5"),
    (np.array([5, 0]), ValueError, r"lengths must be >= 1: zero-length"),
    (np.array([5, -1]), ValueError, r"lengths must be >= 1"),
    (np.array([5, 2, 3]), ValueError, r"lengths must have shape \(2,\)"),
    (np.array([[5, 2]]), ValueError, r"lengths must have shape \(2,\)"),
    (np.array([5.0, 2.0]), TypeError, r"lengths must be an integer array"),
    (np.array([True, True]), TypeError, r"lengths must be an integer array"),
])
def test_bad_lengths(layer, bad, exc, pattern):
    with pytest.raises(exc, match=pattern):
        layer.forward(X, lengths=bad)


def test_bad_initial_state(layer):
    good = np.zeros((4, 2, 4))
    if isinstance(layer, seqnet.LSTM):
        with pytest.raises(TypeError, match=r"initial_state must be a tuple \('h', 'c'\)"):
            layer.forward(X, good)
        with pytest.raises(ValueError, match=r"initial_state\[1\] \(c\) must have shape"):
            layer.forward(X, (good, np.zeros((2, 2, 4))))
        with pytest.raises(TypeError, match=r"initial_state\[0\] \(h\) must be a real"):
            layer.forward(X, (good.astype(int), good))
    else:
        with pytest.raises(TypeError, match="initial_state must be one array h"):
            layer.forward(X, (good, good))
        # Keras's convention, initial_state=[h], is the same as h.
        np.testing.assert_array_equal(layer.forward(X, [good + 1])[0],
                                      layer.forward(X, good + 1)[0])
        with pytest.raises(ValueError, match=r"initial_state must have shape \(4, 2, 4\)"):
            layer.forward(X, np.zeros((2, 2, 4)))
        with pytest.raises(ValueError, match=r"initial_state must have shape"):
            layer.forward(X, np.zeros((4, 3, 4)))


def test_backward_before_forward(layer):
    with pytest.raises(ValueError, match=r"backward\(\) needs a forward\(\.\.\., training=True\)"):
        layer.backward(np.zeros((2, 5, 8)))


def test_each_training_forward_feeds_one_backward(layer):
    """backward writes the gate gradients over the cached gates: a second backward
    from the same forward raises instead of reading them; a bad dout does not spend
    the cache, and a new forward makes backward work again, with the same result."""
    dout = np.random.default_rng(0).standard_normal((2, 5, 8))
    layer.forward(X, training=True)
    with pytest.raises(ValueError, match="dout must have shape"):
        layer.backward(dout[:, :, :4])
    dx = layer.backward(dout)
    with pytest.raises(ValueError, match=r"its backward has run"):
        layer.backward(dout)
    layer.forward(X, training=True)
    again = layer.backward(dout)
    np.testing.assert_array_equal(again, dx)


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("shape", [(1, 5, 3), (3, 1, 3), (1, 1, 3)])
def test_backward_leaves_the_returned_output_alone(cell, shape):
    """backward writes gradients over cached activations; the output forward
    returned is never one of them, even when B or T is 1 (where a transpose
    needs no copy) and in a stack, where one layer's output feeds the next."""
    rng = np.random.default_rng(0)
    for num_layers in (1, 2):
        layer = make_layer(cell, 4, input_size=3, num_layers=num_layers)
        out, *_ = layer.forward(rng.standard_normal(shape), training=True)
        kept = out.copy()
        layer.backward(rng.standard_normal(out.shape))
        np.testing.assert_array_equal(out, kept)


def test_bad_dout_and_dstate(layer):
    out, *state = layer.forward(X, training=True)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 5, 8\)"):
        layer.backward(np.zeros((2, 5, 4)))
    with pytest.raises(TypeError, match=r"dout must be a real floating-point"):
        layer.backward(np.zeros((2, 5, 8), dtype=np.int32))
    with pytest.raises((ValueError, TypeError), match=r"dstate"):
        if isinstance(layer, seqnet.LSTM):
            layer.backward([np.zeros_like(out), state[0], np.zeros((1, 2, 4))])
        else:
            layer.backward([np.zeros_like(out), np.zeros((1, 2, 4))])


def test_bad_state_dict(layer):
    sd = layer.state_dict()
    missing = dict(sd)
    del missing["bias_hh_l1_reverse"]
    with pytest.raises(ValueError, match=r"missing \['bias_hh_l1_reverse'\]"):
        layer.load_state_dict(missing)
    extra = dict(sd, weight_ih_l2=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"unexpected entries \['weight_ih_l2'\]"):
        layer.load_state_dict(extra)
    bad_shape = dict(sd, weight_hh_l0=sd["weight_hh_l0"][:, :-1])
    with pytest.raises(ValueError, match=r"state_dict\['weight_hh_l0'\] must have shape"):
        layer.load_state_dict(bad_shape)
    bad_type = dict(sd, bias_ih_l0=np.array(["a"] * sd["bias_ih_l0"].size))
    with pytest.raises(TypeError, match=r"state_dict\['bias_ih_l0'\] must be a real array"):
        layer.load_state_dict(bad_type)
    with pytest.raises(TypeError, match="state_dict must be a mapping"):
        layer.load_state_dict([1, 2])
    for k, v in sd.items():                          # nothing was half-loaded
        np.testing.assert_array_equal(layer.params[k], v)


@pytest.mark.parametrize("kwargs,exc,pattern", [
    ({"hidden_size": 0}, ValueError, "hidden_size must be a positive integer"),
    ({"hidden_size": 2.5}, TypeError, "hidden_size must be a positive integer"),
    ({"hidden_size": 4, "num_layers": 0}, ValueError, "num_layers"),
    ({"hidden_size": 4, "input_size": -1}, ValueError, "input_size"),
    ({"hidden_size": 4, "dropout": 1.0}, ValueError, r"dropout must be in \[0, 1\)"),
    ({"hidden_size": 4, "dropout": "0.1"}, TypeError, "dropout"),
    ({"hidden_size": 4, "dtype": np.int32}, TypeError, "dtype must be np.float32 or np.float64"),
    ({"hidden_size": 4, "dtype": np.float16}, TypeError, "dtype"),
    ({"hidden_size": 4, "bidirectional": "yes"}, TypeError, "bidirectional must be a bool"),
    ({"hidden_size": 4, "seed": 1.5}, TypeError, "seed must be an integer"),
])
def test_bad_constructor_arguments(kwargs, exc, pattern):
    kwargs = dict(kwargs)
    hidden = kwargs.pop("hidden_size")
    with pytest.raises(exc, match=pattern):
        seqnet.LSTM(hidden, **kwargs)


def test_cell_specific_arguments():
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        seqnet.SimpleRNN(3, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match="reset_after must be a bool"):
        seqnet.GRU(3, reset_after="no")


def test_float_input_is_cast_to_layer_dtype():
    """A float64 input to a float32 layer runs in float32 (and vice versa)."""
    layer = seqnet.GRU(3, seed=0, return_state=True)
    out, h = layer.forward(np.ones((1, 2, 2)))
    assert out.dtype == np.float32 and h.dtype == np.float32
    layer64 = seqnet.GRU(3, seed=0, dtype="float64")
    out = layer64.forward(np.ones((1, 2, 2), np.float32))
    assert out.dtype == np.float64


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("index", [False, True])
def test_backward_refuses_an_input_modified_since_forward(cell, index):
    """The layer keeps a reference to x (no copy): modifying x in place between
    forward and backward would silently change dW_ih, so backward raises. Swapping
    two entries is caught too; an untouched x gives the gradients of a fresh run."""
    rng = np.random.default_rng(0)
    layer = make_layer(cell, 4, input_size=3)
    # of the layer's dtype: another dtype is cast, and the layer keeps its own copy.
    x = rng.integers(0, 3, (2, 5)) if index else rng.standard_normal((2, 5, 3)).astype(
        layer.dtype)
    out, *_ = layer.forward(x, training=True)
    dx_ok = layer.backward(np.ones_like(out))
    grads_ok = {k: v.copy() for k, v in layer.grads.items()}
    for modify in ("add", "swap"):
        layer.forward(x, training=True)
        y = x.copy()
        if modify == "add":
            x[1, 2] = x[1, 2] + 1 if not index else (x[1, 2] + 1) % 3
        else:
            x[0, 1], x[1, 3] = x[1, 3].copy(), x[0, 1].copy()
            assert not np.array_equal(x, y), "the swap must change x for the test to mean it"
        with pytest.raises(ValueError, match="x was modified in place"):
            layer.backward(np.ones_like(out))
        with pytest.raises(ValueError, match="needs a forward"):
            layer.backward(np.ones_like(out))   # that cache is gone
        x[...] = y
    layer.forward(x, training=True)
    dx = layer.backward(np.ones_like(out))
    for k, v in layer.grads.items():
        np.testing.assert_array_equal(v, grads_ok[k])
    if not index:
        np.testing.assert_array_equal(dx, dx_ok)
    # a cast input is the layer's own copy: modifying the caller's array is harmless.
    if not index:
        x64 = x.astype(np.float64) if layer.dtype == np.float32 else x.astype(np.float32)
        layer.forward(x64, training=True)
        x64 += 1
        layer.backward(np.ones_like(out))
        for k, v in layer.grads.items():
            np.testing.assert_allclose(v, grads_ok[k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_lengths_reused_by_the_caller_do_not_reach_backward(cell):
    """The layer keeps its own copy of lengths: a caller who reuses the array
    between forward and backward gets the gradients of the forward's lengths."""
    rng = np.random.default_rng(0)
    layer = make_layer(cell, 4, input_size=3)
    x = rng.standard_normal((3, 5, 3)).astype(layer.dtype)
    lengths = np.array([5, 2, 4])
    out, *_ = layer.forward(x, lengths=lengths, training=True)
    dx_ok = layer.backward(np.ones_like(out))
    grads_ok = {k: v.copy() for k, v in layer.grads.items()}
    out, *_ = layer.forward(x, lengths=lengths, training=True)
    lengths[:] = [1, 1, 1]
    dx = layer.backward(np.ones_like(out))
    np.testing.assert_array_equal(dx, dx_ok)
    for k, v in layer.grads.items():
        np.testing.assert_array_equal(v, grads_ok[k])


@pytest.mark.parametrize("make", [
    lambda seed: seqnet.Sequential(seed=seed), lambda seed: seqnet.LSTM(3, seed=seed),
    lambda seed: seqnet.Dense(3, seed=seed), lambda seed: seqnet.Dropout(0.5, seed=seed),
    lambda seed: seqnet.Embedding(4, 2, seed=seed)], ids=["Sequential", "LSTM", "Dense",
                                                          "Dropout", "Embedding"])
def test_seeds_take_any_integer_type_and_a_bad_one_is_named(make):
    """One seed check for every constructor: NumPy's integer types seed as Python's
    do (and stay JSON-serialisable in configs); a float or a negative seed gets an
    error naming seed."""
    import json

    a, b = make(np.int64(7)), make(7)
    assert a.seed == 7 and type(a.seed) is int
    assert a.rng.random() == b.rng.random()
    json.dumps(a.get_config())
    with pytest.raises(TypeError, match="seed must be an integer or None, got 1.5"):
        make(1.5)
    with pytest.raises(ValueError, match="seed must be a non-negative integer.*got -1"):
        make(-1)


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_padding_touches_no_gradient(cell, bad):
    """Steps past a row's length reach no output, no state and no gradient: x with
    NaN or an infinity there gives exactly the outputs, states and gradients of x
    with zeros there (every cell, both directions, two layers), and the caller's x
    is left as it was."""
    rng = np.random.default_rng(0)
    lengths = np.array([6, 3, 3])
    clean = rng.standard_normal((3, 6, 4)).astype(np.float32)
    clean[1:, 3:] = 0.0
    dirty = clean.copy()
    dirty[1:, 3:] = bad
    kept = dirty.copy()
    runs = []
    for x in (clean, dirty):
        layer = make_layer(cell, 8, input_size=4, num_layers=2, bidirectional=True)
        state = [np.zeros((4, 3, 8), np.float32) for _ in layer.state_names]
        out, *final = layer.forward(x, state, lengths=lengths, training=True)
        dx, *dstate = layer.backward([np.ones_like(out), *[np.ones_like(s) for s in final]])
        runs.append((out, final, dx, dstate, dict(layer.grads)))
    (o1, f1, dx1, d1, g1), (o2, f2, dx2, d2, g2) = runs
    np.testing.assert_array_equal(o2, o1)
    np.testing.assert_array_equal(dx2, dx1)
    assert not dx2[1:, 3:].any()
    for a, b in zip(f1 + d1, f2 + d2, strict=True):
        np.testing.assert_array_equal(b, a)
    for k in g1:
        assert np.isfinite(g2[k]).all(), k
        np.testing.assert_array_equal(g2[k], g1[k], err_msg=k)
    np.testing.assert_array_equal(dirty, kept)
