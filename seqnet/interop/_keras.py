"""Keras 3 ``.keras`` files to seqnet models and back, read and written with h5py.

A ``.keras`` file is a zip of ``config.json`` (the model's layers and graph),
``model.weights.h5`` (each layer's variables, ``layers/<name>/vars/<i>``, a
recurrent layer's under ``cell``) and ``metadata.json``. Keras itself is needed
by neither function.

Weight layouts, Keras -> seqnet (PyTorch's names and layouts):

- ``LSTM``: ``kernel (I, 4H)``, ``recurrent_kernel (H, 4H)``, ``bias (4H,)``, gates
  i, f, c, o (seqnet's i, f, g, o): ``weight_ih = kernel.T``, ``weight_hh =
  recurrent_kernel.T``, ``bias_ih = bias``, ``bias_hh = 0``.
- ``GRU``: gates z, r, h (seqnet's r, z, n: each block moves). ``reset_after=True``:
  ``bias (2, 3H)`` is ``[bias_ih, bias_hh]``; ``reset_after=False``: one ``bias
  (3H,)`` is ``bias_ih`` (``bias_hh = 0``).
- ``SimpleRNN``: ``bias (H,)`` is ``bias_ih``.
- ``Dense``: ``kernel (F, units)`` is ``weight.T``. ``Embedding``: ``embeddings``
  is ``weight``. ``LayerNormalization``: ``gamma``, ``beta`` are ``weight``,
  ``bias``. ``Attention``: ``scale``, ``concat_score_weight`` as they are.

Going back, seqnet's two biases are summed where Keras keeps one (``bias_ih +
bias_hh``, which is what seqnet's kernels add too).
"""

from __future__ import annotations

import copy
import datetime
import io
import json
import os
import re
import zipfile

import numpy as np

from .. import _io, graph
from ..layers import (
    GRU,
    LSTM,
    Activation,
    Add,
    AdditiveAttention,
    Attention,
    Bidirectional,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    LayerNormalization,
    Masking,
    RecurrentLayer,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
)
from ..model import Model, Sequential
from ._lazy import need

#: the Keras activations seqnet has, by Keras's name.
_ACTIVATIONS = ("linear", "tanh", "sigmoid", "relu", "softmax")
#: Keras layer classes load_keras converts.
CONVERTS = ("InputLayer", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "Dense", "Dropout",
            "Embedding", "Masking", "RepeatVector", "TimeDistributed", "Attention",
            "AdditiveAttention", "LayerNormalization", "Activation", "Concatenate", "Add",
            "GlobalAveragePooling1D", "GlobalMaxPooling1D")
_RNN = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}


class UnsupportedLayerError(ValueError):
    """A layer (or one of its options) that a converter cannot carry across; the
    message names the layer, its class and what is missing."""


def _refuse(cfg, why):
    name = cfg.get("config", {}).get("name", cfg.get("name", "?"))
    raise UnsupportedLayerError(f"Keras layer {name!r} ({cfg.get('class_name')}) cannot be "
                                f"converted: {why}")


# --------------------------------------------------------------------- weights
def _gru_blocks(a, H):
    """Gate blocks z, r, h (last axis) as r, z, n; the same map swapped back."""
    return np.concatenate([a[..., H:2 * H], a[..., :H], a[..., 2 * H:]], axis=-1)


def _rnn_from_keras(kind, values, H, use_bias):
    """One direction's Keras variables as seqnet's suffix-free parameters."""
    kernel, recurrent = values[0], values[1]
    if kind == "GRU":
        kernel, recurrent = _gru_blocks(kernel, H), _gru_blocks(recurrent, H)
    out = {"weight_ih": kernel.T, "weight_hh": recurrent.T}
    if use_bias:
        bias = values[2]
        if kind == "GRU":
            bias = _gru_blocks(bias, H)
        if bias.ndim == 2:      # GRU reset_after: [input bias, recurrent bias]
            out["bias_ih"], out["bias_hh"] = bias[0], bias[1]
        else:
            out["bias_ih"], out["bias_hh"] = bias, np.zeros_like(bias)
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def _rnn_to_keras(layer, sfx):
    """One direction of a seqnet recurrent layer as Keras's variables."""
    p, H = layer.params, layer.hidden_size
    gru = isinstance(layer, GRU)
    kernel, recurrent = p["weight_ih" + sfx].T, p["weight_hh" + sfx].T
    if gru:
        kernel, recurrent = _gru_blocks(kernel, H), _gru_blocks(recurrent, H)
    values = [kernel, recurrent]
    if layer.bias:
        b_ih, b_hh = p["bias_ih" + sfx], p["bias_hh" + sfx]
        if gru and layer.reset_after:
            values.append(_gru_blocks(np.stack([b_ih, b_hh]), H))
        else:
            bias = b_ih + b_hh
            values.append(_gru_blocks(bias, H) if gru else bias)
    return [np.ascontiguousarray(v) for v in values]


