"""Data-parallel training on a Dask cluster (see `fit`)."""

from __future__ import annotations

import math
import os
import pickle
import time

import numpy as np

from .. import _checks, _progress
from ..callbacks import Callback
from ..model import History
from . import _lazy, _tasks


def _state_of(model):
    return {"params": {k: v.copy() for k, v in model.params.items()},
            "optimizer": model.optimizer.state_dict()}


def _adopt_state(model, state):
    for k, v in model.params.items():
        np.copyto(v, state["params"][k])
    model.optimizer.load_state_dict(state["optimizer"])


def _check_model(model):
    model._need_compiled()
    if model.stateful:
        raise ValueError("seqnet.distributed.fit trains stateless models: a stateful "
                         "model's batches continue each other's states, which a shard "
                         "on another worker does not have")
    if len(model.outputs) != 1 or model._multi_out:
        raise ValueError(f"seqnet.distributed.fit trains models with one output, this "
                         f"one has {len(model.outputs)}")


def fit(model, x, y, *, client, batch_size=32, epochs=1, validation_split=0.0,
        validation_data=None, shuffle=True, callbacks=None, verbose="auto", lengths=None,
        sample_weight=None, validation_lengths=None, sync_every=1, checkpoint=None):
    r"""Train ``model`` data-parallel on a Dask cluster: `Model.fit` spread over the
    workers of ``client``.

    Every worker holds a replica of the model. Each global batch (the batch
    `Model.fit` would take, in the same shuffled order from the model's generator)
    is split into one contiguous shard per worker (as many shards as the cluster
    has workers when the call starts, for the whole call); each worker computes
    its shard's gradients, the shards' gradients are summed in the shards' fixed
    order, and every replica applies that same update with its own copy of the
    optimiser.
    The data is sent to the workers once (every worker gets all of it, since the
    shuffled batches take any row), and per step only gradients and updates move.

    Parameters
    ----------
    model : Model
        A compiled model with one output, not stateful. Trained in place: after the
        call it holds the replicas' weights and optimiser state, as after
        `Model.fit`.
    x, y, batch_size, epochs, validation_split, validation_data, shuffle
        As `Model.fit`.
    callbacks, verbose, lengths, sample_weight, validation_lengths
        As `Model.fit`. ``callbacks`` get ``on_batch_end`` as each step's loss
        arrives, and the epoch calls on the client, where the validation and the
        metrics are computed.
    client : distributed.Client
        A client of the cluster; its workers at the start of each epoch, in sorted
        address order, hold the shards.
    sync_every : int, default 1
        1: synchronous data parallelism (one update per global batch, the same on
        every replica). ``k > 1``: local SGD, each replica steps on its own shard's
        mean gradient, and the replicas' weights are averaged every ``k`` steps and
        at the end of each epoch (each keeps its optimiser state; the model keeps
        the first worker's).
    checkpoint : str or os.PathLike, optional
        Save the model there after every epoch (`Model.save`, written atomically).

    Returns
    -------
    History
        As `Model.fit`'s: ``loss`` (the mean over the epoch's positions), the
        validation and metric entries, ``seconds``.

    Raises
    ------
    TypeError
        ``client`` is not a ``distributed.Client``, or as `Model.fit`.
    ValueError
        The model is stateful or has several outputs, a bad ``sync_every``, or as
        `Model.fit`.
    FloatingPointError
        The training loss became NaN or infinite.
    MissingExtraError
        dask or distributed is not installed (``pip install "seqnet[distributed]"``).

    Notes
    -----
    Each worker computes the gradient of its shard's summed loss, $g_j = n_j
    \nabla L_j$ ($n_j$ positions, mean loss $L_j$); the update uses
    $(g_1 + \dots + g_N) / (n_1 + \dots + n_N)$, the gradient of the global
    batch's mean loss. This equals what one process computes to rounding, not bit
    for bit: one process reduces over the batch's rows inside its matrix products
    and scales by $1/n$ once, the workers reduce over their rows and then add the
    partial sums. Measured (tests/unit/test_distributed.py's LSTM(8), 2 workers,
    batch 16, 5 epochs): the largest difference, relative to the largest weight,
    was 5e-16 in float64 and 1.7e-7 in float32. Two runs with the same number of
    shards give the same bits: the order of the sum is fixed, and a step
    recomputed on another worker after a failure computes the same shard.

    Fault tolerance is Dask's: each replica's state is a chain of tasks from the
    epoch's start (pure functions of their inputs), so when a worker dies the
    scheduler recomputes what it held on the other workers and the run finishes
    with the weights of an uninterrupted run.

    Dropout draws its masks from each replica's generators, so a model with
    dropout trains correctly but not to the same weights as one process.

    Examples
    --------
    >>> from distributed import Client, LocalCluster          # doctest: +SKIP
    >>> cluster = LocalCluster(n_workers=2, threads_per_worker=1)   # doctest: +SKIP
    >>> history = seqnet.distributed.fit(model, x, y, client=Client(cluster),
    ...                                  batch_size=64, epochs=5)   # doctest: +SKIP
    """
    client = _lazy.client_of(client)
    _check_model(model)
    if y is None:
        raise TypeError("fit needs targets y (one per sample of x), got None")
    xs, ys, ls, sws, n = model._data(x, y, lengths, sample_weight=sample_weight)
    batch_size = _checks.positive_int(batch_size, "batch_size")
    epochs = _checks.positive_int(epochs, "epochs")
    sync_every = _checks.positive_int(sync_every, "sync_every")
    if isinstance(verbose, bool) or verbose not in ("auto", 0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    val, (xs, ys, ls, sws, n) = model._validation(
        validation_data, validation_split, validation_lengths, (xs, ys, ls, sws, n))
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
        cb.model = model
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)
    model._note_input(xs)
    if not model.built:   # lazily built layers (a Sequential's Dense) get their weights
        one = slice(0, 1)
        first, lens = model._take(xs, one), model._take(ls, one)
        multi = model._multi_in
        model.predict(first if multi else first[0], batch_size=1,
                      lengths=lens if multi else lens[0])
    draw = _progress.should_draw(verbose)
    lines = verbose != 0

    # the model's weights, optimiser state and generators as they are now
    blob = pickle.dumps(model)
    data, blob_f = client.scatter([(xs, ys, ls, sws), blob], broadcast=True, hash=False)
    history = History()
    model.stop_training = False
    steps = math.ceil(n / batch_size)
    # the number of shards is fixed for the whole run (a worker lost or added changes
    # where the shards run, never how the batch is split: the same bits)
    shards = len(_lazy.worker_addresses(client))
    for cb in callbacks:
        cb.on_train_begin({})
    last_epoch = model.epochs_trained + epochs
    try:
        for _ in range(epochs):
            epoch = model.epochs_trained
            for cb in callbacks:
                cb.on_epoch_begin(epoch, {})
            order = model.rng.permutation(n) if shuffle else np.arange(n)
            bar = _progress.ProgressBar(steps, enabled=draw)
            start = time.perf_counter()
            workers = _lazy.worker_addresses(client)
            losses, state, root = _epoch(client, model, workers, shards, data, blob_f,
                                         order, batch_size, steps, sync_every)
            total, count = 0.0, 0.0
            for b, future in enumerate(losses):
                parts = future.result()
                value = sum(v * p for v, p in parts) / sum(p for _, p in parts)
                if not np.isfinite(value):
                    raise FloatingPointError(f"the training loss became {value} at epoch "
                                             f"{epoch + 1}, batch {b + 1}; lower the "
                                             "learning rate or clip the gradients")
                total += sum(v * p for v, p in parts)
                count += sum(p for _, p in parts)
                bar.update(b + 1, loss=total / count)
                for cb in callbacks:
                    cb.on_batch_end(b, {"loss": value})
            _adopt_state(model, state.result())
            del state, root, losses
            logs = {"loss": total / count}
            if any(model._metric_objects):
                logs.update(model._batched_loss(xs, ys, ls, batch_size, with_loss=False))
            if val is not None:
                vx, vy, vl, vw = val
                logs.update({f"val_{k}": v for k, v in
                             model._batched_loss(vx, vy, vl, batch_size, vw).items()})
            seconds = time.perf_counter() - start
            model.epochs_trained += 1
            history.append(epoch, {**logs, "seconds": seconds})
            if checkpoint is not None:
                model.save(checkpoint)
            if lines:
                print(model._epoch_line(epoch, last_epoch, logs, seconds), flush=True)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    finally:
        client.cancel([data, blob_f])
    for cb in callbacks:
        cb.on_train_end({})
    return history


