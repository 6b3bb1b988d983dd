"""Finite-difference gradient checking for recurrent layers.

`check_gradients` checks any layer that follows seqnet's layer contract
against float64 central differences: every parameter tensor, the input and the
initial state(s). ``SUITE`` lists the cases that ``python -m seqnet.gradcheck``
and the test suite run over every cell and variant.

It relies on the layer contract (:mod:`seqnet.layers.base`) and nothing else:

- ``forward(x, [initial_state,] *, training=True[, lengths=...])`` returns the
  output, or a list of outputs (a recurrent layer built with ``return_state=True``:
  ``[out, *final_state]``);
- ``backward(douts)``, given one gradient per output, returns the gradient of every
  input: ``dx``, or ``[dx, *dinitial_state]`` for a layer with state (the check
  always passes that layer an initial state, zeros when none is given) and fills
  ``layer.grads``;
- ``layer.params`` and ``layer.grads`` are dicts with the same keys, and forward
  reads the arrays in ``params`` (it must see changes made to them in place);
- ``layer.state_names`` names its state tensors (``()`` for none), and
  ``layer.call(x, None, training=False)`` gives its state's shapes;
- optionally ``layer.rng``, a `numpy.random.Generator` for dropout and the
  recurrent layers' regularisers (recurrent dropout, zoneout, DropConnect). Every
  generator the forward can draw from is restored to its state before every forward,
  so that each forward sees the same masks: ``layer.rng`` and, recursively, those
  of every layer it holds (a model's ``layers``, a wrapper's inner layers, any
  attribute that is a layer), found by `_generators`.

A `seqnet.Model` follows the same contract, so a whole model is checked the same
way (every parameter of every layer, every float input).

The loss is ``L = sum_i sum(R_i * out_i)`` over the outputs, with fixed random
``R_i``, so that every output element (and every final state a layer returns) is
checked.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from .. import _dispatch, variants

__all__ = ["GradcheckReport", "check_gradients", "relative_error", "SUITE", "Case",
           "run_case", "DEFAULT_TOLERANCE"]

#: the suite's pass mark for the relative error of any tensor.
DEFAULT_TOLERANCE = 1e-6


def relative_error(analytic, numeric):
    """Max-norm relative error ``max|a - n| / max(max|a|, max|n|)`` of two tensors.

    It is 0 when both tensors are exactly zero, and NaN (which fails every
    tolerance) when either holds a NaN or an infinity. Measured against the tensor's own
    scale, it stays meaningful for entries whose gradient is (near) zero, where an
    element-wise relative error only measures the finite-difference noise.

    Parameters
    ----------
    analytic, numeric : array_like
        The two gradients ``a`` and ``n``, of one shape; computed in float64.

    Returns
    -------
    float
        The error, >= 0, or NaN.
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if not (np.isfinite(a).all() and np.isfinite(n).all()):
        return float("nan")  # max() below would skip a NaN: never pass one silently
    scale = max(np.abs(a).max(initial=0.0), np.abs(n).max(initial=0.0))
    if scale == 0.0:
        return 0.0
    return float(np.abs(a - n).max() / scale)


@dataclasses.dataclass
class GradcheckReport:
    """Result of `check_gradients`.

    Parameters
    ----------
    errors : dict of str to float
        Max-norm relative error per tensor (see `relative_error`): every
        parameter name, ``"x"`` and ``"initial_state[m]"``.
    analytic, numeric : dict of str to ndarray
        The gradients compared, float64, same keys as ``errors``, each of its
        tensor's shape (``x``: ``(B, T, I)``).
    """

    errors: dict
    analytic: dict
    numeric: dict

    @property
    def max_error(self):
        """float: the largest error over all tensors (0 when there are none; NaN
        when any tensor's error is NaN)."""
        return self.errors[self.worst] if self.errors else 0.0

    @property
    def worst(self):
        """str: the name of the tensor with the largest error (a NaN one first)."""
        return max(self.errors, key=lambda n: (np.isnan(self.errors[n]), self.errors[n]))

    def passed(self, tolerance=DEFAULT_TOLERANCE):
        """Whether every tensor's error is at most ``tolerance`` (and none is NaN).

        Parameters
        ----------
        tolerance : float, default DEFAULT_TOLERANCE
            The largest relative error that passes (``1e-6``).

        Returns
        -------
        bool
        """
        return all(e <= tolerance for e in self.errors.values())


