"""Sequential: gradients, training, determinism, resuming, files, callbacks, errors.

The toy task throughout: ``x`` holds random indices in ``[0, V)`` of ``T`` steps
and the target is the last one (``y = x[:, -1]``), which an LSTM fed one-hot
(index) input learns in a few epochs. Shapes stay small (H <= 16, T <= 10,
B <= 32) so that the file runs in seconds once the kernels are compiled.
"""

import gc
import io
import json
import math
import os
import re
import warnings

import numpy as np
import pytest

import seqnet
from seqnet import _progress, losses, optim
from seqnet.callbacks import Callback, EarlyStopping, LambdaCallback, ModelCheckpoint
from seqnet.text import CharVocabulary, vocabulary_of

V, T = 5, 6
f64 = np.float64


def toy_data(n, seed=0, vocab=V, steps=T):
    """``n`` random index sequences and their last index as the target."""
    x = np.random.default_rng(seed).integers(0, vocab, (n, steps))
    return x, x[:, -1].copy()


def small_model(*, seed=0, optimizer="rmsprop", hidden=8, metrics=()):
    """Index input -> LSTM(last output) -> Dense(softmax), compiled with sparse CE."""
    model = seqnet.Sequential([
        seqnet.LSTM(hidden, input_size=V, return_sequences=False, seed=seed + 1),
        seqnet.Dense(V, activation="softmax", seed=seed + 2),
    ], seed=seed)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer, metrics=metrics)
    return model


def dropout_model(optimizer):
    """Embedding -> 2-layer LSTM with dropout between layers -> Dropout -> Dense: every
    random generator (the model's shuffling, both dropouts) matters to training."""
    model = seqnet.Sequential([
        seqnet.Embedding(V, 4, seed=1),
        seqnet.LSTM(8, num_layers=2, dropout=0.3, return_sequences=False, seed=2),
        seqnet.Dropout(0.25, seed=3),
        seqnet.Dense(V, activation="softmax", seed=4),
    ], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer)
    return model


def copy_params(model):
    return {k: v.copy() for k, v in model.params.items()}


def assert_params_equal(a, b):
    """Bit-for-bit equality of two {name: array} dicts with the same keys."""
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# ------------------------------------------------------------------------ gradients
def _gradcheck_model(variant):
    """(model, x, y) for a float64 gradient check; every parameter, biases included,
    drawn at random so that no gradient is trivially zero."""
    kw = dict(dtype=f64)
    rng = np.random.default_rng(7)
    if variant == "last":
        layers = [seqnet.LSTM(4, input_size=3, return_sequences=False, seed=1, **kw),
                  seqnet.Dense(3, activation="softmax", seed=2, **kw)]
        x, y = rng.standard_normal((4, 5, 3)), rng.integers(0, 3, 4)
    elif variant == "sequence":
        layers = [seqnet.LSTM(4, input_size=3, return_sequences=True, seed=1, **kw),
                  seqnet.Dense(3, activation="softmax", seed=2, **kw)]
        x, y = rng.standard_normal((4, 5, 3)), rng.integers(0, 3, (4, 5))
    else:  # "embedding": index input, 2 stacked layers, an unfused softmax at the end
        layers = [seqnet.Embedding(6, 3, seed=1, **kw),
                  seqnet.LSTM(4, num_layers=2, return_sequences=True, seed=2, **kw),
                  seqnet.Dense(5, activation="tanh", seed=3, **kw),
                  seqnet.Dense(3, seed=4, **kw),
                  seqnet.Activation("softmax", **kw)]
        x, y = rng.integers(0, 6, (3, 4)), rng.integers(0, 3, (3, 4))
    model = seqnet.Sequential(layers, seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optim.SGD(0.1))
    model.build(x.shape[1:], x.dtype)
    for p in model.params.values():
        p[...] = rng.uniform(-0.8, 0.8, p.shape)
    return model, x, y


def _analytic_grads(model, x, y):
    """The gradients train_on_batch uses: its loss, its forward, the model's backward."""
    loss_fn = model._loss_for_training()
    out = model._forward(x, True, logits=model._fused())
    loss_fn.forward(out, y)
    model._backward(loss_fn.backward())
    return {k: np.array(v) for k, v in model.grads.items()}


def _numeric_grads(model, x, y, eps=1e-6):
    """Central differences of the loss the user compiled (cross-entropy on the
    predicted probabilities), parameter element by element."""
    def loss():
        return model.loss.forward(model._forward(x, False), y)

    numeric = {}
    for name, p in model.params.items():
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            orig = p[idx]
            p[idx] = orig + eps
            up = loss()
            p[idx] = orig - eps
            down = loss()
            p[idx] = orig
            g[idx] = (up - down) / (2 * eps)
        numeric[name] = g
    return numeric


@pytest.mark.parametrize("variant", ["last", "sequence", "embedding"])
def test_model_gradient_matches_central_differences(variant):
    """Every parameter's gradient from the model's backward matches float64 central
    differences of the compiled loss: LSTM(last) -> Dense(softmax) on (B,) targets,
    LSTM(sequence) -> Dense per step on (B, T) targets, and an embedding stack
    ending in an Activation softmax (the unfused path)."""
    model, x, y = _gradcheck_model(variant)
    assert model._fused() == (variant != "embedding")
    analytic = _analytic_grads(model, x, y)
    numeric = _numeric_grads(model, x, y)
    assert set(analytic) == set(numeric) == set(model.params)
    for name in numeric:
        error = seqnet.gradcheck.relative_error(analytic[name], numeric[name])
        assert np.abs(numeric[name]).max() > 1e-4, name  # a gradient worth checking
        assert error < 1e-6, (name, error)


