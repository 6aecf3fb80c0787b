"""Array operations whose numpy and cupy spellings differ; ops call these instead of branching."""

from __future__ import annotations

import numpy as np


def index_add(target, index, values) -> None:
    """``target[index] += values`` with repeated indices accumulated (in place)."""
    if type(target) is np.ndarray:
        np.add.at(target, index, values)
    else:
        import cupy

        cupy.add.at(target, index, values)


def as_array(value, xp, dtype=None):
    """``value`` as an array of module ``xp`` (never a numpy scalar)."""
    return xp.asarray(value, dtype=dtype)


def pin_memory(array):
    """A copy of a host array in page-locked memory (faster, asynchronous copies to the GPU)."""
    import cupyx

    pinned = cupyx.empty_pinned(array.shape, dtype=array.dtype)
    pinned[...] = array
    return pinned
