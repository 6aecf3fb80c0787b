"""Image transforms as callable objects, as ``torchvision.transforms`` (the v1 API).

They work on PIL images and, where torchvision does, on (..., C, H, W) tensors. Random
transforms draw their parameters from Ember's default generator, once per call, and apply them
to the whole image (every channel, every image of a batch), so ``ember.manual_seed(s)`` makes a
pipeline reproducible. Each has the static ``get_params`` of torchvision.

Example:
    >>> pipeline = Compose([RandomCrop(4, padding=1), RandomHorizontalFlip(), ToTensor(),
    ...                     Normalize([0.5] * 3, [0.5] * 3)])
    >>> pipeline(F.to_pil_image(ember.rand(3, 6, 6))).shape
    (3, 4, 4)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import ember
from ember import Tensor
from ember_vision.transforms import functional as F
from ember_vision.transforms.functional import InterpolationMode

__all__ = [
    "CenterCrop", "ColorJitter", "Compose", "Grayscale", "Lambda", "Normalize", "Pad",
    "PILToTensor", "RandomCrop", "RandomHorizontalFlip", "RandomResizedCrop", "RandomRotation",
    "RandomVerticalFlip", "Resize", "ToPILImage", "ToTensor",
]


def _uniform(low: float, high: float) -> float:
    """One float drawn uniformly from [low, high) by Ember's default generator."""
    return float(ember.empty(1).uniform_(low, high).item())


def _randint(low: int, high: int) -> int:
    """One int drawn uniformly from [low, high) by Ember's default generator."""
    return int(ember.randint(low, high, size=(1,)).item())


def _size_pair(size, name: str = "size") -> tuple[int, int]:
    """An int or a sequence of one or two ints as (height, width)."""
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"Please provide only two dimensions (h, w) for {name}, got {size!r}")


class _Transform:
    """Shared ``__repr__``: the class name and the listed constructor arguments."""

    _repr_fields: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._repr_fields)
        return f"{type(self).__name__}({fields})"


class Compose(_Transform):
    """Applies ``transforms`` one after the other."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img):
        for transform in self.transforms:
            img = transform(img)
        return img

    def __repr__(self) -> str:
        lines = "".join(f"\n    {transform}" for transform in self.transforms)
        return f"{type(self).__name__}({lines}\n)"


class Lambda(_Transform):
    """Wraps a user function ``lambd(img)`` as a transform."""

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)


class ToTensor(_Transform):
    """PIL image or (H, W, C) ndarray -> (C, H, W) tensor; uint8 becomes float in [0, 1]."""

    def __call__(self, pic) -> Tensor:
        return F.to_tensor(pic)


class PILToTensor(_Transform):
    """PIL image -> (C, H, W) tensor of the image's dtype, unscaled."""

    def __call__(self, pic) -> Tensor:
        return F.pil_to_tensor(pic)


class ToPILImage(_Transform):
    """(C, H, W) tensor or (H, W, C) ndarray -> PIL image of ``mode`` (inferred when None)."""

    _repr_fields = ("mode",)

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def __call__(self, pic):
        return F.to_pil_image(pic, self.mode)


class Normalize(_Transform):
    """(x - mean[c]) / std[c] for each channel c of a float (..., C, H, W) tensor."""

    _repr_fields = ("mean", "std")

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor: Tensor) -> Tensor:
        return F.normalize(tensor, self.mean, self.std, self.inplace)


class Resize(_Transform):
    """Resizes to ``size`` = (h, w), or an int: the smaller edge (the aspect ratio kept)."""

    _repr_fields = ("size", "interpolation", "max_size", "antialias")

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias: bool | None = True) -> None:
        if not isinstance(size, (int, Sequence)) or (isinstance(size, Sequence)
                                                     and len(size) not in (1, 2)):
            raise TypeError(f"Size should be int or sequence of 1 or 2 ints, got {size!r}")
        self.size, self.interpolation = size, interpolation
        self.max_size, self.antialias = max_size, antialias

    def __call__(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)


class CenterCrop(_Transform):
    """The centred window of ``size`` = (h, w) or an int; zeros beyond a smaller image."""

    _repr_fields = ("size",)

    def __init__(self, size) -> None:
        self.size = _size_pair(size)

    def __call__(self, img):
        return F.center_crop(img, self.size)


class Pad(_Transform):
    """Pads the borders (see :func:`functional.pad`)."""

    _repr_fields = ("padding", "fill", "padding_mode")

    def __init__(self, padding, fill=0, padding_mode: str = "constant") -> None:
        F._padding_ltrb(padding)  # fail at construction, as torchvision does
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError("Padding mode should be either constant, edge, reflect or symmetric, "
                             f"got {padding_mode!r}")
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)


