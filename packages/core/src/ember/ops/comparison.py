"""Comparisons, logical and bitwise ops, NaN tests, and the selections built on them: where,
maximum/minimum, clamp and nan_to_num.

Comparisons promote their operands like arithmetic (an int tensor against 0.5 compares in the
default float dtype) and return bool tensors, which never require grad.
"""

from __future__ import annotations

import operator

import numpy as np

from ember.autograd.function import Function
from ember.backend import xp_of
from ember.ops._promotion import cast, promote_all, tensor_operand
from ember.ops.arithmetic import _as_tensor_first, _binary, _operand
from ember.ops.conversion import Clone
from ember.ops.elementwise import Elementwise, tensor_pair
from ember.ops.op import op, primitive
from ember.tensor import dtypes
from ember.tensor.registry import lookup
from ember.tensor.tensor import Tensor

# ---- non-differentiable primitives -----------------------------------------------------------


def _predicate(name: str, compute):
    """A Function ``name`` whose result (bool or integer) has no gradient:
    ``compute(xp, *arrays, **attrs)``."""

    def forward(ctx, *arrays, **attrs):
        return compute(ctx.xp, *arrays, **attrs)

    def backward(ctx, *grads):
        return None

    class_name = "".join(part.capitalize() for part in name.split("_"))
    cls = type(class_name, (Function,), {
        "forward": staticmethod(forward),
        "backward": staticmethod(backward),
        "__doc__": f"Elementwise {name} (not differentiable).",
        "__module__": __name__,
    })
    return primitive(name)(cls)


# Types a comparison operator understands; others get NotImplemented, so ``tensor == None`` is
# False (Python's fallback) instead of an error, as in PyTorch.
_OPERAND_TYPES = (Tensor, int, float, np.ndarray, np.generic)


def _comparison(name: str, compare, operator_name: str, aliases=()):
    """Registers ``ember.<name>``, ``Tensor.<name>`` and the operator ``operator_name``."""
    prim = _predicate(name, lambda xp, a, b: compare(a, b))
    scalar_prim = _predicate(f"{name}_scalar", lambda xp, a, other: compare(a, other))

    def function(input, other):
        input, other = _as_tensor_first(input, other, name)
        return _binary(prim, scalar_prim, input, other, name)

    def method(self, other):
        if other.__class__ is Tensor and self._array.dtype is other._array.dtype:
            return prim.apply(self, other)
        if not isinstance(other, _OPERAND_TYPES):
            return NotImplemented
        return _binary(prim, scalar_prim, self, other, name)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"Elementwise ``input {operator_name}`` other with broadcasting and type "
                        "promotion; a bool tensor.")
    for registered in (name, *aliases):
        op(registered, method=True)(function)
    setattr(Tensor, operator_name, method)
    return function


eq = _comparison("eq", operator.eq, "__eq__")
ne = _comparison("ne", operator.ne, "__ne__", aliases=("not_equal",))
lt = _comparison("lt", operator.lt, "__lt__", aliases=("less",))
le = _comparison("le", operator.le, "__le__", aliases=("less_equal",))
gt = _comparison("gt", operator.gt, "__gt__", aliases=("greater",))
ge = _comparison("ge", operator.ge, "__ge__", aliases=("greater_equal",))


@op("equal", method=True)
def equal(input, other) -> bool:
    """True if both tensors have the same shape and elements (NaN is never equal)."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    input, other = tensor_pair(input, other, "equal")
    return bool(eq(input, other)._array.all())


IsClose = _predicate(
    "isclose", lambda xp, a, b, rtol, atol, equal_nan: (
        a == b if a.dtype.kind == "b" else xp.isclose(a, b, rtol=rtol, atol=atol,
                                                      equal_nan=equal_nan)
    ),
)


@op("isclose", method=True)
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``|input - other| <= atol + rtol * |other|`` elementwise (infinities equal themselves).

    Both tensors must have the same dtype, as in PyTorch.
    """
    if not isinstance(other, Tensor):
        other = cast(tensor_operand(other, input, "isclose"), input._array.dtype)
    if input._array.dtype != other._array.dtype:
        raise RuntimeError(
            f"isclose: expected both inputs to have the same dtype, got {input.dtype} and "
            f"{other.dtype}"
        )
    return IsClose.apply(input, other, rtol=float(rtol), atol=float(atol),
                         equal_nan=bool(equal_nan))


