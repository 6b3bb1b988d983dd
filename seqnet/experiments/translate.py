r"""Translating numbers written out in words, with an attention encoder-decoder.

Run it with ``python -m seqnet.experiments.translate --source de --target en``
(options: ``--quick``, ``--out-dir``, ``--max-number``, ``--epochs``,
``--hidden``, ``--test-fraction``, ``--width``, ``--seed``, and ``--workers N``
or ``--scheduler ADDRESS`` to train the two models at once as Dask tasks,
docs/distributed.md); it needs
``pip install "seqnet[experiments]"`` (num2words for the words, matplotlib for
the figures) and runs offline.

The task: ``"siebenundneunzig"`` -> ``"ninety-seven"``. German puts the units
before the tens, so the model has to reorder. The steps:

1. **Data**: every number ``0..max_number`` written out by ``num2words`` in the
   source and the target language (any pair num2words supports).
2. **Split by number**, stratified by the length of the target in characters:
   for every target length, a ``test_fraction`` of the numbers of that length
   (at least one, and all but one when there are several) is held out. The
   held-out numbers never occur in training, and every output length is
   represented among them (a length that only one number has goes to the
   held-out set).
3. **Character level on both sides**: a source character is a token
   ``1..S`` (0 pads), a target character a token ``3..V-1`` (0 pads, 1 starts, 2
   ends a sentence). The alphabets are the characters of all the words of each
   language, which num2words fixes; no other tokenisation is needed for languages
   that write numbers as one word (German) or as many (English).
4. **Models**: the encoder-decoder of ``docs/models.md``: ``Embedding ->
   LSTM`` encoder, whose final state starts an ``Embedding -> LSTM`` decoder
   (teacher forcing), ``Attention`` (Luong's dot product) of every decoder step
   over the encoder's outputs, and ``Dense(V, softmax)`` on the decoder's output
   and the context. The baseline without attention is the same network with the
   head reading the decoder's output alone: same layers, same epochs, same
   batches (its head has ``hidden * V`` fewer weights).
5. **Training**: sparse categorical cross-entropy, Adam, batches of 64 (32 with
   ``--quick``), the last quarter of the epochs at a tenth of the learning rate.
6. **Decoding**: `seqnet.decode.greedy` and `seqnet.decode.beam_search` (width
   5) from an encoder model and a decoder-step model built from the same layers.
7. **Scores on the held-out numbers**: exact match (the whole string right) and
   the character error rate, the edit distance to the reference summed over the
   held-out set over the total reference length,

   $$\mathrm{CER} = \frac{\sum_i d(\hat y_i, y_i)}{\sum_i |y_i|},$$

   with $d$ the Levenshtein distance (`edit_distance`); both by output length
   too.

It writes ``translate_<source>_<target>.md`` (the tables),
``translate_<source>_<target>_length.png`` (exact match by output length, and
the training loss) and ``translate_<source>_<target>_attention.png`` (attention
heat maps of held-out numbers) into ``--out-dir`` (default ``docs/figures``).
The last line printed is one JSON object with the headline figures:
``exact_match`` and ``cer`` are those of the attention model with beam search.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from .. import _checks
from .._io import atomic_write
from ..distributed import add_cluster_arguments, cluster_client, map_runs

__all__ = [
    "EXTRA_HINT",
    "QUICK",
    "Translator",
    "build_translator",
    "by_length",
    "character_error_rate",
    "edit_distance",
    "encode_pairs",
    "exact_match",
    "format_tables",
    "languages",
    "main",
    "number_words",
    "plot_attention",
    "plot_lengths",
    "run",
    "split_by_length",
    "train_translator",
]

EXTRA_HINT = 'install the experiments extra: pip install "seqnet[experiments]"'

PAD, START, END = 0, 1, 2
DEFAULT_MAX_NUMBER = 9999
DEFAULT_EPOCHS = 12
DEFAULT_HIDDEN = 128
DEFAULT_EMBED = 32
DEFAULT_TEST_FRACTION = 0.2
DEFAULT_WIDTH = 5
DEFAULT_BATCH_SIZE = 64
DEFAULT_LEARNING_RATE = 5e-3
#: the settings of ``--quick``: numbers below 1000, a smaller network, smaller batches.
QUICK = {"max_number": 999, "epochs": 16, "hidden": 64, "embed": 16, "batch_size": 32,
         "learning_rate": 1e-2}
#: extra decoding steps beyond the longest training target.
LENGTH_SLACK = 10


# ------------------------------------------------------------------------ data
def _num2words():
    try:
        import num2words
    except ImportError as exc:
        raise ImportError(f"the words come from num2words; {EXTRA_HINT}") from exc
    return num2words


def languages():
    """The language codes num2words can write numbers in.

    Returns
    -------
    tuple of str
        Sorted codes such as ``"de"``, ``"en"``, ``"fr"``, ``"pt_BR"``.

    Raises
    ------
    ImportError
        num2words is not installed (it comes with ``seqnet[experiments]``).
    """
    return tuple(sorted(_num2words().CONVERTER_CLASSES))


def _language(lang, name):
    if not isinstance(lang, str):
        raise TypeError(f"{name} must be a language code (str), got {type(lang).__name__}")
    known = languages()
    if lang not in known:
        raise ValueError(f"{name} must be a language num2words supports, got {lang!r}; "
                         f"one of: {', '.join(known)}")
    return lang


def number_words(numbers, lang):
    """Each number written out in words by num2words.

    Parameters
    ----------
    numbers : array_like of int, shape (N,)
        Non-negative integers.
    lang : str
        A num2words language code (see `languages`).

    Returns
    -------
    list of str
        ``num2words(n, lang=lang)`` for each number.

    Raises
    ------
    ImportError
        num2words is not installed.
    ValueError
        An unknown language, a negative number, or a number num2words cannot
        write in that language.
    """
    lang = _language(lang, "lang")
    numbers = np.asarray(numbers)
    if numbers.ndim != 1 or (numbers.size and numbers.dtype.kind not in "iu"):
        raise ValueError(f"numbers must be a one-dimensional array of integers, got shape "
                         f"{numbers.shape}, dtype {numbers.dtype}")
    if numbers.size and numbers.min() < 0:
        raise ValueError(f"numbers must be >= 0, got {numbers.min()}")
    convert = _num2words().num2words
    out = []
    for n in numbers.tolist():
        try:
            out.append(convert(n, lang=lang))
        except Exception as exc:  # num2words raises many kinds (NotImplementedError, ...)
            raise ValueError(f"num2words cannot write {n} in lang={lang!r}: {exc}") from exc
    return out


def split_by_length(lengths, test_fraction=DEFAULT_TEST_FRACTION, seed=0):
    """Hold out a fraction of the items of every length.

    Parameters
    ----------
    lengths : array_like of int, shape (N,)
        Each item's output length.
    test_fraction : float in (0, 1)
        The share of each length's items held out: ``round(test_fraction * n)``,
        at least 1 and at most ``n - 1`` for a length with ``n >= 2`` items; the
        single item of a length that only one item has is held out.
    seed : int, default 0
        Seeds which items of a length are held out.

    Returns
    -------
    train, test : ndarray of int64
        Sorted indices into ``lengths``; disjoint, together ``0..N-1``. Every
        length occurs in ``test``.
    """
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.size < 2 or lengths.dtype.kind not in "iu":
        raise ValueError(f"lengths must be a one-dimensional array of at least 2 integers, "
                         f"got shape {lengths.shape}, dtype {lengths.dtype}")
    test_fraction = _checks.real(test_fraction, "test_fraction", 0.0, 1.0, low_open=True,
                                 high_open=True)
    rng = np.random.default_rng(_checks.seed(seed))
    test = []
    for length in np.unique(lengths):
        items = rng.permutation(np.flatnonzero(lengths == length))
        n = items.size
        k = 1 if n == 1 else min(n - 1, max(1, round(test_fraction * n)))
        test.append(items[:k])
    test = np.sort(np.concatenate(test)).astype(np.int64)
    train = np.setdiff1d(np.arange(lengths.size), test).astype(np.int64)
    return train, test


def encode_pairs(sources, targets, source_vocab, target_vocab):
    """Token arrays for training: source, decoder input and decoder output.

    Parameters
    ----------
    sources, targets : sequence of str, length N
        The sentences in the two languages.
    source_vocab, target_vocab : seqnet.text.CharVocabulary
        Their characters. A source character ``c`` is token
        ``source_vocab.index[c] + 1`` (0 pads); a target character is
        ``target_vocab.index[c] + 3`` (0 pads, ``START = 1``, ``END = 2``).

    Returns
    -------
    x : ndarray of int64, shape (N, S)
        The sources, padded with 0 at the end to the longest (``S``).
    dec_in : ndarray of int64, shape (N, T + 1)
        ``[START, y_1 .. y_n]`` padded (``T`` the longest target).
    dec_out : ndarray of int64, shape (N, T + 1)
        ``[y_1 .. y_n, END]`` padded.
    """
    if len(sources) != len(targets) or not len(sources):
        raise ValueError(f"sources and targets must be non-empty and of one length, got "
                         f"{len(sources)} and {len(targets)}")
    src = [np.asarray(source_vocab.encode(s), np.int64) + 1 for s in sources]
    tgt = [np.asarray(target_vocab.encode(t), np.int64) + 3 for t in targets]
    n = len(src)
    x = np.zeros((n, max(map(len, src))), np.int64)
    T = max(map(len, tgt)) + 1
    dec_in, dec_out = np.zeros((2, n, T), np.int64)
    for row, (s, t) in enumerate(zip(src, tgt, strict=True)):
        x[row, :s.size] = s
        dec_in[row, :t.size + 1] = np.concatenate([[START], t])
        dec_out[row, :t.size + 1] = np.concatenate([t, [END]])
    return x, dec_in, dec_out


# --------------------------------------------------------------------- metrics
def edit_distance(a, b):
    """The Levenshtein distance: the fewest insertions, deletions and substitutions
    that turn ``a`` into ``b``.

    Parameters
    ----------
    a, b : str or sequence
        Compared element by element.

    Returns
    -------
    int

    Examples
    --------
    >>> from seqnet.experiments.translate import edit_distance
    >>> edit_distance("kitten", "sitting"), edit_distance("", "abc"), edit_distance("ab", "ab")
    (3, 3, 0)
    """
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _pairs(hypotheses, references):
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references) or not references:
        raise ValueError(f"hypotheses and references must be non-empty and of one length, "
                         f"got {len(hypotheses)} and {len(references)}")
    return hypotheses, references


def exact_match(hypotheses, references):
    """The fraction of hypotheses equal to their reference.

    Parameters
    ----------
    hypotheses, references : sequence of str, length N >= 1

    Returns
    -------
    float
    """
    hypotheses, references = _pairs(hypotheses, references)
    return float(np.mean([h == r for h, r in zip(hypotheses, references, strict=True)]))


def character_error_rate(hypotheses, references):
    r"""The edit distance to the references over their total length.

    $\mathrm{CER} = \sum_i d(\hat y_i, y_i) / \sum_i |y_i|$ (corpus level, so a
    long sentence weighs more than a short one; it can exceed 1).

    Parameters
    ----------
    hypotheses, references : sequence of str, length N >= 1
        At least one reference must be non-empty.

    Returns
    -------
    float
    """
    hypotheses, references = _pairs(hypotheses, references)
    total = sum(map(len, references))
    if total == 0:
        raise ValueError("references are all empty: the error rate is undefined")
    edits = sum(edit_distance(h, r) for h, r in zip(hypotheses, references, strict=True)
                if h != r)
    return edits / total


def by_length(hypotheses, references, bins):
    """Exact match and character error rate by reference length.

    Parameters
    ----------
    hypotheses, references : sequence of str, length N >= 1
    bins : sequence of int
        Increasing edges: bin ``k`` holds the references with ``bins[k] <= len <
        bins[k + 1]``.

    Returns
    -------
    list of dict
        One per bin with references in it: ``low``, ``high`` (the edges),
        ``count``, ``exact_match``, ``cer``.
    """
    hypotheses, references = _pairs(hypotheses, references)
    bins = np.asarray(bins)
    if bins.ndim != 1 or bins.size < 2 or np.any(np.diff(bins) <= 0):
        raise ValueError(f"bins must be at least 2 increasing edges, got {bins.tolist()}")
    lengths = np.array([len(r) for r in references])
    rows = []
    for low, high in zip(bins[:-1], bins[1:], strict=True):
        keep = np.flatnonzero((lengths >= low) & (lengths < high))
        if keep.size:
            h = [hypotheses[i] for i in keep]
            r = [references[i] for i in keep]
            rows.append({"low": int(low), "high": int(high), "count": int(keep.size),
                         "exact_match": exact_match(h, r),
                         "cer": character_error_rate(h, r)})
    return rows


# ---------------------------------------------------------------------- models
class Translator:
    """A trained encoder-decoder and the two models that decode with it.

    Parameters
    ----------
    model : seqnet.Model
        ``[source, decoder input] -> probabilities`` (teacher forcing).
    encoder : seqnet.Model
        ``source -> [encoder outputs, h, c]``.
    decoder : seqnet.Model
        One step: ``[token, (encoder outputs,) h, c] -> [probabilities, h, c]``
        (the encoder outputs with attention only).
    scores : seqnet.Model or None
        ``[source, decoder input] -> attention weights (N, T, S)``; None without
        attention.
    source_vocab, target_vocab : seqnet.text.CharVocabulary
    attention : bool

    Attributes
    ----------
    history : dict of str to list
        Filled by `train_translator`: ``loss`` and ``seconds`` per epoch.
    """

    def __init__(self, model, encoder, decoder, scores, source_vocab, target_vocab,
                 attention):
        self.model, self.encoder, self.decoder, self.scores = model, encoder, decoder, scores
        self.source_vocab, self.target_vocab = source_vocab, target_vocab
        self.attention = attention
        self.history = {"loss": [], "seconds": []}

    @property
    def n_params(self):
        """int: the number of trainable parameters."""
        return int(sum(p.size for p in self.model.params.values()))

    def translate(self, x, *, width=1, max_length=64):
        """Decode sources: greedy search with ``width=1``, beam search otherwise.

        Parameters
        ----------
        x : ndarray of int64, shape (N, S)
            Sources from `encode_pairs`.
        width : int, default 1
            The beam width; 1 is greedy search (`seqnet.decode.greedy`).
        max_length : int, default 64
            The most characters per translation, the end token included.

        Returns
        -------
        list of str
            Each row's translation (the characters before the end token).
        """
        from .. import decode

        width = _checks.positive_int(width, "width")
        enc_out, h, c = self.encoder.predict(x, batch_size=256)
        search = {"start": START, "end": END, "max_length": max_length,
                  "constants": [enc_out] if self.attention else ()}
        if width == 1:
            found = decode.greedy(self.decoder, [h, c], **search)
        else:
            found = decode.beam_search(self.decoder, [h, c], width=width, **search)
        return self.strings(found.tokens, found.lengths)

    def strings(self, tokens, lengths):
        """The target strings of decoded tokens.

        Parameters
        ----------
        tokens : ndarray of int, shape (N, L)
            Target tokens (3 and up are characters).
        lengths : ndarray of int, shape (N,)
            Tokens per row, the end token included when there is one.

        Returns
        -------
        list of str
            Each row's characters up to its first special token.
        """
        out = []
        for row, n in zip(tokens, lengths, strict=True):
            row = np.asarray(row[:n])
            stop = np.flatnonzero(row < 3)
            row = row[:stop[0]] if stop.size else row
            out.append(self.target_vocab.decode(row - 3))
        return out


def build_translator(source_vocab, target_vocab, *, hidden=DEFAULT_HIDDEN,
                     embed=DEFAULT_EMBED, attention=True, seed=0):
    """The encoder-decoder of ``docs/models.md``, and its decoding models.

    Parameters
    ----------
    source_vocab, target_vocab : seqnet.text.CharVocabulary
    hidden : int, default 128
        Units of the encoder and the decoder LSTM.
    embed : int, default 32
        Width of the character embeddings.
    attention : bool, default True
        Dot-product attention over the encoder's outputs; without it the head
        reads the decoder's output alone.
    seed : int, default 0
        Seeds the initialisation (layer ``k`` gets ``seed + k``) and the batch order.

    Returns
    -------
    Translator
        Compiled for training (sparse categorical cross-entropy, Adam; the
        learning rate is set by `train_translator`).
    """
    import seqnet
    from seqnet import Input, Model

    hidden = _checks.positive_int(hidden, "hidden")
    embed = _checks.positive_int(embed, "embed")
    attention = _checks.flag(attention, "attention")
    seed = _checks.seed(seed)
    S, V = len(source_vocab) + 1, len(target_vocab) + 3
    src_embed = seqnet.Embedding(S, embed, mask_zero=True, seed=seed + 1)
    tgt_embed = seqnet.Embedding(V, embed, mask_zero=True, seed=seed + 2)
    enc_lstm = seqnet.LSTM(hidden, return_sequences=True, return_state=True, seed=seed + 3)
    dec_lstm = seqnet.LSTM(hidden, return_sequences=True, return_state=True, seed=seed + 4)
    attend, concat = seqnet.Attention(), seqnet.Concatenate()
    head = seqnet.Dense(V, activation="softmax", seed=seed + 5)

    def readout(dec_seq, memory):
        if not attention:
            return head(dec_seq)
        return head(concat([dec_seq, attend([dec_seq, memory])]))

    src, tgt = Input(shape=(None,), dtype="int64"), Input(shape=(None,), dtype="int64")
    enc_seq, h, c = enc_lstm(src_embed(src))
    dec_seq, _, _ = dec_lstm(tgt_embed(tgt), initial_state=[h, c])
    model = Model([src, tgt], readout(dec_seq, enc_seq), seed=seed)
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=seqnet.optim.Adam(learning_rate=DEFAULT_LEARNING_RATE))
    encoder = Model(src, [enc_seq, h, c])

    token = Input(shape=(None,), dtype="int64")
    h_in, c_in = Input(shape=(hidden,)), Input(shape=(hidden,))
    step_seq, h_out, c_out = dec_lstm(tgt_embed(token), initial_state=[h_in, c_in])
    scores = None
    if attention:
        memory = Input(shape=(None, hidden))
        probs = readout(step_seq, seqnet.Masking(0.0)(memory))
        decoder = Model([token, memory, h_in, c_in], [probs, h_out, c_out])
        _, weights = attend([dec_seq, enc_seq], return_attention_scores=True)
        scores = Model([src, tgt], weights)
    else:
        decoder = Model([token, h_in, c_in], [readout(step_seq, None), h_out, c_out])
    return Translator(model, encoder, decoder, scores, source_vocab, target_vocab, attention)


def train_translator(translator, x, dec_in, dec_out, *, epochs=DEFAULT_EPOCHS,
                     batch_size=DEFAULT_BATCH_SIZE, learning_rate=DEFAULT_LEARNING_RATE,
                     log=print):
    """Teacher-forced training, the last quarter of the epochs at a tenth of the rate.

    Parameters
    ----------
    translator : Translator
        From `build_translator`.
    x, dec_in, dec_out : ndarray of int64
        From `encode_pairs` (the training rows).
    epochs : int, default 12
        Epochs over the training rows; the last ``max(1, epochs // 4)`` (none
        when ``epochs == 1``) at a tenth of the learning rate.
    batch_size : int, default 64
    learning_rate : float, default 5e-3
        Adam's step size for the first epochs.
    log : callable or None, default print
        Called with one line per epoch.

    Returns
    -------
    Translator
        The same object, trained, with ``history`` filled.
    """
    epochs = _checks.positive_int(epochs, "epochs")
    batch_size = _checks.positive_int(batch_size, "batch_size")
    learning_rate = _checks.real(learning_rate, "learning_rate", 0.0, low_open=True)
    fine = 0 if epochs == 1 else max(1, epochs // 4)
    opt = translator.model.optimizer
    for epoch in range(epochs):
        opt.learning_rate = learning_rate / 10 if epoch >= epochs - fine else learning_rate
        start = time.perf_counter()
        hist = translator.model.fit([x, dec_in], dec_out, batch_size=batch_size, epochs=1,
                                    verbose=0)
        seconds = time.perf_counter() - start
        translator.history["loss"].append(float(hist.history["loss"][-1]))
        translator.history["seconds"].append(seconds)
        if log is not None:
            log(f"  epoch {epoch + 1}/{epochs}: loss {hist.history['loss'][-1]:.4f} "
                f"(learning rate {opt.learning_rate:g}, {seconds:.1f} s)")
    return translator


# ------------------------------------------------------------------------- run
def _length_bins(lengths, step=5):
    low = (min(lengths) // step) * step
    high = (max(lengths) // step + 1) * step
    return list(range(low, high + 1, step))


def run(source="de", target="en", *, max_number=DEFAULT_MAX_NUMBER, epochs=DEFAULT_EPOCHS,
        hidden=DEFAULT_HIDDEN, embed=DEFAULT_EMBED, batch_size=DEFAULT_BATCH_SIZE,
        learning_rate=DEFAULT_LEARNING_RATE, test_fraction=DEFAULT_TEST_FRACTION,
        width=DEFAULT_WIDTH, seed=0, log=print, client=None):
    """Train with and without attention, decode the held-out numbers, score them.

    The two models are independent runs (`seqnet.distributed.map_runs`): with a
    ``client`` they train at the same time, as tasks on its Dask cluster.

    Parameters
    ----------
    source, target : str, default "de", "en"
        num2words language codes (see `languages`).
    max_number : int, default 9999
        The numbers are ``0..max_number`` (at least 9).
    epochs, hidden, embed, batch_size : int
        Training epochs and batch size (see `train_translator`) and sizes (see
        `build_translator`), the same for both models.
    learning_rate : float, default 5e-3
        Adam's step size (see `train_translator`).
    test_fraction : float in (0, 1), default 0.2
        Held out of each output length (see `split_by_length`).
    width : int, default 5
        The beam width (>= 2).
    seed : int, default 0
        Seeds the split, the initialisation and the batch order.
    log : callable or None, default print
        Called with progress lines: each model's (its size, its epochs, its
        scores), when it finishes.
    client : distributed.Client, optional
        Train the two models as tasks on its Dask cluster; the results are the
        serial run's, bit for bit (the timings apart).

    Returns
    -------
    dict
        ``numbers``, ``sources``, ``targets`` (the words), ``train`` and ``test``
        (indices), ``bins`` (length-bin edges), ``models`` (``"attention"`` and
        ``"no attention"``, each with ``translator``, ``greedy`` and ``beam``
        hypotheses for the held-out numbers, their ``scores`` (exact match and
        CER), ``by_length`` rows, ``train_seconds`` and ``decode_seconds``),
        ``settings`` and ``summary`` (the JSON-able headline figures).
    """
    from ..text import CharVocabulary

    log = log or (lambda line: None)
    source, target = _language(source, "source"), _language(target, "target")
    max_number = _checks.integer(max_number, "max_number", 9)
    epochs = _checks.positive_int(epochs, "epochs")
    width = _checks.integer(width, "width", 2)
    seed = _checks.seed(seed)
    numbers = np.arange(max_number + 1)
    start = time.perf_counter()
    sources, targets = number_words(numbers, source), number_words(numbers, target)
    train, test = split_by_length(np.array([len(t) for t in targets]), test_fraction, seed)
    source_vocab = CharVocabulary.from_text("".join(sources))
    target_vocab = CharVocabulary.from_text("".join(targets))
    x, dec_in, dec_out = encode_pairs(sources, targets, source_vocab, target_vocab)
    refs = [targets[i] for i in test]
    bins = _length_bins([len(r) for r in refs])
    max_length = max(len(targets[i]) for i in train) + 1 + LENGTH_SLACK
    log(f"{source} -> {target}: numbers 0..{max_number}, {train.size} for training, "
        f"{test.size} held out; {len(source_vocab)} source and {len(target_vocab)} target "
        f"characters; sources up to {x.shape[1]}, targets up to {dec_out.shape[1] - 1} "
        f"characters ({time.perf_counter() - start:.1f} s)")
    shared = dict(source_vocab=source_vocab, target_vocab=target_vocab, x=x, dec_in=dec_in,
                  dec_out=dec_out, train=train, test=test, refs=refs, bins=bins,
                  max_length=max_length, hidden=hidden, embed=embed, epochs=epochs,
                  batch_size=batch_size, learning_rate=learning_rate, width=width, seed=seed)
    jobs = [(name, attention, shared) for name, attention in (("attention", True),
                                                               ("no attention", False))]
    runs = map_runs(_model_run, jobs, client=client,
                    describe=lambda job, r: "\n".join(r["lines"]), log=log)
    models = {name: {k: v for k, v in rec.items() if k != "lines"}
              for (name, _, _), rec in zip(jobs, runs, strict=True)}
    att, plain = models["attention"]["scores"], models["no attention"]["scores"]
    summary = {
        "source": source, "target": target, "max_number": max_number,
        "train": int(train.size), "held_out": int(test.size), "epochs": epochs,
        "hidden": hidden, "width": width,
        "exact_match": att["beam"]["exact_match"], "cer": att["beam"]["cer"],
        "greedy_exact_match": att["greedy"]["exact_match"],
        "greedy_cer": att["greedy"]["cer"],
        "no_attention_exact_match": plain["beam"]["exact_match"],
        "no_attention_cer": plain["beam"]["cer"],
        "no_attention_greedy_exact_match": plain["greedy"]["exact_match"],
        "no_attention_greedy_cer": plain["greedy"]["cer"],
        "params": models["attention"]["translator"].n_params,
        "no_attention_params": models["no attention"]["translator"].n_params,
        "seconds": round(time.perf_counter() - start, 1),
    }
    return {"numbers": numbers, "sources": sources, "targets": targets, "train": train,
            "test": test, "bins": bins, "models": models, "max_length": max_length,
            "settings": {"source": source, "target": target, "max_number": max_number,
                         "epochs": epochs, "hidden": hidden, "embed": embed,
                         "test_fraction": test_fraction, "width": width, "seed": seed,
                         "batch_size": batch_size, "learning_rate": learning_rate},
            "summary": summary}


def _model_run(job):
    """One model of the comparison, ``job = (name, attention, shared)``: built,
    trained, decoding the held-out numbers and scored; a function of its arguments
    only, so it runs the same here or on a Dask worker. Returns the record `run`
    keeps under ``models[name]``, with its progress ``lines``."""
    name, attention, d = job
    lines = []
    tr = build_translator(d["source_vocab"], d["target_vocab"], hidden=d["hidden"],
                          embed=d["embed"], attention=attention, seed=d["seed"])
    lines.append(f"{name}: {tr.n_params} parameters")
    train, test, x = d["train"], d["test"], d["x"]
    t0 = time.perf_counter()
    train_translator(tr, x[train], d["dec_in"][train], d["dec_out"][train],
                     epochs=d["epochs"], batch_size=d["batch_size"],
                     learning_rate=d["learning_rate"], log=lines.append)
    t1 = time.perf_counter()
    greedy = tr.translate(x[test], width=1, max_length=d["max_length"])
    beam = tr.translate(x[test], width=d["width"], max_length=d["max_length"])
    t2 = time.perf_counter()
    rec = {"translator": tr, "greedy": greedy, "beam": beam,
           "train_seconds": t1 - t0, "decode_seconds": t2 - t1, "scores": {},
           "by_length": {}}
    refs = d["refs"]
    for method, hyps in (("greedy", greedy), ("beam", beam)):
        rec["scores"][method] = {"exact_match": exact_match(hyps, refs),
                                 "cer": character_error_rate(hyps, refs)}
        rec["by_length"][method] = by_length(hyps, refs, d["bins"])
    lines.append(f"{name}: greedy exact match {rec['scores']['greedy']['exact_match']:.4f} "
                 f"(CER {rec['scores']['greedy']['cer']:.4f}), beam {d['width']} "
                 f"{rec['scores']['beam']['exact_match']:.4f} "
                 f"(CER {rec['scores']['beam']['cer']:.4f}); training {t1 - t0:.0f} s, "
                 f"decoding {t2 - t1:.0f} s")
    rec["lines"] = lines
    return rec


def _pct(value):
    return f"{100 * value:.2f} %"


def format_tables(results):
    """The markdown tables: overall scores, and exact match by output length.

    Parameters
    ----------
    results : dict
        From `run`.

    Returns
    -------
    str
        Two tables: one row per model and decoding (parameters, exact match, CER,
        wrong translations), and one row per output-length bin (held-out numbers,
        exact match of each model and decoding).
    """
    models, width = results["models"], results["settings"]["width"]
    n = len(results["test"])
    methods = (("greedy", "greedy"), ("beam", f"beam, width {width}"))
    rows = ["| model | parameters | decoding | exact match | CER | wrong (of "
            f"{n}) |", "|---|---:|---|---:|---:|---:|"]
    refs = [results["targets"][i] for i in results["test"]]
    for name, rec in models.items():
        for method, label in methods:
            s = rec["scores"][method]
            wrong = sum(h != r for h, r in zip(rec[method], refs, strict=True))
            rows.append(f"| {name} | {rec['translator'].n_params} | {label} | "
                        f"{_pct(s['exact_match'])} | {_pct(s['cer'])} | {wrong} |")
    cols = [(name, method, label) for name in models for method, label in methods]
    lrows = ["| output length (characters) | held out | "
             + " | ".join(f"{name}, {label}" for name, _, label in cols) + " |",
             "|---|---:|" + "---:|" * len(cols)]
    first = models["attention"]["by_length"]["greedy"]
    for k, row in enumerate(first):
        cells = [_pct(models[name]["by_length"][method][k]["exact_match"])
                 for name, method, _ in cols]
        lrows.append(f"| {row['low']}-{row['high'] - 1} | {row['count']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n\nExact match by output length:\n\n" + "\n".join(lrows)


def _mistakes(results, name="attention", method="beam", limit=20):
    test = results["test"]
    rec = results["models"][name]
    out = []
    for k, i in enumerate(test):
        if rec[method][k] != results["targets"][i]:
            out.append((int(results["numbers"][i]), results["sources"][i],
                        results["targets"][i], rec[method][k]))
    return out[:limit], len(out)


def _report(results, seconds, figures):
    s = results["settings"]
    summary = results["summary"]
    lines = [
        f"# Translating numbers in words: {s['source']} -> {s['target']}",
        "",
        f"Numbers 0..{s['max_number']} written out by num2words; {summary['train']} for "
        f"training and {summary['held_out']} held out ({s['test_fraction']:g} of every "
        f"output length, seed {s['seed']}). Character-level encoder-decoder: embeddings "
        f"of {s['embed']}, LSTM encoder and decoder of {s['hidden']} units, Adam "
        f"(learning rate {s['learning_rate']:g}, a tenth of it for the last quarter of "
        f"the epochs), batches of {s['batch_size']}, {s['epochs']} epochs; the model "
        "without attention is the same network with its head reading the decoder's "
        "output alone, trained on the same batches for the same epochs. Scores on the "
        "held-out numbers:",
        "",
        format_tables(results),
        "",
    ]
    mistakes, count = _mistakes(results)
    if count:
        lines += [f"The attention model's wrong translations (beam search), {count} in all"
                  + (f", the first {len(mistakes)}" if count > len(mistakes) else "") + ":",
                  "", "| number | source | reference | translation |",
                  "|---:|---|---|---|"]
        lines += [f"| {n} | {src} | {ref} | {hyp} |" for n, src, ref, hyp in mistakes]
        lines.append("")
    for name, rec in results["models"].items():
        lines.append(f"{name}: training {rec['train_seconds']:.0f} s, decoding the "
                     f"held-out numbers greedily and with beam search "
                     f"{rec['decode_seconds']:.0f} s.")
        lines.append("")
    lines += [f"Figures: {', '.join(figures)}. Wall time of the run: {seconds:.0f} s.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------- figures
def _figure():
    try:
        # A Figure without pyplot renders with the Agg canvas and leaves the
        # caller's backend and open figures alone.
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(f"the figures need matplotlib; {EXTRA_HINT}") from exc
    return Figure


def plot_lengths(results, path):
    """Save the figure of exact match by output length, and of the training loss.

    Parameters
    ----------
    results : dict
        From `run`.
    path : str or path-like
        The PNG file to write.
    """
    Figure = _figure()
    s = results["settings"]
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax, ax2 = fig.subplots(1, 2, width_ratios=[3, 2])
    styles = {"attention": "tab:blue", "no attention": "tab:orange"}
    for name, rec in results["models"].items():
        for method, ls in (("greedy", "--"), ("beam", "-")):
            rows = rec["by_length"][method]
            mid = [(r["low"] + r["high"] - 1) / 2 for r in rows]
            label = f"{name}, {'greedy' if method == 'greedy' else 'beam ' + str(s['width'])}"
            ax.plot(mid, [100 * r["exact_match"] for r in rows], ls=ls, marker="o",
                    color=styles[name], label=label)
    for r in results["models"]["attention"]["by_length"]["greedy"]:
        ax.annotate(f"{r['count']}", ((r["low"] + r["high"] - 1) / 2, 75), ha="center",
                    fontsize=7, color="gray")
    ax.text(0.01, 0.76, "held out:", transform=ax.transAxes, fontsize=7, color="gray")
    ax.set_xlabel("length of the reference translation (characters)")
    ax.set_ylabel("exact match on the held-out numbers (%)")
    ax.set_ylim(-2, 102)
    ax.set_title(f"{s['source']} -> {s['target']}: exact match by output length")
    ax.legend(loc="lower left", fontsize=8)
    for name, rec in results["models"].items():
        loss = rec["translator"].history["loss"]
        ax2.semilogy(np.arange(1, len(loss) + 1), loss, marker=".", color=styles[name],
                     label=name)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training loss (cross-entropy per character)")
    ax2.set_title("Training loss")
    ax2.legend(fontsize=8)
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=110)


def _heatmap_rows(results):
    """Held-out rows to draw: a two-digit number the source language writes in
    another order (units first in German) when one is held out, and the
    held-out number with the longest reference."""
    test, numbers, targets = results["test"], results["numbers"], results["targets"]
    picks = [k for k, i in enumerate(test) if 21 <= numbers[i] <= 99 and numbers[i] % 10][:1]
    longest = int(np.argmax([len(targets[i]) for i in test]))
    return picks + [longest] if longest not in picks else picks


def plot_attention(results, path, rows=None):
    """Save heat maps of the attention model's weights on held-out numbers.

    The decoder reads its own greedy translation (teacher forcing with it gives
    the weights greedy decoding used); each map has a row per output character
    (the end token last) and a column per source character.

    Parameters
    ----------
    results : dict
        From `run`.
    path : str or path-like
        The PNG file to write.
    rows : sequence of int, optional
        Positions in the held-out set; default a two-digit number written in
        another order and the longest reference.
    """
    Figure = _figure()
    rec = results["models"]["attention"]
    tr = rec["translator"]
    rows = _heatmap_rows(results) if rows is None else list(rows)
    if not rows:
        raise ValueError("rows must name at least one held-out number")
    test = results["test"]
    widths = [len(results["sources"][test[k]]) for k in rows]
    fig = Figure(figsize=(max(6, 0.16 * sum(widths) + 2.5 * len(rows)), 6.5),
                 layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(rows), width_ratios=widths))
    for ax, k in zip(axes, rows, strict=True):
        i = test[k]
        src, hyp = results["sources"][i], rec["greedy"][k]
        x, dec_in, _ = encode_pairs([src], [hyp], tr.source_vocab, tr.target_vocab)
        weights = tr.scores.predict([x, dec_in])[0]          # (T, S)
        ax.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(src)), list(src), fontsize=7)
        ax.set_yticks(range(len(hyp) + 1), [*hyp.replace(" ", "␣"), "<end>"], fontsize=7)
        ax.set_xlabel(f"source ({results['settings']['source']})")
        ax.set_ylabel(f"output ({results['settings']['target']}), greedy")
        ax.set_title(f"{results['numbers'][i]}: {src} -> {hyp}", fontsize=8)
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=110)


# ------------------------------------------------------------------------- CLI
def _parser():
    p = argparse.ArgumentParser(
        prog="python -m seqnet.experiments.translate",
        description="Translate numbers written out in words from one language to another "
                    "with a character-level encoder-decoder, with and without attention; "
                    "write the tables and figures; the last line is a JSON object.")
    p.add_argument("--source", default="de", help="num2words language of the source "
                   "(default: de)")
    p.add_argument("--target", default="en", help="num2words language of the target "
                   "(default: en)")
    p.add_argument("--quick", action="store_true",
                   help=f"numbers 0..{QUICK['max_number']}, {QUICK['hidden']} units, "
                        f"{QUICK['epochs']} epochs: under 3 minutes on 2 cores")
    p.add_argument("--out-dir", default=os.path.join("docs", "figures"),
                   help="folder for the figures and the table (default: docs/figures)")
    p.add_argument("--max-number", type=int, default=None,
                   help=f"the numbers are 0..N (default: {DEFAULT_MAX_NUMBER})")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"training epochs of each model (default: {DEFAULT_EPOCHS})")
    p.add_argument("--hidden", type=int, default=None,
                   help=f"LSTM units (default: {DEFAULT_HIDDEN})")
    p.add_argument("--test-fraction", type=float, default=DEFAULT_TEST_FRACTION,
                   help=f"held out of each output length (default: {DEFAULT_TEST_FRACTION})")
    p.add_argument("--width", type=int, default=DEFAULT_WIDTH,
                   help=f"beam width (default: {DEFAULT_WIDTH})")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    return p


def main(argv=None):
    """The command: train, decode, print the tables and the JSON line, write the files.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success; 2 after an ``error:`` line when an extra is missing or the
        output folder cannot be made (argparse exits 2 for bad options, an unknown
        language among them).
    """
    parser = _parser()
    add_cluster_arguments(parser)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    base = QUICK if args.quick else {
        "max_number": DEFAULT_MAX_NUMBER, "epochs": DEFAULT_EPOCHS, "hidden": DEFAULT_HIDDEN,
        "embed": DEFAULT_EMBED, "batch_size": DEFAULT_BATCH_SIZE,
        "learning_rate": DEFAULT_LEARNING_RATE}
    settings = dict(base)
    for key in ("max_number", "epochs", "hidden"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    try:  # both extras are checked before any training
        languages()
        _figure()
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in ("source", "target"):
        try:
            _language(getattr(args, name), name)
        except ValueError as exc:
            parser.error(f"--{exc}")
    try:
        os.makedirs(args.out_dir, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot create --out-dir {args.out_dir!r}: {exc}", file=sys.stderr)
        return 2
    try:
        with cluster_client(args.workers, args.scheduler) as client:
            results = run(args.source, args.target, test_fraction=args.test_fraction,
                          width=args.width, seed=args.seed,
                          log=lambda line: print(line, flush=True), client=client,
                          **settings)
    except ValueError as exc:
        parser.error(str(exc))
    stem = f"translate_{args.source}_{args.target}"
    figures = [os.path.join(args.out_dir, f"{stem}_{kind}.png")
               for kind in ("length", "attention")]
    plot_lengths(results, figures[0])
    plot_attention(results, figures[1])
    report = _report(results, time.perf_counter() - start,
                     [os.path.basename(f) for f in figures])
    table = os.path.join(args.out_dir, f"{stem}.md")
    with atomic_write(table, "w") as f:
        f.write(report)
    print(report)
    print(f"wrote {figures[0]}, {figures[1]} and {table}")
    summary = dict(results["summary"], quick=bool(args.quick),
                   seconds=round(time.perf_counter() - start, 1))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
