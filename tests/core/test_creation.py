"""Creating tensors: from data, constants, ranges, and sharing memory with numpy / DLPack."""

import math

import numpy as np
import pytest

import ember


def to_numpy(tensor):
    return tensor.detach().cpu().numpy()


# ---- tensor() and its dtype inference --------------------------------------------------------


@pytest.mark.parametrize(
    "data, dtype, shape",
    [
        ([1.0, 2.0], "float32", (2,)),
        ([1, 2], "int64", (2,)),
        ([True, False], "bool", (2,)),
        ([1, 2.5], "float32", (2,)),  # mixed ints and floats: float
        ([[1, 2], [3, 4]], "int64", (2, 2)),
        (3.0, "float32", ()),
        (7, "int64", ()),
        (False, "bool", ()),
        ([], "float32", (0,)),
        (np.array([1, 2], dtype=np.int32), "int32", (2,)),  # numpy keeps its dtype
        (np.array([1.0]), "float64", (1,)),
        (np.float64(2.0), "float64", ()),
        (np.arange(6, dtype=np.uint8).reshape(2, 3), "uint8", (2, 3)),
    ],
)
def test_tensor_infers_pytorch_dtypes(data, dtype, shape):
    t = ember.tensor(data)
    assert t.dtype == getattr(ember, dtype if dtype != "bool" else "bool")
    assert t.shape == shape
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


def test_tensor_copies_and_converts(device):
    source = np.array([1.0, 2.0])
    t = ember.tensor(source, device=device)
    source[0] = 9.0
    assert to_numpy(t)[0] == 1.0  # a copy, never a view
    assert t.device == device
    copy = ember.tensor(t)
    assert copy.data is not t.data and copy.device == device
    assert ember.tensor([0.1], dtype=ember.float64).item() == 0.1  # exact: not via float32
    assert ember.tensor([1.7, -1.7], dtype=ember.int64).tolist() == [1, -1]
    assert ember.tensor([1, 0], dtype=ember.bool).tolist() == [True, False]
    x = ember.tensor([1.0], requires_grad=True)
    assert x.requires_grad and x.is_leaf
    assert not ember.tensor(x).requires_grad


def test_tensor_rejects_what_it_cannot_hold():
    with pytest.raises(TypeError):
        ember.tensor(["a", "b"])
    with pytest.raises(TypeError, match="unsupported dtype"):
        ember.tensor(np.array([1 + 2j]))
    with pytest.raises(ValueError):
        ember.tensor([[1, 2], [3]])  # ragged
    with pytest.raises(RuntimeError, match="floating point"):
        ember.tensor([1, 2], requires_grad=True)


def test_default_dtype_governs_python_floats():
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.get_default_dtype() == ember.float64
        assert ember.tensor([1.5]).dtype == ember.float64
        assert ember.zeros(2).dtype == ember.float64
        assert ember.arange(0.0, 1.0, 0.5).dtype == ember.float64
        assert ember.tensor([1]).dtype == ember.int64
    finally:
        ember.set_default_dtype(ember.float32)
    with pytest.raises(TypeError):
        ember.set_default_dtype(ember.int32)


# ---- sharing memory --------------------------------------------------------------------------


def test_from_numpy_shares_memory_both_ways():
    array = np.zeros(3, dtype=np.float32)
    t = ember.from_numpy(array)
    array[1] = 5.0
    assert t.tolist() == [0.0, 5.0, 0.0]
    t.numpy()[2] = 7.0
    assert array[2] == 7.0
    assert t.data_ptr() == array.ctypes.data
    with pytest.raises(TypeError, match="np.ndarray"):
        ember.from_numpy([1, 2])
    with pytest.raises(TypeError, match="unsupported dtype"):
        ember.from_numpy(np.zeros(2, dtype=np.complex64))


