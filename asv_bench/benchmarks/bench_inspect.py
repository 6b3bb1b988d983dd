"""The cost of introspection: a forward with ``trace=True`` against a plain one, and
`seqnet.inspect.state_gradients` (every dL/dh_t from one backward) against one
training step of the same model (the ratio is what a trace costs)."""

import numpy as np

import seqnet
from seqnet import inspect

SHAPES = ["32,100,128,128"]
CELLS = ["LSTM", "GRU", "SimpleRNN"]


class InspectSuite:
    """(batch, time, input, hidden) for each cell, float32."""

    params = (CELLS, SHAPES)
    param_names = ["cell", "B,T,I,H"]
    timeout = 300

    def setup(self, cell, shape):
        B, T, I, H = map(int, shape.split(","))
        rng = np.random.default_rng(0)
        self.layer = getattr(seqnet, cell)(H, input_size=I, seed=0)
        self.model = seqnet.Sequential([self.layer, seqnet.Dense(1, seed=0)])
        self.model.compile(loss="mse", optimizer="sgd")
        self.x = rng.standard_normal((B, T, I)).astype(np.float32)
        self.y = rng.standard_normal((B, T, 1)).astype(np.float32)
        # warm every kernel (compilation is not timed)
        self.layer.forward(self.x, trace=True)
        inspect.state_gradients(self.model, self.x, self.y)
        self.model.train_on_batch(self.x, self.y)

    def time_forward(self, cell, shape):
        self.layer.forward(self.x)

    def time_forward_trace(self, cell, shape):
        self.layer.forward(self.x, trace=True)

    def time_train_step(self, cell, shape):
        self.model.train_on_batch(self.x, self.y)

    def time_state_gradients(self, cell, shape):
        inspect.state_gradients(self.model, self.x, self.y)

    def peakmem_forward_trace(self, cell, shape):
        self.layer.forward(self.x, trace=True)

    def peakmem_state_gradients(self, cell, shape):
        inspect.state_gradients(self.model, self.x, self.y)
