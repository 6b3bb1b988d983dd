"""PyTorch's ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` to seqnet's layers and back.

seqnet's recurrent layers keep PyTorch's parameter names and layouts
(``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``,
``weight_hr_l{k}`` with ``proj_size``, suffix ``_reverse``; gates i, f, g, o for the
LSTM and r, z, n for the GRU), so a conversion is the right constructor plus the
state dict, copied. torch is imported when a function is called, never by
``import seqnet``.
"""

from __future__ import annotations

import numpy as np

from .. import _checks
from ..layers import GRU, LSTM, SimpleRNN
from ._lazy import need

#: torch class name -> seqnet layer class.
_CLASSES = {"RNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}


def _torch_class(module, torch):
    for name in _CLASSES:
        if type(module) is getattr(torch.nn, name):
            return name
    raise TypeError(f"module must be a torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU, got "
                    f"{type(module).__module__}.{type(module).__name__}")


def from_torch(module, *, return_sequences=True, return_state=False):
    """The seqnet layer computing what a PyTorch recurrent module computes.

    Parameters
    ----------
    module : torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU
        Any ``num_layers``, ``bidirectional``, ``bias``, ``dropout``,
        ``nonlinearity`` (RNN) and ``proj_size`` (LSTM); float32 or float64
        parameters.
    return_sequences : bool, default True
        The layer's option (PyTorch always returns the whole sequence).
    return_state : bool, default False
        The layer's option: ``[out, h]`` or ``[out, h, c]`` from ``forward``, the
        state in PyTorch's ``(num_layers * D, B, H)``.

    Returns
    -------
    seqnet.SimpleRNN, seqnet.LSTM or seqnet.GRU
        Built, of the module's dtype, holding copies of its parameters under the
        same names.

    Raises
    ------
    TypeError
        ``module`` is not one of the three classes (a subclass may change the
        maths, so it is refused too), or its parameters are neither float32 nor
        float64.
    MissingExtraError
        torch is not installed.

    Notes
    -----
    seqnet is batch-first: the layer takes ``(B, T, I)`` whatever the module's
    ``batch_first`` (a time-major module's input is ``x.transpose(0, 1)`` here).
    PyTorch's GRU is seqnet's ``GRU(reset_after=True)``. The module's ``dropout``
    (between stacked layers, in training) becomes the layer's ``dropout``.

    Examples
    --------
    >>> import torch
    >>> from seqnet.interop import from_torch
    >>> layer = from_torch(torch.nn.LSTM(3, 4, num_layers=2, batch_first=True))
    >>> sorted(layer.params)[:2]
    ['bias_hh_l0', 'bias_hh_l1']
    """
    torch = need("torch", extra="torch")
    name = _torch_class(module, torch)
    dtypes = {p.dtype for p in module.parameters()}
    if dtypes == {torch.float64}:
        dtype = np.float64
    elif dtypes == {torch.float32}:
        dtype = np.float32
    else:
        raise TypeError(f"module's parameters must all be float32 or all float64, got "
                        f"{sorted(str(d) for d in dtypes)}")
    options = {"input_size": module.input_size, "num_layers": module.num_layers,
               "bidirectional": module.bidirectional, "bias": module.bias,
               "dropout": float(module.dropout),
               "return_sequences": _checks.flag(return_sequences, "return_sequences"),
               "return_state": _checks.flag(return_state, "return_state"), "dtype": dtype}
    if name == "RNN":
        options["nonlinearity"] = module.nonlinearity
    elif name == "LSTM":
        options["proj_size"] = module.proj_size
    else:
        options["reset_after"] = True
    layer = _CLASSES[name](module.hidden_size, **options)
    layer.load_state_dict({k: v.detach().cpu().numpy().copy()
                           for k, v in module.state_dict().items()})
    return layer


def _refusals(layer):
    """What a torch module cannot hold of ``layer``: (option, why) pairs."""
    out = []
    if isinstance(layer, GRU) and not layer.reset_after:
        out.append(("reset_after=False", "torch.nn.GRU resets after the recurrent product "
                    "(seqnet's reset_after=True) only"))
    if getattr(layer, "layer_norm", False):
        out.append(("layer_norm=True", "torch's cells have no layer normalisation"))
    for name in ("zoneout", "cell_zoneout"):
        if getattr(layer, name, 0.0):
            out.append((f"{name}={getattr(layer, name)}", "zoneout changes the output at "
                        "inference too (its expectation), which torch's cells do not do"))
    return out


def to_torch(layer, *, batch_first=True):
    """The PyTorch module computing what a seqnet recurrent layer computes.

    Parameters
    ----------
    layer : seqnet.SimpleRNN, seqnet.LSTM or seqnet.GRU
        Built (its parameters exist). Any ``num_layers``, ``bidirectional``,
        ``bias``, ``dropout``, ``nonlinearity`` and ``proj_size``.
    batch_first : bool, default True
        The module's option: True takes seqnet's ``(B, T, I)``.

    Returns
    -------
    torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU
        Of the layer's dtype (``.double()`` for float64), in eval mode, holding
        copies of its parameters under the same names.

    Raises
    ------
    TypeError
        ``layer`` is not one of the three classes.
    ValueError
        ``layer`` is not built, or has an option torch's cells lack (the message
        names it): ``GRU(reset_after=False)``, ``layer_norm=True``, ``zoneout`` or
        ``cell_zoneout``.
    MissingExtraError
        torch is not installed.

    Notes
    -----
    The training-only regularisers (``input_dropout``, ``recurrent_dropout``,
    ``weight_dropout``) have no torch counterpart and are left behind: they change
    nothing at inference, where the module and the layer agree. ``stateful``'s
    carried state stays with the layer.

    Examples
    --------
    >>> import seqnet
    >>> from seqnet.interop import to_torch
    >>> gru = seqnet.GRU(4, input_size=3, seed=0)
    >>> to_torch(gru)
    GRU(3, 4, batch_first=True)
    """
    torch = need("torch", extra="torch")
    if type(layer) not in (SimpleRNN, LSTM, GRU):
        raise TypeError(f"layer must be a seqnet.SimpleRNN, seqnet.LSTM or seqnet.GRU, got "
                        f"{type(layer).__name__}")
    batch_first = _checks.flag(batch_first, "batch_first")
    refused = _refusals(layer)
    if refused:
        raise ValueError(f"{type(layer).__name__} with "
                         + "; ".join(f"{opt} cannot go to torch: {why}" for opt, why in refused))
    if not layer.params:
        raise ValueError("layer is not built: its input size is unknown (give input_size= "
                         "or run it once) before to_torch")
    name = {SimpleRNN: "RNN", LSTM: "LSTM", GRU: "GRU"}[type(layer)]
    options = {"num_layers": layer.num_layers, "bidirectional": layer.bidirectional,
               "bias": layer.bias, "dropout": layer.dropout, "batch_first": batch_first}
    if name == "RNN":
        options["nonlinearity"] = layer.nonlinearity
    elif name == "LSTM" and layer.proj_size:
        options["proj_size"] = layer.proj_size
    module = getattr(torch.nn, name)(layer.input_size, layer.hidden_size, **options)
    module = module.double() if layer.dtype == np.float64 else module.float()
    module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in layer.params.items()})
    return module.eval()
