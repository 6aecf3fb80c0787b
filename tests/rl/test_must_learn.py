"""Agents must actually learn (slow, still part of `make test`)."""

import gymnasium as gym
import pytest

from ember_rl import A2C, PPO, evaluate_policy, linear_schedule, make_vec_env
from ember_rl.envs import IdentityEnv, IdentityEnvBox
from ember_rl.zoo import hyperparams_for


@pytest.mark.slow
def test_ppo_solves_cartpole():
    settings = hyperparams_for("ppo", "CartPole-v1")  # rl-baselines3-zoo's tuned values
    env = make_vec_env("CartPole-v1", n_envs=settings.pop("n_envs"), seed=0)
    timesteps = settings.pop("n_timesteps")
    model = PPO("MlpPolicy", env, seed=0, **settings).learn(timesteps)
    eval_env = gym.make("CartPole-v1")
    eval_env.reset(seed=100)
    mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=10)
    assert mean >= 475, f"PPO reached only {mean:.1f} on CartPole-v1"


def test_a2c_learns_a_contextual_bandit():
    env = make_vec_env(lambda: IdentityEnv(2, ep_length=10), n_envs=4, seed=0)
    model = A2C("MlpPolicy", env, seed=0, learning_rate=3e-3).learn(4000)
    mean, _ = evaluate_policy(model, IdentityEnv(2, ep_length=10), n_eval_episodes=5)
    assert mean >= 9.0, f"A2C reached only {mean:.1f} of 10 on IdentityEnv"


@pytest.mark.slow
def test_ppo_learns_continuous_actions():
    # Reward 1 when the action is within 0.2 of the observation: a random policy scores about 2.
    env = make_vec_env(lambda: IdentityEnvBox(eps=0.2, ep_length=10), n_envs=4, seed=0)
    model = PPO("MlpPolicy", env, seed=0, n_steps=128, batch_size=64, n_epochs=10, gamma=0.0,
                learning_rate=linear_schedule(3e-3)).learn(20_000)
    eval_env = IdentityEnvBox(eps=0.2, ep_length=10)
    eval_env.reset(seed=0)
    mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=5)
    assert mean >= 8.0, f"PPO reached only {mean:.1f} of 10 on IdentityEnvBox"
