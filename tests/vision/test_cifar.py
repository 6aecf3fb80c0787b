"""CIFAR-10 / CIFAR-100 readers on small binary files written by the tests."""

import numpy as np
import pytest
from PIL import Image

from ember_vision.datasets.cifar import CIFAR10, CIFAR100, read_cifar_records


def random_records(count, label_bytes, num_classes, seed):
    """``count`` random records: (labels (count, label_bytes), images (count, 32, 32, 3), bytes)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, (count, label_bytes), dtype=np.uint8)
    images = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    # The binary layout: label byte(s), then the red plane, the green plane, the blue plane.
    planes = images.transpose(0, 3, 1, 2).reshape(count, -1)
    return labels, images, np.concatenate([labels, planes], axis=1).tobytes()


@pytest.fixture
def cifar10_root(tmp_path):
    """A CIFAR-10 tree with 2 images per training batch and 3 test images."""
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    parts = {}
    for index, name in enumerate([f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]):
        labels, images, raw = random_records(3 if name == "test_batch.bin" else 2, 1, 10, index)
        (folder / name).write_bytes(raw)
        parts[name] = (labels[:, 0], images)
    return tmp_path, parts


def test_cifar10_train_and_test_splits(cifar10_root):
    root, parts = cifar10_root
    train = CIFAR10(root, train=True)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)]
    assert train.data.shape == (10, 32, 32, 3) and train.data.dtype == np.uint8
    np.testing.assert_array_equal(train.data, np.concatenate([parts[n][1] for n in names]))
    assert train.targets == np.concatenate([parts[n][0] for n in names]).tolist()
    assert all(type(t) is int for t in train.targets)
    assert len(train) == 10 and train.classes[0] == "airplane" and len(train.classes) == 10
    test = CIFAR10(root, train=False)
    assert len(test) == 3 and test.targets == parts["test_batch.bin"][0].tolist()


def test_cifar10_items_are_rgb_images(cifar10_root):
    root, parts = cifar10_root
    dataset = CIFAR10(root / "cifar-10-batches-bin", train=False)  # the batches folder itself
    image, target = dataset[1]
    assert isinstance(image, Image.Image) and image.mode == "RGB" and image.size == (32, 32)
    np.testing.assert_array_equal(np.asarray(image), parts["test_batch.bin"][1][1])
    assert target == parts["test_batch.bin"][0][1]
    assert dataset.class_to_idx["truck"] == 9


def test_cifar10_transforms(cifar10_root):
    root, parts = cifar10_root
    dataset = CIFAR10(root, train=False, transform=lambda img: np.asarray(img)[0, 0],
                      target_transform=lambda t: t + 100)
    pixel, target = dataset[0]
    np.testing.assert_array_equal(pixel, parts["test_batch.bin"][1][0, 0, 0])
    assert target == parts["test_batch.bin"][0][0] + 100
    assert "Split: Test" in repr(dataset)


def test_cifar10_reads_class_names_from_meta(cifar10_root):
    root, _ = cifar10_root
    names = [f"class{i}" for i in range(10)]
    (root / "cifar-10-batches-bin" / "batches.meta.txt").write_text("\n".join(names) + "\n\n")
    assert CIFAR10(root, train=False).classes == names


def test_record_layout_is_planar_red_green_blue(tmp_path):
    record = bytes([7]) + bytes([10]) * 1024 + bytes([20]) * 1024 + bytes([30]) * 1024
    (tmp_path / "one.bin").write_bytes(record)
    images, labels = read_cifar_records(tmp_path / "one.bin", label_bytes=1)
    assert labels.tolist() == [[7]]
    assert images.shape == (1, 32, 32, 3) and images[0, 5, 9].tolist() == [10, 20, 30]


def test_malformed_batch_names_the_file_and_the_record_size(cifar10_root):
    root, _ = cifar10_root
    path = root / "cifar-10-batches-bin" / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(RuntimeError, match=r"test_batch\.bin.*multiple of 3073 bytes"):
        CIFAR10(root, train=False)
    path.write_bytes(b"")
    with pytest.raises(RuntimeError, match="0 bytes"):
        CIFAR10(root, train=False)


def test_missing_batch_names_the_file(cifar10_root):
    root, _ = cifar10_root
    (root / "cifar-10-batches-bin" / "data_batch_3.bin").unlink()
    with pytest.raises(RuntimeError, match=r"data_batch_3\.bin not found"):
        CIFAR10(root, train=True)
    CIFAR10(root, train=False)  # the test split does not need it


def test_label_out_of_range(tmp_path):
    _, _, raw = random_records(2, 1, 10, 0)
    (tmp_path / "test_batch.bin").write_bytes(bytes([12]) + raw[1:])
    with pytest.raises(RuntimeError, match="label 12 .* out of range for 10 classes"):
        CIFAR10(tmp_path, train=False)


def test_download_with_the_files_in_place_loads_them(cifar10_root):
    # torchvision.datasets.CIFAR10(root, download=True) with the data already there just loads
    # it (the ViT and DCGAN examples call it so); Ember reads the binary version in place.
    root, parts = cifar10_root
    test = CIFAR10(root, train=False, download=True)
    np.testing.assert_array_equal(test.data, parts["test_batch.bin"][1])


def test_download_without_the_files_names_them(tmp_path):
    with pytest.raises(RuntimeError, match=r"test_batch\.bin not found in .*download=True, but "
                                           r"Ember never downloads data"):
        CIFAR10(tmp_path, train=False, download=True)


def test_cifar100_fine_and_coarse_labels(tmp_path):
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    labels, images, raw = random_records(4, 2, 20, 1)
    labels[:, 1] = [99, 0, 57, 3]  # fine labels use all 100 classes
    planes = images.transpose(0, 3, 1, 2).reshape(4, -1)
    (folder / "test.bin").write_bytes(np.concatenate([labels, planes], axis=1).tobytes())
    dataset = CIFAR100(tmp_path, train=False)
    assert len(dataset.classes) == 100 and len(dataset.coarse_classes) == 20
    assert dataset.targets == [99, 0, 57, 3]
    assert dataset.coarse_targets == labels[:, 0].tolist()
    assert dataset.classes[99] == "worm" and dataset.coarse_classes[0] == "aquatic_mammals"
    image, target = dataset[2]
    np.testing.assert_array_equal(np.asarray(image), images[2])
    assert target == 57
    (folder / "test.bin").write_bytes(raw[:3073])  # a CIFAR-10 sized record
    with pytest.raises(RuntimeError, match="multiple of 3074 bytes"):
        CIFAR100(tmp_path, train=False)
