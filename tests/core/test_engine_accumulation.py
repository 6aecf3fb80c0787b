"""The engine sums a slot's gradients in place only in arrays it made itself."""

import numpy as np

import ember


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
