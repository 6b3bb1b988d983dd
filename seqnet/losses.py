r"""Losses for training: cross-entropies (categorical, sparse, binary) and mean squared
error.

Every loss has the same two calls. ``forward(y_pred, y_true, mask=None,
sample_weight=None)`` returns the mean loss as a Python float and keeps what
``backward()`` needs; ``backward()`` returns the gradient of that mean with respect to
``y_pred``, with the shape and dtype of ``y_pred``.

Shapes and the mean
-------------------
``y_pred`` is ``(B, C)`` or, for sequence outputs, ``(B, T, C)`` (any leading
shape works: the last axis holds the classes or features, the leading axes index
*positions*). Each position ``n`` has a loss $\ell_n$ (the binary cross-entropy
and the mean squared error average over the last axis first, as Keras does).
With $N$ the number of positions (``B*T`` for sequences), $w_n$ the ``mask`` and
$s_n$ the ``sample_weight``, both broadcast to the positions, the loss returned is

$$
L = \frac{1}{N} \sum_n s_n \ell_n
\quad\text{or, with a mask,}\quad
L = \frac{\sum_n w_n s_n \ell_n}{\sum_n w_n},
$$

with $s_n = 1$ when no ``sample_weight`` is given. In words: the numerator weighs
each position by the mask times the sample weight; the denominator is the number of
positions, or the mask's total weight (for a 0/1 mask, the number of valid
positions), and never involves the sample weights. This is Keras 3's reduction
``"sum_over_batch_size"`` exactly: Keras turns a (boolean) mask $m$ into the weights
$m_n N / \sum_k m_k$, multiplies them into the sample weights and divides the
weighted sum by $N$, which is $\sum_n m_n s_n \ell_n / \sum_n m_n$. So sample weights
of 0.5 everywhere halve the loss, as in Keras; they do not cancel out.

``mask`` and ``sample_weight`` have shape ``(B,)`` (one weight per sequence,
broadcast over time), ``(B, T)`` (one per position) or Keras's ``(B, 1)``. A
sequence's lengths become a mask with `mask_from_lengths`. Positions where the mask
or the sample weight is zero are ignored: whatever their predictions or targets hold
(padding, NaN, an out-of-range label), they add nothing to the loss and get a zero
gradient. The mask must have a positive weight somewhere (else the mean is
undefined); sample weights may all be zero (the loss is then 0, as in Keras).

The argument order is PyTorch's (prediction first), not Keras's
``loss(y_true, y_pred)``.

dtypes
------
``y_pred`` must be float32 or float64; the loss and the gradient are computed in
that dtype (targets, masks and sample weights are cast to it), so float64 is never
downgraded.

Softmax and sigmoid outputs
---------------------------
With ``from_logits=True`` the cross-entropies take logits and fuse the softmax
(or, for `BinaryCrossentropy`, the sigmoid): the log-softmax is computed with the
maximum subtracted and the log-sigmoid as ``log1p(exp(-|z|))``, so any finite
logits (``1e4``, ``-1e4``) give a finite loss and gradient. A model whose last
layer is a softmax trains on its logits through this fused path;
``from_logits=False`` (probabilities, clipped as Keras does) is for users who call
a loss on probabilities directly.
"""

from __future__ import annotations

import contextlib

import numpy as np

from . import _checks
from ._registry import Registry
from .activations import log_softmax, softmax, stable_parts

