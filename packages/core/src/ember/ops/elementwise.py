"""Elementwise math: exp, log, tanh and the rest (integers compute in the default float dtype)."""

from __future__ import annotations

from ember.autograd.function import Function
from ember.ops._promotion import to_floating
from ember.ops.op import op, primitive


@primitive("exp")
class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


@op("exp", method=True)
def exp(input):
    return Exp.apply(to_floating(input))


@primitive("log")
class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.xp.log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / x


@op("log", method=True)
def log(input):
    return Log.apply(to_floating(input))


@primitive("tanh")
class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.tanh(x)
        ctx.save_for_backward(y)  # d tanh = 1 - y^2: keep the output, not the input
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


@op("tanh", method=True)
def tanh(input):
    return Tanh.apply(to_floating(input))
