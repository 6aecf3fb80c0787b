"""GPU memory queries over cupy's memory pool, with PyTorch's names.

Tensors on the GPU live in cupy's default memory pool: "allocated" is what the pool has handed
out, "reserved" what it holds from the driver. cupy keeps no peak of its own, so Ember records one
with a cupy memory hook, which (being cupy's) watches the thread that installed it: the first
call of any function here in a thread starts the watch, so call ``reset_peak_memory_stats()``
before the region you measure. Without a GPU every figure is 0, as PyTorch's before CUDA starts.
"""

from __future__ import annotations

import threading

from ember.backend import cupy_module
from ember.cuda._device import device_index

_peaks: dict[int, int] = {}  # device index -> the most bytes allocated since the last reset
_watched = threading.local()


def _pool_bytes(device, name: str, reserved: bool) -> int:
    cupy = cupy_module()
    if cupy is None:
        return 0
    _watch(cupy)
    with cupy.cuda.Device(device_index(device, name)):
        pool = cupy.get_default_memory_pool()
        return pool.total_bytes() if reserved else pool.used_bytes()


def _watch(cupy) -> None:
    """Installs the peak-recording hook in the calling thread (once)."""
    if getattr(_watched, "hook", None) is None:
        _watched.hook = _peak_hook_class(cupy)()
        _watched.hook.__enter__()


def _peak_hook_class(cupy):
    class PeakHook(cupy.cuda.memory_hook.MemoryHook):
        name = "EmberPeakMemory"

        def malloc_postprocess(self, device_id, **_):
            used = cupy.get_default_memory_pool().used_bytes()
            if used > _peaks.get(device_id, 0):
                _peaks[device_id] = used

    return PeakHook


def memory_allocated(device=None) -> int:
    """Bytes that tensors hold on ``device`` (the current GPU by default)."""
    return _pool_bytes(device, "memory_allocated", reserved=False)


def memory_reserved(device=None) -> int:
    """Bytes the memory pool holds from the driver on ``device``, in use or cached."""
    return _pool_bytes(device, "memory_reserved", reserved=True)


def max_memory_allocated(device=None) -> int:
    """The most bytes allocated on ``device`` since ``reset_peak_memory_stats`` (or since the
    watch started: see the module's docstring); at least ``memory_allocated()``."""
    if cupy_module() is None:
        return 0
    peak = _peaks.get(device_index(device, "max_memory_allocated"), 0)
    return max(memory_allocated(device), peak)


def reset_peak_memory_stats(device=None) -> None:
    """Starts the peak of ``device`` again from what is allocated now."""
    if cupy_module() is not None:
        _peaks[device_index(device, "reset_peak_memory_stats")] = memory_allocated(device)


def empty_cache() -> None:
    """Hands the pool's unused blocks (device and pinned host memory) back to the driver;
    tensors keep theirs."""
    cupy = cupy_module()
    if cupy is not None:
        cupy.get_default_memory_pool().free_all_blocks()
        cupy.get_default_pinned_memory_pool().free_all_blocks()
