r"""Losses for training: cross-entropy (dense and sparse targets) and mean squared error.

Every loss has the same two calls. ``forward(y_pred, y_true, mask=None)`` returns
the mean loss as a Python float and keeps what ``backward()`` needs;
``backward()`` returns the gradient of that mean with respect to ``y_pred``, with
the shape and dtype of ``y_pred``.

Shapes and the mean
-------------------
``y_pred`` is ``(B, C)`` or, for sequence outputs, ``(B, T, C)`` (any leading
shape works: the last axis holds the classes or features, the leading axes index
*positions*). Each position ``n`` has a loss $\ell_n$; the loss returned is

$$
L = \frac{1}{N} \sum_n \ell_n \quad\text{or, with a mask,}\quad
L = \frac{\sum_n w_n \ell_n}{\sum_n w_n},
$$

with $N$ the number of positions (``B*T`` for sequences) and $w_n$
the mask, of shape ``(B,)`` (one weight per sequence, broadcast over time) or
``(B, T)``. Positions of zero weight are ignored: whatever their predictions or
targets hold (padding, NaN, an out-of-range label), they add nothing to the loss
and get a zero gradient.

The argument order is PyTorch's (prediction first), not Keras's
``loss(y_true, y_pred)``.

dtypes
------
``y_pred`` must be float32 or float64; the loss and the gradient are computed in
that dtype (targets and masks are cast to it), so float64 is never downgraded.

Softmax outputs
---------------
With ``from_logits=True`` the cross-entropies take logits and fuse the softmax:
the log-softmax is computed with the maximum subtracted, so any finite logits
(``1e4``, ``-1e4``) give a finite loss and gradient. A model whose last layer is
a softmax trains on its logits through this fused path; ``from_logits=False``
(probabilities, clipped as Keras does) is for users who call a loss on
probabilities directly.
"""

from __future__ import annotations

import contextlib

import numpy as np

from . import _checks
from ._registry import Registry
from .activations import log_softmax, softmax, stable_parts

__all__ = ["CategoricalCrossentropy", "Loss", "MeanSquaredError",
           "SparseCategoricalCrossentropy", "from_config", "get", "log_softmax", "softmax"]

#: Keras's ``backend.epsilon()``: probabilities are clipped to ``[EPSILON, 1 - EPSILON]``.
EPSILON = 1e-7


