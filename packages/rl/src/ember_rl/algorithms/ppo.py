"""Proximal Policy Optimization with a clipped objective (Schulman et al., 2017)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember_rl.algorithms.on_policy import OnPolicyAlgorithm
from ember_rl.schedules import get_schedule_fn
from ember_rl.utils import normalize_advantages

__all__ = ["PPO"]



class PPO(OnPolicyAlgorithm):
    """PPO-clip with GAE, minibatch epochs, optional value clipping and a target-KL early stop.

    Hyperparameter names and defaults are Stable-Baselines3's.

    Args:
        policy: ``"MlpPolicy"``, ``"CnnPolicy"`` or an ``ActorCriticPolicy`` subclass.
        env: a Gymnasium env, a vector env or an env id.
        learning_rate: a number or a function of the remaining progress (1 -> 0).
        n_steps: steps per env per rollout; batch_size: minibatch size; n_epochs: passes over
            each rollout.
        gamma, gae_lambda: discount and GAE parameter.
        clip_range: policy ratio clip (number or schedule); clip_range_vf: value clip around the
            old values (None: no value clipping; a number or schedule otherwise).
        normalize_advantage: standardise advantages within each minibatch.
        ent_coef, vf_coef: entropy bonus and value-loss weights.
        max_grad_norm: global gradient-norm clip.
        target_kl: stop the epochs of an update once the approximate KL exceeds 1.5 times it.
        seed: seeds Ember, numpy and the environment for a reproducible run.

    Example:
        >>> model = PPO("MlpPolicy", "CartPole-v1", seed=0).learn(10_000)  # doctest: +SKIP
        >>> action, _ = model.predict(obs, deterministic=True)  # doctest: +SKIP
    """

    _schedules = ("learning_rate", "clip_range", "clip_range_vf")

    def __init__(self, policy, env, learning_rate=3e-4, n_steps: int = 2048,
                 batch_size: int = 64, n_epochs: int = 10, gamma: float = 0.99,
                 gae_lambda: float = 0.95, clip_range=0.2, clip_range_vf=None,
                 normalize_advantage: bool = True, ent_coef: float = 0.0, vf_coef: float = 0.5,
                 max_grad_norm: float = 0.5, target_kl: float | None = None,
                 stats_window_size: int = 100, tensorboard_log: str | None = None,
                 policy_kwargs: dict | None = None, verbose: int = 0, seed: int | None = None,
                 device="auto", _init_setup_model: bool = True) -> None:
        super().__init__(policy, env, learning_rate, n_steps=n_steps, gamma=gamma,
                         gae_lambda=gae_lambda, ent_coef=ent_coef, vf_coef=vf_coef,
                         max_grad_norm=max_grad_norm, policy_kwargs=policy_kwargs,
                         tensorboard_log=tensorboard_log, verbose=verbose, device=device,
                         seed=seed, stats_window_size=stats_window_size)
        if normalize_advantage and batch_size < 2:
            raise ValueError(f"PPO: batch_size must be greater than 1 to normalise advantages, "
                             f"got {batch_size}")
        self.batch_size, self.n_epochs = batch_size, n_epochs
        self.clip_range, self.clip_range_vf = clip_range, clip_range_vf
        self.normalize_advantage, self.target_kl = normalize_advantage, target_kl
        if _init_setup_model and self.env is not None:
            self._setup_model()

    def _setup_model(self) -> None:
        super()._setup_model()
        self._clip_range = get_schedule_fn(self.clip_range)
        self._clip_range_vf = (None if self.clip_range_vf is None
                               else get_schedule_fn(self.clip_range_vf))

    def train(self) -> None:
        """One update: ``n_epochs`` passes over the rollout in shuffled minibatches."""
        policy = self.policy
        policy.set_training_mode(True)
        self._update_learning_rate(policy.optimizer)
        clip_range = self._clip_range(self._current_progress_remaining)
        clip_range_vf = (None if self._clip_range_vf is None
                         else self._clip_range_vf(self._current_progress_remaining))
        discrete = isinstance(self.action_space, spaces.Discrete)
        parameters = list(policy.parameters())
        pg_losses, value_losses, entropy_losses, clip_fractions, approx_kls = [], [], [], [], []
        continue_training = True
        epoch = 0
        for epoch in range(self.n_epochs):  # noqa: B007  (the last epoch is logged)
            for batch in self.rollout_buffer.get(self.batch_size, self.rng):
                actions = batch.actions.long() if discrete else batch.actions
                values, log_prob, entropy = policy.evaluate_actions(batch.observations, actions)
                values = values.flatten()
                advantages = batch.advantages
                if self.normalize_advantage and advantages.shape[0] > 1:
                    advantages = normalize_advantages(advantages)
                ratio = (log_prob - batch.old_log_prob).exp()
                policy_loss = -ember.minimum(
                    advantages * ratio, advantages * ratio.clamp(1 - clip_range, 1 + clip_range)
                ).mean()
                if clip_range_vf is not None:
                    values = batch.old_values + (values - batch.old_values).clamp(
                        -clip_range_vf, clip_range_vf)
                value_loss = F.mse_loss(batch.returns, values)
                entropy_loss = -entropy.mean()
                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
                # Diagnostics on the host copy: no graph, no per-op overhead.
                ratio_values = ratio.detach().cpu().numpy().astype(np.float64)
                approx_kl = float(np.mean((ratio_values - 1) - np.log(ratio_values)))
                clip_fractions.append(float(np.mean(np.abs(ratio_values - 1) > clip_range)))
                approx_kls.append(approx_kl)
                pg_losses.append(policy_loss.item())
                value_losses.append(value_loss.item())
                entropy_losses.append(entropy_loss.item())
                if self.target_kl is not None and approx_kl > 1.5 * self.target_kl:
                    continue_training = False
                    if self.verbose >= 1:
                        print(f"Early stopping at step {epoch} due to reaching max kl: "
                              f"{approx_kl:.2f}")
                    break
                policy.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(parameters, self.max_grad_norm)
                policy.optimizer.step()
            self._n_updates += 1
            if not continue_training:
                break

        record = self.logger.record
        record("train/entropy_loss", float(np.mean(entropy_losses)))
        record("train/policy_gradient_loss", float(np.mean(pg_losses)))
        record("train/value_loss", float(np.mean(value_losses)))
        record("train/approx_kl", float(np.mean(approx_kls)))
        record("train/clip_fraction", float(np.mean(clip_fractions)))
        record("train/loss", float(loss.item()))
        record("train/clip_range", float(clip_range))
        if clip_range_vf is not None:
            record("train/clip_range_vf", float(clip_range_vf))
        self._record_common()

    def learn(self, total_timesteps: int, callback=None, log_interval: int = 1,
              tb_log_name: str = "PPO", reset_num_timesteps: bool = True,
              progress_bar: bool = False):
        return super().learn(total_timesteps, callback, log_interval, tb_log_name,
                             reset_num_timesteps, progress_bar)
