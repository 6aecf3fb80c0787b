"""Activation functions, under ``torch.nn.functional``'s names (nn.functional re-exports them).

The common ones (relu, leaky_relu, elu, gelu, silu, softplus, hardtanh, threshold) are primitives
with their own backward; the rest are short compositions of ops. ``inplace=True`` overwrites the
input's memory as in PyTorch, through ``ember.ops.inplace``.
"""

from __future__ import annotations

import math

from ember.backend import fused, masked
from ember.ops._promotion import to_floating
from ember.ops.comparison import where
from ember.ops.elementwise import Elementwise, _sigmoid, array_math, normal_cdf
from ember.ops.inplace import apply_inplace
from ember.ops.op import op, primitive
from ember.tensor.tensor import Tensor

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_TANH_SCALE = math.sqrt(2.0 / math.pi)
_GELU_TANH_CUBIC = 0.044715
# Klambauer et al. (2017): the fixed point of self-normalising networks
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _in_place(function, input: Tensor, *args) -> Tensor:
    """``function(input, *args)`` written into ``input``'s memory (``inplace=True``), recorded
    for autograd by the shared in-place mechanism (views and version counters included)."""
    return apply_inplace(input, lambda current: function(current, *args))


# ---- primitives ------------------------------------------------------------------------------
# Each gradient is one formula over ``m`` (Tensor ops or array functions, see Elementwise).


@primitive("relu")
class Relu(Elementwise):
    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.maximum(x, 0)  # NaN propagates, as in PyTorch
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def gradient(m, ctx, grad, y):
        # 0 where y <= 0, as PyTorch: a NaN output passes its gradient (y >= 0 or NaN here)
        return m.where(y != 0, grad, 0)

    @staticmethod
    def backward_arrays(ctx, grad):
        (y,) = ctx.saved_arrays
        return fused("relu_backward", (grad, y), _formula, ctx, grad, y)

    @staticmethod
    def backward_arrays_in_place(ctx, grad):
        # the same mask in the gradient's own memory, when the engine hands over an unshared
        # gradient: a fresh result costs LeNet-5's step 0.3-0.8 ms (its (128, 6, 28, 28) ReLU);
        # on a GPU the kernel writes into the gradient (no allocation)
        (y,) = ctx.saved_arrays
        if grad.dtype.kind != "f":
            return Relu.gradient(array_math(ctx.xp), ctx, grad, y)
        return fused("relu_backward", (grad, y, grad), _mask_in_place, y, grad)


@primitive("leaky_relu")
class LeakyRelu(Elementwise):
    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.save_for_backward(x)
        return fused("leaky_relu", (x, negative_slope), _leaky_relu_arrays, ctx.xp, x,
                     negative_slope)

    @staticmethod
    def gradient(m, ctx, grad, x):
        return m.where(x > 0, grad, grad * ctx.attrs["negative_slope"])

    @staticmethod
    def backward_arrays(ctx, grad):
        (x,) = ctx.saved_arrays
        return fused("leaky_relu_backward", (grad, x, ctx.attrs["negative_slope"]),
                     _formula, ctx, grad, x)


@primitive("elu")
class Elu(Elementwise):
    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        return fused("elu", (x, alpha), _elu_arrays, ctx.xp, x, alpha)

    @staticmethod
    def gradient(m, ctx, grad, x):
        return m.where(x > 0, grad, grad * (m.exp(m.clamp_max(x, 0)) * ctx.attrs["alpha"]))

    @staticmethod
    def backward_arrays(ctx, grad):
        (x,) = ctx.saved_arrays
        return fused("elu_backward", (grad, x, ctx.attrs["alpha"]), _formula, ctx, grad, x)


@primitive("gelu")
class Gelu(Elementwise):
    """``x * Phi(x)`` (Phi the standard normal CDF), or its tanh approximation."""

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        if approximate == "tanh":
            return fused("gelu_tanh", (x,), _gelu_tanh_arrays, ctx.xp, x)
        return fused("gelu", (x,), _gelu_arrays, ctx.xp, x)

    @staticmethod
    def gradient(m, ctx, grad, x):
        x2 = x * x
        if ctx.attrs["approximate"] == "tanh":
            t = m.tanh(_GELU_TANH_SCALE * x * (1 + _GELU_TANH_CUBIC * x2))
            d_inner = _GELU_TANH_SCALE * (1 + 3 * _GELU_TANH_CUBIC * x2)
            return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner)
        cdf = m.normal_cdf(x)
        pdf = m.exp(x2 * -0.5) * _INV_SQRT_2PI
        return grad * (cdf + x * pdf)

    @staticmethod
    def backward_arrays(ctx, grad):
        (x,) = ctx.saved_arrays
        kernel = "gelu_tanh_backward" if ctx.attrs["approximate"] == "tanh" else "gelu_backward"
        return fused(kernel, (grad, x), _formula, ctx, grad, x)


