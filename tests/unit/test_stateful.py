"""Stateful layers and truncated backpropagation through time.

A stateful layer (``stateful=True``) starts each forward that gets no initial
state from the final state of its previous forward, row for row, and the gradient
stops at that carried state. These tests show: chunks of a sequence run one after
another give exactly the forward of the whole sequence; the gradient of a chunk
is the gradient with the carried state as a constant; the stream layout of
`seqnet.text.stream_batches` / `stream_arrays`; and how models, ``fit``,
``evaluate``, ``predict``, files and generation treat the carried state. The
PyTorch comparison of the truncated gradient is in tests/parity/test_torch_tbptt.py.
"""

import numpy as np
import pytest

import seqnet
from seqnet import generate, text
from seqnet.callbacks import Callback

CELLS = (seqnet.LSTM, seqnet.GRU, seqnet.SimpleRNN)
#: chunk boundaries of a 12-step sequence: equal, ragged, one step at a time.
SPLITS = ((0, 4, 8, 12), (0, 5, 6, 12), (0, 1, 2, 3, 11, 12), tuple(range(13)))
F64 = np.float64


def _chunks(x, cuts):
    return [x[:, a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


# ------------------------------------------------------------- forward equality
@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cuts", SPLITS, ids=lambda c: f"{len(c) - 1}chunks")
def test_chunks_with_the_state_carried_give_the_whole_sequence(cls, num_layers, cuts):
    """Float64: the outputs of the chunks, concatenated, and the carried state after
    the last chunk are those of one forward over the whole sequence (same
    arithmetic in the same order: equal to the last bit); training forwards carry
    the same state as inference ones."""
    x = np.random.default_rng(0).standard_normal((3, 12, 4))
    whole = cls(5, num_layers=num_layers, return_state=True, dtype=F64, seed=1)
    ref, *final = whole.forward(x)
    for training in (False, True):
        layer = cls(5, num_layers=num_layers, stateful=True, dtype=F64, seed=1)
        outs = []
        for chunk in _chunks(x, cuts):
            outs.append(layer.forward(chunk, training=training))
            if training:
                layer.backward(np.ones_like(outs[-1]))
        np.testing.assert_array_equal(np.concatenate(outs, axis=1), ref)
        for carried, f in zip(layer.states, final, strict=True):
            np.testing.assert_array_equal(carried, f)


def test_index_input_and_last_step_outputs_carry_too():
    """Index input and ``return_sequences=False``: the last chunk's output is the
    whole sequence's last output."""
    x = np.random.default_rng(1).integers(0, 6, (2, 9))
    whole = seqnet.LSTM(4, input_size=6, return_sequences=False, dtype=F64, seed=0)
    layer = seqnet.LSTM(4, input_size=6, return_sequences=False, stateful=True, dtype=F64,
                        seed=0)
    for chunk in _chunks(x, (0, 3, 9)):
        out = layer.forward(chunk)
    np.testing.assert_array_equal(out, whole.forward(x))


def test_with_lengths_a_row_carries_its_state_at_its_last_valid_step():
    """With ``lengths`` the carried state of each row is the kernels' final state:
    the state at that row's last valid step."""
    x = np.random.default_rng(2).standard_normal((3, 5, 2))
    lengths = np.array([5, 2, 3])
    ref = seqnet.GRU(3, return_state=True, dtype=F64, seed=0).forward(x, lengths=lengths)
    layer = seqnet.GRU(3, stateful=True, dtype=F64, seed=0)
    layer.forward(x, lengths=lengths)
    np.testing.assert_array_equal(layer.states[0], ref[1])
    short = seqnet.GRU(3, return_state=True, dtype=F64, seed=0).forward(x[1:2, :2])
    np.testing.assert_array_equal(layer.states[0][:, 1:2], short[1])


# ------------------------------------------------------------- truncated gradient
@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_the_carried_state_is_a_constant_for_the_gradient(cls):
    """A chunk's gradients are those of the same chunk given the carried state as an
    ``initial_state`` whose own gradient is dropped; ``backward`` returns ``dx``
    alone (the carried state is no input), so nothing flows into the previous
    batch."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 8, 3))
    layer = cls(4, num_layers=2, stateful=True, dtype=F64, seed=5)
    other = cls(4, num_layers=2, dtype=F64, seed=5)
    for chunk in _chunks(x, (0, 3, 8)):
        state = layer.states
        out = layer.forward(chunk, training=True)
        dout = rng.standard_normal(out.shape)
        dx = layer.backward(dout)
        assert isinstance(dx, np.ndarray)
        other.forward(chunk, state, training=True)
        dx_ref = other.backward(dout)
        dx_ref = dx_ref[0] if isinstance(dx_ref, list) else dx_ref
        np.testing.assert_array_equal(dx, dx_ref)
        for name, g in layer.grads.items():
            np.testing.assert_array_equal(g, other.grads[name])


def test_a_given_initial_state_is_used_and_its_gradient_flows():
    """A stateful layer given an ``initial_state`` takes it (not the carried one),
    returns its gradient, and carries the final state on."""
    x = np.ones((2, 4, 3))
    h0 = np.full((1, 2, 5), 0.3)
    layer = seqnet.SimpleRNN(5, stateful=True, dtype=F64, seed=0)
    layer.forward(x)
    out = layer.forward(x, h0, training=True)
    ref = seqnet.SimpleRNN(5, return_state=True, dtype=F64, seed=0).forward(x, h0)
    np.testing.assert_array_equal(out, ref[0])
    np.testing.assert_array_equal(layer.states[0], ref[1])
    dx, dh0 = layer.backward(np.ones_like(out))
    assert dh0.shape == h0.shape and np.abs(dh0).sum() > 0


# ------------------------------------------------------------------ layer errors
def test_a_different_batch_size_names_both_and_reset_states_allows_it():
    layer = seqnet.LSTM(3, stateful=True, seed=0)
    layer.forward(np.ones((4, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"batch size 4 but got a batch of 3"):
        layer.forward(np.ones((3, 2, 2), np.float32))
    assert layer.states[0].shape == (1, 4, 3)   # unchanged by the refused call
    layer.reset_states()
    assert layer.states is None
    layer.forward(np.ones((3, 2, 2), np.float32))
    assert layer.states[0].shape == (1, 3, 3)


def test_stateful_and_bidirectional_are_refused_naming_both():
    with pytest.raises(ValueError, match="stateful=True and bidirectional=True"):
        seqnet.GRU(3, stateful=True, bidirectional=True)
    with pytest.raises(ValueError, match="stateful=True and bidirectional=True"):
        seqnet.Bidirectional(seqnet.LSTM(3, stateful=True))
    with pytest.raises(TypeError, match="stateful"):
        seqnet.LSTM(3, stateful=1)


def test_the_carried_state_is_a_copy_and_zeros_after_reset():
    """Modifying the returned final state (``return_state``) does not change the
    carried state; after `reset_states` the layer starts from zeros again."""
    x = np.random.default_rng(4).standard_normal((2, 3, 2))
    layer = seqnet.LSTM(3, return_state=True, stateful=True, dtype=F64, seed=0)
    first, h, c = layer.forward(x)
    kept = [a.copy() for a in layer.states]
    h[...] = 7.0
    c[...] = 7.0
    for a, b in zip(layer.states, kept, strict=True):
        np.testing.assert_array_equal(a, b)
    second = layer.forward(x)[0]
    assert not np.allclose(first, second)
    layer.reset_states()
    np.testing.assert_array_equal(layer.forward(x)[0], first)


# ------------------------------------------------------------------ stream layout
def test_stream_batches_rows_continue_and_targets_are_shifted_by_one():
    ids = np.arange(103)
    pairs = list(text.stream_batches(ids, batch_size=4, steps=6))
    L = 103 // 4
    streams = ids[:4 * L].reshape(4, L)
    assert len(pairs) == -(-(L - 1) // 6)
    np.testing.assert_array_equal(np.concatenate([p[0] for p in pairs], axis=1),
                                  streams[:, :-1])
    np.testing.assert_array_equal(np.concatenate([p[1] for p in pairs], axis=1),
                                  streams[:, 1:])
    for x, y in pairs:
        np.testing.assert_array_equal(y[:, :-1], x[:, 1:])
    assert pairs[-1][0].shape == (4, (L - 1) % 6 or 6)
    for r in range(4):   # stream r is ids[r*L:(r+1)*L]
        assert pairs[0][0][r, 0] == r * L


def test_stream_arrays_batch_k_plus_1_row_r_continues_batch_k_row_r():
    ids = np.arange(1000) % 97
    B, steps = 5, 7
    X, Y = text.stream_arrays(ids, B, steps)
    L = len(ids) // B
    n = (L - 1) // steps
    assert X.shape == Y.shape == (n * B, steps) and X.dtype == np.int32
    for k in range(n - 1):
        for r in range(B):
            row, nxt = k * B + r, (k + 1) * B + r
            assert X[nxt, 0] == Y[row, -1]   # the next window starts where this ends
            np.testing.assert_array_equal(X[row], ids[r * L + k * steps:
                                                      r * L + (k + 1) * steps])
    np.testing.assert_array_equal(Y[:, :-1], X[:, 1:])
    pairs = list(text.stream_batches(ids, B, steps))
    for k in range(n):
        np.testing.assert_array_equal(X[k * B:(k + 1) * B], pairs[k][0])
        np.testing.assert_array_equal(Y[k * B:(k + 1) * B], pairs[k][1])


@pytest.mark.parametrize("fn", [text.stream_batches, text.stream_arrays])
def test_stream_arguments_are_checked_by_name(fn):
    with pytest.raises(ValueError, match=r"ids has 20 tokens.*batch_size=4.*steps \+ 1 = 6"):
        fn(np.arange(20), 4, 5)
    with pytest.raises(ValueError, match="batch_size"):
        fn(np.arange(20), 0, 2)
    with pytest.raises(ValueError, match="steps"):
        fn(np.arange(20), 2, 0)
    with pytest.raises(TypeError, match="steps"):
        fn(np.arange(20), 2, 1.5)
    with pytest.raises(TypeError, match="ids"):
        fn("some text", 2, 2)
    with pytest.raises(ValueError, match="1-D"):
        fn(np.zeros((4, 6), int), 2, 2)
    fn(np.arange(24), 4, 5)   # exactly batch_size * (steps + 1) is enough


# ----------------------------------------------------------------------- models
def _stream_model(V=7, H=6, seed=0, dtype=np.float32):
    model = seqnet.Sequential([
        seqnet.LSTM(H, input_size=V, stateful=True, dtype=dtype, seed=seed),
        seqnet.Dense(V, activation="softmax", dtype=dtype, seed=seed + 1),
    ], seed=seed)
    model.compile("sparse_categorical_crossentropy", "rmsprop")
    return model


def test_model_reset_states_reaches_nested_models():
    inner_in = seqnet.Input(shape=(None, 2))
    inner = seqnet.Model(inner_in, seqnet.GRU(3, stateful=True, seed=0)(inner_in))
    inp = seqnet.Input(shape=(None, 2))
    h = inner(inp)
    out = seqnet.SimpleRNN(4, stateful=True, seed=1)(h)
    model = seqnet.Model(inp, out)
    outer = seqnet.Sequential([model])
    assert outer.stateful and model.stateful and not seqnet.Sequential(
        [seqnet.LSTM(2, input_size=2)]).stateful
    outer.forward(np.ones((2, 3, 2), np.float32))
    gru, rnn = inner.layers[0], model.layers[-1]
    assert gru.states is not None and rnn.states is not None
    outer.reset_states()
    assert gru.states is None and rnn.states is None


def test_a_functional_graph_carries_the_state_between_calls():
    """In a graph (no state passed) the stateful layer continues from its previous
    call; the graph's gradient reaches only the current chunk."""
    x = np.random.default_rng(5).standard_normal((2, 6, 3))
    inp = seqnet.Input(shape=(None, 3), dtype="float64")
    out = seqnet.Dense(2, dtype=F64, seed=1)(seqnet.LSTM(4, stateful=True, dtype=F64,
                                                         seed=0)(inp))
    model = seqnet.Model(inp, out)
    ref = seqnet.Dense(2, dtype=F64, seed=1).forward(
        seqnet.LSTM(4, dtype=F64, seed=0).forward(x))
    first = model.forward(x[:, :2], training=True)
    dx = model.backward(np.ones_like(first))
    assert dx.shape == (2, 2, 3)
    second = model.forward(x[:, 2:])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), ref, rtol=1e-13,
                               atol=1e-14)


