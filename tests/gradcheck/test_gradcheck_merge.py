"""The backward passes of Concatenate, Add, Attention, AdditiveAttention and
Bidirectional, proven by float64 central differences (:func:`seqnet.check_gradients`):
every parameter, every input and every initial state, for every option, masks
included.

Padding holds NaN wherever lengths are given: the check then also proves that
the padding reaches no output (the loss would be NaN) and no gradient (a NaN
analytic gradient fails every tolerance). Dropout is checked seeded: the checker
restores the layer's ``rng`` before every forward, so each sees the same mask.

Run with ``-s`` to see the worst error per layer and option
(:func:`test_report_worst_errors`).
"""

import itertools

import numpy as np
import pytest

import seqnet
from seqnet.gradcheck import DEFAULT_TOLERANCE, check_gradients

B, T, TQ, F, H = 3, 5, 4, 3, 4
LENGTHS = np.array([5, 2, 4])
Q_LENGTHS = np.array([4, 1, 3])

#: label -> (worst error, the tensor that has it), filled by the tests below.
WORST = {}


class WithOptions:
    """A layer with call options fixed (``return_attention_scores``,
    ``use_causal_mask``), for check_gradients, which passes only ``lengths``.
    ``params``, ``grads`` and ``rng`` are read through to the layer."""

    state_names = ()

    def __init__(self, layer, **options):
        self.layer, self.options = layer, options

    params = property(lambda self: self.layer.params)
    grads = property(lambda self: self.layer.grads)
    dtype = property(lambda self: self.layer.dtype)
    rng = property(lambda self: self.layer.rng)

    def forward(self, x, *, training=False, **kw):
        return self.layer.forward(x, training=training, **kw, **self.options)

    def backward(self, dout):
        return self.layer.backward(dout)


def nan_padded(rng, shape, lengths):
    x = rng.standard_normal(shape)
    if lengths is not None:
        x[np.arange(shape[1]) >= lengths[:, None]] = np.nan
    return x


def record(label, report, expected):
    assert set(report.errors) == expected, report.errors
    WORST[label] = (report.max_error, report.worst)
    assert report.passed(DEFAULT_TOLERANCE), report.errors


# -------------------------------------------------------------------------- merges
MERGE_CASES = {
    # label: (layer, input shapes, lengths per input)
    "Concatenate features": (lambda: seqnet.Concatenate(dtype=np.float64),
                             [(B, T, 3), (B, T, 2)], [None, None]),
    "Concatenate features lengths": (lambda: seqnet.Concatenate(dtype=np.float64),
                                     [(B, T, 3), (B, T, 2), (B, T, 1)],
                                     [LENGTHS, None, np.array([3, 5, 1])]),
    "Concatenate 2-D": (lambda: seqnet.Concatenate(dtype=np.float64),
                        [(B, 3), (B, 4)], [None, None]),
    "Concatenate time lengths": (lambda: seqnet.Concatenate(axis=1, dtype=np.float64),
                                 [(B, 2, F), (B, T, F)], [None, LENGTHS]),
    "Add": (lambda: seqnet.Add(dtype=np.float64), [(B, T, F)] * 3, [None] * 3),
    "Add lengths": (lambda: seqnet.Add(dtype=np.float64), [(B, T, F)] * 2,
                    [LENGTHS, np.array([5, 5, 3])]),
}


@pytest.mark.parametrize("label", list(MERGE_CASES))
def test_merge_gradients(label, rng):
    make, shapes, lengths = MERGE_CASES[label]
    xs = [nan_padded(rng, s, ln) for s, ln in zip(shapes, lengths, strict=True)]
    report = check_gradients(make(), xs, lengths=None if all(ln is None for ln in lengths)
                             else lengths)
    record(label, report, {f"x[{i}]" for i in range(len(xs))})


# ----------------------------------------------------------------------- attention
ATTENTIONS = {
    "Attention dot": lambda: seqnet.Attention(dtype=np.float64),
    "Attention dot scale": lambda: seqnet.Attention(use_scale=True, dtype=np.float64),
    "Attention concat": lambda: seqnet.Attention(score_mode="concat", dtype=np.float64),
    "Attention concat scale": lambda: seqnet.Attention(score_mode="concat", use_scale=True,
                                                       dtype=np.float64),
    "AdditiveAttention scale": lambda: seqnet.AdditiveAttention(dtype=np.float64, seed=0),
    "AdditiveAttention": lambda: seqnet.AdditiveAttention(use_scale=False, dtype=np.float64),
}
FLAGS = list(itertools.product([False, True], repeat=4))


def _attention_label(name, key, masks, causal, scores, dropout=0.0):
    parts = [name, "key" if key else "", "masks" if masks else "", "causal" if causal else "",
             "scores" if scores else "", f"dropout{dropout}" if dropout else ""]
    return " ".join(p for p in parts if p)


