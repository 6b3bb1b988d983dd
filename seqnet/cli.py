"""The ``seqnet`` command: ``seqnet charlm train | generate | evaluate``.

``train`` builds the classic Keras character model (``LSTM(128) -> Dropout(0.2) ->
Dense(vocab, softmax)``, windows of 40 characters every 3, RMSprop) on the bundled
Shakespeare corpus or any text, prints the progress, the per-epoch losses in nats
and bits per character and samples at a few temperatures, and saves the model
after every epoch (atomically; ``--resume`` continues from it). ``--mode stream``
trains the same model on streams instead: ``--batch-size`` contiguous streams of
the text, windows of ``--bptt`` characters each continuing the last, a stateful
LSTM carrying its state across, and a prediction at every character
(`seqnet.text.stream_arrays`, truncated backpropagation through time).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

from . import _io, datasets, generate, optim, text
from ._checks import positive_int_arg
from .callbacks import Callback
from .charlm import build_charlm, build_stream_charlm, check_charlm, windows_model
from .saving import load_model

LOG2 = math.log(2.0)
#: ``--bptt``'s default: characters per window of stream training.
DEFAULT_BPTT = 40
#: ``--batch-size``'s default: windows per batch, or streams in stream mode.
DEFAULT_BATCH = {"windows": 128, "stream": 64}


def _corpus(args):
    """The text of ``--corpus`` (the bundled corpus when it is not given), read with
    ``--encoding``; a file that does not decode gets the command line's hint."""
    if args.corpus is None:
        return datasets.shakespeare()
    try:
        return datasets.load_text(args.corpus, encoding=args.encoding)
    except datasets.TextDecodeError as exc:
        if exc.looks_gzipped:
            raise
        message = str(exc).rsplit(" (pass", 1)[0]
        raise ValueError(f"{message} (pass the file's encoding with --encoding, for "
                         "instance --encoding latin-1)") from exc


def _number(value, low, high=None, *, low_open=False):
    """A finite float in ``[low, high)`` (``(low, ...`` when ``low_open``), for argparse."""
    try:
        x = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"must be a number, got {value!r}") from exc
    if not math.isfinite(x) or (x <= low if low_open else x < low) or (
            high is not None and x >= high):
        interval = (f"{'>' if low_open else '>='} {low:g}" if high is None
                    else f"in [{low:g}, {high:g})")
        raise argparse.ArgumentTypeError(f"must be a finite number {interval}, got {value}")
    return x


def _positive_float(value):
    return _number(value, 0.0, low_open=True)


def _fraction(value):
    return _number(value, 0.0, 1.0)


def _temperature(value):
    return _number(value, 0.0)


def _temperatures(value):
    temps = [_temperature(t.strip()) for t in value.split(",") if t.strip()]
    if not temps:
        raise argparse.ArgumentTypeError(f"must be numbers separated by commas, got {value!r}")
    return temps


def _count(value):
    """An integer >= 0, for argparse."""
    try:
        n = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value!r}") from exc
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return n


def _prepare(args, text_str, vocab=None):
    if args.lowercase:
        text_str = text_str.lower()
    if vocab is None:
        vocab = text.CharVocabulary.from_text(text_str, lowercase=args.lowercase)
    return text_str, vocab


class _Samples(Callback):
    """Prints a short sample at a few temperatures after each epoch."""

    def __init__(self, seed_text, length, temperatures, seed):
        self.seed_text, self.length, self.temperatures, self.seed = (
            seed_text, length, temperatures, seed)

    def on_epoch_end(self, epoch, logs=None):
        if self.length == 0:
            return
        print(f"--- seed: {self.seed_text!r}")
        for temp in self.temperatures:
            sample = generate.generate_text(self.model, self.seed_text, self.length,
                                            temperature=temp, seed=self.seed + epoch)
            print(f"--- temperature {temp}: {sample!r}", flush=True)


class _Save(Callback):
    def __init__(self, path):
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        self.model.save(self.path)


