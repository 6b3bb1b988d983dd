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
- `one_hot` expands indices when a one-hot array is really wanted, and
  `train_validation_split` holds out the end of a text.
- A vocabulary travels with a model as JSON in its metadata,
  ``model.metadata["vocabulary"] = vocab.to_config()``, saved and loaded with it;
  `vocabulary_of` gives it back.

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

import types

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _checks

__all__ = ["CharVocabulary", "UnseenCharactersError", "char_windows", "one_hot",
           "sequence_windows", "stream_arrays", "stream_batches", "train_validation_split",
           "vocabulary_of"]

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


def vocabulary_of(model):
    """The vocabulary a model carries in ``model.metadata["vocabulary"]``.

    Parameters
    ----------
    model : object
        A model whose ``metadata`` holds a vocabulary's `CharVocabulary.to_config`
        (set it with ``model.metadata["vocabulary"] = vocab.to_config()``).

    Returns
    -------
    CharVocabulary

    Raises
    ------
    ValueError
        The model has no vocabulary, or an invalid one.
    """
    config = (getattr(model, "metadata", None) or {}).get("vocabulary")
    if config is None:
        raise ValueError("the model has no vocabulary: set "
                         "model.metadata['vocabulary'] = vocab.to_config() before saving it")
    try:
        return CharVocabulary.from_config(config)
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
