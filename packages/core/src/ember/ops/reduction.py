"""Reductions over dimensions: sum, mean, and the others, each with ``dim`` and ``keepdim``."""

from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.ops._dims import keepdim_shape, normalize_dims
from ember.ops.op import op, primitive
from ember.tensor import dtypes
from ember.tensor.tensor import Tensor


def _expand_back(grad, shape, axes, keepdim):
    """The gradient of a reduction, broadcast back over the reduced ``axes`` of ``shape``."""
    if not keepdim and axes:
        grad = grad.reshape(keepdim_shape(shape, axes))
    return grad.expand(shape)


@primitive("sum")
class Sum(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        ctx.shape = a.shape
        return a.sum(axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        attrs = ctx.attrs
        return _expand_back(grad, ctx.shape, attrs["axes"], attrs["keepdim"])


def _sum_dtype(a: Tensor, dtype):
    if dtype is not None:
        return dtypes.to_dtype(dtype).numpy
    if a.data.dtype.kind in "biu":
        return np.dtype(np.int64)  # PyTorch sums integers and bools in int64
    return None


@op("sum", method=True)
def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001
    """Sum over ``dim`` (all dimensions when None).

    Example:
        >>> ember.tensor([[1, 2], [3, 4]]).sum(dim=0)
        tensor([4, 6])
    """
    axes = normalize_dims(dim, input.data.ndim, "sum")
    return Sum.apply(input, axes=axes, keepdim=bool(keepdim), dtype=_sum_dtype(input, dtype))


@op("sum_to_size", method=True)
def sum_to_size(input, *size):
    """Sums broadcast dimensions away so that the result has ``size`` (gradient of expand)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = input.data.shape
    if shape == tuple(size):
        return input
    lead = len(shape) - len(size)
    if lead < 0:
        raise RuntimeError(f"sum_to_size: size {tuple(size)} is not expandable to {shape}")
    axes = tuple(range(lead))
    for i, n in enumerate(size):
        if n == 1 and shape[lead + i] != 1:
            axes += (lead + i,)
        elif n != shape[lead + i]:
            raise RuntimeError(f"sum_to_size: size {tuple(size)} is not expandable to {shape}")
    out = Sum.apply(input, axes=axes, keepdim=True, dtype=None) if axes else input
    return out.reshape(tuple(size)) if out.data.shape != tuple(size) else out


@op("mean", method=True)
def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Arithmetic mean over ``dim``; integer inputs need a floating ``dtype``, as in PyTorch."""
    if dtype is not None:
        input = input.to(dtype)
    if input.data.dtype.kind != "f":
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {input.dtype}"
        )
    axes = normalize_dims(dim, input.data.ndim, "mean")
    count = 1
    for axis in axes:
        count *= input.data.shape[axis]
    total = Sum.apply(input, axes=axes, keepdim=bool(keepdim), dtype=None)
    return total / count if count else total * float("nan")
