"""Quantiles along a dim (``quantile``, ``nanquantile``), with PyTorch's interpolation modes.

The input is sorted (a differentiable gather), the two neighbouring order statistics of each
rank are gathered and blended with constant weights, so gradients of any order flow to the
elements that define each quantile.
"""

from __future__ import annotations

import numpy as np

from ember.backend import xp_of
from ember.ops._dims import normalize_dim
from ember.ops.op import op
from ember.ops.sorting import Argsort, gather_line
from ember.tensor.tensor import Tensor

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _q_array(q, input: Tensor, name: str):
    """``(q as a float64 numpy vector, whether q was a scalar)``, with PyTorch's checks."""
    if isinstance(q, Tensor):
        if q._array.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor, got shape "
                               f"{tuple(q.shape)}")
        if q._array.dtype != input._array.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor "
                               f"(got {q.dtype} and {input.dtype})")
        scalar = q._array.ndim == 0
        values = np.asarray(q.detach().cpu().numpy(), dtype=np.float64).reshape(-1)
    else:
        scalar = not isinstance(q, (list, tuple))
        values = np.asarray(q, dtype=np.float64).reshape(-1)
    if values.size and not ((values >= 0) & (values <= 1)).all():
        raise RuntimeError(f"{name}() q values must be in the range [0, 1], got "
                           f"{values.tolist()}")
    return values, scalar


def _check_input(input: Tensor, name: str, interpolation: str) -> None:
    if input._array.dtype.kind != "f":
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype, got "
                           f"{input.dtype}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{name}() interpolation must be one of {', '.join(_INTERPOLATIONS)}. "
                         f"Got '{interpolation}'")
    if input._array.size == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty (got shape "
                           f"{tuple(input.shape)})")


def _ranks(xp, ordered, axis: int, q, skip_nan: bool):
    """Fractional positions ``q * (n - 1)`` in the sorted lines, ``q`` along ``axis``.

    ``n`` counts the non-NaN elements with ``skip_nan``; otherwise a line holding NaN gets the
    rank of its last element (a NaN, which sorts last), so its quantiles are NaN as in PyTorch.
    """
    nan = xp.isnan(ordered)
    shape = [1] * ordered.ndim
    shape[axis] = q.size
    q = xp.asarray(q).reshape(shape)
    if skip_nan:
        valid = (~nan).sum(axis=axis, keepdims=True)
        return xp.maximum(q * (valid - 1), 0.0)  # all NaN: rank 0, itself a NaN
    n = ordered.shape[axis]
    return xp.where(nan.any(axis=axis, keepdims=True), float(n - 1), q * (n - 1))


def _quantile(input, q, dim, keepdim, interpolation, name, skip_nan):
    _check_input(input, name, interpolation)
    q_values, scalar = _q_array(q, input, name)
    line = input.reshape(-1) if dim is None else input
    if line._array.ndim == 0:
        line = line.reshape(1)
    axis = 0 if dim is None else normalize_dim(dim, line._array.ndim, name)
    xp = xp_of(input._array)
    ordered = gather_line(line, axis, Argsort.apply(line, dim=axis, descending=False))
    ranks = _ranks(xp, ordered._array, axis, q_values, skip_nan)
    low, high = xp.floor(ranks), xp.ceil(ranks)
    if interpolation == "nearest":
        low = high = xp.round(ranks)  # half to even, as PyTorch and numpy
    elif interpolation == "lower":
        high = low
    elif interpolation == "higher":
        low = high
    below = gather_line(ordered, axis, Tensor(low.astype(np.int64)))
    above = gather_line(ordered, axis, Tensor(high.astype(np.int64)))
    if interpolation == "linear":
        weight = Tensor((ranks - low).astype(ordered._array.dtype))
        out = below + weight * (above - below)
    elif interpolation == "midpoint":
        out = below + 0.5 * (above - below)
    else:
        out = below
    out = out.movedim(axis, 0)  # (len(q), *reduced shape)
    if keepdim:
        if dim is None:
            out = out.reshape((q_values.size,) + (1,) * input._array.ndim)
        elif input._array.ndim:
            out = out.unsqueeze(axis + 1)
    return out.squeeze(0) if scalar else out


@op("quantile", method=True)
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-quantiles of ``input`` along ``dim`` (of all elements when None).

    ``q`` is a number in [0, 1] or a 1-D tensor of them; with a tensor the result gets a
    leading dim of ``len(q)``. ``interpolation`` picks between the two order statistics around
    a rank: ``linear``, ``lower``, ``higher``, ``midpoint`` or ``nearest``. A line holding NaN
    has NaN quantiles (see ``nanquantile``).

    Example:
        >>> ember.tensor([1.0, 2.0, 3.0, 4.0]).quantile(ember.tensor([0.25, 0.5]))
        tensor([1.7500, 2.5000])
    """
    return _quantile(input, q, dim, keepdim, interpolation, "quantile", skip_nan=False)


@op("nanquantile", method=True)
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` ignoring NaN: the quantiles of the other elements, NaN where all are NaN.

    Example:
        >>> ember.tensor([1.0, float("nan"), 3.0]).nanquantile(0.5)
        tensor(2.)
    """
    return _quantile(input, q, dim, keepdim, interpolation, "nanquantile", skip_nan=True)
