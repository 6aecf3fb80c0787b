"""Special functions without scipy: erfinv, xlogy, logit, sinc, entr, ndtr/ndtri, mvlgamma.

``erfinv`` refines Giles' single-precision approximation with Halley or Newton steps on the
float64 ``erf``/``erfc`` of ``elementwise`` (float64 accuracy, also next to +-1); the others are
compositions or small Functions whose backward is made of ops (differentiable again).
"""

from __future__ import annotations

import math

import numpy as np

from ember.autograd.function import Function
from ember.backend import xp_of
from ember.ops._promotion import cast, promote_pair, to_floating
from ember.ops.elementwise import _erf, _erfc
from ember.ops.gamma import lgamma
from ember.ops.inplace import inplace_method
from ember.ops.op import op, primitive
from ember.tensor.registry import lookup
from ember.tensor.tensor import Tensor

_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_SQRT2 = math.sqrt(2.0)
# M. Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011), single precision
_GILES_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                  0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_GILES_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
               -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _polynomial(coefficients, w):
    result = coefficients[0] + 0.0 * w
    for c in coefficients[1:]:
        result = result * w + c
    return result


def _erfinv(xp, x):
    """erfinv in float64: a ~1e-7 start, then Halley steps on erf (|x| <= 0.5) or Newton steps
    on log erfc (whose target ``log(1 - |x|)`` is exact there: the tails keep their precision)."""
    x = x.astype(np.float64) if x.dtype != np.float64 else x
    magnitude = xp.abs(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        complement = 1.0 - magnitude
        w = -xp.log(complement * (1.0 + magnitude))
        y = xp.where(w < 5.0, _polynomial(_GILES_CENTRAL, w - 2.5),
                     _polynomial(_GILES_TAIL, xp.sqrt(w) - 3.0)) * magnitude
        y = xp.where(xp.isfinite(y), y, 0.0)
        near = magnitude <= 0.5
        log_complement = xp.log(complement)
        for _ in range(4):
            slope = _TWO_OVER_SQRT_PI * xp.exp(-y * y)  # d erf / dy
            # near 0: Halley on erf(y) = |x|; in the tails: Newton on log erfc(y) = log(1 - |x|),
            # which is close to linear in y^2 where erfc itself falls off steeply
            step = (_erf(xp, y) - magnitude) / slope
            halley = y - step / (1.0 + y * step)
            tail = _erfc(xp, y)
            newton = y + (xp.log(tail) - log_complement) * tail / slope
            y = xp.where(near, halley, newton)
    y = xp.where(magnitude == 1.0, xp.inf, y)
    y = xp.where(magnitude > 1.0, xp.nan, y)  # NaN stays NaN through the comparisons too
    return xp.where(xp.isnan(x), xp.nan, xp.copysign(y, x))


@primitive("erfinv")
class Erfinv(Function):
    @staticmethod
    def forward(ctx, x):
        out = _erfinv(ctx.xp, x).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * _SQRT_PI_OVER_2 * (y * y).exp()


@op("erfinv", method=True)
def erfinv(input):
    """The inverse of ``erf`` on (-1, 1): +-inf at +-1, NaN outside; float64-accurate.

    Example:
        >>> ember.tensor([0.0, 0.5, -0.9]).erfinv()
        tensor([ 0.0000,  0.4769, -1.1631])
    """
    return Erfinv.apply(to_floating(input))


class _XLog(Function):
    """``x * log(y)`` (``log1p`` for xlog1py), 0 where ``x == 0`` unless ``y`` is NaN."""

    log = "log"

    @classmethod
    def forward(cls, ctx, x, y):
        xp = ctx.xp
        with np.errstate(divide="ignore", invalid="ignore"):
            out = x * getattr(xp, cls.log)(y)
        ctx.save_for_backward(x, y)
        return xp.where((x == 0) & ~xp.isnan(y), 0.0, out).astype(out.dtype, copy=False)

    @classmethod
    def backward(cls, ctx, grad):
        x, y = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_x = grad_y = None
        if needs[0]:
            grad_x = grad * cls.apply(cast(x != 0, grad._array.dtype), y)
        if needs[1]:
            with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 is NaN, as PyTorch
                grad_y = grad * x / (y if cls.log == "log" else y + 1)
        return grad_x, grad_y


@primitive("xlogy")
class Xlogy(_XLog):
    log = "log"


@primitive("xlog1py")
class Xlog1py(_XLog):
    log = "log1p"


def _xlog(cls, name, input, other):
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"{name}(): expected at least one Tensor argument")
    like = input if isinstance(input, Tensor) else other
    input, other = (_as_operand(v, like) for v in (input, other))
    input, other = promote_pair(to_floating(input), to_floating(other))
    return cls.apply(input, other)


