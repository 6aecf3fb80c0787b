"""Image transforms, as ``torchvision.transforms``: classes here, functions in ``functional``.

Example:
    >>> from ember_vision import transforms
    >>> preprocess = transforms.Compose([transforms.Resize(8), transforms.CenterCrop(8),
    ...                                  transforms.ToTensor()])
"""

from ember_vision.transforms import functional
from ember_vision.transforms.functional import InterpolationMode
from ember_vision.transforms.transforms import (
    CenterCrop,
    ColorJitter,
    Compose,
    Grayscale,
    Lambda,
    Normalize,
    Pad,
    PILToTensor,
    RandomCrop,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRotation,
    RandomVerticalFlip,
    Resize,
    ToPILImage,
    ToTensor,
)

__all__ = [
    "CenterCrop", "ColorJitter", "Compose", "Grayscale", "InterpolationMode", "Lambda",
    "Normalize", "PILToTensor", "Pad", "RandomCrop", "RandomHorizontalFlip", "RandomResizedCrop",
    "RandomRotation", "RandomVerticalFlip", "Resize", "ToPILImage", "ToTensor", "functional",
]
