"""Variable-length sequences for recurrent layers: ``PackedSequence`` and the packing helpers.

A packed sequence stores the valid steps of a batch time-major, sequences sorted by decreasing
length: step ``t`` holds ``batch_sizes[t]`` rows, the sequences still running at ``t``. Every
conversion here (pack, pad, unpad) is one concatenation plus one gather whose index is computed
on the host from the lengths, so gradients flow through them as through ordinary indexing.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable

import numpy as np

from ember.ops.join import cat
from ember.tensor.creation import tensor as _tensor
from ember.tensor.tensor import Tensor

__all__ = [
    "PackedSequence", "invert_permutation", "pack_padded_sequence", "pack_sequence",
    "pad_packed_sequence", "pad_sequence", "unpack_sequence", "unpad_sequence",
]

_PackedSequenceBase = namedtuple(
    "_PackedSequenceBase", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"]
)


class PackedSequence(_PackedSequenceBase):
    """A batch of variable-length sequences packed time-major (what ``pack_*`` return).

    Attributes:
        data: ``(sum(lengths), *)`` the valid steps, step by step, longest sequences first.
        batch_sizes: int64 cpu tensor ``(max_length,)``: the rows of each step.
        sorted_indices: int64 ``(B,)``: the original index of each sorted sequence (None when the
            input was already sorted).
        unsorted_indices: its inverse permutation (None likewise).

    Example:
        >>> packed = pack_sequence([ember.ones(3, 2), ember.ones(1, 2)])
        >>> packed.batch_sizes
        tensor([2, 1, 1])
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:  # PyTorch also accepts the pair (data, batch_sizes)
            data, batch_sizes = data
        if not isinstance(batch_sizes, Tensor):
            batch_sizes = _tensor(np.asarray(batch_sizes, dtype=np.int64))
        if batch_sizes.device.type != "cpu":
            raise ValueError(
                "batch_sizes should always be on CPU. Instances of PackedSequence should never be "
                "created manually. They should be instantiated by functions like pack_sequence "
                "and pack_padded_sequences in nn.utils.rnn."
            )
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """Moves or casts ``data`` (the indices follow it to its device); itself if unchanged."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        sorted_indices, unsorted_indices = (
            None if index is None else index.to(data.device)
            for index in (self.sorted_indices, self.unsorted_indices)
        )
        return type(self)(data, self.batch_sizes, sorted_indices, unsorted_indices)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, device=None) -> PackedSequence:
        return self.to("cuda" if device is None else device)

    def double(self) -> PackedSequence:
        return self.to("float64")

    def float(self) -> PackedSequence:
        return self.to("float32")

    def half(self) -> PackedSequence:
        return self.to("float16")

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of an int64 permutation ``(B,)``, on the same device (None stays None)."""
    if permutation is None:
        return None
    order = np.asarray(permutation.cpu().numpy())
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size, dtype=order.dtype)
    return _tensor(inverse, device=permutation.device)


# ---- index plans ---------------------------------------------------------------------------------


def _host_lengths(lengths) -> np.ndarray:
    if isinstance(lengths, Tensor):
        lengths = lengths.cpu().numpy()
    values = np.asarray(lengths)
    if values.ndim != 1:
        raise RuntimeError(f"'lengths' must be 1-D, got shape {tuple(values.shape)}")
    return values.astype(np.int64)


def _pack_plan(lengths: np.ndarray, enforce_sorted: bool):
    """Where each packed row comes from: (steps, original batch indices, batch_sizes, order)."""
    if lengths.size == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    if enforce_sorted:
        if np.any(lengths[:-1] < lengths[1:]):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability."
            )
        order, sorted_lengths = None, lengths
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_lengths = lengths[order]
    if sorted_lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    running = np.arange(sorted_lengths[0])[:, None] < sorted_lengths[None, :]  # (T, B)
    steps, rows = np.nonzero(running)  # time-major, longest first: the packed order
    batch_sizes = running.sum(axis=1).astype(np.int64)
    return steps, (rows if order is None else order[rows]), batch_sizes, order


def _packed(data: Tensor, batch_sizes: np.ndarray, order: np.ndarray | None) -> PackedSequence:
    if order is None:
        return PackedSequence(data, _tensor(batch_sizes))
    return PackedSequence(data, _tensor(batch_sizes), _tensor(order, device=data.device))


def _gather_padded(source: Tensor, index: np.ndarray, padding_value) -> Tensor:
    """``source[index]`` along dim 0, where ``index == len(source)`` reads ``padding_value``."""
    if index.size and index.max() >= source.shape[0]:
        pad = source.new_full((1,) + tuple(source.shape[1:]), padding_value)
        source = cat([source, pad], 0)
    return source[_tensor(index, device=source.device)]


