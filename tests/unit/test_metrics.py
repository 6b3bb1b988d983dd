"""Metrics: hand-computed cases, Keras's tie and threshold rules, the weighted mean under
masks and sample weights, accumulation over batches, configs, `get` and bad input.

Keras parity lives in tests/parity/test_keras_losses.py.
"""

import doctest
import json
import math

import numpy as np
import pytest

import seqnet
import seqnet.metrics
from seqnet import losses
from seqnet.metrics import (
    BinaryAccuracy,
    BitsPerToken,
    CategoricalAccuracy,
    Metric,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    from_config,
    get,
)


def result_of(metric, *args, **kwargs):
    metric.reset()
    metric.update(*args, **kwargs)
    return metric.result()


# -------------------------------------------------------------- hand-computed cases
def test_binary_accuracy_threshold_is_strict():
    m = BinaryAccuracy()
    y_pred = np.array([[0.9], [0.5], [0.51], [0.1]])
    # 0.5 is not above 0.5: predicted 0
    assert result_of(m, y_pred, np.array([1, 1, 1, 0])) == 0.75
    assert result_of(m, y_pred, np.array([[1], [0], [1], [0]])) == 1.0
    assert result_of(BinaryAccuracy(threshold=0.95), y_pred, np.array([1, 0, 0, 0])) == 0.75


def test_binary_accuracy_from_logits_thresholds_the_logit():
    z = np.array([[3.0], [0.0], [-1e-30], [1e-30], [-2.0]])
    y = np.array([1, 0, 0, 1, 0])
    assert result_of(BinaryAccuracy(from_logits=True), z, y) == 1.0
    # threshold 0.7 <-> logit log(0.7 / 0.3) = 0.8473
    z = np.array([[0.84], [0.85]])
    assert result_of(BinaryAccuracy(0.7, from_logits=True), z, np.array([0, 1])) == 1.0
    # the same decision as sigmoid(z) > t, and on probabilities
    rng = np.random.default_rng(0)
    z = rng.standard_normal((50, 3)) * 3
    y = rng.integers(0, 2, (50, 3))
    for t in (0.2, 0.5, 0.9):
        assert result_of(BinaryAccuracy(t, from_logits=True), z, y) == pytest.approx(
            result_of(BinaryAccuracy(t), 1 / (1 + np.exp(-z)), y), abs=0)


def test_binary_accuracy_multilabel_soft_and_bool_targets():
    """A position's value is the fraction of its K outputs that are right; a soft
    target never matches (Keras compares y_true == (y_pred > t))."""
    y_pred = np.array([[0.9, 0.2, 0.7], [0.1, 0.8, 0.3]])
    assert result_of(BinaryAccuracy(), y_pred, np.array([[1, 0, 0], [0, 1, 0]])) == \
        pytest.approx(5 / 6, abs=1e-15)
    assert result_of(BinaryAccuracy(), y_pred, np.array([[1, 0, 0], [0, 1, 0]], bool)) == \
        pytest.approx(5 / 6, abs=1e-15)
    assert result_of(BinaryAccuracy(), y_pred, np.array([[0.7, 0, 0], [0, 1, 0]])) == \
        pytest.approx(4 / 6, abs=1e-15)
    # weights are per position (row), not per output
    assert result_of(BinaryAccuracy(), y_pred, np.array([[1, 0, 0], [0, 1, 0]]),
                     sample_weight=np.array([1.0, 0.0])) == pytest.approx(2 / 3, abs=1e-15)


def test_categorical_accuracies_take_the_first_maximum_on_ties():
    y_pred = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.1, 0.1, 0.1]])
    labels = np.array([1, 2, 0])     # tie lost (first max is 0), hit, tie won
    assert result_of(SparseCategoricalAccuracy(), y_pred, labels) == pytest.approx(2 / 3)
    assert result_of(CategoricalAccuracy(), y_pred, np.eye(3)[labels]) == pytest.approx(2 / 3)
    # a tied target row: its first maximum is the target
    assert result_of(CategoricalAccuracy(), y_pred[:1], np.array([[0.5, 0.5, 0.0]])) == 1.0


