"""ImageFolder / DatasetFolder on a tree of tiny PNGs written by the tests, and FakeData."""

import numpy as np
import pytest
from PIL import Image

import ember
from ember_vision.datasets.fakedata import FakeData
from ember_vision.datasets.folder import IMG_EXTENSIONS, DatasetFolder, ImageFolder, find_classes


def write_png(path, value, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    size = (3, 2)
    Image.new(mode, size, value).save(path)


@pytest.fixture
def image_root(tmp_path):
    """root/cat/{a,b}.png, root/dog/c.png + nested/d.PNG, and files to skip."""
    write_png(tmp_path / "cat" / "b.png", (10, 20, 30))
    write_png(tmp_path / "cat" / "a.png", 40, mode="L")  # loaded as RGB
    write_png(tmp_path / "dog" / "c.png", (50, 60, 70))
    write_png(tmp_path / "dog" / "nested" / "d.PNG", (80, 90, 100))
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    (tmp_path / "readme.md").write_text("a file beside the class folders")
    return tmp_path


def test_image_folder_classes_and_samples(image_root):
    dataset = ImageFolder(image_root)
    assert dataset.classes == ["cat", "dog"]
    assert dataset.class_to_idx == {"cat": 0, "dog": 1}
    assert [(p.replace(str(image_root), ""), t) for p, t in dataset.samples] == [
        ("/cat/a.png", 0), ("/cat/b.png", 0), ("/dog/c.png", 1), ("/dog/nested/d.PNG", 1)]
    assert dataset.targets == [0, 0, 1, 1] and dataset.imgs == dataset.samples
    assert dataset.extensions == IMG_EXTENSIONS and len(dataset) == 4


def test_image_folder_items_are_rgb(image_root):
    dataset = ImageFolder(image_root, transform=np.asarray, target_transform=str)
    gray, target = dataset[0]
    assert gray.shape == (2, 3, 3) and (gray == 40).all() and target == "0"
    image, _ = ImageFolder(image_root)[3]
    assert image.mode == "RGB" and np.asarray(image)[1, 2].tolist() == [80, 90, 100]


def test_is_valid_file_replaces_extensions(image_root):
    dataset = ImageFolder(image_root, is_valid_file=lambda path: path.endswith("b.png")
                          or path.endswith(".PNG"))
    assert [t for _, t in dataset.samples] == [0, 1] and dataset.extensions is None
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        DatasetFolder(image_root, loader=open, extensions=(".png",), is_valid_file=bool)
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        DatasetFolder(image_root, loader=open)


def test_dataset_folder_with_custom_loader(image_root):
    dataset = DatasetFolder(image_root, loader=lambda p: open(p).read(), extensions=".txt",
                            allow_empty=True)
    assert dataset.samples == [(str(image_root / "dog" / "notes.txt"), 1)]
    assert dataset[0] == ("not an image", 1)


def test_class_without_valid_file_is_an_error(image_root):
    (image_root / "empty").mkdir()
    (image_root / "empty" / "data.csv").write_text("1,2")
    with pytest.raises(FileNotFoundError, match="no valid file for the classes empty.*\\.png"):
        ImageFolder(image_root)
    assert ImageFolder(image_root, allow_empty=True).classes == ["cat", "dog", "empty"]


def test_root_without_class_folders(tmp_path):
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        find_classes(tmp_path)
    with pytest.raises(FileNotFoundError):
        ImageFolder(tmp_path / "missing")


def test_undecodable_image_names_the_file(image_root):
    (image_root / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    dataset = ImageFolder(image_root)
    index = [p for p, _ in dataset.samples].index(str(image_root / "cat" / "broken.png"))
    with pytest.raises(OSError, match="broken.png.*cannot load image"):
        dataset[index]


def test_fake_data_is_deterministic_per_index():
    dataset = FakeData(size=5, image_size=(3, 6, 4), num_classes=3)
    assert len(dataset) == 5
    image, target = dataset[2]
    assert image.mode == "RGB" and image.size == (4, 6) and 0 <= target < 3
    state = ember.get_rng_state()
    again, target_again = dataset[2]
    np.testing.assert_array_equal(np.asarray(image), np.asarray(again))
    assert target == target_again
    assert ember.get_rng_state().tolist() == state.tolist()  # the global stream is untouched
    assert not np.array_equal(np.asarray(dataset[1][0]), np.asarray(image))
    shifted = FakeData(size=5, image_size=(3, 6, 4), num_classes=3, random_offset=1)
    np.testing.assert_array_equal(np.asarray(shifted[1][0]), np.asarray(image))
    assert FakeData(size=2, image_size=(1, 3, 3))[0][0].mode == "L"
    with pytest.raises(IndexError):
        dataset[5]


def test_fake_data_transforms_and_labels_cover_classes():
    dataset = FakeData(size=40, image_size=(3, 2, 2), num_classes=4, transform=np.asarray,
                       target_transform=lambda t: -t)
    pixels, target = dataset[0]
    assert pixels.shape == (2, 2, 3) and target <= 0
    assert sorted({-dataset[i][1] for i in range(40)}) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="image_size"):
        FakeData(image_size=(2, 4, 4))
