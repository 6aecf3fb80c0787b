"""Statistics over dimensions: var/std, norm, logsumexp and the cumulative sum and product."""

from __future__ import annotations

import math

import numpy as np

from ember.autograd.function import Function
from ember.ops._dims import keepdim_shape, normalize_dim, normalize_dims
from ember.ops._promotion import cast, to_floating
from ember.ops.op import op, primitive
from ember.ops.reduction import Sum, _constant, _integer_to_int64
from ember.tensor import dtypes
from ember.tensor.registry import lookup
from ember.tensor.tensor import Tensor


def _keep(grad: Tensor, shape: tuple, axes: tuple, keepdim: bool) -> Tensor:
    """A reduction's gradient with the reduced dims kept as size 1 (broadcasts against input)."""
    return grad if keepdim or not axes else grad.reshape(keepdim_shape(shape, axes))




def _require_floating(name: str, input: Tensor) -> None:
    if input._array.dtype.kind != "f":
        raise RuntimeError(
            f"{name}(): only supports floating point dtypes, got {input.dtype} (cast with .float() "
            "first)"
        )


# ---- var / std ----------------------------------------------------------------------------------


def _inverse_dof(shape: tuple, axes: tuple, correction) -> float:
    """``1 / (N - correction)``, infinite where there are no degrees of freedom (PyTorch gives
    inf or nan there, with a warning)."""
    dof = math.prod(shape[axis] for axis in axes) - correction
    return 1.0 / dof if dof > 0 else math.inf


