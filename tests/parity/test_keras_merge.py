"""Keras 3 as the oracle of Concatenate, Add, Attention, AdditiveAttention and
Bidirectional: the same weights in both, float32, outputs within rtol = atol = 1e-5.

Keras's masks are seqnet's ``lengths`` (trailing padding: ``mask[b, t] = t <
lengths[b]``). Every weight and bias is drawn at random (a zero bias hides bias
bugs); the padding holds random numbers, which Keras reads and seqnet does not:

- Attention, AdditiveAttention: Keras zeroes the output at a padded query step
  but still returns softmax scores there; seqnet returns zero scores at those
  rows (a padded step's NaN must reach nothing). The scores are compared at the
  valid query steps, the outputs everywhere.
- Concatenate, Add: the output's mask is Keras 3's ``compute_mask`` (an OR of the
  inputs' masks); the values are compared where Keras and seqnet both compute
  them from valid steps, i.e. with zero padding (seqnet reads a padded input as
  zeros, Keras reads whatever is there).

Weight mapping, Keras -> seqnet (PyTorch's layouts):

- LSTM: Keras ``kernel (I, 4H)``, ``recurrent_kernel (H, 4H)``, ``bias (4H,)``,
  gates i, f, c, o = seqnet's i, f, g, o: ``weight_ih = kernel.T``, ``weight_hh =
  recurrent_kernel.T``, ``bias_ih = bias``, ``bias_hh = 0``.
- GRU: Keras gates z, r, h; seqnet r, z, n: every gate block is reordered.
  ``reset_after=True``: ``bias (2, 3H)`` is ``[input bias, recurrent bias]`` =
  ``bias_ih``, ``bias_hh``; ``reset_after=False``: one ``bias (3H,)`` =
  ``bias_ih``, ``bias_hh = 0`` (Keras adds the whole bias to the input part).
- Bidirectional: Keras's ``forward_layer`` -> suffix ``_l0``, ``backward_layer``
  -> ``_l0_reverse``. Keras's states are ``(B, H)``; seqnet's ``(1, B, H)``.

Run with ``-s`` to see the largest difference per layer and option
(:func:`test_report_max_differences`).
"""

import itertools

import numpy as np
import pytest

import seqnet

from .keras_oracle import ATOL32, RTOL32, keras, to_numpy

#: Keras 3.15 converts its torch tensors and variables with ``np.array(x)``, which
#: NumPy 2.4 warns about (the tensors' ``__array__`` takes no ``copy``): Keras's
#: own warning, not seqnet's, and an error under ``filterwarnings = error``.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

B, T, TQ, F, H = 3, 6, 4, 5, 4
LENGTHS = np.array([6, 2, 4])
Q_LENGTHS = np.array([4, 1, 3])

#: label -> largest absolute difference, filled by the tests below.
MAX_DIFF = {}


def mask_of(lengths, steps):
    return np.arange(steps) < np.asarray(lengths)[:, None]


