r"""Attention layers: Attention (Luong, dot product) and AdditiveAttention (Bahdanau).

Both follow Keras 3 (``keras.layers.Attention`` and ``AdditiveAttention``): called
on ``[query, value]`` or ``[query, value, key]`` (the key defaults to the value),
batch first, ``query (B, Tq, d)``, ``value (B, Tv, dv)``, ``key (B, Tv, d)``. For
each query step the layer scores every key, takes the softmax over the keys and
returns that mixture of the values, ``(B, Tq, dv)``:

$$
s_{ij} = \mathrm{score}(q_i, k_j), \qquad
w_{ij} = \frac{\exp s_{ij}}{\sum_{j'} \exp s_{ij'}}, \qquad
o_i = \sum_j w_{ij}\, v_j .
$$

Masks are ``lengths=[q_len, v_len]`` (or ``[q_len, v_len, k_len]``), each None or
``(B,)``: a key past its row's length takes no part in the softmax, and the output
is zero at a query step past its length (Keras's ``[query_mask, value_mask]``). The
call option ``use_causal_mask=True`` also hides the keys after each query step (a
decoder's self-attention), and ``return_attention_scores=True`` returns the weights
$w$ too. Training with ``dropout > 0`` drops attention weights (inverted dropout,
seeded through the layer's ``rng``), as Keras does.

The backward pass is the softmax's: with $\bar w = \partial L / \partial w$ (from
the output, $\bar w_{ij} = \bar o_i \cdot v_j$, plus the scores' own gradient),
$\bar s_{ij} = w_{ij} (\bar w_{ij} - \sum_{j'} w_{ij'} \bar w_{ij'})$, then each
score function's own derivative; $\bar v_j = \sum_i w_{ij}\, \bar o_i$.
"""

from __future__ import annotations

import numpy as np

from .. import _checks
from .._config import DEFAULT_DTYPE
from ._inputs import float_inputs, lengths_list, min_lengths, padding_mask, shapes_list, zero_where
from .base import Layer

_ROLES = ("query", "value", "key")


