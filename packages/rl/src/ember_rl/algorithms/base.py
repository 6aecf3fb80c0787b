"""What every algorithm shares: environment and spaces, seeding, logging, ``predict``,
``save``/``load`` (through ``ember.save``: hyperparameters as plain values, never pickle)."""

from __future__ import annotations

import inspect
import time
from collections import deque

import numpy as np

import ember
from ember_rl.callbacks import BaseCallback, make_callback
from ember_rl.envs import RunningMeanStd, VecNormalize, as_vec_env, env_id_of, find_wrapper
from ember_rl.envs.normalize import normalize_observation
from ember_rl.logger import Logger, configure, next_run_folder
from ember_rl.policies import POLICIES, get_policy_class
from ember_rl.preprocessing import check_action_space, check_observation_space
from ember_rl.schedules import get_schedule_fn, schedule_config, schedule_from_config
from ember_rl.spaces_io import space_from_config, space_to_config
from ember_rl.utils import set_random_seed

__all__ = ["BaseAlgorithm"]

_FORMAT = "ember_rl.model"


def _resolve_device(device):
    if device == "auto":
        return ember.device("cuda" if ember.cuda.is_available() else "cpu")
    return ember.device(device)


class BaseAlgorithm:
    """Base of the agents: subclasses implement ``_setup_model``, ``learn`` and ``train``.

    ``_schedules`` names the hyperparameters that may be schedules (numbers or callables of the
    remaining progress); the others must be numbers, strings, booleans or None.
    """

    _schedules: tuple[str, ...] = ("learning_rate",)

    def __init__(self, policy, env, learning_rate, policy_kwargs: dict | None = None,
                 tensorboard_log: str | None = None, verbose: int = 0, device="auto",
                 seed: int | None = None, stats_window_size: int = 100) -> None:
        self.policy_class = get_policy_class(policy)
        self.policy_kwargs = dict(policy_kwargs or {})
        self.learning_rate = learning_rate
        self.lr_schedule = get_schedule_fn(learning_rate)
        self.tensorboard_log, self.verbose = tensorboard_log, verbose
        self.device = _resolve_device(device)
        self.seed = seed
        self.stats_window_size = stats_window_size
        self.rng = set_random_seed(seed) if seed is not None else np.random.default_rng()
        self.num_timesteps = 0
        self._total_timesteps = 0
        self._n_updates = 0
        self._current_progress_remaining = 1.0
        self._last_obs = None
        self._last_episode_starts = None
        self._custom_logger = False
        self.logger: Logger | None = None
        self.ep_info_buffer: deque = deque(maxlen=stats_window_size)
        self.obs_rms: RunningMeanStd | None = None
        self._normalizer: VecNormalize | None = None
        self._saved_normalization: dict = {}
        self.env = None
        self.env_id: str | None = None
        if env is not None:
            self._set_env(as_vec_env(env, seed=seed))

    # ---- environment ------------------------------------------------------------------------

    def _set_env(self, env) -> None:
        name = type(self).__name__
        check_observation_space(env.single_observation_space, name)
        check_action_space(env.single_action_space, name)
        self.env = env
        self.env_id = env_id_of(env)
        self.n_envs = env.num_envs
        self.observation_space = env.single_observation_space
        self.action_space = env.single_action_space
        if self.seed is not None:
            self.action_space.seed(self.seed)
        normalizer = find_wrapper(env, VecNormalize)
        normalizes_obs = normalizer is not None and normalizer.norm_obs
        self.obs_rms = normalizer.obs_rms if normalizes_obs else None
        self._normalizer = normalizer
        self._last_obs = None

    def get_env(self):
        return self.env

    def set_env(self, env) -> None:
        """Replaces the environment (its spaces must match the model's)."""
        env = as_vec_env(env)
        if (env.single_observation_space != self.observation_space
                or env.single_action_space != self.action_space):
            raise ValueError(
                f"set_env: the new env's spaces ({env.single_observation_space}, "
                f"{env.single_action_space}) differ from the model's ({self.observation_space}, "
                f"{self.action_space})"
            )
        self._set_env(env)

    # ---- learning scaffolding ---------------------------------------------------------------

    def set_logger(self, logger: Logger) -> None:
        self.logger = logger
        self._custom_logger = True

    def _setup_learn(self, total_timesteps: int, callback, reset_num_timesteps: bool,
                     tb_log_name: str, progress_bar: bool) -> tuple[int, BaseCallback]:
        if self.env is None:
            raise RuntimeError(f"{type(self).__name__}.learn: the model has no environment; pass "
                               f"env= to load() or call set_env()")
        self.start_time = time.time_ns()
        if reset_num_timesteps:
            self.num_timesteps = 0
            self._episode_num = 0
            self.ep_info_buffer = deque(maxlen=self.stats_window_size)
        else:
            total_timesteps += self.num_timesteps
        self._total_timesteps = total_timesteps
        self._num_timesteps_at_start = self.num_timesteps
        if reset_num_timesteps or self._last_obs is None:
            self._last_obs, _ = self.env.reset(seed=self.seed)
            self._last_episode_starts = np.ones(self.n_envs, dtype=bool)
        if not self._custom_logger:
            formats = ["stdout"] if self.verbose >= 1 else []
            folder = None
            if self.tensorboard_log is not None:
                folder = next_run_folder(self.tensorboard_log, tb_log_name)
                formats.append("tensorboard")
            self.logger = configure(folder, formats)
        callback = make_callback(callback, progress_bar)
        callback.init_callback(self)
        return total_timesteps, callback

    def _update_current_progress_remaining(self, num_timesteps: int, total_timesteps: int) -> None:
        self._current_progress_remaining = 1.0 - float(num_timesteps) / float(total_timesteps)

    def _update_learning_rate(self, optimizer) -> None:
        lr = self.lr_schedule(self._current_progress_remaining)
        self.logger.record("train/learning_rate", lr)
        for group in optimizer.param_groups:
            group["lr"] = lr

    def _update_info_buffer(self, infos: dict) -> None:
        if "_episode" in infos:
            episode = infos["episode"]
            for index in np.flatnonzero(infos["_episode"]):
                self.ep_info_buffer.append({"r": float(episode["r"][index]),
                                            "l": int(episode["l"][index]),
                                            "t": float(episode["t"][index])})

    # ---- inference --------------------------------------------------------------------------

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = False):
        """Actions for raw observations (one or a batch); returns ``(actions, state)``.

        Unlike Stable-Baselines3, observation normalisation learnt by a ``VecNormalize`` env is
        part of the model: ``predict`` applies it, so it always takes the env's raw observations.
        """
        observation = np.asarray(observation)
        if self.obs_rms is not None:
            clip, epsilon = self._normalization_settings()
            observation = normalize_observation(observation, self.obs_rms, clip, epsilon)
        return self.policy.predict(observation, deterministic=deterministic), state

    def _normalization_settings(self) -> tuple[float, float]:
        if self._normalizer is not None:
            return self._normalizer.clip_obs, self._normalizer.epsilon
        return self._saved_normalization["clip_obs"], self._saved_normalization["epsilon"]

    # ---- saving and loading -----------------------------------------------------------------

    def _hyperparameters(self) -> dict:
        """The constructor's arguments as plain values (schedules described, not pickled)."""
        names = [n for n in inspect.signature(type(self).__init__).parameters
                 if n not in ("self", "policy", "env", "policy_kwargs", "device", "verbose",
                              "tensorboard_log", "_init_setup_model")]
        values = {}
        for name in names:
            value = getattr(self, name)
            if name in self._schedules:
                value = schedule_config(get_schedule_fn(value) if value is not None else None,
                                        self._current_progress_remaining)
            values[name] = value
        return values

    def _normalization_state(self) -> dict | None:
        if self._normalizer is not None:
            return self._normalizer.state_dict()
        return self._saved_normalization or None

    def save(self, path: str) -> None:
        """Writes hyperparameters, spaces, policy and optimizer state and normalisation
        statistics to ``path`` with ``ember.save`` (safetensors + JSON)."""
        policy_name = next((k for k, v in POLICIES.items() if v is self.policy_class),
                           self.policy_class.__name__)
        ember.save({
            "format": _FORMAT, "version": 1, "algorithm": type(self).__name__,
            "hyperparameters": self._hyperparameters(), "policy_class": policy_name,
            "policy_kwargs": self.policy.config, "tensorboard_log": self.tensorboard_log,
            "observation_space": space_to_config(self.observation_space),
            "action_space": space_to_config(self.action_space),
            "policy": self.policy.state_dict(), "optimizer": self.policy.optimizer.state_dict(),
            "env_id": self.env_id, "num_timesteps": int(self.num_timesteps),
            "n_updates": int(self._n_updates),
            "normalization": self._normalization_state(),
        }, path)

    @classmethod
    def load(cls, path: str, env=None, device="auto", custom_objects: dict | None = None,
             **kwargs):
        """A model saved by ``save``; with ``env`` it can go on learning (the env is wrapped in
        ``VecNormalize`` with the saved statistics when the model was trained with one)."""
        data = ember.load(path)
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"{cls.__name__}.load: {path!r} is not an ember_rl model file")
        if data["algorithm"] != cls.__name__:
            raise ValueError(f"{cls.__name__}.load: {path!r} holds a {data['algorithm']} model")
        custom_objects = custom_objects or {}
        policy = custom_objects.get("policy_class", data["policy_class"])
        hyperparameters = dict(data["hyperparameters"])
        for name in cls._schedules:
            if name in hyperparameters:
                hyperparameters[name] = schedule_from_config(hyperparameters[name])
        hyperparameters.update(kwargs)
        model = cls(policy, None, policy_kwargs=data["policy_kwargs"], device=device,
                    tensorboard_log=data["tensorboard_log"], _init_setup_model=False,
                    **hyperparameters)
        model.observation_space = space_from_config(data["observation_space"])
        model.action_space = space_from_config(data["action_space"])
        model.n_envs = 1
        normalization = data["normalization"]
        if env is not None:
            env = as_vec_env(env)
            if normalization is not None:
                normalizer = find_wrapper(env, VecNormalize)
                if normalizer is None:
                    env = normalizer = VecNormalize(env)
                normalizer.load_state_dict(normalization)
            model._set_env(env)
        elif normalization is not None:  # kept as loaded: nothing updates it without an env
            model._saved_normalization = normalization
            if normalization["norm_obs"]:
                model.obs_rms = RunningMeanStd()
                model.obs_rms.load_state_dict(normalization["obs_rms"])
        model._setup_model()
        model.policy.load_state_dict(data["policy"])
        model.policy.optimizer.load_state_dict(data["optimizer"])
        model.num_timesteps, model._n_updates = data["num_timesteps"], data["n_updates"]
        model.env_id = model.env_id or data["env_id"]
        return model
