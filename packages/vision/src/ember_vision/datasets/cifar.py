"""CIFAR-10 and CIFAR-100 read from the binary version of the data set (never the pickled one).

Nothing is downloaded: point ``root`` at a folder holding the ``.bin`` files, or at the folder
above them (``root/cifar-10-batches-bin`` or ``root/cifar-100-binary``, as the archives unpack).
``download=True`` with the files in place loads them, as torchvision does; without them it
raises an error naming the files and the folder.

The binary format (Krizhevsky, 2009): fixed-size records, each made of the label byte(s) and
then 3072 pixel bytes: the 1024 red values of the 32x32 image in row-major order, then the
1024 green, then the 1024 blue. CIFAR-10 records have one label byte (3073 bytes in all);
CIFAR-100 records a coarse and a fine label byte (3074 bytes).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ember_vision.datasets.vision import VisionDataset

__all__ = ["CIFAR10", "CIFAR100", "read_cifar_records"]

_SIDE = 32
_PIXELS = 3 * _SIDE * _SIDE


def read_cifar_records(path: str | os.PathLike, label_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """Reads one CIFAR binary file.

    Args:
        path: the ``.bin`` file.
        label_bytes: label bytes in front of each record's pixels (1 for CIFAR-10, 2 for
            CIFAR-100: coarse then fine).

    Returns:
        ``images`` (N, 32, 32, 3) uint8 and ``labels`` (N, label_bytes) uint8.

    Raises:
        RuntimeError: when the file cannot be read or its size is not a whole number of
            records; the message names the file and the expected record size.
    """
    path = os.fspath(path)
    record = label_bytes + _PIXELS
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise RuntimeError(f"{path}: cannot read CIFAR binary file ({error})") from None
    if raw.size == 0 or raw.size % record:
        raise RuntimeError(
            f"{path}: {raw.size} bytes is not a whole number of CIFAR records; expected a "
            f"positive multiple of {record} bytes ({label_bytes} label byte(s) + {_PIXELS} "
            "pixel bytes per image)"
        )
    records = raw.reshape(-1, record)
    images = records[:, label_bytes:].reshape(-1, 3, _SIDE, _SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), records[:, :label_bytes].copy()


class CIFAR10(VisionDataset):
    """CIFAR-10: 60,000 32x32 colour images in 10 classes (50,000 train, 10,000 test).

    Like ``torchvision.datasets.CIFAR10``: ``.data`` is an (N, 32, 32, 3) uint8 numpy array,
    ``.targets`` a list of ints, ``.classes`` the class names, and an item is a pair
    (PIL image in mode 'RGB', label), passed through ``transform`` / ``target_transform``.
    Differences, on purpose: the binary files are read instead of the pickled batches (loading
    a pickle can run code), and nothing is downloaded: ``download=True`` with the files in
    place uses them (as torchvision does once downloaded); without them it is an error that
    names the missing files.

    Args:
        root: the folder with ``data_batch_1.bin`` ... ``data_batch_5.bin`` and
            ``test_batch.bin``, or the folder that holds ``cifar-10-batches-bin``.
        train: the five training batches, or the test batch.
        transform: applied to each PIL image.
        target_transform: applied to each label (an int).
        download: with the files in place, nothing to do; without them an error that says
            Ember never downloads data and which files to put where.

    The example is skipped by the tests: CIFAR-10 is not in the repository, and nothing is
    downloaded.

    Example:
        >>> train = CIFAR10("data/cifar10", train=True)        # doctest: +SKIP
        >>> image, label = train[0]                            # doctest: +SKIP
        >>> image.size, train.classes[label]                   # doctest: +SKIP
        ((32, 32), 'frog')
    """

    base_folder = "cifar-10-batches-bin"
    train_list = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_list = ["test_batch.bin"]
    meta_file = "batches.meta.txt"
    label_bytes = 1
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]

    def __init__(self, root: str | os.PathLike, train: bool = True, transform=None,
                 target_transform=None, download: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        self.train = train
        try:
            folder = self._folder()
        except RuntimeError as error:
            if not download:
                raise
            raise RuntimeError(f"{error}. download=True, but Ember never downloads data: unpack "
                               "the binary version of the data set there") from None
        images, labels = [], []
        for name in self.train_list if train else self.test_list:
            batch_images, batch_labels = read_cifar_records(folder / name, self.label_bytes)
            images.append(batch_images)
            labels.append(batch_labels)
        self.data = np.concatenate(images)
        labels = np.concatenate(labels)
        self.classes = self._read_names(folder, self.meta_file, self.classes)
        self.targets = self._check_labels(labels[:, -1], self.classes, "label")
        if self.label_bytes == 2:
            self.coarse_classes = self._read_names(folder, self.coarse_meta_file,
                                                   self.coarse_classes)
            self.coarse_targets = self._check_labels(labels[:, 0], self.coarse_classes,
                                                     "coarse label")

    def _folder(self) -> Path:
        """``root`` or ``root/base_folder``: the first that holds every file of the split."""
        names = self.train_list if self.train else self.test_list
        candidates = (Path(self.root), Path(self.root) / self.base_folder)
        for folder in candidates:
            if all((folder / name).is_file() for name in names):
                return folder
        # Report against the folder that holds most of the split: the one the user meant.
        nearest = max(candidates, key=lambda folder: sum((folder / n).is_file() for n in names))
        missing = [name for name in names if not (nearest / name).is_file()]
        raise RuntimeError(
            f"{type(self).__name__}: {', '.join(missing)} not found in {nearest}; expected the "
            f"binary version's files {', '.join(names)} in {' or '.join(map(str, candidates))}"
        )

    @staticmethod
    def _read_names(folder: Path, name: str, default: list[str]) -> list[str]:
        """Class names from the archive's meta text file (one per line), else the built-in ones."""
        path = folder / name
        if not path.is_file():
            return list(default)
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        if len(names) != len(default):
            raise RuntimeError(f"{path}: {len(names)} class names, expected {len(default)} "
                               "(one per line)")
        return names

    def _check_labels(self, labels: np.ndarray, classes: list[str], what: str) -> list[int]:
        if labels.size and labels.max() >= len(classes):
            raise RuntimeError(f"{type(self).__name__}: {what} {int(labels.max())} in "
                               f"{self.root!r} is out of range for {len(classes)} classes")
        return labels.astype(np.int64).tolist()

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        """The pair (image, target): a 32x32 'RGB' PIL image (or its transform) and an int."""
        return self._transformed(Image.fromarray(self.data[index]), self.targets[index])

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100: 100 fine classes grouped into 20 coarse ones, in CIFAR-10's image format.

    Same interface as :class:`CIFAR10`; ``.targets`` are the fine labels (as torchvision). The
    coarse labels are kept as ``.coarse_targets`` with names ``.coarse_classes``.

    Args:
        root: the folder with ``train.bin`` and ``test.bin``, or the folder that holds
            ``cifar-100-binary``.
    """

    base_folder = "cifar-100-binary"
    train_list = ["train.bin"]
    test_list = ["test.bin"]
    meta_file = "fine_label_names.txt"
    coarse_meta_file = "coarse_label_names.txt"
    label_bytes = 2
    classes = [
        "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
        "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
        "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
        "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
        "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard",
        "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse",
        "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck",
        "pine_tree", "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray",
        "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail",
        "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
        "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
        "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
    ]
    coarse_classes = [
        "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
        "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
        "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
        "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
        "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
    ]