class _BaseAttention(Layer):
    """What Attention and AdditiveAttention share: inputs, masks, the softmax, the
    dropout and the backward through them; a subclass gives the score function
    (``_scores`` and ``_scores_backward``) and its parameters."""

    multi_input = True
    takes_lengths = True
    #: the output at a query step reads every key: it cannot run step by step.
    causal = False

    def __init__(self, use_scale, dropout, *, dtype, seed):
        super().__init__(dtype=dtype, seed=seed)
        self.use_scale = _checks.flag(use_scale, "use_scale")
        self.dropout = _checks.real(dropout, "dropout", 0.0, 1.0, high_open=True)

    def _input_dtype(self):
        """The dtype the inputs are cast to: the layer's with weights; None (each
        input's own, which they must share) without."""
        return self.dtype if self.has_weights else None

    # ------------------------------------------------------------------ structure
    def outputs_for(self, options):
        """The number of arrays `forward` returns for the call's ``options``.

        Parameters
        ----------
        options : dict
            The call's keyword options.

        Returns
        -------
        int
            2 (``[out, scores]``) with ``return_attention_scores=True``, else 1.
        """
        return 2 if options.get("return_attention_scores", False) else 1

    def _extra_names(self):
        return ("scores",)

    def output_lengths(self, x, lengths):
        """The valid steps of each row of the output: the query's (Keras's
        ``compute_mask`` gives the query mask).

        Parameters
        ----------
        x : list of ndarray
            ``[query, value]`` or ``[query, value, key]``.
        lengths : list or None
            One entry per input, each None or ``(B,)`` ints; None: no padding.

        Returns
        -------
        ndarray of int, shape (B,), or None
            The query's lengths.
        """
        xs = float_inputs(x, type(self).__name__, low=2, high=3)
        return lengths_list(lengths, xs, type(self).__name__)[0]

    def _check_shapes(self, shapes, batch=None):
        """Check sample shapes ``(T, d)`` of ``[query, value(, key)]``; ValueError
        naming the layer and the shapes."""
        name = type(self).__name__
        shapes = [tuple(s) for s in shapes]
        shown = shapes if batch is None else [(b, *s) for b, s in
                                              zip(batch, shapes, strict=True)]
        if any(len(s) != 2 for s in shapes):
            raise ValueError(f"{name}: query, value and key must each be (batch, time, "
                             f"features), got shapes {shown}")
        if batch is not None and len(set(batch)) > 1:
            raise ValueError(f"{name}: the inputs' batch sizes differ, got shapes {shown}")
        q, v = shapes[0], shapes[1]
        k = shapes[2] if len(shapes) > 2 else v
        if None not in (v[0], k[0]) and v[0] != k[0]:
            raise ValueError(f"{name}: value and key must have the same number of steps, "
                             f"got shapes {shown}")
        if None not in (q[1], k[1]) and q[1] != k[1]:
            raise ValueError(f"{name}: the query's features ({q[1]}) must equal the "
                             f"{'key' if len(shapes) > 2 else 'value (the key)'}'s "
                             f"({k[1]}), got shapes {shown}")
        self._check_dim(q[1], shown)
        return q, v

    def _check_dim(self, d, shown):
        """A subclass whose weights fix the query's features checks them here."""

    def output_shape(self, input_shape):
        """Shape of the output for inputs of the shapes given (no batch axis).

        Parameters
        ----------
        input_shape : list of tuple
            ``[(Tq, d), (Tv, dv)]`` or ``[(Tq, d), (Tv, dv), (Tv, d)]``; ``None``
            for an unknown size.

        Returns
        -------
        tuple
            ``(Tq, dv)``; with ``return_attention_scores=True`` the scores are
            ``(Tq, Tv)``.

        Raises
        ------
        ValueError
            Not two or three shapes, a rank other than 2, or sizes that do not
            fit (the message names the layer and the shapes).
        """
        shapes = shapes_list(input_shape, type(self).__name__, 2, 3)
        q, v = self._check_shapes(shapes)
        return (q[0], v[1])

    def extra_shapes(self, input_shape, options):
        """The scores' shape ``(Tq, Tv)`` with ``return_attention_scores=True``.

        Parameters
        ----------
        input_shape : list of tuple
            As for `output_shape`.
        options : dict
            The call's options.

        Returns
        -------
        list of tuple
        """
        if not options.get("return_attention_scores", False):
            return []
        shapes = shapes_list(input_shape, type(self).__name__, 2, 3)
        q, v = self._check_shapes(shapes)
        return [(q[0], v[0])]

    def plan(self, input_shape):
        """Plan the parameters for inputs of the shapes given, without making them
        (see `seqnet.layers.Layer.plan`).

        Parameters
        ----------
        input_shape : list of tuple
            ``[(Tq, d), (Tv, dv)(, (Tv, d))]``.
        """
        shapes = shapes_list(input_shape, type(self).__name__, 2, 3)
        self._check_shapes(shapes)
        if not self.built:
            size = _checks.positive_int(shapes[0][-1], "query features")
            with self._lock:
                if not self.built:
                    self._set_input_size(size)
                    self._planned_input = size

    def build(self, input_shape):
        """Create the parameters for inputs of the shapes given (no batch axis).

        Parameters
        ----------
        input_shape : list of tuple
            ``[(Tq, d), (Tv, dv)(, (Tv, d))]``; the query's features ``d`` size
            AdditiveAttention's ``scale``.
        """
        shapes = shapes_list(input_shape, type(self).__name__, 2, 3)
        self._check_shapes(shapes)
        if not self.built:
            self._build(_checks.positive_int(shapes[0][-1], "query features"))

    # ------------------------------------------------------------------ the passes
    def call(self, x, initial_state, *, training, lengths=None, return_attention_scores=False,
             use_causal_mask=False):
        """Attend from each query step to the value (see the module docstring).

        Parameters
        ----------
        x : list of array_like
            ``[query, value]`` or ``[query, value, key]``: ``(B, Tq, d)``, ``(B,
            Tv, dv)``, ``(B, Tv, d)``, real floating point (cast to the layer's
            dtype when it has weights; otherwise of one dtype, computed in).
        initial_state : None
            The layer has no state.
        training : bool
            Keep what `backward` needs, and apply dropout to the weights.
        lengths : list, optional
            ``[q_len, v_len]`` or ``[q_len, v_len, k_len]``, each None or ``(B,)``
            ints. Keys past ``v_len`` (and past ``k_len``) are left out of the
            softmax; the output (and the scores) are zero at query steps past
            ``q_len``.
        return_attention_scores : bool, default False
            Also return the attention weights ``(B, Tq, Tv)`` (after the mask, the
            softmax and the dropout, as Keras's).
        use_causal_mask : bool, default False
            Hide the keys after each query step: query ``i`` sees keys ``j <= i``.

        Returns
        -------
        out : ndarray, shape (B, Tq, dv)
            The attention output.
        extras : tuple
            ``(scores,)`` with ``return_attention_scores=True``, else ``()``.

        Raises
        ------
        TypeError
            ``x`` is not a list of float arrays (of one dtype, for a layer without
            weights), ``lengths`` is not a list of integer arrays, or a flag is not
            a bool.
        ValueError
            Not two or three inputs, shapes that do not fit, or bad lengths.
        """
        name = type(self).__name__
        return_scores = _checks.flag(return_attention_scores, "return_attention_scores")
        causal = _checks.flag(use_causal_mask, "use_causal_mask")
        xs = float_inputs(x, name, low=2, high=3, dtype=self._input_dtype())
        for i, a in enumerate(xs):
            if a.ndim != 3 or 0 in a.shape:
                raise ValueError(f"{name}: the {_ROLES[i]} must be a non-empty (batch, "
                                 f"time, features) array, got shapes "
                                 f"{[b.shape for b in xs]}")
        self._check_shapes([a.shape[1:] for a in xs], batch=[a.shape[0] for a in xs])
        if self.has_weights and not self.built:
            self._build(xs[0].shape[-1])   # once, under the layer's lock
        lens = lengths_list(lengths, xs, name)
        key_given = len(xs) == 3
        q, v = xs[0], xs[1]
        Tq, Tv = q.shape[1], v.shape[1]
        key_len = min_lengths(lens[1:])
        qpad = padding_mask(lens[0], Tq, 3)
        # padding is replaced by zeros (NaN there must reach nothing), then masked
        q = zero_where(qpad, q)
        v = zero_where(padding_mask(lens[1], Tv, 3), v)
        k = zero_where(padding_mask(key_len, Tv, 3), xs[2]) if key_given else v
        s, ctx = self._scores(q, k)
        valid = None
        if key_len is not None and key_len.min() < Tv:
            valid = (np.arange(Tv) < key_len[:, None])[:, None, :]
        if causal:
            tri = np.tril(np.ones((Tq, Tv), dtype=bool))[None]
            valid = tri if valid is None else valid & tri
        if valid is not None:
            s = np.where(valid, s, s.dtype.type(-np.inf))
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        w = e / e.sum(axis=-1, keepdims=True)
        dmask = None
        if training and self.dropout > 0.0:
            keep = 1.0 - self.dropout
            dmask = (self.rng.random(w.shape) < keep).astype(w.dtype) / w.dtype.type(keep)
        wd = w if dmask is None else w * dmask
        out = zero_where(qpad, np.matmul(wd, v))
        self._cache = (dict(q=q, k=k, v=v, w=w, wd=wd, dmask=dmask, qpad=qpad, ctx=ctx,
                            key_given=key_given, out_shape=out.shape)
                       if training else None)
        return out, ((zero_where(qpad, wd),) if return_scores else ())

    def call_backward(self, dout, dstate):
        """The gradients of the query, the value and the key; fills ``grads``.

        Parameters
        ----------
        dout : array_like, shape (B, Tq, dv)
            Gradient of the output; read only at valid query steps.
        dstate : None or tuple
            ``(dscores,)`` after a call with ``return_attention_scores=True``: the
            gradient of the scores ``(B, Tq, Tv)``, or None (zero).

        Returns
        -------
        dx : list of ndarray
            ``[dquery, dvalue]``, or ``[dquery, dvalue, dkey]`` when the key was
            given; zero at padded steps.
        dinitial_state : tuple
            ``()``.

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` first, or a gradient of the wrong
            shape.
        TypeError
            A gradient that is not real floating point.
        """
        c = self._need_cache()
        q, k, v, w, wd, qpad = c["q"], c["k"], c["v"], c["w"], c["wd"], c["qpad"]
        dout = _checks.float_array(dout, "dout", q.dtype)
        _checks.shape_is(dout, c["out_shape"], "dout", " (the shape of the output)")
        dout = zero_where(qpad, dout)
        dwd = np.matmul(dout, v.transpose(0, 2, 1))
        dscores = dstate[0] if dstate else None
        if dscores is not None:
            dscores = _checks.float_array(dscores, "dscores", q.dtype)
            _checks.shape_is(dscores, w.shape, "dscores", " (the shape of the scores)")
            dwd += zero_where(qpad, dscores)
        dv = np.matmul(wd.transpose(0, 2, 1), dout)
        dw = dwd if c["dmask"] is None else dwd * c["dmask"]
        ds = w * (dw - (w * dw).sum(axis=-1, keepdims=True))
        dq, dk, grads = self._scores_backward(ds, c["ctx"], q, k)
        for name, g in grads.items():
            self.grads[name] = g
        return ([dq, dv, dk] if c["key_given"] else [dq, dv + dk]), ()


