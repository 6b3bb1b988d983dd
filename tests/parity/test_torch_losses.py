"""Losses against PyTorch: values and gradients (autograd) of cross-entropy on logits
and of mean squared error.

``torch.nn.functional.cross_entropy`` takes logits, like seqnet's losses with
``from_logits=True``; with class indices it is :class:`SparseCategoricalCrossentropy`,
with probability targets :class:`CategoricalCrossentropy`. Sequence outputs
``(B, T, C)`` go to PyTorch as ``(B*T, C)``. A mask is applied on PyTorch's side
as ``sum(w * loss) / sum(w)`` over ``reduction="none"`` losses. Float64 on both
sides; the sums run in different orders, hence ``rtol=1e-12``.
"""

import numpy as np
import pytest

from seqnet.losses import CategoricalCrossentropy, MeanSquaredError, SparseCategoricalCrossentropy

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-12, 1e-15
SHAPES = [(6, 5), (3, 4, 5)]


def torch_mean(losses, mask, shape):
    if mask is None:
        return losses.mean()
    w = np.broadcast_to(mask.reshape(mask.shape + (1,) * (len(shape) - 1 - mask.ndim)),
                        shape[:-1]).reshape(-1)
    w = torch.tensor(w)
    return (w * losses).sum() / w.sum()


def masks(shape):
    rng = np.random.default_rng(9)
    w = rng.uniform(0.5, 2.0, shape[:-1])
    w.flat[0] = 0.0
    return [None, w]


@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "3d"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("scale", [1.0, 1e4], ids=["logits", "huge-logits"])
def test_torch_loss_sparse_cross_entropy_on_logits(shape, masked, scale):
    rng = np.random.default_rng(0)
    z = rng.standard_normal(shape) * scale
    labels = rng.integers(0, shape[-1], shape[:-1])
    mask = masks(shape)[int(masked)]
    loss = SparseCategoricalCrossentropy(from_logits=True)
    value = loss.forward(z, labels, mask)
    grad = loss.backward()

    zt = torch.tensor(z.reshape(-1, shape[-1]), requires_grad=True)
    per = F.cross_entropy(zt, torch.from_numpy(labels.reshape(-1)), reduction="none")
    ref = torch_mean(per, mask, shape)
    ref.backward()
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(value, ref.item(), rtol=RTOL)
    np.testing.assert_allclose(grad, zt.grad.numpy().reshape(shape), rtol=RTOL, atol=ATOL)
    if not masked:
        assert F.cross_entropy(zt, torch.from_numpy(labels.reshape(-1))).item() == \
            pytest.approx(value, rel=RTOL)


@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "3d"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_torch_loss_categorical_cross_entropy_probability_targets(shape, masked):
    rng = np.random.default_rng(1)
    z = rng.standard_normal(shape) * 3
    y = rng.dirichlet(np.ones(shape[-1]), shape[:-1])
    mask = masks(shape)[int(masked)]
    loss = CategoricalCrossentropy(from_logits=True)
    value = loss.forward(z, y, mask)

    zt = torch.tensor(z.reshape(-1, shape[-1]), requires_grad=True)
    per = F.cross_entropy(zt, torch.from_numpy(y.reshape(-1, shape[-1])), reduction="none")
    ref = torch_mean(per, mask, shape)
    ref.backward()
    np.testing.assert_allclose(value, ref.item(), rtol=RTOL)
    np.testing.assert_allclose(loss.backward(), zt.grad.numpy().reshape(shape), rtol=RTOL,
                               atol=ATOL)


@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "3d"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_torch_loss_mean_squared_error(shape, masked):
    rng = np.random.default_rng(2)
    y_pred, y_true = rng.standard_normal(shape), rng.standard_normal(shape)
    mask = masks(shape)[int(masked)]
    loss = MeanSquaredError()
    value = loss.forward(y_pred, y_true, mask)

    pt = torch.tensor(y_pred, requires_grad=True)
    per = F.mse_loss(pt, torch.from_numpy(y_true), reduction="none").mean(-1).reshape(-1)
    ref = torch_mean(per, mask, shape)
    ref.backward()
    np.testing.assert_allclose(value, ref.item(), rtol=RTOL)
    np.testing.assert_allclose(loss.backward(), pt.grad.numpy(), rtol=RTOL, atol=ATOL)
    if not masked:
        assert F.mse_loss(pt, torch.from_numpy(y_true)).item() == pytest.approx(value, rel=RTOL)


def test_torch_loss_float32():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((4, 6, 7)).astype(np.float32)
    labels = rng.integers(0, 7, (4, 6))
    loss = SparseCategoricalCrossentropy(from_logits=True)
    value = loss.forward(z, labels)
    zt = torch.tensor(z.reshape(-1, 7), requires_grad=True)
    ref = F.cross_entropy(zt, torch.from_numpy(labels.reshape(-1)))
    ref.backward()
    np.testing.assert_allclose(value, ref.item(), rtol=1e-6)
    grad = loss.backward()
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, zt.grad.numpy().reshape(z.shape), rtol=1e-5, atol=1e-8)
