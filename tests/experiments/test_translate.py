"""The translation experiment: words, split, metrics, models, the command."""

import functools
import importlib.util
import json
import sys

import numpy as np
import pytest

from seqnet.experiments import translate as tr
from seqnet.text import CharVocabulary

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# the words come from num2words (the experiments extra); CI installs it
needs_num2words = pytest.mark.skipif(importlib.util.find_spec("num2words") is None,
                                     reason="num2words is not installed")


# ---------------------------------------------------------------- edit distance
def _naive_distance(a, b):
    """The recursive definition of the Levenshtein distance, memoised."""

    @functools.cache
    def d(i, j):
        if i == 0 or j == 0:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))

    return d(len(a), len(b))


def test_edit_distance_of_known_pairs():
    cases = [("kitten", "sitting", 3), ("flaw", "lawn", 2), ("", "", 0), ("abc", "", 3),
             ("", "abcd", 4), ("ninety-seven", "ninety-seven", 0),
             ("ninety-seven", "seventy-nine", 8), ("thirty", "thirteen", 3),
             ("one hundred", "one hundred and one", 8), ("ab", "ba", 2)]
    for a, b, want in cases:
        assert tr.edit_distance(a, b) == want, (a, b)
        assert tr.edit_distance(b, a) == want, (b, a)


def test_edit_distance_matches_the_recursive_definition():
    rng = np.random.default_rng(0)
    for _ in range(300):
        a = "".join(rng.choice(list("abc"), rng.integers(0, 8)))
        b = "".join(rng.choice(list("abc"), rng.integers(0, 8)))
        c = "".join(rng.choice(list("abc"), rng.integers(0, 8)))
        d = tr.edit_distance(a, b)
        assert d == _naive_distance(a, b), (a, b)
        assert abs(len(a) - len(b)) <= d <= max(len(a), len(b))
        assert tr.edit_distance(a, c) <= d + tr.edit_distance(b, c)     # triangle
    assert tr.edit_distance([1, 2, 3], (1, 3)) == 1                      # any sequence


def test_exact_match_and_character_error_rate():
    refs = ["twenty-one", "six", "one hundred"]
    hyps = ["twenty-one", "sax", "one hundredd"]
    assert tr.exact_match(hyps, refs) == pytest.approx(1 / 3)
    # corpus level: (0 + 1 + 1) edits over 10 + 3 + 11 characters
    assert tr.character_error_rate(hyps, refs) == pytest.approx(2 / 24)
    assert tr.character_error_rate(refs, refs) == 0.0
    assert tr.character_error_rate(["", "", ""], refs) == 1.0           # all deleted
    with pytest.raises(ValueError, match="references"):
        tr.character_error_rate([""], [""])
    with pytest.raises(ValueError, match="hypotheses"):
        tr.exact_match(["a"], ["a", "b"])


def test_scores_by_length_bins_the_references():
    refs = ["ab", "abc", "abcd", "abcdefg", "abcdefgh"]
    hyps = ["ab", "abx", "abcd", "abcdefg", "xbcdefgh"]
    rows = tr.by_length(hyps, refs, [0, 5, 10, 15])
    assert [(r["low"], r["high"], r["count"]) for r in rows] == [(0, 5, 3), (5, 10, 2)]
    assert rows[0]["exact_match"] == pytest.approx(2 / 3)
    assert rows[0]["cer"] == pytest.approx(1 / 9)
    assert rows[1]["exact_match"] == 0.5 and rows[1]["cer"] == pytest.approx(1 / 15)
    with pytest.raises(ValueError, match="bins"):
        tr.by_length(hyps, refs, [5, 5])


# ------------------------------------------------------------------------ words
@needs_num2words
def test_numbers_in_words_and_languages():
    assert {"de", "en", "fr", "pt_BR"} <= set(tr.languages())
    assert tr.number_words([97, 0, 171], "de") == ["siebenundneunzig", "null",
                                                   "einhunderteinundsiebzig"]
    assert tr.number_words([97, 1001], "en") == ["ninety-seven", "one thousand and one"]
    with pytest.raises(ValueError, match="lang.*num2words supports.*'xx'"):
        tr.number_words([1], "xx")
    with pytest.raises(ValueError, match="numbers"):
        tr.number_words([-1], "en")
    with pytest.raises(TypeError, match="lang"):
        tr.number_words([1], 3)


