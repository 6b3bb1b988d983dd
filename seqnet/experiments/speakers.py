r"""Speaker recognition from speech: the Japanese Vowels set, a bidirectional RNN
against one-nearest-neighbour DTW.

Run it with ``python -m seqnet.experiments.speakers`` (options: ``--out-dir``,
``--seeds``, ``--epochs``, ``--quick``, ``--tune``, and ``--workers N`` or
``--scheduler ADDRESS`` to run the baseline and the seeds' networks, or the
folds, as Dask tasks, docs/distributed.md); it needs
``pip install "seqnet[experiments]"`` (sktime ships the data, matplotlib draws
the figure) and runs offline.

The data (UCI, Kudo, Toyama and Shimbo 1999): nine male speakers utter the
Japanese vowels /ae/; each utterance is a series of 7-29 frames of 12 LPC
cepstrum coefficients (one frame per 6.4 ms); the official split is 270
training utterances (30 per speaker) and 370 test utterances (24-88 per
speaker). sktime ships a copy as two ``.ts`` files, read here by `read_ts`
(sktime itself is never imported: it is found with ``importlib`` and only its
data files are read). The steps:

1. **Features**: the 12 coefficients and their deltas, each frame's change from
   the one before (`add_deltas`), 24 features, each scaled with the mean and
   standard deviation of the training frames (`fit_scaler`); padding stays 0.
2. **Keep the lengths**: the utterances are padded at the end to 29 frames and
   each one's length goes to the model (``lengths=``), so the recurrent layers
   stop at the last real frame and the backward direction starts there. No
   resampling.
3. **Model** (`build_model`): ``Bidirectional(LSTM(64))`` over the 24 features
   (the two directions' final states, concatenated) -> ``Dropout`` ->
   ``Dense(9, softmax)``, with variational dropout on the LSTM's inputs; sparse
   categorical cross-entropy, Adam with a cosine-decayed learning rate, and
   Gaussian noise added to the scaled frames of every training epoch
   (`train_model`). Trained on all 270 training utterances for a fixed number
   of epochs, once per seed.
4. **Baseline**: one-nearest-neighbour with dynamic time warping (`dtw_distances`,
   a numba kernel; squared Euclidean frame distance, no warping window) on the
   raw coefficients, computed in the same run; beside it the published figures
   (`PUBLISHED`).

The settings were chosen by cross-validation on the training set only
(``--tune`` reruns that comparison: three stratified folds of 10 utterances per
speaker, three seeds each, and writes ``speakers_tuning.md``); no choice was
made on the test set (docs/speakers.md tells how the settings were reached).

It writes ``speakers_confusion.png`` (the confusion matrices of the network,
summed over the seeds, and of DTW) and ``speakers_results.md`` (the tables) into
``--out-dir`` (default ``docs/figures``), prints the tables, and prints as its
last line one JSON object: ``accuracy`` (the network's mean test accuracy over
the seeds), ``accuracy_min``, ``accuracy_max``, ``dtw_accuracy`` and the
settings.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import pathlib
import sys
import time
from typing import NamedTuple

import numpy as np
from numba import njit

from .. import _checks
from .._config import JIT_OPTIONS
from .._io import atomic_write
from .._threads import get_num_threads, set_num_threads
from ..distributed import add_cluster_arguments, cluster_client, map_runs

__all__ = [
    "CONFIG",
    "EXTRA_HINT",
    "PUBLISHED",
    "QUICK",
    "QUICK_ACCURACY",
    "Split",
    "add_deltas",
    "build_model",
    "confusion_matrix",
    "cross_validate",
    "data_dir",
    "dtw_distance",
    "dtw_distances",
    "fit_scaler",
    "format_table",
    "load_japanese_vowels",
    "main",
    "nearest_neighbour",
    "pad_series",
    "plot_confusion",
    "read_ts",
    "run",
    "scale",
    "stratified_folds",
    "train_model",
]

EXTRA_HINT = 'install the experiments extra: pip install "seqnet[experiments]"'

N_SPEAKERS = 9
N_COEFFICIENTS = 12

#: the settings of the reported run (chosen by cross-validation on the training set).
CONFIG = {
    "deltas": True,          # append each frame's difference from the one before
    "cell": "LSTM",          # the recurrent cell, wrapped in Bidirectional
    "hidden": 64,            # units per direction
    "dropout": 0.2,          # on the recurrent layer's inputs (variational), before the Dense
    "noise": 0.2,            # sd of the Gaussian noise on the scaled training frames
    "learning_rate": 3e-3,   # Adam's, decayed to 2 % along a cosine over the epochs
    "batch_size": 16,
    "epochs": 60,
}

#: ``--quick``: the same model, fewer seeds and epochs.
QUICK = {"seeds": (0, 1), "epochs": 30}

#: the mean test accuracy ``--quick`` reaches at least (the tests assert it;
#: measured: 0.9919, 3 errors per model, on the project's host).
QUICK_ACCURACY = 0.98

DEFAULT_SEEDS = (0, 1, 2, 3, 4)

#: test accuracies published for the official split (percent).
PUBLISHED = (
    ("Kudo, Toyama and Shimbo 1999, passing-through regions", 94.1),
    ("an ensemble of 11 LSTMs on series resampled to 26 frames by cubic splines "
     "(github.com/postnubilaphoebus/Jap_Speak_Recog)", 98.86),
)

FIGURE_NAME, TABLE_NAME, TUNING_NAME = ("speakers_confusion.png", "speakers_results.md",
                                        "speakers_tuning.md")


class Split(NamedTuple):
    """One part of the data set, padded at the end.

    Attributes
    ----------
    x : ndarray of float64, shape (N, T, 12)
        The frames, zeros after each utterance's last one.
    lengths : ndarray of int64, shape (N,)
        The number of frames of each utterance.
    y : ndarray of int64, shape (N,)
        The speaker, 0-8 (the files' labels 1-9 minus one).
    """

    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray


# ------------------------------------------------------------------------ data
def read_ts(path):
    """Read a classification data set in sktime's ``.ts`` format.

    Handles what the Japanese Vowels files use: ``#`` comments, ``@`` header
    lines, ``@timeStamps false``, univariate or multivariate series of equal or
    unequal lengths (the dimensions of one series must have the same length), a
    class label after the last dimension. One series per line after ``@data``:
    the dimensions separated by ``:``, the values by ``,``.

    Parameters
    ----------
    path : str or path-like
        The ``.ts`` file.

    Returns
    -------
    series : list of ndarray of float64, each of shape (T_i, D)
        The series, time along the rows.
    labels : ndarray of str, shape (N,)
        Each series' class label, as written in the file.

    Raises
    ------
    ValueError
        A malformed file: no ``@data`` section, time stamps, missing values
        (``?``), no class labels, a line with the wrong number of dimensions,
        dimensions of different lengths, a value that is not a number, or a
        label not declared in ``@classLabel``; the message names the line.
    """
    path = pathlib.Path(path)
    dims = None
    declared = None
    series, labels = [], []
    in_data = False
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{path.name}, line {number}"
            if not in_data:
                if not line.startswith("@"):
                    raise ValueError(f"{where}: expected a header line (@...) before @data")
                key, _, rest = line[1:].partition(" ")
                key, words = key.lower(), rest.split()
                if key == "data":
                    in_data = True
                elif key == "timestamps" and words and words[0].lower() == "true":
                    raise ValueError(f"{where}: time stamps are not supported")
                elif key == "dimensions":
                    dims = int(words[0])
                elif key == "classlabel":
                    if not words or words[0].lower() != "true":
                        raise ValueError(f"{where}: the series carry no class labels")
                    declared = words[1:]
                continue
            if declared is None:
                raise ValueError(f"{where}: no @classLabel true line before @data")
            *fields, label = line.split(":")
            if not fields or (dims is not None and len(fields) != dims):
                raise ValueError(f"{where}: expected {dims} dimensions and a label, "
                                 f"got {len(fields)} dimensions")
            if "?" in line:
                raise ValueError(f"{where}: missing values (?) are not supported")
            try:
                values = [np.array(field.split(","), dtype=np.float64) for field in fields]
            except ValueError:
                raise ValueError(f"{where}: a value is not a number") from None
            if len({v.size for v in values}) != 1:
                raise ValueError(f"{where}: the dimensions have different lengths "
                                 f"{sorted({v.size for v in values})}")
            label = label.strip()
            if declared and label not in declared:
                raise ValueError(f"{where}: label {label!r} is not one of the declared "
                                 f"{declared}")
            if series and len(values) != series[0].shape[1]:
                raise ValueError(f"{where}: {len(values)} dimensions, the first series "
                                 f"has {series[0].shape[1]}")
            series.append(np.stack(values, axis=1))
            labels.append(label)
    if not in_data:
        raise ValueError(f"{path.name}: no @data section")
    if not series:
        raise ValueError(f"{path.name}: no series after @data")
    return series, np.array(labels)


def pad_series(series, steps=None):
    """Stack series of different lengths, padding each with zeros at the end.

    Parameters
    ----------
    series : sequence of array_like, each of shape (T_i, D), T_i >= 1
    steps : int, optional
        The padded length, at least the longest series (default: the longest).

    Returns
    -------
    x : ndarray of float64, shape (N, steps, D)
        ``x[i, :T_i] == series[i]`` and ``x[i, T_i:] == 0``.
    lengths : ndarray of int64, shape (N,)
        ``T_i``.
    """
    arrays = [np.asarray(s, dtype=np.float64) for s in series]
    if not arrays:
        raise ValueError("series is empty")
    if any(a.ndim != 2 or a.shape[0] < 1 for a in arrays):
        raise ValueError("series must be arrays of shape (T, D) with T >= 1")
    if len({a.shape[1] for a in arrays}) != 1:
        raise ValueError(f"series have different numbers of dimensions "
                         f"{sorted({a.shape[1] for a in arrays})}")
    lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)
    longest = int(lengths.max())
    steps = longest if steps is None else _checks.integer(steps, "steps", 1)
    if steps < longest:
        raise ValueError(f"steps must be at least the longest series ({longest}), got {steps}")
    x = np.zeros((len(arrays), steps, arrays[0].shape[1]))
    for i, a in enumerate(arrays):
        x[i, :a.shape[0]] = a
    return x, lengths


def data_dir():
    """The folder of the Japanese Vowels files inside the installed sktime.

    sktime is located with ``importlib.util.find_spec``, not imported (its import
    takes seconds and loads much that is not needed).

    Returns
    -------
    pathlib.Path
        ``<sktime>/datasets/data/JapaneseVowels``.

    Raises
    ------
    ModuleNotFoundError
        sktime is not installed (it comes with ``seqnet[experiments]``).
    FileNotFoundError
        sktime is installed but its copy of the data is not there.
    """
    spec = importlib.util.find_spec("sktime")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the Japanese Vowels data come with sktime; {EXTRA_HINT}",
                                  name="sktime")
    for root in spec.submodule_search_locations:
        folder = pathlib.Path(root) / "datasets" / "data" / "JapaneseVowels"
        if (folder / "JapaneseVowels_TRAIN.ts").is_file():
            return folder
    raise FileNotFoundError("sktime is installed but has no datasets/data/JapaneseVowels "
                            f"folder; {EXTRA_HINT} (sktime>=1.2)")


def load_japanese_vowels(folder=None):
    """The Japanese Vowels training and test sets, padded to 29 frames.

    Parameters
    ----------
    folder : str or path-like, optional
        The folder holding ``JapaneseVowels_TRAIN.ts`` and
        ``JapaneseVowels_TEST.ts`` (default: sktime's copy, `data_dir`).

    Returns
    -------
    train, test : Split
        270 and 370 utterances; ``x`` of shape ``(N, 29, 12)``, speakers 0-8.
    """
    folder = data_dir() if folder is None else pathlib.Path(folder)
    parts = []
    for name in ("TRAIN", "TEST"):
        series, labels = read_ts(folder / f"JapaneseVowels_{name}.ts")
        parts.append((series, labels))
    steps = max(s.shape[0] for series, _ in parts for s in series)
    out = []
    for series, labels in parts:
        x, lengths = pad_series(series, steps)
        out.append(Split(x, lengths, labels.astype(np.int64) - 1))
    return tuple(out)


def _split(part, name="part"):
    if not isinstance(part, Split):
        raise TypeError(f"{name} must be a Split (x, lengths, y), got {type(part).__name__}")
    return part


def fit_scaler(x, lengths):
    """Mean and standard deviation of each feature over the valid frames.

    Parameters
    ----------
    x : array_like, shape (N, T, D)
        Padded series.
    lengths : array_like of int, shape (N,)

    Returns
    -------
    mean, std : ndarray of float64, shape (D,)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"x must be (N, T, D), got shape {x.shape}")
    lengths = _checks.lengths_array(lengths, x.shape[0], x.shape[1])
    frames = x[np.arange(x.shape[1])[None, :] < lengths[:, None]]
    std = frames.std(axis=0)
    if np.any(std == 0):
        raise ValueError("x has a constant feature: its standard deviation is 0")
    return frames.mean(axis=0), std


def add_deltas(x, lengths):
    r"""Append each frame's change from the frame before: ``(N, T, D)`` to ``(N, T, 2D)``.

    .. math::
        \Delta_t = x_t - x_{t-1} \ (1 \le t < n), \qquad \Delta_0 = 0,

    the simplest form of the delta features of speech recognition; 0 on the
    padding (``t >= n``).

    Parameters
    ----------
    x : array_like, shape (N, T, D)
        Padded series.
    lengths : array_like of int, shape (N,)

    Returns
    -------
    ndarray of float64, shape (N, T, 2 * D)
        ``[..., :D]`` is ``x``, ``[..., D:]`` the differences.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"x must be (N, T, D), got shape {x.shape}")
    lengths = _checks.lengths_array(lengths, x.shape[0], x.shape[1])
    d = np.zeros_like(x)
    d[:, 1:] = x[:, 1:] - x[:, :-1]
    d[np.arange(x.shape[1])[None, :] >= lengths[:, None]] = 0.0
    return np.concatenate([x, d], axis=2)


def scale(x, lengths, mean, std, dtype=np.float32):
    """``(x - mean) / std`` on the valid frames, 0 on the padding.

    Parameters
    ----------
    x : array_like, shape (N, T, D)
    lengths : array_like of int, shape (N,)
    mean, std : array_like, shape (D,)
        From `fit_scaler`.
    dtype : {np.float32, np.float64}, default np.float32

    Returns
    -------
    ndarray of ``dtype``, shape (N, T, D)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"x must be (N, T, D), got shape {x.shape}")
    lengths = _checks.lengths_array(lengths, x.shape[0], x.shape[1])
    z = (x - np.asarray(mean)) / np.asarray(std)
    z[np.arange(x.shape[1])[None, :] >= lengths[:, None]] = 0.0
    return z.astype(_checks.float_dtype(dtype))


