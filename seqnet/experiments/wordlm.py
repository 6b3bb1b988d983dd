r"""A word-level language model against an interpolated Kneser-Ney trigram.

Run it with ``python -m seqnet.experiments.wordlm`` (``--quick`` for the short
version the tests run; ``--workers N`` or ``--scheduler ADDRESS`` runs the
baselines and the LSTM at the same time as Dask tasks, docs/distributed.md); it
needs ``pip install "seqnet[experiments]"`` (matplotlib for the figures; nltk
only for `nltk_kneser_ney`, the cross-check of the trigram) and runs offline on
the corpus bundled with seqnet (`seqnet.datasets.shakespeare`).

The steps:

1. **Split by position, at line starts.** The corpus's last 10 % (from the first
   line that starts at or after 90 % of its characters) is the held-out *test*
   part; it is read once, at the end. The last 10 % of the rest, cut the same
   way, is the *validation* slice on which every choice is tuned (the trigram's
   discount, the LSTM's epochs and learning-rate decay); the first part is the
   *training* text of every model.
2. **One vocabulary** (`seqnet.text.WordVocabulary`, lowercased) from the
   training text with a minimum count (default 5); rarer words, and words never
   seen in training, are ``<unk>``. Every newline is the token ``<eol>``. The
   text is one stream of tokens: ``<eol>`` ends each line, and the token after
   an ``<eol>`` starts a line (no separate sentence-start token).
3. **Models**, all over the same vocabulary and scored on the same tokens:

   - a *unigram* model, the training counts with add-one smoothing;
   - an *interpolated Kneser-Ney trigram* (`KneserNeyTrigram`: nltk's
     ``KneserNeyInterpolated(3)`` formula, computed with numpy and tested against
     nltk to 1e-9), its discount chosen on the validation slice;
   - ``Embedding -> LSTM -> Dropout -> Dense(softmax)`` (`build_model`), trained
     on the training stream cut into ``batch_size`` contiguous streams read in
     windows of ``bptt`` tokens, the LSTM stateful (truncated backpropagation
     through time, `seqnet.text.stream_arrays`); Adam with gradient clipping; the
     weights of the best validation epoch kept, the learning rate divided by 4
     when an epoch does not improve it.

4. **Perplexity** of a part is $\exp(-\frac1N\sum_i \log p(w_i \mid
   \text{history}))$ over all its ``N`` tokens, ``<unk>`` and ``<eol>`` included
   (as on the Penn Treebank). Every model sees the same history: the tokens
   before ``w_i`` in the corpus, reaching back into the preceding part. The
   trigram uses the last two of them; the LSTM starts from a zero state
   ``context`` tokens (100) before the part, and carries its state through it.

It writes ``wordlm_perplexity.md`` (the tables), ``wordlm_perplexity.png``
(validation perplexity against epoch and training time, the baselines as lines),
``wordlm_next.md`` (the five most likely next words, `next_words`) and
``wordlm_results.json`` (every number) into ``--out-dir`` (default
``docs/figures``; ``wordlm_quick_*`` with ``--quick``); the last line printed is
one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

from .. import _checks
from .._io import atomic_write
from ..distributed import add_cluster_arguments, cluster_client, map_runs

__all__ = [
    "EXTRA_HINT",
    "KneserNeyTrigram",
    "build_model",
    "examples_table",
    "headline",
    "lstm_log_probs",
    "main",
    "next_words",
    "nltk_kneser_ney",
    "perplexity",
    "plot",
    "run",
    "split_corpus",
    "table",
    "unigram_log_probs",
]

EXTRA_HINT = 'install the experiments extra: pip install "seqnet[experiments]"'
#: the held-out share at the end of the corpus, and of the rest for validation.
HELD_OUT = 0.1
#: tokens before a scored part from which the LSTM starts (zero state).
CONTEXT = 100
#: the prefixes of the classic example.
PREFIXES = ("the cat sat on", "to be, or not to be, that is the")

#: the full run's settings (tuned on the validation slice; see docs/wordlm.md).
DEFAULTS = dict(min_count=5, embed=128, hidden=256, input_dropout=0.1, weight_dropout=0.2,
                dropout=0.4, batch_size=32, bptt=35, learning_rate=3e-3, epochs=14,
                clipnorm=5.0, seed=0, time_budget=None)
#: ``--quick``: a smaller model for two epochs.
QUICK = dict(DEFAULTS, embed=64, hidden=128, epochs=2, learning_rate=5e-3)


# ----------------------------------------------------------------------- data
def _line_cut(text, fraction):
    """Index of the first line start at or after ``(1 - fraction) * len(text)``."""
    at = int(round((1.0 - fraction) * len(text)))
    if at <= 0 or text[at - 1] == "\n":
        return at
    nl = text.find("\n", at)
    return len(text) if nl < 0 else nl + 1


def split_corpus(text, held_out=HELD_OUT):
    """Cut a text into training, validation and test parts at line starts.

    Parameters
    ----------
    text : str
        The corpus.
    held_out : float, default 0.1
        The test part is the last ``held_out`` of ``text`` (from the first line
        start at or after ``(1 - held_out) * len(text)``); the validation part is
        the last ``held_out`` of what is left, cut the same way.

    Returns
    -------
    train, valid, test : str
        Consecutive parts, ``train + valid + test == text``; each but the first
        starts at the beginning of a line.

    Raises
    ------
    TypeError
        ``text`` is not a ``str`` or ``held_out`` not a real number.
    ValueError
        ``held_out`` is not in ``(0, 0.5]``, or a part would be empty.

    Examples
    --------
    >>> split_corpus("a\\nb\\nc\\nd\\ne\\nf\\ng\\nh\\ni\\nj\\n", held_out=0.2)
    ('a\\nb\\nc\\nd\\ne\\nf\\ng\\n', 'h\\n', 'i\\nj\\n')
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    held_out = _checks.real(held_out, "held_out", 0.0, 0.5, low_open=True)
    cut = _line_cut(text, held_out)
    rest, test = text[:cut], text[cut:]
    cut = _line_cut(rest, held_out)
    train, valid = rest[:cut], rest[cut:]
    if not (train.strip() and valid.strip() and test.strip()):
        raise ValueError(f"held_out={held_out} leaves an empty part of a text of "
                         f"{len(text)} characters ({text.count(chr(10))} lines)")
    return train, valid, test


