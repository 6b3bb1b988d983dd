"""Layers that reshape sequences or mask them: RepeatVector, TimeDistributed,
GlobalAveragePooling1D, GlobalMaxPooling1D and Masking.

Keras's names and arguments, seqnet's conventions: batch first, masks as
``lengths`` (each row's valid steps first, padding after). Padding never reaches a
valid output or a gradient, even when it holds NaN or infinities: the layers that
take ``lengths`` select the valid steps (or overwrite the others, in a copy) before
any arithmetic. Each backward is derived by hand and checked by
:func:`seqnet.check_gradients` (``tests/gradcheck/test_gradcheck_layers.py``);
Keras 3 is the oracle of the outputs (``tests/parity/test_keras_layers.py``).
"""

from __future__ import annotations

import numpy as np

from .. import _checks
from .._config import DEFAULT_DTYPE
from .base import Layer
from .padding import lengths_from_padding


def _sequence_input(x, layer_name):
    """``x`` as a float32/float64 ``(B, T, F)`` array with B, T, F >= 1 (its dtype
    kept), else TypeError/ValueError naming the layer and the shape."""
    x = _checks.float_input(x, "x")
    if x.ndim != 3:
        raise ValueError(f"{layer_name}: x must be 3-D (batch, time, features), got shape "
                         f"{x.shape}")
    if 0 in x.shape:
        raise ValueError(f"{layer_name}: x must have at least one batch row, time step and "
                         f"feature, got shape {x.shape}")
    return x


def _valid_steps(lengths, B, T):
    """``(lengths, valid)``: the checked lengths (int64 ``(B,)``) and the ``(B, T)``
    boolean mask of valid steps, None when every step of every row is valid."""
    lengths = _checks.lengths_array(lengths, B, T)
    if lengths.min() == T:
        return lengths, None
    return lengths, np.arange(T) < lengths[:, None]


def _sequence_shape(input_shape, layer_name):
    """``input_shape`` as ``(T, F)`` (T may be None), else ValueError naming the
    layer and the shape."""
    shape = tuple(input_shape)
    if len(shape) != 2 or shape[1] is None or shape[1] < 1:
        raise ValueError(f"{layer_name} expects input shape (time, features) (a 3-D batch "
                         f"(batch, time, features)), got input shape {shape}")
    return shape


