"""Gymnasium helpers: vector envs, episode statistics, normalisation and tiny test envs."""

from ember_rl.envs.monitor import EpisodeStatistics
from ember_rl.envs.normalize import RunningMeanStd, VecNormalize, normalize_observation
from ember_rl.envs.testing import IdentityEnv, IdentityEnvBox, ImageIdentityEnv
from ember_rl.envs.vec_env import as_vec_env, env_id_of, find_wrapper, make_env, make_vec_env

__all__ = [
    "EpisodeStatistics", "IdentityEnv", "IdentityEnvBox", "ImageIdentityEnv", "RunningMeanStd",
    "VecNormalize", "as_vec_env", "env_id_of", "find_wrapper", "make_env", "make_vec_env",
    "normalize_observation",
]
