"""PPO on CartPole-v1 on one page, with nothing but ember and gymnasium (in the style of CleanRL).

The library version is ``ember_rl.PPO``; this file shows the whole algorithm top to bottom:
collect a rollout from parallel envs, compute GAE advantages, then a few epochs of clipped
policy-gradient updates on shuffled minibatches. Hyperparameters are rl-baselines3-zoo's for
CartPole. Run: ``python examples/rl/ppo_cartpole.py [--seed 0] [--total-timesteps 100000]``.
"""

import argparse
import math
import time

import gymnasium as gym
import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.distributions import Categorical

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--total-timesteps", type=int, default=100_000)
parser.add_argument("--num-envs", type=int, default=8)
parser.add_argument("--num-steps", type=int, default=32, help="steps per env per rollout")
parser.add_argument("--learning-rate", type=float, default=1e-3, help="annealed linearly to 0")
parser.add_argument("--gamma", type=float, default=0.98)
parser.add_argument("--gae-lambda", type=float, default=0.8)
parser.add_argument("--minibatch-size", type=int, default=256)
parser.add_argument("--update-epochs", type=int, default=20)
parser.add_argument("--clip-coef", type=float, default=0.2, help="annealed linearly to 0")
parser.add_argument("--vf-coef", type=float, default=0.5)
parser.add_argument("--max-grad-norm", type=float, default=0.5)
args = parser.parse_args()

# ---- seeding: a seeded run on the CPU is reproducible bit for bit ------------------------------
ember.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)

# ---- environments: same-step autoreset gives the final observation of an ending episode -------
envs = gym.vector.SyncVectorEnv(
    [lambda: gym.make("CartPole-v1") for _ in range(args.num_envs)],
    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
)
obs_dim = envs.single_observation_space.shape[0]
n_actions = envs.single_action_space.n


# ---- the agent: separate actor and critic MLPs, orthogonal init as in the PPO paper's code -----
SQRT2 = math.sqrt(2)


def layer(in_features, out_features, gain=SQRT2):
    linear = nn.Linear(in_features, out_features)
    nn.init.orthogonal_(linear.weight, gain)
    nn.init.zeros_(linear.bias)
    return linear


class Agent(nn.Module):
    def __init__(self):
        super().__init__()
        self.critic = nn.Sequential(layer(obs_dim, 64), nn.Tanh(), layer(64, 64), nn.Tanh(),
                                    layer(64, 1, gain=1.0))
        self.actor = nn.Sequential(layer(obs_dim, 64), nn.Tanh(), layer(64, 64), nn.Tanh(),
                                   layer(64, n_actions, gain=0.01))

    def value(self, obs):
        return self.critic(obs).flatten()

    def policy(self, obs):
        return Categorical(logits=self.actor(obs), validate_args=False)


agent = Agent()
optimizer = ember.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

# ---- rollout storage ---------------------------------------------------------------------------
shape = (args.num_steps, args.num_envs)
observations = np.zeros(shape + (obs_dim,), np.float32)
actions = np.zeros(shape, np.int64)
log_probs, rewards, values = (np.zeros(shape, np.float32) for _ in range(3))
episode_starts = np.zeros(shape, np.float32)

obs, _ = envs.reset(seed=args.seed)
starts = np.ones(args.num_envs, np.float32)
batch_size = args.num_envs * args.num_steps
num_updates = math.ceil(args.total_timesteps / batch_size)
start_time = time.perf_counter()

for update in range(num_updates):
    progress_remaining = 1.0 - update / num_updates
    optimizer.param_groups[0]["lr"] = args.learning_rate * progress_remaining
    clip = args.clip_coef * progress_remaining

    # ---- 1. collect a rollout with the current policy -------------------------------------------
    for step in range(args.num_steps):
        observations[step], episode_starts[step] = obs, starts
        with ember.no_grad():
            obs_tensor = ember.from_numpy(obs)
            dist = agent.policy(obs_tensor)
            action = dist.sample()
            log_probs[step] = dist.log_prob(action).numpy()
            values[step] = agent.value(obs_tensor).numpy()
        actions[step] = action.numpy()
        obs, reward, terminated, truncated, infos = envs.step(actions[step])
        # A time limit is not the end of the task: bootstrap the cut-off return from V(final obs).
        for i in np.flatnonzero(truncated & ~terminated):
            with ember.no_grad():
                final_value = agent.value(ember.from_numpy(infos["final_obs"][i][None])).item()
            reward[i] += args.gamma * final_value
        rewards[step] = reward
        starts = (terminated | truncated).astype(np.float32)

    # ---- 2. generalised advantage estimation (Schulman et al., 2016) ---------------------------
    with ember.no_grad():
        next_value = agent.value(ember.from_numpy(obs)).numpy()
    advantages = np.zeros(shape, np.float32)
    last_gae = 0.0
    for t in reversed(range(args.num_steps)):
        next_non_terminal = 1.0 - (starts if t == args.num_steps - 1 else episode_starts[t + 1])
        next_values = next_value if t == args.num_steps - 1 else values[t + 1]
        delta = rewards[t] + args.gamma * next_values * next_non_terminal - values[t]
        last_gae = delta + args.gamma * args.gae_lambda * next_non_terminal * last_gae
        advantages[t] = last_gae
    returns = advantages + values

    # ---- 3. clipped-surrogate updates on shuffled minibatches ----------------------------------
    flat = [a.reshape(batch_size, *a.shape[2:]) for a in (observations, actions, log_probs,
                                                          advantages, returns)]
    for _epoch in range(args.update_epochs):
        order = rng.permutation(batch_size)
        for begin in range(0, batch_size, args.minibatch_size):
            index = order[begin:begin + args.minibatch_size]
            b_obs, b_actions, b_log_probs, b_advantages, b_returns = (
                ember.from_numpy(a[index]) for a in flat)
            dist = agent.policy(b_obs)
            ratio = (dist.log_prob(b_actions) - b_log_probs).exp()
            b_advantages = (b_advantages - b_advantages.mean()) / (b_advantages.std() + 1e-8)
            policy_loss = -ember.minimum(ratio * b_advantages,
                                         ratio.clamp(1 - clip, 1 + clip) * b_advantages).mean()
            value_loss = F.mse_loss(agent.value(b_obs), b_returns)
            loss = policy_loss + args.vf_coef * value_loss
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
            optimizer.step()

print(f"trained {num_updates * batch_size} steps in {time.perf_counter() - start_time:.1f} s")

# ---- evaluate the greedy policy ----------------------------------------------------------------
env = gym.make("CartPole-v1")
episode_returns = []
for episode in range(10):
    obs, _ = env.reset(seed=args.seed + 1000 + episode)
    done, total = False, 0.0
    while not done:
        with ember.no_grad():
            action = agent.policy(ember.from_numpy(obs[None])).mode.item()
        obs, reward, terminated, truncated, _ = env.step(action)
        total += reward
        done = terminated or truncated
    episode_returns.append(total)
print(f"evaluation return over 10 episodes: {np.mean(episode_returns):.1f} "
      f"+/- {np.std(episode_returns):.1f}")
