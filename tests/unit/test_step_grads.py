"""Weight gradients summed inside the backward time loop, and the SimpleRNN's
output that is its own cache.

The SimpleRNN sums ``dW_hh`` step by step, from each output just before the
backward writes its gradient over it, and keeps no state history; the GRU in its
reset_before form sums ``dW_hn`` step by step from ``r * h`` made again, and keeps
no ``r * h`` for every step. The gradient-check suite proves both sums; these tests
pin down the memory they save and the one thing that could go silently wrong: a
backward writing over an output its caller still holds.
"""

import gc
import tracemalloc

import numpy as np
import pytest

import seqnet
from seqnet import _dispatch
from seqnet.kernels import gru, rnn


def _rnn_problem(B=6, T=9, I=5, H=7, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, I))
    W_ih, W_hh = rng.standard_normal((H, I)) * 0.5, rng.standard_normal((H, H)) * 0.5
    b_ih, b_hh = rng.standard_normal(H) * 0.1, rng.standard_normal(H) * 0.1
    h0 = rng.standard_normal((B, H))
    lengths = np.array([T, 3, T, 1, 5, T - 1][:B], np.int64)
    dout = rng.standard_normal((B, T, H))
    dhT = rng.standard_normal((B, H))
    return x, W_ih, W_hh, b_ih, b_hh, h0, lengths, dout, dhT


