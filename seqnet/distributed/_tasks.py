"""What runs on the workers: pure functions of their arguments, so that the
scheduler may run any of them again, on any worker, and get the same bits.

A replica's state is data, ``{"params": {name: array}, "optimizer": state_dict}``;
each update makes a new one and never changes its argument (a step recomputed
after a worker died sees what the first run saw). The model that computes a
shard's gradients is a skeleton unpickled once per worker thread and loaded with
the state's parameters before each use.
"""

from __future__ import annotations

import pickle
import threading

import numpy as np

from .. import _threads, optim, text

_local = threading.local()


def _skeleton(blob):
    """This thread's copy of the pickled model ``blob`` (unpickled on first use)."""
    cache = getattr(_local, "models", None)
    if cache is None:
        cache = _local.models = {}
    key = hash(blob)
    model = cache.get(key)
    if model is None:
        cache.clear()   # one run at a time per thread: drop the previous run's model
        model = cache[key] = pickle.loads(blob)
    return model


def _load(model, params):
    for k, v in model.params.items():
        np.copyto(v, params[k])
    return model


def _take(arrays, idx):
    return None if arrays is None else [None if a is None else a[idx] for a in arrays]


def shard_gradients(state, blob, data, idx):
    """The gradients of the summed loss of rows ``idx`` of ``data``.

    Returns ``(grads, loss, positions)``: ``grads`` the gradient of ``loss *
    positions`` (the shard's summed loss), ``loss`` the shard's mean loss over its
    ``positions``.
    """
    model = _load(_skeleton(blob), state["params"])
    xs, ys, ls, sws = data
    _, parts = model._batch_gradients(_take(xs, idx), _take(ys, idx), _take(ls, idx),
                                      _take(sws, idx))
    loss, positions = parts[0]
    grads = {k: g * g.dtype.type(positions) for k, g in model.grads.items()}
    return grads, float(loss), float(positions)


def reduce_gradients(*shards):
    """The batch's mean gradient from its shards' (in the order given: a fixed one),
    and its mean loss and positions: ``(grads, loss, positions)``."""
    positions = sum(p for _, _, p in shards)
    grads = {}
    for k, g in shards[0][0].items():
        acc = g.copy()
        for other, _, _ in shards[1:]:
            acc += other[k]
        acc /= acc.dtype.type(positions)
        grads[k] = acc
    loss = sum(v * p for _, v, p in shards) / positions
    return grads, loss, positions


def mean_of_shard(shard):
    """One shard's mean gradient (local SGD): ``(grads, loss, positions)``."""
    grads, loss, positions = shard
    return {k: g / g.dtype.type(positions) for k, g in grads.items()}, loss, positions


def loss_of(reduced):
    """``(loss, positions)`` of a reduced or shard result (the small part the client
    gathers)."""
    return reduced[1], reduced[2]


def losses_of(*results):
    """``[(loss, positions), ...]`` of reduced or shard results."""
    return [loss_of(r) for r in results]


def apply_update(state, reduced):
    """A new state: ``state`` after one optimiser step on ``reduced``'s gradients."""
    opt = optim.from_state_dict(state["optimizer"])
    params = {k: v.copy() for k, v in state["params"].items()}
    with _threads.blas_single_threaded():
        opt.step(params, reduced[0])
    return {"params": params, "optimizer": opt.state_dict()}


def average(*states):
    """The replicas' mean parameters (summed in the order given), for local SGD."""
    params = {}
    for k, v in states[0]["params"].items():
        acc = v.copy()
        for other in states[1:]:
            acc += other["params"][k]
        acc /= acc.dtype.type(len(states))
        params[k] = acc
    return params


def adopt(state, params):
    """``state`` with the parameters ``params`` (its optimiser state kept)."""
    return {"params": {k: v.copy() for k, v in params.items()},
            "optimizer": state["optimizer"]}


def predict_block(blob, x, batch_size):
    """The model's outputs for the rows ``x``."""
    return _skeleton(blob).predict(x, batch_size=batch_size)


def evaluate_block(blob, x, y, batch_size):
    """``(model.evaluate(x, y), rows)``."""
    return _skeleton(blob).evaluate(x, y, batch_size=batch_size), len(x)


def _file_windows(path, vocabulary, maxlen):
    with open(path, encoding="utf-8") as f:
        ids = vocabulary.encode(f.read())
    return text.sequence_windows(ids, maxlen)


def predict_file(blob, path, vocabulary, maxlen, batch_size):
    """The model's outputs over the windows of the text file ``path``."""
    x, _ = _file_windows(path, vocabulary, maxlen)
    return _skeleton(blob).predict(x, batch_size=batch_size)


def evaluate_file(blob, path, vocabulary, maxlen, batch_size):
    """``(model.evaluate(windows), windows)`` of the text file ``path``."""
    x, y = _file_windows(path, vocabulary, maxlen)
    return _skeleton(blob).evaluate(x, y, batch_size=batch_size), len(x)
