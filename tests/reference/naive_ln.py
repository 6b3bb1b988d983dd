"""Slow, obvious NumPy versions of the layer-normalised LSTM and GRU, one row and one
step at a time, written from the equations in the layers' docstrings (no code shared
with the kernels). Parameters use seqnet's (PyTorch-style) names."""

import numpy as np

from .naive import sigmoid

EPS = 1e-5


def layer_norm(v):
    return (v - v.mean()) / np.sqrt(v.var() + EPS)


def lstm_ln_step(x, h, c, p):
    H = h.shape[0]
    a = (p["layer_norm_ih_weight"] * layer_norm(p["weight_ih"] @ x)
         + p["layer_norm_hh_weight"] * layer_norm(p["weight_hh"] @ h)
         + p["bias_ih"] + p["bias_hh"])
    i, f = sigmoid(a[:H]), sigmoid(a[H:2 * H])
    g, o = np.tanh(a[2 * H:3 * H]), sigmoid(a[3 * H:])
    c_new = f * c + i * g
    k = p["layer_norm_c_weight"] * layer_norm(c_new) + p["layer_norm_c_bias"]
    return o * np.tanh(k), c_new


def gru_ln_step(x, h, p):
    H = h.shape[0]
    pi = p["layer_norm_ih_weight"] * layer_norm(p["weight_ih"] @ x) + p["bias_ih"]
    m = p["layer_norm_hh_weight"] * layer_norm(p["weight_hh"] @ h) + p["bias_hh"]
    r = sigmoid(pi[:H] + m[:H])
    z = sigmoid(pi[H:2 * H] + m[H:2 * H])
    n = np.tanh(pi[2 * H:] + r * m[2 * H:])
    return (1 - z) * n + z * h


def run_layer(cell, x, params, num_layers, bidirectional, state, lengths=None):
    """A stacked, possibly bidirectional layer-normalised ``cell`` ("lstm" or "gru")
    over batch-first ``x``; ``state`` a tuple of ``(num_layers*D, B, H)`` arrays.
    Returns the output ``(B, T, D*H)`` and the final state tuple."""
    D = 2 if bidirectional else 1
    B, T, _ = x.shape
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    finals = [np.zeros(s.shape) for s in state]
    inp = x
    for k in range(num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{k}" + ("_reverse" if d else "")
            p = {n[:-len(sfx)]: v for n, v in params.items() if n.endswith(sfx)}
            H = state[0].shape[2]
            out = np.zeros((B, T, H))
            for b in range(B):
                s = [np.array(a[k * D + d, b], np.float64) for a in state]
                steps = range(lengths[b] - 1, -1, -1) if d else range(lengths[b])
                for t in steps:
                    if cell == "lstm":
                        s = list(lstm_ln_step(inp[b, t], s[0], s[1], p))
                    else:
                        s = [gru_ln_step(inp[b, t], s[0], p)]
                    out[b, t] = s[0]
                for m, a in enumerate(s):
                    finals[m][k * D + d, b] = a
            outs.append(out)
        inp = np.concatenate(outs, axis=-1)
    return inp, tuple(finals)
