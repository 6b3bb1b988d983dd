"""The hand-derived backward of every sequence layer of issue 14, proven by float64
central differences (:func:`seqnet.check_gradients`): Dense over ranks 2 to 4,
RepeatVector, TimeDistributed around several layers, both global poolings,
LayerNormalization in each option, Masking and Embedding(mask_zero=True).

Every parameter (biases, gamma and beta random and non-zero) and every float input
is checked, with ``lengths`` wherever the layer takes them, and with NaN in the
padded steps: check_gradients perturbs those entries too, so a padded step that
reached the loss or a gradient would fail the check (NaN fails every tolerance).
Each case must pass at 1e-6 (DEFAULT_TOLERANCE). Run with ``-s`` to print the
worst error of each case (:func:`test_report_worst_errors`, last in the file).
"""

import numpy as np
import pytest

import seqnet
from seqnet.gradcheck import DEFAULT_TOLERANCE, check_gradients

F64 = np.float64
B, T, F = 3, 4, 3
LENGTHS = np.array([4, 1, 3])
#: the worst error and its tensor per case, filled as the cases run.
WORST = {}


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def with_nan_padding(x, lengths=LENGTHS):
    x = np.array(x, copy=True)
    for b, n in enumerate(lengths):
        x[b, n:] = np.nan
    return x


def randomise(layer, seed=5):
    """Every parameter drawn at random, away from 0 (a zero bias hides bias bugs)."""
    rng = np.random.default_rng(seed)
    for p in layer.params.values():
        p[...] = rng.uniform(0.3, 1.2, p.shape) * rng.choice([-1, 1], p.shape)
    return layer


def dense(units=2, activation="tanh", input_size=F, use_bias=True, seed=0):
    return randomise(seqnet.Dense(units, activation=activation, input_size=input_size,
                                  use_bias=use_bias, dtype=F64, seed=seed), seed + 1)


def norm(input_size=F, **kw):
    return randomise(seqnet.LayerNormalization(input_size=input_size, dtype=F64, **kw))


class Fixed:
    """A layer with call options fixed (Dense's ``logits=True``), or with its padded
    steps set to ``mask_value`` before Masking sees them (``pad=``): the checker
    passes no other options. ``params``, ``grads`` and ``rng`` are the layer's."""

    state_names = ()
    dtype = F64

    def __init__(self, layer, pad=None, **options):
        self.layer, self.pad, self.options = layer, pad, options

    @property
    def params(self):
        return self.layer.params

    @property
    def grads(self):
        return self.layer.grads

    @property
    def rng(self):
        return self.layer.rng

    def forward(self, x, *, training=False):
        if self.pad is not None:
            # padded steps all at mask_value: a perturbation there cannot make them
            # valid, so their numeric gradient is 0, which Masking's must match.
            x = np.where(self.pad[:, :, None], self.layer.mask_value, x)
        return self.layer.forward(x, training=training, **self.options)

    def backward(self, dout):
        return self.layer.backward(dout)


def masking_case(mask_value):
    pad = ~(np.arange(T) < LENGTHS[:, None])
    return Fixed(seqnet.Masking(mask_value, dtype=F64), pad=pad), rand((B, T, F), 3), None


