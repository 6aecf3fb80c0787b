import math
import warnings

import numpy as np
import pytest

import ember
from harness import OpCase, check_op

UNARY = [(3, 4), (), (0, 2)]
BROADCAST = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (2, 3))]

np_erf = np.vectorize(math.erf, otypes=[np.float64])
np_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _uniform(low, high):
    def inputs(rng, shapes, dtype):
        return [rng.uniform(low, high, size=s).astype(dtype) for s in shapes]

    return inputs


def _away_from_zero(rng, shapes, dtype):
    """Magnitudes in [0.2, 2] with random signs: clear of the kink of abs at 0."""
    return [(rng.uniform(0.2, 2.0, size=s) * rng.choice([-1.0, 1.0], size=s)).astype(dtype)
            for s in shapes]


def _off_grid(rng, shapes, dtype):
    """Integers plus a fraction in (0.1, 0.4) or (0.6, 0.9): clear of every rounding step."""
    out = []
    for s in shapes:
        whole = rng.integers(-3, 3, size=s)
        fraction = rng.uniform(0.1, 0.4, size=s) + rng.choice([0.0, 0.5], size=s)
        out.append((whole + fraction).astype(dtype))
    return out


def _ref(fn):
    """A numpy reference evaluated in float64 and returned in the input's dtype."""
    return lambda x, **kw: fn(x.astype(np.float64), **kw).astype(x.dtype)


CASES = [
    OpCase("exp", np.exp, UNARY),
    OpCase("exp2", np.exp2, UNARY),
    OpCase("expm1", np.expm1, UNARY),
    OpCase("log", np.log, UNARY, inputs=_uniform(0.3, 3.0)),
    OpCase("log2", np.log2, UNARY, inputs=_uniform(0.3, 3.0)),
    OpCase("log10", np.log10, UNARY, inputs=_uniform(0.3, 3.0)),
    OpCase("log1p", np.log1p, UNARY, inputs=_uniform(-0.7, 3.0)),
    OpCase("sqrt", np.sqrt, UNARY, inputs=_uniform(0.3, 3.0)),
    OpCase("rsqrt", lambda x: 1 / np.sqrt(x), UNARY, inputs=_uniform(0.3, 3.0)),
    OpCase("reciprocal", np.reciprocal, UNARY, inputs=_away_from_zero),
    OpCase("square", np.square, UNARY),
    OpCase("sin", np.sin, UNARY),
    OpCase("cos", np.cos, UNARY),
    OpCase("tan", np.tan, UNARY, low=-1.2, high=1.2),
    OpCase("asin", np.arcsin, UNARY, low=-0.8, high=0.8),
    OpCase("acos", np.arccos, UNARY, low=-0.8, high=0.8),
    OpCase("atan", np.arctan, UNARY),
    OpCase("sinh", np.sinh, UNARY),
    OpCase("cosh", np.cosh, UNARY),
    OpCase("tanh", np.tanh, UNARY),
    OpCase("asinh", np.arcsinh, UNARY),
    OpCase("acosh", np.arccosh, UNARY, inputs=_uniform(1.2, 3.0)),
    OpCase("atanh", np.arctanh, UNARY, low=-0.8, high=0.8),
    OpCase("sigmoid", lambda x: 1 / (1 + np.exp(-x)), UNARY, low=-6.0, high=6.0),
    OpCase("erf", _ref(np_erf), UNARY, low=-3.0, high=3.0),
    OpCase("erfc", _ref(np_erfc), UNARY, low=-3.0, high=5.0),
    OpCase("abs", np.abs, UNARY, inputs=_away_from_zero),
    OpCase("sign", np.sign, UNARY, inputs=_away_from_zero),
    OpCase("floor", np.floor, UNARY, inputs=_off_grid),
    OpCase("ceil", np.ceil, UNARY, inputs=_off_grid),
    OpCase("trunc", np.trunc, UNARY, inputs=_off_grid),
    OpCase("round", np.round, UNARY, inputs=_off_grid),
    OpCase("round", lambda x, decimals: np.round(x, decimals), [(3, 4)], inputs=_off_grid,
           kwargs={"decimals": 1}, id="round_decimals"),
    OpCase("frac", lambda x: x - np.trunc(x), UNARY, inputs=_off_grid),
    OpCase("atan2", np.arctan2, BROADCAST, arity=2, inputs=_away_from_zero),
    OpCase("hypot", np.hypot, BROADCAST, arity=2, inputs=_away_from_zero),
    OpCase("lerp", lambda a, b, w: a + w * (b - a), [((3, 4), (3, 4), (3, 4)),
                                                     ((3, 1), (4,), ()), ((2, 3), (), (3,))],
           arity=3),
    OpCase("lerp", lambda a, b: a + 0.3 * (b - a), BROADCAST, arity=2, kwargs={},
           fn=lambda a, b: ember.lerp(a, b, 0.3), id="lerp_scalar_weight"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


@pytest.mark.parametrize(
    "name, alias",
    [("abs", "absolute"), ("asin", "arcsin"), ("acos", "arccos"), ("atan", "arctan"),
     ("asinh", "arcsinh"), ("atanh", "arctanh"), ("trunc", "fix")],
)
def test_aliases(name, alias):
    x = ember.tensor([-0.5, 0.25, 0.75])
    np.testing.assert_array_equal(getattr(ember, alias)(x).numpy(), getattr(x, name)().numpy())
    np.testing.assert_array_equal(getattr(x, alias)().numpy(), getattr(ember, name)(x).numpy())


def test_arctan2_alias():
    y, x = ember.tensor([0.5, -2.0]), ember.tensor([-1.0, 3.0])
    np.testing.assert_array_equal(ember.arctan2(y, x).numpy(), y.atan2(x).numpy())
    np.testing.assert_array_equal(y.arctan2(x).numpy(), np.arctan2([0.5, -2.0], [-1.0, 3.0],
                                                                   dtype=np.float32))


def test_integer_inputs_of_float_functions_compute_in_default_float():
    i = ember.tensor([1, 2, 4])
    for name in ("exp", "log", "sqrt", "sin", "sigmoid", "erf", "reciprocal", "rsqrt"):
        out = getattr(ember, name)(i)
        assert out.dtype == ember.float32, name
        np.testing.assert_allclose(out.numpy(), getattr(ember, name)(i.float()).numpy())
    assert ember.atan2(i, i).dtype == ember.float32
    assert ember.exp(ember.tensor([True, False])).dtype == ember.float32
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.exp(i).dtype == ember.float64
    finally:
        ember.set_default_dtype(ember.float32)


def test_integer_dtypes_kept_by_abs_sign_rounding_and_square():
    i = ember.tensor([-3, 0, 5], dtype=ember.int32)
    for name in ("abs", "sign", "floor", "ceil", "trunc", "round", "square"):
        out = getattr(i, name)()
        assert out.dtype == ember.int32, name
    np.testing.assert_array_equal(i.abs().numpy(), [3, 0, 5])
    np.testing.assert_array_equal(i.sign().numpy(), [-1, 0, 1])
    np.testing.assert_array_equal(abs(i).numpy(), [3, 0, 5])
    np.testing.assert_array_equal(i.square().numpy(), [9, 0, 25])
    assert ember.square(ember.tensor([True, False])).dtype == ember.int64
    assert ember.sign(ember.tensor([True, False])).dtype == ember.bool
    with pytest.raises(RuntimeError, match="frac"):
        i.frac()


def test_round_is_half_to_even_like_pytorch():
    x = ember.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 1.25])
    np.testing.assert_array_equal(x.round().numpy(), [0.0, 2.0, 2.0, -0.0, -2.0, 1.0])
    np.testing.assert_allclose(x.round(decimals=1).numpy(), [0.5, 1.5, 2.5, -0.5, -1.5, 1.2])


