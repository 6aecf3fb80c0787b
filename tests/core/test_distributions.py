"""ember.distributions against numpy/closed-form references, float64 gradchecks and validation."""

import math

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from ember.distributions import (
    Bernoulli,
    Categorical,
    Distribution,
    Independent,
    Normal,
    OneHotCategorical,
    Uniform,
    constraints,
    kl_divergence,
    register_kl,
)


def f64(array, requires_grad=False):
    return ember.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def np_log_softmax(x):
    shifted = x - x.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((3, 4))
LOC, SCALE = RNG.standard_normal((2, 3)), RNG.uniform(0.5, 2.0, (2, 3))


# ---- Categorical ------------------------------------------------------------------------------


def test_categorical_logits_against_numpy():
    d = Categorical(logits=f64(LOGITS))
    log_p = np_log_softmax(LOGITS)
    np.testing.assert_allclose(d.logits.numpy(), log_p, atol=1e-12)
    np.testing.assert_allclose(d.probs.numpy(), np.exp(log_p), atol=1e-12)
    value = np.array([0, 3, 1])
    np.testing.assert_allclose(d.log_prob(ember.tensor(value)).numpy(),
                               log_p[np.arange(3), value], atol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(), -(np.exp(log_p) * log_p).sum(-1), atol=1e-12)
    assert d.mode.tolist() == np.argmax(LOGITS, -1).tolist()
    assert d.batch_shape == (3,) and d.event_shape == ()
    assert np.isnan(d.mean.numpy()).all() and d.mean.shape == (3,)


def test_categorical_probs_are_normalised_and_match_logits():
    weights = np.array([[1.0, 3.0], [2.0, 2.0]])
    d = Categorical(probs=f64(weights))
    np.testing.assert_allclose(d.probs.numpy(), weights / weights.sum(-1, keepdims=True))
    np.testing.assert_allclose(d.logits.numpy(), np.log(weights / weights.sum(-1, keepdims=True)))
    assert d.log_prob(ember.tensor([1, 0])).exp().tolist() == pytest.approx([0.75, 0.5])


def test_categorical_zero_probability_entropy_is_finite():
    d = Categorical(probs=f64([0.0, 1.0]))
    assert abs(d.entropy().item()) < 1e-12
    assert d.log_prob(ember.tensor(0)).item() < -30


def test_categorical_log_prob_broadcasts_sample_dimensions():
    d = Categorical(logits=f64(LOGITS))
    values = ember.tensor([[0, 1, 2], [3, 3, 3]])
    expected = np_log_softmax(LOGITS)[np.arange(3), values.numpy()]
    np.testing.assert_allclose(d.log_prob(values).numpy(), expected, atol=1e-12)
    assert d.enumerate_support().shape == (4, 3)
    assert d.log_prob(d.enumerate_support()).exp().sum(0).tolist() == pytest.approx([1.0] * 3)


def test_categorical_sample_frequencies_and_shape():
    probs = np.array([0.1, 0.2, 0.7])
    d = Categorical(probs=f64(probs))
    samples = d.sample((20000,))
    assert samples.shape == (20000,) and samples.dtype == ember.int64
    frequencies = np.bincount(samples.numpy(), minlength=3) / 20000
    np.testing.assert_allclose(frequencies, probs, atol=0.015)
    assert Categorical(logits=f64(LOGITS)).sample((5, 2)).shape == (5, 2, 3)
    assert Categorical(probs=f64([0.0, 0.0, 1.0])).sample((50,)).tolist() == [2] * 50


def test_categorical_sampling_is_seeded():
    d = Categorical(logits=f64(LOGITS))
    ember.manual_seed(3)
    first = d.sample((10,))
    ember.manual_seed(3)
    assert ember.equal(first, d.sample((10,)))


def test_categorical_gradcheck():
    value = ember.tensor([0, 3, 1])
    assert gradcheck(lambda x: Categorical(logits=x).log_prob(value), (f64(LOGITS, True),))
    assert gradcheck(lambda x: Categorical(logits=x).entropy(), (f64(LOGITS, True),))
    weights = f64(RNG.uniform(0.1, 1.0, (3, 4)), True)
    assert gradcheck(lambda p: Categorical(probs=p).log_prob(value), (weights,))


