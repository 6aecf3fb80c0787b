"""F.interpolate, nn.Upsample and friends, F.pixel_shuffle / pixel_unshuffle, against scalar
loops written from PyTorch's documented index rules, with gradchecks."""

import math

import numpy as np
import pytest
from module_harness import ModuleCase, check_module

import ember
import ember.nn.functional as F
from ember import nn
from harness import OpCase, check_op


def _source(dst, in_size, out_size, scale, align_corners, clamp):
    """PyTorch's area_pixel_compute_source_index for one output index, in Python floats."""
    if align_corners:
        return dst * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    ratio = 1.0 / scale if scale else in_size / out_size
    src = ratio * (dst + 0.5) - 0.5
    return max(src, 0.0) if clamp else src


def _cubic(x, a=-0.75):
    x = abs(x)
    if x <= 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2:
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return 0.0


def _taps(mode, dst, in_size, out_size, scale, align_corners):
    """[(source index, weight)] of one output position along one axis."""
    if mode in ("nearest", "nearest-exact"):
        ratio = 1.0 / scale if scale else in_size / out_size
        shift = 0.5 if mode == "nearest-exact" else 0.0
        return [(min(math.floor((dst + shift) * ratio), in_size - 1), 1.0)]
    if mode == "area":
        start, end = math.floor(dst * in_size / out_size), math.ceil((dst + 1) * in_size / out_size)
        return [(i, 1.0 / (end - start)) for i in range(start, end)]
    if mode == "bicubic":
        src = _source(dst, in_size, out_size, scale, align_corners, clamp=False)
        base = math.floor(src)
        return [(min(max(base + k, 0), in_size - 1), _cubic(src - (base + k)))
                for k in (-1, 0, 1, 2)]
    src = _source(dst, in_size, out_size, scale, align_corners, clamp=True)
    low = math.floor(src)
    frac = src - low
    return [(low, 1 - frac), (min(low + 1, in_size - 1), frac)]


def reference(x, size, mode, align_corners=False, scales=None):
    """Each output element as the sum over the product of its per-axis taps."""
    spatial = x.shape[2:]
    scales = scales or (None,) * len(spatial)
    out = np.zeros(x.shape[:2] + tuple(size))
    for position in np.ndindex(*size):
        per_axis = [_taps(mode, d, n, o, s, align_corners)
                    for d, n, o, s in zip(position, spatial, size, scales)]
        for combo in np.ndindex(*[len(t) for t in per_axis]):
            source = tuple(per_axis[a][k][0] for a, k in enumerate(combo))
            weight = np.prod([per_axis[a][k][1] for a, k in enumerate(combo)])
            out[(..., *position)] += weight * x[(..., *source)]
    return out


def _random(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, size=shape)


@pytest.mark.parametrize("mode,shape,size", [
    ("nearest", (2, 3, 5), (8,)), ("nearest", (1, 2, 5, 4), (3, 7)),
    ("nearest", (1, 1, 3, 4, 2), (5, 2, 3)), ("nearest-exact", (1, 2, 5, 4), (3, 7)),
    ("linear", (2, 3, 5), (9,)), ("linear", (1, 2, 6), (4,)),
    ("bilinear", (2, 2, 4, 5), (7, 3)), ("bicubic", (1, 2, 4, 5), (7, 3)),
    ("bicubic", (1, 1, 6, 3), (2, 8)), ("trilinear", (1, 2, 3, 4, 2), (5, 3, 4)),
    ("area", (1, 2, 7, 5), (3, 4)), ("area", (2, 1, 5), (3,)),
])
@pytest.mark.parametrize("align_corners", [False, True])
def test_interpolate_size_matches_loops(mode, shape, size, align_corners):
    if align_corners and mode in ("nearest", "nearest-exact", "area"):
        return
    x = _random(*shape)
    kwargs = {"align_corners": align_corners} if mode not in ("nearest", "nearest-exact",
                                                               "area") else {}
    out = F.interpolate(ember.tensor(x), size=size, mode=mode, **kwargs)
    np.testing.assert_allclose(out.numpy(), reference(x, size, mode, align_corners), atol=1e-12)
    out32 = F.interpolate(ember.tensor(x, dtype=ember.float32), size=size, mode=mode, **kwargs)
    assert out32.dtype == ember.float32
    np.testing.assert_allclose(out32.numpy(), reference(x, size, mode, align_corners),
                               atol=1e-5)


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_scale_factor_uses_its_reciprocal_unless_recomputed(mode):
    x = _random(1, 2, 5, 4)
    out_size = (math.floor(5 * 1.7), math.floor(4 * 2.5))
    given = F.interpolate(ember.tensor(x), scale_factor=(1.7, 2.5), mode=mode).numpy()
    np.testing.assert_allclose(given, reference(x, out_size, mode, scales=(1.7, 2.5)),
                               atol=1e-12)
    recomputed = F.interpolate(ember.tensor(x), scale_factor=(1.7, 2.5), mode=mode,
                               recompute_scale_factor=True).numpy()
    np.testing.assert_allclose(recomputed, reference(x, out_size, mode), atol=1e-12)
    assert not np.allclose(given, recomputed)  # 1 / 1.7 differs from 5 / 8


