"""Shared pieces of the ``linalg`` ops: input checks, PyTorch's error messages, small helpers.

The error paths re-examine the failing matrices on the host (an LU or Cholesky sweep in numpy)
to name the batch element and the pivot or minor that failed, as PyTorch's messages do; the
normal path never pays for that.
"""

# PyTorch's argument names: A, B, ord (keyword callers use them), and matrices in capitals.
# ruff: noqa: N803, N806, A002

from __future__ import annotations

import numpy as np

from ember.backend import xp_of
from ember.tensor.tensor import Tensor

# PyTorch's scalar type names, used in its dtype errors.
_TORCH_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
                "uint8": "Byte", "bool": "Bool", "float16": "Half", "bfloat16": "BFloat16"}


class LinAlgError(RuntimeError):
    """A linear-algebra routine failed on its input (``torch.linalg.LinAlgError``): a singular
    matrix, a matrix that is not positive-definite, or no convergence."""


def check_matrix(name: str, A: Tensor, label: str = "A", square: bool = False) -> None:
    """``A`` is a (batch of) float32/float64 matrices, square if asked, else a RuntimeError."""
    array = A._array
    if array.ndim < 2:
        raise RuntimeError(
            f"{name}: The input tensor {label} must have at least 2 dimensions."
        )
    kind = array.dtype.kind
    if kind != "f" and kind != "c":
        raise RuntimeError(
            f"{name}: Expected a floating point or complex tensor as input. Got "
            f"{_TORCH_NAMES.get(array.dtype.name, array.dtype.name)}"
        )
    if array.dtype.itemsize < 4:
        raise RuntimeError(
            f"{name}: Low precision dtypes not supported. Got "
            f"{_TORCH_NAMES.get(array.dtype.name, array.dtype.name)}"
        )
    if square and array.shape[-1] != array.shape[-2]:
        raise RuntimeError(
            f"{name}: {label} must be batches of square matrices, but they are "
            f"{array.shape[-2]} by {array.shape[-1]} matrices"
        )


def check_same_dtype(name: str, A: Tensor, B: Tensor) -> None:
    if A._array.dtype != B._array.dtype:
        raise RuntimeError(
            f"{name}: Expected A and B to have the same dtype, but found A of type {A.dtype} "
            f"and B of type {B.dtype} instead"
        )


def batch_shape(name: str, *shapes: tuple) -> tuple:
    """The broadcast of the batch dims (all but the last two) of ``shapes``, or an error."""
    try:
        return tuple(np.broadcast_shapes(*(s[:-2] for s in shapes)))
    except ValueError:
        raise RuntimeError(
            f"{name}: the batch dimensions of the inputs do not broadcast: "
            + ", ".join(str(tuple(s)) for s in shapes)
        ) from None


def eye_like(like: Tensor, n: int) -> Tensor:
    """An ``(n, n)`` identity of ``like``'s dtype and device (a constant)."""
    return Tensor(xp_of(like._array).eye(n, dtype=like._array.dtype))


def is_zero(grad) -> bool:
    """Whether ``grad`` is absent or all zeros: the engine fills unused outputs' gradients with
    zeros, and skipping them keeps gradients finite (svdvals with repeated values, eigvalsh)."""
    if grad is None:
        return True
    array = grad._array if isinstance(grad, Tensor) else grad
    return not bool(xp_of(array).any(array))


def _batches(array):
    host = np.asarray(array.get() if hasattr(array, "get") else array)
    return host.reshape((-1,) + host.shape[-2:])


def _first_failure(array, find):
    """``(prefix, position)`` for the first matrix of ``array`` where ``find`` reports a 1-based
    failure position, the prefix naming the batch element as PyTorch; None if none fails."""
    matrices = _batches(array)
    for index, matrix in enumerate(matrices):
        position = find(matrix)
        if position:
            return (f"(Batch element {index}): " if len(matrices) > 1 else ""), position
    return None


def failure_info(array, kind: str):
    """LAPACK's ``info`` for each matrix of ``array`` ``(*, n, n)`` as a host int32 array ``(*)``:
    the 1-based zero pivot (``kind="lu"``) or failing leading minor (``"cholesky"``), 0 if none."""
    find = _first_zero_pivot if kind == "lu" else _failing_minor
    info = [find(matrix) for matrix in _batches(array)]
    return np.asarray(info, dtype=np.int32).reshape(array.shape[:-2])


def _first_zero_pivot(matrix) -> int:
    """1-based position of the first zero pivot of an LU with partial pivoting (LAPACK getrf's
    ``info``), or 0 when there is none."""
    a = np.array(matrix, dtype=np.float64)
    n = a.shape[0]
    for j in range(n):
        p = j + int(np.argmax(np.abs(a[j:, j])))
        if a[p, j] == 0:
            return j + 1
        a[[j, p]] = a[[p, j]]
        a[j + 1:, j] /= a[j, j]
        a[j + 1:, j + 1:] -= np.outer(a[j + 1:, j], a[j, j + 1:])
    return 0


def singular_error(name: str, array, what: str | None, found_only: bool = False):
    """PyTorch's error for a singular input, naming the batch element and (for an inversion,
    ``what``) the zero pivot; ``what=None`` is the solvers' wording. None with ``found_only``
    when no matrix has a zero pivot."""
    failure = _first_failure(array, _first_zero_pivot)
    if failure is None and found_only:
        return None
    prefix, pivot = failure or ("", 0)
    if what is None:
        detail = "The solver failed because the input matrix is singular."
    elif pivot:
        detail = (f"The diagonal element {pivot} is zero, the {what} could not be completed "
                  "because the input matrix is singular.")
    else:
        detail = f"The {what} could not be completed because the input matrix is singular."
    return LinAlgError(f"{name}: {prefix}{detail}")


def _failing_minor(matrix) -> int:
    """1-based order of the first leading minor that is not positive-definite (potrf's info)."""
    a = np.array(matrix, dtype=np.float64)
    n = a.shape[0]
    lower = np.zeros_like(a)
    for j in range(n):
        pivot = a[j, j] - lower[j, :j] @ lower[j, :j]
        if not pivot > 0:
            return j + 1
        lower[j, j] = np.sqrt(pivot)
        lower[j + 1:, j] = (a[j + 1:, j] - lower[j + 1:, :j] @ lower[j, :j]) / lower[j, j]
    return 0


def not_positive_definite_error(name: str, array, found_only: bool = False):
    """PyTorch's cholesky error, naming the batch element and the failing leading minor (None
    with ``found_only`` when every matrix is positive-definite)."""
    failure = _first_failure(array, _failing_minor)
    if failure is None and found_only:
        return None
    prefix, order = failure or ("", 0)
    minor = f" (the leading minor of order {order} is not positive-definite)" if order else ""
    return LinAlgError(f"{name}: {prefix}The factorization could not be completed because the "
                       f"input is not positive-definite{minor}.")


def raise_if_failed(xp, out, find_error) -> None:
    """cupy's solvers return nan/inf for singular or indefinite input instead of raising: where
    a GPU result is not finite, ``find_error()`` re-examines the input on the host and its error
    is raised if it finds one (nan input gives a nan result, as on the CPU)."""
    if xp is np or bool(xp.isfinite(out).all()):
        return
    error = find_error()
    if error is not None:
        raise error
