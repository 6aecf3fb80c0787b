"""Which GPU: cupy for the calling function, and the CUDA index a ``device`` argument names."""

from __future__ import annotations

from ember.backend import Device, cupy_module


def require_cupy(name: str):
    """cupy, or a RuntimeError naming ``name`` when there is no usable GPU."""
    cupy = cupy_module()
    if cupy is None:
        raise RuntimeError(
            f"{name}: CUDA is not available (install ember[cuda] with cupy on a machine with an "
            "NVIDIA GPU)"
        )
    return cupy


def device_index(device, name: str) -> int:
    """The CUDA index named by ``device``: None (the current one), an int, ``'cuda:N'`` or a
    Device."""
    if device is None:
        return require_cupy(name).cuda.runtime.getDevice()
    if isinstance(device, int):
        return device
    device = Device(device)
    if device.type != "cuda":
        raise ValueError(f"{name}: expected a cuda device, got {device}")
    return device.index