# ---- public helpers ------------------------------------------------------------------------------


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Packs a padded batch ``(T, B, *)`` (``(B, T, *)`` if ``batch_first``) of given lengths.

    With ``enforce_sorted`` the lengths must be decreasing; otherwise the batch is sorted here
    and ``sorted_indices`` records the order (outputs of RNNs come back in the input's order).

    Example:
        >>> padded = ember.zeros(3, 2, 4)
        >>> pack_padded_sequence(padded, [3, 1]).data.shape
        (4, 4)
    """
    lengths = _host_lengths(lengths)
    batch_dim, time_dim = (0, 1) if batch_first else (1, 0)
    if input.dim() < 2:
        raise RuntimeError(f"pack_padded_sequence: expected an input of at least 2 dims (time, "
                           f"batch), got shape {tuple(input.shape)}")
    if lengths.size != input.shape[batch_dim]:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lengths.size} (batch_size={input.shape[batch_dim]})")
    steps, rows, batch_sizes, order = _pack_plan(lengths, enforce_sorted)
    if batch_sizes.size > input.shape[time_dim]:
        raise RuntimeError(f"pack_padded_sequence: a length of {batch_sizes.size} exceeds the "
                           f"{input.shape[time_dim]} steps of the input")
    key = (rows, steps) if batch_first else (steps, rows)
    data = input[tuple(_tensor(k, device=input.device) for k in key)]
    return _packed(data, batch_sizes, order)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None):
    """Inverse of ``pack_padded_sequence``: ``(padded (T, B, *), lengths (B,))``.

    The batch comes back in its original order; ``total_length`` pads to that many steps.
    ``lengths`` is an int64 cpu tensor.
    """
    batch_sizes = sequence.batch_sizes.numpy()
    max_length = batch_sizes.size
    if total_length is None:
        total_length = max_length
    elif total_length < max_length:
        raise ValueError(
            "Expected total_length to be at least the length of the longest sequence in input, "
            f"but got total_length={total_length} and max sequence length being {max_length}"
        )
    batch = np.arange(batch_sizes[0])[None, :]
    sizes = np.zeros(total_length, dtype=np.int64)
    sizes[:max_length] = batch_sizes
    starts = np.cumsum(sizes) - sizes
    index = np.where(batch < sizes[:, None], starts[:, None] + batch, sequence.data.shape[0])
    lengths = (batch_sizes[:, None] > batch).sum(axis=0)
    if sequence.unsorted_indices is not None:
        unsorted = sequence.unsorted_indices.cpu().numpy()
        index, lengths = index[:, unsorted], lengths[unsorted]
    padded = _gather_padded(sequence.data, index.T if batch_first else index, padding_value)
    return padded, _tensor(lengths.astype(np.int64))


def _as_sequences(sequences, name: str) -> list:
    if not isinstance(sequences, (Iterable, Tensor)):
        raise RuntimeError(f"{name}: Expected iterable for input sequences, but got arg of type: "
                           f"{type(sequences).__name__}")
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError(f"{name}: received an empty list of sequences")
    return sequences


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stacks tensors ``(L_i, *)`` into ``(max L, B, *)`` (``(B, max L, *)`` if ``batch_first``).

    Example:
        >>> pad_sequence([ember.ones(3), ember.ones(1)]).tolist()
        [[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]]
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    sequences = _as_sequences(sequences, "pad_sequence")
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    steps = np.arange(lengths.max())[:, None]
    if padding_side == "left":
        steps = steps - (lengths.max() - lengths)[None, :]
    index = np.where((steps >= 0) & (steps < lengths), starts + steps, lengths.sum())
    return _gather_padded(cat(sequences, 0), index.T if batch_first else index, padding_value)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of tensors ``(L_i, *)`` (same as padding then ``pack_padded_sequence``)."""
    sequences = _as_sequences(sequences, "pack_sequence")
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    steps, rows, batch_sizes, order = _pack_plan(lengths, enforce_sorted)
    starts = np.cumsum(lengths) - lengths
    data = cat(sequences, 0)[_tensor(starts[rows] + steps, device=sequences[0].device)]
    return _packed(data, batch_sizes, order)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """Splits a padded batch back into its tensors ``(L_i, *)``."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :length]
            for i, length in enumerate(_host_lengths(lengths).tolist())]


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """Splits a packed batch back into its tensors ``(L_i, *)``, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
