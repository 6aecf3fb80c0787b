"""Products and distances built from other ops: kron, cross, tensordot, cdist.

All but the Euclidean ``cdist`` of many points are compositions, so their gradients (of any
order) come from the ops they are made of.
"""

from __future__ import annotations

import math

import numpy as np

from ember.autograd.function import Function
from ember.ops._dims import normalize_dim
from ember.ops._promotion import promote_pair
from ember.ops.op import op, primitive
from ember.tensor.registry import lookup
from ember.tensor.tensor import Tensor


def _broadcast(name: str, a_shape: tuple, b_shape: tuple) -> tuple:
    try:
        return tuple(np.broadcast_shapes(a_shape, b_shape))
    except ValueError:
        raise RuntimeError(f"{name}(): shapes {list(a_shape)} and {list(b_shape)} do not "
                           "broadcast") from None


@op("kron", method=True)
def kron(input, other):
    """Kronecker product: block ``(i, j, ...)`` of the result is ``input[i, j, ...] * other``.

    The shorter shape is padded with leading 1s; the result has shape
    ``(a0 * b0, a1 * b1, ...)``.

    Example:
        >>> ember.kron(ember.tensor([1, 2]), ember.tensor([1, 10]))
        tensor([ 1, 10,  2, 20])
    """
    ndim = max(input._array.ndim, other._array.ndim)
    a_shape = (1,) * (ndim - input._array.ndim) + input._array.shape
    b_shape = (1,) * (ndim - other._array.ndim) + other._array.shape
    # interleave: a -> (a0, 1, a1, 1, ...), b -> (1, b0, 1, b1, ...)
    a = input.reshape(tuple(n for size in a_shape for n in (size, 1)))
    b = other.reshape(tuple(n for size in b_shape for n in (1, size)))
    return (a * b).reshape(tuple(m * n for m, n in zip(a_shape, b_shape)))