def test_categorical_accuracies_on_logits_equal_on_probabilities():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((4, 6, 7))
    labels = rng.integers(0, 7, (4, 6))
    p = losses.softmax(z)
    for m in (SparseCategoricalAccuracy(), SparseTopKCategoricalAccuracy(3)):
        assert result_of(m, z, labels) == result_of(m, p, labels)
    for m in (CategoricalAccuracy(), TopKCategoricalAccuracy(3)):
        assert result_of(m, z, np.eye(7)[labels]) == result_of(m, p, np.eye(7)[labels])


def test_top_k_ties_count_as_hits():
    """Keras's in_top_k: a hit when fewer than k classes score strictly higher."""
    y_pred = np.array([[0.4, 0.2, 0.2, 0.2]] * 4)
    labels = np.array([0, 1, 2, 3])
    assert result_of(SparseTopKCategoricalAccuracy(k=1), y_pred, labels) == 0.25
    assert result_of(SparseTopKCategoricalAccuracy(k=2), y_pred, labels) == 1.0
    assert result_of(TopKCategoricalAccuracy(k=2), y_pred, np.eye(4)[labels]) == 1.0
    y_pred = np.array([[0.4, 0.3, 0.2, 0.1]] * 4)
    assert result_of(SparseTopKCategoricalAccuracy(k=2), y_pred, labels) == 0.5
    assert result_of(SparseTopKCategoricalAccuracy(k=3), y_pred, labels) == 0.75
    # k >= C: always a hit (the default k = 5 with 4 classes)
    assert result_of(SparseTopKCategoricalAccuracy(), y_pred, labels) == 1.0
    assert result_of(TopKCategoricalAccuracy(), y_pred, np.eye(4)[labels]) == 1.0


def test_top_k_matches_a_sort_without_ties():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((30, 8))
    labels = rng.integers(0, 8, 30)
    for k in (1, 3, 8):
        top = np.argsort(-z, axis=-1)[:, :k]
        expected = np.mean([labels[i] in top[i] for i in range(30)])
        assert result_of(SparseTopKCategoricalAccuracy(k), z, labels) == expected
    assert result_of(SparseTopKCategoricalAccuracy(1), z, labels) == result_of(
        SparseCategoricalAccuracy(), z, labels)


def test_bits_per_token_is_cross_entropy_over_ln2():
    assert result_of(BitsPerToken(from_logits=True), np.zeros((2, 3, 8)),
                     np.zeros((2, 3), int)) == pytest.approx(3.0, abs=1e-15)
    rng = np.random.default_rng(3)
    z = rng.standard_normal((3, 5, 6)) * 2
    labels = rng.integers(0, 6, (3, 5))
    mask = losses.mask_from_lengths([5, 2, 4], 5)
    sce = losses.SparseCategoricalCrossentropy(from_logits=True)
    expected = sce.forward(z, labels, mask) / math.log(2)
    assert result_of(BitsPerToken(True), z, labels, mask) == pytest.approx(expected, rel=1e-14)
    # one-hot targets == class indices; probabilities (clipped as the loss) == logits
    assert result_of(BitsPerToken(True), z, np.eye(6)[labels], mask) == pytest.approx(
        expected, rel=1e-14)
    p = losses.softmax(z)
    assert result_of(BitsPerToken(), p, labels, mask) == pytest.approx(expected, rel=1e-12)
    sce_p = losses.SparseCategoricalCrossentropy()
    p[0, 0] = [1, 0, 0, 0, 0, 0]                     # a clipped probability
    labels[0, 0] = 1
    assert result_of(BitsPerToken(), p, labels, mask) == pytest.approx(
        sce_p.forward(p, labels, mask) / math.log(2), rel=1e-12)
    # hand computed: p(target) = 1/2 and 1/4 -> 1 and 2 bits
    assert result_of(BitsPerToken(), np.array([[0.5, 0.5], [0.75, 0.25]]),
                     np.array([0, 1])) == pytest.approx(1.5, rel=1e-12)


