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


def pin_memory(array):
    """A copy of a host array in page-locked memory (faster, asynchronous copies to the GPU)."""
    import cupyx

    pinned = cupyx.empty_pinned(array.shape, dtype=array.dtype)
    pinned[...] = array
    return pinned


def grouped_matmul(a, b):
    """``a[g] @ b[g]`` for every group g: (G, M, K) @ (G, K, N) -> (G, M, N).

    numpy's stacked matmul skips BLAS for transposed operands (several times slower), so on the
    CPU each group is one 2-D product, which BLAS takes with its transpose flags; cupy's batched
    matmul is one cuBLAS call.
    """
    if type(a) is not np.ndarray:
        import cupy

        return cupy.matmul(a, b)
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    return np.stack([a[g] @ b[g] for g in range(a.shape[0])])
