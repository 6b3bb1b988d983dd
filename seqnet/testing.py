"""Test tools for people writing their own layers: Hypothesis strategies and a
gradient assertion for pytest.

`assert_gradients_close` runs :func:`seqnet.check_gradients` (float64 central
differences on every parameter, the input and the initial state) and raises an
`AssertionError` naming the worst tensor, its error, the tolerance and its worst
entries (``atol`` passes tensors whose whole gradient is below the differences'
noise, as drawn problems can make it); it needs nothing beyond seqnet.

The strategies draw the problems seqnet's own property tests (``tests/property``)
run on:

- `shapes`: batch, steps, input and hidden sizes, small by default;
- `lengths`: ragged valid lengths ``(B,)``, ``1 <= lengths[b] <= T`` (seqnet's
  convention: a row's valid steps come first, padding trails);
- `layer_configs`: a cell variant of :mod:`seqnet.variants` (which fixes options
  such as ``nonlinearity`` or ``reset_after``), ``num_layers``, ``bidirectional``,
  ``return_sequences``, ``return_state``, and any further constructor options given
  as strategies, as a `LayerConfig` that builds the layer;
- `dtypes`, `float_arrays` (bounded, finite values), `index_arrays` (token
  indices) and `initial_states` (one array per state tensor of a configuration).

Hypothesis is a test dependency of seqnet, not a runtime one (``pip install
"seqnet[test]"``). ``import seqnet`` never imports this module, and this module
imports Hypothesis only when a strategy is built: without Hypothesis,
`assert_gradients_close` and `LayerConfig` work, and calling a strategy function
raises an `ImportError` that names Hypothesis.

A ``@given`` test of a seqnet layer needs ``settings(deadline=None)``: the first
example pays for compiling the numba kernels (seqnet's ``tests/conftest.py``
profiles set it).

Examples
--------
>>> import numpy as np
>>> import seqnet
>>> from seqnet.testing import assert_gradients_close
>>> layer = seqnet.GRU(2, input_size=3, return_state=True, dtype=np.float64, seed=0)
>>> x = np.random.default_rng(0).standard_normal((2, 4, 3))
>>> report = assert_gradients_close(layer, x, lengths=np.array([4, 2]))
>>> report.max_error < 1e-6
True
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from . import _checks, variants
from .gradcheck import DEFAULT_TOLERANCE, check_gradients
from .layers.base import Layer

__all__ = ["assert_gradients_close", "Shape", "LayerConfig", "shapes", "lengths",
           "layer_configs", "dtypes", "float_arrays", "index_arrays", "initial_states"]


# --------------------------------------------------------------------------- assertion
def _format_index(index):
    return str(tuple(int(i) for i in index))


def _worst_entries(analytic, numeric, count):
    """Lines for the ``count`` entries of largest ``|analytic - numeric|`` (a NaN or
    infinite entry first)."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.ndim == 0:
        a, n = a.reshape(1), n.reshape(1)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - n).ravel()
    order = np.argsort(-np.where(np.isfinite(diff), diff, np.inf), kind="stable")[:count]
    lines = []
    for flat in order:
        index = np.unravel_index(flat, a.shape)
        lines.append(f"  {_format_index(index)}: analytic {a[index]:.6g}, "
                     f"numeric {n[index]:.6g}, difference {diff[flat]:.2e}")
    return lines


def _max_difference(report, name):
    """The largest ``|analytic - numeric|`` of a tensor (NaN when any entry is)."""
    a, n = report.analytic[name], report.numeric[name]
    if a.size == 0:
        return 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(np.asarray(a, np.float64) - np.asarray(n, np.float64))
    return float(diff.max()) if np.isfinite(diff).all() else float("nan")


def _failing(report, tolerance, atol):
    """Names of the tensors that fail, worst (a NaN first) first."""
    errors = report.errors
    ranked = sorted(errors, key=lambda k: (not np.isnan(errors[k]), -np.nan_to_num(errors[k])))
    return [k for k in ranked
            if not (errors[k] <= tolerance or (atol and _max_difference(report, k) <= atol))]


