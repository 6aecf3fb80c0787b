"""ember_rl.distributions: the policies' action distributions against numpy formulas."""

import numpy as np
import pytest
from gymnasium import spaces

import ember
import ember.nn as nn
from ember_rl.distributions import (
    CategoricalDistribution,
    DiagGaussian,
    DiagGaussianDistribution,
    make_proba_distribution,
)

RNG = np.random.default_rng(0)


def log_softmax(x):
    shifted = x - x.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def test_categorical_distribution_against_numpy():
    logits = RNG.standard_normal((5, 3))
    dist = CategoricalDistribution(3).proba_distribution(ember.tensor(logits))
    actions = np.array([0, 2, 1, 1, 0])
    log_p = log_softmax(logits)
    np.testing.assert_allclose(dist.log_prob(ember.tensor(actions)).numpy(),
                               log_p[np.arange(5), actions], atol=1e-6)
    np.testing.assert_allclose(dist.entropy().numpy(), -(np.exp(log_p) * log_p).sum(-1),
                               atol=1e-6)
    assert dist.mode().tolist() == logits.argmax(-1).tolist()
    assert dist.get_actions(deterministic=True).tolist() == logits.argmax(-1).tolist()
    samples = dist.sample()
    assert samples.shape == (5,) and samples.dtype == ember.int64
    head = CategoricalDistribution(3).proba_distribution_net(latent_dim=7)
    assert isinstance(head, nn.Linear) and head.weight.shape == (3, 7)


def test_diag_gaussian_against_numpy():
    mean = RNG.standard_normal((4, 2))
    log_std = np.array([-0.5, 0.3])
    dist = DiagGaussianDistribution(2).proba_distribution(ember.tensor(mean),
                                                          ember.tensor(log_std))
    actions = RNG.standard_normal((4, 2))
    std = np.exp(log_std)
    expected = (-((actions - mean) ** 2) / (2 * std**2) - log_std
                - 0.5 * np.log(2 * np.pi)).sum(-1)
    np.testing.assert_allclose(dist.log_prob(ember.tensor(actions)).numpy(), expected,
                               atol=1e-10)
    entropy = (0.5 + 0.5 * np.log(2 * np.pi) + log_std).sum() * np.ones(4)
    np.testing.assert_allclose(dist.entropy().numpy(), entropy, atol=1e-10)
    np.testing.assert_allclose(dist.mode().numpy(), mean)
    assert dist.sample().shape == (4, 2)


def test_diag_gaussian_samples_have_the_right_moments():
    ember.manual_seed(0)
    dist = DiagGaussian(ember.tensor([[1.0, -1.0]]).expand(20000, 2),
                        ember.tensor([np.log(0.5), 0.0], dtype=ember.float32))
    samples = dist.sample().numpy()
    np.testing.assert_allclose(samples.mean(0), [1.0, -1.0], atol=0.03)
    np.testing.assert_allclose(samples.std(0), [0.5, 1.0], atol=0.03)


def test_diag_gaussian_head_and_gradients():
    mean_net, log_std = DiagGaussianDistribution(3).proba_distribution_net(8, log_std_init=-1.0)
    assert isinstance(log_std, nn.Parameter) and log_std.tolist() == [-1.0] * 3
    dist = DiagGaussianDistribution(3).proba_distribution(mean_net(ember.zeros(2, 8)), log_std)
    dist.log_prob(ember.zeros(2, 3)).sum().backward()
    assert log_std.grad is not None and mean_net.weight.grad is not None


def test_make_proba_distribution_and_errors():
    assert isinstance(make_proba_distribution(spaces.Discrete(4)), CategoricalDistribution)
    assert isinstance(make_proba_distribution(spaces.Box(-1, 1, (2,))), DiagGaussianDistribution)
    with pytest.raises(ValueError, match="1-D"):
        make_proba_distribution(spaces.Box(-1, 1, (2, 2)))
    with pytest.raises(ValueError, match="MultiDiscrete"):
        make_proba_distribution(spaces.MultiDiscrete([2, 3]))
