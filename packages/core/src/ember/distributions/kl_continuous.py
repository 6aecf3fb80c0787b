"""Closed-form KL divergences of the continuous families (PyTorch's formulas), registered with
``register_kl`` on import."""

from __future__ import annotations

from ember import linalg
from ember.distributions.beta import Beta
from ember.distributions.dirichlet import Dirichlet
from ember.distributions.exponential import Exponential
from ember.distributions.gamma import Gamma
from ember.distributions.kl import register_kl
from ember.distributions.laplace import Laplace
from ember.distributions.multivariate_normal import (
    MultivariateNormal,
    batch_mahalanobis,
    half_log_det,
)

__all__: list[str] = []


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p: Gamma, q: Gamma):
    return (q.concentration * (p.rate / q.rate).log()
            + q.concentration.lgamma() - p.concentration.lgamma()
            + (p.concentration - q.concentration) * p.concentration.digamma()
            + (q.rate - p.rate) * (p.concentration / p.rate))


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p: Dirichlet, q: Dirichlet):
    total_p, total_q = p.concentration.sum(-1), q.concentration.sum(-1)
    log_normalisers = (total_p.lgamma() - total_q.lgamma()
                       - (p.concentration.lgamma() - q.concentration.lgamma()).sum(-1))
    expected_logs = p.concentration.digamma() - total_p.digamma().unsqueeze(-1)
    return log_normalisers + ((p.concentration - q.concentration) * expected_logs).sum(-1)


@register_kl(Beta, Beta)
def _kl_beta_beta(p: Beta, q: Beta):
    return _kl_dirichlet_dirichlet(p._dirichlet, q._dirichlet)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p: Exponential, q: Exponential):
    rate_ratio = q.rate / p.rate
    return rate_ratio - 1 - rate_ratio.log()


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p: Laplace, q: Laplace):
    scale_ratio = p.scale / q.scale
    distance = (p.loc - q.loc).abs()
    return -scale_ratio.log() + distance / q.scale + scale_ratio * (-distance / p.scale).exp() - 1


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p: MultivariateNormal, q: MultivariateNormal):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event "
                         "shapes cannot be computed")
    p_tril, q_tril = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    k = p.event_shape[0]
    batch = p.batch_shape if len(p.batch_shape) >= len(q.batch_shape) else q.batch_shape
    # tr(Sigma_q^-1 Sigma_p) = |L_q^-1 L_p|_F^2, one triangular solve for all k columns.
    whitened = linalg.solve_triangular(q_tril.expand(*batch, k, k), p_tril.expand(*batch, k, k),
                                       upper=False)
    trace = whitened.pow(2).sum(-1).sum(-1)
    mahalanobis = batch_mahalanobis(q_tril, q.loc - p.loc)
    return half_log_det(q_tril) - half_log_det(p_tril) + 0.5 * (trace + mahalanobis - k)