def _failure_message(layer, report, failing, tolerance, atol, entries):
    errors = report.errors
    worst = failing[0]
    error = errors[worst]
    what = ("a NaN or infinite gradient (analytic or numeric)" if np.isnan(error)
            else f"max relative error {error:.2e}")
    if atol and not np.isnan(error):
        what += f", max absolute difference {_max_difference(report, worst):.2e}"
    bounds = f"tolerance {tolerance:g}" + (f", atol {atol:g}" if atol else "")
    lines = [f"gradient check of {type(layer).__name__} failed: {worst!r} has {what} "
             f"({bounds})"]
    lines.append(f"worst entries of {worst!r}:")
    lines += _worst_entries(report.analytic[worst], report.numeric[worst], entries)
    lines.append("tensors above the tolerance: "
                 + ", ".join(f"{k} {errors[k]:.2e}" for k in failing))
    passing = sorted((k for k in errors if k not in failing), key=lambda k: -errors[k])
    if passing:
        lines.append(f"{len(passing)} {'tensor' if len(passing) == 1 else 'tensors'} "
                     f"within it (worst {passing[0]} {errors[passing[0]]:.2e})")
    return "\n".join(lines)


def assert_gradients_close(layer, x, *, lengths=None, initial_state=None,
                           tolerance=DEFAULT_TOLERANCE, atol=0.0, eps=1e-6, seed=0,
                           entries=3):
    """Assert that a layer's analytic gradients match float64 central differences.

    Runs :func:`seqnet.check_gradients` on ``layer`` and ``x``: every parameter,
    every float input and every initial state (zeros when none is given) is
    checked, and with ``return_state=True`` the final state's gradients take part.
    Dropout masks are held fixed by restoring ``layer.rng`` before every forward.

    Parameters
    ----------
    layer : seqnet.Layer
        The layer (or model) under test, computing in float64 (seqnet's layers:
        ``dtype=np.float64``); it follows the layer contract of
        :mod:`seqnet.layers.base`.
    x : array_like, shape (B, T, I), or list of array_like
        The input (a list for a layer with several inputs); integer input is passed
        as it is and has no gradient to check.
    lengths : array_like of int, shape (B,), optional
        Valid steps of each row, passed to ``forward``.
    initial_state : ndarray or sequence of ndarray, optional
        The state to start from (a layer with state).
    tolerance : float, default 1e-6
        The largest max-norm relative error (`seqnet.gradcheck.relative_error`)
        that passes, > 0. A correct float64 backward lands near 1e-9.
    atol : float, default 0.0
        A tensor whose largest absolute difference ``max|analytic - numeric|`` is
        at most ``atol`` passes too, >= 0. The default, 0, judges by the relative
        error alone (as the gradient-check suite does). Randomly drawn problems
        need a small ``atol`` (1e-8, say): a tensor whose whole gradient is tiny
        (1e-7, when it has vanished through time) has a relative error made of
        central differences' rounding noise, about ``1e-16 |L| / eps``.
    eps : float, default 1e-6
        Step of the central differences, > 0.
    seed : int, default 0
        Seeds the random projections of the check's loss.
    entries : int, default 3
        How many of the worst tensor's entries a failure message lists.

    Returns
    -------
    seqnet.gradcheck.GradcheckReport
        The report of the check, which passed.

    Raises
    ------
    AssertionError
        A tensor's error is above ``tolerance`` (and its largest difference above
        ``atol``) or NaN. The message names the worst such tensor, its error and the
        tolerance, lists its worst entries (index, analytic and numeric value) and
        every tensor that fails.
    TypeError
        ``layer`` is not a `seqnet.Layer`, or an argument has the wrong type.
    ValueError
        ``tolerance`` or ``eps`` is not a finite number > 0, ``atol`` not one
        >= 0, ``entries`` < 1, or the layer does not compute in float64.

    Examples
    --------
    >>> import numpy as np
    >>> import seqnet
    >>> dense = seqnet.Dense(2, input_size=3, dtype=np.float64, seed=0)
    >>> x = np.random.default_rng(0).standard_normal((4, 3))
    >>> sorted(assert_gradients_close(dense, x).errors)
    ['bias', 'weight', 'x']
    """
    __tracebackhide__ = True    # pytest shows the failing test's line, not this one
    if not isinstance(layer, Layer):
        raise TypeError("layer must be a seqnet.Layer (a layer or a model following the "
                        f"layer contract), got {type(layer).__name__}")
    tolerance = _checks.real(tolerance, "tolerance", 0.0, None, low_open=True)
    atol = _checks.real(atol, "atol", 0.0, None)
    eps = _checks.real(eps, "eps", 0.0, None, low_open=True)
    seed = _checks.seed(seed)
    entries = _checks.positive_int(entries, "entries")
    report = check_gradients(layer, x, initial_state, lengths=lengths, eps=eps, seed=seed)
    failing = _failing(report, tolerance, atol)
    if failing:
        raise AssertionError(_failure_message(layer, report, failing, tolerance, atol,
                                              entries))
    return report