def _epoch(client, model, workers, shards, data, blob, order, batch_size, steps,
           sync_every):
    """Submit one epoch's tasks. Returns a future per step of its ``[(loss,
    positions), ...]``, the future of the first replica's state at the end, and the
    epoch's root (the state it started from: hold it until the end is gathered,
    since a replica recomputed after a failure starts from it)."""
    submit = client.submit
    root = client.scatter([_state_of(model)], broadcast=True, hash=False)[0]

    def on(j, fn, *args):
        return submit(fn, *args, workers=[workers[j % len(workers)]],
                      allow_other_workers=True, pure=False)

    states = [root] * shards
    losses = []
    for b in range(steps):
        idx = order[b * batch_size:(b + 1) * batch_size]
        parts = [(j, s) for j, s in enumerate(np.array_split(idx, shards)) if len(s)]
        grads = [on(j, _tasks.shard_gradients, states[j], blob, data, s) for j, s in parts]
        if sync_every == 1:
            reduced = submit(_tasks.reduce_gradients, *grads, pure=False)
            losses.append(submit(_tasks.losses_of, reduced,
                                 pure=False))
            states = [on(j, _tasks.apply_update, states[j], reduced)
                      for j in range(shards)]
        else:
            means = {j: on(j, _tasks.mean_of_shard, g) for (j, _), g in zip(parts, grads,
                                                                         strict=True)}
            losses.append(submit(_tasks.losses_of, *means.values(),
                                 pure=False))
            states = [on(j, _tasks.apply_update, states[j], means[j]) if j in means
                      else states[j] for j in range(shards)]
            if (b + 1) % sync_every == 0 or b + 1 == steps:
                mean = submit(_tasks.average, *states, pure=False)
                states = [on(j, _tasks.adopt, states[j], mean) for j in range(shards)]
    return losses, states[0], root
