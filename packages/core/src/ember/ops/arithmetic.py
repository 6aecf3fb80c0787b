"""Arithmetic: + - * / // % ** and negation, with PyTorch's type promotion.

Tensor-scalar forms are primitives of their own (``add_scalar`` ...) with the scalar as a static
attribute: no wrapping of Python numbers in arrays on the hot path, and a constant for jit.
"""

from __future__ import annotations

import math

from ember.autograd.function import Function
from ember.backend import xp_of
from ember.ops._promotion import promote_pair, scalar_operand, tensor_operand, to_floating
from ember.ops.op import op, primitive
from ember.tensor.tensor import Tensor

# ---- primitives ------------------------------------------------------------------------------


@primitive("add")
class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad

    backward_arrays = backward


@primitive("sub")
class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)

    backward_arrays = backward


@primitive("mul")
class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        needs = ctx.needs_input_grad
        return (grad * b if needs[0] else None, grad * a if needs[1] else None)

    @staticmethod
    def backward_arrays(ctx, grad):
        a, b = ctx.saved_arrays
        needs = ctx.needs_input_grad
        return (grad * b if needs[0] else None, grad * a if needs[1] else None)


@primitive("div")
class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        needs = ctx.needs_input_grad
        return (grad / b if needs[0] else None, -grad * a / (b * b) if needs[1] else None)

    @staticmethod
    def backward_arrays(ctx, grad):
        a, b = ctx.saved_arrays
        needs = ctx.needs_input_grad
        grad_a = grad / b
        return (grad_a if needs[0] else None, -grad_a * a / b if needs[1] else None)


@primitive("pow")
class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_a = grad * b * a ** (b - 1) if needs[0] else None
        # d/db a^b = a^b log a; where a == 0 the limit is 0 (PyTorch's convention), not nan.
        grad_b = grad * out * a.where(a != 0, 1.0).log() if needs[1] else None
        return grad_a, grad_b


@primitive("neg")
class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad

    backward_arrays = backward


@primitive("add_scalar")
class AddScalar(Function):
    @staticmethod
    def forward(ctx, a, other):
        return a + other

    @staticmethod
    def backward(ctx, grad):
        return grad

    backward_arrays = backward


@primitive("rsub_scalar")
class RSubScalar(Function):
    """``other - a``."""

    @staticmethod
    def forward(ctx, a, other):
        return other - a

    @staticmethod
    def backward(ctx, grad):
        return -grad

    backward_arrays = backward


@primitive("mul_scalar")
class MulScalar(Function):
    @staticmethod
    def forward(ctx, a, other):
        ctx.other = other
        return a * other

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.other

    backward_arrays = backward


@primitive("div_scalar")
class DivScalar(Function):
    @staticmethod
    def forward(ctx, a, other):
        ctx.other = other
        return a / other

    @staticmethod
    def backward(ctx, grad):
        return grad / ctx.other

    backward_arrays = backward


@primitive("rdiv_scalar")
class RDivScalar(Function):
    """``other / a``."""

    @staticmethod
    def forward(ctx, a, other):
        ctx.save_for_backward(a)
        ctx.other = other
        return other / a

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * (-ctx.other) / (a * a)

    @staticmethod
    def backward_arrays(ctx, grad):
        (a,) = ctx.saved_arrays
        return grad * (-ctx.other) / (a * a)


@primitive("pow_scalar")
class PowScalar(Function):
    """``a ** exponent`` for a Python number ``exponent``."""

    @staticmethod
    def forward(ctx, a, other):
        ctx.save_for_backward(a)
        ctx.exponent = other
        if other == 2:
            return a * a
        return a**other

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        exponent = ctx.exponent
        if exponent == 0:
            return grad * 0
        if exponent == 2:
            return grad * 2 * a
        return grad * exponent * a ** (exponent - 1)

    @staticmethod
    def backward_arrays(ctx, grad):
        (a,) = ctx.saved_arrays
        exponent = ctx.exponent
        if exponent == 2:
            return grad * 2 * a
        return grad * exponent * a ** (exponent - 1)