class Attention(_BaseAttention):
    r"""Dot-product attention, Luong style (Keras's ``Attention``).

    Called on ``[query, value]`` or ``[query, value, key]``; see
    :mod:`seqnet.layers.attention` for the masks and the call options
    (``lengths``, ``return_attention_scores``, ``use_causal_mask``).

    Parameters
    ----------
    use_scale : bool, default False
        Multiply the scores by a learned scalar ``scale`` (initially 1).
    score_mode : {"dot", "concat"}, default "dot"
        ``"dot"``: $s_{ij} = a\, q_i \cdot k_j$; ``"concat"``: $s_{ij} = c
        \sum_d \tanh(a (q_{id} + k_{jd}))$ with a learned scalar
        ``concat_score_weight`` $c$ (initially 1); $a$ is ``scale``, or 1
        without ``use_scale``.
    dropout : float in [0, 1), default 0.0
        Fraction of attention weights dropped in training.
    dtype : {np.float32, np.float64}, default np.float32
        Dtype of the parameters and the computation when the layer has any (with
        ``use_scale`` or ``score_mode="concat"``); otherwise the layer computes in
        its inputs' dtype.
    seed : int, optional
        Seeds the dropout masks.

    Attributes
    ----------
    params, grads : dict of str to ndarray
        ``scale`` (0-d) with ``use_scale``; ``concat_score_weight`` (0-d) with
        ``score_mode="concat"``; empty otherwise.

    Raises
    ------
    TypeError
        ``use_scale`` not a bool, ``dropout`` not a real number, or a bad ``dtype``
        or ``seed``.
    ValueError
        An unknown ``score_mode``, or ``dropout`` outside ``[0, 1)``.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> q, k = np.ones((2, 3, 4), np.float32), np.ones((2, 5, 4), np.float32)
    >>> v = np.ones((2, 5, 6), np.float32)
    >>> out, scores = seqnet.Attention().forward([q, v, k], return_attention_scores=True)
    >>> out.shape, scores.shape
    ((2, 3, 6), (2, 3, 5))
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, *, dtype=DEFAULT_DTYPE,
                 seed=None):
        super().__init__(use_scale, dropout, dtype=dtype, seed=seed)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"score_mode must be 'dot' or 'concat', got {score_mode!r}")
        self.score_mode = score_mode
        self.has_weights = self.use_scale or score_mode == "concat"
        # scalars only: their shapes do not depend on the input
        self._planned_input = 1 if self.has_weights else None

    def get_config(self):
        """The constructor's arguments, JSON-serialisable.

        Returns
        -------
        dict
            ``use_scale``, ``score_mode``, ``dropout``, ``dtype`` (its name) and
            ``seed``.
        """
        return {"use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, **super().get_config()}

    def _param_shapes(self, input_size):
        shapes = {}
        if self.use_scale:
            shapes["scale"] = ()
        if self.score_mode == "concat":
            shapes["concat_score_weight"] = ()
        return shapes

    def _initial_params(self, input_size):
        """Ones, as Keras's."""
        return {k: np.ones(s, self.dtype) for k, s in self._param_shapes(input_size).items()}

    def _scores(self, q, k):
        if self.score_mode == "dot":
            raw = np.matmul(q, k.transpose(0, 2, 1))
            return (raw * self.params["scale"] if self.use_scale else raw), raw
        u = q[:, :, None, :] + k[:, None, :, :]
        t = np.tanh(u * self.params["scale"] if self.use_scale else u)
        ts = t.sum(axis=-1)
        return self.params["concat_score_weight"] * ts, (u, t, ts)

    def _scores_backward(self, ds, ctx, q, k):
        grads = {}
        if self.score_mode == "dot":
            g = ds * self.params["scale"] if self.use_scale else ds
            if self.use_scale:
                grads["scale"] = np.asarray((ds * ctx).sum(), dtype=ds.dtype)
            return np.matmul(g, k), np.matmul(g.transpose(0, 2, 1), q), grads
        u, t, ts = ctx
        cw = self.params["concat_score_weight"]
        grads["concat_score_weight"] = np.asarray((ds * ts).sum(), dtype=ds.dtype)
        du = (ds * cw)[..., None] * (1.0 - t * t)
        if self.use_scale:
            grads["scale"] = np.asarray((du * u).sum(), dtype=ds.dtype)
            du = du * self.params["scale"]
        return du.sum(axis=2), du.sum(axis=1), grads


