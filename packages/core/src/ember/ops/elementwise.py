"""Elementwise math: exp and log, trigonometry, rounding, erf, atan2 and the rest.

Integer and bool inputs of float functions (exp, sqrt, sin ...) compute in the default float
dtype; abs, sign and the rounding ops keep integer dtypes, as in PyTorch.
"""

from __future__ import annotations

import math
from functools import partial
from types import SimpleNamespace

import numpy as np

from ember.autograd.function import Function
from ember.backend import FusedByModule, fused, masked
from ember.ops._erf_float32 import erf_float32
from ember.ops._promotion import cast, promote_pair, to_floating
from ember.ops.arithmetic import _as_tensor_first, _operand
from ember.ops.conversion import Clone
from ember.ops.op import op, primitive
from ember.tensor.registry import OPS
from ember.tensor.tensor import Tensor

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_HALF = math.sqrt(0.5)
_CDF_CANCELS_BELOW = -2.0  # 1 + erf(x / sqrt 2) loses relative precision below this x


class _TensorMath:
    """Registered ops by name (``m.exp(x)`` is ``ember.exp(x)``): gradient formulas run on it
    when the backward itself is recorded (``create_graph=True``)."""

    def __getattr__(self, name):
        try:
            return OPS[name]
        except KeyError:  # hasattr, doctest and copy expect AttributeError
            raise AttributeError(f"no registered op named {name!r}") from None

    @staticmethod
    def normal_cdf(x):
        return 0.5 * OPS["erfc"](x * -_SQRT_HALF)


TENSOR_MATH = _TensorMath()
_ARRAY_MATH: dict = {}


def array_math(xp) -> SimpleNamespace:
    """The same names over raw arrays of module ``xp`` (numpy or cupy): the engine's fast path."""
    namespace = _ARRAY_MATH.get(xp)
    if namespace is None:
        namespace = _ARRAY_MATH[xp] = SimpleNamespace(
            exp=xp.exp, sqrt=xp.sqrt, sin=xp.sin, cos=xp.cos, sinh=xp.sinh, cosh=xp.cosh,
            tanh=xp.tanh, sign=xp.sign, where=partial(_where, xp), isfinite=xp.isfinite,
            clamp_max=xp.minimum, erf=partial(_erf, xp), erfc=partial(_erfc, xp),
            sigmoid=partial(_sigmoid, xp), normal_cdf=partial(normal_cdf, xp),
        )
    return namespace


def _where(xp, condition, x, y):
    """``xp.where``, with a faster path for the common gradient mask ``where(c, grad, 0)``."""
    if y.__class__ is int and y == 0 and x.__class__ is xp.ndarray and x.dtype.kind == "f":
        return masked(condition, x)
    return xp.where(condition, x, y)


class Elementwise(Function):
    """A Function whose backward is one formula, ``gradient(m, ctx, grad, *saved)``, written over
    a namespace ``m`` of math functions: Tensor ops when the backward is recorded (so it is
    differentiable), array functions in the engine's fast path. One formula, two paths that
    cannot drift apart. Masks are comparisons (``x > 0``) and selections ``m.where``."""

    gradient = None

    @staticmethod
    def backward(ctx, grad):
        return ctx.gradient(TENSOR_MATH, ctx, grad, *ctx.saved_tensors)

    @staticmethod
    def backward_arrays(ctx, grad):
        return ctx.gradient(array_math(ctx.xp), ctx, grad, *ctx.saved_arrays)


def _zero_gradient(m, grad, *saved):
    # Piecewise-constant ops: a zero gradient that stays connected to ``grad`` (double backward).
    return grad * 0


# ---- unary primitives, defined from their forward and the gradient formula ------------------


