"""Losses: values against direct NumPy formulas, gradients against float64 central
differences, stability on huge logits, masks, sample weights, dtypes, configs and bad
arguments.

PyTorch parity lives in tests/parity/test_torch_losses.py, Keras parity (the binary
cross-entropy, sequences, masks and sample weights) in tests/parity/test_keras_losses.py.
"""

import doctest
import json

import numpy as np
import pytest

import seqnet.losses
from seqnet.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
    from_config,
    get,
    log_softmax,
    mask_from_lengths,
    softmax,
)

#: (batch, classes) and (batch, time, classes).
SHAPES = [(5, 4), (3, 4, 5)]
EPS = 1e-7


# ------------------------------------------------------------------ direct formulas
def naive_log_softmax(z):
    """Row by row, the textbook way (moderate logits only)."""
    out = np.empty_like(z)
    for idx in np.ndindex(z.shape[:-1]):
        row = z[idx]
        out[idx] = row - np.log(np.sum(np.exp(row)))
    return out


def naive_probabilities(p):
    """Keras's rule: normalise each row, then clip to [eps, 1 - eps]."""
    return np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)


def naive_sigmoid(z):
    """1 / (1 + exp(-z)), the textbook way (moderate logits only)."""
    return 1 / (1 + np.exp(-z))


def naive_position_losses(kind, from_logits, y_pred, y_true):
    """The loss at every position (shape y_pred.shape[:-1])."""
    if kind == "mse":
        return np.mean((y_pred - y_true) ** 2, axis=-1)
    if kind == "bce":
        p = naive_sigmoid(y_pred) if from_logits else np.clip(y_pred, EPS, 1 - EPS)
        return -np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p), axis=-1)
    if kind == "sparse":
        y_true = np.eye(y_pred.shape[-1])[y_true]
    logp = naive_log_softmax(y_pred) if from_logits else np.log(naive_probabilities(y_pred))
    return -np.sum(y_true * logp, axis=-1)


def broadcast_weights(w, shape):
    """(B,), (B, T) or (B, 1) weights as one weight per position."""
    w = np.asarray(w, dtype=np.float64)
    return np.broadcast_to(w.reshape(w.shape + (1,) * (len(shape) - w.ndim)), shape)


def naive_mean(losses, mask, sample_weight=None):
    """Keras's "sum_over_batch_size": sum(mask * sample_weight * loss) divided by the
    number of positions, or by the mask's total weight."""
    s = 1.0 if sample_weight is None else broadcast_weights(sample_weight, losses.shape)
    if mask is None:
        return np.sum(s * losses) / losses.size
    w = broadcast_weights(mask, losses.shape)
    return np.sum(w * s * losses) / np.sum(w)


def central_diff(f, x, h=1e-6):
    """d f / d x by float64 central differences, one element at a time."""
    x = np.array(x, dtype=np.float64)
    grad = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        orig = x[idx]
        x[idx] = orig + h
        up = f(x)
        x[idx] = orig - h
        down = f(x)
        x[idx] = orig
        grad[idx] = (up - down) / (2 * h)
    return grad


# ------------------------------------------------------------------------- fixtures
CASES = [
    ("cce-logits", "cce", True),
    ("cce-probs", "cce", False),
    ("sparse-logits", "sparse", True),
    ("sparse-probs", "sparse", False),
    ("bce-logits", "bce", True),
    ("bce-probs", "bce", False),
    ("mse", "mse", None),
]
CASE_IDS = [c[0] for c in CASES]


def make_loss(kind, from_logits):
    if kind == "cce":
        return CategoricalCrossentropy(from_logits=from_logits)
    if kind == "sparse":
        return SparseCategoricalCrossentropy(from_logits=from_logits)
    if kind == "bce":
        return BinaryCrossentropy(from_logits=from_logits)
    return MeanSquaredError()


def make_data(kind, from_logits, shape, seed=0, soft_targets=False):
    """y_pred away from the probability clip bounds, and matching targets."""
    rng = np.random.default_rng(seed)
    C = shape[-1]
    if kind == "mse":
        return rng.standard_normal(shape), rng.standard_normal(shape)
    if kind == "bce":
        # probabilities away from the clip bounds; 0/1 targets, or soft ones
        y_pred = rng.standard_normal(shape) * 2 if from_logits else rng.uniform(0.05, 0.95,
                                                                                  shape)
        y_true = rng.uniform(0, 1, shape) if soft_targets else rng.integers(0, 2, shape)
        return y_pred, y_true.astype(np.float64)
    # probabilities: positive, unnormalised rows (normalisation is part of the loss)
    y_pred = rng.standard_normal(shape) * 2 if from_logits else rng.uniform(0.2, 1.0, shape)
    labels = rng.integers(0, C, shape[:-1])
    if kind == "sparse":
        return y_pred, labels
    if soft_targets:
        return y_pred, rng.dirichlet(np.ones(C), shape[:-1])
    return y_pred, np.eye(C)[labels]


