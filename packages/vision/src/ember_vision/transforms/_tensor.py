"""Image operations on tensors of shape (..., C, H, W), written with Ember ops.

Every function keeps the tensor on its device. Geometry (resampling weights, source coordinates
of a rotation, padding indices) is planned on the host with numpy, where it is small (one row or
column of indices per output pixel line), and applied on the device with matmul / index_select.
Integer images are computed in float32 and rounded back, as torchvision does.
"""

from __future__ import annotations

import functools
import math

import numpy as np

import ember
from ember import Tensor

_GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601-2 luma, torchvision's coefficients


def dimensions(img: Tensor) -> list[int]:
    """[C, H, W] of a (..., C, H, W) tensor (C is 1 for a 2-d (H, W) tensor)."""
    if img.dim() < 2:
        raise TypeError(f"Tensor is not an image: expected at least 2 dimensions (H, W), "
                        f"got shape {tuple(img.shape)}")
    channels = 1 if img.dim() == 2 else img.shape[-3]
    return [channels, img.shape[-2], img.shape[-1]]


def _bound(img: Tensor) -> float:
    """The largest value of an image's dtype: 1.0 for float, 255 for uint8..."""
    return 1.0 if img.is_floating_point() else float(ember.iinfo(img.dtype).max)


def _to_float(img: Tensor) -> Tensor:
    return img if img.is_floating_point() else img.to(ember.float32)


def _cast_back(result: Tensor, dtype) -> Tensor:
    """A float result back to ``dtype``: integers are rounded and clamped to the dtype's range."""
    if result.dtype == dtype:
        return result
    info = ember.iinfo(dtype)
    return result.round().clamp(info.min, info.max).to(dtype)


def _host_index(indices: np.ndarray, like: Tensor) -> Tensor:
    return ember.tensor(np.ascontiguousarray(indices, dtype=np.int64), device=like.device)


def _channel_values(fill, channels: int, like: Tensor) -> Tensor:
    """``fill`` (a number or one number per channel) as a (C, 1, 1) tensor like ``like``."""
    values = [float(fill)] if isinstance(fill, (int, float)) else [float(f) for f in fill]
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise ValueError(f"fill has {len(values)} values but the image has {channels} channels")
    return ember.tensor(values, dtype=like.dtype, device=like.device).reshape(channels, 1, 1)


# ---- geometry ----------------------------------------------------------------------------------


def crop(img: Tensor, top: int, left: int, height: int, width: int) -> Tensor:
    """The window [top, top + height) x [left, left + width); outside the image is zero."""
    _, h, w = dimensions(img)
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        padding = [max(-left + min(0, right), 0), max(-top + min(0, bottom), 0),
                   max(right - max(w, left), 0), max(bottom - max(h, top), 0)]
        return pad(img[..., max(top, 0):bottom, max(left, 0):right], padding, 0, "constant")
    return img[..., top:bottom, left:right]


