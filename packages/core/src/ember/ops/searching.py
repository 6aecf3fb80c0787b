"""Searching sorted sequences: ``searchsorted`` and ``bucketize`` (int64 results, no gradient)."""

from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.backend import xp_of
from ember.ops.op import op, primitive
from ember.tensor.tensor import Tensor


@primitive("searchsorted")
class SearchSorted(Function):
    """For each value, the position in its sorted line where it would be inserted."""

    @staticmethod
    def forward(ctx, boundaries, values, side, out_dtype):
        xp = ctx.xp
        if values.size == 0:
            return xp.zeros(values.shape, dtype=out_dtype)
        if boundaries.ndim == 1:
            out = xp.searchsorted(boundaries, values, side=side)
        else:  # one sorted line per leading index
            lines = boundaries.reshape(-1, boundaries.shape[-1])
            queries = values.reshape(-1, values.shape[-1])
            out = xp.stack([xp.searchsorted(line, query, side=side)
                            for line, query in zip(lines, queries)]).reshape(values.shape)
        return xp.asarray(out, dtype=out_dtype)


def _side(right: bool, side) -> str:
    if side is None:
        return "right" if right else "left"
    if side not in ("left", "right"):
        raise RuntimeError(f"searchsorted(): side can only be 'left' or 'right' but got {side!r}")
    if right and side == "left":
        raise RuntimeError(
            "searchsorted(): side and right can't be set to opposites, got side of left while "
            "right was True"
        )
    return side


def _values(values, boundaries: Tensor, name: str) -> Tensor:
    if isinstance(values, Tensor):
        return values
    if boundaries._array.ndim != 1:
        raise RuntimeError(
            f"{name}(): input value can be a scalar only when boundaries tensor dimension is 1, "
            f"but we got boundaries tensor dim({boundaries._array.ndim})"
        )
    return Tensor(xp_of(boundaries._array).asarray(values))


def _check_shapes(boundaries: Tensor, values: Tensor, name: str) -> None:
    b_shape, v_shape = boundaries._array.shape, values._array.shape
    if len(b_shape) == 0:
        raise RuntimeError(f"{name}(): boundaries tensor should have at least 1 dimension, got "
                           "a 0-d tensor")
    if len(b_shape) > 1 and (len(v_shape) != len(b_shape) or v_shape[:-1] != b_shape[:-1]):
        raise RuntimeError(
            f"{name}(): boundaries tensor should be 1 dimension or the first N-1 dimensions of "
            f"boundaries tensor and input value tensor must match, but we got boundaries tensor "
            f"{list(b_shape)} and input value tensor {list(v_shape)}"
        )


@op("searchsorted")
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """Indices where the elements of ``input`` would be inserted into ``sorted_sequence`` (its
    innermost dim sorted ascending) to keep it sorted.

    ``sorted_sequence`` is 1-D (shared by all values) or has ``input``'s leading dims (one
    sorted line per leading index). ``right=True`` (or ``side="right"``) returns the position
    after equal elements instead of before. ``sorter`` holds the indices that sort an unsorted
    ``sorted_sequence``. The result has ``input``'s shape, int64 (int32 with ``out_int32``).

    Example:
        >>> ember.searchsorted(ember.tensor([1, 3, 5, 7]), ember.tensor([3, 6, 9]))
        tensor([1, 3, 4])
    """
    side = _side(right, side)
    input = _values(input, sorted_sequence, "searchsorted")
    _check_shapes(sorted_sequence, input, "searchsorted")
    if sorter is not None:
        if sorter._array.shape != sorted_sequence._array.shape:
            raise RuntimeError(
                f"searchsorted(): boundary and sorter must have the same size, but got boundary "
                f"{list(sorted_sequence.shape)} and sorter {list(sorter.shape)}"
            )
        sorted_sequence = sorted_sequence.gather(-1, sorter)
    out_dtype = np.int32 if out_int32 else np.int64
    scalar = input._array.ndim == 0
    values = input.reshape(1) if scalar else input
    out = SearchSorted.apply(sorted_sequence.detach(), values.detach(), side=side,
                             out_dtype=out_dtype)
    return out.reshape(()) if scalar else out


@op("bucketize", method=True)
def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each element of ``input`` for the ascending 1-D ``boundaries``: ``i`` with
    ``boundaries[i-1] < x <= boundaries[i]`` (``<=`` and ``<`` swapped with ``right=True``).

    Example:
        >>> ember.bucketize(ember.tensor([1, 5, 9]), ember.tensor([1, 3, 5, 7]))
        tensor([0, 2, 4])
    """
    if not isinstance(boundaries, Tensor) or boundaries._array.ndim != 1:
        shape = list(boundaries.shape) if isinstance(boundaries, Tensor) else None
        raise RuntimeError(f"bucketize(): boundaries tensor must be 1 dimension, but got shape "
                           f"{shape}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
