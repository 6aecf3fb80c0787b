"""Reinforcement learning, Ember vs PyTorch: the PPO update and the rollout step.

- PPO update: what ``PPO.train`` does once with Stable-Baselines3's defaults: 2048 samples of
  CartPole-sized observations (4 floats, 2 actions), 10 epochs of shuffled minibatches of 64
  (320 gradient steps), SB3's default actor-critic (separate 64-64 tanh MLPs for policy and
  value), clipped surrogate + value loss + entropy, global grad-norm clipping, Adam (eps 1e-5).
- Rollout step: the policy's forward pass on 8 observations without gradient, sampling the
  actions and their log-probabilities: what runs once per vector-env step.

Both are written once against ``lib`` (ember or torch) with ``lib.distributions.Categorical``.
The whole-run comparison with Stable-Baselines3 is ``benchmarks/rl_vs_sb3.py``.

Run with the others by ``make bench`` (``-k PPO`` selects these), or alone:
``.venv-bench/bin/python benchmarks/bench_rl.py [run.py options]``.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from harness import benchmark, place

SAMPLES, EPOCHS, MINIBATCH, OBS, ACTIONS, HIDDEN = 2048, 10, 64, 4, 2, 64


def actor_critic(lib):
    """SB3's default MlpPolicy for a 4-float observation and 2 discrete actions."""
    nn = lib.nn

    def mlp(out_features, gain):
        layers = [nn.Linear(OBS, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, HIDDEN), nn.Tanh(),
                  nn.Linear(HIDDEN, out_features)]
        for layer, layer_gain in zip(layers[::2], (math.sqrt(2), math.sqrt(2), gain)):
            nn.init.orthogonal_(layer.weight, layer_gain)
            nn.init.zeros_(layer.bias)
        return nn.Sequential(*layers)

    class ActorCritic(nn.Module):
        def __init__(self):
            super().__init__()
            self.actor = mlp(ACTIONS, 0.01)
            self.critic = mlp(1, 1.0)

        def forward(self, obs):
            logits = self.actor(obs)
            return lib.distributions.Categorical(logits=logits, validate_args=False), \
                self.critic(obs).flatten()

    return ActorCritic()


def _rollout_data(lib):
    rng = np.random.default_rng(0)

    def as_tensor(array):
        return place(lib, array)

    return (as_tensor(rng.standard_normal((SAMPLES, OBS)).astype(np.float32)),
            as_tensor(rng.integers(0, ACTIONS, SAMPLES).astype(np.int64)),
            as_tensor(np.full(SAMPLES, -math.log(ACTIONS), np.float32)),
            as_tensor(rng.standard_normal(SAMPLES).astype(np.float32)),
            as_tensor(rng.standard_normal(SAMPLES).astype(np.float32)))


@benchmark(f"PPO update: {SAMPLES} samples, {EPOCHS} epochs, minibatch {MINIBATCH}, MLP 64x64",
           unit="update")
def ppo_update(lib):
    lib.manual_seed(0)
    F = lib.nn.functional
    policy = place(lib, actor_critic(lib))
    optimizer = lib.optim.Adam(policy.parameters(), lr=3e-4, eps=1e-5)
    parameters = list(policy.parameters())
    observations, actions, old_log_probs, advantages, returns = _rollout_data(lib)
    clip, rng = 0.2, np.random.default_rng(0)

    def update():
        for _ in range(EPOCHS):
            order = place(lib, rng.permutation(SAMPLES))
            for start in range(0, SAMPLES, MINIBATCH):
                index = order[start:start + MINIBATCH]
                dist, values = policy(observations[index])
                log_prob = dist.log_prob(actions[index])
                adv = advantages[index]
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                ratio = lib.exp(log_prob - old_log_probs[index])
                clipped = lib.clamp(ratio, 1 - clip, 1 + clip)
                policy_loss = -lib.minimum(adv * ratio, adv * clipped).mean()
                value_loss = F.mse_loss(returns[index], values)
                loss = policy_loss + 0.5 * value_loss - 0.0 * dist.entropy().mean()
                optimizer.zero_grad()
                loss.backward()
                lib.nn.utils.clip_grad_norm_(parameters, 0.5)
                optimizer.step()

    return update


@benchmark("PPO rollout step: policy forward + sample, 8 obs, no grad", unit="step",
           devices=("cpu",))
def rollout_step(lib):
    lib.manual_seed(0)
    policy = actor_critic(lib)
    obs = np.random.default_rng(0).standard_normal((8, OBS)).astype(np.float32)

    def step():
        with lib.no_grad():
            dist, values = policy(lib.from_numpy(obs))
            actions = dist.sample()
            log_prob = dist.log_prob(actions)
        return actions.numpy(), values.numpy(), log_prob.numpy()

    return step


if __name__ == "__main__":
    import run

    run.MODULES = ()  # this module's benchmarks are registered already: run only these
    sys.exit(run.main())