# --------------------------------------------------------------------- RepeatVector
class RepeatVector(Layer):
    r"""Repeat a vector ``n`` times: ``(B, F)`` to ``(B, n, F)`` (Keras's
    ``RepeatVector``; an encoder's summary fed to every step of a decoder).

    $$
    y_{b,t,f} = x_{b,f}, \qquad
    \frac{\partial L}{\partial x_{b,f}} = \sum_{t=0}^{n-1} \frac{\partial L}{\partial y_{b,t,f}}
    $$

    It has no weights and computes in its input's dtype (``dtype`` is kept for the
    layer contract).

    Parameters
    ----------
    n : int
        The number of copies (output steps), at least 1.
    dtype : {np.float32, np.float64}, default np.float32
        Kept for the layer contract (the layer has no parameters).
    seed : int, optional
        Kept for the layer contract.

    Raises
    ------
    TypeError
        ``n`` is not an integer, or a bad ``dtype`` or ``seed``.
    ValueError
        ``n`` is below 1.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> seqnet.RepeatVector(3).forward(np.array([[1.0, 2.0]])).tolist()
    [[[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]]
    """

    has_weights = False
    #: every output step depends on the whole input vector: no streaming.
    causal = False

    def __init__(self, n, *, dtype=DEFAULT_DTYPE, seed=None):
        super().__init__(dtype=dtype, seed=seed)
        self.n = _checks.positive_int(n, "n")

    def get_config(self):
        """The constructor's arguments, JSON-serialisable.

        Returns
        -------
        dict
            ``n``, ``dtype`` (its name) and ``seed``.
        """
        return {"n": self.n, **super().get_config()}

    def output_shape(self, input_shape):
        """Shape of the output for an input of ``input_shape`` (no batch axis).

        Parameters
        ----------
        input_shape : tuple of int
            ``(F,)``.

        Returns
        -------
        tuple of int
            ``(n, F)``.

        Raises
        ------
        ValueError
            ``input_shape`` is not ``(F,)`` with ``F >= 1`` (the message names the
            layer and both shapes).
        """
        shape = tuple(input_shape)
        if len(shape) != 1 or shape[0] is None or shape[0] < 1:
            raise ValueError(f"RepeatVector(n={self.n}) expects input shape (features,) (a "
                             f"2-D batch (batch, features)), got input shape {shape}")
        return (self.n, shape[0])

    def call(self, x, initial_state, *, training):
        """``n`` copies of each row of ``x`` along a new time axis.

        Parameters
        ----------
        x : array_like, shape (B, F)
            float32 or float64.
        initial_state : None
            The layer has no state.
        training : bool
            Keep what `backward` needs (the input's shape).

        Returns
        -------
        out : ndarray, shape (B, n, F)
            ``x``'s dtype.
        final_state : tuple
            ``()``.

        Raises
        ------
        TypeError
            ``x`` is not float32 or float64.
        ValueError
            ``x`` is not 2-D.
        """
        x = _checks.float_input(x, "x")
        if x.ndim != 2:
            raise ValueError(f"RepeatVector(n={self.n}): x must be 2-D (batch, features), "
                             f"got shape {x.shape}")
        out = np.repeat(x[:, None, :], self.n, axis=1)
        self._cache = (x.shape, x.dtype) if training else None
        return out, ()

    def call_backward(self, dout, dstate):
        """The sum of ``dout`` over the repeated axis.

        Parameters
        ----------
        dout : array_like, shape (B, n, F)
            Gradient with respect to the output; real floating point.
        dstate : None
            The layer has no state.

        Returns
        -------
        dx : ndarray, shape (B, F)
            The forward input's dtype.
        dinitial_state : tuple
            ``()``.

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` first, or ``dout`` of the wrong shape.
        TypeError
            ``dout`` is not real floating point.
        """
        (B, F), dtype = self._need_cache()
        dout = _checks.float_array(dout, "dout", dtype)
        _checks.shape_is(dout, (B, self.n, F), "dout", " (the shape of the output)")
        return dout.sum(axis=1), ()


