"""The agents: smoke runs, save/load, seeded reproducibility, options and clear errors."""

import gymnasium as gym
import numpy as np
import pytest

import ember
from ember_rl import A2C, PPO, REINFORCE, VecNormalize, linear_schedule, make_vec_env
from ember_rl.envs import IdentityEnv, IdentityEnvBox, ImageIdentityEnv

SMALL = {
    PPO: dict(n_steps=16, batch_size=8, n_epochs=2),
    A2C: dict(n_steps=5),
    REINFORCE: dict(n_steps=16),
}


@pytest.mark.parametrize("algo", [PPO, A2C, REINFORCE], ids=lambda a: a.__name__)
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_smoke_run(algo, env_id):
    model = algo("MlpPolicy", env_id, seed=0, **SMALL[algo]).learn(64)
    assert model.num_timesteps >= 64
    obs, _ = gym.make(env_id).reset(seed=0)
    action, state = model.predict(obs)
    assert state is None
    assert gym.make(env_id).action_space.contains(np.asarray(action, dtype=action.dtype))


def test_smoke_run_cnn_policy_and_discrete_observations():
    PPO("CnnPolicy", ImageIdentityEnv(), seed=0, n_steps=8, batch_size=4, n_epochs=1).learn(16)
    PPO("MlpPolicy", IdentityEnv(3), seed=0, n_steps=8, batch_size=4, n_epochs=1).learn(16)


def test_seeded_runs_are_bit_for_bit_identical():
    def run():
        env = make_vec_env("CartPole-v1", n_envs=2, seed=3)
        model = PPO("MlpPolicy", env, seed=3, n_steps=32, batch_size=16, n_epochs=2)
        model.learn(128)
        return [p.detach().numpy().copy() for p in model.policy.parameters()]

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    env = VecNormalize(make_vec_env("Pendulum-v1", n_envs=2, seed=0))
    model = PPO("MlpPolicy", env, seed=0, n_steps=32, batch_size=16, n_epochs=1,
                learning_rate=linear_schedule(1e-3), clip_range_vf=0.2,
                policy_kwargs=dict(net_arch=[16], log_std_init=-1.0))
    model.learn(64)
    path = str(tmp_path / "ppo_pendulum")
    model.save(path)
    loaded = PPO.load(path)
    observations = np.random.default_rng(0).uniform(-1, 1, (10, 3)).astype(np.float32)
    expected, _ = model.predict(observations, deterministic=True)
    actual, _ = loaded.predict(observations, deterministic=True)
    np.testing.assert_array_equal(expected, actual)
    assert loaded.n_steps == 32 and loaded.env_id == "Pendulum-v1"
    assert loaded.learning_rate(0.5) == pytest.approx(5e-4)
    assert loaded.num_timesteps == model.num_timesteps
    assert loaded.policy.config["net_arch"] == [16]
    # Saved again without an env, the statistics survive; with an env it goes on learning,
    # normalising with the saved statistics.
    loaded.save(path)
    resumed = PPO.load(path, env=make_vec_env("Pendulum-v1", n_envs=2, seed=1))
    assert isinstance(resumed.env, VecNormalize)
    np.testing.assert_array_equal(resumed.env.obs_rms.mean, env.obs_rms.mean)
    np.testing.assert_array_equal(resumed.env.ret_rms.var, env.ret_rms.var)
    resumed.learn(64, reset_num_timesteps=False)
    assert resumed.num_timesteps == 2 * model.num_timesteps


@pytest.mark.parametrize("algo", [A2C, REINFORCE], ids=lambda a: a.__name__)
def test_save_load_other_algorithms(tmp_path, algo):
    model = algo("MlpPolicy", "CartPole-v1", seed=0, n_steps=8).learn(16)
    model.save(str(tmp_path / "model"))
    loaded = algo.load(str(tmp_path / "model"))
    obs = np.zeros((4, 4), np.float32)
    assert model.predict(obs, deterministic=True)[0].tolist() == \
        loaded.predict(obs, deterministic=True)[0].tolist()
    if algo is A2C:
        assert isinstance(loaded.policy.optimizer, ember.optim.RMSprop)
        group = loaded.policy.optimizer.param_groups[0]
        assert (group["alpha"], group["eps"]) == (0.99, 1e-5)
    with pytest.raises(ValueError, match=f"holds a {algo.__name__}"):
        PPO.load(str(tmp_path / "model"))