def _snake(name):
    """Keras's ``naming.to_snake_case``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _h5_keys(class_names):
    """The keys Keras's weights file gives a model's layers, in order: each class's
    snake-case name, then ``_1``, ``_2``... for its later layers."""
    used, keys = {}, []
    for cls in class_names:
        key = _snake(cls)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        keys.append(key)
    return keys


def _vars(group, *path):
    """The variables ``vars/0, vars/1, ...`` of an h5 group's sub-group."""
    for part in path:
        group = group[part]
    v = group["vars"]
    return [np.asarray(v[str(i)][()]) for i in range(len(v))]


# --------------------------------------------------------------------- reading
def _dtype(c):
    d = c.get("dtype")
    if isinstance(d, dict):
        d = d.get("config", {}).get("name")
    if d in (None, "float32", "mixed_float16", "mixed_bfloat16"):
        return np.float32
    if d == "float64":
        return np.float64
    raise UnsupportedLayerError(f"Keras layer {c.get('name')!r}: dtype {d!r} is not "
                                "float32 or float64")


def _activation(cfg, key="activation"):
    a = cfg["config"].get(key, "linear")
    if a is None:
        a = "linear"
    if not isinstance(a, str) or a not in _ACTIVATIONS:
        _refuse(cfg, f"{key} {a!r} is not one of seqnet's {list(_ACTIVATIONS)}")
    return a


def _recurrent(cfg, *, bidirectional=False):
    """A seqnet recurrent layer (no weights yet) from a Keras RNN config."""
    kind, c = cfg["class_name"], cfg["config"]
    if c.get("go_backwards") and not bidirectional:
        _refuse(cfg, "go_backwards=True (seqnet runs a reversed direction only inside "
                     "Bidirectional)")
    if c.get("unroll"):
        pass   # unrolling is Keras's speed option, not maths
    act = _activation(cfg)
    options = {"return_sequences": bool(c.get("return_sequences", False)),
               "return_state": bool(c.get("return_state", False)),
               "stateful": bool(c.get("stateful", False)), "bias": bool(c.get("use_bias", True)),
               "input_dropout": float(c.get("dropout", 0.0)),
               "recurrent_dropout": float(c.get("recurrent_dropout", 0.0)),
               "dtype": _dtype(c)}
    if kind == "SimpleRNN":
        if act not in ("tanh", "relu"):
            _refuse(cfg, f"activation {act!r}: seqnet's SimpleRNN has tanh and relu")
        options["nonlinearity"] = act
    else:
        rec = _activation(cfg, "recurrent_activation")
        if act != "tanh" or rec != "sigmoid":
            _refuse(cfg, f"activation {act!r} and recurrent_activation {rec!r}: seqnet's "
                         f"{kind} has tanh and sigmoid")
        if kind == "GRU":
            options["reset_after"] = bool(c.get("reset_after", True))
    return _RNN[kind](int(c["units"]), **options)


def _rnn_state(cfg, group, sfx=""):
    c = cfg["config"]
    values = _rnn_from_keras(cfg["class_name"], _vars(group, "cell"), int(c["units"]),
                             bool(c.get("use_bias", True)))
    return {k + sfx: v for k, v in values.items()}


