"""Which Gymnasium spaces the agents support, and observations turned into network inputs."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

import ember
import ember.nn.functional as F

__all__ = [
    "check_action_space", "check_observation_space", "flatten_dim", "is_image_space",
    "obs_as_tensor", "preprocess_obs",
]

OBSERVATION_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiBinary)
ACTION_SPACES = (spaces.Box, spaces.Discrete)


def check_observation_space(space: spaces.Space, algo: str = "ember_rl") -> None:
    """Raises a clear error for observation spaces the policies cannot read."""
    if not isinstance(space, OBSERVATION_SPACES):
        raise ValueError(
            f"{algo}: observation space {space} is not supported; expected one of "
            f"{', '.join(s.__name__ for s in OBSERVATION_SPACES)} (flatten Dict/Tuple "
            f"observations with gymnasium.wrappers.FlattenObservation)"
        )


def check_action_space(space: spaces.Space, algo: str = "ember_rl") -> None:
    """Raises a clear error for action spaces the action distributions cannot model."""
    if not isinstance(space, ACTION_SPACES):
        raise ValueError(
            f"{algo}: action space {space} is not supported; expected Discrete (categorical "
            f"policy) or Box (diagonal Gaussian policy)"
        )
    if isinstance(space, spaces.Box) and not np.issubdtype(space.dtype, np.floating):
        raise ValueError(f"{algo}: Box action space {space} must have a floating dtype")


def is_image_space(space: spaces.Space) -> bool:
    """A uint8 Box of shape (H, W, C) or (C, H, W) with 1, 3 or 4 channels and bounds 0..255."""
    if not isinstance(space, spaces.Box) or space.dtype != np.uint8 or len(space.shape) != 3:
        return False
    if np.any(space.low != 0) or np.any(space.high != 255):
        return False
    return space.shape[0] in (1, 3, 4) or space.shape[-1] in (1, 3, 4)


def flatten_dim(space: spaces.Space) -> int:
    """Number of features an observation of ``space`` flattens to (one-hot for Discrete)."""
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    return int(np.prod(space.shape))


def obs_as_tensor(obs: np.ndarray, device=None) -> ember.Tensor:
    """A batch of observations as a tensor (sharing memory on the CPU)."""
    array = np.ascontiguousarray(obs)
    tensor = ember.from_numpy(array)
    return tensor if device is None or tensor.device == device else tensor.to(device)


def preprocess_obs(obs: ember.Tensor, space: spaces.Space,
                   normalize_images: bool = True) -> ember.Tensor:
    """Float network input: images scaled to [0, 1], Discrete one-hot, the rest as float32."""
    if isinstance(space, spaces.Discrete):
        return F.one_hot(obs.long().reshape(-1), int(space.n)).float()
    if normalize_images and is_image_space(space):
        return obs.float() / 255.0
    return obs if obs.dtype == ember.float32 else obs.float()
