"""Layer normalisation over the last axis (Ba et al., 2016), Keras's
``LayerNormalization`` with PyTorch's ``nn.LayerNorm`` parameter names."""

from __future__ import annotations

import numpy as np

from .. import _checks
from .._config import DEFAULT_DTYPE
from .base import Layer


class LayerNormalization(Layer):
    r"""Normalise each step's features to mean 0 and variance 1, then scale and
    shift them: ``(B, ..., F)`` to the same shape.

    For one step's features $x \in \mathbb{R}^F$ (Keras's formula, and PyTorch's:
    the biased variance, ``epsilon`` inside the square root):

    $$
    \mu = \frac{1}{F}\sum_f x_f, \quad
    \sigma^2 = \frac{1}{F}\sum_f (x_f - \mu)^2, \quad
    \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad
    y = \gamma \odot \hat x + \beta
    $$

    and, with $g = \gamma \odot \partial L / \partial y$ and $r = 1 / \sqrt{\sigma^2 +
    \epsilon}$,

    $$
    \frac{\partial L}{\partial x} = r \left(g - \overline{g} - \hat x\,
    \overline{g \odot \hat x}\right), \quad
    \frac{\partial L}{\partial \gamma} = \sum_{\text{steps}} \hat x \odot
    \frac{\partial L}{\partial y}, \quad
    \frac{\partial L}{\partial \beta} = \sum_{\text{steps}} \frac{\partial L}{\partial y}
    $$

    where a bar is the mean over the features. The statistics are computed in the
    layer's dtype in two passes (the mean, then the mean of the centred squares),
    which stays accurate in float32 where $E[x^2] - E[x]^2$ would cancel.

    Parameters
    ----------
    axis : int, default -1
        The normalised axis: the last one only (``-1``), as in most uses.
    epsilon : float, default 1e-3
        Added to the variance inside the square root (Keras's default; PyTorch's
        is 1e-5); positive.
    center : bool, default True
        Add the learned offset $\beta$ (``bias``).
    scale : bool, default True
        Multiply by the learned scale $\gamma$ (``weight``).
    input_size : int, optional
        Features ``F``; taken from the first input when ``None``.
    dtype : {np.float32, np.float64}, default np.float32
        Dtype of the parameters, outputs and gradients (the input is cast to it).
    seed : int, optional
        Kept for the layer contract (the parameters start at 1 and 0).

    Attributes
    ----------
    params, grads : dict of str to ndarray
        ``weight`` ($\gamma$, Keras's ``gamma``, ``(F,)``, starts at 1) with
        ``scale``, ``bias`` ($\beta$, Keras's ``beta``, ``(F,)``, starts at 0)
        with ``center``: PyTorch's ``nn.LayerNorm`` names.

    Raises
    ------
    TypeError
        ``axis`` or ``input_size`` not an integer, ``epsilon`` not a real number,
        ``center`` or ``scale`` not a bool, or a bad ``dtype`` or ``seed``.
    ValueError
        ``axis`` other than -1, ``epsilon`` not positive and finite, or
        ``input_size`` below 1.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> norm = seqnet.LayerNormalization(epsilon=1e-12, dtype=np.float64)
    >>> norm.forward(np.array([[1.0, 2.0, 3.0]])).round(6).tolist()
    [[-1.224745, 0.0, 1.224745]]
    """

    per_step = True
    #: with ``lengths``, padded steps are 0 in, 0 out and 0 back (see `call`).
    takes_lengths = True

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, *, input_size=None,
                 dtype=DEFAULT_DTYPE, seed=None):
        super().__init__(dtype=dtype, seed=seed)
        axis = _checks.integer(axis, "axis")
        if axis != -1:
            raise ValueError(f"LayerNormalization normalises the last axis only: axis must "
                             f"be -1, got {axis}")
        self.axis = axis
        self.epsilon = _checks.real(epsilon, "epsilon", 0.0, low_open=True)
        self.center = _checks.flag(center, "center")
        self.scale = _checks.flag(scale, "scale")
        self.input_size = (None if input_size is None
                           else _checks.positive_int(input_size, "input_size"))
        #: without scale and offset there is nothing to learn.
        self.has_weights = self.center or self.scale
        self._planned_input = self.input_size if self.has_weights else None

    def _param_shapes(self, input_size):
        shapes = {}
        if self.scale:
            shapes["weight"] = (input_size,)
        if self.center:
            shapes["bias"] = (input_size,)
        return shapes

    def _initial_params(self, input_size):
        """``weight`` 1, ``bias`` 0 (Keras's and PyTorch's initial values)."""
        params = {}
        if self.scale:
            params["weight"] = np.ones(input_size, self.dtype)
        if self.center:
            params["bias"] = np.zeros(input_size, self.dtype)
        return params

    def _set_input_size(self, input_size):
        self.input_size = input_size

    def _input_size_of(self, state_dict):
        """The features of an unbuilt layer from a state dict: the length of its
        ``weight`` (or ``bias``)."""
        name = "weight" if self.scale else "bias"
        if name not in state_dict:
            raise ValueError(f"state_dict is missing {name!r}")
        w = np.asarray(_checks.to_numpy(state_dict[name]))
        if w.ndim != 1:
            raise ValueError(f"state_dict[{name!r}] must be 1-D, got shape {w.shape}")
        return w.shape[0]

    def get_config(self):
        """The constructor's arguments, JSON-serialisable.

        Returns
        -------
        dict
            ``axis``, ``epsilon``, ``center``, ``scale``, ``input_size``, ``dtype``
            (its name) and ``seed``.
        """
        return {"axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "input_size": self.input_size, **super().get_config()}

    def output_shape(self, input_shape):
        """Shape of the output for an input of ``input_shape`` (no batch axis).

        Parameters
        ----------
        input_shape : tuple of int or None
            ``(F,)``, ``(T, F)`` or ``(..., F)``; leading entries may be None.

        Returns
        -------
        tuple of int
            ``input_shape``.

        Raises
        ------
        ValueError
            ``input_shape`` is empty, its features unknown or below 1, or other
            than ``input_size`` once that is known (the message names the layer and
            both shapes).
        """
        shape = tuple(input_shape)
        if not shape or shape[-1] is None or shape[-1] < 1:
            raise ValueError(f"LayerNormalization needs input shape (..., features) with "
                             f"known features >= 1, got input shape {shape}")
        if self.input_size is not None and shape[-1] != self.input_size:
            raise ValueError(f"LayerNormalization expects input shape (..., "
                             f"{self.input_size}) (input_size={self.input_size}), got input "
                             f"shape {shape}")
        return shape

    def call(self, x, initial_state, *, training, lengths=None):
        """The normalised, scaled and shifted ``x``, step by step.

        Parameters
        ----------
        x : array_like, shape (B, F), (B, T, F) or (B, T, ..., F)
            Real floating point, cast to the layer's dtype. The first call builds
            the parameters when ``input_size`` was not given.
        initial_state : None
            The layer has no state.
        training : bool
            Keep what `backward` needs.
        lengths : array_like of int, shape (B,), optional
            Valid steps per row along axis 1 (``x`` at least 3-D): padded steps are
            read as 0 (in a copy: NaN there reaches nothing), output 0 and get no
            gradient.

        Returns
        -------
        out : ndarray
            ``x``'s shape, the layer's dtype.
        final_state : tuple
            ``()``.

        Raises
        ------
        TypeError
            ``x`` is not real floating point, or ``lengths`` not integers.
        ValueError
            ``x`` is not at least 2-D, has the wrong number of features (the message
            names the layer and both shapes), or ``lengths`` with a 2-D ``x`` or of
            the wrong shape or values.
        """
        x = _checks.float_array(x, "x", self.dtype)
        if x.ndim < 2 or x.shape[-1] == 0:
            raise ValueError(f"LayerNormalization: x must be (batch, ..., features) with at "
                             f"least one feature, got shape {x.shape}")
        F = x.shape[-1]
        if self.input_size is None and self.has_weights:
            self._build(F)   # once, under the layer's lock
        if self.input_size is not None and F != self.input_size:
            raise ValueError(f"LayerNormalization: x has shape {x.shape}, {F} features, but "
                             f"the layer's input_size is {self.input_size}: expected shape "
                             f"(batch, ..., {self.input_size})")
        pad = None
        if lengths is not None:
            if x.ndim < 3:
                raise ValueError(f"LayerNormalization: lengths need a time axis, x of shape "
                                 f"(batch, time, ..., features), got shape {x.shape}")
            B, T = x.shape[:2]
            lengths = _checks.lengths_array(lengths, B, T)
            if lengths.min() < T:
                pad = (np.arange(T) >= lengths[:, None]).reshape(B, T, *[1] * (x.ndim - 2))
                x = np.where(pad, self.dtype.type(0), x)
        mu = x.mean(axis=-1, keepdims=True)
        xc = x - mu
        var = np.mean(xc * xc, axis=-1, keepdims=True)
        rstd = 1.0 / np.sqrt(var + self.dtype.type(self.epsilon))
        xhat = xc * rstd
        out = xhat * self.params["weight"] if self.scale else xhat.copy()
        if self.center:
            out += self.params["bias"]
        if pad is not None:
            out = np.where(pad, self.dtype.type(0), out)
        self._cache = (xhat, rstd, pad) if training else None
        return out, ()

    def call_backward(self, dout, dstate):
        """Gradient with respect to ``x``; fills ``grads`` (see the class's Notes).

        Parameters
        ----------
        dout : array_like
            Gradient with respect to the output, its shape; real floating point.
            Padded steps (with ``lengths``) are never read.
        dstate : None
            The layer has no state.

        Returns
        -------
        dx : ndarray
            The input's shape, the layer's dtype; 0 at padded steps.
        dinitial_state : tuple
            ``()``.

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` first, or ``dout`` of the wrong shape.
        TypeError
            ``dout`` is not real floating point.
        """
        xhat, rstd, pad = self._need_cache()
        dout = _checks.float_array(dout, "dout", self.dtype)
        _checks.shape_is(dout, xhat.shape, "dout", " (the shape of the output)")
        if pad is not None:
            dout = np.where(pad, self.dtype.type(0), dout)
        F = xhat.shape[-1]
        flat_dout, flat_xhat = dout.reshape(-1, F), xhat.reshape(-1, F)
        if self.scale:
            self.grads["weight"] = np.einsum("nf,nf->f", flat_dout, flat_xhat)
            g = dout * self.params["weight"]
        else:
            g = dout
        if self.center:
            self.grads["bias"] = flat_dout.sum(axis=0)
        dx = rstd * (g - g.mean(axis=-1, keepdims=True)
                     - xhat * np.mean(g * xhat, axis=-1, keepdims=True))
        return dx, ()