def test_bits_per_token_stable_for_huge_logits():
    z = np.array([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]], np.float32)
    value = result_of(BitsPerToken(True), z, np.array([1, 2]))
    assert value == pytest.approx((2e4 / math.log(2) + math.log2(3)) / 2, rel=1e-6)


# ------------------------------------------------------------- weighting, batches
def naive(metric_key, y_pred, y_true, k=5, threshold=0.5, from_logits=False):
    """Per-position values, written out the slow way."""
    out = np.empty(y_pred.shape[:-1])
    for idx in np.ndindex(out.shape):
        row = y_pred[idx]
        if metric_key == "binary_accuracy":
            pred = (1 / (1 + np.exp(-row)) if from_logits else row) > threshold
            out[idx] = np.mean(y_true[idx] == pred)
        elif metric_key == "bits_per_token":
            p = np.exp(row - row.max())
            p /= p.sum()
            out[idx] = -math.log2(p[y_true[idx]])
        else:
            target = y_true[idx] if np.ndim(y_true[idx]) == 0 else np.argmax(y_true[idx])
            kk = 1 if "top_k" not in metric_key else k
            out[idx] = np.sum(row > row[target]) < kk
    return out


def make_case(key, shape, seed):
    rng = np.random.default_rng(seed)
    C = shape[-1]
    y_pred = rng.standard_normal(shape)
    if key == "binary_accuracy":
        return y_pred, rng.integers(0, 2, shape)
    labels = rng.integers(0, C, shape[:-1])
    if key in ("categorical_accuracy", "top_k_categorical_accuracy"):
        return y_pred, np.eye(C)[labels]
    return y_pred, labels


METRICS = [
    ("binary_accuracy", lambda: BinaryAccuracy(from_logits=True), {"from_logits": True,
                                                                   "threshold": 0.5}),
    ("categorical_accuracy", CategoricalAccuracy, {}),
    ("sparse_categorical_accuracy", SparseCategoricalAccuracy, {}),
    ("top_k_categorical_accuracy", lambda: TopKCategoricalAccuracy(k=2), {"k": 2}),
    ("sparse_top_k_categorical_accuracy", lambda: SparseTopKCategoricalAccuracy(k=3),
     {"k": 3}),
    ("bits_per_token", lambda: BitsPerToken(from_logits=True), {}),
]
METRIC_IDS = [m[0] for m in METRICS]


def weighted(values, mask, sw):
    w = np.ones(values.shape)
    for extra in (mask, sw):
        if extra is not None:
            e = np.asarray(extra, np.float64)
            w = w * e.reshape(e.shape + (1,) * (values.ndim - e.ndim))
    return np.sum(w * values) / np.sum(w)


@pytest.mark.parametrize("key,make,kw", METRICS, ids=METRIC_IDS)
@pytest.mark.parametrize("shape", [(6, 5), (4, 3, 5)], ids=["2d", "3d"])
def test_metric_is_the_weighted_mean_of_naive_values(key, make, kw, shape):
    """sum(mask * sample_weight * v) / sum(mask * sample_weight), every form of each."""
    y_pred, y_true = make_case(key, shape, seed=4)
    values = naive(key, y_pred, y_true, **kw)
    rng = np.random.default_rng(5)
    B = shape[0]
    m = make()
    assert result_of(m, y_pred, y_true) == pytest.approx(values.mean(), rel=1e-13)
    masks = [None, rng.integers(0, 2, B).astype(bool), rng.uniform(0, 2, shape[:-1])]
    masks[1][0] = True
    sws = [None, rng.uniform(0, 3, B), rng.uniform(0, 3, shape[:-1])]
    for mask in masks:
        for sw in sws:
            got = result_of(m, y_pred, y_true, mask=mask, sample_weight=sw)
            assert got == pytest.approx(weighted(values, mask, sw), rel=1e-13), (mask, sw)
    # Keras's (B, 1) form == (B,)
    if len(shape) == 3:
        sw = sws[1]
        assert result_of(m, y_pred, y_true, sample_weight=sw[:, None]) == pytest.approx(
            result_of(m, y_pred, y_true, sample_weight=sw), rel=1e-15)


