"""Action distributions of the policies, built on ``ember.distributions`` (Stable-Baselines3's).

``CategoricalDistribution`` (Discrete actions) and ``DiagGaussianDistribution`` (Box actions, a
diagonal Gaussian whose log standard deviation is a state-independent parameter) each make the
network head that outputs their parameters and wrap the distribution built from that output.
``DiagGaussian`` is the distribution itself: ``Independent(Normal(mean, exp(log_std)), 1)``.

Example:
    >>> dist = CategoricalDistribution(2)
    >>> head = dist.proba_distribution_net(latent_dim=8)
    >>> dist.proba_distribution(head(ember.zeros(3, 8))).sample().shape
    (3,)
"""

from __future__ import annotations

from gymnasium import spaces

import ember
import ember.nn as nn
from ember.distributions import Categorical, Distribution, Independent, Normal

__all__ = [
    "ActionDistribution", "Categorical", "CategoricalDistribution", "DiagGaussian",
    "DiagGaussianDistribution", "Normal", "make_proba_distribution",
]


class DiagGaussian(Independent):
    """A Gaussian with diagonal covariance over the last dimension of ``mean``.

    Args:
        mean: means, shape ``(..., action_dim)``.
        log_std: log standard deviations, broadcastable to ``mean`` (a ``(action_dim,)``
            parameter in the policies).
    """

    def __init__(self, mean: ember.Tensor, log_std: ember.Tensor) -> None:
        scale = log_std.exp().expand_as(mean)
        super().__init__(Normal(mean, scale, validate_args=False), 1, validate_args=False)


class ActionDistribution:
    """The interface the policies use: build the head, then wrap its output."""

    distribution: Distribution | None = None

    def proba_distribution_net(self, latent_dim: int, **kwargs):
        raise NotImplementedError

    def proba_distribution(self, *params) -> ActionDistribution:
        raise NotImplementedError

    def log_prob(self, actions: ember.Tensor) -> ember.Tensor:
        """Log-likelihood of ``actions``, shape ``(batch,)``."""
        return self.distribution.log_prob(actions)

    def entropy(self) -> ember.Tensor:
        """Entropy of each distribution of the batch, shape ``(batch,)``."""
        return self.distribution.entropy()

    def sample(self) -> ember.Tensor:
        return self.distribution.sample()

    def mode(self) -> ember.Tensor:
        return self.distribution.mode

    def get_actions(self, deterministic: bool = False) -> ember.Tensor:
        return self.mode() if deterministic else self.sample()

    def actions_from_params(self, *params, deterministic: bool = False) -> ember.Tensor:
        return self.proba_distribution(*params).get_actions(deterministic)

    def log_prob_from_params(self, *params) -> tuple[ember.Tensor, ember.Tensor]:
        actions = self.actions_from_params(*params)
        return actions, self.log_prob(actions)


class CategoricalDistribution(ActionDistribution):
    """Categorical over ``action_dim`` discrete actions; the head outputs logits."""

    def __init__(self, action_dim: int) -> None:
        self.action_dim = action_dim

    def proba_distribution_net(self, latent_dim: int) -> nn.Module:
        return nn.Linear(latent_dim, self.action_dim)

    def proba_distribution(self, action_logits: ember.Tensor) -> CategoricalDistribution:
        self.distribution = Categorical(logits=action_logits, validate_args=False)
        return self


class DiagGaussianDistribution(ActionDistribution):
    """Diagonal Gaussian over ``action_dim`` continuous actions with state-independent log-std."""

    def __init__(self, action_dim: int) -> None:
        self.action_dim = action_dim

    def proba_distribution_net(self, latent_dim: int,
                               log_std_init: float = 0.0) -> tuple[nn.Module, nn.Parameter]:
        mean_actions = nn.Linear(latent_dim, self.action_dim)
        log_std = nn.Parameter(ember.full((self.action_dim,), float(log_std_init)))
        return mean_actions, log_std

    def proba_distribution(self, mean_actions: ember.Tensor,
                           log_std: ember.Tensor) -> DiagGaussianDistribution:
        self.distribution = DiagGaussian(mean_actions, log_std)
        return self


def make_proba_distribution(action_space: spaces.Space) -> ActionDistribution:
    """The action distribution for ``action_space`` (Discrete or a 1-D Box)."""
    if isinstance(action_space, spaces.Discrete):
        return CategoricalDistribution(int(action_space.n))
    if isinstance(action_space, spaces.Box):
        if len(action_space.shape) != 1:
            raise ValueError(f"make_proba_distribution: Box action spaces must be 1-D, got shape "
                             f"{action_space.shape}")
        return DiagGaussianDistribution(int(action_space.shape[0]))
    raise ValueError(f"make_proba_distribution: action space {action_space} is not supported; "
                     f"expected Discrete or Box")
