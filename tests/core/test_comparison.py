import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ember
from harness import OpCase, check_op

BROADCAST = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (2, 3)), ((0, 3), (3,))]


def _grid(rng, shapes, dtype):
    """Multiples of 0.25: comparisons see ties, and no rounding differs between dtypes."""
    return [(rng.integers(-4, 4, size=s) * 0.25).astype(dtype) for s in shapes]


def _apart(rng, shapes, dtype):
    """Quarter steps plus a per-operand offset: never a tie between two operands."""
    return [((rng.integers(-8, 8, size=s) * 0.25) + 0.1 * (k + 1)).astype(dtype)
            for k, s in enumerate(shapes)]


def _clamp_inputs(rng, shapes, dtype):
    x_shape, low_shape, high_shape = shapes
    x = rng.integers(-8, 8, size=x_shape) * 0.25 + 0.1
    low = rng.integers(-4, 0, size=low_shape) * 0.25
    high = rng.integers(0, 4, size=high_shape) * 0.25 + 0.25
    return [x.astype(dtype), low.astype(dtype), high.astype(dtype)]


COMPARISONS = [
    ("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
    ("gt", np.greater), ("ge", np.greater_equal),
    ("not_equal", np.not_equal), ("less", np.less), ("less_equal", np.less_equal),
    ("greater", np.greater), ("greater_equal", np.greater_equal),
    ("logical_and", np.logical_and), ("logical_or", np.logical_or),
    ("logical_xor", np.logical_xor), ("isclose", np.isclose),
]

CASES = [OpCase(name, ref, BROADCAST, arity=2, inputs=_grid, grad=False)
         for name, ref in COMPARISONS] + [
    OpCase(name, getattr(np, name), [(3, 4), (), (0,)], inputs=_grid, grad=False)
    for name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf", "logical_not")
] + [
    OpCase("maximum", np.maximum, BROADCAST, arity=2, inputs=_apart),
    OpCase("minimum", np.minimum, BROADCAST, arity=2, inputs=_apart),
    OpCase("fmax", np.fmax, BROADCAST, arity=2, inputs=_apart),
    OpCase("fmin", np.fmin, BROADCAST, arity=2, inputs=_apart),
    OpCase("where", lambda a, b: np.where(a > b, a, b), BROADCAST, arity=2, inputs=_apart,
           fn=lambda a, b: ember.where(a > b, a, b)),
    OpCase("where", lambda a: np.where(a > 0, a, 0.5), [(3, 4), ()], inputs=_apart,
           fn=lambda a: ember.where(a > 0, a, 0.5), id="where_scalar"),
    OpCase("clamp", lambda x, min, max: np.clip(x, min, max), [(3, 4), (), (0,)],
           kwargs={"min": -0.5, "max": 0.75}, inputs=_apart),
    OpCase("clamp", lambda x, min: np.maximum(x, min), [(3, 4)], kwargs={"min": -0.5},
           inputs=_apart, id="clamp_min_only"),
    OpCase("clamp", lambda x, lo, hi: np.clip(x, lo, hi),
           [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), (3, 1)), ((), (2,), ())], arity=3,
           inputs=_clamp_inputs, id="clamp_tensors"),
    OpCase("clamp_min", lambda x, lo: np.maximum(x, lo), [((3, 4), (4,))], arity=2,
           inputs=_apart),
    OpCase("clamp_max", lambda x, max: np.minimum(x, max), [(3, 4)], kwargs={"max": 0.3},
           inputs=_apart),
    OpCase("nan_to_num", np.nan_to_num, [(3, 4), ()]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


def test_comparisons_return_bool_without_grad():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for out in (x > 1, x == x, ember.isnan(x), ember.isclose(x, x), x.logical_not(),
                ember.maximum(x, x) > 0):
        assert out.dtype == ember.bool and not out.requires_grad and out.grad_fn is None


@pytest.mark.parametrize("op_name, symbol", [("eq", "=="), ("ne", "!="), ("lt", "<"),
                                             ("le", "<="), ("gt", ">"), ("ge", ">=")])
def test_operators_and_scalar_promotion(op_name, symbol):
    a = np.array([0, 1, 2, 3])
    ints = ember.tensor(a)
    floats = ember.tensor(a * 0.5)

    def check(expression, expected):
        out = eval(expression, {}, {"ints": ints, "floats": floats, "np": np})
        assert out.dtype == ember.bool, expression
        np.testing.assert_array_equal(out.numpy(), expected, err_msg=expression)

    ref = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
           ">": np.greater, ">=": np.greater_equal}[symbol]
    check(f"ints {symbol} 1.5", ref(a, 1.5))  # an int tensor against a float compares in float
    check(f"ints {symbol} 1", ref(a, 1))
    check(f"floats {symbol} 1", ref(a * 0.5, 1))
    check(f"1.5 {symbol} ints", ref(1.5, a))  # reflected
    check(f"np.array([1, 1, 2, 2]) {symbol} ints", ref([1, 1, 2, 2], a))
    check(f"ints {symbol} floats", ref(a, a * 0.5))
    check(f"ints {symbol} True", ref(a, 1))
    np.testing.assert_array_equal(getattr(ember, op_name)(ints, 1.5).numpy(), ref(a, 1.5))
    np.testing.assert_array_equal(getattr(ember, op_name)(2, ints).numpy(), ref(2, a))


