"""MNIST / Fashion-MNIST IDX reading: items, tensors, file layouts and errors on bad files."""

import gzip
import re
import struct
import warnings
from hashlib import md5
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ember
from ember.utils.data import DataLoader
from ember_vision.datasets import MNIST, FashionMNIST
from ember_vision.datasets.mnist import read_idx

SUBSET = Path(__file__).resolve().parents[2] / "data" / "fashion-mnist-subset"
STEMS = {
    ("images", True): "train-images-idx3-ubyte", ("labels", True): "train-labels-idx1-ubyte",
    ("images", False): "t10k-images-idx3-ubyte", ("labels", False): "t10k-labels-idx1-ubyte",
}


def idx_bytes(array: np.ndarray, magic: bytes | None = None) -> bytes:
    """``array`` (uint8) in IDX format: magic, big-endian uint32 dimensions, values."""
    magic = bytes([0, 0, 0x08, array.ndim]) if magic is None else magic
    return magic + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_split(folder: Path, train: bool, images: np.ndarray, labels: np.ndarray,
                compress: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for kind, array in (("images", images), ("labels", labels)):
        stem = STEMS[kind, train]
        if compress:
            with gzip.open(folder / f"{stem}.gz", "wb") as file:
                file.write(idx_bytes(array))
        else:
            (folder / stem).write_bytes(idx_bytes(array))


def sample_split(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
    return images, rng.integers(0, 10, count, dtype=np.uint8)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "test"])
def test_reads_items_and_tensors(tmp_path, compress, train):
    images, labels = sample_split(5 if train else 3)
    write_split(tmp_path, train, images, labels, compress)
    dataset = MNIST(tmp_path, train=train)
    assert len(dataset) == len(labels)
    assert dataset.data.dtype is ember.uint8 and dataset.data.shape == images.shape
    assert dataset.targets.dtype is ember.int64 and dataset.targets.shape == labels.shape
    np.testing.assert_array_equal(dataset.data.numpy(), images)
    np.testing.assert_array_equal(dataset.targets.numpy(), labels)
    image, label = dataset[2]
    assert isinstance(image, Image.Image) and image.mode == "L" and image.size == (28, 28)
    np.testing.assert_array_equal(np.asarray(image), images[2])
    assert type(label) is int and label == labels[2]
    assert "Split: " + ("Train" if train else "Test") in repr(dataset)


def test_transforms_and_dataloader(tmp_path):
    images, labels = sample_split(6)
    write_split(tmp_path, True, images, labels, compress=True)
    def to_input(image):
        return ember.from_numpy(np.asarray(image, dtype=np.float32)[None] / 255)

    dataset = FashionMNIST(tmp_path, transform=to_input, target_transform=lambda y: y + 100)
    image, label = dataset[4]
    assert image.dtype is ember.float32 and image.shape == (1, 28, 28)
    np.testing.assert_allclose(image.numpy()[0], images[4] / np.float32(255), rtol=1e-6)
    assert label == labels[4] + 100
    batch_images, batch_labels = next(iter(DataLoader(dataset, batch_size=4)))
    assert batch_images.shape == (4, 1, 28, 28) and batch_labels.dtype is ember.int64
    np.testing.assert_array_equal(batch_labels.numpy(), labels[:4].astype(np.int64) + 100)


def test_subsets_by_reassigning_data_and_targets(tmp_path):
    # A common PyTorch idiom: items and len follow .data / .targets when a script replaces them.
    images, labels = sample_split(6)
    write_split(tmp_path, True, images, labels, compress=False)
    dataset = MNIST(tmp_path)
    dataset.data, dataset.targets = dataset.data[3:], dataset.targets[3:]
    assert len(dataset) == 3
    image, label = dataset[0]
    np.testing.assert_array_equal(np.asarray(image), images[3])
    assert label == labels[3]


def test_torchvision_folder_layout(tmp_path):
    images, labels = sample_split(2)
    write_split(tmp_path / "FashionMNIST" / "raw", False, images, labels, compress=False)
    dataset = FashionMNIST(tmp_path, train=False)
    np.testing.assert_array_equal(dataset.data.numpy(), images)


def test_bundled_fashion_mnist_subset():
    train, test = FashionMNIST(SUBSET, train=True), FashionMNIST(SUBSET, train=False)
    assert (len(train), len(test)) == (12_000, 2_000)
    # Class-balanced, as data/fashion-mnist-subset/README.md states.
    assert np.bincount(train.targets.numpy()).tolist() == [1_200] * 10
    assert np.bincount(test.targets.numpy()).tolist() == [200] * 10
    assert train.classes[9] == "Ankle boot" and train.class_to_idx["Trouser"] == 1
    pixels = train.data.numpy()
    assert pixels.min() == 0 and pixels.max() == 255
    # The normalisation constants the examples use hold for the subset too.
    assert abs(pixels.mean() / 255 - 0.2860) < 0.01 and abs(pixels.std() / 255 - 0.3530) < 0.01


# ---- errors -----------------------------------------------------------------------------------


def test_missing_files_name_the_folder(tmp_path):
    with pytest.raises(RuntimeError, match=r"train-images-idx3-ubyte\[\.gz\] not found"):
        FashionMNIST(tmp_path)


