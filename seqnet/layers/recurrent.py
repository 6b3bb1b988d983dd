"""Recurrent layers: SimpleRNN, LSTM and GRU, stacked and bidirectional.

Each layer owns its parameters (PyTorch's names and layouts) and makes one kernel
call per layer, direction and sequence (:mod:`seqnet.kernels`), keeping what its
own ``backward`` needs. The calling convention is the layer contract of
:mod:`seqnet.layers.base`, with Keras's ``return_state``.
"""

from __future__ import annotations

import functools
import inspect
import numbers

import numpy as np

from .. import _checks, graph
from .._checksum import checksum
from .._config import DEFAULT_DTYPE
from ..kernels import gru as _gru
from ..kernels import gru_ln as _gru_ln
from ..kernels import lstm as _lstm
from ..kernels import lstm_ln as _lstm_ln
from ..kernels import lstmp as _lstmp
from ..kernels import rnn as _rnn
from ..kernels._regular import Regularise
from .base import Layer

_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _zero_padding(x, lengths):
    """``x``, or a copy of it whose steps past each row's length are 0 when some of
    them are not finite. Such a step reaches no output and no state, but the weight
    gradient ``dW_ih = sum dG^T x`` runs over every step, and there its ``dG`` of 0
    times a NaN or an infinity would be NaN."""
    T = x.shape[1]
    if lengths.min() == T:
        return x
    padding = np.arange(T) >= lengths[:, None]
    if np.isfinite(x[padding]).all():
        return x
    return np.where(padding[:, :, None], x.dtype.type(0), x)


def _layer_norm_shapes(sfx, gates, cell):
    """The gains (and the cell's bias) of a layer-normalised cell, one direction."""
    shapes = {"layer_norm_ih_weight" + sfx: (gates,), "layer_norm_hh_weight" + sfx: (gates,)}
    if cell:
        shapes["layer_norm_c_weight" + sfx] = (cell,)
        shapes["layer_norm_c_bias" + sfx] = (cell,)
    return shapes


@functools.cache
def _takes_regularise(forward):
    """Whether a kernel module's ``forward`` takes ``regularise=`` (a regularised
    time loop), asked once per kernel: ``inspect.signature`` costs about 80 us, a
    few per cent of a small layer's call."""
    return "regularise" in inspect.signature(forward).parameters


