"""Resampling: ``interpolate`` (nearest, nearest-exact, linear, bilinear, bicubic, trilinear,
area), ``upsample*`` aliases, ``pixel_shuffle`` and ``pixel_unshuffle``.

Every interpolation mode is separable: along each spatial axis the output is a fixed linear map
of the input, a few taps per output position (PyTorch's gather indices and weights: 1 for
nearest, 2 linear, 4 bicubic, a bin for area). Axis after axis, the forward sums the taps
weighted and the backward is the transpose (scatter-add of the weighted gradients),
differentiable at any order.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ember.backend import xp_of
from ember.ops.pooling import _bins
from ember.tensor.tensor import Tensor

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
#: the modes that need an exact number of spatial dimensions
_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_CUBIC_A = -0.75  # PyTorch's bicubic coefficient (as in OpenCV)
#: input sizes up to this are resampled by a dense matrix product, larger ones by gathering
_DENSE_LIMIT = 512


def _tuple(value, dims: int, name: str) -> tuple:
    if isinstance(value, (list, tuple)):
        if len(value) != dims:
            raise ValueError(
                f"interpolate: Input and output must have the same number of spatial "
                f"dimensions, but got input with {dims} spatial dimensions and {name} "
                f"{tuple(value)}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                f"and {name} in (o1, o2, ...,oK) format."
            )
        return tuple(value)
    return (value,) * dims


def _output_sizes(input: Tensor, size, scale_factor, recompute_scale_factor) -> tuple:
    """(output sizes, scales passed to the index rules or None per axis), as PyTorch's
    ``interpolate`` derives them."""
    dims = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor is not None and recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an "
                             "explicit size.")
        sizes = tuple(int(s) for s in _tuple(size, dims, "output size"))
        return sizes, (None,) * dims
    if scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    scales = tuple(float(s) for s in _tuple(scale_factor, dims, "scale_factor"))
    sizes = tuple(math.floor(n * s) for n, s in zip(input.shape[2:], scales))
    return sizes, (None,) * dims if recompute_scale_factor else scales


def _ratio(precision, in_size: int, out_size: int, scale, align_corners: bool):
    """PyTorch's ``area_pixel_compute_scale``: source distance per output step."""
    if align_corners:
        return precision((in_size - 1) / (out_size - 1)) if out_size > 1 else precision(0)
    if scale is not None and scale > 0:
        return precision(1.0) / precision(scale)
    return precision(in_size) / precision(out_size)


def _nearest(precision, in_size, out_size, scale, exact: bool) -> tuple:
    """``src = min(floor((dst [+ 0.5]) * ratio), in - 1)``, in the input's float precision."""
    ratio = _ratio(precision, in_size, out_size, scale, False)
    dst = np.arange(out_size, dtype=precision) + precision(0.5 if exact else 0.0)
    src = np.minimum(np.floor(dst * ratio).astype(np.int64), in_size - 1)
    return src[None], None


def _source(precision, in_size, out_size, scale, align_corners, cubic: bool):
    """PyTorch's ``area_pixel_compute_source_index`` for every output position."""
    ratio = _ratio(precision, in_size, out_size, scale, align_corners)
    dst = np.arange(out_size, dtype=precision)
    if align_corners:
        return dst * ratio
    src = ratio * (dst + precision(0.5)) - precision(0.5)
    return src if cubic else np.maximum(src, 0)


def _linear(precision, in_size, out_size, scale, align_corners) -> tuple:
    src = _source(precision, in_size, out_size, scale, align_corners, cubic=False)
    first = np.floor(src).astype(np.int64)
    frac = np.clip(src - first, 0, 1)
    return np.stack([first, np.minimum(first + 1, in_size - 1)]), np.stack([1 - frac, frac])


def _cubic_weights(t):
    """Keys' cubic convolution weights of the 4 taps at distances 1 + t, t, 1 - t, 2 - t."""
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return (far(t + 1), near(t), near(1 - t), far(2 - t))


def _cubic(precision, in_size, out_size, scale, align_corners) -> tuple:
    src = _source(precision, in_size, out_size, scale, align_corners, cubic=True)
    base = np.floor(src).astype(np.int64)
    # border taps read the edge value (PyTorch's upsample_get_value_bounded)
    taps = [np.clip(base + offset, 0, in_size - 1) for offset in (-1, 0, 1, 2)]
    return np.stack(taps), np.stack(_cubic_weights(src - base))


