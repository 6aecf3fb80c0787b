"""ember.linalg: forward against numpy, gradcheck and gradgradcheck in float64.

Inputs are well conditioned: shifted random matrices for inverses and solves, ``X X^T + nI``
for Cholesky, ``X + X^T`` for eigh (generic, so distinct eigenvalues), plain Gaussian matrices for
the SVD (distinct singular values). Singular and eigenvectors enter the checks only through
sign-invariant functions (``U * U``, ``U @ Vh``), as their signs are arbitrary.
"""

import math

import numpy as np
import pytest

import ember
from harness import OpCase, check_op

linalg = ember.linalg


def _shifted(rng, shapes, dtype):
    """Random matrices plus ``n`` on the diagonal (well conditioned), other inputs Gaussian."""
    out = []
    for shape in shapes:
        a = rng.normal(size=shape)
        if len(shape) >= 2 and shape[-1] == shape[-2]:
            a = a + shape[-1] * np.eye(shape[-1])
        out.append(a.astype(dtype))
    return out


def _gaussian(rng, shapes, dtype):
    return [rng.normal(size=s).astype(dtype) for s in shapes]


def _spd(x):
    n = x.shape[-1]
    return x @ np.swapaxes(x, -1, -2) + n * np.eye(n)


def _spd_t(x):
    n = x.shape[-1]
    return x @ x.mT + n * ember.eye(n, dtype=x.dtype, device=x.device)


def _case(name, fn, ref, shapes, inputs=_shifted, **extra):
    return OpCase(name, ref, shapes, fn=fn, inputs=inputs, id=extra.pop("id", name),
                  arity=extra.pop("arity", 1), **extra)


def _svd_invariants(u, s, vh):
    return s, u * u, vh * vh, u @ vh


def _np_svd(a, full_matrices=False):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    return u, s, vh


def _taylor_expm(a, terms=40):
    out = np.broadcast_to(np.eye(a.shape[-1]), a.shape).copy()
    term = out.copy()
    for k in range(1, terms):
        term = term @ a / k
        out = out + term
    return out


SOLVE_SHAPES = [((3, 3), (3, 2)), ((3, 3), (3,)), ((2, 3, 3), (1, 3, 2)), ((2, 3, 3), (2, 3)),
                ((3, 3), (2, 3, 1))]

