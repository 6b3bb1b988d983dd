"""Model files: one ``.npz`` holding the architecture and settings (JSON), the
weights, the optimiser's state and the random generators' states, with no pickle
anywhere, written atomically.

A model class is saved through its own ``get_config`` / ``from_config`` (its layers
through theirs, :func:`seqnet.layers.serialize`), so this module knows no layer and
no model class: model classes register here (:func:`register_model`). Anything
else a model carries (a vocabulary, preprocessing) travels in its JSON
``metadata``, owned by whoever put it there (:mod:`seqnet.text` for vocabularies).

Format version 2 (this one) names the model class and keeps a vocabulary in the
metadata; version 1 files (seqnet 0.1's first releases: a ``Sequential``, its
vocabulary beside the metadata) still load.
"""

from __future__ import annotations

import json
import os

import numpy as np

from . import _io, optim

__all__ = ["FORMAT", "FORMAT_VERSION", "load_model", "load_weights", "register_model",
           "save_model"]

FORMAT = "seqnet-model"
#: the version this seqnet writes; it reads this one and those in READS.
FORMAT_VERSION = 2
READS = (1, 2)

#: model classes a file may name, by class name (see :func:`register_model`).
MODELS = {}


def register_model(cls):
    """Let files name ``cls`` by its ``__name__`` (a class decorator).

    Parameters
    ----------
    cls : type
        A model class with ``get_config()``, a classmethod ``from_config(config)``,
        and ``params``, ``layers``, ``optimizer`` and ``rng`` attributes.

    Returns
    -------
    type
        ``cls`` itself.
    """
    MODELS[cls.__name__] = cls
    return cls


def _rngs(model):
    return model.rngs


def save_model(model, path):
    """Save a model: architecture, weights, optimiser state, generator states,
    metadata. One ``.npz`` file, no pickle, written atomically: a crash part-way
    leaves any previous file at ``path`` as it was.

    Parameters
    ----------
    model : Model
        A model of a registered class (`Sequential`, `Model`).
    path : str or os.PathLike
        The file to write (replaced if it exists); :func:`load_model` reads it back.
    """
    config = {"format": FORMAT, "version": FORMAT_VERSION, "class": type(model).__name__,
              **model.get_config()}
    config["rng"] = {"model": model.rng.bit_generator.state,
                     "layers": [r.bit_generator.state for r in _rngs(model)]}
    arrays = {f"param/{k}": v for k, v in model.params.items()}
    if model.optimizer is not None:
        state = model.optimizer.state_dict()
        config["optimizer"] = {k: v for k, v in state.items() if k != "slots"}
        arrays.update({f"slot/{k}": v for k, v in state.get("slots", {}).items()})
    else:
        config["optimizer"] = None
    arrays["config"] = np.array(json.dumps(config))
    with _io.atomic_write(path) as f:
        np.savez(f, **arrays)


