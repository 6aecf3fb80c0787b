"""``pixel_shuffle`` and ``pixel_unshuffle``: channels to space and back, as reshapes and one
permutation (their gradients are each other)."""

from __future__ import annotations

from ember.ops.op import op
from ember.tensor.tensor import Tensor


def _check(name: str, input: Tensor, factor, factor_name: str) -> None:
    if isinstance(factor, bool) or not isinstance(factor, int):
        raise TypeError(f"{name}: {factor_name} must be an int, got {factor!r}")
    if factor <= 0:
        raise RuntimeError(f"{name} expects a positive {factor_name}, but got {factor}")
    if input.ndim < 3:
        raise RuntimeError(f"{name} expects input to have at least 3 dimensions, but got input "
                           f"with {input.ndim} dimension(s) (shape {tuple(input.shape)})")


@op("pixel_shuffle")
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``(*, C * r^2, H, W)`` -> ``(*, C, H * r, W * r)`` with ``r = upscale_factor``.

    Example:
        >>> ember.pixel_shuffle(ember.arange(4.0).reshape(1, 4, 1, 1), 2).reshape(-1)
        tensor([0., 1., 2., 3.])
    """
    _check("pixel_shuffle", input, upscale_factor, "upscale_factor")
    r = upscale_factor
    *lead, channels, h, w = input.shape
    if channels % (r * r):
        raise RuntimeError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the "
            f"square of upscale_factor, but input.size(-3)={channels} is not divisible by "
            f"{r * r} (input of shape {tuple(input.shape)})"
        )
    k = len(lead)
    out = input.reshape(*lead, channels // (r * r), r, r, h, w)
    out = out.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return out.reshape(*lead, channels // (r * r), h * r, w * r)


@op("pixel_unshuffle")
def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``(*, C, H * r, W * r)`` -> ``(*, C * r^2, H, W)``: the inverse of ``pixel_shuffle``.

    Example:
        >>> ember.pixel_unshuffle(ember.zeros(1, 1, 4, 6), 2).shape
        (1, 4, 2, 3)
    """
    _check("pixel_unshuffle", input, downscale_factor, "downscale_factor")
    r = downscale_factor
    *lead, channels, h, w = input.shape
    for dim, size, what in ((-2, h, "height"), (-1, w, "width")):
        if size % r:
            raise RuntimeError(
                f"pixel_unshuffle expects {what} to be divisible by downscale_factor, but "
                f"input.size({dim})={size} is not divisible by {r} (input of shape "
                f"{tuple(input.shape)})"
            )
    k = len(lead)
    out = input.reshape(*lead, channels, h // r, r, w // r, r)
    out = out.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return out.reshape(*lead, channels * r * r, h // r, w // r)