class _StatesAtEpochBegin(Callback):
    def __init__(self, layer):
        self.layer, self.seen = layer, []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(self.layer.states)

    def on_batch_end(self, batch, logs=None):
        self.seen.append(self.layer.states)


def test_fit_resets_the_states_every_epoch_and_carries_them_between_batches():
    ids = np.random.default_rng(6).integers(0, 7, 400)
    X, Y = text.stream_arrays(ids, 4, 5)
    model = _stream_model()
    lstm = model.layers[0]
    lstm.forward(np.ones((4, 5), np.int64))   # a state left from before
    cb = _StatesAtEpochBegin(lstm)
    model.fit(X, Y, batch_size=4, epochs=2, shuffle=False, callbacks=[cb], verbose=0)
    batches = len(X) // 4
    starts = [cb.seen[0], cb.seen[batches + 1]]
    assert starts == [None, None]   # zeros at the start of epochs 1 and 2
    assert all(s is not None and s[0].shape == (1, 4, 6) for s in cb.seen[1:batches + 1])
    assert lstm.states is not None   # without validation: the last batch's state


def test_fit_refuses_shuffle_and_a_batch_size_that_does_not_divide():
    ids = np.random.default_rng(7).integers(0, 7, 300)
    X, Y = text.stream_arrays(ids, 4, 5)
    model = _stream_model()
    with pytest.raises(ValueError, match="shuffle=True with a stateful model"):
        model.fit(X, Y, batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=rf"batch_size=5 does not divide {len(X)}"):
        model.fit(X, Y, batch_size=5, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match="batch_size=4 does not divide 6.*validation"):
        model.fit(X, Y, batch_size=4, shuffle=False, verbose=0,
                  validation_data=(X[:6], Y[:6]))
    with pytest.raises(ValueError, match="batch_size=3 does not divide"):
        model.evaluate(X, Y, batch_size=3)
    with pytest.raises(ValueError, match="batch_size=3 does not divide"):
        model.predict(X, batch_size=3)
    history = model.fit(X, Y, batch_size=4, shuffle=False, verbose=0,
                        validation_data=(X[:8], Y[:8]))
    assert np.isfinite(history.history["val_loss"][0])
    assert model.layers[0].states is None   # validation resets after its pass


