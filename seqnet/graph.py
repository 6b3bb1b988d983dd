"""Symbolic tensors and the graphs they record: what Keras's functional API stands on.

``seqnet.Input(shape=(None, F))`` makes a `SymbolicTensor`; calling a layer on
symbolic tensors runs no numerics: it checks the shapes, plans the layer's
parameters (they are made on first use, :mod:`seqnet.layers.base`) and records a
`Node`, whose outputs are new symbolic tensors. `seqnet.Model` then runs the
recorded nodes on arrays (:func:`topological_nodes`).

Every tensor of a graph is batch-first, states included: where a layer keeps its
state as ``(num_layers*D, B, H)`` (PyTorch's layout, the layer contract's), the
graph sees ``(B, H)`` (Keras's) or, for several layers or directions,
``(B, num_layers*D, H)`` (:func:`state_to_graph`, :func:`state_from_graph`).
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["Input", "Node", "SymbolicTensor", "is_symbolic", "state_from_graph",
           "state_to_graph", "topological_nodes"]

_ids = itertools.count()


class SymbolicTensor:
    """A placeholder for an array in a model being built (Keras's ``KerasTensor``).

    Made by `Input` and by calling a layer on symbolic tensors; it holds no values.

    Parameters
    ----------
    shape : tuple
        Batch axis first; None for a size known only at run time.
    dtype : numpy dtype
        The dtype the array will have.
    node : Node, optional
        The call that makes it (None for an input).
    index : int, default 0
        Which of the node's outputs it is.
    name : str, optional
        A name for messages (made up when omitted).

    Attributes
    ----------
    shape : tuple
        Batch axis first, ``None`` for a size not known until run time (always the
        batch, often the time).
    dtype : numpy.dtype
        The dtype the array will have.
    node : Node or None
        The call that makes it; None for an `Input`.
    index : int
        Which output of ``node`` it is.
    name : str
        For messages and summaries.
    """

    __slots__ = ("shape", "dtype", "node", "index", "name", "uid")

    def __init__(self, shape, dtype, node=None, index=0, name=None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.node = node
        self.index = index
        self.uid = next(_ids)
        self.name = name or f"tensor_{self.uid}"

    @property
    def ndim(self):
        """int: the number of axes, the batch axis included."""
        return len(self.shape)

    def __repr__(self):
        return f"<SymbolicTensor {self.name} shape={self.shape} dtype={self.dtype.name}>"

    def __array__(self, *args, **kwargs):
        raise TypeError(f"{self!r} holds no values: it stands for an array in a model "
                        "being built. Build a seqnet.Model from it and call the model on "
                        "arrays")

    def __bool__(self):
        raise TypeError(f"{self!r} has no truth value: it holds no values")

    def __len__(self):
        raise TypeError(f"{self!r} has no length: it holds no values (its shape is "
                        f"{self.shape})")


def is_symbolic(value):
    """Whether ``value`` is a `SymbolicTensor`, or a list or tuple holding one."""
    if isinstance(value, SymbolicTensor):
        return True
    return isinstance(value, (list, tuple)) and any(isinstance(v, SymbolicTensor)
                                                     for v in value)


def Input(shape, dtype="float32", name=None):  # noqa: N802 - Keras's name
    """A model's input, for building a `seqnet.Model` (Keras's ``keras.Input``).

    Parameters
    ----------
    shape : tuple of int or None
        One sample's shape, without the batch axis: ``(None, F)`` for sequences of
        any length with ``F`` features, ``(None,)`` for sequences of token indices,
        ``(F,)`` for vectors. ``None`` leaves a size open (time, usually).
    dtype : str or numpy dtype, default "float32"
        ``float32`` or ``float64`` for features, an integer dtype (``"int32"``,
        ``"int64"``) for indices.
    name : str, optional
        Shown in summaries and messages.

    Returns
    -------
    SymbolicTensor
        Of shape ``(None, *shape)``.

    Raises
    ------
    TypeError
        ``shape`` is not a tuple of positive integers and None, or ``dtype`` is
        neither floating point nor integer.
    ValueError
        An entry of ``shape`` below 1.

    Examples
    --------
    >>> import seqnet
    >>> seqnet.Input(shape=(None, 8)).shape
    (None, None, 8)
    """
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape must be a tuple of sizes (None for an open one), "
                        f"got {shape!r}")
    checked = []
    for s in shape:
        if s is None:
            checked.append(None)
            continue
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"shape must hold positive integers or None, got {shape!r}")
        if s < 1:
            raise ValueError(f"shape must hold positive integers or None, got {shape!r}")
        checked.append(int(s))
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be a floating or integer dtype, got {dtype!r}") from exc
    if dt.kind not in "fiu":
        raise TypeError(f"dtype must be a floating or integer dtype, got {dt}")
    if dt.kind == "f" and dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"a floating input must be float32 or float64, got {dt}")
    return SymbolicTensor((None, *checked), dt, name=name or f"input_{next(_ids)}")


class Node:
    """One call of a layer in a graph: what it was called on and what it made.

    Attributes
    ----------
    layer : seqnet.layers.Layer
        The layer called (a layer called twice has two nodes, one set of weights).
    inputs : list of SymbolicTensor
        Its input(s): one entry, or one per input of a multi-input layer.
    states : list of SymbolicTensor or None
        Its ``initial_state`` tensors (batch-first), None entries for zeros; empty
        when none was given.
    options : dict
        The call's options other than ``training`` (``return_attention_scores``,
        ...), JSON-serialisable.
    outputs : list of SymbolicTensor
        What the call returned, ``[out, *extras]``.
    """

    __slots__ = ("layer", "inputs", "states", "options", "outputs")

    def __init__(self, layer, inputs, states, options):
        self.layer = layer
        self.inputs = list(inputs)
        self.states = list(states)
        self.options = dict(options)
        self.outputs = []

    def parents(self):
        """The tensors the node reads: its inputs, then its state tensors."""
        return self.inputs + [s for s in self.states if s is not None]

    def __repr__(self):
        return (f"<Node {type(self.layer).__name__} on "
                f"{[t.name for t in self.inputs]} -> {[t.name for t in self.outputs]}>")


def state_to_graph(state):
    """A layer-contract state array ``(N, B, H)`` as the graph's batch-first one:
    ``(B, H)`` when ``N == 1``, ``(B, N, H)`` otherwise."""
    return state[0] if state.shape[0] == 1 else np.ascontiguousarray(state.transpose(1, 0, 2))


def state_from_graph(state, n):
    """The inverse of `state_to_graph` for a layer of ``n = num_layers*D`` state
    rows: ``(B, H)`` or ``(B, n, H)`` back to ``(n, B, H)`` (None stays None)."""
    if state is None:
        return None
    arr = np.asarray(state)
    if n == 1 and arr.ndim == 2:
        return arr[None]
    if arr.ndim == 3:
        return np.ascontiguousarray(arr.transpose(1, 0, 2))
    return arr   # the layer names the bad shape


def state_graph_shape(n, hidden):
    """One sample's shape of a state in a graph: ``(H,)`` or ``(n, H)``."""
    return (hidden,) if n == 1 else (n, hidden)


