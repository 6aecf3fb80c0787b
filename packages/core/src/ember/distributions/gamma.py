"""Gamma distribution (``torch.distributions.Gamma``)."""

from __future__ import annotations

from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.gamma_sampler import standard_gamma
from ember.distributions.utils import broadcast_all, xlogy_nonnegative

__all__ = ["Gamma"]


class Gamma(Distribution):
    """Gamma with shape ``concentration`` and inverse scale ``rate``, elementwise: density
    ``rate^a x^(a-1) e^(-rate x) / Gamma(a)`` on x > 0.

    ``rsample`` is reparameterised (the implicit gradient of the draw at fixed CDF, see
    ``gamma_sampler``).

    Args:
        concentration: shape ``a``, positive.
        rate: rate, positive; broadcast with ``concentration``.
        validate_args: see ``Distribution``.

    Example:
        >>> d = Gamma(ember.tensor([2.0]), ember.tensor([4.0]))
        >>> d.mean.item()
        0.5
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args: bool | None = None) -> None:
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(tuple(self.concentration.shape), validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        return standard_gamma(self.concentration.expand(*shape)) / self.rate.expand(*shape)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a = self.concentration
        return (a * self.rate.log() + xlogy_nonnegative(a - 1, value) - self.rate * value
                - a.lgamma())

    def entropy(self):
        a = self.concentration
        return a - self.rate.log() + a.lgamma() + (1 - a) * a.digamma()