def test_evaluate_and_predict_start_from_zeros_and_leave_zeros():
    """The result of evaluate / predict does not depend on a state left before, is
    the stream's own (each batch continuing the last), and leaves none behind."""
    ids = np.random.default_rng(8).integers(0, 7, 300)
    X, Y = text.stream_arrays(ids, 3, 4)
    model = _stream_model(dtype=F64)
    first = model.evaluate(X, Y, batch_size=3)["loss"]
    probs = model.predict(X, batch_size=3)
    model.forward(X[:3])
    assert model.evaluate(X, Y, batch_size=3)["loss"] == first
    model.forward(X[:3])
    np.testing.assert_array_equal(model.predict(X, batch_size=3), probs)
    assert model.layers[0].states is None
    # the stream's probabilities: one stateless pass over each whole stream
    plain = seqnet.Sequential([seqnet.LSTM(6, input_size=7, dtype=F64, seed=0),
                               seqnet.Dense(7, activation="softmax", dtype=F64, seed=1)])
    L = len(ids) // 3
    n = len(X) // 3
    whole = plain.predict(ids[:3 * L].reshape(3, L)[:, :n * 4])
    streamed = probs.reshape(n, 3, 4, 7).transpose(1, 0, 2, 3).reshape(3, n * 4, 7)
    np.testing.assert_allclose(streamed, whole, rtol=1e-12, atol=1e-14)


