"""Model files across versions: a file written by an earlier seqnet still loads."""

import json
import pathlib

import numpy as np

import seqnet
from seqnet.text import CharVocabulary, vocabulary_of

DATA = pathlib.Path(__file__).parent.parent / "data"


def _v1_data():
    """The data model_v1.npz was trained on (its maker's own generator)."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 9, (48, 7))
    return x, (x[:, 0] + x[:, -1]) % 9


def test_a_version_1_file_loads_predicts_and_resumes():
    """tests/data/model_v1.npz was saved by seqnet at 99ea0c5 (format version 1, the
    vocabulary beside the metadata, layers without return_state): Embedding,
    SimpleRNN, LSTM, GRU (reset_before), Dropout, Dense and Activation, trained two
    epochs with Adam. It loads as the same model: the same predictions, its
    vocabulary now in the metadata, its compile settings and optimiser state, and
    one more epoch of training gives the weights the old version's third epoch
    gave (model_v1_expected.npz, written by the same script)."""
    path = DATA / "model_v1.npz"
    with np.load(path, allow_pickle=False) as f:
        assert json.loads(str(f["config"]))["version"] == 1
    expected = np.load(DATA / "model_v1_expected.npz", allow_pickle=False)
    model = seqnet.load_model(path)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Embedding", "SimpleRNN", "LSTM", "GRU", "Dropout", "Dense", "Activation"]
    assert model.layers[3].reset_after is False and model.layers[1].nonlinearity == "relu"
    assert vocabulary_of(model) == CharVocabulary.from_text("abcdefghi")
    assert model.metadata["maxlen"] == 7
    assert model.epochs_trained == 2 and model.optimizer.iterations == 6
    x, y = _v1_data()
    np.testing.assert_allclose(model.predict(x), expected["predict"], rtol=1e-5, atol=1e-7)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for name, value in model.params.items():
        np.testing.assert_allclose(value, expected[f"resumed/{name}"], rtol=1e-4, atol=1e-6,
                                   err_msg=name)


def test_files_are_written_as_version_2_and_name_their_class(tmp_path):
    """This version writes format version 2: the model's class, and a vocabulary in
    the metadata; it reads its own files back."""
    model = seqnet.Sequential([seqnet.GRU(3, input_size=2, seed=0)], seed=1)
    model.metadata["vocabulary"] = CharVocabulary.from_text("ab").to_config()
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        config = json.loads(str(f["config"]))
    assert config["version"] == 2 and config["class"] == "Sequential"
    assert "vocabulary" not in config and config["metadata"]["vocabulary"]["chars"] == ["a", "b"]
    loaded = seqnet.load_model(tmp_path / "m.npz")
    assert vocabulary_of(loaded) == CharVocabulary.from_text("ab")
    assert loaded.layers[0].get_config() == model.layers[0].get_config()


def test_models_and_layers_pickle_and_deepcopy_with_their_training_state():
    """A model survives pickle and copy.deepcopy (layers hold a lock that does not
    travel): the copy predicts the same, and a training step on each, from a pending
    forward, gives the same weights; the copy's lock is its own."""
    import copy
    import pickle

    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 3)).astype("f4")
    y = rng.standard_normal((4, 2)).astype("f4")
    model = seqnet.Sequential([seqnet.GRU(5, return_sequences=False, seed=1),
                               seqnet.Dropout(0.2, seed=2), seqnet.Dense(2, seed=3)], seed=4)
    model.compile(loss="mse", optimizer="rmsprop")
    model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    layer = model.layers[0]
    layer.forward(x, training=True)  # a pending training cache
    clones = pickle.loads(pickle.dumps(model)), copy.deepcopy(model)
    expected = copy.deepcopy(layer).backward(np.ones((4, 5), "f4"))
    for clone in clones:
        assert clone.layers[0]._lock is not layer._lock
        dx = clone.layers[0].backward(np.ones((4, 5), "f4"))
        np.testing.assert_array_equal(dx, expected)
        assert np.abs(dx).sum() > 0
        np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    twin = pickle.loads(pickle.dumps(model))
    model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    twin.fit(x, y, epochs=1, batch_size=2, verbose=0)
    for a, b in zip(model.layers, twin.layers, strict=True):
        for name in a.params:
            np.testing.assert_array_equal(a.params[name], b.params[name])
