"""Parity with PyTorch as an oracle: outputs, final states and every gradient.

PyTorch's ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` (the GRU in its cuDNN form, that
is seqnet's ``reset_after=True``) share seqnet's parameter names and layouts, so
the weights go across unchanged through ``load_state_dict``. Every parameter,
biases included, is drawn at random so that a bias bug cannot hide behind a zero.
Variable-length batches go through ``pack_padded_sequence`` with unsorted
lengths, the semantics seqnet promises to reproduce; the upstream gradient is
random past each length too, and both sides must ignore it there.

Both sides run in float64 (the modules are converted with ``.double()``; the
global default dtype is left alone) and are compared at ``rtol=1e-10,
atol=1e-12``: the two implementations sum in different orders (seqnet's register
tile and its fastmath set's ``contract`` also fuse multiplies and adds), which costs
a few ulps per step, far below that bound. One float32 test per cell checks the float32
kernels against ``.float()`` modules at float32 tolerance.

Run with ``-s`` to see the largest error measured per cell
(:func:`test_report_max_errors`).
"""

import zlib

import numpy as np
import pytest

from seqnet import variants

torch = pytest.importorskip("torch")

#: batch rows, time steps, input features, hidden units.
B, T, I, H = 3, 6, 4, 5
#: unsorted lengths, one of them full: pack_padded_sequence(enforce_sorted=False).
LENGTHS = np.array([4, 6, 2])

#: float64 tolerances: a few ulps per step of reordered sums, with room to spare.
RTOL64, ATOL64 = 1e-10, 1e-12
#: float32 tolerances: float32 eps is 1.2e-7; six steps of two layers stay well below.
RTOL32, ATOL32 = 1e-4, 1e-5

#: the variants that PyTorch computes too, weight for weight (seqnet.variants).
CELL_NAMES = [v.name for v in variants.VARIANTS if v.torch_parity]


def make_pair(cell, num_layers, bidirectional, *, dtype=np.float64, seed=0,
              return_sequences=True):
    """A torch module and a seqnet layer holding the same random parameters.

    Weights are drawn in ``U(-1/sqrt(H), 1/sqrt(H))`` (PyTorch's own range) and
    biases in ``U(-0.5, 0.5)``, from a NumPy generator, so the values do not
    depend on the global torch RNG (which is not seeded here).
    """
    v = variants.get(cell)
    module = getattr(torch.nn, v.torch)(I, H, num_layers=num_layers,
                                        bidirectional=bidirectional, batch_first=True,
                                        **v.torch_options)
    module = module.double() if dtype == np.float64 else module.float()
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(H)
    with torch.no_grad():
        for name, p in module.named_parameters():
            scale = 0.5 if name.startswith("bias") else k
            p.copy_(torch.from_numpy(rng.uniform(-scale, scale, tuple(p.shape))))
    layer = v.make(H, input_size=I, num_layers=num_layers, bidirectional=bidirectional,
                   return_sequences=return_sequences, return_state=True, dtype=dtype)
    layer.load_state_dict({k: v.numpy() for k, v in module.state_dict().items()})
    return module, layer


def make_data(cell, num_layers, bidirectional, *, dtype=np.float64, seed=0,
              return_sequences=True):
    """Random input, initial state and upstream gradients (out, h_n[, c_n])."""
    rng = np.random.default_rng(seed + 1)
    D = 2 if bidirectional else 1
    n_state = 2 if cell == "lstm" else 1
    x = rng.standard_normal((B, T, I)).astype(dtype)
    state = tuple(rng.uniform(-1, 1, (num_layers * D, B, H)).astype(dtype)
                  for _ in range(n_state))
    out_shape = (B, T, D * H) if return_sequences else (B, D * H)
    dout = rng.standard_normal(out_shape).astype(dtype)
    dstate = tuple(rng.standard_normal((num_layers * D, B, H)).astype(dtype)
                   for _ in range(n_state))
    return x, state, dout, dstate


def run_torch(module, cell, x, state, lengths, dout, dstate, return_sequences=True):
    """Forward and backward in torch.

    The loss is ``(out * dout).sum() + sum((s_n * ds).sum())`` over the final
    state tensors, so that the upstream gradients are ``dout`` and ``dstate``.
    With ``return_sequences=False`` ``out`` is the last layer's ``h_n``, forward
    and reverse concatenated along features.

    Returns
    -------
    dict with ``out``, ``state`` (tuple), ``dx``, ``dstate0`` (tuple), ``grads``.
    """
    xt = torch.tensor(x, requires_grad=True)
    st = tuple(torch.tensor(s, requires_grad=True) for s in state)
    hx = st if cell == "lstm" else st[0]
    module.zero_grad()
    if lengths is None:
        out, fin = module(xt, hx)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.as_tensor(lengths, dtype=torch.int64), batch_first=True,
            enforce_sorted=False)
        out_packed, fin = module(packed, hx)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out_packed, batch_first=True,
                                                        total_length=T)
    fin = fin if cell == "lstm" else (fin,)
    if not return_sequences:
        D = 2 if module.bidirectional else 1
        out = torch.cat(list(fin[0][-D:]), dim=1)
    loss = (out * torch.from_numpy(dout)).sum()
    for f, ds in zip(fin, dstate, strict=True):
        loss = loss + (f * torch.from_numpy(ds)).sum()
    loss.backward()
    return {
        "out": out.detach().numpy(),
        "state": tuple(f.detach().numpy() for f in fin),
        "dx": xt.grad.numpy(),
        "dstate0": tuple(s.grad.numpy() for s in st),
        "grads": {n: p.grad.numpy() for n, p in module.named_parameters()},
    }


