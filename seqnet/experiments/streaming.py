r"""Streams against windows: the same character model, trained both ways.

The classic Keras character model reads windows of 40 characters taken every 3
and predicts the one after each: every character is read about 13 times per
epoch, and each window's 40 steps give one prediction. Trained on streams
instead (Zaremba et al. 2014, AWD-LSTM), the text is cut into ``B`` contiguous
streams read in windows of ``bptt`` characters, a stateful LSTM carries its
state from one window to the next (truncated backpropagation through time), and
every character is read once and is a target once. This module measures what
that buys, from one command::

    python -m seqnet.experiments.streaming       # about 15 minutes on 2 cores
    python -m seqnet.experiments.streaming --scheduler tcp://host:8786   # on Dask

It trains the reference model (`seqnet.charlm.build_charlm`: LSTM(128),
Dropout 0.2, Dense softmax, RMSprop at 0.01) on the bundled corpus, both ways,
from the same initial weights, on the same training text (the corpus without its
last 10 %), and after every epoch records the training wall time so far and the
held-out loss, measured the same way for both: the character after each window
of 40 characters taken every 3 in the held-out tail, from a zero state (a
stream-trained model's weights run as the windowed model,
`seqnet.charlm.windows_model`). The windowed model trains ``--epochs``
epochs (10); the stream model trains until it has used as much training time
(or ``--max-stream-epochs``). The stream model's own loss, every held-out
character predicted with the state carried, is recorded too.

It writes, into ``--out-dir`` (default ``docs/figures``):

- ``streaming.png``: held-out loss against training wall time, both ways;
- ``streaming.md``: the table of epochs, and the headline: the stream wall time
  needed to reach the loss of the last windowed epoch, and its ratio to the
  windowed wall time (the issue's target: at most 0.25);
- ``streaming.json``: every number.

The figure needs matplotlib: ``pip install "seqnet[experiments]"``. Wall times
are the ``fit`` calls' only (the held-out measurements are not counted), after
the kernels are compiled.
"""

import argparse
import json
import math
import os
import pathlib
import sys
import time

import numpy as np

from .. import _checks, datasets, optim, text
from .._io import atomic_write
from ..charlm import build_charlm, build_stream_charlm, windows_model
from ..distributed import add_cluster_arguments, cluster_client, map_runs

__all__ = ["held_out_loss", "main", "plot", "run", "table"]


def held_out_loss(model, X, y, batch_size=512):
    """The windowed held-out loss of a character model of either kind: the mean
    cross-entropy (nats) of the character after each window, from a zero state.

    Parameters
    ----------
    model : Sequential
        A model of `seqnet.charlm.build_charlm` or of
        `seqnet.charlm.build_stream_charlm` (run as the windowed model with its
        weights).
    X : ndarray of int, shape (n, maxlen)
        Held-out windows (`seqnet.text.char_windows`).
    y : ndarray of int, shape (n,)
        The character after each.
    batch_size : int, default 512
        Windows per forward pass.

    Returns
    -------
    float
        The mean loss in nats per character.
    """
    if getattr(model.layers[0], "return_sequences", False):
        model = windows_model(model)
    return float(model.evaluate(X, y, batch_size=batch_size)["loss"])


def _compile(model, lr):
    opt = optim.RMSprop(learning_rate=lr)
    model.compile("sparse_categorical_crossentropy", opt)
    return model


