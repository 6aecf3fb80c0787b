"""Factorisations: ``linalg.qr``, ``svd``, ``svdvals``, ``eigh``, ``eigvalsh``, and PyTorch's
top-level ``svd`` and ``qr`` (which return ``V`` rather than ``Vh`` and take ``some``).

Backward formulas are PyTorch's (``FunctionsManual.cpp``), written with Tensor ops so that they
are differentiable again. As in PyTorch, the gradients of singular vectors and eigenvectors are
defined only for distinct singular values/eigenvalues and for losses that do not depend on the
vectors' signs; gradients of the values alone (``svdvals``, ``eigvalsh``) are always finite.
"""

# PyTorch's argument names: A, B, ord (keyword callers use them), and matrices in capitals.
# ruff: noqa: N803, N806, A002

from __future__ import annotations

from ember.autograd.function import Function
from ember.backend import xp_of
from ember.ops._linalg_common import LinAlgError, check_matrix, eye_like, is_zero
from ember.ops._results import return_type
from ember.ops.join import cat
from ember.ops.linalg_solve import solve
from ember.ops.op import op, primitive
from ember.tensor.tensor import Tensor

_QR = return_type("linalg_qr", ("Q", "R"))
_TORCH_QR = return_type("qr", ("Q", "R"))
_SVD = return_type("linalg_svd", ("U", "S", "Vh"))
_TORCH_SVD = return_type("svd", ("U", "S", "V"))
_EIGH = return_type("linalg_eigh", ("eigenvalues", "eigenvectors"))


# ---- qr ----------------------------------------------------------------------------------------


def _copy_lower_to_upper(m: Tensor) -> Tensor:
    """The symmetric matrix with ``m``'s lower triangle (diagonal included)."""
    return m.tril() + m.tril(-1).mT


def _qr_backward_tall(grad_q: Tensor, grad_r: Tensor, q: Tensor, r: Tensor) -> Tensor:
    """``A = QR`` with ``m >= n``: ``gA = (gQ + Q copyltu(M)) R^{-T}``, ``M = R gR^T - gQ^T Q``."""
    m = r @ grad_r.mT - grad_q.mT @ q
    b = grad_q + q @ _copy_lower_to_upper(m)
    return solve(r, b.mT).mT  # b R^{-T}


@primitive("linalg_qr")
class QR(Function):
    """``A = QR`` with orthonormal columns in ``Q`` and upper-triangular ``R``."""

    @staticmethod
    def forward(ctx, a, mode):
        q, r = ctx.xp.linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
        ctx.save_for_backward(a, q, r)
        return q, r

    @staticmethod
    def backward(ctx, grad_q, grad_r):
        a, q, r = ctx.saved_tensors
        m, n = a._array.shape[-2:]
        if ctx.attrs["mode"] == "complete" and m > n:
            raise RuntimeError("linalg.qr: The QR decomposition is not differentiable when "
                               "mode='complete' and nrows > ncols.")
        if m >= n:
            return _qr_backward_tall(grad_q, grad_r, q, r)
        # Wide A = [X | Y] with X = QU square and Y = QV: V adds Y gV^T to gQ, and gY = Q gV.
        grad_v = grad_r[..., m:]
        grad_x = _qr_backward_tall(grad_q + a[..., m:] @ grad_v.mT, grad_r[..., :m], q,
                                   r[..., :m])
        return cat([grad_x, q @ grad_v], -1)


@op("linalg_qr")
def qr(A: Tensor, mode: str = "reduced"):
    """QR factorisation of ``A`` ``(*, m, n)``: a named tuple ``(Q, R)``.

    ``mode``: ``"reduced"`` (``Q (*, m, k)``, ``R (*, k, n)``, ``k = min(m, n)``), ``"complete"``
    (``Q (*, m, m)``, ``R (*, m, n)``) or ``"r"`` (``R`` only; ``Q`` is an empty tensor).

    Example:
        >>> Q, R = ember.linalg.qr(ember.tensor([[3.0, 0.0], [4.0, 5.0]]))
        >>> (Q @ R).round()
        tensor([[3., 0.],
                [4., 5.]])
    """
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    check_matrix("linalg.qr", A)
    q, r = QR.apply(A, mode=mode)
    if mode == "r":
        return _QR(Tensor(q._array.reshape(-1)[:0]), r)
    return _QR(q, r)


