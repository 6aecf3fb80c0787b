"""Gamma, Beta, Dirichlet, Exponential and Laplace against closed-form numpy references: densities,
entropies, moments, sample moments, reparameterised gradients, KL divergences and validation.

Monte Carlo checks use a fixed seed and a tolerance of 5 standard errors estimated from the draws
themselves (a false failure has probability below 1e-6 per check, and the seed fixes it anyway).
"""

import math

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from ember.distributions import (
    Beta,
    Dirichlet,
    Exponential,
    Gamma,
    Laplace,
    constraints,
    kl_divergence,
)
from ember.distributions.gamma_sampler import _lower_gamma_series, implicit_gamma_grad

np_lgamma = np.vectorize(math.lgamma)


def np_digamma(x):
    """psi(x) for x > 0: the recurrence up to 12, then the asymptotic series (error < 1e-11)."""
    x = np.asarray(x, dtype=np.float64).copy()
    result = np.zeros_like(x)
    for _ in range(12):
        small = x < 12
        result -= np.where(small, 1 / x, 0)
        x = np.where(small, x + 1, x)
    inv2 = 1 / x**2
    return result + np.log(x) - 0.5 / x - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 / 252))


def f64(array, requires_grad=False):
    return ember.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def assert_mean_within(samples, expected, axis=0, sigmas=5.0):
    """The sample mean of ``samples`` over ``axis`` is within ``sigmas`` standard errors."""
    samples = np.asarray(samples)
    n = samples.shape[axis]
    error = np.abs(samples.mean(axis) - expected)
    standard_error = samples.std(axis) / math.sqrt(n)
    assert (error <= sigmas * standard_error + 1e-12).all(), (error, standard_error)


def assert_sample_moments(d, n=200_000, seed=0):
    """Sample mean and variance of ``d`` within 5 standard errors of ``d.mean``/``d.variance``."""
    ember.manual_seed(seed)
    x = d.sample((n,)).numpy()
    mean, variance = d.mean.numpy(), d.variance.numpy()
    assert_mean_within(x, mean)
    assert_mean_within((x - mean) ** 2, variance)


def assert_kl_matches_monte_carlo(p, q, n=200_000):
    ember.manual_seed(1)
    x = p.sample((n,))
    assert_mean_within((p.log_prob(x) - q.log_prob(x)).numpy(), kl_divergence(p, q).numpy())
    np.testing.assert_allclose(kl_divergence(p, p).numpy(), 0.0, atol=1e-12)


ALPHA, RATE = np.array([0.4, 1.0, 3.5]), np.array([2.0, 0.5, 1.5])
ALPHA2, RATE2 = np.array([1.3, 2.0, 0.7]), np.array([1.0, 3.0, 0.8])
VALUES = np.array([0.3, 1.7, 2.2])


# ---- the implicit gamma gradient ----------------------------------------------------------------


def test_lower_gamma_series_matches_the_exponential_cdf():
    x = np.array([0.01, 0.5, 2.0, 10.0, 40.0])
    cdf, _ = _lower_gamma_series(np, np.ones_like(x), x)
    np.testing.assert_allclose(cdf, -np.expm1(-x), rtol=1e-12)


def test_implicit_gamma_grad_keeps_the_cdf_fixed():
    # Moving alpha by h and x by h * dx/dalpha leaves P(alpha, x) unchanged to second order.
    alpha = np.array([0.2, 0.9, 3.0, 30.0, 30.0])
    x = np.array([0.05, 1.3, 2.0, 25.0, 38.0])
    grad = implicit_gamma_grad(np, alpha, x)
    h = 1e-6
    forward, _ = _lower_gamma_series(np, alpha + h, x + h * grad)
    backward, _ = _lower_gamma_series(np, alpha - h, x - h * grad)
    np.testing.assert_allclose(forward, backward, atol=1e-13)


@pytest.mark.parametrize(
    ("alpha", "x", "expected"),
    [  # x = P^-1(alpha, u) and dx/dalpha at fixed u by central differences of scipy's gammaincinv
        (0.05, 2.0378971887326733e-11, 9.830274994534395e-09),
        (0.5, 7.854392895485092e-05, 0.0014905869260940848),
        (5.0, 7.993589586052632, 1.295261074805154),
        (50.0, 74.72462638951943, 1.2183455255865283),
        (2000.0, 1999.6666765450127, 0.9999999950593974),
        (1e5, 100980.06779195923, 1.0048860828756006),
    ],
)
def test_implicit_gamma_grad_against_scipy_reference_values(alpha, x, expected):
    grad = implicit_gamma_grad(np, np.array([alpha]), np.array([x]))
    np.testing.assert_allclose(grad, [expected], rtol=1e-6)


