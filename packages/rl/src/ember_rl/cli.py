"""Command line: ``python -m ember_rl train ALGO ENV_ID`` and ``python -m ember_rl eval PATH``.

Examples:
    python -m ember_rl train ppo CartPole-v1 --timesteps 100000 --seed 0 --save ppo_cartpole
    python -m ember_rl train ppo CartPole-v1 --tensorboard && tensorboard --logdir runs
    python -m ember_rl eval ppo_cartpole --episodes 20
    python -m ember_rl eval ppo_cartpole --render rgb_array --video cartpole.gif
"""

from __future__ import annotations

import argparse
import sys
import time

from ember_rl.algorithms import ALGORITHMS
from ember_rl.callbacks import BaseCallback
from ember_rl.envs import VecNormalize, make_env, make_vec_env
from ember_rl.evaluation import evaluate_policy
from ember_rl.zoo import hyperparams_for

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ember_rl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train an agent, evaluate it, optionally save it")
    train.add_argument("algo", choices=sorted(ALGORITHMS))
    train.add_argument("env_id", help="a Gymnasium environment id, e.g. CartPole-v1")
    train.add_argument("--timesteps", type=int, help="environment steps (default: tuned value)")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--n-envs", type=int, help="parallel envs (default: tuned value or 1)")
    train.add_argument("--async-envs", action="store_true", help="one process per env")
    train.add_argument("--defaults", action="store_true",
                       help="Stable-Baselines3 defaults instead of the tuned hyperparameters")
    train.add_argument("--save", metavar="PATH", help="where to save the trained model")
    train.add_argument("--eval-episodes", type=int, default=10)
    train.add_argument("--tensorboard-log", metavar="DIR",
                       help="write the training scalars as TensorBoard events under DIR")
    train.add_argument("--tensorboard", action="store_true",
                       help="TensorBoard events (scalars and parameter histograms) under "
                            "--tensorboard-log, default runs/")
    train.add_argument("--progress-bar", action="store_true")
    train.add_argument("--verbose", type=int, default=0)

    evaluate = commands.add_parser("eval", help="evaluate a saved model")
    evaluate.add_argument("path")
    evaluate.add_argument("--env", dest="env_id", help="env id (default: the one it trained on)")
    evaluate.add_argument("--episodes", type=int, default=20)
    evaluate.add_argument("--seed", type=int, default=None)
    evaluate.add_argument("--stochastic", action="store_true", help="sample actions")
    evaluate.add_argument("--render", choices=["rgb_array"], help="render mode (for --video)")
    evaluate.add_argument("--video", metavar="OUT.gif", help="write the first episode as a GIF")
    return parser


def train(args) -> int:
    algo_class = ALGORITHMS[args.algo]
    settings = {} if args.defaults else hyperparams_for(args.algo, args.env_id)
    n_envs = args.n_envs or settings.pop("n_envs", 1)
    settings.pop("n_envs", None)
    timesteps = args.timesteps or settings.pop("n_timesteps", 100_000)
    settings.pop("n_timesteps", None)
    normalize = settings.pop("normalize", False)
    env = make_vec_env(args.env_id, n_envs=n_envs, seed=args.seed,
                       vec_env_cls="async" if args.async_envs else "sync")
    if normalize:
        env = VecNormalize(env, gamma=settings.get("gamma", 0.99))
    tensorboard_log = args.tensorboard_log or ("runs" if args.tensorboard else None)
    model = algo_class("MlpPolicy", env, seed=args.seed, verbose=args.verbose,
                       tensorboard_log=tensorboard_log, **settings)
    print(f"training {args.algo.upper()} on {args.env_id} for {timesteps} steps "
          f"({n_envs} envs{', normalised observations' if normalize else ''})", flush=True)
    start = time.perf_counter()
    model.learn(timesteps, progress_bar=args.progress_bar,
                callback=ParameterHistograms() if args.tensorboard else None)
    seconds = time.perf_counter() - start
    eval_env = make_env(args.env_id)
    eval_env.reset(seed=None if args.seed is None else args.seed + 10_000)
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=args.eval_episodes)
    print(f"trained in {seconds:.1f} s; evaluation return over {args.eval_episodes} episodes: "
          f"{mean:.1f} +/- {std:.1f}")
    if args.save:
        model.save(args.save)
        print(f"saved to {args.save}")
    env.close()
    return 0


class ParameterHistograms(BaseCallback):
    """Records a histogram of every policy parameter after each rollout (dumped with the
    rollout's scalars)."""

    def _on_rollout_end(self) -> None:
        for name, parameter in self.model.policy.named_parameters():
            self.logger.record(f"parameters/{name}", parameter.detach().cpu().numpy())


def _algorithm_of(path: str):
    import ember

    data = ember.load(path)
    name = data.get("algorithm") if isinstance(data, dict) else None
    for algo_class in ALGORITHMS.values():
        if algo_class.__name__ == name:
            return algo_class
    raise SystemExit(f"eval: {path!r} is not an ember_rl model file")


def evaluate(args) -> int:
    model = _algorithm_of(args.path).load(args.path)
    env_id = args.env_id or model.env_id
    if env_id is None:
        raise SystemExit("eval: the model does not record its environment; pass --env ENV_ID")
    if args.video and args.render != "rgb_array":
        raise SystemExit("eval: --video needs --render rgb_array")
    env = make_env(env_id, render_mode=args.render) if args.render else make_env(env_id)
    env.reset(seed=args.seed)
    if args.video:
        from ember_rl.video import record_gif

        frames = record_gif(model, env, args.video, deterministic=not args.stochastic)
        print(f"wrote {frames} frames to {args.video}")
    mean, std = evaluate_policy(model, env, n_eval_episodes=args.episodes,
                                deterministic=not args.stochastic)
    print(f"{env_id}: mean return over {args.episodes} episodes {mean:.1f} +/- {std:.1f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return train(args) if args.command == "train" else evaluate(args)


if __name__ == "__main__":
    sys.exit(main())