# ------------------------------------------------------------------ TimeDistributed
class TimeDistributed(Layer):
    """Apply one layer to every time step: ``(B, T, ...)`` through ``layer`` as
    ``(B*T, ...)`` and back (Keras's ``TimeDistributed``).

    The time axis is folded into the batch, so the inner layer runs once, on all
    steps at once. The wrapper owns no weights of its own: its `params` and `grads`
    ARE the inner layer's (the same dicts, the same arrays, the same names), so an
    optimiser or a state dict sees ``weight`` and ``bias`` for
    ``TimeDistributed(Dense(...))``.

    With ``lengths``, the inner layer sees the valid steps only (gathered in a new
    array): a padded step's output is 0, its gradient is 0, and what it holds
    (NaN, infinities) never reaches the inner layer, its output or its gradients.

    Parameters
    ----------
    layer : Layer
        A layer with one input and one output and no state (``Dense``,
        ``Dropout``, ``Activation``, ``LayerNormalization``, ...), applied to each
        step ``x[:, t]``.

    Attributes
    ----------
    layer : Layer
        The inner layer.
    params, grads : dict of str to ndarray
        The inner layer's.

    Raises
    ------
    TypeError
        ``layer`` is not a seqnet layer.
    ValueError
        ``layer`` takes several inputs, has several outputs or has a state.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> td = seqnet.TimeDistributed(seqnet.Dense(2, input_size=3, seed=0))
    >>> td.forward(np.ones((4, 5, 3), np.float32)).shape
    (4, 5, 2)
    >>> sorted(td.params) == sorted(td.layer.params)
    True
    """

    takes_lengths = True
    per_step = True

    def __init__(self, layer):
        if not isinstance(layer, Layer):
            raise TypeError(f"layer must be a seqnet layer (seqnet.layers.Layer), got "
                            f"{type(layer).__name__}")
        name = type(layer).__name__
        if layer.multi_input:
            raise ValueError(f"TimeDistributed takes a layer with one input; {name} takes "
                             "several")
        if layer.state_names:
            raise ValueError(f"TimeDistributed takes a layer without state; {name} has the "
                             f"state {layer.state_names}")
        if layer.num_outputs != 1:
            raise ValueError(f"TimeDistributed takes a layer with one output; {name} has "
                             f"{layer.num_outputs} (return_state=True)")
        super().__init__(dtype=layer.dtype, seed=layer.seed)
        self.layer = layer

    # the inner layer's weights, rng and build state are the wrapper's: read through.
    def _inner(self):
        return self.__dict__.get("layer")

    @property
    def params(self):
        """dict of str to ndarray: the inner layer's parameters (the same dict)."""
        return self.layer.params

    @params.setter
    def params(self, value):
        if self._inner() is not None:
            self.layer.params = value

    @property
    def grads(self):
        """dict of str to ndarray: the inner layer's gradients (the same dict)."""
        inner = self._inner()
        return {} if inner is None else inner.grads

    @grads.setter
    def grads(self, value):
        if self._inner() is not None:   # Layer.__init__'s {} does not reach the inner
            self.layer.grads = value

    @property
    def rng(self):
        """numpy.random.Generator: the inner layer's (its dropout masks)."""
        inner = self._inner()
        return self.__dict__.get("_own_rng") if inner is None else inner.rng

    @rng.setter
    def rng(self, value):
        if self._inner() is None:
            self.__dict__["_own_rng"] = value
        else:
            self.layer.rng = value

    @property
    def has_weights(self):
        """bool: whether the inner layer has weights."""
        return self.layer.has_weights

    @property
    def built(self):
        """bool: whether the inner layer is built."""
        return self.layer.built

    def plan(self, input_shape):
        """Plan the inner layer's parameters (a graph calls this): its input is each
        step's features, the last entry of ``input_shape``.

        Parameters
        ----------
        input_shape : tuple of int
            One sample's shape, ``(T, ..., F)``.
        """
        self.layer.plan(tuple(input_shape)[-1:])

    @property
    def causal(self):
        """bool: whether the inner layer is causal (each step is its own batch row)."""
        return self.layer.causal

    @property
    def logits_option(self):
        """bool: whether the inner layer takes ``logits=True`` (Dense): then so does
        the wrapper, and a model fuses a final ``TimeDistributed(Dense(...,
        activation="softmax"))`` with its cross-entropy as it does a final Dense."""
        return self.layer.logits_option

    @property
    def activation(self):
        """str or None: the inner layer's final activation (None when it has none)."""
        return getattr(self.layer, "activation", None)

    def build(self, input_shape):
        """Build the inner layer for steps of ``input_shape[1:]``.

        Parameters
        ----------
        input_shape : tuple of int
            ``(T, ...)``, without the batch axis.
        """
        self.layer.build(tuple(input_shape)[1:])

    def expected_shapes(self, input_size=None):
        """The inner layer's `expected_shapes`.

        Parameters
        ----------
        input_size : int, optional
            The input size to plan for when the inner layer does not know its own.

        Returns
        -------
        dict of str to tuple, or None
        """
        return self.layer.expected_shapes(input_size)

    def load_state_dict(self, state_dict):
        """Load the inner layer's parameters (its names, its shapes).

        Parameters
        ----------
        state_dict : mapping of str to array_like
            See [`Layer.load_state_dict`][seqnet.Layer.load_state_dict].
        """
        self.layer.load_state_dict(state_dict)
        self._cache = None

    def _adopt(self, values, input_size=None):
        self.layer._adopt(values, input_size)

    def _params_checksum(self):
        return self.layer._params_checksum()

    def get_config(self):
        """The inner layer, JSON-serialisable.

        Returns
        -------
        dict
            ``{"layer": seqnet.layers.serialize(layer)}``.
        """
        from . import serialize  # the registry imports this module
        return {"layer": serialize(self.layer)}

    @classmethod
    def from_config(cls, config):
        """A new wrapper around the layer that ``config["layer"]`` describes.

        Parameters
        ----------
        config : dict
            ``{"layer": <a seqnet.layers.serialize spec>}``.

        Returns
        -------
        TimeDistributed

        Raises
        ------
        TypeError
            ``config`` is not a dict, or has other entries.
        ValueError
            ``config`` has no ``layer``, or an unknown layer class.
        """
        from . import deserialize  # the registry imports this module
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        if "layer" not in config:
            raise ValueError(f"a TimeDistributed config needs 'layer', got {config!r}")
        extra = sorted(set(config) - {"layer"})
        if extra:
            raise TypeError(f"a TimeDistributed config takes only 'layer', got {extra}")
        return cls(deserialize(config["layer"]))

    def output_shape(self, input_shape):
        """Shape of the output for an input of ``input_shape`` (no batch axis).

        Parameters
        ----------
        input_shape : tuple of int
            ``(T, ...)``: time (None when unknown), then one step's shape.

        Returns
        -------
        tuple of int
            ``(T, *layer.output_shape(input_shape[1:]))``.

        Raises
        ------
        ValueError
            ``input_shape`` has no axis after time, or its steps do not fit the
            inner layer (the message names both layers and shapes).
        """
        shape = tuple(input_shape)
        name = f"TimeDistributed({type(self.layer).__name__})"
        if len(shape) < 2:
            raise ValueError(f"{name} expects input shape (time, ...) (a batch (batch, "
                             f"time, ...) of rank >= 3), got input shape {shape}")
        try:
            step = self.layer.output_shape(shape[1:])
        except ValueError as exc:
            raise ValueError(f"{name}: input shape {shape} has steps of shape {shape[1:]}, "
                             f"which its layer refuses: {exc}") from exc
        return (shape[0], *tuple(step))

    def call(self, x, initial_state, *, training, lengths=None, logits=False):
        """The inner layer on every step (on the valid steps only, with ``lengths``).

        Parameters
        ----------
        x : array_like, shape (B, T, ...)
            At least 3-D; what the inner layer takes, one step ``x[:, t]`` at a
            time.
        initial_state : None
            The layer has no state.
        training : bool
            Keep what `backward` needs (and the inner layer's).
        lengths : array_like of int, shape (B,), optional
            Valid steps per row, ``1 <= lengths[b] <= T``: the inner layer sees only
            those; the output is 0 past them.
        logits : bool, default False
            Passed on to an inner layer with `logits_option` (Dense): its
            pre-activation, for a loss that fuses the softmax.

        Returns
        -------
        out : ndarray, shape (B, T, ...)
            The inner layer's output at every step.
        final_state : tuple
            ``()``.

        Raises
        ------
        ValueError
            ``x`` has fewer than 3 dimensions, ``lengths`` of the wrong shape or
            values, or whatever the inner layer refuses.
        TypeError
            ``lengths`` is not an integer array, ``logits=True`` for an inner layer
            without `logits_option`, or an input the inner layer refuses.
        """
        logits = _checks.flag(logits, "logits")
        if logits and not self.layer.logits_option:
            raise TypeError(f"TimeDistributed({type(self.layer).__name__}) takes no "
                            "logits=True: its layer has no logits option")
        options = {"logits": True} if logits else {}
        arr = np.asarray(_checks.to_numpy(x))
        if arr.ndim < 3:
            raise ValueError(f"TimeDistributed({type(self.layer).__name__}): x must be "
                             f"(batch, time, ...), at least 3-D, got shape {arr.shape}")
        B, T = arr.shape[:2]
        if B == 0 or T == 0:
            raise ValueError(f"TimeDistributed: x must have at least one batch row and one "
                             f"time step, got shape {arr.shape}")
        _, valid = _valid_steps(lengths, B, T)
        self._cache = None
        if valid is None:
            y = self.layer.forward(arr.reshape(B * T, *arr.shape[2:]), training=training,
                                   **options)
            out = y.reshape(B, T, *y.shape[1:])
        else:
            # the valid steps only, in a new array: padding reaches nothing.
            y = self.layer.forward(arr[valid], training=training, **options)
            out = np.zeros((B, T, *y.shape[1:]), y.dtype)
            out[valid] = y
        self._cache = (valid, arr.shape, out.shape) if training else None
        return out, ()

    def call_backward(self, dout, dstate):
        """The inner layer's backward on the (valid) steps; fills its ``grads``.

        Parameters
        ----------
        dout : array_like, shape (B, T, ...)
            Gradient with respect to the output; real floating point. Its padded
            steps are never read.
        dstate : None
            The layer has no state.

        Returns
        -------
        dx : ndarray, shape (B, T, ...), or None
            The inner layer's ``dx`` at each step, 0 at padded steps (None for
            integer input).
        dinitial_state : tuple
            ``()``.

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` first, or ``dout`` of the wrong shape.
        TypeError
            ``dout`` is not real floating point.
        """
        valid, in_shape, out_shape = self._need_cache()
        dout = _checks.float_array(dout, "dout", None)
        _checks.shape_is(dout, out_shape, "dout", " (the shape of the output)")
        B, T = in_shape[:2]
        if valid is None:
            d = self.layer.backward(dout.reshape(B * T, *out_shape[2:]))
            return (None if d is None else d.reshape(in_shape)), ()
        d = self.layer.backward(dout[valid])
        if d is None:
            return None, ()
        dx = np.zeros(in_shape, d.dtype)
        dx[valid] = d
        return dx, ()