def test_equality_with_foreign_objects_is_python_identity():
    x = ember.tensor([1.0, 2.0])
    assert (x == None) is False  # noqa: E711  (the behaviour under test)
    assert (x != None) is True  # noqa: E711
    assert (x == "a") is False
    assert x in [None, x]
    assert {x: 1}[x] == 1  # hashing stays by identity


def test_equal_allclose_isclose():
    a = ember.tensor([1.0, 2.0, np.nan])
    assert ember.equal(ember.tensor([1, 2]), ember.tensor([1, 2]))
    assert not ember.equal(ember.tensor([1, 2]), ember.tensor([1, 2, 3]))
    assert not a.equal(a)  # NaN is never equal
    assert ember.equal(ember.tensor([1, 2]), ember.tensor([1.0, 2.0]))
    b = a + 1e-7
    assert not ember.allclose(a, b)
    assert ember.allclose(a, b, equal_nan=True)
    np.testing.assert_array_equal(ember.isclose(a, b).numpy(), [True, True, False])
    assert ember.isclose(ember.tensor([np.inf]), ember.tensor([np.inf])).item()
    assert ember.isclose(ember.tensor([True, False]), ember.tensor([True, True])).tolist() \
        == [True, False]
    with pytest.raises(RuntimeError, match="isclose"):
        ember.isclose(a, a.double())


def test_logical_and_bitwise_ops():
    m = ember.tensor([True, False, True])
    n = ember.tensor([True, True, False])
    i = ember.tensor([12, 10, 7])
    np.testing.assert_array_equal((m & n).numpy(), [True, False, False])
    np.testing.assert_array_equal((m | n).numpy(), [True, True, True])
    np.testing.assert_array_equal((m ^ n).numpy(), [False, True, True])
    np.testing.assert_array_equal((~m).numpy(), [False, True, False])
    np.testing.assert_array_equal((True & m).numpy(), [True, False, True])
    np.testing.assert_array_equal((False | m).numpy(), [True, False, True])
    assert (m & n).dtype == ember.bool
    np.testing.assert_array_equal((i & 6).numpy(), [4, 2, 6])
    np.testing.assert_array_equal((3 | i).numpy(), [15, 11, 7])
    np.testing.assert_array_equal((i ^ i).numpy(), [0, 0, 0])
    np.testing.assert_array_equal((~i).numpy(), ~np.array([12, 10, 7]))
    assert (m & 1).dtype == ember.int64  # bool with an int promotes as arithmetic does
    assert (i.int() & ember.tensor([1], dtype=ember.int16)).dtype == ember.int32
    np.testing.assert_array_equal(ember.logical_and(i, ember.tensor([0.0, 1.0, 2.0])).numpy(),
                                  [False, True, True])
    np.testing.assert_array_equal(ember.logical_not(i - 10).numpy(), [False, True, False])
    with pytest.raises(RuntimeError, match="bitwise_and"):
        ember.tensor([1.0]) & ember.tensor([1.0])
    with pytest.raises(RuntimeError, match="bitwise_not"):
        ~ember.tensor([1.0])


