"""Layers without recurrence: Dense, Dropout, Embedding, Activation.

They follow the layer contract of :mod:`seqnet.layers.base`, as the recurrent layers
do: ``forward(x, training=False) -> out``, ``backward(dout) -> dx`` (``None`` for
integer input), dicts ``params`` and ``grads`` with the same keys,
``output_shape(input_shape)`` without the batch axis, and ``get_config()`` with
the constructor's arguments.
"""

from __future__ import annotations

import numpy as np

from .. import _checks, activations
from .._config import DEFAULT_DTYPE
from .base import Layer
from .padding import lengths_from_padding


class Dense(Layer):
    r"""Fully connected layer over the last axis: on ``(B, F)``, per time step on
    ``(B, T, F)``, and on any rank ``(B, ..., F)``.

    $$
    y = \mathrm{act}(x W^\top + b)
    $$

    All leading axes are one batch of rows: the forward is one matrix product
    ``x.reshape(-1, F) @ W.T``, and so are the backward's ``dW = dz^T x`` and
    ``dx = dz W`` (Keras's ``Dense`` on a sequence, one product for all steps).

    Parameters
    ----------
    units : int
        Output features.
    activation : {None, "linear", "tanh", "sigmoid", "relu", "softmax"}, default None
        Applied to the last axis (``None`` is ``"linear"``). A final ``softmax``
        trained with a cross-entropy loss is fused with it by
        [`seqnet.Sequential`][seqnet.Sequential] (trained on logits).
    use_bias : bool, default True
        Add the bias ``b``.
    input_size : int, optional
        Input features ``F``; inferred from the first forward when ``None``.
    dtype : {np.float32, np.float64}, default np.float32
        Dtype of the parameters, outputs and gradients.
    seed : int, optional
        Seeds the initialisation: weights glorot-uniform, biases zero.

    Attributes
    ----------
    params, grads : dict of str to ndarray
        ``weight`` ``(units, input_size)`` and ``bias`` ``(units,)``, PyTorch's
        ``nn.Linear`` layout.

    Raises
    ------
    TypeError
        ``units`` or ``input_size`` not an integer, ``use_bias`` not a bool, or a
        bad ``dtype`` or ``seed``.
    ValueError
        ``units`` or ``input_size`` below 1, or an unknown ``activation``.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> dense = seqnet.Dense(3, activation="softmax", seed=0)
    >>> dense.forward(np.ones((2, 4), np.float32)).sum(axis=1).round(6).tolist()
    [1.0, 1.0]
    """

    #: ``forward(..., logits=True)`` returns the pre-activation (a model fuses a final
    #: softmax with a cross-entropy loss through it).
    logits_option = True
    input_weight = "weight"
    per_step = True

    def __init__(self, units, *, activation=None, use_bias=True, input_size=None,
                 dtype=DEFAULT_DTYPE, seed=None):
        super().__init__(dtype=dtype, seed=seed)
        self.units = _checks.positive_int(units, "units")
        self.activation = "linear" if activation is None else activation
        self._act, self._act_back = activations.get(activation)
        self.use_bias = _checks.flag(use_bias, "use_bias")
        self.input_size = (None if input_size is None
                           else _checks.positive_int(input_size, "input_size"))
        self._planned_input = self.input_size

    def _initial_params(self, input_size):
        """Glorot-uniform weights, zero biases."""
        limit = np.sqrt(6.0 / (input_size + self.units))
        params = {"weight": self._init_rng.uniform(-limit, limit, (self.units, input_size))
                  .astype(self.dtype)}
        if self.use_bias:
            params["bias"] = np.zeros(self.units, self.dtype)
        return params

    def _set_input_size(self, input_size):
        self.input_size = input_size

    def get_config(self):
        """The constructor's arguments, JSON-serialisable.

        Returns
        -------
        dict
            ``units``, ``activation``, ``use_bias``, ``input_size``, ``dtype``
            (its name) and ``seed``.
        """
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "input_size": self.input_size, **super().get_config()}

    def output_shape(self, input_shape):
        """Shape of the output for an input of ``input_shape`` (no batch axis).

        Parameters
        ----------
        input_shape : tuple of int or None
            ``(F,)``, ``(T, F)`` or ``(..., F)``; leading entries may be None
            (unknown), the features may not.

        Returns
        -------
        tuple of int
            ``input_shape`` with its last entry replaced by ``units``.

        Raises
        ------
        ValueError
            ``input_shape`` is empty (no feature axis), its features are unknown
            or below 1, or they differ from ``input_size`` when that is known (the
            message names the layer and both shapes).
        """
        shape = tuple(input_shape)
        if not shape:
            raise ValueError(f"Dense(units={self.units}) needs an input with a feature "
                             f"axis, (..., features), got input shape {shape}")
        features = shape[-1]
        if features is None or features < 1:
            raise ValueError(f"Dense(units={self.units}): the input's features must be known "
                             f"and >= 1, got input shape {shape}")
        if self.input_size is not None and features != self.input_size:
            raise ValueError(f"Dense(units={self.units}) expects input shape (..., "
                             f"{self.input_size}) (input_size={self.input_size}), got input "
                             f"shape {shape}")
        return (*shape[:-1], self.units)

    def _param_shapes(self, input_size):
        shapes = {"weight": (self.units, input_size)}
        if self.use_bias:
            shapes["bias"] = (self.units,)
        return shapes

    def call(self, x, initial_state, *, training, logits=False):
        """``act(x W^T + b)``; with ``logits=True`` the pre-activation ``x W^T + b``.

        Parameters
        ----------
        x : array_like, shape (B, F), (B, T, F) or (B, ..., F)
            Real floating-point input, cast to the layer's dtype; at least 2-D.
            The first call builds the weights when ``input_size`` was not given.
        initial_state : None
            The layer has no state.
        training : bool
            Keep what `backward` needs.
        logits : bool, default False
            Return the pre-activation (for a loss that fuses the softmax).

        Returns
        -------
        out : ndarray, shape (B, ..., units)
            ``x``'s shape with ``units`` features, of the layer's dtype.
        final_state : tuple
            ``()``.

        Raises
        ------
        TypeError
            ``x`` is not real floating point.
        ValueError
            ``x`` is not at least 2-D, or has the wrong number of features (the
            message names the layer and both shapes).
        """
        x = _checks.float_array(x, "x", self.dtype)
        if x.ndim < 2:
            raise ValueError(f"Dense: x must be (batch, features), (batch, time, features) "
                             f"or (batch, ..., features), at least 2-D, got shape {x.shape}")
        if x.shape[-1] == 0:
            raise ValueError(f"Dense: x must have at least one feature, got shape {x.shape}")
        if self.input_size is None:
            self._build(x.shape[-1])   # once, under the layer's lock
        if x.shape[-1] != self.input_size:
            raise ValueError(f"Dense: x has shape {x.shape}, {x.shape[-1]} features, but "
                             f"Dense's input_size is {self.input_size}: expected shape "
                             f"(batch, ..., {self.input_size})")
        # every leading axis is one batch of rows: one product for all of them.
        z = (x.reshape(-1, self.input_size) @ self.params["weight"].T).reshape(
            *x.shape[:-1], self.units)
        if self.use_bias:
            z += self.params["bias"]
        a = z if logits else self._act(z)
        self._cache = (x, z, a, logits) if training else None
        return a, ()

    def call_backward(self, dout, dstate):
        """Gradient with respect to ``x``; fills ``grads``.

        Parameters
        ----------
        dout : array_like, shape (B, ..., units)
            Gradient of the loss with respect to the output, its shape (the
            logits' gradient after a ``forward(..., logits=True)``).
        dstate : None
            The layer has no state.

        Returns
        -------
        dx : ndarray, shape (B, ..., F)
            Of the layer's dtype.
        dinitial_state : tuple
            ``()``.

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` first, or ``dout`` of the wrong
            shape.
        TypeError
            ``dout`` is not real floating point.
        """
        x, z, a, logits = self._need_cache()
        dout = _checks.float_array(dout, "dout", self.dtype)
        _checks.shape_is(dout, a.shape, "dout", " (the shape of the output)")
        dz = dout if logits else self._act_back(z, a, dout)
        dz2 = dz.reshape(-1, self.units)
        self.grads["weight"] = dz2.T @ x.reshape(-1, x.shape[-1])
        if self.use_bias:
            self.grads["bias"] = dz2.sum(axis=0)
        return (dz2 @ self.params["weight"]).reshape(x.shape), ()