# ------------------------------------------------------------------------- pooling
class _GlobalPooling1D(Layer):
    """Shared parts of the global poolings over time: ``(B, T, F)`` to ``(B, F)``,
    each row over its valid steps."""

    has_weights = False
    takes_lengths = True
    #: the output of a step depends on later steps: no streaming.
    causal = False

    def output_shape(self, input_shape):
        """Shape of the output for an input of ``input_shape`` (no batch axis).

        Parameters
        ----------
        input_shape : tuple of int
            ``(T, F)``; T may be None (unknown).

        Returns
        -------
        tuple of int
            ``(F,)``.

        Raises
        ------
        ValueError
            ``input_shape`` is not ``(T, F)`` with ``F >= 1`` (the message names the
            layer and both shapes).
        """
        return (_sequence_shape(input_shape, type(self).__name__)[1],)

    def output_lengths(self, x, lengths):
        """None: the output has no time axis left to mask.

        Parameters
        ----------
        x : ndarray
            The input.
        lengths : ndarray of int, shape (B,), or None
            The input's lengths.

        Returns
        -------
        None
        """
        return None

    def _checked_dout(self, dout, dtype, shape):
        dout = _checks.float_array(dout, "dout", dtype)
        _checks.shape_is(dout, shape, "dout", " (the shape of the output)")
        return dout


