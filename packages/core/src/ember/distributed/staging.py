"""Buffers a communication engine can use in place: a tensor's own array when it already fits,
else a contiguous copy (of the engine's dtype, on its device) written back when the operation
completes."""

from __future__ import annotations

from ember.backend import xp_of
from ember.tensor.tensor import Tensor


def buffer_of(tensor: Tensor, fits, convert):
    """``(buffer, staged)``: the tensor's array when ``fits(array)``, else ``convert(array)``."""
    array = tensor._array
    if fits(array):
        return array, False
    return convert(array), True


def write_back(tensor: Tensor, values) -> None:
    """Copies ``values`` (any device) into the tensor's array in place."""
    array = tensor._array
    array[...] = xp_of(array).asarray(values).astype(array.dtype, copy=False)
    tensor._bump_version()


def finisher(staged: bool, tensor: Tensor, buffer):
    """The finish step of an operation that wrote into ``buffer``: a copy back when staged, else
    the tensor's version bumped (it was changed in place)."""
    return (lambda: write_back(tensor, buffer)) if staged else tensor._bump_version
