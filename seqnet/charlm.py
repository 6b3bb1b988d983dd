"""The reference character language model: Keras's ``lstm_text_generation.py``.

``LSTM(128) -> Dropout(0.2) -> Dense(vocab, softmax)``, fed windows of character
indices; the ``seqnet charlm`` command trains, samples and evaluates it, and the
benchmarks race it. `build_stream_charlm` is the same model trained on streams
(stateful, truncated backpropagation through time, a prediction at every
character), and `windows_model` gives its weights the windowed model's shape, so
that both are measured the same way.
"""

from __future__ import annotations

import numpy as np

from . import text
from .layers import LSTM, Dense, Dropout
from .model import Sequential

__all__ = ["build_charlm", "build_stream_charlm", "check_charlm", "windows_model"]


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


def build_stream_charlm(vocab_size, *, hidden=128, dropout=0.2, seed=0, dtype=np.float32):
    """The reference model for streams: ``LSTM(hidden, return_sequences=True,
    stateful=True) -> Dropout -> Dense(vocab, softmax)`` at every step.

    Trained on `seqnet.text.stream_arrays` with ``fit(..., shuffle=False)``: each
    batch continues the streams of the one before, the LSTM carrying its state
    across and the gradient truncated at each batch boundary, and every
    character is a target once. Its weights are the windowed model's
    (`build_charlm`, same seeds: same initial weights), its output a
    distribution per step.

    Parameters
    ----------
    vocab_size : int
        Characters in the vocabulary.
    hidden : int, default 128
        The LSTM's hidden units.
    dropout : float, default 0.2
        The Dropout layer's rate (on every step's output).
    seed : int, default 0
        Seeds the layers and the model, as `build_charlm`.
    dtype : {np.float32, np.float64}, default np.float32
        The layers' dtype.

    Returns
    -------
    Sequential
        Not compiled; input ``(B, steps)`` indices, output ``(B, steps,
        vocab_size)`` probabilities.
    """
    return Sequential([
        LSTM(hidden, input_size=vocab_size, return_sequences=True, stateful=True, dtype=dtype,
             seed=seed),
        Dropout(dropout, seed=seed + 1),
        Dense(vocab_size, activation="softmax", dtype=dtype, seed=seed + 2),
    ], seed=seed + 3)


def windows_model(model):
    """A model with ``model``'s weights that reads windows: its last recurrent
    layer returns the last step only, and no layer is stateful.

    For a model of `build_stream_charlm` this is `build_charlm`'s model with the
    same weights: it predicts the character after each window from a zero state,
    the windowed model's held-out measure. The result shares no array with
    ``model`` (copies of the weights).

    Parameters
    ----------
    model : Sequential
        A character model (either kind); its metadata is copied along.

    Returns
    -------
    Sequential
        Compiled with sparse categorical cross-entropy (for `evaluate`); ``model``
        itself is not changed.
    """
    from .layers import deserialize, serialize
    from .layers.recurrent import RecurrentLayer
    recurrent = [i for i, layer in enumerate(model.layers) if isinstance(layer, RecurrentLayer)]
    layers = []
    for i, layer in enumerate(model.layers):
        spec = serialize(layer)
        if i in recurrent:
            spec["config"] = {**spec["config"], "stateful": False,
                              "return_sequences": bool(
                                  layer.return_sequences and i != recurrent[-1])}
        twin = deserialize(spec)
        if layer.has_weights and layer.params:   # (unbuilt: the same seed makes the same)
            twin.load_state_dict(layer.state_dict())
        layers.append(twin)
    result = Sequential(layers, seed=model.seed)
    result.compile("sparse_categorical_crossentropy", "rmsprop")
    result.metadata = dict(model.metadata)
    result.input_shape, result.input_dtype = model.input_shape, model.input_dtype
    return result


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
