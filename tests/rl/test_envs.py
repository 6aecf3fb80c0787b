"""Vector envs, episode statistics, running normalisation and env-id errors."""

import gymnasium as gym
import numpy as np
import pytest

from ember_rl.envs import (
    EpisodeStatistics,
    IdentityEnv,
    RunningMeanStd,
    VecNormalize,
    as_vec_env,
    find_wrapper,
    make_vec_env,
)


def test_make_vec_env_is_seeded_and_same_step_autoreset():
    first = make_vec_env("CartPole-v1", n_envs=3, seed=5)
    second = make_vec_env("CartPole-v1", n_envs=3, seed=5)
    obs_a, _ = first.reset(seed=5)
    obs_b, _ = second.reset(seed=5)
    np.testing.assert_array_equal(obs_a, obs_b)
    assert first.num_envs == 3 and isinstance(first, EpisodeStatistics)
    assert first.env_id == "CartPole-v1"
    # Push the pole over: the ending step reports the episode and the final observation.
    for _ in range(200):
        obs, rewards, terminated, truncated, infos = first.step(np.zeros(3, dtype=np.int64))
        if terminated.any():
            break
    index = int(np.flatnonzero(terminated)[0])
    assert infos["_final_obs"][index] and infos["_episode"][index]
    assert infos["episode"]["l"][index] == infos["episode"]["r"][index] > 0
    assert abs(infos["final_obs"][index][2]) > 0.2  # the pole angle that ended it
    assert abs(obs[index][2]) < 0.05  # the next episode's first observation


def test_episode_statistics_counts_lengths_and_returns_across_resets():
    env = make_vec_env(lambda: IdentityEnv(2, ep_length=3), n_envs=2, seed=0)
    env.reset(seed=0)
    lengths = []
    for _ in range(7):
        _, _, _, _, infos = env.step(np.zeros(2, dtype=np.int64))
        if "_episode" in infos:
            lengths += infos["episode"]["l"][infos["_episode"]].tolist()
    assert lengths == [3, 3, 3, 3]


def test_async_vector_env():
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0, vec_env_cls="async")
    try:
        obs, _ = env.reset(seed=0)
        obs, *_ = env.step(np.array([0, 1]))
        assert obs.shape == (2, 4)
    finally:
        env.close()


def test_as_vec_env_accepts_envs_and_rejects_other_things():
    assert as_vec_env(gym.make("CartPole-v1")).num_envs == 1
    assert as_vec_env("CartPole-v1", n_envs=2).num_envs == 2
    with pytest.raises(ValueError, match="SAME_STEP"):
        as_vec_env(gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")]))
    with pytest.raises(TypeError, match="env id string"):
        as_vec_env(42)


def test_unknown_env_id_is_a_clear_error():
    with pytest.raises(ValueError, match="NoSuchEnv-v0"):
        make_vec_env("NoSuchEnv-v0")
    with pytest.raises(ValueError, match="vec_env_cls"):
        make_vec_env("CartPole-v1", vec_env_cls="threads")


def test_running_mean_std_matches_numpy_over_batches():
    data = np.random.default_rng(0).standard_normal((100, 3)) * [1, 2, 3] + [0, 5, -5]
    rms = RunningMeanStd(shape=(3,), epsilon=0.0)
    for chunk in np.split(data, [10, 35, 80]):
        rms.update(chunk)
    np.testing.assert_allclose(rms.mean, data.mean(0))
    np.testing.assert_allclose(rms.var, data.var(0))
    assert rms.count == 100


def test_vec_normalize_normalises_and_saves_its_state():
    env = VecNormalize(make_vec_env("Pendulum-v1", n_envs=2, seed=0), gamma=0.9)
    obs, _ = env.reset(seed=0)
    for _ in range(200):  # the 200th step hits Pendulum's time limit
        obs, rewards, _, truncated, infos = env.step(np.zeros((2, 1), np.float32))
    assert np.abs(obs).max() <= 10.0 and obs.dtype == np.float32
    raw = env.get_original_obs()
    np.testing.assert_allclose(obs, (raw - env.obs_rms.mean) / np.sqrt(env.obs_rms.var + 1e-8),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rewards, env.get_original_reward()
                               / np.sqrt(env.ret_rms.var + 1e-8), rtol=1e-5)
    assert truncated.all() and "final_obs" in infos
    final = infos["final_obs"][int(np.flatnonzero(truncated)[0])]
    assert np.abs(final).max() < 10  # normalised as well
    state = env.state_dict()
    other = VecNormalize(make_vec_env("Pendulum-v1"), training=False)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.obs_rms.mean, env.obs_rms.mean)
    assert other.gamma == 0.9
    assert find_wrapper(env, EpisodeStatistics) is not None
