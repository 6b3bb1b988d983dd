"""A hash of an array's bits, to tell whether an input was modified in place.

The layers keep a reference to the caller's input (and the SimpleRNN its output,
which is its cache) for the backward pass; :func:`checksum`, taken at the forward
and again at the backward, tells whether it changed in between.
"""

import numpy as np
from numba import config, get_num_threads, njit, prange

from . import _threads
from ._config import JIT_OPTIONS, jit_pair, wide_vectors

#: words (8 bytes) from which a checksum runs on numba's threads: below it, one
#: thread (a parallel region costs about as much as hashing ~10,000 words).
PARALLEL_WORDS = 1 << 15


@njit(**JIT_OPTIONS)
def _mix_range(bits, start, stop):
    """``sum_i mix(bits[i] ^ (i * K))`` over ``i`` in ``[start, stop)``, modulo
    2**64, ``mix`` the murmur3 finaliser.

    Each entry is mixed with its position before the sum, so structured changes
    (negating every entry, doubling it, swapping two entries) cannot cancel the
    way they would in a linear sum: a change goes unseen with probability ~2**-64.
    The terms are independent, so the loop vectorises.
    """
    wide_vectors()
    total = np.uint64(0)
    k = np.uint64(0x9E3779B97F4A7C15)
    c1 = np.uint64(0xFF51AFD7ED558CCD)
    c2 = np.uint64(0xC4CEB9FE1A85EC53)
    s33 = np.uint64(33)
    for j in range(np.uint64(start), np.uint64(stop)):
        i = np.uint64(j)   # unsigned: no negative-index wraparound in the loop
        z = np.uint64(bits[i]) ^ (i * k)
        z ^= z >> s33
        z *= c1
        z ^= z >> s33
        z *= c2
        z ^= z >> s33
        total += z
    return total


def _mixed_bit_sum(bits, blocks):
    """:func:`_mix_range` over the whole of ``bits``, in ``blocks`` blocks (run on
    numba's threads by the parallel kernel): the sum modulo 2**64 is the same in
    any order."""
    n = bits.size
    parts = np.empty(blocks, np.uint64)
    for k_ in prange(blocks):
        b = np.int64(k_)  # callees typed once: see _config.jit_pair
        parts[b] = _mix_range(bits, b * n // blocks, (b + 1) * n // blocks)
    total = np.uint64(0)
    for b in range(blocks):
        total += parts[b]
    return total


_mixed_bit_sums = jit_pair(_mixed_bit_sum)


def checksum(a):
    """A hash of a C-contiguous array's bits: each entry mixed with its position.

    The layers keep a reference to the caller's input for the backward pass; this
    hash, taken at the forward and again at the backward, tells whether the input
    was modified in place in between (any change, including ``x *= -1``, ``x *= 2``
    or a swap of two different entries, with probability ~1 - 2**-64). Two 4-byte
    entries are hashed as one 8-byte word (a swap of the two changes the word), and
    an array of ``PARALLEL_WORDS`` words or more is hashed on numba's threads.

    Parameters
    ----------
    a : ndarray
        C-contiguous, of a 4- or 8-byte dtype (float32, float64, int64, ...).

    Returns
    -------
    int
    """
    flat = a.reshape(-1)
    if a.itemsize == 8 or flat.size % 2 == 0:
        bits = flat.view(np.uint64)
    else:
        bits = flat.view(np.uint32)
    if config.DISABLE_JIT:  # pragma: no cover - NumPy scalars warn as they wrap
        with np.errstate(over="ignore"):
            return int(_mix_range(bits, 0, bits.size))
    threads = get_num_threads()
    if bits.size < PARALLEL_WORDS or threads == 1:
        return int(_mix_range(bits, 0, bits.size))
    with _threads.parallel_call_guard():
        return int(_mixed_bit_sums[1](bits, threads))
