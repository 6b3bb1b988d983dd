"""Greedy and beam search over a decoder step built from a training model's layers
(the Keras pattern): width 1 is greedy, scores are the model's log-probabilities,
a wide beam finds the exact best sequence, a step runs one kernel call per layer."""

import itertools

import numpy as np
import pytest

import seqnet
from seqnet import Input, Model, decode

V, H, START, END = 6, 5, 1, 2
F64 = np.float64


def _models(seed=0, dtype=F64):
    """(training model, encoder, decoder step) sharing one set of layers."""
    enc_tokens = Input(shape=(None,), dtype="int64")
    emb_src = seqnet.Embedding(V, 4, seed=seed + 1, dtype=dtype)
    enc_lstm = seqnet.LSTM(H, return_state=True, seed=seed + 2, dtype=dtype)
    _, h, c = enc_lstm(emb_src(enc_tokens))
    emb_tgt = seqnet.Embedding(V, 4, seed=seed + 3, dtype=dtype)
    dec_lstm = seqnet.LSTM(H, return_state=True, seed=seed + 4, dtype=dtype)
    head = seqnet.Dense(V, activation="softmax", seed=seed + 5, dtype=dtype)
    dec_tokens = Input(shape=(None,), dtype="int64")
    seq, _, _ = dec_lstm(emb_tgt(dec_tokens), initial_state=[h, c])
    train = Model([enc_tokens, dec_tokens], head(seq))
    encoder = Model(enc_tokens, [h, c])
    step_tokens = Input(shape=(None,), dtype="int64")
    h_in, c_in = Input(shape=(H,), dtype=dtype), Input(shape=(H,), dtype=dtype)
    out, h2, c2 = dec_lstm(emb_tgt(step_tokens), initial_state=[h_in, c_in])
    step = Model([step_tokens, h_in, c_in], [head(out), h2, c2])
    rng = np.random.default_rng(seed)
    for p in train.params.values():   # sharper distributions than the initial ones
        p[...] = rng.uniform(-1.5, 1.5, p.shape)
    return train, encoder, step


def _log_prob(train, src, tokens, lengths):
    """log p(tokens | src) by teacher forcing through the training model."""
    B, L = tokens.shape
    dec_in = np.concatenate([np.full((B, 1), START), tokens[:, :-1]], axis=1)
    probs = train.predict([src, dec_in])
    picked = np.log(np.take_along_axis(probs, tokens[..., None], axis=-1)[..., 0])
    valid = np.arange(L)[None] < lengths[:, None]
    return np.where(valid, picked, 0.0).sum(axis=1)


@pytest.fixture
def setup():
    train, encoder, step = _models()
    src = np.random.default_rng(1).integers(3, V, (4, 5))
    return train, encoder, step, src


def test_width_one_is_greedy(setup):
    train, encoder, step, src = setup
    states = encoder.predict(src)
    g = decode.greedy(step, states, start=START, end=END, max_length=8)
    for alpha in (0.0, 0.7):
        b = decode.beam_search(step, states, start=START, end=END, max_length=8, width=1,
                               length_normalization=alpha)
        np.testing.assert_array_equal(b.tokens, g.tokens)
        np.testing.assert_array_equal(b.lengths, g.lengths)
        np.testing.assert_array_equal(b.scores, g.scores)


def test_scores_are_the_models_log_probabilities(setup):
    """Each returned score (greedy, and every beam) equals log p(sequence | source)
    computed by teacher forcing through the training model."""
    train, encoder, step, src = setup
    states = encoder.predict(src)
    g = decode.greedy(step, states, start=START, end=END, max_length=8)
    np.testing.assert_allclose(g.scores, _log_prob(train, src, g.tokens, g.lengths),
                               rtol=1e-10)
    b = decode.beam_search(step, states, start=START, end=END, max_length=8, width=3,
                           length_normalization=0.6, return_all=True)
    assert b.tokens.shape[:2] == (4, 3)
    for k in range(3):
        np.testing.assert_allclose(b.scores[:, k],
                                   _log_prob(train, src, b.tokens[:, k], b.lengths[:, k]),
                                   rtol=1e-10)
    ranked = b.scores / b.lengths ** 0.6
    assert (np.diff(ranked, axis=1) <= 1e-12).all()   # best first
    ended = b.tokens[np.arange(4)[:, None], np.arange(3)[None], b.lengths - 1] == END
    assert (ended | (b.lengths == 8)).all()


