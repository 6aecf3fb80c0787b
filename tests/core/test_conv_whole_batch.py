"""The whole-batch convolution (ops/_conv_whole_batch.py, the GPU path) run on the CPU: its
numpy im2col/col2im against loops, its forward and gradients against the chunked CPU path of
ops/conv.py over many geometries, float64 gradchecks through it, and the CUDA kernels' bodies
(backend/conv_kernels.py) run as host C++ against the numpy im2col/col2im. On a GPU the cuda
tests at the end compare conv2d, conv1d and the transposed convolutions with the CPU."""

import shutil

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from cpu_kernels import CpuKernels
from ember.autograd import gradcheck, gradgradcheck
from ember.backend import col2im, conv_kernels, im2col
from ember.ops import _conv_whole_batch as whole
from ember.ops import conv
from ember.ops._windows import output_size

# (N, C, H, W), (O, C/G, kh, kw), stride, padding, dilation, groups
GEOMETRIES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),  # ResNet-like 3x3
    ((2, 4, 8, 8), (6, 4, 3, 3), (2, 2), (1, 1), (1, 1), 1),  # ResNet's stride-2 3x3
    ((2, 4, 8, 8), (6, 4, 1, 1), (2, 2), (0, 0), (1, 1), 1),  # ResNet's 1x1 shortcut
    ((3, 1, 12, 12), (5, 1, 5, 5), (1, 1), (0, 0), (1, 1), 1),  # LeNet-5's first layer
    ((3, 6, 9, 9), (7, 6, 5, 5), (1, 1), (0, 0), (1, 1), 1),  # LeNet-5's second layer
    ((2, 6, 9, 8), (4, 3, 3, 2), (1, 2), (2, 1), (2, 1), 2),  # groups, non-square, dilation
    ((2, 4, 7, 7), (4, 1, 3, 3), (2, 1), (1, 1), (1, 1), 4),  # depthwise
    ((1, 2, 5, 9), (3, 2, 1, 3), (3, 2), (0, 2), (1, 2), 1),  # kernel smaller than stride
    ((2, 2, 6, 6), (3, 2, 2, 2), (1, 1), (3, 3), (1, 1), 1),  # padding wider than the kernel
]


def _ids(case):
    return f"x{case[0]}w{case[1]}s{case[2]}p{case[3]}d{case[4]}g{case[5]}".replace(" ", "")


def _arrays(case, dtype=np.float64, seed=0):
    x_shape, w_shape, stride, padding, dilation, groups = case
    rng = np.random.default_rng(seed)
    geometry = (stride, padding, dilation, groups)
    out_size = tuple(output_size(x_shape[2 + a], w_shape[2 + a], stride[a], padding[a],
                                 dilation[a]) for a in (0, 1))
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    grad = rng.standard_normal((x_shape[0], w_shape[0]) + out_size).astype(dtype)
    return x, w, grad, geometry, out_size


def _naive_im2col(x, kernel, geometry, out_size):
    (sh, sw), (ph, pw), (dh, dw), _ = geometry
    n, c, h, w = x.shape
    cols = np.zeros((c, kernel[0], kernel[1], n, out_size[0], out_size[1]), x.dtype)
    for c_, i, j, n_, u, v in np.ndindex(cols.shape):
        y, x_at = u * sh - ph + i * dh, v * sw - pw + j * dw
        if 0 <= y < h and 0 <= x_at < w:
            cols[c_, i, j, n_, u, v] = x[n_, c_, y, x_at]
    return cols.reshape(c * kernel[0] * kernel[1], n, -1)


@pytest.mark.parametrize("case", GEOMETRIES, ids=_ids)
def test_im2col_is_the_loop_and_col2im_its_adjoint(case):
    x, w, _, geometry, out_size = _arrays(case)
    cols = im2col(x, w.shape[2:], geometry, out_size)
    np.testing.assert_array_equal(cols, _naive_im2col(x, w.shape[2:], geometry, out_size))
    other = np.random.default_rng(1).standard_normal(cols.shape)
    back = col2im(other, x.shape, w.shape[2:], geometry, out_size)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.vdot(cols, other), np.vdot(x, back), rtol=1e-12)


