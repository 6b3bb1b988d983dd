"""seqnet.testing: assert_gradients_close passes a right backward and fails a wrong
one with a readable message; the strategies draw what they promise; and the module
works without Hypothesis, except for the strategies, which then name it."""

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seqnet
from seqnet import testing, variants
from seqnet.testing import LayerConfig, assert_gradients_close

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- users' own layers
class Scale(seqnet.Layer):
    """A user's element-wise layer: out = tanh(x * w + b), w and b of shape (I,)."""

    per_step = True

    def __init__(self, size, seed=0):
        super().__init__(dtype=np.float64)
        rng = np.random.default_rng(seed)
        self.params = {"w": rng.standard_normal(size), "b": rng.standard_normal(size)}

    def call(self, x, initial_state, *, training):
        out = np.tanh(x * self.params["w"] + self.params["b"])
        self._cache = (x, out)
        return out, ()

    def call_backward(self, dout, dstate):
        x, out = self._cache
        da = dout * (1 - out ** 2)
        self.grads["w"] = (da * x).sum(axis=(0, 1))
        self.grads["b"] = da.sum(axis=(0, 1))
        return da * self.params["w"], ()

    def get_config(self):
        return {"size": self.params["w"].size}


class WrongScale(Scale):
    """Scale with a wrong backward: the w gradient forgets tanh's derivative."""

    def call_backward(self, dout, dstate):
        dx, _ = super().call_backward(dout, dstate)
        x, _ = self._cache
        self.grads["w"] = (dout * x).sum(axis=(0, 1))
        return dx, ()


class Slightly(Scale):
    """Scale whose b gradient is off by a relative 1e-4: fails 1e-6, passes 1e-3."""

    def call_backward(self, dout, dstate):
        dx, _ = super().call_backward(dout, dstate)
        self.grads["b"] = self.grads["b"] * (1 + 1e-4)
        return dx, ()


class NaNScale(Scale):
    """Scale whose backward puts a NaN in the b gradient."""

    def call_backward(self, dout, dstate):
        dx, _ = super().call_backward(dout, dstate)
        self.grads["b"][0] = np.nan
        return dx, ()


class Leaky(seqnet.Layer):
    """A user's recurrent layer: h_t = a * h_{t-1} + x_t * w (a, w of shape (I,)),
    state h (1, B, I); ``bug`` drops the gradient of the initial state."""

    state_names = ("h",)
    return_state = True

    def __init__(self, size, bug=False):
        super().__init__(dtype=np.float64)
        rng = np.random.default_rng(3)
        self.params = {"a": rng.uniform(0.2, 0.9, size), "w": rng.standard_normal(size)}
        self.bug = bug

    def call(self, x, initial_state, *, training):
        h = (np.zeros((x.shape[0], x.shape[2])) if initial_state is None
             else initial_state[0][0])
        hs = [h]
        for t in range(x.shape[1]):
            hs.append(self.params["a"] * hs[-1] + x[:, t] * self.params["w"])
        self._cache = (x, np.stack(hs, axis=1))
        return np.stack(hs[1:], axis=1), (hs[-1][None],)

    def call_backward(self, dout, dstate):
        x, hs = self._cache
        a, w = self.params["a"], self.params["w"]
        dh = dstate[0][0].copy()
        dx = np.zeros_like(x)
        da, dw = np.zeros_like(a), np.zeros_like(w)
        for t in reversed(range(x.shape[1])):
            dh = dh + dout[:, t]
            dx[:, t] = dh * w
            dw += (dh * x[:, t]).sum(axis=0)
            da += (dh * hs[:, t]).sum(axis=0)
            dh = dh * a
        self.grads = {"a": da, "w": dw}
        return dx, ((0.0 if self.bug else 1.0) * dh[None],)

    def get_config(self):
        return {"size": self.params["a"].size}


X = np.random.default_rng(1).standard_normal((2, 5, 3))


def test_a_right_custom_layer_passes_and_returns_the_report():
    report = assert_gradients_close(Scale(3), X)
    assert isinstance(report, seqnet.gradcheck.GradcheckReport)
    assert sorted(report.errors) == ["b", "w", "x"]
    assert report.max_error < 1e-8