def pad(img: Tensor, padding: list[int], fill, padding_mode: str) -> Tensor:
    """Pads by ``padding`` = [left, top, right, bottom] in one of torchvision's four modes."""
    left, top, right, bottom = padding
    if padding_mode == "constant":
        if isinstance(fill, (int, float)):
            return ember.pad(img, (left, right, top, bottom), value=fill)
        channels = dimensions(img)[0]
        canvas = ember.pad(img, (left, right, top, bottom), value=0)
        inside = ember.pad(ember.ones_like(img, dtype=ember.bool), (left, right, top, bottom),
                           value=False)
        return ember.where(inside, canvas, _channel_values(fill, channels, img))
    # Edge, reflect and symmetric padding all pick existing rows and columns: numpy's pad of an
    # index range gives exactly which ones, for any of the three modes.
    numpy_mode = {"edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}[padding_mode]
    _, h, w = dimensions(img)
    rows = np.pad(np.arange(h), (top, bottom), mode=numpy_mode)
    cols = np.pad(np.arange(w), (left, right), mode=numpy_mode)
    return img.index_select(-2, _host_index(rows, img)).index_select(-1, _host_index(cols, img))


def hflip(img: Tensor) -> Tensor:
    return img.flip(-1)


def vflip(img: Tensor) -> Tensor:
    return img.flip(-2)


def _cubic(x: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel with parameter ``a`` (support 2)."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


@functools.lru_cache(maxsize=256)  # a pipeline resizes to the same few sizes over and over
def _resize_matrix(in_size: int, out_size: int, mode: str, antialias: bool) -> np.ndarray:
    """The (out_size, in_size) matrix that resamples one axis.

    Without antialiasing it reproduces ``interpolate(align_corners=False)``; with it, Pillow's
    resampling (the kernel widened by the downscaling factor, weights renormalised at the
    borders), which torchvision's ``antialias=True`` also follows.
    """
    scale = in_size / out_size
    matrix = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    if mode == "nearest":
        matrix[rows, np.minimum(np.floor(rows * scale).astype(np.int64), in_size - 1)] = 1.0
        return matrix
    if antialias:
        kernel, support = ((lambda x: np.maximum(1.0 - np.abs(x), 0.0)), 1.0) \
            if mode == "bilinear" else ((lambda x: _cubic(x, -0.5)), 2.0)
        stretch = max(scale, 1.0)
        centers = (rows + 0.5) * scale
        low = np.maximum(np.trunc(centers - support * stretch + 0.5), 0)[:, None]
        high = np.minimum(np.trunc(centers + support * stretch + 0.5), in_size)[:, None]
        source = np.arange(in_size)[None, :]
        weights = kernel((source - centers[:, None] + 0.5) / stretch)
        weights = np.where((source >= low) & (source < high), weights, 0.0)
        totals = weights.sum(axis=1, keepdims=True)
        return weights / np.where(totals == 0, 1.0, totals)
    source = (rows + 0.5) * scale - 0.5
    if mode == "bilinear":
        source = np.maximum(source, 0.0)
        offsets = np.array([0, 1])
    else:
        offsets = np.array([-1, 0, 1, 2])
    first = np.floor(source).astype(np.int64)
    taps = first[:, None] + offsets[None, :]
    distance = source[:, None] - taps
    weights = np.maximum(1.0 - np.abs(distance), 0.0) if mode == "bilinear" \
        else _cubic(distance, -0.75)
    # Taps beyond the border read the edge pixel (index clamping), so their weights add up there.
    np.add.at(matrix, (np.repeat(rows, len(offsets)), np.clip(taps, 0, in_size - 1).ravel()),
              weights.ravel())
    return matrix


def resize(img: Tensor, size: list[int], mode: str, antialias: bool) -> Tensor:
    """Resamples the last two dims to ``size`` = [height, width] (one matmul per axis)."""
    _, h, w = dimensions(img)
    out_h, out_w = size
    if mode == "nearest":
        rows = np.minimum(np.floor(np.arange(out_h) * (h / out_h)), h - 1)
        cols = np.minimum(np.floor(np.arange(out_w) * (w / out_w)), w - 1)
        return img.index_select(-2, _host_index(rows, img)).index_select(-1, _host_index(cols, img))
    work = _to_float(img)
    along_h = ember.tensor(_resize_matrix(h, out_h, mode, antialias), dtype=work.dtype,
                           device=img.device)
    along_w = ember.tensor(_resize_matrix(w, out_w, mode, antialias).T, dtype=work.dtype,
                           device=img.device)
    result = ember.matmul(ember.matmul(along_h, work), along_w)
    return result if img.is_floating_point() else _cast_back(result, img.dtype)


def _rotation(angle: float) -> np.ndarray:
    """The 2x2 map from output to input coordinates of a counter-clockwise turn (y down)."""
    theta = math.radians(angle)
    return np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])


def rotation_size(turn: np.ndarray, pivot: np.ndarray, w: int, h: int) -> tuple[int, int]:
    """(width, height) of the canvas holding the whole turned image, torchvision's rule (which
    follows Pillow's): the turned corners' bounding box, widened to whole pixels."""
    corners = np.array([[-0.5 * w, -0.5 * h], [-0.5 * w, 0.5 * h], [0.5 * w, 0.5 * h],
                        [0.5 * w, -0.5 * h]])
    turned = (corners - pivot) @ turn.T + pivot + np.array([0.5 * w, 0.5 * h])
    # Snap to 1e-4 first: float noise (cos 90 = 6e-17) must not widen the canvas by a pixel.
    high = np.ceil(np.round(turned.max(axis=0) * 1e4) / 1e4)
    low = np.floor(np.round(turned.min(axis=0) * 1e4) / 1e4)
    width, height = high - low
    return int(width), int(height)


