"""Losses and metrics against Keras 3 (PyTorch backend): values, gradients (autograd
through Keras's loss), masks and sample weights.

The mapping:

- argument order: seqnet's ``loss.forward(y_pred, y_true, ...)`` is Keras's
  ``loss(y_true, y_pred, ...)``; ``metric.update(y_pred, y_true, ...)`` is
  ``metric.update_state(y_true, y_pred, ...)``.
- masks: seqnet's ``mask=`` (here ``mask_from_lengths(lengths, T)``: trailing
  padding) is Keras's mask on ``y_pred`` (``_keras_mask``, which a ``Masking`` or
  ``Embedding(mask_zero=True)`` layer sets); the end-to-end test gets it from a real
  ``Masking`` layer inside ``model.evaluate``.
- sample weights: seqnet's ``(B,)`` per-sequence weights on sequence outputs are
  Keras's ``(B, 1)`` (Keras cannot broadcast ``(B,)`` against ``(B, T)``);
  ``(B, T)`` and, for ``(B, C)`` outputs, ``(B,)`` are the same on both sides.

Float32 within rtol = atol = 1e-5 (the issue's bound); float64 (Keras losses built
with ``dtype="float64"``) within 1e-6. Keras 3.15 on torch ends every reduced loss
in float32 whatever the loss's dtype or floatx (its ``divide_no_nan`` promotes with
the Python type ``float``, which it maps to float32), so the float64 comparisons
are as close as float32 ones: about 1e-7 relative. Keras's outputs here are torch tensors, read
with ``.item()`` / ``.numpy()``.
"""

import math

import numpy as np
import pytest

from seqnet import losses, metrics
from seqnet.losses import mask_from_lengths

from .keras_oracle import ATOL32, RTOL32, keras

torch = pytest.importorskip("torch")

TOL = {np.float32: (RTOL32, ATOL32), np.float64: (1e-6, 1e-6)}
DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["f32", "f64"]


def keras_value_and_grad(keras_loss, y_pred, y_true, mask=None, sample_weight=None):
    """Keras's loss and its gradient with respect to ``y_pred`` (torch autograd)."""
    yp = torch.tensor(y_pred, requires_grad=True)
    if mask is not None:
        keras.src.backend.set_keras_mask(yp, torch.tensor(np.asarray(mask, bool)))
    value = keras_loss(y_true, yp, sample_weight=sample_weight)
    value.backward()
    return value.item(), yp.grad.numpy()


def keras_sample_weight(sw, ndim):
    """seqnet's (B,) per-sequence weights as Keras takes them for (B, T, C) outputs."""
    if sw is None or ndim == 2 or sw.ndim > 1:
        return sw
    return sw[:, None]


def check(seqnet_loss, keras_loss, y_pred, y_true, mask=None, sw=None):
    dtype = y_pred.dtype.type
    rtol, atol = TOL[dtype]
    value = seqnet_loss.forward(y_pred, y_true, mask, sample_weight=sw)
    grad = seqnet_loss.backward()
    k_value, k_grad = keras_value_and_grad(keras_loss, y_pred, y_true, mask,
                                           keras_sample_weight(sw, y_pred.ndim))
    np.testing.assert_allclose(value, k_value, rtol=rtol, atol=atol)
    np.testing.assert_allclose(grad, k_grad, rtol=rtol, atol=atol)
    # gradients are ~1/N: compare them also relative to their scale
    np.testing.assert_allclose(grad / np.abs(k_grad).max(), k_grad / np.abs(k_grad).max(),
                               rtol=rtol, atol=atol)
    return abs(value - k_value), np.abs(grad - k_grad).max()


WEIGHTS = ["none", "mask", "sample_weight-B", "sample_weight-BT", "mask+sample_weight"]