def test_fused_softmax_gradient_equals_the_unfused_one():
    """For moderate logits, training on logits (log-softmax CE) gives the gradient
    of CE on the softmax probabilities back-propagated through the softmax."""
    model, x, y = _gradcheck_model("sequence")
    assert model._fused()
    fused = _analytic_grads(model, x, y)
    loss = losses.SparseCategoricalCrossentropy()  # on probabilities
    probs = model._forward(x, True)
    assert 1e-3 < probs.min() and probs.max() < 1 - 1e-3  # no clipping involved
    loss.forward(probs, y)
    model._backward(loss.backward())
    for name, g in model.grads.items():
        np.testing.assert_allclose(g, fused[name], rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("layers, loss, fused", [
    (lambda: [seqnet.Dense(3, activation="softmax")], "sparse_categorical_crossentropy", True),
    (lambda: [seqnet.Dense(3, activation="softmax")], "categorical_crossentropy", True),
    (lambda: [seqnet.Dense(3, activation="softmax")],
     losses.SparseCategoricalCrossentropy(from_logits=True), False),
    (lambda: [seqnet.Dense(3, activation="softmax")], "mse", False),
    (lambda: [seqnet.Dense(3), seqnet.Activation("softmax")],
     "sparse_categorical_crossentropy", False),
    (lambda: [seqnet.Dense(3, activation="tanh")], "sparse_categorical_crossentropy", False),
])
def test_which_models_are_fused(layers, loss, fused):
    model = seqnet.Sequential(layers())
    model.compile(loss=loss)
    assert model._fused() is fused


def test_train_on_batch_applies_the_model_gradient():
    """One SGD step moves every parameter by -learning_rate * its gradient, and
    returns the batch loss before the step."""
    model, x, y = _gradcheck_model("last")
    lr = 0.05
    model.optimizer = optim.SGD(lr)
    before = copy_params(model)
    grads = _analytic_grads(model, x, y)
    expected_loss = model.loss.forward(model._forward(x, False), y)
    value = model.train_on_batch(x, y)
    assert value == pytest.approx(expected_loss, rel=1e-12)
    for name, p in model.params.items():
        np.testing.assert_allclose(p, before[name] - lr * grads[name], rtol=1e-14, atol=1e-16)


# ------------------------------------------------------------------------- training
def test_fit_learns_the_last_index():
    """Adam(0.01) learns y = x[:, -1] in 10 epochs: from about ln 5 = 1.61 nats to
    below 0.25 (measured: 1.57 -> 0.04, val 0.03, accuracy 1.0); history holds
    one value per epoch of loss, accuracy and their val_ versions."""
    x, y = toy_data(320)
    model = small_model(optimizer=optim.Adam(0.01), hidden=16, metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=10, validation_split=0.2, verbose=0)
    h = history.history
    assert set(h) == {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"}
    assert all(len(v) == 10 for v in h.values())
    assert history.epoch == list(range(10))
    assert h["loss"][0] > 1.2
    assert h["loss"][-1] < 0.25
    assert h["val_loss"][-1] < 0.25
    assert h["val_accuracy"][-1] > 0.95
    assert h["loss"][-1] < h["loss"][0] / 5
    # the validation set is the last 20% of the samples, before shuffling
    assert model.evaluate(x[-64:], y[-64:])["loss"] == h["val_loss"][-1]
    assert model.epochs_trained == 10


def test_validation_data_takes_precedence_over_split():
    """With validation_data, val_loss is measured on it and every sample of x trains
    (5 batches of 8, not the 3 that validation_split=0.5 would leave)."""
    x, y = toy_data(40)
    xv, yv = toy_data(12, seed=1)
    model = small_model()
    batches = []
    cb = LambdaCallback(on_batch_end=lambda batch, logs: batches.append(batch))
    history = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.5,
                        validation_data=(xv, yv), callbacks=[cb], verbose=0)
    assert batches == [0, 1, 2, 3, 4] * 2
    assert len(history.history["val_loss"]) == 2
    assert history.history["val_loss"][-1] == model.evaluate(xv, yv, batch_size=8)["loss"]


def test_validation_lengths_mask_the_validation_rows():
    """validation_lengths mask validation_data's padded steps as lengths mask x's:
    val_loss is evaluate's loss with those lengths, not the full-length loss."""
    rng = np.random.default_rng(3)
    x, xv = rng.integers(0, V, (24, T)), rng.integers(0, V, (8, T))
    y, yv = rng.integers(0, V, (24, T)), rng.integers(0, V, (8, T))
    lengths, lv = rng.integers(1, T + 1, 24), rng.integers(1, T, 8)
    model = seqnet.Sequential([
        seqnet.LSTM(8, input_size=V, return_sequences=True, seed=1),
        seqnet.Dense(V, activation="softmax", seed=2)], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop")
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, lengths=lengths,
                        validation_data=(xv, yv), validation_lengths=lv)
    masked = model.evaluate(xv, yv, batch_size=8, lengths=lv)["loss"]
    assert history.history["val_loss"][-1] == masked
    assert masked != model.evaluate(xv, yv, batch_size=8)["loss"]


@pytest.mark.parametrize("kwargs, match", [
    # lengths for x, none for the validation rows: their padding would count
    ({"lengths": np.full(20, T), "validation_data": None}, "no validation_lengths"),
    ({"validation_lengths": np.full(4, T)}, "without validation_data"),
    ({"validation_lengths": np.full(3, T), "validation_data": None},
     r"validation_data\[0\] and validation_lengths must have the same number"),
])
def test_validation_lengths_errors(kwargs, match):
    x, y = toy_data(20)
    xv, yv = toy_data(4, seed=1)
    if "validation_data" in kwargs:
        kwargs = {**kwargs, "validation_data": (xv, yv)}
    model = small_model()
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, verbose=0, **kwargs)
    assert model.epochs_trained == 0