def _traced(f):
    """``(peak, kept, f())``: the peak bytes that Python and NumPy allocate while
    ``f()`` runs, and the bytes still allocated when it has returned (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = f()
        now, peak = tracemalloc.get_traced_memory()
        return peak - base, now - base, result
    finally:
        tracemalloc.stop()


def _peak_bytes(f):
    """``(peak, f())``, as :func:`_traced`."""
    peak, _, result = _traced(f)
    return peak, result


@pytest.mark.parametrize("mode", ["auto", "serial", "parallel"])
@pytest.mark.parametrize("reverse", [False, True])
def test_rnn_backward_over_a_dropped_output_equals_one_over_a_held_output(mode, reverse):
    """rnn_backward writes dL/da over the forward's outputs when only the cache
    holds them, and over a copy when the caller still does (the whole array or a
    view of it). Both give the same bits, the held output is left as it was, and
    only the copy costs a [B, T, H] buffer."""
    x, W_ih, W_hh, b_ih, b_hh, h0, lengths, dout, dhT = _rnn_problem()
    out_bytes = dout.nbytes
    with _dispatch.parallel_mode(mode):
        def run(hold):
            out, _, cache = rnn.forward(x, W_ih, W_hh, b_ih, b_hh, (h0,), lengths, reverse)
            held = {"all": out, "view": out[:, 1:3], "none": None}[hold]
            kept = out.copy()
            del out
            peak, grads = _peak_bytes(lambda: rnn.backward(cache, dout, (dhT,)))
            if held is not None:
                base = held if held.base is None else held.base
                np.testing.assert_array_equal(base, kept)
            return peak, grads

        run("none")   # compiles or loads the kernels, which tracemalloc would count
        (peak_free, free), (peak_all, held_all), (peak_view, held_view) = (
            run(h) for h in ("none", "all", "view"))
    def flat(grads):
        dx, dW, dstate = grads
        return [dx, *dW, *dstate]

    for a, b, c in zip(flat(free), flat(held_all), flat(held_view), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert peak_all - peak_free >= 0.9 * out_bytes
    assert peak_view - peak_free >= 0.9 * out_bytes


@pytest.mark.parametrize("reverse", [False, True])
def test_rnn_weight_grad_summed_by_steps_matches_the_whole_sequence_product(reverse):
    """dW_hh = sum_t dL/da_t^T h_{t-1}, with h_{t-1} the initial state where each
    row starts (step 0, or its last valid step when reverse): recomputed here
    from the forward's outputs with NumPy, against the kernels' step-by-step sum,
    over rows of different lengths."""
    x, W_ih, W_hh, b_ih, b_hh, h0, lengths, dout, dhT = _rnn_problem(seed=1)
    out, _, cache = rnn.forward(x, W_ih, W_hh, b_ih, b_hh, (h0,), lengths, reverse)
    h = out.copy()
    _, (_, dW_hh, db, _), _ = rnn.backward(cache, dout, (dhT,))
    # dL/da again, from the kernels' own dh recursion, in NumPy
    B, T, H = h.shape
    dh = dhT.copy()
    da = np.zeros_like(h)
    steps = range(T) if reverse else range(T - 1, -1, -1)
    for t in steps:
        valid = t < lengths
        d = (dh + dout[:, t]) * (1 - h[:, t] ** 2)
        da[valid, t] = d[valid]
        dh = np.where(valid[:, None], da[:, t] @ W_hh, dh)
    expected = np.zeros((H, H))
    for b in range(B):
        L = lengths[b]
        for t in range(L):
            prev_t = t + 1 if reverse else t - 1
            first = t == (L - 1 if reverse else 0)
            expected += np.outer(da[b, t], h0[b] if first else h[b, prev_t])
    np.testing.assert_allclose(dW_hh, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, da.sum(axis=(0, 1)), rtol=1e-12, atol=1e-12)


def test_simple_rnn_layer_returns_its_cache_and_refuses_a_modified_one():
    """A training SimpleRNN returns the kernel's output itself (no copy); changing
    it in place before backward would change the gradients, so backward raises.
    Unchanged, it survives backward as it was."""
    layer = seqnet.SimpleRNN(4, input_size=3, seed=0, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    out = layer.forward(x, training=True)
    kept = out.copy()
    layer.backward(np.ones_like(out))
    np.testing.assert_array_equal(out, kept)
    out = layer.forward(x, training=True)
    out[1, 2, 3] += 1.0
    with pytest.raises(ValueError, match="output of forward.*was modified in place"):
        layer.backward(np.ones_like(out))


def test_simple_rnn_layer_gradients_do_not_depend_on_holding_the_output():
    """The layer's gradients are the same bits whether the caller dropped the
    output (the kernel then writes over it) or kept it (over a copy)."""
    layer = seqnet.SimpleRNN(6, input_size=3, seed=0, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((4, 7, 3))
    dout = np.random.default_rng(2).standard_normal((4, 7, 6))
    out = layer.forward(x, training=True)
    dx_held = layer.backward(dout)
    grads_held = {k: v.copy() for k, v in layer.grads.items()}
    del out
    layer.forward(x, training=True)
    dx_free = layer.backward(dout)
    np.testing.assert_array_equal(dx_free, dx_held)
    for k, v in grads_held.items():
        np.testing.assert_array_equal(layer.grads[k], v)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_training_forward_keeps_one_buffer_per_kept_quantity(reset_after):
    """What a training GRU forward leaves allocated: out, the state history, the gates,
    and (reset_after only) W_hn h + b_hn; reset_before keeps no r * h for every
    step (its backward makes it again)."""
    rng = np.random.default_rng(4)
    B, T, I, H = 8, 100, 5, 16
    x = rng.standard_normal((B, T, I))
    W_ih, W_hh = rng.standard_normal((3 * H, I)) * 0.3, rng.standard_normal((3 * H, H)) * 0.3
    b = np.zeros(3 * H)
    h0 = np.zeros((B, H))
    lengths = np.full(B, T, np.int64)
    unit = B * T * H * 8
    gru.forward(x, W_ih, W_hh, b, b, (h0,), lengths, reset_after=reset_after)  # warm
    _, kept, (out, _, cache) = _traced(lambda: gru.forward(
        x, W_ih, W_hh, b, b, (h0,), lengths, reset_after=reset_after))
    buffers = 1 + 1 + 3 + (1 if reset_after else 0)   # out, h_prev, gates, hn
    assert buffers * unit <= kept < (buffers + 0.5) * unit