@primitive("silu")
class Silu(Elementwise):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return fused("silu", (x,), _silu_arrays, ctx.xp, x)

    @staticmethod
    def gradient(m, ctx, grad, x):
        s = m.sigmoid(x)
        return grad * (s * (1 + x * (1 - s)))

    @staticmethod
    def backward_arrays(ctx, grad):
        (x,) = ctx.saved_arrays
        return fused("silu_backward", (grad, x), _formula, ctx, grad, x)


@primitive("softplus")
class Softplus(Elementwise):
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        ctx.save_for_backward(x)
        return fused("softplus", (x, beta, threshold), _softplus_arrays, ctx.xp, x, beta, threshold)

    @staticmethod
    def gradient(m, ctx, grad, x):
        z = x * ctx.attrs["beta"]
        return m.where(z > ctx.attrs["threshold"], grad, grad * m.sigmoid(z))

    @staticmethod
    def backward_arrays(ctx, grad):
        (x,) = ctx.saved_arrays
        attrs = ctx.attrs
        return fused("softplus_backward", (grad, x, attrs["beta"], attrs["threshold"]),
                     _formula, ctx, grad, x)


@primitive("hardtanh")
class Hardtanh(Elementwise):
    """Clamps into ``[min_val, max_val]``; the gradient passes strictly inside, as in PyTorch."""

    @staticmethod
    def forward(ctx, x, min_val, max_val):
        ctx.save_for_backward(x)
        return ctx.xp.clip(x, min_val, max_val)

    @staticmethod
    def gradient(m, ctx, grad, x):
        attrs = ctx.attrs
        return m.where((x > attrs["min_val"]) & (x < attrs["max_val"]), grad, 0)

    @staticmethod
    def backward_arrays(ctx, grad):
        (x,) = ctx.saved_arrays
        attrs = ctx.attrs
        return fused("hardtanh_backward", (grad, x, attrs["min_val"], attrs["max_val"]),
                     _formula, ctx, grad, x)


@primitive("threshold")
class Threshold(Elementwise):
    """``x`` where ``x > threshold``, else ``value``."""

    @staticmethod
    def forward(ctx, x, threshold, value):
        ctx.save_for_backward(x)
        return ctx.xp.where(x > threshold, x, ctx.xp.asarray(value, dtype=x.dtype))

    @staticmethod
    def gradient(m, ctx, grad, x):
        return m.where(x > ctx.attrs["threshold"], grad, 0)


# ---- array code: the CPU path of the fused kernels (ember.backend.fused) ---------------------


def _formula(ctx, grad, x):
    """The op's gradient formula over arrays (``Elementwise.backward_arrays`` for a saved x)."""
    return ctx.gradient(array_math(ctx.xp), ctx, grad, x)


def _mask_in_place(y, grad):
    return masked(y != 0, grad, out=grad)


def _leaky_relu_arrays(xp, x, negative_slope):
    return xp.where(x > 0, x, x * negative_slope)


def _elu_arrays(xp, x, alpha):
    # expm1 only of the non-positive part: large positive x would overflow where() discards
    return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))


def _gelu_arrays(xp, x):
    result = normal_cdf(xp, x)
    result *= x
    return result


def _gelu_tanh_arrays(xp, x):
    inner = _GELU_TANH_SCALE * (x + _GELU_TANH_CUBIC * x * x * x)
    return 0.5 * x * (1 + xp.tanh(inner))


def _silu_arrays(xp, x):
    return x * _sigmoid(xp, x)


def _softplus_arrays(xp, x, beta, threshold):
    z = x * beta
    # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for any z
    smooth = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / beta
    return xp.where(z > threshold, x, smooth)


# ---- public functions ------------------------------------------------------------------------


def _relu(input):
    return Relu.apply(input)


@op("relu", method=True)
def relu(input, inplace: bool = False):
    """``max(input, 0)`` elementwise (integer tensors stay integer).

    Example:
        >>> ember.relu(ember.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """
    return _in_place(_relu, input) if inplace else Relu.apply(input)


def _leaky_relu(input, negative_slope):
    return LeakyRelu.apply(to_floating(input), negative_slope=float(negative_slope))


@op("leaky_relu")
def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """``input`` where positive, else ``negative_slope * input``."""
    if inplace:
        return _in_place(_leaky_relu, input, negative_slope)
    return _leaky_relu(input, negative_slope)


def _hardtanh(input, min_val, max_val):
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    return Hardtanh.apply(input, min_val=min_val, max_val=max_val)


@op("hardtanh")
def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """Clamps into ``[min_val, max_val]`` (gradient zero on and outside the bounds)."""
    if inplace:
        return _in_place(_hardtanh, input, min_val, max_val)
    return _hardtanh(input, min_val, max_val)


