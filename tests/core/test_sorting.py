"""sort, argsort, msort, topk, kthvalue, mode, and median/nanmedian with NaN, as PyTorch."""

import numpy as np
import pytest

import ember
from harness import OpCase, check_op

NAN = float("nan")


def _line(a, dim):
    """``(a as at least 1-d, axis, was 0-d)``."""
    return (a.reshape(1), 0, True) if a.ndim == 0 else (a, dim % a.ndim, False)


def ref_sort(a, dim=-1, descending=False):
    line, axis, was_0d = _line(a, dim)
    index = np.argsort(-line if descending else line, axis=axis, kind="stable")
    values = np.take_along_axis(line, index, axis)
    return (values.reshape(()), index.reshape(())) if was_0d else (values, index)


def ref_topk(a, k, dim=-1, largest=True):
    values, index = ref_sort(a, dim, descending=largest)
    axis = dim % a.ndim
    return values.take(range(k), axis=axis), index.take(range(k), axis=axis)


def ref_kthvalue(a, k, dim=-1, keepdim=False):
    values, index = ref_sort(a, dim)
    axis = dim % a.ndim
    values, index = values.take([k - 1], axis=axis), index.take([k - 1], axis=axis)
    return (values, index) if keepdim else (values.squeeze(axis), index.squeeze(axis))


def ref_mode(a, dim=-1, keepdim=False):
    """The smallest most frequent value of each line, at its last occurrence (PyTorch CPU)."""
    lines = np.moveaxis(a, dim, -1)
    values = np.empty(lines.shape[:-1], a.dtype)
    index = np.empty(lines.shape[:-1], np.int64)
    for position in np.ndindex(lines.shape[:-1]):
        line = lines[position]
        distinct, counts = np.unique(line, return_counts=True)
        value = distinct[counts.argmax()]
        values[position], index[position] = value, np.flatnonzero(line == value)[-1]
    if keepdim:
        return np.expand_dims(values, dim), np.expand_dims(index, dim)
    return values, index


CASES = [
    OpCase("sort", ref_sort, [(3, 4), (5,), ()], id="sort"),
    OpCase("sort", ref_sort, [(3, 4, 2)], kwargs={"dim": 1, "descending": True},
           id="sort-descending"),
    OpCase("argsort", lambda a, **kw: ref_sort(a, **kw)[1], [(3, 4)], kwargs={"dim": 0},
           grad=False, id="argsort"),
    OpCase("msort", lambda a: ref_sort(a, 0)[0], [(4, 3)], method=True, id="msort"),
    OpCase("topk", ref_topk, [(3, 5)], kwargs={"k": 2}, id="topk"),
    OpCase("topk", ref_topk, [(4, 3)], kwargs={"k": 3, "dim": 0, "largest": False},
           id="topk-smallest"),
    OpCase("kthvalue", ref_kthvalue, [(3, 5)], kwargs={"k": 2}, id="kthvalue"),
    OpCase("kthvalue", ref_kthvalue, [(4, 3)], kwargs={"k": 4, "dim": 0, "keepdim": True},
           id="kthvalue-keepdim"),
    # all values distinct: the mode is the smallest (gradients checkable away from ties)
    OpCase("mode", ref_mode, [(3, 5)], kwargs={"dim": 1}, id="mode"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


def test_sort_is_stable_both_ways_and_puts_nan_largest():
    x = ember.tensor([2.0, NAN, 1.0, 2.0, 1.0])
    ascending = x.sort()
    assert ascending.indices.tolist() == [2, 4, 0, 3, 1]
    descending = ember.sort(x, descending=True, stable=True)
    assert descending.indices.tolist() == [1, 0, 3, 2, 4]  # NaN first, ties in input order
    assert np.isnan(descending.values.numpy()[0])


def test_sort_returns_named_tuple_and_int64_indices():
    result = ember.sort(ember.tensor([[3, 1, 2]]), dim=1)
    values, indices = result
    assert type(result).__name__ == "sort" and result.values is values
    assert indices.dtype == ember.int64 and values.dtype == ember.int64
    assert ember.argsort(ember.tensor([3, 1, 2]), descending=True).tolist() == [0, 2, 1]


def test_sort_gradient_goes_back_to_the_sorted_positions():
    x = ember.tensor([3.0, 1.0, 2.0], requires_grad=True)
    (x.sort().values * ember.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [100.0, 1.0, 10.0]


def test_topk_accuracy_idiom():
    # The CIFAR tutorial's and ImageNet example's top-k accuracy.
    output = ember.tensor([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5]])
    target = ember.tensor([2, 0, 1])
    _, pred = output.topk(2, 1, True, True)
    correct = pred.t().eq(target.view(1, -1).expand_as(pred.t()))
    assert correct[:1].reshape(-1).float().sum(0).item() == 1.0
    assert correct[:2].reshape(-1).float().sum(0).item() == 3.0


def test_topk_and_kthvalue_reject_k_out_of_range():
    x = ember.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"topk\(\): selected number k=4 is out of range"):
        x.topk(4)
    with pytest.raises(RuntimeError, match=r"kthvalue\(\): selected number k=0"):
        x.kthvalue(0)
    with pytest.raises(IndexError, match="dimension out of range"):
        x.sort(dim=2)
    assert x.topk(0).values.shape == (2, 0)


def test_mode_with_ties_matches_pytorch_documentation():
    b = ember.tensor([[0, 0, 0, 2, 0, 0, 2], [0, 3, 0, 0, 2, 0, 1], [2, 2, 2, 0, 0, 0, 3],
                      [2, 2, 3, 0, 1, 1, 0], [1, 1, 0, 0, 2, 0, 2]])
    result = ember.mode(b, 0)
    assert result.values.tolist() == [0, 2, 0, 0, 0, 0, 2]
    assert result.indices.tolist() == [1, 3, 4, 4, 2, 4, 4]
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, size=(3, 4, 9)).astype(np.float64)
    for dim in (0, 1, 2):
        values, index = ember.tensor(a).mode(dim, keepdim=True)
        expected = ref_mode(a, dim, keepdim=True)
        np.testing.assert_array_equal(values.numpy(), expected[0])
        np.testing.assert_array_equal(index.numpy(), expected[1])


