"""Optimizers: Keras 3's update rules against plain NumPy transcriptions, convergence,
bit-identical resumption from a state dict, clipping, dtypes and bad arguments.

PyTorch parity lives in tests/parity/test_torch_optim.py.
"""

import doctest
import io
import json

import numpy as np
import pytest

import seqnet.optim
from seqnet import optim
from seqnet.optim import SGD, Adagrad, Adam, RMSprop

#: (id, class, keyword arguments): every variant of every rule.
VARIANTS = [
    ("sgd", SGD, {"learning_rate": 0.1}),
    ("sgd-momentum", SGD, {"learning_rate": 0.1, "momentum": 0.9}),
    ("sgd-nesterov", SGD, {"learning_rate": 0.1, "momentum": 0.8, "nesterov": True}),
    ("rmsprop", RMSprop, {"learning_rate": 0.05, "rho": 0.8}),
    ("rmsprop-momentum", RMSprop, {"learning_rate": 0.05, "momentum": 0.7}),
    ("rmsprop-centered", RMSprop, {"learning_rate": 0.05, "centered": True}),
    ("rmsprop-centered-momentum", RMSprop,
     {"learning_rate": 0.05, "rho": 0.7, "momentum": 0.5, "centered": True, "epsilon": 1e-3}),
    ("adam", Adam, {"learning_rate": 0.3, "beta_1": 0.8, "beta_2": 0.9}),
    ("adam-amsgrad", Adam,
     {"learning_rate": 0.3, "beta_1": 0.5, "beta_2": 0.5, "amsgrad": True, "epsilon": 1e-3}),
    ("adagrad", Adagrad, {"learning_rate": 0.2, "initial_accumulator_value": 0.3}),
]
VARIANT_IDS = [v[0] for v in VARIANTS]


# ----------------------------------------------------------------- a small problem
def problem(dtype=np.float64, seed=0):
    """Parameters, and the gradient of f(p) = sum 0.5 * D * (p - target)^2 + 0.1 * cos(p)."""
    rng = np.random.default_rng(seed)
    shapes = {"weight": (3, 2), "bias": (4,)}
    D = {k: rng.uniform(0.5, 4.0, s) for k, s in shapes.items()}
    target = {k: rng.standard_normal(s) for k, s in shapes.items()}
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}

    def grad_fn(p):
        return {k: (D[k] * (p[k] - target[k]) - 0.1 * np.sin(p[k])).astype(p[k].dtype)
                for k in p}

    return params, grad_fn, target


# ---------------------------------------------------- Keras 3's rules, written out
def keras_reference(name, cfg, params, grad_fn, steps):
    """Keras 3's update_step (keras/src/optimizers/<name>.py), one formula per line.

    Returns the parameters after each step.
    """
    p = {k: v.astype(np.float64).copy() for k, v in params.items()}
    lr = cfg["learning_rate"]
    s = {k: {} for k in p}
    history = []
    for t in range(1, steps + 1):
        g = grad_fn(p)
        for k in p:
            st, gk = s[k], g[k]
            if name == "sgd":
                mu = cfg.get("momentum", 0.0)
                if mu == 0:
                    p[k] = p[k] - lr * gk
                else:
                    v = mu * st.get("m", 0.0) - lr * gk
                    st["m"] = v
                    p[k] = p[k] + (mu * v - lr * gk if cfg.get("nesterov") else v)
            elif name == "rmsprop":
                rho, mu = cfg.get("rho", 0.9), cfg.get("momentum", 0.0)
                eps = cfg.get("epsilon", 1e-7)
                st["v"] = rho * st.get("v", 0.0) + (1 - rho) * gk ** 2
                if cfg.get("centered"):
                    st["a"] = rho * st.get("a", 0.0) + (1 - rho) * gk
                    denominator = st["v"] - st["a"] ** 2 + eps
                else:
                    denominator = st["v"] + eps
                increment = lr * gk / np.sqrt(denominator)          # epsilon inside sqrt
                if mu > 0:
                    st["m"] = mu * st.get("m", 0.0) + increment
                    p[k] = p[k] - st["m"]
                else:
                    p[k] = p[k] - increment
            elif name == "adam":
                b1, b2 = cfg.get("beta_1", 0.9), cfg.get("beta_2", 0.999)
                eps = cfg.get("epsilon", 1e-7)
                st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * gk
                st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * gk ** 2
                v = st["v"]
                if cfg.get("amsgrad"):
                    st["vhat"] = np.maximum(st.get("vhat", 0.0), st["v"])
                    v = st["vhat"]
                alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                p[k] = p[k] - alpha * st["m"] / (np.sqrt(v) + eps)   # epsilon hat
            elif name == "adagrad":
                eps = cfg.get("epsilon", 1e-7)
                st["acc"] = st.get("acc", cfg.get("initial_accumulator_value", 0.1)) + gk ** 2
                p[k] = p[k] - lr * gk / np.sqrt(st["acc"] + eps)     # epsilon inside sqrt
        history.append({k: v.copy() for k, v in p.items()})
    return history