def test_values_quoted_in_pytorch_upsample_docs():
    x = ember.arange(1, 5, dtype=ember.float32).view(1, 1, 2, 2)
    np.testing.assert_array_equal(
        nn.Upsample(scale_factor=2, mode="nearest")(x).numpy()[0, 0],
        [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    np.testing.assert_allclose(
        nn.Upsample(scale_factor=2, mode="bilinear")(x).numpy()[0, 0],
        [[1.0, 1.25, 1.75, 2.0], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5],
         [3.0, 3.25, 3.75, 4.0]], rtol=1e-6)
    np.testing.assert_allclose(
        nn.UpsamplingBilinear2d(scale_factor=2)(x).numpy()[0, 0],
        [[1.0, 4 / 3, 5 / 3, 2.0], [5 / 3, 2.0, 7 / 3, 8 / 3], [7 / 3, 8 / 3, 3.0, 10 / 3],
         [3.0, 10 / 3, 11 / 3, 4.0]], rtol=1e-6)


def _interp(**kwargs):
    return lambda x: F.interpolate(x, **kwargs)


GRAD_CASES = [
    OpCase("interpolate", fn=_interp(size=(3, 5), mode="bilinear"), shapes=[(1, 2, 2, 3)],
           ref=lambda x: reference(x, (3, 5), "bilinear"), id="bilinear"),
    OpCase("interpolate", fn=_interp(size=(3, 4), mode="bicubic", align_corners=True),
           shapes=[(1, 1, 3, 2)], ref=lambda x: reference(x, (3, 4), "bicubic", True),
           id="bicubic-align"),
    OpCase("interpolate", fn=_interp(scale_factor=2, mode="nearest"), shapes=[(1, 2, 3)],
           ref=lambda x: reference(x, (6,), "nearest"), id="nearest"),
    OpCase("interpolate", fn=_interp(size=(2, 2, 3), mode="trilinear"), shapes=[(1, 1, 3, 2, 2)],
           ref=lambda x: reference(x, (2, 2, 3), "trilinear"), id="trilinear"),
    OpCase("interpolate", fn=_interp(size=2, mode="area"), shapes=[(1, 1, 5, 3)],
           ref=lambda x: reference(x, (2, 2), "area"), id="area"),
    OpCase("pixel_shuffle", ref=lambda x, upscale_factor: _shuffle_loop(x, upscale_factor),
           shapes=[(2, 8, 2, 3), (4, 1, 2)], kwargs={"upscale_factor": 2}, method=False),
    OpCase("pixel_unshuffle",
           ref=lambda x, downscale_factor: _unshuffle_loop(x, downscale_factor),
           shapes=[(1, 2, 4, 6)], kwargs={"downscale_factor": 2}, method=False),
]


def _shuffle_loop(x, r):
    *lead, c, h, w = x.shape
    out = np.zeros((*lead, c // (r * r), h * r, w * r))
    for ch, i, j in np.ndindex(c // (r * r), h * r, w * r):
        out[..., ch, i, j] = x[..., ch * r * r + (i % r) * r + j % r, i // r, j // r]
    return out


def _unshuffle_loop(x, r):
    *lead, c, h, w = x.shape
    out = np.zeros((*lead, c * r * r, h // r, w // r))
    for ch, i, j in np.ndindex(c * r * r, h // r, w // r):
        base, offset = divmod(ch, r * r)
        out[..., ch, i, j] = x[..., base, i * r + offset // r, j * r + offset % r]
    return out


@pytest.mark.parametrize("case", GRAD_CASES, ids=str)
def test_op_cases(case, device):
    check_op(case, device)


MODULES = [
    ModuleCase("Upsample-bilinear", lambda: nn.Upsample(size=(3, 4), mode="bilinear"),
               shapes=[(1, 2, 2, 2)], output_shape=(1, 2, 3, 4)),
    ModuleCase("UpsamplingNearest2d", lambda: nn.UpsamplingNearest2d(scale_factor=2),
               shapes=[(1, 1, 2, 3)], output_shape=(1, 1, 4, 6)),
    ModuleCase("UpsamplingBilinear2d", lambda: nn.UpsamplingBilinear2d(size=3),
               shapes=[(1, 1, 2, 2)], output_shape=(1, 1, 3, 3)),
    ModuleCase("PixelShuffle", lambda: nn.PixelShuffle(2), shapes=[(1, 4, 2, 2)],
               output_shape=(1, 1, 4, 4)),
    ModuleCase("PixelUnshuffle", lambda: nn.PixelUnshuffle(2), shapes=[(1, 1, 4, 2)],
               output_shape=(1, 4, 2, 1)),
]


@pytest.mark.parametrize("case", MODULES, ids=str)
def test_modules(case, device):
    check_module(case, device)


@pytest.mark.parametrize("mode,size", [("bilinear", (3, 5)), ("bicubic", (4, 3)),
                                       ("area", (2, 2))])
def test_gathered_taps_match_the_dense_product(mode, size, monkeypatch):
    """Large inputs take the gather path: the same values and gradients (forced here)."""
    from ember.nn.functional import upsampling

    x = _random(1, 2, 3, 4)
    dense = F.interpolate(ember.tensor(x), size=size, mode=mode).numpy()
    monkeypatch.setattr(upsampling, "_DENSE_LIMIT", 0)
    gathered = F.interpolate(ember.tensor(x), size=size, mode=mode).numpy()
    np.testing.assert_allclose(gathered, dense, atol=1e-12)
    np.testing.assert_allclose(gathered, reference(x, size, mode), atol=1e-12)
    ember.autograd.gradcheck(lambda t: F.interpolate(t, size=size, mode=mode),
                             [ember.tensor(x, requires_grad=True)])
    ember.autograd.gradgradcheck(lambda t: F.interpolate(t, size=size, mode=mode),
                                 [ember.tensor(x, requires_grad=True)])


def _antialiased_loop(x, size, mode, align_corners=False):
    """PyTorch's antialiased resampling (as Pillow's), axis by axis, one output at a time."""
    def filter_(t):
        t = abs(t)
        if mode == "bilinear":
            return max(1 - t, 0.0)
        return _cubic(t, a=-0.5)

    out = x
    for axis, out_size in zip((2, 3), size):
        in_size = out.shape[axis]
        if in_size == out_size:
            continue
        ratio = ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0) if align_corners \
            else in_size / out_size
        support = (2 if mode == "bilinear" else 4) * 0.5 * max(ratio, 1.0)
        inverse = 1 / ratio if ratio >= 1 else 1.0
        moved = np.moveaxis(out, axis, -1)
        result = np.zeros(moved.shape[:-1] + (out_size,))
        for i in range(out_size):
            center = ratio * (i + 0.5)
            first = max(int(center - support + 0.5), 0)
            last = min(int(center + support + 0.5), in_size)
            weights = [filter_((j - center + 0.5) * inverse) for j in range(first, last)]
            for j, weight in zip(range(first, last), weights):
                result[..., i] += weight / sum(weights) * moved[..., j]
        out = np.moveaxis(result, -1, axis)
    return out


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("size,align", [((3, 2), False), ((2, 7), False), ((4, 3), True)])
def test_antialias_matches_loops(mode, size, align):
    x = _random(2, 2, 9, 5)
    out = F.interpolate(ember.tensor(x), size=size, mode=mode, antialias=True,
                        align_corners=align)
    np.testing.assert_allclose(out.numpy(), _antialiased_loop(x, size, mode, align),
                               atol=1e-12)
    ember.autograd.gradcheck(
        lambda t: F.interpolate(t, size=size, mode=mode, antialias=True, align_corners=align),
        [ember.tensor(x[:1, :1], requires_grad=True)])


def test_antialias_downscaling_averages_and_upscaling_is_plain_bilinear():
    x = ember.arange(4.0, dtype=ember.float64).reshape(1, 1, 1, 4)
    # center 1 of the 2x-wide triangle: taps 0, 1, 2 weighted 3/7, 3/7, 1/7
    np.testing.assert_allclose(
        F.interpolate(x, size=(1, 2), mode="bilinear", antialias=True).numpy().ravel(),
        [5 / 7, 3 - 5 / 7])
    y = ember.tensor(_random(1, 2, 3, 4))
    np.testing.assert_allclose(
        F.interpolate(y, size=(7, 9), mode="bilinear", antialias=True).numpy(),
        F.interpolate(y, size=(7, 9), mode="bilinear").numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="Anti-alias option is restricted"):
        F.interpolate(ember.zeros(1, 1, 4), size=2, mode="linear", antialias=True)


def test_nearest_resamples_integer_input():
    labels = np.arange(12).reshape(1, 1, 3, 4)
    out = F.interpolate(ember.tensor(labels), size=(5, 7), mode="nearest")
    assert out.dtype == ember.int64
    np.testing.assert_array_equal(out.numpy(), reference(labels, (5, 7), "nearest"))
    with pytest.raises(RuntimeError, match="bilinear mode expects a floating point input"):
        F.interpolate(ember.tensor(labels), size=(5, 7), mode="bilinear")


def test_a_non_finite_value_stays_local():
    x = np.zeros((1, 1, 4, 6))
    x[0, 0, 0, 0] = np.inf
    out = F.interpolate(ember.tensor(x), size=(8, 12), mode="bilinear").numpy()[0, 0]
    assert np.isinf(out[0, 0]) and not np.isnan(out).any()
    np.testing.assert_array_equal(out[4:, 4:], 0.0)
    pooled = F.interpolate(ember.tensor(x), size=(3, 4), mode="area").numpy()[0, 0]
    assert np.isinf(pooled[0, 0]) and not np.isnan(pooled).any()
    np.testing.assert_array_equal(pooled[1:, 1:], 0.0)


def test_deprecated_aliases_warn_and_agree():
    x = ember.tensor(_random(1, 1, 2, 3))
    with pytest.warns(UserWarning, match="nn.functional.upsample` is deprecated"):
        out = F.upsample(x, scale_factor=2, mode="bilinear")
    np.testing.assert_array_equal(out.numpy(),
                                  F.interpolate(x, scale_factor=2, mode="bilinear").numpy())
    with pytest.warns(UserWarning, match="upsample_nearest` is deprecated"):
        out = F.upsample_nearest(x, size=(4, 5))
    np.testing.assert_array_equal(out.numpy(), F.interpolate(x, size=(4, 5)).numpy())
    with pytest.warns(UserWarning, match="upsample_bilinear` is deprecated"):
        out = F.upsample_bilinear(x, scale_factor=2)
    np.testing.assert_array_equal(out.numpy(), nn.UpsamplingBilinear2d(scale_factor=2)(x).numpy())


def test_shuffle_round_trip_and_repr():
    x = ember.randn(2, 3, 8, 6)
    np.testing.assert_array_equal(F.pixel_shuffle(F.pixel_unshuffle(x, 2), 2).numpy(),
                                  x.numpy())
    assert repr(nn.PixelShuffle(3)) == "PixelShuffle(upscale_factor=3)"
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert repr(nn.Upsample(size=4, mode="bilinear")) == "Upsample(size=4, mode='bilinear')"


@pytest.mark.parametrize("call,error,words", [
    (lambda x: F.interpolate(x, size=4, scale_factor=2), ValueError, "only one of size"),
    (lambda x: F.interpolate(x), ValueError, "either size or scale_factor"),
    (lambda x: F.interpolate(x, size=(2, 3, 4)), ValueError, "same number of spatial"),
    (lambda x: F.interpolate(x, size=4, mode="linear"), NotImplementedError,
     "linear mode needs 3D"),
    (lambda x: F.interpolate(x, size=4, align_corners=True), ValueError, "align_corners option"),
    (lambda x: F.interpolate(x, size=4, mode="cubic"), NotImplementedError, "unknown mode"),
    (lambda x: F.interpolate(x[0, 0], size=4), NotImplementedError, "Only 3D, 4D and 5D"),
    (lambda x: F.interpolate(x, scale_factor=0.1), RuntimeError, "greater than 0"),
    (lambda x: F.interpolate(x, size=3, recompute_scale_factor=True), ValueError,
     "not meaningful"),
    (lambda x: F.pixel_shuffle(x, 2), RuntimeError, "input.size(-3)=3 is not divisible by 4"),
    (lambda x: F.pixel_unshuffle(x, 2), RuntimeError, "input.size(-1)=5 is not divisible by 2"),
    (lambda x: F.pixel_shuffle(x[0, 0], 1), RuntimeError, "at least 3 dimensions"),
    (lambda x: F.pixel_shuffle(x, 0), RuntimeError, "positive upscale_factor"),
])
def test_errors_as_pytorch(call, error, words):
    with pytest.raises(error, match=None) as info:
        call(ember.zeros(1, 3, 4, 5))
    assert words in str(info.value)


def test_super_resolution_pattern_conv_then_pixel_shuffle_learns():
    """The PyTorch super-resolution example's pattern: convolutions producing r^2 channels,
    then PixelShuffle(r); here learning 2x nearest upscaling, which it can represent exactly."""
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(8, 4, 3, padding=1), nn.PixelShuffle(2))
    optimizer = ember.optim.Adam(model.parameters(), lr=0.01)
    images = ember.rand(8, 1, 6, 6)
    target = F.interpolate(images, scale_factor=2, mode="nearest")
    losses = []
    for _ in range(150):
        optimizer.zero_grad()
        loss = F.mse_loss(model(images), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert model(images).shape == (8, 1, 12, 12)
    assert losses[-1] < 0.05 * losses[0]
