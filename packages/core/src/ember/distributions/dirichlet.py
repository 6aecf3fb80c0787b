"""Dirichlet distribution (``torch.distributions.Dirichlet``)."""

from __future__ import annotations

from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.gamma_sampler import standard_gamma
from ember.distributions.utils import xlogy_nonnegative

__all__ = ["Dirichlet"]


class Dirichlet(Distribution):
    """Dirichlet over the simplex of the last dimension of ``concentration`` (shape ``(..., K)``):
    density ``prod x_k^(a_k - 1) Gamma(sum a) / prod Gamma(a_k)``.

    ``rsample`` normalises K reparameterised Gamma(a_k, 1) draws, so gradients reach
    ``concentration``.

    Example:
        >>> d = Dirichlet(ember.tensor([1.0, 3.0]))
        >>> d.mean.tolist()
        [0.25, 0.75]
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args: bool | None = None) -> None:
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        shape = tuple(concentration.shape)
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        shifted = (self.concentration - 1).clamp(min=0)
        return shifted / shifted.sum(-1, keepdim=True)

    @property
    def variance(self):
        total = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (total - self.concentration) / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        gammas = standard_gamma(self.concentration.expand(*self._extended_shape(sample_shape)))
        return gammas / gammas.sum(-1, keepdim=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a = self.concentration
        return (xlogy_nonnegative(a - 1, value).sum(-1) + a.sum(-1).lgamma() - a.lgamma().sum(-1))

    def entropy(self):
        a = self.concentration
        total = a.sum(-1)
        k = a.shape[-1]
        return (a.lgamma().sum(-1) - total.lgamma() - (k - total) * total.digamma()
                - ((a - 1) * a.digamma()).sum(-1))