class RecurrentLayer(Layer):
    """Base class of `SimpleRNN`, `LSTM` and `GRU`.

    Parameters
    ----------
    hidden_size : int
        Number of hidden units ``H``.
    input_size : int, optional
        Number of input features ``I``; inferred from the first ``forward`` (or
        ``load_state_dict``) when ``None``.
    num_layers : int, default 1
        Number of stacked layers.
    bidirectional : bool, default False
        Run a second, reversed direction in every layer and concatenate
        (``D = 2``); otherwise ``D = 1``.
    dropout : float, default 0.0
        Inverted dropout on the outputs of every layer but the last, in training
        only; seeded through `rng`.
    return_sequences : bool, default True
        Return the whole output sequence ``(B, T, D*H)``; else the output at each
        row's last valid step ``(B, D*H)`` (reverse direction: its final state).
    return_state : bool, default False
        Return the final state too, as Keras does: `forward` gives ``[out, h]``
        (``[out, h, c]`` for the LSTM) instead of ``out``.
    dtype : {np.float32, np.float64}, default np.float32
        Dtype of parameters, activations and gradients.
    seed : int, optional
        Seeds the initialisation and the dropout masks.
    stateful : bool, default False
        Keras's stateful layer: a `forward` given no ``initial_state`` starts
        from the final state of the layer's previous `forward`, row for row
        (zeros at first and after `reset_states`), and every `forward`,
        training or not, keeps its final state (a copy) for the next. That
        carried state is a constant: the gradient stops at it (truncated
        backpropagation through time), never flowing into the previous batch.
        The batch size must stay the same from one call to the next (a
        ValueError names both sizes; `reset_states` first to change it). With
        ``lengths`` the carried state of a row is its state at its last valid
        step. Not with ``bidirectional=True``: the reverse direction reads each
        sequence from its end, so it cannot continue a stream. The carried
        state is not saved with a model, and `seqnet.Sequential.step` (which
        passes its states explicitly) neither reads nor changes it.
    input_dropout : float, default 0.0
        Variational dropout on each layer's input ``x_t`` (Gal & Ghahramani 2016,
        Keras's ``dropout``): in training, one mask per row and input feature,
        shared by every step and gate, scaled by ``1 / (1 - p)``; each layer and
        direction draws its own. On index input, one mask per row and vocabulary
        entry, as on the one-hot input.
    recurrent_dropout : float, default 0.0
        Variational dropout on ``h_{t-1}`` in the recurrent products of every gate
        (Keras's ``recurrent_dropout``): one mask per row and unit, shared by every
        step; the state carried is not masked.
    zoneout : float, default 0.0
        Zoneout of ``h`` (Krueger et al. 2017): in training each unit keeps its
        previous value with probability ``zoneout``, a fresh mask at every step,
        ``h_t = d h_{t-1} + (1 - d) \tilde h_t``; at inference the expectation,
        ``d = zoneout``.
    cell_zoneout : float, default 0.0
        Zoneout of the LSTM's cell ``c``, with masks of its own (the LSTM only).
    weight_dropout : float, default 0.0
        DropConnect on ``W_hh`` (AWD-LSTM): one mask of ``weight_hh`` per forward
        call, layer and direction, scaled by ``1 / (1 - p)``.
    bias : bool, default True
        Whether the cell has the biases ``bias_ih`` and ``bias_hh`` (PyTorch's
        ``bias``); ``False``: no bias parameters at all, the cell computes as with
        zero biases.

    Notes
    -----
    The regularisers apply with ``training=True`` only (zoneout: its expectation at
    inference) and draw every mask from `rng` (the zoneout masks from a 64-bit seed
    drawn from it, by a counter-based hash inside the kernel): resetting ``rng`` to
    the same state gives the same masks. Recurrent dropout and zoneout run the
    kernels' regularised time loops; their equations and gradients are on the
    [regularisation page](derivations/regularisation.md).

    Attributes
    ----------
    params, grads : dict of str to ndarray
        Same keys, PyTorch's names: ``weight_ih_l{k}`` ``(G*H, in)`` (``in`` is
        ``I`` for ``k = 0``, ``D*H`` above), ``weight_hh_l{k}`` ``(G*H, H)``,
        ``bias_ih_l{k}``, ``bias_hh_l{k}`` ``(G*H,)`` (none when ``bias=False``),
        suffix ``_reverse`` for the second direction; ``G = len(GATES)``, all of
        ``dtype``. Empty until the input size is known. ``backward`` overwrites
        ``grads``.
    rng : numpy.random.Generator
        Draws the dropout masks.
    trace : dict of str to ndarray, or None
        Every step's gates and states after ``forward(..., trace=True)``, each
        ``[num_layers*D, B, T, H]`` (see `trace_names`); None otherwise.
    states : tuple of ndarray or None
        The state a stateful layer carries into its next `forward` (copies,
        ``(num_layers*D, B, H)`` each); None for zeros.

    Raises
    ------
    TypeError
        An argument of the wrong type (``hidden_size`` not an int, ``bidirectional``
        not a bool, ``dtype`` not float32 or float64, ...).
    ValueError
        ``hidden_size``, ``input_size`` or ``num_layers`` below 1, ``dropout`` (or
        a regulariser's rate) outside ``[0, 1)``, ``cell_zoneout`` on a cell
        without a cell state, a negative ``seed``, or ``stateful`` with
        ``bidirectional``.
    """

    #: gate names in weight order (the kernel module's); ``G = len(GATES)``.
    GATES: tuple = ()
    #: the kernel module: its ``forward`` and ``backward`` run one direction.
    kernel = None
    traceable = True
    state_names: tuple = ("h",)
    input_weight = "weight_ih_l0"

    def __init__(self, hidden_size, *, input_size=None, num_layers=1, bidirectional=False,
                 dropout=0.0, return_sequences=True, return_state=False, dtype=DEFAULT_DTYPE,
                 seed=None, stateful=False, input_dropout=0.0, recurrent_dropout=0.0,
                 zoneout=0.0, cell_zoneout=0.0, weight_dropout=0.0, bias=True):
        super().__init__(dtype=dtype, seed=seed)
        self._init_regularisers(input_dropout, recurrent_dropout, zoneout, cell_zoneout,
                                weight_dropout)
        self.hidden_size = _checks.positive_int(hidden_size, "hidden_size")
        self.input_size = (None if input_size is None
                           else _checks.positive_int(input_size, "input_size"))
        self.num_layers = _checks.positive_int(num_layers, "num_layers")
        self.bidirectional = _checks.flag(bidirectional, "bidirectional")
        self.dropout = _checks.real(dropout, "dropout", 0.0, 1.0, high_open=True)
        self.return_sequences = _checks.flag(return_sequences, "return_sequences")
        self.return_state = _checks.flag(return_state, "return_state")
        self.bias = _checks.flag(bias, "bias")
        self._planned_input = self.input_size
        self.stateful = _checks.flag(stateful, "stateful")
        if self.stateful and self.bidirectional:
            raise ValueError("stateful=True and bidirectional=True cannot be combined: the "
                             "reverse direction reads each sequence from its end, so it "
                             "cannot carry a state from one batch into the next")
        self._carried = None   # the state a stateful layer carries (None: zeros)
        self._last_final = None

    # ------------------------------------------------------------ regularisers
    _REGULARISERS = ("input_dropout", "recurrent_dropout", "zoneout", "cell_zoneout",
                     "weight_dropout")

    def _init_regularisers(self, *rates):
        for name, rate in zip(self._REGULARISERS, rates, strict=True):
            setattr(self, name, _checks.real(rate, name, 0.0, 1.0, high_open=True))
        if self.cell_zoneout > 0.0 and "c" not in self.state_names:
            raise ValueError(f"cell_zoneout applies to the LSTM's cell state c; "
                             f"{type(self).__name__} has none (use zoneout for h), got "
                             f"cell_zoneout={self.cell_zoneout}")

    def _regularisers(self, B, features, weight_shape, training):
        """The masks of one layer direction's call, drawn from `rng` in a fixed order
        (input, recurrent, weight, zoneout seeds): ``{"input": (B, features) or
        None, "weight": weight_shape (W_hh's) or None, "regularise": Regularise or
        None}``."""
        H = self.hidden_size

        def mask(p, shape):
            if not training or p == 0.0:
                return None
            q = 1.0 - p
            return (self.rng.random(shape) < q).astype(self.dtype) / self.dtype.type(q)

        m_in = mask(self.input_dropout, (B, features))
        m_rec = mask(self.recurrent_dropout, (B, H))
        m_w = mask(self.weight_dropout, weight_shape)
        reg = None
        rates = (self.zoneout, self.cell_zoneout)
        if m_rec is not None or rates != (0.0, 0.0):
            seeds = (0, 0)
            if training and rates != (0.0, 0.0):
                seeds = tuple(int(v) for v in self.rng.integers(0, 2 ** 63, 2))
            reg = Regularise(m_rec, rates, seeds)
        return {"input": m_in, "weight": m_w, "regularise": reg}

    def _check_regularised_kernel(self):
        """Recurrent dropout and zoneout need a kernel module with a regularised
        time loop (its ``forward`` takes ``regularise=``): a clear error, not a
        TypeError from inside, for a cell whose kernel has none."""
        on = [n for n in ("recurrent_dropout", "zoneout", "cell_zoneout") if getattr(self, n)]
        kernel = self._cell_kernel()
        if on and not _takes_regularise(kernel.forward):
            cell = [f"{k}={v!r}" for k, v in self._cell_config().items() if v]
            raise ValueError(f"{' and '.join(f'{n}={getattr(self, n)!r}' for n in on)} with "
                             f"{' and '.join(cell) or 'this cell'} is not supported: "
                             f"{', '.join(on)} run in the plain cell's regularised time "
                             f"loop, and {type(self).__name__}'s kernel for "
                             f"{' and '.join(cell) or 'it'} ({kernel.__name__}) has none")

    def _drop_indices(self, x, W_ih, mask):
        """Input dropout on index input, exactly as on its one-hot encoding: the
        gathered column ``W_ih[:, x[b, t]]`` scaled by ``mask[b, x[b, t]]``, 0 or
        ``1 / (1 - p)``. The kernel gathers from ``[W_ih / (1 - p), 0]``, and a
        dropped token reads the zero column ``I``; `call_backward` takes
        ``dW_ih`` back through the scaling (the zero column's gradient is dropped)."""
        q = self.dtype.type(1.0 - self.input_dropout)
        kept = mask[np.arange(x.shape[0])[:, None], x] != 0
        W = np.concatenate([W_ih / q, np.zeros((W_ih.shape[0], 1), self.dtype)], axis=1)
        return np.where(kept, x, W_ih.shape[1]), W

    def _masks(self):
        """The masks of the last training forward (before its backward), one dict
        per layer and direction (layer-major): ``input`` ``(B, in)``, ``recurrent``
        ``(B, H)``, ``weight`` ``(G*H, H)`` (None when off), ``zoneout_h`` and
        ``zoneout_c`` ``(B, T, H)`` (1 where the previous value is kept; None when
        off). For tests and inspection."""
        from ..kernels._steps import zoneout_masks
        c = self._cache
        out = []
        for r in c["regularisers"]:
            reg = r["regularise"]
            m = {"input": r["input"], "weight": r["weight"], "recurrent": None,
                 "zoneout_h": None, "zoneout_c": None}
            if reg is not None:
                m["recurrent"] = reg.mask
                for name, rate, seed in zip(("zoneout_h", "zoneout_c"), reg.rates, reg.seeds,
                                            strict=True):
                    if rate > 0.0:
                        m[name] = zoneout_masks(seed, c["B"], c["T"], self.hidden_size, rate)
            out.append(m)
        return out

    # ------------------------------------------------------------------ structure
    @property
    def num_directions(self):
        """int: ``D``, 2 when bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def causal(self):
        """bool: whether the layer can run one step at a time: not bidirectional."""
        return not self.bidirectional

    @property
    def output_size(self):
        """int: features of the output, ``D * hidden_size`` (``D * proj_size`` for a
        projected LSTM)."""
        return self.num_directions * self.state_sizes[0]

    @property
    def state_sizes(self):
        """tuple of int: the features of each state tensor, in `state_names` order:
        ``hidden_size`` each (the projected LSTM's ``h`` has ``proj_size``)."""
        return (self.hidden_size,) * len(self.state_names)

    def _cell_kernel(self):
        """The kernel module this layer's options select (`kernel` by default)."""
        return self.kernel

    def _direction_weights(self, sfx):
        """The parameters of one layer and direction in its kernel's order (the
        kernel module's ``WEIGHTS``, else weight_ih, weight_hh, bias_ih, bias_hh),
        zeros for the biases of a layer without them."""
        names = getattr(self._cell_kernel(), "WEIGHTS", _WEIGHTS)
        rows = len(self.GATES) * self.hidden_size
        return [self.params[n + sfx] if n + sfx in self.params
                else np.zeros(rows, self.dtype) for n in names]

    def _suffixes(self):
        for k in range(self.num_layers):
            for d in range(self.num_directions):
                yield k, d, f"_l{k}" + ("_reverse" if d else "")

    def _param_shapes(self, input_size):
        G, H = len(self.GATES), self.hidden_size
        shapes = {}
        for k, _, sfx in self._suffixes():
            fan_in = input_size if k == 0 else self.output_size
            shapes["weight_ih" + sfx] = (G * H, fan_in)
            shapes["weight_hh" + sfx] = (G * H, self.state_sizes[0])
            if self.bias:
                shapes["bias_ih" + sfx] = (G * H,)
                shapes["bias_hh" + sfx] = (G * H,)
            shapes.update(self._cell_param_shapes(k, sfx))
        return shapes

    def _cell_param_shapes(self, k, sfx):
        """The cell options' own parameters of layer ``k``, direction suffix ``sfx``."""
        return {}

    def _initial_params(self, input_size):
        """Keras's defaults: glorot-uniform input weights, orthogonal recurrent
        weights, zero biases (and the cell's own, `_init_biases`)."""
        rng = self._init_rng
        params = {}
        for name, shape in self._param_shapes(input_size).items():
            if name.startswith(("weight_ih", "weight_hr")):
                limit = np.sqrt(6.0 / (shape[0] + shape[1]))
                value = rng.uniform(-limit, limit, shape)
            elif name.startswith("weight_hh"):
                q, r = np.linalg.qr(rng.standard_normal(shape))
                value = q * np.sign(np.diag(r))
            elif name.startswith("layer_norm") and "_weight_" in name:
                value = np.ones(shape)
            else:
                value = np.zeros(shape)
            params[name] = value.astype(self.dtype)
        self._init_biases(params)
        return params

    def _set_input_size(self, input_size):
        self.input_size = input_size

    def _init_biases(self, params):
        """Hook for cell-specific bias initialisation of new ``params``."""

    def output_shape(self, input_shape):
        """Output shape, without the batch axis, for an input of ``input_shape``.

        Parameters
        ----------
        input_shape : tuple of int
            ``(T, I)``, or ``(T,)`` for index input.

        Returns
        -------
        tuple of int
            ``(T, D*H)``, or ``(D*H,)`` when ``return_sequences=False`` (the
            output's; the final state's arrays, with ``return_state``, are
            ``(num_layers*D, H)`` each).
        """
        shape = tuple(input_shape)
        if len(shape) not in (1, 2):
            raise ValueError(f"{type(self).__name__} takes (time, features) floats or (time,) "
                             f"indices per sample, got an input of shape {shape}")
        if len(shape) == 2 and self.input_size is not None and shape[1] is not None \
                and shape[1] != self.input_size:
            raise ValueError(f"{type(self).__name__} has input_size {self.input_size}, got "
                             f"an input of shape {shape} ({shape[1]} features)")
        T = shape[0]
        return (T, self.output_size) if self.return_sequences else (self.output_size,)

    takes_lengths = True
    input_kinds = ("f", "i")

    @property
    def state_rows(self):
        """int: ``num_layers * D``, the rows of each state array."""
        return self.num_layers * self.num_directions

    def check_input(self, input_shape, dtype):
        """Floats must be ``(time, features)`` per sample, indices ``(time,)``.

        Parameters
        ----------
        input_shape : tuple
            One sample's shape.
        dtype : numpy.dtype
            The input's dtype.

        Raises
        ------
        ValueError
            The wrong rank for the input's kind.
        """
        rank = 2 if np.dtype(dtype).kind == "f" else 1
        if len(tuple(input_shape)) != rank:
            what = "(time, features) floats" if rank == 2 else "(time,) indices"
            raise ValueError(f"{type(self).__name__} takes {what} per sample, got an input "
                             f"of shape {tuple(input_shape)}")

    def extra_shapes(self, input_shape, options):
        """The final state's shapes as a graph sees them (batch-first), one per state
        tensor, with ``return_state``; ``[]`` without.

        Parameters
        ----------
        input_shape : tuple
            The input's sample shape.
        options : dict
            The call's options.

        Returns
        -------
        list of tuple
            ``(H,)`` each, or ``(num_layers*D, H)`` for several layers or directions.
        """
        return ([self.state_graph_shape(m) for m in range(len(self.state_names))]
                if self.return_state else [])

    def state_graph_shape(self, index=0):
        """One sample's shape of state array ``index`` as a graph sees it: ``(S,)``,
        or ``(num_layers*D, S)`` for several layers or directions, ``S`` its
        `state_sizes` entry.

        Parameters
        ----------
        index : int, default 0
            Which state array, in `state_names` order.

        Returns
        -------
        tuple of int
        """
        return graph.state_graph_shape(self.state_rows, self.state_sizes[index])

    def output_lengths(self, x, lengths):
        """The output's valid steps: ``lengths`` with ``return_sequences``, None
        (no time axis) without.

        Parameters
        ----------
        x : ndarray
            The input.
        lengths : ndarray of int, shape (B,), or None
            The input's valid steps.

        Returns
        -------
        ndarray of int, shape (B,), or None
        """
        return lengths if self.return_sequences else None

    def build(self, input_shape):
        """Create the parameters for inputs of ``input_shape`` (no batch axis).

        Parameters
        ----------
        input_shape : tuple of int
            ``(T, I)``; ``(T,)`` for index input, which needs ``input_size``.

        Raises
        ------
        ValueError
            Index input to a layer whose ``input_size`` is unknown.
        """
        shape = tuple(input_shape)
        if not self.built:
            if len(shape) < 2:
                raise ValueError("integer (index) input needs the layer's input_size: "
                                 "build it with input_size=<vocabulary size>")
            self._build(_checks.positive_int(shape[-1], "input features"))

    # -------------------------------------------------------------- state helpers
    def _state_tuple(self, state, name, batch):
        """A user's state (an array, or a sequence of one array per state tensor:
        ``[h, c]`` for the LSTM) as a tuple of checked arrays; zeros for None."""
        n = len(self.state_names)
        shapes = [(self.num_layers * self.num_directions, batch, size)
                  for size in self.state_sizes]
        shape = shapes[0]
        if state is None:
            return tuple(np.zeros(s, self.dtype) for s in shapes)
        if isinstance(state, (tuple, list)):
            parts = tuple(state)
            if len(parts) != n:
                what = (f"a tuple {self.state_names} of arrays" if n > 1
                        else "one array h (or a list of one)")
                raise TypeError(f"{name} must be {what} of shape {shape}, got "
                                f"{len(parts)} entries")
        elif n > 1:
            raise TypeError(f"{name} must be a tuple {self.state_names} of arrays of "
                            f"shape {shape}, got {type(state).__name__}")
        else:
            parts = (state,)
        out = []
        for m, (part, sname) in enumerate(zip(parts, self.state_names, strict=True)):
            label = f"{name}[{m}] ({sname})" if n > 1 else name
            shape = shapes[m]
            if part is None:
                out.append(np.zeros(shape, self.dtype))
                continue
            arr = _checks.float_array(part, label, self.dtype)
            _checks.shape_is(arr, shape, label, " (num_layers*D, batch, hidden_size)")
            out.append(arr)
        return tuple(out)

    # ----------------------------------------------------------------- the passes
    #: whether the cell's backward writes over its forward's ``out`` (the
    #: SimpleRNN's output is its cache): the layer then checks in backward that the
    #: output it returned was not modified (the kernel writes over a copy of it when
    #: the caller still holds it, see :func:`seqnet.kernels.rnn.backward`).
    _out_is_cache = False

    def _kernel_options(self):
        """The cell's own keyword arguments of its kernel entries."""
        return {}

    def call(self, x, initial_state, *, training, lengths=None, trace=False):
        """The forward pass over a batch of sequences (called by `forward`).

        Parameters
        ----------
        x : array_like, shape (B, T, I) or (B, T)
            Batch-first input, real floating point (cast to the layer's dtype); or
            integer indices in ``[0, input_size)``, which compute exactly what the
            one-hot encoded input computes (a gather of ``weight_ih_l0`` columns)
            without building the one-hot tensor.
        initial_state : None or tuple of ndarray
            ``(h,)`` or ``(h, c)``, each ``(num_layers*D, B, H)``, layer-major then
            direction; zeros when None (or for an entry that is None).
        training : bool
            Keep what `call_backward` needs and apply dropout between layers.
        lengths : array_like of int, shape (B,), optional
            Valid steps per row, ``1 <= lengths[b] <= T``; no sorting needed. Past
            its length a row's output is zero and its state is carried unchanged.
        trace : bool, default False
            Keep every step's gates and states in `trace` (see there); otherwise
            `trace` is set to None.

        Returns
        -------
        out : ndarray, shape (B, T, D*H) or (B, D*H)
            The last layer's outputs, both directions concatenated (forward
            first), of the layer's dtype; ``(B, D*H)`` when
            ``return_sequences=False``. Zero past a row's length.
        final_state : tuple of ndarray
            ``(h,)`` or ``(h, c)``, each ``(num_layers*D, B, H)``.

        Raises
        ------
        TypeError
            ``x`` is neither real floating point nor 2-D integer, ``lengths`` is
            not integer, or ``initial_state`` has the wrong structure.
        ValueError
            ``x`` of the wrong rank or feature count, empty, or indices outside
            ``[0, input_size)`` (or index input before ``input_size`` is known);
            ``lengths`` or ``initial_state`` of the wrong shape, or a length
            outside ``[1, T]``; ``trace=True`` with an option it does not cover.
        """
        self.trace = None
        if _checks.flag(trace, "trace"):
            self._check_traceable("trace=True")
        index = _checks.index_input(x)
        if index is not None:
            if self.input_size is None:
                raise ValueError("integer (index) input x needs the layer's input_size: "
                                 "build it with input_size=<vocabulary size>")
            x = _checks.indices_in_range(index, self.input_size, "x")
            B, T = x.shape
        else:
            x = _checks.float_array(x, "x", self.dtype)
            if x.ndim != 3:
                raise ValueError("x must be 3-D (batch, time, features) floats or 2-D "
                                 f"(batch, time) integer indices, got shape {x.shape}")
            B, T, F = x.shape
            if F == 0:
                raise ValueError(f"x must have at least one feature, got shape {x.shape}")
            if self.input_size is None:
                self._build(F)   # once, under the layer's lock
            if F != self.input_size:
                raise ValueError(f"x has {F} features but the layer's input_size is "
                                 f"{self.input_size}: x must be (batch, time, "
                                 f"{self.input_size})")
        if B == 0 or T == 0:
            raise ValueError(f"x must have at least one batch row and one time step, "
                             f"got shape {x.shape}")
        # a copy: the caches keep it for backward, the caller may reuse theirs.
        lengths = np.array(_checks.lengths_array(lengths, B, T), copy=True)
        if x.ndim == 3:
            x = _zero_padding(x, lengths)
        state = self._state_tuple(initial_state, "initial_state", B)
        self._cache = None
        D = self.num_directions
        inp = x_kept = np.ascontiguousarray(x)   # the kernels take batch-first buffers
        finals = [np.empty_like(s) for s in state]
        caches, masks, regs = [], [], []
        options = self._kernel_options()
        traces = {n: np.zeros((self.state_rows, B, T, self.hidden_size), self.dtype)
                  for n in self.trace_names} if trace else None
        self._check_regularised_kernel()
        for k in range(self.num_layers):
            outs = []
            for d in range(D):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                weights = self._direction_weights(sfx)
                st = tuple(s[k * D + d] for s in state)
                r = self._regularisers(B, self.input_size if inp.ndim == 2 else inp.shape[-1],
                                       weights[1].shape, training)
                regs.append(r)
                if r["input"] is None:
                    inp_d = inp
                elif inp.ndim == 2:
                    inp_d, weights[0] = self._drop_indices(inp, weights[0], r["input"])
                else:
                    inp_d = inp * r["input"][:, None, :]
                if r["weight"] is not None:
                    weights[1] = weights[1] * r["weight"]
                reg_options = {} if r["regularise"] is None else {"regularise": r["regularise"]}
                o, fin, cache = self._cell_kernel().forward(
                    inp_d, *weights, st, lengths, bool(d), training or trace, **options,
                    **reg_options)
                if trace:
                    self._keep_trace(traces, k * D + d, o, fin, cache, lengths, bool(d))
                outs.append(o)
                caches.append(cache)
                for m, f in enumerate(fin):
                    finals[m][k * D + d] = f
            out = outs[0] if D == 1 else np.concatenate(outs, axis=2)
            if training and self.dropout > 0.0 and k < self.num_layers - 1:
                q = 1.0 - self.dropout
                mask = (self.rng.random(out.shape) < q).astype(self.dtype) / self.dtype.type(q)
                out = out * mask
                masks.append(mask)
            inp = out
        out_sum = None
        if self.return_sequences:
            # the kernel's own buffer. Where it is the cache (the SimpleRNN), backward
            # checks that the caller did not modify it in between.
            result = inp
            if training and self._out_is_cache and D == 1:
                out_sum = checksum(result)
        else:
            last = finals[0][(self.num_layers - 1) * D:]
            result = np.ascontiguousarray(np.concatenate(list(last), axis=1))
        if trace:
            self.trace, self._trace_state = traces, (state, lengths)
        if training:
            # the kernels keep a reference to x (often the caller's own array), not a
            # copy: backward checks that it was not modified in between.
            self._cache = dict(caches=caches, masks=masks, B=B, T=T, out_shape=result.shape,
                               x=x_kept, x_sum=checksum(x_kept), out_sum=out_sum,
                               regularisers=regs)
        self._last_final = finals   # a stateful forward keeps a copy (see `forward`)
        return result, tuple(finals)

    def call_backward(self, dout, dstate):
        """The backward pass (see `backward`).

        Parameters
        ----------
        dout : array_like
            The gradient of ``out``.
        dstate : None or tuple
            The final state's gradients, one entry per state tensor (an array or
            None for zeros); None: all zeros.

        Returns
        -------
        dx : ndarray or None
            The gradient of ``x`` (None for integer input).
        dinitial_state : tuple of ndarray
            ``(dh0,)`` or ``(dh0, dc0)``.
        """
        if self._cache is None:
            raise ValueError("backward() needs a forward(..., training=True) first: "
                             "the last forward was an inference run, there was none, or "
                             "its backward has run (each forward feeds one backward)")
        c = self._cache
        B, T = c["B"], c["T"]
        D, H, L = self.num_directions, self.state_sizes[0], self.num_layers
        dout = _checks.float_array(dout, "dout", self.dtype)
        _checks.shape_is(dout, c["out_shape"], "dout", " (the shape of out)")
        dfinal = list(self._state_tuple(dstate, "dstate", B))
        dfinal = [a.copy() for a in dfinal] if dstate is not None else dfinal
        if self.return_sequences:
            d_inp = np.ascontiguousarray(dout)
        else:
            d_inp = np.zeros((B, T, D * H), self.dtype)
            for d in range(D):
                dfinal[0][(L - 1) * D + d] += dout[:, d * H:(d + 1) * H]
        dinit = [np.empty_like(a) for a in dfinal]
        # the kernels write the gate gradients over the cached gates: this forward's
        # cache feeds this one backward only (checked above, once inputs are valid).
        self._cache = None
        if checksum(c["x"]) != c["x_sum"]:
            raise ValueError("x was modified in place between forward(..., training=True) "
                             "and backward(): the gradients would be wrong. Run forward "
                             "again, or pass forward a copy if you modify x afterwards")
        if c["out_sum"] is not None and checksum(c["caches"][-1]["out"]) != c["out_sum"]:
            raise ValueError("the output of forward(..., training=True) was modified in "
                             "place before backward(): it is this layer's cache, so the "
                             "gradients would be wrong. Modify a copy of it instead")
        for k in range(L - 1, -1, -1):
            dx_sum = None
            for d in range(D):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                do = d_inp if D == 1 else np.ascontiguousarray(d_inp[:, :, d * H:(d + 1) * H])
                ds = tuple(a[k * D + d] for a in dfinal)
                kernel = self._cell_kernel()
                dx, grads, ds0 = kernel.backward(c["caches"][k * D + d], do, ds)
                if self._state_grads is not None:   # seqnet.inspect.state_gradients
                    self._state_grads[k * D + d] = (np.array(do), [np.array(a) for a in ds])
                r = c["regularisers"][k * D + d]
                if r["input"] is not None and dx is None:   # index input: see _drop_indices
                    q = self.dtype.type(1.0 - self.input_dropout)
                    grads = (grads[0][:, :-1] / q, *grads[1:])
                elif r["input"] is not None:
                    dx = dx * r["input"][:, None, :]
                if r["weight"] is not None:
                    grads = (grads[0], grads[1] * r["weight"], *grads[2:])
                for n, g in zip(getattr(kernel, "WEIGHTS", _WEIGHTS), grads, strict=True):
                    if n + sfx in self.params:
                        self.grads[n + sfx] = g
                for m, a in enumerate(ds0):
                    dinit[m][k * D + d] = a
                dx_sum = dx if dx_sum is None else dx_sum + dx
            if k > 0 and c["masks"]:
                dx_sum = dx_sum * c["masks"][k - 1]
            d_inp = dx_sum
        return d_inp, tuple(dinit)

    # ------------------------------------------------------------- introspection
    #: every step's gates and states of the last ``forward(..., trace=True)``:
    #: ``{name: ndarray [num_layers*D, B, T, H]}`` (names: `trace_names`), rows
    #: layer-major then direction as the state's; c and h are the state *after*
    #: step t. Past a row's length every array is 0, as the output is. None after
    #: a forward without ``trace=True``.
    trace = None
    #: the initial state and lengths of the traced forward (for `seqnet.inspect`).
    _trace_state = None
    #: set to a dict by `seqnet.inspect.state_gradients`: `call_backward` then keeps
    #: each kernel call's ``(dout, dfinal_state)`` in it, by state row.
    _state_grads = None
    #: layer options whose kernels `trace` and `seqnet.inspect` do not cover yet.
    _untraced_options = ("layer_norm", "proj_size", "zoneout", "cell_zoneout")

    @property
    def trace_names(self):
        """tuple of str: the arrays of `trace`: the gates (`GATES`) then the states,
        ``("i", "f", "g", "o", "h", "c")`` for the LSTM, ``("r", "z", "n", "h")``
        for the GRU, ``("h",)`` for the SimpleRNN."""
        return tuple(dict.fromkeys(self.GATES + self.state_names))

    def _check_traceable(self, what, options=None):
        """Raise a ValueError naming ``what`` when one of ``options`` (default
        `_untraced_options`) is set on the layer."""
        for name in options or self._untraced_options:
            if getattr(self, name, None):
                raise ValueError(f"{what}: {type(self).__name__} with {name}="
                                 f"{getattr(self, name)!r} is not supported by the trace "
                                 "(it covers the plain cells)")

    def _keep_trace(self, traces, row, out, final, cache, lengths, reverse):
        """Copy one kernel call's gates and states into row ``row`` of ``traces`` (a
        backward writes over the cache): ``h`` is the output; the gates are the
        cache's post-activation values (0 past a row's length); ``c`` after step t
        is the state entering the next step, or the final state."""
        H = self.hidden_size
        traces["h"][row] = out
        gates = cache.get("gates")
        for m, name in enumerate(self.GATES if gates is not None else ()):
            traces[name][row] = gates[:, :, m * H:(m + 1) * H]
        if "c" in traces:
            c, c_prev = traces["c"][row], cache["c_prev"]
            src, dst, last = ((slice(None, -1), slice(1, None), 0) if reverse
                              else (slice(1, None), slice(None, -1), -1))
            c[:, dst], c[:, last] = c_prev[:, src], final[1]
            c[np.arange(c.shape[1]) >= lengths[:, None]] = 0.0
    # ------------------------------------------------------------- stateful layers
    def forward(self, x, initial_state=None, *, training=False, **options):
        """Run the layer (see `seqnet.Layer.forward`); a stateful layer given no
        ``initial_state`` starts from the state it carries and keeps its final
        state.

        Parameters
        ----------
        x : array_like
            ``(B, T, I)`` floats or ``(B, T)`` indices (see `call`).
        initial_state : array_like or sequence of array_like, optional
            ``h`` or ``[h, c]``, each ``(num_layers*D, B, H)``; a stateful layer
            takes it instead of the state it carries (and its gradient flows).
        training : bool, default False
            Keep what `backward` needs, and apply dropout.
        **options
            ``lengths=``, as for `call`.

        Returns
        -------
        ndarray, or list of ndarray
            ``out``, or ``[out, *final_state]`` with ``return_state``.

        Raises
        ------
        ValueError
            A stateful layer carrying a state for another batch size than ``x``'s
            (both named), or an input `call` refuses.
        TypeError
            An input of the wrong type (see `call`).
        """
        if not self.stateful:
            return super().forward(x, initial_state, training=training, **options)
        carried = initial_state is None and self._carried is not None
        if carried:
            B, carried_B = np.shape(x)[0] if np.ndim(x) else None, self._carried[0].shape[1]
            if B != carried_B:
                raise ValueError(
                    f"stateful {type(self).__name__} carries a state for batch size "
                    f"{carried_B} but got a batch of {B}: a stateful layer needs the same "
                    "batch size from one call to the next (call reset_states() to start "
                    "again with another)")
            initial_state = self._carried
        result = super().forward(x, initial_state, training=training, **options)
        if carried:
            self._state_given = False   # a constant: its gradient is dropped (TBPTT)
        self._carried = tuple(np.array(f, copy=True) for f in self._last_final)
        return result

    def reset_states(self):
        """Forget the carried state: the next `forward` of a stateful layer starts
        from zeros, with any batch size."""
        self._carried = None

    @property
    def states(self):
        """tuple of ndarray or None: the state a stateful layer carries into its
        next `forward`, ``(h,)`` or ``(h, c)``, each ``(num_layers*D, B, H)``
        (None: zeros)."""
        return self._carried

    def get_config(self):
        """The constructor's keyword arguments, JSON-serialisable.

        Returns
        -------
        dict
            ``hidden_size``, ``input_size``, ``num_layers``, ``bidirectional``,
            ``dropout``, ``return_sequences``, ``return_state``, ``dtype`` (its
            name), ``seed``, the cell's own (``reset_after``, ``nonlinearity``),
            ``stateful``, the regularisers' rates (``input_dropout``,
            ``recurrent_dropout``, ``zoneout``, ``cell_zoneout``, ``weight_dropout``),
            ``bias`` and the cell's options (``proj_size``, ``layer_norm``).
        """
        return {"hidden_size": self.hidden_size, "input_size": self.input_size,
                "num_layers": self.num_layers, "bidirectional": self.bidirectional,
                "dropout": self.dropout, "return_sequences": self.return_sequences,
                "return_state": self.return_state, **self._kernel_options(),
                **super().get_config(), "stateful": self.stateful,
                **{name: getattr(self, name) for name in self._REGULARISERS},
                "bias": self.bias, **self._cell_config()}

    def _cell_config(self):
        """The cell options' constructor keywords (``proj_size``, ``layer_norm``)."""
        return {}

    def __repr__(self):
        options = {**self._kernel_options(), **({} if self.bias else {"bias": False}),
                   **self._cell_config()}
        extra = "".join(f", {k}={v!r}" for k, v in options.items())
        extra += "".join(f", {k}={getattr(self, k)!r}" for k in self._REGULARISERS
                         if getattr(self, k))
        return (f"{type(self).__name__}({self.hidden_size}, input_size={self.input_size}, "
                f"num_layers={self.num_layers}, bidirectional={self.bidirectional}, "
                f"dropout={self.dropout}, return_sequences={self.return_sequences}, "
                f"return_state={self.return_state}, dtype={self.dtype.name}{extra}"
                + (", stateful=True)" if self.stateful else ")"))


class LSTM(RecurrentLayer):
    r"""Long short-term memory layer (gate order i, f, g, o).

    The state is ``[h, c]``. The forget-gate part of ``bias_ih`` starts at 1, as
    Keras's ``unit_forget_bias``. The call is `forward` and its gradient
    `backward`.

    Parameters
    ----------
    hidden_size : int
        Number of hidden units ``H``.
    proj_size : int, default 0
        ``P > 0``: project ``h`` to ``P`` features, exactly PyTorch's ``proj_size``
        (LSTMP, Sak et al. 2014; see the Notes): the output is ``(B, T, D*P)``,
        ``h`` ``(num_layers*D, B, P)``, ``c`` stays ``(num_layers*D, B, H)`` and
        layer ``k > 0`` takes ``D*P`` inputs. 0: no projection.
    layer_norm : bool, default False
        Layer-normalise the input and the recurrent pre-activations and the cell
        (Ba et al. 2016, haste's ``LayerNormLSTM`` variant; see the Notes), inside
        the kernel (:mod:`seqnet.kernels.lstm_ln`). Not with ``proj_size``.
    **kwargs
        ``input_size``, ``num_layers``, ``bidirectional``, ``dropout``,
        ``return_sequences``, ``return_state``, ``dtype``, ``seed``, ``stateful``,
        ``input_dropout``, ``recurrent_dropout``, ``zoneout``, ``cell_zoneout``
        (zoneout of the cell state ``c``, with masks of its own),
        ``weight_dropout`` and ``bias`` (``False``: no ``bias_ih``, ``bias_hh`` at
        all, as PyTorch's ``bias=False``), as for `RecurrentLayer`.
        ``recurrent_dropout`` and the zoneouts run in the plain cell's kernel:
        not with ``proj_size`` or ``layer_norm``.

    Attributes
    ----------
    params, grads : dict of str to ndarray
        ``weight_ih_l{k}`` ``(4H, I)`` (``(4H, D*H)`` for ``k > 0``),
        ``weight_hh_l{k}`` ``(4H, H)``, ``bias_ih_l{k}`` and ``bias_hh_l{k}``
        ``(4H,)``, gate blocks in the order i, f, g, o; see `RecurrentLayer`. With
        ``proj_size = P``: ``weight_hh_l{k}`` is ``(4H, P)``, layer ``k > 0``'s
        ``weight_ih_l{k}`` ``(4H, D*P)``, and ``weight_hr_l{k}`` ``(P, H)`` is
        added (PyTorch's names and layouts: a state dict moves across unchanged).
        With ``layer_norm``: ``layer_norm_ih_weight_l{k}`` and
        ``layer_norm_hh_weight_l{k}`` ``(4H,)`` (the gains $\gamma_{ih}$,
        $\gamma_{hh}$, starting at 1), ``layer_norm_c_weight_l{k}`` and
        ``layer_norm_c_bias_l{k}`` ``(H,)`` ($\gamma_c$ from 1, $\beta_c$ from 0).

    Raises
    ------
    TypeError
        An argument of the wrong type, as for `RecurrentLayer`; ``proj_size`` not
        an int, ``layer_norm`` not a bool.
    ValueError
        A bad value, as for `RecurrentLayer`; ``proj_size`` neither 0 nor in
        ``[1, hidden_size)``; ``layer_norm=True`` with ``proj_size > 0``.

    Notes
    -----
    For a valid step $t$ of one row ($t < \text{lengths}[b]$), with $\sigma$ the
    logistic function and $\odot$ the element-wise product:

    $$
    \begin{aligned}
    a_t &= W_{ih}\, x_t + W_{hh}\, h_{t-1} + b, \qquad b = b_{ih} + b_{hh},
      \qquad a_t = \big[a^{(i)}_t;\ a^{(f)}_t;\ a^{(g)}_t;\ a^{(o)}_t\big] \in \mathbb{R}^{4H},\\
    i_t &= \sigma(a^{(i)}_t), \quad f_t = \sigma(a^{(f)}_t), \quad
      g_t = \tanh(a^{(g)}_t), \quad o_t = \sigma(a^{(o)}_t),\\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t,\\
    h_t &= o_t \odot \tanh(c_t), \qquad y_t = h_t .
    \end{aligned}
    $$

    $W_{ih} \in \mathbb{R}^{4H \times I}$ is ``weight_ih``, $W_{hh} \in
    \mathbb{R}^{4H \times H}$ ``weight_hh``, $b_{ih}$ and $b_{hh}$ ``bias_ih`` and
    ``bias_hh``; $y_t$ is the output. At a masked step ($t \ge \text{lengths}[b]$)
    $h_t = h_{t-1}$, $c_t = c_{t-1}$ and $y_t = 0$. The reverse direction runs
    $t = T-1, \dots, 0$, so there $h_{t-1}$ is the state entering step $t$. The
    backward pass is derived on the [LSTM page](derivations/lstm.md).

    With zoneout (Krueger et al. 2017: ``zoneout`` $p_h$, ``cell_zoneout``
    $p_c$), the step's $c_t$ and $h_t$ above become candidates $\tilde c_t$ and
    $\tilde h_t = o_t \odot \tanh(\tilde c_t)$, and with independent per-step,
    per-unit masks $d^c_t, d^h_t$ (1 with probability $p_c$, $p_h$ in training;
    $p_c$, $p_h$ at inference)

    $$
    c_t = d^c_t \odot c_{t-1} + (1 - d^c_t) \odot \tilde c_t, \qquad
    h_t = d^h_t \odot h_{t-1} + (1 - d^h_t) \odot \tilde h_t, \qquad y_t = h_t .
    $$

    Recurrent dropout replaces $W_{hh}\, h_{t-1}$ by $W_{hh}\,(h_{t-1} \odot
    m)$ with one mask $m$ per row (see the
    [regularisation page](derivations/regularisation.md)).

    With ``proj_size`` $= P$ the last line becomes $h_t = W_{hr}\,\big(o_t \odot
    \tanh(c_t)\big) \in \mathbb{R}^P$, with $W_{hr} \in \mathbb{R}^{P \times H}$
    ``weight_hr`` (no bias), and $W_{hh} \in \mathbb{R}^{4H \times P}$; its kernel
    is :mod:`seqnet.kernels.lstmp`.

    With ``layer_norm=True`` (haste's ``LayerNormLSTM``), with
    $\mathrm{LN}(v) = (v - \mu_v) / \sqrt{\sigma_v^2 + \epsilon}$ over all
    entries of $v$ (no gain, no bias; $\epsilon = 10^{-5}$,
    ``seqnet.kernels._norm.LN_EPS``), the input and the recurrent
    pre-activations are normalised separately, the biases added after, and the
    cell is normalised before the output's tanh (it is carried as it is):

    $$
    \begin{aligned}
    a_t &= \gamma_{ih} \odot \mathrm{LN}(W_{ih}\, x_t)
      + \gamma_{hh} \odot \mathrm{LN}(W_{hh}\, h_{t-1}) + b_{ih} + b_{hh},\\
    h_t &= o_t \odot \tanh\big(\gamma_c \odot \mathrm{LN}(c_t) + \beta_c\big),
    \end{aligned}
    $$

    $i_t, f_t, g_t, o_t$ and $c_t$ as above. The backward pass is derived in the
    docstring of :mod:`seqnet.kernels.lstm_ln`.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> layer = seqnet.LSTM(8, return_state=True, seed=0)
    >>> out, h, c = layer.forward(np.ones((2, 5, 3), np.float32))
    >>> out.shape, h.shape, c.shape
    ((2, 5, 8), (1, 2, 8), (1, 2, 8))
    """

    GATES = _lstm.LSTM_GATES
    kernel = _lstm
    state_names = ("h", "c")

    def __init__(self, hidden_size, *, proj_size=0, layer_norm=False, **kwargs):
        super().__init__(hidden_size, **kwargs)
        if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral):
            raise TypeError(f"proj_size must be an int, got {proj_size!r}")
        if not 0 <= proj_size < self.hidden_size:
            raise ValueError(f"proj_size must be 0 (no projection) or between 1 and "
                             f"hidden_size - 1 = {self.hidden_size - 1}, got {proj_size}")
        self.proj_size = int(proj_size)
        self.layer_norm = _checks.flag(layer_norm, "layer_norm")
        if self.layer_norm and self.proj_size:
            raise ValueError("layer_norm=True with proj_size > 0 is not supported: "
                             "choose one of the two options")
        self._check_regularised_kernel()

    @property
    def state_sizes(self):
        """tuple of int: ``(P, H)`` with a projection (``proj_size = P``), else
        ``(H, H)``: the features of ``h`` and of ``c``."""
        return (self.proj_size or self.hidden_size, self.hidden_size)

    def _cell_kernel(self):
        if self.layer_norm:
            return _lstm_ln
        return _lstmp if self.proj_size else _lstm

    def _cell_param_shapes(self, k, sfx):
        H = self.hidden_size
        if self.layer_norm:
            return _layer_norm_shapes(sfx, 4 * H, H)
        if not self.proj_size:
            return {}
        return {"weight_hr" + sfx: (self.proj_size, H)}

    def _cell_config(self):
        return {"proj_size": self.proj_size, "layer_norm": self.layer_norm}

    def _init_biases(self, params):
        H = self.hidden_size
        for name, value in params.items():
            if name.startswith("bias_ih"):
                value[H:2 * H] = 1.0


