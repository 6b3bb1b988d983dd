r"""Metrics, Keras's names: accuracies, top-k accuracies and bits per token.

A metric is a small stateful object. ``update(y_pred, y_true, mask=None,
sample_weight=None)`` adds one batch to its running totals, ``result()`` returns
the value over every batch since the last ``reset()``, as a Python float. Shapes are
the losses' (:mod:`seqnet.losses`): ``y_pred`` is ``(B, C)`` or ``(B, T, C)``, the
leading axes index *positions* and the last holds classes (or the binary outputs),
and the argument order is PyTorch's (prediction first).

The weighted mean
-----------------
Each position $n$ has a value $v_n$ (1 for a hit, 0 for a miss; for the binary
accuracy, the fraction of its $K$ outputs that are right; for bits per token, its
cross-entropy in bits). With $w_n$ the ``mask`` and $s_n$ the ``sample_weight``
(each 1 when not given; ``(B,)`` broadcast over time, ``(B, T)``, or Keras's
``(B, 1)``), over all the batches seen:

$$
\text{result} = \frac{\sum_n w_n s_n v_n}{\sum_n w_n s_n},
$$

so padded positions (mask 0, e.g. from `seqnet.losses.mask_from_lengths`) never
count, whatever they hold (NaN, an out-of-range label). This is Keras 3's
``MeanMetricWrapper``: its mask multiplies the sample weights, and the mean divides
by the weights' total. Unlike the losses (which divide by the number of positions or
the mask's total, see :mod:`seqnet.losses`), sample weights *are* divided out here:
sample weights of 0.5 everywhere leave an accuracy unchanged, in seqnet as in Keras.
Before any weight has been counted, ``result()`` is 0.0 (Keras's divide-no-nan).
Which weights a metric gets is its caller's choice: Keras's ``compile(metrics=...)``
update their metrics without the sample weights (mask only), its
``compile(weighted_metrics=...)`` with them.

Totals are kept in float64, so accumulating batches gives the result of one big
batch (up to rounding). One difference from Keras: Keras first averages each
sequence over time and counts it with weight ``sum_t(w s) / T``, so batches padded to
different lengths ``T`` are weighed by ``1/T``; seqnet weighs every position the same
(for batches of one length the results are equal).

Logits
------
`BinaryAccuracy` and `BitsPerToken` take ``from_logits``: a model that trains on
logits (a loss with ``from_logits=True``) gives its metrics logits too, and
`get` copies the loss's ``from_logits`` into them. The binary accuracy on logits
thresholds $z > \log(t / (1 - t))$ (0 for $t = 0.5$), the same decision as
$\sigma(z) > t$ without rounding the sigmoid. The (top-k) categorical accuracies
compare scores, which a softmax does not reorder, so they take logits or
probabilities alike.
"""

from __future__ import annotations

import contextlib

import numpy as np

from . import _checks
from ._registry import Registry
from .activations import stable_parts

__all__ = ["BinaryAccuracy", "BitsPerToken", "CategoricalAccuracy", "Metric",
           "SparseCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
           "TopKCategoricalAccuracy", "from_config", "get"]

#: Keras's ``backend.epsilon()``, as in `seqnet.losses.EPSILON`: probabilities are
#: clipped to ``[EPSILON, 1 - EPSILON]`` before their logarithm.
EPSILON = 1e-7


def _quiet_if(weighted):
    """Silence floating-point warnings when some positions may not count: their values
    (padding, inf, NaN) are discarded."""
    return np.errstate(all="ignore") if weighted else contextlib.nullcontext()


def _label(name):
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {name!r}")
    if not name:
        raise ValueError("name must be a non-empty string, got ''")
    return name


