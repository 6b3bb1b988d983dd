"""The reference character language model: Keras's ``lstm_text_generation.py``.

``LSTM(128) -> Dropout(0.2) -> Dense(vocab, softmax)``, fed windows of character
indices; the ``seqnet charlm`` command trains, samples and evaluates it, and the
benchmarks race it.
"""

from __future__ import annotations

import numpy as np

from . import text
from .layers import LSTM, Dense, Dropout
from .model import Sequential

__all__ = ["build_charlm", "check_charlm"]


def build_charlm(vocab_size, *, hidden=128, dropout=0.2, seed=0, dtype=np.float32):
    """The reference model: ``LSTM(hidden) -> Dropout -> Dense(vocab, softmax)``.

    It is fed integer character indices (the one-hot maths without the one-hot
    tensor).

    Parameters
    ----------
    vocab_size : int
        Characters in the vocabulary: the LSTM's ``input_size`` and the Dense
        layer's ``units``.
    hidden : int, default 128
        The LSTM's hidden units.
    dropout : float, default 0.2
        The Dropout layer's rate.
    seed : int, default 0
        Seeds the layers (``seed``, ``seed + 1``, ``seed + 2``) and the model's
        shuffling (``seed + 3``).
    dtype : {np.float32, np.float64}, default np.float32
        The layers' dtype.

    Returns
    -------
    Sequential
        Not compiled; its input is ``(B, maxlen)`` indices, its output ``(B,
        vocab_size)`` probabilities.
    """
    return Sequential([
        LSTM(hidden, input_size=vocab_size, return_sequences=False, dtype=dtype, seed=seed),
        Dropout(dropout, seed=seed + 1),
        Dense(vocab_size, activation="softmax", dtype=dtype, seed=seed + 2),
    ], seed=seed + 3)


def check_charlm(model, path):
    """``model`` if it is a character model, else ValueError saying why not.

    A character model carries its vocabulary and window length in its metadata and
    ends in a layer of one unit per character.

    Parameters
    ----------
    model : Sequential
        A loaded model.
    path : str
        Where it came from, for the message.

    Returns
    -------
    Sequential
        ``model``.

    Raises
    ------
    ValueError
        A model without a vocabulary or ``maxlen``, or whose last layer does not
        cover the vocabulary.
    """
    last = model.layers[-1] if model.layers else None
    try:
        vocab = text.vocabulary_of(model)
    except ValueError:
        vocab = None
    if (vocab is None or "maxlen" not in model.metadata
            or getattr(last, "units", None) != len(vocab)):
        raise ValueError(f"{path!r} is not a seqnet character model (it needs a vocabulary, "
                         "a maxlen and a last Dense layer over the vocabulary); train one "
                         "with 'seqnet charlm train'")
    return model
