"""``Tensor.register_post_accumulate_grad_hook`` and ``ember.autograd.queue_callback``."""

import numpy as np
import pytest

import ember


def test_hook_sees_the_complete_gradient_once_per_backward():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    (w * 3 + w * w).sum().backward()  # two uses: the hook fires once, after both are summed
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], [5.0, 7.0])
    (w * 2).sum().backward()  # accumulates: the hook sees the running total
    np.testing.assert_array_equal(seen[1], [7.0, 9.0])


def test_hooks_fire_in_backward_order_and_can_be_removed():
    a = ember.tensor(1.0, requires_grad=True)
    b = ember.tensor(2.0, requires_grad=True)
    order = []
    a.register_post_accumulate_grad_hook(lambda t: order.append("a"))
    handle = b.register_post_accumulate_grad_hook(lambda t: order.append("b"))
    ((a * 2) * b).backward()  # b's gradient is ready before a's (a is further from the loss)
    assert order == ["b", "a"]
    handle.remove()
    ((a * 2) * b).backward()
    assert order == ["b", "a", "a"]


def test_hook_may_change_grad_in_place():
    w = ember.tensor([2.0], requires_grad=True)

    def halve(tensor):
        tensor.grad.data.mul_(0.5)

    w.register_post_accumulate_grad_hook(halve)
    (w * 4).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0])


def test_hook_runs_for_backward_with_inputs():
    w = ember.tensor([1.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.item()))
    (w * 5).sum().backward(inputs=[w])
    assert seen == [5.0]


def test_hook_rejects_non_leaves_and_tensors_without_grad():
    w = ember.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ember.tensor([1.0]).register_post_accumulate_grad_hook(lambda t: None)


def test_queued_callbacks_run_after_the_whole_graph_in_order():
    a = ember.tensor(1.0, requires_grad=True)
    b = ember.tensor(2.0, requires_grad=True)
    events = []

    def on_b(tensor):
        events.append("b grad")
        ember.autograd.queue_callback(lambda: events.append(("first", a.grad.item())))
        ember.autograd.queue_callback(lambda: events.append("second"))

    b.register_post_accumulate_grad_hook(on_b)
    a.register_post_accumulate_grad_hook(lambda t: events.append("a grad"))
    ((a * 2) * b).backward()
    assert events == ["b grad", "a grad", ("first", 4.0), "second"]
    ((a * 2) * b).backward()  # callbacks are per backward: queued again, run again once
    assert events[4:] == ["b grad", "a grad", ("first", 8.0), "second"]


def test_queue_callback_outside_backward_is_an_error():
    with pytest.raises(RuntimeError, match="during a backward pass"):
        ember.autograd.queue_callback(lambda: None)
