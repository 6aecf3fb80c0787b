"""Batching token sequences: padding, packing (``ember.nn.utils.rnn``) and length buckets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import ember
from ember.nn.utils.rnn import PackedSequence, pack_sequence


def pad_batch(sequences: Sequence[Sequence[int]], padding_value: int = 0,
              batch_first: bool = False, device=None) -> tuple:
    """Token-id sequences -> (padded LongTensor ``(T, N)`` or ``(N, T)``, lengths ``(N,)``).

    Example:
        >>> padded, lengths = pad_batch([[1, 2, 3], [4]], padding_value=0)
        >>> padded.tolist(), lengths.tolist()
        ([[1, 4], [2, 0], [3, 0]], [3, 1])
    """
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    if lengths.size == 0:
        raise ValueError("pad_batch: no sequences")
    out = np.full((lengths.size, int(lengths.max())), padding_value, dtype=np.int64)
    for row, sequence in enumerate(sequences):
        out[row, :len(sequence)] = sequence
    out = out if batch_first else out.T
    return ember.tensor(np.ascontiguousarray(out), device=device), ember.tensor(lengths)


def pack_batch(sequences: Sequence[Sequence[int]], enforce_sorted: bool = False,
               device=None) -> PackedSequence:
    """Token-id sequences -> a ``PackedSequence`` of LongTensor ids (embed ``.data`` and
    rebuild it, or embed each sequence first and use ``pack_sequence`` itself)."""
    tensors = [ember.tensor(np.asarray(s, dtype=np.int64), device=device) for s in sequences]
    return pack_sequence(tensors, enforce_sorted=enforce_sorted)


def bucket_batches(lengths: Sequence[int], batch_size: int, shuffle: bool = True,
                   generator: np.random.Generator | None = None,
                   bucket_factor: int = 50) -> list[list[int]]:
    """Index batches of similar lengths (less padding): chunks of ``batch_size * bucket_factor``
    indices (shuffled first) are sorted by length and cut into batches; batch order shuffled.

    Example:
        >>> bucket_batches([5, 1, 4, 2], 2, shuffle=False)
        [[1, 3], [2, 0]]
    """
    if batch_size < 1:
        raise ValueError(f"bucket_batches: batch_size must be positive, got {batch_size}")
    rng = generator if generator is not None else np.random.default_rng()
    order = rng.permutation(len(lengths)) if shuffle else np.arange(len(lengths))
    lengths = np.asarray(lengths)
    batches = []
    chunk = batch_size * bucket_factor
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i:i + batch_size].tolist() for i in range(0, len(part), batch_size)]
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches
