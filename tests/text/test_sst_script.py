"""examples/text/sst_treelstm.py on the shipped synthetic treebank: a Tree-LSTM learns the
compositional labels a bag of words cannot, checkpoints, and resumes."""

import importlib.util
from pathlib import Path

import pytest

import ember

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "synthetic-sentiment"
SMALL = ["--data", str(DATA), "--embedding-dim", "32", "--hidden-size", "32", "--batch-size",
         "20", "--quiet"]


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("sst_treelstm",
                                                  REPO / "examples/text/sst_treelstm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_treebank_is_what_the_generator_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("generate", DATA / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    for split, lines in generate.generate().items():
        assert (DATA / f"{split}.txt").read_text(encoding="utf-8") == "\n".join(lines) + "\n"


def test_tree_lstm_beats_bag_of_words(script, tmp_path):
    tree = script.main([*SMALL, "--model", "binary", "--epochs", "3", "--dropout", "0",
                        "--lr", "0.05", "--embedding-lr", "0.05", "--log-dir", str(tmp_path / "t")])
    bow = script.main([*SMALL, "--model", "bow", "--epochs", "10", "--lr", "0.3",
                       "--embedding-lr", "0.3", "--log-dir", str(tmp_path / "b")])
    assert tree["test"] > 0.9  # the rules are learnt
    assert bow["test"] < 0.65  # a bag of words cannot follow them
    assert tree["test_phrases"] > 0.9


def test_checkpoint_and_resume(script, tmp_path):
    options = [*SMALL, "--model", "childsum", "--train-limit", "100", "--lowercase",
               "--log-dir", str(tmp_path)]
    script.main([*options, "--epochs", "1"])
    checkpoint = ember.load(tmp_path / "checkpoint.safetensors")
    assert checkpoint["epoch"] == 1 and checkpoint["settings"]["model"] == "childsum"
    assert checkpoint["settings"]["lowercase"] is True
    assert checkpoint["vocab"][0] == "<unk>"
    result = script.main(["--resume", str(tmp_path / "checkpoint.safetensors"), "--epochs", "2",
                          "--data", str(DATA), "--quiet"])
    assert ember.load(tmp_path / "checkpoint.safetensors")["epoch"] == 2
    assert 0.0 <= result["test"] <= 1.0 and result["epoch"] in (1, 2)
