"""Reductions and statistics: sum/mean/prod, max/min family, var/std, norm, logsumexp, cum ops."""

import math

import numpy as np
import pytest

import ember
from harness import OpCase, check_op


def _axis(a, dim):
    """A torch-style ``dim`` as a numpy ``axis`` (a 0-d tensor reduces as a whole)."""
    if a.ndim == 0 or dim is None:
        return None
    return tuple(dim) if isinstance(dim, (list, tuple)) else dim


def _reducer(numpy_fn):
    def ref(a, dim=None, keepdim=False, **extra):
        return numpy_fn(a, axis=_axis(a, dim), keepdims=keepdim, **extra)

    return ref


def _selecting(pick):
    """Reference for max/min/median along one dim: (values, indices)."""

    def ref(a, dim, keepdim=False):
        flat = a.reshape(-1) if a.ndim == 0 else a
        axis = dim % flat.ndim
        index = np.expand_dims(pick(flat, axis), axis)
        values = np.take_along_axis(flat, index, axis)
        if a.ndim == 0:
            return values.reshape(()), index.reshape(())
        if not keepdim:
            return values.squeeze(axis), index.squeeze(axis)
        return values, index

    return ref


def _lower_median_index(a, axis):
    return np.argsort(a, axis=axis, kind="stable").take((a.shape[axis] - 1) // 2, axis=axis)


def _ref_median(a):
    flat = np.sort(a.reshape(-1))
    return flat[(flat.size - 1) // 2]


def _ref_var(a, dim=None, correction=1, keepdim=False):
    return np.var(a, axis=_axis(a, dim), ddof=correction, keepdims=keepdim)


def _ref_std(a, dim=None, correction=1, keepdim=False):
    return np.std(a, axis=_axis(a, dim), ddof=correction, keepdims=keepdim)


def _ref_norm(a, p="fro", dim=None, keepdim=False):
    axis = _axis(a, dim)
    magnitude = np.abs(a)
    if p in ("fro", 2):
        return np.sqrt((a * a).sum(axis=axis, keepdims=keepdim))
    if p == math.inf:
        return magnitude.max(axis=axis, keepdims=keepdim)
    if p == -math.inf:
        return magnitude.min(axis=axis, keepdims=keepdim)
    return (magnitude**p).sum(axis=axis, keepdims=keepdim) ** (1 / p)


def _ref_logsumexp(a, dim, keepdim=False):
    axis = _axis(a, dim)
    peak = a.max(axis=axis, keepdims=True)
    out = np.log(np.exp(a - peak).sum(axis=axis, keepdims=True)) + peak
    return out if keepdim else out.reshape(np.sum(a, axis=axis).shape)


def _cumulative(numpy_fn):
    def ref(a, dim):
        return numpy_fn(a.reshape(-1), axis=0).reshape(()) if a.ndim == 0 else numpy_fn(a, axis=dim)

    return ref


def _away_from_zero(rng, shapes, dtype):
    """Values in +-[0.5, 1.5]: no zeros (p-norms, prod) and products of moderate size."""
    return [(rng.uniform(0.5, 1.5, s) * rng.choice([-1, 1], s)).astype(dtype) for s in shapes]


SHAPES = [(3, 4), (2, 3, 4)]
CASES = [
    OpCase("sum", _reducer(np.sum), SHAPES + [(), (0, 3)], id="sum-all"),
    OpCase("sum", _reducer(np.sum), SHAPES, kwargs={"dim": -1, "keepdim": True}, id="sum-keep"),
    OpCase("sum", _reducer(np.sum), [(2, 3, 4), (0, 3, 2)], kwargs={"dim": (0, -1)},
           id="sum-dims"),
    OpCase("mean", _reducer(np.mean), SHAPES + [()], kwargs={"dim": 1}, id="mean-dim"),
    OpCase("mean", _reducer(np.mean), SHAPES, kwargs={"dim": (-2, -1), "keepdim": True},
           id="mean-keep"),
    OpCase("prod", _reducer(np.prod), SHAPES + [()], inputs=_away_from_zero, id="prod-all"),
    OpCase("prod", _reducer(np.prod), SHAPES + [(0, 3)], kwargs={"dim": -1, "keepdim": True},
           inputs=_away_from_zero, id="prod-dim"),
    OpCase("amax", _reducer(np.max), SHAPES + [()], id="amax-all"),
    OpCase("amax", _reducer(np.max), SHAPES + [(0, 3)], kwargs={"dim": -1}, id="amax-dim"),
    OpCase("amin", _reducer(np.min), SHAPES, kwargs={"dim": (0, 1), "keepdim": True},
           id="amin-dims"),
    OpCase("max", lambda a: np.max(a), SHAPES + [()], id="max-all"),
    OpCase("max", _selecting(np.argmax), SHAPES + [()], kwargs={"dim": 0}, id="max-dim"),
    OpCase("max", _selecting(np.argmax), SHAPES, kwargs={"dim": -1, "keepdim": True},
           id="max-keep"),
    OpCase("min", lambda a: np.min(a), SHAPES, id="min-all"),
    OpCase("min", _selecting(np.argmin), SHAPES + [(0, 3)], kwargs={"dim": 1}, id="min-dim"),
    OpCase("median", _ref_median, [(3, 4), (5,), ()], id="median-all"),
    OpCase("median", _selecting(_lower_median_index), SHAPES, kwargs={"dim": -1},
           id="median-dim"),
    OpCase("var", _ref_var, SHAPES, id="var-all"),
    OpCase("var", _ref_var, SHAPES, kwargs={"dim": -1, "keepdim": True}, id="var-keep"),
    OpCase("var", _ref_var, SHAPES + [()], kwargs={"dim": 0, "correction": 0}, id="var-c0"),
    OpCase("std", _ref_std, SHAPES, kwargs={"dim": (0, 1)}, id="std-dims"),
    OpCase("std", _ref_std, SHAPES, kwargs={"dim": 1, "correction": 2}, id="std-c2"),
    OpCase("norm", _ref_norm, SHAPES + [()], inputs=_away_from_zero, id="norm-fro"),
    OpCase("norm", _ref_norm, SHAPES, kwargs={"p": 1, "dim": -1}, inputs=_away_from_zero,
           id="norm-1"),
    OpCase("norm", _ref_norm, SHAPES, kwargs={"p": math.inf, "dim": 0, "keepdim": True},
           id="norm-inf"),
    OpCase("norm", _ref_norm, SHAPES, kwargs={"p": -math.inf, "dim": 1}, id="norm-neginf"),
    OpCase("norm", _ref_norm, SHAPES, kwargs={"p": 3, "dim": (0, -1)}, inputs=_away_from_zero,
           id="norm-3"),
    OpCase("norm", _ref_norm, SHAPES, kwargs={"p": 2, "dim": 1, "keepdim": True}, id="norm-2"),
    OpCase("logsumexp", _ref_logsumexp, SHAPES + [()], kwargs={"dim": -1}, id="logsumexp"),
    OpCase("logsumexp", _ref_logsumexp, SHAPES, kwargs={"dim": (0, 1), "keepdim": True},
           low=-30, high=30, id="logsumexp-keep"),
    OpCase("cumsum", _cumulative(np.cumsum), SHAPES + [(), (0, 2)], kwargs={"dim": -1},
           id="cumsum"),
    OpCase("cumsum", _cumulative(np.cumsum), SHAPES + [()], kwargs={"dim": 0}, id="cumsum-0"),
    OpCase("cumprod", _cumulative(np.cumprod), [()], kwargs={"dim": -1}, id="cumprod-0d"),
    OpCase("cumprod", _cumulative(np.cumprod), SHAPES, kwargs={"dim": 1},
           inputs=_away_from_zero, id="cumprod"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


def _grad_of(fn, values, dtype=ember.float64):
    x = ember.tensor(values, dtype=dtype, requires_grad=True)
    fn(x).sum().backward()
    return x.grad.numpy()


# ---- ties, zeros and subgradients ---------------------------------------------------------------


def test_amax_and_full_max_share_the_gradient_among_ties():
    values = [[1.0, 5.0, 5.0], [3.0, 3.0, 3.0]]
    expected = [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]
    np.testing.assert_allclose(_grad_of(lambda x: x.amax(dim=1), values), expected)
    np.testing.assert_allclose(_grad_of(lambda x: x.amin(dim=1), [[2.0, 1.0, 1.0]]),
                               [[0.0, 0.5, 0.5]])
    np.testing.assert_allclose(_grad_of(lambda x: x.max(), values),
                               [[0, 0.5, 0.5], [0, 0, 0]])


def test_max_along_dim_sends_the_gradient_to_the_returned_index():
    values = [[1.0, 5.0, 5.0], [3.0, 3.0, 3.0]]
    x = ember.tensor(values, dtype=ember.float64, requires_grad=True)
    result = x.max(dim=1)
    result.values.sum().backward()
    picked = np.zeros((2, 3))
    picked[np.arange(2), result.indices.numpy()] = 1
    np.testing.assert_array_equal(x.grad.numpy(), picked)


def test_max_dim_returns_a_named_tuple():
    x = ember.tensor([[1.0, 7.0], [4.0, 2.0]])
    result = ember.max(x, 1)
    values, indices = result
    assert type(result).__name__ == "max" and isinstance(result, tuple)
    assert result.values is values and result.indices is indices
    np.testing.assert_array_equal(values.numpy(), [7.0, 4.0])
    assert indices.dtype == ember.int64 and indices.tolist() == [1, 0]
    assert x.min(dim=0, keepdim=True).indices.shape == (1, 2)
    assert type(x.min(0)).__name__ == "min"


def test_binary_max_and_min_are_elementwise():
    a = ember.tensor([1.0, 5.0, -2.0])
    b = ember.tensor([3.0, 4.0, -1.0])
    np.testing.assert_array_equal(ember.max(a, b).numpy(), [3.0, 5.0, -1.0])
    np.testing.assert_array_equal(a.min(b).numpy(), [1.0, 4.0, -2.0])


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_prod_gradient_is_exact_with_zeros(dim):
    rows = [[0.0, 2.0, 0.0, 3.0], [0.0, 2.0, 5.0, 3.0], [1.5, 2.0, 5.0, 3.0], [0.0, 0.0, 0.0, 1.0]]
    x = ember.tensor(rows, dtype=ember.float64, requires_grad=True)
    fn = (lambda t: t.prod()) if dim is None else (lambda t: t.prod(dim))
    assert ember.autograd.gradcheck(fn, (x,))
    assert ember.autograd.gradgradcheck(fn, (x,))


def test_cumprod_gradient_is_exact_with_zeros():
    # first derivatives everywhere; second derivatives along lines with at most one zero
    x = ember.tensor([[0.0, 2.0, 0.0, 3.0], [0.0, 0.0, 1.0, 1.0]], dtype=ember.float64,
                     requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: t.cumprod(1), (x,))
    y = ember.tensor([[1.5, 0.0, 2.0, 3.0], [0.0, 2.0, 5.0, 3.0], [1.0, 2.0, 0.5, 0.0]],
                     dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: t.cumprod(1), (y,))
    assert ember.autograd.gradgradcheck(lambda t: t.cumprod(1), (y,))


def test_norm_and_std_have_zero_gradient_at_zero():
    assert not np.any(_grad_of(lambda x: x.norm(), [0.0, 0.0, 0.0]))
    assert not np.any(_grad_of(lambda x: x.norm(dim=1), [[0.0, 0.0], [3.0, 4.0]])[0])
    assert not np.any(_grad_of(lambda x: x.std(), [2.0, 2.0, 2.0]))


def test_logsumexp_is_stable():
    x = ember.tensor([[1000.0, 1000.0], [-1000.0, -1000.0], [-math.inf, -math.inf]],
                     dtype=ember.float64)
    out = ember.logsumexp(x, dim=1).numpy()
    np.testing.assert_allclose(out[:2], [1000 + math.log(2), -1000 + math.log(2)])
    assert out[2] == -math.inf


# ---- dtypes, empty inputs and errors ------------------------------------------------------------


def test_integer_and_bool_results_follow_pytorch():
    ints = ember.tensor([[1, 2], [3, 4]], dtype=ember.int32)
    assert ints.sum().dtype == ember.int64 and ints.sum().item() == 10
    assert ember.tensor([True, True, False]).sum().item() == 2
    assert ints.prod(1).dtype == ember.int64 and ints.prod(1).tolist() == [2, 12]
    assert ints.cumsum(0).dtype == ember.int64
    assert ints.sum(dtype=ember.float64).dtype == ember.float64
    assert ints.amax().dtype == ember.int32 and ints.max(dim=0).values.dtype == ember.int32
    assert ints.argmax().dtype == ember.int64 and ints.argmax().item() == 3
    assert ints.mean(dtype=ember.float32).item() == 2.5
    assert ember.count_nonzero(ember.tensor([[0, 1], [2, 0]]), dim=0).tolist() == [1, 1]
    with pytest.raises(RuntimeError, match="mean"):
        ints.mean()
    with pytest.raises(RuntimeError, match="var"):
        ints.var()
    with pytest.raises(RuntimeError, match="norm"):
        ints.norm()


def test_argmax_argmin_flatten_or_follow_dim():
    a = np.random.default_rng(3).normal(size=(3, 4, 2))
    x = ember.tensor(a)
    assert x.argmax().item() == a.argmax() and x.argmin().item() == a.argmin()
    assert x.argmax(keepdim=True).shape == (1, 1, 1)
    np.testing.assert_array_equal(x.argmax(dim=-2).numpy(), a.argmax(axis=-2))
    np.testing.assert_array_equal(x.argmin(dim=1, keepdim=True).numpy(),
                                  a.argmin(axis=1, keepdims=True))
    assert ember.tensor(2.0).argmax(0).item() == 0


def test_all_any_give_bool():
    a = ember.tensor([[1, 0, 2], [3, 4, 5]])
    assert a.all().dtype == ember.bool and not a.all().item()
    assert a.all(dim=1).tolist() == [False, True]
    assert a.any(dim=0, keepdim=True).tolist() == [[True, True, True]]
    assert ember.zeros(0).all().item() and not ember.zeros(0).any().item()


def test_empty_reductions():
    empty = ember.zeros(0, 3)
    assert empty.sum().item() == 0
    np.testing.assert_array_equal(empty.sum(dim=0).numpy(), np.zeros(3))
    assert empty.prod().item() == 1
    assert math.isnan(empty.mean().item())
    assert empty.amax(dim=1).shape == (0,)
    with pytest.raises(RuntimeError, match="max"):
        empty.max()
    with pytest.raises(IndexError, match="max"):
        empty.max(dim=0)
    with pytest.raises(IndexError, match="amax"):
        empty.amax(dim=0)
    with pytest.raises(IndexError, match="argmax"):
        empty.argmax()


def test_var_std_overloads():
    a = np.random.default_rng(0).normal(size=(3, 5))
    x = ember.tensor(a)
    np.testing.assert_allclose(x.var(unbiased=False).numpy(), a.var(), rtol=1e-6)
    np.testing.assert_allclose(ember.var(x, False).numpy(), a.var(), rtol=1e-6)
    np.testing.assert_allclose(x.std(1, True, True).numpy(), a.std(1, ddof=1, keepdims=True),
                               rtol=1e-6)
    variance, mean = ember.var_mean(x, dim=0)
    np.testing.assert_allclose(variance.numpy(), a.var(0, ddof=1), rtol=1e-6)
    np.testing.assert_allclose(mean.numpy(), a.mean(0), rtol=1e-6)
    deviation, _ = ember.std_mean(x, dim=1, correction=0)
    np.testing.assert_allclose(deviation.numpy(), a.std(1), rtol=1e-6)
    with pytest.raises(RuntimeError, match="both"):
        x.var(unbiased=True, correction=0)


def test_dim_errors_name_the_op():
    x = ember.zeros(2, 3)
    with pytest.raises(IndexError, match="prod"):
        x.prod(2)
    with pytest.raises(IndexError, match="cumsum"):
        x.cumsum(-3)
    with pytest.raises(IndexError, match="max"):
        x.max(dim=5)