def rotate(img: Tensor, angle: float, mode: str, expand: bool, center, fill) -> Tensor:
    """Rotates counter-clockwise by ``angle`` degrees about ``center`` ((x, y) in pixels, the
    image centre by default); pixels from outside the image are ``fill`` (0 when None)."""
    channels, h, w = dimensions(img)
    turn = _rotation(angle)
    # The pivot relative to the image centre, in pixel-edge coordinates as Pillow's.
    pivot = np.zeros(2) if center is None else np.array([center[0] - 0.5 * w, center[1] - 0.5 * h])
    out_w, out_h = rotation_size(turn, pivot, w, h) if expand else (w, h)
    # Each output pixel centre, relative to the output centre, is turned back onto the input.
    x = np.arange(out_w) + 0.5 - 0.5 * out_w - pivot[0]
    y = (np.arange(out_h) + 0.5 - 0.5 * out_h - pivot[1])[:, None]
    source_x = turn[0, 0] * x + turn[0, 1] * y + pivot[0] + 0.5 * w - 0.5
    source_y = turn[1, 0] * x + turn[1, 1] * y + pivot[1] + 0.5 * h - 0.5
    return _sample(img, source_x, source_y, mode, fill, channels)


def _sample(img: Tensor, source_x: np.ndarray, source_y: np.ndarray, mode: str, fill,
            channels: int) -> Tensor:
    """Reads ``img`` at the (out_h, out_w) grid of source coordinates (pixel indices)."""
    _, h, w = dimensions(img)
    out_h, out_w = source_x.shape
    flat = img.reshape(*img.shape[:-2], h * w)

    def gather(cols: np.ndarray, rows: np.ndarray) -> tuple[Tensor, np.ndarray]:
        inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
        index = np.where(inside, rows * w + cols, 0).ravel()
        values = flat.index_select(-1, _host_index(index, img))
        return values.reshape(*img.shape[:-2], out_h, out_w), inside

    if mode == "nearest":
        values, inside = gather(np.rint(source_x).astype(np.int64),
                                np.rint(source_y).astype(np.int64))
        outside_fill = 0 if fill is None else fill
        inside_mask = ember.tensor(inside, device=img.device)
        return ember.where(inside_mask, values, _channel_values(outside_fill, channels, img))
    work = _to_float(img)
    flat = work.reshape(*work.shape[:-2], h * w)
    left, top = np.floor(source_x), np.floor(source_y)
    result, coverage = None, np.zeros((out_h, out_w))
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        weight = (1 - np.abs(source_x - left - dx)) * (1 - np.abs(source_y - top - dy))
        values, inside = gather((left + dx).astype(np.int64), (top + dy).astype(np.int64))
        weight = np.where(inside, weight, 0.0)
        coverage += weight
        term = values * ember.tensor(weight, dtype=work.dtype, device=img.device)
        result = term if result is None else result + term
    if fill is not None:
        # torchvision's blend of the zero-padded sample with the fill by the sampled coverage.
        mask = ember.tensor(coverage, dtype=work.dtype, device=img.device)
        result = result * mask + (1.0 - mask) * _channel_values(fill, channels, work)
    return _cast_back(result, img.dtype) if not img.is_floating_point() else result


# ---- colour ------------------------------------------------------------------------------------


def _check_channels(img: Tensor, allowed: tuple[int, ...], name: str) -> int:
    channels = dimensions(img)[0]
    if channels not in allowed:
        raise TypeError(f"{name}: input image tensor permitted channel values are {list(allowed)}, "
                        f"but found {channels}")
    return channels