def test_fit_without_validation_has_no_val_metrics():
    x, y = toy_data(16)
    history = small_model().fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "seconds"}
    assert len(history.history["loss"]) == 2


def test_fit_is_deterministic_for_fixed_seeds():
    """The same seeds give the same weights, bit for bit, after training with
    shuffling and both dropouts; another model seed (the shuffling) gives others."""
    x, y = toy_data(48)
    runs = []
    for _ in range(2):
        model = dropout_model("adam")
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        runs.append(copy_params(model))
    assert_params_equal(runs[0], runs[1])
    other = dropout_model("adam")
    other.rng = np.random.default_rng(99)
    other.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert any(not np.array_equal(other.params[k], runs[0][k]) for k in runs[0])


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam"])
def test_resume_from_file_is_exact(optimizer, tmp_path):
    """2 epochs in one go == 1 epoch, save, load_model, 1 more epoch: every parameter
    bit-identical (the optimiser's slots, the shuffling and both dropouts' generator
    states all come back); without the dropout generators it would differ."""
    x, y = toy_data(40)
    a = dropout_model(optimizer)
    a.fit(x, y, batch_size=8, epochs=2, verbose=0)

    b = dropout_model(optimizer)
    b.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "half.npz"
    b.save(path)
    c = seqnet.load_model(path)
    assert c.epochs_trained == 1
    assert c.optimizer.iterations == b.optimizer.iterations == 5
    history = c.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert history.epoch == [1]
    assert c.epochs_trained == 2
    assert_params_equal(a.params, c.params)
    sa, sc = a.optimizer.state_dict(), c.optimizer.state_dict()
    assert sa["iterations"] == sc["iterations"]
    assert_params_equal(sa["slots"], sc["slots"])

    # control: the same resume with fresh dropout generators does not reproduce a
    d = seqnet.load_model(path)
    for layer in d.layers:
        if hasattr(layer, "rng"):
            layer.rng = np.random.default_rng(12345)
    d.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert any(not np.array_equal(a.params[k], d.params[k]) for k in a.params)


# ---------------------------------------------------------------------------- files
def test_save_load_round_trip(tmp_path):
    """Predictions, evaluation, vocabulary, metadata, compile settings and optimizer
    state come back; the file is a plain npz that numpy opens without pickle."""
    vocab = CharVocabulary.from_text("hello world")
    n = len(vocab)
    model = seqnet.Sequential([
        seqnet.Embedding(n, 4, seed=1),
        seqnet.GRU(6, return_sequences=False, seed=2),
        seqnet.Dense(n, activation="softmax", seed=3),
    ], seed=0)
    opt = optim.Adam(0.005, beta_1=0.8, global_clipnorm=1.0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
    model.metadata = {"window": 6, "source": "test", "nested": {"a": [1, 2]},
                      "vocabulary": vocab.to_config()}
    x, y = toy_data(24, vocab=n)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    path = tmp_path / "model.npz"
    model.save(path)

    loaded = seqnet.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.evaluate(x, y) == model.evaluate(x, y)
    assert_params_equal(loaded.params, model.params)
    assert isinstance(vocabulary_of(loaded), CharVocabulary)
    assert vocabulary_of(loaded) == vocab
    assert vocabulary_of(loaded).decode(vocab.encode("hello")) == "hello"
    assert loaded.metadata == model.metadata
    assert loaded.metrics == ("accuracy",)
    assert loaded.loss.get_config() == model.loss.get_config()
    assert isinstance(loaded.optimizer, optim.Adam)
    assert loaded.optimizer.get_config() == opt.get_config()
    assert loaded.optimizer.get_config()["beta_1"] == 0.8
    assert loaded.optimizer.iterations == opt.iterations == 6
    assert_params_equal(loaded.optimizer.state_dict()["slots"], opt.state_dict()["slots"])
    assert loaded.epochs_trained == 2
    assert loaded.input_shape == (6,) and loaded.input_dtype == x.dtype.name
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]

    with np.load(path, allow_pickle=False) as data:
        files = set(data.files)
        config = json.loads(str(data["config"]))
    assert "config" in files
    assert {f"param/{k}" for k in model.params} <= files
    assert any(f.startswith("slot/") for f in files)
    assert config["format"] == "seqnet-model"
    assert config["metadata"]["vocabulary"]["chars"] == list(vocab.chars)


def test_save_load_uncompiled_unbuilt_model(tmp_path, rng):
    """A model that was never compiled or built saves and loads too."""
    model = seqnet.Sequential([seqnet.LSTM(4, input_size=3, seed=0)])
    model.save(tmp_path / "m.npz")
    loaded = seqnet.load_model(tmp_path / "m.npz")
    assert loaded.loss is None and loaded.optimizer is None and loaded.metadata == {}
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_save_is_atomic(tmp_path, monkeypatch):
    """np.savez failing part-way through leaves the previous file byte for byte and
    no temporary file behind; the error propagates."""
    model = small_model()
    model.build((T,), np.int64)
    path = tmp_path / "model.npz"
    model.save(path)
    before = path.read_bytes()
    model.params["1.Dense/bias"][...] = 1.0  # the next save would differ

    def broken_savez(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(seqnet.model.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]
    with pytest.raises(OSError, match="disk full"):
        model.save(tmp_path / "new.npz")
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]

    monkeypatch.undo()
    model.save(path)  # a successful save replaces the file, still no leftovers
    assert path.read_bytes() != before
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]
    assert (seqnet.load_model(path).params["1.Dense/bias"] == 1.0).all()