def _unary_primitive(name: str, compute, gradient, saves, kernels=(None, None)):
    """A Function ``name`` computing ``compute(xp, x)``, whose gradient is
    ``gradient(m, grad, saved)``; ``saves`` is "input", "output" or None (nothing).

    ``kernels`` names the fused kernels (``ember.backend.FusedByModule``) of the forward and of
    the array backward, where a GPU would otherwise run several: None keeps the array code alone.
    The class keeps their tables as ``fused_tables`` ("forward", "backward").
    """
    forward_kernel, backward_kernel = kernels
    tables = {}
    if forward_kernel is not None:
        array_compute = compute
        forwards = tables["forward"] = FusedByModule(
            forward_kernel, lambda xp: partial(array_compute, xp))

        def compute(xp, x):
            return forwards[xp](x)

    if saves == "input":

        def forward(ctx, x, **attrs):
            ctx.save_for_backward(x)
            return compute(ctx.xp, x, **attrs)

    elif saves == "output":

        def forward(ctx, x, **attrs):
            y = compute(ctx.xp, x, **attrs)
            ctx.save_for_backward(y)
            return y

    else:

        def forward(ctx, x, **attrs):
            return compute(ctx.xp, x, **attrs)

    if backward_kernel is None:

        def backward_arrays(ctx, grad):
            # Elementwise's, one call shorter (the formula takes no ctx): a call is 5% of a node
            return gradient(array_math(ctx.xp), grad, *ctx.saved_arrays)

    else:
        backwards = tables["backward"] = FusedByModule(
            backward_kernel, lambda xp: partial(gradient, array_math(xp)))

        def backward_arrays(ctx, grad):
            return backwards[ctx.xp](grad, *ctx.saved_arrays)

    class_name = "".join(part.capitalize() for part in name.split("_"))
    cls = type(class_name, (Elementwise,), {
        "forward": staticmethod(forward),
        "gradient": staticmethod(lambda m, ctx, grad, *saved: gradient(m, grad, *saved)),
        "backward_arrays": staticmethod(backward_arrays),
        "fused_tables": tables,
        "__doc__": f"Elementwise {name}.",
        "__module__": __name__,
    })
    return primitive(name)(cls)


def _floating_op(name: str, compute, gradient, saves="input", aliases=(), doc="",
                 kernels=(None, None)):
    """Registers ``ember.<name>`` and ``Tensor.<name>`` (and aliases) for a float function:
    integer and bool inputs are cast to the default float dtype first."""
    cls = _unary_primitive(name, compute, gradient, saves, kernels)
    apply = cls.apply

    def function(input):
        return apply(input if input._array.dtype.kind == "f" else to_floating(input))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc or f"Elementwise {name}; the result has the input's shape."
    for registered in (name, *aliases):
        op(registered, method=True)(function)
    return cls


Exp = _floating_op("exp", lambda xp, x: xp.exp(x), lambda m, g, y: g * y, "output")
Exp2 = _floating_op("exp2", lambda xp, x: xp.exp2(x), lambda m, g, y: g * y * _LN2, "output")
Expm1 = _floating_op("expm1", lambda xp, x: xp.expm1(x), lambda m, g, y: g * (y + 1), "output")
Log = _floating_op("log", lambda xp, x: xp.log(x), lambda m, g, x: g / x)
Log2 = _floating_op("log2", lambda xp, x: xp.log2(x), lambda m, g, x: g / (x * _LN2))
Log10 = _floating_op("log10", lambda xp, x: xp.log10(x), lambda m, g, x: g / (x * _LN10))
Log1p = _floating_op("log1p", lambda xp, x: xp.log1p(x), lambda m, g, x: g / (x + 1))
Sqrt = _floating_op("sqrt", lambda xp, x: xp.sqrt(x), lambda m, g, y: g * 0.5 / y, "output")
# d x^(-1/2) = -x^(-3/2) / 2 = -y^3 / 2
Rsqrt = _floating_op("rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda m, g, y: g * -0.5 * y * y * y,
                     "output")
