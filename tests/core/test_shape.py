import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from harness import OpCase, check_op


def method(name):
    """Calls the Tensor method ``name`` (for ops PyTorch has only as methods)."""
    return lambda x, *rest, **kwargs: getattr(x, name)(*rest, **kwargs)


def _unsqueeze(a, dim):
    return np.expand_dims(a, dim)


def _movedim(a, source, destination):
    return np.moveaxis(a, source, destination)


def _unflatten(a, dim, sizes):
    shape = a.shape
    dim %= a.ndim
    return a.reshape(shape[:dim] + tuple(sizes) + shape[dim + 1:])


def _flatten(a, start_dim=0, end_dim=-1):
    if a.ndim == 0:
        return a.reshape(1)
    start, end = start_dim % a.ndim, end_dim % a.ndim
    return a.reshape(a.shape[:start] + (-1,) + a.shape[end + 1:])


def _squeeze(a, dim=None):
    if dim is None:
        return np.squeeze(a)
    dims = (dim,) if isinstance(dim, int) else dim
    return np.squeeze(a, tuple(d for d in dims if a.shape[d] == 1))


CASES = [
    OpCase("reshape", lambda a, shape: a.reshape(shape), [(3, 4)], kwargs={"shape": (2, -1)}),
    OpCase("reshape", lambda a, shape: a.reshape(shape), [()], kwargs={"shape": (1, 1)},
           id="reshape-0d"),
    OpCase("reshape", lambda a, shape: a.reshape(shape), [(0, 3)], kwargs={"shape": (3, 0)},
           id="reshape-empty"),
    OpCase("view", lambda a: a.reshape(4, 3), [(3, 4)], fn=lambda x: x.view(4, 3)),
    OpCase("view_as", lambda a, b: a.reshape(b.shape), [((3, 4), (6, 2))], arity=2,
           fn=method("view_as")),
    OpCase("reshape_as", lambda a, b: a.reshape(b.shape), [((3, 4), (2, 6))], arity=2,
           fn=method("reshape_as")),
    OpCase("flatten", _flatten, [(2, 3, 4), (), (0, 2)]),
    OpCase("flatten", _flatten, [(2, 3, 4, 1)], kwargs={"start_dim": 1, "end_dim": -2},
           id="flatten-range"),
    OpCase("ravel", np.ravel, [(2, 3), ()]),
    OpCase("unflatten", _unflatten, [(2, 6)], kwargs={"dim": -1, "sizes": (3, -1)}),
    OpCase("squeeze", _squeeze, [(1, 3, 1), (), (1, 0)]),
    OpCase("squeeze", _squeeze, [(1, 3, 1)], kwargs={"dim": -1}, id="squeeze-dim"),
    OpCase("squeeze", _squeeze, [(1, 3, 1, 2)], kwargs={"dim": (0, 1, 2)}, id="squeeze-dims"),
    OpCase("unsqueeze", _unsqueeze, [(2, 3)], kwargs={"dim": -1}),
    OpCase("unsqueeze", _unsqueeze, [()], kwargs={"dim": 0}, id="unsqueeze-0d"),
    OpCase("transpose", lambda a, dim0, dim1: np.swapaxes(a, dim0, dim1), [(2, 3, 4), (0, 2)],
           kwargs={"dim0": 0, "dim1": -1}),
    OpCase("swapaxes", lambda a, axis0, axis1: np.swapaxes(a, axis0, axis1), [(2, 3)],
           kwargs={"axis0": 1, "axis1": 0}),
    OpCase("swapdims", lambda a, dim0, dim1: np.swapaxes(a, dim0, dim1), [(2, 3)],
           kwargs={"dim0": -2, "dim1": -1}),
    OpCase("permute", lambda a, dims: np.transpose(a, dims), [(2, 3, 4)],
           kwargs={"dims": (2, 0, -2)}),
    OpCase("t", np.transpose, [(2, 3), (3,), ()]),
    OpCase("T", lambda a: a.T, [(2, 3, 4), ()], fn=lambda x: x.T),
    OpCase("mT", lambda a: np.swapaxes(a, -1, -2), [(2, 3, 4)], fn=lambda x: x.mT),
    OpCase("movedim", _movedim, [(2, 3, 4)], kwargs={"source": (0, -1), "destination": (1, 0)}),
    OpCase("moveaxis", _movedim, [(2, 3, 4)], kwargs={"source": 0, "destination": -1}),
    OpCase("expand", lambda a, size: np.broadcast_to(a, (2, 3, 4)), [(3, 1)],
           kwargs={"size": (2, -1, 4)}),
    OpCase("expand", lambda a, size: np.broadcast_to(a, size), [()], kwargs={"size": (2, 2)},
           id="expand-0d"),
    OpCase("broadcast_to", lambda a, size: np.broadcast_to(a, size), [(1, 4)],
           kwargs={"size": (3, 4)}),
    OpCase("expand_as", lambda a, b: np.broadcast_to(a, b.shape), [((3, 1), (2, 3, 4))],
           arity=2, fn=method("expand_as")),
    OpCase("broadcast_tensors", lambda *arrays: np.broadcast_arrays(*arrays),
           [((3, 1), (4,)), ((), (2, 2))], arity=2),
    OpCase("atleast_1d", np.atleast_1d, [(), (2, 3)]),
    OpCase("atleast_2d", np.atleast_2d, [(), (3,)]),
    OpCase("atleast_3d", np.atleast_3d, [(), (3,), (2, 3)]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


# ---- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x: x.transpose(0, 2), IndexError,
         r"transpose: dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
        (lambda x: x.unsqueeze(3), IndexError, r"unsqueeze: .*\[-3, 2\], but got 3"),
        (lambda x: x.squeeze(-3), IndexError, r"squeeze: .*\[-2, 1\], but got -3"),
        (lambda x: x.reshape(5, 2), RuntimeError, r"shape \[5, 2\] is invalid for input of size 6"),
        (lambda x: x.reshape(-1, -1), RuntimeError, "only one dimension can be inferred"),
        (lambda x: x.t().view(6), RuntimeError, r"view size is not compatible.*Use \.reshape"),
        (lambda x: x.permute(1, 0, 2), RuntimeError, "input.dim\\(\\) = 2 is not equal to len"),
        (lambda x: x.permute(0, 0), RuntimeError, "duplicate dims"),
        (lambda x: x.flatten(1, 0), RuntimeError, "start_dim cannot come after end_dim"),
        (lambda x: x.unflatten(1, (2, 2)), RuntimeError, "don't multiply up to the size of dim 1"),
        (lambda x: x.expand(3, 3), RuntimeError, "must match the existing size \\(2\\)"),
        (lambda x: x.expand(3), RuntimeError, "number of sizes provided \\(1\\)"),
        (lambda x: x.expand(-1, 2, 3), RuntimeError, "leading, non-existing dimension 0"),
        (lambda x: x.unsqueeze(0).t(), RuntimeError, "t\\(\\) expects a tensor with <= 2"),
        (lambda x: x.reshape(6).mT, RuntimeError, "only supported on matrices"),
        (lambda x: x.movedim((0, 1), 0), RuntimeError, "same number of dims"),
        (lambda x: ember.broadcast_tensors(x, ember.zeros(2)), RuntimeError,
         r"size of tensor a \(3\) must match the size of tensor b \(2\) at non-singleton "
         r"dimension 1"),
    ],
)
def test_errors(call, error, message):
    x = ember.zeros(2, 3)
    with pytest.raises(error, match=message):
        call(x)


