"""Beta distribution (``torch.distributions.Beta``), a two-component Dirichlet as in PyTorch."""

from __future__ import annotations

from ember import ops
from ember.distributions import constraints
from ember.distributions.dirichlet import Dirichlet
from ember.distributions.distribution import Distribution
from ember.distributions.utils import broadcast_all

__all__ = ["Beta"]


class Beta(Distribution):
    """Beta on [0, 1] with ``concentration1`` (alpha) and ``concentration0`` (beta), elementwise:
    density ``x^(alpha-1) (1-x)^(beta-1) / B(alpha, beta)``.

    Example:
        >>> Beta(ember.tensor([1.0]), ember.tensor([3.0])).mean.item()
        0.25
    """

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args: bool | None = None) -> None:
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        # The parameters are checked under their own names before the Dirichlet checks its stack.
        super().__init__(tuple(self.concentration1.shape), validate_args=validate_args)
        self._dirichlet = Dirichlet(ops.stack([self.concentration1, self.concentration0], -1),
                                    validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        return self._dirichlet.rsample(sample_shape)[..., 0]

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        heads_tails = ops.stack([value, 1.0 - value], -1)
        return self._dirichlet.log_prob(heads_tails)

    def entropy(self):
        return self._dirichlet.entropy()
