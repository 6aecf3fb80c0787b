"""Vocab, tokenizers and the padding/packing/bucketing helpers."""

from collections import Counter

import numpy as np
import pytest

import ember
from ember.nn.utils.rnn import pad_packed_sequence
from ember_text.padding import bucket_batches, pack_batch, pad_batch
from ember_text.tokenizers import basic_english, characters, get_tokenizer
from ember_text.vocab import Vocab


def test_build_order_specials_min_freq_max_size():
    counter = Counter({"b": 3, "a": 3, "c": 1, "d": 2})
    vocab = Vocab.from_counter(counter, specials=["<unk>", "<pad>"])
    assert vocab.itos == ["<unk>", "<pad>", "a", "b", "d", "c"]  # frequency, then alphabetical
    assert Vocab.from_counter(counter, min_freq=2).itos == ["<unk>", "a", "b", "d"]
    assert Vocab.from_counter(counter, max_size=2).itos == ["<unk>", "a", "b"]
    assert Vocab.build([["x", "y"], ["y"]], specials=[]).itos == ["y", "x"]


def test_lookup_unknown_contains_len():
    vocab = Vocab.build([["a", "b", "a"]], specials=["<unk>"])
    assert len(vocab) == 3 and "a" in vocab and "z" not in vocab
    assert vocab["a"] == 1 and vocab["zzz"] == vocab.unk_index == 0
    assert vocab.lookup_indices(["b", "a", "q"]) == [2, 1, 0]
    assert vocab.lookup_tokens([2, 1]) == ["b", "a"]
    with pytest.raises(IndexError, match="index 9 out of range for 3"):
        vocab.lookup_tokens([9])
    strict = Vocab(["x", "y"])
    with pytest.raises(KeyError, match="'z' is not in the vocabulary"):
        strict["z"]


def test_errors():
    with pytest.raises(ValueError, match="appears more than once"):
        Vocab(["a", "a"])
    with pytest.raises(ValueError, match="not among the tokens"):
        Vocab(["a"], unk_token="<unk>")
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.from_counter(Counter("ab"), min_freq=0)


def test_save_load_round_trip(tmp_path):
    vocab = Vocab.build([["héllo", "wörld", "héllo", "\n", " "]], specials=["<unk>", "<eos>"])
    vocab.save(tmp_path / "vocab.json")
    loaded = Vocab.load(tmp_path / "vocab.json")
    assert loaded == vocab and loaded["nope"] == 0
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a saved Vocab"):
        Vocab.load(tmp_path / "bad.json")


def test_tokenizers():
    assert basic_english('He said: "Great film!" (2 hours) <br />Wow.') == [
        "he", "said", "great", "film", "!", "(", "2", "hours", ")", "wow", "."]
    assert characters("a b\n") == ["a", " ", "b", "\n"]
    assert get_tokenizer(None)("a  b") == ["a", "b"]
    assert get_tokenizer("basic_english") is basic_english
    with pytest.raises(ValueError, match="unknown tokenizer 'spacy'"):
        get_tokenizer("spacy")


def test_pad_and_pack():
    sequences = [[1, 2], [3, 4, 5], [6]]
    padded, lengths = pad_batch(sequences, padding_value=-1)
    assert padded.tolist() == [[1, 3, 6], [2, 4, -1], [-1, 5, -1]] and lengths.tolist() == [2, 3, 1]
    assert pad_batch(sequences, batch_first=True)[0].tolist() == [[1, 2, 0], [3, 4, 5], [6, 0, 0]]
    packed = pack_batch(sequences)
    assert packed.batch_sizes.tolist() == [3, 2, 1]
    unpacked, unpacked_lengths = pad_packed_sequence(packed, padding_value=0)
    assert unpacked.tolist() == pad_batch(sequences)[0].tolist()
    assert unpacked_lengths.tolist() == [2, 3, 1]
    # packed ids embed and run through an LSTM like any packed sequence
    embedding, lstm = ember.nn.Embedding(7, 4), ember.nn.LSTM(4, 3)
    embedded = type(packed)(embedding(packed.data), packed.batch_sizes, packed.sorted_indices,
                            packed.unsorted_indices)
    output, (h, _) = lstm(embedded)
    assert tuple(h.shape) == (1, 3, 3)


def test_bucket_batches_cover_everything_with_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 100, size=1000)
    batches = bucket_batches(lengths, 32, generator=np.random.default_rng(1), bucket_factor=10)
    flat = sorted(i for batch in batches for i in batch)
    assert flat == list(range(1000)) and all(len(b) <= 32 for b in batches)
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 15  # random batches would spread over ~90
    assert bucket_batches([5, 1, 4, 2], 2, shuffle=False) == [[1, 3], [2, 0]]
