"""``python -m seqnet.gradcheck``: run the gradient-check suite and print a table.

Exits with status 1 if any tensor's relative error exceeds the tolerance.
"""

import argparse
import sys
import time

from .. import variants
from . import DEFAULT_TOLERANCE, SUITE, run_case


def main(argv=None):
    """Run the suite and print one table row per case.

    Parameters
    ----------
    argv : list of str, optional
        The command-line arguments (``--tolerance``, ``--cell``, ``--mode``);
        ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        The process exit status: 0 if every case passed, else 1.
    """
    parser = argparse.ArgumentParser(
        prog="python -m seqnet.gradcheck",
        description="Check every cell's BPTT gradients against float64 central differences.")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help="largest relative error that passes (default %(default)g)")
    parser.add_argument("--cell", action="append", default=None, choices=variants.NAMES,
                        help="run only cases of this cell (repeatable)")
    parser.add_argument("--mode", choices=["both", "auto", "parallel"], default="both",
                        help="kernels: 'auto' (the suite's small layers run serially, one "
                             "block of rows, BLAS products), 'parallel' (one block per "
                             "thread, packed weights), or 'both' in turn (default)")
    args = parser.parse_args(argv)
    cases = [c for c in SUITE if args.cell is None or c.cell in args.cell]
    if not cases:
        parser.error(f"no case matches --cell {args.cell}")
    print("| case | tensors | worst tensor | max relative error | result |")
    print("|---|---|---|---|---|")
    worst_per_cell = {}
    failures = 0
    start = time.perf_counter()
    modes = ["auto", "parallel"] if args.mode == "both" else [args.mode]
    runs = [(case, mode) for mode in modes for case in cases]
    for case, mode in runs:
        report = run_case(case, mode=mode)
        ok = report.passed(args.tolerance)
        failures += not ok
        err = report.max_error
        worst_per_cell[case.cell] = max(worst_per_cell.get(case.cell, 0.0), err)
        name = case.name if mode == "auto" else f"{case.name} ({mode})"
        print(f"| {name} | {len(report.errors)} | {report.worst} | {err:.2e} | "
              f"{'ok' if ok else 'FAIL'} |", flush=True)
    print()
    print("worst relative error per cell: "
          + ", ".join(f"{c} {e:.2e}" for c, e in worst_per_cell.items()))
    print(f"{len(runs) - failures} passed, {failures} failed "
          f"(tolerance {args.tolerance:g}, {time.perf_counter() - start:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