def test_missing_num2words_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "num2words", None)
    with pytest.raises(ImportError, match=r"seqnet\[experiments\]"):
        tr.languages()
    with pytest.raises(ImportError, match=r"seqnet\[experiments\]"):
        tr.run(max_number=20, epochs=1, log=None)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"seqnet\[experiments\]"):
        tr.plot_lengths({}, "unused.png")


# ------------------------------------------------------------------------ split
def test_split_holds_out_every_length():
    rng = np.random.default_rng(1)
    lengths = np.concatenate([np.full(50, 3), np.full(7, 9), [12], np.full(2, 20)])
    lengths = lengths[rng.permutation(lengths.size)]
    train, test = tr.split_by_length(lengths, 0.2, seed=4)
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.union1d(train, test), np.arange(lengths.size))
    counts = {n: int(np.sum(lengths[test] == n)) for n in (3, 9, 12, 20)}
    assert counts == {3: 10, 9: 1, 12: 1, 20: 1}      # round(0.2 n), at least 1, < n
    assert set(lengths[train]) == {3, 9, 20}          # the single 12 is held out
    again = tr.split_by_length(lengths, 0.2, seed=4)
    np.testing.assert_array_equal(again[1], test)
    assert not np.array_equal(tr.split_by_length(lengths, 0.2, seed=5)[1], test)
    with pytest.raises(ValueError, match="test_fraction"):
        tr.split_by_length(lengths, 1.0)


@needs_num2words
def test_held_out_numbers_never_occur_in_training():
    numbers = np.arange(1000)
    sources, targets = tr.number_words(numbers, "de"), tr.number_words(numbers, "en")
    lengths = np.array([len(t) for t in targets])
    train, test = tr.split_by_length(lengths)
    assert train.size + test.size == 1000 and 190 <= test.size <= 215
    assert not {sources[i] for i in test} & {sources[i] for i in train}
    assert not {targets[i] for i in test} & {targets[i] for i in train}
    assert set(lengths[test]) == set(lengths)         # every output length is held out


def test_encode_pairs_pads_and_shifts():
    sv, tv = CharVocabulary.from_text("abc"), CharVocabulary.from_text("xy-")
    x, dec_in, dec_out = tr.encode_pairs(["ab", "cab"], ["x-y", "y"], sv, tv)
    np.testing.assert_array_equal(x, [[1, 2, 0], [3, 1, 2]])
    x_, y_, dash = tv.index["x"] + 3, tv.index["y"] + 3, tv.index["-"] + 3
    np.testing.assert_array_equal(dec_in, [[tr.START, x_, dash, y_], [tr.START, y_, 0, 0]])
    np.testing.assert_array_equal(dec_out, [[x_, dash, y_, tr.END], [y_, tr.END, 0, 0]])


# ----------------------------------------------------------------------- models
@needs_num2words
def test_translator_decodes_the_teacher_forced_model():
    numbers = np.arange(40)
    sources, targets = tr.number_words(numbers, "de"), tr.number_words(numbers, "en")
    sv, tv = CharVocabulary.from_text("".join(sources)), CharVocabulary.from_text("".join(targets))
    x, dec_in, dec_out = tr.encode_pairs(sources, targets, sv, tv)
    t = tr.build_translator(sv, tv, hidden=8, embed=4, attention=True, seed=3)
    tr.train_translator(t, x, dec_in, dec_out, epochs=2, log=None)
    assert len(t.history["loss"]) == 2
    # greedy decoding is the argmax of the training model fed its own output
    from seqnet import decode

    enc_out, h, c = t.encoder.predict(x)
    found = decode.greedy(t.decoder, [h, c], start=tr.START, end=tr.END, max_length=12,
                          constants=[enc_out])
    fed = np.concatenate([np.full((len(x), 1), tr.START), found.tokens[:, :-1]], axis=1)
    probs = t.model.predict([x, fed])
    for row, n in enumerate(found.lengths):
        np.testing.assert_array_equal(probs[row, :n].argmax(axis=-1), found.tokens[row, :n])
    assert t.translate(x, max_length=12) == t.strings(found.tokens, found.lengths)
    # attention weights: a distribution over each source's own characters
    weights = t.scores.predict([x, dec_in])
    lengths = (x > 0).sum(axis=1)
    np.testing.assert_allclose(weights.sum(axis=-1)[dec_in > 0], 1.0, atol=1e-5)
    for row, n in enumerate(lengths):
        assert np.all(weights[row, :, n:] == 0)
    plain = tr.build_translator(sv, tv, hidden=8, embed=4, attention=False, seed=3)
    assert plain.scores is None
    assert t.n_params - plain.n_params == 8 * (len(tv) + 3)   # the head reads 2H, not H
    assert len(plain.translate(x[:3], width=3, max_length=5)) == 3


