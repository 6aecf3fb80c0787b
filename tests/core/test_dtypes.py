"""Dtypes, PyTorch's type promotion, conversions between dtypes and devices."""

import itertools
import pickle

import numpy as np
import pytest

import ember

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
SHORT = ["b", "u8", "i8", "i16", "i32", "i64", "f16", "f32", "f64"]

# PyTorch's promotion table for two tensors of the same kind (dimensioned, or both 0-d), written
# out as documented, independently of numpy (which differs: int64 + float16 is float64 there).
PROMOTION_TABLE = """
      b   u8  i8  i16 i32 i64 f16 f32 f64
b     b   u8  i8  i16 i32 i64 f16 f32 f64
u8    u8  u8  i16 i16 i32 i64 f16 f32 f64
i8    i8  i16 i8  i16 i32 i64 f16 f32 f64
i16   i16 i16 i16 i16 i32 i64 f16 f32 f64
i32   i32 i32 i32 i32 i32 i64 f16 f32 f64
i64   i64 i64 i64 i64 i64 i64 f16 f32 f64
f16   f16 f16 f16 f16 f16 f16 f16 f32 f64
f32   f32 f32 f32 f32 f32 f32 f32 f32 f64
f64   f64 f64 f64 f64 f64 f64 f64 f64 f64
"""


def _dtype(short):
    return getattr(ember, NAMES[SHORT.index(short)])


def _table():
    rows = [line.split() for line in PROMOTION_TABLE.strip().splitlines()[1:]]
    return {(row[0], col): row[1 + j] for row in rows for j, col in enumerate(SHORT)}


def _tensor(short, ndim=1):
    return ember.zeros((2,) * ndim, dtype=_dtype(short))


@pytest.mark.parametrize("a, b", list(itertools.product(SHORT, SHORT)))
def test_promote_types_table(a, b):
    expected = _dtype(_table()[(a, b)])
    assert ember.promote_types(_dtype(a), _dtype(b)) is expected
    assert ember.result_type(_tensor(a), _tensor(b)) is expected
    assert ember.result_type(_tensor(a, 0), _tensor(b, 0)) is expected


@pytest.mark.parametrize(
    "operands, expected",
    [
        # Python scalars never widen within a category; they only lift it.
        ((("i32", 1), 2), "i32"),
        ((("u8", 1), 1000), "u8"),
        ((("i32", 1), 2.5), "f32"),
        ((("f16", 1), 2.5), "f16"),
        ((("b", 1), 1), "i64"),
        ((("b", 1), True), "b"),
        ((("b", 1), 1.5), "f32"),
        # Zero-dim tensors behave the same way against dimensioned ones ...
        ((("i32", 1), ("i64", 0)), "i32"),
        ((("f32", 1), ("f64", 0)), "f32"),
        ((("f16", 1), ("f64", 0)), "f16"),
        ((("i32", 1), ("f64", 0)), "f64"),  # ... but a lifted category keeps the 0-d dtype
        ((("b", 1), ("i8", 0)), "i8"),
        ((("u8", 1), ("i8", 0)), "u8"),
        # ... and outrank Python scalars.
        ((("i16", 0), 2.5), "f32"),
        ((("i16", 0), 7), "i16"),
        ((("f64", 0), 2.5), "f64"),
        ((("i32", 1), ("i64", 0), 2.5), "f32"),
        # Scalars alone.
        ((2, 3), "i64"),
        ((2, 3.0), "f32"),
        ((True, False), "b"),
    ],
)
def test_result_type_categories(operands, expected):
    values = [_tensor(*o) if isinstance(o, tuple) else o for o in operands]
    assert ember.result_type(*values) is _dtype(expected)


def test_python_float_scalars_follow_the_default_dtype():
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.result_type(_tensor("i32"), 2.5) is ember.float64
        assert ember.result_type(_tensor("f32"), 2.5) is ember.float32
    finally:
        ember.set_default_dtype(ember.float32)


def test_operators_use_the_promotion_rules():
    i32 = ember.tensor([1, 2], dtype=ember.int32)
    assert (i32 + 1).dtype == ember.int32
    assert (i32 * 0.5).dtype == ember.float32
    assert (i32 + ember.tensor(1)).dtype == ember.int32  # 0-d int64 does not widen
    assert (i32 + ember.tensor([1])).dtype == ember.int64
    assert (ember.tensor([1.0]) + ember.tensor(1.0, dtype=ember.float64)).dtype == ember.float32
    assert (ember.tensor([True]) + ember.tensor([True])).dtype == ember.bool
    assert (ember.tensor([1], dtype=ember.uint8) + ember.tensor([1], dtype=ember.int8)).dtype \
        == ember.int16
    assert (i32 / 2).dtype == ember.float32  # true division of integers


