"""Normal (Gaussian) distribution (``torch.distributions.Normal``)."""

from __future__ import annotations

import math

from ember import ops
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import LocMeanMode, broadcast_all
from ember.tensor.random import randn

__all__ = ["Normal"]

_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


class Normal(LocMeanMode, Distribution):
    """A normal distribution with mean ``loc`` and standard deviation ``scale``, elementwise.

    Args:
        loc: mean (tensor or number).
        scale: standard deviation, positive (tensor or number); broadcast with ``loc``.
        validate_args: see ``Distribution``.

    Example:
        >>> d = Normal(ember.tensor([0.0]), ember.tensor([1.0]))
        >>> round(d.log_prob(ember.tensor([0.0])).item(), 4)
        -0.9189
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(tuple(self.loc.shape), validate_args=validate_args)

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale.pow(2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        noise = randn(*shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + noise * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (-((value - self.loc) ** 2) / (2 * self.scale.pow(2)) - self.scale.log()
                - _HALF_LOG_TWO_PI)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + ops.erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def entropy(self):
        return 0.5 + _HALF_LOG_TWO_PI + self.scale.log()
