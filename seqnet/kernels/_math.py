"""Vectorisable exp, sigmoid and tanh for the kernels, float32 and float64.

libm's scalar ``exp``/``tanh`` stop LLVM from vectorising the gate loops (they
were 40 ns per element of an LSTM forward here). These versions use only
multiply, add, divide, floor, compare/select and a bit cast, all of which
vectorise, and are accurate to a few ulp of their dtype over the whole real line
(tests/unit/test_math.py measures them against NumPy, saturation included):

- ``exp``: Cody-Waite reduction ``x = n ln2 + r``, ``|r| <= ln2/2``; Taylor series
  of ``e^r`` (degree 7 in float32, 13 in float64); ``2^n`` built from its bits.
  The argument is clamped to the finite range first (so ``exp`` of a huge
  argument is the largest finite power of two times e^r, not inf).
- ``sigmoid(x) = 1 / (1 + exp(-x))``: no cancellation anywhere.
- ``tanh``: odd Taylor series for ``|x| < 0.1733`` (where ``1 - e^{-2|x|}`` would
  cancel), else ``(1 - e) / (1 + e)`` with ``e = exp(-2|x|)``, sign restored. Both
  branches are computed (the series on ``min(|x|, 0.1733)``, so it stays finite
  even for infinite x)
  and one is kept by multiplying with 0/1 weights, which is exact and, unlike a
  branch or a helper call, vectorises inside large kernels.

Each is a Python function (used as is under ``NUMBA_DISABLE_JIT=1``) with a numba
``overload`` that picks the float32 or float64 implementation by argument type.
"""

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

# Taylor coefficients of tanh x = x (1 + c1 x^2 + c2 x^4 + ...)
_TANH_C = (-0.3333333333333333, 0.13333333333333333, -0.05396825396825397,
           0.021869488536155203, -0.008863235529902197, 0.003592128036572481,
           -0.0014558343870513183, 0.000590027440945586, -0.00023912911424355248)
_TANH_SMALL = 0.1733


def exp(x):
    """e**x (NumPy's, outside numba, overflowing to inf without a warning; the
    compiled version clamps its argument to the finite range instead)."""
    with np.errstate(over="ignore"):
        return np.exp(x)


def sigmoid(x):
    """1 / (1 + e**-x) (NumPy's exp, outside numba; e**-x may overflow to inf,
    which gives the right limit 0, so that warning is silenced)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def tanh(x):
    """tanh x (NumPy's, outside numba)."""
    return np.tanh(x)


@intrinsic
def _float_from_bits(typingctx, bits, like):
    """The float of ``like``'s type whose bit pattern is the integer ``bits``."""
    if not isinstance(bits, types.Integer) or not isinstance(like, types.Float):
        return None
    width = like.bitwidth

    def codegen(context, builder, signature, args):
        value = args[0]
        int_type = ir.IntType(width)
        if bits.bitwidth > width:
            value = builder.trunc(value, int_type)
        elif bits.bitwidth < width:
            value = builder.sext(value, int_type)
        return builder.bitcast(value, ir.FloatType() if width == 32 else ir.DoubleType())

    return like(bits, like), codegen


def _exp32(x):
    x = min(max(x, np.float32(-87.0)), np.float32(88.0))
    n = np.floor(x * np.float32(1.4426950408889634) + np.float32(0.5))
    r = x - n * np.float32(0.693145751953125) - n * np.float32(1.4286067653302226e-06)
    p = np.float32(1.0 / 5040.0)
    p = p * r + np.float32(1.0 / 720.0)
    p = p * r + np.float32(1.0 / 120.0)
    p = p * r + np.float32(1.0 / 24.0)
    p = p * r + np.float32(1.0 / 6.0)
    p = p * r + np.float32(0.5)
    p = p * r + np.float32(1.0)
    p = p * r + np.float32(1.0)
    return p * _float_from_bits((np.int32(n) + np.int32(127)) << np.int32(23), x)


def _exp64(x):
    x = min(max(x, -708.0), 709.0)
    n = np.floor(x * 1.4426950408889634 + 0.5)
    r = x - n * 6.93147180369123816490e-01 - n * 1.90821492927058770002e-10
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _float_from_bits((np.int64(n) + np.int64(1023)) << np.int64(52), x)


def _float_kind(x):
    if isinstance(x, types.Float):
        return x.bitwidth
    return None


@overload(exp, inline="always")
def _exp_overload(x):
    kind = _float_kind(x)
    if kind == 32:
        return _exp32
    if kind == 64:
        return _exp64
    return None


@overload(sigmoid, inline="always")
def _sigmoid_overload(x):
    kind = _float_kind(x)
    if kind == 32:
        def impl(x):
            return np.float32(1.0) / (np.float32(1.0) + exp(-x))
        return impl
    if kind == 64:
        def impl(x):
            return 1.0 / (1.0 + exp(-x))
        return impl
    return None


@overload(tanh, inline="always")
def _tanh_overload(x):
    kind = _float_kind(x)
    if kind == 32:
        c0, c1, c2, c3 = (np.float32(c) for c in _TANH_C[:4])
        small = np.float32(_TANH_SMALL)

        def impl(x):
            a = abs(x)
            e = exp(np.float32(-2.0) * a)
            big = (np.float32(1.0) - e) / (np.float32(1.0) + e)
            m = min(a, small)
            s = m * m
            tiny = m * (np.float32(1.0) + s * (c0 + s * (c1 + s * (c2 + s * c3))))
            w = np.float32(a < small)
            return np.copysign(w * tiny + (np.float32(1.0) - w) * big, x)
        return impl
    if kind == 64:
        c0, c1, c2, c3, c4, c5, c6, c7, c8 = _TANH_C

        def impl(x):
            a = abs(x)
            e = exp(-2.0 * a)
            big = (1.0 - e) / (1.0 + e)
            m = min(a, _TANH_SMALL)
            s = m * m
            tiny = m * (1.0 + s * (c0 + s * (c1 + s * (c2 + s * (c3 + s * (c4 + s * (
                c5 + s * (c6 + s * (c7 + s * c8)))))))))
            w = np.float64(a < _TANH_SMALL)
            return np.copysign(w * tiny + (1.0 - w) * big, x)
        return impl
    return None
