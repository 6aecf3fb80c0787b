"""quantile/nanquantile against numpy's, and cummax/cummin/logcumsumexp, as PyTorch."""

import numpy as np
import pytest

import ember
from harness import OpCase, check_op

NAN = float("nan")


def ref_cumulative_extreme(pick):
    def ref(a, dim):
        if a.ndim == 0:
            return a, np.zeros((), np.int64)
        lines = np.moveaxis(a, dim, -1)
        values, index = np.empty_like(lines), np.empty(lines.shape, np.int64)
        for position in np.ndindex(lines.shape[:-1]):
            best, where = lines[position][0], 0
            for i, x in enumerate(lines[position]):
                if np.isnan(x) or (not np.isnan(best) and pick(x, best)):
                    best, where = x, i
                values[position + (i,)], index[position + (i,)] = best, where
        return np.moveaxis(values, -1, dim), np.moveaxis(index, -1, dim)

    return ref


def ref_logcumsumexp(a, dim):
    return np.logaddexp.accumulate(a, axis=dim) if a.ndim else a


CASES = [
    OpCase("quantile", lambda a, q, dim=None, keepdim=False: np.quantile(a, q, axis=dim,
                                                                          keepdims=keepdim),
           [(3, 5), (7,)], kwargs={"q": 0.3}, id="quantile-all"),
    OpCase("quantile", lambda a, q, dim, keepdim: np.quantile(a, q, axis=dim, keepdims=keepdim),
           [(3, 5, 2)], kwargs={"q": 0.75, "dim": 1, "keepdim": True}, id="quantile-dim"),
    OpCase("nanquantile", lambda a, q, dim: np.nanquantile(a, q, axis=dim), [(4, 5)],
           kwargs={"q": 0.4, "dim": 0}, id="nanquantile"),
    OpCase("cummax", ref_cumulative_extreme(np.greater_equal), [(3, 5), ()], kwargs={"dim": -1},
           id="cummax"),
    OpCase("cummin", ref_cumulative_extreme(np.less_equal), [(4, 3)], kwargs={"dim": 0},
           id="cummin"),
    OpCase("logcumsumexp", ref_logcumsumexp, [(3, 6), (9,), ()], kwargs={"dim": 0},
           low=-5.0, high=5.0, id="logcumsumexp"),
    OpCase("logcumsumexp", ref_logcumsumexp, [(2, 7, 3)], kwargs={"dim": 1}, id="logcumsumexp-1"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("dim", [None, 0, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_quantile_matches_numpy_with_nan_and_vector_q(interpolation, dim, keepdim):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 6))
    a[1, 2] = np.nan
    q = np.array([0.0, 0.2, 0.5, 0.85, 1.0])
    for name, reference in (("quantile", np.quantile), ("nanquantile", np.nanquantile)):
        fn = getattr(ember, name)
        got = fn(ember.tensor(a), ember.tensor(q), dim, keepdim, interpolation=interpolation)
        expected = reference(a, q, axis=dim, keepdims=keepdim, method=interpolation)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_quantile_gradient_with_vector_q():
    x = ember.tensor(np.random.default_rng(3).normal(size=(3, 5)), requires_grad=True)
    q = ember.tensor([0.1, 0.5, 0.9], dtype=ember.float64)
    assert ember.autograd.gradcheck(lambda t: t.quantile(q, dim=1), [x])
    assert ember.autograd.gradgradcheck(lambda t: t.quantile(q, dim=1), [x])


def test_quantile_bad_arguments_raise_as_pytorch():
    x = ember.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"quantile\(\) q values must be in the range \[0, 1\]"):
        x.quantile(1.5)
    with pytest.raises(RuntimeError, match="must be either float or double"):
        ember.tensor([1, 2]).quantile(0.5)
    with pytest.raises(RuntimeError, match="same dtype"):
        x.quantile(ember.tensor([0.5], dtype=ember.float64))
    with pytest.raises(ValueError, match="interpolation must be one of"):
        x.quantile(0.5, interpolation="cubic")
    with pytest.raises(RuntimeError, match="non-empty"):
        ember.zeros(0).quantile(0.5)


def test_cummax_ties_take_the_last_index_and_nan_takes_over():
    values, indices = ember.tensor([1.0, 3.0, 2.0, 3.0, NAN, 5.0, NAN]).cummax(0)
    assert indices.tolist() == [0, 1, 1, 3, 4, 4, 6]
    assert values.tolist()[:4] == [1.0, 3.0, 3.0, 3.0] and np.isnan(values.numpy()[4:]).all()
    assert ember.tensor([2, 1, 1, 3]).cummin(0).indices.tolist() == [0, 1, 2, 2]


def test_cummax_gradient_goes_to_the_running_maximum():
    x = ember.tensor([1.0, 3.0, 2.0, 4.0], requires_grad=True)
    x.cummax(0).values.sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 0.0, 1.0]


def test_logcumsumexp_keeps_small_and_large_terms():
    x = ember.tensor([-1000.0, 0.0, 1000.0, -2000.0], dtype=ember.float64, requires_grad=True)
    y = x.logcumsumexp(0)
    np.testing.assert_allclose(y.detach().numpy(), [-1000.0, 0.0, 1000.0, 1000.0])
    y.backward(ember.tensor([1.0, -2.0, 0.5, 1.0], dtype=ember.float64))
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -2.0, 1.5, 0.0])
    assert ember.tensor([1, 2]).logcumsumexp(0).dtype == ember.float32


@pytest.mark.parametrize("name", ["maximum", "minimum", "logaddexp", "add"])
@pytest.mark.parametrize("axis", [0, 1])
def test_doubling_scan_of_the_gpu_path_matches_numpy_accumulate(name, axis):
    from ember.backend.arrays import doubling_scan

    a = np.random.default_rng(0).normal(size=(13, 7))
    a[3, 2] = np.nan
    ufunc = getattr(np, name)
    with np.errstate(invalid="ignore"):  # NaN through logaddexp
        scanned, expected = doubling_scan(ufunc, a, axis), ufunc.accumulate(a, axis=axis)
    np.testing.assert_allclose(scanned, expected, rtol=1e-13)