# ----------------------------------------------------------------------- base class
class Metric:
    """Base class of the metrics: checks, weighting and the running totals.

    Parameters
    ----------
    name : str, optional
        The metric's name in logs (Keras's ``name``); the class's `key` by default.
        ``metrics.get("accuracy", loss=...)`` names the accuracy it picks
        ``"accuracy"``, as Keras does.

    Raises
    ------
    TypeError
        ``name`` is not a string.
    ValueError
        ``name`` is empty.

    Notes
    -----
    Subclasses set `key` (the name `get` and `from_config` know them by) and
    implement ``_target`` (check and convert ``y_true``) and ``_values`` (the value
    $v_n$ at every position); see the module for the weighted mean.
    """

    #: the name `get` and `from_config` know this metric by.
    key = ""

    def __init__(self, name=None):
        self.name = self.key if name is None else _label(name)
        self._total = 0.0
        self._count = 0.0

    def update(self, y_pred, y_true, mask=None, sample_weight=None):
        """Add one batch to the running totals.

        Parameters
        ----------
        y_pred : array_like of float32 or float64, shape (B, C) or (B, T, C)
            The model's output (logits when the metric has ``from_logits=True``).
        y_true : array_like
            Targets; their form depends on the metric (see the class).
        mask : array_like, shape (B,), (B, T) or (B, 1), optional
            Non-negative finite weights (bool works as 0/1); positions of weight 0
            (padding) never count.
        sample_weight : array_like, shape (B,), (B, T) or (B, 1), optional
            Non-negative finite weights per sequence or position, multiplied into the
            mask.

        Raises
        ------
        TypeError
            ``y_pred`` is not float32 or float64, or ``y_true``, ``mask`` or
            ``sample_weight`` is not of a numeric dtype the metric takes.
        ValueError
            ``y_pred`` below 2-D or empty; ``y_true``, ``mask`` or ``sample_weight``
            of the wrong shape; weights negative or not finite; a target out of
            range at a position that counts.
        """
        y_pred = _checks.predictions(y_pred)
        dt = y_pred.dtype
        mask_w = _checks.position_weights(mask, "mask", y_pred.shape, dt)
        sample_w = _checks.position_weights(sample_weight, "sample_weight", y_pred.shape, dt)
        if mask_w is None:
            weights = sample_w
        else:
            weights = mask_w if sample_w is None else mask_w * sample_w
        valid = None if weights is None else weights > 0
        y_true = self._target(y_true, y_pred, valid)
        with _quiet_if(valid is not None):
            values = self._values(y_pred, y_true)
        if weights is None:
            self._total += float(np.sum(values, dtype=np.float64))
            self._count += float(values.size)
        else:
            w = weights.astype(np.float64)
            self._total += float(np.sum(np.where(valid, w * values, 0.0)))
            self._count += float(np.sum(w))

    def result(self):
        """The weighted mean of the values of every batch since the last `reset`.

        Returns
        -------
        float
            0.0 when nothing has been counted yet (as Keras).
        """
        return self._total / self._count if self._count > 0 else 0.0

    def reset(self):
        """Forget every batch: the next `result` counts only later updates."""
        self._total = 0.0
        self._count = 0.0

    def get_config(self):
        """The metric's constructor arguments, with its key and its name.

        Returns
        -------
        dict
            JSON-serialisable: ``{"metric": <key>, "name": <name>, **arguments}``;
            give it to `from_config` to rebuild the metric (without its totals).
        """
        return {"metric": self.key, "name": self.name, **self._arguments()}

    def __repr__(self):
        args = {**self._arguments(), **({} if self.name == self.key else {"name": self.name})}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in args.items())})"

    # -------------------------------------------------------------- for subclasses
    def _arguments(self):
        return {}

    def _target(self, y_true, y_pred, valid):
        raise NotImplementedError

    def _values(self, y_pred, y_true):
        raise NotImplementedError


def _in_top_k(y_pred, k_true, k):
    """Keras's (TensorFlow's) ``in_top_k`` at every position: the target's score is at
    least the k-th largest, i.e. fewer than ``k`` classes score strictly higher (ties
    count as hits; ``k >= C`` always hits)."""
    target = np.take_along_axis(y_pred, k_true[..., None], axis=-1)
    return (np.sum(y_pred > target, axis=-1) < k).astype(np.float64)


def _first_argmax(a):
    """The index of the first maximum along the last axis (NumPy's and Keras's ties)."""
    return np.argmax(a, axis=-1)


