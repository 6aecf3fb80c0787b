"""SST (label mapping, phrases) and the plain-text corpus reader."""

import pytest

from ember_text.datasets import NEUTRAL, SST, TextCorpus
from ember_text.trees import TreeBatch


@pytest.fixture
def tiny_sst(tmp_path, sample_lines):
    for split in ("train", "dev", "test"):
        (tmp_path / f"{split}.txt").write_text("\n".join(sample_lines) + "\n", encoding="utf-8")
    return tmp_path


def test_fine_grained_keeps_trees(tiny_sst, sample_lines):
    train = SST(tiny_sst, "train")
    assert len(train) == len(sample_lines) and train.num_classes == 5
    assert [str(tree) for tree in train] == sample_lines


def test_binary_mapping_drops_neutral_roots(tiny_sst):
    train = SST(tiny_sst, "train", fine_grained=False)
    # roots 3, 1, 2 (dropped), 4, 2 (dropped)
    assert [tree.label for tree in train] == ["1", "0", "1"] and train.num_classes == 2
    labels = {node.label for tree in train for node in tree.subtrees()}
    assert labels == {"0", "1", NEUTRAL}
    assert str(train[1]).startswith(f"(0 ({NEUTRAL} ({NEUTRAL} -LRB-)")
    batch = TreeBatch(train.trees)
    assert set(batch.labels.tolist()) == {0, 1, -100}  # neutral phrases are ignored


def test_phrases(tiny_sst, sample_lines):
    fine = SST(tiny_sst, "dev", phrases=True)
    assert len(fine) == sum(len(tree) for tree in SST(tiny_sst, "dev"))
    binary = SST(tiny_sst, "dev", fine_grained=False, phrases=True)
    assert binary.trees and all(tree.label in ("0", "1") for tree in binary)


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="split must be one of"):
        SST(tmp_path, "valid")
    with pytest.raises(FileNotFoundError, match="train.txt"):
        SST(tmp_path, "train")
    (tmp_path / "train.txt").write_text("(7 (2 a))\n")
    with pytest.raises(ValueError, match="label '7'"):
        SST(tmp_path, "train", fine_grained=False)


def test_real_sst_sizes(sst_dir):
    sizes = {split: (len(SST(sst_dir, split)), len(SST(sst_dir, split, fine_grained=False)))
             for split in ("train", "dev", "test")}
    assert sizes == {"train": (8544, 6920), "dev": (1101, 872), "test": (2210, 1821)}


def test_text_corpus_char_and_word(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("to be or not to be\nthat is the question\n" * 5, encoding="utf-8")
    chars = TextCorpus(path, "char", valid_fraction=0.2)
    total = len(path.read_text())
    assert chars.train.shape[0] + chars.valid.shape[0] == total
    assert chars.valid.shape[0] == total - int(total * 0.8)
    text = "".join(chars.vocab.lookup_tokens(chars.train.tolist() + chars.valid.tolist()))
    assert text == path.read_text()
    words = TextCorpus(path, "basic_english", valid_fraction=0.1)
    assert words.vocab.itos[:2] == ["<unk>", "<eos>"]
    first = words.vocab.lookup_tokens(words.train[:7].tolist())
    assert first == ["to", "be", "or", "not", "to", "be", "<eos>"]
    reused = TextCorpus(path, "basic_english", vocab=words.vocab)
    assert reused.vocab is words.vocab
    with pytest.raises(ValueError, match="valid_fraction"):
        TextCorpus(path, valid_fraction=1.0)
