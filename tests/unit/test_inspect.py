"""forward(..., trace=True), seqnet.inspect.trace and seqnet.inspect.state_gradients
against a step-by-step NumPy reference of each cell written here from the equations:
every gate and state, and dL/dh_t, dL/dc_t against central differences of the loss
with that state perturbed (float64, 2 layers, bidirectional, ragged lengths)."""

import numpy as np
import pytest

import seqnet
from seqnet import inspect

CELLS = [("LSTM", {}), ("GRU", {"reset_after": True}), ("GRU", {"reset_after": False}),
         ("SimpleRNN", {"nonlinearity": "tanh"}), ("SimpleRNN", {"nonlinearity": "relu"})]
IDS = ["lstm", "gru-after", "gru-before", "rnn-tanh", "rnn-relu"]


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def cell_step(cell, options, x, h, c, W_ih, W_hh, b_ih, b_hh):
    """One step of one row: the new (h, c) and the gates, from the equations."""
    H = h.shape[0]
    if cell == "LSTM":
        a = W_ih @ x + b_ih + W_hh @ h + b_hh
        i, f = sigmoid(a[:H]), sigmoid(a[H:2 * H])
        g, o = np.tanh(a[2 * H:3 * H]), sigmoid(a[3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        return h, c, {"i": i, "f": f, "g": g, "o": o, "h": h, "c": c}
    if cell == "GRU":
        ax = W_ih @ x + b_ih
        r = sigmoid(ax[:H] + W_hh[:H] @ h + b_hh[:H])
        z = sigmoid(ax[H:2 * H] + W_hh[H:2 * H] @ h + b_hh[H:2 * H])
        if options["reset_after"]:
            n = np.tanh(ax[2 * H:] + r * (W_hh[2 * H:] @ h + b_hh[2 * H:]))
        else:
            n = np.tanh(ax[2 * H:] + W_hh[2 * H:] @ (r * h) + b_hh[2 * H:])
        h = (1.0 - z) * n + z * h
        return h, None, {"r": r, "z": z, "n": n, "h": h}
    a = W_ih @ x + b_ih + W_hh @ h + b_hh
    h = np.tanh(a) if options["nonlinearity"] == "tanh" else np.maximum(a, 0.0)
    return h, None, {"h": h}


def reference(layer, cell, options, x, lengths, state0=None, perturb=None):
    """The layer step by step: its output, final state and trace. ``perturb`` =
    ``(row, b, t, name, j, eps)`` adds ``eps`` to state ``name`` (h or c) of state
    row ``row`` (layer-major, then direction) after step ``t`` of batch row ``b``
    (``t = -1``: to the initial state); a perturbed h_t is also the output at t."""
    B, T = x.shape[:2]
    L, D, H = layer.num_layers, layer.num_directions, layer.hidden_size
    p = {k: np.asarray(v, np.float64) for k, v in layer.params.items()}
    names = layer.trace_names
    trace = {n: np.zeros((L * D, B, T, H)) for n in names}
    finals = {n: np.zeros((L * D, B, H)) for n in layer.state_names}
    inp = x.astype(np.float64) if x.ndim == 3 else np.eye(layer.input_size)[x]
    for k in range(L):
        outs = []
        for d in range(D):
            row = k * D + d
            sfx = f"_l{k}" + ("_reverse" if d else "")
            W = [p[n + sfx] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            out = np.zeros((B, T, H))
            for b in range(B):
                h = np.zeros(H) if state0 is None else state0[0][row, b].copy()
                c = np.zeros(H) if state0 is None or len(state0) < 2 else state0[1][row, b].copy()
                if perturb is not None and perturb[:3] == (row, b, -1):
                    (h if perturb[3] == "h" else c)[perturb[4]] += perturb[5]
                steps = range(lengths[b] - 1, -1, -1) if d else range(lengths[b])
                for t in steps:
                    h, c, gates = cell_step(cell, options, inp[b, t], h, c, *W)
                    if perturb is not None and perturb[:3] == (row, b, t):
                        h, c = h.copy(), (None if c is None else c.copy())
                        (h if perturb[3] == "h" else c)[perturb[4]] += perturb[5]
                        gates = {**gates, "h": h, **({"c": c} if c is not None else {})}
                    for n in names:
                        trace[n][row, b, t] = gates[n]
                    out[b, t] = h
                finals["h"][row, b] = h
                if "c" in finals:
                    finals["c"][row, b] = c
            outs.append(out)
        inp = np.concatenate(outs, axis=2)
    return inp, finals, trace


def make_layer(cell, options, dtype=np.float64, **kwargs):
    cls = getattr(seqnet, cell)
    layer = cls(3, num_layers=2, bidirectional=True, input_size=4, dtype=dtype, seed=3,
                **options, **kwargs)
    rng = np.random.default_rng(7)
    layer.load_state_dict({k: rng.uniform(-0.8, 0.8, v.shape) for k, v in layer.params.items()})
    return layer


@pytest.mark.parametrize("cell,options", CELLS, ids=IDS)
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_trace_matches_the_equations(cell, options, training, dtype):
    """Every gate and state of every step, layer and direction is the reference's;
    0 past a row's length; the trace does not change the output, and h is the
    output (each direction's half of the last layer's)."""
    layer = make_layer(cell, options, dtype)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 4)).astype(dtype)
    lengths = np.array([5, 2, 4])
    plain = layer.forward(x, lengths=lengths)
    out = layer.forward(x, lengths=lengths, training=training, trace=True)
    np.testing.assert_array_equal(out, plain)
    _, _, ref = reference(layer, cell, options, x, lengths)
    assert set(layer.trace) == set(ref) == set(layer.trace_names)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    for name, value in layer.trace.items():
        assert value.shape == (4, 3, 5, 3) and value.dtype == dtype
        np.testing.assert_allclose(value, ref[name], atol=tol, rtol=0, err_msg=name)
        assert not value[:, 1, 2:].any()   # past row 1's length
    np.testing.assert_array_equal(layer.trace["h"][2], out[:, :, :3])
    np.testing.assert_array_equal(layer.trace["h"][3], out[:, :, 3:])
    if training:   # the trace is a copy: the backward that spends the cache leaves it
        before = {k: v.copy() for k, v in layer.trace.items()}
        layer.backward(np.ones_like(out))
        for k, v in layer.trace.items():
            np.testing.assert_array_equal(v, before[k])
    layer.forward(x, lengths=lengths, training=training)
    assert layer.trace is None


@pytest.mark.parametrize("cell,options", CELLS[:2], ids=IDS[:2])
def test_trace_of_index_input_is_the_one_hot_trace(cell, options):
    cls = getattr(seqnet, cell)
    layer = cls(3, input_size=6, seed=0, **options)
    idx = np.array([[0, 5, 2, 2], [1, 3, 4, 0]])
    layer.forward(idx, trace=True)
    from_idx = {k: v.copy() for k, v in layer.trace.items()}
    layer.forward(np.eye(6, dtype=np.float32)[idx], trace=True)
    for k, v in layer.trace.items():
        np.testing.assert_allclose(from_idx[k], v, atol=1e-6)


def test_trace_with_an_initial_state_and_return_sequences_false():
    layer = seqnet.LSTM(2, input_size=3, return_sequences=False, return_state=True,
                        dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 3))
    state = (rng.standard_normal((1, 2, 2)), rng.standard_normal((1, 2, 2)))
    out, h, c = layer.forward(x, state, lengths=[4, 3], trace=True)
    _, _, ref = reference(layer, "LSTM", {}, x, [4, 3], state0=state)
    for name in layer.trace_names:
        np.testing.assert_allclose(layer.trace[name], ref[name], atol=1e-12)
    np.testing.assert_allclose(layer.trace["c"][0, [0, 1], [3, 2]], c[0])
    np.testing.assert_allclose(layer.trace["h"][0, [0, 1], [3, 2]], out)