def cmd_train(args):
    """``seqnet charlm train``: train (or resume) and save the character model.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``train`` options (see `make_parser`).

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    ValueError
        A training text too short for one window (for ``--batch-size`` streams of
        ``--bptt + 1`` characters in stream mode), ``--bptt`` without ``--mode
        stream``, a corpus that cannot be read as text, or an ``--out`` that is
        not a regular file (checked before training).
    OSError
        No file at ``--corpus``, or ``--out`` in a directory that does not exist or
        is not writable (checked before training), or a save that fails (a full
        disk).
    """
    _io.target(args.out)   # a place a model can be saved to, before an epoch is spent
    if args.bptt is not None and args.mode != "stream":
        raise ValueError(f"--bptt {args.bptt} is the window of --mode stream; "
                         f"--mode {args.mode} reads windows of --maxlen characters")
    raw = _corpus(args)
    if args.max_chars is not None:
        raw = raw[:args.max_chars]
    resume = args.resume and os.path.exists(args.out)
    if resume:
        model = load_model(args.out)
        meta = model.metadata
        args.lowercase, args.maxlen, args.step = meta["lowercase"], meta["maxlen"], meta["step"]
        args.mode, args.bptt = meta.get("mode", "windows"), meta.get("bptt")
        corpus, vocab = _prepare(args, raw, text.vocabulary_of(model))
        print(f"resuming {args.out} after epoch {model.epochs_trained}")
    else:
        corpus, vocab = _prepare(args, raw)
    n_val = int(round(len(corpus) * args.validation))
    train_text, val_text = corpus[:len(corpus) - n_val], corpus[len(corpus) - n_val:]
    if len(train_text) <= args.maxlen:
        raise ValueError(f"the training text has {len(train_text)} characters, "
                         f"too few for windows of maxlen={args.maxlen}")
    stream = args.mode == "stream"
    batch_size = args.batch_size or DEFAULT_BATCH[args.mode]
    if stream:
        args.bptt = args.bptt or DEFAULT_BPTT
        need = batch_size * (args.bptt + 1)
        if len(train_text) < need:
            raise ValueError(f"the training text has {len(train_text)} characters, too few "
                             f"for --batch-size {batch_size} streams of --bptt + 1 = "
                             f"{args.bptt + 1} characters ({need}): lower --batch-size or "
                             "--bptt, or use a longer corpus")
        X, y = text.stream_arrays(vocab.encode(train_text), batch_size, args.bptt)
        val = None
        if n_val >= need:
            val = text.stream_arrays(vocab.encode(val_text), batch_size, args.bptt)
        layout = (f"{len(X) // batch_size:,} windows of {args.bptt} in {batch_size} "
                  "streams (stream mode)")
    else:
        X, y = text.char_windows(vocab.encode(train_text), args.maxlen, args.step)
        val = None
        if n_val > args.maxlen:
            val = text.char_windows(vocab.encode(val_text), args.maxlen, args.step)
        layout = f"{len(X):,} windows of {args.maxlen} every {args.step}"
    if not resume:
        build = build_stream_charlm if stream else build_charlm
        model = build(len(vocab), hidden=args.hidden, dropout=args.dropout, seed=args.seed)
        opt = optim.get(args.optimizer)
        opt.learning_rate = args.lr
        model.compile("sparse_categorical_crossentropy", opt)
        model.metadata = {"vocabulary": vocab.to_config(), "maxlen": args.maxlen,
                          "step": args.step,
                          "lowercase": args.lowercase,
                          "corpus": "shakespeare (bundled)" if args.corpus is None
                          else os.path.basename(args.corpus)}
        if stream:
            model.metadata.update(mode="stream", bptt=args.bptt)
    print(f"corpus: {len(corpus):,} characters ({len(train_text):,} train, "
          f"{len(val_text):,} held out), vocabulary {len(vocab)}, {layout}")
    rng = np.random.default_rng(args.seed)
    start = int(rng.integers(0, len(train_text) - args.maxlen))
    seed_text = train_text[start:start + args.maxlen]
    callbacks = [_Save(args.out),
                 _Samples(seed_text, args.sample_length, args.temperatures, args.seed)]
    history = model.fit(X, y, batch_size=batch_size, epochs=args.epochs,
                        validation_data=val, shuffle=not stream, callbacks=callbacks,
                        verbose="auto" if args.progress == "auto" else int(args.progress))
    print(f"saved {args.out}")
    final = history.history.get("val_loss", history.history["loss"])[-1]
    print(f"final {'held-out' if val is not None else 'training'} loss: {final:.4f} "
          f"nats/char ({final / LOG2:.4f} bits/char)"
          + (" over every character, the state carried (charlm evaluate gives the "
             "windowed measure)" if stream else ""))
    return 0


