"""Sampling and text generation: greedy, temperature, top-k, stream and window."""

import numpy as np
import pytest

import seqnet
from seqnet.charlm import build_charlm
from seqnet.generate import generate_text, sample_index
from seqnet.text import CharVocabulary, char_windows, vocabulary_of

TEXT = "the cat sat on the mat. the dog sat on the log. " * 20


@pytest.fixture(scope="module")
def model():
    vocab = CharVocabulary.from_text(TEXT)
    m = build_charlm(len(vocab), hidden=16, seed=0)
    m.compile("sparse_categorical_crossentropy", seqnet.optim.RMSprop(learning_rate=0.01))
    X, y = char_windows(vocab.encode(TEXT), 10, 1)
    m.fit(X, y, batch_size=32, epochs=3, verbose=0)
    m.metadata = {"vocabulary": vocab.to_config(), "maxlen": 10}
    return m


def test_greedy_is_argmax():
    assert sample_index([0.1, 0.7, 0.2], temperature=0) == 1


def test_temperature_sampling_follows_the_tempered_distribution():
    """p ** (1/T) renormalised: checked by frequencies of 20000 seeded draws."""
    p = np.array([0.5, 0.3, 0.2])
    rng = np.random.default_rng(0)
    for temp in (0.5, 1.0, 2.0):
        draws = [sample_index(p, temp, rng=rng) for _ in range(20000)]
        freq = np.bincount(draws, minlength=3) / 20000
        want = p ** (1 / temp) / np.sum(p ** (1 / temp))
        np.testing.assert_allclose(freq, want, atol=0.015)


def test_top_k_keeps_only_the_k_most_likely():
    p = np.array([0.05, 0.4, 0.05, 0.3, 0.2])
    rng = np.random.default_rng(1)
    draws = {sample_index(p, 1.0, top_k=2, rng=rng) for _ in range(500)}
    assert draws == {1, 3}


@pytest.mark.parametrize("bad,exc", [(-1.0, ValueError), (float("nan"), ValueError),
                                     ("hot", TypeError)])
def test_bad_temperature(bad, exc):
    with pytest.raises(exc, match="temperature"):
        sample_index([0.5, 0.5], bad)


def test_step_equals_whole_sequence(model):
    """Streaming one step at a time carries the state exactly like one forward pass."""
    idx = vocabulary_of(model).encode(TEXT[:10])
    whole = model.predict(idx[None], batch_size=1)[0]
    states = None
    for i in idx:
        out, states = model.step(np.array([i]), states)
    np.testing.assert_allclose(out[0], whole, rtol=1e-5, atol=1e-6)


def test_generation_is_seeded_and_greedy_is_deterministic(model):
    a = generate_text(model, TEXT[:10], 30, temperature=1.0, seed=3)
    b = generate_text(model, TEXT[:10], 30, temperature=1.0, seed=3)
    c = generate_text(model, TEXT[:10], 30, temperature=1.0, seed=4)
    assert a == b and a != c and len(a) == 30
    assert set(a) <= set(vocabulary_of(model).chars)
    g1 = generate_text(model, TEXT[:10], 20, temperature=0)
    g2 = generate_text(model, TEXT[:10], 20, temperature=0, seed=99)
    assert g1 == g2


def test_stream_and_window_agree_while_the_context_fits(model):
    """Both start from the same 10-character context: the first greedy character
    is the same; after that the stream carries state past the window."""
    s = generate_text(model, TEXT[:10], 1, temperature=0, method="stream")
    w = generate_text(model, TEXT[:10], 1, temperature=0, method="window")
    assert s == w


def test_generation_errors(model):
    with pytest.raises(ValueError, match="needs maxlen=10"):
        generate_text(model, "the", 5, method="window")
    with pytest.raises(ValueError, match="seed_text must be a non-empty string"):
        generate_text(model, "", 5)
    with pytest.raises(ValueError, match="method must be"):
        generate_text(model, TEXT[:10], 5, method="beam")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        generate_text(model, "xyz QQQ", 5)
    bare = seqnet.Sequential([seqnet.Dense(3)])
    with pytest.raises(ValueError, match="no vocabulary"):
        generate_text(bare, "abc", 5)


def test_bidirectional_cannot_stream():
    m = seqnet.Sequential([seqnet.LSTM(4, input_size=3, bidirectional=True,
                                       return_sequences=False)])
    with pytest.raises(ValueError, match="cannot stream a bidirectional"):
        m.step(np.array([1]))