@op("relu6")
def relu6(input, inplace: bool = False):
    """``min(max(input, 0), 6)``."""
    return hardtanh(input, 0.0, 6.0, inplace)


def _threshold(input, threshold, value):
    return Threshold.apply(input, threshold=threshold, value=value)


@op("threshold")
def threshold(input, threshold: float, value: float, inplace: bool = False):
    """``input`` where ``input > threshold``, else ``value``."""
    if inplace:
        return _in_place(_threshold, input, threshold, value)
    return _threshold(input, threshold, value)


def _elu(input, alpha):
    return Elu.apply(to_floating(input), alpha=float(alpha))


@op("elu")
def elu(input, alpha: float = 1.0, inplace: bool = False):
    """``input`` where positive, else ``alpha * (exp(input) - 1)``."""
    return _in_place(_elu, input, alpha) if inplace else _elu(input, alpha)


def _selu(input):
    return _elu(input, _SELU_ALPHA) * _SELU_SCALE


@op("selu")
def selu(input, inplace: bool = False):
    """``scale * elu(input, alpha)`` with the self-normalising constants of Klambauer et al."""
    return _in_place(_selu, input) if inplace else _selu(input)


def _celu(input, alpha):
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides the input)")
    if alpha == 1:
        return _elu(input, 1.0)
    return _elu(to_floating(input) / alpha, 1.0) * alpha


@op("celu")
def celu(input, alpha: float = 1.0, inplace: bool = False):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    return _in_place(_celu, input, alpha) if inplace else _celu(input, alpha)


@op("gelu")
def gelu(input, approximate: str = "none"):
    """``input * Phi(input)`` with Phi the standard normal CDF; ``approximate="tanh"`` uses
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(to_floating(input), approximate=approximate)


def _silu(input):
    return Silu.apply(to_floating(input))


@op("silu")
def silu(input, inplace: bool = False):
    """``input * sigmoid(input)`` (swish)."""
    return _in_place(_silu, input) if inplace else _silu(input)


@op("softplus")
def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """``log(1 + exp(beta * input)) / beta``; linear where ``beta * input > threshold``."""
    return Softplus.apply(to_floating(input), beta=float(beta), threshold=float(threshold))


def _mish(input):
    input = to_floating(input)
    return input * softplus(input).tanh()


@op("mish")
def mish(input, inplace: bool = False):
    """``input * tanh(softplus(input))``."""
    return _in_place(_mish, input) if inplace else _mish(input)


@op("logsigmoid")
def logsigmoid(input):
    """``log(sigmoid(input)) = -softplus(-input)``, without overflow."""
    return -softplus(-to_floating(input))


@op("softsign")
def softsign(input):
    """``input / (1 + |input|)``."""
    input = to_floating(input)
    return input / (1 + input.abs())


@op("tanhshrink")
def tanhshrink(input):
    """``input - tanh(input)``."""
    input = to_floating(input)
    return input - input.tanh()


def _hardsigmoid(input):
    return _hardtanh(to_floating(input) / 6 + 0.5, 0.0, 1.0)


@op("hardsigmoid")
def hardsigmoid(input, inplace: bool = False):
    """``relu6(input + 3) / 6``: 0 below -3, 1 above 3, linear between."""
    return _in_place(_hardsigmoid, input) if inplace else _hardsigmoid(input)


def _hardswish(input):
    input = to_floating(input)
    return input * _hardsigmoid(input)


@op("hardswish")
def hardswish(input, inplace: bool = False):
    """``input * hardsigmoid(input)``."""
    return _in_place(_hardswish, input) if inplace else _hardswish(input)


@op("hardshrink", method=True)
def hardshrink(input, lambd: float = 0.5):
    """``input`` where ``|input| > lambd``, else 0."""
    return where(input.abs() > lambd, input, 0)


@op("softshrink")
def softshrink(input, lambd: float = 0.5):
    """Shrinks toward zero by ``lambd``: ``input - clamp(input, -lambd, lambd)``."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be non-negative, got {lambd}")
    return input - input.clamp(-lambd, lambd)


@op("prelu")
def prelu(input, weight):
    """``input`` where positive, else ``weight * input``; ``weight`` has one element or one per
    channel (dimension 1 of ``input``, shape ``(N, C, ...)``)."""
    channels = weight.numel()
    if channels != 1:
        if input.ndim < 2 or input.shape[1] != channels:
            raise RuntimeError(
                f"prelu: weight has {channels} elements but the input of shape "
                f"{tuple(input.shape)} has {input.shape[1] if input.ndim > 1 else 1} channels "
                "(dimension 1); expected one weight or one per channel"
            )
        weight = weight.reshape((channels,) + (1,) * (input.ndim - 2))
    elif weight.ndim:
        weight = weight.reshape(())
    return where(input > 0, input, weight * input)