def run_seqnet(layer, cell, x, state, lengths, dout, dstate):
    """Forward and backward in seqnet; same dict as :func:`run_torch`."""
    out, *fin = layer.forward(x, list(state), lengths=lengths, training=True)
    dx, *d0 = layer.backward([dout, *dstate])
    return {
        "out": out,
        "state": tuple(fin),
        "dx": dx,
        "dstate0": tuple(d0),
        "grads": dict(layer.grads),
    }


def compare(cell, num_layers, bidirectional, use_lengths, *, dtype=np.float64,
            return_sequences=True, rtol=RTOL64, atol=ATOL64):
    """Run both frameworks on one configuration and assert they agree.

    Returns
    -------
    (out_err, grad_err) : the largest absolute differences over the outputs and
    final states, and over dx, the initial-state gradients and every parameter
    gradient.
    """
    seed = zlib.crc32(f"{cell} {num_layers} {bidirectional} {use_lengths} {dtype} "
                      f"{return_sequences}".encode())
    module, layer = make_pair(cell, num_layers, bidirectional, dtype=dtype, seed=seed,
                              return_sequences=return_sequences)
    x, state, dout, dstate = make_data(cell, num_layers, bidirectional, dtype=dtype,
                                       seed=seed, return_sequences=return_sequences)
    lengths = LENGTHS if use_lengths else None
    ref = run_torch(module, cell, x, state, lengths, dout, dstate, return_sequences)
    got = run_seqnet(layer, cell, x, state, lengths, dout, dstate)

    def check(a, b, what):
        assert a.dtype == np.dtype(dtype), f"{what}: dtype {a.dtype}"
        assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)
        return float(np.max(np.abs(a - b)))

    out_err = check(got["out"], ref["out"], "out")
    n = len(ref["state"])
    for name, a, b in zip(("h_n", "c_n")[:n], got["state"], ref["state"], strict=True):
        out_err = max(out_err, check(a, b, name))
    grad_err = check(got["dx"], ref["dx"], "dx")
    for name, a, b in zip(("dh_0", "dc_0")[:n], got["dstate0"], ref["dstate0"], strict=True):
        grad_err = max(grad_err, check(a, b, name))
    assert sorted(got["grads"]) == sorted(ref["grads"])
    for name in ref["grads"]:
        grad_err = max(grad_err, check(got["grads"][name], ref["grads"][name],
                                       f"grad {name}"))
    return out_err, grad_err


@pytest.mark.parametrize("use_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2], ids=["1layer", "2layers"])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_parity_float64(cell, num_layers, bidirectional, use_lengths):
    """Outputs, final states, dx, d(initial state) and every parameter gradient
    match PyTorch in float64, with random non-zero initial state and biases."""
    compare(cell, num_layers, bidirectional, use_lengths)


@pytest.mark.parametrize("use_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_parity_last_output(cell, bidirectional, use_lengths):
    """``return_sequences=False`` gives the last layer's ``h_n`` (forward and
    reverse concatenated), and its gradient flows back as torch's does."""
    compare(cell, 2, bidirectional, use_lengths, return_sequences=False)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_parity_float32(cell):
    """The float32 kernels match PyTorch's float32 modules to float32 tolerance
    (two bidirectional layers, unsorted lengths)."""
    compare(cell, 2, True, True, dtype=np.float32, rtol=RTOL32, atol=ATOL32)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_report_max_errors(cell):
    """The largest float64 error over every configuration, printed with ``-s``
    as ``parity max abs error <cell>: out X, grads Y``."""
    out_err, grad_err = 0.0, 0.0
    for num_layers in (1, 2):
        for bidirectional in (False, True):
            for use_lengths in (False, True):
                for return_sequences in (True, False):
                    o, g = compare(cell, num_layers, bidirectional, use_lengths,
                                   return_sequences=return_sequences)
                    out_err, grad_err = max(out_err, o), max(grad_err, g)
    print(f"\nparity max abs error {cell}: out {out_err:.3g}, grads {grad_err:.3g}")
    assert out_err < 1e-12 and grad_err < 1e-11
