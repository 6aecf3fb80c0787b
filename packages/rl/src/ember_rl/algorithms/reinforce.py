"""REINFORCE with a learned baseline (Williams, 1992)."""

from __future__ import annotations

from ember_rl.algorithms.a2c import A2C

__all__ = ["REINFORCE"]


class REINFORCE(A2C):
    """Monte Carlo policy gradient with a learned state-value baseline.

    The return of every step is the discounted sum of the rewards that follow it to the end of
    its episode (GAE with ``lambda=1``); the critic is trained on these returns and subtracted
    as a baseline. One gradient step (Adam by default) per rollout of ``n_steps`` x ``n_envs``
    steps. A rollout boundary inside an episode is treated like a time limit: the rest of the
    return is estimated by the baseline; choose ``n_steps`` at least an episode long for pure
    Monte Carlo returns.

    Args:
        policy, env, learning_rate: as ``PPO``.
        n_steps: steps per env per update.
        gamma: discount.
        ent_coef, vf_coef, max_grad_norm: loss weights and gradient-norm clip.
        normalize_advantage: standardise ``G_t - b(s_t)`` over the rollout.

    Example:
        >>> model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0).learn(50_000)  # doctest: +SKIP
    """

    def __init__(self, policy, env, learning_rate=1e-3, n_steps: int = 500, gamma: float = 0.99,
                 ent_coef: float = 0.0, vf_coef: float = 0.5, max_grad_norm: float = 0.5,
                 normalize_advantage: bool = True, stats_window_size: int = 100,
                 tensorboard_log: str | None = None, policy_kwargs: dict | None = None,
                 verbose: int = 0, seed: int | None = None, device="auto",
                 _init_setup_model: bool = True) -> None:
        super().__init__(policy, env, learning_rate, n_steps=n_steps, gamma=gamma,
                         gae_lambda=1.0, ent_coef=ent_coef, vf_coef=vf_coef,
                         max_grad_norm=max_grad_norm, use_rms_prop=False,
                         normalize_advantage=normalize_advantage,
                         stats_window_size=stats_window_size, tensorboard_log=tensorboard_log,
                         policy_kwargs=policy_kwargs, verbose=verbose, seed=seed, device=device,
                         _init_setup_model=_init_setup_model)

    def learn(self, total_timesteps: int, callback=None, log_interval: int = 10,
              tb_log_name: str = "REINFORCE", reset_num_timesteps: bool = True,
              progress_bar: bool = False):
        return super().learn(total_timesteps, callback, log_interval, tb_log_name,
                             reset_num_timesteps, progress_bar)