def make_mask(kind, shape, seed=1):
    rng = np.random.default_rng(seed)
    if kind is None:
        return None
    if kind == "batch":
        w = rng.uniform(0.5, 2.0, shape[:1])
        w[0] = 0.0
        return w
    w = rng.uniform(0.5, 2.0, shape[:-1])
    w.flat[1] = 0.0
    return w


MASKS = [None, "batch", "positions"]


# --------------------------------------------------------------------------- values
@pytest.mark.parametrize("name,kind,from_logits", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "3d"])
@pytest.mark.parametrize("mask_kind", MASKS, ids=["nomask", "mask-B", "mask-BT"])
def test_loss_value_matches_numpy_formula(name, kind, from_logits, shape, mask_kind):
    y_pred, y_true = make_data(kind, from_logits, shape)
    mask = make_mask(mask_kind, shape)
    loss = make_loss(kind, from_logits)
    value = loss.forward(y_pred, y_true, mask)
    assert isinstance(value, float)
    expected = naive_mean(naive_position_losses(kind, from_logits, y_pred, y_true), mask)
    np.testing.assert_allclose(value, expected, rtol=1e-13)


def test_loss_categorical_soft_targets_value():
    y_pred, y_true = make_data("cce", True, (4, 3, 5), soft_targets=True)
    for from_logits in (True, False):
        got = CategoricalCrossentropy(from_logits).forward(y_pred if from_logits
                                                           else np.exp(y_pred), y_true)
        p = y_pred if from_logits else np.exp(y_pred)
        expected = naive_position_losses("cce", from_logits, p, y_true).mean()
        np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_loss_probabilities_are_normalised_and_clipped_as_keras():
    """Rows are divided by their sum, then clipped to [1e-7, 1 - 1e-7]."""
    loss = CategoricalCrossentropy()
    # unnormalised row: (2, 6) -> (0.25, 0.75)
    assert loss.forward(np.array([[2.0, 6.0]]), np.array([[1.0, 0.0]])) == pytest.approx(
        -np.log(0.25), rel=1e-15)
    # a zero probability costs -log(1e-7), not inf
    assert loss.forward(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]])) == pytest.approx(
        -np.log(1e-7), rel=1e-15)
    # a certain, correct prediction costs -log(1 - 1e-7), not 0
    assert loss.forward(np.array([[0.0, 1.0]]), np.array([[0.0, 1.0]])) == pytest.approx(
        -np.log(1 - 1e-7), rel=1e-9)
    sparse = SparseCategoricalCrossentropy()
    assert sparse.forward(np.array([[0.0, 1.0]]), np.array([0])) == pytest.approx(
        -np.log(1e-7), rel=1e-15)


# ------------------------------------------------------------------------ gradients
@pytest.mark.parametrize("name,kind,from_logits", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "3d"])
@pytest.mark.parametrize("mask_kind", MASKS, ids=["nomask", "mask-B", "mask-BT"])
def test_loss_gradient_matches_central_differences(name, kind, from_logits, shape, mask_kind):
    """Every element of dy_pred, float64, against central differences."""
    y_pred, y_true = make_data(kind, from_logits, shape, seed=3)
    mask = make_mask(mask_kind, shape)
    loss = make_loss(kind, from_logits)
    loss.forward(y_pred, y_true, mask)
    grad = loss.backward()
    assert grad.shape == y_pred.shape and grad.dtype == np.float64

    def f(x):
        return make_loss(kind, from_logits).forward(x, y_true, mask)

    numeric = central_diff(f, y_pred)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("from_logits", [True, False], ids=["logits", "probs"])
def test_loss_categorical_soft_target_gradient(from_logits):
    y_pred, y_true = make_data("cce", from_logits, (3, 2, 4), seed=5, soft_targets=True)
    y_true = y_true * 0.8          # rows that do not sum to 1: softmax * sum(y) - y
    loss = CategoricalCrossentropy(from_logits)
    loss.forward(y_pred, y_true)
    numeric = central_diff(lambda x: CategoricalCrossentropy(from_logits).forward(x, y_true),
                           y_pred)
    np.testing.assert_allclose(loss.backward(), numeric, rtol=1e-6, atol=1e-9)


