"""``linalg.matrix_exp``: the matrix exponential by scaling and squaring with a degree-13 Padé
approximant (Higham, 2005), differentiable through the block-matrix identity

``exp([[A^T, G], [0, A^T]]) = [[exp(A^T), L], [0, exp(A^T)]]``, where ``L`` is the gradient.
"""

# PyTorch's argument names: A, B, ord (keyword callers use them), and matrices in capitals.
# ruff: noqa: N803, N806, A002

from __future__ import annotations

import numpy as np

from ember.autograd.function import Function
from ember.ops._linalg_common import check_matrix
from ember.ops.join import cat
from ember.ops.op import op, primitive
from ember.tensor.tensor import Tensor

# Padé(13) coefficients b_0 .. b_13 and the 1-norm below which it is accurate to double
# precision without scaling (Higham 2005, table 2.3).
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _pade13(xp, a):
    b = _PADE13
    eye = xp.eye(a.shape[-1], dtype=a.dtype)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2
             + b[1] * eye)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * eye
    return xp.linalg.solve(v - u, v + u)


def matrix_exp_array(xp, a):
    """``exp(a)`` for a batch of square arrays ``(*, n, n)``, each scaled by its own power of 2."""
    if a.shape[-1] == 0 or a.size == 0:
        return a.copy()
    norms = xp.abs(a).sum(axis=-2).max(axis=-1)  # the 1-norm of each matrix
    with np.errstate(divide="ignore"):
        squarings = xp.ceil(xp.log2(norms / _THETA13))
    squarings = xp.where(xp.isfinite(squarings), xp.maximum(squarings, 0), 0).astype(np.int64)
    scaled = a / (2.0 ** squarings).astype(a.dtype)[..., None, None]
    out = _pade13(xp, scaled)
    rounds = int(squarings.max()) if squarings.size else 0
    for round_index in range(rounds):
        square = (round_index < squarings)[..., None, None]
        out = xp.where(square, out @ out, out)
    return out


@primitive("linalg_matrix_exp")
class MatrixExp(Function):
    """``exp(A) = sum_k A^k / k!`` of each square matrix."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return matrix_exp_array(ctx.xp, a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        n = a._array.shape[-1]
        transposed = a.mT
        upper = cat([transposed, grad], -1)
        lower = cat([Tensor(ctx.xp.zeros_like(transposed._array)), transposed], -1)
        return MatrixExp.apply(cat([upper, lower], -2))[..., :n, n:]


@op("linalg_matrix_exp")
def matrix_exp(A: Tensor) -> Tensor:
    """Matrix exponential of each square matrix in ``A`` ``(*, n, n)``.

    Example:
        >>> ember.linalg.matrix_exp(ember.tensor([[0.0, 1.0], [0.0, 0.0]]))
        tensor([[1., 1.],
                [0., 1.]])
    """
    check_matrix("linalg.matrix_exp", A, square=True)
    return MatrixExp.apply(A)


@op("matrix_exp", method=True)
def matrix_exp_alias(input: Tensor) -> Tensor:
    """``torch.matrix_exp``: the same as ``ember.linalg.matrix_exp``."""
    return matrix_exp(input)