class Dropout(Layer):
    """Inverted dropout: in training, zero each element with probability ``rate`` and
    scale the rest by ``1 / (1 - rate)``; the identity in inference.

    The mask is drawn from `rng` (seeded by ``seed``) and reused by backward.
    It computes in its input's dtype (``dtype`` is kept for the layer contract).

    Parameters
    ----------
    rate : float in [0, 1)
        Probability of zeroing an element.
    dtype : {np.float32, np.float64}, default np.float32
        Kept for the layer contract (the layer has no parameters).
    seed : int, optional
        Seeds the masks.

    Raises
    ------
    TypeError
        ``rate`` is not a real number, or a bad ``dtype`` or ``seed``.
    ValueError
        ``rate`` is outside ``[0, 1)``.
    """

    def __init__(self, rate, *, dtype=DEFAULT_DTYPE, seed=None):
        super().__init__(dtype=dtype, seed=seed)
        self.rate = _checks.real(rate, "rate", 0.0, 1.0, high_open=True)

    def get_config(self):
        """The constructor's arguments, JSON-serialisable.

        Returns
        -------
        dict
            ``rate``, ``dtype`` (its name) and ``seed``.
        """
        return {"rate": self.rate, **super().get_config()}

    has_weights = False
    per_step = True

    def call(self, x, initial_state, *, training):
        """``x * mask / (1 - rate)`` in training, ``x`` otherwise; in ``x``'s dtype.

        Parameters
        ----------
        x : array_like, any shape
            Real floating point.
        initial_state : None
            The layer has no state.
        training : bool
            Draw a mask and apply it; otherwise the identity.

        Returns
        -------
        out : ndarray
            ``x``'s shape and dtype.
        final_state : tuple
            ``()``.

        Raises
        ------
        TypeError
            ``x`` is not real floating point.
        """
        x = _checks.float_array(x, "x", None)
        if not training or self.rate == 0.0:
            self._cache = None if not training else np.ones((), x.dtype)
            return x, ()
        keep = 1.0 - self.rate
        mask = (self.rng.random(x.shape) < keep).astype(x.dtype) / x.dtype.type(keep)
        self._cache = mask
        return x * mask, ()

    def call_backward(self, dout, dstate):
        """``dout`` times the forward's mask.

        Parameters
        ----------
        dout : array_like
            Gradient with respect to the output, its shape; real floating point.
        dstate : None
            The layer has no state.

        Returns
        -------
        dx : ndarray
            ``dout * mask``, in the dtype of the forward's input.
        dinitial_state : tuple
            ``()``.

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` first.
        TypeError
            ``dout`` is not real floating point.
        """
        mask = self._need_cache()
        dout = _checks.float_array(dout, "dout", mask.dtype)
        return dout * mask, ()


