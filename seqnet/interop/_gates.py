"""The GRU's update-gate convention: seqnet's (PyTorch's, Keras's) and the other."""

from __future__ import annotations

import copy

import numpy as np

from ..layers import GRU

#: the parameter prefixes whose rows hold the gate blocks.
_GATED = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _flip_dict(state, H):
    out = {}
    for name, value in state.items():
        value = np.array(value, copy=True)
        if name.startswith(_GATED):
            if value.shape[0] != 3 * H:
                raise ValueError(f"{name} must have 3 * hidden_size = {3 * H} rows (r, z, n), "
                                 f"got shape {value.shape}")
            value[H:2 * H] = -value[H:2 * H]
        out[name] = value
    return out


def flip_update_gate(gru):
    """A GRU's weights converted between the two update-gate conventions.

    seqnet, PyTorch and Keras compute ``h_t = (1 - z_t) n_t + z_t h_{t-1}``; some
    texts (and code following them) write ``h_t = (1 - z_t) h_{t-1} + z_t n_t``.
    With ``z_t = sigmoid(a_t)``, ``1 - z_t = sigmoid(-a_t)``: negating the update
    gate's rows of every input weight, recurrent weight and bias turns one
    convention into the other, exactly. The map is its own inverse.

    Parameters
    ----------
    gru : seqnet.GRU or mapping of str to array_like
        A built GRU (any ``num_layers``, ``bidirectional``, ``bias``, either
        ``reset_after``) whose parameters were trained in one convention, or a
        state dict of one (seqnet's names, gate blocks r, z, n along the first
        axis of ``weight_ih*``, ``weight_hh*``, ``bias_ih*``, ``bias_hh*``).

    Returns
    -------
    seqnet.GRU or dict of str to ndarray
        A new GRU (a copy, its parameters flipped) or a new state dict: the same
        function in the other convention. The argument is left alone.

    Raises
    ------
    TypeError
        ``gru`` is neither a GRU nor a mapping.
    ValueError
        The GRU is not built or has ``layer_norm=True`` (the normalisation runs over
        all three gates' pre-activations, so negating one block changes the
        others), or a state dict's gate rows are not ``3 * hidden_size``.

    Notes
    -----
    With the update gate's pre-activation
    $a^z_t = W^z_{ih} x_t + b^z_{ih} + W^z_{hh} h_{t-1} + b^z_{hh}$, the other
    convention's
    $h_t = (1 - \\sigma(a^z_t))\\,h_{t-1} + \\sigma(a^z_t)\\,n_t$ equals seqnet's
    $h_t = (1 - \\sigma(-a^z_t))\\,n_t + \\sigma(-a^z_t)\\,h_{t-1}$, because
    $1 - \\sigma(a) = \\sigma(-a)$. The reset gate and the candidate ``n`` do not
    change.

    Examples
    --------
    >>> import numpy as np
    >>> import seqnet
    >>> from seqnet.interop import flip_update_gate
    >>> gru = seqnet.GRU(2, input_size=3, seed=0)
    >>> gru.params["bias_ih_l0"][:] = [1, 2, 3, 4, 5, 6]
    >>> flip_update_gate(gru).params["bias_ih_l0"]
    array([ 1.,  2., -3., -4.,  5.,  6.], dtype=float32)
    >>> bool(np.all(flip_update_gate(flip_update_gate(gru)).params["weight_hh_l0"]
    ...             == gru.params["weight_hh_l0"]))
    True
    """
    if isinstance(gru, GRU):
        if gru.layer_norm:
            raise ValueError("flip_update_gate cannot convert a GRU with layer_norm=True: the "
                             "normalisation runs over all three gates' pre-activations, so "
                             "negating the update gate's changes the others")
        if not gru.params:
            raise ValueError("gru is not built: its parameters do not exist yet")
        out = copy.deepcopy(gru)
        out._cache = None
        for name, value in _flip_dict(gru.params, gru.hidden_size).items():
            out.params[name][...] = value
        return out
    if isinstance(gru, GRU.__mro__[1]) or not hasattr(gru, "keys"):
        raise TypeError(f"gru must be a seqnet.GRU or a state dict (a mapping of names to "
                        f"arrays), got {type(gru).__name__}")
    rows = [np.shape(v)[0] for k, v in gru.items() if k.startswith(_GATED)]
    if not rows:
        raise ValueError("the state dict has no weight_ih/weight_hh/bias_ih/bias_hh entries")
    if rows[0] % 3:
        raise ValueError(f"the gate rows must be 3 * hidden_size (r, z, n), got {rows[0]}")
    return _flip_dict(gru, rows[0] // 3)