class GlobalAveragePooling1D(_GlobalPooling1D):
    r"""The mean over time of each row's valid steps: ``(B, T, F)`` to ``(B, F)``
    (Keras's ``GlobalAveragePooling1D``, its mask given as ``lengths``).

    $$
    y_{b,f} = \frac{1}{n_b} \sum_{t < n_b} x_{b,t,f}, \qquad
    \frac{\partial L}{\partial x_{b,t,f}} = \frac{[t < n_b]}{n_b}
    \frac{\partial L}{\partial y_{b,f}}
    $$

    with $n_b$ = ``lengths[b]`` (``T`` without lengths). Padded steps are
    overwritten (in a copy) before the sum, so NaN or infinities there change
    nothing. It has no weights and computes in its input's dtype.

    Parameters
    ----------
    dtype : {np.float32, np.float64}, default np.float32
        Kept for the layer contract (the layer has no parameters).
    seed : int, optional
        Kept for the layer contract.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> x = np.array([[[1.0], [3.0], [np.nan]]])
    >>> seqnet.GlobalAveragePooling1D().forward(x, lengths=np.array([2])).tolist()
    [[2.0]]
    """

    def call(self, x, initial_state, *, training, lengths=None):
        """The mean of each row's valid steps.

        Parameters
        ----------
        x : array_like, shape (B, T, F)
            float32 or float64.
        initial_state : None
            The layer has no state.
        training : bool
            Keep what `backward` needs.
        lengths : array_like of int, shape (B,), optional
            Valid steps per row, ``1 <= lengths[b] <= T``; all ``T`` when omitted.

        Returns
        -------
        out : ndarray, shape (B, F)
            ``x``'s dtype.
        final_state : tuple
            ``()``.

        Raises
        ------
        TypeError
            ``x`` is not float32 or float64, or ``lengths`` not integers.
        ValueError
            ``x`` is not 3-D (or has an empty axis), or ``lengths`` of the wrong
            shape or values.
        """
        x = _sequence_input(x, "GlobalAveragePooling1D")
        B, T, F = x.shape
        lengths, valid = _valid_steps(lengths, B, T)
        kept = x if valid is None else np.where(valid[:, :, None], x, x.dtype.type(0))
        count = lengths.astype(x.dtype)[:, None]
        out = kept.sum(axis=1) / count
        self._cache = (valid, count, x.shape) if training else None
        return out, ()

    def call_backward(self, dout, dstate):
        """``dout / lengths`` spread over each row's valid steps, 0 on the others.

        Parameters
        ----------
        dout : array_like, shape (B, F)
            Gradient with respect to the output; real floating point.
        dstate : None
            The layer has no state.

        Returns
        -------
        dx : ndarray, shape (B, T, F)
            The forward input's dtype.
        dinitial_state : tuple
            ``()``.

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` first, or ``dout`` of the wrong shape.
        TypeError
            ``dout`` is not real floating point.
        """
        valid, count, (B, T, F) = self._need_cache()
        dout = self._checked_dout(dout, count.dtype, (B, F))
        share = (dout / count)[:, None, :]
        if valid is None:
            return np.repeat(share, T, axis=1), ()
        return np.where(valid[:, :, None], share, count.dtype.type(0)), ()


