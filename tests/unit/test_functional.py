"""Functional models (seqnet.Input, layers called on symbolic tensors, seqnet.Model):
the graph runs the layers as a stack does, shared layers sum their gradients, states
flow between layers, models nest, save and load, and bad graphs are named."""

import numpy as np
import pytest

import seqnet
from seqnet import Input, Model
from seqnet.gradcheck import check_gradients

F64 = np.float64


def _data(rng, B=5, T=6, F=3):
    return rng.standard_normal((B, T, F))


# ------------------------------------------------------------------- the graph runs
def test_a_chain_model_is_the_sequential_stack():
    """The same layers (same seeds) as a Model and as a Sequential: the same
    predictions, and the same weights after two epochs of fit (same shuffles)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 7, 3)).astype("f4")
    y = rng.integers(0, 4, 40)

    def layers():
        return [seqnet.LSTM(8, return_sequences=False, seed=1), seqnet.Dropout(0.2, seed=2),
                seqnet.Dense(4, activation="softmax", seed=3)]

    stack = seqnet.Sequential(layers(), seed=0)
    inp = Input(shape=(None, 3))
    out = inp
    for layer in layers():
        out = layer(out)
    model = Model(inp, out, seed=0)
    for m in (stack, model):
        m.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop")
        m.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert list(stack.params) == list(model.params)
    for name in stack.params:
        np.testing.assert_array_equal(stack.params[name], model.params[name], err_msg=name)
    np.testing.assert_array_equal(stack.predict(x), model.predict(x))


def test_symbolic_shapes_and_states_are_batch_first():
    """Calling layers on symbolic tensors gives Keras's shapes: an LSTM's states are
    (None, H); with two layers and two directions, (None, 4, H)."""
    inp = Input(shape=(None, 3))
    out, h, c = seqnet.LSTM(5, return_state=True)(inp)
    assert out.shape == (None, None, 5) and h.shape == c.shape == (None, 5)
    out2, h2 = seqnet.GRU(6, num_layers=2, bidirectional=True, return_state=True,
                          return_sequences=False)(inp)
    assert out2.shape == (None, 12) and h2.shape == (None, 4, 6)
    assert seqnet.Dense(2)(out).shape == (None, None, 2)
    with pytest.raises(TypeError, match="holds no values"):
        np.asarray(out)


def test_a_called_layer_on_arrays_takes_and_gives_batch_first_states():
    """layer(x, initial_state=[h, c]) on arrays is Keras's call: states (B, H),
    the same numbers as forward with PyTorch's (1, B, H)."""
    rng = np.random.default_rng(1)
    lstm = seqnet.LSTM(4, return_state=True, seed=0, dtype=F64)
    x = _data(rng)
    h0, c0 = rng.standard_normal((2, 5, 4))
    out, h, c = lstm(x, initial_state=[h0, c0])
    ref_out, ref_h, ref_c = lstm.forward(x, (h0[None], c0[None]))
    np.testing.assert_array_equal(out, ref_out)
    assert h.shape == (5, 4)
    np.testing.assert_array_equal(h, ref_h[0])
    np.testing.assert_array_equal(c, ref_c[0])


# ------------------------------------------------------------------- gradients
def test_an_encoder_decoder_passes_gradcheck():
    """Encoder LSTM(return_state) -> its [h, c] start a decoder LSTM -> Dense per
    step: every parameter of both LSTMs and the Dense, and both inputs, against
    float64 central differences (the states' gradients flow back into the
    encoder)."""
    rng = np.random.default_rng(2)
    enc_in, dec_in = Input(shape=(None, 3), dtype=F64), Input(shape=(None, 2), dtype=F64)
    _, h, c = seqnet.LSTM(4, return_state=True, seed=1, dtype=F64)(enc_in)
    seq = seqnet.LSTM(4, seed=2, dtype=F64)(dec_in, initial_state=[h, c])
    out = seqnet.Dense(3, activation="tanh", seed=3, dtype=F64)(seq)
    model = Model([enc_in, dec_in], out)
    report = check_gradients(model, [_data(rng, 3, 5, 3), _data(rng, 3, 4, 2)])
    assert set(report.errors) == {*model.params, "x[0]", "x[1]"}
    assert report.passed(1e-6), (report.worst, report.max_error)
    assert np.abs(report.analytic["0.LSTM/weight_hh_l0"]).max() > 1e-3  # reached


