"""Image operations on PIL images, through Pillow (and numpy where Pillow has no such mode)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
    "lanczos": Image.Resampling.LANCZOS,
}


def resample(mode: str, op_name: str) -> Image.Resampling:
    """Pillow's resampling filter for an interpolation mode name."""
    if mode not in _RESAMPLE:
        raise ValueError(f"{op_name}: interpolation {mode!r} is not supported for PIL images; "
                         f"expected one of {sorted(_RESAMPLE)}")
    return _RESAMPLE[mode]


def dimensions(img: Image.Image) -> list[int]:
    """[C, H, W] of a PIL image."""
    width, height = img.size
    return [len(img.getbands()), height, width]


def fill_color(fill, img: Image.Image):
    """``fill`` in the form Pillow wants for ``img``'s mode: one number or one per band."""
    if fill is None:
        return None
    bands = len(img.getbands())
    if isinstance(fill, (int, float)):
        return int(fill) if bands == 1 else tuple([int(fill)] * bands)
    fill = tuple(int(f) for f in fill)
    if len(fill) == 1:
        return fill[0] if bands == 1 else fill * bands
    if len(fill) != bands:
        raise ValueError(f"fill has {len(fill)} values but the {img.mode} image has {bands} bands")
    return fill[0] if bands == 1 else fill


def crop(img: Image.Image, top: int, left: int, height: int, width: int) -> Image.Image:
    return img.crop((left, top, left + width, top + height))


def pad(img: Image.Image, padding: list[int], fill, padding_mode: str) -> Image.Image:
    """Pads by ``padding`` = [left, top, right, bottom]; the palette of a 'P' image is kept."""
    left, top, right, bottom = padding
    if padding_mode == "constant" and img.mode != "P":
        width, height = img.size
        canvas = Image.new(img.mode, (width + left + right, height + top + bottom),
                           fill_color(fill, img))
        canvas.paste(img, (left, top))
        return canvas
    array = np.asarray(img)
    widths = [(top, bottom), (left, right)] + [(0, 0)] * (array.ndim - 2)
    if padding_mode == "constant":  # a palette image: fill is a palette index
        padded = np.pad(array, widths, mode="constant", constant_values=int(fill))
    else:
        padded = np.pad(array, widths, mode=padding_mode)
    result = Image.fromarray(padded)
    if img.mode == "P":
        result.putpalette(img.getpalette())
    return result


def hflip(img: Image.Image) -> Image.Image:
    return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def vflip(img: Image.Image) -> Image.Image:
    return img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)


def resize(img: Image.Image, size: list[int], mode: str) -> Image.Image:
    height, width = size
    return img.resize((width, height), resample(mode, "resize"))


def rotate(img: Image.Image, angle: float, mode: str, expand: bool, center, fill) -> Image.Image:
    return img.rotate(angle, resample(mode, "rotate"), expand=expand,
                      center=None if center is None else tuple(center),
                      fillcolor=fill_color(fill, img))


def rgb_to_grayscale(img: Image.Image, num_output_channels: int) -> Image.Image:
    gray = img.convert("L")
    return Image.merge("RGB", (gray, gray, gray)) if num_output_channels == 3 else gray


def _enhance(enhancer, img: Image.Image, factor: float) -> Image.Image:
    return enhancer(img).enhance(factor)


def adjust_brightness(img: Image.Image, factor: float) -> Image.Image:
    return _enhance(ImageEnhance.Brightness, img, factor)


def adjust_contrast(img: Image.Image, factor: float) -> Image.Image:
    return _enhance(ImageEnhance.Contrast, img, factor)


def adjust_saturation(img: Image.Image, factor: float) -> Image.Image:
    return _enhance(ImageEnhance.Color, img, factor)


def adjust_hue(img: Image.Image, factor: float) -> Image.Image:
    """Turns the hue by ``factor`` of a full turn, on Pillow's 8-bit HSV (wrapping around)."""
    if img.mode in ("L", "1", "I", "F"):
        return img
    hue, saturation, value = img.convert("HSV").split()
    shift = int(factor * 255) % 256  # truncates toward zero like torchvision's np.int8 cast
    turned = ((np.asarray(hue, dtype=np.int16) + shift) % 256).astype(np.uint8)
    return Image.merge("HSV", (Image.fromarray(turned), saturation, value)).convert(img.mode)
