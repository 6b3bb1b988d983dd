r"""Optimizers: SGD, RMSprop, Adam and Adagrad, with Keras 3's update rules.

An optimizer updates a dict of parameter arrays in place from a dict of gradients
with the same keys (a layer's ``params`` and ``grads``):

    opt = Adam()
    opt.step(layer.params, layer.grads)

Each rule is the one in Keras 3's ``keras/src/optimizers/<name>.py``
(``update_step``), step for step and in the same order of operations, with the
hyperparameters cast to the parameter's dtype as Keras does: a float32 parameter
is updated in float32 and a float64 one in float64. Note where each rule puts
``epsilon``: outside the square root for Adam (Keras's "epsilon hat"), inside it
for RMSprop and Adagrad. These differ from PyTorch's, so the two libraries agree
only as ``epsilon`` goes to 0 (PyTorch adds ``eps`` to the square root everywhere
and, for Adam, after the bias correction).

State
-----
Per-parameter state ("slots", Keras's names: ``momentum``, ``velocity``, ...)
is created at a key's first step, with the parameter's shape and dtype. The step
counter ``Optimizer.iterations`` counts calls to `Optimizer.step`.
`Optimizer.state_dict` holds only JSON values and NumPy arrays:

    {"config": {"name": "adam", "learning_rate": 0.001, ...},   # JSON
     "iterations": 3,                                            # JSON
     "slots": {"momentum/weight_ih_l0": ndarray, ...}}           # arrays: npz

so a model file can keep ``config`` and ``iterations`` in its JSON and the slots
in its npz (slot keys are ``"<slot>/<parameter name>"``, valid npz names), and
`Optimizer.load_state_dict` (or `from_state_dict`) restores the
optimizer exactly: training resumed from it continues bit for bit.

Gradient clipping
-----------------
``clipvalue`` clips each gradient element to $[-v, v]$; ``global_clipnorm``
scales all gradients together by $\min(1, c / \lVert g \rVert)$ where
$\lVert g \rVert$ is the norm of all of them concatenated. At most one may
be set, as in Keras. Clipping works on new arrays: the caller's gradient arrays
are never modified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from . import _checks
from ._registry import Registry

__all__ = ["SGD", "Adagrad", "Adam", "Optimizer", "RMSprop", "from_config",
           "from_state_dict", "get"]


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# ------------------------------------------------------------------------ the base
class Optimizer:
    r"""Base class of the optimizers: checks, clipping, slots and state dicts.

    Parameters
    ----------
    learning_rate : float
        Step size, finite and > 0. May be reassigned between steps (a schedule
        driven by the training loop); it is checked again then.
    clipvalue : float, optional
        Clip every gradient element to ``[-clipvalue, clipvalue]`` (> 0).
    global_clipnorm : float, optional
        Scale all gradients by ``min(1, global_clipnorm / global_norm)`` (> 0).
        At most one of ``clipvalue`` and ``global_clipnorm`` may be set.

    Attributes
    ----------
    iterations : int
        Number of `step` calls so far (Keras's ``optimizer.iterations``);
        Adam's bias correction uses ``iterations + 1``.

    Notes
    -----
    With $g$ the concatenation of all gradients of a step and $c$
    the ``global_clipnorm``:

    $$
    g \leftarrow g \cdot \min\left(1, \frac{c}{\lVert g \rVert_2}\right),
    $$

    with $\lVert g \rVert_2$ accumulated in float64 (whatever the
    gradients' dtype, so a float32 norm cannot overflow) and the factor cast to
    each gradient's dtype; gradients whose norm is within $c$ are used
    unchanged. A non-finite norm makes every gradient NaN, as in Keras, rather
    than silently scaling an infinite gradient to 0. ``clipvalue`` is
    $g \leftarrow \operatorname{clip}(g, -v, v)$ element-wise.

    Subclasses set ``name`` and implement ``_hyperparameters`` (their
    entries of `get_config`), ``_slot_names`` (the slots this
    configuration uses) and ``_update`` (one parameter's update, in place).
    """

    #: the name `get` and `from_config` know the optimizer by.
    name = ""

    def __init__(self, learning_rate, *, clipvalue=None, global_clipnorm=None):
        self.learning_rate = learning_rate
        self.clipvalue = (None if clipvalue is None
                          else _checks.real(clipvalue, "clipvalue", 0.0, low_open=True))
        self.global_clipnorm = (
            None if global_clipnorm is None
            else _checks.real(global_clipnorm, "global_clipnorm", 0.0, low_open=True))
        if self.clipvalue is not None and self.global_clipnorm is not None:
            raise ValueError(f"only one of clipvalue and global_clipnorm can be set (as in "
                             f"Keras), got clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.iterations = 0
        self._slots = {}

    @property
    def learning_rate(self):
        """float: the step size, finite and > 0."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = _checks.real(value, "learning_rate", 0.0, low_open=True)

    # ------------------------------------------------------------------ stepping
    def step(self, params, grads):
        """Apply one update to every parameter, in place.

        Parameters
        ----------
        params : dict of str to ndarray
            Parameters, float32 or float64 writeable arrays; updated in place.
        grads : dict of str to array_like
            Gradients, the same keys as ``params``, each real floating with the
            shape of its parameter (cast to the parameter's dtype, as Keras does).
            Never modified.

        Raises
        ------
        ValueError
            Missing or extra keys, a shape that does not match its parameter or
            the optimizer's state for that key, a read-only or empty ``params``.
        TypeError
            Non-mapping arguments, a key that is not a string, a non-float
            parameter or gradient, or a parameter whose dtype differs from its
            saved state.

        Notes
        -----
        Everything is checked before anything is updated, so a step that raises
        leaves the parameters and the state untouched. State for a key seen for
        the first time is created then (zeros, or Adagrad's initial accumulator
        value). Then ``iterations`` grows by 1.
        """
        pairs = self._checked(params, grads)
        pairs = self._clip(pairs)
        names = self._slot_names()
        for key, p, g in pairs:
            slots = self._slots.get(key)
            if slots is None:
                slots = self._slots[key] = {s: self._new_slot(s, p) for s in names}
            self._update(p, g, slots)
        self.iterations += 1

    def _checked(self, params, grads):
        for arg, value in (("params", params), ("grads", grads)):
            if not isinstance(value, Mapping):
                raise TypeError(f"{arg} must be a dict of names to arrays, "
                                f"got {type(value).__name__}")
        if not params:
            raise ValueError("params must not be empty: there is nothing to update (is the "
                             "layer built?)")
        for key in params:
            if not isinstance(key, str):
                raise TypeError(f"params keys must be strings (they name the optimizer's "
                                f"state), got {key!r}")
        missing = [k for k in params if k not in grads]
        if missing:
            raise ValueError(f"grads is missing {missing[0]!r} (params and grads must have "
                             f"the same keys)")
        extra = [k for k in grads if k not in params]
        if extra:
            raise ValueError(f"grads has {extra[0]!r}, which params does not (params and "
                             f"grads must have the same keys)")
        pairs = []
        for key, p in params.items():
            if not isinstance(p, np.ndarray) or p.dtype not in _FLOATS:
                what = (f"dtype {p.dtype}" if isinstance(p, np.ndarray)
                        else type(p).__name__)
                raise TypeError(f"params[{key!r}] must be a float32 or float64 ndarray "
                                f"(updated in place), got {what}")
            if not p.flags.writeable:
                raise ValueError(f"params[{key!r}] is read-only: step() updates the "
                                 f"parameters in place")
            g = np.asarray(_checks.to_numpy(grads[key]))
            if g.dtype.kind != "f":
                raise TypeError(f"grads[{key!r}] must be a real floating-point array, "
                                f"got dtype {g.dtype}")
            if g.shape != p.shape:
                raise ValueError(f"grads[{key!r}] must have shape {p.shape} (the shape of "
                                 f"params[{key!r}]), got {g.shape}")
            existing = self._slots.get(key)
            if existing is not None and tuple(existing) != self._slot_names():
                raise ValueError(f"the optimizer's state for {key!r} has the slots "
                                 f"{list(existing)} but this configuration needs "
                                 f"{list(self._slot_names())}: hyperparameters other than "
                                 f"learning_rate cannot change once state exists")
            for slot, value in (existing or {}).items():
                if value.shape != p.shape:
                    raise ValueError(f"params[{key!r}] has shape {p.shape} but the "
                                     f"optimizer's state {slot}/{key} has shape "
                                     f"{value.shape}")
                if value.dtype != p.dtype:
                    raise TypeError(f"params[{key!r}] has dtype {p.dtype} but the "
                                    f"optimizer's state {slot}/{key} has dtype {value.dtype}")
            pairs.append((key, p, g.astype(p.dtype, copy=False)))
        return pairs

    def check_state(self, params):
        """Check the optimizer's state against the parameters it is to update.

        Every key with state must be a parameter, each slot of its shape and dtype;
        once the optimizer has stepped (``iterations > 0``) every parameter must
        have its state, for a run resumed without it would silently take another
        path (Adam's moments would restart at zero). A model file's optimizer state
        is checked this way when it is loaded, not at the first step.

        Parameters
        ----------
        params : mapping of str to ndarray
            The parameters, by the names the state uses (a model's ``params``).

        Raises
        ------
        ValueError
            State for an unknown parameter, a missing one, or a slot of another
            shape or dtype; the message names the slot.
        """
        unknown = sorted(k for k in self._slots if k not in params)
        if unknown:
            raise ValueError(f"the optimizer's state has slots for {unknown}, which are not "
                             f"parameters of this model")
        if self.iterations > 0:
            lacking = sorted(k for k in params if k not in self._slots)
            if lacking:
                raise ValueError(f"the optimizer has stepped {self.iterations} times but has "
                                 f"no state ({list(self._slot_names())}) for {lacking}: a "
                                 "resumed run would not continue the one that was saved")
        for key, slots in self._slots.items():
            p = np.asarray(params[key])
            for slot, value in slots.items():
                if value.shape != p.shape or value.dtype != p.dtype:
                    raise ValueError(f"the optimizer's state {slot}/{key} has shape "
                                     f"{value.shape} and dtype {value.dtype}, but the "
                                     f"parameter has shape {p.shape} and dtype {p.dtype}")

    def _clip(self, pairs):
        if self.clipvalue is not None:
            out = []
            for key, p, g in pairs:
                v = p.dtype.type(self.clipvalue)
                out.append((key, p, np.clip(g, -v, v)))
            return out
        if self.global_clipnorm is not None:
            sq = math.fsum(float(np.vdot(g64, g64)) for g64 in
                           (np.asarray(g, dtype=np.float64).ravel() for _, _, g in pairs))
            norm = math.sqrt(sq)
            if not math.isfinite(norm):
                scale = math.nan
            elif norm <= self.global_clipnorm:
                return pairs
            else:
                scale = self.global_clipnorm / norm
            return [(key, p, g * p.dtype.type(scale)) for key, p, g in pairs]
        return pairs

    def _new_slot(self, slot, p):
        return np.zeros_like(p)

    def _slot_names(self):
        return ()

    def _update(self, p, g, slots):
        raise NotImplementedError

    # ---------------------------------------------------------------- the config
    def get_config(self):
        """The optimizer's constructor arguments, with its name.

        Returns
        -------
        dict
            JSON-serialisable ``{"name": ..., "learning_rate": ..., <the rule's
            hyperparameters>, "clipvalue": ..., "global_clipnorm": ...}``;
            `from_config` rebuilds the optimizer (without its state) from it.
        """
        return {"name": self.name, "learning_rate": self.learning_rate,
                **self._hyperparameters(),
                "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}

    def _hyperparameters(self):
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                         if k != "name" and not (k in ("clipvalue", "global_clipnorm")
                                                 and v is None))
        return f"{type(self).__name__}({args})"

    # ----------------------------------------------------------------- the state
    def state_dict(self):
        """The optimizer's configuration and state, without pickle.

        Returns
        -------
        dict
            ``{"config": dict, "iterations": int, "slots": dict}``: ``config`` is
            `get_config` and ``iterations`` an int (both JSON values);
            ``slots`` maps ``"<slot>/<parameter name>"`` to a copy of that state
            array (the parameter's shape and dtype), for an npz file. Slot names
            never contain ``/``; parameter names may.

        Examples
        --------
        >>> import numpy as np
        >>> from seqnet.optim import SGD
        >>> opt = SGD(0.1, momentum=0.9)
        >>> opt.step({"w": np.ones(2)}, {"w": np.ones(2)})
        >>> opt.state_dict()
        {'config': {'name': 'sgd', 'learning_rate': 0.1, 'momentum': 0.9, 'nesterov': False, \
'clipvalue': None, 'global_clipnorm': None}, 'iterations': 1, \
'slots': {'momentum/w': array([-0.1, -0.1])}}
        """
        slots = {f"{slot}/{key}": value.copy()
                 for key, per_key in self._slots.items() for slot, value in per_key.items()}
        return {"config": self.get_config(), "iterations": int(self.iterations),
                "slots": slots}

    def load_state_dict(self, state_dict):
        """Restore the configuration and state from `state_dict`.

        Parameters
        ----------
        state_dict : dict
            ``{"config", "iterations", "slots"}`` as `state_dict` returns
            them, possibly after a round trip through JSON and npz (``iterations``
            may be a 0-d integer array). ``config`` must name this optimizer's
            class; its hyperparameters replace the current ones. The arrays are
            copied.

        Raises
        ------
        ValueError
            Missing or extra entries, another optimizer's config, a negative
            ``iterations``, a malformed slot key, a slot this configuration does
            not use, or a parameter with only some of its slots.
        TypeError
            Entries of the wrong type, or a slot that is not a float32 or float64
            array.

        Notes
        -----
        A slot's shape is checked against its parameter at the next
        `step`, the first time the parameters are seen.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        expected = {"config", "iterations", "slots"}
        if set(state_dict) != expected:
            raise ValueError(f"state_dict must have exactly the entries {sorted(expected)}, "
                             f"got {sorted(state_dict)}")
        fresh = from_config(state_dict["config"])
        if type(fresh) is not type(self):
            raise ValueError(f"state_dict['config'] is for {fresh.name!r} but this optimizer "
                             f"is {self.name!r}")
        it = np.asarray(state_dict["iterations"])
        if it.ndim != 0 or it.dtype.kind not in "iu":
            raise TypeError(f"state_dict['iterations'] must be an integer, "
                            f"got {state_dict['iterations']!r}")
        if int(it) < 0:
            raise ValueError(f"state_dict['iterations'] must be >= 0, got {int(it)}")
        slots_in = state_dict["slots"]
        if not isinstance(slots_in, Mapping):
            raise TypeError(f"state_dict['slots'] must be a dict of '<slot>/<name>' to arrays, "
                            f"got {type(slots_in).__name__}")
        names = fresh._slot_names()
        slots = {}
        for full, value in slots_in.items():
            if not isinstance(full, str) or "/" not in full:
                raise ValueError(f"state_dict['slots'] keys must be '<slot>/<parameter name>', "
                                 f"got {full!r}")
            slot, key = full.split("/", 1)
            if slot not in names:
                raise ValueError(f"state_dict['slots'] has {full!r}, but {fresh!r} keeps the "
                                 f"slots {list(names)}")
            arr = np.asarray(value)
            if arr.dtype not in _FLOATS:
                raise TypeError(f"state_dict['slots'][{full!r}] must be a float32 or float64 "
                                f"array, got dtype {arr.dtype}")
            slots.setdefault(key, {})[slot] = np.array(arr, copy=True)
        for key, per_key in slots.items():
            if set(per_key) != set(names):
                raise ValueError(f"state_dict['slots'] has {sorted(per_key)} for {key!r}; "
                                 f"every parameter needs all of {list(names)}")
        self.__dict__.update(fresh.__dict__)
        self.iterations = int(it)
        self._slots = {key: {s: per_key[s] for s in names} for key, per_key in slots.items()}


# ------------------------------------------------------------------ the optimizers
class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional (Nesterov) momentum.

    Parameters
    ----------
    learning_rate : float, default 0.01
        Step size $\eta$, > 0.
    momentum : float, default 0.0
        $\mu$ in ``[0, 1]`` (Keras's range); 0 is plain gradient descent
        and keeps no state.
    nesterov : bool, default False
        Nesterov momentum.
    clipvalue, global_clipnorm : float, optional
        Gradient clipping, see `Optimizer`.

    Notes
    -----
    Keras 3's rule (``keras/src/optimizers/sgd.py``), slot ``momentum`` = $m$
    (zeros at first):

    $$
    \begin{aligned}
    \mu = 0:&\quad \theta \leftarrow \theta - \eta g \\
    \mu > 0:&\quad m \leftarrow \mu m - \eta g, \quad
        \theta \leftarrow \theta + m \\
    \text{Nesterov}:&\quad m \leftarrow \mu m - \eta g, \quad
        \theta \leftarrow \theta + \mu m - \eta g
    \end{aligned}
    $$

    With a constant learning rate this is PyTorch's ``SGD`` (``dampening=0``),
    whose buffer $b$ is $-m/\eta$.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.optim import SGD
    >>> w = np.array([1.0, -2.0])
    >>> opt = SGD(learning_rate=0.1)
    >>> opt.step({"w": w}, {"w": 2 * w})          # gradient of |w|^2
    >>> w
    array([ 0.8, -1.6])
    """

    name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, *, clipvalue=None,
                 global_clipnorm=None):
        super().__init__(learning_rate, clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        self.momentum = _checks.real(momentum, "momentum", 0.0, 1.0,
                                     note=" (0 turns momentum off)")
        self.nesterov = _checks.flag(nesterov, "nesterov")

    def _hyperparameters(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _slot_names(self):
        return ("momentum",) if self.momentum != 0 else ()

    def _update(self, p, g, slots):
        t = p.dtype.type
        lr = t(self.learning_rate)
        if not slots:
            p -= g * lr
            return
        mu = t(self.momentum)
        m = slots["momentum"]
        m[...] = m * mu - g * lr
        if self.nesterov:
            p += m * mu - g * lr
        else:
            p += m


class RMSprop(Optimizer):
    r"""RMSprop: divide the gradient by a running root mean square.

    Parameters
    ----------
    learning_rate : float, default 0.001
        Step size $\eta$, > 0.
    rho : float, default 0.9
        Decay $\rho$ of the mean square, in ``[0, 1)``.
    momentum : float, default 0.0
        $\mu$ in ``[0, 1]``; 0 keeps no momentum slot.
    epsilon : float, default 1e-7
        $\epsilon$ > 0, added *inside* the square root (Keras).
    centered : bool, default False
        Divide by an estimate of the variance rather than the second moment.
    clipvalue, global_clipnorm : float, optional
        Gradient clipping, see `Optimizer`.

    Notes
    -----
    Keras 3's rule (``keras/src/optimizers/rmsprop.py``), slots ``velocity`` =
    $v$, ``average_gradient`` = $\bar g$ (centered only),
    ``momentum`` = $m$ ($\mu > 0$ only), all zeros at first:

    $$
    \begin{aligned}
    v &\leftarrow \rho v + (1 - \rho) g^2 \\
    \bar g &\leftarrow \rho \bar g + (1 - \rho) g \\
    d &= v + \epsilon \quad\text{or, centered,}\quad d = v - \bar g^2 + \epsilon \\
    \Delta &= \eta g / \sqrt{d} \\
    \mu = 0:&\quad \theta \leftarrow \theta - \Delta \\
    \mu > 0:&\quad m \leftarrow \mu m + \Delta, \quad \theta \leftarrow \theta - m
    \end{aligned}
    $$

    PyTorch's ``RMSprop`` adds ``eps`` outside the square root,
    $\eta g / (\sqrt{d'} + \epsilon)$; the two agree as
    $\epsilon \to 0$.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.optim import RMSprop
    >>> w = np.array([10.0])
    >>> RMSprop(learning_rate=0.1).step({"w": w}, {"w": w})   # Keras's docstring example
    >>> w.round(6)
    array([9.683772])
    """

    name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, *, clipvalue=None, global_clipnorm=None):
        super().__init__(learning_rate, clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        self.rho = _checks.real(rho, "rho", 0.0, 1.0, high_open=True)
        self.momentum = _checks.real(momentum, "momentum", 0.0, 1.0,
                                     note=" (0 turns momentum off)")
        self.epsilon = _checks.real(epsilon, "epsilon", 0.0, low_open=True)
        self.centered = _checks.flag(centered, "centered")

    def _hyperparameters(self):
        return {"rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}

    def _slot_names(self):
        return (("velocity",) + (("momentum",) if self.momentum > 0 else ())
                + (("average_gradient",) if self.centered else ()))

    def _update(self, p, g, slots):
        t = p.dtype.type
        lr, rho, one_minus_rho, eps = (t(self.learning_rate), t(self.rho), t(1.0 - self.rho),
                                       t(self.epsilon))
        v = slots["velocity"]
        v[...] = rho * v + one_minus_rho * np.square(g)
        if self.centered:
            a = slots["average_gradient"]
            a[...] = rho * a + one_minus_rho * g
            denominator = v - np.square(a) + eps
        else:
            denominator = v + eps
        increment = (lr * g) / np.sqrt(denominator)
        if self.momentum > 0:
            m = slots["momentum"]
            m[...] = t(self.momentum) * m + increment
            p -= m
        else:
            p -= increment


class Adam(Optimizer):
    r"""Adam, optionally AMSGrad.

    Parameters
    ----------
    learning_rate : float, default 0.001
        Step size $\eta$, > 0.
    beta_1, beta_2 : float, default 0.9, 0.999
        Decays of the first and second moments, in ``[0, 1)``.
    epsilon : float, default 1e-7
        $\hat\epsilon$ > 0, Kingma and Ba's "epsilon hat" (added to
        $\sqrt{v}$ before bias correction is applied to it).
    amsgrad : bool, default False
        Divide by the running maximum of $v$ (AMSGrad).
    clipvalue, global_clipnorm : float, optional
        Gradient clipping, see `Optimizer`.

    Notes
    -----
    Keras 3's rule (``keras/src/optimizers/adam.py``), slots ``momentum`` =
    $m$, ``velocity`` = $v$, ``velocity_hat`` = $\hat v$
    (AMSGrad only), zeros at first, with $t$ = ``iterations + 1``:

    $$
    \begin{aligned}
    \alpha &= \eta \sqrt{1 - \beta_2^t} / (1 - \beta_1^t) \\
    m &\leftarrow m + (g - m)(1 - \beta_1) \\
    v &\leftarrow v + (g^2 - v)(1 - \beta_2) \\
    \hat v &\leftarrow \max(\hat v, v) \quad\text{(AMSGrad; then used for } v) \\
    \theta &\leftarrow \theta - \frac{\alpha m}{\sqrt{v} + \hat\epsilon}
    \end{aligned}
    $$

    PyTorch's ``Adam`` divides by $\sqrt{v / (1 - \beta_2^t)} + \epsilon$:
    the same rule with $\hat\epsilon = \epsilon\sqrt{1 - \beta_2^t}$, so the
    two agree as the epsilons go to 0.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.optim import Adam
    >>> w = np.array([1.0, -1.0], np.float32)
    >>> Adam(learning_rate=0.1).step({"w": w}, {"w": np.array([3.0, -0.5])})
    >>> w.round(5)                 # the first step moves each weight by ~lr
    array([ 0.9, -0.9], dtype=float32)
    """

    name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, *, clipvalue=None, global_clipnorm=None):
        super().__init__(learning_rate, clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        self.beta_1 = _checks.real(beta_1, "beta_1", 0.0, 1.0, high_open=True)
        self.beta_2 = _checks.real(beta_2, "beta_2", 0.0, 1.0, high_open=True)
        self.epsilon = _checks.real(epsilon, "epsilon", 0.0, low_open=True)
        self.amsgrad = _checks.flag(amsgrad, "amsgrad")

    def _hyperparameters(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}

    def _slot_names(self):
        return ("momentum", "velocity") + (("velocity_hat",) if self.amsgrad else ())

    def _update(self, p, g, slots):
        t = p.dtype.type
        lr, eps = t(self.learning_rate), t(self.epsilon)
        local_step = t(self.iterations + 1)
        beta_1_power = t(self.beta_1) ** local_step
        beta_2_power = t(self.beta_2) ** local_step
        alpha = lr * np.sqrt(t(1) - beta_2_power) / (t(1) - beta_1_power)
        m, v = slots["momentum"], slots["velocity"]
        m += (g - m) * t(1.0 - self.beta_1)
        v += (np.square(g) - v) * t(1.0 - self.beta_2)
        if self.amsgrad:
            v_hat = slots["velocity_hat"]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        p -= (m * alpha) / (np.sqrt(v) + eps)


class Adagrad(Optimizer):
    r"""Adagrad: per-element step sizes shrinking with the sum of squared gradients.

    Parameters
    ----------
    learning_rate : float, default 0.001
        Step size $\eta$, > 0.
    initial_accumulator_value : float, default 0.1
        Starting value of the accumulator, >= 0.
    epsilon : float, default 1e-7
        $\epsilon$ > 0, added *inside* the square root (Keras).
    clipvalue, global_clipnorm : float, optional
        Gradient clipping, see `Optimizer`.

    Notes
    -----
    Keras 3's rule (``keras/src/optimizers/adagrad.py``), slot ``accumulator`` =
    $a$, starting at ``initial_accumulator_value``:

    $$
    a \leftarrow a + g^2, \qquad
    \theta \leftarrow \theta - \frac{\eta g}{\sqrt{a + \epsilon}}
    $$

    PyTorch's ``Adagrad`` (``lr_decay=0``) divides by $\sqrt{a} + \epsilon$;
    the two agree as $\epsilon \to 0$.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.optim import Adagrad
    >>> w = np.array([1.0])
    >>> Adagrad(learning_rate=0.5, initial_accumulator_value=0.0).step(
    ...     {"w": w}, {"w": np.array([2.0])})
    >>> w.round(6)
    array([0.5])
    """

    name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, *,
                 clipvalue=None, global_clipnorm=None):
        super().__init__(learning_rate, clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        self.initial_accumulator_value = _checks.real(initial_accumulator_value,
                                                       "initial_accumulator_value", 0.0)
        self.epsilon = _checks.real(epsilon, "epsilon", 0.0, low_open=True)

    def _hyperparameters(self):
        return {"initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}

    def _slot_names(self):
        return ("accumulator",)

    def _new_slot(self, slot, p):
        return np.full_like(p, self.initial_accumulator_value)

    def _update(self, p, g, slots):
        t = p.dtype.type
        a = slots["accumulator"]
        a += np.square(g)
        p -= (t(self.learning_rate) * g) / np.sqrt(a + t(self.epsilon))


# ---------------------------------------------------------------------- registry
_REGISTRY = Registry("optimizer", Optimizer,
                     {cls.name: cls for cls in (SGD, RMSprop, Adam, Adagrad)},
                     any_case=True, config_type=Mapping)


def get(identifier):
    """An optimizer from an instance, a name or a config.

    Parameters
    ----------
    identifier : Optimizer, str or dict
        An `Optimizer` (returned as it is); a name, ``"sgd"``,
        ``"rmsprop"``, ``"adam"`` or ``"adagrad"`` in any case (Keras's class
        names work), giving the optimizer with Keras's defaults; or a config
        dict, as for `from_config`.

    Returns
    -------
    Optimizer

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones).
    TypeError
        Any other kind of identifier.

    Examples
    --------
    >>> from seqnet import optim
    >>> optim.get("RMSprop")
    RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07, centered=False)
    """
    return _REGISTRY.get(identifier)


def from_config(config):
    """Rebuild an optimizer (without state) from `Optimizer.get_config`.

    Parameters
    ----------
    config : dict
        ``{"name": <name>, **arguments}``; any name `get` knows.

    Returns
    -------
    Optimizer

    Raises
    ------
    ValueError
        No ``"name"``, an unknown name, an argument the optimizer does not take,
        or a bad value.
    TypeError
        ``config`` is not a dict, or an argument has the wrong type.

    Examples
    --------
    >>> from seqnet import optim
    >>> optim.from_config(optim.SGD(0.1, momentum=0.9, nesterov=True).get_config())
    SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    """
    return _REGISTRY.from_config(config)


def from_state_dict(state_dict):
    """A new optimizer with the configuration and state of `Optimizer.state_dict`.

    Parameters
    ----------
    state_dict : dict
        As `Optimizer.state_dict` returns it.

    Returns
    -------
    Optimizer
        ``from_config(state_dict["config"])`` after ``load_state_dict(state_dict)``:
        its next step is bit-identical to the saved optimizer's.

    Raises
    ------
    ValueError
        No ``"config"`` entry, or anything `from_config` or
        `Optimizer.load_state_dict` refuses.
    TypeError
        ``state_dict`` is not a dict, or an entry of the wrong type.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet import optim
    >>> opt = optim.Adam(0.01)
    >>> opt.step({"w": np.ones(3)}, {"w": np.ones(3)})
    >>> restored = optim.from_state_dict(opt.state_dict())
    >>> restored.iterations, sorted(restored.state_dict()["slots"])
    (1, ['momentum/w', 'velocity/w'])
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
    if "config" not in state_dict:
        raise ValueError("state_dict must have a 'config' entry")
    opt = from_config(state_dict["config"])
    opt.load_state_dict(state_dict)
    return opt
