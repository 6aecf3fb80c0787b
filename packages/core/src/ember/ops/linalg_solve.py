"""Square systems: ``linalg.inv``, ``det``, ``slogdet``, ``solve``, ``cholesky``, and PyTorch's
top-level aliases (``inverse``, ``det``, ``slogdet``, ``logdet``, ``cholesky``).

Every backward is written with these ops again, so second derivatives work. All take batches
``(*, n, n)``; ``solve`` broadcasts the batch dims of ``A`` and ``B``.
"""

# PyTorch's argument names: A, B, ord (keyword callers use them), and matrices in capitals.
# ruff: noqa: N803, N806, A002

from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.backend import xp_of
from ember.ops._linalg_common import (
    LinAlgError,
    batch_shape,
    check_matrix,
    check_same_dtype,
    not_positive_definite_error,
    raise_if_failed,
    singular_error,
)
from ember.ops._results import return_type
from ember.ops.comparison import where
from ember.ops.op import op, primitive
from ember.tensor.registry import lookup
from ember.tensor.tensor import Tensor

_SLOGDET = return_type("slogdet", ("sign", "logabsdet"))
_LINALG_SLOGDET = return_type("linalg_slogdet", ("sign", "logabsdet"))


# ---- inv ---------------------------------------------------------------------------------------