@primitive("var")
class Var(Function):
    @staticmethod
    def forward(ctx, a, axes, correction, keepdim):
        ctx.save_for_backward(a)
        return a.var(axis=axes, ddof=correction, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        attrs = ctx.attrs
        axes, keepdim, shape = attrs["axes"], attrs["keepdim"], a._array.shape
        centred = a - a.mean(dim=axes, keepdim=True)
        scale = 2.0 * _inverse_dof(shape, axes, attrs["correction"])
        return _keep(grad, shape, axes, keepdim) * centred * scale


@primitive("std")
class Std(Function):
    @staticmethod
    def forward(ctx, a, axes, correction, keepdim):
        out = a.std(axis=axes, ddof=correction, keepdims=keepdim)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        attrs = ctx.attrs
        axes, keepdim, shape = attrs["axes"], attrs["keepdim"], a._array.shape
        # Where std == 0 the gradient is 0 (PyTorch's choice), not 0/0.
        zero = out._array == 0
        dtype = a._array.dtype
        scaled = grad * _constant(ctx.xp, ~zero, dtype) / (out + _constant(ctx.xp, zero, dtype))
        centred = a - a.mean(dim=axes, keepdim=True)
        scale = _inverse_dof(shape, axes, attrs["correction"])
        return _keep(scaled, shape, axes, keepdim) * centred * scale


def _correction(name, dim, unbiased, correction):
    """Sorts out PyTorch's overloads: ``var(x, unbiased)``, ``var(x, dim, unbiased, keepdim)``,
    ``var(x, dim, correction=c, keepdim=k)``; returns (dim, correction)."""
    if isinstance(dim, bool):  # var(x, False): the positional argument was ``unbiased``
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise RuntimeError(f"{name}(): cannot specify both unbiased and correction")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, correction


def _spread(cls, name, input, dim, unbiased, keepdim, correction):
    _require_floating(name, input)
    dim, correction = _correction(name, dim, unbiased, correction)
    axes = normalize_dims(dim, input._array.ndim, name)
    return cls.apply(input, axes=axes, correction=correction, keepdim=bool(keepdim))


@op("var", method=True)
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over ``dim`` with ``N - correction`` degrees of freedom (``correction=1`` by
    default; ``unbiased=False`` means ``correction=0``).

    Example:
        >>> ember.tensor([1.0, 2.0, 3.0, 4.0]).var()
        tensor(1.6667)
    """
    return _spread(Var, "var", input, dim, unbiased, keepdim, correction)


@op("std", method=True)
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation over ``dim`` (see ``var``); its gradient is 0 where it is 0."""
    return _spread(Std, "std", input, dim, unbiased, keepdim, correction)


@op("var_mean")
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over ``dim`` in one call."""
    dim, correction = _correction("var_mean", dim, unbiased, correction)
    result = var(input, dim, keepdim=keepdim, correction=correction)
    return result, input.mean(dim=dim, keepdim=keepdim)


@op("std_mean")
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` over ``dim`` in one call."""
    dim, correction = _correction("std_mean", dim, unbiased, correction)
    result = std(input, dim, keepdim=keepdim, correction=correction)
    return result, input.mean(dim=dim, keepdim=keepdim)


# ---- norm ---------------------------------------------------------------------------------------


@primitive("norm")
class Norm(Function):
    """Vector p-norm over ``axes``: p = 2, 1, inf, -inf, 0 or any other number."""

    @staticmethod
    def forward(ctx, a, p, axes, keepdim):
        xp = ctx.xp
        if p == 2:
            out = xp.sqrt((a * a).sum(axis=axes, keepdims=keepdim))
        elif p == 0:
            out = (a != 0).sum(axis=axes, keepdims=keepdim).astype(a.dtype)
        else:
            magnitude = xp.abs(a)
            if p == 1:
                out = magnitude.sum(axis=axes, keepdims=keepdim)
            elif p == math.inf:
                out = magnitude.max(axis=axes, keepdims=keepdim)
            elif p == -math.inf:
                out = magnitude.min(axis=axes, keepdims=keepdim)
            else:
                out = (magnitude**p).sum(axis=axes, keepdims=keepdim) ** (1.0 / p)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        attrs = ctx.attrs
        p, axes, keepdim = attrs["p"], attrs["axes"], attrs["keepdim"]
        if p == 0:
            return None  # piecewise constant
        x = a._array
        dtype = x.dtype
        grad = _keep(grad, x.shape, axes, keepdim)
        norm = _keep(out, x.shape, axes, keepdim)
        zero = norm._array == 0
        if p == 2:  # x / |x|, with the subgradient 0 at x = 0 as PyTorch
            return grad / (norm + _constant(ctx.xp, zero, dtype)) * a
        sign = ctx.xp.sign(x)
        if p == 1:
            return grad * _constant(ctx.xp, sign, dtype)
        if p in (math.inf, -math.inf):  # shared evenly among the elements at the extreme
            ties = ctx.xp.abs(x) == norm._array
            share = sign * ties / ties.sum(axis=axes, keepdims=True)
            return grad * _constant(ctx.xp, share, dtype)
        # d||x||_p = sign(x) |x|^(p-1) / ||x||^(p-1)
        magnitude = a * _constant(ctx.xp, sign, dtype)
        safe_norm = norm + _constant(ctx.xp, zero, dtype)
        return grad * _constant(ctx.xp, sign, dtype) * (magnitude / safe_norm) ** (p - 1)


@op("norm", method=True)
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector norm of ``input`` over ``dim`` (all elements when None): ``p`` is a number, ``inf``,
    ``-inf`` or ``"fro"`` (the 2-norm of the entries); ``"nuc"`` is the nuclear norm of the
    matrices in ``dim`` (default the last two). At 0 the 2-norm's gradient is 0.

    Example:
        >>> ember.tensor([3.0, 4.0]).norm()
        tensor(5.)
    """
    if p == "nuc":  # the nuclear norm of the matrices in dims dim (the last two by default)
        return lookup("linalg_matrix_norm")(input, "nuc", (-2, -1) if dim is None else dim,
                                            keepdim, dtype=dtype)
    if dtype is not None:
        input = cast(input, dtypes.to_dtype(dtype).numpy)
    if p == "fro" or p is None:
        p = 2
    elif isinstance(p, str):
        raise RuntimeError(
            f"norm(): p={p!r} is not supported; use a number, inf, -inf, 'fro' or 'nuc'"
        )
    _require_floating("norm", input)
    axes = normalize_dims(dim, input._array.ndim, "norm")
    if p in (math.inf, -math.inf) and input._array.size == 0:
        raise RuntimeError(
            f"norm(): cannot compute the {p}-norm of an empty tensor of shape "
            f"{tuple(input._array.shape)} (no maximum or minimum)"
        )
    return Norm.apply(input, p=float(p), axes=axes, keepdim=bool(keepdim))


# ---- logsumexp ----------------------------------------------------------------------------------


@primitive("logsumexp")
class LogSumExp(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim):
        xp = ctx.xp
        if a.size == 0:
            out = xp.full(keepdim_shape(a.shape, axes), -np.inf, dtype=a.dtype)
        else:
            # Shift by the max so exp cannot overflow; infinite maxima would give inf - inf.
            shift = a.max(axis=axes, keepdims=True)
            shift = xp.where(xp.isfinite(shift), shift, 0)
            with np.errstate(divide="ignore"):  # a line of -inf gives log(0) = -inf, as PyTorch
                out = xp.log(xp.exp(a - shift).sum(axis=axes, keepdims=True)) + shift
        if not keepdim and axes:
            out = out.reshape(tuple(n for i, n in enumerate(a.shape) if i not in axes))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        attrs = ctx.attrs
        axes, keepdim, shape = attrs["axes"], attrs["keepdim"], a._array.shape
        return _keep(grad, shape, axes, keepdim) * (a - _keep(out, shape, axes, keepdim)).exp()


@op("logsumexp", method=True)
def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(input), dim))`` computed without overflow; integers become floats."""
    input = to_floating(input)
    axes = normalize_dims(dim, input._array.ndim, "logsumexp")
    return LogSumExp.apply(input, axes=axes, keepdim=bool(keepdim))


# ---- cumulative sum and product -----------------------------------------------------------------


@primitive("cumsum")
class Cumsum(Function):
    """Running sum along ``dim``; ``reverse`` sums from the end (the gradient of the other)."""

    @staticmethod
    def forward(ctx, a, dim, reverse=False):
        if not reverse:
            return a.cumsum(axis=dim)
        xp = ctx.xp
        return xp.flip(xp.flip(a, dim).cumsum(axis=dim), dim)

    @staticmethod
    def backward(ctx, grad):
        attrs = ctx.attrs
        return Cumsum.apply(grad, dim=attrs["dim"], reverse=not attrs.get("reverse", False))


def _cumulative(cls, name, input, dim, dtype):
    input = _integer_to_int64(input, dtype)
    dim = normalize_dim(dim, input._array.ndim, name)
    if input._array.ndim == 0:  # a 0-d tensor is its own running sum/product
        return cls.apply(input.reshape(1), dim=0).reshape(())
    return cls.apply(input, dim=dim)


@op("cumsum", method=True)
def cumsum(input, dim, *, dtype=None):
    """Running sum along ``dim`` (integers accumulate in int64).

    Example:
        >>> ember.tensor([1, 2, 3]).cumsum(0)
        tensor([1, 3, 6])
    """
    return _cumulative(Cumsum, "cumsum", input, dim, dtype)


@primitive("cumprod")
class Cumprod(Function):
    """Running product along ``dim``; the gradient is exact where the input holds zeros."""

    @staticmethod
    def forward(ctx, a, dim):
        out = a.cumprod(axis=dim)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        dim = ctx.attrs["dim"]
        zero = a._array == 0
        if not zero.any():  # d out_i / d x_j = out_i / x_j for i >= j
            return Cumsum.apply(grad * out, dim=dim, reverse=True) / a
        # Along a line whose first zero is at z: before z the formula above holds; at z the
        # running product that skips x_z is needed; after z the gradient is x_z (= 0) times that
        # product over x_j, which keeps the derivative in x_z (exact double backward for lines
        # with one zero; lines with more zeros get exact first derivatives).
        dtype = a._array.dtype
        seen = zero.cumsum(axis=dim)
        at_first = zero & (seen == 1)
        first = _constant(ctx.xp, at_first, dtype)
        after = _constant(ctx.xp, (seen >= 1) & ~at_first, dtype)
        safe = a + _constant(ctx.xp, zero, dtype)
        before = _constant(ctx.xp, seen == 0, dtype)
        grad_before = Cumsum.apply(grad * out, dim=dim, reverse=True) / safe * before
        skipped = Cumprod.apply(a * (1 - first) + first, dim=dim)  # no dependence on x_z
        tail = Cumsum.apply(grad * skipped, dim=dim, reverse=True)
        zero_value = Sum.apply(a * first, axes=(dim,), keepdim=True, dtype=None)
        return grad_before + tail * (first + after * zero_value / safe)


@op("cumprod", method=True)
def cumprod(input, dim, *, dtype=None):
    """Running product along ``dim`` (integers accumulate in int64)."""
    return _cumulative(Cumprod, "cumprod", input, dim, dtype)
