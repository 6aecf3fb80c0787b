"""Truncated backpropagation through time: a token stream as parallel columns cut in segments."""

from __future__ import annotations

from collections.abc import Iterator

import ember


def batchify(data: ember.Tensor, batch_size: int) -> ember.Tensor:
    """``(L,)`` ids -> ``(L // batch_size, batch_size)``: column ``j`` is the ``j``-th slice of
    the stream, so the rows advance every column by one token (the remainder is dropped).

    Example:
        >>> batchify(ember.arange(7), 2).tolist()
        [[0, 3], [1, 4], [2, 5]]
    """
    steps = data.shape[0] // batch_size
    if steps < 2:
        raise ValueError(f"batchify: {data.shape[0]} tokens make fewer than 2 steps of "
                         f"{batch_size} columns")
    return data[:steps * batch_size].reshape(batch_size, steps).T.contiguous()


def bptt_batches(source: ember.Tensor, bptt: int) -> Iterator[tuple]:
    """(inputs, targets) segments of ``bptt`` steps over ``source`` ``(T, N)``: targets are the
    inputs shifted by one step; the last segment may be shorter.

    Example:
        >>> [tuple(x.shape) for x, _ in bptt_batches(ember.zeros(8, 2), 3)]
        [(3, 2), (3, 2), (1, 2)]
    """
    if bptt < 1:
        raise ValueError(f"bptt_batches: bptt must be positive, got {bptt}")
    for start in range(0, source.shape[0] - 1, bptt):
        length = min(bptt, source.shape[0] - 1 - start)
        yield source[start:start + length], source[start + 1:start + 1 + length]