def _layer(cfg, group):
    """``(seqnet layer, its state dict or None)`` for one Keras layer config and its
    h5 group."""
    kind, c = cfg["class_name"], cfg["config"]
    if kind in _RNN:
        return _recurrent(cfg), _rnn_state(cfg, group, "_l0")
    if kind == "Bidirectional":
        inner, back = c["layer"], c.get("backward_layer")
        if inner["class_name"] not in _RNN:
            _refuse(cfg, f"it wraps a {inner['class_name']}, not SimpleRNN, LSTM or GRU")
        if back is not None:
            same = ("units", "activation", "recurrent_activation", "use_bias", "reset_after",
                    "return_sequences", "return_state")
            if back["class_name"] != inner["class_name"] or any(
                    back["config"].get(k) != inner["config"].get(k) for k in same):
                _refuse(cfg, "its backward layer differs from its forward layer")
        merge = c.get("merge_mode", "concat")
        layer = Bidirectional(_recurrent(inner, bidirectional=True), merge_mode=merge)
        state = {**_rnn_state(inner, group["forward_layer"], "_l0"),
                 **_rnn_state(inner, group["backward_layer"], "_l0_reverse")}
        return layer, state
    if kind == "Dense":
        values = _vars(group)
        layer = Dense(int(c["units"]), activation=_activation(cfg),
                      use_bias=bool(c.get("use_bias", True)), dtype=_dtype(c))
        state = {"weight": np.ascontiguousarray(values[0].T)}
        if layer.use_bias:
            state["bias"] = values[1]
        return layer, state
    if kind == "Dropout":
        if c.get("noise_shape") is not None:
            _refuse(cfg, f"noise_shape {c['noise_shape']} (seqnet's Dropout drops each "
                         "value on its own)")
        return Dropout(float(c["rate"]), dtype=_dtype(c)), None
    if kind == "Embedding":
        layer = Embedding(int(c["input_dim"]), int(c["output_dim"]),
                          mask_zero=bool(c.get("mask_zero", False)), dtype=_dtype(c))
        return layer, {"weight": _vars(group)[0]}
    if kind == "Masking":
        return Masking(float(c.get("mask_value", 0.0)), dtype=_dtype(c)), None
    if kind == "RepeatVector":
        return RepeatVector(int(c["n"]), dtype=_dtype(c)), None
    if kind == "Activation":
        return Activation(_activation(cfg), dtype=_dtype(c)), None
    if kind == "TimeDistributed":
        inner, state = _layer(c["layer"], group["layer"])
        return TimeDistributed(inner), state
    if kind == "Attention":
        layer = Attention(use_scale=bool(c.get("use_scale", False)),
                          score_mode=c.get("score_mode", "dot"),
                          dropout=float(c.get("dropout", 0.0)), dtype=_dtype(c))
        values = _vars(group)
        names = (["scale"] if layer.use_scale else []) + (
            ["concat_score_weight"] if layer.score_mode == "concat" else [])
        return layer, dict(zip(names, values, strict=True)) if names else None
    if kind == "AdditiveAttention":
        values = _vars(group) if group is not None else []
        use_scale = bool(c.get("use_scale", True))
        layer = AdditiveAttention(use_scale=use_scale, dropout=float(c.get("dropout", 0.0)),
                                  dim=int(values[0].shape[0]) if use_scale else None,
                                  dtype=_dtype(c))
        return layer, {"scale": values[0]} if use_scale else None
    if kind == "LayerNormalization":
        if c.get("rms_scaling"):
            _refuse(cfg, "rms_scaling=True")
        axis = c.get("axis", -1)
        axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        if axis != -1:
            _refuse(cfg, f"axis {c.get('axis')}: seqnet normalises the last axis only "
                         "(give axis=-1)")
        values = _vars(group)
        scale, center = bool(c.get("scale", True)), bool(c.get("center", True))
        names = (["weight"] if scale else []) + (["bias"] if center else [])
        layer = LayerNormalization(epsilon=float(c.get("epsilon", 1e-3)), center=center,
                                   scale=scale, input_size=int(values[0].shape[0]),
                                   dtype=_dtype(c))
        return layer, dict(zip(names, values, strict=True))
    if kind == "Concatenate":
        return Concatenate(int(c.get("axis", -1)), dtype=_dtype(c)), None
    if kind == "Add":
        return Add(dtype=_dtype(c)), None
    if kind in ("GlobalAveragePooling1D", "GlobalMaxPooling1D"):
        if c.get("data_format", "channels_last") != "channels_last" or c.get("keepdims"):
            _refuse(cfg, "data_format='channels_first' or keepdims=True")
        cls = GlobalAveragePooling1D if kind == "GlobalAveragePooling1D" else GlobalMaxPooling1D
        return cls(dtype=_dtype(c)), None
    if kind in ("Sequential", "Functional", "Model"):
        _refuse(cfg, "a model nested inside a model (flatten it first)")
    _refuse(cfg, f"seqnet has no such layer; load_keras converts {list(CONVERTS)}")
    return None   # unreachable


def _group(h5, key):
    layers = h5["layers"] if "layers" in h5 else {}
    return layers[key] if key in layers else None


def _is_op(cfg):
    """Keras's ``keras.ops`` nodes in a functional graph (the masks that
    ``mask_zero`` and ``Masking`` make appear as ``NotEqual``, ``Any``...)."""
    return str(cfg.get("module", "")).startswith("keras.src.ops")


def _input(cfg):
    c = cfg["config"]
    shape = c.get("batch_shape") or [None] + list(c.get("shape") or c.get("batch_input_shape",
                                                                        [None])[1:])
    return graph.Input(tuple(shape[1:]), c.get("dtype", "float32"), name=c.get("name"))


def _is_tensor(v):
    return isinstance(v, dict) and v.get("class_name") == "__keras_tensor__"


