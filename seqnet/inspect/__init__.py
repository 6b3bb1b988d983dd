r"""Looking inside recurrent models: per-step gates and states, and the gradient of
the loss with respect to every hidden state.

- `trace` runs a model and returns each recurrent layer's gates and states at
  every step (``layer.forward(x, trace=True)`` does it for one layer, and
  ``model.forward(x, trace=True)`` for every recurrent layer of a model).
- `state_gradients` returns $\partial L / \partial h_t$ (and $\partial L /
  \partial c_t$ for the LSTM) for every recurrent layer, direction and step, from
  one forward and one backward pass: O(T), not one run per step.
- `saturation` summarises how often the gates sit near their limits.
- ``python -m seqnet.inspect MODEL --text FILE`` prints both for a character
  model, with a plot (:mod:`seqnet.inspect.__main__`).

The arrays are ``[num_layers * D, B, T, H]``, rows layer-major then direction
(the layout of a layer's state), batch first, steps in input order whatever the
direction. Past a row's length every array is 0.

Definitions. $h_t$ and $c_t$ are the state *after* step $t$ (for the reverse
direction: after it has read steps $T-1, \dots, t$), $L$ the model's compiled
loss (its mean over the batch, as training computes it).
$\partial L / \partial h_t$ is the total derivative through the output at step
$t$ and through every later step (and the final state). The LSTM's
$\partial L / \partial c_t$ holds $h_t$ fixed: it is the gradient along the cell
state's own path (the "constant error carousel"), the one BPTT carries from step
$t+1$ back to step $t$. The total derivative including the path through
$h_t = o_t \odot \tanh(c_t)$ is $\partial L/\partial c_t + \partial L/\partial h_t
\odot o_t \odot (1 - \tanh^2 c_t)$, from the trace.
"""

from __future__ import annotations

import numpy as np

from .. import _threads, losses
from ..kernels import _trace
from ..layers import GRU, LSTM, RecurrentLayer

#: gates whose activation is the logistic sigmoid, in (0, 1), by layer type.
SIGMOID_GATES = {"LSTM": ("i", "f", "o"), "GRU": ("r", "z")}

#: options of a layer that change the recurrence in training, which
#: `state_gradients` does not follow yet.
_UNSUPPORTED = ("recurrent_dropout", "weight_dropout")


def _recurrent_layers(model, what):
    """``{index in model.layers: layer}`` of the model's recurrent layers, each
    called once."""
    if not hasattr(model, "_nodes") or not hasattr(model, "layers"):
        raise TypeError(f"{what} needs a seqnet Model or Sequential, got "
                        f"{type(model).__name__} (for one layer: layer.forward(x, trace=True))")
    found = {}
    for index, layer in enumerate(model.layers):
        if not isinstance(layer, RecurrentLayer):
            continue
        calls = sum(node.layer is layer for node in model._nodes)
        if calls != 1 or any(other is layer for other in model.layers[:index]):
            raise ValueError(f"{what}: the recurrent layer {index} ({type(layer).__name__}) "
                             f"is called {calls} times in the model; a layer keeps one "
                             "trace, so it must be called once")
        found[index] = layer
    if not found:
        raise ValueError(f"{what}: the model has no SimpleRNN, LSTM or GRU layer")
    return found


def trace(model, x, *, lengths=None):
    """Run ``model`` on ``x`` (inference) and return every recurrent layer's trace.

    Parameters
    ----------
    model : Model or Sequential
        Its SimpleRNN, LSTM and GRU layers (each called once) are traced (not
        one inside a wrapper such as `seqnet.Bidirectional`: build it with
        ``bidirectional=True`` instead).
    x : array_like, or list of array_like
        The model's input(s), as `seqnet.Model.forward` takes them.
    lengths : array_like of int, or list, optional
        The valid steps of each row of each input.

    Returns
    -------
    dict of int to dict of str to ndarray
        By the layer's index in ``model.layers``: its ``trace``, ``{name: array
        [num_layers*D, B, T, H]}`` with the names of its `trace_names` (``i, f, g,
        o, h, c`` for the LSTM, ``r, z, n, h`` for the GRU, ``h`` for the
        SimpleRNN); 0 past a row's length.

    Raises
    ------
    TypeError
        ``model`` is not a seqnet model.
    ValueError
        The model has no recurrent layer, calls one more than once, or refuses
        ``x``.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> model = seqnet.Sequential([seqnet.GRU(4, input_size=2, seed=0)])
    >>> seqnet.inspect.trace(model, np.ones((3, 5, 2)))[0]["z"].shape
    (1, 3, 5, 4)
    """
    layers = _recurrent_layers(model, "trace")
    model.forward(x, lengths=lengths, trace=True)
    return {index: dict(layer.trace) for index, layer in layers.items()}