def _area(in_size, out_size) -> tuple:
    """Adaptive average pooling bins, padded to the longest with zero-weight taps."""
    bins = _bins(in_size, out_size)
    width = max(end - start for start, end in bins)
    index = np.zeros((width, out_size), np.int64)
    weight = np.zeros((width, out_size))
    for column, (start, end) in enumerate(bins):
        index[:end - start, column] = np.arange(start, end)
        index[end - start:, column] = start
        weight[:end - start, column] = 1.0 / (end - start)
    return index, weight


def _antialiased(mode, precision, in_size, out_size, scale, align_corners) -> tuple:
    """PyTorch's antialiased taps (as Pillow): the triangle or the cubic (A = -0.5) filter
    widened by the downscaling ratio, its weights normalised to sum 1; padded to the widest
    window with zero-weight taps."""
    ratio = float(_ratio(precision, in_size, out_size, scale, align_corners))
    taps = 4 if mode == "bicubic" else 2
    support = taps * 0.5 * ratio if ratio >= 1.0 else taps * 0.5
    inverse = 1.0 / ratio if ratio >= 1.0 else 1.0
    width = int(math.ceil(support)) * 2 + 1
    center = ratio * (np.arange(out_size) + 0.5)
    first = np.maximum(np.trunc(center - support + 0.5), 0).astype(np.int64)
    count = np.clip(np.minimum(np.trunc(center + support + 0.5), in_size) - first, 0, width)
    offsets = np.arange(width)[:, None]
    valid = offsets < count
    distance = np.abs((offsets + first - center + 0.5) * inverse)
    if mode == "bicubic":
        a = -0.5
        near = ((a + 2) * distance - (a + 3)) * distance * distance + 1
        far = ((a * distance - 5 * a) * distance + 8 * a) * distance - 4 * a
        weight = np.where(distance < 1, near, np.where(distance < 2, far, 0.0))
    else:
        weight = np.maximum(1 - distance, 0.0)
    weight = np.where(valid, weight, 0.0)
    total = weight.sum(axis=0)
    weight = np.where(total != 0, weight / np.where(total != 0, total, 1), weight)
    index = np.where(valid, offsets + first, np.minimum(first, in_size - 1))
    return index, weight


def _axis_taps(mode, precision, in_size, out_size, scale, align_corners) -> tuple:
    """One axis' interpolation as taps: source indices (taps, out_size) and their float64
    weights (taps, out_size), or None for weights all one (nearest)."""
    if mode in ("nearest", "nearest-exact"):
        return _nearest(precision, in_size, out_size, scale, exact=mode == "nearest-exact")
    if mode == "area":
        return _area(in_size, out_size)
    if mode == "bicubic":
        return _cubic(precision, in_size, out_size, scale, align_corners)
    return _linear(precision, in_size, out_size, scale, align_corners)


def _resample_axis(input: Tensor, axis: int, index, weight, padded: bool) -> Tensor:
    """The taps ``index`` (taps, out) along ``axis`` summed with ``weight``.

    For finite input of size up to ``_DENSE_LIMIT`` as one product with the dense
    ``(in, out)`` matrix (BLAS beats gathering and, in the backward, scatter-adding that many
    taps); otherwise, and for nearest, by ``index_select`` of every tap and a weighted sum,
    whose cost does not grow with the input size. Either way the backward is the transpose.
    """
    xp, dtype = xp_of(input._array), input._array.dtype
    moved = input.movedim(axis, -1)
    taps, out_size = index.shape
    # Only finite input goes through the product: 0 * inf would spread NaN along the row. On a
    # GPU, where checking would wait for it, the taps are gathered.
    if weight is not None and moved.shape[-1] <= _DENSE_LIMIT and xp is np and \
            bool(np.isfinite(input._array).all()):
        matrix = np.zeros((moved.shape[-1], out_size))
        np.add.at(matrix, (index, np.broadcast_to(np.arange(out_size), index.shape)), weight)
        resampled = moved @ Tensor(xp.asarray(matrix, dtype=dtype))
    else:
        gathered = moved.index_select(-1, Tensor(xp.asarray(index.reshape(-1))))
        gathered = gathered.reshape(*moved.shape[:-1], taps, out_size)
        if padded:  # zero-weight padding taps must add 0 even where they read inf
            gathered = gathered.masked_fill(Tensor(xp.asarray(weight == 0)), 0.0)
        resampled = gathered.squeeze(-2) if weight is None else \
            (gathered * Tensor(xp.asarray(weight, dtype=dtype))).sum(-2)
    return resampled.movedim(-1, axis)