def weights_for(kind, B, T, seed=3):
    """(mask, sample_weight) for a batch of B sequences of T steps."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, T + 1, B)
    lengths[0] = T
    mask = mask_from_lengths(lengths, T)
    sw_b = rng.uniform(0.1, 3.0, B).astype(np.float32)
    sw_bt = rng.uniform(0.1, 3.0, (B, T)).astype(np.float32)
    return {"none": (None, None), "mask": (mask, None), "sample_weight-B": (None, sw_b),
            "sample_weight-BT": (None, sw_bt), "mask+sample_weight": (mask, sw_bt)}[kind]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
# ------------------------------------------------------------ binary cross-entropy
@pytest.mark.parametrize("from_logits", [True, False], ids=["logits", "probs"])
@pytest.mark.parametrize("weights", WEIGHTS)
def test_keras_bce_over_sequences(dtype, from_logits, weights):
    B, T, K = 4, 5, 3
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((B, T, K)) * 3).astype(dtype)
    y_pred = z if from_logits else (1 / (1 + np.exp(-z))).astype(dtype)
    y_true = rng.integers(0, 2, (B, T, K)).astype(dtype)
    mask, sw = weights_for(weights, B, T)
    check(losses.BinaryCrossentropy(from_logits),
          keras.losses.BinaryCrossentropy(from_logits=from_logits, dtype=np.dtype(dtype).name),
          y_pred, y_true, mask, sw)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("from_logits", [True, False], ids=["logits", "probs"])
@pytest.mark.parametrize("K", [1, 4], ids=["one-output", "multi-label"])
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "sample_weight"])
def test_keras_bce_batch_outputs(dtype, from_logits, K, weighted):
    """(B, 1) and (B, K) outputs; soft targets; (B,) targets for (B, 1)."""
    B = 7
    rng = np.random.default_rng(1)
    z = (rng.standard_normal((B, K)) * 2).astype(dtype)
    y_pred = z if from_logits else (1 / (1 + np.exp(-z))).astype(dtype)
    y_true = rng.uniform(0, 1, (B, K)).astype(dtype)
    sw = rng.uniform(0, 2, B).astype(np.float32) if weighted else None
    k_loss = keras.losses.BinaryCrossentropy(from_logits=from_logits,
                                             dtype=np.dtype(dtype).name)
    check(losses.BinaryCrossentropy(from_logits), k_loss, y_pred, y_true, sw=sw)
    if K == 1:
        check(losses.BinaryCrossentropy(from_logits), k_loss, y_pred, y_true[:, 0], sw=sw)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_keras_bce_huge_logits(dtype):
    z = np.array([[1e4, -1e4], [-1e4, 1e4], [80.0, -80.0], [0.0, 3.0]], dtype)
    y = np.array([[0, 1], [0, 1], [1, 0], [1, 0]], dtype)
    check(losses.BinaryCrossentropy(True),
          keras.losses.BinaryCrossentropy(from_logits=True, dtype=np.dtype(dtype).name), z, y)


def test_keras_bce_probabilities_at_the_clip():
    """0 and 1 probabilities: both clip to [1e-7, 1 - 1e-7]; no gradient outside."""
    p = np.array([[0.0, 1.0], [1.0, 0.5], [1e-9, 0.3]], np.float32)
    y = np.array([[1, 0], [1, 1], [0, 1]], np.float32)
    check(losses.BinaryCrossentropy(), keras.losses.BinaryCrossentropy(), p, y)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
# -------------------------------------------------- cross-entropies over sequences
@pytest.mark.parametrize("from_logits", [True, False], ids=["logits", "probs"])
@pytest.mark.parametrize("sparse", [True, False], ids=["sparse-BT", "onehot-BTV"])
@pytest.mark.parametrize("weights", WEIGHTS)
def test_keras_crossentropy_over_sequences(dtype, from_logits, sparse, weights):
    """(B, T) class targets or (B, T, V) one-hot targets, Keras masks = seqnet lengths."""
    B, T, V = 4, 6, 5
    rng = np.random.default_rng(2)
    z = (rng.standard_normal((B, T, V)) * 2).astype(dtype)
    y_pred = z if from_logits else losses.softmax(z) * dtype(3)   # unnormalised rows
    labels = rng.integers(0, V, (B, T))
    mask, sw = weights_for(weights, B, T)
    name = np.dtype(dtype).name
    if sparse:
        ours = losses.SparseCategoricalCrossentropy(from_logits)
        theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits, dtype=name)
        y_true = labels
    else:
        ours = losses.CategoricalCrossentropy(from_logits)
        theirs = keras.losses.CategoricalCrossentropy(from_logits=from_logits, dtype=name)
        y_true = np.eye(V, dtype=dtype)[labels]
    check(ours, theirs, y_pred, y_true, mask, sw)


def test_keras_end_to_end_masking_layer_evaluate():
    """A real Keras mask: a Masking layer feeds the loss and the metrics inside
    model.evaluate, with sample weights; seqnet gets the lengths. Keras's
    ``compile(metrics=...)`` ignore sample weights (only ``weighted_metrics`` take
    them): seqnet's metrics match both, given sample_weight or not."""
    B, T, V = 5, 6, 4
    rng = np.random.default_rng(4)
    lengths = np.array([6, 3, 1, 5, 2])
    mask = mask_from_lengths(lengths, T)
    x = rng.standard_normal((B, T, V)).astype(np.float32)
    x[~mask] = 0.0                                  # the padding Masking recognises
    labels = rng.integers(0, V, (B, T))
    sw = rng.uniform(0.2, 2.0, (B, T)).astype(np.float32)
    model = keras.Sequential([keras.Input((T, V)), keras.layers.Masking(mask_value=0.0)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy",
                           keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")],
                  weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="w_acc")])
    got = model.evaluate(x, labels, sample_weight=sw, batch_size=B, verbose=0,
                         return_dict=True)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    value = loss.forward(x, labels, mask, sample_weight=sw)
    np.testing.assert_allclose(value, got["loss"], rtol=RTOL32, atol=ATOL32)
    results = {}
    for key, metric, weights in [("accuracy", metrics.get("accuracy", loss=loss), None),
                                 ("top2", metrics.SparseTopKCategoricalAccuracy(2), None),
                                 ("w_acc", metrics.SparseCategoricalAccuracy(), sw)]:
        metric.update(x, labels, mask, sample_weight=weights)
        results[key] = metric.result()
        np.testing.assert_allclose(results[key], got[key], rtol=RTOL32, atol=ATOL32)
    # not a vacuous match: the weights and k change the results
    assert 0 < results["accuracy"] < results["top2"] < 1
    assert abs(results["w_acc"] - results["accuracy"]) > 1e-3


