"""seqnet.interop.load_keras and save_keras, with Keras 3 (torch backend) as the
oracle.

Each case builds a Keras model, gives every weight a random value (biases, gains,
attention scales included: never zero), saves it with ``model.save`` and loads it
with ``load_keras``; seqnet's ``predict`` must equal Keras's within rtol = atol =
1e-5 (float32). Where the output is a masked sequence the two are compared at the
valid steps (past a row's length seqnet outputs 0, Keras may repeat its last
output). Then ``save_keras`` writes the seqnet model back, ``keras.saving.load_model``
reads it, and its predictions must equal the original Keras model's within the same
bound; ``load_keras`` of that file gives back exactly seqnet's weights.

Run with ``-s`` to print the largest difference per case
(:func:`test_report_max_differences`).
"""

import zlib

import numpy as np
import pytest

import seqnet
from seqnet.interop import UnsupportedLayerError, load_keras, save_keras

from .keras_oracle import ATOL32, RTOL32, keras, to_numpy

pytest.importorskip("h5py")

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
    "ignore::UserWarning")

B, T, F, H = 4, 7, 3, 5
LENGTHS = np.array([7, 3, 5, 1])
#: case -> largest absolute difference against Keras (load, then save).
MAX_DIFF = {}
L = keras.layers


def tokens(rng, vocab=9):
    x = rng.integers(1, vocab, (B, T))
    x[np.arange(T) >= LENGTHS[:, None]] = 0
    return x


def padded(rng, value=0.0):
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    x[np.arange(T) >= LENGTHS[:, None]] = value
    return x


def features(rng):
    return rng.standard_normal((B, T, F)).astype(np.float32)


def rnn_stack(cell, **kw):
    def build():
        return keras.Sequential([keras.Input((None, F)), cell(**kw),
                                 L.Dense(2, activation="softmax")])
    return build


def functional_mask_bidirectional(merge_mode, cell):
    def build():
        inp = keras.Input((None,), dtype="int32")
        h = L.Embedding(9, F, mask_zero=True)(inp)
        h = L.Bidirectional(cell(H, return_sequences=True), merge_mode=merge_mode)(h)
        h = L.GRU(H, reset_after=False)(h)
        return keras.Model(inp, L.Dense(3, activation="sigmoid")(h))
    return build


def masking_time_distributed():
    inp = keras.Input((None, F))
    h = L.Masking(mask_value=0.0)(inp)
    h = L.LSTM(H, return_sequences=True)(h)
    h = L.Dropout(0.3)(h)
    h = L.TimeDistributed(L.Dense(4))(h)
    return keras.Model(inp, L.Activation("tanh")(h))


def repeat_vector_layer_norm():
    inp = keras.Input((F,))
    h = L.RepeatVector(T)(inp)
    h = L.SimpleRNN(H, activation="relu", return_sequences=True)(h)
    h = L.LayerNormalization(epsilon=1e-4)(h)
    return keras.Model(inp, L.Dense(2)(h))


def attention(score_mode, use_scale):
    def build():
        q_in, v_in = keras.Input((None, F)), keras.Input((None, F))
        q = L.GRU(H, return_sequences=True)(q_in)
        v = L.LSTM(H, return_sequences=True)(v_in)
        a = L.Attention(use_scale=use_scale, score_mode=score_mode)([q, v])
        h = L.Concatenate()([q, a])
        return keras.Model([q_in, v_in], L.Dense(2, activation="softmax")(h))
    return build


def additive_attention(use_scale):
    def build():
        q_in, v_in = keras.Input((None, F)), keras.Input((None, F))
        q = L.GRU(H, return_sequences=True)(q_in)
        v = L.LSTM(H, return_sequences=True)(v_in)
        a = L.AdditiveAttention(use_scale=use_scale)([q, v, v])
        return keras.Model([q_in, v_in], L.Dense(2)(a))
    return build


