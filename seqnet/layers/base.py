"""The layer contract: one base class and one calling convention for every layer.

A layer, recurrent or not, is called the same way::

    out = layer.forward(x, training=True)           # one output
    dx = layer.backward(dout)                       # the gradient of its input

A recurrent layer also takes ``initial_state=`` (and ``lengths=``) and, built with
``return_state=True`` (Keras's convention), returns its final state as extra
outputs, ``[out, h]`` or ``[out, h, c]``; its ``backward`` then takes one gradient
per output, ``[dout, dh, dc]``, and returns one per input, ``[dx, dh0, dc0]`` when
``forward`` was given an initial state. Models, graphs and
[`check_gradients`][seqnet.check_gradients] rely on this and nothing else: they
never ask what kind of layer they hold.

A subclass implements the two halves of a pass, on its state as a tuple
(``()`` for a layer without one):

- ``call(x, initial_state, *, training, **options) -> (out, final_state)``;
- ``call_backward(dout, dfinal_state) -> (dx, dinitial_state)``;

plus ``get_config()`` (its constructor's arguments) and, for a layer with weights,
``_param_shapes(input_size)`` and ``_initial_params(input_size)``. `forward`,
`backward`, `from_config`, `build`, `params`, `state_dict` and `load_state_dict`
come from here.

Three more conventions serve the models built from layers (:mod:`seqnet.model`):

- **Several inputs.** A layer with ``multi_input = True`` (a merge, attention)
  takes a list of arrays as ``x``; its ``call_backward`` returns a list, one
  gradient per input (None for an integer input).
- **Several outputs.** ``outputs_for(options) > 1`` (``return_state=True`` at
  construction, ``return_attention_scores=True`` as a call option): ``call``
  returns ``(out, extras)`` and `forward` returns ``[out, *extras]``; `backward`
  takes ``[dout, *dextras]``. A recurrent layer's extras are its final state.
- **Lengths (Keras's masks).** A layer with ``takes_lengths = True`` accepts
  ``lengths=`` in ``call`` (the valid steps of each row, ``(B,)``; a list, one
  entry per input, for a multi-input layer). ``output_lengths(x, lengths)`` gives
  the lengths of the layer's first output, or None when it has no time axis left
  to mask: the input's for a ``per_step`` layer (one output step per input step),
  a row's trailing padding for ``Embedding(mask_zero=True)`` and ``Masking``.

A layer's parameters are made once, under a lock (several threads may make a
layer's first call at once), and no earlier than needed: a constructor that knows
the input size only plans them, and the first use of `params` makes them. So a
model file's weights go into the layers without any random initialisation first
(:mod:`seqnet.saving`), and a tampered size is refused before anything is made.
"""

from __future__ import annotations

import threading

import numpy as np

from .. import _checks, graph
from .._checksum import checksum
from .._config import DEFAULT_DTYPE