@op("allclose", method=True)
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """True if ``isclose`` holds everywhere (shapes broadcast)."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._array.all())


# ---- logical and bitwise ---------------------------------------------------------------------

_LogicalAnd = _predicate("logical_and", lambda xp, a, b: xp.logical_and(a, b))
_LogicalOr = _predicate("logical_or", lambda xp, a, b: xp.logical_or(a, b))
_LogicalXor = _predicate("logical_xor", lambda xp, a, b: xp.logical_xor(a, b))
_LogicalNot = _predicate("logical_not", lambda xp, a: xp.logical_not(a))
_BitwiseAnd = _predicate("bitwise_and", lambda xp, a, b: a & b)
_BitwiseOr = _predicate("bitwise_or", lambda xp, a, b: a | b)
_BitwiseXor = _predicate("bitwise_xor", lambda xp, a, b: a ^ b)
_BitwiseNot = _predicate("bitwise_not", lambda xp, a: ~a)


def _logical(prim, input, other, name):
    # Any dtypes: nonzero is True; no promotion is needed for a truth value.
    input, other = _as_tensor_first(input, other, name)
    if not isinstance(other, Tensor):
        other = _operand(other, input, name)
    return prim.apply(input, other)


@op("logical_and", method=True)
def logical_and(input, other):
    """Elementwise ``input and other`` on truth values (nonzero is True); a bool tensor."""
    return _logical(_LogicalAnd, input, other, "logical_and")


@op("logical_or", method=True)
def logical_or(input, other):
    return _logical(_LogicalOr, input, other, "logical_or")


@op("logical_xor", method=True)
def logical_xor(input, other):
    return _logical(_LogicalXor, input, other, "logical_xor")


@op("logical_not", method=True)
def logical_not(input):
    return _LogicalNot.apply(input)


def _check_integral(name, *tensors):
    for t in tensors:
        if t._array.dtype.kind == "f":
            raise RuntimeError(
                f"{name}: expected bool or integer tensors, got "
                + " and ".join(str(u.dtype) for u in tensors)
            )


def _bitwise(prim, input, other, name):
    input, other = tensor_pair(input, other, name)
    _check_integral(name, input, other)
    return prim.apply(input, other)


@op("bitwise_and", method=("bitwise_and", "__and__"))
def bitwise_and(input, other):
    """Elementwise ``input & other`` for bool and integer tensors (logical on bool)."""
    return _bitwise(_BitwiseAnd, input, other, "bitwise_and")


@op("bitwise_or", method=("bitwise_or", "__or__"))
def bitwise_or(input, other):
    return _bitwise(_BitwiseOr, input, other, "bitwise_or")


@op("bitwise_xor", method=("bitwise_xor", "__xor__"))
def bitwise_xor(input, other):
    return _bitwise(_BitwiseXor, input, other, "bitwise_xor")


@op("bitwise_not", method=("bitwise_not", "__invert__"))
def bitwise_not(input):
    """Elementwise ``~input``: logical not on bool tensors, two's complement on integers."""
    _check_integral("bitwise_not", input)
    return _BitwiseNot.apply(input)


Tensor.__rand__ = lambda self, other: bitwise_and(other, self)
Tensor.__ror__ = lambda self, other: bitwise_or(other, self)
Tensor.__rxor__ = lambda self, other: bitwise_xor(other, self)


# ---- NaN and infinity ------------------------------------------------------------------------


def _float_test(name, test, default: bool):
    """A predicate true where ``test`` holds; integer and bool tensors are all ``default``."""

    def compute(xp, x):
        if x.dtype.kind == "f":
            return test(xp, x)
        return xp.full(x.shape, default, dtype=bool)

    prim = _predicate(name, compute)

    def function(input):
        return prim.apply(input)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Elementwise {name}; a bool tensor of the input's shape."
    return op(name, method=True)(function)


