"""Reparameterised standard-gamma draws: numpy's (or cupy's) sampler for the value and the
implicit-reparameterisation gradient (Figurnov et al., 2018) for the backward.

With ``u = P(alpha, x)`` the regularised lower incomplete gamma function (the CDF) held fixed,
``dx/dalpha = -(dP/dalpha) / p(x; alpha)`` where ``p`` is the Gamma(alpha, 1) density. The draw
is exact whatever sampler made it, and the gradient is that of the inverse-CDF map, so
``E[f(x)]``'s gradient estimated through it is unbiased.
"""

from __future__ import annotations

from ember.autograd import Function, once_differentiable
from ember.backend import default_generator, device_context
from ember.ops.gamma import _digamma, _lgamma
from ember.tensor import Tensor
from ember.tensor.dtypes import finfo

__all__ = ["standard_gamma"]


def _lower_gamma_series(xp, alpha, x):
    """``P(alpha, x)`` and ``dP/dalpha`` (float64 arrays) from the series
    ``P = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n))``."""
    term = xp.ones_like(x)
    total, d_total = xp.ones_like(x), xp.zeros_like(x)
    harmonic = xp.zeros_like(x)  # sum_k 1/(a + k): minus d log(term) / da
    # The terms peak near n = x - a and are below 1e-17 of the sum by x + 20 sqrt(x) + 100.
    largest = float(x.max()) if x.size else 0.0
    for n in range(1, int(largest + 20 * largest**0.5) + 100):
        term = term * x / (alpha + n)
        harmonic = harmonic + 1.0 / (alpha + n)
        total = total + term
        d_total = d_total - term * harmonic
        if not bool((term > 1e-17 * total).any()):
            break
    log_prefactor = alpha * xp.log(x) - x - _lgamma(xp, alpha + 1)
    prefactor = xp.exp(log_prefactor)
    cdf = prefactor * total
    d_cdf = prefactor * (total * (xp.log(x) - _digamma(xp, alpha + 1)) + d_total)
    return cdf, d_cdf


def implicit_gamma_grad(xp, alpha, x):
    """``dx/dalpha`` of a Gamma(alpha, 1) draw ``x`` at fixed CDF (float64 arrays in and out)."""
    _, d_cdf = _lower_gamma_series(xp, alpha, x)
    log_density = (alpha - 1) * xp.log(x) - x - _lgamma(xp, alpha)
    return -d_cdf * xp.exp(-log_density)


class _StandardGamma(Function):
    """A Gamma(concentration, 1) draw of the concentration's shape, differentiable in it."""

    @staticmethod
    def forward(ctx, concentration):
        xp = ctx.xp
        alpha = concentration._array
        source = default_generator(concentration.device).source()
        with device_context(concentration.device):
            draw = source.rng.standard_gamma(alpha.astype(xp.float64))
        # A draw that underflows to 0 has no log density; the smallest normal number stands in.
        tiny = finfo(concentration.dtype).tiny
        value = xp.maximum(draw, tiny).astype(alpha.dtype)
        ctx.save_for_backward(concentration, Tensor(value))
        return Tensor(value)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        concentration, value = ctx.saved_tensors
        xp = ctx.xp
        grad = implicit_gamma_grad(xp, concentration._array.astype(xp.float64),
                                   value._array.astype(xp.float64))
        return grad_output * Tensor(grad.astype(value._array.dtype))


def standard_gamma(concentration):
    """Gamma(concentration, 1) samples, one per element, with reparameterised gradients.

    Example:
        >>> x = standard_gamma(ember.tensor([2.0, 5.0]))
        >>> x.shape
        (2,)
    """
    return _StandardGamma.apply(concentration)