# ---------------------------------------------------------------- the trigram
def _count(keys):
    return np.unique(keys, return_counts=True)


def _lookup(keys, values, query):
    """``values`` at ``query`` in the sorted ``keys``, 0 where it is absent."""
    if keys.size == 0:
        return np.zeros(query.shape, values.dtype)
    pos = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    return np.where(keys[pos] == query, values[pos], 0)


class KneserNeyTrigram:
    r"""An interpolated Kneser-Ney trigram model, nltk's formula in numpy.

    Counts come from one token stream: every trigram, bigram and unigram in it.
    With ``c`` the counts, ``N_{1+}`` the number of distinct n-gram types with a
    non-zero count (``\cdot`` a free position) and ``D`` the discount, the
    probability of ``w`` after ``u v`` is

    .. math::

        p_1(w) &= \frac{N_{1+}(\cdot\, w)}{N_{1+}(\cdot\,\cdot)} \\
        p_2(w \mid v) &= \frac{\max(N_{1+}(\cdot\, v\, w) - D, 0)}{N_{1+}(\cdot\, v\,
            \cdot)} + \frac{D\, N_{1+}(v\, \cdot)}{N_{1+}(\cdot\, v\, \cdot)}\, p_1(w) \\
        p_3(w \mid u\, v) &= \frac{\max(c(u\, v\, w) - D, 0)}{c(u\, v\, \cdot)}
            + \frac{D\, N_{1+}(u\, v\, \cdot)}{c(u\, v\, \cdot)}\, p_2(w \mid v)

    and a context never seen (``c(u v \cdot) = 0``, or no bigram ``v \cdot``)
    passes on the lower order's probability unchanged. This is
    ``nltk.lm.KneserNeyInterpolated(3, discount=D)`` fitted on the stream's
    n-grams (`nltk_kneser_ney`; the tests check equality to 1e-9): the highest
    order discounts counts, the lower ones continuation counts, one discount for
    all. nltk computes each probability by scanning its counts in Python (hours
    for this corpus); this is a few sorted-array look-ups.

    Parameters
    ----------
    ids : array_like of int, shape (N,)
        The training stream, ``N >= 3``, values in ``[0, vocab_size)``.
    vocab_size : int
        ``V``.
    discount : float, default 0.75
        ``D``, in ``(0, 1]``.

    Raises
    ------
    TypeError, ValueError
        A bad argument (the message names it).

    Notes
    -----
    A word must follow some token in the stream to have ``p_1 > 0``: a
    vocabulary word that never does gets probability 0 (as in nltk). Start the
    stream with an end-of-line token and build the vocabulary from it (with a
    minimum count above 1, so that ``<unk>`` occurs) and every word has one.

    Examples
    --------
    >>> lm = KneserNeyTrigram([0, 1, 2, 0, 1, 3, 0, 1, 2], vocab_size=4)
    >>> p = lm.probabilities([0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 2, 3])
    >>> [round(float(x), 4) for x in p], round(float(p.sum()), 12)
    ([0.15, 0.075, 0.5542, 0.2208], 1.0)
    """

    def __init__(self, ids, vocab_size, discount=0.75):
        V = _checks.positive_int(vocab_size, "vocab_size")
        self.vocab_size = V
        self.discount = _checks.real(discount, "discount", 0.0, 1.0, low_open=True)
        ids = self._ids(ids, "ids")
        if ids.size < 3:
            raise ValueError(f"ids must have at least 3 tokens (one trigram), got {ids.size}")
        tri_keys, self._tri_c = _count((ids[:-2] * V + ids[1:-1]) * V + ids[2:])
        self._tri_k = tri_keys
        bi_keys = np.unique(ids[:-1] * V + ids[1:])
        self._n1_dot_w = np.bincount(bi_keys % V, minlength=V)        # N1+(. w)
        self._n1_dot_dot = bi_keys.size                               # N1+(. .)
        self._n1_v_dot = np.bincount(bi_keys // V, minlength=V)       # N1+(v .)
        self._vw_k, self._vw_c = _count(tri_keys % (V * V))          # N1+(. v w)
        self._n1_dot_v_dot = np.bincount(tri_keys // V % V, minlength=V)  # N1+(. v .)
        uv = tri_keys // V
        self._uv_k, first = np.unique(uv, return_index=True)
        self._uv_c = np.add.reduceat(self._tri_c, first)              # c(u v .)
        self._uv_n1 = np.diff(np.append(first, uv.size))              # N1+(u v .)

    def _ids(self, ids, name):
        arr = np.asarray(ids)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
        arr = arr.astype(np.int64).reshape(-1)
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            raise ValueError(f"{name} must be in [0, {self.vocab_size}), got values in "
                             f"[{arr.min()}, {arr.max()}]")
        return arr

    def probabilities(self, u, v, w):
        """``p(w | u v)`` for arrays of contexts and words.

        Parameters
        ----------
        u, v, w : array_like of int, shape (n,)
            The two context tokens and the word, index by index.

        Returns
        -------
        ndarray of float64, shape (n,)
        """
        u, v, w = (self._ids(a, n) for a, n in ((u, "u"), (v, "v"), (w, "w")))
        if not u.size == v.size == w.size:
            raise ValueError(f"u, v and w must have one length, got {u.size}, {v.size}, "
                             f"{w.size}")
        V, D = self.vocab_size, self.discount
        p1 = self._n1_dot_w[w] / self._n1_dot_dot
        tot = self._n1_dot_v_dot[v]
        cont = _lookup(self._vw_k, self._vw_c, v * V + w)
        safe = np.maximum(tot, 1)
        p2 = np.where(tot > 0, (np.maximum(cont - D, 0.0) + D * self._n1_v_dot[v] * p1) / safe,
                      p1)
        uv = u * V + v
        cuv = _lookup(self._uv_k, self._uv_c, uv)
        n1 = _lookup(self._uv_k, self._uv_n1, uv)
        c = _lookup(self._tri_k, self._tri_c, uv * V + w)
        safe = np.maximum(cuv, 1)
        return np.where(cuv > 0, (np.maximum(c - D, 0.0) + D * n1 * p2) / safe, p2)

    def log_probs(self, ids, start):
        """``log p(ids[i] | ids[i-2], ids[i-1])`` for every ``i >= start``.

        Parameters
        ----------
        ids : array_like of int, shape (N,)
            A token stream.
        start : int
            The first scored position, ``>= 2``.

        Returns
        -------
        ndarray of float64, shape (N - start,)
        """
        ids = self._ids(ids, "ids")
        start = _checks.integer(start, "start", 2)
        with np.errstate(divide="ignore"):
            return np.log(self.probabilities(ids[start - 2:-2], ids[start - 1:-1],
                                             ids[start:]))


def nltk_kneser_ney(ids, vocab_size, discount=0.75):
    """nltk's ``KneserNeyInterpolated(3)`` fitted on the n-grams of a stream: the
    reference `KneserNeyTrigram` is tested against.

    Parameters
    ----------
    ids : array_like of int, shape (N,)
        The training stream.
    vocab_size : int
        Words are the strings ``"0"`` ... ``str(vocab_size - 1)``.
    discount : float, default 0.75

    Returns
    -------
    callable
        ``score(u, v, w)``: nltk's probability of word ``w`` after ``u v``
        (integers).

    Raises
    ------
    ImportError
        nltk is not installed (the message names the ``experiments`` extra).
    """
    try:
        from nltk.lm import KneserNeyInterpolated
    except ImportError:
        raise ImportError(f"the Kneser-Ney cross-check needs nltk: {EXTRA_HINT}") from None
    toks = [str(int(i)) for i in np.asarray(ids).reshape(-1)]
    grams = [tuple(toks[i:i + n]) for n in (1, 2, 3) for i in range(len(toks) - n + 1)]
    lm = KneserNeyInterpolated(3, discount=discount)
    lm.fit([grams], [str(i) for i in range(vocab_size)])

    def score(u, v, w):
        return lm.score(str(w), [str(u), str(v)])

    return score


def unigram_log_probs(train_ids, ids, vocab_size):
    """Log probabilities of ``ids`` under the add-one unigram model of ``train_ids``.

    Parameters
    ----------
    train_ids, ids : array_like of int
        The training stream and the scored tokens.
    vocab_size : int

    Returns
    -------
    ndarray of float64, shape (len(ids),)
        ``log((c(w) + 1) / (N + V))``.
    """
    counts = np.bincount(np.asarray(train_ids).reshape(-1), minlength=vocab_size) + 1.0
    return np.log(counts / counts.sum())[np.asarray(ids)]


def perplexity(log_probs):
    """``exp(-mean(log_probs))``.

    Parameters
    ----------
    log_probs : array_like of float
        Natural-log probabilities of the scored tokens.

    Returns
    -------
    float
    """
    return float(np.exp(-np.mean(log_probs)))


# ------------------------------------------------------------------- the LSTM
def build_model(vocab_size, *, embed=128, hidden=256, input_dropout=0.1, weight_dropout=0.2,
                dropout=0.4, stateful=True, seed=0):
    """``Embedding -> LSTM -> Dropout -> Dense(vocab_size, softmax)`` at every step.

    Parameters
    ----------
    vocab_size : int
        Words in the vocabulary.
    embed : int, default 128
        Embedding size.
    hidden : int, default 256
        LSTM units.
    input_dropout : float, default 0.1
        Variational dropout on the embeddings the LSTM reads (its
        ``input_dropout``: one mask per stream and feature, shared by the steps).
    weight_dropout : float, default 0.2
        DropConnect on the LSTM's recurrent weights (AWD-LSTM).
    dropout : float, default 0.4
        Dropout on the LSTM's output, before the softmax layer.
    stateful : bool, default True
        The LSTM carries its state from one batch to the next.
    seed : int, default 0
        Seeds every layer and the model.

    Returns
    -------
    seqnet.Sequential
        Not compiled; input ``(B, T)`` word indices, output ``(B, T, vocab_size)``
        probabilities.
    """
    import seqnet

    seeds = [int(s) for s in np.random.SeedSequence(_checks.seed(seed)).generate_state(4)]
    return seqnet.Sequential([
        seqnet.Embedding(vocab_size, embed, seed=seeds[0]),
        seqnet.LSTM(hidden, input_size=embed, stateful=stateful, input_dropout=input_dropout,
                    weight_dropout=weight_dropout, seed=seeds[1]),
        seqnet.Dropout(dropout, seed=seeds[2]),
        seqnet.Dense(vocab_size, activation="softmax", seed=seeds[3]),
    ], seed=seeds[3] + 1)


def lstm_log_probs(model, ids, start, chunk=500):
    """``log p(ids[i] | ids[:i])`` for every ``i >= start`` under a word model read
    as one stream (batch 1) from a zero state at ``ids[0]``.

    Parameters
    ----------
    model : seqnet.Sequential
        A stateful model of `build_model`; its carried states are reset before
        and after.
    ids : array_like of int, shape (N,)
        The stream; ``ids[:start]`` is read as context only.
    start : int
        The first scored position, ``>= 1``.
    chunk : int, default 500
        Tokens per forward call (the state is carried between calls).

    Returns
    -------
    ndarray of float64, shape (N - start,)
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    start = _checks.integer(start, "start", 1)
    chunk = _checks.positive_int(chunk, "chunk")
    if not model.stateful:
        raise ValueError("lstm_log_probs reads the stream in chunks and needs a stateful "
                         "model (build_model(..., stateful=True)) to carry the state")
    if start >= ids.size:
        raise ValueError(f"start must be below len(ids) = {ids.size}, got {start}")
    out = []
    model.reset_states()
    try:
        for s in range(0, ids.size - 1, chunk):
            x = ids[s:min(s + chunk, ids.size - 1)]
            probs = model.forward(x[None, :], training=False)[0]
            target = ids[s + 1:s + 1 + x.size]
            out.append(np.log(probs[np.arange(x.size), target].astype(np.float64)))
    finally:
        model.reset_states()
    return np.concatenate(out)[start - 1:]


def next_words(model, prefix, k=5, *, line_start=True, skip_unknown=True):
    """The ``k`` most likely next words after a text, by a word model carrying
    its `seqnet.text.WordVocabulary` (``model.metadata["vocabulary"]``).

    Parameters
    ----------
    model : seqnet.Sequential
        A word model (`build_model`) whose metadata holds its vocabulary.
    prefix : str
        The text so far, tokenised and encoded by the vocabulary (unknown words
        are ``<unk>``).
    k : int, default 5
        How many words.
    line_start : bool, default True
        Read an end-of-line token before ``prefix``: the text starts a line, as
        every line does in training.
    skip_unknown : bool, default True
        Leave ``<unk>`` out of the answer.

    Returns
    -------
    list of (str, float)
        ``(word, probability)``, most likely first; ``<eol>`` is the end of the
        line.

    Raises
    ------
    ValueError
        The model has no word vocabulary, ``prefix`` has no token, or ``k`` is
        below 1.
    TypeError
        ``prefix`` is not a ``str``.

    Examples
    --------
    >>> import seqnet
    >>> from seqnet.text import WordVocabulary
    >>> vocab = WordVocabulary.from_text("the cat sat on the mat\\n")
    >>> model = build_model(len(vocab), embed=4, hidden=8, seed=0)
    >>> model.metadata["vocabulary"] = vocab.to_config()
    >>> words = next_words(model, "the cat sat on", k=3)
    >>> len(words), all(w in vocab.words for w, _ in words)
    (3, True)
    """
    from ..text import WordVocabulary, vocabulary_of

    vocab = vocabulary_of(model)
    if not isinstance(vocab, WordVocabulary):
        raise ValueError(f"next_words needs a model with a WordVocabulary, got a "
                         f"{type(vocab).__name__}")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
    k = _checks.positive_int(k, "k")
    ids = vocab.encode(prefix)
    if line_start:
        ids = np.concatenate([[vocab.end_of_line_index], ids]).astype(np.int32)
    if ids.size == 0:
        raise ValueError("prefix must have at least one token")
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_states()
    try:
        probs = model.forward(ids[None, :], training=False)[0, -1].astype(np.float64)
    finally:
        for layer in model.layers:
            if getattr(layer, "stateful", False):
                layer.reset_states()
    if skip_unknown:
        probs[vocab.unknown_index] = -1.0
    top = np.argsort(-probs, kind="stable")[:min(k, len(vocab) - int(skip_unknown))]
    return [(vocab.words[i], float(probs[i])) for i in top]


# ----------------------------------------------------------------- experiment
def _compile(model, learning_rate, clipnorm):
    import seqnet

    model.compile("sparse_categorical_crossentropy",
                  seqnet.optim.Adam(learning_rate=learning_rate, global_clipnorm=clipnorm))
    return model


def run(*, quick=False, log=print, client=None, **options):
    """Build the data, fit the baselines and the LSTM, and score them all.

    The baselines (the unigram and the trigram, its discount search included) and
    the LSTM are two independent runs (`seqnet.distributed.map_runs`).

    Parameters
    ----------
    quick : bool, default False
        Start from `QUICK` instead of `DEFAULTS` (a smaller model, two epochs).
    log : callable or None, default print
        Called with the data's line, then each run's lines (the baselines'; the
        LSTM's, one per epoch) when it finishes.
    client : distributed.Client, optional
        Run the two as tasks on its Dask cluster, at the same time; the results
        are the serial run's, bit for bit (the timings apart).
    **options
        Overrides of the settings: ``min_count``, ``embed``, ``hidden``,
        ``input_dropout``, ``weight_dropout``, ``dropout``, ``batch_size``,
        ``bptt``, ``learning_rate``, ``epochs``, ``clipnorm``, ``seed``,
        ``time_budget`` (seconds of training after which no new epoch starts;
        None, the default: no limit, so that the figures do not depend on the
        machine's speed).

    Returns
    -------
    dict
        ``config``, ``data`` (sizes), ``unigram``, ``kn`` and ``lstm`` (each with
        ``valid`` and ``test`` perplexity; ``kn["discounts"]`` the validation
        perplexity of each discount tried, ``lstm["history"]`` per epoch), the
        headline ``perplexity``, ``kn_perplexity``, ``perplexity_ratio_to_kn``,
        ``unigram_perplexity``, and ``model`` (the trained model with its
        vocabulary in its metadata).
    """
    from .. import datasets, text

    log = log or (lambda line: None)
    cfg = dict(QUICK if _checks.flag(quick, "quick") else DEFAULTS)
    unknown = sorted(set(options) - set(cfg))
    if unknown:
        raise TypeError(f"unknown options {unknown}; known: {sorted(cfg)}")
    cfg.update(options)
    for name in ("min_count", "embed", "hidden", "batch_size", "bptt", "epochs"):
        cfg[name] = _checks.positive_int(cfg[name], name)
    for name in ("input_dropout", "weight_dropout", "dropout"):
        cfg[name] = _checks.real(cfg[name], name, 0.0, 1.0, high_open=True)
    for name in ("learning_rate", "clipnorm"):
        cfg[name] = _checks.real(cfg[name], name, 0.0, low_open=True)
    cfg["seed"] = _checks.seed(cfg["seed"])
    if cfg["time_budget"] is not None:
        cfg["time_budget"] = _checks.real(cfg["time_budget"], "time_budget", 0.0,
                                          low_open=True)

    corpus = datasets.shakespeare()
    train_text, valid_text, test_text = split_corpus(corpus)
    vocab = text.WordVocabulary.from_text(train_text, lowercase=True,
                                          min_count=cfg["min_count"])
    V = len(vocab)
    eol = vocab.end_of_line_index
    # one stream: an <eol> before the first line (its context), then the parts
    train = np.concatenate([[eol], vocab.encode(train_text)]).astype(np.int32)
    valid = vocab.encode(valid_text)
    test = vocab.encode(test_text)
    data = dict(characters=len(corpus), vocabulary=V, train_tokens=int(train.size - 1),
                valid_tokens=int(valid.size), test_tokens=int(test.size),
                valid_unknown=float(np.mean(valid == vocab.unknown_index)),
                test_unknown=float(np.mean(test == vocab.unknown_index)))
    log(f"vocabulary {V} words (min count {cfg['min_count']}); tokens: train "
        f"{data['train_tokens']:,}, valid {valid.size:,}, test {test.size:,}")

    shared = dict(train=train, valid=valid, test=test, vocab=vocab, cfg=cfg)
    baselines, lstm = map_runs(_wordlm_run, [("baselines", shared), ("lstm", shared)],
                               client=client, describe=lambda job, r: "\n".join(r["lines"]),
                               log=log)
    uni, kn = baselines["unigram"], baselines["kn"]
    model, lstm, examples = lstm["model"], lstm["lstm"], lstm["examples"]
    return dict(config=cfg, data=data, unigram=uni, kn=kn, lstm=lstm, examples=examples,
                perplexity=lstm["test"], kn_perplexity=kn["test"],
                perplexity_ratio_to_kn=lstm["test"] / kn["test"],
                unigram_perplexity=uni["test"], model=model)


def _wordlm_run(job):
    """One run, ``job = (kind, shared)``: ``"baselines"`` (the unigram and the
    trigram) or ``"lstm"``, on ``shared``'s token arrays (``train`` with its leading
    ``<eol>``, ``valid``, ``test``), ``vocab`` and ``cfg``. A function of its
    arguments only, so it runs the same here or on a Dask worker. Returns the run's
    entries of `run`'s result and its progress ``lines``."""
    from .. import text

    kind, d = job
    train, valid, test, vocab, cfg = d["train"], d["valid"], d["test"], d["vocab"], d["cfg"]
    V = len(vocab)
    stream = np.concatenate([train, valid, test])
    v0, t0 = train.size, train.size + valid.size   # first valid and test positions

    def part(scores_from, n):   # the stream up to the end of a part, scored from its start
        return stream[:scores_from + n], scores_from

    if kind == "baselines":
        uni = dict(valid=perplexity(unigram_log_probs(train[1:], valid, V)),
                   test=perplexity(unigram_log_probs(train[1:], test, V)))
        discounts = {}
        for disc in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
            discounts[disc] = perplexity(KneserNeyTrigram(train, V, disc).log_probs(
                *part(v0, valid.size)))
        best_d = min(discounts, key=discounts.get)
        kn_model = KneserNeyTrigram(train, V, best_d)
        kn = dict(discount=best_d, discounts={str(k): v for k, v in discounts.items()},
                  valid=discounts[best_d],
                  test=perplexity(kn_model.log_probs(*part(t0, test.size))))
        return dict(unigram=uni, kn=kn, lines=[
            f"unigram: valid {uni['valid']:.2f}, test {uni['test']:.2f}; Kneser-Ney trigram "
            f"(D={best_d}): valid {kn['valid']:.2f}, test {kn['test']:.2f}"])

    lines = []

    def scored(model, start, n):
        lo = max(0, start - CONTEXT)
        return perplexity(lstm_log_probs(model, stream[lo:start + n], start - lo))

    model = build_model(V, embed=cfg["embed"], hidden=cfg["hidden"],
                        input_dropout=cfg["input_dropout"],
                        weight_dropout=cfg["weight_dropout"], dropout=cfg["dropout"],
                        seed=cfg["seed"])
    lr = cfg["learning_rate"]
    _compile(model, lr, cfg["clipnorm"])
    model.metadata["vocabulary"] = vocab.to_config()
    rng = np.random.default_rng(cfg["seed"])
    history = dict(epoch=[], seconds=[], train=[], valid=[], learning_rate=[])
    best, best_state, total = np.inf, None, 0.0
    for epoch in range(cfg["epochs"]):
        if cfg["time_budget"] is not None and total >= cfg["time_budget"]:
            break
        shift = int(rng.integers(0, cfg["bptt"]))   # windows fall elsewhere each epoch
        X, Y = text.stream_arrays(train[shift:], cfg["batch_size"], cfg["bptt"])
        start = time.perf_counter()
        h = model.fit(X, Y, batch_size=cfg["batch_size"], shuffle=False, verbose=0)
        total += time.perf_counter() - start
        val = scored(model, v0, valid.size)
        history["epoch"].append(epoch + 1)
        history["seconds"].append(total)
        history["train"].append(float(np.exp(h.history["loss"][-1])))
        history["valid"].append(val)
        history["learning_rate"].append(lr)
        lines.append(f"epoch {epoch + 1}: {total:.0f} s, train {history['train'][-1]:.2f} "
                     f"(with dropout), valid {val:.2f}, lr {lr:g}")
        if val < best:
            best, best_state = val, {k: v.copy() for k, v in model.params.items()}
        else:
            lr /= 4.0
            model.optimizer.learning_rate = lr
    model.load_state_dict(best_state)
    lstm = dict(valid=best, test=scored(model, t0, test.size), history=history,
                best_epoch=history["epoch"][int(np.argmin(history["valid"]))],
                train_seconds=total, parameters=model.num_parameters)
    lines.append(f"LSTM (best epoch {lstm['best_epoch']}): valid {lstm['valid']:.2f}, test "
                 f"{lstm['test']:.2f}")
    examples = {p: next_words(model, p, 5) for p in PREFIXES}
    return dict(model=model, lstm=lstm, examples=examples, lines=lines)


def table(results):
    """The results as Markdown: the perplexity table and the settings.

    Parameters
    ----------
    results : dict
        As `run` returns.

    Returns
    -------
    str
    """
    cfg, d, kn, lstm = results["config"], results["data"], results["kn"], results["lstm"]
    lines = [
        f"Bundled Shakespeare corpus, lowercased: {d['vocabulary']:,} words (min count "
        f"{cfg['min_count']}, with `<unk>` and `<eol>`); training {d['train_tokens']:,} "
        f"tokens, validation {d['valid_tokens']:,}, test (the last 10 %) "
        f"{d['test_tokens']:,}; `<unk>` is {100 * d['test_unknown']:.1f} % of the test "
        "tokens. Perplexity over every token, `<unk>` and `<eol>` included.", "",
        "| model | validation perplexity | test perplexity | test / Kneser-Ney |",
        "|---|---:|---:|---:|",
        f"| unigram (add-one) | {results['unigram']['valid']:.2f} | "
        f"{results['unigram']['test']:.2f} | {results['unigram']['test'] / kn['test']:.3f} |",
        f"| interpolated Kneser-Ney trigram (D = {kn['discount']}) | {kn['valid']:.2f} | "
        f"{kn['test']:.2f} | 1.000 |",
        f"| LSTM (epoch {lstm['best_epoch']} of {len(lstm['history']['epoch'])}) | "
        f"{lstm['valid']:.2f} | {lstm['test']:.2f} | **{results['perplexity_ratio_to_kn']:.3f}** |",
        "",
        f"LSTM: Embedding({d['vocabulary']}, {cfg['embed']}) -> LSTM({cfg['hidden']}, "
        f"input dropout {cfg['input_dropout']}, weight dropout {cfg['weight_dropout']}, "
        f"stateful) -> Dropout({cfg['dropout']}) -> Dense({d['vocabulary']}, softmax), "
        f"{lstm['parameters']:,} parameters; {cfg['batch_size']} streams, bptt "
        f"{cfg['bptt']}, Adam (lr {cfg['learning_rate']}, /4 when validation does not "
        f"improve, global clip norm {cfg['clipnorm']}), {lstm['train_seconds']:.0f} s of "
        "training. Target: test perplexity at most 0.8 x the Kneser-Ney trigram's.",
        "",
        "| epoch | training time (s) | learning rate | training perplexity (dropout on) | "
        "validation perplexity |", "|---:|---:|---:|---:|---:|"]
    h = lstm["history"]
    for e, s, lr, tr, va in zip(h["epoch"], h["seconds"], h["learning_rate"], h["train"],
                                h["valid"], strict=True):
        lines.append(f"| {e} | {s:.0f} | {lr:g} | {tr:.2f} | {va:.2f} |")
    return "\n".join(lines) + "\n"


def examples_table(results):
    """The classic example as Markdown: the five most likely next words.

    Parameters
    ----------
    results : dict
        As `run` returns.

    Returns
    -------
    str
    """
    lines = ["| prefix | five most likely next words (probability) |", "|---|---|"]
    for prefix, words in results["examples"].items():
        shown = ", ".join(f"`{w}` ({p:.3f})" for w, p in words)   # `<eol>` is not HTML
        lines.append(f"| {prefix} | {shown} |")
    return "\n".join(lines) + "\n"


def _figure():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"the figures need matplotlib: {EXTRA_HINT}") from None
    return Figure(figsize=(9.6, 4.0), dpi=110)


def plot(results, path):
    """Validation perplexity against epoch and against training time, with the
    baselines as lines; saved as a PNG (atomically).

    Parameters
    ----------
    results : dict
        As `run` returns.
    path : str or path-like
        Where to write the PNG.
    """
    fig = _figure()
    h = results["lstm"]["history"]
    for ax, xs, label in zip(fig.subplots(1, 2), (h["epoch"], h["seconds"]),
                             ("epoch", "training time (s)"), strict=True):
        ax.plot(xs, h["valid"], "-o", ms=4, color="tab:blue", label="LSTM")
        ax.axhline(results["kn"]["valid"], color="tab:orange", ls="--",
                   label="Kneser-Ney trigram")
        ax.axhline(0.8 * results["kn"]["valid"], color="tab:orange", ls=":",
                   label="0.8 x Kneser-Ney")
        ax.axhline(results["unigram"]["valid"], color="gray", ls="--", label="unigram")
        ax.set_xlabel(label)
        ax.set_ylabel("validation perplexity")
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    fig.suptitle("Word-level LSTM on the bundled Shakespeare corpus")
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png")


def headline(results):
    """The headline figures, JSON-able (the command's last line).

    Parameters
    ----------
    results : dict
        As `run` returns.

    Returns
    -------
    dict
    """
    return {"perplexity": round(results["perplexity"], 4),
            "kn_perplexity": round(results["kn_perplexity"], 4),
            "perplexity_ratio_to_kn": round(results["perplexity_ratio_to_kn"], 4),
            "unigram_perplexity": round(results["unigram_perplexity"], 4),
            "valid_perplexity": round(results["lstm"]["valid"], 4),
            "kn_valid_perplexity": round(results["kn"]["valid"], 4),
            "epochs": len(results["lstm"]["history"]["epoch"]),
            "train_seconds": round(results["lstm"]["train_seconds"], 1)}


def main(argv=None):
    """The command: ``python -m seqnet.experiments.wordlm [--quick] [options]``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` when omitted); ``--help`` lists them.

    Returns
    -------
    int
        0, or 2 after an ``error:`` line.
    """
    p = argparse.ArgumentParser(prog="python -m seqnet.experiments.wordlm",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="a small model for two epochs (the tests' run)")
    p.add_argument("--out-dir", default="docs/figures",
                   help="where wordlm_perplexity.png and .md, wordlm_next.md and "
                        "wordlm_results.json go (wordlm_quick_* with --quick)")
    for name, value in DEFAULTS.items():
        kind = float if isinstance(value, float) or name == "time_budget" else int
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=None,
                       help=f"default {value} ({QUICK[name]} with --quick)")
    add_cluster_arguments(p)
    args = p.parse_args(argv)
    options = {k: getattr(args, k) for k in DEFAULTS if getattr(args, k) is not None}
    try:
        _figure()
        out = pathlib.Path(args.out_dir)
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as e:
            raise ValueError(f"cannot create --out-dir {args.out_dir!r}: {e}") from None
        start = time.perf_counter()
        with cluster_client(args.workers, args.scheduler) as client:
            results = run(quick=args.quick, client=client, **options)
    except (ValueError, TypeError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    prefix = "wordlm_quick" if args.quick else "wordlm"
    names = {k: f"{prefix}_{k}" for k in ("perplexity.md", "next.md", "perplexity.png",
                                           "results.json")}
    md = table(results)
    ex = examples_table(results)
    print(md)
    print(ex)
    with atomic_write(out / names["perplexity.md"], "w") as f:
        f.write(md)
    with atomic_write(out / names["next.md"], "w") as f:
        f.write(ex)
    plot(results, out / names["perplexity.png"])
    saved = {k: v for k, v in results.items() if k != "model"}
    saved["seconds"] = time.perf_counter() - start
    with atomic_write(out / names["results.json"], "w") as f:
        json.dump(saved, f, indent=1)
    print(f"wrote {', '.join(str(out / n) for n in names.values())} "
          f"({saved['seconds']:.0f} s)")
    print(json.dumps(headline(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