def _functional(config, h5):
    c = config["config"]
    tensors, ops, made = {}, set(), {}

    def ref(t, user):
        name, node, index = t["config"]["keras_history"]
        if name in ops:
            raise UnsupportedLayerError(f"Keras layer {user!r} reads the output of "
                                        f"{name!r}, a keras.ops operation (seqnet converts "
                                        f"layers only)")
        return tensors[(name, node, index)]

    def resolve(v, user):
        if _is_tensor(v):
            return ref(v, user)
        if isinstance(v, list):
            return [resolve(x, user) for x in v]
        return v

    real = [lcfg for lcfg in c["layers"] if not _is_op(lcfg)]
    keys = dict(zip((id(x) for x in real), _h5_keys(x["class_name"] for x in real),
                    strict=True))
    for lcfg in c["layers"]:
        name = lcfg.get("name", lcfg["config"].get("name"))
        if lcfg["class_name"] == "InputLayer":
            tensors[(name, 0, 0)] = _input(lcfg)
            continue
        if _is_op(lcfg):
            ops.add(name)
            continue
        layer, state = _layer(lcfg, _group(h5, keys[id(lcfg)]))
        made[name] = (layer, state)
        for k, node in enumerate(lcfg.get("inbound_nodes", [])):
            args, kwargs = node["args"], dict(node.get("kwargs", {}))
            kwargs.pop("mask", None)        # masks travel as lengths
            kwargs.pop("training", None)
            x = resolve(args[0], name)
            if len(args) > 1:
                raise UnsupportedLayerError(f"Keras layer {name!r}: positional arguments "
                                            f"after the input are not converted")
            initial = kwargs.pop("initial_state", None)
            initial = resolve(initial, name) if initial is not None else None
            unknown = [key for key in kwargs
                       if key not in ("return_attention_scores", "use_causal_mask")]
            if unknown:
                raise UnsupportedLayerError(f"Keras layer {name!r} is called with {unknown}, "
                                            f"which seqnet does not convert")
            out = layer(x, initial, **kwargs) if initial is not None else layer(x, **kwargs)
            for i, t in enumerate(out if isinstance(out, list) else [out]):
                tensors[(name, k, i)] = t

    def ends(spec):
        if spec and isinstance(spec[0], str):
            return tensors[tuple(spec)], False
        return [tensors[tuple(s)] for s in spec], True

    inputs, multi_in = ends(c["input_layers"])
    outputs, multi_out = ends(c["output_layers"])
    if multi_in and len(inputs) == 1 and not isinstance(c["input_layers"][0], str):
        inputs, multi_in = inputs[0], False
    if multi_out and len(outputs) == 1:
        outputs = outputs[0]
    model = Model(inputs, outputs, name=c.get("name"))
    for layer, state in made.values():
        if state is not None:
            layer.load_state_dict(state)
    return model


def _sequential(config, h5):
    c = config["config"]
    layers, states, inp = [], [], None
    real = [lcfg for lcfg in c["layers"] if lcfg["class_name"] != "InputLayer"]
    keys = _h5_keys(lcfg["class_name"] for lcfg in real)
    for lcfg in c["layers"]:
        if lcfg["class_name"] == "InputLayer":
            inp = _input(lcfg)
    for lcfg, key in zip(real, keys, strict=True):
        layer, state = _layer(lcfg, _group(h5, key))
        layers.append(layer)
        states.append(state)
    model = Sequential(layers)
    if inp is None:
        shape = (config.get("build_config") or {}).get("input_shape")
        if shape is not None:
            inp = graph.Input(tuple(shape[1:]))
    if inp is not None:
        model.build(tuple(inp.shape[1:]), inp.dtype)
    for layer, state in zip(layers, states, strict=True):
        if state is not None:
            layer.load_state_dict(state)
    return model


