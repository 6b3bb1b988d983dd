"""Hypothesis properties of every cell: what must hold whatever the numbers are.

Each test states its property in its docstring and runs over all five cells
(rnn-tanh, rnn-relu, lstm, gru, gru-v1). The problems are drawn with
:mod:`seqnet.testing`'s strategies, the ones users get for their own layers:
shapes are small (B 1..4, T 1..6, I 1..4, H 1..5, its defaults); inputs lie in
[-2, 2] and initial states in [-1, 1]; layers come from
:meth:`seqnet.testing.LayerConfig.make` with non-zero random biases, in float64
unless the property is about float32.

Properties that rerun a computation on a different batch (one row, a chunk, a
reversed copy) compare at ``rtol=1e-12``: the kernels' matrix products may
block differently for a different number of rows, which moves the last bits.
Serial against parallel is asserted bit for bit.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from seqnet import _dispatch, testing
from tests.conftest import CELL_NAMES, make_layer

# When an example fails, hypothesis's pytest plugin imports libcst to write a patch,
# and libcst's import warns (mypy_extensions.TypedDict is deprecated); under
# ``filterwarnings = error`` that turns every failure into a pytest INTERNALERROR
# that hides the falsifying example. The warning is the environment's, not seqnet's.
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")

#: float64 tolerances of a recomputation on a different batch layout.
RTOL, ATOL = 1e-12, 1e-13
#: float32 against float64, both with the same float32-representable inputs.
RTOL32, ATOL32 = 1e-4, 1e-5

#: bounds of the inputs and upstream gradients, and of the initial states.
VALUES, STATES = 2.0, 1.0


@dataclass
class Case:
    """One drawn problem: shapes, layer configuration, data, lengths and seed."""

    config: testing.LayerConfig
    shape: testing.Shape
    x: np.ndarray
    state: tuple
    lengths: np.ndarray | None
    seed: int

    @property
    def cell(self):
        return self.config.cell

    @property
    def B(self):
        return self.shape.batch

    @property
    def T(self):
        return self.shape.steps

    @property
    def H(self):
        return self.shape.hidden_size

    @property
    def D(self):
        return self.config.num_directions

    def layer(self, **kw):
        """The case's layer, float64 with non-zero random biases (``dtype`` and other
        constructor keywords override)."""
        return self.config.make(self.H, input_size=self.shape.input_size, seed=self.seed,
                                bias_scale=0.5, **kw)

    def row_length(self, b):
        return self.T if self.lengths is None else int(self.lengths[b])


@st.composite
def cases(draw, cell, *, layers=(1, 2), bidirectional=(False, True), lengths="maybe",
          min_steps=1):
    """A :class:`Case` for ``cell``, drawn with seqnet.testing's strategies;
    ``lengths`` is "maybe", "always" or "never"."""
    shape = draw(testing.shapes(steps=(min_steps, 6)))
    config = draw(testing.layer_configs(cells=[cell], num_layers=layers,
                                        bidirectional=bidirectional,
                                        return_sequences=True, return_state=True))
    x = draw(testing.float_arrays(shape.input_shape, bound=VALUES))
    state = draw(testing.initial_states(config, shape.batch, shape.hidden_size,
                                        bound=STATES))
    use_lengths = lengths == "always" or (lengths == "maybe" and draw(st.booleans()))
    lens = draw(testing.lengths(shape.batch, shape.steps)) if use_lengths else None
    seed = draw(st.integers(0, 2**16))
    return Case(config, shape, x, state, lens, seed)


def rows(parts, b):
    """Row ``b`` of every state tensor, keeping the batch axis."""
    return tuple(p[:, b:b + 1] for p in parts)


def close(actual, desired, what, rtol=RTOL, atol=ATOL):
    assert actual.shape == desired.shape, f"{what}: {actual.shape} != {desired.shape}"
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol, err_msg=what)


def draw_upstream(data, case, return_sequences=True):
    """Random gradients for ``out`` and for each final-state tensor."""
    config = dataclasses.replace(case.config, return_sequences=return_sequences)
    shape = config.output_shape(case.B, case.T, case.H)
    dout = data.draw(testing.float_arrays(shape, bound=VALUES), label="dout")
    dstate = tuple(data.draw(testing.float_arrays(p.shape, bound=VALUES), label="dstate")
                   for p in case.state)
    return dout, dstate


@pytest.mark.parametrize("cell", CELL_NAMES)
@settings(max_examples=15)
@given(data=st.data())
def test_batch_rows_are_independent(cell, data):
    """Running a batch equals running each of its rows alone, with that row's
    initial state and length: outputs and final state."""
    case = data.draw(cases(cell), label="case")
    layer = case.layer()
    out, *fin = layer.forward(case.x, list(case.state), lengths=case.lengths)
    for b in range(case.B):
        lens = None if case.lengths is None else case.lengths[b:b + 1]
        o, *f = layer.forward(case.x[b:b + 1], list(rows(case.state, b)),
                             lengths=lens)
        close(o[0], out[b], f"out row {b}")
        for k, part in enumerate(f):
            close(part[:, 0], fin[k][:, b], f"state[{k}] row {b}")


@pytest.mark.parametrize("cell", CELL_NAMES)
@settings(max_examples=15)
@given(data=st.data())
def test_lengths_equal_truncated_runs(cell, data):
    """A padded batch run with ``lengths`` equals each sequence run alone at its
    own length: the same outputs up to the length, exact zeros past it, and the
    same final state (the reverse direction starts at the row's last valid step)."""
    case = data.draw(cases(cell, lengths="always"), label="case")
    layer = case.layer()
    out, *fin = layer.forward(case.x, list(case.state), lengths=case.lengths)
    for b in range(case.B):
        n = case.row_length(b)
        o, *f = layer.forward(case.x[b:b + 1, :n], list(rows(case.state, b)))
        close(out[b, :n], o[0], f"out row {b}")
        np.testing.assert_array_equal(out[b, n:], 0.0, err_msg=f"padding of row {b}")
        for k, part in enumerate(f):
            close(fin[k][:, b], part[:, 0], f"state[{k}] row {b}")


@pytest.mark.parametrize("cell", CELL_NAMES)
@settings(max_examples=15)
@given(data=st.data())
def test_padded_backward_equals_per_row_backward(cell, data):
    """The backward of a padded batch equals the backward of each row run alone at
    its own length: dx up to the length (exact zeros past it, whatever the upstream
    gradient there), d(initial state) per row, and parameter gradients equal to
    the sum of the rows' gradients. Holds for ``return_sequences`` either way."""
    case = data.draw(cases(cell, lengths="always"), label="case")
    return_sequences = data.draw(st.booleans(), label="return_sequences")
    dout, dstate = draw_upstream(data, case, return_sequences)
    layer = case.layer(return_sequences=return_sequences)
    layer.forward(case.x, list(case.state), lengths=case.lengths, training=True)
    dx, *d0 = layer.backward([dout, *dstate])
    grads = {k: v.copy() for k, v in layer.grads.items()}
    summed = {k: np.zeros_like(v) for k, v in grads.items()}
    for b in range(case.B):
        n = case.row_length(b)
        layer.forward(case.x[b:b + 1, :n], list(rows(case.state, b)),
                      training=True)
        do = dout[b:b + 1, :n] if return_sequences else dout[b:b + 1]
        dx_b, *d0_b = layer.backward([do, *rows(dstate, b)])
        close(dx[b, :n], dx_b[0], f"dx row {b}")
        np.testing.assert_array_equal(dx[b, n:], 0.0, err_msg=f"dx padding of row {b}")
        for k, part in enumerate(d0_b):
            close(d0[k][:, b], part[:, 0], f"dstate0[{k}] row {b}")
        for k in summed:
            summed[k] += layer.grads[k]
    for k in grads:
        close(grads[k], summed[k], f"grad {k}", atol=1e-12)


@pytest.mark.parametrize("cell", CELL_NAMES)
@given(data=st.data())
def test_reverse_direction_is_forward_on_reversed_sequence(cell, data):
    """The reverse direction of a bidirectional layer equals a unidirectional
    layer with the same weights run on each row reversed within its own length:
    its outputs are that run's outputs reversed in time (zero past the length) and
    its final state is that run's final state."""
    case = data.draw(cases(cell, layers=1, bidirectional=True), label="case")
    H = case.H
    bi = case.layer()
    uni = case.layer(bidirectional=False)
    uni.load_state_dict({f"{n}_l0": bi.params[f"{n}_l0_reverse"]
                         for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
    xr = case.x.copy()
    for b in range(case.B):
        n = case.row_length(b)
        xr[b, :n] = case.x[b, :n][::-1]
    out, *fin = bi.forward(case.x, list(case.state), lengths=case.lengths)
    out_r, *fin_r = uni.forward(xr, list(tuple(p[1:2] for p in case.state)),
                               lengths=case.lengths)
    for b in range(case.B):
        n = case.row_length(b)
        close(out[b, :n, H:], out_r[b, :n][::-1], f"reverse out row {b}")
        np.testing.assert_array_equal(out[b, n:, H:], 0.0, err_msg=f"padding of row {b}")
    for k, (part, part_r) in enumerate(zip(fin, fin_r,
                                           strict=True)):
        close(part[1], part_r[0], f"reverse final state[{k}]")


@pytest.mark.parametrize("cell", CELL_NAMES)
@given(data=st.data())
def test_two_chunks_equal_whole_sequence(cell, data):
    """For a unidirectional layer (1 or 2 layers), running a sequence in two
    chunks, the second started from the first's final state, equals running it
    whole: outputs concatenated and final state. With lengths, every row is
    longer than the first chunk and the second chunk gets the remainders."""
    case = data.draw(cases(cell, bidirectional=(False,), lengths="never", min_steps=2),
                     label="case")
    split = data.draw(st.integers(1, case.T - 1), label="split")
    lengths = None
    if data.draw(st.booleans(), label="use_lengths"):
        lengths = data.draw(testing.lengths(case.B, case.T, min_length=split + 1),
                            label="lengths")
    layer = case.layer()
    out, *fin = layer.forward(case.x, list(case.state), lengths=lengths)
    out1, *mid = layer.forward(case.x[:, :split], list(case.state))
    out2, *fin2 = layer.forward(case.x[:, split:], mid,
                               lengths=None if lengths is None else lengths - split)
    close(np.concatenate([out1, out2], axis=1), out, "outputs")
    for k, (a, b) in enumerate(zip(fin2, fin, strict=True)):
        close(a, b, f"final state[{k}]")


def stacked_outputs(layer, cell, x, state, lengths):
    """The output sequence of every stacked layer of ``layer``, each run alone."""
    D, outs, inp = layer.num_directions, [], x
    for k in range(layer.num_layers):
        sub = make_layer(cell, layer.hidden_size, input_size=inp.shape[2],
                         bidirectional=layer.bidirectional, dtype=layer.dtype)
        sub.load_state_dict({name.replace(f"_l{k}", "_l0"): value
                             for name, value in layer.params.items()
                             if name.endswith((f"_l{k}", f"_l{k}_reverse"))})
        inp, *_ = sub.forward(inp, list(tuple(p[k * D:(k + 1) * D] for p in state)),
                             lengths=lengths)
        outs.append(inp)
    return outs


@pytest.mark.parametrize("cell", CELL_NAMES)
@settings(max_examples=15)
@given(data=st.data())
def test_float32_agrees_with_float64(cell, data):
    """With the same (float32-representable) weights, loaded through
    ``load_state_dict``, and the same inputs, a float32 layer agrees with a float64
    one to float32 tolerance: outputs, final state, dx, d(initial state) and
    every parameter gradient (for the ReLU RNN, away from ReLU's kink at 0)."""
    case = data.draw(cases(cell), label="case")
    dout, dstate = draw_upstream(data, case)

    def f32(a):
        return a.astype(np.float32).astype(np.float64)

    x, state = f32(case.x), tuple(f32(p) for p in case.state)
    dout, dstate = f32(dout), tuple(f32(p) for p in dstate)
    layer64 = case.layer()
    layer64.load_state_dict({k: f32(v) for k, v in layer64.params.items()})
    layer32 = case.layer(dtype=np.float32)
    layer32.load_state_dict(layer64.state_dict())
    if cell == "rnn-relu":
        # ReLU's derivative jumps at 0: a pre-activation within rounding of 0 (which
        # hypothesis builds on purpose, e.g. b - h with h = b - 1e-12) can fall on
        # different sides in the two dtypes, and the gradients then differ by O(1).
        # Keep away from the kink: no output of any stacked layer in (0, 1e-4).
        for layer in (layer32, layer64):
            for out in stacked_outputs(layer, cell, x, state, case.lengths):
                assume(not np.any((out > 0) & (out < 1e-4)))
    results = []
    for layer in (layer32, layer64):
        out, *fin = layer.forward(x, list(state), lengths=case.lengths,
                                 training=True)
        dx, *d0 = layer.backward([dout, *dstate])
        results.append((out, fin, dx, d0, dict(layer.grads)))
    (out32, fin32, dx32, d032, g32), (out64, fin64, dx64, d064, g64) = results
    assert out32.dtype == dx32.dtype == g32["weight_ih_l0"].dtype == np.float32

    def close32(a, b, what):
        close(a.astype(np.float64), b, what, rtol=RTOL32, atol=ATOL32)

    close32(out32, out64, "out")
    close32(dx32, dx64, "dx")
    for k in range(len(fin64)):
        close32(fin32[k], fin64[k], f"final state[{k}]")
        close32(d032[k], d064[k], f"dstate0[{k}]")
    for k in g64:
        close32(g32[k], g64[k], f"grad {k}")


def run_pass(case, dout, dstate, mode):
    """Forward and backward of the case's layer under ``parallel_mode(mode)``."""
    layer = case.layer()
    with _dispatch.parallel_mode(mode):
        out, *fin = layer.forward(case.x, list(case.state), lengths=case.lengths,
                                 training=True)
        dx, *d0 = layer.backward([dout, *dstate])
    return out, fin, dx, d0, dict(layer.grads)


@pytest.mark.parametrize("cell", CELL_NAMES)
@settings(max_examples=15)
@given(data=st.data())
def test_serial_equals_parallel(cell, data):
    """The serial and the parallel (``prange`` over chunks) kernels give the
    same bits: forward outputs, final states, dx, d(initial state) and every
    parameter gradient."""
    case = data.draw(cases(cell), label="case")
    dout, dstate = draw_upstream(data, case)
    out_s, fin_s, dx_s, d0_s, g_s = run_pass(case, dout, dstate, "serial")
    out_p, fin_p, dx_p, d0_p, g_p = run_pass(case, dout, dstate, "parallel")
    np.testing.assert_array_equal(out_p, out_s, err_msg="out")
    np.testing.assert_array_equal(dx_p, dx_s, err_msg="dx")
    for k in range(len(fin_s)):
        np.testing.assert_array_equal(fin_p[k], fin_s[k], err_msg=f"final state[{k}]")
        np.testing.assert_array_equal(d0_p[k], d0_s[k], err_msg=f"dstate0[{k}]")
    assert sorted(g_p) == sorted(g_s)
    for k in g_s:
        np.testing.assert_array_equal(g_p[k], g_s[k], err_msg=f"grad {k}")
