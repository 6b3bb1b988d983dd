r"""``python -m seqnet.inspect MODEL --text FILE``: how saturated a character model's
gates are, and how the gradient flows back through its windows.

For a model saved by ``seqnet charlm train``, on windows of ``FILE`` (the bundled
corpus when it is not given), it prints for every recurrent layer, direction and
gate the mean activation and the fraction of saturated activations: below 0.1 or
above 0.9 for a sigmoid gate (i, f, o; r, z), ``|x| > 0.9`` for a tanh one (g, n,
and h), and the mean norm of $\partial L_b / \partial h_t$ (and of the LSTM's
$\partial L_b / \partial c_t$) at a few steps ``t`` of the window, ``L_b`` one
window's loss (`seqnet.inspect.state_gradients`, times the batch size: the
model's loss is the batch mean; dropout is on, as in training). ``--plot PATH``
draws both (it needs matplotlib: ``pip install "seqnet[experiments]"``).

Bad arguments, files and texts give an ``error:`` line and the exit status 2.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

from .. import datasets, text
from .._checks import positive_int_arg
from .._io import atomic_write
from ..charlm import check_charlm
from ..saving import load_model
from . import SIGMOID_GATES, saturation, state_gradients, trace

#: formats ``--plot`` writes, by the file's suffix.
PLOT_FORMATS = ("png", "pdf", "svg")


def _figure():
    """A new matplotlib Figure on the Agg canvas (pyplot is left alone)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('--plot needs matplotlib: pip install "seqnet[experiments]" (or '
                          "leave --plot out)") from None
    return Figure(figsize=(10, 4.2), dpi=110)


def _row_label(layer, row):
    k, d = divmod(row, layer.num_directions)
    return f"l{k}" + (" reverse" if d else "")