# --------------------------------------------------------------------- configurations
@dataclasses.dataclass(frozen=True)
class Shape:
    """Sizes of one drawn problem, as `shapes` draws them; it unpacks as
    ``B, T, I, H = shape``.

    Parameters
    ----------
    batch, steps, input_size, hidden_size : int
        ``B`` (rows), ``T`` (time steps), ``I`` (input features) and ``H`` (hidden
        units).
    """

    batch: int
    steps: int
    input_size: int
    hidden_size: int

    def __iter__(self):
        """The sizes in order, ``(batch, steps, input_size, hidden_size)``."""
        return iter((self.batch, self.steps, self.input_size, self.hidden_size))

    @property
    def input_shape(self):
        """tuple of int: ``(B, T, I)``, the shape of a float input."""
        return (self.batch, self.steps, self.input_size)


@dataclasses.dataclass(frozen=True)
class LayerConfig:
    """A recurrent layer's configuration, as `layer_configs` draws it.

    Parameters
    ----------
    cell : str
        A cell variant of :data:`seqnet.variants.NAMES`; its options
        (``nonlinearity``, ``reset_after``) come with it.
    num_layers : int, default 1
        Stacked layers.
    bidirectional : bool, default False
        Both directions.
    return_sequences : bool, default True
        The whole output sequence, or each row's last valid step.
    return_state : bool, default False
        Whether ``forward`` returns the final state too.
    options : dict, default {}
        Further constructor keywords (``dropout``, ...).
    """

    cell: str
    num_layers: int = 1
    bidirectional: bool = False
    return_sequences: bool = True
    return_state: bool = False
    options: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        variants.get(self.cell)     # refuses an unknown name, listing the known ones
        _checks.positive_int(self.num_layers, "num_layers")
        for name in ("bidirectional", "return_sequences", "return_state"):
            _checks.flag(getattr(self, name), name)
        if not isinstance(self.options, dict):
            raise TypeError(f"options must be a dict, got {type(self.options).__name__}")

    @property
    def variant(self):
        """seqnet.variants.Variant: the cell variant."""
        return variants.get(self.cell)

    @property
    def layer_class(self):
        """type: the layer class (`seqnet.LSTM`, `seqnet.GRU`, `seqnet.SimpleRNN`)."""
        return self.variant.layer

    @property
    def num_directions(self):
        """int: ``D``, 2 when bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def state_names(self):
        """tuple of str: the state tensors (``("h", "c")`` for the LSTM)."""
        return self.variant.state_names

    @property
    def keywords(self):
        """dict: every constructor keyword but the hidden size: the variant's options,
        the configuration's fields and `options`."""
        return {**self.variant.options, "num_layers": self.num_layers,
                "bidirectional": self.bidirectional,
                "return_sequences": self.return_sequences,
                "return_state": self.return_state, **self.options}

    def output_shape(self, batch, steps, hidden_size):
        """The shape of the layer's output for a ``(batch, steps, I)`` input.

        Parameters
        ----------
        batch, steps, hidden_size : int
            ``B``, ``T`` and ``H``.

        Returns
        -------
        tuple of int
            ``(B, T, D*H)``, or ``(B, D*H)`` without ``return_sequences`` (``P``
            in place of ``H`` for an LSTM with ``proj_size=P`` in `options`).
        """
        features = self.num_directions * (self.options.get("proj_size") or hidden_size)
        return (batch, steps, features) if self.return_sequences else (batch, features)

    def state_shape(self, batch, hidden_size, name="h"):
        """The shape of the state tensor ``name``, ``(num_layers*D, B, H)`` (``h`` of
        an LSTM with ``proj_size=P`` in `options`: ``(num_layers*D, B, P)``).

        Parameters
        ----------
        batch, hidden_size : int
            ``B`` and ``H``.
        name : {"h", "c"}, default "h"
            The state tensor (`state_names`).

        Returns
        -------
        tuple of int
        """
        size = hidden_size
        if name == "h" and self.options.get("proj_size"):
            size = self.options["proj_size"]
        return (self.num_layers * self.num_directions, batch, size)

    def make(self, hidden_size, *, input_size=None, dtype=np.float64, seed=0,
             bias_scale=0.0, **overrides):
        """Build the layer.

        Parameters
        ----------
        hidden_size : int
            Hidden units ``H``.
        input_size : int, optional
            Input features; None builds the weights on the first call.
        dtype : {np.float64, np.float32}, default np.float64
            The layer's dtype (float64: what gradient checks need).
        seed : int, default 0
            Seeds the layer (its weights and its ``rng``) and the biases.
        bias_scale : float, default 0.0
            When > 0, every bias is drawn uniform in ``[-bias_scale, bias_scale]``
            (seqnet initialises biases to zero, and a zero bias hides bias bugs);
            needs ``input_size``.
        **overrides
            Constructor keywords that replace the configuration's
            (``return_sequences=False``, ...).

        Returns
        -------
        seqnet.RecurrentLayer

        Raises
        ------
        ValueError
            ``bias_scale`` < 0, or > 0 without ``input_size``.
        """
        bias_scale = _checks.real(bias_scale, "bias_scale", 0.0, None)
        if bias_scale and input_size is None:
            raise ValueError("bias_scale > 0 needs input_size (the biases are drawn once "
                             "the weights exist)")
        layer = self.layer_class(hidden_size, **(self.keywords | {
            "input_size": input_size, "dtype": dtype, "seed": seed} | overrides))
        if bias_scale:
            rng = np.random.default_rng(_checks.seed(seed) + 100)
            for name, p in layer.params.items():
                if name.startswith("bias"):
                    p[...] = rng.uniform(-bias_scale, bias_scale, p.shape)
        return layer


