"""Forward and forward+backward time and peak memory of every cell."""

import numpy as np

from seqnet import variants

from .common import make

SHAPES = ["1,100,64,64", "32,100,128,128"]


class CellSuite:
    """(batch, time, input, hidden) grid for each cell and dtype."""

    params = (list(variants.NAMES), SHAPES, ["float32", "float64"])
    param_names = ["cell", "B,T,I,H", "dtype"]
    timeout = 300

    def setup(self, cell, shape, dtype):
        B, T, I, H = map(int, shape.split(","))
        self.layer, self.x, self.dout = make(cell, B, T, I, H, np.dtype(dtype))

    def time_forward(self, cell, shape, dtype):
        self.layer.forward(self.x)

    def time_forward_backward(self, cell, shape, dtype):
        self.layer.forward(self.x, training=True)
        self.layer.backward(self.dout)

    def peakmem_forward(self, cell, shape, dtype):
        self.layer.forward(self.x)

    def peakmem_forward_backward(self, cell, shape, dtype):
        self.layer.forward(self.x, training=True)
        self.layer.backward(self.dout)


def track_compile_seconds():
    """Seconds to compile every kernel from nothing, in a fresh process without cache."""
    import os
    import subprocess
    import sys
    import tempfile
    import time

    code = ("import numpy as np, seqnet\n"
            "for cls in (seqnet.SimpleRNN, seqnet.LSTM, seqnet.GRU):\n"
            "    l = cls(4, input_size=3, seed=0)\n"
            "    o = l.forward(np.ones((2, 3, 3), np.float32), training=True)\n"
            "    l.backward(np.ones_like(o))\n")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        return time.perf_counter() - start


track_compile_seconds.unit = "seconds"
# asv's default 60 s timeout: the cold compile took 58 s in session 4 and ran past
# 60 s in session 5 (more kernel code: the SimpleRNN's in-loop dW_hh).
track_compile_seconds.timeout = 300
