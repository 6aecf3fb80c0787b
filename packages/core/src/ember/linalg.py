"""``ember.linalg``: PyTorch's ``torch.linalg`` names over Ember's linear-algebra ops.

Every function takes batches ``(*, m, n)`` and is differentiable where PyTorch's is (see each
op's docstring for the conditions on singular values and eigenvalues). Failures on singular or
non-positive-definite input raise ``ember.linalg.LinAlgError``, a RuntimeError.

Example:
    >>> A = ember.tensor([[4.0, 1.0], [1.0, 3.0]])
    >>> ember.linalg.solve(A, ember.tensor([1.0, 2.0]))
    tensor([0.0909, 0.6364])
"""

from __future__ import annotations

from ember.ops._linalg_common import LinAlgError
from ember.tensor.registry import OPS

LinAlgError.__module__ = __name__  # shown as ember.linalg.LinAlgError, as torch.linalg's

cholesky = OPS["linalg_cholesky"]
cholesky_ex = OPS["linalg_cholesky_ex"]
cond = OPS["linalg_cond"]
det = OPS["linalg_det"]
eigh = OPS["linalg_eigh"]
eigvalsh = OPS["linalg_eigvalsh"]
inv = OPS["linalg_inv"]
inv_ex = OPS["linalg_inv_ex"]
lstsq = OPS["linalg_lstsq"]
matmul = OPS["matmul"]
matrix_exp = OPS["linalg_matrix_exp"]
matrix_norm = OPS["linalg_matrix_norm"]
matrix_power = OPS["linalg_matrix_power"]
matrix_rank = OPS["linalg_matrix_rank"]
multi_dot = OPS["linalg_multi_dot"]
norm = OPS["linalg_norm"]
pinv = OPS["linalg_pinv"]
qr = OPS["linalg_qr"]
slogdet = OPS["linalg_slogdet"]
solve = OPS["linalg_solve"]
solve_triangular = OPS["linalg_solve_triangular"]
svd = OPS["linalg_svd"]
svdvals = OPS["linalg_svdvals"]
vecdot = OPS["linalg_vecdot"]
vector_norm = OPS["linalg_vector_norm"]

__all__ = [
    "LinAlgError", "cholesky", "cholesky_ex", "cond", "det", "eigh", "eigvalsh", "inv", "inv_ex",
    "lstsq", "matmul",
    "matrix_exp", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr",
    "slogdet", "solve", "solve_triangular", "svd", "svdvals", "vecdot", "vector_norm",
]