def _load_charlm(path):
    """A saved character model, or ValueError saying why the file is not one."""
    return check_charlm(load_model(path), path)


def _is_stream(model):
    """Whether a character model was trained on streams (an output per step)."""
    return model.metadata.get("mode") == "stream" or getattr(
        model.layers[0], "return_sequences", False)


def cmd_generate(args):
    """``seqnet charlm generate``: print a seed window and the text generated after it.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``generate`` options (see `make_parser`).

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    ValueError
        ``--model`` is not a seqnet character model, or the seed text does not fit
        it.
    FileNotFoundError
        No file at ``--model`` or ``--corpus``.
    """
    model = _load_charlm(args.model)
    maxlen = model.metadata["maxlen"]
    seed_text = args.seed_text
    if seed_text is None:
        corpus = _corpus(args)
        if model.metadata.get("lowercase"):
            corpus = corpus.lower()
        if len(corpus) <= maxlen:
            raise ValueError(f"{args.corpus or 'the corpus'} has {len(corpus)} characters, "
                             f"too few for a seed window of the model's maxlen={maxlen}: "
                             "pass a longer --corpus or --seed-text")
        rng = np.random.default_rng(args.seed)
        start = int(rng.integers(0, len(corpus) - maxlen))
        seed_text = corpus[start:start + maxlen]
    sample = generate.generate_text(model, seed_text, args.length,
                                    temperature=args.temperature, top_k=args.top_k,
                                    seed=args.seed, method=args.method)
    print(seed_text + sample)
    return 0


def cmd_evaluate(args):
    """``seqnet charlm evaluate``: the model's own preprocessing, then the mean loss.

    The loss is the windowed one for both kinds of model: the character after
    each window of ``maxlen``, from a zero state (a stream-trained model's weights
    run as the windowed model, `seqnet.charlm.windows_model`).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``evaluate`` options (see `make_parser`).

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    ValueError
        ``--model`` is not a seqnet character model, or the text is too short or
        has characters outside the model's vocabulary.
    FileNotFoundError
        No file at ``--model`` or ``--corpus``.
    """
    model = _load_charlm(args.model)
    if _is_stream(model):
        # a stream-trained model's weights, measured as the windowed model is
        model = windows_model(model)
    corpus = _corpus(args)
    if model.metadata.get("lowercase"):
        corpus = corpus.lower()
    vocab = text.vocabulary_of(model)
    if args.unknown == "skip":
        kept = "".join(ch for ch in corpus if ch in vocab)
        if len(kept) < len(corpus):
            print(f"left out {len(corpus) - len(kept):,} characters not in the model's "
                  "vocabulary")
        corpus = kept
    try:
        idx = vocab.encode(corpus)
    except text.UnseenCharactersError as exc:
        raise ValueError(f"{args.corpus or 'the corpus'} has {exc.count} character(s) not "
                         f"in the vocabulary of the model ({exc.distinct} distinct: "
                         f"{exc.listing}); pass --unknown skip to leave them out") from exc
    maxlen = model.metadata["maxlen"]
    if idx.size <= maxlen:
        raise ValueError(f"the text has {idx.size} characters, too few for the "
                         f"model's windows of maxlen={maxlen}")
    X, y = text.char_windows(idx, maxlen, args.step)
    if args.max_windows is not None:
        X, y = X[:args.max_windows], y[:args.max_windows]
    start = time.perf_counter()
    result = model.evaluate(X, y, batch_size=args.batch_size)
    loss = result["loss"]
    print(f"{len(X):,} predictions (windows of {maxlen} every {args.step}) in "
          f"{time.perf_counter() - start:.1f}s")
    print(f"loss: {loss:.4f} nats/char ({loss / LOG2:.4f} bits/char)")
    return 0


