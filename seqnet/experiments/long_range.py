r"""Long-range memory: the adding problem and the gradient through time.

Texts on recurrent networks say that the vanilla RNN loses long-range
dependencies to vanishing gradients while the LSTM and the GRU keep them. This
module shows it with seqnet, from one command::

    python -m seqnet.experiments.long_range            # about 10 minutes on 2 cores
    python -m seqnet.experiments.long_range --workers 2   # the 45 runs on Dask

It trains `seqnet.SimpleRNN`, `seqnet.LSTM` and `seqnet.GRU`
on the adding problem at growing sequence lengths, with the same budget each
(same hidden size, data, optimiser, learning rate, clipping and number of
steps), over several seeds, and measures the final test MSE. Then it measures the
norm of $\partial L / \partial h_t$ against $t$ for each cell, at
initialisation and after training. It writes, into ``--out-dir`` (default
``docs/figures``):

- ``long_range_mse.png``: final test MSE against sequence length;
- ``long_range_gradients.png``: mean $\lVert \partial L/\partial h_t \rVert$
  against $t$, at initialisation and after training;
- ``long_range.md``: the table of test MSEs; ``long_range.json``: every number.

The figures need matplotlib: ``pip install "seqnet[experiments]"``.

The adding problem (Hochreiter & Schmidhuber 1997; Le, Jaitly & Hinton 2015):
each input step carries two features, a number drawn uniformly from
$[0, 1)$ and a marker that is 1 at exactly two steps, one in each half of
the sequence, and 0 elsewhere. The target is the sum of the two marked numbers.
Predicting the mean, 1, scores the variance of a sum of two uniforms,
$2/12 \approx 0.167$; a network scores less only if it carries the first
marked number across about half the sequence.
"""

import argparse
import json
import math
import os
import pathlib
import sys
import time

import numpy as np

from .. import _checks
from .._io import atomic_write
from ..distributed import add_cluster_arguments, cluster_client, map_runs
from ..inspect import state_gradients
from ..layers import GRU, LSTM, Dense, SimpleRNN
from ..model import Sequential
from ..optim import Adam

#: cells compared, by the names the command and the results use.
CELLS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}

#: MSE of always predicting 1, the mean target: Var(U + U') = 2/12.
BASELINE_MSE = 2.0 / 12.0

#: a run whose final test MSE is below this has solved the task (the baseline
#: is 0.167; a network that adds the two numbers gets within 0.01 of them).
SOLVED_MSE = 0.01