# ------------------------------------------------------------------------ accuracies
class BinaryAccuracy(Metric):
    r"""How often binary predictions match binary targets (Keras's ``binary_accuracy``).

    Parameters
    ----------
    threshold : float, default 0.5
        A probability counts as 1 when it is strictly above ``threshold``; in
        ``[0, 1]``, and in ``(0, 1)`` with ``from_logits``.
    from_logits : bool, default False
        ``y_pred`` holds logits: $z$ counts as 1 when
        $z > \log(t / (1 - t))$, which is $\sigma(z) > t$ (0 for the default).
    name : str, optional
        The name in logs; ``"binary_accuracy"`` by default.

    Raises
    ------
    TypeError
        An argument of the wrong type.
    ValueError
        ``threshold`` out of range, or ``name`` empty.

    Notes
    -----
    ``y_pred`` is ``(B, K)`` or ``(B, T, K)``, and ``y_true`` has its shape (or
    ``y_pred.shape[:-1]`` when ``K = 1``) with targets in $[0, 1]$ (float,
    integer or bool), as for `seqnet.losses.BinaryCrossentropy`. A position's value
    is the fraction of its $K$ outputs where ``y_true == (y_pred > threshold)``:
    a soft target such as 0.7 never matches, as in Keras.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.metrics import BinaryAccuracy
    >>> m = BinaryAccuracy()
    >>> m.update(np.array([[0.9], [0.2], [0.6], [0.5]]), np.array([1, 0, 0, 1]))
    >>> m.result()
    0.5
    """

    key = "binary_accuracy"

    def __init__(self, threshold=0.5, from_logits=False, name=None):
        super().__init__(name)
        self.from_logits = _checks.flag(from_logits, "from_logits")
        self.threshold = _checks.real(threshold, "threshold", 0.0, 1.0,
                                      low_open=self.from_logits, high_open=self.from_logits,
                                      note=" (a probability; open with from_logits)")

    def _arguments(self):
        return {"threshold": self.threshold, "from_logits": self.from_logits}

    def _target(self, y_true, y_pred, valid):
        return _checks.binary_targets(y_true, y_pred.shape, y_pred.dtype, valid)

    def _values(self, y_pred, y_true):
        t = self.threshold
        if self.from_logits:
            cut = np.log(t) - np.log1p(-t)          # the logit of t, in float64
            predicted = y_pred.astype(np.float64) > cut
        else:
            predicted = y_pred > y_pred.dtype.type(t)
        return np.mean(y_true == predicted, axis=-1, dtype=np.float64)


class CategoricalAccuracy(Metric):
    """How often the top class is the one-hot target's (Keras's ``categorical_accuracy``).

    Parameters
    ----------
    name : str, optional
        The name in logs; ``"categorical_accuracy"`` by default.

    Raises
    ------
    TypeError
        ``name`` is not a string.
    ValueError
        ``name`` is empty.

    Notes
    -----
    ``y_true`` has the shape of ``y_pred`` (one-hot or probability rows). A position
    is a hit when ``argmax(y_pred) == argmax(y_true)``, each taking the first maximum
    on ties, as Keras. Logits or probabilities give the same result.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.metrics import CategoricalAccuracy
    >>> m = CategoricalAccuracy()
    >>> m.update(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([[0, 1], [0, 1]]))
    >>> m.result()
    0.5
    """

    key = "categorical_accuracy"

    def _target(self, y_true, y_pred, valid):
        return _first_argmax(_checks.dense_targets(
            y_true, y_pred.shape, y_pred.dtype, what="real numeric (one-hot)"))

    def _values(self, y_pred, y_true):
        return (_first_argmax(y_pred) == y_true).astype(np.float64)


class SparseCategoricalAccuracy(Metric):
    """How often the top class is the integer target (Keras's
    ``sparse_categorical_accuracy``).

    Parameters
    ----------
    name : str, optional
        The name in logs; ``"sparse_categorical_accuracy"`` by default.

    Raises
    ------
    TypeError
        ``name`` is not a string.
    ValueError
        ``name`` is empty.

    Notes
    -----
    ``y_true`` holds class indices (integer dtype) of shape ``y_pred.shape[:-1]``
    (or with Keras's trailing axis of 1), in ``[0, C)`` wherever the position
    counts. A position is a hit when ``argmax(y_pred)`` (the first maximum on ties)
    is its target.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.metrics import SparseCategoricalAccuracy
    >>> m = SparseCategoricalAccuracy()
    >>> logits = np.array([[[2.0, 0.0], [0.0, 1.0], [5.0, 0.0]]])   # (1, 3, 2)
    >>> m.update(logits, np.array([[0, 0, 1]]), mask=np.array([[1, 1, 0]]))
    >>> m.result()                                  # the padded third step is skipped
    0.5
    """

    key = "sparse_categorical_accuracy"

    def _target(self, y_true, y_pred, valid):
        return _checks.class_indices(y_true, y_pred.shape, valid)

    def _values(self, y_pred, y_true):
        return (_first_argmax(y_pred) == y_true).astype(np.float64)


