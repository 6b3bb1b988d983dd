"""Models: `Model`, a graph of layers (Keras's functional API), and `Sequential`, a
stack of them on the same machinery, both trained with Keras's compile / fit /
evaluate / predict.

A model follows the layer contract itself (:mod:`seqnet.layers.base`): forward,
backward, params and grads, so models nest and
[`check_gradients`][seqnet.check_gradients] checks a whole model. The layers are
run in the order of the graph (:func:`seqnet.graph.topological_nodes`), each
call's pass kept apart so that a layer called twice (shared weights) gets the sum
of its gradients. Saving and loading are :mod:`seqnet.saving`'s.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np

from . import _checks, _progress, _threads, activations, graph, losses, optim, saving
from . import layers as layers_module
from . import metrics as metrics_module
from .callbacks import Callback
from .layers.base import Layer

__all__ = ["History", "Model", "Sequential"]

_CE = (losses.CategoricalCrossentropy, losses.SparseCategoricalCrossentropy)
#: a final activation that training fuses with the loss that follows it, computed
#: from the logits: the activation's name and the losses it fuses with.
_FUSED = {"softmax": _CE, "sigmoid": (losses.BinaryCrossentropy,)}


class History:
    """The per-epoch metrics of a `Model.fit` call.

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


def _add(grads, key, value):
    """Sum gradients arriving at one tensor (a new array: never write into an array
    a layer returned)."""
    if value is None:
        return
    grads[key] = value if key not in grads else grads[key] + value


class _Run:
    """One training forward of a model, kept for its backward: each node's pass
    (`Layer._take_pass`) and its first output's shape and dtype."""

    __slots__ = ("records", "shapes", "lengths")

    def __init__(self):
        self.records = []
        self.shapes = []
        self.lengths = None