Reciprocal = _floating_op("reciprocal", lambda xp, x: 1 / x, lambda m, g, y: -g * y * y, "output")
Sin = _floating_op("sin", lambda xp, x: xp.sin(x), lambda m, g, x: g * m.cos(x))
Cos = _floating_op("cos", lambda xp, x: xp.cos(x), lambda m, g, x: -g * m.sin(x))
Tan = _floating_op("tan", lambda xp, x: xp.tan(x), lambda m, g, y: g * (1 + y * y), "output")
Asin = _floating_op("asin", lambda xp, x: xp.arcsin(x), lambda m, g, x: g / m.sqrt(1 - x * x),
                    aliases=("arcsin",))
Acos = _floating_op("acos", lambda xp, x: xp.arccos(x), lambda m, g, x: -g / m.sqrt(1 - x * x),
                    aliases=("arccos",))
Atan = _floating_op("atan", lambda xp, x: xp.arctan(x), lambda m, g, x: g / (1 + x * x),
                    aliases=("arctan",))
Sinh = _floating_op("sinh", lambda xp, x: xp.sinh(x), lambda m, g, x: g * m.cosh(x))
Cosh = _floating_op("cosh", lambda xp, x: xp.cosh(x), lambda m, g, x: g * m.sinh(x))
# g - g y y rather than g (1 - y y): a Python scalar operand costs numpy 0.25 us more per call
# than an array (tanh's gradient on 8x8 1.05 -> 0.86 us); the same up to float rounding.
Tanh = _floating_op("tanh", lambda xp, x: xp.tanh(x), lambda m, g, y: g - g * y * y, "output",
                    kernels=(None, "tanh_backward"))
Asinh = _floating_op("asinh", lambda xp, x: xp.arcsinh(x), lambda m, g, x: g / m.sqrt(x * x + 1),
                     aliases=("arcsinh",))
Acosh = _floating_op("acosh", lambda xp, x: xp.arccosh(x), lambda m, g, x: g / m.sqrt(x * x - 1),
                     aliases=("arccosh",))
Atanh = _floating_op("atanh", lambda xp, x: xp.arctanh(x), lambda m, g, x: g / (1 - x * x),
                     aliases=("arctanh",))


def _sigmoid(xp, x):
    # 1 / (1 + exp(-x)) in one buffer, four passes (three times faster than a where-based form).
    # It keeps full relative precision for x << 0, and exp(-x) overflowing to inf there gives
    # exactly 0, as PyTorch: that overflow is expected, so it must not raise. Entering
    # np.errstate costs 1.3 us (more than the four passes on small tensors), so it is entered
    # only when the overflow did raise (np.seterr(over="raise"), or warnings made errors); in
    # numpy's default mode Ember's warnings filter hides it. An out= buffer keeps 0-d results
    # arrays (numpy's empty_like costs 0.25 us, so only there).
    e = xp.negative(x) if x.ndim else xp.negative(x, out=xp.empty_like(x))
    try:
        xp.exp(e, out=e)
    except (FloatingPointError, RuntimeWarning):
        with np.errstate(over="ignore"):
            xp.exp(xp.negative(x, out=e), out=e)
    e += _NUMPY_ONES.get(e.dtype.char, 1) if xp is np else 1
    return xp.reciprocal(e, out=e)


# numpy adds a Python scalar 0.25 us slower than a 0-d array of the other operand's dtype (its
# type resolution for Python scalars): sigmoid's "+ 1" takes these, read-only and shared.
_NUMPY_ONES = {}
for _dtype in (np.float16, np.float32, np.float64):
    _one = np.ones((), _dtype)
    _one.flags.writeable = False
    _NUMPY_ONES[_one.dtype.char] = _one


def _sigmoid_gradient(m, grad, y):
    # g y (1 - y) as g y - g y y: no Python scalar operand (see tanh), 1.35 -> 0.94 us on 8x8
    grad_y = grad * y
    return grad_y - grad_y * y