# ------------------------------------------------------------------------ metrics
def keras_metric_result(metric, batches):
    """Keras's result over ``batches`` of (y_pred, y_true, mask, sample_weight)."""
    for y_pred, y_true, mask, sw in batches:
        yp = torch.tensor(y_pred)
        if mask is not None:
            keras.src.backend.set_keras_mask(yp, torch.tensor(mask))
        metric.update_state(y_true, yp, sample_weight=keras_sample_weight(sw, y_pred.ndim))
    return float(metric.result().item())


def seqnet_metric_result(metric, batches):
    for y_pred, y_true, mask, sw in batches:
        metric.update(y_pred, y_true, mask, sample_weight=sw)
    return metric.result()


def metric_batches(kind, weights, n_batches=3, B=4, T=5, C=6, seed=5):
    """Batches of float32 scores (with ties, for the top-k rules) and targets."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_batches):
        z = rng.integers(-3, 4, (B, T, C)).astype(np.float32)    # small integers: ties
        labels = rng.integers(0, C, (B, T))
        mask, sw = weights_for(weights, B, T, seed=seed + i)
        if kind == "binary":
            y_pred = 1 / (1 + np.exp(-rng.standard_normal((B, T, 2)).astype(np.float32)))
            out.append((y_pred, rng.integers(0, 2, (B, T, 2)).astype(np.float32), mask, sw))
        elif kind == "sparse":
            out.append((z, labels, mask, sw))
        elif kind == "dense":
            out.append((z, np.eye(C, dtype=np.float32)[labels], mask, sw))
        else:    # logits for bits per token
            out.append((rng.standard_normal((B, T, C)).astype(np.float32) * 2, labels, mask,
                        sw))
    return out


METRIC_PAIRS = [
    ("binary", lambda: metrics.BinaryAccuracy(), lambda: keras.metrics.BinaryAccuracy()),
    ("binary", lambda: metrics.BinaryAccuracy(0.3), lambda: keras.metrics.BinaryAccuracy(
        threshold=0.3)),
    ("dense", metrics.CategoricalAccuracy, keras.metrics.CategoricalAccuracy),
    ("sparse", metrics.SparseCategoricalAccuracy, keras.metrics.SparseCategoricalAccuracy),
    ("dense", lambda: metrics.TopKCategoricalAccuracy(2),
     lambda: keras.metrics.TopKCategoricalAccuracy(k=2)),
    ("sparse", lambda: metrics.SparseTopKCategoricalAccuracy(1),
     lambda: keras.metrics.SparseTopKCategoricalAccuracy(k=1)),
    ("sparse", lambda: metrics.SparseTopKCategoricalAccuracy(3),
     lambda: keras.metrics.SparseTopKCategoricalAccuracy(k=3)),
    ("sparse", metrics.SparseTopKCategoricalAccuracy,
     lambda: keras.metrics.SparseTopKCategoricalAccuracy(k=5)),
]
PAIR_IDS = ["binary", "binary-0.3", "categorical", "sparse", "top2", "sparse-top1",
            "sparse-top3", "sparse-top5"]


@pytest.mark.parametrize("kind,ours,theirs", METRIC_PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("weights", WEIGHTS)
def test_keras_metrics_over_batches(kind, ours, theirs, weights):
    batches = metric_batches(kind, weights)
    got = seqnet_metric_result(ours(), batches)
    expected = keras_metric_result(theirs(), batches)
    np.testing.assert_allclose(got, expected, rtol=RTOL32, atol=ATOL32)


@pytest.mark.parametrize("kind,ours,theirs", METRIC_PAIRS, ids=PAIR_IDS)
def test_keras_metrics_on_batch_outputs(kind, ours, theirs):
    """(B, C) outputs with (B,) sample weights, the Keras classifier's case."""
    rng = np.random.default_rng(6)
    batches = []
    for y_pred, y_true, _, _ in metric_batches(kind, "none", B=3, T=4):
        flat = (y_pred.reshape(-1, y_pred.shape[-1]),
                y_true.reshape((-1,) + y_true.shape[2:]))
        batches.append(flat + (None, rng.uniform(0, 2, 12).astype(np.float32)))
    np.testing.assert_allclose(seqnet_metric_result(ours(), batches),
                               keras_metric_result(theirs(), batches), rtol=RTOL32, atol=ATOL32)


