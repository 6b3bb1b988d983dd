"""The regularised cells (issue 15): input_dropout, recurrent_dropout, zoneout,
cell_zoneout and weight_dropout on SimpleRNN, LSTM and GRU.

The kernels' outputs are compared with a NumPy implementation of each option's
equations (docs/derivations/regularisation.md), run with the masks the call drew
(`RecurrentLayer._masks`); constructed cases read the masks back from the outputs
to show that variational masks are shared by every step and zoneout masks are fresh
at every step (haste's bug reused step 0's); the masks come from the layer's rng
alone; inference is deterministic and uses zoneout's expectation; rates of 0 give
the plain layer, bit for bit.
"""

import numpy as np
import pytest

import seqnet
from seqnet.kernels._steps import zoneout_masks

F64 = np.float64
B, T, I, H = 3, 6, 4, 5
LENGTHS = np.array([6, 2, 4])
CELLS = {
    "lstm": (seqnet.LSTM, {}),
    "gru": (seqnet.GRU, {}),
    "gru-v1": (seqnet.GRU, {"reset_after": False}),
    "rnn-tanh": (seqnet.SimpleRNN, {}),
    "rnn-relu": (seqnet.SimpleRNN, {"nonlinearity": "relu"}),
}
OPTIONS = ("input_dropout", "recurrent_dropout", "zoneout", "weight_dropout")


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def make(cell, dtype=F64, seed=0, **kw):
    cls, extra = CELLS[cell]
    layer = cls(H, input_size=I, return_state=True, dtype=dtype, seed=seed, **extra, **kw)
    rng = np.random.default_rng(seed + 1)
    for p in layer.params.values():
        p[...] = rng.uniform(-0.8, 0.8, p.shape)
    return layer


def data(seed=2):
    return np.random.default_rng(seed).standard_normal((B, T, I))


# ------------------------------------------------------------ NumPy reference
def ref_step(cell, x, h, c, W_ih, W_hh, b_ih, b_hh, m):
    """One step's candidates (h~, c~) with the recurrent products on ``h * m``."""
    hm = h * m
    if cell == "lstm":
        a = W_ih @ x + b_ih + W_hh @ hm + b_hh
        i, f = sigmoid(a[:H]), sigmoid(a[H:2 * H])
        g, o = np.tanh(a[2 * H:3 * H]), sigmoid(a[3 * H:])
        c_new = f * c + i * g
        return o * np.tanh(c_new), c_new
    if cell.startswith("gru"):
        gi = W_ih @ x + b_ih
        r = sigmoid(gi[:H] + W_hh[:H] @ hm + b_hh[:H])
        z = sigmoid(gi[H:2 * H] + W_hh[H:2 * H] @ hm + b_hh[H:2 * H])
        if cell == "gru":
            n = np.tanh(gi[2 * H:] + r * (W_hh[2 * H:] @ hm + b_hh[2 * H:]))
        else:
            n = np.tanh(gi[2 * H:] + W_hh[2 * H:] @ (r * hm) + b_hh[2 * H:])
        return (1.0 - z) * n + z * h, None    # the update's h is not masked
    a = W_ih @ x + b_ih + W_hh @ hm + b_hh
    return (np.tanh(a) if cell == "rnn-tanh" else np.maximum(a, 0.0)), None


