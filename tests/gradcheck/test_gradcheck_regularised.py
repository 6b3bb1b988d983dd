"""The regularised cells' hand-derived backward (issue 15), proven by float64 central
differences (:func:`seqnet.check_gradients`): input_dropout, recurrent_dropout,
zoneout, cell_zoneout (LSTM) and weight_dropout on every cell and variant, each on
its own with and without lengths, in one direction and both; every option together
on two stacked bidirectional layers; a few pairs; row blocks and packed weights
(the parallel plan); and a model holding a Bidirectional wrapper, whose inner
layer's rng the checker finds and restores.

Every parameter, the input and a random initial state are checked, with the masks
held fixed: check_gradients restores every rng before each forward. Each case must
pass at 1e-6 (DEFAULT_TOLERANCE). Run with ``-s`` to print the worst error of each
option (:func:`test_report_worst_errors`, last in the file).
"""

import numpy as np
import pytest

import seqnet
from seqnet import _dispatch, variants
from seqnet.gradcheck import DEFAULT_TOLERANCE, check_gradients

F64 = np.float64
B, T, I, H = 3, 5, 3, 4
LENGTHS = np.array([5, 2, 4])
OPTIONS = ("input_dropout", "recurrent_dropout", "zoneout", "weight_dropout", "cell_zoneout")
#: the worst error and its tensor per case, and the cases' option labels.
WORST, LABELS = {}, {}


def layer_of(cell, num_layers=1, bidirectional=False, seed=0, **kw):
    layer = variants.get(cell).make(H, input_size=I, num_layers=num_layers,
                                    bidirectional=bidirectional, return_state=True,
                                    dtype=F64, seed=seed, **kw)
    rng = np.random.default_rng(seed + 1)
    for p in layer.params.values():
        p[...] = rng.uniform(-0.8, 0.8, p.shape)
    return layer


def check(name, label, layer, lengths, seed=0):
    rng = np.random.default_rng(seed + 2)
    x = rng.standard_normal((B, T, I))
    shape = (layer.num_layers * layer.num_directions, B, H)
    state = [0.5 * rng.standard_normal(shape) for _ in layer.state_names]
    report = check_gradients(layer, x, state if len(state) > 1 else state[0],
                             lengths=LENGTHS if lengths else None, seed=seed)
    WORST[name] = (report.max_error, report.worst)
    LABELS[name] = label
    assert report.passed(DEFAULT_TOLERANCE), report.errors
    return report


SINGLE = [(cell, option, lengths, bi)
          for cell in variants.NAMES for option in OPTIONS
          if option != "cell_zoneout" or cell == "lstm"
          for lengths in (False, True) for bi in (False, True)]


@pytest.mark.parametrize("cell,option,lengths,bi", SINGLE)
def test_each_option_alone(cell, option, lengths, bi):
    layer = layer_of(cell, bidirectional=bi, **{option: 0.4})
    name = f"{cell}-{option}-{'bi' if bi else 'uni'}" + ("-lengths" if lengths else "")
    check(name, option, layer, lengths)


def all_options(cell):
    kw = dict(input_dropout=0.3, recurrent_dropout=0.3, zoneout=0.3, weight_dropout=0.3)
    if cell == "lstm":
        kw["cell_zoneout"] = 0.3
    return kw


@pytest.mark.parametrize("cell", variants.NAMES)
def test_every_option_together_stacked_and_bidirectional(cell):
    """Two layers (the second's input dropout on the first's output), between-layer
    dropout too, both directions, lengths."""
    layer = layer_of(cell, num_layers=2, bidirectional=True, dropout=0.3, **all_options(cell))
    check(f"{cell}-all-L2-bi-lengths", "all together", layer, True)


PAIRS = [("lstm", dict(recurrent_dropout=0.4, zoneout=0.3)),
         ("lstm", dict(zoneout=0.3, cell_zoneout=0.5)),
         ("gru", dict(recurrent_dropout=0.4, zoneout=0.3)),
         ("gru-v1", dict(recurrent_dropout=0.4, zoneout=0.3)),
         ("rnn-tanh", dict(input_dropout=0.3, recurrent_dropout=0.4)),
         ("rnn-relu", dict(recurrent_dropout=0.4, weight_dropout=0.3, zoneout=0.3))]


