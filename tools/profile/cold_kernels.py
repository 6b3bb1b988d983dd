"""How long a fresh process takes to compile the character model's LSTM kernels,
serial and parallel: python tools/profile/cold_kernels.py [--runs N] [--dtype D]
[--modes serial,parallel].

Each run is a new Python process with an empty numba cache (``NUMBA_CACHE_DIR`` a
new temporary folder) that imports seqnet and makes one LSTM forward (training)
and backward at the README command's shape (batch 128, 40 steps, index input over
40 symbols, 128 hidden units), twice, inside ``seqnet._dispatch.parallel_mode``:
``serial`` compiles the serial kernels only, ``parallel`` the parallel ones. The
first call's seconds less the second's are the compile (and first-call) cost of
that path; the modes take turns, ``--runs`` times (default 2).

What it bounds: the README's first epoch cannot be faster than the compile of the
kernels its first step needs. A design that ran the serial kernels on threads of
its own instead of numba's ``prange`` would still compile the serial pair.
"""

import argparse
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import sys, time
import numpy as np
from seqnet import _dispatch
from seqnet.kernels import lstm
B, T, V, H = 128, 40, 40, 128
dt = np.dtype(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.integers(0, V, (B, T))
W_ih = (rng.standard_normal((4 * H, V)) * 0.1).astype(dt)
W_hh = (rng.standard_normal((4 * H, H)) * 0.1).astype(dt)
b = np.zeros(4 * H, dt)
state = (np.zeros((B, H), dt), np.zeros((B, H), dt))
lengths = np.full(B, T, np.int64)

def step():
    out, _, cache = lstm.forward(x, W_ih, W_hh, b, b, state, lengths, training=True)
    return lstm.backward(cache, np.ones_like(out), (np.zeros((B, H), dt),) * 2)

with _dispatch.parallel_mode(sys.argv[1]):
    t0 = time.perf_counter(); step(); t1 = time.perf_counter(); step(); t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.6f}")
"""


def run(mode, dtype):
    """One fresh process: (first call seconds, second call seconds)."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        done = subprocess.run([sys.executable, "-c", CHILD, mode, dtype], env=env,
                              capture_output=True, text=True, check=True)
    first, second = done.stdout.split()[-2:]
    return float(first), float(second)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--modes", default="serial,parallel",
                        help="comma-separated, of serial and parallel")
    opts = parser.parse_args(argv)
    modes = opts.modes.split(",")
    if not modes or set(modes) - {"serial", "parallel"}:
        parser.error(f"--modes takes serial and parallel, got {opts.modes!r}")
    print("| run | kernels | first call s | second call ms | compile s (first - second) |")
    print("|---|---|---|---|---|")
    for k in range(opts.runs):
        for mode in modes:
            first, second = run(mode, opts.dtype)
            print(f"| {k + 1} | {mode} | {first:.2f} | {1000 * second:.2f} | "
                  f"{first - second:.2f} |", flush=True)


if __name__ == "__main__":
    main()
