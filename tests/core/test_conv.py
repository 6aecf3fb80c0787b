"""Convolutions against a direct loop over output positions, and their gradients."""

import itertools

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F


def ref_conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    ho = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, ho, wo))
    per_group = o // groups
    for b_, oc, i, j in itertools.product(range(n), range(o), range(ho), range(wo)):
        g = oc // per_group
        patch = xp[b_, g * cg:(g + 1) * cg,
                   i * stride[0]:i * stride[0] + dilation[0] * (kh - 1) + 1:dilation[0],
                   j * stride[1]:j * stride[1] + dilation[1] * (kw - 1) + 1:dilation[1]]
        out[b_, oc, i, j] = (patch * w[oc]).sum()
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def ref_conv_transpose2d(x, w, stride, padding, output_padding, groups=1):
    """Scatter form: every input pixel adds its weighted kernel into the output."""
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    ho = (h - 1) * stride[0] - 2 * padding[0] + kh + output_padding[0]
    wo = (wd - 1) * stride[1] - 2 * padding[1] + kw + output_padding[1]
    full = np.zeros((n, cog * groups, ho + 2 * padding[0] + kh, wo + 2 * padding[1] + kw))
    per_group = cin // groups
    for b_, ci, i, j in itertools.product(range(n), range(cin), range(h), range(wd)):
        g = ci // per_group
        full[b_, g * cog:(g + 1) * cog, i * stride[0]:i * stride[0] + kh,
             j * stride[1]:j * stride[1] + kw] += x[b_, ci, i, j] * w[ci]
    return full[:, :, padding[0]:padding[0] + ho, padding[1]:padding[1] + wo]


CONFIGS = [
    dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1),
    dict(stride=(2, 1), padding=(1, 2), dilation=(1, 1), groups=1),
    dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=1),
    dict(stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=2),
    dict(stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=4),  # depthwise
]