def encoder_decoder():
    enc_in, dec_in = keras.Input((None, F)), keras.Input((None, F))
    _, h, c = L.LSTM(H, return_state=True)(enc_in)
    out = L.LSTM(H, return_sequences=True)(dec_in, initial_state=[h, c])
    out = L.Add()([out, L.Dense(H)(dec_in)])
    return keras.Model([enc_in, dec_in], L.GlobalAveragePooling1D()(out))


#: case -> (Keras model maker, input maker, compare at valid steps only)
CASES = {
    "SimpleRNN tanh": (rnn_stack(L.SimpleRNN, units=H), features, False),
    "SimpleRNN relu nobias": (rnn_stack(L.SimpleRNN, units=H, activation="relu",
                                        use_bias=False), features, False),
    "LSTM": (rnn_stack(L.LSTM, units=H), features, False),
    "LSTM nobias": (rnn_stack(L.LSTM, units=H, use_bias=False), features, False),
    "GRU reset_after": (rnn_stack(L.GRU, units=H), features, False),
    "GRU reset_before": (rnn_stack(L.GRU, units=H, reset_after=False), features, False),
    "Sequential Embedding mask LSTM GRU": (
        lambda: keras.Sequential([keras.Input((None,), dtype="int32"),
                                  L.Embedding(9, F, mask_zero=True),
                                  L.LSTM(H, return_sequences=True), L.GRU(H), L.Dense(2)]),
        tokens, False),
    "Embedding mask Bidirectional(LSTM) concat": (
        functional_mask_bidirectional("concat", L.LSTM), tokens, False),
    "Embedding mask Bidirectional(GRU) sum": (
        functional_mask_bidirectional("sum", L.GRU), tokens, False),
    "Embedding mask Bidirectional(SimpleRNN) ave": (
        functional_mask_bidirectional("ave", L.SimpleRNN), tokens, False),
    "Masking LSTM Dropout TimeDistributed(Dense) Activation": (
        masking_time_distributed, padded, True),
    "RepeatVector SimpleRNN LayerNormalization": (
        repeat_vector_layer_norm, lambda rng: rng.standard_normal((B, F)).astype(np.float32),
        False),
    "Attention dot": (attention("dot", False), lambda rng: [features(rng), features(rng)],
                      False),
    "Attention dot scale": (attention("dot", True), lambda rng: [features(rng),
                                                                 features(rng)], False),
    "Attention concat": (attention("concat", False), lambda rng: [features(rng),
                                                                  features(rng)], False),
    "AdditiveAttention scale": (additive_attention(True), lambda rng: [features(rng),
                                                                       features(rng)], False),
    "AdditiveAttention": (additive_attention(False), lambda rng: [features(rng),
                                                                  features(rng)], False),
    "LSTM initial_state Add GlobalAveragePooling1D": (
        encoder_decoder, lambda rng: [features(rng), features(rng)], False),
}


def randomize(model, rng):
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32) * (
        rng.choice([-1, 1], w.shape) if w.ndim == 0 else 1) + (0.3 if w.ndim == 0 else 0)
        for w in model.get_weights()])


def keras_predict(model, x):
    return to_numpy(model(x if not isinstance(x, list) else list(x), training=False))


def compare(case, label, got, want, valid):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (case, got.shape, want.shape)
    if valid:
        keep = np.arange(T) < LENGTHS[:, None]
        got, want = got[keep], want[keep]
    np.testing.assert_allclose(got, want, rtol=RTOL32, atol=ATOL32, err_msg=f"{case} {label}")
    key = f"{case} ({label})"
    MAX_DIFF[key] = max(MAX_DIFF.get(key, 0.0), float(np.abs(got - want).max()))


