"""MultivariateNormal, the transforms, TransformedDistribution and LogNormal against numpy
references: densities, entropies, moments, sample moments, gradients, KL and validation."""

import math

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from ember.distributions import (
    LogNormal,
    MultivariateNormal,
    Normal,
    TransformedDistribution,
    constraints,
    kl_divergence,
)
from ember.distributions.transforms import (
    AffineTransform,
    ComposeTransform,
    ExpTransform,
    SigmoidTransform,
    TanhTransform,
)
from test_distributions_continuous import (
    assert_kl_matches_monte_carlo,
    assert_mean_within,
    assert_sample_moments,
    f64,
)

RNG = np.random.default_rng(0)
LOC = RNG.standard_normal((2, 3))
A = RNG.standard_normal((2, 3, 3))
COV = A @ np.swapaxes(A, -1, -2) + 0.5 * np.eye(3)
TRIL = np.linalg.cholesky(COV)
X = RNG.standard_normal((4, 2, 3))


def np_mvn_log_prob(x, loc, cov):
    diff = x - loc
    mahalanobis = np.einsum("...i,...ij,...j->...", diff, np.linalg.inv(cov), diff)
    return -0.5 * (3 * math.log(2 * math.pi) + np.linalg.slogdet(cov)[1] + mahalanobis)


# ---- MultivariateNormal -------------------------------------------------------------------------


