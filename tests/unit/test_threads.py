"""Thread pools: seqnet's thread count, OpenBLAS held at one thread while seqnet
computes, and kernels called from several Python threads at once."""

import threading

import numba
import numpy as np
import pytest

import seqnet
from seqnet import _dispatch, _threads


def test_set_and_get_num_threads():
    n = seqnet.get_num_threads()
    try:
        seqnet.set_num_threads(1)
        assert seqnet.get_num_threads() == 1 == numba.get_num_threads()
    finally:
        seqnet.set_num_threads(n)
    with pytest.raises(ValueError, match="at most"):
        seqnet.set_num_threads(numba.config.NUMBA_NUM_THREADS + 1)
    with pytest.raises(TypeError, match="positive integer"):
        seqnet.set_num_threads(1.5)


def test_blas_held_at_one_thread_and_restored():
    before = _threads.blas_num_threads()
    assert before, "no OpenBLAS found: the oversubscription guard would do nothing"
    with _threads.blas_single_threaded():
        assert _threads.blas_num_threads() == [1] * len(before)
        with _threads.blas_single_threaded():                 # re-entrant
            assert _threads.blas_num_threads() == [1] * len(before)
        assert _threads.blas_num_threads() == [1] * len(before)
    assert _threads.blas_num_threads() == before


def test_results_do_not_depend_on_the_thread_count():
    """Same thread count, same bits; another thread count, the same numbers to
    rounding (the chunking of the sums changes)."""
    layer = seqnet.LSTM(32, input_size=8, seed=0, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((16, 10, 8))
    n = seqnet.get_num_threads()
    try:
        with _dispatch.parallel_mode("parallel"):
            seqnet.set_num_threads(1)
            one = layer.forward(x)
            seqnet.set_num_threads(n)
            many = layer.forward(x)
            again = layer.forward(x)
    finally:
        seqnet.set_num_threads(n)
    np.testing.assert_array_equal(many, again)
    np.testing.assert_allclose(one, many, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode", ["serial", "parallel"])
def test_calls_from_several_python_threads(mode):
    """Four Python threads run parallel kernels at once (numba's threading layer
    here is 'omp', which allows it): each gets what a lone call gets, and the
    OpenBLAS thread counts come back afterwards."""
    layers = [seqnet.GRU(24, input_size=6, seed=s, dtype=np.float64) for s in range(4)]
    xs = [np.random.default_rng(s).standard_normal((12, 9, 6)) for s in range(4)]
    before = _threads.blas_num_threads()
    with _dispatch.parallel_mode(mode):
        expected = []
        for layer, x in zip(layers, xs, strict=True):
            out = layer.forward(x, training=True)
            dx = layer.backward(np.ones_like(out))
            expected.append((out, dx))
        results = [None] * 4
        errors = []

        def work(i):
            try:
                for _ in range(5):
                    out = layers[i].forward(xs[i], training=True)
                    dx = layers[i].backward(np.ones_like(out))
                results[i] = (out, dx)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    for (out, dx), (e_out, e_dx) in zip(results, expected, strict=True):
        np.testing.assert_array_equal(out, e_out)
        np.testing.assert_array_equal(dx, e_dx)
    assert _threads.blas_num_threads() == before


def test_workqueue_layer_survives_concurrent_serial_kernels():
    """Under numba's workqueue layer two Python threads must not run parallel regions
    at once. A batch-1 layer over a long sequence runs the serial kernel, whose
    whole-sequence products still open parallel regions: every kernel call takes the
    guard, so two threads calling it finish (the unguarded version aborted with
    'Concurrent access has been detected', exit 134)."""
    import os
    import subprocess
    import sys

    code = (
        "import threading, numpy as np, seqnet\n"
        "layer = seqnet.LSTM(64, input_size=64, seed=0)\n"
        "x = np.random.default_rng(0).standard_normal((1, 2000, 64)).astype(np.float32)\n"
        "ref = layer.forward(x)\n"
        "bad = []\n"
        "def work():\n"
        "    for _ in range(20):\n"
        "        out = layer.forward(x)\n"
        "        if not np.array_equal(out, ref): bad.append(1)\n"
        "ts = [threading.Thread(target=work) for _ in range(2)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "import numba; print(numba.threading_layer(), len(bad))\n")
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["workqueue", "0"]


def _kernel_pairs():
    """Every serial/parallel kernel pair of every module of seqnet.kernels."""
    import importlib
    import pkgutil

    import seqnet.kernels
    from seqnet._config import KernelPair

    for info in pkgutil.iter_modules(seqnet.kernels.__path__):
        module = importlib.import_module(f"seqnet.kernels.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, KernelPair):
                yield f"{module.__name__}.{name}", value


@pytest.mark.parametrize("cell", seqnet.variants.NAMES)
def test_serial_and_parallel_kernels_agree_in_both_dtypes(cell):
    """The serial and the parallel kernels give the same bits in float32 and in
    float64, whichever dtype numba compiles first, and the parallel kernels keep
    numba's conversions other than prange off for every signature (numba empties an
    options dict as it reads it: the second signature compiled got them all back,
    and a reset_before GRU's db_hh came out uninitialised in float32)."""
    from numba.core.cpu_options import ParallelOptions

    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((5, 7, 3)).astype(dtype)
        lengths = np.array([7, 2, 5, 7, 1])
        runs = []
        for mode in ("serial", "parallel"):
            layer = seqnet.variants.get(cell).make(4, input_size=3, bidirectional=True,
                                                  dtype=dtype, seed=1)
            with _dispatch.parallel_mode(mode):
                out = layer.forward(x, lengths=lengths, training=True)
                dx = layer.backward(np.cos(out))
            runs.append((out, dx, dict(layer.grads)))
        (out_s, dx_s, g_s), (out_p, dx_p, g_p) = runs
        np.testing.assert_array_equal(out_p, out_s)
        np.testing.assert_array_equal(dx_p, dx_s)
        for k in g_s:
            np.testing.assert_array_equal(g_p[k], g_s[k], err_msg=f"{dtype.__name__} {k}")
    pairs = dict(_kernel_pairs())
    # the plain and regularised loops of the three cells, the projected LSTM, and the
    # layer-normalised LSTM and GRU: a forward and a backward each
    assert len(pairs) == 18, sorted(pairs)
    assert {n.rsplit(".", 1)[0] for n in pairs} == {
        f"seqnet.kernels.{m}" for m in ("lstm", "gru", "rnn", "lstmp", "lstm_ln", "gru_ln")}
    for name, (_, parallel) in pairs.items():
        options = parallel.targetoptions["parallel"]
        assert isinstance(options, ParallelOptions), name
        assert options.prange and not any(
            getattr(options, o) for o in ("comprehension", "reduction", "inplace_binop",
                                          "setitem", "numpy", "stencil", "fusion")), name
