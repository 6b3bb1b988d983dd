"""seqnet's recurrent dropout against Keras's: python
tools/profile/keras_recurrent_dropout.py [--shapes B,T,I,H ...] [--dtype float32]
[--rate 0.25] [--rounds N] [--min-time S].

Keras 3 on its PyTorch backend (``KERAS_BACKEND=torch``, set before Keras is first
imported, as tests/parity/keras_oracle.py does): ``keras.layers.LSTM(H,
return_sequences=True)`` with and without ``recurrent_dropout=RATE``, a training
forward (``layer(x, training=True)``) and its backward through torch's autograd
(``out.backward(dout)``, the gradients of the weights and of x), timed in rounds
(each layer at least ``--min-time`` seconds a round, taking turns; the median over
rounds). seqnet's ``LSTM`` plain and with ``recurrent_dropout=RATE`` is timed the
same way by tools/profile/regularised_overhead.py, in a process of its own: two
frameworks' thread pools in one process disturb each other (docs/performance.md).
Run from the repository root with both OPENBLAS variables unset.

Prints one markdown table, per shape: Keras's plain and recurrent-dropout
milliseconds and their ratio (what recurrent dropout costs Keras: it leaves the
fused path for a per-step loop), seqnet's, and the ratio seqnet recurrent_dropout /
Keras recurrent_dropout (below 1: seqnet is faster).
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent


def shape_arg(text):
    parts = tuple(int(v) for v in text.split(","))
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(f"a shape is B,T,I,H, got {text!r}")
    return parts


def keras_times(shapes, dtype, rate, rounds, min_time, threads):
    """``{shape: {"plain": s, "recurrent_dropout": s}}``: Keras's median seconds per
    training forward + backward."""
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    import torch

    if keras.backend.backend() != "torch":
        raise RuntimeError(f"Keras runs on {keras.backend.backend()}, not torch: it was "
                           "imported before KERAS_BACKEND was set")
    torch.set_num_threads(threads)
    out = {}
    for shape in shapes:
        B, T, I, H = shape
        rng = np.random.default_rng(0)
        x = torch.tensor(rng.standard_normal((B, T, I)).astype(dtype), requires_grad=True)
        dout = torch.tensor(rng.standard_normal((B, T, H)).astype(dtype))
        layers = {"plain": keras.layers.LSTM(H, return_sequences=True, dtype=dtype, seed=0),
                  "recurrent_dropout": keras.layers.LSTM(H, return_sequences=True,
                                                         recurrent_dropout=rate, dtype=dtype,
                                                         seed=0)}

        def step(layer, x=x, dout=dout):
            y = layer(x, training=True)
            y.backward(dout)

        for layer in layers.values():
            step(layer)                  # builds the weights
        times = {name: [] for name in layers}
        for _ in range(rounds):
            for name, layer in layers.items():
                n, start = 0, time.perf_counter()
                while True:
                    step(layer)
                    n += 1
                    elapsed = time.perf_counter() - start
                    if elapsed >= min_time:
                        break
                times[name].append(elapsed / n)
        out[shape] = {name: statistics.median(ts) for name, ts in times.items()}
    return out


def seqnet_times(shapes, dtype, rate, rounds, min_time, threads):
    """The same from regularised_overhead.py, run in a process of its own."""
    cmd = [sys.executable, str(HERE / "regularised_overhead.py"), "--cells", "lstm",
           "--options", "recurrent_dropout", "--dtype", dtype, "--rate", str(rate),
           "--rounds", str(rounds), "--min-time", str(min_time), "--threads", str(threads),
           "--shapes", *[",".join(map(str, s)) for s in shapes]]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out = {}
    for line in done.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] == "lstm":
            shape = tuple(int(v) for v in cells[2].split(","))
            out.setdefault(shape, {})[cells[1]] = float(cells[3]) / 1e3
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", nargs="+", type=shape_arg,
                   default=[(32, 100, 128, 128), (32, 40, 65, 128)])
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--rate", type=float, default=0.25)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--min-time", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    ours = seqnet_times(args.shapes, args.dtype, args.rate, args.rounds, args.min_time,
                        args.threads)
    theirs = keras_times(args.shapes, args.dtype, args.rate, args.rounds, args.min_time,
                         args.threads)
    print(f"LSTM, {args.dtype}, {args.threads} threads, recurrent_dropout={args.rate}, "
          f"training forward + backward, median of {args.rounds} rounds")
    print()
    print("| B, T, I, H | Keras plain ms | Keras recurrent_dropout ms | Keras ratio | "
          "seqnet plain ms | seqnet recurrent_dropout ms | seqnet ratio | "
          "seqnet / Keras recurrent_dropout |")
    print("|---|---|---|---|---|---|---|---|")
    for shape in args.shapes:
        k, s = theirs[shape], ours[shape]
        print(f"| {', '.join(map(str, shape))} | {1e3 * k['plain']:.3f} | "
              f"{1e3 * k['recurrent_dropout']:.3f} | "
              f"{k['recurrent_dropout'] / k['plain']:.3f} | {1e3 * s['plain']:.3f} | "
              f"{1e3 * s['recurrent_dropout']:.3f} | "
              f"{s['recurrent_dropout'] / s['plain']:.3f} | "
              f"{s['recurrent_dropout'] / k['recurrent_dropout']:.3f} |")


if __name__ == "__main__":
    main()
