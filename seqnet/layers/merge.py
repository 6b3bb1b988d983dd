"""Layers that merge several inputs into one: Concatenate and Add (Keras's names).

Both take a list of at least two arrays, batch first, and have no weights: they
compute in their inputs' dtype, which the inputs must share. Masks follow Keras 3's,
as ``lengths`` (one entry per input, each None or ``(B,)``): Keras 3 ORs the inputs'
masks (``any``; an input without a mask is valid everywhere), so the output's
lengths are the elementwise maximum of the inputs', or None when one input has
none. A step where one input is valid and another padded is valid: the padded
input counts there as zeros. So padding never reaches an output or a gradient,
even when it holds NaN or infinities (Keras would add whatever the padding holds).
"""

from __future__ import annotations

import numpy as np

from .. import _checks
from .._config import DEFAULT_DTYPE
from ._inputs import (
    float_inputs,
    lengths_list,
    padding_mask,
    same_size,
    shapes_list,
    zero_where,
)
from .base import Layer


def _or_lengths(lengths):
    """Keras 3's OR of trailing-padding masks as lengths: the elementwise maximum,
    or None when an entry is None (that input is valid everywhere)."""
    if any(ln is None for ln in lengths):
        return None
    return np.maximum.reduce(lengths)


class _Merge(Layer):
    """The machinery that Concatenate and Add share: a list of inputs, no weights,
    lengths combined as Keras 3 combines masks, each input's padding read as
    zeros."""

    multi_input = True
    has_weights = False
    takes_lengths = True

    def _lengths_out(self, xs, lengths):
        """The output's lengths from the checked inputs and their lengths: the
        elementwise maximum (Keras 3 ORs the masks), None if an input has none."""
        return _or_lengths(lengths)

    def output_lengths(self, x, lengths):
        """The valid steps of each row of the output (Keras's ``compute_mask``).

        Parameters
        ----------
        x : list of ndarray
            The inputs.
        lengths : list or None
            One entry per input, each None or ``(B,)`` ints; None: no padding.

        Returns
        -------
        ndarray of int, shape (B,), or None
            The elementwise maximum of the inputs' lengths (Keras 3 ORs the
            masks); None when an input has none (it is valid everywhere). Along
            the time axis, Concatenate joins the masks instead.
        """
        xs = float_inputs(x, type(self).__name__, low=2)
        return self._lengths_out(xs, lengths_list(lengths, xs, type(self).__name__))

    def _prepare(self, x, lengths):
        """The checked inputs, their padding replaced by zeros, and each one's
        padding mask (None: unpadded)."""
        name = type(self).__name__
        xs = float_inputs(x, name, low=2)
        self._check_shapes([a.shape[1:] for a in xs], batch=[a.shape[0] for a in xs])
        lens = lengths_list(lengths, xs, name)
        self._lengths_out(xs, lens)   # refuses a mask it cannot express
        pads = [None if ln is None else padding_mask(ln, a.shape[1], a.ndim)
                for ln, a in zip(lens, xs, strict=True)]
        return [zero_where(p, a) for p, a in zip(pads, xs, strict=True)], pads

    def _check_dout(self, dout):
        shape, dtype = self._need_cache()[:2]
        dout = _checks.float_array(dout, "dout", dtype)
        _checks.shape_is(dout, shape, "dout", " (the shape of the output)")
        return dout