class GlobalMaxPooling1D(_GlobalPooling1D):
    r"""The maximum over time of each row's valid steps: ``(B, T, F)`` to ``(B, F)``
    (Keras's ``GlobalMaxPooling1D``, with ``lengths``).

    $$
    y_{b,f} = \max_{t < n_b} x_{b,t,f}, \qquad
    \frac{\partial L}{\partial x_{b,t,f}} = [t = t^*_{b,f}]
    \frac{\partial L}{\partial y_{b,f}}, \quad
    t^*_{b,f} = \operatorname*{arg\,max}_{t < n_b} x_{b,t,f}
    $$

    with $n_b$ = ``lengths[b]`` (``T`` without lengths); among equal maxima the
    first step takes the gradient (PyTorch's ``max(dim)``). Padded steps count as
    $-\infty$ (in a copy), so NaN or infinities there change nothing.

    Unlike Keras: Keras 3's ``GlobalMaxPooling1D`` ignores its input's mask (its
    ``call`` takes no mask, 3.15 included: the maximum runs over every step,
    padding too); seqnet's honours ``lengths`` always, so a padded step never wins
    the maximum. Without lengths the two agree.

    It has no weights and computes in its input's dtype.

    Parameters
    ----------
    dtype : {np.float32, np.float64}, default np.float32
        Kept for the layer contract (the layer has no parameters).
    seed : int, optional
        Kept for the layer contract.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> x = np.array([[[1.0], [3.0], [np.inf]]])
    >>> seqnet.GlobalMaxPooling1D().forward(x, lengths=np.array([2])).tolist()
    [[3.0]]
    """

    def call(self, x, initial_state, *, training, lengths=None):
        """The maximum of each row's valid steps.

        Parameters
        ----------
        x : array_like, shape (B, T, F)
            float32 or float64.
        initial_state : None
            The layer has no state.
        training : bool
            Keep what `backward` needs.
        lengths : array_like of int, shape (B,), optional
            Valid steps per row, ``1 <= lengths[b] <= T``; all ``T`` when omitted.

        Returns
        -------
        out : ndarray, shape (B, F)
            ``x``'s dtype.
        final_state : tuple
            ``()``.

        Raises
        ------
        TypeError
            ``x`` is not float32 or float64, or ``lengths`` not integers.
        ValueError
            ``x`` is not 3-D (or has an empty axis), or ``lengths`` of the wrong
            shape or values.
        """
        x = _sequence_input(x, "GlobalMaxPooling1D")
        B, T, F = x.shape
        _, valid = _valid_steps(lengths, B, T)
        kept = x if valid is None else np.where(valid[:, :, None], x, x.dtype.type(-np.inf))
        # step 0 is always valid, so an argmax among -inf entries is a valid step.
        where = np.argmax(kept, axis=1)[:, None, :]                   # (B, 1, F)
        out = np.take_along_axis(kept, where, axis=1)[:, 0, :]
        self._cache = (where, x.shape, x.dtype) if training else None
        return out, ()

    def call_backward(self, dout, dstate):
        """``dout`` routed to each row's and feature's maximising step.

        Parameters
        ----------
        dout : array_like, shape (B, F)
            Gradient with respect to the output; real floating point.
        dstate : None
            The layer has no state.

        Returns
        -------
        dx : ndarray, shape (B, T, F)
            The forward input's dtype; 0 except at the maximising steps.
        dinitial_state : tuple
            ``()``.

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` first, or ``dout`` of the wrong shape.
        TypeError
            ``dout`` is not real floating point.
        """
        where, (B, T, F), dtype = self._need_cache()
        dout = self._checked_dout(dout, dtype, (B, F))
        dx = np.zeros((B, T, F), dtype)
        np.put_along_axis(dx, where, dout[:, None, :], axis=1)
        return dx, ()


