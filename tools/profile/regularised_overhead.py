"""What the regularisers cost: python tools/profile/regularised_overhead.py
[--cells lstm,gru,rnn-tanh] [--shapes B,T,I,H ...] [--options ...] [--dtype float32]
[--rate 0.25] [--rounds N] [--min-time S].

For each cell and shape, one layer per option (the plain cell, then each regulariser
alone at ``--rate``, then all of them together), every one with the same weights. A
training forward plus its backward (``layer.forward(x, training=True)`` and
``layer.backward(dout)``, float input) is timed in rounds: in each round every
option runs for at least ``--min-time`` seconds, the options taking turns, and the
median over rounds of the milliseconds per forward+backward is printed with its
ratio to the plain cell's. The issue's budget: recurrent dropout and zoneout at
most 1.15 times the plain cell at (32, 100, 128, 128) and at the char-LM shape (32,
40, 65, 128), the defaults. Run from the repository root with both OPENBLAS
variables unset, as the benchmarks are (tools/profile/README.md).

Prints one markdown table: | cell | option | B, T, I, H | ms fwd+bwd | ratio to plain |.
"""

import argparse
import statistics
import time

import numpy as np

import seqnet
from seqnet import variants

#: every option the script can time; "all" is every regulariser the cell takes.
OPTIONS = ("plain", "recurrent_dropout", "zoneout", "cell_zoneout", "input_dropout",
           "weight_dropout", "all")


def options_of(cell, option, rate):
    """The constructor keywords of ``option`` for ``cell`` (None: not this cell's)."""
    lstm = variants.get(cell).layer is seqnet.LSTM
    if option == "plain":
        return {}
    if option == "cell_zoneout" and not lstm:
        return None
    if option == "all":
        names = [o for o in OPTIONS[1:-1] if lstm or o != "cell_zoneout"]
        return {n: rate for n in names}
    return {option: rate}


def shape_arg(text):
    parts = tuple(int(v) for v in text.split(","))
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(f"a shape is B,T,I,H, got {text!r}")
    return parts


def time_layers(layers, x, dout, rounds, min_time):
    """Median seconds per forward+backward of each layer, taking turns in each round."""
    times = {name: [] for name in layers}
    for layer in layers.values():                 # compile or load the kernels
        layer.forward(x, training=True)
        layer.backward(dout)
    for _ in range(rounds):
        for name, layer in layers.items():
            n, start = 0, time.perf_counter()
            while True:
                layer.forward(x, training=True)
                layer.backward(dout)
                n += 1
                elapsed = time.perf_counter() - start
                if elapsed >= min_time:
                    break
            times[name].append(elapsed / n)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", default="lstm,gru,rnn-tanh")
    p.add_argument("--shapes", nargs="+", type=shape_arg,
                   default=[(32, 100, 128, 128), (32, 40, 65, 128)])
    p.add_argument("--options", default=",".join(OPTIONS))
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--rate", type=float, default=0.25)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    seqnet.set_num_threads(args.threads)
    dtype = np.dtype(args.dtype)
    options = args.options.split(",")
    unknown = [o for o in options if o not in OPTIONS]
    if unknown:
        p.error(f"unknown options {unknown}; choose from {OPTIONS}")
    if "plain" not in options:
        options.insert(0, "plain")
    print(f"{args.dtype}, {args.threads} threads, rate {args.rate}, {args.rounds} rounds of "
          f">= {args.min_time} s per option, training forward + backward")
    print()
    print("| cell | option | B, T, I, H | ms fwd+bwd | ratio to plain |")
    print("|---|---|---|---|---|")
    for cell in args.cells.split(","):
        variant = variants.get(cell)
        for shape in args.shapes:
            B, T, I, H = shape
            rng = np.random.default_rng(0)
            x = rng.standard_normal((B, T, I)).astype(dtype)
            dout = rng.standard_normal((B, T, H)).astype(dtype)
            layers = {}
            for option in options:
                kw = options_of(cell, option, args.rate)
                if kw is None:
                    continue
                layer = variant.make(H, input_size=I, dtype=dtype, seed=0, **kw)
                layers[option] = layer
            med = time_layers(layers, x, dout, args.rounds, args.min_time)
            for option, sec in med.items():
                print(f"| {cell} | {option} | {B}, {T}, {I}, {H} | {1e3 * sec:.3f} | "
                      f"{sec / med['plain']:.3f} |")


if __name__ == "__main__":
    main()
