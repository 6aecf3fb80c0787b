"""GPU memory queries over cupy's memory pool, with PyTorch's names.

Tensors on the GPU live in cupy's default memory pool: "allocated" is what the pool has handed
out, "reserved" what it holds from the driver. cupy keeps no peak of its own, so Ember records one
with a cupy memory hook, which (being cupy's) watches the thread that installed it: the first
call of any function here in a thread starts the watch, so call ``reset_peak_memory_stats()``
before the region you measure. Without a GPU every figure is 0, as PyTorch's before CUDA starts.
"""

from __future__ import annotations

import threading

from ember.backend import cupy_module, require_cupy
from ember.cuda._device import device_index

# device index -> the most bytes allocated (reserved) since the last reset
_peaks: dict[int, int] = {}
_reserved_peaks: dict[int, int] = {}
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
            pool = cupy.get_default_memory_pool()
            used, held = pool.used_bytes(), pool.total_bytes()
            if used > _peaks.get(device_id, 0):
                _peaks[device_id] = used
            if held > _reserved_peaks.get(device_id, 0):
                _reserved_peaks[device_id] = held

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


def max_memory_reserved(device=None) -> int:
    """The most bytes the pool held on ``device`` since ``reset_peak_memory_stats`` (or since
    the watch started); at least ``memory_reserved()``."""
    if cupy_module() is None:
        return 0
    peak = _reserved_peaks.get(device_index(device, "max_memory_reserved"), 0)
    return max(memory_reserved(device), peak)


def reset_peak_memory_stats(device=None) -> None:
    """Starts the peaks of ``device`` again from what is allocated and reserved now."""
    if cupy_module() is not None:
        index = device_index(device, "reset_peak_memory_stats")
        _peaks[index] = memory_allocated(device)
        _reserved_peaks[index] = memory_reserved(device)


def mem_get_info(device=None) -> tuple[int, int]:
    """(free, total) bytes of ``device``'s memory as the driver reports them (memory this
    process's pool holds counts as used); a RuntimeError without a GPU, as PyTorch's."""
    cupy = require_cupy("ember.cuda.mem_get_info")
    with cupy.cuda.Device(device_index(device, "ember.cuda.mem_get_info")):
        return cupy.cuda.runtime.memGetInfo()


def empty_cache() -> None:
    """Hands the pool's unused blocks (device and pinned host memory) back to the driver;
    tensors keep theirs."""
    cupy = cupy_module()
    if cupy is not None:
        cupy.get_default_memory_pool().free_all_blocks()
        cupy.get_default_pinned_memory_pool().free_all_blocks()
