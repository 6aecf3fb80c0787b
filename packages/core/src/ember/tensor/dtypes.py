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


def _combine(higher: dtype | None, lower: dtype | None) -> dtype | None:
    """PyTorch's ``combine_categories``: a lower-priority group of operands changes the result
    only by lifting its category (bool -> integer -> floating), never by widening within it."""
    if higher is None:
        return lower
    if lower is None or higher.is_floating_point:
        return higher
    if higher is bool_ or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def result_type(*operands) -> dtype:
    """The dtype an op over tensors and Python scalars computes in, as ``torch.result_type``.

    Three groups in priority order: tensors with dimensions, zero-dim tensors, Python scalars
    (a float scalar counts as the default float dtype, an int as int64). Within a group dtypes
    promote; a lower group only lifts the category (``int32 tensor * 2.5`` is float32, but
    ``int32 tensor + 2`` stays int32 and ``float16 tensor * float64 0-d tensor`` float16).

    Example:
        >>> result_type(ember.tensor([1], dtype=ember.int32), 2.5)
        ember.float32
    """
    groups: list = [None, None, None]  # dimensioned, zero-dim, scalars
    for operand in operands:
        data = getattr(operand, "_array", None)
        if data is None or isinstance(operand, (int, float, bool, np.generic)):
            group, d = 2, _SCALAR_DTYPES[scalar_category(operand)]()
        else:
            group, d = (0 if data.ndim else 1), from_numpy(data.dtype)
        groups[group] = d if groups[group] is None else promote_types(groups[group], d)
    result = _combine(groups[0], _combine(groups[1], groups[2]))
    if result is None:
        raise TypeError("result_type: expected at least one tensor or number")
    return result


_SCALAR_DTYPES = {0: lambda: bool_, 1: lambda: int64, 2: get_default_dtype}


class finfo:  # noqa: N801  (PyTorch's name)
    """Machine limits of a floating dtype: ``bits``, ``eps``, ``max``, ``min``, ``tiny``
    (= ``smallest_normal``), ``resolution``.

    Example:
        >>> ember.finfo(ember.float32).eps
        1.1920928955078125e-07
    """

    def __init__(self, type: dtype | None = None) -> None:  # noqa: A002
        type = get_default_dtype() if type is None else to_dtype(type)  # noqa: A001
        if not type.is_floating_point:
            raise TypeError(f"finfo: expected a floating point dtype, got {type}")
        info = np.finfo(type.numpy)
        self.dtype = type.name
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.tiny)
        self.resolution = 10.0 ** -int(info.precision)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, "
                f"eps={self.eps}, smallest_normal={self.tiny}, tiny={self.tiny}, "
                f"dtype={self.dtype})")


class iinfo:  # noqa: N801
    """Limits of an integer dtype: ``bits``, ``max``, ``min``."""

    def __init__(self, type: dtype) -> None:  # noqa: A002
        type = to_dtype(type)  # noqa: A001
        if type.is_floating_point:
            raise TypeError(f"iinfo: expected an integer dtype, got {type}")
        info = np.iinfo(type.numpy) if type is not bool_ else np.iinfo(np.uint8)
        self.dtype = type.name
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
