"""Parity of forward(..., trace=True) and seqnet.inspect.state_gradients with what a
PyTorch user writes to get them: a Python loop over ``LSTMCell`` (``GRUCell``,
``RNNCell``) steps keeping every ``h_t`` and ``c_t``, and ``retain_grad()`` on each
of them before ``loss.backward()``.

``h_t.grad`` there is seqnet's dL/dh_t. ``c_t.grad`` is the total derivative,
through ``h_t = o_t * tanh(c_t)`` too, where seqnet's dL/dc_t holds ``h_t`` fixed:
the test checks the relation the inspect module documents,
``c_t.grad = dL/dc_t + dL/dh_t * o_t * (1 - tanh(c_t)^2)``.
"""

import numpy as np
import pytest

import seqnet
from seqnet import inspect

torch = pytest.importorskip("torch")

B, T, I, H = 3, 6, 4, 5
LENGTHS = np.array([4, 6, 2])
CELLS = [("LSTM", {}, "LSTMCell", {}), ("GRU", {}, "GRUCell", {}),
         ("SimpleRNN", {"nonlinearity": "tanh"}, "RNNCell", {"nonlinearity": "tanh"}),
         ("SimpleRNN", {"nonlinearity": "relu"}, "RNNCell", {"nonlinearity": "relu"})]
IDS = ["lstm", "gru", "rnn-tanh", "rnn-relu"]


def _pair(cell, options, torch_cell, torch_options, dtype):
    layer = getattr(seqnet, cell)(H, input_size=I, dtype=dtype, seed=0, **options)
    rng = np.random.default_rng(3)
    layer.load_state_dict({k: rng.uniform(-0.6, 0.6, v.shape)
                           for k, v in layer.params.items()})
    dense = seqnet.Dense(1, dtype=dtype, seed=1)
    model = seqnet.Sequential([layer, dense])
    model.compile(loss="mse")
    model.build((T, I))
    module = getattr(torch.nn, torch_cell)(I, H, **torch_options)
    module = module.double() if dtype == np.float64 else module.float()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(module, name).copy_(torch.from_numpy(np.array(layer.params[name + "_l0"])))
    return model, module


def _torch_loop(cell, model, module, x, y):
    """The PyTorch user's loop: every step's h (and c), each retaining its grad."""
    dense = model.layers[1]
    W = torch.from_numpy(np.array(dense.params["weight"]))
    b = torch.from_numpy(np.array(dense.params["bias"]))
    hs, cs, loss, count = {}, {}, 0.0, int(LENGTHS.sum())
    for r in range(B):
        h = torch.zeros(1, H, dtype=W.dtype)
        c = torch.zeros(1, H, dtype=W.dtype)
        for t in range(LENGTHS[r]):
            xt = torch.from_numpy(x[r:r + 1, t])
            if cell == "LSTM":
                h, c = module(xt, (h, c))
                c.retain_grad()
                cs[r, t] = c
            else:
                h = module(xt, h)
            h.retain_grad()
            hs[r, t] = h
            pred = h @ W.T + b
            loss = loss + ((pred - torch.from_numpy(y[r:r + 1, t])) ** 2).sum() / count
    loss.backward()
    return hs, cs


@pytest.mark.parametrize("cell,options,torch_cell,torch_options", CELLS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_trace_and_state_gradients_match_a_pytorch_cell_loop(cell, options, torch_cell,
                                                             torch_options, dtype):
    model, module = _pair(cell, options, torch_cell, torch_options, dtype)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((B, T, I)).astype(dtype)
    y = rng.standard_normal((B, T, 1)).astype(dtype)
    hs, cs = _torch_loop(cell, model, module, x, y)
    traced = inspect.trace(model, x, lengths=LENGTHS)[0]
    g = inspect.state_gradients(model, x, y, lengths=LENGTHS)[0]
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (1e-4, 1e-5)
    for (r, t), h in hs.items():
        np.testing.assert_allclose(traced["h"][0, r, t], h.detach().numpy()[0], rtol, atol)
        np.testing.assert_allclose(g["h"][0, r, t], h.grad.numpy()[0], rtol, atol)
    for (r, t), c in cs.items():
        np.testing.assert_allclose(traced["c"][0, r, t], c.detach().numpy()[0], rtol, atol)
        tc = np.tanh(traced["c"][0, r, t])
        total = g["c"][0, r, t] + g["h"][0, r, t] * traced["o"][0, r, t] * (1 - tc * tc)
        np.testing.assert_allclose(total, c.grad.numpy()[0], rtol, atol)
    assert len(hs) == LENGTHS.sum() and np.abs(g["h"]).max() > 1e-3
