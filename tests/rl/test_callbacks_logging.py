"""Callbacks, the logger's stdout/CSV/TensorBoard outputs, schedules and evaluate_policy."""

import csv
import os

import gymnasium as gym
import numpy as np
import pytest

from ember_rl import PPO, evaluate_policy, make_vec_env
from ember_rl.callbacks import (
    BaseCallback,
    CallbackList,
    CheckpointCallback,
    EvalCallback,
    StopTrainingOnRewardThreshold,
)
from ember_rl.envs import IdentityEnv
from ember_rl.logger import configure
from ember_rl.schedules import ConstantSchedule, LinearSchedule, get_schedule_fn

FAST = dict(n_steps=16, batch_size=8, n_epochs=1)


class Counter(BaseCallback):
    def __init__(self):
        super().__init__()
        self.events = []

    def _on_training_start(self):
        self.events.append("start")

    def _on_rollout_start(self):
        self.events.append("rollout")

    def _on_step(self):
        assert "new_obs" in self.locals and self.training_env is self.model.get_env()
        return True

    def _on_training_end(self):
        self.events.append("end")


def test_callback_hooks_and_stopping():
    counter = Counter()
    model = PPO("MlpPolicy", "CartPole-v1", seed=0, **FAST).learn(48, callback=counter)
    assert counter.n_calls == 48 and counter.num_timesteps == model.num_timesteps == 48
    assert counter.events == ["start", "rollout", "rollout", "rollout", "end"]
    stopped = PPO("MlpPolicy", "CartPole-v1", seed=0, **FAST)
    stopped.learn(1000, callback=lambda locals_, globals_: locals_["self"].num_timesteps < 5)
    assert stopped.num_timesteps == 5


def test_eval_checkpoint_and_reward_threshold(tmp_path):
    eval_callback = EvalCallback(gym.make("CartPole-v1"), n_eval_episodes=2, eval_freq=16,
                                 best_model_save_path=str(tmp_path / "best"),
                                 log_path=str(tmp_path / "logs"), verbose=0,
                                 callback_on_new_best=StopTrainingOnRewardThreshold(1.0))
    checkpoints = CheckpointCallback(save_freq=8, save_path=str(tmp_path / "ckpt"))
    model = PPO("MlpPolicy", "CartPole-v1", seed=0, **FAST)
    model.learn(200, callback=CallbackList([eval_callback, checkpoints]))
    assert model.num_timesteps == 16  # the first evaluation already passes a return of 1
    assert eval_callback.best_mean_reward >= 1.0
    assert PPO.load(str(tmp_path / "best" / "best_model")).n_steps == 16
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["rl_model_16_steps", "rl_model_8_steps"]
    history = np.load(tmp_path / "logs" / "evaluations.npz")
    assert history["timesteps"].tolist() == [16] and history["results"].shape == (1, 2)


def test_stdout_csv_and_tensorboard_logs(tmp_path, capsys):
    model = PPO("MlpPolicy", "CartPole-v1", seed=0, verbose=1, **FAST)
    model.learn(32)
    printed = capsys.readouterr().out
    assert "rollout/" in printed and "total_timesteps" in printed and "train/" in printed
    model.set_logger(configure(str(tmp_path / "csv"), ["csv"]))
    model.learn(48)
    with open(tmp_path / "csv" / "progress.csv") as file:
        rows = list(csv.DictReader(file))
    assert [int(r["time/total_timesteps"]) for r in rows] == [16, 32, 48]
    assert rows[-1]["train/value_loss"] != ""
    PPO("MlpPolicy", "CartPole-v1", seed=0, tensorboard_log=str(tmp_path / "tb"),
        **FAST).learn(32)
    PPO("MlpPolicy", "CartPole-v1", seed=0, tensorboard_log=str(tmp_path / "tb"),
        **FAST).learn(32)
    assert sorted(os.listdir(tmp_path / "tb")) == ["PPO_1", "PPO_2"]
    assert any(name.startswith("events") for name in os.listdir(tmp_path / "tb" / "PPO_1"))
    with pytest.raises(ValueError, match="needs a folder"):
        configure(None, ["csv"])


def test_progress_bar_runs():
    PPO("MlpPolicy", "CartPole-v1", seed=0, **FAST).learn(32, progress_bar=True)


def test_schedules():
    assert get_schedule_fn(0.1)(0.3) == 0.1 and isinstance(get_schedule_fn(0.1), ConstantSchedule)
    assert LinearSchedule(1.0, 0.5)(0.0) == 0.5
    rates = []

    class RecordRate(BaseCallback):
        def _on_rollout_start(self):
            rates.append(self.model.policy.optimizer.param_groups[0]["lr"])

    model = PPO("MlpPolicy", "CartPole-v1", seed=0, learning_rate=lambda p: 1e-3 * p, **FAST)
    model.learn(32, callback=RecordRate())
    # Set at construction (progress 1), then before each update from the progress left.
    assert rates == pytest.approx([1e-3, 1e-3 * 0.5])
    assert model.policy.optimizer.param_groups[0]["lr"] == 0.0


def test_evaluate_policy_on_single_and_vector_envs():
    class AlwaysZero:
        def predict(self, obs, deterministic=True):
            return np.zeros(np.shape(obs)[:-1] or (), dtype=np.int64), None

    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    mean, std = evaluate_policy(AlwaysZero(), env, n_eval_episodes=3)
    assert 5 < mean < 20 and std >= 0  # pushing left topples the pole quickly
    returns, lengths = evaluate_policy(AlwaysZero(), make_vec_env("CartPole-v1", 2, seed=0),
                                       n_eval_episodes=5, return_episode_rewards=True)
    assert len(returns) == 5 and returns == [float(n) for n in lengths]
    model = PPO("MlpPolicy", IdentityEnv(2, ep_length=10), seed=0, **FAST)
    assert 0 <= evaluate_policy(model, IdentityEnv(2, ep_length=10), 2)[0] <= 10
    with pytest.raises(AssertionError, match="below the threshold"):
        evaluate_policy(AlwaysZero(), env, 1, reward_threshold=400)
