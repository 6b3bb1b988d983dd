"""Optimizers against PyTorch's, where the mathematics is the same.

* SGD: Keras's velocity ``m = mu*m - lr*g`` is PyTorch's buffer ``b = mu*b + g``
  times ``-lr`` (constant rate, ``dampening=0``), Nesterov included: identical.
* RMSprop, Adam, Adagrad: Keras and PyTorch put epsilon in different places
  (inside the square root for Keras's RMSprop and Adagrad; before the bias
  correction for Keras's Adam), so they agree only as epsilon goes to 0. Both
  sides run with ``epsilon = 1e-300``, which vanishes beside any square root of
  these second moments in float64, and the rules are otherwise the same
  (RMSprop's momentum: Keras's ``m`` is PyTorch's buffer times ``lr``).

Gradients come from a small non-quadratic problem evaluated at each side's own
parameters, so that differences compound over the steps. Float64 throughout;
``foreach=False`` selects PyTorch's plain per-tensor loops.
"""

import numpy as np
import pytest

from seqnet.optim import SGD, Adagrad, Adam, RMSprop

torch = pytest.importorskip("torch")

TINY = 1e-300
STEPS = 5

CASES = [
    ("sgd", SGD(0.1), torch.optim.SGD, {"lr": 0.1}),
    ("sgd-momentum", SGD(0.1, momentum=0.9), torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    ("sgd-nesterov", SGD(0.1, momentum=0.8, nesterov=True), torch.optim.SGD,
     {"lr": 0.1, "momentum": 0.8, "nesterov": True}),
    ("rmsprop", RMSprop(0.05, rho=0.8, epsilon=TINY), torch.optim.RMSprop,
     {"lr": 0.05, "alpha": 0.8, "eps": TINY}),
    ("rmsprop-momentum", RMSprop(0.05, momentum=0.7, epsilon=TINY), torch.optim.RMSprop,
     {"lr": 0.05, "alpha": 0.9, "momentum": 0.7, "eps": TINY}),
    ("rmsprop-centered-momentum", RMSprop(0.05, rho=0.7, momentum=0.5, centered=True,
                                          epsilon=TINY), torch.optim.RMSprop,
     {"lr": 0.05, "alpha": 0.7, "momentum": 0.5, "centered": True, "eps": TINY}),
    ("adam", Adam(0.3, beta_1=0.8, beta_2=0.9, epsilon=TINY), torch.optim.Adam,
     {"lr": 0.3, "betas": (0.8, 0.9), "eps": TINY}),
    ("adam-amsgrad", Adam(0.3, beta_1=0.5, beta_2=0.5, amsgrad=True, epsilon=TINY),
     torch.optim.Adam, {"lr": 0.3, "betas": (0.5, 0.5), "eps": TINY, "amsgrad": True}),
    ("adagrad", Adagrad(0.2, initial_accumulator_value=0.3, epsilon=TINY), torch.optim.Adagrad,
     {"lr": 0.2, "initial_accumulator_value": 0.3, "eps": TINY}),
]


def problem(seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"weight": (3, 2), "bias": (4,)}
    D = {k: rng.uniform(0.5, 4.0, s) for k, s in shapes.items()}
    target = {k: rng.standard_normal(s) for k, s in shapes.items()}
    params = {k: rng.standard_normal(s) for k, s in shapes.items()}

    def grad_fn(name, value):
        return D[name] * (value - target[name]) - 0.1 * np.sin(value)

    return params, grad_fn


@pytest.mark.parametrize("cid,opt,torch_cls,torch_kw", CASES, ids=[c[0] for c in CASES])
def test_torch_optim_steps_match(cid, opt, torch_cls, torch_kw):
    params, grad_fn = problem()
    tensors = {k: torch.tensor(v.copy()) for k, v in params.items()}
    topt = torch_cls(list(tensors.values()), foreach=False, **torch_kw)
    for _ in range(STEPS):
        opt.step(params, {k: grad_fn(k, v) for k, v in params.items()})
        for k, t in tensors.items():
            t.grad = torch.from_numpy(grad_fn(k, t.detach().numpy()))
        topt.step()
        for k in params:
            np.testing.assert_allclose(params[k], tensors[k].detach().numpy(),
                                       rtol=1e-12, atol=1e-14)


def test_torch_optim_adam_epsilon_hat_is_torch_epsilon_times_sqrt_bias_correction():
    """At step t, Keras's epsilon hat is PyTorch's eps * sqrt(1 - beta_2**t): with the
    same 1e-7 the first steps differ; with PyTorch's eps = 1e-7 / sqrt(1 - beta_2)
    they agree."""
    g = np.array([1e-5])

    def torch_step(eps):
        t = torch.zeros(1, dtype=torch.float64)
        t.grad = torch.from_numpy(g.copy())
        torch.optim.Adam([t], lr=1.0, eps=eps, foreach=False).step()
        return t.numpy()

    w = np.zeros(1)
    Adam(1.0, epsilon=1e-7).step({"w": w}, {"w": g})
    assert not np.allclose(w, torch_step(1e-7), rtol=1e-3)
    np.testing.assert_allclose(w, torch_step(1e-7 / np.sqrt(1 - 0.999)), rtol=1e-12)
