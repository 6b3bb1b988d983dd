"""Layers of several inputs (Concatenate, Add, Attention, AdditiveAttention) and the
Bidirectional wrapper: shapes, errors, configs, dtypes, masks (lengths), the call
options and the wrapper's output structure.

Gradients are proven in tests/gradcheck/test_gradcheck_merge.py and Keras 3 is the
oracle in tests/parity/test_keras_merge.py; here each layer is also checked against
an obvious NumPy version (loops over rows and steps) or an independent run of the
recurrent layers it is made of.
"""

import json

import numpy as np
import pytest

import seqnet
from seqnet.layers import deserialize, serialize

B, T, F = 3, 6, 4
LENGTHS = np.array([6, 2, 4])
DTYPES = [np.float32, np.float64]


def padded(rng, shape, lengths, fill=np.nan, dtype=np.float64):
    """Random data, ``fill`` (NaN, inf) at each row's steps past its length."""
    x = rng.standard_normal(shape).astype(dtype)
    if lengths is not None:
        x[np.arange(shape[1]) >= np.asarray(lengths)[:, None]] = fill
    return x


def roundtrip(layer):
    """The layer through serialize -> JSON -> deserialize."""
    return deserialize(json.loads(json.dumps(serialize(layer))))


# ---------------------------------------------------------------------- Concatenate
@pytest.mark.parametrize("dtype", DTYPES)
def test_concatenate_joins_features_and_time_in_the_input_dtype(dtype, rng):
    a = rng.standard_normal((B, T, 3)).astype(dtype)
    b = rng.standard_normal((B, T, 5)).astype(dtype)
    out = seqnet.Concatenate().forward([a, b])
    assert out.dtype == dtype and out.shape == (B, T, 8)
    np.testing.assert_array_equal(out, np.concatenate([a, b], axis=-1))
    c = rng.standard_normal((B, 2, 3)).astype(dtype)
    out = seqnet.Concatenate(axis=1).forward([a, c, a])
    np.testing.assert_array_equal(out, np.concatenate([a, c, a], axis=1))
    # the weightless layer computes in its inputs' dtype, whatever its own dtype
    out = seqnet.Concatenate(dtype=np.float64 if dtype == np.float32 else np.float32
                             ).forward([a, b])
    assert out.dtype == dtype


def test_concatenate_backward_splits_dout(rng):
    a, b = rng.standard_normal((B, T, 3)), rng.standard_normal((B, T, 5))
    layer = seqnet.Concatenate()
    layer.forward([a, b], training=True)
    dout = rng.standard_normal((B, T, 8))
    da, db = layer.backward(dout)
    np.testing.assert_array_equal(da, dout[..., :3])
    np.testing.assert_array_equal(db, dout[..., 3:])
    da[...] = 0   # the gradients are the layer's own arrays, not views of dout
    assert np.all(dout[..., :3] != 0)


def test_concatenate_output_shape():
    assert seqnet.Concatenate().output_shape([(None, 3), (None, 5)]) == (None, 8)
    assert seqnet.Concatenate(axis=1).output_shape([(4, 3), (2, 3)]) == (6, 3)
    assert seqnet.Concatenate(axis=1).output_shape([(None, 3), (2, 3)]) == (None, 3)
    assert seqnet.Concatenate().output_shape([(7,), (2,), (1,)]) == (10,)


@pytest.mark.parametrize("shapes, match", [
    ([(5, 3), (4, 2)], r"Concatenate\(axis=-1\).*\[\(5, 3\), \(4, 2\)\]"),
    ([(5, 3), (3,)], r"Concatenate.*one rank.*\[\(5, 3\), \(3,\)\]"),
    ([(5, 3)], r"Concatenate takes at least 2 inputs.*\[\(5, 3\)\]"),
    ((5, 3), r"Concatenate.output_shape takes a list of input shapes"),
])
def test_concatenate_output_shape_names_layer_and_shapes(shapes, match):
    with pytest.raises(ValueError, match=match):
        seqnet.Concatenate().output_shape(shapes)