@pytest.mark.parametrize("cell,kw", PAIRS)
def test_pairs_of_options_stacked(cell, kw):
    layer = layer_of(cell, num_layers=2, **kw)
    check(f"{cell}-{'+'.join(kw)}-L2", "pairs", layer, True)


@pytest.mark.parametrize("cell", variants.NAMES)
def test_row_blocks_and_packed_weights(cell):
    """The parallel plan: one block of rows per thread, W_hh packed for the register
    tile, the zoneout masks hashed from the absolute row."""
    layer = layer_of(cell, bidirectional=True, **all_options(cell))
    with _dispatch.parallel_mode("parallel"):
        check(f"{cell}-all-bi-parallel", "all together", layer, True)


@pytest.mark.parametrize("cell", variants.NAMES)
def test_index_input_with_every_option(cell):
    """Integer input: input dropout scales each gathered column of W_ih by its
    token's mask (the one-hot input's maths); every weight and the initial state
    are checked (indices have no gradient)."""
    V = 6
    layer = variants.get(cell).make(H, input_size=V, bidirectional=True, return_state=True,
                                    dtype=F64, seed=0, **all_options(cell))
    rng = np.random.default_rng(1)
    for p in layer.params.values():
        p[...] = rng.uniform(-0.8, 0.8, p.shape)
    x = rng.integers(0, V, (B, T))
    state = [0.5 * rng.standard_normal((2, B, H)) for _ in layer.state_names]
    report = check_gradients(layer, x, state if len(state) > 1 else state[0],
                             lengths=LENGTHS)
    name = f"{cell}-all-bi-lengths-index"
    WORST[name], LABELS[name] = (report.max_error, report.worst), "index input"
    assert "weight_ih_l0" in report.errors
    assert report.passed(DEFAULT_TOLERANCE), report.errors


def test_a_model_with_a_wrapped_layer_holds_its_masks_fixed():
    """Bidirectional keeps its running layer inside: the checker restores that
    layer's rng (and every other) before each forward."""
    inp = seqnet.Input((T, I), dtype=F64)
    wrapped = seqnet.Bidirectional(seqnet.LSTM(H, recurrent_dropout=0.4, zoneout=0.3,
                                               cell_zoneout=0.3, input_dropout=0.2,
                                               weight_dropout=0.3, dtype=F64, seed=0))
    out = seqnet.Dense(2, dtype=F64, seed=1)(wrapped(inp))
    model = seqnet.Model(inp, out)
    rng = np.random.default_rng(3)
    for p in model.params.values():
        p[...] = rng.uniform(-0.8, 0.8, p.shape)
    x = rng.standard_normal((B, T, I))
    report = check_gradients(model, x)
    WORST["model-bidirectional-lstm-all"] = (report.max_error, report.worst)
    LABELS["model-bidirectional-lstm-all"] = "model"
    assert report.passed(DEFAULT_TOLERANCE), report.errors


def test_report_worst_errors():
    """Prints the worst error per option, then per case (run with -s); every case ran
    and passed."""
    by_label = {}
    for name, (err, tensor) in WORST.items():
        label = LABELS[name]
        if label not in by_label or err > by_label[label][0]:
            by_label[label] = (err, f"{name}: {tensor}")
    print(f"\n{'option':<18}  worst error  case: tensor")
    for label, (err, where) in sorted(by_label.items()):
        print(f"{label:<18}  {err:11.2e}  {where}")
    width = max(map(len, WORST), default=4)
    print(f"\n{'case':<{width}}  worst error  tensor")
    for name, (err, tensor) in WORST.items():
        print(f"{name:<{width}}  {err:11.2e}  {tensor}")
    assert WORST and all(err <= DEFAULT_TOLERANCE for err, _ in WORST.values())
