"""Dropout: zeroes elements (or whole channels) at random in training, scaling the rest."""

from __future__ import annotations

import warnings

from ember.backend import xp_of
from ember.tensor.random import rand
from ember.tensor.tensor import Tensor


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _masked(input: Tensor, p: float, mask_shape: tuple, inplace: bool) -> Tensor:
    """``input * mask`` with mask ~ Bernoulli(1 - p) / (1 - p), broadcast from ``mask_shape``."""
    dtype = input._array.dtype
    if p == 1.0:
        keep = xp_of(input._array).zeros(mask_shape, dtype)
    else:
        draws = rand(mask_shape, dtype=input.dtype, device=input.device)._array
        keep = xp_of(draws).asarray((draws >= p).astype(dtype) * dtype.type(1.0 / (1.0 - p)))
    mask = Tensor(keep)
    return input.mul_(mask) if inplace else input * mask


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zeroes each element with probability ``p`` and scales the others by ``1 / (1 - p)``.

    Identity when not ``training`` or when ``p`` is 0.

    Example:
        >>> F.dropout(ember.ones(4), p=0.5, training=False)
        tensor([1., 1., 1., 1.])
    """
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _masked(input, p, input.shape, inplace)


def _feature_dropout(name: str, input: Tensor, p: float, training: bool, inplace: bool,
                     feature_dims: int) -> Tensor:
    """Zeroes whole channels: one draw per (sample, channel), shared over ``feature_dims``."""
    _check_p(p)
    batched = feature_dims + 2
    if input.dim() not in (batched - 1, batched):
        raise RuntimeError(
            f"{name}: Expected {batched - 1}D or {batched}D input, but received a "
            f"{input.dim()}D input of shape {tuple(input.shape)}"
        )
    if not training or p == 0.0:
        return input
    lead = input.dim() - feature_dims  # (N, C) or (C,)
    return _masked(input, p, tuple(input.shape[:lead]) + (1,) * feature_dims, inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel-wise dropout of ``(N, C, L)`` or ``(C, L)`` input."""
    return _feature_dropout("dropout1d", input, p, training, inplace, 1)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel-wise dropout of ``(N, C, H, W)`` or ``(C, H, W)`` input.

    As in PyTorch, a 3-D input is taken as ``(N, C, L)`` (1-D channel dropout), with a warning.
    """
    if input.dim() == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
        return _feature_dropout("dropout2d", input, p, training, inplace, 1)
    return _feature_dropout("dropout2d", input, p, training, inplace, 2)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel-wise dropout of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input."""
    return _feature_dropout("dropout3d", input, p, training, inplace, 3)