@pytest.mark.parametrize("limit", [whole.COLUMN_LIMIT, 1], ids=["whole", "image_by_image"])
@pytest.mark.parametrize("case", GEOMETRIES, ids=_ids)
def test_whole_batch_equals_the_chunked_cpu_path(case, limit, monkeypatch):
    monkeypatch.setattr(whole, "COLUMN_LIMIT", limit)  # 1: one image at a time (huge layers)
    x, w, grad, geometry, _ = _arrays(case, np.float32)
    bias = np.linspace(-1, 1, w.shape[0], dtype=np.float32)
    close = {"rtol": 1e-4, "atol": 1e-4}
    np.testing.assert_allclose(whole.whole_batch_forward(np, x, w, geometry, bias),
                               conv._conv_forward(np, x, w, geometry, bias), **close)
    grad_x = conv._input_grad(np, grad, w, x.shape, geometry)
    grad_w = conv._weight_grad(np, x, grad, w.shape, geometry)
    np.testing.assert_allclose(whole.whole_batch_input_grad(np, grad, w, x.shape, geometry),
                               grad_x, **close)
    np.testing.assert_allclose(whole.whole_batch_weight_grad(np, x, grad, w.shape, geometry),
                               grad_w, **close)
    both = whole.whole_batch_both_grads(np, x, w, grad, geometry)
    np.testing.assert_allclose(both[0], grad_x, **close)
    np.testing.assert_allclose(both[1], grad_w, **close)


@pytest.fixture
def whole_batch(monkeypatch):
    """ops/conv.py takes the whole-batch path for numpy arrays too (it dispatches on
    ``xp is not np``)."""
    monkeypatch.setattr(conv, "np", object())


@pytest.mark.parametrize("case", GEOMETRIES[:6], ids=_ids)
def test_gradcheck_through_the_whole_batch_path(case, whole_batch):
    x, w, _, geometry, _ = _arrays(case)
    stride, padding, dilation, groups = geometry
    x = ember.tensor(x[:, :, :5, :5].copy(), requires_grad=True)
    w = ember.tensor(w, requires_grad=True)
    b = ember.tensor(np.arange(w.shape[0], dtype=np.float64), requires_grad=True)
    padding = tuple(max(p, d * (k - 1) // 2) for p, d, k in zip(padding, dilation, w.shape[2:]))

    def f(x, w, b):
        return F.conv2d(x, w, b, stride, padding, dilation, groups)

    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


def test_conv1d_and_transposed_through_the_whole_batch_path(whole_batch):
    rng = np.random.default_rng(2)
    x1 = ember.tensor(rng.standard_normal((2, 4, 9)), requires_grad=True)
    w1 = ember.tensor(rng.standard_normal((6, 2, 3)), requires_grad=True)
    assert gradcheck(lambda x, w: F.conv1d(x, w, None, 2, 1, 2, 2), (x1, w1))
    xt = ember.tensor(rng.standard_normal((2, 4, 4, 3)), requires_grad=True)
    wt = ember.tensor(rng.standard_normal((4, 3, 3, 2)), requires_grad=True)
    bt = ember.tensor(rng.standard_normal(6), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1, 2, 1), (xt, wt, bt))
    assert gradgradcheck(lambda x, w: F.conv_transpose1d(x[..., 0], w[..., 0], None, 2, 1),
                         (xt, wt))


def test_whole_batch_public_ops_equal_the_cpu_path(monkeypatch):
    rng = np.random.default_rng(3)
    x = ember.tensor(rng.standard_normal((2, 4, 7, 7)).astype(np.float32))
    w = ember.tensor(rng.standard_normal((6, 2, 3, 3)).astype(np.float32))
    wt = ember.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    calls = [lambda: F.conv2d(x, w, None, 2, 1, 1, 2),
             lambda: F.conv1d(x[..., 0], w[..., 0], None, 1, 1, 1, 2),
             lambda: F.conv_transpose2d(x, wt, None, 2, 1, 1, 2)]
    expected = [call().numpy() for call in calls]
    monkeypatch.setattr(conv, "np", object())
    for call, value in zip(calls, expected):
        np.testing.assert_allclose(call().numpy(), value, rtol=1e-5, atol=1e-5)


# The CUDA kernels' bodies on the CPU.


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    return CpuKernels(tmp_path_factory.mktemp("conv_kernels"), conv_kernels.SIGNATURES)


@pytest.fixture
def kernels(compiled, monkeypatch):
    """numpy arrays stand for cupy ones: im2col and col2im launch their kernels' host builds."""
    monkeypatch.setattr(conv_kernels, "_on_gpu", lambda array: True)
    monkeypatch.setattr(conv_kernels, "_launch", compiled.launch)
    compiled.launches.clear()
    return compiled


needs_compiler = pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler")


@needs_compiler
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=str)
@pytest.mark.parametrize("case", GEOMETRIES, ids=_ids)
def test_kernels_equal_the_numpy_im2col_and_col2im(case, dtype, kernels):
    x, w, _, geometry, out_size = _arrays(case, dtype)
    cols_numpy = conv_kernels._im2col_numpy(x, w.shape[2:], geometry, out_size)
    # a transposed x: the kernel path makes it contiguous first
    x_t = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    np.testing.assert_array_equal(im2col(x_t, w.shape[2:], geometry, out_size), cols_numpy)
    other = np.random.default_rng(4).standard_normal(cols_numpy.shape).astype(dtype)
    # same taps in the same order: the same sums to the bit
    np.testing.assert_array_equal(
        col2im(other, x.shape, w.shape[2:], geometry, out_size),
        conv_kernels._col2im_numpy(other, x.shape, w.shape[2:], geometry, out_size))
    # a larger input (conv_transpose2d's output_padding): rows and columns no tap reads get 0
    n, c, h, w_ = x.shape
    np.testing.assert_array_equal(
        col2im(other, (n, c, h + 1, w_ + 2), w.shape[2:], geometry, out_size),
        conv_kernels._col2im_numpy(other, (n, c, h + 1, w_ + 2), w.shape[2:], geometry,
                                   out_size))
    assert kernels.launches == ["im2col", "col2im", "col2im"]