@pytest.mark.parametrize("alpha", [0.3, 1.0, 4.0])
def test_gamma_rsample_gradient_is_unbiased(alpha):
    # d/dalpha E[x] = 1/rate, d/drate E[x] = -alpha/rate^2, d/dalpha E[x^2] = (2 alpha + 1)/rate^2:
    # one parameter per draw, so each gradient entry is one draw's contribution.
    n, rate = 100_000, 1.5
    ember.manual_seed(2)
    concentration = f64(np.full(n, alpha), True)
    rates = f64(np.full(n, rate), True)
    x = Gamma(concentration, rates).rsample()
    x.sum().backward()
    assert_mean_within(concentration.grad.numpy(), 1 / rate)
    assert_mean_within(rates.grad.numpy(), -alpha / rate**2)
    concentration.grad = None
    ember.manual_seed(2)
    Gamma(concentration, rate).rsample().pow(2).sum().backward()
    assert_mean_within(concentration.grad.numpy(), (2 * alpha + 1) / rate**2)


def test_dirichlet_and_beta_rsample_gradients_are_unbiased():
    n, alpha = 100_000, np.array([0.5, 2.0, 3.0])
    ember.manual_seed(3)
    concentration = f64(np.tile(alpha, (n, 1)), True)
    Dirichlet(concentration).rsample()[:, 0].sum().backward()
    total = alpha.sum()
    expected = (np.eye(3)[0] * total - alpha[0]) / total**2  # d/dalpha_j of alpha_0 / total
    assert_mean_within(concentration.grad.numpy(), expected)
    a, b = f64(np.full(n, 2.0), True), f64(np.full(n, 0.7), True)
    Beta(a, b).rsample().sum().backward()
    assert_mean_within(a.grad.numpy(), 0.7 / 2.7**2)
    assert_mean_within(b.grad.numpy(), -2.0 / 2.7**2)


def test_gamma_rsample_shapes_and_positive_tiny_draws():
    ember.manual_seed(0)
    d = Gamma(f64(ALPHA), f64(RATE))
    assert d.rsample((4, 2)).shape == (4, 2, 3)
    assert (Gamma(f64([1e-3]), 1.0).sample((1000,)).numpy() > 0).all()
    assert Gamma(ember.tensor([2.0]), 1.0).sample((5,)).dtype == ember.float32


# ---- densities, entropies and moments ------------------------------------------------------------


def test_gamma_against_closed_forms():
    d = Gamma(f64(ALPHA), f64(RATE))
    log_p = (ALPHA * np.log(RATE) + (ALPHA - 1) * np.log(VALUES) - RATE * VALUES
             - np_lgamma(ALPHA))
    np.testing.assert_allclose(d.log_prob(f64(VALUES)).numpy(), log_p, rtol=1e-12)
    entropy = ALPHA - np.log(RATE) + np_lgamma(ALPHA) + (1 - ALPHA) * np_digamma(ALPHA)
    np.testing.assert_allclose(d.entropy().numpy(), entropy, rtol=1e-10)
    np.testing.assert_allclose(d.mean.numpy(), ALPHA / RATE)
    np.testing.assert_allclose(d.variance.numpy(), ALPHA / RATE**2)
    np.testing.assert_allclose(d.mode.numpy(), np.maximum(ALPHA - 1, 0) / RATE)
    assert_sample_moments(d)


def test_exponential_against_closed_forms():
    d = Exponential(f64(RATE))
    np.testing.assert_allclose(d.log_prob(f64(VALUES)).numpy(), np.log(RATE) - RATE * VALUES)
    np.testing.assert_allclose(d.entropy().numpy(), 1 - np.log(RATE))
    np.testing.assert_allclose(d.cdf(f64(VALUES)).numpy(), -np.expm1(-RATE * VALUES))
    np.testing.assert_allclose(d.icdf(d.cdf(f64(VALUES))).numpy(), VALUES, rtol=1e-12)
    np.testing.assert_allclose(d.variance.numpy(), RATE**-2)
    assert_sample_moments(d)