@primitive("linalg_inv")
class Inv(Function):
    """``A^{-1}``; the gradient is ``-A^{-T} grad A^{-T}``."""

    @staticmethod
    def forward(ctx, a):
        try:
            out = ctx.xp.linalg.inv(a)
        except np.linalg.LinAlgError:
            raise singular_error("linalg.inv", a, "inversion") from None
        raise_if_failed(ctx.xp, out, lambda: singular_error("linalg.inv", a, "inversion", True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (inverse,) = ctx.saved_tensors
        inverse_t = inverse.mT
        return -(inverse_t @ grad @ inverse_t)


@op("linalg_inv")
def inv(A: Tensor) -> Tensor:
    """The inverse of each square matrix in ``A`` ``(*, n, n)``.

    Raises ``ember.linalg.LinAlgError`` (a RuntimeError) for a singular matrix, naming the zero
    pivot as PyTorch does.

    Example:
        >>> ember.linalg.inv(ember.tensor([[2.0, 0.0], [0.0, 4.0]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.2500]])
    """
    check_matrix("linalg.inv", A, square=True)
    return Inv.apply(A)


@op("inverse", method=True)
def inverse(input: Tensor) -> Tensor:
    """Alias of ``ember.linalg.inv`` (PyTorch's ``torch.inverse``)."""
    return inv(input)


# ---- det, slogdet ------------------------------------------------------------------------------


def _scaled_inverse_t(a: Tensor, scale: Tensor) -> Tensor:
    """``scale * A^{-T}`` per matrix: the gradient of det and log|det| up to the scale."""
    return scale.unsqueeze(-1).unsqueeze(-1) * inv(a).mT


def _adjugate_t(a: Tensor) -> Tensor:
    """The transposed adjugate ``det(A) A^{-T}``, also for singular ``A``: from ``A = U S Vh``,
    ``det(U) det(Vh) U diag(prod_{j != i} s_j) Vh``."""
    u, s, vh = lookup("linalg_svd")(a, full_matrices=False)
    n = s._array.shape[-1]
    diagonal = Tensor(xp_of(s._array).eye(n, dtype=bool))
    others = where(diagonal, 1.0, s.unsqueeze(-2).expand(*s._array.shape[:-1], n, n)).prod(-1)
    orientation = (det(u) * det(vh)).detach()  # +-1, locally constant
    return orientation.unsqueeze(-1).unsqueeze(-1) * ((u * others.unsqueeze(-2)) @ vh)


@primitive("linalg_det")
class Det(Function):
    """Determinant; the gradient is ``grad * det(A) * A^{-T}``, through the SVD where ``A`` is
    singular (as PyTorch)."""

    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.asarray(ctx.xp.linalg.det(a))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, det_value = ctx.saved_tensors
        try:
            return _scaled_inverse_t(a, grad * det_value)
        except LinAlgError:
            return grad.unsqueeze(-1).unsqueeze(-1) * _adjugate_t(a)


@op("linalg_det")
def det(A: Tensor) -> Tensor:
    """Determinant of each square matrix in ``A`` ``(*, n, n)`` -> ``(*)``.

    Example:
        >>> ember.linalg.det(ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor(-2.)
    """
    check_matrix("linalg.det", A, square=True)
    return Det.apply(A)


@op("det", method=True)
def det_alias(input: Tensor) -> Tensor:
    """Alias of ``ember.linalg.det`` (PyTorch's ``torch.det``)."""
    return det(input)


@primitive("linalg_slogdet")
class Slogdet(Function):
    """``(sign, log|det A|)``; only ``logabsdet`` is differentiable: ``grad * A^{-T}``."""

    @staticmethod
    def forward(ctx, a):
        sign, logabsdet = ctx.xp.linalg.slogdet(a)
        sign, logabsdet = ctx.xp.asarray(sign), ctx.xp.asarray(logabsdet)
        ctx.save_for_backward(a)
        ctx.mark_non_differentiable(sign)
        return sign, logabsdet

    @staticmethod
    def backward(ctx, grad_sign, grad_logabsdet):
        (a,) = ctx.saved_tensors
        return _scaled_inverse_t(a, grad_logabsdet)


@op("linalg_slogdet")
def slogdet(A: Tensor):
    """Sign and natural log of the absolute determinant: a named tuple ``(sign, logabsdet)``,
    each ``(*)``. Stable where ``det`` would under- or overflow.

    Example:
        >>> ember.linalg.slogdet(ember.tensor([[-2.0, 0.0], [0.0, 3.0]])).logabsdet
        tensor(1.7918)
    """
    check_matrix("linalg.slogdet", A, square=True)
    return _LINALG_SLOGDET(*Slogdet.apply(A))


@op("slogdet", method=True)
def slogdet_alias(input: Tensor):
    """``torch.slogdet``: the same as ``ember.linalg.slogdet``."""
    check_matrix("slogdet", input, square=True)
    return _SLOGDET(*Slogdet.apply(input))


@op("logdet", method=True)
def logdet(input: Tensor) -> Tensor:
    """``log(det(input))``: nan where the determinant is negative, -inf where it is 0."""
    check_matrix("logdet", input, square=True)
    sign, logabsdet = Slogdet.apply(input)
    # log|det| is already -inf where det is 0
    return where(sign < 0, float("nan"), logabsdet)


# ---- solve -------------------------------------------------------------------------------------


@primitive("linalg_solve")
class Solve(Function):
    """``X = A^{-1} B`` for ``A (*, n, n)`` and ``B (*, n, k)`` with broadcast batch dims."""

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        try:
            out = xp.linalg.solve(xp.broadcast_to(a, batch + a.shape[-2:]),
                                  xp.broadcast_to(b, batch + b.shape[-2:]))
        except np.linalg.LinAlgError:
            raise singular_error("linalg.solve", a, None) from None
        raise_if_failed(xp, out, lambda: singular_error("linalg.solve", a, None, True))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        grad_b = Solve.apply(a.mT, grad)  # the engine sums broadcast batch dims back
        grad_a = -(grad_b @ x.mT) if ctx.needs_input_grad[0] else None
        return grad_a, grad_b


def is_vector_rhs(A: Tensor, B: Tensor) -> bool:
    """PyTorch's rule: B is a (batch of) vector(s) when 1-D, or when it has one dim less than A
    and matches A's shape without the last dim."""
    a_shape, b_shape = A._array.shape, B._array.shape
    return len(b_shape) == 1 or (len(b_shape) == len(a_shape) - 1 and b_shape == a_shape[:-1])


@op("linalg_solve")
def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """Solves ``A X = B`` (``X A = B`` with ``left=False``) for square ``A`` ``(*, n, n)``.

    ``B`` is ``(*, n, k)`` or a vector ``(*, n)`` (see PyTorch's rule); batch dims broadcast.

    Example:
        >>> A = ember.tensor([[3.0, 1.0], [1.0, 2.0]])
        >>> ember.linalg.solve(A, ember.tensor([9.0, 8.0]))
        tensor([2., 3.])
    """
    check_matrix("linalg.solve", A, square=True)
    check_same_dtype("linalg.solve", A, B)
    n = A._array.shape[-1]
    if is_vector_rhs(A, B):
        if not left:
            raise RuntimeError("linalg.solve: Vector broadcasting of the left hand side is not "
                               "supported for left=False. In this case linalg.solve is "
                               "equivalent to B / A.squeeze(-1)")
        if B._array.shape[-1] != n:
            raise RuntimeError(
                f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                f"({n}x{n} and {B._array.shape[-1]}x1)"
            )
        batch_shape("linalg.solve", A._array.shape, B._array.shape[:-1] + (n, 1))
        return Solve.apply(A, B.unsqueeze(-1)).squeeze(-1)
    if B._array.ndim < 2:
        raise RuntimeError("linalg.solve: The input tensor B must have at least 1 dimensions.")
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return solve(A.mT, B.mT).mT
    if B._array.shape[-2] != n:
        raise RuntimeError(
            f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
            f"({n}x{n} and {B._array.shape[-2]}x{B._array.shape[-1]})"
        )
    batch_shape("linalg.solve", A._array.shape, B._array.shape)
    return Solve.apply(A, B)


# ---- cholesky ----------------------------------------------------------------------------------


@primitive("linalg_cholesky")
class Cholesky(Function):
    """Lower factor ``L`` of ``A = L L^T`` (only the lower triangle of ``A`` is read).

    The gradient is PyTorch's: ``L^{-T} Phi(L^T grad) L^{-1}`` with ``Phi`` the lower triangle
    with a halved diagonal, symmetrised.
    """

    @staticmethod
    def forward(ctx, a):
        try:
            out = ctx.xp.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            raise not_positive_definite_error("linalg.cholesky", a) from None
        raise_if_failed(ctx.xp, out,
                        lambda: not_positive_definite_error("linalg.cholesky", a, True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (lower,) = ctx.saved_tensors
        phi = (lower.mT @ grad).tril()
        phi = 0.5 * (phi + phi.tril(-1).mT)
        lower_inv = inv(lower)
        return lower_inv.mT @ phi @ lower_inv


@op("linalg_cholesky")
def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """Cholesky factor of symmetric positive-definite ``A`` ``(*, n, n)``: lower ``L`` with
    ``A = L L^T``, or upper ``U = L^T`` with ``upper=True``.

    Raises ``ember.linalg.LinAlgError`` naming the leading minor that is not positive-definite.

    Example:
        >>> ember.linalg.cholesky(ember.tensor([[4.0, 2.0], [2.0, 5.0]]))
        tensor([[2., 0.],
                [1., 2.]])
    """
    check_matrix("linalg.cholesky", A, square=True)
    lower = Cholesky.apply(A)
    return lower.mT if upper else lower


@op("cholesky", method=True)
def cholesky_alias(input: Tensor, upper: bool = False) -> Tensor:
    """``torch.cholesky`` (deprecated in PyTorch): ``ember.linalg.cholesky(input, upper=upper)``."""
    return cholesky(input, upper=upper)