def test_model_forward_trace_and_inspect_trace():
    """model.forward(trace=True) traces every recurrent layer; inspect.trace
    returns them by index in model.layers; Embedding's mask reaches the trace."""
    model = seqnet.Sequential([seqnet.Embedding(7, 4, mask_zero=True, seed=0),
                               seqnet.GRU(3, seed=0), seqnet.Dense(2, seed=0),
                               seqnet.LSTM(2, seed=1)])
    x = np.array([[1, 2, 3, 0], [4, 0, 0, 0]])
    traces = inspect.trace(model, x)
    assert sorted(traces) == [1, 3]
    assert set(traces[1]) == {"r", "z", "n", "h"} and set(traces[3]) == set("ifgohc")
    assert traces[3]["c"].shape == (1, 2, 4, 2)
    assert not traces[1]["z"][0, 1, 1:].any() and traces[1]["z"][0, 1, 0].all()
    model.forward(x)
    assert model.layers[1].trace is None


def test_trace_errors():
    """trace=True where it cannot apply: a named ValueError."""
    with pytest.raises(ValueError, match="trace=True: Dense has no per-step"):
        seqnet.Dense(2).forward(np.ones((2, 3)), trace=True)
    seqnet.Dense(2).forward(np.ones((2, 3)), trace=False)   # accepted, and ignored
    with pytest.raises(ValueError, match="trace=True: Bidirectional"):
        seqnet.Bidirectional(seqnet.LSTM(2)).forward(np.ones((1, 3, 2)), trace=True)
    with pytest.raises(TypeError, match="trace"):
        seqnet.LSTM(2).forward(np.ones((1, 3, 2)), trace=1)
    model = seqnet.Sequential([seqnet.LSTM(2, input_size=3)])
    with pytest.raises(ValueError, match="trace=True: step.. is the fast one-step"):
        model.step(np.ones((1, 3)), trace=True)
    with pytest.raises(ValueError, match="no SimpleRNN, LSTM or GRU"):
        inspect.trace(seqnet.Sequential([seqnet.Dense(2, input_size=3)]), np.ones((1, 3)))
    with pytest.raises(TypeError, match="needs a seqnet Model"):
        inspect.trace(seqnet.LSTM(2), np.ones((1, 3, 2)))
    shared = seqnet.LSTM(2, input_size=2)
    inp = seqnet.Input((3, 2))
    with pytest.raises(ValueError, match="called 2 times"):
        inspect.trace(seqnet.Model(inp, shared(shared(inp))), np.ones((1, 3, 2)))


