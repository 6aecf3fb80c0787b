"""The Tensor itself: metadata, printing, conversion to Python, copying."""

import copy

import numpy as np
import pytest

import ember

# Each expected string is what PyTorch prints for the same tensor (with "torch" -> "ember").
REPRS = [
    (lambda: ember.tensor([0.5, 1.0]), "tensor([0.5000, 1.0000])"),
    (lambda: ember.tensor([1, 2]), "tensor([1, 2])"),
    (lambda: ember.tensor([1.0, 2.0]), "tensor([1., 2.])"),
    (lambda: ember.tensor(3.0), "tensor(3.)"),
    (lambda: ember.tensor(0.25), "tensor(0.2500)"),
    (lambda: ember.tensor(-7), "tensor(-7)"),
    (lambda: ember.tensor([True, False]), "tensor([ True, False])"),
    (lambda: ember.tensor([-1.5, 10.25]), "tensor([-1.5000, 10.2500])"),
    (lambda: ember.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda: ember.tensor([1e10, 1.0]), "tensor([1.0000e+10, 1.0000e+00])"),
    (lambda: ember.tensor([float("nan"), 1.0, float("inf")]), "tensor([nan, 1., inf])"),
    (lambda: ember.tensor([[1.0, 2.0], [3.0, 4.0]]), "tensor([[1., 2.],\n        [3., 4.]])"),
    (lambda: ember.tensor([[[1, 2]], [[3, 4]]]), "tensor([[[1, 2]],\n\n        [[3, 4]]])"),
    (lambda: ember.tensor([1.0, 2.0], dtype=ember.float64),
     "tensor([1., 2.], dtype=ember.float64)"),
    (lambda: ember.tensor([1, 2], dtype=ember.int32), "tensor([1, 2], dtype=ember.int32)"),
    (lambda: ember.tensor([0.5], dtype=ember.float16), "tensor([0.5000], dtype=ember.float16)"),
    (lambda: ember.zeros(0), "tensor([])"),
    (lambda: ember.zeros(0, 3), "tensor([], size=(0, 3))"),
    (lambda: ember.zeros(0, dtype=ember.int64), "tensor([], dtype=ember.int64)"),
    (lambda: ember.tensor([1.0, 2.0], requires_grad=True),
     "tensor([1., 2.], requires_grad=True)"),
    (lambda: ember.tensor([1.0, 2.0], requires_grad=True) * 2,
     "tensor([2., 4.], grad_fn=<MulBackward0>)"),
    (lambda: ember.arange(2000), "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"),
    (lambda: ember.arange(12.0) / 4,
     "tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000, 1.2500, 1.5000, 1.7500, 2.0000,\n"
     "        2.2500, 2.5000, 2.7500])"),
    (lambda: ember.arange(3000).reshape(1000, 3),
     "tensor([[   0,    1,    2],\n        [   3,    4,    5],\n        [   6,    7,    8],\n"
     "        ...,\n        [2991, 2992, 2993],\n        [2994, 2995, 2996],\n"
     "        [2997, 2998, 2999]])"),
]


@pytest.mark.parametrize("make, expected", REPRS, ids=[r[1][:40] for r in REPRS])
def test_repr_matches_pytorch(make, expected):
    t = make()
    assert repr(t) == expected
    assert str(t) == expected


def test_repr_follows_default_dtype_and_device(device):
    ember.set_default_dtype(ember.float64)
    try:
        assert repr(ember.tensor([1.0])) == "tensor([1.])"
        assert repr(ember.tensor([1.0], dtype=ember.float32)) == \
            "tensor([1.], dtype=ember.float32)"
    finally:
        ember.set_default_dtype(ember.float32)
    if device.type == "cuda":
        assert repr(ember.tensor([1.0], device=device)) == "tensor([1.], device='cuda:0')"


def test_metadata(device):
    t = ember.zeros(2, 3, 4, dtype=ember.float64, device=device)
    assert t.shape == (2, 3, 4) and t.size() == (2, 3, 4)
    assert t.size(1) == 3 and t.size(-1) == 4
    assert t.dim() == t.ndim == t.ndimension() == 3
    assert t.numel() == t.nelement() == 24
    assert t.element_size() == t.itemsize == 8 and t.nbytes == 192
    assert t.stride() == (12, 4, 1) and t.stride(0) == 12 and t.stride(-1) == 1
    assert t.is_contiguous() and t.is_floating_point()
    assert t.device == device and t.is_cuda == (device.type == "cuda")
    assert t.get_device() == (-1 if device.type == "cpu" else device.index)
    assert not ember.zeros(2, dtype=ember.int32).is_floating_point()
    assert len(t) == 2
    with pytest.raises(IndexError, match="Dimension out of range"):
        t.size(3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        t.stride(-4)
    with pytest.raises(TypeError, match="0-d"):
        len(ember.tensor(1.0))


def test_item_and_python_numbers(device):
    assert ember.tensor(2.5, device=device).item() == 2.5
    assert isinstance(ember.tensor([3], device=device).item(), int)
    assert isinstance(ember.tensor(True).item(), bool)
    assert float(ember.tensor([1.5])) == 1.5 and int(ember.tensor(2.9)) == 2
    assert complex(ember.tensor(1.0)) == 1 + 0j
    assert [10, 20, 30][ember.tensor(1)] == 20  # __index__
    assert f"{ember.tensor(0.123456):.2f}" == "0.12"
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        ember.tensor([1.0, 2.0]).item()
    with pytest.raises(TypeError, match="integer tensors of a single element"):
        [1, 2][ember.tensor(1.0)]


def test_truth_value():
    assert bool(ember.tensor([1.0])) and not bool(ember.tensor(0))
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        bool(ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="no values is ambiguous"):
        bool(ember.zeros(0))


def test_tolist(device):
    assert ember.tensor([[1, 2], [3, 4]], device=device).tolist() == [[1, 2], [3, 4]]
    assert ember.tensor(1.5, device=device).tolist() == 1.5
    assert ember.zeros(0).tolist() == []
    values = ember.tensor([0.1], dtype=ember.float64).tolist()
    assert values == [0.1] and isinstance(values[0], float)


def test_detach_shares_memory_and_version():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert d.data_ptr() == y.data_ptr()
    d.data[0] = 10.0
    d._bump_version()
    assert y.tolist() == [10.0, 4.0]
    assert y._version[0] == 1  # the counter is shared
    y.detach_()
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf


def test_requires_grad_flags():
    x = ember.zeros(2)
    assert not x.requires_grad and x.is_leaf
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad = False
    assert not x.requires_grad
    x.requires_grad_(True)
    y = x + 1
    assert y.requires_grad and not y.is_leaf
    y.requires_grad_(True)  # already true: fine
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)


def test_deepcopy_of_leaves():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    w.grad = ember.tensor([0.5, 0.5])
    shared = [w, w]
    clone_a, clone_b = copy.deepcopy(shared)
    assert clone_a is clone_b  # the memo is respected
    assert clone_a.requires_grad and clone_a.is_leaf and clone_a.tolist() == [1.0, 2.0]
    assert clone_a.data_ptr() != w.data_ptr() and clone_a.grad.tolist() == [0.5, 0.5]
    clone_a.data[0] = 9.0
    assert w.tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(w * 2)


def test_hash_and_identity():
    a, b = ember.ones(1), ember.ones(1)
    assert len({a, b}) == 2 and {a: 1}[a] == 1


def test_wrapping_an_array_does_not_copy():
    array = np.ones(3)
    t = ember.Tensor(array)
    assert t._array is array and not t.requires_grad and t.grad is None and t.grad_fn is None
