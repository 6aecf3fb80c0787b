"""Every kind SummaryWriter writes, read back with TensorBoard's own EventAccumulator."""

import io

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util

import ember
from ember.utils.tensorboard import SummaryWriter


def _read(log_dir):
    accumulator = EventAccumulator(str(log_dir), size_guidance={"images": 0, "tensors": 0,
                                                                "scalars": 0, "histograms": 0})
    return accumulator.Reload()


def _png(image_event):
    return np.asarray(Image.open(io.BytesIO(image_event.encoded_image_string)))


def test_scalars_histograms_images_and_text(tmp_path):
    image = ember.tensor(np.arange(3 * 2 * 4, dtype=np.float32).reshape(3, 2, 4) / 23)
    with SummaryWriter(tmp_path) as writer:
        for step in range(3):
            writer.add_scalar("loss", ember.tensor(2.0 ** -step), step)
        writer.add_histogram("weights", ember.tensor([0.0, 1.0, 1.0, 3.0]), 5)
        writer.add_image("image", image, 1)
        writer.add_images("batch", ember.zeros(2, 1, 3, 3, dtype=ember.uint8) + 200, 1)
        writer.add_text("note", "hello *ember*", 2)
    events = _read(tmp_path)
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [(0, 1.0), (1, 0.5), (2, 0.25)]
    (histogram,) = events.Histograms("weights")
    values = histogram.histogram_value
    assert (histogram.step, values.min, values.max, values.num, values.sum) == (5, 0, 3, 4, 5)
    (logged,) = events.Images("image")
    expected = (image.numpy().transpose(1, 2, 0) * 255).astype(np.uint8)  # truncated, as PyTorch
    np.testing.assert_array_equal(_png(logged), expected)
    (batch,) = events.Images("batch")
    assert (batch.height, batch.width) == (3, 6)  # two 3x3 images side by side
    np.testing.assert_array_equal(_png(batch), 200)
    (text,) = events.Tensors("note/text_summary")
    assert tensor_util.make_ndarray(text.tensor_proto).item() == b"hello *ember*"


def test_scalars_and_hparams_go_to_their_runs(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalars("lr", {"adam": ember.tensor(0.1), "sgd": 0.5}, 3)
        writer.add_hparams({"lr": 0.1, "opt": "adam"}, {"accuracy": ember.tensor(0.75)},
                           run_name="trial")
    adam = _read(tmp_path / "lr" / "adam")
    assert [(e.step, e.value) for e in adam.Scalars("lr")] == [(3, pytest.approx(0.1))]
    assert [e.value for e in _read(tmp_path / "lr" / "sgd").Scalars("lr")] == [0.5]
    trial = _read(tmp_path / "trial")
    assert [e.value for e in trial.Scalars("accuracy")] == [0.75]
    content = trial.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert (hparams["lr"].number_value, hparams["opt"].string_value) == (0.1, "adam")


def test_pr_curve_counts_match_a_hand_computation(tmp_path):
    labels = ember.tensor([1, 0, 1, 1, 0])
    predictions = ember.tensor([0.9, 0.8, 0.3, 0.6, 0.1])
    with SummaryWriter(tmp_path) as writer:
        writer.add_pr_curve("pr", labels, predictions, 7, num_thresholds=3)
    (event,) = _read(tmp_path).Tensors("pr")
    curve = tensor_util.make_ndarray(event.tensor_proto)
    # Thresholds 0, 0.5, 1: predictions fall in buckets floor(p * 2) = 1, 1, 0, 1, 0.
    tp, fp = np.array([3, 2, 0]), np.array([2, 1, 0])
    expected = [tp, fp, 2 - fp, 3 - tp, tp / np.maximum(tp + fp, 1e-7), tp / 3]
    assert event.step == 7
    np.testing.assert_allclose(curve, np.array(expected, dtype=np.float64), rtol=1e-6)
    with SummaryWriter(tmp_path / "bad") as writer:
        with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
            writer.add_pr_curve("pr", labels, predictions * 2)
        with pytest.raises(ValueError, match="same shape"):
            writer.add_pr_curve("pr", labels[:2], predictions)


def test_video_is_an_animated_gif_of_the_clips_in_a_grid(tmp_path):
    clips = np.zeros((2, 3, 1, 4, 5), np.uint8)
    for frame in range(3):
        clips[0, frame] = 60 * frame
        clips[1, frame] = 250 - 60 * frame
    with SummaryWriter(tmp_path) as writer:
        writer.add_video("clip", ember.from_numpy(clips), 4, fps=10)
    (video,) = _read(tmp_path).Images("clip")
    assert (video.step, video.height, video.width) == (4, 4, 10)
    gif = Image.open(io.BytesIO(video.encoded_image_string))
    assert gif.format == "GIF" and gif.n_frames == 3 and gif.info["duration"] == 100
    for frame in range(3):
        gif.seek(frame)
        pixels = np.asarray(gif.convert("L"))
        np.testing.assert_array_equal(pixels[:, :5], 60 * frame)
        np.testing.assert_array_equal(pixels[:, 5:], 250 - 60 * frame)
    with SummaryWriter(tmp_path / "bad") as writer:
        with pytest.raises(ValueError, match=r"\(N, T, C, H, W\).*got shape \(3, 1, 4, 5\)"):
            writer.add_video("clip", clips[0])


def test_figure_is_rendered_as_an_image(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(2, 1), dpi=50)
    figure.gca().plot([0, 1], [1, 0])
    with SummaryWriter(tmp_path) as writer:
        writer.add_figure("plot", figure, 2)
        with pytest.raises(TypeError, match="expected a matplotlib Figure.*got ndarray"):
            writer.add_figure("plot", np.zeros((2, 2)))
    (image,) = _read(tmp_path).Images("plot")
    assert (image.step, image.height, image.width) == (2, 50, 100)
    assert not plt.fignum_exists(figure.number)  # close=True closed it


def test_figure_without_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    with SummaryWriter(tmp_path) as writer:
        with pytest.raises(ImportError, match="add_figure needs matplotlib"):
            writer.add_figure("plot", object())


def test_embedding_writes_the_projector_files(tmp_path):
    points = ember.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with SummaryWriter(tmp_path) as writer:
        writer.add_embedding(points, metadata=["a", "b", "c"], global_step=1, tag="words")
        with pytest.raises(ValueError, match="2 labels for 3 points"):
            writer.add_embedding(points, metadata=["a", "b"])
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "words:00001"' in config
    folder = tmp_path / "00001" / "words"
    rows = [list(map(float, line.split("\t")))
            for line in (folder / "tensors.tsv").read_text().splitlines()]
    assert rows == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    assert (folder / "metadata.tsv").read_text().split() == ["a", "b", "c"]