def stratified_folds(y, n_folds, seed=0):
    """Split sample indices into folds with the same number of each class.

    Parameters
    ----------
    y : array_like of int, shape (N,)
        Class labels; every class's count must be divisible by ``n_folds``.
    n_folds : int >= 2
    seed : int, default 0
        Seeds the shuffle within each class.

    Returns
    -------
    list of ndarray of int64
        ``n_folds`` disjoint sorted index arrays covering ``0..N-1``.
    """
    y = np.asarray(y)
    n_folds = _checks.integer(n_folds, "n_folds", 2)
    rng = np.random.default_rng(_checks.seed(seed))
    folds = [[] for _ in range(n_folds)]
    for c in np.unique(y):
        members = rng.permutation(np.nonzero(y == c)[0])
        if members.size % n_folds:
            raise ValueError(f"n_folds ({n_folds}) must divide every class's count; "
                             f"class {c} has {members.size}")
        for k, part in enumerate(np.split(members, n_folds)):
            folds[k].append(part)
    return [np.sort(np.concatenate(f)).astype(np.int64) for f in folds]


# ------------------------------------------------------------------------- DTW
@njit(**JIT_OPTIONS)
def _dtw_pair(a, n, b, m, acc):
    """DTW cost of ``a[:n]`` against ``b[:m]``; ``acc`` is an (n+1, m+1)+ buffer."""
    inf = np.inf
    for q in range(m + 1):
        acc[0, q] = inf
    for p in range(1, n + 1):
        acc[p, 0] = inf
    acc[0, 0] = 0.0
    d = a.shape[1]
    for p in range(1, n + 1):
        for q in range(1, m + 1):
            cost = 0.0
            for k in range(d):
                diff = a[p - 1, k] - b[q - 1, k]
                cost += diff * diff
            best = acc[p - 1, q - 1]
            if acc[p - 1, q] < best:
                best = acc[p - 1, q]
            if acc[p, q - 1] < best:
                best = acc[p, q - 1]
            acc[p, q] = cost + best
    return acc[n, m]


