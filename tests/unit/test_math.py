"""The kernels' vectorisable exp, sigmoid and tanh are accurate to their dtype.

Measured against float64 NumPy over the whole real line: a dense grid over the
range where the functions vary, saturation, tiny arguments, signed zeros,
infinities and NaN. The kernels are compiled with the same flags as the cells.
"""

import numpy as np
import pytest
from numba import njit

from seqnet._config import JIT_OPTIONS
from seqnet.kernels import _math

OPTIONS = {k: v for k, v in JIT_OPTIONS.items() if k != "cache"}


@njit(**OPTIONS)
def _apply(x, e, s, t):
    for i in range(x.shape[0]):
        e[i] = _math.exp(x[i])
        s[i] = _math.sigmoid(x[i])
        t[i] = _math.tanh(x[i])


def _grid(dtype):
    pieces = [np.linspace(-1000, 1000, 20001), np.linspace(-40, 40, 400001),
              np.linspace(-1, 1, 100001), np.geomspace(1e-30, 1e3, 20001),
              -np.geomspace(1e-30, 1e3, 20001), [0.0, -0.0]]
    return np.concatenate(pieces).astype(dtype)


def _ulp_errors(got, ref, dtype):
    """Relative error in units of the dtype's eps, where ref is a normal number."""
    info = np.finfo(dtype)
    ok = np.isfinite(ref) & (np.abs(ref) >= info.tiny) & (np.abs(ref) <= info.max)
    return np.abs(got[ok].astype(np.float64) - ref[ok]) / np.abs(ref[ok]) / info.eps


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_tanh_accurate_everywhere(dtype):
    x = _grid(dtype)
    e, s, t = (np.empty_like(x) for _ in range(3))
    _apply(x, e, s, t)
    assert s.dtype == dtype and t.dtype == dtype
    xd = x.astype(np.float64)
    with np.errstate(over="ignore"):
        s_ref = 1.0 / (1.0 + np.exp(-xd))
    t_ref = np.tanh(xd)
    assert _ulp_errors(s, s_ref, dtype).max() <= 4
    assert _ulp_errors(t, t_ref, dtype).max() <= 4
    eps = np.finfo(dtype).eps
    assert np.abs(s.astype(np.float64) - s_ref).max() <= eps      # tiny outputs too
    assert np.abs(t.astype(np.float64) - t_ref).max() <= eps
    # saturation is exact, the range is kept, and the functions are monotone
    assert s[x >= 60].min() == 1.0 and t[x >= 30].min() == 1.0 and t[x <= -30].max() == -1.0
    assert s.min() >= 0.0 and s.max() <= 1.0 and np.abs(t).max() <= 1.0
    order = np.argsort(xd, kind="stable")
    assert np.all(np.diff(s[order].astype(np.float64)) >= 0)
    assert np.all(np.diff(t[order].astype(np.float64)) >= 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_accurate_in_its_finite_range(dtype):
    x = _grid(dtype)
    lo, hi = (-87.0, 88.0) if dtype == np.float32 else (-708.0, 709.0)
    x = x[(x >= lo) & (x <= hi)]
    e, s, t = (np.empty_like(x) for _ in range(3))
    _apply(x, e, s, t)
    assert _ulp_errors(e, np.exp(x.astype(np.float64)), dtype).max() <= 4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values(dtype):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], dtype)
    e, s, t = (np.empty_like(x) for _ in range(3))
    _apply(x, e, s, t)
    assert s[0] == 1.0 and s[1] < np.finfo(dtype).tiny * 10
    assert t[0] == 1.0 and t[1] == -1.0
    assert np.isnan(e[2]) and np.isnan(s[2]) and np.isnan(t[2])
    assert t[3] == 0.0 and t[4] == 0.0 and np.signbit(t[4]) and not np.signbit(t[3])
    assert s[3] == 0.5 and s[4] == 0.5


def test_python_fallbacks_are_numpy():
    """Outside numba (NUMBA_DISABLE_JIT=1) the same names compute with NumPy."""
    x = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(_math.sigmoid(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_array_equal(_math.tanh(x), np.tanh(x))
    np.testing.assert_array_equal(_math.exp(x), np.exp(x))