def measure(model, x, y, batch_size=128):
    r"""Gate saturation and the gradient through time of ``model`` on windows ``x``.

    Parameters
    ----------
    model : Model or Sequential
        A compiled model with recurrent layers (a character model).
    x : ndarray, shape (N, T) or (N, T, F)
        The windows.
    y : ndarray
        Their targets.
    batch_size : int, default 128
        Windows per pass.

    Returns
    -------
    dict
        By the layer's index in ``model.layers``: ``{"layer": repr, "rows":
        [labels], "gates": {label: {gate: stats}}, "grad": {"h": ndarray [rows,
        T], "c": ...}}``; stats as `seqnet.inspect.saturation` gives them (means
        over all windows), and ``grad`` the mean over windows of
        $\lVert \partial L_b / \partial h_t \rVert$ for each state row and step.
    """
    n = len(x)
    results, weights = {}, []
    for start in range(0, n, batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        B = len(xb)
        weights.append(B / n)
        traced = trace(model, xb)
        grads = state_gradients(model, xb, yb)
        for index, tr in traced.items():
            layer = model.layers[index]
            sigmoid = SIGMOID_GATES.get(type(layer).__name__, ())
            relu = getattr(layer, "nonlinearity", "tanh") == "relu"
            res = results.setdefault(index, {"layer": repr(layer), "gates": {}, "grad": {}})
            res["rows"] = [_row_label(layer, r) for r in range(layer.state_rows)]
            for row, label in enumerate(res["rows"]):
                gates = res["gates"].setdefault(label, {})
                for name in layer.trace_names:
                    if name == "c" or (name == "h" and relu):
                        continue
                    stats = saturation(tr[name][row], "sigmoid" if name in sigmoid else "tanh")
                    total = gates.setdefault(name, dict.fromkeys(stats, 0.0))
                    for key, value in stats.items():
                        total[key] += value * B / n
            for name in layer.state_names:
                g = grads[index][name].astype(np.float64) * B   # one window's loss
                norms = np.linalg.norm(g, axis=3).sum(axis=1) / n   # [rows, T]
                res["grad"][name] = res["grad"].get(name, 0.0) + norms
    return results


def _steps_shown(T):
    return sorted(set(np.linspace(0, T - 1, min(T, 6)).round().astype(int).tolist()))


def report(results, log=print):
    """Print `measure`'s results as tables.

    Parameters
    ----------
    results : dict
        As `measure` returns.
    log : callable, default print
        Receives each line.
    """
    for index, res in results.items():
        log(f"layer {index}: {res['layer']}")
        log("  gate saturation (sigmoid gates: fraction < 0.1 and > 0.9; tanh: |x| > 0.9)")
        log(f"  {'row':<12}{'gate':<6}{'mean':>8}{'<0.1':>8}{'>0.9':>8}{'|x|>0.9':>9}")
        for label, gates in res["gates"].items():
            for name, st in gates.items():
                cols = (f"{st['low']:8.3f}{st['high']:8.3f}{'':>9}" if "low" in st
                        else f"{'':>8}{'':>8}{st['saturated']:9.3f}")
                log(f"  {label:<12}{name:<6}{st['mean']:8.3f}{cols}".rstrip())
        T = next(iter(res["grad"].values())).shape[1]
        steps = _steps_shown(T)
        log(f"  gradient through time: mean over windows of ||dL_b/d(state after step t)|| "
            f"(the window's last step is t = {T - 1})")
        log(f"  {'row':<12}{'state':<6}" + "".join(f"{'t=' + str(t):>10}" for t in steps))
        for name, norms in res["grad"].items():
            for row, label in enumerate(res["rows"]):
                log(f"  {label:<12}{name:<6}" + "".join(f"{norms[row, t]:10.2e}" for t in steps))


def plot(results, path):
    """Draw `measure`'s results: the saturated fraction of every gate (left) and the
    gradient norms against ``t`` (right, log scale); written atomically.

    Parameters
    ----------
    results : dict
        As `measure` returns.
    path : str or path-like
        The file; its suffix picks the format (png, pdf or svg).
    """
    fig = _figure()
    left, right = fig.subplots(1, 2)
    labels, low, high = [], [], []
    for index, res in results.items():
        for label, gates in res["gates"].items():
            for name, st in gates.items():
                labels.append(f"L{index} {label} {name}")
                low.append(st.get("low", 0.0))
                high.append(st.get("high", st.get("saturated", 0.0)))
    pos = np.arange(len(labels))
    left.bar(pos, low, color="tab:blue", label="sigmoid < 0.1")
    left.bar(pos, high, bottom=low, color="tab:orange", label="> 0.9 (tanh: |x| > 0.9)")
    left.set_xticks(pos, labels, rotation=60, ha="right", fontsize=7)
    left.set_ylim(0, 1)
    left.set_ylabel("fraction of activations saturated")
    left.legend(fontsize=7)
    for index, res in results.items():
        for name, norms in res["grad"].items():
            for row, label in enumerate(res["rows"]):
                values = norms[row]
                t = np.arange(len(values))
                keep = values > 0   # a log scale cannot draw 0
                right.semilogy(t[keep], values[keep], "-" if name == "h" else "--",
                               label=f"L{index} {label} {name}")
    right.set_xlabel("step t of the window")
    right.set_ylabel(r"mean $\|\partial L_b / \partial s_t\|$")
    right.legend(fontsize=7)
    fig.tight_layout()
    fmt = pathlib.Path(path).suffix.lstrip(".").lower()
    with atomic_write(path) as f:
        fig.savefig(f, format=fmt)


def _windows(args, model):
    corpus = datasets.shakespeare() if args.text is None else \
        datasets.load_text(args.text, encoding=args.encoding)
    if model.metadata.get("lowercase"):
        corpus = corpus.lower()
    vocab = text.vocabulary_of(model)
    if args.unknown == "skip":
        corpus = "".join(ch for ch in corpus if ch in vocab)
    try:
        idx = vocab.encode(corpus)
    except text.UnseenCharactersError as exc:
        raise ValueError(f"{args.text or 'the corpus'} has {exc.count} character(s) not in "
                         f"the vocabulary of the model ({exc.distinct} distinct: "
                         f"{exc.listing}); pass --unknown skip to leave them out") from exc
    maxlen = model.metadata["maxlen"]
    if idx.size <= maxlen:
        raise ValueError(f"the text has {idx.size} characters, too few for the model's "
                         f"windows of maxlen={maxlen}")
    x, y = text.char_windows(idx, maxlen, args.step or maxlen)
    return x[:args.windows], y[:args.windows]


def main(argv=None):
    """The command: ``python -m seqnet.inspect MODEL [--text FILE] [options]``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` when omitted); ``--help`` lists them.

    Returns
    -------
    int
        0, or 2 after an ``error:`` line (bad arguments, a missing or unreadable
        file, a model that is not a character model, a text too short or with
        characters outside its vocabulary, matplotlib missing for ``--plot``).
    """
    p = argparse.ArgumentParser(prog="python -m seqnet.inspect",
                                description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("model", help="a character model saved by 'seqnet charlm train'")
    p.add_argument("--text", help="a text file (default: the bundled Shakespeare)")
    p.add_argument("--encoding", default="utf-8", help="the text file's encoding")
    p.add_argument("--unknown", choices=["error", "skip"], default="error",
                   help="characters outside the model's vocabulary: an error, or left out")
    p.add_argument("--windows", type=positive_int_arg, default=256,
                   help="windows measured (default 256)")
    p.add_argument("--step", type=positive_int_arg,
                   help="characters between windows (default: the window length)")
    p.add_argument("--batch-size", type=positive_int_arg, default=128)
    p.add_argument("--plot", metavar="PATH",
                   help=f"write the figure ({', '.join(PLOT_FORMATS)}, by the suffix)")
    args = p.parse_args(argv)
    try:
        if args.plot is not None:
            fmt = pathlib.Path(args.plot).suffix.lstrip(".").lower()
            if fmt not in PLOT_FORMATS:
                raise ValueError(f"--plot must end in .{', .'.join(PLOT_FORMATS)}, got "
                                 f"{args.plot!r}")
            _figure()   # matplotlib is checked before the work
        model = check_charlm(load_model(args.model), args.model)
        x, y = _windows(args, model)
        print(f"{args.model}: {len(x)} windows of {x.shape[1]} characters from "
              f"{args.text or 'the bundled corpus'}")
        results = measure(model, x, y, args.batch_size)
        report(results)
        if args.plot is not None:
            plot(results, args.plot)
            print(f"wrote {args.plot}")
    except (OSError, ValueError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