class GRU(RecurrentLayer):
    r"""Gated recurrent unit layer (gate order r, z, n), both reset forms.

    ``reset_after=True`` is the cuDNN/PyTorch form and the default. Texts that write
    the update as $(1 - z)\, h_{t-1} + z\, n$ describe the same model with $z$
    replaced by $1 - z$: negate the update-gate weights and biases. The call is
    `forward` and its gradient `backward`.

    Parameters
    ----------
    hidden_size : int
        Number of hidden units ``H``.
    reset_after : bool, default True
        Apply the reset gate after the recurrent product (see the Notes).
    layer_norm : bool, default False
        Layer-normalise the input and the recurrent pre-activations (Ba et al.
        2016; see the Notes), inside the kernel (:mod:`seqnet.kernels.gru_ln`).
        Needs ``reset_after=True``.
    **kwargs
        ``input_size``, ``num_layers``, ``bidirectional``, ``dropout``,
        ``return_sequences``, ``return_state``, ``dtype``, ``seed``, ``stateful``,
        ``input_dropout``, ``recurrent_dropout``, ``zoneout``, ``weight_dropout``
        and ``bias``, as for `RecurrentLayer` (``cell_zoneout`` is the LSTM's: a
        non-zero one raises ValueError).

    Attributes
    ----------
    params, grads : dict of str to ndarray
        ``weight_ih_l{k}`` ``(3H, I)`` (``(3H, D*H)`` for ``k > 0``),
        ``weight_hh_l{k}`` ``(3H, H)``, ``bias_ih_l{k}`` and ``bias_hh_l{k}``
        ``(3H,)``, gate blocks in the order r, z, n; see `RecurrentLayer`. With
        ``layer_norm``: ``layer_norm_ih_weight_l{k}`` and
        ``layer_norm_hh_weight_l{k}`` ``(3H,)``, the gains, starting at 1.

    Raises
    ------
    TypeError
        ``reset_after`` or ``layer_norm`` is not a bool, or another bad argument
        (as for `RecurrentLayer`).
    ValueError
        A bad value, as for `RecurrentLayer`; ``layer_norm=True`` with
        ``reset_after=False``.

    Notes
    -----
    For a valid step $t$ of one row ($t < \text{lengths}[b]$), with $\sigma$ the
    logistic function and $\odot$ the element-wise product:

    $$
    \begin{aligned}
    a^x_t &= W_{ih}\, x_t + b_{ih} = \big[a^{xr}_t;\ a^{xz}_t;\ a^{xn}_t\big], \qquad
      W_{hh} = \big[W_{hr};\ W_{hz};\ W_{hn}\big],\\
    r_t &= \sigma\big(a^{xr}_t + W_{hr} h_{t-1} + b_{hr}\big), \qquad
    z_t = \sigma\big(a^{xz}_t + W_{hz} h_{t-1} + b_{hz}\big),\\
    n_t &= \tanh\big(a^{(n)}_t\big), \qquad
    h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}, \qquad y_t = h_t,
    \end{aligned}
    $$

    where the two forms differ only in the pre-activation $a^{(n)}_t$ of $n$.
    ``reset_after=True`` (cuDNN, PyTorch; the default) resets *after* the
    recurrent product:

    $$
    a^{(n)}_t = a^{xn}_t + r_t \odot m_t, \qquad m_t = W_{hn} h_{t-1} + b_{hn}.
    $$

    ``reset_after=False`` (the original form of Cho et al., 2014) resets *before*
    it:

    $$
    a^{(n)}_t = a^{xn}_t + W_{hn} u_t + b_{hn}, \qquad u_t = r_t \odot h_{t-1}.
    $$

    $W_{ih} \in \mathbb{R}^{3H \times I}$ is ``weight_ih``, $W_{hh} \in
    \mathbb{R}^{3H \times H}$ ``weight_hh``, $b_{ih}$ ``bias_ih`` and
    $b_{hh} = [b_{hr}; b_{hz}; b_{hn}]$ ``bias_hh``; $y_t$ is the output. At a
    masked step ($t \ge \text{lengths}[b]$) $h_t = h_{t-1}$ and $y_t = 0$. The
    reverse direction runs $t = T-1, \dots, 0$, so there $h_{t-1}$ is the state
    entering step $t$. The backward pass is derived on the
    [GRU page](derivations/gru.md).

    With ``layer_norm=True`` (reset_after form only), with $\mathrm{LN}$ the
    normalisation over all $3H$ entries ($\epsilon = 10^{-5}$, no gain, no bias),
    the input and the recurrent pre-activations are normalised separately, each
    with its gain, the biases added after; the reset gate multiplies the
    normalised recurrent candidate part:

    $$
    \begin{aligned}
    a^x_t &= \gamma_{ih} \odot \mathrm{LN}(W_{ih}\, x_t) + b_{ih}, \qquad
    m_t = \gamma_{hh} \odot \mathrm{LN}(W_{hh}\, h_{t-1}) + b_{hh}
      = \big[m^r_t;\ m^z_t;\ m^n_t\big],\\
    r_t &= \sigma(a^{xr}_t + m^r_t), \quad z_t = \sigma(a^{xz}_t + m^z_t), \quad
    n_t = \tanh(a^{xn}_t + r_t \odot m^n_t),
    \end{aligned}
    $$

    and $h_t$ as above. The backward pass is derived in the docstring of
    :mod:`seqnet.kernels.gru_ln`.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> layer = seqnet.GRU(4, reset_after=False, return_sequences=False, return_state=True,
    ...                    seed=0)
    >>> out, h = layer.forward(np.ones((3, 6, 2)))
    >>> out.shape, h.shape
    ((3, 4), (1, 3, 4))
    """

    GATES = _gru.GRU_GATES
    kernel = _gru

    def __init__(self, hidden_size, *, reset_after=True, layer_norm=False, **kwargs):
        self.reset_after = _checks.flag(reset_after, "reset_after")
        super().__init__(hidden_size, **kwargs)
        self.layer_norm = _checks.flag(layer_norm, "layer_norm")
        if self.layer_norm and not self.reset_after:
            raise ValueError("layer_norm=True needs reset_after=True: the layer-normalised "
                             "GRU has no reset_after=False form")
        self._check_regularised_kernel()

    def _kernel_options(self):
        return {"reset_after": self.reset_after}

    def _cell_kernel(self):
        return _gru_ln if self.layer_norm else _gru

    def _cell_param_shapes(self, k, sfx):
        return _layer_norm_shapes(sfx, 3 * self.hidden_size, 0) if self.layer_norm else {}

    def _cell_config(self):
        return {"layer_norm": self.layer_norm}


