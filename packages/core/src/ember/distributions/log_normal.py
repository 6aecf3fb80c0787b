"""Log-normal distribution (``torch.distributions.LogNormal``)."""

from __future__ import annotations

from ember.distributions import constraints
from ember.distributions.normal import Normal
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.transforms import ExpTransform

__all__ = ["LogNormal"]


class LogNormal(TransformedDistribution):
    """``exp(x)`` for ``x ~ Normal(loc, scale)``, elementwise.

    Example:
        >>> d = LogNormal(ember.tensor([0.0]), ember.tensor([1.0]))
        >>> round(d.mode.item(), 4)
        0.3679
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc, scale, validate_args: bool | None = None) -> None:
        base = Normal(loc, scale, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    @property
    def loc(self):
        return self.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mean(self):
        return (self.loc + self.scale.pow(2) / 2).exp()

    @property
    def mode(self):
        return (self.loc - self.scale.pow(2)).exp()

    @property
    def variance(self):
        scale_squared = self.scale.pow(2)
        return scale_squared.expm1() * (2 * self.loc + scale_squared).exp()

    def entropy(self):
        return self.base_dist.entropy() + self.loc
