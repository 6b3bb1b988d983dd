"""A hash of an array's bits, to tell whether an input was modified in place.

The layers keep a reference to the caller's input (and the SimpleRNN its output,
which is its cache) for the backward pass; :func:`checksum`, taken at the forward
and again at the backward, tells whether it changed in between.
"""

import numpy as np
from numba import config, njit

from ._config import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _mixed_bit_sum(bits):
    """``sum_i mix(bits[i] ^ (i * K))`` modulo 2**64, ``mix`` the murmur3 finaliser.

    Each entry is mixed with its position before the sum, so structured changes
    (negating every entry, doubling it, swapping two entries) cannot cancel the
    way they would in a linear sum: a change goes unseen with probability ~2**-64.
    The terms are independent, so the loop vectorises.
    """
    total = np.uint64(0)
    k = np.uint64(0x9E3779B97F4A7C15)
    c1 = np.uint64(0xFF51AFD7ED558CCD)
    c2 = np.uint64(0xC4CEB9FE1A85EC53)
    s33 = np.uint64(33)
    for i in range(bits.size):
        z = np.uint64(bits[i]) ^ (np.uint64(i) * k)
        z ^= z >> s33
        z *= c1
        z ^= z >> s33
        z *= c2
        z ^= z >> s33
        total += z
    return total


def checksum(a):
    """A hash of a C-contiguous array's bits: each entry mixed with its position.

    The layers keep a reference to the caller's input for the backward pass; this
    hash, taken at the forward and again at the backward, tells whether the input
    was modified in place in between (any change, including ``x *= -1``, ``x *= 2``
    or a swap of two different entries, with probability ~1 - 2**-64).

    Parameters
    ----------
    a : ndarray
        C-contiguous, of a 4- or 8-byte dtype (float32, float64, int64, ...).

    Returns
    -------
    int
    """
    bits = a.reshape(-1).view(np.uint64 if a.itemsize == 8 else np.uint32)
    if config.DISABLE_JIT:  # pragma: no cover - NumPy scalars warn as they wrap
        with np.errstate(over="ignore"):
            return int(_mixed_bit_sum(bits))
    return int(_mixed_bit_sum(bits))