class Activation(Layer):
    """An activation as a layer of its own: ``Activation("tanh")``.

    It computes in its input's dtype (``dtype`` is kept for the layer contract).

    Parameters
    ----------
    activation : {"linear", "tanh", "sigmoid", "relu", "softmax"} or None
        Applied element-wise (``softmax``: over the last axis); ``None`` is
        ``"linear"``.
    dtype : {np.float32, np.float64}, default np.float32
        Kept for the layer contract (the layer has no parameters).
    seed : int, optional
        Kept for the layer contract.

    Raises
    ------
    ValueError
        An unknown ``activation``.
    """

    def __init__(self, activation, *, dtype=DEFAULT_DTYPE, seed=None):
        super().__init__(dtype=dtype, seed=seed)
        self._act, self._act_back = activations.get(activation)
        self.activation = "linear" if activation is None else activation

    def get_config(self):
        """The constructor's arguments, JSON-serialisable.

        Returns
        -------
        dict
            ``activation``, ``dtype`` (its name) and ``seed``.
        """
        return {"activation": self.activation, **super().get_config()}

    has_weights = False
    per_step = True

    def call(self, x, initial_state, *, training):
        """The activation of ``x``, in ``x``'s dtype.

        Parameters
        ----------
        x : array_like, any shape
            Real floating point (``softmax``: at least 1-D).
        initial_state : None
            The layer has no state.
        training : bool
            Keep what `backward` needs.

        Returns
        -------
        out : ndarray
            ``x``'s shape and dtype.
        final_state : tuple
            ``()``.

        Raises
        ------
        TypeError
            ``x`` is not real floating point.
        """
        x = _checks.float_array(x, "x", None)
        a = self._act(x)
        self._cache = (x, a) if training else None
        return a, ()

    def call_backward(self, dout, dstate):
        """Gradient with respect to ``x``.

        Parameters
        ----------
        dout : array_like
            Gradient with respect to the output, its shape; real floating point.
        dstate : None
            The layer has no state.

        Returns
        -------
        dx : ndarray
            ``x``'s shape and dtype.
        dinitial_state : tuple
            ``()``.

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` first.
        TypeError
            ``dout`` is not real floating point.
        """
        x, a = self._need_cache()
        return self._act_back(x, a, _checks.float_array(dout, "dout", x.dtype)), ()


