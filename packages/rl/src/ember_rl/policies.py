"""Actor-critic policies: ``MlpPolicy`` and ``CnnPolicy`` (Stable-Baselines3's interface).

A policy maps observations to an action distribution and a value estimate: features extractor
(flatten or Nature-CNN) -> separate policy/value MLPs -> action head and value head. Weights are
orthogonal as in Stable-Baselines3 (gain sqrt(2) for the trunk, 0.01 for the action head, 1 for the
value head) and the policy owns its optimizer (Adam with eps=1e-5 by default).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from gymnasium import spaces

import ember
import ember.nn as nn
from ember_rl.distributions import (
    ActionDistribution,
    CategoricalDistribution,
    DiagGaussianDistribution,
    make_proba_distribution,
)
from ember_rl.networks import SQRT2, FlattenExtractor, MlpExtractor, NatureCNN, init_orthogonal
from ember_rl.preprocessing import (
    check_action_space,
    check_observation_space,
    obs_as_tensor,
    preprocess_obs,
)

__all__ = ["ActorCriticCnnPolicy", "ActorCriticPolicy", "CnnPolicy", "MlpPolicy",
           "get_policy_class"]

_EXTRACTORS = {"FlattenExtractor": FlattenExtractor, "NatureCNN": NatureCNN}


def _named(kind: str, value, namespace) -> type:
    """A class given by itself or by its name in ``namespace`` (what a saved config holds)."""
    if isinstance(value, str):
        found = namespace.get(value) if isinstance(namespace, dict) else getattr(namespace, value,
                                                                                  None)
        if found is None:
            raise ValueError(f"unknown {kind} {value!r}")
        return found
    return value


class ActorCriticPolicy(nn.Module):
    """Policy and value networks for on-policy algorithms.

    Args:
        observation_space: a Box, Discrete or MultiBinary space.
        action_space: Discrete (categorical actions) or a 1-D Box (diagonal Gaussian).
        lr_schedule: learning rate as a function of the remaining progress (1 -> 0).
        net_arch: ``dict(pi=[...], vf=[...])`` or one list for both; default ``[64, 64]`` each
            (``[]`` after a Nature-CNN).
        activation_fn: activation class, ``nn.Tanh`` by default.
        ortho_init: orthogonal initialisation as Stable-Baselines3.
        log_std_init: initial log standard deviation of Gaussian actions.
        features_extractor_class: ``FlattenExtractor`` or ``NatureCNN`` (or their names).
        share_features_extractor: one extractor for actor and critic (else one each).
        normalize_images: scale uint8 images to [0, 1].
        optimizer_class: an ``ember.optim`` class (or its name); Adam gets eps=1e-5 by default.

    Example:
        >>> import gymnasium as gym
        >>> env = gym.make("CartPole-v1")
        >>> policy = MlpPolicy(env.observation_space, env.action_space, lambda _: 3e-4)
        >>> actions, values, log_prob = policy(ember.zeros(2, 4))
        >>> actions.shape, values.shape, log_prob.shape
        ((2,), (2, 1), (2,))
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space,
                 lr_schedule: Callable[[float], float], net_arch: dict | list | None = None,
                 activation_fn: type[nn.Module] | str = nn.Tanh, ortho_init: bool = True,
                 log_std_init: float = 0.0,
                 features_extractor_class: type[nn.Module] | str = FlattenExtractor,
                 features_extractor_kwargs: dict | None = None,
                 share_features_extractor: bool = True, normalize_images: bool = True,
                 optimizer_class: type | str = "Adam",
                 optimizer_kwargs: dict | None = None) -> None:
        super().__init__()
        check_observation_space(observation_space, type(self).__name__)
        check_action_space(action_space, type(self).__name__)
        activation_fn = _named("activation", activation_fn, nn)
        features_extractor_class = _named("features extractor", features_extractor_class,
                                          _EXTRACTORS)
        optimizer_class = _named("optimizer", optimizer_class, ember.optim)
        optimizer_kwargs = dict(optimizer_kwargs or {})
        if optimizer_class is ember.optim.Adam:
            optimizer_kwargs.setdefault("eps", 1e-5)
        if net_arch is None:
            net_arch = [] if features_extractor_class is NatureCNN else dict(pi=[64, 64],
                                                                             vf=[64, 64])
        self.observation_space, self.action_space = observation_space, action_space
        self.normalize_images = normalize_images
        self.share_features_extractor = share_features_extractor
        self.config = dict(
            net_arch=net_arch, activation_fn=activation_fn.__name__, ortho_init=ortho_init,
            log_std_init=float(log_std_init),
            features_extractor_class=features_extractor_class.__name__,
            features_extractor_kwargs=dict(features_extractor_kwargs or {}),
            share_features_extractor=share_features_extractor,
            normalize_images=normalize_images, optimizer_class=optimizer_class.__name__,
            optimizer_kwargs=optimizer_kwargs,
        )

        extractor_kwargs = features_extractor_kwargs or {}
        self.features_extractor = features_extractor_class(observation_space, **extractor_kwargs)
        self.vf_features_extractor = (None if share_features_extractor else
                                      features_extractor_class(observation_space,
                                                               **extractor_kwargs))
        features_dim = self.features_extractor.features_dim
        self.mlp_extractor = MlpExtractor(features_dim, net_arch, activation_fn)
        self.action_dist = make_proba_distribution(action_space)
        if isinstance(self.action_dist, DiagGaussianDistribution):
            self.action_net, self.log_std = self.action_dist.proba_distribution_net(
                self.mlp_extractor.latent_dim_pi, log_std_init=log_std_init)
        else:
            self.action_net = self.action_dist.proba_distribution_net(
                self.mlp_extractor.latent_dim_pi)
        self.value_net = nn.Linear(self.mlp_extractor.latent_dim_vf, 1)

        if ortho_init:
            gains = [(self.features_extractor, SQRT2), (self.mlp_extractor, SQRT2),
                     (self.action_net, 0.01), (self.value_net, 1.0)]
            if self.vf_features_extractor is not None:
                gains.append((self.vf_features_extractor, SQRT2))
            for module, gain in gains:
                init_orthogonal(module, gain)
        self.optimizer = optimizer_class(self.parameters(), lr=lr_schedule(1.0),
                                         **optimizer_kwargs)

    # ---- networks ---------------------------------------------------------------------------

    def _features(self, obs: ember.Tensor) -> tuple[ember.Tensor, ember.Tensor]:
        inputs = preprocess_obs(obs, self.observation_space, self.normalize_images)
        features = self.features_extractor(inputs)
        if self.vf_features_extractor is None:
            return features, features
        return features, self.vf_features_extractor(inputs)

    def _distribution(self, latent_pi: ember.Tensor) -> ActionDistribution:
        params = self.action_net(latent_pi)
        if isinstance(self.action_dist, CategoricalDistribution):
            return self.action_dist.proba_distribution(params)
        return self.action_dist.proba_distribution(params, self.log_std)

    def forward(self, obs: ember.Tensor, deterministic: bool = False):
        """Actions, values ``(N, 1)`` and log-probabilities of the actions for a batch."""
        pi_features, vf_features = self._features(obs)
        latent_pi = self.mlp_extractor.forward_actor(pi_features)
        values = self.value_net(self.mlp_extractor.forward_critic(vf_features))
        distribution = self._distribution(latent_pi)
        actions = distribution.get_actions(deterministic)
        return actions, values, distribution.log_prob(actions)

    def evaluate_actions(self, obs: ember.Tensor, actions: ember.Tensor):
        """Values ``(N, 1)``, log-probabilities ``(N,)`` and entropies ``(N,)`` of ``actions``."""
        pi_features, vf_features = self._features(obs)
        latent_pi = self.mlp_extractor.forward_actor(pi_features)
        values = self.value_net(self.mlp_extractor.forward_critic(vf_features))
        distribution = self._distribution(latent_pi)
        return values, distribution.log_prob(actions), distribution.entropy()

    def get_distribution(self, obs: ember.Tensor) -> ActionDistribution:
        pi_features, _ = self._features(obs)
        return self._distribution(self.mlp_extractor.forward_actor(pi_features))

    def predict_values(self, obs: ember.Tensor) -> ember.Tensor:
        """Value estimates ``(N, 1)``."""
        _, vf_features = self._features(obs)
        return self.value_net(self.mlp_extractor.forward_critic(vf_features))

    def set_training_mode(self, mode: bool) -> None:
        self.train(mode)

    # ---- numpy interface --------------------------------------------------------------------

    def predict(self, observation: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions for one observation or a batch of them, as numpy (Box actions clipped)."""
        observation = np.asarray(observation)
        space = self.observation_space
        single = observation.shape == space.shape
        if not single and observation.shape[1:] != space.shape:
            raise ValueError(
                f"predict: observation of shape {observation.shape} matches neither the "
                f"observation space's shape {space.shape} nor a batch of it"
            )
        batch = observation[None] if single else observation
        if isinstance(space, spaces.Box | spaces.MultiBinary):
            batch = batch.astype(space.dtype, copy=False)
        self.set_training_mode(False)
        with ember.no_grad():
            dist = self.get_distribution(obs_as_tensor(batch, self._device()))
            actions = dist.get_actions(deterministic).cpu().numpy()
        if isinstance(self.action_space, spaces.Box):
            actions = np.clip(actions, self.action_space.low, self.action_space.high)
        return actions[0] if single else actions

    def _device(self):
        return next(iter(self.parameters())).device


class ActorCriticCnnPolicy(ActorCriticPolicy):
    """``ActorCriticPolicy`` with a Nature-CNN features extractor (image observations)."""

    def __init__(self, observation_space, action_space, lr_schedule, *args,
                 features_extractor_class=NatureCNN, **kwargs) -> None:
        super().__init__(observation_space, action_space, lr_schedule, *args,
                         features_extractor_class=features_extractor_class, **kwargs)


MlpPolicy = ActorCriticPolicy
CnnPolicy = ActorCriticCnnPolicy
POLICIES = {"MlpPolicy": ActorCriticPolicy, "CnnPolicy": ActorCriticCnnPolicy}


def get_policy_class(policy: str | type) -> type:
    """The policy class for ``"MlpPolicy"``, ``"CnnPolicy"`` or a policy class itself."""
    if isinstance(policy, str):
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; expected one of {sorted(POLICIES)} or an "
                             f"ActorCriticPolicy subclass")
        return POLICIES[policy]
    if isinstance(policy, type) and issubclass(policy, ActorCriticPolicy):
        return policy
    raise ValueError(f"policy must be 'MlpPolicy', 'CnnPolicy' or an ActorCriticPolicy subclass, "
                     f"got {policy!r}")