def test_loss_probability_gradient_is_zero_where_clipped():
    """The clip passes no gradient outside [eps, 1 - eps] (TensorFlow's rule)."""
    loss = SparseCategoricalCrossentropy()
    loss.forward(np.array([[1e-9, 1.0, 1.0]]), np.array([0]))
    np.testing.assert_array_equal(loss.backward(), 0.0)


@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "categorical"])
@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "3d"])
def test_loss_logits_gradient_is_exactly_softmax_minus_y_over_n(sparse, shape):
    y_pred, onehot = make_data("cce", True, shape, seed=7)
    loss = (SparseCategoricalCrossentropy(True) if sparse else CategoricalCrossentropy(True))
    loss.forward(y_pred, onehot.argmax(-1) if sparse else onehot)
    N = np.prod(shape[:-1])
    np.testing.assert_array_equal(loss.backward(), (softmax(y_pred) - onehot) / N)


# ------------------------------------------------------------------------ stability
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "categorical"])
def test_loss_huge_logits_are_stable(dtype, sparse):
    """Logits of +-1e4: finite loss, finite and exact gradient, no warnings."""
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], dtype)
    labels = np.array([1, 2, 0])
    onehot = np.eye(3, dtype=dtype)[labels]
    loss = (SparseCategoricalCrossentropy(True) if sparse else CategoricalCrossentropy(True))
    value = loss.forward(z, labels if sparse else onehot)
    # row 0: the true logit is 2e4 below the top one; row 1: correct; row 2: a tie
    expected = (2e4 + 0.0 + np.log(2.0)) / 3
    assert np.isfinite(value)
    np.testing.assert_allclose(value, expected, rtol=1e-6 if dtype == np.float32 else 1e-15)
    grad = loss.backward()
    assert grad.dtype == dtype and np.all(np.isfinite(grad))
    p = np.array([[1, 0, 0], [0, 0, 1], [0.5, 0.5, 0]], dtype)
    np.testing.assert_array_equal(grad, (p - onehot) / dtype(3))


