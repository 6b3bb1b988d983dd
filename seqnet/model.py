"""``Sequential``: a stack of layers with Keras's compile / fit / evaluate / predict.

Models are saved to one ``.npz`` file holding the architecture (JSON), the
weights, the optimiser state, the random-generator states and any attached
vocabulary, with no pickle anywhere, and written atomically.
"""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np

from . import _checks, _io, _progress, _threads, losses, optim
from .callbacks import Callback
from .core_layers import Activation, Dense, Dropout, Embedding
from .layers import GRU, LSTM, RecurrentLayer, SimpleRNN

__all__ = ["History", "Sequential", "load_model", "LAYER_CLASSES"]

#: layer classes a saved model may name.
LAYER_CLASSES = {c.__name__: c for c in (LSTM, GRU, SimpleRNN, Dense, Dropout, Embedding,
                                         Activation)}

FORMAT = "seqnet-model"
FORMAT_VERSION = 1
_CE = (losses.CategoricalCrossentropy, losses.SparseCategoricalCrossentropy)


class History:
    """The per-epoch metrics of a `Sequential.fit` call.

    Attributes
    ----------
    history : dict of str to list of float
        Each metric (``"loss"``, ``"val_loss"``, ``"accuracy"``, ``"seconds"``,
        ...) to its values, one per epoch run.
    epoch : list of int
        The (0-based, lifelong) numbers of those epochs.
    """

    def __init__(self):
        self.history = {}
        self.epoch = []

    def append(self, epoch, logs):
        """Record one epoch's metrics.

        Parameters
        ----------
        epoch : int
            The epoch's number.
        logs : dict of str to float
            Its metrics; each is appended to ``history[name]``.
        """
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, metrics={sorted(self.history)})"


def _bits(nats):
    return nats / math.log(2.0)