@op("qr", method=True)
def qr_alias(input: Tensor, some: bool = True):
    """``torch.qr`` (deprecated in PyTorch): reduced with ``some=True``, else complete."""
    Q, R = qr(input, "reduced" if some else "complete")
    return _TORCH_QR(Q, R)


# ---- svd ---------------------------------------------------------------------------------------


def _svd_backward(grad_u, grad_s, grad_vh, u, s, vh) -> Tensor:
    """PyTorch's ``svd_backward`` for real reduced factors ``U (*, m, k)``, ``S``, ``Vh (*, k, n)``:

    ``gA = U [(skew(U^T gU) S + S skew(Vh gVh^T)) / E + diag(gS)] Vh`` plus the parts of ``gU``
    (``gVh``) outside the span of ``U`` (``V``), with ``E_jk = s_k^2 - s_j^2`` (1 on the diagonal).
    """
    m, n = u._array.shape[-2], vh._array.shape[-1]
    if grad_u is None and grad_vh is None:  # svdvals: U diag(gS) Vh
        return u @ (grad_s.unsqueeze(-1) * vh)
    s_squared = s * s
    e = s_squared.unsqueeze(-2) - s_squared.unsqueeze(-1) + eye_like(s, s._array.shape[-1])
    inner = None
    if grad_u is not None:
        uhgu = u.mT @ grad_u
        inner = (uhgu - uhgu.mT) * s.unsqueeze(-2)
    if grad_vh is not None:
        vhgv = vh @ grad_vh.mT
        term = s.unsqueeze(-1) * (vhgv - vhgv.mT)
        inner = term if inner is None else inner + term
    inner = inner / e
    if grad_s is not None:
        inner = inner + grad_s.diag_embed()
    if m > n and grad_u is not None:
        grad_u_sinv = grad_u / s.unsqueeze(-2)
        outer = u @ inner + grad_u_sinv - u @ (u.mT @ grad_u_sinv)
        return outer @ vh
    if m < n and grad_vh is not None:
        sinv_grad_vh = grad_vh / s.unsqueeze(-1)
        outer = inner @ vh + sinv_grad_vh - (sinv_grad_vh @ vh.mT) @ vh
        return u @ outer
    return u @ inner @ vh


@primitive("linalg_svd")
class SVD(Function):
    """``A = U diag(S) Vh``, singular values in descending order."""

    @staticmethod
    def forward(ctx, a, full_matrices):
        try:
            u, s, vh = ctx.xp.linalg.svd(a, full_matrices=full_matrices)
        except ValueError:  # numpy's LinAlgError: no convergence (nan or inf entries)
            raise LinAlgError("linalg.svd: The algorithm failed to converge because the input "
                              "matrix is ill-conditioned or has too many repeated singular "
                              "values.") from None
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, grad_u, grad_s, grad_vh):
        u, s, vh = ctx.saved_tensors
        k = s._array.shape[-1]
        if ctx.attrs["full_matrices"]:  # the extra columns are arbitrary: only the first k count
            u, vh = u[..., :k], vh[..., :k, :]
            grad_u, grad_vh = grad_u[..., :k], grad_vh[..., :k, :]
        return _svd_backward(None if is_zero(grad_u) else grad_u,
                             None if is_zero(grad_s) else grad_s,
                             None if is_zero(grad_vh) else grad_vh, u, s, vh)


@op("linalg_svd")
def svd(A: Tensor, full_matrices: bool = True, *, driver=None):
    """Singular value decomposition of ``A`` ``(*, m, n)``: a named tuple ``(U, S, Vh)`` with
    ``A = U @ diag(S) @ Vh`` and ``S`` descending. ``full_matrices=False`` gives the reduced
    factors ``U (*, m, k)``, ``Vh (*, k, n)``, ``k = min(m, n)``. ``driver`` is accepted for
    PyTorch's signature (it only selects a CUDA solver there).

    Example:
        >>> ember.linalg.svd(ember.tensor([[3.0, 0.0], [0.0, -4.0]])).S
        tensor([4., 3.])
    """
    check_matrix("linalg.svd", A)
    return _SVD(*SVD.apply(A, full_matrices=bool(full_matrices)))


