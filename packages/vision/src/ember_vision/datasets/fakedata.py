"""Random images, as ``torchvision.datasets.FakeData``: for smoke tests and benchmarks."""

from __future__ import annotations

from collections.abc import Callable

import ember
from ember_vision.datasets.vision import VisionDataset
from ember_vision.transforms.functional import to_pil_image

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """``size`` random PIL images with random labels; item ``i`` is the same on every call.

    Each item draws from its own generator seeded with ``i + random_offset``, so items do not
    depend on the order they are read in, and the global random state is left untouched.
    Pixels are uniform over [0, 255] (torchvision's are clipped normal draws; neither means
    anything).

    Args:
        size: the number of items.
        image_size: (C, H, W) with C = 1 (mode 'L'), 3 ('RGB') or 4 ('RGBA').
        num_classes: labels are drawn from [0, num_classes).
        transform: applied to each PIL image.
        target_transform: applied to each label (an int).
        random_offset: added to the index to form each item's seed.

    Example:
        >>> image, label = FakeData(size=2, image_size=(3, 8, 8))[1]
        >>> image.size, image.mode, 0 <= label < 10
        ((8, 8), 'RGB', True)
    """

    def __init__(self, size: int = 1000, image_size: tuple[int, int, int] = (3, 224, 224),
                 num_classes: int = 10, transform: Callable | None = None,
                 target_transform: Callable | None = None, random_offset: int = 0) -> None:
        if len(image_size) != 3 or image_size[0] not in (1, 3, 4):
            raise ValueError(f"FakeData: image_size should be (C, H, W) with C in (1, 3, 4), got "
                             f"{tuple(image_size)}")
        if num_classes < 1:
            raise ValueError(f"FakeData: num_classes should be positive, got {num_classes}")
        self.size = size
        self.image_size = tuple(image_size)
        self.num_classes = num_classes
        super().__init__(None, transform, target_transform)
        self.random_offset = random_offset

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int):
        """The pair (image, target): a PIL image (or its transform) and an int label."""
        if not -self.size <= index < self.size:
            raise IndexError(f"FakeData: index {index} is out of range for {self.size} items")
        index %= self.size
        generator = ember.Generator().manual_seed(index + self.random_offset)
        pixels = ember.randint(0, 256, self.image_size, dtype=ember.uint8, generator=generator)
        target = int(ember.randint(0, self.num_classes, (1,), generator=generator).item())
        return self._transformed(to_pil_image(pixels), target)
