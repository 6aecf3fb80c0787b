"""MNIST and Fashion-MNIST read from the four standard IDX files of a local folder.

Nothing is downloaded: point ``root`` at a folder holding ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each raw
or gzip-compressed, ``.gz``), or at torchvision's layout ``root/<ClassName>/raw/``. With
``download=True``, as in torchvision, files in place are checked (MD5) and nothing else happens;
missing files give an error naming them and the folder to put them in.

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
from ember_vision.datasets.utils import verify_local_files
from ember_vision.datasets.vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "read_idx"]

_UBYTE = 0x08
_IMAGE_SIZE = (28, 28)
_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
          "t10k-labels-idx1-ubyte")


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
    nothing is downloaded: ``download=True`` checks the four files in place against their
    published MD5s (the ``.gz`` archive's as torchvision lists it, or the uncompressed file's) and
    raises, naming the folder and the files, when they are not there.

    Args:
        root: the folder with the four IDX files (or torchvision's ``root/<ClassName>/raw``).
        train: the training split (``train-*``, 60,000 images) or the test split (``t10k-*``).
        transform: applied to each PIL image.
        target_transform: applied to each label (an int).
        download: check that all four files are present and intact (never fetched).

    Example:
        >>> train = FashionMNIST("data/fashion-mnist-subset", train=True)
        >>> image, label = train[0]
        >>> image.size, image.mode, label
        ((28, 28), 'L', 9)
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]
    source = "https://ossci-datasets.s3.amazonaws.com/mnist/ (torchvision's mirror)"
    # stem -> (MD5 of the .gz as torchvision lists it, MD5 of the uncompressed file)
    checksums = {
        "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873",
                                    "6bbc9ace898e44ae57da46a324031adb"),
        "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432",
                                    "a25bea736e30d166cdddb491f175f624"),
        "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3",
                                   "2646ac647ad5339dbf082846283269ea"),
        "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c",
                                   "27ae3e4e09519cfbb04c329615203637"),
    }

    def __init__(self, root: str | os.PathLike, train: bool = True, transform=None,
                 target_transform=None, download: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        if download:
            verify_local_files(type(self).__name__, {stem: self._locate(stem) for stem in _STEMS},
                               self.checksums, self._folders(), self.source)
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

    def _folders(self) -> tuple[Path, Path]:
        """Where the files may be: torchvision's ``root/<ClassName>/raw`` or ``root`` itself."""
        return Path(self.root) / type(self).__name__ / "raw", Path(self.root)

    def _locate(self, stem: str) -> Path | None:
        """The file ``stem`` or ``stem.gz`` in one of the folders, or None."""
        for folder in self._folders():
            for name in (stem, f"{stem}.gz"):
                if (folder / name).is_file():
                    return folder / name
        return None

    def _find(self, stem: str) -> Path:
        path = self._locate(stem)
        if path is None:
            raise RuntimeError(
                f"{type(self).__name__}: {stem}[.gz] not found in "
                f"{' or '.join(map(str, self._folders()))}; expected the four standard IDX files "
                "there"
            )
        return path

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
    source = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ (Zalando's)"
    checksums = {
        "train-images-idx3-ubyte": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                                    "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        "train-labels-idx1-ubyte": ("25c81989df183df01b3e8a0aad5dffbe",
                                    "9018921c3c673c538a1fc5bad174d6f9"),
        "t10k-images-idx3-ubyte": ("bef4ecab320f06d8554ea6380940ec79",
                                   "8181f5470baa50b63fa0f6fddb340f0a"),
        "t10k-labels-idx1-ubyte": ("bb300cfdad3c16e7a12a480ee83cd310",
                                   "15d484375f8d13e6eb1aabb0c3f46965"),
    }
