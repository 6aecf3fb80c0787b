"""Advantage Actor-Critic (Mnih et al., 2016), synchronous, over vector envs."""

from __future__ import annotations

from gymnasium import spaces

import ember.nn as nn
import ember.nn.functional as F
from ember_rl.algorithms.on_policy import OnPolicyAlgorithm
from ember_rl.utils import normalize_advantages

__all__ = ["A2C"]


class A2C(OnPolicyAlgorithm):
    """A2C: one gradient step per ``n_steps`` x ``n_envs`` rollout on the n-step (GAE with
    ``gae_lambda=1``) advantage; RMSprop as in the paper. Names and defaults are
    Stable-Baselines3's.

    Args:
        policy, env, learning_rate: as ``PPO``.
        n_steps: steps per env per update (5).
        gamma, gae_lambda: discount and GAE parameter (1.0: plain n-step returns).
        ent_coef, vf_coef, max_grad_norm: loss weights and gradient-norm clip.
        rms_prop_eps: RMSprop's epsilon; use_rms_prop: RMSprop (alpha=0.99) rather than Adam.
        normalize_advantage: standardise advantages over the rollout.

    Example:
        >>> model = A2C("MlpPolicy", "CartPole-v1", seed=0).learn(10_000)  # doctest: +SKIP
    """

    def __init__(self, policy, env, learning_rate=7e-4, n_steps: int = 5, gamma: float = 0.99,
                 gae_lambda: float = 1.0, ent_coef: float = 0.0, vf_coef: float = 0.5,
                 max_grad_norm: float = 0.5, rms_prop_eps: float = 1e-5,
                 use_rms_prop: bool = True, normalize_advantage: bool = False,
                 stats_window_size: int = 100, tensorboard_log: str | None = None,
                 policy_kwargs: dict | None = None, verbose: int = 0, seed: int | None = None,
                 device="auto", _init_setup_model: bool = True) -> None:
        super().__init__(policy, env, learning_rate, n_steps=n_steps, gamma=gamma,
                         gae_lambda=gae_lambda, ent_coef=ent_coef, vf_coef=vf_coef,
                         max_grad_norm=max_grad_norm, policy_kwargs=policy_kwargs,
                         tensorboard_log=tensorboard_log, verbose=verbose, device=device,
                         seed=seed, stats_window_size=stats_window_size)
        self.rms_prop_eps, self.use_rms_prop = rms_prop_eps, use_rms_prop
        self.normalize_advantage = normalize_advantage
        self._default_optimizer()
        if _init_setup_model and self.env is not None:
            self._setup_model()

    def _default_optimizer(self) -> None:
        if self.use_rms_prop and "optimizer_class" not in self.policy_kwargs:
            self.policy_kwargs["optimizer_class"] = "RMSprop"
            self.policy_kwargs["optimizer_kwargs"] = dict(alpha=0.99, eps=self.rms_prop_eps,
                                                          weight_decay=0)

    def train(self) -> None:
        """One gradient step on the whole rollout."""
        policy = self.policy
        policy.set_training_mode(True)
        self._update_learning_rate(policy.optimizer)
        discrete = isinstance(self.action_space, spaces.Discrete)
        for batch in self.rollout_buffer.get(batch_size=None, rng=self.rng):
            actions = batch.actions.long() if discrete else batch.actions
            values, log_prob, entropy = policy.evaluate_actions(batch.observations, actions)
            advantages = batch.advantages
            if self.normalize_advantage:
                advantages = normalize_advantages(advantages)
            policy_loss = -(advantages * log_prob).mean()
            value_loss = F.mse_loss(batch.returns, values.flatten())
            entropy_loss = -entropy.mean()
            loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
            policy.optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), self.max_grad_norm)
            policy.optimizer.step()
        self._n_updates += 1
        self.logger.record("train/entropy_loss", float(entropy_loss.item()))
        self.logger.record("train/policy_loss", float(policy_loss.item()))
        self.logger.record("train/value_loss", float(value_loss.item()))
        self._record_common()

    def learn(self, total_timesteps: int, callback=None, log_interval: int = 100,
              tb_log_name: str = "A2C", reset_num_timesteps: bool = True,
              progress_bar: bool = False):
        return super().learn(total_timesteps, callback, log_interval, tb_log_name,
                             reset_num_timesteps, progress_bar)
