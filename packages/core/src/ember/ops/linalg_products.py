"""Products and derived quantities: ``linalg.matrix_power``, ``multi_dot``, ``vecdot``,
``solve_triangular``, ``matrix_rank``, ``cond`` (and ``ember.matrix_power``).

All are compositions of differentiable ops (matmul, inv, solve, svdvals), so their gradients
come from those.
"""

# PyTorch's argument names: A, B (keyword callers use them).
# ruff: noqa: N803, N806

from __future__ import annotations

import math

import numpy as np

from ember.backend import xp_of
from ember.ops._linalg_common import check_matrix, check_same_dtype, eye_like
from ember.ops.linalg_decomp import eigvalsh, svdvals
from ember.ops.linalg_lstsq import _default_rtol
from ember.ops.linalg_norms import matrix_norm
from ember.ops.linalg_solve import inv, solve
from ember.ops.op import op
from ember.tensor.tensor import Tensor


@op("linalg_matrix_power")
def matrix_power(A: Tensor, n: int) -> Tensor:
    """``A`` multiplied with itself ``n`` times, for square ``A`` ``(*, m, m)``: the identity for
    ``n = 0``, powers of ``inv(A)`` for ``n < 0``; by repeated squaring.

    Example:
        >>> ember.linalg.matrix_power(ember.tensor([[1.0, 1.0], [0.0, 1.0]]), 3)
        tensor([[1., 3.],
                [0., 1.]])
    """
    check_matrix("linalg.matrix_power", A, square=True)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"linalg.matrix_power: n must be an integer, got {type(n).__name__}")
    if n == 0:
        return eye_like(A, A._array.shape[-1]).expand(*A._array.shape)
    base = inv(A) if n < 0 else A
    result = None
    n = abs(int(n))
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


@op("matrix_power", method=True)
def matrix_power_alias(input: Tensor, n: int) -> Tensor:
    """``torch.matrix_power``: the same as ``ember.linalg.matrix_power``."""
    return matrix_power(input, n)


@op("linalg_multi_dot")
def multi_dot(tensors) -> Tensor:
    """The product of a sequence of matrices, multiplied in the cheapest order; the first may be
    a row vector ``(n,)`` and the last a column vector ``(n,)`` (their dim is dropped).

    Example:
        >>> ember.linalg.multi_dot([ember.ones(3), ember.ones(3, 4), ember.ones(4)])
        tensor(12.)
    """
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first_vector = tensors[0]._array.ndim == 1
    last_vector = tensors[-1]._array.ndim == 1
    matrices = list(tensors)
    if first_vector:
        matrices[0] = matrices[0].unsqueeze(0)
    if last_vector:
        matrices[-1] = matrices[-1].unsqueeze(-1)
    for index, matrix in enumerate(matrices):
        if matrix._array.ndim != 2:
            raise RuntimeError(
                f"multi_dot(): tensor {index} must be 2D but got {tensors[index]._array.ndim}D"
                + (" (only the first and last may be 1D)" if tensors[index]._array.ndim == 1
                   else "")
            )
        check_same_dtype("multi_dot", matrices[0], matrix)
    for index in range(len(matrices) - 1):
        if matrices[index]._array.shape[1] != matrices[index + 1]._array.shape[0]:
            raise RuntimeError(
                f"multi_dot(): tensors {index} and {index + 1} with shapes "
                f"{tuple(tensors[index]._array.shape)} and "
                f"{tuple(tensors[index + 1]._array.shape)} cannot be multiplied"
            )
    dims = [m._array.shape[0] for m in matrices] + [matrices[-1]._array.shape[1]]
    result = _chain(matrices, _chain_order(dims), 0, len(matrices) - 1)
    if first_vector:
        result = result.squeeze(0)
    if last_vector:
        result = result.squeeze(-1)
    return result