def test_load_rejects_other_files(tmp_path):
    ember.save({"weights": ember.zeros(2)}, str(tmp_path / "other"))
    with pytest.raises(ValueError, match="not an ember_rl model"):
        PPO.load(str(tmp_path / "other"))


def test_target_kl_stops_the_epochs_early():
    model = PPO("MlpPolicy", "CartPole-v1", seed=0, n_steps=64, batch_size=16, n_epochs=50,
                target_kl=1e-6, learning_rate=1e-2)
    model.learn(64)
    assert model._n_updates < 50


def test_box_actions_are_clipped_before_the_env_sees_them():
    seen = []

    class Recorder(gym.Wrapper):
        def step(self, action):
            seen.append(np.asarray(action).copy())
            return self.env.step(action)

    env = Recorder(IdentityEnvBox(low=-0.2, high=0.2))
    PPO("MlpPolicy", env, seed=0, n_steps=32, batch_size=8, n_epochs=1,
        policy_kwargs=dict(log_std_init=1.0)).learn(32)
    assert np.abs(np.concatenate(seen)).max() <= 0.2 + 1e-7


def test_clear_errors_for_spaces_env_ids_and_arguments(tmp_path):
    with pytest.raises(ValueError, match="PPO: action space MultiDiscrete"):
        PPO("MlpPolicy", _multi_discrete_env())
    with pytest.raises(ValueError, match="A2C: observation space Dict"):
        A2C("MlpPolicy", _multi_discrete_env(gym.spaces.Dict({"a": gym.spaces.Discrete(2)}),
                                             gym.spaces.Discrete(2)))
    with pytest.raises(ValueError, match="NoSuchEnv-v3"):
        PPO("MlpPolicy", "NoSuchEnv-v3")
    with pytest.raises(ValueError, match="unknown policy"):
        A2C("GruPolicy", "CartPole-v1")
    with pytest.raises(ValueError, match="batch_size"):
        PPO("MlpPolicy", "CartPole-v1", batch_size=1)
    with pytest.raises(TypeError, match="schedule"):
        PPO("MlpPolicy", "CartPole-v1", learning_rate="fast")
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=8, batch_size=4)
    model.save(str(tmp_path / "model"))
    with pytest.raises(RuntimeError, match="has no environment"):
        PPO.load(str(tmp_path / "model")).learn(8)


def _multi_discrete_env(observation_space=None, action_space=None):
    class SpacesEnv(gym.Env):
        def reset(self, *, seed=None, options=None):
            return self.observation_space.sample(), {}

        def step(self, action):
            return self.observation_space.sample(), 0.0, False, False, {}

    env = SpacesEnv()
    env.observation_space = observation_space or gym.spaces.Box(-1, 1, (2,), np.float32)
    env.action_space = action_space or gym.spaces.MultiDiscrete([2, 3])
    return env


def test_rollouts_bootstrap_truncated_episodes_from_the_final_value():
    class ConstantEnv(gym.Env):
        """Observation always 1, reward 0; truncated after 2 steps, or terminated if asked."""

        observation_space = gym.spaces.Box(-2, 2, (1,), np.float32)
        action_space = gym.spaces.Discrete(2)

        def __init__(self, terminate):
            self.terminate, self.steps = terminate, 0

        def reset(self, *, seed=None, options=None):
            self.steps = 0
            return np.ones(1, np.float32), {}

        def step(self, action):
            self.steps += 1
            done = self.steps == 2
            return np.ones(1, np.float32), 0.0, done and self.terminate, \
                done and not self.terminate, {}

    for terminate in (False, True):
        model = PPO("MlpPolicy", ConstantEnv(terminate), seed=0, gamma=0.9, n_steps=4,
                    batch_size=4, n_epochs=1)
        model.learn(4)  # one rollout, then one update
        rewards = model.rollout_buffer.rewards[:, 0]
        # The observation never changes, so V(final obs) during the rollout is the value the
        # buffer stored for every step.
        expected = 0.0 if terminate else 0.9 * float(model.rollout_buffer.values[0, 0])
        assert rewards[0] == rewards[2] == 0.0
        assert terminate or abs(expected) > 1e-3  # a bootstrap that can be seen
        np.testing.assert_allclose(rewards[[1, 3]], expected, rtol=1e-5)
