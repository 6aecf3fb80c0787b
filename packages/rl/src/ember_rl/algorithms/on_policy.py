"""The on-policy base: collect ``n_steps`` per env into a rollout buffer, then ``train`` on it."""

from __future__ import annotations

import sys
import time

import numpy as np
from gymnasium import spaces

import ember
from ember_rl.algorithms.base import BaseAlgorithm
from ember_rl.buffers import RolloutBuffer, bootstrap_truncated
from ember_rl.preprocessing import obs_as_tensor
from ember_rl.utils import explained_variance, safe_mean

__all__ = ["OnPolicyAlgorithm"]


class OnPolicyAlgorithm(BaseAlgorithm):
    """Alternates rollouts and updates (Stable-Baselines3's ``OnPolicyAlgorithm``).

    Args (beyond ``BaseAlgorithm``'s):
        n_steps: steps per environment in each rollout (a rollout is ``n_steps * n_envs``).
        gamma, gae_lambda: discount and GAE parameter.
        ent_coef, vf_coef: weights of the entropy bonus and the value loss.
        max_grad_norm: global gradient-norm clipping.
    """

    def __init__(self, policy, env, learning_rate, n_steps: int, gamma: float, gae_lambda: float,
                 ent_coef: float, vf_coef: float, max_grad_norm: float, **kwargs) -> None:
        super().__init__(policy, env, learning_rate, **kwargs)
        if n_steps < 1:
            raise ValueError(f"{type(self).__name__}: n_steps must be at least 1, got {n_steps}")
        self.n_steps, self.gamma, self.gae_lambda = n_steps, gamma, gae_lambda
        self.ent_coef, self.vf_coef, self.max_grad_norm = ent_coef, vf_coef, max_grad_norm

    def _setup_model(self) -> None:
        self.rollout_buffer = RolloutBuffer(self.n_steps, self.observation_space,
                                            self.action_space, gae_lambda=self.gae_lambda,
                                            gamma=self.gamma, n_envs=self.n_envs,
                                            device=self.device)
        self.policy = self.policy_class(self.observation_space, self.action_space,
                                        self.lr_schedule, **self.policy_kwargs)
        if self.device.type != "cpu":
            self.policy.to(self.device)

    def _values_of(self, obs: np.ndarray) -> np.ndarray:
        with ember.no_grad():
            values = self.policy.predict_values(obs_as_tensor(obs, self.device))
        return values.cpu().numpy().reshape(-1)

    def collect_rollouts(self, env, callback, rollout_buffer: RolloutBuffer,
                         n_rollout_steps: int) -> bool:
        """Fills ``rollout_buffer`` with ``n_rollout_steps`` steps of every env; False when a
        callback asked to stop."""
        self.policy.set_training_mode(False)
        rollout_buffer.reset()
        callback.on_rollout_start()
        box_actions = isinstance(self.action_space, spaces.Box)
        low, high = (self.action_space.low, self.action_space.high) if box_actions else (0, 0)
        policy, device = self.policy, self.device
        for _ in range(n_rollout_steps):
            with ember.no_grad():
                actions, values, log_probs = policy(obs_as_tensor(self._last_obs, device))
            actions = actions.cpu().numpy()
            env_actions = np.clip(actions, low, high) if box_actions else actions
            new_obs, rewards, terminations, truncations, infos = env.step(env_actions)
            self.num_timesteps += self.n_envs
            callback.update_locals(locals())
            if not callback.on_step():
                return False
            self._update_info_buffer(infos)
            if truncations.any():
                rewards = self._bootstrap(rewards, terminations, truncations, infos)
            rollout_buffer.add(self._last_obs, actions, rewards, self._last_episode_starts,
                               values.cpu().numpy(), log_probs.cpu().numpy())
            self._last_obs = new_obs
            self._last_episode_starts = np.logical_or(terminations, truncations)
        last_values = self._values_of(self._last_obs)
        rollout_buffer.compute_returns_and_advantage(last_values, self._last_episode_starts)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _bootstrap(self, rewards, terminations, truncations, infos) -> np.ndarray:
        """Adds ``gamma * V(final_obs)`` to the rewards of time-limited (truncated) episodes."""
        cut = np.flatnonzero(truncations & ~terminations)
        if cut.size == 0:
            return rewards
        final_values = np.zeros(self.n_envs, dtype=np.float32)
        final_values[cut] = self._values_of(np.stack([infos["final_obs"][i] for i in cut]))
        return bootstrap_truncated(rewards, truncations, terminations, final_values, self.gamma)

    def train(self) -> None:
        raise NotImplementedError

    def learn(self, total_timesteps: int, callback=None, log_interval: int = 1,
              tb_log_name: str = "OnPolicyAlgorithm", reset_num_timesteps: bool = True,
              progress_bar: bool = False):
        """Trains for ``total_timesteps`` environment steps (rounded up to whole rollouts)."""
        iteration = 0
        total_timesteps, callback = self._setup_learn(total_timesteps, callback,
                                                      reset_num_timesteps, tb_log_name,
                                                      progress_bar)
        callback.on_training_start(locals(), globals())
        while self.num_timesteps < total_timesteps:
            if not self.collect_rollouts(self.env, callback, self.rollout_buffer, self.n_steps):
                break
            iteration += 1
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            if log_interval is not None and iteration % log_interval == 0:
                self._dump_logs(iteration)
            self.train()
        callback.on_training_end()
        return self

    def _dump_logs(self, iteration: int) -> None:
        elapsed = max((time.time_ns() - self.start_time) / 1e9, sys.float_info.epsilon)
        fps = int((self.num_timesteps - self._num_timesteps_at_start) / elapsed)
        episodes = self.ep_info_buffer
        if episodes:
            self.logger.record("rollout/ep_rew_mean", safe_mean([e["r"] for e in episodes]))
            self.logger.record("rollout/ep_len_mean", safe_mean([e["l"] for e in episodes]))
        self.logger.record("time/iterations", iteration)
        self.logger.record("time/fps", fps)
        self.logger.record("time/time_elapsed", int(elapsed))
        self.logger.record("time/total_timesteps", self.num_timesteps)
        self.logger.dump(step=self.num_timesteps)

    def _record_common(self) -> None:
        """Logs what every on-policy update logs after training."""
        buffer = self.rollout_buffer
        self.logger.record("train/explained_variance",
                           explained_variance(buffer.values.flatten(), buffer.returns.flatten()))
        self.logger.record("train/n_updates", self._n_updates)
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", float(self.policy.log_std.detach().exp().mean().item()))