class Concatenate(_Merge):
    """Concatenate a list of arrays along one axis (Keras's ``Concatenate``).

    Parameters
    ----------
    axis : int, default -1
        The axis of the batch-first arrays to join along, as in Keras: ``-1`` the
        features, ``1`` the time axis of ``(B, T, F)`` inputs. Not 0 (the batch).
    dtype : {np.float32, np.float64}, default np.float32
        Kept for the layer contract: the layer has no weights and computes in its
        inputs' dtype.
    seed : int, optional
        Kept for the layer contract.

    Raises
    ------
    TypeError
        ``axis`` is not an integer.
    ValueError
        ``axis`` is 0.

    Notes
    -----
    Lengths (masks): along the features the output's lengths are the elementwise
    maximum of the inputs' (Keras 3 ORs the masks; None when an input has none), an
    input's padding reading as zeros. Along the time axis the masks are joined end
    to end, which stays trailing padding only when every input but the last is
    unpadded; otherwise the call refuses (a hole in the mask).

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> a, b = np.ones((2, 5, 3), np.float32), np.zeros((2, 5, 4), np.float32)
    >>> seqnet.Concatenate().forward([a, b]).shape
    (2, 5, 7)
    >>> seqnet.Concatenate(axis=1).forward([a, a]).shape
    (2, 10, 3)
    """

    def __init__(self, axis=-1, *, dtype=DEFAULT_DTYPE, seed=None):
        super().__init__(dtype=dtype, seed=seed)
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"axis must be an integer, got {axis!r}")
        if axis == 0:
            raise ValueError("axis must not be 0, the batch axis: Concatenate joins "
                             "along a sample's axes (-1: the features, 1: the time)")
        self.axis = int(axis)

    @property
    def causal(self):
        """bool: whether each output step depends on that input step only: when
        joining the features (``axis=-1``)."""
        return self.axis == -1

    def get_config(self):
        """The constructor's arguments, JSON-serialisable.

        Returns
        -------
        dict
            ``axis``, ``dtype`` (its name) and ``seed``.
        """
        return {"axis": self.axis, **super().get_config()}

    def _sample_axis(self, rank, shapes):
        """The axis in a sample's shape (no batch axis) of rank ``rank``."""
        a = self.axis - 1 if self.axis > 0 else self.axis
        if not -rank <= a < rank:
            raise ValueError(f"Concatenate(axis={self.axis}) needs inputs of at least "
                             f"{abs(a) + (a >= 0) + 1} dimensions with the batch axis, "
                             f"got sample shapes {shapes}")
        return a % rank

    def _check_shapes(self, shapes, batch=None):
        shapes = [tuple(s) for s in shapes]
        shown = shapes if batch is None else [(b, *s) for b, s in
                                              zip(batch, shapes, strict=True)]
        if batch is not None and len(set(batch)) > 1:
            raise ValueError(f"Concatenate: the inputs' batch sizes differ, got shapes "
                             f"{shown}")
        if len({len(s) for s in shapes}) > 1:
            raise ValueError(f"Concatenate: the inputs must have one rank, got shapes "
                             f"{shown}")
        rank = len(shapes[0])
        if rank == 0:
            raise ValueError(f"Concatenate: the inputs need a feature axis, got shapes "
                             f"{shown}")
        a = self._sample_axis(rank, shown)
        for d in range(rank):
            if d != a and not all(same_size(s[d], shapes[0][d]) for s in shapes):
                raise ValueError(f"Concatenate(axis={self.axis}): the inputs' shapes must "
                                 f"agree except along the axis, got shapes {shown}")
        return a

    def output_shape(self, input_shape):
        """Shape of the output for inputs of the shapes given (no batch axis).

        Parameters
        ----------
        input_shape : list of tuple
            One shape per input (at least two), ``(T, F_i)`` or ``(F_i,)``; ``None``
            for an unknown size.

        Returns
        -------
        tuple
            The shape with the sizes along the axis summed (None if one is
            unknown).

        Raises
        ------
        ValueError
            Fewer than two shapes, ranks that differ, or sizes that differ off the
            axis (the message names the layer and the shapes).
        """
        shapes = shapes_list(input_shape, "Concatenate", 2)
        a = self._check_shapes(shapes)
        sizes = [s[a] for s in shapes]
        out = [next((s[d] for s in shapes if s[d] is not None), None)
               for d in range(len(shapes[0]))]
        out[a] = None if any(n is None for n in sizes) else int(sum(sizes))
        return tuple(out)

    def _lengths_out(self, xs, lengths):
        a = self.axis % xs[0].ndim
        if a != 1 or xs[0].ndim < 3:
            return _or_lengths(lengths)
        # along the time axis: the masks joined end to end
        if all(ln is None for ln in lengths):
            return None
        for i, (ln, x) in enumerate(zip(lengths[:-1], xs[:-1], strict=True)):
            if ln is not None and ln.min() < x.shape[1]:
                raise ValueError(f"Concatenate(axis=1): input {i} is padded (lengths[{i}] "
                                 f"below its {x.shape[1]} steps) and is not the last input: "
                                 "joined along the time axis its padding would be a hole "
                                 "in the middle of the mask")
        before = sum(x.shape[1] for x in xs[:-1])
        last = lengths[-1] if lengths[-1] is not None else np.full(xs[0].shape[0],
                                                                   xs[-1].shape[1])
        return np.asarray(before + last, dtype=np.int64)

    def call(self, x, initial_state, *, training, lengths=None):
        """Join the inputs along ``axis``, in their dtype.

        Parameters
        ----------
        x : list of array_like
            At least two float arrays of one dtype, batch first, the same shape but
            along ``axis``.
        initial_state : None
            The layer has no state.
        training : bool
            Keep what `backward` needs.
        lengths : list, optional
            One entry per input, each None or ``(B,)`` ints (see the Notes).

        Returns
        -------
        out : ndarray
            The joined array, each input's padding as zeros.
        final_state : tuple
            ``()``.

        Raises
        ------
        TypeError
            ``x`` is not a list of float arrays of one dtype, or ``lengths`` not a
            list of integer arrays.
        ValueError
            Fewer than two inputs, shapes that do not fit, bad lengths, or padding
            that would leave a hole when joining along time.
        """
        xs, pads = self._prepare(x, lengths)
        a = self.axis % xs[0].ndim
        out = np.concatenate(xs, axis=a)
        self._cache = ((out.shape, out.dtype, pads, a, [s.shape[a] for s in xs])
                       if training else None)
        return out, ()

    def call_backward(self, dout, dstate):
        """Split ``dout`` back into one gradient per input.

        Parameters
        ----------
        dout : array_like
            Gradient of the output, its shape.
        dstate : None
            The layer has no state.

        Returns
        -------
        dx : list of ndarray
            One gradient per input, its shape and dtype; zero at its padding.
        dinitial_state : tuple
            ``()``.

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` first, or ``dout`` of the wrong shape.
        TypeError
            ``dout`` is not real floating point.
        """
        dout = self._check_dout(dout)
        _, _, pads, a, sizes = self._cache
        # copies: the caller may add into them, and may hold dout
        return [zero_where(p, np.array(d, order="C")) for p, d in
                zip(pads, np.split(dout, np.cumsum(sizes)[:-1], axis=a), strict=True)], ()


