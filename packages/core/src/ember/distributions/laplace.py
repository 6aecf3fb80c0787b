"""Laplace distribution (``torch.distributions.Laplace``)."""

from __future__ import annotations

import math

from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import LocMeanMode, broadcast_all
from ember.tensor.dtypes import finfo
from ember.tensor.random import rand

__all__ = ["Laplace"]


class Laplace(LocMeanMode, Distribution):
    """Laplace with location ``loc`` and scale ``scale``, elementwise: density
    ``exp(-|x - loc| / scale) / (2 scale)``.

    Example:
        >>> d = Laplace(ember.tensor([0.0]), ember.tensor([1.0]))
        >>> round(d.log_prob(ember.tensor([0.0])).item(), 4)
        -0.6931
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(tuple(self.loc.shape), validate_args=validate_args)

    @property
    def stddev(self):
        return math.sqrt(2) * self.scale

    @property
    def variance(self):
        return 2 * self.scale.pow(2)

    def rsample(self, sample_shape=()):
        uniform = rand(*self._extended_shape(sample_shape), dtype=self.loc.dtype,
                       device=self.loc.device)
        # On (-1 + eps, 1): |u| < 1 keeps log1p(-|u|) finite, as PyTorch.
        centred = uniform * (2 - finfo(self.loc.dtype).eps) - 1 + finfo(self.loc.dtype).eps
        return self.loc - self.scale * centred.sign() * (-centred.abs()).log1p()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        return 0.5 - 0.5 * diff.sign() * (-diff.abs() / self.scale).expm1()

    def icdf(self, value):
        centred = value - 0.5
        return self.loc - self.scale * centred.sign() * (-2 * centred.abs()).log1p()

    def entropy(self):
        return 1 + (2 * self.scale).log()