def _as_tuple(state):
    return tuple(state) if isinstance(state, (tuple, list)) else (state,)


def _as_list(outputs):
    return list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]


def _like(template, parts):
    return tuple(parts) if isinstance(template, (tuple, list)) else parts[0]


def _input64(x):
    """An input as float64, or as it is when it holds integers (indices)."""
    arr = np.asarray(x)
    return np.array(arr) if arr.dtype.kind in "iu" else np.array(arr, dtype=np.float64)


def _generators(obj, seen=None):
    """Every `numpy.random.Generator` ``rng`` of ``obj`` and of the layers it holds,
    recursively (attributes that are layers, or lists, tuples and dicts of them),
    each once, in a fixed order."""
    from ..layers.base import Layer

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    out = []
    rng = getattr(obj, "rng", None)
    if isinstance(rng, np.random.Generator) and id(rng) not in seen:
        seen.add(id(rng))
        out.append(rng)
    for value in list(vars(obj).values()) if hasattr(obj, "__dict__") else []:
        items = value.values() if isinstance(value, dict) else (
            value if isinstance(value, (list, tuple)) else [value])
        for item in items:
            if isinstance(item, Layer) or hasattr(item, "layers") or hasattr(item, "layer"):
                out.extend(_generators(item, seen))
    return out