def load_keras(path):
    """A seqnet model equivalent to a Keras 3 ``.keras`` file.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.keras`` file (``model.save("m.keras")`` in Keras 3): a ``Sequential``
        or functional model of the layers below.

    Returns
    -------
    seqnet.Sequential or seqnet.Model
        A `Sequential` for a Keras ``Sequential``, else a `Model`, holding the
        file's weights (converted, see Notes), float32 (float64 for a float64
        Keras model). Not compiled.

    Raises
    ------
    UnsupportedLayerError
        A layer, option or operation with no seqnet equivalent; the message names
        the layer (its Keras name and class) and what is missing. A ValueError.
    ValueError
        Not a ``.keras`` file (not a zip, or no ``config.json`` or
        ``model.weights.h5`` inside).
    FileNotFoundError
        No such file.
    MissingExtraError
        h5py is not installed (``pip install "seqnet[interop]"``).

    Notes
    -----
    Converts ``InputLayer``, ``SimpleRNN`` (tanh, relu), ``LSTM``, ``GRU``
    (``reset_after`` True and False), ``Bidirectional`` (of those; every
    ``merge_mode``), ``Dense``, ``Dropout``, ``Embedding`` (``mask_zero``),
    ``Masking``, ``RepeatVector``, ``TimeDistributed``, ``Attention``,
    ``AdditiveAttention``, ``LayerNormalization`` (last axis), ``Activation``,
    ``Concatenate``, ``Add``,
    ``GlobalAveragePooling1D`` and ``GlobalMaxPooling1D``, with the activations
    linear, tanh, sigmoid, relu and softmax. Refused, by name: every other layer,
    nested models, ``go_backwards`` outside ``Bidirectional``, other activations,
    ``Dropout(noise_shape=...)``, ``LayerNormalization(rms_scaling=True)`` or on
    another axis, and a layer reading a ``keras.ops`` result. The masks Keras
    computes from ``Embedding(mask_zero=True)`` and ``Masking`` become seqnet's
    lengths (padding must come last). Past a row's length a seqnet recurrent layer
    outputs 0; a Keras one built with ``zero_output_for_mask=False`` (a bare layer's
    default) repeats its last valid output there, so the two agree at the valid
    steps. Regularisers, constraints and initialisers are not carried (they do not
    change what the model computes).

    Examples
    --------
    >>> import numpy as np, seqnet, tempfile, os
    >>> from seqnet.interop import load_keras, save_keras
    >>> model = seqnet.Sequential([seqnet.GRU(4, input_size=3, seed=0), seqnet.Dense(2)])
    >>> model.build((5, 3))
    >>> path = os.path.join(tempfile.mkdtemp(), "m.keras")
    >>> save_keras(model, path)
    >>> again = load_keras(path)
    >>> x = np.ones((1, 5, 3), np.float32)
    >>> bool(np.allclose(again.predict(x), model.predict(x), atol=1e-6))
    True
    """
    h5py = need("h5py")
    path = os.fspath(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a Keras 3 .keras file (not a zip archive)")
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        if "config.json" not in names or "model.weights.h5" not in names:
            raise ValueError(f"{path} is not a Keras 3 .keras file: it holds {names}, not "
                             "config.json and model.weights.h5")
        config = json.loads(z.read("config.json"))
        weights = z.read("model.weights.h5")
    with h5py.File(io.BytesIO(weights), "r") as h5:
        if config.get("class_name") == "Sequential":
            return _sequential(config, h5)
        if config.get("class_name") in ("Functional", "Model"):
            return _functional(config, h5)
    raise UnsupportedLayerError(f"{path} holds a {config.get('class_name')!r}: load_keras "
                                "converts Sequential and functional models")


# --------------------------------------------------------------------- writing
def _tensor_ref(t, name, node, index):
    shape = [None if s is None else int(s) for s in t.shape]
    return {"class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": np.dtype(t.dtype).name,
                       "keras_history": [name, node, index]}}


def _entry(cls, config, name):
    return {"module": "keras.layers", "class_name": cls, "config": {"name": name, **config},
            "registered_name": None, "name": name}


def _refuse_layer(layer, why):
    raise UnsupportedLayerError(f"seqnet {type(layer).__name__} cannot be saved for Keras: "
                                f"{why}")


def _recurrent_config(layer, name, *, bidirectional_ok=False):
    for opt in ("proj_size", "layer_norm", "zoneout", "cell_zoneout"):
        if getattr(layer, opt, 0):
            _refuse_layer(layer, f"{opt}={getattr(layer, opt)!r} has no Keras equivalent")
    if layer.bidirectional and not bidirectional_ok:
        _refuse_layer(layer, "bidirectional=True with return_state=True (Keras's "
                             "Bidirectional returns four states; use seqnet.Bidirectional)")
    c = {"dtype": layer.dtype.name, "units": layer.hidden_size,
         "return_sequences": layer.return_sequences, "return_state": layer.return_state,
         "go_backwards": False, "stateful": layer.stateful, "use_bias": layer.bias,
         "dropout": layer.input_dropout, "recurrent_dropout": layer.recurrent_dropout}
    if isinstance(layer, SimpleRNN):
        c["activation"] = layer.nonlinearity
        cls = "SimpleRNN"
    else:
        c["activation"], c["recurrent_activation"] = "tanh", "sigmoid"
        cls = type(layer).__name__
        if isinstance(layer, GRU):
            c["reset_after"] = layer.reset_after
    return _entry(cls, c, name)