# ------------------------------------------------------------------------- Masking
class Masking(Layer):
    r"""Mark the steps whose every feature equals ``mask_value`` as padding (Keras's
    ``Masking``): the output is ``x`` with those steps set to 0, and
    `output_lengths` gives each row's length, its steps before the trailing run
    of such steps.

    $$
    p_{b,t} = \bigwedge_f \left[x_{b,t,f} = v\right], \qquad
    y_{b,t,f} = \begin{cases} 0 & p_{b,t} \\ x_{b,t,f} & \text{otherwise}
    \end{cases}
    $$

    The gradient is ``dout`` at valid steps and 0 at padded ones (a padded step
    is piecewise constant in ``x``, as Keras's ``where`` makes it). seqnet's masks
    are lengths: padding must trail each row, so `output_lengths` refuses left
    padding, a hole (a padded step before a valid one) and a row that is padding
    only, naming the row and the step. It has no weights and computes in its
    input's dtype.

    Parameters
    ----------
    mask_value : float, default 0.0
        The value of every feature of a padded step (finite; compared in the
        input's dtype).
    dtype : {np.float32, np.float64}, default np.float32
        Kept for the layer contract (the layer has no parameters).
    seed : int, optional
        Kept for the layer contract.

    Raises
    ------
    TypeError
        ``mask_value`` is not a real number, or a bad ``dtype`` or ``seed``.
    ValueError
        ``mask_value`` is not finite.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> x = np.array([[[1.0, 2.0], [-1.0, -1.0]], [[3.0, -1.0], [4.0, 5.0]]])
    >>> seqnet.Masking(-1.0).output_lengths(x, None).tolist()
    [1, 2]
    """

    has_weights = False
    per_step = True

    def __init__(self, mask_value=0.0, *, dtype=DEFAULT_DTYPE, seed=None):
        super().__init__(dtype=dtype, seed=seed)
        self.mask_value = _checks.real(mask_value, "mask_value")

    def get_config(self):
        """The constructor's arguments, JSON-serialisable.

        Returns
        -------
        dict
            ``mask_value``, ``dtype`` (its name) and ``seed``.
        """
        return {"mask_value": self.mask_value, **super().get_config()}

    def output_shape(self, input_shape):
        """Shape of the output for an input of ``input_shape`` (no batch axis).

        Parameters
        ----------
        input_shape : tuple of int
            ``(T, F)``; T may be None (unknown).

        Returns
        -------
        tuple of int
            ``input_shape``.

        Raises
        ------
        ValueError
            ``input_shape`` is not ``(T, F)`` with ``F >= 1`` (the message names the
            layer and both shapes).
        """
        return _sequence_shape(input_shape, "Masking")

    def _padding(self, x):
        """``(B, T)``: whether each step's every feature equals ``mask_value``."""
        return np.all(x == x.dtype.type(self.mask_value), axis=-1)

    def output_lengths(self, x, lengths):
        """Each row's valid steps: those before its trailing run of steps whose
        every feature equals ``mask_value`` (Keras's ``compute_mask``, as lengths).

        Parameters
        ----------
        x : array_like, shape (B, T, F)
            The input.
        lengths : ndarray of int, shape (B,), or None
            The input's lengths, not used: as Keras's ``Masking``, the layer makes
            its mask from the data alone.

        Returns
        -------
        ndarray of int64, shape (B,)

        Raises
        ------
        ValueError
            ``x`` is not 3-D, or a row has a padded step before a valid one (left
            padding or a hole) or is padding only (the message names the row and
            the step).
        TypeError
            ``x`` is not float32 or float64.
        """
        x = _sequence_input(x, "Masking")
        return lengths_from_padding(self._padding(x), f"Masking(mask_value={self.mask_value})")

    def call(self, x, initial_state, *, training):
        """``x`` with its padded steps (every feature ``mask_value``) set to 0.

        Parameters
        ----------
        x : array_like, shape (B, T, F)
            float32 or float64.
        initial_state : None
            The layer has no state.
        training : bool
            Keep what `backward` needs.

        Returns
        -------
        out : ndarray, shape (B, T, F)
            ``x``'s dtype.
        final_state : tuple
            ``()``.

        Raises
        ------
        TypeError
            ``x`` is not float32 or float64.
        ValueError
            ``x`` is not 3-D (or has an empty axis).
        """
        x = _sequence_input(x, "Masking")
        pad = self._padding(x)[:, :, None]
        out = np.where(pad, x.dtype.type(0), x)
        self._cache = (pad, x.shape, x.dtype) if training else None
        return out, ()

    def call_backward(self, dout, dstate):
        """``dout`` at valid steps, 0 at padded ones.

        Parameters
        ----------
        dout : array_like, shape (B, T, F)
            Gradient with respect to the output; real floating point.
        dstate : None
            The layer has no state.

        Returns
        -------
        dx : ndarray, shape (B, T, F)
            The forward input's dtype.
        dinitial_state : tuple
            ``()``.

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` first, or ``dout`` of the wrong shape.
        TypeError
            ``dout`` is not real floating point.
        """
        pad, shape, dtype = self._need_cache()
        dout = _checks.float_array(dout, "dout", dtype)
        _checks.shape_is(dout, shape, "dout", " (the shape of the output)")
        return np.where(pad, dtype.type(0), dout), ()