@pytest.mark.parametrize("vid,cls,kw", VARIANTS, ids=VARIANT_IDS)
def test_optim_first_steps_match_keras_formula(vid, cls, kw):
    params, grad_fn, _ = problem()
    expected = keras_reference(cls.name, kw, params, grad_fn, 3)
    opt = cls(**kw)
    ids = {k: id(v) for k, v in params.items()}
    for step in range(3):
        opt.step(params, grad_fn(params))
        for k in params:
            np.testing.assert_allclose(params[k], expected[step][k], rtol=1e-13, atol=1e-15)
    assert {k: id(v) for k, v in params.items()} == ids          # updated in place
    assert opt.iterations == 3


def test_optim_amsgrad_test_exercises_the_maximum():
    """The AMSGrad variant above takes steps where v falls: the max matters."""
    kw = dict(VARIANTS[VARIANT_IDS.index("adam-amsgrad")][2])
    params, grad_fn, _ = problem()
    with_max = keras_reference("adam", kw, params, grad_fn, 3)[-1]
    without = keras_reference("adam", {**kw, "amsgrad": False}, params, grad_fn, 3)[-1]
    assert any(not np.allclose(with_max[k], without[k], rtol=1e-6) for k in with_max)


def test_optim_rmsprop_epsilon_is_inside_the_square_root():
    """Keras: lr * g / sqrt(v + eps), not lr * g / (sqrt(v) + eps)."""
    w = np.array([0.0])
    g = np.array([1e-4])
    RMSprop(learning_rate=1.0, rho=0.0, epsilon=1e-7).step({"w": w}, {"w": g})
    np.testing.assert_allclose(w, -1e-4 / np.sqrt(1e-8 + 1e-7), rtol=1e-14)
    assert not np.isclose(w[0], -1e-4 / (1e-4 + 1e-7), rtol=1e-3)


def test_optim_keras_docstring_example():
    """keras.optimizers.RMSprop's docstring: one step from 10 with lr=0.1 gives 9.683772."""
    w = np.array(10.0, np.float32)
    RMSprop(learning_rate=0.1).step({"w": w}, {"w": w.copy()})
    assert w.dtype == np.float32 and round(float(w), 6) == 9.683772


# -------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("vid,cls,kw", VARIANTS, ids=VARIANT_IDS)
def test_optim_float32_stays_float32_and_close_to_float64(vid, cls, kw):
    p64, grad_fn, _ = problem(np.float64)
    p32, _, _ = problem(np.float32)
    o64, o32 = cls(**kw), cls(**kw)
    for _ in range(3):
        o64.step(p64, grad_fn(p64))
        o32.step(p32, grad_fn(p32))
    for k in p32:
        assert p32[k].dtype == np.float32 and p64[k].dtype == np.float64
        np.testing.assert_allclose(p32[k], p64[k], rtol=1e-4, atol=1e-5)
    for arr in o32.state_dict()["slots"].values():
        assert arr.dtype == np.float32
    for arr in o64.state_dict()["slots"].values():
        assert arr.dtype == np.float64


def test_optim_gradients_are_cast_to_the_parameter_dtype():
    w32 = np.ones(3, np.float32)
    SGD(0.5).step({"w": w32}, {"w": np.full(3, 1.0 + 1e-12)})
    assert w32.dtype == np.float32
    np.testing.assert_array_equal(w32, np.float32(0.5))


# --------------------------------------------------------------------- convergence
CONVERGENCE = [
    (SGD(0.05), 500, 1e-8),
    (SGD(0.02, momentum=0.9), 500, 1e-8),
    (SGD(0.02, momentum=0.9, nesterov=True), 500, 1e-8),
    (RMSprop(0.01), 2000, 1e-6),
    (RMSprop(0.01, centered=True), 2000, 1e-6),
    # with momentum and a constant rate, RMSprop ends in a cycle of amplitude ~lr
    (RMSprop(0.01, momentum=0.5), 2000, 0.01),
    (Adam(0.05), 2000, 1e-6),
    (Adam(0.05, amsgrad=True), 2000, 1e-6),
    (Adagrad(0.5), 2000, 1e-6),
]