def rgb_to_grayscale(img: Tensor, num_output_channels: int) -> Tensor:
    """Luma of an RGB (or the copy of a 1-channel) image, with 1 or 3 equal channels."""
    if _check_channels(img, (1, 3), "rgb_to_grayscale") == 3:
        red, green, blue = img.unbind(-3)
        luma = _GRAY_WEIGHTS[0] * red + _GRAY_WEIGHTS[1] * green + _GRAY_WEIGHTS[2] * blue
        gray = luma.to(img.dtype).unsqueeze(-3)  # integers truncate, as torchvision's .to()
    else:
        gray = img.clone()
    if num_output_channels == 3:
        return gray.expand(*gray.shape[:-3], 3, *gray.shape[-2:]).clone()
    return gray


def _blend(img: Tensor, other, ratio: float) -> Tensor:
    bound = _bound(img)
    return (ratio * img + (1.0 - ratio) * other).clamp(0, bound).to(img.dtype)


def adjust_brightness(img: Tensor, factor: float) -> Tensor:
    _check_channels(img, (1, 3), "adjust_brightness")
    return _blend(img, 0.0, factor)


def adjust_contrast(img: Tensor, factor: float) -> Tensor:
    channels = _check_channels(img, (1, 3), "adjust_contrast")
    gray = rgb_to_grayscale(img, 1) if channels == 3 else img
    mean = _to_float(gray).mean(dim=(-3, -2, -1), keepdim=True)
    return _blend(img, mean, factor)


def adjust_saturation(img: Tensor, factor: float) -> Tensor:
    if _check_channels(img, (1, 3), "adjust_saturation") == 1:
        return img
    return _blend(img, rgb_to_grayscale(img, 1), factor)


def _rgb_to_hsv(img: Tensor) -> Tensor:
    red, green, blue = img.unbind(-3)
    high = img.max(-3).values
    low = img.min(-3).values
    flat = high == low  # grey pixels: hue and saturation are 0
    ones = ember.ones_like(high)
    chroma = high - low
    saturation = chroma / ember.where(flat, ones, high)
    divisor = ember.where(flat, ones, chroma)
    red_c, green_c, blue_c = [(high - channel) / divisor for channel in (red, green, blue)]
    is_red, is_green = high == red, high == green
    hue = (is_red * (blue_c - green_c)
           + (is_green & ~is_red) * (2.0 + red_c - blue_c)
           + (~is_green & ~is_red) * (4.0 + green_c - red_c))
    hue = ember.remainder(hue / 6.0 + 1.0, 1.0)
    return ember.stack([hue, saturation, high], -3)


def _hsv_to_rgb(img: Tensor) -> Tensor:
    hue, saturation, value = img.unbind(-3)
    sector = ember.floor(hue * 6.0)
    fraction = hue * 6.0 - sector
    sector = sector.to(ember.int64) % 6
    p = (value * (1.0 - saturation)).clamp(0.0, 1.0)
    q = (value * (1.0 - saturation * fraction)).clamp(0.0, 1.0)
    t = (value * (1.0 - saturation * (1.0 - fraction))).clamp(0.0, 1.0)
    # One-hot over the six hue sectors picks each channel's value per pixel.
    sectors = ember.arange(6, device=img.device).reshape(6, 1, 1)
    pick = (sector.unsqueeze(-3) == sectors).to(img.dtype)
    orders = ((value, q, p, p, t, value), (t, value, value, q, p, p), (p, p, t, value, value, q))
    channels = [(pick * ember.stack(order, -3)).sum(-3) for order in orders]
    return ember.stack(channels, -3)


def adjust_hue(img: Tensor, factor: float) -> Tensor:
    if _check_channels(img, (1, 3), "adjust_hue") == 1:
        return img
    dtype = img.dtype
    work = img if img.is_floating_point() else img.to(ember.float32) / 255.0
    hsv = _rgb_to_hsv(work)
    hue, saturation, value = hsv.unbind(-3)
    rgb = _hsv_to_rgb(ember.stack([ember.remainder(hue + factor, 1.0), saturation, value], -3))
    if img.is_floating_point():
        return rgb
    # torchvision's float -> uint8 conversion: scale by 256 - eps and truncate.
    return (rgb * (256.0 - 1e-3)).to(dtype)
