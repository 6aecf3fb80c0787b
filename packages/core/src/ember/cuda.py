"""``ember.cuda``: whether a GPU is usable, and its devices."""

from __future__ import annotations

from ember.backend import Device, cuda_available, cuda_device_count, cupy_module, default_generator
from ember.tensor.legacy import CUDA_TYPES


def is_available() -> bool:
    """True when cupy is installed and a CUDA GPU is visible."""
    return cuda_available()


def device_count() -> int:
    return cuda_device_count()


def current_device() -> int:
    cupy = cupy_module()
    return cupy.cuda.Device().id if cupy is not None else 0


def synchronize(device=None) -> None:
    """Waits for all queued GPU work on ``device`` (the current one by default)."""
    cupy = cupy_module()
    if cupy is not None:
        with cupy.cuda.Device(Device(device or "cuda").index):
            cupy.cuda.Device().synchronize()


def manual_seed(seed: int) -> None:
    """Seeds the default generator of the current GPU."""
    default_generator(Device("cuda", current_device())).manual_seed(seed)


def manual_seed_all(seed: int) -> None:
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
