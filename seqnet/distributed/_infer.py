"""Batch inference on a Dask cluster (see `predict` and `evaluate`)."""

from __future__ import annotations

import os
import pickle

import numpy as np

from .. import _checks, text
from . import _lazy, _tasks


def _is_files(x):
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(
        isinstance(p, (str, os.PathLike)) for p in x)


def _dask_array(x, name):
    da = _lazy.need("dask.array")
    if not isinstance(x, da.Array):
        raise TypeError(f"{name} must be a dask array or a list of text files (str or "
                        f"os.PathLike), got {type(x).__name__}")
    if x.ndim < 1:
        raise ValueError(f"{name} must have a batch axis, got shape {x.shape}")
    # one block per group of rows: the other axes whole
    return x.rechunk({i: -1 for i in range(1, x.ndim)})


def _row_blocks(client, x):
    """A future of each block of rows of the dask array ``x``, in order."""
    return client.compute([x.blocks[i] for i in range(x.numblocks[0])])


def _file_args(model, files, vocabulary, maxlen):
    if maxlen is None:
        raise TypeError("maxlen is needed for text files: the length of the windows "
                        "each file is cut into (seqnet.text.sequence_windows)")
    maxlen = _checks.positive_int(maxlen, "maxlen")
    if vocabulary is None:
        vocabulary = text.vocabulary_of(model)
    if not isinstance(vocabulary, (text.CharVocabulary, text.WordVocabulary)):
        raise TypeError(f"vocabulary must be a CharVocabulary or a WordVocabulary, got "
                        f"{type(vocabulary).__name__}")
    return [os.fspath(p) for p in files], vocabulary, maxlen


def _prepare(model, client, batch_size):
    client = _lazy.client_of(client)
    batch_size = _checks.positive_int(batch_size, "batch_size")
    if model.stateful:
        raise ValueError("seqnet.distributed runs inference on stateless models: a "
                         "stateful model's batches continue each other's states")
    blob = client.scatter([pickle.dumps(model)], broadcast=True, hash=False)[0]
    return client, batch_size, blob


def predict(model, x, *, client, batch_size=32, vocabulary=None, maxlen=None):
    """The model's outputs over a Dask array, or over text files, computed on the
    workers of ``client``.

    Parameters
    ----------
    model : Model
        A model with one input, not stateful (it need not be compiled).
    x : dask.array.Array, or list of str or os.PathLike
        Inputs ``(N, ...)``, each block of rows predicted by one task (the other
        axes are put in one block); or text files, each read, encoded with
        ``vocabulary`` and cut into ``sequence_windows(ids, maxlen)`` by one task
        (the files must be readable at those paths on the workers).
    client : distributed.Client
        A client of the cluster.
    batch_size : int, default 32
        Samples per forward pass inside a task.
    vocabulary : CharVocabulary or WordVocabulary, optional
        For text files; default the model's (`seqnet.text.vocabulary_of`).
    maxlen : int, optional
        For text files (needed): the length of the windows.

    Returns
    -------
    ndarray, or list of ndarray
        For a dask array, the outputs of all rows in order, as `Model.predict`
        gives them; for files, one array of outputs ``(windows, maxlen, ...)`` per
        file.

    Raises
    ------
    TypeError
        ``x`` is neither a dask array nor a list of paths, ``client`` is not a
        ``distributed.Client``, ``maxlen`` is missing for files, or a bad
        ``vocabulary``.
    ValueError
        A stateful model, a bad ``batch_size`` or ``maxlen``, or as `Model.predict`.
    MissingExtraError
        dask or distributed is not installed (``pip install "seqnet[distributed]"``).

    Notes
    -----
    Each row's output is computed independently of the other rows of its batch,
    so the result equals `Model.predict` on the whole array (the test checks it
    bit for bit on a small LSTM, batches split differently).
    """
    client, batch_size, blob = _prepare(model, client, batch_size)
    if _is_files(x):
        files, vocab, maxlen = _file_args(model, x, vocabulary, maxlen)
        futures = [client.submit(_tasks.predict_file, blob, f, vocab, maxlen, batch_size,
                                 pure=False) for f in files]
        return client.gather(futures)
    blocks = _row_blocks(client, _dask_array(x, "x"))
    futures = [client.submit(_tasks.predict_block, blob, b, batch_size, pure=False)
               for b in blocks]
    return np.concatenate(client.gather(futures), axis=0)


def evaluate(model, x, y=None, *, client, batch_size=32, vocabulary=None, maxlen=None):
    """Mean loss and metrics over a Dask array, or over text files, computed on the
    workers of ``client``.

    Parameters
    ----------
    model : Model
        A compiled model with one input and one output, not stateful.
    x : dask.array.Array, or list of str or os.PathLike
        Inputs ``(N, ...)``; or text files (each cut into windows whose targets are
        the next tokens, as in `predict`).
    y : dask.array.Array, optional
        Targets ``(N, ...)`` for a dask ``x`` (rechunked to ``x``'s rows); None
        for files.
    client : distributed.Client
        A client of the cluster.
    batch_size : int, default 32
        Samples per forward pass inside a task.
    vocabulary : CharVocabulary or WordVocabulary, optional
        For text files; default the model's.
    maxlen : int, optional
        For text files (needed): the length of the windows.

    Returns
    -------
    dict of str to float
        ``"loss"`` and each compiled metric, over all rows (files: all windows of
        all files), as `Model.evaluate` gives them; for files also
        ``"loss/<path>"``, each file's own mean loss.

    Raises
    ------
    TypeError
        As `predict`; ``y`` missing for a dask ``x``, or given for files.
    ValueError
        As `predict`, or ``x`` and ``y`` of different numbers of rows.
    MissingExtraError
        dask or distributed is not installed (``pip install "seqnet[distributed]"``).

    Notes
    -----
    Each task returns its block's `Model.evaluate` values and its number of rows;
    they are combined as the mean weighted by the rows. Every row has the same
    number of positions (one array, or windows of one length), so this is the
    mean over all positions for the mean-type values (loss, accuracy); it equals
    `Model.evaluate` to rounding, since the blocks' sums are added in another
    order.
    """
    model._need_compiled()
    client, batch_size, blob = _prepare(model, client, batch_size)
    if _is_files(x):
        if y is not None:
            raise TypeError("y must be None for text files: the targets are the next "
                            "tokens of each file")
        files, vocab, maxlen = _file_args(model, x, vocabulary, maxlen)
        futures = [client.submit(_tasks.evaluate_file, blob, f, vocab, maxlen, batch_size,
                                 pure=False) for f in files]
        results = client.gather(futures)
        out = _combine(results)
        out.update({f"loss/{f}": r[0]["loss"] for f, r in zip(files, results, strict=True)})
        return out
    x = _dask_array(x, "x")
    if y is None:
        raise TypeError("evaluate needs targets y (a dask array) for a dask array x")
    y = _dask_array(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same number of rows, got {x.shape[0]} "
                         f"and {y.shape[0]}")
    y = y.rechunk({0: x.chunks[0]})
    xb, yb = _row_blocks(client, x), _row_blocks(client, y)
    futures = [client.submit(_tasks.evaluate_block, blob, a, b, batch_size, pure=False)
               for a, b in zip(xb, yb, strict=True)]
    return _combine(client.gather(futures))


def _combine(results):
    rows = sum(r for _, r in results)
    return {k: sum(values[k] * r for values, r in results) / rows for k in results[0][0]}