__all__ = ["BinaryCrossentropy", "CategoricalCrossentropy", "Loss", "MeanSquaredError",
           "SparseCategoricalCrossentropy", "from_config", "get", "log_softmax",
           "mask_from_lengths", "softmax"]

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
    def forward(self, y_pred, y_true, mask=None, sample_weight=None):
        r"""Mean loss over all positions (weighted by ``mask`` and ``sample_weight``).

        Parameters
        ----------
        y_pred : array_like of float32 or float64, shape (B, C) or (B, T, C)
            Predictions: logits, probabilities or values, depending on the loss.
            Its dtype is the dtype of the computation.
        y_true : array_like
            Targets; their form depends on the loss (see the class).
        mask : array_like, shape (B,), (B, T) or (B, 1), optional
            Non-negative finite weights per sequence or per position, at least one
            positive; bool works as a 0/1 mask (`mask_from_lengths` makes one from
            sequence lengths). ``(B,)`` is broadcast over time. The mean divides by
            its total weight.
        sample_weight : array_like, shape (B,), (B, T) or (B, 1), optional
            Non-negative finite weights per sequence or per position (Keras's
            ``sample_weight``); they scale each position's loss and are not divided
            out. All zero is allowed (the loss is 0).

        Returns
        -------
        float
            $L$, computed in the dtype of ``y_pred``.

        Raises
        ------
        TypeError
            ``y_pred`` is not float32 or float64, or ``y_true``, ``mask`` or
            ``sample_weight`` is not of a numeric dtype the loss takes.
        ValueError
            ``y_pred`` below 2-D or empty; ``y_true``, ``mask`` or
            ``sample_weight`` of the wrong shape; a mask or sample weight that is
            negative or not finite; a mask that is all zero; a target out of range
            (a class index, a binary target outside [0, 1]) at a counted position.

        Notes
        -----
        With $\ell_n$ the loss at position $n$ (see the class), $N$ the number of
        positions, $w_n$ the mask and $s_n$ the sample weight (1 when not given),
        broadcast to the positions:

        $$
        L = \frac{1}{N} \sum_n s_n \ell_n, \qquad
        L_w = \frac{\sum_{n: w_n s_n > 0} w_n s_n \ell_n}{\sum_n w_n},
        $$

        Keras 3's ``"sum_over_batch_size"`` reduction for a 0/1 mask (see the
        module). ``y_pred`` is kept (not copied) for `backward`.
        """
        y_pred = _checks.predictions(y_pred)
        dt = y_pred.dtype
        positions = y_pred.shape[:-1]
        mask_w = _checks.position_weights(mask, "mask", y_pred.shape, dt)
        if mask_w is not None and not np.any(mask_w > 0):
            raise ValueError("mask must have at least one positive weight: every position "
                             "is masked out, so the mean is undefined")
        sample_w = _checks.position_weights(sample_weight, "sample_weight", y_pred.shape, dt)
        # the numerator's weights (mask times sample weight) and the denominator (N or
        # the mask's total: never the sample weights), Keras's "sum_over_batch_size"
        if mask_w is None:
            weights, denominator = sample_w, dt.type(np.prod(positions))
        else:
            weights = mask_w if sample_w is None else mask_w * sample_w
            denominator = np.sum(mask_w, dtype=dt)
        valid = None if weights is None else weights > 0
        y_true = self._target(y_true, y_pred, valid)
        with _quiet_if(valid is not None):
            losses, parts = self._position_loss(y_pred, y_true)
            if weights is None:
                total = np.mean(losses, dtype=dt)
                scale = None
            else:
                total = np.sum(np.where(valid, weights * losses, 0), dtype=dt) / denominator
                scale = weights / denominator
        self._cache = (y_pred, y_true, parts, valid, scale, denominator)
        return float(total)

    def backward(self):
        """Gradient of the last `forward`'s loss with respect to ``y_pred``.

        Returns
        -------
        dy_pred : ndarray
            Same shape and dtype as ``y_pred``; zero at positions of zero weight
            (mask or sample weight).

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


def mask_from_lengths(lengths, steps):
    """The mask of the valid steps of sequences padded at the end.

    Parameters
    ----------
    lengths : array_like of int, shape (B,)
        Each row's number of valid steps, in ``[0, steps]``; steps at or after
        ``lengths[b]`` are padding (seqnet's ``lengths``, Keras's trailing mask).
    steps : int
        ``T``, the padded length of the sequences.

    Returns
    -------
    ndarray of bool, shape (B, steps)
        ``mask[b, t]`` is True exactly when ``t < lengths[b]``: give it to a loss
        or a metric as ``mask=``.

    Raises
    ------
    TypeError
        ``lengths`` is not an integer array, or ``steps`` not an integer.
    ValueError
        ``lengths`` not 1-D, or a length outside ``[0, steps]``; ``steps`` negative.

    Examples
    --------
    >>> from seqnet.losses import mask_from_lengths
    >>> mask_from_lengths([3, 1], 4)
    array([[ True,  True,  True, False],
           [ True, False, False, False]])
    """
    steps = _checks.integer(steps, "steps", low=0)
    arr = np.asarray(_checks.to_numpy(lengths))
    if arr.dtype.kind not in "iu":
        raise TypeError(f"lengths must be an integer array, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"lengths must be 1-D (one length per batch row), got shape "
                         f"{arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > steps):
        bad = arr[(arr < 0) | (arr > steps)][0]
        raise ValueError(f"lengths must be in [0, {steps}] (steps = {steps}), got {bad}")
    return np.arange(steps) < arr[:, None]


def _clip_bounds(dt):
    return dt.type(EPSILON), dt.type(1.0 - EPSILON)


# ------------------------------------------------------------------ cross-entropies
class _Crossentropy(Loss):
    """Base of the cross-entropies: the ``from_logits`` switch and the config.

    Parameters
    ----------
    from_logits : bool, default False
        ``y_pred`` holds logits (fused, stable log-softmax or log-sigmoid) rather
        than probabilities.

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
        return _checks.dense_targets(y_true, y_pred.shape, y_pred.dtype,
                                     what="real numeric (one-hot or probabilities)")

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
        return _checks.class_indices(y_true, y_pred.shape, valid)

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


