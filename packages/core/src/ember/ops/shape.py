"""Shape ops: reshape/view, expand/broadcast_to and friends."""

from __future__ import annotations

from ember.autograd.function import Function
from ember.ops.op import op, primitive
from ember.tensor.tensor import Tensor


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


@primitive("reshape")
class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.input_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.input_shape)


@op("reshape", method=True)
def reshape(input: Tensor, *shape) -> Tensor:
    """The same elements in a new shape (a view when the memory layout allows); -1 is inferred."""
    shape = _shape_arg(shape)
    if shape == input.data.shape:
        return input
    try:
        return Reshape.apply(input, shape=shape)
    except ValueError:
        raise RuntimeError(
            f"reshape: shape {list(shape)} is invalid for input of size {input.data.size}"
        ) from None


@primitive("expand")
class Expand(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.input_shape = a.shape
        return ctx.xp.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.sum_to_size(ctx.input_shape)


@op("expand", method=True)
def expand(input: Tensor, *sizes) -> Tensor:
    """A broadcast view with singleton dimensions repeated; -1 keeps a dimension's size."""
    sizes = _shape_arg(sizes)
    shape = input.data.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({len(shape)})"
        )
    target = tuple(shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    if target == shape:
        return input
    for i, n in enumerate(shape):
        if n != 1 and n != target[lead + i]:
            raise RuntimeError(
                f"expand: the expanded size of the tensor ({target[lead + i]}) must match the "
                f"existing size ({n}) at non-singleton dimension {lead + i}. Target sizes: "
                f"{list(sizes)}. Tensor sizes: {list(shape)}"
            )
    return Expand.apply(input, shape=target)