def test_softmax_and_log_softmax_stable_and_match_naive():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 4, 5))
    np.testing.assert_allclose(log_softmax(z), naive_log_softmax(z), rtol=1e-13)
    np.testing.assert_allclose(softmax(z), np.exp(naive_log_softmax(z)), rtol=1e-13)
    np.testing.assert_allclose(softmax(z, axis=1).sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(log_softmax(z, axis=0),
                               np.moveaxis(naive_log_softmax(np.moveaxis(z, 0, -1)), -1, 0),
                               rtol=1e-13)
    for dtype in (np.float32, np.float64):
        big = np.array([[1e4, -1e4, 0.0]], dtype)
        assert softmax(big).dtype == dtype and log_softmax(big).dtype == dtype
        np.testing.assert_array_equal(softmax(big), [[1, 0, 0]])
        np.testing.assert_array_equal(log_softmax(big), [[0, -2e4, -1e4]])


# ----------------------------------------------------------------- sparse == dense
@pytest.mark.parametrize("from_logits", [True, False], ids=["logits", "probs"])
@pytest.mark.parametrize("mask_kind", MASKS, ids=["nomask", "mask-B", "mask-BT"])
def test_loss_sparse_equals_categorical_with_one_hot(from_logits, mask_kind):
    shape = (3, 4, 5)
    y_pred, labels = make_data("sparse", from_logits, shape, seed=11)
    mask = make_mask(mask_kind, shape)
    sparse = SparseCategoricalCrossentropy(from_logits)
    dense = CategoricalCrossentropy(from_logits)
    a = sparse.forward(y_pred, labels, mask)
    b = dense.forward(y_pred, np.eye(5)[labels], mask)
    np.testing.assert_allclose(a, b, rtol=1e-14)
    np.testing.assert_allclose(sparse.backward(), dense.backward(), rtol=1e-13, atol=1e-16)


def test_loss_sparse_accepts_keras_trailing_axis():
    y_pred, labels = make_data("sparse", True, (4, 3, 6), seed=2)
    loss = SparseCategoricalCrossentropy(True)
    assert loss.forward(y_pred, labels[..., None]) == loss.forward(y_pred, labels)


# ---------------------------------------------------------------------------- masks
@pytest.mark.parametrize("name,kind,from_logits", CASES, ids=CASE_IDS)
def test_loss_masked_positions_are_ignored(name, kind, from_logits):
    """Garbage (NaN, inf, bad labels) at zero-weight positions changes nothing."""
    shape = (3, 4, 5)
    y_pred, y_true = make_data(kind, from_logits, shape, seed=4)
    mask = np.ones(shape[:-1])
    mask[0, 2:] = 0
    mask[2, 3] = 0
    off = mask == 0
    garbage_pred = y_pred.copy()
    garbage_pred[off] = np.nan
    garbage_pred[0, 3, 0] = np.inf
    garbage_true = y_true.copy()
    garbage_true[off] = -7 if kind == "sparse" else np.nan
    clean, dirty = make_loss(kind, from_logits), make_loss(kind, from_logits)
    assert clean.forward(y_pred, y_true, mask) == dirty.forward(garbage_pred, garbage_true,
                                                                 mask)
    g = dirty.backward()
    np.testing.assert_array_equal(g, clean.backward())
    np.testing.assert_array_equal(g[off], 0.0)
    # and the masked mean is the plain mean over the kept positions
    kept = make_loss(kind, from_logits).forward(y_pred[~off], y_true[~off])
    np.testing.assert_allclose(clean.forward(y_pred, y_true, mask), kept, rtol=1e-14)


def test_loss_mask_forms_agree():
    """(B,) broadcasts over time; bool == 0/1; integer weight 2 == a duplicated row."""
    shape = (3, 4, 5)
    y_pred, y_true = make_data("cce", True, shape, seed=6)
    loss = CategoricalCrossentropy(True)
    per_seq = np.array([1.0, 0.0, 2.0])
    a = loss.forward(y_pred, y_true, per_seq)
    ga = loss.backward()
    b = loss.forward(y_pred, y_true, np.repeat(per_seq[:, None], 4, axis=1))
    np.testing.assert_allclose(a, b, rtol=1e-15)
    np.testing.assert_allclose(ga, loss.backward(), rtol=1e-15)
    np.testing.assert_allclose(loss.forward(y_pred, y_true, per_seq[:, None]), a, rtol=1e-15)
    bool_mask = np.array([[True, False, True, True]] * 3)
    assert loss.forward(y_pred, y_true, bool_mask) == loss.forward(
        y_pred, y_true, bool_mask.astype(np.float64))
    dup_pred = np.concatenate([y_pred, y_pred[2:]])
    dup_true = np.concatenate([y_true, y_true[2:]])
    c = loss.forward(dup_pred, dup_true, np.array([1, 0, 1, 1]))
    np.testing.assert_allclose(a, c, rtol=1e-14)


# ---------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("name,kind,from_logits", CASES, ids=CASE_IDS)
def test_loss_float32_close_to_float64_and_keeps_dtype(name, kind, from_logits):
    shape = (3, 4, 5)
    y_pred, y_true = make_data(kind, from_logits, shape, seed=8)
    mask = make_mask("positions", shape)
    l64, l32 = make_loss(kind, from_logits), make_loss(kind, from_logits)
    v64 = l64.forward(y_pred, y_true, mask)
    v32 = l32.forward(y_pred.astype(np.float32), y_true, mask)
    np.testing.assert_allclose(v32, v64, rtol=1e-5)
    g32 = l32.backward()
    assert g32.dtype == np.float32 and l64.backward().dtype == np.float64
    np.testing.assert_allclose(g32, l64.backward(), rtol=1e-4, atol=1e-6)


def test_loss_float64_is_never_downgraded():
    """A difference of 1e-10 squared is 1e-20 in float64 and 0 in float32."""
    y_pred = np.full((2, 3), 1.0 + 1e-10)
    value = MeanSquaredError().forward(y_pred, np.ones((2, 3), np.float32))
    np.testing.assert_allclose(value, (y_pred[0, 0] - 1.0) ** 2, rtol=1e-12)
    z = np.array([[0.0, 1e-12]])
    loss = CategoricalCrossentropy(True)
    assert loss.forward(z, np.array([[1.0, 0.0]])) != loss.forward(z, np.array([[0.0, 1.0]]))


# --------------------------------------------------------------------- config, get
@pytest.mark.parametrize("loss", [CategoricalCrossentropy(), CategoricalCrossentropy(True),
                                  SparseCategoricalCrossentropy(True), MeanSquaredError()],
                         ids=repr)
def test_loss_config_round_trip(loss):
    config = loss.get_config()
    assert config["name"] == loss.name
    rebuilt = from_config(json.loads(json.dumps(config)))
    assert type(rebuilt) is type(loss) and rebuilt.get_config() == config
    assert get(config).get_config() == config


@pytest.mark.parametrize("name,cls", [
    ("categorical_crossentropy", CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", SparseCategoricalCrossentropy),
    ("mse", MeanSquaredError),
    ("mean_squared_error", MeanSquaredError),
    ("SparseCategoricalCrossentropy", SparseCategoricalCrossentropy),
])
def test_loss_get_by_name(name, cls):
    loss = get(name)
    assert type(loss) is cls
    assert getattr(loss, "from_logits", False) is False


def test_loss_get_returns_instances_unchanged():
    loss = CategoricalCrossentropy(from_logits=True)
    assert get(loss) is loss


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call,exc,pattern", [
    (lambda: get("cross_entropy"), ValueError,
     r"unknown loss 'cross_entropy'.*'categorical_crossentropy'.*'mse'"),
    (lambda: get(3), TypeError, r"identifier must be a Loss"),
    (lambda: from_config({"from_logits": True}), ValueError, r"config must have a 'name'"),
    (lambda: from_config({"name": "mse", "from_logits": True}), ValueError,
     r"unexpected entries \['from_logits'\] for 'mean_squared_error'"),
    (lambda: from_config(["mse"]), TypeError, r"config must be a dict"),
    (lambda: CategoricalCrossentropy(from_logits="yes"), TypeError, r"from_logits must be a bool"),
    (lambda: softmax(np.arange(3)), TypeError, r"z must be a real floating-point"),
    (lambda: softmax(np.zeros(3), axis=1), ValueError, r"axis must be in \[-1, 1\)"),
    (lambda: log_softmax(np.zeros(3), axis=0.0), TypeError, r"axis must be an integer"),
    (lambda: log_softmax(np.zeros((2, 0))), ValueError, r"z must have at least one entry"),
    (lambda: softmax(np.float64(1.0)), ValueError, r"z must have at least one dimension"),
])
def test_loss_bad_arguments_raise_naming_them(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


Z = np.zeros((2, 3, 4))
ONEHOT = np.eye(4)[np.zeros((2, 3), int)]
LABELS = np.zeros((2, 3), int)


@pytest.mark.parametrize("loss,args,exc,pattern", [
    (MeanSquaredError(), (np.zeros((2, 3), int), np.zeros((2, 3))), TypeError,
     r"y_pred must be a real floating-point"),
    (MeanSquaredError(), (np.zeros((2, 3), np.float16), np.zeros((2, 3))), TypeError,
     r"y_pred must be np.float32 or np.float64"),
    (MeanSquaredError(), (np.zeros(3), np.zeros(3)), ValueError, r"y_pred must be at least 2-D"),
    (MeanSquaredError(), (np.zeros((0, 3)), np.zeros((0, 3))), ValueError,
     r"y_pred must not be empty"),
    (MeanSquaredError(), (Z, np.zeros((2, 3))), ValueError,
     r"y_true must have shape \(2, 3, 4\) \(the shape of y_pred\)"),
    (MeanSquaredError(), (Z, np.full(Z.shape, "a")), TypeError, r"y_true must be a real"),
    (CategoricalCrossentropy(), (Z, LABELS), ValueError, r"y_true must have shape \(2, 3, 4\)"),
    (SparseCategoricalCrossentropy(), (Z, LABELS.astype(float)), TypeError,
     r"y_true must be an integer array.*astype\(np.int64\)"),
    (SparseCategoricalCrossentropy(), (Z, ONEHOT), TypeError, r"y_true must be an integer"),
    (SparseCategoricalCrossentropy(), (Z, LABELS[:, :2]), ValueError,
     r"y_true must have shape \(2, 3\)"),
    (SparseCategoricalCrossentropy(), (Z, LABELS + 4), ValueError,
     r"class indices in \[0, 4\).*got 4"),
    (SparseCategoricalCrossentropy(True), (Z, LABELS - 1), ValueError,
     r"class indices in \[0, 4\).*got -1"),
    (SparseCategoricalCrossentropy(True), (Z, LABELS - 1, np.array([1, 0])), ValueError,
     r"got -1 at an unmasked position"),
    (MeanSquaredError(), (Z, Z, np.ones(3)), ValueError,
     r"mask must have shape \(2,\) or \(2, 3\)"),
    (MeanSquaredError(), (Z, Z, np.ones((2, 3, 4))), ValueError, r"mask must have shape"),
    (MeanSquaredError(), (Z, Z, np.zeros(2)), ValueError, r"mask must have at least one positive"),
    (MeanSquaredError(), (Z, Z, np.array([1.0, -1.0])), ValueError, r"mask must be non-negative"),
    (MeanSquaredError(), (Z, Z, np.array([1.0, np.nan])), ValueError, r"mask must be finite"),
    (MeanSquaredError(), (Z, Z, np.array(["a", "b"])), TypeError, r"mask must be a real"),
    (BinaryCrossentropy(), (Z, Z[..., 0]), ValueError,
     r"y_true must have shape \(2, 3, 4\) \(the shape of y_pred\)"),
    (BinaryCrossentropy(), (Z[..., :1], Z[..., 0][:, :2]), ValueError,
     r"y_true must have shape \(2, 3, 1\) \(the shape of y_pred, or \(2, 3\)\)"),
    (BinaryCrossentropy(), (Z, Z + 2), ValueError, r"y_true must hold targets in \[0, 1\], got 2"),
    (BinaryCrossentropy(True), (Z, Z - 0.5), ValueError, r"targets in \[0, 1\], got -0.5"),
    (BinaryCrossentropy(True), (Z, np.full(Z.shape, np.nan)), ValueError,
     r"targets in \[0, 1\], got nan"),
    (BinaryCrossentropy(), (Z, np.full(Z.shape, "a")), TypeError,
     r"y_true must be a real numeric or bool array of targets in \[0, 1\]"),
    (BinaryCrossentropy(), (np.zeros(3), np.zeros(3)), ValueError, r"y_pred must be at least 2-D"),
])
def test_loss_bad_forward_arguments(loss, args, exc, pattern):
    with pytest.raises(exc, match=pattern):
        loss.forward(*args)


def test_loss_backward_before_forward_raises():
    with pytest.raises(ValueError, match=r"backward\(\) needs a forward\(\) first"):
        MeanSquaredError().backward()


def test_loss_docstring_examples_run():
    result = doctest.testmod(seqnet.losses, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------------------ the binary cross-entropy
@pytest.mark.parametrize("from_logits", [True, False], ids=["logits", "probs"])
@pytest.mark.parametrize("shape", [(6, 1), (5, 3), (3, 4, 2)], ids=["B1", "BK", "BTK"])
def test_bce_soft_targets_value_and_gradient(from_logits, shape):
    """Soft targets in [0, 1], one output, multi-label and sequences."""
    y_pred, y_true = make_data("bce", from_logits, shape, seed=12, soft_targets=True)
    loss = BinaryCrossentropy(from_logits)
    value = loss.forward(y_pred, y_true)
    np.testing.assert_allclose(
        value, naive_position_losses("bce", from_logits, y_pred, y_true).mean(), rtol=1e-13)
    numeric = central_diff(lambda x: BinaryCrossentropy(from_logits).forward(x, y_true), y_pred)
    np.testing.assert_allclose(loss.backward(), numeric, rtol=1e-6, atol=1e-9)


def test_bce_logits_gradient_is_exactly_sigmoid_minus_y_over_n_k():
    y_pred, y_true = make_data("bce", True, (3, 4, 2), seed=13)
    loss = BinaryCrossentropy(from_logits=True)
    loss.forward(y_pred, y_true)
    expected = (naive_sigmoid(y_pred) - y_true) / (3 * 4 * 2)
    np.testing.assert_allclose(loss.backward(), expected, rtol=1e-14, atol=1e-17)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_huge_logits_are_stable(dtype):
    """Logits of +-1e4 (and 80, past float32's exp overflow): finite and exact, no
    warnings (warnings are errors here)."""
    z = np.array([[1e4], [-1e4], [1e4], [-1e4], [0.0], [-80.0], [80.0]], dtype)
    y = np.array([0, 1, 1, 0, 1, 1, 0])
    loss = BinaryCrossentropy(from_logits=True)
    value = loss.forward(z, y)
    expected = (1e4 + 1e4 + 0 + 0 + np.log(2.0) + 80 + 80) / 7
    np.testing.assert_allclose(value, expected, rtol=1e-6 if dtype == np.float32 else 1e-15)
    grad = loss.backward()
    assert grad.dtype == dtype and np.all(np.isfinite(grad))
    sig = np.array([1, 0, 1, 0, 0.5, np.exp(-80.0), 1], np.float64)
    np.testing.assert_allclose(grad[:, 0], (sig - y) / 7, rtol=1e-6, atol=1e-30)


def test_bce_probabilities_clipped_as_keras():
    """p is clipped to [1e-7, 1 - 1e-7]: a certain wrong answer costs -log(1e-7), and
    the clip passes no gradient outside its bounds."""
    loss = BinaryCrossentropy()
    assert loss.forward(np.array([[0.0], [1.0]]), np.array([1, 0])) == pytest.approx(
        -np.log(1e-7), rel=1e-9)
    np.testing.assert_array_equal(loss.backward(), 0.0)
    assert loss.forward(np.array([[1.0]]), np.array([1])) == pytest.approx(
        -np.log(1 - 1e-7), rel=1e-9)


def test_bce_target_forms_agree():
    """(B,) targets for (B, 1) predictions; bool, int and float targets."""
    y_pred, y_true = make_data("bce", True, (5, 1), seed=14)
    loss = BinaryCrossentropy(True)
    a = loss.forward(y_pred, y_true)
    assert loss.forward(y_pred, y_true[:, 0]) == a
    assert loss.forward(y_pred, y_true.astype(bool)) == a
    assert loss.forward(y_pred, y_true.astype(np.int32)) == a
    y_pred3, y_true3 = make_data("bce", True, (2, 3, 1), seed=15)
    assert loss.forward(y_pred3, y_true3[..., 0]) == loss.forward(y_pred3, y_true3)


def test_bce_multilabel_is_the_mean_over_labels():
    """Keras averages over the last axis first: K labels == K single-output rows."""
    y_pred, y_true = make_data("bce", True, (4, 3), seed=16)
    loss = BinaryCrossentropy(True)
    np.testing.assert_allclose(loss.forward(y_pred, y_true),
                               loss.forward(y_pred.reshape(12, 1), y_true.reshape(12)),
                               rtol=1e-14)


# ---------------------------------------------------------------- sample weights
SAMPLE_WEIGHTS = [None, "B", "BT", "B1", "zeros-somewhere"]


def make_sample_weight(kind, shape, seed=2):
    rng = np.random.default_rng(seed)
    if kind is None:
        return None
    if kind == "B":
        return rng.uniform(0.2, 3.0, shape[:1])
    if kind == "B1":
        return rng.uniform(0.2, 3.0, shape[:1] + (1,) * (len(shape) - 2))
    w = rng.uniform(0.2, 3.0, shape[:-1])
    if kind == "zeros-somewhere":
        w.flat[::3] = 0.0
    return w


@pytest.mark.parametrize("name,kind,from_logits", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "3d"])
@pytest.mark.parametrize("mask_kind", MASKS, ids=["nomask", "mask-B", "mask-BT"])
@pytest.mark.parametrize("sw_kind", SAMPLE_WEIGHTS[1:])
def test_loss_sample_weight_value_and_gradient(name, kind, from_logits, shape, mask_kind,
                                               sw_kind):
    """sum(mask * sample_weight * loss) / (N or sum(mask)); dy_pred against float64
    central differences."""
    y_pred, y_true = make_data(kind, from_logits, shape, seed=21)
    mask = make_mask(mask_kind, shape)
    sw = make_sample_weight(sw_kind, shape)
    loss = make_loss(kind, from_logits)
    value = loss.forward(y_pred, y_true, mask, sample_weight=sw)
    expected = naive_mean(naive_position_losses(kind, from_logits, y_pred, y_true), mask, sw)
    np.testing.assert_allclose(value, expected, rtol=1e-13)
    grad = loss.backward()

    def f(x):
        return make_loss(kind, from_logits).forward(x, y_true, mask, sample_weight=sw)

    np.testing.assert_allclose(grad, central_diff(f, y_pred), rtol=1e-6, atol=1e-9)


def test_loss_sample_weight_scales_and_is_not_divided_out():
    """Keras's "sum_over_batch_size": weights of 0.5 halve the loss (with or without a
    mask); the denominator counts positions (or the mask), not sample weights."""
    y_pred, y_true = make_data("cce", True, (3, 4, 5), seed=22)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], bool)
    loss = CategoricalCrossentropy(True)
    for m in (None, mask):
        plain = loss.forward(y_pred, y_true, m)
        g = loss.backward()
        np.testing.assert_allclose(loss.forward(y_pred, y_true, m, sample_weight=np.full(3, 0.5)),
                                   plain / 2, rtol=1e-14)
        np.testing.assert_allclose(loss.backward(), g / 2, rtol=1e-14)
    # a weight of 2 on a row counts it twice in the numerator, once in the denominator
    sw = np.array([2.0, 1.0, 1.0])
    pos = naive_position_losses("cce", True, y_pred, y_true)
    expected = (2 * pos[0, :2].sum() + pos[1].sum() + pos[2, 0]) / 7
    np.testing.assert_allclose(loss.forward(y_pred, y_true, mask, sample_weight=sw), expected,
                               rtol=1e-14)