def _chain_order(dims: list) -> list:
    """The classic matrix-chain dynamic programme: ``split[i][j]`` is where to cut ``i..j``."""
    count = len(dims) - 1
    cost = [[0] * count for _ in range(count)]
    split = [[0] * count for _ in range(count)]
    for length in range(1, count):
        for i in range(count - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                candidate = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if candidate < cost[i][j]:
                    cost[i][j], split[i][j] = candidate, k
    return split


def _chain(matrices, split, i, j):
    if i == j:
        return matrices[i]
    k = split[i][j]
    return _chain(matrices, split, i, k) @ _chain(matrices, split, k + 1, j)


@op("linalg_vecdot")
def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """Dot products of the vectors along ``dim`` of ``x`` and ``y`` (which broadcast).

    Example:
        >>> ember.linalg.vecdot(ember.tensor([[1.0, 2.0], [3.0, 4.0]]), ember.tensor([1.0, 1.0]))
        tensor([3., 7.])
    """
    return (x * y).sum(dim)


@op("linalg_solve_triangular")
def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Tensor:
    """Solves ``A X = B`` (``X A = B`` with ``left=False``) reading only the ``upper`` or lower
    triangle of ``A`` ``(*, n, n)`` (and taking its diagonal as ones if ``unitriangular``);
    ``B`` is ``(*, n, k)`` (``(*, k, n)`` for ``left=False``). The gradient for ``A`` lies in
    that triangle.

    Example:
        >>> U = ember.tensor([[2.0, 1.0], [0.0, 4.0]])
        >>> ember.linalg.solve_triangular(U, ember.tensor([[3.0], [4.0]]), upper=True)
        tensor([[1.],
                [1.]])
    """
    check_matrix("linalg.solve_triangular", A, square=True)
    check_matrix("linalg.solve_triangular", B, label="B")
    triangle = A.triu(1 if unitriangular else 0) if upper else A.tril(-1 if unitriangular else 0)
    if unitriangular:
        triangle = triangle + eye_like(A, A._array.shape[-1])
    return solve(triangle, B, left=left)


@op("linalg_matrix_rank")
def matrix_rank(A: Tensor, tol=None, hermitian: bool = False, *, atol=None,
                rtol=None) -> Tensor:
    """Numerical rank of ``A`` ``(*, m, n)``: how many singular values exceed
    ``max(atol, rtol * largest)`` (defaults as ``linalg.pinv``; ``tol`` is PyTorch's older name
    for ``atol``; ``hermitian`` reads only the lower triangle). An int64 tensor ``(*)``.

    Example:
        >>> ember.linalg.matrix_rank(ember.tensor([[1.0, 2.0], [2.0, 4.0]]))
        tensor(1)
    """
    check_matrix("linalg.matrix_rank", A)
    if tol is not None:
        atol = tol
    if rtol is None:
        rtol = 0.0 if atol else _default_rtol(A)
    # a symmetric matrix's singular values are its eigenvalues' magnitudes (one triangle read)
    values = abs(eigvalsh(A)._array) if hermitian else svdvals(A)._array
    largest = values.max(-1, keepdims=True) if values.shape[-1] else values
    cutoff = largest * rtol
    if atol:
        cutoff = cutoff.clip(min=atol)
    return Tensor(xp_of(values).asarray((values > cutoff).sum(-1), dtype=np.int64))


@op("linalg_cond")
def cond(A: Tensor, p=None) -> Tensor:
    """Condition number of ``A`` in the matrix norm ``p``: ``s_max / s_min`` for ``p`` None or 2
    (any ``(*, m, n)``), ``s_min / s_max`` for -2, else ``norm(A, p) * norm(inv(A), p)`` (square
    invertible ``A``).

    Example:
        >>> ember.linalg.cond(ember.tensor([[2.0, 0.0], [0.0, 0.5]]))
        tensor(4.)
    """
    check_matrix("linalg.cond", A, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        values = svdvals(A)
        largest, smallest = values.amax(-1), values.amin(-1)
        return largest / smallest if p != -2 else smallest / largest
    return matrix_norm(A, p) * matrix_norm(inv(A), p)
