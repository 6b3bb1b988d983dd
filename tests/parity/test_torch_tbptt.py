"""Truncated backpropagation through time against PyTorch's idiom.

PyTorch users carry the state across chunks by hand and cut the gradient with
``detach()``::

    state = None
    for chunk in chunks:
        out, state = module(chunk, state)
        loss(out).backward()
        state = state.detach()       # (a tuple (h, c) for the LSTM)

A seqnet layer built with ``stateful=True`` does the same by itself: each
forward starts from the previous one's final state, and the gradient stops
there. With the same weights and upstream gradients, every chunk's output, input
gradient and parameter gradients, and the parameter gradients summed over the
chunks (what torch accumulates in ``.grad``), agree: float64 within 1e-10 and
float32 within 1e-5 (the bound of tests/parity/test_torch.py; three chunks of
four steps keep the float32 error near 1e-6).
"""

import numpy as np
import pytest

import seqnet

torch = pytest.importorskip("torch")

#: batch rows, input features, hidden units; chunk boundaries of a 12-step stream.
B, I, H = 3, 4, 5
CUTS = (0, 4, 7, 12)
CELLS = {"lstm": (seqnet.LSTM, "LSTM"), "gru": (seqnet.GRU, "GRU"),
         "rnn": (seqnet.SimpleRNN, "RNN")}
TOL = {np.float64: 1e-10, np.float32: 1e-5}


def _pair(cell, num_layers, dtype):
    cls, name = CELLS[cell]
    module = getattr(torch.nn, name)(I, H, num_layers=num_layers, batch_first=True)
    module = module.double() if dtype == np.float64 else module.float()
    rng = np.random.default_rng(0)
    k = 1.0 / np.sqrt(H)
    with torch.no_grad():
        for pname, p in module.named_parameters():
            scale = 0.5 if pname.startswith("bias") else k   # non-zero biases
            p.copy_(torch.from_numpy(rng.uniform(-scale, scale, tuple(p.shape))))
    layer = cls(H, input_size=I, num_layers=num_layers, stateful=True, dtype=dtype)
    layer.load_state_dict({n: v.numpy() for n, v in module.state_dict().items()})
    return module, layer


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_stateful_chunks_match_torch_with_the_state_detached(cell, num_layers, dtype):
    module, layer = _pair(cell, num_layers, dtype)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, CUTS[-1], I)).astype(dtype)
    douts = [rng.standard_normal((B, b - a, H)).astype(dtype)
             for a, b in zip(CUTS[:-1], CUTS[1:], strict=True)]
    tol = TOL[dtype]
    module.zero_grad()
    state = None
    summed = {}
    before = {n: np.zeros(tuple(p.shape), dtype) for n, p in module.named_parameters()}
    for (a, b), dout in zip(zip(CUTS[:-1], CUTS[1:], strict=True), douts, strict=True):
        xt = torch.tensor(x[:, a:b], requires_grad=True)
        out_t, state = module(xt, state)
        (out_t * torch.from_numpy(dout)).sum().backward()
        state = tuple(s.detach() for s in state) if cell == "lstm" else state.detach()
        out = layer.forward(x[:, a:b], training=True)
        dx = layer.backward(dout)
        np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=tol, atol=tol)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=tol, atol=tol)
        for n, p in module.named_parameters():
            total = p.grad.numpy()
            # this chunk's own gradient: torch's running sum minus the one before
            np.testing.assert_allclose(layer.grads[n], total - before[n], rtol=tol,
                                       atol=tol * max(1.0, np.abs(total).max()))
            before[n] = total.copy()
            summed[n] = summed.get(n, 0) + layer.grads[n]
        carried = state if cell == "lstm" else (state,)
        for mine, theirs in zip(layer.states, carried, strict=True):
            np.testing.assert_allclose(mine, theirs.numpy(), rtol=tol, atol=tol)
    for n, p in module.named_parameters():
        np.testing.assert_allclose(summed[n], p.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_without_detach_the_gradient_would_differ(cell):
    """The comparison above can fail: torch's gradient through the whole stream
    (no ``detach()``) is not the truncated one seqnet gives."""
    module, layer = _pair(cell, 1, np.float64)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((B, CUTS[-1], I))
    dout = rng.standard_normal((B, CUTS[-1], H))
    module.zero_grad()
    out_t, _ = module(torch.tensor(x))
    (out_t * torch.from_numpy(dout)).sum().backward()
    summed = {}
    for a, b in zip(CUTS[:-1], CUTS[1:], strict=True):
        layer.forward(x[:, a:b], training=True)
        layer.backward(dout[:, a:b])
        for n, g in layer.grads.items():
            summed[n] = summed.get(n, 0) + g
    diff = max(np.abs(summed[n] - p.grad.numpy()).max() for n, p in module.named_parameters())
    assert diff > 1e-4
