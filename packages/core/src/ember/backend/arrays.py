"""Array operations whose numpy and cupy spellings differ; ops call these instead of branching."""

from __future__ import annotations

import numpy as np

from ember.backend.device import require_cupy


def index_add(target, index, values) -> None:
    """``target[index] += values`` with repeated indices accumulated (in place)."""
    if type(target) is np.ndarray:
        np.add.at(target, index, values)
    else:
        import cupy

        cupy.add.at(target, index, values)


def accumulate(name: str, array, axis: int):
    """The running ``name`` ufunc (``"maximum"``, ``"minimum"``, ``"logaddexp"`` ...) along
    ``axis``: numpy's ``ufunc.accumulate``; on cupy a doubling scan of whole-array steps
    (log2(n) of them), which needs nothing beyond the ufunc itself."""
    if type(array) is np.ndarray:
        return getattr(np, name).accumulate(array, axis=axis)
    import cupy

    return doubling_scan(getattr(cupy, name), array, axis)


def doubling_scan(ufunc, array, axis: int):
    """Inclusive scan of an associative binary ``ufunc`` along ``axis`` (Hillis-Steele: after
    the step of width w every element holds the reduction of the 2w elements up to it)."""
    out = array.copy()
    n = array.shape[axis]
    step = 1
    while step < n:
        head = [slice(None)] * array.ndim
        tail = list(head)
        head[axis], tail[axis] = slice(step, None), slice(None, n - step)
        out[tuple(head)] = ufunc(out[tuple(head)], out[tuple(tail)])
        step *= 2
    return out


def index_reduce(target, index, values, reduce: str) -> None:
    """``target[index] = reduce(target[index], values)`` in place, repeated indices included;
    ``reduce`` is ``"add"``, ``"multiply"``, ``"maximum"`` or ``"minimum"``."""
    if type(target) is np.ndarray:
        getattr(np, reduce).at(target, index, values)
        return
    import cupyx

    scatter = {"add": cupyx.scatter_add, "maximum": cupyx.scatter_max,
               "minimum": cupyx.scatter_min}.get(reduce)
    if scatter is not None:
        scatter(target, index, values)
        return
    import cupy  # no scatter-multiply kernel in cupy: reduce on the host

    host = cupy.asnumpy(target)
    np.multiply.at(host, tuple(cupy.asnumpy(i) for i in index), cupy.asnumpy(values))
    target[...] = cupy.asarray(host)


def masked(condition, values, out=None):
    """``where(condition, values, 0)`` for a float array ``values``, into ``out`` when given.

    On the CPU it is an unsigned-integer product of the values' bits and the condition: the
    bits or 0, so exactly ``where``'s result (inf and NaN included) in one pass, several times
    faster than numpy's ``where`` and a quarter faster than the float product checked finite
    that it replaces (ReLU backward at 32x16x32x32 float32: 443 -> 344 us, the compare included).
    """
    if type(values) is np.ndarray:
        bits = np.dtype(f"u{values.dtype.itemsize}")
        product = np.multiply(values.view(bits), condition, dtype=bits,
                              out=None if out is None else out.view(bits))
        return out if out is not None else product.view(values.dtype)
    import cupy

    if out is None:
        return cupy.where(condition, values, 0)
    out[...] = cupy.where(condition, values, 0)
    return out


def pin_memory(array):
    """A copy of a host array in page-locked memory (faster, asynchronous copies to the GPU);
    a RuntimeError without a GPU."""
    require_cupy("pin_memory")
    import cupyx

    pinned = cupyx.empty_pinned(array.shape, dtype=array.dtype)
    pinned[...] = array
    return pinned


def grouped_matmul(a, b, out=None):
    """``a[g] @ b[g]`` for every group g: (G, M, K) @ (G, K, N) -> (G, M, N), into ``out``.

    numpy's stacked matmul skips BLAS for transposed operands (several times slower), so on the
    CPU each group is one 2-D product, which BLAS takes with its transpose flags; cupy's batched
    matmul is one cuBLAS call.
    """
    if type(a) is not np.ndarray:
        import cupy

        return cupy.matmul(a, b, out=out)
    if out is None:
        out = np.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=np.result_type(a, b))
    for group in range(a.shape[0]):
        np.matmul(a[group], b[group], out=out[group])
    return out
