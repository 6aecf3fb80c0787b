"""Batch norm's per-channel sums as one reduction each: on cupy arrays a ``cupy.ReductionKernel``
of this module (compiled on first use), on numpy arrays an einsum pass.

Each reduction sums, per channel c, a value of its (N, C, S) inputs over the batch and the
positions (axes 0 and 2); per-channel inputs come as (C, 1) and broadcast. float16 sums in
float, the others in their own type. cupy's einsum would copy both operands of a product into a
batched matrix product (three launches and two activation-sized copies); these read them once.
"""

from __future__ import annotations

import numpy as np

_ACCUMULATORS = {"float16": "float", "float32": "float", "float64": "double"}
_PREAMBLE = "template <typename A> __device__ A ember_square(A v) { return v * v; }"

_SUM = "T(a)"
# name -> (input parameters, the value each element adds, what is written from the sum ``a``,
# the numpy code); "mean" divides its sums by the count of elements summed per channel
REDUCTIONS = {
    "mean": (
        "T x",
        "_type_reduce(x)",
        "T(a / _type_reduce(_in_ind.size() / _out_ind.size()))",
        lambda x: np.einsum("ncs->c", x) / (x.size // x.shape[1])),
    "dot": (
        "T x, T y",
        "_type_reduce(x) * _type_reduce(y)",
        _SUM,
        lambda x, y: np.einsum("ncs,ncs->c", x, y)),
    "centered_dot": (
        "T x, T y, T centre",
        "_type_reduce(x) * (_type_reduce(y) - _type_reduce(centre))",
        _SUM,
        lambda x, y, centre: np.einsum("ncs,ncs->c", x, y - centre)),
    "centered_square": (
        "T x, T centre",
        "ember_square(_type_reduce(x) - _type_reduce(centre))",
        _SUM,
        lambda x, centre: _squares(x - centre)),
}

_compiled: dict = {}


def channel_sums(name: str, *arrays):
    """Reduction ``name`` of ``REDUCTIONS`` over ``arrays`` of one float dtype: (C,) sums."""
    first = arrays[0]
    if type(first) is np.ndarray:
        return REDUCTIONS[name][3](*arrays)
    kernel = _compiled.get((name, first.dtype)) or _compile(name, first.dtype)
    return kernel(*arrays, axis=(0, 2))


def _squares(centered):
    return np.einsum("ncs,ncs->c", centered, centered)


def _compile(name: str, dtype):
    import cupy

    in_params, value, total, _ = REDUCTIONS[name]
    kernel = cupy.ReductionKernel(in_params, "T total", value, "a + b", f"total = {total}", "0",
                                  f"ember_channel_{name}", reduce_type=_ACCUMULATORS[dtype.name],
                                  preamble=_PREAMBLE)
    _compiled[(name, dtype)] = kernel
    return kernel