@njit(**JIT_OPTIONS)
def _dtw_matrix(xa, la, xb, lb, out):
    """``out[i, j]``: DTW cost of series ``i`` of ``xa`` against series ``j`` of ``xb``."""
    acc = np.empty((xa.shape[1] + 1, xb.shape[1] + 1))
    for i in range(xa.shape[0]):
        for j in range(xb.shape[0]):
            out[i, j] = _dtw_pair(xa[i], la[i], xb[j], lb[j], acc)


def _padded(x, lengths, name):
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"{name} must be (N, T, D), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite")
    return x, _checks.lengths_array(lengths, x.shape[0], x.shape[1])


def dtw_distances(xa, lengths_a, xb, lengths_b):
    r"""Dynamic time warping costs between every series of two padded sets.

    With frames $a_1..a_n$ and $b_1..b_m$ and the squared Euclidean frame
    distance $c(p, q) = \lVert a_p - b_q \rVert^2$, the cost is $D(n, m)$ of

    .. math::
        D(0, 0) = 0, \quad D(p, 0) = D(0, q) = \infty, \quad
        D(p, q) = c(p, q) + \min\{D(p-1, q-1), D(p-1, q), D(p, q-1)\},

    the least total frame distance along a monotone path that matches every
    frame of each series (no warping window, no normalisation by path length).

    Parameters
    ----------
    xa : array_like, shape (Na, Ta, D)
        Series padded at the end.
    lengths_a : array_like of int, shape (Na,)
        Their lengths, ``1 <= lengths_a <= Ta``.
    xb : array_like, shape (Nb, Tb, D)
    lengths_b : array_like of int, shape (Nb,)

    Returns
    -------
    ndarray of float64, shape (Na, Nb)
        Only each series' first ``lengths`` frames count.
    """
    xa, la = _padded(xa, lengths_a, "xa")
    xb, lb = _padded(xb, lengths_b, "xb")
    if xa.shape[2] != xb.shape[2]:
        raise ValueError(f"xa and xb must have the same number of features, got "
                         f"{xa.shape[2]} and {xb.shape[2]}")
    out = np.empty((xa.shape[0], xb.shape[0]))
    _dtw_matrix(xa, la, xb, lb, out)
    return out


