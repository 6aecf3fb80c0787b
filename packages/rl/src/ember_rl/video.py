"""One episode rendered to an animated GIF (Pillow, the optional ``video`` extra)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

__all__ = ["record_gif"]


def _pillow_image():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("writing a GIF needs Pillow: pip install 'ember-rl[video]' (or "
                          "pip install pillow)") from None
    return Image


def record_gif(model, env, path: str, deterministic: bool = True, max_steps: int = 10_000,
               fps: int = 30) -> int:
    """Plays one episode of ``model`` in ``env`` (made with ``render_mode="rgb_array"``) and
    writes its frames to ``path``; returns the number of frames."""
    image = _pillow_image()
    if env.render_mode != "rgb_array":
        raise ValueError(f"record_gif: the env must have render_mode='rgb_array', got "
                         f"{env.render_mode!r}")
    obs, _ = env.reset()
    try:
        frames = [env.render()]
    except gym.error.DependencyNotInstalled as error:
        raise ImportError(f"rendering this env needs more packages ({error}); pip install "
                          f"'ember-rl[video]' brings Pillow and Gymnasium's pygame "
                          f"renderer") from None
    for _ in range(max_steps):
        action, _ = model.predict(obs, deterministic=deterministic)
        obs, _, terminated, truncated, _ = env.step(action)
        frames.append(env.render())
        if terminated or truncated:
            break
    pictures = [image.fromarray(np.asarray(frame, dtype=np.uint8)) for frame in frames]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=1000 // fps,
                     loop=0)
    return len(frames)
