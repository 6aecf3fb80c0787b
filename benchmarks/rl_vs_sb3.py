"""Whole PPO runs, ember_rl vs Stable-Baselines3 2.x: wall time of ``learn`` on CartPole-v1.

Both train PPO for 100,000 steps with rl-baselines3-zoo's CartPole hyperparameters (8 envs,
n_steps 32, batch 256, 20 epochs, gamma 0.98, GAE lambda 0.8, learning rate and clip range
annealed linearly from 1e-3 and 0.2), one thread each, each run in a fresh process, alternating
between the libraries. Prints each run's wall time and evaluation return (10 deterministic
episodes) and the ratio of the median times.

Needs stable-baselines3 in the bench venv: ``.venv-bench/bin/pip install "stable-baselines3>=2"
"torch==2.13.0"``. Run: ``.venv-bench/bin/python benchmarks/rl_vs_sb3.py [--runs 3]``; the
thread settings of ``make bench`` (OMP_NUM_THREADS=1 ...) are applied here as well.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

SETTINGS = dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                ent_coef=0.0)
N_ENVS, TIMESTEPS, LEARNING_RATE, CLIP_RANGE = 8, 100_000, 1e-3, 0.2
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "OMP_WAIT_POLICY": "PASSIVE"}


def run_ember(seed: int) -> dict:
    from ember_rl import PPO, evaluate_policy, linear_schedule, make_vec_env

    env = make_vec_env("CartPole-v1", n_envs=N_ENVS, seed=seed)
    model = PPO("MlpPolicy", env, seed=seed, learning_rate=linear_schedule(LEARNING_RATE),
                clip_range=linear_schedule(CLIP_RANGE), **SETTINGS)
    return _learn_and_evaluate(model, evaluate_policy, seed)


def run_sb3(seed: int) -> dict:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    torch.set_num_threads(1)
    env = make_vec_env("CartPole-v1", n_envs=N_ENVS, seed=seed)
    model = PPO("MlpPolicy", env, seed=seed, device="cpu",
                learning_rate=lambda progress: progress * LEARNING_RATE,
                clip_range=lambda progress: progress * CLIP_RANGE, **SETTINGS)
    return _learn_and_evaluate(model, evaluate_policy, seed)


def _learn_and_evaluate(model, evaluate_policy, seed: int) -> dict:
    """Times ``learn`` alone, then evaluates 10 deterministic episodes."""
    import time

    import gymnasium as gym

    start = time.perf_counter()
    model.learn(TIMESTEPS)
    seconds = time.perf_counter() - start
    eval_env = gym.make("CartPole-v1")
    eval_env.reset(seed=seed + 1000)
    mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=10)
    return {"seconds": seconds, "return": float(mean)}


def _in_subprocess(library: str, seed: int) -> dict:
    environment = dict(os.environ, **THREAD_ENV)
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        environment.pop(name, None)
    out = subprocess.run([sys.executable, __file__, "--one", library, "--seed", str(seed)],
                         env=environment, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per library (seeds 0, 1 ...)")
    parser.add_argument("--one", choices=["ember", "sb3"], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.one:
        print(json.dumps((run_ember if args.one == "ember" else run_sb3)(args.seed)))
        return 0
    times: dict[str, list[float]] = {"ember": [], "sb3": []}
    for seed in range(args.runs):
        for library in ("ember", "sb3"):
            result = _in_subprocess(library, seed)
            times[library].append(result["seconds"])
            print(f"{library:>5} seed {seed}: {result['seconds']:6.1f} s, evaluation return "
                  f"{result['return']:.1f}", flush=True)
    ember_time, sb3_time = statistics.median(times["ember"]), statistics.median(times["sb3"])
    print(f"median wall time of learn(100k): ember_rl {ember_time:.1f} s, Stable-Baselines3 "
          f"{sb3_time:.1f} s, ratio ember/SB3 {ember_time / sb3_time:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
