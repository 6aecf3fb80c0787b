"""Legacy typed constructors (``ember.FloatTensor`` ...) and ``Tensor.type``, as PyTorch's.

Reference values are PyTorch 2.13's answers for the same calls.
"""

import numpy as np
import pytest

import ember

TYPES = [
    ("FloatTensor", ember.float32), ("DoubleTensor", ember.float64), ("HalfTensor", ember.float16),
    ("LongTensor", ember.int64), ("IntTensor", ember.int32), ("ShortTensor", ember.int16),
    ("CharTensor", ember.int8), ("ByteTensor", ember.uint8), ("BoolTensor", ember.bool),
]


@pytest.mark.parametrize("name, dtype", TYPES, ids=[name for name, _ in TYPES])
def test_constructors_and_isinstance(name, dtype):
    legacy = getattr(ember, name)
    assert legacy(2, 3).shape == (2, 3) and legacy(2, 3).dtype == dtype
    assert legacy((4,)).shape == (4,)  # legacy(t.size()): Ember's sizes are tuples
    assert legacy().shape == (0,) and legacy().dtype == dtype
    made = legacy([1, 0])
    assert made.dtype == dtype and made.tolist() == [1, 0] and made.is_cpu
    assert isinstance(made, legacy) and isinstance(made, ember.Tensor)
    assert made.type() == f"ember.{name}"
    others = [other for other, _ in TYPES if other != name]
    assert not any(isinstance(made, getattr(ember, other)) for other in others)
    assert not isinstance(np.zeros(2), legacy)
    assert repr(legacy) == f"<class 'ember.{name}'>"


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix's own warning
def test_data_is_converted_to_the_type():
    assert ember.LongTensor([1.7, 2.0]).tolist() == [1, 2]  # truncated, as PyTorch
    assert ember.FloatTensor(np.array([1, 2])).tolist() == [1.0, 2.0]
    assert ember.ByteTensor([[1, 2], [3, 4]]).shape == (2, 2)
    assert ember.LongTensor(range(3)).tolist() == [0, 1, 2]
    # numpy subclasses (a scipy.sparse .todense() is an np.matrix) become plain arrays
    matrix = ember.FloatTensor(np.matrix([[1, 2], [3, 4]]))
    assert matrix.is_cpu and matrix.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert ember.tensor(np.matrix([[1.5]])).dtype == ember.float64
    x = ember.FloatTensor([1.0])
    assert ember.FloatTensor(x) is x  # a tensor of the same type is aliased


def test_constructor_errors_name_the_problem():
    with pytest.raises(TypeError, match="FloatTensor: expected a ember.FloatTensor to alias "
                                        r"\(got ember.LongTensor\)"):
        ember.FloatTensor(ember.tensor([1]))
    with pytest.raises(TypeError, match=r"LongTensor: expected sizes \(ints\) or one sequence"):
        ember.LongTensor(2, 1.5)


def test_type_with_no_argument_names_dtype_and_device(device):
    x = ember.zeros(2, device=device)
    prefix = "ember.cuda." if device.type == "cuda" else "ember."
    assert x.type() == prefix + "FloatTensor"
    assert x.long().type() == prefix + "LongTensor" and x.bool().type() == prefix + "BoolTensor"


@pytest.mark.parametrize("target", ["torch.DoubleTensor", "ember.DoubleTensor", ember.DoubleTensor,
                                    ember.float64, "float64"])
def test_type_converts(target):
    x = ember.tensor([1.5, 2.5], requires_grad=True)
    y = x.type(target)
    assert y.dtype == ember.float64 and y.tolist() == [1.5, 2.5]
    y.sum().backward()  # differentiable, as to()
    assert x.grad.dtype == ember.float32 and x.grad.tolist() == [1.0, 1.0]


def test_type_to_an_integer_type_and_back():
    x = ember.tensor([1.7, -2.2])
    assert x.type("torch.LongTensor").tolist() == [1, -2]
    assert x.type(ember.ByteTensor).dtype == ember.uint8
    assert isinstance(x.type("torch.IntTensor"), ember.IntTensor)
    same = x.type(ember.FloatTensor)
    assert same is x  # no conversion needed, as to()


def test_cuda_types_exist_and_are_distinct():
    assert repr(ember.cuda.FloatTensor) == "<class 'ember.cuda.FloatTensor'>"
    assert not isinstance(ember.zeros(2), ember.cuda.FloatTensor)
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            ember.cuda.FloatTensor(2)
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            ember.zeros(2).type("torch.cuda.FloatTensor")


@pytest.mark.cuda
def test_cuda_types_on_the_gpu():
    x = ember.cuda.LongTensor([1, 2])
    assert x.is_cuda and isinstance(x, ember.cuda.LongTensor)
    assert not isinstance(x, ember.LongTensor)
    assert x.type("torch.FloatTensor").is_cpu
    assert ember.zeros(2).type("torch.cuda.DoubleTensor").type() == "ember.cuda.DoubleTensor"


def test_new_constructors_keep_dtype_and_device(device):
    base = ember.zeros(2, dtype=ember.float64, device=device)
    for made in (base.new_zeros(3), base.new_ones((3,)), base.new_empty(3), base.new_full((3,), 7),
                 base.new_tensor([1, 2, 3])):
        assert made.shape == (3,) and made.dtype == ember.float64 and made.device == device
    assert base.new_full((2,), 7).tolist() == [7.0, 7.0]
    assert base.new_tensor([1, 2], dtype=ember.int64).dtype == ember.int64


@pytest.mark.parametrize("target", [ember.DoubleTensor, "torch.DoubleTensor", ember.float64])
def test_module_type_accepts_legacy_types(target):
    model = ember.nn.Linear(2, 3).type(target)
    assert all(p.dtype == ember.float64 and p.is_cpu for p in model.parameters())


def test_tensor_class_as_pytorchs_legacy_constructor():
    # torch.Tensor(2, 3): uninitialised, default dtype; torch.Tensor(data): a float copy.
    assert ember.Tensor(2, 3).shape == (2, 3) and ember.Tensor(2, 3).dtype == ember.float32
    assert ember.Tensor(2, 3, 4, 5).shape == (2, 3, 4, 5)
    assert ember.Tensor().shape == (0,) and ember.Tensor(4).shape == (4,)
    assert ember.Tensor(ember.zeros(2, 3).size()).shape == (2, 3)
    data = ember.Tensor([1, 2])
    assert data.dtype == ember.float32 and data.tolist() == [1.0, 2.0]
    assert not data.requires_grad and data.is_leaf
    shared = ember.ones(2)
    ember.Tensor(shared)[0] = 5.0  # a float32 tensor is aliased, as PyTorch's
    assert shared.tolist() == [5.0, 1.0]
    with pytest.raises(TypeError, match="expected sizes"):
        ember.Tensor(2, 3.5)
    previous = ember.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.Tensor(2).dtype == ember.float64
    finally:
        ember.set_default_dtype(previous)


def test_tensor_class_wraps_arrays_as_they_are(tmp_path):
    array = np.arange(3)
    wrapped = ember.Tensor(array)
    assert wrapped.dtype == ember.int64 and np.shares_memory(wrapped.numpy(), array)
    mapped = np.memmap(tmp_path / "values.bin", dtype=np.int16, mode="w+", shape=(2,))
    assert ember.Tensor(mapped).dtype == ember.int16  # an ndarray subclass is an array too
