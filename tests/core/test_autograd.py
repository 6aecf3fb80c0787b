"""The autograd engine: backward, grad, graph lifetime, hooks, version checks, anomaly mode."""

import math

import numpy as np
import pytest

import ember
from ember.autograd import grad
from ember.ops._views import as_view


def leaf(values, device="cpu", dtype=ember.float64):
    return ember.tensor(values, dtype=dtype, device=device, requires_grad=True)


def host(tensor):
    return tensor.detach().cpu().numpy()


# ---- backward ------------------------------------------------------------------------------


def test_backward_of_a_scalar(device):
    x = leaf([1.0, 2.0, 3.0], device)
    (x * x * x).sum().backward()
    np.testing.assert_allclose(host(x.grad), 3 * np.array([1.0, 4.0, 9.0]))
    assert x.grad.dtype == x.dtype and x.grad.device == device
    assert not x.grad.requires_grad and x.grad.grad_fn is None


def test_backward_with_gradient_argument(device):
    x = leaf([1.0, 2.0], device)
    y = x * x  # not a scalar: the vector in the vector-Jacobian product must be given
    y.backward(gradient=ember.tensor([1.0, 10.0], dtype=ember.float64, device=device))
    np.testing.assert_allclose(host(x.grad), [2.0, 40.0])


def test_non_scalar_without_gradient_raises():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        y.backward()
    with pytest.raises(RuntimeError, match="[Mm]ismatch in shape"):
        y.backward(ember.ones(3, dtype=ember.float64))
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.ones(2).sum().backward()
    one = leaf([3.0]) * 2  # a single element is enough, whatever its shape
    one.backward()


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(host(x.grad), [3 + 2, 3 + 4])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(host(x.grad), [3, 3])


