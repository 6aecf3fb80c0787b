"""Dropout: zeroes elements (or whole channels) at random in training, scaling the rest."""

from __future__ import annotations

import warnings

from ember.autograd.function import Function
from ember.backend import fused, xp_of
from ember.ops.op import primitive
from ember.tensor.random import rand
from ember.tensor.tensor import Tensor


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


@primitive("dropout_mask")
class DropoutMask(Function):
    """Dropout's scaled keep-mask of ``shape`` in ``x``'s dtype and device: each element
    ``1 / (1 - p)`` with probability ``1 - p``, else 0 (only ``x``'s dtype and device are read).

    A primitive rather than a creation call so that a traced graph (``ember.jit``) draws a new
    mask on every replay instead of freezing the one drawn while tracing.
    """

    random = True  # ember.jit neither folds nor merges it

    @staticmethod
    def forward(ctx, x, p, shape):
        dtype = x.dtype
        if p == 1.0:
            return xp_of(x).zeros(shape, dtype)
        like = Tensor(x)
        draws = rand(shape, dtype=like.dtype, device=like.device)._array
        scale = dtype.type(1.0 / (1.0 - p))
        return fused("dropout_mask", (draws, p, scale), _keep_mask, draws, p, scale)

    @staticmethod
    def backward(ctx, grad):
        return None


def _keep_mask(draws, p, scale):
    """``scale`` where ``draws >= p``, else 0 (the CPU path of the fused kernel)."""
    return xp_of(draws).asarray((draws >= p).astype(scale.dtype) * scale)


def _masked(input: Tensor, p: float, mask_shape: tuple, inplace: bool) -> Tensor:
    """``input * mask`` with mask ~ Bernoulli(1 - p) / (1 - p), broadcast from ``mask_shape``."""
    # detached: the mask needs no gradient, and no graph node (jit still sees where it comes from)
    mask = DropoutMask.apply(input.detach(), p=p, shape=tuple(mask_shape))
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
                     batched: bool = True) -> Tensor:
    """PyTorch's ``feature_dropout``: one draw per (sample, channel) of ``(N, C, *)`` input,
    shared over the rest; unbatched ``(C, *)`` input as if ``unsqueeze(0)`` came first."""
    _check_p(p)
    if input.dim() + (0 if batched else 1) < 2:
        raise RuntimeError(f"{name}: Feature dropout requires at least 2 dimensions in the "
                           f"input, got input of shape {tuple(input.shape)}")
    if not training or p == 0.0:
        return input
    lead = 2 if batched else 1
    return _masked(input, p, tuple(input.shape[:lead]) + (1,) * (input.dim() - lead), inplace)


def _warn_rank(name: str, input: Tensor, spatial: int) -> None:
    """PyTorch's deprecation warning for ranks other than (C, *spatial) and (N, C, *spatial)."""
    if input.dim() not in (spatial + 1, spatial + 2):
        warnings.warn(
            f"{name}: Received a {input.dim()}-D input to {name}, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            f"warning, please use dropout instead. Note that {name} exists to provide "
            f"channel-wise dropout on inputs with {spatial} spatial dimensions, a channel "
            f"dimension, and an optional batch dimension (i.e. {spatial + 1}D or {spatial + 2}D "
            "inputs).",
            stacklevel=3,
        )


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel-wise dropout of ``(N, C, L)`` or ``(C, L)`` input."""
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.dim()}D input of shape "
            f"{tuple(input.shape)}. Note that dropout1d exists to provide channel-wise dropout "
            "on inputs with 1 spatial dimension, a channel dimension, and an optional batch "
            "dimension (i.e. 2D or 3D inputs)."
        )
    return _feature_dropout("dropout1d", input, p, training, inplace, batched=input.dim() == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel-wise dropout of ``(N, C, H, W)`` input, as PyTorch's ``dropout2d``.

    As in PyTorch, other ranks are taken as ``(N, C, *)`` (one draw per element of the first
    two dimensions): a 3-D input as ``(N, C, L)`` (1-D channel dropout), not as unbatched
    ``(C, H, W)``, and a 2-D input ``(N, C)`` elementwise; each with PyTorch's warning.
    """
    _warn_rank("dropout2d", input, 2)
    if input.dim() == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _feature_dropout("dropout2d", input, p, training, inplace)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel-wise dropout of ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` input; other
    ranks warn (as in PyTorch) and are taken as unbatched ``(C, *)``."""
    _warn_rank("dropout3d", input, 3)
    return _feature_dropout("dropout3d", input, p, training, inplace, batched=input.dim() == 5)