class SimpleRNN(RecurrentLayer):
    r"""Vanilla (Elman) recurrent layer, tanh or ReLU.

    The call is `forward` and its gradient `backward`.

    Parameters
    ----------
    hidden_size : int
        Number of hidden units ``H``.
    nonlinearity : {"tanh", "relu"}, default "tanh"
        The activation $\phi$.
    **kwargs
        ``input_size``, ``num_layers``, ``bidirectional``, ``dropout``,
        ``return_sequences``, ``return_state``, ``dtype``, ``seed``, ``stateful``,
        ``input_dropout``, ``recurrent_dropout``, ``zoneout``, ``weight_dropout``
        and ``bias``, as for `RecurrentLayer` (``cell_zoneout`` is the LSTM's: a
        non-zero one raises ValueError).

    Attributes
    ----------
    params, grads : dict of str to ndarray
        ``weight_ih_l{k}`` ``(H, I)`` (``(H, D*H)`` for ``k > 0``), ``weight_hh_l{k}``
        ``(H, H)``, ``bias_ih_l{k}`` and ``bias_hh_l{k}`` ``(H,)``; see
        `RecurrentLayer`.

    Raises
    ------
    ValueError
        ``nonlinearity`` is neither ``"tanh"`` nor ``"relu"``, or another bad
        value (as for `RecurrentLayer`).
    TypeError
        A bad argument type, as for `RecurrentLayer`.

    Notes
    -----
    For a valid step $t$ of one row ($t < \text{lengths}[b]$):

    $$
    \begin{aligned}
    a_t &= W_{ih}\, x_t + W_{hh}\, h_{t-1} + b, \qquad b = b_{ih} + b_{hh},\\
    h_t &= \phi(a_t), \qquad y_t = h_t,
    \end{aligned}
    $$

    with $\phi = \tanh$ (``nonlinearity="tanh"``) or $\phi(a) = \max(0, a)$
    (``nonlinearity="relu"``). $W_{ih} \in \mathbb{R}^{H \times I}$ is
    ``weight_ih``, $W_{hh} \in \mathbb{R}^{H \times H}$ ``weight_hh``, $b_{ih}$
    and $b_{hh}$ ``bias_ih`` and ``bias_hh``; $y_t$ is the output. At a masked
    step ($t \ge \text{lengths}[b]$) $h_t = h_{t-1}$ and $y_t = 0$. The reverse
    direction runs $t = T-1, \dots, 0$, so there $h_{t-1}$ is the state entering
    step $t$. The backward pass is derived on the
    [SimpleRNN page](derivations/rnn.md).

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> layer = seqnet.SimpleRNN(5, nonlinearity="relu", bidirectional=True, return_state=True,
    ...                          seed=0)
    >>> out, h = layer.forward(np.ones((2, 4, 3)))
    >>> out.shape, h.shape
    ((2, 4, 10), (2, 2, 5))
    """

    GATES = _rnn.RNN_GATES
    kernel = _rnn
    _out_is_cache = True

    def __init__(self, hidden_size, *, nonlinearity="tanh", **kwargs):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(hidden_size, **kwargs)

    def _kernel_options(self):
        return {"nonlinearity": self.nonlinearity}
