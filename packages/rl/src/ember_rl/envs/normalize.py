"""Running mean/std normalisation of observations and rewards (Stable-Baselines3's VecNormalize)."""

from __future__ import annotations

import numpy as np
from gymnasium.vector import VectorEnv, VectorWrapper

__all__ = ["RunningMeanStd", "VecNormalize", "normalize_observation"]


def normalize_observation(obs: np.ndarray, obs_rms: RunningMeanStd, clip_obs: float,
                          epsilon: float) -> np.ndarray:
    """``(obs - mean) / sqrt(var + epsilon)`` clipped to ``[-clip_obs, clip_obs]``, as float32."""
    scaled = (obs - obs_rms.mean) / np.sqrt(obs_rms.var + epsilon)
    return np.clip(scaled, -clip_obs, clip_obs).astype(np.float32)


class RunningMeanStd:
    """Mean and variance of a stream of batches (Chan et al.'s parallel update).

    Example:
        >>> rms = RunningMeanStd(shape=())
        >>> rms.update(np.array([1.0, 3.0]))
        >>> round(float(rms.mean), 3)
        2.0
    """

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4) -> None:
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = epsilon

    def update(self, batch: np.ndarray) -> None:
        batch = np.asarray(batch, np.float64)
        batch_mean, batch_var, batch_count = batch.mean(0), batch.var(0), batch.shape[0]
        delta = batch_mean - self.mean
        total = self.count + batch_count
        self.mean = self.mean + delta * batch_count / total
        m2 = (self.var * self.count + batch_var * batch_count
              + delta**2 * self.count * batch_count / total)
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": float(self.count)}

    def load_state_dict(self, state: dict) -> None:
        self.mean = np.asarray(state["mean"], np.float64).copy()
        self.var = np.asarray(state["var"], np.float64).copy()
        self.count = float(state["count"])


class VecNormalize(VectorWrapper):
    """Normalises observations by their running mean/std and rewards by the running std of the
    discounted return; statistics update while ``training`` is True.

    The agents save these statistics with the model and apply them in ``predict``, so a loaded
    model takes raw observations.

    Args:
        env: a vector env (same-step autoreset).
        training: update the statistics on every step.
        norm_obs, norm_reward: what to normalise.
        clip_obs, clip_reward: bounds after normalising.
        gamma: discount of the return whose std scales rewards.
        epsilon: added to variances before the square root.
    """

    def __init__(self, env: VectorEnv, training: bool = True, norm_obs: bool = True,
                 norm_reward: bool = True, clip_obs: float = 10.0, clip_reward: float = 10.0,
                 gamma: float = 0.99, epsilon: float = 1e-8) -> None:
        super().__init__(env)
        shape = env.single_observation_space.shape
        self.obs_rms = RunningMeanStd(shape=shape)
        self.ret_rms = RunningMeanStd(shape=())
        self.training, self.norm_obs, self.norm_reward = training, norm_obs, norm_reward
        self.clip_obs, self.clip_reward = clip_obs, clip_reward
        self.gamma, self.epsilon = gamma, epsilon
        self.returns = np.zeros(self.num_envs)
        self.old_obs = self.old_reward = None

    def reset(self, *, seed=None, options=None):
        obs, infos = self.env.reset(seed=seed, options=options)
        self.old_obs = obs
        self.returns = np.zeros(self.num_envs)
        if self.training and self.norm_obs:
            self.obs_rms.update(obs)
        return self.normalize_obs(obs), infos

    def step(self, actions):
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        self.old_obs, self.old_reward = obs, rewards
        if self.training and self.norm_obs:
            self.obs_rms.update(obs)
        if self.training and self.norm_reward:
            self.returns = self.returns * self.gamma + rewards
            self.ret_rms.update(self.returns)
        if "final_obs" in infos:
            infos = dict(infos)
            final = infos["final_obs"].copy()
            for index in np.flatnonzero(infos["_final_obs"]):
                final[index] = self.normalize_obs(final[index])
            infos["final_obs"] = final
        self.returns[np.logical_or(terminations, truncations)] = 0.0
        return (self.normalize_obs(obs), self.normalize_reward(rewards), terminations,
                truncations, infos)

    def normalize_obs(self, obs: np.ndarray) -> np.ndarray:
        if not self.norm_obs:
            return obs
        return normalize_observation(obs, self.obs_rms, self.clip_obs, self.epsilon)

    def normalize_reward(self, rewards: np.ndarray) -> np.ndarray:
        if not self.norm_reward:
            return rewards
        scaled = rewards / np.sqrt(self.ret_rms.var + self.epsilon)
        return np.clip(scaled, -self.clip_reward, self.clip_reward).astype(np.float32)

    def get_original_obs(self) -> np.ndarray:
        return self.old_obs

    def get_original_reward(self) -> np.ndarray:
        return self.old_reward

    # ---- saved with the model ---------------------------------------------------------------

    def state_dict(self) -> dict:
        """The statistics and settings, as plain values and numpy arrays."""
        return {"obs_rms": self.obs_rms.state_dict(), "ret_rms": self.ret_rms.state_dict(),
                "norm_obs": self.norm_obs, "norm_reward": self.norm_reward,
                "clip_obs": float(self.clip_obs), "clip_reward": float(self.clip_reward),
                "gamma": float(self.gamma), "epsilon": float(self.epsilon)}

    def load_state_dict(self, state: dict) -> None:
        self.obs_rms.load_state_dict(state["obs_rms"])
        self.ret_rms.load_state_dict(state["ret_rms"])
        for key in ("norm_obs", "norm_reward", "clip_obs", "clip_reward", "gamma", "epsilon"):
            setattr(self, key, state[key])