def dtw_distance(a, b):
    """The dynamic time warping cost of two series (see `dtw_distances`).

    Parameters
    ----------
    a : array_like, shape (n, D)
    b : array_like, shape (m, D)

    Returns
    -------
    float
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] < 1 or b.shape[0] < 1:
        raise ValueError(f"a and b must be (T, D) with T >= 1, got shapes {a.shape} and "
                         f"{b.shape}")
    return float(dtw_distances(a[None], [a.shape[0]], b[None], [b.shape[0]])[0, 0])


def nearest_neighbour(distances, y_reference):
    """One-nearest-neighbour predictions from a distance matrix.

    Parameters
    ----------
    distances : array_like, shape (N_query, N_reference)
    y_reference : array_like, shape (N_reference,)
        The reference set's labels.

    Returns
    -------
    ndarray, shape (N_query,)
        The label of each query's nearest reference (the first one on a tie).
    """
    distances = np.asarray(distances)
    y_reference = np.asarray(y_reference)
    if distances.ndim != 2 or distances.shape[1] != y_reference.shape[0] or \
            distances.shape[1] == 0:
        raise ValueError(f"distances must be (N_query, N_reference) with N_reference = "
                         f"{y_reference.shape[0]} > 0, got shape {distances.shape}")
    return y_reference[np.argmin(distances, axis=1)]


def confusion_matrix(y_true, y_pred, n_classes):
    """Counts of each (true, predicted) class pair.

    Parameters
    ----------
    y_true, y_pred : array_like of int, shape (N,)
        Classes in ``0..n_classes-1``.
    n_classes : int >= 1

    Returns
    -------
    ndarray of int64, shape (n_classes, n_classes)
        ``[i, j]``: samples of class ``i`` predicted as ``j``.
    """
    n_classes = _checks.integer(n_classes, "n_classes", 1)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be one-dimensional of the same shape, got "
                         f"{y_true.shape} and {y_pred.shape}")
    for name, v in (("y_true", y_true), ("y_pred", y_pred)):
        if v.size and (v.dtype.kind not in "iu" or v.min() < 0 or v.max() >= n_classes):
            raise ValueError(f"{name} must hold integers in [0, {n_classes})")
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(out, (y_true, y_pred), 1)
    return out


# ----------------------------------------------------------------------- model
def _config(config):
    merged = dict(CONFIG)
    if config is not None:
        unknown = set(config) - set(CONFIG)
        if unknown:
            raise ValueError(f"config has unknown keys {sorted(unknown)}; known: "
                             f"{sorted(CONFIG)}")
        merged.update(config)
    if merged["cell"] not in ("LSTM", "GRU"):
        raise ValueError(f"config['cell'] must be 'LSTM' or 'GRU', got {merged['cell']!r}")
    _checks.integer(merged["hidden"], "config['hidden']", 1)
    _checks.real(merged["dropout"], "config['dropout']", 0.0, 1.0, high_open=True)
    _checks.real(merged["noise"], "config['noise']", 0.0)
    _checks.real(merged["learning_rate"], "config['learning_rate']", 0.0, low_open=True)
    _checks.integer(merged["batch_size"], "config['batch_size']", 1)
    _checks.integer(merged["epochs"], "config['epochs']", 1)
    _checks.flag(merged["deltas"], "config['deltas']")
    return merged


def _features(part, config):
    """The network's input frames of a raw part: with their deltas when configured."""
    if not config["deltas"]:
        return part
    return Split(add_deltas(part.x, part.lengths), part.lengths, part.y)