@pytest.mark.parametrize("opt,steps,tol", CONVERGENCE, ids=[repr(c[0]) for c in CONVERGENCE])
def test_optim_converges_on_a_convex_quadratic(opt, steps, tol):
    rng = np.random.default_rng(0)
    D = rng.uniform(1.0, 10.0, (4, 3))
    target = rng.standard_normal((4, 3))
    p = np.zeros((4, 3))
    for _ in range(steps):
        opt.step({"p": p}, {"p": D * (p - target)})
    assert np.abs(p - target).max() < tol


# -------------------------------------------------------------------- state dicts
def through_files(state):
    """The state dict through JSON (config, iterations) and npz (slots), no pickle."""
    text = json.dumps({"config": state["config"], "iterations": state["iterations"]})
    buffer = io.BytesIO()
    np.savez(buffer, **state["slots"])
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        slots = {k: npz[k] for k in npz.files}
    return {**json.loads(text), "slots": slots}


@pytest.mark.parametrize("via_files", [False, True], ids=["dict", "json+npz"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("vid,cls,kw", VARIANTS, ids=VARIANT_IDS)
def test_optim_state_dict_resumes_bit_identically(vid, cls, kw, dtype, via_files):
    params, grad_fn, _ = problem(dtype)
    clip = {"clipvalue": 0.8} if "rmsprop" in vid else {"global_clipnorm": 2.0}
    opt = cls(**kw, **clip)
    for _ in range(3):
        opt.step(params, grad_fn(params))
    state = opt.state_dict()
    assert set(state) == {"config", "iterations", "slots"} and state["iterations"] == 3
    if via_files:
        state = through_files(state)
    restored = optim.from_state_dict(state)
    assert type(restored) is cls and restored.get_config() == opt.get_config()
    twin = {k: v.copy() for k, v in params.items()}
    for _ in range(3):
        opt.step(params, grad_fn(params))
        restored.step(twin, grad_fn(twin))
    for k in params:
        assert twin[k].dtype == dtype
        np.testing.assert_array_equal(twin[k], params[k])
    assert restored.iterations == opt.iterations == 6
    a, b = restored.state_dict(), opt.state_dict()
    assert a["config"] == b["config"] and a["slots"].keys() == b["slots"].keys()
    for k in a["slots"]:
        np.testing.assert_array_equal(a["slots"][k], b["slots"][k])


def test_optim_state_dict_is_a_copy_and_json_ready():
    params, grad_fn, _ = problem()
    opt = Adam(0.1, amsgrad=True)
    opt.step(params, grad_fn(params))
    state = opt.state_dict()
    saved = {k: v.copy() for k, v in state["slots"].items()}
    opt.step(params, grad_fn(params))
    for k in saved:
        np.testing.assert_array_equal(state["slots"][k], saved[k])
    assert json.loads(json.dumps(state["config"])) == state["config"]
    assert sorted(state["slots"]) == [f"{s}/{k}" for s in ("momentum", "velocity", "velocity_hat")
                                      for k in ("bias", "weight")]


def test_optim_load_state_dict_restores_hyperparameters_on_an_instance():
    params, grad_fn, _ = problem()
    opt = RMSprop(0.05, rho=0.8, momentum=0.3, centered=True)
    opt.step(params, grad_fn(params))
    other = RMSprop()
    other.load_state_dict(opt.state_dict())
    assert other.get_config() == opt.get_config() and other.iterations == 1


def test_optim_state_is_lazy_and_has_the_parameter_dtype():
    opt = Adagrad(initial_accumulator_value=0.25)
    assert opt.state_dict() == {"config": opt.get_config(), "iterations": 0, "slots": {}}
    w = np.zeros((2, 3), np.float32)
    opt.step({"w": w}, {"w": np.ones((2, 3), np.float32)})
    acc = opt.state_dict()["slots"]["accumulator/w"]
    assert acc.dtype == np.float32 and acc.shape == (2, 3)
    np.testing.assert_array_equal(acc, np.float32(1.25))
    assert SGD(0.1).state_dict()["slots"] == {}
    plain = SGD(0.1)
    plain.step({"w": w}, {"w": np.ones((2, 3), np.float32)})
    assert plain.state_dict()["slots"] == {}          # momentum 0 keeps no state


# ------------------------------------------------------------------------ clipping
def clip_case():
    grads = {"a": np.array([[3.0, -4.0], [0.5, -0.1]]), "b": np.array([12.0, -0.2])}
    params = {k: np.zeros_like(v) for k, v in grads.items()}
    return params, grads


def test_optim_clipvalue_clips_each_element():
    params, grads = clip_case()
    before = {k: v.copy() for k, v in grads.items()}
    SGD(1.0, clipvalue=0.5).step(params, grads)
    for k in grads:
        np.testing.assert_array_equal(params[k], -np.clip(before[k], -0.5, 0.5))
        np.testing.assert_array_equal(grads[k], before[k])          # caller's grads untouched


def test_optim_global_clipnorm_scales_all_gradients_together():
    params, grads = clip_case()
    before = {k: v.copy() for k, v in grads.items()}
    norm = np.sqrt(sum(np.sum(g ** 2) for g in before.values()))
    SGD(1.0, global_clipnorm=2.0).step(params, grads)
    for k in grads:
        np.testing.assert_allclose(params[k], -before[k] * (2.0 / norm), rtol=1e-15)
        np.testing.assert_array_equal(grads[k], before[k])
    total = np.sqrt(sum(np.sum(p ** 2) for p in params.values()))
    np.testing.assert_allclose(total, 2.0, rtol=1e-15)


def test_optim_global_clipnorm_leaves_small_gradients_unchanged():
    params, grads = clip_case()
    SGD(1.0, global_clipnorm=100.0).step(params, grads)
    for k in grads:
        np.testing.assert_array_equal(params[k], -grads[k])


def test_optim_global_clipnorm_in_float32_does_not_overflow():
    """The norm is accumulated in float64: float32 squares of 1e30 would be inf."""
    w = np.zeros(2, np.float32)
    SGD(1.0, global_clipnorm=1.0).step({"w": w}, {"w": np.array([3e30, 4e30], np.float32)})
    np.testing.assert_allclose(w, [-0.6, -0.8], rtol=1e-6)


def test_optim_global_clipnorm_non_finite_norm_gives_nan_as_keras():
    w = np.zeros(2)
    SGD(1.0, global_clipnorm=1.0).step({"w": w}, {"w": np.array([np.inf, 1.0])})
    assert np.all(np.isnan(w))


# ----------------------------------------------------------------- config and get
@pytest.mark.parametrize("vid,cls,kw", VARIANTS, ids=VARIANT_IDS)
def test_optim_config_round_trip(vid, cls, kw):
    opt = cls(**kw, global_clipnorm=1.5)
    config = opt.get_config()
    assert config["name"] == cls.name
    rebuilt = optim.from_config(json.loads(json.dumps(config)))
    assert type(rebuilt) is cls and rebuilt.get_config() == config
    assert optim.get(config).get_config() == config


@pytest.mark.parametrize("name,cls,defaults", [
    ("sgd", SGD, {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}),
    ("SGD", SGD, {"learning_rate": 0.01}),
    ("rmsprop", RMSprop, {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0,
                          "epsilon": 1e-7, "centered": False}),
    ("adam", Adam, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
                    "amsgrad": False}),
    ("Adagrad", Adagrad, {"learning_rate": 0.001, "initial_accumulator_value": 0.1,
                          "epsilon": 1e-7}),
])
def test_optim_get_by_name_has_keras_defaults(name, cls, defaults):
    opt = optim.get(name)
    assert type(opt) is cls
    config = opt.get_config()
    assert {k: config[k] for k in defaults} == defaults
    assert config["clipvalue"] is None and config["global_clipnorm"] is None


def test_optim_get_returns_instances_unchanged():
    opt = Adam()
    assert optim.get(opt) is opt


def test_optim_learning_rate_can_be_changed_and_is_checked():
    opt = SGD(0.1)
    opt.learning_rate = 0.5
    w = np.ones(1)
    opt.step({"w": w}, {"w": np.ones(1)})
    np.testing.assert_array_equal(w, 0.5)
    with pytest.raises(ValueError, match=r"learning_rate must be > 0"):
        opt.learning_rate = 0.0


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("make,exc,pattern", [
    (lambda: SGD(learning_rate=0.0), ValueError, r"learning_rate must be > 0, got 0.0"),
    (lambda: Adam(learning_rate=-1e-3), ValueError, r"learning_rate must be > 0"),
    (lambda: SGD(learning_rate=float("inf")), ValueError, r"learning_rate must be finite"),
    (lambda: SGD(learning_rate=float("nan")), ValueError, r"learning_rate must be finite"),
    (lambda: SGD(learning_rate="0.1"), TypeError, r"learning_rate must be a real number"),
    (lambda: SGD(learning_rate=True), TypeError, r"learning_rate must be a real number"),
    (lambda: SGD(momentum=-0.1), ValueError, r"momentum must be in \[0, 1\]"),
    (lambda: SGD(momentum=1.5), ValueError, r"momentum must be in \[0, 1\]"),
    (lambda: SGD(nesterov=1), TypeError, r"nesterov must be a bool"),
    (lambda: RMSprop(rho=1.0), ValueError, r"rho must be in \[0, 1\), got 1.0"),
    (lambda: RMSprop(rho=-0.1), ValueError, r"rho must be in \[0, 1\)"),
    (lambda: RMSprop(momentum=-1), ValueError, r"momentum must be in \[0, 1\]"),
    (lambda: RMSprop(epsilon=0.0), ValueError, r"epsilon must be > 0"),
    (lambda: RMSprop(centered="no"), TypeError, r"centered must be a bool"),
    (lambda: Adam(beta_1=1.0), ValueError, r"beta_1 must be in \[0, 1\)"),
    (lambda: Adam(beta_2=1.2), ValueError, r"beta_2 must be in \[0, 1\)"),
    (lambda: Adam(epsilon=-1e-7), ValueError, r"epsilon must be > 0"),
    (lambda: Adam(amsgrad=None), TypeError, r"amsgrad must be a bool"),
    (lambda: Adagrad(initial_accumulator_value=-0.1), ValueError,
     r"initial_accumulator_value must be >= 0"),
    (lambda: Adagrad(epsilon=float("inf")), ValueError, r"epsilon must be finite"),
    (lambda: SGD(clipvalue=0), ValueError, r"clipvalue must be > 0"),
    (lambda: SGD(global_clipnorm=-1.0), ValueError, r"global_clipnorm must be > 0"),
    (lambda: SGD(clipvalue=1.0, global_clipnorm=1.0), ValueError,
     r"only one of clipvalue and global_clipnorm"),
    (lambda: optim.get("adamw"), ValueError,
     r"unknown optimizer 'adamw'.*\['adagrad', 'adam', 'rmsprop', 'sgd'\]"),
    (lambda: optim.get(0.1), TypeError, r"identifier must be an Optimizer"),
    (lambda: optim.from_config({"learning_rate": 0.1}), ValueError,
     r"config must have a 'name'"),
    (lambda: optim.from_config({"name": "sgd", "rho": 0.9}), ValueError,
     r"unexpected entries \['rho'\] for 'sgd'"),
    (lambda: optim.from_config("sgd"), TypeError, r"config must be a dict"),
])
def test_optim_bad_constructor_arguments_raise_naming_them(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


def step_args():
    return {"w": np.zeros((2, 3)), "b": np.zeros(3)}, {"w": np.ones((2, 3)), "b": np.ones(3)}


@pytest.mark.parametrize("edit,exc,pattern", [
    (lambda p, g: g.pop("b"), ValueError, r"grads is missing 'b'"),
    (lambda p, g: g.update(x=np.ones(1)), ValueError, r"grads has 'x', which params does not"),
    (lambda p, g: g.update(b=np.ones(4)), ValueError,
     r"grads\['b'\] must have shape \(3,\) \(the shape of params\['b'\]\), got \(4,\)"),
    (lambda p, g: g.update(w=np.ones((2, 3), int)), TypeError,
     r"grads\['w'\] must be a real floating-point array"),
    (lambda p, g: p.update(b=np.zeros(3, int)), TypeError,
     r"params\['b'\] must be a float32 or float64 ndarray .*int64"),
    (lambda p, g: p.update(b=[0.0, 0.0, 0.0]), TypeError,
     r"params\['b'\] must be a float32 or float64 ndarray .*list"),
    (lambda p, g: p["w"].setflags(write=False), ValueError, r"params\['w'\] is read-only"),
    (lambda p, g: p.clear() or g.clear(), ValueError, r"params must not be empty"),
    (lambda p, g: p.update({0: np.zeros(1)}) or g.update({0: np.ones(1)}), TypeError,
     r"params keys must be strings"),
])
def test_optim_bad_step_arguments_raise_naming_the_key(edit, exc, pattern):
    params, grads = step_args()
    edit(params, grads)
    before = {k: np.array(v, copy=True) for k, v in params.items()}
    opt = Adam()
    with pytest.raises(exc, match=pattern):
        opt.step(params, grads)
    assert opt.iterations == 0 and opt.state_dict()["slots"] == {}
    for k, v in before.items():
        np.testing.assert_array_equal(params[k], v)


def test_optim_step_needs_dicts():
    with pytest.raises(TypeError, match=r"params must be a dict"):
        SGD().step([np.zeros(2)], {"w": np.zeros(2)})
    with pytest.raises(TypeError, match=r"grads must be a dict"):
        SGD().step({"w": np.zeros(2)}, None)


def test_optim_state_mismatch_is_reported_before_any_update():
    opt = Adam()
    opt.step({"w": np.zeros(3), "b": np.zeros(2)}, {"w": np.ones(3), "b": np.ones(2)})
    params = {"w": np.zeros(3), "b": np.zeros(4)}
    with pytest.raises(ValueError, match=r"params\['b'\] has shape \(4,\) .*momentum/b"):
        opt.step(params, {"w": np.ones(3), "b": np.ones(4)})
    np.testing.assert_array_equal(params["w"], 0.0)
    assert opt.iterations == 1
    with pytest.raises(TypeError, match=r"params\['w'\] has dtype float32 .*momentum/w"):
        opt.step({"w": np.zeros(3, np.float32)}, {"w": np.ones(3, np.float32)})


def test_optim_changing_the_slot_layout_after_state_exists_raises():
    opt = SGD(0.1)
    w = np.zeros(2)
    opt.step({"w": w}, {"w": np.ones(2)})
    opt.momentum = 0.9
    with pytest.raises(ValueError, match=r"state for 'w' has the slots \[\] but this "
                                         r"configuration needs \['momentum'\]"):
        opt.step({"w": w}, {"w": np.ones(2)})


@pytest.mark.parametrize("edit,exc,pattern", [
    (lambda s: s.pop("iterations"), ValueError, r"exactly the entries"),
    (lambda s: s.update(extra=1), ValueError, r"exactly the entries"),
    (lambda s: s.update(config={**s["config"], "name": "sgd"}), ValueError,
     r"unexpected entries"),
    (lambda s: s.update(config={"name": "sgd"}), ValueError,
     r"state_dict\['config'\] is for 'sgd' but this optimizer is 'adam'"),
    (lambda s: s.update(iterations=-1), ValueError, r"iterations'\] must be >= 0"),
    (lambda s: s.update(iterations=1.5), TypeError, r"iterations'\] must be an integer"),
    (lambda s: s.update(slots=[1]), TypeError, r"slots'\] must be a dict"),
    (lambda s: s["slots"].update(momentum=np.zeros(2)), ValueError,
     r"keys must be '<slot>/<parameter name>', got 'momentum'"),
    (lambda s: s["slots"].update({"accumulator/w": np.zeros(2)}), ValueError,
     r"has 'accumulator/w', but Adam.* keeps the slots \['momentum', 'velocity'\]"),
    (lambda s: s["slots"].pop("velocity/w"), ValueError,
     r"has \['momentum'\] for 'w'; every parameter needs all of"),
    (lambda s: s["slots"].update({"velocity/w": np.zeros(2, int)}), TypeError,
     r"slots'\]\['velocity/w'\] must be a float32 or float64 array"),
    (lambda s: None, None, None),
])
def test_optim_bad_state_dicts_raise(edit, exc, pattern):
    opt = Adam()
    opt.step({"w": np.zeros(2)}, {"w": np.ones(2)})
    state = opt.state_dict()
    edit(state)
    target = Adam()
    if exc is None:
        target.load_state_dict(state)
        assert target.iterations == 1
        return
    with pytest.raises(exc, match=pattern):
        target.load_state_dict(state)


def test_optim_load_state_dict_needs_a_dict():
    with pytest.raises(TypeError, match=r"state_dict must be a dict"):
        Adam().load_state_dict([("config", {})])
    with pytest.raises(TypeError, match=r"state_dict must be a dict"):
        optim.from_state_dict(None)


def test_optim_docstring_examples_run():
    result = doctest.testmod(seqnet.optim, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
