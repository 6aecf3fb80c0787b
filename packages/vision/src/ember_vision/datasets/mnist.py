"""MNIST and Fashion-MNIST read from the four standard IDX files of a local folder.

Nothing is downloaded: point ``root`` at a folder holding ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each raw
or gzip-compressed, ``.gz``), or at torchvision's layout ``root/<ClassName>/raw/``.

The IDX format (LeCun et al.): a big-endian header ``0x00 0x00 <type code> <ndim>``, then one
big-endian uint32 per dimension, then the values. Images are ``ubyte`` (type code 0x08) with three
dimensions (N, 28, 28); labels are ``ubyte`` with one dimension (N,).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
from PIL import Image

import ember
from ember_vision.datasets.vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "read_idx"]

_UBYTE = 0x08
_IMAGE_SIZE = (28, 28)


def read_idx(path: str | os.PathLike, ndim: int) -> np.ndarray:
    """Reads an IDX file of unsigned bytes (gzip-compressed or raw) into a uint8 array.

    Args:
        path: the file; a name ending in ``.gz`` is decompressed.
        ndim: the number of dimensions the file must declare (3 for images, 1 for labels).

    Returns:
        A writable uint8 array of the declared shape.

    Raises:
        RuntimeError: when the file is not an IDX file of ``ndim`` unsigned-byte dimensions or
            its size disagrees with its header; the message names the file and what was expected.
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as file:
            raw = file.read()
    except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError
        raise RuntimeError(f"{path}: cannot read IDX file ({error})") from None
    expected_magic = bytes([0, 0, _UBYTE, ndim])
    if raw[:4] != expected_magic:
        raise RuntimeError(
            f"{path}: not an IDX file of {ndim}-d unsigned bytes: magic number "
            f"0x{raw[:4].hex() or '(empty)'}, expected 0x{expected_magic.hex()}"
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise RuntimeError(f"{path}: truncated IDX header ({len(raw)} bytes, expected at least "
                           f"{header_size})")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected_size = header_size + int(np.prod(shape))
    if len(raw) != expected_size:
        raise RuntimeError(
            f"{path}: IDX header declares shape {shape} ({expected_size} bytes with the header) "
            f"but the file holds {len(raw)} bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape).copy()


class MNIST(VisionDataset):
    """The MNIST handwritten digits, read from the IDX files in ``root``.

    Like ``torchvision.datasets.MNIST``: ``.data`` is an (N, 28, 28) uint8 tensor, ``.targets``
    an (N,) int64 tensor, ``.classes`` the class names, and an item is a pair (PIL image in mode
    'L', label), passed through ``transform`` / ``target_transform``; ``transforms.ToTensor()``
    turns the image into a (1, 28, 28) float tensor in [0, 1]. One difference, on purpose:
    nothing is downloaded (``download=True`` is an error).

    Args:
        root: the folder with the four IDX files (or torchvision's ``root/<ClassName>/raw``).
        train: the training split (``train-*``, 60,000 images) or the test split (``t10k-*``).
        transform: applied to each PIL image.
        target_transform: applied to each label (an int).
        download: must be False.

    Example:
        >>> train = FashionMNIST("data/fashion-mnist-subset", train=True)
        >>> image, label = train[0]
        >>> image.size, image.mode, label
        ((28, 28), 'L', 9)
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root: str | os.PathLike, train: bool = True, transform=None,
                 target_transform=None, download: bool = False) -> None:
        if download:
            raise RuntimeError(
                f"{type(self).__name__}: Ember never downloads data; put the four IDX files in "
                f"{os.fspath(root)!r} and pass download=False"
            )
        super().__init__(root, transform, target_transform)
        self.train = train
        split = "train" if train else "t10k"
        images = read_idx(self._find(f"{split}-images-idx3-ubyte"), ndim=3)
        labels = read_idx(self._find(f"{split}-labels-idx1-ubyte"), ndim=1)
        if images.shape[1:] != _IMAGE_SIZE:
            raise RuntimeError(f"{type(self).__name__}: {split} images are {images.shape[1:]}, "
                               f"expected {_IMAGE_SIZE}")
        if len(images) != len(labels):
            raise RuntimeError(f"{type(self).__name__}: {len(images)} {split} images but "
                               f"{len(labels)} labels in {self.root!r}")
        if labels.size and labels.max() >= len(self.classes):
            raise RuntimeError(f"{type(self).__name__}: {split} label {int(labels.max())} out of "
                               f"range for {len(self.classes)} classes")
        self.data = ember.from_numpy(images)
        self.targets = ember.from_numpy(labels.astype(np.int64))

    def _find(self, stem: str) -> Path:
        """The file ``stem`` or ``stem.gz`` in ``root`` or in ``root/<ClassName>/raw``."""
        folders = (Path(self.root), Path(self.root) / type(self).__name__ / "raw")
        for folder in folders:
            for name in (stem, f"{stem}.gz"):
                if (folder / name).is_file():
                    return folder / name
        raise RuntimeError(
            f"{type(self).__name__}: {stem}[.gz] not found in {' or '.join(map(str, folders))}; "
            "expected the four standard IDX files there"
        )

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        """The pair (image, label): a 28x28 'L' PIL image (or its transform) and an int."""
        # Read through .data / .targets (scripts reassign them to take subsets), as host arrays:
        # indexing the arrays costs far less than indexing tensors, once per sample.
        image = Image.fromarray(self.data.numpy()[index])
        return self._transformed(image, int(self.targets.numpy()[index]))

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 kinds of clothing, in MNIST's format.

    Same interface and file names as :class:`MNIST`.

    Example:
        >>> test = FashionMNIST("data/fashion-mnist-subset", train=False)
        >>> len(test), test.classes[test.targets[0].item()]
        (2000, 'Ankle boot')
    """

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
