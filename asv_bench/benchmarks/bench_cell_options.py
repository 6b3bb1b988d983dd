"""Forward and forward+backward time of the cell options (``layer_norm``,
``proj_size``, ``bias=False``, and the layer-normalised and projected cells with the
input and weight dropout they take) next to the plain LSTM and GRU, at the issue's shapes:
(32, 100, 128, 128) and the char-LM's (32, 40, 65, 128). ``layer_norm``'s target is
at most 1.5 times its plain cell's forward+backward (``tools/profile/cell_options.py``
prints the ratios)."""

import numpy as np

import seqnet

SHAPES = ["32,100,128,128", "32,40,65,128"]
#: name: (layer class, keywords); ``proj_size`` is H/2.
SETTINGS = {
    "lstm": (seqnet.LSTM, {}),
    "lstm-layer_norm": (seqnet.LSTM, {"layer_norm": True}),
    "lstm-proj_size": (seqnet.LSTM, {"proj_size": None}),
    "lstm-nobias": (seqnet.LSTM, {"bias": False}),
    "gru": (seqnet.GRU, {}),
    "gru-layer_norm": (seqnet.GRU, {"layer_norm": True}),
    "gru-nobias": (seqnet.GRU, {"bias": False}),
    "rnn-nobias": (seqnet.SimpleRNN, {"bias": False}),
    # the regularisers these cells take (recurrent_dropout and zoneout they refuse)
    "lstm-layer_norm-dropouts": (seqnet.LSTM, {"layer_norm": True, "input_dropout": 0.25,
                                               "weight_dropout": 0.25}),
    "lstm-proj_size-dropouts": (seqnet.LSTM, {"proj_size": None, "input_dropout": 0.25,
                                              "weight_dropout": 0.25}),
    "gru-layer_norm-dropouts": (seqnet.GRU, {"layer_norm": True, "input_dropout": 0.25,
                                             "weight_dropout": 0.25}),
}


class CellOptionSuite:
    """Each setting at each shape, float32 and float64."""

    params = (list(SETTINGS), SHAPES, ["float32", "float64"])
    param_names = ["setting", "B,T,I,H", "dtype"]
    timeout = 300

    def setup(self, setting, shape, dtype):
        B, T, I, H = map(int, shape.split(","))
        cls, options = SETTINGS[setting]
        options = {k: (H // 2 if v is None else v) for k, v in options.items()}
        dt = np.dtype(dtype)
        self.layer = cls(H, input_size=I, dtype=dt, seed=0, **options)
        self.x = np.random.default_rng(0).standard_normal((B, T, I)).astype(dt)
        out = self.layer.forward(self.x, training=True)   # compile (or load) the kernels
        self.dout = np.ones_like(out)
        self.layer.backward(self.dout)

    def time_forward(self, setting, shape, dtype):
        self.layer.forward(self.x)

    def time_forward_backward(self, setting, shape, dtype):
        self.layer.forward(self.x, training=True)
        self.layer.backward(self.dout)

    def peakmem_forward(self, setting, shape, dtype):
        self.layer.forward(self.x)

    def peakmem_forward_backward(self, setting, shape, dtype):
        self.layer.forward(self.x, training=True)
        self.layer.backward(self.dout)
