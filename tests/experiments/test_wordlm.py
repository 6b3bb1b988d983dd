"""The word-level language model experiment: the split, the Kneser-Ney trigram
against nltk, the LSTM's stream scoring, next words, and the --quick command."""

import itertools
import json
import sys

import numpy as np
import pytest

from seqnet.experiments import wordlm as wl
from seqnet.text import WordVocabulary

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def small_stream(V=9, n=400, seed=0):
    """A stream over V words where the last two are rare: contexts with them are
    unseen, so every branch of the formula is exercised."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, V - 2, n)
    ids[::5] = 0
    ids[3::11] = 1
    ids[50], ids[300] = V - 2, V - 1
    return ids


# ---------------------------------------------------------------------- split
def test_split_is_consecutive_at_line_starts():
    text = "".join(f"line {i} " + "x" * (i % 7) + "\n" for i in range(200))
    train, valid, test = wl.split_corpus(text)
    assert train + valid + test == text
    assert train.endswith("\n") and valid.endswith("\n")
    assert 0.09 < len(test) / len(text) < 0.11
    assert 0.09 < len(valid) / len(train + valid) < 0.11
    with pytest.raises(ValueError, match="held_out"):
        wl.split_corpus(text, held_out=0.7)
    with pytest.raises(ValueError, match="empty part"):
        wl.split_corpus("one line only\n")
    with pytest.raises(TypeError, match="text must be a str"):
        wl.split_corpus(b"x\n")


# ------------------------------------------------------------------- the trigram
@pytest.mark.parametrize("discount", [0.1, 0.75, 1.0])
def test_kneser_ney_equals_nltk(discount):
    pytest.importorskip("nltk")
    V = 9
    ids = small_stream(V)
    ours = wl.KneserNeyTrigram(ids, V, discount)
    score = wl.nltk_kneser_ney(ids, V, discount)
    u, v, w = np.array(list(itertools.product(range(V), repeat=3))).T
    mine = ours.probabilities(u, v, w)
    ref = np.array([score(a, b, c) for a, b, c in zip(u, v, w, strict=True)])
    np.testing.assert_allclose(mine, ref, rtol=0, atol=1e-9)
    # unseen contexts pass the lower order on: rare words make some
    assert (ours.probabilities([V - 1], [V - 1], [0]) > 0).all()


def test_kneser_ney_is_a_distribution_for_every_context():
    V = 9
    lm = wl.KneserNeyTrigram(small_stream(V), V, 0.8)
    u, v = np.array(list(itertools.product(range(V), repeat=2))).T
    p = lm.probabilities(np.repeat(u, V), np.repeat(v, V), np.tile(np.arange(V), V * V))
    np.testing.assert_allclose(p.reshape(V * V, V).sum(axis=1), 1.0, atol=1e-12)
    assert (p > 0).all()


def test_kneser_ney_log_probs_score_each_token_after_its_two_predecessors():
    V = 9
    ids = small_stream(V)
    lm = wl.KneserNeyTrigram(ids[:300], V)
    lp = lm.log_probs(ids, 301)
    assert lp.shape == (99,) and np.isfinite(lp).all()
    np.testing.assert_allclose(lp[0], np.log(lm.probabilities([ids[299]], [ids[300]],
                                                              [ids[301]]))[0])
    with pytest.raises(ValueError, match="in \\[0, 9\\)"):
        lm.probabilities([0], [0], [9])
    with pytest.raises(ValueError, match="at least 3 tokens"):
        wl.KneserNeyTrigram([0, 1], 4)
    with pytest.raises(ValueError, match="discount"):
        wl.KneserNeyTrigram(ids, V, 1.5)


def test_nltk_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "nltk.lm", None)
    monkeypatch.setitem(sys.modules, "nltk", None)
    with pytest.raises(ImportError, match=r"seqnet\[experiments\]"):
        wl.nltk_kneser_ney([0, 1, 2], 3)


def test_plot_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"seqnet\[experiments\]"):
        wl.plot({}, "unused.png")


def test_unigram_and_perplexity():
    lp = wl.unigram_log_probs([0, 0, 1], [0, 2], 3)
    np.testing.assert_allclose(np.exp(lp), [3 / 6, 1 / 6])
    assert wl.perplexity(np.log([0.5, 0.5])) == pytest.approx(2.0)


# ------------------------------------------------------------------- the LSTM
@pytest.fixture(scope="module")
def small_model():
    vocab = WordVocabulary.from_text("the cat sat on the mat\nthe dog sat on the cat\n")
    model = wl.build_model(len(vocab), embed=6, hidden=8, seed=3)
    model.metadata["vocabulary"] = vocab.to_config()
    return model, vocab


def test_stream_scoring_does_not_depend_on_the_chunks(small_model):
    model, vocab = small_model
    ids = np.tile(vocab.encode("the cat sat on the mat\n"), 12)
    whole = wl.lstm_log_probs(model, ids, 5, chunk=1000)
    assert whole.shape == (ids.size - 5,)
    np.testing.assert_allclose(wl.lstm_log_probs(model, ids, 5, chunk=7), whole, atol=1e-5)
    # the same as one forward over the stream
    probs = model.forward(ids[None, :-1], training=False)[0]
    model.reset_states()
    np.testing.assert_allclose(whole, np.log(probs[np.arange(ids.size - 1), ids[1:]])[4:],
                               atol=1e-5)
    assert model.layers[1].states is None        # reset after
    with pytest.raises(ValueError, match="stateful"):
        wl.lstm_log_probs(wl.build_model(len(vocab), embed=2, hidden=2, stateful=False), ids, 1)


def test_next_words_are_the_model_s_most_likely(small_model):
    model, vocab = small_model
    words = wl.next_words(model, "the cat sat on", k=4)
    ids = np.concatenate([[vocab.end_of_line_index], vocab.encode("the cat sat on")])
    probs = model.forward(ids[None, :], training=False)[0, -1]
    model.reset_states()
    probs[vocab.unknown_index] = -1
    expected = [vocab.words[i] for i in np.argsort(-probs, kind="stable")[:4]]
    assert [w for w, _ in words] == expected
    assert [p for _, p in words] == sorted((p for _, p in words), reverse=True)
    assert "<unk>" not in [w for w, _ in wl.next_words(model, "x", k=len(vocab))]
    assert len(wl.next_words(model, "x", k=len(vocab), skip_unknown=False)) == len(vocab)
    with pytest.raises(TypeError, match="prefix must be a str"):
        wl.next_words(model, ["the"])
    with pytest.raises(ValueError, match="at least one token"):
        wl.next_words(model, "", line_start=False)
    with pytest.raises(ValueError, match="k must be"):
        wl.next_words(model, "the", k=0)


def test_run_refuses_unknown_options():
    with pytest.raises(TypeError, match="unknown options"):
        wl.run(quick=True, hiden=3)


# ------------------------------------------------------------------ the command
def test_quick_command(tmp_path, capsys):
    """The --quick run: a small LSTM for two epochs beats the unigram model by far
    and comes within 1.2 x the Kneser-Ney trigram's test perplexity (measured:
    70.88 against 66.08, 1.073; see docs/wordlm.md)."""
    assert wl.main(["--quick", "--out-dir", str(tmp_path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last)
    assert {"perplexity", "kn_perplexity", "perplexity_ratio_to_kn"} <= result.keys()
    assert result["perplexity_ratio_to_kn"] == pytest.approx(
        result["perplexity"] / result["kn_perplexity"], rel=1e-3)
    assert result["perplexity"] < 0.6 * result["unigram_perplexity"]
    assert result["perplexity_ratio_to_kn"] < 1.2
    assert result["kn_perplexity"] < 0.6 * result["unigram_perplexity"]
    assert (tmp_path / "wordlm_quick_perplexity.png").read_bytes()[:8] == PNG_MAGIC
    saved = json.loads((tmp_path / "wordlm_quick_results.json").read_text())
    assert saved["perplexity"] == pytest.approx(result["perplexity"], rel=1e-3)
    assert "| the cat sat on |" in (tmp_path / "wordlm_quick_next.md").read_text()


def test_command_reports_bad_arguments(capsys):
    assert wl.main(["--hidden", "0", "--out-dir", "/tmp"]) == 2
    assert "hidden" in capsys.readouterr().err


def test_runs_are_repeatable():
    """Seeds fixed: two runs of a tiny model give the same figures, bit for bit."""
    options = dict(quick=True, epochs=1, embed=4, hidden=8, log=None)
    a, b = wl.run(**options), wl.run(**options)
    assert wl.headline(a) | {"train_seconds": 0} == wl.headline(b) | {"train_seconds": 0}
    assert a["lstm"]["history"]["valid"] == b["lstm"]["history"]["valid"]
    assert a["examples"] == b["examples"]
