"""The CUDA index a ``device`` argument names."""

from __future__ import annotations

from ember.backend import Device, require_cupy


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
