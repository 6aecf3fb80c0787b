"""Functional image transforms, as ``torchvision.transforms.functional``.

Each function takes a PIL image or an Ember tensor of shape (..., C, H, W) (a batch of images
shares the same operation) and returns the same kind of image. Tensors stay on their device.
Pixel values of float tensors are in [0, 1]; uint8 tensors hold [0, 255].

Example:
    >>> img = ember.rand(3, 8, 6)
    >>> resize(img, [4, 3]).shape
    (3, 4, 3)
    >>> to_tensor(to_pil_image(img)).shape
    (3, 8, 6)
"""

from __future__ import annotations

import enum
import numbers
from collections.abc import Sequence

import numpy as np
from PIL import Image

import ember
from ember import Tensor
from ember_vision.transforms import _pil, _tensor

__all__ = [
    "InterpolationMode", "adjust_brightness", "adjust_contrast", "adjust_hue",
    "adjust_saturation", "center_crop", "crop", "get_dimensions", "get_image_num_channels",
    "get_image_size", "hflip", "normalize", "pad", "pil_to_tensor", "resize", "resized_crop",
    "rgb_to_grayscale", "rotate", "to_grayscale", "to_pil_image", "to_tensor", "vflip",
]


class InterpolationMode(enum.Enum):
    """How pixels are interpolated when an image is resampled (torchvision's names)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"  # PIL images only
    HAMMING = "hamming"  # PIL images only
    LANCZOS = "lanczos"  # PIL images only


_TENSOR_MODES = ("nearest", "bilinear", "bicubic")


def _mode_name(interpolation, op_name: str) -> str:
    if isinstance(interpolation, InterpolationMode):
        return interpolation.value
    if isinstance(interpolation, str) and interpolation in InterpolationMode._value2member_map_:
        return interpolation
    raise TypeError(f"{op_name}: interpolation should be an InterpolationMode, got "
                    f"{interpolation!r}")


def _backend(img, op_name: str):
    """The module implementing ``op_name`` for ``img``: ``_tensor`` or ``_pil``."""
    if isinstance(img, Tensor):
        return _tensor
    if isinstance(img, Image.Image):
        return _pil
    raise TypeError(f"{op_name}: img should be a PIL Image or an ember Tensor, got {type(img)}")


def _tensor_mode(interpolation, img, op_name: str) -> str:
    mode = _mode_name(interpolation, op_name)
    if isinstance(img, Tensor) and mode not in _TENSOR_MODES:
        raise ValueError(f"{op_name}: interpolation {mode!r} is only supported for PIL images; "
                         f"tensors support {list(_TENSOR_MODES)}")
    return mode


# ---- sizes and conversions -----------------------------------------------------------------------


def get_dimensions(img) -> list[int]:
    """[channels, height, width] of an image."""
    return _backend(img, "get_dimensions").dimensions(img)


def get_image_num_channels(img) -> int:
    return get_dimensions(img)[0]


def get_image_size(img) -> list[int]:
    """[width, height] of an image (torchvision's order for this function)."""
    _, height, width = get_dimensions(img)
    return [width, height]


# 16-bit images widen to int32: Ember has no uint16 and int16 would wrap values above 32767.
_PIL_MODE_DTYPES = {"I": np.int32, "I;16": np.int32, "F": np.float32}


def _pil_array(pic: Image.Image) -> np.ndarray:
    """The pixels of a PIL image as an (H, W, C) array of the mode's natural dtype."""
    array = np.array(pic, dtype=_PIL_MODE_DTYPES.get(pic.mode, np.uint8), copy=True)
    if pic.mode == "1":
        array = array * np.uint8(255)
    return array.reshape(pic.size[1], pic.size[0], len(pic.getbands()))


def pil_to_tensor(pic: Image.Image) -> Tensor:
    """A PIL image as a (C, H, W) tensor of its own dtype (uint8 for 'L', 'RGB'...), unscaled."""
    if not isinstance(pic, Image.Image):
        raise TypeError(f"pil_to_tensor: pic should be a PIL Image, got {type(pic)}")
    return ember.from_numpy(np.ascontiguousarray(_pil_array(pic).transpose(2, 0, 1)))


def to_tensor(pic) -> Tensor:
    """A PIL image or an (H, W[, C]) ndarray as a (C, H, W) tensor; uint8 scales to [0, 1] floats.

    Example:
        >>> to_tensor(np.full((2, 2, 3), 255, dtype=np.uint8)).shape
        (3, 2, 2)
    """
    if isinstance(pic, Image.Image):
        array = _pil_array(pic)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_tensor: pic should be 2/3 dimensional. Got {pic.ndim} "
                             "dimensions.")
        array = pic[:, :, None] if pic.ndim == 2 else pic
    else:
        raise TypeError(f"to_tensor: pic should be PIL Image or ndarray. Got {type(pic)}")
    img = ember.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
    if img.dtype == ember.uint8:
        return img.to(ember.get_default_dtype()).div(255)
    return img


