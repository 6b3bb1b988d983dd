"""Character vocabularies and training windows for character-level language models.

The classic Keras character model (``lstm_text_generation.py``) builds its vocabulary
as ``chars = sorted(set(text))``, cuts the text into windows of ``maxlen``
characters every ``step`` characters, and predicts the character after each window.
This module does the same on integer indices, without the one-hot tensor:

- `CharVocabulary` maps characters to ``int32`` indices and back, with an
  explicit policy for characters it has never seen, and saves itself as a
  JSON-able dict (no pickle).
- `char_windows` makes many-to-one windows ``(X, y)``;
  `sequence_windows` makes sequence-to-sequence windows ``(X, Y)`` whose
  target is every next character.
- `stream_batches` and `stream_arrays` cut a text into ``batch_size``
  contiguous streams for stateful training with truncated backpropagation through
  time (the layout of Zaremba et al. and AWD-LSTM): each character is an input
  once, and batch ``k + 1`` continues batch ``k`` row for row.
- `WordVocabulary` does the same for words: a documented tokenisation rule
  (`tokenize`), a minimum count, an ``<unk>`` token for words below it and an
  end-of-line token for each newline.
- `one_hot` expands indices when a one-hot array is really wanted, and
  `train_validation_split` holds out the end of a text.
- A vocabulary travels with a model as JSON in its metadata,
  ``model.metadata["vocabulary"] = vocab.to_config()``, saved and loaded with it;
  `vocabulary_of` gives it back (a `CharVocabulary` or a `WordVocabulary`).

Examples
--------
>>> from seqnet.text import CharVocabulary, char_windows
>>> vocab = CharVocabulary.from_text("hello world")
>>> vocab.chars
(' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w')
>>> X, y = char_windows(vocab.encode("hello world"), maxlen=4, step=3)
>>> vocab.decode(X[1]), vocab.decode(y[1:2])
('lo w', 'o')
"""

from __future__ import annotations

import collections
import re
import types

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _checks

__all__ = ["CharVocabulary", "UnseenCharactersError", "WordVocabulary", "char_windows",
           "one_hot", "sequence_windows", "stream_arrays", "stream_batches", "tokenize",
           "train_validation_split", "vocabulary_of"]

#: how many distinct unseen characters an encode error lists.
_SHOW_UNSEEN = 10
#: ``to_config()["format"]``; bumped if the config layout ever changes.
_CONFIG_FORMAT = 1
_CONFIG_KEYS = frozenset({"class", "format", "chars", "lowercase", "unknown"})
_INT32 = np.iinfo(np.int32)


