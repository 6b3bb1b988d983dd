"""Every BPTT gradient proven by float64 central differences, and the checker itself."""

import subprocess
import sys

import numpy as np
import pytest

import seqnet
from seqnet.gradcheck import DEFAULT_TOLERANCE, SUITE, check_gradients, relative_error, run_case


@pytest.mark.parametrize("mode", ["auto", "parallel"])
@pytest.mark.parametrize("case", SUITE, ids=lambda c: c.name)
def test_suite_case(case, mode):
    """Every parameter, the input and the initial state(s) of the case agree with
    central differences to DEFAULT_TOLERANCE (a correct BPTT lands near 1e-9): in
    "auto" mode (these small layers run serially, one hidden-unit chunk) and
    forced parallel (one chunk per thread)."""
    report = run_case(case, mode=mode)
    layer = case.make_layer()
    expected = set(layer.params) | {"x"} | {
        f"initial_state[{m}]" for m in range(len(layer.state_names))}
    assert set(report.errors) == expected
    assert report.passed(DEFAULT_TOLERANCE), report.errors


def test_suite_covers_every_variant():
    cells = {c.cell for c in SUITE}
    assert cells == set(seqnet.variants.NAMES)
    for attr in ("num_layers", "bidirectional", "return_sequences", "lengths",
                 "initial_state"):
        assert len({getattr(c, attr) for c in SUITE}) == 2, attr
    assert any(c.dropout > 0 for c in SUITE)


class Affine(seqnet.Layer):
    """A user's layer following the contract: out = tanh(x @ W + b) per step, state =
    last out + the initial state, returned as an output (return_state)."""

    state_names = ("h",)
    return_state = True

    def __init__(self, I, H, bug=False):
        super().__init__(dtype=np.float64)
        rng = np.random.default_rng(0)
        self.params = {"W": rng.standard_normal((I, H)), "b": rng.standard_normal(H)}
        self.bug = bug

    def call(self, x, initial_state, *, training):
        self.x = x
        out = np.tanh(x @ self.params["W"] + self.params["b"])
        self.out = out
        h = out[:, -1][None]
        if initial_state is not None:
            h = h + initial_state[0]
        return out, (h,)

    def call_backward(self, dout, dstate):
        dout = dout.copy()
        dout[:, -1] += dstate[0][0]
        da = dout * (1 - self.out ** 2)
        self.grads["W"] = np.einsum("bti,bth->ih", self.x, da)
        self.grads["b"] = da.sum(axis=(0, 1)) * (1.5 if self.bug else 1.0)
        return da @ self.params["W"].T, dstate


def test_user_layer_passes():
    report = check_gradients(Affine(3, 2), np.random.default_rng(1).standard_normal((2, 4, 3)))
    assert report.passed(1e-7), report.errors
    assert report.max_error < 1e-7


def test_wrong_gradient_is_caught():
    """The checker fails a layer whose bias gradient is 1.5 times too large."""
    report = check_gradients(Affine(3, 2, bug=True),
                             np.random.default_rng(1).standard_normal((2, 4, 3)))
    assert not report.passed()
    assert report.worst == "b"
    assert report.errors["b"] == pytest.approx(1 / 3, rel=1e-6)
    assert report.errors["W"] < 1e-7


def test_float32_layer_refused():
    with pytest.raises(ValueError, match="dtype=np.float64"):
        check_gradients(seqnet.LSTM(2, seed=0), np.zeros((1, 2, 2)))


def test_relative_error_definition():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error([1.0, 2.0], [1.0, 2.2]) == pytest.approx(0.2 / 2.2)
    assert relative_error([0.0, 1e-12], [0.0, 0.0]) == 1.0
    # A NaN or infinity on either side is an error, even against an all-zero side.
    for bad in (np.nan, np.inf):
        assert np.isnan(relative_error(np.zeros(3), [0.0, bad, 0.0]))
        assert np.isnan(relative_error([bad, 0.0, 0.0], np.zeros(3)))


def test_command_line_reports_and_fails():
    """`python -m seqnet.gradcheck` prints a table row per case and a summary; an
    impossible tolerance makes it exit with status 1."""
    ok = subprocess.run([sys.executable, "-m", "seqnet.gradcheck", "--cell", "rnn-tanh"],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    rows = [r for r in ok.stdout.splitlines() if r.startswith("| rnn-tanh")]
    n_cases = sum(c.cell == "rnn-tanh" for c in SUITE)
    assert len(rows) == 2 * n_cases     # each case in "auto" and forced-parallel mode
    assert sum("(parallel)" in r for r in rows) == n_cases
    assert "worst relative error per cell: rnn-tanh" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "seqnet.gradcheck", "--cell", "gru",
                          "--tolerance", "1e-30"], capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "FAIL" in bad.stdout


def test_a_nan_error_is_the_worst_and_the_max():
    """max() over floats skips a NaN depending on order: the report must not."""
    from seqnet.gradcheck import GradcheckReport

    for errors in ({"w": 1e-9, "x": float("nan")}, {"x": float("nan"), "w": 1e-9}):
        report = GradcheckReport(errors=errors, analytic={}, numeric={})
        assert report.worst == "x" and np.isnan(report.max_error)
        assert not report.passed()


def test_forced_parallel_mode_checks_the_chunked_kernels():
    """The suite's layers are small: "auto" runs them in one block of rows with BLAS
    per-step products, a forced mode in one row block per thread (this machine's CI
    has 2) on packed weights, so the "parallel" half of the suite checks the blocked
    and packed code paths."""
    import numba

    from seqnet import _dispatch
    from seqnet.gradcheck import BATCH, HIDDEN, INPUT, STEPS

    assert numba.get_num_threads() >= 2
    how = _dispatch.plan(BATCH, STEPS, 4 * HIDDEN, INPUT, HIDDEN)
    assert how.blocks == 1 and not how.pack and not how.parallel
    for mode in ("serial", "parallel"):
        with _dispatch.parallel_mode(mode):
            how = _dispatch.plan(BATCH, STEPS, 4 * HIDDEN, INPUT, HIDDEN)
            assert how.blocks == min(numba.get_num_threads(), BATCH)
            assert how.pack and how.parallel == (mode == "parallel")