_PIL_MODES_BY_CHANNELS = {2: ("LA",), 3: ("RGB", "YCbCr", "HSV"), 4: ("RGBA", "CMYK", "RGBX")}
_SINGLE_CHANNEL_MODES = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16",
                         np.dtype(np.int32): "I", np.dtype(np.float32): "F"}


def to_pil_image(pic, mode: str | None = None) -> Image.Image:
    """A (C, H, W) tensor or an (H, W, C) ndarray as a PIL image.

    Floats (in [0, 1]) become uint8 unless ``mode`` is 'F'; values outside [0, 1] are clipped
    (torchvision lets them wrap around). The mode follows from the channels and dtype when None:
    1 channel 'L' (uint8) / 'I;16' / 'I' / 'F', 2 'LA', 3 'RGB', 4 'RGBA'.
    """
    if isinstance(pic, Tensor):
        if pic.dim() not in (2, 3):
            raise ValueError(f"to_pil_image: pic should be 2/3 dimensional. Got {pic.dim()} "
                             "dimensions.")
        pic = pic.detach().cpu()
        array = pic.numpy()
        array = array[None] if array.ndim == 2 else array
        array = array.transpose(1, 2, 0)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_pil_image: pic should be 2/3 dimensional. Got {pic.ndim} "
                             "dimensions.")
        array = pic[:, :, None] if pic.ndim == 2 else pic
    else:
        raise TypeError(f"to_pil_image: pic should be Tensor or ndarray. Got {type(pic)}.")
    channels = array.shape[2]
    if channels > 4:
        raise ValueError(f"to_pil_image: pic should not have > 4 channels. Got {channels} "
                         "channels.")
    if np.issubdtype(array.dtype, np.floating) and mode != "F":
        array = np.clip(array * 255, 0, 255).astype(np.uint8)
    if channels == 1:
        array = array[:, :, 0]
        expected = _SINGLE_CHANNEL_MODES.get(array.dtype)
        if mode is not None and mode != expected:
            raise ValueError(f"to_pil_image: incorrect mode ({mode}) supplied for input type "
                             f"{array.dtype}; should be {expected}")
        mode = expected
    else:
        permitted = _PIL_MODES_BY_CHANNELS[channels]
        if mode is not None and mode not in permitted:
            raise ValueError(f"to_pil_image: only modes {list(permitted)} are supported for "
                             f"{channels}D inputs, got {mode!r}")
        if mode is None and array.dtype == np.uint8:
            mode = permitted[0]
    if mode is None:
        raise TypeError(f"to_pil_image: input type {array.dtype} is not supported")
    return Image.fromarray(np.ascontiguousarray(array), mode=mode)


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float],
              inplace: bool = False) -> Tensor:
    """(tensor - mean) / std per channel of a float (..., C, H, W) tensor.

    Example:
        >>> normalize(ember.ones(3, 1, 1), [0.5] * 3, [0.25] * 3).flatten().tolist()
        [2.0, 2.0, 2.0]
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"normalize: img should be an ember Tensor, got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"normalize: input tensor should be a float tensor, got {tensor.dtype}")
    if tensor.dim() < 3:
        raise ValueError("normalize: expected tensor to be a tensor image of size (..., C, H, W), "
                         f"got shape {tuple(tensor.shape)}")
    mean = ember.as_tensor(mean, dtype=tensor.dtype, device=tensor.device)
    std = ember.as_tensor(std, dtype=tensor.dtype, device=tensor.device)
    if bool((std == 0).any()):
        raise ValueError(f"normalize: std evaluated to zero after conversion to {tensor.dtype}, "
                         "leading to division by zero.")
    if mean.dim() == 1:
        mean = mean.reshape(-1, 1, 1)
    if std.dim() == 1:
        std = std.reshape(-1, 1, 1)
    if inplace:
        return tensor.sub_(mean).div_(std)
    return (tensor - mean) / std


# ---- geometry ----------------------------------------------------------------------------------


def _resized_size(height: int, width: int, size, max_size: int | None) -> list[int]:
    """torchvision's output [height, width]: an int (or [int]) ``size`` sets the smaller edge."""
    if isinstance(size, numbers.Integral) or len(size) == 1:
        requested = int(size) if isinstance(size, numbers.Integral) else int(size[0])
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = requested, int(requested * long / short)
        if max_size is not None:
            if max_size <= requested:
                raise ValueError(f"resize: max_size = {max_size} must be strictly greater than "
                                 f"the requested size for the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return [new_long, new_short] if width <= height else [new_short, new_long]
    if max_size is not None:
        raise ValueError("resize: max_size should only be passed if size specifies the length of "
                         f"the smaller edge, i.e. size should be an int or a sequence of length 1; "
                         f"got size={size}")
    return [int(size[0]), int(size[1])]


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size: int | None = None,
           antialias: bool | None = True):
    """Resizes to ``size`` = [height, width], or an int: the smaller edge, keeping the aspect.

    PIL images are always antialiased (Pillow's resampling); tensors when ``antialias``.

    Example:
        >>> resize(ember.rand(1, 4, 8), 2).shape
        (1, 2, 4)
    """
    mode = _tensor_mode(interpolation, img, "resize")
    if not isinstance(size, (numbers.Integral, Sequence)) or \
            (isinstance(size, Sequence) and len(size) not in (1, 2)):
        raise TypeError(f"resize: size should be an int or a sequence of 1 or 2 ints, got {size!r}")
    backend = _backend(img, "resize")
    _, height, width = backend.dimensions(img)
    output = _resized_size(height, width, size, max_size)
    if output == [height, width]:
        return img
    if isinstance(img, Tensor):
        return _tensor.resize(img, output, mode, bool(antialias))
    return _pil.resize(img, output, mode)


