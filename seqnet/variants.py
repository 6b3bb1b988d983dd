"""The cell variants, listed once.

Every place that runs "each cell" (the test fixtures, the gradient-check suite, the
benchmarks, asv, the PyTorch parity tests) takes its list from :data:`VARIANTS`,
under one naming scheme:

========== ========================================= ===================================
name       layer                                     PyTorch
========== ========================================= ===================================
rnn-tanh   ``SimpleRNN(H, nonlinearity="tanh")``     ``nn.RNN(nonlinearity="tanh")``
rnn-relu   ``SimpleRNN(H, nonlinearity="relu")``     ``nn.RNN(nonlinearity="relu")``
lstm       ``LSTM(H)``                               ``nn.LSTM``
gru        ``GRU(H, reset_after=True)``              ``nn.GRU``
gru-v1     ``GRU(H, reset_after=False)``             none (``nn.GRU`` makes the same
                                                     products, for speed races)
========== ========================================= ===================================

``gru-v1`` is Keras's name for the original form of Cho et al. (2014), which resets
before the recurrent product.
"""

from __future__ import annotations

import dataclasses
import types

from .layers import GRU, LSTM, SimpleRNN

__all__ = ["NAMES", "VARIANTS", "Variant", "get"]


@dataclasses.dataclass(frozen=True)
class Variant:
    """One cell variant: a layer class and the keywords that select it.

    Parameters
    ----------
    name : str
        The variant's name, e.g. ``"gru-v1"``.
    layer : type
        Its layer class (:class:`seqnet.LSTM`, ...).
    options : mapping
        Its keyword arguments (``{"reset_after": False}``).
    torch : str or None
        The ``torch.nn`` class computing the same cell, or None.
    torch_options : mapping
        Its keyword arguments (``{"nonlinearity": "relu"}``).
    torch_parity : bool
        Whether that class computes the same maths, weight for weight (else it only
        makes the same products: a speed reference, not an oracle).
    bptt_keeps : tuple of int
        ``(gates, states)``: what backpropagation through time must keep of every
        step and row, in units of ``H``: the LSTM i, f, g, o and (h, c); the GRU
        r, z, n and h, plus ``W_hn h + b_hn`` in its reset_after form (r*h, which
        the reset_before form needs, comes back from r and h); the SimpleRNN its
        activation, which is h itself.
    """

    name: str
    layer: type
    options: types.MappingProxyType
    torch: str | None
    torch_options: types.MappingProxyType
    torch_parity: bool
    bptt_keeps: tuple

    @property
    def gates(self):
        """tuple of str: the gate blocks in weight order (the kernel module's)."""
        return self.layer.GATES

    @property
    def kernel(self):
        """module: the kernel module (:mod:`seqnet.kernels.lstm`, ...), whose
        ``forward`` and ``backward`` take `options` as keywords."""
        return self.layer.kernel

    @property
    def state_names(self):
        """tuple of str: the names of the state tensors (``("h", "c")``, ``("h",)``)."""
        return self.layer.state_names

    def make(self, hidden_size, **kwargs):
        """A new layer of this variant.

        Parameters
        ----------
        hidden_size : int
            Hidden units.
        **kwargs
            Any other constructor argument (``input_size``, ``dtype``, ``seed``, ...).

        Returns
        -------
        seqnet.layers.RecurrentLayer
        """
        return self.layer(hidden_size, **self.options, **kwargs)


def _variant(name, layer, options, torch, bptt_keeps, torch_options=None,
             torch_parity=True):
    return Variant(name, layer, types.MappingProxyType(dict(options)), torch,
                   types.MappingProxyType(dict(torch_options or {})), torch_parity,
                   bptt_keeps)


#: every cell variant, in the order tables list them.
VARIANTS = (
    _variant("rnn-tanh", SimpleRNN, {"nonlinearity": "tanh"}, "RNN", (0, 1),
             {"nonlinearity": "tanh"}),
    _variant("rnn-relu", SimpleRNN, {"nonlinearity": "relu"}, "RNN", (0, 1),
             {"nonlinearity": "relu"}),
    _variant("lstm", LSTM, {}, "LSTM", (4, 2)),
    _variant("gru", GRU, {"reset_after": True}, "GRU", (4, 1)),
    _variant("gru-v1", GRU, {"reset_after": False}, "GRU", (3, 1), torch_parity=False),
)

#: their names.
NAMES = tuple(v.name for v in VARIANTS)


def get(name):
    """The variant called ``name``.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`.

    Returns
    -------
    Variant

    Raises
    ------
    ValueError
        An unknown name; the message lists the known ones.
    """
    for v in VARIANTS:
        if v.name == name:
            return v
    raise ValueError(f"unknown cell variant {name!r}: expected one of {list(NAMES)}")
