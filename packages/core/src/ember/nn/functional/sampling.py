"""Spatial transformers: ``affine_grid`` (a sampling grid from affine matrices) and
``grid_sample`` (read an image at a grid of normalised coordinates).

``grid_sample`` is composed of differentiable ops: the coordinate arithmetic (unnormalise,
clip or reflect) on the grid, integer tap positions taken from it without gradient, and each
tap's value gathered from the input and weighted by a polynomial in the fractional position.
So both the input and the grid get gradients, as in PyTorch, at any order.
"""

from __future__ import annotations

import itertools
import warnings

from ember.backend import reading_waits, xp_of
from ember.ops.join import stack
from ember.tensor.creation import linspace, ones
from ember.tensor.tensor import Tensor

_MODES = ("bilinear", "nearest", "bicubic")
_PADDING_MODES = ("zeros", "border", "reflection")
_CUBIC_A = -0.75


def _align(align_corners, name: str) -> bool:
    if align_corners is None:
        warnings.warn(
            "Default grid_sample and affine_grid behavior has changed to align_corners=False "
            "since 1.3.0. Please specify align_corners=True if the old behavior is desired. "
            f"See the documentation of {name} for details.",
            stacklevel=3,
        )
        return False
    return bool(align_corners)


def _reflect(coord: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """Folds ``coord`` into [twice_low / 2, twice_high / 2] by reflecting at both ends."""
    if twice_low == twice_high:
        return coord * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    distance = (coord - low).abs()
    xp = xp_of(distance._array)
    flips = xp.floor(distance._array / span)
    even = flips % 2 == 0
    sign = Tensor(xp.where(even, 1.0, -1.0).astype(distance._array.dtype))
    offset = Tensor(xp.where(even, low, span + low).astype(distance._array.dtype))
    return sign * (distance - Tensor(flips * span)) + offset


def _source_coordinate(coord: Tensor, size: int, padding_mode: str, align: bool) -> Tensor:
    """Normalised [-1, 1] -> pixel coordinates, then PyTorch's border/reflection rule."""
    if align:
        coord = (coord + 1) * ((size - 1) / 2)
    else:
        coord = ((coord + 1) * size - 1) / 2
    if padding_mode == "reflection":
        coord = _reflect(coord, 0, 2 * (size - 1)) if align else _reflect(coord, -1, 2 * size - 1)
    if padding_mode in ("border", "reflection"):
        coord = coord.clamp(0, size - 1)
    return coord


def _bounded(xp, positions, sizes, padding_mode: str, align: bool):
    """(flat index, in-bounds mask) of integer taps, one position array per spatial axis of
    the input; outside the input a tap is masked (zeros) or, for bicubic with border or
    reflection, moved inside by the same padding rule."""
    if padding_mode != "zeros":
        positions = [_source_coordinate_array(xp, position, size, padding_mode, align)
                     for position, size in zip(positions, sizes)]
    inside = None
    flat = 0
    for position, size in zip(positions, sizes):
        within = (position >= 0) & (position <= size - 1)
        inside = within if inside is None else inside & within
        flat = flat * size + xp.clip(position, 0, size - 1).astype(xp.int64)
    return flat, inside


def _source_coordinate_array(xp, pixel, size, padding_mode, align):
    """The padding rule of ``_source_coordinate`` on integer pixel positions (bicubic taps)."""
    if padding_mode == "reflection":
        twice_low, twice_high = (0, 2 * (size - 1)) if align else (-1, 2 * size - 1)
        pixel = _reflect(Tensor(pixel.astype(xp.float64)), twice_low, twice_high)._array
    # clipped, then truncated to an integer as PyTorch's static_cast
    return xp.floor(xp.clip(pixel, 0, size - 1))


def _gather(input: Tensor, flat, inside) -> Tensor:
    """``input`` (N, C, *spatial) at flat positions (N, *out), zero where not ``inside``."""
    n, c = input.shape[:2]
    xp = xp_of(input._array)
    index = Tensor(xp.broadcast_to(flat.reshape(n, 1, -1), (n, c, flat[0].size)))
    values = input.reshape(n, c, -1).gather(2, index).reshape(n, c, *flat.shape[1:])
    if not reading_waits(inside) and inside.all():  # on a GPU, mask without checking
        return values
    return values * Tensor(inside[:, None].astype(input._array.dtype))


def _cubic_weights(t: Tensor) -> tuple:
    """Keys' cubic convolution weights (A = -0.75) of taps at distances 1 + t, t, 1 - t, 2 - t."""
    a = _CUBIC_A

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return (far(t + 1), near(t), near(1 - t), far(2 - t))


def _check(input: Tensor, grid: Tensor, mode: str, padding_mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if input.ndim != grid.ndim or input.ndim not in (4, 5):
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number "
                           f"of dimensions, but got input with sizes {list(input.shape)} and "
                           f"grid with sizes {list(grid.shape)}")
    dims = input.ndim - 2
    if mode == "bicubic" and dims != 2:
        raise RuntimeError(f"grid_sampler(): bicubic interpolation only supports 4D input, got "
                           f"input with sizes {list(input.shape)}")
    if grid.shape[-1] != dims:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {dims} in last "
                           f"dimension, but got grid with sizes {list(grid.shape)}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {list(input.shape)} and grid with sizes "
                           f"{list(grid.shape)}")
    if input._array.dtype != grid._array.dtype or input._array.dtype.kind != "f":
        raise RuntimeError(f"grid_sampler(): expected input and grid to have the same floating "
                           f"dtype, but got input {input.dtype} and grid {grid.dtype}")
    if min(input.shape[2:]) <= 0:
        raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial "
                           f"dimensions, but got input with sizes {list(input.shape)}")


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> Tensor:
    """Samples ``input`` (N, C, H, W) at ``grid`` (N, Ho, Wo, 2) -> (N, C, Ho, Wo), or
    (N, C, D, H, W) at (N, Do, Ho, Wo, 3) -> (N, C, Do, Ho, Wo), as
    ``torch.nn.functional.grid_sample``.

    ``grid[..., 0]`` is x (width), ``grid[..., 1]`` y (height) and ``grid[..., 2]`` z (depth),
    in [-1, 1] over the input:
    the corner pixels' centres with ``align_corners``, their outer edges without. Outside,
    ``padding_mode`` reads zeros, the border pixel, or the image reflected at its border.
    Modes: ``'bilinear'`` (trilinear on 5-D input), ``'nearest'`` (ties to even, as PyTorch)
    and ``'bicubic'`` (4-D only).
    Differentiable in ``input`` and (except ``'nearest'``) in ``grid``.

    Example:
        >>> image = ember.arange(4.0).reshape(1, 1, 2, 2)
        >>> F.grid_sample(image, ember.zeros(1, 1, 1, 2), align_corners=False).item()
        1.5
    """
    _check(input, grid, mode, padding_mode)
    align = _align(align_corners, "grid_sample")
    sizes = tuple(input.shape[2:])
    dims = len(sizes)
    xp = xp_of(input._array)
    # bicubic pads each tap rather than the coordinate (PyTorch's get_value_bounded)
    coordinate_padding = "zeros" if mode == "bicubic" else padding_mode
    # the grid's last entry is x: it indexes the input's last (width) axis
    coords = [_source_coordinate(grid[..., dims - 1 - axis], size, coordinate_padding, align)
              for axis, size in enumerate(sizes)]
    if mode == "nearest":
        flat, inside = _bounded(xp, [xp.rint(c._array) for c in coords], sizes, "zeros", align)
        return _gather(input, flat, inside)
    bases = [xp.floor(c._array) for c in coords]
    fractions = [c - Tensor(base) for c, base in zip(coords, bases)]
    if mode == "bilinear":
        offsets, weights = (0, 1), [(1 - f, f) for f in fractions]
        tap_padding = "zeros"  # the taps of clipped coordinates are inside already
    else:
        offsets, weights = (-1, 0, 1, 2), [_cubic_weights(f) for f in fractions]
        tap_padding = padding_mode  # PyTorch pads each bicubic tap on its own
    out = None
    for taps in itertools.product(range(len(offsets)), repeat=dims):
        positions = [base + offsets[tap] for base, tap in zip(bases, taps)]
        flat, inside = _bounded(xp, positions, sizes, tap_padding, align)
        weight = weights[0][taps[0]]
        for axis in range(1, dims):
            weight = weight * weights[axis][taps[axis]]
        term = _gather(input, flat, inside) * weight.unsqueeze(1)
        out = term if out is None else out + term
    return out


