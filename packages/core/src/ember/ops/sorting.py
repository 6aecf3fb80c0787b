"""Sorting and selecting along a dim: sort, argsort, msort, topk, kthvalue, mode.

The order is computed on arrays (a non-differentiable int64 index) and the values are gathered
from the input with ``gather``, so every differentiable result here has gather's backward
(scatter-add into the picked positions) to any order. Sorts are stable; NaN sorts as larger than
every number, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.backend import accumulate
from ember.ops._dims import normalize_dim
from ember.ops._results import return_type
from ember.ops.op import op, primitive
from ember.ops.scatter import Gather
from ember.tensor.tensor import Tensor

_SORT = return_type("sort")
_TOPK = return_type("topk")
_KTHVALUE = return_type("kthvalue")
_MODE = return_type("mode")


def sort_order(xp, x, axis: int, descending: bool):
    """Stable argsort along ``axis``; descending keeps equal elements in their original order
    (an ascending stable sort of the reversed line, read backwards)."""
    if not descending:
        return xp.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]
    order = xp.argsort(xp.flip(x, axis), axis=axis, kind="stable")
    return xp.flip(n - 1 - order, axis)


@primitive("argsort")
class Argsort(Function):
    """The int64 positions that sort ``a`` along ``dim`` (stable)."""

    @staticmethod
    def forward(ctx, a, dim, descending):
        return sort_order(ctx.xp, a, dim, descending).astype(np.int64, copy=False)


def as_line(input: Tensor, dim: int, name: str):
    """``(tensor, axis, was_0d)``: a 0-d tensor is handled as a 1-element line, as PyTorch."""
    axis = normalize_dim(dim, input._array.ndim, name)
    if input._array.ndim == 0:
        return input.reshape(1), 0, True
    return input, axis, False


def gather_line(input: Tensor, axis: int, index: Tensor) -> Tensor:
    """``input`` picked at ``index`` along ``axis`` (differentiable in ``input``)."""
    return Gather.apply(input, index, dim=axis)


def _sorted_pair(input: Tensor, dim: int, descending: bool, name: str):
    line, axis, was_0d = as_line(input, dim, name)
    index = Argsort.apply(line, dim=axis, descending=bool(descending))
    values = gather_line(line, axis, index)
    if was_0d:
        return values.reshape(()), index.reshape(())
    return values, index


@op("sort", method=True)
def sort(input, dim=-1, descending=False, *, stable=False):
    """Sorts along ``dim``: a named tuple ``(values, indices)`` (indices int64).

    The sort is always stable (``stable`` is accepted for PyTorch's signature); ``descending``
    keeps equal elements in their original order too. NaN counts as the largest value.

    Example:
        >>> ember.tensor([3.0, 1.0, 2.0]).sort(descending=True)
        sort(values=tensor([3., 2., 1.]), indices=tensor([0, 2, 1]))
    """
    return _SORT(*_sorted_pair(input, dim, descending, "sort"))


@op("argsort", method=True)
def argsort(input, dim=-1, descending=False, *, stable=False):
    """The int64 indices that sort ``input`` along ``dim`` (``sort(...).indices``).

    Example:
        >>> ember.tensor([3.0, 1.0, 2.0]).argsort()
        tensor([1, 2, 0])
    """
    line, axis, was_0d = as_line(input, dim, "argsort")
    index = Argsort.apply(line, dim=axis, descending=bool(descending))
    return index.reshape(()) if was_0d else index


@op("msort", method=True)
def msort(input):
    """``sort(input, dim=0).values``.

    Example:
        >>> ember.msort(ember.tensor([[2.0, 1.0], [1.0, 3.0]]))
        tensor([[1., 1.],
                [2., 3.]])
    """
    return _sorted_pair(input, 0, False, "msort")[0]


def _check_k(name: str, k, size: int, dim: int, low: int) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"{name}(): argument 'k' must be int, not {type(k).__name__}")
    if not low <= k <= size:
        raise RuntimeError(
            f"{name}(): selected number k={k} is out of range for dimension {dim} of size {size} "
            f"(expected {low} <= k <= {size})"
        )
    return int(k)


@op("topk", method=True)
def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002  (PyTorch's name)
    """The ``k`` largest (or smallest) elements along ``dim``: ``(values, indices)``.

    The results come sorted (largest first, or smallest first with ``largest=False``) whatever
    ``sorted`` says; among equal elements the first ones win.

    Example:
        >>> ember.tensor([1.0, 5.0, 3.0, 4.0]).topk(2)
        topk(values=tensor([5., 4.]), indices=tensor([1, 3]))
    """
    line, axis, was_0d = as_line(input, dim, "topk")
    k = _check_k("topk", k, line._array.shape[axis], axis, 0)
    index = Argsort.apply(line, dim=axis, descending=bool(largest))
    index = index.narrow(axis, 0, k)
    values = gather_line(line, axis, index)
    if was_0d:
        return _TOPK(values.reshape(()) if k else values.reshape(0),
                     index.reshape(()) if k else index.reshape(0))
    return _TOPK(values, index)


def _select_at(line: Tensor, axis: int, index: Tensor, keepdim: bool, was_0d: bool):
    """(values, indices) of ``index`` (size 1 along ``axis``), squeezed unless ``keepdim``."""
    values = gather_line(line, axis, index)
    if was_0d:
        return values.reshape(()), index.reshape(())
    if not keepdim:
        return values.squeeze(axis), index.squeeze(axis)
    return values, index


@op("kthvalue", method=True)
def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest element (1-based) along ``dim``: ``(values, indices)``.

    Example:
        >>> ember.tensor([4.0, 1.0, 3.0]).kthvalue(2)
        kthvalue(values=tensor(3.), indices=tensor(2))
    """
    line, axis, was_0d = as_line(input, dim, "kthvalue")
    k = _check_k("kthvalue", k, line._array.shape[axis], axis, 1)
    index = Argsort.apply(line, dim=axis, descending=False).narrow(axis, k - 1, 1)
    return _KTHVALUE(*_select_at(line, axis, index, keepdim, was_0d))


@primitive("mode_index")
class ModeIndex(Function):
    """Where the mode of each line sits: the most frequent value (the smallest one among equally
    frequent values), at its last occurrence, as PyTorch's CPU kernel picks."""

    @staticmethod
    def forward(ctx, a, dim):
        xp = ctx.xp
        lines = xp.moveaxis(a, dim, -1)
        order = xp.argsort(lines, axis=-1, kind="stable")
        ordered = xp.take_along_axis(lines, order, axis=-1)
        n = ordered.shape[-1]
        positions = xp.broadcast_to(xp.arange(n), ordered.shape)
        starts = xp.ones(ordered.shape, dtype=bool)
        starts[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
        run_start = accumulate("maximum", xp.where(starts, positions, 0), -1)
        run_length = positions - run_start + 1  # counted so far: largest at the end of a run
        best = run_length.argmax(axis=-1)[..., None]  # first maximum: the smallest value
        index = xp.take_along_axis(order, best, axis=-1)  # stable: the last of equal values
        return xp.moveaxis(index, -1, dim).astype(np.int64, copy=False)


@op("mode", method=True)
def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` and where it is: ``(values, indices)``.

    Among equally frequent values the smallest wins; the index is its last occurrence.

    Example:
        >>> ember.tensor([1, 3, 3, 1, 2]).mode()
        mode(values=tensor(1), indices=tensor(3))
    """
    line, axis, was_0d = as_line(input, dim, "mode")
    if line._array.shape[axis] == 0:
        raise IndexError(
            f"mode(): Expected reduction dim {axis} to have non-zero size (input shape "
            f"{tuple(input.shape)})"
        )
    index = ModeIndex.apply(line, dim=axis)
    return _MODE(*_select_at(line, axis, index, keepdim, was_0d))
