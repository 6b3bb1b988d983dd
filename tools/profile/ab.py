"""seqnet at a git revision against the working tree, in one process, taking turns:
python tools/profile/ab.py REV CELL[,CELL...] [B,T,I,H ...] [--dtypes float32,float64]
[--rounds N] [--min-time S]   (from the repository root; CELL: rnn-tanh, rnn-relu,
lstm, gru, gru-v1).

The revision's ``seqnet/`` is extracted (``git archive``) into a folder of the
temporary directory named after its commit, as the package ``seqnet_old``, so both
versions' layers run in one process, on the same numba thread pool, one after the
other in every round: a noisy machine's slow spell then slows both. The folder is
kept, and with it numba's cache of the revision's kernels: a second run against the
same commit does not compile them again. Prints, per case, the medians of each
version's forward and forward+backward times and the median of the per-round
ratios new / old. The shapes default to the benchmark grid.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import numpy as np


def _git(root, *args):
    return subprocess.run(["git", "-C", root, *args], capture_output=True, check=True).stdout


def extract(root, rev):
    """The folder holding ``rev``'s ``seqnet/`` as ``seqnet_old/``, extracted once per
    commit (atomically: a folder is renamed into place only when complete)."""
    sha = _git(root, "rev-parse", "--verify", f"{rev}^{{commit}}").decode().strip()
    folder = os.path.join(tempfile.gettempdir(), f"seqnet-ab-{sha}")
    if not os.path.isdir(folder):
        tmp = tempfile.mkdtemp(prefix=f"seqnet-ab-{sha[:12]}-partial-")
        subprocess.run(["tar", "-x", "-C", tmp], input=_git(root, "archive", sha, "seqnet"),
                       check=True)
        os.rename(os.path.join(tmp, "seqnet"), os.path.join(tmp, "seqnet_old"))
        try:
            os.rename(tmp, folder)
        except OSError:   # another run put it in place first
            shutil.rmtree(tmp)
    return folder


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rev")
    p.add_argument("cells")
    p.add_argument("shapes", nargs="*")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.1,
                   help="seconds of repeats per timing (default 0.1)")
    args = p.parse_args(argv)
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True,
                          text=True, check=True).stdout.strip()
    sys.path.insert(0, extract(root, args.rev))
    sys.path.insert(0, root)
    import seqnet_old

    import seqnet
    from seqnet import bench, variants

    cells = args.cells.split(",")
    unknown = [cell for cell in cells if cell not in variants.NAMES]
    if unknown:
        p.error(f"unknown cell(s) {unknown}: expected {', '.join(variants.NAMES)}")
    seqnet.set_num_threads(2)
    seqnet_old.set_num_threads(2)
    shapes = ([tuple(int(v) for v in s.split(",")) for s in args.shapes]
              or list(bench.GRID))
    print(f"{args.rev} (old) against the working tree (new), {args.rounds} rounds in turn; "
          "ms, median over rounds; ratio new / old, the median of the rounds' ratios\n")
    print("| cell | dtype | B, T, I, H | fwd old | fwd new | fwd ratio | fwd+bwd old | "
          "fwd+bwd new | fwd+bwd ratio |\n|---|---|---|---|---|---|---|---|---|")
    for cell in cells:
        for name in args.dtypes.split(","):
            dtype = np.dtype(name).type
            for shape in shapes:
                old = bench._seqnet_cell(cell, *shape, dtype, package=seqnet_old)
                new = bench._seqnet_cell(cell, *shape, dtype, package=seqnet)
                cols = []
                for i in (0, 1):
                    a, b = [], []
                    for _ in range(args.rounds):
                        a.append(bench._median_time(old[i], min_time=args.min_time))
                        b.append(bench._median_time(new[i], min_time=args.min_time))
                    ratio = statistics.median(y / x for x, y in zip(a, b, strict=True))
                    cols.append(f"{statistics.median(a) * 1e3:.3f} | "
                                f"{statistics.median(b) * 1e3:.3f} | {ratio:.2f}")
                print(f"| {cell} | {name} | {', '.join(map(str, shape))} | {cols[0]} | "
                      f"{cols[1]} |", flush=True)


if __name__ == "__main__":
    main()
