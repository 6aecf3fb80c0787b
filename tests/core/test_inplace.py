"""In-place ops: values against numpy, identity, PyTorch's dtype and leaf rules, version
counters, and gradients through in-place changes of tensors and of views (compared with
out-of-place equivalents)."""

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from ember.tensor.registry import OPS

RNG = np.random.default_rng(0)


def to_numpy(tensor):
    return tensor.detach().cpu().numpy()


def _grads(fn, *inputs):
    """The gradients of ``sum(fn(*inputs) * w)`` for a fixed random ``w``."""
    for t in inputs:
        t.grad = None
    out = fn(*inputs)
    weights = ember.tensor(np.random.default_rng(9).standard_normal(out.shape), device=out.device)
    (out * weights).sum().backward()
    return [to_numpy(t.grad) for t in inputs]


# ---- arithmetic --------------------------------------------------------------------------------


ARITHMETIC = [
    ("add_", np.add, {}),
    ("sub_", np.subtract, {}),
    ("mul_", np.multiply, {}),
    ("div_", np.divide, {}),
]


@pytest.mark.parametrize("name, ref, kwargs", ARITHMETIC, ids=lambda v: str(v)[:8])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_arithmetic_values(name, ref, kwargs, dtype, device):
    a = RNG.uniform(0.5, 2.0, (3, 4)).astype(dtype)
    for other in [RNG.uniform(0.5, 2.0, (3, 4)).astype(dtype), RNG.uniform(0.5, 2.0, (4,)),
                  1.5, 2]:
        x = ember.tensor(a, device=device)
        operand = ember.tensor(other, device=device) if isinstance(other, np.ndarray) else other
        identity = id(x)
        assert getattr(x, name)(operand) is x and id(x) == identity
        assert x.dtype.name == dtype
        np.testing.assert_allclose(to_numpy(x), ref(a, other).astype(dtype), rtol=1e-6)


def test_alpha_and_augmented_operators(device):
    a = RNG.standard_normal((2, 3))
    b = RNG.standard_normal((2, 3))
    x = ember.tensor(a, device=device)
    x.add_(ember.tensor(b, device=device), alpha=-0.5)
    np.testing.assert_allclose(to_numpy(x), a - 0.5 * b)
    x.sub_(ember.tensor(b, device=device), alpha=2)
    np.testing.assert_allclose(to_numpy(x), a - 2.5 * b)
    y = ember.tensor(a, device=device)
    identity = id(y)
    y += 1
    y -= ember.tensor(b, device=device)
    y *= 2
    y /= 4
    y **= 2
    assert id(y) == identity
    np.testing.assert_allclose(to_numpy(y), ((a + 1 - b) * 2 / 4) ** 2)
    counts = ember.tensor([1, 2, 3], device=device)
    counts += 2
    counts *= counts
    assert counts.dtype == ember.int64
    np.testing.assert_array_equal(to_numpy(counts), [9, 16, 25])
    counts //= 4
    counts %= 3
    np.testing.assert_array_equal(to_numpy(counts), [2, 1, 0])
    mask = ember.tensor([True, False, True], device=device)
    identity = id(mask)
    mask &= ember.tensor([True, True, False], device=device)
    mask |= ember.tensor([False, True, False], device=device)
    mask ^= ember.tensor([True, False, False], device=device)
    assert id(mask) == identity
    np.testing.assert_array_equal(to_numpy(mask), [False, True, False])


def test_in_place_shares_memory(device):
    x = ember.zeros(4, device=device)
    view = x[1:3]
    view += 1
    x.mul_(3)
    np.testing.assert_array_equal(to_numpy(x), [0, 3, 3, 0])
    np.testing.assert_array_equal(to_numpy(view), [3, 3])
    if device.type == "cpu":
        array = np.zeros(3)
        t = ember.from_numpy(array)
        t += 2
        np.testing.assert_array_equal(array, [2, 2, 2])


