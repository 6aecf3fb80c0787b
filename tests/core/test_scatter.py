"""gather/scatter/scatter_add, index_select/index_add/index_fill, masked_fill and their in-place
forms: numpy references, gradients to second order, repeated indices, errors."""

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from harness import OpCase, check_op


def to_numpy(tensor):
    return tensor.detach().cpu().numpy()


def _along(index, dim):
    """numpy's full index for ``out[index along dim]`` (what scatter writes)."""
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


def _leading(shape):
    return tuple(slice(0, n) for n in shape)


def ref_gather(a, index, dim):
    dim %= a.ndim
    sliced = a[tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(index.shape))]
    return np.take_along_axis(sliced, index, axis=dim)


def ref_scatter_add(a, index, src, dim):
    out = a.copy()
    np.add.at(out, _along(index, dim), src[_leading(index.shape)])
    return out


def ref_scatter(a, index, src, dim):
    out = a.copy()
    out[_along(index, dim)] = src[_leading(index.shape)] if np.ndim(src) else src
    return out


# (input shape, dim, index, src shape): src and input may be larger than the index.
GATHER_INDEX = [
    ((3, 4), 0, np.array([[0, 1, 2, 0], [2, 2, 1, 0]])),
    ((3, 4), 1, np.array([[3, 3], [0, 1], [2, 2]])),
    ((3, 4), -1, np.array([[1], [0]])),  # smaller than the input in the other dim
    ((2, 3, 2), 1, np.array([[[0, 1]], [[2, 2]]])),
    ((3, 4), 0, np.zeros((0, 4), dtype=np.int64)),
]
SCATTER_INDEX = [  # unique targets along dim, so that scatter is deterministic
    ((3, 4), 0, np.array([[0, 1, 2, 0], [2, 2, 1, 1]]), (2, 4)),
    ((3, 4), 1, np.array([[3, 0], [1, 2], [0, 3]]), (3, 3)),  # src larger than the index
    ((2, 3, 2), 2, np.array([[[1, 0]], [[0, 1]]]), (2, 1, 2)),
]
REPEATED = np.array([[0, 0, 2, 0], [0, 2, 2, 0]])


def _gather_case(shape, dim, index):
    def fn(x):
        return ember.gather(x, dim, ember.tensor(index, device=x.device))

    return OpCase("gather", lambda a: ref_gather(a, index, dim), [shape], fn=fn,
                  id=f"gather{shape}d{dim}i{index.shape}")


def _scatter_cases(shape, dim, index, src_shape):
    cases = []
    for name, ref in [("scatter_add", ref_scatter_add), ("scatter", ref_scatter)]:
        def fn(x, s, name=name):
            return ember.ops.OPS[name](x, dim, ember.tensor(index, device=x.device), s)

        cases.append(OpCase(name, lambda a, s, ref=ref: ref(a, index, s, dim),
                            [(shape, src_shape)], arity=2, fn=fn,
                            id=f"{name}{shape}d{dim}s{src_shape}"))
    return cases


