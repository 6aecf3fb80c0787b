"""examples/vision/train.py: learns on a slice of the bundled data, checkpoints, logs, resumes."""

import argparse
import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import ember

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def train():
    spec = importlib.util.spec_from_file_location("vision_train", REPO / "examples/vision/train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_short_epoch_learns_checkpoints_and_resumes(train, tmp_path):
    argv = ["--model", "small_cnn", "--train-limit", "480", "--test-limit", "200", "--epochs", "1",
            "--batch-size", "32", "--lr", "0.05", "--log-dir", str(tmp_path)]
    accuracy = train.main(argv)
    assert accuracy > 0.4  # chance is 0.1

    checkpoint = ember.load(tmp_path / "checkpoint.safetensors")
    assert checkpoint["epoch"] == 1 and checkpoint["accuracy"] == accuracy
    assert checkpoint["settings"]["model"] == "small_cnn"
    if (tmp_path / "scalars.csv").exists():  # no ember.utils.tensorboard here: CSV scalars
        with open(tmp_path / "scalars.csv") as file:
            rows = {row["tag"]: float(row["value"]) for row in csv.DictReader(file)}
        assert rows["test/accuracy"] == pytest.approx(accuracy)
        assert {"train/loss", "train/accuracy", "test/loss", "lr"} <= set(rows)
    else:
        assert any(tmp_path.glob("events.out.tfevents.*"))

    # Resuming a finished run restores everything and trains no further.
    assert train.main(["--resume", str(tmp_path / "checkpoint.safetensors"),
                       "--log-dir", str(tmp_path / "resumed")]) == accuracy


def test_fake_data(train, tmp_path):
    accuracy = train.main(["--dataset", "fake", "--model", "lenet5", "--train-limit", "16",
                           "--test-limit", "8", "--epochs", "1", "--batch-size", "8",
                           "--log-dir", str(tmp_path)])
    assert 0 <= accuracy <= 1
    assert (tmp_path / "checkpoint.safetensors").is_file()


def test_grey_28x28_images_are_fitted_to_an_imagenet_model(train):
    images = np.random.randint(0, 256, (4, 28, 28, 1), dtype=np.uint8)
    args = argparse.Namespace(model="mobilenet_v2", model_option=[])
    model, channels, size = train.build(args, images, 10)
    assert (channels, size) == (3, 32)
    inputs, _ = train.to_dataset(images, np.arange(4), np.float32(0.5), np.float32(0.25),
                                 channels, size)[:]
    assert inputs.shape == (4, 3, 32, 32) and inputs.dtype == ember.float32
    np.testing.assert_array_equal(inputs[:, 0].numpy(), inputs[:, 2].numpy())
    np.testing.assert_allclose(inputs[:, :, :2].numpy(), -2.0)  # zero padding, normalised
    with ember.no_grad():
        assert model.eval()(inputs).shape == (4, 10)


def test_unknown_model_is_a_usage_error(train):
    with pytest.raises(SystemExit):
        train.parse_args(["--model", "resnet19"])


def test_model_options_reach_the_builder(train):
    assert train.parse_options(["width=8", "dropout=0.5", "name=x"]) == {
        "width": 8, "dropout": 0.5, "name": "x"}
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        train.parse_options(["width"])
    images = np.zeros((2, 28, 28, 1), dtype=np.uint8)
    args = argparse.Namespace(model="small_cnn", model_option=["width=8"])
    model, _, _ = train.build(args, images, 10)
    assert model.features[0].out_channels == 8


def test_augment_crops_the_padded_image_and_flips_it(train):
    x = np.arange(3 * 2 * 4 * 5, dtype=np.float32).reshape(3, 2, 4, 5)
    fill = np.array([-1.0, -2.0], dtype=np.float32)
    ember.manual_seed(0)
    out = train.augment(ember.from_numpy(x), 1, fill).numpy()
    assert out.shape == x.shape
    canvas = np.empty((3, 2, 6, 7), dtype=np.float32)
    canvas[...] = fill.reshape(1, 2, 1, 1)
    canvas[:, :, 1:5, 1:6] = x
    for image, crop in zip(canvas, out):
        windows = [image[:, top:top + 4, left:left + 5] for top in range(3) for left in range(3)]
        assert any(np.array_equal(crop, window) or np.array_equal(crop, window[..., ::-1])
                   for window in windows), "each output is a window of the padded image"
    ember.manual_seed(0)
    np.testing.assert_array_equal(train.augment(ember.from_numpy(x), 1, fill).numpy(), out)

    flipped = train.augment(ember.from_numpy(np.repeat(x, 20, axis=0)), 0, fill).numpy()
    mirrored = [np.array_equal(a, b[..., ::-1]) for a, b in zip(flipped, np.repeat(x, 20, axis=0))]
    kept = [np.array_equal(a, b) for a, b in zip(flipped, np.repeat(x, 20, axis=0))]
    assert all(m or k for m, k in zip(mirrored, kept)) and any(mirrored) and any(kept)