def _bidirectional_entry(dtype, merge_mode, inner, name):
    """A Keras ``Bidirectional`` named ``name`` around the recurrent layer entry
    ``inner``: its forward layer ``forward_<name>`` and, written out as Keras's own
    ``get_config`` writes it, its backward layer ``backward_<name>`` (``go_backwards``
    true). Without ``backward_layer`` Keras makes it by serialising the forward
    layer again inside ``load_model``, where an object-id cache could hand back the
    forward layer itself and the load failed now and then ("Forward layer and
    backward layer should have different `go_backwards` value")."""
    forward = copy.deepcopy(inner)
    forward["config"]["name"] = forward["name"] = "forward_" + name
    backward = copy.deepcopy(inner)
    backward["config"]["name"] = backward["name"] = "backward_" + name
    backward["config"]["go_backwards"] = True
    return _entry("Bidirectional", {"dtype": dtype, "merge_mode": merge_mode,
                                    "layer": forward, "backward_layer": backward}, name)


def _rnn_groups(layer, sfx):
    return {"cell": {"vars": _rnn_to_keras(layer, sfx)}, "vars": []}


def _stacked(layer, name):
    """``[(entry, tree), ...]``: a seqnet layer of ``num_layers`` layers as that many
    Keras layers (each bidirectional one a ``Bidirectional``), with a Keras
    ``Dropout`` between them where the layer drops out between its layers."""
    N, out = layer.num_layers, []
    if N > 1 and layer.return_state:
        _refuse_layer(layer, f"num_layers={N} with return_state=True (Keras's stacked "
                             "layers each return their own state)")
    if layer.bidirectional and layer.return_state:
        _refuse_layer(layer, "bidirectional=True with return_state=True (Keras's "
                             "Bidirectional returns four states; use seqnet.Bidirectional)")
    for k in range(N):
        own = name if k == 0 else f"{name}_l{k}"
        entry = _recurrent_config(layer, own, bidirectional_ok=True)
        if k < N - 1:
            entry["config"]["return_sequences"] = True
        if layer.bidirectional:
            entry = _bidirectional_entry(layer.dtype.name, "concat", entry, own)
            tree = {"forward_layer": _rnn_groups(layer, f"_l{k}"),
                    "backward_layer": _rnn_groups(layer, f"_l{k}_reverse"), "vars": []}
        else:
            tree = _rnn_groups(layer, f"_l{k}")
        out.append((entry, tree))
        if k < N - 1 and layer.dropout:
            out.append((_entry("Dropout", {"dtype": layer.dtype.name, "rate": layer.dropout},
                               f"{own}_dropout"), {"vars": []}))
    return out


def _keras_layers(layer, name):
    """The Keras layers of one seqnet layer: ``[(entry, tree), ...]``, one pair but
    for a stacked recurrent layer."""
    if isinstance(layer, RecurrentLayer):
        return _stacked(layer, name)
    return [_keras_layer(layer, name)]


def _keras_layer(layer, name):
    """``(Keras config entry, h5 tree)`` of one seqnet layer; the tree is a dict of
    groups with a ``"vars"`` list of arrays each."""
    dt = {"dtype": layer.dtype.name}
    if isinstance(layer, RecurrentLayer):
        if layer.num_layers > 1:
            _refuse_layer(layer, f"num_layers={layer.num_layers} inside a wrapper")
        return _stacked(layer, name)[0]
    if isinstance(layer, Bidirectional):
        inner = _recurrent_config(layer.fused, name, bidirectional_ok=True)
        inner["config"]["return_sequences"] = layer.layer.return_sequences
        inner["config"]["return_state"] = layer.layer.return_state
        entry = _bidirectional_entry(layer.dtype.name, layer.merge_mode, inner, name)
        return entry, {"forward_layer": _rnn_groups(layer.fused, "_l0"),
                       "backward_layer": _rnn_groups(layer.fused, "_l0_reverse"), "vars": []}
    p = layer.params
    if isinstance(layer, Dense):
        values = [p["weight"].T] + ([p["bias"]] if layer.use_bias else [])
        return (_entry("Dense", {**dt, "units": layer.units, "activation": layer.activation
                                 or "linear", "use_bias": layer.use_bias}, name),
                {"vars": values})
    if isinstance(layer, Embedding):
        return (_entry("Embedding", {**dt, "input_dim": layer.input_dim,
                                     "output_dim": layer.output_dim,
                                     "mask_zero": layer.mask_zero}, name),
                {"vars": [p["weight"]]})
    if isinstance(layer, LayerNormalization):
        values = ([p["weight"]] if layer.scale else []) + ([p["bias"]] if layer.center else [])
        return (_entry("LayerNormalization", {**dt, "axis": -1, "epsilon": layer.epsilon,
                                              "center": layer.center, "scale": layer.scale},
                       name), {"vars": values})
    if isinstance(layer, Attention):
        values = ([p["scale"]] if layer.use_scale else []) + (
            [p["concat_score_weight"]] if layer.score_mode == "concat" else [])
        return (_entry("Attention", {**dt, "use_scale": layer.use_scale,
                                     "score_mode": layer.score_mode,
                                     "dropout": layer.dropout}, name), {"vars": values})
    if isinstance(layer, AdditiveAttention):
        return (_entry("AdditiveAttention", {**dt, "use_scale": layer.use_scale,
                                             "dropout": layer.dropout}, name),
                {"vars": [p["scale"]] if layer.use_scale else []})
    if isinstance(layer, TimeDistributed):
        inner, tree = _keras_layer(layer.layer, name + "_inner")
        return _entry("TimeDistributed", {**dt, "layer": inner}, name), {"layer": tree,
                                                                        "vars": []}
    simple = {Dropout: lambda: {"rate": layer.rate}, Masking: lambda: {
        "mask_value": layer.mask_value}, RepeatVector: lambda: {"n": layer.n},
        Activation: lambda: {"activation": layer.activation or "linear"},
        Concatenate: lambda: {"axis": layer.axis}, Add: dict,
        GlobalAveragePooling1D: dict, GlobalMaxPooling1D: dict}
    if type(layer) in simple:
        return _entry(type(layer).__name__, {**dt, **simple[type(layer)]()}, name), {"vars": []}
    _refuse_layer(layer, "Keras has no layer it converts to (save_keras writes "
                         f"{sorted(CONVERTS[1:])})")
    return None   # unreachable


