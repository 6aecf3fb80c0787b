"""Gymnasium vector environments as the agents use them: same-step autoreset, episode statistics."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

from ember_rl.envs.monitor import EpisodeStatistics

__all__ = ["as_vec_env", "env_id_of", "find_wrapper", "make_env", "make_vec_env"]

VEC_ENV_CLASSES = {"sync": SyncVectorEnv, "async": AsyncVectorEnv}


def make_env(env_id: str, **env_kwargs) -> gym.Env:
    """``gymnasium.make`` with a clear error naming an unknown id."""
    if not isinstance(env_id, str):
        raise TypeError(f"make_env: env_id must be a string, got {type(env_id).__name__}")
    try:
        return gym.make(env_id, **env_kwargs)
    except gym.error.Error as error:
        raise ValueError(f"unknown or unavailable Gymnasium environment id {env_id!r}: "
                         f"{error}") from None


def make_vec_env(env_id: str | Callable[[], gym.Env], n_envs: int = 1, seed: int | None = None,
                 env_kwargs: dict | None = None, vec_env_cls: str = "sync",
                 wrapper_class: Callable[[gym.Env], gym.Env] | None = None) -> VectorEnv:
    """``n_envs`` copies of an environment as one vector env (Stable-Baselines3's helper).

    Args:
        env_id: a registered id, or a function that makes one environment.
        n_envs: number of copies.
        seed: seeds copy ``i`` with ``seed + i`` (the env is reset once here when given).
        env_kwargs: keyword arguments for ``gymnasium.make``.
        vec_env_cls: ``"sync"`` (one process, the default) or ``"async"`` (one process per copy).
        wrapper_class: wraps each single environment (e.g. a Gymnasium wrapper class).

    Returns:
        A same-step-autoreset vector env wrapped in ``EpisodeStatistics``.

    Example:
        >>> env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
        >>> env.num_envs
        2
    """
    if vec_env_cls not in VEC_ENV_CLASSES:
        raise ValueError(f"make_vec_env: vec_env_cls must be one of {sorted(VEC_ENV_CLASSES)}, "
                         f"got {vec_env_cls!r}")
    if n_envs < 1:
        raise ValueError(f"make_vec_env: n_envs must be at least 1, got {n_envs}")
    if isinstance(env_id, str):
        make_env(env_id, **(env_kwargs or {})).close()  # fail here, not inside a worker

    def factory() -> gym.Env:
        env = make_env(env_id, **(env_kwargs or {})) if isinstance(env_id, str) else env_id()
        return wrapper_class(env) if wrapper_class is not None else env

    vec_env = VEC_ENV_CLASSES[vec_env_cls]([factory] * n_envs,
                                           autoreset_mode=AutoresetMode.SAME_STEP)
    vec_env = EpisodeStatistics(vec_env, env_id if isinstance(env_id, str) else None)
    if seed is not None:
        vec_env.reset(seed=seed)
        vec_env.action_space.seed(seed)
    return vec_env


def find_wrapper(env: VectorEnv, wrapper_type: type) -> VectorEnv | None:
    """The outermost wrapper of ``wrapper_type`` in a vector env's chain, or None."""
    while env is not None:
        if isinstance(env, wrapper_type):
            return env
        env = getattr(env, "env", None)
    return None


def as_vec_env(env, n_envs: int = 1, seed: int | None = None,
               vec_env_cls: str = "sync") -> VectorEnv:
    """A vector env from an env id, a single Gymnasium env or a vector env.

    Vector envs must use same-step autoreset (what ``make_vec_env`` builds): the step that ends
    an episode returns the next episode's first observation and the final one in
    ``infos["final_obs"]``.
    """
    if isinstance(env, str):
        return make_vec_env(env, n_envs=n_envs, seed=seed, vec_env_cls=vec_env_cls)
    if isinstance(env, VectorEnv):
        mode = env.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"vector env has autoreset mode {mode}; ember_rl needs AutoresetMode.SAME_STEP "
                f"(build it with ember_rl.make_vec_env, or pass autoreset_mode=SAME_STEP)"
            )
        if find_wrapper(env, EpisodeStatistics):
            return env
        spec = env.spec or _first_spec(env)
        return EpisodeStatistics(env, spec.id if spec is not None else None)
    if isinstance(env, gym.Env):
        vec_env = EpisodeStatistics(
            SyncVectorEnv([lambda: env], autoreset_mode=AutoresetMode.SAME_STEP),
            env.spec.id if env.spec is not None else None)
        if seed is not None:
            vec_env.reset(seed=seed)
        return vec_env
    raise TypeError(f"env must be a Gymnasium env, a vector env or an env id string, got "
                    f"{type(env).__name__}")


def _first_spec(env: VectorEnv):
    try:
        return env.get_attr("spec")[0]
    except (AttributeError, IndexError):
        return None


def env_id_of(env: VectorEnv) -> str | None:
    """The Gymnasium id of a vector env built by ``make_vec_env``/``as_vec_env``, if known."""
    stats = find_wrapper(env, EpisodeStatistics)
    return stats.env_id if stats is not None else None