def test_broadcast_shapes():
    assert ember.broadcast_shapes((3, 1), (4,), ()) == (3, 4)
    assert ember.broadcast_shapes(2, (3, 1)) == (3, 2)
    with pytest.raises(RuntimeError, match="non-singleton dimension 1"):
        ember.broadcast_shapes((2, 3), (2, 4))


# ---- views -----------------------------------------------------------------------------------

VIEW_OPS = [
    lambda x: x.view(3, 4),
    lambda x: x.reshape(2, 6),
    lambda x: x.view_as(ember.zeros(12)),
    lambda x: x.flatten(),
    lambda x: x.unflatten(0, (2, 2)),
    lambda x: x.unsqueeze(1),
    lambda x: x.unsqueeze(0).squeeze(0),
    lambda x: x.transpose(0, 1),
    lambda x: x.permute(1, 0),
    lambda x: x.t(),
    lambda x: x.T,
    lambda x: x.mT,
    lambda x: x.movedim(0, 1),
    lambda x: x.unsqueeze(0).expand(2, 4, 3),
]


@pytest.mark.parametrize("make_view", VIEW_OPS)
def test_view_ops_share_memory_and_version(make_view):
    x = ember.clone(ember.arange(12, dtype=ember.float64).reshape(4, 3))
    y = make_view(x)
    assert y is not x and y.is_view and y._base is x
    assert y._version is x._share_version()
    x.data[...] += 1  # a write into the base's memory shows in the view
    np.testing.assert_array_equal(y.numpy(), make_view(ember.tensor(x.numpy().copy())).numpy())


def test_reshape_that_copies_is_not_a_view():
    x = ember.clone(ember.arange(6.0).reshape(2, 3))
    y = x.t().reshape(6)
    assert not y.is_view
    x.data[0, 0] = 100.0
    assert y.data[0] == 0.0


def test_view_of_a_view_points_at_the_root():
    x = ember.zeros(2, 3)
    y = x.t().unsqueeze(0)
    assert y._base is x and y._version is x._version


def test_view_dtype_reinterprets():
    x = ember.tensor([1.0, 2.0], dtype=ember.float32)
    y = x.view(ember.int32)
    assert y.dtype == ember.int32 and y._base is x
    np.testing.assert_array_equal(y.numpy(), np.array([1.0, 2.0], np.float32).view(np.int32))


def test_gradients_flow_through_chained_views():
    x = ember.randn(2, 3, 4, dtype=ember.float64, requires_grad=True)

    def chain(t):
        return t.permute(2, 0, 1).flatten(1).unsqueeze(0).mT.squeeze(0)

    assert chain(x).shape == (6, 4)
    ember.autograd.gradcheck(chain, (x,))
    ember.autograd.gradgradcheck(chain, (x,))


# ---- properties ------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=0, max_size=4).flatmap(
    lambda shape: st.tuples(st.just(tuple(shape)), st.permutations(range(len(shape))))))
def test_permute_then_inverse_is_identity(shape_and_perm):
    shape, perm = shape_and_perm
    a = np.random.default_rng(0).standard_normal(shape)
    x = ember.tensor(a)
    y = x.permute(*perm)
    np.testing.assert_array_equal(y.numpy(), np.transpose(a, perm))
    back = y.permute(*np.argsort(perm).tolist())
    np.testing.assert_array_equal(back.numpy(), a)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=4), st.data())
def test_reshape_round_trip_and_flatten(shape, data):
    shape = tuple(shape)
    x = ember.tensor(np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape))
    start = data.draw(st.integers(0, len(shape) - 1))
    end = data.draw(st.integers(start, len(shape) - 1))
    flat = x.flatten(start, end)
    assert flat.shape == shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]
    np.testing.assert_array_equal(flat.unflatten(start, shape[start:end + 1]).numpy(), x.numpy())