def test_as_tensor_shares_when_it_can():
    array = np.arange(4.0)
    shared = ember.as_tensor(array)
    assert shared.data_ptr() == array.ctypes.data
    converted = ember.as_tensor(array, dtype=ember.float32)
    assert converted.dtype == ember.float32 and converted.data_ptr() != array.ctypes.data
    t = ember.ones(2)
    assert ember.as_tensor(t) is t
    assert ember.as_tensor(t, dtype=ember.float64).dtype == ember.float64
    assert ember.as_tensor([1, 2]).dtype == ember.int64
    assert ember.as_tensor([0.1], dtype=ember.float64).item() == 0.1


def test_numpy_and_array_protocol():
    t = ember.tensor([[1.0, 2.0]])
    assert t.numpy() is t._array
    assert np.asarray(t).ctypes.data == t.data_ptr()
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    w = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        w.numpy()
    with pytest.raises(RuntimeError, match="detach"):
        np.asarray(w)
    assert w.detach().numpy().tolist() == [1.0, 1.0]


def test_dlpack_round_trip_shares_memory(device):
    t = ember.arange(6.0, device=device).reshape(2, 3)
    device_type, index = t.__dlpack_device__()
    assert device_type == (1 if device.type == "cpu" else 2)
    back = ember.from_dlpack(t)
    assert back.data_ptr() == t.data_ptr() and back.shape == (2, 3)
    if device.type == "cpu":
        array = np.from_dlpack(t)
        array[0, 0] = 42.0
        assert t.data[0, 0] == 42.0
        source = np.arange(3, dtype=np.int32)
        shared = ember.from_dlpack(source)
        source[1] = -1
        assert shared.dtype == ember.int32 and shared.tolist() == [0, -1, 2]
    with pytest.raises(RuntimeError, match="require gradient"):
        ember.ones(2, device=device, requires_grad=True).__dlpack__()
    with pytest.raises(TypeError, match="dlpack"):
        ember.from_dlpack([1, 2])


# ---- constants -------------------------------------------------------------------------------


@pytest.mark.parametrize("name, ref", [("zeros", np.zeros), ("ones", np.ones)])
def test_zeros_ones(name, ref, device):
    fn = getattr(ember, name)
    for size_args in [(2, 3), ((2, 3),), ([2, 3],), (0,), ()]:
        t = fn(*size_args, device=device)
        shape = size_args[0] if size_args and isinstance(size_args[0], (tuple, list)) else size_args
        np.testing.assert_array_equal(to_numpy(t), ref(tuple(shape), dtype=np.float32))
        assert t.dtype == ember.float32 and t.device == device
    assert fn(2, dtype=ember.int32).dtype == ember.int32
    assert fn(2, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="negative dimension"):
        fn(2, -1)
    with pytest.raises(TypeError, match="tuple of ints"):
        fn(2.5)


def test_empty_and_full(device):
    assert ember.empty(2, 3, device=device).shape == (2, 3)
    assert ember.empty(2, dtype=ember.int64).dtype == ember.int64
    np.testing.assert_array_equal(to_numpy(ember.full((2, 2), 1.5, device=device)),
                                  np.full((2, 2), 1.5, np.float32))
    assert ember.full((2,), 1.5).dtype == ember.float32
    assert ember.full((2,), 3).dtype == ember.int64  # PyTorch infers from the fill value
    assert ember.full((2,), True).dtype == ember.bool
    assert ember.full((2,), 3, dtype=ember.float64).dtype == ember.float64
    assert ember.full((), 2.0).shape == ()
    assert ember.full((2,), ember.tensor(4.0)).tolist() == [4.0, 4.0]


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like", "full_like"])
def test_like_functions(name, device):
    fn = getattr(ember, name)
    args = (7,) if name == "full_like" else ()
    source = ember.ones(2, 3, dtype=ember.int32, device=device)
    t = fn(source, *args)
    assert t.shape == (2, 3) and t.dtype == ember.int32 and t.device == device
    f = fn(source, *args, dtype=ember.float64, requires_grad=True)
    assert f.dtype == ember.float64 and f.requires_grad and f.is_leaf
    if name != "empty_like":
        expected = {"zeros_like": 0, "ones_like": 1, "full_like": 7}[name]
        assert (to_numpy(t) == expected).all()


