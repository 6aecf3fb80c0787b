"""F.grid_sample and F.affine_grid against scalar loops written from PyTorch's grid sampler
(unnormalise, clip / reflect, bilinear, nearest and bicubic taps), with gradchecks in the
input and the grid."""

import math

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from harness import OpCase, check_op


def _unnormalize(coord, size, align):
    return (coord + 1) / 2 * (size - 1) if align else ((coord + 1) * size - 1) / 2


def _reflect(x, twice_low, twice_high):
    if twice_low == twice_high:
        return 0.0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    x = abs(x - low)
    extra, flips = math.fmod(x, span), math.floor(x / span)
    return extra + low if flips % 2 == 0 else span - extra + low


def _pad(x, size, padding_mode, align):
    if padding_mode == "reflection":
        x = _reflect(x, 0, 2 * (size - 1)) if align else _reflect(x, -1, 2 * size - 1)
    if padding_mode in ("border", "reflection"):
        x = min(size - 1, max(x, 0))
    return x


def _cubic(x, a=-0.75):
    x = abs(x)
    if x <= 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a if x < 2 else 0.0


def grid_sample_loop(image, grid, mode="bilinear", padding_mode="zeros", align=False):
    n, c, h, w = image.shape
    out = np.zeros((n, c, grid.shape[1], grid.shape[2]))

    def value(b, row, col):
        if 0 <= row < h and 0 <= col < w:
            return image[b, :, row, col]
        return np.zeros(c)

    for b, i, j in np.ndindex(n, grid.shape[1], grid.shape[2]):
        x = _unnormalize(grid[b, i, j, 0], w, align)
        y = _unnormalize(grid[b, i, j, 1], h, align)
        if mode == "bicubic":
            x0, y0 = math.floor(x), math.floor(y)
            for dy, dx in np.ndindex(4, 4):
                col, row = x0 - 1 + dx, y0 - 1 + dy
                if padding_mode != "zeros":
                    col = int(_pad(col, w, padding_mode, align))
                    row = int(_pad(row, h, padding_mode, align))
                out[b, :, i, j] += value(b, row, col) * _cubic(x - (x0 - 1 + dx)) * \
                    _cubic(y - (y0 - 1 + dy))
            continue
        x, y = _pad(x, w, padding_mode, align), _pad(y, h, padding_mode, align)
        if mode == "nearest":
            out[b, :, i, j] = value(b, int(np.rint(y)), int(np.rint(x)))
            continue
        x0, y0 = math.floor(x), math.floor(y)
        for row, col in ((y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)):
            weight = (1 - abs(x - col)) * (1 - abs(y - row))
            out[b, :, i, j] += weight * value(b, row, col)
    return out


def _inputs(shape, grid_hw):
    def make(rng, shapes, dtype):
        image = rng.uniform(-2, 2, size=shape)
        # coordinates beyond [-1, 1] exercise the padding modes; kept off the kinks
        grid = rng.uniform(-1.6, 1.6, size=(shape[0], *grid_hw, 2))
        return [image.astype(dtype), grid.astype(dtype)]
    return make


def _case(mode, padding, align):
    return OpCase(
        "grid_sample", arity=2, shapes=[((), ())], inputs=_inputs((2, 1, 3, 3), (2, 2)),
        fn=lambda x, g: F.grid_sample(x, g, mode=mode, padding_mode=padding, align_corners=align),
        ref=lambda x, g: grid_sample_loop(x, g, mode, padding, align),
        gradgrad=False, id=f"{mode}-{padding}-{align}")


CASES = [_case(*options) for options in [
    ("bilinear", "zeros", False), ("bilinear", "zeros", True), ("bilinear", "border", False),
    ("bilinear", "reflection", False), ("bilinear", "reflection", True),
    ("bicubic", "zeros", False), ("bicubic", "border", True), ("bicubic", "reflection", False),
]]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_grid_sample(case, device):
    check_op(case, device)


