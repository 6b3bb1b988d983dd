"""Parity with Keras 3 (torch backend) for the sequence layers of issue 14.

Each test builds the Keras layer and the seqnet layer, puts the SAME weights in
both (random, biases/gamma/beta included, never zero), runs both in float32 on the
same data and asserts the outputs equal within the issue's bound (rtol = atol =
1e-5). Keras's masks are seqnet's lengths: a boolean ``(B, T)`` mask that is True
on each row's first ``lengths[b]`` steps.

Weight layouts (Keras -> seqnet):

- ``Dense``: ``kernel (F, units)`` is ``weight.T`` (seqnet keeps PyTorch's
  ``(units, F)``); ``bias`` is ``bias``. The same inside ``TimeDistributed``.
- ``LayerNormalization``: ``gamma`` is ``weight``, ``beta`` is ``bias``.
- ``Embedding``: ``embeddings (input_dim, output_dim)`` is ``weight`` as it is.

``GlobalMaxPooling1D``: Keras 3 (3.15 included) ignores a mask there (its ``call``
takes none, ``supports_masking`` is False: in a model it warns and drops the mask,
and the maximum runs over every step). seqnet's honours ``lengths`` always, so the
masked case is compared with Keras on each row's valid steps alone, and the
unmasked case directly; :func:`test_keras_global_max_pooling_ignores_the_mask`
records Keras's behaviour so that a change in Keras shows up here.

Run with ``-s`` to print the largest absolute difference per test
(:func:`test_report_max_differences`, last in the file).
"""

import warnings

import numpy as np
import pytest

import seqnet
from tests.parity.keras_oracle import ATOL32, RTOL32, keras

B, T, F, UNITS = 3, 5, 4, 6
#: lengths in every masked test: unsorted, one row full, one of a single step.
LENGTHS = np.array([5, 2, 1])
#: largest |keras - seqnet| per test, filled as the tests run.
DIFFS = {}


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