def _write_tree(group, tree):
    for key, value in tree.items():
        if key == "vars":
            v = group.create_group("vars")
            for i, arr in enumerate(value):
                v.create_dataset(str(i), data=np.asarray(arr))
        else:
            _write_tree(group.create_group(key), value)


def _index_input_check(layer, tensor):
    if tensor is not None and np.dtype(tensor.dtype).kind in "iu" and \
            not isinstance(layer, (Embedding, Masking, Dropout, RepeatVector)):
        _refuse_layer(layer, "it reads integer tokens directly (seqnet's one-hot input); "
                             "Keras needs an Embedding first")


def _sequential_config(model):
    if not model.layers:
        raise ValueError("model has no layers")
    first = model.layers[0]
    shape = getattr(model, "input_shape", None)
    dtype = getattr(model, "input_dtype", "float32")
    if shape is None:
        if isinstance(first, Embedding):
            shape, dtype = (None,), "int64"
        elif getattr(first, "input_size", None):
            shape = (None, first.input_size)
        else:
            raise ValueError("model's input shape is unknown: build it "
                             "(model.build(input_shape)) or run it once before save_keras")
    shape = (None,) + tuple(None if i == 0 and len(shape) > 1 else s
                            for i, s in enumerate(shape))
    if np.dtype(dtype).kind in "iu" and not isinstance(first, Embedding):
        _refuse_layer(first, "it reads integer tokens directly (seqnet's one-hot input); "
                             "Keras needs an Embedding first")
    entries = [{"module": "keras.layers", "class_name": "InputLayer",
                "config": {"batch_shape": list(shape), "dtype": np.dtype(dtype).name,
                           "name": "input_layer"}, "registered_name": None}]
    trees = []
    for i, layer in enumerate(model.layers):
        for entry, tree in _keras_layers(layer, f"{_snake(type(layer).__name__)}_{i}"):
            entries.append(entry)
            trees.append(tree)
    trees = dict(zip(_h5_keys(e["class_name"] for e in entries[1:]), trees, strict=True))
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": model.name or "sequential", "trainable": True,
                       "layers": entries}, "registered_name": None}, trees