@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_nearest(padding, align, device):
    image, grid = _inputs((2, 3, 4, 5), (3, 2))(np.random.default_rng(3), None, "float64")
    image_t = ember.tensor(image, device=device, requires_grad=True)
    out = F.grid_sample(image_t, ember.tensor(grid, device=device), mode="nearest",
                        padding_mode=padding, align_corners=align)
    np.testing.assert_allclose(out.detach().cpu().numpy(),
                               grid_sample_loop(image, grid, "nearest", padding, align))
    ember.autograd.gradcheck(
        lambda x: F.grid_sample(x, ember.tensor(grid, device=device), mode="nearest",
                                padding_mode=padding, align_corners=align), [image_t])


def grid_sample_3d_loop(volume, grid, mode="bilinear", padding_mode="zeros", align=False):
    n, c, d, h, w = volume.shape
    out = np.zeros((n, c, *grid.shape[1:4]))

    def value(b, z, y, x):
        if 0 <= z < d and 0 <= y < h and 0 <= x < w:
            return volume[b, :, z, y, x]
        return np.zeros(c)

    for b, i, j, k in np.ndindex(n, *grid.shape[1:4]):
        x, y, z = (_pad(_unnormalize(grid[b, i, j, k, axis], size, align), size, padding_mode,
                        align) for axis, size in enumerate((w, h, d)))
        if mode == "nearest":
            out[b, :, i, j, k] = value(b, int(np.rint(z)), int(np.rint(y)), int(np.rint(x)))
            continue
        x0, y0, z0 = math.floor(x), math.floor(y), math.floor(z)
        for dz, dy, dx in np.ndindex(2, 2, 2):
            weight = (1 - abs(x - x0 - dx)) * (1 - abs(y - y0 - dy)) * (1 - abs(z - z0 - dz))
            out[b, :, i, j, k] += weight * value(b, z0 + dz, y0 + dy, x0 + dx)
    return out


@pytest.mark.parametrize("mode,padding,align", [
    ("bilinear", "zeros", False), ("bilinear", "border", True),
    ("bilinear", "reflection", False), ("nearest", "zeros", True),
    ("nearest", "reflection", False),
])
def test_grid_sample_5d(mode, padding, align, device):
    rng = np.random.default_rng(7)
    volume, grid = rng.uniform(-2, 2, (2, 2, 3, 2, 3)), rng.uniform(-1.5, 1.5, (2, 2, 1, 2, 3))
    case = OpCase("grid_sample", arity=2, shapes=[((), ())], gradgrad=False,
                  inputs=lambda rng, shapes, dtype: [volume.astype(dtype), grid.astype(dtype)],
                  fn=lambda x, g: F.grid_sample(x, g, mode=mode, padding_mode=padding,
                                                align_corners=align),
                  ref=lambda x, g: grid_sample_3d_loop(x, g, mode, padding, align),
                  grad=mode == "bilinear")
    check_op(case, device)


def test_bilinear_second_order_in_input_and_grid():
    image, grid = _inputs((1, 1, 3, 3), (2, 2))(np.random.default_rng(5), None, "float64")
    tensors = [ember.tensor(image, requires_grad=True), ember.tensor(grid, requires_grad=True)]
    ember.autograd.gradgradcheck(
        lambda x, g: F.grid_sample(x, g, align_corners=False), tensors, atol=1e-5, rtol=1e-3)


def affine_grid_loop(theta, size, align):
    n, _, h, w = size

    def base(steps):
        if steps <= 1:
            return np.zeros(1)
        values = np.linspace(-1, 1, steps)
        return values if align else values * (steps - 1) / steps

    xs, ys = base(w), base(h)
    out = np.zeros((n, h, w, 2))
    for b, i, j in np.ndindex(n, h, w):
        out[b, i, j] = theta[b] @ np.array([xs[j], ys[i], 1.0])
    return out


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (1, 1, 1, 3)])
def test_affine_grid(align, size, device):
    case = OpCase("affine_grid", shapes=[(size[0], 2, 3)], gradgrad=True,
                  fn=lambda theta: F.affine_grid(theta, size, align_corners=align),
                  ref=lambda theta: affine_grid_loop(theta, size, align))
    check_op(case, device)


