"""Bringing operands to a common dtype (PyTorch's promotion) before an op runs."""

from __future__ import annotations

import numpy as np

from ember.tensor import dtypes
from ember.tensor.creation import as_tensor
from ember.tensor.tensor import Tensor

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}
_SCALAR_CATEGORY = {bool: 0, int: 1, float: 2}


def cast(tensor: Tensor, numpy_dtype) -> Tensor:
    """``tensor.to(dtype)`` by numpy dtype, differentiable; itself when already that dtype."""
    if tensor._array.dtype == numpy_dtype:
        return tensor
    from ember.ops.conversion import ToDtype

    return ToDtype.apply(tensor, dtype=np.dtype(numpy_dtype))


def promote_pair(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Casts two tensors to their promoted dtype (a dimensioned tensor outranks a 0-d one)."""
    target = dtypes.result_type(a, b).numpy
    return cast(a, target), cast(b, target)


def promote_all(tensors) -> list:
    target = dtypes.result_type(*tensors).numpy
    return [cast(t, target) for t in tensors]


def scalar_operand(a: Tensor, scalar, op_name: str):
    """Prepares ``tensor OP python_scalar``: lifts the tensor to the scalar's category if higher
    (int tensor * 0.5 computes in the default float dtype), and returns (tensor, scalar)."""
    category = _SCALAR_CATEGORY.get(type(scalar))
    if category is None:
        if isinstance(scalar, (np.generic,)):
            scalar = scalar.item()
            category = _SCALAR_CATEGORY.get(type(scalar), 2)
        else:
            raise TypeError(
                f"{op_name}: unsupported operand type {type(scalar).__name__}; expected a Tensor "
                "or a Python number"
            )
    if category > _CATEGORY[a._array.dtype.kind]:
        a = cast(a, dtypes.get_default_dtype().numpy if category == 2 else np.int64)
    return a, scalar


def tensor_operand(value, like: Tensor, op_name: str) -> Tensor:
    """An operand that is neither Tensor nor Python scalar (a numpy array, a list) as a Tensor."""
    try:
        return as_tensor(value, device=like.device)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{op_name}: unsupported operand type {type(value).__name__} ({error})"
        ) from None


def to_floating(a: Tensor) -> Tensor:
    """Integer and bool tensors become the default float dtype (for exp, sqrt, true division)."""
    if a._array.dtype.kind == "f":
        return a
    return cast(a, dtypes.get_default_dtype().numpy)