Sigmoid = _floating_op("sigmoid", _sigmoid, _sigmoid_gradient, "output",
                       kernels=("sigmoid", "sigmoid_backward"),
                       doc="Elementwise logistic function ``1 / (1 + exp(-x))``, without "
                           "overflow.")


# ---- erf without scipy -----------------------------------------------------------------------
# W. J. Cody's rational Chebyshev approximations (Math. Comp. 23, 1969; SPECFUN's CALERF), in
# numpy/cupy array arithmetic so one code path serves both. Measured against math.erf/erfc in
# float64: relative error below 1e-15 for |x| < 4 and below 1e-15 for erfc up to x = 26.5
# (where it underflows); erfc of float32 inputs computes in float32 (error ~1 ulp), float16 in
# float32. erf of float32 and float16 takes the cheaper rational of ops/_erf_float32.py. Each
# formula runs only on the elements in its interval (boolean masks), not on every element.

_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERFC_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
           2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
           2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERFC_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
           1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
           3.43936767414372164e03, 1.23033935480374942e03)
_ERFC_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
           1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERFC_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
           6.05183413124413191e-2, 2.33520497626869185e-3)
_ERF_SMALL = 0.46875  # below: erf by a series-like ratio; above: erfc by the tail formulas
_ERFC_LARGE = 4.0
_ERFC_UNDERFLOW = 30.0  # erfc(30) is 0 in float64; clipping keeps inf out of the arithmetic
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)


def _ratio(z, numerator, denominator, lead, last_num, last_den):
    """Cody's nested evaluation of num(z) / den(z), updating two buffers in place (a fresh
    array per step would dominate the cost on large inputs)."""
    num = z * lead
    den = z + denominator[0]
    num += numerator[0]
    num *= z
    den *= z
    for n, d in zip(numerator[1:], denominator[1:]):
        num += n
        num *= z
        den += d
        den *= z
    num += last_num
    den += last_den
    num /= den
    return num


def _erf_parts(xp, x):
    """``(work, near, erf(work[near]), erfc(|work[~near]|))`` with ``near = |x| <= 0.46875``:
    each formula runs only on the elements it serves (1.5x faster than computing every
    branch everywhere). ``work`` is ``x`` flattened (boolean masks of 0-d arrays differ between
    numpy and cupy), float16 widened to float32."""
    work = (x.astype(xp.float32) if x.dtype == xp.float16 else x).reshape(-1)
    y = xp.abs(work)
    near = y <= _ERF_SMALL
    small = work[near]
    erf_near = _ratio(small * small, _ERF_A[:3], _ERF_B[:3], _ERF_A[4], _ERF_A[3], _ERF_B[3])
    erf_near *= small
    y = xp.minimum(y[~near], _ERFC_UNDERFLOW)  # NaN stays NaN and takes the far formula
    mid = y <= _ERFC_LARGE
    tail = xp.empty_like(y)
    tail[mid] = _ratio(y[mid], _ERFC_C[:7], _ERFC_D[:7], _ERFC_C[8], _ERFC_C[7], _ERFC_D[7])
    far = y[~mid]
    z = 1 / (far * far)
    tail_far = _ratio(z, _ERFC_P[:4], _ERFC_Q[:4], _ERFC_P[5], _ERFC_P[4], _ERFC_Q[4])
    tail_far *= -z
    tail_far += _INV_SQRT_PI
    tail_far /= far
    tail[~mid] = tail_far
    # exp(-y^2) split as exp(-r^2) exp(-(y - r)(y + r)) with r = y rounded down to 1/16: y^2
    # itself is not exact, and its rounding error would be amplified in the tail.
    rounded = xp.floor(y * 16)
    rounded /= 16
    tail *= xp.exp(-rounded * rounded)
    tail *= xp.exp((rounded - y) * (y + rounded))
    return work, near, erf_near, tail


def _erf(xp, x):
    """erf of a float array: one kernel on a GPU (CUDA's ``erf``), Cody's formulas here, whose
    boolean masks would make a GPU wait for the host."""
    return fused("erf", (x,), _erf_array, xp, x)