@needs_num2words
def test_run_is_deterministic_given_the_seed():
    kwargs = {"max_number": 60, "epochs": 2, "hidden": 8, "embed": 4, "width": 2,
              "log": None}
    a, b = tr.run(**kwargs), tr.run(**kwargs)
    sa, sb = dict(a["summary"]), dict(b["summary"])
    sa.pop("seconds"), sb.pop("seconds")
    assert sa == sb
    for name in a["models"]:
        assert a["models"][name]["greedy"] == b["models"][name]["greedy"]
        assert a["models"][name]["translator"].history["loss"] == \
            b["models"][name]["translator"].history["loss"]


@needs_num2words
@pytest.mark.parametrize(("kwargs", "name"), [
    ({"source": "xx"}, "source"),
    ({"target": "klingon"}, "target"),
    ({"max_number": 3}, "max_number"),
    ({"width": 1}, "width"),
    ({"epochs": 0}, "epochs"),
    ({"test_fraction": 0.0}, "test_fraction"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        tr.run(log=None, **{"max_number": 30, "epochs": 1, **kwargs})


@needs_num2words
def test_command_rejects_an_unknown_language(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        tr.main(["--source", "xx", "--out-dir", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--source" in err and "'xx'" in err and "de, " in err
    assert not list(tmp_path.iterdir())


def test_command_without_matplotlib_stops_before_training(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setattr(tr, "run", lambda *a, **k: pytest.fail("trained without matplotlib"))
    assert tr.main(["--quick", "--out-dir", str(tmp_path)]) == 2
    assert 'pip install "seqnet[experiments]"' in capsys.readouterr().err


# ------------------------------------------------------------------ the command
@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """``--quick`` as a user runs it: its files and its printed lines."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("translate")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = tr.main(["--quick", "--out-dir", str(out)])
    assert code == 0
    return out, buf.getvalue().splitlines()


@needs_num2words
def test_quick_prints_the_headline_figures_last(quick):
    _, lines = quick
    summary = json.loads(lines[-1])
    for key in ("exact_match", "cer", "greedy_exact_match", "greedy_cer",
                "no_attention_exact_match", "no_attention_cer", "held_out", "train"):
        assert key in summary
    assert summary["quick"] is True and summary["source"] == "de"
    assert summary["train"] + summary["held_out"] == 1000
    # the figures the docs state for --quick
    assert summary["exact_match"] >= 0.9
    assert summary["greedy_exact_match"] >= 0.9
    assert summary["cer"] <= 0.02
    assert summary["no_attention_exact_match"] <= 0.3
    assert summary["no_attention_cer"] >= 5 * summary["cer"]


@needs_num2words
def test_quick_writes_the_tables_and_figures(quick):
    out, lines = quick
    table = (out / "translate_de_en.md").read_text()
    assert table in "\n".join(lines) + "\n"
    assert "| attention | " in table and "| no attention | " in table
    assert "Exact match by output length:" in table
    summary = json.loads(lines[-1])
    row = next(line for line in table.splitlines()
               if line.startswith("| attention |") and "beam, width 5" in line)
    assert f"{100 * summary['exact_match']:.2f} %" in row
    for kind in ("length", "attention"):
        png = (out / f"translate_de_en_{kind}.png").read_bytes()
        assert png[:8] == PNG_MAGIC and len(png) > 10_000