def adding_problem(n, length, rng, dtype=np.float32):
    """Draw ``n`` sequences of the adding problem.

    Parameters
    ----------
    n : int
        Number of sequences, at least 1.
    length : int
        Time steps ``T`` per sequence, at least 2 (one marker in each half).
    rng : numpy.random.Generator
        Source of the numbers and marker positions.
    dtype : {np.float32, np.float64}, default np.float32

    Returns
    -------
    x : ndarray, shape (n, T, 2)
        ``x[:, :, 0]`` uniform in ``[0, 1)``; ``x[:, :, 1]`` the markers: 1 at one
        step in ``[0, T//2)`` and one in ``[T//2, T)``, 0 elsewhere.
    y : ndarray, shape (n, 1)
        The sum of the two marked numbers.

    Raises
    ------
    ValueError
        If ``n < 1`` or ``length < 2``.
    """
    n = _checks.positive_int(n, "n")
    length = _checks.positive_int(length, "length")
    if length < 2:
        raise ValueError(f"length must be at least 2 (one marker in each half), got {length}")
    x = np.zeros((n, length, 2), dtype)
    x[:, :, 0] = rng.random((n, length))
    rows = np.arange(n)
    x[rows, rng.integers(0, length // 2, n), 1] = 1.0
    x[rows, rng.integers(length // 2, length, n), 1] = 1.0
    y = (x[:, :, 0] * x[:, :, 1]).sum(axis=1, keepdims=True)
    return x, y.astype(dtype)


def build_model(cell, hidden, seed, learning_rate=1e-2, clipnorm=1.0):
    """``cell(hidden) -> Dense(1)``, compiled with MSE and Adam.

    Parameters
    ----------
    cell : {"SimpleRNN", "LSTM", "GRU"}
        The recurrent layer (SimpleRNN with tanh; GRU in its default,
        ``reset_after=True`` form).
    hidden : int
        Hidden units ``H``.
    seed : int
        Seeds the initialisation and the shuffling.
    learning_rate : float, default 1e-2
        Adam's step size.
    clipnorm : float, default 1.0
        Adam's ``global_clipnorm``, the same for every cell.

    Returns
    -------
    Sequential
        A compiled model mapping ``(B, T, 2)`` to ``(B, 1)``.
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    model = Sequential([CELLS[cell](hidden, input_size=2, return_sequences=False, seed=seed),
                        Dense(1, seed=seed)], seed=seed)
    model.compile(loss="mse", optimizer=Adam(learning_rate=learning_rate,
                                             global_clipnorm=clipnorm))
    return model


def hidden_state_gradients(model, x, y):
    r"""Mean norm of $\partial L_b / \partial h_t$ for ``t = 0 .. T``.

    ``L_b = (\hat y_b - y_b)^2`` is one sequence's squared error and
    $h_t$ the hidden state after ``t`` steps ($h_0$ the initial
    state): the total derivative through every later step, what BPTT carries
    back. All ``T + 1`` come from one forward and one backward pass,
    `seqnet.inspect.state_gradients` (the model's loss is the mean of ``L_b``
    over the batch, so each row's gradient is scaled by ``B``). For the LSTM it
    is the gradient with respect to $h_t$ with the cell state $c_t$ held fixed,
    and the cell's gradient, with $h_t$ held fixed, is returned too.

    Parameters
    ----------
    model : Sequential
        A recurrent layer with ``return_sequences=False`` and one hidden layer,
        followed by ``Dense(1)`` (as `build_model` makes).
    x : ndarray, shape (B, T, 2)
    y : ndarray, shape (B, 1)

    Returns
    -------
    dh : ndarray of float64, shape (T + 1,)
        ``dh[t]`` is the mean over the batch of $\lVert \partial L_b /
        \partial h_t \rVert_2$.
    dc : ndarray of float64, shape (T + 1,), or None
        The same for the LSTM's cell state; ``None`` for the other cells.

    Raises
    ------
    ValueError
        If the model is not a one-layer recurrent layer followed by a Dense layer.
    """
    layers = model.layers
    if (len(layers) != 2 or not isinstance(layers[1], Dense)
            or type(layers[0]) not in CELLS.values() or layers[0].num_layers != 1
            or layers[0].bidirectional or layers[0].return_sequences):
        raise ValueError("model must be one unidirectional, one-layer recurrent layer with "
                         "return_sequences=False followed by Dense (as build_model makes)")
    rnn = layers[0]
    x = _checks.float_array(x, "x", rnn.dtype)
    y = _checks.float_array(y, "y", rnn.dtype)
    g = state_gradients(model, x, y, loss="mse")[0]
    B = x.shape[0]

    def norms(name):   # [state before step 0, after steps 0 .. T-1] of the one row
        every = np.concatenate([g[name + "0"][0][:, None], g[name][0]], axis=1)
        return np.linalg.norm(B * every.astype(np.float64), axis=2).mean(axis=0)

    return norms("h"), (norms("c") if isinstance(rnn, LSTM) else None)


def run(lengths=(10, 25, 50, 100, 200), seeds=(0, 1, 2), cells=tuple(CELLS), hidden=32,
        epochs=10, train_size=10000, test_size=2000, batch_size=50, learning_rate=1e-2,
        clipnorm=1.0, grad_length=100, grad_batch=500, log=print, client=None):
    """Train every cell at every length and seed; measure the gradients through time.

    Parameters
    ----------
    lengths : sequence of int, default (10, 25, 50, 100, 200)
        Sequence lengths ``T``.
    seeds : sequence of int, default (0, 1, 2)
        One run per seed (data, initialisation and shuffling).
    cells : sequence of str, default all of `CELLS`
    hidden : int, default 32
    epochs, train_size, test_size, batch_size : int
        The budget: ``epochs * train_size / batch_size`` Adam steps on a fixed
        training set; the test set is drawn apart.
    learning_rate, clipnorm : float
        Adam's step and global gradient-norm clip, the same for every cell.
    grad_length : int, default 100
        ``T`` of the gradient measurement, made on the first seed's model before
        and after training (so it must be one of ``lengths``); 0 skips it.
    grad_batch : int, default 500
        Test sequences averaged over in the gradient measurement.
    log : callable, default print
        Receives one line per run (``[k/n]`` and the run, as each finishes).
    client : distributed.Client, optional
        Run the runs as tasks on its Dask cluster (`seqnet.distributed.map_runs`);
        the results are those of the serial run, bit for bit.

    Returns
    -------
    dict
        ``"config"`` (the arguments), ``"mse"``: ``{cell: {str(T): [mse per
        seed]}}``, ``"seconds"`` likewise, and ``"gradients"``: ``{cell: {"init":
        [...], "trained": [...], "init_c"/"trained_c" for the LSTM}}`` with
        ``T + 1`` norms each.
    """
    lengths = [_checks.positive_int(n, "lengths") for n in lengths]
    for value, name in ((hidden, "hidden"), (epochs, "epochs"), (train_size, "train_size"),
                        (test_size, "test_size"), (batch_size, "batch_size"),
                        (grad_batch, "grad_batch")):
        _checks.positive_int(value, name)
    if min(lengths) < 2:
        raise ValueError(f"lengths must be at least 2 (one marker in each half), got "
                         f"{min(lengths)}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    for cell in cells:
        if cell not in CELLS:
            raise ValueError(f"cells must be among {sorted(CELLS)}, got {cell!r}")
    if grad_length and grad_length not in lengths:
        raise ValueError(f"grad_length must be one of lengths {lengths} (or 0), "
                         f"got {grad_length}")
    config = dict(lengths=lengths, seeds=seeds, cells=list(cells), hidden=hidden,
                  epochs=epochs, train_size=train_size, test_size=test_size,
                  batch_size=batch_size, learning_rate=learning_rate, clipnorm=clipnorm,
                  grad_length=grad_length, grad_batch=grad_batch)
    results = dict(config=config, mse={c: {} for c in cells}, seconds={c: {} for c in cells},
                   gradients={c: {} for c in cells})
    jobs = [(T, seed, cell, config) for T in lengths for seed in seeds for cell in cells]
    runs = map_runs(_one_run, jobs, client=client,
                    describe=lambda job, r: r["line"], log=log)
    for (T, _, cell, _), r in zip(jobs, runs, strict=True):
        results["mse"][cell].setdefault(str(T), []).append(r["mse"])
        results["seconds"][cell].setdefault(str(T), []).append(r["seconds"])
        if r["gradients"] is not None:
            results["gradients"][cell] = r["gradients"]
    return results


def _one_run(job):
    """One run of the grid, ``job = (T, seed, cell, config)``: a function of its
    arguments only (its data drawn from ``[seed, T]``), so it runs the same here or
    on a Dask worker. Returns its MSE, seconds, gradients (or None) and log line."""
    T, seed, cell, config = job
    rng = np.random.default_rng([seed, T])
    x_train, y_train = adding_problem(config["train_size"], T, rng)
    x_test, y_test = adding_problem(config["test_size"], T, rng)
    model = build_model(cell, config["hidden"], seed, config["learning_rate"],
                        config["clipnorm"])
    model.build((T, 2))
    grad_batch = config["grad_batch"]
    measure = T == config["grad_length"] and seed == config["seeds"][0]
    if measure:
        init = hidden_state_gradients(model, x_test[:grad_batch], y_test[:grad_batch])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=config["batch_size"], epochs=config["epochs"],
              verbose=0)
    seconds = time.perf_counter() - start
    mse = float(model.evaluate(x_test, y_test, batch_size=500)["loss"])
    gradients = None
    if measure:
        trained = hidden_state_gradients(model, x_test[:grad_batch], y_test[:grad_batch])
        gradients = {"init": init[0].tolist(), "trained": trained[0].tolist()}
        if init[1] is not None:
            gradients["init_c"], gradients["trained_c"] = (init[1].tolist(),
                                                           trained[1].tolist())
    return {"mse": mse, "seconds": seconds, "gradients": gradients,
            "line": f"T={T:4d} seed={seed} {cell:9s} test MSE {mse:.5f}  ({seconds:.1f} s)"}


def table(results):
    """The markdown table of final test MSEs: one row per length, one column per cell.

    Parameters
    ----------
    results : dict
        As `run` returns.

    Returns
    -------
    str
        Each cell of the table is the mean over seeds, the range over seeds in
        brackets, and how many seeds solved the task (MSE < `SOLVED_MSE`).
    """
    cells = results["config"]["cells"]
    n = len(results["config"]["seeds"])
    lines = ["| T | " + " | ".join(cells) + " |", "|---:|" + "---|" * len(cells)]
    for T in results["config"]["lengths"]:
        row = []
        for cell in cells:
            v = np.asarray(results["mse"][cell][str(T)])
            row.append(f"{v.mean():.4f} [{v.min():.4f}, {v.max():.4f}] "
                       f"{int((v < SOLVED_MSE).sum())}/{n}")
        lines.append(f"| {T} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _figure():
    """A new matplotlib Figure on the Agg canvas; pyplot and the caller's backend are
    left alone."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('the figures need matplotlib: pip install "seqnet[experiments]"') \
            from None
    return Figure(figsize=(6.4, 4.2), dpi=120)


_COLOURS = {"SimpleRNN": "tab:red", "LSTM": "tab:blue", "GRU": "tab:green",
            "LSTM c": "tab:purple"}


def plot_mse(results, path):
    """Final test MSE against sequence length, one line per cell (mean over seeds,
    each seed a dot), with the predict-the-mean baseline; saved as a PNG.

    Parameters
    ----------
    results : dict
        As `run` returns.
    path : str or path-like
        Where to write the PNG (atomically).
    """
    cfg = results["config"]
    fig = _figure()
    ax = fig.subplots()
    for cell in cfg["cells"]:
        lengths = cfg["lengths"]
        values = [results["mse"][cell][str(T)] for T in lengths]
        ax.plot(lengths, [np.mean(v) for v in values], "-o", color=_COLOURS[cell], label=cell)
        for T, v in zip(lengths, values, strict=True):
            ax.scatter([T] * len(v), v, s=12, color=_COLOURS[cell], alpha=0.45)
    ax.axhline(BASELINE_MSE, color="gray", ls="--", lw=1, label="predict the mean (0.167)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(cfg["lengths"], [str(T) for T in cfg["lengths"]])
    ax.minorticks_off()
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("final test MSE")
    ax.set_title(f"Adding problem: H={cfg['hidden']}, {cfg['epochs']} epochs of "
                 f"{cfg['train_size']} sequences, {len(cfg['seeds'])} seeds")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def plot_gradients(results, path):
    r"""Mean $\lVert \partial L/\partial h_t \rVert$ against ``t`` for each cell,
    at initialisation (dashed) and after training (solid), on one log-scale plot;
    for the LSTM also $\lVert \partial L/\partial c_t \rVert$ (zero at
    ``t = T``, where the loss reads only ``h_T``, so that point is not drawn).

    Parameters
    ----------
    results : dict
        As `run` returns, with a gradient measurement.
    path : str or path-like
        Where to write the PNG (atomically).
    """
    cfg = results["config"]
    fig = _figure()
    ax = fig.subplots()
    for cell in cfg["cells"]:
        g = results["gradients"][cell]
        t = np.arange(len(g["init"]))
        ax.semilogy(t, g["init"], "--", color=_COLOURS[cell], lw=1.2,
                    label=f"{cell}, at initialisation")
        ax.semilogy(t, g["trained"], "-", color=_COLOURS[cell], lw=1.6,
                    label=f"{cell}, after training")
        if "init_c" in g:  # the LSTM's cell state: its long-range path
            ax.semilogy(t[:-1], g["init_c"][:-1], "--", color=_COLOURS["LSTM c"], lw=1.2,
                        label=r"LSTM $c_t$, at initialisation")
            ax.semilogy(t[:-1], g["trained_c"][:-1], "-", color=_COLOURS["LSTM c"], lw=1.6,
                        label=r"LSTM $c_t$, after training")
    ax.set_xlabel("time step t (the loss is at t = T)")
    ax.set_ylabel(r"mean $\|\partial L / \partial h_t\|$")
    ax.set_title(f"Gradient through time, adding problem T={cfg['grad_length']}, "
                 f"H={cfg['hidden']}")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path):
    with atomic_write(path) as f:
        fig.savefig(f, format="png")


def main(argv=None):
    """The command: ``python -m seqnet.experiments.long_range [options]``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` when omitted); ``--help`` lists them.

    Returns
    -------
    int
        The exit status: 0, or 2 after an ``error:`` line for bad arguments.
    """
    p = argparse.ArgumentParser(prog="python -m seqnet.experiments.long_range",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", default="docs/figures",
                   help="where the figures, long_range.md and long_range.json go")
    p.add_argument("--lengths", type=int, nargs="+", default=[10, 25, 50, 100, 200])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS))
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--test-size", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--clipnorm", type=float, default=1.0)
    p.add_argument("--grad-length", type=int, default=100,
                   help="T of the gradient measurement (one of --lengths; 0 skips it)")
    add_cluster_arguments(p)
    args = p.parse_args(argv)
    try:
        _figure()  # matplotlib is checked before any training
        out = pathlib.Path(args.out_dir)
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as e:
            raise ValueError(f"cannot create --out-dir {args.out_dir!r}: {e}") from None
        start = time.perf_counter()
        with cluster_client(args.workers, args.scheduler) as client:
            results = run(args.lengths, args.seeds, args.cells, args.hidden, args.epochs,
                          args.train_size, args.test_size, args.batch_size, args.lr,
                          args.clipnorm, args.grad_length, client=client)
    except (ValueError, TypeError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results["seconds_total"] = time.perf_counter() - start
    md = table(results)
    print(md)
    with atomic_write(out / "long_range.md", "w") as f:
        f.write(md)
    with atomic_write(out / "long_range.json", "w") as f:
        json.dump(results, f, indent=1)
    plot_mse(results, out / "long_range_mse.png")
    if args.grad_length:
        plot_gradients(results, out / "long_range_gradients.png")
    print(f"wrote {out}/long_range_mse.png, long_range_gradients.png, long_range.md, "
          f"long_range.json in {math.ceil(results['seconds_total'])} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