class Embedding(Layer):
    """A lookup table: integer indices ``(B, T)`` to vectors ``(B, T, output_dim)``.

    Parameters
    ----------
    input_dim : int
        Vocabulary size; indices must be in ``[0, input_dim)``.
    output_dim : int
        Vector size.
    mask_zero : bool, default False
        Index 0 is padding, as in Keras: each row's valid steps end before its
        trailing run of 0s, which `output_lengths` gives (the layer's mask, as
        lengths). A 0 before a valid step (left padding, a hole) or a row of 0s
        only is refused there. The output and the gradient are the plain lookup's,
        as Keras's (``weight[0]`` at a padded step): the layers that take the
        lengths ignore those steps and send them no gradient. With it, reserve
        index 0: ``input_dim`` is the vocabulary size plus one.
    dtype : {np.float32, np.float64}, default np.float32
        Dtype of the weights, outputs and gradients.
    seed : int, optional
        Seeds the weights, which start uniform in [-0.05, 0.05], as Keras's.

    Attributes
    ----------
    params, grads : dict of str to ndarray
        ``weight`` ``(input_dim, output_dim)``, PyTorch's ``nn.Embedding`` layout.

    Raises
    ------
    TypeError
        ``input_dim`` or ``output_dim`` not an integer, ``mask_zero`` not a bool,
        or a bad ``dtype`` or ``seed``.
    ValueError
        ``input_dim`` or ``output_dim`` below 1.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> emb = seqnet.Embedding(5, 2, mask_zero=True, seed=0)
    >>> tokens = np.array([[3, 1, 4, 0], [2, 0, 0, 0]])
    >>> emb.output_lengths(tokens, None).tolist()
    [3, 1]
    """

    per_step = True
    input_kinds = ("i",)

    def __init__(self, input_dim, output_dim, *, mask_zero=False, dtype=DEFAULT_DTYPE,
                 seed=None):
        super().__init__(dtype=dtype, seed=seed)
        self.input_dim = _checks.positive_int(input_dim, "input_dim")
        self.output_dim = _checks.positive_int(output_dim, "output_dim")
        self.mask_zero = _checks.flag(mask_zero, "mask_zero")
        self._planned_input = self.input_dim   # the table's rows: known at once

    def _param_shapes(self, input_size):
        return {"weight": (self.input_dim, self.output_dim)}

    def _initial_params(self, input_size):
        """Uniform in [-0.05, 0.05], as Keras's."""
        return {"weight": self._init_rng.uniform(-0.05, 0.05, (self.input_dim,
                                                               self.output_dim))
                .astype(self.dtype)}

    def get_config(self):
        """The constructor's arguments, JSON-serialisable.

        Returns
        -------
        dict
            ``input_dim``, ``output_dim``, ``mask_zero``, ``dtype`` (its name) and
            ``seed`` (a config without ``mask_zero``, from an older seqnet, loads
            with its default, False).
        """
        return {"input_dim": self.input_dim, "output_dim": self.output_dim,
                "mask_zero": self.mask_zero, **super().get_config()}

    def output_lengths(self, x, lengths):
        """The valid steps of each row: with ``mask_zero``, those before the row's
        trailing run of index 0 (Keras's ``compute_mask``, as lengths).

        Parameters
        ----------
        x : array_like of int, shape (B, T)
            The indices.
        lengths : ndarray of int, shape (B,), or None
            The input's lengths: the output's when ``mask_zero`` is False.

        Returns
        -------
        ndarray of int, shape (B,), or None
            With ``mask_zero``, each row's steps up to its last non-zero index
            (int64); ``lengths`` otherwise.

        Raises
        ------
        ValueError
            With ``mask_zero``: ``x`` is not 2-D, or a row has an index 0 before a
            non-zero one (left padding or a hole) or holds 0s only (the message
            names the row and the step).
        TypeError
            With ``mask_zero``: ``x`` is not an integer array.
        """
        if not self.mask_zero:
            return lengths
        arr = np.asarray(_checks.to_numpy(x))
        if arr.dtype.kind not in "iu":
            raise TypeError(f"x must be an integer array of indices, got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"Embedding(mask_zero=True) takes its lengths from (batch, time) "
                             f"indices, got shape {arr.shape}")
        return lengths_from_padding(arr == 0, "Embedding(mask_zero=True)")

    def output_shape(self, input_shape):
        """Shape of the output for an input of ``input_shape`` (no batch axis).

        Parameters
        ----------
        input_shape : tuple of int
            ``(T,)``, or any shape of indices.

        Returns
        -------
        tuple of int
            ``(*input_shape, output_dim)``.
        """
        return (*tuple(input_shape), self.output_dim)

    def call(self, x, initial_state, *, training):
        """Rows of ``weight`` picked by the integer array ``x``.

        Parameters
        ----------
        x : array_like of int, shape (B, T)
            Indices in ``[0, input_dim)`` (any shape works).
        initial_state : None
            The layer has no state.
        training : bool
            Keep the indices for `backward`.

        Returns
        -------
        out : ndarray, shape (B, T, output_dim)
            ``weight[x]``, of the layer's dtype.
        final_state : tuple
            ``()``.

        Raises
        ------
        TypeError
            ``x`` is not an integer array.
        ValueError
            An index outside ``[0, input_dim)``.
        """
        arr = np.asarray(x)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"x must be an integer array of indices, got dtype {arr.dtype}")
        idx = _checks.indices_in_range(arr, self.input_dim, "x")
        self._cache = idx if training else None
        return self.params["weight"][idx], ()

    def call_backward(self, dout, dstate):
        """Fills ``grads["weight"]`` with a scatter-add of ``dout``.

        Parameters
        ----------
        dout : array_like, shape (B, T, output_dim)
            Gradient with respect to the output; real floating point.
        dstate : None
            The layer has no state.

        Returns
        -------
        dx : None
            Indices have no gradient.
        dinitial_state : tuple
            ``()``.

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` first, or ``dout`` of the wrong
            shape.
        """
        idx = self._need_cache()
        dout = _checks.float_array(dout, "dout", self.dtype)
        _checks.shape_is(dout, (*idx.shape, self.output_dim), "dout")
        g = np.zeros_like(self.params["weight"])
        np.add.at(g, idx.reshape(-1), dout.reshape(-1, self.output_dim))
        self.grads["weight"] = g
        return None, ()