isnan = _float_test("isnan", lambda xp, x: xp.isnan(x), False)
isinf = _float_test("isinf", lambda xp, x: xp.isinf(x), False)
isfinite = _float_test("isfinite", lambda xp, x: xp.isfinite(x), True)
isposinf = _float_test("isposinf", lambda xp, x: x == np.inf, False)
isneginf = _float_test("isneginf", lambda xp, x: x == -np.inf, False)


@primitive("nan_to_num")
class NanToNum(Elementwise):
    """Replaces NaN and infinities; the gradient passes where the input was finite."""

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        ctx.save_for_backward(x)
        return ctx.xp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def gradient(m, ctx, grad, x):
        return m.where(m.isfinite(x), grad, 0)


@op("nan_to_num", method=True)
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN becomes ``nan``, +inf ``posinf`` and -inf ``neginf`` (by default the largest and
    smallest finite values of the dtype); integer tensors come back as a copy."""
    if input._array.dtype.kind != "f":
        return Clone.apply(input)
    return NanToNum.apply(input, nan=float(nan), posinf=posinf, neginf=neginf)


# ---- where -----------------------------------------------------------------------------------


@primitive("where")
class Where(Elementwise):
    """``input`` where ``condition`` holds, else ``other`` (all three broadcast)."""

    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.save_for_backward(condition)
        return ctx.xp.where(condition, a, b)

    @staticmethod
    def gradient(m, ctx, grad, condition):
        needs = ctx.needs_input_grad
        return (None,
                m.where(condition, grad, 0) if needs[1] else None,
                m.where(condition, 0, grad) if needs[2] else None)


def _where_operand(value, condition, numpy_dtype):
    if isinstance(value, Tensor):
        return cast(value, numpy_dtype)
    return Tensor(xp_of(condition._array).asarray(value, dtype=numpy_dtype))


@op("where")
def where(condition, input=None, other=None):
    """Elementwise ``input if condition else other``; ``input`` and ``other`` are tensors or
    Python numbers, promoted together, and all three broadcast. ``where(condition)`` alone is
    ``nonzero(condition, as_tuple=True)``.

    Example:
        >>> x = ember.tensor([-1.0, 2.0])
        >>> ember.where(x > 0, x, 0.0)
        tensor([0., 2.])
    """
    if input is None and other is None:
        return lookup("nonzero")(condition, as_tuple=True)
    if condition._array.dtype.kind != "b":
        raise RuntimeError(
            f"where: expected condition to be a bool tensor, but got a tensor with dtype "
            f"{condition.dtype}"
        )
    if input.__class__ is Tensor and other.__class__ is Tensor \
            and input._array.dtype is other._array.dtype:
        return Where.apply(condition, input, other)
    operands = [v if isinstance(v, (Tensor, int, float)) else tensor_operand(v, condition, "where")
                for v in (input, other)]
    target = dtypes.result_type(*operands).numpy
    return Where.apply(condition, *[_where_operand(v, condition, target) for v in operands])


op("where", method="where", function=False)(
    lambda self, condition, other: where(condition, self, other)
)


# ---- maximum and minimum ---------------------------------------------------------------------


def _extremum(name: str, ufunc_name: str, doc: str):
    """maximum/minimum/fmax/fmin: the gradient goes to the operand equal to the result, split
    evenly on ties (as PyTorch does); none where the result is NaN."""

    def forward(ctx, a, b):
        out = getattr(ctx.xp, ufunc_name)(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    def gradient(m, ctx, grad, a, b, out):
        needs = ctx.needs_input_grad
        a_hit, b_hit = a == out, b == out
        half = grad * 0.5
        return (m.where(a_hit, m.where(b_hit, half, grad), 0) if needs[0] else None,
                m.where(b_hit, m.where(a_hit, half, grad), 0) if needs[1] else None)

    prim = primitive(name)(type(name.capitalize(), (Elementwise,), {
        "forward": staticmethod(forward), "gradient": staticmethod(gradient),
        "__doc__": doc, "__module__": __name__,
    }))

    def function(input, other):
        return prim.apply(*tensor_pair(input, other, name))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return op(name, method=True)(function)


maximum = _extremum("maximum", "maximum",
                    "Elementwise maximum with broadcasting; NaN propagates.")
minimum = _extremum("minimum", "minimum",
                    "Elementwise minimum with broadcasting; NaN propagates.")
fmax = _extremum("fmax", "fmax", "Elementwise maximum that ignores NaN (unless both are NaN).")
fmin = _extremum("fmin", "fmin", "Elementwise minimum that ignores NaN (unless both are NaN).")


# ---- clamp -----------------------------------------------------------------------------------


def _inside(x, low, high):
    """Where ``low <= x <= high`` (a None bound is no bound): the gradient passes there."""
    if low is None:
        return x <= high
    if high is None:
        return x >= low
    return (x >= low) & (x <= high)


@primitive("clamp")
class Clamp(Elementwise):
    """Clamps into ``[min, max]`` given as Python numbers (either may be None)."""

    @staticmethod
    def forward(ctx, x, min, max):  # noqa: A002  (PyTorch's names)
        ctx.save_for_backward(x)
        return ctx.xp.clip(x, min, max)

    @staticmethod
    def gradient(m, ctx, grad, x):
        attrs = ctx.attrs
        return m.where(_inside(x, attrs["min"], attrs["max"]), grad, 0)


@primitive("clamp_tensor")
class ClampTensor(Elementwise):
    """Clamps by tensor bounds: inputs are ``x`` then the bounds present, flagged by
    ``has_min``/``has_max``. Where min > max the result is max, as in PyTorch."""

    @staticmethod
    def forward(ctx, x, *bounds, has_min, has_max):
        ctx.save_for_backward(x, *bounds)
        out = x
        if has_min:
            out = ctx.xp.maximum(out, bounds[0])
        if has_max:
            out = ctx.xp.minimum(out, bounds[-1])
        return out

    @staticmethod
    def gradient(m, ctx, grad, x, *bounds):
        # PyTorch's rule: x gets the gradient inside the bounds, min below it (unless min > max),
        # max above it (and everywhere when min > max, since the result is max there).
        has_min, has_max = ctx.attrs["has_min"], ctx.attrs["has_max"]
        low = bounds[0] if has_min else None
        high = bounds[-1] if has_max else None
        needs = ctx.needs_input_grad
        grads = [m.where(_inside(x, low, high), grad, 0) if needs[0] else None]
        if has_min:
            below = x < low if high is None else (x < low) & (low < high)
            grads.append(m.where(below, grad, 0) if needs[1] else None)
        if has_max:
            above = x > high if low is None else (x > high) | (high < low)
            grads.append(m.where(above, grad, 0) if needs[-1] else None)
        return tuple(grads)


@op("clamp", method=("clamp", "clip"))
def clamp(input, min=None, max=None):  # noqa: A002  (PyTorch's names)
    """Clamps every element into ``[min, max]``; bounds are Python numbers or tensors that
    broadcast with ``input`` (either may be None). The gradient passes where
    ``min <= input <= max``.

    Example:
        >>> ember.tensor([-2.0, 0.5, 3.0]).clamp(min=0.0, max=1.0)
        tensor([0.0000, 0.5000, 1.0000])
    """
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return _clamp_tensors(input, min, max)
    if input._array.dtype.kind != "f":  # a float bound lifts an integer tensor, as in arithmetic
        bounds = [b for b in (min, max) if b is not None]
        input = cast(input, dtypes.result_type(input, *bounds).numpy)
    return Clamp.apply(input, min=min, max=max)


def _clamp_tensors(input, min, max):  # noqa: A002
    bounds = [b if isinstance(b, Tensor) else _operand(b, input, "clamp")
              for b in (min, max) if b is not None]
    input, *bounds = promote_all([input, *bounds])
    return ClampTensor.apply(input, *bounds, has_min=min is not None, has_max=max is not None)


@op("clip")
def clip(input, min=None, max=None):  # noqa: A002
    return clamp(input, min, max)


@op("clamp_min", method=True)
def clamp_min(input, min):  # noqa: A002
    return clamp(input, min=min)


@op("clamp_max", method=True)
def clamp_max(input, max):  # noqa: A002
    return clamp(input, max=max)