#: name -> () -> (layer, x, lengths); the layer float64, its parameters random.
CASES = {
    # Dense over any rank: one product for all leading axes
    **{f"dense-rank{r}-{act}": (lambda r=r, act=act: (dense(activation=act),
                                                      rand((B, T, 2, F)[:r - 1] + (F,), 1)
                                                      if r > 2 else rand((B, F), 1), None))
       for r in (2, 3, 4) for act in ("linear", "tanh", "sigmoid", "softmax")},
    "dense-rank4-relu": lambda: (dense(activation="relu"), rand((B, T, 2, F), 1), None),
    "dense-rank4-no-bias": lambda: (dense(use_bias=False), rand((B, T, 2, F), 1), None),
    "dense-rank4-logits": lambda: (Fixed(dense(activation="softmax"), logits=True),
                                   rand((B, T, 2, F), 1), None),
    # RepeatVector
    "repeat-vector": lambda: (seqnet.RepeatVector(T, dtype=F64), rand((B, F), 2), None),
    # TimeDistributed: its params are the inner layer's
    "time-distributed-dense": lambda: (seqnet.TimeDistributed(dense()), rand((B, T, F), 4),
                                       None),
    "time-distributed-dense-lengths-nan": lambda: (
        seqnet.TimeDistributed(dense()), with_nan_padding(rand((B, T, F), 4)), LENGTHS),
    "time-distributed-dense-rank4-lengths": lambda: (
        seqnet.TimeDistributed(dense(activation="sigmoid")), rand((B, T, 2, F), 4), LENGTHS),
    "time-distributed-dropout-lengths": lambda: (
        seqnet.TimeDistributed(seqnet.Dropout(0.4, dtype=F64, seed=3)), rand((B, T, F), 4),
        LENGTHS),
    "time-distributed-dense-logits": lambda: (
        Fixed(seqnet.TimeDistributed(dense(activation="softmax")), logits=True),
        rand((B, T, F), 4), None),
    "time-distributed-softmax": lambda: (
        seqnet.TimeDistributed(seqnet.Activation("softmax", dtype=F64)), rand((B, T, F), 4),
        None),
    "time-distributed-layer-norm-lengths-nan": lambda: (
        seqnet.TimeDistributed(norm()), with_nan_padding(rand((B, T, F), 4)), LENGTHS),
    "time-distributed-nested": lambda: (
        seqnet.TimeDistributed(seqnet.TimeDistributed(dense())), rand((B, T, 2, F), 4),
        LENGTHS),
    # global pooling over each row's valid steps
    "average-pooling": lambda: (seqnet.GlobalAveragePooling1D(dtype=F64), rand((B, T, F), 6),
                                None),
    "average-pooling-lengths-nan": lambda: (seqnet.GlobalAveragePooling1D(dtype=F64),
                                            with_nan_padding(rand((B, T, F), 6)), LENGTHS),
    "max-pooling": lambda: (seqnet.GlobalMaxPooling1D(dtype=F64), rand((B, T, F), 7), None),
    "max-pooling-lengths-nan": lambda: (seqnet.GlobalMaxPooling1D(dtype=F64),
                                        with_nan_padding(rand((B, T, F), 7)), LENGTHS),
    # LayerNormalization, each option
    "layer-norm": lambda: (norm(), rand((B, T, F), 8), None),
    "layer-norm-rank2": lambda: (norm(5), rand((B, 5), 8), None),
    "layer-norm-rank4": lambda: (norm(), rand((B, T, 2, F), 8), None),
    "layer-norm-no-center": lambda: (norm(center=False), rand((B, T, F), 8), None),
    "layer-norm-no-scale": lambda: (norm(scale=False), rand((B, T, F), 8), None),
    "layer-norm-bare": lambda: (norm(center=False, scale=False), rand((B, T, F), 8), None),
    "layer-norm-eps1e-5": lambda: (norm(epsilon=1e-5), rand((B, T, F), 8), None),
    "layer-norm-lengths-nan": lambda: (norm(), with_nan_padding(rand((B, T, F), 8)), LENGTHS),
    # Masking (padded steps pinned at mask_value, see Fixed) and Embedding(mask_zero)
    "masking-0": lambda: masking_case(0.0),
    "masking-0.5": lambda: masking_case(0.5),
    "masking-no-padding": lambda: (seqnet.Masking(dtype=F64), rand((B, T, F), 9), None),
    "embedding-mask-zero": lambda: (
        randomise(seqnet.Embedding(5, 2, mask_zero=True, dtype=F64, seed=0)),
        np.array([[3, 1, 4, 2], [2, 0, 0, 0], [1, 2, 3, 0]]), None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_gradients(name):
    """Every parameter and float input agrees with central differences to 1e-6."""
    layer, x, lengths = CASES[name]()
    report = check_gradients(layer, x, lengths=lengths)
    expected = set(layer.params) | ({"x"} if np.asarray(x).dtype.kind == "f" else set())
    assert set(report.errors) == expected
    WORST[name] = (report.max_error, report.worst if report.errors else "-")
    assert report.passed(DEFAULT_TOLERANCE), report.errors


def test_padding_holding_nan_gets_a_zero_gradient():
    """The checker's analytic gradient of x is exactly 0 at NaN-holding padded steps
    (and finite everywhere), for each layer that takes lengths."""
    for name in [n for n in CASES if n.endswith("-nan")]:
        layer, x, lengths = CASES[name]()
        report = check_gradients(layer, x, lengths=lengths)
        dx = report.analytic["x"]
        assert np.isfinite(dx).all(), name
        assert (dx[np.isnan(x)] == 0).all(), name


def test_a_wrong_backward_fails_the_check():
    """The check can fail: a LayerNormalization without the mean term of its dx."""

    class Broken(seqnet.LayerNormalization):
        def call_backward(self, dout, dstate):
            dx, _ = super().call_backward(dout, dstate)
            xhat, rstd, _ = self._cache
            g = dout * self.params["weight"]
            return dx + rstd * g.mean(axis=-1, keepdims=True), ()

    layer = randomise(Broken(input_size=F, dtype=F64))
    assert not check_gradients(layer, rand((B, T, F), 8)).passed(DEFAULT_TOLERANCE)


def test_report_worst_errors():
    """Prints the worst error per case (run with -s); every case ran and passed."""
    width = max(map(len, CASES))
    print(f"\n{'case':<{width}}  worst error  tensor")
    for name in CASES:
        if name in WORST:
            err, tensor = WORST[name]
            print(f"{name:<{width}}  {err:11.2e}  {tensor}")
    assert all(err <= DEFAULT_TOLERANCE for err, _ in WORST.values())