def ref_layer(cell, layer, x, lengths, masks, training, state=None):
    """The layer's forward from its equations: every layer k and direction d with
    its own masks (``masks[k*D + d]``, as `RecurrentLayer._masks` gives them)."""
    L, D = layer.num_layers, layer.num_directions
    Bx, Tx = x.shape[:2]
    lengths = np.full(Bx, Tx) if lengths is None else lengths
    n_state = len(layer.state_names)
    state = [np.zeros((L * D, Bx, H)) for _ in range(n_state)] if state is None else state
    finals = [np.zeros_like(s) for s in state]
    inp = x
    for k in range(L):
        outs = []
        for d in range(D):
            sfx = f"_l{k}" + ("_reverse" if d else "")
            p = {n: layer.params[n + sfx].astype(F64) for n in
                 ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            mk = masks[k * D + d] if masks else {}
            W_hh = p["weight_hh"] * (mk["weight"] if mk.get("weight") is not None else 1.0)
            xin = inp * (mk["input"][:, None, :] if mk.get("input") is not None else 1.0)
            m_rec = mk.get("recurrent")
            out = np.zeros((Bx, Tx, H))
            for b in range(Bx):
                h = state[0][k * D + d, b].copy()
                c = state[1][k * D + d, b].copy() if n_state > 1 else None
                m = np.ones(H) if m_rec is None else m_rec[b]
                steps = range(lengths[b])
                for t in (reversed(steps) if d else steps):
                    h_new, c_new = ref_step(cell, xin[b, t], h, c, p["weight_ih"], W_hh,
                                            p["bias_ih"], p["bias_hh"], m)
                    if training:
                        dh = (mk["zoneout_h"][b, t] if mk.get("zoneout_h") is not None
                              else np.zeros(H))
                        dc = (mk["zoneout_c"][b, t] if mk.get("zoneout_c") is not None
                              else np.zeros(H))
                    else:
                        dh = np.full(H, layer.zoneout)
                        dc = np.full(H, layer.cell_zoneout)
                    if c is not None:
                        c = dc * c + (1.0 - dc) * c_new
                    h = dh * h + (1.0 - dh) * h_new
                    out[b, t] = h
                finals[0][k * D + d, b] = h
                if c is not None:
                    finals[1][k * D + d, b] = c
            outs.append(out)
        inp = np.concatenate(outs, axis=2)
    return inp, finals


# ------------------------------------------------------ kernels == reference
CASES = [(cell, option) for cell in CELLS for option in OPTIONS + ("cell_zoneout",)
         if option != "cell_zoneout" or cell == "lstm"]


@pytest.mark.parametrize("cell,option", CASES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_training_forward_matches_the_numpy_equations_with_the_drawn_masks(cell, option,
                                                                           bidirectional):
    """Two stacked layers, ragged lengths: the output and the final states equal the
    NumPy equations run with the masks the call drew (each layer and direction its
    own, and different from one another)."""
    layer = make(cell, num_layers=2, bidirectional=bidirectional, **{option: 0.4})
    x = data()
    out, *final = layer.forward(x, lengths=LENGTHS, training=True)
    masks = layer._masks()
    assert len(masks) == 2 * layer.num_directions
    key = {"input_dropout": "input", "recurrent_dropout": "recurrent",
           "weight_dropout": "weight", "zoneout": "zoneout_h",
           "cell_zoneout": "zoneout_c"}[option]
    drawn = [m[key] for m in masks]
    assert all(d is not None for d in drawn)
    assert not np.array_equal(drawn[0], drawn[-1])       # each its own masks
    ref_out, ref_final = ref_layer(cell, layer, x, LENGTHS, masks, training=True)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-12)
    for got, want in zip(final, ref_final, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # the mask changes the output: the option is not ignored
    plain = make(cell, num_layers=2, bidirectional=bidirectional)
    assert not np.allclose(plain.forward(x, lengths=LENGTHS, training=True)[0], out)


@pytest.mark.parametrize("cell", list(CELLS))
def test_all_options_together_match_the_numpy_equations(cell):
    """Every option at once, float64 and float32 (within float32's precision)."""
    kw = dict(input_dropout=0.3, recurrent_dropout=0.25, zoneout=0.2, weight_dropout=0.35)
    if cell == "lstm":
        kw["cell_zoneout"] = 0.3
    x = data()
    for dtype, tol in ((F64, 1e-12), (np.float32, 2e-5)):
        layer = make(cell, dtype=dtype, num_layers=2, bidirectional=True, **kw)
        out, *final = layer.forward(x.astype(dtype), lengths=LENGTHS, training=True)
        ref_out, ref_final = ref_layer(cell, layer, x.astype(dtype).astype(F64), LENGTHS,
                                       layer._masks(), training=True)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, ref_out, rtol=tol, atol=tol)
        for got, want in zip(final, ref_final, strict=True):
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("cell", list(CELLS))
def test_inference_uses_zoneouts_expectation_and_no_dropout(cell):
    """training=False: h_t = p h_{t-1} + (1 - p) h~_t (and c for the LSTM), no
    dropout of any kind; two runs give the same bits."""
    kw = dict(input_dropout=0.3, recurrent_dropout=0.25, zoneout=0.3, weight_dropout=0.35)
    if cell == "lstm":
        kw["cell_zoneout"] = 0.45
    layer = make(cell, bidirectional=True, **kw)
    x = data()
    out, *final = layer.forward(x, lengths=LENGTHS, training=False)
    again = layer.forward(x, lengths=LENGTHS, training=False)[0]
    np.testing.assert_array_equal(out, again)
    ref_out, ref_final = ref_layer(cell, layer, x, LENGTHS, None, training=False)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-12)
    for got, want in zip(final, ref_final, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("option", ["input_dropout", "recurrent_dropout", "weight_dropout"])
def test_dropout_at_inference_is_the_plain_layer_bit_for_bit(cell, option):
    layer, plain = make(cell, **{option: 0.5}), make(cell)
    x = data()
    for a, b in zip(layer.forward(x, lengths=LENGTHS, training=False),
                    plain.forward(x, lengths=LENGTHS, training=False), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", list(CELLS))
def test_rates_of_zero_are_the_plain_layer_bit_for_bit(cell):
    """Every rate given as 0.0 takes the plain kernels: outputs, every gradient and
    the rng's state after the call are the default layer's, float32 and training."""
    zero = dict(input_dropout=0.0, recurrent_dropout=0.0, zoneout=0.0, weight_dropout=0.0)
    if cell == "lstm":
        zero["cell_zoneout"] = 0.0
    x = data().astype(np.float32)
    a, b = make(cell, np.float32, bidirectional=True, **zero), make(cell, np.float32,
                                                                    bidirectional=True)
    outs_a = a.forward(x, lengths=LENGTHS, training=True)
    outs_b = b.forward(x, lengths=LENGTHS, training=True)
    for u, v in zip(outs_a, outs_b, strict=True):
        np.testing.assert_array_equal(u, v)
    douts = [np.random.default_rng(3).standard_normal(o.shape).astype(np.float32)
             for o in outs_a]
    for u, v in zip(a.backward(douts), b.backward(douts), strict=True):
        np.testing.assert_array_equal(u, v)
    for name in a.grads:
        np.testing.assert_array_equal(a.grads[name], b.grads[name])
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


@pytest.mark.parametrize("cell", list(CELLS))
def test_rates_of_zero_never_enter_the_regularised_kernels(cell, monkeypatch):
    """The plain path is the default's own: with every rate 0 (training or not) no
    regularised kernel runs; with recurrent dropout at inference neither."""
    from seqnet.kernels import gru, lstm, rnn

    def refuse(*args, **kwargs):
        raise AssertionError("a regularised kernel ran")

    for module, name in ((lstm, "lstm"), (gru, "gru"), (rnn, "rnn")):
        for direction in ("forward", "backward"):
            monkeypatch.setattr(module, f"{name}_reg_{direction}", (refuse, refuse))
    x = data()
    for kw in ({}, dict(input_dropout=0.0, recurrent_dropout=0.0, zoneout=0.0)):
        layer = make(cell, bidirectional=True, **kw)
        outs = layer.forward(x, training=True)
        layer.backward([np.ones_like(o) for o in outs])
    make(cell, recurrent_dropout=0.5).forward(x, training=False)
    with pytest.raises(AssertionError, match="regularised kernel"):
        make(cell, zoneout=0.5).forward(x, training=False)


# ------------------------------------------------------------------- the masks
def relu_identity(**kw):
    """A ReLU SimpleRNN with H = I whose weights are set per test."""
    layer = seqnet.SimpleRNN(H, input_size=H, nonlinearity="relu", dtype=F64, seed=7, **kw)
    for p in layer.params.values():
        p[...] = 0.0
    return layer


def test_input_dropout_mask_is_one_per_row_and_feature_shared_by_every_step():
    """W_ih = identity, W_hh = 0, x = 1: h_t = x_t * m = m at every step, read back
    from the output. Every step shows the same mask, with values 0 or 1/(1-p)."""
    p = 0.4
    layer = relu_identity(input_dropout=p)
    layer.params["weight_ih_l0"][...] = np.eye(H)
    out = layer.forward(np.ones((64, T, H)), training=True)
    for t in range(1, T):
        np.testing.assert_array_equal(out[:, t], out[:, 0])
    assert set(np.unique(np.round(out, 12))) == {0.0, round(1 / (1 - p), 12)}
    assert 0.2 < (out[:, 0] == 0).mean() < 0.6


def test_recurrent_dropout_mask_is_shared_by_every_step():
    """W_ih = W_hh = identity, x = 1, h0 = 0: h_t = 1 + h_{t-1} * m, so the mask of
    step t is (h_t - 1) / h_{t-1}: the same at every step, 0 or 1/(1-p), and the
    state carried is not masked (else h_t would be 1 + h_{t-1} m^2 ...)."""
    p = 0.5
    layer = relu_identity(recurrent_dropout=p)
    layer.params["weight_ih_l0"][...] = np.eye(H)
    layer.params["weight_hh_l0"][...] = np.eye(H)
    out = layer.forward(np.ones((64, T, H)), training=True)
    m = layer._masks()[0]["recurrent"]
    for t in range(1, T):
        np.testing.assert_allclose((out[:, t] - 1.0) / out[:, t - 1], m, rtol=1e-12)
    assert set(np.unique(m)) == {0.0, 1 / (1 - p)}


def test_zoneout_masks_are_fresh_at_every_step():
    """haste's bug, the other way round: W_ih = identity, W_hh = 0, x_t = t + 1, so
    h~_t = t + 1 and a unit zoned out at step t shows h_t = h_{t-1} != t + 1. The
    masks read back from the output differ from step to step (step 0's is not reused),
    equal the masks the kernel's hash gives, and keep a fraction p of the units."""
    p = 0.35
    layer = relu_identity(zoneout=p)
    layer.params["weight_ih_l0"][...] = np.eye(H)
    Bz = 200
    x = np.broadcast_to(np.arange(1.0, T + 1)[None, :, None], (Bz, T, H)).copy()
    out = layer.forward(x, training=True)
    kept = out != x     # at step 0 a kept unit holds h0 = 0, not x_0 = 1
    np.testing.assert_array_equal(kept, layer._masks()[0]["zoneout_h"].astype(bool))
    for t in range(1, T):
        assert not np.array_equal(kept[:, t], kept[:, 0])
    assert abs(kept.mean() - p) < 0.03           # 6000 draws: sd 0.006


def test_zoneout_kept_at_step_zero_keeps_the_initial_state():
    layer = relu_identity(zoneout=0.5)
    layer.params["weight_ih_l0"][...] = np.eye(H)
    h0 = np.full((1, 50, H), -3.0)
    out = layer.forward(np.ones((50, 1, H)), h0, training=True)
    kept = layer._masks()[0]["zoneout_h"][:, 0].astype(bool)
    np.testing.assert_array_equal(out[:, 0][kept], -3.0)
    np.testing.assert_array_equal(out[:, 0][~kept], 1.0)


def test_zoneout_masks_are_the_same_in_any_block_of_rows_or_thread():
    """The hash depends on (seed, row, step, unit) only: a serial run in one block
    and a parallel run in row blocks with packed weights give the same output."""
    from seqnet import _dispatch

    x = np.random.default_rng(0).standard_normal((16, T, I))
    outs = []
    for mode in ("auto", "parallel", "serial"):
        layer = make("lstm", zoneout=0.3, cell_zoneout=0.2, recurrent_dropout=0.2)
        with _dispatch.parallel_mode(mode):
            outs.append(layer.forward(x, training=True)[0])
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(outs[2], outs[0], rtol=1e-12, atol=1e-13)


def test_zoneout_hash_masks_are_independent_of_seed_row_step_and_unit():
    a = zoneout_masks(1, 40, 50, 64, 0.3)
    b = zoneout_masks(2, 40, 50, 64, 0.3)
    assert abs(a.mean() - 0.3) < 0.01 and abs(b.mean() - 0.3) < 0.01
    # agreement of two independent Bernoulli(0.3) masks: 0.3^2 + 0.7^2 = 0.58
    assert abs((a == b).mean() - 0.58) < 0.01
    assert abs((a[:, 1:] == a[:, :-1]).mean() - 0.58) < 0.01      # step to step
    assert abs((a[1:] == a[:-1]).mean() - 0.58) < 0.01            # row to row
    assert abs((a[..., 1:] == a[..., :-1]).mean() - 0.58) < 0.01  # unit to unit
    np.testing.assert_array_equal(a, zoneout_masks(1, 40, 50, 64, 0.3))


@pytest.mark.parametrize("option", ["input_dropout", "recurrent_dropout", "weight_dropout"])
def test_dropout_masks_scale_by_one_over_keep_and_average_one(option):
    """Values 0 or 1/(1-p), a fraction p of zeros, mean 1 (inverted scaling): over
    4000 rows the mean's standard deviation is below 0.002."""
    p = 0.3
    layer = seqnet.LSTM(50, input_size=50, dtype=F64, seed=1, **{option: p})
    layer.forward(np.ones((4000, 2, 50)), training=True)
    key = {"input_dropout": "input", "recurrent_dropout": "recurrent",
           "weight_dropout": "weight"}[option]
    m = layer._masks()[0][key]
    assert set(np.unique(m)) == {0.0, 1.0 / (1.0 - p)}
    sd = np.sqrt(p / (1 - p) / m.size)
    assert abs(m.mean() - 1.0) < 6 * sd
    assert abs((m == 0).mean() - p) < 6 * np.sqrt(p * (1 - p) / m.size)


# ---------------------------------------------------------------- randomness
ALL = dict(input_dropout=0.3, recurrent_dropout=0.3, zoneout=0.3, weight_dropout=0.3)


@pytest.mark.parametrize("cell", list(CELLS))
def test_masks_come_from_the_layers_rng(cell):
    """Re-seeding layer.rng before two training forwards gives the same outputs and
    gradients; another seed, or no re-seeding, gives others."""
    kw = dict(ALL, cell_zoneout=0.3) if cell == "lstm" else ALL
    layer = make(cell, num_layers=2, bidirectional=True, **kw)
    x = data()
    dout = np.random.default_rng(5).standard_normal((B, T, 2 * H))

    def run(seed=None):
        if seed is not None:
            layer.rng = np.random.default_rng(seed)
        out = layer.forward(x, lengths=LENGTHS, training=True)[0]
        layer.backward([dout] + [None] * len(layer.state_names))
        return out, {k: v.copy() for k, v in layer.grads.items()}

    out1, g1 = run(11)
    out2, g2 = run(11)
    np.testing.assert_array_equal(out1, out2)
    for name in g1:
        np.testing.assert_array_equal(g1[name], g2[name])
    assert not np.allclose(run(12)[0], out1)
    assert not np.allclose(run()[0], out1)


def test_weight_dropout_gradient_reaches_the_raw_weights_through_the_mask():
    """A dropped entry of W_hh gets a zero gradient; a kept one its gradient scaled
    by 1/(1-p)."""
    layer = make("lstm", weight_dropout=0.5)
    x = data()
    layer.forward(x, training=True)
    M = layer._masks()[0]["weight"]
    layer.backward([np.ones((B, T, H)), None, None])
    g = layer.grads["weight_hh_l0"]
    assert (g[M == 0] == 0).all() and (g[M != 0] != 0).all()


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize("option", OPTIONS + ("cell_zoneout",))
@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan"), float("inf")])
def test_rates_outside_zero_one_raise_naming_the_option(option, bad):
    with pytest.raises(ValueError, match=option):
        seqnet.LSTM(4, **{option: bad})


@pytest.mark.parametrize("option", OPTIONS + ("cell_zoneout",))
@pytest.mark.parametrize("bad", ["0.5", None, True, [0.1]])
def test_rates_of_the_wrong_type_raise_naming_the_option(option, bad):
    with pytest.raises(TypeError, match=option):
        seqnet.LSTM(4, **{option: bad})


@pytest.mark.parametrize("cls", [seqnet.GRU, seqnet.SimpleRNN])
def test_cell_zoneout_on_a_cell_without_a_cell_state_raises(cls):
    with pytest.raises(ValueError, match="cell_zoneout"):
        cls(4, cell_zoneout=0.2)


@pytest.mark.parametrize("cell", list(CELLS))
def test_index_input_computes_what_its_one_hot_encoding_computes(cell):
    """Every regulariser on integer (index) input: the same outputs, final states,
    weight gradients (and initial-state gradients) as the one-hot encoded input
    under the same masks (the same seed draws the same masks: the input mask is
    one per row and vocabulary entry)."""
    kw = dict(input_dropout=0.4, recurrent_dropout=0.3, zoneout=0.3, weight_dropout=0.3)
    if cell == "lstm":
        kw["cell_zoneout"] = 0.2
    V = 7
    x = np.random.default_rng(4).integers(0, V, (B, T))
    cls, extra = CELLS[cell]
    a, b = (cls(H, input_size=V, num_layers=2, bidirectional=True, return_state=True,
                dtype=F64, seed=3, **extra, **kw) for _ in range(2))
    rng = np.random.default_rng(6)
    state = [rng.standard_normal((4, B, H)) for _ in a.state_names]
    out_a = a.forward(x, state, lengths=LENGTHS, training=True)
    out_b = b.forward(np.eye(V)[x], state, lengths=LENGTHS, training=True)
    for u, v in zip(out_a, out_b, strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)
    douts = [np.random.default_rng(5).standard_normal(o.shape) for o in out_a]
    ga, gb = a.backward(douts), b.backward(douts)
    assert ga[0] is None
    for u, v in zip(ga[1:], gb[1:], strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)
    for name in a.grads:
        np.testing.assert_allclose(a.grads[name], b.grads[name], rtol=1e-11, atol=1e-12,
                                   err_msg=name)
    assert not np.allclose(out_a[0], cls(H, input_size=V, num_layers=2, bidirectional=True,
                                         dtype=F64, seed=3, **extra).forward(x))


# -------------------------------------------------------------------- configs
@pytest.mark.parametrize("cell", list(CELLS))
def test_the_options_round_trip_through_get_config_and_model_files(cell, tmp_path):
    kw = dict(input_dropout=0.1, recurrent_dropout=0.2, zoneout=0.3, weight_dropout=0.4)
    if cell == "lstm":
        kw["cell_zoneout"] = 0.25
    cls, extra = CELLS[cell]
    layer = cls(H, input_size=I, dtype=F64, seed=0, **extra, **kw)
    config = layer.get_config()
    for name, value in kw.items():
        assert config[name] == value
    again = type(layer).from_config(config)
    assert again.get_config() == config
    model = seqnet.Sequential([layer, seqnet.Dense(2, dtype=F64)], seed=0)
    x = data()
    expected = model.predict(x)
    model.save(tmp_path / "m.npz")
    loaded = seqnet.load_model(tmp_path / "m.npz")
    assert loaded.layers[0].get_config() == config
    np.testing.assert_allclose(loaded.predict(x), expected, rtol=1e-12)
    wrapped = seqnet.Bidirectional(cls(H, input_size=I, **extra, **kw))
    assert all(getattr(wrapped.fused, k) == v for k, v in kw.items())


def test_cell_options_without_a_regularised_loop_refuse_recurrent_dropout_and_zoneout():
    """The layer-normalised and projected cells have no regularised time loop: a
    recurrent dropout or zoneout with them is refused when the layer is made, the
    error naming both options; input and weight dropout, made by the layer, work
    with them, and their gradients are right."""
    cases = [(seqnet.LSTM, {"layer_norm": True}), (seqnet.LSTM, {"proj_size": 2}),
             (seqnet.GRU, {"layer_norm": True})]
    for cls, cell in cases:
        options = ("recurrent_dropout", "zoneout") + (("cell_zoneout",) if cls is seqnet.LSTM
                                                       else ())
        for option in options:
            (name, value), = cell.items()
            with pytest.raises(ValueError, match=rf"{option}=0.3 with {name}={value!r}"):
                cls(4, **cell, **{option: 0.3})
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 5, 2))
    lengths = np.array([5, 3, 2])
    for cls, cell in cases:
        layer = cls(4, dtype=np.float64, seed=0, input_dropout=0.3, weight_dropout=0.3, **cell)
        state = [rng.standard_normal((1, 3, s)) for s in layer.state_sizes]
        report = seqnet.check_gradients(layer, x, lengths=lengths, initial_state=state)
        assert report.passed(1e-6), (cls.__name__, cell, report.errors)
        layer.forward(x, state, training=True, lengths=lengths)
        masks = layer._masks()[0]
        assert masks["input"] is not None and masks["weight"] is not None
        for m in (masks["input"], masks["weight"]):
            assert set(np.unique(m)) <= {0.0, 1 / 0.7}
        assert (masks["weight"] == 0).any()


def test_check_gradients_restores_the_generators_of_nested_layers():
    """The checker's generators: the model's, every layer's, and the layers a
    wrapper holds (Bidirectional runs `fused`, whose rng draws the masks), each
    once."""
    from seqnet.gradcheck import _generators

    inp = seqnet.Input((T, I), dtype=F64)
    wrapped = seqnet.Bidirectional(seqnet.LSTM(H, recurrent_dropout=0.3, dtype=F64))
    dense = seqnet.Dense(2, dtype=F64)
    model = seqnet.Model(inp, dense(wrapped(inp)))
    found = _generators(model)
    assert len({id(g) for g in found}) == len(found)
    for rng in (model.rng, wrapped.rng, wrapped.fused.rng, wrapped.layer.rng, dense.rng):
        assert any(g is rng for g in found)
    assert not any(g is wrapped.fused.rng for g in model.rngs)   # what it used before