def test_dtype_rules(device):
    ints = ember.tensor([1, 2], device=device)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                            "output type Long"):
        ints += ember.tensor([0.5, 0.5], device=device)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                            "output type Long"):
        ints += 1.5
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
        ints.div_(2)
    with pytest.raises(RuntimeError, match="result type Long can't be cast to the desired "
                                            "output type Bool"):
        ember.tensor([True], device=device).add_(1)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
        ints.exp_()
    np.testing.assert_array_equal(to_numpy(ints), [1, 2])  # nothing was written
    half = ember.tensor([1.0, 2.0], dtype=ember.float32, device=device)
    half += ember.tensor([0.25, 0.25], dtype=ember.float64, device=device)
    assert half.dtype == ember.float32
    small = ember.tensor([1, 2], dtype=ember.int32, device=device)
    small += ember.tensor([3, 4], device=device)
    assert small.dtype == ember.int32
    np.testing.assert_array_equal(to_numpy(small), [4, 6])


def test_broadcast_errors(device):
    x = ember.zeros(3, device=device)
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast "
                                           r"shape \[2, 3\]"):
        x += ember.ones(2, 3, device=device)
    with pytest.raises(RuntimeError, match="must match the size"):
        x.mul_(ember.ones(2, device=device))
    expanded = ember.zeros(3, 1, device=device).expand(3, 4)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        expanded.add_(1)


# ---- autograd rules ----------------------------------------------------------------------------


LEAF_CHANGES = [
    lambda t: t.add_(1),
    lambda t: t.mul_(2),
    lambda t: t.exp_(),
    lambda t: t.zero_(),
    lambda t: t.fill_(3.0),
    lambda t: t.copy_(ember.ones(3, dtype=ember.float64, device=t.device)),
    lambda t: t.__iadd__(1),
    lambda t: t.__setitem__(0, 1.0),
    lambda t: t.masked_fill_(ember.ones(3, device=t.device) > 0, 1.0),
]


@pytest.mark.parametrize("change", LEAF_CHANGES)
def test_leaf_requiring_grad_is_protected(change, device):
    w = ember.ones(3, dtype=ember.float64, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad is being used in "
                                           "an in-place operation.$"):
        change(w)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        change(w[:])
    with ember.no_grad():
        version = w._version[0] if w._version else 0
        change(w)  # what optimizers do
    assert w._version[0] == version + 1
    assert w.is_leaf and w.requires_grad and w.grad_fn is None


def test_optimizer_style_update(device):
    p = ember.tensor([1.0, 2.0], device=device, requires_grad=True)
    (p * p).sum().backward()
    with ember.no_grad():
        p.add_(p.grad, alpha=-0.25)
    np.testing.assert_allclose(to_numpy(p), [0.5, 1.0])
    assert p.is_leaf


def test_in_place_rebases_history(device):
    a = ember.tensor(RNG.standard_normal(3), device=device, requires_grad=True)
    h = a * 2
    old_node = h.grad_fn
    h.mul_(a)
    assert h.grad_fn is not old_node and h.requires_grad and not h.is_leaf
    h.sum().backward()
    np.testing.assert_allclose(to_numpy(a.grad), 4 * to_numpy(a))


def test_modified_saved_tensors_raise(device):
    a = ember.tensor(RNG.uniform(0.5, 1.0, 3), device=device, requires_grad=True)
    h = a * 1
    y = h * h  # saves h
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    e = a.exp()  # saves its output
    e.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        e.sum().backward()
    h = a * 1
    y = h.log()  # saves h; changed through a view
    h[0] += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_in_place_on_tensor_without_grad_gains_history(device):
    w = ember.tensor(RNG.standard_normal(3), device=device, requires_grad=True)
    h = ember.zeros(3, dtype=ember.float64, device=device)
    h.add_(w).mul_(w)
    assert h.requires_grad
    h.sum().backward()
    np.testing.assert_allclose(to_numpy(w.grad), 2 * to_numpy(w))


def _chain_in_place(x, y):
    h = x * 1
    h += y
    h.mul_(h)  # reads itself before writing
    h.sub_(y, alpha=0.5)
    h /= 1.5
    h.tanh_()
    h.exp_()
    h.pow_(2)
    return h


def _chain_out_of_place(x, y):
    h = x + y
    h = h * h
    h = h - 0.5 * y
    h = (h / 1.5).tanh().exp()
    return h**2


