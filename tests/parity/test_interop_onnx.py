"""seqnet.interop.export_onnx, with onnxruntime as the oracle.

Every model gets random weights and biases (never zero); onnxruntime runs the
exported file, and its outputs (and final states, with ``states=True``) must equal
seqnet's within 1e-5 (float32, absolute and relative). Lengths go in as
``sequence_lens``; batch and time are dynamic (one session runs two shapes); a
character model streams one step at a time through onnxruntime, carrying its state,
and matches seqnet's run over the whole sequence.

Run with ``-s`` to print the largest difference per case
(:func:`test_report_max_differences`).
"""

import numpy as np
import pytest

import seqnet
from seqnet.interop import UnsupportedLayerError, export_onnx

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

B, T, F, H = 4, 6, 3, 5
LENGTHS = np.array([6, 2, 4, 1], np.int32)
TOL = 1e-5
MAX_DIFF = {}
CELLS = {"rnn-tanh": lambda **kw: seqnet.SimpleRNN(H, **kw),
         "rnn-relu": lambda **kw: seqnet.SimpleRNN(H, nonlinearity="relu", **kw),
         "lstm": lambda **kw: seqnet.LSTM(H, **kw),
         "gru": lambda **kw: seqnet.GRU(H, **kw),
         "gru-v1": lambda **kw: seqnet.GRU(H, reset_after=False, **kw)}


def randomize(model, seed):
    rng = np.random.default_rng(seed)
    for v in model.params.values():
        v[...] = rng.uniform(-0.6, 0.6, v.shape)


