r"""Layer wrappers: Bidirectional (Keras's name and calling convention).

``Bidirectional(LSTM(8))`` runs the wrapped recurrent layer over the sequence in both
directions and merges the two outputs. It holds one recurrent layer of the wrapped
class built with ``bidirectional=True`` (the fused layer: one call runs both
directions, lengths included, each row's valid part reversed for the backward
direction), so its parameters carry PyTorch's names (``weight_ih_l0``, ...,
``weight_ih_l0_reverse``, ...) and its outputs are Keras's:

- ``merge_mode`` ``"concat"`` ``[y_f, y_b]``, ``"sum"`` ``y_f + y_b``, ``"mul"``
  ``y_f * y_b``, ``"ave"`` ``(y_f + y_b) / 2``, or None: the two outputs,
  ``[y_f, y_b]``, as two arrays;
- ``return_sequences=False``: ``y_f`` is the forward direction's output at each
  row's last valid step and ``y_b`` the backward direction's after the whole
  (reversed) sequence, at step 0: both are the directions' final ``h``;
- ``return_state=True``: the final states follow, ``[out, forward_h, forward_c,
  backward_h, backward_c]`` for an LSTM (``[out, forward_h, backward_h]`` for a GRU
  or SimpleRNN; after both outputs for ``merge_mode=None``), and ``initial_state``
  takes the same list. Each state is ``(1, B, H)``, the layer contract's layout.
"""

from __future__ import annotations

import numpy as np

from .. import _checks
from .base import Layer
from .recurrent import RecurrentLayer

