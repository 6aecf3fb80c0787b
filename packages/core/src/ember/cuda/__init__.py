"""``ember.cuda``: the GPUs cupy sees, their memory, streams and events, with PyTorch's names.

Everything here is a thin layer over cupy. Without cupy or a GPU, ``is_available()`` is False,
``device_count()`` and the memory figures are 0, and what needs a GPU (streams, events, device
properties) raises a RuntimeError saying so.
"""

from __future__ import annotations

from ember.backend import (
    Device,
    cuda_available,
    cuda_device_count,
    cupy_module,
    default_generator,
    require_cupy,
    settle,
)
from ember.cuda._device import device_index
from ember.cuda.memory import (
    empty_cache,
    max_memory_allocated,
    max_memory_reserved,
    mem_get_info,
    memory_allocated,
    memory_reserved,
    reset_peak_memory_stats,
)
from ember.cuda.streams import Event, Stream, current_stream, default_stream, set_stream, stream
from ember.tensor.legacy import CUDA_TYPES

__all__ = [
    "Event", "Stream", "current_device", "current_stream", "default_stream", "device",
    "device_count", "empty_cache", "get_device_capability", "get_device_name",
    "get_device_properties", "get_rng_state", "is_available", "manual_seed", "manual_seed_all",
    "max_memory_allocated", "max_memory_reserved", "mem_get_info", "memory_allocated",
    "memory_reserved", "reset_peak_memory_stats", "set_device", "set_rng_state", "set_stream",
    "stream", "synchronize",
]


def is_available() -> bool:
    """True when cupy is installed and a CUDA GPU is visible."""
    return cuda_available()


def device_count() -> int:
    """How many GPUs cupy sees (0 without cupy)."""
    return cuda_device_count()


def current_device() -> int:
    """The index of the current GPU; a RuntimeError without one, as PyTorch's."""
    return require_cupy("ember.cuda.current_device").cuda.runtime.getDevice()


def set_device(device) -> None:
    """Makes ``device`` (an index, ``'cuda:N'`` or a device) current; a negative index is a
    no-op, as PyTorch's."""
    index = device_index(device, "ember.cuda.set_device")
    if index >= 0:
        require_cupy("ember.cuda.set_device").cuda.runtime.setDevice(index)


class device:  # noqa: N801  (PyTorch's name)
    """Within the block, ``device`` (an index, ``'cuda:N'`` or a device) is the current GPU."""

    def __init__(self, device) -> None:
        self.index = -1 if device is None else device_index(device, "ember.cuda.device")
        self.previous = -1

    def __enter__(self) -> None:
        if self.index >= 0:
            self.previous = current_device()
            set_device(self.index)

    def __exit__(self, *exc_info) -> None:
        if self.index >= 0:
            set_device(self.previous)


def synchronize(device=None) -> None:
    """Waits for all queued GPU work on ``device`` (the current one by default); a no-op
    without a GPU. Raises what the value checks of ops that have run found (an index out of
    range ...: GPU checks report late, as PyTorch's device-side asserts)."""
    cupy = cupy_module()
    if cupy is not None:
        with cupy.cuda.Device(device_index(device, "ember.cuda.synchronize")):
            cupy.cuda.Device().synchronize()
        settle()


class DeviceProperties:
    """What ``get_device_properties`` reports: name, total_memory (bytes), major, minor,
    multi_processor_count."""

    def __init__(self, props: dict) -> None:
        self.name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        self.total_memory = int(props["totalGlobalMem"])
        self.major = int(props["major"])
        self.minor = int(props["minor"])
        self.multi_processor_count = int(props["multiProcessorCount"])

    def __repr__(self) -> str:
        return (f"DeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // 2**20}MB, "
                f"multi_processor_count={self.multi_processor_count})")


def get_device_properties(device=None) -> DeviceProperties:
    """The GPU's name, memory and compute capability."""
    cupy = require_cupy("ember.cuda.get_device_properties")
    index = device_index(device, "ember.cuda.get_device_properties")
    return DeviceProperties(cupy.cuda.runtime.getDeviceProperties(index))


def get_device_name(device=None) -> str:
    """The GPU's name, e.g. ``'NVIDIA H100 80GB HBM3'``."""
    return get_device_properties(device).name


def get_device_capability(device=None) -> tuple[int, int]:
    """The GPU's compute capability as (major, minor)."""
    props = get_device_properties(device)
    return props.major, props.minor


def manual_seed(seed: int) -> None:
    """Seeds the default generator of the current GPU; without a GPU it does nothing, as
    PyTorch's."""
    if is_available():
        default_generator(Device("cuda", current_device())).manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    """Seeds the default generators of all GPUs (none without a GPU)."""
    for index in range(device_count()):
        default_generator(Device("cuda", index)).manual_seed(seed)


def get_rng_state(device="cuda"):
    from ember.tensor import tensor

    return tensor(default_generator(Device(device)).get_state())


def set_rng_state(state, device="cuda") -> None:
    default_generator(Device(device)).set_state(state.numpy() if hasattr(state, "numpy") else state)


# PyTorch's legacy GPU constructors (``ember.cuda.FloatTensor(2, 3)``), see ember.tensor.legacy.
FloatTensor = CUDA_TYPES["FloatTensor"]
DoubleTensor = CUDA_TYPES["DoubleTensor"]
HalfTensor = CUDA_TYPES["HalfTensor"]
LongTensor = CUDA_TYPES["LongTensor"]
IntTensor = CUDA_TYPES["IntTensor"]
ShortTensor = CUDA_TYPES["ShortTensor"]
CharTensor = CUDA_TYPES["CharTensor"]
ByteTensor = CUDA_TYPES["ByteTensor"]
BoolTensor = CUDA_TYPES["BoolTensor"]