def check_gradients(layer, x, initial_state=None, *, lengths=None, eps=1e-6, seed=0):
    """Check a layer's analytic gradients against float64 central differences.

    Parameters
    ----------
    layer : seqnet.layers.Layer
        A layer following the contract in the module docstring, computing in
        float64 (for seqnet's layers: ``dtype=np.float64``); build a recurrent one
        with ``return_state=True`` to check its final state's gradients too.
    x : array_like, shape (B, T, I), or list of array_like
        Input (a list for a layer with several inputs: each is checked); floats
        are converted to float64; integer (index) input is passed as it is and has
        no gradient to check.
    initial_state : ndarray or sequence of ndarray, optional
        Initial state (a layer with state only). When omitted, the zero state is
        passed explicitly so that its gradient is checked too.
    lengths : array_like of int, shape (B,), or list, optional
        Passed to ``forward`` (a list, one entry per input, for a layer with
        several inputs).
    eps : float, default 1e-6
        Step of the central difference ``(L(p + eps) - L(p - eps)) / (2 eps)``.
    seed : int, default 0
        Seeds the random projections ``R`` and ``S`` of the loss.

    Returns
    -------
    GradcheckReport
        The error, analytic and numeric gradient of every parameter, ``x`` (or
        ``x[i]`` for each input of a list) and each initial state.

    Raises
    ------
    ValueError
        The layer does not compute in float64, or its ``grads`` lack a parameter
        after ``backward``.
    """
    if getattr(layer, "dtype", np.float64) != np.float64:
        raise ValueError("gradients are checked in float64: build the layer with "
                         f"dtype=np.float64 (it has {layer.dtype})")
    several = isinstance(x, (list, tuple))
    xs = [_input64(xi) for xi in (x if several else [x])]
    x = xs if several else xs[0]
    rng = np.random.default_rng(seed)
    # every generator the forward draws from (nested layers' too), reset before each
    # forward so that every forward draws the same dropout and zoneout masks.
    generators = _generators(layer)
    rng_states = [copy.deepcopy(g.bit_generator.state) for g in generators]
    stateful = bool(getattr(layer, "state_names", ()))
    options = {} if lengths is None else {"lengths": lengths}

    def forward(x_, state_):
        for g, state in zip(generators, rng_states, strict=True):
            g.bit_generator.state = copy.deepcopy(state)
        if stateful:
            return _as_list(layer.forward(x_, state_, training=True, **options))
        return _as_list(layer.forward(x_, training=True, **options))

    init, init_arg = [], None
    if stateful:
        if initial_state is None:
            _, final = layer.call(x, None, training=False, **options)
            initial_state = [np.zeros_like(s) for s in final]
        init = [np.array(s, dtype=np.float64) for s in _as_tuple(initial_state)]
        init_arg = _like(initial_state, init)
    outs = forward(x, init_arg)
    if outs[0].dtype != np.float64:
        raise ValueError(f"gradients are checked in float64, but the layer's output is "
                         f"{outs[0].dtype}")
    R = [rng.standard_normal(np.shape(o)) for o in outs]

    def loss():
        return float(sum(np.sum(r * o) for r, o in zip(R, forward(x, init_arg), strict=True)))

    forward(x, init_arg)
    grads = layer.backward(R if len(outs) > 1 else R[0])
    dx, dinit = (grads[0], grads[1:]) if stateful else (grads, [])
    analytic = {k: np.array(v, dtype=np.float64) for k, v in layer.grads.items()}
    names = [f"x[{i}]" for i in range(len(xs))] if several else ["x"]
    dxs = list(dx) if several else [dx]
    if len(dxs) != len(xs):
        raise ValueError(f"backward returned {len(dxs)} input gradients for {len(xs)} inputs")
    targets = dict(layer.params)
    for name, xi, d in zip(names, xs, dxs, strict=True):
        if xi.dtype.kind == "f":    # integer (index) input has no gradient
            analytic[name] = np.array(d, dtype=np.float64)
            targets[name] = xi
    for m, d in enumerate(dinit):
        analytic[f"initial_state[{m}]"] = np.array(d, dtype=np.float64)
    for m, s in enumerate(init):
        targets[f"initial_state[{m}]"] = s
    numeric = {}
    for name, arr in targets.items():
        num = np.zeros(arr.shape)
        for idx in np.ndindex(arr.shape):
            orig = arr[idx]
            arr[idx] = orig + eps
            up = loss()
            arr[idx] = orig - eps
            down = loss()
            arr[idx] = orig
            num[idx] = (up - down) / (2.0 * eps)
        numeric[name] = num
    errors = {}
    for name in numeric:
        if name not in analytic:
            raise ValueError(f"layer.grads has no entry {name!r} after backward")
        errors[name] = relative_error(analytic[name], numeric[name])
    return GradcheckReport(errors=errors, analytic=analytic, numeric=numeric)


@dataclasses.dataclass(frozen=True)
class Case:
    """One case of the suite: a layer configuration and the data to check it on.

    Parameters
    ----------
    cell : str
        A name of :data:`seqnet.variants.NAMES` (``"lstm"``, ``"gru-v1"``, ...).
    num_layers : int, default 1
        Stacked layers.
    bidirectional : bool, default False
        Both directions.
    return_sequences : bool, default True
        The whole output sequence, or the last step only.
    lengths : bool, default False
        Pass per-row lengths ``[5, 2, 4]``.
    initial_state : bool, default False
        Pass a random initial state (else the zero state is checked).
    dropout : float, default 0.0
        Dropout between layers, seeded so that every forward draws the same mask.
    options : tuple of (str, object) pairs, default ()
        The cell's further constructor keywords, e.g. ``(("bias", False),)`` or
        ``(("proj_size", 2),)``.
    """

    cell: str
    num_layers: int = 1
    bidirectional: bool = False
    return_sequences: bool = True
    lengths: bool = False
    initial_state: bool = False
    dropout: float = 0.0
    options: tuple = ()

    @property
    def name(self):
        """str: a short label for tables and test ids, e.g. ``lstm-L2-bi-seq-h0``."""
        parts = [self.cell, f"L{self.num_layers}", "bi" if self.bidirectional else "uni",
                 "seq" if self.return_sequences else "last"]
        if self.lengths:
            parts.append("lengths")
        if self.initial_state:
            parts.append("h0")
        if self.dropout:
            parts.append(f"drop{self.dropout}")
        parts.extend(f"{k}={v}" for k, v in self.options)
        return "-".join(parts)

    def make_layer(self, seed=0):
        """The float64 layer of this case, with non-zero random biases.

        Parameters
        ----------
        seed : int, default 0
            Seeds the layer and its parameters, uniform in [-0.8, 0.8].

        Returns
        -------
        RecurrentLayer
            Built for ``INPUT`` features, ``HIDDEN`` units, with
            ``return_state=True`` (so that the final state's gradients are checked).
        """
        layer = variants.get(self.cell).make(
            HIDDEN, input_size=INPUT, num_layers=self.num_layers,
            bidirectional=self.bidirectional, return_sequences=self.return_sequences,
            return_state=True, dropout=self.dropout, dtype=np.float64, seed=seed,
            **dict(self.options))
        rng = np.random.default_rng(seed + 1)
        for p in layer.params.values():
            p[...] = rng.uniform(-0.8, 0.8, p.shape)
        return layer