def _base_coordinates(steps: int, align: bool, like: Tensor) -> Tensor:
    """PyTorch's ``linspace_from_neg_one``: pixel centres in [-1, 1] (0 for a single step)."""
    if steps <= 1:
        return linspace(0, 0, 1, dtype=like.dtype, device=like.device)
    values = linspace(-1, 1, steps, dtype=like.dtype, device=like.device)
    return values if align else values * ((steps - 1) / steps)


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """Sampling grid ``(N, H, W, 2)`` of the affine maps ``theta`` ``(N, 2, 3)`` over an output
    of ``size`` ``(N, C, H, W)`` (or ``(N, D, H, W, 3)`` from ``(N, 3, 4)`` and a 5-D size), as
    ``torch.nn.functional.affine_grid``; feed it to ``grid_sample``.

    Example:
        >>> identity = ember.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
        >>> F.affine_grid(identity, (1, 1, 2, 2), align_corners=True)[0, :, :, 0]
        tensor([[-1.,  1.],
                [-1.,  1.]])
    """
    align = _align(align_corners, "affine_grid")
    size = tuple(int(s) for s in size)
    if theta._array.dtype.kind != "f":
        raise ValueError(f"affine_grid: Expected theta to have floating point type, but got "
                         f"{theta.dtype}")
    if len(size) not in (4, 5):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    dims = len(size) - 2
    expected = (size[0], dims, dims + 1)
    if tuple(theta.shape) != expected:
        raise ValueError(f"affine_grid: Expected a batch of {dims}D affine matrices of shape "
                         f"Nx{dims}x{dims + 1} for size {size}. Got {tuple(theta.shape)}.")
    if min(size) <= 0:
        raise ValueError(f"affine_grid: Expected non-zero, positive output size. Got {size}")
    spatial = size[2:]
    # (x, y[, z], 1) at every output position; x runs along the last dimension
    axes = [_base_coordinates(steps, align, theta) for steps in reversed(spatial)]
    columns = []
    for k, axis in enumerate(axes):
        shape = [1] * dims
        shape[dims - 1 - k] = spatial[dims - 1 - k]
        columns.append(axis.reshape(shape).expand(*spatial))
    columns.append(ones(spatial, dtype=theta.dtype, device=theta.device))
    base = stack(columns, dim=-1)
    grid = base.reshape(1, -1, dims + 1) @ theta.mT
    return grid.reshape(size[0], *spatial, dims)

