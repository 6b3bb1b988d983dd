"""The PyTorch round trip (seqnet.interop.from_torch / to_torch), with PyTorch as the
oracle.

Every torch module below gets random parameters, biases included (never zero), and
goes to seqnet with ``from_torch``; both run on one random input and initial state,
and the outputs and final states must agree: within ``1e-5`` in float32 and
``1e-12`` in float64 (absolute, on values of order 1). Then ``to_torch`` brings the
layer back, and every parameter must equal the original's exactly, bit for bit; a
seqnet layer sent to torch and back keeps its parameters exactly too.

Run with ``-s`` to print the largest differences (:func:`test_report_max_differences`).
"""

import numpy as np
import pytest

import seqnet
from seqnet.interop import from_torch, to_torch

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.filterwarnings(
    "ignore:LSTM with projections is not supported with oneDNN:UserWarning")

B, T, I, H, P = 3, 6, 4, 5, 2
TOL = {np.float32: 1e-5, np.float64: 1e-12}
#: case -> (torch class, keywords)
CASES = {
    "rnn-tanh": ("RNN", {}),
    "rnn-relu": ("RNN", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", {}),
    "lstm-proj": ("LSTM", {"proj_size": P}),
    "gru": ("GRU", {}),
    "gru-nobias": ("GRU", {"bias": False}),
    "lstm-proj-nobias": ("LSTM", {"proj_size": P, "bias": False}),
}
#: label -> largest absolute difference, filled as the tests run.
MAX_DIFF = {}


def random_module(case, num_layers, bidirectional, batch_first, dtype, seed=0):
    cls, options = CASES[case]
    module = getattr(torch.nn, cls)(I, H, num_layers=num_layers, bidirectional=bidirectional,
                                    batch_first=batch_first, **options)
    module = module.double() if dtype == np.float64 else module.float()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(rng.uniform(-0.6, 0.6, tuple(p.shape))))
    return module.eval()


def compare(label, ours, theirs, dtype):
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape and ours.dtype == dtype
    diff = float(np.abs(ours.astype(np.float64) - theirs).max())
    MAX_DIFF[label] = max(MAX_DIFF.get(label, 0.0), diff)
    assert diff <= TOL[dtype], (label, diff)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["bf", "tm"])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, False), (2, True)],
                         ids=["1", "2", "2bi"])
@pytest.mark.parametrize("case", list(CASES))
def test_round_trip(case, num_layers, bidirectional, batch_first, dtype):
    module = random_module(case, num_layers, bidirectional, batch_first, dtype)
    layer = from_torch(module, return_state=True)
    assert layer.dtype == dtype and layer.num_layers == num_layers
    rng = np.random.default_rng(1)
    D = 2 if bidirectional else 1
    x = rng.standard_normal((B, T, I)).astype(dtype)
    lstm = CASES[case][0] == "LSTM"
    hsize = P if "proj" in case else H
    h0 = rng.uniform(-1, 1, (num_layers * D, B, hsize)).astype(dtype)
    state = (h0, rng.uniform(-1, 1, (num_layers * D, B, H)).astype(dtype)) if lstm else h0
    ours = layer.forward(x, list(state) if lstm else [state])
    tx = torch.from_numpy(x if batch_first else x.transpose(1, 0, 2).copy())
    tstate = tuple(torch.from_numpy(s) for s in state) if lstm else torch.from_numpy(state)
    with torch.no_grad():
        out, final = module(tx, tstate)
    if not batch_first:
        out = out.transpose(0, 1)
    label = f"{case} {dtype.__name__}"
    compare(label + " output", ours[0], out, dtype)
    for got, want in zip(ours[1:], final if lstm else (final,), strict=True):
        compare(label + " state", got, want, dtype)
    back = to_torch(layer, batch_first=batch_first)
    assert type(back) is type(module)
    assert str(back) == str(module)
    theirs = module.state_dict()
    mine = back.state_dict()
    assert list(mine) == list(theirs)
    for name, value in theirs.items():
        assert mine[name].dtype == value.dtype
        assert torch.equal(mine[name], value), name


@pytest.mark.parametrize("make", [
    lambda: seqnet.LSTM(H, input_size=I, num_layers=2, bidirectional=True, seed=3),
    lambda: seqnet.LSTM(H, input_size=I, proj_size=P, bias=False, dtype=np.float64, seed=3),
    lambda: seqnet.GRU(H, input_size=I, num_layers=3, dropout=0.25, seed=3),
    lambda: seqnet.SimpleRNN(H, input_size=I, nonlinearity="relu", seed=3),
], ids=["lstm-2bi", "lstmp-f64", "gru-3-dropout", "rnn-relu"])
def test_seqnet_to_torch_and_back(make):
    layer = make()
    layer.params[next(iter(layer.params))][...] += 0.125   # not just the initialiser
    back = from_torch(to_torch(layer))
    assert back.get_config() | {"seed": None} == layer.get_config() | {"seed": None}
    assert list(back.params) == list(layer.params)
    for name, value in layer.params.items():
        np.testing.assert_array_equal(back.params[name], value)
        assert back.params[name].dtype == value.dtype


def test_to_torch_refuses_what_torch_lacks():
    with pytest.raises(ValueError, match="reset_after=False"):
        to_torch(seqnet.GRU(H, input_size=I, reset_after=False))
    with pytest.raises(ValueError, match="layer_norm=True"):
        to_torch(seqnet.LSTM(H, input_size=I, layer_norm=True))
    with pytest.raises(ValueError, match="zoneout=0.1"):
        to_torch(seqnet.GRU(H, input_size=I, zoneout=0.1))
    with pytest.raises(ValueError, match="not built"):
        to_torch(seqnet.LSTM(H))
    with pytest.raises(TypeError, match="seqnet.SimpleRNN, seqnet.LSTM or seqnet.GRU"):
        to_torch(seqnet.Dense(3, input_size=2))
    with pytest.raises(TypeError, match="batch_first"):
        to_torch(seqnet.LSTM(H, input_size=I), batch_first=1)


def test_to_torch_leaves_training_regularisers_behind():
    """Input, recurrent and weight dropout act in training only: at inference the
    module agrees with the layer."""
    layer = seqnet.LSTM(H, input_size=I, input_dropout=0.3, recurrent_dropout=0.2,
                        weight_dropout=0.1, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((B, T, I))
    with torch.no_grad():
        out, _ = to_torch(layer)(torch.from_numpy(x))
    np.testing.assert_allclose(layer.forward(x), out.numpy(), rtol=0, atol=1e-12)


def test_from_torch_refusals():
    with pytest.raises(TypeError, match="torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU"):
        from_torch(torch.nn.Linear(2, 3))
    with pytest.raises(TypeError, match="torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU"):
        from_torch(torch.nn.LSTMCell(2, 3))
    module = torch.nn.GRU(2, 3).half()
    with pytest.raises(TypeError, match="float32 or all float64"):
        from_torch(module)
    with pytest.raises(TypeError, match="return_state"):
        from_torch(torch.nn.GRU(2, 3), return_state="yes")


def test_report_max_differences():
    """Print the largest difference per cell and dtype (run with -s)."""
    if not MAX_DIFF:
        pytest.skip("run with the cases above")
    print()
    for label, diff in sorted(MAX_DIFF.items()):
        print(f"{label:36s} {diff:.3g}")