def test_dtype_objects():
    assert repr(ember.float32) == "ember.float32"
    assert ember.float is ember.float32 and ember.double is ember.float64
    assert ember.long is ember.int64 and ember.int is ember.int32 and ember.half is ember.float16
    assert ember.float32.is_floating_point and not ember.int64.is_floating_point
    assert ember.int8.is_signed and not ember.uint8.is_signed and not ember.bool.is_signed
    assert ember.float64.itemsize == 8 and ember.bool.itemsize == 1
    assert not ember.float32.is_complex
    assert pickle.loads(pickle.dumps(ember.int16)) is ember.int16
    for name in NAMES:
        assert ember.tensor([1], dtype=name).dtype is getattr(ember, name)  # names work too
    assert ember.zeros(1, dtype=float).dtype is ember.float64  # Python types as PyTorch reads
    assert ember.zeros(1, dtype=int).dtype is ember.int64
    assert ember.zeros(1, dtype=np.int16).dtype is ember.int16
    with pytest.raises(TypeError, match="dtype"):
        ember.zeros(1, dtype="complex64")


def test_finfo_iinfo():
    from ember.tensor.dtypes import finfo, iinfo

    assert finfo(ember.float32).eps == float(np.finfo(np.float32).eps)
    assert finfo(ember.float16).max == 65504.0
    assert finfo().bits == 32
    assert finfo(ember.float64).tiny == float(np.finfo(np.float64).tiny)
    assert iinfo(ember.int8).min == -128 and iinfo(ember.uint8).max == 255
    with pytest.raises(TypeError):
        finfo(ember.int32)
    with pytest.raises(TypeError):
        iinfo(ember.float32)


# ---- conversions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, dtype",
    [("float", "float32"), ("double", "float64"), ("half", "float16"), ("long", "int64"),
     ("int", "int32"), ("short", "int16"), ("char", "int8"), ("byte", "uint8"),
     ("bool", "bool")],
)
def test_cast_methods(method, dtype, device):
    # Negative floats to uint8 are undefined behaviour (numpy and cupy differ, as C does).
    x = ember.tensor([0.0, 1.5, 2.7 if dtype == "uint8" else -2.7], device=device)
    y = getattr(x, method)()
    assert y.dtype is getattr(ember, dtype) and y.device == device
    np.testing.assert_array_equal(y.cpu().numpy(), x.cpu().numpy().astype(y.dtype.numpy))
    assert getattr(y, method)() is y  # no copy when nothing changes


def test_to_forms(device):
    x = ember.ones(2, 3)
    assert x.to(ember.float32) is x
    assert x.to(ember.float64).dtype == ember.float64
    assert x.to("float64").dtype == ember.float64
    assert x.to(dtype=ember.int32).dtype == ember.int32
    moved = x.to(device)
    assert moved.device == device and (moved is x) == (device.type == "cpu")
    both = x.to(device, ember.float64)
    assert both.device == device and both.dtype == ember.float64
    like = x.to(ember.zeros(1, dtype=ember.int64, device=device))
    assert like.dtype == ember.int64 and like.device == device
    copied = x.to(copy=True)
    assert copied is not x and copied.data_ptr() != x.data_ptr()
    assert x.to("cpu").cpu() is x
    assert x.type() == "ember.FloatTensor" and x.long().type() == "ember.LongTensor"
    assert x.type(ember.float64).dtype == ember.float64
    assert x.type_as(ember.zeros(1, dtype=ember.int16)).dtype == ember.int16


def test_gradients_flow_back_through_conversions(device):
    x = ember.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x.double().to(device) * ember.tensor([3.0, 4.0], dtype=ember.float64, device=device)
    y.sum().backward()
    assert x.grad.dtype == ember.float32 and x.grad.device == device
    assert x.grad.tolist() == [3.0, 4.0]
    z = ember.rand(3, dtype=ember.float64, device=device, requires_grad=True)
    ember.autograd.gradcheck(lambda t: t.to("cpu").double() * t.cpu(), (z,))
    ember.autograd.gradgradcheck(lambda t: t.to("cpu").double() * t.cpu(), (z,))


def test_integer_tensors_and_gradients():
    ints = ember.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="floating point"):
        ints.requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        ints.requires_grad = True
    with pytest.raises(RuntimeError, match="floating point"):
        ember.zeros(2, dtype=ember.int64, requires_grad=True)
    x = ember.tensor([1.5, 2.5], requires_grad=True)
    rounded = x.long()  # integer results carry no gradient, as in PyTorch
    assert rounded.dtype == ember.int64
    assert not rounded.requires_grad and rounded.grad_fn is None
    back = rounded.float() * x  # the integer path contributes nothing to the gradient
    back.sum().backward()
    assert x.grad.tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        (rounded.float() * 2).sum().backward()
    f = ints.float().requires_grad_()
    (f * f).sum().backward()
    assert f.grad.tolist() == [2.0, 4.0, 6.0]
