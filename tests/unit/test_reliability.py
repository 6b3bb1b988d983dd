"""Hostile and careless use of the library: links and special files, tampered and
half-bad model files, threads, parameters changed between a forward and its
backward. Each test failed before the fix it pins down (issue 13)."""

import json
import os
import stat
import sys
import threading
import time

import numpy as np
import pytest

import seqnet
from seqnet import _io


def _model(seed=0):
    model = seqnet.Sequential([seqnet.LSTM(6, input_size=4, return_sequences=False, seed=seed),
                               seqnet.Dense(3, activation="softmax", seed=seed + 1)],
                              seed=seed + 2)
    model.compile("sparse_categorical_crossentropy", seqnet.optim.Adam(0.01))
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((16, 5, 4)).astype(np.float32), rng.integers(0, 3, 16)


def _rewrite(path, out, *, config=None, arrays=None):
    """A copy of the model file ``path`` at ``out``, its config or arrays edited."""
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    cfg = json.loads(str(data.pop("config")))
    if config is not None:
        config(cfg)
    if arrays is not None:
        arrays(data)
    np.savez(out, config=np.array(json.dumps(cfg)), **data)
    return out


# ------------------------------------------------------------- item 4: saving
def test_save_goes_through_a_symlink_to_its_target(tmp_path):
    """The link stays a link; the file it leads to (in another directory) is
    replaced atomically, beside itself; a dangling link gets its target made."""
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "model.npz"
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    x, _ = _data()
    model = _model()
    model.save(link)                        # dangling: the target is created
    assert link.is_symlink() and os.readlink(link) == str(target)
    np.testing.assert_array_equal(seqnet.load_model(target).predict(x), model.predict(x))
    other = _model(seed=5)
    other.save(link)                        # existing target: replaced
    assert link.is_symlink() and os.readlink(link) == str(target)
    np.testing.assert_array_equal(seqnet.load_model(link).predict(x), other.predict(x))
    assert sorted(os.listdir(tmp_path)) == ["link.npz", "real"]
    assert os.listdir(tmp_path / "real") == ["model.npz"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_save_refuses_what_is_not_a_regular_file(tmp_path):
    """A FIFO, a link to a device, a directory: refused before anything is written,
    each left as it was."""
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="is a FIFO, not a regular file"):
        _model().save(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    dev = tmp_path / "dev.npz"
    dev.symlink_to("/dev/null")
    with pytest.raises(ValueError, match="is a character device, not a regular file"):
        _model().save(dev)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and dev.is_symlink()
    with pytest.raises(IsADirectoryError, match="is a directory"):
        _model().save(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _model().save(tmp_path / "missing" / "m.npz")
    assert sorted(os.listdir(tmp_path)) == ["dev.npz", "fifo.npz"]


@pytest.mark.skipif(sys.platform == "win32", reason="advisory locks")
def test_the_next_save_removes_what_killed_saves_left(tmp_path):
    """Temporaries of the same file whose writer is gone (no lock) and that are
    older than STALE_SECONDS are removed; a fresh one, a locked one (a save in
    progress) and other files are left."""
    import fcntl

    path = tmp_path / "m.npz"
    old = time.time() - 2 * _io.STALE_SECONDS
    names = {"stale": ".m.npz.0123456789ab.tmp", "stale2": ".m.npz.ba9876543210.tmp",
             "fresh": ".m.npz.aaaaaaaaaaaa.tmp", "locked": ".m.npz.bbbbbbbbbbbb.tmp",
             "other": ".n.npz.cccccccccccc.tmp", "odd": ".m.npz.xyz.tmp"}
    for key, name in names.items():
        (tmp_path / name).write_bytes(b"partial")
        if key != "fresh":
            os.utime(tmp_path / name, (old, old))
    holder = os.open(tmp_path / names["locked"], os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        _model().save(path)
    finally:
        os.close(holder)
    left = set(os.listdir(tmp_path))
    assert left == {"m.npz"} | {names[k] for k in ("fresh", "locked", "other", "odd")}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kill -9 and /proc")
def test_a_killed_save_leaves_the_file_and_its_temporary_goes_next_time(tmp_path):
    """kill -9 during a save: the previous file is intact, and the temporary the
    dead process left is removed by the next save once it is stale."""
    import signal
    import subprocess

    path = tmp_path / "m.npz"
    _model().save(path)
    before = path.read_bytes()
    code = ("import numpy as np, sys, time, seqnet\n"
            "real = np.savez\n"
            "def slow(f, **a):\n"
            "    f.write(b'x' * 100); f.flush(); print('writing', flush=True); time.sleep(60)\n"
            "np.savez = slow\n"
            "m = seqnet.Sequential([seqnet.Dense(2, input_size=3)])\n"
            f"m.save({str(path)!r})\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    (orphan,) = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert path.read_bytes() == before
    old = time.time() - 2 * _io.STALE_SECONDS
    os.utime(tmp_path / orphan, (old, old))
    _model(seed=1).save(path)
    assert os.listdir(tmp_path) == ["m.npz"]


# ------------------------------------------------- items 5, 7, 9: model files
def test_load_weights_checks_every_array_before_it_assigns_any(tmp_path):
    """A file whose last parameter is a string array (or has a structured dtype):
    an error naming the file and the parameter, and not one weight changed."""
    model = _model()
    model.build((5, 4))
    model.save(tmp_path / "m.npz")
    last = sorted(model.params)[-1]
    for bad in (np.array(["a"] * 3), np.zeros(3, dtype=[("a", "f4")])):
        def spoil(data, bad=bad):
            key = f"param/{last}"
            data[key] = np.resize(bad, data[key].shape)
        path = _rewrite(tmp_path / "m.npz", tmp_path / "bad.npz", arrays=spoil)
        fresh = _model(seed=9)
        fresh.build((5, 4))
        before = {k: v.copy() for k, v in fresh.params.items()}
        with pytest.raises(ValueError, match=rf"bad\.npz.*{last}.*not real numbers"):
            fresh.load_weights(path)
        for k, v in before.items():
            np.testing.assert_array_equal(fresh.params[k], v)
        with pytest.raises(ValueError, match=rf"bad\.npz.*{last}"):
            seqnet.load_model(path)


def test_loading_initialises_no_weight_and_a_tampered_size_fails_at_once(tmp_path,
                                                                        monkeypatch):
    """Loading makes the layers' weights from the file's arrays without initialising
    any first; a config whose sizes do not match its arrays (hidden_size raised in a
    small file: the QR of the initialisation grows as H^3) is refused before anything
    is made."""
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")

    def no_init(self, input_size):
        raise AssertionError(f"{type(self).__name__} initialised weights while loading")

    for cls in (seqnet.LSTM, seqnet.Dense, seqnet.Embedding, seqnet.GRU, seqnet.SimpleRNN):
        monkeypatch.setattr(cls, "_initial_params", no_init)
    loaded = seqnet.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    other = _model(seed=3)
    other.load_weights(tmp_path / "m.npz")
    np.testing.assert_array_equal(other.predict(x), model.predict(x))

    def raise_hidden(cfg):
        cfg["layers"][0]["config"]["hidden_size"] = 4000
    tampered = _rewrite(tmp_path / "m.npz", tmp_path / "t.npz", config=raise_hidden)
    with pytest.raises(ValueError, match=r"t\.npz.*weight_ih_l0.*has shape \(24, 4\), "
                                         r"expected \(16000, 4\)"):
        seqnet.load_model(tampered)


def test_optimizer_state_is_checked_against_the_weights_at_load(tmp_path):
    """Removed or misshapen optimizer slots are an error at load, naming the slot,
    not a resumed run that silently differs or fails at its first step."""
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    slot = next(k for k in np.load(tmp_path / "m.npz").files if k.startswith("slot/"))

    def drop(data):
        del data[slot]
    # Adam keeps two slots per weight: without one, load_state_dict already refuses;
    # without both, the weight has no state at all.
    weight = slot.split("/", 2)[2]

    def drop_weight(data):
        for k in [k for k in data if k.startswith("slot/") and k.split("/", 2)[2] == weight]:
            del data[k]
    for spoil, pattern in ((drop, "slot"), (drop_weight, rf"no state .*{weight}")):
        path = _rewrite(tmp_path / "m.npz", tmp_path / "s.npz", arrays=spoil)
        with pytest.raises(ValueError, match=pattern):
            seqnet.load_model(path)

    def reshape(data):
        data[slot] = np.zeros(data[slot].shape + (2,), data[slot].dtype)
    path = _rewrite(tmp_path / "m.npz", tmp_path / "r.npz", arrays=reshape)
    with pytest.raises(ValueError, match=rf"{slot[len('slot/'):]} has shape"):
        seqnet.load_model(path)


def test_a_structured_dtype_weight_is_refused():
    """load_state_dict already refused it (a model file's is refused above)."""
    layer = seqnet.Dense(2, input_size=3)
    bad = np.zeros((2, 3), dtype=[("a", "f4")])
    with pytest.raises(TypeError, match=r"state_dict\['weight'\] must be a real array"):
        layer.load_state_dict({"weight": bad, "bias": np.zeros(2)})


# --------------------------------------------------------- item 6: lazy build
def test_four_threads_make_one_layers_first_call_at_once():
    """The first forward of a layer whose input size is unknown builds its weights
    once, under a lock: four threads calling it at once (20 times over) all get the
    result a lone call gets (a KeyError in 8 of 20 runs before)."""
    x = np.random.default_rng(0).standard_normal((3, 5, 4)).astype(np.float32)
    expected = seqnet.LSTM(8, seed=0).forward(x)
    for _ in range(20):
        layer = seqnet.LSTM(8, seed=0)
        barrier = threading.Barrier(4)
        results, errors = [None] * 4, []

        def work(i, layer=layer, barrier=barrier, results=results, errors=errors):
            try:
                barrier.wait()
                results[i] = layer.forward(x)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        for out in results:
            np.testing.assert_array_equal(out, expected)


# ------------------------------------------------------------- item 8: shapes
@pytest.mark.parametrize("layer", [seqnet.LSTM(3), seqnet.GRU(3), seqnet.SimpleRNN(3),
                                   seqnet.Dense(3)], ids=lambda layer: type(layer).__name__)
def test_zero_features_are_refused_at_the_first_call(layer):
    """Input with 0 features used to build a layer that saved but could not load."""
    shape = (2, 0) if isinstance(layer, seqnet.Dense) else (2, 4, 0)
    with pytest.raises(ValueError, match="at least one feature"):
        layer.forward(np.zeros(shape, np.float32))
    assert not layer.built


def test_fit_on_zero_features_fails_at_its_first_batch():
    model = _model()
    model.layers[0] = seqnet.LSTM(6, return_sequences=False, seed=0)
    with pytest.raises(ValueError, match="at least one feature"):
        model.fit(np.zeros((8, 5, 0), np.float32), np.zeros(8, np.int64), verbose=0)


# ------------------------------------------------------ item 9: silent wrongs
@pytest.mark.parametrize("make", [lambda: seqnet.LSTM(4, input_size=3, seed=0),
                                  lambda: seqnet.Dense(4, input_size=3, seed=0)],
                         ids=["LSTM", "Dense"])
def test_parameters_changed_between_forward_and_backward_are_refused(make):
    """The backward reads the weights the forward saw: changed in place in between,
    they would give another function's gradients; backward raises, and a new
    forward works again."""
    layer = make()
    x = np.random.default_rng(0).standard_normal((2, 5, 3) if isinstance(layer, seqnet.LSTM)
                                                 else (2, 3)).astype(np.float32)
    out = layer.forward(x, training=True)
    name = sorted(layer.params)[-1]
    layer.params[name][...] += 0.5
    with pytest.raises(ValueError, match="parameters were modified in place"):
        layer.backward(np.ones_like(out))
    out = layer.forward(x, training=True)
    layer.backward(np.ones_like(out))


def test_one_layer_trained_from_two_threads_raises():
    """A layer holds one training forward's cache for its backward: a second
    thread's forward or backward in between would hand one thread the other's
    gradients; both raise, and the first thread's backward still works."""
    layer = seqnet.GRU(4, input_size=3, seed=0)
    x = np.ones((2, 5, 3), np.float32)
    out = layer.forward(x, training=True)
    caught = []

    def other():
        for call in (lambda: layer.forward(x, training=True), lambda: layer.forward(x),
                     lambda: layer.backward(np.ones_like(out))):
            try:
                call()
            except RuntimeError as exc:
                caught.append(str(exc))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(caught) == 3 and all("another thread" in m for m in caught)
    layer.backward(np.ones_like(out))      # this thread's pair is intact
    t = threading.Thread(target=lambda: layer.forward(x, training=True))
    t.start()
    t.join()                              # released: another thread may train it now