@pytest.mark.parametrize("key,make,kw", METRICS, ids=METRIC_IDS)
def test_metric_accumulation_over_batches_equals_one_big_batch(key, make, kw):
    shape = (9, 4, 5)
    y_pred, y_true = make_case(key, shape, seed=6)
    mask = losses.mask_from_lengths(np.random.default_rng(7).integers(1, 5, 9), 4)
    sw = np.random.default_rng(8).uniform(0, 2, 9)
    big, parts = make(), make()
    big.update(y_pred, y_true, mask, sw)
    for rows in (slice(0, 2), slice(2, 7), slice(7, 9)):
        parts.update(y_pred[rows], y_true[rows], mask[rows], sw[rows])
    assert parts.result() == pytest.approx(big.result(), rel=1e-14)
    # reset forgets everything; a fresh metric reports 0.0, as Keras
    parts.reset()
    assert parts.result() == 0.0 and make().result() == 0.0
    parts.update(y_pred[:2], y_true[:2], mask[:2], sw[:2])
    assert parts.result() == pytest.approx(result_of(make(), y_pred[:2], y_true[:2],
                                                     mask[:2], sw[:2]), rel=1e-15)


@pytest.mark.parametrize("key,make,kw", METRICS, ids=METRIC_IDS)
def test_metric_masked_positions_never_count(key, make, kw):
    """Garbage (NaN, inf, out-of-range labels and targets) at padded or zero-weight
    positions changes nothing, and the result is the plain one over the kept ones."""
    shape = (3, 4, 5)
    y_pred, y_true = make_case(key, shape, seed=9)
    mask = losses.mask_from_lengths([4, 1, 3], 4)
    sw = np.ones(3)
    sw[2] = 0.0
    off = ~mask | (sw[:, None] == 0)
    dirty_pred = y_pred.copy()
    dirty_pred[off] = np.nan
    dirty_pred[1, 3, 0] = np.inf
    dirty_true = np.array(y_true, dtype=np.float64 if y_true.ndim == 3 else np.int64)
    dirty_true[off] = 7 if y_true.ndim == 2 else (-3 if key == "binary_accuracy" else np.nan)
    clean = result_of(make(), y_pred, y_true, mask, sw)
    assert result_of(make(), dirty_pred, dirty_true, mask, sw) == clean
    assert clean == pytest.approx(result_of(make(), y_pred[~off], y_true[~off]), rel=1e-14)


def test_metric_sample_weights_are_divided_out_and_float32_works():
    """Unlike the losses, constant sample weights leave a metric unchanged (Keras)."""
    y_pred, y_true = make_case("sparse_categorical_accuracy", (5, 6, 4), seed=10)
    m = SparseCategoricalAccuracy()
    a = result_of(m, y_pred, y_true)
    assert result_of(m, y_pred, y_true, sample_weight=np.full(5, 0.5)) == pytest.approx(a)
    assert result_of(m, y_pred.astype(np.float32), y_true) == a
    b = result_of(BitsPerToken(True), y_pred, y_true)
    assert result_of(BitsPerToken(True), y_pred.astype(np.float32), y_true) == pytest.approx(
        b, rel=1e-6)
    # all weights zero in a batch: it adds nothing
    m.reset()
    m.update(y_pred, y_true, mask=np.zeros(5))
    assert m.result() == 0.0
    m.update(y_pred, y_true)
    assert m.result() == a


# ------------------------------------------------------------------ config and get
ALL = [BinaryAccuracy(), BinaryAccuracy(0.3, from_logits=True, name="bin"),
       CategoricalAccuracy(), SparseCategoricalAccuracy(name="accuracy"),
       TopKCategoricalAccuracy(k=2), SparseTopKCategoricalAccuracy(), BitsPerToken(True)]


@pytest.mark.parametrize("metric", ALL, ids=repr)
def test_metric_config_round_trip(metric):
    config = metric.get_config()
    assert config["metric"] == metric.key and config["name"] == metric.name
    rebuilt = from_config(json.loads(json.dumps(config)))
    assert type(rebuilt) is type(metric) and rebuilt.get_config() == config
    assert get(config).get_config() == config
    assert rebuilt.result() == 0.0


