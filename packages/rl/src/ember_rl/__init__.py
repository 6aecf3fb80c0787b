"""Ember RL: policy-gradient agents on Gymnasium with Stable-Baselines3's interface.

``PPO``, ``A2C`` and ``REINFORCE`` (``Algo(policy, env, ...).learn(n)``, ``predict``, ``save``,
``Algo.load``) over parts usable on their own: ``distributions``, ``policies``, ``buffers``
(rollouts, GAE), ``envs`` (vector envs, episode statistics, ``VecNormalize``, tiny test envs),
``logger`` and ``callbacks``.

Example:
    >>> from ember_rl import PPO, evaluate_policy
    >>> model = PPO("MlpPolicy", "CartPole-v1", seed=0).learn(100_000)  # doctest: +SKIP
    >>> evaluate_policy(model, "CartPole-v1", n_eval_episodes=10)  # doctest: +SKIP
    (500.0, 0.0)
"""

from ember_rl.algorithms import A2C, PPO, REINFORCE
from ember_rl.envs import VecNormalize, make_vec_env
from ember_rl.evaluation import evaluate_policy
from ember_rl.policies import CnnPolicy, MlpPolicy
from ember_rl.schedules import linear_schedule

__version__ = "0.1.0"

__all__ = [
    "A2C", "PPO", "REINFORCE", "CnnPolicy", "MlpPolicy", "VecNormalize", "evaluate_policy",
    "linear_schedule", "make_vec_env",
]