def test_a_wrong_backward_fails_naming_the_worst_tensor_its_error_and_the_tolerance():
    expected = seqnet.check_gradients(WrongScale(3), X)
    assert expected.worst == "w"
    with pytest.raises(AssertionError) as info:
        assert_gradients_close(WrongScale(3), X)
    lines = str(info.value).splitlines()
    assert lines[0] == (f"gradient check of WrongScale failed: 'w' has max relative error "
                        f"{expected.errors['w']:.2e} (tolerance 1e-06)")
    assert lines[1] == "worst entries of 'w':"
    # the three worst entries, largest difference first, with their values
    diff = np.abs(expected.analytic["w"] - expected.numeric["w"])
    worst = np.argsort(-diff)[:3]
    for line, i in zip(lines[2:5], worst, strict=True):
        assert line == (f"  ({i},): analytic {expected.analytic['w'][i]:.6g}, numeric "
                        f"{expected.numeric['w'][i]:.6g}, difference {diff[i]:.2e}")
    assert lines[5] == f"tensors above the tolerance: w {expected.errors['w']:.2e}"
    assert lines[6].startswith("2 tensors within it (worst x ")
    assert len(lines) == 7


def test_entries_sets_how_many_entries_the_message_lists():
    with pytest.raises(AssertionError) as info:
        assert_gradients_close(WrongScale(3), X, entries=1)
    assert sum(line.startswith("  (") for line in str(info.value).splitlines()) == 1
    with pytest.raises(AssertionError) as info:       # more than the tensor has: all
        assert_gradients_close(WrongScale(3), X, entries=50)
    assert sum(line.startswith("  (") for line in str(info.value).splitlines()) == 3


def test_the_tolerance_is_the_pass_mark():
    with pytest.raises(AssertionError, match=r"'b' has max relative error 1\.0\de-04 "
                                             r"\(tolerance 1e-06\)"):
        assert_gradients_close(Slightly(3), X)
    assert assert_gradients_close(Slightly(3), X, tolerance=1e-3).errors["b"] > 1e-6


def test_atol_passes_a_tensor_whose_whole_gradient_is_below_the_noise():
    """x of order 1e-9 makes w's gradient (da x) of order 1e-9, where central
    differences' rounding noise (about 1e-11 here) is a relative error of about
    1e-2: a right backward fails on the relative error alone, and passes with an
    atol above the noise, while a wrong backward still fails."""
    tiny = 1e-9 * X
    with pytest.raises(AssertionError, match=r"failed: 'w' has max relative error \d\.\d\de-0[1-4]"
                                             r" \(tolerance 1e-06\)"):
        assert_gradients_close(Scale(3), tiny)
    report = assert_gradients_close(Scale(3), tiny, atol=1e-8)
    assert report.errors["w"] > 1e-6 and report.errors["b"] < 1e-6
    expected = seqnet.check_gradients(WrongScale(3), X)
    with pytest.raises(AssertionError) as info:
        assert_gradients_close(WrongScale(3), X, atol=1e-8)
    diff = np.abs(expected.analytic["w"] - expected.numeric["w"]).max()
    assert str(info.value).splitlines()[0] == (
        f"gradient check of WrongScale failed: 'w' has max relative error "
        f"{expected.errors['w']:.2e}, max absolute difference {diff:.2e} "
        f"(tolerance 1e-06, atol 1e-08)")


def test_a_nan_gradient_fails_and_is_named():
    with pytest.raises(AssertionError) as info:
        assert_gradients_close(NaNScale(3), X, atol=1.0)     # no atol passes a NaN
    message = str(info.value)
    assert "'b' has a NaN or infinite gradient" in message
    assert "  (0,): analytic nan, numeric " in message and "difference nan" in message
    assert "tensors above the tolerance: b nan" in message


def test_a_recurrent_custom_layer_checks_its_initial_state():
    report = assert_gradients_close(Leaky(3), X)
    assert sorted(report.errors) == ["a", "initial_state[0]", "w", "x"]
    with pytest.raises(AssertionError, match=r"'initial_state\[0\]' has max relative error "
                                             r"1\.00e\+00"):
        assert_gradients_close(Leaky(3, bug=True), X)


def test_seqnet_layers_pass_with_lengths_initial_state_and_dropout():
    layer = seqnet.LSTM(3, input_size=2, num_layers=2, bidirectional=True, dropout=0.5,
                        return_state=True, dtype=np.float64, seed=2)
    x = np.random.default_rng(0).standard_normal((3, 4, 2))
    h0 = [0.5 * np.random.default_rng(s).standard_normal((4, 3, 3)) for s in (1, 2)]
    report = assert_gradients_close(layer, x, lengths=np.array([4, 1, 3]), initial_state=h0)
    assert len(report.errors) == 2 * 2 * 4 + 3
    assert report.max_error < 1e-6