@pytest.mark.parametrize("case", list(CASES))
def test_load_and_save_agree_with_keras(case, tmp_path):
    build, make_x, valid = CASES[case]
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    theirs = build()
    randomize(theirs, rng)
    path = tmp_path / "keras.keras"
    theirs.save(path)
    x = make_x(rng)
    want = keras_predict(theirs, x)

    ours = load_keras(path)
    assert isinstance(ours, seqnet.Sequential) == isinstance(theirs, keras.Sequential)
    assert ours.dtype == np.float32
    compare(case, "load_keras", ours.predict(x), want, valid)

    back = tmp_path / "seqnet.keras"
    save_keras(ours, back)
    again = keras.saving.load_model(back)
    assert type(again) is type(theirs)
    compare(case, "save_keras", keras_predict(again, x), want, valid)
    reloaded = load_keras(back)
    assert list(reloaded.params) == list(ours.params)
    for name, value in ours.params.items():
        if name.endswith(("bias_hh_l0", "bias_hh_l0_reverse")) and not np.any(
                reloaded.params[name]):
            # one Keras bias: seqnet's two were summed into bias_ih
            np.testing.assert_array_equal(reloaded.params[name.replace("_hh", "_ih")],
                                          value + ours.params[name.replace("_hh", "_ih")])
        else:
            np.testing.assert_array_equal(reloaded.params[name], value, err_msg=name)


def test_seqnet_model_to_keras(tmp_path):
    """A model made in seqnet (two biases per cell, a fused bidirectional layer, a
    GRU in its reset_before form) predicts the same in Keras."""
    tokens_in = seqnet.Input((None,), dtype="int64")
    h = seqnet.Embedding(9, F, mask_zero=True, seed=1)(tokens_in)
    h = seqnet.LSTM(H, bidirectional=True, seed=2)(h)
    h = seqnet.GRU(H, reset_after=False, return_sequences=False, seed=3)(h)
    model = seqnet.Model(tokens_in, seqnet.Dense(2, activation="softmax", seed=4)(h))
    rng = np.random.default_rng(5)
    for v in model.params.values():
        v[...] = rng.uniform(-0.6, 0.6, v.shape)
    x = tokens(rng)
    path = tmp_path / "m.keras"
    save_keras(model, path)
    theirs = keras.saving.load_model(path)
    compare("seqnet-made model", "save_keras", keras_predict(theirs, x), model.predict(x),
            False)


def test_bidirectional_written_with_both_layers(tmp_path):
    """Every Keras Bidirectional the file holds names its backward layer, as Keras's
    own get_config does (go_backwards true, the forward layer's settings otherwise):
    Keras then never rebuilds it from the forward layer inside load_model, which
    failed now and then ("should have different `go_backwards` value")."""
    import json
    import zipfile

    model = seqnet.Sequential([
        seqnet.LSTM(H, input_size=F, num_layers=2, bidirectional=True, seed=1),
        seqnet.Bidirectional(seqnet.GRU(H, return_sequences=False, seed=2)),
        seqnet.Dense(2, activation="softmax", seed=3)])
    model.build((T, F))
    path = tmp_path / "bi.keras"
    save_keras(model, path)
    with zipfile.ZipFile(path) as z:
        layers = json.loads(z.read("config.json"))["config"]["layers"]
    bis = [entry["config"] for entry in layers if entry["class_name"] == "Bidirectional"]
    assert len(bis) == 3
    for c in bis:
        fwd, bwd = c["layer"]["config"], c["backward_layer"]["config"]
        assert (fwd["go_backwards"], bwd["go_backwards"]) == (False, True)
        assert fwd["name"] == "forward_" + c["name"] and bwd["name"] == "backward_" + c["name"]
        assert {k: v for k, v in bwd.items() if k not in ("name", "go_backwards")} == \
            {k: v for k, v in fwd.items() if k not in ("name", "go_backwards")}
    theirs = keras.saving.load_model(path)
    assert [type(layer).__name__ for layer in theirs.layers].count("Bidirectional") == 3


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
def test_stacked_layers_to_keras(functional, tmp_path):
    """A seqnet layer of num_layers > 1 becomes that many Keras layers (a Dropout
    between them where it drops out): Keras predicts what seqnet does."""
    layers = [seqnet.LSTM(H, input_size=F, num_layers=3, bidirectional=True, dropout=0.2,
                          seed=1),
              seqnet.GRU(H, num_layers=2, reset_after=False, return_sequences=False, seed=2),
              seqnet.Dense(2, activation="softmax", seed=3)]
    if functional:
        x_in = seqnet.Input((None, F))
        h = x_in
        for layer in layers:
            h = layer(h)
        model = seqnet.Model(x_in, h)
    else:
        model = seqnet.Sequential(layers)
        model.build((T, F))
    rng = np.random.default_rng(12)
    for v in model.params.values():
        v[...] = rng.uniform(-0.6, 0.6, v.shape)
    path = tmp_path / "stacked.keras"
    save_keras(model, path)
    theirs = keras.saving.load_model(path)
    assert [type(layer).__name__ for layer in theirs.layers if type(layer).__name__ not in (
        "InputLayer",)] == ["Bidirectional", "Dropout", "Bidirectional", "Dropout",
                            "Bidirectional", "GRU", "GRU", "Dense"]
    x = features(rng)
    compare(f"stacked {'functional' if functional else 'sequential'}", "save_keras",
            keras_predict(theirs, x), model.predict(x), False)


