"""``Tensor.unfold``: every window of ``size`` elements, ``step`` apart, along one dimension."""

from __future__ import annotations

from ember.ops._dims import normalize_dim
from ember.ops.op import op
from ember.tensor.tensor import Tensor


@op("unfold", method=True, function=False)
def unfold(self: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """The windows ``self[..., i*step : i*step + size, ...]`` along ``dimension``, as PyTorch's
    ``Tensor.unfold``: that dimension becomes the window count ``(len - size) // step + 1`` and a
    new last dimension of length ``size`` holds each window.

    Where Ember differs: the result is a copy (gathered with ``index_select``, so gradients flow
    back to ``self``), not a view sharing ``self``'s memory; writing into it leaves ``self``
    unchanged.

    Example:
        >>> ember.arange(5.).unfold(0, 2, 2)
        tensor([[0., 1.],
                [2., 3.]])
    """
    ndim = max(self.ndim, 1)
    dim = normalize_dim(dimension, ndim, "unfold")
    length = self.shape[dim] if self.ndim else 1
    if size < 0 or size > length:
        raise RuntimeError(f"unfold: maximum size for tensor at dimension {dim} is {length} but "
                           f"size is {size}")
    if step <= 0:
        raise RuntimeError(f"unfold: step is {step} but must be > 0")
    source = self if self.ndim else self.reshape(1)
    count = (length - size) // step + 1
    starts = source.new_tensor(range(0, count * step, step)).long().unsqueeze(1)
    index = (starts + source.new_tensor(range(size)).long()).reshape(-1)
    windows = source.index_select(dim, index)
    shape = source.shape[:dim] + (count, size) + source.shape[dim + 1:]
    out = windows.reshape(shape).movedim(dim + 1, -1)
    return out if self.ndim else out.reshape(size)  # PyTorch: a 0-d tensor gives (size,)