def test_gradients_through_in_place_chain(device):
    x = ember.tensor(RNG.standard_normal((2, 3)), device=device, requires_grad=True)
    y = ember.tensor(RNG.standard_normal(3), device=device, requires_grad=True)
    np.testing.assert_allclose(to_numpy(_chain_in_place(x, y)),
                               to_numpy(_chain_out_of_place(x, y)))
    for got, want in zip(_grads(_chain_in_place, x, y), _grads(_chain_out_of_place, x, y)):
        np.testing.assert_allclose(got, want, rtol=1e-10)
    gradcheck(_chain_in_place, (x, y))
    gradgradcheck(_chain_in_place, (x, y))


UNARY = ["exp", "log", "tanh", "neg", "sqrt", "sigmoid", "relu", "abs", "sin", "cos", "floor",
         "reciprocal", "square", "log1p", "expm1", "rsqrt", "clamp"]


@pytest.mark.parametrize("name", [n for n in UNARY if n in OPS])
def test_registered_ops_in_place(name, device):
    a = RNG.uniform(0.2, 2.0, (2, 3))
    kwargs = {"min": 0.5, "max": 1.5} if name == "clamp" else {}
    x = ember.tensor(a, device=device)
    expected = OPS[name](x, **kwargs)
    assert getattr(x, name + "_")(**kwargs) is x
    np.testing.assert_allclose(to_numpy(x), to_numpy(expected))

    def fn(t):
        h = t * 1
        getattr(h, name + "_")(**kwargs)
        return h

    leaf = ember.tensor(a, device=device, requires_grad=True)
    gradcheck(fn, (leaf,))
    if name not in ("floor", "relu", "abs", "clamp"):
        gradgradcheck(fn, (leaf,))


def test_clamp_min_max_in_place(device):
    x = ember.tensor([-1.0, 0.5, 2.0], device=device)
    x.clamp_min_(0.0).clamp_max_(1.0)
    np.testing.assert_array_equal(to_numpy(x), [0.0, 0.5, 1.0])


# ---- overwriting: copy_, fill_, zero_ ----------------------------------------------------------


def test_copy_broadcasts_and_converts(device):
    x = ember.zeros(2, 3, dtype=ember.int32, device=device)
    assert x.copy_(ember.tensor([1.7, -2.2, 3.0], dtype=ember.float64)) is x
    assert x.dtype == ember.int32
    np.testing.assert_array_equal(to_numpy(x), [[1, -2, 3], [1, -2, 3]])
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        x.copy_(ember.ones(2, device=device))
    with pytest.raises(TypeError):
        x.copy_([1, 2, 3])


def test_copy_fill_zero_gradients(device):
    a = ember.tensor(RNG.standard_normal((2, 3)), device=device, requires_grad=True)
    src = ember.tensor(RNG.standard_normal(3), device=device, requires_grad=True)
    value = ember.tensor(0.3, dtype=ember.float64, device=device, requires_grad=True)

    def copied(x, s):
        h = x * 2
        h.copy_(s)
        return h * x

    def filled(x, v):
        h = x * 2
        h[0].fill_(v)
        return h * h

    gradcheck(copied, (a, src))
    gradgradcheck(copied, (a, src))
    gradcheck(filled, (a, value))
    gradgradcheck(filled, (a, value))
    h = a * 2
    h.zero_()
    assert h.requires_grad
    (h + a).sum().backward()  # the zeroed history contributes nothing
    np.testing.assert_array_equal(to_numpy(a.grad), np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="0-dimension value tensor"):
        h.fill_(ember.ones(2, device=device))


# ---- views -------------------------------------------------------------------------------------

# Each entry: an in-place change made through a view, and its out-of-place equivalent.


def _row_scaled(x):
    h = x * 1
    h[0].mul_(2)
    return h * h


def _row_scaled_ref(x):
    factor = ember.tensor([[2.0], [1.0], [1.0]], dtype=ember.float64, device=x.device)
    h = x * factor
    return h * h


def _column_added(x):
    h = x * 1
    h[:, 1] += h[:, 2] + h[:, 0]  # (a product would save views of h: an error, as in PyTorch)
    return h * h