def test_refusals(tmp_path):
    conv = keras.Sequential([keras.Input((None, F)), L.Conv1D(2, 3, name="my_conv")])
    conv.save(tmp_path / "conv.keras")
    with pytest.raises(UnsupportedLayerError, match="'my_conv' \\(Conv1D\\)"):
        load_keras(tmp_path / "conv.keras")
    elu = keras.Sequential([keras.Input((None, F)), L.SimpleRNN(2, activation="elu",
                                                                  name="rnn_elu")])
    elu.save(tmp_path / "elu.keras")
    with pytest.raises(UnsupportedLayerError, match="'rnn_elu'.*'elu'"):
        load_keras(tmp_path / "elu.keras")
    back = keras.Sequential([keras.Input((None, F)), L.LSTM(2, go_backwards=True, name="b")])
    back.save(tmp_path / "back.keras")
    with pytest.raises(UnsupportedLayerError, match="'b' \\(LSTM\\).*go_backwards"):
        load_keras(tmp_path / "back.keras")
    x_in = seqnet.Input((None, F))
    stacked = seqnet.Model(x_in, seqnet.LSTM(H, num_layers=2, return_state=True)(x_in))
    with pytest.raises(UnsupportedLayerError, match="num_layers=2 with return_state"):
        save_keras(stacked, tmp_path / "no.keras")
    for layer, what in [
                        (seqnet.LSTM(H, input_size=F, proj_size=2), "proj_size=2"),
                        (seqnet.GRU(H, input_size=F, layer_norm=True), "layer_norm=True"),
                        (seqnet.GlobalMaxPooling1D(), None)]:
        model = seqnet.Sequential([seqnet.Dense(F, input_size=F), layer])
        model.build((T, F))
        if what is None:
            save_keras(model, tmp_path / "ok.keras")   # this one converts
            continue
        with pytest.raises(UnsupportedLayerError, match=what):
            save_keras(model, tmp_path / "no.keras")
    onehot = seqnet.Sequential([seqnet.LSTM(H, input_size=9)])
    onehot.build((T,), np.int64)
    with pytest.raises(UnsupportedLayerError, match="integer tokens"):
        save_keras(onehot, tmp_path / "no.keras")
    with pytest.raises(TypeError, match="seqnet.Sequential or seqnet.Model"):
        save_keras(seqnet.LSTM(H, input_size=F), tmp_path / "no.keras")
    (tmp_path / "x.zip").write_bytes(b"")
    with pytest.raises(ValueError, match="not a zip archive"):
        load_keras(tmp_path / "x.zip")


def test_report_max_differences():
    """Print the largest difference per case (run with -s)."""
    if not MAX_DIFF:
        pytest.skip("run with the cases above")
    print()
    for label, diff in sorted(MAX_DIFF.items()):
        print(f"{label:72s} {diff:.3g}")