def test_concatenate_bad_calls(rng):
    a = rng.standard_normal((B, T, 3))
    with pytest.raises(ValueError, match=r"Concatenate\(axis=-1\).*\(3, 6, 3\), \(3, 5, 3\)"):
        seqnet.Concatenate().forward([a, a[:, :5]])
    with pytest.raises(ValueError, match=r"batch sizes differ.*\(3, 6, 3\), \(2, 6, 3\)"):
        seqnet.Concatenate().forward([a, a[:2]])
    with pytest.raises(TypeError, match=r"Concatenate's inputs must share one dtype.*"
                                        r"float64', 'float32"):
        seqnet.Concatenate().forward([a, a.astype(np.float32)])
    with pytest.raises(TypeError, match="list of arrays"):
        seqnet.Concatenate().forward(a)
    with pytest.raises(TypeError, match="Concatenate input 1 must be a real floating"):
        seqnet.Concatenate().forward([a, a.astype(int)])
    with pytest.raises(ValueError, match="batch axis"):
        seqnet.Concatenate(axis=0)
    with pytest.raises(TypeError, match="axis must be an integer"):
        seqnet.Concatenate(axis=1.0)
    with pytest.raises(ValueError, match=r"lengths must have one entry per input \(2\)"):
        seqnet.Concatenate().forward([a, a], lengths=[LENGTHS])
    with pytest.raises(ValueError, match=r"lengths\[1\]: lengths must be <= the number"):
        seqnet.Concatenate().forward([a, a], lengths=[None, LENGTHS + 1])
    with pytest.raises(ValueError, match="input 0 of shape .* has no time axis"):
        seqnet.Concatenate().forward([a[:, 0], a[:, 0]], lengths=[LENGTHS, None])
    layer = seqnet.Concatenate()
    layer.forward([a, a], training=True)
    with pytest.raises(ValueError, match=r"dout must have shape \(3, 6, 6\)"):
        layer.backward(np.zeros((B, T, 3)))


def test_concatenate_lengths_are_the_maximum_and_padding_reads_as_zeros(rng):
    """Keras 3 ORs the masks: a step is valid where any input is; a padded input
    counts there as zeros, so its NaN reaches no output and no gradient."""
    la, lb = LENGTHS, np.array([5, 3, 1])
    a, b = padded(rng, (B, T, 3), la), padded(rng, (B, T, 2), lb, fill=np.inf)
    layer = seqnet.Concatenate()
    out = layer.forward([a, b], training=True, lengths=[la, lb])
    np.testing.assert_array_equal(layer.output_lengths([a, b], [la, lb]), np.maximum(la, lb))
    assert layer.output_lengths([a, b], [None, lb]) is None    # a is valid everywhere
    assert layer.output_lengths([a, b], None) is None
    va, vb = np.arange(T) < la[:, None], np.arange(T) < lb[:, None]
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[..., :3], np.where(va[..., None], a, 0))
    np.testing.assert_array_equal(out[..., 3:], np.where(vb[..., None], b, 0))
    da, db = layer.backward(np.ones_like(out))
    np.testing.assert_array_equal(da, np.broadcast_to(va[..., None], da.shape))
    np.testing.assert_array_equal(db, np.broadcast_to(vb[..., None], db.shape))


def test_concatenate_along_time_joins_the_masks(rng):
    a, c = rng.standard_normal((B, 4, 3)), padded(rng, (B, T, 3), LENGTHS)
    layer = seqnet.Concatenate(axis=1)
    np.testing.assert_array_equal(layer.output_lengths([a, c], [None, LENGTHS]), 4 + LENGTHS)
    out = layer.forward([a, c], lengths=[None, LENGTHS])
    assert np.isfinite(out).all()
    with pytest.raises(ValueError, match=r"input 0 is padded .* hole"):
        layer.forward([c, a], lengths=[LENGTHS, None])
    assert layer.output_lengths([c, a], [np.full(B, T), None]) is not None


# ------------------------------------------------------------------------------ Add
@pytest.mark.parametrize("dtype", DTYPES)
def test_add_sums_any_number_of_inputs(dtype, rng):
    xs = [rng.standard_normal((B, T, F)).astype(dtype) for _ in range(3)]
    layer = seqnet.Add()
    out = layer.forward(xs, training=True)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, xs[0] + xs[1] + xs[2], rtol=1e-6)
    dout = rng.standard_normal(out.shape).astype(dtype)
    grads = layer.backward(dout)
    assert len(grads) == 3 and all(np.array_equal(g, dout) for g in grads)
    grads[0][...] = 0   # separate arrays
    assert np.array_equal(grads[1], dout)