def _codepoints(text):
    """The code points of ``text`` as ``uint32`` ``(len(text),)``.

    Through UTF-32, so a lone surrogate (as ``surrogateescape`` decoding makes) is a
    code point like any other.
    """
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _from_codepoints(codes):
    """The string whose code points are ``codes`` (inverse of `_codepoints`)."""
    return np.asarray(codes, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")


def _integer_array(value, name, *, ndim=None, hint=""):
    """``value`` as an integer ndarray, or TypeError/ValueError naming ``name``."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an integer array, got {type(value).__name__}{hint}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an integer array, got "
                        f"{type(value).__name__}") from exc
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}{hint}")
    if arr.dtype.kind == "f":  # an empty list: np.asarray([]) is float64
        arr = arr.astype(np.int64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr


def _text_indices(indices):
    """``indices`` (a 1-D encoded text) as C-contiguous ``int32``, values checked."""
    arr = _integer_array(indices, "indices", ndim=1,
                         hint=" (encode the text first: CharVocabulary.encode(text))")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0:
            raise ValueError(f"indices must be >= 0 (vocabulary indices), got min {lo}")
        if hi > _INT32.max:
            raise ValueError(f"indices must fit in int32 (<= {_INT32.max}), got max {hi}")
    return np.ascontiguousarray(arr, dtype=np.int32)


def _check_window_fits(n, maxlen):
    if n <= maxlen:
        raise ValueError(
            f"indices: the text has {n} characters but maxlen is {maxlen}: window longer "
            f"than the text (a window and its next-character target need at least "
            f"maxlen + 1 = {maxlen + 1} characters)")


class UnseenCharactersError(ValueError):
    """Text with characters a vocabulary has no index for (and no ``unknown``).

    Parameters
    ----------
    message : str
        The error's text.
    count : int
        The unseen characters in the text.
    distinct : int
        How many of them are distinct.
    listing : str
        The first few, quoted, for a message.
    """

    def __init__(self, message, *, count, distinct, listing):
        super().__init__(message)
        self.count, self.distinct, self.listing = count, distinct, listing


class CharVocabulary:
    """A character <-> integer index mapping with a policy for unseen characters.

    Usually built with `from_text`; the constructor takes the characters in
    index order, so any existing vocabulary (another tool's, a saved config) can be
    rebuilt exactly.

    Parameters
    ----------
    chars : iterable of str
        The distinct characters, each a one-character ``str``, in index order:
        ``chars[i]`` has index ``i``. A ``str`` is taken character by character.
    lowercase : bool, default False
        Lowercase text in `encode` before looking characters up.
    unknown : str or None, default None
        The policy for characters not in the vocabulary. ``None``: `encode`
        raises ValueError listing them. A one-character ``str``: unseen characters
        are encoded as this character's index; it must be one of ``chars``.

    Attributes
    ----------
    chars : tuple of str
        The characters in index order; ``len(vocab)`` of them.
    index : mapping of str to int
        Read-only map from character to index, ``index[chars[i]] == i``.
    lowercase : bool
        Whether `encode` lowercases first.
    unknown : str or None
        The unseen-character policy (see Parameters).

    Raises
    ------
    TypeError
        If a character is not a ``str``, ``lowercase`` is not a bool or ``unknown``
        is neither ``None`` nor a ``str``.
    ValueError
        If ``chars`` is empty, has a duplicate or a string of length other than 1,
        or ``unknown`` is not one of ``chars``.

    See Also
    --------
    char_windows, sequence_windows : windows of the encoded text.

    Notes
    -----
    Characters are Unicode code points, as Python's ``str`` has them. Decoding is
    the exact inverse of encoding unless encoding changed the text: lowercasing, or
    unseen characters mapped to ``unknown``.

    Vocabularies are immutable, hashable and compare equal when their characters
    (in order), ``lowercase`` and ``unknown`` agree.

    Examples
    --------
    >>> vocab = CharVocabulary.from_text("abracadabra")
    >>> vocab.chars
    ('a', 'b', 'c', 'd', 'r')
    >>> vocab.encode("cab")
    array([2, 0, 1], dtype=int32)
    >>> vocab.decode([4, 0, 3])
    'rad'
    >>> CharVocabulary(["x", "y"]) == CharVocabulary("xy")
    True
    """

    __slots__ = ("_chars", "_index", "_lowercase", "_unknown", "_unknown_index",
                 "_codes", "_sorted_codes", "_sorted_order")

    def __init__(self, chars, *, lowercase=False, unknown=None):
        if isinstance(chars, (bytes, bytearray)):
            raise TypeError("chars must be an iterable of one-character str, got bytes")
        try:
            chars = tuple(chars)
        except TypeError as exc:
            raise TypeError("chars must be an iterable of one-character str, got "
                            f"{type(chars).__name__}") from exc
        if not chars:
            raise ValueError("chars must contain at least one character, got none")
        for i, ch in enumerate(chars):
            if not isinstance(ch, str):
                raise TypeError(f"chars[{i}] must be a one-character str, got "
                                f"{type(ch).__name__} {ch!r}")
            if len(ch) != 1:
                raise ValueError(f"chars[{i}] must be a single character, got {ch!r} "
                                 f"(length {len(ch)})")
        index = {}
        for i, ch in enumerate(chars):
            if ch in index:
                raise ValueError(f"chars must be distinct: {ch!r} is at both index "
                                 f"{index[ch]} and index {i}")
            index[ch] = i
        _checks.flag(lowercase, "lowercase")
        unknown = _check_unknown(unknown)
        if unknown is not None and unknown not in index:
            raise ValueError(f"unknown={unknown!r} is not in chars: the unknown character "
                             "must be one of the vocabulary's characters")
        self._chars = chars
        self._index = types.MappingProxyType(index)
        self._lowercase = bool(lowercase)
        self._unknown = unknown
        self._unknown_index = None if unknown is None else index[unknown]
        self._codes = _codepoints("".join(chars))
        self._sorted_order = np.argsort(self._codes, kind="stable").astype(np.int32)
        self._sorted_codes = self._codes[self._sorted_order]

    @classmethod
    def from_text(cls, text, *, lowercase=False, unknown=None):
        """Build the vocabulary of ``text``: its distinct characters, sorted.

        Parameters
        ----------
        text : str
            The corpus; must not be empty.
        lowercase : bool, default False
            Lowercase ``text`` before collecting characters, and in `encode`.
        unknown : str or None, default None
            The unseen-character policy (see `CharVocabulary`). A character
            that does not occur in ``text`` is added to the vocabulary, which stays
            sorted (so the indices of later characters shift by one).

        Returns
        -------
        CharVocabulary
            ``chars == tuple(sorted(set(text)))`` (of ``text.lower()`` when
            ``lowercase``), plus ``unknown`` if it is not already among them.

        Raises
        ------
        TypeError
            If ``text`` is not a ``str``, or the keywords have the wrong type.
        ValueError
            If ``text`` is empty, or ``unknown`` is not a single character.

        Examples
        --------
        >>> CharVocabulary.from_text("Hello").chars
        ('H', 'e', 'l', 'o')
        >>> CharVocabulary.from_text("Hello", lowercase=True).chars
        ('e', 'h', 'l', 'o')
        >>> CharVocabulary.from_text("Hello", unknown="?").chars
        ('?', 'H', 'e', 'l', 'o')
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}"
                            + (" (decode bytes first, or use seqnet.datasets.load_text)"
                               if isinstance(text, (bytes, bytearray)) else ""))
        if not text:
            raise ValueError("text must not be empty: a vocabulary needs at least one "
                             "character")
        _checks.flag(lowercase, "lowercase")
        unknown = _check_unknown(unknown)
        if lowercase:
            text = text.lower()
        chars = set(text)
        if unknown is not None:
            chars.add(unknown)
        return cls(sorted(chars), lowercase=lowercase, unknown=unknown)

    @property
    def chars(self):
        """tuple of str: the characters in index order."""
        return self._chars

    @property
    def index(self):
        """mapping of str to int: read-only character -> index map."""
        return self._index

    @property
    def lowercase(self):
        """bool: whether `encode` lowercases the text first."""
        return self._lowercase

    @property
    def unknown(self):
        """str or None: the character unseen characters encode as, or None (raise)."""
        return self._unknown

    def __len__(self):
        return len(self._chars)

    def __contains__(self, char):
        return char in self._index

    def __eq__(self, other):
        if not isinstance(other, CharVocabulary):
            return NotImplemented
        return (self._chars == other._chars and self._lowercase == other._lowercase
                and self._unknown == other._unknown)

    def __hash__(self):
        return hash((self._chars, self._lowercase, self._unknown))

    def __repr__(self):
        shown = "".join(self._chars[:20]) + ("..." if len(self._chars) > 20 else "")
        return (f"CharVocabulary({len(self)} chars {shown!r}, lowercase={self._lowercase}, "
                f"unknown={self._unknown!r})")

    def encode(self, text):
        """Map each character of ``text`` to its index.

        Parameters
        ----------
        text : str
            Text to encode; may be empty. Lowercased first when `lowercase`.

        Returns
        -------
        ndarray of int32, shape (n,)
            ``n = len(text)`` (``len(text.lower())`` when lowercasing, which can
            differ for a few characters such as ``'İ'``).

        Raises
        ------
        TypeError
            If ``text`` is not a ``str``.
        ValueError
            If ``text`` has characters not in the vocabulary and `unknown` is
            None. The message gives how many there are, how many distinct, and the
            first few (repr'd, in order of appearance).

        Examples
        --------
        >>> vocab = CharVocabulary.from_text("abc", unknown="?")
        >>> vocab.encode("cab!")
        array([3, 1, 2, 0], dtype=int32)
        >>> vocab.decode(vocab.encode("cab!"))
        'cab?'
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if self._lowercase:
            text = text.lower()
        codes = _codepoints(text)
        pos = np.searchsorted(self._sorted_codes, codes)
        np.minimum(pos, len(self._sorted_codes) - 1, out=pos)
        seen = self._sorted_codes[pos] == codes
        out = self._sorted_order[pos]
        if not seen.all():
            unseen = ~seen
            if self._unknown_index is None:
                raise self._unseen_error(codes[unseen])
            out[unseen] = self._unknown_index
        return out

    def _unseen_error(self, unseen_codes):
        distinct, first = np.unique(unseen_codes, return_index=True)
        shown = [_from_codepoints(c) for c in distinct[np.argsort(first)][:_SHOW_UNSEEN]]
        more = len(distinct) - len(shown)
        listing = ", ".join(repr(c) for c in shown) + (f", ... ({more} more)" if more else "")
        return UnseenCharactersError(
            f"text has {len(unseen_codes)} character(s) not in the vocabulary "
            f"({len(distinct)} distinct: {listing}); build the vocabulary from text that "
            "contains them, or pass unknown=<char> to map them to one character",
            count=len(unseen_codes), distinct=len(distinct), listing=listing)

    def decode(self, indices):
        """Map indices back to characters.

        Parameters
        ----------
        indices : array_like of int, shape (n,) or ()
            Vocabulary indices, ``0 <= indices < len(self)``.

        Returns
        -------
        str
            ``n`` characters (one for a scalar).

        Raises
        ------
        TypeError
            If ``indices`` is not an integer array.
        ValueError
            If ``indices`` has more than one dimension or an index out of range.

        Examples
        --------
        >>> vocab = CharVocabulary("ab")
        >>> vocab.decode([1, 0, 0])
        'baa'
        """
        arr = _integer_array(indices, "indices")
        if arr.ndim > 1:
            raise ValueError(f"indices must be 1-D (decode one row at a time), got shape "
                             f"{arr.shape}")
        if arr.size:
            lo, hi = int(arr.min()), int(arr.max())
            if lo < 0 or hi >= len(self):
                bad = lo if lo < 0 else hi
                raise ValueError(f"indices must be in [0, {len(self)}) for a vocabulary of "
                                 f"{len(self)} characters, got {bad}")
        return _from_codepoints(self._codes[arr.reshape(-1)])

    def to_config(self):
        """A JSON-able dict from which `from_config` rebuilds this vocabulary.

        Returns
        -------
        dict
            ``{"class": "CharVocabulary", "format": 1, "chars": [...],
            "lowercase": bool, "unknown": str or None}``; ``chars`` is a list of
            one-character strings in index order.

        Examples
        --------
        >>> import json
        >>> vocab = CharVocabulary.from_text("hi there", unknown=" ")
        >>> CharVocabulary.from_config(json.loads(json.dumps(vocab.to_config()))) == vocab
        True
        """
        return {"class": "CharVocabulary", "format": _CONFIG_FORMAT,
                "chars": list(self._chars), "lowercase": self._lowercase,
                "unknown": self._unknown}

    @classmethod
    def from_config(cls, config):
        """Rebuild a vocabulary from `to_config`'s dict.

        Parameters
        ----------
        config : dict
            As returned by `to_config` (possibly through ``json``).

        Returns
        -------
        CharVocabulary

        Raises
        ------
        TypeError
            If ``config`` is not a dict, or a field has the wrong type.
        ValueError
            If a key is missing or unexpected, or ``class``/``format`` do not match.

        Examples
        --------
        >>> CharVocabulary.from_config({"class": "CharVocabulary", "format": 1,
        ...                             "chars": ["a", "b"], "lowercase": False,
        ...                             "unknown": None})
        CharVocabulary(2 chars 'ab', lowercase=False, unknown=None)
        """
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        missing = sorted(_CONFIG_KEYS - config.keys())
        extra = sorted(map(str, config.keys() - _CONFIG_KEYS))
        if missing or extra:
            raise ValueError(f"config must have exactly the keys {sorted(_CONFIG_KEYS)}"
                             + (f"; missing {missing}" if missing else "")
                             + (f"; unexpected {extra}" if extra else ""))
        if config["class"] != "CharVocabulary":
            raise ValueError(f"config['class'] must be 'CharVocabulary', got "
                             f"{config['class']!r}")
        if config["format"] != _CONFIG_FORMAT:
            raise ValueError(f"config['format'] must be {_CONFIG_FORMAT}, got "
                             f"{config['format']!r} (saved by a newer seqnet?)")
        chars = config["chars"]
        if not isinstance(chars, (list, tuple)):
            raise TypeError(f"config['chars'] must be a list of one-character str, got "
                            f"{type(chars).__name__}")
        return cls(chars, lowercase=config["lowercase"], unknown=config["unknown"])


#: the tokenisation rule of `tokenize`: a word (word characters, with single
#: apostrophes or hyphens inside), or any other non-space character on its own.
TOKEN_PATTERN = r"\w+(?:['\u2019-]\w+)*|[^\w\s]"
_TOKEN_RE = re.compile(TOKEN_PATTERN)
_WORD_CONFIG_KEYS = frozenset({"class", "format", "words", "lowercase", "unknown",
                               "end_of_line"})


def tokenize(text, *, lowercase=False, end_of_line="<eol>"):
    r"""Split a text into word tokens, with a token for each newline: the rule of
    `WordVocabulary`.

    The rule, line by line (a line ends at ``"\n"``):

    1. with ``lowercase``, the text is lowercased first (``str.lower``);
    2. a *word* is a run of word characters (``\w``: Unicode letters, digits and
       ``_``), which may contain single apostrophes (``'`` or ``’``) or hyphens
       between word characters: ``know't``, ``o'er``, ``self-same``;
    3. every other character that is not whitespace is a token of its own: ``,``
       ``.`` ``:`` ``!`` and a quote or a dash not inside a word;
    4. whitespace separates tokens and is dropped, except that each ``"\n"``
       gives the token ``end_of_line`` (a blank line gives two in a row); text
       after the last newline has none after it.

    The pattern of rules 2-3 is `TOKEN_PATTERN`.

    Parameters
    ----------
    text : str
        The text.
    lowercase : bool, default False
        Lowercase the text first.
    end_of_line : str, default "<eol>"
        The token each newline gives.

    Returns
    -------
    list of str
        The tokens in order.

    Raises
    ------
    TypeError
        ``text`` or ``end_of_line`` is not a ``str``, or ``lowercase`` not a bool.

    Examples
    --------
    >>> tokenize("Is't a verdict?\nAll: 'tis so.")
    ["Is't", 'a', 'verdict', '?', '<eol>', 'All', ':', "'", 'tis', 'so', '.']
    >>> tokenize("O'er the self-same sea --\n\n", lowercase=True)
    ["o'er", 'the', 'self-same', 'sea', '-', '-', '<eol>', '<eol>']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    _checks.flag(lowercase, "lowercase")
    if not isinstance(end_of_line, str):
        raise TypeError(f"end_of_line must be a str, got {type(end_of_line).__name__}")
    if lowercase:
        text = text.lower()
    lines = text.split("\n")
    tokens = []
    for line in lines[:-1]:
        tokens.extend(_TOKEN_RE.findall(line))
        tokens.append(end_of_line)
    tokens.extend(_TOKEN_RE.findall(lines[-1]))
    return tokens


def _check_special(value, name):
    """A special token: a non-empty str that `tokenize` can never produce from text
    (so it cannot be confused with a word)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__} {value!r}")
    if not value or _TOKEN_RE.fullmatch(value) or value.split() != [value]:
        raise ValueError(f"{name} must be a non-empty token that the tokenisation rule never "
                         f"produces from text (such as '<unk>'), with no whitespace; got "
                         f"{value!r}, which "
                         + ("is empty" if not value else "a text can contain as a word"
                            if _TOKEN_RE.fullmatch(value) else "has whitespace"))
    return value


class WordVocabulary:
    """A word <-> integer index mapping, with ``<unk>`` and an end-of-line token.

    Usually built with `from_text`, which applies a minimum count; the
    constructor takes the tokens in index order, so a saved vocabulary (its
    `to_config`) rebuilds exactly.

    Parameters
    ----------
    words : iterable of str
        The distinct tokens in index order, ``words[i]`` has index ``i``; must
        include ``unknown`` and ``end_of_line``.
    lowercase : bool, default False
        Lowercase text in `encode` (and `tokenize`) before looking words up.
    unknown : str, default "<unk>"
        The token that every word not in the vocabulary encodes as.
    end_of_line : str, default "<eol>"
        The token each newline encodes as; `decode` turns it back into ``"\\n"``.

    Attributes
    ----------
    words : tuple of str
        The tokens in index order; ``len(vocab)`` of them.
    index : mapping of str to int
        Read-only map from token to index.
    lowercase : bool
    unknown, end_of_line : str
        The special tokens.
    unknown_index, end_of_line_index : int
        Their indices.

    Raises
    ------
    TypeError
        A token or a special token is not a ``str``, or ``lowercase`` not a bool.
    ValueError
        ``words`` is empty, has a duplicate, an empty token or one with whitespace;
        a special token is one that text can produce (a word or a punctuation
        mark), or is missing from ``words``; or the two special tokens are the same.

    See Also
    --------
    tokenize : the tokenisation rule.
    CharVocabulary : the same for characters.

    Notes
    -----
    Tokens are those of `tokenize`. The special tokens are ones the rule never
    produces (``"<unk>"`` in a text is the three tokens ``<``, ``unk``, ``>``), so
    they cannot clash with a word. `decode` joins tokens with single spaces and
    turns the end-of-line token into a newline: it inverts `encode` up to spacing,
    lowercasing and unknown words.

    Vocabularies are immutable, hashable and compare equal when their tokens (in
    order), ``lowercase`` and special tokens agree. A model carries one as
    ``model.metadata["vocabulary"] = vocab.to_config()``, saved with it;
    `vocabulary_of` gives it back after `seqnet.load_model`.

    Examples
    --------
    >>> vocab = WordVocabulary.from_text("the cat sat on the mat\\nthe end\\n",
    ...                                  min_count=2)
    >>> vocab.words
    ('<unk>', '<eol>', 'the')
    >>> vocab.encode("The cat\\n")
    array([0, 0, 1], dtype=int32)
    >>> WordVocabulary.from_text("The cat\\n", lowercase=True).encode("The cat\\n")
    array([3, 2, 1], dtype=int32)
    >>> vocab.decode([2, 0, 1, 2])
    'the <unk>\\nthe'
    """

    __slots__ = ("_words", "_index", "_lowercase", "_unknown", "_end_of_line")

    def __init__(self, words, *, lowercase=False, unknown="<unk>", end_of_line="<eol>"):
        if isinstance(words, (str, bytes, bytearray)):
            raise TypeError(f"words must be an iterable of str tokens, got "
                            f"{type(words).__name__} (build from text with "
                            "WordVocabulary.from_text)")
        try:
            words = tuple(words)
        except TypeError as exc:
            raise TypeError("words must be an iterable of str tokens, got "
                            f"{type(words).__name__}") from exc
        if not words:
            raise ValueError("words must contain at least the unknown and end-of-line "
                             "tokens, got none")
        index = {}
        for i, w in enumerate(words):
            if not isinstance(w, str):
                raise TypeError(f"words[{i}] must be a str, got {type(w).__name__} {w!r}")
            if not w or w.split() != [w]:
                raise ValueError(f"words[{i}] must be a non-empty token without whitespace, "
                                 f"got {w!r}")
            if w in index:
                raise ValueError(f"words must be distinct: {w!r} is at both index "
                                 f"{index[w]} and index {i}")
            index[w] = i
        _checks.flag(lowercase, "lowercase")
        unknown = _check_special(unknown, "unknown")
        end_of_line = _check_special(end_of_line, "end_of_line")
        if unknown == end_of_line:
            raise ValueError(f"unknown and end_of_line must differ, both are {unknown!r}")
        for name, tok in (("unknown", unknown), ("end_of_line", end_of_line)):
            if tok not in index:
                raise ValueError(f"{name}={tok!r} is not in words: the special tokens must "
                                 "be among the vocabulary's tokens")
        self._words = words
        self._index = types.MappingProxyType(index)
        self._lowercase = bool(lowercase)
        self._unknown = unknown
        self._end_of_line = end_of_line

    @classmethod
    def from_text(cls, text, *, lowercase=False, min_count=1, unknown="<unk>",
                  end_of_line="<eol>"):
        """Build the vocabulary of ``text``: its tokens seen at least ``min_count``
        times.

        Parameters
        ----------
        text : str
            The corpus, tokenised by `tokenize`; must have at least one token.
        lowercase : bool, default False
            Lowercase ``text`` first, and in `encode`.
        min_count : int, default 1
            Keep the words that occur at least this often (``>= 1``); the others
            will encode as ``unknown``.
        unknown, end_of_line : str, default "<unk>", "<eol>"
            The special tokens (see `WordVocabulary`).

        Returns
        -------
        WordVocabulary
            ``words`` is ``(unknown, end_of_line)`` then the kept words by
            decreasing count, ties in code-point order: the indices are frequency
            ranks, the same for the same text.

        Raises
        ------
        TypeError
            ``text`` is not a ``str``, or a keyword has the wrong type.
        ValueError
            ``text`` has no token, ``min_count`` is below 1, or a special token is
            bad (see `WordVocabulary`).

        Examples
        --------
        >>> WordVocabulary.from_text("a b a, c a b\\n", min_count=2).words
        ('<unk>', '<eol>', 'a', 'b')
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}"
                            + (" (decode bytes first, or use seqnet.datasets.load_text)"
                               if isinstance(text, (bytes, bytearray)) else ""))
        min_count = _checks.positive_int(min_count, "min_count")
        unknown = _check_special(unknown, "unknown")
        end_of_line = _check_special(end_of_line, "end_of_line")
        if unknown == end_of_line:
            raise ValueError(f"unknown and end_of_line must differ, both are {unknown!r}")
        tokens = tokenize(text, lowercase=lowercase, end_of_line=end_of_line)
        if not tokens:
            raise ValueError("text must have at least one token (it is empty or "
                             "whitespace only without a newline)")
        counts = collections.Counter(tokens)
        counts.pop(end_of_line, None)
        kept = sorted((w for w, c in counts.items() if c >= min_count),
                      key=lambda w: (-counts[w], w))
        return cls([unknown, end_of_line, *kept], lowercase=lowercase, unknown=unknown,
                   end_of_line=end_of_line)

    @property
    def words(self):
        """tuple of str: the tokens in index order."""
        return self._words

    @property
    def index(self):
        """mapping of str to int: read-only token -> index map."""
        return self._index

    @property
    def lowercase(self):
        """bool: whether `encode` lowercases the text first."""
        return self._lowercase

    @property
    def unknown(self):
        """str: the token unseen words encode as."""
        return self._unknown

    @property
    def end_of_line(self):
        """str: the token of a newline."""
        return self._end_of_line

    @property
    def unknown_index(self):
        """int: the index of `unknown`."""
        return self._index[self._unknown]

    @property
    def end_of_line_index(self):
        """int: the index of `end_of_line`."""
        return self._index[self._end_of_line]

    def __len__(self):
        return len(self._words)

    def __contains__(self, word):
        return word in self._index

    def __eq__(self, other):
        if not isinstance(other, WordVocabulary):
            return NotImplemented
        return (self._words == other._words and self._lowercase == other._lowercase
                and self._unknown == other._unknown and self._end_of_line == other._end_of_line)

    def __hash__(self):
        return hash((self._words, self._lowercase, self._unknown, self._end_of_line))

    def __repr__(self):
        shown = " ".join(self._words[:8]) + (" ..." if len(self._words) > 8 else "")
        return (f"WordVocabulary({len(self)} words {shown!r}, lowercase={self._lowercase}, "
                f"unknown={self._unknown!r}, end_of_line={self._end_of_line!r})")

    def tokenize(self, text):
        """`tokenize` with this vocabulary's ``lowercase`` and end-of-line token.

        Parameters
        ----------
        text : str
            The text.

        Returns
        -------
        list of str
            Its tokens (before unknown words are mapped).

        Raises
        ------
        TypeError
            ``text`` is not a ``str``.
        """
        return tokenize(text, lowercase=self._lowercase, end_of_line=self._end_of_line)

    def encode(self, text):
        """Map each token of ``text`` to its index, unseen words to `unknown_index`.

        Parameters
        ----------
        text : str
            Text to encode, tokenised by `tokenize`; may be empty.

        Returns
        -------
        ndarray of int32, shape (n,)
            One index per token; each newline is `end_of_line_index`.

        Raises
        ------
        TypeError
            ``text`` is not a ``str`` (a list of tokens: use `encode_tokens`).

        Examples
        --------
        >>> vocab = WordVocabulary(["<unk>", "<eol>", "to", "be"])
        >>> vocab.encode("to be, or not to be\\n")
        array([2, 3, 0, 0, 0, 2, 3, 1], dtype=int32)
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}"
                            + (" (use encode_tokens for a list of tokens)"
                               if isinstance(text, (list, tuple)) else ""))
        return self.encode_tokens(self.tokenize(text))

    def encode_tokens(self, tokens):
        """Map tokens (already split, as `tokenize` gives) to indices.

        Parameters
        ----------
        tokens : iterable of str
            The tokens; not lowercased here.

        Returns
        -------
        ndarray of int32, shape (n,)

        Raises
        ------
        TypeError
            ``tokens`` is a ``str`` or holds something other than ``str``.
        """
        if isinstance(tokens, str):
            raise TypeError("tokens must be an iterable of str tokens, got a str (use "
                            "encode for a text)")
        get, unk = self._index.get, self._index[self._unknown]
        out = []
        for i, t in enumerate(tokens):
            if not isinstance(t, str):
                raise TypeError(f"tokens[{i}] must be a str, got {type(t).__name__}")
            out.append(get(t, unk))
        return np.array(out, dtype=np.int32)

    def decode(self, indices):
        """Map indices back to text: tokens joined by spaces, each end-of-line token
        a newline.

        Parameters
        ----------
        indices : array_like of int, shape (n,) or ()
            Vocabulary indices, ``0 <= indices < len(self)``.

        Returns
        -------
        str
            The tokens with single spaces between them on a line, and ``"\\n"``
            (with no space around it) for each end-of-line token.

        Raises
        ------
        TypeError
            ``indices`` is not an integer array.
        ValueError
            ``indices`` has more than one dimension or an index out of range.

        Examples
        --------
        >>> vocab = WordVocabulary(["<unk>", "<eol>", "to", "be"])
        >>> vocab.decode([2, 3, 1, 0])
        'to be\\n<unk>'
        """
        arr = _integer_array(indices, "indices")
        if arr.ndim > 1:
            raise ValueError(f"indices must be 1-D (decode one row at a time), got shape "
                             f"{arr.shape}")
        if arr.size:
            lo, hi = int(arr.min()), int(arr.max())
            if lo < 0 or hi >= len(self):
                bad = lo if lo < 0 else hi
                raise ValueError(f"indices must be in [0, {len(self)}) for a vocabulary of "
                                 f"{len(self)} words, got {bad}")
        eol = self._index[self._end_of_line]
        lines, line = [], []
        for i in arr.reshape(-1).tolist():
            if i == eol:
                lines.append(" ".join(line))
                line = []
            else:
                line.append(self._words[i])
        lines.append(" ".join(line))
        return "\n".join(lines)

    def to_config(self):
        """A JSON-able dict from which `from_config` rebuilds this vocabulary.

        Returns
        -------
        dict
            ``{"class": "WordVocabulary", "format": 1, "words": [...],
            "lowercase": bool, "unknown": str, "end_of_line": str}``.

        Examples
        --------
        >>> import json
        >>> vocab = WordVocabulary.from_text("hi there\\nhi\\n", lowercase=True)
        >>> WordVocabulary.from_config(json.loads(json.dumps(vocab.to_config()))) == vocab
        True
        """
        return {"class": "WordVocabulary", "format": _CONFIG_FORMAT,
                "words": list(self._words), "lowercase": self._lowercase,
                "unknown": self._unknown, "end_of_line": self._end_of_line}

    @classmethod
    def from_config(cls, config):
        """Rebuild a vocabulary from `to_config`'s dict.

        Parameters
        ----------
        config : dict
            As returned by `to_config` (possibly through ``json``).

        Returns
        -------
        WordVocabulary

        Raises
        ------
        TypeError
            ``config`` is not a dict, or a field has the wrong type.
        ValueError
            A key is missing or unexpected, or ``class``/``format`` do not match.
        """
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        missing = sorted(_WORD_CONFIG_KEYS - config.keys())
        extra = sorted(map(str, config.keys() - _WORD_CONFIG_KEYS))
        if missing or extra:
            raise ValueError(f"config must have exactly the keys {sorted(_WORD_CONFIG_KEYS)}"
                             + (f"; missing {missing}" if missing else "")
                             + (f"; unexpected {extra}" if extra else ""))
        if config["class"] != "WordVocabulary":
            raise ValueError(f"config['class'] must be 'WordVocabulary', got "
                             f"{config['class']!r}")
        if config["format"] != _CONFIG_FORMAT:
            raise ValueError(f"config['format'] must be {_CONFIG_FORMAT}, got "
                             f"{config['format']!r} (saved by a newer seqnet?)")
        words = config["words"]
        if not isinstance(words, (list, tuple)):
            raise TypeError(f"config['words'] must be a list of str, got "
                            f"{type(words).__name__}")
        return cls(words, lowercase=config["lowercase"], unknown=config["unknown"],
                   end_of_line=config["end_of_line"])


def vocabulary_of(model):
    """The vocabulary a model carries in ``model.metadata["vocabulary"]``.

    Parameters
    ----------
    model : object
        A model whose ``metadata`` holds a vocabulary's ``to_config()`` (set it
        with ``model.metadata["vocabulary"] = vocab.to_config()``).

    Returns
    -------
    CharVocabulary or WordVocabulary
        As the config's ``"class"`` says (a config without one is a
        `CharVocabulary`'s, and is checked as such).

    Raises
    ------
    ValueError
        The model has no vocabulary, or an invalid one.
    """
    config = (getattr(model, "metadata", None) or {}).get("vocabulary")
    if config is None:
        raise ValueError("the model has no vocabulary: set "
                         "model.metadata['vocabulary'] = vocab.to_config() before saving it")
    cls = (WordVocabulary if isinstance(config, dict)
           and config.get("class") == "WordVocabulary" else CharVocabulary)
    try:
        return cls.from_config(config)
    except TypeError as exc:
        raise ValueError(f"the model's vocabulary is invalid: {exc}") from exc


def _check_unknown(unknown):
    if unknown is None:
        return None
    if not isinstance(unknown, str):
        raise TypeError(f"unknown must be None or a one-character str, got "
                        f"{type(unknown).__name__} {unknown!r}")
    if len(unknown) != 1:
        raise ValueError(f"unknown must be a single character, got {unknown!r} "
                         f"(length {len(unknown)})")
    return unknown


def char_windows(indices, maxlen, step):
    """Many-to-one windows: ``maxlen`` characters and the character after them.

    The set-up of the classic Keras character model, on indices instead of a
    one-hot tensor:

        for i in range(0, len(text) - maxlen, step):
            sentences.append(text[i: i + maxlen])
            next_chars.append(text[i + maxlen])

    Parameters
    ----------
    indices : array_like of int, shape (N,)
        The encoded text (`CharVocabulary.encode`), values ``>= 0``.
    maxlen : int
        Window length, ``>= 1``; ``N`` must exceed it.
    step : int
        Offset between the starts of consecutive windows, ``>= 1``.

    Returns
    -------
    X : ndarray of int32, shape (n, maxlen)
        ``X[i] = indices[i*step : i*step + maxlen]``.
    y : ndarray of int32, shape (n,)
        ``y[i] = indices[i*step + maxlen]``, the character after window ``i``.

    Raises
    ------
    TypeError
        If ``indices`` is not an integer array (a ``str`` included) or ``maxlen`` or
        ``step`` is not an integer.
    ValueError
        If ``indices`` is not 1-D or has a negative value, ``maxlen`` or ``step`` is
        below 1, or the text has no more than ``maxlen`` characters.

    See Also
    --------
    sequence_windows : every next character as the target.
    one_hot : expand ``X`` or ``y`` when a one-hot array is wanted.

    Notes
    -----
    The number of windows is $n = \\lfloor (N - \\text{maxlen} - 1) /
    \\text{step} \\rfloor + 1$. The outputs are fresh C-contiguous arrays, copied
    straight from a strided view of the text (``4 n (maxlen + 1)`` bytes in all); no
    one-hot tensor is made.

    Examples
    --------
    >>> X, y = char_windows([0, 1, 2, 3, 4, 5, 6], maxlen=3, step=2)
    >>> X
    array([[0, 1, 2],
           [2, 3, 4]], dtype=int32)
    >>> y
    array([3, 5], dtype=int32)
    """
    arr = _text_indices(indices)
    maxlen = _checks.positive_int(maxlen, "maxlen")
    step = _checks.positive_int(step, "step")
    _check_window_fits(arr.size, maxlen)
    windows = sliding_window_view(arr, maxlen + 1)[::step]
    return np.ascontiguousarray(windows[:, :maxlen]), np.ascontiguousarray(windows[:, maxlen])


def sequence_windows(indices, maxlen, step=None):
    """Sequence-to-sequence windows: each input character's target is the next one.

    Parameters
    ----------
    indices : array_like of int, shape (N,)
        The encoded text (`CharVocabulary.encode`), values ``>= 0``.
    maxlen : int
        Window length, ``>= 1``; ``N`` must exceed it.
    step : int, optional
        Offset between the starts of consecutive windows, ``>= 1``. Default
        ``maxlen``: non-overlapping windows, every character an input once.

    Returns
    -------
    X : ndarray of int32, shape (n, maxlen)
        ``X[i] = indices[i*step : i*step + maxlen]``.
    Y : ndarray of int32, shape (n, maxlen)
        ``Y[i] = indices[i*step + 1 : i*step + maxlen + 1]``: ``Y[i, t]`` is the
        character that follows ``X[i, t]`` in the text.

    Raises
    ------
    TypeError
        If ``indices`` is not an integer array (a ``str`` included) or ``maxlen`` or
        ``step`` is not an integer.
    ValueError
        If ``indices`` is not 1-D or has a negative value, ``maxlen`` or ``step`` is
        below 1, or the text has no more than ``maxlen`` characters.

    See Also
    --------
    char_windows : the next character of the whole window as the only target.

    Notes
    -----
    There are $n = \\lfloor (N - \\text{maxlen} - 1) / \\text{step} \\rfloor + 1$
    windows, the same as `char_windows`; ``X`` and ``y`` of
    `char_windows` are ``X`` and ``Y[:, -1]`` here. Characters after the
    last whole window (up to ``step - 1`` of them) are not used.

    Examples
    --------
    >>> X, Y = sequence_windows([0, 1, 2, 3, 4, 5, 6], maxlen=3)
    >>> X
    array([[0, 1, 2],
           [3, 4, 5]], dtype=int32)
    >>> Y
    array([[1, 2, 3],
           [4, 5, 6]], dtype=int32)
    """
    arr = _text_indices(indices)
    maxlen = _checks.positive_int(maxlen, "maxlen")
    step = maxlen if step is None else _checks.positive_int(step, "step")
    _check_window_fits(arr.size, maxlen)
    windows = sliding_window_view(arr, maxlen + 1)[::step]
    return np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:])


def _streams(ids, batch_size, steps):
    """``ids`` as ``(batch_size, L)`` contiguous streams (checked), the remainder
    ``len(ids) % batch_size`` dropped."""
    arr = _integer_array(ids, "ids", ndim=1,
                         hint=" (encode the text first: CharVocabulary.encode(text))")
    batch_size = _checks.positive_int(batch_size, "batch_size")
    steps = _checks.positive_int(steps, "steps")
    n = arr.size
    if n < batch_size * (steps + 1):
        raise ValueError(
            f"ids has {n} tokens, too few for batch_size={batch_size} streams of at least "
            f"steps + 1 = {steps + 1} tokens each (a window of steps={steps} inputs and its "
            f"shifted targets): it needs batch_size * (steps + 1) = "
            f"{batch_size * (steps + 1)}")
    length = n // batch_size
    return arr[:batch_size * length].reshape(batch_size, length), batch_size, steps


def stream_batches(ids, batch_size, steps):
    """Cut a token stream into ``batch_size`` contiguous streams and walk them in
    windows of ``steps`` tokens: the batches of stateful training with truncated
    backpropagation through time.

    The layout of Zaremba et al. (2014) and AWD-LSTM's ``batchify``: with ``L =
    len(ids) // batch_size``, stream ``r`` is ``ids[r*L : (r+1)*L]`` (the last
    ``len(ids) % batch_size`` tokens are dropped), and the ``k``-th window is
    ``x = streams[:, k*steps : k*steps + steps]`` with the targets one token on,
    ``y = streams[:, k*steps + 1 : k*steps + steps + 1]``. Row ``r`` of window
    ``k + 1`` continues row ``r`` of window ``k``, so a stateful layer
    (``stateful=True``) carries each stream's state from one window to the next.

    Parameters
    ----------
    ids : array_like of int, shape (N,)
        The token stream (`CharVocabulary.encode` of a text).
    batch_size : int
        Number of streams, ``>= 1``.
    steps : int
        Tokens per window (the truncation length of backpropagation), ``>= 1``.

    Returns
    -------
    iterator of (ndarray, ndarray)
        ``(x, y)`` pairs of ``(batch_size, steps)`` arrays of ``ids``'s dtype,
        ``ceil((L - 1) / steps)`` of them; the last window is shorter, ``(L - 1)
        % steps`` tokens, when ``steps`` does not divide ``L - 1`` (every token
        but each stream's first is a target exactly once).

    Raises
    ------
    TypeError
        ``ids`` is not an integer array, or ``batch_size`` or ``steps`` not an
        integer.
    ValueError
        ``ids`` is not 1-D, ``batch_size`` or ``steps`` is below 1, or ``ids`` has
        fewer than ``batch_size * (steps + 1)`` tokens.

    See Also
    --------
    stream_arrays : the same windows as two arrays for `seqnet.Model.fit`.

    Examples
    --------
    >>> pairs = list(stream_batches(range(12), batch_size=2, steps=2))
    >>> pairs[0][0], pairs[0][1]
    (array([[0, 1],
           [6, 7]]), array([[1, 2],
           [7, 8]]))
    >>> pairs[1][0], pairs[2][0]     # row r continues row r; the last window is shorter
    (array([[2, 3],
           [8, 9]]), array([[ 4],
           [10]]))
    """
    streams, _, steps = _streams(ids, batch_size, steps)

    def windows():
        length = streams.shape[1]
        for s in range(0, length - 1, steps):
            e = min(s + steps, length - 1)
            yield streams[:, s:e].copy(), streams[:, s + 1:e + 1].copy()

    return windows()


def stream_arrays(ids, batch_size, steps):
    """The windows of `stream_batches` as two arrays that
    ``fit(X, Y, batch_size=batch_size, shuffle=False)`` walks in order.

    Parameters
    ----------
    ids : array_like of int, shape (N,)
        The token stream (`CharVocabulary.encode` of a text).
    batch_size : int
        Number of streams, ``>= 1``: the ``batch_size`` to give `seqnet.Model.fit`
        (and `seqnet.Model.evaluate`).
    steps : int
        Tokens per window, ``>= 1``.

    Returns
    -------
    X : ndarray of int32, shape (n * batch_size, steps)
        Window ``k`` of stream ``r`` is row ``k * batch_size + r``: batch ``k`` of
        ``fit`` is window ``k`` of every stream, so row ``r`` of batch ``k + 1``
        continues row ``r`` of batch ``k``.
    Y : ndarray of int32, shape (n * batch_size, steps)
        The targets, ``X`` one token on.

    Raises
    ------
    TypeError
        ``ids`` is not an integer array, or ``batch_size`` or ``steps`` not an
        integer.
    ValueError
        ``ids`` is not 1-D, has a negative value or one beyond int32, ``batch_size``
        or ``steps`` is below 1, or ``ids`` has fewer than ``batch_size * (steps +
        1)`` tokens.

    Notes
    -----
    Only whole windows: ``n = (L - 1) // steps`` with ``L = len(ids) //
    batch_size``, so up to ``steps - 1`` tokens at the end of each stream are
    not used (`stream_batches` yields them as a shorter last window; an array
    needs one length).

    Examples
    --------
    >>> X, Y = stream_arrays(range(14), batch_size=2, steps=3)
    >>> X
    array([[ 0,  1,  2],
           [ 7,  8,  9],
           [ 3,  4,  5],
           [10, 11, 12]], dtype=int32)
    >>> Y[:2]
    array([[ 1,  2,  3],
           [ 8,  9, 10]], dtype=int32)
    """
    streams, batch_size, steps = _streams(ids, batch_size, steps)
    lo, hi = int(streams.min()), int(streams.max())
    if lo < 0 or hi > _INT32.max:
        raise ValueError(f"ids must be token indices in [0, {_INT32.max}] (int32), got "
                         f"values in [{lo}, {hi}]")
    streams = streams.astype(np.int32)
    n = (streams.shape[1] - 1) // steps
    x = streams[:, :n * steps].reshape(batch_size, n, steps)
    y = streams[:, 1:n * steps + 1].reshape(batch_size, n, steps)
    return (np.ascontiguousarray(x.transpose(1, 0, 2).reshape(n * batch_size, steps)),
            np.ascontiguousarray(y.transpose(1, 0, 2).reshape(n * batch_size, steps)))


def one_hot(indices, depth, dtype=np.float32):
    """One-hot encode integer indices along a new last axis.

    Memory-hungry: the result has ``depth`` elements per index. The Keras
    example's ``x`` for a 1 MB corpus (``maxlen=40, step=3``, 66 characters) is
    about 339 000 x 40 x 66 values, 3.6 GB as float32. Prefer feeding indices to an
    embedding, or one-hot encode one batch at a time.

    Parameters
    ----------
    indices : array_like of int, any shape
        Values in ``[0, depth)``.
    depth : int
        Number of classes (``len(vocab)``), ``>= 1``.
    dtype : numpy dtype, default np.float32
        A boolean, integer or floating dtype for the result.

    Returns
    -------
    ndarray of dtype, shape indices.shape + (depth,)
        ``out[..., k] == (indices == k)``.

    Raises
    ------
    TypeError
        If ``indices`` is not an integer array, ``depth`` not an integer, or
        ``dtype`` not a boolean, integer or floating dtype.
    ValueError
        If ``depth < 1`` or an index is outside ``[0, depth)``.

    Examples
    --------
    >>> one_hot([2, 0], 3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    >>> one_hot([[1]], 2, dtype=bool).shape
    (1, 1, 2)
    """
    arr = _integer_array(indices, "indices")
    depth = _checks.positive_int(depth, "depth")
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be a boolean, integer or floating dtype, got "
                        f"{dtype!r}") from exc
    if dt.kind not in "biuf":
        raise TypeError(f"dtype must be a boolean, integer or floating dtype, got {dt}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= depth:
            raise ValueError(f"indices must be in [0, depth) = [0, {depth}), got "
                             f"{lo if lo < 0 else hi}")
    out = np.zeros(arr.shape + (depth,), dtype=dt)
    flat = out.reshape(-1, depth)
    flat[np.arange(arr.size), arr.reshape(-1)] = 1
    return out


def train_validation_split(indices, fraction):
    """Split a sequence by position: the last ``fraction`` of it is held out.

    Split the encoded text *before* cutting windows, so that no window straddles
    the two parts and no validation character is ever a training target.

    Parameters
    ----------
    indices : array_like, shape (N,), or str
        The sequence to split (usually an encoded text; a ``str`` works too).
    fraction : float
        The held-out share, ``0 <= fraction < 1``.

    Returns
    -------
    train : ndarray, shape (N - k,), or str
        ``indices[:N - k]``, with ``k = round(fraction * N)``.
    validation : ndarray, shape (k,), or str
        ``indices[N - k:]``; empty when ``fraction == 0``. Arrays are views of
        ``indices`` (no copy) when it is an ndarray.

    Raises
    ------
    TypeError
        If ``fraction`` is not a real number, or ``indices`` is neither a ``str``
        nor array-like.
    ValueError
        If ``indices`` is empty or not 1-D, ``fraction`` is outside ``[0, 1)``, or
        the rounding leaves an empty part (``fraction > 0`` with nothing held out,
        or nothing left to train on).

    Examples
    --------
    >>> train, valid = train_validation_split(np.arange(10), 0.2)
    >>> train, valid
    (array([0, 1, 2, 3, 4, 5, 6, 7]), array([8, 9]))
    >>> train_validation_split("abcdefghij", 0.1)
    ('abcdefghi', 'j')
    """
    fraction = _checks.real(fraction, "fraction", 0.0, 1.0, high_open=True)
    if isinstance(indices, str):
        seq = indices
    else:
        try:
            seq = np.asarray(indices)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"indices must be a 1-D array or a str, got "
                            f"{type(indices).__name__}") from exc
        if seq.ndim != 1:
            raise ValueError(f"indices must be 1-D, got shape {seq.shape}")
    n = len(seq)
    if n == 0:
        raise ValueError("indices must not be empty")
    held = round(fraction * n)
    if fraction > 0 and held == 0:
        raise ValueError(f"fraction={fraction} of {n} elements holds out none "
                         "(round(fraction * N) == 0); use fraction=0 for no validation part")
    if held >= n:
        raise ValueError(f"fraction={fraction} of {n} elements holds out all of them, "
                         "leaving nothing to train on")
    return seq[:n - held], seq[n - held:]