class _TopK(Metric):
    """Base of the top-k accuracies: ``k`` and its config."""

    def __init__(self, k=5, name=None):
        super().__init__(name)
        self.k = _checks.positive_int(k, "k")

    def _arguments(self):
        return {"k": self.k}


class TopKCategoricalAccuracy(_TopK):
    """How often the one-hot target is among the ``k`` top classes (Keras's
    ``top_k_categorical_accuracy``).

    Parameters
    ----------
    k : int, default 5
        How many top classes count as a hit.
    name : str, optional
        The name in logs; ``"top_k_categorical_accuracy"`` by default.

    Raises
    ------
    TypeError
        ``k`` is not an integer or ``name`` not a string.
    ValueError
        ``k`` is below 1, or ``name`` is empty.

    Notes
    -----
    ``y_true`` has the shape of ``y_pred``; its target is ``argmax(y_true)``. Keras's
    tie rule: a hit when fewer than ``k`` classes score strictly higher than the
    target (so ties with the k-th score count, and ``k >= C`` always hits).

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.metrics import TopKCategoricalAccuracy
    >>> m = TopKCategoricalAccuracy(k=2)
    >>> scores = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]])
    >>> m.update(scores, np.array([[0, 1, 0], [0, 0, 1]]))
    >>> m.result()
    0.5
    """

    key = "top_k_categorical_accuracy"

    def _target(self, y_true, y_pred, valid):
        return _first_argmax(_checks.dense_targets(
            y_true, y_pred.shape, y_pred.dtype, what="real numeric (one-hot)"))

    def _values(self, y_pred, y_true):
        return _in_top_k(y_pred, y_true, self.k)


class SparseTopKCategoricalAccuracy(_TopK):
    """How often the integer target is among the ``k`` top classes (Keras's
    ``sparse_top_k_categorical_accuracy``).

    Parameters
    ----------
    k : int, default 5
        How many top classes count as a hit.
    name : str, optional
        The name in logs; ``"sparse_top_k_categorical_accuracy"`` by default.

    Raises
    ------
    TypeError
        ``k`` is not an integer or ``name`` not a string.
    ValueError
        ``k`` is below 1, or ``name`` is empty.

    Notes
    -----
    ``y_true`` holds class indices as for `SparseCategoricalAccuracy`; ties as for
    `TopKCategoricalAccuracy`.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.metrics import SparseTopKCategoricalAccuracy
    >>> m = SparseTopKCategoricalAccuracy(k=2)
    >>> m.update(np.array([[0.5, 0.25, 0.25]]), np.array([2]))   # tied 2nd: a hit
    >>> m.result()
    1.0
    """

    key = "sparse_top_k_categorical_accuracy"

    def _target(self, y_true, y_pred, valid):
        return _checks.class_indices(y_true, y_pred.shape, valid)

    def _values(self, y_pred, y_true):
        return _in_top_k(y_pred, y_true, self.k)