def test_nan_and_infinity_tests():
    x = ember.tensor([1.0, np.nan, np.inf, -np.inf, 0.0])
    np.testing.assert_array_equal(x.isnan().numpy(), [False, True, False, False, False])
    np.testing.assert_array_equal(x.isinf().numpy(), [False, False, True, True, False])
    np.testing.assert_array_equal(x.isfinite().numpy(), [True, False, False, False, True])
    np.testing.assert_array_equal(x.isposinf().numpy(), [False, False, True, False, False])
    np.testing.assert_array_equal(x.isneginf().numpy(), [False, False, False, True, False])
    i = ember.tensor([1, 2])
    assert not i.isnan().numpy().any() and not i.isinf().numpy().any()
    assert i.isfinite().numpy().all() and not i.isposinf().numpy().any()


def test_nan_to_num_values_and_gradient():
    x = ember.tensor([1.0, np.nan, np.inf, -np.inf, -2.0], dtype=ember.float64,
                     requires_grad=True)
    out = ember.nan_to_num(x)
    big = np.finfo(np.float64).max
    np.testing.assert_array_equal(out.detach().numpy(), [1.0, 0.0, big, -big, -2.0])
    out = x.nan_to_num(nan=0.5, posinf=9.0, neginf=-9.0)
    np.testing.assert_array_equal(out.detach().numpy(), [1.0, 0.5, 9.0, -9.0, -2.0])
    (out * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 0.0, 0.0, 3.0])
    f32 = ember.nan_to_num(ember.tensor([np.inf], dtype=ember.float32))
    assert f32.dtype == ember.float32 and f32.item() == np.finfo(np.float32).max
    assert ember.nan_to_num(ember.tensor([3])).tolist() == [3]


def test_maximum_propagates_nan_and_fmax_ignores_it():
    a = ember.tensor([np.nan, 1.0, np.nan, 2.0])
    b = ember.tensor([0.0, np.nan, np.nan, 1.0])
    np.testing.assert_array_equal(ember.maximum(a, b).numpy(), [np.nan, np.nan, np.nan, 2.0])
    np.testing.assert_array_equal(ember.minimum(a, b).numpy(), [np.nan, np.nan, np.nan, 1.0])
    np.testing.assert_array_equal(ember.fmax(a, b).numpy(), [0.0, 1.0, np.nan, 2.0])
    np.testing.assert_array_equal(ember.fmin(a, b).numpy(), [0.0, 1.0, np.nan, 1.0])


@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin"])
def test_extremum_splits_gradient_on_ties(name):
    a = ember.tensor([1.0, 2.0, 3.0], dtype=ember.float64, requires_grad=True)
    b = ember.tensor([1.0, 0.0, 5.0], dtype=ember.float64, requires_grad=True)
    getattr(ember, name)(a, b).sum().backward()
    larger = name in ("maximum", "fmax")
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 1.0, 0.0] if larger else [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 0.0, 1.0] if larger else [0.5, 1.0, 0.0])


def test_maximum_promotes_and_broadcasts():
    out = ember.maximum(ember.tensor([[1], [5]]), ember.tensor([2.5, 3.5]))
    assert out.dtype == ember.float32 and out.shape == (2, 2)
    np.testing.assert_array_equal(out.numpy(), [[2.5, 3.5], [5.0, 5.0]])
    assert ember.maximum(ember.tensor([1, 7]), ember.tensor([3, 2])).dtype == ember.int64