@op("cross", method=True)
def cross(input, other, dim=None):
    """Cross product of 3-vectors along ``dim`` (input and other broadcast together).

    ``dim=None`` takes the first dim of size 3, as ``torch.cross`` (``torch.linalg.cross``
    defaults to the last dim).

    Example:
        >>> ember.cross(ember.tensor([1.0, 0.0, 0.0]), ember.tensor([0.0, 1.0, 0.0]))
        tensor([0., 0., 1.])
    """
    input, other = promote_pair(input, other)
    shape = _broadcast("cross", input.shape, other.shape)
    if dim is None:
        dim = next((d for d, n in enumerate(shape) if n == 3), None)
        if dim is None:
            raise RuntimeError(f"cross(): no dimension of size 3 in input (broadcast shape "
                               f"{list(shape)})")
    dim = normalize_dim(dim, len(shape), "cross")
    if shape[dim] != 3:
        raise RuntimeError(f"cross(): inputs dimension {dim} must have length 3, got shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
    a, b = input.expand(shape), other.expand(shape)
    a0, a1, a2 = (a.narrow(dim, i, 1) for i in range(3))
    b0, b1, b2 = (b.narrow(dim, i, 1) for i in range(3))
    return lookup("cat")([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)


def _contracted_dims(dims, a_ndim: int, b_ndim: int) -> tuple:
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0 or dims > min(a_ndim, b_ndim):
            raise RuntimeError(f"tensordot(): expects dims >= 0 and at most the smaller number "
                               f"of dimensions, got {dims} for {a_ndim}-d and {b_ndim}-d inputs")
        return tuple(range(a_ndim - dims, a_ndim)), tuple(range(dims))
    a_dims, b_dims = dims
    a_dims = [a_dims] if isinstance(a_dims, int) else list(a_dims)
    b_dims = [b_dims] if isinstance(b_dims, int) else list(b_dims)
    if len(a_dims) != len(b_dims):
        raise RuntimeError(f"tensordot(): both dimension lists should have same length, got "
                           f"{a_dims} and {b_dims}")
    return (tuple(normalize_dim(d, a_ndim, "tensordot") for d in a_dims),
            tuple(normalize_dim(d, b_ndim, "tensordot") for d in b_dims))


@op("tensordot")
def tensordot(a, b, dims=2):
    """Sums the products of ``a`` and ``b`` over the dims ``dims`` names: an int ``n`` (the
    last ``n`` of ``a`` with the first ``n`` of ``b``) or two lists of dims.

    Example:
        >>> ember.tensordot(ember.ones(2, 3, 4), ember.ones(3, 4, 5), dims=2).shape
        (2, 5)
    """
    a_dims, b_dims = _contracted_dims(dims, a._array.ndim, b._array.ndim)
    for i, j in zip(a_dims, b_dims):
        if a._array.shape[i] != b._array.shape[j]:
            raise RuntimeError(
                f"tensordot(): contracted dimensions need to match, but first has size "
                f"{a._array.shape[i]} in dim {i} and second has size {b._array.shape[j]} in "
                f"dim {j}"
            )
    a_free = [d for d in range(a._array.ndim) if d not in a_dims]
    b_free = [d for d in range(b._array.ndim) if d not in b_dims]
    size = math.prod(a._array.shape[d] for d in a_dims)
    left = a.permute(*a_free, *a_dims).reshape(-1, size)
    right = b.permute(*b_dims, *b_free).reshape(size, -1)
    out_shape = tuple(a._array.shape[d] for d in a_free) + tuple(b._array.shape[d]
                                                                  for d in b_free)
    return lookup("mm")(left, right).reshape(out_shape)


@primitive("cdist_euclidean")
class CdistEuclidean(Function):
    """Euclidean distances by ``|x|^2 + |y|^2 - 2 x.y`` (one matrix product, like PyTorch's
    ``use_mm_for_euclid_dist``); the gradient at distance 0 is 0, as PyTorch's."""

    @staticmethod
    def forward(ctx, x1, x2):
        xp = ctx.xp
        squared = ((x1 * x1).sum(-1)[..., :, None] + (x2 * x2).sum(-1)[..., None, :]
                   - 2.0 * (x1 @ xp.swapaxes(x2, -1, -2)))
        out = xp.sqrt(xp.maximum(squared, 0.0))
        ctx.save_for_backward(x1, x2, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x1, x2, out = ctx.saved_tensors
        zero = Tensor(ctx.xp.asarray(out._array == 0, dtype=out._array.dtype))
        weight = grad / (out + zero) * (1 - zero)  # d|x - y| / dx = (x - y) / |x - y|
        grad_x1 = weight.sum(-1, keepdim=True) * x1 - weight @ x2
        grad_x2 = weight.sum(-2).unsqueeze(-1) * x2 - weight.transpose(-1, -2) @ x1
        return grad_x1, grad_x2


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


@op("cdist")
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """p-norm distances between each row of ``x1`` ``(*, P, M)`` and each row of ``x2``
    ``(*, R, M)``: ``(*, P, R)``, batch dims broadcast.

    For ``p=2`` and more than 25 rows on either side (or ``compute_mode=
    "use_mm_for_euclid_dist"``) the distances come from one matrix product, faster but less
    exact for near points, as PyTorch does.

    Example:
        >>> ember.cdist(ember.tensor([[0.0, 0.0]]), ember.tensor([[3.0, 4.0], [0.0, 1.0]]))
        tensor([[5., 1.]])
    """
    if x1._array.ndim < 2 or x2._array.ndim < 2:
        raise RuntimeError(f"cdist(): only supports at least 2D tensors, X1 got: "
                           f"{x1._array.ndim}D, X2 got: {x2._array.ndim}D")
    if x1._array.shape[-1] != x2._array.shape[-1]:
        raise RuntimeError(f"cdist(): X1 and X2 must have the same number of columns. X1: "
                           f"{x1._array.shape[-1]} X2: {x2._array.shape[-1]}")
    if x1._array.dtype.kind != "f" or x2._array.dtype.kind != "f":
        raise RuntimeError(f"cdist(): only supports floating-point dtypes, X1 got: {x1.dtype}, "
                           f"X2 got: {x2.dtype}")
    if p < 0:
        raise RuntimeError(f"cdist(): only supports non-negative p values, got {p}")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"cdist(): {compute_mode} is not a valid value for compute_mode")
    x1, x2 = promote_pair(x1, x2)
    batch = _broadcast("cdist", x1.shape[:-2], x2.shape[:-2])
    x1 = x1.expand(batch + tuple(x1.shape[-2:]))
    x2 = x2.expand(batch + tuple(x2.shape[-2:]))
    many = x1._array.shape[-2] > 25 or x2._array.shape[-2] > 25
    if p == 2 and (compute_mode == "use_mm_for_euclid_dist"
                   or (many and compute_mode == _CDIST_MODES[0])):
        return CdistEuclidean.apply(x1, x2)
    difference = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (*, P, R, M)
    return lookup("norm")(difference, p=float(p), dim=-1)