def _erfc(xp, x):
    return fused("erfc", (x,), _erfc_array, xp, x)


def _erf_array(xp, x):
    if x.dtype == xp.float32 or x.dtype == xp.float16:
        return erf_float32(xp, x)  # 2.5x fewer passes, to float32 precision
    work, near, erf_near, tail = _erf_parts(xp, x)
    result = xp.empty_like(work)
    result[near] = erf_near
    result[~near] = xp.sign(work[~near]) * (1 - tail)
    return result.reshape(x.shape).astype(x.dtype, copy=False)


def _erfc_array(xp, x):
    work, near, erf_near, tail = _erf_parts(xp, x)
    result = xp.empty_like(work)
    result[near] = 1 - erf_near
    result[~near] = xp.where(work[~near] > 0, tail, 2 - tail)
    return result.reshape(x.shape).astype(x.dtype, copy=False)


def normal_cdf(xp, x):
    """The standard normal CDF ``erfc(-x / sqrt 2) / 2``, with relative precision in the left
    tail. In float32 and float16 it is ``(1 + erf(x / sqrt 2)) / 2`` on the fast float32 erf, and
    erfc only where that sum would cancel (x < -2, about 2% of normal inputs). (GELU, its user,
    runs its own kernels on a GPU.)"""
    if x.dtype != xp.float32 and x.dtype != xp.float16:
        return 0.5 * _erfc(xp, x * -_SQRT_HALF)
    flat = x.reshape(-1)  # boolean masks of 0-d arrays differ between numpy and cupy
    cdf = _erf(xp, flat * _SQRT_HALF)
    cdf += 1
    cdf *= 0.5
    left = flat < _CDF_CANCELS_BELOW
    cdf[left] = 0.5 * _erfc(xp, flat[left] * -_SQRT_HALF)
    return cdf.reshape(x.shape)


def _erf_derivative(m, x):
    """d erf / dx = 2 / sqrt(pi) * exp(-x^2)."""
    return m.exp(-x * x) * _TWO_OVER_SQRT_PI


Erf = _floating_op("erf", _erf, lambda m, g, x: g * _erf_derivative(m, x),
                   doc="The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``; "
                       "accurate to about 1e-15 relative in float64 (Cody's approximations), "
                       "and to float32 precision (within 8 ulp) in float32.")
Erfc = _floating_op("erfc", _erfc, lambda m, g, x: -g * _erf_derivative(m, x),
                    doc="``1 - erf(x)``, computed without cancellation for large x.")


# ---- ops that keep integer dtypes ------------------------------------------------------------

Abs = _unary_primitive("abs", lambda xp, x: xp.abs(x), lambda m, g, x: g * m.sign(x), "input")
Sign = _unary_primitive("sign", lambda xp, x: xp.sign(x), _zero_gradient, None)
Floor = _unary_primitive("floor", lambda xp, x: xp.floor(x), _zero_gradient, None)
Ceil = _unary_primitive("ceil", lambda xp, x: xp.ceil(x), _zero_gradient, None)
Trunc = _unary_primitive("trunc", lambda xp, x: xp.trunc(x), _zero_gradient, None)
Frac = _unary_primitive("frac", lambda xp, x: x - xp.trunc(x), lambda m, g: g, None)


Round = _unary_primitive("round", lambda xp, x, decimals: xp.round(x, decimals), _zero_gradient,
                         None)


@op("abs", method=("abs", "__abs__"))
def abs(input):  # noqa: A001  (PyTorch's name)
    """Elementwise absolute value; integer tensors stay integer."""
    return Abs.apply(input)


@op("absolute", method=True)
def absolute(input):
    return Abs.apply(input)


@op("sign", method=True)
def sign(input):
    """-1, 0 or 1 by the sign of each element (a bool tensor is its own sign)."""
    if input._array.dtype.kind == "b":
        return Clone.apply(input)
    return Sign.apply(input)