class BinaryCrossentropy(_Crossentropy):
    r"""Binary cross-entropy: one independent yes/no target per output unit.

    Parameters
    ----------
    from_logits : bool, default False
        ``y_pred`` holds logits: the sigmoid is fused into the loss, stable for any
        finite logits. ``False``: ``y_pred`` holds probabilities, clipped to
        $[\epsilon, 1 - \epsilon]$ as Keras does. A model whose last layer is a
        sigmoid trains on its logits through the fused path.

    Raises
    ------
    TypeError
        ``from_logits`` is not a bool.

    Notes
    -----
    ``y_pred`` is ``(B, K)`` (``K = 1`` for one binary output, ``K > 1`` for
    multi-label) or ``(B, T, K)``. ``y_true`` has the shape of ``y_pred`` (Keras
    takes both of the same shape), or ``y_pred.shape[:-1]`` when ``K = 1``; it holds
    targets in $[0, 1]$ (float, integer or bool; soft targets allowed) wherever
    the position counts. As in Keras, each position's loss is the mean over the
    ``K`` outputs. With logits $z$ and $\sigma$ the sigmoid:

    $$
    \ell = \frac{1}{K} \sum_k \left[ \max(z_k, 0) - z_k y_k
      + \log\left(1 + e^{-|z_k|}\right) \right], \qquad
    \frac{\partial \ell}{\partial z_k} = \frac{\sigma(z_k) - y_k}{K},
    $$

    which is $-\frac1K \sum_k [y_k \log\sigma(z_k) + (1 - y_k)\log(1 - \sigma(z_k))]$
    written so that no exponential overflows and no logarithm sees 0: for any finite
    $z$ the loss and the gradient are finite. With probabilities $p$ (clipped,
    $\tilde p = \operatorname{clip}(p, \epsilon, 1 - \epsilon)$,
    $\epsilon = 10^{-7}$):

    $$
    \ell = -\frac{1}{K} \sum_k \left[ y_k \log \tilde p_k
      + (1 - y_k) \log(1 - \tilde p_k) \right], \qquad
    \frac{\partial \ell}{\partial p_k} = \frac{[\epsilon \le p_k \le 1 - \epsilon]}{K}
      \left( \frac{1 - y_k}{1 - \tilde p_k} - \frac{y_k}{\tilde p_k} \right).
    $$

    Keras's ``binary_crossentropy`` on ``(B, T)`` targets against ``(B, T, 1)``
    predictions squeezes the predictions and averages over time first; unweighted,
    that is the same mean.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.losses import BinaryCrossentropy
    >>> loss = BinaryCrossentropy(from_logits=True)
    >>> z = np.array([[1e4], [-1e4], [0.0]])           # (batch, 1) logits
    >>> round(loss.forward(z, np.array([0, 0, 1])), 4)  # (1e4 + 0 + log 2) / 3
    3333.5644
    >>> loss.backward().ravel()                         # (sigmoid(z) - y) / 3
    array([ 0.33333333,  0.        , -0.16666667])
    """

    name = "binary_crossentropy"

    def _target(self, y_true, y_pred, valid):
        return _checks.binary_targets(y_true, y_pred.shape, y_pred.dtype, valid)

    def _position_loss(self, y_pred, y_true):
        if self.from_logits:
            z = y_pred
            e = np.exp(-np.abs(z))
            terms = np.maximum(z, 0) - z * y_true + np.log1p(e)
            return np.mean(terms, axis=-1), e
        lo, hi = _clip_bounds(y_pred.dtype)
        pc = np.clip(y_pred, lo, hi)
        terms = -(y_true * np.log(pc) + (1 - y_true) * np.log(1 - pc))
        return np.mean(terms, axis=-1), pc

    def _position_grad(self, y_pred, y_true, parts):
        K = y_pred.dtype.type(y_pred.shape[-1])
        if self.from_logits:
            e = parts
            sig = np.where(y_pred >= 0, 1 / (1 + e), e / (1 + e))
            return (sig - y_true) / K
        pc = parts
        lo, hi = _clip_bounds(y_pred.dtype)
        inside = (y_pred >= lo) & (y_pred <= hi)
        g = np.where(inside, (1 - y_true) / (1 - pc) - y_true / pc, 0)
        return g.astype(y_pred.dtype, copy=False) / K


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
        return _checks.dense_targets(y_true, y_pred.shape, y_pred.dtype)

    def _position_loss(self, y_pred, y_true):
        d = y_pred - y_true
        return np.mean(d * d, axis=-1), d

    def _position_grad(self, y_pred, y_true, parts):
        d = parts
        return d * y_pred.dtype.type(2.0 / y_pred.shape[-1])


# ---------------------------------------------------------------------- registry
_REGISTRY = Registry(
    "loss", Loss,
    {cls.name: cls for cls in (BinaryCrossentropy, CategoricalCrossentropy,
                               SparseCategoricalCrossentropy, MeanSquaredError)},
    # other names `get` accepts: Keras's aliases and the class names.
    aliases={"mse": "mean_squared_error", "bce": "binary_crossentropy",
             "BinaryCrossentropy": "binary_crossentropy",
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
        ``"binary_crossentropy"`` or ``"bce"``, ``"mean_squared_error"`` or
        ``"mse"`` (or the class name), giving the loss
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