# -------------------------------------------------------------------- bits per token
class BitsPerToken(Metric):
    r"""Cross-entropy in bits per counted token: the mean of $-\log_2 p(\text{target})$.

    Parameters
    ----------
    from_logits : bool, default False
        ``y_pred`` holds logits (a stable log-softmax) rather than probabilities.
    name : str, optional
        The name in logs; ``"bits_per_token"`` by default.

    Raises
    ------
    TypeError
        An argument of the wrong type.
    ValueError
        ``name`` is empty.

    Notes
    -----
    ``y_true`` holds class indices (integer dtype, shape ``y_pred.shape[:-1]``, as
    for `seqnet.losses.SparseCategoricalCrossentropy`) or one-hot/probability rows
    (real dtype, the shape of ``y_pred``). A position's value is

    $$
    v = -\sum_c y_c \log_2 q_c = \frac{\ell_\text{CE}}{\ln 2},
    $$

    with $q = \operatorname{softmax}(z)$ from logits, or, from probabilities,
    the loss's rule (rows normalised to sum 1, clipped to
    $[\epsilon, 1 - \epsilon]$). Unweighted, the result is the loss of
    `seqnet.losses.SparseCategoricalCrossentropy` divided by $\ln 2$; a
    uniform guess over $V$ tokens scores $\log_2 V$.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.metrics import BitsPerToken
    >>> m = BitsPerToken(from_logits=True)
    >>> m.update(np.zeros((2, 3, 4)), np.zeros((2, 3), int))   # uniform over 4 tokens
    >>> m.result()
    2.0
    """

    key = "bits_per_token"

    def __init__(self, from_logits=False, name=None):
        super().__init__(name)
        self.from_logits = _checks.flag(from_logits, "from_logits")

    def _arguments(self):
        return {"from_logits": self.from_logits}

    def _target(self, y_true, y_pred, valid):
        kind = np.asarray(_checks.to_numpy(y_true)).dtype.kind
        if kind in "iu":
            return _checks.class_indices(y_true, y_pred.shape, valid)
        if kind in "bf":
            return _checks.dense_targets(y_true, y_pred.shape, y_pred.dtype,
                                         what="class-index (integer) or one-hot (real)")
        raise TypeError(f"y_true must be an integer array of class indices or a real array "
                        f"of one-hot rows, got dtype {np.asarray(y_true).dtype}")

    def _log_probabilities(self, y_pred):
        if self.from_logits:
            s, _, se = stable_parts(y_pred, -1)
            return s - np.log(se)
        q = y_pred / np.sum(y_pred, axis=-1, keepdims=True)
        dt = y_pred.dtype.type
        return np.log(np.clip(q, dt(EPSILON), dt(1 - EPSILON)))

    def _values(self, y_pred, y_true):
        logp = self._log_probabilities(y_pred)
        if y_true.dtype.kind in "iu":
            nats = -np.take_along_axis(logp, y_true[..., None], axis=-1)[..., 0]
        else:
            terms = np.zeros_like(logp)     # zero targets add exactly 0, even against -inf
            np.multiply(y_true, logp, out=terms, where=y_true != 0)
            nats = -np.sum(terms, axis=-1)
        return nats.astype(np.float64) / np.log(2.0)


# ---------------------------------------------------------------------- registry
_CLASSES = (BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, BitsPerToken)
_REGISTRY = Registry(
    "metric", Metric, {cls.key: cls for cls in _CLASSES},
    # other names `get` accepts: the class names (Keras's too)
    aliases={cls.__name__: cls.key for cls in _CLASSES})

#: the names that pick an accuracy from the loss, as Keras's ``compile`` does.
ACCURACY_NAMES = ("accuracy", "acc")
#: which accuracy goes with which loss (by the loss's registered name).
_ACCURACY_FOR_LOSS = {
    "sparse_categorical_crossentropy": SparseCategoricalAccuracy,
    "categorical_crossentropy": CategoricalAccuracy,
    "binary_crossentropy": BinaryAccuracy,
}


def _loss_facts(loss):
    """(name, from_logits) of a loss instance or name (duck-typed: the losses live on
    the same floor)."""
    if isinstance(loss, str):
        return loss, False
    name = getattr(loss, "name", None)
    if not isinstance(name, str):
        raise TypeError(f"loss must be a seqnet loss or a loss name, got "
                        f"{type(loss).__name__}")
    return name, bool(getattr(loss, "from_logits", False))