# ----------------------------------------------------------------------- base class
class Loss:
    """Base class of the losses: checks, masking, the (weighted) mean and the cache.

    Subclasses implement ``_target`` (check and convert ``y_true``),
    ``_position_loss`` (the loss at every position) and ``_position_grad`` (its
    gradient with respect to ``y_pred``), and set ``name``.
    """

    #: the name that `get` and `from_config` know this loss by.
    name = ""

    def __init__(self):
        self._cache = None

    # -------------------------------------------------------------------- the API
    def forward(self, y_pred, y_true, mask=None):
        r"""Mean loss over all positions (weighted mean under ``mask``).

        Parameters
        ----------
        y_pred : array_like of float32 or float64, shape (B, C) or (B, T, C)
            Predictions: logits, probabilities or values, depending on the loss.
            Its dtype is the dtype of the computation.
        y_true : array_like
            Targets; their form depends on the loss (see the class).
        mask : array_like, shape (B,) or (B, T), optional
            Non-negative finite weights per sequence or per position, at least one
            positive; bool works as a 0/1 mask. ``(B,)`` is broadcast over time.

        Returns
        -------
        float
            $L$, computed in the dtype of ``y_pred``.

        Raises
        ------
        TypeError
            ``y_pred`` is not float32 or float64, or ``y_true`` or ``mask`` is not
            of a numeric dtype the loss takes.
        ValueError
            ``y_pred`` below 2-D or empty; ``y_true`` or ``mask`` of the wrong
            shape; a mask that is negative, not finite or all zero; a class index
            out of range at an unmasked position.

        Notes
        -----
        With $\ell_n$ the loss at position $n$ (see the class),
        $N$ the number of positions and $w_n$ the mask broadcast to
        the positions:

        $$
        L = \frac{1}{N} \sum_n \ell_n, \qquad
        L_w = \frac{\sum_{n: w_n > 0} w_n \ell_n}{\sum_n w_n}.
        $$

        ``y_pred`` is kept (not copied) for `backward`.
        """
        y_pred = _checks.float_input(y_pred, "y_pred")
        if y_pred.ndim < 2:
            raise ValueError(f"y_pred must be at least 2-D, (batch, classes) or "
                             f"(batch, time, classes), got shape {y_pred.shape}")
        if 0 in y_pred.shape:
            raise ValueError(f"y_pred must not be empty, got shape {y_pred.shape}")
        dt = y_pred.dtype
        positions = y_pred.shape[:-1]
        weights = _mask_weights(mask, y_pred.shape, dt)
        valid = None if weights is None else weights > 0
        y_true = self._target(y_true, y_pred, valid)
        with _quiet_if(valid is not None):
            losses, parts = self._position_loss(y_pred, y_true)
            if weights is None:
                total = np.mean(losses, dtype=dt)
                scale = None
                count = dt.type(np.prod(positions))
            else:
                total_w = np.sum(weights, dtype=dt)
                total = np.sum(np.where(valid, weights * losses, 0), dtype=dt) / total_w
                scale = weights / total_w
                count = None
        self._cache = (y_pred, y_true, parts, valid, scale, count)
        return float(total)

    def backward(self):
        """Gradient of the last `forward`'s loss with respect to ``y_pred``.

        Returns
        -------
        dy_pred : ndarray
            Same shape and dtype as ``y_pred``; zero at positions of zero weight.

        Raises
        ------
        ValueError
            When no `forward` has run yet.
        """
        if self._cache is None:
            raise ValueError("backward() needs a forward() first: there is no loss to "
                             "differentiate")
        y_pred, y_true, parts, valid, scale, count = self._cache
        with _quiet_if(valid is not None):
            g = self._position_grad(y_pred, y_true, parts)
            if scale is None:
                g /= count
            else:
                g = np.where(valid[..., None], g * scale[..., None], 0)
        return np.ascontiguousarray(g, dtype=y_pred.dtype)

    def get_config(self):
        """The loss's constructor arguments, with its name.

        Returns
        -------
        dict
            JSON-serialisable: ``{"name": <name>, **arguments}``; give it to
            `from_config` to rebuild the loss.
        """
        return {"name": self.name}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"

    # -------------------------------------------------------------- for subclasses
    def _target(self, y_true, y_pred, valid):
        raise NotImplementedError

    def _position_loss(self, y_pred, y_true):
        raise NotImplementedError

    def _position_grad(self, y_pred, y_true, parts):
        raise NotImplementedError


def _quiet_if(masked):
    """Silence floating-point warnings when a mask is given: masked-out positions may
    hold anything (padding, inf, NaN) and their values are discarded."""
    return np.errstate(all="ignore") if masked else contextlib.nullcontext()


def _mask_weights(mask, pred_shape, dt):
    """The mask as weights of dtype ``dt`` and shape ``pred_shape[:-1]``, or None."""
    if mask is None:
        return None
    positions = pred_shape[:-1]
    arr = np.asarray(_checks.to_numpy(mask))
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"mask must be a real numeric or bool array, got dtype {arr.dtype}")
    allowed = [positions[:k] for k in range(1, len(positions) + 1)]
    if arr.shape not in allowed:
        raise ValueError(f"mask must have shape {' or '.join(map(str, allowed))} "
                         f"(y_pred has shape {pred_shape}), got {arr.shape}")
    w = arr.astype(dt)
    if not np.all(np.isfinite(w)):
        raise ValueError("mask must be finite")
    if np.any(w < 0):
        raise ValueError(f"mask must be non-negative, got min(mask) = {w.min()}")
    if not np.any(w > 0):
        raise ValueError("mask must have at least one positive weight: every position "
                         "is masked out, so the mean is undefined")
    w = w.reshape(w.shape + (1,) * (len(positions) - w.ndim))
    return np.ascontiguousarray(np.broadcast_to(w, positions))


def _clip_bounds(dt):
    return dt.type(EPSILON), dt.type(1.0 - EPSILON)


