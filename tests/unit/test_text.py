"""seqnet.text: vocabularies, windows, one-hot and the train/validation split."""

import doctest
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import seqnet.text
from seqnet.text import (
    CharVocabulary,
    char_windows,
    one_hot,
    sequence_windows,
    train_validation_split,
)

texts = st.text(min_size=1, max_size=60)
small_alphabet_texts = st.text(alphabet="abcAB \n.", min_size=1, max_size=60)


def keras_windows(text, maxlen, step):
    """The classic Keras example's loop, verbatim apart from the names."""
    sentences, next_chars = [], []
    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i: i + maxlen])
        next_chars.append(text[i + maxlen])
    return sentences, next_chars


def test_docstring_examples_run():
    result = doctest.testmod(seqnet.text, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10
    assert result.failed == 0


# ---------------------------------------------------------------- vocabulary

@given(texts)
def test_vocabulary_is_keras_sorted_set(text):
    vocab = CharVocabulary.from_text(text)
    chars = sorted(set(text))  # the Keras example's vocabulary
    assert list(vocab.chars) == chars
    assert len(vocab) == len(chars)
    assert dict(vocab.index) == {c: i for i, c in enumerate(chars)}


@given(texts)
def test_encode_decode_round_trip(text):
    vocab = CharVocabulary.from_text(text)
    codes = vocab.encode(text)
    assert codes.dtype == np.int32 and codes.shape == (len(text),)
    assert [vocab.chars[i] for i in codes] == list(text)
    assert vocab.decode(codes) == text


@given(texts)
def test_lowercase_vocabulary_and_encode(text):
    vocab = CharVocabulary.from_text(text, lowercase=True)
    assert list(vocab.chars) == sorted(set(text.lower()))
    assert vocab.lowercase
    assert vocab.decode(vocab.encode(text)) == text.lower()


def test_non_bmp_and_surrogate_characters_round_trip():
    text = "a\U0001F600b\udc80\u00e9\n"  # an emoji and a surrogate-escaped byte
    vocab = CharVocabulary.from_text(text)
    assert vocab.decode(vocab.encode(text)) == text
    assert vocab.chars == tuple(sorted(set(text)))


def test_constructor_keeps_the_given_order():
    vocab = CharVocabulary(["z", "a", "m"])
    assert vocab.encode("amz").tolist() == [1, 2, 0]
    assert vocab.decode([0, 1, 2]) == "zam"
    assert CharVocabulary("zam") == vocab


def test_encode_empty_text_and_decode_empty_indices():
    vocab = CharVocabulary.from_text("abc")
    out = vocab.encode("")
    assert out.dtype == np.int32 and out.shape == (0,)
    assert vocab.decode([]) == ""
    assert vocab.decode(np.array([], dtype=np.int64)) == ""
    assert vocab.decode(np.int64(2)) == "c"


def test_vocabulary_equality_hash_and_immutability():
    a = CharVocabulary.from_text("hello")
    assert a == CharVocabulary.from_text("olleh")
    assert hash(a) == hash(CharVocabulary.from_text("olleh"))
    assert a != CharVocabulary.from_text("hello", lowercase=True)
    assert a != CharVocabulary.from_text("hello", unknown="l")
    assert a != CharVocabulary.from_text("help")
    assert a != "ehlo"
    assert "h" in a and "x" not in a
    with pytest.raises(TypeError):
        a.index["x"] = 9
    with pytest.raises(AttributeError):
        a.chars = ("x",)
    assert "CharVocabulary(4 chars 'ehlo'" in repr(a)


# ------------------------------------------------------------- unseen chars

def test_unseen_characters_raise_by_default_listing_them():
    vocab = CharVocabulary.from_text("abc")
    with pytest.raises(ValueError) as info:
        vocab.encode("abXcYX")
    msg = str(info.value)
    assert "3 character(s) not in the vocabulary" in msg
    assert "2 distinct: 'X', 'Y'" in msg  # order of first appearance
    assert "unknown=" in msg


def test_unseen_message_lists_only_the_first_few():
    vocab = CharVocabulary.from_text("a")
    unseen = "0123456789BCDEFGHIJ"  # 19 distinct
    with pytest.raises(ValueError, match=r"19 distinct: '0', '1', .*'9', \.\.\. \(9 more\)"):
        vocab.encode("a" + unseen)


def test_unseen_characters_are_repr_d():
    vocab = CharVocabulary.from_text("a")
    with pytest.raises(ValueError, match=r"'\\t'"):
        vocab.encode("a\t")


def test_unknown_in_text_is_used_for_unseen_characters():
    vocab = CharVocabulary.from_text("ab c", unknown=" ")
    assert vocab.chars == (" ", "a", "b", "c")  # nothing added
    assert vocab.encode("aXbY").tolist() == [1, 0, 2, 0]
    assert vocab.decode(vocab.encode("aXbY")) == "a b "


def test_unknown_not_in_text_is_added_and_vocabulary_stays_sorted():
    vocab = CharVocabulary.from_text("cab", unknown="~")
    assert vocab.chars == ("a", "b", "c", "~")
    assert vocab.encode("a!").tolist() == [0, 3]
    vocab = CharVocabulary.from_text("cab", unknown="#")
    assert vocab.chars == ("#", "a", "b", "c")  # Keras indices shift by one


def test_unknown_with_lowercase():
    vocab = CharVocabulary.from_text("Abc", lowercase=True, unknown="?")
    assert vocab.chars == ("?", "a", "b", "c")
    assert vocab.encode("ABCD").tolist() == [1, 2, 3, 0]


def test_constructor_requires_unknown_in_chars():
    with pytest.raises(ValueError, match=r"unknown='\?' is not in chars"):
        CharVocabulary("abc", unknown="?")
    assert CharVocabulary("ab?", unknown="?").encode("z").tolist() == [2]


# ------------------------------------------------------------------ config

@given(texts, st.booleans(), st.sampled_from([None, "?", "\x00", "\U0001F600"]))
def test_config_round_trips_through_json(text, lowercase, unknown):
    vocab = CharVocabulary.from_text(text, lowercase=lowercase, unknown=unknown)
    config = json.loads(json.dumps(vocab.to_config()))
    again = CharVocabulary.from_config(config)
    assert again == vocab
    assert again.chars == vocab.chars
    assert again.encode(text).tolist() == vocab.encode(text).tolist()


def test_config_layout():
    config = CharVocabulary.from_text("ba", unknown="a").to_config()
    assert config == {"class": "CharVocabulary", "format": 1, "chars": ["a", "b"],
                      "lowercase": False, "unknown": "a"}


@pytest.mark.parametrize("change,exc,pattern", [
    ({"class": "Other"}, ValueError, r"config\['class'\] must be 'CharVocabulary'"),
    ({"format": 2}, ValueError, r"config\['format'\] must be 1"),
    ({"extra": 1}, ValueError, r"unexpected \['extra'\]"),
    ({"chars": "ab"}, TypeError, r"config\['chars'\] must be a list"),
    ({"chars": ["a", "a"]}, ValueError, r"chars must be distinct"),
    ({"chars": ["ab"]}, ValueError, r"chars\[0\] must be a single character"),
    ({"lowercase": "yes"}, TypeError, r"lowercase must be a bool"),
    ({"unknown": "z"}, ValueError, r"unknown='z' is not in chars"),
])
def test_bad_config(change, exc, pattern):
    config = CharVocabulary.from_text("ab").to_config() | change
    with pytest.raises(exc, match=pattern):
        CharVocabulary.from_config(config)


def test_config_missing_key_and_not_a_dict():
    config = CharVocabulary.from_text("ab").to_config()
    del config["unknown"]
    with pytest.raises(ValueError, match=r"missing \['unknown'\]"):
        CharVocabulary.from_config(config)
    with pytest.raises(TypeError, match=r"config must be a dict"):
        CharVocabulary.from_config([("chars", ["a"])])


# ---------------------------------------------------------- vocabulary args

@pytest.mark.parametrize("text,kw,exc,pattern", [
    ("", {}, ValueError, r"text must not be empty"),
    (b"abc", {}, TypeError, r"text must be a str, got bytes \(decode bytes first"),
    (["a", "b"], {}, TypeError, r"text must be a str, got list"),
    ("abc", {"unknown": ""}, ValueError, r"unknown must be a single character"),
    ("abc", {"unknown": "??"}, ValueError, r"unknown must be a single character"),
    ("abc", {"unknown": 0}, TypeError, r"unknown must be None or a one-character str"),
    ("abc", {"lowercase": 1}, TypeError, r"lowercase must be a bool"),
])
def test_bad_from_text(text, kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        CharVocabulary.from_text(text, **kw)


@pytest.mark.parametrize("chars,exc,pattern", [
    ([], ValueError, r"chars must contain at least one character"),
    ("", ValueError, r"chars must contain at least one character"),
    (["a", 1], TypeError, r"chars\[1\] must be a one-character str, got int"),
    (["a", ""], ValueError, r"chars\[1\] must be a single character"),
    ("aba", ValueError, r"'a' is at both index 0 and index 2"),
    (b"ab", TypeError, r"got bytes"),
    (3, TypeError, r"chars must be an iterable"),
])
def test_bad_constructor(chars, exc, pattern):
    with pytest.raises(exc, match=pattern):
        CharVocabulary(chars)


@pytest.mark.parametrize("bad,exc,pattern", [
    ([0, 3], ValueError, r"indices must be in \[0, 3\) .* got 3"),
    ([-1], ValueError, r"indices must be in \[0, 3\) .* got -1"),
    ([[0, 1]], ValueError, r"indices must be 1-D \(decode one row at a time\)"),
    ([0.0, 1.0], TypeError, r"indices must be an integer array, got dtype float64"),
    ([True], TypeError, r"indices must be an integer array, got dtype bool"),
    ("ab", TypeError, r"indices must be an integer array, got str"),
])
def test_bad_decode(bad, exc, pattern):
    with pytest.raises(exc, match=pattern):
        CharVocabulary("abc").decode(bad)


def test_bad_encode():
    with pytest.raises(TypeError, match=r"text must be a str, got list"):
        CharVocabulary("abc").encode(["a"])


# ------------------------------------------------------------------ windows

@given(small_alphabet_texts, st.integers(1, 12), st.integers(1, 7))
def test_char_windows_match_the_keras_loop(text, maxlen, step):
    vocab = CharVocabulary.from_text(text)
    codes = vocab.encode(text)
    if len(text) <= maxlen:
        with pytest.raises(ValueError, match="window longer than the text"):
            char_windows(codes, maxlen, step)
        return
    X, y = char_windows(codes, maxlen, step)
    sentences, next_chars = keras_windows(text, maxlen, step)
    assert X.dtype == np.int32 and y.dtype == np.int32
    assert X.shape == (len(sentences), maxlen) and y.shape == (len(sentences),)
    assert [vocab.decode(row) for row in X] == sentences
    assert vocab.decode(y) == "".join(next_chars)


@given(st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=60),
       st.integers(1, 12), st.data())
def test_sequence_windows_match_a_loop(values, maxlen, data):
    step = data.draw(st.one_of(st.none(), st.integers(1, 7)))
    if len(values) <= maxlen:
        with pytest.raises(ValueError, match="window longer than the text"):
            sequence_windows(values, maxlen, step)
        return
    X, Y = sequence_windows(values, maxlen, step)
    stride = maxlen if step is None else step
    starts = range(0, len(values) - maxlen, stride)
    assert X.tolist() == [values[i:i + maxlen] for i in starts]
    assert Y.tolist() == [values[i + 1:i + maxlen + 1] for i in starts]
    assert X.dtype == np.int32 and Y.dtype == np.int32
    X1, y1 = char_windows(values, maxlen, stride)
    assert np.array_equal(X, X1) and np.array_equal(Y[:, -1], y1)


def test_sequence_windows_default_step_is_non_overlapping():
    X, Y = sequence_windows(np.arange(10), 3)
    assert X.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert Y.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    X, Y = sequence_windows(np.arange(9), 3)  # [6, 7, 8] has no target after 8
    assert X.tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("windows", [char_windows, sequence_windows])
def test_windows_are_fresh_contiguous_writable_arrays(windows):
    codes = np.arange(20, dtype=np.int32)
    X, Z = windows(codes, 4, 2)
    for out in (X, Z):
        assert out.flags.c_contiguous and out.flags.writeable and out.flags.owndata
        assert not np.shares_memory(out, codes)
    X[...] = -1
    assert codes.tolist() == list(range(20))


def test_windows_with_maxlen_one_less_than_the_text():
    X, y = char_windows([5, 6, 7], 2, 10)
    assert X.tolist() == [[5, 6]] and y.tolist() == [7]


def test_window_longer_than_the_text_message():
    with pytest.raises(ValueError, match=r"the text has 5 characters but maxlen is 5: "
                                         r"window longer than the text"):
        char_windows(np.arange(5), 5, 1)
    with pytest.raises(ValueError, match=r"the text has 3 characters but maxlen is 8"):
        sequence_windows(np.arange(3), 8)


@pytest.mark.parametrize("windows", [char_windows, sequence_windows])
@pytest.mark.parametrize("indices,maxlen,step,exc,pattern", [
    (np.arange(10), 0, 1, ValueError, r"maxlen must be a positive integer, got 0"),
    (np.arange(10), -2, 1, ValueError, r"maxlen must be a positive integer"),
    (np.arange(10), 2.0, 1, TypeError, r"maxlen must be a positive integer"),
    (np.arange(10), True, 1, TypeError, r"maxlen must be a positive integer"),
    (np.arange(10), 3, 0, ValueError, r"step must be a positive integer, got 0"),
    (np.arange(10), 3, 1.5, TypeError, r"step must be a positive integer"),
    ("hello world", 3, 1, TypeError, r"indices must be an integer array, got str "
                                     r"\(encode the text first"),
    (np.arange(10.0), 3, 1, TypeError, r"indices must be an integer array, got dtype float64"),
    (np.ones(10, bool), 3, 1, TypeError, r"indices must be an integer array, got dtype bool"),
    (np.arange(10).reshape(2, 5), 3, 1, ValueError, r"indices must be 1-D"),
    (np.array([1, -1, 2, 3]), 2, 1, ValueError, r"indices must be >= 0"),
    (np.array([1, 2**40, 2, 3]), 2, 1, ValueError, r"indices must fit in int32"),
    ([], 1, 1, ValueError, r"the text has 0 characters but maxlen is 1"),
])
def test_bad_window_arguments(windows, indices, maxlen, step, exc, pattern):
    with pytest.raises(exc, match=pattern):
        windows(indices, maxlen, step)


# ------------------------------------------------------------------ one_hot

@given(st.lists(st.integers(0, 9), max_size=30), st.integers(10, 12),
       st.sampled_from([np.float32, np.float64, np.int8, bool]))
def test_one_hot_matches_comparison(values, depth, dtype):
    idx = np.array(values, dtype=np.int64).reshape(-1, 1) if values else np.zeros((0, 1), int)
    out = one_hot(idx, depth, dtype=dtype)
    assert out.shape == idx.shape + (depth,) and out.dtype == np.dtype(dtype)
    assert np.array_equal(out, (idx[..., None] == np.arange(depth)).astype(dtype))


def test_one_hot_of_windows():
    X, y = char_windows(CharVocabulary.from_text("abcab").encode("abcab"), 2, 1)
    assert one_hot(X, 3).shape == (3, 2, 3)
    assert one_hot(y, 3).sum(axis=1).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("indices,depth,dtype,exc,pattern", [
    ([0, 3], 3, np.float32, ValueError, r"indices must be in \[0, depth\) = \[0, 3\), got 3"),
    ([-1], 3, np.float32, ValueError, r"got -1"),
    ([0], 0, np.float32, ValueError, r"depth must be a positive integer"),
    ([0], 2.0, np.float32, TypeError, r"depth must be a positive integer"),
    ([0.5], 2, np.float32, TypeError, r"indices must be an integer array"),
    ([0], 2, np.complex64, TypeError, r"dtype must be a boolean, integer or floating"),
    ([0], 2, "nonsense", TypeError, r"dtype must be a boolean, integer or floating"),
])
def test_bad_one_hot(indices, depth, dtype, exc, pattern):
    with pytest.raises(exc, match=pattern):
        one_hot(indices, depth, dtype=dtype)


# ------------------------------------------------------------------- split

@given(st.integers(1, 200), st.floats(0, 0.99))
def test_split_is_positional_and_complete(n, fraction):
    codes = np.arange(n)
    held = round(fraction * n)
    if (fraction > 0 and held == 0) or held >= n:
        with pytest.raises(ValueError, match="holds out"):
            train_validation_split(codes, fraction)
        return
    train, valid = train_validation_split(codes, fraction)
    assert len(valid) == held
    assert np.array_equal(np.concatenate([train, valid]), codes)
    assert np.shares_memory(train, codes) or train.size == 0


def test_split_examples():
    train, valid = train_validation_split(np.arange(100), 0.07)
    assert len(train) == 93 and len(valid) == 7  # not thrown by 1 - 0.07 in floating point
    train, valid = train_validation_split(np.arange(10), 0)
    assert len(train) == 10 and len(valid) == 0
    assert train_validation_split("abcdefghij", 0.3) == ("abcdefg", "hij")
    assert [a.tolist() for a in train_validation_split([1, 2, 3, 4], 0.25)] == [[1, 2, 3], [4]]


@pytest.mark.parametrize("indices,fraction,exc,pattern", [
    (np.arange(10), 1.0, ValueError, r"fraction must be in \[0, 1\), got 1.0"),
    (np.arange(10), -0.1, ValueError, r"fraction must be in \[0, 1\)"),
    (np.arange(10), float("nan"), ValueError, r"fraction must be in \[0, 1\)"),
    (np.arange(10), "0.1", TypeError, r"fraction must be a real number"),
    (np.arange(10), True, TypeError, r"fraction must be a real number"),
    (np.arange(10), 0.01, ValueError, r"holds out none"),
    (np.arange(2), 0.9, ValueError, r"holds out all of them"),
    (np.zeros((2, 5)), 0.1, ValueError, r"indices must be 1-D"),
    ([], 0.1, ValueError, r"indices must not be empty"),
    ("", 0.1, ValueError, r"indices must not be empty"),
])
def test_bad_split(indices, fraction, exc, pattern):
    with pytest.raises(exc, match=pattern):
        train_validation_split(indices, fraction)
