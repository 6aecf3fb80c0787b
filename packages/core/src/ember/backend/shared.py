"""Host arrays in memory that other processes can map: what ``Tensor.share_memory_()`` uses.

A shared array lives in a file under ``/dev/shm`` (the system's temporary folder where there is
none) that is unlinked as soon as it is made: only open file descriptors keep it, so nothing is
left behind however a process ends. The array is a plain ``numpy.ndarray`` over an ``mmap`` of
the file (not a memmap subclass, so every fast path that checks ``type(array) is np.ndarray``
still applies). Another process receives a descriptor of the file (``ember.multiprocessing``
passes it with ``multiprocessing.reduction.DupFd``) and maps it with ``open_shared``; forked
children inherit the mapping itself. The memory is freed when the last mapping and descriptor
of it, in any process, are gone.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import uuid
import weakref

import numpy as np

_FOLDER = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
# mmap -> (file descriptor, address of its first byte), for every segment mapped in this process
_SEGMENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# (device, inode) -> mmap, so that a process maps each segment once however often it receives it
_MAPPED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _adopt(fd: int) -> mmap.mmap:
    """Maps the file ``fd`` (whose descriptor this process now owns) once per process."""
    status = os.fstat(fd)
    key = (status.st_dev, status.st_ino)
    segment = _MAPPED.get(key)
    if segment is not None:
        os.close(fd)
        return segment
    segment = mmap.mmap(fd, status.st_size)
    address = np.frombuffer(segment, np.uint8).__array_interface__["data"][0]
    _SEGMENTS[segment] = (fd, address)
    _MAPPED[key] = segment
    weakref.finalize(segment, os.close, fd)
    return segment


def share_array(array: np.ndarray) -> np.ndarray:
    """A copy of ``array`` (same shape and dtype, C order) in a new shared segment."""
    path = os.path.join(_FOLDER, f"ember_{os.getpid()}_{uuid.uuid4().hex}")
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.unlink(path)  # the descriptors alone keep the memory from here on
        os.ftruncate(fd, max(array.nbytes, 1))  # mmap refuses an empty mapping
    except BaseException:
        os.close(fd)
        raise
    shared = np.ndarray(array.shape, array.dtype, buffer=_adopt(fd))
    shared[...] = array
    return shared


def segment_of(array):
    """(file descriptor, byte offset) of a host array in a shared segment, else None."""
    owner = array
    while owner is not None and type(owner) is not mmap.mmap:
        owner = getattr(owner, "base", None)
    found = None if owner is None else _SEGMENTS.get(owner)
    if found is None:
        return None
    fd, address = found
    return fd, array.__array_interface__["data"][0] - address


def open_shared(fd: int, offset: int, shape: tuple, strides: tuple, dtype: str) -> np.ndarray:
    """The array at ``offset`` in the segment of ``fd``, a descriptor this process now owns."""
    segment = _adopt(fd)
    return np.ndarray(shape, np.dtype(dtype), buffer=segment, offset=offset, strides=strides)
