"""seqnet.distributed on a LocalCluster of two worker processes on the loopback
interface: data-parallel training equals one process's, survives a killed worker,
and the missing extra is named."""

import importlib.util
import json
import os
import signal
import sys
import time

import numpy as np
import pytest

import seqnet
from seqnet import optim
from seqnet.callbacks import Callback

distributed = pytest.importorskip("distributed")
import seqnet.distributed as sd  # noqa: E402

F, V, T = 3, 4, 6


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on the loopback interface, as
    ``--workers 2`` starts them."""
    with sd.cluster_client(workers=2) as c:
        yield c


def thread_counts():
    """This process's numba pool (its size and the threads in use), the OpenBLAS
    threads of every loaded OpenBLAS, and NUMBA_NUM_THREADS in its environment."""
    import numba

    from seqnet import _threads

    return (numba.config.NUMBA_NUM_THREADS, numba.get_num_threads(),
            tuple(sorted(set(_threads.blas_num_threads()))), os.environ.get("NUMBA_NUM_THREADS"))


def data(n=70, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, T, F)), rng.integers(0, V, n)


def make(dtype=np.float64, optimizer=None):
    model = seqnet.Sequential([
        seqnet.LSTM(8, input_size=F, return_sequences=False, seed=1, dtype=dtype),
        seqnet.Dense(V, activation="softmax", seed=2, dtype=dtype),
    ], seed=0)
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=optimizer or optim.Adam(0.01))
    return model


def same_bits(a, b):
    return all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def max_relative(a, b):
    return max(float(np.max(np.abs(a.params[k] - b.params[k]))
                     / (np.max(np.abs(a.params[k])) + 1e-30)) for k in a.params)


def test_batch_gradients_then_step_is_train_on_batch():
    """The training step split in two (the gradients of a batch, then the update)
    gives the bits of the step in one piece."""
    x, y = data(16)
    a, b = make(), make()
    for _ in range(3):
        a.train_on_batch(x, y)
        xs, ys, ls, sws, _ = b._data(x, y, None)
        b._batch_gradients(xs, ys, ls, sws)
        b.optimizer.step(b.params, b.grads)
    assert same_bits(a, b)


def test_fit_equals_one_process_to_rounding(client):
    """Two workers, the global batch split between them, give one process's weights to
    float64 rounding, the same History, and the same bits on every run."""
    x, y = data()
    one = make()
    h1 = one.fit(x, y, batch_size=16, epochs=2, verbose=0)
    two = make()
    h2 = sd.fit(two, x, y, client=client, batch_size=16, epochs=2, verbose=0)
    again = make()
    sd.fit(again, x, y, client=client, batch_size=16, epochs=2, verbose=0)
    assert max_relative(one, two) < 1e-12
    assert not same_bits(make(), two)           # it trained
    assert same_bits(two, again)
    np.testing.assert_allclose(h2.history["loss"], h1.history["loss"], rtol=1e-12)
    assert h2.epoch == [0, 1] and len(h2.history["seconds"]) == 2
    assert two.epochs_trained == 2
    assert two.optimizer.iterations == one.optimizer.iterations == 10


def test_float32_equals_one_process_to_rounding(client):
    x, y = data()
    one, two = make(np.float32), make(np.float32)
    one.fit(x, y, batch_size=16, epochs=1, verbose=0)
    sd.fit(two, x, y, client=client, batch_size=16, epochs=1, verbose=0)
    assert 0 < max_relative(one, two) < 1e-4 or same_bits(one, two)


def test_sample_weights_equal_one_process(client):
    """Sample weights enter each shard's summed loss as they enter the batch's mean."""
    x, y = data()
    w = np.random.default_rng(5).uniform(0.0, 2.0, len(y))
    one, two = make(), make()
    h1 = one.fit(x, y, batch_size=16, epochs=2, verbose=0, sample_weight=w)
    h2 = sd.fit(two, x, y, client=client, batch_size=16, epochs=2, verbose=0,
                sample_weight=w)
    assert max_relative(one, two) < 1e-12
    np.testing.assert_allclose(h2.history["loss"], h1.history["loss"], rtol=1e-12)
    plain = make()
    plain.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert max_relative(plain, two) > 1e-6     # the weights mattered


def test_masked_steps_equal_one_process(client):
    """With lengths, shards have different numbers of valid steps: the sum of their
    summed losses over the batch's positions is still the batch's mean."""
    x, _ = data()
    rng = np.random.default_rng(6)
    y, lengths = rng.integers(0, V, (len(x), T)), rng.integers(1, T + 1, len(x))
    models = []
    for _ in range(2):
        model = seqnet.Sequential([
            seqnet.LSTM(8, input_size=F, return_sequences=True, seed=1, dtype=np.float64),
            seqnet.Dense(V, activation="softmax", seed=2, dtype=np.float64),
        ], seed=0)
        model.compile(loss="sparse_categorical_crossentropy", optimizer=optim.Adam(0.01))
        models.append(model)
    one, two = models
    val = dict(validation_data=(x[:16], y[:16]), validation_lengths=lengths[:16])
    h1 = one.fit(x, y, batch_size=16, epochs=2, verbose=0, lengths=lengths, **val)
    h2 = sd.fit(two, x, y, client=client, batch_size=16, epochs=2, verbose=0,
                lengths=lengths, **val)
    assert max_relative(one, two) < 1e-12
    np.testing.assert_allclose(h2.history["loss"], h1.history["loss"], rtol=1e-12)
    # the validation honours its own lengths, on the client as in one process
    np.testing.assert_allclose(h2.history["val_loss"], h1.history["val_loss"], rtol=1e-12)
    assert h1.history["val_loss"][-1] == one.evaluate(x[:16], y[:16], batch_size=16,
                                                      lengths=lengths[:16])["loss"]


def test_validation_and_checkpoint(client, tmp_path):
    """Validation is computed as fit computes it, and every epoch writes the model."""
    x, y = data()
    path = tmp_path / "ckpt.npz"
    one, two = make(), make()
    h1 = one.fit(x, y, batch_size=16, epochs=2, validation_split=0.2, verbose=0)
    h2 = sd.fit(two, x, y, client=client, batch_size=16, epochs=2, validation_split=0.2,
                verbose=0, checkpoint=path)
    np.testing.assert_allclose(h2.history["val_loss"], h1.history["val_loss"], rtol=1e-10)
    saved = seqnet.load_model(path)
    assert same_bits(saved, two)


def test_local_sgd(client):
    """Local SGD (replicas averaged every 3 steps) trains, ends with one model, and is
    reproducible; it is not the synchronous update."""
    x, y = data(96)
    runs = []
    for _ in range(2):
        model = make(optimizer=optim.SGD(0.5))
        h = sd.fit(model, x, y, client=client, batch_size=16, epochs=3, verbose=0,
                   sync_every=3)
        runs.append((model, h))
    (a, ha), (b, _) = runs
    assert same_bits(a, b)
    assert ha.history["loss"][-1] < ha.history["loss"][0]
    sync = make(optimizer=optim.SGD(0.5))
    sd.fit(sync, x, y, client=client, batch_size=16, epochs=3, verbose=0)
    assert not same_bits(a, sync)


def test_bad_arguments(client):
    x, y = data(8)
    with pytest.raises(TypeError, match="client must be a distributed.Client"):
        sd.fit(make(), x, y, client="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="sync_every"):
        sd.fit(make(), x, y, client=client, sync_every=0)


def test_missing_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(sd.MissingExtraError, match=r'seqnet\[distributed\]'):
        sd.fit(make(), *data(8), client=None)
    with pytest.raises(sd.MissingExtraError, match=r'seqnet\[distributed\]'):
        sd.predict(make(), ["a.txt"], client=None, maxlen=3)
    assert issubclass(sd.MissingExtraError, ModuleNotFoundError)


def test_predict_and_evaluate_dask_array(client):
    """Over a dask array of uneven row blocks: the outputs of Model.predict, bit for
    bit, and Model.evaluate's loss and accuracy to rounding."""
    da = pytest.importorskip("dask.array")
    x, y = data(70)
    model = make()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    dx, dy = da.from_array(x, chunks=(23, 3, 2)), da.from_array(y, chunks=40)
    out = sd.predict(model, dx, client=client, batch_size=8)
    np.testing.assert_array_equal(out, model.predict(x, batch_size=32))
    got, want = sd.evaluate(model, dx, dy, client=client), model.evaluate(x, y)
    assert set(got) == set(want)
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-12)


