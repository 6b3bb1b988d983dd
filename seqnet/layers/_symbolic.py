"""A layer called on symbolic tensors: check the shapes, plan the weights, record a
node (:mod:`seqnet.graph`). No numerics run and no random number is drawn."""

from __future__ import annotations

import numpy as np

from .. import graph


def _name(layer):
    return type(layer).__name__


def _shape_text(shape):
    return str(tuple(shape))


def _inputs(layer, x):
    """The call's input tensors as a list, checked against the layer's arity."""
    if layer.multi_input:
        if not isinstance(x, (list, tuple)) or not x:
            raise TypeError(f"{_name(layer)} takes a list of inputs, got "
                            f"{type(x).__name__}")
        inputs = list(x)
    else:
        if isinstance(x, (list, tuple)):
            raise TypeError(f"{_name(layer)} takes one input, got a list of {len(x)}")
        inputs = [x]
    for k, t in enumerate(inputs):
        if not isinstance(t, graph.SymbolicTensor):
            raise TypeError(f"{_name(layer)} was called on symbolic tensors and "
                            f"{type(t).__name__} (input {k}): give it symbolic tensors only "
                            "(make constants an Input of the model)")
        if t.dtype.kind not in layer.input_kinds:
            kinds = {"f": "floating-point", "i": "integer (index)"}
            wanted = " or ".join(kinds[k] for k in layer.input_kinds)
            raise TypeError(f"{_name(layer)} takes {wanted} input, got {t.name} of dtype "
                            f"{t.dtype}")
    return inputs


def _states(layer, initial_state):
    """The call's initial-state tensors (batch-first), checked; [] when none."""
    if initial_state is None:
        return []
    if not layer.state_names:
        raise TypeError(f"{_name(layer)} has no state: initial_state must be None")
    parts = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
    n = len(layer.state_names)
    if len(parts) != n:
        raise TypeError(f"{_name(layer)}'s initial_state must hold {n} tensor(s) "
                        f"{list(layer.state_names)}, got {len(parts)}")
    for k, t in enumerate(parts):
        if t is not None and not isinstance(t, graph.SymbolicTensor):
            raise TypeError(f"{_name(layer)}'s initial_state[{k}] must be a symbolic tensor "
                            f"when the layer is called on symbolic tensors, got "
                            f"{type(t).__name__}")
    return parts


def _compatible(shape, expected):
    return len(shape) == len(expected) and all(
        a is None or b is None or a == b for a, b in zip(shape, expected, strict=True))


def call_symbolic(layer, x, initial_state, options):
    """Record ``layer(x, initial_state, **options)`` in a graph and return its
    output tensor(s) (see :meth:`seqnet.layers.Layer.__call__`)."""
    options = dict(options)
    if options.pop("training", None) is not None:
        raise ValueError(f"{_name(layer)}: training= is given when the model runs "
                         "(fit, predict, forward), not when a graph is built")
    if "lengths" in options:
        raise ValueError(f"{_name(layer)}: lengths= is given when the model runs (fit, "
                         "predict and forward take lengths=); in a graph, masks flow from "
                         "Embedding(mask_zero=True) or Masking")
    inputs = _inputs(layer, x)
    states = _states(layer, initial_state)
    shapes = [t.shape[1:] for t in inputs]
    shape = shapes if layer.multi_input else shapes[0]
    described = ", ".join(f"{t.name} of shape {_shape_text(t.shape)}" for t in inputs)
    try:
        layer.check_input(shape, [t.dtype for t in inputs] if layer.multi_input
                          else inputs[0].dtype)
        if layer.has_weights and not layer.built:
            if not layer.multi_input and inputs[0].dtype.kind != "f":
                raise ValueError("integer (index) input needs the layer's input_size: "
                                 "build it with input_size=<vocabulary size>")
            layer.plan(shape)
        out_shape = tuple(layer.output_shape(shape))
        n_out = layer.outputs_for(options)
        extra = [tuple(s) for s in layer.extra_shapes(shape, options)] if n_out > 1 else []
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{layer!r} cannot be called on {described}: {exc}") from exc
    if len(extra) != n_out - 1:
        raise ValueError(f"{_name(layer)} gives {n_out} outputs but the shapes of "
                         f"{len(extra)} extra ones")
    if states:
        for k, t in enumerate(states):
            if t is None:
                continue
            expected = layer.state_graph_shape(k)
            if t.dtype.kind != "f" or not _compatible(t.shape[1:], expected):
                raise ValueError(f"{layer!r}: initial_state[{k}] ({layer.state_names[k]}) "
                                 f"must be floats of shape {_shape_text((None, *expected))}, "
                                 f"got {t.name} of shape {_shape_text(t.shape)} and dtype "
                                 f"{t.dtype}")
    if layer.has_weights:
        dtype = layer.dtype
    else:
        dtype = inputs[0].dtype if inputs[0].dtype.kind == "f" else np.dtype(layer.dtype)
    node = graph.Node(layer, inputs, states, options)
    node.outputs = [graph.SymbolicTensor((None, *s), dtype, node, k)
                    for k, s in enumerate([out_shape, *extra])]
    for t in node.outputs:
        t.name = f"{_name(layer).lower()}_{t.uid}"
    return node.outputs[0] if n_out == 1 else list(node.outputs)