@pytest.fixture
def saved_model(tmp_path):
    model = small_model()
    model.build((T,), np.int64)
    path = tmp_path / "model.npz"
    model.save(path)
    return path


def test_load_missing_file(tmp_path):
    path = tmp_path / "nowhere.npz"
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        seqnet.load_model(path)
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        small_model().load_weights(path)


def _text_file(path, original):
    path.write_text("this is not a model\n")


def _truncated(path, original):
    raw = original.read_bytes()
    path.write_bytes(raw[:len(raw) // 2])


def _empty(path, original):
    path.write_bytes(b"")


def _no_config(path, original):
    np.savez(path, weights=np.ones(3))


def _corrupt_json(path, original):
    with np.load(original) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["config"] = np.array(str(arrays["config"])[:-10])
    np.savez(path, **arrays)


def _not_a_seqnet_config(path, original):
    np.savez(path, config=np.array(json.dumps({"format": "keras", "layers": []})))


def _future_version(path, original):
    with np.load(original) as data:
        arrays = {k: data[k] for k in data.files}
    config = json.loads(str(arrays["config"]))
    config["version"] = 99
    arrays["config"] = np.array(json.dumps(config))
    np.savez(path, **arrays)


def _missing_param(path, original):
    with np.load(original) as data:
        arrays = {k: data[k] for k in data.files if k != "param/1.Dense/bias"}
    np.savez(path, **arrays)


def _unknown_layer(path, original):
    with np.load(original) as data:
        arrays = {k: data[k] for k in data.files}
    config = json.loads(str(arrays["config"]))
    config["layers"][0]["class"] = "Transformer"
    arrays["config"] = np.array(json.dumps(config))
    np.savez(path, **arrays)


def _load_failure(path):
    """``(exception type, message)`` of load_model(path), which must raise.

    The exception is dropped and the garbage collected with ResourceWarning ignored:
    np.load leaks the open file of a truncated zip (see
    test_load_truncated_file_closes_it), and the warning would otherwise surface,
    as an error, in whichever test runs when the file object is finalised.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            seqnet.load_model(path)
        except Exception as exc:  # the caller checks the type
            failure = (type(exc), str(exc))
        else:
            failure = (None, "load_model did not raise")
        gc.collect()
    return failure


BAD_FILES = [
    (_text_file, "not a readable seqnet model"),
    (_truncated, "corrupt or truncated"),
    (_empty, "corrupt or truncated"),
    (_no_config, "no 'config' entry"),
    (_corrupt_json, "corrupt config"),
    (_not_a_seqnet_config, "not a seqnet model file"),
    (_future_version, "version 99"),
    (_missing_param, r"missing \['1.Dense/bias'\]"),
    (_unknown_layer, "Transformer"),
]


@pytest.mark.parametrize("corrupt, match", BAD_FILES,
                         ids=[c.__name__.strip("_") for c, _ in BAD_FILES])
def test_load_bad_file_raises_value_error(corrupt, match, saved_model, tmp_path):
    """Every kind of bad file is a ValueError naming the file and what is wrong."""
    path = tmp_path / "bad.npz"
    corrupt(path, saved_model)
    kind, message = _load_failure(path)
    assert kind is ValueError, (kind, message)
    assert re.search(match, message), message
    if corrupt is not _unknown_layer:  # that message names the class but not the file
        assert "bad.npz" in message


def test_load_truncated_file_closes_it(saved_model, tmp_path):
    path = tmp_path / "bad.npz"
    _truncated(path, saved_model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            seqnet.load_model(path)
        except ValueError:
            pass
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def _npy_file(path, original):
    with open(path, "wb") as f:  # a valid .npy, not an .npz
        np.save(f, np.ones(3))


def _bad_npy_header(path, original):
    # a non-ASCII byte for the "}" that closes the config's .npy header dict
    raw = bytearray(original.read_bytes())
    i = raw.index(b"'shape': (), }") + len(b"'shape': (), ")
    raw[i] = 0xDF
    path.write_bytes(raw)


def _unsupported_compression(path, original):
    # the first central-directory entry claims compression method 99 (AES)
    raw = bytearray(original.read_bytes())
    i = raw.index(b"PK\x01\x02")
    raw[i + 10:i + 12] = (99).to_bytes(2, "little")
    path.write_bytes(raw)


@pytest.mark.parametrize("corrupt", [
    pytest.param(_npy_file),
    pytest.param(_bad_npy_header),
    pytest.param(_unsupported_compression),
], ids=["npy-file", "npy-header", "zip-method"])
def test_load_corrupt_file_raises_value_error(corrupt, saved_model, tmp_path):
    """load_model promises ValueError for a corrupt file, also for these corruptions
    (flipping single bytes of a real model file finds the last two)."""
    path = tmp_path / "bad.npz"
    corrupt(path, saved_model)
    with pytest.raises(ValueError, match="bad.npz"):
        seqnet.load_model(path)


@pytest.mark.parametrize("other", [
    lambda: seqnet.LSTM(16, input_size=V, return_sequences=False, seed=1),
    lambda: seqnet.GRU(8, input_size=V, return_sequences=False, seed=1),
    lambda: seqnet.LSTM(8, input_size=V, return_sequences=True, seed=1),
], ids=["LSTM16", "GRU8", "LSTM8-sequences"])
def test_load_weights_refuses_another_architecture(other, saved_model):
    """The saved LSTM(8) -> Dense(5) does not go into another model."""
    model = seqnet.Sequential([other(), seqnet.Dense(V, activation="softmax", seed=2)])
    model.build((T,), np.int64)
    before = copy_params(model)
    with pytest.raises(ValueError, match="architecture"):
        model.load_weights(saved_model)
    assert_params_equal(model.params, before)


def test_load_weights_same_architecture_other_seeds(saved_model):
    """Seeds are not architecture: the weights go in and predictions agree."""
    model = small_model(seed=10)
    model.build((T,), np.int64)
    model.load_weights(saved_model)
    reference = seqnet.load_model(saved_model)
    assert_params_equal(model.params, reference.params)
    x, _ = toy_data(4)
    np.testing.assert_array_equal(model.predict(x), reference.predict(x))


def test_load_weights_into_an_unbuilt_model(saved_model):
    model = small_model(seed=10)
    model.load_weights(saved_model)
    assert_params_equal(model.params, seqnet.load_model(saved_model).params)


def test_load_weights_of_a_config_without_layers(tmp_path):
    path = tmp_path / "nolayers.npz"
    np.savez(path, config=np.array(json.dumps({"format": "seqnet-model", "version": 1})))
    with pytest.raises(ValueError, match="inconsistent config"):
        seqnet.load_model(path)  # passes
    model = small_model()
    model.build((T,), np.int64)
    with pytest.raises(ValueError):
        model.load_weights(path)


# ------------------------------------------------------------ evaluate, predict, summary
def test_predict_and_evaluate_shapes():
    """predict: probabilities (N, C) or (N, T, C), batch by batch (N not a multiple of
    batch_size); evaluate: the mean loss, equal to the loss of predict's output."""
    x, y = toy_data(13)
    model = small_model(metrics=["accuracy"])
    probs = model.predict(x, batch_size=4)
    assert probs.shape == (13, V)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # the batching changes nothing but rounding (a lone row goes through other BLAS paths)
    np.testing.assert_allclose(probs, model.predict(x, batch_size=32), rtol=1e-6, atol=1e-7)
    result = model.evaluate(x, y, batch_size=4)
    assert set(result) == {"loss", "accuracy"}
    expected = losses.SparseCategoricalCrossentropy().forward(probs, y)
    assert result["loss"] == pytest.approx(expected, rel=1e-5)
    assert result["accuracy"] == pytest.approx(np.mean(probs.argmax(axis=1) == y))

    seq = seqnet.Sequential([seqnet.LSTM(6, input_size=V, seed=1),
                             seqnet.Dense(V, activation="softmax", seed=2)])
    seq.compile(loss="sparse_categorical_crossentropy")
    assert seq.predict(x, batch_size=5).shape == (13, T, V)
    loss = seq.evaluate(x, x, batch_size=5)["loss"]
    assert loss == pytest.approx(losses.SparseCategoricalCrossentropy().forward(
        seq.predict(x), x), rel=1e-5)


def _summary_rows(model):
    lines = []
    model.summary(print_fn=lines.append)
    return lines


def test_summary_shapes_and_parameter_counts():
    """Each layer's row shows its output shape and its parameter count by the
    formulas LSTM 4H(I+H) + 8H, Dense units*(in+1), Embedding V*D."""
    H, E = 16, 4
    model = seqnet.Sequential([
        seqnet.Embedding(V, E, seed=0),
        seqnet.LSTM(H, return_sequences=True, seed=1),
        seqnet.Dropout(0.5),
        seqnet.LSTM(H, return_sequences=False, seed=2),
        seqnet.Dense(V, activation="softmax", seed=3),
    ])
    with pytest.raises(ValueError, match="build"):
        model.summary()
    model.build((T,), np.int64)
    lines = _summary_rows(model)
    counts = [V * E, 4 * H * (E + H) + 8 * H, 0, 4 * H * (H + H) + 8 * H, V * (H + 1)]
    shapes = [(None, T, E), (None, T, H), (None, T, H), (None, H), (None, V)]
    for i, (layer, count, shape) in enumerate(zip(model.layers, counts, shapes, strict=True)):
        assert layer.num_parameters == count
        prefix = f"{i}.{type(layer).__name__}"
        row = next(line for line in lines if line.startswith(prefix + " "))
        assert str(shape) in row, row
        assert row.rstrip().endswith(f"{count:,}"), row
    assert lines[-1] == f"Total params: {sum(counts):,}"
    assert model.num_parameters == sum(counts)


def test_summary_after_fit_without_build(capsys):
    """fit records the input shape, so summary works after it (printing by default)."""
    model = small_model(hidden=16)
    with pytest.raises(ValueError, match="summary"):
        model.summary()
    x, y = toy_data(8)
    model.fit(x, y, epochs=1, verbose=0)
    model.summary()
    out = capsys.readouterr().out
    assert f"{4 * 16 * (V + 16) + 8 * 16:,}" in out and "(None, 16)" in out
    assert f"{V * 17:,}" in out and f"(None, {V})" in out


# ------------------------------------------------------------------------ callbacks
class Recorder(Callback):
    """Copies the parameters at the end of every epoch."""

    def __init__(self):
        self.params = {}

    def on_epoch_end(self, epoch, logs=None):
        self.params[epoch] = copy_params(self.model)


def _never_improving(**kw):
    # min_delta larger than any loss: only the first epoch (from inf) is an improvement
    return EarlyStopping(monitor="loss", min_delta=1e9, **kw)


@pytest.mark.parametrize("restore", [True, False])
def test_early_stopping_stops_and_restores(restore):
    """A never-improving metric stops training long before `epochs`; with
    restore_best_weights the parameters are those after the best (first) epoch,
    else those after the last."""
    x, y = toy_data(16)
    model = small_model()
    recorder = Recorder()
    stopper = _never_improving(patience=1, restore_best_weights=restore)
    history = model.fit(x, y, batch_size=8, epochs=20, callbacks=[recorder, stopper],
                        verbose=0)
    ran = len(history.history["loss"])
    assert 2 <= ran <= 3  # patience=1: 1 or 2 epochs without improvement (see below)
    assert stopper.stopped_epoch == ran - 1
    assert model.epochs_trained == ran
    best, last = recorder.params[0], recorder.params[ran - 1]
    assert any(not np.array_equal(best[k], last[k]) for k in best)
    assert_params_equal(copy_params(model), best if restore else last)


def test_early_stopping_improving_metric_does_not_stop():
    x, y = toy_data(16)
    stopper = EarlyStopping(monitor="loss", patience=0)
    model = small_model(optimizer=optim.Adam(0.01))
    history = model.fit(x, y, batch_size=8, epochs=4, callbacks=[stopper], verbose=0)
    assert np.all(np.diff(history.history["loss"]) < 0)  # measured: it improves
    assert len(history.history["loss"]) == 4 and stopper.stopped_epoch is None


def test_early_stopping_patience_counts_like_keras():
    """Keras's own example: patience=3 on a loss that never improves runs 4 epochs
    ("the number of epochs with no improvement after which training will be stopped")."""
    x, y = toy_data(16)
    history = small_model().fit(x, y, batch_size=8, epochs=10,
                                callbacks=[_never_improving(patience=3)], verbose=0)
    assert len(history.history["loss"]) == 4


def test_model_checkpoint_every_epoch(tmp_path):
    """{epoch} (1-based) and metric fields in the path: one file per epoch, each the
    model at that epoch."""
    x, y = toy_data(24)
    model = small_model()
    recorder = Recorder()
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.3f}.npz")
    history = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.25, verbose=0,
                        callbacks=[recorder, ModelCheckpoint(pattern)])
    names = sorted(os.listdir(tmp_path))
    expected = [f"ckpt-{e + 1:02d}-{v:.3f}.npz" for e, v in
                enumerate(history.history["val_loss"])]
    assert names == expected
    for epoch, name in enumerate(names):
        loaded = seqnet.load_model(tmp_path / name)
        assert loaded.epochs_trained == epoch + 1
        assert_params_equal(loaded.params, recorder.params[epoch])