def test_a_shared_layer_sums_its_gradients():
    """One LSTM called on two inputs: its gradient is the sum over its two calls
    (checked against central differences), and it is listed once in layers and
    params."""
    rng = np.random.default_rng(3)
    a, b = Input(shape=(None, 3), dtype=F64), Input(shape=(None, 3), dtype=F64)
    shared = seqnet.LSTM(4, return_sequences=False, seed=1, dtype=F64)
    head = seqnet.Dense(2, seed=2, dtype=F64)
    model = Model([a, b], [head(shared(a)), head(shared(b))])
    assert model.layers == [shared, head]
    assert len(model.params) == len(shared.params) + len(head.params)
    xa, xb = _data(rng, 4, 5), _data(rng, 4, 3)
    report = check_gradients(model, [xa, xb])
    assert report.passed(1e-6), (report.worst, report.max_error)
    # the same sum by hand: each call alone, its gradient, added
    total = {k: np.zeros_like(v) for k, v in shared.params.items()}
    R = [rng.standard_normal((4, 2)) for _ in range(2)]
    for x, r in zip((xa, xb), R, strict=True):
        z = shared.forward(x, training=True)
        y = head.forward(z, training=True)
        shared.backward(head.backward(r))
        assert y.shape == r.shape
        for k in total:
            total[k] += shared.grads[k]
    model.forward([xa, xb], training=True)
    model.backward(R)
    for k in total:
        np.testing.assert_allclose(shared.grads[k], total[k], rtol=1e-12, atol=1e-14)


def test_models_nest_and_a_nested_model_can_be_shared():
    """A model used as a layer, twice: gradcheck of the outer model."""
    rng = np.random.default_rng(4)
    inner_in = Input(shape=(None, 3), dtype=F64)
    inner = Model(inner_in, seqnet.Dense(3, activation="tanh", seed=1, dtype=F64)(inner_in))
    x = Input(shape=(None, 3), dtype=F64)
    y = seqnet.GRU(2, seed=2, dtype=F64)(inner(inner(x)))
    outer = Model(x, y)
    assert outer.layers[0] is inner
    assert "0.Model/0.Dense/weight" in outer.params
    report = check_gradients(outer, _data(rng, 3, 4))
    assert report.passed(1e-6), (report.worst, report.max_error)


def test_index_input_and_dropout_are_checked_in_a_graph():
    """Integer tokens into an Embedding, dropout between (its mask fixed by the
    check): every parameter's gradient."""
    rng = np.random.default_rng(5)
    tokens = Input(shape=(None,), dtype="int64")
    h = seqnet.Embedding(7, 3, seed=1, dtype=F64)(tokens)
    h = seqnet.Dropout(0.3, seed=2)(h)
    h = seqnet.LSTM(4, return_sequences=False, seed=3, dtype=F64)(h)
    model = Model(tokens, seqnet.Dense(2, seed=4, dtype=F64)(h))
    report = check_gradients(model, rng.integers(0, 7, (3, 5)))
    assert "x" not in report.errors   # indices have no gradient
    assert report.passed(1e-6), (report.worst, report.max_error)