def _warm_up(vocab_size, hidden, dtype=np.float32):
    """Compile the kernels both ways on throwaway models (not timed)."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, vocab_size, (4, 5))
    _compile(build_charlm(vocab_size, hidden=hidden, dtype=dtype), 0.01).fit(
        x, x[:, -1], batch_size=2, verbose=0)
    _compile(build_stream_charlm(vocab_size, hidden=hidden, dtype=dtype), 0.01).fit(
        x, x, batch_size=2, shuffle=False, verbose=0)


def run(*, max_chars=None, epochs=10, hidden=128, dropout=0.2, lr=0.01, batch_size=128,
        maxlen=40, step=3, stream_batch_size=32, bptt=64, stream_lr=None,
        max_stream_epochs=200, stream_budget=1.0, validation=0.1, seed=0, log=print,
        client=None):
    """Train the reference model with windows and with streams; measure both.

    The two legs are runs of `seqnet.distributed.map_runs`, one after the other:
    the stream leg's time budget is the windowed leg's measured wall time, so it
    cannot start before that is known (and running both at once would share the
    cores whose time they measure).

    Parameters
    ----------
    max_chars : int, optional
        Use only the first ``max_chars`` characters of the bundled corpus.
    epochs : int, default 10
        Windowed epochs; the stream model trains until it has used as much
        training time.
    hidden : int, default 128
        The LSTM's units.
    dropout : float, default 0.2
        The Dropout rate.
    lr : float, default 0.01
        RMSprop's learning rate for the windowed model.
    batch_size : int, default 128
        Windows per batch.
    maxlen, step : int, default 40, 3
        Windows of ``maxlen`` characters every ``step`` (training and held out).
    stream_batch_size : int, default 32
        Streams (the stream model's batch rows).
    bptt : int, default 64
        Characters per stream window.
    stream_lr : float, optional
        RMSprop's learning rate for the stream model; ``lr`` when None.
    max_stream_epochs : int, default 200
        A bound on the stream model's epochs.
    stream_budget : float, default 1.0
        The stream model trains until its wall time reaches this fraction of
        the windowed model's (or ``max_stream_epochs``).
    validation : float, default 0.1
        The held-out fraction at the end of the corpus.
    seed : int, default 0
        Seeds both models (the same initial weights) and the windows' shuffling.
    log : callable, default print
        Called with each leg's lines (one per epoch) when the leg finishes.
    client : distributed.Client, optional
        Run each leg as a task on its Dask cluster (loading the corpus there).
        The losses are the serial run's, bit for bit, for as many epochs; the
        wall times are the worker's, and with them the number of stream epochs
        that fit the budget (fixed when ``max_stream_epochs`` comes first).

    Returns
    -------
    dict
        ``config``; ``initial_loss`` (both models' held-out loss before
        training: the same weights); ``windows`` and ``stream``, each with per-epoch ``seconds``
        (cumulative training wall time), ``loss`` (the windowed held-out loss,
        nats) and ``train_loss``; ``stream["stream_loss"]`` (the held-out tail
        as streams); ``target`` (the last windowed loss), ``stream_seconds_to_target``
        (None if the stream model never reached it) and ``ratio``.

    Raises
    ------
    ValueError
        A bad argument, or a corpus too short for the windows or streams.
    """
    epochs = _checks.positive_int(epochs, "epochs")
    max_stream_epochs = _checks.positive_int(max_stream_epochs, "max_stream_epochs")
    stream_budget = _checks.real(stream_budget, "stream_budget", 0.0, low_open=True)
    validation = _checks.real(validation, "validation", 0.0, 1.0, low_open=True,
                              high_open=True)
    stream_lr = lr if stream_lr is None else stream_lr
    cfg = dict(max_chars=max_chars, validation=validation, maxlen=maxlen, step=step,
               stream_batch_size=stream_batch_size, bptt=bptt)
    d = _data(**cfg)
    V = d["V"]
    config = dict(chars=d["chars"], train_chars=d["train_chars"],
                  held_out_chars=d["held_out_chars"],
                  vocabulary=V, epochs=epochs, hidden=hidden, dropout=dropout, lr=lr,
                  batch_size=batch_size, maxlen=maxlen, step=step,
                  stream_batch_size=stream_batch_size, bptt=bptt, stream_lr=stream_lr,
                  max_stream_epochs=max_stream_epochs, stream_budget=stream_budget,
                  validation=validation, seed=seed,
                  windows_per_epoch=len(d["X"]),
                  stream_batches_per_epoch=len(d["Xs"]) // stream_batch_size,
                  held_out_windows=len(d["Xv"]))
    del d   # each leg loads the data where it runs
    train = dict(hidden=hidden, dropout=dropout, seed=seed, epochs=epochs, lr=lr,
                 batch_size=batch_size, stream_lr=stream_lr,
                 max_stream_epochs=max_stream_epochs)

    def leg(mode, budget):
        out = map_runs(_leg, [(mode, cfg, train, budget)], client=client,
                       describe=lambda job, r: "\n".join(r["lines"]), log=log)[0]
        del out["lines"]
        return out

    windows = leg("windows", None)
    initial = windows.pop("initial")
    target, windows_seconds = windows["loss"][-1], windows["seconds"][-1]
    stream = leg("stream", stream_budget * windows_seconds)
    reached = next((t for t, v in zip(stream["seconds"], stream["loss"], strict=True)
                    if v <= target), None)
    return dict(config=config, initial_loss=initial, windows=windows, stream=stream,
                target=target, windows_seconds=windows_seconds,
                stream_seconds_to_target=reached,
                ratio=None if reached is None else reached / windows_seconds)


def _data(max_chars, validation, maxlen, step, stream_batch_size, bptt):
    """The corpus cut both ways: the training windows ``X, y``, the held-out
    windows ``Xv, yv``, the training streams ``Xs, Ys``, the held-out streams
    ``stream_val`` (None when the tail is too short), the vocabulary size ``V``
    and the sizes."""
    corpus = datasets.shakespeare().lower()
    if max_chars is not None:
        corpus = corpus[:_checks.positive_int(max_chars, "max_chars")]
    vocab = text.CharVocabulary.from_text(corpus, lowercase=True)
    ids = vocab.encode(corpus)
    n_val = int(round(len(ids) * validation))
    train_ids, val_ids = ids[:len(ids) - n_val], ids[len(ids) - n_val:]
    if len(val_ids) <= maxlen:
        raise ValueError(f"the held-out tail has {len(val_ids)} characters, too few for "
                         f"windows of maxlen={maxlen}: raise max_chars or validation")
    X, y = text.char_windows(train_ids, maxlen, step)
    Xv, yv = text.char_windows(val_ids, maxlen, step)
    Xs, Ys = text.stream_arrays(train_ids, stream_batch_size, bptt)
    stream_val = None
    if len(val_ids) >= stream_batch_size * (bptt + 1):
        stream_val = text.stream_arrays(val_ids, stream_batch_size, bptt)
    return dict(X=X, y=y, Xv=Xv, yv=yv, Xs=Xs, Ys=Ys, stream_val=stream_val, V=len(vocab),
                chars=len(ids), train_chars=len(train_ids), held_out_chars=len(val_ids))


def _leg(job):
    """One leg, ``job = (mode, data settings, training settings, budget)``: the
    windowed model trained ``epochs`` epochs (``mode="windows"``), or the stream
    model until its training time reaches ``budget`` seconds or
    ``max_stream_epochs`` (``"stream"``). Loads the corpus and compiles the kernels
    (not timed) where it runs. Returns the leg's per-epoch ``seconds`` (cumulative),
    ``loss``, ``train_loss`` (and ``stream_loss``), its ``lines``, and the windowed
    leg the ``initial`` held-out loss (the stream model starts from the same
    weights)."""
    mode, cfg, t, budget = job
    d = _data(**cfg)
    Xv, yv = d["Xv"], d["yv"]
    _warm_up(d["V"], t["hidden"])
    lines = []
    out = dict(seconds=[], loss=[], train_loss=[])
    total = 0.0
    if mode == "windows":
        model = _compile(build_charlm(d["V"], hidden=t["hidden"], dropout=t["dropout"],
                                      seed=t["seed"]), t["lr"])
        out["initial"] = held_out_loss(model, Xv, yv)
        for e in range(t["epochs"]):
            start = time.perf_counter()
            h = model.fit(d["X"], d["y"], batch_size=t["batch_size"], epochs=1, shuffle=True,
                          verbose=0)
            total += time.perf_counter() - start
            out["seconds"].append(total)
            out["train_loss"].append(h.history["loss"][-1])
            out["loss"].append(held_out_loss(model, Xv, yv))
            lines.append(f"windows epoch {e + 1}: {total:.1f} s, held-out "
                         f"{out['loss'][-1]:.4f} nats")
        out["lines"] = lines
        return out
    out["stream_loss"] = []
    bs = cfg["stream_batch_size"]
    model = _compile(build_stream_charlm(d["V"], hidden=t["hidden"], dropout=t["dropout"],
                                         seed=t["seed"]), t["stream_lr"])
    for e in range(t["max_stream_epochs"]):
        start = time.perf_counter()
        h = model.fit(d["Xs"], d["Ys"], batch_size=bs, epochs=1, shuffle=False, verbose=0)
        total += time.perf_counter() - start
        out["seconds"].append(total)
        out["train_loss"].append(h.history["loss"][-1])
        out["loss"].append(held_out_loss(model, Xv, yv))
        out["stream_loss"].append(None if d["stream_val"] is None else float(
            model.evaluate(*d["stream_val"], batch_size=bs)["loss"]))
        lines.append(f"stream epoch {e + 1}: {total:.1f} s, held-out "
                     f"{out['loss'][-1]:.4f} nats")
        if total >= budget:
            break
    out["lines"] = lines
    return out


def table(results):
    """The results as a Markdown table and the headline.

    Parameters
    ----------
    results : dict
        As `run` returns.

    Returns
    -------
    str
    """
    cfg = results["config"]
    lines = [f"Reference character model (LSTM({cfg['hidden']}), Dropout {cfg['dropout']}, "
             f"RMSprop) on {cfg['train_chars']:,} characters, held-out loss on "
             f"{cfg['held_out_windows']:,} windows of {cfg['maxlen']} every {cfg['step']} "
             f"of the last {cfg['held_out_chars']:,} characters (nats per character, from "
             "a zero state, both models measured the same way).", "",
             f"- windows: {cfg['windows_per_epoch']:,} windows of {cfg['maxlen']} every "
             f"{cfg['step']}, batch {cfg['batch_size']}, lr {cfg['lr']}",
             f"- streams: {cfg['stream_batch_size']} streams, windows of {cfg['bptt']} "
             f"({cfg['stream_batches_per_epoch']:,} batches per epoch), lr {cfg['stream_lr']}",
             "", "| mode | epoch | training wall time (s) | held-out loss (nats) | "
             "held-out bits/char | stream held-out loss (nats) |",
             "|---|---:|---:|---:|---:|---:|",
             f"| both (untrained) | 0 | 0.0 | {results['initial_loss']:.4f} | "
             f"{results['initial_loss'] / math.log(2):.4f} | |"]
    for mode in ("windows", "stream"):
        r = results[mode]
        for e, (s, v) in enumerate(zip(r["seconds"], r["loss"], strict=True)):
            sl = r.get("stream_loss", [None] * len(r["loss"]))[e]
            lines.append(f"| {mode} | {e + 1} | {s:.1f} | {v:.4f} | {v / math.log(2):.4f} | "
                         + ("" if sl is None else f"{sl:.4f}") + " |")
    lines.append("")
    t, w = results["stream_seconds_to_target"], results["windows_seconds"]
    if t is None:
        lines.append(f"The stream model did not reach the windowed model's loss after "
                     f"{cfg['epochs']} epochs ({results['target']:.4f} nats) within "
                     f"{results['config']['stream_budget'] * w:.1f} s of training.")
    else:
        lines.append(f"The stream model reached the loss of {cfg['epochs']} windowed epochs "
                     f"({results['target']:.4f} nats, {w:.1f} s) after {t:.1f} s: "
                     f"**{results['ratio']:.3f}** of the windowed wall time (target: at "
                     "most 0.25).")
    return "\n".join(lines) + "\n"


def _figure():
    """A new matplotlib Figure on the Agg canvas; pyplot is left alone."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('the figures need matplotlib: pip install "seqnet[experiments]"') \
            from None
    return Figure(figsize=(6.4, 4.2), dpi=120)


def plot(results, path):
    """Held-out loss against training wall time, windows and streams, with the
    last windowed loss as a line; saved as a PNG (atomically).

    Parameters
    ----------
    results : dict
        As `run` returns.
    path : str or path-like
        Where to write the PNG.
    """
    cfg = results["config"]
    fig = _figure()
    ax = fig.subplots()
    w, s = results["windows"], results["stream"]
    start = results["initial_loss"]
    ax.plot([0.0, *w["seconds"]], [start, *w["loss"]], "-o", color="tab:blue", ms=4,
            label=f"windows of {cfg['maxlen']} every {cfg['step']}, batch {cfg['batch_size']}")
    ax.plot([0.0, *s["seconds"]], [start, *s["loss"]], "-o", color="tab:orange", ms=3,
            label=f"{cfg['stream_batch_size']} streams, bptt {cfg['bptt']} (stateful)")
    ax.axhline(results["target"], color="gray", ls="--", lw=1,
               label=f"windows after {cfg['epochs']} epochs")
    if results["stream_seconds_to_target"] is not None:
        ax.axvline(results["stream_seconds_to_target"], color="tab:orange", ls=":", lw=1,
                   label=f"streams reach it: {results['ratio']:.2f} of the time")
    ax.set_xlabel("training wall time (s)")
    ax.set_ylabel("held-out loss (nats/char, windowed measure)")
    ax.set_title("Character LSTM: streams against windows")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png")


def main(argv=None):
    """The command: ``python -m seqnet.experiments.streaming [options]``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` when omitted); ``--help`` lists them.

    Returns
    -------
    int
        The exit status: 0, or 2 after an ``error:`` line for bad arguments.
    """
    p = argparse.ArgumentParser(prog="python -m seqnet.experiments.streaming",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", default="docs/figures",
                   help="where streaming.png, streaming.md and streaming.json go")
    p.add_argument("--max-chars", type=int, help="use only the first N corpus characters")
    p.add_argument("--epochs", type=int, default=10, help="windowed epochs (default 10)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=128, help="windows per batch")
    p.add_argument("--maxlen", type=int, default=40)
    p.add_argument("--step", type=int, default=3)
    p.add_argument("--stream-batch-size", type=int, default=32, help="streams")
    p.add_argument("--bptt", type=int, default=64, help="characters per stream window")
    p.add_argument("--stream-lr", type=float, help="default: --lr")
    p.add_argument("--max-stream-epochs", type=int, default=200)
    p.add_argument("--stream-budget", type=float, default=1.0,
                   help="stream training stops at this fraction of the windowed wall "
                        "time (default 1: the same time)")
    p.add_argument("--seed", type=int, default=0)
    add_cluster_arguments(p)
    args = p.parse_args(argv)
    try:
        _figure()  # matplotlib is checked before any training
        out = pathlib.Path(args.out_dir)
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as e:
            raise ValueError(f"cannot create --out-dir {args.out_dir!r}: {e}") from None
        for name in ("hidden", "batch_size", "maxlen", "step", "stream_batch_size", "bptt"):
            _checks.positive_int(getattr(args, name), "--" + name.replace("_", "-"))
        for name in ("lr", "stream_lr"):
            if getattr(args, name) is not None:
                _checks.real(getattr(args, name), "--" + name.replace("_", "-"), 0.0,
                             low_open=True)
        with cluster_client(args.workers, args.scheduler) as client:
            results = run(max_chars=args.max_chars, epochs=args.epochs, hidden=args.hidden,
                          dropout=args.dropout, lr=args.lr, batch_size=args.batch_size,
                          maxlen=args.maxlen, step=args.step,
                          stream_batch_size=args.stream_batch_size, bptt=args.bptt,
                          stream_lr=args.stream_lr,
                          max_stream_epochs=args.max_stream_epochs,
                          stream_budget=args.stream_budget, seed=args.seed, client=client)
    except (ValueError, TypeError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    md = table(results)
    print(md)
    with atomic_write(out / "streaming.md", "w") as f:
        f.write(md)
    with atomic_write(out / "streaming.json", "w") as f:
        json.dump(results, f, indent=1)
    plot(results, out / "streaming.png")
    print(f"wrote {out}/streaming.png, streaming.md, streaming.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
