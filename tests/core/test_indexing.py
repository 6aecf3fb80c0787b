"""Indexing: getitem/setitem against numpy (and PyTorch's rules where they differ), views,
gradients of every key form, masked_select, take, nonzero, index_put."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def to_numpy(tensor):
    return tensor.detach().cpu().numpy()

BASE = RNG.standard_normal((3, 4, 5))

# Keys on which PyTorch and numpy agree (no integer mixed with index arrays).
KEYS = [
    1,
    -1,
    slice(1, 3),
    slice(None, None, 2),
    (slice(None), 0),
    (0, 1, 2),
    (Ellipsis, 1),
    (None, 1),
    (1, None, slice(0, 4, 3)),
    (Ellipsis, None),
    (slice(5, 9),),  # past the end: empty
    [0, 2, 2],
    (slice(None), [3, 0, 3]),
    ([0, 1], slice(None), [4, 4]),  # separated index arrays: their dims go first
    ([[0], [2]], [1, 3]),  # broadcast index arrays
    (Ellipsis, [1, 0]),
    BASE[:, :, 0] > 0,  # a mask over two dims
    (slice(None), BASE[0, :, 0] > 0),
    BASE > 0,
    (None, [2, 1], None),
]


def _key_on(key, device):
    """The key with numpy index arrays turned into ember tensors on ``device``."""
    if isinstance(key, tuple):
        return tuple(_key_on(k, device) for k in key)
    if isinstance(key, np.ndarray):
        return ember.tensor(key, device=device)
    return key


def _add_at_reference(shape, key, weights):
    """d sum(weights * a[key]) / d a computed with numpy: weights scattered with repeats."""
    grad = np.zeros(shape)
    np.add.at(grad, key, weights)
    return grad


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_getitem_forward_and_grad(key, device):
    x = ember.tensor(BASE, device=device, requires_grad=True)
    out = x[_key_on(key, device)]
    expected = BASE[key]
    np.testing.assert_array_equal(to_numpy(out), expected)
    weights = RNG.standard_normal(expected.shape)
    (out * ember.tensor(weights, device=device)).sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), _add_at_reference(BASE.shape, key, weights))


@pytest.mark.parametrize("key", [1, (slice(None), 0), [0, 0, 2], (Ellipsis, [1, 1]),
                                 (None, slice(0, 2), [3, 3, 1])], ids=repr)
def test_getitem_gradcheck(key, device):
    x = ember.tensor(RNG.standard_normal((3, 4)), device=device, requires_grad=True)
    gradcheck(lambda t: t[key], (x,))
    gradgradcheck(lambda t: t[key], (x,))


def test_getitem_float32_and_int(device):
    for dtype in (np.float32, np.int64, np.bool_):
        a = (BASE * 3).astype(dtype)
        x = ember.tensor(a, device=device)
        for key in [(1, slice(None, None, 2)), ([2, 0],), (Ellipsis, 0)]:
            out = x[key]
            assert out.dtype == x.dtype
            np.testing.assert_array_equal(to_numpy(out), a[key])


def test_repeated_indices_accumulate(device):
    x = ember.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), [3.0, 0.0, 1.0])
    idx = ember.tensor([[1, 1], [1, 0]], device=device)
    x.grad = None
    x[idx].sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), [1.0, 3.0, 0.0])


def test_basic_indexing_returns_views(device):
    x = ember.tensor(BASE, device=device)
    for key in [1, (slice(None), 2), (Ellipsis, None, 1), (0, 1, 2), slice(0, 3, 2)]:
        view = x[key]
        assert view._base is x and view.is_view
        view.fill_(7.0)
        assert np.all(to_numpy(x[key]) == 7.0)
    advanced = x[[0, 1]]
    assert advanced._base is None
    advanced.fill_(-1.0)
    assert not np.any(to_numpy(x) == -1.0)


def test_integer_with_index_array_follows_pytorch(device):
    # PyTorch applies integers first (select), so the advanced dims stay in place:
    # x[:, [0], :, 0] has shape (2, 1, 5) where numpy gives (1, 2, 5).
    a = np.arange(2 * 3 * 5 * 7.0).reshape(2, 3, 5, 7)
    x = ember.tensor(a, device=device)
    out = x[:, [0], :, 0]
    assert out.shape == (2, 1, 5)
    np.testing.assert_array_equal(to_numpy(out), a[..., 0][:, [0], :])
    out = x[0, :, [1, 2]]
    assert out.shape == (3, 2, 7)
    np.testing.assert_array_equal(to_numpy(out), a[0][:, [1, 2]])


def test_bool_scalars_and_zero_d_index_tensors(device):
    a = np.arange(2 * 3 * 5.0).reshape(2, 3, 5)
    x = ember.tensor(a, device=device)
    assert x[True].shape == (1, 2, 3, 5)
    assert x[False].shape == (0, 2, 3, 5)
    assert x[:, True, :, 0].shape == (2, 1, 3)
    assert x[True, [0, 1]].shape == (2, 3, 5)  # a bool indexes the dim it adds, as in PyTorch
    assert x[ember.tensor(True, device=device)].shape == (1, 2, 3, 5)
    i = ember.tensor(1, device=device)
    view = x[i]  # a 0-d integer tensor is an integer: a view
    assert view._base is x
    np.testing.assert_array_equal(to_numpy(view), a[1])
    np.testing.assert_array_equal(to_numpy(x[np.int64(1), np.array([0, 2])]), a[1, [0, 2]])
    np.testing.assert_array_equal(to_numpy(x[:, []]), a[:, []])


def test_index_errors(device):
    x = ember.zeros(3, 4, device=device)
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[:, 3:0:-1]
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        x[3]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[0, 1, 2]
    with pytest.raises(IndexError, match="out of bounds for dimension 1"):
        x[0, 4] = 1.0
    with pytest.raises(IndexError, match="out of bounds for dimension 1 with size 4"):
        x[:, [0, 4]]
    with pytest.raises(IndexError, match="out of bounds"):
        x[[-4]]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, [0]]
    with pytest.raises(IndexError, match="shape of the mask"):
        x[ember.tensor([True, False], device=device)]
    with pytest.raises(IndexError, match="tensors used as indices"):
        x[ember.tensor([0.0, 1.0], device=device)]
    with pytest.raises(IndexError):
        x[1.5]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., 0, ...]


# ---- property tests against numpy ---------------------------------------------------------------


@st.composite
def basic_keys(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    entries = []
    for size in shape:
        kind = draw(st.sampled_from(["int", "slice", "full", "none"]))
        if kind == "int":
            entries.append(draw(st.integers(-size, size - 1)))
        elif kind == "slice":
            start = draw(st.one_of(st.none(), st.integers(-size - 1, size + 1)))
            stop = draw(st.one_of(st.none(), st.integers(-size - 1, size + 1)))
            entries.append(slice(start, stop, draw(st.one_of(st.none(), st.integers(1, 3)))))
        elif kind == "full":
            entries.append(slice(None))
        else:
            entries.extend([None, slice(None)])
    cut = draw(st.integers(0, len(entries)))
    if draw(st.booleans()):
        entries = entries[:cut] + [Ellipsis] + entries[cut:][len(entries[cut:]) // 2:]
    else:
        entries = entries[:cut]
    return shape, tuple(entries)


@settings(max_examples=60, deadline=None)
@given(basic_keys())
def test_property_basic_keys_match_numpy(shape_key):
    shape, key = shape_key
    a = np.arange(float(np.prod(shape))).reshape(shape)
    x = ember.tensor(a, requires_grad=True)
    out = x[key]
    np.testing.assert_array_equal(out.detach().numpy(), a[key])
    weights = np.random.default_rng(1).standard_normal(a[key].shape)
    (out * ember.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), _add_at_reference(shape, key, weights))


@st.composite
def advanced_keys(draw):
    """Keys mixing index arrays, masks, slices and None, without integers (where numpy's rules
    are PyTorch's)."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    entries = []
    dim = 0
    while dim < len(shape):
        kind = draw(st.sampled_from(["array", "array", "mask", "slice", "none"]))
        size = shape[dim]
        if kind == "array":
            length = draw(st.integers(0, 3))
            entries.append(rng.integers(-size, size, length))
            dim += 1
        elif kind == "mask":
            width = draw(st.integers(1, len(shape) - dim))
            entries.append(rng.random(shape[dim:dim + width]) > 0.5)
            dim += width
        elif kind == "slice":
            entries.append(slice(draw(st.integers(0, size)), None))
            dim += 1
        else:
            entries.append(None)
    entries = entries[: draw(st.integers(1, len(entries)))]
    arrays = [e for e in entries if isinstance(e, np.ndarray) and e.dtype != np.bool_]
    lengths = {len(e) for e in arrays}
    if len(lengths) > 1:  # index arrays must broadcast together
        entries = [e[:1] if isinstance(e, np.ndarray) and e.dtype != np.bool_ and len(e) else e
                   for e in entries]
    return shape, tuple(entries)


@settings(max_examples=80, deadline=None)
@given(advanced_keys())
def test_property_advanced_keys_match_numpy(shape_key):
    shape, key = shape_key
    a = np.arange(float(np.prod(shape))).reshape(shape)
    try:
        expected = a[key]
    except IndexError:  # index arrays (or masks) that do not broadcast: ember must refuse too
        with pytest.raises(IndexError):
            ember.tensor(a)[_key_on(key, "cpu")]
        return
    x = ember.tensor(a, requires_grad=True)
    out = x[_key_on(key, "cpu")]
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    weights = np.random.default_rng(2).standard_normal(expected.shape)
    (out * ember.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _add_at_reference(shape, key, weights))


@settings(max_examples=40, deadline=None)
@given(advanced_keys())
def test_property_setitem_matches_numpy(shape_key):
    shape, key = shape_key
    a = np.arange(float(np.prod(shape))).reshape(shape)
    try:
        region = a[key].shape
    except IndexError:
        return
    values = np.random.default_rng(3).standard_normal(region)
    expected = a.copy()
    expected[key] = values
    x = ember.tensor(a)
    x[_key_on(key, "cpu")] = ember.tensor(values)
    if not _has_repeats(shape, key):  # which of repeated writes wins is unspecified
        np.testing.assert_array_equal(x.numpy(), expected)


def _has_repeats(shape, key) -> bool:
    counts = np.zeros(shape)
    np.add.at(counts, key, 1.0)
    return bool((counts > 1).any())


# ---- setitem ------------------------------------------------------------------------------------


SET_CASES = [
    (1, (4,)),
    ((slice(None), 0), (3,)),
    ((slice(None), 0), ()),
    ((slice(0, 2), slice(1, 3)), (1, 2)),
    ([2, 0], (2, 4)),
    ((slice(None), [3, 1]), (1, 2)),
    (0, (1, 4)),  # a leading 1 in the value is allowed, as in PyTorch and numpy
]


@pytest.mark.parametrize("key, value_shape", SET_CASES, ids=repr)
def test_setitem_forward_and_gradients(key, value_shape, device):
    a = RNG.standard_normal((3, 4))
    v = RNG.standard_normal(value_shape)
    expected = a.copy()
    expected[key] = v
    x = ember.tensor(a, device=device)
    x[key] = ember.tensor(v, device=device)
    np.testing.assert_array_equal(to_numpy(x), expected)

    def fn(base, value):
        h = base * 1.0
        h[key] = value
        return h * h

    base = ember.tensor(a, device=device, requires_grad=True)
    value = ember.tensor(v, device=device, requires_grad=True)
    gradcheck(fn, (base, value))
    gradgradcheck(fn, (base, value))


def test_setitem_scalars_masks_and_dtypes(device):
    x = ember.tensor(np.arange(6.0).reshape(2, 3), device=device)
    x[x > 2] = 0.0
    np.testing.assert_array_equal(to_numpy(x), [[0, 1, 2], [0, 0, 0]])
    ints = ember.zeros(3, dtype=ember.int64, device=device)
    ints[0] = 2.7  # copy semantics: any cast is allowed
    ints[1:] = ember.tensor([1.9, -1.5], device=device)
    np.testing.assert_array_equal(to_numpy(ints), [2, 1, -1])
    assert ints.dtype == ember.int64
    with pytest.raises(RuntimeError, match="shape mismatch"):
        x[0] = ember.ones(2, device=device)


def test_setitem_autograd_semantics(device):
    w = ember.tensor(RNG.standard_normal(3), device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in "
                                            "an in-place operation."):
        w[0] = 1.0
    with ember.no_grad():
        w[0] = 1.0  # allowed outside grad mode
    assert to_numpy(w)[0] == 1.0 and w.is_leaf
    # the old history gets zero gradient at the written positions; the value gets the rest
    h = w * 2
    version = h._version[0] if h._version else 0
    v = ember.tensor(5.0, device=device, requires_grad=True)
    h[1] = v
    assert h._version[0] == version + 1
    assert h.grad_fn is not None
    (h * ember.tensor([1.0, 2.0, 3.0], device=device)).sum().backward()
    np.testing.assert_array_equal(to_numpy(w.grad), [2.0, 0.0, 6.0])
    assert v.grad.item() == 2.0


def test_setitem_on_tensor_without_grad_gains_history(device):
    v = ember.tensor(RNG.standard_normal(4), device=device, requires_grad=True)
    h = ember.zeros(3, 4, device=device)
    h[1] = v
    assert h.requires_grad and not h.is_leaf
    (h * 3).sum().backward()
    np.testing.assert_array_equal(to_numpy(v.grad), np.full(4, 3.0))


def test_setitem_invalidates_saved_tensors(device):
    a = ember.tensor(RNG.standard_normal(3), device=device, requires_grad=True)
    h = a * 1
    y = h * h  # saves h
    h[0] = 0.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ---- ops built on indexing ----------------------------------------------------------------------


def test_masked_select(device):
    for dtype in ("float32", "float64"):
        a = RNG.standard_normal((3, 4)).astype(dtype)
        m = RNG.random(4) > 0.5
        out = ember.masked_select(ember.tensor(a, device=device), ember.tensor(m, device=device))
        np.testing.assert_array_equal(to_numpy(out), np.broadcast_to(a, (3, 4))[np.broadcast_to(
            m, (3, 4))])
    x = ember.tensor(RNG.standard_normal(4), device=device, requires_grad=True)
    mask = ember.tensor(RNG.random((3, 4)) > 0.5, device=device)
    gradcheck(lambda t: t.masked_select(mask), (x,))
    gradgradcheck(lambda t: t.masked_select(mask), (x,))
    scalar = ember.tensor(2.0, device=device)
    assert ember.masked_select(scalar, ember.tensor(True, device=device)).shape == (1,)
    with pytest.raises(RuntimeError, match="BoolTensor"):
        ember.masked_select(x, ember.ones(4, device=device))


def test_take(device):
    a = RNG.standard_normal((3, 4))
    index = np.array([[0, 11], [5, 5]])
    x = ember.tensor(a, device=device, requires_grad=True)
    idx = ember.tensor(index, device=device)
    np.testing.assert_array_equal(to_numpy(ember.take(x, idx)), np.take(a, index))
    gradcheck(lambda t: t.take(idx), (x,))
    gradgradcheck(lambda t: t.take(idx), (x,))


def test_nonzero_and_argwhere(device):
    for a in [np.array([[0, 1.5, 0], [2, 0, 3]]), np.array([0, 0]), np.array(4.0),
              np.zeros((0, 2))]:
        x = ember.tensor(a, device=device)
        out = ember.nonzero(x)
        assert out.dtype == ember.int64
        np.testing.assert_array_equal(to_numpy(out), np.argwhere(a))
        np.testing.assert_array_equal(to_numpy(x.argwhere()), np.argwhere(a))
        parts = x.nonzero(as_tuple=True)
        expected = np.nonzero(np.atleast_1d(a))
        assert len(parts) == len(expected)
        for got, want in zip(parts, expected):
            np.testing.assert_array_equal(to_numpy(got), want)


def test_index_put(device):
    a = RNG.standard_normal((3, 4))
    rows, cols = np.array([0, 2, 0]), np.array([1, 3, 1])
    values = RNG.standard_normal(3)
    x = ember.tensor(a, device=device, requires_grad=True)
    idx = (ember.tensor(rows, device=device), ember.tensor(cols, device=device))
    v = ember.tensor(values, device=device, requires_grad=True)
    expected = a.copy()
    np.add.at(expected, (rows, cols), values)
    np.testing.assert_allclose(to_numpy(x.index_put(idx, v, accumulate=True)), expected)
    gradcheck(lambda t, u: t.index_put(idx, u, accumulate=True), (x, v))
    gradgradcheck(lambda t, u: t.index_put(idx, u, accumulate=True), (x, v))
    unique = (ember.tensor([0, 2], device=device), ember.tensor([1, 3], device=device))
    gradcheck(lambda t, u: t.index_put(unique, u), (x, v[:2]))
    h = ember.zeros(3, 4, dtype=ember.float64, device=device)
    h.index_put_(idx, v.detach(), accumulate=True)
    np.testing.assert_allclose(to_numpy(h), expected - a)
