"""seqnet models as ONNX graphs: the ``LSTM``, ``GRU`` and ``RNN`` operators with
ONNX's gate orders, and the layers around them.

ONNX's recurrent operators are time-major and single-layer: ``X (T, B, I)``,
``W (D, G*H, I)``, ``R (D, G*H, H)``, ``B (D, 2*G*H)`` (input biases, then recurrent
ones), ``Y (T, D, B, H)``, ``Y_h``/``Y_c (D, B, H)``. Gate orders: LSTM i, o, f, c
(seqnet's i, f, g, o), GRU z, r, h (seqnet's r, z, n). A stacked seqnet layer is one
operator per layer; the model's batch-first tensors are transposed around them.
"""

from __future__ import annotations

import numpy as np

from .. import _checks, _io
from ..layers import (
    GRU,
    LSTM,
    Activation,
    Add,
    Bidirectional,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    LayerNormalization,
    RecurrentLayer,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
)
from ..model import Model
from ._keras import UnsupportedLayerError
from ._lazy import need

#: seqnet's gate blocks in ONNX's order, per cell.
_ONNX_GATES = {LSTM: (0, 3, 1, 2), GRU: (1, 0, 2), SimpleRNN: (0,)}
_ACT = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu"}
#: the layers export_onnx writes.
EXPORTS = ("SimpleRNN", "LSTM", "GRU", "Bidirectional", "Dense", "Activation", "Dropout",
           "Embedding", "TimeDistributed", "LayerNormalization", "RepeatVector",
           "Concatenate", "Add")
DEFAULT_OPSET = 17


def _refuse(layer, why):
    raise UnsupportedLayerError(f"seqnet {type(layer).__name__} cannot be exported to ONNX: "
                                f"{why}")


def _blocks(a, order, H):
    return np.concatenate([a[g * H:(g + 1) * H] for g in order], axis=0)