class Layer:
    """Base of every seqnet layer.

    Parameters
    ----------
    dtype : {np.float32, np.float64}, default np.float32
        Dtype of the parameters, outputs and gradients.
    seed : int, optional
        Seeds the initialisation (its own stream) and `rng` (another). Any
        non-negative integer, NumPy's integer types included.

    Attributes
    ----------
    params, grads : dict of str to ndarray
        The parameters and their gradients, same keys; empty until built.
        ``backward`` overwrites ``grads``.
    rng : numpy.random.Generator
        Draws anything random at run time (dropout masks).
    state_names : tuple of str
        Names of the recurrent state tensors; ``()`` for a layer without state.
    return_state : bool
        Whether `forward` returns the final state as extra outputs.
    has_weights : bool
        Whether the layer owns parameters of its ``dtype`` (layers without weights
        compute in their input's dtype).
    logits_option : bool
        Whether ``forward`` takes ``logits=True`` to skip a final activation.
    causal : bool
        Whether the layer can run one step at a time, carrying its state.

    Raises
    ------
    TypeError
        ``dtype`` is not float32 or float64, or ``seed`` not an integer or None.
    ValueError
        ``seed`` is negative.
    """

    state_names: tuple = ()
    return_state = False
    has_weights = True
    #: whether `call` takes a list of arrays (a merge, attention) rather than one.
    multi_input = False
    #: whether `call` takes ``lengths=``, the valid steps of each row.
    takes_lengths = False
    #: whether the output has one step for each input step (Dense, Dropout, ... on
    #: sequences): the input's lengths are then the output's.
    per_step = False
    #: the kinds of input array the layer takes (numpy dtype kinds): floats ("f"),
    #: integer indices ("i"), or both. Graphs check it when a layer is called.
    input_kinds = ("f",)
    #: rows of each state array in the layer's layout ``(state_rows, B, H)``.
    state_rows = 1
    #: whether ``forward(..., logits=True)`` returns the pre-activation of a final
    #: activation (the model then fuses a softmax with a cross-entropy loss).
    logits_option = False
    #: whether the output at a step depends on that step and earlier ones only, so
    #: that the layer can run one step at a time (`seqnet.Sequential.step`).
    causal = True
    #: whether `forward` takes ``trace=True`` (per-step gates and states, kept in
    #: the layer's ``trace``): the recurrent layers.
    traceable = False
    #: whether the layer carries its final state from one `forward` to the next
    #: (``stateful=True`` on a recurrent layer; see `reset_states`).
    stateful = False

    def __init__(self, *, dtype=DEFAULT_DTYPE, seed=None):
        self.dtype = _checks.float_dtype(dtype)
        self.seed = _checks.seed(seed)
        init_seq, run_seq = np.random.SeedSequence(self.seed).spawn(2)
        self._init_rng = np.random.default_rng(init_seq)
        self.rng = np.random.default_rng(run_seq)
        self._params = {}
        self.grads = {}
        #: the input size the parameters are planned for, made on first use (None:
        #: unknown until the first call, `build` or `load_state_dict`).
        self._planned_input = None
        self._lock = threading.RLock()
        self._cache = None
        self._state_given = False
        #: the thread whose training forward waits for its backward (None: none).
        self._trainer = None
        #: checksums of the parameters at the last training forward.
        self._params_sum = None
        #: the number of outputs of the last forward (see `outputs_for`).
        self._outputs = 1

    def __getstate__(self):
        """The layer's attributes for `pickle` and `copy.deepcopy`: all but its lock;
        a pending training cache travels but belongs to no thread."""
        state = self.__dict__.copy()
        del state["_lock"]
        state["_trainer"] = None
        return state

    def __setstate__(self, state):
        """Restore what `__getstate__` gave, with a new lock."""
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ structure
    @property
    def params(self):
        """dict of str to ndarray: the parameters, by name; made on first use once
        the input size is known (empty before)."""
        if not self._params and self._planned_input is not None:
            self._build(self._planned_input)
        return self._params

    @params.setter
    def params(self, value):
        self._params = value

    @property
    def built(self):
        """bool: whether the layer's parameters exist or are planned (or it needs
        none)."""
        return not self.has_weights or bool(self._params) or self._planned_input is not None

    @property
    def num_parameters(self):
        """int: total number of scalar parameters (0 before the layer is built)."""
        return int(sum(v.size for v in self.params.values()))

    @property
    def num_outputs(self):
        """int: arrays that `forward` returns: 1, or ``1 + len(state_names)`` when
        ``return_state`` (a layer with other extra outputs says how many)."""
        return 1 + len(self.state_names) if self.return_state else 1

    def output_lengths(self, x, lengths):
        """The valid steps of each row of the layer's first output (Keras's
        ``compute_mask``).

        Parameters
        ----------
        x : ndarray, or list of ndarray
            The input (a list for a multi-input layer).
        lengths : ndarray of int, shape (B,), or None
            The input's lengths (a list, one entry per input, for a multi-input
            layer); None for an input without padding.

        Returns
        -------
        ndarray of int, shape (B,), or None
            ``lengths`` for a ``per_step`` layer, None otherwise (this base class).
        """
        return lengths if self.per_step else None

    def outputs_for(self, options):
        """The number of arrays `forward` returns when called with ``options``.

        Parameters
        ----------
        options : dict
            The call's keyword options (``lengths``, ``return_attention_scores``,
            ...).

        Returns
        -------
        int
            `num_outputs` here; a layer whose outputs depend on a call option
            overrides this.
        """
        return self.num_outputs

    def build(self, input_shape):
        """Create the parameters for inputs of ``input_shape`` (no batch axis).

        Parameters
        ----------
        input_shape : tuple of int
            One sample's shape; its last entry is the number of input features
            (index input: the layer's ``input_size`` must be known already).
        """
        if not self.built:
            self._build(_checks.positive_int(tuple(input_shape)[-1], "input features"))

    def _build(self, input_size, values=None):
        """Make the parameters for ``input_size`` input features, once (a no-op when
        another thread made them first): their initial values
        (`_initial_params`), or ``values`` (names and shapes checked by the caller)
        cast to the layer's dtype, without drawing any."""
        with self._lock:
            if self._params:
                return
            if values is None:
                params = self._initial_params(input_size)
            else:
                params = {k: np.array(_checks.to_numpy(values[k]), dtype=self.dtype)
                          for k in self._param_shapes(input_size)}
            self.grads = {k: np.zeros_like(v) for k, v in params.items()}
            self._set_input_size(input_size)
            self._planned_input = None
            self._params = params   # published last: a reader sees all or nothing

    def plan(self, input_shape):
        """Plan the parameters for inputs of ``input_shape`` without making them: they
        are made on first use (a graph plans its layers when they are called on
        symbolic tensors, so that building a model draws no random numbers and
        loading one never initialises weights it then overwrites).

        Parameters
        ----------
        input_shape : tuple of int
            One sample's shape; its last entry is the number of input features.

        Raises
        ------
        ValueError
            The last entry is unknown (None) or below 1.
        """
        if self.built:
            return
        size = tuple(input_shape)[-1] if len(tuple(input_shape)) else None
        if size is None:
            raise ValueError(f"{type(self).__name__} needs to know its input's last axis "
                             f"(features), got an input of shape {tuple(input_shape)}")
        size = _checks.positive_int(size, "input features")
        with self._lock:
            if not self.built:
                self._set_input_size(size)
                self._planned_input = size

    def check_input(self, input_shape, dtype):
        """Refuse an input that `output_shape` alone cannot judge (a graph calls it
        first): here nothing; a layer that takes floats and indices checks the rank
        each kind needs.

        Parameters
        ----------
        input_shape : tuple, or list of tuple
            One sample's shape (a list for a multi-input layer).
        dtype : numpy.dtype, or list of numpy.dtype
            The input's dtype (a list for a multi-input layer).

        Raises
        ------
        ValueError
            An input of the wrong rank for its kind.
        """

    def extra_shapes(self, input_shape, options):
        """One sample's shape of each output after the first, as a graph sees it
        (batch-first: a state is ``(H,)`` or ``(state_rows, H)``).

        Parameters
        ----------
        input_shape : tuple, or list of tuple
            The input's sample shape (a list for a multi-input layer).
        options : dict
            The call's options.

        Returns
        -------
        list of tuple
            Empty for a layer with one output (this base class).
        """
        return []

    def state_graph_shape(self, index=0):
        """One sample's shape of each state array as a graph sees it: ``(H,)``, or
        ``(state_rows, H)`` for several layers or directions.

        Parameters
        ----------
        index : int, default 0
            Which state array (of `state_names`): a layer whose states differ in
            size (a projected LSTM's ``h`` and ``c``) answers for each.

        Returns
        -------
        tuple of int

        Raises
        ------
        TypeError
            The layer has no state.
        """
        if not self.state_names:
            raise TypeError(f"{type(self).__name__} has no state")
        return graph.state_graph_shape(self.state_rows, self.hidden_size)

    def __call__(self, x, initial_state=None, **options):
        """Call the layer Keras's way: on symbolic tensors, record the call in a graph
        (:mod:`seqnet.graph`); on arrays, run `forward`.

        Parameters
        ----------
        x : SymbolicTensor or array_like, or a list of them
            The input (a list for a multi-input layer).
        initial_state : SymbolicTensor or array_like, or a list, optional
            The state to start from, batch-first as graphs see states: ``[h, c]``
            for an LSTM, each ``(B, H)`` (``(B, num_layers*D, H)`` for a layer of
            several layers or directions).
        **options
            ``training=`` (arrays only: a graph gets it when its model runs) and the
            layer's own call options (``lengths=``, ``return_attention_scores=``...).

        Returns
        -------
        SymbolicTensor or ndarray, or a list of them
            The output, or ``[out, *extras]`` (states batch-first).

        Raises
        ------
        TypeError, ValueError
            Inputs of the wrong kind or shape, named with the layer.
        """
        if graph.is_symbolic(x) or graph.is_symbolic(initial_state):
            from ._symbolic import call_symbolic
            return call_symbolic(self, x, initial_state, options)
        training = options.pop("training", False)
        if initial_state is not None and self.state_names:
            parts = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
            initial_state = [graph.state_from_graph(p, self.state_rows) for p in parts]
        result = self.forward(x, initial_state, training=training, **options)
        if isinstance(result, list) and self.return_state:
            n = len(self.state_names)
            result = result[:-n] + [graph.state_to_graph(np.asarray(s)) for s in result[-n:]]
        return result

    def _initial_params(self, input_size):
        """``{name: array}``: freshly initialised parameters for ``input_size``
        input features (layers with weights)."""
        raise NotImplementedError

    def _set_input_size(self, input_size):
        """Record the input size the parameters were made for (a hook)."""

    def output_shape(self, input_shape):
        """Shape of the output for an input of ``input_shape`` (no batch axis).

        Parameters
        ----------
        input_shape : tuple of int
            The input's shape without the batch axis.

        Returns
        -------
        tuple of int
            ``input_shape`` itself for a shape-preserving layer (this base class).
        """
        return tuple(input_shape)

    # ------------------------------------------------------------------- configs
    def get_config(self):
        """The constructor's keyword arguments, JSON-serialisable.

        Returns
        -------
        dict
            ``{"dtype": <dtype name>, "seed": seed}`` here; each layer adds its own.
        """
        return {"dtype": self.dtype.name, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        """A new layer from `get_config`'s output: ``cls(**config)``.

        Parameters
        ----------
        config : dict
            Constructor arguments, every one by keyword.

        Returns
        -------
        Layer
            Not built unless the config fixes its input size.

        Raises
        ------
        TypeError
            ``config`` is not a dict, or has an entry the constructor does not take.
        """
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        return cls(**config)

    # ---------------------------------------------------------------- state dicts
    def state_dict(self):
        """Copies of the parameters.

        Returns
        -------
        dict of str to ndarray
            ``{name: params[name].copy()}``; empty before the layer is built.
        """
        return {k: v.copy() for k, v in self.params.items()}

    #: the parameter whose second axis is the input size (``None``: the layer
    #: cannot take its input size from a state dict).
    input_weight = None

    def _input_size_of(self, state_dict):
        """The input size an unbuilt layer takes from a state dict: the second axis
        of its `input_weight` entry."""
        name = self.input_weight
        if name is None:
            raise ValueError(f"{type(self).__name__} is not built: build it before "
                             "load_state_dict")
        if name not in state_dict:
            raise ValueError(f"state_dict is missing {name!r}")
        w = np.asarray(_checks.to_numpy(state_dict[name]))
        if w.ndim != 2:
            raise ValueError(f"state_dict[{name!r}] must be 2-D, got shape {w.shape}")
        return w.shape[1]

    def load_state_dict(self, state_dict):
        """Load parameters from a mapping of arrays (or torch tensors).

        Every name of `params` must be present with its exact shape and no other
        name may be given; values are cast to the layer's dtype. Everything is
        checked before anything is assigned. A layer not yet built takes its input
        size from the state dict.

        Parameters
        ----------
        state_dict : mapping of str to array_like
            The names of `params`, each with that parameter's shape; real numeric
            arrays, or torch tensors (as ``module.state_dict()`` gives them).

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
        input_size = self._planned_input
        if not self.built:
            input_size = self._input_size_of(state_dict)
        shapes = self.expected_shapes(input_size)
        missing = [k for k in shapes if k not in state_dict]
        extra = [k for k in state_dict if k not in shapes]
        if missing:
            raise ValueError(f"state_dict is missing {missing}")
        if extra:
            raise ValueError(f"state_dict has unexpected entries {extra}; expected {list(shapes)}")
        values = {}
        for name, shape in shapes.items():
            value = np.asarray(_checks.to_numpy(state_dict[name]))
            if value.dtype.kind not in "fiu":
                raise TypeError(f"state_dict[{name!r}] must be a real array, "
                                f"got dtype {value.dtype}")
            if value.shape != tuple(shape):
                raise ValueError(f"state_dict[{name!r}] must have shape {tuple(shape)}, "
                                 f"got {value.shape}")
            values[name] = value
        self._adopt(values, input_size)
        self._cache = None

    def expected_shapes(self, input_size=None):
        """``{name: shape}`` of the parameters: those that exist, or those planned
        (or planned for ``input_size`` input features), without making any.

        Parameters
        ----------
        input_size : int, optional
            The input size to plan for when the layer does not know its own.

        Returns
        -------
        dict of str to tuple, or None
            None when neither the layer nor ``input_size`` fixes the shapes.
        """
        if self._params:
            return {k: v.shape for k, v in self._params.items()}
        if not self.has_weights:
            return {}
        size = self._planned_input if self._planned_input is not None else input_size
        return None if size is None else self._param_shapes(size)

    def _adopt(self, values, input_size=None):
        """Take checked parameter values: copied into the parameters that exist, or
        made from them (no random initialisation) for the planned input size (or
        ``input_size``)."""
        with self._lock:
            if self._params:
                for name, value in values.items():
                    self._params[name][...] = value
            else:
                size = self._planned_input if self._planned_input is not None else input_size
                self._build(size, values)

    def _param_shapes(self, input_size):
        """``{name: shape}`` of the parameters for ``input_size`` input features."""
        raise NotImplementedError

    # ------------------------------------------------------------ the convention
    def forward(self, x, initial_state=None, *, training=False, **options):
        """Run the layer: ``out``, or ``[out, *final_state]`` when ``return_state``.

        The one calling convention of every layer, recurrent or not.

        Parameters
        ----------
        x : array_like
            The input, batch first: ``(B, T, I)`` floats or ``(B, T)`` integer
            indices for a recurrent layer (indices compute exactly what their
            one-hot encoding would, a gather of ``weight_ih_l0``'s columns), ``(B,
            F)`` or ``(B, T, F)`` for a Dense layer, ... (see each layer's `call`).
        initial_state : array_like or sequence of array_like, optional
            The state to start from, a layer with state only: ``h`` or ``[h]``
            (``[h, c]`` for an LSTM), each ``(num_layers*D, B, H)``, layer-major
            then direction. Zeros when omitted (or for an entry that is None).
        training : bool, default False
            Keep what `backward` needs, and apply dropout.
        **options
            The layer's own call options: ``lengths=`` (valid steps per row, ``1 <=
            lengths[b] <= T``; past its length a row's output is 0 and its state is
            carried) and ``trace=True`` (keep every step's gates and states in
            ``layer.trace``) for a recurrent layer, ``logits=True`` for Dense.

        Returns
        -------
        ndarray, or list of ndarray
            The output (a recurrent layer's: ``(B, T, D*H)``, both directions
            concatenated, forward first; ``(B, D*H)``, each row's last valid step,
            with ``return_sequences=False``); with ``return_state=True``, ``[out,
            h]`` or ``[out, h, c]``.

        Raises
        ------
        TypeError
            ``initial_state`` given to a layer without state, or an input of the
            wrong type (see the layer's `call`).
        ValueError
            An input of the wrong shape or values (see the layer's `call`), or
            ``trace=True`` for a layer that is not `traceable`.
        """
        if not self.traceable and options.pop("trace", False):
            raise ValueError(f"trace=True: {type(self).__name__} has no per-step gates or "
                             "states to trace (SimpleRNN, LSTM and GRU layers take it; for a "
                             "bidirectional one, bidirectional=True)")
        if initial_state is not None:
            if not self.state_names:
                raise TypeError(f"{type(self).__name__} has no state: initial_state must be "
                                "None")
            if not isinstance(initial_state, (list, tuple)):
                initial_state = (initial_state,)
            initial_state = tuple(initial_state)
        training = bool(training)
        self._claim(training)
        try:
            out, final = self.call(x, initial_state, training=training, **options)
        except BaseException:
            with self._lock:
                self._trainer = None
            raise
        self._state_given = initial_state is not None
        self._outputs = self.outputs_for(options)
        # the parameters the backward will read: it checks they were not changed.
        self._params_sum = self._params_checksum() if training else None
        return [out, *final] if self._outputs > 1 else out

    #: what one training pass leaves on the layer for its backward: a graph that
    #: calls a layer twice swaps them (`_take_pass`, `_give_pass`).
    _PASS = ("_cache", "_state_given", "_outputs", "_params_sum")

    def _take_pass(self):
        """What the last forward left for its backward (a graph keeps it per call)."""
        return tuple(getattr(self, a) for a in self._PASS)

    def _give_pass(self, record):
        """Put back what `_take_pass` took, for that call's backward."""
        for a, v in zip(self._PASS, record, strict=True):
            setattr(self, a, v)

    def _extra_names(self):
        """Names of the outputs after the first (the state's, for a recurrent
        layer)."""
        return self.state_names

    def _refuse_other_threads(self, what):
        """Raise while another thread's training forward waits for its backward: the
        layer holds that forward's cache, which ``what`` (a call) would replace,
        clear or spend. The caller holds the lock."""
        if self._trainer is not None and self._trainer != threading.get_ident():
            raise RuntimeError(
                f"{type(self).__name__}.{what}() while a training forward in another "
                "thread waits for its backward: a layer keeps one forward's cache for its "
                "backward, so two threads cannot train one layer at once (each would get "
                "the other's gradients). Give each thread its own layer")

    def _claim(self, training):
        """Make a training forward this thread's until its backward (after
        `_refuse_other_threads`)."""
        with self._lock:
            self._refuse_other_threads("forward")
            self._trainer = threading.get_ident() if training else None

    def _params_checksum(self):
        return tuple(checksum(np.ascontiguousarray(v)) for v in self._params.values())

    def backward(self, dout):
        """The gradient of every input of the last ``forward(..., training=True)``.

        Fills `grads` (overwriting what was there). Each training forward feeds one
        backward (a recurrent layer writes its gate gradients over the cached
        gates).

        Parameters
        ----------
        dout : array_like, or sequence of array_like
            The gradient of the output, its shape; with ``return_state``, one
            gradient per output, ``[dout, *dfinal_state]`` (``[dout, dh, dc]`` for
            an LSTM), each entry an array or None (zeros), or an array alone (the
            states' gradients zero).

        Returns
        -------
        ndarray or None, or list
            ``dx`` (``None`` for integer input); ``[dx, *dinitial_state]`` when
            that forward was given an initial state (``[dx, dh0, dc0]`` for an
            LSTM).

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` since the last inference forward or
            the last ``backward``, a gradient of the wrong shape, or the forward's
            ``x`` (which a recurrent layer keeps by reference) modified in place
            since.
        TypeError
            ``dout`` of the wrong structure or dtype.
        """
        with self._lock:
            self._refuse_other_threads("backward")
        dstate = None
        if self._outputs > 1 and isinstance(dout, (list, tuple)):
            if len(dout) != self._outputs:
                extras = ", ".join("d" + n for n in self._extra_names())
                raise TypeError(f"dout must hold one gradient per output, "
                                f"[dout, {extras}] ({self._outputs} entries), "
                                f"got {len(dout)}")
            dout, dstate = dout[0], tuple(dout[1:])
        if self._cache is not None and self._params_sum is not None \
                and self._params_checksum() != self._params_sum:
            with self._lock:
                self._cache, self._trainer = None, None
            raise ValueError(f"{type(self).__name__}'s parameters were modified in place "
                             "between forward(..., training=True) and backward(): the "
                             "gradients would be those of other weights. Change parameters "
                             "after backward (as an optimizer step does), then run forward "
                             "again")
        dx, dinit = self.call_backward(dout, dstate)
        with self._lock:
            self._trainer = None
        return [dx, *dinit] if self._state_given else dx

    def call(self, x, initial_state, *, training):
        """One forward pass, the state as a tuple: what every layer implements.

        Parameters
        ----------
        x : array_like
            The input, batch first.
        initial_state : None or tuple of array_like
            The state to start from, one entry per name in `state_names` (`forward`
            makes a tuple of whatever it is given; a layer checks the entries); None
            for zeros, and always for a layer without state.
        training : bool
            Keep what `call_backward` needs.

        Returns
        -------
        out : ndarray
            The output.
        final_state : tuple of ndarray
            One array per name in `state_names` (``()`` for a layer without state).
        """
        raise NotImplementedError

    def call_backward(self, dout, dstate):
        """The pass back through the last training `call`: what every layer
        implements.

        Parameters
        ----------
        dout : array_like
            The gradient of the output.
        dstate : None or tuple
            The gradients of the final state, one entry per state tensor (each an
            array, or None for zeros); None: all zeros.

        Returns
        -------
        dx : ndarray or None
            The gradient of ``x`` (None for integer input).
        dinitial_state : tuple of ndarray
            The gradients of the initial state (``()`` for a layer without state).
        """
        raise NotImplementedError

    def reset_states(self):
        """Forget the state a stateful layer carries between calls (its next
        `forward` starts from zeros); a no-op for a layer that carries none.

        Models call it on each of their layers (`seqnet.Model.reset_states`).
        """

    def _need_cache(self):
        if self._cache is None:
            raise ValueError(f"{type(self).__name__}.backward() needs a "
                             "forward(..., training=True) first")
        return self._cache

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
