"""``--tensorboard`` in the reference training scripts: tiny runs whose events TensorBoard reads."""

import importlib.util
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

REPO = Path(__file__).resolve().parents[2]


def _script(relative: str):
    spec = importlib.util.spec_from_file_location(Path(relative).stem, REPO / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tags(log_dir: Path) -> dict:
    accumulator = EventAccumulator(str(log_dir)).Reload()
    return {kind: set(accumulator.Tags()[kind]) for kind in ("scalars", "histograms")}, accumulator


def test_vision_train(tmp_path):
    train = _script("examples/vision/train.py")
    accuracy = train.main(["--train-limit", "64", "--test-limit", "32", "--epochs", "1",
                           "--batch-size", "32", "--log-dir", str(tmp_path), "--tensorboard"])
    tags, events = _tags(tmp_path)
    assert {"train/loss", "train/accuracy", "test/loss", "test/accuracy", "lr"} <= tags["scalars"]
    assert any(tag.startswith("parameters/") for tag in tags["histograms"])
    assert [e.value for e in events.Scalars("test/accuracy")] == [pytest.approx(accuracy)]
    assert [e.value for e in events.Scalars("lr")] == [pytest.approx(0.1)]
    assert not (tmp_path / "scalars.csv").exists()


def test_char_lm(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    char_lm = _script("examples/text/char_lm.py")
    result = char_lm.main(["--data", str(text), "--hidden-size", "8", "--embedding-dim", "4",
                           "--batch-size", "4", "--bptt", "20", "--epochs", "1", "--quiet",
                           "--sample-length", "5", "--log-dir", str(tmp_path / "run"),
                           "--tensorboard"])
    tags, events = _tags(tmp_path / "run")
    assert tags["scalars"] == {"train/loss", "valid/loss", "lr"}
    assert {"embedding.weight", "decoder.weight"} <= tags["histograms"]
    assert [e.value for e in events.Scalars("valid/loss")] == [pytest.approx(result["valid"])]


def test_sst_treelstm(tmp_path):
    sst = _script("examples/text/sst_treelstm.py")
    sst.main(["--data", str(REPO / "data" / "synthetic-sentiment"), "--embedding-dim", "8",
              "--hidden-size", "8", "--batch-size", "20", "--quiet", "--epochs", "1",
              "--train-limit", "40", "--log-dir", str(tmp_path), "--tensorboard"])
    tags, events = _tags(tmp_path)
    assert {"train/loss", "dev/sentence_accuracy", "dev/phrase_accuracy"} <= tags["scalars"]
    assert "embedding.weight" in tags["histograms"]
    network = EventAccumulator(str(tmp_path / "lr" / "network")).Reload()
    assert [e.value for e in network.Scalars("lr")] == [pytest.approx(0.05)]


def test_rl_train(tmp_path, capsys):
    from ember_rl.cli import main

    # Two PPO rollouts of 8 x 32 steps: the first update's losses are dumped with the second.
    assert main(["train", "ppo", "CartPole-v1", "--timesteps", "512", "--seed", "0",
                 "--eval-episodes", "1", "--verbose", "1", "--tensorboard", "--tensorboard-log",
                 str(tmp_path)]) == 0
    (run,) = tmp_path.iterdir()
    tags, _ = _tags(run)
    assert {"train/value_loss", "train/learning_rate", "time/fps"} <= tags["scalars"]
    assert any(tag.startswith("parameters/") for tag in tags["histograms"])
    out = capsys.readouterr().out
    assert "time/" in out and "parameters/" not in out  # histograms go to TensorBoard only
