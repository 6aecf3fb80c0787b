"""``Vocab``: a token <-> index table built from counts, with specials and an unknown index."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path


class Vocab:
    """Tokens numbered ``0 .. len(vocab) - 1`` (torchtext's ``Vocab``, with a JSON file format).

    Args:
        tokens: the tokens in index order (no repeats).
        unk_token: the token unknown tokens map to (it must be in ``tokens``), or None to raise
            ``KeyError`` for unknown tokens.

    Example:
        >>> vocab = Vocab.build([["a", "b", "a"], ["c"]], specials=["<unk>", "<pad>"])
        >>> vocab.lookup_indices(["a", "zzz"]), vocab.lookup_tokens([3, 4])
        ([2, 0], ['b', 'c'])
    """

    def __init__(self, tokens: Sequence[str], unk_token: str | None = None) -> None:
        self.itos = list(tokens)
        self.stoi = {token: index for index, token in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            repeated = next(t for t in self.itos if self.itos.count(t) > 1)
            raise ValueError(f"Vocab: token {repeated!r} appears more than once")
        if unk_token is not None and unk_token not in self.stoi:
            raise ValueError(f"Vocab: unk_token {unk_token!r} is not among the tokens")
        self.unk_token = unk_token
        self.unk_index = None if unk_token is None else self.stoi[unk_token]

    @classmethod
    def from_counter(cls, counter: Counter, specials: Sequence[str] = ("<unk>",),
                     min_freq: int = 1, max_size: int | None = None,
                     unk_token: str | None = "<unk>") -> Vocab:
        """Specials first, then tokens seen at least ``min_freq`` times, most frequent first
        (ties alphabetical), at most ``max_size`` of them (specials not counted)."""
        if min_freq < 1:
            raise ValueError(f"Vocab: min_freq must be at least 1, got {min_freq}")
        specials = list(specials)
        ranked = sorted((item for item in counter.items()
                         if item[1] >= min_freq and item[0] not in specials),
                        key=lambda item: (-item[1], item[0]))
        if max_size is not None:
            ranked = ranked[:max_size]
        if unk_token is not None and unk_token not in specials:
            unk_token = None
        return cls(specials + [token for token, _ in ranked], unk_token)

    @classmethod
    def build(cls, sequences: Iterable[Iterable[str]], **options) -> Vocab:
        """From an iterable of token sequences (sentences); options as ``from_counter``."""
        counter = Counter()
        for sequence in sequences:
            counter.update(sequence)
        return cls.from_counter(counter, **options)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        index = self.stoi.get(token, self.unk_index)
        if index is None:
            raise KeyError(f"Vocab: token {token!r} is not in the vocabulary (and there is no "
                           "unk_token)")
        return index

    def __eq__(self, other) -> bool:
        return (isinstance(other, Vocab) and self.itos == other.itos
                and self.unk_token == other.unk_token)

    def lookup_indices(self, tokens: Iterable[str]) -> list[int]:
        return [self[token] for token in tokens]

    def lookup_tokens(self, indices: Iterable[int]) -> list[str]:
        tokens = []
        for index in indices:
            if not 0 <= index < len(self.itos):
                raise IndexError(f"Vocab: index {index} out of range for {len(self.itos)} tokens")
            tokens.append(self.itos[index])
        return tokens

    def save(self, path) -> None:
        """Writes ``{"tokens": [...], "unk_token": ...}`` as UTF-8 JSON."""
        data = {"tokens": self.itos, "unk_token": self.unk_token}
        Path(path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path) -> Vocab:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
            raise ValueError(f"Vocab.load: {path} is not a saved Vocab (expected a JSON object "
                             "with a 'tokens' list)")
        return cls(data["tokens"], data.get("unk_token"))

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, unk_token={self.unk_token!r})"
