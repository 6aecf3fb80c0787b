"""How the engine stores gradients: sums in place only in arrays it made itself, and a leaf keeps
a gradient array without a copy only when nothing else refers to it."""

import numpy as np
import pytest

import ember
from ember.autograd.function import Function


def test_many_uses_accumulate_exactly():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = ember.tensor([0.5, 0.5, 0.5], requires_grad=True)
    total = x * 1
    for k in range(2, 7):
        total = total + x * k + y
    total.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [21.0] * 3)
    np.testing.assert_array_equal(y.grad.numpy(), [5.0] * 3)


def test_shared_gradient_arrays_are_never_modified():
    # add's backward hands the same gradient to both inputs; summing into it in place would
    # corrupt the other branch.
    a = ember.tensor([1.0, 1.0], requires_grad=True)
    b = ember.tensor([2.0, 2.0], requires_grad=True)
    s = a + b
    out = (s + s + s + a).sum()
    out.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [4.0, 4.0])
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 3.0])
    a.grad.data += 100  # the leaves' gradients are independent arrays
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 3.0])


def test_hook_replacing_a_summed_gradient_is_respected():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    kept = []

    def double(grad):
        kept.append(grad)
        return grad * 2

    x.register_hook(double)
    (x * 3 + x * 4).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [14.0, 14.0])
    np.testing.assert_array_equal(kept[0].numpy(), [7.0, 7.0])  # the hook's input is untouched


def test_gradient_accumulates_across_backward_calls():
    w = ember.tensor([[1.0, 2.0]], requires_grad=True)
    for _ in range(3):
        (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[6.0, 12.0]])


# A leaf keeps a freshly made gradient array as its .grad (no copy) only when nothing else
# refers to it; every other first gradient is copied. On a GPU too (cupy arrays).

def test_leaves_given_the_same_gradient_get_independent_arrays(device):
    a = ember.tensor([1.0, 2.0], requires_grad=True, device=device)
    b = ember.tensor([3.0, 4.0], requires_grad=True, device=device)
    c = ember.tensor([5.0, 6.0], device=device)
    ((a + b) * c).sum().backward()  # add passes mul's fresh gradient to both leaves
    assert a.grad.data_ptr() != b.grad.data_ptr()
    a.grad.data += 100
    np.testing.assert_array_equal(b.grad.cpu().numpy(), [5.0, 6.0])
    np.testing.assert_array_equal(a.grad.cpu().numpy(), [105.0, 106.0])


class _Passthrough(ember.autograd.Function):
    """Returns a tensor it saved, reshaped to x's shape (a view when ranks differ), as the
    gradient: the saved values must stay intact."""

    @staticmethod
    def forward(ctx, x, kept):
        ctx.save_for_backward(kept)
        return x * 1

    @staticmethod
    def backward(ctx, grad):
        (kept,) = ctx.saved_tensors
        return kept.reshape(grad.shape), None


def test_a_gradient_that_is_a_saved_tensor_is_copied(device):
    x = ember.tensor([1.0, 2.0], requires_grad=True, device=device)
    kept = ember.tensor([7.0, 8.0], device=device)
    out = _Passthrough.apply(x, kept)
    out.sum().backward(retain_graph=True)
    x.grad.data += 1  # must not reach the saved tensor
    np.testing.assert_array_equal(kept.cpu().numpy(), [7.0, 8.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [15.0, 17.0])
    np.testing.assert_array_equal(kept.cpu().numpy(), [7.0, 8.0])


class _Fresh(ember.autograd.Function):
    """Returns a new array as the gradient and notes its address."""

    made = []

    @staticmethod
    def forward(ctx, x):
        return x * 1

    @staticmethod
    def backward(ctx, grad):
        result = grad * 2
        _Fresh.made.append(result.data_ptr())
        return result


def test_an_unshared_fresh_gradient_is_kept_without_a_copy(device):
    x = ember.tensor([1.0, 2.0], requires_grad=True, device=device)
    _Fresh.made.clear()
    _Fresh.apply(x).sum().backward()
    assert x.grad.data_ptr() == _Fresh.made[0]  # stored as is
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [2.0, 2.0])
    _Fresh.apply(x).sum().backward()  # the second backward adds into it
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [4.0, 4.0])


def test_user_gradients_and_hook_kept_gradients_are_copied(device):
    x = ember.tensor([1.0, 2.0], requires_grad=True, device=device)
    given = ember.tensor([3.0, 4.0], device=device)
    x.backward(given)  # a leaf as the root: its gradient is the caller's tensor
    x.grad.data += 1
    np.testing.assert_array_equal(given.cpu().numpy(), [3.0, 4.0])

    y = ember.tensor([1.0, 2.0], requires_grad=True, device=device)
    seen = []
    y.register_hook(seen.append)
    (y * 3).sum().backward()
    y.grad.data += 1
    np.testing.assert_array_equal(seen[0].cpu().numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(y.grad.cpu().numpy(), [4.0, 4.0])


def test_broadcast_and_reduced_bias_gradients(device):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((16, 6, 8, 8)).astype(np.float32)
    bias = ember.zeros(6, 1, 1, requires_grad=True, device=device)
    row = ember.zeros(8, requires_grad=True, device=device)
    (ember.tensor(data, device=device) + bias + row).sum().backward()
    np.testing.assert_allclose(bias.grad.cpu().numpy(), np.full((6, 1, 1), 16 * 64.0))
    np.testing.assert_allclose(row.grad.cpu().numpy(), np.full(8, 16 * 6 * 8.0))
    weighted = ember.zeros(6, 1, 1, requires_grad=True, device=device)
    data_t = ember.tensor(data, device=device)
    (data_t * ember.ones(16, 6, 8, 8, device=device) + weighted).mul(data_t).sum().backward()
    expected = data.astype(np.float64).sum(axis=(0, 2, 3)).reshape(6, 1, 1)
    np.testing.assert_allclose(weighted.grad.cpu().numpy(), expected, rtol=1e-5, atol=1e-4)
    weighted.grad.data += 1  # an array of its own
    np.testing.assert_allclose(weighted.grad.cpu().numpy(), expected + 1, rtol=1e-5, atol=1e-4)


def test_a_gradient_viewing_a_saved_tensor_is_copied(device):
    x = ember.tensor([1.0, 2.0], requires_grad=True, device=device)
    kept = ember.tensor([[7.0, 8.0]], device=device)
    _Passthrough.apply(x, kept).sum().backward()
    x.grad.data += 1
    np.testing.assert_array_equal(kept.cpu().numpy(), [[7.0, 8.0]])
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [8.0, 9.0])


class _SavesAList(ember.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x, [1, 2])
        return x * 1

    @staticmethod
    def backward(ctx, grad):
        return grad


def test_a_custom_function_saving_a_list_is_refused():
    with pytest.raises(TypeError, match="_SavesAList.save_for_backward: can only save tensors"):
        _SavesAList.apply(ember.tensor([1.0], requires_grad=True))


class _ForwardSavesATuple(Function):
    name = "saves_a_tuple"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x, (1, 2))
        return x * 2


def test_an_op_saving_a_tuple_is_refused():
    with pytest.raises(TypeError, match="saves_a_tuple.save_for_backward: a forward can save"):
        _ForwardSavesATuple.apply(ember.tensor([1.0], requires_grad=True))