@pytest.mark.parametrize("name,kind,from_logits", CASES, ids=CASE_IDS)
def test_loss_zero_sample_weight_positions_are_ignored(name, kind, from_logits):
    """Garbage where the sample weight is 0 changes nothing and gets no gradient; all
    zero weights give a loss of 0 (Keras's divide-no-nan), not an error."""
    shape = (3, 4, 5)
    y_pred, y_true = make_data(kind, from_logits, shape, seed=23)
    sw = np.ones(shape[:-1])
    sw[1, 1:] = 0
    off = sw == 0
    garbage_pred, garbage_true = y_pred.copy(), y_true.copy()
    garbage_pred[off] = np.nan
    garbage_true[off] = -7 if kind == "sparse" else np.nan
    clean, dirty = make_loss(kind, from_logits), make_loss(kind, from_logits)
    assert clean.forward(y_pred, y_true, sample_weight=sw) == dirty.forward(
        garbage_pred, garbage_true, sample_weight=sw)
    g = dirty.backward()
    np.testing.assert_array_equal(g, clean.backward())
    np.testing.assert_array_equal(g[off], 0.0)
    zero = make_loss(kind, from_logits)
    assert zero.forward(y_pred, y_true, sample_weight=np.zeros(3)) == 0.0
    np.testing.assert_array_equal(zero.backward(), 0.0)


