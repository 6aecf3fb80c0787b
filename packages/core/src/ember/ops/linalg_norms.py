"""Norms: ``linalg.vector_norm``, ``linalg.matrix_norm`` and ``linalg.norm``, which picks one.

Vector norms are the ``norm`` primitive; matrix norms compose it with ``abs``/``sum``/``amax``
and, for the spectral and nuclear norms, with ``svdvals``; all are differentiable.
"""

# PyTorch's argument names: A, B, ord (keyword callers use them), and matrices in capitals.
# ruff: noqa: N803, N806, A002

from __future__ import annotations

import math

from ember.ops._dims import normalize_dim
from ember.ops._linalg_common import check_matrix
from ember.ops.linalg_decomp import svdvals
from ember.ops.op import op
from ember.ops.statistics import norm as _norm
from ember.tensor import dtypes
from ember.tensor.tensor import Tensor

_MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf)


def _require_float(name: str, x: Tensor, dtype) -> None:
    kind = (dtypes.to_dtype(dtype).numpy if dtype is not None else x._array.dtype).kind
    if kind != "f" and kind != "c":
        raise RuntimeError(
            f"{name}: Expected a floating point or complex tensor as input. Got {x.dtype}"
        )


@op("linalg_vector_norm")
def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Vector ``ord``-norm of ``x`` over ``dim`` (an int, a tuple, or None for all elements):
    ``ord`` is any number, ``inf`` or ``-inf`` (0 counts the non-zero entries).

    Example:
        >>> ember.linalg.vector_norm(ember.tensor([3.0, -4.0]), ord=1)
        tensor(7.)
    """
    if isinstance(ord, str) or ord is None:
        raise RuntimeError(f"linalg.vector_norm: Expected a numeric ord, but got {ord!r}")
    _require_float("linalg.vector_norm", x, dtype)
    return _norm(x, p=ord, dim=dim, keepdim=keepdim, dtype=dtype)


def _matrix_dims(name: str, A: Tensor, dim) -> tuple:
    if len(dim) != 2:
        raise RuntimeError(f"{name}: dim must be a 2-tuple. Got {tuple(dim)}")
    ndim = A._array.ndim
    first, second = (normalize_dim(d, ndim, name) for d in dim)
    if first == second:
        raise RuntimeError(f"{name}: dims must be different. Got ({first}, {second})")
    return first, second


def _restore_dims(result: Tensor, dims: tuple, keepdim: bool) -> Tensor:
    """``result`` reduced over both ``dims`` kept as size 1, squeezed unless ``keepdim``."""
    if keepdim:
        return result
    for d in sorted(dims, reverse=True):
        result = result.squeeze(d)
    return result


@op("linalg_matrix_norm")
def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *,
                dtype=None) -> Tensor:
    """Matrix norm of ``A`` over the two dims ``dim``: ``"fro"``, ``"nuc"`` (sum of singular
    values), ``2``/``-2`` (largest/smallest singular value), ``1``/``-1`` (max/min column
    absolute sum), ``inf``/``-inf`` (max/min row absolute sum).

    Example:
        >>> ember.linalg.matrix_norm(ember.tensor([[1.0, -2.0], [3.0, 4.0]]), ord=1)
        tensor(6.)
    """
    name = "linalg.matrix_norm"
    if ord not in _MATRIX_ORDS:
        raise RuntimeError(f"{name}: Order {ord} not supported.")
    if A._array.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    _require_float(name, A, dtype)
    if dtype is not None:
        A = A.to(dtypes.to_dtype(dtype))
    dims = _matrix_dims(name, A, dim)
    if ord == "fro":
        return _norm(A, p=2, dim=dims, keepdim=keepdim)
    if ord in ("nuc", 2, -2):
        check_matrix(name, A)
        values = svdvals(A.movedim(dims, (-2, -1)))
        if ord == "nuc":
            result = values.sum(-1)
        else:
            result = values.amax(-1) if ord == 2 else values.amin(-1)
        if keepdim:
            for d in sorted(dims):
                result = result.unsqueeze(d)
        return result
    summed_dim, reduced_dim = dims if ord in (1, -1) else dims[::-1]
    sums = A.abs().sum(dim=summed_dim, keepdim=True)
    result = sums.amax(reduced_dim, keepdim=True) if ord > 0 else sums.amin(reduced_dim,
                                                                            keepdim=True)
    return _restore_dims(result, dims, keepdim)


@op("linalg_norm")
def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """A vector or matrix norm, as ``torch.linalg.norm`` chooses: a matrix norm when ``ord`` is
    a string or ``dim`` has two entries (or ``A`` is 2-D with ``ord`` and no ``dim``), else a
    vector norm; with neither ``ord`` nor ``dim``, the 2-norm of all entries.

    Example:
        >>> ember.linalg.norm(ember.tensor([[3.0, 0.0], [0.0, 4.0]]))
        tensor(5.)
    """
    if isinstance(dim, int):
        dim = (dim,)
    if dim is None:
        if ord is None:
            return vector_norm(A, 2, None, keepdim, dtype=dtype)
        if isinstance(ord, str) or A._array.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
        if A._array.ndim != 1:
            raise RuntimeError("linalg.norm: If dim is not specified but ord is, the input must "
                               f"be 1D or 2D. Got {A._array.ndim}D.")
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    dim = tuple(dim)
    if len(dim) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if len(dim) != 1 or isinstance(ord, str):
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                           f"Got {list(dim)}" if len(dim) != 1 else
                           f"linalg.norm: Order {ord} not supported for vector norms.")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