CASES = [_gather_case(*args) for args in GATHER_INDEX]
CASES += [case for args in SCATTER_INDEX for case in _scatter_cases(*args)]
CASES += [
    OpCase("scatter_add", lambda a, s: ref_scatter_add(a, REPEATED, s, 0), [((3, 4), (2, 4))],
           arity=2, fn=lambda x, s: x.scatter_add(0, ember.tensor(REPEATED, device=x.device), s),
           id="scatter_add_repeated"),
    OpCase("index_select", lambda a: np.take(a, [2, 0, 2], axis=1), [(3, 4)],
           fn=lambda x: x.index_select(1, ember.tensor([2, 0, 2], device=x.device)),
           id="index_select_repeated"),
    OpCase("index_select", lambda a: np.take(a, [1], axis=0), [(3, 4)],
           fn=lambda x: ember.index_select(x, 0, ember.tensor(1, device=x.device)),
           id="index_select_0d_index"),
    OpCase("index_add", lambda a, s: _ref_index_add(a, 1, [2, 0, 2], s, 2.0),
           [((3, 4), (3, 3))], arity=2,
           fn=lambda x, s: x.index_add(1, ember.tensor([2, 0, 2], device=x.device), s, alpha=2.0),
           id="index_add_repeated"),
    OpCase("index_fill", lambda a: _ref_index_fill(a, 0, [0, 2, 0], -1.5), [(3, 4)],
           fn=lambda x: x.index_fill(0, ember.tensor([0, 2, 0], device=x.device), -1.5)),
    OpCase("masked_fill", lambda a: np.where(MASK, 0.5, a), [(3, 4), (1, 4), (4,)],
           fn=lambda x: x.masked_fill(ember.tensor(MASK, device=x.device), 0.5),
           id="masked_fill_broadcast"),
    OpCase("masked_fill", lambda a, v: np.where(MASK, v, a), [((3, 4), ())], arity=2,
           fn=lambda x, v: ember.masked_fill(x, ember.tensor(MASK, device=x.device), v),
           id="masked_fill_tensor_value"),
]
MASK = np.random.default_rng(4).random((3, 4)) > 0.5


def _ref_index_add(a, dim, index, src, alpha):
    out = a.copy()
    np.add.at(out, (slice(None),) * dim + (np.asarray(index),), src * alpha)
    return out


def _ref_index_fill(a, dim, index, value):
    out = a.copy()
    out[(slice(None),) * dim + (np.asarray(index),)] = value
    return out


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


def test_gather_backward_accumulates_repeats(device):
    x = ember.ones(3, 2, dtype=ember.float64, device=device, requires_grad=True)
    index = ember.tensor([[0, 0], [0, 2], [0, 2]], device=device)
    x.gather(0, index).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), [[3, 1], [0, 0], [0, 2]])


def test_scatter_value_and_reduce(device):
    a = np.zeros((2, 3))
    index = np.array([[0, 2], [1, 0]])
    x = ember.tensor(a, device=device)
    idx = ember.tensor(index, device=device)
    np.testing.assert_array_equal(to_numpy(x.scatter(1, idx, 4.0)), ref_scatter(a, index, 4.0, 1))
    np.testing.assert_array_equal(to_numpy(ember.scatter(x, 1, idx, value=2.0)),
                                  ref_scatter(a, index, 2.0, 1))
    src = ember.ones(2, 2, dtype=ember.float64, device=device)
    np.testing.assert_array_equal(to_numpy(x.scatter(1, idx, src, reduce="add")),
                                  ref_scatter_add(a, index, np.ones((2, 2)), 1))
    with pytest.raises(RuntimeError, match="reduce"):
        x.scatter(1, idx, src, reduce="multiply")
    value = ember.tensor(3.0, dtype=ember.float64, device=device, requires_grad=True)
    gradcheck(lambda v: x.scatter(1, idx, v), (value,))


def test_zero_dim_inputs(device):
    x = ember.tensor(2.5, dtype=ember.float64, device=device, requires_grad=True)
    zero = ember.tensor(0, device=device)
    assert ember.gather(x, 0, zero).shape == ()
    gradcheck(lambda t: t.gather(0, zero), (x,))
    assert ember.index_select(x, 0, zero).item() == pytest.approx(2.5)
    src = ember.tensor(1.0, dtype=ember.float64, device=device)
    assert ember.scatter_add(x, 0, zero, src).item() == pytest.approx(3.5)