def test_loss_sample_weight_forms_agree_and_keep_float32():
    y_pred, y_true = make_data("sparse", True, (3, 4, 5), seed=24)
    loss = SparseCategoricalCrossentropy(True)
    sw = np.array([0.5, 2.0, 1.0])
    a = loss.forward(y_pred, y_true, sample_weight=sw)
    assert loss.forward(y_pred, y_true, sample_weight=sw[:, None]) == a
    assert loss.forward(y_pred, y_true, sample_weight=np.repeat(sw[:, None], 4, 1)) == a
    assert loss.forward(y_pred, y_true, sample_weight=np.array([1, 0, 1], bool)) == \
        loss.forward(y_pred, y_true, sample_weight=np.array([1.0, 0.0, 1.0]))
    y32 = y_pred.astype(np.float32)
    v32 = loss.forward(y32, y_true, sample_weight=sw.astype(np.float64))
    assert loss.backward().dtype == np.float32
    np.testing.assert_allclose(v32, a, rtol=1e-6)


@pytest.mark.parametrize("args,exc,pattern", [
    ((Z, Z, None, np.ones(3)), ValueError,
     r"sample_weight must have shape \(2,\) or \(2, 3\) \(y_pred has shape \(2, 3, 4\)\) "
     r"or Keras's \(2, 1\), got \(3,\)"),
    ((Z, Z, None, np.ones((2, 3, 4))), ValueError, r"sample_weight must have shape"),
    ((Z, Z, None, np.array([1.0, -1.0])), ValueError, r"sample_weight must be non-negative"),
    ((Z, Z, None, np.array([1.0, np.inf])), ValueError, r"sample_weight must be finite"),
    ((Z, Z, None, np.array(["a", "b"])), TypeError, r"sample_weight must be a real numeric"),
])
def test_loss_bad_sample_weight(args, exc, pattern):
    with pytest.raises(exc, match=pattern):
        MeanSquaredError().forward(*args[:3], sample_weight=args[3])