def test_categorical_argument_errors():
    with pytest.raises(ValueError, match="either `probs` or `logits`"):
        Categorical()
    with pytest.raises(ValueError, match="either `probs` or `logits`"):
        Categorical(probs=f64([0.5, 0.5]), logits=f64([0.0, 0.0]))
    with pytest.raises(ValueError, match="at least one-dimensional"):
        Categorical(logits=f64(1.0))
    with pytest.raises(ValueError, match="Simplex"):
        Categorical(probs=f64([-0.5, 1.5]))
    with pytest.raises(ValueError, match="support"):
        Categorical(logits=f64(LOGITS)).log_prob(ember.tensor([0, 4, 1]))
    Categorical(logits=f64(LOGITS), validate_args=False).log_prob(ember.tensor([0, 3, 1]))


# ---- Normal -----------------------------------------------------------------------------------


def test_normal_against_formulas():
    d = Normal(f64(LOC), f64(SCALE))
    x = RNG.standard_normal((2, 3))
    expected = -((x - LOC) ** 2) / (2 * SCALE**2) - np.log(SCALE) - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(d.log_prob(f64(x)).numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(), 0.5 + 0.5 * np.log(2 * np.pi * SCALE**2))
    cdf = 0.5 * (1 + np.vectorize(math.erf)((x - LOC) / (SCALE * np.sqrt(2))))
    np.testing.assert_allclose(d.cdf(f64(x)).numpy(), cdf, atol=1e-12)
    np.testing.assert_allclose(d.variance.numpy(), SCALE**2)
    assert d.mean is d.loc and d.mode is d.loc and d.stddev is d.scale
    assert d.has_rsample and d.batch_shape == (2, 3)


def test_normal_broadcasts_numbers_and_samples_moments():
    d = Normal(f64([1.0, -2.0]), 0.5)
    assert d.scale.shape == (2,) and d.scale.dtype == ember.float64
    samples = d.sample((40000,)).numpy()
    np.testing.assert_allclose(samples.mean(0), [1.0, -2.0], atol=0.02)
    np.testing.assert_allclose(samples.std(0), [0.5, 0.5], atol=0.02)
    assert Normal(0.0, 1.0).sample().shape == ()


def test_normal_rsample_is_differentiable_and_sample_is_not():
    loc, scale = f64(LOC, True), f64(SCALE, True)
    assert not Normal(loc, scale).sample().requires_grad
    def seeded_rsample(m, s):
        ember.manual_seed(7)  # the same noise at every finite-difference evaluation
        return Normal(m, s).rsample((2,))

    assert gradcheck(seeded_rsample, (loc, scale))
    x = f64(RNG.standard_normal((2, 3)))
    assert gradcheck(lambda m, s: Normal(m, s).log_prob(x), (loc, scale))
    assert gradcheck(lambda m, s: Normal(m, s).entropy(), (loc, scale))


def test_normal_validation():
    with pytest.raises(ValueError, match="scale"):
        Normal(f64([0.0]), f64([-1.0]))
    with pytest.raises(ValueError, match="not broadcastable"):
        Normal(f64(LOC), f64(SCALE)).log_prob(f64(np.zeros(4)))
    with pytest.raises(ValueError, match="must be a Tensor"):
        Normal(f64(LOC), f64(SCALE)).log_prob([0.0])


# ---- Bernoulli --------------------------------------------------------------------------------


def test_bernoulli_against_formulas():
    p = np.array([0.1, 0.5, 0.9])
    d = Bernoulli(probs=f64(p))
    for x in (np.array([1.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0])):
        expected = x * np.log(p) + (1 - x) * np.log(1 - p)
        np.testing.assert_allclose(d.log_prob(f64(x)).numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(), -(p * np.log(p) + (1 - p) * np.log(1 - p)))
    np.testing.assert_allclose(d.logits.numpy(), np.log(p / (1 - p)), atol=1e-12)
    np.testing.assert_allclose(d.variance.numpy(), p * (1 - p))
    mode = d.mode.numpy()
    assert mode[0] == 0 and np.isnan(mode[1]) and mode[2] == 1
    logits = Bernoulli(logits=f64(np.log(p / (1 - p))))
    np.testing.assert_allclose(logits.probs.numpy(), p, atol=1e-12)


def test_bernoulli_samples_and_scalar_parameter():
    d = Bernoulli(probs=0.3)
    assert d.batch_shape == ()
    samples = d.sample((20000,)).numpy()
    assert set(np.unique(samples)) <= {0.0, 1.0}
    assert abs(samples.mean() - 0.3) < 0.015
    assert Bernoulli(logits=f64(np.zeros((2, 3)))).sample((4,)).shape == (4, 2, 3)