def compare(label, got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (label, got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL, err_msg=label)
    MAX_DIFF[label] = max(MAX_DIFF.get(label, 0.0), float(np.abs(got - want).max()))


def session(model, tmp_path, **kw):
    path = tmp_path / "m.onnx"
    export_onnx(model, path, **kw)
    return ort.InferenceSession(str(path))


@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)], ids=["1", "2bi"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_cells_with_lengths_and_states(cell, num_layers, bidirectional, tmp_path):
    layer = CELLS[cell](input_size=F, num_layers=num_layers, bidirectional=bidirectional)
    model = seqnet.Sequential([layer, seqnet.Dense(2, activation="softmax")])
    model.build((T, F))
    randomize(model, 0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    label = f"{cell} {num_layers}{'bi' if bidirectional else ''}"
    (got,) = session(model, tmp_path).run(None, {"input": x})
    compare(label, got, model.predict(x))
    # dynamic batch and time: the same file on another shape
    x2 = rng.standard_normal((2, 9, F)).astype(np.float32)
    (got2,) = session(model, tmp_path).run(None, {"input": x2})
    compare(label, got2, model.predict(x2))
    # lengths as sequence_lens, initial states in, final states out
    s = session(model, tmp_path, lengths=True, states=True)
    assert [i.name for i in s.get_inputs()][:2] == ["input", "lengths"]
    states = [rng.uniform(-1, 1, (layer.state_rows, B, H)).astype(np.float32)
              for _ in layer.state_names]
    feeds = {"input": x, "lengths": LENGTHS}
    feeds.update({f"state_in_0_{n}": v for n, v in zip(layer.state_names, states, strict=True)})
    got = s.run(None, feeds)
    layer.return_state = True
    want = layer.forward(x, states, lengths=LENGTHS)
    layer.return_state = False
    valid = np.arange(T) < LENGTHS[:, None]
    dense = model.layers[1].forward(want[0])
    compare(label + " lengths", got[0][valid], dense[valid])
    for g, w in zip(got[1:], want[1:], strict=True):
        compare(label + " states", g, w)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
def test_embedding_mask_bidirectional(merge_mode, tmp_path):
    tokens = seqnet.Input((None,), dtype="int64")
    h = seqnet.Embedding(9, F, mask_zero=True)(tokens)
    h = seqnet.Bidirectional(seqnet.GRU(H), merge_mode=merge_mode)(h)
    h = seqnet.LSTM(H, return_sequences=False)(h)
    model = seqnet.Model(tokens, seqnet.Dense(3, activation="sigmoid")(h))
    randomize(model, 2)
    x = np.random.default_rng(3).integers(1, 9, (B, T))
    x[np.arange(T) >= LENGTHS[:, None]] = 0
    (got,) = session(model, tmp_path).run(None, {"input": x})
    compare(f"Embedding mask Bidirectional {merge_mode}", got, model.predict(x))


def test_functional_layers_and_graph_states(tmp_path):
    """An encoder's final state starts a decoder (states through the graph), with
    RepeatVector, LayerNormalization, TimeDistributed(Dense), Concatenate, Add,
    Activation and Dropout; two inputs, two outputs."""
    enc_in, dec_in = seqnet.Input((None, F)), seqnet.Input((F,))
    _, h, c = seqnet.LSTM(H, return_state=True, return_sequences=False)(enc_in)
    rep = seqnet.RepeatVector(T)(dec_in)
    dec = seqnet.LSTM(H, num_layers=1)(rep, initial_state=[h, c])
    dec = seqnet.LayerNormalization()(seqnet.Dropout(0.5)(dec))
    both = seqnet.Concatenate()([dec, seqnet.TimeDistributed(seqnet.Dense(H))(rep)])
    out = seqnet.Activation("tanh")(seqnet.Add()([seqnet.Dense(H)(both), dec]))
    model = seqnet.Model([enc_in, dec_in], [out, h])
    randomize(model, 4)
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((B, T, F)).astype(np.float32),
          rng.standard_normal((B, F)).astype(np.float32)]
    got = session(model, tmp_path).run(None, {"input_0": xs[0], "input_1": xs[1]})
    want = model.predict(xs)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        compare(f"functional output {k}", g, w)


def test_char_model_streams_with_carried_state(tmp_path):
    """Integer characters straight into an LSTM (one-hot rows), states in and out:
    onnxruntime fed one step at a time, carrying the state, gives seqnet's
    probabilities over the whole sequence."""
    vocab = 11
    model = seqnet.charlm.build_charlm(vocab, hidden=H, seed=0)
    model.build((T,), np.int64)
    randomize(model, 6)
    s = session(model, tmp_path, states=True)
    x = np.random.default_rng(7).integers(0, vocab, (2, T))
    want = model.predict(x)   # (2, vocab): the last step's probabilities
    state = {"state_in_0_h": np.zeros((1, 2, H), np.float32),
             "state_in_0_c": np.zeros((1, 2, H), np.float32)}
    for t in range(T):
        probs, h, c = s.run(None, {"input": x[:, t:t + 1], **state})
        state = {"state_in_0_h": h, "state_in_0_c": c}
    compare("char model streamed", probs, want)


def test_opset_14_and_refusals(tmp_path):
    model = seqnet.Sequential([seqnet.GRU(H, input_size=F, num_layers=2)])
    model.build((T, F))
    randomize(model, 8)
    x = np.random.default_rng(9).standard_normal((B, T, F)).astype(np.float32)
    (got,) = session(model, tmp_path, opset=14).run(None, {"input": x})
    compare("gru opset 14", got, model.predict(x))
    for layer, what in [(seqnet.LSTM(H, input_size=F, proj_size=2), "proj_size=2"),
                        (seqnet.GRU(H, input_size=F, layer_norm=True), "layer_norm=True"),
                        (seqnet.GlobalAveragePooling1D(), "GlobalAveragePooling1D")]:
        bad = seqnet.Sequential([seqnet.Dense(F, input_size=F), layer])
        bad.build((T, F))
        with pytest.raises(UnsupportedLayerError, match=what):
            export_onnx(bad, tmp_path / "no.onnx")
    ln = seqnet.Sequential([seqnet.LayerNormalization(input_size=F)])
    ln.build((T, F))
    with pytest.raises(UnsupportedLayerError, match="opset 17"):
        export_onnx(ln, tmp_path / "no.onnx", opset=16)
    f64 = seqnet.Sequential([seqnet.GRU(H, input_size=F, dtype=np.float64)])
    with pytest.raises(ValueError, match="float32"):
        export_onnx(f64, tmp_path / "no.onnx")
    with pytest.raises(ValueError, match="opset"):
        export_onnx(model, tmp_path / "no.onnx", opset=13)
    with pytest.raises(TypeError, match="states"):
        export_onnx(model, tmp_path / "no.onnx", states=1)
    with pytest.raises(TypeError, match="seqnet.Sequential or seqnet.Model"):
        export_onnx(seqnet.GRU(H, input_size=F), tmp_path / "no.onnx")
    assert not (tmp_path / "no.onnx").exists()


def test_bidirectional_return_state_in_a_graph(tmp_path):
    """Keras's state order from a Bidirectional LSTM: out, forward h, c, backward h, c."""
    x_in = seqnet.Input((None, F))
    out = seqnet.Bidirectional(seqnet.LSTM(H, return_state=True))(x_in)
    model = seqnet.Model(x_in, out)
    randomize(model, 10)
    x = np.random.default_rng(11).standard_normal((B, T, F)).astype(np.float32)
    got = session(model, tmp_path).run(None, {"input": x})
    want = model.predict(x)
    assert len(got) == len(want) == 5
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        compare(f"Bidirectional return_state {k}", g, w)


def test_report_max_differences():
    """Print the largest difference per case (run with -s)."""
    if not MAX_DIFF:
        pytest.skip("run with the cases above")
    print()
    for label, diff in sorted(MAX_DIFF.items()):
        print(f"{label:48s} {diff:.3g}")