@needs_compiler
def test_conv_through_the_kernels_equals_the_cpu_path(kernels, monkeypatch):
    rng = np.random.default_rng(5)
    x = ember.tensor(rng.standard_normal((2, 4, 8, 8)), requires_grad=True)
    w = ember.tensor(rng.standard_normal((6, 4, 3, 3)), requires_grad=True)
    loss = lambda: (F.conv2d(x, w, None, 2, 1) ** 2).sum()  # noqa: E731
    loss().backward()
    expected = [x.grad.numpy().copy(), w.grad.numpy().copy()]
    x.grad = w.grad = None
    monkeypatch.setattr(conv, "np", object())
    loss().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected[0], rtol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), expected[1], rtol=1e-10)
    assert kernels.launches == ["im2col", "col2im", "im2col"]


# On a GPU.


@pytest.mark.cuda
@pytest.mark.skipif(not ember.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64], ids=str)
@pytest.mark.parametrize("case", GEOMETRIES, ids=_ids)
def test_cuda_conv2d_and_gradients_equal_the_cpu(case, dtype):
    x, w, _, (stride, padding, dilation, groups), _ = _arrays(case)
    b = np.linspace(-1, 1, w.shape[0])
    results = []
    for device in ("cpu", "cuda"):
        xs = [ember.tensor(a, dtype=dtype, device=device, requires_grad=True) for a in (x, w, b)]
        out = F.conv2d(*xs, stride, padding, dilation, groups)
        (out * out).sum().backward()
        results.append([out.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in xs])
    tolerance = 1e-4 if dtype == ember.float32 else 1e-10
    for got, expected in zip(results[1], results[0]):
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


@pytest.mark.cuda
@pytest.mark.skipif(not ember.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_conv1d_and_transposed_equal_the_cpu():
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 4, 9, 5)), rng.standard_normal((4, 3, 3, 2))
    calls = [lambda x, w: F.conv1d(x[..., 0], w[:, :2, :, 0], None, 2, 1, 2, 2),
             lambda x, w: F.conv_transpose2d(x, w, None, 2, 1, 1, 2),
             lambda x, w: F.conv_transpose1d(x[..., 0], w[..., 0], None, 2, 1)]
    for call in calls:
        results = []
        for device in ("cpu", "cuda"):
            xs = [ember.tensor(a, device=device, requires_grad=True) for a in (x, w)]
            out = call(*xs)
            (out * out).sum().backward()
            results.append([out.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in xs])
        for got, expected in zip(results[1], results[0]):
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.cuda
@pytest.mark.skipif(not ember.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("case", GEOMETRIES[:5], ids=_ids)
def test_cuda_float16_conv2d_is_close_to_float32_on_the_cpu(case):
    x, w, _, (stride, padding, dilation, groups), _ = _arrays(case)
    results = []
    for device, dtype in (("cpu", ember.float32), ("cuda", ember.float16)):
        xs = [ember.tensor(a, dtype=dtype, device=device, requires_grad=True) for a in (x, w)]
        out = F.conv2d(*xs, None, stride, padding, dilation, groups)
        out.sum().backward()
        results.append([t.detach().float().cpu().numpy() for t in (out, xs[0].grad, xs[1].grad)])
    for got, expected in zip(results[1], results[0]):
        scale = np.abs(expected).max()
        np.testing.assert_allclose(got, expected, rtol=1e-2, atol=1e-2 * scale)
