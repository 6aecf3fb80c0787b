"""Sliding-window geometry shared by convolution and pooling."""

from __future__ import annotations

_POSITIVE = ("kernel_size", "stride", "dilation")  # the others (padding ...) must be >= 0


def pair(value, name: str, op_name: str) -> tuple:
    """An int or a pair of ints as a pair, checked as PyTorch checks window arguments: kernel
    size, stride and dilation above zero, paddings not negative (RuntimeError otherwise)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    else:
        value = tuple(value)
        if len(value) == 1:
            value = value * 2
        if len(value) != 2 or not all(isinstance(v, int) for v in value):
            raise ValueError(f"{op_name}: {name} must be an int or a pair of ints, got "
                             f"{value!r}")
    if name in _POSITIVE:
        if min(value) <= 0:
            raise RuntimeError(f"{op_name}: {name} must be greater than zero, but got "
                               f"{name}={value}")
    elif min(value) < 0:
        raise RuntimeError(f"{op_name}: negative {name} is not supported, but got {name}={value}")
    return value


def output_size(size, kernel, stride, padding, dilation, ceil_mode=False) -> int:
    """Output length of a window sliding over ``size`` (PyTorch's formula, incl. ceil_mode)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    count = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (count - 1) * stride >= size + padding:
        count -= 1  # the last window must start inside the input or its left padding
    return count


def tap(i: int, j: int, stride, dilation, out_hw) -> tuple:
    """The (rows, cols) slices that kernel tap (i, j) reads for every output position."""
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_hw
    top, left = i * dh, j * dw
    return (slice(top, top + sh * (ho - 1) + 1, sh), slice(left, left + sw * (wo - 1) + 1, sw))


def padded(xp, x, padding, needed_hw, fill):
    """``x`` (..., H, W) padded by ``padding`` on top/left and up to ``needed_hw`` with ``fill``."""
    (ph, pw), (nh, nw) = padding, needed_hw
    h, w = x.shape[-2:]
    nh, nw = max(nh, h + 2 * ph), max(nw, w + 2 * pw)
    if (nh, nw) == (h, w):
        return x
    out = xp.full(x.shape[:-2] + (nh, nw), fill, dtype=x.dtype)
    out[..., ph:ph + h, pw:pw + w] = x
    return out
