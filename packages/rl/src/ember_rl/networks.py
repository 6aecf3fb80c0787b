"""Feature extractors and the actor/critic MLP trunk (Stable-Baselines3's ``torch_layers``)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

import ember
import ember.nn as nn
from ember_rl.preprocessing import flatten_dim, is_image_space

__all__ = ["FlattenExtractor", "MlpExtractor", "NatureCNN", "init_orthogonal"]


class FlattenExtractor(nn.Module):
    """Flattens each observation: ``(N, *obs_shape) -> (N, features_dim)``."""

    def __init__(self, observation_space: spaces.Space) -> None:
        super().__init__()
        self.features_dim = flatten_dim(observation_space)

    def forward(self, observations: ember.Tensor) -> ember.Tensor:
        return observations.reshape(observations.shape[0], -1)


class NatureCNN(nn.Module):
    """The DQN Nature paper's CNN (Mnih et al., 2015): three convolutions and a linear layer.

    Takes images ``(N, C, H, W)`` or ``(N, H, W, C)`` (channel-last observations are transposed),
    already scaled to [0, 1]; needs at least 36x36 pixels. Output ``(N, features_dim)``.
    """

    def __init__(self, observation_space: spaces.Space, features_dim: int = 512) -> None:
        super().__init__()
        if not is_image_space(observation_space):
            raise ValueError(
                f"NatureCNN: expected an image observation space (uint8 Box of shape (H, W, C) "
                f"or (C, H, W) with bounds 0..255), got {observation_space}; use MlpPolicy for "
                f"vector observations"
            )
        shape = observation_space.shape
        self.channels_last = shape[0] not in (1, 3, 4)
        channels, height, width = (shape[2], shape[0], shape[1]) if self.channels_last else shape
        if min(height, width) < 36:
            raise ValueError(f"NatureCNN: images must be at least 36x36, got {height}x{width}")
        self.cnn = nn.Sequential(
            nn.Conv2d(channels, 32, kernel_size=8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )
        with ember.no_grad():
            n_flatten = self.cnn(ember.zeros(1, channels, height, width)).shape[1]
        self.linear = nn.Sequential(nn.Linear(n_flatten, features_dim), nn.ReLU())
        self.features_dim = features_dim

    def forward(self, observations: ember.Tensor) -> ember.Tensor:
        if self.channels_last:
            observations = observations.permute(0, 3, 1, 2)
        return self.linear(self.cnn(observations))


def _mlp(input_dim: int, sizes: list[int], activation_fn: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for size in sizes:
        layers += [nn.Linear(input_dim, size), activation_fn()]
        input_dim = size
    return nn.Sequential(*layers)


class MlpExtractor(nn.Module):
    """Separate policy and value MLPs over the features.

    Args:
        feature_dim: input size.
        net_arch: ``dict(pi=[64, 64], vf=[64, 64])``, or one list used for both networks.
        activation_fn: activation class (``nn.Tanh`` by default, as Stable-Baselines3).
    """

    def __init__(self, feature_dim: int, net_arch: dict | list[int],
                 activation_fn: type[nn.Module] = nn.Tanh) -> None:
        super().__init__()
        if isinstance(net_arch, dict):
            unknown = set(net_arch) - {"pi", "vf"}
            if unknown:
                raise ValueError(f"MlpExtractor: net_arch keys must be 'pi' and 'vf', got "
                                 f"{sorted(unknown)}")
            pi_sizes, vf_sizes = list(net_arch.get("pi", [])), list(net_arch.get("vf", []))
        else:
            pi_sizes = vf_sizes = list(net_arch)
        self.policy_net = _mlp(feature_dim, pi_sizes, activation_fn)
        self.value_net = _mlp(feature_dim, vf_sizes, activation_fn)
        self.latent_dim_pi = pi_sizes[-1] if pi_sizes else feature_dim
        self.latent_dim_vf = vf_sizes[-1] if vf_sizes else feature_dim

    def forward(self, features: ember.Tensor) -> tuple[ember.Tensor, ember.Tensor]:
        return self.policy_net(features), self.value_net(features)

    def forward_actor(self, features: ember.Tensor) -> ember.Tensor:
        return self.policy_net(features)

    def forward_critic(self, features: ember.Tensor) -> ember.Tensor:
        return self.value_net(features)


def init_orthogonal(module: nn.Module, gain: float = 1.0) -> None:
    """Orthogonal weights scaled by ``gain`` and zero biases for every Linear and Conv2d in
    ``module`` (Stable-Baselines3's ``init_weights``)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            nn.init.orthogonal_(layer.weight, gain=gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


SQRT2 = float(np.sqrt(2))
