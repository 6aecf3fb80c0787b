"""Tiny environments for fast tests: the right action is visible in the observation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["IdentityEnv", "IdentityEnvBox", "ImageIdentityEnv"]


class _Identity(gym.Env):
    """Shows a random target each step; reward 1 for matching it (a contextual bandit)."""

    def __init__(self, ep_length: int) -> None:
        self.ep_length = ep_length
        self.steps = 0
        self.state = None

    def _draw(self):
        raise NotImplementedError

    def _observe(self):
        return self.state

    def _reward(self, action) -> float:
        raise NotImplementedError

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        self.state = self._draw()
        return self._observe(), {}

    def step(self, action):
        reward = self._reward(action)
        self.state = self._draw()
        self.steps += 1
        return self._observe(), reward, False, self.steps >= self.ep_length, {}


class IdentityEnv(_Identity):
    """Discrete observation ``s`` in ``0..n-1``; reward 1 when the action equals ``s``."""

    def __init__(self, n: int = 2, ep_length: int = 100) -> None:
        super().__init__(ep_length)
        self.observation_space = spaces.Discrete(n)
        self.action_space = spaces.Discrete(n)

    def _draw(self):
        return int(self.np_random.integers(self.action_space.n))

    def _reward(self, action) -> float:
        return float(int(action) == self.state)


class IdentityEnvBox(_Identity):
    """Box observation ``s`` in [low, high]; reward 1 when ``|action - s| < eps``."""

    def __init__(self, low: float = -1.0, high: float = 1.0, eps: float = 0.1,
                 ep_length: int = 100) -> None:
        super().__init__(ep_length)
        self.eps = eps
        self.observation_space = spaces.Box(low, high, (1,), np.float32)
        self.action_space = spaces.Box(low, high, (1,), np.float32)

    def _draw(self):
        return self.observation_space.sample()

    def _reward(self, action) -> float:
        distance = abs(float(np.asarray(action).reshape(-1)[0]) - float(self.state[0]))
        return float(distance < self.eps)


class ImageIdentityEnv(IdentityEnv):
    """``IdentityEnv`` seen as a uint8 image (H, W, C): target ``s`` lights up column band ``s``.

    ``render_mode="rgb_array"`` renders the observation as an RGB frame.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, n: int = 2, shape: tuple[int, int, int] = (36, 36, 1),
                 ep_length: int = 20, render_mode: str | None = None) -> None:
        super().__init__(n, ep_length)
        self.shape = shape
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0, 255, shape, np.uint8)

    def render(self):
        image = self._observe()
        return np.repeat(image[..., :1], 3, axis=-1)

    def _observe(self):
        image = np.zeros(self.shape, np.uint8)
        width = self.shape[1] // self.action_space.n
        image[:, self.state * width:(self.state + 1) * width] = 255
        return image
