"""Scratch buffers that an op keeps between calls, one set per thread.

A fresh large numpy array costs a page fault per 4 KB page the first time it is written, every
call (glibc hands large blocks back to the system when they are freed): ResNet-20's first 3x3
convolution spent about 1.3 ms of its 5 ms forward in them. An op that needs the same scratch
on every call takes it from here instead. Only what never leaves the op may live here.
"""

from __future__ import annotations

import threading

import numpy as np

_LIMIT_BYTES = 16 << 20  # a larger buffer is not kept: allocated per call, as without a cache
_buffers = threading.local()


def workspace(xp, name: str, size: int, dtype):
    """A flat array of ``size`` elements of ``dtype``, its contents undefined.

    The buffer called ``name`` is reused by the next call with the same name in the same thread,
    so the caller must be done with it before asking again (distinct names for buffers in use
    together). cupy's memory pool already reuses its blocks: there it is a plain ``empty``.
    """
    dtype = np.dtype(dtype)
    nbytes = size * dtype.itemsize
    if xp is not np or nbytes > _LIMIT_BYTES:
        return xp.empty(size, dtype=dtype)
    cache = _buffers.__dict__
    buffer = cache.get(name)
    if buffer is None or buffer.size < nbytes:
        buffer = cache[name] = np.empty(nbytes, dtype=np.uint8)
    return buffer[:nbytes].view(dtype)