# ------------------------------------------------------------------------- strategies
def _hypothesis():
    """``(hypothesis.strategies, hypothesis.extra.numpy)``, or an ImportError naming
    Hypothesis, a test dependency."""
    try:
        from hypothesis import strategies as st
        from hypothesis.extra import numpy as hnp
    except ImportError as exc:
        raise ImportError(
            "seqnet.testing's strategies need Hypothesis, a test dependency of seqnet "
            "(not a runtime one): pip install hypothesis, or pip install 'seqnet[test]'"
        ) from exc
    return st, hnp


def _bounds(value, name, low=1):
    """An int ``n`` as ``(n, n)``, or a pair ``(min, max)`` with ``low <= min <= max``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        value = (value, value)
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f"{name} must be an integer or a pair (min, max) of integers, "
                        f"got {value!r}")
    lo = _checks.integer(value[0], f"{name}'s min")
    hi = _checks.integer(value[1], f"{name}'s max")
    if not low <= lo <= hi:
        raise ValueError(f"{name} must satisfy {low} <= min <= max, got ({lo}, {hi})")
    return lo, hi


def _flags(value, name):
    """A bool as ``(value,)``, or a non-empty sequence of bools to choose from."""
    if isinstance(value, (bool, np.bool_)):
        return (bool(value),)
    if not isinstance(value, (tuple, list)) or not value:
        raise TypeError(f"{name} must be a bool or a non-empty sequence of bools, "
                        f"got {value!r}")
    return tuple(_checks.flag(v, name) for v in value)


def _shape_arg(shape):
    if isinstance(shape, numbers.Integral) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape must be an integer or a tuple of integers, got {shape!r}")
    return tuple(_checks.integer(n, "shape", 0) for n in shape)


def shapes(*, batch=(1, 4), steps=(1, 6), input_size=(1, 4), hidden_size=(1, 5)):
    """A strategy for problem sizes: `Shape` ``(batch, steps, input_size,
    hidden_size)``.

    Each size is an integer (fixed) or a pair ``(min, max)``, both ends included,
    min >= 1. Hypothesis shrinks towards the smallest sizes.

    Parameters
    ----------
    batch : int or (int, int), default (1, 4)
        Rows ``B``.
    steps : int or (int, int), default (1, 6)
        Time steps ``T``.
    input_size : int or (int, int), default (1, 4)
        Input features ``I``.
    hidden_size : int or (int, int), default (1, 5)
        Hidden units ``H``.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of Shape

    Raises
    ------
    ImportError
        Hypothesis is not installed.
    TypeError, ValueError
        A size is not an integer or a pair ``(min, max)`` with ``1 <= min <= max``.

    Examples
    --------
    >>> from hypothesis import find
    >>> find(shapes(steps=(2, 6)), lambda s: s.batch >= 3)
    Shape(batch=3, steps=2, input_size=1, hidden_size=1)
    """
    st, _ = _hypothesis()
    sizes = [_bounds(v, n) for v, n in ((batch, "batch"), (steps, "steps"),
                                        (input_size, "input_size"),
                                        (hidden_size, "hidden_size"))]
    return st.builds(Shape, *(st.integers(lo, hi) for lo, hi in sizes))


def lengths(batch, steps, *, min_length=1, full=False):
    """A strategy for ragged lengths: an int64 array ``(batch,)`` of valid steps.

    seqnet's convention for ragged batches (``forward(x, lengths=...)``): row ``b``
    holds its ``lengths[b]`` valid steps first, and padding after them, which the
    layers ignore.

    Parameters
    ----------
    batch : int
        Rows ``B``, >= 1.
    steps : int
        Time steps ``T``, >= 1: every length is at most ``T``.
    min_length : int, default 1
        The shortest length, in ``[1, steps]``.
    full : bool, default False
        Guarantee that at least one row (any of them) is ``steps`` long.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of ndarray
        int64 arrays of shape ``(batch,)`` with ``min_length <= lengths <= steps``.

    Raises
    ------
    ImportError
        Hypothesis is not installed.
    TypeError, ValueError
        A size is not a positive integer, or ``min_length`` is outside
        ``[1, steps]``.

    Examples
    --------
    >>> from hypothesis import find
    >>> find(lengths(3, 5, full=True), lambda n: True)
    array([5, 1, 1])
    """
    st, hnp = _hypothesis()
    batch = _checks.positive_int(batch, "batch")
    steps = _checks.positive_int(steps, "steps")
    min_length = _checks.integer(min_length, "min_length", 1)
    if min_length > steps:
        raise ValueError(f"min_length must be in [1, steps={steps}], got {min_length}")
    full = _checks.flag(full, "full")
    arrays = hnp.arrays(np.int64, (batch,), elements=st.integers(min_length, steps))
    if not full:
        return arrays

    def with_a_full_row(pair):
        arr, row = pair
        arr = arr.copy()
        arr[row] = steps
        return arr

    return st.tuples(arrays, st.integers(0, batch - 1)).map(with_a_full_row)


def _option_strategy(st, value, variant):
    """The strategy of one option for ``variant``, or None to leave it out."""
    if callable(value) and not isinstance(value, (st.SearchStrategy, type)):
        value = value(variant)
        if value is None:
            return None
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


def layer_configs(*, cells=None, num_layers=(1, 2), bidirectional=(False, True),
                  return_sequences=(True, False), return_state=(False, True),
                  options=None):
    """A strategy for recurrent layer configurations: `LayerConfig`.

    Parameters
    ----------
    cells : sequence of str, optional
        Cell variants to choose from (:data:`seqnet.variants.NAMES`, the default:
        each fixes its options, such as ``nonlinearity`` and ``reset_after``).
    num_layers : int or (int, int), default (1, 2)
        Stacked layers: fixed, or a range ``(min, max)``.
    bidirectional, return_sequences, return_state : bool or sequence of bool
        A fixed value, or the values to choose from (all drawn by default).
    options : dict, optional
        Further constructor keywords, by name, each drawn per example (in name
        order), so that new layer options join the tests without a new
        signature. A value is a strategy, a plain value (always used), or a
        callable taking the `seqnet.variants.Variant` drawn and returning either
        of those, or None to leave the option out for that cell (an option only
        some cells have).

    Returns
    -------
    hypothesis.strategies.SearchStrategy of LayerConfig

    Raises
    ------
    ImportError
        Hypothesis is not installed.
    TypeError, ValueError
        An unknown cell, a bad range or flag choice, or ``options`` not a dict
        with string keys.

    Examples
    --------
    >>> from hypothesis import find, strategies as st
    >>> dropout = {"dropout": lambda v: st.sampled_from([0.0, 0.5])
    ...            if v.layer.__name__ == "LSTM" else None}
    >>> config = find(layer_configs(cells=["lstm"], options=dropout),
    ...               lambda c: c.options["dropout"] > 0)
    >>> config.keywords["dropout"], config.num_layers
    (0.5, 1)
    """
    st, _ = _hypothesis()
    names = tuple(variants.NAMES if cells is None else
                  ([cells] if isinstance(cells, str) else cells))
    if not names:
        raise ValueError("cells must name at least one cell variant")
    for name in names:
        variants.get(name)
    lo, hi = _bounds(num_layers, "num_layers")
    flags = {name: _flags(value, name) for name, value in (
        ("bidirectional", bidirectional), ("return_sequences", return_sequences),
        ("return_state", return_state))}
    options = {} if options is None else options
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise TypeError(f"options must be a dict of option names to strategies, "
                        f"got {options!r}")

    @st.composite
    def draw_config(draw):
        cell = draw(st.sampled_from(names))
        variant = variants.get(cell)
        fields = {name: draw(st.sampled_from(values)) for name, values in flags.items()}
        drawn = {}
        for key in sorted(options):
            strategy = _option_strategy(st, options[key], variant)
            if strategy is not None:
                drawn[key] = draw(strategy)
        return LayerConfig(cell, draw(st.integers(lo, hi)), options=drawn, **fields)

    return draw_config()


def dtypes(choices=(np.float32, np.float64)):
    """A strategy for a layer's dtype: float32 or float64.

    Parameters
    ----------
    choices : sequence of dtype, default (np.float32, np.float64)
        The dtypes to choose from, each float32 or float64.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of numpy.dtype

    Raises
    ------
    ImportError
        Hypothesis is not installed.
    TypeError, ValueError
        A choice is not float32 or float64, or there are none.
    """
    st, _ = _hypothesis()
    if isinstance(choices, (str, type, np.dtype)) or not hasattr(choices, "__iter__"):
        choices = (choices,)
    choices = tuple(_checks.float_dtype(c, "choices") for c in choices)
    if not choices:
        raise ValueError("choices must hold at least one dtype")
    return st.sampled_from(choices)


def float_arrays(shape, *, dtype=np.float64, bound=2.0, min_magnitude=0.0):
    """A strategy for float arrays of bounded, finite values (no subnormals).

    Parameters
    ----------
    shape : int or tuple of int
        The arrays' shape (``(B, T, I)`` for a recurrent layer's input).
    dtype : {np.float64, np.float32}, default np.float64
        The arrays' dtype; float32 values are exactly representable.
    bound : float, default 2.0
        Values lie in ``[-bound, bound]``; > 0.
    min_magnitude : float, default 0.0
        Values of smaller magnitude are replaced by 0, in ``[0, bound)``. For
        gradient checks: an exact zero is harmless, but an input such as 1e-120
        makes gradients (``dW = da x``) smaller than central differences can
        resolve, and their relative error meaningless.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of ndarray

    Raises
    ------
    ImportError
        Hypothesis is not installed.
    TypeError, ValueError
        A bad shape, dtype, bound or minimum magnitude.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import find
    >>> a = find(float_arrays((2, 3), dtype=np.float32, bound=0.1), lambda a: a.min() < 0)
    >>> a.dtype, a.shape, bool(np.abs(a).max() <= 0.1)
    (dtype('float32'), (2, 3), True)
    """
    st, hnp = _hypothesis()
    shape = _shape_arg(shape)
    dtype = _checks.float_dtype(dtype)
    bound = _checks.real(bound, "bound", 0.0, None, low_open=True)
    width = 8 * dtype.itemsize
    if width == 32:
        b32 = np.float32(bound)
        if b32 > bound:
            b32 = np.nextafter(b32, np.float32(0))
        bound = float(b32)
    min_magnitude = _checks.real(min_magnitude, "min_magnitude", 0.0, bound, high_open=True)
    elements = st.floats(-bound, bound, width=width, allow_nan=False, allow_infinity=False,
                         allow_subnormal=False)
    if min_magnitude:
        elements = elements.map(lambda v: 0.0 if abs(v) < min_magnitude else v)
    return hnp.arrays(dtype, shape, elements=elements)


def index_arrays(shape, vocab_size):
    """A strategy for integer index inputs (token ids): int64 arrays of values in
    ``[0, vocab_size)``.

    seqnet's recurrent layers and ``Embedding`` take ``(B, T)`` indices as input.

    Parameters
    ----------
    shape : int or tuple of int
        The arrays' shape, ``(B, T)`` for a sequence of tokens.
    vocab_size : int
        The number of distinct indices, >= 1.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of ndarray

    Raises
    ------
    ImportError
        Hypothesis is not installed.
    TypeError, ValueError
        A bad shape, or ``vocab_size`` not a positive integer.
    """
    st, hnp = _hypothesis()
    shape = _shape_arg(shape)
    vocab_size = _checks.positive_int(vocab_size, "vocab_size")
    return hnp.arrays(np.int64, shape, elements=st.integers(0, vocab_size - 1))


def initial_states(config, batch, hidden_size, *, dtype=np.float64, bound=1.0,
                   min_magnitude=0.0):
    """A strategy for a configuration's initial state: a tuple with one array
    ``(num_layers*D, B, H)`` per state tensor (``(h,)``, or ``(h, c)`` for the LSTM;
    ``h`` is ``(num_layers*D, B, P)`` with ``proj_size=P`` in the options).

    Parameters
    ----------
    config : LayerConfig
        The layer's configuration.
    batch, hidden_size : int
        ``B`` and ``H``.
    dtype : {np.float64, np.float32}, default np.float64
        The arrays' dtype.
    bound : float, default 1.0
        Values lie in ``[-bound, bound]``.
    min_magnitude : float, default 0.0
        Values of smaller magnitude are replaced by 0 (see `float_arrays`).

    Returns
    -------
    hypothesis.strategies.SearchStrategy of tuple of ndarray

    Raises
    ------
    ImportError
        Hypothesis is not installed.
    TypeError, ValueError
        ``config`` is not a `LayerConfig`, or a bad size, dtype or bound.
    """
    st, _ = _hypothesis()
    if not isinstance(config, LayerConfig):
        raise TypeError(f"config must be a LayerConfig, got {type(config).__name__}")
    batch = _checks.positive_int(batch, "batch")
    hidden_size = _checks.positive_int(hidden_size, "hidden_size")
    return st.tuples(*(float_arrays(config.state_shape(batch, hidden_size, name), dtype=dtype,
                                    bound=bound, min_magnitude=min_magnitude)
                       for name in config.state_names))
