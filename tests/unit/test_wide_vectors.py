"""Every compiled loop of the kernels asks for 512-bit vectors (`_config.wide_vectors`).

LLVM's tuning for AVX-512 Xeons prefers 256-bit vectors; `wide_vectors()`, called
first in a compiled function, sets that function's ``prefer-vector-width`` to 512.
The check covers the ``@njit`` helpers, where the kernels' loops are. The
``jit_pair`` kernel entries are left out: their loops are time loops around
helper calls, and numba compiles each ``prange`` body as a function of its own,
which an attribute on the entry would not reach.
"""

import ast
import os
import pathlib

import llvmlite.binding as llvm
import numpy as np
import pytest
from numba import config, njit

import seqnet
from seqnet._config import JIT_OPTIONS, WIDE_VECTORS_ATTRIBUTE, wide_vectors
from seqnet.kernels import _math

ROOT = pathlib.Path(seqnet.__file__).parent
#: the modules whose compiled functions must call wide_vectors() when they loop.
SOURCES = sorted((ROOT / "kernels").glob("*.py")) + [ROOT / "_checksum.py"]
OPTIONS = {k: v for k, v in JIT_OPTIONS.items() if k != "cache"}


def _loops_without_the_call(source):
    """Names of the ``@njit`` functions in ``source`` that contain a loop and do
    not call ``wide_vectors()`` as their first statement after the docstring."""
    missing = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef):
            continue
        if not any("njit" in ast.unparse(d) for d in node.decorator_list):
            continue
        if not any(isinstance(n, (ast.For, ast.While)) for n in ast.walk(node)):
            continue
        body = node.body
        if (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            body = body[1:]
        first = ast.unparse(body[0]) if body else ""
        if first != "wide_vectors()":
            missing.append(node.name)
    return missing


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_every_compiled_loop_asks_for_wide_vectors(path):
    assert _loops_without_the_call(path.read_text()) == []


def test_the_check_sees_a_missing_call():
    source = '''
@njit(**JIT_OPTIONS)
def with_call(a):
    """Doc."""
    wide_vectors()
    for i in range(a.shape[0]):
        a[i] = 0.0

@njit(**JIT_OPTIONS)
def without_call(a):
    for i in range(a.shape[0]):
        a[i] = 0.0

@njit(**JIT_OPTIONS)
def late_call(a):
    n = a.shape[0]
    wide_vectors()
    for i in range(n):
        a[i] = 0.0

@njit(**JIT_OPTIONS)
def no_loop(a):
    return a[0]
'''
    assert _loops_without_the_call(source) == ["without_call", "late_call"]


@njit(**OPTIONS)
def _wide_sigmoid(x, out):
    wide_vectors()
    for i in range(x.shape[0]):
        out[i] = _math.sigmoid(x[i])


@njit(**OPTIONS)
def _plain_sigmoid(x, out):
    for i in range(x.shape[0]):
        out[i] = _math.sigmoid(x[i])


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="compiled kernels only")
def test_the_attribute_reaches_the_function_and_changes_nothing_computed():
    x = np.linspace(-30, 30, 1001).astype(np.float32)
    wide, plain = np.empty_like(x), np.empty_like(x)
    _wide_sigmoid(x, wide)
    _plain_sigmoid(x, plain)
    np.testing.assert_array_equal(wide, plain)  # the same operations, lane by lane
    ir_wide = "".join(_wide_sigmoid.inspect_llvm().values())
    ir_plain = "".join(_plain_sigmoid.inspect_llvm().values())
    assert WIDE_VECTORS_ATTRIBUTE in ir_wide
    assert WIDE_VECTORS_ATTRIBUTE not in ir_plain
    # on an AVX-512 target the loop runs on 512-bit registers; elsewhere on none
    # (numba compiles for NUMBA_CPU_FEATURES when it is set, else for the host)
    features = (config.CPU_FEATURES if config.CPU_FEATURES is not None
                else llvm.get_host_cpu_features().flatten())
    avx512 = "+avx512f" in features.split(",")
    asm = "".join(_wide_sigmoid.inspect_asm().values())
    assert ("zmm" in asm) == avx512
