"""Rollout buffer and GAE against hand-computed values, truncation bootstrapping included."""

import numpy as np
import pytest
from gymnasium import spaces

import ember
from ember_rl.buffers import RolloutBuffer, bootstrap_truncated, compute_gae


def test_gae_matches_a_hand_computed_example():
    # One env, 3 steps; an episode ends (terminated) after step 1, so step 2 starts a new one.
    gamma, lam = 0.9, 0.5
    rewards = np.array([[1.0], [2.0], [3.0]], np.float32)
    values = np.array([[0.5], [1.0], [2.0]], np.float32)
    starts = np.array([[1.0], [0.0], [1.0]], np.float32)
    last_value, last_done = np.array([4.0], np.float32), np.array([False])
    # deltas: d2 = 3 + 0.9*4 - 2 = 4.6 ; d1 = 2 + 0 - 1 = 1.0 (next obs starts a new episode)
    #         d0 = 1 + 0.9*1.0 - 0.5 = 1.4
    # advantages: A2 = 4.6 ; A1 = 1.0 (no flow across the episode start) ; A0 = 1.4 + 0.45*1.0
    advantages = compute_gae(rewards, values, starts, last_value, last_done, gamma, lam)
    np.testing.assert_allclose(advantages[:, 0], [1.85, 1.0, 4.6], rtol=1e-6)


def test_gae_with_done_last_step_and_lambda_one_gives_monte_carlo_returns():
    gamma = 0.5
    rewards = np.array([[1.0], [1.0], [1.0]], np.float32)
    values = np.zeros((3, 1), np.float32)
    starts = np.array([[1.0], [0.0], [0.0]], np.float32)
    advantages = compute_gae(rewards, values, starts, np.array([10.0]), np.array([True]),
                             gamma, 1.0)
    np.testing.assert_allclose(advantages[:, 0], [1.75, 1.5, 1.0])  # the last value is ignored


def test_truncation_bootstraps_from_the_final_value_and_termination_does_not():
    rewards = np.array([1.0, 1.0, 1.0], np.float32)
    truncated = np.array([True, False, True])
    terminated = np.array([False, True, True])  # env 2: both flags; termination wins
    final_values = np.array([10.0, 20.0, 30.0], np.float32)
    out = bootstrap_truncated(rewards, truncated, terminated, final_values, gamma=0.9)
    np.testing.assert_allclose(out, [1.0 + 0.9 * 10.0, 1.0, 1.0])
    assert rewards.tolist() == [1.0, 1.0, 1.0]  # the input is not modified

    # Through GAE: a truncated last step equals a terminated one with the bootstrapped reward.
    values = np.array([[2.0, 2.0]], np.float32)
    boot = bootstrap_truncated(np.array([1.0, 1.0], np.float32), np.array([True, False]),
                               np.array([False, True]), np.array([5.0, 5.0], np.float32), 0.9)
    advantages = compute_gae(boot[None], values, np.ones((1, 2), np.float32),
                             np.array([100.0, 100.0]), np.array([True, True]), 0.9, 0.95)
    np.testing.assert_allclose(advantages[0], [1.0 + 4.5 - 2.0, 1.0 - 2.0])


def test_rollout_buffer_shapes_returns_and_minibatches():
    obs_space, action_space = spaces.Box(-1, 1, (3,), np.float32), spaces.Discrete(2)
    buffer = RolloutBuffer(4, obs_space, action_space, gae_lambda=0.95, gamma=0.99, n_envs=2)
    for step in range(4):
        buffer.add(np.full((2, 3), step, np.float32), np.array([0, 1]),
                   np.ones(2, np.float32), np.array([step == 0] * 2), np.zeros((2, 1)),
                   np.full(2, -0.5))
    assert buffer.full and buffer.observations.shape == (4, 2, 3)
    assert buffer.actions.dtype == np.int64 and buffer.actions.shape == (4, 2)
    with pytest.raises(RuntimeError, match="full"):
        buffer.add(np.zeros((2, 3)), np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2),
                   np.zeros(2))
    buffer.compute_returns_and_advantage(np.zeros(2), np.array([True, True]))
    np.testing.assert_allclose(buffer.returns, buffer.advantages + buffer.values)
    batches = list(buffer.get(batch_size=3, rng=np.random.default_rng(0)))
    assert [b.observations.shape[0] for b in batches] == [3, 3, 2]
    assert batches[0].observations.shape == (3, 3) and batches[0].actions.shape == (3,)
    assert all(isinstance(t, ember.Tensor) for t in batches[0])
    seen = np.sort(np.concatenate([b.observations.numpy()[:, 0] for b in batches]))
    assert seen.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]  # every sample exactly once
    assert len(list(buffer.get())) == 1


def test_rollout_buffer_box_actions_and_partial_get_error():
    buffer = RolloutBuffer(2, spaces.Discrete(5), spaces.Box(-1, 1, (2,)), n_envs=3)
    assert buffer.observations.shape == (2, 3) and buffer.actions.shape == (2, 3, 2)
    with pytest.raises(RuntimeError, match="only 0 of 2"):
        next(buffer.get(4))


def test_normalize_advantages_uses_the_unbiased_std():
    from ember_rl.utils import normalize_advantages

    values = np.array([1.0, 2.0, 4.0], np.float32)
    out = normalize_advantages(ember.from_numpy(values)).numpy()
    np.testing.assert_allclose(out, (values - values.mean()) / (values.std(ddof=1) + 1e-8),
                               rtol=1e-6)
    assert out.dtype == np.float32