def test_step_and_generation_ignore_the_carried_state():
    """`Sequential.step` passes its states itself: a stateful model steps as the
    same model without state does, and its carried state is left alone;
    generate_text runs on it with both methods."""
    model = _stream_model()
    plain = seqnet.Sequential([seqnet.LSTM(6, input_size=7, seed=0),
                               seqnet.Dense(7, activation="softmax", seed=1)])
    model.forward(np.ones((4, 3), np.int64))
    kept = [a.copy() for a in model.layers[0].states]
    out, states = model.step(np.array([1, 2]))
    out2, _ = model.step(np.array([3, 4]), states)
    ref, ref_states = plain.step(np.array([1, 2]))
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(out2, plain.step(np.array([3, 4]), ref_states)[0])
    for a, b in zip(model.layers[0].states, kept, strict=True):
        np.testing.assert_array_equal(a, b)
    model.metadata = {"vocabulary": text.CharVocabulary.from_text("abcdefg").to_config(),
                      "maxlen": 4}
    for method in ("stream", "window"):
        sample = generate.generate_text(model, "abcdefg", 5, seed=0, method=method)
        assert len(sample) == 5


def test_a_stateful_model_saves_its_config_but_not_its_state(tmp_path):
    model = _stream_model()
    ids = np.random.default_rng(9).integers(0, 7, 200)
    X, Y = text.stream_arrays(ids, 2, 5)
    model.fit(X, Y, batch_size=2, shuffle=False, verbose=0)
    assert model.layers[0].states is not None
    path = tmp_path / "stream.npz"
    model.save(path)
    loaded = seqnet.load_model(path)
    lstm = loaded.layers[0]
    assert lstm.stateful and lstm.get_config() == model.layers[0].get_config()
    assert lstm.states is None
    np.testing.assert_array_equal(loaded.predict(X, batch_size=2),
                                  model.predict(X, batch_size=2))


