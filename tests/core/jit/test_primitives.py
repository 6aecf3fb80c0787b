"""The primitives added for graph mode: ``detach`` and ``dropout_mask``."""

import numpy as np

import ember
from ember.tensor.registry import PRIMITIVES


def test_detach_primitive_is_a_non_differentiable_view(device):
    x = ember.randn(3, 2, device=device, requires_grad=True)
    (out,) = PRIMITIVES["detach"].apply(x * 2)
    assert not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out.cpu().numpy(), (x * 2).detach().cpu().numpy())
    y = x * 1.0
    (view,) = PRIMITIVES["detach"].apply(y)
    assert view._array.base is y._array  # shares memory, as Tensor.detach does


def test_dropout_mask_values_dtype_and_device(device):
    x = ember.ones(4000, dtype=ember.float64, device=device)
    mask = PRIMITIVES["dropout_mask"].apply(x, p=0.25, shape=(4000,))
    values = mask.detach().cpu().numpy()
    assert mask.dtype == ember.float64 and mask.device == x.device
    assert set(np.unique(values)) <= {0.0, 1 / 0.75}
    assert abs((values == 0).mean() - 0.25) < 0.04
    zeros = PRIMITIVES["dropout_mask"].apply(x, p=1.0, shape=(2, 1))
    np.testing.assert_array_equal(zeros.cpu().numpy(), np.zeros((2, 1)))


def test_dropout_gradient_flows_through_the_mask_only():
    x = ember.randn(50, dtype=ember.float64, requires_grad=True)
    ember.manual_seed(3)
    out = ember.nn.functional.dropout(x, 0.5)
    (grad,) = ember.autograd.grad(out.sum(), [x])
    ember.manual_seed(3)
    mask = PRIMITIVES["dropout_mask"].apply(x.detach(), p=0.5, shape=(50,))
    np.testing.assert_array_equal(grad.numpy(), mask.numpy())