# ------------------------------------------------------------ state gradients
def sg_model(cell, options, return_sequences):
    layer = make_layer(cell, options, return_sequences=return_sequences)
    model = seqnet.Sequential([layer, seqnet.Dense(2, dtype=np.float64, seed=1)])
    model.compile(loss="mse", optimizer="sgd")
    return model


def model_loss(model, cell, options, x, y, lengths, perturb):
    layer, dense = model.layers
    out, finals, _ = reference(layer, cell, options, x, lengths, perturb=perturb)
    if not layer.return_sequences:
        out = np.concatenate(list(finals["h"][-2:]), axis=1)
    pred = dense.forward(out)
    mask = None if out.ndim == 2 else np.arange(x.shape[1]) < lengths[:, None]
    return model.loss.forward(pred, y, mask=mask)


@pytest.mark.parametrize("cell,options", CELLS, ids=IDS)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_state_gradients_against_central_differences(cell, options, return_sequences):
    """dL/dh_t (and dL/dc_t) of every layer, direction, row, step and unit, and of
    the initial state, against central differences of the loss with that one state
    perturbed (h_t also as the output at t), float64, within 1e-6; 0 past a row's
    length; the parameters and gradients are left as they were."""
    model = sg_model(cell, options, return_sequences)
    layer = model.layers[0]
    rng = np.random.default_rng(2)
    B, T = 2, 4
    x = rng.standard_normal((B, T, 4))
    lengths = np.array([4, 2])
    y = rng.standard_normal((B, T, 2) if return_sequences else (B, 2))
    grads_before = {k: v.copy() for k, v in model.layers[1].grads.items()}
    params_before = {k: v.copy() for k, v in layer.params.items()}
    g = inspect.state_gradients(model, x, y, lengths=lengths)[0]
    for k, v in model.layers[1].grads.items():
        np.testing.assert_array_equal(v, grads_before[k])
    for k, v in layer.params.items():
        np.testing.assert_array_equal(v, params_before[k])
    names = layer.state_names
    assert set(g) == set(names) | {n + "0" for n in names}
    eps, worst = 1e-6, 0.0
    for name in names:
        assert g[name].shape == (4, B, T, 3) and g[name + "0"].shape == (4, B, 3)
        for row in range(4):
            for b in range(B):
                for t in range(-1, T):
                    for j in range(3):
                        got = g[name + "0"][row, b, j] if t < 0 else g[name][row, b, t, j]
                        if t >= lengths[b]:
                            assert got == 0.0
                            continue
                        up = model_loss(model, cell, options, x, y, lengths,
                                        (row, b, t, name, j, eps))
                        down = model_loss(model, cell, options, x, y, lengths,
                                          (row, b, t, name, j, -eps))
                        worst = max(worst, abs(got - (up - down) / (2 * eps)))
    assert worst < 1e-6, worst
    assert np.abs(g["h"]).max() > 1e-3   # not trivially zero


