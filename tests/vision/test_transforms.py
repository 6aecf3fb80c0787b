"""ember_vision.transforms: conversions, geometry, colour and random transforms on PIL images and
(C, H, W) tensors, against numpy references and hand-computed values."""

import math

import numpy as np
import pytest
from PIL import Image

import ember
from ember_vision import transforms as T  # noqa: N812  (torchvision's alias)
from ember_vision.transforms import functional as F

BILINEAR, BICUBIC, NEAREST = (T.InterpolationMode.BILINEAR, T.InterpolationMode.BICUBIC,
                              T.InterpolationMode.NEAREST)


def hwc_image(height=5, width=7, channels=3, seed=0):
    """A random (H, W, C) uint8 array."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)


def chw(array):
    """(H, W, C) -> (C, H, W) numpy."""
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def as_chw(img):
    """A PIL image or a tensor as a (C, H, W) numpy array (integers as int64)."""
    if isinstance(img, Image.Image):
        img = F.pil_to_tensor(img)
    array = img.detach().cpu().numpy()
    return array.astype(np.int64) if array.dtype == np.uint8 else array


def both_kinds(array, device=None):
    """The same (H, W, C) uint8 image as a PIL image and as a uint8 (C, H, W) tensor."""
    tensor = ember.from_numpy(chw(array))
    return Image.fromarray(array), tensor if device is None else tensor.to(device)


# ---- conversions -------------------------------------------------------------------------------


def test_to_tensor_scales_uint8_and_moves_channels_first():
    array = hwc_image()
    for pic in (array, Image.fromarray(array)):
        out = T.ToTensor()(pic)
        assert out.dtype == ember.float32 and tuple(out.shape) == (3, 5, 7)
        np.testing.assert_allclose(out.numpy(), chw(array) / 255.0, rtol=1e-6)
    assert float(out[2, 4, 6]) == pytest.approx(array[4, 6, 2] / 255.0)


def test_to_tensor_gray_and_float_inputs():
    gray = hwc_image(channels=1)[:, :, 0]
    assert tuple(F.to_tensor(Image.fromarray(gray)).shape) == (1, 5, 7)
    assert tuple(F.to_tensor(gray).shape) == (1, 5, 7)
    floats = np.random.default_rng(1).random((4, 3, 2)).astype(np.float32)
    np.testing.assert_array_equal(F.to_tensor(floats).numpy(), chw(floats))  # not rescaled


def test_to_tensor_rejects_bad_input():
    with pytest.raises(TypeError, match="PIL Image or ndarray"):
        F.to_tensor([1, 2, 3])
    with pytest.raises(ValueError, match="2/3 dimensional"):
        F.to_tensor(np.zeros((1, 2, 3, 4), dtype=np.uint8))


def test_pil_to_tensor_keeps_uint8():
    array = hwc_image()
    out = T.PILToTensor()(Image.fromarray(array))
    assert out.dtype == ember.uint8
    np.testing.assert_array_equal(out.numpy(), chw(array))


def test_to_pil_image_modes_and_round_trip():
    array = hwc_image()
    pic = T.ToPILImage()(ember.from_numpy(chw(array)))
    assert pic.mode == "RGB" and pic.size == (7, 5)
    np.testing.assert_array_equal(np.asarray(pic), array)
    floats = ember.tensor([[[0.0, 0.5], [0.999, 1.0]]])
    gray = F.to_pil_image(floats)
    assert gray.mode == "L"
    np.testing.assert_array_equal(np.asarray(gray), [[0, 127], [254, 255]])  # floor(255 x)
    assert F.to_pil_image(ember.rand(4, 2, 2)).mode == "RGBA"
    assert F.to_pil_image(hwc_image(channels=2)).mode == "LA"
    with pytest.raises(ValueError, match="> 4 channels"):
        F.to_pil_image(ember.rand(5, 2, 2))
    with pytest.raises(ValueError, match="mode"):
        F.to_pil_image(ember.rand(3, 2, 2), mode="RGBA")


def test_normalize_arithmetic(device):
    x = ember.rand(2, 3, 4, 5, device=device)
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    out = T.Normalize(mean, std)(x)
    # float32 arithmetic, as the transform (float64 constants differ near cancellations)
    expected = ((x.cpu().numpy() - np.float32(mean)[:, None, None])
                / np.float32(std)[:, None, None])
    np.testing.assert_allclose(out.cpu().numpy(), expected, rtol=1e-6)
    assert out.device == x.device
    assert not np.allclose(x.cpu().numpy(), out.cpu().numpy())  # input untouched
    same = F.normalize(x, mean, std, inplace=True)
    assert same is x
    np.testing.assert_allclose(x.cpu().numpy(), expected, rtol=1e-6)


def test_normalize_errors():
    with pytest.raises(ValueError, match="zero"):
        F.normalize(ember.rand(3, 2, 2), [0.0] * 3, [1.0, 0.0, 1.0])
    with pytest.raises(TypeError, match="float"):
        F.normalize(ember.zeros(3, 2, 2, dtype=ember.uint8), [0.0] * 3, [1.0] * 3)
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        F.normalize(ember.rand(2, 2), [0.0], [1.0])


# ---- geometry ----------------------------------------------------------------------------------


def test_center_crop_coordinates(device):
    array = hwc_image(5, 7)
    for img in both_kinds(array, device):
        out = T.CenterCrop((2, 3))(img)
        # top = round((5 - 2) / 2) = 2 (half to even), left = (7 - 3) / 2 = 2
        np.testing.assert_array_equal(as_chw(out), chw(array)[:, 2:4, 2:5])
        big = as_chw(F.center_crop(img, [7, 8]))  # pads 1 row top/bottom, 0 left, 1 right
        np.testing.assert_array_equal(big[:, 1:6, 0:7], chw(array))
        assert big[:, 0].sum() == 0 and big[:, 6].sum() == 0 and big[:, :, 7].sum() == 0


def test_crop_outside_the_image_is_zero():
    array = hwc_image(4, 4)
    for img in both_kinds(array):
        out = as_chw(F.crop(img, -1, 2, 3, 4))
        expected = np.zeros((3, 3, 4), dtype=np.int64)
        expected[:, 1:, :2] = chw(array)[:, :2, 2:]
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("padding_mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad_matches_numpy(padding_mode, device):
    array = hwc_image(4, 5)
    left, top, right, bottom = 2, 1, 3, 0
    numpy_mode = {"constant": "constant"}.get(padding_mode, padding_mode)
    extra = {"constant_values": 9} if padding_mode == "constant" else {}
    expected = np.pad(chw(array), [(0, 0), (top, bottom), (left, right)], mode=numpy_mode, **extra)
    for img in both_kinds(array, device):
        out = T.Pad([left, top, right, bottom], fill=9, padding_mode=padding_mode)(img)
        np.testing.assert_array_equal(as_chw(out), expected)


def test_pad_forms_and_fill_per_channel():
    array = hwc_image(2, 3)
    for img in both_kinds(array):
        assert as_chw(F.pad(img, 1)).shape == (3, 4, 5)
        assert as_chw(F.pad(img, [1, 2])).shape == (3, 6, 5)  # [left/right, top/bottom]
        colour = as_chw(F.pad(img, 1, fill=(10, 20, 30)))
        np.testing.assert_array_equal(colour[:, 0, 0], [10, 20, 30])
    with pytest.raises(ValueError, match="padding"):
        T.Pad([1, 2, 3])
    with pytest.raises(ValueError, match="padding_mode"):
        F.pad(ember.rand(1, 2, 2), 1, padding_mode="wrap")


def test_flips(device):
    array = hwc_image()
    for img in both_kinds(array, device):
        np.testing.assert_array_equal(as_chw(F.hflip(img)), chw(array)[:, :, ::-1])
        np.testing.assert_array_equal(as_chw(F.vflip(img)), chw(array)[:, ::-1, :])
        np.testing.assert_array_equal(as_chw(T.RandomHorizontalFlip(p=1.0)(img)),
                                      chw(array)[:, :, ::-1])
        np.testing.assert_array_equal(as_chw(T.RandomVerticalFlip(p=0.0)(img)), chw(array))


def test_resize_output_sizes():
    array = hwc_image(6, 9)
    for img in both_kinds(array):
        assert as_chw(T.Resize(4)(img)).shape == (3, 4, 6)  # the smaller edge becomes 4
        assert as_chw(T.Resize([3, 5])(img)).shape == (3, 3, 5)
        assert as_chw(T.Resize(4, max_size=5)(img)).shape == (3, 3, 5)  # long edge capped
        assert F.resize(img, [6, 9]) is img
    batch = ember.rand(2, 3, 6, 9)
    assert tuple(F.resize(batch, 3).shape) == (2, 3, 3, 4)
    with pytest.raises(ValueError, match="max_size"):
        F.resize(batch, [3, 4], max_size=10)


def test_resize_bilinear_without_antialias_hand_computed():
    # Half-pixel centres: outputs sample 0, 0.25, 0.75, 1.25 -> edge clamped.
    row = ember.tensor([[[0.0, 10.0]]])
    out = F.resize(row, [1, 4], BILINEAR, antialias=False)
    np.testing.assert_allclose(out.numpy().ravel(), [0.0, 2.5, 7.5, 10.0], rtol=1e-6)
    # Downscaling without antialias reads the two nearest pixels only.
    down = F.resize(ember.tensor([[[0.0, 10.0, 20.0, 30.0]]]), [1, 2], BILINEAR, antialias=False)
    np.testing.assert_allclose(down.numpy().ravel(), [5.0, 25.0], rtol=1e-6)


def test_resize_antialias_downscale_hand_computed():
    # Scale 2 widens the triangle to support 2: weights 0.75, 0.75, 0.25 over the first three
    # pixels for output 0, renormalised by their sum.
    out = F.resize(ember.tensor([[[0.0, 10.0, 20.0, 30.0]]]), [1, 2], BILINEAR, antialias=True)
    first = (0.0 * 0.75 + 10.0 * 0.75 + 20.0 * 0.25) / 1.75
    np.testing.assert_allclose(out.numpy().ravel(), [first, 30.0 - first], rtol=1e-6)


@pytest.mark.parametrize("interpolation", [BILINEAR, BICUBIC])
@pytest.mark.parametrize("size", [[3, 4], [11, 13], [4, 12]])
def test_resize_antialias_matches_pillow_float_images(interpolation, size):
    plane = np.random.default_rng(2).random((6, 7)).astype(np.float32)
    expected = np.asarray(F.resize(Image.fromarray(plane, mode="F"), size, interpolation))
    out = F.resize(ember.from_numpy(plane[None]), size, interpolation, antialias=True)
    np.testing.assert_allclose(out.numpy()[0], expected, atol=1e-5)


def test_resize_uint8_tensor_close_to_pillow():
    array = hwc_image(9, 7)
    pic, tensor = both_kinds(array)
    out = F.resize(tensor, [4, 3])
    assert out.dtype == ember.uint8
    assert np.abs(as_chw(out) - as_chw(F.resize(pic, [4, 3]))).max() <= 1
    nearest = as_chw(F.resize(tensor, [4, 3], NEAREST))
    np.testing.assert_array_equal(nearest, chw(array)[:, [0, 2, 4, 6]][:, :, [0, 2, 4]])


def test_rotate_quarter_turns(device):
    square = hwc_image(4, 4)
    for img in both_kinds(square, device):
        np.testing.assert_array_equal(as_chw(F.rotate(img, 90)),
                                      np.rot90(chw(square), 1, axes=(1, 2)))
    tall = hwc_image(5, 3)
    for img in both_kinds(tall, device):
        out = as_chw(F.rotate(img, -90, expand=True))
        np.testing.assert_array_equal(out, np.rot90(chw(tall), -1, axes=(1, 2)))


def test_rotate_fill_and_expand_size():
    ones = ember.ones(1, 4, 4)
    out = F.rotate(ones, 45, fill=[0.5]).numpy()[0]
    assert out[0, 0] == 0.5 and out[2, 2] == 1.0  # corners come from outside the image
    assert tuple(F.rotate(ember.ones(1, 3, 5), 90, expand=True).shape) == (1, 5, 3)
    assert tuple(F.rotate(ember.ones(1, 4, 4), 45, expand=True).shape) == (1, 6, 6)
    pic = F.to_pil_image(ember.ones(3, 4, 4))
    assert F.rotate(pic, 45, expand=True).size == (6, 6)


# ---- colour ------------------------------------------------------------------------------------


def luma(array):
    return 0.2989 * array[0] + 0.587 * array[1] + 0.114 * array[2]


def test_grayscale(device):
    x = ember.rand(3, 4, 5, device=device)
    out = T.Grayscale()(x)
    np.testing.assert_allclose(out.cpu().numpy()[0], luma(x.cpu().numpy()), rtol=1e-5)
    three = F.rgb_to_grayscale(x, 3).cpu().numpy()
    assert three.shape == (3, 4, 5) and np.array_equal(three[0], three[2])
    array = hwc_image()
    pic, tensor = both_kinds(array)
    gray_pic = T.Grayscale(3)(pic)
    assert gray_pic.mode == "RGB"
    assert np.abs(as_chw(gray_pic) - as_chw(T.Grayscale(3)(tensor))).max() <= 1
    with pytest.raises(ValueError, match="num_output_channels"):
        F.rgb_to_grayscale(x, 2)


def test_adjust_brightness_contrast_saturation_hand_computed(device):
    x = ember.rand(3, 4, 5, device=device)
    ref = x.cpu().numpy()
    np.testing.assert_allclose(F.adjust_brightness(x, 1.5).cpu().numpy(),
                               np.clip(1.5 * ref, 0, 1), rtol=1e-6)
    mean = luma(ref).mean()
    np.testing.assert_allclose(F.adjust_contrast(x, 0.5).cpu().numpy(),
                               np.clip(0.5 * ref + 0.5 * mean, 0, 1), rtol=1e-5)
    np.testing.assert_allclose(F.adjust_saturation(x, 0.0).cpu().numpy(),
                               np.broadcast_to(luma(ref), ref.shape), rtol=1e-5)
    np.testing.assert_allclose(F.adjust_hue(x, 0.0).cpu().numpy(), ref, atol=1e-5)
    with pytest.raises(ValueError, match="hue_factor"):
        F.adjust_hue(x, 0.7)
    with pytest.raises(ValueError, match="brightness_factor"):
        F.adjust_brightness(x, -1)


def test_adjust_hue_turns_primaries():
    red = ember.tensor([1.0, 0.0, 0.0]).reshape(3, 1, 1)
    np.testing.assert_allclose(F.adjust_hue(red, 1 / 3).numpy().ravel(), [0, 1, 0], atol=1e-5)
    np.testing.assert_allclose(F.adjust_hue(red, -1 / 3).numpy().ravel(), [0, 0, 1], atol=1e-5)


@pytest.mark.parametrize("name, factor, tolerance", [
    ("adjust_brightness", 1.3, 1), ("adjust_contrast", 0.6, 1), ("adjust_saturation", 1.7, 1),
    ("adjust_hue", 0.2, 12),  # Pillow's hue is quantised to 256 steps
])
def test_colour_adjustments_agree_on_pil_and_tensor(name, factor, tolerance):
    pic, tensor = both_kinds(hwc_image(6, 6))
    adjust = getattr(F, name)
    out_pic, out_tensor = adjust(pic, factor), adjust(tensor, factor)
    assert out_tensor.dtype == ember.uint8
    assert np.abs(as_chw(out_pic) - as_chw(out_tensor)).max() <= tolerance


# ---- random transforms -------------------------------------------------------------------------


def window_of(out, source):
    """(top, left) of every place where ``out`` appears inside ``source`` (both (C, H, W))."""
    height, width = out.shape[-2:]
    return [(i, j) for i in range(source.shape[-2] - height + 1)
            for j in range(source.shape[-1] - width + 1)
            if np.array_equal(source[..., i:i + height, j:j + width], out)]


def test_random_crop_reproducible_and_consistent(device):
    batch = ember.rand(2, 3, 8, 9, device=device)
    crop = T.RandomCrop((4, 5))
    ember.manual_seed(7)
    first = crop(batch)
    ember.manual_seed(7)
    second = crop(batch)
    np.testing.assert_array_equal(first.cpu().numpy(), second.cpu().numpy())
    ember.manual_seed(7)
    top, left, height, width = T.RandomCrop.get_params(batch, (4, 5))
    np.testing.assert_array_equal(
        first.cpu().numpy(), batch.cpu().numpy()[..., top:top + height, left:left + width])
    # One window for every channel and every image of the batch.
    assert window_of(first.cpu().numpy(), batch.cpu().numpy()) == [(top, left)]


def test_random_crop_same_window_on_pil_and_tensor():
    array = hwc_image(8, 9)
    pic, tensor = both_kinds(array)
    ember.manual_seed(3)
    out_pic = T.RandomCrop(5)(pic)
    ember.manual_seed(3)
    out_tensor = T.RandomCrop(5)(tensor)
    np.testing.assert_array_equal(as_chw(out_pic), as_chw(out_tensor))


def test_random_crop_padding_and_errors():
    img = ember.ones(1, 3, 4)
    out = T.RandomCrop(7, padding=2)(img).numpy()
    assert out.shape == (1, 7, 7)
    assert out.sum() == 12  # all 12 pixels stay: the padded canvas is 7x8
    assert tuple(T.RandomCrop((5, 6), pad_if_needed=True)(img).shape) == (1, 5, 6)
    with pytest.raises(ValueError, match="larger than input image size"):
        T.RandomCrop(5)(img)


def test_random_resized_crop_params_and_output():
    img = ember.rand(3, 20, 30)
    ember.manual_seed(0)
    for _ in range(20):
        top, left, height, width = T.RandomResizedCrop.get_params(img, (0.25, 0.5), (0.5, 2.0))
        assert 0 <= top and top + height <= 20 and 0 <= left and left + width <= 30
        assert 0.2 <= height * width / 600 <= 0.55  # rounding of the sides
        assert 0.4 <= width / height <= 2.5
    transform = T.RandomResizedCrop(8, scale=(0.25, 0.5))
    ember.manual_seed(5)
    first = transform(img)
    ember.manual_seed(5)
    np.testing.assert_array_equal(first.numpy(), transform(img).numpy())
    assert tuple(first.shape) == (3, 8, 8)
    assert T.RandomResizedCrop((4, 6))(F.to_pil_image(img)).size == (6, 4)


def test_random_resized_crop_falls_back_to_center_crop():
    img = ember.rand(1, 10, 40)  # aspect 4 beyond ratio (1, 1), areas beyond the image
    assert T.RandomResizedCrop.get_params(img, (2.0, 3.0), (1.0, 1.0)) == (0, 15, 10, 10)


def test_random_flip_follows_the_seed():
    img = ember.rand(3, 4, 5)
    flip = T.RandomHorizontalFlip(p=0.5)
    ember.manual_seed(11)
    draws = [float(ember.rand(1).item()) < 0.5 for _ in range(8)]
    ember.manual_seed(11)
    for flipped in draws:
        out = flip(img).numpy()
        np.testing.assert_array_equal(out, img.numpy()[..., ::-1] if flipped else img.numpy())


def test_random_rotation_params_and_reproducibility():
    ember.manual_seed(0)
    angles = [T.RandomRotation.get_params((-10.0, 20.0)) for _ in range(50)]
    assert all(-10.0 <= a < 20.0 for a in angles) and len(set(angles)) == 50
    rotation = T.RandomRotation(30, interpolation=BILINEAR)
    assert rotation.degrees == (-30.0, 30.0)
    img = ember.rand(3, 6, 6)
    ember.manual_seed(4)
    first = rotation(img).numpy()
    ember.manual_seed(4)
    angle = T.RandomRotation.get_params((-30.0, 30.0))
    np.testing.assert_array_equal(first, F.rotate(img, angle, BILINEAR, fill=0).numpy())
    with pytest.raises(ValueError, match="positive"):
        T.RandomRotation(-5)


def test_color_jitter_ranges_and_params():
    jitter = T.ColorJitter(brightness=0.5, contrast=(0.5, 1.5), hue=0.1)
    assert jitter.brightness == (0.5, 1.5) and jitter.saturation is None
    assert jitter.hue == (-0.1, 0.1)
    ember.manual_seed(0)
    order, b, c, s, h = T.ColorJitter.get_params(jitter.brightness, jitter.contrast, None,
                                                 jitter.hue)
    assert sorted(order.tolist()) == [0, 1, 2, 3] and s is None
    assert 0.5 <= b < 1.5 and 0.5 <= c < 1.5 and -0.1 <= h < 0.1
    with pytest.raises(ValueError, match="non negative"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match="hue values"):
        T.ColorJitter(hue=(0.2, 0.7))


def test_color_jitter_applies_its_drawn_factors():
    img = ember.rand(3, 4, 4)
    np.testing.assert_allclose(T.ColorJitter(brightness=(0.5, 0.5))(img).numpy(),
                               F.adjust_brightness(img, 0.5).numpy())
    jitter = T.ColorJitter(brightness=0.4, saturation=0.3)
    ember.manual_seed(9)
    out = jitter(img).numpy()
    ember.manual_seed(9)
    order, b, _, s, _ = T.ColorJitter.get_params(jitter.brightness, None, jitter.saturation, None)
    expected = img
    for index in order.tolist():
        if index == 0:
            expected = F.adjust_brightness(expected, b)
        elif index == 2:
            expected = F.adjust_saturation(expected, s)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-6)


def test_compose_lambda_and_repr():
    pipeline = T.Compose([T.CenterCrop(2), T.ToTensor(), T.Lambda(lambda x: x * 2)])
    out = pipeline(Image.fromarray(hwc_image(4, 4)))
    assert tuple(out.shape) == (3, 2, 2) and float(out.max()) <= 2.0
    assert "CenterCrop(size=(2, 2))" in repr(pipeline)
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)


def test_pipeline_is_reproducible_under_manual_seed():
    pic = Image.fromarray(hwc_image(12, 12))
    pipeline = T.Compose([T.RandomResizedCrop(6), T.RandomHorizontalFlip(),
                          T.ColorJitter(0.4, 0.4, 0.4, 0.1), T.RandomRotation(15), T.ToTensor(),
                          T.Normalize([0.5] * 3, [0.5] * 3)])
    ember.manual_seed(123)
    first = [pipeline(pic).numpy() for _ in range(3)]
    ember.manual_seed(123)
    second = [pipeline(pic).numpy() for _ in range(3)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])
    assert math.isfinite(float(np.abs(first[0]).max()))
