"""``scatter_reduce``: scatter with sum, prod, mean, amax or amin, with PyTorch's gradients."""

from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.backend import index_reduce
from ember.ops._dims import normalize_dim
from ember.ops.inplace import inplace_method
from ember.ops.op import op, primitive
from ember.ops.scatter import (
    Gather,
    ScatterAdd,
    _along,
    _check_along,
    _check_index,
    _fit,
    _leading,
    _same_dtype,
    _zero_d,
)
from ember.tensor.tensor import Tensor

_UFUNCS = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum",
           "amin": "minimum"}


def _identity(dtype, reduce: str):
    """What a position holds before the first value is reduced into it (include_self=False)."""
    if reduce == "prod":
        return 1
    if reduce in ("sum", "mean"):
        return 0
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    limits = np.iinfo(dtype)
    return limits.min if reduce == "amax" else limits.max


def _scattered(xp, shape, along):
    """Bool mask of the positions that receive at least one value."""
    mask = xp.zeros(shape, dtype=bool)
    mask[along] = True
    return mask


def _counts(xp, shape, along, include_self: bool, dtype):
    """How many values (self included or not) are averaged at each position (1 where none)."""
    count = xp.ones(shape, dtype=dtype)
    if not include_self:
        count[along] = 0
    index_reduce(count, along, xp.ones(along[0].shape, dtype=dtype), "add")
    return count


@primitive("scatter_reduce")
class ScatterReduce(Function):
    """``a`` with each ``src[i][j]`` reduced into ``[index[i][j]][j]`` (``dim == 0``)."""

    @staticmethod
    def forward(ctx, a, index, src, dim, reduce, include_self):
        xp = ctx.xp
        along = _along(xp, index, dim)
        out = a.copy()
        if not include_self:
            out[along] = _identity(a.dtype, reduce)
        index_reduce(out, along, src[_leading(index.shape, -1)], _UFUNCS[reduce])
        if reduce == "mean":
            count = _counts(xp, a.shape, along, include_self, a.dtype)
            out = out / count if a.dtype.kind == "f" else out // count
        ctx.save_for_backward(a, index, src, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, index, src, out = ctx.saved_tensors
        attrs = ctx.attrs
        dim, reduce, include_self = attrs["dim"], attrs["reduce"], attrs["include_self"]
        xp, dtype = ctx.xp, grad._array.dtype
        along = _along(xp, index._array, dim)
        src = src if src._array.shape == index._array.shape else _fit_src(src, index, dim)

        def constant(array):
            return Tensor(xp.asarray(array, dtype=dtype))

        def gathered(t):
            return Gather.apply(t, index, dim=dim)

        if reduce == "sum":
            grad_self, grad_src = grad, gathered(grad)
        elif reduce == "mean":
            scaled = grad / constant(_counts(xp, a._array.shape, along, include_self, dtype))
            grad_self, grad_src = scaled, gathered(scaled)
        elif reduce == "prod":
            grad_self, grad_src = _prod_grads(xp, a, index, src, out, grad, attrs, constant)
        else:  # amax / amin: shared evenly among the elements equal to the result
            self_hits = a._array == out._array
            if not include_self:
                self_hits &= ~_scattered(xp, a._array.shape, along)
            src_hits = constant(src._array == Gather.apply(out, index, dim=dim)._array)
            count = ScatterAdd.apply(constant(self_hits), index, src_hits, dim=dim)
            shared = grad / count
            grad_self, grad_src = constant(self_hits) * shared, src_hits * gathered(shared)
        if not include_self and reduce != "amax" and reduce != "amin":
            grad_self = grad_self * constant(~_scattered(xp, a._array.shape, along))
        return grad_self, None, _fit(grad_src, ctx.shapes[2])


def _fit_src(src: Tensor, index: Tensor, dim: int) -> Tensor:
    """The part of a larger ``src`` that the index reads (its leading block)."""
    return src[_leading(index._array.shape, -1)]


def _prod_grads(xp, a, index, src, out, grad, attrs, constant):
    """PyTorch's product gradients, exact when one factor is 0 (several zeros give 0)."""
    dim = attrs["dim"]
    self_zero = a._array == 0
    masked_self = a.masked_fill(Tensor(self_zero), 1.0)
    grad_self = grad * ScatterReduce.apply(masked_self, index, src, **attrs) / masked_self
    src_zero = src._array == 0
    zeros_seen = ScatterAdd.apply(constant(xp.zeros(a._array.shape)), index, constant(src_zero),
                                  dim=dim)
    single = Tensor(src_zero & (Gather.apply(zeros_seen, index, dim=dim)._array == 1))
    without_single = ScatterReduce.apply(a, index, src.masked_fill(single, 1.0), **attrs)
    grad_src = (Gather.apply(grad * out, index, dim=dim)
                / src.masked_fill(Tensor(src_zero), 1.0)).masked_fill(single, 0.0)
    grad_src = grad_src + Gather.apply(grad * without_single, index, dim=dim) * constant(
        single._array)
    return grad_self, grad_src


@op("scatter_reduce", method=True)
@_zero_d
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """``input`` with every ``src[i][j]`` reduced into ``[index[i][j]][j]`` (``dim=0``; likewise
    for other dims) by ``reduce``: ``"sum"``, ``"prod"``, ``"mean"``, ``"amax"`` or ``"amin"``.

    With ``include_self=False`` the values of ``input`` at the positions that receive something
    do not take part (those positions get only the reduction of their ``src`` values). Integer
    means round down, as PyTorch's. Gradients as PyTorch defines them: ties of amax/amin share
    evenly; prod is exact with one zero per position.

    Example:
        >>> src = ember.tensor([1.0, 2.0, 3.0, 4.0])
        >>> ember.zeros(2).scatter_reduce(0, ember.tensor([0, 1, 0, 1]), src, "amax")
        tensor([3., 4.])
    """
    if reduce not in _UFUNCS:
        raise RuntimeError(f"scatter_reduce(): reduce argument must be either sum, prod, mean, "
                           f"amax or amin, got {reduce!r}")
    _check_index(index, "scatter_reduce")
    dim = normalize_dim(dim, input._array.ndim, "scatter_reduce")
    _same_dtype(input, src, "scatter_reduce")
    _check_along(input, dim, index, src, "scatter_reduce")
    return ScatterReduce.apply(input, index, src, dim=dim, reduce=reduce,
                               include_self=bool(include_self))


op("scatter_reduce_", method=True, function=False)(
    inplace_method("scatter_reduce", scatter_reduce, saves_self=True)
)