# ------------------------------------------------------------------- masks
def test_lengths_leave_padded_steps_out_of_the_loss():
    """fit/evaluate with lengths=: padded targets do not count (they hold labels out
    of range), and the loss equals the masked mean computed by hand."""
    rng = np.random.default_rng(6)
    inp = Input(shape=(None, 3))
    out = seqnet.Dense(4, activation="softmax", seed=2)(seqnet.LSTM(5, seed=1)(inp))
    model = Model(inp, out, seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x = rng.standard_normal((6, 5, 3)).astype("f4")
    lengths = np.array([5, 2, 3, 1, 4, 5])
    y = rng.integers(0, 4, (6, 5))
    valid = np.arange(5)[None] < lengths[:, None]
    y_bad = np.where(valid, y, 99)
    result = model.evaluate(x, y_bad, lengths=lengths)["loss"]
    probs = model.predict(x, lengths=lengths)
    picked = np.take_along_axis(probs, y[..., None], axis=-1)[..., 0]
    expected = -np.log(picked[valid]).mean()
    assert result == pytest.approx(expected, rel=1e-5)
    model.fit(x, y_bad, lengths=lengths, epochs=1, batch_size=3, verbose=0)
    assert all(np.isfinite(p).all() for p in model.params.values())


def test_embedding_mask_zero_gives_the_lengths():
    """Embedding(mask_zero=True): the same loss as explicit lengths on the same
    tokens (padding 0 at the end of each row)."""
    rng = np.random.default_rng(7)

    def build():
        tokens = Input(shape=(None,), dtype="int64")
        h = seqnet.Embedding(6, 3, mask_zero=True, seed=1)(tokens)
        out = seqnet.Dense(4, activation="softmax", seed=3)(seqnet.LSTM(5, seed=2)(h))
        m = Model(tokens, out)
        m.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
        return m

    lengths = np.array([4, 2, 3])
    x = rng.integers(1, 6, (3, 4))
    x[np.arange(4)[None] >= lengths[:, None]] = 0
    y = rng.integers(0, 4, (3, 4))
    masked = build().evaluate(x, y)["loss"]
    explicit = build().evaluate(x, y, lengths=lengths)["loss"]
    assert masked == pytest.approx(explicit, rel=1e-6)
    holes = x.copy()
    holes[0, 1] = 0
    with pytest.raises(ValueError, match="Embedding"):
        build().evaluate(holes, y)


# ------------------------------------------------------------------- bad graphs
def test_a_layer_on_the_wrong_shape_fails_when_the_graph_is_built():
    """The layer and both shapes are named, before any data runs."""
    inp = Input(shape=(None, 5))
    with pytest.raises(ValueError, match=r"LSTM.*\(None, None, 5\).*input_size 4"):
        seqnet.LSTM(8, input_size=4)(inp)
    vec = Input(shape=(5,))
    with pytest.raises(ValueError, match=r"GRU.*\(None, 5\)"):
        seqnet.GRU(3)(vec)
    with pytest.raises(TypeError, match="Embedding takes integer"):
        seqnet.Embedding(4, 2)(inp)
    with pytest.raises(ValueError, match="training= is given when the model runs"):
        seqnet.Dense(2)(inp, training=True)
    with pytest.raises(TypeError, match=r"initial_state\[0\] must be a symbolic tensor"):
        seqnet.LSTM(2)(inp, initial_state=[np.zeros((1, 2)), None])
    with pytest.raises(TypeError, match="takes one input, got a list of 2"):
        seqnet.Dense(2)([inp, inp])


def test_disconnected_inputs_foreign_inputs_and_cycles_are_refused():
    a, b = Input(shape=(None, 3), name="a"), Input(shape=(None, 3), name="b")
    out = seqnet.LSTM(2)(a)
    with pytest.raises(ValueError, match=r"inputs\[1\] \(b\) is not connected"):
        Model([a, b], out)
    with pytest.raises(ValueError, match=r"disconnected: outputs\[0\].*depends on a"):
        Model(b, out)
    with pytest.raises(ValueError, match="made by .*not by seqnet.Input"):
        Model(out, out)
    loop = seqnet.Dense(3)(a)
    loop.node.inputs = [loop]   # only surgery makes one
    with pytest.raises(ValueError, match="cycle"):
        Model(a, loop)
    with pytest.raises(TypeError, match=r"outputs\[0\] must be a symbolic tensor"):
        Model(a, np.zeros(3))


def test_inputs_targets_and_lengths_of_different_lengths_are_named():
    a, b = Input(shape=(None, 3)), Input(shape=(None, 2))
    out = seqnet.Dense(2, activation="softmax")(seqnet.LSTM(4, return_sequences=False)(a))
    gate = seqnet.Dense(2, activation="softmax")(seqnet.LSTM(4, return_sequences=False)(b))
    model = Model([a, b], [out, gate])
    model.compile(loss="sparse_categorical_crossentropy")
    x = [np.zeros((8, 5, 3), "f4"), np.zeros((7, 5, 2), "f4")]
    y = [np.zeros(8, int), np.zeros(8, int)]
    with pytest.raises(ValueError, match=r"x\[0\] and x\[1\] must have the same number of "
                                         r"samples, got 8 and 7"):
        model.fit(x, y, verbose=0)
    x[1] = np.zeros((8, 5, 2), "f4")
    with pytest.raises(ValueError, match=r"x\[0\] and y\[1\] .* got 8 and 6"):
        model.fit(x, [y[0], y[1][:6]], verbose=0)
    with pytest.raises(ValueError, match=r"x\[0\] and lengths\[0\] .* got 8 and 3"):
        model.fit(x, y, lengths=[np.ones(3, int), None], verbose=0)
    with pytest.raises(ValueError, match=r"x\[1\] must have shape \(None, None, 2\)"):
        model.predict([x[0], np.zeros((8, 5, 3), "f4")])
    with pytest.raises(TypeError, match="a list of 2 arrays"):
        model.predict(x[0])


# ------------------------------------------------------------------- training, files
def _translator(seed=0):
    enc_in, dec_in = Input(shape=(None,), dtype="int64"), Input(shape=(None,), dtype="int64")
    e = seqnet.Embedding(9, 4, seed=seed + 1)(enc_in)
    _, h, c = seqnet.LSTM(6, return_state=True, seed=seed + 2)(e)
    d = seqnet.Embedding(9, 4, seed=seed + 3)(dec_in)
    seq = seqnet.LSTM(6, seed=seed + 4)(d, initial_state=[h, c])
    seq = seqnet.Dropout(0.1, seed=seed + 5)(seq)
    probs = seqnet.Dense(9, activation="softmax", seed=seed + 6)(seq)
    model = Model([enc_in, dec_in], probs, seed=seed, name="translator")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    return model


def test_a_functional_model_saves_loads_and_resumes_bit_for_bit(tmp_path):
    """Save after an epoch, load: the same predictions, parameters and optimiser
    state; one more epoch on each gives the same weights (the same shuffles and
    dropout masks)."""
    rng = np.random.default_rng(8)
    src, tgt = rng.integers(0, 9, (24, 5)), rng.integers(0, 9, (24, 6))
    model = _translator()
    model.fit([src, tgt[:, :-1]], tgt[:, 1:], batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "translator.npz"
    model.save(path)
    loaded = seqnet.load_model(path)
    assert type(loaded) is Model and loaded.name == "translator"
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict([src, tgt[:, :-1]]),
                                  model.predict([src, tgt[:, :-1]]))
    for m in (model, loaded):
        m.fit([src, tgt[:, :-1]], tgt[:, 1:], batch_size=8, epochs=1, verbose=0)
    for name in model.params:
        np.testing.assert_array_equal(loaded.params[name], model.params[name], err_msg=name)
    other = _translator(seed=10)
    other.load_weights(path)
    np.testing.assert_array_equal(other.params["0.Embedding/weight"],
                                  seqnet.load_model(path).params["0.Embedding/weight"])


def test_load_weights_refuses_a_graph_wired_otherwise(tmp_path):
    a = Input(shape=(None, 3))
    l1, l2 = seqnet.LSTM(3, seed=1), seqnet.LSTM(3, seed=2)
    Model(a, l2(l1(a))).save(tmp_path / "m.npz")
    b = Input(shape=(None, 3))
    k1, k2 = seqnet.LSTM(3, seed=1), seqnet.LSTM(3, seed=2)
    crossed = Model(b, [k1(b), k2(b)])
    with pytest.raises(ValueError, match="connected otherwise|another architecture"):
        crossed.load_weights(tmp_path / "m.npz")


def test_summary_shows_the_graph():
    model = _translator()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert 'Model "translator"' in text and "Connected to" in text
    assert "(Input)" in text and "state 2.LSTM[1], state 2.LSTM[2]" in text
    assert f"Total params: {model.num_parameters:,}" in text
    assert model.num_parameters == sum(p.size for p in model.params.values())


def test_backward_needs_a_training_forward():
    a = Input(shape=(None, 3))
    model = Model(a, seqnet.LSTM(2)(a))
    model.forward(np.zeros((1, 2, 3), "f4"))
    with pytest.raises(ValueError, match="forward\\(..., training=True\\) first"):
        model.backward(np.zeros((1, 2, 2), "f4"))
    with pytest.raises(TypeError, match="no state of its own"):
        model.forward(np.zeros((1, 2, 3), "f4"), [np.zeros((1, 2))])


# ------------------------------------------------------------------- losses, metrics
def _two_headed(seed=0):
    a = Input(shape=(None, 3))
    h = seqnet.LSTM(5, return_sequences=False, seed=seed + 1)(a)
    cls = seqnet.Dense(4, activation="softmax", seed=seed + 2)(h)
    flag = seqnet.Dense(1, activation="sigmoid", seed=seed + 3)(h)
    return Model(a, [cls, flag], seed=seed)


def test_one_loss_per_output_weighted_and_named():
    """evaluate's loss is sum_k w_k L_k with each L_k the loss of its output (and
    its sample weights), each reported as output_<k>_loss; metrics per output."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((10, 4, 3)).astype("f4")
    y = [rng.integers(0, 4, 10), rng.integers(0, 2, (10, 1)).astype("f4")]
    sw = rng.uniform(0.1, 2.0, 10)
    model = _two_headed()
    model.compile(loss=["sparse_categorical_crossentropy", "binary_crossentropy"],
                  loss_weights=[0.7, 2.0], metrics=[["accuracy"], ["binary_accuracy"]])
    result = model.evaluate(x, y, batch_size=4, sample_weight=[sw, None])
    probs, flag = model.predict(x)
    l0 = seqnet.losses.SparseCategoricalCrossentropy().forward(probs, y[0], sample_weight=sw)
    l1 = seqnet.losses.BinaryCrossentropy().forward(flag, y[1])
    assert result["output_0_loss"] == pytest.approx(l0, rel=1e-5)
    assert result["output_1_loss"] == pytest.approx(l1, rel=1e-5)
    assert result["loss"] == pytest.approx(0.7 * l0 + 2.0 * l1, rel=1e-5)
    assert result["output_0_accuracy"] == pytest.approx(np.mean(probs.argmax(-1) == y[0]))
    assert result["output_1_binary_accuracy"] == pytest.approx(
        np.mean((flag > 0.5) == (y[1] > 0.5)))
    history = model.fit(x, y, epochs=1, batch_size=5, validation_split=0.2, verbose=0)
    assert {"output_0_accuracy", "val_output_1_binary_accuracy",
            "val_output_0_loss"} <= set(history.history)
    with pytest.raises(ValueError, match="loss_weights must be a list of 2"):
        model.compile(loss="mse", loss_weights=[1.0])
    with pytest.raises(ValueError, match="a list of 2"):
        model.compile(loss=["mse"])
    with pytest.raises(ValueError, match=r"sample_weight\[1\]"):
        model.evaluate(x, y, sample_weight=[sw, np.ones(3)])


@pytest.mark.parametrize("activation, loss, targets", [
    ("sigmoid", "binary_crossentropy", lambda rng: rng.integers(0, 2, (4, 1)).astype("f8")),
    ("softmax", "sparse_categorical_crossentropy", lambda rng: rng.integers(0, 3, 4)),
])
def test_a_final_activation_is_fused_with_its_loss_and_the_gradient_is_exact(activation, loss,
                                                                             targets):
    """Training runs the loss on the logits (sigmoid + binary cross-entropy,
    softmax + cross-entropy): its gradient equals central differences of the
    compiled loss on the model's probabilities."""
    rng = np.random.default_rng(10)
    a = Input(shape=(None, 3), dtype=F64)
    h = seqnet.GRU(4, return_sequences=False, seed=1, dtype=F64)(a)
    units = 1 if activation == "sigmoid" else 3
    model = Model(a, seqnet.Dense(units, activation=activation, seed=2, dtype=F64)(h))
    model.compile(loss=loss, optimizer="sgd")
    assert model._fused()
    x, y = rng.standard_normal((4, 5, 3)), targets(rng)
    fn = model._loss_for_training()
    assert fn.from_logits
    fn.forward(model._forward(x, True, logits=True), y)
    model._backward(fn.backward())
    analytic = {k: v.copy() for k, v in model.grads.items()}
    for name, p in model.params.items():
        numeric = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            orig = p[idx]
            p[idx] = orig + 1e-6
            up = model.evaluate(x, y)["loss"]
            p[idx] = orig - 1e-6
            down = model.evaluate(x, y)["loss"]
            p[idx] = orig
            numeric[idx] = (up - down) / 2e-6
        assert seqnet.gradcheck.relative_error(analytic[name], numeric) < 1e-6, name


def test_metrics_leave_padded_steps_out():
    """A per-step accuracy under lengths counts only valid steps."""
    rng = np.random.default_rng(11)
    a = Input(shape=(None, 3))
    model = Model(a, seqnet.Dense(3, activation="softmax", seed=2)(seqnet.GRU(4, seed=1)(a)))
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy", "bits_per_token"])
    x = rng.standard_normal((5, 6, 3)).astype("f4")
    lengths = np.array([6, 1, 3, 4, 2])
    y = rng.integers(0, 3, (5, 6))
    result = model.evaluate(x, y, lengths=lengths, batch_size=2)
    probs = model.predict(x, lengths=lengths)
    valid = np.arange(6)[None] < lengths[:, None]
    assert result["accuracy"] == pytest.approx(np.mean((probs.argmax(-1) == y)[valid]))
    picked = np.take_along_axis(probs, y[..., None], -1)[..., 0][valid]
    assert result["bits_per_token"] == pytest.approx(-np.log2(picked).mean(), rel=1e-5)
    assert result["bits_per_token"] == pytest.approx(result["loss"] / np.log(2), rel=1e-5)


def test_attention_bidirectional_and_merges_in_one_graph():
    """AdditiveAttention (its scores an output), a Bidirectional LSTM whose merge
    is left to a Concatenate and whose backward states start a decoder: the whole
    graph against central differences, without and with lengths (padding NaN)."""
    rng = np.random.default_rng(12)
    q, v = Input(shape=(None, 4), dtype=F64), Input(shape=(None, 4), dtype=F64)
    context, scores = seqnet.AdditiveAttention(dtype=F64, seed=1)(
        [q, v], return_attention_scores=True)
    assert scores.shape == (None, None, None)
    fwd, bwd, fh, fc, bh, bc = seqnet.Bidirectional(
        seqnet.LSTM(5, return_state=True, dtype=F64, seed=2), merge_mode=None)(q)
    assert fwd.shape == bwd.shape == (None, None, 5) and bh.shape == (None, 5)
    joined = seqnet.Concatenate()([context, fwd, bwd])
    out = seqnet.LSTM(5, dtype=F64, seed=3)(joined, initial_state=[bh, bc])
    model = Model([q, v], [out, scores])
    xq, xv = rng.standard_normal((3, 4, 4)), rng.standard_normal((3, 5, 4))
    report = check_gradients(model, [xq, xv])
    assert report.passed(1e-6), (report.worst, report.max_error)
    lengths = [np.array([4, 2, 3]), np.array([5, 1, 3])]
    xq[1, 2:] = np.nan
    xv[1, 1:] = np.nan
    report = check_gradients(model, [xq, xv], lengths=lengths)
    assert report.passed(1e-6), (report.worst, report.max_error)
