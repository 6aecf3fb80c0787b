"""PyTorch's legacy typed constructors: ``ember.FloatTensor``, ``ember.cuda.LongTensor`` ...

Each is a class only in name: calling it builds an ordinary ``Tensor`` of its dtype and device,
and ``isinstance(t, ember.FloatTensor)`` asks whether ``t`` is a float32 tensor on the CPU, as in
PyTorch. ``Tensor.type()`` answers with these names (``'ember.FloatTensor'``) and ``Tensor.type``
accepts them, spelled ``ember.`` or ``torch.``.

Example:
    >>> ember.FloatTensor(2, 3).shape
    (2, 3)
    >>> ember.LongTensor([1.7, 2.0])
    tensor([1, 2])
    >>> isinstance(ember.zeros(2), ember.FloatTensor)
    True
"""

from __future__ import annotations

import numbers

import numpy as np

from ember.tensor import dtypes
from ember.tensor.creation import empty, tensor
from ember.tensor.tensor import Tensor

# PyTorch's type-name stem of each dtype: FloatTensor is float32, ByteTensor uint8 ...
STEMS = {
    "float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
    "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
}
_DTYPE_OF_STEM = {stem: name for name, stem in STEMS.items()}


def type_name(dtype: dtypes.dtype, cuda: bool) -> str:
    """The name ``Tensor.type()`` gives: ``'ember.FloatTensor'``, ``'ember.cuda.LongTensor'``..."""
    return f"ember.{'cuda.' if cuda else ''}{STEMS[dtype.name]}Tensor"


def parse_type_name(name: str):
    """(dtype, is_cuda) of a name such as ``'torch.cuda.FloatTensor'``, or None when ``name`` is
    no tensor type name (it may then be a dtype name such as ``'float32'``)."""
    stem = name.removeprefix("torch.").removeprefix("ember.")
    cuda = stem.startswith("cuda.")
    stem = stem.removeprefix("cuda.")
    if not stem.endswith("Tensor") or stem[: -len("Tensor")] not in _DTYPE_OF_STEM:
        return None
    return dtypes.from_name(_DTYPE_OF_STEM[stem[: -len("Tensor")]]), cuda


def cast_target(spec):
    """What ``Tensor.type(spec)`` and ``Module.type(spec)`` convert to: ``(dtype, "cpu" or
    "cuda")`` for a legacy type (``ember.DoubleTensor``) or a type name (``'torch.cuda.
    FloatTensor'``), else ``(spec, None)``: a dtype, or a name that is none of these."""
    if isinstance(spec, LegacyTensorType):
        return spec.dtype, "cuda" if spec.is_cuda else "cpu"
    parsed = parse_type_name(spec) if isinstance(spec, str) else None
    if parsed is None:
        return spec, None
    dtype, cuda = parsed
    return dtype, "cuda" if cuda else "cpu"


class LegacyTensorType(type):
    """The metaclass that makes ``ember.FloatTensor(...)`` a constructor and an isinstance test."""

    dtype: dtypes.dtype
    is_cuda: bool

    def __instancecheck__(cls, instance) -> bool:
        return (isinstance(instance, Tensor) and instance._array.dtype == cls.dtype.numpy
                and instance.is_cuda == cls.is_cuda)

    def __call__(cls, *args, device=None):
        """``T()`` is empty, ``T(2, 3)`` or ``T(t.size())`` uninitialised of that shape, ``T(data)``
        a copy of the data (a list, an array, or a tensor of this very type, shared).

        Ember's sizes are plain tuples, so a tuple of ints is read as a size (PyTorch reads a
        ``torch.Size`` so and a literal tuple as data); pass data as a list.
        """
        if device is None:
            device = "cuda" if cls.is_cuda else "cpu"
        if len(args) == 1 and isinstance(args[0], tuple) and _all_ints(args[0]):
            args = args[0]  # T(t.size()): Ember's sizes are plain tuples
        elif len(args) == 1 and not isinstance(args[0], (numbers.Integral, np.integer)):
            data = args[0]
            if isinstance(data, Tensor):
                if not isinstance(data, cls):
                    expected = type_name(cls.dtype, cls.is_cuda)
                    raise TypeError(f"{cls.__name__}: expected a {expected} to alias (got "
                                    f"{data.type()}); use .type() to convert")
                return data
            return tensor(data, dtype=cls.dtype, device=device)
        if not _all_ints(args):
            raise TypeError(f"{cls.__name__}: expected sizes (ints) or one sequence of data, got "
                            f"{tuple(type(a).__name__ for a in args)}")
        return empty(*args if args else (0,), dtype=cls.dtype, device=device)

    def __repr__(cls) -> str:
        return f"<class '{type_name(cls.dtype, cls.is_cuda)}'>"


def default_type() -> LegacyTensorType:
    """The legacy type of the default dtype on the CPU: what ``ember.Tensor(...)`` builds."""
    return CPU_TYPES[f"{STEMS[dtypes.get_default_dtype().name]}Tensor"]


def _all_ints(values) -> bool:
    return all(isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)
               for v in values)


def _make(dtype_name: str, cuda: bool) -> LegacyTensorType:
    dtype = dtypes.from_name(dtype_name)
    name = f"{STEMS[dtype_name]}Tensor"
    return LegacyTensorType(name, (), {
        "dtype": dtype, "is_cuda": cuda, "__module__": "ember.cuda" if cuda else "ember",
        "__doc__": f"Legacy constructor of {dtype} tensors on the {'GPU' if cuda else 'CPU'}.",
    })


CPU_TYPES = {f"{stem}Tensor": _make(name, False) for name, stem in STEMS.items()}
CUDA_TYPES = {f"{stem}Tensor": _make(name, True) for name, stem in STEMS.items()}

FloatTensor = CPU_TYPES["FloatTensor"]
DoubleTensor = CPU_TYPES["DoubleTensor"]
HalfTensor = CPU_TYPES["HalfTensor"]
LongTensor = CPU_TYPES["LongTensor"]
IntTensor = CPU_TYPES["IntTensor"]
ShortTensor = CPU_TYPES["ShortTensor"]
CharTensor = CPU_TYPES["CharTensor"]
ByteTensor = CPU_TYPES["ByteTensor"]
BoolTensor = CPU_TYPES["BoolTensor"]

__all__ = list(CPU_TYPES)
