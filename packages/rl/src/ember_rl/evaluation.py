"""``evaluate_policy``: mean and standard deviation of a model's episode returns."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorEnv

from ember_rl.envs import VecNormalize, make_env

__all__ = ["evaluate_policy"]


def evaluate_policy(model, env, n_eval_episodes: int = 10, deterministic: bool = True,
                    render: bool = False, callback: Callable[[dict, dict], None] | None = None,
                    reward_threshold: float | None = None, return_episode_rewards: bool = False):
    """Runs ``n_eval_episodes`` episodes and returns ``(mean_reward, std_reward)``.

    Args:
        model: anything with ``predict(obs, deterministic=...) -> (action, state)``.
        env: a Gymnasium env, a vector env (episodes spread evenly over its copies) or an env id.
            Returns are the environment's own rewards: a ``VecNormalize`` on top is looked
            through when the model normalises observations itself.
        deterministic: take the mode of the action distribution.
        render: call ``env.render()`` after every step (single envs).
        callback: ``callback(locals, globals)`` after every step.
        reward_threshold: raise if the mean return falls below it.
        return_episode_rewards: return the lists ``(episode_returns, episode_lengths)`` instead.

    Example:
        >>> mean, std = evaluate_policy(model, "CartPole-v1", n_eval_episodes=5)  # doctest: +SKIP
    """
    if n_eval_episodes < 1:
        raise ValueError(f"evaluate_policy: n_eval_episodes must be at least 1, got "
                         f"{n_eval_episodes}")
    if isinstance(env, str):
        env = make_env(env)
    if isinstance(env, VecNormalize) and getattr(model, "obs_rms", None) is not None:
        env = env.env
    if isinstance(env, VectorEnv):
        returns, lengths = _run_vector(model, env, n_eval_episodes, deterministic, callback)
    elif isinstance(env, gym.Env):
        returns, lengths = _run_single(model, env, n_eval_episodes, deterministic, render,
                                       callback)
    else:
        raise TypeError(f"evaluate_policy: env must be a Gymnasium env, vector env or env id, got "
                        f"{type(env).__name__}")
    mean, std = float(np.mean(returns)), float(np.std(returns))
    if reward_threshold is not None and mean < reward_threshold:
        raise AssertionError(f"evaluate_policy: mean reward {mean:.2f} is below the threshold "
                             f"{reward_threshold:.2f}")
    return (returns, lengths) if return_episode_rewards else (mean, std)


def _run_single(model, env, n_episodes, deterministic, render, callback):
    returns, lengths = [], []
    for _ in range(n_episodes):
        obs, _ = env.reset()
        total, length, done = 0.0, 0, False
        while not done:
            action, _ = model.predict(obs, deterministic=deterministic)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            length += 1
            done = terminated or truncated
            if render:
                env.render()
            if callback is not None:
                callback(locals(), globals())
        returns.append(total)
        lengths.append(length)
    return returns, lengths


def _run_vector(model, env, n_episodes, deterministic, callback):
    n_envs = env.num_envs
    # Spread episodes evenly so that fast-ending episodes do not dominate the estimate.
    targets = np.array([(n_episodes + i) // n_envs for i in range(n_envs)])
    counts = np.zeros(n_envs, dtype=int)
    current_returns, current_lengths = np.zeros(n_envs), np.zeros(n_envs, dtype=int)
    returns, lengths = [], []
    obs, _ = env.reset()
    while (counts < targets).any():
        actions, _ = model.predict(obs, deterministic=deterministic)
        obs, rewards, terminated, truncated, infos = env.step(actions)
        current_returns += rewards
        current_lengths += 1
        for index in np.flatnonzero(np.logical_or(terminated, truncated)):
            if counts[index] < targets[index]:
                returns.append(float(current_returns[index]))
                lengths.append(int(current_lengths[index]))
                counts[index] += 1
            current_returns[index], current_lengths[index] = 0.0, 0
        if callback is not None:
            callback(locals(), globals())
    return returns, lengths
