"""Keras 3 as an oracle, on its PyTorch backend (the one installed here).

Import ``keras`` from here, never directly: the backend must be chosen before Keras
is first imported. The tests that use it are skipped only where Keras is not
installed; CI installs it (``.ci/run``), so they run there.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

#: float32 parity tolerances (the issue's bound: within 1e-5).
RTOL32, ATOL32 = 1e-5, 1e-5


def to_numpy(value):
    """A Keras output (a torch tensor on this backend) as a NumPy array (without
    ``keras.ops.convert_to_numpy``, whose ``np.array(tensor)`` warns under numpy 2.4)."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)