def test_argument_errors(device):
    x = ember.zeros(3, 4, device=device)
    index = ember.tensor([[0, 1]], device=device)
    with pytest.raises(RuntimeError, match="dtype"):
        x.gather(0, index.float())
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(0, ember.tensor([0, 1], device=device))
    with pytest.raises(RuntimeError, match="out of bounds for dimension 0 with size 3"):
        x.gather(0, ember.tensor([[3, 0]], device=device))
        ember.cuda.synchronize()  # a GPU reports it late, as PyTorch's device-side asserts
    with pytest.raises(RuntimeError, match="Size does not match at dimension 0"):
        x.gather(1, ember.zeros(4, 1, dtype=ember.int64, device=device))
    with pytest.raises(IndexError, match="Dimension out of range|dimension out of range"):
        x.gather(2, index)
    with pytest.raises(RuntimeError, match="smaller than src"):
        x.scatter(0, index, ember.zeros(1, 1, device=device))
    with pytest.raises(RuntimeError, match="dtype"):
        x.scatter_add(0, index, ember.zeros(1, 2, dtype=ember.float64, device=device))
    with pytest.raises(IndexError, match="vector"):
        x.index_select(0, ember.zeros(2, 2, dtype=ember.int64, device=device))
    with pytest.raises(IndexError, match="index out of range in self"):
        x.index_select(1, ember.tensor([4], device=device))
        ember.cuda.synchronize()
    with pytest.raises(RuntimeError, match="slice shapes"):
        x.index_add(0, ember.tensor([0], device=device), ember.zeros(2, 4, device=device))
    with pytest.raises(RuntimeError, match="boolean masks"):
        x.masked_fill(ember.zeros(3, 4, device=device), 1.0)
    with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
        x.masked_fill(ember.zeros(4, device=device) > 0, ember.zeros(2, device=device))
    with pytest.raises(RuntimeError, match="broadcastable"):
        x.masked_fill(ember.zeros(2, device=device) > 0, 1.0)


def test_in_place_forms_match_out_of_place(device):
    a = np.random.default_rng(5).standard_normal((3, 4))
    index = ember.tensor([[0, 1, 2, 0], [2, 2, 1, 1]], device=device)
    src = ember.tensor(np.arange(8.0).reshape(2, 4), device=device)
    mask = ember.tensor(MASK, device=device)
    vector = ember.tensor([2, 0], device=device)
    calls = [
        ("scatter", (0, index, src)),
        ("scatter_add", (0, index, src)),
        ("index_add", (1, vector, ember.ones(3, 2, dtype=ember.float64, device=device))),
        ("index_fill", (1, vector, 7.0)),
        ("masked_fill", (mask, -2.0)),
    ]
    for name, args in calls:
        x = ember.tensor(a, device=device)
        expected = getattr(x, name)(*args)
        returned = getattr(x, name + "_")(*args)
        assert returned is x
        np.testing.assert_array_equal(to_numpy(x), to_numpy(expected))


def test_in_place_forms_record_autograd(device):
    a = ember.tensor(np.random.default_rng(6).standard_normal((3, 4)), device=device,
                     requires_grad=True)
    src = ember.tensor(np.ones((2, 4)), device=device, requires_grad=True)
    index = ember.tensor([[0, 0, 2, 0], [0, 2, 2, 0]], device=device)
    mask = ember.tensor(MASK, device=device)

    def in_place(x, s):
        h = x * 1
        h.scatter_add_(0, index, s)
        h.masked_fill_(mask, 0.0)
        return h * h

    def out_of_place(x, s):
        h = (x * 1).scatter_add(0, index, s).masked_fill(mask, 0.0)
        return h * h

    gradcheck(in_place, (a, src))
    gradgradcheck(in_place, (a, src))
    in_place(a, src).sum().backward()
    grads = to_numpy(a.grad), to_numpy(src.grad)
    a.grad = src.grad = None
    out_of_place(a, src).sum().backward()
    np.testing.assert_allclose(grads[0], to_numpy(a.grad))
    np.testing.assert_allclose(grads[1], to_numpy(src.grad))
    with pytest.raises(RuntimeError, match="leaf Variable"):
        a.masked_fill_(mask, 0.0)