def to_numpy(value):
    """A Keras output (a torch tensor on this backend) as a NumPy array, through
    torch's own ``.numpy()``: ``keras.ops.convert_to_numpy`` (keras_oracle's
    ``to_numpy``) calls ``np.array(tensor)``, which this torch answers with a
    DeprecationWarning (no ``copy`` keyword in ``__array__``), an error under the
    suite's ``filterwarnings = error``."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def mask_of(lengths, steps=T):
    """Keras's boolean mask for seqnet's lengths."""
    return np.arange(steps) < np.asarray(lengths)[:, None]


def assert_close(name, theirs, ours):
    theirs, ours = to_numpy(theirs), np.asarray(ours)
    assert theirs.shape == ours.shape, (theirs.shape, ours.shape)
    assert ours.dtype == np.float32
    diff, scale = float(np.abs(theirs - ours).max()), float(np.abs(theirs).max())
    old_diff, old_scale = DIFFS.get(name, (0.0, 0.0))
    DIFFS[name] = (max(diff, old_diff), max(scale, old_scale))
    np.testing.assert_allclose(ours, theirs, rtol=RTOL32, atol=ATOL32)


def nonzero(rng, shape, low=0.2, high=1.0):
    """Random values of either sign, at least ``low`` in magnitude."""
    return (rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)).astype(np.float32)


def dense_pair(rng, activation, in_features=F):
    """A Keras Dense and a seqnet Dense with the same random weight and bias."""
    weight, bias = nonzero(rng, (UNITS, in_features)), nonzero(rng, UNITS)
    ours = seqnet.Dense(UNITS, activation=activation, input_size=in_features, seed=0)
    ours.load_state_dict({"weight": weight, "bias": bias})
    theirs = keras.layers.Dense(UNITS, activation=activation)
    theirs.build((None, in_features))
    theirs.set_weights([weight.T, bias])   # kernel (F, units) = weight.T
    return theirs, ours


def test_repeat_vector(rng):
    x = rng.standard_normal((B, F)).astype(np.float32)
    assert_close("RepeatVector", keras.layers.RepeatVector(T)(x),
                 seqnet.RepeatVector(T).forward(x))


@pytest.mark.parametrize("activation", ["linear", "tanh", "softmax"])
@pytest.mark.parametrize("shape", [(B, T, F), (B, T, 2, F)], ids=["rank3", "rank4"])
def test_dense_per_step(shape, activation, rng):
    theirs, ours = dense_pair(rng, activation)
    x = rng.standard_normal(shape).astype(np.float32)
    assert_close(f"Dense rank {len(shape)}", theirs(x), ours.forward(x))


def test_time_distributed_dense(rng):
    weight, bias = nonzero(rng, (UNITS, F)), nonzero(rng, UNITS)
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    theirs = keras.layers.TimeDistributed(keras.layers.Dense(UNITS, activation="tanh"))
    theirs.build((None, T, F))
    theirs.set_weights([weight.T, bias])
    ours = seqnet.TimeDistributed(seqnet.Dense(UNITS, activation="tanh", input_size=F))
    ours.load_state_dict({"weight": weight, "bias": bias})
    assert_close("TimeDistributed(Dense)", theirs(x), ours.forward(x))


def test_global_average_pooling_with_a_mask(rng):
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    assert_close("GlobalAveragePooling1D", keras.layers.GlobalAveragePooling1D()(x),
                 seqnet.GlobalAveragePooling1D().forward(x))
    x[~mask_of(LENGTHS)] = 1e3     # padding that would show if it leaked
    theirs = keras.layers.GlobalAveragePooling1D()(x, mask=mask_of(LENGTHS))
    ours = seqnet.GlobalAveragePooling1D().forward(x, lengths=LENGTHS)
    assert_close("GlobalAveragePooling1D masked", theirs, ours)


def test_global_max_pooling(rng):
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    assert_close("GlobalMaxPooling1D", keras.layers.GlobalMaxPooling1D()(x),
                 seqnet.GlobalMaxPooling1D().forward(x))
    x[~mask_of(LENGTHS)] = 1e3     # would win every maximum if it leaked
    ours = seqnet.GlobalMaxPooling1D().forward(x, lengths=LENGTHS)
    for b, n in enumerate(LENGTHS):   # Keras on the valid steps alone
        assert_close("GlobalMaxPooling1D valid steps",
                     keras.layers.GlobalMaxPooling1D()(x[b:b + 1, :n]), ours[b:b + 1])


def test_keras_global_max_pooling_ignores_the_mask(rng):
    """What Keras 3 does with a mask here, stated: it takes none in ``call``, and in
    a model it drops the mask (with a warning) and pools over every step."""
    layer = keras.layers.GlobalMaxPooling1D()
    assert not layer.supports_masking
    with pytest.raises(TypeError, match="mask"):
        layer(np.zeros((1, 2, 1), np.float32), mask=np.array([[True, False]]))
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    x[~mask_of(LENGTHS)] = 1e3
    inp = keras.Input((T, F))
    with pytest.warns(UserWarning, match="does not support masking"):
        out = keras.layers.GlobalMaxPooling1D()(keras.layers.Masking(1e3)(inp))
    model = keras.Model(inp, out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # the same, when the model runs
        theirs = to_numpy(model(x))
    # Masking zeroed the padding; the maximum then ran over those zeros too.
    np.testing.assert_array_equal(theirs, np.where(mask_of(LENGTHS)[:, :, None], x, 0).max(1))


@pytest.mark.parametrize("shape", [(B, T, F), (B, F), (B, T, 2, F)],
                         ids=["rank3", "rank2", "rank4"])
@pytest.mark.parametrize("epsilon", [1e-3, 1e-6])
def test_layer_normalization(shape, epsilon, rng):
    gamma, beta = nonzero(rng, F, 0.5, 1.5), nonzero(rng, F)
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    theirs = keras.layers.LayerNormalization(epsilon=epsilon)
    theirs.build((None, *shape[1:]))
    theirs.set_weights([gamma, beta])       # gamma = weight, beta = bias
    ours = seqnet.LayerNormalization(epsilon=epsilon)
    ours.load_state_dict({"weight": gamma, "bias": beta})
    assert_close("LayerNormalization", theirs(x), ours.forward(x))


@pytest.mark.parametrize("center, scale", [(False, True), (True, False)])
def test_layer_normalization_options(center, scale, rng):
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    theirs = keras.layers.LayerNormalization(center=center, scale=scale)
    theirs.build((None, T, F))
    values = [nonzero(rng, F, 0.5, 1.5)]
    theirs.set_weights(values)
    ours = seqnet.LayerNormalization(center=center, scale=scale)
    ours.load_state_dict({"weight" if scale else "bias": values[0]})
    assert_close("LayerNormalization options", theirs(x), ours.forward(x))


@pytest.mark.parametrize("mask_value", [0.0, -1.5])
def test_masking(mask_value, rng):
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    x[~mask_of(LENGTHS)] = mask_value
    x[0, 1, :2] = mask_value       # some features at mask_value do not make padding
    theirs = keras.layers.Masking(mask_value=mask_value)
    ours = seqnet.Masking(mask_value=mask_value)
    assert_close("Masking", theirs(x), ours.forward(x))
    keras_mask = to_numpy(theirs.compute_mask(x))
    np.testing.assert_array_equal(keras_mask, mask_of(ours.output_lengths(x, None)))
    np.testing.assert_array_equal(ours.output_lengths(x, None), LENGTHS)


def test_embedding_mask_zero(rng):
    tokens = rng.integers(1, 7, (B, T))
    tokens[~mask_of(LENGTHS)] = 0
    weight = nonzero(rng, (7, F))
    theirs = keras.layers.Embedding(7, F, mask_zero=True)
    theirs.build((None, T))
    theirs.set_weights([weight])            # embeddings = weight
    ours = seqnet.Embedding(7, F, mask_zero=True)
    ours.load_state_dict({"weight": weight})
    assert_close("Embedding(mask_zero=True)", theirs(tokens), ours.forward(tokens))
    keras_mask = to_numpy(theirs.compute_mask(tokens))
    np.testing.assert_array_equal(keras_mask, mask_of(ours.output_lengths(tokens, None)))
    np.testing.assert_array_equal(ours.output_lengths(tokens, None), LENGTHS)


def test_report_max_differences():
    """Prints the largest |keras - seqnet| of each test (run with -s), and checks it
    against the tolerance at the largest output of that test."""
    print()
    for name, (diff, scale) in DIFFS.items():
        print(f"{name:<36} max |diff| {diff:.2e}   max |keras| {scale:.2e}")
    assert all(d <= ATOL32 + RTOL32 * s for d, s in DIFFS.values())
