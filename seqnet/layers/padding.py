"""Keras's masks as seqnet's lengths: a row's valid steps from its trailing padding.

seqnet masks a batch with ``lengths`` (each row's valid steps come first, its
padding after them). Keras's boolean masks can say more (left padding, holes);
the layers that make a mask from the data, ``Embedding(mask_zero=True)`` and
``Masking``, turn it into lengths here, and refuse a mask that lengths cannot
say, naming the row and the step.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lengths_from_padding"]


def lengths_from_padding(is_pad, layer_name):
    """Each row's length from its trailing padding: the steps before the run of
    padding that ends the row.

    Parameters
    ----------
    is_pad : array_like of bool, shape (B, T)
        Whether each step of each row is padding (``x == 0`` for
        ``Embedding(mask_zero=True)``, a step whose every feature equals
        ``mask_value`` for ``Masking``).
    layer_name : str
        The layer whose mask this is, for the error messages.

    Returns
    -------
    ndarray of int64, shape (B,)
        ``lengths[b]``: one past row ``b``'s last valid step, in ``[1, T]``.

    Raises
    ------
    ValueError
        ``is_pad`` is not 2-D; or a row is padding only, or has a padded step
        before a valid one (left padding, or a hole): lengths cannot say that, and
        the message names the layer, the row and the step.

    Examples
    --------
    >>> import numpy as np
    >>> from seqnet.layers.padding import lengths_from_padding
    >>> tokens = np.array([[5, 2, 0, 0], [7, 1, 3, 9]])
    >>> lengths_from_padding(tokens == 0, "Embedding").tolist()
    [2, 4]
    >>> lengths_from_padding(np.array([[False, True, False]]), "Masking")
    Traceback (most recent call last):
    ...
    ValueError: Masking: row 0 is padding at step 1 but has a valid step after it (step 2): \
a hole; padding must be trailing (seqnet's lengths), so move the valid steps of each row \
to its start
    """
    pad = np.asarray(is_pad, dtype=bool)
    if pad.ndim != 2:
        raise ValueError(f"{layer_name}: the padding of a batch must be 2-D (batch, time), "
                         f"got shape {pad.shape}")
    B, T = pad.shape
    valid = ~pad
    has_valid = valid.any(axis=1)
    if not has_valid.all():
        row = int(np.argmin(has_valid))
        raise ValueError(f"{layer_name}: row {row} is padding from step 0 to its last step "
                         f"{T - 1}: it has no valid step, and every row needs one")
    # one past the last valid step: T minus the trailing run of padding.
    lengths = (T - np.argmax(valid[:, ::-1], axis=1)).astype(np.int64)
    holes = pad & (np.arange(T) < lengths[:, None])
    if holes.any():
        row, step = (int(i) for i in np.argwhere(holes)[0])
        after = int(np.argmax(valid[row, step:])) + step
        kind = "left padding" if step == 0 else "a hole"
        raise ValueError(f"{layer_name}: row {row} is padding at step {step} but has a valid "
                         f"step after it (step {after}): {kind}; padding must be trailing "
                         "(seqnet's lengths), so move the valid steps of each row to its start")
    return lengths