def _read(path):
    """``(config, arrays)`` of a model file, the config upgraded to this version's
    layout; ValueError naming the file for anything that is not one."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path!r} is a directory, not a model file")
    try:
        # Open the file ourselves so that it is closed whatever np.load makes of it.
        with open(path, "rb") as f:
            data = np.load(f, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single array, not a seqnet .npz archive")
            with data:
                arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # any parse failure of a damaged file is the same error
        raise ValueError(f"{path!r} is not a readable seqnet model file (corrupt or "
                         f"truncated?): {type(exc).__name__}: {exc}") from exc
    if "config" not in arrays:
        raise ValueError(f"{path!r} is not a seqnet model file: it has no 'config' entry")
    try:
        config = json.loads(str(arrays.pop("config")))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path!r} has a corrupt config: {exc}") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a seqnet model file")
    if config.get("version") not in READS:
        raise ValueError(f"{path!r} is a seqnet model file of format version "
                         f"{config.get('version')}; this seqnet reads versions {list(READS)}")
    if config["version"] == 1:
        # version 1: always a Sequential, its vocabulary beside the metadata.
        config["class"] = "Sequential"
        vocabulary = config.pop("vocabulary", None)
        if vocabulary is not None:
            config["metadata"] = {**(config.get("metadata") or {}), "vocabulary": vocabulary}
    return config, arrays


def _params_of(arrays):
    return {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}


def _layer_values(model, given, path, input_sizes=None):
    """Each layer's parameter values from a file, every one checked (names, shapes
    against what the layer's config plans, real numeric dtype) before any is used:
    ``[(layer, {name: array}), ...]``. ``input_sizes[i]``: the input size to plan
    for when layer ``i`` does not know its own."""
    path = os.fspath(path)
    expected, owner = {}, {}
    for i, layer in enumerate(model.layers):
        size = None if input_sizes is None else input_sizes[i]
        shapes = layer.expected_shapes(size) or {}   # None: not built, so no weights
        for name, shape in shapes.items():
            expected[f"{model._prefix(i)}/{name}"] = tuple(shape)
            owner[f"{model._prefix(i)}/{name}"] = (i, name)
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    if missing or extra:
        raise ValueError(f"{path!r} does not match the architecture: missing "
                         f"{missing}, unexpected {extra}")
    values = [{} for _ in model.layers]
    for key, shape in expected.items():
        value = given[key]
        if value.dtype.kind not in "fiu":
            raise ValueError(f"{path!r}: parameter {key!r} has dtype {value.dtype}, not "
                             "real numbers")
        if value.shape != shape:
            raise ValueError(f"{path!r}: parameter {key!r} has shape {value.shape}, "
                             f"expected {shape}")
        i, name = owner[key]
        values[i][name] = value
    return list(zip(model.layers, values, strict=True))


def _assign_params(model, given, path, input_sizes=None):
    """Check every stored parameter, then put them in the layers (made from the
    file's values where the layers have none yet: no random initialisation)."""
    checked = _layer_values(model, given, path, input_sizes)
    for i, (layer, values) in enumerate(checked):
        if values:
            layer._adopt(values, None if input_sizes is None else input_sizes[i])


def _architecture(layers):
    return [(c["class"], {k: v for k, v in c["config"].items() if k != "seed"})
            for c in layers]


def _describe(layers):
    return "[" + ", ".join(c["class"] + "(" + ", ".join(f"{k}={v!r}" for k, v in c["config"].items()
                                                        if k != "seed") + ")"
                           for c in layers) + "]"


def _as_written_by(layer, spec):
    """A file's layer spec as ``layer``'s class writes it today (arguments added
    since the file was written take their defaults), for comparing architectures."""
    if spec["class"] != type(layer).__name__:
        return spec
    try:
        config = type(layer).from_config(spec["config"]).get_config()
    except (TypeError, ValueError, KeyError):
        return spec
    return {"class": spec["class"], "config": config}


def _wiring(value):
    """A graph's inputs, nodes or outputs without the names, for comparing two."""
    if isinstance(value, list):
        return [_wiring(v) for v in value]
    if isinstance(value, dict):
        return {k: _wiring(v) for k, v in value.items() if k != "name"}
    return value


def _planned_for(spec, size):
    """A layer spec of this model whose ``input_size`` is still unknown, given the
    file's (for comparing architectures)."""
    if spec["config"].get("input_size", 0) is None:
        return dict(spec, config={**spec["config"], "input_size": size})
    return spec


def load_weights(model, path):
    """Load the weights of a saved model with the same architecture into ``model``.

    Every stored array is checked (names, shapes, real numeric dtype) before any is
    assigned, so a bad file leaves the model as it was. A layer that does not know
    its input size yet takes the file's, and its weights are made from the file's
    (no random initialisation first).

    Parameters
    ----------
    model : Model
        The model to load into.
    path : str or os.PathLike
        A file written by :func:`save_model`.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    IsADirectoryError
        ``path`` is a directory.
    ValueError
        The file is not a seqnet model, is corrupt, has another architecture, or a
        parameter of the wrong shape or dtype (the message names the file and the
        parameter).
    """
    config, arrays = _read(path)
    theirs = config.get("layers")
    if not (isinstance(theirs, list) and all(isinstance(s, dict) and "class" in s
                                             and isinstance(s.get("config"), dict)
                                             for s in theirs)):
        raise ValueError(f"{os.fspath(path)!r} has an inconsistent config: no layer list")
    if len(model.layers) == len(theirs):
        theirs = [_as_written_by(layer, spec)
                  for layer, spec in zip(model.layers, theirs, strict=True)]
    sizes = [spec["config"].get("input_size") for spec in theirs]
    mine = model.get_config()["layers"]
    if len(mine) == len(theirs):
        mine = [_planned_for(spec, size) for spec, size in zip(mine, sizes, strict=True)]
    if _architecture(mine) != _architecture(theirs):
        raise ValueError(f"{os.fspath(path)!r} holds a model of another architecture: "
                         f"{_describe(theirs)}, but this model is {_describe(mine)}")
    mine_config = model.get_config()
    for key in ("inputs", "nodes", "outputs"):
        if _wiring(config.get(key)) != _wiring(mine_config.get(key)):
            raise ValueError(f"{os.fspath(path)!r} holds a model whose layers are connected "
                             f"otherwise ({key} differ)")
    _assign_params(model, _params_of(arrays), path, sizes)
    if getattr(model, "input_shape", ()) is None and config.get("input_shape") is not None:
        model.input_shape = tuple(config["input_shape"])
        model.input_dtype = config.get("input_dtype")


def load_model(path):
    """Rebuild a model saved by :func:`save_model` (or ``model.save``).

    Architecture, weights, compile settings, optimiser state, generator states and
    metadata all come back: training resumed from the loaded model continues
    exactly as if it had not stopped (the same batches and dropout masks, so the
    same weights).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.

    Returns
    -------
    Model
        The model (of the class the file names), compiled if it was saved compiled.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    IsADirectoryError
        ``path`` is a directory.
    ValueError
        Not a seqnet model file, corrupt, truncated or inconsistent.
    """
    config, arrays = _read(path)
    try:
        cls = MODELS.get(config["class"])
        if cls is None:
            raise ValueError(f"unknown model class {config['class']!r}")
        model = cls.from_config(config)
        _assign_params(model, _params_of(arrays), path)
        if config.get("optimizer") is not None:
            opt_state = dict(config["optimizer"])
            opt_state["slots"] = {k[len("slot/"):]: v for k, v in arrays.items()
                                  if k.startswith("slot/")}
            model.optimizer = optim.from_config(opt_state["config"])
            model.optimizer.load_state_dict(opt_state)
            model.optimizer.check_state(model.params)
        rng = config.get("rng") or {}
        if "model" in rng:
            model.rng.bit_generator.state = rng["model"]
        for r, state in zip(_rngs(model), rng.get("layers", []), strict=False):
            if state is not None:
                r.bit_generator.state = state
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{os.fspath(path)!r} has an inconsistent config: {exc}") from exc
    return model