def test_bernoulli_gradcheck_and_validation():
    x = f64([1.0, 0.0, 1.0])
    logits = f64([-1.0, 0.3, 2.0], True)
    assert gradcheck(lambda z: Bernoulli(logits=z).log_prob(x), (logits,))
    assert gradcheck(lambda z: Bernoulli(logits=z).entropy(), (logits,))
    assert gradcheck(lambda q: Bernoulli(probs=q).log_prob(x), (f64([0.2, 0.5, 0.7], True),))
    with pytest.raises(ValueError, match="probs"):
        Bernoulli(probs=f64([1.5]))
    with pytest.raises(ValueError, match="support"):
        Bernoulli(probs=f64([0.5])).log_prob(f64([2.0]))


# ---- Independent ------------------------------------------------------------------------------


def test_independent_sums_event_dimensions():
    base = Normal(f64(LOC), f64(SCALE))
    d = Independent(base, 1)
    assert d.batch_shape == (2,) and d.event_shape == (3,) and d.has_rsample
    x = f64(RNG.standard_normal((2, 3)))
    np.testing.assert_allclose(d.log_prob(x).numpy(), base.log_prob(x).numpy().sum(-1))
    np.testing.assert_allclose(d.entropy().numpy(), base.entropy().numpy().sum(-1))
    assert d.sample((5,)).shape == (5, 2, 3)
    whole = Independent(base, 2)
    assert whole.batch_shape == () and whole.event_shape == (2, 3)
    assert whole.log_prob(x).item() == pytest.approx(base.log_prob(x).numpy().sum())
    assert isinstance(d.support, constraints.Constraint)
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        Independent(base, 3)
    with pytest.raises(ValueError, match="not broadcastable"):
        d.log_prob(f64(np.zeros((2, 4))))


# ---- Uniform and OneHotCategorical ------------------------------------------------------------


def test_uniform_against_formulas():
    low, high = np.array([0.0, -1.0]), np.array([4.0, 1.0])
    d = Uniform(f64(low), f64(high))
    x = f64([1.0, 0.5])
    np.testing.assert_allclose(d.log_prob(x).numpy(), -np.log(high - low))
    np.testing.assert_allclose(d.entropy().numpy(), np.log(high - low))
    np.testing.assert_allclose(d.cdf(x).numpy(), [0.25, 0.75])
    np.testing.assert_allclose(d.icdf(f64([0.5, 0.5])).numpy(), [2.0, 0.0])
    np.testing.assert_allclose(d.mean.numpy(), [2.0, 0.0])
    np.testing.assert_allclose(d.variance.numpy(), (high - low) ** 2 / 12)
    samples = d.sample((20000,)).numpy()
    assert (samples >= low).all() and (samples < high).all()
    np.testing.assert_allclose(samples.mean(0), [2.0, 0.0], atol=0.05)
    assert Uniform(0.0, 1.0, validate_args=False).log_prob(f64(2.0)).item() == -math.inf
    with pytest.raises(ValueError, match="support"):
        d.log_prob(f64([5.0, 0.0]))
    with pytest.raises(ValueError, match="low < high"):
        Uniform(f64([1.0]), f64([0.0]))
    low_t, high_t = f64(low, True), f64(high, True)

    def seeded_rsample(a, b):
        ember.manual_seed(5)
        return Uniform(a, b).rsample((3,))

    assert gradcheck(seeded_rsample, (low_t, high_t))
    assert gradcheck(lambda a, b: Uniform(a, b).entropy(), (low_t, high_t))


def test_one_hot_categorical_matches_categorical():
    d = OneHotCategorical(logits=f64(LOGITS))
    assert d.batch_shape == (3,) and d.event_shape == (4,)
    sample = d.sample((5,))
    assert sample.shape == (5, 3, 4) and (sample.numpy().sum(-1) == 1).all()
    index = sample.numpy().argmax(-1)
    np.testing.assert_allclose(d.log_prob(sample).numpy(),
                               np_log_softmax(LOGITS)[np.arange(3), index], atol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(),
                               Categorical(logits=f64(LOGITS)).entropy().numpy())
    assert d.mode.numpy().argmax(-1).tolist() == LOGITS.argmax(-1).tolist()
    assert d.enumerate_support().shape == (4, 3, 4)
    with pytest.raises(ValueError, match="OneHot"):
        d.log_prob(f64(np.ones((3, 4))))
    assert gradcheck(lambda x: OneHotCategorical(logits=x).log_prob(sample[0]),
                     (f64(LOGITS, True),))


