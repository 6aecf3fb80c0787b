"""Videos for TensorBoard: a batch of clips tiled into one animated GIF image summary.

tensorboardX encodes videos with moviepy (and its ffmpeg binary, about 165 MB) and only logs an
error when moviepy is missing; Ember encodes the GIF with Pillow instead, and a missing Pillow is
a clear ImportError.
"""

from __future__ import annotations

import io
import math

import numpy as np


def tile_clips(clips: np.ndarray) -> np.ndarray:
    """``(N, T, C, H, W)`` clips (uint8, or floats in [0, 1]) -> ``(T, rows*H, cols*W, C)``
    uint8 frames, the clips laid out in a grid of ``rows = 2**floor(log2(N)/2)`` rows, as
    tensorboardX lays them out."""
    if clips.ndim != 5 or clips.shape[2] not in (1, 3):
        raise ValueError(f"add_video: expected a video tensor of shape (N, T, C, H, W) with C 1 "
                         f"or 3, got shape {tuple(clips.shape)}")
    if clips.dtype != np.uint8:
        clips = (np.clip(clips, 0.0, 1.0) * 255).round().astype(np.uint8)
    count, frames, channels, height, width = clips.shape
    rows = 2 ** ((count.bit_length() - 1) // 2)
    cols = math.ceil(count / rows)
    padded = np.zeros((rows * cols, *clips.shape[1:]), np.uint8)
    padded[:count] = clips
    grid = padded.reshape(rows, cols, frames, channels, height, width)
    return grid.transpose(2, 0, 4, 1, 5, 3).reshape(frames, rows * height, cols * width, channels)


def encode_gif(frames: np.ndarray, fps: float) -> bytes:
    """``(T, H, W, C)`` uint8 frames as an endlessly looping GIF (through Pillow)."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("add_video needs Pillow to encode the GIF: pip install pillow") from None
    images = [Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame)
              for frame in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=round(1000 / fps), loop=0)
    return buffer.getvalue()
