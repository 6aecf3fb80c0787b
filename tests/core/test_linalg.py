"""matmul and friends (mm, bmm, dot, outer, addmm, baddbmm), linear, einsum, trace."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from harness import OpCase, check_op


def _einsum_case(equation, shapes, **extra):
    return OpCase(
        "einsum",
        lambda *arrays: np.einsum(equation, *arrays),
        [tuple(shapes) if len(shapes) > 1 else shapes[0]],
        arity=len(shapes),
        fn=lambda *tensors: ember.einsum(equation, *tensors),
        id=f"einsum-{equation}",
        **extra,
    )


def _ref_linear(x, weight, bias=None):
    out = x @ weight.T
    return out if bias is None else out + bias


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4,)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((3, 4), (2, 4, 5)),
    ((0, 4), (4, 3)),
    ((3, 0), (0, 2)),
]

CASES = [
    OpCase("matmul", np.matmul, MATMUL_SHAPES, arity=2),
    OpCase("mm", np.matmul, [((3, 4), (4, 2)), ((1, 3), (3, 1))], arity=2),
    OpCase("bmm", np.matmul, [((2, 3, 4), (2, 4, 5))], arity=2),
    OpCase("dot", np.dot, [((5,), (5,)), ((0,), (0,))], arity=2),
    OpCase("outer", np.outer, [((3,), (4,))], arity=2),
    OpCase("linear", _ref_linear, [((4, 3), (5, 3), (5,)), ((2, 3, 3), (5, 3), (5,)),
                                   ((3,), (2, 3), (2,))], arity=3, id="linear-bias"),
    OpCase("linear", _ref_linear, [((4, 3), (5, 3)), ((2, 2, 3), (4, 3))], arity=2,
           id="linear"),
    OpCase("addmm", lambda c, a, b, beta, alpha: beta * c + alpha * (a @ b),
           [((3, 2), (3, 4), (4, 2)), ((2,), (3, 4), (4, 2))], arity=3,
           kwargs={"beta": 0.5, "alpha": 2}),
    OpCase("baddbmm", lambda c, a, b: c + a @ b, [((2, 3, 5), (2, 3, 4), (2, 4, 5))], arity=3),
    OpCase("trace", np.trace, [(3, 3), (2, 4)]),
    _einsum_case("ij,jk->ik", [(2, 3), (3, 4)]),
    _einsum_case("bij,bjk", [(2, 2, 3), (2, 3, 4)]),
    _einsum_case("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),
    _einsum_case("ii->i", [(3, 3)]),
    _einsum_case("iij,j->i", [(2, 2, 3), (3,)]),
    _einsum_case("ij->", [(2, 3)]),
    _einsum_case("ij->j", [(0, 3)]),
    _einsum_case("i,j,k->ijk", [(2,), (3,), (2,)]),
    _einsum_case("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    _einsum_case("bi,bi->b", [(1, 3), (4, 3)]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


def test_matmul_operators():
    a = np.random.default_rng(0).normal(size=(2, 3))
    b = np.random.default_rng(1).normal(size=(3, 2))
    x, y = ember.tensor(a), ember.tensor(b)
    np.testing.assert_allclose((x @ y).numpy(), a @ b)
    np.testing.assert_allclose((a @ y).numpy(), a @ b)  # numpy defers to Tensor.__rmatmul__
    np.testing.assert_allclose((x @ b).numpy(), a @ b)
    np.testing.assert_allclose(x.matmul(y).numpy(), a @ b)


def test_integer_matmul_and_trace():
    a = ember.tensor([[1, 2], [3, 4]])
    assert (a @ a).tolist() == [[7, 10], [15, 22]] and (a @ a).dtype == ember.int64
    assert ember.trace(ember.tensor([[1, 2], [3, 4]], dtype=ember.int32)).dtype == ember.int64


@pytest.mark.parametrize(
    "shapes, message",
    [
        (((3, 4), (5, 6)), r"matmul: shapes \(3, 4\) and \(5, 6\) cannot be multiplied \(4 != 5\)"),
        (((4,), (5,)), r"\(4 != 5\)"),
        (((2, 3, 4), (3, 4, 6)), "batch dimensions"),
        (((), (3,)), "at least 1D"),
    ],
)
def test_matmul_shape_errors(shapes, message):
    with pytest.raises(RuntimeError, match=message):
        ember.matmul(ember.ones(*shapes[0]), ember.ones(*shapes[1]))


def test_fixed_rank_forms_check_their_inputs():
    with pytest.raises(RuntimeError, match="mm"):
        ember.mm(ember.ones(2, 3, 4), ember.ones(4, 2))
    with pytest.raises(RuntimeError, match="bmm"):
        ember.bmm(ember.ones(2, 3, 4), ember.ones(3, 4, 2))
    with pytest.raises(RuntimeError, match="dot"):
        ember.dot(ember.ones(3), ember.ones(4))
    with pytest.raises(RuntimeError, match="same dtype"):
        ember.matmul(ember.ones(2, 2), ember.ones(2, 2, dtype=ember.float64))
    with pytest.raises(RuntimeError, match=r"linear.*\(3 != 4\)"):
        ember.linear(ember.ones(2, 3), ember.ones(5, 4))


def test_einsum_errors_and_list_form():
    a, b = ember.ones(2, 3), ember.ones(4, 5)
    with pytest.raises(RuntimeError, match="subscript j has size 3"):
        ember.einsum("ij,jk", a, b)
    with pytest.raises(RuntimeError, match="number of subscripts"):
        ember.einsum("ijk", a)
    with pytest.raises(RuntimeError, match="operand"):
        ember.einsum("ij,jk", a)
    out = ember.einsum("ij,kj->ik", [a, ember.ones(4, 3)])
    np.testing.assert_allclose(out.numpy(), np.full((2, 4), 3.0))


def test_linear_bias_gradient_sums_over_batch_dims():
    x = ember.tensor(np.random.default_rng(0).normal(size=(2, 3, 4)), requires_grad=True)
    weight = ember.tensor(np.random.default_rng(1).normal(size=(5, 4)), requires_grad=True)
    bias = ember.zeros(5, dtype=ember.float64, requires_grad=True)
    ember.linear(x, weight, bias).sum().backward()
    np.testing.assert_allclose(bias.grad.numpy(), np.full(5, 6.0))
    np.testing.assert_allclose(weight.grad.numpy(),
                               np.broadcast_to(x.detach().numpy().sum((0, 1)), (5, 4)))
    np.testing.assert_allclose(x.grad.numpy(),
                               np.broadcast_to(weight.detach().numpy().sum(0), (2, 3, 4)))


# ---- broadcasting property ----------------------------------------------------------------------


@st.composite
def _matmul_shapes(draw):
    """Two shapes that matmul accepts: 1-D or matrices with broadcastable batch dims."""
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(st.lists(st.integers(1, 3), max_size=3))

    def side(inner, outer, last):
        if draw(st.booleans()) and draw(st.booleans()):
            return (inner,)
        lead = batch[len(batch) - draw(st.integers(0, len(batch))):]
        lead = [d if draw(st.booleans()) else 1 for d in lead]
        return tuple(lead) + ((outer, inner) if last else (inner, outer))

    return side(k, n, True), side(k, m, False)


@settings(max_examples=40, deadline=None)
@given(_matmul_shapes())
def test_matmul_broadcasting_matches_numpy(shapes):
    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=s) for s in shapes)
    x = ember.tensor(a, requires_grad=True)
    y = ember.tensor(b, requires_grad=True)
    out = x @ y
    expected = np.matmul(a, b)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    assert ember.autograd.gradcheck(ember.matmul, (x, y))