class _Builder:
    """Nodes, initialisers and unique names of the graph being written."""

    def __init__(self, onnx, opset):
        self.onnx, self.helper, self.opset = onnx, onnx.helper, opset
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.count = 0

    def name(self, stem):
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, value, stem="const"):
        name = self.name(stem)
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type, inputs, n_out=1, stem=None, **attrs):
        outs = [self.name(stem or op_type.lower()) for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs if n_out > 1 else outs[0]

    def transpose(self, x, perm):
        return self.op("Transpose", [x], perm=list(perm))

    def reshape(self, x, shape):
        return self.op("Reshape", [x, self.const(np.array(shape, np.int64))])

    def unsqueeze(self, x, axes):
        return self.op("Unsqueeze", [x, self.const(np.array(axes, np.int64))])

    def squeeze(self, x, axes):
        return self.op("Squeeze", [x, self.const(np.array(axes, np.int64))])

    def slice0(self, x, start, stop):
        return self.op("Slice", [x, self.const(np.array([start], np.int64)),
                                 self.const(np.array([stop], np.int64)),
                                 self.const(np.array([0], np.int64))])

    def reduce_sum(self, x, axes, keepdims=0):
        return self.op("ReduceSum", [x, self.const(np.array(axes, np.int64))],
                       keepdims=keepdims)

    def value_info(self, name, elem, shape):
        return self.helper.make_tensor_value_info(name, elem, shape)


class _Exporter:
    def __init__(self, model, b, states, lengths_input):
        self.model, self.b = model, b
        self.states, self.lengths_input = states, lengths_input
        self.n_rnn = 0
        self.float = b.onnx.TensorProto.FLOAT

    # -------------------------------------------------------------- recurrent
    def rnn_direction_weights(self, layer, k):
        H, order = layer.hidden_size, _ONNX_GATES[type(layer)]
        W, R, Bs = [], [], []
        for d in range(layer.num_directions):
            sfx = f"_l{k}" + ("_reverse" if d else "")
            p = layer.params
            W.append(_blocks(p["weight_ih" + sfx], order, H))
            R.append(_blocks(p["weight_hh" + sfx], order, H))
            if layer.bias:
                Bs.append(np.concatenate([_blocks(p["bias_ih" + sfx], order, H),
                                          _blocks(p["bias_hh" + sfx], order, H)]))
        return (np.stack(W).astype(np.float32), np.stack(R).astype(np.float32),
                np.stack(Bs).astype(np.float32) if Bs else None)

    def recurrent(self, layer, x, lengths, given_states, index_input):
        """``(out, final states (N, B, H) each)`` of a recurrent layer on ``x``
        (batch-first)."""
        b = self.b
        for opt in ("proj_size", "layer_norm", "zoneout", "cell_zoneout"):
            if getattr(layer, opt, 0):
                _refuse(layer, f"{opt}={getattr(layer, opt)!r} (ONNX's {type(layer).__name__} "
                               "operator has no such option)")
        if index_input:    # seqnet's one-hot maths: rows of the identity
            x = b.op("Gather", [b.const(np.eye(layer.input_size, dtype=np.float32), "onehot"),
                                x], axis=0)
        H, D, N = layer.hidden_size, layer.num_directions, layer.state_rows
        names = layer.state_names
        if given_states is None and self.states:
            i = self.n_rnn
            given_states = []
            for s in names:
                name = f"state_in_{i}_{s}"
                b.inputs.append(b.value_info(name, self.float, [N, "batch", H]))
                given_states.append(name)
        self.n_rnn += 1
        seq = b.transpose(x, (1, 0, 2))                       # (T, B, I)
        seq_lens = "" if lengths is None else lengths
        finals = [[] for _ in names]
        y = None
        for k in range(layer.num_layers):
            W, R, Bias = self.rnn_direction_weights(layer, k)
            ins = [seq, b.const(W, "W"), b.const(R, "R"),
                   b.const(Bias, "B") if Bias is not None else "", seq_lens]
            for s in given_states or []:
                ins.append(b.slice0(s, k * D, (k + 1) * D))
            if given_states is None:
                ins.append("")
                if isinstance(layer, LSTM):
                    ins.append("")
            while ins and ins[-1] == "":
                ins.pop()
            attrs = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
            if isinstance(layer, GRU):
                attrs["linear_before_reset"] = int(layer.reset_after)
                op = "GRU"
            elif isinstance(layer, LSTM):
                op = "LSTM"
            else:
                attrs["activations"] = [_ACT[layer.nonlinearity]] * D
                op = "RNN"
            outs = b.op(op, ins, n_out=1 + len(names), stem=op.lower(), **attrs)
            y = outs[0]                                        # (T, D, B, H)
            for j in range(len(names)):
                finals[j].append(outs[1 + j])                  # (D, B, H)
            seq = b.reshape(b.transpose(y, (0, 2, 1, 3)), [0, 0, -1])   # (T, B, D*H)
            if layer.dropout and k + 1 < layer.num_layers:
                pass   # inference: dropout is the identity
        states = [f[0] if len(f) == 1 else b.op("Concat", f, axis=0) for f in finals]
        if layer.return_sequences:
            out = b.transpose(seq, (1, 0, 2))                  # (B, T, D*H)
        else:
            last = finals[0][-1]                               # (D, B, H)
            out = b.reshape(b.transpose(last, (1, 0, 2)), [0, -1])
        if self.states and not self.given:
            for s, name in zip(states, names, strict=True):
                final = f"state_out_{self.n_rnn - 1}_{name}"
                b.nodes.append(b.helper.make_node("Identity", [s], [final]))
                b.outputs.append(b.value_info(final, self.float, [N, "batch", H]))
        return out, states, y

    # -------------------------------------------------------------- the others
    def dense(self, layer, x):
        b = self.b
        y = b.op("MatMul", [x, b.const(np.ascontiguousarray(layer.params["weight"].T)
                                       .astype(np.float32), "kernel")])
        if layer.use_bias:
            y = b.op("Add", [y, b.const(layer.params["bias"].astype(np.float32), "bias")])
        return self.activation(layer, y, layer.activation)

    def activation(self, layer, x, name):
        if name in (None, "linear"):
            return x
        if name == "softmax":
            return self.b.op("Softmax", [x], axis=-1)
        if name not in _ACT:
            _refuse(layer, f"activation {name!r}")
        return self.b.op(_ACT[name], [x])

    def node(self, node, ins, lengths, states):
        """``(outputs, output lengths)`` of one graph node."""
        b, layer = self.b, node.layer
        x = ins[0]
        index_input = self.kinds.get(id(node.inputs[0]), np.dtype(node.inputs[0].dtype).kind
                                     ) in "iu"
        if isinstance(layer, (RecurrentLayer, Bidirectional)):
            fused = layer.fused if isinstance(layer, Bidirectional) else layer
            given = None
            if states:
                if any(s is None for s in states):
                    _refuse(layer, "an initial state with a None entry")
                given = [self.graph_state(s, fused.state_rows) for s in states]
                if isinstance(layer, Bidirectional):   # [fh, (fc,) bh, (bc)] -> (2, B, H)
                    n = len(fused.state_names)
                    given = [b.op("Concat", [given[j], given[n + j]], axis=0)
                             for j in range(n)]
            self.given = given is not None
            out, finals, y = self.recurrent(fused, x, lengths, given, index_input)
            if isinstance(layer, Bidirectional) and layer.merge_mode != "concat":
                out = self.merge(layer, out, y, finals[0])
            outs = [out]
            if getattr(layer, "return_state", False) or (
                    isinstance(layer, Bidirectional) and layer.layer.return_state):
                if isinstance(layer, Bidirectional):
                    for d in range(2):
                        for s in finals:
                            outs.append(b.squeeze(b.slice0(s, d, d + 1), [0]))
                else:
                    outs += [self.state_to_graph(s, fused.state_rows) for s in finals]
            return outs, lengths if fused.return_sequences else None
        if index_input and isinstance(layer, Dense):
            x = b.op("Gather", [b.const(np.eye(layer.params["weight"].shape[1],
                                               dtype=np.float32), "onehot"), x], axis=0)
        if isinstance(layer, Dense):
            return [self.dense(layer, x)], lengths
        if isinstance(layer, TimeDistributed):
            if not isinstance(layer.layer, (Dense, Activation, Dropout)):
                _refuse(layer, f"it wraps a {type(layer.layer).__name__} (Dense, Activation "
                               "and Dropout export)")
            return self.node_of(layer.layer, node, ins, lengths)
        if isinstance(layer, Activation):
            return [self.activation(layer, x, layer.activation)], lengths
        if isinstance(layer, Dropout):
            return [x], lengths
        if isinstance(layer, Embedding):
            out = b.op("Gather", [b.const(layer.params["weight"].astype(np.float32),
                                          "embedding"), x], axis=0)
            if layer.mask_zero:     # trailing padding of 0s: the lengths
                nonzero = b.op("Cast", [b.op("Not", [b.op("Equal", [
                    x, b.const(np.array(0, np.int64))])])], to=b.onnx.TensorProto.INT32)
                lengths = b.reduce_sum(nonzero, [1])
            return [out], lengths
        if isinstance(layer, LayerNormalization):
            if b.opset < 17:
                _refuse(layer, f"ONNX's LayerNormalization needs opset 17, got {b.opset}")
            F = layer.input_size
            gamma = layer.params["weight"] if layer.scale else np.ones(F)
            beta = layer.params["bias"] if layer.center else np.zeros(F)
            return [b.op("LayerNormalization", [x, b.const(gamma.astype(np.float32), "gamma"),
                                                b.const(beta.astype(np.float32), "beta")],
                         axis=-1, epsilon=float(layer.epsilon))], lengths
        if isinstance(layer, RepeatVector):
            x3 = b.unsqueeze(x, [1])
            return [b.op("Tile", [x3, b.const(np.array([1, layer.n, 1], np.int64))])], None
        if isinstance(layer, Concatenate):
            return [b.op("Concat", ins, axis=int(layer.axis))], lengths
        if isinstance(layer, Add):
            return [b.op("Sum", ins)], lengths
        _refuse(layer, f"export_onnx writes {list(EXPORTS)}")
        return None

    def node_of(self, inner, node, ins, lengths):
        class _N:
            pass
        n = _N()
        n.layer, n.inputs, n.states, n.options = inner, node.inputs, [], {}
        return self.node(n, ins, lengths, [])

    def merge(self, layer, out, y, _):
        """Bidirectional's sum, mul and ave from the (T, 2, B, H) output."""
        b = self.b
        if layer.merge_mode is None:
            _refuse(layer, "merge_mode=None (two outputs)")
        fused = layer.fused
        if fused.return_sequences:
            parts = b.transpose(y, (2, 0, 1, 3))             # (B, T, 2, H)
            axis = 2
        else:
            parts = b.reshape(out, [0, 2, fused.hidden_size])   # (B, 2, H)
            axis = 1
        first = b.squeeze(b.op("Slice", [parts, b.const(np.array([0], np.int64)),
                                         b.const(np.array([1], np.int64)),
                                         b.const(np.array([axis], np.int64))]), [axis])
        second = b.squeeze(b.op("Slice", [parts, b.const(np.array([1], np.int64)),
                                          b.const(np.array([2], np.int64)),
                                          b.const(np.array([axis], np.int64))]), [axis])
        if layer.merge_mode == "mul":
            return b.op("Mul", [first, second])
        total = b.op("Add", [first, second])
        if layer.merge_mode == "ave":
            total = b.op("Mul", [total, b.const(np.array(0.5, np.float32))])
        return total

    def graph_state(self, s, rows):
        """A graph state (B, H) or (B, N, H) as ONNX's (N, B, H)."""
        return self.b.unsqueeze(s, [0]) if rows == 1 else self.b.transpose(s, (1, 0, 2))

    def state_to_graph(self, s, rows):
        return self.b.squeeze(s, [0]) if rows == 1 else self.b.transpose(s, (1, 0, 2))


def export_onnx(model, path, opset=None, *, lengths=False, states=False):
    """Write a seqnet model as an ONNX graph that onnxruntime (or any ONNX runtime)
    runs.

    Parameters
    ----------
    model : seqnet.Sequential or seqnet.Model
        Built, float32, of the layers in Notes.
    path : str or os.PathLike
        The ``.onnx`` file to write, atomically.
    opset : int, optional
        The ONNX opset, 14 to 21; 17 when None (``LayerNormalization`` needs 17).
    lengths : bool, default False
        Add an input ``lengths`` (int32, ``(batch,)``): each row's valid steps,
        the recurrent operators' ``sequence_lens`` (an ``Embedding(mask_zero=True)``
        derives them from its padding without it).
    states : bool, default False
        Give every recurrent layer (the ``i``-th, counting from 0) an input
        ``state_in_{i}_h`` (and ``state_in_{i}_c`` for an LSTM), its initial state
        ``(num_layers * D, batch, H)`` as in seqnet's ``forward``, and an output
        ``state_out_{i}_h`` (``_c``), its final state: what streaming generation
        carries from one call to the next.

    Raises
    ------
    TypeError
        ``model`` is not a seqnet model, or a bad ``opset``, ``lengths`` or
        ``states``.
    ValueError
        The model is not built or not float32, or ``opset`` is outside 14 to 21.
    UnsupportedLayerError
        A layer or option ONNX's operators lack, named (a ValueError).
    MissingExtraError
        onnx is not installed (``pip install "seqnet[interop]"``).

    Notes
    -----
    Writes ``SimpleRNN``, ``LSTM`` and ``GRU`` (any ``num_layers``,
    ``bidirectional``, ``bias``; ``GRU(reset_after=True)`` as
    ``linear_before_reset=1``) as ONNX's ``RNN``, ``LSTM`` and ``GRU`` operators,
    one per layer; ``Bidirectional`` (every merge mode but None); ``Dense`` (with
    its activation: linear, tanh, sigmoid, relu, softmax), ``Activation``,
    ``Dropout`` (the identity), ``Embedding`` (``Gather``; ``mask_zero`` gives the
    lengths), ``TimeDistributed`` of those, ``LayerNormalization`` (opset 17),
    ``RepeatVector``, ``Concatenate``, ``Add``; integer tokens read by a recurrent
    or Dense layer as one-hot rows (a ``Gather`` from the identity). Refused, by
    name: ``proj_size``, ``layer_norm``, zoneout, every other layer. Inputs are
    ``input`` (or ``input_0``, ``input_1``...), outputs ``output`` (or
    ``output_0``...); batch and time are dynamic (``"batch"``, ``"time"``).

    Examples
    --------
    >>> import numpy as np, seqnet, tempfile, os
    >>> import onnxruntime as ort
    >>> from seqnet.interop import export_onnx
    >>> model = seqnet.Sequential([seqnet.LSTM(8, input_size=3, seed=0),
    ...                            seqnet.Dense(2, activation="softmax", seed=1)])
    >>> path = os.path.join(tempfile.mkdtemp(), "m.onnx")
    >>> export_onnx(model, path)
    >>> x = np.random.default_rng(0).standard_normal((4, 6, 3)).astype(np.float32)
    >>> (got,) = ort.InferenceSession(path).run(None, {"input": x})
    >>> bool(np.allclose(got, model.predict(x), atol=1e-5))
    True
    """
    onnx = need("onnx")
    if not isinstance(model, Model):
        raise TypeError(f"model must be a seqnet.Sequential or seqnet.Model, got "
                        f"{type(model).__name__}")
    opset = DEFAULT_OPSET if opset is None else _checks.integer(opset, "opset")
    if not 14 <= opset <= 21:
        raise ValueError(f"opset must be between 14 and 21, got {opset}")
    lengths = _checks.flag(lengths, "lengths")
    states = _checks.flag(states, "states")
    if not model.built:
        raise ValueError("model is not built: build it or run it once before export_onnx")
    if model.dtype != np.float32:
        raise ValueError(f"export_onnx writes float32 models (onnxruntime's recurrent "
                         f"operators are float32), got {model.dtype}")
    b = _Builder(onnx, opset)
    ex = _Exporter(model, b, states, lengths)
    ex.given = False
    ex.kinds = {}   # id(tensor) -> dtype kind (a Sequential's chain has no dtypes)
    names, lens = {}, {}
    seq_lengths = "lengths" if lengths else None
    model_inputs = model.inputs
    if hasattr(model, "_stack"):    # a Sequential: its chain's input has no shape yet
        shape = tuple(getattr(model, "input_shape", None) or ())
        shape = (None,) + ((None,) + shape[1:] if len(shape) > 1 or (
            shape and np.dtype(getattr(model, "input_dtype", "float32")).kind in "iu")
            else shape)   # time is dynamic
        dtype = np.dtype(getattr(model, "input_dtype", "float32"))
        first = model.layers[0]
        if len(shape) == 1:
            if isinstance(first, Embedding):
                shape, dtype = (None, None), np.dtype(np.int64)
            else:
                shape = (None, None, first.input_size)
        input_specs = [(shape, dtype)]
    else:
        input_specs = [(t.shape, np.dtype(t.dtype)) for t in model_inputs]
    for k, (t, (shape, dtype)) in enumerate(zip(model_inputs, input_specs, strict=True)):
        name = "input" if len(model_inputs) == 1 else f"input_{k}"
        dims = ["batch"] + ["time" if (i == 0 and len(shape) > 2) or (
            i == 0 and dtype.kind in "iu") else (s if s is not None else f"dim_{k}_{i}")
            for i, s in enumerate(shape[1:])]
        elem = onnx.TensorProto.INT64 if dtype.kind in "iu" else onnx.TensorProto.FLOAT
        b.inputs.append(b.value_info(name, elem, dims))
        names[id(t)], lens[id(t)] = name, seq_lengths
        ex.kinds[id(t)] = dtype.kind
    if lengths:
        b.inputs.append(b.value_info("lengths", onnx.TensorProto.INT32, ["batch"]))
    for node in model._nodes:
        ins = [names[id(t)] for t in node.inputs]
        node_lengths = next((lens[id(t)] for t in node.inputs if lens.get(id(t))), None)
        st = [names[id(s)] if s is not None else None for s in node.states]
        outs, out_len = ex.node(node, ins, node_lengths, st)
        kind = ex.kinds[id(node.inputs[0])] if isinstance(node.layer, Dropout) else "f"
        for t, n in zip(node.outputs, outs, strict=True):
            names[id(t)] = n
            lens[id(t)] = out_len
            ex.kinds[id(t)] = kind
    out_shapes = [t.shape for t in model.outputs]
    if hasattr(model, "_stack"):
        shape = tuple(input_specs[0][0][1:])
        for layer in model.layers:
            shape = tuple(layer.output_shape(shape))
        out_shapes = [(None,) + shape]
    outputs = []
    for k, (t, shape) in enumerate(zip(model.outputs, out_shapes, strict=True)):
        name = "output" if len(model.outputs) == 1 else f"output_{k}"
        b.nodes.append(b.helper.make_node("Identity", [names[id(t)]], [name]))
        dims = ["batch"] + [f"{name}_{i}" if s is None else int(s)
                            for i, s in enumerate(shape[1:], 1)]
        outputs.append(b.value_info(name, onnx.TensorProto.FLOAT, dims))
    graph = b.helper.make_graph(b.nodes, model.name or "seqnet", b.inputs, outputs + b.outputs,
                                b.inits)
    opsets = [b.helper.make_opsetid("", opset)]
    proto = b.helper.make_model(graph, opset_imports=opsets, producer_name="seqnet",
                                ir_version=b.helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(proto)
    with _io.atomic_write(path) as f:
        f.write(proto.SerializeToString())