def compare(label, got, want, where=None):
    """Assert ``got`` equals Keras's ``want`` (at ``where``) and record the largest
    difference under ``label``."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (label, got.shape, want.shape)
    if where is not None:
        got, want = got[where], want[where]
    np.testing.assert_allclose(got, want, rtol=RTOL32, atol=ATOL32, err_msg=label)
    diff = float(np.abs(got.astype(np.float64) - want).max(initial=0.0))
    MAX_DIFF[label] = max(MAX_DIFF.get(label, 0.0), diff)


def lengths_of(keras_mask, steps):
    """A Keras mask as lengths (None: no mask), after checking it is trailing
    padding."""
    if keras_mask is None:
        return None
    m = to_numpy(keras_mask).astype(bool)
    lengths = m.sum(axis=1)
    np.testing.assert_array_equal(m, mask_of(lengths, steps))
    return lengths


# ----------------------------------------------------------------------- weights
def _gru_blocks(a, H):
    """Keras's gate blocks z, r, h (last axis) in seqnet's order r, z, n."""
    return np.concatenate([a[..., H:2 * H], a[..., :H], a[..., 2 * H:]], axis=-1)


def keras_to_seqnet(cell, weights, H):
    """One direction's Keras weights (``layer.get_weights()``) as seqnet's
    ``{weight_ih, weight_hh, bias_ih, bias_hh}`` (suffix-free)."""
    kernel, recurrent, bias = weights
    if cell == "LSTM":      # i, f, c, o in both: transpose only
        return {"weight_ih": kernel.T, "weight_hh": recurrent.T, "bias_ih": bias,
                "bias_hh": np.zeros_like(bias)}
    out = {"weight_ih": _gru_blocks(kernel, H).T, "weight_hh": _gru_blocks(recurrent, H).T}
    if bias.ndim == 2:      # reset_after=True: [input bias, recurrent bias]
        out["bias_ih"], out["bias_hh"] = _gru_blocks(bias[0], H), _gru_blocks(bias[1], H)
    else:
        out["bias_ih"], out["bias_hh"] = _gru_blocks(bias, H), np.zeros_like(bias)
    return out


def randomize_keras(layer, rng, scale=0.5):
    """Random values for every weight of a built Keras layer; returns them."""
    values = [rng.uniform(-scale, scale, w.shape).astype(np.float32)
              for w in layer.get_weights()]
    layer.set_weights(values)
    return values


# -------------------------------------------------------------------------- merges
@pytest.mark.parametrize("axis, shapes", [
    (-1, [(B, T, 3), (B, T, 2)]),
    (-1, [(B, T, 3), (B, T, 2), (B, T, 1)]),
    (1, [(B, 2, F), (B, T, F)]),
    (-1, [(B, 3), (B, 4)]),
])
def test_concatenate(axis, shapes, rng):
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    want = to_numpy(keras.layers.Concatenate(axis=axis)(xs))
    compare(f"Concatenate axis={axis}", seqnet.Concatenate(axis=axis).forward(xs), want)


@pytest.mark.parametrize("lengths", [[LENGTHS, np.array([5, 3, 1])], [None, LENGTHS],
                                     [LENGTHS, None, LENGTHS]])
def test_concatenate_and_add_masks(lengths, rng):
    """Keras 3's output mask (``compute_mask``) is seqnet's ``output_lengths``; the
    values agree when the padding is zero."""
    xs = []
    for ln in lengths:
        x = rng.standard_normal((B, T, F)).astype(np.float32)
        if ln is not None:
            x[~mask_of(ln, T)] = 0.0
        xs.append(x)
    masks = [None if ln is None else mask_of(ln, T) for ln in lengths]
    for name in ("Concatenate", "Add"):
        k_layer, s_layer = getattr(keras.layers, name)(), getattr(seqnet, name)()
        want_len = lengths_of(k_layer.compute_mask(xs, masks), T)
        got_len = s_layer.output_lengths(xs, lengths)
        # None: no padding, as a mask that is True everywhere (Keras's Concatenate)
        full = np.full(B, T)
        np.testing.assert_array_equal(full if got_len is None else got_len,
                                      full if want_len is None else want_len, err_msg=name)
        compare(f"{name} masks", s_layer.forward(xs, lengths=lengths), to_numpy(k_layer(xs)))


def test_add(rng):
    xs = [rng.standard_normal((B, T, F)).astype(np.float32) for _ in range(3)]
    compare("Add", seqnet.Add().forward(xs), to_numpy(keras.layers.Add()(xs)))


# ----------------------------------------------------------------------- attention
def _attention_inputs(rng, key, dv):
    q = rng.standard_normal((B, TQ, F)).astype(np.float32)
    v = rng.standard_normal((B, T, dv if key else F)).astype(np.float32)
    xs = [q, v]
    if key:
        xs.append(rng.standard_normal((B, T, F)).astype(np.float32))
    return xs


def _attention_parity(label, k_layer, s_layer, xs, masks, causal):
    lengths = None
    k_mask = None
    if masks:
        lengths = [Q_LENGTHS, LENGTHS] + ([LENGTHS] if len(xs) == 3 else [])
        k_mask = [mask_of(Q_LENGTHS, TQ), mask_of(LENGTHS, T)]
    k_out, k_scores = k_layer(xs, mask=k_mask, return_attention_scores=True,
                              use_causal_mask=causal)
    s_out, s_scores = s_layer.forward(xs, lengths=lengths, return_attention_scores=True,
                                      use_causal_mask=causal)
    compare(label, s_out, to_numpy(k_out))
    rows = mask_of(Q_LENGTHS, TQ) if masks else np.ones((B, TQ), bool)
    compare(label + " scores", s_scores, to_numpy(k_scores), where=rows)
    assert np.all(s_scores[~rows] == 0)
    if masks:
        np.testing.assert_array_equal(s_layer.output_lengths(xs, lengths), lengths_of(
            k_layer.compute_mask(xs, k_mask), TQ))


@pytest.mark.parametrize("key, masks, causal", list(itertools.product([False, True],
                                                                         repeat=3)))
@pytest.mark.parametrize("use_scale, score_mode", [(False, "dot"), (True, "dot"),
                                                   (False, "concat"), (True, "concat")])
def test_attention(use_scale, score_mode, key, masks, causal, rng):
    xs = _attention_inputs(rng, key, dv=3)
    k_layer = keras.layers.Attention(use_scale=use_scale, score_mode=score_mode)
    k_layer(xs)
    s_layer = seqnet.Attention(use_scale=use_scale, score_mode=score_mode)
    if use_scale:
        k_layer.scale.assign(np.float32(0.7))
        s_layer.params["scale"][...] = 0.7
    if score_mode == "concat":
        k_layer.concat_score_weight.assign(np.float32(1.3))
        s_layer.params["concat_score_weight"][...] = 1.3
    label = " ".join(["Attention", score_mode] + ["scale"] * use_scale + ["key"] * key
                     + ["masks"] * masks + ["causal"] * causal)
    _attention_parity(label, k_layer, s_layer, xs, masks, causal)


@pytest.mark.parametrize("key, masks, causal", list(itertools.product([False, True],
                                                                         repeat=3)))
@pytest.mark.parametrize("use_scale", [True, False])
def test_additive_attention(use_scale, key, masks, causal, rng):
    xs = _attention_inputs(rng, key, dv=2)
    k_layer = keras.layers.AdditiveAttention(use_scale=use_scale)
    k_layer(xs)
    s_layer = seqnet.AdditiveAttention(use_scale=use_scale, seed=0)
    if use_scale:
        scale = rng.uniform(-1, 1, F).astype(np.float32)
        k_layer.scale.assign(scale)
        s_layer.build([x.shape[1:] for x in xs])
        s_layer.params["scale"][...] = scale
    label = " ".join(["AdditiveAttention"] + ["scale"] * use_scale + ["key"] * key
                     + ["masks"] * masks + ["causal"] * causal)
    _attention_parity(label, k_layer, s_layer, xs, masks, causal)


# ------------------------------------------------------------------- Bidirectional
KERAS_CELLS = {"LSTM": (lambda **kw: keras.layers.LSTM(H, **kw),
                        lambda **kw: seqnet.LSTM(H, **kw)),
               "GRU": (lambda **kw: keras.layers.GRU(H, **kw),
                       lambda **kw: seqnet.GRU(H, **kw)),
               "GRU reset_before": (lambda **kw: keras.layers.GRU(H, reset_after=False, **kw),
                                    lambda **kw: seqnet.GRU(H, reset_after=False, **kw))}


def _bidirectional_pair(cell, merge_mode, return_sequences, return_state, x, rng):
    make_k, make_s = KERAS_CELLS[cell]
    opts = dict(return_sequences=return_sequences, return_state=return_state)
    k_bi = keras.layers.Bidirectional(make_k(**opts), merge_mode=merge_mode)
    k_bi(x)
    state = {}
    for layer, sfx in ((k_bi.forward_layer, "_l0"), (k_bi.backward_layer, "_l0_reverse")):
        weights = randomize_keras(layer, rng)
        state.update({k + sfx: v for k, v in
                      keras_to_seqnet(cell.split()[0], weights, H).items()})
    s_bi = seqnet.Bidirectional(make_s(**opts), merge_mode=merge_mode)
    s_bi.load_state_dict(state)
    return k_bi, s_bi


@pytest.mark.parametrize("return_state", [False, True], ids=["nostate", "state"])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "mask"])
@pytest.mark.parametrize("return_sequences", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("cell", list(KERAS_CELLS))
def test_bidirectional(cell, merge_mode, return_sequences, masked, return_state, rng):
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    k_bi, s_bi = _bidirectional_pair(cell, merge_mode, return_sequences, return_state, x, rng)
    mask = mask_of(LENGTHS, T) if masked else None
    want = k_bi(x, mask=mask)
    got = s_bi.forward(x, lengths=LENGTHS if masked else None)
    want = [to_numpy(w) for w in (want if isinstance(want, (list, tuple)) else [want])]
    got = got if isinstance(got, list) else [got]
    assert len(got) == len(want) == s_bi.num_outputs
    n_out = 2 if merge_mode is None else 1
    label = " ".join([f"Bidirectional({cell})", str(merge_mode),
                      "seq" if return_sequences else "last"]
                     + ["mask"] * masked + ["state"] * return_state)
    for g, w in zip(got[:n_out], want[:n_out], strict=True):
        compare(label, g, w)
    for g, w in zip(got[n_out:], want[n_out:], strict=True):   # (1, B, H) vs (B, H)
        compare(label + " states", g[0], w)


@pytest.mark.parametrize("cell", list(KERAS_CELLS))
def test_bidirectional_initial_state(cell, rng):
    """``initial_state=[fh, (fc,) bh, (bc)]``: Keras's first half starts the forward
    layer, the second the backward one."""
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    k_bi, s_bi = _bidirectional_pair(cell, "concat", True, True, x, rng)
    n = 2 * (2 if cell == "LSTM" else 1)
    state = [rng.standard_normal((B, H)).astype(np.float32) for _ in range(n)]
    want = [to_numpy(w) for w in k_bi(x, initial_state=state, mask=mask_of(LENGTHS, T))]
    got = s_bi.forward(x, [s[None] for s in state], lengths=LENGTHS)
    label = f"Bidirectional({cell}) initial_state mask"
    compare(label, got[0], want[0])
    for g, w in zip(got[1:], want[1:], strict=True):
        compare(label + " states", g[0], w)


def test_report_max_differences():
    """Print the largest difference per layer and option (run with -s)."""
    if not MAX_DIFF:
        pytest.skip("run with the cases above")
    width = max(len(k) for k in MAX_DIFF)
    print()
    for label, diff in sorted(MAX_DIFF.items()):
        print(f"{label:<{width}}  {diff:.2e}")
    assert all(np.isfinite(d) for d in MAX_DIFF.values())