# ------------------------------------------------------------- mask_from_lengths
def test_mask_from_lengths_marks_the_valid_steps():
    m = mask_from_lengths(np.array([3, 0, 5, 1]), 5)
    assert m.dtype == bool and m.shape == (4, 5)
    np.testing.assert_array_equal(m.sum(1), [3, 0, 5, 1])
    np.testing.assert_array_equal(m[0], [1, 1, 1, 0, 0])
    assert mask_from_lengths(np.array([], np.int64), 3).shape == (0, 3)
    # as a loss mask: the same as dropping the padding
    y_pred, labels = make_data("sparse", True, (2, 4, 3), seed=25)
    loss = SparseCategoricalCrossentropy(True)
    value = loss.forward(y_pred, labels, mask_from_lengths([4, 2], 4))
    kept = np.concatenate([y_pred[0], y_pred[1, :2]])
    np.testing.assert_allclose(value, loss.forward(kept, np.concatenate([labels[0],
                                                                         labels[1, :2]])),
                               rtol=1e-14)


@pytest.mark.parametrize("args,exc,pattern", [
    (([1.5, 2.0], 3), TypeError, r"lengths must be an integer array"),
    (([[1, 2]], 3), ValueError, r"lengths must be 1-D"),
    (([1, 4], 3), ValueError, r"lengths must be in \[0, 3\] \(steps = 3\), got 4"),
    (([-1, 2], 3), ValueError, r"lengths must be in \[0, 3\].*got -1"),
    (([1], 2.0), TypeError, r"steps must be an integer"),
    (([1], -1), ValueError, r"steps must be an integer >= 0"),
])
def test_mask_from_lengths_bad_arguments(args, exc, pattern):
    with pytest.raises(exc, match=pattern):
        mask_from_lengths(*args)
