"""Counting values: ``histc`` (equal-width bins) and ``bincount`` (no gradient, as PyTorch)."""

from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.backend import index_add as backend_index_add
from ember.ops.op import op, primitive


@primitive("histc")
class Histc(Function):
    """Counts of ``a`` in ``bins`` equal bins over ``[low, high]``; the top edge belongs to the
    last bin and values outside are ignored. Bin ``int((x - low) * bins / (high - low))``, as
    PyTorch computes it."""

    @staticmethod
    def forward(ctx, a, bins, low, high):
        xp = ctx.xp
        values = a.reshape(-1)
        inside = values[(values >= low) & (values <= high)]
        position = ((inside - low) * (bins / (high - low))).astype(np.int64)
        position = xp.minimum(position, bins - 1)
        counts = xp.zeros(bins, dtype=a.dtype)
        backend_index_add(counts, (position,), xp.ones(position.shape, dtype=a.dtype))
        return counts


@op("histc", method=True)
def histc(input, bins=100, min=0, max=0):  # noqa: A002  (PyTorch's names)
    """Histogram of ``input`` in ``bins`` equal-width bins over ``[min, max]``.

    With ``min == max`` the range is the data's minimum and maximum (widened by 1 on each side
    when those are equal too). Elements outside the range are not counted. The result has
    ``input``'s floating dtype and no gradient.

    Example:
        >>> ember.histc(ember.tensor([1.0, 2.0, 1.0]), bins=4, min=0, max=3)
        tensor([0., 2., 1., 0.])
    """
    if input._array.dtype.kind != "f":
        raise RuntimeError(f"histc(): input tensor must be floating point, got {input.dtype}")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins <= 0:
        raise RuntimeError(f"histc(): bins must be > 0, but got {bins} for dimension 0")
    low, high = float(min), float(max)
    if low == high and input._array.size:
        low, high = float(input._array.min()), float(input._array.max())
    if low == high:
        low, high = low - 1.0, high + 1.0
    if low > high:
        raise RuntimeError(f"histc(): max must be larger than min, but got min {low} and max "
                           f"{high}")
    if not (np.isfinite(low) and np.isfinite(high)):
        raise RuntimeError(f"histc(): range of [{low}, {high}] is not finite")
    return Histc.apply(input.detach(), bins=int(bins), low=low, high=high)


@primitive("bincount")
class Bincount(Function):
    """How often each non-negative integer occurs in ``a`` (weighted by ``weights``)."""

    @staticmethod
    def forward(ctx, a, *weights, length):
        xp = ctx.xp
        add = weights[0] if weights else xp.ones(a.shape, dtype=np.int64)
        counts = xp.zeros(length, dtype=add.dtype)
        backend_index_add(counts, (a,), add)
        return counts


@op("bincount", method=True)
def bincount(input, weights=None, minlength=0):
    """Counts of each value in the 1-D non-negative integer ``input``: ``out[n]`` is how often
    ``n`` occurs (the sum of its ``weights`` when given). The length is ``max(input) + 1``, at
    least ``minlength``. int64 without weights, the weights' dtype with them; no gradient.

    Example:
        >>> ember.bincount(ember.tensor([0, 1, 1, 3]))
        tensor([1, 2, 0, 1])
    """
    array = input._array
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise RuntimeError(f"bincount(): only supports 1-d non-negative integral inputs, got "
                           f"{input.dtype} of shape {list(array.shape)}")
    if array.size and int(array.min()) < 0:
        raise RuntimeError(f"bincount(): only supports 1-d non-negative integral inputs, got "
                           f"the value {int(array.min())}")
    if minlength < 0:
        raise RuntimeError(f"bincount(): minlength should be >= 0, got {minlength}")
    if weights is not None and weights._array.shape != array.shape:
        raise RuntimeError(f"bincount(): weights should be 1-d and have the same length as "
                           f"input, got {list(weights.shape)} for input {list(array.shape)}")
    length = max(int(array.max()) + 1 if array.size else 0, int(minlength))
    if weights is None:
        return Bincount.apply(input, length=length)
    return Bincount.apply(input, weights.detach(), length=length)
