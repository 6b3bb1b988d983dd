"""seqnet is a good neighbour: once its kernels return, the cores are free again for
whatever else runs in the process (PyTorch, numpy's BLAS).

Nothing here is timed. The tests count CPU time, which a thread spinning while idle
burns and a sleeping one does not, and thread counts of the BLAS pools.
"""

import os
import resource
import time

import numba
import numpy as np
import pytest

import seqnet
from seqnet import _dispatch, _threads

#: environment variables that change how OpenMP and BLAS pools wait or size
#: themselves: seqnet sets none of them.
POOL_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS",
                  "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_THREADING_LAYER")


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _idle_cpu(seconds=0.5):
    """CPU seconds the whole process burns while this thread sleeps."""
    start = _cpu_seconds()
    time.sleep(seconds)
    return _cpu_seconds() - start


def _lstm_call(mode):
    layer = seqnet.LSTM(32, input_size=16, seed=0)
    x = np.random.default_rng(0).standard_normal((8, 12, 16)).astype(np.float32)
    with _dispatch.parallel_mode(mode):
        out = layer.forward(x, training=True)
        layer.backward(np.ones_like(out))


@pytest.fixture
def two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs numba's pool of at least 2 threads")
    old = seqnet.get_num_threads()
    seqnet.set_num_threads(2)
    yield
    seqnet.set_num_threads(old)


def test_idle_after_a_parallel_kernel_call(two_threads):
    """After a parallel forward+backward, numba's pool sleeps: over half a second of
    idling the process burns well under a tenth of a second of CPU (a pool thread
    spinning in wait would burn the whole half second). Measured here: 0-2 ms."""
    _lstm_call("parallel")
    _lstm_call("parallel")
    assert numba.threading_layer() in ("omp", "tbb", "workqueue")
    assert _idle_cpu() < 0.1


def test_idle_after_a_training_step(two_threads):
    """The same after a whole training step of the reference model (its kernels and
    numpy's BLAS in the Dense layer and the optimiser)."""
    from seqnet.charlm import build_charlm

    model = build_charlm(12, hidden=32, seed=0)
    model.compile("sparse_categorical_crossentropy", "rmsprop")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 12, (64, 10)), rng.integers(0, 12, 64)
    model.train_on_batch(x, y)
    model.train_on_batch(x, y)
    assert _idle_cpu() < 0.1


@pytest.mark.parametrize("mode", ["auto", "serial", "parallel"])
def test_blas_thread_counts_are_restored_after_a_call(mode, two_threads):
    """Inside a kernel call every OpenBLAS runs one thread; after it, numpy's and
    scipy's pools are back at the size they had, so numpy's products in the user's
    code run on all their threads."""
    with _threads.blas_threads(2):
        assert set(_threads.blas_num_threads()) == {2}
        _lstm_call(mode)
        assert set(_threads.blas_num_threads()) == {2}
    with _threads.blas_threads(1):
        _lstm_call(mode)
        assert set(_threads.blas_num_threads()) == {1}


def test_blas_thread_counts_are_restored_when_a_call_fails(two_threads):
    layer = seqnet.LSTM(8, input_size=4, seed=0)
    with _threads.blas_threads(2):
        with pytest.raises(ValueError):
            layer.forward(np.ones((2, 3, 5), np.float32))   # wrong input size
        _lstm_call("parallel")
        assert set(_threads.blas_num_threads()) == {2}


def test_seqnet_leaves_the_pools_settings_alone():
    """seqnet changes no environment variable that sizes or paces other libraries'
    pools (importing it and running a kernel): other OpenMP users keep their own."""
    before = {k: os.environ.get(k) for k in POOL_VARIABLES}
    _lstm_call("auto")
    assert {k: os.environ.get(k) for k in POOL_VARIABLES} == before