def _entering(after, init, lengths, reverse):
    """The state entering each step ``[B, T, H]`` from the state after it and the
    initial state (valid steps only are meaningful)."""
    prev = np.empty_like(after)
    if reverse:
        prev[:, :-1] = after[:, 1:]
        prev[np.arange(after.shape[0]), lengths - 1] = init
    else:
        prev[:, 1:] = after[:, :-1]
        prev[:, 0] = init
    return prev


def _layer_state_gradients(layer, captured):
    """The state gradients of one traced layer from what its backward received."""
    tr = layer.trace
    (state, lengths) = layer._trace_state
    rows, B, T, H = tr["h"].shape
    dt = layer.dtype
    lstm, gru = isinstance(layer, LSTM), isinstance(layer, GRU)
    out = {"h": np.zeros((rows, B, T, H), dt), "h0": np.zeros((rows, B, H), dt)}
    if lstm:
        out["c"], out["c0"] = np.zeros((rows, B, T, H), dt), np.zeros((rows, B, H), dt)
    G = len(layer.GATES)
    work, prod, zh = np.empty((B, G * H), dt), np.empty((B, H), dt), np.empty((B, H), dt)
    for k, d, sfx in layer._suffixes():
        row = k * layer.num_directions + d
        W_hh = np.ascontiguousarray(layer.params["weight_hh" + sfx])
        dout, dfinal = captured[row]
        dout = np.ascontiguousarray(dout)
        dh0 = np.array(dfinal[0], dt)
        reverse = bool(d)
        if lstm:
            dc0 = np.array(dfinal[1], dt)
            c_prev = _entering(tr["c"][row], state[1][row], lengths, reverse)
            _trace.lstm_state_grads(tr["i"][row], tr["f"][row], tr["g"][row], tr["o"][row],
                                    tr["c"][row], c_prev, W_hh, lengths, reverse, dout, dh0,
                                    dc0, out["h"][row], out["c"][row], work, prod)
            out["c0"][row] = dc0
        elif gru:
            h_prev = _entering(tr["h"][row], state[0][row], lengths, reverse)
            if layer.reset_after:
                hn = h_prev @ W_hh[2 * H:].T
                if "bias_hh" + sfx in layer.params:   # none with bias=False
                    hn += layer.params["bias_hh" + sfx][2 * H:]
                hn = np.ascontiguousarray(hn, dt)
            else:
                hn = h_prev
            _trace.gru_state_grads(tr["r"][row], tr["z"][row], tr["n"][row], h_prev, hn, W_hh,
                                   lengths, reverse, layer.reset_after, dout, dh0,
                                   out["h"][row], work, prod, zh)
        else:
            _trace.rnn_state_grads(tr["h"][row], W_hh, lengths, reverse,
                                   layer.nonlinearity == "relu", dout, dh0, out["h"][row],
                                   work, prod)
        out["h0"][row] = dh0
    return out