@pytest.mark.parametrize("mode", ["min", "max"])
def test_model_checkpoint_save_best_only(mode, tmp_path):
    """Files are written exactly for the epochs that improve the monitored metric,
    and a fixed path ends up holding the best epoch's model."""
    x, y = toy_data(24)
    model = small_model(optimizer=optim.Adam(0.01))
    recorder = Recorder()
    per_epoch = ModelCheckpoint(tmp_path / "e{epoch}.npz", monitor="loss",
                                save_best_only=True, mode=mode)
    fixed = ModelCheckpoint(tmp_path / "best.npz", monitor="loss", save_best_only=True,
                            mode=mode)
    history = model.fit(x, y, batch_size=8, epochs=4, verbose=0,
                        callbacks=[recorder, per_epoch, fixed])
    values = history.history["loss"]
    better = (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)
    improved, best = [], None
    for epoch, v in enumerate(values):
        if best is None or better(v, best):
            improved.append(epoch)
            best = v
    assert improved[0] == 0   # the first epoch has nothing to beat
    if mode == "max":
        # the loss falls as the model trains: epochs that do not beat the largest
        # are skipped, so the test sees save_best_only leave some out.
        assert len(improved) < len(values)
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["best.npz"] + [f"e{e + 1}.npz" for e in improved])
    assert_params_equal(seqnet.load_model(tmp_path / "best.npz").params,
                        recorder.params[improved[-1]])


