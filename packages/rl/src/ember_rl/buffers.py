"""The rollout buffer of on-policy algorithms and generalised advantage estimation (GAE)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from gymnasium import spaces

import ember
from ember_rl.preprocessing import obs_as_tensor

__all__ = ["RolloutBuffer", "RolloutBufferSamples", "bootstrap_truncated", "compute_gae"]


def compute_gae(rewards: np.ndarray, values: np.ndarray, episode_starts: np.ndarray,
                last_values: np.ndarray, last_dones: np.ndarray, gamma: float,
                gae_lambda: float) -> np.ndarray:
    """Advantages by GAE(gamma, lambda) (Schulman et al., 2016) over a ``(T, n_envs)`` rollout.

    ``episode_starts[t]`` marks observations that began an episode (the previous step ended
    one), so no value flows back across it; ``last_values``/``last_dones`` describe the
    observation after the last step. A truncated (not terminated) episode must already have
    ``gamma * V(final_obs)`` added to its last reward (``bootstrap_truncated``). Returns are
    ``advantages + values``; ``gae_lambda=1`` gives Monte Carlo returns minus the baseline.
    """
    steps = rewards.shape[0]
    advantages = np.zeros_like(rewards)
    last_gae = np.zeros_like(rewards[0])
    for step in reversed(range(steps)):
        if step == steps - 1:
            next_non_terminal = 1.0 - last_dones.astype(rewards.dtype)
            next_values = last_values
        else:
            next_non_terminal = 1.0 - episode_starts[step + 1]
            next_values = values[step + 1]
        delta = rewards[step] + gamma * next_values * next_non_terminal - values[step]
        last_gae = delta + gamma * gae_lambda * next_non_terminal * last_gae
        advantages[step] = last_gae
    return advantages


def bootstrap_truncated(rewards: np.ndarray, truncated: np.ndarray, terminated: np.ndarray,
                        final_values: np.ndarray, gamma: float) -> np.ndarray:
    """Rewards with ``gamma * V(final_obs)`` added where an episode was cut by a time limit.

    A truncated episode did not end in the environment, so its return continues past the cut;
    a terminated one has no future reward. ``final_values`` holds V of each env's final
    observation (read where truncated only).
    """
    cut = truncated & ~terminated
    if not cut.any():
        return rewards
    rewards = rewards.copy()
    rewards[cut] += gamma * final_values[cut]
    return rewards


class RolloutBufferSamples(NamedTuple):
    """One minibatch, as tensors: observations ``(B, *obs_shape)``, actions ``(B,)`` or
    ``(B, action_dim)``, and ``(B,)`` old values, old log-probabilities, advantages, returns."""

    observations: ember.Tensor
    actions: ember.Tensor
    old_values: ember.Tensor
    old_log_prob: ember.Tensor
    advantages: ember.Tensor
    returns: ember.Tensor


class RolloutBuffer:
    """Stores ``buffer_size`` steps of ``n_envs`` environments, then yields shuffled minibatches.

    Args:
        buffer_size: steps per environment in one rollout (``n_steps``).
        observation_space, action_space: the environment's spaces.
        gae_lambda, gamma: GAE parameters.
        n_envs: number of parallel environments.

    Example:
        >>> import gymnasium as gym
        >>> buffer = RolloutBuffer(4, gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2))
        >>> buffer.observations.shape
        (4, 1, 3)
    """

    def __init__(self, buffer_size: int, observation_space: spaces.Space,
                 action_space: spaces.Space, gae_lambda: float = 1.0, gamma: float = 0.99,
                 n_envs: int = 1, device=None) -> None:
        self.buffer_size, self.n_envs = buffer_size, n_envs
        self.gae_lambda, self.gamma = gae_lambda, gamma
        self.observation_space, self.action_space = observation_space, action_space
        self.device = device
        if isinstance(observation_space, spaces.Discrete):
            self.obs_shape, self.obs_dtype = (), np.int64
        else:
            self.obs_shape = observation_space.shape
            self.obs_dtype = observation_space.dtype
        if isinstance(action_space, spaces.Discrete):
            self.action_shape, self.action_dtype = (), np.int64
        else:
            self.action_shape, self.action_dtype = action_space.shape, np.float32
        self.reset()

    def reset(self) -> None:
        size, n = self.buffer_size, self.n_envs
        self.observations = np.zeros((size, n, *self.obs_shape), dtype=self.obs_dtype)
        self.actions = np.zeros((size, n, *self.action_shape), dtype=self.action_dtype)
        self.rewards = np.zeros((size, n), dtype=np.float32)
        self.episode_starts = np.zeros((size, n), dtype=np.float32)
        self.values = np.zeros((size, n), dtype=np.float32)
        self.log_probs = np.zeros((size, n), dtype=np.float32)
        self.advantages = np.zeros((size, n), dtype=np.float32)
        self.returns = np.zeros((size, n), dtype=np.float32)
        self.pos, self.full = 0, False

    def add(self, obs: np.ndarray, action: np.ndarray, reward: np.ndarray,
            episode_start: np.ndarray, value: np.ndarray, log_prob: np.ndarray) -> None:
        """Stores one step of every environment (arrays with a leading ``n_envs`` dimension)."""
        if self.full:
            raise RuntimeError(f"RolloutBuffer.add: the buffer is full ({self.buffer_size} steps); "
                               f"call reset() first")
        self.observations[self.pos] = obs
        self.actions[self.pos] = action.reshape((self.n_envs, *self.action_shape))
        self.rewards[self.pos] = reward
        self.episode_starts[self.pos] = episode_start
        self.values[self.pos] = value.reshape(self.n_envs)
        self.log_probs[self.pos] = log_prob.reshape(self.n_envs)
        self.pos += 1
        self.full = self.pos == self.buffer_size

    def compute_returns_and_advantage(self, last_values: np.ndarray, dones: np.ndarray) -> None:
        """GAE advantages and returns, given V of the observation after the last step."""
        self.advantages = compute_gae(self.rewards, self.values, self.episode_starts,
                                      np.asarray(last_values, np.float32).reshape(self.n_envs),
                                      np.asarray(dones), self.gamma, self.gae_lambda)
        self.returns = self.advantages + self.values

    def get(self, batch_size: int | None = None,
            rng: np.random.Generator | None = None) -> Iterator[RolloutBufferSamples]:
        """Shuffled minibatches of ``batch_size`` samples (the whole rollout when None); the
        last one is smaller when the sample count is not a multiple of it."""
        if not self.full:
            raise RuntimeError(f"RolloutBuffer.get: only {self.pos} of {self.buffer_size} steps "
                               f"are stored")
        total = self.buffer_size * self.n_envs
        flat = self._flattened()
        indices = (rng if rng is not None else np.random.default_rng()).permutation(total)
        batch_size = total if batch_size is None else batch_size
        for start in range(0, total, batch_size):
            yield self._samples(flat, indices[start:start + batch_size])

    def _flattened(self) -> list[np.ndarray]:
        total = self.buffer_size * self.n_envs
        return [
            self.observations.reshape(total, *self.obs_shape),
            self.actions.reshape(total, *self.action_shape),
            self.values.reshape(total), self.log_probs.reshape(total),
            self.advantages.reshape(total), self.returns.reshape(total),
        ]

    def _samples(self, flat: list[np.ndarray], indices: np.ndarray) -> RolloutBufferSamples:
        return RolloutBufferSamples(*(obs_as_tensor(array[indices], self.device)
                                      for array in flat))