def _padding_ltrb(padding) -> list[int]:
    """torchvision's padding forms (int, [all], [left/right, top/bottom], [l, t, r, b])."""
    if isinstance(padding, numbers.Integral):
        return [int(padding)] * 4
    if isinstance(padding, Sequence) and len(padding) in (1, 2, 4):
        values = [int(p) for p in padding]
        if len(values) == 1:
            return values * 4
        if len(values) == 2:
            return [values[0], values[1], values[0], values[1]]
        return values
    raise ValueError("pad: padding must be an int or a 1, 2, or 4 element sequence, got "
                     f"{padding!r}")


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """Pads the borders: ``padding`` is an int, [left/right, top/bottom] or [left, top, right,
    bottom]; ``padding_mode`` 'constant' (``fill``), 'edge', 'reflect' or 'symmetric'.

    Example:
        >>> pad(ember.ones(1, 2, 2), [1, 0]).shape
        (1, 2, 4)
    """
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("pad: padding_mode should be either constant, edge, reflect or "
                         f"symmetric, got {padding_mode!r}")
    if not isinstance(fill, (numbers.Number, tuple, list)):
        raise TypeError(f"pad: fill should be a number or a tuple/list of numbers, got {fill!r}")
    ltrb = _padding_ltrb(padding)
    if padding_mode != "constant" and min(ltrb) < 0:
        raise ValueError(f"pad: negative padding {ltrb} is only supported in constant mode")
    return _backend(img, "pad").pad(img, ltrb, fill, padding_mode)


def crop(img, top: int, left: int, height: int, width: int):
    """The window of ``height`` x ``width`` pixels at (``top``, ``left``); zeros outside."""
    return _backend(img, "crop").crop(img, int(top), int(left), int(height), int(width))


def _pair(size, op_name: str) -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) in (1, 2):
        return (int(size[0]), int(size[0])) if len(size) == 1 else (int(size[0]), int(size[1]))
    raise ValueError(f"{op_name}: please provide only two dimensions (h, w) for size, got {size!r}")


