"""Data sets laid out one folder per class, as ``torchvision.datasets.DatasetFolder`` /
``ImageFolder``::

    root/dog/xxx.png
    root/dog/nested/xxy.png
    root/cat/123.png

Class names are the sorted sub-folder names; index ``i`` is the i-th name.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from PIL import Image

from ember_vision.datasets.vision import VisionDataset

__all__ = ["IMG_EXTENSIONS", "DatasetFolder", "ImageFolder", "default_loader", "find_classes",
           "has_file_allowed_extension", "is_image_file", "make_dataset", "pil_loader"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def has_file_allowed_extension(filename: str, extensions: str | tuple[str, ...]) -> bool:
    """Whether ``filename`` ends with one of ``extensions`` (case-insensitive)."""
    return filename.lower().endswith(extensions if isinstance(extensions, str)
                                     else tuple(extensions))


def is_image_file(filename: str) -> bool:
    return has_file_allowed_extension(filename, IMG_EXTENSIONS)


def find_classes(directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
    """The sorted class folder names of ``directory`` and the map name -> index.

    Raises:
        FileNotFoundError: when ``directory`` has no sub-folder.
    """
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {os.fspath(directory)}.")
    return classes, {name: index for index, name in enumerate(classes)}


def make_dataset(directory: str | os.PathLike, class_to_idx: dict[str, int] | None = None,
                 extensions: str | tuple[str, ...] | None = None,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> list[tuple[str, int]]:
    """The (path, class_index) pairs of every valid file under each class folder, walked in
    sorted order (sub-folders included).

    Exactly one of ``extensions`` and ``is_valid_file`` must be given.

    Raises:
        ValueError: when both or neither of ``extensions`` and ``is_valid_file`` are given.
        FileNotFoundError: when a class folder holds no valid file (unless ``allow_empty``).
    """
    directory = os.path.expanduser(os.fspath(directory))
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    elif not class_to_idx:
        raise ValueError("'class_to_index' must have at least one entry to collect any samples.")
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at the "
                         "same time")
    if extensions is not None:
        def is_valid_file(path: str) -> bool:
            return has_file_allowed_extension(path, extensions)

    samples, found = [], set()
    for class_name in sorted(class_to_idx, key=class_to_idx.get):
        class_index = class_to_idx[class_name]
        class_dir = os.path.join(directory, class_name)
        if not os.path.isdir(class_dir):
            continue
        for folder, _, names in sorted(os.walk(class_dir, followlinks=True)):
            for name in sorted(names):
                path = os.path.join(folder, name)
                if is_valid_file(path):
                    samples.append((path, class_index))
                    found.add(class_name)
    empty = set(class_to_idx) - found
    if empty and not allow_empty:
        message = f"Found no valid file for the classes {', '.join(sorted(empty))}. "
        if extensions is not None:
            shown = extensions if isinstance(extensions, str) else ", ".join(extensions)
            message += f"Supported extensions are: {shown}"
        raise FileNotFoundError(message)
    return samples


class DatasetFolder(VisionDataset):
    """A data set of files in one folder per class, each read by ``loader``.

    Args:
        root: the folder holding one sub-folder per class.
        loader: reads one sample from its path.
        extensions: the allowed file name endings (when ``is_valid_file`` is None).
        transform: applied to each loaded sample.
        target_transform: applied to each class index.
        is_valid_file: says whether a path is a sample (when ``extensions`` is None).
        allow_empty: accept class folders without a valid file instead of raising.

    Attributes:
        classes: the sorted class names; ``class_to_idx`` maps each to its index.
        samples: the (path, class_index) pairs; ``targets`` their class indices.
    """

    def __init__(self, root: str | os.PathLike, loader: Callable[[str], object],
                 extensions: tuple[str, ...] | None = None, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        classes, class_to_idx = self.find_classes(self.root)
        samples = self.make_dataset(self.root, class_to_idx, extensions, is_valid_file,
                                    allow_empty=allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.samples = samples
        self.targets = [target for _, target in samples]

    @staticmethod
    def make_dataset(directory: str | os.PathLike, class_to_idx: dict[str, int],
                     extensions: tuple[str, ...] | None = None,
                     is_valid_file: Callable[[str], bool] | None = None,
                     allow_empty: bool = False) -> list[tuple[str, int]]:
        """Overridable hook: the (path, class_index) pairs (see :func:`make_dataset`)."""
        if class_to_idx is None:
            raise ValueError("The class_to_idx parameter cannot be None.")
        return make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)

    def find_classes(self, directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
        """Overridable hook: the class names and indices (see :func:`find_classes`)."""
        return find_classes(directory)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        """The pair (sample, target): the loaded file (or its transform) and its class index."""
        path, target = self.samples[index]
        return self._transformed(self.loader(path), target)


def pil_loader(path: str) -> Image.Image:
    """Opens an image file with Pillow and converts it to 'RGB'.

    Raises:
        OSError: naming the file when Pillow cannot open or decode it.
    """
    try:
        with open(path, "rb") as file:
            return Image.open(file).convert("RGB")
    except OSError as error:  # PIL.UnidentifiedImageError and truncated files are OSErrors
        raise OSError(f"{path}: cannot load image ({error}); expected an image file that "
                      "Pillow can decode") from error


def default_loader(path: str) -> Image.Image:
    """The loader ``ImageFolder`` uses by default (Pillow; there is no accimage backend)."""
    return pil_loader(path)


class ImageFolder(DatasetFolder):
    """Images in one folder per class, loaded as 'RGB' PIL images.

    Files are kept when their name ends with one of :data:`IMG_EXTENSIONS` (or when
    ``is_valid_file`` says so); other files are skipped.

    Example:
        >>> import pathlib, tempfile
        >>> tmp = tempfile.TemporaryDirectory()
        >>> root = pathlib.Path(tmp.name)                       # root/cat/0.png, root/dog/0.png
        >>> for name in ["cat", "dog"]:
        ...     (root / name).mkdir()
        ...     Image.new("RGB", (8, 8)).save(root / name / "0.png")
        >>> dataset = ImageFolder(root)
        >>> dataset.classes, dataset[0][1]
        (['cat', 'dog'], 0)
    """

    def __init__(self, root: str | os.PathLike, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 loader: Callable[[str], object] = default_loader,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> None:
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform=transform, target_transform=target_transform,
                         is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.imgs = self.samples