def build_model(config=None, seed=0):
    """The classifier: ``Bidirectional(LSTM)`` -> ``Dropout`` -> ``Dense(9, softmax)``.

    Parameters
    ----------
    config : dict, optional
        Overrides of `CONFIG` (``cell``, ``hidden``, ``dropout``, ...).
    seed : int, default 0
        Seeds every layer's initialisation and dropout masks and the batch order.

    Returns
    -------
    seqnet.Model
        Compiled with sparse categorical cross-entropy, Adam at
        ``config["learning_rate"]`` and the accuracy metric; its input is
        ``(batch, frames, 24)`` float32 (the coefficients and their `add_deltas`;
        12 with ``deltas=False``) and it takes ``lengths=``.
    """
    from .. import GRU, LSTM, Bidirectional, Dense, Dropout, Input, Model, optim

    config = _config(config)
    seed = _checks.seed(seed)
    cell = {"LSTM": LSTM, "GRU": GRU}[config["cell"]]
    base = 10 * seed
    frames = Input(shape=(None, N_COEFFICIENTS * (2 if config["deltas"] else 1)))
    h = Bidirectional(cell(config["hidden"], return_sequences=False,
                           input_dropout=config["dropout"], seed=base + 1))(frames)
    if config["dropout"]:
        h = Dropout(config["dropout"], seed=base + 2)(h)
    p = Dense(N_SPEAKERS, activation="softmax", seed=base + 3)(h)
    model = Model(frames, p, seed=base + 4)
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=optim.Adam(learning_rate=config["learning_rate"]),
                  metrics=["accuracy"])
    return model


def train_model(model, train, config=None, seed=0):
    r"""Train on scaled, padded utterances with noise and a cosine learning rate.

    Epoch ``e`` of ``E`` adds fresh Gaussian noise of standard deviation
    ``config["noise"]`` to the valid frames (the padding stays 0) and runs at the
    learning rate

    .. math::
        \eta_e = \eta \left(0.02 + 0.98 \cdot \tfrac12 \left(1 + \cos \tfrac{\pi e}{E}
        \right)\right),

    from $\eta$ down to about $0.02\,\eta$. Each epoch is one ``model.fit`` call with
    the utterances' ``lengths``.

    Parameters
    ----------
    model : seqnet.Model
        From `build_model`.
    train : Split
        Scaled training utterances (`scale`).
    config : dict, optional
        Overrides of `CONFIG`.
    seed : int, default 0
        Seeds the noise.

    Returns
    -------
    list of float
        The mean training loss of each epoch (nats).
    """
    config = _config(config)
    train = _split(train, "train")
    rng = np.random.default_rng(_checks.seed(seed) + 1_000)
    valid = (np.arange(train.x.shape[1])[None, :] < train.lengths[:, None])[..., None]
    epochs, lr = config["epochs"], config["learning_rate"]
    losses = []
    for e in range(epochs):
        model.optimizer.learning_rate = lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * e /
                                                                                epochs)))
        x = train.x
        if config["noise"]:
            noise = rng.standard_normal(x.shape).astype(x.dtype) * np.asarray(
                config["noise"], dtype=x.dtype)
            x = x + noise * valid
        hist = model.fit(x, train.y, batch_size=config["batch_size"], epochs=1, verbose=0,
                         lengths=train.lengths)
        losses.append(float(hist.history["loss"][0]))
    return losses


def _predict(model, part):
    return np.argmax(model.predict(part.x, batch_size=128, lengths=part.lengths), axis=1)


def cross_validate(train, config=None, seeds=(0, 1), n_folds=3, fold_seed=0, threads=1,
                   client=None):
    """Validation accuracy of a configuration on stratified folds of the training set.

    The scaler is fitted on each fold's training part only. Each fold and seed is
    an independent run (`seqnet.distributed.map_runs`).

    Parameters
    ----------
    train : Split
        The raw (unscaled) training set.
    config : dict, optional
        Overrides of `CONFIG`.
    seeds : sequence of int, default (0, 1)
        One model per seed and fold.
    n_folds : int, default 3
    fold_seed : int, default 0
        Seeds `stratified_folds`.
    threads : int or None, default 1
        seqnet's thread count while the networks train (see `run`).
    client : distributed.Client, optional
        Train the ``n_folds * len(seeds)`` networks as tasks on its Dask cluster;
        the accuracies are the serial run's.

    Returns
    -------
    ndarray of float64, shape (n_folds, len(seeds))
        The accuracy on each held-out fold.
    """
    train = _split(train, "train")
    config = _config(config)
    seeds = _seeds(seeds)
    if threads is not None:
        threads = _checks.positive_int(threads, "threads")
    folds = stratified_folds(train.y, n_folds, fold_seed)
    with _thread_count(threads):
        return _cross_validate(train, config, seeds, folds, threads, client)


def _cross_validate(train, config, seeds, folds, threads=None, client=None):
    jobs = []
    feats = _features(train, config)
    for held in folds:
        keep = np.setdiff1d(np.arange(train.y.size), held)
        mean, std = fit_scaler(feats.x[keep], train.lengths[keep])
        parts = tuple(Split(scale(feats.x[i], train.lengths[i], mean, std), train.lengths[i],
                            train.y[i]) for i in (keep, held))
        jobs.extend(("fold", seed, {"parts": parts, "config": config, "threads": threads})
                    for seed in seeds)
    runs = map_runs(_speaker_run, jobs, client=client)
    return np.array([r["accuracy"] for r in runs], dtype=np.float64).reshape(len(folds),
                                                                             len(seeds))


