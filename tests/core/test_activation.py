import math

import numpy as np
import pytest

import ember
from harness import OpCase, check_op

SHAPES = [(3, 4), (), (0, 3)]
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

np_erf = np.vectorize(math.erf, otypes=[np.float64])


def away_from(*kinks, low=-3.0, high=3.0, margin=0.1):
    """Inputs uniform in [low, high] but at least ``margin`` from every kink of the function."""

    def inputs(rng, shapes, dtype):
        out = []
        for s in shapes:
            x = rng.uniform(low, high, size=s)
            for kink in kinks:
                near = np.abs(x - kink) < margin
                x = np.where(near, kink + np.copysign(margin, x - kink), x)
            out.append(x.astype(dtype))
        return out

    return inputs


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softplus(x, beta=1.0, threshold=20.0):
    z = beta * x
    return np.where(z > threshold, x, np.log1p(np.exp(np.minimum(z, threshold))) / beta)


def np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def np_gelu(x, approximate="none"):
    x64 = x.astype(np.float64)
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64**3)
        out = 0.5 * x64 * (1 + np.tanh(inner))
    else:
        out = 0.5 * x64 * (1 + np_erf(x64 / math.sqrt(2)))
    return out.astype(x.dtype)


def np_hardsigmoid(x):
    return np.clip(x / 6 + 0.5, 0, 1)


def np_prelu(x, w):
    w = w.reshape((-1,) + (1,) * (x.ndim - 2)) if w.size > 1 else w.reshape(())
    return np.where(x > 0, x, w * x)