@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv2d_matches_direct_loop(config, dtype, device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 7, 6)).astype(dtype)
    w = rng.standard_normal((4, 4 // config["groups"], 3, 2)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    got = ember.conv2d(ember.tensor(x, device=device), ember.tensor(w, device=device),
                       ember.tensor(b, device=device), **config)
    assert got.dtype.name == dtype and got.device == device
    np.testing.assert_allclose(got.cpu().numpy(), ref_conv2d(x, w, b, **config),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("config", CONFIGS[:4], ids=str)
def test_conv2d_gradients_first_and_second_order(config, device):
    rng = np.random.default_rng(1)
    x = ember.tensor(rng.standard_normal((1, 2, 5, 4)), device=device, requires_grad=True)
    groups = min(config["groups"], 2)
    w = ember.tensor(rng.standard_normal((2, 2 // groups, 2, 2)), device=device,
                     requires_grad=True)
    b = ember.tensor(rng.standard_normal(2), device=device, requires_grad=True)
    cfg = dict(config, groups=groups)

    def fn(x, w, b):
        return ember.conv2d(x, w, b, **cfg)

    ember.autograd.gradcheck(fn, (x, w, b), fast_mode=False)
    ember.autograd.gradgradcheck(fn, (x, w, b))


def test_single_channel_conv2d_gradients_first_and_second_order():
    """A single input channel takes tap columns image by image (``single_channel_fits``)."""
    from ember.ops._conv_single_channel import single_channel_fits

    rng = np.random.default_rng(6)
    x = ember.tensor(rng.standard_normal((2, 1, 6, 5)), requires_grad=True)
    w = ember.tensor(rng.standard_normal((3, 1, 3, 2)), requires_grad=True)
    b = ember.tensor(rng.standard_normal(3), requires_grad=True)
    geometry = ((1, 1), (1, 2), (2, 1), 1)
    assert single_channel_fits(x.shape, w.shape, geometry)
    assert not single_channel_fits((2, 1, 200, 200), w.shape, geometry)  # too large

    def fn(x, w, b):
        return ember.conv2d(x, w, b, padding=(1, 2), dilation=(2, 1))

    ember.autograd.gradcheck(fn, (x, w, b), fast_mode=False)
    ember.autograd.gradgradcheck(fn, (x, w, b))


@pytest.mark.parametrize("chunk_elements", [1, 1000, 1 << 30], ids=["1-image", "2-4", "whole"])
@pytest.mark.parametrize("geometry", [
    dict(padding=(0, 0), dilation=(1, 1)), dict(padding=(2, 1), dilation=(1, 1)),
    dict(padding=(1, 2), dilation=(2, 1)), dict(padding=(3, 2), dilation=(2, 2)),
], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_single_channel_tap_columns_by_chunks(geometry, chunk_elements, dtype, monkeypatch,
                                              device):
    """The single-channel path (forward with and without bias, weight gradient alone) whatever
    its chunks of images and whatever its scratch buffers held before."""
    from ember.ops import _conv_single_channel
    from ember.ops._workspace import workspace

    monkeypatch.setattr(_conv_single_channel, "TAP_CHUNK_ELEMENTS", chunk_elements)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((7, 1, 8, 6)).astype(dtype)
    w = rng.standard_normal((3, 1, 3, 2)).astype(dtype)
    b = rng.standard_normal(3).astype(dtype)
    config = dict(stride=(1, 1), groups=1, **geometry)
    assert _conv_single_channel.single_channel_fits(
        x.shape, w.shape, ((1, 1), geometry["padding"], geometry["dilation"], 1))
    expected = ref_conv2d(x.astype(np.float64), w.astype(np.float64), b, **config)
    g = rng.standard_normal(expected.shape)
    _, grad_w = _loop_gradients(x.astype(np.float64), w.astype(np.float64), g, config)
    tol = 1e-4 if dtype == "float32" else 1e-10
    for bias in (None, b):
        for name in ("conv.tap_source", "conv.tap_shifted", "conv.tap_columns"):
            workspace(np, name, 1 << 12, np.float64)[:] = np.nan
        wt = ember.tensor(w, device=device, requires_grad=True)
        out = ember.conv2d(ember.tensor(x, device=device), wt,
                           None if bias is None else ember.tensor(bias, device=device),
                           padding=geometry["padding"], dilation=geometry["dilation"])
        assert out.dtype.name == dtype and out.device == device
        np.testing.assert_allclose(out.detach().cpu().numpy(), expected - (
            b.reshape(-1, 1, 1) if bias is None else 0), rtol=tol, atol=tol)
        (out * ember.tensor(g.astype(dtype), device=device)).sum().backward()
        np.testing.assert_allclose(wt.grad.cpu().numpy(), grad_w, rtol=tol, atol=tol)


def test_conv2d_by_kernel_rows_gradients_first_and_second_order():
    """Few outputs on a large enough image take the columns by kernel rows (``ColumnPlan``)."""
    from ember.ops import _conv_columns

    rng = np.random.default_rng(8)
    x = ember.tensor(rng.standard_normal((1, 2, 12, 11)), requires_grad=True)
    w = ember.tensor(rng.standard_normal((2, 2, 3, 2)), requires_grad=True)
    b = ember.tensor(rng.standard_normal(2), requires_grad=True)
    geometry = ((1, 1), (1, 0), (1, 1), 1)
    assert _conv_columns.ColumnPlan(np, x.shape, w.shape, geometry).parts == 3

    def fn(x, w, b):
        return ember.conv2d(x, w, b, padding=(1, 0))

    ember.autograd.gradcheck(fn, (x, w, b), fast_mode=False)
    ember.autograd.gradgradcheck(fn, (x, w, b))


def test_bias_is_part_of_the_conv2d_primitive():
    """As in PyTorch, the bias is the primitive's third input: one node, whose backward gives
    its per-channel gradient, alone or with the others."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 2, 6, 5))
    w, b = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    g = rng.standard_normal((3, 4, 4, 3))
    for needs in itertools.product((False, True), repeat=3):
        xt, wt, bt = (ember.tensor(a, requires_grad=r) for a, r in zip((x, w, b), needs))
        out = ember.conv2d(xt, wt, bt)
        np.testing.assert_allclose(out.detach().numpy(), ref_conv2d(x, w, b), rtol=1e-12)
        if not any(needs):
            assert out.grad_fn is None
            continue
        assert out.grad_fn.name == "conv2d" and len(out.grad_fn.next_functions) == 3
        (out * ember.tensor(g)).sum().backward()
        assert (bt.grad is not None) == needs[2]
        if needs[2]:
            np.testing.assert_allclose(bt.grad.numpy(), g.sum(axis=(0, 2, 3)), rtol=1e-12)


def test_conv2d_same_and_valid_padding():
    x = ember.tensor(np.random.default_rng(2).standard_normal((1, 1, 6, 5)))
    for k in (3, 4):
        w = ember.ones(1, 1, k, k, dtype=ember.float64)
        assert ember.conv2d(x, w, padding="same").shape == (1, 1, 6, 5)
    w = ember.ones(1, 1, 4, 2, dtype=ember.float64)
    same = ember.conv2d(x, w, padding="same").numpy()
    # PyTorch puts the odd extra padding at the bottom/right
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 2), (0, 1)))
    np.testing.assert_allclose(same, ref_conv2d(padded, w.numpy()), rtol=1e-10)
    assert ember.conv2d(x, w, padding="valid").shape == (1, 1, 3, 4)


def test_conv1d_and_unbatched_inputs(device):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9))
    w = rng.standard_normal((5, 3, 3))
    b = rng.standard_normal(5)
    got = ember.conv1d(ember.tensor(x, device=device), ember.tensor(w, device=device),
                       ember.tensor(b, device=device), stride=2, padding=1)
    ref = ref_conv2d(x[:, :, None], w[:, :, None], b, stride=(1, 2), padding=(0, 1))[:, :, 0]
    np.testing.assert_allclose(got.cpu().numpy(), ref, rtol=1e-10)
    unbatched = ember.conv2d(ember.tensor(x[0, :, None], device=device),
                             ember.tensor(w[:, :, None], device=device))
    assert unbatched.shape == (5, 1, 7)


@pytest.mark.parametrize("stride, padding, output_padding, groups",
                         [((1, 1), (0, 0), (0, 0), 1), ((2, 2), (1, 0), (1, 0), 1),
                          ((2, 1), (0, 1), (1, 0), 2)])
def test_conv_transpose2d_matches_scatter_reference(stride, padding, output_padding, groups,
                                                    device):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 3, 4))
    w = rng.standard_normal((4, 3, 3, 2))
    got = ember.conv_transpose2d(ember.tensor(x, device=device), ember.tensor(w, device=device),
                                 stride=stride, padding=padding, output_padding=output_padding,
                                 groups=groups)
    ref = ref_conv_transpose2d(x, w, stride, padding, output_padding, groups)
    np.testing.assert_allclose(got.cpu().numpy(), ref, rtol=1e-10, atol=1e-10)
    xt = ember.tensor(x[:1, :, :2, :3], device=device, requires_grad=True)
    wt = ember.tensor(w[:, :1], device=device, requires_grad=True) if groups == 1 else \
        ember.tensor(w[:, :2], device=device, requires_grad=True)

    def fn(a, b):
        return ember.conv_transpose2d(a, b, stride=stride, padding=padding,
                                      output_padding=output_padding, groups=groups)

    ember.autograd.gradcheck(fn, (xt, wt))
    ember.autograd.gradgradcheck(fn, (xt, wt))


def test_conv_errors_name_shapes():
    x = ember.zeros(1, 3, 5, 5)
    with pytest.raises(RuntimeError, match=r"conv2d: input of shape \(1, 3, 5, 5\) has 3 channels"):
        ember.conv2d(x, ember.zeros(2, 4, 3, 3))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
        ember.conv2d(x, ember.zeros(2, 3, 7, 7))
    with pytest.raises(RuntimeError, match="expected 3-D"):
        ember.conv2d(ember.zeros(5, 5), ember.zeros(2, 3, 3, 3))
    with pytest.raises(RuntimeError, match="same dtype"):
        ember.conv2d(x, ember.zeros(2, 3, 3, 3, dtype=ember.float64))
    with pytest.raises(RuntimeError, match=r"conv2d: weight of shape \(2, 3, 3, 3\) expects a "
                       r"bias of shape \(2,\), got bias of shape \(3,\)"):
        ember.conv2d(x, ember.zeros(2, 3, 3, 3), ember.zeros(3))
    with pytest.raises(RuntimeError, match=r"conv1d: input \(ember.float32\) and bias "
                       r"\(ember.float64\) must have the same dtype"):
        ember.conv1d(ember.zeros(1, 3, 5), ember.zeros(2, 3, 3),
                     ember.zeros(2, dtype=ember.float64))


# Geometries that take each column layout: row-flat by kernel rows (stride 1, few outputs, few
# discarded positions: square, grouped and dilated, a 3x2 and a 3x1 kernel), batch innermost
# (stride 1 with many discarded positions: plain, grouped and dilated, unpadded), 1x1, strided,
# col2im's stride phases (1x1 strided, dilated strided, strides 3 and 2), and the tap columns
# of a single input channel (plain, then padded and dilated).
LAYOUT_CASES = [
    dict(shape=(2, 4, 15, 14), kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1),
         groups=1),
    dict(shape=(2, 4, 30, 29), kernel=(3, 3), stride=(1, 1), padding=(2, 2), dilation=(2, 2),
         groups=2),
    dict(shape=(2, 4, 15, 14), kernel=(3, 2), stride=(1, 1), padding=(1, 0), dilation=(1, 1),
         groups=1),
    dict(shape=(3, 4, 9, 8), kernel=(3, 1), stride=(1, 1), padding=(1, 0), dilation=(1, 1),
         groups=1),
    dict(shape=(3, 4, 9, 8), kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1),
         groups=1),
    dict(shape=(5, 4, 4, 3), kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1),
         groups=1),  # rows shorter than a chunk's images: each chunk padded whole
    dict(shape=(3, 4, 9, 8), kernel=(3, 3), stride=(1, 1), padding=(2, 2), dilation=(2, 2),
         groups=2),
    dict(shape=(3, 2, 7, 5), kernel=(3, 3), stride=(1, 1), padding=(0, 0), dilation=(1, 1),
         groups=1),
    dict(shape=(3, 4, 6, 6), kernel=(1, 1), stride=(1, 1), padding=(0, 0), dilation=(1, 1),
         groups=1),
    dict(shape=(3, 4, 9, 8), kernel=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 1),
         groups=1),
    dict(shape=(3, 2, 6, 6), kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1),
         groups=1, out_channels=8),  # many outputs per input: the col2im adjoint
    dict(shape=(3, 4, 9, 8), kernel=(1, 1), stride=(2, 2), padding=(0, 0), dilation=(1, 1),
         groups=1),  # col2im phases no tap reaches
    dict(shape=(2, 4, 9, 8), kernel=(3, 3), stride=(2, 2), padding=(1, 2), dilation=(2, 2),
         groups=2),
    dict(shape=(2, 4, 10, 11), kernel=(2, 3), stride=(3, 2), padding=(1, 0), dilation=(1, 1),
         groups=1),
    dict(shape=(3, 1, 7, 6), kernel=(3, 2), stride=(1, 1), padding=(0, 0), dilation=(1, 1),
         groups=1),
    dict(shape=(3, 1, 9, 8), kernel=(3, 3), stride=(1, 1), padding=(2, 1), dilation=(2, 2),
         groups=1),
]


@pytest.mark.parametrize("chunk_elements", [1, 600, 1 << 30], ids=["1-image", "2-3", "whole"])
@pytest.mark.parametrize("case", LAYOUT_CASES, ids=str)
def test_conv2d_chunks_and_layouts_agree_with_the_direct_loop(case, chunk_elements,
                                                              monkeypatch):
    """Forward and both gradients whatever the chunking, for NCHW and channels-first inputs,
    whatever the scratch buffers held before."""
    from ember.ops import _conv_columns

    monkeypatch.setattr(_conv_columns, "CHUNK_ELEMENTS", chunk_elements)
    monkeypatch.setattr(_conv_columns, "BY_ROWS_CHUNK_ELEMENTS", chunk_elements)
    monkeypatch.setattr(_conv_columns, "BATCH_INNER_PRODUCT_ELEMENTS", chunk_elements)
    # gradient columns copied image by image in the chunks of 2-3 images, whole chunks else
    monkeypatch.setattr(_conv_columns, "BY_IMAGE_ELEMENTS", 1 if chunk_elements == 600 else
                        1 << 30)
    case = dict(case)
    shape, kernel, out_channels = case.pop("shape"), case.pop("kernel"), case.pop(
        "out_channels", 4)
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((out_channels, shape[1] // case["groups"]) + kernel)
    b = rng.standard_normal(out_channels)
    expected = ref_conv2d(x, w, **case)
    g = rng.standard_normal(expected.shape)
    grad_x, grad_w = _loop_gradients(x, w, g, case)
    for channels_first in (False, True):
        data = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3) \
            if channels_first else x
        xt = ember.tensor(data, requires_grad=True)
        wt = ember.tensor(w, requires_grad=True)
        bt = ember.tensor(b, requires_grad=True) if channels_first else None
        _poison_workspaces()
        out = ember.conv2d(xt, wt, bt, **case)
        np.testing.assert_allclose(out.detach().numpy(), expected + (
            b.reshape(-1, 1, 1) if channels_first else 0), rtol=1e-10, atol=1e-10)
        (out * ember.tensor(g)).sum().backward()
        np.testing.assert_allclose(xt.grad.numpy(), grad_x, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(wt.grad.numpy(), grad_w, rtol=1e-10, atol=1e-10)
        if channels_first:
            np.testing.assert_allclose(bt.grad.numpy(), g.sum(axis=(0, 2, 3)), rtol=1e-10)
    # the weight gradient alone (an input that needs no gradient) takes its own path
    wt = ember.tensor(w, requires_grad=True)
    _poison_workspaces()
    (ember.conv2d(ember.tensor(x), wt, **case) * ember.tensor(g)).sum().backward()
    np.testing.assert_allclose(wt.grad.numpy(), grad_w, rtol=1e-10, atol=1e-10)


def _poison_workspaces():
    """Fill conv's reused scratch buffers with NaN: padding and discarded positions must be
    written on every call, whatever an earlier call left there."""
    from ember.ops._workspace import workspace

    for name in ("conv.source", "conv.columns", "conv.product", "conv.partial",
                 "conv.grad_columns"):
        workspace(np, name, 1 << 16, np.float64)[:] = np.nan


def _loop_gradients(x, w, g, config):
    """dL/dx and dL/dw of L = sum(conv(x, w) * g), accumulated patch by patch."""
    stride, padding, dilation, groups = (config["stride"], config["padding"],
                                         config["dilation"], config["groups"])
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    grad_xp, grad_w = np.zeros_like(xp), np.zeros_like(w)
    per_group = o // groups
    for b_, oc, i, j in itertools.product(*(range(n) for n in (g.shape[0], o) + g.shape[2:])):
        c0 = (oc // per_group) * cg
        rows = slice(i * stride[0], i * stride[0] + dilation[0] * (kh - 1) + 1, dilation[0])
        cols = slice(j * stride[1], j * stride[1] + dilation[1] * (kw - 1) + 1, dilation[1])
        grad_w[oc] += g[b_, oc, i, j] * xp[b_, c0:c0 + cg, rows, cols]
        grad_xp[b_, c0:c0 + cg, rows, cols] += g[b_, oc, i, j] * w[oc]
    h, wd = x.shape[2:]
    return grad_xp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + wd], grad_w


def test_conv_output_is_contiguous_so_view_flattens_it():
    # PyTorch's MNIST example: conv -> max_pool -> relu, then x.view(-1, 320).
    x = ember.randn(4, 1, 28, 28)
    conv1, conv2 = nn.Conv2d(1, 10, 5), nn.Conv2d(10, 20, 5)
    h = F.relu(F.max_pool2d(conv1(x), 2))
    h = F.relu(F.max_pool2d(conv2(h), 2))
    assert h.is_contiguous()
    flat = h.view(-1, 320)
    assert flat.shape == (4, 320)
    np.testing.assert_array_equal(flat.detach().numpy(), h.detach().numpy().reshape(4, 320))