def test_metric_names_and_loss_style_config():
    assert SparseCategoricalAccuracy().name == "sparse_categorical_accuracy"
    assert BitsPerToken(name="bpt").name == "bpt"
    m = from_config({"name": "top_k_categorical_accuracy", "k": 3})
    assert isinstance(m, TopKCategoricalAccuracy) and m.k == 3
    assert m.name == "top_k_categorical_accuracy"
    assert repr(m) == "TopKCategoricalAccuracy(k=3)"


@pytest.mark.parametrize("loss,cls,from_logits", [
    ("sparse_categorical_crossentropy", SparseCategoricalAccuracy, None),
    (losses.SparseCategoricalCrossentropy(from_logits=True), SparseCategoricalAccuracy, None),
    (losses.CategoricalCrossentropy(), CategoricalAccuracy, None),
    (losses.BinaryCrossentropy(), BinaryAccuracy, False),
    (losses.BinaryCrossentropy(from_logits=True), BinaryAccuracy, True),
    ("binary_crossentropy", BinaryAccuracy, False),
])
@pytest.mark.parametrize("name", ["accuracy", "acc"])
def test_get_accuracy_is_resolved_against_the_loss(loss, cls, from_logits, name):
    m = get(name, loss=loss)
    assert type(m) is cls and m.name == name
    if from_logits is not None:
        assert m.from_logits is from_logits


def test_get_by_name_copies_from_logits_from_the_loss():
    assert get("bits_per_token", loss=losses.SparseCategoricalCrossentropy(True)).from_logits
    assert not get("bits_per_token").from_logits
    assert get("binary_accuracy", loss=losses.BinaryCrossentropy(True)).from_logits
    assert type(get("SparseTopKCategoricalAccuracy")) is SparseTopKCategoricalAccuracy
    assert get("top_k_categorical_accuracy").k == 5
    m = BitsPerToken()
    assert get(m) is m


# ---------------------------------------------------------------------- bad input
Z = np.zeros((2, 3, 4))
LABELS = np.zeros((2, 3), int)