def _functional_config(model):
    names, calls, entries, trees = {}, {}, [], []
    where = {}   # id(tensor) -> (name, node, index)
    inputs = []
    for k, t in enumerate(model.inputs):
        name = f"input_{k}"
        entries.append({"module": "keras.layers", "class_name": "InputLayer",
                        "config": {"batch_shape": list(t.shape), "dtype": t.dtype.name,
                                   "name": name}, "registered_name": None, "name": name,
                        "inbound_nodes": []})
        trees.append({"vars": []})
        where[id(t)] = (name, 0, 0)
        inputs.append([name, 0, 0])
    for node in model._nodes:
        layer = node.layer
        if id(layer) not in names:
            name = f"{_snake(type(layer).__name__)}_{len(names)}"
            names[id(layer)] = name
            chain = _keras_layers(layer, name)
            for entry, tree in chain:
                entry["inbound_nodes"] = []
                entries.append(entry)
                trees.append(tree)
            if len(chain) > 1:     # a stacked layer: its Keras layers in a chain
                if node.states:
                    _refuse_layer(layer, f"num_layers={layer.num_layers} with an "
                                         "initial_state")
                for (prev, _), (nxt, _) in zip(chain[:-1], chain[1:], strict=True):
                    nxt["inbound_nodes"].append({"args": [_tensor_ref(
                        node.outputs[0], prev["name"], 0, 0)], "kwargs": {}})
            calls[id(layer)] = (chain[0][0], chain[-1][0])
        elif len(calls[id(layer)]) == 2 and calls[id(layer)][0] is not calls[id(layer)][1]:
            _refuse_layer(layer, f"num_layers={layer.num_layers}, called more than once")
        entry, last = calls[id(layer)]
        name = last["name"]
        for t in node.inputs:
            _index_input_check(layer, t)
        refs = [_tensor_ref(t, *where[id(t)]) for t in node.inputs]
        kwargs = {k: v for k, v in node.options.items()
                  if k in ("return_attention_scores", "use_causal_mask")}
        if any(k not in ("return_attention_scores", "use_causal_mask") for k in node.options):
            _refuse_layer(layer, f"it is called with {sorted(node.options)}")
        if node.states:
            if any(s is None for s in node.states):
                _refuse_layer(layer, "an initial state with a None entry")
            kwargs["initial_state"] = [_tensor_ref(s, *where[id(s)]) for s in node.states]
        entry["inbound_nodes"].append({"args": [refs if layer.multi_input else refs[0]],
                                       "kwargs": kwargs})
        k = len(last["inbound_nodes"]) - 1
        for i, t in enumerate(node.outputs):
            where[id(t)] = (name, k, i)
    trees = dict(zip(_h5_keys(e["class_name"] for e in entries), trees, strict=True))
    outputs = [list(where[id(t)]) for t in model.outputs]
    config = {"name": model.name or "functional", "trainable": True, "layers": entries,
              "input_layers": inputs if model.multi_input else inputs[0],
              "output_layers": outputs if model._multi_out else outputs[0]}
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": config, "registered_name": "Functional"}, trees


def save_keras(model, path):
    """Write a seqnet model as a Keras 3 ``.keras`` file.

    Parameters
    ----------
    model : seqnet.Sequential or seqnet.Model
        Built (its weights exist), of the layers `load_keras` converts (see its
        Notes). A `Sequential` becomes a Keras ``Sequential``, a `Model` a
        functional model.
    path : str or os.PathLike
        The file to write (``.keras``), atomically: a reader sees the old file or
        the whole new one.

    Raises
    ------
    TypeError
        ``model`` is not a seqnet model.
    UnsupportedLayerError
        A layer or option Keras lacks, named: ``num_layers > 1`` with
        ``return_state`` or an initial state, ``proj_size``, ``layer_norm``,
        ``zoneout``, a fused ``bidirectional=True`` layer with ``return_state``, a
        recurrent or Dense layer reading integer tokens directly, any other layer
        class. A ValueError.
    ValueError
        The model is not built.
    MissingExtraError
        h5py is not installed (``pip install "seqnet[interop]"``).

    Notes
    -----
    Written with h5py alone (Keras is not needed): ``config.json``,
    ``model.weights.h5`` and ``metadata.json``, as ``keras.saving.load_model``
    reads them. A fused ``bidirectional=True`` layer becomes Keras's
    ``Bidirectional`` with ``merge_mode="concat"``, a stacked layer
    (``num_layers > 1``) that many Keras layers (a Keras ``Dropout`` between them
    where it drops out between its layers); seqnet's two biases are summed
    where Keras keeps one. Training settings (loss, optimiser) are not written.

    Examples
    --------
    See `load_keras`.
    """
    h5py = need("h5py")
    if not isinstance(model, Model):
        raise TypeError(f"model must be a seqnet.Sequential or seqnet.Model, got "
                        f"{type(model).__name__}")
    if not model.built:
        raise ValueError("model is not built: build it (model.build(input_shape)) or run it "
                         "once before save_keras")
    config, trees = (_sequential_config(model) if isinstance(model, Sequential)
                     else _functional_config(model))
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        _write_tree(h5.create_group("layers"), trees)
        h5.create_group("vars")
    metadata = {"keras_version": "3.0.0",
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    with _io.atomic_write(path) as f:
        with zipfile.ZipFile(f, "w") as z:
            z.writestr("metadata.json", json.dumps(metadata))
            z.writestr("config.json", json.dumps(config))
            z.writestr("model.weights.h5", buffer.getvalue())
