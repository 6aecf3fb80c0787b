"""ember.linalg beyond the op harness: PyTorch's errors, result fields, aliases, edge cases."""

import math

import numpy as np
import pytest

import ember

linalg = ember.linalg


def _rng_matrix(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


# ---- errors worded as PyTorch's ----------------------------------------------------------------


def test_singular_inverse_names_the_zero_pivot_and_batch_element():
    # torch.linalg.inv: The diagonal element 2 is zero, the inversion could not be completed...
    singular = ember.tensor([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(linalg.LinAlgError, match=r"^linalg.inv: The diagonal element 2 is zero, "
                       "the inversion could not be completed because the input matrix is "
                       r"singular\.$"):
        linalg.inv(singular)
    batch = ember.stack([ember.eye(2), singular])
    with pytest.raises(RuntimeError, match=r"\(Batch element 1\): The diagonal element 2"):
        ember.inverse(batch)
    # torch.linalg.solve: (Batch element 1): The solver failed because the input matrix is ...
    with pytest.raises(linalg.LinAlgError, match=r"^linalg.solve: The solver failed because the "
                       r"input matrix is singular\.$"):
        linalg.solve(singular, ember.ones(2))
    with pytest.raises(linalg.LinAlgError, match=r"solve: \(Batch element 1\): The solver"):
        linalg.solve(batch, ember.ones(2))


def test_cholesky_names_the_failing_leading_minor():
    # torch.linalg.cholesky: ... (the leading minor of order 2 is not positive-definite).
    with pytest.raises(linalg.LinAlgError, match=r"not positive-definite \(the leading minor of "
                       r"order 2 is not positive-definite\)"):
        linalg.cholesky(ember.tensor([[1.0, 2.0], [2.0, 1.0]]))
    batch = ember.tensor([[[1.0, 0.0], [0.0, 1.0]], [[-1.0, 0.0], [0.0, 1.0]]])
    with pytest.raises(RuntimeError, match=r"\(Batch element 1\).*order 1"):
        linalg.cholesky(batch)
    assert issubclass(linalg.LinAlgError, RuntimeError)
    assert linalg.LinAlgError.__module__ == "ember.linalg"


def test_device_results_that_are_not_finite_are_reexamined_on_the_host():
    # cupy returns nan/inf where LAPACK reports a failure; any non-numpy module takes this path
    from types import SimpleNamespace

    from ember.ops._linalg_common import raise_if_failed, singular_error

    gpu_like = SimpleNamespace(isfinite=np.isfinite)
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(linalg.LinAlgError, match="diagonal element 2 is zero"):
        raise_if_failed(gpu_like, np.full((2, 2), np.inf),
                        lambda: singular_error("linalg.inv", singular, "inversion", True))
    nan_input = np.full((2, 2), np.nan)  # no pivot is zero: the nan result stands
    raise_if_failed(gpu_like, nan_input, lambda: singular_error("x", nan_input, "inversion", True))
    raise_if_failed(np, np.full((2, 2), np.inf), lambda: pytest.fail("numpy raises itself"))


@pytest.mark.parametrize("fn", [linalg.inv, linalg.det, linalg.slogdet, linalg.cholesky,
                                linalg.eigh, linalg.eigvalsh, linalg.matrix_exp])
def test_square_ops_reject_bad_shapes_and_dtypes(fn):
    with pytest.raises(RuntimeError, match=r"must be batches of square matrices, but they are 2 "
                       "by 3 matrices"):
        fn(ember.ones(2, 3))
    with pytest.raises(RuntimeError, match="must have at least 2 dimensions"):
        fn(ember.ones(3))
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as "
                       "input. Got Long"):
        fn(ember.tensor([[1, 2], [3, 4]]))


def test_solve_shape_errors():
    with pytest.raises(RuntimeError, match=r"Incompatible shapes of A and B for the equation "
                       r"AX = B \(3x3 and 2x1\)"):
        linalg.solve(ember.eye(3), ember.ones(2))
    with pytest.raises(RuntimeError, match=r"\(3x3 and 4x2\)"):
        linalg.solve(ember.eye(3), ember.ones(4, 2))
    with pytest.raises(RuntimeError, match="batch dimensions"):
        linalg.solve(ember.ones(2, 3, 3) + ember.eye(3), ember.ones(4, 3, 1))
    with pytest.raises(RuntimeError, match="same dtype"):
        linalg.solve(ember.eye(2), ember.ones(2, dtype=ember.float64))


def test_mode_and_driver_checks():
    with pytest.raises(RuntimeError, match="unrecognized mode 'full'"):
        linalg.qr(ember.eye(2), mode="full")
    with pytest.raises(RuntimeError, match="UPLO argument to be 'L' or 'U'"):
        linalg.eigh(ember.eye(2), UPLO="X")
    with pytest.raises(RuntimeError, match="driver"):
        linalg.lstsq(ember.eye(2), ember.ones(2, 1), driver="gesv")


# ---- results and options -----------------------------------------------------------------------


def test_slogdet_sign_and_logdet_of_negative_determinant():
    a = ember.tensor([[0.0, 2.0], [3.0, 0.0]])  # det = -6
    sign, logabsdet = linalg.slogdet(a)
    assert sign.item() == -1.0 and not sign.requires_grad
    np.testing.assert_allclose(logabsdet.item(), math.log(6.0), rtol=1e-6)
    assert math.isnan(ember.logdet(a).item())
    assert ember.logdet(ember.zeros(2, 2)).item() == -math.inf
    assert isinstance(ember.slogdet(a), ember.return_types.slogdet)
    assert linalg.det(ember.tensor([[1.0, 2.0], [2.0, 4.0]])).item() == 0.0


def test_det_gradient_of_singular_matrices_is_the_cofactor_matrix():
    a = ember.tensor([[[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]], dtype=ember.float64,
                     requires_grad=True)
    linalg.det(a).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [[[4.0, -2.0], [-2.0, 1.0]], np.zeros((2, 2))],
                               atol=1e-12)
    b = ember.tensor(np.diag([2.0, 3.0, 0.0]) @ _rng_matrix(3, 3), requires_grad=True)
    linalg.det(b).backward()
    cofactor = np.array([[np.linalg.det(np.delete(np.delete(b.detach().numpy(), i, 0), j, 1))
                          * (-1) ** (i + j) for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(b.grad.numpy(), cofactor, atol=1e-10)


def test_qr_modes():
    a = _rng_matrix(4, 3)
    x = ember.tensor(a)
    q, r = linalg.qr(x, mode="complete")
    assert q.shape == (4, 4) and r.shape == (4, 3)
    np.testing.assert_allclose((q @ r).numpy(), a, atol=1e-12)
    q, r = linalg.qr(x, mode="r")
    assert q.shape == (0,) and r.shape == (3, 3)
    np.testing.assert_allclose(np.abs(r.numpy()), np.abs(np.linalg.qr(a, mode="r")), atol=1e-12)
    x.requires_grad_()
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete' and nrows "
                       "> ncols"):
        linalg.qr(x, mode="complete").Q.sum().backward()
    q, r = ember.qr(x, some=False)
    assert q.shape == (4, 4)


def test_svd_full_matrices_and_torch_svd_alias():
    a = _rng_matrix(4, 2)
    u, s, vh = linalg.svd(ember.tensor(a))
    assert u.shape == (4, 4) and s.shape == (2,) and vh.shape == (2, 2)
    u, s, v = ember.tensor(a).svd()
    assert u.shape == (4, 2) and v.shape == (2, 2)
    np.testing.assert_allclose((u * s @ v.mT).numpy(), a, atol=1e-12)
    u, s, v = ember.svd(ember.tensor(a), compute_uv=False)
    assert u.shape == (4, 4) and v.shape == (2, 2) and not u.numpy().any()
    np.testing.assert_allclose(s.numpy(), np.linalg.svd(a, compute_uv=False))


def test_gradients_of_repeated_values_stay_finite():
    # svdvals and eigvalsh have well-defined gradients even when values repeat (PyTorch too).
    eye = ember.eye(3, dtype=ember.float64, requires_grad=True)
    linalg.svdvals(eye).sum().backward()
    np.testing.assert_allclose(eye.grad.numpy(), np.eye(3))
    eye.grad = None
    linalg.eigvalsh(eye).pow(2).sum().backward()
    np.testing.assert_allclose(eye.grad.numpy(), 2 * np.eye(3))


def test_eigh_reads_one_triangle():
    a = np.array([[2.0, 100.0], [1.0, 2.0]])
    lower = linalg.eigvalsh(ember.tensor(a)).numpy()
    upper = linalg.eigvalsh(ember.tensor(a), UPLO="U").numpy()
    np.testing.assert_allclose(lower, [1.0, 3.0])
    np.testing.assert_allclose(upper, [-98.0, 102.0])


def test_lstsq_fields_follow_the_driver():
    a, b = _rng_matrix(5, 3), _rng_matrix(5, 2, seed=1)
    A, B = ember.tensor(a), ember.tensor(b)
    solution, residuals, rank, singular_values = linalg.lstsq(A, B)  # default 'gelsy'
    expected, expected_residuals, _, expected_s = np.linalg.lstsq(a, b, rcond=None)
    np.testing.assert_allclose(solution.numpy(), expected, atol=1e-12)
    assert residuals.shape == (0,) and singular_values.shape == (0,)
    assert rank.item() == 3 and rank.dtype == ember.int64
    full = linalg.lstsq(A, B, driver="gelsd")
    np.testing.assert_allclose(full.residuals.numpy(), expected_residuals, rtol=1e-10)
    np.testing.assert_allclose(full.singular_values.numpy(), expected_s)
    gels = linalg.lstsq(A, B, driver="gels")
    assert gels.rank.shape == (0,) and gels.residuals.shape == (2,)
    deficient = ember.tensor(np.outer(np.arange(1.0, 5.0), [1.0, 2.0]))  # rank 1
    ones = ember.ones(4, 1, dtype=ember.float64)
    assert linalg.lstsq(deficient, ones, driver="gelsd").residuals.shape == (0,)
    assert linalg.lstsq(deficient, ones).rank.item() == 1
    batched = linalg.lstsq(ember.tensor(np.stack([a, 2 * a])), B)
    assert batched.solution.shape == (2, 3, 2) and batched.rank.tolist() == [3, 3]


def test_pinv_tolerances_and_pinverse():
    a = ember.tensor([[1.0, 0.0], [0.0, 1e-3]])
    np.testing.assert_allclose(linalg.pinv(a).numpy(), [[1.0, 0.0], [0.0, 1e3]], rtol=1e-5)
    np.testing.assert_allclose(linalg.pinv(a, atol=1e-2).numpy(), [[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(linalg.pinv(a, rtol=1e-2).numpy(), [[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(ember.pinverse(a, rcond=1e-2).numpy(), [[1.0, 0.0], [0.0, 0.0]])


def test_matrix_exp_large_norm_and_identities():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 4))
    symmetric = 5 * (x + np.swapaxes(x, -1, -2))  # 1-norms far above the Padé threshold
    values, vectors = np.linalg.eigh(symmetric)
    expected = vectors * np.exp(values)[..., None, :] @ np.swapaxes(vectors, -1, -2)
    got = ember.matrix_exp(ember.tensor(symmetric)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert ember.matrix_exp(ember.zeros(0, 0)).shape == (0, 0)
    rotation = ember.tensor([[0.0, -math.pi / 2], [math.pi / 2, 0.0]])
    np.testing.assert_allclose(rotation.matrix_exp().numpy(), [[0, -1], [1, 0]], atol=1e-12)


def test_solve_broadcast_gradients_sum_to_the_input_shapes():
    a = ember.tensor(_rng_matrix(3, 3) + 3 * np.eye(3), requires_grad=True)
    b = ember.tensor(_rng_matrix(4, 3, 2, seed=1), requires_grad=True)
    linalg.solve(a, b).sum().backward()
    assert a.grad.shape == (3, 3) and b.grad.shape == (4, 3, 2)
    inverse_t = np.linalg.inv(a.detach().numpy()).T
    np.testing.assert_allclose(b.grad.numpy(), np.broadcast_to(inverse_t.sum(1)[:, None],
                                                               (4, 3, 2)))


def test_top_level_aliases_are_pytorchs():
    a = ember.tensor(_rng_matrix(3, 3) + 3 * np.eye(3))
    np.testing.assert_allclose(ember.det(a).item(), linalg.det(a).item())
    np.testing.assert_allclose(a.inverse().numpy(), linalg.inv(a).numpy())
    spd = a @ a.mT
    np.testing.assert_allclose(spd.cholesky().numpy(), linalg.cholesky(spd).numpy())
    np.testing.assert_allclose(ember.cholesky(spd, upper=True).numpy(),
                               linalg.cholesky(spd).mT.numpy())
    for name in ("linalg_inv", "linalg_svd", "linalg_norm"):
        assert not hasattr(ember, name)  # published as ember.linalg.<name> only
    assert ember.linalg.matmul is ember.matmul
    b = _rng_matrix(2, 3, 4)
    np.testing.assert_allclose(ember.norm(ember.tensor(b), "nuc").numpy(),
                               np.linalg.norm(b, "nuc", axis=(-2, -1)))
    np.testing.assert_allclose(ember.tensor(b).norm(p="nuc", dim=(0, 2)).numpy(),
                               np.linalg.norm(b, "nuc", axis=(0, 2)))


def test_ex_variants_report_failures_in_info():
    a = ember.tensor([[[4.0, 2.0], [2.0, 5.0]], [[1.0, 2.0], [2.0, 1.0]]], dtype=ember.float64,
                     requires_grad=True)
    lower, info = linalg.cholesky_ex(a)
    assert info.tolist() == [0, 2] and info.dtype == ember.int32
    np.testing.assert_allclose(lower[0].detach().numpy(), [[2.0, 0.0], [1.0, 2.0]])
    assert np.isnan(lower[1].detach().numpy()).all()
    lower[0].sum().backward()  # the good matrix keeps its gradient, the failed one gets none
    assert np.isfinite(a.grad.numpy()).all() and not a.grad.numpy()[1].any()
    upper, info = linalg.cholesky_ex(a[:1], upper=True)
    np.testing.assert_allclose(upper.detach().numpy(), lower[:1].detach().numpy().swapaxes(1, 2))
    assert info.tolist() == [0]
    with pytest.raises(linalg.LinAlgError, match=r"\(Batch element 1\).*order 2"):
        linalg.cholesky_ex(a, check_errors=True)
    inverse, info = linalg.inv_ex(ember.tensor([[1.0, 2.0], [2.0, 4.0]]))
    assert info.item() == 2 and np.isnan(inverse.numpy()).all()
    inverse, info = linalg.inv_ex(ember.eye(2) * 2)
    assert info.item() == 0 and inverse.tolist() == [[0.5, 0.0], [0.0, 0.5]]
    with pytest.raises(linalg.LinAlgError, match="diagonal element 2"):
        linalg.inv_ex(ember.tensor([[1.0, 2.0], [2.0, 4.0]]), check_errors=True)
