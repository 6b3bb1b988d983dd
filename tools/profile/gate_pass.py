"""The LSTM forward gate pass alone, per hidden unit, on one thread:
python tools/profile/gate_pass.py [T,B,H ...] [--dtypes float32,float64] [--min-time S].

Runs ``seqnet.kernels.lstm.lstm_gates_forward``, the kernels' own gate pass, for
every step of a sequence (all rows in one block, no recurrent product: ``rec`` is
fixed), and prints its median time and the time per hidden unit and step. The
shapes default to the character model's step and two of its size with the hidden
units spread differently (T=40: B=128 H=128, B=1 H=16384, B=16 H=1024).
"""

import argparse

import numpy as np
from numba import njit

from seqnet import bench
from seqnet._config import JIT_OPTIONS
from seqnet.kernels.lstm import lstm_gates_forward

# compiled afresh each run: numba's cache checks only this file, so a cached
# copy would keep the kernel helpers it inlined from an older checkout.
OPTIONS = {**JIT_OPTIONS, "cache": False}

SHAPES = [(40, 128, 128), (40, 1, 16384), (40, 16, 1024)]


@njit(**OPTIONS)
def gate_pass(gates, rec, b, c, h, out, lengths):
    for t in range(gates.shape[1]):
        lstm_gates_forward(t, lengths, gates, rec, b, c, h, out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = " ".join(",".join(map(str, s)) for s in SHAPES)
    p.add_argument("shapes", nargs="*", help=f"T,B,H (default: {default})")
    p.add_argument("--dtypes", default="float32", help="comma-separated (default float32)")
    p.add_argument("--min-time", type=float, default=0.5,
                   help="seconds of repeats per timing (default 0.5)")
    args = p.parse_args(argv)
    shapes = [tuple(int(v) for v in s.split(",")) for s in args.shapes] or SHAPES
    if any(len(s) != 3 for s in shapes):
        p.error("shapes: expected T,B,H")
    rng = np.random.default_rng(0)
    print("| dtype | T, B, H | ms | ns per hidden unit and step |\n|---|---|---|---|")
    for name in args.dtypes.split(","):
        dt = np.dtype(name).type
        for T, B, H in shapes:
            gates = rng.standard_normal((B, T, 4 * H)).astype(dt)
            rec = rng.standard_normal((B, 4 * H)).astype(dt)
            args_ = (gates, rec, np.zeros(4 * H, dt), np.zeros((B, H), dt),
                     np.zeros((B, H), dt), np.zeros((B, T, H), dt), np.full(B, T, np.int64))
            gate_pass(*args_)   # compile or load
            s = bench._median_time(lambda a=args_: gate_pass(*a), min_time=args.min_time)
            print(f"| {np.dtype(dt).name} | {T}, {B}, {H} | {s * 1e3:.3f} | "
                  f"{s / (T * B * H) * 1e9:.2f} |", flush=True)


if __name__ == "__main__":
    main()