# ------------------------------------------------------------------------- run
def _seeds(seeds):
    seeds = [_checks.seed(s, "seeds") for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    return tuple(seeds)


def run(seeds=DEFAULT_SEEDS, config=None, data=None, log=print, threads=1, client=None):
    """Train and test the network once per seed, and the DTW baseline.

    The baseline and each seed's network are independent runs
    (`seqnet.distributed.map_runs`), in that order.

    Parameters
    ----------
    seeds : sequence of int, default (0, 1, 2, 3, 4)
    config : dict, optional
        Overrides of `CONFIG` (e.g. ``{"epochs": 30}``).
    data : (Split, Split), optional
        The raw training and test sets (default: `load_japanese_vowels`).
    log : callable or None, default print
        Receives a progress line per run (the baseline, then each seed), as each
        finishes.
    threads : int or None, default 1
        seqnet's thread count while the networks train (`seqnet.set_num_threads`;
        restored after); None leaves it as it is. The default, one: a step of this
        model is a product of a few hundred thousand multiply-adds, where a parallel
        region costs about as much as it saves on an idle machine and far more on a
        busy one (measured on the shared 2-core host: 63 s against 2 s for 20 epochs
        of one seed), and the figures do not depend on the host's core count.
        Inside each run too, on whichever worker it runs.
    client : distributed.Client, optional
        Run the baseline and the networks as tasks on its Dask cluster; the
        results are the serial run's, bit for bit (the timings apart).

    Returns
    -------
    dict
        ``accuracy`` (per seed, shape ``(S,)``), ``predictions`` ``(S, N_test)``,
        ``confusion`` (summed over the seeds), ``dtw_accuracy``,
        ``dtw_predictions``, ``dtw_confusion``, ``seconds`` per seed,
        ``dtw_seconds``, ``lengths`` (min and max frames per part), ``counts``,
        ``config``, ``seeds``.
    """
    seeds = _seeds(seeds)
    config = _config(config)
    if threads is not None:
        threads = _checks.positive_int(threads, "threads")
    log = log or (lambda *_: None)
    train, test = load_japanese_vowels() if data is None else data
    train, test = _split(train, "data[0]"), _split(test, "data[1]")
    with _thread_count(threads):
        return _run(train, test, seeds, config, log, threads, client)


@contextlib.contextmanager
def _thread_count(threads):
    """seqnet's thread count set to ``threads`` (None: left alone) inside the block."""
    if threads is None:
        yield
        return
    saved = get_num_threads()
    set_num_threads(threads)
    try:
        yield
    finally:
        set_num_threads(saved)


def _run(train, test, seeds, config, log, threads, client):
    ftrain, ftest = _features(train, config), _features(test, config)
    mean, std = fit_scaler(ftrain.x, train.lengths)
    scaled_train = Split(scale(ftrain.x, train.lengths, mean, std), train.lengths, train.y)
    scaled_test = Split(scale(ftest.x, test.lengths, mean, std), test.lengths, test.y)
    jobs = [("dtw", None, {"parts": (train, test)})]
    shared = {"parts": (scaled_train, scaled_test), "config": config, "threads": threads}
    jobs += [("network", seed, shared) for seed in seeds]
    dtw, *nets = map_runs(_speaker_run, jobs, client=client,
                          describe=lambda job, r: r["line"], log=log)
    dtw_pred, dtw_accuracy, dtw_seconds = dtw["predictions"], dtw["accuracy"], dtw["seconds"]
    accuracy = [r["accuracy"] for r in nets]
    seconds = [r["seconds"] for r in nets]
    final_loss = [r["losses"][-1] for r in nets]
    predictions = np.asarray([r["predictions"] for r in nets])
    return {
        "accuracy": np.asarray(accuracy), "predictions": predictions,
        "confusion": sum(confusion_matrix(test.y, p, N_SPEAKERS) for p in predictions),
        "final_loss": np.asarray(final_loss), "seconds": np.asarray(seconds),
        "dtw_accuracy": dtw_accuracy, "dtw_predictions": dtw_pred,
        "dtw_confusion": confusion_matrix(test.y, dtw_pred, N_SPEAKERS),
        "dtw_seconds": dtw_seconds,
        "counts": {"train": np.bincount(train.y, minlength=N_SPEAKERS),
                   "test": np.bincount(test.y, minlength=N_SPEAKERS)},
        "lengths": {"train": (int(train.lengths.min()), int(train.lengths.max())),
                    "test": (int(test.lengths.min()), int(test.lengths.max()))},
        "config": config, "seeds": seeds,
    }


def _speaker_run(job):
    """One run, ``job = (kind, seed, shared)``: ``kind`` ``"dtw"`` (the baseline
    on ``shared["parts"]``, the raw training and test sets), ``"network"`` (one
    seed's network trained and tested on the scaled parts) or ``"fold"`` (the same
    on a cross-validation fold). A function of its arguments only, so it runs the
    same here or on a Dask worker. Returns its ``predictions``, ``accuracy``,
    ``seconds``, ``losses`` (the networks') and ``line``."""
    kind, seed, d = job
    train, test = d["parts"]
    start = time.perf_counter()
    if kind == "dtw":
        dist = dtw_distances(test.x, test.lengths, train.x, train.lengths)
        pred = nearest_neighbour(dist, train.y)
        seconds = time.perf_counter() - start
        accuracy = float(np.mean(pred == test.y))
        return {"predictions": pred, "accuracy": accuracy, "seconds": seconds,
                "losses": None,
                "line": f"1-NN DTW: test accuracy {100 * accuracy:.2f} % ({seconds:.1f} s "
                        f"for {dist.size} distances)"}
    config = d["config"]
    with _thread_count(d["threads"]):
        model = build_model(config, seed)
        losses = train_model(model, train, config, seed)
        pred = _predict(model, test)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(pred == test.y))
    return {"predictions": pred, "accuracy": accuracy, "seconds": seconds, "losses": losses,
            "line": f"{config['cell']} seed {seed}: test accuracy {100 * accuracy:.2f} % "
                    f"({int(np.sum(pred != test.y))} errors), final training loss "
                    f"{losses[-1]:.4f}, {seconds:.1f} s"}


