"""``Sequential``: a stack of layers and Keras's compile / fit / evaluate / predict.

The layers follow one contract (:mod:`seqnet.layers.base`), so the stack treats
them all alike. Saving and loading are :mod:`seqnet.saving`'s.
"""

from __future__ import annotations

import math
import time

import numpy as np

from . import _checks, _progress, _threads, losses, optim, saving
from . import layers as layers_module
from .callbacks import Callback

__all__ = ["History", "Sequential"]

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


@saving.register_model
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
    metadata : dict
        JSON-serialisable notes saved with the model: preprocessing, and a
        vocabulary's config under ``"vocabulary"`` (see
        [`seqnet.text.vocabulary_of`][seqnet.text.vocabulary_of]).
    epochs_trained : int
        Epochs run by `fit` over the model's life (saved with it).

    Raises
    ------
    TypeError
        ``seed`` is not an integer or None, or a layer does not follow the layer
        contract.
    ValueError
        Layers with weights of different dtypes, a layer with several outputs
        (``return_state=True``), or a negative ``seed``.

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
        self.seed = _checks.seed(seed)
        self.rng = np.random.default_rng(self.seed)
        self.layers = []
        for layer in layers:
            self.add(layer)
        self.loss = None
        self.optimizer = None
        self.metrics = ()
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
        layer : seqnet.layers.Layer
            Any layer with one output.

        Raises
        ------
        TypeError
            ``layer`` is not a [`seqnet.layers.Layer`][seqnet.layers.Layer].
        ValueError
            ``layer`` has several outputs (``return_state=True``), or weights of
            another dtype than the model's other layers.
        """
        if not isinstance(layer, layers_module.Layer):
            raise TypeError(f"layer must be a seqnet layer (seqnet.layers.Layer), "
                            f"got {type(layer).__name__}")
        if layer.num_outputs != 1:
            raise ValueError(f"a Sequential layer must have one output; {type(layer).__name__}"
                             f" has {layer.num_outputs} (return_state=True): use it in a "
                             "model of your own, or build it with return_state=False")
        if layer.has_weights:
            for other in self.layers:
                if other.has_weights and other.dtype != layer.dtype:
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
        return (last is not None and last.logits_option
                and getattr(last, "activation", None) == "softmax"
                and isinstance(self.loss, _CE) and not self.loss.from_logits)

    # ---------------------------------------------------------------- passes
    def _forward(self, x, training, logits=False):
        if not self.layers:
            raise ValueError("the model has no layers")
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            options = {"logits": True} if logits and i == last else {}
            x = layer.forward(x, training=training, **options)
        return x

    def _backward(self, d):
        for layer in reversed(self.layers):
            d = layer.backward(d)
            if d is None:   # integer input: nothing below has a gradient
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
        validation_split = _checks.real(validation_split, "validation_split", 0.0, 1.0,
                                        high_open=True)
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
            One entry per layer: its state after the step, a tuple of arrays
            (``(h,)``, ``(h, c)`` for an LSTM, each ``(num_layers, B, H)``; ``()``
            for a layer without state).

        Raises
        ------
        ValueError
            A layer that is not causal (a bidirectional layer: its reverse
            direction needs the whole sequence), or ``states`` of the wrong length.
        """
        if states is None:
            states = [None] * len(self.layers)
        if len(states) != len(self.layers):
            raise ValueError(f"states must have one entry per layer ({len(self.layers)}), "
                             f"got {len(states)}")
        for layer in self.layers:
            if not layer.causal:
                raise ValueError(f"step() cannot stream a bidirectional layer or any other "
                                 f"that is not causal: {layer!r} needs the whole sequence")
        out = np.asarray(x)[:, None]   # a sequence of one step
        new_states = []
        with _threads.blas_single_threaded():
            for layer, state in zip(self.layers, states, strict=True):
                out, state = layer.call(out, state or None, training=False)
                if out.ndim == 2:   # the layer returned the last step only: one step again
                    out = out[:, None]
                new_states.append(state)
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
        if not all(layer.built for layer in self.layers):
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
    def get_config(self):
        """The architecture, compile settings and metadata as JSON-serialisable data.

        Returns
        -------
        dict
            ``seed``, ``layers`` (each ``{"class", "config"}``), ``loss``,
            ``metrics``, ``input_shape``, ``input_dtype``, ``metadata`` and
            ``epochs_trained``.
        """
        return {
            "seed": self.seed,
            "layers": [layers_module.serialize(layer) for layer in self.layers],
            "loss": None if self.loss is None else self.loss.get_config(),
            "metrics": list(self.metrics),
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "input_dtype": self.input_dtype,
            "metadata": self.metadata,
            "epochs_trained": self.epochs_trained,
        }

    @classmethod
    def from_config(cls, config):
        """A model from `get_config`'s output, built and compiled as it was (its
        weights are new, made on first use; `seqnet.load_model` puts a file's in
        instead, without making any).

        Parameters
        ----------
        config : dict
            As `get_config` returns it.

        Returns
        -------
        Sequential
        """
        model = cls([layers_module.deserialize(spec) for spec in config["layers"]],
                    seed=config["seed"])
        # each layer's config fixes its input size: its weights are planned, made on
        # first use (or taken from a file, with no random initialisation first).
        if config.get("input_shape") is not None:
            model.input_shape = tuple(config["input_shape"])
            model.input_dtype = config.get("input_dtype")
        if config.get("loss") is not None:
            model.loss = losses.from_config(config["loss"])
        model.metrics = tuple(config.get("metrics", ()))
        model.metadata = dict(config.get("metadata") or {})
        model.epochs_trained = int(config.get("epochs_trained", 0))
        return model

    def save(self, path):
        """Save the model to one ``.npz`` file (see `seqnet.saving.save_model`):
        architecture, weights, optimiser state, generator states and metadata, no
        pickle, written atomically.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (replaced if it exists); `seqnet.load_model` reads
            it back.
        """
        saving.save_model(self, path)

    def load_weights(self, path):
        """Load the weights of a saved model with the same architecture
        (`seqnet.saving.load_weights`).

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
        saving.load_weights(self, path)

    def __repr__(self):
        return "Sequential([" + ", ".join(repr(layer) for layer in self.layers) + "])"

