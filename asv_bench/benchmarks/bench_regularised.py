"""Forward+backward time and peak memory of the regularised cells (issue 15) against
the plain cell, at the issue's two shapes: (32, 100, 128, 128) and the char-LM's
(32, 40, 65, 128). The budget: recurrent dropout and zoneout at most 1.15 times the
plain cell (tools/profile/regularised_overhead.py prints the ratios)."""

import numpy as np

from .common import make

SHAPES = ["32,100,128,128", "32,40,65,128"]
RATE = 0.25
OPTIONS = ["plain", "recurrent_dropout", "zoneout", "cell_zoneout", "input_dropout",
           "weight_dropout", "all"]


def options_of(cell, option):
    """The layer keywords of ``option`` (None: not this cell's, ``cell_zoneout``
    outside the LSTM)."""
    if option == "plain":
        return {}
    if option == "cell_zoneout" and cell != "lstm":
        return None
    if option == "all":
        return {o: RATE for o in OPTIONS[1:-1] if cell == "lstm" or o != "cell_zoneout"}
    return {option: RATE}


class RegularisedSuite:
    """Each regulariser alone, all together, and the plain cell, float32."""

    params = (["lstm", "gru", "rnn-tanh"], SHAPES, OPTIONS)
    param_names = ["cell", "B,T,I,H", "option"]
    timeout = 300

    def setup(self, cell, shape, option):
        kw = options_of(cell, option)
        if kw is None:
            raise NotImplementedError   # asv: skip this combination
        B, T, I, H = map(int, shape.split(","))
        self.layer, self.x, self.dout = make(cell, B, T, I, H, np.dtype("float32"), **kw)

    def time_forward_backward(self, cell, shape, option):
        self.layer.forward(self.x, training=True)
        self.layer.backward(self.dout)

    def peakmem_forward_backward(self, cell, shape, option):
        self.layer.forward(self.x, training=True)
        self.layer.backward(self.dout)

    def time_inference(self, cell, shape, option):
        self.layer.forward(self.x)
