"""``VisionDataset``: what every image dataset shares (root, transforms, repr), as torchvision."""

from __future__ import annotations

import os

from ember.utils.data import Dataset


class VisionDataset(Dataset):
    """A map-style dataset of (image, target) pairs with ``transform`` / ``target_transform``.

    Subclasses load their samples and return ``self._transformed(image, target)`` from
    ``__getitem__``; ``extra_repr`` adds lines to the printout.
    """

    def __init__(self, root: str | os.PathLike | None, transform=None,
                 target_transform=None) -> None:
        self.root = os.fspath(root) if root is not None else None
        self.transform = transform
        self.target_transform = target_transform

    def _transformed(self, image, target):
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"    Root location: {self.root}")
        lines += [f"    {line}" for line in self.extra_repr().splitlines()]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)