CASES = [
    OpCase("relu", lambda x: np.maximum(x, 0), SHAPES, inputs=away_from(0.0)),
    OpCase("relu6", lambda x: np.clip(x, 0, 6), SHAPES, inputs=away_from(0, 6, low=-2, high=8)),
    OpCase("leaky_relu", lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
           SHAPES, kwargs={"negative_slope": 0.2}, inputs=away_from(0.0)),
    OpCase("leaky_relu", lambda x: np.where(x > 0, x, 0.01 * x), [(3, 4)],
           inputs=away_from(0.0), id="leaky_relu_default"),
    OpCase("elu", np_elu, SHAPES, inputs=away_from(0.0)),
    OpCase("elu", np_elu, [(3, 4)], kwargs={"alpha": 1.7}, inputs=away_from(0.0), id="elu_alpha"),
    OpCase("selu", lambda x: SELU_SCALE * np_elu(x, SELU_ALPHA), SHAPES, inputs=away_from(0.0)),
    OpCase("celu", lambda x, alpha: np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(x / alpha)),
           SHAPES, kwargs={"alpha": 0.6}, inputs=away_from(0.0)),
    OpCase("gelu", np_gelu, SHAPES),
    OpCase("gelu", np_gelu, SHAPES, kwargs={"approximate": "tanh"}, id="gelu_tanh"),
    OpCase("silu", lambda x: x * np_sigmoid(x), SHAPES),
    OpCase("mish", lambda x: x * np.tanh(np.log1p(np.exp(x))), SHAPES),
    OpCase("softplus", np_softplus, SHAPES),
    OpCase("softplus", np_softplus, [(4, 5)], kwargs={"beta": 2.0, "threshold": 3.0},
           inputs=away_from(1.5), id="softplus_threshold"),
    OpCase("softsign", lambda x: x / (1 + np.abs(x)), SHAPES, inputs=away_from(0.0)),
    OpCase("hardtanh", lambda x, min_val, max_val: np.clip(x, min_val, max_val), SHAPES,
           kwargs={"min_val": -0.5, "max_val": 1.0}, inputs=away_from(-0.5, 1.0)),
    OpCase("hardtanh", lambda x: np.clip(x, -1, 1), [(3, 4)], inputs=away_from(-1, 1),
           id="hardtanh_default"),
    OpCase("hardsigmoid", np_hardsigmoid, SHAPES, inputs=away_from(-3, 3, low=-5, high=5)),
    OpCase("hardswish", lambda x: x * np_hardsigmoid(x), SHAPES,
           inputs=away_from(-3, 3, low=-5, high=5)),
    OpCase("logsigmoid", lambda x: -np_softplus(-x), SHAPES, low=-5, high=5),
    OpCase("tanhshrink", lambda x: x - np.tanh(x), SHAPES),
    OpCase("threshold", lambda x, threshold, value: np.where(x > threshold, x, value), SHAPES,
           kwargs={"threshold": 0.2, "value": -1.5}, inputs=away_from(0.2)),
    OpCase("hardshrink", lambda x, lambd=0.5: np.where(np.abs(x) > lambd, x, 0), SHAPES,
           inputs=away_from(-0.5, 0.5)),
    OpCase("softshrink", lambda x, lambd: x - np.clip(x, -lambd, lambd), SHAPES,
           kwargs={"lambd": 0.7}, inputs=away_from(-0.7, 0.7)),
    OpCase("prelu", np_prelu, [((2, 3, 4), (3,)), ((2, 3), (1,)), ((4,), (1,))], arity=2,
           inputs=lambda rng, shapes, dtype: [away_from(0.0)(rng, shapes[:1], dtype)[0],
                                              rng.uniform(0.1, 0.5, shapes[1]).astype(dtype)]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


def test_relu_is_a_method_and_keeps_integer_dtype():
    i = ember.tensor([-2, 3])
    assert i.relu().dtype == ember.int64
    np.testing.assert_array_equal(ember.relu(i).numpy(), [0, 3])
    x = ember.tensor([-1.0, np.nan, 2.0])
    np.testing.assert_array_equal(x.relu().numpy(), [0.0, np.nan, 2.0])  # NaN propagates


def test_float_activations_of_integers_use_default_float():
    i = ember.tensor([-1, 0, 2])
    for name in ("gelu", "silu", "elu", "softplus", "logsigmoid", "mish", "leaky_relu"):
        out = getattr(ember, name)(i)
        assert out.dtype == ember.float32, name


def test_extreme_inputs_stay_finite():
    x = ember.tensor([-1000.0, -30.0, 0.0, 30.0, 1000.0], dtype=ember.float64)
    with np.errstate(over="raise", invalid="raise"):
        np.testing.assert_allclose(ember.softplus(x).numpy(),
                                   [0.0, np.log1p(np.exp(-30.0)), np.log(2), 30.0, 1000.0],
                                   rtol=1e-12)
        np.testing.assert_allclose(ember.logsigmoid(x).numpy(),
                                   [-1000.0, -30.0 - np.log1p(np.exp(-30.0)), -np.log(2),
                                    -np.log1p(np.exp(-30.0)), 0.0], rtol=1e-12)
        assert np.isfinite(ember.elu(x).numpy()).all()
        assert np.isfinite(ember.silu(x).numpy()).all()
        assert np.isfinite(ember.gelu(x).numpy()).all()
        assert np.isfinite(ember.mish(x).numpy()).all()


def test_gelu_approximations_agree_and_bad_mode_errors():
    x = ember.linspace(-4, 4, 33)
    np.testing.assert_allclose(ember.gelu(x).numpy(), ember.gelu(x, approximate="tanh").numpy(),
                               atol=1e-3)
    with pytest.raises(ValueError, match="gelu"):
        ember.gelu(x, approximate="erf")


def test_gelu_keeps_relative_precision_in_the_left_tail():
    x = np.array([-3.5, -6.0, -10.0])
    exact = x * 0.5 * np.array([math.erfc(-v / math.sqrt(2)) for v in x])
    got = ember.gelu(ember.tensor(x, dtype=ember.float32)).numpy()
    np.testing.assert_allclose(got, exact, rtol=1e-5)  # float32 rounding of x, times x^2


def test_inplace_writes_memory_and_keeps_the_gradient():
    a = ember.tensor([-1.0, 0.5, 2.0], dtype=ember.float64, requires_grad=True)
    h = a * 2
    out = ember.relu(h, inplace=True)
    assert out is h
    np.testing.assert_array_equal(h.detach().numpy(), [0.0, 1.0, 4.0])
    (h * h).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.0, 4.0, 16.0])  # d(relu(2a)^2)/da

    b = ember.tensor([-1.0, 0.5, 2.0], dtype=ember.float64, requires_grad=True)
    g = b * 1
    ember.elu(g, alpha=1.0, inplace=True).sum().backward()  # elu saves its input: still exact
    np.testing.assert_allclose(b.grad.numpy(), [np.exp(-1.0), 1.0, 1.0])


