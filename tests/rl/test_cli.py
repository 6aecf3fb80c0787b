"""The command line: train, save, evaluate, write a GIF."""

import os

import pytest

from ember_rl.cli import main
from ember_rl.envs import ImageIdentityEnv
from ember_rl.video import record_gif


def test_train_save_and_eval(tmp_path, capsys):
    path = str(tmp_path / "a2c_cartpole")
    assert main(["train", "a2c", "CartPole-v1", "--timesteps", "200", "--seed", "0", "--save",
                 path, "--eval-episodes", "2"]) == 0
    out = capsys.readouterr().out
    assert "training A2C on CartPole-v1 for 200 steps (8 envs)" in out
    assert "evaluation return over 2 episodes" in out and os.path.exists(path)
    assert main(["eval", path, "--episodes", "2", "--seed", "0"]) == 0
    assert "CartPole-v1: mean return over 2 episodes" in capsys.readouterr().out


def test_train_with_normalisation_and_defaults(capsys):
    assert main(["train", "ppo", "Acrobot-v1", "--timesteps", "64", "--n-envs", "2",
                 "--eval-episodes", "1"]) == 0
    assert "normalised observations" in capsys.readouterr().out
    assert main(["train", "reinforce", "Pendulum-v1", "--defaults", "--timesteps", "32",
                 "--eval-episodes", "1"]) == 0


def test_errors(tmp_path):
    with pytest.raises(SystemExit):
        main(["train", "dqn", "CartPole-v1"])
    with pytest.raises(ValueError, match="NoSuchEnv"):
        main(["train", "ppo", "NoSuchEnv-v0", "--timesteps", "8"])
    path = str(tmp_path / "m")
    main(["train", "ppo", "CartPole-v1", "--timesteps", "64", "--n-envs", "1", "--save", path,
          "--eval-episodes", "1", "--defaults"])
    with pytest.raises(SystemExit, match="--video needs --render"):
        main(["eval", path, "--video", str(tmp_path / "x.gif")])


def test_record_gif(tmp_path):
    pytest.importorskip("PIL", reason="Pillow is the optional `video` extra")
    from ember_rl import PPO

    env = ImageIdentityEnv(ep_length=5, render_mode="rgb_array")
    env.reset(seed=1)  # fixes the targets the episode shows
    model = PPO("CnnPolicy", ImageIdentityEnv(), n_steps=8, batch_size=4, n_epochs=1)
    frames = record_gif(model, env, str(tmp_path / "episode.gif"))
    assert frames == 6
    from PIL import Image

    with Image.open(tmp_path / "episode.gif") as image:
        # Pillow merges identical consecutive frames; both targets show up in 6 steps here.
        assert image.n_frames >= 2 and image.size == (36, 36)
