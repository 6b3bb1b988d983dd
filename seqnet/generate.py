"""Text generation from a trained character model: greedy, temperature, top-k.

Two procedures, both seeded:

- ``method="stream"`` (the default): feed the seed once, then one recurrent step
  per generated character, carrying the state
  ([`Sequential.step`][seqnet.Sequential.step]); the cost per character is one
  step, whatever the window length.
- ``method="window"``: the classic Keras program's procedure: re-run the model on
  the last ``maxlen`` characters for every new character.
"""

from __future__ import annotations

import numpy as np

from . import _checks, text

__all__ = ["generate_text", "sample_index"]


def sample_index(probs, temperature=1.0, top_k=None, rng=None):
    """Pick the next index from a probability vector.

    Parameters
    ----------
    probs : array_like, shape (V,)
        Probabilities (the softmax output of the model).
    temperature : float, default 1.0
        ``0`` is greedy (argmax, as the reference program does); otherwise the
        distribution ``p ** (1 / temperature)``, renormalised (Keras's ``sample``).
    top_k : int, optional
        Keep only the ``k`` most likely indices before sampling.
    rng : numpy.random.Generator, optional
        Draws the sample; a fresh unseeded generator when omitted.

    Returns
    -------
    int
        An index in ``[0, V)``.

    Raises
    ------
    ValueError
        ``probs`` is not a non-empty 1-D array, ``temperature`` is negative or not
        finite, or ``top_k`` is below 1.
    TypeError
        ``temperature`` is not a real number, or ``top_k`` not an integer.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"probs must be a non-empty 1-D array, got shape {p.shape}")
    temperature = _checks.real(temperature, "temperature", 0.0)
    if temperature == 0:
        return int(np.argmax(p))
    with np.errstate(divide="ignore"):
        logits = np.log(p) / float(temperature)
    if top_k is not None:
        k = _checks.positive_int(top_k, "top_k")
        if k < p.size:
            cut = np.partition(logits, -k)[-k]
            logits = np.where(logits >= cut, logits, -np.inf)
    logits -= logits.max()
    w = np.exp(logits)
    rng = np.random.default_rng() if rng is None else rng
    return int(rng.choice(p.size, p=w / w.sum()))


def _encode_input(model, idx, depth):
    """Indices as the model's input: themselves, or one-hot floats of ``depth``."""
    if model.input_dtype is not None and np.dtype(model.input_dtype).kind in "iu":
        return idx
    return np.eye(depth, dtype=np.float32)[idx]


def generate_text(model, seed_text, length=400, *, temperature=1.0, top_k=None, seed=None,
                  method="stream", maxlen=None):
    """Generate ``length`` characters after ``seed_text``.

    Parameters
    ----------
    model : Sequential
        A character model carrying its vocabulary in ``metadata["vocabulary"]``
        (`seqnet.text.vocabulary_of`); its input is a window of indices (or
        one-hot vectors) and its output the next character's probabilities (or,
        for a model with an output per step, as stream-trained ones have, those
        of every step: the last step's are used).
    seed_text : str
        Encoded with the model's vocabulary (and its lowercasing); with
        ``method="window"`` it must have at least ``maxlen`` characters.
    length : int, default 400
        Characters to generate.
    temperature : float, default 1.0
        See `sample_index`; ``temperature=0`` is greedy.
    top_k : int, optional
        See `sample_index`.
    seed : int, optional
        Seeds the sampling.
    method : {"stream", "window"}, default "stream"
        One recurrent step per character, carrying the state (the model must
        have no bidirectional layer); or re-run the model on the last ``maxlen``
        characters for each (see the module's docstring).
    maxlen : int, optional
        Window length; defaults to ``model.metadata["maxlen"]`` or the model's
        input length. The stream feeds the seed's last ``maxlen`` characters.

    Returns
    -------
    str
        The generated characters (without the seed).

    Raises
    ------
    ValueError
        No vocabulary on the model; an empty ``seed_text``, or one with characters
        the vocabulary cannot encode, or shorter than ``maxlen`` for
        ``method="window"``; an unknown ``method``; ``maxlen`` unknown; a bad
        ``length``, ``temperature`` or ``top_k``.
    """
    vocab = text.vocabulary_of(model)
    depth = len(vocab)
    if not isinstance(seed_text, str) or not seed_text:
        raise ValueError("seed_text must be a non-empty string")
    length = _checks.positive_int(length, "length")
    if method not in ("stream", "window"):
        raise ValueError(f"method must be 'stream' or 'window', got {method!r}")
    if maxlen is None:
        maxlen = model.metadata.get("maxlen") or (model.input_shape or [None])[0]
    if maxlen is None:
        raise ValueError("maxlen is unknown: pass maxlen= or train the model first")
    maxlen = _checks.positive_int(maxlen, "maxlen")
    idx = vocab.encode(seed_text)
    if idx.size == 0:
        raise ValueError("seed_text encodes to no characters")
    rng = np.random.default_rng(seed)
    out = []
    if method == "window":
        if idx.size < maxlen:
            raise ValueError(f"seed_text has {idx.size} characters, but the window "
                             f"procedure needs maxlen={maxlen}")
        window = list(idx[-maxlen:])
        for _ in range(length):
            probs = model.predict(_encode_input(model, np.array([window]), depth),
                                  batch_size=1)[0]
            if probs.ndim == 2:   # a model with an output per step: the last one's
                probs = probs[-1]
            nxt = sample_index(probs, temperature, top_k, rng)
            out.append(nxt)
            window = window[1:] + [nxt]
    else:
        states = None
        context = idx[-maxlen:]
        for i in context[:-1]:
            _, states = model.step(_encode_input(model, np.array([i]), depth), states)
        last = context[-1]
        for _ in range(length):
            probs, states = model.step(_encode_input(model, np.array([last]), depth), states)
            last = sample_index(probs[0], temperature, top_k, rng)
            out.append(last)
    return vocab.decode(np.array(out, dtype=np.int32))
