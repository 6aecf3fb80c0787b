"""Distinct elements or slices: ``unique`` and ``unique_consecutive`` (no gradient, as PyTorch).

Both reduce to one routine over the slices along ``dim`` (single elements when ``dim`` is None):
optionally sort them lexicographically, mark where a run of equal slices starts, and read the
values, the inverse map and the counts off those marks. NaNs never equal each other, so each NaN
is kept, as PyTorch does.
"""

from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.ops._dims import normalize_dim
from ember.ops.op import op, primitive


@primitive("unique")
class Unique(Function):
    """``(values, inverse, counts)`` of the slices of ``a`` along ``dim`` (all elements when
    ``dim`` is None), sorted first when ``sort`` is set."""

    @staticmethod
    def forward(ctx, a, dim, sort):
        xp = ctx.xp
        if dim is None:
            rows = a.reshape(-1, 1)
        else:
            rows = xp.moveaxis(a, dim, 0)
            rows = rows.reshape(rows.shape[0], -1)
        n = rows.shape[0]
        if sort and n:
            # lexsort's last key is the primary one: the first column of the slices
            order = xp.lexsort(rows.T[::-1]) if rows.shape[1] else xp.arange(n)
            rows = rows[order]
        else:
            order = xp.arange(n)
        starts = xp.ones(n, dtype=bool)
        if n > 1:
            starts[1:] = (rows[1:] != rows[:-1]).any(axis=1)
        group = xp.cumsum(starts) - 1  # which distinct slice each (sorted) slice is
        inverse = xp.empty(n, dtype=np.int64)
        inverse[order] = group
        first = xp.flatnonzero(starts)
        counts = xp.diff(xp.concatenate([first, xp.asarray([n])])).astype(np.int64)
        picked = rows[first]
        if dim is None:
            return picked.reshape(-1), inverse.reshape(a.shape), counts
        shape = xp.moveaxis(a, dim, 0).shape
        values = xp.moveaxis(picked.reshape((first.size,) + shape[1:]), 0, dim)
        return xp.ascontiguousarray(values), inverse, counts


def _unique(input, sort, return_inverse, return_counts, dim, name):
    if dim is not None:
        dim = normalize_dim(dim, input._array.ndim, name)
        if input._array.ndim == 0:
            raise IndexError(f"{name}(): dim {dim} is out of range for a 0-d tensor")
    values, inverse, counts = Unique.apply(input.detach(), dim=dim, sort=sort)
    if not (return_inverse or return_counts):
        return values
    return (values,) + ((inverse,) if return_inverse else ()) + ((counts,) if return_counts
                                                                  else ())


@op("unique", method=True)
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct elements of ``input`` (flattened), or its distinct slices along ``dim``.

    Results are always sorted ascending (lexicographically for slices), which ``sorted=False``
    allows in PyTorch too. With ``return_inverse``, also the int64 index of each element (or
    slice) in the result, shaped like ``input`` (or ``(input.size(dim),)``); with
    ``return_counts``, how often each distinct value occurs. Not differentiable.

    Example:
        >>> ember.unique(ember.tensor([2, 1, 2, 3]), return_inverse=True, return_counts=True)
        (tensor([1, 2, 3]), tensor([1, 0, 1, 2]), tensor([1, 2, 1]))
    """
    return _unique(input, True, return_inverse, return_counts, dim, "unique")


@op("unique_consecutive", method=True)
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """``input`` with each run of equal consecutive elements (or slices along ``dim``) reduced
    to one, like ``uniq``; ``return_inverse`` and ``return_counts`` as in ``unique``.

    Example:
        >>> ember.unique_consecutive(ember.tensor([1, 1, 2, 2, 3, 1, 1]), return_counts=True)
        (tensor([1, 2, 3, 1]), tensor([2, 2, 1, 2]))
    """
    return _unique(input, False, return_inverse, return_counts, dim, "unique_consecutive")