def center_crop(img, output_size):
    """The centred ``output_size`` = (h, w) (or an int) window; a larger window pads with 0."""
    crop_height, crop_width = _pair(output_size, "center_crop")
    _, height, width = get_dimensions(img)
    if crop_width > width or crop_height > height:
        img = pad(img, [(crop_width - width) // 2 if crop_width > width else 0,
                        (crop_height - height) // 2 if crop_height > height else 0,
                        (crop_width - width + 1) // 2 if crop_width > width else 0,
                        (crop_height - height + 1) // 2 if crop_height > height else 0])
        _, height, width = get_dimensions(img)
        if crop_width == width and crop_height == height:
            return img
    top = int(round((height - crop_height) / 2.0))
    left = int(round((width - crop_width) / 2.0))
    return crop(img, top, left, crop_height, crop_width)


def resized_crop(img, top: int, left: int, height: int, width: int, size,
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
    """``crop`` then ``resize`` to ``size``."""
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def hflip(img):
    """Mirrors left to right."""
    return _backend(img, "hflip").hflip(img)


def vflip(img):
    """Mirrors top to bottom."""
    return _backend(img, "vflip").vflip(img)


def rotate(img, angle: float, interpolation=InterpolationMode.NEAREST, expand: bool = False,
           center: Sequence[int] | None = None, fill=None):
    """Rotates counter-clockwise by ``angle`` degrees about ``center`` (the image centre when
    None); ``expand`` grows the canvas to hold the whole rotated image; ``fill`` colours the
    area outside the source (0 when None)."""
    mode = _tensor_mode(interpolation, img, "rotate")
    if mode not in ("nearest", "bilinear", "bicubic"):
        raise ValueError(f"rotate: interpolation {mode!r} is not supported; expected nearest, "
                         "bilinear or bicubic")
    if isinstance(img, Tensor) and mode == "bicubic":
        raise ValueError("rotate: bicubic interpolation is only supported for PIL images")
    if center is not None and (not isinstance(center, Sequence) or len(center) != 2):
        raise ValueError(f"rotate: center should be a sequence of length 2, got {center!r}")
    return _backend(img, "rotate").rotate(img, float(angle), mode, expand, center, fill)


# ---- colour ------------------------------------------------------------------------------------


def _check_factor(factor: float, op_name: str, name: str) -> None:
    if factor < 0:
        raise ValueError(f"{op_name}: {name} ({factor}) is not non-negative.")


def adjust_brightness(img, brightness_factor: float):
    """Scales intensities by ``brightness_factor`` (0 gives black, 1 the original)."""
    _check_factor(brightness_factor, "adjust_brightness", "brightness_factor")
    return _backend(img, "adjust_brightness").adjust_brightness(img, brightness_factor)


def adjust_contrast(img, contrast_factor: float):
    """Blends with the mean grey level (0 gives a uniform grey image, 1 the original)."""
    _check_factor(contrast_factor, "adjust_contrast", "contrast_factor")
    return _backend(img, "adjust_contrast").adjust_contrast(img, contrast_factor)


def adjust_saturation(img, saturation_factor: float):
    """Blends with the grey image (0 gives grey, 1 the original, 2 doubles the saturation)."""
    _check_factor(saturation_factor, "adjust_saturation", "saturation_factor")
    return _backend(img, "adjust_saturation").adjust_saturation(img, saturation_factor)


def adjust_hue(img, hue_factor: float):
    """Turns the hue by ``hue_factor`` (in [-0.5, 0.5]) of a full turn of the colour wheel."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"adjust_hue: hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    return _backend(img, "adjust_hue").adjust_hue(img, hue_factor)


def _check_output_channels(num_output_channels: int, op_name: str) -> None:
    if num_output_channels not in (1, 3):
        raise ValueError(f"{op_name}: num_output_channels should be either 1 or 3, got "
                         f"{num_output_channels}")


def rgb_to_grayscale(img, num_output_channels: int = 1):
    """Luma (0.299 R + 0.587 G + 0.114 B) with 1 or 3 equal channels."""
    _check_output_channels(num_output_channels, "rgb_to_grayscale")
    return _backend(img, "rgb_to_grayscale").rgb_to_grayscale(img, num_output_channels)


def to_grayscale(img, num_output_channels: int = 1):
    """PIL images only (as torchvision): the 'L' image, or 'RGB' with three equal bands."""
    if not isinstance(img, Image.Image):
        raise TypeError(f"to_grayscale: input should be a PIL Image, got {type(img)}; use "
                        "rgb_to_grayscale for tensors")
    _check_output_channels(num_output_channels, "to_grayscale")
    return _pil.rgb_to_grayscale(img, num_output_channels)
