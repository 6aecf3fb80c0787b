"""``Tensor.data`` as PyTorch has it: a detached Tensor over the same memory, and assignable."""

import numpy as np
import pytest

import ember
from ember import nn


def test_data_is_a_detached_tensor_sharing_memory(device):
    p = ember.tensor([1.0, 2.0], device=device, requires_grad=True)
    data = p.data
    assert type(data) is ember.Tensor and not data.requires_grad and data.is_leaf
    assert data.data_ptr() == p.data_ptr() and data.shape == p.shape and data.dtype == p.dtype
    data.add_(1.0)  # PyTorch's `p.data.add_(...)`: the parameter changes, nothing is recorded
    np.testing.assert_array_equal(p.detach().cpu().numpy(), [2.0, 3.0])
    assert p.grad_fn is None and data.grad_fn is None


def test_data_of_a_parameter_is_a_plain_tensor():
    p = nn.Parameter(ember.zeros(3))
    assert type(p.data) is ember.Tensor
    p.data.normal_()  # the usual initialisation idiom
    assert p.detach().numpy().any() and isinstance(p, nn.Parameter) and p.requires_grad


def test_changes_through_data_are_invisible_to_the_version_check():
    # PyTorch's documented difference between .data and .detach(): no version counter shared.
    w = ember.tensor([3.0, 4.0], dtype=ember.float64, requires_grad=True)
    x = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    loss = (x * w).sum()
    w.data.mul_(2.0)
    loss.backward()  # no "modified by an inplace operation" error
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 8.0])  # the new values, as in PyTorch
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss = (x * w).sum()
        w.detach().mul_(2.0)
        loss.backward()


def test_topk_accuracy_idiom_on_outputs_data():
    outputs = ember.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], requires_grad=True)
    labels = ember.tensor([1, 0, 0])
    _, predicted = ember.max(outputs.data, 1)
    assert (predicted == labels).sum().item() == 2
    assert predicted.dtype == ember.int64


def test_assigning_data_replaces_the_values_and_keeps_identity():
    layer = nn.Linear(3, 2)
    weight = layer.weight
    optimizer = ember.optim.SGD(layer.parameters(), lr=0.1)
    layer.weight.data = ember.ones(2, 3)
    assert layer.weight is weight and weight.requires_grad and isinstance(weight, nn.Parameter)
    np.testing.assert_array_equal(weight.detach().numpy(), np.ones((2, 3)))
    layer(ember.ones(1, 3)).sum().backward()
    optimizer.step()
    np.testing.assert_allclose(weight.detach().numpy(), np.full((2, 3), 0.9), rtol=1e-6)


def test_assigning_data_of_another_shape_and_dtype_as_pytorch():
    p = nn.Parameter(ember.zeros(2))
    p.data = ember.ones(4, dtype=ember.float64)
    assert p.shape == (4,) and p.dtype == ember.float64 and p.requires_grad


def test_assigning_data_shares_the_assigned_memory():
    t = ember.zeros(3)
    source = ember.ones(3)
    t.data = source
    source.add_(1.0)
    np.testing.assert_array_equal(t.numpy(), [2.0, 2.0, 2.0])


@pytest.mark.parametrize("value", [np.ones(2), 1.0, [1.0, 2.0], None])
def test_assigning_data_a_non_tensor_raises_type_error(value):
    p = ember.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got"):
        p.data = value


def test_assigning_integer_data_to_a_tensor_that_requires_grad_raises():
    p = ember.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="must be floating point"):
        p.data = ember.tensor([1, 2])
    q = ember.zeros(2)
    q.data = ember.tensor([1, 2])  # without requires_grad, any dtype (as PyTorch)
    assert q.dtype == ember.int64


def test_in_place_arithmetic_on_data_of_a_view_keeps_the_view():
    base = ember.zeros(2, 3)
    row = base[1]
    row.data += 1.0  # `x.data += ...` reads, changes in place, and assigns the same memory back
    assert row.is_view
    np.testing.assert_array_equal(base.numpy(), [[0, 0, 0], [1, 1, 1]])


def test_numpy_is_the_way_to_the_array():
    t = ember.tensor([1.0, 2.0])
    assert isinstance(t.numpy(), np.ndarray) and np.shares_memory(t.numpy(), t.data.numpy())


def test_assigning_data_detaches_from_views_and_shared_counters():
    base = ember.zeros(4)
    parameter = nn.Parameter(base)  # shares base's memory and version counter
    parameter.data = ember.ones(4)
    parameter.data.add_(1.0)
    base.add_(5.0)  # base's changes no longer reach the parameter, nor its version
    assert parameter.detach().tolist() == [2.0] * 4 and base.tolist() == [5.0] * 4
    view = ember.zeros(2, 2)[0]
    view.data = ember.ones(2)
    assert not view.is_view
