"""``linalg.inv_ex`` and ``linalg.cholesky_ex``: the factorisations that report failure in an
``info`` tensor instead of raising (unless ``check_errors``), as PyTorch's, for loops that retry
with more jitter.

Ember's difference, on purpose: where a matrix fails, its result is all nan (PyTorch leaves
LAPACK's partial factors there, which are meaningless); ``info`` is the same.
"""

# PyTorch's argument names: A (keyword callers use it).
# ruff: noqa: N803

from __future__ import annotations

from ember.backend import device_of, to_device, xp_of
from ember.ops._linalg_common import LinAlgError, check_matrix, eye_like, failure_info
from ember.ops._results import return_type
from ember.ops.comparison import where
from ember.ops.linalg_solve import cholesky, inv
from ember.ops.op import op
from ember.tensor.tensor import Tensor

_INV_EX = return_type("linalg_inv_ex", ("inverse", "info"))
_CHOLESKY_EX = return_type("linalg_cholesky_ex", ("L", "info"))


def _no_failures(A: Tensor) -> Tensor:
    return Tensor(xp_of(A._array).zeros(A._array.shape[:-2], dtype="int32"))


def _guarded(A: Tensor, factor, kind: str):
    """``(factor(A), info)``: the failing matrices are replaced by the identity for the
    factorisation and their results by nan."""
    try:
        result = factor(A)
    except LinAlgError:
        info = failure_info(A._array, kind)
    else:
        return result, _no_failures(A)
    info = to_device(info, device_of(A._array))
    failed = Tensor(info != 0).unsqueeze(-1).unsqueeze(-1)
    safe = where(failed, eye_like(A, A._array.shape[-1]), A)
    return where(failed, float("nan"), factor(safe)), Tensor(info)


@op("linalg_inv_ex")
def inv_ex(A: Tensor, *, check_errors: bool = False):
    """``(inverse, info)`` of square ``A`` ``(*, n, n)``: ``info`` ``(*)`` int32 is 0 where the
    inverse exists, else the 1-based position of the zero pivot (the inverse is then nan).
    ``check_errors=True`` raises as ``linalg.inv`` instead.

    Example:
        >>> ember.linalg.inv_ex(ember.tensor([[1.0, 2.0], [2.0, 4.0]])).info
        tensor(2, dtype=ember.int32)
    """
    check_matrix("linalg.inv_ex", A, square=True)
    if check_errors:
        return _INV_EX(inv(A), _no_failures(A))
    return _INV_EX(*_guarded(A, inv, "lu"))


@op("linalg_cholesky_ex")
def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False):
    """``(L, info)`` for symmetric ``A`` ``(*, n, n)``: ``info`` ``(*)`` int32 is 0 where ``A``
    is positive-definite, else the order of the first leading minor that is not (``L`` is then
    nan). ``check_errors=True`` raises as ``linalg.cholesky`` instead.

    Example:
        >>> ember.linalg.cholesky_ex(ember.tensor([[1.0, 2.0], [2.0, 1.0]])).info
        tensor(2, dtype=ember.int32)
    """
    check_matrix("linalg.cholesky_ex", A, square=True)

    def factor(matrices):
        return cholesky(matrices, upper=upper)

    if check_errors:
        return _CHOLESKY_EX(factor(A), _no_failures(A))
    return _CHOLESKY_EX(*_guarded(A, factor, "cholesky"))
