"""Turning a list of samples into a batch (``default_collate``) and samples into tensors."""

from __future__ import annotations

import collections.abc
import numbers

import numpy as np

from ember.tensor import Tensor, as_tensor


def default_convert(data):
    """Numpy arrays (and nested containers of them) to tensors, leaving everything else."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _same_mapping(data, {k: default_convert(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(default_convert(d) for d in data)
    return data


def _same_mapping(original, converted: dict):
    """``converted`` as the mapping type of ``original`` where that type can be rebuilt."""
    try:
        return type(original)(converted)
    except TypeError:
        return converted


def default_collate(batch):
    """Stacks a list of samples into a batch, recursing into tuples, lists and dicts.

    Tensors and numpy arrays are stacked along a new first dimension; Python floats become a
    float64 tensor, ints int64, bools bool (as in PyTorch); strings stay a list.

    Example:
        >>> default_collate([(ember.zeros(2), 1), (ember.ones(2), 0)])[1]
        tensor([1, 0])
    """
    first = batch[0]
    if isinstance(first, Tensor):
        from ember.ops import stack

        return stack(list(batch), 0)
    if isinstance(first, np.ndarray):
        if first.dtype.kind not in "biuf":
            raise TypeError(
                f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                f"lists; found numpy array of dtype {first.dtype}"
            )
        return as_tensor(np.stack(batch))
    if isinstance(first, np.generic):
        return as_tensor(np.array(batch))
    if isinstance(first, bool):
        return as_tensor(np.array(batch, dtype=np.bool_))
    if isinstance(first, numbers.Integral):
        return as_tensor(np.array(batch, dtype=np.int64))
    if isinstance(first, numbers.Real):
        return as_tensor(np.array(batch, dtype=np.float64))
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, collections.abc.Mapping):
        columns = {key: default_collate([sample[key] for sample in batch]) for key in first}
        return _same_mapping(first, columns)
    if isinstance(first, tuple) and hasattr(first, "_fields"):
        return type(first)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(first, collections.abc.Sequence):
        if any(len(sample) != len(first) for sample in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of "
                               "equal size")
        columns = [default_collate(list(field)) for field in zip(*batch)]
        return columns if isinstance(first, list) else type(first)(columns)
    if first is None:
        return list(batch)
    raise TypeError(
        "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        f"found {type(first).__name__}"
    )