def test_lambda_callback_hooks_and_epochs():
    """Every hook runs at its time, with lifelong epoch numbers across fit calls."""
    x, y = toy_data(20)
    calls = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_batch_end=lambda batch, logs: calls.append(("batch", batch, "loss" in logs)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append(("train_end",)),
    )
    model = small_model()
    model.fit(x, y, batch_size=8, epochs=2, callbacks=[cb], verbose=0)
    model.fit(x, y, batch_size=8, epochs=1, callbacks=[cb], verbose=0)
    epoch = [("batch", b, True) for b in range(3)]
    keys = ["loss"]
    assert calls == (
        [("train_begin",), ("epoch_begin", 0), *epoch, ("epoch_end", 0, keys),
         ("epoch_begin", 1), *epoch, ("epoch_end", 1, keys), ("train_end",)]
        + [("train_begin",), ("epoch_begin", 2), *epoch, ("epoch_end", 2, keys),
           ("train_end",)])
    assert cb.model is model


def test_lambda_callback_unknown_hook():
    with pytest.raises(ValueError, match="on_epoch_finish"):
        LambdaCallback(on_epoch_finish=print)


@pytest.mark.parametrize("callback", [
    lambda tmp: EarlyStopping(monitor="val_loss"),
    lambda tmp: EarlyStopping(monitor="acc"),
    lambda tmp: ModelCheckpoint(tmp / "m.npz", monitor="val_accuracy", save_best_only=True),
], ids=["early-val_loss", "early-acc", "checkpoint-val_accuracy"])
def test_unknown_monitor_lists_the_metrics(callback, tmp_path):
    x, y = toy_data(8)
    with pytest.raises(ValueError, match=r"\['loss'\]"):
        small_model().fit(x, y, epochs=2, callbacks=[callback(tmp_path)], verbose=0)


