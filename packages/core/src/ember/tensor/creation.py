"""Creating tensors: from data, filled with constants, and ranges."""

from __future__ import annotations

import math
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
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {n}: {tuple(size)}"
            )
    return tuple(int(n) for n in size)


def _positional_or_keyword_size(args: tuple, size, op_name: str) -> tuple:
    """The size of ``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``: PyTorch's
    factories take it positionally or as the keyword ``size``, not both."""
    if size is None:
        return args
    if args:
        raise TypeError(f"{op_name}() got multiple values for argument 'size'")
    return (size,)


def _finish(array, requires_grad: bool) -> Tensor:
    tensor = Tensor(array)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def _numpy_dtype(dtype, default=None):
    if dtype is None:
        return default
    return dtypes.to_dtype(dtype).numpy


def _infer_array(data, dtype=None):
    """A host or device array from Python data, with PyTorch's dtype inference.

    Arrays and tensors come back as they are (not copied); ``dtype`` (a numpy dtype) is applied
    to Python data while it is converted, so that ``[0.1]`` in float64 is exact.
    """
    if isinstance(data, Tensor):
        return data._array
    if type(data) is np.ndarray or hasattr(data, "__cuda_array_interface__"):
        return data
    if isinstance(data, np.ndarray):  # a subclass (np.matrix, a memmap): its plain array
        return np.asarray(data)
    if isinstance(data, np.generic):
        return np.asarray(data)
    if dtype is not None:
        try:
            return np.asarray(data, dtype=dtype)
        except (TypeError, ValueError) as error:
            raise TypeError(f"tensor: could not convert {type(data).__name__} data to "
                            f"{dtypes.from_numpy(dtype)} ({error})") from None
    array = np.asarray(data)
    if array.dtype == np.float64:
        array = array.astype(dtypes.get_default_dtype().numpy)
    elif array.dtype.kind in "iu":
        array = array.astype(np.int64, copy=False)
    elif array.dtype.kind not in "bf":
        raise TypeError(f"tensor: could not infer dtype of {type(data).__name__} data "
                        f"(got numpy dtype {array.dtype})")
    return array


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays or tensors).

    Python floats become the default float dtype (float32), ints int64, bools bool.

    Example:
        >>> ember.tensor([[1.0, 2.0]]).shape
        (1, 2)
    """
    wanted = _numpy_dtype(dtype)
    source = _infer_array(data, wanted)
    dtypes.from_numpy(source.dtype)  # a clear error for dtypes Ember has no tensor for
    target = _device(device) if device is not None else device_of(source)
    array = to_device(source, target)
    # Python data was just converted into a new array; arrays and tensors must not be shared.
    shared = array is source and (isinstance(data, (Tensor, np.ndarray)) or source is data)
    if shared or array.dtype != (wanted or array.dtype):
        with device_context(target):
            array = array_module(target).array(array, dtype=wanted, copy=True)
    return _finish(array, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing memory when dtype and device already match."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    array = _infer_array(data, _numpy_dtype(dtype))
    dtypes.from_numpy(array.dtype)
    if device is not None:
        array = to_device(array, _device(device))
    wanted = _numpy_dtype(dtype, array.dtype)
    if array.dtype != wanted:
        with device_context(device_of(array)):
            array = array.astype(wanted)
    return Tensor(array)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with a numpy array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    dtypes.from_numpy(array.dtype)
    return Tensor(array)


_DLPACK_CPU = 1  # kDLCPU; kDLCUDA is 2


def from_dlpack(external) -> Tensor:
    """A tensor sharing memory with any object that speaks DLPack (numpy, cupy, PyTorch ...).

    Example:
        >>> array = np.arange(3.0)
        >>> ember.from_dlpack(array).data_ptr() == array.ctypes.data
        True
    """
    if not hasattr(external, "__dlpack_device__"):
        raise TypeError(
            f"from_dlpack: expected an object with __dlpack__ and __dlpack_device__, got "
            f"{type(external).__name__}"
        )
    device_type, index = external.__dlpack_device__()
    if device_type == _DLPACK_CPU:
        array = np.from_dlpack(external)
    else:
        array = array_module(Device("cuda", int(index))).from_dlpack(external)
    dtypes.from_numpy(array.dtype)
    return Tensor(array)


def _filled(fill, size, dtype, device, requires_grad, default_dtype):
    target = _device(device)
    wanted = _numpy_dtype(dtype, default_dtype)
    xp = array_module(target)
    with device_context(target):
        array = fill(xp, _size(size), wanted)
    return _finish(array, requires_grad)


def zeros(*args, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    size = _positional_or_keyword_size(args, size, "zeros")
    return _filled(lambda xp, s, d: xp.zeros(s, d), size, dtype, device, requires_grad,
                   dtypes.get_default_dtype().numpy)


def ones(*args, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    size = _positional_or_keyword_size(args, size, "ones")
    return _filled(lambda xp, s, d: xp.ones(s, d), size, dtype, device, requires_grad,
                   dtypes.get_default_dtype().numpy)


def empty(*args, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    size = _positional_or_keyword_size(args, size, "empty")
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
    wanted = input._array.dtype if dtype is None else _numpy_dtype(dtype)
    xp = array_module(target)
    with device_context(target):
        array = fill(xp, input._array.shape, wanted, *extra)
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


def _number(value, op_name: str):
    """A Python number from a number or a one-element tensor."""
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{op_name}: expected a number, got {type(value).__name__}")
    return value


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from ``start`` up to (not including) ``end`` by ``step``.

    Integers give int64 and any float the default float dtype; the length is
    ``ceil((end - start) / step)`` as in PyTorch, values are ``start + i * step``.

    Example:
        >>> ember.arange(3)
        tensor([0, 1, 2])
        >>> ember.arange(0, 1, 0.25)
        tensor([0.0000, 0.2500, 0.5000, 0.7500])
    """
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v, "arange") for v in (start, end, step))
    if not all(np.isfinite(v) for v in (start, end, step)):
        raise RuntimeError(f"arange: unsupported range: {start} -> {end} (step {step})")
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(
            f"arange: upper bound and larger bound inconsistent with step sign (start={start}, "
            f"end={end}, step={step})"
        )
    integral = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    default = np.dtype(np.int64) if integral else dtypes.get_default_dtype().numpy
    wanted = _numpy_dtype(dtype, default)
    count = -((start - end) // step) if integral else math.ceil((end - start) / step)
    target = _device(device)
    xp = array_module(target)
    with device_context(target):
        # Integers stay exact in int64; float ranges are computed in float64, then cast.
        positions = xp.arange(count, dtype=np.int64 if integral else np.float64)
        array = (positions * step + start).astype(wanted, copy=False)
    return _finish(array, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    start, end = _number(start, "linspace"), _number(end, "linspace")
    wanted = _numpy_dtype(dtype, dtypes.get_default_dtype().numpy)
    target = _device(device)
    xp = array_module(target)
    with device_context(target):
        array = xp.linspace(start, end, steps, dtype=np.float64).astype(wanted)
    return _finish(array, requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 2-D tensor of shape ``(n, m)`` (``m`` defaults to ``n``) with ones on the diagonal."""
    for size in (n, m):
        if size is not None and size < 0:
            raise RuntimeError(f"eye: n and m must be greater or equal to 0, got {size}")
    wanted = _numpy_dtype(dtype, dtypes.get_default_dtype().numpy)
    target = _device(device)
    xp = array_module(target)
    with device_context(target):
        array = xp.eye(n, m, dtype=wanted)
    return _finish(array, requires_grad)


# ---- Tensor.new_*: creation with this tensor's dtype and device by default -------------------


def _new_defaults(self, dtype, device):
    return self.dtype if dtype is None else dtype, self.device if device is None else device


def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``tensor(data)`` with this tensor's dtype and device unless given."""
    dtype, device = _new_defaults(self, dtype, device)
    return tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def _new_filled(fill):
    def new(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        dtype, device = _new_defaults(self, dtype, device)
        return fill(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    new.__doc__ = f"``{fill.__name__}(*size)`` with this tensor's dtype and device unless given."
    return new


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``full(size, fill_value)`` with this tensor's dtype and device unless given."""
    dtype, device = _new_defaults(self, dtype, device)
    return full(size, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def _bind() -> None:
    Tensor.new_tensor = new_tensor
    Tensor.new_full = new_full
    for fill in (zeros, ones, empty):
        setattr(Tensor, f"new_{fill.__name__}", _new_filled(fill))


_bind()