def test_predict_and_evaluate_text_files(client, tmp_path):
    """Over text files: each file's windows, as Model.predict and Model.evaluate give
    them, and the overall loss weighted by the files' windows."""
    texts = ["the cat sat on the mat. " * 7, "a dog ran in the fog and sat. " * 4]
    vocab = seqnet.text.CharVocabulary.from_text("".join(texts))
    files = []
    for i, t in enumerate(texts):
        files.append(tmp_path / f"part{i}.txt")
        files[-1].write_text(t, encoding="utf-8")
    model = seqnet.Sequential([
        seqnet.Embedding(len(vocab), 4, seed=1, dtype=np.float64),
        seqnet.LSTM(8, seed=2, dtype=np.float64),
        seqnet.Dense(len(vocab), activation="softmax", seed=3, dtype=np.float64),
    ], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    windows = [seqnet.text.sequence_windows(vocab.encode(t), 10) for t in texts]
    outs = sd.predict(model, files, client=client, vocabulary=vocab, maxlen=10)
    for out, (wx, _) in zip(outs, windows, strict=True):
        np.testing.assert_array_equal(out, model.predict(wx))
    res = sd.evaluate(model, files, client=client, vocabulary=vocab, maxlen=10)
    per_file = [model.evaluate(wx, wy)["loss"] for wx, wy in windows]
    for f, v in zip(files, per_file, strict=True):
        assert res[f"loss/{f}"] == pytest.approx(v, rel=1e-12)
    rows = [len(wx) for wx, _ in windows]
    assert res["loss"] == pytest.approx(np.dot(per_file, rows) / sum(rows), rel=1e-12)
    with pytest.raises(TypeError, match="maxlen"):
        sd.predict(model, files, client=client, vocabulary=vocab)
    with pytest.raises(TypeError, match="dask array or a list of text files"):
        sd.predict(model, np.zeros((2, 3)), client=client)


class _KillOneWorker(Callback):
    """SIGKILL one worker process when the first step's loss arrives (the later
    steps of the epoch are still queued or running)."""

    def __init__(self, pid, client):
        self.pid, self.client, self.killed, self.in_flight = pid, client, False, 0

    def on_batch_end(self, batch, logs=None):
        if not self.killed:
            self.in_flight = sum(map(len, self.client.processing().values()))
            os.kill(self.pid, signal.SIGKILL)
            self.killed = True


def test_killed_worker_recomputed(client):
    """A worker process killed mid-epoch: its steps are recomputed on the other, the
    run finishes, and its weights are those of an uninterrupted run, bit for bit."""
    x, y = data(200)
    clean = make()
    h_clean = sd.fit(clean, x, y, client=client, batch_size=8, epochs=2, verbose=0)
    client.wait_for_workers(2, timeout=120)
    pids = client.run(os.getpid)
    victim = pids[sorted(pids)[1]]
    kill = _KillOneWorker(victim, client)
    hurt = make()
    h_hurt = sd.fit(hurt, x, y, client=client, batch_size=8, epochs=2, verbose=0,
                    callbacks=[kill])
    assert kill.killed and kill.in_flight > 0   # tasks were running when it died
    client.wait_for_workers(2, timeout=120)   # the nanny restarts the killed one
    assert victim not in client.run(os.getpid).values()
    assert same_bits(clean, hurt)
    assert h_hurt.history["loss"] == h_clean.history["loss"]


TINY = dict(lengths=(6, 8), seeds=(0, 1), hidden=4, epochs=1, train_size=60, test_size=20,
            batch_size=20, grad_length=8, grad_batch=10)


def test_sweep_equals_serial(client):
    """The long-range grid run as Dask tasks gives the serial run's numbers, bit for
    bit, and shows one progress line per run."""
    from seqnet.experiments import long_range as lr

    serial = lr.run(**TINY, log=None)
    lines = []
    dask = lr.run(**TINY, log=lines.append, client=client)
    assert dask["mse"] == serial["mse"] and dask["gradients"] == serial["gradients"]
    assert len(lines) == 12 and sorted(int(x[1:].split("/")[0]) for x in lines) == list(
        range(1, 13))


def test_sweep_survives_a_killed_worker(client):
    """A worker killed when the first run finishes: its runs are retried on the other,
    and every run is there once, with the serial run's numbers."""
    from seqnet.experiments import long_range as lr

    serial = lr.run(**TINY, log=None)
    client.wait_for_workers(2, timeout=120)
    pids = client.run(os.getpid)
    victim = pids[sorted(pids)[0]]
    lines = []

    def log(line):
        if not lines:
            os.kill(victim, signal.SIGKILL)
        lines.append(line)

    dask = lr.run(**TINY, log=log, client=client)
    assert dask["mse"] == serial["mse"] and dask["gradients"] == serial["gradients"]
    assert len(lines) == 12
    client.wait_for_workers(2, timeout=120)
    assert victim not in client.run(os.getpid).values()


def test_the_command_takes_workers(tmp_path, capsys):
    """``--workers 2`` starts a local cluster and writes what the serial command
    writes (the timings apart)."""
    from seqnet.experiments import long_range as lr

    argv = ["--lengths", "6", "--seeds", "0", "--epochs", "1", "--train-size", "40",
            "--test-size", "20", "--hidden", "4", "--grad-length", "6"]
    assert lr.main(["--out-dir", str(tmp_path / "serial"), *argv]) == 0
    assert lr.main(["--out-dir", str(tmp_path / "dask"), *argv, "--workers", "2"]) == 0
    a, b = (json.loads((tmp_path / d / "long_range.json").read_text())
            for d in ("serial", "dask"))
    assert a["mse"] == b["mse"] and a["gradients"] == b["gradients"]
    assert "[3/3]" in capsys.readouterr().out
    assert lr.main(["--out-dir", str(tmp_path), *argv, "--workers", "0"]) == 2


def test_forecast_sweep_equals_serial(client):
    """The forecasting experiment's models trained as Dask tasks: the serial numbers."""
    from seqnet.experiments import forecast as fc

    kwargs = {"epochs": 2, "seeds": [0, 1], "hidden": 4, "horizon": 3, "log": None}
    serial, dask = fc.run(**kwargs), fc.run(**kwargs, client=client)
    for kind in fc.KINDS:
        for k in ("rmse", "mae", "paths", "epochs", "val_loss"):
            np.testing.assert_array_equal(dask["models"][kind][k], serial["models"][kind][k])


def test_local_workers_share_out_the_cores(client):
    """``--workers N``: numba's pool in each worker has the cores' share (though the
    worker imported numba before its environment was set) and OpenBLAS one thread;
    a cluster of one worker gets all the cores; and this process's environment
    never holds another NUMBA_NUM_THREADS than its own pool's (numba rereads it at
    every compilation and refuses a change once its threads run)."""
    import numba

    own = (None, str(numba.config.NUMBA_NUM_THREADS))
    share = sd._sweep.worker_threads(2)
    assert set(client.run(thread_counts).values()) == {(share, share, (1,), str(share))}
    assert os.environ.get("NUMBA_NUM_THREADS") in own
    whole = sd._sweep.worker_threads(1)
    with sd.cluster_client(workers=1) as one:
        assert list(one.run(thread_counts).values()) == [(whole, whole, (1,), str(whole))]
        assert os.environ.get("NUMBA_NUM_THREADS") in own
    assert whole == len(os.sched_getaffinity(0)) and share == max(1, whole // 2)


def test_workers_partition_as_this_process_does(client):
    """One-thread workers partition every call for this process's thread count
    (SEQNET_PLAN_THREADS): a long-range LSTM run that this process splits into
    blocks and chunks gives its MSE bit for bit on a worker, where partitioning for
    the worker's own single thread would not."""
    from seqnet import _dispatch
    from seqnet.experiments import long_range as lr

    ours = _dispatch.get_plan_threads()
    assert set(client.run(_dispatch.get_plan_threads).values()) == {ours}
    config = {"hidden": 32, "epochs": 2, "train_size": 1000, "test_size": 200,
              "batch_size": 50, "learning_rate": 0.01, "clipnorm": 1.0, "grad_length": 0,
              "grad_batch": 500, "seeds": [1]}
    job = (100, 1, "LSTM", config)
    here = lr._one_run(job)["mse"]
    assert client.submit(lr._one_run, job, pure=False).result()["mse"] == here
    if ours > 1:   # the partition matters: for one thread, other bits
        _dispatch.set_plan_threads(1)
        try:
            assert lr._one_run(job)["mse"] != here
        finally:
            _dispatch.set_plan_threads(None)


def test_set_plan_threads_checks_its_argument():
    from seqnet import _dispatch

    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive integer or None"):
            _dispatch.set_plan_threads(bad)
    assert _dispatch.get_plan_threads() >= 1
    # SEQNET_PLAN_THREADS at import: taken, or a clear error naming it
    import subprocess

    code = "from seqnet import _dispatch; print(_dispatch.get_plan_threads())"
    env = dict(os.environ, SEQNET_PLAN_THREADS="3")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "3"
    env["SEQNET_PLAN_THREADS"] = "two"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True)
    assert done.returncode != 0 and "SEQNET_PLAN_THREADS must be a positive integer" in done.stderr


def test_restarted_worker_keeps_its_threads(client):
    """A worker killed and restarted by its nanny starts with the same thread counts."""
    share = sd._sweep.worker_threads(2)
    client.wait_for_workers(2, timeout=120)
    pids = client.run(os.getpid)
    victim = pids[sorted(pids)[0]]
    os.kill(victim, signal.SIGKILL)
    for _ in range(240):   # the nanny notices, then starts a new process
        now = client.run(os.getpid, on_error="ignore")   # the dead one may still be listed
        if len(now) == 2 and victim not in now.values():
            break
        time.sleep(0.5)
    client.wait_for_workers(2, timeout=120)
    assert victim not in client.run(os.getpid).values()
    assert set(client.run(thread_counts).values()) == {(share, share, (1,), str(share))}


@pytest.mark.skipif(importlib.util.find_spec("num2words") is None,
                    reason="the experiments extra (num2words) is not installed")
def test_translate_sweep_equals_serial(client):
    """The translation experiment's two models trained as Dask tasks: the serial
    run's losses, weights, hypotheses and scores, bit for bit."""
    from seqnet.experiments import translate as tr

    kwargs = {"max_number": 40, "epochs": 2, "hidden": 8, "embed": 4, "width": 2, "log": None}
    serial = tr.run(**kwargs)
    lines = []
    dask = tr.run(**{**kwargs, "log": lines.append}, client=client)
    for s in (serial, dask):
        s["summary"].pop("seconds")
    assert dask["summary"] == serial["summary"]
    for name, a in serial["models"].items():
        b = dask["models"][name]
        for k in ("greedy", "beam", "scores", "by_length"):
            assert b[k] == a[k], (name, k)
        assert b["translator"].history["loss"] == a["translator"].history["loss"]
        assert same_bits(b["translator"].model, a["translator"].model)
    assert sum(line.startswith(("[1/2] ", "[2/2] ")) for line in lines) == 2


def test_speakers_sweep_equals_serial(client):
    """The speaker experiment's baseline and seeds, and its cross-validation folds,
    as Dask tasks: the serial run's predictions and losses, bit for bit."""
    from seqnet.experiments import speakers as sp

    try:
        train, test = sp.load_japanese_vowels()
    except FileNotFoundError:
        pytest.skip("the experiments extra (sktime's data) is not installed")
    small = (sp.Split(train.x[::9], train.lengths[::9], train.y[::9]),
             sp.Split(test.x[::37], test.lengths[::37], test.y[::37]))
    kwargs = {"seeds": (0, 1), "config": {"hidden": 4, "epochs": 2}, "data": small}
    serial = sp.run(**kwargs, log=None)
    lines = []
    dask = sp.run(**kwargs, log=lines.append, client=client)
    for k in ("accuracy", "predictions", "confusion", "final_loss", "dtw_predictions",
              "dtw_confusion"):
        np.testing.assert_array_equal(dask[k], serial[k])
    assert dask["dtw_accuracy"] == serial["dtw_accuracy"] and len(lines) == 3
    keep = np.concatenate([np.nonzero(train.y == c)[0][:3] for c in range(9)])
    folds = sp.Split(train.x[keep], train.lengths[keep], train.y[keep])
    config = {"hidden": 4, "epochs": 1}
    np.testing.assert_array_equal(sp.cross_validate(folds, config, seeds=(0,), client=client),
                                  sp.cross_validate(folds, config, seeds=(0,)))


def test_wordlm_sweep_equals_serial(client):
    """The word model's baselines and LSTM as two Dask tasks: the serial run's
    perplexities, history, weights and next words, bit for bit."""
    from seqnet.experiments import wordlm as wl

    options = dict(quick=True, epochs=1, embed=4, hidden=8, bptt=20)
    serial = wl.run(**options, log=None)
    dask = wl.run(**options, log=None, client=client)
    for k in ("unigram", "kn", "examples", "data", "config"):
        assert dask[k] == serial[k], k
    for k in ("valid", "test", "best_epoch", "parameters"):
        assert dask["lstm"][k] == serial["lstm"][k], k
    assert dask["lstm"]["history"]["valid"] == serial["lstm"]["history"]["valid"]
    assert same_bits(dask["model"], serial["model"])


def test_streaming_legs_equal_serial(client):
    """The streaming experiment's two legs as Dask tasks (a fixed number of stream
    epochs: the budget never binds): the serial run's losses, bit for bit."""
    from seqnet.experiments import streaming as st

    kwargs = dict(max_chars=3000, epochs=2, hidden=8, maxlen=12, stream_batch_size=4,
                  bptt=10, max_stream_epochs=2, stream_budget=1e9)
    serial = st.run(**kwargs, log=None)
    lines = []
    dask = st.run(**kwargs, log=lines.append, client=client)
    assert dask["config"] == serial["config"] and dask["target"] == serial["target"]
    assert dask["initial_loss"] == serial["initial_loss"]
    for leg in ("windows", "stream"):
        for k in serial[leg]:
            if k != "seconds":
                assert dask[leg][k] == serial[leg][k], (leg, k)
    assert len(dask["stream"]["loss"]) == 2
    assert [line[:6] for line in lines] == ["[1/1] ", "[1/1] "]


def test_the_commands_take_the_cluster_options(capsys):
    """Every experiment's command accepts --workers and --scheduler (one or the
    other) and lists them in its --help."""
    from seqnet.experiments import forecast, long_range, speakers, streaming, translate, wordlm

    for module in (forecast, long_range, speakers, streaming, translate, wordlm):
        with pytest.raises(SystemExit) as exc:
            module.main(["--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "--workers N" in out and "--scheduler ADDRESS" in out, module.__name__
        with pytest.raises(SystemExit) as exc:
            module.main(["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"])
        assert exc.value.code == 2
        assert "not allowed with" in capsys.readouterr().err


def test_importing_seqnet_distributed_leaves_dask_alone():
    """dask and distributed are imported by the functions that need them, not by
    ``import seqnet.distributed``."""
    import subprocess

    code = ("import sys, seqnet.distributed; "
            "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(seqnet.__file__)))
    assert out.stdout.strip() == "[]"
