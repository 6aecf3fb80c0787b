"""Resampling: ``interpolate`` (nearest, nearest-exact, linear, bilinear, bicubic, trilinear,
area), ``upsample*`` aliases, ``pixel_shuffle`` and ``pixel_unshuffle``.

Every interpolation mode is separable: along each spatial axis the output is a fixed linear map
of the input, a matrix ``(out, in)`` of PyTorch's gather indices and weights. Applying the
matrices axis after axis with ``matmul`` makes the forward a weighted sum of gathered values and
its backward the transpose (scatter-add of the weighted gradients), differentiable at any order.
"""

from __future__ import annotations

import math

import numpy as np

from ember.backend import xp_of
from ember.ops.pooling import _bins
from ember.tensor.tensor import Tensor

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
#: the modes that need an exact number of spatial dimensions
_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_CUBIC_A = -0.75  # PyTorch's bicubic coefficient (as in OpenCV)


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


def _nearest(matrix, precision, in_size, scale, exact: bool) -> None:
    """``src = min(floor((dst [+ 0.5]) * ratio), in - 1)``, in the input's float precision."""
    ratio = _ratio(precision, in_size, matrix.shape[0], scale, False)
    dst = np.arange(matrix.shape[0], dtype=precision) + precision(0.5 if exact else 0.0)
    src = np.minimum(np.floor(dst * ratio).astype(np.int64), in_size - 1)
    matrix[np.arange(matrix.shape[0]), src] = 1.0


def _source(precision, in_size, out_size, scale, align_corners, cubic: bool):
    """PyTorch's ``area_pixel_compute_source_index`` for every output position."""
    ratio = _ratio(precision, in_size, out_size, scale, align_corners)
    dst = np.arange(out_size, dtype=precision)
    if align_corners:
        return dst * ratio
    src = ratio * (dst + precision(0.5)) - precision(0.5)
    return src if cubic else np.maximum(src, 0)


def _linear(matrix, precision, in_size, scale, align_corners) -> None:
    out_size = matrix.shape[0]
    src = _source(precision, in_size, out_size, scale, align_corners, cubic=False)
    first = np.floor(src).astype(np.int64)
    second = np.minimum(first + 1, in_size - 1)
    frac = np.clip(src - first, 0, 1)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, first), 1 - frac)
    np.add.at(matrix, (rows, second), frac)


def _cubic_weights(t):
    """Keys' cubic convolution weights of the 4 taps at distances 1 + t, t, 1 - t, 2 - t."""
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return (far(t + 1), near(t), near(1 - t), far(2 - t))


def _cubic(matrix, precision, in_size, scale, align_corners) -> None:
    out_size = matrix.shape[0]
    src = _source(precision, in_size, out_size, scale, align_corners, cubic=True)
    base = np.floor(src).astype(np.int64)
    rows = np.arange(out_size)
    for offset, weight in zip((-1, 0, 1, 2), _cubic_weights(src - base)):
        # border taps read the edge value (PyTorch's upsample_get_value_bounded)
        np.add.at(matrix, (rows, np.clip(base + offset, 0, in_size - 1)), weight)


def _area(matrix, in_size) -> None:
    for row, (start, end) in enumerate(_bins(in_size, matrix.shape[0])):
        matrix[row, start:end] = 1.0 / (end - start)


def _axis_matrix(mode, precision, in_size, out_size, scale, align_corners):
    """The (out_size, in_size) float64 matrix of one axis' interpolation."""
    matrix = np.zeros((out_size, in_size))
    if mode in ("nearest", "nearest-exact"):
        _nearest(matrix, precision, in_size, scale, exact=mode == "nearest-exact")
    elif mode == "area":
        _area(matrix, in_size)
    elif mode == "bicubic":
        _cubic(matrix, precision, in_size, scale, align_corners)
    else:
        _linear(matrix, precision, in_size, scale, align_corners)
    return matrix


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
    if input._array.dtype.kind != "f":
        raise RuntimeError(f"interpolate: expected a floating point input, got {input.dtype}")


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
        antialias: not supported (only False).

    Example:
        >>> F.interpolate(ember.tensor([[[1.0, 2.0]]]), scale_factor=2, mode="linear")
        tensor([[[1.0000, 1.2500, 1.7500, 2.0000]]])
    """
    _check_mode(input, mode, align_corners)
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported by Ember")
    sizes, scales = _output_sizes(input, size, scale_factor, recompute_scale_factor)
    in_sizes = tuple(input.shape[2:])
    if min(sizes) <= 0 or min(in_sizes) <= 0:
        raise RuntimeError(f"interpolate: Input and output sizes should be greater than 0, but "
                           f"got input {in_sizes} and output {sizes}")
    dtype = input._array.dtype
    precision = np.float64 if dtype == np.float64 else np.float32  # PyTorch's opmath type
    xp = xp_of(input._array)
    out = input
    for axis, (n_in, n_out, scale) in enumerate(zip(in_sizes, sizes, scales), start=2):
        if mode in ("nearest", "nearest-exact") and n_in == n_out and scale in (None, 1.0):
            continue
        matrix = _axis_matrix(mode, precision, n_in, n_out, scale, bool(align_corners))
        weights = Tensor(xp.asarray(matrix, dtype=dtype))
        out = (out.movedim(axis, -1) @ weights.mT).movedim(-1, axis)
    return out


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of ``interpolate`` (as in PyTorch)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """``interpolate(..., mode='nearest')`` (deprecated in PyTorch)."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """``interpolate(..., mode='bilinear', align_corners=True)`` (deprecated in PyTorch)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