@pytest.mark.parametrize("make, match", [
    (lambda: EarlyStopping(mode="avg"), "mode"),
    (lambda: EarlyStopping(patience=-1), "patience"),
    (lambda: ModelCheckpoint("m.npz", mode="best"), "mode"),
])
def test_bad_callback_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# --------------------------------------------------------------------- fit arguments
@pytest.mark.parametrize("kwargs, exc, match", [
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": 2.5}, TypeError, "batch_size"),
    ({"epochs": 0}, ValueError, "epochs"),
    ({"epochs": "3"}, TypeError, "epochs"),
    ({"validation_split": 1.0}, ValueError, "validation_split"),
    ({"validation_split": -0.1}, ValueError, "validation_split"),
    ({"validation_split": 0.01}, ValueError, "leaves 0 of 20 samples"),
    ({"verbose": 3}, ValueError, "verbose"),
    ({"validation_data": (np.zeros((2, T), np.int64),)}, TypeError, "validation_data"),
    ({"validation_data": (np.zeros((2, T), np.int64), np.zeros(3, np.int64))}, ValueError,
     "same number of samples"),
    ({"callbacks": [print]}, TypeError, "Callback"),
])
def test_fit_bad_arguments(kwargs, exc, match):
    x, y = toy_data(20)
    model = small_model()
    before = copy_params(model) if model.params else None
    with pytest.raises(exc, match=match):
        model.fit(x, y, **{"verbose": 0, **kwargs})
    assert model.epochs_trained == 0
    if before is not None:
        assert_params_equal(model.params, before)


def test_fit_bad_data():
    x, y = toy_data(20)
    with pytest.raises(ValueError, match="same number of samples, got 20 and 19"):
        small_model().fit(x, y[:-1], verbose=0)
    with pytest.raises(ValueError, match="no samples"):
        small_model().fit(x[:0], y[:0], verbose=0)
    with pytest.raises(ValueError, match="batch axis"):
        small_model().fit(x[0], y[0], verbose=0)


def test_train_before_compile():
    x, y = toy_data(4)
    model = seqnet.Sequential([seqnet.LSTM(4, input_size=V, return_sequences=False),
                               seqnet.Dense(V, activation="softmax")])
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.evaluate(x, y),
                 lambda: model.train_on_batch(x, y)):
        with pytest.raises(ValueError, match="compile"):
            call()
    assert model.predict(x).shape == (4, V)  # inference needs no compile


def test_compile_rejects_unknown_names():
    model = small_model()
    with pytest.raises(ValueError, match="optimizer"):
        model.compile(loss="mse", optimizer="adadelta")
    with pytest.raises(ValueError, match="accuracy"):
        model.compile(loss="mse", metrics=["precision"])
    with pytest.raises(ValueError, match="hinge|loss"):
        model.compile(loss="hinge")


# --------------------------------------------------------------------------- output
def test_verbose_0_prints_nothing(capsys):
    x, y = toy_data(16)
    small_model().fit(x, y, batch_size=4, epochs=2, validation_split=0.25, verbose=0)
    assert capsys.readouterr() == ("", "")


def test_verbose_2_prints_one_line_per_epoch_in_nats_and_bits(capsys):
    x, y = toy_data(16)
    model = small_model()
    history = model.fit(x, y, batch_size=4, epochs=3, validation_split=0.25, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for epoch, line in enumerate(lines):
        assert line.startswith(f"epoch {epoch + 1}/3 - ")
        assert "\r" not in line and "[" not in line  # no progress bar
        loss = history.history["loss"][epoch]
        val = history.history["val_loss"][epoch]
        assert f"loss {loss:.4f} nats ({loss / math.log(2):.4f} bits)" in line
        assert f"val_loss {val:.4f} nats ({val / math.log(2):.4f} bits)" in line
    model.fit(x, y, batch_size=4, epochs=1, verbose=2)  # epochs count on
    assert capsys.readouterr().out.startswith("epoch 4/4 - ")


def test_verbose_2_without_cross_entropy_has_no_bits(rng, capsys):
    model = seqnet.Sequential([seqnet.Dense(1, input_size=3, seed=0)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(rng.standard_normal((8, 3)), rng.standard_normal((8, 1)), epochs=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(" - loss " in line for line in lines)
    assert not any("nats" in line or "bits" in line for line in lines)


def test_verbose_1_draws_a_progress_bar(capsys):
    x, y = toy_data(16)
    small_model().fit(x, y, batch_size=4, epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert out.count("4/4 [" + "=" * 30 + "]") == 2  # the last step is always drawn
    assert out.count("epoch ") == 2 and out.endswith("\n")


def test_verbose_auto_on_a_pipe_prints_lines_only(capsys):
    x, y = toy_data(16)
    small_model().fit(x, y, batch_size=4, epochs=2)  # verbose="auto", stdout captured
    out = capsys.readouterr().out
    assert "\r" not in out and len(out.splitlines()) == 2


def test_progress_bar_draws_and_ends_with_a_newline():
    stream = io.StringIO()
    bar = _progress.ProgressBar(3, enabled=True, stream=stream, min_interval=0.0)
    for step in range(1, 4):
        bar.update(step, loss=0.5 / step)
    text = stream.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    frames = text.rstrip("\n").split("\r")[1:]
    assert len(frames) == 3
    assert frames[0].startswith("1/3 [" + "=" * 10 + ">")
    assert frames[-1].startswith("3/3 [" + "=" * 30 + "]") and "loss 0.1667" in frames[-1]


def test_progress_bar_throttles_but_draws_the_last_step():
    stream = io.StringIO()
    bar = _progress.ProgressBar(1000, enabled=True, stream=stream, min_interval=3600.0)
    for step in range(1, 1001):
        bar.update(step, loss=1.0)
    frames = stream.getvalue().split("\r")[1:]
    assert 1 <= len(frames) <= 2  # at most the first step, then only the last
    assert frames[-1].startswith("1000/1000 [") and frames[-1].endswith("\n")


def test_progress_bar_disabled_writes_nothing():
    stream = io.StringIO()
    bar = _progress.ProgressBar(2, enabled=False, stream=stream)
    bar.update(1)
    bar.update(2)
    assert stream.getvalue() == ""


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_should_draw():
    assert _progress.should_draw("auto", io.StringIO()) is False
    assert _progress.should_draw("auto", _Tty()) is True
    assert _progress.should_draw(1, io.StringIO()) is True
    assert _progress.should_draw(2, _Tty()) is False
    assert _progress.should_draw(0, _Tty()) is False


# ------------------------------------------------------------------ non-finite loss
def test_non_finite_weights_raise_floating_point_error():
    """A weight set to inf makes the first batch's loss NaN: fit stops with
    FloatingPointError naming the epoch and batch."""
    x, y = toy_data(16)
    model = small_model()
    model.build((T,), np.int64)
    model.params["1.Dense/weight"][0, 0] = np.inf
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError,
                                                  match="epoch 1, batch 1"):
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)


def test_diverging_learning_rate_raises_floating_point_error(rng):
    """Linear regression with SGD(1e10): the weights grow without bound and the loss
    overflows to inf within the first epoch (measured: epoch 1, batch 3)."""
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))
    model = seqnet.Sequential([seqnet.Dense(1, input_size=3, seed=0)], seed=0)
    model.compile(loss="mse", optimizer=optim.SGD(1e10))
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="epoch 1"):
        model.fit(x, y, batch_size=4, epochs=5, verbose=0)