def make_parser():
    """The argument parser of the ``seqnet`` command.

    Returns
    -------
    argparse.ArgumentParser
        ``seqnet charlm train | generate | evaluate``; each sub-command sets
        ``func`` to its ``cmd_*`` function.
    """
    parser = argparse.ArgumentParser(prog="seqnet", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    charlm = sub.add_parser("charlm", help="character-level language model")
    csub = charlm.add_subparsers(dest="action", required=True)

    train = csub.add_parser("train", help="train the reference character model")
    train.add_argument("--corpus", help="a text file (default: the bundled Shakespeare)")
    train.add_argument("--encoding", default="utf-8",
                       help="the corpus file's text encoding (default utf-8)")
    train.add_argument("--max-chars", type=positive_int_arg,
                       help="use only the first N characters of the corpus")
    train.add_argument("--epochs", type=positive_int_arg, default=20)
    train.add_argument("--out", default="charlm.npz", help="model file (saved every epoch)")
    train.add_argument("--resume", action="store_true",
                       help="continue training the model in --out if it exists")
    train.add_argument("--seed", type=_count, default=0)
    train.add_argument("--hidden", type=positive_int_arg, default=128)
    train.add_argument("--dropout", type=_fraction, default=0.2)
    train.add_argument("--maxlen", type=positive_int_arg, default=40)
    train.add_argument("--step", type=positive_int_arg, default=3)
    train.add_argument("--batch-size", type=positive_int_arg,
                       help="windows per batch (default 128), or streams in --mode stream "
                            "(default 64)")
    train.add_argument("--mode", choices=["windows", "stream"], default="windows",
                       help="windows: windows of --maxlen every --step, shuffled, the "
                            "next character of each (default); stream: --batch-size "
                            "contiguous streams read in windows of --bptt by a stateful "
                            "LSTM, every character a target (truncated BPTT)")
    train.add_argument("--bptt", type=positive_int_arg,
                       help=f"characters per window in --mode stream, the truncation "
                            f"length of backpropagation (default {DEFAULT_BPTT})")
    train.add_argument("--optimizer", default="rmsprop",
                       choices=["rmsprop", "adam", "sgd", "adagrad"])
    train.add_argument("--lr", type=_positive_float, default=0.01, help="learning rate")
    train.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=True)
    train.add_argument("--validation", type=_fraction, default=0.1,
                       help="fraction of the corpus held out at its end (default 0.1)")
    train.add_argument("--sample-length", type=_count, default=200,
                       help="characters sampled after each epoch (0: none)")
    train.add_argument("--temperatures", type=_temperatures, default=[0.2, 0.5, 1.0])
    train.add_argument("--progress", choices=["auto", "0", "1", "2"], default="auto",
                       help="1: progress bar, 2: a line per epoch, auto: bar on a terminal")
    train.set_defaults(func=cmd_train)

    gen = csub.add_parser("generate", help="generate text from a trained model")
    gen.add_argument("--model", required=True)
    gen.add_argument("--length", type=positive_int_arg, default=400)
    gen.add_argument("--temperature", type=_temperature, default=0.5,
                     help="0 is greedy (argmax); default 0.5")
    gen.add_argument("--top-k", type=positive_int_arg)
    gen.add_argument("--seed-text", help="default: a random window of --corpus")
    gen.add_argument("--corpus", help="where a random seed window comes from")
    gen.add_argument("--encoding", default="utf-8",
                     help="the corpus file's text encoding (default utf-8)")
    gen.add_argument("--seed", type=_count, default=0)
    gen.add_argument("--method", choices=["stream", "window"], default="stream")
    gen.set_defaults(func=cmd_generate)

    ev = csub.add_parser("evaluate", help="mean loss of a model on a text")
    ev.add_argument("--model", required=True)
    ev.add_argument("--corpus", help="a text file (default: the bundled Shakespeare)")
    ev.add_argument("--encoding", default="utf-8",
                    help="the corpus file's text encoding (default utf-8)")
    ev.add_argument("--unknown", choices=["error", "skip"], default="error",
                    help="characters the model's vocabulary lacks: an error (default), "
                         "or left out of the text")
    ev.add_argument("--step", type=positive_int_arg, default=1,
                    help="predict every STEP-th next character (default 1: all)")
    ev.add_argument("--max-windows", type=positive_int_arg)
    ev.add_argument("--batch-size", type=positive_int_arg, default=512)
    ev.set_defaults(func=cmd_evaluate)
    return parser


def main(argv=None):
    """Entry point of the ``seqnet`` command.

    Parameters
    ----------
    argv : list of str, optional
        The command-line arguments; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        The exit status: the command's (0), or 2 after printing an input error or
        an operating-system error (a missing or unreadable file, a bad model or
        text, a full disk, no permission) to stderr as one ``error:`` line.
    """
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
