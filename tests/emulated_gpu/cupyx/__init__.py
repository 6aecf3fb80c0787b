"""The emulated GPU's ``cupyx``: page-locked host arrays, scatter functions and
``allow_synchronize``."""

import warnings

import cupy
import numpy as np
from cupy import _launches

DeviceSynchronized = _launches.DeviceSynchronized


def empty_pinned(shape, dtype=float, order="C"):
    array = np.empty(shape, dtype, order=order)
    cupy._pin(array)
    return array


def zeros_pinned(shape, dtype=float, order="C"):
    array = empty_pinned(shape, dtype, order)
    array[...] = 0
    return array


def empty_like_pinned(a, dtype=None, order="K", subok=None, shape=None):
    return empty_pinned(a.shape if shape is None else shape, dtype or a.dtype)


def zeros_like_pinned(a, dtype=None, order="K", subok=None, shape=None):
    array = empty_like_pinned(a, dtype, order, subok, shape)
    array[...] = 0
    return array


def scatter_add(a, slices, value):
    a.scatter_add(slices, value)


def scatter_max(a, slices, value):
    a.scatter_max(slices, value)


def scatter_min(a, slices, value):
    a.scatter_min(slices, value)


def get_array_module(*args):
    return cupy.get_array_module(*args)


class allow_synchronize:  # noqa: N801 (CuPy's name)
    """Inside ``allow_synchronize(False)`` a synchronisation raises DeviceSynchronized."""

    def __init__(self, allow):
        warnings.warn("cupyx.allow_synchronize will be removed in a future version",
                      DeprecationWarning, stacklevel=2)
        self.allow = allow

    def __enter__(self):
        if not self.allow:
            _launches.forbidden[0] += 1
        return self

    def __exit__(self, *exc):
        if not self.allow:
            _launches.forbidden[0] -= 1
        return False
