"""Tensors, dtypes, creation functions and the op registry."""

from ember.tensor.creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from ember.tensor.dtypes import (
    bool_,
    dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    result_type,
    set_default_dtype,
    uint8,
)
from ember.tensor.tensor import Tensor

__all__ = [
    "Tensor", "arange", "as_tensor", "bool_", "dtype", "empty", "empty_like", "eye",
    "float16", "float32", "float64", "from_dlpack", "from_numpy", "full", "full_like",
    "get_default_dtype", "int8", "int16", "int32", "int64", "linspace", "ones", "ones_like",
    "promote_types", "result_type", "set_default_dtype", "tensor", "uint8", "zeros",
    "zeros_like",
]
