"""The layer-normalised LSTM and GRU (``layer_norm=True``) against a NumPy version of
their equations (tests/reference/naive_ln.py), and their kernels' invariants. Their
gradients are in the gradient-check suite (``seqnet.gradcheck.SUITE``)."""

import numpy as np
import pytest

import seqnet
from seqnet import _dispatch
from seqnet.gradcheck import SUITE
from seqnet.kernels import _norm
from tests.reference import naive_ln

CELLS = {"lstm": seqnet.LSTM, "gru": seqnet.GRU}


def _layer(cell, dtype=np.float64, seed=0, **kwargs):
    layer = CELLS[cell](5, input_size=3, layer_norm=True, return_state=True, dtype=dtype,
                        seed=seed, **kwargs)
    rng = np.random.default_rng(seed + 1)
    for p in layer.params.values():   # gains and biases away from their 1 and 0 too
        p[...] = rng.uniform(-1.0, 1.0, p.shape)
    return layer


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cell", list(CELLS))
def test_forward_matches_the_numpy_equations(cell, num_layers, bidirectional):
    """Outputs and final states match the reference within 1e-12 (float64), with
    ragged lengths and a random initial state."""
    layer = _layer(cell, num_layers=num_layers, bidirectional=bidirectional)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 6, 3))
    lengths = np.array([6, 2, 5, 1])
    rows = num_layers * (2 if bidirectional else 1)
    state = tuple(rng.standard_normal((rows, 4, 5)) for _ in layer.state_names)
    out, *fin = layer.forward(x, list(state), lengths=lengths)
    ref_out, ref_fin = naive_ln.run_layer(cell, x, layer.params, num_layers, bidirectional,
                                          state, lengths)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-12)
    for a, b in zip(fin, ref_fin, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", list(CELLS))
def test_parameters_names_shapes_and_initial_values(cell):
    """PyTorch-style names with layer suffixes; gains start at 1, the cell's bias at 0."""
    layer = CELLS[cell](4, input_size=3, layer_norm=True, bidirectional=True, num_layers=2,
                        seed=0)
    G = 4 if cell == "lstm" else 3
    expected = {"layer_norm_ih_weight": (G * 4,), "layer_norm_hh_weight": (G * 4,)}
    if cell == "lstm":
        expected.update({"layer_norm_c_weight": (4,), "layer_norm_c_bias": (4,)})
    for sfx in ("_l0", "_l0_reverse", "_l1", "_l1_reverse"):
        for name, shape in expected.items():
            value = layer.params[name + sfx]
            assert value.shape == shape
            np.testing.assert_array_equal(value, 0.0 if "bias" in name else 1.0)
    assert len(layer.params) == 4 * (4 + len(expected))


@pytest.mark.parametrize("cell", list(CELLS))
def test_float32_serial_parallel_inference_and_index_input(cell):
    """float32 within 1e-5 of float64; serial and parallel kernels agree bit for bit;
    an inference forward gives the training forward's numbers; integer indices give
    what their one-hot encoding gives, gradients too."""
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 3, (5, 7))
    x = np.eye(3)[idx]
    lengths = np.array([7, 3, 5, 1, 6])
    a = _layer(cell, bidirectional=True, num_layers=2)
    out64 = a.forward(x, lengths=lengths)[0]
    b = _layer(cell, np.float32, bidirectional=True, num_layers=2)
    np.testing.assert_allclose(b.forward(x, lengths=lengths)[0], out64, atol=1e-5)
    with _dispatch.parallel_mode("serial"):
        serial = a.forward(x, lengths=lengths, training=True)
        ds = a.backward([np.ones_like(o) for o in serial])
        g_serial = {k: v.copy() for k, v in a.grads.items()}
    with _dispatch.parallel_mode("parallel"):
        par = a.forward(x, lengths=lengths, training=True)
        dp = a.backward([np.ones_like(o) for o in par])
    for u, v in zip([*serial, *ds], [*par, *dp], strict=True):
        np.testing.assert_array_equal(u, v)
    for k, v in g_serial.items():
        np.testing.assert_array_equal(v, a.grads[k])
    np.testing.assert_allclose(a.forward(x, lengths=lengths, training=True)[0], out64,
                               rtol=1e-13, atol=1e-14)
    dx = a.backward([np.ones_like(o) for o in par])   # dx only: no initial state given
    g_onehot = {k: v.copy() for k, v in a.grads.items()}
    np.testing.assert_allclose(a.forward(idx, lengths=lengths, training=True)[0], out64,
                               rtol=1e-12, atol=1e-13)
    assert dx.shape == x.shape
    a.backward([np.ones_like(o) for o in par])   # no input gradient for indices
    for k, v in g_onehot.items():
        np.testing.assert_allclose(a.grads[k], v, rtol=1e-11, atol=1e-12, err_msg=k)


def test_layer_norm_epsilon_is_documented():
    assert _norm.LN_EPS == naive_ln.EPS == 1e-5


def test_unsupported_combinations_are_refused():
    """layer_norm with proj_size (LSTM) and with reset_after=False (GRU) raise a
    ValueError naming both options; layer_norm must be a bool."""
    with pytest.raises(ValueError, match="layer_norm.*proj_size"):
        seqnet.LSTM(4, layer_norm=True, proj_size=2)
    with pytest.raises(ValueError, match="layer_norm.*reset_after"):
        seqnet.GRU(4, layer_norm=True, reset_after=False)
    with pytest.raises(TypeError, match="layer_norm"):
        seqnet.GRU(4, layer_norm=1)


@pytest.mark.parametrize("cell", list(CELLS))
def test_bidirectional_wrapper_and_model_gradients(cell):
    """``Bidirectional(LSTM(..., layer_norm=True))`` runs the fused layer-normalised
    kernel: its parameters include the gains, and a model of it passes the gradient
    check (every parameter, the input)."""
    layer = seqnet.Bidirectional(CELLS[cell](3, layer_norm=True, dtype=np.float64, seed=0),
                                 merge_mode="sum")
    model = seqnet.Sequential([layer, seqnet.Dense(2, dtype=np.float64, seed=1)], seed=2)
    x = np.random.default_rng(4).standard_normal((2, 4, 3))
    model.predict(x)
    assert "layer_norm_hh_weight_l0_reverse" in layer.params
    report = seqnet.check_gradients(model, x)
    assert report.passed(1e-6), (report.worst, report.max_error)


def test_zero_state_error_is_the_central_differences_own():
    """From a zero initial state the recurrent normalisation starts on an all-zero row
    (variance 0, so 1/std = 1/sqrt(eps) ~ 316): its curvature makes the central
    differences' truncation error, O(eps^2), the largest error of the LN cases
    (up to 6.3e-7 in the suite). It is that error, not the analytic gradient's: it
    falls 100-fold when the step falls 10-fold."""
    case = next(c for c in SUITE if c.name == "lstm-L1-bi-seq-layer_norm=True")
    errors = []
    for eps in (1e-5, 1e-6):
        layer = case.make_layer(0)
        x = np.random.default_rng(2).standard_normal((3, 5, 3))
        errors.append(seqnet.check_gradients(layer, x, eps=eps).errors["initial_state[0]"])
    assert 50 < errors[0] / errors[1] < 200, errors