def _rounding(prim):
    """floor/ceil/trunc: integer tensors are already whole, so they come back as a copy."""

    def function(input):
        if input._array.dtype.kind != "f":
            return Clone.apply(input)
        return prim.apply(input)

    function.__name__ = function.__qualname__ = prim.name
    function.__doc__ = f"Elementwise {prim.name}; integer tensors are returned as a copy."
    return function


floor = op("floor", method=True)(_rounding(Floor))
ceil = op("ceil", method=True)(_rounding(Ceil))
trunc = op("trunc", method=True)(_rounding(Trunc))
fix = op("fix", method=True)(trunc)


@op("round", method=True)
def round(input, *, decimals=0):  # noqa: A001  (PyTorch's name)
    """Rounds half to even (as PyTorch and numpy do), at ``decimals`` decimal places."""
    if input._array.dtype.kind != "f" and decimals >= 0:
        return Clone.apply(input)
    return Round.apply(input, decimals=int(decimals))


@op("frac", method=True)
def frac(input):
    """The fractional part ``x - trunc(x)``, with the sign of ``x``."""
    if input._array.dtype.kind != "f":
        raise RuntimeError(f"frac: expected a floating point tensor, got {input.dtype}")
    return Frac.apply(input)


@op("square", method=True)
def square(input):
    """``input * input``; integers stay integer (a bool tensor squares in int64 as in PyTorch)."""
    if input._array.dtype.kind == "b":
        input = cast(input, np.int64)
    return input * input


# ---- binary ----------------------------------------------------------------------------------


def tensor_pair(input, other, name: str) -> tuple:
    """Two operands (Tensors, Python numbers, arrays) as Tensors of their promoted dtype."""
    input, other = _as_tensor_first(input, other, name)
    if not isinstance(other, Tensor):
        other = _operand(other, input, name)
    if input._array.dtype is not other._array.dtype:
        input, other = promote_pair(input, other)
    return input, other


def _floating_pair(input, other, name):
    """Both operands as tensors of one floating dtype (integers go to the default float)."""
    input, other = tensor_pair(input, other, name)
    return to_floating(input), to_floating(other)


@primitive("atan2")
class Atan2(Elementwise):
    """The angle of the point ``(other, input)``: ``atan(input / other)`` in the right quadrant."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.arctan2(a, b)

    @staticmethod
    def gradient(m, ctx, grad, a, b):
        scaled = grad / (a * a + b * b)
        needs = ctx.needs_input_grad
        return (scaled * b if needs[0] else None, -scaled * a if needs[1] else None)


@op("atan2", method=True)
def atan2(input, other):
    """Elementwise ``atan2(input, other)`` with broadcasting; the result is in ``[-pi, pi]``."""
    return Atan2.apply(*_floating_pair(input, other, "atan2"))


@op("arctan2", method=True)
def arctan2(input, other):
    return atan2(input, other)


@primitive("hypot")
class Hypot(Elementwise):
    """``sqrt(a^2 + b^2)`` without intermediate overflow."""

    @staticmethod
    def forward(ctx, a, b):
        out = ctx.xp.hypot(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def gradient(m, ctx, grad, a, b, out):
        scaled = grad / out
        needs = ctx.needs_input_grad
        return (scaled * a if needs[0] else None, scaled * b if needs[1] else None)


@op("hypot", method=True)
def hypot(input, other):
    """Elementwise length of the hypotenuse ``sqrt(input^2 + other^2)``, broadcasting."""
    return Hypot.apply(*_floating_pair(input, other, "hypot"))


@op("lerp", method=True)
def lerp(input, end, weight):
    """Linear interpolation ``input + weight * (end - input)``; ``weight`` is a number or a
    tensor, and all three broadcast together."""
    input, end = _floating_pair(input, end, "lerp")
    return input + weight * (end - input)