# ------------------------------------------------------------------ cross-entropies
class _Crossentropy(Loss):
    """Base of the two cross-entropies: the ``from_logits`` switch and the config.

    Parameters
    ----------
    from_logits : bool, default False
        ``y_pred`` holds logits (fused, stable log-softmax) rather than
        probabilities.

    Raises
    ------
    TypeError
        ``from_logits`` is not a bool.
    """

    def __init__(self, from_logits=False):
        super().__init__()
        self.from_logits = _checks.flag(from_logits, "from_logits")

    def get_config(self):
        """The loss's constructor arguments, with its name.

        Returns
        -------
        dict
            ``{"name": <name>, "from_logits": bool}``.
        """
        return {"name": self.name, "from_logits": self.from_logits}


class CategoricalCrossentropy(_Crossentropy):
    r"""Cross-entropy with one-hot or probability targets.

    Parameters
    ----------
    from_logits : bool, default False
        ``y_pred`` holds logits (fused, stable log-softmax) rather than
        probabilities. A model whose last layer is a softmax trains on its logits
        through this fused path; ``False`` is for calling the loss on
        probabilities directly.

    Raises
    ------
    TypeError
        ``from_logits`` is not a bool.

    Notes
    -----
    ``y_true`` has the shape of ``y_pred``: one-hot rows or probability rows
    (real numeric, cast to the dtype of ``y_pred``). At each position, with
    logits $z$:

    $$
    \ell = -\sum_c y_c \log\operatorname{softmax}(z)_c, \qquad
    \frac{\partial \ell}{\partial z} = \operatorname{softmax}(z)\sum_c y_c - y,
    $$

    which is exactly $\operatorname{softmax}(z) - y$ for rows that sum to
    1, so that $\partial L/\partial z = (\operatorname{softmax}(z) - y)/N$
    unmasked. Classes of zero target contribute exactly 0 (never
    $0 \cdot \infty$).

    With probabilities $p$ (Keras's rule: normalise each row to sum 1,
    then clip to $[\epsilon, 1-\epsilon]$, $\epsilon = 10^{-7}$):

    $$
    \begin{gathered}
    S = \sum_c p_c, \quad q = p / S, \quad \tilde q = \operatorname{clip}(q,
    \epsilon, 1 - \epsilon), \quad \ell = -\sum_c y_c \log \tilde q_c, \\
    a_c = -\frac{y_c}{\tilde q_c}\,[\epsilon \le q_c \le 1 - \epsilon], \qquad
    \frac{\partial \ell}{\partial p_j} = \frac{a_j - \sum_c a_c q_c}{S}.
    \end{gathered}
    $$

    The clip passes no gradient outside its bounds, as in TensorFlow.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.losses import CategoricalCrossentropy
    >>> loss = CategoricalCrossentropy(from_logits=True)
    >>> z = np.array([[2.0, 0.0, -2.0]])
    >>> round(loss.forward(z, np.array([[1.0, 0.0, 0.0]])), 6)
    0.142932
    >>> loss.backward().round(6)
    array([[-0.133187,  0.11731 ,  0.015876]])
    """

    name = "categorical_crossentropy"

    def _target(self, y_true, y_pred, valid):
        arr = np.asarray(_checks.to_numpy(y_true))
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"y_true must be a real numeric array (one-hot or probabilities), "
                            f"got dtype {arr.dtype}")
        _checks.shape_is(arr, y_pred.shape, "y_true", " (the shape of y_pred)")
        return np.ascontiguousarray(arr, dtype=y_pred.dtype)

    def _position_loss(self, y_pred, y_true):
        if self.from_logits:
            s, e, se = stable_parts(y_pred, -1)
            logp = s - np.log(se)
            terms = np.zeros_like(logp)  # zero targets add exactly 0, even against -inf
            np.multiply(y_true, logp, out=terms, where=y_true != 0)
            return -np.sum(terms, axis=-1), (e, se)
        S = np.sum(y_pred, axis=-1, keepdims=True)
        q = y_pred / S
        lo, hi = _clip_bounds(y_pred.dtype)
        qc = np.clip(q, lo, hi)
        return -np.sum(y_true * np.log(qc), axis=-1), (S, q, qc)

    def _position_grad(self, y_pred, y_true, parts):
        if self.from_logits:
            e, se = parts
            return (e / se) * np.sum(y_true, axis=-1, keepdims=True) - y_true
        S, q, qc = parts
        lo, hi = _clip_bounds(y_pred.dtype)
        a = np.where((q >= lo) & (q <= hi), -y_true / qc, 0).astype(y_pred.dtype, copy=False)
        return (a - np.sum(a * q, axis=-1, keepdims=True)) / S


