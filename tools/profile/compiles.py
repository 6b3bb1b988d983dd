"""What a seqnet command compiles: python tools/profile/compiles.py [--json FILE] -- ARGS.

Runs ``python -m seqnet ARGS`` in this process (``seqnet.cli.main``) with numba's
``Dispatcher.compile`` wrapped, and prints, after the command's own output, every
compiled function that ran: its module and name, the signature, whether it was
compiled or loaded from numba's cache, and the seconds it took. A kernel's compile
includes the helpers it calls (numba types them as part of it); the "own" column
takes out the nested compiles listed on their own rows, so the own seconds add up
to the total; "own CPU s" is the compiling thread's CPU time (what a busy machine
changes least). "within" names the outermost function whose compile compiled it.
It also gives each ``Model.fit`` epoch's wall time.

To see a fresh install's figures, empty the cache first (in a working tree:
``find seqnet -name '*.nbi' -o -name '*.nbc' | xargs rm -f``). Example, the README's
first command::

    python tools/profile/compiles.py -- charlm train --max-chars 300000 --epochs 2 \\
        --out /tmp/charlm.npz
"""

import argparse
import json
import pathlib
import sys
import time

# the seqnet of this tree, not an installed one: the compiles measured are its own
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("args", nargs=argparse.REMAINDER,
                        help="the seqnet command's arguments, after --")
    opts = parser.parse_args(argv)
    args = opts.args[1:] if opts.args[:1] == ["--"] else opts.args

    from numba.core import dispatcher

    rows, stack = [], []
    original = dispatcher.Dispatcher.compile

    def compile_(self, sig):
        name = f"{self.py_func.__module__}.{self.py_func.__qualname__}"
        start, cpu = time.perf_counter(), time.thread_time()
        misses = sum(self._cache_misses.values())
        stack.append([name, 0.0, 0.0])
        try:
            return original(self, sig)
        finally:
            _, nested, nested_cpu = stack.pop()
            spent, spent_cpu = time.perf_counter() - start, time.thread_time() - cpu
            if stack:
                stack[-1][1] += spent
                stack[-1][2] += spent_cpu
            compiled = sum(self._cache_misses.values()) > misses
            if compiled or spent > 1e-3:
                rows.append({"function": name, "signature": str(sig), "compiled": compiled,
                             "seconds": spent, "own_seconds": spent - nested,
                             "own_cpu_seconds": spent_cpu - nested_cpu,
                             "within": stack[0][0] if stack else None})

    dispatcher.Dispatcher.compile = compile_

    from seqnet import cli
    from seqnet.model import Model

    epochs = []
    fit = Model.fit

    def timed_fit(self, *a, **k):  # one epoch's wall time per callback call
        from seqnet.callbacks import Callback

        class EpochClock(Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                epochs.append(time.perf_counter() - self.t)

        k["callbacks"] = [EpochClock(), *(k.get("callbacks") or [])]
        return fit(self, *a, **k)

    Model.fit = timed_fit
    start = time.perf_counter()
    status = cli.main(args)
    total = time.perf_counter() - start
    compiled = [r for r in rows if r["compiled"]]
    print(f"\n## Compiles of `python -m seqnet {' '.join(args)}`\n")
    print("| function | signature | compiled / cached | within | s | own s | own CPU s |\n"
          "|---|---|---|---|---|---|---|")
    for r in rows:
        sig = r["signature"] if len(r["signature"]) < 90 else r["signature"][:87] + "..."
        print(f"| {r['function']} | `{sig}` | {'compiled' if r['compiled'] else 'cached'} | "
              f"{r['within'] or '-'} | {r['seconds']:.2f} | {r['own_seconds']:.2f} | "
              f"{r['own_cpu_seconds']:.2f} |")
    own = sum(r["own_seconds"] for r in compiled)
    own_cpu = sum(r["own_cpu_seconds"] for r in compiled)
    print(f"\n{len(compiled)} compiled ({own:.1f} s, {own_cpu:.1f} s of CPU), "
          f"{len(rows) - len(compiled)} loaded from the cache "
          f"({sum(r['own_seconds'] for r in rows if not r['compiled']):.1f} s); "
          f"command {total:.1f} s; epochs: " + ", ".join(f"{e:.1f} s" for e in epochs))
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"args": args, "rows": rows, "epochs": epochs, "total": total}, f,
                      indent=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