def test_affine_grid_3d_is_the_affine_map_of_voxel_centres():
    theta = np.random.default_rng(0).normal(size=(2, 3, 4))
    grid = F.affine_grid(ember.tensor(theta), (2, 1, 2, 3, 4), align_corners=False).numpy()
    assert grid.shape == (2, 2, 3, 4, 3)
    x, y, z = (np.linspace(-1, 1, 4) * 3 / 4)[3], (np.linspace(-1, 1, 3) * 2 / 3)[1], 0.5
    np.testing.assert_allclose(grid[1, 1, 1, 3], theta[1] @ [x, y, z, 1.0])


@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (2, 2, 3, 4, 2)])
def test_identity_transform_reproduces_the_image(shape):
    image = ember.randn(*shape, dtype=ember.float64)
    dims = len(shape) - 2
    theta = ember.tensor(np.eye(dims, dims + 1)[None].repeat(2, 0))
    for align in (False, True):
        grid = F.affine_grid(theta, image.shape, align_corners=align)
        for mode in ("bilinear", "nearest", "bicubic")[:5 - dims]:
            out = F.grid_sample(image, grid, mode=mode, align_corners=align)
            np.testing.assert_allclose(out.numpy(), image.numpy(), atol=1e-12)


def test_align_corners_none_warns_as_pytorch():
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(ember.zeros(1, 1, 2, 2), ember.zeros(1, 1, 1, 2))
    with pytest.warns(UserWarning, match="affine_grid"):
        F.affine_grid(ember.zeros(1, 2, 3), (1, 1, 2, 2))


@pytest.mark.parametrize("call,error,words", [
    (lambda: F.grid_sample(ember.zeros(1, 1, 2, 2), ember.zeros(1, 1, 1, 2), mode="area",
                           align_corners=False), ValueError, "expected mode to be"),
    (lambda: F.grid_sample(ember.zeros(1, 1, 2, 2), ember.zeros(1, 1, 1, 2),
                           padding_mode="wrap", align_corners=False), ValueError,
     "expected padding_mode"),
    (lambda: F.grid_sample(ember.zeros(1, 1, 2, 2), ember.zeros(1, 1, 1, 3),
                           align_corners=False), RuntimeError, "size 2 in last dimension"),
    (lambda: F.grid_sample(ember.zeros(2, 1, 2, 2), ember.zeros(1, 1, 1, 2),
                           align_corners=False), RuntimeError, "same batch size"),
    (lambda: F.grid_sample(ember.zeros(1, 2, 2), ember.zeros(1, 1, 1, 2), align_corners=False),
     RuntimeError, "expected 4D or 5D input"),
    (lambda: F.grid_sample(ember.zeros(1, 1, 2, 2, 2), ember.zeros(1, 1, 1, 1, 2),
                           align_corners=False), RuntimeError, "size 3 in last dimension"),
    (lambda: F.grid_sample(ember.zeros(1, 1, 2, 2, 2), ember.zeros(1, 1, 1, 1, 3),
                           mode="bicubic", align_corners=False), RuntimeError,
     "bicubic interpolation only supports 4D input"),
    (lambda: F.affine_grid(ember.zeros(1, 2, 3), (1, 1, 2), align_corners=False),
     NotImplementedError, "only supports 4D and 5D sizes"),
    (lambda: F.affine_grid(ember.zeros(2, 2, 3), (1, 1, 2, 2), align_corners=False),
     ValueError, "Nx2x3 for size (1, 1, 2, 2). Got (2, 2, 3)"),
    (lambda: F.affine_grid(ember.zeros(1, 2, 3, dtype=ember.int64), (1, 1, 2, 2),
                           align_corners=False), ValueError, "floating point"),
])
def test_errors_as_pytorch(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)
