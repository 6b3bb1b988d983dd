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
``_build(input_size)``. `forward`, `backward`, `from_config`, `build`,
`state_dict` and `load_state_dict` come from here.
"""

from __future__ import annotations

import numpy as np

from .. import _checks
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
    #: whether ``forward(..., logits=True)`` returns the pre-activation of a final
    #: activation (the model then fuses a softmax with a cross-entropy loss).
    logits_option = False
    #: whether the output at a step depends on that step and earlier ones only, so
    #: that the layer can run one step at a time (`seqnet.Sequential.step`).
    causal = True

    def __init__(self, *, dtype=DEFAULT_DTYPE, seed=None):
        self.dtype = _checks.float_dtype(dtype)
        self.seed = _checks.seed(seed)
        init_seq, run_seq = np.random.SeedSequence(self.seed).spawn(2)
        self._init_rng = np.random.default_rng(init_seq)
        self.rng = np.random.default_rng(run_seq)
        self.params = {}
        self.grads = {}
        self._cache = None
        self._state_given = False

    # ------------------------------------------------------------------ structure
    @property
    def built(self):
        """bool: whether the layer has its parameters (or needs none)."""
        return bool(self.params) or not self.has_weights

    @property
    def num_parameters(self):
        """int: total number of scalar parameters (0 before the layer is built)."""
        return int(sum(v.size for v in self.params.values()))

    @property
    def num_outputs(self):
        """int: arrays that `forward` returns: 1, or ``1 + len(state_names)`` when
        ``return_state``."""
        return 1 + len(self.state_names) if self.return_state else 1

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

    def _build(self, input_size):
        """Create the parameters for ``input_size`` features (layers with weights)."""
        raise NotImplementedError

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
        if self.built:
            shapes = {k: v.shape for k, v in self.params.items()}
        else:
            shapes = self._param_shapes(self._input_size_of(state_dict))
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
        if not self.built:
            self._build(self._input_size_of(state_dict))
        for name, value in values.items():
            self.params[name][...] = value
        self._cache = None

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
            carried) for a recurrent layer, ``logits=True`` for Dense.

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
            An input of the wrong shape or values (see the layer's `call`).
        """
        if initial_state is not None:
            if not self.state_names:
                raise TypeError(f"{type(self).__name__} has no state: initial_state must be "
                                "None")
            if not isinstance(initial_state, (list, tuple)):
                initial_state = (initial_state,)
            initial_state = tuple(initial_state)
        out, final = self.call(x, initial_state, training=bool(training), **options)
        self._state_given = initial_state is not None
        return [out, *final] if self.return_state else out

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
        dstate = None
        if self.return_state and isinstance(dout, (list, tuple)):
            if len(dout) != self.num_outputs:
                raise TypeError(f"dout must hold one gradient per output, "
                                f"[dout, {', '.join('d' + n for n in self.state_names)}] "
                                f"({self.num_outputs} entries), got {len(dout)}")
            dout, dstate = dout[0], tuple(dout[1:])
        dx, dinit = self.call_backward(dout, dstate)
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

    def _need_cache(self):
        if self._cache is None:
            raise ValueError(f"{type(self).__name__}.backward() needs a "
                             "forward(..., training=True) first")
        return self._cache

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
