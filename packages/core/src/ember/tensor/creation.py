"""Creating tensors: from data, filled with constants, and ranges."""

from __future__ import annotations

import numbers

import numpy as np

from ember.backend import CPU, Device, array_module, device_context, device_of, to_device
from ember.tensor import dtypes
from ember.tensor.tensor import Tensor


def _device(device) -> Device:
    return CPU if device is None else Device(device)


def _size(size) -> tuple:
    """``zeros(2, 3)`` and ``zeros((2, 3))`` alike."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for n in size:
        if not isinstance(n, (numbers.Integral, np.integer)) or isinstance(n, bool):
            raise TypeError(f"size must be a tuple of ints, got {tuple(size)!r}")
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: {tuple(size)}")
    return tuple(int(n) for n in size)


def _finish(array, requires_grad: bool) -> Tensor:
    tensor = Tensor(array)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def _numpy_dtype(dtype, default=None):
    if dtype is None:
        return default
    return dtypes.to_dtype(dtype).numpy


def _infer_array(data):
    """A host or device array from Python data, with PyTorch's dtype inference."""
    if isinstance(data, Tensor):
        return data.data
    if isinstance(data, np.ndarray) or hasattr(data, "__cuda_array_interface__"):
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    array = np.asarray(data)
    if array.dtype == np.float64:
        array = array.astype(dtypes.get_default_dtype().numpy)
    elif array.dtype.kind in "iu" and array.dtype != np.int64:
        array = array.astype(np.int64)
    elif array.dtype.kind == "O":
        raise TypeError(f"tensor: could not infer dtype of {type(data).__name__} data")
    return array


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays or tensors).

    Python floats become the default float dtype (float32), ints int64, bools bool.

    Example:
        >>> ember.tensor([[1.0, 2.0]]).shape
        (1, 2)
    """
    array = _infer_array(data)
    dtypes.from_numpy(array.dtype)  # a clear error for dtypes Ember has no tensor for
    target = _device(device) if device is not None else device_of(array)
    array = to_device(array, target)
    wanted = _numpy_dtype(dtype, array.dtype)
    xp = array_module(target)
    with device_context(target):
        array = xp.array(array, dtype=wanted, copy=True)
    return _finish(array, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing memory when dtype and device already match."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    array = _infer_array(data)
    dtypes.from_numpy(array.dtype)
    if device is not None:
        array = to_device(array, _device(device))
    wanted = _numpy_dtype(dtype, array.dtype)
    if array.dtype != wanted:
        array = array.astype(wanted)
    return Tensor(array)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with a numpy array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    dtypes.from_numpy(array.dtype)
    return Tensor(array)


def from_dlpack(external) -> Tensor:
    """A tensor sharing memory with any object that speaks DLPack (numpy, cupy, PyTorch ...)."""
    device_type = external.__dlpack_device__()[0]
    if device_type == 1:  # kDLCPU
        return Tensor(np.from_dlpack(external))
    cupy = array_module(Device("cuda", external.__dlpack_device__()[1]))
    return Tensor(cupy.from_dlpack(external))


def _filled(fill, size, dtype, device, requires_grad, default_dtype):
    target = _device(device)
    wanted = _numpy_dtype(dtype, default_dtype)
    xp = array_module(target)
    with device_context(target):
        array = fill(xp, _size(size), wanted)
    return _finish(array, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(lambda xp, s, d: xp.zeros(s, d), size, dtype, device, requires_grad,
                   dtypes.get_default_dtype().numpy)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(lambda xp, s, d: xp.ones(s, d), size, dtype, device, requires_grad,
                   dtypes.get_default_dtype().numpy)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(lambda xp, s, d: xp.empty(s, d), size, dtype, device, requires_grad,
                   dtypes.get_default_dtype().numpy)


def _fill_dtype(value):
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(value, (numbers.Integral, np.integer)):
        return np.dtype(np.int64)
    return dtypes.get_default_dtype().numpy


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from the value)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _filled(lambda xp, s, d: xp.full(s, fill_value, d), (size,), dtype, device,
                   requires_grad, _fill_dtype(fill_value))


def _like(fill, input: Tensor, dtype, device, requires_grad, *extra):
    target = input.device if device is None else _device(device)
    wanted = input.data.dtype if dtype is None else _numpy_dtype(dtype)
    xp = array_module(target)
    with device_context(target):
        array = fill(xp, input.data.shape, wanted, *extra)
    return _finish(array, requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(lambda xp, s, d: xp.zeros(s, d), input, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(lambda xp, s, d: xp.ones(s, d), input, dtype, device, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(lambda xp, s, d: xp.empty(s, d), input, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(lambda xp, s, d: xp.full(s, fill_value, d), input, dtype, device,
                 requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from ``start`` up to (not including) ``end`` by ``step``.

    Example:
        >>> ember.arange(3)
        tensor([0, 1, 2])
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(
            f"arange: upper bound and larger bound inconsistent with step sign (start={start}, "
            f"end={end}, step={step})"
        )
    is_float = any(isinstance(v, float) for v in (start, end, step))
    default = dtypes.get_default_dtype().numpy if is_float else np.dtype(np.int64)
    wanted = _numpy_dtype(dtype, default)
    target = _device(device)
    xp = array_module(target)
    with device_context(target):
        count = max(0, int(np.ceil((end - start) / step)))
        array = (xp.arange(count, dtype=np.float64) * step + start).astype(wanted)
    return _finish(array, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    wanted = _numpy_dtype(dtype, dtypes.get_default_dtype().numpy)
    target = _device(device)
    xp = array_module(target)
    with device_context(target):
        array = xp.linspace(start, end, steps, dtype=np.float64).astype(wanted)
    return _finish(array, requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 2-D tensor with ones on the diagonal."""
    wanted = _numpy_dtype(dtype, dtypes.get_default_dtype().numpy)
    target = _device(device)
    xp = array_module(target)
    with device_context(target):
        array = xp.eye(n, m, dtype=wanted)
    return _finish(array, requires_grad)