class SparseCategoricalCrossentropy(_Crossentropy):
    r"""Cross-entropy with integer class targets.

    Parameters
    ----------
    from_logits : bool, default False
        ``y_pred`` holds logits (fused, stable log-softmax) rather than
        probabilities; see `CategoricalCrossentropy`.

    Raises
    ------
    TypeError
        ``from_logits`` is not a bool.

    Notes
    -----
    ``y_true`` holds class indices, integer dtype, of shape ``y_pred.shape[:-1]``
    (Keras's ``y_pred.shape[:-1] + (1,)`` is accepted too), each in
    ``[0, C)`` wherever the mask is positive. It is the categorical
    cross-entropy of the one-hot targets $y = e_k$:

    $$
    \ell = -\log\operatorname{softmax}(z)_k, \qquad
    \frac{\partial \ell}{\partial z} = \operatorname{softmax}(z) - e_k,
    $$

    and, on probabilities, $\ell = -\log \tilde q_k$ with $\tilde q$ as
    in `CategoricalCrossentropy`.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.losses import SparseCategoricalCrossentropy
    >>> loss = SparseCategoricalCrossentropy(from_logits=True)
    >>> z = np.zeros((2, 3, 4), np.float32)          # (batch, time, classes)
    >>> labels = np.array([[0, 1, 2], [3, 0, -1]])    # -1: padding, masked out
    >>> mask = np.array([[1, 1, 1], [1, 1, 0]])
    >>> round(loss.forward(z, labels, mask), 6)       # log(4)
    1.386294
    >>> loss.backward().dtype, loss.backward()[1, 2]
    (dtype('float32'), array([0., 0., 0., 0.], dtype=float32))
    """

    name = "sparse_categorical_crossentropy"

    def _target(self, y_true, y_pred, valid):
        arr = np.asarray(_checks.to_numpy(y_true))
        if arr.dtype.kind not in "iu":
            raise TypeError(f"y_true must be an integer array of class indices, got dtype "
                            f"{arr.dtype}"
                            + (" (cast with .astype(np.int64) first)"
                               if arr.dtype.kind == "f" else ""))
        positions = y_pred.shape[:-1]
        if arr.shape == positions + (1,):
            arr = arr.reshape(positions)
        _checks.shape_is(arr, positions, "y_true", " (y_pred.shape[:-1]: one class index "
                         "per position)")
        C = y_pred.shape[-1]
        checked = arr if valid is None else arr[valid]
        if checked.size and (checked.min() < 0 or checked.max() >= C):
            bad = checked[(checked < 0) | (checked >= C)]
            raise ValueError(f"y_true must hold class indices in [0, {C}) (y_pred has {C} "
                             f"classes), got {bad[0]}"
                             + (" at an unmasked position" if valid is not None else ""))
        idx = arr.astype(np.intp)
        if valid is not None:
            idx = np.where(valid, idx, 0)
        return np.ascontiguousarray(idx)

    def _position_loss(self, y_pred, y_true):
        k = y_true[..., None]
        if self.from_logits:
            s, e, se = stable_parts(y_pred, -1)
            logp_k = np.take_along_axis(s, k, axis=-1) - np.log(se)
            return -logp_k[..., 0], (e, se)
        S = np.sum(y_pred, axis=-1, keepdims=True)
        q = y_pred / S
        lo, hi = _clip_bounds(y_pred.dtype)
        q_k = np.take_along_axis(q, k, axis=-1)
        qc_k = np.clip(q_k, lo, hi)
        return -np.log(qc_k)[..., 0], (S, q, q_k, qc_k)

    def _position_grad(self, y_pred, y_true, parts):
        k = y_true[..., None]
        if self.from_logits:
            e, se = parts
            g = e / se
            np.put_along_axis(g, k, np.take_along_axis(g, k, axis=-1) - 1, axis=-1)
            return g
        S, q, q_k, qc_k = parts
        lo, hi = _clip_bounds(y_pred.dtype)
        a_k = np.where((q_k >= lo) & (q_k <= hi), -1 / qc_k, 0).astype(y_pred.dtype, copy=False)
        g = np.broadcast_to(-a_k * q_k, y_pred.shape).copy()
        np.put_along_axis(g, k, np.take_along_axis(g, k, axis=-1) + a_k, axis=-1)
        return g / S


