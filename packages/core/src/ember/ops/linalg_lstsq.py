"""Least squares and the pseudo-inverse: ``linalg.pinv``, ``linalg.lstsq``, ``pinverse``.

Both are compositions of ``svd`` (``eigh`` for a Hermitian ``pinv``) as in PyTorch, so their
gradients come from those ops: defined where the kept singular values are distinct.
"""

# PyTorch's argument names: A, B, ord (keyword callers use them), and matrices in capitals.
# ruff: noqa: N803, N806, A002

from __future__ import annotations

import numpy as np

from ember.backend import xp_of
from ember.ops._linalg_common import batch_shape, check_matrix, check_same_dtype
from ember.ops._results import return_type
from ember.ops.comparison import where
from ember.ops.linalg_decomp import eigh, svd
from ember.ops.linalg_solve import is_vector_rhs
from ember.ops.op import op
from ember.tensor.tensor import Tensor

_LSTSQ = return_type("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))
_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def _default_rtol(A: Tensor) -> float:
    """PyTorch's default relative cut-off: the dtype's epsilon times ``max(m, n)``."""
    return float(np.finfo(A._array.dtype).eps) * max(A._array.shape[-2:])


def _inverted_values(values: Tensor, magnitude: Tensor, atol, rtol) -> Tensor:
    """``1 / values`` where ``magnitude > max(atol, rtol * max(magnitude))``, else 0."""
    largest = magnitude.amax(-1, keepdim=True) if magnitude._array.shape[-1] else magnitude
    cutoff = largest * rtol
    if atol:
        cutoff = cutoff.clamp(min=atol)
    keep = magnitude > cutoff
    return where(keep, 1.0 / where(keep, values, 1.0), 0.0)


@op("linalg_pinv")
def pinv(A: Tensor, rcond=None, hermitian: bool = False, *, atol=None, rtol=None) -> Tensor:
    """Moore-Penrose pseudo-inverse of ``A`` ``(*, m, n)`` -> ``(*, n, m)``.

    Singular values at or below ``max(atol, rtol * largest)`` are treated as zero; by default
    ``atol = 0`` and ``rtol = eps * max(m, n)`` (``rtol = 0`` when only ``atol`` is given).
    ``rcond`` is PyTorch's older name for ``rtol``. ``hermitian=True`` uses ``eigh`` (only the
    lower triangle is read).

    Example:
        >>> ember.linalg.pinv(ember.tensor([[2.0, 0.0], [0.0, 0.0]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.0000]])
    """
    check_matrix("linalg.pinv", A)
    if rcond is not None:
        rtol = rcond
    if rtol is None:
        rtol = 0.0 if atol else _default_rtol(A)
    if hermitian:
        values, vectors = eigh(A)
        inverted = _inverted_values(values, values.abs(), atol, rtol)
        return (vectors * inverted.unsqueeze(-2)) @ vectors.mT
    u, s, vh = svd(A, full_matrices=False)
    inverted = _inverted_values(s, s, atol, rtol)
    return (vh.mT * inverted.unsqueeze(-2)) @ u.mT


@op("pinverse", method=True)
def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """``torch.pinverse``: ``ember.linalg.pinv(input, rtol=rcond)``."""
    return pinv(input, rtol=rcond)


def _empty(like: Tensor, dtype=None) -> Tensor:
    return Tensor(like._array.reshape(-1)[:0].astype(dtype or like._array.dtype))


@op("linalg_lstsq")
def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver=None):
    """Least-squares solution of ``A X = B`` for ``A`` ``(*, m, n)`` and ``B`` ``(*, m, k)`` (or
    ``(*, m)``): a named tuple ``(solution, residuals, rank, singular_values)`` as PyTorch's on
    the CPU.

    ``solution`` is the minimum-norm solution ``(*, n, k)``, with singular values at or below
    ``rcond * largest`` treated as zero (default ``rcond``: eps times ``max(m, n)``). As for
    PyTorch's drivers: ``residuals`` (squared column residuals ``(*, k)``) only when ``m > n``,
    every ``A`` has full rank and ``driver`` is not ``"gelsy"``; ``rank`` unless ``"gels"``;
    ``singular_values`` only for ``"gelsd"``/``"gelss"``; otherwise empty tensors. The default
    driver is ``"gelsy"``.

    Example:
        >>> A = ember.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> ember.linalg.lstsq(A, ember.tensor([[1.0], [2.0], [3.0]])).solution.round()
        tensor([[1.],
                [2.]])
    """
    name = "linalg.lstsq"
    driver = "gelsy" if driver is None else driver
    if driver not in _DRIVERS:
        raise RuntimeError(f"{name}: parameter `driver` should be one of (gels, gelsy, gelsd, "
                           f"gelss). Got {driver!r}")
    check_matrix(name, A)
    check_same_dtype(name, A, B)
    vector = is_vector_rhs(A, B)
    if vector:
        B = B.unsqueeze(-1)
    if B._array.ndim < 2 or B._array.shape[-2] != A._array.shape[-2]:
        raise RuntimeError(
            f"{name}: input.size(-2) should match other.size(-2) (A {tuple(A._array.shape)}, "
            f"B {tuple(B._array.shape)})"
        )
    batch_shape(name, A._array.shape, B._array.shape)
    m, n = A._array.shape[-2:]
    rtol = _default_rtol(A) if rcond is None or rcond < 0 else rcond
    u, s, vh = svd(A, full_matrices=False)
    inverted = _inverted_values(s, s, None, rtol)
    solution = (vh.mT * inverted.unsqueeze(-2)) @ (u.mT @ B)
    values = s._array
    largest = values[..., :1] if values.shape[-1] else values
    rank_array = xp_of(values).asarray((values > largest * rtol).sum(-1), dtype=np.int64)
    residuals = _empty(A)
    if driver != "gelsy" and m > n and bool((rank_array == n).all()):
        residuals = ((A @ solution - B) ** 2).sum(-2)
        if vector:
            residuals = residuals.squeeze(-1)
    rank = _empty(A, np.int64) if driver == "gels" else Tensor(rank_array)
    singular_values = s.detach() if driver in ("gelsd", "gelss") else _empty(A)
    if vector:
        solution = solution.squeeze(-1)
    return _LSTSQ(solution, residuals, rank, singular_values)