def _describe_path(path):
    return " -> ".join(path)


def topological_nodes(inputs, outputs):
    """The nodes between ``inputs`` and ``outputs``, each after the nodes it reads.

    Parameters
    ----------
    inputs : list of SymbolicTensor
        The model's inputs (made by `Input`).
    outputs : list of SymbolicTensor
        The model's outputs.

    Returns
    -------
    list of Node

    Raises
    ------
    ValueError
        An output that depends on an `Input` not in ``inputs`` (or on none at all),
        an input that no output depends on, a cycle, or an input that is not made
        by `Input`; each message shows the path that proves it.
    TypeError
        An entry that is not a `SymbolicTensor`.
    """
    for kind, group in (("inputs", inputs), ("outputs", outputs)):
        for k, t in enumerate(group):
            if not isinstance(t, SymbolicTensor):
                raise TypeError(f"{kind}[{k}] must be a symbolic tensor (from seqnet.Input "
                                f"or a layer called on one), got {type(t).__name__}")
    for k, t in enumerate(inputs):
        if t.node is not None:
            raise ValueError(f"inputs[{k}] ({t.name}) is made by {t.node.layer!r}, not by "
                             "seqnet.Input: a model's inputs must be Input tensors")
    if len({t.uid for t in inputs}) != len(inputs):
        raise ValueError("inputs holds the same Input twice")
    given = {t.uid for t in inputs}
    order, done, active = [], set(), {}
    reached = set()

    def visit(tensor, path):
        node = tensor.node
        if node is None:
            if tensor.uid not in given:
                raise ValueError(f"the graph is disconnected: {_describe_path(path)} "
                                 f"depends on {tensor.name}, an Input that is not among the "
                                 "model's inputs")
            reached.add(tensor.uid)
            return
        key = id(node)
        if key in done:
            return
        if key in active:
            raise ValueError(f"the graph has a cycle: {_describe_path(path)}")
        active[key] = node
        for parent in node.parents():
            visit(parent, [*path, f"{type(node.layer).__name__}", parent.name])
        del active[key]
        done.add(key)
        order.append(node)

    for k, t in enumerate(outputs):
        visit(t, [f"outputs[{k}] ({t.name})"])
    for k, t in enumerate(inputs):
        if t.uid not in reached:
            raise ValueError(f"inputs[{k}] ({t.name}) is not connected to any output: no "
                             "output depends on it")
    return order