@op("linalg_svdvals")
def svdvals(A: Tensor, *, driver=None) -> Tensor:
    """Singular values of ``A`` ``(*, m, n)`` in descending order, ``(*, min(m, n))``; the
    gradient is finite even for repeated values.

    Example:
        >>> ember.linalg.svdvals(ember.tensor([[0.0, 2.0], [1.0, 0.0]]))
        tensor([2., 1.])
    """
    check_matrix("linalg.svdvals", A)
    return SVD.apply(A, full_matrices=False)[1]


@op("svd", method=True)
def svd_alias(input: Tensor, some: bool = True, compute_uv: bool = True):
    """``torch.svd`` (deprecated in PyTorch): ``(U, S, V)`` with ``V`` (not ``Vh``); reduced with
    ``some=True``; with ``compute_uv=False``, ``U`` and ``V`` are zero matrices."""
    check_matrix("svd", input)
    u, s, vh = SVD.apply(input, full_matrices=not some and compute_uv)
    if not compute_uv:  # zero (m, m) and (n, n) matrices, as PyTorch
        xp, shape = xp_of(input._array), input._array.shape
        return _TORCH_SVD(Tensor(xp.zeros(shape[:-1] + shape[-2:-1], dtype=s._array.dtype)), s,
                          Tensor(xp.zeros(shape[:-2] + shape[-1:] * 2, dtype=s._array.dtype)))
    return _TORCH_SVD(u, s, vh.mT)


# ---- eigh --------------------------------------------------------------------------------------


@primitive("linalg_eigh")
class Eigh(Function):
    """``A = V diag(L) V^T`` for symmetric ``A`` (one triangle read), ``L`` ascending."""

    @staticmethod
    def forward(ctx, a, UPLO):
        try:
            values, vectors = ctx.xp.linalg.eigh(a, UPLO=UPLO)
        except ValueError:
            raise LinAlgError("linalg.eigh: The algorithm failed to converge because the input "
                              "matrix is ill-conditioned or has too many repeated "
                              "eigenvalues.") from None
        ctx.save_for_backward(values, vectors)
        return values, vectors

    @staticmethod
    def backward(ctx, grad_values, grad_vectors):
        values, vectors = ctx.saved_tensors
        if is_zero(grad_vectors):  # eigvalsh: V diag(gL) V^T
            return vectors @ (grad_values.unsqueeze(-1) * vectors.mT)
        # gA = V (diag(gL) + F o (V^T gV)) V^T with F_ij = 1 / (l_j - l_i) off the diagonal
        eye = eye_like(values, values._array.shape[-1])
        e = values.unsqueeze(-2) - values.unsqueeze(-1) + eye
        inner = (vectors.mT @ grad_vectors) / e * (1 - eye)
        if not is_zero(grad_values):
            inner = inner + grad_values.diag_embed()
        return vectors @ inner @ vectors.mT


def _check_uplo(name: str, UPLO: str) -> str:
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"{name}: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO


@op("linalg_eigh")
def eigh(A: Tensor, UPLO: str = "L"):
    """Eigen-decomposition of symmetric ``A`` ``(*, n, n)``: a named tuple ``(eigenvalues,
    eigenvectors)``, values ascending, vectors in the columns. Only the ``UPLO`` (``"L"`` or
    ``"U"``) triangle of ``A`` is read.

    Example:
        >>> ember.linalg.eigh(ember.tensor([[2.0, 1.0], [1.0, 2.0]])).eigenvalues
        tensor([1., 3.])
    """
    check_matrix("linalg.eigh", A, square=True)
    return _EIGH(*Eigh.apply(A, UPLO=_check_uplo("linalg.eigh", UPLO)))


@op("linalg_eigvalsh")
def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """Eigenvalues of symmetric ``A`` ``(*, n, n)`` in ascending order, ``(*, n)``.

    Example:
        >>> ember.linalg.eigvalsh(ember.tensor([[2.0, 0.0], [0.0, -1.0]]))
        tensor([-1.,  2.])
    """
    check_matrix("linalg.eigvalsh", A, square=True)
    return Eigh.apply(A, UPLO=_check_uplo("linalg.eigvalsh", UPLO))[0]