# ---- KL divergence ----------------------------------------------------------------------------


def test_kl_closed_forms_against_numpy():
    p_logits, q_logits = LOGITS, RNG.standard_normal((3, 4))
    p, q = np.exp(np_log_softmax(p_logits)), np.exp(np_log_softmax(q_logits))
    kl = kl_divergence(Categorical(logits=f64(p_logits)), Categorical(logits=f64(q_logits)))
    np.testing.assert_allclose(kl.numpy(), (p * np.log(p / q)).sum(-1), atol=1e-12)

    loc2, scale2 = RNG.standard_normal((2, 3)), RNG.uniform(0.5, 2.0, (2, 3))
    kl = kl_divergence(Normal(f64(LOC), f64(SCALE)), Normal(f64(loc2), f64(scale2)))
    expected = np.log(scale2 / SCALE) + (SCALE**2 + (LOC - loc2) ** 2) / (2 * scale2**2) - 0.5
    np.testing.assert_allclose(kl.numpy(), expected, atol=1e-12)

    a, b = np.array([0.2, 0.6]), np.array([0.5, 0.1])
    kl = kl_divergence(Bernoulli(probs=f64(a)), Bernoulli(probs=f64(b)))
    expected = a * np.log(a / b) + (1 - a) * np.log((1 - a) / (1 - b))
    np.testing.assert_allclose(kl.numpy(), expected, atol=1e-12)

    kl = kl_divergence(Uniform(f64([0.0, 0.0]), f64([1.0, 1.0])),
                       Uniform(f64([-1.0, 0.5]), f64([3.0, 2.0])))
    assert kl.tolist() == [pytest.approx(math.log(4.0)), math.inf]
    kl = kl_divergence(OneHotCategorical(logits=f64(p_logits)),
                       OneHotCategorical(logits=f64(q_logits)))
    np.testing.assert_allclose(kl.numpy(), (p * np.log(p / q)).sum(-1), atol=1e-12)

    kl = kl_divergence(Independent(Normal(f64(LOC), f64(SCALE)), 1),
                       Independent(Normal(f64(loc2), f64(scale2)), 1))
    np.testing.assert_allclose(kl.numpy(), expected_normal_sum(loc2, scale2), atol=1e-12)


def expected_normal_sum(loc2, scale2):
    return (np.log(scale2 / SCALE) + (SCALE**2 + (LOC - loc2) ** 2) / (2 * scale2**2) - 0.5).sum(-1)


def test_kl_edge_cases_and_gradients():
    kl = kl_divergence(Categorical(probs=f64([0.5, 0.5])), Categorical(probs=f64([1.0, 0.0])))
    assert kl.item() == math.inf
    assert kl_divergence(Categorical(probs=f64([1.0, 0.0])),
                         Categorical(probs=f64([0.5, 0.5]))).item() == pytest.approx(math.log(2))
    q = f64(RNG.standard_normal((3, 4)))
    assert gradcheck(lambda x: kl_divergence(Categorical(logits=x), Categorical(logits=q)),
                     (f64(LOGITS, True),))


def test_kl_registry_dispatch_and_errors():
    class MyNormal(Normal):
        pass

    p = MyNormal(f64([0.0]), f64([1.0]))
    assert kl_divergence(p, Normal(f64([1.0]), f64([1.0]))).item() == pytest.approx(0.5)

    @register_kl(MyNormal, Normal)
    def _always_seven(p, q):
        return f64([7.0])

    assert kl_divergence(p, Normal(f64([1.0]), f64([1.0]))).item() == 7.0
    with pytest.raises(NotImplementedError, match="Normal.*Categorical"):
        kl_divergence(Normal(f64([0.0]), f64([1.0])), Categorical(logits=f64([0.0, 1.0])))
    with pytest.raises(TypeError, match="subclasses of Distribution"):
        register_kl(int, Normal)


def test_default_validation_can_be_switched_off():
    Distribution.set_default_validate_args(False)
    try:
        Normal(f64([0.0]), f64([-1.0]))  # no error: checking is off
    finally:
        Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        Normal(f64([0.0]), f64([-1.0]))
    assert "Normal(loc: 0" in repr(Normal(f64(0.0), f64(1.0)))