def test_retain_graph_allows_a_second_walk():
    x = leaf([2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [8.0]


def test_walking_a_freed_graph_twice_raises():
    x = leaf([2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    z = (x * x).sum()
    grad(z, x)
    with pytest.raises(RuntimeError, match="second time"):
        grad(z, x)


def test_same_leaf_used_twice_accumulates():
    x = leaf([3.0])
    (x * x).sum().backward()
    assert x.grad.tolist() == [6.0]
    w = leaf([1.5])
    (w + w + w).sum().backward()
    assert w.grad.tolist() == [3.0]


def test_diamond_graph():
    x = leaf([0.5, -1.0])
    y = x * 2
    z = (y * y + y.exp() + y).sum()  # y is consumed by three nodes
    z.backward()
    y_values = 2 * np.array([0.5, -1.0])
    np.testing.assert_allclose(host(x.grad), 2 * (2 * y_values + np.exp(y_values) + 1))


def test_broadcast_gradients_are_summed_to_each_input_shape():
    a = leaf(np.ones((3, 1)))
    b = leaf(np.arange(4.0))
    c = leaf(2.0)
    (a * b * c).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,) and c.grad.shape == ()
    np.testing.assert_allclose(host(a.grad), np.full((3, 1), 2.0 * 6))
    np.testing.assert_allclose(host(b.grad), np.full(4, 2.0 * 3))
    assert c.grad.item() == 3 * 6


def test_leaf_gradients_are_independent_arrays():
    a = leaf([1.0, 2.0])
    b = leaf([3.0, 4.0])
    (a + b).sum().backward()
    assert a.grad.data_ptr() != b.grad.data_ptr()
    a.grad.data += 100.0  # changing one gradient in place must leave the other alone
    assert b.grad.tolist() == [1.0, 1.0]
    g = ember.tensor([5.0, 6.0], dtype=ember.float64)
    x = leaf([0.0, 0.0])
    (x + 0).backward(g)
    g.data[:] = 0.0
    assert x.grad.tolist() == [5.0, 6.0]  # .grad does not alias the gradient handed in


def test_backward_inputs_restricts_accumulation():
    x, y = leaf([1.0]), leaf([2.0])
    (x * y).sum().backward(inputs=[x])
    assert x.grad.tolist() == [2.0] and y.grad is None


def test_functional_backward_with_several_roots():
    x = leaf([1.0, 2.0])
    ember.autograd.backward([x * 2, (x * x).sum()],
                            [ember.ones(2, dtype=ember.float64), None])
    np.testing.assert_allclose(host(x.grad), [2 + 2, 2 + 4])


def test_detach_stops_gradients():
    x = leaf([2.0])
    y = (x * x.detach()).sum()  # only the first factor is differentiated
    y.backward()
    assert x.grad.tolist() == [2.0]
    h = x * 3
    h.detach_()
    assert not h.requires_grad and h.is_leaf


# ---- autograd.grad ---------------------------------------------------------------------------


def test_grad_returns_without_touching_dot_grad(device):
    x = leaf([1.0, 2.0], device)
    (dx,) = grad((x**2).sum(), x)
    np.testing.assert_allclose(host(dx), [2.0, 4.0])
    assert x.grad is None and not dx.requires_grad


def test_higher_order_gradients_of_cube(device):
    x = leaf([2.0, -1.0], device)
    y = (x**3).sum()
    (first,) = grad(y, x, create_graph=True)
    np.testing.assert_allclose(host(first), 3 * host(x) ** 2)
    assert first.requires_grad
    (second,) = grad(first.sum(), x, create_graph=True)
    np.testing.assert_allclose(host(second), 6 * host(x))
    (third,) = grad(second.sum(), x)
    np.testing.assert_allclose(host(third), [6.0, 6.0])


def test_backward_with_create_graph_builds_a_differentiable_grad():
    x = leaf([1.5])
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (x_grad,) = grad(x.grad.sum(), x)
    assert x_grad.tolist() == [6 * 1.5]


def test_grad_outputs_weights_non_scalar_outputs():
    x = leaf([1.0, 2.0, 3.0])
    (g,) = grad(x * x, x, grad_outputs=ember.tensor([1.0, 0.0, -1.0], dtype=ember.float64))
    np.testing.assert_allclose(host(g), [2.0, 0.0, -6.0])
    with pytest.raises(RuntimeError, match="only for scalar"):
        grad(x * x, x)


def test_grad_of_several_outputs_and_inputs():
    x, y = leaf(2.0), leaf(3.0)
    gx, gy = grad([x * y, x + y], [x, y])
    assert (gx.item(), gy.item()) == (3.0 + 1.0, 2.0 + 1.0)


def test_allow_unused():
    x, unused = leaf([1.0]), leaf([1.0])
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        grad((x * 2).sum(), [x, unused])
    gx, gu = grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gx.tolist() == [2.0] and gu is None
    _, zeros = grad((x * 2).sum(), [x, unused], materialize_grads=True)
    assert zeros.tolist() == [0.0]


def test_grad_with_respect_to_an_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 3
    (gh,) = grad((h * h).sum(), h)
    np.testing.assert_allclose(host(gh), 2 * 3 * np.array([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad((x * 2).sum(), ember.ones(2))


# ---- retain_grad and hooks -------------------------------------------------------------------


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = leaf([1.0, 2.0])
    h = x * 2
    kept = x * 3
    kept.retain_grad()
    assert kept.retains_grad and not h.retains_grad
    (h * kept).sum().backward()
    assert h.grad is None  # non-leaves keep no gradient by default
    np.testing.assert_allclose(host(kept.grad), host(h))
    x.retain_grad()  # a no-op on leaves
    assert not x.retains_grad


def test_hook_on_a_leaf_modifies_and_is_removable():
    x = leaf([1.0, 2.0])
    seen = []

    def double(g):
        seen.append(host(g).copy())
        return g * 2

    handle = x.register_hook(double)
    (x * 3).sum().backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    np.testing.assert_allclose(host(x.grad), [6.0, 6.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(host(x.grad), [3.0, 3.0])
    assert len(seen) == 1


def test_hook_on_a_non_leaf_changes_what_flows_back():
    x = leaf([1.0, 2.0])
    h = x * x
    seen = []
    h.register_hook(lambda g: seen.append(host(g).copy()))  # observing: returns None
    h.register_hook(lambda g: g * 0 + 1.0)  # replaces the gradient with ones
    (h * 5).sum().backward()
    np.testing.assert_allclose(seen[0], [5.0, 5.0])
    np.testing.assert_allclose(host(x.grad), 2 * np.array([1.0, 2.0]))  # 1 * dh/dx


def test_hook_handle_as_context_manager_and_errors():
    x = leaf([1.0])
    with x.register_hook(lambda g: g * 10):
        (x * 1).sum().backward()
    (x * 1).sum().backward()
    assert x.grad.tolist() == [11.0]
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ember.ones(1).register_hook(lambda g: g)


def test_hooks_run_with_create_graph():
    x = leaf([2.0])
    x.register_hook(lambda g: g * 3)
    (g,) = grad((x**2).sum(), x, create_graph=True)
    assert g.tolist() == [12.0] and g.requires_grad


# ---- graph lifetime and scale ----------------------------------------------------------------


def test_long_chain_backpropagates_without_recursion():
    x = leaf(1.0)
    y = x
    steps = 100_000
    for _ in range(steps):
        y = y * 1.00001
    y.backward()
    assert math.isclose(x.grad.item(), 1.00001**steps, rel_tol=1e-9)


def test_graph_is_released_after_backward():
    import gc
    import weakref

    x = leaf(np.ones(3))
    y = x.exp()
    node = weakref.ref(y.grad_fn)
    loss = y.sum()
    loss.backward()
    del y, loss
    gc.collect()
    assert node() is None


# ---- in-place modification of saved tensors --------------------------------------------------


def _modify_in_place(tensor, value):
    """What an in-place op does: change the memory, bump the version counter."""
    tensor._array[...] = value
    tensor._bump_version()


def test_modified_saved_input_raises():
    x = leaf([1.0, 2.0])
    w = ember.tensor([3.0, 4.0], dtype=ember.float64)
    loss = (x * w).sum()  # mul saves w to compute x's gradient
    _modify_in_place(w, 0.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_modified_saved_output_raises():
    x = leaf([1.0, 2.0])
    y = x.exp()  # exp saves its output
    loss = y.sum()
    _modify_in_place(y, 0.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_modifying_a_view_of_a_saved_tensor_raises():
    x = leaf([1.0, 2.0])
    w = ember.tensor([3.0, 4.0], dtype=ember.float64)
    loss = (x * w).sum()
    view = as_view(ember.Tensor(w._array[:1]), w)
    _modify_in_place(view, 7.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_modifying_an_unsaved_tensor_is_fine():
    x = leaf([1.0, 2.0])
    b = ember.tensor([3.0, 4.0], dtype=ember.float64)
    loss = (x + b).sum()  # add saves nothing
    _modify_in_place(b, 0.0)
    loss.backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_modification_after_backward_is_fine():
    x = leaf([1.0])
    w = ember.tensor([2.0], dtype=ember.float64)
    (x * w).sum().backward()
    _modify_in_place(w, 5.0)
    assert x.grad.tolist() == [2.0]


# ---- anomaly detection -----------------------------------------------------------------------


def _nan_in_backward():
    x = ember.tensor([0.0, 1.0], dtype=ember.float64, requires_grad=True)
    # log'(0) = inf meets an upstream gradient of 0: log's backward returns 0 * inf = nan.
    loss = (x.log() * 0.0).sum()
    return x, loss


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_the_op_whose_backward_made_nan():
    with ember.autograd.detect_anomaly():
        assert ember.autograd.is_anomaly_enabled()
        x, loss = _nan_in_backward()
        with pytest.raises(RuntimeError, match="log.*returned nan") as info:
            loss.backward()
    assert "_nan_in_backward" in str(info.value)  # the forward's traceback is shown
    assert not ember.autograd.is_anomaly_enabled()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_without_anomaly_mode_nan_passes_silently():
    x, loss = _nan_in_backward()
    loss.backward()
    assert np.isnan(host(x.grad)[0])


def test_set_detect_anomaly():
    ember.autograd.set_detect_anomaly(True)
    try:
        assert ember.autograd.is_anomaly_enabled()
    finally:
        ember.autograd.set_detect_anomaly(False)
    assert not ember.autograd.is_anomaly_enabled()
    with ember.autograd.set_detect_anomaly(True):
        assert ember.autograd.is_anomaly_enabled()
    assert not ember.autograd.is_anomaly_enabled()
