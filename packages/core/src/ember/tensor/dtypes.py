"""Ember's dtypes and PyTorch's type-promotion rules over them."""

from __future__ import annotations

import builtins

import numpy as np


class dtype:  # noqa: N801  (PyTorch's name)
    """A tensor element type, e.g. ``ember.float32``; ``.numpy`` is the numpy dtype behind it."""

    __slots__ = ("name", "numpy", "is_floating_point", "is_signed", "itemsize", "category")

    def __init__(self, name: str, numpy_dtype, category: int) -> None:
        self.name = name
        self.numpy = np.dtype(numpy_dtype)
        self.category = category  # 0 bool, 1 integer, 2 floating: promotion compares these first
        self.is_floating_point = category == 2
        self.is_signed = category == 2 or self.numpy.kind == "i"
        self.itemsize = self.numpy.itemsize

    @property
    def is_complex(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __reduce__(self):
        return (from_name, (self.name,))


bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_BY_NUMPY = {d.numpy: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update(
    {"float": float32, "double": float64, "half": float16, "long": int64, "int": int32,
     "short": int16}
)

_default_float = [float32]


def get_default_dtype() -> dtype:
    return _default_float[0]


def set_default_dtype(d: dtype) -> None:
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating point dtypes are allowed, got {d}")
    _default_float[0] = d


def from_name(name: str) -> dtype:
    return _BY_NAME[name]


def from_numpy(numpy_dtype) -> dtype:
    """The ember dtype of a numpy dtype; a clear error for types Ember has no tensor for."""
    found = _BY_NUMPY.get(numpy_dtype)
    if found is None:
        found = _BY_NUMPY.get(np.dtype(numpy_dtype))
        if found is None:
            raise TypeError(
                f"unsupported dtype {np.dtype(numpy_dtype)}: Ember tensors hold "
                + ", ".join(d.name for d in ALL)
            )
    return found


def to_dtype(value) -> dtype:
    """Accepts an ember dtype, a numpy dtype or type, a name, or Python's float/int/bool."""
    if isinstance(value, dtype):
        return value
    if value is builtins.float:
        return float64
    if value is builtins.int:
        return int64
    if value is builtins.bool:
        return bool_
    if isinstance(value, str):
        found = _BY_NAME.get(value.removeprefix("ember.").removeprefix("torch."))
        if found is None:
            raise TypeError(f"unknown dtype name {value!r}")
        return found
    return from_numpy(np.dtype(value))


def promote_types(a: dtype, b: dtype) -> dtype:
    """PyTorch's promotion of two tensor dtypes: the higher category wins, then the wider type."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    return _BY_NUMPY[np.promote_types(a.numpy, b.numpy)]


def scalar_category(value) -> int:
    """The promotion category of a Python scalar (bool 0, int 1, float 2)."""
    if isinstance(value, (bool, np.bool_)):
        return 0
    if isinstance(value, (int, np.integer)):
        return 1
    return 2


def result_type(*operands) -> dtype:
    """The dtype an op over tensors and Python scalars computes in, as ``torch.result_type``.

    Tensors with dimensions decide within a category; zero-dim tensors, then Python scalars,
    only raise the category (a float scalar lifts an int tensor to the default float dtype).
    """
    dimensioned = zero_dim = None
    scalar = -1
    for operand in operands:
        data = getattr(operand, "data", None)
        if data is None or isinstance(operand, (int, float, bool, np.generic)):
            scalar = max(scalar, scalar_category(operand))
            continue
        d = from_numpy(data.dtype)
        if data.ndim:
            dimensioned = d if dimensioned is None else promote_types(dimensioned, d)
        else:
            zero_dim = d if zero_dim is None else promote_types(zero_dim, d)
    result = dimensioned
    if zero_dim is not None and (result is None or zero_dim.category > result.category):
        result = zero_dim
    if result is None or scalar > result.category:
        result = {0: bool_, 1: int64, 2: _default_float[0]}[scalar]
    return result
