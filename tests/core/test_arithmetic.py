import numpy as np
import pytest

import ember
from harness import OpCase, check_op

BROADCAST = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (2, 3)), ((0, 3), (3,))]


def _positive(rng, shapes, dtype):
    return [rng.uniform(0.5, 2.0, size=s).astype(dtype) for s in shapes]


CASES = [
    OpCase("add", np.add, BROADCAST, arity=2),
    OpCase("sub", np.subtract, BROADCAST, arity=2),
    OpCase("mul", np.multiply, BROADCAST, arity=2),
    OpCase("div", np.divide, BROADCAST, arity=2, inputs=_positive),
    OpCase("pow", np.power, BROADCAST[:4], arity=2, inputs=_positive),
    OpCase("neg", np.negative, [(3, 4), (), (0,)]),
    OpCase("remainder", np.remainder, BROADCAST[:3], arity=2, inputs=_positive, gradgrad=False),
    OpCase("tanh", np.tanh, [(3, 4), (), (0, 2)]),
    OpCase("exp", np.exp, [(3, 4), ()]),
    OpCase("log", np.log, [(3, 4), ()], inputs=_positive),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


@pytest.mark.parametrize(
    "scalar_op, ref",
    [
        (lambda x: x + 2.5, lambda a: a + 2.5),
        (lambda x: 2.5 - x, lambda a: 2.5 - a),
        (lambda x: x * -3, lambda a: a * -3),
        (lambda x: x / 4, lambda a: a / 4),
        (lambda x: 3 / x, lambda a: 3 / a),
        (lambda x: x**3, lambda a: a**3),
        (lambda x: x**2, lambda a: a**2),
        (lambda x: 2.0**x, lambda a: 2.0**a),
        (lambda x: x - 1, lambda a: a - 1),
    ],
)
def test_scalar_forms(scalar_op, ref, device):
    a = np.random.default_rng(1).uniform(0.5, 2, (2, 3))
    x = ember.tensor(a, device=device, requires_grad=True)
    np.testing.assert_allclose(scalar_op(x).detach().cpu().numpy(), ref(a), rtol=1e-6)
    ember.autograd.gradcheck(scalar_op, (x,))
    ember.autograd.gradgradcheck(scalar_op, (x,))


def test_type_promotion_follows_pytorch():
    i32 = ember.tensor([1, 2], dtype=ember.int32)
    f16 = ember.tensor([1.0, 2.0], dtype=ember.float16)
    assert (i32 + 1).dtype == ember.int32  # python ints do not widen
    assert (i32 * 0.5).dtype == ember.float32  # a float scalar lifts ints to the default float
    assert (i32 / 2).dtype == ember.float32  # true division of ints
    assert (ember.tensor([1, 2]) / ember.tensor([2, 4])).dtype == ember.float32
    assert (f16 + 1.5).dtype == ember.float16
    assert (i32 + ember.tensor([1, 2], dtype=ember.int64)).dtype == ember.int64
    assert (f16 + ember.tensor([1, 2])).dtype == ember.float16  # float category wins
    assert (ember.tensor([1, 2], dtype=ember.uint8) + ember.tensor([1], dtype=ember.int8)).dtype \
        == ember.int16
    # a 0-d tensor does not widen a dimensioned one of the same category
    assert (f16 * ember.tensor(2.0, dtype=ember.float64)).dtype == ember.float16
    assert (i32 * ember.tensor(2.0, dtype=ember.float64)).dtype == ember.float64
    assert (ember.tensor([True]) + ember.tensor([True])).dtype == ember.bool


def test_mixed_dtype_gradient_flows_back_in_input_dtype():
    a = ember.tensor([1.0, 2.0], dtype=ember.float32, requires_grad=True)
    b = ember.tensor([3.0, 4.0], dtype=ember.float64, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == ember.float32 and b.grad.dtype == ember.float64
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])


def test_numpy_operands_are_accepted():
    x = ember.tensor([1.0, 2.0])
    assert isinstance(np.array([1.0, 1.0]) + x, ember.Tensor)
    np.testing.assert_allclose((x * np.array([2.0, 3.0])).numpy(), [2.0, 6.0])


def test_bad_operands_name_the_op():
    x = ember.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="add"):
        x + ember.tensor([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="mul"):
        x * "a"
