"""A small progress bar for epochs and batches, silent when output is not a terminal.

Built in rather than taken from tqdm: it is one class, and seqnet's runtime
dependencies stay numba, numpy and scipy.
"""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """``  812/2600 [=========>...........] 12s  loss 1.9321`` redrawn in place.

    Parameters
    ----------
    total : int
        Number of steps.
    enabled : bool
        Draw at all; :func:`should_draw` picks the default.
    stream : file, default sys.stdout
    min_interval : float, default 0.1
        Seconds between redraws (the last step is always drawn).
    """

    def __init__(self, total, *, enabled=True, stream=None, width=30, min_interval=0.1):
        self.total = max(int(total), 1)
        self.enabled = enabled
        self.stream = sys.stdout if stream is None else stream
        self.width = width
        self.min_interval = min_interval
        self.start = time.perf_counter()
        self._last = -float("inf")

    def update(self, step, **values):
        """Show ``step`` of ``total`` and ``name value`` pairs (floats to 4 decimals)."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if step < self.total and now - self._last < self.min_interval:
            return
        self._last = now
        done = int(self.width * step / self.total)
        bar = "=" * done + (">" if done < self.width else "") + "." * (self.width - done - 1)
        info = "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                         for k, v in values.items())
        digits = len(str(self.total))
        self.stream.write(f"\r{step:>{digits}}/{self.total} [{bar[:self.width]}] "
                          f"{now - self.start:.0f}s  {info}")
        if step >= self.total:
            self.stream.write("\n")
        self.stream.flush()


def should_draw(verbose, stream=None):
    """Whether a bar is drawn: ``verbose=1`` always, ``"auto"`` only on a terminal."""
    stream = sys.stdout if stream is None else stream
    if verbose == "auto":
        return bool(getattr(stream, "isatty", lambda: False)())
    return verbose == 1