@pytest.mark.parametrize("call,exc,pattern", [
    (lambda: get("accuracy"), ValueError, r"'accuracy' is resolved against the loss: pass loss="),
    (lambda: get("accuracy", loss="mse"), ValueError,
     r"'accuracy' has no meaning for the loss 'mse'.*name the metric you mean"),
    (lambda: get("acc", loss=losses.MeanSquaredError()), ValueError,
     r"'acc' has no meaning for the loss 'mean_squared_error'"),
    (lambda: get("acuracy"), ValueError,
     r"unknown metric 'acuracy': identifier must be one of \['accuracy', 'acc', "),
    (lambda: get(3), TypeError, r"identifier must be a Metric, a metric name or a config"),
    (lambda: get("accuracy", loss=3), TypeError, r"loss must be a seqnet loss or a loss name"),
    (lambda: from_config({"k": 3}), ValueError, r"config must have a 'metric' \(or 'name'\)"),
    (lambda: from_config({"name": "accuracy"}), ValueError,
     r"resolved against the loss: use metrics.get\('accuracy', loss=...\)"),
    (lambda: from_config({"metric": "binary_accuracy", "k": 3}), ValueError,
     r"unexpected entries \['k'\] for 'binary_accuracy'"),
    (lambda: from_config({"metric": "nope"}), ValueError, r"unknown metric 'nope'"),
    (lambda: from_config(["binary_accuracy"]), TypeError, r"config must be a dict"),
    (lambda: BinaryAccuracy(threshold=1.5), ValueError, r"threshold must be in \[0, 1\]"),
    (lambda: BinaryAccuracy(threshold=1.0, from_logits=True), ValueError,
     r"threshold must be in \(0, 1\)"),
    (lambda: BinaryAccuracy(threshold="0.5"), TypeError, r"threshold must be a real number"),
    (lambda: BinaryAccuracy(from_logits=1), TypeError, r"from_logits must be a bool"),
    (lambda: BitsPerToken(from_logits="no"), TypeError, r"from_logits must be a bool"),
    (lambda: TopKCategoricalAccuracy(k=0), ValueError, r"k must be a positive integer"),
    (lambda: SparseTopKCategoricalAccuracy(k=2.0), TypeError, r"k must be a positive integer"),
    (lambda: SparseCategoricalAccuracy(name=""), ValueError, r"name must be a non-empty string"),
    (lambda: BitsPerToken(name=3), TypeError, r"name must be a string, got 3"),
])
def test_metric_bad_arguments_raise_naming_them(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


@pytest.mark.parametrize("metric,args,kwargs,exc,pattern", [
    (SparseCategoricalAccuracy(), (np.zeros((2, 3), int), LABELS[:, 0]), {}, TypeError,
     r"y_pred must be a real floating-point"),
    (SparseCategoricalAccuracy(), (np.zeros(3), LABELS[:, 0]), {}, ValueError,
     r"y_pred must be at least 2-D"),
    (SparseCategoricalAccuracy(), (np.zeros((0, 3)), LABELS[:0, 0]), {}, ValueError,
     r"y_pred must not be empty"),
    (SparseCategoricalAccuracy(), (Z, LABELS.astype(float)), {}, TypeError,
     r"y_true must be an integer array of class indices.*astype"),
    (SparseCategoricalAccuracy(), (Z, LABELS[:, :2]), {}, ValueError,
     r"y_true must have shape \(2, 3\)"),
    (SparseTopKCategoricalAccuracy(), (Z, LABELS + 4), {}, ValueError,
     r"class indices in \[0, 4\).*got 4"),
    (SparseCategoricalAccuracy(), (Z, LABELS - 1), {"mask": np.array([1, 0])}, ValueError,
     r"got -1 at an unmasked position"),
    (CategoricalAccuracy(), (Z, LABELS), {}, ValueError, r"y_true must have shape \(2, 3, 4\)"),
    (TopKCategoricalAccuracy(), (Z, np.full(Z.shape, "a")), {}, TypeError,
     r"y_true must be a real numeric \(one-hot\) array"),
    (BinaryAccuracy(), (Z, Z + 2), {}, ValueError, r"y_true must hold targets in \[0, 1\]"),
    (BinaryAccuracy(), (Z[..., :1], LABELS[:, :2]), {}, ValueError,
     r"y_true must have shape \(2, 3, 1\) \(the shape of y_pred, or \(2, 3\)\)"),
    (BitsPerToken(), (Z, np.full((2, 3), "a")), {}, TypeError,
     r"y_true must be an integer array of class indices or a real array of one-hot rows"),
    (BitsPerToken(), (Z, Z[..., :2]), {}, ValueError, r"y_true must have shape \(2, 3, 4\)"),
    (SparseCategoricalAccuracy(), (Z, LABELS), {"mask": np.ones(3)}, ValueError,
     r"mask must have shape \(2,\) or \(2, 3\)"),
    (SparseCategoricalAccuracy(), (Z, LABELS), {"sample_weight": np.array([1.0, -1.0])},
     ValueError, r"sample_weight must be non-negative"),
    (SparseCategoricalAccuracy(), (Z, LABELS), {"sample_weight": np.array([1.0, np.nan])},
     ValueError, r"sample_weight must be finite"),
    (SparseCategoricalAccuracy(), (Z, LABELS), {"mask": np.array(["a", "b"])}, TypeError,
     r"mask must be a real numeric or bool"),
])
def test_metric_bad_update_arguments(metric, args, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        metric.update(*args, **kwargs)
    assert metric.result() == 0.0          # a refused batch adds nothing


def test_metric_base_class_and_public_names():
    assert issubclass(BitsPerToken, Metric)
    assert "metrics" in seqnet.__all__ and seqnet.metrics.get is get
    assert seqnet.metrics.EPSILON == losses.EPSILON


def test_metric_docstring_examples_run():
    result = doctest.testmod(seqnet.metrics, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
