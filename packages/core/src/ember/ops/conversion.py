"""Moving tensors between dtypes and devices, and copying them: all differentiable."""

from __future__ import annotations

from ember.autograd.function import Function
from ember.backend import Device, device_of, is_pinned, to_device
from ember.backend import pin_memory as pin_backend_memory
from ember.ops.op import op, primitive
from ember.tensor import dtypes, legacy
from ember.tensor.tensor import Tensor


@primitive("to_dtype")
class ToDtype(Function):
    """Casts to ``dtype`` (a numpy dtype); the gradient is cast back."""

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.source = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        if ctx.source.kind != "f":
            return None
        return ToDtype.apply(grad, dtype=ctx.source)


@primitive("to_device")
class ToDevice(Function):
    """Copies to ``device`` (``non_blocking``: see ``Tensor.to``); the gradient is copied
    back."""

    @staticmethod
    def forward(ctx, a, device, non_blocking=False):
        ctx.source = device_of(a)
        return to_device(a, device, non_blocking)

    @staticmethod
    def backward(ctx, grad):
        return ToDevice.apply(grad, device=ctx.source)


@primitive("pin_memory")
class PinMemory(Function):
    """A copy in page-locked host memory (``Tensor.pin_memory``); the gradient passes
    through."""

    @staticmethod
    def forward(ctx, a):
        return pin_backend_memory(a)

    @staticmethod
    def backward(ctx, grad):
        return grad


@op("clone", method=True)
class Clone(Function):
    """A copy with its own memory."""

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


@primitive("detach")
class Detach(Function):
    """``x``'s values outside autograd, as ``Tensor.detach()`` and ``.data`` give them (a view).

    Eager ``detach()`` does not go through this op (it needs no graph node); ``ember.jit``
    records a detached tensor with it, so that a replay blocks the gradient where eager mode
    did. It returns a 1-tuple: tuple outputs are the ones autograd can mark non-differentiable.
    """

    @staticmethod
    def forward(ctx, x):
        out = x.view()
        ctx.mark_non_differentiable(out)
        return (out,)

    @staticmethod
    def backward(ctx, grad):
        return None


@op("contiguous", method=True, function=False)
def contiguous(self, memory_format=None):
    """Itself when C-contiguous, else a contiguous copy."""
    if self._array.flags.c_contiguous:
        return self
    return Clone.apply(self)


def _parse_to(args, kwargs):
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    non_blocking = kwargs.pop("non_blocking", False)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to: unexpected keyword arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, (Device, str)) and not (
            isinstance(arg, str) and arg.removeprefix("ember.") in _DTYPE_NAMES
        ):
            device = arg
        elif isinstance(arg, bool):
            non_blocking = arg  # PyTorch's positional non_blocking
        elif arg is not None:
            dtype = arg
    return device, dtype, copy, non_blocking


_DTYPE_NAMES = {d.name for d in dtypes.ALL} | {"float", "double", "half", "long", "int", "short"}


def to(self, *args, **kwargs):
    """Returns this tensor with another dtype and/or device (itself when nothing changes).

    Accepts ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other_tensor)`` and the
    keywords ``dtype``, ``device``, ``copy``, ``non_blocking``. ``non_blocking=True`` from
    pinned memory (``pin_memory()``) to a GPU queues the copy on the current stream and
    returns at once, as PyTorch's; every other copy, to the host included, returns complete.
    """
    device, dtype, copy, non_blocking = _parse_to(args, kwargs)
    result = self
    if device is not None:
        device = Device(device)
        if device_of(self._array) != device:
            if non_blocking:
                result = ToDevice.apply(result, device=device, non_blocking=True)
            else:
                result = ToDevice.apply(result, device=device)
    if dtype is not None:
        target = dtypes.to_dtype(dtype).numpy
        if result._array.dtype != target:
            result = ToDtype.apply(result, dtype=target)
    if copy and result is self:
        result = Clone.apply(self)
    return result


def _caster(dtype):
    def cast(self, memory_format=None):
        if self._array.dtype == dtype.numpy:
            return self
        return ToDtype.apply(self, dtype=dtype.numpy)

    cast.__doc__ = f"``self.to({dtype})``"
    return cast


def cpu(self, memory_format=None):
    return to(self, "cpu")


def cuda(self, device=None, non_blocking=False, memory_format=None):
    if device is None:
        device = "cuda"
    elif isinstance(device, int):
        device = f"cuda:{device}"
    return to(self, device, non_blocking=non_blocking)


def pin_memory(self, device=None):
    """A copy in page-locked host memory (itself when pinned already), from which
    ``to("cuda", non_blocking=True)`` is an asynchronous copy; a RuntimeError without a GPU,
    as PyTorch's.

    Example:
        >>> ember.ones(2, 3).is_pinned()  # ordinary host memory until pinned
        False
    """
    if self.is_cuda:
        raise RuntimeError(f"cannot pin '{self.device}' memory: only dense CPU tensors can be "
                           "pinned")
    if is_pinned(self._array):
        return self
    return PinMemory.apply(self)


def is_pinned_method(self, device=None) -> bool:
    """True when the tensor lives in page-locked host memory (False without a GPU)."""
    return is_pinned(self._array)


def type_as(self, other):
    return to(self, other.dtype)


def _type(self, dtype=None, non_blocking=False):
    """With no argument, PyTorch's type string in Ember's spelling (``'ember.FloatTensor'``);
    else ``self`` converted to a dtype, a type name (``'torch.cuda.LongTensor'``, ``'ember.
    FloatTensor'``) or a legacy type (``ember.DoubleTensor``), device included for the names."""
    if dtype is None:
        return legacy.type_name(self.dtype, self.is_cuda)
    target, device = legacy.cast_target(dtype)
    return to(self, target) if device is None else to(self, device, target)


for _name, _dtype in [
    ("float", dtypes.float32), ("double", dtypes.float64), ("half", dtypes.float16),
    ("long", dtypes.int64), ("int", dtypes.int32), ("short", dtypes.int16),
    ("char", dtypes.int8), ("byte", dtypes.uint8), ("bool", dtypes.bool_),
]:
    op(f"_cast_{_name}", method=_name, function=False)(_caster(_dtype))
op("to", method=True, function=False)(to)
op("cpu", method=True, function=False)(cpu)
op("cuda", method=True, function=False)(cuda)
op("pin_memory", method=True, function=False)(pin_memory)
op("is_pinned", method=True, function=False)(is_pinned_method)
op("type_as", method=True, function=False)(type_as)
op("type", method=True, function=False)(_type)
