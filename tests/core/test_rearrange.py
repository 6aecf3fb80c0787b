import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from harness import OpCase, check_op

_NUMPY_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
                "circular": "wrap"}


def _pad_ref(a, pad, mode="constant", value=None):
    widths = [[0, 0] for _ in range(a.ndim)]
    for k in range(len(pad) // 2):
        widths[a.ndim - 1 - k] = [pad[2 * k], pad[2 * k + 1]]
    crop = tuple(slice(max(-lo, 0), a.shape[i] - max(-hi, 0)) for i, (lo, hi) in enumerate(widths))
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    extra = {"constant_values": value or 0} if mode == "constant" else {}
    return np.pad(a[crop], widths, mode=_NUMPY_MODES[mode], **extra)


def _diag_embed_ref(a, offset=0, dim1=-2, dim2=-1):
    size = a.shape[-1] + abs(offset)
    out = np.zeros(a.shape[:-1] + (size, size), a.dtype)
    for index in np.ndindex(a.shape[:-1]):
        out[index] = np.diag(a[index], offset)
    return np.moveaxis(out, (-2, -1), (dim1, dim2))


def _repeat(x, repeats):
    return x.repeat(*repeats)


CASES = [
    OpCase("flip", lambda a, dims: np.flip(a, dims), [(2, 3, 4)], kwargs={"dims": (0, -1)}),
    OpCase("flip", lambda a, dims: np.flip(a, dims), [(0, 2), (3,)], kwargs={"dims": 0},
           id="flip-int"),
    OpCase("fliplr", np.fliplr, [(2, 3)]),
    OpCase("flipud", np.flipud, [(2, 3), (3,)]),
    OpCase("rot90", lambda a, k: np.rot90(a, k), [(2, 3)], kwargs={"k": 1}),
    OpCase("rot90", lambda a, k, dims: np.rot90(a, k, dims), [(2, 3, 4)],
           kwargs={"k": -1, "dims": (2, 0)}, id="rot90-dims"),
    OpCase("rot90", lambda a, k: np.rot90(a, k), [(2, 3)], kwargs={"k": 2}, id="rot90-2"),
    OpCase("roll", lambda a, shifts, dims: np.roll(a, shifts, dims), [(2, 3, 4)],
           kwargs={"shifts": (1, -2), "dims": (0, -1)}),
    OpCase("roll", lambda a, shifts: np.roll(a, shifts), [(3, 4), ()], kwargs={"shifts": 5},
           id="roll-flat"),
    OpCase("repeat", lambda a, repeats: np.tile(a, repeats), [(2, 3)],
           kwargs={"repeats": (2, 1, 3)}, fn=_repeat),
    OpCase("repeat", lambda a, repeats: np.tile(a, repeats), [(), (2,)],
           kwargs={"repeats": (3, 2)}, fn=_repeat, id="repeat-small"),
    OpCase("repeat", lambda a, repeats: np.tile(a, repeats), [(2, 3)],
           kwargs={"repeats": (0, 2)}, fn=_repeat, id="repeat-zero"),
    OpCase("tile", lambda a, dims: np.tile(a, dims), [(2, 3), (3,)], kwargs={"dims": (2, 2)}),
    OpCase("tile", lambda a, dims: np.tile(a, dims), [(2, 3)], kwargs={"dims": (2,)},
           id="tile-short"),
    OpCase("tril", lambda a, diagonal: np.tril(a, diagonal), [(3, 4), (2, 3, 3)],
           kwargs={"diagonal": -1}),
    OpCase("triu", lambda a, diagonal: np.triu(a, diagonal), [(3, 4), (2, 0, 3)],
           kwargs={"diagonal": 1}),
    OpCase("triu", np.triu, [(4, 3)], id="triu-default"),
    OpCase("diagonal", lambda a: np.diagonal(a).copy(), [(3, 4), (2, 2, 3)]),
    OpCase("diagonal", lambda a, offset, dim1, dim2: np.diagonal(a, offset, dim1, dim2).copy(),
           [(3, 4, 2)], kwargs={"offset": 1, "dim1": -1, "dim2": 0}, id="diagonal-dims"),
    OpCase("diagonal", lambda a, offset: np.diagonal(a, offset).copy(), [(3, 4)],
           kwargs={"offset": -5}, id="diagonal-empty"),
    OpCase("diag", lambda a, diagonal: np.diag(a, diagonal), [(3,), (3, 4)],
           kwargs={"diagonal": 1}),
    OpCase("diag", lambda a, diagonal: np.diag(a, diagonal), [(3, 4)], kwargs={"diagonal": -1},
           id="diag-below"),
    OpCase("diag_embed", _diag_embed_ref, [(2, 3)]),
    OpCase("diag_embed", _diag_embed_ref, [(2, 3)], kwargs={"offset": -1, "dim1": 2, "dim2": 0},
           id="diag_embed-dims"),
    OpCase("pad", _pad_ref, [(2, 3), (0, 2)], kwargs={"pad": (1, 2, 0, 1), "value": 1.5}),
    OpCase("pad", _pad_ref, [(3, 4)], kwargs={"pad": (-1, 2, 1, -2)}, id="pad-crop"),
    OpCase("pad", _pad_ref, [(2, 3)], kwargs={"pad": (0, 0)}, id="pad-zero"),
    OpCase("pad", _pad_ref, [(2, 2, 5)], kwargs={"pad": (2, 4), "mode": "reflect"},
           id="pad-reflect"),
    OpCase("pad", _pad_ref, [(1, 3, 4)], kwargs={"pad": (1, 3, 2, 0), "mode": "reflect"},
           id="pad-reflect-2d"),
    OpCase("pad", _pad_ref, [(1, 2, 2, 3)], kwargs={"pad": (4, 1, 0, 2), "mode": "replicate"},
           id="pad-replicate"),
    OpCase("pad", _pad_ref, [(1, 1, 2, 2, 2)], kwargs={"pad": (1, 0, 0, 1, 1, 1),
           "mode": "replicate"}, id="pad-replicate-3d"),
    OpCase("pad", _pad_ref, [(2, 4), (1, 2, 5)], kwargs={"pad": (3, 4), "mode": "circular"},
           id="pad-circular"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


def test_new_memory_except_diagonal():
    x = ember.clone(ember.arange(12.0).reshape(3, 4))
    copies = [x.flip(0), x.roll(1), x.repeat(1, 1), x.tile((1,)), x.tril(), ember.diag(x),
              ember.pad(x, (0, 0)), ember.pad(x, (1, 1), mode="reflect"), x.rot90(0)]
    for out in copies:
        assert not out.is_view and not np.shares_memory(out.data, x.data)
    d = x.diagonal(1)
    assert d._base is x and d._version is x._version
    d.data[...] = -1.0  # PyTorch's diagonal is a writable view
    np.testing.assert_array_equal(x.numpy()[[0, 1, 2], [1, 2, 3]], [-1.0, -1.0, -1.0])


def test_pad_is_reachable_for_functional_and_keeps_integer_dtypes():
    x = ember.tensor([[1, 2, 3]])
    out = ember.pad(x, [1, 1], mode="replicate")
    assert out.dtype == ember.int64
    np.testing.assert_array_equal(out.numpy(), [[1, 1, 2, 3, 3]])
    assert ember.pad(ember.zeros(2, dtype=ember.bool), (1, 0), value=True).tolist() == [
        True, False, False]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x: x.flip(0, 0), RuntimeError, "appears multiple times"),
        (lambda x: x.flip(2), IndexError, r"flip: .*\[-2, 1\], but got 2"),
        (lambda x: x.roll((1, 2)), RuntimeError, "shifts and dimensions must align"),
        (lambda x: x.roll(1, (0, 1)), RuntimeError, "shifts: 1, dims:2"),
        (lambda x: x.repeat(2), RuntimeError, "can not be smaller than number of dimensions"),
        (lambda x: x.repeat(2, -1), RuntimeError, "negative dimension"),
        (lambda x: x.sum(0).tril(), RuntimeError, "at least 2 dimensions"),
        (lambda x: x.diagonal(0, 1, -1), RuntimeError, "diagonal dimensions cannot be identical"),
        (lambda x: x.diagonal(0, 0, 2), IndexError, r"diagonal: .*but got 2\)"),
        (lambda x: ember.diag(x.unsqueeze(0)), RuntimeError, "Supports 1D or 2D tensors. Got 3D"),
        (lambda x: ember.diag_embed(x.sum()), RuntimeError, "at least 1 dimension"),
        (lambda x: x.rot90(1, (0,)), RuntimeError, "expected total rotation dims == 2"),
        (lambda x: x.rot90(1, (1, -1)), RuntimeError, "rotation dims to be different"),
        (lambda x: ember.pad(x, (1,)), RuntimeError, "Padding length must be divisible by 2"),
        (lambda x: ember.pad(x, (1,) * 6), RuntimeError,
         "padding length 6 and input of dimension 2"),
        (lambda x: ember.pad(x, (3, 0), mode="reflect"), RuntimeError,
         r"Padding size should be less than the corresponding input dimension, but got: "
         r"padding \(3, 0\) at dimension 1 of input \[2, 3\]"),
        (lambda x: ember.pad(x, (4, 0), mode="circular"), RuntimeError, "wrapping around"),
        (lambda x: ember.pad(x, (1, 0), mode="reflect", value=2.0), RuntimeError,
         "doesn't take in value argument"),
        (lambda x: ember.pad(x, (1, 1), mode="nearest"), NotImplementedError,
         "unrecognised padding mode 'nearest'"),
        (lambda x: ember.pad(x, (1, 1, 1, 1), mode="replicate"), NotImplementedError,
         "only 2D, 3D, 4D, 5D padding"),
        (lambda x: ember.pad(x, (-1, 1), mode="circular"), RuntimeError, "negative padding"),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(ember.zeros(2, 3))


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from(["constant", "reflect", "replicate", "circular"]),
    st.lists(st.integers(1, 4), min_size=2, max_size=3),
    st.data(),
)
def test_pad_matches_numpy_and_its_gradient_is_the_adjoint(mode, shape, data):
    """<pad(x), w> == <x, grad> for the gradient of pad at x along w (pad is linear)."""
    count = data.draw(st.integers(1, len(shape) - 1))
    pad = []
    for size in reversed(shape[len(shape) - count:]):
        limit = {"reflect": size - 1, "circular": size}.get(mode, 3)
        pad += [data.draw(st.integers(-1 if mode == "constant" else 0, limit)) for _ in range(2)]
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal(shape)
    x = ember.tensor(a, requires_grad=True)
    out = ember.pad(x, pad, mode=mode)
    expected = _pad_ref(a, pad, mode)
    np.testing.assert_allclose(out.detach().numpy(), expected)
    w = rng.standard_normal(expected.shape)
    (grad,) = ember.autograd.grad(out, x, ember.tensor(w))
    np.testing.assert_allclose(float((grad.numpy() * a).sum()), float((expected * w).sum()),
                               rtol=1e-10, atol=1e-10)