def test_state_gradients_errors_and_dtype():
    model = seqnet.Sequential([seqnet.LSTM(2, input_size=3, seed=0), seqnet.Dense(1)])
    with pytest.raises(ValueError, match="compile"):
        inspect.state_gradients(model, np.ones((2, 4, 3)), np.ones((2, 4, 1)))
    model.compile(loss="mse")
    g = inspect.state_gradients(model, np.ones((2, 4, 3)), np.ones((2, 4, 1)))
    assert g[0]["h"].dtype == np.float32 and g[0]["c"].shape == (1, 2, 4, 2)
    with pytest.raises(ValueError, match="same number of samples"):
        inspect.state_gradients(model, np.ones((2, 4, 3)), np.ones((3, 4, 1)))
    layer = model.layers[0]
    layer.zoneout = 0.1   # an option the trace does not cover (issue 15's REG, CELLS)
    with pytest.raises(ValueError, match="zoneout=0.1 is not supported"):
        inspect.state_gradients(model, np.ones((2, 4, 3)), np.ones((2, 4, 1)))
    with pytest.raises(ValueError, match="trace=True: LSTM with zoneout"):
        layer.forward(np.ones((2, 4, 3)), trace=True)


@pytest.mark.parametrize("cell,options", CELLS[:3], ids=IDS[:3])
def test_state_gradients_of_index_input_are_the_one_hot_ones(cell, options):
    layer = getattr(seqnet, cell)(3, input_size=6, num_layers=2, dtype=np.float64, seed=0,
                                  **options)
    model = seqnet.Sequential([layer, seqnet.Dense(2, dtype=np.float64, seed=0)])
    model.compile(loss="mse")
    idx = np.array([[0, 5, 2, 2], [1, 3, 4, 0], [2, 2, 2, 1]])
    y = np.random.default_rng(0).standard_normal((3, 4, 2))
    a = inspect.state_gradients(model, idx, y, lengths=[4, 2, 3])[0]
    b = inspect.state_gradients(model, np.eye(6)[idx], y, lengths=[4, 2, 3])[0]
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-12)
    assert np.abs(a["h"]).max() > 1e-3


@pytest.mark.parametrize("cell,options", CELLS[:3], ids=IDS[:3])
def test_initial_state_gradients_are_the_models_own(cell, options):
    """From a given (non-zero) initial state, "h0" and "c0" are the gradients that
    the model's own backward returns for its state inputs (the kernels' BPTT), and
    the trace starts from that state."""
    H = 3
    inp = seqnet.Input((5, 2))
    states = [seqnet.Input((H,)) for _ in range(2 if cell == "LSTM" else 1)]
    layer = getattr(seqnet, cell)(H, dtype=np.float64, seed=0, **options)
    out = seqnet.Dense(1, dtype=np.float64, seed=0)(layer(inp, initial_state=states))
    model = seqnet.Model([inp, *states], out)
    model.compile(loss="mse")
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((2, 5, 2))] + [rng.standard_normal((2, H)) for _ in states]
    y = rng.standard_normal((2, 5, 1))
    lengths = [[5, 3]] + [None] * len(states)
    g = inspect.state_gradients(model, xs, y, lengths=lengths)[model.layers.index(layer)]
    pred = model.forward(xs, training=True, lengths=lengths)
    model.loss.forward(pred, y, mask=np.arange(5) < np.array([[5], [3]]))
    _, *dstates = model.backward(model.loss.backward())
    for name, d in zip(layer.state_names, dstates, strict=True):
        np.testing.assert_allclose(g[name + "0"][0], d, atol=1e-14)
    assert np.abs(dstates[0]).max() > 1e-3


@pytest.mark.parametrize("cell,options", CELLS, ids=IDS)
def test_a_traced_training_pass_has_the_same_gradients(cell, options):
    """trace=True changes nothing of a training pass: the same output and, from the
    same backward, bit-identical parameter, input and initial-state gradients (the
    trace is a copy, taken before the backward writes over the cache)."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 5, 4))
    state = [rng.standard_normal((4, 3, 3)) for _ in range(2 if cell == "LSTM" else 1)]
    dout = rng.standard_normal((3, 5, 6))
    results = []
    for trace in (False, True):
        layer = make_layer(cell, options, dropout=0.3)
        out = layer.forward(x, state, lengths=[5, 2, 4], training=True, trace=trace)
        grads = layer.backward(dout)
        results.append((out, grads, {k: v.copy() for k, v in layer.grads.items()}))
    (o1, g1, p1), (o2, g2, p2) = results
    np.testing.assert_array_equal(o1, o2)
    for a, b in zip(g1, g2, strict=True):
        np.testing.assert_array_equal(a, b)
    for k in p1:
        np.testing.assert_array_equal(p1[k], p2[k])