CASES = [
    _case("inv", linalg.inv, np.linalg.inv, [(3, 3), (2, 3, 3), (0, 0)]),
    _case("det", linalg.det, np.linalg.det, [(3, 3), (2, 2, 2), (1, 1)]),
    _case("slogdet", lambda a: linalg.slogdet(a).logabsdet, lambda a: np.linalg.slogdet(a)[1],
          [(3, 3), (2, 3, 3)]),
    _case("logdet", ember.logdet, lambda a: np.log(np.linalg.det(a)), [(3, 3)]),
    _case("solve", linalg.solve, lambda a, b: (np.linalg.solve(a, b[..., None])[..., 0]
                                               if b.ndim == 1 or b.shape == a.shape[:-1]
                                               else np.linalg.solve(a, b)),
          SOLVE_SHAPES, arity=2),
    _case("solve", lambda a, b: linalg.solve(a, b, left=False),
          lambda a, b: np.swapaxes(np.linalg.solve(np.swapaxes(a, -1, -2),
                                                   np.swapaxes(b, -1, -2)), -1, -2),
          [((3, 3), (2, 3)), ((2, 3, 3), (4, 3))], arity=2, id="solve-right"),
    _case("cholesky", lambda x: linalg.cholesky(_spd_t(x)), lambda x: np.linalg.cholesky(_spd(x)),
          [(3, 3), (2, 4, 4)], inputs=_gaussian),
    _case("cholesky", lambda x: linalg.cholesky(_spd_t(x), upper=True),
          lambda x: np.swapaxes(np.linalg.cholesky(_spd(x)), -1, -2), [(3, 3)],
          inputs=_gaussian, id="cholesky-upper"),
    _case("qr", linalg.qr, lambda a: np.linalg.qr(a), [(4, 3), (3, 3), (3, 4), (2, 4, 2)],
          inputs=_gaussian),
    _case("svd", lambda a: _svd_invariants(*linalg.svd(a, full_matrices=False)),
          lambda a: _svd_invariants(*_np_svd(a)), [(4, 3), (3, 4), (2, 3, 3)],
          inputs=_gaussian),
    _case("svd", lambda a: _svd_invariants(*(t[..., :3, :3] if i != 1 else t for i, t in
                                             enumerate(linalg.svd(a)))),
          lambda a: _svd_invariants(*(t[..., :3, :3] if i != 1 else t for i, t in
                                      enumerate(np.linalg.svd(a)))),
          [(3, 3)], inputs=_gaussian, id="svd-full"),
    _case("svdvals", linalg.svdvals, lambda a: np.linalg.svd(a, compute_uv=False),
          [(4, 3), (3, 5), (2, 3, 3)], inputs=_gaussian),
    _case("eigh", lambda x: (lambda r: (r.eigenvalues, r.eigenvectors ** 2))(
        linalg.eigh(x + x.mT)),
          lambda x: (lambda r: (r[0], r[1] ** 2))(np.linalg.eigh(x + np.swapaxes(x, -1, -2))),
          [(3, 3), (2, 4, 4)], inputs=_gaussian),
    _case("eigvalsh", lambda x: linalg.eigvalsh(x + x.mT),
          lambda x: np.linalg.eigvalsh(x + np.swapaxes(x, -1, -2)), [(4, 4)], inputs=_gaussian),
    _case("pinv", linalg.pinv, np.linalg.pinv, [(4, 3), (3, 4), (2, 3, 3)], inputs=_gaussian),
    _case("pinv", lambda x: linalg.pinv(x + x.mT, hermitian=True),
          lambda x: np.linalg.pinv(x + np.swapaxes(x, -1, -2), hermitian=True), [(3, 3)],
          inputs=_gaussian, id="pinv-hermitian"),
    _case("lstsq", lambda a, b: linalg.lstsq(a, b).solution,
          lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0], [((5, 3), (5, 2)), ((5, 3), (5,))],
          arity=2, inputs=_gaussian),
    _case("matrix_exp", linalg.matrix_exp, _taylor_expm, [(3, 3), (2, 2, 2)],
          inputs=lambda rng, shapes, dtype: [0.5 * rng.normal(size=s).astype(dtype)
                                             for s in shapes]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_linalg_op(case, device):
    check_op(case, device)


def _vector_norm_ref(ord_, dim=None, keepdim=False):
    return lambda a: np.linalg.norm(a.reshape(-1) if dim is None else a, ord_,
                                    axis=dim, keepdims=keepdim)


NORM_CASES = [
    OpCase("vector_norm", _vector_norm_ref(ord_, dim), [(3, 4)],
           fn=lambda a, o=ord_, d=dim: linalg.vector_norm(a, o, d), id=f"vector_norm-{ord_}-{dim}")
    for ord_, dim in [(2, None), (1, 1), (math.inf, 0), (-math.inf, 1), (3, 1), (0.5, 0)]
] + [
    OpCase("matrix_norm", lambda a, o=ord_: np.linalg.norm(a, o, axis=(-2, -1)),
           [(3, 4), (2, 3, 3)],
           fn=lambda a, o=ord_: linalg.matrix_norm(a, o), id=f"matrix_norm-{ord_}")
    for ord_ in ["fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf]
] + [
    OpCase("matrix_norm", lambda a, o=ord_: np.linalg.norm(a, o, axis=(2, 0), keepdims=True),
           [(3, 2, 4)], fn=lambda a, o=ord_: linalg.matrix_norm(a, o, dim=(2, 0), keepdim=True),
           id=f"matrix_norm-{ord_}-dims-keepdim")
    for ord_ in ["nuc", 1, -math.inf, 2]
]


@pytest.mark.parametrize("case", NORM_CASES, ids=str)
def test_norms(case, device):
    check_op(case, device)


def test_norm_dispatch_as_pytorch():
    a = np.random.default_rng(0).normal(size=(2, 3, 4))
    x = ember.tensor(a)
    np.testing.assert_allclose(linalg.norm(x).item(), np.linalg.norm(a.reshape(-1)))
    np.testing.assert_allclose(linalg.norm(x, dim=1).numpy(), np.linalg.norm(a, axis=1))
    np.testing.assert_allclose(linalg.norm(x, 1, dim=(1, 2)).numpy(),
                               np.linalg.norm(a, 1, axis=(1, 2)))
    np.testing.assert_allclose(linalg.norm(x[0], "nuc").item(), np.linalg.norm(a[0], "nuc"))
    np.testing.assert_allclose(linalg.norm(x[0], 2).item(), np.linalg.norm(a[0], 2))
    np.testing.assert_allclose(linalg.norm(x[0, 0], 3).item(), np.linalg.norm(a[0, 0], 3))
    with pytest.raises(RuntimeError, match="input must be 1D or 2D"):
        linalg.norm(x, 2)
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        linalg.matrix_norm(x, 3)
    with pytest.raises(RuntimeError, match="Expected a floating point"):
        linalg.vector_norm(ember.tensor([1, 2]))


def _matrix_power_ref(n):
    return lambda a: np.linalg.matrix_power(a, n)


def _solve_triangular_ref(upper, left=True, unitriangular=False):
    def ref(a, b):
        t = np.triu(a) if upper else np.tril(a)
        if unitriangular:
            t = t - np.diag(np.diag(t)) + np.eye(a.shape[-1])
        if left:
            return np.linalg.solve(t, b)
        return np.linalg.solve(t.T, b.T).T

    return ref


MORE_CASES = [
    _case("matrix_power", lambda a, n=n: linalg.matrix_power(a, n), _matrix_power_ref(n),
          [(3, 3)], id=f"matrix_power-{n}")
    for n in (0, 1, 2, 5, -3)
] + [
    _case("multi_dot", lambda *ts: linalg.multi_dot(ts),
          lambda *arrays: np.linalg.multi_dot(arrays), shapes, arity=len(shapes[0]),
          inputs=_gaussian, id=f"multi_dot-{len(shapes[0])}")
    for shapes in ([((3,), (3, 5), (5, 2), (2,))], [((2, 4), (4, 3))],
                   [((4, 2), (2, 6), (6, 3), (3, 1))])
] + [
    _case("vecdot", linalg.vecdot, lambda x, y: (x * y).sum(-1), [((3, 4), (4,))], arity=2,
          inputs=_gaussian),
    _case("solve_triangular", lambda a, b: linalg.solve_triangular(a, b, upper=True),
          _solve_triangular_ref(True), [((3, 3), (3, 2)), ((2, 3, 3), (3, 1))], arity=2),
    _case("solve_triangular",
          lambda a, b: linalg.solve_triangular(a, b, upper=False, left=False, unitriangular=True),
          _solve_triangular_ref(False, left=False, unitriangular=True), [((3, 3), (2, 3))],
          arity=2, id="solve_triangular-lower-right-unit"),
    _case("cond", linalg.cond, np.linalg.cond, [(3, 3), (4, 2)], inputs=_gaussian),
    _case("cond", lambda a: linalg.cond(a, "fro"), lambda a: np.linalg.cond(a, "fro"), [(3, 3)],
          id="cond-fro"),
    _case("cond", lambda a: linalg.cond(a, -math.inf), lambda a: np.linalg.cond(a, -np.inf),
          [(3, 3)], id="cond-neg-inf"),
]


@pytest.mark.parametrize("case", MORE_CASES, ids=str)
def test_linalg_products(case, device):
    check_op(case, device)


def test_matrix_rank_and_multi_dot_errors():
    a = ember.tensor([[1.0, 2.0], [2.0, 4.0]])
    assert linalg.matrix_rank(a).item() == 1 and linalg.matrix_rank(a).dtype == ember.int64
    assert linalg.matrix_rank(ember.eye(3)).item() == 3
    assert linalg.matrix_rank(ember.stack([a, ember.eye(2)])).tolist() == [1, 2]
    assert linalg.matrix_rank(ember.tensor([[1.0, 0.0], [0.0, 1e-3]]), atol=1e-2).item() == 1
    assert linalg.matrix_rank(ember.tensor([[1.0, 5.0], [0.0, 1.0]]), hermitian=True).item() == 2
    assert ember.matrix_power(ember.eye(2) * 2, 3)[0, 0].item() == 8.0
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        linalg.multi_dot([ember.ones(2, 3), ember.ones(4, 2)])
    with pytest.raises(RuntimeError, match="at least 2 tensors"):
        linalg.multi_dot([ember.ones(2, 3)])
    with pytest.raises(RuntimeError, match="must be 2D"):
        linalg.multi_dot([ember.ones(2, 3), ember.ones(3), ember.ones(3, 2)])
    with pytest.raises(TypeError, match="integer"):
        linalg.matrix_power(ember.eye(2), 1.5)