def test_a_beam_as_wide_as_all_prefixes_finds_the_best_sequence(setup):
    """Without an end token and with width V**2, beam search over 3 steps keeps
    every prefix it needs: its best equals the exhaustive argmax of log p."""
    train, encoder, step, src = setup
    states = encoder.predict(src[:2])
    best = decode.beam_search(step, states, start=START, max_length=3, width=V ** 2)
    every = np.array(list(itertools.product(range(V), repeat=3)))
    for row in range(2):
        lp = _log_prob(train, np.repeat(src[row:row + 1], len(every), 0), every,
                       np.full(len(every), 3))
        np.testing.assert_array_equal(best.tokens[row], every[np.argmax(lp)])
        assert best.scores[row] == pytest.approx(lp.max(), rel=1e-10)


def test_a_decoder_step_runs_one_kernel_call_per_layer_on_one_step(setup, monkeypatch):
    """At batch 1, each step is one call of the decoder LSTM's kernel on one time
    step, from the carried states: the prefix is never run again."""
    train, encoder, step, src = setup
    states = encoder.predict(src[:1])
    calls = []
    real = seqnet.kernels.lstm.forward

    def counting(x, *args, **kwargs):
        calls.append(np.shape(x))
        return real(x, *args, **kwargs)

    monkeypatch.setattr(seqnet.kernels.lstm, "forward", counting)
    g = decode.greedy(step, states, start=START, max_length=6)
    assert g.tokens.shape == (1, 6)
    assert calls == [(1, 1, 4)] * 6


def test_attention_constants_are_read_by_every_step():
    """A decoder step that attends over the encoder's outputs (a constant): beam
    search repeats them per hypothesis; width 1 is still greedy."""
    src_in = Input(shape=(None,), dtype="int64")
    enc_out, h, c = seqnet.LSTM(H, return_state=True, seed=2, dtype=F64)(
        seqnet.Embedding(V, 4, seed=1, dtype=F64)(src_in))
    encoder = Model(src_in, [enc_out, h, c])
    tok, memory = Input(shape=(None,), dtype="int64"), Input(shape=(None, H), dtype=F64)
    h_in, c_in = Input(shape=(H,), dtype=F64), Input(shape=(H,), dtype=F64)
    q, h2, c2 = seqnet.LSTM(H, return_state=True, seed=4, dtype=F64)(
        seqnet.Embedding(V, 4, seed=3, dtype=F64)(tok), initial_state=[h_in, c_in])
    ctx = seqnet.Attention()([q, memory])
    probs = seqnet.Dense(V, activation="softmax", seed=5, dtype=F64)(
        seqnet.Concatenate()([q, ctx]))
    step = Model([tok, memory, h_in, c_in], [probs, h2, c2])
    src = np.random.default_rng(3).integers(3, V, (3, 7))
    enc, h0, c0 = encoder.predict(src)
    g = decode.greedy(step, [h0, c0], constants=[enc], start=START, end=END, max_length=5)
    b = decode.beam_search(step, [h0, c0], constants=[enc], start=START, end=END,
                           max_length=5, width=1)
    np.testing.assert_array_equal(b.tokens, g.tokens)
    b4 = decode.beam_search(step, [h0, c0], constants=[enc], start=START, end=END,
                            max_length=5, width=4, return_all=True)
    assert b4.tokens.shape[:2] == (3, 4) and np.isfinite(b4.scores).all()
    assert (np.diff(b4.scores, axis=1) <= 0).all()
    # four distinct hypotheses per row
    assert all(len({tuple(t[:n]) for t, n in zip(b4.tokens[r], b4.lengths[r], strict=True)})
               == 4 for r in range(3))


def test_bad_arguments_are_named(setup):
    train, encoder, step, src = setup
    h, c = encoder.predict(src)
    with pytest.raises(ValueError, match=r"\[tokens, \*constants, \*states\].*but has 3 and 3"):
        decode.greedy(step, [h], start=START, max_length=3)
    with pytest.raises(ValueError, match=r"states\[1\] must have one row per sequence \(4\)"):
        decode.greedy(step, [h, c[:2]], start=START, max_length=3)
    with pytest.raises(TypeError, match="decoder must be a seqnet.Model"):
        decode.greedy(lambda x: x, [h, c], start=START, max_length=3)
    with pytest.raises(ValueError, match="max_length"):
        decode.greedy(step, [h, c], start=START, max_length=0)
    with pytest.raises(TypeError, match="start must be an integer"):
        decode.beam_search(step, [h, c], start=1.5, max_length=3)
    with pytest.raises(ValueError, match="width"):
        decode.beam_search(step, [h, c], start=START, max_length=3, width=0)
    with pytest.raises(ValueError, match="length_normalization"):
        decode.beam_search(step, [h, c], start=START, max_length=3, length_normalization=-1)
