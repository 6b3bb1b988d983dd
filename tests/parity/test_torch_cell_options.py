"""Parity with PyTorch for the cell options it shares: ``bias=False`` (every cell)
and ``proj_size`` (the LSTM).

Same method as ``test_torch.py``: the torch module's random parameters go across
unchanged through ``load_state_dict`` (no bias entries with ``bias=False``;
``weight_hr_l{k}`` with ``proj_size``), both sides run forward and backward on one
random input, initial state and upstream gradient (random past each length too,
through ``pack_padded_sequence`` with unsorted lengths), and the outputs, every
final state, ``dx``, the initial-state gradients and every parameter gradient must
agree: within ``1e-10`` in float64 and ``1e-5`` in float32, each measured against
the tensor's scale (``max|a - b| <= tol * max(1, max|b|)``).

Run with ``-s`` to print the largest differences (:func:`test_report_max_differences`).
"""

import zlib

import numpy as np
import pytest

import seqnet

torch = pytest.importorskip("torch")

#: torch's float32 LSTM with projections warns that it leaves oneDNN for its own
#: implementation (that one is the oracle here).
pytestmark = pytest.mark.filterwarnings(
    "ignore:LSTM with projections is not supported with oneDNN:UserWarning")

#: batch rows, time steps, input features, hidden units, projection size.
B, T, I, H, P = 3, 6, 4, 5, 3
LENGTHS = np.array([4, 6, 2])
TOL = {np.float64: 1e-10, np.float32: 1e-5}

#: (name, seqnet class, seqnet keywords, torch class, torch keywords)
CASES = {
    "rnn-tanh-nobias": (seqnet.SimpleRNN, {"bias": False}, "RNN", {"bias": False}),
    "rnn-relu-nobias": (seqnet.SimpleRNN, {"bias": False, "nonlinearity": "relu"}, "RNN",
                        {"bias": False, "nonlinearity": "relu"}),
    "lstm-nobias": (seqnet.LSTM, {"bias": False}, "LSTM", {"bias": False}),
    "gru-nobias": (seqnet.GRU, {"bias": False}, "GRU", {"bias": False}),
    "lstm-proj": (seqnet.LSTM, {"proj_size": P}, "LSTM", {"proj_size": P}),
    "lstm-proj1-nobias": (seqnet.LSTM, {"proj_size": 1, "bias": False}, "LSTM",
                          {"proj_size": 1, "bias": False}),
}


def make_pair(case, num_layers, bidirectional, dtype, seed, return_sequences):
    """A torch module and a seqnet layer with the same random parameters."""
    cls, options, tname, toptions = CASES[case]
    module = getattr(torch.nn, tname)(I, H, num_layers=num_layers, bidirectional=bidirectional,
                                      batch_first=True, **toptions)
    module = module.double() if dtype == np.float64 else module.float()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            scale = 0.5 if name.startswith("bias") else 1.0 / np.sqrt(H)
            p.copy_(torch.from_numpy(rng.uniform(-scale, scale, tuple(p.shape))))
    layer = cls(H, input_size=I, num_layers=num_layers, bidirectional=bidirectional,
                return_sequences=return_sequences, return_state=True, dtype=dtype, **options)
    layer.load_state_dict({k: v.numpy() for k, v in module.state_dict().items()})
    return module, layer


