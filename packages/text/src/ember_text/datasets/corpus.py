"""Plain-text corpora for language modelling: one file, tokenized, split into train and valid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import ember
from ember_text.tokenizers import get_tokenizer
from ember_text.vocab import Vocab


class TextCorpus:
    """A text file as one stream of token ids, its tail held out for validation.

    Args:
        path: a UTF-8 text file.
        tokenizer: ``"char"`` (characters, white space included), ``"basic_english"`` or None
            (white space); word tokenizers add ``"<eos>"`` at every line end.
        valid_fraction: the share of the stream (its end) kept for ``valid``.
        vocab: a vocabulary to reuse (e.g. a checkpoint's); built from ``train`` otherwise.

    Attributes:
        vocab, train, valid: the ``Vocab``, and ``(num_tokens,)`` LongTensors.

    Example:
        >>> corpus = TextCorpus("../shared/data/tinyshakespeare/input.txt", "char")
        >>> len(corpus.vocab), corpus.train.shape[0] + corpus.valid.shape[0]
        (65, 1115394)
    """

    def __init__(self, path, tokenizer: str | None = "char", valid_fraction: float = 0.1,
                 vocab: Vocab | None = None) -> None:
        if not 0.0 < valid_fraction < 1.0:
            raise ValueError(f"TextCorpus: valid_fraction must be in (0, 1), got {valid_fraction}")
        text = Path(path).read_text(encoding="utf-8")
        tokenize = get_tokenizer(tokenizer)
        if tokenizer == "char":
            tokens = tokenize(text)
        else:
            tokens = [token for line in text.splitlines() for token in tokenize(line) + ["<eos>"]]
        cut = int(len(tokens) * (1.0 - valid_fraction))
        if vocab is None:
            specials = [] if tokenizer == "char" else ["<unk>", "<eos>"]
            unk = None if tokenizer == "char" else "<unk>"
            vocab = Vocab.build([tokens[:cut]], specials=specials, unk_token=unk)
        self.vocab = vocab
        ids = np.fromiter((vocab[token] for token in tokens), dtype=np.int64, count=len(tokens))
        self.train = ember.from_numpy(ids[:cut].copy())
        self.valid = ember.from_numpy(ids[cut:].copy())

    def __repr__(self) -> str:
        return (f"TextCorpus(vocab={len(self.vocab)}, train={self.train.shape[0]}, "
                f"valid={self.valid.shape[0]})")