def test_add_shapes_and_errors(rng):
    assert seqnet.Add().output_shape([(None, 4), (5, 4)]) == (5, 4)
    with pytest.raises(ValueError,
                       match=r"Add: the inputs must have one shape.*\(5, 4\), \(5, 3\)"):
        seqnet.Add().output_shape([(5, 4), (5, 3)])
    x = rng.standard_normal((B, T, F))
    with pytest.raises(ValueError, match=r"Add: the inputs must have one shape.*\(3, 6, 4\), "
                                         r"\(3, 6, 3\)"):
        seqnet.Add().forward([x, x[..., :3]])
    with pytest.raises(TypeError, match="Add's inputs must share one dtype"):
        seqnet.Add().forward([x, x.astype(np.float32)])
    with pytest.raises(ValueError, match="Add takes at least 2 inputs"):
        seqnet.Add().forward([x])


def test_add_padding_holding_nan_reaches_no_output_or_gradient(rng):
    la, lb = LENGTHS, np.array([6, 1, 3])
    a, b = padded(rng, (B, T, F), la), padded(rng, (B, T, F), lb)
    layer = seqnet.Add()
    out = layer.forward([a, b], training=True, lengths=[la, lb])
    np.testing.assert_array_equal(layer.output_lengths([a, b], [la, lb]), [6, 2, 4])
    assert layer.output_lengths([a, b], [la, None]) is None
    va, vb = (np.arange(T) < la[:, None])[..., None], (np.arange(T) < lb[:, None])[..., None]
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out, np.where(va, a, 0) + np.where(vb, b, 0))
    dout = rng.standard_normal(out.shape)
    da, db = layer.backward(dout)
    np.testing.assert_array_equal(da, np.where(va, dout, 0))
    np.testing.assert_array_equal(db, np.where(vb, dout, 0))


# ------------------------------------------------------------------------ attention
def naive_attention(q, v, k, *, score, q_len=None, kv_len=None, causal=False):
    """Loops over rows and query steps: the scores of the valid keys, their
    softmax, the mixture of values; a padded query step's output is 0."""
    Bn, Tq, _ = q.shape
    Tv = v.shape[1]
    out = np.zeros((Bn, Tq, v.shape[2]))
    weights = np.zeros((Bn, Tq, Tv))
    for b in range(Bn):
        nq = Tq if q_len is None else q_len[b]
        nk = Tv if kv_len is None else kv_len[b]
        for i in range(nq):
            keys = [j for j in range(nk) if not causal or j <= i]
            s = np.array([score(q[b, i], k[b, j]) for j in keys])
            w = np.exp(s - s.max())
            w /= w.sum()
            weights[b, i, keys] = w
            out[b, i] = w @ v[b, keys]
    return out, weights


ATTENTION_CASES = {
    "dot": (lambda: seqnet.Attention(dtype=np.float64), lambda p: lambda a, b: a @ b),
    "dot-scale": (lambda: seqnet.Attention(use_scale=True, dtype=np.float64),
                  lambda p: lambda a, b: p["scale"] * (a @ b)),
    "concat": (lambda: seqnet.Attention(score_mode="concat", dtype=np.float64),
               lambda p: lambda a, b: p["concat_score_weight"] * np.tanh(a + b).sum()),
    "concat-scale": (lambda: seqnet.Attention(score_mode="concat", use_scale=True,
                                              dtype=np.float64),
                     lambda p: lambda a, b: p["concat_score_weight"]
                     * np.tanh(p["scale"] * (a + b)).sum()),
    "additive": (lambda: seqnet.AdditiveAttention(dtype=np.float64, seed=0),
                 lambda p: lambda a, b: p["scale"] @ np.tanh(a + b)),
    "additive-noscale": (lambda: seqnet.AdditiveAttention(use_scale=False, dtype=np.float64),
                         lambda p: lambda a, b: np.tanh(a + b).sum()),
}


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("key", [False, True])
@pytest.mark.parametrize("case", list(ATTENTION_CASES))
def test_attention_equals_the_loop_version(case, key, causal, rng):
    make, score = ATTENTION_CASES[case]
    layer = make()
    q = padded(rng, (B, 5, F), LENGTHS - 1, fill=np.nan)
    if key:
        v = padded(rng, (B, T, 3), LENGTHS, fill=np.inf)
        kv = padded(rng, (B, T, F), LENGTHS, fill=-np.inf)
        xs = [q, v, kv]
    else:
        v = kv = padded(rng, (B, T, F), LENGTHS, fill=np.inf)
        xs = [q, v]
    lengths = [LENGTHS - 1, LENGTHS] + ([LENGTHS] if key else [])
    for p in layer.params.values():
        p[...] = rng.uniform(0.5, 1.5, p.shape)
    out, scores = layer.forward(xs, lengths=lengths, return_attention_scores=True,
                                use_causal_mask=causal)
    expect, weights = naive_attention(np.nan_to_num(q, posinf=0, neginf=0),
                                      np.nan_to_num(v, posinf=0, neginf=0),
                                      np.nan_to_num(kv, posinf=0, neginf=0),
                                      score=score(layer.params), q_len=LENGTHS - 1,
                                      kv_len=LENGTHS, causal=causal)
    np.testing.assert_allclose(out, expect, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scores, weights, rtol=1e-12, atol=1e-12)