def test_where_promotion_and_forms():
    cond = ember.tensor([True, False, True])
    ints = ember.tensor([1, 2, 3])
    out = ember.where(cond, ints, 0.5)
    assert out.dtype == ember.float32
    np.testing.assert_array_equal(out.numpy(), [1.0, 0.5, 3.0])
    assert ember.where(cond, ints, 0).dtype == ember.int64
    assert ember.where(cond, 1.0, 0.0).dtype == ember.float32
    half = ember.tensor([1.0, 2.0, 3.0], dtype=ember.float16)
    assert ember.where(cond, half, 2).dtype == ember.float16
    assert ember.where(cond, half, ember.tensor([1.0, 2.0, 3.0])).dtype == ember.float32
    np.testing.assert_array_equal(half.where(cond, -1.0).numpy(), [1.0, -1.0, 3.0])
    out = ember.where(ember.tensor([[True], [False]]), ember.tensor([1.0, 2.0]), 0.0)
    assert out.shape == (2, 2)
    with pytest.raises(RuntimeError, match="where"):
        ember.where(ints, ints, ints)


def test_where_gradient_to_scalar_and_broadcast_operands():
    x = ember.tensor([[-1.0, 2.0], [3.0, -4.0]], dtype=ember.float64, requires_grad=True)
    y = ember.tensor([10.0, 20.0], dtype=ember.float64, requires_grad=True)
    (ember.where(x > 0, x, y) * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 2.0], [2.0, 0.0]])
    np.testing.assert_array_equal(y.grad.numpy(), [2.0, 2.0])


def test_clamp_forms_and_dtypes():
    x = ember.tensor([-2.0, 0.5, 3.0])
    np.testing.assert_array_equal(x.clip(0, 1).numpy(), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(ember.clip(x, max=1).numpy(), [-2.0, 0.5, 1.0])
    np.testing.assert_array_equal(x.clamp_min(0).numpy(), [0.0, 0.5, 3.0])
    np.testing.assert_array_equal(ember.clamp_max(x, 0).numpy(), [-2.0, 0.0, 0.0])
    i = ember.tensor([-2, 0, 3])
    assert i.clamp(0, 1).dtype == ember.int64
    assert i.clamp(0.5).dtype == ember.float32
    np.testing.assert_array_equal(i.clamp(0.5).numpy(), [0.5, 0.5, 3.0])
    bounds = ember.clamp(x, ember.tensor([[0.0], [1.0]]), 2.0)  # tensor and number mixed
    np.testing.assert_array_equal(bounds.numpy(), [[0.0, 0.5, 2.0], [1.0, 1.0, 2.0]])
    np.testing.assert_array_equal(ember.clamp(ember.tensor([np.nan]), 0, 1).numpy(), [np.nan])
    with pytest.raises(RuntimeError, match="clamp"):
        x.clamp()


def test_clamp_with_min_above_max_gives_max_and_its_gradient():
    x = ember.tensor([0.0, 5.0], dtype=ember.float64, requires_grad=True)
    low = ember.tensor([2.0, 2.0], dtype=ember.float64, requires_grad=True)
    high = ember.tensor([1.0, 1.0], dtype=ember.float64, requires_grad=True)
    out = ember.clamp(x, low, high)
    np.testing.assert_array_equal(out.detach().numpy(), [1.0, 1.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(low.grad.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(high.grad.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(ember.clamp(ember.tensor([0.0, 5.0]), 2.0, 1.0).numpy(),
                                  [1.0, 1.0])


def test_clamp_gradient_passes_on_the_bounds_inclusive():
    x = ember.tensor([0.0, 0.5, 1.0, 2.0], dtype=ember.float64, requires_grad=True)
    x.clamp(0.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0, 0.0])



@settings(max_examples=40, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, base_shape=(), max_dims=3, max_side=3),
       st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]),
       st.sampled_from(["int64", "float32", "float64", "bool"]))
def test_comparison_broadcasting_matches_numpy(broadcast, name, dtype):
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 3, size=s).astype(dtype) for s in broadcast.input_shapes)
    out = getattr(ember, name)(ember.tensor(a), ember.tensor(b))
    expected = getattr(np, {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
                            "gt": "greater", "ge": "greater_equal"}[name])(a, b)
    assert out.shape == np.broadcast_shapes(*broadcast.input_shapes) == expected.shape
    assert out.dtype == ember.bool
    np.testing.assert_array_equal(out.numpy(), expected)
