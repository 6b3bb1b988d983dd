"""What a regularised time loop takes: the recurrent-dropout mask and the zoneout
rates and seeds of one layer direction's call (plain Python, as `_buffers`).

The maths is on the page docs/derivations/regularisation.md; the kernels are each
cell's ``<cell>_reg_forward`` / ``<cell>_reg_backward``.
"""

from typing import NamedTuple

import numpy as np

from ._steps import zoneout_threshold


class Regularise(NamedTuple):
    """Recurrent dropout and zoneout for one call of a cell's kernel entry.

    Parameters
    ----------
    mask : ndarray (B, H) or None
        The recurrent-dropout mask, 0 or ``1 / (1 - p)`` (inverted scaling): the
        step's recurrent product takes ``h_{t-1} * mask``. None: no mask.
    rates : tuple of float
        Zoneout rates ``(h, c)`` (``c``: the LSTM's cell; 0 elsewhere).
    seeds : tuple of int
        64-bit seeds of the ``h`` and ``c`` zoneout masks.
    """

    mask: object
    rates: tuple
    seeds: tuple

    def kernel_args(self, B, H, dtype, training):
        """``(mask, seeds, thresholds, rates)`` as a compiled call takes them: the
        mask (ones when None, or at inference), ``np.uint64`` seeds and hash bounds
        and ``float64`` rates, two each."""
        if training and self.mask is not None:
            mask = np.ascontiguousarray(self.mask, dtype)
        else:
            mask = np.ones((B, H), dtype)
        rates = np.array(self.rates, np.float64)
        return (mask, np.array(self.seeds, np.uint64),
                np.array([zoneout_threshold(r) for r in self.rates], np.uint64), rates)