def test_attention_scores_rows_sum_to_one_and_the_causal_mask_hides_the_future(rng):
    q, v = rng.standard_normal((B, T, F)), rng.standard_normal((B, T, F))
    layer = seqnet.Attention()
    out, scores = layer.forward([q, v], return_attention_scores=True, use_causal_mask=True)
    np.testing.assert_allclose(scores.sum(-1), 1.0)
    assert np.all(np.triu(np.ones((T, T)), 1)[None] * scores == 0)
    assert np.all(scores[:, 0, 0] == 1)
    later = v.copy()
    later[:, 3:] += 10.0          # changing the future changes no earlier output
    out2 = layer.forward([q, later], use_causal_mask=True)
    np.testing.assert_array_equal(out2[:, :3], out[:, :3])
    assert not np.allclose(out2[:, 3:], out[:, 3:])
    assert layer.outputs_for({"return_attention_scores": True}) == 2
    assert layer.outputs_for({}) == 1
    assert isinstance(layer.forward([q, v]), np.ndarray)


@pytest.mark.parametrize("make", [lambda d: seqnet.Attention(dtype=d),
                                  lambda d: seqnet.Attention(use_scale=True, dtype=d),
                                  lambda d: seqnet.AdditiveAttention(dtype=d, seed=0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_dtypes(make, dtype, rng):
    layer = make(dtype)
    q = rng.standard_normal((B, 3, F)).astype(dtype)
    v = rng.standard_normal((B, T, F)).astype(dtype)
    out, scores = layer.forward([q, v], training=True, return_attention_scores=True)
    assert out.dtype == dtype and scores.dtype == dtype
    dq, dv = layer.backward([np.ones_like(out), np.ones_like(scores)])
    assert dq.dtype == dtype and dv.dtype == dtype
    assert all(g.dtype == dtype for g in layer.grads.values())
    if layer.has_weights:   # with weights: the layer's dtype, whatever the input's
        other = np.float32 if dtype == np.float64 else np.float64
        assert layer.forward([q.astype(other), v.astype(other)]).dtype == dtype
    else:
        with pytest.raises(TypeError, match="Attention's inputs must share one dtype"):
            layer.forward([q, v.astype(np.float32 if dtype == np.float64 else np.float64)])


def test_attention_masks_keep_nan_padding_out_of_outputs_and_gradients(rng):
    q_len, v_len = np.array([5, 1, 3]), LENGTHS
    q = padded(rng, (B, 5, F), q_len)
    v = padded(rng, (B, T, F), v_len)
    k = padded(rng, (B, T, F), v_len, fill=np.inf)
    for layer in (seqnet.Attention(use_scale=True, dtype=np.float64),
                  seqnet.AdditiveAttention(dtype=np.float64, seed=0)):
        out, scores = layer.forward([q, v, k], training=True, lengths=[q_len, v_len, v_len],
                                    return_attention_scores=True)
        qvalid = np.arange(5) < q_len[:, None]
        vvalid = np.arange(T) < v_len[:, None]
        assert np.isfinite(out).all() and np.isfinite(scores).all()
        assert np.all(out[~qvalid] == 0) and np.all(scores[~qvalid] == 0)
        assert np.all(scores.transpose(0, 2, 1)[~vvalid] == 0)
        np.testing.assert_allclose(scores[qvalid].sum(-1), 1.0)
        dout, dscores = rng.standard_normal(out.shape), rng.standard_normal(scores.shape)
        dout[~qvalid] = np.nan
        dscores[~qvalid] = np.nan
        dq, dv, dk = layer.backward([dout, dscores])
        for g in (dq, dv, dk, *layer.grads.values()):
            assert np.isfinite(g).all()
        assert np.all(dq[~qvalid] == 0) and np.all(dv[~vvalid] == 0) and np.all(dk[~vvalid] == 0)
        np.testing.assert_array_equal(layer.output_lengths([q, v, k], [q_len, v_len, None]),
                                      q_len)


def test_a_key_shorter_than_its_value_hides_its_own_padding(rng):
    """Keras reads the value's mask only; seqnet also leaves out a key's padding
    (the two are one sequence's in practice), so a NaN there reaches nothing."""
    q, v = rng.standard_normal((B, 4, F)), rng.standard_normal((B, T, 2))
    k_len = np.array([3, 6, 1])
    k = padded(rng, (B, T, F), k_len)
    out, scores = seqnet.Attention().forward([q, v, k], lengths=[None, None, k_len],
                                             return_attention_scores=True)
    assert np.isfinite(out).all()
    assert np.all(scores.transpose(0, 2, 1)[np.arange(T) >= k_len[:, None]] == 0)


def test_attention_dropout_drops_weights_in_training_only(rng):
    q, v = rng.standard_normal((B, 4, F)), rng.standard_normal((B, T, F))
    layer = seqnet.Attention(dropout=0.5, seed=3)
    plain, w = layer.forward([q, v], return_attention_scores=True)
    out, wd = layer.forward([q, v], training=True, return_attention_scores=True)
    kept = wd != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(wd[kept], 2 * w[kept])
    np.testing.assert_allclose(out, np.matmul(wd, v))
    again = seqnet.Attention(dropout=0.5, seed=3).forward([q, v], training=True)
    np.testing.assert_array_equal(again, out)
    np.testing.assert_array_equal(layer.forward([q, v]), plain)


def test_attention_shapes_and_errors(rng):
    att = seqnet.Attention()
    assert att.output_shape([(None, 4), (7, 4)]) == (None, 4)
    assert att.output_shape([(2, 4), (7, 3), (7, 4)]) == (2, 3)
    with pytest.raises(ValueError, match=r"Attention: the query's features \(4\) must equal "
                                         r"the value \(the key\)'s \(3\).*\(2, 4\), \(7, 3\)"):
        att.output_shape([(2, 4), (7, 3)])
    with pytest.raises(ValueError, match=r"Attention: value and key must have the same number "
                                         r"of steps.*\(7, 3\), \(6, 4\)"):
        att.output_shape([(2, 4), (7, 3), (6, 4)])
    with pytest.raises(ValueError, match=r"AdditiveAttention takes 2 to 3 inputs"):
        seqnet.AdditiveAttention().output_shape([(2, 4)] * 4)
    with pytest.raises(ValueError, match=r"Attention: query, value and key must each be"):
        att.output_shape([(4,), (7, 4)])
    q, v = rng.standard_normal((B, 2, F)), rng.standard_normal((B, T, F))
    with pytest.raises(ValueError, match=r"the query must be a non-empty \(batch, time, "
                                         r"features\)"):
        att.forward([q[:, 0], v])
    with pytest.raises(ValueError, match=r"batch sizes differ.*\(3, 2, 4\), \(2, 6, 4\)"):
        att.forward([q, v[:2]])
    with pytest.raises(TypeError, match="return_attention_scores must be a bool"):
        att.forward([q, v], return_attention_scores=1)
    with pytest.raises(ValueError, match="score_mode must be 'dot' or 'concat'"):
        seqnet.Attention(score_mode="general")
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        seqnet.AdditiveAttention(dropout=1.0)
    add = seqnet.AdditiveAttention(seed=0)
    add.forward([q, v])
    with pytest.raises(ValueError, match=r"AdditiveAttention: the query has 3 features but "
                                         r"the layer's scale is built for 4"):
        add.forward([q[..., :3], v[..., :3]])
    layer = seqnet.Attention()
    layer.forward([q, v], training=True, return_attention_scores=True)
    with pytest.raises(ValueError, match=r"dscores must have shape \(3, 2, 6\)"):
        layer.backward([np.zeros((B, 2, F)), np.zeros((B, 2, 5))])


def test_attention_params_and_configs_round_trip(rng):
    assert seqnet.Attention().params == {} and not seqnet.Attention().has_weights
    scaled = seqnet.Attention(use_scale=True, score_mode="concat", dtype=np.float64)
    assert {k: v.shape for k, v in scaled.params.items()} == {
        "scale": (), "concat_score_weight": ()}
    assert all(v == 1 for v in scaled.params.values())   # Keras's "ones"
    add = seqnet.AdditiveAttention(seed=0)
    assert add.params == {} and add.expected_shapes() is None
    q, v = rng.standard_normal((B, 2, F)), rng.standard_normal((B, T, F))
    out = add.forward([q, v])
    limit = np.sqrt(3.0 / F)     # glorot-uniform on (F,): fan-in = fan-out = F
    assert add.params["scale"].shape == (F,) and np.all(np.abs(add.params["scale"]) <= limit)
    for layer in (scaled, add, seqnet.Attention(dropout=0.25, seed=2),
                  seqnet.AdditiveAttention(use_scale=False, dropout=0.1)):
        again = roundtrip(layer)
        assert type(again) is type(layer) and again.get_config() == layer.get_config()
    # the config plans the scale's size: a saved state loads with no initialisation
    copy = roundtrip(add)
    assert copy.expected_shapes() == {"scale": (F,)}
    copy.load_state_dict(add.state_dict())
    np.testing.assert_allclose(copy.forward([q, v]), out)
    fresh = seqnet.AdditiveAttention()
    fresh.load_state_dict({"scale": np.ones(F)})
    assert fresh.dim == F


# -------------------------------------------------------------------- Bidirectional
CELLS = {"lstm": lambda **kw: seqnet.LSTM(5, **kw),
         "gru": lambda **kw: seqnet.GRU(5, **kw),
         "gru-v1": lambda **kw: seqnet.GRU(5, reset_after=False, **kw),
         "rnn": lambda **kw: seqnet.SimpleRNN(5, **kw)}


def _random_params(layer, rng):
    for p in layer.params.values():
        p[...] = rng.uniform(-0.7, 0.7, p.shape)


def _directions(bi, x, lengths, state=None):
    """The two directions run by unidirectional layers of the wrapped class on the
    same weights: the forward one on x, the backward one on each row's valid part
    reversed (then reversed back): an independent reference."""
    cls, H = type(bi.layer), bi.hidden_size
    opts = {k: v for k, v in bi.layer.get_config().items()
            if k in ("reset_after", "nonlinearity")}
    outs, finals = [], []
    for d, sfx in enumerate(("_l0", "_l0_reverse")):
        uni = cls(H, return_state=True, dtype=np.float64, **opts)
        uni.load_state_dict({k[:-len(sfx)] + "_l0": v for k, v in bi.params.items()
                             if k.endswith(sfx) and (d or not k.endswith("_reverse"))})
        n = len(uni.state_names)
        init = None if state is None else list(state[d * n:(d + 1) * n])
        if d == 0:
            res = uni.forward(x, init, lengths=lengths)
            outs.append(res[0])
        else:
            xr = x.copy()
            for b in range(x.shape[0]):
                xr[b, :lengths[b]] = x[b, lengths[b] - 1::-1]
            res = uni.forward(xr, init, lengths=lengths)
            yr = res[0].copy()
            for b in range(x.shape[0]):
                yr[b, :lengths[b]] = res[0][b, lengths[b] - 1::-1]
            outs.append(yr)
        finals.extend(res[1:])
    return outs, finals


MERGES = {"concat": lambda a, b: np.concatenate([a, b], -1), "sum": lambda a, b: a + b,
          "mul": lambda a, b: a * b, "ave": lambda a, b: (a + b) / 2}


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("cell", list(CELLS))
def test_bidirectional_equals_two_directions_run_apart(cell, merge_mode, rng):
    layer = CELLS[cell](return_state=True, dtype=np.float64, seed=0)
    bi = seqnet.Bidirectional(layer, merge_mode=merge_mode)
    x = padded(rng, (B, T, F), LENGTHS)
    bi.build((T, F))
    _random_params(bi, rng)
    n = len(layer.state_names)
    state = [rng.standard_normal((1, B, 5)) for _ in range(2 * n)]
    res = bi.forward(x, state, lengths=LENGTHS)
    (yf, yb), finals = _directions(bi, x, LENGTHS, state)
    if merge_mode is None:
        assert len(res) == 2 + 2 * n
        np.testing.assert_allclose(res[0], yf, atol=1e-12)
        np.testing.assert_allclose(res[1], yb, atol=1e-12)
        states = res[2:]
    else:
        assert len(res) == 1 + 2 * n
        np.testing.assert_allclose(res[0], MERGES[merge_mode](yf, yb), atol=1e-12)
        states = res[1:]
    assert np.isfinite(res[0]).all()
    for got, want in zip(states, finals, strict=True):
        assert got.shape == (1, B, 5)
        np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bidirectional_last_step_is_each_directions_final_h(cell, rng):
    """Without return_sequences, as Keras: the forward output at each row's last
    valid step, the backward one after the whole reversed sequence (at step 0)."""
    seq = seqnet.Bidirectional(CELLS[cell](dtype=np.float64, seed=1))
    last = seqnet.Bidirectional(CELLS[cell](dtype=np.float64, seed=1,
                                            return_sequences=False, return_state=True))
    x = rng.standard_normal((B, T, F))
    ys = seq.forward(x, lengths=LENGTHS)
    out, *states = last.forward(x, lengths=LENGTHS)
    np.testing.assert_allclose(out[:, :5], ys[np.arange(B), LENGTHS - 1, :5], atol=1e-12)
    np.testing.assert_allclose(out[:, 5:], ys[:, 0, 5:], atol=1e-12)
    np.testing.assert_allclose(out[:, :5], states[0][0], atol=1e-12)
    np.testing.assert_allclose(out[:, 5:], states[len(states) // 2][0], atol=1e-12)


def test_bidirectional_structure_and_names(rng):
    bi = seqnet.Bidirectional(seqnet.LSTM(5, input_size=F, return_state=True, seed=0))
    assert bi.state_names == ("forward_h", "forward_c", "backward_h", "backward_c")
    assert sorted(bi.params) == sorted(f"{w}_l0{s}" for w in ("weight_ih", "weight_hh",
                                                               "bias_ih", "bias_hh")
                                       for s in ("", "_reverse"))
    assert bi.params is bi.fused.params
    assert bi.num_outputs == 5 and bi.causal is False
    assert seqnet.Bidirectional(seqnet.GRU(5), merge_mode=None).num_outputs == 2
    gru = seqnet.Bidirectional(seqnet.GRU(5, return_state=True), merge_mode=None)
    assert gru.num_outputs == 4 and gru.state_names == ("forward_h", "backward_h")
    assert bi.output_shape((None, F)) == (None, 10)
    assert seqnet.Bidirectional(seqnet.GRU(5, return_sequences=False), merge_mode="ave"
                                ).output_shape((7, 3)) == (5,)
    with pytest.raises(ValueError, match=r"Bidirectional\(LSTM\) expects inputs of shape "
                                         r"\(time, 4\) per sample, got shape \(7, 3\)"):
        bi.output_shape((7, 3))
    with pytest.raises(ValueError, match=r"Bidirectional\(LSTM\).*got shape \(7, 3, 4\)"):
        bi.output_shape((7, 3, 4))
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    np.testing.assert_array_equal(bi.output_lengths(x, LENGTHS), LENGTHS)
    assert seqnet.Bidirectional(seqnet.LSTM(5, return_sequences=False)).output_lengths(
        x, LENGTHS) is None
    out, fh, fc, bh, bc = bi.forward(x, training=True)
    assert out.dtype == np.float32 and fh.shape == (1, B, 5)
    dx = bi.backward([np.ones_like(out), None, np.ones_like(fc), None, None])
    assert dx.shape == x.shape and set(bi.grads) == set(bi.params)
    # an initial state: one gradient per entry comes back, each (1, B, H)
    zeros = [np.zeros((1, B, 5), np.float32)] * 4
    bi.forward(x, zeros, training=True)
    grads = bi.backward(np.ones_like(out))
    assert len(grads) == 5 and all(g.shape == (1, B, 5) for g in grads[1:])


def test_bidirectional_bad_arguments(rng):
    with pytest.raises(TypeError, match="layer must be a seqnet recurrent layer .* got Dense"):
        seqnet.Bidirectional(seqnet.Dense(3))
    with pytest.raises(ValueError, match="num_layers=1"):
        seqnet.Bidirectional(seqnet.LSTM(3, num_layers=2))
    with pytest.raises(ValueError, match="bidirectional=False"):
        seqnet.Bidirectional(seqnet.LSTM(3, bidirectional=True))
    with pytest.raises(ValueError, match="merge_mode must be one of"):
        seqnet.Bidirectional(seqnet.LSTM(3), merge_mode="max")
    bi = seqnet.Bidirectional(seqnet.LSTM(3))
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    with pytest.raises(TypeError, match=r"initial_state must be a list \['forward_h', "
                                        r"'forward_c', 'backward_h', 'backward_c'\]"):
        bi.forward(x, [np.zeros((1, B, 3))] * 2)
    with pytest.raises(ValueError, match=r"initial_state\[2\] \(backward_h\) must have shape "
                                         r"\(1, 3, 3\)"):
        bi.forward(x, [None, None, np.zeros((B, 3)), None])
    with pytest.raises(ValueError, match="lengths must be <= the number of time steps"):
        bi.forward(x, lengths=LENGTHS + 1)
    bi.forward(x, training=True)
    with pytest.raises(ValueError, match=r"dout must have shape \(3, 6, 6\)"):
        bi.backward(np.zeros((B, T, 3)))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_nan_padding_reaches_no_output_or_gradient(merge_mode, rng):
    bi = seqnet.Bidirectional(seqnet.LSTM(5, return_state=True, dtype=np.float64, seed=0),
                              merge_mode=merge_mode)
    x = padded(rng, (B, T, F), LENGTHS)
    outs = bi.forward(x, training=True, lengths=LENGTHS)
    valid = np.arange(T) < LENGTHS[:, None]
    douts = []
    for o in outs:
        assert np.isfinite(o).all()
        d = rng.standard_normal(o.shape)
        if o.shape[:2] == (B, T):      # an output (a state is (1, B, H))
            assert np.all(o[~valid] == 0)
            d[~valid] = 1e300          # never read: the output is zero there
        douts.append(d)
    dx = bi.backward(douts)
    assert np.isfinite(dx).all() and np.all(dx[~valid] == 0)
    assert all(np.isfinite(g).all() for g in bi.grads.values())


def test_bidirectional_config_round_trip_and_dtype(rng):
    bi = seqnet.Bidirectional(seqnet.GRU(4, reset_after=False, return_sequences=False,
                                         seed=5), merge_mode="mul", dtype=np.float64)
    x = rng.standard_normal((B, T, F))
    out = bi.forward(x)
    assert out.dtype == np.float64 and bi.dtype == np.float64 and bi.seed == 5
    config = bi.get_config()
    assert config["layer"]["class"] == "GRU" and config["merge_mode"] == "mul"
    assert config["layer"]["config"]["input_size"] == F
    assert config["layer"]["config"]["bidirectional"] is False
    again = roundtrip(bi)
    assert type(again) is seqnet.Bidirectional and again.get_config() == config
    assert again.expected_shapes() == {k: v.shape for k, v in bi.params.items()}
    again.load_state_dict(bi.state_dict())
    np.testing.assert_array_equal(again.forward(x), out)
    # the same seed makes the same weights
    np.testing.assert_array_equal(seqnet.layers.Bidirectional.from_config(config)
                                  .forward(x), out)


def test_bidirectional_in_a_sequential_model_trains_saves_and_loads(tmp_path, rng):
    model = seqnet.Sequential([
        seqnet.Bidirectional(seqnet.LSTM(6, input_size=3, return_sequences=False, seed=0)),
        seqnet.Dense(2, activation="softmax", seed=1)], seed=2)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    x = rng.standard_normal((64, 5, 3)).astype(np.float32)
    y = (x[:, 0, 0] > 0).astype(np.int64)      # the first step: the backward direction
    history = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "bi.npz")
    loaded = seqnet.load_model(tmp_path / "bi.npz")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
