"""Callbacks called during ``learn`` (Stable-Baselines3's ``callbacks``).

``on_step`` runs after every vector-env step; returning False stops training. ``EvalCallback``
evaluates every ``eval_freq`` steps and keeps the best model; ``CheckpointCallback`` saves every
``save_freq`` steps; ``StopTrainingOnRewardThreshold`` (as ``callback_on_new_best``) stops once
the evaluation return reaches a threshold.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

__all__ = [
    "BaseCallback", "CallbackList", "CheckpointCallback", "ConvertCallback", "EvalCallback",
    "EventCallback", "ProgressBarCallback", "StopTrainingOnRewardThreshold", "make_callback",
]


class BaseCallback:
    """Base class: override the ``_on_*`` hooks; ``_on_step`` returns whether to go on."""

    def __init__(self, verbose: int = 0) -> None:
        self.verbose = verbose
        self.n_calls = 0
        self.num_timesteps = 0
        self.locals: dict = {}
        self.globals: dict = {}
        self.parent: BaseCallback | None = None
        self.model = None
        self.training_env = None
        self.logger = None

    def init_callback(self, model) -> None:
        self.model = model
        self.training_env = model.get_env()
        self.logger = model.logger
        self._init_callback()

    def on_training_start(self, locals_: dict, globals_: dict) -> None:
        self.locals, self.globals = locals_, globals_
        self.num_timesteps = self.model.num_timesteps
        self._on_training_start()

    def on_rollout_start(self) -> None:
        self._on_rollout_start()

    def on_step(self) -> bool:
        self.n_calls += 1
        self.num_timesteps = self.model.num_timesteps
        return self._on_step()

    def on_rollout_end(self) -> None:
        self._on_rollout_end()

    def on_training_end(self) -> None:
        self._on_training_end()

    def update_locals(self, locals_: dict) -> None:
        self.locals.update(locals_)
        self.update_child_locals(locals_)

    def update_child_locals(self, locals_: dict) -> None:
        pass

    def _init_callback(self) -> None:
        pass

    def _on_training_start(self) -> None:
        pass

    def _on_rollout_start(self) -> None:
        pass

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        pass

    def _on_training_end(self) -> None:
        pass


class EventCallback(BaseCallback):
    """Runs a child ``callback`` when an event happens (``_on_event``)."""

    def __init__(self, callback: BaseCallback | None = None, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.callback = callback
        if callback is not None:
            callback.parent = self

    def init_callback(self, model) -> None:
        super().init_callback(model)
        if self.callback is not None:
            self.callback.init_callback(self.model)

    def _on_training_start(self) -> None:
        if self.callback is not None:
            self.callback.on_training_start(self.locals, self.globals)

    def _on_event(self) -> bool:
        return self.callback.on_step() if self.callback is not None else True

    def update_child_locals(self, locals_: dict) -> None:
        if self.callback is not None:
            self.callback.update_locals(locals_)


class CallbackList(BaseCallback):
    """Several callbacks called in order; training stops if any returns False."""

    def __init__(self, callbacks: list[BaseCallback]) -> None:
        super().__init__()
        self.callbacks = list(callbacks)

    def _init_callback(self) -> None:
        for callback in self.callbacks:
            callback.init_callback(self.model)

    def _on_training_start(self) -> None:
        for callback in self.callbacks:
            callback.on_training_start(self.locals, self.globals)

    def _on_rollout_start(self) -> None:
        for callback in self.callbacks:
            callback.on_rollout_start()

    def _on_step(self) -> bool:
        results = [callback.on_step() for callback in self.callbacks]
        return all(results)

    def _on_rollout_end(self) -> None:
        for callback in self.callbacks:
            callback.on_rollout_end()

    def _on_training_end(self) -> None:
        for callback in self.callbacks:
            callback.on_training_end()

    def update_child_locals(self, locals_: dict) -> None:
        for callback in self.callbacks:
            callback.update_locals(locals_)


class ConvertCallback(BaseCallback):
    """A function ``fn(locals, globals) -> bool`` as a callback (None counts as True)."""

    def __init__(self, callback: Callable[[dict, dict], bool], verbose: int = 0) -> None:
        super().__init__(verbose)
        self.callback = callback

    def _on_step(self) -> bool:
        return self.callback(self.locals, self.globals) is not False


class CheckpointCallback(BaseCallback):
    """Saves the model as ``save_path/{name_prefix}_{num_timesteps}_steps`` every ``save_freq``
    calls (one call per vector-env step)."""

    def __init__(self, save_freq: int, save_path: str, name_prefix: str = "rl_model",
                 verbose: int = 0) -> None:
        super().__init__(verbose)
        if save_freq < 1:
            raise ValueError(f"CheckpointCallback: save_freq must be at least 1, got {save_freq}")
        self.save_freq, self.save_path, self.name_prefix = save_freq, save_path, name_prefix

    def _init_callback(self) -> None:
        os.makedirs(self.save_path, exist_ok=True)

    def _on_step(self) -> bool:
        if self.n_calls % self.save_freq == 0:
            path = os.path.join(self.save_path, f"{self.name_prefix}_{self.num_timesteps}_steps")
            self.model.save(path)
            if self.verbose >= 2:
                print(f"Saving model checkpoint to {path}")
        return True


class EvalCallback(EventCallback):
    """Evaluates the model every ``eval_freq`` calls on ``eval_env``; records ``eval/*``, saves
    the best model as ``best_model_save_path/best_model`` and the history as
    ``log_path/evaluations.npz``.

    Args:
        eval_env: a Gymnasium env, vector env or env id.
        callback_on_new_best: called when a new best mean reward is reached.
        callback_after_eval: called after every evaluation.
        n_eval_episodes: episodes per evaluation.
        eval_freq: calls (vector-env steps) between evaluations.
        deterministic: evaluate the mode of the action distribution.
    """

    def __init__(self, eval_env, callback_on_new_best: BaseCallback | None = None,
                 callback_after_eval: BaseCallback | None = None, n_eval_episodes: int = 5,
                 eval_freq: int = 10000, log_path: str | None = None,
                 best_model_save_path: str | None = None, deterministic: bool = True,
                 verbose: int = 1) -> None:
        super().__init__(callback_after_eval, verbose=verbose)
        self.callback_on_new_best = callback_on_new_best
        if callback_on_new_best is not None:
            callback_on_new_best.parent = self
        self.eval_env = eval_env
        self.n_eval_episodes, self.eval_freq = n_eval_episodes, eval_freq
        self.log_path, self.best_model_save_path = log_path, best_model_save_path
        self.deterministic = deterministic
        self.best_mean_reward = -np.inf
        self.last_mean_reward = -np.inf
        self.evaluations_timesteps: list[int] = []
        self.evaluations_results: list[list[float]] = []
        self.evaluations_length: list[list[int]] = []

    def _init_callback(self) -> None:
        super()._init_callback()
        for folder in (self.best_model_save_path, self.log_path):
            if folder is not None:
                os.makedirs(folder, exist_ok=True)
        if self.callback_on_new_best is not None:
            self.callback_on_new_best.init_callback(self.model)

    def _on_step(self) -> bool:
        if self.eval_freq <= 0 or self.n_calls % self.eval_freq != 0:
            return True
        from ember_rl.evaluation import evaluate_policy

        rewards, lengths = evaluate_policy(self.model, self.eval_env, self.n_eval_episodes,
                                           deterministic=self.deterministic,
                                           return_episode_rewards=True)
        mean_reward, std_reward = float(np.mean(rewards)), float(np.std(rewards))
        self.last_mean_reward = mean_reward
        self.evaluations_timesteps.append(self.num_timesteps)
        self.evaluations_results.append(list(rewards))
        self.evaluations_length.append(list(lengths))
        if self.log_path is not None:
            np.savez(os.path.join(self.log_path, "evaluations.npz"),
                     timesteps=np.array(self.evaluations_timesteps),
                     results=np.array(self.evaluations_results),
                     ep_lengths=np.array(self.evaluations_length))
        if self.verbose >= 1:
            print(f"Eval num_timesteps={self.num_timesteps}, episode_reward={mean_reward:.2f} "
                  f"+/- {std_reward:.2f}")
        self.logger.record("eval/mean_reward", mean_reward)
        self.logger.record("eval/mean_ep_length", float(np.mean(lengths)))
        continue_training = True
        if mean_reward > self.best_mean_reward:
            self.best_mean_reward = mean_reward
            if self.best_model_save_path is not None:
                self.model.save(os.path.join(self.best_model_save_path, "best_model"))
            if self.verbose >= 1:
                print("New best mean reward!")
            if self.callback_on_new_best is not None:
                continue_training = self.callback_on_new_best.on_step()
        if self.callback is not None:
            continue_training = continue_training and self._on_event()
        return continue_training

    def update_child_locals(self, locals_: dict) -> None:
        super().update_child_locals(locals_)
        if self.callback_on_new_best is not None:
            self.callback_on_new_best.update_locals(locals_)


class StopTrainingOnRewardThreshold(BaseCallback):
    """Stops training once the parent ``EvalCallback``'s best mean reward reaches the threshold
    (use it as ``callback_on_new_best``)."""

    def __init__(self, reward_threshold: float, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.reward_threshold = reward_threshold

    def _on_step(self) -> bool:
        if not isinstance(self.parent, EvalCallback):
            raise RuntimeError("StopTrainingOnRewardThreshold must be used inside an EvalCallback "
                               "(callback_on_new_best=...)")
        keep_going = bool(self.parent.best_mean_reward < self.reward_threshold)
        if not keep_going and self.verbose >= 1:
            print(f"Stopping training: the best mean reward {self.parent.best_mean_reward:.2f} "
                  f"reached the threshold {self.reward_threshold}")
        return keep_going


class ProgressBarCallback(BaseCallback):
    """A tqdm progress bar over the timesteps of ``learn``."""

    def __init__(self) -> None:
        super().__init__()
        self.bar = None

    def _on_training_start(self) -> None:
        from tqdm.auto import tqdm

        total = self.locals["total_timesteps"] - self.model.num_timesteps
        self.bar = tqdm(total=total, unit="step")

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


def make_callback(callback, progress_bar: bool = False) -> BaseCallback:
    """One callback from None, a callback, a list of them or a function."""
    if callback is None:
        callbacks = []
    elif isinstance(callback, BaseCallback):
        callbacks = [callback]
    elif isinstance(callback, (list, tuple)):
        callbacks = [c if isinstance(c, BaseCallback) else ConvertCallback(c) for c in callback]
    elif callable(callback):
        callbacks = [ConvertCallback(callback)]
    else:
        raise TypeError(f"callback must be a BaseCallback, a list of them or a function, got "
                        f"{type(callback).__name__}")
    if progress_bar:
        callbacks.append(ProgressBarCallback())
    return callbacks[0] if len(callbacks) == 1 else CallbackList(callbacks)