def test_erf_accuracy_over_the_whole_line():
    x = np.concatenate([np.linspace(-7, 7, 4001), [-30.0, 27.0, 1e-300, -1e-8, 1e300]])
    got = ember.erf(ember.tensor(x, dtype=ember.float64)).numpy()
    np.testing.assert_allclose(got, np_erf(x), rtol=1e-14, atol=1e-300)
    tail = np.linspace(-5, 26, 3001)
    got = ember.erfc(ember.tensor(tail, dtype=ember.float64)).numpy()
    np.testing.assert_allclose(got, np_erfc(tail), rtol=1e-13, atol=0)
    got32 = ember.erf(ember.tensor(x[:4001], dtype=ember.float32)).numpy()
    np.testing.assert_allclose(got32, np_erf(x[:4001].astype(np.float32)), rtol=1e-6,
                               atol=1e-7)
    half = ember.erf(ember.tensor([0.5, -2.0], dtype=ember.float16))
    assert half.dtype == ember.float16
    np.testing.assert_allclose(half.numpy(), np_erf([0.5, -2.0]), rtol=1e-3)


def test_erf_special_values():
    x = ember.tensor([np.inf, -np.inf, np.nan, 0.0, -0.0], dtype=ember.float64)
    np.testing.assert_array_equal(ember.erf(x).numpy(), [1.0, -1.0, np.nan, 0.0, -0.0])
    np.testing.assert_array_equal(ember.erfc(x).numpy(), [0.0, 2.0, np.nan, 1.0, 1.0])


def test_sigmoid_never_overflows():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(over="raise", invalid="raise"):  # underflow to 0 is the right answer
        got = ember.sigmoid(ember.tensor(x, dtype=ember.float64)).numpy()
    np.testing.assert_allclose(got, [0.0, np.exp(-50.0), 0.5, 1.0, 1.0], rtol=1e-12, atol=0)
    with warnings.catch_warnings():  # numpy's default mode, its warnings made errors
        warnings.simplefilter("error")
        again = ember.sigmoid(ember.tensor(x, dtype=ember.float64)).numpy()
    np.testing.assert_array_equal(again, got)


def test_zero_gradient_of_piecewise_constant_ops():
    x = ember.tensor([0.3, 1.7, -2.2], dtype=ember.float64, requires_grad=True)
    (x.floor() + x.ceil() + x.round() + x.trunc() + x.sign()).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


def test_lerp_tensor_weight_gradient():
    a, b, w = (ember.tensor(np.random.default_rng(k).uniform(-1, 1, (2, 3)),
                            dtype=ember.float64, requires_grad=True) for k in range(3))
    ember.autograd.gradcheck(ember.lerp, (a, b, w))
    assert a.lerp(b, 0.5).shape == (2, 3)


def test_gradient_formula_namespace_names_ops_and_raises_attribute_error():
    from ember.ops.elementwise import TENSOR_MATH

    assert TENSOR_MATH.exp is ember.exp
    assert not hasattr(TENSOR_MATH, "no_such_op")
    with pytest.raises(AttributeError, match="no_such_op"):
        TENSOR_MATH.no_such_op
