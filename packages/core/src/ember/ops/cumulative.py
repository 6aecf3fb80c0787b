"""Running extremes and the running log-sum-exp along a dim: cummax, cummin, logcumsumexp.

(``cumsum`` and ``cumprod`` live with the other sums in ``statistics``.)
"""

from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.backend import accumulate
from ember.ops._promotion import to_floating
from ember.ops._results import return_type
from ember.ops.op import op, primitive
from ember.ops.sorting import as_line, gather_line
from ember.tensor.tensor import Tensor

_CUMMAX = return_type("cummax")
_CUMMIN = return_type("cummin")


@primitive("cumulative_extreme_index")
class CumulativeExtremeIndex(Function):
    """For each position, where the running max (or min) so far sits.

    PyTorch's rule: an element equal to the running extreme takes over (the index is the last
    occurrence), a NaN always takes over, and nothing takes over from a NaN.
    """

    @staticmethod
    def forward(ctx, a, dim, largest):
        xp = ctx.xp
        running = accumulate("maximum" if largest else "minimum", a, dim)
        takes_over = a == running
        if a.dtype.kind == "f":
            takes_over |= xp.isnan(a)
        shape = [1] * a.ndim
        shape[dim] = a.shape[dim]
        positions = xp.arange(a.shape[dim]).reshape(shape)
        index = accumulate("maximum", xp.where(takes_over, positions, 0), dim)
        return index.astype(np.int64, copy=False)


def _cumulative_extreme(input, dim, largest: bool, name: str):
    line, axis, was_0d = as_line(input, dim, name)
    index = CumulativeExtremeIndex.apply(line, dim=axis, largest=largest)
    values = gather_line(line, axis, index)
    if was_0d:
        return values.reshape(()), index.reshape(())
    return values, index


@op("cummax", method=True)
def cummax(input, dim):
    """Running maximum along ``dim`` and where it was found: ``(values, indices)``.

    Example:
        >>> ember.tensor([1.0, 3.0, 2.0, 3.0]).cummax(0)
        cummax(values=tensor([1., 3., 3., 3.]), indices=tensor([0, 1, 1, 3]))
    """
    return _CUMMAX(*_cumulative_extreme(input, dim, True, "cummax"))


@op("cummin", method=True)
def cummin(input, dim):
    """Running minimum along ``dim`` and where it was found: ``(values, indices)``.

    Example:
        >>> ember.tensor([2.0, 1.0, 3.0]).cummin(0)
        cummin(values=tensor([2., 1., 1.]), indices=tensor([0, 1, 1]))
    """
    return _CUMMIN(*_cumulative_extreme(input, dim, False, "cummin"))


@primitive("logcumsumexp")
class LogCumSumExp(Function):
    """``log(cumsum(exp(a), dim))``; the backward is PyTorch's, in log space so that it neither
    overflows nor loses small terms, and made of this op itself (differentiable again)."""

    @staticmethod
    def forward(ctx, a, dim):
        with np.errstate(invalid="ignore", under="ignore"):  # -inf inputs; tiny terms
            out = accumulate("logaddexp", a, dim)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        dim = ctx.attrs["dim"]
        xp = ctx.xp
        lowest = Tensor(xp.asarray(np.finfo(grad._array.dtype).min, dtype=grad._array.dtype))
        one = Tensor(xp.ones((), dtype=grad._array.dtype))
        positive, negative = grad > 0, grad < 0
        log_magnitude = grad.abs().where(positive | negative, one).log()  # no log(0) anywhere

        def reverse_logcumsumexp(x):
            return LogCumSumExp.apply(x.flip(dim), dim=dim).flip(dim)

        def part(mask):
            return (reverse_logcumsumexp(log_magnitude.where(mask, lowest) - out) + a).exp()

        with np.errstate(over="ignore"):  # lowest + lowest (double backward) is -inf: exp -> 0
            return part(positive) - part(negative)


@op("logcumsumexp", method=True)
def logcumsumexp(input, dim):
    """``log(cumsum(exp(input), dim))`` computed stably (integers become floats).

    Example:
        >>> ember.tensor([0.0, 0.0, 0.0]).logcumsumexp(0)
        tensor([0.0000, 0.6931, 1.0986])
    """
    line, axis, was_0d = as_line(to_floating(input), dim, "logcumsumexp")
    out = LogCumSumExp.apply(line, dim=axis)
    return out.reshape(()) if was_0d else out