#: Keras's merge modes.
MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    r"""Run a recurrent layer in both directions and merge the outputs (Keras's
    ``Bidirectional``).

    Parameters
    ----------
    layer : LSTM, GRU or SimpleRNN, or its `seqnet.layers.serialize` dict
        The layer to wrap: one layer (``num_layers=1``), ``bidirectional=False``.
        Only its configuration is used (hidden size, ``return_sequences``,
        ``return_state``, the cell's options): the wrapper makes weights of its
        own, as Keras's does.
    merge_mode : {"concat", "sum", "mul", "ave", None}, default "concat"
        How the two directions' outputs combine; None returns both.
    dtype : {np.float32, np.float64}, optional
        The parameters' dtype; the wrapped layer's when None.
    seed : int, optional
        Seeds the initialisation; the wrapped layer's when None.

    Attributes
    ----------
    layer : RecurrentLayer
        A copy of the wrapped layer's configuration (its weights are not used).
    fused : RecurrentLayer
        The layer that runs: the wrapped class with ``bidirectional=True``. `params`
        and `grads` are its dicts (the same arrays).
    params, grads : dict of str to ndarray
        ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0`` and the
        same with ``_reverse`` for the backward direction (PyTorch's names and
        layouts; see `LSTM`, `GRU`, `SimpleRNN`).
    state_names : tuple of str
        ``("forward_h", "forward_c", "backward_h", "backward_c")`` for an LSTM,
        ``("forward_h", "backward_h")`` otherwise.

    Raises
    ------
    TypeError
        ``layer`` is not a seqnet recurrent layer, or a bad ``dtype`` or ``seed``.
    ValueError
        ``layer`` is stacked, already bidirectional or a projected LSTM
        (``proj_size``), or an unknown ``merge_mode``.

    Notes
    -----
    With $y^f_t$ and $y^b_t$ the two directions' outputs (each ``(B, T, H)``, or
    ``(B, H)`` without ``return_sequences``), the backward pass sends
    $\bar y^f = \bar o$, $\bar y^b = \bar o$ through a sum, $\bar o / 2$ through an
    average, $\bar y^f = \bar o \odot y^b$ and $\bar y^b = \bar o \odot y^f$
    through a product, and the two halves of $\bar o$ through a concatenation, into
    the fused layer's own backward pass.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> bi = seqnet.Bidirectional(seqnet.LSTM(4, return_state=True, seed=0))
    >>> out, fh, fc, bh, bc = bi.forward(np.ones((2, 5, 3), np.float32))
    >>> out.shape, fh.shape
    ((2, 5, 8), (1, 2, 4))
    >>> seqnet.Bidirectional(seqnet.GRU(4, seed=0), merge_mode="sum").forward(
    ...     np.ones((2, 5, 3), np.float32)).shape
    (2, 5, 4)
    """

    takes_lengths = True
    #: the backward direction reads the whole sequence: no step-by-step run.
    causal = False
    input_weight = "weight_ih_l0"

    def __init__(self, layer, merge_mode="concat", *, dtype=None, seed=None):
        if isinstance(layer, dict):
            from . import deserialize  # the package's registry (it imports this module)
            layer = deserialize(layer)
        if not isinstance(layer, RecurrentLayer):
            raise TypeError(f"layer must be a seqnet recurrent layer (LSTM, GRU or "
                            f"SimpleRNN), got {type(layer).__name__}")
        if layer.num_layers != 1:
            raise ValueError(f"layer must have num_layers=1 (Bidirectional wraps one "
                             f"layer), got num_layers={layer.num_layers}")
        if layer.bidirectional:
            raise ValueError("layer must have bidirectional=False: Bidirectional adds "
                             "the backward direction itself")
        if getattr(layer, "proj_size", 0):
            raise ValueError("Bidirectional does not take an LSTM with proj_size: use "
                             "LSTM(..., proj_size=P, bidirectional=True)")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {MERGE_MODES}, got {merge_mode!r}")
        dtype = layer.dtype if dtype is None else _checks.float_dtype(dtype)
        seed = layer.seed if seed is None else seed
        super().__init__(dtype=dtype, seed=seed)
        config = {**layer.get_config(), "dtype": self.dtype.name, "seed": self.seed}
        self.layer = type(layer).from_config(config)
        self.fused = type(layer).from_config({**config, "bidirectional": True,
                                              "return_state": False})
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.state_names = tuple(f"{d}_{n}" for d in ("forward", "backward")
                                 for n in layer.state_names)
        self._planned_input = self.fused._planned_input

    # ------------------------------------------------------------------ structure
    @property
    def hidden_size(self):
        """int: the wrapped layer's hidden units ``H``."""
        return self.fused.hidden_size

    @property
    def input_size(self):
        """int or None: input features, once known."""
        return self.fused.input_size

    @property
    def num_outputs(self):
        """int: arrays that `forward` returns: the output (two with
        ``merge_mode=None``), then the four (LSTM) or two final states with
        ``return_state``."""
        return ((2 if self.merge_mode is None else 1)
                + (len(self.state_names) if self.return_state else 0))

    def _extra_names(self):
        first = ("output_backward",) if self.merge_mode is None else ()
        return first + (self.state_names if self.return_state else ())

    def _param_shapes(self, input_size):
        return self.fused._param_shapes(input_size)

    def _initial_params(self, input_size):
        return self.fused._initial_params(input_size)

    def _build(self, input_size, values=None):
        """Make the fused layer's parameters and share its dicts (once)."""
        with self._lock:
            if self._params:
                return
            self.fused._build(input_size, values)
            self._link()

    def _link(self):
        """Take the fused layer's dicts as this layer's (the same arrays)."""
        self.grads = self.fused.grads
        self._planned_input = None
        self._params = self.fused._params   # published last

    input_kinds = ("f", "i")

    def check_input(self, input_shape, dtype):
        """As the wrapped layer's: floats ``(time, features)``, indices ``(time,)``.

        Parameters
        ----------
        input_shape : tuple
        dtype : numpy.dtype
        """
        self.fused.check_input(input_shape, dtype)

    def plan(self, input_shape):
        """Plan the fused layer's parameters for ``input_shape`` without making them.

        Parameters
        ----------
        input_shape : tuple
            ``(T, I)``.
        """
        if not self.built:
            self.fused.plan(input_shape)
            self._planned_input = self.fused._planned_input

    def extra_shapes(self, input_shape, options):
        """The outputs after the first, batch-first as a graph sees them: the
        backward direction's output with ``merge_mode=None``, then each final state
        ``(H,)`` with ``return_state``.

        Parameters
        ----------
        input_shape : tuple
        options : dict

        Returns
        -------
        list of tuple
        """
        first = [self.output_shape(input_shape)] if self.merge_mode is None else []
        states = [(self.hidden_size,)] * len(self.state_names) if self.return_state else []
        return first + states

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

    def output_shape(self, input_shape):
        """Shape of the (first) output for an input of ``input_shape`` (no batch
        axis).

        Parameters
        ----------
        input_shape : tuple
            ``(T, I)`` (``T`` may be None), or ``(T,)`` for index input to a layer
            whose ``input_size`` is known.

        Returns
        -------
        tuple
            ``(T, 2H)`` for ``"concat"``, ``(T, H)`` otherwise; without
            ``return_sequences`` ``(2H,)`` or ``(H,)``. Each final state is ``(1,
            H)`` per sample (``(1, B, H)`` with the batch).

        Raises
        ------
        ValueError
            A rank other than 2 (1 for index input), or a feature count other than
            the layer's ``input_size`` (the message names the layer and both
            shapes).
        """
        shape = tuple(input_shape)
        name = f"Bidirectional({type(self.layer).__name__})"
        known = self.input_size if self.input_size is not None else self._planned_input
        if len(shape) == 1 and known is not None:
            pass   # index input
        elif len(shape) != 2:
            want = f"(time, {known})" if known is not None else "(time, features)"
            raise ValueError(f"{name} expects inputs of shape {want} per sample, got "
                             f"shape {shape}")
        elif known is not None and shape[1] is not None and shape[1] != known:
            raise ValueError(f"{name} expects inputs of shape (time, {known}) per "
                             f"sample, got shape {shape}")
        H = self.hidden_size
        features = 2 * H if self.merge_mode == "concat" else H
        return (shape[0], features) if self.return_sequences else (features,)

    # ------------------------------------------------------------------- configs
    def get_config(self):
        """The constructor's arguments, JSON-serialisable.

        Returns
        -------
        dict
            ``layer`` (`seqnet.layers.serialize` of the wrapped layer, with the
            input size once known), ``merge_mode``, ``dtype`` (its name) and
            ``seed``.
        """
        from . import serialize  # the package's registry (it imports this module)
        spec = serialize(self.layer)
        spec["config"]["input_size"] = self.input_size if self.input_size is not None \
            else self._planned_input
        return {"layer": spec, "merge_mode": self.merge_mode, **super().get_config()}

    # ------------------------------------------------------------------ the passes
    def _inner_state(self, state, x):
        """A ``[forward_h, (forward_c,) backward_h, (backward_c)]`` list, each ``(1,
        B, H)`` or None, as the fused layer's ``(h, c)``, each ``(2, B, H)``."""
        if state is None:
            return None
        n = len(self.fused.state_names)
        parts = tuple(state)
        if len(parts) != 2 * n:
            raise TypeError(f"initial_state must be a list {list(self.state_names)} of "
                            f"arrays of shape (1, batch, {self.hidden_size}), got "
                            f"{len(parts)} entries")
        if all(p is None for p in parts):
            return None
        shape = (1, np.shape(_checks.to_numpy(x))[0], self.hidden_size)
        arrays = []
        for i, (p, name) in enumerate(zip(parts, self.state_names, strict=True)):
            if p is None:
                arrays.append(np.zeros(shape, self.dtype))
                continue
            label = f"initial_state[{i}] ({name})"
            arr = _checks.float_array(p, label, self.dtype)
            _checks.shape_is(arr, shape, label, " (1, batch, hidden_size)")
            arrays.append(arr)
        return tuple(np.concatenate([arrays[m], arrays[n + m]], axis=0) for m in range(n))

    def _outer_state(self, inner):
        """The fused layer's ``(h, c)`` (``(2, B, H)`` each) as ``(forward_h,
        forward_c, backward_h, backward_c)``, each ``(1, B, H)``."""
        return tuple(np.ascontiguousarray(s[d:d + 1]) for d in range(2) for s in inner)

    def call(self, x, initial_state, *, training, lengths=None):
        """Both directions in one call of the fused layer, then the merge.

        Parameters
        ----------
        x : array_like, shape (B, T, I) or (B, T)
            The input, as the wrapped layer takes it (floats, or integer indices
            when ``input_size`` is known).
        initial_state : None or sequence of array_like
            ``[forward_h, forward_c, backward_h, backward_c]`` (LSTM) or
            ``[forward_h, backward_h]``, each ``(1, B, H)`` or None (zeros).
        training : bool
            Keep what `backward` needs.
        lengths : array_like of int, shape (B,), optional
            Valid steps per row; the backward direction runs over each row's valid
            steps, last first. Past its length a row's output is zero.

        Returns
        -------
        out : ndarray
            The merged output ``(B, T, 2H)`` (``"concat"``) or ``(B, T, H)``; ``(B,
            2H)`` or ``(B, H)`` without ``return_sequences``; the forward
            direction's for ``merge_mode=None``.
        extras : tuple of ndarray
            ``merge_mode=None``: the backward direction's output, then the final
            states with ``return_state``; otherwise the final states (the four or
            two of `state_names`, each ``(1, B, H)``).

        Raises
        ------
        TypeError
            A bad input, lengths or ``initial_state`` structure (see the wrapped
            layer's ``call``).
        ValueError
            An input, lengths or state of the wrong shape.
        """
        inner_state = self._inner_state(initial_state, x)
        out, finals = self.fused.call(x, inner_state, training=training, lengths=lengths)
        if not self._params:
            with self._lock:
                if not self._params:
                    self._link()   # the fused layer was built by its first call
        H = self.hidden_size
        y, y_rev = out[..., :H], out[..., H:]
        mode = self.merge_mode
        if mode == "concat":
            merged = out
        elif mode == "sum":
            merged = y + y_rev
        elif mode == "ave":
            merged = (y + y_rev) / 2
        elif mode == "mul":
            merged = y * y_rev
        else:
            merged = np.ascontiguousarray(y)
        states = self._outer_state(finals)
        self._cache = (dict(out_shape=out.shape, y=y, y_rev=y_rev, B=out.shape[0])
                       if training else None)
        if mode is None:
            return merged, (np.ascontiguousarray(y_rev),
                            *(states if self.return_state else ()))
        return merged, states

    def call_backward(self, dout, dstate):
        """The gradients of the input and the initial state; fills ``grads``.

        Parameters
        ----------
        dout : array_like
            The gradient of the (first) output.
        dstate : None or tuple
            The gradients of the outputs after the first (each an array or None,
            zero): the backward direction's output for ``merge_mode=None``, then
            the final states'.

        Returns
        -------
        dx : ndarray or None
            The gradient of ``x`` (None for integer input).
        dinitial_state : tuple of ndarray
            One ``(1, B, H)`` array per name in `state_names`.

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` first, or a gradient of the wrong
            shape.
        TypeError
            A gradient that is not real floating point.
        """
        c = self._need_cache()
        H, mode, B = self.hidden_size, self.merge_mode, c["B"]
        half = c["y"].shape
        dstate = list(dstate) if dstate is not None else []
        dy_rev = dstate.pop(0) if mode is None and dstate else None
        first = half if mode != "concat" else c["out_shape"]
        dout = _checks.float_array(dout, "dout", self.dtype)
        _checks.shape_is(dout, first, "dout", " (the shape of the output)")
        if mode == "concat":
            d_inner = dout
        else:
            d_inner = np.empty(c["out_shape"], self.dtype)
            if mode == "sum":
                d_inner[..., :H] = dout
                d_inner[..., H:] = dout
            elif mode == "ave":
                d_inner[..., :H] = dout / 2
                d_inner[..., H:] = dout / 2
            elif mode == "mul":
                d_inner[..., :H] = dout * c["y_rev"]
                d_inner[..., H:] = dout * c["y"]
            else:
                d_inner[..., :H] = dout
                if dy_rev is None:
                    d_inner[..., H:] = 0
                else:
                    dy_rev = _checks.float_array(dy_rev, "doutput_backward", self.dtype)
                    _checks.shape_is(dy_rev, half, "doutput_backward",
                                     " (the shape of the output)")
                    d_inner[..., H:] = dy_rev
        d_final = None
        if any(d is not None for d in dstate):
            n = len(self.fused.state_names)
            if len(dstate) != 2 * n:
                raise TypeError(f"the final states' gradients must be "
                                f"{['d' + s for s in self.state_names]}, got {len(dstate)} "
                                "entries")
            shape = (1, B, H)
            parts = []
            for d, name in zip(dstate, self.state_names, strict=True):
                if d is None:
                    parts.append(np.zeros(shape, self.dtype))
                    continue
                arr = _checks.float_array(d, "d" + name, self.dtype)
                _checks.shape_is(arr, shape, "d" + name, " (1, batch, hidden_size)")
                parts.append(arr)
            d_final = tuple(np.concatenate([parts[m], parts[n + m]], axis=0)
                            for m in range(n))
        self._cache = None
        dx, dinit = self.fused.call_backward(d_inner, d_final)
        return dx, self._outer_state(dinit)
