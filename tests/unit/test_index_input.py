"""Integer (index) input computes exactly what one-hot input computes."""

import numpy as np
import pytest

import seqnet
from tests.conftest import CELL_NAMES, make_layer


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_indices_equal_one_hot(cell, dtype, rng):
    """Outputs, final states and every parameter gradient agree; forward bit for bit."""
    V, B, T, H = 7, 3, 6, 4
    idx = rng.integers(0, V, size=(B, T))
    one_hot = np.eye(V, dtype=dtype)[idx]
    a = make_layer(cell, H, input_size=V, num_layers=2, bidirectional=True, dtype=dtype)
    b = make_layer(cell, H, input_size=V, num_layers=2, bidirectional=True, dtype=dtype)
    lengths = np.array([6, 3, 5])
    state = [np.zeros((4, B, H), dtype) for _ in a.state_names]   # its gradient too
    out_a, *st_a = a.forward(idx, state, lengths=lengths, training=True)
    out_b, *st_b = b.forward(one_hot, state, lengths=lengths, training=True)
    np.testing.assert_array_equal(out_a, out_b)
    for x, y in zip(st_a, st_b, strict=True):
        np.testing.assert_array_equal(x, y)
    dout = rng.standard_normal(out_a.shape).astype(dtype)
    dx_a, *ds_a = a.backward(dout)
    dx_b, *ds_b = b.backward(dout)
    assert dx_a is None and dx_b.shape == one_hot.shape
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for k in a.grads:
        np.testing.assert_allclose(a.grads[k], b.grads[k], rtol=tol, atol=tol)
    assert len(ds_a) == len(a.state_names)
    for x, y in zip(ds_a, ds_b, strict=True):
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol)


def test_index_input_needs_input_size_and_range():
    layer = seqnet.LSTM(4, seed=0)
    with pytest.raises(ValueError, match="needs the layer's input_size"):
        layer.forward(np.zeros((2, 3), dtype=np.int64))
    layer = seqnet.LSTM(4, input_size=5, seed=0)
    with pytest.raises(ValueError, match=r"indices from 0 to 5, but they must be in \[0, 5\)"):
        layer.forward(np.array([[0, 5]]))
    with pytest.raises(ValueError, match=r"must be in \[0, 5\)"):
        layer.forward(np.array([[-1, 2]]))


def test_index_input_gradients_by_finite_differences(rng):
    """Index input's parameter gradients proven directly (float64 central differences)."""
    from seqnet.gradcheck import check_gradients

    layer = make_layer("lstm", 3, input_size=5, dtype=np.float64)
    idx = rng.integers(0, 5, size=(2, 4))

    class OnIndices:
        """Adapter: gradcheck perturbs a float x; here x is fixed indices."""

        params, grads, dtype = layer.params, layer.grads, np.float64
        state_names = layer.state_names

        def call(self, x, state, *, training, lengths=None):
            return layer.call(idx, state, training=training, lengths=lengths)

        def forward(self, x, state=None, *, lengths=None, training=False):
            return layer.forward(idx, state, lengths=lengths, training=training)

        def backward(self, douts):
            _, *ds = layer.backward(douts)
            return [np.zeros((2, 4, 1)), *ds]

    report = check_gradients(OnIndices(), np.zeros((2, 4, 1)), lengths=np.array([4, 2]))
    assert report.passed(1e-6), report.errors
    used = set(idx[0].tolist()) | set(idx[1, :2].tolist())
    g = report.analytic["weight_ih_l0"]
    for v in range(5):
        assert np.any(g[:, v] != 0.0) == (v in used), v