# ../shared/data beside the checkout (where absent, the test that needs it skips)
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fashion-mnist"


def test_download_without_files_names_the_folder_and_the_files(tmp_path):
    # torchvision would fetch them; Ember says where to put which files instead.
    with pytest.raises(RuntimeError, match=r"never downloads.*missing: train-images-idx3-ubyte.gz, "
                                           r"train-labels.*t10k-labels-idx1-ubyte.gz.*"
                                           + str(tmp_path / "MNIST" / "raw")):
        MNIST(tmp_path, download=True)


def test_download_names_only_the_missing_files(tmp_path):
    write_split(tmp_path, True, np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.uint8), True)
    with pytest.raises(RuntimeError, match=r"missing: t10k-images-idx3-ubyte.gz, "
                                           r"t10k-labels-idx1-ubyte.gz\. Put"):
        MNIST(tmp_path, download=True)


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared Fashion-MNIST copy is not mounted")
def test_download_with_the_published_files_in_place_is_a_no_op(tmp_path):
    # The program pattern `datasets.FashionMNIST(root, train=False, download=True)`, with root in
    # torchvision's layout (root/FashionMNIST/raw): the files are checked by MD5 and loaded. The
    # shared copy is re-compressed (Debian's), so its content MD5s are the ones that match.
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for path in SHARED.glob("*.gz"):
        (raw / path.name).symlink_to(path)
    test = FashionMNIST(tmp_path, train=False, download=True)
    assert len(test) == 10000 and test.targets.bincount().tolist() == [1000] * 10
    assert sorted(p.name for p in raw.iterdir()) == sorted(p.name for p in SHARED.glob("*.gz"))


def test_download_uses_files_in_place_and_warns_when_they_are_not_the_published_ones(tmp_path):
    # torchvision's MNIST, with the files in place, only checks that they exist and loads them;
    # Ember loads them too but warns that the checksums differ (the subset is not the published
    # files: a stand-in in the same format, as Fashion-MNIST's files under MNIST's names).
    for path in SUBSET.glob("*.gz"):
        (tmp_path / path.name).symlink_to(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = FashionMNIST(tmp_path, download=True)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 4  # one per file, none of them the published one
    assert all(m.endswith("using it as it is") for m in messages)
    assert any(re.search(r"train-images-idx3-ubyte.gz has MD5 [0-9a-f]{32}, which is not the "
                         r"published file \(expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d", m)
               for m in messages)
    assert len(loaded) == len(FashionMNIST(SUBSET))
    assert ember.equal(loaded.data, FashionMNIST(SUBSET).data)


def test_download_accepts_uncompressed_files_by_their_content_checksum(tmp_path, monkeypatch):
    images, labels = np.arange(2 * 784, dtype=np.uint8).reshape(2, 28, 28), np.array([3, 1],
                                                                                      np.uint8)
    for train in (True, False):
        write_split(tmp_path, train, images, labels, compress=False)
    sums = {stem: ("0" * 32, md5((tmp_path / stem).read_bytes()).hexdigest())
            for stem in STEMS.values()}
    monkeypatch.setattr(MNIST, "checksums", sums)
    assert MNIST(tmp_path, train=False, download=True).targets.tolist() == [3, 1]


def test_bad_magic_number(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros(4, np.uint8), magic=b"\x00\x00\x0d\x01"))
    with pytest.raises(RuntimeError, match=r"labels: .*magic number 0x00000d01, expected "
                                           r"0x00000801"):
        read_idx(path, ndim=1)
    path.write_bytes(idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(RuntimeError, match="expected 0x00000803"):  # labels read as images
        read_idx(path, ndim=3)


@pytest.mark.parametrize("cut", [-1, 1], ids=["truncated", "trailing bytes"])
def test_size_disagreeing_with_header(tmp_path, cut):
    data = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    path = tmp_path / "images.gz"
    with gzip.open(path, "wb") as file:
        file.write(data[:cut] if cut < 0 else data + b"\x00")
    with pytest.raises(RuntimeError, match=r"images\.gz: IDX header declares shape \(2, 28, 28\)"):
        read_idx(path, ndim=3)


def test_truncated_header_and_bad_gzip(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(RuntimeError, match="short: truncated IDX header"):
        read_idx(path, ndim=3)
    path = tmp_path / "broken.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(RuntimeError, match=r"broken\.gz: cannot read IDX file"):
        read_idx(path, ndim=1)


def test_inconsistent_splits(tmp_path):
    images, labels = sample_split(3)
    write_split(tmp_path, True, images, labels[:2], compress=False)
    with pytest.raises(RuntimeError, match="3 train images but 2 labels"):
        MNIST(tmp_path)
    write_split(tmp_path, True, images[:, :14, :14].copy(), labels, compress=False)
    with pytest.raises(RuntimeError, match=r"images are \(14, 14\), expected \(28, 28\)"):
        MNIST(tmp_path)
    labels[1] = 10
    write_split(tmp_path, True, images, labels, compress=False)
    with pytest.raises(RuntimeError, match="label 10 out of range for 10 classes"):
        MNIST(tmp_path)