def _attention_check(name, key, masks, causal, scores, rng, dropout=0.0):
    layer = ATTENTIONS[name]()
    if dropout:
        layer = type(layer).from_config({**layer.get_config(), "dropout": dropout, "seed": 7})
    q = nan_padded(rng, (B, TQ, F), Q_LENGTHS if masks else None)
    v = nan_padded(rng, (B, T, 2 if key else F), LENGTHS if masks else None)
    xs = [q, v]
    lengths = [Q_LENGTHS, LENGTHS] if masks else None
    if key:
        xs.append(nan_padded(rng, (B, T, F), LENGTHS if masks else None))
        lengths = lengths and [Q_LENGTHS, LENGTHS, np.array([5, 1, 4])]
    layer.forward(xs, lengths=lengths)              # builds AdditiveAttention's scale
    for p in layer.params.values():
        p[...] = rng.uniform(0.5, 1.5, p.shape)      # away from the initial ones
    report = check_gradients(WithOptions(layer, return_attention_scores=scores,
                                         use_causal_mask=causal), xs, lengths=lengths)
    expected = set(layer.params) | {f"x[{i}]" for i in range(len(xs))}
    record(_attention_label(name, key, masks, causal, scores, dropout), report, expected)


@pytest.mark.parametrize("key, masks, causal, scores", FLAGS,
                         ids=lambda f: "T" if f else "F")
@pytest.mark.parametrize("name", list(ATTENTIONS))
def test_attention_gradients(name, key, masks, causal, scores, rng):
    """Every score function, with and without a key, masks (NaN padding), the
    causal mask and the scores as a second output."""
    _attention_check(name, key, masks, causal, scores, rng)


@pytest.mark.parametrize("name", ["Attention dot scale", "AdditiveAttention scale"])
def test_attention_gradients_with_seeded_dropout(name, rng):
    _attention_check(name, True, True, True, True, rng, dropout=0.4)


# ------------------------------------------------------------------- Bidirectional
CELLS = {"LSTM": lambda **kw: seqnet.LSTM(H, **kw),
         "GRU": lambda **kw: seqnet.GRU(H, **kw),
         "GRU reset_before": lambda **kw: seqnet.GRU(H, reset_after=False, **kw),
         "SimpleRNN": lambda **kw: seqnet.SimpleRNN(H, **kw)}
MERGE_MODES = ["concat", "sum", "mul", "ave", None]


def _bidirectional(cell, merge_mode, return_sequences, return_state, rng, **kw):
    bi = seqnet.Bidirectional(CELLS[cell](return_sequences=return_sequences,
                                          return_state=return_state, dtype=np.float64,
                                          seed=0, **kw), merge_mode=merge_mode)
    bi.build((T, F))
    for p in bi.params.values():
        p[...] = rng.uniform(-0.8, 0.8, p.shape)
    return bi


@pytest.mark.parametrize("return_state", [False, True], ids=["nostate", "state"])
@pytest.mark.parametrize("lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("return_sequences", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("merge_mode", MERGE_MODES)
@pytest.mark.parametrize("cell", list(CELLS))
def test_bidirectional_gradients(cell, merge_mode, return_sequences, lengths, return_state,
                                 rng):
    """Every cell and merge mode, the whole sequence or its last step, NaN padding
    past the lengths, the final states as outputs, and a random initial state."""
    bi = _bidirectional(cell, merge_mode, return_sequences, return_state, rng)
    lens = LENGTHS if lengths else None
    x = nan_padded(rng, (B, T, F), lens)
    state = [0.5 * rng.standard_normal((1, B, H)) for _ in bi.state_names]
    report = check_gradients(bi, x, state, lengths=lens)
    label = " ".join([f"Bidirectional({cell})", str(merge_mode),
                      "seq" if return_sequences else "last"]
                     + (["lengths"] if lengths else []) + (["state"] if return_state else []))
    expected = (set(bi.params) | {"x"}
                | {f"initial_state[{m}]" for m in range(len(bi.state_names))})
    record(label, report, expected)


@pytest.mark.parametrize("merge_mode", ["concat", "mul"])
def test_bidirectional_gradients_from_the_zero_state_and_index_input(merge_mode, rng):
    """The checker's own zero initial state (taken from the layer's call), and
    integer input (no input gradient; the weights' are checked)."""
    bi = _bidirectional("LSTM", merge_mode, True, True, rng)
    report = check_gradients(bi, rng.standard_normal((B, T, F)), lengths=LENGTHS)
    record(f"Bidirectional(LSTM) {merge_mode} seq lengths state zero-state", report,
           set(bi.params) | {"x"} | {f"initial_state[{m}]" for m in range(4)})
    bi = _bidirectional("GRU", merge_mode, False, False, rng, input_size=6)
    report = check_gradients(bi, rng.integers(0, 6, (B, T)), lengths=LENGTHS)
    record(f"Bidirectional(GRU) {merge_mode} last lengths index-input", report,
           set(bi.params) | {"initial_state[0]", "initial_state[1]"})


def test_report_worst_errors():
    """Print the worst error per layer and option (run with -s); the cases above
    each asserted theirs."""
    if not WORST:
        pytest.skip("run with the cases above")
    by_layer = {}
    for label, (err, tensor) in WORST.items():
        layer = label.split(" ")[0]
        if err >= by_layer.get(layer, (-1.0, ""))[0]:
            by_layer[layer] = (err, f"{label} [{tensor}]")
    width = max(len(k) for k in WORST)
    print()
    for label, (err, tensor) in sorted(WORST.items()):
        print(f"{label:<{width}}  {err:.2e}  {tensor}")
    print("\nworst per layer:")
    for layer, (err, where) in sorted(by_layer.items()):
        print(f"{layer:<28} {err:.2e}  {where}")
    assert all(err <= DEFAULT_TOLERANCE for err, _ in WORST.values())