@pytest.mark.parametrize("parameter", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_mvn_parameterisations_agree_with_numpy(parameter):
    given = {"covariance_matrix": COV, "precision_matrix": np.linalg.inv(COV), "scale_tril": TRIL}
    d = MultivariateNormal(f64(LOC), **{parameter: f64(given[parameter])})
    assert d.batch_shape == (2,) and d.event_shape == (3,)
    np.testing.assert_allclose(d.log_prob(f64(X)).numpy(), np_mvn_log_prob(X, LOC, COV),
                               rtol=1e-10)
    entropy = 0.5 * (3 * (1 + math.log(2 * math.pi)) + np.linalg.slogdet(COV)[1])
    np.testing.assert_allclose(d.entropy().numpy(), entropy, rtol=1e-10)
    np.testing.assert_allclose(d.covariance_matrix.numpy(), COV, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(d.precision_matrix.numpy(), np.linalg.inv(COV), rtol=1e-8,
                               atol=1e-10)
    np.testing.assert_allclose(d.scale_tril.numpy(), TRIL, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(d.variance.numpy(), np.diagonal(COV, axis1=-2, axis2=-1),
                               rtol=1e-10)
    np.testing.assert_array_equal(d.mean.numpy(), LOC)


def test_mvn_broadcasts_loc_against_a_batch_of_matrices():
    d = MultivariateNormal(f64(np.zeros(3)), scale_tril=f64(TRIL))
    assert d.batch_shape == (2,) and d.loc.shape == (2, 3)
    assert d.rsample((5,)).shape == (5, 2, 3)
    assert d.log_prob(f64(np.zeros(3))).shape == (2,)


def test_mvn_sample_moments():
    n = 200_000
    d = MultivariateNormal(f64(LOC[0]), covariance_matrix=f64(COV[0]))
    assert_sample_moments(d, n=n)
    ember.manual_seed(5)
    x = d.sample((n,)).numpy() - LOC[0]
    # Each entry of the sample covariance is a mean of x_i x_j: within 5 of its standard errors.
    assert_mean_within(x[:, :, None] * x[:, None, :], COV[0])


def test_mvn_gradchecks():
    loc = f64(LOC, True)
    raw = f64(np.tril(A) + 3 * np.eye(3), True)  # tril with a positive diagonal
    x = f64(X)

    def log_prob(loc, raw):
        return MultivariateNormal(loc, scale_tril=raw.tril()).log_prob(x)

    assert gradcheck(log_prob, (loc, raw))
    assert gradcheck(lambda raw: MultivariateNormal(loc, scale_tril=raw.tril()).entropy(), (raw,))
    cov = f64(COV, True)
    assert gradcheck(lambda c: MultivariateNormal(loc, covariance_matrix=(c + c.mT) / 2)
                     .log_prob(x), (cov,))

    def sample(loc, raw):
        ember.manual_seed(6)
        return MultivariateNormal(loc, scale_tril=raw.tril()).rsample((3,))

    assert gradcheck(sample, (loc, raw))
    q = MultivariateNormal(f64(LOC[::-1].copy()), covariance_matrix=f64(COV[::-1].copy()))
    assert gradcheck(lambda loc, raw: kl_divergence(
        MultivariateNormal(loc, scale_tril=raw.tril()), q), (loc, raw))


def test_mvn_kl_against_closed_form_and_monte_carlo():
    p = MultivariateNormal(f64(LOC), covariance_matrix=f64(COV))
    q_cov = COV[::-1] + np.eye(3)
    q = MultivariateNormal(f64(np.zeros(3)), precision_matrix=f64(np.linalg.inv(q_cov)))
    q_inv = np.linalg.inv(q_cov)
    expected = 0.5 * (np.trace(q_inv @ COV, axis1=-2, axis2=-1)
                      + np.einsum("...i,...ij,...j->...", LOC, q_inv, LOC) - 3
                      + np.linalg.slogdet(q_cov)[1] - np.linalg.slogdet(COV)[1])
    np.testing.assert_allclose(kl_divergence(p, q).numpy(), expected, rtol=1e-10)
    assert_kl_matches_monte_carlo(p, q)


def test_mvn_argument_errors():
    loc = f64(np.zeros(3))
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix"):
        MultivariateNormal(loc)
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix"):
        MultivariateNormal(loc, covariance_matrix=f64(COV[0]), scale_tril=f64(TRIL[0]))
    with pytest.raises(ValueError, match="at least one-dimensional"):
        MultivariateNormal(f64(0.0), covariance_matrix=f64(COV[0]))
    with pytest.raises(ValueError, match="covariance_matrix .*PositiveDefinite"):
        MultivariateNormal(loc, covariance_matrix=f64(-np.eye(3)))
    with pytest.raises(ValueError, match="scale_tril .*LowerCholesky"):
        MultivariateNormal(loc, scale_tril=f64(np.ones((3, 3))))
    with pytest.raises(ValueError, match="rightmost dimensions"):
        MultivariateNormal(loc, scale_tril=f64(TRIL[0])).log_prob(f64(np.zeros(2)))


# ---- transforms ---------------------------------------------------------------------------------


TRANSFORMS = [
    ExpTransform(),
    SigmoidTransform(),
    TanhTransform(),
    AffineTransform(0.5, -2.0),
    AffineTransform(f64([1.0, -1.0, 0.0]), f64([0.5, 2.0, -3.0])),
    ComposeTransform([AffineTransform(0.3, 1.5), TanhTransform(), ExpTransform()]),
]


@pytest.mark.parametrize("transform", TRANSFORMS, ids=repr)
def test_transform_inverse_and_jacobian(transform):
    x = f64([-1.2, 0.3, 2.0], True)
    y = transform(x)
    np.testing.assert_allclose(transform.inv(y).detach().numpy(), x.detach().numpy(), rtol=1e-10)
    assert transform.inv.inv is transform or isinstance(transform, ComposeTransform)
    # Elementwise: |dy/dx| is the gradient of sum(y).
    (slope,) = ember.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(transform.log_abs_det_jacobian(x, y).detach().numpy(),
                               np.log(np.abs(slope.numpy())), rtol=1e-10)
    np.testing.assert_allclose(transform.inv.log_abs_det_jacobian(y, x).detach().numpy(),
                               -np.log(np.abs(slope.numpy())), rtol=1e-10)


def test_affine_transform_with_event_dim_sums_the_jacobian():
    transform = AffineTransform(0.0, f64([2.0, 3.0]), event_dim=1)
    x = f64(np.ones((4, 2)))
    np.testing.assert_allclose(transform.log_abs_det_jacobian(x, transform(x)).numpy(),
                               np.full(4, math.log(6.0)))


# ---- TransformedDistribution and LogNormal ------------------------------------------------------


def test_affine_of_standard_normal_is_normal():
    loc, scale = f64([0.5, -1.0]), f64([2.0, 0.3])
    d = TransformedDistribution(Normal(f64([0.0, 0.0]), 1.0), [AffineTransform(loc, scale)])
    value = f64([1.0, -0.7])
    reference = Normal(loc, scale)
    np.testing.assert_allclose(d.log_prob(value).numpy(), reference.log_prob(value).numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(d.cdf(value).numpy(), Normal(loc, scale).cdf(value).numpy())
    assert d.has_rsample and d.batch_shape == (2,) and d.event_shape == ()
    # P(-x <= 1) = 1 - P(x <= -1): a decreasing transform flips the base CDF.
    flipped = TransformedDistribution(Normal(0.0, 1.0), AffineTransform(0.0, -1.0))
    expected = 1 - Normal(0.0, 1.0).cdf(ember.tensor(-1.0)).item()
    assert flipped.cdf(ember.tensor(1.0)).item() == pytest.approx(expected)


def test_vector_transform_makes_batch_dimensions_events():
    d = TransformedDistribution(Normal(f64(np.zeros(2)), 1.0),
                                AffineTransform(0.0, f64([2.0, 3.0]), event_dim=1))
    assert d.batch_shape == () and d.event_shape == (2,)
    value = f64([1.0, 1.0])
    expected = Normal(0.0, f64([2.0, 3.0])).log_prob(value).sum().item()
    assert d.log_prob(value).item() == pytest.approx(expected, rel=1e-12)


def test_logit_normal_log_prob():
    d = TransformedDistribution(Normal(f64(0.3), f64(1.2)), SigmoidTransform())
    y = np.array([0.1, 0.5, 0.8])
    logit = np.log(y / (1 - y))
    expected = (-0.5 * ((logit - 0.3) / 1.2) ** 2 - math.log(1.2) - 0.5 * math.log(2 * math.pi)
                - np.log(y * (1 - y)))
    np.testing.assert_allclose(d.log_prob(f64(y)).numpy(), expected, rtol=1e-10)
    assert d.support is constraints.unit_interval


def test_log_normal_against_closed_forms():
    loc, scale, x = np.array([0.2, -0.5]), np.array([0.4, 0.9]), np.array([1.3, 0.2])
    d = LogNormal(f64(loc), f64(scale))
    expected = (-((np.log(x) - loc) ** 2) / (2 * scale**2) - np.log(scale * x)
                - 0.5 * math.log(2 * math.pi))
    np.testing.assert_allclose(d.log_prob(f64(x)).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(),
                               loc + 0.5 + 0.5 * math.log(2 * math.pi) + np.log(scale))
    np.testing.assert_allclose(d.mean.numpy(), np.exp(loc + scale**2 / 2))
    np.testing.assert_allclose(d.variance.numpy(), np.expm1(scale**2) * np.exp(2 * loc + scale**2))
    np.testing.assert_allclose(d.mode.numpy(), np.exp(loc - scale**2))
    assert_sample_moments(d)
    with pytest.raises(ValueError, match="scale"):
        LogNormal(0.0, f64([-1.0]))
    with pytest.raises(ValueError, match="support"):
        d.log_prob(f64([-1.0, 1.0]))


def test_log_normal_gradchecks():
    loc, scale, x = f64([0.2, -0.5], True), f64([0.4, 0.9], True), f64([1.3, 0.2])
    assert gradcheck(lambda m, s: LogNormal(m, s).log_prob(x) + LogNormal(m, s).entropy(),
                     (loc, scale))

    def sample(loc, scale):
        ember.manual_seed(7)
        return LogNormal(loc, scale).rsample((4,))

    assert gradcheck(sample, (loc, scale))