class Sequential:
    """A linear stack of layers, trained Keras-style.

    Parameters
    ----------
    layers : sequence of layers, optional
        Recurrent layers ([`seqnet.LSTM`][seqnet.LSTM], ...) and
        [`seqnet.Dense`][seqnet.Dense], [`seqnet.Dropout`][seqnet.Dropout],
        [`seqnet.Embedding`][seqnet.Embedding],
        [`seqnet.Activation`][seqnet.Activation]; see `add`.
    seed : int, optional
        Seeds the shuffling of batches in `fit`.

    Attributes
    ----------
    params, grads : dict of str to ndarray
        Every layer's parameters as ``"<index>.<Layer>/<name>"``, views of the
        layers' own arrays.
    vocabulary : object, optional
        Anything with ``to_config()`` (e.g.
        [`seqnet.text.CharVocabulary`][seqnet.text.CharVocabulary]); saved and
        loaded with the model.
    metadata : dict
        JSON-serialisable notes saved with the model (e.g. preprocessing).
    epochs_trained : int
        Epochs run by `fit` over the model's life (saved with it).

    Raises
    ------
    TypeError
        ``seed`` is not an integer or None, or a layer does not follow the layer
        contract.
    ValueError
        Layers with weights of different dtypes.

    Notes
    -----
    A last ``Dense(..., activation="softmax")`` trained with a cross-entropy loss
    is fused with it: training computes the loss from the logits
    (``log_softmax``), whose gradient ``softmax(z) - y`` is exact and stable for
    any logits. ``predict`` still returns probabilities.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> model = seqnet.Sequential([seqnet.LSTM(8, input_size=5, return_sequences=False),
    ...                            seqnet.Dense(5, activation="softmax")], seed=0)
    >>> model.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop")
    >>> x = np.random.default_rng(0).integers(0, 5, size=(64, 10))
    >>> history = model.fit(x, x[:, -1], batch_size=16, epochs=2, verbose=0)
    >>> len(history.history["loss"])
    2
    """

    def __init__(self, layers=(), *, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an integer or None, got {seed!r}")
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.layers = []
        for layer in layers:
            self.add(layer)
        self.loss = None
        self.optimizer = None
        self.metrics = ()
        self.vocabulary = None
        self.metadata = {}
        self.epochs_trained = 0
        self.stop_training = False
        self.input_shape = None
        self.input_dtype = None

    # -------------------------------------------------------------- structure
    def add(self, layer):
        """Append a layer (anything following the layer contract).

        Parameters
        ----------
        layer : layer
            An object with ``forward``, ``backward``, ``params``, ``grads`` and
            ``get_config`` (every seqnet layer).

        Raises
        ------
        TypeError
            ``layer`` lacks one of those.
        ValueError
            ``layer`` has weights of another dtype than the model's other layers.
        """
        for attr in ("forward", "backward", "params", "grads", "get_config"):
            if not hasattr(layer, attr):
                raise TypeError(f"layer must have .{attr} (a seqnet layer), "
                                f"got {type(layer).__name__}")
        if _has_weights(layer):
            for other in self.layers:
                if _has_weights(other) and other.dtype != layer.dtype:
                    raise ValueError(f"every layer with weights must share one dtype: "
                                     f"{type(layer).__name__} is {layer.dtype}, "
                                     f"{type(other).__name__} is {other.dtype}")
        self.layers.append(layer)

    def _prefix(self, i):
        return f"{i}.{type(self.layers[i]).__name__}"

    @property
    def params(self):
        """dict of str to ndarray: every layer's parameters, ``"<index>.<Layer>/<name>"``."""
        return {f"{self._prefix(i)}/{k}": v for i, layer in enumerate(self.layers)
                for k, v in layer.params.items()}

    @property
    def grads(self):
        """dict of str to ndarray: every layer's gradients, keyed as `params`."""
        return {f"{self._prefix(i)}/{k}": v for i, layer in enumerate(self.layers)
                for k, v in layer.grads.items()}

    @property
    def num_parameters(self):
        """int: total number of scalar parameters."""
        return int(sum(v.size for v in self.params.values()))

    def _fused(self):
        last = self.layers[-1] if self.layers else None
        return (isinstance(last, Dense) and last.activation == "softmax"
                and isinstance(self.loss, _CE) and not self.loss.from_logits)

    # ---------------------------------------------------------------- passes
    def _forward(self, x, training, logits=False):
        if not self.layers:
            raise ValueError("the model has no layers")
        for i, layer in enumerate(self.layers):
            if isinstance(layer, RecurrentLayer):
                x, _ = layer.forward(x, training=training)
            elif logits and i == len(self.layers) - 1:
                x = layer.forward(x, training, logits=True)
            else:
                x = layer.forward(x, training)
        return x

    def _backward(self, d):
        for layer in reversed(self.layers):
            d = layer.backward(d)
            if isinstance(layer, RecurrentLayer):
                d = d[0]
            if d is None:
                break

    def _note_input(self, x):
        x = np.asarray(x)
        self.input_shape = tuple(x.shape[1:])
        self.input_dtype = x.dtype.name

    def compile(self, loss, optimizer="rmsprop", metrics=()):
        """Choose the loss, the optimiser and extra metrics.

        Parameters
        ----------
        loss : str, Loss or dict
            ``"categorical_crossentropy"``, ``"sparse_categorical_crossentropy"``,
            ``"mse"``, or anything [`seqnet.losses.get`][seqnet.losses.get] takes.
        optimizer : str, Optimizer or dict, default "rmsprop"
            ``"sgd"``, ``"rmsprop"``, ``"adam"``, ``"adagrad"`` (Keras's defaults)
            or anything [`seqnet.optim.get`][seqnet.optim.get] takes.
        metrics : str or sequence of str, default ()
            ``"accuracy"`` (argmax agreement) is the one known.

        Raises
        ------
        ValueError
            An unknown loss, optimiser or metric.
        TypeError
            A loss or optimiser of the wrong kind.
        """
        self.loss = losses.get(loss)
        self.optimizer = optim.get(optimizer)
        metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics or ())
        for m in metrics:
            if m != "accuracy":
                raise ValueError(f"metrics: only 'accuracy' is known, got {m!r}")
        self.metrics = metrics

    def _need_compiled(self):
        if self.loss is None or self.optimizer is None:
            raise ValueError("call compile(loss=..., optimizer=...) before training "
                             "or evaluating")

    def _loss_for_training(self):
        if self._fused():
            return losses.from_config({**self.loss.get_config(), "from_logits": True})
        return self.loss

    def train_on_batch(self, x, y):
        """One optimiser step on one batch.

        Parameters
        ----------
        x : array_like, shape (B, T, F) or (B, T)
            Inputs: floats, or integer indices for a first layer that takes them.
        y : array_like
            Targets, as the loss takes them (``(B,)`` class indices for
            ``sparse_categorical_crossentropy`` on a ``(B, C)`` output, ...).

        Returns
        -------
        float
            The batch's mean loss, before the step.

        Raises
        ------
        ValueError
            The model is not compiled, or bad inputs or targets (from the layers
            and the loss).
        """
        self._need_compiled()
        loss_fn = self._loss_for_training()
        # numba's threads own the cores: an OpenBLAS pool spinning between kernel
        # calls would oversubscribe them (measured: 85 against 28 ms a step).
        with _threads.blas_single_threaded():
            out = self._forward(x, True, logits=self._fused())
            value = loss_fn.forward(out, y)
            self._backward(loss_fn.backward())
            self.optimizer.step(self.params, self.grads)
        return value

    # ---------------------------------------------------------------- batching
    @staticmethod
    def _check_xy(x, y, name_x="x", name_y="y"):
        x = np.asarray(x)
        if x.ndim < 2:
            raise ValueError(f"{name_x} must have a batch axis and features, got shape {x.shape}")
        if y is not None:
            y = np.asarray(y)
            if y.shape[0] != x.shape[0]:
                raise ValueError(f"{name_x} and {name_y} must have the same number of samples, "
                                 f"got {x.shape[0]} and {y.shape[0]}")
        if x.shape[0] == 0:
            raise ValueError(f"{name_x} has no samples")
        return x, y

    def _batched_loss(self, x, y, batch_size):
        """Mean loss (and accuracy) over all samples, in inference mode."""
        fused = self._fused()
        loss_fn = self._loss_for_training()
        total, correct, n = 0.0, 0, x.shape[0]
        for start in range(0, n, batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            with _threads.blas_single_threaded():
                out = self._forward(xb, False, logits=fused)
            total += loss_fn.forward(out, yb) * xb.shape[0]
            if "accuracy" in self.metrics:
                pred = out.argmax(axis=-1)
                truth = yb if yb.ndim == pred.ndim else yb.argmax(axis=-1)
                correct += float(np.mean(pred == truth)) * xb.shape[0]
        result = {"loss": total / n}
        if "accuracy" in self.metrics:
            result["accuracy"] = correct / n
        return result

    def fit(self, x, y, batch_size=32, epochs=1, validation_split=0.0, validation_data=None,
            shuffle=True, callbacks=None, verbose="auto"):
        """Train for ``epochs`` more epochs.

        Parameters
        ----------
        x, y : array_like
            Inputs (``(N, T, F)`` floats, ``(N, T)`` indices, ...) and targets, one
            per sample (``(N,)`` class indices, ``(N, C)`` one-hot, ...).
        batch_size : int, default 32
            Samples per optimiser step (the last batch may be smaller).
        epochs : int, default 1
            Epochs to run in this call (``epochs_trained`` goes on counting).
        validation_split : float in [0, 1), default 0
            Hold out the last fraction of the samples (before shuffling), as Keras.
        validation_data : tuple (x_val, y_val), optional
            Takes precedence over ``validation_split``.
        shuffle : bool, default True
            Shuffle the samples each epoch with the model's seeded generator.
        callbacks : list of Callback, optional
            [`seqnet.callbacks`][seqnet.callbacks] objects; ``fit`` sets their
            ``model``.
        verbose : {"auto", 0, 1, 2}, default "auto"
            0 silent; 1 a progress bar and a line per epoch; 2 a line per epoch;
            "auto" is 1 on a terminal and 2 otherwise.

        Returns
        -------
        History
            ``history["loss"]`` (mean training loss of each epoch, in nats for the
            cross-entropies), ``val_loss`` when validating, ``accuracy`` metrics,
            and ``seconds`` (wall time of each epoch).

        Raises
        ------
        ValueError
            The model is not compiled; ``x`` and ``y`` of different lengths or
            without samples; a bad ``verbose``, ``validation_split`` (or one that
            leaves a part empty) or batch size.
        TypeError
            ``y`` is None, ``validation_data`` is not a pair, a callback is not a
            [`Callback`][seqnet.callbacks.Callback], or an argument of the wrong
            type.
        FloatingPointError
            The training loss became NaN or infinite.
        """
        self._need_compiled()
        if y is None:
            raise TypeError("fit needs targets y (one per sample of x), got None")
        x, y = self._check_xy(x, y)
        batch_size = _checks.positive_int(batch_size, "batch_size")
        epochs = _checks.positive_int(epochs, "epochs")
        if isinstance(verbose, bool) or verbose not in ("auto", 0, 1, 2):
            raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
        if isinstance(validation_split, bool) or not isinstance(validation_split,
                                                                (int, float, np.floating)):
            raise TypeError(f"validation_split must be a float in [0, 1), "
                            f"got {validation_split!r}")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a tuple (x_val, y_val)")
            xv, yv = self._check_xy(*validation_data, "validation_data[0]", "validation_data[1]")
        elif validation_split > 0.0:
            n_val = int(x.shape[0] * validation_split)
            if n_val == 0 or n_val == x.shape[0]:
                raise ValueError(f"validation_split={validation_split} leaves "
                                 f"{n_val} of {x.shape[0]} samples for validation")
            x, xv, y, yv = x[:-n_val], x[-n_val:], y[:-n_val], y[-n_val:]
        else:
            xv = yv = None
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
            cb.model = self
        self._note_input(x)
        draw = _progress.should_draw(verbose)
        lines = verbose != 0
        history = History()
        self.stop_training = False
        n = x.shape[0]
        steps = math.ceil(n / batch_size)
        for cb in callbacks:
            cb.on_train_begin({})
        last_epoch = self.epochs_trained + epochs
        for _ in range(epochs):
            epoch = self.epochs_trained
            for cb in callbacks:
                cb.on_epoch_begin(epoch, {})
            order = self.rng.permutation(n) if shuffle else np.arange(n)
            bar = _progress.ProgressBar(steps, enabled=draw)
            start, total = time.perf_counter(), 0.0
            for b in range(steps):
                idx = order[b * batch_size:(b + 1) * batch_size]
                value = self.train_on_batch(x[idx], y[idx])
                if not np.isfinite(value):
                    raise FloatingPointError(f"the training loss became {value} at epoch "
                                             f"{epoch + 1}, batch {b + 1}; lower the "
                                             "learning rate or clip the gradients")
                total += value * idx.size
                bar.update(b + 1, loss=total / min((b + 1) * batch_size, n))
                for cb in callbacks:
                    cb.on_batch_end(b, {"loss": value})
            logs = {"loss": total / n}
            if "accuracy" in self.metrics:
                logs["accuracy"] = self._batched_loss(x, y, batch_size)["accuracy"]
            if xv is not None:
                logs.update({f"val_{k}": v for k, v in
                             self._batched_loss(xv, yv, batch_size).items()})
            seconds = time.perf_counter() - start
            self.epochs_trained += 1
            history.append(epoch, {**logs, "seconds": seconds})
            if lines:
                print(self._epoch_line(epoch, last_epoch, logs, seconds), flush=True)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end({})
        return history

    def _epoch_line(self, epoch, last_epoch, logs, seconds):
        ce = isinstance(self.loss, _CE)
        parts = [f"epoch {epoch + 1}/{last_epoch}", f"{seconds:.1f}s"]
        for k in ("loss", "val_loss"):
            if k in logs:
                text = f"{k} {logs[k]:.4f}"
                if ce:
                    text += f" nats ({_bits(logs[k]):.4f} bits)"
                parts.append(text)
        parts += [f"{k} {v:.4f}" for k, v in logs.items() if k.endswith("accuracy")]
        return " - ".join(parts)

    def evaluate(self, x, y, batch_size=32):
        """Mean loss over ``(x, y)`` in inference mode (no dropout).

        Parameters
        ----------
        x, y : array_like
            Inputs and targets, as for `fit`.
        batch_size : int, default 32
            Samples per forward pass.

        Returns
        -------
        dict of str to float
            ``{"loss": ...}`` plus ``"accuracy"`` when compiled with it.

        Raises
        ------
        ValueError
            The model is not compiled, ``x`` and ``y`` do not match, or a bad
            ``batch_size``.
        """
        self._need_compiled()
        x, y = self._check_xy(x, y)
        return self._batched_loss(x, y, _checks.positive_int(batch_size, "batch_size"))

    def predict(self, x, batch_size=32):
        """The model's outputs for ``x``, in inference mode, batch by batch.

        Parameters
        ----------
        x : array_like, shape (N, T, F) or (N, T)
            Inputs, as for `fit`.
        batch_size : int, default 32
            Samples per forward pass.

        Returns
        -------
        ndarray, shape (N, ...)
            The last layer's output (probabilities after a softmax), e.g.
            ``(N, C)``, of the model's dtype.

        Raises
        ------
        ValueError
            ``x`` has no samples or no axis after the batch axis, or a bad
            ``batch_size``.
        """
        x, _ = self._check_xy(x, None)
        batch_size = _checks.positive_int(batch_size, "batch_size")
        with _threads.blas_single_threaded():
            outs = [self._forward(x[s:s + batch_size], False)
                    for s in range(0, x.shape[0], batch_size)]
        return np.concatenate(outs, axis=0)

    def step(self, x, states=None):
        """Run one time step in inference mode, carrying the recurrent states.

        For streaming generation: each call feeds one step ``x`` through the
        stack, every recurrent layer starting from its entry in ``states`` and
        returning its new state.

        Parameters
        ----------
        x : array_like, shape (B, F) or (B,)
            One time step: floats, or integer indices.
        states : list, optional
            One entry per layer, as the previous call returned them; ``None``
            (the default, or an entry) starts from zeros.

        Returns
        -------
        out : ndarray, shape (B, ...)
            The model's output for this step, e.g. ``(B, C)``.
        states : list
            One entry per layer: the recurrent state (``h``, or ``(h, c)``, each
            ``(num_layers, B, H)``), or ``None`` for other layers.

        Raises
        ------
        ValueError
            A bidirectional layer (its reverse direction needs the whole
            sequence), or ``states`` of the wrong length.
        """
        if states is None:
            states = [None] * len(self.layers)
        if len(states) != len(self.layers):
            raise ValueError(f"states must have one entry per layer ({len(self.layers)}), "
                             f"got {len(states)}")
        x = np.asarray(x)
        out = x[:, None]
        new_states = []
        with _threads.blas_single_threaded():
            for layer, state in zip(self.layers, states, strict=True):
                if isinstance(layer, RecurrentLayer):
                    if layer.bidirectional:
                        raise ValueError("step() cannot stream a bidirectional layer: its "
                                         "reverse direction needs the whole sequence")
                    out, state = layer.forward(out, state)
                    if not layer.return_sequences:
                        out = out[:, None]
                else:
                    out = layer.forward(out)
                new_states.append(state if isinstance(layer, RecurrentLayer) else None)
        return out[:, 0], new_states

    def build(self, input_shape, dtype=None):
        """Create every layer's parameters for inputs of ``input_shape``.

        Parameters
        ----------
        input_shape : tuple of int
            One sample's shape, without the batch axis: ``(T, F)``, or ``(T,)``
            for index input.
        dtype : numpy dtype, optional
            The input's dtype: an integer dtype for index input; float32 when
            omitted.
        """
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        shape = (1, *tuple(input_shape))
        x = np.zeros(shape, dtype)
        self._forward(x, False)
        self.input_shape, self.input_dtype = tuple(input_shape), dtype.name

    def summary(self, print_fn=print):
        """Print each layer's type, output shape and parameter count, and the total.

        Parameters
        ----------
        print_fn : callable, default print
            Called with each line of the table.

        Raises
        ------
        ValueError
            The input shape is unknown: call `build` or
            `fit` first.
        """
        if self.input_shape is None:
            raise ValueError("summary() needs the input shape: call build(input_shape) or "
                             "fit first")
        if any(not layer.params and _has_weights(layer) for layer in self.layers):
            self.build(self.input_shape, self.input_dtype)
        rows = [("Layer (type)", "Output shape", "Param #")]
        shape = self.input_shape
        for i, layer in enumerate(self.layers):
            shape = layer.output_shape(shape)
            rows.append((f"{self._prefix(i)}", str((None, *shape)), f"{layer.num_parameters:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(3)]
        line = "-" * (sum(widths) + 6)
        print_fn(line)
        for j, r in enumerate(rows):
            print_fn(f"{r[0]:<{widths[0]}}   {r[1]:<{widths[1]}}   {r[2]:>{widths[2]}}")
            if j == 0:
                print_fn(line)
        print_fn(line)
        print_fn(f"Total params: {self.num_parameters:,}")

    # ------------------------------------------------------------------- files
    def _rngs(self):
        return [getattr(layer, "rng", None) for layer in self.layers]

    def get_config(self):
        """The architecture, compile settings and metadata as JSON-serialisable data.

        Returns
        -------
        dict
            ``format``, ``version``, ``seed``, ``layers`` (each ``{"class",
            "config"}``), ``loss``, ``metrics``, ``input_shape``, ``input_dtype``,
            ``vocabulary``, ``metadata`` and ``epochs_trained``.
        """
        return {
            "format": FORMAT, "version": FORMAT_VERSION, "seed": self.seed,
            "layers": [{"class": type(layer).__name__, "config": layer.get_config()}
                       for layer in self.layers],
            "loss": None if self.loss is None else self.loss.get_config(),
            "metrics": list(self.metrics),
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "input_dtype": self.input_dtype,
            "vocabulary": None if self.vocabulary is None else self.vocabulary.to_config(),
            "metadata": self.metadata,
            "epochs_trained": self.epochs_trained,
        }

    def save(self, path):
        """Save architecture, weights, optimiser state, generator states and vocabulary.

        One ``.npz`` file, no pickle, written atomically: a crash part-way leaves
        any previous file at ``path`` as it was.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (replaced if it exists); `load_model`
            reads it back.
        """
        config = self.get_config()
        config["rng"] = {"model": self.rng.bit_generator.state,
                         "layers": [None if r is None else r.bit_generator.state
                                    for r in self._rngs()]}
        arrays = {f"param/{k}": v for k, v in self.params.items()}
        if self.optimizer is not None:
            state = self.optimizer.state_dict()
            config["optimizer"] = {k: v for k, v in state.items() if k != "slots"}
            arrays.update({f"slot/{k}": v for k, v in state.get("slots", {}).items()})
        else:
            config["optimizer"] = None
        arrays["config"] = np.array(json.dumps(config))
        with _io.atomic_write(path) as f:
            np.savez(f, **arrays)

    def load_weights(self, path):
        """Load the weights of a saved model with the same architecture into this one.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by `save`.

        Raises
        ------
        FileNotFoundError
            No file at ``path``.
        IsADirectoryError
            ``path`` is a directory.
        ValueError
            The file is not a seqnet model, is corrupt, or has another architecture.
        """
        config, arrays = _read(path)
        theirs = config.get("layers")
        if not isinstance(theirs, list):
            raise ValueError(f"{os.fspath(path)!r} has an inconsistent config: no layer list")
        if (any(not layer.params and _has_weights(layer) for layer in self.layers)
                and config.get("input_shape") is not None):
            self.build(config["input_shape"], config.get("input_dtype"))
        mine = self.get_config()["layers"]
        if _architecture(mine) != _architecture(theirs):
            raise ValueError(f"{os.fspath(path)!r} holds a model of another architecture: "
                             f"{_describe(theirs)}, but this model is {_describe(mine)}")
        _load_params(self, config, arrays, path)

    def __repr__(self):
        return "Sequential([" + ", ".join(repr(layer) for layer in self.layers) + "])"


def _has_weights(layer):
    return not isinstance(layer, (Dropout, Activation))


def _architecture(layers):
    return [(c["class"], {k: v for k, v in c["config"].items() if k != "seed"})
            for c in layers]


def _describe(layers):
    return "[" + ", ".join(c["class"] + "(" + ", ".join(f"{k}={v!r}" for k, v in c["config"].items()
                                                        if k != "seed") + ")"
                           for c in layers) + "]"


def _read(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path!r} is a directory, not a model file")
    try:
        # Open the file ourselves so that it is closed whatever np.load makes of it.
        with open(path, "rb") as f:
            data = np.load(f, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single array, not a seqnet .npz archive")
            with data:
                arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # any parse failure of a damaged file is the same error
        raise ValueError(f"{path!r} is not a readable seqnet model file (corrupt or "
                         f"truncated?): {type(exc).__name__}: {exc}") from exc
    if "config" not in arrays:
        raise ValueError(f"{path!r} is not a seqnet model file: it has no 'config' entry")
    try:
        config = json.loads(str(arrays.pop("config")))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path!r} has a corrupt config: {exc}") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a seqnet model file")
    if config.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path!r} is a seqnet model file of format version "
                         f"{config.get('version')}; this seqnet reads version {FORMAT_VERSION}")
    return config, arrays