def _check_mode(input: Tensor, mode: str, align_corners) -> None:
    if mode not in _MODES:
        raise NotImplementedError(f"interpolate: unknown mode {mode!r}, expected one of "
                                  f"{' | '.join(_MODES)}")
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(
            f"interpolate: Input Error: Only 3D, 4D and 5D input Tensors supported (got "
            f"{input.ndim}D, shape {tuple(input.shape)}) for the modes: {' | '.join(_MODES)} "
            f"(got {mode})"
        )
    needed = _MODE_DIMS.get(mode)
    if needed is not None and input.ndim != needed + 2:
        raise NotImplementedError(f"interpolate: Got {input.ndim}D input of shape "
                                  f"{tuple(input.shape)}, but {mode} mode needs {needed + 2}D "
                                  "input")
    if align_corners is not None and mode not in _MODE_DIMS:
        raise ValueError("interpolate: align_corners option can only be set with the "
                         "interpolating modes: linear | bilinear | bicubic | trilinear")
    if input._array.dtype.kind != "f" and mode not in ("nearest", "nearest-exact"):
        raise RuntimeError(f"interpolate: {mode} mode expects a floating point input, got "
                           f"{input.dtype} (integer input is resampled by the nearest modes "
                           "only)")


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resizes ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` input, as
    ``torch.nn.functional.interpolate`` (same index rules, bicubic with A = -0.75 and edge
    values repeated past the border).

    Args:
        size: the output's spatial size (an int for every axis, or one per axis).
        scale_factor: multiplier of the spatial size (output size ``floor(in * scale)``); the
            index rules use ``1 / scale_factor`` unless ``recompute_scale_factor`` is True.
        mode: ``'nearest'``, ``'nearest-exact'``, ``'linear'`` (3-D), ``'bilinear'`` and
            ``'bicubic'`` (4-D), ``'trilinear'`` (5-D) or ``'area'`` (adaptive average pooling).
        align_corners: for the linear modes and bicubic: map corner pixel centres onto each
            other (True) or corner pixel edges (False, the default).
        antialias: for ``'bilinear'`` and ``'bicubic'`` on 4-D input: when downscaling, widen
            the filter by the scale (as Pillow and PyTorch), so every input pixel counts.

    Example:
        >>> F.interpolate(ember.tensor([[[1.0, 2.0]]]), scale_factor=2, mode="linear")
        tensor([[[1.0000, 1.2500, 1.7500, 2.0000]]])
    """
    _check_mode(input, mode, align_corners)
    if antialias and not (mode in ("bilinear", "bicubic") and input.ndim == 4):
        raise ValueError(f"interpolate: Anti-alias option is restricted to bilinear and bicubic "
                         f"modes and requires a 4-D tensor as input, got mode {mode!r} and "
                         f"input of shape {tuple(input.shape)}")
    sizes, scales = _output_sizes(input, size, scale_factor, recompute_scale_factor)
    in_sizes = tuple(input.shape[2:])
    if min(sizes) <= 0 or min(in_sizes) <= 0:
        raise RuntimeError(f"interpolate: Input and output sizes should be greater than 0, but "
                           f"got input {in_sizes} and output {sizes}")
    dtype = input._array.dtype
    precision = np.float64 if dtype == np.float64 else np.float32  # PyTorch's opmath type
    # (PyTorch's nearest index rule computes in float for integer input too)
    out = input
    for axis, (n_in, n_out, scale) in enumerate(zip(in_sizes, sizes, scales), start=2):
        if (mode in ("nearest", "nearest-exact") and scale in (None, 1.0) or antialias) and \
                n_in == n_out:
            continue  # (PyTorch's antialiased kernel skips an axis whose size is kept too)
        taps = _antialiased if antialias else _axis_taps
        index, weight = taps(mode, precision, n_in, n_out, scale, bool(align_corners))
        out = _resample_axis(out, axis, index, weight, padded=antialias or mode == "area")
    return out


def _deprecated(name: str) -> None:
    warnings.warn(f"`nn.functional.{name}` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=3)


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None, recompute_scale_factor: bool | None = None
             ) -> Tensor:
    """Deprecated alias of ``interpolate`` (as in PyTorch, with its warning)."""
    _deprecated("upsample")
    return interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """``interpolate(..., mode='nearest')`` (deprecated in PyTorch, with its warning)."""
    _deprecated("upsample_nearest")
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """``interpolate(..., mode='bilinear', align_corners=True)`` (deprecated in PyTorch, with
    its warning)."""
    _deprecated("upsample_bilinear")
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
