"""Marking op outputs as views of their input, as PyTorch does for view ops.

A view shares its base's memory and version counter, so an in-place change through either is
seen by every saved-tensor check.
"""

from __future__ import annotations

from ember.tensor.tensor import Tensor


def as_view(result: Tensor, base: Tensor) -> Tensor:
    """Marks ``result`` (an op output sharing ``base``'s memory) as a view of ``base``."""
    result._base = base._base if base._base is not None else base
    result._version = base._share_version()
    return result