def get(identifier, loss=None):
    """A metric from an instance, a name or a config.

    Parameters
    ----------
    identifier : Metric, str or dict
        A `Metric` (returned as it is); a name: ``"accuracy"`` (or ``"acc"``, see
        below), ``"binary_accuracy"``, ``"categorical_accuracy"``,
        ``"sparse_categorical_accuracy"``, ``"top_k_categorical_accuracy"``,
        ``"sparse_top_k_categorical_accuracy"``, ``"bits_per_token"`` (or the class
        name), giving a new metric with its default arguments; or a config dict, as
        for `from_config`.
    loss : Loss or str, optional
        The loss the model trains with (an instance or a name). ``"accuracy"`` is
        resolved against it as Keras's ``compile`` does: sparse categorical
        cross-entropy -> `SparseCategoricalAccuracy`, categorical cross-entropy ->
        `CategoricalAccuracy`, binary cross-entropy -> `BinaryAccuracy`, named
        ``"accuracy"`` (or ``"acc"``). A metric name given as a string whose class
        takes ``from_logits`` (binary accuracy, bits per token) copies the loss's
        ``from_logits``: the metric sees what the loss sees.

    Returns
    -------
    Metric

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones); ``"accuracy"`` without
        a loss, or with a loss that has no accuracy (mean squared error: name the
        metric you mean instead).
    TypeError
        Any other kind of identifier or loss.

    Examples
    --------
    >>> from seqnet import losses, metrics
    >>> metrics.get("accuracy", loss="sparse_categorical_crossentropy")
    SparseCategoricalAccuracy(name='accuracy')
    >>> metrics.get("binary_accuracy", loss=losses.BinaryCrossentropy(from_logits=True))
    BinaryAccuracy(threshold=0.5, from_logits=True)
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        facts = None if loss is None else _loss_facts(loss)
        if identifier in ACCURACY_NAMES:
            if facts is None:
                raise ValueError(f"metric {identifier!r} is resolved against the loss: pass "
                                 f"loss=, or name the accuracy ({sorted(_ACCURACY_FOR_LOSS)} "
                                 f"go with {[c.key for c in _ACCURACY_FOR_LOSS.values()]})")
            cls = _ACCURACY_FOR_LOSS.get(facts[0])
            if cls is None:
                raise ValueError(f"metric {identifier!r} has no meaning for the loss "
                                 f"{facts[0]!r}: it is defined for "
                                 f"{sorted(_ACCURACY_FOR_LOSS)}; name the metric you mean "
                                 f"(one of {_REGISTRY.names})")
            identifier, name = cls.key, identifier
        elif identifier in _REGISTRY.names:
            cls, name = _REGISTRY.lookup(identifier, "identifier"), None
        else:
            raise ValueError(f"unknown metric {identifier!r}: identifier must be one of "
                             f"{list(ACCURACY_NAMES) + _REGISTRY.names}")
        kwargs = {"name": name}
        if facts is not None and "from_logits" in cls()._arguments():
            kwargs["from_logits"] = facts[1]
        return cls(**kwargs)
    if isinstance(identifier, dict):
        return from_config(identifier)
    raise TypeError(f"identifier must be a Metric, a metric name or a config dict, got "
                    f"{type(identifier).__name__}")


def from_config(config):
    """Rebuild a metric from the output of its `Metric.get_config`.

    Parameters
    ----------
    config : dict
        ``{"metric": <key>, "name": <name>, **arguments}``; or, as for the losses,
        ``{"name": <key>, **arguments}`` (the metric is then named by its key).

    Returns
    -------
    Metric
        A new metric with empty totals.

    Raises
    ------
    ValueError
        No ``"metric"`` nor ``"name"``, an unknown key, or an argument the metric
        does not take.
    TypeError
        ``config`` is not a dict, or an argument has the wrong type.

    Examples
    --------
    >>> from seqnet import metrics
    >>> config = metrics.SparseTopKCategoricalAccuracy(k=3, name="top3").get_config()
    >>> config
    {'metric': 'sparse_top_k_categorical_accuracy', 'name': 'top3', 'k': 3}
    >>> metrics.from_config(config)
    SparseTopKCategoricalAccuracy(k=3, name='top3')
    """
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    if "metric" in config:
        cls = _REGISTRY.lookup(config["metric"], "config['metric']")
        kwargs = {k: v for k, v in config.items() if k != "metric"}
    elif "name" in config:
        if config["name"] in ACCURACY_NAMES:
            raise ValueError(f"config['name'] {config['name']!r} is resolved against the "
                             f"loss: use metrics.get({config['name']!r}, loss=...)")
        cls = _REGISTRY.lookup(config["name"], "config['name']")
        kwargs = {k: v for k, v in config.items() if k != "name"}
    else:
        raise ValueError(f"config must have a 'metric' (or 'name') entry, one of "
                         f"{_REGISTRY.names}; got keys {sorted(config)}")
    allowed = {"name", *cls()._arguments()}
    extra = sorted(set(kwargs) - allowed)
    if extra:
        raise ValueError(f"config has unexpected entries {extra} for {cls.key!r}; "
                         f"expected {sorted(allowed)}")
    return cls(**kwargs)