def test_layers_with_weights_must_share_a_dtype():
    with pytest.raises(ValueError, match="share one dtype.*float32.*float64"):
        seqnet.Sequential([seqnet.LSTM(4, dtype=np.float64), seqnet.Dense(3)])


def test_dropout_and_activation_keep_the_input_dtype():
    """A float64 model with a Dropout built without dtype= stays float64."""
    x = np.random.default_rng(0).standard_normal((4, 3))
    for layer in (seqnet.Dropout(0.5, seed=0), seqnet.Activation("tanh")):
        assert layer.forward(x, training=True).dtype == np.float64
        assert layer.backward(np.ones_like(x)).dtype == np.float64


def test_argument_errors_are_clear():
    model = small_model()
    model.compile("sparse_categorical_crossentropy", "sgd", metrics="accuracy")
    assert model.metrics == ("accuracy",)
    x, y = toy_data(8)
    with pytest.raises(TypeError, match="fit needs targets y"):
        model.fit(x, None, verbose=0)
    with pytest.raises(ValueError, match="verbose must be"):
        model.fit(x, y, verbose=True)
    with pytest.raises(TypeError, match="validation_split must be a real number"):
        model.fit(x, y, validation_split="a", verbose=0)
    with pytest.raises(ValueError, match="activation must be one of"):
        seqnet.Dense(3, activation=[])
    with pytest.raises(TypeError, match="patience must be an integer"):
        seqnet.callbacks.EarlyStopping(patience=1.5)
    with pytest.raises(ValueError, match="patience must be an integer >= 0"):
        seqnet.callbacks.EarlyStopping(patience=-1)


def test_restore_best_weights_also_when_not_stopped():
    """restore_best_weights puts the best epoch back at the end of training, stopped or not."""
    model = small_model()
    model.compile("sparse_categorical_crossentropy", seqnet.optim.SGD(learning_rate=0.5))
    x, y = toy_data(32)
    stopper = seqnet.callbacks.EarlyStopping("loss", patience=10, restore_best_weights=True)
    history = model.fit(x, y, batch_size=8, epochs=3, callbacks=[stopper], verbose=0)
    assert stopper.stopped_epoch is None
    best = int(np.argmin(history.history["loss"]))
    assert stopper.best == history.history["loss"][best]
    assert_params_equal(model.params, stopper.best_weights)


def test_saved_files_get_the_permissions_open_would_give(tmp_path):
    """A new file: 0o666 less the umask (not the 0o600 of a temporary file); a
    replaced file keeps its mode."""
    model = small_model()
    model.build((T,), np.int64)
    old = os.umask(0o022)
    try:
        model.save(tmp_path / "new.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "new.npz").stat().st_mode & 0o777 == 0o644
    os.chmod(tmp_path / "new.npz", 0o640)
    model.save(tmp_path / "new.npz")
    assert (tmp_path / "new.npz").stat().st_mode & 0o777 == 0o640


def test_atomic_write_refuses_a_path_that_leads_nowhere(tmp_path):
    """A path that cannot be stat'ed (here a loop of symbolic links) is refused with
    a message naming it, before anything is written: the link is left as it was, no
    file appears and no descriptor is leaked. (It used to replace the link with a
    regular file; a save now goes through links, and this one has no end.)"""
    from seqnet._io import atomic_write

    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(ValueError, match="cannot save to .*loop.*symbolic links"):
        with atomic_write(loop) as f:
            f.write(b"data")
    assert loop.is_symlink() and os.readlink(loop) == str(loop)
    assert os.listdir(tmp_path) == ["loop"]
    assert len(os.listdir("/proc/self/fd")) == before