#: sizes of the suite's layers and data: small enough for thousands of forwards.
BATCH, STEPS, INPUT, HIDDEN = 3, 5, 3, 4

#: every cell and variant: 1-2 layers, uni/bidirectional, return_sequences on/off,
#: with and without lengths and initial states; plus seeded dropout between layers;
#: plus ``bias=False`` for every variant (2 layers, lengths, initial state), the
#: LSTM's ``proj_size`` and the LSTM's and GRU's ``layer_norm`` in every configuration.
SUITE = tuple(
    [Case(c, nl, bi, rs, ln, h0)
     for c in variants.NAMES for nl in (1, 2) for bi in (False, True) for rs in (True, False)
     for ln in (False, True) for h0 in (False, True)]
    + [Case(c, 2, bi, True, True, True, dropout=0.5) for c in variants.NAMES
       for bi in (False, True)]
    + [Case(c, 2, bi, rs, True, True, options=(("bias", False),)) for c in variants.NAMES
       for bi in (False, True) for rs in (True, False)]
    + [Case("lstm", nl, bi, rs, ln, h0, options=(("proj_size", 2),)) for nl in (1, 2)
       for bi in (False, True) for rs in (True, False) for ln in (False, True)
       for h0 in (False, True)]
    + [Case(c, nl, bi, rs, ln, h0, options=(("layer_norm", True),)) for c in ("lstm", "gru")
       for nl in (1, 2) for bi in (False, True) for rs in (True, False) for ln in (False, True)
       for h0 in (False, True)]
    + [Case(c, 2, True, True, True, True, options=(("layer_norm", True), ("bias", False)))
       for c in ("lstm", "gru")]
)


def run_case(case, seed=0, mode="auto"):
    """Build a case's layer and data and check its gradients.

    Parameters
    ----------
    case : Case
        The configuration.
    seed : int, default 0
        Seeds the layer, the data ``(BATCH, STEPS, INPUT)`` and the loss.
    mode : {"auto", "serial", "parallel"}, default "auto"
        The kernels' :func:`seqnet._dispatch.parallel_mode` for the whole check.
        ``"auto"`` runs the suite's small layers serially, in one block of rows,
        their per-step products through BLAS on ``W_hh`` as it is; ``"serial"`` and
        ``"parallel"`` split the rows in one block per thread and pack ``W_hh`` for
        the register tile, so they check those code paths.

    Returns
    -------
    GradcheckReport
    """
    with _dispatch.parallel_mode(mode):
        return _run_case(case, seed)


def _run_case(case, seed):
    layer = case.make_layer(seed)
    rng = np.random.default_rng(seed + 2)
    x = rng.standard_normal((BATCH, STEPS, INPUT))
    lengths = np.array([STEPS, 2, 4][:BATCH]) if case.lengths else None
    state = None
    if case.initial_state:
        rows = case.num_layers * (2 if case.bidirectional else 1)
        parts = [0.5 * rng.standard_normal((rows, BATCH, size)) for size in layer.state_sizes]
        state = parts if len(parts) > 1 else parts[0]
    return check_gradients(layer, x, state, lengths=lengths, seed=seed)
