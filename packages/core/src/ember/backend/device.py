"""Devices and their array modules: numpy for ``cpu``, cupy for ``cuda[:N]``.

This is the only module that imports cupy, and it does so lazily: without cupy or a GPU,
``cuda_available()`` is False and everything on the CPU works.
"""

from __future__ import annotations

import numpy as np

from ember.backend.deferred import keep_until_done

_cupy = None  # the cupy module once imported, False when it cannot be
_devices: dict = {}


class Device:
    """Where a tensor's memory lives: ``cpu`` or ``cuda:N``.

    Example:
        >>> Device("cuda:1").index
        1
    """

    __slots__ = ("type", "index")

    def __new__(cls, type: str | Device = "cpu", index: int | None = None) -> Device:  # noqa: A002
        if isinstance(type, Device):
            return type
        key = (type, index)
        cached = _devices.get(key)
        if cached is not None:
            return cached
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got {type!r}")
        kind, _, number = type.partition(":")
        if number:
            if index is not None:
                raise ValueError(f"device: index given twice in {type!r} and index={index}")
            if not number.isdigit():
                raise ValueError(f"device: invalid device string {type!r}")
            index = int(number)
        if kind == "cpu":
            if index not in (None, 0):
                raise ValueError(f"device: cpu has no index {index}")
            index = None
        elif kind == "cuda":
            index = 0 if index is None else int(index)
        else:
            raise ValueError(f"device: expected 'cpu' or 'cuda[:N]', got {type!r}")
        name = "cpu" if kind == "cpu" else f"cuda:{index}"
        self = _devices.get((name, None))
        if self is None:
            self = object.__new__(cls)
            object.__setattr__(self, "type", kind)
            object.__setattr__(self, "index", index)
            _devices[(name, None)] = self
        _devices[key] = self
        return self

    def __setattr__(self, name, value):
        raise AttributeError("Device is immutable")

    def __reduce__(self):
        return (Device, (str(self),))

    def __str__(self) -> str:
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"

    def __repr__(self) -> str:
        if self.type == "cpu":
            return "device(type='cpu')"
        return f"device(type='cuda', index={self.index})"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = Device(other)
        return isinstance(other, Device) and self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = Device("cpu")


def cupy_module():
    """The cupy module, or None when cupy is not installed or has no usable GPU."""
    global _cupy
    if _cupy is None:
        try:
            import cupy

            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except Exception:  # ImportError, or a CUDA driver/runtime error: no usable GPU
            _cupy = False
    return _cupy or None


def cuda_available() -> bool:
    """True when cupy is installed and at least one CUDA GPU is visible."""
    cupy = cupy_module()
    return cupy is not None and cupy.cuda.runtime.getDeviceCount() > 0


def cuda_device_count() -> int:
    cupy = cupy_module()
    return cupy.cuda.runtime.getDeviceCount() if cupy is not None else 0


def require_cupy(what: str):
    """cupy, or a RuntimeError naming ``what`` when there is no usable GPU."""
    cupy = cupy_module()
    if cupy is None:
        raise RuntimeError(
            f"{what}: CUDA is not available (install ember[cuda] with cupy on a machine with an "
            "NVIDIA GPU)"
        )
    return cupy


def _require_cupy(device: Device):
    cupy = require_cupy(f"device {device}")
    if device.index >= cupy.cuda.runtime.getDeviceCount():
        raise RuntimeError(
            f"device {device}: only {cupy.cuda.runtime.getDeviceCount()} CUDA device(s) visible"
        )
    return cupy


def array_module(device: Device):
    """numpy for the CPU, cupy for a CUDA device."""
    if device.type == "cpu":
        return np
    return _require_cupy(device)


def device_of(array) -> Device:
    """The device an array lives on."""
    if type(array) is np.ndarray:
        return CPU
    return Device("cuda", array.device.id)


def xp_of(array):
    """The array module of an array (numpy or cupy)."""
    if type(array) is np.ndarray:
        return np
    return _cupy


def is_cupy_array(array) -> bool:
    """True for a cupy array (False for anything else, and without cupy)."""
    return bool(_cupy) and type(array) is _cupy.ndarray


def reading_waits(array) -> bool:
    """True when reading ``array``'s values on the host would wait for the GPU (a cupy array):
    the host synchronisation that code on a training step's path must avoid."""
    return type(array) is not np.ndarray


def to_device(array, device: Device, non_blocking: bool = False):
    """A copy of ``array`` on ``device``, or ``array`` itself when it is already there.

    With ``non_blocking``, a copy from page-locked host memory to a GPU is queued on the
    current stream and returns at once, as PyTorch's: the host array is held until the copy has
    read it, but writing into it before then changes what arrives. Every other copy returns
    when its values are in place (a copy to the host included: the values it returns are
    complete, where PyTorch's non-blocking copy to the host may not be yet).
    """
    if device.type == "cpu":
        if type(array) is np.ndarray:
            return array
        return array.get()
    cupy = _require_cupy(device)
    if isinstance(array, cupy.ndarray) and array.device.id == device.index:
        return array
    with cupy.cuda.Device(device.index):
        if non_blocking and type(array) is np.ndarray and is_pinned(array):
            return _copy_pinned(cupy, array)
        return cupy.asarray(array)


def _copy_pinned(cupy, array):
    out = cupy.empty(array.shape, dtype=array.dtype)
    out.set(np.ascontiguousarray(array))  # asynchronous on the current stream when pinned
    keep_until_done(array)
    return out


def is_pinned(array) -> bool:
    """True for a host array in page-locked memory (False without a GPU, as PyTorch's)."""
    if type(array) is not np.ndarray or cupy_module() is None or array.size == 0:
        return False
    from cupy.cuda import pinned_memory

    return pinned_memory.is_memory_pinned(array.ctypes.data)


def device_context(device: Device):
    """A context manager that makes ``device`` current for cupy allocations (no-op on cpu)."""
    if device.type == "cpu":
        return _NullContext()
    return _require_cupy(device).cuda.Device(device.index)


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
