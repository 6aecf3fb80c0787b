"""conv2d's input gradient where it is not the flipped-kernel convolution: banded products
(stride 1, many outputs per input channel) and 1x1 kernels, against a patch-by-patch loop, and
their gradchecks."""

import itertools

import numpy as np
import pytest

import ember
from ember.ops import _conv_input_grads, conv
from ember.ops._workspace import workspace

# (x shape, weight shape, padding, dilation, groups); every one has more output channels than
# twice its input channels, or more padding than the kernel spans: no flipped-kernel adjoint
CASES = [
    ((3, 2, 7, 9), (8, 2, 3, 3), (0, 0), (1, 1), 1),
    ((2, 3, 6, 8), (12, 3, 2, 4), (1, 2), (1, 1), 1),
    ((2, 4, 9, 7), (10, 2, 3, 2), (2, 1), (2, 3), 2),
    ((2, 1, 5, 4), (4, 1, 2, 2), (3, 2), (1, 1), 1),  # padding beyond the kernel
    ((1, 2, 3, 3), (6, 2, 2, 2), (3, 3), (5, 5), 1),  # columns no tap reaches
]


def _loop_input_grad(g, w, x_shape, padding, dilation, groups, stride=(1, 1)):
    n, c, h, wd = x_shape
    o, cg, kh, kw = w.shape
    grad = np.zeros((n, c, h + 2 * padding[0], wd + 2 * padding[1]))
    per_group = o // groups
    for b, oc, i, j in itertools.product(*(range(s) for s in g.shape)):
        first = (oc // per_group) * cg
        top, left = i * stride[0], j * stride[1]
        rows = slice(top, top + dilation[0] * (kh - 1) + 1, dilation[0])
        cols = slice(left, left + dilation[1] * (kw - 1) + 1, dilation[1])
        grad[b, first:first + cg, rows, cols] += g[b, oc, i, j] * w[oc]
    return grad[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + wd]


def _assert_input_grad_matches_the_loop(case):
    """conv2d's input gradient in ``case`` (float64) against the patch loop, C-contiguous."""
    x_shape, w_shape, padding, dilation, groups = case
    rng = np.random.default_rng(3)
    x = ember.tensor(rng.standard_normal(x_shape), requires_grad=True)
    w = rng.standard_normal(w_shape)
    out = ember.conv2d(x, ember.tensor(w), padding=padding, dilation=dilation, groups=groups)
    g = rng.standard_normal(out.shape)
    (out * ember.tensor(g)).sum().backward()
    expected = _loop_input_grad(g, w, x_shape, padding, dilation, groups)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-10, atol=1e-10)
    assert x.grad.numpy().flags.c_contiguous


@pytest.mark.parametrize("band_rows", [1, _conv_input_grads.BAND_ROWS, 1 << 20],
                         ids=["1", "default", "all"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_input_grad_by_bands_matches_the_loop(case, band_rows, monkeypatch):
    _, w_shape, padding, dilation, groups = case
    assert conv._adjoint_geometry(w_shape, ((1, 1), padding, dilation, groups)) is None
    monkeypatch.setattr(_conv_input_grads, "BAND_ROWS", band_rows)
    for name in ("conv.band_columns", "conv.band_rows", "conv.band_sums", "conv.band"):
        workspace(np, name, 1 << 16, np.float64)[:] = np.nan  # stale scratch must not leak
    _assert_input_grad_matches_the_loop(case)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_input_grad_of_a_wide_band_takes_col2im(case, monkeypatch):
    """A band above ``BAND_ELEMENTS`` (it grows as W * Wo) is not built: col2im sums instead."""
    monkeypatch.setattr(_conv_input_grads, "BAND_ELEMENTS", 0)
    # would raise if still called
    monkeypatch.setattr(_conv_input_grads, "_input_grad_by_bands", None)
    _assert_input_grad_matches_the_loop(case)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_input_grad_by_bands_dtypes_and_devices(dtype, device):
    x_shape, w_shape, padding, dilation, groups = CASES[2]
    rng = np.random.default_rng(4)
    g = rng.standard_normal((2, 10, 9, 6)).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    got = ember.conv_transpose2d(ember.tensor(g, device=device), ember.tensor(
        w, device=device), padding=padding, groups=groups, dilation=dilation)
    assert got.dtype.name == dtype and got.shape == x_shape
    np.testing.assert_allclose(got.cpu().numpy(), _loop_input_grad(
        g.astype(np.float64), w.astype(np.float64), x_shape, padding, dilation, groups),
        rtol=1e-4, atol=1e-4)


def test_input_grad_by_bands_gradients_first_and_second_order(monkeypatch):
    monkeypatch.setattr(_conv_input_grads, "BAND_ROWS", 1)  # several blocks of columns
    rng = np.random.default_rng(5)
    x = ember.tensor(rng.standard_normal((2, 2, 5, 6)), requires_grad=True)
    w = ember.tensor(rng.standard_normal((6, 1, 2, 3)), requires_grad=True)
    b = ember.tensor(rng.standard_normal(6), requires_grad=True)
    assert conv._adjoint_geometry(w.shape, ((1, 1), (1, 2), (1, 1), 2)) is None

    def fn(x, w, b):
        return ember.conv2d(x, w, b, padding=(1, 2), groups=2)

    ember.autograd.gradcheck(fn, (x, w, b), fast_mode=False)
    ember.autograd.gradgradcheck(fn, (x, w, b))


@pytest.mark.parametrize("stride, padding, groups", [
    ((2, 2), (0, 0), 1),  # ResNet's projection shortcuts
    ((3, 2), (1, 2), 2),
    ((1, 1), (2, 1), 1),
    ((3, 3), (1, 1), 1),  # input pixels no output reads
], ids=str)
def test_pointwise_input_grad_matches_the_loop(stride, padding, groups, device):
    rng = np.random.default_rng(6)
    x_shape = (2, 4, 7, 8)
    w = rng.standard_normal((6, 4 // groups, 1, 1))
    x = ember.tensor(rng.standard_normal(x_shape), device=device, requires_grad=True)
    out = ember.conv2d(x, ember.tensor(w, device=device), stride=stride, padding=padding,
                       groups=groups)
    g = rng.standard_normal(out.shape)
    (out * ember.tensor(g, device=device)).sum().backward()
    expected = _loop_input_grad(g, w, x_shape, padding, (1, 1), groups, stride)
    np.testing.assert_allclose(x.grad.cpu().numpy(), expected, rtol=1e-10, atol=1e-10)


def test_pointwise_input_grad_gradients_first_and_second_order():
    rng = np.random.default_rng(7)
    x = ember.tensor(rng.standard_normal((2, 2, 5, 4)), requires_grad=True)
    w = ember.tensor(rng.standard_normal((3, 2, 1, 1)), requires_grad=True)

    def fn(x, w):
        return ember.conv2d(x, w, stride=2, padding=1)

    ember.autograd.gradcheck(fn, (x, w), fast_mode=False)
    ember.autograd.gradgradcheck(fn, (x, w))