def _pct(v):
    return f"{100 * v:.2f} %"


def format_table(results):
    """The markdown table: the network (mean, min, max over seeds), DTW, published.

    Parameters
    ----------
    results : dict
        From `run`.

    Returns
    -------
    str
    """
    acc = np.asarray(results["accuracy"])
    n_test = int(np.sum(results["counts"]["test"]))
    errors = np.rint((1 - acc) * n_test).astype(int)
    c = results["config"]
    name = (f"Bidirectional {c['cell']}({c['hidden']}), single model, "
            f"{len(acc)} seed{'s' if len(acc) > 1 else ''}")
    rows = ["| model | test accuracy | errors of " + str(n_test) + " | source |",
            "|---|---:|---:|---|",
            f"| {name}: mean | **{_pct(acc.mean())}** | {errors.mean():.1f} | this run |",
            f"| ... min / max over seeds | {_pct(acc.min())} / {_pct(acc.max())} | "
            f"{errors.max()} / {errors.min()} | this run |",
            f"| 1-nearest-neighbour DTW | {_pct(results['dtw_accuracy'])} | "
            f"{int(round((1 - results['dtw_accuracy']) * n_test))} | this run |"]
    for source, value in PUBLISHED:
        rows.append(f"| {source} | {value:.2f} % | {(1 - value / 100) * n_test:.1f} | "
                    "published |")
    return "\n".join(rows)


def _per_seed_table(results):
    rows = ["| seed | test accuracy | errors | final training loss (nats) | seconds |",
            "|---:|---:|---:|---:|---:|"]
    n_test = len(results["dtw_predictions"])
    for s, a, loss, sec in zip(results["seeds"], results["accuracy"], results["final_loss"],
                               results["seconds"], strict=True):
        rows.append(f"| {s} | {_pct(a)} | {int(round((1 - a) * n_test))} | {loss:.4f} | "
                    f"{sec:.1f} |")
    return "\n".join(rows)


def _report(results, seconds):
    c = results["config"]
    counts = results["counts"]
    inputs = ("the coefficients and their deltas (24 features)" if c["deltas"]
              else "the coefficients")
    lines = [
        "# Japanese Vowels: speaker recognition on the official test set",
        "",
        f"UCI Japanese Vowels (sktime's copy): {int(counts['train'].sum())} training "
        f"utterances ({', '.join(map(str, counts['train']))} per speaker), "
        f"{int(counts['test'].sum())} test utterances "
        f"({', '.join(map(str, counts['test']))}), {results['lengths']['train'][0]}-"
        f"{results['lengths']['train'][1]} and {results['lengths']['test'][0]}-"
        f"{results['lengths']['test'][1]} frames of {N_COEFFICIENTS} LPC cepstrum "
        f"coefficients, variable lengths kept. Network input: {inputs}, scaled with the "
        "training frames' mean and standard deviation. Network: Bidirectional "
        f"{c['cell']}({c['hidden']}) -> Dropout({c['dropout']}) -> Dense(9, softmax), "
        f"input dropout {c['dropout']}, Gaussian noise sd {c['noise']} on the scaled "
        f"frames, Adam at {c['learning_rate']} with cosine decay, batch {c['batch_size']}, "
        f"{c['epochs']} epochs on all training utterances; seeds "
        f"{', '.join(map(str, results['seeds']))}.",
        "",
        format_table(results),
        "",
        "Per seed:",
        "",
        _per_seed_table(results),
        "",
        f"1-NN DTW: {results['dtw_seconds']:.1f} s. Wall time of the run: {seconds:.0f} s.",
        "",
    ]
    return "\n".join(lines)


def _tuning_report(rows, seeds, n_folds):
    lines = ["# Japanese Vowels: settings compared by cross-validation on the training set",
             "",
             f"{n_folds} stratified folds of the 270 training utterances (10 per speaker "
             f"each), seeds {', '.join(map(str, seeds))}; the scaler is fitted on each "
             "fold's training part. Each row changes the reported settings (first row) "
             "in the way it names. The test set plays no part.",
             "",
             "| settings | mean validation accuracy | min | max |",
             "|---|---:|---:|---:|"]
    for name, acc in rows:
        lines.append(f"| {name} | {_pct(acc.mean())} | {_pct(acc.min())} | "
                     f"{_pct(acc.max())} |")
    return "\n".join(lines) + "\n"


#: the variations ``--tune`` compares with `CONFIG` (each changes one or two settings).
TUNING_GRID = (
    ("reported: " + ", ".join(f"{k} {v}" for k, v in CONFIG.items()), {}),
    ("GRU instead of LSTM", {"cell": "GRU"}),
    ("no deltas (the 12 coefficients only)", {"deltas": False}),
    ("GRU, no deltas", {"cell": "GRU", "deltas": False}),
    ("32 units", {"hidden": 32}),
    ("noise 0.3", {"noise": 0.3}),
    ("no dropout, no noise", {"dropout": 0.0, "noise": 0.0}),
)


