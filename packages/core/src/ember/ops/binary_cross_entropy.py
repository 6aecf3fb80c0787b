"""Binary cross entropy on probabilities, elementwise, with PyTorch's clamps in both directions.

``nn.functional.binary_cross_entropy`` weighs and reduces what this primitive returns. Forward
clamps each log at -100, so an input of exactly 0 or 1 gives a finite loss; backward divides by
``max(x (1 - x), 1e-12)``, so there the gradient is large and finite, not nan, as PyTorch's.
The target's gradient is the difference of the clamped logs the forward used (PyTorch's is
+-inf where the input is 0 or 1).
"""

from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.ops.op import primitive

_LOG_FLOOR = -100.0
_EPSILON = 1e-12




@primitive("binary_cross_entropy")
class BinaryCrossEntropy(Function):
    """``-(t log x + (1 - t) log(1 - x))`` elementwise, for probabilities ``x`` and targets
    ``t`` of the same shape."""

    @staticmethod
    def forward(ctx, x, t):
        ctx.save_for_backward(x, t)
        xp = ctx.xp
        with np.errstate(divide="ignore"):  # log(0) = -inf is expected: the clamp makes it -100
            log_x = xp.maximum(xp.log(x), _LOG_FLOOR)
            log_1mx = xp.maximum(xp.log1p(-x), _LOG_FLOOR)
        return -(t * log_x + (1 - t) * log_1mx)

    @staticmethod
    def backward(ctx, grad_output):
        x, t = ctx.saved_tensors
        grad_x = grad_t = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_output * (x - t) / ((1 - x) * x).clamp_min(_EPSILON)
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                log_x = x.log().clamp_min(_LOG_FLOOR)
                log_1mx = (-x).log1p().clamp_min(_LOG_FLOOR)
            grad_t = grad_output * (log_1mx - log_x)
        return grad_x, grad_t
