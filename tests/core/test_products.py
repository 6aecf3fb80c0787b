"""kron, cross, tensordot, cdist, addbmm, take_along_dim against numpy, with gradchecks."""

import numpy as np
import pytest

import ember
from harness import OpCase, check_op


def ref_cdist(a, b, p=2.0, **_):
    difference = np.abs(a[..., :, None, :] - b[..., None, :, :])
    if p == 0:
        return (difference != 0).sum(-1).astype(a.dtype)
    if np.isinf(p):
        return difference.max(-1)
    return (difference**p).sum(-1) ** (1.0 / p)


def ref_addbmm(c, a, b, beta=1.0, alpha=1.0):
    return beta * c + alpha * np.einsum("bij,bjk->ik", a, b)


def ref_take_along_dim(a, index, dim):
    shape = np.broadcast_shapes(a.shape[:dim] + (1,) + a.shape[dim + 1:],
                                index.shape[:dim] + (1,) + index.shape[dim + 1:])
    a = np.broadcast_to(a, shape[:dim] + (a.shape[dim],) + shape[dim + 1:])
    index = np.broadcast_to(index, shape[:dim] + (index.shape[dim],) + shape[dim + 1:])
    return np.take_along_axis(a, index, dim)


def _index_inputs(rng, shapes, dtype):
    (a_shape, index_shape) = shapes
    return [rng.uniform(-2, 2, size=a_shape).astype(dtype),
            rng.integers(0, a_shape[1], size=index_shape)]


CASES = [
    OpCase("kron", np.kron, [((2, 3), (3, 2)), ((2,), (2, 3)), ((2, 1, 2), (2, 2))], arity=2),
    OpCase("cross", lambda a, b, dim: np.cross(a, b, axis=dim), [((4, 3), (4, 3)), ((3,), (2, 3))],
           arity=2, kwargs={"dim": -1}, id="cross"),
    OpCase("cross", lambda a, b: np.cross(a, b, axis=0), [((3, 5), (3, 5))], arity=2,
           id="cross-first-dim-of-3"),
    OpCase("tensordot", lambda a, b, dims: np.tensordot(a, b, axes=dims),
           [((2, 3, 4), (3, 4, 2))], arity=2, kwargs={"dims": 2}, method=False, id="tensordot"),
    OpCase("tensordot", lambda a, b, dims: np.tensordot(a, b, axes=dims), [((3, 4, 2), (2, 3))],
           arity=2, kwargs={"dims": ([0, 2], [1, 0])}, method=False, id="tensordot-lists"),
    OpCase("cdist", ref_cdist, [((4, 3), (5, 3)), ((2, 3, 2), (1, 4, 2))], arity=2,
           method=False, id="cdist"),
    OpCase("cdist", ref_cdist, [((4, 3), (5, 3))], arity=2, kwargs={"p": 1.0}, method=False,
           gradgrad=False, id="cdist-p1"),
    OpCase("cdist", ref_cdist, [((4, 3), (5, 3))], arity=2, kwargs={"p": 3.0}, method=False,
           id="cdist-p3"),
    OpCase("cdist", ref_cdist, [((30, 3), (2, 3))], arity=2, method=False,
           id="cdist-matmul"),
    OpCase("addbmm", ref_addbmm, [((2, 4), (3, 2, 5), (3, 5, 4)), ((4,), (2, 2, 3), (2, 3, 4))],
           arity=3, id="addbmm"),
    OpCase("addbmm", ref_addbmm, [((2, 4), (3, 2, 5), (3, 5, 4))], arity=3,
           kwargs={"beta": 0.5, "alpha": 2.0}, id="addbmm-scaled"),
    OpCase("take_along_dim", ref_take_along_dim, [((3, 4), (3, 2)), ((1, 4, 2), (3, 5, 1))],
           arity=2, kwargs={"dim": 1}, inputs=_index_inputs, id="take_along_dim"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


def test_take_along_dim_without_dim_flattens():
    x = ember.tensor([[10.0, 30.0, 20.0], [60.0, 40.0, 50.0]])
    assert ember.take_along_dim(x, ember.tensor([5, 0])).tolist() == [50.0, 10.0]
    maxima = ember.take_along_dim(x, x.argmax(dim=1, keepdim=True), dim=1)
    assert maxima.tolist() == [[30.0], [60.0]]
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        ember.take_along_dim(x, ember.tensor([0]), dim=0)


def test_cdist_gradient_is_zero_at_zero_distance():
    points = ember.tensor(np.random.default_rng(0).normal(size=(30, 3)), requires_grad=True)
    distances = ember.cdist(points, points)  # the matrix-product path, zero diagonal
    np.testing.assert_allclose(np.diag(distances.detach().numpy()), 0.0, atol=1e-6)
    distances.sum().backward()
    assert np.isfinite(points.grad.numpy()).all()
    small = ember.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    ember.cdist(small, small).sum().backward()
    np.testing.assert_allclose(small.grad.numpy(), [[-1.2, -1.6], [1.2, 1.6]])


def test_products_reject_bad_shapes():
    with pytest.raises(RuntimeError, match=r"cross\(\): inputs dimension 1 must have length 3"):
        ember.cross(ember.zeros(3, 2), ember.zeros(3, 2), dim=1)
    with pytest.raises(RuntimeError, match="no dimension of size 3"):
        ember.cross(ember.zeros(2), ember.zeros(2))
    with pytest.raises(RuntimeError, match="contracted dimensions need to match"):
        ember.tensordot(ember.zeros(2, 3), ember.zeros(2, 3), dims=1)
    with pytest.raises(RuntimeError, match="same number of columns"):
        ember.cdist(ember.zeros(2, 3), ember.zeros(2, 4))
    with pytest.raises(RuntimeError, match="at least 2D"):
        ember.cdist(ember.zeros(3), ember.zeros(2, 3))