def test_median_propagates_nan_and_nanmedian_skips_it():
    x = ember.tensor([[1.0, NAN, 2.0, 5.0], [3.0, 1.0, 2.0, 4.0], [NAN, NAN, NAN, NAN]])
    values, indices = x.median(1)
    assert np.isnan(values.numpy()[[0, 2]]).all() and values.numpy()[1] == 2.0
    assert indices.tolist() == [1, 2, 0]
    values, indices = x.nanmedian(1)
    np.testing.assert_array_equal(values.numpy()[:2], [2.0, 2.0])
    assert np.isnan(values.numpy()[2]) and indices.tolist()[:2] == [2, 2]
    assert np.isnan(x.median().item()) and x.nanmedian().item() == 2.0
    assert ember.tensor([3, 1, 2]).nanmedian().item() == 2


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_nanmedian_gradients(dim):
    x = ember.tensor(np.random.default_rng(1).normal(size=(3, 4)), requires_grad=True)

    def fn(t):
        mask = ember.tensor([[False, True, False, False], [False] * 4, [False, False, True, False]])
        masked = t.masked_fill(mask, NAN)
        out = masked.nanmedian() if dim is None else masked.nanmedian(dim).values
        return out

    assert ember.autograd.gradcheck(fn, [x])
    assert ember.autograd.gradgradcheck(fn, [x])


def test_nanmedian_matches_numpy_lower_median():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(5, 6))
    a[rng.random(a.shape) < 0.3] = np.nan
    got = ember.tensor(a).nanmedian(1).values.numpy()
    for row, value in zip(a, got):
        kept = np.sort(row[~np.isnan(row)])
        assert value == kept[(kept.size - 1) // 2] if kept.size else np.isnan(value)


def test_results_are_ember_return_types_and_pickle():
    import pickle

    x = ember.tensor([[3.0, 1.0, 2.0]])
    for result, name in [(x.sort(), "sort"), (x.topk(2), "topk"), (x.max(1), "max"),
                         (x.kthvalue(1), "kthvalue"), (x.mode(), "mode"), (x.cummax(1), "cummax"),
                         (x.nanmedian(1), "nanmedian")]:
        assert isinstance(result, getattr(ember.return_types, name))
        restored = pickle.loads(pickle.dumps(result))
        assert type(restored) is type(result) and restored.values.tolist() == result.values.tolist()