def _as_operand(value, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        return value
    dtype = like._array.dtype if like._array.dtype.kind == "f" else np.float32
    return Tensor(xp_of(like._array).asarray(value, dtype=dtype))


@op("xlogy", method=True)
def xlogy(input, other):
    """``input * log(other)``, and 0 where ``input`` is 0 (unless ``other`` is NaN); either
    argument may be a number.

    Example:
        >>> ember.xlogy(ember.tensor([0.0, 2.0]), ember.tensor([0.0, 4.0]))
        tensor([0.0000, 2.7726])
    """
    return _xlog(Xlogy, "xlogy", input, other)


def xlog1py(input, other):
    """``input * log1p(other)``, 0 where ``input`` is 0 (``ember.special.xlog1py``)."""
    return _xlog(Xlog1py, "xlog1py", input, other)


@op("logit", method=True)
def logit(input, eps=None):
    """``log(p / (1 - p))``; with ``eps``, ``p`` is first clamped to ``[eps, 1 - eps]`` (and
    the gradient is 0 outside, as PyTorch).

    Example:
        >>> ember.tensor([0.5, 0.75]).logit()
        tensor([0.0000, 1.0986])
    """
    p = to_floating(input)
    if eps is not None:
        p = p.clamp(eps, 1.0 - eps)
    return p.log() - (-p).log1p()


def entr(input):
    """``-x log(x)`` elementwise: 0 at 0, -inf for negative x (``ember.special.entr``)."""
    x = to_floating(input)
    negative = x < 0
    safe = x.masked_fill(negative, 1.0)
    return (-xlogy(safe, safe)).masked_fill(negative, -math.inf)


def ndtr(input):
    """The standard normal CDF, ``(1 + erf(x / sqrt(2))) / 2`` (``ember.special.ndtr``)."""
    return 0.5 * (to_floating(input) * -(1 / _SQRT2)).erfc()


def ndtri(input):
    """The inverse of ``ndtr``: ``sqrt(2) * erfinv(2p - 1)`` (``ember.special.ndtri``)."""
    return _SQRT2 * erfinv(2.0 * to_floating(input) - 1.0)


@primitive("sinc")
class Sinc(Function):
    @staticmethod
    def forward(ctx, x):
        out = ctx.xp.sinc(x).astype(x.dtype, copy=False)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        zero = x == 0
        safe = x.masked_fill(zero, 1.0)
        return grad * ((math.pi * x).cos() - y).masked_fill(zero, 0.0) / safe  # 0 at x = 0


@op("sinc", method=True)
def sinc(input):
    """The normalised sinc, ``sin(pi x) / (pi x)``, and 1 at 0.

    Example:
        >>> ember.tensor([0.0, 0.5]).sinc()
        tensor([1.0000, 0.6366])
    """
    return Sinc.apply(to_floating(input))


@op("mvlgamma", method=True)
def mvlgamma(input, p):
    """The log of the multivariate gamma function of dimension ``p``:
    ``p (p - 1) / 4 log(pi) + sum_j lgamma(x - j / 2)``, for ``x > (p - 1) / 2``.

    Example:
        >>> ember.mvlgamma(ember.tensor([2.5]), 2)
        tensor([0.8570])
    """
    x = to_floating(input)
    if p < 1:
        raise RuntimeError(f"mvlgamma(): p has to be greater than or equal to 1, got {p}")
    if bool((x._array <= (p - 1) / 2).any()):
        raise RuntimeError(f"mvlgamma(): All elements must be greater than (p-1)/2 = "
                           f"{(p - 1) / 2}")
    terms = lookup("stack")([lgamma(x - j / 2) for j in range(p)]).sum(0)
    return terms + p * (p - 1) / 4 * math.log(math.pi)


# PyTorch's in-place forms (sinc_ and xlogy_ come with the other in-place ops)
for _name in ("erfinv", "logit"):
    op(f"{_name}_", method=True, function=False)(inplace_method(_name))
