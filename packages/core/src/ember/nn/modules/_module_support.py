"""Helpers of ``Module``: the mirrored registries, ``load_state_dict``'s result, copying into
parameters, and the arguments of ``Module.to``."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ember.backend import Device, to_device
from ember.tensor import dtypes
from ember.tensor.tensor import Tensor


class Registry(dict):
    """A module's parameters, buffers or submodules by name, mirrored into its ``__dict__``."""

    __slots__ = ("_owner",)

    def __init__(self, owner: dict) -> None:
        super().__init__()
        self._owner = owner

    def __reduce__(self):
        # Copied and pickled (between processes) as a plain dict: Module.__setstate__ makes the
        # registry again around the new module's __dict__.
        return dict, (dict(self),)

    def __setitem__(self, key, value) -> None:
        dict.__setitem__(self, key, value)
        self._owner[key] = value

    def __delitem__(self, key) -> None:
        dict.__delitem__(self, key)
        self._owner.pop(key, None)

    def pop(self, key, *default):
        if key in self:
            self._owner.pop(key, None)
        return dict.pop(self, key, *default)

    def popitem(self):
        key, value = dict.popitem(self)
        self._owner.pop(key, None)
        return key, value

    def clear(self) -> None:
        for key in self:
            self._owner.pop(key, None)
        dict.clear(self)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args, **kwargs) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it did not find, and those it did not use."""

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def plain_tensor(tensor: Tensor) -> Tensor:
    """A plain Tensor sharing ``tensor``'s memory and version counter."""
    out = Tensor(tensor._array, tensor._rg)
    out._version = tensor._share_version()
    return out


def copy_into(target: Tensor, value: Tensor) -> None:
    """``target.copy_(value)`` without recording: cast to target's dtype, moved to its device."""
    array = to_device(value._array, target.device)
    target._array[...] = array.astype(target._array.dtype, copy=False)
    target._bump_version()


def parse_to_args(args, kwargs):
    """(device, dtype) from the arguments of ``Module.to``."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() received an invalid combination of arguments: {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, dtypes.dtype):
            dtype = arg
        elif isinstance(arg, (str, Device)):
            try:
                device = Device(arg)
            except (ValueError, RuntimeError, TypeError):
                dtype = arg
        elif isinstance(arg, int) and not isinstance(arg, bool):
            device = f"cuda:{arg}"
        elif isinstance(arg, (type, np.dtype)):
            dtype = arg
    device = Device(device) if device is not None else None
    dtype = dtypes.to_dtype(dtype) if dtype is not None else None
    return device, dtype