def test_stream_arrays_refuses_negative_ids():
    with pytest.raises(ValueError, match=r"ids must be token indices.*got values in \[-1, 8\]"):
        text.stream_arrays(np.arange(-1, 10), 2, 2)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_the_truncated_gradient_passes_central_differences(cls):
    """Float64 central differences of ``sum(R * out)`` for the second chunk, with
    the carried state restored before every forward (a constant), against the
    analytic gradients of every parameter and of ``x``: relative error (max norm)
    below 1e-6."""
    from seqnet.gradcheck import relative_error
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 7, 3))
    layer = cls(3, num_layers=2, stateful=True, dtype=F64, seed=2)
    layer.forward(x[:, :3])
    carried = layer.states
    chunk = x[:, 3:].copy()
    R = rng.standard_normal((2, 4, 3))

    def loss():
        layer._carried = tuple(a.copy() for a in carried)
        return float(np.sum(R * layer.forward(chunk, training=True)))

    loss()
    analytic = {"x": layer.backward(R), **{k: v.copy() for k, v in layer.grads.items()}}
    targets = {"x": chunk, **layer.params}
    eps, worst = 1e-6, 0.0
    for name, arr in targets.items():
        num = np.zeros(arr.shape)
        for idx in np.ndindex(arr.shape):
            orig = arr[idx]
            arr[idx] = orig + eps
            up = loss()
            arr[idx] = orig - eps
            down = loss()
            arr[idx] = orig
            num[idx] = (up - down) / (2 * eps)
        worst = max(worst, relative_error(analytic[name], num))
    print(f"{cls.__name__}: worst relative error {worst:.2e}")
    assert worst < 1e-6


def _decoder_step(stateful):
    V, H = 6, 5
    tokens = seqnet.Input(shape=(None,), dtype="int64")
    h_in, c_in = seqnet.Input(shape=(H,), dtype=F64), seqnet.Input(shape=(H,), dtype=F64)
    emb = seqnet.Embedding(V, 4, seed=1, dtype=F64)
    lstm = seqnet.LSTM(H, return_state=True, stateful=stateful, seed=2, dtype=F64)
    out, h, c = lstm(emb(tokens), initial_state=[h_in, c_in])
    head = seqnet.Dense(V, activation="softmax", seed=3, dtype=F64)
    return seqnet.Model([tokens, h_in, c_in], [head(out), h, c])


def test_beam_search_through_a_stateful_decoder_is_unchanged():
    """A decoder step passes its states explicitly (the beams change the batch size
    from step to step): a stateful LSTM there decodes exactly as a plain one."""
    from seqnet import decode
    rng = np.random.default_rng(11)
    states = [rng.uniform(-1, 1, (2, 5)), rng.uniform(-1, 1, (2, 5))]
    results = []
    for stateful in (False, True):
        step = _decoder_step(stateful)
        step.forward([np.ones((3, 1), np.int64), *[np.zeros((3, 5))] * 2])   # a state left
        results.append(decode.beam_search(step, states, start=1, end=2, max_length=6,
                                          width=3))
    for name in ("tokens", "lengths", "scores"):
        np.testing.assert_array_equal(getattr(results[0], name), getattr(results[1], name))