def test_new_methods_inherit_dtype_and_device(device):
    base = ember.zeros(1, dtype=ember.float64, device=device)
    for t in (base.new_zeros(2, 3), base.new_ones((2, 3)), base.new_empty(2, 3),
              base.new_full((2, 3), 4.0)):
        assert t.shape == (2, 3) and t.dtype == ember.float64 and t.device == device
    made = base.new_tensor([1, 2])
    assert made.dtype == ember.float64 and made.tolist() == [1.0, 2.0]
    assert base.new_zeros(2, dtype=ember.int32).dtype == ember.int32


# ---- ranges ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [(5,), (2, 7), (0, 10, 3), (5, 0, -2), (0, 1, 0.1), (1.0, 2.5, 0.5), (-1, 1, 0.3),
     (0, 0), (3, 3, 1), (0.5, 3), (10, 0, -1.5)],
)
def test_arange_matches_pytorch_lengths(args, device):
    start, end, step = (0, args[0], 1) if len(args) == 1 else (*args, 1)[:3]
    t = ember.arange(*args, device=device)
    length = max(0, math.ceil((end - start) / step))  # PyTorch's rule
    assert t.shape == (length,)
    floating = any(isinstance(a, float) for a in args)
    assert t.dtype == (ember.float32 if floating else ember.int64)
    np.testing.assert_allclose(to_numpy(t), start + np.arange(length) * step, rtol=1e-6,
                               atol=1e-6)


def test_arange_details():
    assert ember.arange(0, 1, 0.1).shape == (10,)  # float steps do not grow a tail element
    assert ember.arange(1, 2.0000001, 0.5).shape == (3,)
    big = ember.arange(2**60, 2**60 + 3)
    assert big.tolist() == [2**60, 2**60 + 1, 2**60 + 2]  # exact in int64
    assert ember.arange(4, dtype=ember.float64).dtype == ember.float64
    assert ember.arange(0, 1, 0.25, dtype=ember.int64).tolist() == [0, 0, 0, 0]
    assert ember.arange(ember.tensor(3)).tolist() == [0, 1, 2]
    assert ember.arange(3, requires_grad=False).requires_grad is False
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        ember.arange(0, 5, 0)
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        ember.arange(0, 5, -1)
    with pytest.raises(RuntimeError, match="unsupported range"):
        ember.arange(0, float("inf"))


def test_linspace(device):
    t = ember.linspace(-1, 1, 5, device=device)
    np.testing.assert_allclose(to_numpy(t), np.linspace(-1, 1, 5), rtol=1e-6)
    assert t.dtype == ember.float32 and t.device == device
    assert ember.linspace(0, 1, 1).tolist() == [0.0]
    assert ember.linspace(0, 1, 0).shape == (0,)
    assert ember.linspace(0, 10, 5, dtype=ember.int64).tolist() == [0, 2, 5, 7, 10]
    assert ember.linspace(0, 1, 3, dtype=ember.float64).dtype == ember.float64
    with pytest.raises(RuntimeError, match="non-negative"):
        ember.linspace(0, 1, -1)


def test_eye(device):
    np.testing.assert_array_equal(to_numpy(ember.eye(3, device=device)), np.eye(3))
    np.testing.assert_array_equal(to_numpy(ember.eye(2, 4)), np.eye(2, 4))
    assert ember.eye(2, dtype=ember.int64).dtype == ember.int64
    assert ember.eye(0).shape == (0, 0)
    with pytest.raises(RuntimeError, match="greater or equal to 0"):
        ember.eye(-1)


def test_factories_take_size_as_a_keyword():
    # PyTorch's factories accept the size positionally or as size= (the GAT example calls
    # torch.empty(size=(in_features, out_features))), but not both.
    assert ember.empty(size=(2, 3)).shape == (2, 3)
    assert ember.zeros(size=[4]).tolist() == [0.0] * 4
    assert ember.ones(size=(1, 2), dtype=ember.int64).tolist() == [[1, 1]]
    assert ember.rand(size=(3,)).shape == (3,) and ember.randn(size=(2, 2)).shape == (2, 2)
    with pytest.raises(TypeError, match=r"zeros\(\) got multiple values for argument 'size'"):
        ember.zeros(2, size=(2,))
