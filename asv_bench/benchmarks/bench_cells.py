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


def _cold_run(code):
    """Wall seconds of ``code`` in a fresh process with an empty numba cache, and what
    it printed last."""
    import os
    import subprocess
    import sys
    import tempfile
    import time

    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                              capture_output=True, text=True)
        return time.perf_counter() - start, done.stdout.strip().splitlines()[-1:]


def track_compile_seconds():
    """Seconds to compile the serial kernels of the three cells (a tiny forward and
    backward of each, float32) from nothing, in a fresh process without cache."""
    code = ("import numpy as np, seqnet\n"
            "for cls in (seqnet.SimpleRNN, seqnet.LSTM, seqnet.GRU):\n"
            "    l = cls(4, input_size=3, seed=0)\n"
            "    o = l.forward(np.ones((2, 3, 3), np.float32), training=True)\n"
            "    l.backward(np.ones_like(o))\n")
    return _cold_run(code)[0]


track_compile_seconds.unit = "seconds"
# asv's default 60 s timeout: the cold compile took 58 s in session 4 and ran past
# 60 s in session 5 (more kernel code: the SimpleRNN's in-loop dW_hh).
track_compile_seconds.timeout = 300

#: what the README's first command compiles before and during its first epoch: the
#: reference model's training step (the parallel LSTM kernels at batch 128, index
#: input), an evaluation, and a generated character (the serial forward, batch 1);
#: prints how many function specialisations numba compiled.
CHARLM_FIRST_RUN = """
from numba.core import dispatcher
compiled = []
original = dispatcher.Dispatcher.compile
def compile_(self, sig):
    misses = sum(self._cache_misses.values())
    try:
        return original(self, sig)
    finally:
        if sum(self._cache_misses.values()) > misses:
            compiled.append(sig)
dispatcher.Dispatcher.compile = compile_
import numpy as np, seqnet
from seqnet.charlm import build_charlm
from seqnet.generate import generate_text
seqnet.set_num_threads(2)
rng = np.random.default_rng(0)
x, y = rng.integers(0, 40, size=(128, 40)), rng.integers(0, 40, size=128)
model = build_charlm(40, seed=0)
model.compile("sparse_categorical_crossentropy", seqnet.optim.RMSprop(learning_rate=0.01))
model.metadata = {"vocabulary": seqnet.text.CharVocabulary.from_text(
    "abcdefghijklmnopqrstuvwxyz .,;:!?'-\\n&[]ABC"[:40]).to_config(), "maxlen": 40}
model.train_on_batch(x, y)
model.evaluate(x, y, batch_size=128)
generate_text(model, "abcdefghij" * 4, 2, temperature=0.5, seed=0)
print(len(compiled))
"""


def track_compile_charlm_seconds():
    """Seconds a fresh install spends before the reference model's first steps
    (issue 17's cold start): :data:`CHARLM_FIRST_RUN` in a fresh process without
    cache, import and data included (a second of it)."""
    return _cold_run(CHARLM_FIRST_RUN)[0]


track_compile_charlm_seconds.unit = "seconds"
track_compile_charlm_seconds.timeout = 300


def track_compile_charlm_specialisations():
    """Function specialisations numba compiles for :data:`CHARLM_FIRST_RUN`: a count
    the machine's load cannot change (105 before the session-8 cuts, 56 after, 54
    after session 10's)."""
    return int(_cold_run(CHARLM_FIRST_RUN)[1][0])


track_compile_charlm_specialisations.unit = "specialisations"
track_compile_charlm_specialisations.timeout = 300
