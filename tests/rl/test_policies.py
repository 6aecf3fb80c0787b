"""Actor-critic policies: shapes, Stable-Baselines3's orthogonal init, CNN, clear errors."""

import math

import numpy as np
import pytest
from gymnasium import spaces

import ember
import ember.nn as nn
from ember_rl.envs import ImageIdentityEnv
from ember_rl.networks import NatureCNN
from ember_rl.policies import CnnPolicy, MlpPolicy, get_policy_class

BOX_OBS = spaces.Box(-1, 1, (4,), np.float32)


def lr(_):
    return 3e-4


def singular_values(weight):
    return np.linalg.svd(weight.detach().numpy(), compute_uv=False)


def test_mlp_policy_default_architecture_and_orthogonal_gains():
    policy = MlpPolicy(BOX_OBS, spaces.Discrete(3), lr)
    linears = [m for m in policy.mlp_extractor.policy_net if isinstance(m, nn.Linear)]
    assert [layer.weight.shape for layer in linears] == [(64, 4), (64, 64)]
    assert isinstance(policy.mlp_extractor.policy_net[1], nn.Tanh)
    # Orthogonal init: every singular value equals the gain; biases are zero.
    np.testing.assert_allclose(singular_values(linears[1].weight), math.sqrt(2), rtol=1e-5)
    np.testing.assert_allclose(singular_values(policy.action_net.weight), 0.01, rtol=1e-5)
    np.testing.assert_allclose(singular_values(policy.value_net.weight), 1.0, rtol=1e-5)
    assert not policy.action_net.bias.detach().numpy().any()
    assert isinstance(policy.optimizer, ember.optim.Adam)
    assert policy.optimizer.param_groups[0]["eps"] == 1e-5
    assert policy.optimizer.param_groups[0]["lr"] == 3e-4


def test_policy_outputs_and_evaluate_actions_shapes():
    policy = MlpPolicy(BOX_OBS, spaces.Box(-2, 2, (2,), np.float32), lr,
                       net_arch=dict(pi=[32], vf=[16, 16]), activation_fn=nn.ReLU,
                       log_std_init=-0.5)
    obs = ember.randn(5, 4)
    actions, values, log_prob = policy(obs)
    assert actions.shape == (5, 2) and values.shape == (5, 1) and log_prob.shape == (5,)
    values, log_prob, entropy = policy.evaluate_actions(obs, actions)
    assert entropy.shape == (5,) and log_prob.shape == (5,)
    assert policy.log_std.tolist() == [-0.5, -0.5]
    assert policy.predict_values(obs).shape == (5, 1)
    deterministic, _, _ = policy(obs, deterministic=True)
    assert ember.allclose(deterministic, policy.get_distribution(obs).mode())


def test_predict_single_and_batch_with_clipping():
    policy = MlpPolicy(BOX_OBS, spaces.Box(-0.1, 0.1, (2,), np.float32), lr, log_std_init=2.0)
    single = policy.predict(np.zeros(4, np.float32))
    batch = policy.predict(np.zeros((6, 4), np.float32))
    assert single.shape == (2,) and batch.shape == (6, 2)
    assert np.abs(batch).max() <= 0.1 + 1e-7
    with pytest.raises(ValueError, match="matches neither"):
        policy.predict(np.zeros((2, 5)))


def test_discrete_observations_are_one_hot():
    policy = MlpPolicy(spaces.Discrete(5), spaces.Discrete(2), lr)
    actions, values, _ = policy(ember.tensor([0, 4, 2]))
    assert actions.shape == (3,) and values.shape == (3, 1)
    assert policy.predict(3) in (0, 1)


def test_cnn_policy_on_channel_last_images():
    env = ImageIdentityEnv(shape=(36, 36, 3))
    policy = CnnPolicy(env.observation_space, env.action_space, lr)
    assert isinstance(policy.features_extractor, NatureCNN)
    assert policy.mlp_extractor.latent_dim_pi == 512  # no extra layers after the CNN
    obs = ember.from_numpy(np.stack([env.reset(seed=i)[0] for i in range(2)]))
    actions, values, _ = policy(obs)
    assert actions.shape == (2,) and values.shape == (2, 1)


def test_separate_feature_extractors():
    policy = MlpPolicy(BOX_OBS, spaces.Discrete(2), lr, share_features_extractor=False)
    assert policy.vf_features_extractor is not None
    assert policy(ember.randn(3, 4))[1].shape == (3, 1)


def test_clear_errors():
    with pytest.raises(ValueError, match="observation space"):
        MlpPolicy(spaces.Tuple([BOX_OBS]), spaces.Discrete(2), lr)
    with pytest.raises(ValueError, match="action space"):
        MlpPolicy(BOX_OBS, spaces.MultiDiscrete([2, 2]), lr)
    with pytest.raises(ValueError, match="image observation space"):
        CnnPolicy(BOX_OBS, spaces.Discrete(2), lr)
    with pytest.raises(ValueError, match="at least 36x36"):
        NatureCNN(spaces.Box(0, 255, (20, 20, 1), np.uint8))
    with pytest.raises(ValueError, match="unknown policy"):
        get_policy_class("LstmPolicy")
    with pytest.raises(ValueError, match="unknown activation"):
        MlpPolicy(BOX_OBS, spaces.Discrete(2), lr, activation_fn="Swoosh")
    with pytest.raises(ValueError, match="net_arch keys"):
        MlpPolicy(BOX_OBS, spaces.Discrete(2), lr, net_arch=dict(actor=[4]))