class MeanSquaredError(Loss):
    r"""Mean squared error.

    Notes
    -----
    ``y_true`` has the shape of ``y_pred`` (real numeric, cast to the dtype of
    ``y_pred``). As in Keras, each position's loss is the mean over the last
    axis (``C`` features), so that unmasked $L$ is the mean over all
    elements, as PyTorch's ``mse_loss``:

    $$
    \ell = \frac{1}{C} \sum_c (\hat y_c - y_c)^2, \qquad
    \frac{\partial \ell}{\partial \hat y} = \frac{2}{C} (\hat y - y).
    $$

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.losses import MeanSquaredError
    >>> loss = MeanSquaredError()
    >>> loss.forward(np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2)))
    7.5
    >>> loss.backward()
    array([[0.5, 1. ],
           [1.5, 2. ]])
    """

    name = "mean_squared_error"

    def _target(self, y_true, y_pred, valid):
        arr = np.asarray(_checks.to_numpy(y_true))
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"y_true must be a real numeric array, got dtype {arr.dtype}")
        _checks.shape_is(arr, y_pred.shape, "y_true", " (the shape of y_pred)")
        return np.ascontiguousarray(arr, dtype=y_pred.dtype)

    def _position_loss(self, y_pred, y_true):
        d = y_pred - y_true
        return np.mean(d * d, axis=-1), d

    def _position_grad(self, y_pred, y_true, parts):
        d = parts
        return d * y_pred.dtype.type(2.0 / y_pred.shape[-1])


# ---------------------------------------------------------------------- registry
_REGISTRY = Registry(
    "loss", Loss,
    {cls.name: cls for cls in (CategoricalCrossentropy, SparseCategoricalCrossentropy,
                               MeanSquaredError)},
    # other names `get` accepts: Keras's alias and the class names.
    aliases={"mse": "mean_squared_error",
             "CategoricalCrossentropy": "categorical_crossentropy",
             "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
             "MeanSquaredError": "mean_squared_error"})


def get(identifier):
    """A loss from an instance, a name or a config.

    Parameters
    ----------
    identifier : Loss, str or dict
        A `Loss` (returned as it is); a name, Keras's:
        ``"categorical_crossentropy"``, ``"sparse_categorical_crossentropy"``,
        ``"mean_squared_error"`` or ``"mse"`` (or the class name), giving the loss
        with its default arguments; or a config dict, as for `from_config`.

    Returns
    -------
    Loss

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones).
    TypeError
        Any other kind of identifier.

    Examples
    --------
    >>> from seqnet import losses
    >>> losses.get("mse")
    MeanSquaredError()
    """
    return _REGISTRY.get(identifier)


def from_config(config):
    """Rebuild a loss from the output of its `Loss.get_config`.

    Parameters
    ----------
    config : dict
        ``{"name": <name>, **arguments}``; any name `get` knows.

    Returns
    -------
    Loss

    Raises
    ------
    ValueError
        No ``"name"``, an unknown name, or an argument the loss does not take.
    TypeError
        ``config`` is not a dict, or an argument has the wrong type.

    Examples
    --------
    >>> from seqnet import losses
    >>> config = losses.CategoricalCrossentropy(from_logits=True).get_config()
    >>> config
    {'name': 'categorical_crossentropy', 'from_logits': True}
    >>> losses.from_config(config)
    CategoricalCrossentropy(from_logits=True)
    """
    return _REGISTRY.from_config(config)