class RandomCrop(_Transform):
    """A window of ``size`` at a random place, after optional ``padding`` (and padding to
    ``size`` when ``pad_if_needed``)."""

    _repr_fields = ("size", "padding")

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant") -> None:
        self.size = _size_pair(size)
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    @staticmethod
    def get_params(img, output_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(top, left, height, width) of a random ``output_size`` window of ``img``."""
        _, height, width = F.get_dimensions(img)
        crop_height, crop_width = output_size
        if height < crop_height or width < crop_width:
            raise ValueError(f"Required crop size {(crop_height, crop_width)} is larger than "
                             f"input image size {(height, width)}")
        if height == crop_height and width == crop_width:
            return 0, 0, height, width
        return (_randint(0, height - crop_height + 1), _randint(0, width - crop_width + 1),
                crop_height, crop_width)

    def __call__(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, height, width = F.get_dimensions(img)
        if self.pad_if_needed and width < self.size[1]:
            img = F.pad(img, [self.size[1] - width, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and height < self.size[0]:
            img = F.pad(img, [0, self.size[0] - height], self.fill, self.padding_mode)
        return F.crop(img, *self.get_params(img, self.size))


class RandomResizedCrop(_Transform):
    """A random window (area fraction in ``scale``, aspect ratio in ``ratio``) resized to
    ``size``."""

    _repr_fields = ("size", "scale", "ratio", "interpolation", "antialias")

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True) -> None:
        self.size = _size_pair(size)
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f"Scale and ratio should be of kind (min, max), got {scale}, {ratio}")
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.interpolation, self.antialias = interpolation, antialias

    @staticmethod
    def get_params(img, scale: Sequence[float],
                   ratio: Sequence[float]) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the window: up to 10 random tries, then a central
        crop of the nearest allowed aspect ratio."""
        _, height, width = F.get_dimensions(img)
        area = height * width
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target_area = area * _uniform(scale[0], scale[1])
            aspect_ratio = math.exp(_uniform(log_ratio[0], log_ratio[1]))
            crop_width = int(round(math.sqrt(target_area * aspect_ratio)))
            crop_height = int(round(math.sqrt(target_area / aspect_ratio)))
            if 0 < crop_width <= width and 0 < crop_height <= height:
                top = _randint(0, height - crop_height + 1)
                left = _randint(0, width - crop_width + 1)
                return top, left, crop_height, crop_width
        in_ratio = width / height
        if in_ratio < min(ratio):
            crop_width, crop_height = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            crop_height, crop_width = height, int(round(height * max(ratio)))
        else:
            crop_width, crop_height = width, height
        return (height - crop_height) // 2, (width - crop_width) // 2, crop_height, crop_width

    def __call__(self, img):
        top, left, height, width = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, top, left, height, width, list(self.size), self.interpolation,
                              antialias=self.antialias)


class _RandomFlip(_Transform):
    _repr_fields = ("p",)
    _flip: Callable

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img):
        # torchvision's test, rand < p: one draw per call, whether or not it flips.
        return self._flip(img) if float(ember.rand(1).item()) < self.p else img


class RandomHorizontalFlip(_RandomFlip):
    """Mirrors left to right with probability ``p``."""

    _flip = staticmethod(F.hflip)


class RandomVerticalFlip(_RandomFlip):
    """Mirrors top to bottom with probability ``p``."""

    _flip = staticmethod(F.vflip)


def _check_range(value, name: str, center: float = 1.0, bound=(0.0, float("inf")),
                 clip_first_on_zero: bool = True) -> tuple[float, float] | None:
    """ColorJitter's and RandomRotation's argument forms: a number ``v`` gives
    [center - v, center + v]; a pair is checked to lie in ``bound``. None when it is a no-op."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be non negative.")
        value = [center - float(value), center + float(value)]
        if clip_first_on_zero:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, Sequence) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
        if not bound[0] <= value[0] <= value[1] <= bound[1]:
            raise ValueError(f"{name} values should be between {bound}, but got {value}.")
    else:
        raise TypeError(f"{name} should be a single number or a list/tuple with length 2, got "
                        f"{value!r}")
    if value[0] == value[1] == center:
        return None
    return value[0], value[1]


class RandomRotation(_Transform):
    """Rotates by an angle drawn from ``degrees`` = (min, max), or (-d, d) for a number d."""

    _repr_fields = ("degrees", "interpolation", "expand", "center", "fill")

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand: bool = False,
                 center: Sequence[int] | None = None, fill=0) -> None:
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError("If degrees is a single number, it must be positive.")
            degrees = (-float(degrees), float(degrees))
        elif not (isinstance(degrees, Sequence) and len(degrees) == 2):
            raise ValueError(f"If degrees is a sequence, it must be of len 2, got {degrees!r}")
        if center is not None and not (isinstance(center, Sequence) and len(center) == 2):
            raise ValueError(f"If center is a sequence, it must be of len 2, got {center!r}")
        self.degrees = (float(degrees[0]), float(degrees[1]))
        self.interpolation, self.expand = interpolation, expand
        self.center, self.fill = center, fill

    @staticmethod
    def get_params(degrees: Sequence[float]) -> float:
        """An angle drawn uniformly from [degrees[0], degrees[1])."""
        return _uniform(float(degrees[0]), float(degrees[1]))

    def __call__(self, img):
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, self.fill)


class ColorJitter(_Transform):
    """Random brightness, contrast, saturation and hue changes, applied in a random order."""

    _repr_fields = ("brightness", "contrast", "saturation", "hue")

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0) -> None:
        self.brightness = _check_range(brightness, "brightness")
        self.contrast = _check_range(contrast, "contrast")
        self.saturation = _check_range(saturation, "saturation")
        self.hue = _check_range(hue, "hue", center=0.0, bound=(-0.5, 0.5),
                                clip_first_on_zero=False)

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """(order, brightness, contrast, saturation, hue factors): ``order`` is a permutation
        tensor of 0..3; a factor is None where its range is None."""
        order = ember.randperm(4)
        factors = [None if bounds is None else _uniform(bounds[0], bounds[1])
                   for bounds in (brightness, contrast, saturation, hue)]
        return (order, *factors)

    def __call__(self, img):
        order, *factors = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        adjust = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue)
        for index in order.tolist():
            if factors[index] is not None:
                img = adjust[index](img, factors[index])
        return img


class Grayscale(_Transform):
    """Converts to grey with ``num_output_channels`` (1 or 3) equal channels."""

    _repr_fields = ("num_output_channels",)

    def __init__(self, num_output_channels: int = 1) -> None:
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        return F.rgb_to_grayscale(img, self.num_output_channels)
