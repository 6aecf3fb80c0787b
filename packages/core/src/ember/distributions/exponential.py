"""Exponential distribution (``torch.distributions.Exponential``)."""

from __future__ import annotations

from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import broadcast_all
from ember.tensor import zeros_like
from ember.tensor.random import rand

__all__ = ["Exponential"]


class Exponential(Distribution):
    """Exponential with ``rate``, elementwise: density ``rate e^(-rate x)`` on x >= 0.

    Example:
        >>> Exponential(ember.tensor([2.0])).mean.item()
        0.5
    """

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args: bool | None = None) -> None:
        (self.rate,) = broadcast_all(rate)
        super().__init__(tuple(self.rate.shape), validate_args=validate_args)

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return zeros_like(self.rate)

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate.pow(-2)

    def rsample(self, sample_shape=()):
        uniform = rand(*self._extended_shape(sample_shape), dtype=self.rate.dtype,
                       device=self.rate.device)
        return self.icdf(uniform)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value):
        return -(-value).log1p() / self.rate

    def entropy(self):
        return 1.0 - self.rate.log()