def _column_added_ref(x):
    index = ember.tensor([1], device=x.device)
    h = x.index_add(1, index, (x[:, 2] + x[:, 0]).reshape(3, 1))
    return h * h


def _view_of_view(x):
    h = x * 1
    inner = h[1:][:, 1:3]
    inner.exp_()
    inner[0, 0] = inner[1, 1] * 3
    return h * 1


def _view_of_view_ref(x):
    mask = np.zeros((3, 4), dtype=bool)
    mask[1:, 1:3] = True
    h = x.exp().masked_fill(ember.tensor(~mask, device=x.device), 0.0) + x.masked_fill(
        ember.tensor(mask, device=x.device), 0.0)
    picked = h[2, 2] * 3
    return h.index_put((ember.tensor([1], device=x.device), ember.tensor([1], device=x.device)),
                       picked.reshape(1))


def _sibling_views(x):
    h = x * 1
    column = h[:, 0]  # created before the change, used after it
    row = h[0]
    row.mul_(3)
    return column * row[1]


def _sibling_views_ref(x):
    column = ember.stack([x[0, 0] * 3, x[1, 0], x[2, 0]])
    return column * (x[0, 1] * 3)


def _base_changed_under_view(x):
    h = x * 1
    row = h[1]
    h.mul_(h)
    return row * 1


def _base_changed_under_view_ref(x):
    return x[1] * x[1]


def _transposed_view(x):
    h = x * 1
    t = h.t()
    t[0].add_(t[1])
    return h * h


def _transposed_view_ref(x):
    added = x[:, 0] + x[:, 1]
    h = x.index_put((ember.tensor([0, 1, 2], device=x.device),
                     ember.tensor([0, 0, 0], device=x.device)), added)
    return h * h


VIEW_CASES = [
    (_row_scaled, _row_scaled_ref),
    (_column_added, _column_added_ref),
    (_view_of_view, _view_of_view_ref),
    (_base_changed_under_view, _base_changed_under_view_ref),
    (_sibling_views, _sibling_views_ref),
    (_transposed_view, _transposed_view_ref),
]


@pytest.mark.parametrize("change, reference", VIEW_CASES, ids=lambda f: f.__name__)
def test_in_place_on_views_updates_the_base(change, reference, device):
    x = ember.tensor(RNG.uniform(0.5, 1.5, (3, 4)), device=device, requires_grad=True)
    np.testing.assert_allclose(to_numpy(change(x)), to_numpy(reference(x)), rtol=1e-12)
    for got, want in zip(_grads(change, x), _grads(reference, x)):
        np.testing.assert_allclose(got, want, rtol=1e-10)
    gradcheck(change, (x,))
    gradgradcheck(change, (x,))


def test_view_change_with_value_requiring_grad(device):
    x = ember.tensor(RNG.standard_normal((2, 3)), device=device, requires_grad=True)
    v = ember.tensor(RNG.standard_normal(2), device=device, requires_grad=True)

    def fn(base, value):
        h = ember.zeros(2, 3, dtype=ember.float64, device=base.device)
        h.add_(base)
        column = h[:, 1]
        column.copy_(value * value)
        return h.exp()

    gradcheck(fn, (x, v))
    gradgradcheck(fn, (x, v))


def test_view_of_non_contiguous_base(device):
    data = np.asfortranarray(RNG.standard_normal((3, 4)))
    x = ember.tensor(data, device=device, requires_grad=True)

    def fn(t):
        h = t * 1  # keeps numpy's Fortran layout
        h[0].mul_(2)
        h[:, 1] += h[:, 2]
        return h * h

    gradcheck(fn, (x,))
    gradgradcheck(fn, (x,))


def test_expanded_view_refreshed_after_base_change(device):
    x = ember.tensor(RNG.standard_normal((3, 1)), device=device, requires_grad=True)

    def fn(t):
        h = t * 1
        wide = h.expand(3, 4)
        h.mul_(2)
        return wide * 1

    (grad,) = _grads(fn, x)
    weights = np.random.default_rng(9).standard_normal((3, 4))
    np.testing.assert_allclose(grad, 2 * weights.sum(axis=1, keepdims=True))
    gradcheck(fn, (x,))