def state_gradients(model, x, y, *, lengths=None, sample_weight=None, loss=None):
    r"""$\partial L/\partial h_t$ (and $\partial L/\partial c_t$) of every recurrent
    layer, direction and step, from one forward and one backward pass.

    The pass is a training step's without the update: the model's compiled loss
    (or ``loss``, on every output), with its masks and ``sample_weight``, dropout
    on as in training (drawn from each layer's ``rng``). The parameters and their
    gradients (``grads``) are left as they were. The definitions are the
    module's: $h_t$, $c_t$ the state after
    step $t$; $\partial L/\partial h_t$ through the output at $t$ and every later
    step; the LSTM's $\partial L/\partial c_t$ with $h_t$ held fixed.

    Parameters
    ----------
    model : Model or Sequential
        A compiled model; its SimpleRNN, LSTM and GRU layers (each called once)
        are measured.
    x : array_like, or list of array_like
        The inputs, as `seqnet.Model.train_on_batch` takes them.
    y : array_like, or list of array_like
        The targets.
    lengths : array_like of int, or list, optional
        The valid steps of each row of each input.
    sample_weight : array_like, or list, optional
        As `seqnet.Model.train_on_batch` takes it.
    loss : str or Loss, optional
        The loss to differentiate, anything `seqnet.losses.get` takes, on every
        output; default the model's compiled loss (and loss weights).

    Returns
    -------
    dict of int to dict of str to ndarray
        By the layer's index in ``model.layers``: ``"h"`` ($\partial L/\partial
        h_t$) and, for the LSTM, ``"c"`` ($\partial L/\partial c_t$), each
        ``[num_layers*D, B, T, H]`` (0 past a row's length); ``"h0"`` (and
        ``"c0"``), ``[num_layers*D, B, H]``, the gradient of the initial state.
        The layer's dtype.

    Raises
    ------
    TypeError
        ``model`` is not a seqnet model.
    ValueError
        The model is not compiled (and no ``loss`` is given), has no recurrent
        layer or calls one more than once, a layer has an option that changes the
        recurrence in training
        (``recurrent_dropout``, ``weight_dropout``, ``zoneout``, ...), or the
        model refuses the inputs or targets.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> model = seqnet.Sequential([seqnet.LSTM(4, input_size=2, return_sequences=False,
    ...                                        seed=0), seqnet.Dense(1, seed=0)])
    >>> model.compile(loss="mse")
    >>> g = seqnet.inspect.state_gradients(model, np.ones((3, 5, 2)), np.zeros((3, 1)))
    >>> g[0]["h"].shape, g[0]["c0"].shape
    ((1, 3, 5, 4), (1, 3, 4))
    """
    layers = _recurrent_layers(model, "state_gradients")
    for layer in layers.values():
        layer._check_traceable("state_gradients",
                               layer._untraced_options + _UNSUPPORTED)
    if loss is None:
        model._need_compiled()
        fused = model._fused_outputs()
        fns, weights = model._training_losses(fused), model._weights
    else:
        fused, fns = frozenset(), [losses.get(loss)] * len(model.outputs)
        weights = [1.0] * len(fns)
    xs, ys, ls, sws, _ = model._data(x, y, lengths, sample_weight=sample_weight)
    saved = [(layer, {k: np.array(v) for k, v in layer.grads.items()})
             for layer in model.layers]
    try:
        for layer in layers.values():
            layer._state_grads = {}
        with _threads.blas_single_threaded():
            outs, out_lengths, run = model._execute(xs, ls, True, fused, trace=True)
            douts = []
            for k, (fn, out) in enumerate(zip(fns, outs, strict=True)):
                if fn is None:
                    douts.append(None)
                    continue
                fn.forward(out, ys[k], mask=model._mask(out, out_lengths[k]),
                           sample_weight=None if sws is None else sws[k])
                dout = fn.backward()
                w = weights[k]
                douts.append(dout if w == 1.0 else dout * dout.dtype.type(w))
            model._execute_backward(run, douts)
        captured = {index: layer._state_grads for index, layer in layers.items()}
    finally:
        for layer in layers.values():
            layer._state_grads = None
        for layer, grads in saved:
            layer.grads = grads
    return {index: _layer_state_gradients(layer, captured[index])
            for index, layer in layers.items()}


def saturation(values, kind, *, lengths=None, low=0.1, high=0.9):
    """How saturated one gate's activations are, over the valid steps.

    Parameters
    ----------
    values : ndarray, shape (..., B, T, H)
        A trace array (``layer.trace["f"]``, ...), or any slice of one that keeps
        its last three axes.
    kind : {"sigmoid", "tanh"}
        The activation: a sigmoid gate is saturated below ``low`` or above
        ``high``; a tanh one where ``|value| > high``.
    lengths : array_like of int, shape (B,), optional
        Valid steps per row: later steps are left out.
    low, high : float, default 0.1, 0.9

    Returns
    -------
    dict of str to float
        ``"mean"`` and ``"mean_abs"``, and ``"low"``, ``"high"`` (the fractions
        below ``low`` and above ``high``) for a sigmoid or ``"saturated"`` (the
        fraction with ``|value| > high``) for a tanh.

    Raises
    ------
    ValueError
        An unknown ``kind``, or ``values`` with fewer than three axes.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> seqnet.inspect.saturation(np.array([[[0.05, 0.5, 0.95, 0.99]]]), "sigmoid")
    {'mean': 0.6225, 'mean_abs': 0.6225, 'low': 0.25, 'high': 0.5}
    """
    if kind not in ("sigmoid", "tanh"):
        raise ValueError(f"kind must be 'sigmoid' or 'tanh', got {kind!r}")
    a = np.asarray(values)
    if a.ndim < 3:
        raise ValueError(f"values must be (..., B, T, H), got shape {a.shape}")
    if lengths is not None:
        valid = np.arange(a.shape[-2]) < np.asarray(lengths)[:, None]
        a = a[..., valid, :]
    a = a.astype(np.float64)
    stats = {"mean": float(a.mean()), "mean_abs": float(np.abs(a).mean())}
    if kind == "sigmoid":
        stats["low"] = float((a < low).mean())
        stats["high"] = float((a > high).mean())
    else:
        stats["saturated"] = float((np.abs(a) > high).mean())
    return stats