# ---------------------------------------------------------------------- figure
def plot_confusion(results, path):
    """Save the confusion matrices of the network (summed over the seeds) and of DTW.

    Drawn on a :class:`matplotlib.figure.Figure` with the Agg canvas, without
    pyplot: no window opens and the caller's backend is left as it was.

    Parameters
    ----------
    results : dict
        From `run`.
    path : str or path-like
        The PNG file to write.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(f"the figure needs matplotlib; {EXTRA_HINT}") from exc
    c = results["config"]
    acc = np.asarray(results["accuracy"])
    panels = [
        (results["confusion"],
         f"Bidirectional {c['cell']}({c['hidden']}), {len(acc)} "
         f"seed{'s' if len(acc) > 1 else ''} summed\n"
         f"mean accuracy {_pct(acc.mean())} (min {_pct(acc.min())}, max {_pct(acc.max())})"),
        (results["dtw_confusion"],
         f"1-nearest-neighbour DTW\naccuracy {_pct(results['dtw_accuracy'])}"),
    ]
    fig = Figure(figsize=(11, 5.2), layout="constrained")
    axes = fig.subplots(1, 2)
    ticks = np.arange(N_SPEAKERS)
    for ax, (cm, title) in zip(axes, panels, strict=True):
        cm = np.asarray(cm)
        share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for i in range(N_SPEAKERS):
            for j in range(N_SPEAKERS):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if share[i, j] > 0.5 else
                            ("tab:red" if i != j else "black"))
        ax.set_xticks(ticks, [str(k + 1) for k in ticks])
        ax.set_yticks(ticks, [str(k + 1) for k in ticks])
        ax.set_xlabel("predicted speaker")
        ax.set_ylabel("true speaker")
        ax.set_title(title, fontsize=10)
    fig.suptitle("Japanese Vowels, official test set (370 utterances): confusion matrices "
                 "(counts; off-diagonal in red)", fontsize=11)
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)


# ------------------------------------------------------------------------- CLI
def _parser():
    p = argparse.ArgumentParser(
        prog="python -m seqnet.experiments.speakers",
        description="Speaker recognition on the Japanese Vowels set: a bidirectional LSTM "
                    "(several seeds) against 1-nearest-neighbour DTW; write a table and "
                    "the confusion matrices.")
    p.add_argument("--out-dir", default=os.path.join("docs", "figures"),
                   help=f"folder for {FIGURE_NAME} and {TABLE_NAME} (default: docs/figures)")
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="one network per seed (default: 0 1 2 3 4; --quick: 0 1; "
                        "--tune: 0 1 2 on each fold)")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"epochs per network (default: {CONFIG['epochs']}; --quick: "
                        f"{QUICK['epochs']})")
    p.add_argument("--quick", action="store_true",
                   help=f"seeds {' '.join(map(str, QUICK['seeds']))}, {QUICK['epochs']} "
                        f"epochs: a mean test accuracy of at least "
                        f"{100 * QUICK_ACCURACY:.0f} %% in about a minute on 2 cores")
    p.add_argument("--tune", action="store_true",
                   help=f"instead: compare the settings by cross-validation on the training "
                        f"set and write {TUNING_NAME}")
    return p


def _tune(args, data, start, client=None):
    seeds = tuple(args.seeds or (0, 1, 2))
    rows = []
    for name, change in TUNING_GRID:
        if args.epochs is not None:
            change = {"epochs": args.epochs, **change}
        acc = cross_validate(data[0], change, seeds=seeds, client=client)
        rows.append((name, acc))
        print(f"{name}: validation accuracy {_pct(acc.mean())} (min {_pct(acc.min())})",
              flush=True)
    report = _tuning_report(rows, seeds, 3)
    path = os.path.join(args.out_dir, TUNING_NAME)
    with atomic_write(path, "w") as f:
        f.write(report)
    print(report)
    print(f"wrote {path}")
    print(json.dumps({"validation_accuracy": {name: float(a.mean()) for name, a in rows},
                      "seconds": round(time.perf_counter() - start, 1)}))
    return 0


def main(argv=None):
    """The command: train and test, print the tables, write the figure and the table.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success; 2 after an ``error:`` line when an extra is missing or the
        output folder cannot be made (argparse exits 2 for bad options).
    """
    parser = _parser()
    add_cluster_arguments(parser)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    seeds = args.seeds if args.seeds is not None else (
        QUICK["seeds"] if args.quick else DEFAULT_SEEDS)
    epochs = args.epochs if args.epochs is not None else (
        QUICK["epochs"] if args.quick else CONFIG["epochs"])
    try:
        _seeds(seeds)
        _config({"epochs": epochs})
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    try:  # both extras are checked before any training
        data = load_japanese_vowels()
        try:
            from matplotlib.figure import Figure  # noqa: F401
        except ImportError:
            raise ImportError(f"the figure needs matplotlib; {EXTRA_HINT}") from None
    except (ImportError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        os.makedirs(args.out_dir, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot create --out-dir {args.out_dir!r}: {exc}", file=sys.stderr)
        return 2
    try:
        with cluster_client(args.workers, args.scheduler) as client:
            if args.tune:
                return _tune(args, data, start, client)
            results = run(seeds=seeds, config={"epochs": epochs}, data=data, client=client)
    except ValueError as exc:
        parser.error(str(exc))
    figure = os.path.join(args.out_dir, FIGURE_NAME)
    plot_confusion(results, figure)
    seconds = time.perf_counter() - start
    report = _report(results, seconds)
    table = os.path.join(args.out_dir, TABLE_NAME)
    with atomic_write(table, "w") as f:
        f.write(report)
    print(report)
    print(f"wrote {figure} and {table}")
    acc = results["accuracy"]
    print(json.dumps({"accuracy": round(float(acc.mean()), 6),
                      "accuracy_min": round(float(acc.min()), 6),
                      "accuracy_max": round(float(acc.max()), 6),
                      "dtw_accuracy": round(results["dtw_accuracy"], 6),
                      "seeds": list(results["seeds"]), "epochs": epochs,
                      "quick": bool(args.quick), "seconds": round(seconds, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