def test_a_wrong_backward_in_a_seqnet_layer_subclass_is_caught():
    class OffGRU(seqnet.GRU):
        def call_backward(self, dout, dstate):
            result = super().call_backward(dout, dstate)
            self.grads["bias_hh_l0"] = self.grads["bias_hh_l0"] * 1.01
            return result

    layer = OffGRU(2, input_size=3, return_state=True, dtype=np.float64, seed=0)
    with pytest.raises(AssertionError, match=r"failed: 'bias_hh_l0' has max relative error "
                                             r"9\.9\de-03"):
        assert_gradients_close(layer, X)


@pytest.mark.parametrize("kw,exc,pattern", [
    ({"tolerance": 0}, ValueError, r"tolerance must be > 0, got 0"),
    ({"tolerance": -1e-6}, ValueError, r"tolerance must be > 0"),
    ({"tolerance": math.nan}, ValueError, r"tolerance must be finite \(> 0\), got nan"),
    ({"tolerance": math.inf}, ValueError, r"tolerance must be finite"),
    ({"tolerance": "1e-6"}, TypeError, r"tolerance must be a real number"),
    ({"tolerance": True}, TypeError, r"tolerance must be a real number"),
    ({"atol": -1e-9}, ValueError, r"atol must be >= 0"),
    ({"atol": math.nan}, ValueError, r"atol must be finite"),
    ({"eps": 0.0}, ValueError, r"eps must be > 0"),
    ({"entries": 0}, ValueError, r"entries must be a positive integer"),
    ({"seed": -1}, ValueError, r"seed must be a non-negative integer"),
])
def test_bad_arguments_are_named(kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        assert_gradients_close(Scale(3), X, **kw)


@pytest.mark.parametrize("layer,name", [(np.zeros(3), "ndarray"), (None, "NoneType"),
                                        (Scale, "type"), ("lstm", "str")])
def test_a_non_layer_is_refused(layer, name):
    with pytest.raises(TypeError, match=rf"layer must be a seqnet.Layer .*, got {name}"):
        assert_gradients_close(layer, X)


def test_a_float32_layer_is_refused():
    layer = seqnet.GRU(2, input_size=3, dtype=np.float32)
    with pytest.raises(ValueError, match="build the layer with dtype=np.float64"):
        assert_gradients_close(layer, X)


# ------------------------------------------------------------------------ strategies
@settings(max_examples=30)
@given(testing.shapes(batch=(2, 3), steps=4, input_size=(1, 2), hidden_size=(5, 7)))
def test_shapes_stay_in_their_bounds(shape):
    assert isinstance(shape, testing.Shape)
    assert 2 <= shape.batch <= 3 and shape.steps == 4
    assert 1 <= shape.input_size <= 2 and 5 <= shape.hidden_size <= 7
    assert shape.input_shape == (shape.batch, 4, shape.input_size)


@pytest.mark.parametrize("kw,exc,pattern", [
    ({"batch": 0}, ValueError, r"batch must satisfy 1 <= min <= max, got \(0, 0\)"),
    ({"steps": (3, 2)}, ValueError, r"steps must satisfy 1 <= min <= max, got \(3, 2\)"),
    ({"input_size": (1, 2, 3)}, TypeError, r"input_size must be an integer or a pair"),
    ({"hidden_size": "4"}, TypeError, r"hidden_size must be an integer or a pair"),
    ({"batch": True}, TypeError, r"batch must be an integer or a pair"),
    ({"steps": (1, 2.5)}, TypeError, r"steps's max must be an integer"),
])
def test_shapes_refuse_bad_bounds(kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        testing.shapes(**kw)


@settings(max_examples=40)
@given(st.integers(1, 5), st.integers(1, 6), st.booleans(), st.data())
def test_lengths_are_valid_and_a_full_row_is_guaranteed(batch, steps, full, data):
    min_length = data.draw(st.integers(1, steps))
    lens = data.draw(testing.lengths(batch, steps, min_length=min_length, full=full))
    assert lens.dtype == np.int64 and lens.shape == (batch,)
    assert lens.min() >= min_length and lens.max() <= steps
    if full:
        assert lens.max() == steps


def test_lengths_without_full_need_not_have_a_full_row():
    from hypothesis import find
    assert find(testing.lengths(3, 4), lambda n: True).max() == 1
    assert find(testing.lengths(3, 4, full=True), lambda n: True).max() == 4


@pytest.mark.parametrize("args,kw,exc,pattern", [
    ((0, 3), {}, ValueError, r"batch must be a positive integer"),
    ((2, 0), {}, ValueError, r"steps must be a positive integer"),
    ((2, 3), {"min_length": 4}, ValueError, r"min_length must be in \[1, steps=3\], got 4"),
    ((2, 3), {"min_length": 0}, ValueError, r"min_length must be an integer >= 1"),
    ((2, 3), {"full": 1}, TypeError, r"full must be a bool"),
])
def test_lengths_refuse_bad_arguments(args, kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        testing.lengths(*args, **kw)


@settings(max_examples=40)
@given(testing.layer_configs(cells=["lstm", "rnn-relu"], num_layers=(2, 3),
                             bidirectional=True, return_sequences=(False,)))
def test_layer_configs_draw_from_the_choices(config):
    assert config.cell in ("lstm", "rnn-relu")
    assert config.num_layers in (2, 3) and config.bidirectional
    assert not config.return_sequences and config.return_state in (False, True)
    assert config.options == {}
    kw = config.keywords
    assert kw == {**variants.get(config.cell).options, "num_layers": config.num_layers,
                  "bidirectional": True, "return_sequences": False,
                  "return_state": config.return_state}
    if config.cell == "rnn-relu":
        assert kw["nonlinearity"] == "relu"


@settings(max_examples=40)
@given(testing.layer_configs(options={
    "dropout": st.sampled_from([0.0, 0.25]),
    "seedless": 7,
    "a_class": np.float32,                  # a class is a value, not a function of the cell
    "lstm_only": lambda v: st.integers(1, 3) if v.layer is seqnet.LSTM else None,
}))
def test_layer_config_options_are_strategies_values_or_per_cell(config):
    assert config.cell in variants.NAMES
    assert config.options["dropout"] in (0.0, 0.25)
    assert config.options["seedless"] == 7
    assert config.options["a_class"] is np.float32
    if config.cell == "lstm":
        assert config.options["lstm_only"] in (1, 2, 3)
    else:
        assert "lstm_only" not in config.options


def test_every_cell_is_drawn_by_default():
    from hypothesis import find
    for name in variants.NAMES:
        assert find(testing.layer_configs(), lambda c, n=name: c.cell == n).cell == name


@pytest.mark.parametrize("kw,exc,pattern", [
    ({"cells": ["lstm", "peephole"]}, ValueError, r"unknown cell variant 'peephole'"),
    ({"cells": []}, ValueError, r"cells must name at least one cell variant"),
    ({"num_layers": (0, 2)}, ValueError, r"num_layers must satisfy 1 <= min <= max"),
    ({"bidirectional": ()}, TypeError, r"bidirectional must be a bool or a non-empty"),
    ({"return_state": ("yes",)}, TypeError, r"return_state must be a bool, got 'yes'"),
    ({"options": [("dropout", 0.1)]}, TypeError, r"options must be a dict"),
    ({"options": {1: 0.1}}, TypeError, r"options must be a dict of option names"),
])
def test_layer_configs_refuse_bad_arguments(kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        testing.layer_configs(**kw)


@settings(max_examples=20)
@given(testing.shapes(), testing.layer_configs(), st.data())
def test_a_config_builds_its_layer_and_knows_its_shapes(shape, config, data):
    """The layer LayerConfig.make builds has the configuration, and its outputs the
    shapes that output_shape and state_shape announce, on drawn inputs, states and
    lengths."""
    B, T, I, H = shape
    layer = config.make(H, input_size=I, seed=1, bias_scale=0.5)
    assert type(layer) is config.layer_class and layer.dtype == np.float64
    assert layer.get_config() | config.keywords == layer.get_config()
    for name, p in layer.params.items():
        if name.startswith("bias"):
            assert np.all(np.abs(p) <= 0.5) and np.any(p != 0), name
    x = data.draw(testing.float_arrays(shape.input_shape))
    state = data.draw(testing.initial_states(config, B, H))
    lens = data.draw(testing.lengths(B, T))
    result = layer.forward(x, list(state), lengths=lens)
    out, *final = result if config.return_state else [result]
    assert out.shape == config.output_shape(B, T, H)
    assert len(state) == len(config.state_names)
    for part in (*state, *final):
        assert part.shape == config.state_shape(B, H)


def test_layer_config_make_overrides_and_checks():
    config = LayerConfig("gru-v1", num_layers=2)
    layer = config.make(4, return_sequences=False, dtype=np.float32, seed=3)
    assert not layer.return_sequences and layer.dtype == np.float32
    assert layer.reset_after is False and layer.num_layers == 2
    assert not layer.built                          # no input_size: built on first call
    assert all(not p.any() for n, p in config.make(4, input_size=2).params.items()
               if n.startswith("bias"))             # bias_scale=0: seqnet's zero biases
    with pytest.raises(ValueError, match="bias_scale > 0 needs input_size"):
        config.make(4, bias_scale=0.1)
    with pytest.raises(ValueError, match=r"bias_scale must be >= 0"):
        config.make(4, input_size=2, bias_scale=-0.1)
    with pytest.raises(ValueError, match=r"unknown cell variant 'lstmp'"):
        LayerConfig("lstmp")
    with pytest.raises(ValueError, match="num_layers must be a positive integer"):
        LayerConfig("lstm", num_layers=0)
    with pytest.raises(TypeError, match="bidirectional must be a bool"):
        LayerConfig("lstm", bidirectional=1)
    with pytest.raises(TypeError, match="options must be a dict"):
        LayerConfig("lstm", options=None)


@settings(max_examples=20)
@given(testing.dtypes())
def test_dtypes_are_float32_or_float64(dtype):
    assert dtype in (np.float32, np.float64)


def test_dtypes_take_choices_and_refuse_others():
    from hypothesis import find
    assert find(testing.dtypes([np.float64]), lambda d: True) == np.float64
    assert find(testing.dtypes(np.float32), lambda d: True) == np.float32
    with pytest.raises(TypeError, match="choices must be np.float32 or np.float64"):
        testing.dtypes([np.float32, np.int32])
    with pytest.raises(ValueError, match="choices must hold at least one dtype"):
        testing.dtypes([])


@settings(max_examples=30)
@given(testing.dtypes(), st.sampled_from([0.1, 1.0, 3.0]), st.sampled_from([0.0, 1e-3]),
       st.data())
def test_float_arrays_are_finite_bounded_and_of_their_dtype(dtype, bound, tiny, data):
    a = data.draw(testing.float_arrays((2, 3, 4), dtype=dtype, bound=bound,
                                       min_magnitude=tiny))
    assert a.dtype == dtype and a.shape == (2, 3, 4)
    assert np.isfinite(a).all() and np.abs(a).max() <= bound
    assert np.all((a == 0) | (np.abs(a) >= tiny))


def test_min_magnitude_flushes_tiny_values_to_zero():
    from hypothesis import find
    tiny = find(testing.float_arrays(3), lambda a: 0 < np.abs(a).max() < 1e-3)
    assert 0 < np.abs(tiny).max() < 1e-3            # without it, tiny values come
    flushed = find(testing.float_arrays(3, min_magnitude=1e-3),
                   lambda a: np.abs(a).max() > 0)
    assert np.abs(flushed[flushed != 0]).min() >= 1e-3
    state = find(testing.initial_states(LayerConfig("lstm"), 2, 2, min_magnitude=0.5),
                 lambda s: any(p.any() for p in s))
    assert all(np.all((p == 0) | (np.abs(p) >= 0.5)) for p in state)


@pytest.mark.parametrize("args,kw,exc,pattern", [
    (((2, -1),), {}, ValueError, r"shape must be an integer >= 0"),
    (("3",), {}, TypeError, r"shape must be an integer or a tuple"),
    (((2,),), {"dtype": np.int64}, TypeError, r"dtype must be np.float32 or np.float64"),
    (((2,),), {"bound": 0.0}, ValueError, r"bound must be > 0"),
    (((2,),), {"bound": math.nan}, ValueError, r"bound must be finite"),
    (((2,),), {"min_magnitude": 2.0}, ValueError, r"min_magnitude must be in \[0, 2\)"),
    (((2,),), {"min_magnitude": -1e-3}, ValueError, r"min_magnitude must be in \[0, 2\)"),
])
def test_float_arrays_refuse_bad_arguments(args, kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        testing.float_arrays(*args, **kw)


@settings(max_examples=15)
@given(testing.shapes(hidden_size=(1, 3)), st.integers(1, 5), st.data())
def test_index_arrays_are_indices_a_recurrent_layer_takes(shape, vocab, data):
    """Indices drawn by index_arrays are in range, and a layer given them computes
    what their one-hot encoding gives."""
    idx = data.draw(testing.index_arrays((shape.batch, shape.steps), vocab))
    assert idx.dtype == np.int64 and idx.shape == (shape.batch, shape.steps)
    assert idx.min() >= 0 and idx.max() < vocab
    layer = LayerConfig("gru").make(shape.hidden_size, input_size=vocab, bias_scale=0.5)
    np.testing.assert_allclose(layer.forward(idx), layer.forward(np.eye(vocab)[idx]),
                               rtol=1e-12, atol=1e-14)


def test_index_arrays_and_initial_states_refuse_bad_arguments():
    with pytest.raises(ValueError, match="vocab_size must be a positive integer"):
        testing.index_arrays((2, 3), 0)
    with pytest.raises(TypeError, match="config must be a LayerConfig, got str"):
        testing.initial_states("lstm", 2, 3)
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        testing.initial_states(LayerConfig("lstm"), 2, 0)


# ----------------------------------------------------------------- without Hypothesis
def _run(code):
    """Run ``code`` in a fresh interpreter from the worktree's root."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_import_seqnet_loads_neither_testing_nor_hypothesis():
    result = _run("""
        import sys
        import seqnet
        print("hypothesis" in sys.modules, "seqnet.testing" in sys.modules)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_without_hypothesis_the_assertion_works_and_strategies_name_it():
    """Hypothesis absent (None in sys.modules makes its import fail): importing
    seqnet.testing works, so do assert_gradients_close and LayerConfig; each strategy
    raises an ImportError naming Hypothesis and how to install it."""
    result = _run("""
        import sys
        sys.modules["hypothesis"] = None
        import numpy as np
        import seqnet
        from seqnet import testing
        dense = seqnet.Dense(2, input_size=3, dtype=np.float64, seed=0)
        report = testing.assert_gradients_close(dense, np.ones((4, 3)))
        print(sorted(report.errors))
        print(testing.LayerConfig("lstm").make(2, input_size=3).num_parameters)
        config = testing.LayerConfig("gru")
        for make in (lambda: testing.shapes(), lambda: testing.lengths(2, 3),
                     lambda: testing.layer_configs(), lambda: testing.dtypes(),
                     lambda: testing.float_arrays((2,)), lambda: testing.index_arrays(2, 3),
                     lambda: testing.initial_states(config, 2, 3)):
            try:
                make()
            except ImportError as err:
                print(err)
            else:
                print("no error")
    """)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "['bias', 'weight', 'x']"
    assert lines[1] == str(4 * 2 * (3 + 2 + 2))
    assert len(lines) == 9
    for line in lines[2:]:
        assert line == ("seqnet.testing's strategies need Hypothesis, a test dependency of "
                        "seqnet (not a runtime one): pip install hypothesis, or pip install "
                        "'seqnet[test]'")


@given(data=st.data())
@settings(max_examples=10, deadline=None)
def test_projected_lstm_states_and_outputs_have_the_projection_size(data):
    """With ``proj_size=P`` in the options, ``h`` and the output are ``P`` wide and
    ``c`` stays ``H`` wide: the drawn state runs, the shapes announced are the
    layer's."""
    B, T, I, H, P = 3, 4, 2, 5, 2
    config = LayerConfig("lstm", num_layers=2, bidirectional=True, return_state=True,
                         options={"proj_size": P})
    assert config.state_shape(B, H) == config.state_shape(B, H, "h") == (4, B, P)
    assert config.state_shape(B, H, "c") == (4, B, H)
    state = data.draw(testing.initial_states(config, B, H))
    assert [s.shape for s in state] == [(4, B, P), (4, B, H)]
    layer = config.make(H, input_size=I, seed=0)
    out, h, c = layer.forward(np.ones((B, T, I)), list(state))
    assert out.shape == config.output_shape(B, T, H) == (B, T, 2 * P)
    assert h.shape == state[0].shape and c.shape == state[1].shape
