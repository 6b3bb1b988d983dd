"""The inference forwards' gate buffers come from a pool (`_buffers.SCRATCH`) and go
back to it: reused between calls, never shared between two callers, never part of
what a forward returns or keeps for its backward."""

import threading

import numpy as np
import pytest

import seqnet
from seqnet.kernels import _buffers
from seqnet.kernels._buffers import ScratchPool


def test_take_gives_back_the_kept_buffer_once():
    pool = ScratchPool(keep=2, min_bytes=0)
    a = pool.take((3, 4), np.float32)
    assert a.shape == (3, 4) and a.dtype == np.float32 and a.flags.c_contiguous
    pool.give(a)
    assert pool.take((3, 4), np.float32) is a
    # taken: the pool no longer holds it
    assert pool.take((3, 4), np.float32) is not a
    # another shape or dtype never gets it
    pool.give(a)
    assert pool.take((4, 3), np.float32) is not a
    assert pool.take((3, 4), np.float64) is not a
    assert pool.take((3, 4), np.float32) is a


def test_small_buffers_are_not_kept_and_the_count_is_bounded():
    pool = ScratchPool(keep=2, min_bytes=1000)
    small = pool.take((10,), np.float32)   # 40 bytes
    pool.give(small)
    assert pool.nbytes == 0 and pool.take((10,), np.float32) is not small
    bufs = [pool.take((300 + i,), np.float64) for i in range(3)]
    for b in bufs:
        pool.give(b)
    assert pool.nbytes == bufs[1].nbytes + bufs[2].nbytes   # the oldest went first
    assert pool.take(bufs[0].shape, np.float64) is not bufs[0]
    assert pool.take(bufs[2].shape, np.float64) is bufs[2]
    pool.clear()
    assert pool.nbytes == 0


def test_two_threads_never_hold_the_same_buffer():
    pool = ScratchPool(keep=4, min_bytes=0)
    in_use, lock, clashes = set(), threading.Lock(), []

    def work():
        for _ in range(2000):
            a = pool.take((64,), np.float32)
            with lock:
                if id(a) in in_use:
                    clashes.append(id(a))
                in_use.add(id(a))
            a[:] = 1.0
            with lock:
                in_use.discard(id(a))
            pool.give(a)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clashes == []


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_inference_reuses_the_gate_buffer_and_returns_none_of_it(cell):
    _buffers.SCRATCH.clear()
    B, T, I, H = 64, 20, 48, 96            # gates over 1 MB (min_bytes) for both
    layer = getattr(seqnet, cell)(H, input_size=I, dtype=np.float32, seed=0,
                                  return_sequences=True, return_state=True)
    x = np.random.default_rng(1).standard_normal((B, T, I)).astype(np.float32)
    first = layer.forward(x)
    kept = list(_buffers.SCRATCH._free.values())
    assert len(kept) == 1 and kept[0].shape[:2] == (B, T)
    for arr in first:
        assert not np.shares_memory(arr, kept[0])
    second = layer.forward(x)
    # the same buffer served the second call, and the results are the same
    assert list(_buffers.SCRATCH._free.values())[0] is kept[0]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    # a training forward keeps its gates for the backward: never the pooled one
    layer.forward(x, training=True)
    assert list(_buffers.SCRATCH._free.values())[0] is kept[0]
    out = layer.forward(x, training=True)
    grads = layer.backward([np.ones_like(out[0]), *(np.zeros_like(s) for s in out[1:])])
    for g in [grads] if isinstance(grads, np.ndarray) else grads:
        if isinstance(g, np.ndarray):
            assert not np.shares_memory(g, kept[0])
    again = layer.forward(x)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