def test_inplace_on_a_view_updates_the_base_gradient():
    a = ember.tensor([-1.0, -2.0, 3.0], dtype=ember.float64, requires_grad=True)
    h = a * 1
    ember.leaky_relu(h[1:], 0.5, inplace=True)
    np.testing.assert_array_equal(h.detach().numpy(), [-1.0, -1.0, 3.0])
    h.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 0.5, 1.0])


def test_inplace_errors_and_plain_tensors():
    leaf = ember.tensor([1.0, -1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        ember.relu(leaf, inplace=True)
    plain = ember.tensor([1.0, -1.0, 7.0])
    assert plain.relu_() is plain
    np.testing.assert_array_equal(plain.numpy(), [1.0, 0.0, 7.0])
    ember.relu6(plain, inplace=True)
    np.testing.assert_array_equal(plain.numpy(), [1.0, 0.0, 6.0])
    ember.hardswish(plain, inplace=True)
    np.testing.assert_allclose(plain.numpy(), [1.0 * 4 / 6, 0.0, 6.0])


def test_bad_arguments_name_the_op():
    x = ember.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="hardtanh"):
        ember.hardtanh(x, 1.0, -1.0)
    with pytest.raises(ValueError, match="celu"):
        ember.celu(x, alpha=0.0)
    with pytest.raises(RuntimeError, match="prelu"):
        ember.prelu(ember.ones(2, 3), ember.ones(4))


def test_relu_gradient_passes_where_the_output_is_nan_as_pytorch():
    x = ember.tensor([np.nan, -1.0, 2.0, -0.0, 0.0], requires_grad=True)
    ember.relu(x).backward(ember.full((5,), 5.0))
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 0.0, 5.0, 0.0, 0.0])
    ember.autograd.gradgradcheck(ember.relu, (ember.tensor([-1.5, 0.5, 2.0], dtype=ember.float64,
                                                           requires_grad=True),))


@pytest.mark.parametrize("dtype", [ember.float16, ember.float32, ember.float64])
def test_relu_gradient_masks_infinite_and_nan_gradients_like_where(dtype):
    x = ember.tensor([-1.0, 2.0, -3.0, 4.0, -5.0, 6.0], dtype=dtype, requires_grad=True)
    ember.relu(x).backward(ember.tensor([np.inf, np.inf, np.nan, 1.0, -2.0, -3.0], dtype=dtype))
    grad = x.grad.numpy()
    np.testing.assert_array_equal(grad, [0.0, np.inf, 0.0, 1.0, 0.0, -3.0])
    assert not np.signbit(grad[[0, 2, 4]]).any()  # +0 where masked, as where(...) gives


def test_relu_gradient_in_place_leaves_every_gradient_others_can_see_alone():
    # The engine lets ReLU's backward mask an unshared incoming gradient in its own memory;
    # gradients that a tensor, a hook, another node or the caller can still see stay intact.
    rng = np.random.default_rng(3)
    x1_np, x2_np, g_np = (rng.standard_normal((4, 5)) for _ in range(3))
    x1 = ember.tensor(x1_np, requires_grad=True)
    x2 = ember.tensor(x2_np, requires_grad=True)
    g = ember.tensor(g_np.copy())

    y = x1.relu()
    y.retain_grad()
    kept = []
    y.register_hook(lambda grad: kept.append(grad))
    (y * 3.0).backward(g)
    np.testing.assert_array_equal(y.grad.numpy(), 3.0 * g_np)
    np.testing.assert_array_equal(kept[0].numpy(), 3.0 * g_np)
    np.testing.assert_array_equal(x1.grad.numpy(), np.where(x1_np > 0, 3.0 * g_np, 0.0))

    x1.grad = None
    (x1.relu() + x2.relu()).backward(g)  # one gradient array reaches both ReLU nodes
    np.testing.assert_array_equal(x1.grad.numpy(), np.where(x1_np > 0, g_np, 0.0))
    np.testing.assert_array_equal(x2.grad.numpy(), np.where(x2_np > 0, g_np, 0.0))

    x1.grad = None
    x1.relu().backward(g)  # the caller's gradient itself
    np.testing.assert_array_equal(g.numpy(), g_np)
    np.testing.assert_array_equal(x1.grad.numpy(), np.where(x1_np > 0, g_np, 0.0))