def test_laplace_against_closed_forms():
    loc, scale = np.array([0.5, -1.0, 2.0]), RATE
    d = Laplace(f64(loc), f64(scale))
    np.testing.assert_allclose(d.log_prob(f64(VALUES)).numpy(),
                               -np.log(2 * scale) - np.abs(VALUES - loc) / scale)
    np.testing.assert_allclose(d.entropy().numpy(), 1 + np.log(2 * scale))
    np.testing.assert_allclose(d.icdf(d.cdf(f64(VALUES))).numpy(), VALUES, rtol=1e-12)
    np.testing.assert_allclose(d.cdf(f64(loc)).numpy(), 0.5)
    np.testing.assert_allclose(d.variance.numpy(), 2 * scale**2)
    assert_sample_moments(d)


def test_beta_against_closed_forms():
    a, b, x = ALPHA2, RATE2 + 0.5, np.array([0.2, 0.5, 0.9])
    d = Beta(f64(a), f64(b))
    log_beta = np_lgamma(a) + np_lgamma(b) - np_lgamma(a + b)
    np.testing.assert_allclose(d.log_prob(f64(x)).numpy(),
                               (a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - log_beta, rtol=1e-12)
    entropy = (log_beta - (a - 1) * np_digamma(a) - (b - 1) * np_digamma(b)
               + (a + b - 2) * np_digamma(a + b))
    np.testing.assert_allclose(d.entropy().numpy(), entropy, rtol=1e-10)
    np.testing.assert_allclose(d.mean.numpy(), a / (a + b))
    np.testing.assert_allclose(d.variance.numpy(), a * b / ((a + b) ** 2 * (a + b + 1)))
    assert_sample_moments(d)


def test_dirichlet_against_closed_forms():
    alpha = np.array([[0.5, 2.0, 3.0], [1.0, 1.0, 4.0]])
    x = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    d = Dirichlet(f64(alpha))
    assert d.batch_shape == (2,) and d.event_shape == (3,)
    total = alpha.sum(-1)
    log_norm = np_lgamma(alpha).sum(-1) - np_lgamma(total)
    np.testing.assert_allclose(d.log_prob(f64(x)).numpy(),
                               ((alpha - 1) * np.log(x)).sum(-1) - log_norm, rtol=1e-12)
    entropy = (log_norm + (total - 3) * np_digamma(total)
               - ((alpha - 1) * np_digamma(alpha)).sum(-1))
    np.testing.assert_allclose(d.entropy().numpy(), entropy, rtol=1e-10)
    t = total[:, None]
    np.testing.assert_allclose(d.variance.numpy(), alpha * (t - alpha) / (t**2 * (t + 1)))
    assert_sample_moments(d)
    assert d.sample((7,)).shape == (7, 2, 3)
    np.testing.assert_allclose(d.sample((7,)).sum(-1).numpy(), 1.0)


# ---- gradients ----------------------------------------------------------------------------------


def test_gradchecks_of_log_prob_and_entropy():
    x = f64(VALUES)
    unit = f64([0.2, 0.5, 0.9])
    simplex = f64([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    a, r = f64(ALPHA, True), f64(RATE, True)
    assert gradcheck(lambda a, r: Gamma(a, r).log_prob(x), (a, r))
    assert gradcheck(lambda a, r: Gamma(a, r).entropy(), (a, r))
    assert gradcheck(lambda a, r: Beta(a, r).log_prob(unit), (a, r))
    assert gradcheck(lambda a, r: Beta(a, r).entropy(), (a, r))
    assert gradcheck(lambda r: Exponential(r).log_prob(x) + Exponential(r).entropy(), (r,))
    loc = f64([0.5, -1.0, 2.0], True)
    assert gradcheck(lambda m, s: Laplace(m, s).log_prob(x) + Laplace(m, s).entropy(), (loc, r))
    alpha = f64([[0.5, 2.0, 3.0], [1.0, 1.5, 4.0]], True)
    assert gradcheck(lambda c: Dirichlet(c).log_prob(simplex), (alpha,))
    assert gradcheck(lambda c: Dirichlet(c).entropy(), (alpha,))


def test_gradchecks_of_kl():
    a, r = f64(ALPHA, True), f64(RATE, True)
    a2, r2 = f64(ALPHA2), f64(RATE2)
    assert gradcheck(lambda a, r: kl_divergence(Gamma(a, r), Gamma(a2, r2)), (a, r))
    assert gradcheck(lambda a, r: kl_divergence(Gamma(a2, r2), Gamma(a, r)), (a, r))
    assert gradcheck(lambda a, r: kl_divergence(Beta(a, r), Beta(a2, r2)), (a, r))
    assert gradcheck(lambda r: kl_divergence(Exponential(r), Exponential(r2)), (r,))
    assert gradcheck(lambda m, s: kl_divergence(Laplace(m, s), Laplace(a2, r2)), (a, r))
    alpha = f64([[0.5, 2.0, 3.0]], True)
    assert gradcheck(lambda c: kl_divergence(Dirichlet(c), Dirichlet(f64([[1.0, 1.0, 2.0]]))),
                     (alpha,))


def test_gradcheck_of_reparameterised_samples_with_fixed_noise():
    def draw(dist):
        def sample(*params):
            ember.manual_seed(4)
            return dist(*params).rsample((5,))
        return sample

    loc, rate = f64([0.5, -1.0, 2.0], True), f64(RATE, True)
    assert gradcheck(draw(Exponential), (rate,))
    assert gradcheck(draw(Laplace), (loc, rate))


# ---- KL divergences -----------------------------------------------------------------------------


def test_kl_against_monte_carlo():
    assert_kl_matches_monte_carlo(Gamma(f64(ALPHA), f64(RATE)), Gamma(f64(ALPHA2), f64(RATE2)))
    assert_kl_matches_monte_carlo(Beta(f64(ALPHA2), f64(RATE2)), Beta(f64(ALPHA + 0.5), f64(RATE)))
    assert_kl_matches_monte_carlo(Exponential(f64(RATE)), Exponential(f64(RATE2)))
    assert_kl_matches_monte_carlo(Laplace(f64(VALUES), f64(RATE)), Laplace(f64(ALPHA), f64(RATE2)))
    assert_kl_matches_monte_carlo(Dirichlet(f64([[0.5, 2.0, 3.0], [1.0, 1.0, 4.0]])),
                                  Dirichlet(f64([[1.0, 1.0, 1.0], [2.0, 0.5, 3.0]])))


def test_gamma_kl_closed_form():
    p, q = Gamma(f64(ALPHA), f64(RATE)), Gamma(f64(ALPHA2), f64(RATE2))
    expected = (ALPHA2 * np.log(RATE / RATE2) + np_lgamma(ALPHA2) - np_lgamma(ALPHA)
                + (ALPHA - ALPHA2) * np_digamma(ALPHA) + (RATE2 - RATE) * ALPHA / RATE)
    np.testing.assert_allclose(kl_divergence(p, q).numpy(), expected, rtol=1e-10)


# ---- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: Gamma(f64([-1.0]), 1.0), "concentration"),
        (lambda: Gamma(1.0, f64([0.0])), "rate"),
        (lambda: Exponential(f64([-2.0])), "rate"),
        (lambda: Laplace(0.0, f64([-1.0])), "scale"),
        (lambda: Beta(f64([1.0]), f64([-1.0])), "concentration0"),
        (lambda: Dirichlet(f64([1.0, -1.0])), "concentration"),
    ],
)
def test_invalid_parameters_name_the_parameter_and_constraint(make, name):
    with pytest.raises(ValueError, match=f"expected parameter {name} .*constraint"):
        make()


def test_values_outside_the_support_are_rejected_unless_validation_is_off():
    with pytest.raises(ValueError, match="support"):
        Gamma(1.0, 1.0).log_prob(ember.tensor(-1.0))
    with pytest.raises(ValueError, match="support"):
        Beta(1.0, 1.0).log_prob(ember.tensor(1.5))
    with pytest.raises(ValueError, match="support"):
        Dirichlet(f64([1.0, 1.0])).log_prob(f64([0.3, 0.3]))
    with pytest.raises(ValueError, match="one-dimensional"):
        Dirichlet(f64(1.0))
    assert Gamma(-1.0, 1.0, validate_args=False).batch_shape == ()
    assert Gamma(1.0, 1.0).support is constraints.nonnegative
