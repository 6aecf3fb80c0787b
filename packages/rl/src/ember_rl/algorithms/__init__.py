"""The agents: REINFORCE, A2C and PPO on a shared on-policy base."""

from ember_rl.algorithms.a2c import A2C
from ember_rl.algorithms.base import BaseAlgorithm
from ember_rl.algorithms.on_policy import OnPolicyAlgorithm
from ember_rl.algorithms.ppo import PPO
from ember_rl.algorithms.reinforce import REINFORCE

ALGORITHMS = {"ppo": PPO, "a2c": A2C, "reinforce": REINFORCE}

__all__ = ["A2C", "ALGORITHMS", "PPO", "REINFORCE", "BaseAlgorithm", "OnPolicyAlgorithm"]