@primitive("rpow_scalar")
class RPowScalar(Function):
    """``base ** a`` for a Python number ``base``."""

    @staticmethod
    def forward(ctx, a, base):
        out = base**a
        ctx.save_for_backward(out)
        ctx.base = base
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        if ctx.base == 0:
            return grad * 0
        return grad * out * math.log(ctx.base)


@primitive("floor_divide")
class FloorDivide(Function):
    """Rounds the quotient toward negative infinity; piecewise constant, so its gradient is 0."""

    @staticmethod
    def forward(ctx, a, b):
        return ctx.xp.floor_divide(a, b)

    @staticmethod
    def backward(ctx, grad):
        return grad * 0, grad * 0


@primitive("remainder")
class Remainder(Function):
    """Python's modulus (sign of the divisor), like ``torch.remainder``."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.remainder(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        needs = ctx.needs_input_grad
        return grad, (-grad * (a / b).floor() if needs[1] else None)


# ---- user-facing forms -----------------------------------------------------------------------


def _binary(prim, scalar_prim, a, b, name):
    if isinstance(b, Tensor):
        if a._array.dtype is not b._array.dtype:
            a, b = promote_pair(a, b)
        return prim.apply(a, b)
    if scalar_prim is not None and isinstance(b, (int, float)):
        if b.__class__ is not float or a._array.dtype.kind != "f":
            a, b = scalar_operand(a, b, name)
        return scalar_prim.apply(a, other=b)
    b = b if isinstance(b, Tensor) else _operand(b, a, name)
    if a._array.dtype is not b._array.dtype:
        a, b = promote_pair(a, b)
    return prim.apply(a, b)


def _operand(value, like, name):
    """A non-Tensor operand as a Tensor; Python numbers become 0-d tensors of the promoted dtype."""
    if isinstance(value, (int, float)):
        promoted, value = scalar_operand(like, value, name)
        return Tensor(xp_of(promoted._array).asarray(value, dtype=promoted._array.dtype))
    return tensor_operand(value, like, name)


def _as_tensor_first(a, b, name):
    if isinstance(a, Tensor):
        return a, b
    return _operand(a, b, name), b


@op("add", method=True)
def add(input, other, *, alpha=1):
    """``input + alpha * other`` with broadcasting and type promotion."""
    input, other = _as_tensor_first(input, other, "add")
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _binary(Add, AddScalar, input, other, "add")


@op("sub", method=True)
def sub(input, other, *, alpha=1):
    """``input - alpha * other``."""
    input, other = _as_tensor_first(input, other, "sub")
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    if isinstance(other, Tensor) or not isinstance(other, (bool, int, float)):
        return _binary(Sub, None, input, other, "sub")
    return _binary(Add, AddScalar, input, -other, "sub")


@op("mul", method=True)
def mul(input, other):
    input, other = _as_tensor_first(input, other, "mul")
    return _binary(Mul, MulScalar, input, other, "mul")


@op("div", method=("div", "true_divide"))
def div(input, other, *, rounding_mode=None):
    """True division (integers divide to the default float dtype); ``rounding_mode`` is None,
    ``"trunc"`` or ``"floor"`` as in PyTorch."""
    input, other = _as_tensor_first(input, other, "div")
    if rounding_mode == "floor":
        return floor_divide(input, other)
    input = to_floating(input)
    if isinstance(other, Tensor):
        other = to_floating(other)
    result = _binary(Div, DivScalar, input, other, "div")
    if rounding_mode == "trunc":
        return result.trunc()
    if rounding_mode is not None:
        raise ValueError(
            f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}"
        )
    return result


@op("true_divide")
def true_divide(input, other):
    return div(input, other)


@op("pow", method=True)
def pow(input, exponent):  # noqa: A001  (PyTorch's name)
    if not isinstance(input, Tensor):
        return _rpow(exponent, input)
    return _binary(Pow, PowScalar, input, exponent, "pow")


@op("float_power", method=True)
def float_power(input, exponent):
    """``pow`` computed in float64."""
    input = input.double()
    if isinstance(exponent, Tensor):
        exponent = exponent.double()
    return pow(input, exponent)


@op("neg", method=("neg", "negative", "__neg__"))
def neg(input):
    if input._array.dtype.kind == "b":
        raise RuntimeError(
            "neg: negation, the `-` operator, on a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    return Neg.apply(input)


@op("negative")
def negative(input):
    return neg(input)


@op("floor_divide", method=True)
def floor_divide(input, other):
    input, other = _as_tensor_first(input, other, "floor_divide")
    if not isinstance(other, Tensor):
        other = _operand(other, input, "floor_divide")
    if input._array.dtype is not other._array.dtype:
        input, other = promote_pair(input, other)
    return FloorDivide.apply(input, other)


@op("remainder", method=True)
def remainder(input, other):
    input, other = _as_tensor_first(input, other, "remainder")
    if not isinstance(other, Tensor):
        other = _operand(other, input, "remainder")
    if input._array.dtype is not other._array.dtype:
        input, other = promote_pair(input, other)
    return Remainder.apply(input, other)


def _rsub(self, other):
    if isinstance(other, (bool, int, float)):
        a, other = scalar_operand(self, other, "rsub")
        return RSubScalar.apply(a, other=other)
    return sub(_operand(other, self, "rsub"), self)


def _rdiv(self, other):
    a = to_floating(self)
    if isinstance(other, (bool, int, float)):
        return RDivScalar.apply(a, other=other)
    return div(_operand(other, self, "rdiv"), self)


def _rpow(self, base):
    if isinstance(base, (bool, int, float)):
        a, base = scalar_operand(self, base, "pow")
        return RPowScalar.apply(a, base=base)
    return pow(_operand(base, self, "pow"), self)


def _rfloordiv(self, other):
    return floor_divide(_operand(other, self, "floor_divide"), self)


def _rmod(self, other):
    return remainder(_operand(other, self, "remainder"), self)


# The operators' applies, bound once: looking a classmethod up makes a bound method per call.
_add_apply, _sub_apply, _mul_apply, _div_apply = Add.apply, Sub.apply, Mul.apply, Div.apply


def _add_fast(self, other):
    if isinstance(other, Tensor) and self._array.dtype is other._array.dtype:
        return _add_apply(self, other)
    if not isinstance(other, (Tensor, int, float)) and getattr(other, "is_sparse", False):
        return NotImplemented  # dense + sparse: the SparseTensor adds (a dense result)
    return _binary(Add, AddScalar, self, other, "add")


def _mul_fast(self, other):
    if isinstance(other, Tensor) and self._array.dtype is other._array.dtype:
        return _mul_apply(self, other)
    return _binary(Mul, MulScalar, self, other, "mul")


def _sub_fast(self, other):
    if isinstance(other, Tensor) and self._array.dtype is other._array.dtype:
        return _sub_apply(self, other)
    return sub(self, other)


def _div_fast(self, other):
    if (isinstance(other, Tensor) and self._array.dtype is other._array.dtype
            and self._array.dtype.kind == "f"):
        return _div_apply(self, other)
    return div(self, other)


Tensor.__add__ = _add_fast
Tensor.__radd__ = _add_fast
Tensor.__sub__ = _sub_fast
Tensor.__rsub__ = _rsub
Tensor.__mul__ = _mul_fast
Tensor.__rmul__ = _mul_fast
Tensor.__truediv__ = _div_fast
Tensor.__rtruediv__ = _rdiv
Tensor.__pow__ = pow
Tensor.__rpow__ = _rpow
Tensor.__floordiv__ = floor_divide
Tensor.__rfloordiv__ = _rfloordiv
Tensor.__mod__ = remainder
Tensor.__rmod__ = _rmod
Tensor.__pos__ = lambda self: self
Tensor.__array_ufunc__ = None  # numpy defers to the reflected Tensor operators