@saving.register_model
class Model(Layer):
    """A graph of layers from inputs to outputs, trained Keras-style (Keras's
    functional ``keras.Model``).

    Parameters
    ----------
    inputs : SymbolicTensor or list of SymbolicTensor
        The model's inputs, made by [`seqnet.Input`][seqnet.Input].
    outputs : SymbolicTensor or list of SymbolicTensor
        Tensors made by calling layers on them (or on what they made).
    seed : int, optional
        Seeds the shuffling of batches in `fit`.
    name : str, optional
        Shown by `summary` and ``repr``.

    Attributes
    ----------
    layers : list of Layer
        Every layer of the graph once, in the order the graph first calls them.
    params, grads : dict of str to ndarray
        Every layer's parameters as ``"<index>.<Layer>/<name>"`` (the index in
        `layers`), views of the layers' own arrays.
    inputs, outputs : list of SymbolicTensor
        The graph's ends.
    metadata : dict
        JSON-serialisable notes saved with the model.
    epochs_trained : int
        Epochs run by `fit` over the model's life (saved with it).

    Raises
    ------
    TypeError
        An input or output that is not a symbolic tensor, or a bad ``seed``.
    ValueError
        A graph with a disconnected input or output (an output that depends on an
        Input not among ``inputs``, an input no output depends on) or a cycle, each
        named with the path that shows it; layers with weights of different dtypes.

    Notes
    -----
    A layer called twice in the graph shares its weights between the calls: each
    call's pass is kept apart for the backward, and the layer's gradients are the
    sum over its calls. Masks travel as lengths: ``Embedding(mask_zero=True)`` and
    ``Masking`` derive each row's length from its trailing padding, layers that
    take lengths (recurrent layers, pooling, attention) honour them, and a loss on
    a sequence output leaves the padded steps out. ``fit``, ``evaluate`` and
    ``predict`` also take ``lengths=`` directly.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> tokens = seqnet.Input(shape=(None,), dtype="int64")
    >>> h = seqnet.Embedding(20, 8, seed=0)(tokens)
    >>> h = seqnet.LSTM(16, return_sequences=False, seed=1)(h)
    >>> probs = seqnet.Dense(3, activation="softmax", seed=2)(h)
    >>> model = seqnet.Model(tokens, probs, seed=0)
    >>> model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    >>> x = np.random.default_rng(0).integers(0, 20, size=(64, 7))
    >>> history = model.fit(x, x[:, 0] % 3, batch_size=16, epochs=2, verbose=0)
    >>> model.predict(x[:2]).shape
    (2, 3)
    """

    state_names = ()
    return_state = False
    takes_lengths = True
    input_kinds = ("f", "i")

    def __init__(self, inputs, outputs, *, seed=None, name=None):
        self._init_model(seed, name)
        multi_in = isinstance(inputs, (list, tuple))
        multi_out = isinstance(outputs, (list, tuple))
        inputs = list(inputs) if multi_in else [inputs]
        outputs = list(outputs) if multi_out else [outputs]
        if not inputs:
            raise ValueError("inputs must hold at least one Input")
        if not outputs:
            raise ValueError("outputs must hold at least one tensor")
        nodes = graph.topological_nodes(inputs, outputs)
        self._set_graph(inputs, outputs, nodes, multi_in, multi_out)

    # ---------------------------------------------------------------- structure
    def _init_model(self, seed, name):
        """The attributes every model has (a model does not run `Layer.__init__`:
        its dtype, params and grads are its layers')."""
        self.seed = _checks.seed(seed)
        self.rng = np.random.default_rng(self.seed)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__}")
        self.name = name
        self.layers = []
        self.loss = None
        self._losses = []
        self.loss_weights = None
        self.optimizer = None
        self.metrics = ()
        self._metric_objects = []
        self.metadata = {}
        self.epochs_trained = 0
        self.stop_training = False
        self._lock = threading.RLock()
        self._cache = None
        self._state_given = False
        self._outputs = 1
        self._params_sum = None
        self._trainer = None
        self._planned_input = None
        self._last_lengths = None
        self.inputs, self.outputs, self._nodes = [], [], []
        self._multi_in = self._multi_out = False
        self._shared = []

    def _set_graph(self, inputs, outputs, nodes, multi_in, multi_out):
        layers, uses = [], {}
        for node in nodes:
            key = id(node.layer)
            if key not in uses:
                layers.append(node.layer)
            uses[key] = uses.get(key, 0) + 1
        dtypes = {layer.dtype for layer in layers if layer.has_weights}
        if len(dtypes) > 1:
            raise ValueError(f"every layer with weights must share one dtype, got "
                             f"{sorted(d.name for d in dtypes)}")
        self.inputs, self.outputs, self._nodes = inputs, outputs, nodes
        self._multi_in, self._multi_out = multi_in, multi_out
        self.layers = layers
        # per node: whether its layer has other calls (its gradients are summed)
        self._shared = [uses[id(node.layer)] > 1 for node in nodes]

    @property
    def dtype(self):
        """numpy.dtype: the dtype of the layers' weights (float32 for a model
        without weights)."""
        for layer in self.layers:
            if layer.has_weights:
                return layer.dtype
        return np.dtype(np.float32)

    @property
    def multi_input(self):
        """bool: whether the model takes a list of inputs."""
        return self._multi_in

    @property
    def num_outputs(self):
        """int: the number of outputs."""
        return len(self.outputs)

    @property
    def has_weights(self):
        """bool: whether any layer owns parameters."""
        return any(layer.has_weights for layer in self.layers)

    @property
    def built(self):
        """bool: whether every layer's parameters exist or are planned."""
        return all(layer.built for layer in self.layers)

    @property
    def rngs(self):
        """list of numpy.random.Generator: every layer's run-time generator (their
        dropout masks), in the order of `layers`."""
        out = []
        for layer in self.layers:
            out.extend(layer.rngs if isinstance(layer, Model) else [layer.rng])
        return out

    def _prefix(self, i):
        return f"{i}.{type(self.layers[i]).__name__}"

    @property
    def stateful(self):
        """bool: whether a layer of the model (or of a model nested in it) is
        stateful (``stateful=True``): it carries its state from one batch to the
        next."""
        return any(layer.stateful for layer in self.layers)

    def reset_states(self):
        """Forget the carried state of every stateful layer (nested models' too):
        their next forward starts from zeros.

        `fit` calls it at the start of every epoch; `evaluate` and `predict`
        before and after their pass.
        """
        for layer in self.layers:
            layer.reset_states()

    def _check_stateful(self, n, batch_size, what):
        """A stateful model carries each row's state into the next batch: every
        batch must have ``batch_size`` rows (or there is only one)."""
        if self.stateful and n > batch_size and n % batch_size:
            raise ValueError(f"a stateful model needs batch_size to divide the number of "
                             f"samples (row r of each batch continues row r of the one "
                             f"before): batch_size={batch_size} does not divide {n}, the "
                             f"number of samples of {what}")

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

    @grads.setter
    def grads(self, value):
        for i, layer in enumerate(self.layers):
            prefix = self._prefix(i) + "/"
            mine = {k[len(prefix):]: v for k, v in value.items() if k.startswith(prefix)}
            if mine:
                layer.grads = {**layer.grads, **mine}

    @property
    def num_parameters(self):
        """int: total number of scalar parameters."""
        return int(sum(v.size for v in self.params.values()))

    def expected_shapes(self, input_size=None):
        """``{name: shape}`` of every parameter, keyed as `params`, without making
        any (None when a layer does not know its input size yet).

        Parameters
        ----------
        input_size : None
            Unused (the graph fixes every layer's input size).

        Returns
        -------
        dict of str to tuple, or None
        """
        shapes = {}
        for i, layer in enumerate(self.layers):
            mine = layer.expected_shapes()
            if mine is None:
                return None
            shapes.update({f"{self._prefix(i)}/{k}": tuple(v) for k, v in mine.items()})
        return shapes

    def load_state_dict(self, state_dict):
        """Load every parameter from a mapping keyed as `params`; everything is
        checked (names, shapes, real numbers) before anything is assigned.

        Parameters
        ----------
        state_dict : mapping of str to array_like

        Raises
        ------
        ValueError
            A missing, unexpected or misshapen entry.
        TypeError
            ``state_dict`` is not a mapping, or a value is not real numeric.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"state_dict must be a mapping of names to arrays, "
                            f"got {type(state_dict).__name__}")
        per_layer = [{} for _ in self.layers]
        known = {}
        for i, layer in enumerate(self.layers):
            for k in (layer.expected_shapes() or {}):
                known[f"{self._prefix(i)}/{k}"] = (i, k)
        extra = [k for k in state_dict if k not in known]
        missing = [k for k in known if k not in state_dict]
        if missing or extra:
            raise ValueError(f"state_dict does not match the model: missing {missing}, "
                             f"unexpected {extra}")
        for key, (i, k) in known.items():
            per_layer[i][k] = state_dict[key]
        for layer, values in zip(self.layers, per_layer, strict=True):
            if values:
                layer.load_state_dict(values)   # each layer checks before it assigns
        self._cache = None

    def output_shape(self, input_shape):
        """One sample's shape of the first output, after checking ``input_shape``
        against the model's inputs.

        Parameters
        ----------
        input_shape : tuple, or list of tuple
            One sample's shape of each input (a list for several inputs).

        Returns
        -------
        tuple

        Raises
        ------
        ValueError
            A shape that the model's inputs cannot take.
        """
        shapes = list(input_shape) if self._multi_in else [input_shape]
        if len(shapes) != len(self.inputs):
            raise ValueError(f"the model takes {len(self.inputs)} inputs, got {len(shapes)}")
        for k, (shape, t) in enumerate(zip(shapes, self.inputs, strict=True)):
            expected = t.shape[1:]
            shape = tuple(shape)
            if len(shape) != len(expected) or any(
                    a is not None and b is not None and a != b
                    for a, b in zip(shape, expected, strict=True)):
                raise ValueError(f"input {k} must have shape {(None, *expected)}, got "
                                 f"{(None, *shape)}")
        return self.outputs[0].shape[1:]

    def outputs_for(self, options):
        """The number of outputs (options do not change it).

        Parameters
        ----------
        options : dict

        Returns
        -------
        int
        """
        return len(self.outputs)

    def extra_shapes(self, input_shape, options):
        """One sample's shape of each output after the first.

        Parameters
        ----------
        input_shape : tuple, or list of tuple
        options : dict

        Returns
        -------
        list of tuple
        """
        return [t.shape[1:] for t in self.outputs[1:]]

    def output_lengths(self, x, lengths):
        """The first output's lengths in the last forward (a model computes them as
        it runs).

        Parameters
        ----------
        x : ndarray, or list of ndarray
        lengths : ndarray, list, or None

        Returns
        -------
        ndarray of int, or None
        """
        return self._last_lengths

    # --------------------------------------------------------------- the graph run
    def _as_inputs(self, x, name="x"):
        """``x`` as a list with one array per input."""
        if self._multi_in:
            if not isinstance(x, (list, tuple)) or len(x) != len(self.inputs):
                raise TypeError(f"{name} must be a list of {len(self.inputs)} arrays, one "
                                f"per input, got {type(x).__name__}"
                                + (f" of {len(x)}" if isinstance(x, (list, tuple)) else ""))
            return list(x)
        if isinstance(x, (list, tuple)) and len(self.inputs) == 1 and len(x) == 1:
            return list(x)
        return [x]

    def _as_lengths(self, lengths):
        if lengths is None:
            return [None] * len(self.inputs)
        if self._multi_in:
            if not isinstance(lengths, (list, tuple)) or len(lengths) != len(self.inputs):
                raise TypeError(f"lengths must be a list with one entry (or None) per input "
                                f"({len(self.inputs)}), got {type(lengths).__name__}")
            return [None if v is None else np.asarray(v) for v in lengths]
        return [np.asarray(lengths)]

    def _execute(self, xs, lengths, training, logits=(), trace=False):
        """Run the nodes in order: the outputs (a list) and their lengths (``trace``:
        every traceable layer keeps its trace)."""
        values, lens = {}, {}
        for t, x, n in zip(self.inputs, xs, lengths, strict=True):
            values[t.uid] = x
            lens[t.uid] = n
        run = _Run() if training else None
        for i, node in enumerate(self._nodes):
            layer = node.layer
            xin = [values[t.uid] for t in node.inputs]
            lin = [lens.get(t.uid) for t in node.inputs]
            arg, larg = (xin, lin) if layer.multi_input else (xin[0], lin[0])
            options = dict(node.options)
            if layer.takes_lengths and any(v is not None for v in lin):
                options["lengths"] = larg
            if i in logits:
                options["logits"] = True
            if trace and layer.traceable:
                options["trace"] = True
            state = None
            if node.states:
                state = [None if s is None else
                         graph.state_from_graph(values[s.uid], layer.state_rows)
                         for s in node.states]
            out = layer.forward(arg, state, training=training, **options)
            outs = out if len(node.outputs) > 1 else [out]
            n_states = len(layer.state_names) if layer.return_state else 0
            for k, (t, o) in enumerate(zip(node.outputs, outs, strict=True)):
                values[t.uid] = graph.state_to_graph(o) if k >= len(outs) - n_states else o
            lens[node.outputs[0].uid] = layer.output_lengths(arg, larg)
            if training:
                run.records.append(layer._take_pass())
                run.shapes.append((np.shape(outs[0]), np.asarray(outs[0]).dtype))
        result = [values[t.uid] for t in self.outputs]
        out_lengths = [lens.get(t.uid) for t in self.outputs]
        if training:
            run.lengths = out_lengths
        return result, out_lengths, run

    def _execute_backward(self, run, douts):
        """Back through the nodes in reverse order: the gradient of each input."""
        grads = {}
        for t, d in zip(self.outputs, douts, strict=True):
            _add(grads, t.uid, d)
        summed = {}
        for i in range(len(self._nodes) - 1, -1, -1):
            node = self._nodes[i]
            layer = node.layer
            ds = [grads.pop(t.uid, None) for t in node.outputs]
            if ds[0] is None:
                shape, dtype = run.shapes[i]
                ds[0] = np.zeros(shape, dtype)
            n_states = len(layer.state_names) if layer.return_state else 0
            for k in range(len(ds) - n_states, len(ds)):
                ds[k] = graph.state_from_graph(ds[k], layer.state_rows)
            layer._give_pass(run.records[i])
            result = layer.backward(ds if len(ds) > 1 else ds[0])
            if node.states:
                dx, dinit = result[0], result[1:]
            else:
                dx, dinit = result, []
            dxs = dx if layer.multi_input else [dx]
            for t, g in zip(node.inputs, dxs, strict=True):
                _add(grads, t.uid, g)
            for s, g in zip(node.states, dinit, strict=True):
                if s is not None:
                    _add(grads, s.uid, graph.state_to_graph(g))
            if self._shared[i]:
                mine = summed.setdefault(id(layer), (layer, {}))[1]
                for k, g in layer.grads.items():
                    mine[k] = np.array(g) if k not in mine else mine[k] + g
        for layer, total in summed.values():
            layer.grads = total
        return [grads.get(t.uid) for t in self.inputs]

    # ------------------------------------------------------------ the layer contract
    def forward(self, x, initial_state=None, *, training=False, lengths=None, logits=(),
                trace=False):
        """Run the graph on arrays: the output, or a list of outputs.

        Parameters
        ----------
        x : array_like, or list of array_like
            One array per input (a list for several inputs), batch first.
        initial_state : None
            A model has no state of its own (give states as inputs).
        training : bool, default False
            Keep what `backward` needs, and apply dropout.
        lengths : array_like of int, or list, optional
            The valid steps of each row of each input (a list, one entry or None per
            input, for several inputs).
        logits : collection of int, default ()
            Outputs (by index) whose final softmax or sigmoid is left out (a loss
            that fuses it runs on the logits).
        trace : bool, default False
            Every recurrent layer keeps each step's gates and states in its
            ``trace`` (`seqnet.inspect.trace` collects them).

        Returns
        -------
        ndarray, or list of ndarray
            One array per output.

        Raises
        ------
        TypeError
            ``initial_state`` given, or inputs of the wrong structure.
        ValueError
            An input the layers refuse (named by the layer).
        """
        if initial_state is not None:
            raise TypeError("a Model has no state of its own: initial_state must be None "
                            "(give states to the model as inputs)")
        training = bool(training)
        xs = self._as_inputs(x)
        outs, out_lengths, run = self._execute(xs, self._as_lengths(lengths), training,
                                               frozenset(logits), _checks.flag(trace, "trace"))
        self._cache = run
        self._last_lengths = out_lengths[0]
        self._state_given = False
        self._outputs = len(outs)
        return outs if self._multi_out or len(outs) > 1 else outs[0]

    def backward(self, dout):
        """The gradient of every input of the last ``forward(..., training=True)``;
        fills every layer's ``grads`` (the sum over its calls for a shared layer).

        Parameters
        ----------
        dout : array_like, or list of array_like
            One gradient per output (a list for several outputs); None entries for
            outputs that the loss does not use.

        Returns
        -------
        ndarray or None, or list
            The gradient of each input (a list for several inputs; None for an
            integer input).

        Raises
        ------
        ValueError
            No training forward since the last backward.
        TypeError
            ``dout`` of the wrong structure.
        """
        run = self._cache
        if run is None:
            raise ValueError("backward() needs a forward(..., training=True) first (each "
                             "training forward feeds one backward)")
        if len(self.outputs) > 1 or self._multi_out:
            if not isinstance(dout, (list, tuple)) or len(dout) != len(self.outputs):
                raise TypeError(f"dout must be a list with one gradient per output "
                                f"({len(self.outputs)})")
            douts = list(dout)
        else:
            douts = [dout]
        self._cache = None
        dxs = self._execute_backward(run, douts)
        return dxs if self._multi_in else dxs[0]

    def _take_pass(self):
        return (self._cache, self._last_lengths)

    def _give_pass(self, record):
        self._cache, self._last_lengths = record

    # ------------------------------------------------------------------ compile
    def compile(self, loss, optimizer="rmsprop", metrics=(), loss_weights=None):
        """Choose the loss (one per output), the optimiser and extra metrics.

        Parameters
        ----------
        loss : str, Loss or dict, or a list of them
            ``"categorical_crossentropy"``, ``"sparse_categorical_crossentropy"``,
            ``"mse"``, or anything [`seqnet.losses.get`][seqnet.losses.get] takes:
            one for every output, or a list with one per output (None for an
            output that is not trained).
        optimizer : str, Optimizer or dict, default "rmsprop"
            ``"sgd"``, ``"rmsprop"``, ``"adam"``, ``"adagrad"`` (Keras's defaults)
            or anything [`seqnet.optim.get`][seqnet.optim.get] takes.
        metrics : str, Metric or dict, or a sequence of them, default ()
            Metrics reported by `fit` and `evaluate` (anything
            [`seqnet.metrics.get`][seqnet.metrics.get] takes; ``"accuracy"`` is
            resolved against the loss as Keras does), for every output with a
            loss; or a list with one such sequence per output. With several
            outputs they are named ``output_<k>_<name>``. Masks (lengths) apply to
            them; sample weights do not (Keras's ``compile(metrics=)`` too).
        loss_weights : sequence of float, optional
            One weight per output: the loss trained is ``sum_k w_k L_k``. All 1 when
            omitted.

        Raises
        ------
        ValueError
            An unknown loss, optimiser or metric; a list of losses or weights with
            not one entry per output; a negative or non-finite weight.
        TypeError
            A loss or optimiser of the wrong kind.
        """
        n = len(self.outputs) if self.outputs else 1
        if isinstance(loss, (list, tuple)):
            if len(loss) != n:
                raise ValueError(f"loss must be one loss or a list of {n} (one per "
                                 f"output), got a list of {len(loss)}")
            per_output = [None if item is None else losses.get(item) for item in loss]
            if all(item is None for item in per_output):
                raise ValueError("loss: at least one output needs a loss")
            self.loss = per_output
        else:
            self.loss = losses.get(loss)
            per_output = [self.loss] * n
        if loss_weights is None:
            weights = [1.0] * n
        else:
            if not isinstance(loss_weights, (list, tuple)) or len(loss_weights) != n:
                raise ValueError(f"loss_weights must be a list of {n} numbers (one per "
                                 f"output), got {loss_weights!r}")
            weights = [_checks.real(w, f"loss_weights[{k}]", 0.0, math.inf)
                       for k, w in enumerate(loss_weights)]
        self._losses = per_output
        self.loss_weights = None if loss_weights is None else weights
        self._weights = weights
        self.optimizer = optim.get(optimizer)
        self._metric_objects = self._make_metrics(metrics, per_output)
        self.metrics = self._metrics_spec(metrics)

    @staticmethod
    def _metrics_spec(metrics):
        """The compile argument as JSON-serialisable data (a metric object as its
        config)."""
        def one(m):
            return m.get_config() if isinstance(m, metrics_module.Metric) else m
        if isinstance(metrics, (str, dict, metrics_module.Metric)):
            return (one(metrics),)
        return tuple([one(m) for m in group] if isinstance(group, (list, tuple)) else one(group)
                     for group in (metrics or ()))

    def _make_metrics(self, metrics, per_output):
        """One list of metric objects per output, each resolved against its loss."""
        n = len(per_output)
        if isinstance(metrics, (str, dict, metrics_module.Metric)):
            metrics = (metrics,)
        metrics = tuple(metrics or ())
        nested = bool(metrics) and all(isinstance(g, (list, tuple)) for g in metrics)
        if nested and len(metrics) != n:
            raise ValueError(f"metrics: a list of lists needs one list per output ({n}), "
                             f"got {len(metrics)}")
        groups = [list(g) for g in metrics] if nested else [
            list(metrics) if loss is not None else [] for loss in per_output]
        out = []
        for k, (group, loss) in enumerate(zip(groups, per_output, strict=True)):
            made = []
            for m in group:
                metric = metrics_module.get(m, loss=loss)
                if isinstance(m, metrics_module.Metric):
                    metric = metrics_module.from_config(m.get_config())   # its own copy
                made.append((f"output_{k}_{metric.name}" if n > 1 else metric.name, metric))
            out.append(made)
        return out

    def _need_compiled(self):
        if self.loss is None or self.optimizer is None:
            raise ValueError("call compile(loss=..., optimizer=...) before training "
                             "or evaluating")

    def _consumers(self):
        count = {}
        for node in self._nodes:
            for t in node.parents():
                count[t.uid] = count.get(t.uid, 0) + 1
        for t in self.outputs:
            count[t.uid] = count.get(t.uid, 0) + 1
        return count

    def _fused_outputs(self):
        """Nodes whose final softmax (sigmoid) is fused with their output's
        (binary) cross-entropy: a layer that can skip it (``logits=True``), whose
        output nothing else reads."""
        if not self._losses or not self._nodes:
            return frozenset()
        consumers = self._consumers()
        fused = set()
        for t, loss in zip(self.outputs, self._losses, strict=True):
            node = t.node
            if node is None or loss is None or len(node.outputs) != 1:
                continue
            index = next(i for i, n in enumerate(self._nodes) if n is node)
            activation = getattr(node.layer, "activation", None)
            if (node.layer.logits_option and activation in _FUSED
                    and isinstance(loss, _FUSED[activation]) and not loss.from_logits
                    and consumers[t.uid] == 1):
                fused.add(index)
        return frozenset(fused)

    def _training_losses(self, fused):
        """Each output's loss as training computes it (from logits where fused)."""
        out = []
        for t, loss in zip(self.outputs, self._losses, strict=True):
            node_index = next((i for i, n in enumerate(self._nodes) if n is t.node), None)
            if loss is not None and node_index in fused:
                loss = losses.from_config({**loss.get_config(), "from_logits": True})
            out.append(loss)
        return out

    # kept for a single-output model's tests and tools: the one loss, fused or not
    def _fused(self):
        return bool(self._fused_outputs())

    def _loss_for_training(self):
        return self._training_losses(self._fused_outputs())[0]

    def _forward(self, x, training, logits=False):
        return self.forward(x, training=training,
                            logits=self._fused_outputs() if logits else ())

    def _backward(self, d):
        return self.backward(d)

    # ------------------------------------------------------------------ batches
    def _mask(self, out, lengths):
        """A (B, T) mask of an output's valid steps, from its lengths."""
        if lengths is None or np.ndim(out) < 3:
            return None
        T = np.shape(out)[1]
        return np.arange(T)[None, :] < np.asarray(lengths)[:, None]

    def _check_inputs(self, xs, name):
        """Each input's array, checked against its Input's shape and kind."""
        out = []
        for k, (x, t) in enumerate(zip(xs, self.inputs, strict=True)):
            label = f"{name}[{k}]" if self._multi_in else name
            x = np.asarray(_checks.to_numpy(x))
            if t.shape and (x.ndim != len(t.shape) or any(
                    a is not None and a != b for a, b in zip(t.shape[1:], x.shape[1:],
                                                             strict=True))):
                raise ValueError(f"{label} must have shape {t.shape} (the model's input "
                                 f"{t.name}), got {x.shape}")
            out.append(x)
        return out

    def _data(self, x, y, lengths, name_x="x", name_y="y", sample_weight=None,
              name_lengths="lengths", name_weight="sample_weight"):
        """Inputs, targets, lengths and sample weights as lists (or None), all of one
        number of samples (errors name them ``name_x``, ``name_y``, ``name_lengths``
        and ``name_weight``)."""
        xs = self._check_inputs(self._as_inputs(x, name_x), name_x)
        for a in xs:
            if a.ndim < 1:
                raise ValueError(f"{name_x} must have a batch axis, got shape {a.shape}")
        n = xs[0].shape[0]
        named = [(f"{name_x}[{k}]" if len(xs) > 1 else name_x, a) for k, a in enumerate(xs)]
        ys = None
        if y is not None:
            n_out = len(self.outputs)
            if n_out > 1 or self._multi_out:
                if not isinstance(y, (list, tuple)) or len(y) != n_out:
                    raise TypeError(f"{name_y} must be a list of {n_out} arrays, one per "
                                    f"output, got {type(y).__name__}")
                ys = [None if v is None else np.asarray(_checks.to_numpy(v)) for v in y]
            else:
                ys = [np.asarray(_checks.to_numpy(y))]
            named += [(f"{name_y}[{k}]" if len(ys) > 1 else name_y, a)
                      for k, a in enumerate(ys) if a is not None]
        ls = self._as_lengths(lengths)
        named += [(name_lengths + (f"[{k}]" if len(ls) > 1 else ""), a)
                  for k, a in enumerate(ls) if a is not None]
        sws = self._as_sample_weights(sample_weight, n)
        if sws is not None:
            named += [(name_weight + (f"[{k}]" if len(sws) > 1 else ""), a)
                      for k, a in enumerate(sws) if a is not None]
        for label, a in named:
            if a.ndim < 1 or a.shape[0] != n:
                raise ValueError(f"{named[0][0]} and {label} must have the same number of "
                                 f"samples, got {n} and "
                                 f"{a.shape[0] if a.ndim else 'a scalar'}")
        if n == 0:
            raise ValueError(f"{name_x} has no samples")
        return xs, ys, ls, sws, n

    def _validation(self, validation_data, validation_split, validation_lengths, train):
        """The validation part of a fit (`fit`, `seqnet.distributed.fit`).

        ``train`` is ``(xs, ys, ls, sws, n)`` from :meth:`_data`. Returns ``(val,
        train)``: ``val`` is ``(xs, ys, ls, sws)`` of the validation samples, or None,
        and ``train`` loses the samples ``validation_split`` holds out. Training with
        lengths and validating on ``validation_data`` without ``validation_lengths``
        raises: the padded steps would count as valid, a wrong validation loss."""
        xs, ys, ls, sws, n = train
        validation_split = _checks.real(validation_split, "validation_split", 0.0, 1.0,
                                        high_open=True)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise TypeError("validation_data must be a tuple (x_val, y_val) or (x_val, "
                                "y_val, sample_weight_val)")
            if validation_lengths is None and any(v is not None for v in ls):
                raise ValueError(
                    "fit got lengths for x but no validation_lengths for validation_data: "
                    "without them every padded step of the validation rows would count "
                    "as valid. Pass validation_lengths (np.full(len(x_val), T) when "
                    "every validation row is full-length)")
            vx, vy, vw = (*validation_data, None)[:3]
            v = self._data(vx, vy, validation_lengths, "validation_data[0]",
                           "validation_data[1]", sample_weight=vw,
                           name_lengths="validation_lengths", name_weight="validation_data[2]")
            return v[:4], train
        if validation_lengths is not None:
            raise ValueError("validation_lengths was given without validation_data: "
                             "validation_split takes its lengths from lengths")
        if validation_split == 0.0:
            return None, train
        n_val = int(n * validation_split)
        if n_val == 0 or n_val == n:
            raise ValueError(f"validation_split={validation_split} leaves "
                             f"{n_val} of {n} samples for validation")
        take, cut, keep = self._take, slice(n - n_val, None), slice(0, n - n_val)
        val = (take(xs, cut), take(ys, cut), take(ls, cut), take(sws, cut))
        return val, (take(xs, keep), take(ys, keep), take(ls, keep), take(sws, keep), n - n_val)

    @staticmethod
    def _take(arrays, idx):
        return None if arrays is None else [None if a is None else a[idx] for a in arrays]

    def _as_sample_weights(self, sample_weight, n):
        """One entry (an array or None) per output."""
        if sample_weight is None:
            return None
        outs = len(self.outputs)
        if isinstance(sample_weight, (list, tuple)):
            if len(sample_weight) != outs:
                raise ValueError(f"sample_weight must be one array, or a list of {outs} "
                                 f"(one per output, None for none), got a list of "
                                 f"{len(sample_weight)}")
            weights = list(sample_weight)
        else:
            weights = [sample_weight] * outs
        return [None if w is None else np.asarray(_checks.to_numpy(w)) for w in weights]

    def train_on_batch(self, x, y, lengths=None, sample_weight=None):
        """One optimiser step on one batch.

        Parameters
        ----------
        x : array_like, or list of array_like
            Inputs (one array per input): floats, or integer indices for a layer
            that takes them.
        y : array_like, or list of array_like
            Targets, one per output, as its loss takes them (``(B,)`` class indices
            for ``sparse_categorical_crossentropy`` on a ``(B, C)`` output, ...).
        lengths : array_like of int, or list, optional
            The valid steps of each row of each input.
        sample_weight : array_like, or list, optional
            Weights of the samples ``(B,)`` or of their steps ``(B, T)`` (one array
            for every output, or a list with one per output), with Keras's
            reduction (see :mod:`seqnet.losses`).

        Returns
        -------
        float
            The batch's loss (``sum_k w_k L_k``), before the step.

        Raises
        ------
        ValueError
            The model is not compiled, or bad inputs or targets (from the layers
            and the losses).
        """
        self._need_compiled()
        xs, ys, ls, sws, _ = self._data(x, y, lengths, sample_weight=sample_weight)
        return self._train_step(xs, ys, ls, sws)[0]

    @staticmethod
    def _positions(out, mask):
        """How many positions a batch's mean loss is over (its weight when batches are
        combined into one mean): the valid ones under a mask."""
        if mask is not None:
            return float(np.count_nonzero(mask))
        return float(np.prod(np.shape(out)[:-1]))

    def _train_step(self, xs, ys, ls, sws=None):
        """One optimiser step: the batch's loss and, per output, its mean loss and the
        number of positions it is over (None for an output without a loss)."""
        # numba's threads own the cores: an OpenBLAS pool spinning between kernel
        # calls would oversubscribe them (measured: 85 against 28 ms a step).
        with _threads.blas_single_threaded():
            total, parts = self._batch_gradients(xs, ys, ls, sws)
            self.optimizer.step(self.params, self.grads)
        return total, parts

    def _batch_gradients(self, xs, ys, ls, sws=None):
        """The forward and backward of one training batch, without the update: the
        gradients of the batch's loss are left in `grads` (what `_train_step` and
        :func:`seqnet.distributed.fit` apply); returns as `_train_step` does."""
        fused = self._fused_outputs()
        fns = self._training_losses(fused)
        with _threads.blas_single_threaded():
            outs, out_lengths, run = self._execute(xs, ls, True, fused)
            total, douts, parts = 0.0, [], []
            for k, (fn, out) in enumerate(zip(fns, outs, strict=True)):
                if fn is None:
                    douts.append(None)
                    parts.append(None)
                    continue
                w = self._weights[k]
                mask = self._mask(out, out_lengths[k])
                value = fn.forward(out, ys[k], mask=mask,
                                   sample_weight=None if sws is None else sws[k])
                total += w * value
                parts.append((value, self._positions(out, mask)))
                d = fn.backward()
                douts.append(d if w == 1.0 else d * d.dtype.type(w))
            self._execute_backward(run, douts)
        return total, parts

    def _probabilities(self, out, node_index, fused):
        """What the metrics see: an output's probabilities (the activation put back
        where training left it out)."""
        if node_index not in fused:
            return out
        act, _ = activations.get(self._nodes[node_index].layer.activation)
        return act(out)

    def _batched_loss(self, xs, ys, ls, batch_size, sws=None, with_loss=True):
        """Mean losses and the metrics over all samples, in inference mode: each
        output's loss is its mean over all valid positions of all batches (each
        batch's mean weighted by its number of valid positions)."""
        fused = self._fused_outputs()
        fns = self._training_losses(fused)
        nodes = [next((i for i, n in enumerate(self._nodes) if n is t.node), None)
                 for t in self.outputs]
        n = xs[0].shape[0]
        totals, counts = [0.0] * len(fns), [0.0] * len(fns)
        for group in self._metric_objects:
            for _, metric in group:
                metric.reset()
        self.reset_states()   # the samples are streams from their start (stateful layers)
        for start in range(0, n, batch_size):
            idx = slice(start, start + batch_size)
            xb, yb, lb = self._take(xs, idx), self._take(ys, idx), self._take(ls, idx)
            wb = self._take(sws, idx)
            with _threads.blas_single_threaded():
                outs, out_lengths, _ = self._execute(xb, lb, False, fused)
            for k, (fn, out) in enumerate(zip(fns, outs, strict=True)):
                mask = self._mask(out, out_lengths[k])
                if fn is not None and with_loss:
                    count = self._positions(out, mask)
                    totals[k] += fn.forward(out, yb[k], mask=mask,
                                            sample_weight=None if wb is None else wb[k]) * count
                    counts[k] += count
                if self._metric_objects[k]:
                    probs = self._probabilities(out, nodes[k], fused)
                    for _, metric in self._metric_objects[k]:
                        metric.update(probs, yb[k], mask=mask)
        self.reset_states()
        result = {}
        if with_loss:
            per_output = [t / c if c else 0.0 for t, c in zip(totals, counts, strict=True)]
            result["loss"] = sum(w * v for w, v, fn in zip(self._weights, per_output, fns,
                                                           strict=True) if fn is not None)
            if len(fns) > 1:
                for k, (v, fn) in enumerate(zip(per_output, fns, strict=True)):
                    if fn is not None:
                        result[f"output_{k}_loss"] = v
        for group in self._metric_objects:
            for name, metric in group:
                result[name] = metric.result()
        return result

    # ---------------------------------------------------------------------- fit
    def fit(self, x, y, batch_size=32, epochs=1, validation_split=0.0, validation_data=None,
            shuffle=True, callbacks=None, verbose="auto", lengths=None, sample_weight=None,
            validation_lengths=None):
        """Train for ``epochs`` more epochs.

        Parameters
        ----------
        x, y : array_like, or lists of array_like
            Inputs (one array per input: ``(N, T, F)`` floats, ``(N, T)`` indices,
            ...) and targets (one per output: ``(N,)`` class indices, ``(N, C)``
            one-hot, ``(N, T)`` per step, ...).
        batch_size : int, default 32
            Samples per optimiser step (the last batch may be smaller).
        epochs : int, default 1
            Epochs to run in this call (``epochs_trained`` goes on counting).
        validation_split : float in [0, 1), default 0
            Hold out the last fraction of the samples (before shuffling), as Keras.
        validation_data : tuple (x_val, y_val) or (x_val, y_val, sample_weight_val), optional
            Takes precedence over ``validation_split``.
        shuffle : bool, default True
            Shuffle the samples each epoch with the model's seeded generator. A
            stateful model (`stateful`) needs ``shuffle=False``: row ``r`` of
            batch ``k + 1`` continues row ``r`` of batch ``k`` (see
            `seqnet.text.stream_arrays`).
        callbacks : list of Callback, optional
            [`seqnet.callbacks`][seqnet.callbacks] objects; ``fit`` sets their
            ``model``.
        verbose : {"auto", 0, 1, 2}, default "auto"
            0 silent; 1 a progress bar and a line per epoch; 2 a line per epoch;
            "auto" is 1 on a terminal and 2 otherwise.
        lengths : array_like of int, or list, optional
            The valid steps of each row of each input (``(N,)``; a list, one entry
            or None per input, for several inputs).
        sample_weight : array_like, or list, optional
            Weights of the samples ``(N,)`` or of their steps ``(N, T)`` in the loss
            (one array for every output, or a list with one per output), with
            Keras's reduction (see :mod:`seqnet.losses`).
        validation_lengths : array_like of int, or list, optional
            The lengths of ``validation_data``'s rows, as ``lengths``. Required
            when ``lengths`` is given with ``validation_data`` (``validation_split``
            takes the held-out rows' own lengths).

        Returns
        -------
        History
            ``history["loss"]`` (mean training loss of each epoch, in nats for the
            cross-entropies), ``val_loss`` when validating, ``accuracy`` metrics,
            and ``seconds`` (wall time of each epoch).

        Raises
        ------
        ValueError
            The model is not compiled; inputs, targets and lengths of different
            numbers of samples (each named) or without samples; a bad ``verbose``,
            ``validation_split`` (or one that leaves a part empty) or batch size;
            ``lengths`` with ``validation_data`` but no ``validation_lengths``, or
            ``validation_lengths`` without ``validation_data``.
        TypeError
            ``y`` is None, ``validation_data`` is not a pair, a callback is not a
            [`Callback`][seqnet.callbacks.Callback], or an argument of the wrong
            type.
        FloatingPointError
            The training loss became NaN or infinite.

        Notes
        -----
        A stateful model (truncated backpropagation through time): every epoch
        starts from zero states (`reset_states`), each batch continues the states
        its predecessor left, and the gradient stops at the batch boundary. Its
        ``batch_size`` must divide the number of samples (and of validation
        samples) when they make more than one batch, and ``shuffle`` must be
        False. The validation and the metrics
        run as `evaluate` does (from zero states, reset after), so after a fit
        that validates the states are zero; without, they are the last batch's.
        """
        self._need_compiled()
        if y is None:
            raise TypeError("fit needs targets y (one per sample of x), got None")
        xs, ys, ls, sws, n = self._data(x, y, lengths, sample_weight=sample_weight)
        batch_size = _checks.positive_int(batch_size, "batch_size")
        epochs = _checks.positive_int(epochs, "epochs")
        if isinstance(verbose, bool) or verbose not in ("auto", 0, 1, 2):
            raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
        val, (xs, ys, ls, sws, n) = self._validation(
            validation_data, validation_split, validation_lengths, (xs, ys, ls, sws, n))
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
            cb.model = self
        if self.stateful:
            if shuffle:
                raise ValueError("shuffle=True with a stateful model: shuffling the samples "
                                 "breaks the streams whose state the stateful layers carry "
                                 "from one batch to the next; pass shuffle=False")
            self._check_stateful(n, batch_size, "x")
            if val is not None:
                self._check_stateful(val[0][0].shape[0], batch_size, "the validation data")
        self._note_input(xs)
        draw = _progress.should_draw(verbose)
        lines = verbose != 0
        history = History()
        self.stop_training = False
        steps = math.ceil(n / batch_size)
        for cb in callbacks:
            cb.on_train_begin({})
        last_epoch = self.epochs_trained + epochs
        for _ in range(epochs):
            epoch = self.epochs_trained
            self.reset_states()   # a stateful model's streams start again each epoch
            for cb in callbacks:
                cb.on_epoch_begin(epoch, {})
            order = self.rng.permutation(n) if shuffle else np.arange(n)
            bar = _progress.ProgressBar(steps, enabled=draw)
            start = time.perf_counter()
            sums, counts = [0.0] * len(self.outputs), [0.0] * len(self.outputs)
            for b in range(steps):
                idx = order[b * batch_size:(b + 1) * batch_size]
                value, parts = self._train_step(self._take(xs, idx), self._take(ys, idx),
                                                self._take(ls, idx), self._take(sws, idx))
                if not np.isfinite(value):
                    raise FloatingPointError(f"the training loss became {value} at epoch "
                                             f"{epoch + 1}, batch {b + 1}; lower the "
                                             "learning rate or clip the gradients")
                for k, part in enumerate(parts):
                    if part is not None:
                        sums[k] += part[0] * part[1]
                        counts[k] += part[1]
                bar.update(b + 1, loss=self._mean_loss(sums, counts))
                for cb in callbacks:
                    cb.on_batch_end(b, {"loss": value})
            logs = {"loss": self._mean_loss(sums, counts)}
            if any(self._metric_objects):
                # the metrics of the epoch's weights, over the training data (no dropout)
                logs.update(self._batched_loss(xs, ys, ls, batch_size, with_loss=False))
            if val is not None:
                vx, vy, vl, vw = val
                logs.update({f"val_{k}": v for k, v in
                             self._batched_loss(vx, vy, vl, batch_size, vw).items()})
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

    def _mean_loss(self, sums, counts):
        """``sum_k w_k L_k`` of the losses so far, each the mean over its positions."""
        return sum(w * (s / c) for w, s, c in zip(self._weights, sums, counts, strict=True)
                   if c)

    def _note_input(self, xs):
        """Record the input's shape (a Sequential learns it from its data)."""

    def _epoch_line(self, epoch, last_epoch, logs, seconds):
        ce = isinstance(self.loss, _CE)
        parts = [f"epoch {epoch + 1}/{last_epoch}", f"{seconds:.1f}s"]
        for k in ("loss", "val_loss"):
            if k in logs:
                text = f"{k} {logs[k]:.4f}"
                if ce:
                    text += f" nats ({_bits(logs[k]):.4f} bits)"
                parts.append(text)
        parts += [f"{k} {v:.4f}" for k, v in logs.items() if k not in ("loss", "val_loss")]
        return " - ".join(parts)

    def evaluate(self, x, y, batch_size=32, lengths=None, sample_weight=None):
        """Mean loss over ``(x, y)`` in inference mode (no dropout).

        Parameters
        ----------
        x, y : array_like, or lists of array_like
            Inputs and targets, as for `fit`.
        batch_size : int, default 32
            Samples per forward pass.
        lengths : array_like of int, or list, optional
            The valid steps of each row of each input, as for `fit`.
        sample_weight : array_like, or list, optional
            Weights in the loss, as for `fit`.

        Returns
        -------
        dict of str to float
            ``{"loss": ...}`` (``sum_k w_k L_k``), ``"output_<k>_loss"`` for each
            output of a model with several, and each compiled metric.

        Raises
        ------
        ValueError
            The model is not compiled, inputs, targets and lengths do not match,
            or a bad ``batch_size`` (for a stateful model, one that does not divide
            the number of samples, when they make more than one batch).

        Notes
        -----
        A stateful model runs the batches in order from zero states, each batch
        continuing its predecessor's states (the layout of
        `seqnet.text.stream_arrays`), and its states are reset again afterwards:
        the result does not depend on what ran before.
        """
        self._need_compiled()
        xs, ys, ls, sws, n = self._data(x, y, lengths, sample_weight=sample_weight)
        batch_size = _checks.positive_int(batch_size, "batch_size")
        self._check_stateful(n, batch_size, "x")
        return self._batched_loss(xs, ys, ls, batch_size, sws)

    def predict(self, x, batch_size=32, lengths=None):
        """The model's outputs for ``x``, in inference mode, batch by batch.

        Parameters
        ----------
        x : array_like, or list of array_like
            Inputs, as for `fit`.
        batch_size : int, default 32
            Samples per forward pass.
        lengths : array_like of int, or list, optional
            The valid steps of each row of each input, as for `fit`.

        Returns
        -------
        ndarray, or list of ndarray
            Each output for all samples (probabilities after a softmax), a list for
            several outputs.

        Raises
        ------
        ValueError
            ``x`` has no samples, inputs and lengths do not match, or a bad
            ``batch_size`` (for a stateful model, one that does not divide the
            number of samples, when they make more than one batch).

        Notes
        -----
        A stateful model runs as in `evaluate`: from zero states, each batch
        continuing its predecessor's, reset afterwards. To carry states from one
        call to the next, call `forward` (or the layers) directly.
        """
        xs, _, ls, _, n = self._data(x, None, lengths)
        batch_size = _checks.positive_int(batch_size, "batch_size")
        self._check_stateful(n, batch_size, "x")
        parts = []
        self.reset_states()
        with _threads.blas_single_threaded():
            for s in range(0, n, batch_size):
                idx = slice(s, s + batch_size)
                parts.append(self._execute(self._take(xs, idx), self._take(ls, idx),
                                           False)[0])
        self.reset_states()
        outs = [np.concatenate([p[k] for p in parts], axis=0) for k in range(len(parts[0]))]
        return outs if self._multi_out or len(outs) > 1 else outs[0]

    # ------------------------------------------------------------------ summary
    def _tensor_label(self, t, index_of):
        if t.node is None:
            return t.name
        label = self._prefix(index_of[id(t.node.layer)])
        return label + (f"[{t.index}]" if len(t.node.outputs) > 1 else "")

    def summary(self, print_fn=print):
        """Print the graph: each input and each layer call with its output shape(s),
        parameter count and the tensors it reads, then the totals.

        Parameters
        ----------
        print_fn : callable, default print
            Called with each line of the table.
        """
        index_of = {id(layer): i for i, layer in enumerate(self.layers)}
        rows = [("Layer (type)", "Output shape", "Param #", "Connected to")]
        for t in self.inputs:
            rows.append((f"{t.name} (Input)", str(t.shape), "0", ""))
        seen = set()
        for node in self._nodes:
            layer = node.layer
            shapes = [t.shape for t in node.outputs]
            shape_text = str(shapes[0]) if len(shapes) == 1 else ", ".join(map(str, shapes))
            if id(layer) in seen:
                params = "(shared)"
            else:
                params = f"{layer.num_parameters:,}"
                seen.add(id(layer))
            reads = [self._tensor_label(t, index_of) for t in node.inputs]
            reads += [f"state {self._tensor_label(s, index_of)}" for s in node.states
                      if s is not None]
            rows.append((self._prefix(index_of[id(layer)]), shape_text, params,
                         ", ".join(reads)))
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        line = "-" * (sum(widths) + 9)
        if self.name:
            print_fn(f'Model "{self.name}"')
        print_fn(line)
        for j, r in enumerate(rows):
            print_fn(f"{r[0]:<{widths[0]}}   {r[1]:<{widths[1]}}   {r[2]:>{widths[2]}}   "
                     f"{r[3]}".rstrip())
            if j == 0:
                print_fn(line)
        print_fn(line)
        print_fn(f"Total params: {self.num_parameters:,}")
        outs = ", ".join(self._tensor_label(t, index_of) for t in self.outputs)
        print_fn(f"Outputs: {outs}")

    # -------------------------------------------------------------------- files
    def _ref(self, t, node_index):
        if t is None:
            return None
        if t.node is None:
            return ["input", next(k for k, i in enumerate(self.inputs) if i is t)]
        return [node_index[id(t.node)], t.index]

    def _loss_config(self):
        if self.loss is None:
            return None
        if isinstance(self.loss, list):
            return [None if item is None else item.get_config() for item in self.loss]
        return self.loss.get_config()

    def get_config(self):
        """The graph, its layers, compile settings and metadata as JSON-serialisable
        data.

        Returns
        -------
        dict
            ``seed``, ``name``, ``layers`` (each ``{"class", "config"}``),
            ``inputs`` (shape, dtype, name), ``nodes`` (for each call: the index of
            its layer, what it reads and its options, in the order they run),
            ``outputs``, ``loss``, ``loss_weights``, ``metrics``, ``metadata`` and
            ``epochs_trained``.
        """
        index_of = {id(layer): i for i, layer in enumerate(self.layers)}
        node_index = {id(node): i for i, node in enumerate(self._nodes)}
        return {
            "seed": self.seed,
            "name": self.name,
            "layers": [layers_module.serialize(layer) for layer in self.layers],
            "inputs": [{"shape": list(t.shape[1:]), "dtype": t.dtype.name, "name": t.name}
                       for t in self.inputs],
            "nodes": [{"layer": index_of[id(node.layer)],
                       "inputs": [self._ref(t, node_index) for t in node.inputs],
                       "states": [self._ref(s, node_index) for s in node.states],
                       "options": node.options}
                      for node in self._nodes],
            "outputs": [self._ref(t, node_index) for t in self.outputs],
            "multi_input": self._multi_in,
            "multi_output": self._multi_out,
            "loss": self._loss_config(),
            "loss_weights": self.loss_weights,
            "metrics": list(self.metrics),
            "metadata": self.metadata,
            "epochs_trained": self.epochs_trained,
        }

    @classmethod
    def from_config(cls, config):
        """A model from `get_config`'s output: the graph rebuilt by calling its layers
        on symbolic tensors again (their weights planned, not made: a model file's
        go in with no random initialisation first).

        Parameters
        ----------
        config : dict
            As `get_config` returns it.

        Returns
        -------
        Model

        Raises
        ------
        ValueError, TypeError, KeyError
            An inconsistent config.
        """
        layers = [layers_module.deserialize(spec) for spec in config["layers"]]
        inputs = [graph.Input(tuple(spec["shape"]), spec["dtype"], name=spec.get("name"))
                  for spec in config["inputs"]]
        made = []

        def tensor(ref):
            if ref is None:
                return None
            if ref[0] == "input":
                return inputs[ref[1]]
            out = made[ref[0]]
            return out[ref[1]]

        for spec in config["nodes"]:
            layer = layers[spec["layer"]]
            xs = [tensor(r) for r in spec["inputs"]]
            states = [tensor(r) for r in spec.get("states", [])]
            result = layer(xs if layer.multi_input else xs[0], states or None,
                           **spec.get("options", {}))
            made.append(result if isinstance(result, list) else [result])
        outputs = [tensor(r) for r in config["outputs"]]
        model = cls(inputs if config.get("multi_input", len(inputs) > 1) else inputs[0],
                    outputs if config.get("multi_output", len(outputs) > 1) else outputs[0],
                    seed=config.get("seed"), name=config.get("name"))
        model._restore_settings(config)
        return model

    def _restore_settings(self, config):
        """Compile settings, metadata and epochs from a config."""
        loss = config.get("loss")
        if loss is not None:
            if isinstance(loss, list):
                self.loss = [None if c is None else losses.from_config(c) for c in loss]
                self._losses = list(self.loss)
            else:
                self.loss = losses.from_config(loss)
                self._losses = [self.loss] * max(1, len(self.outputs))
        self.loss_weights = config.get("loss_weights")
        self._weights = (list(self.loss_weights) if self.loss_weights is not None
                         else [1.0] * max(1, len(self.outputs)))
        self.metrics = tuple(config.get("metrics", ()))
        self._metric_objects = self._make_metrics(self.metrics, self._losses)
        self.metadata = dict(config.get("metadata") or {})
        self.epochs_trained = int(config.get("epochs_trained", 0))

    def _adopt(self, values, input_size=None):
        """Checked parameter values, keyed as `params`, into the layers (made from
        them where a layer has none yet)."""
        for i, layer in enumerate(self.layers):
            prefix = self._prefix(i) + "/"
            mine = {k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix)}
            if mine:
                layer._adopt(mine)

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
        name = f"{self.name!r}, " if self.name else ""
        return (f"Model({name}inputs={[t.shape for t in self.inputs]}, "
                f"outputs={[t.shape for t in self.outputs]}, layers={len(self.layers)})")


layers_module.register(Model)


@saving.register_model
class Sequential(Model):
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
        self._init_model(seed, None)
        self._stack = []
        self.input_shape = None
        self.input_dtype = None
        for layer in layers:
            self.add(layer)

    # -------------------------------------------------------------- structure
    def add(self, layer):
        """Append a layer (anything following the layer contract).

        Parameters
        ----------
        layer : seqnet.layers.Layer
            Any layer with one input and one output.

        Raises
        ------
        TypeError
            ``layer`` is not a [`seqnet.layers.Layer`][seqnet.layers.Layer].
        ValueError
            ``layer`` has several outputs (``return_state=True``) or several
            inputs, is in the stack already, or has weights of another dtype than
            the model's other layers.
        """
        if not isinstance(layer, layers_module.Layer):
            raise TypeError(f"layer must be a seqnet layer (seqnet.layers.Layer), "
                            f"got {type(layer).__name__}")
        if layer.num_outputs != 1:
            raise ValueError(f"a Sequential layer must have one output; {type(layer).__name__}"
                             f" has {layer.num_outputs} (return_state=True): use it in a "
                             "seqnet.Model, or build it with return_state=False")
        if layer.multi_input:
            raise ValueError(f"a Sequential layer takes one input; {type(layer).__name__} "
                             "takes several: use it in a seqnet.Model")
        if any(other is layer for other in self._stack):
            raise ValueError(f"{layer!r} is in the stack already: to call one layer twice "
                             "(shared weights), build a seqnet.Model")
        if layer.has_weights:
            for other in self._stack:
                if other.has_weights and other.dtype != layer.dtype:
                    raise ValueError(f"every layer with weights must share one dtype: "
                                     f"{type(layer).__name__} is {layer.dtype}, "
                                     f"{type(other).__name__} is {other.dtype}")
        self._stack.append(layer)
        self._chain()

    def _chain(self):
        """The stack as a graph: one node per layer, each reading the one before."""
        inp = graph.SymbolicTensor((None,), np.float32, name="input")
        t, nodes = inp, []
        for layer in self._stack:
            node = graph.Node(layer, [t], [], {})
            t = graph.SymbolicTensor((None,), np.float32, node, 0)
            node.outputs = [t]
            nodes.append(node)
        self._set_graph([inp], [t] if nodes else [], nodes, False, False)
        # a layer added twice is listed twice, as it was given (each under its index)
        self.layers = list(self._stack)

    def _check_inputs(self, xs, name):
        x = np.asarray(_checks.to_numpy(xs[0]))
        if x.ndim < 2:
            raise ValueError(f"{name} must have a batch axis and features, got shape {x.shape}")
        return [x]

    def _note_input(self, xs):
        self.input_shape = tuple(xs[0].shape[1:])
        self.input_dtype = xs[0].dtype.name

    def forward(self, x, initial_state=None, *, training=False, lengths=None, logits=(),
                trace=False):
        """Run the stack on ``x`` (see `Model.forward`).

        Parameters
        ----------
        x : array_like
            The input, batch first.
        initial_state : None
            A model has no state of its own.
        training : bool, default False
            Keep what `backward` needs, and apply dropout.
        lengths : array_like of int, shape (B,), optional
            The valid steps of each row.
        logits : collection of int, default ()
            Leave the last layer's final softmax out (``{len(layers) - 1}``).
        trace : bool, default False
            Every recurrent layer keeps each step's gates and states in its
            ``trace``.

        Returns
        -------
        ndarray

        Raises
        ------
        ValueError
            The model has no layers, or a layer refuses ``x``.
        """
        if not self._stack:
            raise ValueError("the model has no layers")
        return super().forward(x, initial_state, training=training, lengths=lengths,
                               logits=logits, trace=trace)

    def step(self, x, states=None, *, trace=False):
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
        trace : bool, default False
            Refused when true: the one-step path keeps no per-step trace (run
            `forward` with ``trace=True`` on the whole sequence).

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
            direction needs the whole sequence), ``states`` of the wrong length,
            or ``trace=True``.
        TypeError
            ``trace`` is not a bool.
        """
        if _checks.flag(trace, "trace"):
            raise ValueError("trace=True: step() is the fast one-step inference path and "
                             "keeps no trace; run forward(x, trace=True) on the whole "
                             "sequence instead (seqnet.inspect.trace for a model)")
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
        in_dtype = np.dtype(np.float32 if dtype is None else dtype)
        shape, index = tuple(input_shape), in_dtype.kind != "f"
        for layer in self._stack:
            if layer.has_weights and not layer.built:
                if index:
                    raise ValueError(f"{layer!r} takes integer (index) input: build it with "
                                     "input_size=<vocabulary size>")
                layer.plan(shape)
            shape = tuple(layer.output_shape(shape))
            index = index and not layer.has_weights   # a layer with weights makes floats
        for layer in self._stack:
            layer.params   # made now, from the plan  # noqa: B018
        self.input_shape, self.input_dtype = tuple(input_shape), in_dtype.name

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
            "loss": self._loss_config(),
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
        model._restore_settings(config)
        return model

    def __repr__(self):
        return "Sequential([" + ", ".join(repr(layer) for layer in self.layers) + "])"


layers_module.register(Sequential)