def _load_params(model, config, arrays, path):
    expected = model.params
    given = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    if missing or extra:
        raise ValueError(f"{os.fspath(path)!r} does not match the architecture: missing "
                         f"{missing}, unexpected {extra}")
    for k, v in expected.items():
        if given[k].shape != v.shape:
            raise ValueError(f"{os.fspath(path)!r}: parameter {k!r} has shape "
                             f"{given[k].shape}, expected {v.shape}")
    for k, v in expected.items():
        v[...] = given[k]


def load_model(path):
    """Rebuild a model saved by `Sequential.save`.

    Architecture, weights, compile settings, optimiser state, generator states and
    vocabulary all come back: training resumed from the loaded model continues
    exactly as if it had not stopped (the same batches and dropout masks, so the
    same weights).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.

    Returns
    -------
    Sequential
        The model, compiled if it was saved compiled.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    IsADirectoryError
        ``path`` is a directory.
    ValueError
        Not a seqnet model file, corrupt, truncated or inconsistent.
    """
    config, arrays = _read(path)
    try:
        layers = []
        for spec in config["layers"]:
            cls = LAYER_CLASSES.get(spec["class"])
            if cls is None:
                raise ValueError(f"unknown layer class {spec['class']!r}")
            kw = dict(spec["config"])
            if cls in (Dense, Dropout, Embedding, Activation):
                positional = {Dense: "units", Dropout: "rate", Embedding: "input_dim",
                              Activation: "activation"}[cls]
                first = kw.pop(positional)
                layer = (cls(first, kw.pop("output_dim"), **kw) if cls is Embedding
                         else cls(first, **kw))
            else:
                layer = cls(kw.pop("hidden_size"), **kw)
            layers.append(layer)
        model = Sequential(layers, seed=config["seed"])
        if config["input_shape"] is not None:
            model.build(config["input_shape"], config["input_dtype"])
        _load_params(model, config, arrays, path)
        if config["loss"] is not None:
            model.loss = losses.from_config(config["loss"])
        model.metrics = tuple(config.get("metrics", ()))
        if config.get("optimizer") is not None:
            opt_state = dict(config["optimizer"])
            opt_state["slots"] = {k[len("slot/"):]: v for k, v in arrays.items()
                                  if k.startswith("slot/")}
            model.optimizer = optim.from_config(opt_state["config"])
            model.optimizer.load_state_dict(opt_state)
        if config.get("vocabulary") is not None:
            from .text import CharVocabulary

            model.vocabulary = CharVocabulary.from_config(config["vocabulary"])
        model.metadata = dict(config.get("metadata") or {})
        model.epochs_trained = int(config.get("epochs_trained", 0))
        rng = config.get("rng") or {}
        if "model" in rng:
            model.rng.bit_generator.state = rng["model"]
        for r, state in zip(model._rngs(), rng.get("layers", []), strict=False):
            if r is not None and state is not None:
                r.bit_generator.state = state
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{os.fspath(path)!r} has an inconsistent config: {exc}") from exc
    return model


