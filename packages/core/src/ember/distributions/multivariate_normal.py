"""Multivariate normal distribution (``torch.distributions.MultivariateNormal``)."""

from __future__ import annotations

import math

from ember import linalg, ops
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import LocMeanMode
from ember.tensor.random import randn

__all__ = ["MultivariateNormal"]


def batch_mahalanobis(scale_tril, diff):
    """``|L^-1 diff|^2`` over the last dimension, ``L`` of shape ``(..., k, k)`` and ``diff`` of
    shape ``(..., k)``, broadcast over the batch dimensions."""
    batch = ops.broadcast_shapes(tuple(scale_tril.shape[:-2]), tuple(diff.shape[:-1]))
    k = diff.shape[-1]
    whitened = linalg.solve_triangular(scale_tril.expand(*batch, k, k),
                                       diff.expand(*batch, k).unsqueeze(-1), upper=False)
    return whitened.squeeze(-1).pow(2).sum(-1)


def half_log_det(scale_tril):
    """``log det(L L^T) / 2`` for a Cholesky factor ``L``."""
    return scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)


class MultivariateNormal(LocMeanMode, Distribution):
    """A normal distribution over vectors of size k, parameterised by exactly one of its
    covariance matrix, its precision matrix or the Cholesky factor ``scale_tril`` of the
    covariance.

    Args:
        loc: mean, shape ``(..., k)``.
        covariance_matrix: symmetric positive-definite, shape ``(..., k, k)``.
        precision_matrix: the inverse covariance, shape ``(..., k, k)``.
        scale_tril: lower-triangular with a positive diagonal, shape ``(..., k, k)``.
        validate_args: see ``Distribution``.

    Example:
        >>> d = MultivariateNormal(ember.zeros(2), covariance_matrix=ember.eye(2))
        >>> round(d.log_prob(ember.zeros(2)).item(), 4)
        -1.8379
    """

    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args: bool | None = None) -> None:
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = {"covariance_matrix": covariance_matrix, "precision_matrix": precision_matrix,
                 "scale_tril": scale_tril}
        given = {name: matrix for name, matrix in given.items() if matrix is not None}
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril "
                             "may be specified.")
        ((self._parameter, matrix),) = given.items()
        if matrix.dim() < 2:
            raise ValueError(f"{self._parameter} matrix must be at least two-dimensional, with "
                             f"optional leading batch dimensions")
        batch = ops.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1]))
        k = loc.shape[-1]
        self.loc = loc.expand(*batch, k)
        setattr(self, self._parameter, matrix.expand(*batch, k, k))
        super().__init__(batch, (k,), validate_args=validate_args)
        if self._parameter == "covariance_matrix":
            self._unbroadcasted_scale_tril = linalg.cholesky(matrix)
        elif self._parameter == "precision_matrix":
            self._unbroadcasted_scale_tril = linalg.cholesky(linalg.inv(matrix))
        else:
            self._unbroadcasted_scale_tril = matrix

    def _given_parameters(self):
        return ("loc", self._parameter)

    def __getattr__(self, name):
        # The two matrices not given are derived on first use (PyTorch's lazy properties).
        derive = {"scale_tril": lambda: self._unbroadcasted_scale_tril.expand(
                      *self.batch_shape, *self.event_shape, *self.event_shape),
                  "covariance_matrix": lambda: self.scale_tril @ self.scale_tril.mT,
                  "precision_matrix": lambda: linalg.inv(self.covariance_matrix)}
        if name not in derive or "_unbroadcasted_scale_tril" not in self.__dict__:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        value = derive[name]()
        setattr(self, name, value)
        return value

    @property
    def variance(self):
        variance = self._unbroadcasted_scale_tril.pow(2).sum(-1)
        return variance.expand(*self.batch_shape, *self.event_shape)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        noise = randn(*shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + (self._unbroadcasted_scale_tril @ noise.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        k = self.event_shape[0]
        mahalanobis = batch_mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        return (-0.5 * (k * math.log(2 * math.pi) + mahalanobis)
                - half_log_det(self._unbroadcasted_scale_tril))

    def entropy(self):
        k = self.event_shape[0]
        entropy = 0.5 * k * (1.0 + math.log(2 * math.pi)) + half_log_det(
            self._unbroadcasted_scale_tril)
        return entropy.expand(*self.batch_shape)
