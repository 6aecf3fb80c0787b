"""Softmax, log-softmax, softmin and one-hot encoding.

``softmax`` and ``log_softmax`` are primitives: one node each, shifted by the max so nothing
overflows, and backward from the saved output alone (cross-entropy runs ``log_softmax`` on every
training step). Both backward passes are Tensor ops, so double backward works.
"""

from __future__ import annotations

import warnings

import numpy as np

from ember.autograd.function import Function
from ember.ops._dims import normalize_dim
from ember.ops._promotion import cast
from ember.ops.op import op, primitive
from ember.ops.reduction import Sum
from ember.tensor import dtypes
from ember.tensor.tensor import Tensor


def _shifted(xp, x, axis):
    """``x - max(x)`` along ``axis``; an all ``-inf`` line is left as is (its max is not finite)."""
    peak = x.max(axis=axis, keepdims=True)
    if x.dtype.kind == "f":
        peak = xp.where(xp.isfinite(peak), peak, 0)
    return x - peak


_BLOCK_ELEMENTS = 1 << 19  # 2 MB of float32: a block of exponentials stays in cache


def _exp_sum(xp, x, axis):
    """``exp(x).sum(axis, keepdims=True)``. On the CPU, along the last axis of a large
    contiguous array, it goes a block of rows at a time through one small buffer: a whole-array
    temporary (45 MB for a batch of 10,000-class logits) costs more in page faults than ``exp``
    itself. Each row's sum is the same either way."""
    width = x.shape[-1] if x.ndim else 1
    if xp is not np or x.size <= _BLOCK_ELEMENTS or axis != x.ndim - 1 or not x.flags.c_contiguous:
        return xp.exp(x).sum(axis=axis, keepdims=True)
    rows = x.reshape(-1, width)
    step = max(1, _BLOCK_ELEMENTS // width)
    sums = np.empty((rows.shape[0], 1), dtype=x.dtype)
    buffer = np.empty((step, width), dtype=x.dtype)
    for first in range(0, rows.shape[0], step):
        end = min(rows.shape[0], first + step)
        block = np.exp(rows[first:end], out=buffer[:end - first])
        block.sum(axis=1, keepdims=True, out=sums[first:end])
    return sums.reshape(x.shape[:-1] + (1,))


def _axes(ctx) -> tuple:
    dim = ctx.attrs["dim"]
    return () if dim is None else (dim,)


@primitive("softmax")
class Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        if x.size == 0:
            out = x.copy()
        else:
            out = ctx.xp.exp(_shifted(ctx.xp, x, dim))
            out /= out.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        # J^T g = y * (g - <g, y>) along dim
        return y * (grad - Sum.apply(grad * y, axes=_axes(ctx), keepdim=True, dtype=None))

    @staticmethod
    def backward_arrays(ctx, grad):
        (y,) = ctx.saved_arrays
        weighted = grad * y
        return weighted - y * weighted.sum(axis=ctx.attrs["dim"], keepdims=True)


@primitive("log_softmax")
class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        if x.size == 0:
            out = x.copy()
        else:
            xp = ctx.xp
            out = _shifted(xp, x, dim)  # a new array: shifted in place
            out -= xp.log(_exp_sum(xp, out, dim))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad - out.exp() * Sum.apply(grad, axes=_axes(ctx), keepdim=True, dtype=None)

    @staticmethod
    def backward_arrays(ctx, grad):
        (out,) = ctx.saved_arrays
        xp = ctx.xp
        scaled = xp.exp(out, out=xp.empty_like(out))  # out= keeps 0-d results arrays
        scaled *= grad.sum(axis=ctx.attrs["dim"], keepdims=True)
        return xp.subtract(grad, scaled, out=scaled)


def _softmax_input(name, input, dim, dtype):
    if dtype is not None:
        input = cast(input, dtypes.to_dtype(dtype).numpy)
    if input._array.dtype.kind != "f":
        raise NotImplementedError(  # PyTorch's type (a RuntimeError subclass)
            f"{name}(): expected a floating point input, got {input.dtype} (pass dtype= or cast "
            "with .float())"
        )
    ndim = input._array.ndim
    if dim is None:
        # PyTorch's legacy implicit choice, with its deprecation warning.
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. Change the call to "
            "include dim=X as an argument.",
            UserWarning,
            stacklevel=3,
        )
        dim = 0 if ndim in (0, 1, 3) else 1
    # A 0-d tensor is reduced as a whole (axis None keeps numpy from asking for axis 0).
    axis = normalize_dim(dim, ndim, name) if ndim else None
    return input, axis


@op("softmax", method=True)
def softmax(input, dim=None, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim``.

    Example:
        >>> ember.tensor([1.0, 1.0]).softmax(dim=0)
        tensor([0.5000, 0.5000])
    """
    input, axis = _softmax_input("softmax", input, dim, dtype)
    return Softmax.apply(input, dim=axis)


@op("log_softmax", method=True)
def log_softmax(input, dim=None, dtype=None):
    """``log(softmax(x))`` along ``dim``, computed without overflow or ``log(0)``.

    Example:
        >>> ember.tensor([0.0, 0.0]).log_softmax(dim=0).exp()
        tensor([0.5000, 0.5000])
    """
    input, axis = _softmax_input("log_softmax", input, dim, dtype)
    return LogSoftmax.apply(input, dim=axis)


@op("softmin", method=True)
def softmin(input, dim=None, dtype=None):
    """``softmax(-x)`` along ``dim``."""
    input, axis = _softmax_input("softmin", input, dim, dtype)
    return Softmax.apply(-input, dim=axis)


@primitive("one_hot")
class OneHot(Function):
    @staticmethod
    def forward(ctx, indices, num_classes):
        classes = ctx.xp.arange(num_classes, dtype=np.int64)
        return (indices[..., None] == classes).astype(np.int64)


@op("one_hot")
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """``(*)`` int64 class indices -> ``(*, num_classes)`` int64 one-hot rows; with
    ``num_classes=-1`` the count is ``max + 1``.

    Example:
        >>> ember.one_hot(ember.tensor([0, 2]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1]])
    """
    data = tensor._array
    if data.dtype != np.int64:
        raise RuntimeError(
            f"one_hot is only applicable to index tensor of dtype int64, got {tensor.dtype}"
        )
    if num_classes == -1:
        if data.size == 0:
            raise RuntimeError("one_hot: Can not infer total number of classes from empty tensor.")
        num_classes = int(data.max()) + 1
    elif num_classes < 0:
        raise RuntimeError(f"one_hot: num_classes must be -1 or non-negative, got {num_classes}")
    if data.size:
        if int(data.min()) < 0:
            raise RuntimeError("one_hot: Class values must be non-negative.")
        if int(data.max()) >= num_classes:
            raise RuntimeError(
                f"one_hot: Class values must be smaller than num_classes ({num_classes}), got "
                f"{int(data.max())}."
            )
    return OneHot.apply(tensor, num_classes=int(num_classes))
