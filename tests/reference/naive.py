"""Slow, obvious NumPy versions of every cell, one time step and one row at a time.

Written straight from the equations, with no shared code with the kernels, so that
the kernels can be checked against them. Weights use PyTorch's layout and names.
"""

import numpy as np


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def rnn_step(x, h, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    a = W_ih @ x + b_ih + W_hh @ h + b_hh
    return (np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0)), None


def lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    H = h.shape[0]
    a = W_ih @ x + b_ih + W_hh @ h + b_hh
    i = sigmoid(a[0:H])
    f = sigmoid(a[H:2 * H])
    g = np.tanh(a[2 * H:3 * H])
    o = sigmoid(a[3 * H:4 * H])
    c_new = f * c + i * g
    return o * np.tanh(c_new), c_new


def gru_step(x, h, W_ih, W_hh, b_ih, b_hh, reset_after=True):
    H = h.shape[0]
    gi = W_ih @ x + b_ih
    r = sigmoid(gi[0:H] + W_hh[0:H] @ h + b_hh[0:H])
    z = sigmoid(gi[H:2 * H] + W_hh[H:2 * H] @ h + b_hh[H:2 * H])
    if reset_after:
        n = np.tanh(gi[2 * H:] + r * (W_hh[2 * H:] @ h + b_hh[2 * H:]))
    else:
        n = np.tanh(gi[2 * H:] + W_hh[2 * H:] @ (r * h) + b_hh[2 * H:])
    return (1.0 - z) * n + z * h, None


def run_direction(cell, x, params, state, lengths=None, reverse=False, **options):
    """One direction over a batch-first ``x`` (B, T, I), row by row, step by step.

    ``state`` is a tuple of ``(B, H)`` arrays (h,) or (h, c). Returns ``out``
    (B, T, H), zero past each length, and the final state tuple.
    """
    B, T, _ = x.shape
    H = state[0].shape[1]
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    out = np.zeros((B, T, H))
    finals = [np.zeros((B, H)) for _ in state]
    for b in range(B):
        s = [np.array(a[b], dtype=np.float64) for a in state]
        steps = range(lengths[b] - 1, -1, -1) if reverse else range(lengths[b])
        for t in steps:
            if cell == "lstm":
                h, c = lstm_step(x[b, t], s[0], s[1], *params)
                s = [h, c]
            elif cell == "gru":
                h, _ = gru_step(x[b, t], s[0], *params, **options)
                s = [h]
            else:
                h, _ = rnn_step(x[b, t], s[0], *params, **options)
                s = [h]
            out[b, t] = s[0]
        for k, a in enumerate(s):
            finals[k][b] = a
    return out, tuple(finals)


def run_layer(cell, x, params, num_layers, bidirectional, state, lengths=None, **options):
    """A full (possibly stacked, bidirectional) layer, no dropout.

    ``params`` is a dict of PyTorch-named arrays; ``state`` a tuple of
    ``(num_layers*D, B, H)`` arrays. Returns ``out`` (B, T, D*H) and the final state.
    """
    D = 2 if bidirectional else 1
    finals = [np.zeros_like(s, dtype=np.float64) for s in state]
    inp = x
    for k in range(num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{k}" + ("_reverse" if d else "")
            p = [params[f"{n}{sfx}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            st = tuple(s[k * D + d] for s in state)
            o, fin = run_direction(cell, inp, p, st, lengths, reverse=bool(d), **options)
            outs.append(o)
            for m, f in enumerate(fin):
                finals[m][k * D + d] = f
        inp = np.concatenate(outs, axis=-1)
    return inp, tuple(finals)
