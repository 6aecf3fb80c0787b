"""softmax, log_softmax, softmin and one_hot."""

import numpy as np
import pytest

import ember
from harness import OpCase, check_op


def _ref_log_softmax(a, dim):
    axis = None if a.ndim == 0 else dim
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _ref_softmax(a, dim):
    return np.exp(_ref_log_softmax(a, dim))


SHAPES = [(3, 5), (2, 3, 4), (), (0, 4)]
CASES = [
    OpCase("softmax", _ref_softmax, SHAPES, kwargs={"dim": -1}, id="softmax-last"),
    OpCase("softmax", _ref_softmax, [(3, 5), (2, 3, 4)], kwargs={"dim": 0}, id="softmax-0"),
    OpCase("log_softmax", _ref_log_softmax, SHAPES, kwargs={"dim": -1}, id="log_softmax-last"),
    OpCase("log_softmax", _ref_log_softmax, [(2, 3, 4)], kwargs={"dim": 1}, low=-20, high=20,
           id="log_softmax-1"),
    OpCase("softmin", lambda a, dim: _ref_softmax(-a, dim), [(3, 5)], kwargs={"dim": 1},
           id="softmin"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


def test_stable_for_large_and_infinite_inputs():
    x = ember.tensor([[1000.0, 1000.0, -1000.0], [0.0, -float("inf"), 0.0]], dtype=ember.float64)
    np.testing.assert_allclose(x.softmax(dim=1).numpy(), [[0.5, 0.5, 0.0], [0.5, 0.0, 0.5]])
    logs = x.log_softmax(dim=1).numpy()
    np.testing.assert_allclose(logs[0, :2], [np.log(0.5)] * 2)
    assert logs[1, 1] == -np.inf and np.all(np.isfinite(logs[1, [0, 2]]))


def test_log_softmax_of_a_large_batch_matches_the_whole_array_formula():
    # Rows past the op's block size (its exponentials are summed a block of rows at a time).
    x = np.random.default_rng(3).standard_normal((70, 10_000)).astype(np.float32)
    shifted = x - x.max(axis=1, keepdims=True)
    expected = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(ember.tensor(x).log_softmax(dim=1).numpy(), expected)
    np.testing.assert_array_equal(ember.tensor(x.reshape(7, 10, 10_000)).log_softmax(-1).numpy(),
                                  expected.reshape(7, 10, 10_000))


def test_gradients_flow_through_cross_entropy_like_use():
    logits = ember.tensor(np.random.default_rng(0).normal(size=(4, 3)), requires_grad=True)
    target = ember.one_hot(ember.tensor([0, 2, 1, 2]), 3).double()
    loss = -(logits.log_softmax(dim=1) * target).sum() / 4
    loss.backward()
    expected = (logits.detach().softmax(dim=1) - target).numpy() / 4
    np.testing.assert_allclose(logits.grad.numpy(), expected, rtol=1e-10)


def test_dtype_argument_and_integer_inputs():
    ints = ember.tensor([1, 2, 3])
    assert ember.softmax(ints, 0, dtype=ember.float64).dtype == ember.float64
    assert ember.tensor([1.0, 2.0]).softmax(0, dtype=ember.float64).dtype == ember.float64
    with pytest.raises(NotImplementedError, match="softmax"):
        ints.softmax(0)


def test_implicit_dim_warns_like_pytorch():
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = ember.softmax(ember.ones(2, 3))
    np.testing.assert_allclose(out.numpy(), np.full((2, 3), 1 / 3), rtol=1e-6)


def test_one_hot():
    out = ember.one_hot(ember.tensor([[0, 2], [1, 0]]), num_classes=4)
    assert out.dtype == ember.int64 and out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out.numpy(), np.eye(4, dtype=np.int64)[[[0, 2], [1, 0]]])
    assert ember.one_hot(ember.tensor([1, 3])).shape == (2, 4)
    assert ember.one_hot(ember.tensor(2), 3).tolist() == [0, 0, 1]
    assert ember.one_hot(ember.zeros(0, dtype=ember.int64), 3).shape == (0, 3)


@pytest.mark.parametrize(
    "indices, kwargs, match",
    [
        ([0, 3], {"num_classes": 3}, "smaller than num_classes"),
        ([-1, 0], {}, "non-negative"),
        ([0.0, 1.0], {}, "index tensor"),
    ],
)
def test_one_hot_errors(indices, kwargs, match):
    with pytest.raises(RuntimeError, match=match):
        ember.one_hot(ember.tensor(indices), **kwargs)
    with pytest.raises(RuntimeError, match="empty"):
        ember.one_hot(ember.zeros(0, dtype=ember.int64))
