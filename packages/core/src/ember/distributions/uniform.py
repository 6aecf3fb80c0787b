"""Continuous uniform distribution on [low, high) (``torch.distributions.Uniform``)."""

from __future__ import annotations

from ember import ops
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import broadcast_all
from ember.tensor import full, full_like
from ember.tensor.random import rand

__all__ = ["Uniform"]


class Uniform(Distribution):
    """Uniform on ``[low, high)``, elementwise; ``rsample`` is ``low + u * (high - low)``.

    Example:
        >>> d = Uniform(ember.tensor([0.0]), ember.tensor([4.0]))
        >>> d.log_prob(ember.tensor([1.0])).exp().item()
        0.25
    """

    arg_constraints = {"low": constraints.dependent, "high": constraints.dependent}
    has_rsample = True

    def __init__(self, low, high, validate_args: bool | None = None) -> None:
        self.low, self.high = broadcast_all(low, high)
        super().__init__(tuple(self.low.shape), validate_args=validate_args)
        if self._validate_args and not constraints.all_true(self.low < self.high):
            raise ValueError(f"Uniform: expected low < high everywhere, got low={self.low} and "
                             f"high={self.high}")

    @property
    def support(self) -> constraints.Constraint:
        return _HalfOpen(self.low, self.high)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return full(self.batch_shape, float("nan"), dtype=self.low.dtype, device=self.low.device)

    @property
    def stddev(self):
        return (self.high - self.low) / 12**0.5

    @property
    def variance(self):
        return (self.high - self.low).pow(2) / 12

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        uniform = rand(*shape, dtype=self.low.dtype, device=self.low.device)
        return self.low + uniform * (self.high - self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        inside = ops.logical_and(self.low <= value, value < self.high)
        log_density = -(self.high - self.low).log()
        return ops.where(inside, log_density, full_like(log_density, float("-inf")))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value):
        return self.low + value * (self.high - self.low)

    def entropy(self):
        return (self.high - self.low).log()


class _HalfOpen(constraints.Constraint):
    """``low <= value < high`` for tensor bounds."""

    def __init__(self, low, high) -> None:
        self.low, self.high = low, high

    def check(self, value):
        return ops.logical_and(self.low <= value, value < self.high)

    def __repr__(self) -> str:
        return "HalfOpenInterval(low, high)"