def compare(case, num_layers, bidirectional, use_lengths, dtype=np.float64,
            return_sequences=True):
    """Run both on one configuration, assert agreement; return the largest absolute
    differences ``(outputs and final states, gradients)``."""
    seed = zlib.crc32(f"{case} {num_layers} {bidirectional} {use_lengths} {dtype} "
                      f"{return_sequences}".encode())
    module, layer = make_pair(case, num_layers, bidirectional, dtype, seed, return_sequences)
    is_lstm = isinstance(module, torch.nn.LSTM)
    rng = np.random.default_rng(seed + 1)
    D = 2 if bidirectional else 1
    x = rng.standard_normal((B, T, I)).astype(dtype)
    sizes = layer.state_sizes
    state = [rng.uniform(-1, 1, (num_layers * D, B, s)).astype(dtype) for s in sizes]
    dstate = [rng.standard_normal((num_layers * D, B, s)).astype(dtype) for s in sizes]
    out_units = layer.output_size
    dout = rng.standard_normal((B, T, out_units) if return_sequences
                               else (B, out_units)).astype(dtype)
    lengths = LENGTHS if use_lengths else None
    # torch
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in state]
    hx = tuple(st) if is_lstm else st[0]
    if lengths is None:
        out_t, fin = module(xt, hx)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
        out_p, fin = module(packed, hx)
        out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_p, batch_first=True,
                                                          total_length=T)
    fin = list(fin) if is_lstm else [fin]
    if not return_sequences:
        out_t = torch.cat(list(fin[0][-D:]), dim=1)
    loss = (out_t * torch.from_numpy(dout)).sum()
    for f, ds in zip(fin, dstate, strict=True):
        loss = loss + (f * torch.from_numpy(ds)).sum()
    loss.backward()
    ref = {"out": out_t.detach().numpy(), "dx": xt.grad.numpy()}
    ref.update({f"state{m}": f.detach().numpy() for m, f in enumerate(fin)})
    ref.update({f"dstate{m}": s.grad.numpy() for m, s in enumerate(st)})
    ref.update({n: p.grad.numpy() for n, p in module.named_parameters()})
    # seqnet
    out, *fin_s = layer.forward(x, state, lengths=lengths, training=True)
    dx, *d0 = layer.backward([dout, *dstate])
    got = {"out": out, "dx": dx}
    got.update({f"state{m}": f for m, f in enumerate(fin_s)})
    got.update({f"dstate{m}": d for m, d in enumerate(d0)})
    got.update(layer.grads)
    assert sorted(got) == sorted(ref)
    tol = TOL[dtype]
    errs = {}
    for name, b in ref.items():
        a = got[name]
        assert a.dtype == np.dtype(dtype) and a.shape == b.shape, (name, a.dtype, a.shape)
        err = float(np.max(np.abs(a - b)))
        assert err <= tol * max(1.0, float(np.max(np.abs(b)))), (name, err)
        errs[name] = err
    forward_names = {"out"} | {k for k in ref if k.startswith("state")}
    return (max(errs[k] for k in forward_names),
            max(v for k, v in errs.items() if k not in forward_names))


@pytest.mark.parametrize("use_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("case", list(CASES))
def test_parity_float64(case, num_layers, bidirectional, use_lengths):
    """Outputs, final states, dx, initial-state and parameter gradients match torch's
    in float64; the parameter sets are the same (no bias entries without biases)."""
    compare(case, num_layers, bidirectional, use_lengths)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("case", list(CASES))
def test_parity_float32_last_output(case, bidirectional):
    """float32, two layers, lengths, ``return_sequences=False``: within 1e-5."""
    compare(case, 2, bidirectional, True, dtype=np.float32, return_sequences=False)
    compare(case, 2, bidirectional, True, dtype=np.float32)


@pytest.mark.parametrize("case", list(CASES))
def test_report_max_differences(case):
    """The largest differences over every configuration, printed with ``-s`` as
    ``parity <case> float64 out X grads Y | float32 out X grads Y``."""
    text = []
    for dtype in (np.float64, np.float32):
        worst = [0.0, 0.0]
        for num_layers in (1, 2):
            for bi in (False, True):
                for ln in (False, True):
                    o, g = compare(case, num_layers, bi, ln, dtype)
                    worst = [max(worst[0], o), max(worst[1], g)]
        text.append(f"{np.dtype(dtype).name} out {worst[0]:.3g} grads {worst[1]:.3g}")
    print(f"\nparity {case}: " + " | ".join(text))


def test_no_bias_parameters():
    """``bias=False`` makes no bias parameter, gradient or state-dict entry, and a
    state dict goes to torch's module unchanged."""
    for cls in (seqnet.SimpleRNN, seqnet.LSTM, seqnet.GRU):
        layer = cls(H, input_size=I, num_layers=2, bidirectional=True, bias=False, seed=0)
        assert not any("bias" in k for k in layer.params)
        layer.forward(np.ones((2, 3, I), np.float32), training=True)
        layer.backward(np.ones((2, 3, 2 * H), np.float32))
        assert sorted(layer.grads) == sorted(layer.params)
        module = getattr(torch.nn, cls.__name__.replace("Simple", ""))(
            I, H, num_layers=2, bidirectional=True, bias=False)
        module.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
