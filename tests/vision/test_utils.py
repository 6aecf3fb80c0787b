"""ember_vision.utils: make_grid layout, save_image through Pillow, confusion_matrix counts."""

import io

import numpy as np
import pytest
from PIL import Image

import ember
from ember_vision.utils import confusion_matrix, make_grid, save_image


def constant_images(count, channels=3, height=2, width=3):
    """Image k is filled with (k + 1) / 10."""
    values = (np.arange(count, dtype=np.float32) + 1) / 10
    return ember.from_numpy(np.broadcast_to(values[:, None, None, None],
                                            (count, channels, height, width)).copy())


def test_make_grid_layout(device):
    images = constant_images(5).to(device)
    grid = make_grid(images, nrow=2, padding=1, pad_value=0.5).cpu().numpy()
    # 3 rows of 2 columns: height 3 * (2 + 1) + 1, width 2 * (3 + 1) + 1.
    assert grid.shape == (3, 10, 9)
    for k in range(5):
        row, column = divmod(k, 2)
        top, left = 1 + row * 3, 1 + column * 4
        assert np.all(grid[:, top:top + 2, left:left + 3] == np.float32((k + 1) / 10))
    mask = np.ones(grid.shape[1:], dtype=bool)
    for k in range(5):
        row, column = divmod(k, 2)
        mask[1 + row * 3:3 + row * 3, 1 + column * 4:4 + column * 4] = False
    assert np.all(grid[:, mask] == 0.5)  # padding and the empty sixth cell


def test_make_grid_shapes_and_inputs():
    assert tuple(make_grid(constant_images(3)).shape) == (3, 6, 2 + 3 * 5)  # one row of 3
    one = constant_images(1, channels=1)
    assert tuple(make_grid(one).shape) == (3, 2, 3)  # a single image: no padding, 3 channels
    assert tuple(make_grid(ember.rand(4, 5)).shape) == (3, 4, 5)
    listed = make_grid([ember.zeros(1, 2, 2), ember.ones(1, 2, 2)], padding=0)
    np.testing.assert_array_equal(listed.numpy()[0], [[0, 0, 1, 1], [0, 0, 1, 1]])
    with pytest.raises(ValueError, match="B, C, H, W"):
        make_grid(ember.rand(1, 1, 1, 2, 2))


def test_make_grid_normalize():
    images = ember.tensor([[[[0.0, 2.0]]], [[[4.0, 8.0]]]])
    whole = make_grid(images, normalize=True, padding=0).numpy()[0]
    np.testing.assert_allclose(whole, [[0.0, 0.25, 0.5, 1.0]])
    each = make_grid(images, normalize=True, scale_each=True, padding=0).numpy()[0]
    np.testing.assert_allclose(each, [[0.0, 1.0, 0.0, 1.0]])
    ranged = make_grid(images, normalize=True, value_range=(0.0, 4.0), padding=0).numpy()[0]
    np.testing.assert_allclose(ranged, [[0.0, 0.5, 1.0, 1.0]])
    assert float(images.max()) == 8.0  # the input is not modified


def test_save_image_round_trip(tmp_path):
    images = ember.rand(4, 3, 5, 6)
    path = tmp_path / "grid.png"
    save_image(images, path, nrow=2, padding=1)
    saved = np.asarray(Image.open(path))
    grid = make_grid(images, nrow=2, padding=1).numpy()
    expected = np.clip(np.floor(grid * 255 + 0.5), 0, 255).astype(np.uint8).transpose(1, 2, 0)
    assert saved.shape == (13, 15, 3)
    np.testing.assert_array_equal(saved, expected)


def test_save_image_to_a_file_object():
    buffer = io.BytesIO()
    save_image(ember.full((1, 3, 3), 1.0), buffer, format="PNG")
    buffer.seek(0)
    image = Image.open(buffer)
    assert image.format == "PNG" and image.mode == "RGB"
    assert np.asarray(image).min() == 255


def test_confusion_matrix_counts(device):
    rng = np.random.default_rng(0)
    preds, targets = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    expected = np.zeros((4, 4), dtype=np.int64)
    for p, t in zip(preds, targets):
        expected[t, p] += 1
    out = confusion_matrix(ember.tensor(preds, device=device), ember.tensor(targets, device=device),
                           num_classes=4)
    assert out.dtype == ember.int64 and out.device == ember.device(device)
    np.testing.assert_array_equal(out.cpu().numpy(), expected)
    assert out.cpu().numpy().sum(axis=1).tolist() == np.bincount(targets, minlength=4).tolist()


def test_confusion_matrix_from_scores_and_errors():
    scores = ember.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.2, 0.6]])
    out = confusion_matrix(scores, ember.tensor([1, 2, 2]), 3)
    np.testing.assert_array_equal(out.numpy(), [[0, 0, 0], [0, 1, 0], [1, 0, 1]])
    empty = confusion_matrix(ember.tensor([], dtype=ember.int64),
                             ember.tensor([], dtype=ember.int64), 2)
    np.testing.assert_array_equal(empty.numpy(), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"targets hold class indices in \[0, 3\]"):
        confusion_matrix(ember.tensor([0, 1]), ember.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match="expected preds"):
        confusion_matrix(ember.tensor([0, 1]), ember.tensor([0]), 3)
    with pytest.raises(TypeError, match="integers"):
        confusion_matrix(ember.tensor([0.0]), ember.tensor([0]), 3)