def test_keras_binary_accuracy_from_logits_equals_keras_on_probabilities():
    """seqnet thresholds logits at 0; Keras takes the sigmoid's output at 0.5."""
    batches = metric_batches("bits", "mask+sample_weight")
    binary = [(z[..., :3], (z[..., 3:] > 0.5).astype(np.float32), m, sw)
              for z, _, m, sw in batches]
    as_probs = [(1 / (1 + np.exp(-z)), y, m, sw) for z, y, m, sw in binary]
    np.testing.assert_allclose(
        seqnet_metric_result(metrics.BinaryAccuracy(from_logits=True), binary),
        keras_metric_result(keras.metrics.BinaryAccuracy(), as_probs), rtol=RTOL32,
        atol=ATOL32)


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("from_logits", [True, False], ids=["logits", "probs"])
def test_keras_bits_per_token_is_keras_crossentropy_metric_over_ln2(weights, from_logits):
    batches = metric_batches("bits", weights)
    if not from_logits:
        batches = [(losses.softmax(z), y, m, sw) for z, y, m, sw in batches]
    got = seqnet_metric_result(metrics.BitsPerToken(from_logits), batches)
    nats = keras_metric_result(
        keras.metrics.SparseCategoricalCrossentropy(from_logits=from_logits), batches)
    np.testing.assert_allclose(got, nats / math.log(2), rtol=RTOL32, atol=ATOL32)
