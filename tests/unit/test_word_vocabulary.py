"""seqnet.text.WordVocabulary and tokenize: the rule, min count, unknowns, the
end-of-line token, encode/decode, configs and saving with a model."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import seqnet
from seqnet.text import CharVocabulary, WordVocabulary, tokenize, vocabulary_of

words_st = st.lists(st.sampled_from(["to", "be", "or", "not", "the", "cat", "sat", "on"]),
                    min_size=1, max_size=30)


def test_tokenize_rule():
    assert tokenize("Is't a verdict?\nAll: 'tis so.\n\nEnd") == [
        "Is't", "a", "verdict", "?", "<eol>", "All", ":", "'", "tis", "so", ".", "<eol>",
        "<eol>", "End"]
    # apostrophes and hyphens only inside a word; a lone one is punctuation
    assert tokenize("self-same o'er -- ' x- -y") == [
        "self-same", "o'er", "-", "-", "'", "x", "-", "-", "y"]
    assert tokenize("a  b\t\r\nc", end_of_line="EOL") == ["a", "b", "EOL", "c"]
    assert tokenize("ÉTÉ, naïve!", lowercase=True) == ["été", ",", "naïve", "!"]
    assert tokenize("") == [] and tokenize("\n") == ["<eol>"]
    assert tokenize("<unk>") == ["<", "unk", ">"]   # a special token never comes from text


@given(words_st, st.booleans())
def test_round_trip_of_known_words(words, newline):
    text = " ".join(words) + ("\n" if newline else "")
    vocab = WordVocabulary.from_text(text)
    ids = vocab.encode(text)
    assert ids.dtype == np.int32 and len(ids) == len(words) + newline
    assert vocab.decode(ids) == text
    assert vocab.unknown_index not in ids.tolist()


def test_decode_lines_and_specials():
    vocab = WordVocabulary(["<unk>", "<eol>", "to", "be"])
    assert vocab.decode([2, 3, 1, 1, 0, 2]) == "to be\n\n<unk> to"
    assert vocab.decode([]) == "" and vocab.decode(np.int64(2)) == "to"
    assert vocab.decode(vocab.encode("to  be,\nbe")) == "to be <unk>\nbe"


def test_min_count_sends_rare_words_to_unknown():
    text = "a b a c a b d\n"
    vocab = WordVocabulary.from_text(text, min_count=2)
    assert vocab.words == ("<unk>", "<eol>", "a", "b")   # by count, then code point
    assert vocab.encode(text).tolist() == [2, 3, 2, 0, 2, 3, 0, 1]
    assert WordVocabulary.from_text(text, min_count=4).words == ("<unk>", "<eol>")
    # min_count=1 keeps every word; ties in code-point order
    assert WordVocabulary.from_text("b c a a\n").words == ("<unk>", "<eol>", "a", "b", "c")


def test_unknown_words_and_lowercase():
    vocab = WordVocabulary.from_text("The cat sat\n", lowercase=True, unknown="<UNK>",
                                     end_of_line="</s>")
    assert vocab.words[:2] == ("<UNK>", "</s>")
    assert (vocab.unknown, vocab.end_of_line, vocab.unknown_index,
            vocab.end_of_line_index) == ("<UNK>", "</s>", 0, 1)
    assert vocab.encode("THE dog\n").tolist() == [vocab.index["the"], 0, 1]
    cased = WordVocabulary.from_text("The cat\n")
    assert cased.encode("the The").tolist() == [0, cased.index["The"]]
    assert vocab.encode_tokens(["cat", "Cat"]).tolist() == [vocab.index["cat"], 0]
    assert "cat" in vocab and "dog" not in vocab and len(vocab) == 5


def test_equality_hash_repr_immutability():
    a = WordVocabulary(["<unk>", "<eol>", "x"])
    assert a == WordVocabulary(("<unk>", "<eol>", "x")) and hash(a) == hash(
        WordVocabulary(["<unk>", "<eol>", "x"]))
    assert a != WordVocabulary(["<unk>", "<eol>", "x"], lowercase=True)
    assert a != WordVocabulary(["<eol>", "<unk>", "x"])
    assert a != CharVocabulary("x")
    assert "3 words" in repr(a)
    with pytest.raises(TypeError):
        a.index["y"] = 3
    with pytest.raises(AttributeError):
        a.words = ()


@pytest.mark.parametrize("lowercase", [False, True])
def test_config_round_trips_through_json(lowercase):
    vocab = WordVocabulary.from_text("Hi there\nhi\n", lowercase=lowercase, end_of_line="<nl>")
    config = json.loads(json.dumps(vocab.to_config()))
    assert config == {"class": "WordVocabulary", "format": 1, "words": list(vocab.words),
                      "lowercase": lowercase, "unknown": "<unk>", "end_of_line": "<nl>"}
    assert WordVocabulary.from_config(config) == vocab


def test_saved_with_a_model_and_restored_by_load_model(tmp_path):
    vocab = WordVocabulary.from_text("the cat sat on the mat\n", lowercase=True)
    model = seqnet.Sequential([seqnet.Embedding(len(vocab), 3, seed=0),
                               seqnet.LSTM(4, seed=1),
                               seqnet.Dense(len(vocab), activation="softmax", seed=2)])
    model.predict(np.zeros((1, 5), np.int64))
    model.metadata["vocabulary"] = vocab.to_config()
    model.save(tmp_path / "m.seqnet")
    loaded = seqnet.load_model(tmp_path / "m.seqnet")
    again = vocabulary_of(loaded)
    assert isinstance(again, WordVocabulary) and again == vocab
    assert again.encode("The cat\n").tolist() == vocab.encode("the cat\n").tolist()
    # a character vocabulary still comes back as one
    model.metadata["vocabulary"] = CharVocabulary("ab").to_config()
    assert isinstance(vocabulary_of(model), CharVocabulary)
    model.metadata["vocabulary"] = {**vocab.to_config(), "words": "abc"}
    with pytest.raises(ValueError, match="vocabulary is invalid"):
        vocabulary_of(model)


@pytest.mark.parametrize("kw, exc, pattern", [
    (dict(text=b"abc"), TypeError, "text must be a str.*decode bytes"),
    (dict(text=""), ValueError, "at least one token"),
    (dict(text="   "), ValueError, "at least one token"),
    (dict(text="a", min_count=0), ValueError, "min_count"),
    (dict(text="a", min_count=1.5), TypeError, "min_count"),
    (dict(text="a", lowercase=1), TypeError, "lowercase"),
    (dict(text="a", unknown="unk"), ValueError, "unknown must be .*can contain as a word"),
    (dict(text="a", unknown=","), ValueError, "unknown must be"),
    (dict(text="a", unknown=""), ValueError, "unknown must be .*is empty"),
    (dict(text="a", end_of_line="<e l>"), ValueError, "end_of_line must be .*whitespace"),
    (dict(text="a", end_of_line=None), TypeError, "end_of_line must be a str"),
    (dict(text="a", unknown="<x>", end_of_line="<x>"), ValueError, "must differ"),
])
def test_bad_from_text(kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        WordVocabulary.from_text(**kw)


@pytest.mark.parametrize("words, kw, exc, pattern", [
    ("abc", {}, TypeError, "iterable of str tokens, got str"),
    (5, {}, TypeError, "iterable of str tokens, got int"),
    ([], {}, ValueError, "at least the unknown"),
    (["<unk>", "<eol>", 3], {}, TypeError, r"words\[2\] must be a str"),
    (["<unk>", "<eol>", "a b"], {}, ValueError, r"words\[2\] must be a non-empty token"),
    (["<unk>", "<eol>", ""], {}, ValueError, r"words\[2\]"),
    (["<unk>", "<eol>", "a", "a"], {}, ValueError, "distinct: 'a' is at both index 2 and "
                                                   "index 3"),
    (["<eol>", "a"], {}, ValueError, "unknown='<unk>' is not in words"),
    (["<unk>", "a"], {}, ValueError, "end_of_line='<eol>' is not in words"),
])
def test_bad_constructor(words, kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        WordVocabulary(words, **kw)


def test_bad_encode_decode_and_config():
    vocab = WordVocabulary(["<unk>", "<eol>", "a"])
    with pytest.raises(TypeError, match="use encode_tokens"):
        vocab.encode(["a"])
    with pytest.raises(TypeError, match="text must be a str"):
        vocab.encode(None)
    with pytest.raises(TypeError, match="got a str"):
        vocab.encode_tokens("a")
    with pytest.raises(TypeError, match=r"tokens\[1\] must be a str"):
        vocab.encode_tokens(["a", 1])
    with pytest.raises(ValueError, match=r"in \[0, 3\) for a vocabulary of 3 words, got 3"):
        vocab.decode([3])
    with pytest.raises(ValueError, match="1-D"):
        vocab.decode([[0]])
    with pytest.raises(TypeError, match="integer array"):
        vocab.decode([0.5])
    with pytest.raises(TypeError, match="text must be a str"):
        tokenize(3)
    good = vocab.to_config()
    with pytest.raises(TypeError, match="must be a dict"):
        WordVocabulary.from_config([])
    with pytest.raises(ValueError, match="missing \\['end_of_line'\\]"):
        WordVocabulary.from_config({k: v for k, v in good.items() if k != "end_of_line"})
    with pytest.raises(ValueError, match="class"):
        WordVocabulary.from_config({**good, "class": "CharVocabulary"})
    with pytest.raises(ValueError, match="format"):
        WordVocabulary.from_config({**good, "format": 2})
    with pytest.raises(TypeError, match="config\\['words'\\] must be a list"):
        WordVocabulary.from_config({**good, "words": "a"})
