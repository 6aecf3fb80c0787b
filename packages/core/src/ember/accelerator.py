"""``ember.accelerator``: the current accelerator, as ``torch.accelerator``.

Ember's one accelerator is CUDA through cupy. Where cupy sees a GPU, ``current_accelerator()`` is
``device(type='cuda', index=0)`` (PyTorch leaves the index None; Ember's cuda device always has
one, so read the current index from ``current_device_index()``). On a CPU-only machine there is
no accelerator: ``current_accelerator()`` is None, ``is_available()`` False and
``device_count()`` 0, so the usual selection idiom picks the CPU.

Example:
    >>> device = (ember.accelerator.current_accelerator() if ember.accelerator.is_available()
    ...           else ember.device("cpu"))
    >>> ember.zeros(2, device=device).device == device
    True
"""

from __future__ import annotations

import warnings

from ember import cuda
from ember.backend import Device, cuda_available, cuda_device_count, cupy_module

__all__ = [
    "current_accelerator", "current_device_idx", "current_device_index", "device_count",
    "device_index", "empty_cache", "is_available", "memory_allocated",
    "set_device_idx", "set_device_index", "synchronize",
]


def current_accelerator(check_available: bool = False) -> Device | None:
    """The accelerator's device (``cuda``), or None when there is none.

    Ember has CUDA only when cupy is installed, so "available at build time" and "available now"
    are the same question; ``check_available`` is accepted for PyTorch's signature.
    """
    return Device("cuda") if cuda_available() else None


def is_available() -> bool:
    """True when an accelerator (a CUDA GPU through cupy) can be used."""
    return cuda_available()


def device_count() -> int:
    """How many accelerator devices are visible (0 without one)."""
    return cuda_device_count()


def _cupy(name: str):
    cupy = cupy_module()
    if cupy is None:
        raise RuntimeError(f"accelerator.{name}: Cannot access accelerator device when none is "
                           "available (Ember's accelerator is a CUDA GPU through cupy)")
    return cupy


def _index(device, name: str) -> int:
    """The CUDA device index named by ``device`` (an int, a string or a Device)."""
    if isinstance(device, int):
        return device
    device = Device(device)
    if device.type != "cuda":
        raise ValueError(f"accelerator.{name}: {device} does not match the current accelerator "
                         "type cuda")
    return device.index


def current_device_index() -> int:
    """The index of the current accelerator device; raises without an accelerator, as PyTorch."""
    return _cupy("current_device_index").cuda.runtime.getDevice()


def set_device_index(device, /) -> None:
    """Makes ``device`` (an index, ``'cuda:N'`` or a device) current; a negative index is a
    no-op."""
    index = _index(device, "set_device_index")
    if index >= 0:
        _cupy("set_device_index").cuda.runtime.setDevice(index)


class device_index:  # noqa: N801  (PyTorch's name)
    """Within the block, ``device`` (an index) is current; None switches nothing.

    Example:
        >>> with ember.accelerator.device_index(None):
        ...     pass
    """

    def __init__(self, device: int | None, /) -> None:
        self.index = device
        self.previous = -1

    def __enter__(self) -> None:
        if self.index is not None:
            self.previous = current_device_index()
            set_device_index(self.index)

    def __exit__(self, *exc_info) -> None:
        if self.index is not None:
            set_device_index(self.previous)


def synchronize(device=None, /) -> None:
    """Waits for all queued work on ``device`` (the current one by default); a no-op without an
    accelerator, as PyTorch's when none is initialised."""
    cuda.synchronize(device)


def memory_allocated(device=None, /) -> int:
    """Bytes held by tensors on the device (cupy's memory pool); 0 without an accelerator."""
    return cuda.memory_allocated(device)


def empty_cache() -> None:
    """Returns the memory pool's unused blocks to the driver (no-op without an accelerator)."""
    cuda.empty_cache()


def _deprecated(function, new_name: str):
    def wrapper(*args):
        warnings.warn(f"Use `{new_name}` instead.", FutureWarning, stacklevel=2)
        return function(*args)

    wrapper.__doc__ = f"Deprecated: use ``{new_name}``."
    return wrapper


current_device_idx = _deprecated(current_device_index, "current_device_index")
set_device_idx = _deprecated(set_device_index, "set_device_index")