class AdditiveAttention(_BaseAttention):
    r"""Additive attention, Bahdanau style (Keras's ``AdditiveAttention``).

    $s_{ij} = \sum_d a_d \tanh(q_{id} + k_{jd})$, with a learned vector ``scale``
    $a$ (``use_scale=True``) or $a = 1$. Called on ``[query, value]`` or
    ``[query, value, key]``; see :mod:`seqnet.layers.attention` for the masks and
    the call options (``lengths``, ``return_attention_scores``,
    ``use_causal_mask``).

    Parameters
    ----------
    use_scale : bool, default True
        Learn the vector ``scale`` ``(d,)``, glorot-uniform as Keras's (uniform in
        $\pm\sqrt{3 / d}$).
    dropout : float in [0, 1), default 0.0
        Fraction of attention weights dropped in training.
    dim : int, optional
        The query's (and key's) features ``d``; inferred from the first call when
        ``None``.
    dtype : {np.float32, np.float64}, default np.float32
        Dtype of ``scale`` and the computation with ``use_scale``; otherwise the
        layer computes in its inputs' dtype.
    seed : int, optional
        Seeds the initialisation and the dropout masks.

    Attributes
    ----------
    params, grads : dict of str to ndarray
        ``scale`` ``(d,)`` with ``use_scale``; empty otherwise.

    Raises
    ------
    TypeError
        ``use_scale`` not a bool, ``dropout`` not a real number, ``dim`` not an
        integer, or a bad ``dtype`` or ``seed``.
    ValueError
        ``dropout`` outside ``[0, 1)`` or ``dim`` below 1.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> q, v = np.ones((2, 3, 4), np.float32), np.ones((2, 5, 4), np.float32)
    >>> layer = seqnet.AdditiveAttention(seed=0)
    >>> layer.forward([q, v]).shape, layer.params["scale"].shape
    ((2, 3, 4), (4,))
    """

    input_weight = "scale"

    def __init__(self, use_scale=True, dropout=0.0, *, dim=None, dtype=DEFAULT_DTYPE,
                 seed=None):
        super().__init__(use_scale, dropout, dtype=dtype, seed=seed)
        self.dim = None if dim is None else _checks.positive_int(dim, "dim")
        self.has_weights = self.use_scale
        self._planned_input = self.dim if self.use_scale else None

    def get_config(self):
        """The constructor's arguments, JSON-serialisable.

        Returns
        -------
        dict
            ``use_scale``, ``dropout``, ``dim``, ``dtype`` (its name) and ``seed``.
        """
        return {"use_scale": self.use_scale, "dropout": self.dropout, "dim": self.dim,
                **super().get_config()}

    def _set_input_size(self, input_size):
        self.dim = input_size

    def _input_size_of(self, state_dict):
        if "scale" not in state_dict:
            raise ValueError("state_dict is missing 'scale'")
        w = np.asarray(_checks.to_numpy(state_dict["scale"]))
        if w.ndim != 1:
            raise ValueError(f"state_dict['scale'] must be 1-D, got shape {w.shape}")
        return w.shape[0]

    def _check_dim(self, d, shown):
        if self.use_scale and self.dim is not None and d is not None and d != self.dim:
            raise ValueError(f"AdditiveAttention: the query has {d} features but the "
                             f"layer's scale is built for {self.dim}, got shapes {shown}")

    def _param_shapes(self, input_size):
        return {"scale": (input_size,)} if self.use_scale else {}

    def _initial_params(self, input_size):
        """Glorot-uniform ``scale``, as Keras's: fan-in = fan-out = ``d``."""
        limit = np.sqrt(6.0 / (2 * input_size))
        return {"scale": self._init_rng.uniform(-limit, limit, input_size).astype(self.dtype)}

    def _scores(self, q, k):
        t = np.tanh(q[:, :, None, :] + k[:, None, :, :])
        return (t @ self.params["scale"] if self.use_scale else t.sum(axis=-1)), t

    def _scores_backward(self, ds, t, q, k):
        grads = {}
        if self.use_scale:
            grads["scale"] = np.tensordot(ds, t, axes=([0, 1, 2], [0, 1, 2]))
            du = (ds[..., None] * self.params["scale"]) * (1.0 - t * t)
        else:
            du = ds[..., None] * (1.0 - t * t)
        return du.sum(axis=2), du.sum(axis=1), grads
