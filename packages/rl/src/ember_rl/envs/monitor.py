"""Episode statistics of a vector environment: each finished episode's return, length and time."""

from __future__ import annotations

import time

import numpy as np
from gymnasium.vector import VectorEnv, VectorWrapper

__all__ = ["EpisodeStatistics"]


class EpisodeStatistics(VectorWrapper):
    """Adds ``infos["episode"] = {"r", "l", "t"}`` (masked by ``infos["_episode"]``) on the step
    that ends an episode: its undiscounted return, its length and the seconds since it began.

    Works with same-step autoreset (the step that ends an episode reports it), the mode every
    ember_rl vector env uses. Put it below ``VecNormalize`` so that returns are the raw ones.
    """

    def __init__(self, env: VectorEnv, env_id: str | None = None) -> None:
        super().__init__(env)
        self.env_id = env_id  # the Gymnasium id, when known: saved with models for `eval`
        self.episode_returns = np.zeros(self.num_envs, dtype=np.float64)
        self.episode_lengths = np.zeros(self.num_envs, dtype=np.int64)
        self.episode_starts = np.full(self.num_envs, time.perf_counter())

    def reset(self, *, seed=None, options=None):
        obs, infos = self.env.reset(seed=seed, options=options)
        self.episode_returns[:] = 0.0
        self.episode_lengths[:] = 0
        self.episode_starts[:] = time.perf_counter()
        return obs, infos

    def step(self, actions):
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        self.episode_returns += rewards
        self.episode_lengths += 1
        dones = np.logical_or(terminations, truncations)
        if dones.any():
            now = time.perf_counter()
            infos = dict(infos)
            infos["episode"] = {
                "r": np.where(dones, self.episode_returns, 0.0),
                "l": np.where(dones, self.episode_lengths, 0),
                "t": np.where(dones, now - self.episode_starts, 0.0),
            }
            infos["_episode"] = dones
            self.episode_returns[dones] = 0.0
            self.episode_lengths[dones] = 0
            self.episode_starts[dones] = now
        return obs, rewards, terminations, truncations, infos
