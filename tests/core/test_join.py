import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from harness import OpCase, check_op


def _joined(op_name, dim=None):
    """``ember.<op>(list_of_inputs[, dim])`` for the harness, which passes inputs positionally."""
    fn = getattr(ember, op_name)
    if dim is None:
        return lambda *tensors: fn(list(tensors))
    return lambda *tensors: fn(list(tensors), dim)


def _split_points(sizes):
    return np.cumsum(sizes)[:-1]


CASES = [
    OpCase("cat", lambda *a: np.concatenate(a, 1), [((2, 3), (2, 1)), ((2, 0), (2, 2))], arity=2,
           fn=_joined("cat", 1)),
    OpCase("cat", lambda *a: np.concatenate(a, -1), [((2, 1, 3), (2, 1, 2), (2, 1, 1))], arity=3,
           fn=_joined("cat", -1), id="cat-3-negative-dim"),
    OpCase("cat", lambda a, b: b, [((0,), (2, 3))], arity=2, fn=_joined("cat", 0),
           id="cat-legacy-empty-1d"),
    OpCase("concat", lambda *a: np.concatenate(a, 0), [((1, 3), (2, 3))], arity=2,
           fn=_joined("concat", 0)),
    OpCase("concatenate", lambda *a: np.concatenate(a, 0), [((1, 3), (2, 3))], arity=2,
           fn=_joined("concatenate", 0)),
    OpCase("stack", lambda *a: np.stack(a, -1), [((2, 3), (2, 3)), ((), ()), ((0, 2), (0, 2))],
           arity=2, fn=_joined("stack", -1)),
    OpCase("stack", lambda *a: np.stack(a, 1), [((2, 3), (2, 3), (2, 3))], arity=3,
           fn=_joined("stack", 1), id="stack-3"),
    OpCase("hstack", lambda *a: np.hstack(a), [((2,), (3,)), ((2, 1), (2, 3))], arity=2,
           fn=_joined("hstack")),
    OpCase("vstack", lambda *a: np.vstack(a), [((3,), (3,)), ((1, 3), (2, 3))], arity=2,
           fn=_joined("vstack")),
    OpCase("dstack", lambda *a: np.dstack(a), [((3,), (3,)), ((2, 3), (2, 3, 2))], arity=2,
           fn=_joined("dstack")),
    OpCase("column_stack", lambda *a: np.column_stack(a), [((3,), (3, 2))], arity=2,
           fn=_joined("column_stack")),
    OpCase("split", lambda a, split_size_or_sections, dim: np.split(a, [2, 4], dim),
           [(5, 2)], kwargs={"split_size_or_sections": 2, "dim": 0}),
    OpCase("split", lambda a, split_size_or_sections, dim: np.split(a, [1, 4], dim),
           [(2, 4)], kwargs={"split_size_or_sections": [1, 3, 0], "dim": -1}, id="split-sizes"),
    OpCase("chunk", lambda a, chunks, dim: np.split(a, [3, 6], dim), [(2, 7)],
           kwargs={"chunks": 3, "dim": 1}),
    OpCase("chunk", lambda a, chunks: np.split(a, [2], 0), [(4,)], kwargs={"chunks": 3},
           id="chunk-fewer"),
    OpCase("tensor_split", lambda a, indices_or_sections: np.array_split(a, 3), [(5, 2)],
           kwargs={"indices_or_sections": 3}),
    OpCase("tensor_split", lambda a, indices_or_sections, dim: np.split(a, [1, -1, 2], dim),
           [(2, 4)], kwargs={"indices_or_sections": [1, -1, 2], "dim": 1},
           id="tensor_split-indices"),
    OpCase("unbind", lambda a, dim: [np.take(a, i, dim) for i in range(a.shape[dim])],
           [(2, 3), (3, 0)], kwargs={"dim": -1}),
    OpCase("unbind", lambda a: list(a), [(3,)], id="unbind-1d"),
    OpCase("narrow", lambda a, dim, start, length: a[:, 1:3], [(2, 4)],
           kwargs={"dim": -1, "start": -3, "length": 2}),
    OpCase("narrow", lambda a, dim, start, length: a[2:2], [(3, 2)],
           kwargs={"dim": 0, "start": 2, "length": 0}, id="narrow-empty"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


def test_cat_promotes_dtypes_and_returns_gradients_in_input_dtypes():
    a = ember.tensor([[1.0, 2.0]], dtype=ember.float32, requires_grad=True)
    b = ember.tensor([[3, 4]], dtype=ember.int32)
    c = ember.tensor([[5.0, 6.0]], dtype=ember.float64, requires_grad=True)
    assert ember.cat([a, b]).dtype == ember.float32
    out = ember.cat([a, b, c])
    assert out.dtype == ember.float64
    np.testing.assert_array_equal(out.detach().numpy(), [[1, 2], [3, 4], [5, 6]])
    (out * ember.tensor([[1.0], [2.0], [3.0]], dtype=ember.float64)).sum().backward()
    assert a.grad.dtype == ember.float32 and c.grad.dtype == ember.float64
    np.testing.assert_array_equal(a.grad.numpy(), [[1, 1]])
    np.testing.assert_array_equal(c.grad.numpy(), [[3, 3]])
    assert ember.stack([b, a]).dtype == ember.float32
    assert ember.cat([ember.zeros(0, dtype=ember.float64), b]).dtype == ember.float64


def test_unused_pieces_get_zero_gradient():
    x = ember.randn(6, 2, dtype=ember.float64, requires_grad=True)
    ember.autograd.gradcheck(lambda t: t.split(2)[1], (x,))
    ember.autograd.gradgradcheck(lambda t: t.unbind(1)[0] * 2, (x,))
    first, _, third = x.chunk(3)
    (first.sum() + 2 * third.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy()[:, 0], [1, 1, 0, 0, 2, 2])


def test_iterating_a_tensor_unbinds_it():
    x = ember.arange(6).reshape(3, 2)
    rows = list(x)
    assert len(rows) == 3 and rows[2].tolist() == [4, 5] and rows[0]._base is x._base


@pytest.mark.parametrize(
    "make_pieces",
    [
        lambda x: x.split(2),
        lambda x: x.split([1, 3], dim=1),
        lambda x: x.chunk(2, dim=1),
        lambda x: x.tensor_split(3),
        lambda x: x.unbind(0),
        lambda x: (x.narrow(1, 1, 2),),
    ],
)
def test_pieces_are_views_sharing_the_version_counter(make_pieces):
    x = ember.clone(ember.arange(16.0).reshape(4, 4))
    pieces = make_pieces(x)
    for piece in pieces:
        assert piece.is_view and piece._base is x and piece._version is x._version
    x.data += 100.0
    assert all(float(p.data.min()) >= 100.0 for p in pieces)


def test_joined_results_own_their_memory():
    x = ember.zeros(2, 3)
    for out in (ember.cat([x, x]), ember.stack([x]), ember.cat([x])):
        assert not out.is_view and not np.shares_memory(out.data, x.data)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x: ember.cat([]), RuntimeError, "expected a non-empty list of Tensors"),
        (lambda x: ember.cat([x, ember.zeros(2, 4, 1)]), RuntimeError,
         "Tensors must have same number of dimensions: got 2 and 3"),
        (lambda x: ember.cat([x, ember.zeros(3, 3)], dim=1), RuntimeError,
         "Sizes of tensors must match except in dimension 1. Expected size 2 but got size 3 for "
         "tensor number 1 in the list"),
        (lambda x: ember.cat([x, x], dim=2), IndexError,
         r"cat: dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
        (lambda x: ember.cat([ember.tensor(1.0)]), RuntimeError, "zero-dimensional tensor"),
        (lambda x: ember.cat([x, 3]), TypeError, "expected Tensor as element 1"),
        (lambda x: ember.stack([x, ember.zeros(2, 4)]), RuntimeError,
         r"stack expects each tensor to be equal size, but got \[2, 3\] at entry 0 and \[2, 4\] "
         "at entry 1"),
        (lambda x: ember.stack([x], dim=3), IndexError, r"\[-3, 2\], but got 3"),
        (lambda x: x.split(-1), RuntimeError, "split_size be non-negative"),
        (lambda x: x.split([1, 2]), RuntimeError, "expects split_sizes to sum exactly to 2"),
        (lambda x: x.chunk(0), RuntimeError, "chunk expects `chunks` to be greater than 0"),
        (lambda x: ember.tensor(1.0).chunk(2), RuntimeError, "at least a 1-dimensional"),
        (lambda x: ember.tensor(1.0).unbind(), IndexError, "tensor has no dimensions"),
        (lambda x: x.unbind(2), IndexError, r"unbind: .*but got 2\)"),
        (lambda x: x.narrow(1, 4, 1), IndexError, r"start out of range .*\[-3, 3\], but got 4"),
        (lambda x: x.narrow(1, 2, 2), RuntimeError, r"start \(2\) \+ length \(2\) exceeds"),
        (lambda x: x.narrow(1, 0, -1), RuntimeError, "length must be non-negative"),
        (lambda x: ember.tensor(1.0).narrow(0, 0, 1), RuntimeError, "0-dim tensor"),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(ember.zeros(2, 3))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=1, max_size=3),
    st.lists(st.integers(0, 3), min_size=1, max_size=4),
    st.data(),
)
def test_cat_then_split_round_trips(shape, lengths, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    rng = np.random.default_rng(len(lengths))
    arrays = [rng.standard_normal(tuple(shape[:axis]) + (n,) + tuple(shape[axis + 1:]))
              for n in lengths]
    joined = ember.cat([ember.tensor(a) for a in arrays], dim=axis - len(shape))
    np.testing.assert_array_equal(joined.numpy(), np.concatenate(arrays, axis))
    pieces = joined.split(lengths, dim=axis)
    assert len(pieces) == len(arrays)
    for piece, a in zip(pieces, arrays):
        np.testing.assert_array_equal(piece.numpy(), a)
    stacked = ember.stack(list(pieces[:1]) * 2, dim=axis)
    np.testing.assert_array_equal(stacked.unbind(axis)[1].numpy(), arrays[0])