class Add(_Merge):
    """Add a list of arrays of one shape elementwise (Keras's ``Add``).

    Parameters
    ----------
    dtype : {np.float32, np.float64}, default np.float32
        Kept for the layer contract: the layer has no weights and computes in its
        inputs' dtype.
    seed : int, optional
        Kept for the layer contract.

    Notes
    -----
    The output's lengths are the elementwise maximum of the inputs' (Keras 3 ORs the
    masks; None when an input has none); an input's padding reads as zeros.

    Examples
    --------
    >>> import numpy as np, seqnet
    >>> seqnet.Add().forward([np.ones((2, 3)), np.full((2, 3), 2.0)]).tolist()
    [[3.0, 3.0, 3.0], [3.0, 3.0, 3.0]]
    """

    def _check_shapes(self, shapes, batch=None):
        shapes = [tuple(s) for s in shapes]
        if batch is not None:
            shapes_b = [(b, *s) for b, s in zip(batch, shapes, strict=True)]
            if len(set(shapes_b)) > 1:
                raise ValueError(f"Add: the inputs must have one shape, got shapes "
                                 f"{shapes_b}")
        if (len({len(s) for s in shapes}) > 1
                or not all(same_size(s[d], t[d]) for s in shapes for t in shapes
                           for d in range(len(s)))):
            raise ValueError(f"Add: the inputs must have one shape, got shapes {shapes}")

    def output_shape(self, input_shape):
        """Shape of the output for inputs of the shapes given (no batch axis).

        Parameters
        ----------
        input_shape : list of tuple
            One shape per input (at least two), all equal; ``None`` for an unknown
            size.

        Returns
        -------
        tuple
            The common shape.

        Raises
        ------
        ValueError
            Fewer than two shapes, or shapes that differ (the message names the
            layer and the shapes).
        """
        shapes = shapes_list(input_shape, "Add", 2)
        self._check_shapes(shapes)
        return tuple(next((s[d] for s in shapes if s[d] is not None), None)
                     for d in range(len(shapes[0])))

    def call(self, x, initial_state, *, training, lengths=None):
        """The elementwise sum of the inputs, in their dtype.

        Parameters
        ----------
        x : list of array_like
            At least two float arrays of one shape and dtype, batch first.
        initial_state : None
            The layer has no state.
        training : bool
            Keep what `backward` needs.
        lengths : list, optional
            One entry per input, each None or ``(B,)`` ints.

        Returns
        -------
        out : ndarray
            The sum, each input's padding as zeros.
        final_state : tuple
            ``()``.

        Raises
        ------
        TypeError
            ``x`` is not a list of float arrays of one dtype, or ``lengths`` not a
            list of integer arrays.
        ValueError
            Fewer than two inputs, shapes that differ, or bad lengths.
        """
        xs, pads = self._prepare(x, lengths)
        out = xs[0] + xs[1]
        for a in xs[2:]:
            out += a
        self._cache = (out.shape, out.dtype, pads) if training else None
        return out, ()

    def call_backward(self, dout, dstate):
        """``dout`` for every input.

        Parameters
        ----------
        dout : array_like
            Gradient of the output, its shape.
        dstate : None
            The layer has no state.

        Returns
        -------
        dx : list of ndarray
            One gradient per input (separate arrays), the output's shape and dtype;
            zero at its padding.
        dinitial_state : tuple
            ``()``.

        Raises
        ------
        ValueError
            No ``forward(..., training=True)`` first, or ``dout`` of the wrong shape.
        TypeError
            ``dout`` is not real floating point.
        """
        dout = self._check_dout(dout)
        return [dout.copy() if p is None else zero_where(p, dout) for p in self._cache[2]], ()
